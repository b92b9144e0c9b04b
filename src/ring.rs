//! The kernel's completion ring, as mapped into the process by io_setup(2).
//!
//! An `io_context_t` is the address of this ring. The kernel appends
//! completions at `tail`; whoever reaps them (the kernel in io_getevents(2),
//! this library in user-space reaping mode, or a program reading the ring
//! itself, as QEMU and fio can) copies them out and then advances `head`.
//! Both indexes count events, modulo `nr`.
//!
//! This module only knows the layout. When a ring may be read, and how the
//! read is kept from outliving the mapping, is the registry's business.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

/// The ring's header (`struct aio_ring` in the kernel's fs/aio.c); the
/// `io_event` array follows it.
#[repr(C)]
pub struct AioRing {
    /// Unused by the kernel.
    pub id: u32,
    /// Number of events the ring holds.
    pub nr: u32,
    /// Next event to reap; written by reapers.
    pub head: u32,
    /// Next slot the kernel fills; written by the kernel.
    pub tail: u32,
    /// [`AIO_RING_MAGIC`] while the ring is in the kernel's format.
    pub magic: u32,
    /// 1: the ring may be read from user space.
    pub compat_features: u32,
    /// 0.
    pub incompat_features: u32,
    /// Size of this header: 32.
    pub header_length: u32,
}

const _: () = assert!(core::mem::size_of::<AioRing>() == 32);

/// The value of `magic` in a ring the kernel maintains.
pub(crate) const AIO_RING_MAGIC: u32 = 0xa10a_10a1;

/// What a look at a ring's header found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peek {
    /// The registry no longer holds the context (it is being destroyed): the
    /// ring was not read.
    Dead,
    /// The ring is not in the kernel's format: only the kernel can answer.
    NotKernel,
    /// The ring holds this many completions.
    Holds(u32),
}

/// The number of completions between `head` and `tail` of a ring of `nr`
/// events, or None if the indexes are out of range (a ring the kernel would
/// not accept either).
#[inline(always)]
pub fn waiting(nr: u32, head: u32, tail: u32) -> Option<u32> {
    if head >= nr || tail >= nr {
        return None;
    }
    Some(if tail >= head {
        tail - head
    } else {
        nr - head + tail
    })
}

/// Reads the header of the ring at `ctx`.
///
/// # Safety
///
/// The ring at `ctx` is mapped for the whole call (the registry's counted
/// mode guarantees it: see `registry`).
#[inline]
pub unsafe fn peek(ctx: usize) -> Peek {
    let field = |offset: usize| {
        // SAFETY: the caller's contract: the header is mapped; `offset` is
        // that of a u32 field, so in bounds and 4-byte aligned (rings are
        // page-aligned). The kernel writes `tail`, and other reapers `head`,
        // meanwhile: atomic reads.
        unsafe { AtomicU32::from_ptr(core::ptr::with_exposed_provenance_mut::<u32>(ctx + offset)) }
    };
    // Relaxed: only the count matters here; reapers that copy events use
    // the kernel or the rseq sections.
    if field(offset_of!(AioRing, magic)).load(Ordering::Relaxed) != AIO_RING_MAGIC {
        return Peek::NotKernel;
    }
    let nr = field(offset_of!(AioRing, nr)).load(Ordering::Relaxed);
    let head = field(offset_of!(AioRing, head)).load(Ordering::Relaxed);
    let tail = field(offset_of!(AioRing, tail)).load(Ordering::Relaxed);
    waiting(nr, head, tail).map_or(Peek::NotKernel, Peek::Holds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_counts_across_the_wrap() {
        assert_eq!(waiting(127, 0, 0), Some(0));
        assert_eq!(waiting(127, 5, 9), Some(4));
        assert_eq!(waiting(127, 120, 3), Some(10));
        assert_eq!(waiting(127, 127, 0), None);
        assert_eq!(waiting(127, 0, 200), None);
    }
}
