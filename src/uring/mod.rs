//! The opt-in io_uring backend (`LIBAIO_BACKEND=io_uring`): a context the
//! process creates is served by an io_uring instance instead of a kernel
//! AIO context, with the results kernel AIO gives.
//!
//! - [`kernel`]: the io_uring interface;
//! - this module: a context's state, its creation and destruction, and the
//!   completion queue (claimed by any number of reapers at once);
//! - [`submit`]: iocbs checked as io_submit(2) checks them, then turned
//!   into submission queue entries;
//! - [`inline`]: what kernel AIO does inside io_submit (cached reads, files
//!   in memory), done there too, and the queue those events wait in;
//! - [`reap`]: completions turned into events, io_getevents' waiting, and
//!   io_cancel;
//! - [`exit`]: a thread that exits keeps its requests alive (io_uring ties
//!   a request to the thread that submitted it);
//! - [`probe`]: whether this kernel can serve, asked once.
//!
//! # The handle
//!
//! `io_setup` gives the program the address of a page of the library's own
//! that looks like the header of a kernel ring which nobody may read from
//! user space: `magic` is not `AIO_RING_MAGIC` and `incompat_features` is
//! not 0, so careful readers (libaio's own check, fio's `userspace_reap`,
//! SPDK) call io_getevents instead; `head == tail`, so a careless reader
//! sees an empty ring, never garbage; `nr` is the size the kernel would have
//! given; `id` is the io_uring descriptor. The page is read-only. The
//! context's state follows it, in the same private mapping, which children
//! do not inherit (`MADV_DONTFORK`; the header page they keep, as they keep
//! a kernel ring).
//!
//! # One context
//!
//! - **Capacity.** Kernel AIO takes at most about as many requests as its
//!   ring holds, counting completions not yet reaped, and answers `EAGAIN`
//!   (or a partial count) beyond; [`Uring::capacity`] is that number, and
//!   [`Uring::outstanding`] counts against it the same way.
//! - **Slots.** Each request has a slot holding what its event reports
//!   (`data`, the iocb's address) and what io_cancel and the exit hook need;
//!   the completion's `user_data` names the slot and its generation.
//! - **Completion queue.** Completions are claimed with a compare-and-swap
//!   of [`Uring::claimed`], copied, and released to the kernel in order by
//!   whichever reaper finds the oldest ones copied, so reapers never wait
//!   for each other, and a signal handler can reap while the code it
//!   interrupted is reaping.
//! - **Submission queue.** One thread at a time fills it and enters the
//!   kernel ([`Uring::submit_lock`]).
//!
//! # Safety
//!
//! A `&Uring` is only handed out under the registry's protection
//! (`registry::Live::protect`): io_destroy unmaps the state after every
//! thread using it has left. The kernel's rings are mapped for the life of
//! the state.

pub mod exit;
pub mod inline;
pub mod kernel;
pub mod probe;
pub mod reap;
pub mod submit;

use core::ffi::{c_int, c_void};
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering, compiler_fence,
};

use crate::abi::io_context_t;
use crate::registry;
use crate::ring::AioRing;
use crate::sys::{self, Errno, SysResult};
use kernel::{Cqe, Params, Sqe};

/// The state of one context served by io_uring, in the library's own
/// mapping, right after the handle's header page.
#[repr(C)]
pub struct Uring {
    /// The io_uring instance.
    fd: c_int,
    /// The `nr` of the ring kernel AIO would have made (what the header
    /// says, and the most one io_submit takes).
    ring_nr: u32,
    /// How many requests kernel AIO would take before `EAGAIN`.
    capacity: u32,
    /// Requests submitted whose events have not been handed out.
    outstanding: AtomicU32,
    /// Completions the kernel still owes: one per request, one per eventfd
    /// signal.
    expected: AtomicU32,
    /// Set by io_destroy: every call from then on is refused.
    dead: AtomicBool,
    /// Set when the instance's descriptor is gone (see `reap`).
    broken: AtomicBool,
    /// Requests waiting to be submitted again by the next submission
    /// ([`SLOT_RESUBMIT`]).
    resubmits: AtomicU32,
    /// One submitter at a time.
    submit_lock: Lock,
    /// Threads waiting for completions in io_uring_enter(2): a submission
    /// that completes requests at once wakes them (`inline`).
    waiters: AtomicU32,
    /// The events of requests done at once.
    done: inline::Done,
    /// The classes of the files recently used (under `submit_lock`).
    classes: inline::Classes,

    // The submission queue (written under `submit_lock`).
    sq_tail: *const AtomicU32,
    sq_flags: *const AtomicU32,
    sq_mask: u32,
    sq_entries: u32,
    sqes: *mut Sqe,

    // The completion queue.
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const Cqe,
    /// The next completion no reaper has claimed (`cq_head` <= this <=
    /// `cq_tail`, modulo 2^32).
    claimed: AtomicU32,
    /// Set while a reaper releases copied completions to the kernel.
    releasing: AtomicBool,
    /// Per completion-queue entry: 1 once its claimer has copied it.
    copied: *const AtomicU8,

    /// The slots, `slot_count` of them.
    slots: *const Slot,
    slot_count: u32,
    /// The free slots: a stack (index of the top, or [`NO_SLOT`]) taken from
    /// under `submit_lock` only, given back by anyone.
    free: AtomicU32,

    // What to unmap and close at the end.
    rings: (*mut c_void, usize),
    sqe_map: (*mut c_void, usize),
    mapping: (*mut c_void, usize),
}

// SAFETY: the raw pointers lead to memory the state owns (its mappings),
// shared between threads through atomics or under `submit_lock`.
unsafe impl Sync for Uring {}

/// The end of the free-slot stack.
const NO_SLOT: u32 = u32::MAX;

/// A request's slot.
#[repr(C)]
struct Slot {
    /// The iocb's `aio_data`.
    data: RelaxedU64,
    /// The iocb's address.
    obj: AtomicUsize,
    /// [`SLOT_IN_FLIGHT`] and the other `SLOT_*` bits, and the number of
    /// eventfd signals not yet completed (in units of [`SLOT_LINK`]).
    state: AtomicU32,
    /// Bumped on each use (21 bits of it are in the completion's
    /// `user_data`).
    generation: AtomicU32,
    /// The next free slot, while free.
    next: AtomicU32,
    /// The thread that submitted the request (`registry::my_thread_index`
    /// + 1), or 0.
    owner: AtomicU32,
    /// The library's own duplicate of the `IOCB_FLAG_RESFD` eventfd (so
    /// that the program may close its descriptor while the request is in
    /// flight, as kernel AIO allows), or -1.
    resfd: AtomicI32,
    /// The request's submission entry, to submit it again (see
    /// `reap::Uring::complete`).
    sqe: [RelaxedU64; 8],
    /// A vectored request's iovecs (up to [`SLOT_IOVECS`]), copied at
    /// io_submit as kernel AIO copies them; its entry points here. Words of
    /// the machine's size: `struct iovec` as the kernel reads it.
    iovecs: [AtomicUsize; 2 * SLOT_IOVECS],
}

impl Slot {
    /// The request's submission entry, as kept.
    fn entry(&self) -> Sqe {
        // Relaxed: written by the submitter before the request's first
        // submission; read by the thread that submits it again.
        let words = self.sqe.each_ref().map(|w| w.load(Ordering::Relaxed));
        // SAFETY: an Sqe is 8 words of plain data.
        unsafe { core::mem::transmute::<[u64; 8], Sqe>(words) }
    }

    /// The `user_data` of the request's entry: what names it in a
    /// cancellation.
    fn user_data(&self) -> u64 {
        // Relaxed: see `entry`. (Word 4 of an Sqe is its user_data.)
        self.sqe[4].load(Ordering::Relaxed)
    }

    /// Keeps `sqe` as the request's entry.
    fn keep_entry(&self, sqe: &Sqe) {
        // SAFETY: an Sqe is 8 words of plain data.
        let words = unsafe { core::mem::transmute::<Sqe, [u64; 8]>(*sqe) };
        for (kept, word) in self.sqe.iter().zip(words) {
            // Relaxed: see `entry`.
            kept.store(word, Ordering::Relaxed);
        }
    }

    /// Keeps a copy of a vectored request's iovecs; returns its address,
    /// for the request's entry.
    fn keep_iovecs(&self, iovecs: &[libc::iovec; SLOT_IOVECS]) -> u64 {
        for (i, iov) in iovecs.iter().enumerate() {
            // Relaxed: read by the kernel, after the system call that
            // submits the request.
            self.iovecs[2 * i].store(iov.iov_base as usize, Ordering::Relaxed);
            self.iovecs[2 * i + 1].store(iov.iov_len, Ordering::Relaxed);
        }
        self.iovecs.as_ptr() as usize as u64
    }
}

/// A 64-bit word shared between threads, loaded and stored with relaxed
/// ordering only (what a store publishes is published by another atomic).
/// Where the target has no 64-bit atomics (armel, mips, powerpc, m68k...)
/// it is two 32-bit words, so that a load racing with a store may see half
/// of each: every user tolerates that as it tolerates a stale value (the
/// read is discarded, or made under a lock).
#[cfg(target_has_atomic = "64")]
#[repr(transparent)]
pub struct RelaxedU64(core::sync::atomic::AtomicU64);

/// See the other definition.
#[cfg(not(target_has_atomic = "64"))]
#[repr(C, align(8))]
pub struct RelaxedU64([AtomicU32; 2]);

impl RelaxedU64 {
    pub const fn new(value: u64) -> RelaxedU64 {
        #[cfg(target_has_atomic = "64")]
        return RelaxedU64(core::sync::atomic::AtomicU64::new(value));
        #[cfg(not(target_has_atomic = "64"))]
        RelaxedU64([
            AtomicU32::new(value as u32),
            AtomicU32::new((value >> 32) as u32),
        ])
    }

    /// The word (`order` must be `Relaxed`: see the type).
    #[inline(always)]
    pub fn load(&self, order: Ordering) -> u64 {
        debug_assert!(matches!(order, Ordering::Relaxed));
        #[cfg(target_has_atomic = "64")]
        return self.0.load(Ordering::Relaxed);
        #[cfg(not(target_has_atomic = "64"))]
        {
            let [low, high] = self.0.each_ref().map(|w| w.load(Ordering::Relaxed));
            u64::from(low) | u64::from(high) << 32
        }
    }

    /// Stores `value` (`order` must be `Relaxed`: see the type).
    #[inline(always)]
    pub fn store(&self, value: u64, order: Ordering) {
        debug_assert!(matches!(order, Ordering::Relaxed));
        #[cfg(target_has_atomic = "64")]
        self.0.store(value, Ordering::Relaxed);
        #[cfg(not(target_has_atomic = "64"))]
        {
            self.0[0].store(value as u32, Ordering::Relaxed);
            self.0[1].store((value >> 32) as u32, Ordering::Relaxed);
        }
    }
}

/// How many iovecs a slot keeps a copy of.
const SLOT_IOVECS: usize = 4;
// A slot's copy is an array of `struct iovec`: two machine words each.
const _: () = assert!(size_of::<libc::iovec>() == 2 * size_of::<usize>());

/// The request's completion has not been reaped.
const SLOT_IN_FLIGHT: u32 = 1 << 0;
/// The request is a poll.
const SLOT_POLL: u32 = 1 << 2;
/// io_cancel cancelled the poll: its `-ECANCELED` is reported as 0, as
/// kernel AIO reports a cancelled poll.
const SLOT_CANCELLED: u32 = 1 << 3;
/// The poll's (or stream request's) thread exited and cancelled it: the
/// reaper that finds its `-ECANCELED` arms it again (see `exit`).
const SLOT_REARM: u32 = 1 << 4;
/// The request is to be submitted again by the next submission (a signal
/// handler found it cancelled while the code it interrupted was
/// submitting).
const SLOT_RESUBMIT: u32 = 1 << 5;
/// The request is a read or write of a stream (a pipe, a socket...), which
/// io_uring waits for: handed over when its thread exits and cancelled by
/// io_destroy, as polls are.
const SLOT_STREAM: u32 = 1 << 6;
/// One eventfd signal in flight (a count, from bit 8).
const SLOT_LINK: u32 = 1 << 8;
/// The bits that count eventfd signals.
const SLOT_LINKS: u32 = 0xff << 8;

/// What a completion's `user_data` says: which slot, which use of it,
/// which of its completions, and which thread submitted it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Tag {
    /// 24 bits.
    slot: u32,
    /// 21 bits: enough that a slot is never used 2^21 times while a
    /// cancellation naming one of its uses is in the air.
    generation: u32,
    kind: u8,
    /// The submitting thread (`exit::this_thread_submits`), 11 bits.
    owner: u32,
}

/// The request's own completion.
const KIND_REQUEST: u8 = 0;
/// The completion of the eventfd signal linked to it.
const KIND_EVENTFD: u8 = 1;
/// The library's own (a wake-up at io_destroy): no slot.
const KIND_CONTROL: u8 = 2;

impl Tag {
    fn encode(self) -> u64 {
        u64::from(self.generation & 0x1f_ffff) << 43
            | u64::from(self.owner & 0x7ff) << 32
            | u64::from(self.kind) << 24
            | u64::from(self.slot & 0xff_ffff)
    }

    fn decode(user_data: u64) -> Tag {
        Tag {
            slot: user_data as u32 & 0xff_ffff,
            kind: (user_data >> 24) as u8,
            owner: (user_data >> 32) as u32 & 0x7ff,
            generation: (user_data >> 43) as u32,
        }
    }
}

/// The most slots a context has (24 bits of `user_data`).
const MAX_SLOTS: u32 = 1 << 24;

/// What [`setup`] did.
pub enum Setup {
    /// The backend answered for the context: created it, or refused the
    /// arguments as the kernel would.
    Served(SysResult),
    /// io_uring cannot serve this context: kernel AIO must.
    Declined,
}

/// The size of a page.
fn page_size() -> usize {
    // SAFETY: getauxval has no preconditions; AT_PAGESZ is always there.
    let size = unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize;
    if size.is_power_of_two() { size } else { 4096 }
}

/// The `nr` of the ring io_setup(2) would make for `maxevents` (read by
/// the kernel as unsigned), or its error: the kernel's arithmetic, on this
/// machine's page size and number of possible CPUs, less its
/// `fs.aio-max-nr` limit.
fn kernel_ring_nr(maxevents: u32, cpus: u32, page: usize) -> Result<u32, Errno> {
    // Doubled, as the kernel does, so that per-CPU batching leaves the
    // requested number available (it wraps around as the kernel's does).
    let nr_events = maxevents.max(cpus.saturating_mul(4)).wrapping_mul(2);
    if nr_events as usize > 0x1000_0000 / size_of::<crate::abi::io_event>() {
        return Err(Errno::EINVAL);
    }
    if nr_events == 0 {
        return Err(Errno::EAGAIN);
    }
    // Plus two for the ring's head/tail overlap, rounded up to whole pages.
    let bytes = size_of::<AioRing>() + (nr_events as usize + 2) * size_of::<crate::abi::io_event>();
    let pages = bytes.div_ceil(page);
    Ok(((pages * page - size_of::<AioRing>()) / size_of::<crate::abi::io_event>()) as u32)
}

/// How many requests kernel AIO takes on a ring of `nr` events before it
/// answers `EAGAIN`: `nr - 1` slots, handed to each CPU in batches of
/// `(nr - 1) / (4 * cpus)`, so one submitting thread gets whole batches.
fn kernel_capacity(nr: u32, cpus: u32) -> u32 {
    let usable = nr - 1;
    let batch = (usable / cpus.saturating_mul(4).max(1)).max(1);
    usable / batch * batch
}

/// The number of CPUs the kernel considers possible (its per-CPU batches
/// depend on it), from `/sys/devices/system/cpu/possible`; read once.
fn possible_cpus() -> u32 {
    static CPUS: AtomicU32 = AtomicU32::new(0);
    // Relaxed: any thread computes the same value.
    let known = CPUS.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let mut buf = [0u8; 64];
    let count = sys::read_file(c"/sys/devices/system/cpu/possible", &mut buf)
        .ok()
        .and_then(|len| parse_cpu_list(&buf[..len]))
        .unwrap_or(1)
        .max(1);
    CPUS.store(count, Ordering::Relaxed);
    count
}

/// The number of CPUs in a list such as `0-3,8-11\n`: one more than the
/// highest, as the kernel counts possible CPUs.
fn parse_cpu_list(text: &[u8]) -> Option<u32> {
    let mut highest = None;
    let mut number: Option<u32> = None;
    for &byte in text {
        match byte {
            b'0'..=b'9' => {
                number = Some(
                    number
                        .unwrap_or(0)
                        .checked_mul(10)?
                        .checked_add(u32::from(byte - b'0'))?,
                );
            }
            _ => {
                if let Some(n) = number.take() {
                    highest = Some(highest.map_or(n, |h: u32| h.max(n)));
                }
            }
        }
    }
    if let Some(n) = number {
        highest = Some(highest.map_or(n, |h: u32| h.max(n)));
    }
    highest.map(|h| h + 1)
}

/// io_setup(2) served by io_uring: checks the arguments as the kernel does
/// (except for `fs.aio-max-nr`, which io_uring has no equivalent of), makes
/// the instance and its state, records the context and stores the handle.
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns.
pub unsafe fn setup(maxevents: c_int, ctxp: *mut io_context_t) -> Setup {
    // The kernel reads the handle first (EFAULT), then refuses a handle that
    // is not 0 or no events (EINVAL). io_setup(0) lets it do the first part
    // without making anything.
    // SAFETY: with no events the kernel only reads *ctxp.
    if let Err(Errno::EFAULT) = unsafe { sys::io_setup(0, ctxp) } {
        return Setup::Served(Err(Errno::EFAULT));
    }
    // SAFETY: the kernel could read it just now; it is the caller's.
    if !unsafe { ctxp.read_unaligned() }.is_null() || maxevents == 0 {
        return Setup::Served(Err(Errno::EINVAL));
    }
    let page = page_size();
    let cpus = possible_cpus();
    let nr = match kernel_ring_nr(maxevents as u32, cpus, page) {
        Ok(nr) => nr,
        Err(errno) => return Setup::Served(Err(errno)),
    };
    if !probe::usable() {
        return Setup::Declined;
    }
    let capacity = kernel_capacity(nr, cpus);
    // Every request and its eventfd signal may wait in the completion queue
    // at once: room for twice the capacity, and a few more.
    let cq_entries = (2 * capacity as usize + 8).next_power_of_two();
    let slot_count = 2 * capacity;
    if cq_entries > kernel::MAX_CQ_ENTRIES as usize || slot_count > MAX_SLOTS {
        return Setup::Declined;
    }
    // The kernel writes the handle last, and refuses a handle it cannot
    // write (EFAULT) after making the context: ask it the same way first.
    // SAFETY: the handle is the caller's; it holds 0 again below.
    if !unsafe { sys::kernel_can_write(ctxp) } {
        return Setup::Served(Err(Errno::EFAULT));
    }
    // SAFETY: writable, the caller's.
    unsafe { ctxp.write_unaligned(core::ptr::null_mut()) };
    // SAFETY: a new instance and new mappings.
    let Some(uring) = (unsafe { Uring::create(nr, capacity, cq_entries as u32, slot_count, page) })
    else {
        return Setup::Declined;
    };
    let handle = uring.mapping.0 as usize;
    if !registry::insert(handle, (uring as *const Uring).cast_mut()) {
        // SAFETY: nobody else has seen it.
        unsafe { uring.free() };
        return Setup::Declined;
    }
    // SAFETY: checked writable above.
    unsafe { ctxp.write_unaligned(handle as io_context_t) };
    Setup::Served(Ok(0))
}

/// The size of the submission queue: room for a few requests with their
/// eventfd signals per system call, more for larger contexts.
fn sq_entries(capacity: u32) -> u32 {
    (2 * capacity).next_power_of_two().clamp(8, 1024)
}

impl Uring {
    /// Makes the io_uring instance, maps its rings and the library's state
    /// (with the handle's header page first). None if anything fails (then
    /// nothing is left behind).
    ///
    /// # Safety
    ///
    /// None beyond the arguments' consistency.
    unsafe fn create(
        ring_nr: u32,
        capacity: u32,
        cq_entries: u32,
        slot_count: u32,
        page: usize,
    ) -> Option<&'static Uring> {
        let mut params = Params {
            flags: kernel::SETUP_CQSIZE | kernel::SETUP_SUBMIT_ALL,
            cq_entries,
            ..Params::default()
        };
        // SAFETY: params is a struct io_uring_params.
        let fd =
            unsafe { sys::io_uring_setup(sq_entries(capacity), (&raw mut params).cast()) }.ok()?;
        // SAFETY: fd is the new instance, params what the kernel said of it.
        let made = unsafe { Self::map(fd, &params, ring_nr, capacity, slot_count, page) };
        if made.is_none() {
            sys::close(fd);
        }
        made
    }

    /// [`Uring::create`] once the instance exists.
    ///
    /// # Safety
    ///
    /// As for [`Uring::create`]; `fd` and `params` are the new instance's.
    unsafe fn map(
        fd: c_int,
        params: &Params,
        ring_nr: u32,
        capacity: u32,
        slot_count: u32,
        page: usize,
    ) -> Option<&'static Uring> {
        if params.features & kernel::FEAT_SINGLE_MMAP == 0 {
            return None;
        }
        let (sq, cq) = (&params.sq_off, &params.cq_off);
        let rings_len = (sq.array as usize + params.sq_entries as usize * 4)
            .max(cq.cqes as usize + params.cq_entries as usize * size_of::<Cqe>());
        let shared = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_SHARED | libc::MAP_POPULATE;
        // SAFETY: new mappings of the instance.
        let rings = unsafe { sys::mmap(rings_len, shared, flags, fd, kernel::OFF_SQ_RING) }.ok()?;
        let sqe_len = params.sq_entries as usize * size_of::<Sqe>();
        // SAFETY: as above.
        let sqe_map = match unsafe { sys::mmap(sqe_len, shared, flags, fd, kernel::OFF_SQES) } {
            Ok(map) => map,
            Err(_) => {
                // SAFETY: just mapped, unused.
                unsafe { sys::munmap(rings, rings_len) };
                return None;
            }
        };
        // Ours: the header page, then the state, the slots and the flags.
        let slots_at = size_of::<Uring>().next_multiple_of(64);
        let copied_at = slots_at + slot_count as usize * size_of::<Slot>();
        let done_at = (copied_at + params.cq_entries as usize).next_multiple_of(64);
        let done_size = capacity.next_power_of_two();
        let state_len = (done_at + done_size as usize * 32).next_multiple_of(page);
        let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: a new anonymous mapping.
        let mapping = match unsafe { sys::mmap(page + state_len, shared, private, -1, 0) } {
            Ok(map) => map,
            Err(_) => {
                // SAFETY: just mapped, unused.
                unsafe {
                    sys::munmap(sqe_map, sqe_len);
                    sys::munmap(rings, rings_len);
                }
                return None;
            }
        };
        let at = |map: *mut c_void, offset: u32| map.cast::<u8>().wrapping_add(offset as usize);
        let state = mapping.cast::<u8>().wrapping_add(page);
        let uring = Uring {
            fd,
            ring_nr,
            capacity,
            outstanding: AtomicU32::new(0),
            expected: AtomicU32::new(0),
            dead: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            resubmits: AtomicU32::new(0),
            submit_lock: Lock::new(),
            waiters: AtomicU32::new(0),
            done: inline::Done::new(state.wrapping_add(done_at).cast(), done_size),
            classes: inline::Classes::new(),
            sq_tail: at(rings, sq.tail).cast(),
            sq_flags: at(rings, sq.flags).cast(),
            // SAFETY: the kernel's ring fields, mapped above.
            sq_mask: unsafe { at(rings, sq.ring_mask).cast::<u32>().read() },
            sq_entries: params.sq_entries,
            sqes: sqe_map.cast(),
            cq_head: at(rings, cq.head).cast(),
            cq_tail: at(rings, cq.tail).cast(),
            // SAFETY: as above.
            cq_mask: unsafe { at(rings, cq.ring_mask).cast::<u32>().read() },
            cqes: at(rings, cq.cqes).cast(),
            // SAFETY: as above; nothing has completed yet.
            claimed: AtomicU32::new(unsafe { at(rings, cq.head).cast::<u32>().read() }),
            releasing: AtomicBool::new(false),
            copied: state.wrapping_add(copied_at).cast(),
            slots: state.wrapping_add(slots_at).cast(),
            slot_count,
            free: AtomicU32::new(0),
            rings: (rings, rings_len),
            sqe_map: (sqe_map, sqe_len),
            mapping: (mapping, page + state_len),
        };
        // The submission array maps entry i to SQE i, once and for all.
        let array = at(rings, sq.array).cast::<u32>();
        for i in 0..params.sq_entries {
            // SAFETY: the array has sq_entries u32s.
            unsafe { array.add(i as usize).write(i) };
        }
        // SAFETY: the state's place in the fresh (zeroed) mapping, aligned
        // to a page.
        let uring = unsafe {
            let place = state.cast::<Uring>();
            place.write(uring);
            &*place
        };
        // The free stack: every slot, in order (zeroed memory is a valid
        // Slot).
        for i in 0..slot_count {
            let next = if i + 1 < slot_count { i + 1 } else { NO_SLOT };
            // Relaxed: not shared yet.
            uring.slot(i).next.store(next, Ordering::Relaxed);
            uring.slot(i).resfd.store(-1, Ordering::Relaxed);
        }
        // SAFETY: the header page is ours; it is made read-only once written.
        unsafe {
            mapping
                .cast::<AioRing>()
                .write(declining_header(ring_nr, fd));
            let _ = sys::mprotect(mapping, page, libc::PROT_READ);
            // Children see the header (as they see a kernel ring), nothing
            // else: no state, no rings.
            let _ = sys::madvise(state.cast(), state_len, libc::MADV_DONTFORK);
            let _ = sys::madvise(rings, rings_len, libc::MADV_DONTFORK);
            let _ = sys::madvise(sqe_map, sqe_len, libc::MADV_DONTFORK);
        }
        Some(uring)
    }

    /// Closes the instance and unmaps everything.
    ///
    /// # Safety
    ///
    /// Nothing uses the state any more, and the kernel has finished every
    /// request (or will never touch the program's memory again).
    unsafe fn free(&self) {
        let (fd, rings, sqe_map, mapping) = (self.fd, self.rings, self.sqe_map, self.mapping);
        sys::close(fd);
        // SAFETY: the caller's contract; `self` lives in `mapping`, which
        // goes last and is not touched after.
        unsafe {
            sys::munmap(sqe_map.0, sqe_map.1);
            sys::munmap(rings.0, rings.1);
            sys::munmap(mapping.0, mapping.1);
        }
    }

    /// Slot `index`.
    fn slot(&self, index: u32) -> &Slot {
        debug_assert!(index < self.slot_count);
        // SAFETY: the slots array has slot_count entries, in the state's
        // mapping.
        unsafe { &*self.slots.add(index as usize) }
    }

    /// Whether io_destroy has begun.
    pub fn is_dead(&self) -> bool {
        // Acquire: pairs with destroy's store.
        self.dead.load(Ordering::Acquire)
    }

    /// The most requests one io_submit takes (the kernel's clamp).
    pub fn ring_nr(&self) -> u32 {
        self.ring_nr
    }

    /// Takes a free slot for a new request (under `submit_lock`).
    fn take_slot(&self) -> Option<u32> {
        loop {
            // Acquire: the slot's `next` and its last user's writes.
            let top = self.free.load(Ordering::Acquire);
            if top == NO_SLOT {
                return None;
            }
            // Relaxed: read after the Acquire above.
            let next = self.slot(top).next.load(Ordering::Relaxed);
            // Only one thread takes (under submit_lock), so `top` cannot be
            // taken and given back meanwhile: no ABA.
            if self
                .free
                .compare_exchange(top, next, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some(top);
            }
        }
    }

    /// Gives a slot back.
    fn give_slot(&self, index: u32) {
        let mut top = self.free.load(Ordering::Relaxed);
        loop {
            // Relaxed: published by the Release of the exchange.
            self.slot(index).next.store(top, Ordering::Relaxed);
            // Release: the slot's last writes happen before its next taker.
            match self
                .free
                .compare_exchange(top, index, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => top = now,
            }
        }
    }

    /// Enters the kernel to submit `count` queued entries (and, with
    /// `ENTER_GETEVENTS`, to wait): see sys::io_uring_enter.
    ///
    /// # Safety
    ///
    /// As for sys::io_uring_enter.
    unsafe fn enter(
        &self,
        count: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> Result<u32, Errno> {
        // SAFETY: the caller's contract.
        unsafe { sys::io_uring_enter(self.fd, count, min_complete, flags, arg, argsz) }
    }
}

/// The header at the handle: a ring nobody may read from user space (see
/// the module documentation). Its `id` (the kernel's index of the context)
/// is the io_uring descriptor, for whoever looks at the process from outside
/// (`/proc/PID/fdinfo/ID` shows the queues).
fn declining_header(nr: u32, fd: c_int) -> AioRing {
    AioRing {
        id: fd as u32,
        nr,
        head: 0,
        tail: 0,
        magic: 0,
        compat_features: 0,
        incompat_features: 0x8000_0000,
        header_length: size_of::<AioRing>() as u32,
    }
}

/// io_destroy(2) of a context the backend serves: refuses every call from
/// now on, wakes the threads waiting in io_getevents (they answer
/// `EINVAL`), waits until no thread uses the state, cancels the polls, waits
/// for every other request to finish (as kernel AIO waits), then closes the
/// instance and unmaps everything. `EINVAL` if another thread's io_destroy
/// of the context got there first.
///
/// # Safety
///
/// `served` is the live context `ctx`.
pub unsafe fn destroy(ctx: usize, served: crate::backend::Served) -> SysResult {
    // AcqRel: one destroyer wins; the others answer as the kernel does to a
    // second io_destroy.
    if served.uring().dead.swap(true, Ordering::AcqRel) {
        return Err(Errno::EINVAL);
    }
    let uring: *const Uring = served.uring();
    // Our own guard must not hold up the removal.
    drop(served.into_protected());
    // SAFETY: this thread is the destroyer; nothing unmaps the state but
    // it, below.
    let uring = unsafe { &*uring };
    uring.wake_waiters();
    registry::remove_waking(ctx, || uring.wake_waiters());
    // Nobody else uses the state now.
    reap::drain(uring);
    // SAFETY: every request has finished and nobody uses the state.
    unsafe { uring.free() };
    Ok(0)
}

/// A lock for one thread at a time (futex-based), which knows its holder:
/// a signal handler that interrupted the holder must not wait for it.
///
/// The lock word is the holder's thread token itself, taken with one atomic
/// instruction and given back with another, so that a handler finds its
/// own thread's token at every instruction in between. (With the token in
/// a second word, written after the lock was taken and cleared before it
/// was given back, a handler that interrupted either gap waited for its own
/// thread for ever: `signal_reap ... submit` under the backend hung within
/// seconds, a timer interrupt being taken right after the locked
/// instruction.)
pub struct Lock {
    /// The holder's thread token, or 0.
    holder: AtomicUsize,
    /// 1 while a thread may be asleep waiting for the lock (the futex word).
    waiters: AtomicU32,
}

impl Lock {
    const fn new() -> Lock {
        Lock {
            holder: AtomicUsize::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// Takes the lock, or None if this thread holds it already (a signal
    /// handler interrupted the holder).
    #[inline]
    fn lock(&self) -> Option<LockGuard<'_>> {
        let me = registry::thread_token();
        // Relaxed: only this thread stores its token (or a handler of
        // this thread, which gives the lock back before returning).
        let held = self.holder.load(Ordering::Relaxed);
        if held == me {
            return None;
        }
        if held == 0 && registry::single_threaded() {
            // No other thread exists, and none can be started before the
            // lock is given back (only this thread could start it): a plain
            // store takes it. A handler that interrupts between the load and
            // the store takes and gives back the lock before this resumes;
            // one that interrupts after it finds our token.
            self.holder.store(me, Ordering::Relaxed);
            // The section the lock protects stays after the store.
            compiler_fence(Ordering::SeqCst);
            return Some(LockGuard {
                lock: self,
                alone: true,
            });
        }
        // Acquire: the previous holder's writes.
        if self
            .holder
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait(me);
        }
        Some(LockGuard {
            lock: self,
            alone: false,
        })
    }

    /// Sleeps until the lock is ours.
    #[cold]
    #[inline(never)]
    fn wait(&self, me: usize) {
        loop {
            // SeqCst, with the holder's swap and load when it gives the lock
            // back: either this attempt finds the lock free, or the holder
            // finds the flag and wakes us. A thread that takes the lock after
            // sleeping leaves the flag set, for the others still asleep.
            self.waiters.store(1, Ordering::SeqCst);
            if self
                .holder
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            sys::futex_wait(&self.waiters, 1);
        }
    }
}

/// A held [`Lock`].
pub struct LockGuard<'a> {
    lock: &'a Lock,
    /// Taken with the process's only thread's plain store.
    alone: bool,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if self.alone {
            // The protected section stays before the store (for our
            // handlers); Release: for the next holder, if it is a thread
            // started later.
            compiler_fence(Ordering::SeqCst);
            self.lock.holder.store(0, Ordering::Release);
            return;
        }
        // SeqCst: see `Lock::wait`; it also releases our writes to the next
        // holder.
        self.lock.holder.swap(0, Ordering::SeqCst);
        if self.lock.waiters.load(Ordering::SeqCst) != 0 {
            // Relaxed: the futex call orders it; every sleeper is woken and
            // tries again (contention here is rare: two threads submitting
            // to one context at the same moment).
            self.lock.waiters.store(0, Ordering::Relaxed);
            sys::futex_wake(&self.lock.waiters, i32::MAX as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_are_the_kernels() {
        // Measured with 2 possible CPUs and 4 KiB pages (libaio-0.3.113.md).
        for (maxevents, nr) in [
            (1, 127),
            (32, 127),
            (127, 383),
            (128, 383),
            (1024, 2175),
            (4096, 8319),
        ] {
            assert_eq!(kernel_ring_nr(maxevents, 2, 4096), Ok(nr), "{maxevents}");
        }
        assert_eq!(kernel_ring_nr(0x8000_0000, 2, 4096), Err(Errno::EAGAIN));
        assert_eq!(kernel_ring_nr(u32::MAX, 2, 4096), Err(Errno::EINVAL));
        assert_eq!(kernel_ring_nr(1 << 28, 2, 4096), Err(Errno::EINVAL));
    }

    #[test]
    fn capacities_are_whole_per_cpu_batches() {
        // nr 127 with 2 CPUs: batches of 15, 8 of them.
        assert_eq!(kernel_capacity(127, 2), 120);
        assert_eq!(kernel_capacity(127, 1), 124);
        assert_eq!(kernel_capacity(2175, 2), 2168);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(b"0-1\n"), Some(2));
        assert_eq!(parse_cpu_list(b"0\n"), Some(1));
        assert_eq!(parse_cpu_list(b"0-3,8-11\n"), Some(12));
        assert_eq!(parse_cpu_list(b""), None);
    }

    #[test]
    fn tags_round_trip() {
        let tag = Tag {
            slot: 0x12_3456,
            generation: 0x1e_beef,
            kind: KIND_EVENTFD,
            owner: 1024,
        };
        assert_eq!(Tag::decode(tag.encode()), tag);
    }
}
