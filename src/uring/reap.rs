//! Completions under the backend: claimed from the completion queue by any
//! number of reapers at once, turned into kernel AIO events, and waited for
//! as io_getevents(2) waits; and io_cancel(2), io_destroy's drain.
//!
//! # Claiming
//!
//! A reaper claims the oldest unclaimed completions with one
//! compare-and-swap of `claimed`, copies them, marks their entries copied,
//! and then moves the kernel's head over every copied entry at its front
//! (one reaper at a time does that, any of them: the one that finds the
//! `releasing` flag free). So no reaper ever waits for another, and a
//! signal handler can reap while the code it interrupted holds claims: the
//! head just stays behind those until that code resumes.
//!
//! # Events
//!
//! A request's completion becomes `{ data, obj, res, 0 }` from its slot;
//! `res` is the kernel's result sign-extended, short transfers included. A
//! poll cancelled by io_cancel reports 0, as kernel AIO reports it. The
//! completions of eventfd signals and of the library's own wake-ups are no
//! events. An event handed out frees its room (`outstanding`), as reaping
//! does in kernel AIO.
//!
//! # Waiting
//!
//! io_getevents waits in io_uring_enter(2) for as many new completions as
//! it still needs, with the caller's timeout (`ETIME` is the end of the
//! wait, not an error) and, for io_pgetevents, the caller's signal mask.
//! io_destroy wakes every waiter with a timeout completion, which the
//! kernel counts apart and which wakes all waiters whatever they wait for.

use core::ffi::{c_int, c_long};
use core::sync::atomic::Ordering;

use super::kernel::{self, Cqe, GeteventsArg, SyncCancel, Timespec};
use super::{
    KIND_CONTROL, KIND_EVENTFD, KIND_REQUEST, SLOT_CANCELLED, SLOT_IN_FLIGHT, SLOT_LINK,
    SLOT_LINKS, SLOT_POLL, SLOT_REARM, SLOT_STREAM, Tag, Uring, exit, submit,
};
use crate::abi::{io_event, iocb};
use crate::sys::{self, Errno, SysResult, plausible_user_address};

/// How many completions a reaper claims at a time.
const CLAIM: usize = 32;

/// What becomes of a claimed completion.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Turned into an event for the caller.
    Deliver,
    /// Dropped (io_destroy).
    Discard,
}

impl Uring {
    /// Room for one more request, as kernel AIO counts it: given back when
    /// the [`Room`] is dropped, unless kept.
    pub(super) fn reserve(&self) -> Option<Room<'_>> {
        // Relaxed: a count; the slot and the queue have their own ordering.
        self.outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Room(self))
    }

    /// Marks the context unusable: the instance's descriptor is gone (the
    /// program closed it). Every call from now on is refused; io_destroy
    /// frees it without waiting.
    pub(super) fn break_down(&self) {
        // Release: pairs with is_broken.
        self.broken.store(true, Ordering::Release);
    }

    fn is_broken(&self) -> bool {
        // Acquire: see break_down.
        self.broken.load(Ordering::Acquire)
    }

    /// Completions in the queue no reaper has claimed.
    fn unclaimed(&self) -> u32 {
        // Acquire: the kernel writes the entries before the tail.
        // SAFETY: the kernel's ring field.
        let tail = unsafe { (*self.cq_tail).load(Ordering::Acquire) };
        tail.wrapping_sub(self.claimed.load(Ordering::Acquire))
    }

    /// Whether nothing waits to be reaped now (the zero-timeout poll of an
    /// empty ring): no event of a request done at once, no completion in
    /// the queue that makes an event.
    pub fn nothing_ready(&self) -> bool {
        self.settle();
        self.done.is_empty() && self.unclaimed() == 0 && !self.overflowed()
    }

    /// Takes the completions at the front of the queue that make no event
    /// (eventfd signals, the library's wake-ups), so that they are not
    /// taken for events waiting.
    fn settle(&self) {
        loop {
            // Acquire: the claims before ours.
            let at = self.claimed.load(Ordering::Acquire);
            if self.unclaimed() == 0 {
                return;
            }
            // SAFETY: an entry between the claims and the tail, which the
            // kernel does not overwrite before it is released; read before
            // it is claimed, so checked again by the claim.
            let cqe = unsafe { self.cqes.add((at & self.cq_mask) as usize).read() };
            if Tag::decode(cqe.user_data).kind == KIND_REQUEST {
                return;
            }
            // AcqRel: a claim, as in `claim`.
            if self
                .claimed
                .compare_exchange(at, at.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                let mut copy = [Cqe::default(); CLAIM];
                self.copy_out(at, 1, &mut copy);
                let made = self.complete(&copy[0], Fate::Discard);
                debug_assert!(made.is_none());
            }
        }
    }

    /// Whether completions wait in the kernel for room in the queue (never,
    /// as the queue is sized for everything in flight, unless the kernel
    /// counts otherwise).
    fn overflowed(&self) -> bool {
        // Relaxed: a hint, acted on with a system call.
        // SAFETY: the kernel's ring field.
        let flags = unsafe { (*self.sq_flags).load(Ordering::Relaxed) };
        flags & kernel::SQ_CQ_OVERFLOW != 0
    }

    /// Claims up to `max` completions; returns the first index and count.
    fn claim(&self, max: usize) -> Option<(u32, u32)> {
        loop {
            // Acquire: the previous claimer's view of the entries.
            let from = self.claimed.load(Ordering::Acquire);
            // Acquire: the kernel writes the entries before the tail.
            // SAFETY: the kernel's ring field.
            let tail = unsafe { (*self.cq_tail).load(Ordering::Acquire) };
            let ready = tail.wrapping_sub(from);
            if ready == 0 {
                return None;
            }
            let count = ready.min(max as u32);
            // AcqRel: claims are ordered among reapers.
            if self
                .claimed
                .compare_exchange(
                    from,
                    from.wrapping_add(count),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Some((from, count));
            }
        }
    }

    /// The `copied` flag of queue position `at`.
    fn copied(&self, at: u32) -> &core::sync::atomic::AtomicU8 {
        // SAFETY: the flags array has cq_mask + 1 entries in the state's
        // mapping.
        unsafe { &*self.copied.add((at & self.cq_mask) as usize) }
    }

    /// Copies the claimed entries `from..from + count` out and releases
    /// them (see the module documentation).
    fn copy_out(&self, from: u32, count: u32, out: &mut [Cqe; CLAIM]) {
        for i in 0..count {
            let at = from.wrapping_add(i);
            // SAFETY: a claimed entry, which the kernel does not overwrite
            // before the head moves past it.
            out[i as usize] = unsafe { self.cqes.add((at & self.cq_mask) as usize).read() };
            // SeqCst: against the releaser's check below (a Dekker pair).
            self.copied(at).store(1, Ordering::SeqCst);
        }
        self.release();
    }

    /// Moves the kernel's head over every copied entry at the front.
    fn release(&self) {
        loop {
            // SeqCst: see copy_out.
            if self.releasing.swap(true, Ordering::SeqCst) {
                return; // the releaser will see our entries
            }
            // Relaxed: only the releaser writes the head.
            // SAFETY: the kernel's ring field.
            let mut head = unsafe { (*self.cq_head).load(Ordering::Relaxed) };
            while self.copied(head).load(Ordering::SeqCst) == 1 {
                self.copied(head).store(0, Ordering::Relaxed);
                head = head.wrapping_add(1);
            }
            // Release: our reads of the entries happen before the kernel
            // reuses them.
            // SAFETY: the kernel's ring field.
            unsafe { (*self.cq_head).store(head, Ordering::Release) };
            self.releasing.store(false, Ordering::SeqCst);
            // Entries copied while we held the flag, by reapers that found
            // it taken: ours to release.
            if self.copied(head).load(Ordering::SeqCst) == 0 {
                return;
            }
        }
    }

    /// Claims completions (up to `max` events' worth) and turns them into
    /// events at `out`, or drops them; returns how many events.
    ///
    /// # Safety
    ///
    /// `out` has room for `max` events (unaligned is fine) when delivering.
    unsafe fn harvest(&self, out: *mut io_event, max: usize, fate: Fate) -> usize {
        // The events of requests done at once first (each frees its room).
        let mut got = if fate == Fate::Deliver {
            // SAFETY: room for max events.
            unsafe { self.done.take(out, max) }
        } else {
            self.done.clear();
            0
        };
        // Relaxed: a count (the room).
        self.outstanding.fetch_sub(got as u32, Ordering::Relaxed);
        let mut batch = [Cqe::default(); CLAIM];
        while got < max {
            let Some((from, count)) = self.claim((max - got).min(CLAIM)) else {
                if self.overflowed() {
                    // Let the kernel move what waits into the queue.
                    // SAFETY: no submission, no argument.
                    let _ =
                        unsafe { self.enter(0, 0, kernel::ENTER_GETEVENTS, core::ptr::null(), 0) };
                    if self.unclaimed() > 0 {
                        continue;
                    }
                }
                break;
            };
            self.copy_out(from, count, &mut batch);
            for cqe in &batch[..count as usize] {
                if let Some(event) = self.complete(cqe, fate) {
                    // The kernel's struct io_event: four 64-bit words,
                    // whatever the target's `long`.
                    // SAFETY: got < max, inside the caller's room.
                    unsafe { out.add(got).cast::<[u64; 4]>().write_unaligned(event) };
                    got += 1;
                }
            }
        }
        got
    }

    /// What one completion makes: an event (`data`, `obj`, `res`, `res2`,
    /// as the kernel's 64-bit words), or nothing; its slot, its thread's
    /// count and the room it held are settled.
    fn complete(&self, cqe: &Cqe, fate: Fate) -> Option<[u64; 4]> {
        let tag = Tag::decode(cqe.user_data);
        // Relaxed: a count.
        self.expected.fetch_sub(1, Ordering::Relaxed);
        if tag.kind == KIND_CONTROL || tag.slot >= self.slot_count {
            return None;
        }
        let slot = self.slot(tag.slot);
        exit::completed(tag.owner);
        if tag.kind == KIND_EVENTFD {
            self.finish(tag.slot, Done::Signal);
            return None;
        }
        debug_assert_eq!(tag.kind, KIND_REQUEST);
        // Acquire: the submitter's and io_cancel's marks.
        let state = slot.state.load(Ordering::Acquire);
        let mut res = cqe.res;
        // The library cancels polls only: a read, write or sync the kernel
        // cancelled never started (io_uring cancels what waits for a worker
        // thread it failed to create, which a stream of signals can make
        // happen), and a poll whose thread exited is handed over; both are
        // submitted again, from this thread (or by the next submission, if
        // this is a signal handler that interrupted one), as kernel AIO
        // would have run them; unless the context is being destroyed, when
        // kernel AIO hands out nothing more either.
        let not_the_programs = state & SLOT_POLL == 0 || state & SLOT_REARM != 0;
        if res == -libc::ECANCELED && not_the_programs {
            if fate == Fate::Deliver && !self.is_dead() {
                submit::resubmit(self, tag.slot);
                return None;
            }
            // Relaxed: a count (the room).
            self.outstanding.fetch_sub(1, Ordering::Relaxed);
            self.finish(tag.slot, Done::Request);
            return None;
        }
        if state & SLOT_POLL != 0 && res == -libc::ECANCELED && state & SLOT_CANCELLED != 0 {
            res = 0;
        }
        let event = [
            slot.data.load(Ordering::Relaxed),
            slot.obj.load(Ordering::Relaxed) as u64,
            i64::from(res) as u64,
            0,
        ];
        // Relaxed: a count (the room).
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.finish(tag.slot, Done::Request);
        (fate == Fate::Deliver).then_some(event)
    }

    /// Settles one of a slot's completions; frees the slot (and the
    /// library's duplicate of its eventfd) when nothing of its request
    /// remains to complete.
    fn finish(&self, index: u32, done: Done) {
        let settle = |state: u32| match done {
            Done::Request => state & !SLOT_IN_FLIGHT,
            Done::Signal => state.wrapping_sub(SLOT_LINK),
        };
        let slot = self.slot(index);
        // AcqRel: the last completer frees after every other's reads.
        let before = slot
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                Some(settle(state))
            })
            .unwrap_or_else(|state| state);
        if settle(before) & (SLOT_IN_FLIGHT | SLOT_LINKS) == 0 {
            // Relaxed: the slot is ours alone now.
            let resfd = slot.resfd.swap(-1, Ordering::Relaxed);
            if resfd >= 0 {
                sys::close(resfd);
            }
            self.give_slot(index);
        }
    }

    /// Posts a completion that wakes every thread waiting in io_getevents
    /// (a timeout of a nanosecond: the kernel wakes all waiters when a
    /// timeout completes, whatever number of completions they wait for).
    pub(super) fn wake_waiters(&self) {
        let Some(_lock) = self.submit_lock.lock() else {
            return;
        };
        let soon = Timespec {
            tv_sec: 0,
            tv_nsec: 1,
        };
        let tag = Tag {
            slot: 0,
            generation: 0,
            kind: KIND_CONTROL,
            owner: 0,
        };
        let sqe = kernel::Sqe {
            opcode: kernel::OP_TIMEOUT,
            fd: -1,
            addr: (&raw const soon) as u64,
            len: 1,
            user_data: tag.encode(),
            ..kernel::Sqe::default()
        };
        // SAFETY: the timeout is read while the call runs; the queue is
        // ours under the lock.
        unsafe { submit::push_one(self, sqe) };
    }
}

/// Which of a request's completions [`Uring::finish`] settles.
#[derive(Clone, Copy)]
enum Done {
    /// The request's own.
    Request,
    /// Its eventfd signal's.
    Signal,
}

/// Room reserved for a request; see [`Uring::reserve`].
pub(super) struct Room<'a>(&'a Uring);

impl Room<'_> {
    /// Keeps the room: the request is being submitted.
    pub(super) fn keep(self) {
        core::mem::forget(self);
    }
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        // Relaxed: a count.
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// io_getevents(2) and io_pgetevents(2) (`sigmask` Some) on a context the
/// backend serves: the kernel's checks in its order (the timeout, the
/// mask, the counts), then events from the queue, waiting as asked.
///
/// # Safety
///
/// `events` has room for `nr` events (it is written here: NULL and kernel
/// addresses get `EFAULT`, as from the kernel); `timeout` is NULL or
/// readable; the kernel reads `sigmask`.
pub unsafe fn getevents(
    uring: &Uring,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const libc::timespec,
    sigmask: Option<*const libc::sigset_t>,
) -> SysResult {
    let limit = if timeout.is_null() {
        None
    } else if !plausible_user_address(timeout as usize) {
        return Err(Errno::EFAULT);
    } else {
        // SAFETY: the caller's contract; read unaligned, as the kernel may.
        Some(unsafe { timeout.read_unaligned() })
    };
    // libaio's answer to a zero-timeout poll of an empty ring: 0, before
    // anything is checked (its numbers, its mask).
    if let Some(t) = &limit {
        let (sec, nsec) = parts(t);
        if sec == 0 && nsec == 0 && uring.nothing_ready() && !uring.is_dead() {
            return Ok(0);
        }
    }
    // io_pgetevents puts the mask in place even when it does not wait, and
    // a signal it lets through that is already pending interrupts it: a
    // ppoll of nothing with the mask does the same (and checks the mask).
    let mask = sigmask.unwrap_or(core::ptr::null());
    let mut interrupted = false;
    if !mask.is_null() {
        // SAFETY: the caller's contract; the kernel reads the mask.
        match unsafe { sys::ppoll_for(0, mask) } {
            Ok(_) => {}
            Err(Errno::EINTR) => interrupted = true,
            Err(errno) => return Err(errno),
        }
    }
    if uring.is_dead() || uring.is_broken() || min_nr < 0 || min_nr > nr {
        return Err(Errno::EINVAL);
    }
    let (min, max) = (min_nr as usize, nr as usize);
    let deadline = limit.map(Deadline::after);
    let mut got = 0;
    let mut first_wait = true;
    loop {
        if got < max && !uring.nothing_ready() {
            if !plausible_user_address(events as usize) {
                return if got > 0 {
                    Ok(got as c_int)
                } else {
                    Err(Errno::EFAULT)
                };
            }
            // SAFETY: room for max - got events at events + got.
            got += unsafe { uring.harvest(events.add(got), max - got, Fate::Deliver) };
        }
        if got >= min || got >= max {
            break;
        }
        if uring.is_dead() || uring.is_broken() {
            return if got > 0 {
                Ok(got as c_int)
            } else {
                Err(Errno::EINVAL)
            };
        }
        if interrupted {
            return if got > 0 {
                Ok(got as c_int)
            } else {
                Err(Errno::EINTR)
            };
        }
        // The caller's timeout as given the first time (the kernel reads
        // odd ones as kernel AIO does), what is left of it afterwards.
        let wait = match (&deadline, first_wait) {
            (None, _) => None,
            (Some(_), true) => limit.map(|t| {
                let (tv_sec, tv_nsec) = parts(&t);
                Timespec { tv_sec, tv_nsec }
            }),
            (Some(deadline), false) => match deadline.left() {
                Some(left) => Some(left),
                None => break,
            },
        };
        if matches!(&deadline, Some(d) if d.is_zero()) {
            break;
        }
        first_wait = false;
        match uring.wait(wait.as_ref(), mask) {
            Ok(()) => {}
            Err(Errno::ETIME) => {
                // One last look, then what there is.
                if got < max && !uring.nothing_ready() && plausible_user_address(events as usize) {
                    // SAFETY: as above.
                    got += unsafe { uring.harvest(events.add(got), max - got, Fate::Deliver) };
                }
                break;
            }
            Err(errno) => {
                return if got > 0 {
                    Ok(got as c_int)
                } else {
                    Err(errno)
                };
            }
        }
    }
    Ok(got as c_int)
}

/// When a wait ends, on CLOCK_MONOTONIC, with the kernel's reading of a
/// timespec (negative seconds or more than the kernel's clock holds: no
/// end).
struct Deadline {
    /// Nanoseconds, or None: never.
    at: Option<i128>,
    zero: bool,
}

impl Deadline {
    fn after(timeout: libc::timespec) -> Deadline {
        let (sec, nsec) = parts(&timeout);
        let zero = sec == 0 && nsec == 0;
        // KTIME_SEC_MAX: the kernel's limit of a timeout in seconds.
        const KTIME_SEC_MAX: u64 = (i64::MAX / 1_000_000_000) as u64;
        let at = ((sec as u64) < KTIME_SEC_MAX)
            .then(|| now() + i128::from(sec) * 1_000_000_000 + i128::from(nsec));
        Deadline { at, zero }
    }

    fn is_zero(&self) -> bool {
        self.zero
    }

    /// What is left, or None if it has passed.
    fn left(&self) -> Option<Timespec> {
        let Some(at) = self.at else {
            return Some(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
        };
        let left = at - now();
        (left > 0).then_some(Timespec {
            tv_sec: (left / 1_000_000_000) as i64,
            tv_nsec: (left % 1_000_000_000) as i64,
        })
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
fn now() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes ts; CLOCK_MONOTONIC cannot fail (errno untouched).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let (sec, nsec) = parts(&ts);
    i128::from(sec) * 1_000_000_000 + i128::from(nsec)
}

/// A timespec's fields as 64-bit numbers (they are 32 bits on some
/// targets).
#[allow(clippy::unnecessary_cast)]
fn parts(ts: &libc::timespec) -> (i64, i64) {
    (ts.tv_sec as i64, ts.tv_nsec as i64)
}

impl Uring {
    /// Waits until a completion arrives (or the timeout, a signal, or
    /// io_destroy's wake-up), as kernel AIO's reapers wake at each
    /// completion; the caller looks again and decides.
    fn wait(
        &self,
        timeout: Option<&Timespec>,
        sigmask: *const libc::sigset_t,
    ) -> Result<(), Errno> {
        // Announced first, then a last look: a submitter that completes a
        // request at once after that look sees us and wakes us (a Dekker
        // pair with Batch::complete_now).
        // SeqCst: see above.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let ret = if self.nothing_ready() {
            self.wait_in_kernel(timeout, sigmask)
        } else {
            Ok(())
        };
        // Relaxed: a count.
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        ret
    }

    /// [`Uring::wait`]'s system call.
    fn wait_in_kernel(
        &self,
        timeout: Option<&Timespec>,
        sigmask: *const libc::sigset_t,
    ) -> Result<(), Errno> {
        // The kernel waits until the tail is `min_complete` past the head it
        // reads: completions claimed but not yet released count in, one new
        // one is what we wait for.
        // Acquire: see unclaimed().
        // SAFETY: the kernel's ring fields.
        let (head, claimed) = unsafe {
            (
                (*self.cq_head).load(Ordering::Acquire),
                self.claimed.load(Ordering::Acquire),
            )
        };
        let held = claimed.wrapping_sub(head);
        // While other reapers hold claims, look again every millisecond:
        // their release could move the head between our look and the
        // kernel's, and make it wait for more than we need.
        let slice = Timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        let timeout = match timeout {
            Some(t) if held > 0 && (t.tv_sec > 0 || t.tv_nsec > 1_000_000 || t.tv_sec < 0) => {
                Some(&slice)
            }
            None if held > 0 => Some(&slice),
            other => other,
        };
        let arg = GeteventsArg {
            sigmask: sigmask as u64,
            sigmask_sz: sys::KERNEL_SIGSET_SIZE as u32,
            min_wait_usec: 0,
            ts: timeout.map_or(0, |t| t as *const Timespec as u64),
        };
        let min_complete = held.saturating_add(1);
        // SAFETY: the argument and the timeout outlive the call; the kernel
        // reads the mask (the caller's contract).
        let ret = unsafe {
            self.enter(
                0,
                min_complete,
                kernel::ENTER_GETEVENTS | kernel::ENTER_EXT_ARG,
                (&raw const arg).cast(),
                size_of::<GeteventsArg>(),
            )
        };
        match ret {
            // The slice ran out, not the caller's time.
            Err(Errno::ETIME) if timeout.is_some_and(|t| core::ptr::eq(t, &slice)) => Ok(()),
            Ok(_) => Ok(()),
            Err(errno) => Err(errno),
        }
    }
}

/// Takes the next completion of a context the backend serves into `event`,
/// for io_queue_run; 0 when none is waiting (no system call).
///
/// # Safety
///
/// `event` has room for one event.
pub unsafe fn take_one(uring: &Uring, event: *mut io_event) -> SysResult {
    if uring.is_dead() || uring.is_broken() {
        return Err(Errno::EINVAL);
    }
    // SAFETY: room for one.
    Ok(unsafe { uring.harvest(event, 1, Fate::Deliver) } as c_int)
}

/// io_cancel(2) on a context the backend serves. As in kernel AIO, only a
/// pending poll can be cancelled: `EINPROGRESS`, and its event (res 0)
/// arrives as usual; any other iocb, or one that has completed, is
/// `EINVAL`. The result argument is not written (the kernel no longer
/// writes it either).
///
/// # Safety
///
/// `iocb` is readable (NULL and kernel addresses get `EFAULT`).
pub unsafe fn cancel(uring: &Uring, iocb: *mut iocb) -> SysResult {
    if !plausible_user_address(iocb as usize) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the caller's contract; the kernel reads the key first too.
    let key = unsafe { (&raw const (*iocb).key).read_unaligned() };
    if key != 0 || uring.is_dead() || uring.is_broken() {
        return Err(Errno::EINVAL);
    }
    let wanted = SLOT_IN_FLIGHT | SLOT_POLL;
    for index in 0..uring.slot_count {
        let slot = uring.slot(index);
        // Acquire: the submitter's writes of the slot.
        let state = slot.state.load(Ordering::Acquire);
        if state & wanted != wanted || slot.obj.load(Ordering::Relaxed) != iocb as usize {
            continue;
        }
        let user_data = slot.user_data();
        // Relaxed: read with the result of the cancellation below.
        slot.state.fetch_or(SLOT_CANCELLED, Ordering::Relaxed);
        return match uring.cancel_now(user_data) {
            Ok(()) => Err(Errno::EINPROGRESS),
            Err(_) => Err(Errno::EINVAL),
        };
    }
    Err(Errno::EINVAL)
}

impl Uring {
    /// Cancels the request `user_data` names, synchronously: Ok once it is
    /// cancelled (its completion, `-ECANCELED`, is in the queue).
    pub(super) fn cancel_now(&self, user_data: u64) -> Result<(), Errno> {
        let mut cancel = SyncCancel {
            addr: user_data,
            fd: -1,
            timeout: Timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
            ..SyncCancel::default()
        };
        // SAFETY: the kernel reads one struct io_uring_sync_cancel_reg.
        unsafe {
            sys::io_uring_register(
                self.fd,
                kernel::REGISTER_SYNC_CANCEL,
                (&raw mut cancel).cast(),
                1,
            )
        }
        .map(|_| ())
    }

    /// The pending polls and stream requests of the thread `owner`:
    /// cancelled, to be armed again by a living thread (see `exit`).
    pub(super) fn hand_over_polls(&self, owner: u32) {
        for index in 0..self.slot_count {
            let slot = self.slot(index);
            // Acquire: the submitter's writes of the slot.
            let state = slot.state.load(Ordering::Acquire);
            if state & SLOT_IN_FLIGHT == 0
                || state & (SLOT_POLL | SLOT_STREAM) == 0
                || state & (SLOT_REARM | SLOT_CANCELLED) != 0
                || slot.owner.load(Ordering::Relaxed) != owner
            {
                continue;
            }
            // Relaxed: read by the reaper of the cancellation's completion,
            // which the system call below orders after this.
            slot.state.fetch_or(SLOT_REARM, Ordering::Relaxed);
            let _ = self.cancel_now(slot.user_data());
        }
    }

    /// How many completions of the thread `owner`'s requests the kernel
    /// has posted and nobody has handed out yet (see `exit`).
    pub(super) fn posted_for(&self, owner: u32) -> usize {
        // Acquire: the kernel writes the entries before the tail.
        // SAFETY: the kernel's ring fields.
        let (head, tail) = unsafe {
            (
                (*self.cq_head).load(Ordering::Acquire),
                (*self.cq_tail).load(Ordering::Acquire),
            )
        };
        let mut mine = 0;
        let mut at = head;
        while at != tail {
            // SAFETY: an entry between head and tail (it may be released
            // and rewritten meanwhile: checked below).
            let cqe = unsafe { self.cqes.add((at & self.cq_mask) as usize).read_volatile() };
            // Acquire: the head as it is after our read.
            // SAFETY: the kernel's ring field.
            let now = unsafe { (*self.cq_head).load(Ordering::Acquire) };
            if at.wrapping_sub(now) < tail.wrapping_sub(now) {
                let tag = Tag::decode(cqe.user_data);
                if tag.kind != KIND_CONTROL && tag.owner == owner {
                    mine += 1;
                }
            }
            at = at.wrapping_add(1);
        }
        mine
    }
}

/// io_destroy's last step: cancels the pending polls (kernel AIO cancels
/// them) and reads and writes of streams still waiting for their file to
/// be ready (kernel AIO would have done them inside io_submit), then waits for every other request to finish, dropping their
/// completions; buffers may be freed once io_destroy returns.
pub(super) fn drain(uring: &Uring) {
    for index in 0..uring.slot_count {
        let slot = uring.slot(index);
        // Acquire: the submitter's writes of the slot.
        let state = slot.state.load(Ordering::Acquire);
        if state & SLOT_IN_FLIGHT != 0 && state & (SLOT_POLL | SLOT_STREAM) != 0 {
            let _ = uring.cancel_now(slot.user_data());
        }
    }
    let ten_ms = Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    // Relaxed: a count, settled by our own harvest.
    loop {
        // SAFETY: dropping, nothing is written.
        unsafe { uring.harvest(core::ptr::null_mut(), usize::MAX, Fate::Discard) };
        if uring.expected.load(Ordering::Relaxed) == 0 || uring.is_broken() {
            break;
        }
        match uring.wait_in_kernel(Some(&ten_ms), core::ptr::null()) {
            Ok(()) | Err(Errno::ETIME | Errno::EINTR) => {}
            Err(_) => break,
        }
    }
}
