//! The io_queue_* helpers: a thin queue layer over a context, with
//! completion callbacks stored in each iocb's `data`.
//!
//! `io_queue_run` hands out completions one at a time, as libaio's does:
//! it takes one, calls its callback, and only then takes the next, looking
//! the context up again each time. What differs is where the next one comes
//! from: libaio makes an io_getevents system call per completion; this one
//! reaps up to [`CAPACITY`] per call into the context's stash (see `stash`,
//! which explains why no program can tell), or in user-space reaping mode
//! copies them from the ring one at a time, with no call at all. So a
//! callback may call io_getevents or io_queue_run on its context (it gets the
//! next completions, as under libaio), destroy it (no further callback runs
//! for it: the next look-up fails and the kernel's `EINVAL` is returned;
//! libaio reads the unmapped ring and crashes), destroy it and create
//! another at the same address (the loop goes on with the new context, as
//! libaio's does), or leave with longjmp (nothing is lost).

use core::ffi::{c_long, c_void};
use core::mem::MaybeUninit;

use crate::abi::{io_callback_t, io_context_t, io_event};
use crate::backend::{self, Backend};
use crate::events::{Call, getevents};
use crate::registry;
use crate::ring::Peek;
use crate::stash::CAPACITY;
use crate::sys::SysResult;
use crate::uring;

/// io_queue_wait(): io_getevents(ctx, 0, 0, NULL, timeout). With no room for
/// events the kernel returns at once, so this waits for nothing; it is kept
/// because libaio exports it.
///
/// # Safety
///
/// `timeout` is NULL or readable.
pub unsafe fn wait(ctx: io_context_t, timeout: *mut libc::timespec) -> SysResult {
    // SAFETY: no events are written (nr is 0); timeout is the caller's.
    unsafe { getevents(ctx, 0, 0, core::ptr::null_mut(), timeout) }
}

/// io_queue_run(): calls the callback of every completion available now, as
/// `cb(ctx, iocb, res, res2)`, in completion order. Returns 0 once none is
/// left, or the first error.
///
/// A completion whose iocb has no callback (`data` is NULL, or an address
/// in the kernel's half) is consumed without a call; libaio would jump there
/// and crash.
///
/// # Safety
///
/// The `data` of every iocb submitted on `ctx` is NULL or an
/// `io_callback_t` (set with `io_set_callback()`), callable with these
/// arguments.
#[inline(always)]
pub unsafe fn run(ctx: io_context_t) -> SysResult {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return unsafe { run_any(ctx) };
    }
    // Every context is the kernel's (see `backend`).
    // SAFETY: the caller's contract.
    unsafe { run_with::<false>(ctx) }
}

/// [`run`] in a process that asked for the io_uring backend: out of line,
/// so that none of the backend's code is the kernel path's.
///
/// # Safety
///
/// As for [`run`].
#[cold]
#[inline(never)]
unsafe fn run_any(ctx: io_context_t) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { run_with::<true>(ctx) }
}

/// [`run`], asking `backend` which backend serves the context before each
/// completion if `ANY`, or knowing it is the kernel's.
///
/// # Safety
///
/// As for [`run`].
#[inline(always)]
unsafe fn run_with<const ANY: bool>(ctx: io_context_t) -> SysResult {
    let mut batch = [const { MaybeUninit::<io_event>::uninit() }; CAPACITY];
    loop {
        // SAFETY: room for CAPACITY events.
        let count = unsafe { next::<ANY>(ctx, &mut batch) }?;
        if count <= 0 {
            return Ok(0);
        }
        for event in &batch[..(count as usize).min(CAPACITY)] {
            // SAFETY: next() filled in the first `count`.
            let event = unsafe { event.assume_init_read() };
            // SAFETY: the caller's contract.
            unsafe { dispatch(ctx, &event) };
        }
    }
}

/// Calls the callback of `event`, if it has one.
///
/// # Safety
///
/// As for [`run`].
unsafe fn dispatch(ctx: io_context_t, event: &io_event) {
    // No function lives at NULL or in the kernel's half of the address
    // space: such a `data` is no callback.
    if !crate::sys::plausible_user_address(event.data as usize) {
        return;
    }
    // SAFETY: the caller's contract: data is NULL or a callback, and
    // io_callback_t is an Option of a function pointer, NULL being None.
    let callback = unsafe { core::mem::transmute::<*mut c_void, io_callback_t>(event.data) };
    if let Some(callback) = callback {
        // SAFETY: the caller's contract. res and res2 are converted from
        // unsigned long to long, as libaio passes them.
        unsafe { callback(ctx, event.obj, event.res as c_long, event.res2 as c_long) };
    }
}

/// Takes the next completion of `ctx` into `batch[0]` and returns 1, or
/// returns 0 when none is waiting. Exceptionally returns more: when the
/// context was destroyed, or its address given to a new context, while this
/// thread was reaping a batch for its stash, the batch is returned whole,
/// to be dispatched at once (the kernel handed it to this call, as it would
/// have to libaio's). Without `ANY`, the context is known to be the
/// kernel's (see [`run_with`]).
///
/// # Safety
///
/// None beyond the caller's.
#[inline(always)]
unsafe fn next<const ANY: bool>(
    ctx: io_context_t,
    batch: &mut [MaybeUninit<io_event>; CAPACITY],
) -> SysResult {
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let first = batch[0].as_mut_ptr();
    loop {
        let found = if ANY {
            match backend::of(ctx) {
                Backend::Kernel(live) => live,
                // No system call to save: one at a time, straight from the
                // completion queue.
                Backend::Uring(served) => {
                    // SAFETY: room for one event.
                    return unsafe { uring::reap::take_one(served.uring(), first) };
                }
            }
        } else {
            registry::find(ctx as usize)
        };
        let Some(live) = found else {
            break;
        };
        // SAFETY: room for one event.
        if unsafe { live.stash().take(1, first) } == 1 {
            return Ok(1);
        }
        if registry::user_space_reaping() {
            // SAFETY: room for one event.
            if unsafe { live.take_in_user_space(1, 1, first) } == Some(1) {
                return Ok(1);
            }
        }
        // Reap a batch into the stash, unless another thread (or the frame
        // this signal handler interrupted) is doing so: then one at a time.
        let Some(filling) = live.stash().start_filling() else {
            break;
        };
        if !filling.stash_is_empty() || !live.is_live() {
            break;
        }
        if live.peek() == Peek::Holds(0) {
            return Ok(0); // libaio's answer without a system call
        }
        // SAFETY: room for CAPACITY events; `zero` outlives the call.
        let reaped =
            unsafe { Call::Getevents.make_for(&live, 0, CAPACITY as c_long, first, &mut zero) }?;
        let reaped = (reaped.max(0) as usize).min(CAPACITY);
        if reaped == 0 {
            return Ok(0);
        }
        if !live.is_live() {
            // Destroyed meanwhile, or replaced by a context at the same
            // address: what the kernel gave this call is this call's.
            return Ok(reaped as core::ffi::c_int);
        }
        live.disarm_fast();
        filling.put(&batch[..reaped]);
        drop(filling);
        // Take the first (another thread may take them all first: then look
        // again).
    }
    // SAFETY: room for one event; `zero` outlives the call.
    unsafe { getevents(ctx, 0, 1, first, &mut zero) }
}
