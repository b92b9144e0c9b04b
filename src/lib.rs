//! libaio-rs: Linux's libaio (`libaio.so.1`, `libaio.h`, release 0.3.113)
//! reimplemented in Rust, with the same C ABI.
//!
//! The library is a thin layer over the kernel's AIO system calls. The
//! modules, from the kernel up:
//!
//! - [`sys`]: the six raw AIO system calls (and getcpu(2), a probe), and the
//!   `Errno` they fail with;
//! - [`abi`]: the C types of libaio.h (the header is generated from it);
//! - [`ring`]: the kernel's completion ring behind an `io_context_t`;
//! - [`registry`]: which rings this process created and may safely read,
//!   and what the library keeps per context: completions reaped ahead
//!   ([`stash`]) and the user-space reapers' lease; on x86_64, [`rseq`]
//!   holds the restartable sequences that read the rings;
//! - [`process`]: what the library reads once, at load;
//! - [`context`], [`events`], [`queue`]: what each call does;
//! - [`exports`]: the exported C functions, and on x86_64 [`fast`], their
//!   assembly entry for the zero-timeout poll.
//!
//! Built with `panic = "abort"` (every profile the Makefile uses) the crate
//! is `no_std` and needs nothing but libc; `cargo test` builds it with `std`.

#![cfg_attr(panic = "abort", no_std)]
#![deny(unsafe_code)]

pub mod abi;
/// The system call numbers the library uses on this architecture, for the
/// tests (which watch for these calls); not part of the C interface.
#[doc(hidden)]
pub use sys::nr as syscall_numbers;

/// Whether the library would read through a pointer with this address (see
/// the `sys` module), for the tests; not part of the C interface.
#[doc(hidden)]
pub use sys::plausible_user_address;

#[allow(unsafe_code)]
mod backend;
#[allow(unsafe_code)]
mod context;
#[allow(unsafe_code)]
mod events;
#[allow(unsafe_code)]
mod exports;
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
#[allow(unsafe_code)]
mod fast;
#[allow(unsafe_code)]
mod process;
#[allow(unsafe_code)]
mod queue;
#[allow(unsafe_code)]
mod registry;
#[allow(unsafe_code)]
mod ring;
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
#[allow(unsafe_code)]
mod rseq;
#[cfg(all(panic = "abort", not(test)))]
#[allow(unsafe_code)]
mod rt;
#[allow(unsafe_code)]
mod stash;
#[allow(unsafe_code)]
mod sys;
#[cfg(target_pointer_width = "32")]
#[allow(unsafe_code)]
mod time64;
/// The io_uring backend: nothing of it is part of the C interface.
///
/// cbindgen:ignore
#[allow(unsafe_code)]
mod uring;
