//! Reaping completions: io_getevents and io_pgetevents.
//!
//! Both answer 0 without a system call when asked not to wait (a timeout of
//! exactly zero) and the ring holds no completion, as libaio does; in every
//! other case they make the call. The ring is only read when the registry
//! knows the context to be live, so a bad or stale context always reaches the
//! kernel, which answers `EINVAL`.
//!
//! # User-space reaping
//!
//! With `LIBAIO_USERSPACE_REAP=1` in the environment (read once, with
//! `secure_getenv`, so set-user-ID programs ignore it), a call that finds at
//! least `min_nr` completions (and at least one) already in the ring of a
//! live context copies them out itself and advances the ring's head, with no
//! system call; otherwise it makes the call as usual, so nothing busy-polls.
//! The threads of this process reaping a context through this library take
//! turns through a lock per context (`registry::Entry`), so no completion is
//! delivered twice. The mode is unsafe only if something else reaps the same
//! context meanwhile, bypassing this library: a program that reads the ring
//! itself (as QEMU does) or calls the io_getevents system call directly.
//! In this mode the library, not the kernel, writes the events, so a bad
//! `events` pointer faults instead of giving `EFAULT`.

use core::ffi::{c_long, c_ulong, c_void};
use core::sync::atomic::{AtomicU8, Ordering};

use crate::abi::{io_context_t, io_event, io_sigset};
use crate::registry;
use crate::ring::Ring;
use crate::sys::{self, SysResult};

/// Whether the call can be answered "no events" from the ring alone: the
/// timeout is exactly zero and the ring, in the kernel's format, is empty.
///
/// # Safety
///
/// `timeout` is NULL, a kernel address, or readable; it is read only for a
/// live context with an empty ring, where libaio reads it too.
#[inline(always)]
unsafe fn nothing_to_reap(ring: Ring, timeout: *const libc::timespec) -> bool {
    // NULL, or an address in the kernel's half, is never read: the kernel
    // gets the call and checks it. Declining is always safe, only slower.
    // The ring first: with completions waiting, a bad timeout is the
    // kernel's to refuse.
    if !sys::plausible_user_address(timeout as usize) || !ring.is_empty() {
        return false;
    }
    // One test of both fields (the casts matter where they are 32 bits).
    #[allow(clippy::unnecessary_cast)]
    // SAFETY: the caller's contract.
    unsafe {
        ((*timeout).tv_sec as i64 | (*timeout).tv_nsec as i64) == 0
    }
}

/// The hottest path of all, for the exported functions to try before
/// anything else: a zero-timeout call on the empty ring of the most recently
/// created context, answered with 0 in a dozen instructions and no call.
/// Everything else, including the same answer for other live contexts, is
/// left to [`getevents`]/[`pgetevents`].
///
/// # Safety
///
/// As for [`nothing_to_reap`].
#[inline(always)]
pub unsafe fn nothing_to_reap_now(ctx: io_context_t, timeout: *const libc::timespec) -> bool {
    // SAFETY: the caller's contract.
    Ring::recent(ctx).is_some_and(|ring| unsafe { nothing_to_reap(ring, timeout) })
}

/// Which call a reaper makes when it cannot answer from the ring:
/// io_getevents(2), or io_pgetevents(2) with this signal mask (NULL: none).
#[derive(Clone, Copy)]
enum Call {
    Getevents,
    Pgetevents(*mut libc::sigset_t),
}

impl Call {
    /// Makes the call.
    ///
    /// # Safety
    ///
    /// As for [`getevents`].
    #[inline(always)]
    unsafe fn make(
        self,
        ctx: io_context_t,
        min_nr: c_long,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
    ) -> SysResult {
        let Call::Pgetevents(sigmask) = self else {
            // SAFETY: the caller's contract.
            return unsafe { sys::io_getevents(ctx, min_nr, nr, events, timeout) };
        };
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
            // Some 64-bit kernels read a 32-bit caller's pair with 64-bit
            // words: ask again with the pointer widened, as Debian's libaio
            // does.
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
}

/// The shared body of io_getevents and io_pgetevents.
///
/// # Safety
///
/// `events` has room for `nr` events (the kernel checks the address, except
/// in user-space reaping mode); `timeout` is NULL or readable.
#[inline(always)]
unsafe fn reap(
    how: Call,
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    let Some(ring) = Ring::live(ctx) else {
        // SAFETY: the caller's contract.
        return unsafe { how.make(ctx, min_nr, nr, events, timeout) };
    };
    // SAFETY: the caller's contract.
    if unsafe { nothing_to_reap(ring, timeout) } {
        return Ok(0);
    }
    if user_space_reaping() {
        if let Some(entry) = registry::find(ctx as usize) {
            // SAFETY: the caller's contract.
            return unsafe { reap_with_lock(how, entry, ring, ctx, min_nr, nr, events, timeout) };
        }
    }
    // SAFETY: the caller's contract.
    unsafe { how.make(ctx, min_nr, nr, events, timeout) }
}

/// User-space reaping mode, for a live context: copy from the ring when it
/// holds enough, else make the call, taking turns with this process's other
/// reapers of the context.
///
/// # Safety
///
/// As for [`reap`].
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn reap_with_lock(
    how: Call,
    entry: &registry::Entry,
    ring: Ring,
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // Arguments the kernel would refuse go to the kernel.
    if 0 <= min_nr && min_nr <= nr && nr > 0 {
        if let Some(_alone) = entry.reap_in_user_space() {
            // SAFETY: we are the only reaper (the guard); events has room for
            // nr events (the caller's contract).
            if let Some(count) = unsafe { ring.take(min_nr as usize, nr as usize, events) } {
                return Ok(count as core::ffi::c_int);
            }
        }
    }
    let _inside = entry.reap_in_kernel();
    // SAFETY: the caller's contract.
    unsafe { how.make(ctx, min_nr, nr, events, timeout) }
}

/// io_getevents(2), skipping the call when the ring answers.
///
/// # Safety
///
/// `events` has room for `nr` events (the kernel checks the address, except
/// in user-space reaping mode); `timeout` is NULL or readable.
#[inline(never)]
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { reap(Call::Getevents, ctx, min_nr, nr, events, timeout) }
}

/// io_pgetevents(2), skipping the call when the ring answers.
///
/// The mask goes to the kernel as its `{ mask, _NSIG / 8 }` pair; a NULL mask
/// stays NULL (no change of mask).
///
/// # Safety
///
/// As for [`getevents`]; the kernel reads `sigmask` if it is not NULL.
#[inline(never)]
pub unsafe fn pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { reap(Call::Pgetevents(sigmask), ctx, min_nr, nr, events, timeout) }
}

/// Whether `LIBAIO_USERSPACE_REAP=1` was set when first asked.
#[inline(always)]
fn user_space_reaping() -> bool {
    match USER_SPACE_REAPING.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => read_user_space_reaping(),
    }
}

static USER_SPACE_REAPING: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

unsafe extern "C" {
    /// glibc's getenv that answers NULL in set-user-ID and set-group-ID
    /// programs (since glibc 2.17; the libc crate does not declare it).
    fn secure_getenv(name: *const core::ffi::c_char) -> *mut core::ffi::c_char;
}

#[cold]
fn read_user_space_reaping() -> bool {
    // SAFETY: a NUL-terminated name; secure_getenv returns NULL or a
    // NUL-terminated string, which is only read here. (Two threads may read
    // it at once; both find the same value.)
    let on = unsafe {
        let value = secure_getenv(c"LIBAIO_USERSPACE_REAP".as_ptr());
        !value.is_null() && core::ffi::CStr::from_ptr(value).to_bytes() == b"1"
    };
    USER_SPACE_REAPING.store(if on { ON } else { OFF }, Ordering::Relaxed);
    on
}
