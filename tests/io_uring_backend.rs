//! The io_uring backend (`LIBAIO_BACKEND=io_uring`; README.md, "The io_uring
//! backend"): what only the backend does, and each way it differs from
//! kernel AIO that the rest of the suite, run a second time under the
//! backend (`scripts/check-io-uring`), does not show. Each test compares
//! the library under the backend with the system libaio, that is with
//! kernel AIO, in the same process where it can.
//!
//! The library reads the variable once, when it is loaded: every test runs
//! its body in a child process of this binary started with the variable
//! set. A test that changes a sysctl keeps the change in the parent, in a
//! guard that restores it whatever becomes of the child.

mod common;

use aio_rs::abi::io_context_t;
use aio_rs::abi::io_iocb_cmd::*;
use common::*;
use std::ffi::{CString, c_int, c_long};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr::null_mut;
use std::time::{Duration, Instant};

const EINVAL: c_int = -libc::EINVAL;
const EAGAIN: c_int = -libc::EAGAIN;
const EOPNOTSUPP: c_int = -libc::EOPNOTSUPP;

/// `AIO_RING_MAGIC`, in the header of every kernel ring.
const KERNEL_RING: u32 = 0xa10a_10a1;

/// Tests that change a sysctl run alone (the write lock); the others share
/// the read lock.
static SYSTEM: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn system_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    SYSTEM.read().unwrap_or_else(|e| e.into_inner())
}

fn system_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    SYSTEM.write().unwrap_or_else(|e| e.into_inner())
}

/// Names the test a child process runs.
const CHILD: &str = "LIBAIO_RS_IO_URING_CHILD";

/// Whether this process is the child that runs test `name`'s body.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(name)
}

/// Runs test `name` in a child process of `exe` (this binary or a copy of
/// it) with `LIBAIO_BACKEND=io_uring` and `env`.
fn run_child(exe: &Path, name: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env("LIBAIO_BACKEND", "io_uring")
        .env_remove("LIBAIO_USERSPACE_REAP");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = run_with_time_limit(&mut cmd, Duration::from_secs(60));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    out
}

/// Runs test `name`'s body in a child process under the backend and asserts
/// that it passed.
fn passes_in_child(name: &str) {
    let out = run_child(&std::env::current_exe().unwrap(), name, &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "child process for {name}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The runs of every test: the body in a child, or in the child the body.
macro_rules! in_child {
    ($name:literal) => {
        if !is_child($name) {
            let _shared = system_shared();
            passes_in_child($name);
            return;
        }
        assert!(io_uring_backend());
    };
}

/// The header word at byte `offset` of a handle (0: id, 4: nr, 8: head, 12:
/// tail, 16: magic, 20: compat, 24: incompat, 28: header length).
fn ring_word(ctx: io_context_t, offset: usize) -> u32 {
    // SAFETY: ctx is a live context: a kernel ring or the backend's header
    // page, both readable.
    unsafe { ctx.cast::<u8>().add(offset).cast::<u32>().read_volatile() }
}

fn is_kernel_ring(ctx: io_context_t) -> bool {
    ring_word(ctx, 16) == KERNEL_RING
}

/// A sysctl set for the time of a test, restored when dropped (also when
/// the test fails).
struct Sysctl {
    path: PathBuf,
    old: String,
}

impl Sysctl {
    fn read(name: &str) -> String {
        std::fs::read_to_string(Path::new("/proc/sys").join(name))
            .unwrap_or_else(|e| panic!("/proc/sys/{name}: {e}"))
            .trim()
            .to_owned()
    }

    fn set(name: &str, value: &str) -> Sysctl {
        let path = Path::new("/proc/sys").join(name);
        let old = Sysctl::read(name);
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Sysctl { path, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        std::fs::write(&self.path, &self.old)
            .unwrap_or_else(|e| panic!("restoring {}: {e}", self.path.display()));
    }
}

fn poll_iocb(fd: c_int, events: c_int, data: usize) -> aio_rs::abi::iocb {
    let mut io = zeroed_iocb();
    io.aio_fildes = fd;
    io.aio_lio_opcode = IO_CMD_POLL as i16;
    io.u.poll.events = events;
    io.data = std::ptr::without_provenance_mut(data);
    io
}

fn read_iocb(fd: c_int, buf: &mut [u8], offset: i64, data: usize) -> aio_rs::abi::iocb {
    let mut io = rw_iocb(IO_CMD_PREAD, fd, buf, offset);
    io.data = std::ptr::without_provenance_mut(data);
    io
}

/// io_submit of `ios` through `lib`: its result.
fn submit(lib: &Aio, ctx: io_context_t, ios: &mut [&mut aio_rs::abi::iocb]) -> c_int {
    let mut list: Vec<*mut aio_rs::abi::iocb> =
        ios.iter_mut().map(|io| &mut **io as *mut _).collect();
    // SAFETY: the iocbs and their buffers outlive their completion (the
    // callers reap, or destroy the context, before dropping them).
    keeps_errno("io_submit", || unsafe {
        (lib.io_submit)(ctx, list.len() as c_long, list.as_mut_ptr())
    })
}

/// A zero-timeout io_getevents for up to 4 events: the result and the
/// events' results.
fn poll_events(lib: &Aio, ctx: io_context_t) -> (c_int, Vec<i64>) {
    let mut events = [zeroed_event(); 4];
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: room for 4 events.
    let ret = keeps_errno("io_getevents", || unsafe {
        (lib.io_getevents)(ctx, 0, 4, events.as_mut_ptr(), &mut zero)
    });
    let res = events[..ret.max(0) as usize]
        .iter()
        .map(|e| e.res as i64)
        .collect();
    (ret, res)
}

/// `(data, res)` of `n` events, sorted by data.
fn reap_sorted(ctx: &Ctx, n: usize) -> Vec<(usize, i64)> {
    let mut got: Vec<(usize, i64)> = ctx
        .reap(n)
        .iter()
        .map(|e| (e.data as usize, e.res as i64))
        .collect();
    got.sort();
    got
}

/// A buffered file of `len` bytes, each block filled with its number, not
/// in the page cache, already unlinked.
fn cold_file(tag: &str, len: usize) -> c_int {
    let path = std::env::temp_dir().join(format!("libaio-rs-test-{}-{tag}", std::process::id()));
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    let fd = unsafe {
        libc::open(
            cpath.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o600,
        )
    };
    assert!(fd >= 0, "open: {}", std::io::Error::last_os_error());
    std::fs::remove_file(&path).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i / 4096) as u8).collect();
    // SAFETY: writing our buffer; syncing and dropping our file's pages.
    unsafe {
        assert_eq!(libc::pwrite(fd, data.as_ptr().cast(), len, 0), len as isize);
        assert_eq!(libc::fsync(fd), 0);
        assert_eq!(libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED), 0);
    }
    fd
}

/// Whether thread `tid` of this process is blocked in system call `nr`.
fn blocked_in(tid: libc::pid_t, nr: c_long) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
        .is_ok_and(|s| s.split_whitespace().next() == Some(nr.to_string().as_str()))
}

// ----------------------------------------------------------------- the handle

/// The handle is a read-only page that looks like the header of a kernel
/// ring nobody may read from user space; completions never show in it, and
/// its `id` is the io_uring descriptor. A reader that does not check the
/// header sees an empty ring (libaio's harness cases 17 and 19 are such
/// readers, left out under the backend: tests/upstream_harness.rs), and one
/// that writes its head faults.
#[test]
fn the_handle_turns_ring_readers_away() {
    in_child!("the_handle_turns_ring_readers_away");
    let kernel = Ctx::new(system(), 32);
    let ctx = Ctx::new(ours(), 32);
    assert!(is_kernel_ring(kernel.ctx));
    let word = |offset| ring_word(ctx.ctx, offset);
    assert_eq!(word(4), ring_word(kernel.ctx, 4), "nr: the kernel's");
    assert_eq!([word(8), word(12)], [0, 0], "head, tail");
    assert_eq!([word(16), word(20)], [0, 0], "magic, compat_features");
    assert_eq!(word(24), 0x8000_0000, "incompat_features");
    assert_eq!(word(28), 32, "header_length");
    assert_eq!(
        std::fs::read_link(format!("/proc/self/fd/{}", word(0))).unwrap(),
        Path::new("anon_inode:[io_uring]"),
        "id: the io_uring descriptor"
    );

    // A completion waits: the header does not change.
    let pipe = Pipe::new(0);
    let mut poll = poll_iocb(pipe.read, libc::POLLIN as c_int, 1);
    assert_eq!(submit(ours(), ctx.ctx, &mut [&mut poll]), 1);
    pipe.put(b"!");
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!([word(8), word(12), word(16)], [0, 0, 0]);
    assert_eq!(reap_sorted(&ctx, 1), [(1, 0x41)]);

    // Writing the head faults.
    // SAFETY: the child only stores through the handle and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: the handle's header page, mapped read-only; exits at once.
        unsafe {
            ctx.ctx.cast::<u8>().add(8).cast::<u32>().write_volatile(1);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        "status {status:#x}"
    );
}

/// Another libaio, and the AIO system calls made directly, refuse the
/// backend's contexts with `EINVAL`; the library goes on serving them.
#[test]
fn other_libraries_and_the_aio_system_calls_refuse_the_backends_contexts() {
    in_child!("other_libraries_and_the_aio_system_calls_refuse_the_backends_contexts");
    let ctx = Ctx::new(ours(), 8);
    assert!(!is_kernel_ring(ctx.ctx));
    let file = ScratchFile::new(Fs::Shm, "refused", 1 << 16, 0);
    let mut buf = AlignedBuf::new(4096, 0);
    let mut io = read_iocb(file.fd, &mut buf, 0, 7);
    let mut list = [&mut io as *mut aio_rs::abi::iocb];
    let mut event = zeroed_event();
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let raw = |result: c_long| {
        if result < 0 {
            -errno()
        } else {
            result as c_int
        }
    };
    // SAFETY: the system calls take the handle, our iocb array and event;
    // the kernel refuses the handle before reading anything else.
    let direct = unsafe {
        [
            raw(libc::syscall(
                libc::SYS_io_submit,
                ctx.ctx,
                1 as c_long,
                list.as_mut_ptr(),
            )),
            raw(libc::syscall(
                libc::SYS_io_getevents,
                ctx.ctx,
                0 as c_long,
                1 as c_long,
                &mut event,
                &mut zero,
            )),
            raw(libc::syscall(
                libc::SYS_io_cancel,
                ctx.ctx,
                list[0],
                &mut event,
            )),
            raw(libc::syscall(libc::SYS_io_destroy, ctx.ctx)),
        ]
    };
    assert_eq!(
        direct, [EINVAL; 4],
        "io_submit, io_getevents, io_cancel, io_destroy"
    );
    let sys = system();
    // SAFETY: as above, through the system libaio (which reads the handle's
    // header first: no magic number, so it asks the kernel).
    let other = unsafe {
        [
            (sys.io_submit)(ctx.ctx, 1, list.as_mut_ptr()),
            (sys.io_getevents)(ctx.ctx, 0, 1, &mut event, &mut zero),
            (sys.io_destroy)(ctx.ctx),
        ]
    };
    assert_eq!(other, [EINVAL; 3], "io_submit, io_getevents, io_destroy");
    assert_eq!(submit(ours(), ctx.ctx, &mut [&mut io]), 1);
    assert_eq!(reap_sorted(&ctx, 1), [(7, 4096)]);
}

// ---------------------------------------------------------------- aio-max-nr

/// With `fs.aio-max-nr` lowered to what is in use plus 1024 events, kernel
/// AIO refuses a context of 4096 events with `EAGAIN`; the backend makes
/// several and does I/O on each. A context too large for io_uring (more
/// than about 16,000 events) is kernel AIO, where the limit applies.
#[test]
fn fs_aio_max_nr_does_not_limit_the_backend() {
    const NAME: &str = "fs_aio_max_nr_does_not_limit_the_backend";
    if !is_child(NAME) {
        let _alone = system_alone();
        let in_use: u64 = Sysctl::read("fs/aio-nr").parse().unwrap();
        let before = Sysctl::read("fs/aio-max-nr");
        {
            let _lowered = Sysctl::set("fs/aio-max-nr", &(in_use + 1024).to_string());
            passes_in_child(NAME);
        }
        assert_eq!(Sysctl::read("fs/aio-max-nr"), before, "restored");
        return;
    }
    let mut kernel = null_mut();
    // SAFETY: the handle is ours.
    let ret = unsafe { (system().io_setup)(4096, &mut kernel) };
    assert_eq!(ret, EAGAIN, "kernel AIO, past fs.aio-max-nr");
    let file = ScratchFile::new(Fs::Disk, "aio-max-nr", 1 << 20, 0);
    let ctxs: Vec<Ctx> = (0..4).map(|_| Ctx::new(ours(), 4096)).collect();
    for (i, ctx) in ctxs.iter().enumerate() {
        assert!(!is_kernel_ring(ctx.ctx));
        let mut out = AlignedBuf::new(4096, 0x30 + i as u8);
        let mut back = AlignedBuf::new(4096, 0);
        let offset = (i * 4096) as i64;
        let mut write = rw_iocb(IO_CMD_PWRITE, file.fd, &mut out, offset);
        ctx.submit(&mut [&mut write]);
        assert_eq!(ctx.reap(1)[0].res, 4096);
        let mut read = read_iocb(file.fd, &mut back, offset, 1);
        ctx.submit(&mut [&mut read]);
        assert_eq!(ctx.reap(1)[0].res, 4096);
        assert!(back.iter().all(|&b| b == 0x30 + i as u8));
    }
    let mut large = null_mut();
    // SAFETY: the handle is ours.
    let ret = unsafe { (ours().io_setup)(20_000, &mut large) };
    assert_eq!(
        ret, EAGAIN,
        "a context too large for io_uring is kernel AIO"
    );
}

/// A context too large for io_uring's completion queue is a kernel AIO
/// context, as large as the kernel makes it.
#[test]
fn contexts_too_large_for_io_uring_are_kernel_aio() {
    in_child!("contexts_too_large_for_io_uring_are_kernel_aio");
    let kernel = Ctx::new(system(), 20_000);
    let nr = ring_word(kernel.ctx, 4);
    drop(kernel);
    let ctx = Ctx::new(ours(), 20_000);
    assert!(is_kernel_ring(ctx.ctx));
    assert_eq!(ring_word(ctx.ctx, 4), nr);
    let small = Ctx::new(ours(), 16);
    assert!(!is_kernel_ring(small.ctx));
}

// ------------------------------------------------------------------ fallback

/// What a few calls of every kind give, through `lib` (results only: the
/// pointers in the events are the caller's).
fn transcript(lib: &'static Aio) -> Vec<String> {
    let ctx = Ctx::new(lib, 8);
    let mut out = vec![format!("kernel ring: {}", is_kernel_ring(ctx.ctx))];
    let file = ScratchFile::new(Fs::Disk, "transcript", 1 << 16, 0);
    let mut data = AlignedBuf::new(4096, 0x5a);
    let mut back = AlignedBuf::new(4096, 0);
    let mut write = rw_iocb(IO_CMD_PWRITE, file.fd, &mut data, 4096);
    let mut fsync = zeroed_iocb();
    fsync.aio_fildes = file.fd;
    fsync.aio_lio_opcode = IO_CMD_FSYNC as i16;
    out.push(format!(
        "write, fsync: {}",
        submit(lib, ctx.ctx, &mut [&mut write, &mut fsync])
    ));
    out.push(format!("{:?}", reap_sorted(&ctx, 2)));
    let mut read = read_iocb(file.fd, &mut back, 4096, 1);
    out.push(format!("read: {}", submit(lib, ctx.ctx, &mut [&mut read])));
    out.push(format!(
        "{:?}, {}",
        reap_sorted(&ctx, 1),
        back[..] == data[..]
    ));
    let mut bad = read_iocb(-1, &mut back, 0, 1);
    out.push(format!("bad fd: {}", submit(lib, ctx.ctx, &mut [&mut bad])));
    let mut noop = zeroed_iocb();
    noop.aio_lio_opcode = IO_CMD_NOOP as i16;
    out.push(format!("noop: {}", submit(lib, ctx.ctx, &mut [&mut noop])));
    let pipe = Pipe::new(0);
    let mut poll = poll_iocb(pipe.read, libc::POLLIN as c_int, 2);
    out.push(format!("poll: {}", submit(lib, ctx.ctx, &mut [&mut poll])));
    out.push(format!("nothing yet: {:?}", poll_events(lib, ctx.ctx)));
    let mut event = zeroed_event();
    // SAFETY: the poll was submitted on ctx; room for one event.
    let cancelled = unsafe { (lib.io_cancel)(ctx.ctx, &mut poll, &mut event) };
    out.push(format!("io_cancel: {cancelled}, res {}", event.res));
    out.push(format!("then: {:?}", reap_sorted(&ctx, 1)));
    out
}

/// With `kernel.io_uring_disabled=2` every context the backend is asked for
/// is a kernel AIO context, with kernel AIO's results.
#[test]
fn with_io_uring_disabled_contexts_are_kernel_aio() {
    const NAME: &str = "with_io_uring_disabled_contexts_are_kernel_aio";
    if !is_child(NAME) {
        let _alone = system_alone();
        let before = Sysctl::read("kernel/io_uring_disabled");
        {
            let _disabled = Sysctl::set("kernel/io_uring_disabled", "2");
            passes_in_child(NAME);
        }
        assert_eq!(Sysctl::read("kernel/io_uring_disabled"), before, "restored");
        return;
    }
    let ours = transcript(ours());
    println!("{ours:#?}");
    assert_eq!(ours[0], "kernel ring: true");
    assert_eq!(ours, transcript(system()));
}

/// A seccomp filter that refuses io_uring_setup (as Docker's default profile
/// does): kernel AIO, with kernel AIO's results.
#[test]
fn with_io_uring_setup_refused_contexts_are_kernel_aio() {
    in_child!("with_io_uring_setup_refused_contexts_are_kernel_aio");
    let ours = with_calls_filtered(&[aio_rs::syscall_numbers::IO_URING_SETUP], || {
        transcript(ours())
    });
    println!("{ours:#?}");
    assert_eq!(ours[0], "kernel ring: true");
    assert_eq!(ours, transcript(system()));
}

/// The programs the backend leaves alone, by the name of the executable,
/// and programs run under valgrind, get kernel AIO; others get the backend.
#[test]
fn excluded_programs_get_kernel_aio() {
    const NAME: &str = "excluded_programs_get_kernel_aio";
    if is_child(NAME) {
        let ctx = Ctx::new(ours(), 8);
        let kind = if is_kernel_ring(ctx.ctx) {
            "kernel AIO"
        } else {
            "io_uring"
        };
        println!("handle: {kind}");
        let file = ScratchFile::new(Fs::Shm, "excluded", 4096, 0);
        let mut buf = AlignedBuf::new(4096, 1);
        let mut read = read_iocb(file.fd, &mut buf, 0, 3);
        ctx.submit(&mut [&mut read]);
        assert_eq!(reap_sorted(&ctx, 1), [(3, 4096)]);
        return;
    }
    let _shared = system_shared();
    let dir = scratch_dir("io_uring_backend-excluded");
    let valgrind = [(
        "LD_PRELOAD",
        "/nonexistent/vgpreload_memcheck-amd64-linux.so",
    )];
    // A program's name, the variables it runs with, the backend it gets.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 8] = [
        ("mariadbd", &[], "kernel AIO"),
        ("mysqld", &[], "kernel AIO"),
        ("mariadb-backup", &[], "kernel AIO"),
        ("mariabackup", &[], "kernel AIO"),
        ("qemu-system-x86_64", &[], "kernel AIO"),
        ("qemu-img", &[], "kernel AIO"),
        ("fio", &[], "io_uring"),
        ("fio", &valgrind, "kernel AIO"),
    ];
    for (exe, env, expected) in cases {
        let path = dir.join(exe);
        if !path.exists() {
            // A link, not a copy: a copy written by this process could
            // still be open for writing in a child that another test
            // thread is starting, and fail to run (ETXTBSY).
            std::fs::hard_link(std::env::current_exe().unwrap(), &path).unwrap();
        }
        let out = run_child(&path, NAME, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("handle: {expected}\n")),
            "{exe} {env:?}: expected {expected}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ------------------------------------------------------ asynchronous requests

/// How an io_submit went, and what followed.
#[derive(Debug, PartialEq)]
struct Blocking {
    /// io_submit waited in the kernel until the pipe had data.
    submit_blocked: bool,
    /// Its result.
    submitted: c_int,
    /// A zero-timeout io_getevents right after it returned.
    right_after: (c_int, Vec<i64>),
}

/// A read of an empty pipe: kernel AIO does it inside io_submit, which
/// waits for the data; the backend queues it and returns.
fn read_of_an_empty_pipe(lib: &'static Aio) -> (Blocking, Vec<(usize, i64)>) {
    let ctx = Ctx::new(lib, 8);
    let pipe = Pipe::new(0);
    let raw = ctx.ctx as usize;
    let read_end = pipe.read;
    let (tx, rx) = std::sync::mpsc::channel();
    let submitter = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let mut buf = vec![0u8; 16];
        // Leaked: the iocb outlives the thread, as the request may.
        let read = Box::leak(Box::new(read_iocb(read_end, &mut buf, 0, 5)));
        let ctx: io_context_t = std::ptr::with_exposed_provenance_mut(raw);
        let submitted = submit(lib, ctx, &mut [read]);
        let right_after = poll_events(lib, ctx);
        (submitted, right_after, buf)
    });
    let tid = rx.recv().unwrap();
    let start = Instant::now();
    let submit_blocked = loop {
        if submitter.is_finished() {
            break false;
        }
        if blocked_in(tid, libc::SYS_io_submit) {
            break true;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "io_submit");
        std::thread::sleep(Duration::from_millis(1));
    };
    pipe.put(b"hello");
    let (submitted, right_after, buf) = submitter.join().unwrap();
    let mut events = right_after.1.len();
    let rest = if events == 0 {
        events = 1;
        reap_sorted(&ctx, 1)
    } else {
        vec![(5, right_after.1[0])]
    };
    assert_eq!(events, 1);
    assert_eq!(&buf[..5], b"hello");
    (
        Blocking {
            submit_blocked,
            submitted,
            right_after,
        },
        rest,
    )
}

/// README: buffered reads (and reads of pipes and sockets) that would wait
/// do not block io_submit under the backend; their event comes later.
#[test]
fn a_read_that_would_wait_does_not_block_io_submit() {
    in_child!("a_read_that_would_wait_does_not_block_io_submit");
    let (kernel, kernel_events) = read_of_an_empty_pipe(system());
    let (backend, backend_events) = read_of_an_empty_pipe(ours());
    assert_eq!(
        kernel,
        Blocking {
            submit_blocked: true,
            submitted: 1,
            right_after: (1, vec![5]),
        }
    );
    assert_eq!(
        backend,
        Blocking {
            submit_blocked: false,
            submitted: 1,
            right_after: (0, vec![]),
        }
    );
    assert_eq!(kernel_events, [(5, 5)]);
    assert_eq!(backend_events, kernel_events);

    // Such a request still waiting does not keep io_destroy from returning
    // (kernel AIO never has one: io_submit would still be waiting).
    let ctx = Ctx::new(ours(), 8);
    let pipe = Pipe::new(0);
    let mut buf = [0u8; 16];
    let mut read = read_iocb(pipe.read, &mut buf, 0, 1);
    assert_eq!(submit(ours(), ctx.ctx, &mut [&mut read]), 1);
    let mut ctx = ctx;
    // SAFETY: our context; the pending read is cancelled.
    assert_eq!(unsafe { (ours().io_destroy)(ctx.ctx) }, 0);
    ctx.ctx = null_mut();
}

/// A thread that submitted and exits: kernel AIO ties requests to the
/// context, the backend's io_uring to the thread. The thread's polls and
/// pipe reads are handed over to the reapers; its buffered reads of a file
/// on disk (not in the page cache) complete before it is gone. Everything
/// completes as with kernel AIO, once.
#[test]
fn requests_of_a_thread_that_exits_complete() {
    in_child!("requests_of_a_thread_that_exits_complete");
    const LEN: usize = 256 << 10;
    let results = both().map(|lib| {
        let ctx = Ctx::new(lib, 16);
        let (polled, piped) = (Pipe::new(0), Pipe::new(0));
        let file = cold_file("thread-exit", LEN);
        let raw = ctx.ctx as usize;
        let (poll_fd, pipe_fd) = (polled.read, piped.read);
        let with_pipe_read = lib.which == Which::Ours;
        let (cold, mut from_pipe) = std::thread::spawn(move || {
            let ctx: io_context_t = std::ptr::with_exposed_provenance_mut(raw);
            let mut cold = vec![0u8; LEN];
            let mut from_pipe = vec![0u8; 16];
            // Leaked so that they outlive the thread: the requests complete
            // after it.
            let ios: &'static mut [aio_rs::abi::iocb; 3] = Box::leak(Box::new([
                poll_iocb(poll_fd, libc::POLLIN as c_int, 1),
                read_iocb(file, &mut cold, 0, 2),
                read_iocb(pipe_fd, &mut from_pipe, 0, 3),
            ]));
            let [poll, read, pipe_read] = ios;
            let mut list = vec![poll, read];
            // Kernel AIO would wait inside io_submit for the pipe's data.
            if with_pipe_read {
                list.push(pipe_read);
            }
            assert_eq!(submit(lib, ctx, &mut list), list.len() as c_int);
            (cold, from_pipe)
        })
        .join()
        .unwrap();
        polled.put(b"!");
        piped.put(b"bytes");
        let n = if with_pipe_read { 3 } else { 2 };
        let mut events = reap_sorted(&ctx, n);
        if !with_pipe_read {
            events.push((3, 5));
            from_pipe[..5].copy_from_slice(b"bytes");
        }
        // SAFETY: our descriptor.
        unsafe { libc::close(file) };
        let right = cold
            .chunks(4096)
            .enumerate()
            .all(|(i, block)| block.iter().all(|&b| b == i as u8));
        (events, right, from_pipe[..5].to_vec())
    });
    println!("{:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    assert_eq!(
        results[0],
        (
            vec![(1, 0x41), (2, LEN as i64), (3, 5)],
            true,
            b"bytes".to_vec()
        )
    );
}

/// A process may exit() with requests in flight, polls and reads of pipes
/// among them: it exits (the backend hands them over, and nobody is left to
/// take them).
#[test]
fn exit_with_requests_in_flight() {
    const NAME: &str = "exit_with_requests_in_flight";
    if !is_child(NAME) {
        let _shared = system_shared();
        let out = run_child(&std::env::current_exe().unwrap(), NAME, &[]);
        assert!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("submitted, exiting"),
            "{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let ctx = Ctx::new(ours(), 8);
    let pipe = Pipe::new(0);
    let mut buf = [0u8; 16];
    let mut read = read_iocb(pipe.read, &mut buf, 0, 1);
    let mut poll = poll_iocb(pipe.read, libc::POLLIN as c_int, 2);
    assert_eq!(submit(ours(), ctx.ctx, &mut [&mut read, &mut poll]), 2);
    println!("submitted, exiting");
    // SAFETY: ends the process; nothing of this test runs afterwards.
    unsafe { libc::exit(0) };
}

/// Kernel AIO does the buffered reads and writes of one io_submit inside
/// it, in their order: reads before a write see the file as it was, reads
/// after it see the write. The backend does cached reads and writes at once
/// in the same order (reads queued to io_uring and submitted at the end of
/// the batch would see a write that followed them: tried, and this test
/// caught it).
#[test]
fn the_reads_and_writes_of_one_submission_keep_their_order() {
    in_child!("the_reads_and_writes_of_one_submission_keep_their_order");
    let results = both().map(|lib| {
        let fd = cold_file("order", 4 * 4096);
        let mut warm = vec![0u8; 4 * 4096];
        // SAFETY: our descriptor and buffer (the pages are cached now).
        let read = unsafe { libc::pread(fd, warm.as_mut_ptr().cast(), warm.len(), 0) };
        assert_eq!(read, warm.len() as isize);
        let ctx = Ctx::new(lib, 16);
        let mut bufs = vec![vec![0xeeu8; 4096]; 5];
        let mut new = vec![0xaau8; 4096];
        let [b0, b1, b2, b3, b4] = &mut bufs[..] else {
            unreachable!()
        };
        let mut r0 = read_iocb(fd, b0, 0, 0);
        let mut r1 = read_iocb(fd, b1, 4096, 1);
        let mut r2 = read_iocb(fd, b2, 0, 2);
        let mut w = rw_iocb(IO_CMD_PWRITE, fd, &mut new, 0);
        w.data = std::ptr::without_provenance_mut(3);
        let mut r3 = read_iocb(fd, b3, 0, 4);
        let mut r4 = read_iocb(fd, b4, 4096, 5);
        let ios = &mut [&mut r0, &mut r1, &mut r2, &mut w, &mut r3, &mut r4];
        assert_eq!(submit(lib, ctx.ctx, ios), 6);
        let events = reap_sorted(&ctx, 6);
        drop(ctx);
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
        let first = |b: &Vec<u8>| b[0];
        (events, bufs.iter().map(first).collect::<Vec<u8>>())
    });
    let expected = (
        (0..6).map(|i| (i, 4096)).collect::<Vec<_>>(),
        vec![0, 1, 0, 0xaa, 1],
    );
    assert_eq!(results[1], expected, "kernel AIO");
    assert_eq!(results[0], expected, "ours");
}

/// A zram device of 16 MiB for the time of a test, removed when dropped.
struct Zram {
    id: String,
    path: PathBuf,
}

impl Zram {
    /// None where the kernel has no zram.
    fn new() -> Option<Zram> {
        let id = std::fs::read_to_string("/sys/class/zram-control/hot_add").ok()?;
        let id = id.trim().to_owned();
        let zram = Zram {
            path: PathBuf::from(format!("/dev/zram{id}")),
            id,
        };
        std::fs::write(format!("/sys/block/zram{}/disksize", zram.id), "16M").unwrap();
        let start = Instant::now();
        while !zram.path.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {:?}",
                zram.path
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(zram)
    }
}

impl Drop for Zram {
    fn drop(&mut self) {
        let _ = std::fs::write("/sys/class/zram-control/hot_remove", &self.id);
    }
}

/// Kernel AIO reads and writes a block device in memory (zram here) inside
/// io_submit, O_DIRECT included: the event is there for a zero-timeout
/// io_getevents right after. The backend does them at once too (io_uring
/// would hand each to a worker thread: README, "Performance of the
/// backend").
#[test]
fn o_direct_on_zram_completes_inside_io_submit() {
    in_child!("o_direct_on_zram_completes_inside_io_submit");
    let Some(zram) = Zram::new() else {
        println!("no zram in this kernel: nothing to compare");
        return;
    };
    // Closed before the device is removed (dropped first), also on a panic.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&zram.path)
        .unwrap_or_else(|e| panic!("{}: {e}", zram.path.display()));
    let fd = file.as_raw_fd();
    let results = both().map(|lib| {
        // The buffers outlive the context, whose io_destroy waits for what
        // is in flight.
        let mut out = AlignedBuf::new(4096, 0x5a);
        let mut buf = AlignedBuf::new(4096, 0);
        let ctx = Ctx::new(lib, 8);
        let mut write = rw_iocb(IO_CMD_PWRITE, fd, &mut out, 8192);
        let mut read = read_iocb(fd, &mut buf, 8192, 2);
        let first = (
            submit(lib, ctx.ctx, &mut [&mut write]),
            poll_events(lib, ctx.ctx),
        );
        let second = (
            submit(lib, ctx.ctx, &mut [&mut read]),
            poll_events(lib, ctx.ctx),
        );
        (first, second, buf[0], buf[4095])
    });
    let expected = ((1, (1, vec![4096])), (1, (1, vec![4096])), 0x5a, 0x5a);
    assert_eq!(results[1], expected, "kernel AIO");
    assert_eq!(results[0], expected, "ours");
}

// --------------------------------------------------------------- differences

/// README: a poll of a socket reports the events asked for that are ready
/// (with their `*NORM` twins); kernel AIO reports the waker's, `POLLPRI` and
/// `POLLRDBAND` too.
#[test]
fn a_socket_poll_reports_the_events_asked_for() {
    in_child!("a_socket_poll_reports_the_events_asked_for");
    let results = both().map(|lib| {
        let ctx = Ctx::new(lib, 8);
        let mut sv = [0; 2];
        // SAFETY: sv has room for two descriptors.
        let ret = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) };
        assert_eq!(ret, 0);
        let mut poll = poll_iocb(sv[0], libc::POLLIN as c_int, 1);
        assert_eq!(submit(lib, ctx.ctx, &mut [&mut poll]), 1);
        // SAFETY: a byte from our buffer to our socket; then our sockets.
        unsafe {
            assert_eq!(libc::write(sv[1], b"x".as_ptr().cast(), 1), 1);
        }
        let got = reap_sorted(&ctx, 1);
        // SAFETY: our descriptors.
        unsafe {
            libc::close(sv[0]);
            libc::close(sv[1]);
        }
        got[0].1
    });
    let asked = (libc::POLLIN | libc::POLLRDNORM) as i64;
    assert_eq!(results[0], asked, "ours");
    assert_eq!(
        results[1],
        asked | (libc::POLLPRI | libc::POLLRDBAND) as i64,
        "kernel AIO"
    );
}

/// README: what only the file knows (here: a procfs file has no
/// `read_iter`, an inotify descriptor cannot honour `RWF_NOWAIT`) kernel AIO
/// refuses at io_submit; under the backend the file is read by io_uring,
/// which reads the first and fails the second in its event. A directory is
/// refused by both.
#[test]
fn errors_only_the_file_knows_come_in_the_event() {
    in_child!("errors_only_the_file_knows_come_in_the_event");
    let results = both().map(|lib| {
        let mut out = Vec::new();
        for what in ["/proc/self/stat", "inotify", "/tmp"] {
            // A fresh context: nothing known of the descriptor.
            let ctx = Ctx::new(lib, 8);
            let path = CString::new(what).unwrap();
            // SAFETY: a valid C string; new descriptors.
            let fd = unsafe {
                match what {
                    "inotify" => libc::inotify_init1(libc::IN_CLOEXEC),
                    _ => libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC),
                }
            };
            assert!(fd >= 0);
            let mut buf = [0u8; 64];
            let mut read = read_iocb(fd, &mut buf, 0, 1);
            if what == "inotify" {
                read.aio_rw_flags = 0x08; // RWF_NOWAIT
            }
            let submitted = submit(lib, ctx.ctx, &mut [&mut read]);
            let res = if submitted == 1 {
                reap_sorted(&ctx, 1)[0].1
            } else {
                0
            };
            // SAFETY: our descriptor.
            unsafe { libc::close(fd) };
            out.push((submitted, res.signum()));
        }
        out
    });
    assert_eq!(
        results[1],
        [(EINVAL, 0), (EOPNOTSUPP, 0), (EINVAL, 0)],
        "kernel AIO"
    );
    assert_eq!(results[0], [(1, 1), (1, -1), (EINVAL, 0)], "ours");
}

/// README: without /proc mounted, the backend cannot tell an eventfd from
/// another descriptor, and takes any open one for `IOCB_FLAG_RESFD`; with
/// /proc it refuses others with `EINVAL`, as the kernel does.
#[test]
fn resfd_without_proc() {
    const NAME: &str = "resfd_without_proc";
    if !is_child(NAME) {
        let _shared = system_shared();
        for proc_mounted in [true, false] {
            let exe = std::env::current_exe().unwrap();
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(if proc_mounted {
                    r#"exec "$0" "$@""#
                } else {
                    r#"umount -l /proc && exec "$0" "$@""#
                })
                .arg(&exe)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD, NAME)
                .env("LIBAIO_BACKEND", "io_uring")
                .env("LIBAIO_RS_PROC", if proc_mounted { "1" } else { "0" })
                .env("LIBAIO_RS_LIBDIR", libdir());
            let out = run_with_time_limit(&mut cmd, Duration::from_secs(60));
            let stdout = String::from_utf8_lossy(&out.stdout);
            print!("{stdout}");
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "/proc mounted: {proc_mounted}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        return;
    }
    let proc_mounted = std::env::var("LIBAIO_RS_PROC").as_deref() == Ok("1");
    assert_eq!(Path::new("/proc/self").exists(), proc_mounted);
    let ctx = Ctx::new(ours(), 8);
    let file = ScratchFile::new(Fs::Shm, "resfd", 4096, 0);
    let pipe = Pipe::new(0);
    let mut buf = AlignedBuf::new(4096, 0);
    let mut read = read_iocb(file.fd, &mut buf, 0, 1);
    read.u.c.flags = 1; // IOCB_FLAG_RESFD
    read.u.c.resfd = pipe.write as u32;
    let submitted = submit(ours(), ctx.ctx, &mut [&mut read]);
    if proc_mounted {
        assert_eq!(submitted, EINVAL, "a pipe is no eventfd");
        return;
    }
    assert_eq!(submitted, 1, "taken for an eventfd");
    assert_eq!(reap_sorted(&ctx, 1), [(1, 4096)]);
    let mut signal = [0u8; 8];
    // SAFETY: reading into our buffer from our pipe.
    let n = unsafe { libc::read(pipe.read, signal.as_mut_ptr().cast(), 8) };
    assert_eq!(
        (n, u64::from_ne_bytes(signal)),
        (8, 1),
        "the signal, in the pipe"
    );
}

/// A descriptor number that was a file's and is now a pipe's, in one
/// context: the library finds out that it is a stream (README: what it
/// keeps of the last descriptor numbers), so a read of it submitted by a
/// thread that exits is handed over, as any pipe read is.
#[test]
fn a_descriptor_number_reused_for_a_pipe() {
    in_child!("a_descriptor_number_reused_for_a_pipe");
    let ctx = Ctx::new(ours(), 8);
    let file = cold_file("reused", 4096);
    let mut buf = vec![0u8; 4096];
    let mut read = read_iocb(file, &mut buf, 0, 1);
    assert_eq!(submit(ours(), ctx.ctx, &mut [&mut read]), 1);
    assert_eq!(reap_sorted(&ctx, 1), [(1, 4096)]);
    let pipe = Pipe::new(0);
    // SAFETY: our descriptors: the file's number now names the pipe.
    assert_eq!(unsafe { libc::dup2(pipe.read, file) }, file);
    let raw = ctx.ctx as usize;
    let from_pipe = std::thread::spawn(move || {
        let ctx: io_context_t = std::ptr::with_exposed_provenance_mut(raw);
        let mut from_pipe = vec![0u8; 16];
        // Leaked: the iocb outlives the thread, as the request does.
        let read = Box::leak(Box::new(read_iocb(file, &mut from_pipe, 0, 2)));
        assert_eq!(submit(ours(), ctx, &mut [read]), 1);
        from_pipe
    })
    .join()
    .unwrap();
    pipe.put(b"again");
    assert_eq!(reap_sorted(&ctx, 1), [(2, 5)]);
    assert_eq!(&from_pipe[..5], b"again");
    // SAFETY: our descriptor.
    unsafe { libc::close(file) };
}
