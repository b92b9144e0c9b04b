//! Reaping completions: io_getevents and io_pgetevents.
//!
//! For a context the registry knows, a call takes, in this order:
//!
//! 1. the completions `io_queue_run` reaped ahead and has not handed out
//!    (the context's stash, see `stash`), oldest first;
//! 2. in user-space reaping mode, completions copied straight out of the
//!    ring (see below);
//! 3. the rest from the kernel, with the io_getevents(2) or
//!    io_pgetevents(2) system call for what is still missing.
//!
//! Like libaio, a call asked not to wait (a timeout of exactly zero) on an
//! empty ring answers 0 without a system call. A context the registry does
//! not know always goes to the kernel, with the caller's arguments
//! untouched, so a bad or stale context gets the kernel's `EINVAL`.
//!
//! # User-space reaping
//!
//! With `LIBAIO_USERSPACE_REAP=1` in the environment at load (read with
//! `secure_getenv`, so set-user-ID programs ignore it), a call that finds at
//! least `min_nr` completions (and at least one) already in the ring of a
//! live context copies them out itself and advances the ring's head, with no
//! system call; otherwise it makes the call as usual, so nothing busy-polls.
//! The threads of this process reaping a context through this library, and
//! signal handlers, never duplicate or lose a completion and never wait on
//! each other (the lease in `registry`). It needs the registry's rseq mode
//! (x86_64); elsewhere the variable changes nothing. The mode is unsafe only
//! if something else reaps the same context meanwhile, bypassing this
//! library: a program that reads the ring itself (as QEMU does) or calls the
//! io_getevents system call directly. In this mode the library, not the
//! kernel, writes the events, so a bad `events` pointer faults instead of
//! giving `EFAULT`.

use core::ffi::{c_int, c_long, c_ulong, c_void};

use crate::abi::{io_context_t, io_event, io_sigset};
use crate::backend::{self, Backend};
use crate::registry::{self, Live};
use crate::ring::Peek;
use crate::sys::{self, SysResult};
use crate::uring;

/// Which call a reaper makes when it cannot answer without the kernel:
/// io_getevents(2), or io_pgetevents(2) with this signal mask (NULL: none).
#[derive(Clone, Copy)]
pub(crate) enum Call {
    Getevents,
    Pgetevents(*mut libc::sigset_t),
}

impl Call {
    /// The signal mask of io_pgetevents (NULL: none), or None for
    /// io_getevents.
    fn sigmask(self) -> Option<*const libc::sigset_t> {
        match self {
            Call::Getevents => None,
            Call::Pgetevents(mask) => Some(mask.cast_const()),
        }
    }

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
            // does (on x32 too, where `sys` passes either layout as the
            // kernel reads it: the repeated call keeps the system calls
            // those of Debian's x32 build).
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

    /// Makes the call: in user-space reaping mode, as a declared kernel
    /// reaper of the address (see `registry`), whether the registry knows
    /// the context or not (a handle used as its context is destroyed may
    /// already name a new one at the same address).
    ///
    /// # Safety
    ///
    /// As for [`getevents`].
    #[inline(always)]
    pub(crate) unsafe fn make_registered(
        self,
        ctx: io_context_t,
        min_nr: c_long,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
    ) -> SysResult {
        if registry::user_space_reaping() {
            let _inside = registry::kernel_reaper(ctx as usize);
            // SAFETY: the caller's contract.
            return unsafe { self.make(ctx, min_nr, nr, events, timeout) };
        }
        // SAFETY: the caller's contract.
        unsafe { self.make(ctx, min_nr, nr, events, timeout) }
    }

    /// [`Call::make_registered`] for a live context.
    ///
    /// # Safety
    ///
    /// As for [`getevents`].
    #[inline(always)]
    pub(crate) unsafe fn make_for(
        self,
        live: &Live,
        min_nr: c_long,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
    ) -> SysResult {
        // SAFETY: the caller's contract.
        unsafe { self.make_registered(live.ctx() as io_context_t, min_nr, nr, events, timeout) }
    }
}

/// The shared body of [`getevents_any`] and [`pgetevents_any`]: the
/// io_uring backend's for a context it serves, kernel AIO's otherwise.
///
/// # Safety
///
/// As for [`getevents`].
#[inline(always)]
unsafe fn reap_any(
    how: Call,
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    match backend::of(ctx) {
        // SAFETY: the caller's contract.
        Backend::Uring(served) => unsafe {
            uring::reap::getevents(served.uring(), min_nr, nr, events, timeout, how.sigmask())
        },
        // SAFETY: the caller's contract.
        Backend::Kernel(live) => unsafe {
            reap_kernel_apart(how, ctx, live, min_nr, nr, events, timeout)
        },
    }
}

/// [`reap_kernel`] out of line, for [`reap_any`] (which then keeps a small
/// frame for the io_uring backend's contexts).
///
/// # Safety
///
/// As for [`getevents`].
#[inline(never)]
unsafe fn reap_kernel_apart(
    how: Call,
    ctx: io_context_t,
    live: Option<Live>,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { reap_kernel(how, ctx, live, min_nr, nr, events, timeout) }
}

/// The shared body of io_getevents and io_pgetevents for a context of
/// kernel AIO: `live` if the registry knows it.
///
/// # Safety
///
/// `events` has room for `nr` events (the kernel checks the address, except
/// when completions reaped ahead or, in user-space reaping mode, in the
/// ring are copied there); `timeout` is NULL or readable.
#[inline(always)]
unsafe fn reap_kernel(
    how: Call,
    ctx: io_context_t,
    live: Option<Live>,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    let Some(live) = live else {
        // SAFETY: the caller's contract.
        return unsafe { how.make_registered(ctx, min_nr, nr, events, timeout) };
    };
    // Completions can be handed out by the library only for arguments the
    // kernel would accept; anything else goes to the kernel as it is.
    let valid =
        0 <= min_nr && min_nr <= nr && nr > 0 && sys::plausible_user_address(events as usize);
    if valid && (!live.stash().is_empty() || registry::user_space_reaping()) {
        // SAFETY: the caller's contract.
        return unsafe { reap_known(how, &live, min_nr as usize, nr as usize, events, timeout) };
    }
    // SAFETY: the caller's contract.
    if unsafe { nothing_to_reap(&live, timeout) } {
        return Ok(0);
    }
    // SAFETY: the caller's contract.
    unsafe { how.make_for(&live, min_nr, nr, events, timeout) }
}

/// [`reap_kernel`] for valid arguments, when completions may wait in the
/// stash or user-space reaping is on.
///
/// # Safety
///
/// As for [`reap_kernel`].
#[inline(never)]
unsafe fn reap_known(
    how: Call,
    live: &Live,
    min_nr: usize,
    nr: usize,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: room for nr events (the caller's contract).
    let mut got = unsafe { live.stash().take(nr, events) };
    if got == nr {
        return Ok(got as c_int);
    }
    // SAFETY: got < nr, so inside the caller's room.
    let rest = unsafe { events.add(got) };
    if registry::user_space_reaping() {
        let min = min_nr.saturating_sub(got);
        // SAFETY: room for nr - got events.
        if let Some(taken) = unsafe { live.take_in_user_space(min, nr - got, rest) } {
            return Ok((got + taken) as c_int);
        }
    }
    if got >= min_nr && got > 0 {
        // Enough already; the kernel would also return whatever else is
        // waiting now, up to nr.
        if !matches!(live.peek(), Peek::Holds(n) if n > 0) {
            return Ok(got as c_int);
        }
        let mut zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: room for nr - got events; `zero` outlives the call.
        let more = unsafe { how.make_for(live, 0, (nr - got) as c_long, rest, &mut zero) };
        return Ok((got + more.unwrap_or(0).max(0) as usize) as c_int);
    }
    if got == 0 {
        // SAFETY: the caller's contract.
        if unsafe { nothing_to_reap(live, timeout) } {
            return Ok(0);
        }
        // SAFETY: the caller's contract; the arguments as given.
        return unsafe { how.make_for(live, min_nr as c_long, nr as c_long, events, timeout) };
    }
    // Some, but fewer than min_nr: wait for the rest as the caller asked.
    let (min, max) = ((min_nr - got) as c_long, (nr - got) as c_long);
    // SAFETY: room for nr - got events.
    let more = unsafe { how.make_for(live, min, max, rest, timeout) };
    // With completions in hand the kernel would return them, not an error
    // (EINTR, a timeout the kernel could not read): an error adds none.
    got += more.unwrap_or(0).max(0) as usize;
    Ok(got as c_int)
}

/// Whether the call can be answered "no events" without the kernel: the
/// timeout is exactly zero and the ring, in the kernel's format, is empty.
///
/// # Safety
///
/// `timeout` is NULL, a kernel address, or readable; it is read only for a
/// live context with an empty ring, where libaio reads it too.
#[inline]
unsafe fn nothing_to_reap(live: &Live, timeout: *const libc::timespec) -> bool {
    // NULL, or an address in the kernel's half, is never read: the kernel
    // gets the call and checks it. Declining is always safe, only slower.
    // The ring first: with completions waiting, a bad timeout is the
    // kernel's to refuse.
    if !sys::plausible_user_address(timeout as usize)
        || live.peek() != Peek::Holds(0)
        || !live.stash().is_empty()
    {
        return false;
    }
    // SAFETY: the caller's contract; the kernel accepts an unaligned
    // timeout, so read it as one.
    let timeout = unsafe { timeout.read_unaligned() };
    // One test of both fields (the casts matter where they are 32 bits).
    #[allow(clippy::unnecessary_cast)]
    let zero = (timeout.tv_sec as i64 | timeout.tv_nsec as i64) == 0;
    if zero {
        // The next such poll of this context need not come here.
        live.arm_fast();
    }
    zero
}

/// io_getevents(2), skipping the call when the library can answer.
///
/// # Safety
///
/// `events` has room for `nr` events (the kernel checks the address, except
/// where the library copies completions there itself); `timeout` is NULL or
/// readable.
#[inline(never)]
pub unsafe fn getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return unsafe { getevents_any(ctx, min_nr, nr, events, timeout) };
    }
    // Every context is the kernel's (see `backend`).
    let live = registry::find(ctx as usize);
    // SAFETY: the caller's contract.
    unsafe { reap_kernel(Call::Getevents, ctx, live, min_nr, nr, events, timeout) }
}

/// [`getevents`] in a process that asked for the io_uring backend: out of
/// line, so that none of the backend's code is the kernel path's (see
/// `backend`), and with [`getevents`]'s arguments, so that it is reached
/// with a jump.
///
/// # Safety
///
/// As for [`getevents`].
#[cold]
#[inline(never)]
unsafe fn getevents_any(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { reap_any(Call::Getevents, ctx, min_nr, nr, events, timeout) }
}

/// io_pgetevents(2), skipping the call when the library can answer.
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
    if backend::uring_wanted() {
        // SAFETY: the caller's contract.
        return unsafe { pgetevents_any(ctx, min_nr, nr, events, timeout, sigmask) };
    }
    // Every context is the kernel's (see `backend`).
    let live = registry::find(ctx as usize);
    let how = Call::Pgetevents(sigmask);
    // SAFETY: the caller's contract.
    unsafe { reap_kernel(how, ctx, live, min_nr, nr, events, timeout) }
}

/// [`pgetevents`] in a process that asked for the io_uring backend (see
/// [`getevents_any`]).
///
/// # Safety
///
/// As for [`pgetevents`].
#[cold]
#[inline(never)]
unsafe fn pgetevents_any(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
    sigmask: *mut libc::sigset_t,
) -> SysResult {
    let how = Call::Pgetevents(sigmask);
    // SAFETY: the caller's contract.
    unsafe { reap_any(how, ctx, min_nr, nr, events, timeout) }
}
