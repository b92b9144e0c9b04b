//! The kernel's completion ring, as mapped into the process by io_setup(2).
//!
//! An `io_context_t` is the address of this ring. The kernel appends
//! completions at `tail`; whoever reaps them (the kernel in io_getevents(2),
//! this library in user-space reaping mode, or a program reading the ring
//! itself, as QEMU and fio can) copies them out and then advances `head`.
//! Both indexes count events, modulo `nr`.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::{io_context_t, io_event};
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

/// A ring this process created through this library and has not destroyed
/// (or the registry's dummy header): safe to read.
#[derive(Clone, Copy)]
pub struct Ring(*const AioRing);

impl Ring {
    /// The ring behind `ctx`, if the library knows it to be safe to read.
    #[inline(always)]
    pub fn live(ctx: io_context_t) -> Option<Ring> {
        registry::is_readable_ring(ctx as usize).then_some(Ring(ctx as *const AioRing))
    }

    /// The ring behind `ctx`, if it is the most recently created live
    /// context: [`Ring::live`] with a single compare.
    #[inline(always)]
    pub fn recent(ctx: io_context_t) -> Option<Ring> {
        registry::is_recent(ctx as usize).then_some(Ring(ctx as *const AioRing))
    }

    /// The header field at byte `offset`, read atomically: the kernel writes
    /// `tail`, and other reapers write `head`, while we read.
    #[inline(always)]
    fn field(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: Ring::live only hands out mapped, page-aligned rings (see
        // the registry); `offset` is that of a u32 field of the header, so
        // the pointer is in bounds and 4-byte aligned, and those fields are
        // only ever accessed atomically or by the kernel.
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

    /// Copies up to `max` completions out of the ring into `events` and
    /// advances `head` past them, provided the ring already holds at least
    /// `min` (at least one); returns how many were copied, or `None` (the
    /// ring untouched) when it holds fewer or is not in the kernel's format.
    ///
    /// The caller must be the ring's only reaper meanwhile (see
    /// `registry::Entry`): the kernel never overwrites the events between
    /// `head` and `tail`, so they stay valid until `head` moves.
    ///
    /// # Safety
    ///
    /// `events` has room for `max` events.
    pub unsafe fn take(&self, min: usize, max: usize, events: *mut io_event) -> Option<usize> {
        if self
            .field(offset_of!(AioRing, magic))
            .load(Ordering::Relaxed)
            != AIO_RING_MAGIC
        {
            return None;
        }
        let nr = self.field(offset_of!(AioRing, nr)).load(Ordering::Relaxed) as usize;
        let head_field = self.field(offset_of!(AioRing, head));
        let head = head_field.load(Ordering::Relaxed) as usize;
        // Acquire: the events up to tail were written before tail.
        let tail = self
            .field(offset_of!(AioRing, tail))
            .load(Ordering::Acquire) as usize;
        if head >= nr || tail >= nr {
            return None; // not a ring the kernel would accept either
        }
        let available = if tail >= head {
            tail - head
        } else {
            nr - head + tail
        };
        if available < min.max(1) {
            return None;
        }
        let count = available.min(max);
        // The events follow the header; copy them in at most two runs, the
        // second one after wrapping to the start of the array.
        let first = count.min(nr - head);
        // SAFETY: the ring maps `nr` events after its 32-byte header, and
        // head + first <= nr; `events` has room for count >= first + second
        // events (the caller's contract); the two areas cannot overlap.
        unsafe {
            let array = self.0.add(1).cast::<io_event>();
            if count == 1 {
                // The common case (one completion per call) without a call
                // to memcpy.
                events.write(array.add(head).read());
            } else {
                core::ptr::copy_nonoverlapping(array.add(head), events, first);
                core::ptr::copy_nonoverlapping(array, events.add(first), count - first);
            }
        }
        // Release: the copies are done before the kernel may reuse the slots.
        head_field.store(((head + count) % nr) as u32, Ordering::Release);
        Some(count)
    }
}
