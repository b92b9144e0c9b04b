//! The opt-in user-space reaping mode (`LIBAIO_USERSPACE_REAP=1`): it must
//! skip the system call when the ring already holds what was asked for, make
//! it otherwise, never lose or duplicate a completion when many threads reap
//! one context, and stay correct after fork and after the ring is mremapped.
//! Any other value of the variable, or none, and set-user-ID programs, keep
//! libaio's behaviour.
//!
//! The library reads the variable once, so this test runs its cases in child
//! processes of its own binary, each started with the environment it needs
//! (`harness = false`: `main` dispatches).

mod common;

use aio_rs::abi::io_iocb_cmd::IO_CMD_PREAD;
use common::*;
use std::ffi::{c_int, c_long};
use std::process::Command;
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The variable under test.
const VAR: &str = "LIBAIO_USERSPACE_REAP";
/// Names the case a child process runs.
const CASE: &str = "LIBAIO_RS_REAP_CASE";

type Case = fn();

/// The cases, each with the value of the variable it runs under.
const CASES: &[(&str, Option<&str>, Case)] = &[
    (
        "reaps_from_the_ring_without_a_system_call",
        Some("1"),
        reaps_from_the_ring_without_a_system_call,
    ),
    (
        "makes_the_call_when_the_ring_holds_too_few",
        Some("1"),
        makes_the_call_when_the_ring_holds_too_few,
    ),
    (
        "io_queue_run_makes_no_system_call",
        Some("1"),
        io_queue_run_makes_no_system_call,
    ),
    (
        "threads_sharing_a_context_reap_each_completion_once",
        Some("1"),
        threads_sharing_a_context_reap_each_completion_once,
    ),
    (
        "a_forked_child_does_not_reap_the_parents_ring",
        Some("1"),
        a_forked_child_does_not_reap_the_parents_ring,
    ),
    (
        "a_moved_ring_is_reaped_by_the_kernel",
        Some("1"),
        a_moved_ring_is_reaped_by_the_kernel,
    ),
    (
        "the_variable_is_read_once_at_load",
        None,
        the_variable_is_read_once_at_load,
    ),
    (
        "unset_keeps_libaio_behaviour",
        None,
        other_values_keep_libaio_behaviour,
    ),
    (
        "zero_keeps_libaio_behaviour",
        Some("0"),
        other_values_keep_libaio_behaviour,
    ),
    (
        "yes_keeps_libaio_behaviour",
        Some("yes"),
        other_values_keep_libaio_behaviour,
    ),
    (
        "one_with_space_keeps_libaio_behaviour",
        Some("1 "),
        other_values_keep_libaio_behaviour,
    ),
    (
        "system_libaio_ignores_the_variable",
        Some("1"),
        system_libaio_ignores_the_variable,
    ),
];

/// Whether the library has the mode on this architecture (x86_64 only: its
/// copy out of the ring is an x86_64 restartable sequence). Elsewhere the
/// variable is ignored, which the cases expecting no system call check
/// instead.
const HAS_MODE: bool = cfg!(all(target_arch = "x86_64", target_pointer_width = "64"));

/// The cases that expect the mode to skip the system call.
const SKIPS_THE_CALL: &[&str] = &[
    "reaps_from_the_ring_without_a_system_call",
    "io_queue_run_makes_no_system_call",
];

fn main() {
    if let Ok(name) = std::env::var(CASE) {
        let (_, _, case) = CASES
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("known case");
        if !HAS_MODE && SKIPS_THE_CALL.contains(&name.as_str()) {
            println!("no user-space reaping on this architecture: the variable is ignored");
            other_values_keep_libaio_behaviour();
            return;
        }
        case();
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = Vec::new();
    let mut passed = 0;
    for &(name, value, _) in CASES {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.env(CASE, name).env_remove(VAR);
        if let Some(value) = value {
            child.env(VAR, value);
        }
        let out = run_with_time_limit(&mut child, hang_limit(std::time::Duration::from_secs(60)));
        if out.status.success() {
            println!("test {name} ... ok");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                println!("    {line}");
            }
            passed += 1;
        } else {
            println!("test {name} ... FAILED ({})", out.status);
            print!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            failed.push(name);
        }
    }
    if let Err(message) = set_user_id_programs_ignore_the_variable() {
        println!("test set_user_id_programs_ignore_the_variable ... FAILED\n{message}");
        failed.push("set_user_id_programs_ignore_the_variable");
    } else {
        println!("test set_user_id_programs_ignore_the_variable ... ok");
        passed += 1;
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    std::process::exit(if failed.is_empty() { 0 } else { 101 });
}

// ------------------------------------------------------------------ helpers

fn ring_word(ctx: io_context_t, index: usize) -> u32 {
    // SAFETY: a live context is its mapped ring, whose header has 8 u32s.
    unsafe { ctx.cast::<u32>().add(index).read_volatile() }
}

/// Completions waiting in the ring.
fn waiting(ctx: io_context_t) -> u32 {
    let (nr, head, tail) = (ring_word(ctx, 1), ring_word(ctx, 2), ring_word(ctx, 3));
    (tail + nr - head) % nr
}

/// Submits `n` 4 KiB reads of `file`, each with `data` = its index, and
/// waits until all are in the ring.
fn submit_reads(ctx: &Ctx, file: &ScratchFile, bufs: &mut [AlignedBuf], ios: &mut Vec<iocb>) {
    ios.clear();
    for (i, buf) in bufs.iter_mut().enumerate() {
        let mut io = rw_iocb(IO_CMD_PREAD, file.fd, buf, 0);
        io.data = without_provenance_mut(i + 1);
        ios.push(io);
    }
    let mut list: Vec<*mut iocb> = ios.iter_mut().map(|io| io as *mut iocb).collect();
    ctx.submit(&mut list);
    while (waiting(ctx.ctx) as usize) < list.len() {
        std::thread::yield_now();
    }
}

fn getevents(
    lib: &Aio,
    ctx: io_context_t,
    min: c_long,
    max: usize,
    events: &mut [io_event],
) -> c_int {
    assert!(events.len() >= max);
    let mut timeout = libc::timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    // SAFETY: room for `max` events.
    keeps_errno("io_getevents", || unsafe {
        (lib.io_getevents)(ctx, min, max as c_long, events.as_mut_ptr(), &mut timeout)
    })
}

// -------------------------------------------------------------------- cases

fn reaps_from_the_ring_without_a_system_call() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "reap", 4096, 0);
    let ctx = Ctx::new(lib, 64);
    let mut bufs: Vec<AlignedBuf> = (0..8).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let raw = ctx.ctx as usize;
    let (first, second, third) = without_reaping_calls(|| {
        let ctx: io_context_t = without_provenance_mut(raw);
        let mut events = [zeroed_event(); 8];
        let first = getevents(lib, ctx, 3, 3, &mut events);
        let mut sigmask: libc::sigset_t = unsafe_zeroed_sigset();
        // SAFETY: room for 8 events; the mask is ours.
        let second = unsafe {
            (lib.io_pgetevents)(ctx, 1, 2, events.as_mut_ptr(), null_mut(), &mut sigmask)
        };
        let third = getevents(lib, ctx, 1, 8, &mut events);
        (first, second, third)
    });
    assert_eq!((first, second, third), (3, 2, 3), "all from the ring");
    assert_eq!(waiting(ctx.ctx), 0);
}

/// The variable is read when the library is loaded: set afterwards (as a
/// program's own setenv, in any thread, would), it changes nothing.
fn the_variable_is_read_once_at_load() {
    let lib = ours(); // loaded now, without the variable
    // SAFETY: no other thread of this process reads or writes the
    // environment meanwhile.
    unsafe { std::env::set_var(VAR, "1") };
    let file = ScratchFile::new(Fs::Shm, "at-load", 4096, 0);
    let ctx = Ctx::new(lib, 64);
    let mut bufs: Vec<AlignedBuf> = (0..2).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let raw = ctx.ctx as usize;
    let got = without_reaping_calls(|| {
        let mut events = [zeroed_event(); 2];
        getevents(lib, without_provenance_mut(raw), 1, 2, &mut events)
    });
    assert_eq!(
        got, FILTERED,
        "completions in the ring, yet the call was made"
    );
    assert_eq!(waiting(ctx.ctx), 2);
}

fn unsafe_zeroed_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset makes it a valid empty set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

fn makes_the_call_when_the_ring_holds_too_few() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "few", 4096, 0);
    let ctx = Ctx::new(lib, 64);
    let mut bufs: Vec<AlignedBuf> = (0..2).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let raw = ctx.ctx as usize;
    let got = without_reaping_calls(|| {
        let ctx: io_context_t = without_provenance_mut(raw);
        let mut events = [zeroed_event(); 8];
        [
            getevents(lib, ctx, 3, 8, &mut events), // 2 waiting < 3: the call
            getevents(lib, ctx, -1, 8, &mut events), // the kernel's EINVAL
            getevents(lib, ctx, 4, 2, &mut events), // min > nr: the kernel's EINVAL
        ]
    });
    assert_eq!(got, [FILTERED; 3]);
    assert_eq!(waiting(ctx.ctx), 2, "nothing was taken");
    // With the kernel reachable, the call returns both.
    let mut events = [zeroed_event(); 8];
    assert_eq!(getevents(lib, ctx.ctx, 2, 8, &mut events), 2);
    // An empty ring with a timeout goes to the kernel too (no busy polling).
    let got = without_reaping_calls(|| {
        let mut events = [zeroed_event(); 1];
        getevents(lib, without_provenance_mut(raw), 1, 1, &mut events)
    });
    assert_eq!(got, FILTERED);
}

static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count(_: io_context_t, _: *mut iocb, res: c_long, _: c_long) {
    assert_eq!(res, 4096);
    CALLBACKS.fetch_add(1, Ordering::Relaxed);
}

fn io_queue_run_makes_no_system_call() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "queue-run", 4096, 0);
    let ctx = Ctx::new(lib, 128);
    let mut bufs: Vec<AlignedBuf> = (0..100).map(|_| AlignedBuf::new(4096, 0)).collect();
    let callback = count as unsafe extern "C" fn(io_context_t, *mut iocb, c_long, c_long);
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .map(|b| {
            let mut io = rw_iocb(IO_CMD_PREAD, file.fd, b, 0);
            io.data = callback as *mut std::ffi::c_void;
            io
        })
        .collect();
    let mut list: Vec<*mut iocb> = ios.iter_mut().map(|io| io as *mut iocb).collect();
    ctx.submit(&mut list);
    while waiting(ctx.ctx) < 100 {
        std::thread::yield_now();
    }
    let raw = ctx.ctx as usize;
    let run = lib.io_queue_run;
    // SAFETY: every completion's data is `count`.
    let ret = without_reaping_calls(|| unsafe { run(without_provenance_mut(raw)) });
    assert_eq!(ret, 0);
    assert_eq!(CALLBACKS.load(Ordering::Relaxed), 100);
}

/// Two threads keep one context busy with reads while three others reap
/// them concurrently with varied min_nr and nr, mostly from the ring, some
/// through io_pgetevents waiting in the kernel: every iocb must complete
/// exactly once.
fn threads_sharing_a_context_reap_each_completion_once() {
    const SUBMITTERS: usize = 2;
    const REAPERS: usize = 3;
    const PER_SUBMITTER: usize = 100_000;
    const BURST: usize = 16;
    /// Most requests in flight at once.
    const LIMIT: usize = 128;
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "stress", 64 * 4096, 0);
    let ctx = Ctx::new(lib, LIMIT as c_int);
    let total = SUBMITTERS * PER_SUBMITTER;
    let seen: Vec<AtomicU8> = (0..total).map(|_| AtomicU8::new(0)).collect();
    let submitted = AtomicUsize::new(0);
    let reaped = AtomicUsize::new(0);
    let reaps_from_ring = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..SUBMITTERS {
            let (ctx, file, submitted, reaped) = (&ctx, &file, &submitted, &reaped);
            s.spawn(move || {
                let mut bufs: Vec<AlignedBuf> =
                    (0..BURST).map(|_| AlignedBuf::new(4096, 0)).collect();
                // The kernel copies an iocb when it is submitted, so the
                // structures can be reused while their requests are in
                // flight; events name requests by `data`.
                let mut ios: Vec<iocb> = bufs
                    .iter_mut()
                    .enumerate()
                    .map(|(i, b)| rw_iocb(IO_CMD_PREAD, file.fd, b, (i * 4096) as i64))
                    .collect();
                let mut next = 0;
                while next < PER_SUBMITTER {
                    let in_flight = submitted
                        .load(Ordering::Acquire)
                        .saturating_sub(reaped.load(Ordering::Acquire));
                    let burst = BURST.min(PER_SUBMITTER - next);
                    if in_flight + burst > LIMIT {
                        std::thread::yield_now();
                        continue;
                    }
                    let mut list = Vec::with_capacity(burst);
                    for (i, io) in ios.iter_mut().take(burst).enumerate() {
                        io.data = without_provenance_mut(t * PER_SUBMITTER + next + i + 1);
                        list.push(io as *mut iocb);
                    }
                    submitted.fetch_add(burst, Ordering::AcqRel);
                    // SAFETY: the buffers outlive the requests (the scope
                    // waits until every completion is reaped).
                    let queued =
                        unsafe { (lib.io_submit)(ctx.ctx, burst as c_long, list.as_mut_ptr()) };
                    let queued = queued.max(0) as usize;
                    submitted.fetch_sub(burst - queued, Ordering::AcqRel);
                    next += queued;
                }
            });
        }
        for r in 0..REAPERS {
            let (ctx, seen, reaped, reaps_from_ring) = (&ctx, &seen, &reaped, &reaps_from_ring);
            s.spawn(move || {
                let mut events = [zeroed_event(); 16];
                let mut rng = 0x2545_f491_4f6c_dd1du64 ^ (r as u64 + 1);
                while reaped.load(Ordering::Acquire) < total {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let in_kernel = rng % 8 == 0;
                    let max = if in_kernel {
                        16
                    } else {
                        1 + (rng >> 8) as usize % 16
                    };
                    let min = if in_kernel {
                        16
                    } else {
                        (rng >> 16) as usize % 5
                    }
                    .min(max);
                    let mut short = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 200_000,
                    };
                    let before = waiting(ctx.ctx) as usize;
                    // SAFETY: room for `max` events.
                    let n = unsafe {
                        if in_kernel {
                            (lib.io_pgetevents)(
                                ctx.ctx,
                                min as c_long,
                                max as c_long,
                                events.as_mut_ptr(),
                                &mut short,
                                null_mut(),
                            )
                        } else {
                            (lib.io_getevents)(
                                ctx.ctx,
                                min as c_long,
                                max as c_long,
                                events.as_mut_ptr(),
                                &mut short,
                            )
                        }
                    };
                    assert!(n >= 0, "reap: {n}");
                    if n > 0 && before >= min.max(1) {
                        reaps_from_ring.fetch_add(1, Ordering::Relaxed);
                    }
                    for event in &events[..n as usize] {
                        assert_eq!(event.res, 4096);
                        seen[event.data as usize - 1].fetch_add(1, Ordering::Relaxed);
                    }
                    reaped.fetch_add(n as usize, Ordering::AcqRel);
                }
            });
        }
    });
    let counts: Vec<u8> = seen.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let lost = counts.iter().filter(|&&c| c == 0).count();
    let twice = counts.iter().filter(|&&c| c > 1).count();
    assert_eq!(
        (lost, twice),
        (0, 0),
        "of {total} iocbs: {lost} never completed, {twice} completed more than once"
    );
    assert_eq!(reaped.load(Ordering::Relaxed), total);
    println!(
        "{total} iocbs, each reaped exactly once by {REAPERS} threads while {SUBMITTERS} submitted \
         ({} reaps found enough completions waiting)",
        reaps_from_ring.load(Ordering::Relaxed)
    );
}

/// After fork the child keeps the parent's ring mapped, but the context is
/// not the child's: it must get the kernel's EINVAL, not the parent's
/// completions.
fn a_forked_child_does_not_reap_the_parents_ring() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "fork", 4096, 0);
    let ctx = Ctx::new(lib, 16);
    let mut bufs: Vec<AlignedBuf> = (0..4).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let getevents_fn = lib.io_getevents;
    // SAFETY: the child only calls the library and _exit (async-signal-safe).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut events = [zeroed_event(); 4];
        let mut zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: room for 4 events.
        let ret = unsafe { getevents_fn(ctx.ctx, 1, 4, events.as_mut_ptr(), &mut zero) };
        // SAFETY: as above.
        unsafe { libc::_exit(if ret == -libc::EINVAL { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child did not get EINVAL"
    );
    assert_eq!(
        waiting(ctx.ctx),
        4,
        "the parent's completions are all still there"
    );
    let mut events = [zeroed_event(); 4];
    assert_eq!(getevents(lib, ctx.ctx, 4, 4, &mut events), 4);
}

/// libaio's test 19 moves the ring with mremap and uses the new address;
/// the library does not know that address, so it leaves reaping to the kernel
/// there, and nothing is lost.
fn a_moved_ring_is_reaped_by_the_kernel() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "mremap", 4096, 0);
    let mut ctx = Ctx::new(lib, 16);
    let mut bufs: Vec<AlignedBuf> = (0..4).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let size = 32 + ring_word(ctx.ctx, 1) as usize * 32;
    let size = size.div_ceil(4096) * 4096;
    // SAFETY: reserves a free range, then moves the ring mapping onto it;
    // the kernel follows the move and accepts the new address as the
    // context. (The ring cannot grow, and only moves whole.)
    let moved = unsafe {
        let target = libc::mmap(
            null_mut(),
            size,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(target, libc::MAP_FAILED);
        libc::mremap(
            ctx.ctx.cast(),
            size,
            size,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            target,
        )
    };
    assert_ne!(
        moved,
        libc::MAP_FAILED,
        "mremap: {}",
        std::io::Error::last_os_error()
    );
    ctx.ctx = moved.cast();
    let raw = moved as usize;
    // Through the new address the library makes the call...
    let filtered = without_reaping_calls(|| {
        let mut events = [zeroed_event(); 4];
        getevents(lib, without_provenance_mut(raw), 1, 4, &mut events)
    });
    assert_eq!(filtered, FILTERED);
    // ...and the kernel delivers every completion once.
    let mut events = [zeroed_event(); 4];
    assert_eq!(getevents(lib, ctx.ctx, 4, 4, &mut events), 4);
    let mut ids: Vec<usize> = events.iter().map(|e| e.data as usize).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4]);
}

fn other_values_keep_libaio_behaviour() {
    let lib = ours();
    let file = ScratchFile::new(Fs::Shm, "off", 4096, 0);
    let ctx = Ctx::new(lib, 16);
    let mut bufs: Vec<AlignedBuf> = (0..4).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let raw = ctx.ctx as usize;
    let got = without_reaping_calls(|| {
        let mut events = [zeroed_event(); 4];
        getevents(lib, without_provenance_mut(raw), 1, 4, &mut events)
    });
    assert_eq!(got, FILTERED, "the call is made");
    assert_eq!(waiting(ctx.ctx), 4);
}

fn system_libaio_ignores_the_variable() {
    let lib = system();
    let file = ScratchFile::new(Fs::Shm, "system", 4096, 0);
    let ctx = Ctx::new(lib, 16);
    let mut bufs: Vec<AlignedBuf> = (0..2).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios = Vec::new();
    submit_reads(&ctx, &file, &mut bufs, &mut ios);
    let raw = ctx.ctx as usize;
    let got = without_reaping_calls(|| {
        let mut events = [zeroed_event(); 2];
        getevents(lib, without_provenance_mut(raw), 1, 2, &mut events)
    });
    assert_eq!(got, FILTERED);
}

/// A set-user-ID program must not be steerable through the environment:
/// secure_getenv answers NULL there. Run the "variable off" case from a
/// set-user-ID copy of this binary, started with a different real user.
fn set_user_id_programs_ignore_the_variable() -> Result<(), String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("needs root (to make a set-user-ID copy and change the real user)".into());
    }
    let dir = scratch_dir("setuid");
    // The directory must be reachable by the unprivileged real user.
    let exe = dir.join("reaping");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o4755))
        .map_err(|e| e.to_string())?;
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .env(CASE, "unset_keeps_libaio_behaviour")
        .env(VAR, "1")
        .env("LIBAIO_RS_LIBDIR", libdir()));
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
