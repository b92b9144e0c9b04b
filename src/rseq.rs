//! Restartable sequences (rseq(2)) on x86_64: committing a user-space reap
//! in a way that code a signal handler interrupted, and whose lease the
//! handler took over, cannot.
//!
//! glibc (2.35 and later) registers an rseq area for every thread it starts,
//! at `__rseq_offset` from the thread pointer. A thread that stores the
//! address of a critical-section descriptor in that area's `rseq_cs` field
//! and then runs the instructions the descriptor names is moved by the
//! kernel to the section's abort address if it is preempted, migrated or
//! interrupted by a signal before the last instruction of the section (its
//! commit) has run. The user-space reap copies completions out of the ring
//! and stores the ring's new head as that last instruction, after checking,
//! inside the section, that the registry still holds the context and that
//! the reaping lease is still the thread's own (`registry`). A signal
//! handler that takes the lease over therefore never races with the commit
//! of the code it interrupted: that code is restarted before the handler
//! runs, and finds the lease gone.
//!
//! The section is hand-written assembly, short, with no call and no stack
//! use. An abort returns [`ABORTED`] for the caller to start again.
//!
//! (Only signal delivery and preemption are relied on here, never
//! membarrier's restart of other threads' sequences: see `registry`.)

use core::ffi::c_long;
use core::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize};

use crate::abi::io_event;
use crate::ring::AIO_RING_MAGIC;

/// glibc's rseq signature on x86: the four bytes before every abort address.
pub(crate) const SIGNATURE: u32 = 0x5305_3053;

/// Offset of `rseq_cs` in the kernel's `struct rseq`.
pub(crate) const RSEQ_CS: usize = 8;
/// Offset of `cpu_id` (negative while the thread is not registered).
pub(crate) const CPU_ID: usize = 4;

/// `__rseq_offset` as glibc gave it, when glibc registered an rseq area per
/// thread; [`process::init`](crate::process) sets it once, at load.
pub(crate) static OFFSET: AtomicIsize = AtomicIsize::new(0);

/// Whether glibc registers an rseq area for its threads (set with
/// [`OFFSET`], at load).
pub(crate) static GLIBC_REGISTERS: AtomicBool = AtomicBool::new(false);

/// Results of the section below, besides a count of events.
/// The registry no longer holds the context: it is being destroyed.
pub(crate) const DEAD: c_long = -1;
/// The ring is not in the kernel's format (or its indexes are out of range).
pub(crate) const NOT_KERNEL: c_long = -2;
/// The ring holds fewer completions than asked for.
pub(crate) const TOO_FEW: c_long = -3;
/// The user-space reaping lease was taken over (see `registry`).
pub(crate) const REVOKED: c_long = -4;
/// The section was aborted by the kernel: run it again.
pub(crate) const ABORTED: c_long = -5;
/// This thread has no rseq area registered: no protection.
pub(crate) const UNPROTECTED: c_long = -6;

/// Reads glibc's rseq offset, if glibc registers rseq areas (glibc 2.35 and
/// later, unless turned off with the `glibc.pthread.rseq` tunable).
pub(crate) fn glibc_offset() -> Option<isize> {
    let mut offset = 0isize;
    // SAFETY: the routine reads glibc's two constants through weak
    // references (0 when they do not exist) and writes one word to `offset`.
    let size = unsafe { __libaio_glibc_rseq(&mut offset) };
    (size != 0).then_some(offset)
}

/// The address of glibc's `__libc_single_threaded` (glibc 2.32 and later),
/// looked up with `dlsym` so that the library needs no GLIBC_2.32 version
/// and still loads on an older glibc (where it finds nothing).
pub(crate) fn glibc_single_threaded() -> Option<*mut u8> {
    glibc_symbol(c"__libc_single_threaded")
}

/// The address of the global symbol `name`, looked up with glibc's `dlsym`
/// (so that the library needs no version of glibc's for it), if there is
/// one.
pub(crate) fn glibc_symbol(name: &core::ffi::CStr) -> Option<*mut u8> {
    // SAFETY: the routine returns the address of glibc's dlsym, which a weak
    // reference resolved to, or 0 when this libc.so.6 has none (before 2.34
    // it lived in libdl).
    let dlsym = unsafe { __libaio_glibc_dlsym() };
    if dlsym.is_null() {
        return None;
    }
    // SAFETY: dlsym's C signature; RTLD_DEFAULT (0) searches the global
    // scope, and the name is NUL-terminated.
    let dlsym: unsafe extern "C" fn(usize, *const u8) -> *mut u8 =
        unsafe { core::mem::transmute(dlsym) };
    // SAFETY: as above.
    let address = unsafe { dlsym(0, name.as_ptr().cast()) };
    (!address.is_null()).then_some(address)
}

unsafe extern "C" {
    fn __libaio_glibc_rseq(offset: *mut isize) -> u32;
    fn __libaio_glibc_dlsym() -> *mut u8;
}

// __libaio_glibc_dlsym() -> rax: the address of libc.so.6's dlsym, through
// a weak reference bound to its first version (GLIBC_2.2.5, which the
// library needs anyway), or 0 when libc.so.6 has none.
core::arch::global_asm!(
    ".pushsection .text.__libaio_glibc_dlsym,\"ax\",@progbits",
    ".globl __libaio_glibc_dlsym",
    ".hidden __libaio_glibc_dlsym",
    ".type __libaio_glibc_dlsym,@function",
    ".weak __libaio_dlsym_2_2_5",
    ".symver __libaio_dlsym_2_2_5, dlsym@GLIBC_2.2.5",
    "__libaio_glibc_dlsym:",
    "mov rax, qword ptr [rip + __libaio_dlsym_2_2_5@GOTPCREL]",
    "ret",
    ".size __libaio_glibc_dlsym, . - __libaio_glibc_dlsym",
    ".popsection",
);

// __libaio_glibc_rseq(offset: rdi) -> eax: glibc's `__rseq_size`, and its
// `__rseq_offset` stored at rdi; 0 when glibc has neither. The references
// are weak, so the library still loads on glibc before 2.35 (and needs no
// GLIBC_2.35 version).
core::arch::global_asm!(
    ".pushsection .text.__libaio_glibc_rseq,\"ax\",@progbits",
    ".globl __libaio_glibc_rseq",
    ".hidden __libaio_glibc_rseq",
    ".type __libaio_glibc_rseq,@function",
    ".weak __rseq_size",
    ".weak __rseq_offset",
    "__libaio_glibc_rseq:",
    "mov rax, qword ptr [rip + __rseq_size@GOTPCREL]",
    "test rax, rax",
    "jz 1f",
    "mov rcx, qword ptr [rip + __rseq_offset@GOTPCREL]",
    "test rcx, rcx",
    "jz 1f",
    "mov rcx, qword ptr [rcx]",
    "mov qword ptr [rdi], rcx",
    "mov eax, dword ptr [rax]",
    "ret",
    "1:",
    "xor eax, eax",
    "ret",
    ".size __libaio_glibc_rseq, . - __libaio_glibc_rseq",
    ".popsection",
);

unsafe extern "C" {
    fn __libaio_rseq_take(
        slot: *const AtomicUsize,
        ctx: usize,
        lock: *const AtomicUsize,
        token: usize,
        min: usize,
        max: usize,
        events: *mut io_event,
    ) -> c_long;
}

/// Copies between `min` (at least 1) and `max` completions out of the ring
/// of `ctx` into `events` and advances the ring's head, inside a restartable
/// sequence that checks first that `slot` still holds `ctx` and that `lock`
/// still holds `token`; returns the count, or [`DEAD`], [`NOT_KERNEL`],
/// [`TOO_FEW`], [`REVOKED`], [`UNPROTECTED`].
///
/// # Safety
///
/// `events` has room for `max` events (it need not be aligned); the caller
/// set `lock` to `token` (see `registry::Entry::take_in_user_space`).
#[inline]
pub unsafe fn take(
    slot: &AtomicUsize,
    ctx: usize,
    lock: &AtomicUsize,
    token: usize,
    min: usize,
    max: usize,
    events: *mut io_event,
) -> c_long {
    loop {
        // SAFETY: as in peek; the copies go to the caller's room for `max`
        // events, and the head is written (the commit, last instruction)
        // only while `slot` and `lock` are as the caller set them.
        let ret = unsafe { __libaio_rseq_take(slot, ctx, lock, token, min.max(1), max, events) };
        if ret != ABORTED {
            return ret;
        }
    }
}

/// Checks that the thread has an rseq area, then sets its `rseq_cs` to the
/// descriptor `$cs` (clobbers r10, r11). `$unprotected` is where to go if it
/// has none (glibc could not register one for this thread).
macro_rules! enter_section {
    ($cs:expr, $unprotected:expr) => {
        concat!(
            "mov r10, qword ptr [rip + {offset}]\n",
            "cmp dword ptr fs:[r10 + {cpu_id}], 0\n",
            "jl ",
            $unprotected,
            "\n",
            "lea r11, [rip + ",
            $cs,
            "]\n",
            "mov qword ptr fs:[r10 + {rseq_cs}], r11\n",
        )
    };
}

/// The descriptor of a section (start, length, abort address), in a
/// read-only-after-relocation data section, aligned as the kernel requires.
macro_rules! descriptor {
    ($cs:expr, $start:expr, $post:expr, $abort:expr) => {
        concat!(
            ".pushsection .data.rel.ro.libaio_rseq, \"aw\"\n",
            ".balign 32\n",
            $cs,
            ":\n",
            ".long 0, 0\n",
            ".quad ",
            $start,
            "\n",
            ".quad ",
            $post,
            " - ",
            $start,
            "\n",
            ".quad ",
            $abort,
            "\n",
            ".popsection\n",
        )
    };
}

// take(slot: rdi, ctx: rsi, lock: rdx, token: rcx, min: r8, max: r9,
//      events: [rsp + 8]) -> rax
//
// Inside the section: rax = slot index, r10 = nr, r11 = count, r9 = events
// left to copy, rdx = destination, rcx = source; the copy goes through xmm0
// and xmm1 (unaligned loads and stores).
core::arch::global_asm!(
    ".pushsection .text.__libaio_rseq_take,\"ax\",@progbits",
    ".globl __libaio_rseq_take",
    ".hidden __libaio_rseq_take",
    ".type __libaio_rseq_take,@function",
    ".p2align 4",
    "__libaio_rseq_take:",
    enter_section!(".Ltake_cs", ".Ltake_unprotected"),
    ".Ltake_start:",
    "cmp qword ptr [rdi], rsi", // the context is live
    "jne .Ltake_dead",
    "cmp qword ptr [rdx], rcx", // and the right to reap is still ours
    "jne .Ltake_revoked",
    "cmp dword ptr [rsi + 16], {magic}",
    "jne .Ltake_not_kernel",
    "mov r10d, dword ptr [rsi + 4]",  // nr
    "mov eax, dword ptr [rsi + 8]",   // head
    "mov r11d, dword ptr [rsi + 12]", // tail
    "cmp eax, r10d",
    "jae .Ltake_not_kernel",
    "cmp r11d, r10d",
    "jae .Ltake_not_kernel",
    "sub r11d, eax", // available = tail - head, plus nr if that wrapped
    "jae 2f",
    "add r11d, r10d",
    "2:",
    "cmp r11, r8", // at least min (the caller makes min >= 1)
    "jb .Ltake_too_few",
    "cmp r11, r9", // at most max
    "cmova r11, r9",
    "mov r9, r11",
    "mov rdx, qword ptr [rsp + 8]",
    "3:",
    "mov ecx, eax", // source: the header, then event `head`
    "shl rcx, 5",
    "movdqu xmm0, xmmword ptr [rsi + rcx + 32]",
    "movdqu xmm1, xmmword ptr [rsi + rcx + 48]",
    "movdqu xmmword ptr [rdx], xmm0",
    "movdqu xmmword ptr [rdx + 16], xmm1",
    "add rdx, 32",
    "inc eax",
    "cmp eax, r10d",
    "jb 4f",
    "xor eax, eax",
    "4:",
    "dec r9",
    "jnz 3b",
    "mov dword ptr [rsi + 8], eax", // the commit: head moves past the copies
    ".Ltake_post:",
    "mov rax, r11",
    "ret",
    ".Ltake_dead:",
    "mov rax, {dead}",
    "ret",
    ".Ltake_revoked:",
    "mov rax, {revoked}",
    "ret",
    ".Ltake_not_kernel:",
    "mov rax, {not_kernel}",
    "ret",
    ".Ltake_too_few:",
    "mov rax, {too_few}",
    "ret",
    ".Ltake_unprotected:",
    "mov rax, {unprotected}",
    "ret",
    ".long {signature}",
    ".Ltake_abort:",
    "mov rax, {aborted}",
    "ret",
    ".size __libaio_rseq_take, . - __libaio_rseq_take",
    ".popsection",
    descriptor!(".Ltake_cs", ".Ltake_start", ".Ltake_post", ".Ltake_abort"),
    offset = sym OFFSET,
    cpu_id = const CPU_ID,
    rseq_cs = const RSEQ_CS,
    magic = const AIO_RING_MAGIC,
    dead = const DEAD,
    revoked = const REVOKED,
    not_kernel = const NOT_KERNEL,
    too_few = const TOO_FEW,
    unprotected = const UNPROTECTED,
    aborted = const ABORTED,
    signature = const SIGNATURE,
);
