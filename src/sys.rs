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
    // The io_uring backend's (crate-private, as above).
    pub(crate) const EAGAIN: Self = Self(libc::EAGAIN);
    pub(crate) const EBADF: Self = Self(libc::EBADF);
    pub(crate) const EINTR: Self = Self(libc::EINTR);
    pub(crate) const EINPROGRESS: Self = Self(libc::EINPROGRESS);
    pub(crate) const ENOENT: Self = Self(libc::ENOENT);
    pub(crate) const EOPNOTSUPP: Self = Self(libc::EOPNOTSUPP);
    pub(crate) const EPERM: Self = Self(libc::EPERM);
    pub(crate) const ETIME: Self = Self(libc::ETIME);
    pub(crate) const ENOMEM: Self = Self(libc::ENOMEM);
    pub(crate) const EBUSY: Self = Self(libc::EBUSY);
    pub(crate) const ESPIPE: Self = Self(libc::ESPIPE);

    /// The error number.
    pub(crate) const fn get(self) -> c_int {
        self.0
    }

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

    /// The first of io_uring_setup, io_uring_enter and io_uring_register
    /// (Linux 5.1), numbered alike on every architecture since 5.1 but for
    /// the offsets of its ABIs.
    const IO_URING: c_long = if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
        0x4000_0000 + 425
    } else if cfg!(target_arch = "mips") {
        4000 + 425
    } else if cfg!(all(target_arch = "mips64", target_pointer_width = "64")) {
        5000 + 425
    } else if cfg!(all(target_arch = "mips64", target_pointer_width = "32")) {
        6000 + 425
    } else {
        425
    };
    pub const IO_URING_SETUP: c_long = IO_URING;
    pub const IO_URING_ENTER: c_long = IO_URING + 1;
    pub const IO_URING_REGISTER: c_long = IO_URING + 2;
}

/// Decodes a raw system call return value into a word, or an error. (The
/// AIO calls then truncate the word to `int`, as libaio's wrapper stores the
/// result of syscall() in an int: see `int_syscall`.)
#[inline(always)]
#[cfg_attr(
    any(not(target_arch = "x86_64"), feature = "libc-syscall"),
    allow(dead_code) // syscall() decodes its own result (keeping_errno)
)]
fn decode_word(ret: c_long) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as c_int))
    } else {
        Ok(ret as usize)
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
/// arguments (in the listed x86_64 registers) and returns the result decoded
/// into a word or an error. Registers the call does not take are left alone.
///
/// The functions are `unsafe`: the arguments must be valid for system call
/// `nr`, and any memory the kernel writes must belong to the caller.
macro_rules! define_syscall {
    ($name:ident, $($arg:ident in $reg:tt),*) => {
        #[cfg(all(target_arch = "x86_64", not(feature = "libc-syscall")))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: Word),*) -> Result<usize, Errno> {
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
            decode_word(ret as i64 as c_long)
        }

        #[cfg(any(not(target_arch = "x86_64"), feature = "libc-syscall"))]
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: Word),*) -> Result<usize, Errno> {
            // SAFETY: syscall() is variadic and reads as many words as the
            // call takes. The arguments are the caller's contract.
            keeping_errno(|| unsafe { libc::syscall(nr, $($arg),*) })
        }
    };
}

/// Runs `call`, a libc function that reports failure as -1 with `errno`
/// set, and gives its result, or the error; `errno` is left as the caller
/// had it.
#[inline(always)]
fn keeping_errno<T: Copy + Into<i64>>(call: impl FnOnce() -> T) -> Result<usize, Errno> {
    // SAFETY: __errno_location() returns the calling thread's errno, valid
    // for the life of the thread.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    let ret = call();
    if ret.into() == -1 {
        // SAFETY: as above.
        let err = unsafe { errno.replace(saved) };
        Err(Errno(err))
    } else {
        Ok(ret.into() as usize)
    }
}

define_syscall!(raw1, a in "rdi");
define_syscall!(raw2, a in "rdi", b in "rsi");
define_syscall!(raw3, a in "rdi", b in "rsi", c in "rdx");
define_syscall!(raw4, a in "rdi", b in "rsi", c in "rdx", d in "r10");
define_syscall!(raw5, a in "rdi", b in "rsi", c in "rdx", d in "r10", e in "r8");
define_syscall!(raw6, a in "rdi", b in "rsi", c in "rdx", d in "r10", e in "r8", f in "r9");

/// The AIO calls' form of [`raw1`]...: the result truncated to `int`, as
/// libaio's wrapper stores the result of syscall() in an int.
macro_rules! int_syscall {
    ($name:ident, $raw:ident, $($arg:ident),*) => {
        #[inline(always)]
        unsafe fn $name(nr: c_long, $($arg: Word),*) -> SysResult {
            // SAFETY: the caller's contract.
            unsafe { $raw(nr, $($arg),*) }.map(|value| value as c_int)
        }
    };
}

int_syscall!(syscall1, raw1, a);
int_syscall!(syscall2, raw2, a, b);
int_syscall!(syscall3, raw3, a, b, c);
int_syscall!(syscall5, raw5, a, b, c, d, e);
int_syscall!(syscall6, raw6, a, b, c, d, e, f);

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

// ---------------------------------------------------------------- io_uring
//
// The io_uring backend's calls (see `uring`). io_uring's numbers are in
// `nr`; the others come from the libc crate. Arguments are passed as
// `unsigned` words: the int and u32 arguments the kernel reads as such.

/// `io_uring_setup(2)`: a new io_uring instance with room for `entries`
/// submissions; returns its file descriptor.
///
/// # Safety
///
/// `params` points to a `struct io_uring_params`, which the kernel reads and
/// fills in.
#[inline]
pub unsafe fn io_uring_setup(entries: u32, params: *mut c_void) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe {
        raw2(
            nr::IO_URING_SETUP,
            unsigned(entries as usize),
            unsigned(params as usize),
        )
    }
    .map(|fd| fd as c_int)
}

/// `io_uring_enter(2)`: submits `to_submit` entries of the submission queue
/// and, with `IORING_ENTER_GETEVENTS`, waits for `min_complete` completions;
/// returns how many entries were submitted.
///
/// # Safety
///
/// The submission queue entries and `arg` (NULL, or the `argsz` bytes the
/// flags say) are readable; the requests write what they say.
#[inline]
pub unsafe fn io_uring_enter(
    fd: c_int,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> Result<u32, Errno> {
    // SAFETY: the caller's contract.
    unsafe {
        raw6(
            nr::IO_URING_ENTER,
            unsigned(fd as usize),
            unsigned(to_submit as usize),
            unsigned(min_complete as usize),
            unsigned(flags as usize),
            unsigned(arg as usize),
            unsigned(argsz),
        )
    }
    .map(|n| n as u32)
}

/// `io_uring_register(2)`.
///
/// # Safety
///
/// `arg` holds what `opcode` reads, for `nr` items, and has room for what
/// it writes.
#[inline]
pub unsafe fn io_uring_register(fd: c_int, opcode: u32, arg: *mut c_void, nr: u32) -> SysResult {
    // SAFETY: the caller's contract.
    unsafe {
        raw4(
            nr::IO_URING_REGISTER,
            unsigned(fd as usize),
            unsigned(opcode as usize),
            unsigned(arg as usize),
            unsigned(nr as usize),
        )
    }
    .map(|n| n as c_int)
}

// ------------------------------------------ memory and files (io_uring only)

/// `mmap(2)` of `len` bytes anywhere, with libc's wrapper (which picks
/// mmap or mmap2 for the architecture); errno is left alone.
///
/// # Safety
///
/// A new mapping never aliases memory the caller uses; `fd` and `offset`
/// are the caller's to map.
#[inline]
pub unsafe fn mmap(
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: u64,
) -> Result<*mut c_void, Errno> {
    let mut mapped = core::ptr::null_mut();
    keeping_errno(|| {
        // SAFETY: the caller's contract.
        mapped = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                prot,
                flags,
                fd,
                offset as libc::off_t,
            )
        };
        if mapped == libc::MAP_FAILED { -1i64 } else { 0 }
    })?;
    Ok(mapped)
}

/// `munmap(2)`.
///
/// # Safety
///
/// Nothing uses the range any more.
#[inline]
pub unsafe fn munmap(addr: *mut c_void, len: usize) {
    // SAFETY: the caller's contract.
    let _ = keeping_errno(|| unsafe { libc::munmap(addr, len) });
}

/// `mprotect(2)`.
///
/// # Safety
///
/// Nothing in the range is written (or read) against the new protection.
#[inline]
pub unsafe fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    keeping_errno(|| unsafe { libc::mprotect(addr, len, prot) }).map(|_| ())
}

/// `close(2)` of a descriptor the library opened.
#[inline]
pub fn close(fd: c_int) {
    // SAFETY: close takes no pointer; the descriptor is the caller's.
    let _ = unsafe { raw1(libc::SYS_close as c_long, unsigned(fd as usize)) };
}

/// `fcntl(fd, F_GETFL)`: the descriptor's access mode and status flags, or
/// `EBADF`.
#[inline]
pub fn fcntl_getfl(fd: c_int) -> SysResult {
    fcntl(fd, libc::F_GETFL)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a new descriptor for the same file,
/// or `EBADF`.
#[inline]
pub fn dup(fd: c_int) -> SysResult {
    fcntl(fd, libc::F_DUPFD_CLOEXEC)
}

/// `fcntl(fd, cmd, 0)`, for the commands that take no pointer.
#[inline]
fn fcntl(fd: c_int, cmd: c_int) -> SysResult {
    // SAFETY: the callers' commands take no pointer.
    unsafe {
        raw3(
            libc::SYS_fcntl as c_long,
            unsigned(fd as usize),
            unsigned(cmd as usize),
            0,
        )
    }
    .map(|value| value as c_int)
}

/// The file type bits (`S_IFMT`) of `fd`, with statx(2).
#[inline]
pub fn file_type(fd: c_int) -> Result<u32, Errno> {
    file_kind(fd).map(|(kind, _)| kind)
}

/// The file type bits (`S_IFMT`) of `fd` and, for a device, its number
/// (major, minor), with one statx(2).
pub fn file_kind(fd: c_int) -> Result<(u32, (u32, u32)), Errno> {
    // struct statx is 256 bytes; stx_mode is the u16 at byte 28,
    // stx_rdev_major and stx_rdev_minor the u32s at bytes 128 and 132.
    let mut buf = [0u64; 32];
    // SAFETY: statx writes at most its 256-byte struct into buf; the empty
    // path is a NUL-terminated string.
    unsafe {
        raw5(
            libc::SYS_statx as c_long,
            unsigned(fd as usize),
            unsigned(c"".as_ptr() as usize),
            unsigned(libc::AT_EMPTY_PATH as usize),
            unsigned(libc::STATX_TYPE as usize),
            unsigned(buf.as_mut_ptr() as usize),
        )
    }?;
    let bytes = buf.as_ptr().cast::<u8>();
    // SAFETY: bytes 28, 128 and 132 of the 256 are inside buf, aligned for
    // their types.
    let (mode, major, minor) = unsafe {
        (
            bytes.add(28).cast::<u16>().read(),
            bytes.add(128).cast::<u32>().read(),
            bytes.add(132).cast::<u32>().read(),
        )
    };
    Ok((u32::from(mode) & libc::S_IFMT, (major, minor)))
}

/// The type of the file system `fd` is on (`f_type` of fstatfs(2)).
#[inline]
pub fn file_system(fd: c_int) -> Result<u64, Errno> {
    // SAFETY: statfs64 is plain data; all-zero is valid.
    let mut stat: libc::statfs64 = unsafe { core::mem::zeroed() };
    // SAFETY: fstatfs64 writes one struct statfs64 into `stat`.
    keeping_errno(|| unsafe { libc::fstatfs64(fd, &mut stat) })?;
    Ok(stat.f_type as u64 & 0xffff_ffff)
}

/// `preadv2(2)` (or `pwritev2(2)` when `write`) of the `count` iovecs at
/// `iov` at `offset` of `fd`, with `flags`: the bytes transferred.
///
/// # Safety
///
/// The iovecs and their buffers are the caller's (the kernel checks them
/// and answers `EFAULT`).
#[inline]
pub unsafe fn preadv2_pwritev2(
    write: bool,
    fd: c_int,
    iov: *const libc::iovec,
    count: usize,
    offset: i64,
    flags: u32,
) -> Result<usize, Errno> {
    let nr = if write {
        libc::SYS_pwritev2
    } else {
        libc::SYS_preadv2
    };
    // x32's calls are the compat ones taking the offset in one 64-bit
    // register, then the flags.
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    // SAFETY: the caller's contract.
    return unsafe {
        raw5(
            nr as c_long,
            unsigned(fd as usize),
            unsigned(iov as usize),
            unsigned(count),
            offset as u64 as Word,
            unsigned(flags as usize),
        )
    };
    // Elsewhere the offset as the kernel takes it: low and high halves of
    // the words (on 64-bit targets the high one is ignored).
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "32")))]
    {
        let low = offset as u64 as usize;
        let high = ((offset as u64) >> 32 >> (usize::BITS - 32)) as usize;
        // SAFETY: the caller's contract.
        unsafe {
            raw6(
                nr as c_long,
                unsigned(fd as usize),
                unsigned(iov as usize),
                unsigned(count),
                unsigned(low),
                unsigned(high),
                unsigned(flags as usize),
            )
        }
    }
}

/// `write(2)` of `len` bytes at `buf` to `fd`.
///
/// # Safety
///
/// `buf` is readable for `len` bytes.
#[inline]
pub unsafe fn write(fd: c_int, buf: *const c_void, len: usize) -> Result<usize, Errno> {
    // SAFETY: the caller's contract.
    unsafe {
        raw3(
            libc::SYS_write as c_long,
            unsigned(fd as usize),
            unsigned(buf as usize),
            unsigned(len),
        )
    }
}

/// `readlinkat(AT_FDCWD, path, buf)`: the number of bytes stored (not
/// NUL-terminated).
#[inline]
pub fn readlink(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: a NUL-terminated path; the kernel writes at most buf.len()
    // bytes into buf.
    unsafe {
        raw4(
            libc::SYS_readlinkat as c_long,
            unsigned(libc::AT_FDCWD as usize),
            unsigned(path.as_ptr() as usize),
            unsigned(buf.as_mut_ptr() as usize),
            unsigned(buf.len()),
        )
    }
}

/// Reads the start of the file at `path` into `buf` (open, read, close);
/// returns how many bytes.
#[inline]
pub fn read_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: a NUL-terminated path, no pointer written.
    let fd = unsafe {
        raw4(
            libc::SYS_openat as c_long,
            unsigned(libc::AT_FDCWD as usize),
            unsigned(path.as_ptr() as usize),
            unsigned((libc::O_RDONLY | libc::O_CLOEXEC) as usize),
            0,
        )
    }?;
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let got = unsafe {
        raw3(
            libc::SYS_read as c_long,
            unsigned(fd),
            unsigned(buf.as_mut_ptr() as usize),
            unsigned(buf.len()),
        )
    };
    close(fd as c_int);
    got
}

/// `futex(FUTEX_WAIT_PRIVATE)`: sleeps while `*word == expected` (or until
/// woken, or a signal).
#[inline]
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32) {
    futex(word, libc::FUTEX_WAIT, expected);
}

/// `futex(FUTEX_WAKE_PRIVATE)`: wakes up to `count` sleepers on `word`.
#[inline]
pub fn futex_wake(word: &core::sync::atomic::AtomicU32, count: u32) {
    futex(word, libc::FUTEX_WAKE, count);
}

/// futex(2) operation `op` (private) on `word` with `val`, no timeout.
#[inline]
fn futex(word: &core::sync::atomic::AtomicU32, op: c_int, val: u32) {
    // SAFETY: the kernel reads the word (FUTEX_WAIT) or uses its address as
    // a key (FUTEX_WAKE); the reference keeps it alive. No timeout.
    let _ = unsafe {
        raw4(
            libc::SYS_futex as c_long,
            unsigned(word.as_ptr() as usize),
            unsigned((op | libc::FUTEX_PRIVATE_FLAG) as usize),
            unsigned(val as usize),
            0,
        )
    };
}

/// `ppoll(NULL, 0, timeout, sigmask)`: sleeps for `timeout` (0: not at all)
/// with the signal mask `*sigmask` in place (NULL: unchanged). `EINTR` when
/// a signal the mask lets through is pending or arrives: the kernel then
/// delivers it with that mask, as io_pgetevents(2) does.
///
/// # Safety
///
/// `sigmask` is NULL or a `sigset_t` for the kernel to read (it answers
/// `EFAULT` for a bad one).
#[inline]
pub unsafe fn ppoll_for(nanoseconds: u32, sigmask: *const libc::sigset_t) -> SysResult {
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: nanoseconds as _,
    };
    // SAFETY: no descriptors; the timeout outlives the call; the mask is
    // the caller's contract.
    unsafe {
        raw5(
            libc::SYS_ppoll as c_long,
            0,
            0,
            unsigned((&raw const timeout) as usize),
            unsigned(sigmask as usize),
            unsigned(KERNEL_SIGSET_SIZE),
        )
    }
    .map(|n| n as c_int)
}

/// poll(2) of one descriptor for `events`, not waiting: the events ready
/// now (with `POLLERR`, `POLLHUP`, `POLLNVAL` as poll reports them).
#[inline]
pub fn poll_now(fd: c_int, events: i16) -> Result<i16, Errno> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: one pollfd, written by the kernel; the timeout outlives the
    // call; no mask.
    unsafe {
        raw5(
            libc::SYS_ppoll as c_long,
            unsigned((&raw mut pfd) as usize),
            unsigned(1),
            unsigned((&raw const zero) as usize),
            0,
            0,
        )
    }?;
    Ok(pfd.revents)
}

/// Whether the calling thread has `CAP_SYS_ADMIN` or `CAP_SYS_NICE` in its
/// effective set (capget(2)), as the kernel asks of a real-time I/O priority.
pub fn may_use_realtime_io_priority() -> bool {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = [LINUX_CAPABILITY_VERSION_3, 0u32];
    let mut data = [0u32; 6];
    // SAFETY: the kernel reads the header and writes two 12-byte records
    // into data.
    let ok = unsafe {
        raw2(
            libc::SYS_capget as c_long,
            unsigned(header.as_mut_ptr() as usize),
            unsigned(data.as_mut_ptr() as usize),
        )
    }
    .is_ok();
    // The first record's first word: effective capabilities 0 to 31.
    let effective = data[0];
    ok && effective & (1 << 21 | 1 << 23) != 0
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
        let decode = |ret| decode_word(ret).map(|value| value as c_int);
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
