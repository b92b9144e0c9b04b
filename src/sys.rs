//! The six raw kernel AIO system calls, getcpu(2) as a probe, and the
//! madvise(2) and membarrier(2) calls that keep the registry of live rings
//! safe (see `registry`).
//!
//! Every other module reaches the kernel through the functions here. Each
//! passes its arguments to the kernel exactly as libaio 0.3.113 does (same
//! widths, same sign extension) and decodes the result into
//! `Result<c_int, Errno>`, truncating a success value to `int` as libaio does.
//!
//! `errno` is never changed. On x86_64 the call is made with inline
//! assembly, which does not touch `errno` at all; elsewhere (or with the
//! `libc-syscall` feature) libc's `syscall()` is used and `errno` is put back
//! the way the caller left it, as libaio does.
//!
//! # Safety
//!
//! The kernel checks every user pointer it is given and answers `EFAULT`
//! rather than faulting, so these calls never crash on a bad pointer. They are
//! still `unsafe`: where the kernel *writes* through a pointer (the context
//! in `io_setup`, the events in `io_getevents`, the iocb `aio_key` field in
//! `io_submit`), Rust would not see that write, so the caller must own that
//! memory. Each function states what it writes.

use core::ffi::{c_int, c_long, c_void};

use crate::abi::{io_context_t, io_event, iocb};

/// An error number as the kernel returned it (positive, e.g. `EINVAL`).
///
/// Named constants rather than an enum: the kernel may answer with codes
/// this library has no reason to list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Errno(c_int);

impl Errno {
    /// Invalid argument.
    pub const EINVAL: Self = Self(libc::EINVAL);
    /// Bad address.
    pub const EFAULT: Self = Self(libc::EFAULT);
    /// No such system call (crate-private, so that cbindgen leaves it out
    /// of the header).
    #[cfg_attr(not(target_pointer_width = "32"), allow(dead_code))]
    pub(crate) const ENOSYS: Self = Self(libc::ENOSYS);

    /// The value libaio functions return for this error: `-errno`.
    pub const fn negated(self) -> c_int {
        -self.0
    }
}

/// The result of a system call: its value truncated to `int`, or its error.
pub(crate) type SysResult = Result<c_int, Errno>;

/// Size in bytes of the kernel's signal set: glibc's `_NSIG / 8`.
pub(crate) const KERNEL_SIGSET_SIZE: usize =
    if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
        16
    } else {
        8
    };

/// The system call numbers, per architecture, from the kernel's
/// `asm/unistd*.h` (Linux 6.1 headers of Debian's cross toolchains and
/// linux-libc-dev-*-cross packages, checked when written).
/// `IO_PGETEVENTS` is `None` where the kernel has no such call; io_pgetevents
/// then fails with `ENOSYS`, as libaio built without it does.
#[allow(missing_docs)]
mod nr {
    use core::ffi::c_long;

    /// (io_setup, io_destroy, io_getevents, io_submit, io_cancel, io_pgetevents)
    type Table = (c_long, c_long, c_long, c_long, c_long, Option<c_long>);

    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    pub(super) const GETCPU: c_long = 309;
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    pub(super) const GETCPU: c_long = 0x4000_0000 + 309;
    #[cfg(target_arch = "x86")]
    pub(super) const GETCPU: c_long = 318;
    #[cfg(any(
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    ))]
    pub(super) const GETCPU: c_long = 168;
    #[cfg(target_arch = "arm")]
    pub(super) const GETCPU: c_long = 345;
    #[cfg(any(target_arch = "powerpc", target_arch = "powerpc64"))]
    pub(super) const GETCPU: c_long = 302;
    #[cfg(target_arch = "s390x")]
    pub(super) const GETCPU: c_long = 311;
    #[cfg(target_arch = "mips")]
    pub(super) const GETCPU: c_long = 4312;
    #[cfg(all(target_arch = "mips64", target_pointer_width = "64"))]
    pub(super) const GETCPU: c_long = 5271;
    #[cfg(all(target_arch = "mips64", target_pointer_width = "32"))]
    pub(super) const GETCPU: c_long = 6275;
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    pub(super) const GETCPU: c_long = 308;
    #[cfg(target_arch = "m68k")]
    pub(super) const GETCPU: c_long = 314;

    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    const TABLE: Table = (206, 207, 208, 209, 210, Some(333));
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    const TABLE: Table = {
        const X32: c_long = 0x4000_0000;
        (
            X32 + 543,
            X32 + 207,
            X32 + 208,
            X32 + 544,
            X32 + 210,
            Some(X32 + 333),
        )
    };
    #[cfg(target_arch = "x86")]
    const TABLE: Table = (245, 246, 247, 248, 249, Some(385));
    #[cfg(any(
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    ))]
    const TABLE: Table = (0, 1, 4, 2, 3, Some(292));
    #[cfg(target_arch = "arm")]
    const TABLE: Table = (243, 244, 245, 246, 247, Some(399));
    #[cfg(any(target_arch = "powerpc", target_arch = "powerpc64"))]
    const TABLE: Table = (227, 228, 229, 230, 231, Some(388));
    #[cfg(target_arch = "s390x")]
    const TABLE: Table = (243, 244, 245, 246, 247, Some(382));
    #[cfg(target_arch = "mips")]
    const TABLE: Table = (4241, 4242, 4243, 4244, 4245, Some(4368));
    #[cfg(all(target_arch = "mips64", target_pointer_width = "64"))]
    const TABLE: Table = (5200, 5201, 5202, 5203, 5204, Some(5328));
    #[cfg(all(target_arch = "mips64", target_pointer_width = "32"))]
    const TABLE: Table = (6200, 6201, 6202, 6203, 6204, Some(6332));
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    const TABLE: Table = (268, 269, 272, 270, 271, Some(361));
    #[cfg(target_arch = "m68k")]
    const TABLE: Table = (241, 242, 243, 244, 245, None);
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "arm",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64",
        target_arch = "m68k",
    )))]
    compile_error!(
        "the AIO system call numbers of this architecture are not known yet: add them to src/sys.rs"
    );

    pub(super) const IO_SETUP: c_long = TABLE.0;
    pub(super) const IO_DESTROY: c_long = TABLE.1;
    pub(super) const IO_GETEVENTS: c_long = TABLE.2;
    pub(super) const IO_SUBMIT: c_long = TABLE.3;
    pub(super) const IO_CANCEL: c_long = TABLE.4;
    pub(super) const IO_PGETEVENTS: Option<c_long> = TABLE.5;
}

/// Decodes a raw system call return value.
#[inline(always)]
fn decode(ret: c_long) -> SysResult {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as c_int))
    } else {
        // Truncation to int is libaio's behaviour: its wrapper stores the
        // result of syscall() in an int.
        Ok(ret as c_int)
    }
}

/// Defines `$name(nr, args...)`, which makes system call `nr` with the given
/// word-sized arguments (in the listed x86_64 registers) and decodes the
/// result. Registers the call does not take are left alone.
///
/// The functions are `unsafe`: the arguments must be valid for system call
/// `nr`, and any memory the kernel writes must belong to the caller.
macro_rules! define_syscall {
    ($name:ident, $($arg:ident in $reg:tt),*) => {
        #[cfg(all(target_arch = "x86_64", not(feature = "libc-syscall")))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: usize),*) -> SysResult {
            let ret: c_long;
            // SAFETY: the x86_64 Linux system call convention: number in
            // rax, arguments in rdi, rsi, rdx, r10, r8, r9; the kernel
            // clobbers rcx and r11 and returns in rax, and does not use the
            // user stack. What it does with the arguments is the caller's
            // contract.
            unsafe {
                core::arch::asm!(
                    "syscall",
                    inlateout("rax") nr => ret,
                    $(in($reg) $arg,)*
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
            }
            decode(ret)
        }

        #[cfg(any(not(target_arch = "x86_64"), feature = "libc-syscall"))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: usize),*) -> SysResult {
            // SAFETY: __errno_location() returns the calling thread's errno,
            // valid for the life of the thread; syscall() is variadic and
            // reads as many words as the call takes. The arguments are the
            // caller's contract.
            unsafe {
                let errno = libc::__errno_location();
                let saved = *errno;
                let ret = libc::syscall(nr, $($arg),*);
                if ret == -1 {
                    let err = *errno;
                    *errno = saved;
                    Err(Errno(err))
                } else {
                    decode(ret)
                }
            }
        }
    };
}

define_syscall!(syscall1, a in "rdi");
define_syscall!(syscall2, a in "rdi", b in "rsi");
define_syscall!(syscall3, a in "rdi", b in "rsi", c in "rdx");
define_syscall!(syscall5, a in "rdi", b in "rsi", c in "rdx", d in "r10", e in "r8");
define_syscall!(syscall6, a in "rdi", b in "rsi", c in "rdx", d in "r10", e in "r8", f in "r9");

/// `io_setup(2)`: creates a context for `maxevents` events and stores its
/// address in `*ctxp`, which must hold 0.
///
/// # Safety
///
/// The kernel writes the new context to `*ctxp`.
#[inline]
pub unsafe fn io_setup(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    // maxevents is sign-extended to a word, as libaio passes it; the kernel
    // reads the low 32 bits as unsigned.
    // SAFETY: the caller's contract.
    unsafe { syscall2(nr::IO_SETUP, maxevents as isize as usize, ctxp as usize) }
}

/// `io_destroy(2)`: cancels or waits for outstanding I/O, then frees the
/// context and unmaps its ring.
///
/// # Safety
///
/// Nothing in this process may use the ring after the call.
#[inline]
pub unsafe fn io_destroy(ctx: io_context_t) -> SysResult {
    // SAFETY: the caller's contract; the kernel validates ctx.
    unsafe { syscall1(nr::IO_DESTROY, ctx as usize) }
}

/// `io_submit(2)`: queues up to `nr` iocbs.
///
/// # Safety
///
/// The kernel writes each submitted iocb's `aio_key` field, and later the
/// I/O writes into the iocbs' buffers.
#[inline]
pub unsafe fn io_submit(ctx: io_context_t, nr: c_long, iocbs: *mut *mut iocb) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { syscall3(nr::IO_SUBMIT, ctx as usize, nr as usize, iocbs as usize) }
}

/// `io_cancel(2)`: tries to cancel `iocb`.
///
/// # Safety
///
/// The kernel may write one event to `*result`.
#[inline]
pub unsafe fn io_cancel(ctx: io_context_t, iocb: *mut iocb, result: *mut io_event) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe { syscall3(nr::IO_CANCEL, ctx as usize, iocb as usize, result as usize) }
}

/// `io_getevents(2)`: reaps between `min_nr` and `nr` events.
///
/// # Safety
///
/// The kernel writes up to `nr` events to `events`.
#[inline]
pub unsafe fn io_getevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe {
        syscall5(
            nr::IO_GETEVENTS,
            ctx as usize,
            min_nr as usize,
            nr as usize,
            events as usize,
            timeout as usize,
        )
    }
}

/// `io_pgetevents(2)`: io_getevents with the signal mask in `*sigmask` in
/// place while waiting. `sigmask` points at the kernel's `struct __aio_sigset`
/// (`io_sigset`, or on 32-bit builds possibly its widened `io_sigset_compat`).
///
/// # Safety
///
/// The kernel writes up to `nr` events to `events`.
#[inline]
pub unsafe fn io_pgetevents(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *mut libc::timespec,
    sigmask: *const c_void,
) -> SysResult {
    let Some(number) = nr::IO_PGETEVENTS else {
        return Err(Errno(libc::ENOSYS));
    };
    // SAFETY: the caller's contract.
    unsafe {
        syscall6(
            number,
            ctx as usize,
            min_nr as usize,
            nr as usize,
            events as usize,
            timeout as usize,
            sigmask as usize,
        )
    }
}

/// `membarrier(2)` with `cmd` and no flags; membarrier is how `io_destroy`
/// waits out the restartable sequences of other threads (`rseq`).
///
/// # Safety
///
/// None: the call reads and writes no memory of the caller.
#[inline]
pub unsafe fn membarrier(cmd: c_int) -> SysResult {
    // SAFETY: membarrier takes two integers and a CPU number, no pointers.
    unsafe { syscall3(libc::SYS_membarrier as c_long, cmd as usize, 0, 0) }
}

/// `madvise(2)` of `len` bytes at `addr`.
///
/// # Safety
///
/// The advice must not change what the caller's memory holds in this
/// process (the library only asks for MADV_WIPEONFORK, which acts in
/// children).
#[inline]
pub unsafe fn madvise(addr: *const c_void, len: usize, advice: c_int) -> SysResult {
    // SAFETY: the caller's contract; the kernel checks the range.
    unsafe {
        syscall3(
            libc::SYS_madvise as c_long,
            addr as usize,
            len,
            advice as usize,
        )
    }
}

/// The number of `io_pgetevents_time64(2)` (Linux 5.1), on 32-bit targets
/// whose `io_pgetevents` takes a 32-bit timespec (all but x32).
#[cfg(all(target_pointer_width = "32", not(target_arch = "x86_64")))]
const IO_PGETEVENTS_TIME64: c_long = if cfg!(target_arch = "mips") {
    4000 + 416
} else if cfg!(target_arch = "mips64") {
    6000 + 416
} else {
    416
};

/// `io_pgetevents_time64(2)`: io_pgetevents with the kernel's 64-bit
/// `struct __kernel_timespec`, which the kernel reads itself (`EFAULT` for an
/// unreadable one). `sigmask` as for [`io_pgetevents`], or NULL.
///
/// # Safety
///
/// The kernel writes up to `nr` events to `events`.
#[cfg(all(target_pointer_width = "32", not(target_arch = "x86_64")))]
#[inline]
pub unsafe fn io_pgetevents_time64(
    ctx: io_context_t,
    min_nr: c_long,
    nr: c_long,
    events: *mut io_event,
    timeout: *const c_void,
    sigmask: *const c_void,
) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe {
        syscall6(
            IO_PGETEVENTS_TIME64,
            ctx as usize,
            min_nr as usize,
            nr as usize,
            events as usize,
            timeout as usize,
            sigmask as usize,
        )
    }
}

/// False for addresses no user-space object can have: NULL, and on targets
/// whose kernel owns the upper half of the address space, that half. (On
/// 32-bit targets a process may use all 4 GiB on a 64-bit kernel, so there
/// only NULL is ruled out.) Used to decline reading through a pointer, which
/// is always safe: the kernel then gets it and checks it.
#[inline(always)]
pub(crate) fn plausible_user_address(addr: usize) -> bool {
    const KERNEL_HALF: usize = if cfg!(all(
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64",
            target_arch = "loongarch64"
        )
    )) {
        1 << (usize::BITS - 1)
    } else {
        0
    };
    addr != 0 && addr & KERNEL_HALF == 0
}

/// Whether the kernel can write an `io_context_t` at `ctxp`: asks it to
/// store something there (getcpu(2) writes the current CPU and node numbers,
/// 4 bytes each) and to say `EFAULT` if it cannot. The handle's old value is
/// lost; the caller overwrites it anyway.
///
/// # Safety
///
/// `ctxp` is the caller's to overwrite (the kernel checks the address).
pub unsafe fn kernel_can_write(ctxp: *mut io_context_t) -> bool {
    let cpu = ctxp.cast::<u32>();
    // The node number fills the second half of a 64-bit handle.
    let node = if cfg!(target_pointer_width = "64") {
        cpu.wrapping_add(1)
    } else {
        core::ptr::null_mut()
    };
    // SAFETY: getcpu writes at most the two words, inside the handle; the
    // caller's contract.
    unsafe { syscall3(nr::GETCPU, cpu as usize, node as usize, 0) }.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_splits_errors_from_values() {
        assert_eq!(decode(0), Ok(0));
        assert_eq!(decode(7), Ok(7));
        assert_eq!(decode(-22), Err(Errno::EINVAL));
        assert_eq!(decode(-4095), Err(Errno(4095)));
        // Not an error number: truncated to int like any other value.
        assert_eq!(decode(-4096), Ok(-4096));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(decode(0x1_0000_0005), Ok(5));
    }

    #[test]
    fn user_addresses() {
        assert!(!plausible_user_address(0));
        assert!(plausible_user_address(0x7ffd_0000_1000));
        #[cfg(target_arch = "x86_64")]
        assert!(!plausible_user_address(0xffff_ffff_8100_0000));
        #[cfg(target_pointer_width = "32")]
        assert!(plausible_user_address(0xf7f0_0000));
    }

    #[test]
    fn errno_negation() {
        assert_eq!(Errno::EINVAL.negated(), -22);
        assert_eq!(Errno::EFAULT.negated(), -14);
    }
}
