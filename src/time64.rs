//! The 64-bit-time entry points of libaio.so.1t64 on 32-bit targets.
//!
//! On a 32-bit target a program built with `_TIME_BITS=64` has a `struct
//! timespec` with a 64-bit `tv_sec`; Debian's libaio.so.1t64 gives it
//! `io_getevents_time64` and `io_pgetevents_time64` (the header redirects
//! the usual names to them), which convert the timeout to the 32-bit form
//! and use the usual system calls, as Debian's build does. A timeout beyond
//! the 32-bit range is clamped to it (68 years).
//!
//! Like the native entry points, they look at the context before the
//! timeout: for a context the library does not know (a bad or stale handle,
//! a ring moved with mremap), the timeout is the kernel's to read, as the
//! native entry points leave it to io_getevents(2): it goes to the 64-bit
//! time system call, io_pgetevents_time64(2), which reads it itself
//! (`EFAULT` for an unreadable one, where Debian's build crashes), and
//! answers for the context. Only a kernel without that call (before 5.1)
//! makes the library read it.
//!
//! x32 is a 32-bit target whose `time_t` is 64 bits wide already (and whose
//! `tv_nsec` is too): there `_TIME_BITS=64` changes nothing, the two
//! `struct timespec` are one, and the `_time64` functions are the usual
//! ones.

use core::ffi::c_long;
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
use core::ffi::{c_ulong, c_void};

use crate::abi::{io_context_t, io_event};
use crate::events;
use crate::sys::SysResult;
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
use crate::{abi::io_sigset, registry, sys, sys::Errno};

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

/// `timeout` in the usual `struct timespec`, the 32-bit form (None for
/// NULL).
///
/// # Safety
///
/// `timeout` is NULL or readable.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
unsafe fn narrow(timeout: *const Timespec64) -> Option<libc::timespec> {
    if timeout.is_null() {
        return None;
    }
    // SAFETY: the caller's contract; the kernel accepts an unaligned
    // timeout, so read it as one.
    let wide = unsafe { timeout.read_unaligned() };
    let seconds = wide.tv_sec.clamp(i32::MIN.into(), i32::MAX.into());
    Some(libc::timespec {
        tv_sec: seconds as libc::time_t,
        tv_nsec: wide.tv_nsec,
    })
}

/// For a context the library does not know and a timeout, the kernel's
/// answer with the timeout as the caller gave it (see the module
/// documentation); None otherwise, or when the kernel lacks the call.
///
/// # Safety
///
/// As for `events::pgetevents`.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
unsafe fn for_the_kernel(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
    sigmask: *mut libc::sigset_t,
) -> Option<SysResult> {
    if timeout.is_null() || registry::find(ctx as usize).is_some() {
        return None;
    }
    let set = io_sigset {
        ss: sigmask as c_ulong,
        ss_len: sys::KERNEL_SIGSET_SIZE as c_ulong,
    };
    let set = if sigmask.is_null() {
        core::ptr::null()
    } else {
        (&raw const set).cast::<c_void>()
    };
    // SAFETY: the caller's contract; `set` outlives the call.
    let ret = unsafe { sys::io_pgetevents_time64(ctx, min_nr, nr, events, timeout.cast(), set) };
    (ret != Err(Errno::ENOSYS)).then_some(ret)
}

/// io_getevents with a 64-bit-time timeout.
///
/// # Safety
///
/// As for `events::getevents`.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
) -> SysResult {
    let none = core::ptr::null_mut();
    // SAFETY: the caller's contract.
    if let Some(ret) = unsafe { for_the_kernel(ctx, min_nr, nr, events, timeout, none) } {
        return ret;
    }
    // SAFETY: the caller's contract.
    let mut narrow = unsafe { narrow(timeout) };
    let timeout = narrow
        .as_mut()
        .map_or(core::ptr::null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: the caller's contract; `narrow` outlives the call.
    unsafe { events::getevents(ctx, min_nr, nr, events, timeout) }
}

/// io_pgetevents with a 64-bit-time timeout.
///
/// # Safety
///
/// As for `events::pgetevents`.
#[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
pub unsafe fn pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    // SAFETY: the caller's contract.
    if let Some(ret) = unsafe { for_the_kernel(ctx, min_nr, nr, events, timeout, sigmask) } {
        return ret;
    }
    // SAFETY: the caller's contract.
    let mut narrow = unsafe { narrow(timeout) };
    let timeout = narrow
        .as_mut()
        .map_or(core::ptr::null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: the caller's contract; `narrow` outlives the call.
    unsafe { events::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) }
}

/// x32's io_getevents with a 64-bit-time timeout: the usual one.
///
/// # Safety
///
/// As for `events::getevents`.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { events::getevents(ctx, min_nr, nr, events, timeout.cast_mut()) }
}

/// x32's io_pgetevents with a 64-bit-time timeout: the usual one.
///
/// # Safety
///
/// As for `events::pgetevents`.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
pub unsafe fn pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const Timespec64,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { events::pgetevents(ctx, min_nr, nr, events, timeout.cast_mut(), sigmask) }
}
