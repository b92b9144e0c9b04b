//! When io_getevents and io_pgetevents skip the system call, and when they
//! do not, observed directly: the calls run on a thread with a seccomp filter
//! that makes those two system calls fail with an error the kernel never
//! gives for them (EHWPOISON), instead of reaching the kernel. A result of
//! `-EHWPOISON` proves the library made the call; any other result proves it
//! answered by itself. The filter is the thread's own (no TSYNC), so the
//! rest of the test process is untouched.
//!
//! libaio's rule, which both libraries must follow: skip the call (returning
//! 0) exactly when the timeout is `{0, 0}` and the ring, with the kernel's
//! magic number, holds no completion. Ours also makes the call for contexts it
//! did not create or has destroyed, where libaio would read through the
//! handle and crash.
//!
//! Under the io_uring backend (README.md, "The io_uring backend") our
//! library's contexts never make the io_getevents system call: completions
//! waiting are taken in user space, and it waits in io_uring_enter(2), which
//! the filter then catches too.

mod common;

use aio_rs::abi::io_iocb_cmd::IO_CMD_PREAD;
use common::*;
use std::ffi::c_int;
use std::ptr::{null_mut, without_provenance_mut};

/// io_getevents(ctx, 0, 1, ..., timeout) and io_pgetevents with the same
/// arguments, on a thread where they cannot reach the kernel.
fn reap_without_kernel(
    lib: &Aio,
    ctx: io_context_t,
    timeout: Option<libc::timespec>,
) -> [c_int; 4] {
    let raw = ctx as usize;
    without_waiting_calls(move || {
        let ctx: io_context_t = without_provenance_mut(raw);
        let mut event = zeroed_event();
        let mut t = timeout.unwrap_or(libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        let t = if timeout.is_some() {
            &raw mut t
        } else {
            null_mut()
        };
        // SAFETY: room for one event; the timeout is ours or NULL.
        unsafe {
            [
                keeps_errno("io_getevents", || {
                    (lib.io_getevents)(ctx, 0, 1, &mut event, t)
                }),
                keeps_errno("io_pgetevents", || {
                    (lib.io_pgetevents)(ctx, 0, 1, &mut event, t, null_mut())
                }),
                keeps_errno("io_getevents@0.1", || {
                    (lib.io_getevents_0_1)(ctx, 1, &mut event, t)
                }),
                keeps_errno("io_queue_wait", || (lib.io_queue_wait)(ctx, t)),
            ]
        }
    })
}

const ZERO: Option<libc::timespec> = Some(libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
});

#[test]
fn the_filter_catches_the_calls() {
    // Without a context this library knows, every call reaches the filter.
    let got = reap_without_kernel(ours(), null_mut(), ZERO);
    assert_eq!(got, [FILTERED; 4]);
}

#[test]
fn zero_timeout_on_an_empty_ring_makes_no_call() {
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        assert_eq!(
            reap_without_kernel(lib, ctx.ctx, ZERO),
            [0; 4],
            "{:?}",
            lib.which
        );
    }
}

#[test]
fn a_waiting_completion_is_fetched_from_the_kernel() {
    let file = ScratchFile::new(Fs::Shm, "fast-path", 4096, 0);
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let mut buf = AlignedBuf::new(4096, 0);
        let mut io = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
        ctx.submit(&mut [&mut io]);
        if io_uring_backend() && lib.which == Which::Ours {
            // Done inside io_submit (a read of /dev/shm), taken without a
            // system call by the first reaper; then nothing is left.
            assert_eq!(reap_without_kernel(lib, ctx.ctx, ZERO), [1, 0, 0, 0]);
            continue;
        }
        while ring_head_tail(ctx.ctx).0 == ring_head_tail(ctx.ctx).1 {
            std::thread::yield_now();
        }
        // io_queue_wait asks for no event (nr 0) but makes the call alike.
        assert_eq!(
            reap_without_kernel(lib, ctx.ctx, ZERO),
            [FILTERED; 4],
            "{:?}",
            lib.which
        );
        ctx.reap(1);
    }
}

#[test]
fn any_other_timeout_makes_the_call() {
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        for timeout in [
            None,
            Some(libc::timespec {
                tv_sec: 0,
                tv_nsec: 1,
            }),
            Some(libc::timespec {
                tv_sec: 1,
                tv_nsec: 0,
            }),
        ] {
            // Under the backend, what asks for no event (min_nr 0, or nr 0
            // for io_queue_wait) is answered at once; only io_getevents@0.1,
            // which waits for one, enters the kernel.
            let expected = if io_uring_backend() && lib.which == Which::Ours {
                [0, 0, FILTERED, 0]
            } else {
                [FILTERED; 4]
            };
            assert_eq!(
                reap_without_kernel(lib, ctx.ctx, timeout),
                expected,
                "{:?} {timeout:?}",
                lib.which
            );
        }
    }
}

#[test]
fn a_ring_without_the_magic_number_makes_the_call() {
    for lib in both() {
        if io_uring_backend() && lib.which == Which::Ours {
            // The backend's handle has no magic number, and is read-only.
            continue;
        }
        let ctx = Ctx::new(lib, 4);
        let magic = ctx.ctx.cast::<u32>().wrapping_add(4);
        // SAFETY: the ring header is mapped writable; the kernel never reads
        // the magic number back. It is restored below.
        unsafe { magic.write_volatile(0) };
        let got = reap_without_kernel(lib, ctx.ctx, ZERO);
        // SAFETY: as above.
        unsafe { magic.write_volatile(0xa10a_10a1) };
        assert_eq!(got, [FILTERED; 4], "{:?}", lib.which);
    }
}

#[test]
fn contexts_the_library_does_not_know_go_to_the_kernel() {
    // A destroyed context, and one created by the other library: libaio
    // would read the first and crash; ours asks the kernel.
    let destroyed = StaleHandle::new(ours());
    assert_eq!(
        reap_without_kernel(ours(), destroyed.0, ZERO),
        [FILTERED; 4]
    );
    let foreign = Ctx::new(system(), 4);
    assert_eq!(
        reap_without_kernel(ours(), foreign.ctx, ZERO),
        [FILTERED; 4]
    );
    for bogus in [usize::MAX, 0x1000, 4096 * 12345] {
        assert_eq!(
            reap_without_kernel(ours(), without_provenance_mut(bogus), ZERO),
            [FILTERED; 4]
        );
    }
}

#[test]
fn io_queue_run_on_an_empty_ring_makes_no_call() {
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let raw = ctx.ctx as usize;
        let run = lib.io_queue_run;
        // SAFETY: no completion, so no callback is called.
        let ret = without_waiting_calls(move || unsafe { run(without_provenance_mut(raw)) });
        assert_eq!(ret, 0, "{:?}", lib.which);
    }
}

fn ring_head_tail(ctx: io_context_t) -> (u32, u32) {
    // SAFETY: a live context is its mapped ring; head and tail are the
    // third and fourth u32 of the header.
    unsafe {
        (
            ctx.cast::<u32>().add(2).read_volatile(),
            ctx.cast::<u32>().add(3).read_volatile(),
        )
    }
}
