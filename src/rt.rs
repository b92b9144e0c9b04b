//! The two pieces of runtime a `no_std`, `panic = "abort"` library needs.
//!
//! Nothing in this library panics on purpose (no indexing out of bounds, no
//! unwrap), but the compiler still wants a handler.

/// Aborts the process: there is no way to report a panic across the C ABI.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort() has no preconditions.
    unsafe { libc::abort() }
}

/// The prebuilt `core` library is compiled for unwinding, and its unwind
/// tables name this personality routine; with `panic = "abort"` nothing ever
/// calls it, but the shared object must define it to load. The version script
/// keeps it local.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
