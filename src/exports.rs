//! Every function libaio.so.1 exports, with libaio 0.3.113's C ABI.
//!
//! Each one converts its result to libaio's convention: the non-negative
//! result, or a negated errno (`-EINVAL`, ...). None of them changes `errno`.
//!
//! The functions carry their plain C names here. The symbol versions
//! (`io_getevents@@LIBAIO_0.4`, the compat `io_getevents@LIBAIO_0.1`, ...)
//! are applied when the shared object is linked, from `src/symbols.txt`; the
//! three compat implementations have internal names listed there.
//!
//! # Safety
//!
//! The C callers' contracts are those of libaio.h, restated on each function.
//! Wherever libaio itself would dereference a bad argument and crash, this
//! library either answers an error (bad or stale contexts, NULL handles) or,
//! where it must read the caller's memory just as libaio does (a timeout, the
//! callbacks of `io_queue_run`), says so under "Safety".

use core::ffi::{c_int, c_long};
use core::mem::MaybeUninit;

use crate::abi::{io_context_t, io_event, iocb};
use crate::sys::SysResult;
use crate::{backend, context, events, queue, sys};

/// Converts a result to libaio's return convention.
#[inline(always)]
fn to_c(result: SysResult) -> c_int {
    match result {
        Ok(value) => value,
        Err(errno) => errno.negated(),
    }
}

/// Creates an AIO context for `maxevents` requests and stores it in `*ctxp`.
///
/// `*ctxp` must be 0 on entry.
///
/// # Returns
///
/// 0 on success; `-EINVAL` if `maxevents` is not positive or `*ctxp` is not
/// 0; `-EFAULT` if `ctxp` is not a valid address; `-EAGAIN` if the request
/// would exceed `/proc/sys/fs/aio-max-nr`; `-ENOMEM`.
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns.
///
/// # References
///
/// io_setup(2)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_setup(maxevents: c_int, ctxp: *mut io_context_t) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::setup_any(maxevents, ctxp) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { context::setup(maxevents, ctxp) })
}

/// Destroys a context: cancels or waits for its requests, then frees it.
///
/// The ring is unmapped; `ctx` must not be used again.
///
/// # Returns
///
/// 0 on success; `-EINVAL` if `ctx` is not a live context of this process.
///
/// # Safety
///
/// No other thread may be using `ctx`.
///
/// # References
///
/// io_destroy(2)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_destroy(ctx: io_context_t) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::destroy_any(ctx) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { context::destroy(ctx) })
}

/// Queues the `nr` requests in `iocbs` on the context.
///
/// # Returns
///
/// The number of requests queued, which may be fewer than `nr`; or, when the
/// first one cannot be queued, its error: `-EINVAL` (bad context, negative
/// `nr`, bad request), `-EFAULT`, `-EBADF`, `-EAGAIN` (no room), ...
///
/// # Safety
///
/// `iocbs` holds `nr` pointers to iocbs that stay valid, with their
/// buffers, until their completions are reaped.
///
/// # References
///
/// io_submit(2)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_submit(ctx: io_context_t, nr: c_long, iocbs: *mut *mut iocb) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::submit_any(ctx, nr, iocbs) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { sys::io_submit(ctx, nr, iocbs) })
}

/// Asks the kernel to cancel a queued request.
///
/// # Returns
///
/// `-EINPROGRESS` when the cancellation started (the completion then arrives
/// in the ring, `result` is not written); `-EINVAL` if `iocb` is not queued
/// on `ctx` or `ctx` is bad; `-EFAULT` if `iocb` cannot be read.
///
/// # Safety
///
/// `result` is NULL or has room for one event.
///
/// # References
///
/// io_cancel(2)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_cancel(
    ctx: io_context_t,
    iocb: *mut iocb,
    result: *mut io_event,
) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::cancel_any(ctx, iocb, result) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { sys::io_cancel(ctx, iocb, result) })
}

/// Reaps between `min_nr` and `nr` completions into `events`, waiting up to `timeout`.
///
/// A NULL `timeout` waits without limit. The timeout is only read, never
/// updated.
///
/// With a timeout of exactly zero and no completion in the ring, returns 0
/// without a system call, as libaio does (only for a context this library
/// created, so a bad context always gets the kernel's `-EINVAL`).
///
/// # Returns
///
/// The number of events stored; `-EINVAL` (bad context, `min_nr > nr`,
/// `nr < 0`), `-EFAULT`, `-EINTR` (a signal arrived while waiting).
///
/// # Safety
///
/// `events` has room for `nr` events; `timeout` is NULL or readable (it is
/// read when `ctx` is a live context, as in libaio).
///
/// # References
///
/// io_getevents(2)
///
/// cbindgen:postfix=__LIBAIO_TIME64_NAME(io_getevents_time64)
#[unsafe(no_mangle)]
// On x86_64 the exported name belongs to the entry point in `fast`.
#[cfg_attr(
    all(target_arch = "x86_64", target_pointer_width = "64"),
    unsafe(export_name = "__libaio_io_getevents_body"),
    allow(unused_attributes)
)]
pub unsafe extern "C" fn io_getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { events::getevents(ctx, min_nr, nr, events, timeout) })
}

/// io_getevents() with the signal mask `*sigmask` in place while it waits.
///
/// A NULL `sigmask` leaves the mask as it is. This is to io_getevents what
/// pselect(2) is to select(2).
///
/// # Returns
///
/// As for [`io_getevents`]; `-EINTR` when a signal the mask lets through
/// arrives.
///
/// # Safety
///
/// As for [`io_getevents`]; `sigmask` is NULL or readable by the kernel.
///
/// # References
///
/// io_pgetevents(2)
///
/// cbindgen:postfix=__LIBAIO_TIME64_NAME(io_pgetevents_time64)
#[unsafe(no_mangle)]
// On x86_64 the exported name belongs to the entry point in `fast`.
#[cfg_attr(
    all(target_arch = "x86_64", target_pointer_width = "64"),
    unsafe(export_name = "__libaio_io_pgetevents_body"),
    allow(unused_attributes)
)]
pub unsafe extern "C" fn io_pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { events::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) })
}

/// Sets `*ctxp` to 0, then calls `io_setup(maxevents, ctxp)`.
///
/// # Returns
///
/// As for [`io_setup`]; `-EINVAL` without a system call if `maxevents` is not
/// positive; `-EFAULT` if `ctxp` is NULL or a kernel address (libaio crashes).
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns.
///
/// # References
///
/// io_queue_init(3)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_queue_init(maxevents: c_int, ctxp: *mut io_context_t) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::queue_init_any(maxevents, ctxp) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { context::queue_init::<false>(maxevents, ctxp) })
}

/// Destroys the context: the same as [`io_destroy`].
///
/// # Safety
///
/// As for [`io_destroy`].
///
/// # References
///
/// io_queue_release(3)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_queue_release(ctx: io_context_t) -> c_int {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return to_c(unsafe { context::destroy_any(ctx) });
    }
    // SAFETY: the caller's contract.
    to_c(unsafe { context::destroy(ctx) })
}

/// Calls the callback of every completion available now, in completion order.
///
/// Each is called as `cb(ctx, iocb, res, res2)`.
///
/// # Returns
///
/// 0 once no completion is left (not a count); or the first negated errno
/// of io_getevents, e.g. `-EINVAL` for a bad context.
///
/// # Safety
///
/// The `data` of every iocb completing on `ctx` is NULL (the completion is
/// then consumed without a call; libaio crashes) or an `io_callback_t` set
/// with `io_set_callback()`.
///
/// # References
///
/// io_queue_run(3)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_queue_run(ctx: io_context_t) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { queue::run(ctx) })
}

/// Calls `io_getevents(ctx, 0, 0, NULL, timeout)`, which returns at once.
///
/// Kept because libaio exports it; it waits for nothing.
///
/// # Returns
///
/// 0, or `-EINVAL` for a bad context, `-EFAULT` for a bad timeout (rarely
/// `-EINTR`, when the kernel finds a signal pending).
///
/// # Safety
///
/// `timeout` is NULL or readable.
///
/// cbindgen:postfix=__LIBAIO_TIME32_ONLY
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_queue_wait(ctx: io_context_t, timeout: *mut libc::timespec) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { queue::wait(ctx, timeout) })
}

/// `io_cancel@LIBAIO_0.1(ctx, iocb)`: the two-argument io_cancel of libaio
/// before 0.4; the event the kernel may return is discarded.
///
/// # Safety
///
/// None beyond [`io_cancel`]'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libaio_io_cancel_0_1(ctx: io_context_t, iocb: *mut iocb) -> c_int {
    let mut discarded = MaybeUninit::<io_event>::uninit();
    if backend::uring_wanted() {
        // SAFETY: room for the one event the kernel may write.
        return to_c(unsafe { context::cancel_any(ctx, iocb, discarded.as_mut_ptr()) });
    }
    // SAFETY: room for the one event the kernel may write.
    to_c(unsafe { sys::io_cancel(ctx, iocb, discarded.as_mut_ptr()) })
}

/// `io_getevents@LIBAIO_0.1(ctx, nr, events, timeout)`: io_getevents before
/// 0.4, without `min_nr`: it waits for at least one event.
///
/// # Safety
///
/// As for [`io_getevents`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libaio_io_getevents_0_1(
    ctx: io_context_t,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { events::getevents(ctx, 1, nr, events, timeout) })
}

/// `io_queue_wait@LIBAIO_0.1(ctx, timeout)`: the same as [`io_queue_wait`].
///
/// # Safety
///
/// As for [`io_queue_wait`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __libaio_io_queue_wait_0_1(
    ctx: io_context_t,
    timeout: *mut libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { queue::wait(ctx, timeout) })
}

/// `io_getevents_time64@@LIBAIO_0.6` (libaio.so.1t64, 32-bit targets):
/// io_getevents for programs with a 64-bit `time_t` (`_TIME_BITS=64`), whose
/// header redirects `io_getevents` here.
///
/// # Safety
///
/// As for [`io_getevents`].
#[cfg(target_pointer_width = "32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_getevents_time64(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut crate::time64::Timespec64,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { crate::time64::getevents(ctx, min_nr, nr, events, timeout) })
}

/// `io_pgetevents_time64@@LIBAIO_0.6` (libaio.so.1t64, 32-bit targets):
/// io_pgetevents for programs with a 64-bit `time_t`.
///
/// # Safety
///
/// As for [`io_pgetevents`].
#[cfg(target_pointer_width = "32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn io_pgetevents_time64(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut crate::time64::Timespec64,
    sigmask: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    to_c(unsafe { crate::time64::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) })
}
