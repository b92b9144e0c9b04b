//! The 64-bit-time entry points of libaio.so.1t64 on 32-bit targets.
//!
//! On a 32-bit target a program built with `_TIME_BITS=64` has a `struct
//! timespec` with a 64-bit `tv_sec`; Debian's libaio.so.1t64 gives it
//! `io_getevents_time64` and `io_pgetevents_time64` (the header redirects
//! the usual names to them), which convert the timeout to the 32-bit form
//! and use the usual system calls (Debian's build never issues the time64
//! ones). A timeout beyond the 32-bit range is clamped to it (68 years).
//!
//! x32 is a 32-bit target whose `time_t` is 64 bits wide already (and whose
//! `tv_nsec` is too): there `_TIME_BITS=64` changes nothing, the two
//! `struct timespec` are one, and the `_time64` functions pass the timeout
//! on as it is, as the usual ones do.

use core::ffi::c_long;

use crate::abi::{io_context_t, io_event};
use crate::events;
use crate::sys::SysResult;

/// x32's `struct timespec`, with or without `_TIME_BITS=64`.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
pub type Timespec64 = libc::timespec;

/// glibc's `struct timespec` under `_TIME_BITS=64` on a 32-bit target: a
/// 64-bit `tv_sec`, then a `long` `tv_nsec` padded to 64 bits.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
#[repr(C)]
pub struct Timespec64 {
    /// Seconds.
    pub tv_sec: i64,
    #[cfg(target_endian = "big")]
    _pad: i32,
    /// Nanoseconds.
    pub tv_nsec: c_long,
    #[cfg(target_endian = "little")]
    _pad: i32,
}

const _: () = assert!(core::mem::size_of::<Timespec64>() == 16);

/// Calls `f` with `timeout` in the usual `struct timespec`: converted to the
/// 32-bit form (NULL stays NULL), or on x32, where the two are one, as it is.
///
/// # Safety
///
/// `timeout` is NULL or readable.
#[inline(always)]
unsafe fn with_timeout(
    timeout: *const Timespec64,
    f: impl FnOnce(*mut libc::timespec) -> SysResult,
) -> SysResult {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    return f(timeout.cast_mut());
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
    {
        // SAFETY: the caller's contract.
        let mut narrow = unsafe { timeout.as_ref() }.map(|wide| libc::timespec {
            tv_sec: wide.tv_sec.clamp(i32::MIN.into(), i32::MAX.into()) as libc::time_t,
            tv_nsec: wide.tv_nsec,
        });
        f(narrow
            .as_mut()
            .map_or(core::ptr::null_mut(), |t| t as *mut libc::timespec))
    }
}

/// io_getevents with a 64-bit-time timeout.
///
/// # Safety
///
/// As for `events::getevents`.
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
) -> SysResult {
    // SAFETY: the caller's contract; the converted timeout outlives the call.
    unsafe {
        with_timeout(timeout, |timeout| {
            events::getevents(ctx, min_nr, nr, events, timeout)
        })
    }
}

/// io_pgetevents with a 64-bit-time timeout.
///
/// # Safety
///
/// As for `events::pgetevents`.
pub unsafe fn pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    // SAFETY: the caller's contract; the converted timeout outlives the call.
    unsafe {
        with_timeout(timeout, |timeout| {
            events::pgetevents(ctx, min_nr, nr, events, timeout, sigmask)
        })
    }
}
