//! Reaping completions: io_getevents and io_pgetevents.
//!
//! Both answer 0 without a system call when asked not to wait (a timeout of
//! exactly zero) and the ring holds no completion, as libaio does; in every
//! other case they make the call. The ring is only read when the registry
//! knows the context to be live, so a bad or stale context always reaches the
//! kernel, which answers `EINVAL`.

use core::ffi::{c_long, c_ulong, c_void};

use crate::abi::{io_context_t, io_event, io_sigset};
use crate::ring::Ring;
use crate::sys::{self, SysResult};

/// Whether the call can be answered "no events" from the ring alone.
///
/// # Safety
///
/// `timeout` is NULL or readable; it is read only for a live context, the
/// only case in which libaio reads it too.
#[inline(always)]
unsafe fn nothing_to_reap(ctx: io_context_t, timeout: *const libc::timespec) -> bool {
    let Some(ring) = Ring::live(ctx) else {
        return false;
    };
    // SAFETY: the caller's contract.
    let zero = !timeout.is_null() && unsafe { (*timeout).tv_sec == 0 && (*timeout).tv_nsec == 0 };
    zero && ring.is_empty()
}

/// io_getevents(2), skipping the call when there is nothing to reap now.
///
/// # Safety
///
/// `events` has room for `nr` events (the kernel checks the address);
/// `timeout` is NULL or readable.
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: the caller's contract.
    if unsafe { nothing_to_reap(ctx, timeout) } {
        return Ok(0);
    }
    // SAFETY: the caller's contract.
    unsafe { sys::io_getevents(ctx, min_nr, nr, events, timeout) }
}

/// io_pgetevents(2), skipping the call when there is nothing to reap now.
///
/// The mask goes to the kernel as its `{ mask, _NSIG / 8 }` pair; a NULL mask
/// stays NULL (no change of mask).
///
/// # Safety
///
/// As for [`getevents`]; the kernel reads `sigmask` if it is not NULL.
pub unsafe fn pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    // SAFETY: the caller's contract.
    if unsafe { nothing_to_reap(ctx, timeout) } {
        return Ok(0);
    }
    let set = io_sigset {
        ss: sigmask as c_ulong,
        ss_len: sys::KERNEL_SIGSET_SIZE as c_ulong,
    };
    // SAFETY: the caller's contract; `set` outlives the call.
    let ret = unsafe {
        sys::io_pgetevents(
            ctx,
            min_nr,
            nr,
            events,
            timeout,
            (&raw const set).cast::<c_void>(),
        )
    };
    #[cfg(target_pointer_width = "32")]
    if ret == Err(sys::Errno::EINVAL) {
        // Some 64-bit kernels read a 32-bit caller's pair with 64-bit words:
        // ask again with the pointer widened, as Debian's libaio does.
        let wide = crate::abi::io_sigset_compat {
            __ss_pad: 0,
            ss: set.ss,
            ss_len: set.ss_len,
        };
        // SAFETY: as above.
        return unsafe {
            sys::io_pgetevents(
                ctx,
                min_nr,
                nr,
                events,
                timeout,
                (&raw const wide).cast::<c_void>(),
            )
        };
    }
    ret
}
