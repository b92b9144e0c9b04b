//! Every exported function, called from Rust through dlopen on both our
//! library and the system's libaio: the same calls must give the same
//! results, with real I/O on tmpfs and on disk, for the success paths and for
//! every error the kernel can give, and none may change errno.
//!
//! Where libaio itself crashes (bad or destroyed contexts, NULL handles), only
//! our library is called, and the documented error is asserted.

mod common;

use aio_rs::abi::io_iocb_cmd::*;
use aio_rs::abi::io_iocb_common;
use common::*;
use std::ffi::{c_int, c_long, c_void};
use std::ptr::{null_mut, without_provenance_mut};

const EINVAL: c_int = -libc::EINVAL;
const EFAULT: c_int = -libc::EFAULT;
const EBADF: c_int = -libc::EBADF;
const EAGAIN: c_int = -libc::EAGAIN;
const EINTR: c_int = -libc::EINTR;
const EINPROGRESS: c_int = -libc::EINPROGRESS;

fn bad_ctx() -> io_context_t {
    without_provenance_mut(usize::MAX)
}

/// An address no access can succeed at: a page reserved for the whole test
/// process with no access rights (not unmapped: another test thread could
/// map something there between a munmap and the call that uses it).
fn unmapped_address() -> *mut c_void {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let page = *PAGE.get_or_init(|| {
        // SAFETY: a fresh anonymous mapping, never unmapped.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p as usize
    });
    without_provenance_mut(page)
}

fn zero_timeout() -> libc::timespec {
    libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }
}

/// Whether the tests run with the library's opt-in user-space reaping.
fn user_space_reaping() -> bool {
    std::env::var_os("LIBAIO_USERSPACE_REAP").is_some_and(|v| v == "1")
}

/// Whether our library may read or write, in user space, a pointer the
/// kernel would check: under the io_uring backend it reads the iocb arrays,
/// the iocbs and the events arrays itself, so an unmapped one faults
/// instead of giving `EFAULT` (README.md, "The io_uring backend"; pinned by
/// tests/bad_input.rs under the backend). Such cases are left out then.
fn pointers_reach_the_kernel() -> bool {
    !io_uring_backend()
}

/// The io_uring backend's handle: a page that looks like the header of a
/// ring nobody may read from user space (README.md, "The io_uring
/// backend").
fn assert_declining_header(ctx: io_context_t, requested: u32) {
    assert_eq!(ctx as usize % 4096, 0);
    assert!(ring_word(ctx, 4) >= 2 * requested, "nr as the kernel's");
    assert_eq!(ring_word(ctx, 8), ring_word(ctx, 12), "head == tail");
    assert_ne!(ring_word(ctx, 16), 0xa10a_10a1, "no kernel magic");
    assert_ne!(ring_word(ctx, 24), 0, "incompatible features");
    assert_eq!(ring_word(ctx, 28), 32, "header_length");
}

/// A pipe whose read end never becomes readable: polls on it stay pending.
struct Pipe([c_int; 2]);

impl Pipe {
    fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: fds has room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        Pipe(fds)
    }
    fn read_end(&self) -> c_int {
        self.0[0]
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: our descriptors.
        unsafe {
            libc::close(self.0[0]);
            libc::close(self.0[1]);
        }
    }
}

fn poll_iocb(fd: c_int) -> iocb {
    let mut io = zeroed_iocb();
    io.aio_fildes = fd;
    io.aio_lio_opcode = IO_CMD_POLL as i16;
    io.u.poll.events = libc::POLLIN as c_int;
    io
}

/// Waits until the ring holds a completion. (Under the io_uring backend the
/// handle is no ring; there the requests these tests wait for, on
/// /dev/shm, complete inside io_submit, as they do with kernel AIO.)
fn wait_for_completion(ctx: io_context_t) {
    if io_uring_backend() && is_ours(ctx) {
        return;
    }
    while ring_word(ctx, 8) == ring_word(ctx, 12) {
        std::thread::yield_now();
    }
}

/// Whether `ctx` is a handle of our library's io_uring backend (its header
/// lacks the kernel's magic number).
fn is_ours(ctx: io_context_t) -> bool {
    ring_word(ctx, 16) != 0xa10a_10a1
}

/// /proc/sys/fs/aio-max-nr: the most events all contexts may hold.
fn aio_max_nr() -> c_int {
    std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Reads the ring header word at `offset` through the context handle.
fn ring_word(ctx: io_context_t, offset: usize) -> u32 {
    // SAFETY: ctx is a live context, i.e. the address of its mapped ring,
    // whose header has 8 u32 fields.
    unsafe { ctx.cast::<u8>().add(offset).cast::<u32>().read_volatile() }
}

// ---------------------------------------------------------------- io_setup

#[test]
fn io_setup_returns_the_kernel_ring_address() {
    for lib in both() {
        let ctx = keeps_errno("io_setup", || Ctx::new(lib, 32));
        if io_uring_backend() && lib.which == Which::Ours {
            assert_declining_header(ctx.ctx, 32);
            continue;
        }
        // The handle is the ring: fio and QEMU read it as struct aio_ring.
        assert_eq!(ctx.ctx as usize % 4096, 0);
        assert!(ring_word(ctx.ctx, 4) >= 32, "nr");
        assert_eq!(
            ring_word(ctx.ctx, 8),
            ring_word(ctx.ctx, 12),
            "head == tail"
        );
        assert_eq!(ring_word(ctx.ctx, 16), 0xa10a_10a1, "magic");
        assert_eq!(ring_word(ctx.ctx, 28), 32, "header_length");
    }
}

#[test]
fn io_setup_errors_match_libaio() {
    let sizes = [
        0,
        -1,
        -1000,
        c_int::MIN,
        c_int::MAX,
        1 << 28,
        aio_max_nr() + 1,
    ];
    let results = both().map(|lib| {
        let setup = |n: c_int, ctxp: *mut io_context_t| -> c_int {
            // SAFETY: ctxp is either ours or an address the kernel rejects.
            keeps_errno("io_setup", || unsafe { (lib.io_setup)(n, ctxp) })
        };
        let mut results = Vec::new();
        for n in sizes {
            let mut ctx: io_context_t = null_mut();
            results.push(setup(n, &mut ctx));
            assert!(ctx.is_null());
        }
        // A handle that is not 0 is refused, and io_setup leaves it alone.
        let mut garbage: io_context_t = without_provenance_mut(0x1234_5000);
        results.push(setup(1, &mut garbage));
        assert_eq!(garbage as usize, 0x1234_5000);
        for ctxp in [
            null_mut(),
            without_provenance_mut(KERNEL_ADDRESS),
            unmapped_address().cast(),
        ] {
            results.push(setup(1, ctxp));
        }
        results
    });
    assert_eq!(results[0], results[1], "ours vs system");
    // The kernel reads maxevents as unsigned: negative sizes are huge ones,
    // past /proc/sys/fs/aio-max-nr or past its own limit.
    assert_eq!(
        results[0],
        [
            EINVAL, EINVAL, EINVAL, EAGAIN, EINVAL, EINVAL, EAGAIN, EINVAL, EFAULT, EFAULT, EFAULT
        ]
    );
}

// ----------------------------------------------------------- io_queue_init

#[test]
fn io_queue_init_clears_the_handle_first() {
    for lib in both() {
        let mut ctx: io_context_t = without_provenance_mut(0xdead_b000);
        // SAFETY: ctx is ours.
        let ret = keeps_errno("io_queue_init", || unsafe {
            (lib.io_queue_init)(8, &mut ctx)
        });
        assert_eq!(ret, 0, "{:?}", lib.which);
        if io_uring_backend() && lib.which == Which::Ours {
            assert_declining_header(ctx, 8);
        } else {
            assert_eq!(ring_word(ctx, 16), 0xa10a_10a1);
        }
        // SAFETY: the context we created.
        assert_eq!(unsafe { (lib.io_queue_release)(ctx) }, 0);

        // When io_setup then fails, the handle is left cleared.
        let mut ctx: io_context_t = without_provenance_mut(0xdead_b000);
        // SAFETY: ctx is ours.
        assert_eq!(unsafe { (lib.io_queue_init)(1 << 20, &mut ctx) }, EAGAIN);
        assert!(ctx.is_null(), "{:?}", lib.which);
    }
}

#[test]
fn io_queue_init_rejects_non_positive_sizes_without_touching_the_handle() {
    for lib in both() {
        for n in [0, -5, c_int::MIN] {
            let mut ctx: io_context_t = without_provenance_mut(0x4000);
            // SAFETY: ctx is ours.
            let ret = keeps_errno("io_queue_init", || unsafe {
                (lib.io_queue_init)(n, &mut ctx)
            });
            assert_eq!(ret, EINVAL);
            assert_eq!(ctx as usize, 0x4000);
        }
    }
}

#[test]
fn io_queue_init_null_handle_is_efault_where_libaio_crashes() {
    for ctxp in [
        null_mut(),
        without_provenance_mut(KERNEL_ADDRESS),
        unmapped_address().cast(),
    ] {
        // SAFETY: the library must reject these without writing.
        let ret = keeps_errno("io_queue_init", || unsafe {
            (ours().io_queue_init)(4, ctxp)
        });
        assert_eq!(ret, EFAULT, "{ctxp:?}");
    }
    // Both agree when maxevents is checked first.
    for lib in both() {
        // SAFETY: rejected before the handle is looked at.
        assert_eq!(unsafe { (lib.io_queue_init)(0, null_mut()) }, EINVAL);
    }
}

// ------------------------------------------- io_destroy / io_queue_release

#[test]
fn io_destroy_and_io_queue_release_free_once() {
    for lib in both() {
        for destroy in [lib.io_destroy, lib.io_queue_release] {
            let ctx = Ctx::new(lib, 4);
            let raw = ctx.ctx;
            std::mem::forget(ctx);
            // SAFETY: the context we created.
            assert_eq!(keeps_errno("io_destroy", || unsafe { destroy(raw) }), 0);
            let stale = StaleHandle::new(lib);
            let again = keeps_errno("io_destroy", || {
                // SAFETY: the kernel validates the handle.
                unsafe { destroy(stale.0) }
            });
            assert_eq!(again, EINVAL);
            // SAFETY: as above.
            assert_eq!(unsafe { destroy(null_mut()) }, EINVAL);
            // SAFETY: as above.
            assert_eq!(unsafe { destroy(bad_ctx()) }, EINVAL);
        }
    }
}

#[test]
fn io_destroy_waits_for_io_in_flight() {
    for lib in both() {
        let file = ScratchFile::new(Fs::Disk, "destroy", 1 << 20, 0);
        let mut bufs: Vec<AlignedBuf> = (0..16).map(|_| AlignedBuf::new(64 << 10, 0x5a)).collect();
        let mut iocbs: Vec<iocb> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| rw_iocb(IO_CMD_PWRITE, file.fd, b, (i * (64 << 10)) as i64))
            .collect();
        let mut ptrs: Vec<*mut iocb> = iocbs.iter_mut().map(|i| i as *mut iocb).collect();
        let mut ctx = Ctx::new(lib, 16);
        ctx.submit(&mut ptrs);
        let raw = std::mem::replace(&mut ctx.ctx, null_mut());
        // SAFETY: the context we created; the buffers outlive the call,
        // which returns only once the writes are done.
        assert_eq!(unsafe { (lib.io_destroy)(raw) }, 0);
        let mut check = AlignedBuf::new(1 << 20, 0);
        // SAFETY: reading into our buffer.
        let n = unsafe { libc::pread(file.fd, check.as_mut_ptr().cast(), check.len(), 0) };
        assert_eq!(n, 1 << 20);
        assert!(
            check.iter().all(|&b| b == 0x5a),
            "{:?}: writes finished before destroy returned",
            lib.which
        );
    }
}

#[test]
fn bad_or_destroyed_contexts_are_einval_everywhere() {
    let lib = ours();
    let stale = StaleHandle::new(lib);
    let destroyed = stale.0;
    let mut event = zeroed_event();
    let mut io = poll_iocb(0);
    let mut list = [&mut io as *mut iocb];
    for ctx in [
        destroyed,
        bad_ctx(),
        without_provenance_mut(0x1000),
        null_mut(),
    ] {
        let mut zero = zero_timeout();
        // SAFETY: the library must not read through these handles; the
        // kernel rejects them.
        unsafe {
            assert_eq!(
                keeps_errno("io_getevents", || (lib.io_getevents)(
                    ctx, 0, 1, &mut event, &mut zero
                )),
                EINVAL
            );
            assert_eq!(
                (lib.io_getevents)(ctx, 1, 1, &mut event, null_mut()),
                EINVAL
            );
            assert_eq!(
                (lib.io_pgetevents)(ctx, 0, 1, &mut event, &mut zero, null_mut()),
                EINVAL
            );
            assert_eq!(
                (lib.io_getevents_0_1)(ctx, 1, &mut event, &mut zero),
                EINVAL
            );
            assert_eq!((lib.io_queue_run)(ctx), EINVAL);
            assert_eq!((lib.io_queue_wait)(ctx, &mut zero), EINVAL);
            assert_eq!((lib.io_queue_wait)(ctx, null_mut()), EINVAL);
            assert_eq!((lib.io_queue_wait_0_1)(ctx, &mut zero), EINVAL);
            assert_eq!((lib.io_submit)(ctx, 1, list.as_mut_ptr()), EINVAL);
            assert_eq!((lib.io_submit)(ctx, 0, null_mut()), EINVAL);
            assert_eq!((lib.io_destroy)(ctx), EINVAL);
        }
    }
}

// --------------------------------------------------------------- io_submit

/// The read/write arguments of an iocb.
fn common(io: &iocb) -> io_iocb_common {
    // SAFETY: every iocb in these tests is a read/write one (or zeroed),
    // and all bit patterns are valid for this plain-data struct.
    unsafe { io.u.c }
}

fn write_then_read_back(lib: &Aio, fs: Fs) {
    const BLOCK: usize = 4096;
    const BLOCKS: usize = 8;
    let file = ScratchFile::new(fs, "rw", (BLOCK * BLOCKS) as u64, 0);
    let ctx = Ctx::new(lib, BLOCKS as c_int);

    let mut out: Vec<AlignedBuf> = (0..BLOCKS)
        .map(|i| AlignedBuf::new(BLOCK, i as u8 + 1))
        .collect();
    let mut writes: Vec<iocb> = out
        .iter_mut()
        .enumerate()
        .map(|(i, b)| {
            let mut io = rw_iocb(IO_CMD_PWRITE, file.fd, b, (i * BLOCK) as i64);
            io.data = without_provenance_mut(1000 + i);
            io
        })
        .collect();
    let mut list: Vec<*mut iocb> = writes.iter_mut().map(|i| i as *mut iocb).collect();
    keeps_errno("io_submit", || ctx.submit(&mut list));
    let mut seen = keeps_errno("io_getevents", || ctx.reap(BLOCKS));
    seen.sort_by_key(|e| e.data as usize);
    for (i, event) in seen.iter().enumerate() {
        assert_eq!(event.data as usize, 1000 + i);
        assert_eq!(event.obj, list[i]);
        assert_eq!((event.res, event.res2), (BLOCK as _, 0));
    }

    let mut back: Vec<AlignedBuf> = (0..BLOCKS).map(|_| AlignedBuf::new(BLOCK, 0)).collect();
    let mut reads: Vec<iocb> = back
        .iter_mut()
        .enumerate()
        .map(|(i, b)| rw_iocb(IO_CMD_PREAD, file.fd, b, (i * BLOCK) as i64))
        .collect();
    let mut list: Vec<*mut iocb> = reads.iter_mut().map(|i| i as *mut iocb).collect();
    ctx.submit(&mut list);
    for event in ctx.reap(BLOCKS) {
        assert_eq!(event.res, BLOCK as _);
    }
    for (i, buf) in back.iter().enumerate() {
        assert!(
            buf.iter().all(|&b| b == i as u8 + 1),
            "{:?} {fs:?}: block {i} read back wrong",
            lib.which
        );
    }
    // Vectored and sync commands, as io_prep_preadv/io_prep_fsync build them.
    let mut halves = [AlignedBuf::new(BLOCK, 0), AlignedBuf::new(BLOCK, 0)];
    let iov: Vec<libc::iovec> = halves
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: BLOCK,
        })
        .collect();
    let mut readv = zeroed_iocb();
    readv.aio_fildes = file.fd;
    readv.aio_lio_opcode = IO_CMD_PREADV as i16;
    readv.u.c = io_iocb_common {
        buf: iov.as_ptr() as *mut c_void,
        nbytes: iov.len() as _,
        offset: (2 * BLOCK) as i64,
        ..common(&readv)
    };
    let mut fsync = zeroed_iocb();
    fsync.aio_fildes = file.fd;
    fsync.aio_lio_opcode = IO_CMD_FSYNC as i16;
    let mut fdsync = fsync;
    fdsync.aio_lio_opcode = IO_CMD_FDSYNC as i16;
    let mut list = [&mut readv as *mut iocb, &mut fsync, &mut fdsync];
    ctx.submit(&mut list);
    for event in ctx.reap(3) {
        let expected = if event.obj == list[0] { 2 * BLOCK } else { 0 };
        assert_eq!(event.res as usize, expected, "{:?} {fs:?}", lib.which);
    }
    assert!(halves[0].iter().all(|&b| b == 3) && halves[1].iter().all(|&b| b == 4));
}

#[test]
fn o_direct_io_on_tmpfs() {
    for lib in both() {
        write_then_read_back(lib, Fs::Shm);
    }
}

#[test]
fn o_direct_io_on_disk() {
    for lib in both() {
        write_then_read_back(lib, Fs::Disk);
    }
}

#[test]
fn io_submit_errors_match_libaio() {
    let file = ScratchFile::new(Fs::Shm, "submit", 4096, 0);
    let mut buf = AlignedBuf::new(4096, 0);
    let results = both().map(|lib| {
        let ctx = Ctx::new(lib, 4);
        let submit = |nr: c_long, list: *mut *mut iocb| -> c_int {
            // SAFETY: whatever the kernel queues completes into buf, which
            // outlives the context; bad pointers are the kernel's to reject.
            keeps_errno("io_submit", || unsafe {
                (lib.io_submit)(ctx.ctx, nr, list)
            })
        };
        let one = |mut io: iocb| -> c_int {
            let mut list = [&mut io as *mut iocb];
            let ret = submit(1, list.as_mut_ptr());
            if ret == 1 {
                ctx.reap(1);
            }
            ret
        };
        let valid = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
        let with = |f: &dyn Fn(&mut iocb)| {
            let mut io = valid;
            f(&mut io);
            one(io)
        };
        vec![
            submit(0, null_mut()),
            submit(-1, null_mut()),
            submit(1, null_mut()),
            if pointers_reach_the_kernel() {
                submit(1, unmapped_address().cast())
            } else {
                EFAULT
            },
            submit(1, [null_mut::<iocb>()].as_mut_ptr()),
            submit(
                1,
                [without_provenance_mut::<iocb>(KERNEL_ADDRESS)].as_mut_ptr(),
            ),
            with(&|io| io.aio_fildes = -1),
            with(&|io| io.aio_fildes = 1_000_000),
            with(&|io| io.aio_lio_opcode = 4),
            with(&|io| io.aio_lio_opcode = IO_CMD_NOOP as i16),
            with(&|io| io.aio_lio_opcode = 100),
            with(&|io| io.aio_lio_opcode = -1),
            with(&|io| io.key = 5),
            with(&|io| io.aio_rw_flags = 0x8000_0000),
            with(&|io| {
                io.u.c = io_iocb_common {
                    offset: -1,
                    ..common(io)
                }
            }),
            with(&|io| {
                io.u.c = io_iocb_common {
                    buf: without_provenance_mut(KERNEL_ADDRESS),
                    ..common(io)
                }
            }),
            with(&|io| {
                io.u.c = io_iocb_common {
                    nbytes: 100,
                    ..common(io)
                }
            }),
            with(&|io| {
                io.u.c = io_iocb_common {
                    __pad3: 1,
                    ..common(io)
                }
            }),
            with(&|io| {
                io.u.c = io_iocb_common {
                    flags: 1 << 0,
                    ..common(io)
                }
            }),
            with(&|io| {
                io.u.c = io_iocb_common {
                    flags: 0xff00,
                    ..common(io)
                }
            }),
            one(valid),
        ]
    });
    assert_eq!(results[0], results[1], "ours vs system");
    // The kernel's answers, as measured: 0, EINVAL for nr < 0, EFAULT for bad
    // arrays and elements, EBADF for bad descriptors, EINVAL for bad
    // commands, keys and reserved fields.
    assert_eq!(
        &results[0][..6],
        &[0, EINVAL, EFAULT, EFAULT, EFAULT, EFAULT]
    );
    assert_eq!(&results[0][6..8], &[EBADF, EBADF]);
    assert_eq!(results[0].last(), Some(&1));
}

#[test]
fn io_submit_fills_the_ring_then_refuses() {
    let pipe = Pipe::new();
    // On one CPU: how many requests the ring takes depends on the CPUs that
    // submit (an armhf guest moved the thread and took 118 against 120).
    let _pinned = Pinned::here();
    let got = both().map(|lib| {
        let ctx = Ctx::new(lib, 1);
        let mut polls: Vec<iocb> = (0..400).map(|_| poll_iocb(pipe.read_end())).collect();
        let mut list: Vec<*mut iocb> = polls.iter_mut().map(|i| i as *mut iocb).collect();
        // SAFETY: the polls stay pending until the context is destroyed,
        // before `polls` is dropped.
        let first = keeps_errno("io_submit", || unsafe {
            (lib.io_submit)(ctx.ctx, 400, list.as_mut_ptr())
        });
        // SAFETY: as above.
        let more = unsafe { (lib.io_submit)(ctx.ctx, 1, list[399..].as_mut_ptr()) };
        drop(ctx);
        (first, more)
    });
    assert_eq!(got[0], got[1]);
    let (first, more) = got[0];
    assert!(first > 0 && first < 400, "a partial count: {first}");
    assert_eq!(more, EAGAIN);
}

// --------------------------------------------------------------- io_cancel

#[test]
fn io_cancel_of_a_pending_poll_is_in_progress() {
    let pipe = Pipe::new();
    for lib in both() {
        for cancel_0_1 in [false, true] {
            let ctx = Ctx::new(lib, 4);
            let mut io = poll_iocb(pipe.read_end());
            io.data = without_provenance_mut(77);
            ctx.submit(&mut [&mut io]);
            let mut event = zeroed_event();
            event.data = without_provenance_mut(1);
            // SAFETY: io is queued on ctx; event has room for one event.
            let ret = keeps_errno("io_cancel", || unsafe {
                if cancel_0_1 {
                    (lib.io_cancel_0_1)(ctx.ctx, &mut io)
                } else {
                    (lib.io_cancel)(ctx.ctx, &mut io, &mut event)
                }
            });
            assert_eq!(ret, EINPROGRESS, "{:?}", lib.which);
            assert_eq!(event.data as usize, 1, "the event argument is not written");
            // The completion arrives through the ring.
            let done = ctx.reap(1);
            assert_eq!(
                (done[0].data as usize, done[0].obj),
                (77, &mut io as *mut iocb)
            );
            assert_eq!(done[0].res, 0);
            // Cancelling it again: no longer queued.
            // SAFETY: as above.
            let again = unsafe { (lib.io_cancel)(ctx.ctx, &mut io, &mut event) };
            assert_eq!(again, EINVAL);
        }
    }
}

#[test]
fn io_cancel_errors_match_libaio() {
    let pipe = Pipe::new();
    let results = both().map(|lib| {
        let ctx = Ctx::new(lib, 4);
        let mut event = zeroed_event();
        let mut never_queued = poll_iocb(pipe.read_end());
        let mut keyed = never_queued;
        keyed.key = 1;
        // SAFETY: bad pointers are the kernel's to reject; event has room.
        unsafe {
            vec![
                keeps_errno("io_cancel", || {
                    (lib.io_cancel)(ctx.ctx, &mut never_queued, &mut event)
                }),
                (lib.io_cancel)(ctx.ctx, &mut keyed, &mut event),
                (lib.io_cancel)(ctx.ctx, null_mut(), &mut event),
                if pointers_reach_the_kernel() {
                    (lib.io_cancel)(ctx.ctx, unmapped_address().cast(), &mut event)
                } else {
                    EFAULT
                },
                (lib.io_cancel)(null_mut(), &mut never_queued, &mut event),
                (lib.io_cancel)(bad_ctx(), &mut never_queued, null_mut()),
                (lib.io_cancel_0_1)(ctx.ctx, &mut never_queued),
                (lib.io_cancel_0_1)(ctx.ctx, null_mut()),
            ]
        }
    });
    assert_eq!(results[0], results[1], "ours vs system");
    assert_eq!(
        results[0],
        [
            EINVAL, EINVAL, EFAULT, EFAULT, EINVAL, EINVAL, EINVAL, EFAULT
        ]
    );
}

// ------------------------------------------------------------ io_getevents

#[test]
fn io_getevents_errors_match_libaio() {
    let file = ScratchFile::new(Fs::Shm, "getevents", 4096, 0);
    let mut buf = AlignedBuf::new(4096, 0);
    let mut results = both().map(|lib| {
        let ctx = Ctx::new(lib, 4);
        let mut events = [zeroed_event(); 4];
        let get = |min: c_long, nr: c_long, ev: *mut io_event, t: *mut libc::timespec| -> c_int {
            // SAFETY: ev has room for nr events where it is ours; bad
            // pointers are the kernel's to reject.
            keeps_errno("io_getevents", || unsafe {
                (lib.io_getevents)(ctx.ctx, min, nr, ev, t)
            })
        };
        let mut short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        let mut bad_nsec = libc::timespec {
            tv_sec: 1,
            tv_nsec: 2_000_000_000,
        };
        let mut negative = libc::timespec {
            tv_sec: -1,
            tv_nsec: 0,
        };
        let ev = events.as_mut_ptr();
        let mut results = vec![
            get(2, 1, ev, &mut short),
            get(0, -1, ev, &mut short),
            get(-1, 1, ev, &mut short),
            get(1, 1, ev, &mut short),
            get(0, 4, ev, &mut bad_nsec),
            get(0, 4, ev, &mut negative),
        ];
        // One completion waiting: a bad events array is the kernel's EFAULT.
        let mut io = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
        ctx.submit(&mut [&mut io]);
        wait_for_completion(ctx.ctx);
        // (In user-space reaping mode the library itself copies the events, and
        // a bad array faults like any bad pointer: not tried then.)
        if !user_space_reaping() && pointers_reach_the_kernel() {
            results.push(get(1, 1, unmapped_address().cast(), &mut short));
        }
        results.push(get(1, 4, ev, &mut short));
        results
    });
    // On x32 the reference passes nr = -1 as 2^32 - 1, a valid count.
    if X32 {
        assert_eq!(results[1][1], 0, "the x32 reference");
        results[1][1] = results[0][1];
    }
    assert_eq!(results[0], results[1], "ours vs system");
    assert_eq!(&results[0][..4], &[EINVAL, EINVAL, EINVAL, 0]);
}

#[test]
fn io_getevents_0_1_waits_for_at_least_one() {
    let file = ScratchFile::new(Fs::Shm, "getevents01", 8192, 0);
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let mut events = [zeroed_event(); 4];
        let mut short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        // Nothing queued: the wait times out with 0 events.
        // SAFETY: room for 4 events.
        let ret = keeps_errno("io_getevents@0.1", || unsafe {
            (lib.io_getevents_0_1)(ctx.ctx, 4, events.as_mut_ptr(), &mut short)
        });
        assert_eq!(ret, 0);
        let mut bufs = [AlignedBuf::new(4096, 0), AlignedBuf::new(4096, 0)];
        let [a, b] = &mut bufs;
        let mut ios = [
            rw_iocb(IO_CMD_PREAD, file.fd, a, 0),
            rw_iocb(IO_CMD_PREAD, file.fd, b, 4096),
        ];
        let [x, y] = &mut ios;
        ctx.submit(&mut [x, y]);
        let mut got = 0;
        while got < 2 {
            let mut long = libc::timespec {
                tv_sec: 10,
                tv_nsec: 0,
            };
            // SAFETY: room for 4 - got events.
            let n = unsafe {
                (lib.io_getevents_0_1)(
                    ctx.ctx,
                    4 - got,
                    events[got as usize..].as_mut_ptr(),
                    &mut long,
                )
            };
            assert!(n >= 1, "{:?}: min_nr is 1: {n}", lib.which);
            got += n as c_long;
        }
        assert_eq!(got, 2);
    }
}

/// A signal handler that does nothing: its only effect is to interrupt.
extern "C" fn ignore(_: c_int) {}

fn install_interrupting_handler(signal: c_int) {
    // SAFETY: a zeroed sigaction with a handler and no SA_RESTART.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as *const () as usize;
        assert_eq!(libc::sigaction(signal, &action, null_mut()), 0);
    }
}

/// Runs `wait` on a new thread, interrupts it with `signal` until it
/// returns, and gives its result.
fn interrupted(signal: c_int, wait: impl FnOnce() -> c_int + Send + 'static) -> c_int {
    install_interrupting_handler(signal);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        wait()
    });
    let thread = rx.recv().unwrap();
    while !waiter.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if !waiter.is_finished() {
            // SAFETY: the thread is alive (not yet finished, and joined below).
            unsafe { libc::pthread_kill(thread, signal) };
        }
    }
    waiter.join().unwrap()
}

#[test]
fn io_getevents_is_interrupted_by_signals() {
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let raw = ctx.ctx as usize;
        let getevents = lib.io_getevents;
        let ret = interrupted(libc::SIGUSR2, move || {
            let mut event = zeroed_event();
            // SAFETY: room for one event; nothing is queued, so this waits
            // until a signal interrupts it.
            keeps_errno("io_getevents", || unsafe {
                getevents(without_provenance_mut(raw), 1, 1, &mut event, null_mut())
            })
        });
        assert_eq!(ret, EINTR, "{:?}", lib.which);
    }
}

#[test]
fn io_pgetevents_unblocks_signals_while_waiting() {
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let raw = ctx.ctx as usize;
        let pgetevents = lib.io_pgetevents;
        let ret = interrupted(libc::SIGUSR1, move || {
            // SAFETY: plain signal-mask manipulation of this thread.
            let mut wait_mask: libc::sigset_t = unsafe {
                let mut blocked: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut blocked);
                libc::sigaddset(&mut blocked, libc::SIGUSR1);
                libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, null_mut());
                let mut wait_mask: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut wait_mask);
                wait_mask
            };
            let mut event = zeroed_event();
            // SAFETY: room for one event. SIGUSR1 is blocked on this thread
            // except while waiting, so only the mask lets it interrupt.
            keeps_errno("io_pgetevents", || unsafe {
                pgetevents(
                    without_provenance_mut(raw),
                    1,
                    1,
                    &mut event,
                    null_mut(),
                    &mut wait_mask,
                )
            })
        });
        // The x32 reference's signal-set pair is refused (README:
        // Architectures); ours works there as everywhere.
        let expected = if X32 && lib.which == Which::System {
            EINVAL
        } else {
            EINTR
        };
        assert_eq!(ret, expected, "{:?}", lib.which);
    }
}

#[test]
fn io_pgetevents_reaps_like_io_getevents() {
    let file = ScratchFile::new(Fs::Shm, "pgetevents", 4096, 0);
    let results = both().map(|lib| {
        let ctx = Ctx::new(lib, 4);
        let mut buf = AlignedBuf::new(4096, 0);
        let mut io = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
        ctx.submit(&mut [&mut io]);
        let mut event = zeroed_event();
        let mut long = libc::timespec {
            tv_sec: 10,
            tv_nsec: 0,
        };
        let mut short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        // SAFETY: room for one event; the masks are the kernel's to read.
        unsafe {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            vec![
                keeps_errno("io_pgetevents", || {
                    (lib.io_pgetevents)(ctx.ctx, 1, 1, &mut event, &mut long, null_mut())
                }),
                event.res as c_int,
                (lib.io_pgetevents)(ctx.ctx, 0, 1, &mut event, &mut short, &mut empty),
                (lib.io_pgetevents)(
                    ctx.ctx,
                    0,
                    1,
                    &mut event,
                    &mut short,
                    unmapped_address().cast(),
                ),
                (lib.io_pgetevents)(ctx.ctx, 2, 1, &mut event, &mut short, null_mut()),
            ]
        }
    });
    // On x32 the reference's signal-set pair has 32-bit words, which the
    // kernel refuses whatever the mask.
    if X32 {
        assert_eq!(&results[1][2..], [EINVAL; 3], "the x32 reference");
    } else {
        assert_eq!(results[0], results[1], "ours vs system");
    }
    assert_eq!(results[0], [1, 4096, 0, EFAULT, EINVAL]);
}

#[test]
fn a_bad_timeout_is_not_read_for_an_unknown_context() {
    // libaio reads the timeout only after accepting the context as a ring;
    // for NULL it goes straight to the kernel, which answers EFAULT.
    for lib in both() {
        let mut event = zeroed_event();
        // SAFETY: the kernel rejects the timeout pointer.
        let ret =
            unsafe { (lib.io_getevents)(null_mut(), 0, 1, &mut event, unmapped_address().cast()) };
        assert_eq!(ret, EFAULT, "{:?}", lib.which);
    }
}

// ----------------------------------------------------- io_queue_run / wait

static CALLS: std::sync::Mutex<Vec<(usize, usize, c_long, c_long)>> =
    std::sync::Mutex::new(Vec::new());

/// Held by each test that reads [`CALLS`], so that two of them running at
/// once do not see each other's callbacks.
static CALLS_USER: std::sync::Mutex<()> = std::sync::Mutex::new(());

unsafe extern "C" fn record(ctx: io_context_t, iocb: *mut iocb, res: c_long, res2: c_long) {
    CALLS
        .lock()
        .unwrap()
        .push((ctx as usize, iocb as usize, res, res2));
}

fn callback_ptr() -> *mut c_void {
    record as unsafe extern "C" fn(io_context_t, *mut iocb, c_long, c_long) as *mut c_void
}

#[test]
fn io_queue_run_calls_every_callback_once_in_order() {
    let _alone = CALLS_USER.lock().unwrap_or_else(|e| e.into_inner());
    let file = ScratchFile::new(Fs::Shm, "queue-run", 3 * 4096, 0);
    for lib in both() {
        CALLS.lock().unwrap().clear();
        let ctx = Ctx::new(lib, 8);
        let mut bufs = [
            AlignedBuf::new(4096, 1),
            AlignedBuf::new(4096, 2),
            AlignedBuf::new(4096, 3),
        ];
        let mut ios: Vec<iocb> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| {
                let mut io = rw_iocb(
                    IO_CMD_PWRITE,
                    file.fd,
                    &mut b[..(i + 1) * 512],
                    (i * 4096) as i64,
                );
                io.data = callback_ptr();
                io
            })
            .collect();
        // One at a time, so that the completion order is known.
        for io in ios.iter_mut() {
            ctx.submit(&mut [io]);
            wait_for_completion(ctx.ctx);
        }
        // SAFETY: every completion's data is `record`.
        let ret = keeps_errno("io_queue_run", || unsafe { (lib.io_queue_run)(ctx.ctx) });
        assert_eq!(ret, 0, "{:?}: 0, not a count", lib.which);
        let calls = std::mem::take(&mut *CALLS.lock().unwrap());
        let expected: Vec<_> = ios
            .iter_mut()
            .enumerate()
            .map(|(i, io)| {
                (
                    ctx.ctx as usize,
                    io as *mut iocb as usize,
                    (i as c_long + 1) * 512,
                    0,
                )
            })
            .collect();
        assert_eq!(calls, expected, "{:?}", lib.which);
        // Nothing left: returns 0 at once, no call.
        // SAFETY: as above.
        assert_eq!(unsafe { (lib.io_queue_run)(ctx.ctx) }, 0);
        assert!(CALLS.lock().unwrap().is_empty());
    }
}

#[test]
fn io_queue_run_consumes_a_completion_without_callback() {
    let _alone = CALLS_USER.lock().unwrap_or_else(|e| e.into_inner());
    let file = ScratchFile::new(Fs::Shm, "queue-run-null", 8192, 0);
    let lib = ours();
    CALLS.lock().unwrap().clear();
    let ctx = Ctx::new(lib, 8);
    let mut bufs = [AlignedBuf::new(4096, 1), AlignedBuf::new(4096, 2)];
    let [a, b] = &mut bufs;
    let mut without = rw_iocb(IO_CMD_PWRITE, file.fd, a, 0);
    let mut with = rw_iocb(IO_CMD_PWRITE, file.fd, b, 4096);
    with.data = callback_ptr();
    for io in [&mut without, &mut with] {
        ctx.submit(&mut [io]);
        wait_for_completion(ctx.ctx);
    }
    // SAFETY: data is NULL or `record`; libaio would call address 0.
    assert_eq!(unsafe { (lib.io_queue_run)(ctx.ctx) }, 0);
    let calls = CALLS.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(ctx.ctx as usize, &mut with as *mut iocb as usize, 4096, 0)]
    );
    if io_uring_backend() {
        let mut event = zeroed_event();
        let mut zero = zero_timeout();
        // SAFETY: room for one event.
        let left = unsafe { (lib.io_getevents)(ctx.ctx, 0, 1, &mut event, &mut zero) };
        assert_eq!(left, 0, "both consumed");
    } else {
        assert_eq!(
            ring_word(ctx.ctx, 8),
            ring_word(ctx.ctx, 12),
            "both consumed"
        );
    }
}

#[test]
fn io_queue_wait_returns_at_once() {
    let file = ScratchFile::new(Fs::Shm, "queue-wait", 4096, 0);
    for lib in both() {
        let ctx = Ctx::new(lib, 4);
        let mut second = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        let mut zero = zero_timeout();
        // SAFETY: valid context and timeouts; nothing is written.
        unsafe {
            assert_eq!(
                keeps_errno("io_queue_wait", || (lib.io_queue_wait)(
                    ctx.ctx,
                    &mut second
                )),
                0
            );
            assert_eq!((lib.io_queue_wait)(ctx.ctx, null_mut()), 0);
            assert_eq!((lib.io_queue_wait)(ctx.ctx, &mut zero), 0);
            assert_eq!(
                keeps_errno("io_queue_wait@0.1", || (lib.io_queue_wait_0_1)(
                    ctx.ctx,
                    &mut second
                )),
                0
            );
            assert_eq!((lib.io_queue_wait_0_1)(ctx.ctx, null_mut()), 0);
        }
        // A completion waiting is left in the ring (nr is 0).
        let mut buf = AlignedBuf::new(4096, 0);
        let mut io = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
        ctx.submit(&mut [&mut io]);
        assert_eq!(ctx.reap(1)[0].res, 4096);
        // SAFETY: as above; NULL context is the kernel's EINVAL.
        let null = unsafe { (lib.io_queue_wait)(null_mut(), &mut zero) };
        assert_eq!(null, EINVAL);
    }
}

// ---------------------------------------------------------- reading the ring

/// What QEMU and fio's userspace_reap do: read completions straight from the
/// ring through the context handle and advance `head`.
#[test]
fn completions_can_be_reaped_from_the_ring_directly() {
    let file = ScratchFile::new(Fs::Shm, "ring", 4 * 4096, 0);
    for lib in both() {
        let ctx = Ctx::new(lib, 8);
        let mut bufs: Vec<AlignedBuf> = (0..4).map(|_| AlignedBuf::new(4096, 9)).collect();
        let mut ios: Vec<iocb> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| {
                let mut io = rw_iocb(IO_CMD_PWRITE, file.fd, b, (i * 4096) as i64);
                io.data = without_provenance_mut(i + 1);
                io
            })
            .collect();
        let mut list: Vec<*mut iocb> = ios.iter_mut().map(|i| i as *mut iocb).collect();
        ctx.submit(&mut list);
        if io_uring_backend() && lib.which == Which::Ours {
            // The backend's handle turns careful readers away (no magic
            // number, incompatible features): they reap with io_getevents,
            // which gets every completion.
            assert!(is_ours(ctx.ctx) && ring_word(ctx.ctx, 24) != 0);
            let mut seen: Vec<usize> = ctx.reap(4).iter().map(|e| e.data as usize).collect();
            seen.sort();
            assert_eq!(seen, [1, 2, 3, 4]);
            continue;
        }
        let nr = ring_word(ctx.ctx, 4);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let (head, tail) = (ring_word(ctx.ctx, 8), ring_word(ctx.ctx, 12));
            if head == tail {
                std::thread::yield_now();
                continue;
            }
            // SAFETY: events follow the 32-byte header; head < nr.
            let event = unsafe {
                ctx.ctx
                    .cast::<u8>()
                    .add(32)
                    .cast::<io_event>()
                    .add(head as usize)
                    .read_volatile()
            };
            seen.push(event.data as usize);
            // SAFETY: head is the reaper's to advance.
            unsafe {
                ctx.ctx
                    .cast::<u8>()
                    .add(8)
                    .cast::<u32>()
                    .write_volatile((head + 1) % nr)
            };
        }
        seen.sort();
        assert_eq!(seen, [1, 2, 3, 4]);
        let mut event = zeroed_event();
        let mut zero = zero_timeout();
        // SAFETY: the ring is empty again, as both the library and the
        // kernel see it.
        let now = unsafe { (lib.io_getevents)(ctx.ctx, 0, 1, &mut event, &mut zero) };
        assert_eq!(now, 0);
        let mut short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        // SAFETY: as above.
        let waited = unsafe { (lib.io_getevents)(ctx.ctx, 1, 1, &mut event, &mut short) };
        assert_eq!(waited, 0);
    }
}
