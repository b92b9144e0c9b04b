//! Which backend serves a context: decided once, when io_setup creates it,
//! and found again with one registry look-up per call.
//!
//! - **Kernel AIO**, always without `LIBAIO_BACKEND=io_uring`: the handle is
//!   the kernel's ring, the calls are the kernel's AIO system calls.
//! - **io_uring** (`uring`), when the process asked for it at load, is not
//!   excluded (`process`), the kernel can serve (`uring::probe`) and the
//!   context is one io_uring can hold; anything else falls back to kernel
//!   AIO, per context, with the same results.
//!
//! A handle the registry does not know (never created here, destroyed, or a
//! parent's after fork) is the kernel's, which answers for it (`EINVAL` for
//! anything but a kernel context).
//!
//! # The kernel path costs what it did without the backend
//!
//! Which backends a process may use is known at load: [`uring_wanted`] is a
//! flag the constructor writes once, before any context exists. Without it
//! every context is the kernel's, so [`of`] would always answer `Kernel`,
//! and the calls skip it: each entry point tests the flag once, first (one
//! compare with memory and a branch), and only when it is set calls a cold,
//! out-of-line `*_any` function that asks [`of`] and serves the context with
//! either backend, returning the call's final value (so the entry point's
//! result conversion still folds away on the kernel side). The kernel side is
//! then exactly the code of the library without the backend: io_submit and
//! io_cancel are the system call alone, io_getevents' body keeps its
//! registers, and the backend's state (a bigger `Live`, the guard of
//! [`Served`]) never enters it. The tests sit where the result is
//! converted or a loop starts:
//!
//! - in `exports` for io_setup, io_destroy, io_submit, io_cancel,
//!   io_queue_init and io_queue_release (`context::*_any`);
//! - in `events::getevents` and `events::pgetevents`, which every reaping
//!   call goes through (`events::getevents_any`, `events::pgetevents_any`,
//!   which take the same arguments, so that they are reached with a jump);
//! - in `queue::run`, once per io_queue_run call (`queue::run_any`, which
//!   asks [`of`] again before each completion, as a callback may destroy
//!   the context or create another at its address).
//!
//! This is the only `if io_uring` of the entry points; which backend serves
//! a given context is still decided here alone.

use crate::abi::io_context_t;
use crate::process;
use crate::registry::{self, Live, Protected};
use crate::uring::Uring;

/// How the library serves calls on a handle.
pub enum Backend {
    /// A context the io_uring backend serves, protected from its io_destroy
    /// while this lives.
    Uring(Served),
    /// The kernel's: a live context of this library's (whose ring it may
    /// read), or a handle it does not know.
    Kernel(Option<Live>),
}

/// Whether this build serves contexts with io_uring at all: not on m68k,
/// where LLVM reaches the GOT and the run-time library's helpers with 16-bit
/// offsets (even with the large code model), which the backend's code puts
/// out of reach. There `LIBAIO_BACKEND` is ignored, and the backend's code,
/// never reached, is left out of the link.
const BUILT: bool = !cfg!(target_arch = "m68k");

/// Whether the contexts the process creates from now on are io_uring's to
/// serve (each may still fall back: `uring::setup`).
#[inline(always)]
pub fn uring_wanted() -> bool {
    BUILT && process::uring_requested()
}

/// The backend of `ctx`: one look-up in the registry.
#[inline(always)]
pub fn of(ctx: io_context_t) -> Backend {
    let Some(live) = registry::find(ctx as usize) else {
        return Backend::Kernel(None);
    };
    if !BUILT || !live.is_uring() {
        return Backend::Kernel(Some(live));
    }
    of_uring(live)
}

/// [`of`] for a live io_uring context: protected, or (destroyed meanwhile)
/// the kernel's, which refuses it.
#[cold]
#[inline(never)]
fn of_uring(live: Live) -> Backend {
    match live.protect() {
        Some(protected) if protected.uring().is_some() => Backend::Uring(Served(protected)),
        _ => Backend::Kernel(None),
    }
}

/// A live context the io_uring backend serves, protected.
pub struct Served(Protected);

impl Served {
    /// The context's state.
    #[inline(always)]
    pub fn uring(&self) -> &Uring {
        // SAFETY: made by `of_uring` only for a guard with a state, which
        // the guard keeps mapped.
        unsafe { &*self.0.uring_ptr() }
    }

    /// The guard itself (io_destroy lets go of it before waiting for the
    /// context's other users).
    pub fn into_protected(self) -> Protected {
        self.0
    }
}
