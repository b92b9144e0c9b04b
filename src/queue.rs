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
use crate::events::{Call, getevents};
use crate::registry;
use crate::ring::Peek;
use crate::stash::CAPACITY;
use crate::sys::{Errno, SysResult};

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
pub unsafe fn run(ctx: io_context_t) -> SysResult {
    loop {
        let mut event = MaybeUninit::<io_event>::uninit();
        // SAFETY: room for one event.
        if unsafe { next(ctx, event.as_mut_ptr()) }? == 0 {
            return Ok(0);
        }
        // SAFETY: next() filled it in.
        let event = unsafe { event.assume_init() };
        // No function lives at NULL or in the kernel's half of the address
        // space: such a `data` is no callback.
        if !crate::sys::plausible_user_address(event.data as usize) {
            continue;
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
}

/// Takes the next completion of `ctx` into `event`: 1, or 0 when none is
/// waiting.
///
/// # Safety
///
/// `event` has room for one event.
unsafe fn next(ctx: io_context_t, event: *mut io_event) -> SysResult {
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if let Some(live) = registry::find(ctx as usize) {
        // SAFETY: room for one event.
        if unsafe { live.stash().take(1, event) } == 1 {
            return Ok(1);
        }
        if registry::user_space_reaping() {
            // SAFETY: room for one event.
            if unsafe { live.take_in_user_space(1, 1, event) } == Some(1) {
                return Ok(1);
            }
        }
        // Reap a batch into the stash, unless another thread (or the frame
        // this signal handler interrupted) is doing so: then one at a time.
        if let Some(filling) = live.stash().start_filling() {
            if filling.stash_is_empty() && live.is_live() {
                if live.peek() == Peek::Holds(0) {
                    return Ok(0); // libaio's answer without a system call
                }
                let mut batch = [const { MaybeUninit::<io_event>::uninit() }; CAPACITY];
                // SAFETY: room for CAPACITY events; `zero` outlives the call.
                let reaped = unsafe {
                    Call::Getevents.make_for(
                        &live,
                        0,
                        CAPACITY as c_long,
                        batch[0].as_mut_ptr(),
                        &mut zero,
                    )
                }?;
                let reaped = (reaped.max(0) as usize).min(CAPACITY);
                filling.put(&batch[..reaped]);
                if !live.is_live() {
                    // Destroyed meanwhile: its completions go with it.
                    live.stash().clear();
                    return Err(Errno::EINVAL);
                }
                drop(filling);
                if reaped == 0 {
                    return Ok(0);
                }
                // SAFETY: room for one event.
                if unsafe { live.stash().take(1, event) } == 1 {
                    return Ok(1);
                }
            }
        }
    }
    // SAFETY: room for one event; `zero` outlives the call.
    unsafe { getevents(ctx, 0, 1, event, &mut zero) }
}
