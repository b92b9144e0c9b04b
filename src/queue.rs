//! The io_queue_* helpers: a thin queue layer over a context, with
//! completion callbacks stored in each iocb's `data`.

use core::ffi::{c_long, c_void};
use core::mem::MaybeUninit;

use crate::abi::{io_callback_t, io_context_t, io_event};
use crate::events::getevents;
use crate::sys::SysResult;

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

/// How many completions io_queue_run reaps per io_getevents call.
const BATCH: usize = 32;

/// io_queue_run(): reaps the completions available now and calls each one's
/// callback as `cb(ctx, iocb, res, res2)`, in completion order. Returns 0
/// once the ring is empty, or the first error.
///
/// libaio reaps one completion per system call; this reaps up to [`BATCH`]
/// per call (none at all in user-space reaping mode while completions are
/// waiting), and stops without a call once the ring is empty. A completion
/// whose iocb has no callback (`data` is NULL, or an address in the kernel's
/// half) is consumed without a call; libaio would jump there and crash.
///
/// # Safety
///
/// The `data` of every iocb submitted on `ctx` is NULL or an
/// `io_callback_t` (set with `io_set_callback()`), callable with these
/// arguments. A callback must return: reaped completions not yet dispatched
/// would be lost if it jumped out (longjmp).
pub unsafe fn run(ctx: io_context_t) -> SysResult {
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut events = [const { MaybeUninit::<io_event>::uninit() }; BATCH];
    loop {
        // SAFETY: room for BATCH events; `zero` outlives the call.
        let count =
            unsafe { getevents(ctx, 0, BATCH as c_long, events[0].as_mut_ptr(), &mut zero) }?;
        if count <= 0 {
            return Ok(count);
        }
        for event in &events[..(count as usize).min(BATCH)] {
            // SAFETY: the first `count` events were filled in.
            let event = unsafe { event.assume_init_read() };
            // No function lives at NULL or in the kernel's half of the
            // address space: such a `data` is no callback.
            if !crate::sys::plausible_user_address(event.data as usize) {
                continue;
            }
            // SAFETY: the caller's contract: data is NULL or a callback, and
            // io_callback_t is an Option of a function pointer, NULL being
            // None.
            let callback =
                unsafe { core::mem::transmute::<*mut c_void, io_callback_t>(event.data) };
            if let Some(callback) = callback {
                // SAFETY: the caller's contract. res and res2 are converted
                // from unsigned long to long, as libaio passes them.
                unsafe { callback(ctx, event.obj, event.res as c_long, event.res2 as c_long) };
            }
        }
    }
}
