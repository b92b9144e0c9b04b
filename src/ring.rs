//! The kernel's completion ring, as mapped into the process by io_setup(2).
//!
//! An `io_context_t` is the address of this ring. The kernel appends
//! completions at `tail`; whoever reaps them (the kernel in io_getevents(2),
//! or a program reading the ring itself, as QEMU and fio can) advances `head`.
//! Both indexes count in events, modulo `nr`.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::io_context_t;
use crate::registry;

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

/// A ring this process created through this library and has not destroyed:
/// safe to read.
#[derive(Clone, Copy)]
pub struct Ring(*const AioRing);

impl Ring {
    /// The ring behind `ctx`, if the library knows it to be live.
    #[inline(always)]
    pub fn live(ctx: io_context_t) -> Option<Ring> {
        registry::is_live(ctx as usize).then_some(Ring(ctx as *const AioRing))
    }

    /// The header field at byte `offset`, read atomically: the kernel writes
    /// `tail`, and other reapers write `head`, while we read.
    #[inline(always)]
    fn field(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: Ring::live only hands out mapped, page-aligned kernel rings
        // (see the registry); `offset` is that of a u32 field of the header,
        // so the pointer is in bounds and 4-byte aligned, and those fields
        // are only ever accessed atomically or by the kernel.
        unsafe { AtomicU32::from_ptr(self.0.wrapping_byte_add(offset).cast::<u32>().cast_mut()) }
    }

    /// True when the ring is in the kernel's format and holds no completion:
    /// libaio's test for answering a zero-timeout io_getevents with 0.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        let magic = self
            .field(offset_of!(AioRing, magic))
            .load(Ordering::Relaxed);
        let head = self
            .field(offset_of!(AioRing, head))
            .load(Ordering::Relaxed);
        let tail = self
            .field(offset_of!(AioRing, tail))
            .load(Ordering::Relaxed);
        magic == AIO_RING_MAGIC && head == tail
    }
}
