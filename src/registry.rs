//! The contexts this process created through this library and has not
//! destroyed: the only rings the library ever reads, and what the library
//! keeps per context (completions reaped ahead, the user-space reapers'
//! lease).
//!
//! # Why a ring is read only while it is mapped
//!
//! `io_getevents()` answers a zero-timeout call on an empty ring without a
//! system call, as libaio does, which means reading the ring through the
//! caller's handle. libaio reads through whatever it is given and crashes on
//! a stale handle, and also when another thread's `io_destroy` unmaps the
//! ring between its check and its read. Here a ring is read only if the
//! table below holds its address, and `io_destroy` first removes the address
//! from the table and then waits until no reader that saw it there can still
//! be reading, before the kernel unmaps the ring. Two ways of waiting, chosen
//! once per process:
//!
//! - **hazards** (the default, with membarrier(2)): a reader first publishes
//!   the address it is about to read in a slot of its own thread (a plain
//!   store), then checks the table, reads, and withdraws the address. The
//!   destroyer clears the table's entry, then calls
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which executes a full
//!   memory barrier on every CPU running a thread of the process (and the
//!   scheduler gives the same to those not running), then waits until no
//!   thread's slot shows the address. So of a reader's publish-then-check and
//!   the destroyer's clear-then-look, one sees the other: the reader finds
//!   the entry gone and leaves without reading, or the destroyer finds the
//!   hazard and waits for the reader to withdraw it. The readers pay two
//!   plain stores and no atomic read-modify-write; the barrier is the
//!   destroyer's, and it holds on weakly ordered architectures too.
//! - **counted** (without membarrier, or for a thread that found no slot):
//!   a reader increments the entry's `readers`, then checks that the entry
//!   still holds the context, reads, and decrements; `io_destroy` clears the
//!   entry, then waits for `readers` to be 0. Both sides use sequentially
//!   consistent operations.
//!
//! `io_destroy` always waits for both kinds of readers. A thread's slot keeps
//! a first published address and a small stack above it (a signal handler
//! that reads a ring while the code it interrupted is reading one publishes
//! its own in the next free word), and its own slot is the one `io_destroy`
//! does not wait for: that would be a signal handler destroying the context
//! the code it interrupted is reading, which then reads an unmapped ring
//! when it resumes, as it does with libaio.
//!
//! While the process has a single thread (glibc's `__libc_single_threaded`,
//! which glibc clears before it creates a second thread and never sets
//! again in that process), no other thread can destroy a context between a
//! reader's check and its read: readers skip the hazard, and `io_destroy`
//! skips the barrier and the wait. Threads made with a raw clone(2) sharing
//! the address space, which glibc does not know about, are outside what the
//! library supports (as they are for glibc itself).
//!
//! (Restartable sequences, which the library uses for user-space reaping,
//! cannot serve here: on Linux 6.18 a membarrier(2) asking to restart other
//! threads' sequences was measured to leave some running, when other
//! threads of the process send interprocessor interrupts meanwhile.)
//!
//! A handle the library does not know goes to the kernel, which answers for
//! it (`EINVAL` for a bad context, the right events for a good one), so what
//! the table holds can cost a system call but never change a result:
//!
//! - a ring moved with `mremap()` is not known at its new address;
//! - a context created elsewhere (raw system call, another copy of libaio)
//!   is served by the kernel;
//! - a child process never finds its parent's contexts (the kernel gives it
//!   none), however it was made: the table lives in memory marked
//!   `MADV_WIPEONFORK`, which the kernel hands to every child with a copy of
//!   the address space (`fork()`, `_Fork()`, `clone()` without `CLONE_VM`)
//!   as zeros. A child sharing the address space (`vfork()`, `CLONE_VM`)
//!   shares the contexts too, with the kernel's blessing, and keeps the
//!   table.
//!
//! # The table
//!
//! A fixed array of [`ENTRIES`] entries indexed by a hash of the address,
//! one context per entry; a context whose window of [`PROBES`] entries is
//! full stays unknown (its calls go to the kernel). In hazards mode the entry
//! of the most recently created context is also kept in [`RECENT`], so that
//! the x86_64 entry points in `fast` answer the zero-timeout poll with one
//! compare.
//!
//! Only `io_setup()` and `io_destroy()` change which contexts are known, each
//! with one compare-and-swap of the entry's `ctx`.
//!
//! # User-space reaping
//!
//! For the opt-in user-space reaping mode, each ring address (by its hash:
//! see `Wiped::leases`) has a lease word: 0, or the odd token of the one
//! thread allowed to copy completions out of the ring
//! ([`Live::take_in_user_space`]), or twice the number of threads inside the
//! io_getevents system call on that address (which reads and moves the
//! ring's head too; every such call registers, for a context the table knows
//! or not). A user-space reaper that finds the word taken goes to the kernel.
//! A kernel reaper waits while another thread holds the lease (a short copy;
//! longer only if that thread is preempted, or interrupted by a signal
//! handler that runs long). A signal handler never waits for the code it
//! interrupted: it takes the lease over, since the signal already restarted
//! that code's restartable sequence, whose last instruction, the store of
//! the new head, is only reached while the lease is still its own (`rseq`).

use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering, compiler_fence};

use crate::abi::io_event;
use crate::ring::{self, Peek};
use crate::stash::{Counters, Slots, Stash};
use crate::sys;
use crate::uring::Uring;
use crate::uring::exit::ThreadExit;

/// Number of entries: a power of two.
const ENTRIES: usize = 1024;

/// How many consecutive entries, from the one its address hashes to, may
/// hold a context. Lookups of unknown addresses read them all.
const PROBES: usize = 16;

/// A live context and what the library keeps for it.
#[repr(C, align(64))]
pub struct Entry {
    /// The ring's address, or 0.
    ctx: AtomicUsize,
    /// Threads reading the ring the counted way (see the module
    /// documentation).
    readers: AtomicUsize,
    /// Completions reaped from the kernel and not yet handed out: the
    /// counters (the slots are in `Wiped::slots`, at the same index).
    stash: Counters,
    /// The io_uring backend's state of the context (see `uring`), or NULL
    /// for a kernel AIO context. Written before `ctx` is published.
    uring: AtomicPtr<Uring>,
}

/// Offsets the assembly in `fast` reads.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const CTX_OFFSET: usize = core::mem::offset_of!(Entry, ctx);
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const STASH_HEAD_OFFSET: usize =
    core::mem::offset_of!(Entry, stash) + core::mem::offset_of!(Counters, head);
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const STASH_TAIL_OFFSET: usize =
    core::mem::offset_of!(Entry, stash) + core::mem::offset_of!(Counters, tail);
const _: () = assert!(core::mem::size_of::<Entry>() == 64);

impl Entry {
    const fn new() -> Entry {
        Entry {
            ctx: AtomicUsize::new(0),
            readers: AtomicUsize::new(0),
            stash: Counters::new(),
            uring: AtomicPtr::new(core::ptr::null_mut()),
        }
    }
}

/// Which way readers are kept from outliving a ring's mapping (see the
/// module documentation), decided at the first `io_setup()` of the process.
const UNDECIDED: u8 = 0;
/// The table could not be protected from children: it is not used, and
/// every call goes to the kernel.
const OFF: u8 = 1;
const COUNTED: u8 = 2;
const HAZARDS: u8 = 3;

/// Everything a child must not inherit, zero-initialised, in pages of its
/// own (`.bss.*`: no file backing) so that `MADV_WIPEONFORK` may apply. The
/// alignment (and so the size) is the largest page size Linux has on the
/// architecture: 4 KiB where it has no other (x86, s390x, 32-bit ARM,
/// RISC-V), 64 KiB elsewhere. Not 64 KiB everywhere: where the linker's
/// page size is 4 KiB, that alignment gives `.bss` a load segment of its
/// own, and a shared object with two writable segments is one that
/// valgrind 3.19 (Debian 12's) reads no symbols or unwind tables from. On
/// a kernel whose pages are larger than the alignment, the advice fails and
/// the table is not used ([`OFF`]): results stay exact.
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "s390x",
        target_arch = "arm",
        target_arch = "riscv64"
    ),
    repr(C, align(4096))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "s390x",
        target_arch = "arm",
        target_arch = "riscv64"
    )),
    repr(C, align(65536))
)]
pub(crate) struct Wiped {
    mode: AtomicU8,
    /// The context a single-threaded process may poll without the Rust
    /// path (`fast`), or 0; see [`Live::arm_fast`].
    fast: AtomicUsize,
    table: [Entry; ENTRIES],
    /// The readers' hazards, a slot per thread (see [`Threads`]).
    threads: Threads,
    /// The user-space reaping leases, by the hash of the ring's address (not
    /// by entry: a context created at the address of one just destroyed
    /// finds the lease of any thread still inside a system call on the old
    /// handle, which the kernel now applies to the new context).
    leases: [AtomicUsize; ENTRIES],
    /// The stash slots of `table[i]` are `slots[i]`: apart, so that lookups
    /// only read the compact entries.
    slots: [Slots; ENTRIES],
    /// The io_uring backend's record of each thread's requests, by the
    /// index of the thread's slot in `threads` (see `uring::exit`).
    pub(crate) uring_threads: [ThreadExit; THREADS],
}

#[unsafe(link_section = ".bss.libaio_rs_registry")]
pub(crate) static WIPED: Wiped = Wiped {
    mode: AtomicU8::new(UNDECIDED),
    fast: AtomicUsize::new(0),
    table: [const { Entry::new() }; ENTRIES],
    threads: Threads::new(),
    leases: [const { AtomicUsize::new(0) }; ENTRIES],
    slots: [const { Slots::new() }; ENTRIES],
    uring_threads: [const { ThreadExit::new() }; THREADS],
};

/// Slots for [`NO_ENTRY`], which never holds a context.
static NO_SLOTS: Slots = Slots::new();

/// Number of thread slots: a power of two. A thread claims one the first
/// time it reads a ring (by its thread pointer, so a thread that reuses a
/// finished thread's stack finds the slot again); a thread that finds none
/// free counts itself instead (the counted way).
const THREADS: usize = 1024;

/// How many slots, from the one its token hashes to, a thread may claim.
const THREAD_PROBES: usize = 8;

/// How many ring reads of the Rust path one thread may have in progress at
/// once (a signal handler interrupting a read, a handler interrupting that
/// handler...); deeper ones count themselves.
const DEPTH: usize = 4;

/// The readers' hazards, a slot per thread, as parallel arrays (the x86_64
/// entry points address a slot's words with one scaled index).
#[repr(C)]
pub(crate) struct Threads {
    /// Each slot's thread: its token (thread pointer), or 0: free.
    owners: [AtomicUsize; THREADS],
    /// Each slot's first hazard: the ring its thread is reading, or 0. A
    /// reader uses it only when it is 0, so that a signal handler
    /// interrupting a read takes the stack below instead of overwriting it.
    first: [AtomicUsize; THREADS],
    /// Each slot's further hazards.
    stacks: [HazardStack; THREADS],
}

/// A slot's further hazards, innermost last.
#[repr(C, align(64))]
struct HazardStack {
    depth: AtomicUsize,
    reading: [AtomicUsize; DEPTH],
}

impl Threads {
    const fn new() -> Threads {
        Threads {
            owners: [const { AtomicUsize::new(0) }; THREADS],
            first: [const { AtomicUsize::new(0) }; THREADS],
            stacks: [const {
                HazardStack {
                    depth: AtomicUsize::new(0),
                    reading: [const { AtomicUsize::new(0) }; DEPTH],
                }
            }; THREADS],
        }
    }
}

/// Offsets and sizes the assembly in `fast` uses.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const FAST_OFFSET: usize = core::mem::offset_of!(Wiped, fast);
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const OWNERS_OFFSET: usize =
    core::mem::offset_of!(Wiped, threads) + core::mem::offset_of!(Threads, owners);
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const FIRST_OFFSET: usize =
    core::mem::offset_of!(Wiped, threads) + core::mem::offset_of!(Threads, first);
/// The shift that turns a token's product with [`GOLDEN`] into a slot.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub(crate) const THREAD_SHIFT: u32 = usize::BITS - THREADS.trailing_zeros();

/// The multiplier of the hashes (Fibonacci hashing), truncated to 32 bits
/// for the x86_64 assembly, which multiplies by a sign-extended immediate.
#[cfg(target_pointer_width = "64")]
pub(crate) const GOLDEN: usize = 0xffff_ffff_9e37_79b9;
#[cfg(target_pointer_width = "32")]
pub(crate) const GOLDEN: usize = 0x9e37_79b9;

/// A thread's slot: an index into [`Threads`].
#[derive(Clone, Copy)]
struct ThreadSlot(usize);

impl ThreadSlot {
    /// Publishes `ctx` as being read, if there is room; withdrawn when the
    /// guard drops. See the module documentation for why plain stores and a
    /// compiler barrier are enough on this side. Relaxed throughout: only
    /// this thread (and its signal handlers, which nest and restore) writes
    /// its slot.
    #[inline]
    fn publish(self, ctx: usize) -> Option<Hazard> {
        let threads = &WIPED.threads;
        let first = &threads.first[self.0];
        if first.load(Ordering::Relaxed) == 0 {
            // A signal handler interrupting between the test and the store
            // runs to completion, and leaves the word 0 again.
            first.store(ctx, Ordering::Relaxed);
            // Published before the caller checks the table (a compiler
            // barrier: the destroyer's membarrier orders the CPU).
            compiler_fence(Ordering::SeqCst);
            return Some(Hazard {
                word: first,
                stack: None,
            });
        }
        let stack = &threads.stacks[self.0];
        let depth = stack.depth.load(Ordering::Relaxed);
        if depth >= DEPTH {
            return None;
        }
        // The depth first: a signal handler arriving between the two stores
        // publishes above this one.
        stack.depth.store(depth + 1, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        stack.reading[depth].store(ctx, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        Some(Hazard {
            word: &stack.reading[depth],
            stack: Some((stack, depth)),
        })
    }
}

/// A published hazard; see [`ThreadSlot::publish`].
struct Hazard {
    word: &'static AtomicUsize,
    stack: Option<(&'static HazardStack, usize)>,
}

impl Drop for Hazard {
    fn drop(&mut self) {
        // Release: the reads of the ring happen before a destroyer sees the
        // address withdrawn.
        self.word.store(0, Ordering::Release);
        if let Some((stack, depth)) = self.stack {
            compiler_fence(Ordering::SeqCst);
            stack.depth.store(depth, Ordering::Relaxed);
        }
    }
}

/// Whether the process has a single thread (glibc's
/// `__libc_single_threaded`, which only ever goes from true to false): then
/// no other thread can destroy a context while this one reads its ring, and
/// neither readers nor `io_destroy` need the hazards. Read through the
/// address cached at load (`process`), which names a 0 byte (several
/// threads) when glibc has no such variable.
#[inline(always)]
pub(crate) fn single_threaded() -> bool {
    // SAFETY: the pointer names glibc's variable or our own 0 byte, both
    // static; a byte load of a variable glibc writes only before a second
    // thread exists (volatile: it changes behind the compiler's back).
    unsafe {
        crate::process::SINGLE_THREADED
            .load(Ordering::Relaxed)
            .read_volatile()
            != 0
    }
}

/// A word unique to the calling thread while it lives: its thread pointer
/// (on x86_64 the TLS ABI keeps the TCB's own address at `fs:0`), or glibc's
/// `pthread_self()`, which is the same thing.
#[inline(always)]
pub(crate) fn thread_token() -> usize {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    {
        let tcb: usize;
        // SAFETY: reads the first word of the thread control block, which the
        // TLS ABI guarantees to exist and to hold its own address.
        unsafe {
            core::arch::asm!(
                "mov {}, qword ptr fs:[0]",
                out(reg) tcb,
                options(nostack, readonly, preserves_flags)
            );
        }
        tcb
    }
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as usize }
    }
}

/// The calling thread's slot, claimed the first time; None if its window is
/// full.
#[inline]
fn my_slot() -> Option<ThreadSlot> {
    let token = thread_token();
    let first = token.wrapping_mul(GOLDEN) >> (usize::BITS - THREADS.trailing_zeros());
    // Relaxed: the owner word only names the slot's thread.
    if WIPED.threads.owners[first].load(Ordering::Relaxed) == token {
        return Some(ThreadSlot(first));
    }
    claim_slot(token, first)
}

/// [`my_slot`] past the first slot of the window, claiming one if needed.
#[cold]
#[inline(never)]
fn claim_slot(token: usize, first: usize) -> Option<ThreadSlot> {
    let owners = &WIPED.threads.owners;
    let window = (first..first + THREAD_PROBES).map(|i| i & (THREADS - 1));
    // Relaxed: an owner word only names its slot's thread; what the slot
    // holds is ordered by the hazard protocol, not by the claim.
    if let Some(i) = window
        .clone()
        .find(|&i| owners[i].load(Ordering::Relaxed) == token)
    {
        return Some(ThreadSlot(i));
    }
    window
        .into_iter()
        .find(|&i| {
            owners[i]
                .compare_exchange(0, token, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
        .map(ThreadSlot)
}

/// An entry that never holds a context: where [`RECENT`] points until a
/// hazards-mode `io_setup`.
static NO_ENTRY: Entry = Entry::new();

impl Entry {
    /// This entry's stash.
    fn stash(&'static self) -> Stash<'static> {
        let table = WIPED.table.as_ptr_range();
        let slots = if table.contains(&(self as *const Entry)) {
            // SAFETY: self is an element of the table, so the offset is its
            // index.
            let index = unsafe { (self as *const Entry).offset_from(table.start) } as usize;
            &WIPED.slots[index]
        } else {
            &NO_SLOTS
        };
        Stash::new(&self.stash, slots)
    }
}

/// The entry of the most recently created context (hazards mode only), or
/// [`NO_ENTRY`]; never a dangling pointer, so the assembly in `fast` may
/// compare a handle with its `ctx` at any time. Not wiped in a child: the
/// entry it points at is.
pub(crate) static RECENT: AtomicPtr<Entry> = AtomicPtr::new((&raw const NO_ENTRY).cast_mut());

/// A context the table holds: its entry, and the address.
#[derive(Clone, Copy)]
pub struct Live {
    entry: &'static Entry,
    ctx: usize,
}

/// The index `ctx` hashes to: Fibonacci hashing, so that rings a page or a
/// 64 KiB page apart land apart.
#[inline(always)]
fn bucket(ctx: usize) -> usize {
    #[cfg(target_pointer_width = "64")]
    const GOLDEN: usize = 0x9e37_79b9_7f4a_7c15;
    #[cfg(target_pointer_width = "32")]
    const GOLDEN: usize = 0x9e37_79b9;
    ctx.wrapping_mul(GOLDEN) >> (usize::BITS - ENTRIES.trailing_zeros())
}

/// The entries where `ctx` may be: from the one it hashes to, the next
/// [`PROBES`], wrapping around.
#[inline(always)]
fn window(ctx: usize) -> impl Iterator<Item = &'static Entry> {
    let first = bucket(ctx);
    (first..first + PROBES).map(|i| &WIPED.table[i & (ENTRIES - 1)])
}

/// The user-space reaping lease of the ring at `ctx`.
#[inline(always)]
fn lease(ctx: usize) -> &'static AtomicUsize {
    &WIPED.leases[bucket(ctx)]
}

/// The table's entry for `ctx`, if `ctx` is a live context it holds. The
/// entry `ctx` hashes to is tried inline, the rest of its window out of line.
#[inline(always)]
pub fn find(ctx: usize) -> Option<Live> {
    if ctx == 0 {
        return None;
    }
    let first = window(ctx).next()?;
    // Acquire: pairs with the claim in insert (the stash was cleared and
    // the io_uring state recorded first).
    if first.ctx.load(Ordering::Acquire) == ctx {
        return Some(Live { entry: first, ctx });
    }
    find_further(ctx)
}

/// [`find`] past the first entry of the window.
#[inline(never)]
fn find_further(ctx: usize) -> Option<Live> {
    window(ctx)
        .skip(1)
        .find(|entry| entry.ctx.load(Ordering::Acquire) == ctx)
        .map(|entry| Live { entry, ctx })
}

/// Records `ctx`, just made by io_setup(2) or by the io_uring backend
/// (`uring` is then its state), as live, in the first free entry of its
/// window, and says whether it did. If there is none, ctx stays unknown to
/// the table: a kernel context's calls go to the kernel, and the io_uring
/// backend cannot serve the context.
pub fn insert(ctx: usize, uring: *mut Uring) -> bool {
    let mode = mode();
    if ctx == 0 || mode == OFF {
        return false;
    }
    for entry in window(ctx) {
        // Relaxed: a hint; the compare-and-swap below decides.
        if entry.ctx.load(Ordering::Relaxed) != 0 || entry.stash().being_filled() {
            continue;
        }
        // A tentative claim first, with a value no handle can have (rings are
        // page-aligned): a thread still filling the stash for the entry's
        // previous context (its fill began before that context was
        // destroyed) is either seen below, and the entry is left alone, or
        // sees the claim (SeqCst, both sides) and keeps nothing. No reader
        // ever sees the address in an entry it does not end up in, so
        // `remove` always finds what readers may have seen.
        if entry
            .ctx
            .compare_exchange(0, ctx | CLAIMING, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            continue;
        }
        if entry.stash().being_filled() {
            // SeqCst: withdraws the claim in the same total order it was
            // made in (see above).
            entry.ctx.store(0, Ordering::SeqCst);
            continue;
        }
        entry.stash().clear();
        // Relaxed: published by the Release store of ctx below.
        entry.uring.store(uring, Ordering::Relaxed);
        // Release: the cleared stash and the io_uring state are visible to
        // whoever finds the entry.
        entry.ctx.store(ctx, Ordering::Release);
        if mode == HAZARDS {
            // Release: the entry is visible to whoever follows RECENT.
            RECENT.store((entry as *const Entry).cast_mut(), Ordering::Release);
        }
        return true;
    }
    false
}

/// Marks an entry being claimed (see `insert`).
const CLAIMING: usize = 1;

/// Forgets `ctx`, about to be destroyed, and returns once no thread can be
/// reading its ring any more (see the module documentation).
pub fn remove(ctx: usize) {
    remove_waking(ctx, || {});
}

/// [`remove`], calling `wake` now and then while other threads still use
/// the context (the io_uring backend wakes its waiters so); returns whether
/// this call took the context out of the table (false: it was not there, or
/// another thread's removal got there first).
pub fn remove_waking(ctx: usize, mut wake: impl FnMut()) -> bool {
    let Some(live) = find(ctx) else {
        return false;
    };
    live.disarm_fast();
    let entry = live.entry;
    // SeqCst: against the counted readers' increment-then-check. If another
    // thread's io_destroy of the same context clears it first, this one
    // still waits for the readers below before its own system call.
    let cleared = entry
        .ctx
        .compare_exchange(ctx, 0, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok();
    entry.stash().clear();
    let mut spins = 0u32;
    let mut waiting = |spins: &mut u32| {
        if *spins % 64 == 63 {
            wake();
        }
        pause(spins);
    };
    // With a single thread no reader can be inside a read (but for the code
    // a signal handler interrupted, which is the program's to avoid).
    if WIPED.mode.load(Ordering::Relaxed) == HAZARDS && !single_threaded() {
        barrier_on_every_cpu();
        let me = thread_token();
        let threads = &WIPED.threads;
        for i in 0..THREADS {
            // Relaxed: a slot that was never claimed has no hazards; our own
            // is skipped (see the module documentation).
            let owner = threads.owners[i].load(Ordering::Relaxed);
            if owner == 0 || owner == me {
                continue;
            }
            let stack = &threads.stacks[i].reading;
            for hazard in core::iter::once(&threads.first[i]).chain(stack) {
                // Acquire: pairs with the reader's withdrawal. One look that
                // finds anything else is enough: a reader publishing ctx
                // again from now on finds the entry cleared.
                while hazard.load(Ordering::Acquire) == ctx {
                    waiting(&mut spins);
                }
            }
        }
    }
    // SeqCst: see above.
    while entry.readers.load(Ordering::SeqCst) != 0 {
        waiting(&mut spins);
    }
    cleared
}

/// The record of the thread whose slot has index `index` (see
/// `uring::exit`).
pub fn thread_exit(index: usize) -> &'static ThreadExit {
    &WIPED.uring_threads[index & (THREADS - 1)]
}

/// Calls `f` with the io_uring state of every live context the backend
/// serves, each protected from its io_destroy while `f` runs.
pub fn for_each_uring(mut f: impl FnMut(&Uring)) {
    for entry in &WIPED.table {
        // Relaxed: a hint; `protect` checks again.
        if entry.uring.load(Ordering::Relaxed).is_null() {
            continue;
        }
        let ctx = entry.ctx.load(Ordering::Acquire);
        if ctx == 0 || ctx & CLAIMING != 0 {
            continue;
        }
        let live = Live { entry, ctx };
        if let Some(uring) = live.protect().as_ref().and_then(Protected::uring) {
            f(uring);
        }
    }
}

/// The index of the calling thread's slot (claimed the first time), which
/// names its per-thread records; None if its window is full.
pub fn my_thread_index() -> Option<usize> {
    my_slot().map(|slot| slot.0)
}

/// A full memory barrier on every CPU running a thread of this process:
/// membarrier(2).
fn barrier_on_every_cpu() {
    // SAFETY: membarrier reads and writes none of our memory.
    if unsafe { sys::membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) }.is_err() {
        // Only a process that was not registered (which hazards mode rules
        // out) gets an error: register and try once more.
        // SAFETY: as above.
        unsafe {
            let _ = sys::membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
            let _ = sys::membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        }
    }
}

/// From linux/membarrier.h.
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: core::ffi::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: core::ffi::c_int = 1 << 4;

/// Waits a moment for another thread: spins first, then yields.
fn pause(spins: &mut u32) {
    *spins += 1;
    if *spins > 100 {
        // SAFETY: sched_yield has no preconditions (and leaves errno alone
        // when it succeeds, which it always does on Linux).
        unsafe { libc::sched_yield() };
    } else {
        core::hint::spin_loop();
    }
}

/// The process's mode, decided at the first call.
#[inline(always)]
fn mode() -> u8 {
    // Acquire: pairs with the Release store in decide_mode.
    match WIPED.mode.load(Ordering::Acquire) {
        UNDECIDED => decide_mode(),
        mode => mode,
    }
}

/// Protects the table from children, then picks rseq or counted mode.
/// Threads deciding at once all reach the same decision.
#[cold]
#[inline(never)]
fn decide_mode() -> u8 {
    // SAFETY: WIPED is this library's own memory; the advice only changes
    // what children see.
    let wiped = unsafe {
        sys::madvise(
            (&raw const WIPED).cast(),
            core::mem::size_of::<Wiped>(),
            libc::MADV_WIPEONFORK,
        )
    };
    // SAFETY: membarrier reads and writes none of our memory.
    let barrier = unsafe { sys::membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) };
    let mode = if wiped.is_err() {
        OFF
    } else if barrier.is_ok() {
        HAZARDS
    } else {
        COUNTED
    };
    if mode != HAZARDS {
        // A child that was in hazards mode before its memory was wiped.
        RECENT.store((&raw const NO_ENTRY).cast_mut(), Ordering::Relaxed);
    }
    WIPED.mode.store(mode, Ordering::Release);
    mode
}

/// Whether user-space reaping is on: asked for at load, and possible: the
/// hazards mode, and the restartable sequence that commits a reap (x86_64
/// with glibc's rseq areas), which a signal handler taking over its
/// interrupted code's lease relies on.
#[inline(always)]
pub fn user_space_reaping() -> bool {
    crate::process::user_space_reap_requested()
        && WIPED.mode.load(Ordering::Relaxed) == HAZARDS
        && rseq_available()
}

/// Whether glibc registers rseq areas (x86_64 only: see `rseq`).
#[inline(always)]
fn rseq_available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    return crate::rseq::GLIBC_REGISTERS.load(Ordering::Relaxed);
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    return false;
}

impl Live {
    /// The context's address.
    #[inline(always)]
    pub fn ctx(&self) -> usize {
        self.ctx
    }

    /// The completions reaped ahead for this context.
    #[inline(always)]
    pub fn stash(&self) -> Stash<'static> {
        self.entry.stash()
    }
    /// Lets the x86_64 entry points answer a zero-timeout poll of this
    /// context on their own, while the process has a single thread: the
    /// registry's fast word names it from now until its stash is filled
    /// ([`Live::disarm_fast`], before the completions go in) or it is
    /// destroyed (`remove`, before the kernel unmaps the ring). Armed only
    /// with nothing reaped ahead; a signal handler that fills the stash
    /// between this look and the store below is seen by the second look.
    /// With several threads the word is not used (the entry points check
    /// that first), so it need not be kept exact then.
    #[cold]
    #[inline(never)]
    pub fn arm_fast(&self) {
        #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
        if single_threaded() && self.stash().is_empty() {
            // Relaxed: read only by this thread (and its signal handlers,
            // which the compiler fences order).
            WIPED.fast.store(self.ctx, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            if !self.stash().is_empty() {
                self.disarm_fast();
            }
        }
    }

    /// Stops the entry points answering for this context on their own (see
    /// [`Live::arm_fast`]): before its stash is filled.
    #[inline]
    pub fn disarm_fast(&self) {
        // Relaxed: as in arm_fast; a failure means another context (or none)
        // is armed.
        let _ = WIPED
            .fast
            .compare_exchange(self.ctx, 0, Ordering::Relaxed, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
    }

    /// Whether the io_uring backend serves this context.
    #[inline(always)]
    pub fn is_uring(&self) -> bool {
        // Relaxed: recorded before the context was published (find's
        // Acquire); `protect` reads it again.
        !self.entry.uring.load(Ordering::Relaxed).is_null()
    }

    /// Whether the table still holds this context.
    #[inline(always)]
    pub fn is_live(&self) -> bool {
        self.entry.ctx.load(Ordering::Acquire) == self.ctx
    }

    /// How many completions the ring holds now, read in a way that cannot
    /// outlive the ring's mapping.
    #[inline]
    pub fn peek(&self) -> Peek {
        if WIPED.mode.load(Ordering::Relaxed) == HAZARDS {
            if single_threaded() {
                // Relaxed: no other thread exists to destroy it meanwhile.
                if self.entry.ctx.load(Ordering::Relaxed) != self.ctx {
                    return Peek::Dead;
                }
                // SAFETY: live, and only this thread could destroy it.
                return unsafe { ring::peek(self.ctx) };
            }
            if let Some(_hazard) = my_slot().and_then(|slot| slot.publish(self.ctx)) {
                // Relaxed: ordered by the destroyer's membarrier (see the
                // module documentation).
                if self.entry.ctx.load(Ordering::Relaxed) != self.ctx {
                    return Peek::Dead;
                }
                // SAFETY: published before the check above, which found the
                // context live: its io_destroy waits for us.
                return unsafe { ring::peek(self.ctx) };
            }
        }
        self.peek_counted()
    }

    /// [`Live::peek`] the counted way.
    #[inline(never)]
    fn peek_counted(&self) -> Peek {
        // SeqCst, increment then check: see the module documentation.
        self.entry.readers.fetch_add(1, Ordering::SeqCst);
        let peek = if self.entry.ctx.load(Ordering::SeqCst) == self.ctx {
            // SAFETY: the entry holds ctx after our increment, so its
            // io_destroy (which clears the entry first) waits for our
            // decrement before the ring is unmapped.
            unsafe { ring::peek(self.ctx) }
        } else {
            Peek::Dead
        };
        // Release: the reads above happen before a destroyer sees 0.
        self.entry.readers.fetch_sub(1, Ordering::Release);
        peek
    }

    /// Keeps the context's io_destroy from unmapping its ring or its
    /// io_uring state until the guard is dropped, if the table still holds
    /// it (see the module documentation).
    #[inline]
    pub fn protect(&self) -> Option<Protected> {
        if WIPED.mode.load(Ordering::Relaxed) == HAZARDS {
            if single_threaded() {
                // Acquire: the io_uring state recorded with the context; no
                // other thread exists to destroy it meanwhile.
                if self.entry.ctx.load(Ordering::Acquire) != self.ctx {
                    return None;
                }
                return Some(Protected {
                    _hazard: None,
                    counted: None,
                    uring: self.entry.uring.load(Ordering::Relaxed),
                });
            }
            if let Some(hazard) = my_slot().and_then(|slot| slot.publish(self.ctx)) {
                // Acquire: the io_uring state recorded with the context (the
                // destroyer's membarrier orders the rest: see the module
                // documentation).
                if self.entry.ctx.load(Ordering::Acquire) != self.ctx {
                    return None;
                }
                return Some(Protected {
                    _hazard: Some(hazard),
                    counted: None,
                    uring: self.entry.uring.load(Ordering::Acquire),
                });
            }
        }
        self.protect_counted()
    }

    /// [`Live::protect`] the counted way.
    #[inline(never)]
    fn protect_counted(&self) -> Option<Protected> {
        // SeqCst, increment then check: see the module documentation.
        self.entry.readers.fetch_add(1, Ordering::SeqCst);
        let protected = Protected {
            _hazard: None,
            counted: Some(&self.entry.readers),
            uring: self.entry.uring.load(Ordering::SeqCst),
        };
        // The entry holds ctx after our increment, so its io_destroy (which
        // clears the entry first) waits for our decrement; otherwise the
        // guard's drop takes the increment back.
        (self.entry.ctx.load(Ordering::SeqCst) == self.ctx).then_some(protected)
    }

    /// User-space reaping: copies between `min` (at least one) and `max`
    /// completions straight out of the ring into `events`, if the ring holds
    /// at least `min` and no other reaper is in the way; returns how many,
    /// or None (then the caller goes to the kernel).
    ///
    /// # Safety
    ///
    /// `events` has room for `max` events (it need not be aligned).
    #[inline]
    pub unsafe fn take_in_user_space(
        &self,
        min: usize,
        max: usize,
        events: *mut io_event,
    ) -> Option<usize> {
        #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
        {
            use crate::rseq;
            let token = thread_token() | 1;
            let lease = lease(self.ctx);
            // Acquire: the previous reaper's work on the ring happened before.
            match lease.compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {}
                // A frame of this thread holds the lease: this is a signal
                // handler that interrupted it. Take it over; the signal
                // already restarted that frame's sequence, and its commit
                // will see the lease gone (ours is released to 0 below).
                Err(held) if held == token => {}
                Err(_) => return None,
            }
            let taken = match my_slot().and_then(|slot| slot.publish(self.ctx)) {
                // SAFETY: the caller's contract; the lease is ours, and the
                // ring is published as being read (the sequence checks the
                // table again, after the publication).
                Some(_hazard) => unsafe {
                    rseq::take(&self.entry.ctx, self.ctx, lease, token, min, max, events)
                },
                None => rseq::UNPROTECTED,
            };
            // Release: our reads of the ring happen before the next lease.
            let _ = lease.compare_exchange(token, 0, Ordering::Release, Ordering::Relaxed);
            (taken > 0).then_some(taken as usize)
        }
        #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
        {
            let _ = (min, max, events);
            None
        }
    }
}

/// Declares a thread about to reap the context at `ctx` in the kernel, in
/// user-space reaping mode: no user-space reaper may move the ring's head
/// while the kernel reads it. Waits while another thread copies completions
/// out of the ring (a few hundred nanoseconds, unless that thread is
/// preempted); takes over at once from the code this signal handler
/// interrupted, whose commit the signal made fail.
pub fn kernel_reaper(ctx: usize) -> KernelReaper {
    let lease = lease(ctx);
    let token = thread_token() | 1;
    let mut spins = 0u32;
    loop {
        // Relaxed: the compare-and-swaps below synchronise.
        let seen = lease.load(Ordering::Relaxed);
        let next = if seen & 1 == 0 {
            seen + 2
        } else if seen == token {
            2
        } else {
            pause(&mut spins);
            continue;
        };
        // Acquire: a user-space reaper's move of head happened before.
        if lease
            .compare_exchange_weak(seen, next, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return KernelReaper(lease);
        }
    }
}

/// A thread inside io_getevents(2) in user-space reaping mode; see
/// [`Live::kernel_reaper`].
pub struct KernelReaper(&'static AtomicUsize);

impl Drop for KernelReaper {
    fn drop(&mut self) {
        // Release: the kernel's move of head happened before the next lease.
        self.0.fetch_sub(2, Ordering::Release);
    }
}

/// A live context that its io_destroy cannot take away (its ring stays
/// mapped, its io_uring state too) until this is dropped; see
/// [`Live::protect`].
pub struct Protected {
    _hazard: Option<Hazard>,
    counted: Option<&'static AtomicUsize>,
    uring: *mut Uring,
}

impl Protected {
    /// The io_uring backend's state of the context, if the backend serves it.
    #[inline(always)]
    pub fn uring(&self) -> Option<&Uring> {
        // SAFETY: recorded with the context, which is live; its io_destroy
        // unmaps the state only after this guard is dropped.
        unsafe { self.uring.as_ref() }
    }

    /// The state's address (NULL for a kernel context), valid while the
    /// guard lives.
    #[inline(always)]
    pub fn uring_ptr(&self) -> *const Uring {
        self.uring
    }
}

impl Drop for Protected {
    fn drop(&mut self) {
        if let Some(readers) = self.counted {
            // Release: the reads happen before a destroyer sees 0.
            readers.fetch_sub(1, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user-space address high in the address space, on 64-bit and 32-bit
    /// targets alike: `top` (16 bits) in the upper half of the word
    /// (`high(0x7f00)` is 0x7f00_0000_0000 on 64-bit targets).
    const fn high(top: usize) -> usize {
        top << (usize::BITS / 2)
    }

    /// The tests below change the process-wide table.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn first_entry(ctx: usize) -> *const Entry {
        window(ctx).next().unwrap()
    }

    #[test]
    fn neighbouring_rings_get_distinct_entries() {
        for page in [4096usize, 16384, 65536] {
            let base = high(0x7f00) & !(page - 1);
            let entries: std::collections::HashSet<_> =
                (0..64).map(|i| first_entry(base - i * 2 * page)).collect();
            assert!(
                entries.len() >= 60,
                "page {page}: {} distinct entries of 64",
                entries.len()
            );
        }
    }

    #[test]
    fn colliding_contexts_are_all_found() {
        let _serial = SERIAL.lock().unwrap();
        let first = high(0x7ff0);
        let colliding: Vec<usize> = (1..)
            .map(|i| first + i * 4096)
            .filter(|&c| first_entry(c) == first_entry(first))
            .take(PROBES - 1)
            .collect();
        insert(first, core::ptr::null_mut());
        for &c in &colliding {
            insert(c, core::ptr::null_mut());
        }
        assert!(find(first).is_some() && colliding.iter().all(|&c| find(c).is_some()));
        // Removing one leaves a hole that lookups step over.
        remove(colliding[0]);
        assert!(find(colliding[0]).is_none() && find(colliding[1]).is_some());
        for &c in &colliding[1..] {
            remove(c);
        }
        remove(first);
        assert!(find(first).is_none());
    }

    #[test]
    fn null_and_unknown_addresses_are_not_live() {
        let _serial = SERIAL.lock().unwrap();
        assert!(find(0).is_none());
        assert!(find(usize::MAX).is_none());
        assert!(find(0x1000).is_none());
    }

    #[test]
    fn a_full_window_leaves_the_context_unknown() {
        let _serial = SERIAL.lock().unwrap();
        let first = high(0x7fe0);
        let colliding: Vec<usize> = (0..)
            .map(|i| first + i * 4096)
            .filter(|&c| first_entry(c) == first_entry(first))
            .take(PROBES + 1)
            .collect();
        for &c in &colliding {
            insert(c, core::ptr::null_mut());
        }
        let last = *colliding.last().unwrap();
        assert!(find(last).is_none());
        for &c in &colliding {
            remove(c);
        }
    }

    #[test]
    fn an_entry_being_filled_is_not_claimed() {
        let _serial = SERIAL.lock().unwrap();
        let ctx = high(0x7fd0);
        let entry = window(ctx).next().unwrap();
        let filling = entry.stash().start_filling().unwrap();
        insert(ctx, core::ptr::null_mut());
        let live = find(ctx).expect("claimed another entry of the window");
        assert!(!core::ptr::eq(live.entry, entry));
        drop(filling);
        remove(ctx);
    }

    #[test]
    fn kernel_reapers_register_and_take_over_their_own_threads_lease() {
        let _serial = SERIAL.lock().unwrap();
        let ctx = high(0x7fc0);
        let word = lease(ctx);
        let kernel = kernel_reaper(ctx);
        assert_eq!(word.load(Ordering::Relaxed), 2);
        let kernel2 = kernel_reaper(ctx);
        assert_eq!(word.load(Ordering::Relaxed), 4);
        drop((kernel, kernel2));
        assert_eq!(word.load(Ordering::Relaxed), 0);
        // This thread's own lease (as if a signal handler interrupted it).
        word.store(thread_token() | 1, Ordering::Relaxed);
        drop(kernel_reaper(ctx));
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_kernel_reaper_waits_for_another_threads_lease() {
        let _serial = SERIAL.lock().unwrap();
        let ctx = high(0x7fb0);
        let word = lease(ctx);
        word.store(0x1001, Ordering::Relaxed);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| drop(kernel_reaper(ctx)));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "did not wait for the lease");
            word.store(0, Ordering::Release);
        });
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn hazards_nest_and_are_withdrawn() {
        let slot = my_slot().expect("a slot");
        let threads = &WIPED.threads;
        let first = slot.publish(0x1000).unwrap();
        let second = slot.publish(0x2000).unwrap();
        let stack = &threads.stacks[slot.0];
        assert_eq!(threads.first[slot.0].load(Ordering::Relaxed), 0x1000);
        assert_eq!(stack.depth.load(Ordering::Relaxed), 1);
        assert_eq!(stack.reading[0].load(Ordering::Relaxed), 0x2000);
        drop(second);
        assert_eq!(stack.reading[0].load(Ordering::Relaxed), 0);
        drop(first);
        assert_eq!(threads.first[slot.0].load(Ordering::Relaxed), 0);
        assert_eq!(stack.depth.load(Ordering::Relaxed), 0);
        assert_eq!(my_slot().unwrap().0, slot.0);
        let deep: Vec<_> = (0..=DEPTH)
            .map(|i| slot.publish(0x1000 + i).unwrap())
            .collect();
        assert!(slot.publish(0x9000).is_none(), "deeper than DEPTH");
        drop(deep);
    }
}
