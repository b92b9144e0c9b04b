//! Completions taken from the kernel ahead of time, kept for whoever reaps
//! the context next.
//!
//! `io_queue_run` reaps up to [`CAPACITY`] completions with one io_getevents
//! system call where libaio makes one call per completion. The completions
//! it has not yet handed to their callbacks wait here, in memory of the
//! library's own (one stash per live context, in the registry), and every
//! reaping entry point of the library (`io_getevents`, `io_pgetevents`,
//! `io_queue_run`, in any thread, in a callback or a signal handler) takes
//! from the stash before anything else, oldest first. So a completion taken
//! from the kernel either reaches its callback exactly once, or is returned
//! by the next reaping call on the context, exactly as if it had still been
//! in the kernel's ring:
//!
//! - a callback that calls io_getevents on its context gets the next
//!   completion at once, as under libaio;
//! - a nested io_queue_run runs the waiting callbacks;
//! - a callback that leaves with longjmp loses nothing: the rest wait here;
//! - io_destroy empties the stash with the context (the kernel discards
//!   unreaped completions too), so no completion of a destroyed context is
//!   ever handed out for a context created later at the same address.
//!
//! Only programs that bypass the library (reading the ring themselves, or
//! calling the io_getevents system call directly) could see a difference,
//! and only while io_queue_run runs callbacks.
//!
//! # Concurrency
//!
//! Taking is lock-free: a reaper reads the oldest completions, then claims
//! them with one compare-and-swap of `head`, and starts again if another
//! reaper (another thread, or a signal handler interrupting it) got there
//! first. `head` and `tail` only grow (wrapping after 2^32 or 2^64
//! completions), so a claim can only succeed on the completions it read.
//! Filling is one thread at a time (a try-lock: a thread that finds it taken
//! reaps one completion at a time instead, so nothing ever waits) and only
//! into an empty stash. The slots are atomic words, so a reaper that reads a
//! slot while it is being refilled reads a torn value but never uses it: its
//! claim fails, since `head` has moved past it.

use core::mem::{MaybeUninit, size_of};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::abi::io_event;

/// How many completions a stash holds: as many as `io_queue_run` reaps per
/// system call.
pub(crate) const CAPACITY: usize = 32;

/// See [`Stash::take_slow`]: never in a real build.
#[cfg(feature = "tsan-canary")]
static mut TSAN_CANARY: usize = 0;

/// An `io_event` as machine words.
const WORDS: usize = size_of::<io_event>() / size_of::<usize>();
const _: () = assert!(WORDS * size_of::<usize>() == size_of::<io_event>());

/// The counters of one context's stash; they live in the context's registry
/// entry (so that the x86_64 zero-timeout check reads them beside the
/// context), and its slots in a [`Slots`] of their own.
#[repr(C)]
pub struct Counters {
    /// How many completions have been taken out, ever.
    pub(crate) head: AtomicUsize,
    /// How many completions have been put in, ever.
    pub(crate) tail: AtomicUsize,
    /// Set while a thread fills the stash.
    filling: AtomicBool,
}

impl Counters {
    /// An empty stash's counters.
    pub const fn new() -> Counters {
        Counters {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            filling: AtomicBool::new(false),
        }
    }
}

/// The completions of one context's stash.
pub struct Slots([[AtomicUsize; WORDS]; CAPACITY]);

impl Slots {
    /// Empty slots.
    pub const fn new() -> Slots {
        Slots([const { [const { AtomicUsize::new(0) }; WORDS] }; CAPACITY])
    }
}

/// One context's completions taken from the kernel and not yet handed out.
#[derive(Clone, Copy)]
pub struct Stash<'a> {
    counters: &'a Counters,
    slots: &'a Slots,
}

impl<'a> Stash<'a> {
    /// The stash made of these counters and slots.
    pub const fn new(counters: &'a Counters, slots: &'a Slots) -> Stash<'a> {
        Stash { counters, slots }
    }

    /// True when no completion waits here.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        // Relaxed: a hint for callers that then take (and synchronise there).
        self.counters.head.load(Ordering::Relaxed) == self.counters.tail.load(Ordering::Relaxed)
    }

    /// Takes up to `max` of the waiting completions, oldest first, into
    /// `out`; returns how many.
    ///
    /// # Safety
    ///
    /// `out` has room for `max` events; it need not be aligned.
    #[inline]
    pub unsafe fn take(&self, max: usize, out: *mut io_event) -> usize {
        if self.is_empty() {
            return 0;
        }
        // SAFETY: the caller's contract.
        unsafe { self.take_slow(max, out) }
    }

    /// [`Stash::take`] once the stash looked non-empty.
    ///
    /// # Safety
    ///
    /// As for [`Stash::take`].
    #[inline(never)]
    unsafe fn take_slow(&self, max: usize, out: *mut io_event) -> usize {
        #[cfg(feature = "tsan-canary")]
        // SAFETY: none: a deliberate data race, built only for scripts/tsan
        // to show that ThreadSanitizer sees this code (it must report it).
        unsafe {
            TSAN_CANARY += 1;
        }
        let counters = self.counters;
        loop {
            // Acquire on both: the slots up to `tail` were written before
            // `tail` moved, and `head` is read first so that `tail - head`
            // never underflows (both only grow).
            let head = counters.head.load(Ordering::Acquire);
            let tail = counters.tail.load(Ordering::Acquire);
            let count = tail.wrapping_sub(head).min(max).min(CAPACITY);
            if count == 0 {
                return 0;
            }
            for i in 0..count {
                let event = self.read(head.wrapping_add(i));
                // SAFETY: i < max, so inside the caller's room for `max`.
                unsafe { out.add(i).write_unaligned(event) };
            }
            // AcqRel: Acquire pairs with the filler's release of `tail` (the
            // slots it wrote); Release orders our reads of the slots before a
            // filler that sees the stash empty reuses them.
            if counters
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(count),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return count;
            }
        }
    }

    /// The completion in slot `index` (modulo the capacity).
    fn read(&self, index: usize) -> io_event {
        let slot = &self.slots.0[index % CAPACITY];
        let mut words = [0usize; WORDS];
        for (word, atomic) in words.iter_mut().zip(slot) {
            // Relaxed: ordered by the Acquire loads of head and tail; a torn
            // read is discarded by the failed claim.
            *word = atomic.load(Ordering::Relaxed);
        }
        // SAFETY: io_event is plain data of exactly WORDS words, every bit
        // pattern valid.
        unsafe { core::mem::transmute::<[usize; WORDS], io_event>(words) }
    }

    /// The right to fill the stash, if no other thread is filling it.
    ///
    /// SeqCst pairs with the registry's claim of an entry (`insert`), which
    /// skips entries being filled: of a claim and a fill that start at once,
    /// at least one sees the other.
    #[inline]
    pub fn start_filling(&self) -> Option<Filling<'a>> {
        if self.counters.filling.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(Filling(*self))
    }

    /// Whether a thread is filling the stash now (see [`Stash::start_filling`]).
    pub fn being_filled(&self) -> bool {
        self.counters.filling.load(Ordering::SeqCst)
    }

    /// Drops every waiting completion: the context is gone.
    pub fn clear(&self) {
        let counters = self.counters;
        let mut head = counters.head.load(Ordering::Acquire);
        loop {
            let tail = counters.tail.load(Ordering::Acquire);
            if head == tail {
                return;
            }
            // AcqRel, as in take: this is a claim of everything.
            match counters
                .head
                .compare_exchange(head, tail, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }
}

/// The right to fill a stash; see [`Stash::start_filling`].
pub struct Filling<'a>(Stash<'a>);

impl Filling<'_> {
    /// True when the stash is empty, so that it can be filled.
    pub fn stash_is_empty(&self) -> bool {
        let counters = self.0.counters;
        // Acquire: the last reaper's reads of the slots happened before.
        counters.head.load(Ordering::Acquire) == counters.tail.load(Ordering::Relaxed)
    }

    /// Puts `events` (at most [`CAPACITY`]) into the empty stash.
    pub fn put(&self, events: &[MaybeUninit<io_event>]) {
        debug_assert!(events.len() <= CAPACITY && self.stash_is_empty());
        let counters = self.0.counters;
        // Only the filler moves tail: Relaxed.
        let tail = counters.tail.load(Ordering::Relaxed);
        for (i, event) in events.iter().enumerate() {
            // SAFETY: the caller passes events the kernel filled in; an
            // io_event is plain data, as words.
            let words = unsafe {
                core::mem::transmute_copy::<io_event, [usize; WORDS]>(event.assume_init_ref())
            };
            let slot = &self.0.slots.0[tail.wrapping_add(i) % CAPACITY];
            for (atomic, word) in slot.iter().zip(words) {
                // Relaxed: published by the Release store of tail.
                atomic.store(word, Ordering::Relaxed);
            }
        }
        // Release: the slots are written before reapers may see them.
        counters
            .tail
            .store(tail.wrapping_add(events.len()), Ordering::Release);
    }
}

impl Drop for Filling<'_> {
    fn drop(&mut self) {
        // Release: what was put in is visible to the next filler.
        self.0.counters.filling.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> io_event {
        // SAFETY: plain data.
        let mut e: io_event = unsafe { core::mem::zeroed() };
        e.res = n as _;
        e
    }

    fn batch(range: core::ops::Range<usize>) -> Vec<MaybeUninit<io_event>> {
        range.map(|n| MaybeUninit::new(event(n))).collect()
    }

    fn fresh() -> Stash<'static> {
        Stash::new(
            Box::leak(Box::new(Counters::new())),
            Box::leak(Box::new(Slots::new())),
        )
    }

    #[test]
    fn takes_oldest_first_and_each_once() {
        let stash = fresh();
        let filling = stash.start_filling().unwrap();
        assert!(stash.start_filling().is_none());
        filling.put(&batch(0..5));
        drop(filling);
        let mut out = [event(99); 8];
        // SAFETY: room for 2, then 8.
        assert_eq!(unsafe { stash.take(2, out.as_mut_ptr()) }, 2);
        assert_eq!((out[0].res, out[1].res), (0, 1));
        // SAFETY: as above.
        assert_eq!(unsafe { stash.take(8, out.as_mut_ptr()) }, 3);
        assert_eq!((out[0].res, out[2].res), (2, 4));
        // SAFETY: as above.
        assert_eq!(unsafe { stash.take(8, out.as_mut_ptr()) }, 0);
        assert!(stash.is_empty());
    }

    #[test]
    fn refills_wrap_around_the_slots() {
        let stash = fresh();
        let mut next = 0;
        let mut out = [event(0); CAPACITY];
        for round in 0..5 {
            let n = 20 + round;
            let filling = stash.start_filling().unwrap();
            assert!(filling.stash_is_empty());
            filling.put(&batch(next..next + n));
            drop(filling);
            // SAFETY: room for CAPACITY events.
            assert_eq!(unsafe { stash.take(CAPACITY, out.as_mut_ptr()) }, n);
            assert!((0..n).all(|i| out[i].res == (next + i) as u64 as _));
            next += n;
        }
    }

    #[test]
    fn clear_drops_everything() {
        let stash = fresh();
        stash.start_filling().unwrap().put(&batch(0..7));
        stash.clear();
        let mut out = [event(0); 1];
        // SAFETY: room for one.
        assert_eq!(unsafe { stash.take(1, out.as_mut_ptr()) }, 0);
    }

    #[test]
    fn concurrent_takers_get_each_completion_exactly_once() {
        let stash = fresh();
        let seen: Vec<AtomicUsize> = (0..20_000).map(|_| AtomicUsize::new(0)).collect();
        let filled = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    let mut out = [event(0); 5];
                    loop {
                        // SAFETY: room for 5.
                        let n = unsafe { stash.take(5, out.as_mut_ptr()) };
                        for e in &out[..n] {
                            seen[e.res as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        if n == 0
                            && filled.load(Ordering::Acquire) == seen.len()
                            && stash.is_empty()
                        {
                            break;
                        }
                    }
                });
            }
            let mut next = 0;
            while next < seen.len() {
                if let Some(filling) = stash.start_filling() {
                    if filling.stash_is_empty() {
                        let n = CAPACITY.min(seen.len() - next);
                        filling.put(&batch(next..next + n));
                        next += n;
                        filled.store(next, Ordering::Release);
                    }
                }
            }
        });
        assert!(seen.iter().all(|n| n.load(Ordering::Relaxed) == 1));
    }
}
