//! Creating and destroying contexts, keeping the registry of live rings in
//! step with the kernel; and, in a process that asked for the io_uring
//! backend, the calls that only need to know which backend serves a context
//! (see `backend`): io_submit, io_cancel.

use core::ffi::{c_int, c_long};

use crate::abi::{io_context_t, io_event, iocb};
use crate::backend::{self, Backend};
use crate::registry;
use crate::sys::{self, Errno, SysResult};
use crate::uring;

/// io_setup(2) by kernel AIO, then records the new ring as live: all of
/// io_setup in a process that did not ask for the io_uring backend (see
/// `backend`).
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns; the kernel
/// checks it and answers `EFAULT` for a bad address.
#[inline(always)]
pub unsafe fn setup(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    // SAFETY: the caller's contract.
    let ret = unsafe { sys::io_setup(maxevents, ctxp) }?;
    // SAFETY: the kernel has just stored the context there, so the address
    // is mapped; the kernel accepts an unaligned handle, so read it as one.
    registry::insert(
        unsafe { ctxp.read_unaligned() } as usize,
        core::ptr::null_mut(),
    );
    Ok(ret)
}

/// io_setup in a process that asked for the io_uring backend: a context
/// io_uring serves if it can (`uring::setup`), kernel AIO's otherwise ([`setup`]).
/// Out of line, so that none of the backend's code is the kernel path's.
///
/// # Safety
///
/// As for [`setup`].
#[cold]
#[inline(never)]
pub unsafe fn setup_any(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    // SAFETY: the caller's contract.
    match unsafe { uring::setup(maxevents, ctxp) } {
        uring::Setup::Served(result) => result,
        // SAFETY: the caller's contract.
        uring::Setup::Declined => unsafe { setup(maxevents, ctxp) },
    }
}

/// io_queue_init(): io_setup on a cleared handle.
///
/// libaio clears `*ctxp`, then calls io_setup, and crashes on a bad `ctxp`.
/// This asks the kernel first, so that it checks the pointer (`EFAULT` for
/// unmapped or read-only memory or a kernel address, instead of a crash).
/// The kernel refuses a handle that is not 0 before doing anything else;
/// only then is the handle cleared (once the kernel has shown it can write
/// there) and the call repeated. The results are libaio's; the extra system
/// calls happen only when `*ctxp` was not 0. A NULL `ctxp` is `EFAULT`
/// without a call.
///
/// With `ANY`, each io_setup is [`setup_any`]'s, else [`setup`]'s.
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns.
#[inline(always)]
pub unsafe fn queue_init<const ANY: bool>(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    if maxevents <= 0 {
        return Err(Errno::EINVAL);
    }
    if !sys::plausible_user_address(ctxp as usize) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the caller's contract; the kernel checks the address.
    match unsafe { setup_with::<ANY>(maxevents, ctxp) } {
        Err(Errno::EINVAL) => {
            // SAFETY: the kernel read *ctxp before refusing (io_setup checks
            // the handle first), so it is readable; it is the caller's.
            if unsafe { ctxp.read_unaligned() }.is_null() {
                return Err(Errno::EINVAL);
            }
            // A read-only page would fault on the write: ask the kernel.
            // SAFETY: the handle is the caller's, about to be cleared.
            if !unsafe { sys::kernel_can_write(ctxp) } {
                return Err(Errno::EFAULT);
            }
            // SAFETY: as above, and writable.
            unsafe { ctxp.write_unaligned(core::ptr::null_mut()) };
            // SAFETY: as above.
            unsafe { setup_with::<ANY>(maxevents, ctxp) }
        }
        other => other,
    }
}

/// [`setup_any`] if `ANY`, else [`setup`].
///
/// # Safety
///
/// As for [`setup`].
#[inline(always)]
unsafe fn setup_with<const ANY: bool>(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    if ANY {
        // SAFETY: the caller's contract.
        unsafe { setup_any(maxevents, ctxp) }
    } else {
        // SAFETY: the caller's contract.
        unsafe { setup(maxevents, ctxp) }
    }
}

/// [`queue_init`] in a process that asked for the io_uring backend, out of
/// line (see [`setup_any`]).
///
/// # Safety
///
/// As for [`queue_init`].
#[cold]
#[inline(never)]
pub unsafe fn queue_init_any(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { queue_init::<true>(maxevents, ctxp) }
}

/// Forgets the ring (waiting until no thread of this library can still be
/// reading it), then io_destroy(2): all of io_destroy in a process that did
/// not ask for the io_uring backend (see `backend`). Other threads may be
/// inside any call on the context meanwhile: those that lose the race get
/// the kernel's `EINVAL`.
///
/// # Safety
///
/// None beyond the kernel's: it validates `ctx`.
#[inline(always)]
pub unsafe fn destroy(ctx: io_context_t) -> SysResult {
    registry::remove(ctx as usize);
    // SAFETY: the caller's contract; the kernel validates ctx.
    unsafe { sys::io_destroy(ctx) }
}

/// io_destroy in a process that asked for the io_uring backend: the
/// backend's destruction (`uring::destroy`) for a context it serves,
/// [`destroy`] otherwise. Out of line (see [`setup_any`]).
///
/// # Safety
///
/// As for [`destroy`].
#[cold]
#[inline(never)]
pub unsafe fn destroy_any(ctx: io_context_t) -> SysResult {
    if let Backend::Uring(served) = backend::of(ctx) {
        // SAFETY: the live context's state, protected by the guard given
        // along.
        return unsafe { uring::destroy(ctx as usize, served) };
    }
    // SAFETY: the caller's contract.
    unsafe { destroy(ctx) }
}

/// io_submit in a process that asked for the io_uring backend (without
/// it, io_submit is the system call alone): the backend's for a context it
/// serves, io_submit(2) otherwise. Out of line (see [`setup_any`]).
///
/// # Safety
///
/// `iocbs` holds `nr` pointers to iocbs that stay valid, with their
/// buffers, until their completions are reaped.
#[cold]
#[inline(never)]
pub unsafe fn submit_any(ctx: io_context_t, nr: c_long, iocbs: *mut *mut iocb) -> SysResult {
    match backend::of(ctx) {
        // SAFETY: the caller's contract.
        Backend::Uring(served) => unsafe { uring::submit::submit(served.uring(), nr, iocbs) },
        // SAFETY: the caller's contract.
        Backend::Kernel(_) => unsafe { sys::io_submit(ctx, nr, iocbs) },
    }
}

/// io_cancel in a process that asked for the io_uring backend (without it,
/// io_cancel is the system call alone), out of line (see [`submit_any`]).
///
/// # Safety
///
/// `result` is NULL or has room for one event.
#[cold]
#[inline(never)]
pub unsafe fn cancel_any(ctx: io_context_t, iocb: *mut iocb, result: *mut io_event) -> SysResult {
    match backend::of(ctx) {
        // SAFETY: the caller's contract.
        Backend::Uring(served) => unsafe { uring::reap::cancel(served.uring(), iocb) },
        // SAFETY: the caller's contract.
        Backend::Kernel(_) => unsafe { sys::io_cancel(ctx, iocb, result) },
    }
}
