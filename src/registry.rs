//! The contexts this process created through this library and has not
//! destroyed: the only rings the library ever reads.
//!
//! `io_getevents()` may answer without a system call when the ring is empty,
//! which means reading the ring through the caller's `io_context_t`. libaio
//! reads through whatever pointer it is given and crashes on a stale or bogus
//! one; this library first checks that the pointer is a ring it saw
//! `io_setup()` create in this process and has not seen destroyed. A pointer
//! it does not know goes to the kernel, which answers for it (`EINVAL` for a
//! bad context, the right events for a good one), so what the table holds can
//! cost a system call but never change a result:
//!
//! - a ring moved with `mremap()` is not known at its new address, and is
//!   served by the kernel there;
//! - after `fork()` the child starts with an empty table (the kernel gives
//!   the child no contexts), so the child's calls get the kernel's `EINVAL`;
//! - a context created elsewhere (raw system call, another copy of libaio) is
//!   served by the kernel.
//!
//! The table is a fixed array of entries indexed by a hash of the address,
//! one context per entry; a context whose entry is taken stays unknown to the
//! table. In front of it, the most recently created live context is kept in
//! one word, so that the common case of a program with one context costs a
//! single compare: that word never holds 0, but a dummy ring header of our
//! own whose magic number is wrong, so any pointer equal to it is safe to read
//! and fails the ring checks.
//!
//! Only `io_setup()`, `io_destroy()` and the fork handler change which
//! contexts are known, each with one atomic operation per word, so no thread
//! can corrupt what another registered. Each entry also carries the lock that
//! keeps user-space reaping (see `events`) and kernel reaping of the same
//! context apart.
//!
//! What the program must not do, as with any freed pointer: pass a ring's
//! old address after unmapping it itself (`munmap`, `mremap`, a raw
//! io_destroy system call), or destroy a context while another thread is still
//! calling io_getevents on it.

use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering};

/// Number of entries: a power of two.
const ENTRIES: usize = 1024;

/// How many consecutive entries, from the one its address hashes to, may
/// hold a context. Lookups of unknown addresses read them all.
const PROBES: usize = 16;

/// A live context and its reapers' lock.
#[repr(C)]
pub struct Entry {
    /// The ring's address, or 0.
    ctx: AtomicUsize,
    /// [`REAPING_IN_USER_SPACE`] while a thread copies completions out of the
    /// ring, plus the number of threads inside io_getevents(2) on it.
    reapers: AtomicU32,
}

/// Set in `Entry::reapers` while one thread reaps from the ring itself.
const REAPING_IN_USER_SPACE: u32 = 1 << 31;

static TABLE: [Entry; ENTRIES] = [const {
    Entry {
        ctx: AtomicUsize::new(0),
        reapers: AtomicU32::new(0),
    }
}; ENTRIES];

/// A ring header whose magic number is 0: where [`RECENT`] points when no
/// context is live. Reading it is safe and every ring check fails on it.
static NO_RING: [u32; 8] = [0; 8];

/// The most recently created context still live, or [`NO_RING`]. (The
/// x86_64 entry points in `fast` compare it with the handle themselves.)
pub(crate) static RECENT: AtomicPtr<u32> =
    AtomicPtr::new((&raw const NO_RING).cast::<u32>().cast_mut());

fn no_ring() -> *mut u32 {
    (&raw const NO_RING).cast::<u32>().cast_mut()
}

/// Whether the fork handler that empties the table in a child is installed.
static FORK_HANDLER: AtomicU8 = AtomicU8::new(NOT_INSTALLED);
const NOT_INSTALLED: u8 = 0;
const INSTALLING: u8 = 1;
const INSTALLED: u8 = 2;
const FAILED: u8 = 3;

/// The entries where `ctx` may be: from the one it hashes to (Fibonacci
/// hashing, so that rings a page or a 64 KiB page apart land apart), the
/// next [`PROBES`], wrapping around.
#[inline(always)]
fn entries_for(ctx: usize) -> impl Iterator<Item = &'static Entry> {
    #[cfg(target_pointer_width = "64")]
    const GOLDEN: usize = 0x9e37_79b9_7f4a_7c15;
    #[cfg(target_pointer_width = "32")]
    const GOLDEN: usize = 0x9e37_79b9;
    let first = ctx.wrapping_mul(GOLDEN) >> (usize::BITS - ENTRIES.trailing_zeros());
    (first..first + PROBES).map(|i| &TABLE[i & (ENTRIES - 1)])
}

/// The table's entry for `ctx`, if `ctx` is a live context it holds. The
/// entry `ctx` hashes to is tried inline; the rest of its window out of line.
#[inline(always)]
pub fn find(ctx: usize) -> Option<&'static Entry> {
    let first = entries_for(ctx).next()?;
    if ctx != 0 && first.ctx.load(Ordering::Acquire) == ctx {
        return Some(first);
    }
    find_further(ctx)
}

/// [`find`] past the first entry of the window.
#[inline(never)]
fn find_further(ctx: usize) -> Option<&'static Entry> {
    if ctx == 0 {
        return None;
    }
    entries_for(ctx)
        .skip(1)
        .find(|entry| entry.ctx.load(Ordering::Acquire) == ctx)
}

/// Whether reading the ring header at `ctx` is safe: `ctx` is a ring this
/// process created through this library and has not destroyed through it, or
/// the library's own ring-shaped dummy (whose magic number is wrong).
#[inline(always)]
pub fn is_readable_ring(ctx: usize) -> bool {
    is_recent(ctx) || find(ctx).is_some()
}

/// Whether `ctx` is the most recently created live context (or the dummy):
/// the one-compare form of [`is_readable_ring`], for the hottest path.
#[inline(always)]
pub fn is_recent(ctx: usize) -> bool {
    ctx == RECENT.load(Ordering::Acquire) as usize
}

/// Records `ctx`, just returned by io_setup(2), as live, in the first free
/// entry of its window; if there is none, ctx stays unknown to the table (its
/// calls go to the kernel) unless it is the most recent. Does nothing when the
/// fork handler could not be installed.
#[inline]
pub fn insert(ctx: usize) {
    if ctx == 0 || !fork_handler_installed() {
        return;
    }
    for entry in entries_for(ctx) {
        if entry.ctx.load(Ordering::Relaxed) == 0
            && entry
                .ctx
                .compare_exchange(0, ctx, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            break;
        }
    }
    RECENT.store(core::ptr::without_provenance_mut(ctx), Ordering::Release);
}

/// Forgets `ctx`, about to be destroyed.
///
/// Only the first entry holding ctx is cleared: a second one can only exist
/// if a ring was destroyed behind the library's back and its address reused
/// by a new one, and [`find`] never sees past the first.
#[inline]
pub fn remove(ctx: usize) {
    if ctx == 0 {
        return;
    }
    let recent = core::ptr::without_provenance_mut(ctx);
    if RECENT.load(Ordering::Relaxed) == recent {
        let _ = RECENT.compare_exchange(recent, no_ring(), Ordering::AcqRel, Ordering::Relaxed);
    }
    if let Some(entry) = find(ctx) {
        let _ = entry
            .ctx
            .compare_exchange(ctx, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// Empties the table: run in the child after fork(), where no context of the
/// parent is valid (and no other thread exists to hold a reaper's lock).
extern "C" fn forget_all() {
    RECENT.store(no_ring(), Ordering::Relaxed);
    for entry in &TABLE {
        entry.ctx.store(0, Ordering::Relaxed);
        entry.reapers.store(0, Ordering::Relaxed);
    }
}

/// Installs the fork handler once per process; true when it is in place.
#[inline(always)]
fn fork_handler_installed() -> bool {
    if FORK_HANDLER.load(Ordering::Acquire) == INSTALLED {
        return true;
    }
    install_fork_handler()
}

/// The first io_setup of the process installs the fork handler.
#[cold]
#[inline(never)]
fn install_fork_handler() -> bool {
    loop {
        match FORK_HANDLER.compare_exchange(
            NOT_INSTALLED,
            INSTALLING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: pthread_atfork only records the handler; forget_all
                // is async-signal-safe (plain atomic stores), as a handler run
                // in a child of a multi-threaded process must be.
                let ok = unsafe { libc::pthread_atfork(None, None, Some(forget_all)) } == 0;
                let state = if ok { INSTALLED } else { FAILED };
                FORK_HANDLER.store(state, Ordering::Release);
                return ok;
            }
            Err(INSTALLED) => return true,
            Err(FAILED) => return false,
            // Another thread is installing it: wait the few instructions.
            Err(_) => core::hint::spin_loop(),
        }
    }
}

impl Entry {
    /// Takes the right to copy completions out of the ring, if no other
    /// thread of this library is reaping the context, in user space or in
    /// the kernel. Released when the guard drops.
    #[inline]
    pub fn reap_in_user_space(&self) -> Option<UserReaper<'_>> {
        self.reapers
            .compare_exchange(
                0,
                REAPING_IN_USER_SPACE,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| UserReaper(self))
    }

    /// Declares a thread about to reap the context in the kernel (which
    /// serialises its own reapers), waiting while a thread copies completions
    /// out of the ring: the kernel would read the ring's head meanwhile.
    pub fn reap_in_kernel(&self) -> KernelReaper<'_> {
        let mut spins = 0u32;
        let mut state = self.reapers.load(Ordering::Relaxed);
        loop {
            if state & REAPING_IN_USER_SPACE != 0 {
                // The copy takes a few hundred nanoseconds; if its thread was
                // preempted, let it run.
                spins += 1;
                if spins > 100 {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                } else {
                    core::hint::spin_loop();
                }
                state = self.reapers.load(Ordering::Relaxed);
                continue;
            }
            match self.reapers.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return KernelReaper(self),
                Err(now) => state = now,
            }
        }
    }
}

/// The right to reap a context in user space; see [`Entry::reap_in_user_space`].
pub struct UserReaper<'a>(&'a Entry);

impl Drop for UserReaper<'_> {
    fn drop(&mut self) {
        // While the flag is set no kernel reaper can register (they wait),
        // so the word holds exactly the flag: a plain store releases it.
        self.0.reapers.store(0, Ordering::Release);
    }
}

/// A thread inside io_getevents(2); see [`Entry::reap_in_kernel`].
pub struct KernelReaper<'a>(&'a Entry);

impl Drop for KernelReaper<'_> {
    fn drop(&mut self) {
        self.0.reapers.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests below change the process-wide table.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn first_entry(ctx: usize) -> *const Entry {
        entries_for(ctx).next().unwrap()
    }

    #[test]
    fn neighbouring_rings_get_distinct_entries() {
        for page in [4096usize, 16384, 65536] {
            let base = 0x7f00_0000_0000usize & !(page - 1);
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
        let first = 0x7ff0_0000_0000usize;
        let colliding: Vec<usize> = (1..)
            .map(|i| first + i * 4096)
            .filter(|&c| first_entry(c) == first_entry(first))
            .take(PROBES - 1)
            .collect();
        insert(first);
        for &c in &colliding {
            insert(c);
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
        assert!(find(0).is_none() && !is_readable_ring(0));
        assert!(!is_readable_ring(usize::MAX));
        assert!(!is_readable_ring(0x1000));
        // The dummy is readable, but is not a context.
        assert!(find(no_ring() as usize).is_none());
    }

    #[test]
    fn insert_then_remove() {
        let _serial = SERIAL.lock().unwrap();
        let ctx = 0x7ff1_2345_6000;
        insert(ctx);
        assert!(is_readable_ring(ctx) && find(ctx).is_some());
        remove(ctx);
        assert!(!is_readable_ring(ctx) && find(ctx).is_none());
        insert(0);
        assert!(!is_readable_ring(0));
    }

    #[test]
    fn a_full_window_leaves_the_newest_context_known_through_recent() {
        let _serial = SERIAL.lock().unwrap();
        let first = 0x7fe0_0000_0000usize;
        let colliding: Vec<usize> = (0..)
            .map(|i| first + i * 4096)
            .filter(|&c| first_entry(c) == first_entry(first))
            .take(PROBES + 1)
            .collect();
        for &c in &colliding {
            insert(c);
        }
        let last = *colliding.last().unwrap();
        assert!(find(last).is_none() && is_readable_ring(last));
        for &c in &colliding {
            remove(c);
        }
        assert!(!is_readable_ring(last));
    }

    #[test]
    fn user_and_kernel_reapers_exclude_each_other() {
        let _serial = SERIAL.lock().unwrap();
        let entry = &TABLE[ENTRIES - 1];
        let user = entry.reap_in_user_space().expect("free");
        assert!(entry.reap_in_user_space().is_none());
        drop(user);
        let kernel = entry.reap_in_kernel();
        let kernel2 = entry.reap_in_kernel();
        assert!(entry.reap_in_user_space().is_none());
        drop((kernel, kernel2));
        assert!(entry.reap_in_user_space().is_some());
        assert_eq!(entry.reapers.load(Ordering::Relaxed), 0);
    }
}
