//! The six raw kernel AIO system calls, getcpu(2) as a probe, and the
//! madvise(2) and membarrier(2) calls that keep the registry of live rings
//! safe (see `registry`).
//!
//! Every other module reaches the kernel through the functions here. Each
//! passes its arguments to the kernel exactly as libaio 0.3.113 does (same
//! widths, same sign extension) and decodes the result into
//! `Result<c_int, Errno>`, truncating a success value to `int` as libaio does.
//!
//! `errno` is never changed. On x86_64 (and x32) the call is made with
//! inline assembly, which does not touch `errno` at all; elsewhere (or with
//! the `libc-syscall` feature) libc's `syscall()` is used and `errno` is put
//! back the way the caller left it, as libaio does.
//!
//! On x32 the kernel reads every argument as a full 64-bit register, while
//! the C types are 32 bits wide: pointers and unsigned values are
//! zero-extended and `long`/`int` values sign-extended ([`Word`]), and
//! io_pgetevents' signal-set pair is passed with 64-bit words, the layout of
//! the 64-bit system call that x32 uses.
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
///
/// Public (as `aio_rs::syscall_numbers`) for the tests, which watch for these
/// calls; not part of the C interface.
///
/// cbindgen:ignore
#[allow(missing_docs)]
pub mod nr {
    use core::ffi::c_long;

    /// (io_setup, io_destroy, io_getevents, io_submit, io_cancel, io_pgetevents)
    type Table = (c_long, c_long, c_long, c_long, c_long, Option<c_long>);

    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    pub const GETCPU: c_long = 309;
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    pub const GETCPU: c_long = 0x4000_0000 + 309;
    #[cfg(target_arch = "x86")]
    pub const GETCPU: c_long = 318;
    #[cfg(any(
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    ))]
    pub const GETCPU: c_long = 168;
    #[cfg(target_arch = "arm")]
    pub const GETCPU: c_long = 345;
    #[cfg(any(target_arch = "powerpc", target_arch = "powerpc64"))]
    pub const GETCPU: c_long = 302;
    #[cfg(target_arch = "s390x")]
    pub const GETCPU: c_long = 311;
    #[cfg(target_arch = "mips")]
    pub const GETCPU: c_long = 4312;
    #[cfg(all(target_arch = "mips64", target_pointer_width = "64"))]
    pub const GETCPU: c_long = 5271;
    #[cfg(all(target_arch = "mips64", target_pointer_width = "32"))]
    pub const GETCPU: c_long = 6275;
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    pub const GETCPU: c_long = 308;
    #[cfg(target_arch = "m68k")]
    pub const GETCPU: c_long = 314;

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

    pub const IO_SETUP: c_long = TABLE.0;
    pub const IO_DESTROY: c_long = TABLE.1;
    pub const IO_GETEVENTS: c_long = TABLE.2;
    pub const IO_SUBMIT: c_long = TABLE.3;
    pub const IO_CANCEL: c_long = TABLE.4;
    pub const IO_PGETEVENTS: Option<c_long> = TABLE.5;
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

/// One system call argument, as the kernel reads it. With the inline
/// assembly of x86_64 it is a whole 64-bit register, also on x32, whose C
/// types are 32 bits wide; with libc's `syscall()` it is a C `long`, which
/// syscall() passes on.
#[cfg(all(target_arch = "x86_64", not(feature = "libc-syscall")))]
type Word = u64;
/// One system call argument: a C `long`, as syscall() takes it.
#[cfg(any(not(target_arch = "x86_64"), feature = "libc-syscall"))]
type Word = usize;

/// A pointer or an unsigned value as a system call argument: zero-extended
/// (on x32 an address may be above 2 GiB, and the kernel would refuse it
/// with its upper half set).
#[inline(always)]
fn unsigned(value: usize) -> Word {
    value as Word
}

/// A C `long` or `int` as a system call argument: sign-extended, so that on
/// x32 the kernel's 64-bit `long` holds the same number (-1 stays -1).
#[inline(always)]
#[allow(clippy::unnecessary_cast)] // c_long is i32 on 32-bit targets
fn signed(value: c_long) -> Word {
    value as i64 as Word
}

/// Defines `$name(nr, args...)`, which makes system call `nr` with the given
/// arguments (in the listed x86_64 registers) and decodes the result.
/// Registers the call does not take are left alone.
///
/// The functions are `unsafe`: the arguments must be valid for system call
/// `nr`, and any memory the kernel writes must belong to the caller.
macro_rules! define_syscall {
    ($name:ident, $($arg:ident in $reg:tt),*) => {
        #[cfg(all(target_arch = "x86_64", not(feature = "libc-syscall")))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: Word),*) -> SysResult {
            let ret: Word;
            // SAFETY: the x86_64 Linux system call convention (x32's too):
            // number in rax, arguments in rdi, rsi, rdx, r10, r8, r9, each a
            // whole 64-bit register; the kernel clobbers rcx and r11 and
            // returns in rax, and does not use the user stack. What it does
            // with the arguments is the caller's contract.
            unsafe {
                core::arch::asm!(
                    "syscall",
                    inlateout("rax") signed(nr) => ret,
                    $(in($reg) $arg,)*
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
            }
            // The kernel's `long` result, truncated to the C `long` (on x32,
            // every value it returns here fits).
            decode(ret as i64 as c_long)
        }

        #[cfg(any(not(target_arch = "x86_64"), feature = "libc-syscall"))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: Word),*) -> SysResult {
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
    #[allow(clippy::unnecessary_cast)] // c_long is c_int on 32-bit targets
    let maxevents = maxevents as c_long;
    // SAFETY: the caller's contract.
    unsafe { syscall2(nr::IO_SETUP, signed(maxevents), unsigned(ctxp as usize)) }
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
    unsafe { syscall1(nr::IO_DESTROY, unsigned(ctx as usize)) }
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
    unsafe {
        syscall3(
            nr::IO_SUBMIT,
            unsigned(ctx as usize),
            signed(nr),
            unsigned(iocbs as usize),
        )
    }
}

/// `io_cancel(2)`: tries to cancel `iocb`.
///
/// # Safety
///
/// The kernel may write one event to `*result`.
#[inline]
pub unsafe fn io_cancel(ctx: io_context_t, iocb: *mut iocb, result: *mut io_event) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe {
        syscall3(
            nr::IO_CANCEL,
            unsigned(ctx as usize),
            unsigned(iocb as usize),
            unsigned(result as usize),
        )
    }
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
            unsigned(ctx as usize),
            signed(min_nr),
            signed(nr),
            unsigned(events as usize),
            unsigned(timeout as usize),
        )
    }
}

/// `io_pgetevents(2)`: io_getevents with the signal mask in `*sigmask` in
/// place while waiting. `sigmask` is NULL or points at the kernel's `struct
/// __aio_sigset` (`io_sigset`, or on 32-bit builds possibly its widened
/// `io_sigset_compat`).
///
/// On x32 the call is the 64-bit system call, which reads the pair as two
/// 64-bit words: the pair is read here and passed on widened. (Its length is
/// never 0 in an `io_sigset` of this library, so a 0 in the second word is
/// the pad of an `io_sigset_compat`, whose length is the third.)
///
/// # Safety
///
/// The kernel writes up to `nr` events to `events`; on x32, `sigmask` must
/// be readable.
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
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    let wide: [u64; 2];
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    let sigmask = if sigmask.is_null() {
        sigmask
    } else {
        let words = sigmask.cast::<u32>();
        // SAFETY: the caller's contract: an io_sigset (two words) or an
        // io_sigset_compat (three: address, pad, length) is readable there.
        let (ss, mut len) = unsafe { (words.read(), words.add(1).read()) };
        if len == 0 {
            // The library's io_sigset always holds the signal set's size:
            // a 0 there is the pad of an io_sigset_compat, whose length
            // follows.
            // SAFETY: as above, an io_sigset_compat.
            len = unsafe { words.add(2).read() };
        }
        wide = [ss.into(), len.into()];
        wide.as_ptr().cast::<c_void>()
    };
    // SAFETY: the caller's contract; `wide`, where used, outlives the call.
    unsafe {
        syscall6(
            number,
            unsigned(ctx as usize),
            signed(min_nr),
            signed(nr),
            unsigned(events as usize),
            unsigned(timeout as usize),
            unsigned(sigmask as usize),
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
    unsafe { syscall3(libc::SYS_membarrier as c_long, signed(cmd.into()), 0, 0) }
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
            unsigned(addr as usize),
            unsigned(len),
            signed(advice.into()),
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
            unsigned(ctx as usize),
            signed(min_nr),
            signed(nr),
            unsigned(events as usize),
            unsigned(timeout as usize),
            unsigned(sigmask as usize),
        )
    }
}

/// False for addresses no user-space object can have: NULL, and on targets
/// whose kernel owns the upper half of the address space, that half. (On
/// 32-bit targets a process may use all 4 GiB on a 64-bit kernel, so there
/// only NULL is ruled out.) Used to decline reading through a pointer, which
/// is always safe: the kernel then gets it and checks it.
#[inline(always)]
pub fn plausible_user_address(addr: usize) -> bool {
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
    unsafe {
        syscall3(
            nr::GETCPU,
            unsigned(cpu as usize),
            unsigned(node as usize),
            0,
        )
    }
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::c_ulong;

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
        #[cfg(target_pointer_width = "64")]
        assert!(plausible_user_address(0x7ffd_0000_1000));
        #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
        assert!(!plausible_user_address(0xffff_ffff_8100_0000));
        #[cfg(target_pointer_width = "32")]
        assert!(plausible_user_address(0xf7f0_0000));
    }

    #[test]
    fn arguments_are_extended_as_the_kernel_reads_them() {
        // C longs sign-extended: -1 stays -1 in a 64-bit register.
        assert_eq!(signed(-1), Word::MAX);
        assert_eq!(signed(-5), -5i64 as Word);
        // Pointers zero-extended: an x32 address above 2 GiB keeps a clear
        // upper half.
        assert_eq!(unsigned(usize::MAX) as u128, usize::MAX as u128);
        assert_eq!(unsigned(0x8000_0000) as u128, 0x8000_0000);
    }

    /// The kernel sees the counts as the C code meant them: on x32 a count
    /// of -1 passed zero-extended would be 2^32 - 1, a valid count, and the
    /// calls would succeed; and the signal-set pair has the layout the
    /// kernel reads (on x32, 64-bit words), or it would answer EINVAL.
    #[test]
    fn the_kernel_reads_the_arguments_as_given() {
        let mut ctx: io_context_t = core::ptr::null_mut();
        // SAFETY: ctx is ours to write.
        assert_eq!(unsafe { io_setup(4, &mut ctx) }, Ok(0));
        // SAFETY: an all-zero event is a valid value.
        let mut events: [io_event; 4] = unsafe { core::mem::zeroed() };
        let events = events.as_mut_ptr();
        let mut tick = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1,
        };
        let tick = &raw mut tick;
        // SAFETY: room for 4 events; the kernel checks the rest.
        let getevents = |nr| unsafe { io_getevents(ctx, 0, nr, events, tick) };
        assert_eq!(getevents(-1), Err(Errno::EINVAL));
        assert_eq!(getevents(4), Ok(0));

        // SAFETY: an empty signal set.
        let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
        // SAFETY: set is ours.
        unsafe { libc::sigemptyset(&mut set) };
        let pair = crate::abi::io_sigset {
            ss: &raw mut set as c_ulong,
            ss_len: KERNEL_SIGSET_SIZE as c_ulong,
        };
        let pgetevents = |nr, sigmask: *const c_void| {
            // SAFETY: room for 4 events; the pair and the set outlive the
            // call.
            unsafe { io_pgetevents(ctx, 0, nr, events, tick, sigmask) }
        };
        if nr::IO_PGETEVENTS.is_some() {
            assert_eq!(pgetevents(4, (&raw const pair).cast()), Ok(0));
            assert_eq!(pgetevents(-1, (&raw const pair).cast()), Err(Errno::EINVAL));
            assert_eq!(pgetevents(4, core::ptr::null()), Ok(0));
        }
        // SAFETY: the context made above, unused from here on.
        assert_eq!(unsafe { io_destroy(ctx) }, Ok(0));
    }

    #[test]
    fn errno_negation() {
        assert_eq!(Errno::EINVAL.negated(), -22);
        assert_eq!(Errno::EFAULT.negated(), -14);
    }
}
