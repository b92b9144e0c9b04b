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
//! The table is a fixed array of atomic words indexed by a hash of the
//! address, one context per slot; a context whose slot is taken simply stays
//! unknown. Lookups are a load and a compare. Only `io_setup()`,
//! `io_destroy()` and the fork handler write it, each with one atomic
//! operation on one slot, so no thread can corrupt what another registered.
//!
//! What the program must not do, as with any freed pointer: pass a ring's
//! old address after unmapping it itself (`munmap`, `mremap`, a raw
//! io_destroy system call), or destroy a context while another thread is still
//! calling io_getevents on it.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Number of slots: a power of two.
const SLOTS: usize = 256;

/// Each slot holds a live ring's address, or 0.
static LIVE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// Whether the fork handler that empties the table in a child is installed.
static FORK_HANDLER: AtomicU8 = AtomicU8::new(NOT_INSTALLED);
const NOT_INSTALLED: u8 = 0;
const INSTALLING: u8 = 1;
const INSTALLED: u8 = 2;
const FAILED: u8 = 3;

/// The slot for address `ctx`: Fibonacci hashing, so that rings a page or a
/// 64 KiB page apart land in different slots.
#[inline(always)]
fn slot(ctx: usize) -> &'static AtomicUsize {
    #[cfg(target_pointer_width = "64")]
    const GOLDEN: usize = 0x9e37_79b9_7f4a_7c15;
    #[cfg(target_pointer_width = "32")]
    const GOLDEN: usize = 0x9e37_79b9;
    let index = ctx.wrapping_mul(GOLDEN) >> (usize::BITS - SLOTS.trailing_zeros());
    &LIVE[index]
}

/// Whether `ctx` is a ring this process created through this library and has
/// not destroyed through it.
#[inline(always)]
pub fn is_live(ctx: usize) -> bool {
    ctx != 0 && slot(ctx).load(Ordering::Acquire) == ctx
}

/// Records `ctx`, just returned by io_setup(2), as live. Does nothing when
/// its slot is taken or the fork handler could not be installed.
pub fn insert(ctx: usize) {
    if ctx == 0 || !fork_handler_installed() {
        return;
    }
    let slot = slot(ctx);
    // An entry equal to ctx can only be stale (a ring destroyed behind the
    // library's back whose address the kernel has now reused): keep it.
    let _ = slot.compare_exchange(0, ctx, Ordering::AcqRel, Ordering::Relaxed);
}

/// Forgets `ctx`, about to be destroyed.
pub fn remove(ctx: usize) {
    if ctx != 0 {
        let _ = slot(ctx).compare_exchange(ctx, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// Empties the table: run in the child after fork(), where no context of the
/// parent is valid.
extern "C" fn forget_all() {
    for slot in &LIVE {
        slot.store(0, Ordering::Relaxed);
    }
}

/// Installs the fork handler once per process; true when it is in place.
fn fork_handler_installed() -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_rings_get_distinct_slots() {
        for page in [4096usize, 16384, 65536] {
            let base = 0x7f00_0000_0000usize & !(page - 1);
            let slots: std::collections::HashSet<_> = (0..64)
                .map(|i| slot(base - i * 2 * page) as *const AtomicUsize)
                .collect();
            assert!(
                slots.len() >= 60,
                "page {page}: {} distinct slots of 64",
                slots.len()
            );
        }
    }

    #[test]
    fn null_and_unknown_addresses_are_not_live() {
        assert!(!is_live(0));
        assert!(!is_live(usize::MAX));
        assert!(!is_live(0x1000));
    }

    #[test]
    fn insert_then_remove() {
        let ctx = 0x7ff1_2345_6000;
        insert(ctx);
        assert!(is_live(ctx));
        remove(ctx);
        assert!(!is_live(ctx));
        insert(0);
        assert!(!is_live(0));
    }

    #[test]
    fn a_taken_slot_is_not_overwritten() {
        let first = 0x7ff0_0000_0000usize;
        // Find another address with the same slot.
        let second = (1..)
            .map(|i| first + i * 4096)
            .find(|&c| core::ptr::eq(slot(c), slot(first)))
            .unwrap();
        insert(first);
        insert(second);
        assert!(is_live(first) && !is_live(second));
        remove(second);
        assert!(is_live(first));
        remove(first);
    }
}
