//! What the library learns about the process once, when it is loaded: the
//! `LIBAIO_USERSPACE_REAP` setting, and (on x86_64) where glibc keeps each
//! thread's rseq area and its single-threaded flag.
//!
//! Both are read by an ELF constructor, which runs before the program's own
//! code (and before its other threads exist), so that a program's `setenv`
//! from another thread cannot race with the read. The variable is read
//! with `secure_getenv`, so set-user-ID and set-group-ID programs ignore it.

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// A 0 byte: "several threads", for a glibc without `__libc_single_threaded`.
static SEVERAL: u8 = 0;

/// glibc's `__libc_single_threaded` (glibc 2.32 and later), or [`SEVERAL`];
/// see `registry::single_threaded`. Set at load.
pub(crate) static SINGLE_THREADED: AtomicPtr<u8> = AtomicPtr::new((&raw const SEVERAL).cast_mut());

/// Whether `LIBAIO_USERSPACE_REAP=1` was in the environment at load.
static USER_SPACE_REAP: AtomicBool = AtomicBool::new(false);

/// Whether `LIBAIO_USERSPACE_REAP=1` was set when the library was loaded.
/// (User-space reaping also needs the registry's rseq mode:
/// `registry::user_space_reaping`.)
#[inline(always)]
pub fn user_space_reap_requested() -> bool {
    // Relaxed: written once by the constructor, before any other thread.
    USER_SPACE_REAP.load(Ordering::Relaxed)
}

unsafe extern "C" {
    /// glibc's getenv that answers NULL in set-user-ID and set-group-ID
    /// programs (since glibc 2.17; the libc crate does not declare it).
    fn secure_getenv(name: *const core::ffi::c_char) -> *mut core::ffi::c_char;
}

/// The constructor: see the module documentation.
extern "C" fn at_load() {
    // SAFETY: a NUL-terminated name; secure_getenv returns NULL or a
    // NUL-terminated string, which is only read here.
    let on = unsafe {
        let value = secure_getenv(c"LIBAIO_USERSPACE_REAP".as_ptr());
        !value.is_null() && core::ffi::CStr::from_ptr(value).to_bytes() == b"1"
    };
    // Relaxed here and below: the constructor runs before the program's own
    // code and any thread it starts (which thread creation orders after).
    USER_SPACE_REAP.store(on, Ordering::Relaxed);
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    if let Some(single) = crate::rseq::glibc_single_threaded() {
        SINGLE_THREADED.store(single, Ordering::Relaxed);
    }
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    if let Some(offset) = crate::rseq::glibc_offset() {
        crate::rseq::OFFSET.store(offset, Ordering::Relaxed);
        crate::rseq::GLIBC_REGISTERS.store(true, Ordering::Relaxed);
    }
}

/// Runs [`at_load`] when the shared object is loaded, or when a program
/// linked with libaio.a starts.
#[used]
#[unsafe(link_section = ".init_array")]
static AT_LOAD: extern "C" fn() = at_load;
