//! The bad-input matrix: every exported function, every argument (and every
//! field of an iocb), called with bad values, everything else valid, once
//! with the system's libaio 0.3.113 and once with ours.
//!
//! The matrix is one table, [`table::CASES`]: function, argument, value
//! class, the state the call starts from, and what is expected. Each case runs
//! in a child process of its own (forked from this test, calling only the
//! library before `_exit`), with a time limit; the child reports the return
//! value, whether errno changed and what the call left behind through a
//! shared page, or dies of a signal, or is killed as hung.
//!
//! What is asserted:
//!
//! - where libaio survives, ours gives the same result and leaves errno
//!   alone;
//! - where libaio crashes, ours returns a negated errno, and the case names
//!   the row of README.md's "Differences from libaio" that says so;
//! - the few places where ours faults exactly as libaio does (an unreadable
//!   timeout with a live context, a garbage callback reaching io_queue_run)
//!   are marked so in the table, with the reason, and both must crash;
//! - two differences where both survive are documented in README.md and
//!   marked so (a parent's context in a forked child, a copy of a ring);
//! - nothing hangs.
//!
//! (With `LIBAIO_USERSPACE_REAP=1` our library writes the events itself, so a
//! bad `events` array faults instead of giving `EFAULT`; this test removes
//! the variable.)
//!
//! The results are rendered as Markdown and compared with the checked-in
//! `docs/bad-input.md`; `LIBAIO_RS_BLESS=1 cargo test --test bad_input`
//! rewrites it.

mod common;

use aio_rs::abi::io_iocb_cmd::{IO_CMD_POLL, IO_CMD_PREAD};
use common::*;
use std::ffi::{c_int, c_long, c_void};
use std::fmt::Write as _;
use std::mem::size_of;
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// What a handle holds when it holds garbage.
const GARBAGE_HANDLE: usize = 0x1234_5000;
/// How long one case may take before it counts as hung.
const PER_CASE: Duration = Duration::from_secs(5);
/// How many cases run at once. A case mostly waits (the kernel frees a
/// context after an RCU grace period, tens of milliseconds), so this is not
/// tied to the number of CPUs.
const WORKERS: usize = 8;
/// Bytes read by the requests the cases submit.
const BUF_LEN: usize = 512;
/// The checked-in rendering of the results (on x86_64; see [`doc`]; under
/// the io_uring backend, `docs/bad-input-io_uring.md`).
const DOC: &str = "docs/bad-input.md";
/// This architecture's name in the file names of [`doc`]: Debian's, which
/// is also the name of its test in `tests/foreign.rs`.
const ARCH: &str = if cfg!(all(target_arch = "x86_64", target_pointer_width = "64")) {
    "amd64"
} else if cfg!(target_arch = "x86_64") {
    "x32"
} else if cfg!(target_arch = "x86") {
    "i386"
} else if cfg!(target_arch = "aarch64") {
    "arm64"
} else if cfg!(all(target_arch = "arm", target_abi = "eabihf")) {
    "armhf"
} else if cfg!(target_arch = "arm") {
    "armel"
} else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
    "ppc64el"
} else if cfg!(target_arch = "loongarch64") {
    "loong64"
} else if cfg!(target_arch = "mips64") {
    "mips64el"
} else {
    std::env::consts::ARCH
};
/// Set (by `tests/foreign.rs`) where the tests run in a guest: a blessed
/// rendering is also printed between markers, for the host to keep.
const BLESS_TO_CONSOLE: &str = "LIBAIO_RS_BLESS_TO_CONSOLE";
/// Set to 1 to rewrite [`DOC`].
const BLESS: &str = "LIBAIO_RS_BLESS";

/// The checked-in rendering of the results on this architecture: the
/// address space and the width of `long` change some of them, and so may the
/// kernel (the other architectures' are made in `tests/foreign.rs`'s guests).
fn doc() -> String {
    if ARCH == "amd64" {
        DOC.into()
    } else {
        format!("docs/bad-input/{ARCH}.md")
    }
}

const INT_MIN: i64 = c_int::MIN as i64;
const INT_MAX: i64 = c_int::MAX as i64;
// This target's `long`: 32 bits wide on 32-bit targets (x32 included).
#[allow(clippy::unnecessary_cast)]
const LONG_MIN: i64 = c_long::MIN as i64;
#[allow(clippy::unnecessary_cast)]
const LONG_MAX: i64 = c_long::MAX as i64;
const NS_PER_S: i64 = 1_000_000_000;

// ------------------------------------------------------------------ the table

/// An exported function.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum F {
    Setup,
    Destroy,
    Submit,
    Cancel,
    Getevents,
    Pgetevents,
    QueueInit,
    QueueRelease,
    QueueRun,
    QueueWait,
    /// `io_cancel@LIBAIO_0.1`
    Cancel01,
    /// `io_getevents@LIBAIO_0.1`
    Getevents01,
    /// `io_queue_wait@LIBAIO_0.1`
    QueueWait01,
}

/// The argument a case replaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum A {
    Ctx,
    Maxevents,
    Ctxp,
    /// What `*ctxp` holds on entry.
    CtxpValue,
    Nr,
    MinNr,
    Iocbs,
    /// `iocbs[0]` for io_submit, `iocb` for io_cancel.
    Iocb,
    Events,
    Timeout,
    /// What `*timeout` holds.
    TimeoutValue,
    Sigmask,
    Result,
    /// A field of the iocb submitted (io_submit), queued (io_cancel) or
    /// completed (io_queue_run).
    Field(Fld),
}

/// A field of an iocb.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fld {
    Data,
    Key,
    RwFlags,
    Opcode,
    Reqprio,
    Fildes,
    Buf,
    Nbytes,
    Offset,
    /// `u.c.__pad3`, the kernel's `aio_reserved2`.
    Reserved,
    Flags,
    /// `u.c.resfd`, `IOCB_FLAG_RESFD` clear.
    Resfd,
    /// `u.c.resfd` with `IOCB_FLAG_RESFD` set in `u.c.flags`.
    ResfdFlagged,
}

/// A value class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum V {
    Null,
    /// An address nothing is mapped at.
    Unmapped,
    /// [`KERNEL_ADDRESS`] (see [`expectation`] for where it is not in a
    /// kernel's half).
    Kernel,
    /// For a pointer: a copy of the valid value at an odd address. For a
    /// context: the live context's address plus one (inside its ring).
    Misaligned,
    /// A copy of the valid value in a read-only page.
    ReadOnly,
    /// A read-only page holding [`GARBAGE_HANDLE`] (for `ctxp`).
    ReadOnlyGarbage,
    /// A context: a zeroed page, not a ring.
    NotRing,
    /// A context: a page holding a copy of a live ring's header.
    RingCopy,
    /// A context created and destroyed ([`StaleHandle`]).
    Stale,
    /// A context of another process, live there.
    Foreign,
    /// The live context, used in a child forked after it was created.
    Inherited,
    /// A live context created by the other library.
    OtherLib,
    /// A count or field value.
    Int(i64),
    /// A timespec `{ tv_sec, tv_nsec }`.
    Time(i64, i64),
}

/// The state a call starts from (for the functions that reap).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum B {
    /// No particular state.
    Plain,
    /// A live context with an empty ring; a zero timeout.
    Empty0,
    /// A live context with an empty ring; a 1 µs timeout.
    Empty1,
    /// A live context with one completion waiting (its iocb's data is a
    /// callback); a zero timeout.
    Ready0,
    /// A live context with one completion waiting; a 1 µs timeout.
    Ready1,
    /// `ctx` NULL; a zero timeout.
    NullCtx,
}

/// A row of README.md that documents a difference.
#[derive(Clone, Copy, Debug)]
struct Doc {
    /// Where.
    section: &'static str,
    /// Text the row contains (compared with runs of whitespace as one space).
    needle: &'static str,
}

/// What a case is expected to do.
#[derive(Clone, Copy, Debug)]
enum E {
    /// Both libraries survive with the same result; errno unchanged.
    Same,
    /// libaio crashes; ours returns a negated errno, as README.md documents.
    OursErrs(Doc),
    /// libaio crashes; ours returns this value, as README.md documents.
    OursReturns(Doc, c_int),
    /// Both survive with different results, as README.md documents; ours
    /// returns a negated errno.
    Documented(Doc),
    /// Both crash, for this reason.
    BothCrash(&'static str),
    /// Under the io_uring backend: both survive with different results, as
    /// README.md documents.
    BackendDiffers(Doc),
    /// Under the io_uring backend: libaio survives, ours faults, as README.md
    /// documents.
    BackendCrashes(Doc),
    /// Both survive; the reference answers otherwise where README.md says
    /// it is not libaio's behaviour (the x32 build), whatever ours returns.
    ReferenceDiffers(Doc),
}

/// One case of the matrix.
#[derive(Clone, Copy, Debug)]
struct Case {
    func: F,
    arg: A,
    val: V,
    base: B,
    expect: E,
}

const fn c(func: F, arg: A, val: V, base: B, expect: E) -> Case {
    Case {
        func,
        arg,
        val,
        base,
        expect,
    }
}

const DIFFERENCES: &str = "Differences from libaio";
const TRUSTS: &str = "What the library trusts";

/// README: libaio reads the ring through a bad handle.
const BAD_CONTEXT: E = E::OursErrs(Doc {
    section: DIFFERENCES,
    needle: "on an invalid or destroyed context, including with a zero timeout | reads the ring \
             through the handle: crashes | the kernel's `-EINVAL`",
});
/// README: io_queue_init writes through a bad `ctxp`.
const QUEUE_INIT_HANDLE: E = E::OursErrs(Doc {
    section: DIFFERENCES,
    needle: "`io_queue_init(n, ctxp)` with `ctxp` NULL, unmapped, read-only or a kernel address \
             | writes through it: crashes | `-EFAULT`",
});
/// README: a timeout in the kernel's half is never read.
const KERNEL_TIMEOUT: E = E::OursErrs(Doc {
    section: DIFFERENCES,
    needle: "`io_getevents`, `io_pgetevents`, `io_queue_wait` and their compat versions with a \
             timeout pointer in the kernel's half of the address space, for a live context | \
             reads it: crashes | the kernel's `-EFAULT`",
});
/// README: with completions waiting, the timeout is the kernel's to check.
const WAITING_TIMEOUT: E = E::OursErrs(Doc {
    section: DIFFERENCES,
    needle: "`io_getevents`, `io_pgetevents` and compat `io_getevents@LIBAIO_0.1` with an \
             unreadable timeout, for a live context with completions waiting | reads it: \
             crashes | the kernel's `-EFAULT`",
});
/// README: libaio's compat wrappers copy the timeout first.
const COMPAT_TIMEOUT: E = E::OursErrs(Doc {
    section: DIFFERENCES,
    needle: "compat `io_getevents@LIBAIO_0.1` and `io_queue_wait@LIBAIO_0.1` with an unreadable \
             timeout, for a context the library does not know | copies `*timeout` first: \
             crashes | the kernel's `-EINVAL` or `-EFAULT`",
});
/// README: io_queue_run calls a NULL callback.
const NO_CALLBACK: E = E::OursReturns(
    Doc {
        section: DIFFERENCES,
        needle: "`io_queue_run` over a completion whose iocb has no callback (`data` is NULL or in \
                 the kernel's half of the address space) | calls it: crashes | consumes the \
                 completion, calls nothing, goes on",
    },
    0,
);
/// README: after fork, the parent's ring is not read.
const AFTER_FORK: E = E::Documented(Doc {
    section: DIFFERENCES,
    needle: "a zero-timeout `io_getevents` on a context of the parent returns the \
             kernel's `-EINVAL` (the kernel gives the child no contexts). libaio reads the \
             parent's ring, still mapped in the child, and returns 0 when it is empty.",
});
/// README: only rings the library created are read.
const NOT_OURS: E = E::Documented(Doc {
    section: TRUSTS,
    needle: "The library reads only rings it created itself with `io_setup`/`io_queue_init` in \
             this process and has not destroyed",
});
/// README: on x32 the reference (Debian's source built for x32) passes
/// negative counts zero-extended and a signal-set pair the kernel refuses.
const X32_REFERENCE: E = E::ReferenceDiffers(Doc {
    section: "Architectures",
    needle: "Debian's libaio source built for x32 passes `long` counts to the kernel zero-extended",
});
/// The zero-timeout check reads `*timeout`, as libaio's does.
const TIMEOUT_READ: E = E::BothCrash(
    "with a live context and an empty ring, the zero-timeout check reads `*timeout` before any \
     system call, as libaio's does (README: What the library trusts)",
);
/// io_queue_run calls whatever `data` holds.
const CALLBACK: E = E::BothCrash(
    "io_queue_run calls the completed iocb's `data` as its callback, as libaio does; only NULL \
     and kernel addresses are skipped",
);

/// The matrix.
mod table {
    use super::A::*;
    use super::B::*;
    use super::E::Same;
    use super::F::*;
    use super::Fld::*;
    use super::V::*;
    use super::{
        AFTER_FORK, BAD_CONTEXT, CALLBACK, COMPAT_TIMEOUT, Case, INT_MAX, INT_MIN, KERNEL_TIMEOUT,
        LONG_MAX, LONG_MIN, NO_CALLBACK, NOT_OURS, NS_PER_S, QUEUE_INIT_HANDLE, TIMEOUT_READ,
        WAITING_TIMEOUT, c,
    };

    pub const CASES: &[Case] = &[
        // io_setup(maxevents, ctxp)
        c(Setup, Maxevents, Int(0), Plain, Same),
        c(Setup, Maxevents, Int(-1), Plain, Same),
        c(Setup, Maxevents, Int(INT_MIN), Plain, Same),
        c(Setup, Maxevents, Int(INT_MAX), Plain, Same),
        c(Setup, Ctxp, Null, Plain, Same),
        c(Setup, Ctxp, Unmapped, Plain, Same),
        c(Setup, Ctxp, Kernel, Plain, Same),
        c(Setup, Ctxp, Misaligned, Plain, Same),
        c(Setup, Ctxp, ReadOnly, Plain, Same),
        c(Setup, Ctxp, ReadOnlyGarbage, Plain, Same),
        c(Setup, CtxpValue, Int(0x1234_5000), Plain, Same),
        c(Setup, CtxpValue, Int(-1), Plain, Same),
        // io_destroy(ctx)
        c(Destroy, Ctx, Null, Plain, Same),
        c(Destroy, Ctx, Unmapped, Plain, Same),
        c(Destroy, Ctx, Kernel, Plain, Same),
        c(Destroy, Ctx, Misaligned, Plain, Same),
        c(Destroy, Ctx, NotRing, Plain, Same),
        c(Destroy, Ctx, RingCopy, Plain, Same),
        c(Destroy, Ctx, Stale, Plain, Same),
        c(Destroy, Ctx, Foreign, Plain, Same),
        c(Destroy, Ctx, Inherited, Plain, Same),
        c(Destroy, Ctx, OtherLib, Plain, Same),
        // io_queue_release(ctx)
        c(QueueRelease, Ctx, Null, Plain, Same),
        c(QueueRelease, Ctx, Unmapped, Plain, Same),
        c(QueueRelease, Ctx, Kernel, Plain, Same),
        c(QueueRelease, Ctx, Misaligned, Plain, Same),
        c(QueueRelease, Ctx, NotRing, Plain, Same),
        c(QueueRelease, Ctx, RingCopy, Plain, Same),
        c(QueueRelease, Ctx, Stale, Plain, Same),
        c(QueueRelease, Ctx, Foreign, Plain, Same),
        c(QueueRelease, Ctx, Inherited, Plain, Same),
        c(QueueRelease, Ctx, OtherLib, Plain, Same),
        // io_queue_init(maxevents, ctxp)
        c(QueueInit, Maxevents, Int(0), Plain, Same),
        c(QueueInit, Maxevents, Int(-1), Plain, Same),
        c(QueueInit, Maxevents, Int(INT_MIN), Plain, Same),
        c(QueueInit, Maxevents, Int(INT_MAX), Plain, Same),
        c(QueueInit, Ctxp, Null, Plain, QUEUE_INIT_HANDLE),
        c(QueueInit, Ctxp, Unmapped, Plain, QUEUE_INIT_HANDLE),
        c(QueueInit, Ctxp, Kernel, Plain, QUEUE_INIT_HANDLE),
        c(QueueInit, Ctxp, Misaligned, Plain, Same),
        c(QueueInit, Ctxp, ReadOnly, Plain, QUEUE_INIT_HANDLE),
        c(QueueInit, Ctxp, ReadOnlyGarbage, Plain, QUEUE_INIT_HANDLE),
        c(QueueInit, CtxpValue, Int(0x1234_5000), Plain, Same),
        c(QueueInit, CtxpValue, Int(-1), Plain, Same),
        // io_submit(ctx, nr, iocbs): a 512-byte read of /dev/zero
        c(Submit, Ctx, Null, Plain, Same),
        c(Submit, Ctx, Unmapped, Plain, Same),
        c(Submit, Ctx, Kernel, Plain, Same),
        c(Submit, Ctx, Misaligned, Plain, Same),
        c(Submit, Ctx, NotRing, Plain, Same),
        c(Submit, Ctx, RingCopy, Plain, Same),
        c(Submit, Ctx, Stale, Plain, Same),
        c(Submit, Ctx, Foreign, Plain, Same),
        c(Submit, Ctx, Inherited, Plain, Same),
        c(Submit, Ctx, OtherLib, Plain, Same),
        c(Submit, Nr, Int(0), Plain, Same),
        c(Submit, Nr, Int(-1), Plain, Same),
        c(Submit, Nr, Int(LONG_MIN), Plain, Same),
        c(Submit, Nr, Int(LONG_MAX), Plain, Same),
        c(Submit, Nr, Int(INT_MAX), Plain, Same),
        c(Submit, Nr, Int(1 << 32), Plain, Same),
        c(Submit, Nr, Int(2), Plain, Same),
        c(Submit, Iocbs, Null, Plain, Same),
        c(Submit, Iocbs, Unmapped, Plain, Same),
        c(Submit, Iocbs, Kernel, Plain, Same),
        c(Submit, Iocbs, Misaligned, Plain, Same),
        c(Submit, Iocbs, ReadOnly, Plain, Same),
        c(Submit, Iocb, Null, Plain, Same),
        c(Submit, Iocb, Unmapped, Plain, Same),
        c(Submit, Iocb, Kernel, Plain, Same),
        c(Submit, Iocb, Misaligned, Plain, Same),
        c(Submit, Iocb, ReadOnly, Plain, Same),
        c(Submit, Field(Data), Null, Plain, Same),
        c(Submit, Field(Data), Int(0xdead_beef), Plain, Same),
        c(Submit, Field(Key), Int(0xdead_beef), Plain, Same),
        c(Submit, Field(RwFlags), Int(0xffff_ffff), Plain, Same),
        c(Submit, Field(RwFlags), Int(0x8000_0000), Plain, Same),
        c(Submit, Field(Opcode), Int(-1), Plain, Same),
        c(Submit, Field(Opcode), Int(2), Plain, Same),
        c(Submit, Field(Opcode), Int(4), Plain, Same),
        c(Submit, Field(Opcode), Int(6), Plain, Same),
        c(Submit, Field(Opcode), Int(7), Plain, Same),
        c(Submit, Field(Opcode), Int(9), Plain, Same),
        c(Submit, Field(Opcode), Int(0x7fff), Plain, Same),
        c(Submit, Field(Reqprio), Int(-1), Plain, Same),
        c(Submit, Field(Fildes), Int(-1), Plain, Same),
        c(Submit, Field(Fildes), Int(999), Plain, Same),
        c(Submit, Field(Fildes), Int(INT_MAX), Plain, Same),
        c(Submit, Field(Buf), Null, Plain, Same),
        c(Submit, Field(Buf), Unmapped, Plain, Same),
        c(Submit, Field(Buf), Kernel, Plain, Same),
        c(Submit, Field(Buf), Misaligned, Plain, Same),
        c(Submit, Field(Buf), ReadOnly, Plain, Same),
        c(Submit, Field(Nbytes), Int(0), Plain, Same),
        c(Submit, Field(Nbytes), Int(LONG_MAX), Plain, Same),
        c(Submit, Field(Nbytes), Int(-1), Plain, Same),
        c(Submit, Field(Offset), Int(-1), Plain, Same),
        c(Submit, Field(Offset), Int(LONG_MIN), Plain, Same),
        c(Submit, Field(Offset), Int(LONG_MAX), Plain, Same),
        c(Submit, Field(Reserved), Int(1), Plain, Same),
        c(Submit, Field(Reserved), Int(-1), Plain, Same),
        c(Submit, Field(Flags), Int(1), Plain, Same),
        c(Submit, Field(Flags), Int(2), Plain, Same),
        c(Submit, Field(Flags), Int(0xffff_fffc), Plain, Same),
        c(Submit, Field(Resfd), Int(-1), Plain, Same),
        c(Submit, Field(ResfdFlagged), Int(-1), Plain, Same),
        c(Submit, Field(ResfdFlagged), Int(INT_MAX), Plain, Same),
        // io_cancel(ctx, iocb, result): a poll of an empty pipe is queued
        c(Cancel, Ctx, Null, Plain, Same),
        c(Cancel, Ctx, Unmapped, Plain, Same),
        c(Cancel, Ctx, Kernel, Plain, Same),
        c(Cancel, Ctx, Misaligned, Plain, Same),
        c(Cancel, Ctx, NotRing, Plain, Same),
        c(Cancel, Ctx, RingCopy, Plain, Same),
        c(Cancel, Ctx, Stale, Plain, Same),
        c(Cancel, Ctx, Foreign, Plain, Same),
        c(Cancel, Ctx, Inherited, Plain, Same),
        c(Cancel, Ctx, OtherLib, Plain, Same),
        c(Cancel, Iocb, Null, Plain, Same),
        c(Cancel, Iocb, Unmapped, Plain, Same),
        c(Cancel, Iocb, Kernel, Plain, Same),
        c(Cancel, Iocb, Misaligned, Plain, Same),
        c(Cancel, Iocb, ReadOnly, Plain, Same),
        c(Cancel, Result, Null, Plain, Same),
        c(Cancel, Result, Unmapped, Plain, Same),
        c(Cancel, Result, Kernel, Plain, Same),
        c(Cancel, Result, Misaligned, Plain, Same),
        c(Cancel, Result, ReadOnly, Plain, Same),
        c(Cancel, Field(Key), Int(0xdead_beef), Plain, Same),
        // io_cancel@LIBAIO_0.1(ctx, iocb)
        c(Cancel01, Ctx, Null, Plain, Same),
        c(Cancel01, Ctx, Unmapped, Plain, Same),
        c(Cancel01, Ctx, Kernel, Plain, Same),
        c(Cancel01, Ctx, Misaligned, Plain, Same),
        c(Cancel01, Ctx, NotRing, Plain, Same),
        c(Cancel01, Ctx, RingCopy, Plain, Same),
        c(Cancel01, Ctx, Stale, Plain, Same),
        c(Cancel01, Ctx, Foreign, Plain, Same),
        c(Cancel01, Ctx, Inherited, Plain, Same),
        c(Cancel01, Ctx, OtherLib, Plain, Same),
        c(Cancel01, Iocb, Null, Plain, Same),
        c(Cancel01, Iocb, Unmapped, Plain, Same),
        c(Cancel01, Iocb, Kernel, Plain, Same),
        c(Cancel01, Iocb, Misaligned, Plain, Same),
        c(Cancel01, Iocb, ReadOnly, Plain, Same),
        c(Cancel01, Field(Key), Int(0xdead_beef), Plain, Same),
        // io_getevents(ctx, min_nr = 1, nr = 8, events, timeout)
        c(Getevents, Ctx, Null, Empty0, Same),
        c(Getevents, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(Getevents, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(Getevents, Ctx, Misaligned, Empty0, Same),
        c(Getevents, Ctx, NotRing, Empty0, Same),
        c(Getevents, Ctx, RingCopy, Empty0, NOT_OURS),
        c(Getevents, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(Getevents, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(Getevents, Ctx, Inherited, Empty0, AFTER_FORK),
        c(Getevents, Ctx, OtherLib, Empty0, Same),
        c(Getevents, Ctx, Null, Empty1, Same),
        c(Getevents, Ctx, Unmapped, Empty1, BAD_CONTEXT),
        c(Getevents, Ctx, Kernel, Empty1, BAD_CONTEXT),
        c(Getevents, Ctx, Misaligned, Empty1, Same),
        c(Getevents, Ctx, NotRing, Empty1, Same),
        c(Getevents, Ctx, RingCopy, Empty1, Same),
        c(Getevents, Ctx, Stale, Empty1, BAD_CONTEXT),
        c(Getevents, Ctx, Foreign, Empty1, BAD_CONTEXT),
        c(Getevents, Ctx, Inherited, Empty1, Same),
        c(Getevents, Ctx, OtherLib, Empty1, Same),
        c(Getevents, MinNr, Int(-1), Empty1, Same),
        c(Getevents, MinNr, Int(LONG_MIN), Empty1, Same),
        c(Getevents, MinNr, Int(LONG_MAX), Empty1, Same),
        c(Getevents, MinNr, Int(INT_MAX), Empty1, Same),
        c(Getevents, MinNr, Int(9), Empty1, Same),
        c(Getevents, MinNr, Int(-1), Empty0, Same),
        c(Getevents, Nr, Int(-1), Empty1, Same),
        c(Getevents, Nr, Int(LONG_MIN), Empty1, Same),
        c(Getevents, Nr, Int(LONG_MAX), Empty1, Same),
        c(Getevents, Nr, Int(INT_MAX), Empty1, Same),
        c(Getevents, Nr, Int(0), Empty1, Same),
        c(Getevents, Nr, Int(-1), Empty0, Same),
        c(Getevents, Events, Null, Ready1, Same),
        c(Getevents, Events, Unmapped, Ready1, Same),
        c(Getevents, Events, Kernel, Ready1, Same),
        c(Getevents, Events, Misaligned, Ready1, Same),
        c(Getevents, Events, ReadOnly, Ready1, Same),
        c(Getevents, Events, Unmapped, Empty1, Same),
        c(Getevents, Timeout, Null, Ready1, Same),
        c(Getevents, Timeout, Unmapped, Ready1, WAITING_TIMEOUT),
        c(Getevents, Timeout, Kernel, Ready1, KERNEL_TIMEOUT),
        c(Getevents, Timeout, Misaligned, Ready1, Same),
        c(Getevents, Timeout, ReadOnly, Ready1, Same),
        c(Getevents, Timeout, Unmapped, Empty0, TIMEOUT_READ),
        c(Getevents, Timeout, Unmapped, NullCtx, Same),
        c(Getevents, Timeout, Kernel, NullCtx, Same),
        c(Getevents, TimeoutValue, Time(0, -1), Ready1, Same),
        c(Getevents, TimeoutValue, Time(0, NS_PER_S), Ready1, Same),
        c(Getevents, TimeoutValue, Time(-1, 0), Ready1, Same),
        c(Getevents, TimeoutValue, Time(LONG_MAX, 0), Ready1, Same),
        // io_pgetevents(ctx, min_nr = 1, nr = 8, events, timeout, sigmask)
        c(Pgetevents, Ctx, Null, Empty0, Same),
        c(Pgetevents, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(Pgetevents, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(Pgetevents, Ctx, Misaligned, Empty0, Same),
        c(Pgetevents, Ctx, NotRing, Empty0, Same),
        c(Pgetevents, Ctx, RingCopy, Empty0, NOT_OURS),
        c(Pgetevents, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(Pgetevents, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(Pgetevents, Ctx, Inherited, Empty0, AFTER_FORK),
        c(Pgetevents, Ctx, OtherLib, Empty0, Same),
        c(Pgetevents, Ctx, Null, Empty1, Same),
        c(Pgetevents, Ctx, Unmapped, Empty1, BAD_CONTEXT),
        c(Pgetevents, Ctx, Kernel, Empty1, BAD_CONTEXT),
        c(Pgetevents, Ctx, Misaligned, Empty1, Same),
        c(Pgetevents, Ctx, NotRing, Empty1, Same),
        c(Pgetevents, Ctx, RingCopy, Empty1, Same),
        c(Pgetevents, Ctx, Stale, Empty1, BAD_CONTEXT),
        c(Pgetevents, Ctx, Foreign, Empty1, BAD_CONTEXT),
        c(Pgetevents, Ctx, Inherited, Empty1, Same),
        c(Pgetevents, Ctx, OtherLib, Empty1, Same),
        c(Pgetevents, MinNr, Int(-1), Empty1, Same),
        c(Pgetevents, MinNr, Int(LONG_MIN), Empty1, Same),
        c(Pgetevents, MinNr, Int(LONG_MAX), Empty1, Same),
        c(Pgetevents, MinNr, Int(INT_MAX), Empty1, Same),
        c(Pgetevents, MinNr, Int(9), Empty1, Same),
        c(Pgetevents, MinNr, Int(-1), Empty0, Same),
        c(Pgetevents, Nr, Int(-1), Empty1, Same),
        c(Pgetevents, Nr, Int(LONG_MIN), Empty1, Same),
        c(Pgetevents, Nr, Int(LONG_MAX), Empty1, Same),
        c(Pgetevents, Nr, Int(INT_MAX), Empty1, Same),
        c(Pgetevents, Nr, Int(0), Empty1, Same),
        c(Pgetevents, Nr, Int(-1), Empty0, Same),
        c(Pgetevents, Events, Null, Ready1, Same),
        c(Pgetevents, Events, Unmapped, Ready1, Same),
        c(Pgetevents, Events, Kernel, Ready1, Same),
        c(Pgetevents, Events, Misaligned, Ready1, Same),
        c(Pgetevents, Events, ReadOnly, Ready1, Same),
        c(Pgetevents, Events, Unmapped, Empty1, Same),
        c(Pgetevents, Timeout, Null, Ready1, Same),
        c(Pgetevents, Timeout, Unmapped, Ready1, WAITING_TIMEOUT),
        c(Pgetevents, Timeout, Kernel, Ready1, KERNEL_TIMEOUT),
        c(Pgetevents, Timeout, Misaligned, Ready1, Same),
        c(Pgetevents, Timeout, ReadOnly, Ready1, Same),
        c(Pgetevents, Timeout, Unmapped, Empty0, TIMEOUT_READ),
        c(Pgetevents, Timeout, Unmapped, NullCtx, Same),
        c(Pgetevents, Timeout, Kernel, NullCtx, Same),
        c(Pgetevents, TimeoutValue, Time(0, -1), Ready1, Same),
        c(Pgetevents, TimeoutValue, Time(0, NS_PER_S), Ready1, Same),
        c(Pgetevents, TimeoutValue, Time(-1, 0), Ready1, Same),
        c(Pgetevents, TimeoutValue, Time(LONG_MAX, 0), Ready1, Same),
        c(Pgetevents, Sigmask, Null, Empty1, Same),
        c(Pgetevents, Sigmask, Unmapped, Empty1, Same),
        c(Pgetevents, Sigmask, Kernel, Empty1, Same),
        c(Pgetevents, Sigmask, Misaligned, Empty1, Same),
        c(Pgetevents, Sigmask, ReadOnly, Empty1, Same),
        c(Pgetevents, Sigmask, Unmapped, Empty0, Same),
        // io_getevents@LIBAIO_0.1(ctx, nr = 8, events, timeout): min_nr is 1
        c(Getevents01, Ctx, Null, Empty0, Same),
        c(Getevents01, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(Getevents01, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(Getevents01, Ctx, Misaligned, Empty0, Same),
        c(Getevents01, Ctx, NotRing, Empty0, Same),
        c(Getevents01, Ctx, RingCopy, Empty0, NOT_OURS),
        c(Getevents01, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(Getevents01, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(Getevents01, Ctx, Inherited, Empty0, AFTER_FORK),
        c(Getevents01, Ctx, OtherLib, Empty0, Same),
        c(Getevents01, Ctx, Null, Empty1, Same),
        c(Getevents01, Ctx, Unmapped, Empty1, BAD_CONTEXT),
        c(Getevents01, Ctx, Kernel, Empty1, BAD_CONTEXT),
        c(Getevents01, Ctx, Misaligned, Empty1, Same),
        c(Getevents01, Ctx, NotRing, Empty1, Same),
        c(Getevents01, Ctx, RingCopy, Empty1, Same),
        c(Getevents01, Ctx, Stale, Empty1, BAD_CONTEXT),
        c(Getevents01, Ctx, Foreign, Empty1, BAD_CONTEXT),
        c(Getevents01, Ctx, Inherited, Empty1, Same),
        c(Getevents01, Ctx, OtherLib, Empty1, Same),
        c(Getevents01, Nr, Int(-1), Empty1, Same),
        c(Getevents01, Nr, Int(LONG_MIN), Empty1, Same),
        c(Getevents01, Nr, Int(LONG_MAX), Empty1, Same),
        c(Getevents01, Nr, Int(INT_MAX), Empty1, Same),
        c(Getevents01, Nr, Int(0), Empty1, Same),
        c(Getevents01, Nr, Int(-1), Empty0, Same),
        c(Getevents01, Events, Null, Ready1, Same),
        c(Getevents01, Events, Unmapped, Ready1, Same),
        c(Getevents01, Events, Kernel, Ready1, Same),
        c(Getevents01, Events, Misaligned, Ready1, Same),
        c(Getevents01, Events, ReadOnly, Ready1, Same),
        c(Getevents01, Events, Unmapped, Empty1, Same),
        c(Getevents01, Timeout, Null, Ready1, Same),
        c(Getevents01, Timeout, Unmapped, Ready1, WAITING_TIMEOUT),
        c(Getevents01, Timeout, Kernel, Ready1, KERNEL_TIMEOUT),
        c(Getevents01, Timeout, Misaligned, Ready1, Same),
        c(Getevents01, Timeout, ReadOnly, Ready1, Same),
        c(Getevents01, Timeout, Unmapped, Empty0, TIMEOUT_READ),
        // libaio's compat wrapper copies *timeout before anything else and
        // crashes; ours gets the kernel's -EFAULT. README.md does not list
        // these.
        c(Getevents01, Timeout, Unmapped, NullCtx, COMPAT_TIMEOUT),
        c(Getevents01, Timeout, Kernel, NullCtx, COMPAT_TIMEOUT),
        c(Getevents01, TimeoutValue, Time(0, -1), Ready1, Same),
        c(Getevents01, TimeoutValue, Time(0, NS_PER_S), Ready1, Same),
        c(Getevents01, TimeoutValue, Time(-1, 0), Ready1, Same),
        c(Getevents01, TimeoutValue, Time(LONG_MAX, 0), Ready1, Same),
        // io_queue_wait(ctx, timeout)
        c(QueueWait, Ctx, Null, Empty0, Same),
        c(QueueWait, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(QueueWait, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(QueueWait, Ctx, Misaligned, Empty0, Same),
        c(QueueWait, Ctx, NotRing, Empty0, Same),
        c(QueueWait, Ctx, RingCopy, Empty0, NOT_OURS),
        c(QueueWait, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(QueueWait, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(QueueWait, Ctx, Inherited, Empty0, AFTER_FORK),
        c(QueueWait, Ctx, OtherLib, Empty0, Same),
        c(QueueWait, Ctx, Null, Empty1, Same),
        c(QueueWait, Ctx, Unmapped, Empty1, BAD_CONTEXT),
        c(QueueWait, Ctx, Kernel, Empty1, BAD_CONTEXT),
        c(QueueWait, Ctx, Misaligned, Empty1, Same),
        c(QueueWait, Ctx, NotRing, Empty1, Same),
        c(QueueWait, Ctx, RingCopy, Empty1, Same),
        c(QueueWait, Ctx, Stale, Empty1, BAD_CONTEXT),
        c(QueueWait, Ctx, Foreign, Empty1, BAD_CONTEXT),
        c(QueueWait, Ctx, Inherited, Empty1, Same),
        c(QueueWait, Ctx, OtherLib, Empty1, Same),
        c(QueueWait, Timeout, Null, Empty0, Same),
        c(QueueWait, Timeout, Unmapped, Empty0, TIMEOUT_READ),
        c(QueueWait, Timeout, Kernel, Empty0, KERNEL_TIMEOUT),
        c(QueueWait, Timeout, Misaligned, Empty0, Same),
        c(QueueWait, Timeout, ReadOnly, Empty0, Same),
        c(QueueWait, Timeout, Unmapped, NullCtx, Same),
        c(QueueWait, Timeout, Kernel, NullCtx, Same),
        c(QueueWait, TimeoutValue, Time(0, -1), Empty1, Same),
        c(QueueWait, TimeoutValue, Time(0, NS_PER_S), Empty1, Same),
        c(QueueWait, TimeoutValue, Time(-1, 0), Empty1, Same),
        c(QueueWait, TimeoutValue, Time(LONG_MAX, 0), Empty1, Same),
        // io_queue_wait@LIBAIO_0.1(ctx, timeout)
        c(QueueWait01, Ctx, Null, Empty0, Same),
        c(QueueWait01, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(QueueWait01, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(QueueWait01, Ctx, Misaligned, Empty0, Same),
        c(QueueWait01, Ctx, NotRing, Empty0, Same),
        c(QueueWait01, Ctx, RingCopy, Empty0, NOT_OURS),
        c(QueueWait01, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(QueueWait01, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(QueueWait01, Ctx, Inherited, Empty0, AFTER_FORK),
        c(QueueWait01, Ctx, OtherLib, Empty0, Same),
        c(QueueWait01, Ctx, Null, Empty1, Same),
        c(QueueWait01, Ctx, Unmapped, Empty1, BAD_CONTEXT),
        c(QueueWait01, Ctx, Kernel, Empty1, BAD_CONTEXT),
        c(QueueWait01, Ctx, Misaligned, Empty1, Same),
        c(QueueWait01, Ctx, NotRing, Empty1, Same),
        c(QueueWait01, Ctx, RingCopy, Empty1, Same),
        c(QueueWait01, Ctx, Stale, Empty1, BAD_CONTEXT),
        c(QueueWait01, Ctx, Foreign, Empty1, BAD_CONTEXT),
        c(QueueWait01, Ctx, Inherited, Empty1, Same),
        c(QueueWait01, Ctx, OtherLib, Empty1, Same),
        c(QueueWait01, Timeout, Null, Empty0, Same),
        c(QueueWait01, Timeout, Unmapped, Empty0, TIMEOUT_READ),
        c(QueueWait01, Timeout, Kernel, Empty0, KERNEL_TIMEOUT),
        c(QueueWait01, Timeout, Misaligned, Empty0, Same),
        c(QueueWait01, Timeout, ReadOnly, Empty0, Same),
        // libaio's compat wrapper copies *timeout before anything else and
        // crashes; ours gets the kernel's -EFAULT. README.md does not list
        // these.
        c(QueueWait01, Timeout, Unmapped, NullCtx, COMPAT_TIMEOUT),
        c(QueueWait01, Timeout, Kernel, NullCtx, COMPAT_TIMEOUT),
        c(QueueWait01, TimeoutValue, Time(0, -1), Empty1, Same),
        c(QueueWait01, TimeoutValue, Time(0, NS_PER_S), Empty1, Same),
        c(QueueWait01, TimeoutValue, Time(-1, 0), Empty1, Same),
        c(QueueWait01, TimeoutValue, Time(LONG_MAX, 0), Empty1, Same),
        // io_queue_run(ctx)
        c(QueueRun, Ctx, Null, Empty0, Same),
        c(QueueRun, Ctx, Unmapped, Empty0, BAD_CONTEXT),
        c(QueueRun, Ctx, Kernel, Empty0, BAD_CONTEXT),
        c(QueueRun, Ctx, Misaligned, Empty0, Same),
        c(QueueRun, Ctx, NotRing, Empty0, Same),
        c(QueueRun, Ctx, RingCopy, Empty0, NOT_OURS),
        c(QueueRun, Ctx, Stale, Empty0, BAD_CONTEXT),
        c(QueueRun, Ctx, Foreign, Empty0, BAD_CONTEXT),
        c(QueueRun, Ctx, Inherited, Empty0, AFTER_FORK),
        c(QueueRun, Ctx, OtherLib, Empty0, Same),
        c(QueueRun, Ctx, Inherited, Ready0, Same),
        c(QueueRun, Field(Data), Null, Ready0, NO_CALLBACK),
        c(QueueRun, Field(Data), Unmapped, Ready0, CALLBACK),
        c(QueueRun, Field(Data), Kernel, Ready0, NO_CALLBACK),
        c(QueueRun, Field(Data), Int(0xdead_beef), Ready0, CALLBACK),
    ];
}

use table::CASES;

/// The cases run on this target: the table, less those that are an earlier
/// case again here (where `long` has 32 bits, LONG_MAX is INT_MAX).
fn cases() -> Vec<&'static Case> {
    let mut seen = std::collections::BTreeSet::new();
    CASES
        .iter()
        .filter(|case| seen.insert(case.label()))
        .collect()
}

/// What a case is expected to do on this architecture. The table is written
/// for the targets whose kernel owns the upper half of the address space
/// (x86_64, aarch64, riscv64, loongarch64): there the library leaves a
/// pointer into it to the kernel. Elsewhere [`KERNEL_ADDRESS`] is just an
/// address the process cannot map, which the library reads like any other,
/// as libaio does: a timeout there is read for the zero-timeout check, and
/// io_queue_run calls a callback there.
fn expectation(case: &Case) -> E {
    if X32 {
        let negative = matches!(case.val, V::Int(x) if x < 0);
        let reaps = matches!(case.func, F::Getevents | F::Pgetevents | F::Getevents01);
        let differs =
            case.func == F::Pgetevents || reaps && matches!(case.arg, A::Nr | A::MinNr) && negative;
        if differs && matches!(case.expect, E::Same) {
            return X32_REFERENCE;
        }
    }
    if case.val != V::Kernel || !library_reads_kernel_address() {
        return case.expect;
    }
    match (case.func, case.arg, case.base) {
        (_, A::Timeout, B::Empty0) => TIMEOUT_READ,
        (F::QueueRun, A::Field(Fld::Data), _) => CALLBACK,
        _ => case.expect,
    }
}

/// What the table must cover: every argument of every function, each with
/// the value classes asked for.
fn required() -> Vec<(F, A, Vec<V>)> {
    use V::*;
    let ctx = || {
        vec![
            Null, Unmapped, Kernel, Misaligned, Stale, Foreign, Inherited,
        ]
    };
    let ptr = || vec![Null, Unmapped, Kernel, Misaligned];
    let long = || vec![Int(-1), Int(LONG_MIN), Int(LONG_MAX), Int(INT_MAX)];
    let int = || vec![Int(-1), Int(INT_MIN), Int(INT_MAX)];
    let mut req = vec![
        (F::Setup, A::Maxevents, int()),
        (F::Setup, A::Ctxp, ptr()),
        (F::Destroy, A::Ctx, ctx()),
        (F::QueueRelease, A::Ctx, ctx()),
        (F::QueueInit, A::Maxevents, int()),
        (F::QueueInit, A::Ctxp, ptr()),
        (F::Submit, A::Ctx, ctx()),
        (F::Submit, A::Nr, long()),
        (F::Submit, A::Iocbs, ptr()),
        (F::Submit, A::Iocb, ptr()),
        (F::Cancel, A::Ctx, ctx()),
        (F::Cancel, A::Iocb, ptr()),
        (F::Cancel, A::Result, ptr()),
        (F::Cancel01, A::Ctx, ctx()),
        (F::Cancel01, A::Iocb, ptr()),
        (F::QueueRun, A::Ctx, ctx()),
    ];
    for f in [F::Getevents, F::Pgetevents, F::Getevents01] {
        req.push((f, A::Ctx, ctx()));
        req.push((f, A::Nr, long()));
        req.push((f, A::Events, ptr()));
        req.push((f, A::Timeout, ptr()));
    }
    for f in [F::Getevents, F::Pgetevents] {
        req.push((f, A::MinNr, long()));
    }
    req.push((F::Pgetevents, A::Sigmask, ptr()));
    for f in [F::QueueWait, F::QueueWait01] {
        req.push((f, A::Ctx, ctx()));
        req.push((f, A::Timeout, ptr()));
    }
    for fld in [
        Fld::Data,
        Fld::Key,
        Fld::RwFlags,
        Fld::Opcode,
        Fld::Reqprio,
        Fld::Fildes,
        Fld::Nbytes,
        Fld::Offset,
        Fld::Reserved,
        Fld::Flags,
        Fld::Resfd,
    ] {
        req.push((F::Submit, A::Field(fld), vec![]));
    }
    req.push((F::Submit, A::Field(Fld::Buf), ptr()));
    req
}

// ------------------------------------------------------------- labels

impl F {
    fn name(self) -> &'static str {
        match self {
            F::Setup => "io_setup",
            F::Destroy => "io_destroy",
            F::Submit => "io_submit",
            F::Cancel => "io_cancel",
            F::Getevents => "io_getevents",
            F::Pgetevents => "io_pgetevents",
            F::QueueInit => "io_queue_init",
            F::QueueRelease => "io_queue_release",
            F::QueueRun => "io_queue_run",
            F::QueueWait => "io_queue_wait",
            F::Cancel01 => "io_cancel@LIBAIO_0.1",
            F::Getevents01 => "io_getevents@LIBAIO_0.1",
            F::QueueWait01 => "io_queue_wait@LIBAIO_0.1",
        }
    }
}

impl Case {
    fn arg_name(&self) -> &'static str {
        match self.arg {
            A::Ctx => "ctx",
            A::Maxevents => "maxevents",
            A::Ctxp => "ctxp",
            A::CtxpValue => "*ctxp",
            A::Nr => "nr",
            A::MinNr => "min_nr",
            A::Iocbs => "iocbs",
            A::Iocb if self.func == F::Submit => "iocbs[0]",
            A::Iocb => "iocb",
            A::Events => "events",
            A::Timeout => "timeout",
            A::TimeoutValue => "*timeout",
            A::Sigmask => "sigmask",
            A::Result => "result",
            A::Field(f) => match f {
                Fld::Data => "iocb->data",
                Fld::Key => "iocb->key",
                Fld::RwFlags => "iocb->aio_rw_flags",
                Fld::Opcode => "iocb->aio_lio_opcode",
                Fld::Reqprio => "iocb->aio_reqprio",
                Fld::Fildes => "iocb->aio_fildes",
                Fld::Buf => "iocb->u.c.buf",
                Fld::Nbytes => "iocb->u.c.nbytes",
                Fld::Offset => "iocb->u.c.offset",
                Fld::Reserved => "iocb->u.c.__pad3",
                Fld::Flags => "iocb->u.c.flags",
                Fld::Resfd => "iocb->u.c.resfd",
                Fld::ResfdFlagged => "iocb->u.c.resfd (IOCB_FLAG_RESFD set)",
            },
        }
    }

    fn val_name(&self) -> String {
        let ctx = self.arg == A::Ctx;
        match self.val {
            V::Null => "NULL".into(),
            V::Unmapped => "unmapped".into(),
            V::Kernel => "kernel address".into(),
            V::Misaligned if ctx => "live context + 1".into(),
            V::Misaligned => "misaligned (valid copy at an odd address)".into(),
            V::ReadOnly => "read-only (valid copy)".into(),
            V::ReadOnlyGarbage => format!("read-only, holding {GARBAGE_HANDLE:#x}"),
            V::NotRing => "a zeroed page".into(),
            V::RingCopy => "a copy of a live ring's header".into(),
            V::Stale => "destroyed".into(),
            V::Foreign => "live in another process".into(),
            V::Inherited => "the parent's, in a forked child".into(),
            V::OtherLib => "created by the other library".into(),
            V::Int(x) => int_name(x),
            V::Time(s, ns) => format!("{{ {}, {} }}", int_name(s), int_name(ns)),
        }
    }

    fn base_name(&self) -> &'static str {
        let run = self.func == F::QueueRun;
        match self.base {
            B::Plain => "",
            B::Empty0 if run => "empty ring",
            B::Empty0 => "empty ring, zero timeout",
            B::Empty1 => "empty ring, 1 µs timeout",
            B::Ready0 if run => "one completion waiting",
            B::Ready0 => "one completion waiting, zero timeout",
            B::Ready1 => "one completion waiting, 1 µs timeout",
            B::NullCtx => "ctx NULL",
        }
    }

    fn label(&self) -> String {
        let mut s = format!(
            "`{}` `{}` = {}",
            self.func.name(),
            self.arg_name(),
            self.val_name()
        );
        if !self.base_name().is_empty() {
            write!(s, " ({})", self.base_name()).unwrap();
        }
        s
    }
}

fn int_name(x: i64) -> String {
    // Where `long` has 32 bits, LONG_MIN is INT_MIN: named LONG_MIN.
    match x {
        _ if x == LONG_MIN => "LONG_MIN".into(),
        _ if x == LONG_MAX => "LONG_MAX".into(),
        INT_MIN => "INT_MIN".into(),
        INT_MAX => "INT_MAX".into(),
        0x1_0000_0000 => "2^32".into(),
        NS_PER_S => "1000000000".into(),
        _ if x.unsigned_abs() > 0xffff => {
            if x < 0 {
                format!("-{:#x}", x.unsigned_abs())
            } else {
                format!("{x:#x}")
            }
        }
        _ => x.to_string(),
    }
}

// ------------------------------------------------------------ the result

/// What a call left behind, besides its return value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Extra {
    None,
    /// `*ctxp` afterwards: unchanged, cleared, or set to something new.
    CtxpUnchanged,
    CtxpCleared,
    CtxpSet,
    /// The first completion reaped after io_submit: its `res`.
    Res(i64),
    /// io_submit queued requests, but none completed within 100 ms.
    NoCompletion,
    /// How many callbacks io_queue_run called.
    Callbacks(i64),
}

impl Extra {
    fn encode(self) -> (i64, i64) {
        match self {
            Extra::None => (0, 0),
            Extra::CtxpUnchanged => (1, 0),
            Extra::CtxpCleared => (2, 0),
            Extra::CtxpSet => (3, 0),
            Extra::Res(r) => (4, r),
            Extra::NoCompletion => (5, 0),
            Extra::Callbacks(n) => (6, n),
        }
    }

    fn decode(tag: i64, value: i64) -> Extra {
        match tag {
            1 => Extra::CtxpUnchanged,
            2 => Extra::CtxpCleared,
            3 => Extra::CtxpSet,
            4 => Extra::Res(value),
            5 => Extra::NoCompletion,
            6 => Extra::Callbacks(value),
            _ => Extra::None,
        }
    }
}

/// What a case did in one library.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Outcome {
    Returned {
        ret: c_int,
        errno_changed: bool,
        extra: Extra,
    },
    Signal(c_int),
    Hang,
    /// The case could not be set up (a bug in this test).
    Broken(String),
}

impl Outcome {
    fn survived(&self) -> bool {
        matches!(self, Outcome::Returned { .. })
    }

    fn crashed(&self) -> bool {
        matches!(self, Outcome::Signal(_))
    }

    /// Returned a negated errno and left errno alone.
    fn clean_error(&self) -> bool {
        matches!(self, Outcome::Returned { ret, errno_changed: false, .. } if *ret < 0)
    }

    fn errno_changed(&self) -> bool {
        matches!(
            self,
            Outcome::Returned {
                errno_changed: true,
                ..
            }
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Returned {
                ret,
                errno_changed,
                extra,
            } => {
                f.write_str(&ret_name(i64::from(*ret)))?;
                match extra {
                    Extra::None => {}
                    Extra::CtxpUnchanged => f.write_str(", `*ctxp` unchanged")?,
                    Extra::CtxpCleared => f.write_str(", `*ctxp` cleared")?,
                    Extra::CtxpSet => f.write_str(", `*ctxp` set")?,
                    Extra::Res(r) => write!(f, ", completion res {}", ret_name(*r))?,
                    Extra::NoCompletion => f.write_str(", no completion")?,
                    Extra::Callbacks(0) => f.write_str(", no callback called")?,
                    Extra::Callbacks(n) => write!(f, ", {n} callback(s) called")?,
                }
                if *errno_changed {
                    f.write_str(", **errno changed**")?;
                }
                Ok(())
            }
            Outcome::Signal(sig) => f.write_str(&signal_name(*sig)),
            Outcome::Hang => write!(f, "hang (killed after {} s)", PER_CASE.as_secs()),
            Outcome::Broken(why) => write!(f, "test error: {why}"),
        }
    }
}

/// A return value, a negated errno by its name.
fn ret_name(ret: i64) -> String {
    if ret >= 0 {
        return ret.to_string();
    }
    let name = match c_int::try_from(-ret).unwrap_or(0) {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EFAULT => "EFAULT",
        libc::EINVAL => "EINVAL",
        libc::ESPIPE => "ESPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => return ret.to_string(),
    };
    format!("-{name}")
}

fn signal_name(sig: c_int) -> String {
    match sig {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGTRAP => "SIGTRAP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        _ => format!("signal {sig}"),
    }
}

/// What a case process reports, in a page it shares with this process.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Record {
    kind: i64,
    ret: i64,
    errno_changed: i64,
    extra_tag: i64,
    extra: i64,
    signal: i64,
    message_len: i64,
}

/// [`Record::kind`]: nothing reported.
const NOTHING: i64 = 0;
/// [`Record::kind`]: the call returned.
const RETURNED: i64 = 1;
/// [`Record::kind`]: the forked child that made the call died of `signal`.
const KILLED: i64 = 2;
/// [`Record::kind`]: the case could not be set up; a message follows.
const BROKEN: i64 = 3;
/// Where the message of a [`BROKEN`] record starts in the page.
const MESSAGE_AT: usize = 256;

const PAGE: usize = 4096;

/// A page shared with the case processes.
struct SharedPage(*mut u8);

impl SharedPage {
    fn new() -> SharedPage {
        // SAFETY: a fresh anonymous shared mapping.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        SharedPage(p.cast())
    }

    fn record(&self) -> *mut Record {
        self.0.cast()
    }

    /// Whether the case process (or its forked child) has written a record.
    fn reported(&self) -> bool {
        // SAFETY: the kind is an aligned i64 in the mapped page; the children
        // write it atomically too (write_record).
        let kind = unsafe { AtomicI64::from_ptr(&raw mut (*self.record()).kind) };
        kind.load(Ordering::Acquire) != NOTHING
    }

    fn read(&self) -> (Record, String) {
        // SAFETY: the page is mapped and holds a Record at its start (zeroed
        // if the child wrote nothing); the children have exited.
        let rec = unsafe { self.record().read_volatile() };
        let len = usize::try_from(rec.message_len)
            .unwrap_or(0)
            .min(PAGE - MESSAGE_AT);
        // SAFETY: the message lies within the page.
        let bytes = unsafe { std::slice::from_raw_parts(self.0.add(MESSAGE_AT), len) };
        (rec, String::from_utf8_lossy(bytes).into_owned())
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new().
        unsafe { libc::munmap(self.0.cast(), PAGE) };
    }
}

/// Writes a record: its kind last, so that a reader who sees the kind sees
/// the rest.
fn write_record(rec: *mut Record, value: Record) {
    // SAFETY: rec is the shared page, mapped in this process; the kind is an
    // aligned i64 only ever accessed atomically once the page is shared.
    unsafe {
        rec.write_volatile(Record {
            kind: NOTHING,
            ..value
        });
        AtomicI64::from_ptr(&raw mut (*rec).kind).store(value.kind, Ordering::Release);
    }
}

/// Whether a process has begun to exit (`PF_EXITING` in
/// `/proc/<pid>/stat`'s flags): killed by a signal, or in `_exit`.
fn exiting(pid: libc::pid_t) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // After "pid (comm)": state, ppid, pgrp, session, tty_nr, tpgid, flags.
    let flags = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|f| f.parse::<u64>().ok());
    flags.is_none_or(|f| f & PF_EXITING != 0)
}

/// Reports that the case could not be set up, and ends the case process.
fn broken(rec: *mut Record, why: &str) -> ! {
    let bytes = why.as_bytes();
    let len = bytes.len().min(PAGE - MESSAGE_AT);
    // SAFETY: the message fits in the shared page after the record.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), rec.cast::<u8>().add(MESSAGE_AT), len) };
    write_record(
        rec,
        Record {
            kind: BROKEN,
            message_len: len as i64,
            ..Record::default()
        },
    );
    exit_now()
}

fn exit_now() -> ! {
    // SAFETY: ends this (child) process at once, running nothing of the
    // parent's (no atexit handlers, no test harness).
    unsafe { libc::_exit(0) }
}

// ------------------------------------------------------ the case process

/// Calls of the counting callback, in this process.
static CALLBACKS: AtomicI64 = AtomicI64::new(0);

unsafe extern "C" fn count_callback(_: io_context_t, _: *mut iocb, _: c_long, _: c_long) {
    CALLBACKS.fetch_add(1, Ordering::Relaxed);
}

fn callback_ptr() -> *mut c_void {
    count_callback as unsafe extern "C" fn(io_context_t, *mut iocb, c_long, c_long) as *mut c_void
}

/// The pages a case process prepares its arguments in.
const SCRATCH: usize = 0;
const READ_ONLY: usize = 1;
const NOT_RING: usize = 2;
const RING_COPY: usize = 3;
const SLOTS: usize = 4;
const BUF_PAGE: usize = 5;
const GUARD: usize = 6;
const PAGES: usize = 7;

/// The valid values the arguments start from (in page [`SLOTS`]).
#[repr(C)]
struct Slots {
    events: [io_event; 8],
    reaped: [io_event; 8],
    iocbs: [iocb; 4],
    list: [*mut iocb; 8],
    sigset: libc::sigset_t,
    timeout: libc::timespec,
    result: io_event,
    cell: usize,
}

const _: () = assert!(size_of::<Slots>() <= PAGE);

/// One case, being set up in its own process with one library.
struct Env {
    lib: &'static Aio,
    case: &'static Case,
    rec: *mut Record,
    /// The case's argument was taken by the call being built.
    used: bool,
    /// Make the call in a child forked now ([`V::Inherited`]).
    fork_call: bool,
    mem: *mut u8,
    /// /dev/zero, read and write.
    fd: c_int,
    /// A pipe nothing is written to.
    pipe: [c_int; 2],
    /// A live context with an empty ring, once made.
    live: Option<io_context_t>,
    /// An address nothing is mapped at, once chosen.
    unmapped: Option<*mut c_void>,
    next_iocb: usize,
}

impl Env {
    fn new(lib: &'static Aio, case: &'static Case, rec: *mut Record) -> Env {
        // SAFETY: a fresh private mapping.
        let mem = unsafe {
            libc::mmap(
                null_mut(),
                PAGES * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mem == libc::MAP_FAILED {
            broken(rec, "mmap");
        }
        let mem: *mut u8 = mem.cast();
        // SAFETY: the guard page is part of the mapping just made.
        if unsafe { libc::mprotect(mem.add(GUARD * PAGE).cast(), PAGE, libc::PROT_NONE) } != 0 {
            broken(rec, "mprotect");
        }
        // SAFETY: a constant C string.
        let fd = unsafe { libc::open(c"/dev/zero".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        let mut pipe = [0; 2];
        // SAFETY: room for two descriptors.
        if fd < 0 || unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            broken(rec, "open /dev/zero or pipe");
        }
        Env {
            lib,
            case,
            rec,
            used: false,
            fork_call: false,
            mem,
            fd,
            pipe,
            live: None,
            unmapped: None,
            next_iocb: 0,
        }
    }

    // Contexts are made only for the cases that use them: each costs the
    // process an RCU grace period when it is destroyed or the process exits.
    // They are made before the case's bad value is chosen, so that an
    // unmapped address stays unmapped.

    /// The live context with an empty ring.
    fn live(&mut self) -> io_context_t {
        if let Some(ctx) = self.live {
            return ctx;
        }
        let ctx = self.setup(self.lib);
        self.live = Some(ctx);
        ctx
    }

    /// The library that is not under test.
    fn other_lib(&self) -> &'static Aio {
        match self.lib.which {
            Which::Ours => system(),
            Which::System => ours(),
        }
    }

    /// An address nothing is mapped at, chosen when first asked for, after
    /// every mapping the case needs.
    fn unmapped(&mut self) -> *mut c_void {
        *self.unmapped.get_or_insert_with(unmapped_address)
    }

    fn page(&self, i: usize) -> *mut u8 {
        // SAFETY: i < PAGES: within the mapping.
        unsafe { self.mem.add(i * PAGE) }
    }

    fn slots(&self) -> *mut Slots {
        self.page(SLOTS).cast()
    }

    /// The 512-byte buffer, right before the guard page.
    fn buf(&self) -> *mut u8 {
        // SAFETY: within the buffer page.
        unsafe { self.page(BUF_PAGE).add(PAGE - BUF_LEN) }
    }

    fn fail(&self, why: &str) -> ! {
        broken(self.rec, why)
    }

    /// A new context of `lib`. (Other cases' processes, exiting, may hold
    /// the system's AIO budget for a moment: EAGAIN is retried.)
    fn setup(&self, lib: &Aio) -> io_context_t {
        for _ in 0..200 {
            let mut ctx: io_context_t = null_mut();
            // SAFETY: ctx is ours to write.
            match unsafe { (lib.io_setup)(8, &mut ctx) } {
                0 => return ctx,
                ret if ret == -libc::EAGAIN => std::thread::sleep(Duration::from_millis(10)),
                _ => break,
            }
        }
        self.fail("io_setup")
    }

    /// A slot for an iocb that must stay where it is.
    fn iocb_slot(&mut self) -> *mut iocb {
        let i = self.next_iocb;
        self.next_iocb += 1;
        if i >= 4 {
            self.fail("out of iocb slots");
        }
        // SAFETY: within the slots page.
        unsafe { (&raw mut (*self.slots()).iocbs).cast::<iocb>().add(i) }
    }

    /// A 512-byte read of /dev/zero into the buffer.
    fn read_iocb(&self, data: *mut c_void) -> iocb {
        let mut io = zeroed_iocb();
        io.data = data;
        io.aio_lio_opcode = IO_CMD_PREAD as i16;
        io.aio_fildes = self.fd;
        io.u.c.buf = self.buf().cast();
        io.u.c.nbytes = BUF_LEN as _;
        // Not an eventfd, and not used unless a case sets IOCB_FLAG_RESFD.
        io.u.c.resfd = self.fd as u32;
        io
    }

    /// Makes `ctx` hold one completion, whose iocb's data is `data`.
    fn complete_one(&mut self, ctx: io_context_t, data: *mut c_void) -> io_context_t {
        let io = self.iocb_slot();
        let mut list = [io];
        // SAFETY: the slot is ours, and stays valid.
        let ret = unsafe {
            io.write(self.read_iocb(data));
            (self.lib.io_submit)(ctx, 1, list.as_mut_ptr())
        };
        if ret != 1 {
            self.fail("io_submit of the ready ring's read");
        }
        ctx
    }

    /// The case's value, if it replaces `arg`.
    fn take(&mut self, arg: A) -> Option<V> {
        if self.case.arg == arg {
            self.used = true;
            Some(self.case.val)
        } else {
            None
        }
    }

    fn int(&mut self, arg: A, base: i64) -> i64 {
        match self.take(arg) {
            None => base,
            Some(V::Int(x)) => x,
            Some(_) => self.fail("not an integer class"),
        }
    }

    /// The `long` argument `arg`: `base`, or the case's value, truncated to
    /// this target's `long` (2^32 is 0 where `long` has 32 bits).
    fn long(&mut self, arg: A, base: i64) -> c_long {
        self.int(arg, base) as c_long
    }

    /// The context the call gets: `base`, or the case's.
    fn ctx(&mut self, base: io_context_t) -> io_context_t {
        let Some(v) = self.take(A::Ctx) else {
            return base;
        };
        match v {
            V::Null => null_mut(),
            V::Unmapped => self.unmapped().cast(),
            V::Kernel => without_provenance_mut(KERNEL_ADDRESS),
            V::Misaligned => base.wrapping_byte_add(1),
            V::NotRing => self.page(NOT_RING).cast(),
            V::RingCopy => {
                let live = self.live();
                let copy = self.page(RING_COPY);
                // SAFETY: a live ring's 32-byte header is readable; the page
                // is ours.
                unsafe { std::ptr::copy_nonoverlapping(live.cast::<u8>(), copy, 32) };
                copy.cast()
            }
            V::Stale => {
                let stale = StaleHandle::new(self.lib);
                let ctx = stale.0;
                // Kept reserved (and inaccessible) until the process exits.
                std::mem::forget(stale);
                ctx
            }
            V::Foreign => self.foreign(),
            V::Inherited => {
                self.fork_call = true;
                base
            }
            V::OtherLib => self.setup(self.other_lib()),
            _ => self.fail("not a context class"),
        }
    }

    /// The pointer the call gets for `arg`: `base` (a valid value), or the
    /// case's.
    fn ptr<T>(&mut self, arg: A, base: *mut T) -> *mut T {
        match self.take(arg) {
            None => base,
            Some(v) => self.place(v, base),
        }
    }

    /// A bad pointer of class `v`, where `base` is the valid one.
    fn place<T>(&mut self, v: V, base: *mut T) -> *mut T {
        let size = size_of::<T>();
        if size >= PAGE {
            self.fail("value too large");
        }
        match v {
            V::Null => null_mut(),
            V::Unmapped => self.unmapped().cast(),
            V::Kernel => without_provenance_mut(KERNEL_ADDRESS),
            V::Misaligned => {
                // SAFETY: base points to a valid T; the scratch page has room
                // for it after its first byte.
                unsafe {
                    let p = self.page(SCRATCH).add(1);
                    std::ptr::copy_nonoverlapping(base.cast::<u8>(), p, size);
                    p.cast()
                }
            }
            V::ReadOnly | V::ReadOnlyGarbage => {
                let p = self.page(READ_ONLY);
                // SAFETY: as above, in the read-only page (still writable
                // until the mprotect), which is part of our mapping.
                unsafe {
                    if v == V::ReadOnly {
                        std::ptr::copy_nonoverlapping(base.cast::<u8>(), p, size);
                    } else {
                        p.cast::<usize>().write(GARBAGE_HANDLE);
                    }
                    if libc::mprotect(p.cast(), PAGE, libc::PROT_READ) != 0 {
                        self.fail("mprotect");
                    }
                }
                p.cast()
            }
            _ => self.fail("not a pointer class"),
        }
    }

    /// The timeout: the base's, with the case's value or pointer.
    fn timeout(&mut self) -> *mut libc::timespec {
        let value = match self.take(A::TimeoutValue) {
            Some(V::Time(s, ns)) => libc::timespec {
                tv_sec: s as libc::time_t,
                tv_nsec: ns as _,
            },
            Some(_) => self.fail("not a timespec class"),
            None => match self.case.base {
                B::Empty1 | B::Ready1 => libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1000,
                },
                _ => libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
            },
        };
        // SAFETY: the slots page is ours.
        let slot = unsafe { &raw mut (*self.slots()).timeout };
        // SAFETY: as above.
        unsafe { slot.write(value) };
        self.ptr(A::Timeout, slot)
    }

    /// Applies the case's iocb field, if it is one.
    fn fields(&mut self, io: *mut iocb) {
        let A::Field(f) = self.case.arg else {
            return;
        };
        self.used = true;
        let v = self.case.val;
        let x = match v {
            V::Int(x) => x,
            _ => 0,
        };
        let int_only = |env: &Env| {
            if !matches!(v, V::Int(_)) {
                env.fail("not an integer class")
            }
        };
        // SAFETY: io points to an iocb in our slots page; the fields written
        // are plain integers and pointers (the casts truncate as C would).
        let io = unsafe { &mut *io };
        match f {
            Fld::Data => {
                io.data = match v {
                    V::Int(x) => without_provenance_mut(x as usize),
                    _ => self.place(v, io.data),
                }
            }
            Fld::Buf => {
                let base = self.buf().cast::<[u8; BUF_LEN]>();
                io.u.c.buf = self.place(v, base).cast();
            }
            _ => {
                int_only(self);
                match f {
                    Fld::Key => io.key = x as u32,
                    Fld::RwFlags => io.aio_rw_flags = x as u32,
                    Fld::Opcode => io.aio_lio_opcode = x as i16,
                    Fld::Reqprio => io.aio_reqprio = x as i16,
                    Fld::Fildes => io.aio_fildes = x as c_int,
                    Fld::Nbytes => io.u.c.nbytes = x as _,
                    Fld::Offset => io.u.c.offset = x,
                    Fld::Reserved => io.u.c.__pad3 = x,
                    Fld::Flags => io.u.c.flags = x as u32,
                    Fld::Resfd => io.u.c.resfd = x as u32,
                    Fld::ResfdFlagged => {
                        // SAFETY: u.c is the member this iocb uses.
                        io.u.c.flags = unsafe { io.u.c.flags } | 1;
                        io.u.c.resfd = x as u32;
                    }
                    Fld::Data | Fld::Buf => unreachable!(),
                }
            }
        }
    }

    /// A context live in another process (a child of this one that stays
    /// until the case ends), as this process sees it: an address where
    /// nothing of this process is mapped, since the child made the mapping
    /// after the fork and this process maps nothing more.
    fn foreign(&mut self) -> io_context_t {
        let mut fds = [0; 2];
        // SAFETY: room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            self.fail("pipe2");
        }
        // SAFETY: this process has one thread.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut ctx: io_context_t = null_mut();
            // SAFETY: dies with its parent; ctx is ours to write and its
            // bytes are sent whole; then waits to be killed.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                (self.lib.io_setup)(8, &mut ctx);
                libc::write(fds[1], (&raw const ctx).cast(), size_of::<io_context_t>());
                loop {
                    libc::pause();
                }
            }
        }
        let mut ctx: io_context_t = null_mut();
        // SAFETY: reads the child's context into ctx; closes our pipe.
        let n = unsafe {
            let n = libc::read(fds[0], (&raw mut ctx).cast(), size_of::<io_context_t>());
            libc::close(fds[0]);
            libc::close(fds[1]);
            n
        };
        if pid < 0 || n != size_of::<io_context_t>() as isize || ctx.is_null() {
            self.fail("no context from the other process");
        }
        ctx
    }

    /// Builds the case's call and makes it.
    fn run(mut self) -> ! {
        let lib = self.lib;
        let func = self.case.func;
        let slots = self.slots();
        match func {
            F::Setup | F::QueueInit => {
                let f = if func == F::Setup {
                    lib.io_setup
                } else {
                    lib.io_queue_init
                };
                let maxevents = self.int(A::Maxevents, 8) as c_int;
                let initial = self.int(A::CtxpValue, 0) as usize;
                // SAFETY: the slots page is ours.
                let cell = unsafe {
                    let cell = &raw mut (*slots).cell;
                    cell.write(initial);
                    cell
                };
                let readable = !matches!(
                    (self.case.arg, self.case.val),
                    (A::Ctxp, V::Null | V::Unmapped | V::Kernel)
                );
                let ctxp: *mut io_context_t = self.ptr(A::Ctxp, cell).cast();
                self.invoke(move || {
                    // SAFETY: ctxp is readable when `readable`; the call is
                    // the case.
                    unsafe {
                        let before = if readable {
                            ctxp.read_unaligned()
                        } else {
                            null_mut()
                        };
                        let ret = f(maxevents, ctxp);
                        let extra = if !readable {
                            Extra::None
                        } else {
                            let after = ctxp.read_unaligned();
                            if after == before {
                                Extra::CtxpUnchanged
                            } else if after.is_null() {
                                Extra::CtxpCleared
                            } else {
                                Extra::CtxpSet
                            }
                        };
                        (ret, extra)
                    }
                })
            }
            F::Destroy | F::QueueRelease => {
                let f = if func == F::Destroy {
                    lib.io_destroy
                } else {
                    lib.io_queue_release
                };
                let base = self.live();
                let ctx = self.ctx(base);
                // SAFETY: the call is the case.
                self.invoke(move || (unsafe { f(ctx) }, Extra::None))
            }
            F::Submit => {
                let base = self.live();
                let ctx = self.ctx(base);
                let io = self.iocb_slot();
                // SAFETY: the slot is ours.
                unsafe { io.write(self.read_iocb(null_mut())) };
                self.fields(io);
                let iocb = self.ptr(A::Iocb, io);
                // SAFETY: the slots page is ours.
                let list = unsafe {
                    let list = &raw mut (*slots).list;
                    list.write([null_mut(); 8]);
                    (*list)[0] = iocb;
                    list
                };
                let iocbs: *mut *mut iocb = self.ptr(A::Iocbs, list).cast();
                let nr = self.long(A::Nr, 1);
                // SAFETY: the slots page is ours.
                let reaped = unsafe { (&raw mut (*slots).reaped).cast::<io_event>() };
                self.invoke(move || {
                    // SAFETY: the call is the case; then the completions of
                    // what it queued are reaped into room for 8 events.
                    unsafe {
                        let ret = (lib.io_submit)(ctx, nr, iocbs);
                        if ret <= 0 {
                            return (ret, Extra::None);
                        }
                        let mut wait = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 100_000_000,
                        };
                        let want = c_long::from(ret.min(8));
                        let n = (lib.io_getevents)(ctx, want, 8, reaped, &mut wait);
                        #[allow(clippy::unnecessary_cast)] // `long` may be 32-bit
                        if n > 0 {
                            (ret, Extra::Res((*reaped).res as c_long as i64))
                        } else {
                            (ret, Extra::NoCompletion)
                        }
                    }
                })
            }
            F::Cancel | F::Cancel01 => {
                let live = self.live();
                let io = self.iocb_slot();
                let mut poll = zeroed_iocb();
                poll.aio_lio_opcode = IO_CMD_POLL as i16;
                poll.aio_fildes = self.pipe[0];
                poll.u.poll.events = libc::POLLIN as c_int;
                let mut list = [io];
                // SAFETY: the slot is ours and stays valid while queued.
                let ret = unsafe {
                    io.write(poll);
                    (lib.io_submit)(live, 1, list.as_mut_ptr())
                };
                if ret != 1 {
                    self.fail("io_submit of the poll to cancel");
                }
                self.fields(io);
                let ctx = self.ctx(live);
                let iocb = self.ptr(A::Iocb, io);
                if func == F::Cancel {
                    // SAFETY: the slots page is ours.
                    let result = self.ptr(A::Result, unsafe { &raw mut (*slots).result });
                    self.invoke(move || {
                        // SAFETY: the call is the case.
                        let ret = unsafe { (lib.io_cancel)(ctx, iocb, result) };
                        (ret, Extra::None)
                    })
                } else {
                    // SAFETY: the call is the case.
                    self.invoke(move || (unsafe { (lib.io_cancel_0_1)(ctx, iocb) }, Extra::None))
                }
            }
            F::Getevents | F::Pgetevents | F::Getevents01 => {
                let base = self.base_ctx();
                let ctx = self.ctx(base);
                let min_nr = if func == F::Getevents01 {
                    1
                } else {
                    self.long(A::MinNr, 1)
                };
                let nr = self.long(A::Nr, 8);
                // SAFETY: the slots page is ours.
                let events = self.ptr(A::Events, unsafe { &raw mut (*slots).events });
                let events: *mut io_event = events.cast();
                let timeout = self.timeout();
                match func {
                    F::Getevents => self.invoke(move || {
                        // SAFETY: the call is the case.
                        let ret = unsafe { (lib.io_getevents)(ctx, min_nr, nr, events, timeout) };
                        (ret, Extra::None)
                    }),
                    F::Pgetevents => {
                        // SAFETY: the slots page is ours.
                        let sigmask = self.ptr(A::Sigmask, unsafe { &raw mut (*slots).sigset });
                        self.invoke(move || {
                            // SAFETY: the call is the case.
                            let ret = unsafe {
                                (lib.io_pgetevents)(ctx, min_nr, nr, events, timeout, sigmask)
                            };
                            (ret, Extra::None)
                        })
                    }
                    _ => self.invoke(move || {
                        // SAFETY: the call is the case.
                        let ret = unsafe { (lib.io_getevents_0_1)(ctx, nr, events, timeout) };
                        (ret, Extra::None)
                    }),
                }
            }
            F::QueueWait | F::QueueWait01 => {
                let f = if func == F::QueueWait {
                    lib.io_queue_wait
                } else {
                    lib.io_queue_wait_0_1
                };
                let base = self.base_ctx();
                let ctx = self.ctx(base);
                let timeout = self.timeout();
                // SAFETY: the call is the case.
                self.invoke(move || (unsafe { f(ctx, timeout) }, Extra::None))
            }
            F::QueueRun => {
                let base = match self.case.base {
                    B::Ready0 => {
                        let live = self.live();
                        let mut io = self.read_iocb(callback_ptr());
                        self.fields(&mut io);
                        self.complete_one(live, io.data)
                    }
                    _ => self.live(),
                };
                let ctx = self.ctx(base);
                self.invoke(move || {
                    CALLBACKS.store(0, Ordering::Relaxed);
                    // SAFETY: the call is the case.
                    let ret = unsafe { (lib.io_queue_run)(ctx) };
                    (ret, Extra::Callbacks(CALLBACKS.load(Ordering::Relaxed)))
                })
            }
        }
    }

    /// The context the base state names.
    fn base_ctx(&mut self) -> io_context_t {
        match self.case.base {
            B::Ready0 | B::Ready1 => {
                let live = self.live();
                self.complete_one(live, callback_ptr())
            }
            B::NullCtx => null_mut(),
            B::Plain | B::Empty0 | B::Empty1 => self.live(),
        }
    }

    /// Makes the call (in a forked child for [`V::Inherited`]), reports what
    /// it did, and ends the case process.
    fn invoke(self, call: impl FnOnce() -> (c_int, Extra)) -> ! {
        if !self.used {
            self.fail("the function does not take this argument");
        }
        let rec = self.rec;
        let measured = move || {
            set_errno(ERRNO_SENTINEL);
            let (ret, extra) = call();
            let errno_changed = errno() != ERRNO_SENTINEL;
            let (extra_tag, extra) = extra.encode();
            write_record(
                rec,
                Record {
                    kind: RETURNED,
                    ret: i64::from(ret),
                    errno_changed: i64::from(errno_changed),
                    extra_tag,
                    extra,
                    ..Record::default()
                },
            );
        };
        if !self.fork_call {
            measured();
            exit_now();
        }
        // SAFETY: this process has one thread.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            measured();
            exit_now();
        }
        if pid < 0 {
            self.fail("fork");
        }
        let mut status = 0;
        // SAFETY: our child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
            self.fail("waitpid");
        }
        if libc::WIFSIGNALED(status) {
            write_record(
                rec,
                Record {
                    kind: KILLED,
                    signal: i64::from(libc::WTERMSIG(status)),
                    ..Record::default()
                },
            );
        }
        exit_now()
    }
}

/// An address nothing is mapped at: the middle of three pages mapped and
/// unmapped again.
fn unmapped_address() -> *mut c_void {
    // SAFETY: a fresh anonymous mapping, then its removal.
    unsafe {
        let p = libc::mmap(
            null_mut(),
            3 * PAGE,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return without_provenance_mut(PAGE);
        }
        libc::munmap(p, 3 * PAGE);
        p.cast::<u8>().add(PAGE).cast()
    }
}

/// The case process: set up, call, report, `_exit`.
fn case_process(lib: &'static Aio, case: &'static Case, rec: *mut Record) -> ! {
    // SAFETY: process attributes of this (child) process only: its own
    // process group (so that everything it forks can be killed at once), no
    // core dumps, default actions for the signals a bad pointer raises, no
    // signal blocked.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, null_mut());
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Env::new(lib, case, rec).run();
    }));
    broken(rec, "panicked")
}

/// Runs one case with one library in a child process.
fn run(lib: &'static Aio, case: &'static Case) -> Outcome {
    let page = SharedPage::new();
    // SAFETY: the child calls only the library and async-signal-safe
    // functions before _exit (glibc's malloc, reachable on error paths only,
    // is fork-safe).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        case_process(lib, case, page.record());
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    // SAFETY: our child; it does the same (whichever runs first).
    unsafe { libc::setpgid(pid, pid) };
    // The time limit is the call's: the case is over once it has reported,
    // or once its process has begun to exit (a crash). Tearing down its
    // contexts and queued requests is the kernel's business, which under
    // load can take seconds: that is waited for, not timed.
    let deadline = Instant::now() + PER_CASE;
    let mut pause = Duration::from_micros(20);
    let mut hung = false;
    loop {
        if page.reported() {
            break;
        }
        // SAFETY: info is ours to write; WNOWAIT leaves the child to be
        // reaped below, so its pid (and process group) stays ours until then.
        let exited = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() == pid
        };
        if exited {
            break;
        }
        if Instant::now() >= deadline {
            hung = !page.reported() && !exiting(pid);
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
    }
    let mut status = 0;
    // SAFETY: kills what is left of the case's process group (a hung case, a
    // helper process), then reaps the case process and, since this process
    // is a subreaper, the orphans of its group.
    unsafe {
        libc::killpg(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
        while libc::waitpid(-pid, null_mut(), 0) > 0 {}
    }
    if hung {
        return Outcome::Hang;
    }
    let (rec, message) = page.read();
    match rec.kind {
        RETURNED => Outcome::Returned {
            ret: rec.ret as c_int,
            errno_changed: rec.errno_changed != 0,
            extra: Extra::decode(rec.extra_tag, rec.extra),
        },
        KILLED => Outcome::Signal(rec.signal as c_int),
        BROKEN => Outcome::Broken(message),
        NOTHING if libc::WIFSIGNALED(status) => Outcome::Signal(libc::WTERMSIG(status)),
        _ => Outcome::Broken(format!("exited ({status:#x}) without a result")),
    }
}

/// Runs the jobs on [`WORKERS`] threads; the outcomes in the jobs' order.
fn run_all(jobs: &[(&'static Case, &'static Aio)]) -> Vec<Outcome> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(case, lib)) = jobs.get(i) else {
                        break;
                    };
                    let outcome = run(lib, case);
                    outcomes.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });
    outcomes
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

// ------------------------------------------------------------ the checks

/// README.md with every run of whitespace as one space.
fn readme() -> String {
    let text = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    normalise(&text)
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn documented(readme: &str, doc: &Doc) -> Option<String> {
    if readme.contains(&normalise(doc.needle)) {
        None
    } else {
        Some(format!(
            "README.md ({}) no longer says: {:?}",
            doc.section, doc.needle
        ))
    }
}

/// What is wrong with a case's results, if anything.
fn verdict(readme: &str, case: &Case, sys: &Outcome, our: &Outcome) -> Option<String> {
    for o in [sys, our] {
        if let Outcome::Broken(why) = o {
            return Some(format!("the case could not run: {why}"));
        }
    }
    if *sys == Outcome::Hang || *our == Outcome::Hang {
        return Some("hangs".into());
    }
    if our.errno_changed() {
        return Some("libaio-rs changed errno".into());
    }
    match expect(case) {
        E::Same => {
            if sys.survived() && our.survived() {
                (sys != our).then(|| "libaio-rs differs from libaio, which survives".into())
            } else if sys.survived() {
                Some("libaio-rs crashes where libaio does not".into())
            } else if our.clean_error() {
                Some(
                    "libaio crashes and libaio-rs returns an error, but README.md's \"Differences \
                     from libaio\" does not list this case"
                        .into(),
                )
            } else if our.crashed() {
                Some(
                    "both crash: libaio-rs should return an error (or the case is a known \
                     exception, to be documented and marked BothCrash)"
                        .into(),
                )
            } else {
                Some("libaio crashes and libaio-rs does not return an error".into())
            }
        }
        E::OursReturns(doc, want) => {
            if !sys.crashed() {
                Some("marked as crashing libaio, but libaio survives".into())
            } else if !matches!(our, Outcome::Returned { ret, .. } if *ret == want) {
                Some(format!(
                    "libaio crashes, and libaio-rs does not return {want}"
                ))
            } else {
                documented(readme, &doc)
            }
        }
        E::OursErrs(doc) => {
            if !sys.crashed() {
                Some("marked as crashing libaio, but libaio survives".into())
            } else if !our.clean_error() {
                Some("libaio crashes, and libaio-rs does not return an error".into())
            } else {
                documented(readme, &doc)
            }
        }
        E::Documented(doc) => {
            if !(sys.survived() && our.survived()) {
                Some("marked as a difference where both survive, but one crashes".into())
            } else if sys == our {
                Some("marked as a difference, but the results are the same".into())
            } else if !our.clean_error() {
                Some("a documented difference, but libaio-rs does not return an error".into())
            } else {
                documented(readme, &doc)
            }
        }
        E::BothCrash(_) => (!(sys.crashed() && our.crashed()))
            .then(|| "marked as crashing both libraries, but one survives".into()),
        E::BackendDiffers(doc) => {
            if !(sys.survived() && our.survived()) || sys == our {
                Some("marked as a difference of the io_uring backend, which does not show".into())
            } else {
                documented(readme, &doc)
            }
        }
        E::BackendCrashes(doc) => {
            if !(sys.survived() && our.crashed()) {
                Some("marked as a fault of the io_uring backend, which does not show".into())
            } else {
                documented(readme, &doc)
            }
        }
        E::ReferenceDiffers(doc) => {
            if !(sys.survived() && our.survived()) {
                Some("marked as a difference of the reference where both survive".into())
            } else {
                documented(readme, &doc)
            }
        }
    }
}

/// Checks the table itself: no duplicate case, and every required argument
/// and value class present.
fn table_problems() -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // Where `long` has 32 bits the LONG_MAX cases are the INT_MAX ones
    // (see [`cases`]); the table is checked as written, for 64 bits.
    for case in CASES.iter().filter(|_| LONG_MAX != INT_MAX) {
        if !seen.insert(case.label()) {
            problems.push(format!("duplicate case {}", case.label()));
        }
    }
    for (func, arg, vals) in required() {
        let present = |v: Option<V>| {
            CASES
                .iter()
                .any(|c| c.func == func && c.arg == arg && v.is_none_or(|v| c.val == v))
        };
        if !present(None) {
            problems.push(format!("no case for {} {:?}", func.name(), arg));
        }
        for v in vals {
            if !present(Some(v)) {
                problems.push(format!("no case for {} {:?} = {:?}", func.name(), arg, v));
            }
        }
    }
    problems
}

// ------------------------------------------------------------ the report

fn render(rows: &[(&Case, Outcome, Outcome)]) -> String {
    let same = rows
        .iter()
        .filter(|(_, s, o)| s.survived() && s == o)
        .count();
    let both_crash = rows
        .iter()
        .filter(|(_, s, o)| s.crashed() && o.crashed())
        .count();
    let different = rows.len() - same - both_crash;
    let mut md = String::new();
    md.push_str(
        "# Bad input: libaio 0.3.113 and libaio-rs\n\
         \n\
         Generated by `tests/bad_input.rs`; do not edit. To regenerate:\n\
         \n\
         ```sh\n",
    );
    if ARCH == "amd64" {
        md.push_str(
            "LIBAIO_RS_BLESS=1 LIBAIO_RS_LIBDIR=$PWD/build/lib cargo test --test bad_input\n",
        );
    } else {
        writeln!(md, "LIBAIO_RS_BLESS=1 cargo test --test foreign {ARCH}").unwrap();
    }
    md.push_str(
        "```\n\
         \n\
         Each case calls one exported function with one argument (or one field of an iocb) \
         replaced by a bad value and everything else valid, in a child process of its own, \
         once with the system's libaio 0.3.113 (Debian's `libaio1`) and once with libaio-rs. \
         A result is the return value (a negated errno by name), then what the call left \
         behind; a signal means the process died of it. The errors are the kernel's, so \
         another kernel may give other ones for some cases.\n\
         \n\
         Where a case says \"empty ring\" or \"one completion waiting\", the context is a \
         live one of the library under test; `io_submit` queues a 512-byte read of \
         `/dev/zero`; `io_cancel` cancels a poll queued on an empty pipe.\n\
         \n",
    );
    let errno_changed = rows
        .iter()
        .filter(|(_, s, o)| s.errno_changed() || o.errno_changed())
        .count();
    if errno_changed == 0 {
        md.push_str("No call changed `errno`.\n\n");
    } else {
        writeln!(md, "{errno_changed} case(s) changed `errno` (marked).\n").unwrap();
    }
    writeln!(
        md,
        "| Cases run | Same | Different | Crash in both |\n|---:|---:|---:|---:|\n| {} | {same} \
         | {different} | {both_crash} |\n",
        rows.len()
    )
    .unwrap();
    md.push_str(
        "## Differences\n\n\
         Each with the section of README.md that documents it.\n\n\
         | Case | libaio 0.3.113 | libaio-rs | Documented in |\n|---|---|---|---|\n",
    );
    for (case, s, o) in rows {
        if !(s.survived() && s == o || s.crashed() && o.crashed()) {
            let doc = match expect(case) {
                E::OursErrs(doc)
                | E::OursReturns(doc, _)
                | E::Documented(doc)
                | E::BackendDiffers(doc)
                | E::BackendCrashes(doc)
                | E::ReferenceDiffers(doc) => doc.section,
                _ => "**nowhere**",
            };
            writeln!(md, "| {} | {s} | {o} | {doc} |", case.label()).unwrap();
        }
    }
    md.push_str(
        "\n## Crash in both\n\n\
         Where libaio-rs, like libaio, must read or call through what the caller gave.\n\n\
         | Case | libaio 0.3.113 | libaio-rs | Why |\n|---|---|---|---|\n",
    );
    for (case, s, o) in rows {
        if s.crashed() && o.crashed() {
            let why = match expect(case) {
                E::BothCrash(why) => why,
                _ => "**not expected**",
            };
            writeln!(md, "| {} | {s} | {o} | {why} |", case.label()).unwrap();
        }
    }
    md.push_str("\n## Every case\n\n| Case | libaio 0.3.113 | libaio-rs |\n|---|---|---|\n");
    for (case, s, o) in rows {
        writeln!(md, "| {} | {s} | {o} |", case.label()).unwrap();
    }
    md
}

/// The first line where two texts differ.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  checked in: {x}\n  now:        {y}", i + 1);
        }
    }
    format!(
        "the checked-in file has {} lines, the new one {}",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn bad_input_matrix() {
    let started = Instant::now();
    if std::env::var_os("LIBAIO_USERSPACE_REAP").is_some() {
        // SAFETY: the only test of this binary, on its only running test
        // thread; nothing reads the environment concurrently.
        unsafe { std::env::remove_var("LIBAIO_USERSPACE_REAP") };
    }
    // Orphans of a case (a helper process outliving its crashed parent)
    // become this process's children, to be reaped.
    // SAFETY: sets a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    // Loaded before any fork.
    let (sys_lib, our_lib) = (system(), ours());

    let mut problems = table_problems();
    let cases = cases();
    let jobs: Vec<(&'static Case, &'static Aio)> = cases
        .iter()
        .flat_map(|&case| [(case, sys_lib), (case, our_lib)])
        .collect();
    let outcomes = run_all(&jobs);
    let rows: Vec<(&Case, Outcome, Outcome)> = cases
        .iter()
        .zip(outcomes.chunks(2))
        .map(|(&case, pair)| (case, pair[0].clone(), pair[1].clone()))
        .collect();

    let readme = readme();
    for (case, sys, our) in &rows {
        if let Some(why) = verdict(&readme, case, sys, our) {
            problems.push(format!(
                "{}: {why}\n    libaio: {sys}\n    libaio-rs: {our}",
                case.label()
            ));
        }
    }

    let markdown = render(&rows);
    let name = doc_path();
    let doc = root().join(&name);
    if std::env::var_os(BLESS).is_some_and(|v| v == "1") {
        std::fs::create_dir_all(doc.parent().unwrap()).unwrap();
        std::fs::write(&doc, &markdown).unwrap();
        if std::env::var_os(BLESS_TO_CONSOLE).is_some() {
            print!("@@@ FILE {name}\n{markdown}@@@ ENDFILE\n");
        }
    } else {
        let checked_in = std::fs::read_to_string(&doc).unwrap_or_default();
        if checked_in != markdown {
            problems.push(format!(
                "{name} is not what this run gives ({}); regenerate it with {BLESS}=1 \
                 LIBAIO_RS_LIBDIR=... cargo test --test bad_input (on another architecture: \
                 {BLESS}=1 cargo test --test foreign <arch>)",
                first_difference(&checked_in, &markdown)
            ));
        }
    }

    let elapsed = started.elapsed();
    println!("{} cases, twice each, in {elapsed:.1?}", cases.len());
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// --------------------------------------- the io_uring backend (issue 13)

#[path = "bad_input/io_uring.rs"]
mod io_uring;

/// What `case` is expected to do: the table's, or under the io_uring backend
/// the backend's (`bad_input/io_uring.rs`).
fn expect(case: &Case) -> E {
    if io_uring::on() {
        io_uring::expect(case)
    } else {
        expectation(case)
    }
}

/// Where the results are rendered.
fn doc_path() -> String {
    if io_uring::on() {
        "docs/bad-input-io_uring.md".into()
    } else {
        doc()
    }
}
