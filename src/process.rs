//! What the library learns about the process once, when it is loaded: the
//! `LIBAIO_USERSPACE_REAP` and `LIBAIO_BACKEND` settings, and (on x86_64)
//! where glibc keeps each thread's rseq area and its single-threaded flag.
//!
//! They are read by an ELF constructor, which runs before the program's own
//! code (and before its other threads exist), so that a program's `setenv`
//! from another thread cannot race with the read. The variables are read
//! with `secure_getenv`, so set-user-ID and set-group-ID programs ignore
//! them.
//!
//! # Programs the io_uring backend leaves alone
//!
//! `LIBAIO_BACKEND=io_uring` may be set for a whole system. Some programs
//! cannot work with a context that is not a kernel ring, and must not hang
//! or abort because of it; they keep kernel AIO, whatever the variable
//! says, by the name of the executable (`/proc/self/exe`):
//!
//! - `qemu-*` (QEMU's `aio=native` reads completions straight out of the
//!   ring, without checking it is one, and waits on the eventfd: it would
//!   never see a completion; QEMU has `aio=io_uring` of its own);
//! - `mariadbd`, `mysqld`, `mariadb-backup`, `mariabackup` (MariaDB 10.6
//!   and later reap with the io_getevents system call, not libaio's
//!   function, and abort when the kernel refuses the handle).
//!
//! And any program run under valgrind (its preloaded `vgpreload_*` objects
//! in `LD_PRELOAD`): valgrind 3.19 holds its lock of the program's threads
//! while one waits in io_uring_enter(2), so a thread that waits for another
//! waits forever, and memcheck does not know what io_uring writes into the
//! program's buffers.

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// A 0 byte: "several threads", for a glibc without `__libc_single_threaded`.
static SEVERAL: u8 = 0;

/// glibc's `__libc_single_threaded` (glibc 2.32 and later), or [`SEVERAL`];
/// see `registry::single_threaded`. Set at load.
pub(crate) static SINGLE_THREADED: AtomicPtr<u8> = AtomicPtr::new((&raw const SEVERAL).cast_mut());

/// Whether `LIBAIO_USERSPACE_REAP=1` was in the environment at load.
static USER_SPACE_REAP: AtomicBool = AtomicBool::new(false);

/// Whether `LIBAIO_BACKEND=io_uring` was in the environment at load, for a
/// program not excluded.
static URING: AtomicBool = AtomicBool::new(false);

/// Whether the process asked for the io_uring backend (and is not one of
/// the programs it leaves alone).
#[inline(always)]
pub fn uring_requested() -> bool {
    // SAFETY: written only by the constructor, before any other thread of
    // the process exists (thread creation orders it before their reads), so
    // no write can race with this one; a plain read, which compiles to a
    // single compare with memory on the kernel path (see `backend`).
    unsafe { URING.as_ptr().read() }
}

/// Whether the executable's file name is one the io_uring backend leaves
/// alone (see the module documentation).
fn excluded(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 4] = [b"mariadbd", b"mysqld", b"mariadb-backup", b"mariabackup"];
    name.starts_with(b"qemu-") || NAMES.contains(&name)
}

/// The executable's file name, from `/proc/self/exe`, into `buf`.
fn executable_name(buf: &mut [u8]) -> &[u8] {
    let len = crate::sys::readlink(c"/proc/self/exe", buf).unwrap_or(0);
    let path = &buf[..len.min(buf.len())];
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// Whether `LIBAIO_USERSPACE_REAP=1` was set when the library was loaded.
/// (User-space reaping also needs the registry's rseq mode:
/// `registry::user_space_reaping`.)
#[inline(always)]
pub fn user_space_reap_requested() -> bool {
    // Relaxed: written once by the constructor, before any other thread.
    USER_SPACE_REAP.load(Ordering::Relaxed)
}

/// Whether the process runs under valgrind (see the module documentation).
fn under_valgrind() -> bool {
    // SAFETY: a NUL-terminated name; getenv returns NULL or a NUL-terminated
    // string, which is only read here.
    unsafe {
        let value = libc::getenv(c"LD_PRELOAD".as_ptr());
        !value.is_null() && preloads_valgrind(core::ffi::CStr::from_ptr(value).to_bytes())
    }
}

/// Whether an `LD_PRELOAD` value names valgrind's preloaded objects.
fn preloads_valgrind(preload: &[u8]) -> bool {
    preload.windows(10).any(|w| w == b"vgpreload_")
}

unsafe extern "C" {
    /// glibc's getenv that answers NULL in set-user-ID and set-group-ID
    /// programs (since glibc 2.17; the libc crate does not declare it).
    fn secure_getenv(name: *const core::ffi::c_char) -> *mut core::ffi::c_char;
}

/// The constructor: see the module documentation.
extern "C" fn at_load() {
    let set_to = |name: &core::ffi::CStr, wanted: &[u8]| {
        // SAFETY: a NUL-terminated name; secure_getenv returns NULL or a
        // NUL-terminated string, which is only read here.
        unsafe {
            let value = secure_getenv(name.as_ptr());
            !value.is_null() && core::ffi::CStr::from_ptr(value).to_bytes() == wanted
        }
    };
    // Relaxed here and below: the constructor runs before the program's own
    // code and any thread it starts (which thread creation orders after).
    USER_SPACE_REAP.store(set_to(c"LIBAIO_USERSPACE_REAP", b"1"), Ordering::Relaxed);
    if set_to(c"LIBAIO_BACKEND", b"io_uring") && !under_valgrind() {
        let mut buf = [0u8; 4096];
        let wanted = !excluded(executable_name(&mut buf));
        if wanted {
            crate::uring::exit::resolve();
        }
        URING.store(wanted, Ordering::Relaxed);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_left_alone() {
        for name in [
            "qemu-system-x86_64",
            "qemu-img",
            "qemu-kvm",
            "mariadbd",
            "mysqld",
        ] {
            assert!(excluded(name.as_bytes()), "{name}");
        }
        for name in ["fio", "qemu", "mysql", "mariadb", "postgres", "mysqld2"] {
            assert!(!excluded(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn valgrind_preloads() {
        assert!(preloads_valgrind(
            b"/usr/libexec/valgrind/vgpreload_core-amd64-linux.so:\
              /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"
        ));
        assert!(!preloads_valgrind(b""));
        assert!(!preloads_valgrind(b"/usr/lib/libjemalloc.so"));
    }
}
