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

/// On 32-bit ARM, the unwind tables (`.ARM.exidx`) of this library's and
/// `core`'s functions name the EHABI personality routines, which libgcc and
/// libgcc_s define, only so that the linker brings them in: an unwinder
/// finds its own from the table's index. The shared object is linked
/// without those libraries (`-nodefaultlibs -lc`, see the Makefile), where
/// the references would be undefined; these stand-ins satisfy them, nothing
/// calls them, and the version script keeps them local.
#[cfg(target_arch = "arm")]
mod arm_ehabi {
    #[unsafe(no_mangle)]
    extern "C" fn __aeabi_unwind_cpp_pr0() {}
    #[unsafe(no_mangle)]
    extern "C" fn __aeabi_unwind_cpp_pr1() {}
    #[unsafe(no_mangle)]
    extern "C" fn __aeabi_unwind_cpp_pr2() {}
}
