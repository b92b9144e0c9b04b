//! Fault injection: what the kernel does to AIO when something goes wrong
//! around it, through our library and, wherever the system's libaio survives
//! the fault, through it too, comparing the two.
//!
//! - `/proc/sys/fs/aio-max-nr` exhausted, then contexts freed: `EAGAIN`,
//!   then recovery;
//! - a full ring: io_submit takes part of a batch, then answers `EAGAIN`;
//! - `ENOSPC` (a small tmpfs) and `EFBIG` (`RLIMIT_FSIZE`) in the middle of a
//!   batch of writes;
//! - file descriptors closed while their I/O is in flight;
//! - io_destroy while other threads wait in io_getevents or submit;
//! - io_cancel racing with the completion it tries to cancel;
//! - signals during a blocking io_getevents (with and without `SA_RESTART`),
//!   and io_pgetevents' signal mask;
//! - fork with I/O in flight.
//!
//! Every request carries a unique id in `data`; every completion is counted
//! by it, so that none is lost or delivered twice.
//!
//! Cases that change process-wide state the other tests would notice
//! (`RLIMIT_FSIZE`), or that must be alone in a process (io_destroy racing
//! with reapers: a destroyed ring's address may be given to the next
//! io_setup of any thread), run in a child process of this binary, started
//! by the test of the same name (see [`in_child_process`]).

mod common;

use aio_rs::abi::io_iocb_cmd::*;
use common::*;
use std::collections::BTreeMap;
use std::ffi::{CString, c_int, c_long, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Barrier, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

const EINVAL: c_int = -libc::EINVAL;
const EAGAIN: c_int = -libc::EAGAIN;
const EBADF: c_int = -libc::EBADF;
const EINTR: c_int = -libc::EINTR;
const EINPROGRESS: c_int = -libc::EINPROGRESS;
const ENOSPC: i64 = -libc::ENOSPC as i64;
const EFBIG: i64 = -libc::EFBIG as i64;
// What a poll for POLLIN on a pipe completes with: POLLIN when the kernel
// finds the pipe readable by asking it, POLLIN | POLLRDNORM (the pipe's
// wake-up mask, passed on as it is) when the pipe's wake-up completes it.
const POLLIN: i64 = libc::POLLIN as i64;
const POLLIN_RDNORM: i64 = (libc::POLLIN | libc::POLLRDNORM) as i64;
const POLLHUP: i64 = libc::POLLHUP as i64;

/// The system calls a waiter blocks in, as this architecture numbers them.
const IO_GETEVENTS: c_long = aio_rs::syscall_numbers::IO_GETEVENTS;
const IO_PGETEVENTS: c_long = match aio_rs::syscall_numbers::IO_PGETEVENTS {
    Some(nr) => nr,
    None => panic!("io_pgetevents is needed here"),
};

// ------------------------------------------------------------ shared state

/// `/proc/sys/fs/aio-max-nr` is one pool for the whole machine. The test
/// that exhausts it holds this lock for writing; every other test holds it
/// for reading while it has contexts, so none of them runs meanwhile.
static POOL: RwLock<()> = RwLock::new(());

fn pool_shared() -> RwLockReadGuard<'static, ()> {
    POOL.read().unwrap_or_else(|e| e.into_inner())
}

fn pool_exclusive() -> RwLockWriteGuard<'static, ()> {
    POOL.write().unwrap_or_else(|e| e.into_inner())
}

/// Names the test a child process runs.
const CHILD: &str = "LIBAIO_RS_FAULTS_CHILD";

/// Runs the test `name` (the caller) again, alone, in a child process of
/// this binary, with a time limit, and asserts that it passed. Returns true
/// in the parent, where the test is then done, and false in the child,
/// which goes on to run the test's body.
fn in_child_process(name: &str) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        return false;
    }
    let out = run_with_time_limit(
        Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, name)
            // The default reaping mode: with user-space reaping our library
            // reads the ring of a live context whenever it holds enough,
            // which the io_destroy race must not let it do.
            .env_remove("LIBAIO_USERSPACE_REAP"),
        hang_limit(Duration::from_secs(40)),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child process for {name}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

// ----------------------------------------------------------------- helpers

/// The `data` of request number `i`: a unique id, never 0.
fn id(i: usize) -> *mut c_void {
    without_provenance_mut(i + 1)
}

/// The request number an event's `data` names.
fn number(event: &io_event) -> usize {
    event.data as usize - 1
}

/// The event's result, signed (`res` is an `unsigned long`: on 32-bit
/// targets a negated errno must be read as a 32-bit `long`).
#[allow(clippy::unnecessary_cast)]
fn res(event: &io_event) -> i64 {
    event.res as c_long as i64
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Counts completions by request number.
struct Ledger(Vec<AtomicU32>);

impl Ledger {
    fn new(n: usize) -> Ledger {
        Ledger((0..n).map(|_| AtomicU32::new(0)).collect())
    }

    /// Records a completion; returns its request number.
    fn record(&self, event: &io_event) -> usize {
        let n = number(event);
        assert!(
            n < self.0.len(),
            "an event with unknown data {:?}",
            event.data
        );
        self.0[n].fetch_add(1, Ordering::Relaxed);
        n
    }

    fn count(&self, n: usize) -> u32 {
        self.0[n].load(Ordering::Relaxed)
    }

    /// Asserts that requests `range` each completed exactly once and no
    /// other did.
    fn assert_exactly_once(&self, range: std::ops::Range<usize>, what: &str) {
        let wrong: Vec<(usize, u32)> = (0..self.0.len())
            .map(|n| (n, self.count(n)))
            .filter(|&(n, c)| c != u32::from(range.contains(&n)))
            .take(10)
            .collect();
        assert!(
            wrong.is_empty(),
            "{what}: requests completed the wrong number of times (request, times): {wrong:?}"
        );
    }
}

/// io_submit through `lib`.
fn submit(lib: &Aio, ctx: io_context_t, list: &mut [*mut iocb]) -> c_int {
    // SAFETY: the callers keep the iocbs and their buffers alive until the
    // requests complete or the context is destroyed.
    keeps_errno("io_submit", || unsafe {
        (lib.io_submit)(ctx, list.len() as c_long, list.as_mut_ptr())
    })
}

/// io_getevents through `lib`, with `timeout` (None: wait without limit).
fn getevents(
    lib: &Aio,
    ctx: io_context_t,
    min: c_long,
    events: &mut [io_event],
    timeout: Option<Duration>,
) -> c_int {
    let mut ts = timeout.map(timespec);
    let tp = ts.as_mut().map_or(null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: room for events.len() events; tp is NULL or ours.
    keeps_errno("io_getevents", || unsafe {
        (lib.io_getevents)(ctx, min, events.len() as c_long, events.as_mut_ptr(), tp)
    })
}

/// Waits for exactly `n` completions (10 s at most for each).
fn reap(lib: &Aio, ctx: io_context_t, n: usize) -> Vec<io_event> {
    let mut events = vec![zeroed_event(); n];
    let mut got = 0;
    while got < n {
        let ret = getevents(
            lib,
            ctx,
            1,
            &mut events[got..],
            Some(Duration::from_secs(10)),
        );
        assert!(
            ret > 0,
            "{:?}: io_getevents returned {ret} with {got} of {n} reaped",
            lib.which
        );
        got += ret as usize;
    }
    events
}

/// Asserts that nothing more is waiting in the ring.
fn assert_nothing_more(lib: &Aio, ctx: io_context_t) {
    let mut events = [zeroed_event(); 4];
    let ret = getevents(lib, ctx, 0, &mut events, Some(Duration::ZERO));
    assert_eq!(ret, 0, "{:?}: an extra completion", lib.which);
}

/// The ring header word at byte `offset` (8: head, 12: tail).
fn ring_word(ctx: io_context_t, offset: usize) -> u32 {
    // SAFETY: ctx is a live context, the address of its mapped ring.
    unsafe { ctx.cast::<u8>().add(offset).cast::<u32>().read_volatile() }
}

/// Completions waiting in the ring.
fn waiting(ctx: io_context_t) -> u32 {
    if let Some(posted) = io_uring::posted(ctx) {
        return posted;
    }
    let nr = ring_word(ctx, 4);
    (ring_word(ctx, 12) + nr - ring_word(ctx, 8)) % nr
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An IO_CMD_POLL for POLLIN on `fd`.
fn poll_iocb(fd: c_int, n: usize) -> iocb {
    let mut io = zeroed_iocb();
    io.aio_fildes = fd;
    io.aio_lio_opcode = IO_CMD_POLL as i16;
    io.u.poll.events = libc::POLLIN as c_int;
    io.data = id(n);
    io
}

/// A write of `buf` at `offset`, as request `n`.
fn write_iocb(fd: c_int, buf: &mut [u8], offset: i64, n: usize) -> iocb {
    let mut io = rw_iocb(IO_CMD_PWRITE, fd, buf, offset);
    io.data = id(n);
    io
}

fn pointers(ios: &mut [iocb]) -> Vec<*mut iocb> {
    ios.iter_mut().map(|io| io as *mut iocb).collect()
}

fn proc_aio(name: &str) -> i64 {
    std::fs::read_to_string(format!("/proc/sys/fs/{name}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Reads `len` bytes at `offset` of `fd` with pread.
fn read_back(fd: c_int, offset: i64, len: usize) -> Vec<u8> {
    let mut buf = AlignedBuf::new(len.next_multiple_of(4096), 0);
    // SAFETY: reading into our buffer.
    let n = unsafe { libc::pread64(fd, buf.as_mut_ptr().cast(), len, offset) };
    assert_eq!(
        n,
        len as isize,
        "pread: {}",
        std::io::Error::last_os_error()
    );
    buf[..len].to_vec()
}

fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Whether thread `tid` of this process is blocked in system call `nr`.
fn blocked_in(tid: libc::pid_t, nr: c_long) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).is_ok_and(|s| {
        let now = s.split_whitespace().next();
        now == Some(nr.to_string().as_str()) || io_uring::waits_in(now)
    })
}

fn wait_until_blocked(tid: libc::pid_t, nr: c_long) {
    wait_for(
        &format!("thread {tid} to block in system call {nr}"),
        || blocked_in(tid, nr),
    );
}

/// A thread started with [`spawn_waiter`].
struct Waiter<T> {
    tid: libc::pid_t,
    thread: libc::pthread_t,
    handle: std::thread::JoinHandle<T>,
}

/// Starts `f` on a thread, and gives its ids.
fn spawn_waiter<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Waiter<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send((gettid(), unsafe { libc::pthread_self() }))
            .unwrap();
        f()
    });
    let (tid, thread) = rx.recv().unwrap();
    Waiter {
        tid,
        thread,
        handle,
    }
}

impl<T> Waiter<T> {
    fn kill(&self, signal: c_int) {
        // SAFETY: the thread is alive: it is only joined by join(), which
        // consumes self.
        assert_eq!(unsafe { libc::pthread_kill(self.thread, signal) }, 0);
    }

    fn join(self) -> T {
        self.handle.join().unwrap()
    }
}

// ------------------------------------------------- aio-max-nr exhausted

/// Destroys the contexts it holds when dropped, so that the pool is given
/// back even when the test fails.
struct Held<'a> {
    lib: &'a Aio,
    ctxs: Vec<(c_int, io_context_t)>,
}

impl Held<'_> {
    /// Destroys every context; returns the results that were not 0.
    fn release(&mut self) -> Vec<c_int> {
        let lib = self.lib;
        self.ctxs
            .drain(..)
            // SAFETY: contexts we created, which nothing else uses.
            .map(|(_, ctx)| unsafe { (lib.io_destroy)(ctx) })
            .filter(|&ret| ret != 0)
            .collect()
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[derive(Debug, PartialEq)]
struct Exhaustion {
    /// io_setup(1), io_queue_init(1) with the pool full.
    refused: [c_int; 2],
    /// A read on a held context while the pool is full.
    io_still_works: i64,
    /// io_destroy of a 4096 context, then io_setup(4097), io_setup(4096),
    /// io_setup(1).
    recovery: [c_int; 4],
    /// io_destroy results other than 0 when everything is given back.
    failed_destroys: Vec<c_int>,
}

/// Another process made or destroyed contexts during a turn: aio-nr was
/// not what this turn's own calls make it.
#[derive(Debug)]
struct Disturbed(&'static str);

/// Fills the pool with contexts of `lib`, checks that every way of making
/// one then fails, that the contexts held still work, that freeing one gives
/// exactly its room back; then frees them all. Also returns how many
/// contexts of each size it took.
fn exhaust(lib: &Aio, file: &ScratchFile) -> Result<(Exhaustion, Vec<(c_int, usize)>), Disturbed> {
    let max = proc_aio("aio-max-nr");
    let setup = |n: c_int, ctx: &mut io_context_t| {
        // SAFETY: ctx is ours.
        keeps_errno("io_setup", || unsafe { (lib.io_setup)(n, ctx) })
    };
    // After each step, aio-nr must be what this turn's calls alone make it.
    let alone = |expected: i64, step: &'static str| {
        if proc_aio("aio-nr") == expected {
            Ok(())
        } else {
            Err(Disturbed(step))
        }
    };
    let mut held = Held {
        lib,
        ctxs: Vec::new(),
    };
    // Contexts of 4096 events until the pool refuses, then of half that,
    // and so on down to 1: the pool ends up full to the last event.
    let mut sizes = Vec::new();
    let mut size: c_int = 4096;
    while size >= 1 {
        let mut count = 0;
        loop {
            let mut ctx = null_mut();
            let ret = setup(size, &mut ctx);
            if ret == EAGAIN {
                assert!(ctx.is_null());
                break;
            }
            assert_eq!(ret, 0, "{:?}: io_setup({size})", lib.which);
            held.ctxs.push((size, ctx));
            count += 1;
            assert!(held.ctxs.len() < 10_000, "the pool never ran out");
        }
        sizes.push((size, count));
        size /= 2;
    }
    // Full to the last event (or someone freed some meanwhile).
    alone(max, "filling")?;

    let mut ctx = null_mut();
    let setup_1 = setup(1, &mut ctx);
    if setup_1 == 0 {
        held.ctxs.push((1, ctx));
        ctx = null_mut();
    }
    // SAFETY: ctx is ours.
    let queue_init = keeps_errno("io_queue_init", || unsafe {
        (lib.io_queue_init)(1, &mut ctx)
    });
    if queue_init == 0 {
        held.ctxs.push((1, ctx));
    }
    let refused = [setup_1, queue_init];
    alone(max, "refusing")?;

    // The contexts already made keep working.
    let (_, first) = held.ctxs[0];
    let mut buf = AlignedBuf::new(4096, 0);
    let mut io = rw_iocb(IO_CMD_PREAD, file.fd, &mut buf, 0);
    io.data = id(0);
    assert_eq!(submit(lib, first, &mut [&mut io]), 1);
    let io_still_works = res(&reap(lib, first, 1)[0]);

    // Freeing a context gives its room back, and only that. (io_destroy
    // takes its context's events out of aio-nr before it returns.)
    let (size, ctx) = held.ctxs.remove(0);
    assert_eq!(size, 4096, "{sizes:?}");
    // SAFETY: a context we created; nothing else uses it.
    let destroyed = keeps_errno("io_destroy", || unsafe { (lib.io_destroy)(ctx) });
    alone(max - 4096, "freeing one")?;
    let mut again = null_mut();
    let too_big = setup(4097, &mut again);
    if too_big == 0 {
        held.ctxs.push((4097, again));
        again = null_mut();
    }
    alone(max - 4096, "asking for too much")?;
    let fits = setup(4096, &mut again);
    if fits == 0 {
        held.ctxs.push((4096, again));
    }
    alone(max, "taking the room back")?;
    let mut one = null_mut();
    let full_again = setup(1, &mut one);
    if full_again == 0 {
        held.ctxs.push((1, one));
    }
    alone(max, "refusing again")?;
    let recovery = [destroyed, too_big, fits, full_again];
    // Give everything back.
    let failed_destroys = held.release();
    assert!(proc_aio("aio-nr") < max, "the pool is given back");
    let result = Exhaustion {
        refused,
        io_still_works,
        recovery,
        failed_destroys,
    };
    Ok((result, sizes))
}

#[test]
fn exhausting_aio_max_nr_gives_eagain_until_a_context_is_freed() {
    // This takes the whole system-wide pool: meanwhile io_setup fails with
    // EAGAIN in every process on the machine, not only in this one. The
    // write lock keeps the other tests of this binary out; other processes
    // would see EAGAIN until each library's turn ends (a few milliseconds;
    // `Held` gives the pool back even if the test fails). A process that
    // frees a context in the middle of a turn, or makes one in the moment
    // the turn frees room, changes the results: the turn notices (aio-nr is
    // not what its own calls make it), gives everything back, and starts
    // again.
    let _pool = pool_exclusive();
    let file = ScratchFile::new(Fs::Shm, "max-nr", 4096, 0);
    let before = proc_aio("aio-nr");
    let results = both().map(|lib| {
        let mut disturbances = Vec::new();
        loop {
            match exhaust(lib, &file) {
                Ok(result) => break (result, disturbances),
                Err(Disturbed(step)) if disturbances.len() < 10 => disturbances.push(step),
                Err(Disturbed(step)) => panic!(
                    "{:?}: other processes kept changing aio-nr ({disturbances:?}, {step})",
                    lib.which
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    println!(
        "aio-nr {before} of {} before; contexts taken (size, count): ours {:?}, system {:?}; \
         aio-nr {} after; turns disturbed by other processes: ours {:?}, system {:?}",
        proc_aio("aio-max-nr"),
        results[0].0.1,
        results[1].0.1,
        proc_aio("aio-nr"),
        results[0].1,
        results[1].1,
    );
    println!("{:?}", results[0].0.0);
    assert_eq!(results[0].0.0, results[1].0.0, "ours vs system");
    assert_eq!(
        results[0].0.0,
        Exhaustion {
            refused: [EAGAIN, EAGAIN],
            io_still_works: 4096,
            recovery: [0, EAGAIN, 0, EAGAIN],
            failed_destroys: vec![],
        }
    );
}

// ------------------------------------------------------------ a full ring

/// 1000 reads through a context made for 1: each io_submit takes what the
/// ring has room for, the next answers EAGAIN, reaping makes room again.
/// Returns (taken, refused) for each round.
fn fill_with_reads(lib: &Aio, file: &ScratchFile) -> Vec<(c_int, c_int)> {
    const N: usize = 1000;
    let ctx = Ctx::new(lib, 1);
    let mut bufs: Vec<AlignedBuf> = (0..N).map(|_| AlignedBuf::new(4096, 0xee)).collect();
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| {
            let mut io = rw_iocb(IO_CMD_PREAD, file.fd, b, (i % 64 * 4096) as i64);
            io.data = id(i);
            io
        })
        .collect();
    let mut list = pointers(&mut ios);
    let ledger = Ledger::new(N);
    let mut next = 0;
    let mut rounds = Vec::new();
    while next < N {
        let taken = submit(lib, ctx.ctx, &mut list[next..]);
        assert!(taken > 0, "{:?}: io_submit gave {taken}", lib.which);
        next += taken as usize;
        let refused = if next < N {
            submit(lib, ctx.ctx, &mut list[next..])
        } else {
            0
        };
        // The reads are done, but hold their slots until reaped.
        for event in reap(lib, ctx.ctx, taken as usize) {
            ledger.record(&event);
            assert_eq!(res(&event), 4096);
        }
        assert_nothing_more(lib, ctx.ctx);
        rounds.push((taken, refused));
    }
    ledger.assert_exactly_once(0..N, "reads through a full ring");
    drop(ctx);
    assert!(bufs.iter().all(|b| b.iter().all(|&x| x == 0)));
    rounds
}

/// The same with polls, which stay pending until the pipe is made readable.
fn fill_with_polls(lib: &Aio) -> Vec<(c_int, c_int)> {
    const N: usize = 400;
    let pipe = Pipe::new(libc::O_NONBLOCK);
    let ctx = Ctx::new(lib, 1);
    let mut ios: Vec<iocb> = (0..N).map(|i| poll_iocb(pipe.read, i)).collect();
    let mut list = pointers(&mut ios);
    let ledger = Ledger::new(N);
    let mut next = 0;
    let mut rounds = Vec::new();
    while next < N {
        let taken = submit(lib, ctx.ctx, &mut list[next..]);
        assert!(taken > 0, "{:?}: io_submit gave {taken}", lib.which);
        next += taken as usize;
        let refused = if next < N {
            submit(lib, ctx.ctx, &mut list[next..])
        } else {
            0
        };
        assert_nothing_more(lib, ctx.ctx);
        pipe.ring();
        for event in reap(lib, ctx.ctx, taken as usize) {
            ledger.record(&event);
            assert_eq!(res(&event), POLLIN_RDNORM);
        }
        assert_nothing_more(lib, ctx.ctx);
        pipe.drain();
        rounds.push((taken, refused));
    }
    ledger.assert_exactly_once(0..N, "polls through a full ring");
    rounds
}

#[test]
fn a_full_ring_takes_part_of_a_batch_then_refuses_and_loses_nothing() {
    let _pool = pool_shared();
    let _pinned = Pinned::to_cpu(0);
    let file = ScratchFile::new(Fs::Shm, "full-ring", 64 * 4096, 0);
    let results = both().map(|lib| (fill_with_reads(lib, &file), fill_with_polls(lib)));
    println!(
        "(taken, refused) per round: reads {:?}, polls {:?}",
        results[0].0, results[0].1
    );
    assert_eq!(results[0], results[1], "ours vs system");
    for rounds in [&results[0].0, &results[0].1] {
        assert!(rounds.len() > 1, "the ring never filled");
        let (_, last) = rounds.split_last().unwrap();
        for &(taken, refused) in last {
            assert!(taken > 0);
            assert_eq!(refused, EAGAIN);
        }
    }
}

// ------------------------------------------------------ ENOSPC and EFBIG

/// A tmpfs mounted on a fresh directory under target/, unmounted (and the
/// directory removed) on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(tag: &str, size: &str) -> Tmpfs {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("faults-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let options = CString::new(format!("size={size},mode=0700")).unwrap();
        // SAFETY: valid C strings.
        let ret = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                options.as_ptr().cast(),
            )
        };
        if ret != 0 {
            let error = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(&dir);
            panic!("mount tmpfs on {} (needs root): {error}", dir.display());
        }
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: unmounts what mount() mounted; lazily if still busy.
        unsafe {
            if libc::umount2(target.as_ptr(), 0) != 0 {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn open_direct(path: &std::path::Path) -> c_int {
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C string.
    let fd = unsafe {
        libc::open(
            cpath.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_DIRECT | libc::O_CLOEXEC,
            0o600,
        )
    };
    assert!(
        fd >= 0,
        "open {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    fd
}

/// Submits `count` writes of `size` bytes at consecutive offsets of `fd`
/// in one batch, write `i` filled with byte `i + 1`; returns each write's
/// result, in request order, and checks what the successful ones wrote.
fn batch_of_writes(lib: &Aio, fd: c_int, count: usize, size: usize) -> Vec<i64> {
    let ctx = Ctx::new(lib, count as c_int);
    let mut bufs: Vec<AlignedBuf> = (0..count)
        .map(|i| AlignedBuf::new(size, i as u8 + 1))
        .collect();
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| write_iocb(fd, b, (i * size) as i64, i))
        .collect();
    let mut list = pointers(&mut ios);
    // The errors come in the events; io_submit takes the whole batch.
    assert_eq!(submit(lib, ctx.ctx, &mut list), count as c_int);
    let ledger = Ledger::new(count);
    let mut results = vec![0; count];
    for event in reap(lib, ctx.ctx, count) {
        results[ledger.record(&event)] = res(&event);
    }
    ledger.assert_exactly_once(0..count, "writes");
    assert_nothing_more(lib, ctx.ctx);
    for (i, &r) in results.iter().enumerate() {
        if r > 0 {
            let data = read_back(fd, (i * size) as i64, r as usize);
            assert!(data.iter().all(|&b| b == i as u8 + 1), "write {i}'s data");
        }
    }
    results
}

#[test]
fn enospc_in_the_middle_of_a_batch() {
    let _pool = pool_shared();
    let results = both().map(|lib| {
        // 1 MiB of tmpfs, all but 100 KiB taken by another file: of 16
        // writes of 16 KiB, the first 6 fit, the 7th only in part.
        let fs = Tmpfs::mount("enospc", "1m");
        std::fs::write(fs.dir.join("filler"), vec![0x11; (1 << 20) - 100 * 1024]).unwrap();
        let fd = open_direct(&fs.dir.join("data"));
        let results = batch_of_writes(lib, fd, 16, 16 << 10);
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
        results
    });
    println!("ENOSPC batch: {:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    let r = &results[0];
    assert!(r[..6].iter().all(|&x| x == 16 << 10), "{r:?}");
    assert!(r[6] != ENOSPC && r[6] < 16 << 10, "a short write: {r:?}");
    assert!(r[7..].iter().all(|&x| x == ENOSPC), "{r:?}");
}

#[test]
fn efbig_past_rlimit_fsize_in_the_middle_of_a_batch() {
    let _pool = pool_shared();
    if in_child_process("efbig_past_rlimit_fsize_in_the_middle_of_a_batch") {
        return;
    }
    // In the child: the limit is the whole process's. Ignoring SIGXFSZ
    // turns the signal the kernel sends into the EFBIG result.
    const LIMIT: usize = (1 << 20) + 6 * 1024;
    // SAFETY: plain signal disposition and resource limit changes.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: LIMIT as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    for fs in [Fs::Shm, Fs::Disk] {
        let results = both().map(|lib| {
            let file = ScratchFile::new(fs, "efbig", 0, 0);
            batch_of_writes(lib, file.fd, 20, 64 << 10)
        });
        println!("EFBIG batch on {fs:?}: {:?}", results[0]);
        assert_eq!(results[0], results[1], "{fs:?}: ours vs system");
        let r = &results[0];
        assert!(r[..16].iter().all(|&x| x == 64 << 10), "{r:?}");
        assert_eq!(r[16], (LIMIT - (1 << 20)) as i64, "cut at the limit");
        assert!(r[17..].iter().all(|&x| x == EFBIG), "{r:?}");
    }
}

// -------------------------------------------- descriptors closed in flight

/// A new descriptor for what `fd` names, numbered from 5000 up: far from the
/// low numbers other threads' open() calls take, so that after it is closed
/// nothing else will get its number while the test uses it.
fn dup_high(fd: c_int) -> c_int {
    // SAFETY: duplicating our own descriptor.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 5000) };
    assert!(new >= 5000, "{}", std::io::Error::last_os_error());
    new
}

fn close(fd: c_int) {
    // SAFETY: a descriptor of ours, closed once.
    assert_eq!(unsafe { libc::close(fd) }, 0);
}

#[derive(Debug, PartialEq)]
struct ClosedFds {
    /// Each request's result, by request number.
    results: Vec<i64>,
    /// io_submit on a descriptor already closed.
    late: c_int,
    /// The eventfd's count after the write that signals it completed.
    eventfd_count: u64,
}

fn close_descriptors_in_flight(lib: &Aio, file: &ScratchFile) -> ClosedFds {
    const WRITES: usize = 32;
    const POLLS: usize = 4;
    const SIZE: usize = 64 << 10;
    let ctx = Ctx::new(lib, 64);
    let mut pipe = Pipe::new(libc::O_NONBLOCK);
    let hangup = Pipe::new(libc::O_NONBLOCK);
    // SAFETY: a new eventfd of ours.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    let (fd, poll_fd, hangup_fd, resfd) = (
        dup_high(file.fd),
        dup_high(pipe.read),
        dup_high(hangup.read),
        dup_high(efd),
    );
    let mut bufs: Vec<AlignedBuf> = (0..WRITES)
        .map(|i| AlignedBuf::new(SIZE, i as u8 + 0x40))
        .collect();
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| write_iocb(fd, b, (i * SIZE) as i64, i))
        .collect();
    // The last write also signals the eventfd (IOCB_FLAG_RESFD) through a
    // descriptor closed before it completes.
    ios[WRITES - 1].u.c.flags = 1;
    ios[WRITES - 1].u.c.resfd = resfd as u32;
    ios.extend((0..POLLS).map(|i| poll_iocb(poll_fd, WRITES + i)));
    ios.push(poll_iocb(hangup_fd, WRITES + POLLS));
    let total = ios.len();
    let mut list = pointers(&mut ios);
    assert_eq!(submit(lib, ctx.ctx, &mut list), total as c_int);
    // Close every descriptor the requests use, while they are in flight:
    // the kernel holds its own references to the files.
    for fd in [fd, poll_fd, hangup_fd, resfd] {
        close(fd);
    }
    let mut late_buf = AlignedBuf::new(4096, 0);
    let mut late_io = write_iocb(fd, &mut late_buf, 0, total);
    let late = submit(lib, ctx.ctx, &mut [&mut late_io]);
    // The polls complete when their pipes become readable or lose their
    // writer, though their descriptors are gone.
    pipe.ring();
    pipe.close_write_end();
    drop(hangup);
    let ledger = Ledger::new(total + 1);
    let mut results = vec![0; total];
    for event in reap(lib, ctx.ctx, total) {
        results[ledger.record(&event)] = res(&event);
    }
    ledger.assert_exactly_once(0..total, "requests on closed descriptors");
    assert_nothing_more(lib, ctx.ctx);
    let mut eventfd_count = 0u64;
    // SAFETY: reading 8 bytes into our u64 from our eventfd.
    let n = unsafe { libc::read(efd, (&raw mut eventfd_count).cast(), 8) };
    assert_eq!(n, 8);
    close(efd);
    let data = read_back(file.fd, 0, WRITES * SIZE);
    for (i, chunk) in data.chunks(SIZE).enumerate() {
        assert!(chunk.iter().all(|&b| b == i as u8 + 0x40), "write {i}");
    }
    ClosedFds {
        results,
        late,
        eventfd_count,
    }
}

#[test]
fn closing_descriptors_with_io_in_flight() {
    let _pool = pool_shared();
    let file = ScratchFile::new(Fs::Disk, "closed", 4 << 20, 0);
    let results = both().map(|lib| close_descriptors_in_flight(lib, &file));
    println!("{:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    let r = &results[0];
    assert!(r.results[..32].iter().all(|&x| x == 64 << 10));
    assert_eq!(r.results[32..36], [POLLIN_RDNORM; 4], "readable");
    assert_eq!(r.results[36], POLLHUP, "the writer is gone");
    assert_eq!(r.late, EBADF);
    assert_eq!(r.eventfd_count, 1);
}

// ---------------------------------------------------------------- io_destroy

/// Three threads wait in io_getevents/io_pgetevents on a context whose
/// requests (polls) cannot complete; io_destroy cancels the requests and
/// wakes them. Returns io_destroy's result and the waiters'.
fn destroy_under_waiters(lib: &'static Aio) -> Vec<c_int> {
    let pipe = Pipe::new(libc::O_NONBLOCK);
    let mut ctx = null_mut();
    // SAFETY: ctx is ours.
    assert_eq!(unsafe { (lib.io_setup)(16, &mut ctx) }, 0);
    let mut ios: Vec<iocb> = (0..8).map(|i| poll_iocb(pipe.read, i)).collect();
    assert_eq!(submit(lib, ctx, &mut pointers(&mut ios)), 8);
    let raw = ctx as usize;
    let waiters: Vec<Waiter<c_int>> = (0..3)
        .map(|kind| {
            spawn_waiter(move || {
                let ctx: io_context_t = without_provenance_mut(raw);
                let mut events = [zeroed_event(); 8];
                match kind {
                    0 => getevents(lib, ctx, 1, &mut events, None),
                    1 => getevents(lib, ctx, 1, &mut events, Some(Duration::from_secs(30))),
                    // SAFETY: room for 8 events; no timeout, no mask.
                    _ => keeps_errno("io_pgetevents", || unsafe {
                        (lib.io_pgetevents)(ctx, 1, 8, events.as_mut_ptr(), null_mut(), null_mut())
                    }),
                }
            })
        })
        .collect();
    // Each waiter must be inside the kernel, asleep, before the context goes:
    // calling into the library on a destroyed context is a use after free
    // for libaio (it reads the ring first).
    for (kind, w) in waiters.iter().enumerate() {
        wait_until_blocked(
            w.tid,
            if kind == 2 {
                IO_PGETEVENTS
            } else {
                IO_GETEVENTS
            },
        );
    }
    // SAFETY: ours; the waiters are asleep in the kernel and call nothing
    // more on it.
    let destroyed = keeps_errno("io_destroy", || unsafe { (lib.io_destroy)(ctx) });
    let mut results = vec![destroyed];
    results.extend(waiters.into_iter().map(Waiter::join));
    results
}

/// A waiter asks for two completions; one arrives (since Linux 6.8 the
/// kernel lets the waiter sleep until there are two), then the context is
/// destroyed: the waiter returns that one, fewer than it asked for.
fn destroy_after_one_of_two(lib: &'static Aio) -> (c_int, Vec<usize>) {
    let (a, b) = (Pipe::new(libc::O_NONBLOCK), Pipe::new(libc::O_NONBLOCK));
    let mut ctx = null_mut();
    // SAFETY: ctx is ours.
    assert_eq!(unsafe { (lib.io_setup)(4, &mut ctx) }, 0);
    let mut ios = [poll_iocb(a.read, 0), poll_iocb(b.read, 1)];
    assert_eq!(submit(lib, ctx, &mut pointers(&mut ios)), 2);
    let raw = ctx as usize;
    let waiter = spawn_waiter(move || {
        let mut events = [zeroed_event(); 2];
        let ret = getevents(lib, without_provenance_mut(raw), 2, &mut events, None);
        let got: Vec<usize> = events[..ret.max(0) as usize].iter().map(number).collect();
        (ret, got)
    });
    wait_until_blocked(waiter.tid, IO_GETEVENTS);
    a.ring();
    // One completion arrives; the waiter, asking for two, sleeps on.
    wait_for("the first completion", || waiting(ctx) == 1);
    std::thread::sleep(Duration::from_millis(20));
    assert!(blocked_in(waiter.tid, IO_GETEVENTS));
    // SAFETY: ours; the waiter is asleep in the kernel.
    assert_eq!(unsafe { (lib.io_destroy)(ctx) }, 0);
    waiter.join()
}

#[test]
fn io_destroy_wakes_the_threads_waiting_on_the_context() {
    let _pool = pool_shared();
    let results = both().map(|lib| (destroy_under_waiters(lib), destroy_after_one_of_two(lib)));
    println!("{:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    assert_eq!(results[0].0, [0, EINVAL, EINVAL, EINVAL]);
    assert_eq!(results[0].1, (1, vec![0]));
}

/// Threads submit and reap on a context that another thread destroys at a
/// random moment: afterwards they get EINVAL and stop; nothing crashes or
/// hangs, no completion is delivered twice, none that was not submitted.
///
/// Ours only: libaio reads the ring at every io_getevents call, so a reaper
/// coming back for more after the destroy reads an unmapped ring and
/// crashes. Ours never reads a ring once io_destroy has begun (README, "What
/// the library trusts"; `tests/calling_patterns.rs` races 10,000 destroys
/// with every kind of reaper), so this holds whatever the timing. The case
/// runs alone in a child process: the kernel may give a destroyed ring's
/// address to the next io_setup, and a late call through the old handle
/// would then reach another test's context.
#[test]
fn io_destroy_racing_with_submitting_and_reaping_threads() {
    let _pool = pool_shared();
    if in_child_process("io_destroy_racing_with_submitting_and_reaping_threads") {
        return;
    }
    const ROUNDS: usize = 40;
    const IDS: usize = 1 << 18;
    const BATCH: usize = 8;
    let lib = ours();
    let shm = ScratchFile::new(Fs::Shm, "destroy-race", 1 << 20, 0);
    let disk = ScratchFile::new(Fs::Disk, "destroy-race", 1 << 20, 0);
    // Submitted, and delivered before io_destroy.
    let mut totals = [0usize; 2];
    for round in 0..ROUNDS {
        let never = Pipe::new(libc::O_NONBLOCK);
        let mut ctx = null_mut();
        // SAFETY: ctx is ours.
        assert_eq!(unsafe { (lib.io_setup)(64, &mut ctx) }, 0);
        let raw = ctx as usize;
        let next = AtomicUsize::new(0);
        let submitted: Vec<AtomicU8> = (0..IDS).map(|_| AtomicU8::new(0)).collect();
        let delivered = Ledger::new(IDS);
        // What each request's completion must give; the polls never
        // complete (the pipe is never written): io_destroy cancels them.
        const NEVER: i64 = i64::MIN;
        let expected: Vec<AtomicI64> = (0..IDS).map(|_| AtomicI64::new(0)).collect();
        let results: Vec<AtomicI64> = (0..IDS).map(|_| AtomicI64::new(0)).collect();
        let destroyed = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..2 {
                let (next, submitted, expected, destroyed) =
                    (&next, &submitted, &expected, &destroyed);
                let (shm, disk, never) = (&shm, &disk, &never);
                s.spawn(move || {
                    let ctx: io_context_t = without_provenance_mut(raw);
                    let mut bufs: Vec<AlignedBuf> =
                        (0..BATCH).map(|_| AlignedBuf::new(4096, 0x33)).collect();
                    let mut batches = 0usize;
                    loop {
                        let first = next.fetch_add(BATCH, Ordering::Relaxed);
                        if first + BATCH > IDS {
                            // Out of ids: wait for the end.
                            while !destroyed.load(Ordering::Acquire) {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            break;
                        }
                        batches += 1;
                        let mut ios: Vec<iocb> = bufs
                            .iter_mut()
                            .enumerate()
                            .map(|(i, b)| {
                                let n = first + i;
                                if i == 0 && batches % 4 == t {
                                    poll_iocb(never.read, n)
                                } else {
                                    let fd = if n % 2 == 0 { shm.fd } else { disk.fd };
                                    write_iocb(fd, b, (n % 256 * 4096) as i64, n)
                                }
                            })
                            .collect();
                        for (i, io) in ios.iter().enumerate() {
                            let poll = io.aio_lio_opcode == IO_CMD_POLL as i16;
                            expected[first + i]
                                .store(if poll { NEVER } else { 4096 }, Ordering::Relaxed);
                        }
                        let ret = submit(lib, ctx, &mut pointers(&mut ios));
                        if ret == EINVAL {
                            break;
                        }
                        if ret == EAGAIN {
                            std::thread::yield_now();
                            continue;
                        }
                        assert!(ret > 0, "io_submit: {ret}");
                        for flag in &submitted[first..first + ret as usize] {
                            flag.store(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            for t in 0..2 {
                let (delivered, results) = (&delivered, &results);
                s.spawn(move || {
                    let ctx: io_context_t = without_provenance_mut(raw);
                    let mut events = [zeroed_event(); 32];
                    loop {
                        let timeout = (t == 1).then(|| Duration::from_secs(5));
                        let ret = getevents(lib, ctx, 1, &mut events, timeout);
                        if ret == EINVAL {
                            break;
                        }
                        assert!(ret > 0, "io_getevents: {ret}");
                        for event in &events[..ret as usize] {
                            let n = delivered.record(event);
                            results[n].store(res(event), Ordering::Relaxed);
                        }
                    }
                });
            }
            // The destroyer.
            std::thread::sleep(Duration::from_micros((round as u64 * 7919) % 15_000));
            // SAFETY: the other threads only call io_submit and blocking
            // io_getevents on it, which our library passes to the kernel
            // (EINVAL once destroyed) without reading the ring.
            assert_eq!(unsafe { (lib.io_destroy)(ctx) }, 0);
            destroyed.store(true, Ordering::Release);
        });
        for (n, flag) in submitted.iter().enumerate() {
            let (sub, got) = (flag.load(Ordering::Relaxed), delivered.count(n));
            assert!(got <= 1, "round {round}: request {n} delivered {got} times");
            assert!(
                got == 0 || sub == 1,
                "round {round}: request {n} delivered, never submitted"
            );
            let (want, res) = (
                expected[n].load(Ordering::Relaxed),
                results[n].load(Ordering::Relaxed),
            );
            assert!(
                got == 0 || res == want,
                "round {round}: request {n} gave {res}, not {want}"
            );
            totals[0] += sub as usize;
            totals[1] += got as usize;
        }
    }
    println!(
        "{ROUNDS} rounds: {} requests submitted, {} completions delivered before io_destroy, \
         none twice",
        totals[0], totals[1]
    );
}

// ----------------------------------------------------------------- io_cancel

#[test]
fn io_cancel_racing_with_completion() {
    let _pool = pool_shared();
    const ROUNDS: usize = 150;
    const POLLS: usize = 64;
    let results = both().map(|lib| {
        let pipes: Vec<Pipe> = (0..POLLS).map(|_| Pipe::new(libc::O_NONBLOCK)).collect();
        let ctx = Ctx::new(lib, POLLS as c_int);
        let ledger = Ledger::new(ROUNDS * POLLS);
        // (io_cancel's result, the completion's res) -> how often.
        let mut tally: BTreeMap<(c_int, i64), usize> = BTreeMap::new();
        for round in 0..ROUNDS {
            let mut ios: Vec<iocb> = pipes
                .iter()
                .enumerate()
                .map(|(i, p)| poll_iocb(p.read, round * POLLS + i))
                .collect();
            let mut list = pointers(&mut ios);
            assert_eq!(submit(lib, ctx.ctx, &mut list), POLLS as c_int);
            let barrier = Barrier::new(2);
            let cancels: Vec<c_int> = std::thread::scope(|s| {
                let (pipes, barrier) = (&pipes, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    // Alternately in the canceller's order and against it.
                    if round % 2 == 0 {
                        pipes.iter().for_each(Pipe::ring);
                    } else {
                        pipes.iter().rev().for_each(Pipe::ring);
                    }
                });
                barrier.wait();
                list.iter()
                    .map(|&io| {
                        let mut event = zeroed_event();
                        // SAFETY: io was submitted on ctx; event has room.
                        keeps_errno("io_cancel", || unsafe {
                            (lib.io_cancel)(ctx.ctx, io, &mut event)
                        })
                    })
                    .collect()
            });
            for event in reap(lib, ctx.ctx, POLLS) {
                let n = ledger.record(&event);
                let cancel = cancels[n - round * POLLS];
                let r = res(&event);
                assert!(
                    [EINPROGRESS, EINVAL].contains(&cancel),
                    "io_cancel: {cancel}"
                );
                assert!([0, POLLIN, POLLIN_RDNORM].contains(&r), "res {r}");
                // A cancel that found nothing to cancel came after the
                // completion: the poll saw the pipe readable.
                assert!(cancel == EINPROGRESS || r != 0, "cancel {cancel}, res {r}");
                *tally.entry((cancel, r)).or_default() += 1;
            }
            assert_nothing_more(lib, ctx.ctx);
            pipes.iter().for_each(Pipe::drain);
        }
        ledger.assert_exactly_once(0..ROUNDS * POLLS, "polls raced by io_cancel");
        tally
    });
    println!(
        "(io_cancel, res) -> count, ours: {:?}, system: {:?}",
        results[0], results[1]
    );
}

// ------------------------------------------------------------------- signals

static HANDLED: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

fn rt(k: c_int) -> c_int {
    libc::SIGRTMIN() + k
}

extern "C" fn count_signal(signal: c_int) {
    HANDLED[(signal - libc::SIGRTMIN()) as usize].fetch_add(1, Ordering::SeqCst);
}

fn handled(signal: c_int) -> usize {
    HANDLED[(signal - libc::SIGRTMIN()) as usize].load(Ordering::SeqCst)
}

/// Installs the counting handler for `signal`, with or without SA_RESTART.
/// Each test uses its own signals.
fn install_handler(signal: c_int, restart: bool) {
    // SAFETY: a zeroed sigaction with a handler that only counts.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as *const () as usize;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        assert_eq!(libc::sigaction(signal, &action, null_mut()), 0);
    }
}

fn sigset(signals: &[c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset makes a valid set of the zeroed one.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks `signals` on the calling thread.
fn block(signals: &[c_int]) {
    let set = sigset(signals);
    // SAFETY: changes this thread's mask.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, null_mut()) };
    assert_eq!(ret, 0);
}

/// Whether `signal` is pending for the calling thread (and, if so, takes
/// it).
fn take_pending(signal: c_int) -> bool {
    let set = sigset(&[signal]);
    let zero = timespec(Duration::ZERO);
    // SAFETY: our set and timeout; null info.
    unsafe { libc::sigtimedwait(&set, null_mut(), &zero) == signal }
}

/// io_getevents on an empty context, waiting without limit or for 30 s,
/// interrupted by a signal whose handler has SA_RESTART or not: EINTR every
/// time (the kernel never restarts io_getevents, whatever SA_RESTART says).
/// Then a call asking for two completions while one is in the ring (since
/// Linux 6.8 the kernel does not even wake a waiter for fewer than its
/// min_nr): the signal wakes it, and it returns that one, not EINTR.
#[test]
fn io_getevents_interrupted_by_signals_with_and_without_sa_restart() {
    let _pool = pool_shared();
    let (plain, restart) = (rt(1), rt(2));
    install_handler(plain, false);
    install_handler(restart, true);
    let results = both().map(|lib| {
        let mut results = Vec::new();
        for signal in [plain, restart] {
            for timeout in [None, Some(Duration::from_secs(30))] {
                let ctx = Ctx::new(lib, 4);
                let raw = ctx.ctx as usize;
                let before = handled(signal);
                let waiter = spawn_waiter(move || {
                    let mut events = [zeroed_event(); 1];
                    getevents(lib, without_provenance_mut(raw), 1, &mut events, timeout)
                });
                wait_until_blocked(waiter.tid, IO_GETEVENTS);
                waiter.kill(signal);
                results.push((waiter.join(), handled(signal) - before));
            }
            // One of two completions taken, then the signal.
            let (a, b) = (Pipe::new(libc::O_NONBLOCK), Pipe::new(libc::O_NONBLOCK));
            let ctx = Ctx::new(lib, 4);
            let mut ios = [poll_iocb(a.read, 0), poll_iocb(b.read, 1)];
            ctx.submit(&mut pointers(&mut ios));
            let raw = ctx.ctx as usize;
            let waiter = spawn_waiter(move || {
                let mut events = [zeroed_event(); 2];
                let ret = getevents(lib, without_provenance_mut(raw), 2, &mut events, None);
                (ret, events[0].data as usize)
            });
            wait_until_blocked(waiter.tid, IO_GETEVENTS);
            a.ring();
            wait_for("the first completion", || waiting(ctx.ctx) == 1);
            std::thread::sleep(Duration::from_millis(20));
            assert!(blocked_in(waiter.tid, IO_GETEVENTS));
            waiter.kill(signal);
            let (ret, data) = waiter.join();
            results.push((ret, data));
            b.ring();
            let rest = ctx.reap(2 - ret.max(0) as usize);
            assert_eq!(rest.iter().map(number).collect::<Vec<_>>(), [1]);
        }
        results
    });
    println!("(result, handler runs): {:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    let one = (EINTR, 1);
    assert_eq!(results[0], [one, one, (1, 1), one, one, (1, 1)]);
}

#[derive(Debug, PartialEq)]
struct MaskResults {
    /// A blocked signal arrives first, then one the mask lets through.
    blocked_then_allowed: (c_int, usize, usize, bool),
    /// A signal pending (blocked) before the call, which the mask unblocks.
    pending_before: (c_int, usize, bool),
    /// The same with a zero timeout and nothing to reap.
    pending_zero_timeout: (c_int, usize, bool),
    /// The mask blocks the signal: the call times out.
    blocked_by_the_mask: (c_int, usize, bool),
    /// A handler with SA_RESTART, let through by the mask.
    with_sa_restart: (c_int, usize),
}

fn pgetevents_with_masks(lib: &'static Aio) -> MaskResults {
    let (a, b, c) = (rt(3), rt(4), rt(5));
    let pgetevents = move |raw: usize, mask: &[c_int], timeout: Option<Duration>| -> c_int {
        let mut events = [zeroed_event(); 1];
        let mut ts = timeout.map(timespec);
        let tp = ts.as_mut().map_or(null_mut(), |t| t as *mut libc::timespec);
        let mut set = sigset(mask);
        // SAFETY: room for one event; the timeout and mask are ours.
        keeps_errno("io_pgetevents", || unsafe {
            (lib.io_pgetevents)(
                without_provenance_mut(raw),
                1,
                1,
                events.as_mut_ptr(),
                tp,
                &mut set,
            )
        })
    };
    let ctx = Ctx::new(lib, 4);
    let raw = ctx.ctx as usize;

    // a and b are blocked on the waiting thread; its mask lets a through.
    let (a0, b0) = (handled(a), handled(b));
    let waiter = spawn_waiter(move || {
        block(&[a, b]);
        let ret = pgetevents(raw, &[b], None);
        (ret, take_pending(b))
    });
    wait_until_blocked(waiter.tid, IO_PGETEVENTS);
    waiter.kill(b);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        blocked_in(waiter.tid, IO_PGETEVENTS),
        "b must not interrupt"
    );
    waiter.kill(a);
    let (ret, b_pending) = waiter.join();
    let blocked_then_allowed = (ret, handled(a) - a0, handled(b) - b0, b_pending);

    // a is pending before the call: it interrupts the wait at once.
    let a0 = handled(a);
    let start = Instant::now();
    let ret = std::thread::spawn(move || {
        block(&[a]);
        // SAFETY: sending a signal to the calling thread.
        unsafe { libc::pthread_kill(libc::pthread_self(), a) };
        pgetevents(raw, &[], Some(Duration::from_secs(20)))
    })
    .join()
    .unwrap();
    let pending_before = (
        ret,
        handled(a) - a0,
        start.elapsed() < Duration::from_secs(10),
    );

    // With a zero timeout and an empty ring, both libraries answer without
    // the call: the signal stays pending.
    let a0 = handled(a);
    let (ret, still_pending) = std::thread::spawn(move || {
        block(&[a]);
        // SAFETY: as above.
        unsafe { libc::pthread_kill(libc::pthread_self(), a) };
        let ret = pgetevents(raw, &[], Some(Duration::ZERO));
        (ret, take_pending(a))
    })
    .join()
    .unwrap();
    let pending_zero_timeout = (ret, handled(a) - a0, still_pending);

    // The mask blocks a: the call waits out its timeout.
    let a0 = handled(a);
    let waiter = spawn_waiter(move || {
        block(&[a]);
        let ret = pgetevents(raw, &[a, b], Some(Duration::from_millis(300)));
        (ret, take_pending(a))
    });
    wait_until_blocked(waiter.tid, IO_PGETEVENTS);
    waiter.kill(a);
    let (ret, pending) = waiter.join();
    let blocked_by_the_mask = (ret, handled(a) - a0, pending);

    // SA_RESTART does not restart it either.
    let c0 = handled(c);
    let waiter = spawn_waiter(move || {
        block(&[c]);
        pgetevents(raw, &[], None)
    });
    wait_until_blocked(waiter.tid, IO_PGETEVENTS);
    waiter.kill(c);
    let with_sa_restart = (waiter.join(), handled(c) - c0);
    MaskResults {
        blocked_then_allowed,
        pending_before,
        pending_zero_timeout,
        blocked_by_the_mask,
        with_sa_restart,
    }
}

#[test]
fn io_pgetevents_is_interrupted_only_by_signals_its_mask_lets_through() {
    let _pool = pool_shared();
    install_handler(rt(3), false);
    install_handler(rt(4), false);
    install_handler(rt(5), true);
    let results = both().map(pgetevents_with_masks);
    println!("{:?}", results[0]);
    assert_eq!(results[0], results[1], "ours vs system");
    assert_eq!(
        results[0],
        MaskResults {
            blocked_then_allowed: (EINTR, 1, 0, true),
            pending_before: (EINTR, 1, true),
            pending_zero_timeout: (0, 0, true),
            blocked_by_the_mask: (0, 0, true),
            with_sa_restart: (EINTR, 1),
        }
    );
}

// ---------------------------------------------------------------------- fork

/// One page shared with a forked child, for its results.
struct SharedPage(*mut c_int);

impl SharedPage {
    fn new() -> SharedPage {
        // SAFETY: a fresh shared anonymous mapping.
        let p = unsafe {
            libc::mmap(
                null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        SharedPage(p.cast())
    }

    fn get(&self, n: usize) -> c_int {
        assert!(n < 1024);
        // SAFETY: within the page; written by the child, which has exited.
        unsafe { self.0.add(n).read_volatile() }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new().
        unsafe { libc::munmap(self.0.cast(), 4096) };
    }
}

/// Forks; the child runs `child` (which must not allocate, lock or panic:
/// other threads of this process may hold locks) with the shared page, then
/// exits. Returns the child's results.
fn fork_and_run(child: impl FnOnce(*mut c_int)) -> SharedPage {
    let page = SharedPage::new();
    let out = page.0;
    // SAFETY: the child only makes system calls and library calls that make
    // system calls (and our library's fork handler, plain atomic stores
    // already run), writes to the shared page and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        child(out);
        // SAFETY: leaves the child without running the parent's exit code.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed: status {status:#x}"
    );
    page
}

#[derive(Debug, PartialEq)]
struct ForkResults {
    /// In the child, on the parent's context: io_getevents (zero timeout,
    /// 10 ms), io_pgetevents, io_submit, io_cancel, io_destroy.
    child_on_parents: [c_int; 6],
    /// In the child, on a context of its own: io_setup, io_submit,
    /// io_getevents, the event's res and data, io_destroy.
    child_on_its_own: [c_int; 6],
    /// In the child, zero-timeout io_getevents on the parent's context while
    /// its ring is empty, then with a 10 ms timeout.
    child_on_parents_empty_ring: [c_int; 2],
}

fn fork_with_io_in_flight(lib: &'static Aio, file: &ScratchFile) -> ForkResults {
    const WRITES: usize = 16;
    const POLLS: usize = 4;
    const SIZE: usize = 64 << 10;
    let ctx = Ctx::new(lib, 64);
    let pipe = Pipe::new(libc::O_NONBLOCK);
    let mut bufs: Vec<AlignedBuf> = (0..WRITES)
        .map(|i| AlignedBuf::new(SIZE, i as u8 + 0x60))
        .collect();
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| write_iocb(file.fd, b, (i * SIZE) as i64, i))
        .collect();
    ios.extend((0..POLLS).map(|i| poll_iocb(pipe.read, WRITES + i)));
    let total = ios.len();
    let mut list = pointers(&mut ios);
    let mut child_buf = AlignedBuf::new(4096, 0xc5);
    let child_offset = (WRITES * SIZE) as i64;
    let mut child_io = write_iocb(file.fd, &mut child_buf, child_offset, 1000);
    let child_ptr: *mut iocb = &mut child_io;
    let poll_ptr = list[WRITES];

    // With the writes' completions waiting in the ring and the polls
    // pending, the child tries the parent's context, then its own.
    ctx.submit(&mut list);
    wait_for("the writes to complete", || {
        waiting(ctx.ctx) == WRITES as u32
    });
    let raw = ctx.ctx;
    let page = fork_and_run(|out| {
        let mut events = [zeroed_event(); 4];
        let ev = events.as_mut_ptr();
        let mut zero = timespec(Duration::ZERO);
        let mut short = timespec(Duration::from_millis(10));
        let mut one = child_ptr;
        // SAFETY: every pointer is valid in the child (a copy of the
        // parent's memory); the kernel refuses the parent's context.
        unsafe {
            let results = [
                (lib.io_getevents)(raw, 1, 4, ev, &mut zero),
                (lib.io_getevents)(raw, 1, 4, ev, &mut short),
                (lib.io_pgetevents)(raw, 1, 4, ev, &mut short, null_mut()),
                (lib.io_submit)(raw, 1, &mut one),
                (lib.io_cancel)(raw, poll_ptr, ev),
                (lib.io_destroy)(raw),
            ];
            for (i, r) in results.into_iter().enumerate() {
                out.add(i).write_volatile(r);
            }
            let mut own = null_mut();
            let mut second = timespec(Duration::from_secs(5));
            let setup = (lib.io_setup)(4, &mut own);
            let submitted = (lib.io_submit)(own, 1, &mut one);
            let got = (lib.io_getevents)(own, 1, 1, ev, &mut second);
            let results = [
                setup,
                submitted,
                got,
                events[0].res as c_int,
                events[0].data as usize as c_int,
                (lib.io_destroy)(own),
            ];
            for (i, r) in results.into_iter().enumerate() {
                out.add(6 + i).write_volatile(r);
            }
        }
    });
    let child_on_parents = std::array::from_fn(|i| page.get(i));
    let child_on_its_own = std::array::from_fn(|i| page.get(6 + i));

    // The parent still has everything: the writes' completions, and the
    // polls, which complete now.
    let ledger = Ledger::new(total);
    for event in reap(lib, ctx.ctx, WRITES) {
        assert_eq!(res(&event), SIZE as i64);
        ledger.record(&event);
    }
    // Fork again, the ring empty and the polls still pending.
    let page = fork_and_run(|out| {
        let mut events = [zeroed_event(); 4];
        let mut zero = timespec(Duration::ZERO);
        let mut short = timespec(Duration::from_millis(10));
        // SAFETY: as above.
        unsafe {
            out.write_volatile((lib.io_getevents)(
                raw,
                1,
                4,
                events.as_mut_ptr(),
                &mut zero,
            ));
            out.add(1).write_volatile((lib.io_getevents)(
                raw,
                1,
                4,
                events.as_mut_ptr(),
                &mut short,
            ));
        }
    });
    let child_on_parents_empty_ring = [page.get(0), page.get(1)];
    pipe.ring();
    for event in reap(lib, ctx.ctx, POLLS) {
        assert_eq!(res(&event), POLLIN_RDNORM);
        ledger.record(&event);
    }
    ledger.assert_exactly_once(0..total, "the parent's requests");
    assert_nothing_more(lib, ctx.ctx);
    let data = read_back(file.fd, 0, WRITES * SIZE + 4096);
    for (i, chunk) in data.chunks(SIZE).enumerate() {
        let want = if i < WRITES { i as u8 + 0x60 } else { 0xc5 };
        assert!(
            chunk.iter().all(|&b| b == want),
            "{:?}: block {i}",
            lib.which
        );
    }
    ForkResults {
        child_on_parents,
        child_on_its_own,
        child_on_parents_empty_ring,
    }
}

#[test]
fn fork_with_io_in_flight_leaves_the_context_to_the_parent() {
    let _pool = pool_shared();
    let file = ScratchFile::new(Fs::Disk, "fork", 2 << 20, 0);
    let results = both().map(|lib| fork_with_io_in_flight(lib, &file));
    println!("ours:   {:?}\nsystem: {:?}", results[0], results[1]);
    let expected = ForkResults {
        child_on_parents: [EINVAL; 6],
        child_on_its_own: [0, 1, 1, 4096, 1001, 0],
        // The documented difference (README): libaio reads the parent's
        // ring, still mapped in the child, and answers 0 when it is empty;
        // ours leaves the unknown context to the kernel.
        child_on_parents_empty_ring: [EINVAL, EINVAL],
    };
    assert_eq!(results[0], expected, "ours");
    assert_eq!(
        results[1],
        ForkResults {
            child_on_parents_empty_ring: [0, EINVAL],
            ..expected
        },
        "system"
    );
}

// --------------------------------------- the io_uring backend (issue 13)

#[path = "faults/io_uring.rs"]
mod io_uring;
