//! Pointers the kernel accepts unaligned, given unaligned: the library must
//! read and write through them with unaligned accesses wherever it touches
//! them itself (a timeout it reads for the zero-timeout check, events it
//! copies out of its stash or, in user-space reaping mode, out of the ring,
//! an `io_context_t *` it reads and clears). A debug build of the library
//! aborts on a misaligned access through an ordinary reference, so `make
//! check` runs this test against one too (`RUST_PROFILE=dev`).
//!
//! The results are compared with the system libaio's, which reads and
//! writes these pointers with plain (on x86, unaligned-tolerant) C accesses.
//! Each case runs in a child process of its own, with or without
//! `LIBAIO_USERSPACE_REAP=1` (read at load), so that an abort is a failed
//! case, not a dead test binary (`harness = false`: `main` dispatches).

mod common;

use aio_rs::abi::io_iocb_cmd::IO_CMD_PREAD;
use common::*;
use std::ffi::{c_long, c_void};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

const CASE: &str = "LIBAIO_RS_UNALIGNED_CASE";
const VAR: &str = "LIBAIO_USERSPACE_REAP";

type Case = fn(&'static Aio) -> Vec<i64>;

/// Each case, and whether it also runs in user-space reaping mode.
const CASES: &[(&str, Case, bool)] = &[
    (
        "zero_timeout_at_an_odd_address",
        zero_timeout_at_an_odd_address,
        true,
    ),
    ("events_at_an_odd_address", events_at_an_odd_address, true),
    (
        "events_reaped_ahead_into_an_odd_address",
        events_reaped_ahead_into_an_odd_address,
        true,
    ),
    (
        "context_pointer_at_an_odd_address",
        context_pointer_at_an_odd_address,
        false,
    ),
];

fn main() {
    if let Ok(spec) = std::env::var(CASE) {
        let (name, which) = spec.split_once(':').unwrap();
        let lib = if which == "ours" { ours() } else { system() };
        let (_, case, _) = CASES.iter().find(|(n, _, _)| *n == name).unwrap();
        println!("{:?}", case(lib));
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, Vec::new());
    for &(name, _, usr) in CASES {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let run = |which: &str, mode: Option<&str>| -> Result<String, String> {
            let mut child = Command::new(std::env::current_exe().unwrap());
            child.env(CASE, format!("{name}:{which}")).env_remove(VAR);
            if let Some(mode) = mode {
                child.env(VAR, mode);
            }
            let out =
                run_with_time_limit(&mut child, hang_limit(std::time::Duration::from_secs(60)));
            let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if out.status.success() {
                Ok(stdout)
            } else {
                Err(format!(
                    "{which} {mode:?}: {}\n{stdout}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        let outcome = (|| {
            let reference = run("system", None)?;
            let mut modes = vec![None];
            if usr {
                modes.push(Some("1"));
            }
            for mode in modes {
                let ours = run("ours", mode)?;
                if ours != reference {
                    return Err(format!(
                        "ours ({VAR}={mode:?}) gave {ours}, the system libaio {reference}"
                    ));
                }
            }
            Ok(reference)
        })();
        match outcome {
            Ok(result) => {
                println!("test {name} ... ok ({result})");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    std::process::exit(if failed.is_empty() { 0 } else { 101 });
}

/// A buffer with room for `n` values of `T` at an odd address.
struct Odd {
    bytes: Vec<u8>,
}

impl Odd {
    fn new<T>(n: usize) -> Odd {
        Odd {
            bytes: vec![0; n * std::mem::size_of::<T>() + 16],
        }
    }

    fn ptr<T>(&mut self) -> *mut T {
        // One past an 8-byte boundary: misaligned for every type here.
        let base = self.bytes.as_mut_ptr();
        let offset = base.align_offset(8) + 1;
        // SAFETY: inside the buffer, which has 16 bytes of slack.
        unsafe { base.add(offset).cast() }
    }

    /// The `i`th `T`, read unaligned.
    fn get<T: Copy>(&mut self, i: usize) -> T {
        // SAFETY: inside the buffer; read unaligned.
        unsafe { self.ptr::<T>().add(i).read_unaligned() }
    }
}

/// Reads into `n` 4 KiB buffers of a file on /dev/shm (they complete inside
/// io_submit), with `data` = 1..=n, and waits until all are in the ring.
fn submit_reads(
    ctx: &Ctx,
    n: usize,
    data: impl Fn(usize) -> *mut c_void,
) -> (ScratchFile, Vec<AlignedBuf>, Vec<iocb>) {
    let file = ScratchFile::new(Fs::Shm, "unaligned", 4096, 0);
    let mut bufs: Vec<AlignedBuf> = (0..n).map(|_| AlignedBuf::new(4096, 0)).collect();
    let mut ios: Vec<iocb> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| {
            let mut io = rw_iocb(IO_CMD_PREAD, file.fd, b, 0);
            io.data = data(i);
            io
        })
        .collect();
    let mut list: Vec<*mut iocb> = ios.iter_mut().map(|io| io as *mut iocb).collect();
    ctx.submit(&mut list);
    (file, bufs, ios)
}

fn zero_timeout_at_an_odd_address(lib: &'static Aio) -> Vec<i64> {
    let ctx = Ctx::new(lib, 16);
    // A context created later, so that the polls of `ctx` are not those of
    // the most recent context (which the x86_64 entry points answer in
    // assembly) but go through the Rust path.
    let _later = Ctx::new(lib, 16);
    let mut timeout = Odd::new::<libc::timespec>(1);
    let t = timeout.ptr::<libc::timespec>();
    let mut events = [zeroed_event(); 4];
    let mut results = Vec::new();
    for _ in 0..3 {
        // SAFETY: room for 4 events; the timeout is ours (zeros).
        results.push(unsafe { (lib.io_getevents)(ctx.ctx, 0, 4, events.as_mut_ptr(), t) } as i64);
        // SAFETY: as above; no signal mask.
        let ret = unsafe {
            (lib.io_pgetevents)(ctx.ctx, 0, 4, events.as_mut_ptr(), t, std::ptr::null_mut())
        };
        results.push(ret as i64);
    }
    // With completions waiting, the same odd zero timeout.
    let (_file, _bufs, _ios) = submit_reads(&ctx, 2, |i| std::ptr::without_provenance_mut(i + 1));
    // SAFETY: as above.
    results.push(unsafe { (lib.io_getevents)(ctx.ctx, 2, 4, events.as_mut_ptr(), t) } as i64);
    results
}

fn events_at_an_odd_address(lib: &'static Aio) -> Vec<i64> {
    let ctx = Ctx::new(lib, 16);
    let (_file, _bufs, _ios) = submit_reads(&ctx, 5, |i| std::ptr::without_provenance_mut(i + 1));
    let mut events = Odd::new::<io_event>(8);
    let mut timeout = libc::timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    let mut results = Vec::new();
    for (min, max) in [(2, 3), (2, 8)] {
        // SAFETY: room for 8 events at the odd address.
        let got = unsafe {
            (lib.io_getevents)(ctx.ctx, min, max, events.ptr::<io_event>(), &mut timeout)
        };
        results.push(got as i64);
        for i in 0..got.max(0) as usize {
            let event: io_event = events.get(i);
            results.extend([event.data as i64, event.res as i64]);
        }
    }
    results
}

static CALLBACKS: AtomicUsize = AtomicUsize::new(0);
static LIB: OnceLock<&'static Aio> = OnceLock::new();
static SEEN: Mutex<Vec<i64>> = Mutex::new(Vec::new());

/// io_queue_run's callback: the first one reaps the others with
/// io_getevents into an odd address (from what io_queue_run reaped ahead,
/// in this library).
unsafe extern "C" fn reap_the_rest(ctx: io_context_t, _: *mut iocb, res: c_long, _: c_long) {
    let first = CALLBACKS.fetch_add(1, Ordering::Relaxed) == 0;
    let lib = LIB.get().unwrap();
    let mut seen = SEEN.lock().unwrap();
    seen.push(res);
    if !first {
        return;
    }
    let mut events = Odd::new::<io_event>(8);
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: room for 8 events at the odd address.
    let got = unsafe { (lib.io_getevents)(ctx, 0, 8, events.ptr::<io_event>(), &mut zero) };
    seen.push(got as i64);
    for i in 0..got.max(0) as usize {
        let event: io_event = events.get(i);
        seen.push(event.res as i64);
    }
}

fn events_reaped_ahead_into_an_odd_address(lib: &'static Aio) -> Vec<i64> {
    let ctx = Ctx::new(lib, 16);
    let callback = reap_the_rest as unsafe extern "C" fn(io_context_t, *mut iocb, c_long, c_long);
    let (_file, _bufs, _ios) = submit_reads(&ctx, 6, |_| callback as *mut c_void);
    assert!(LIB.set(lib).is_ok(), "one run per process");
    // SAFETY: every iocb's data is the callback.
    let ret = unsafe { (lib.io_queue_run)(ctx.ctx) };
    let mut results = SEEN.lock().unwrap().clone();
    results.push(ret as i64);
    results
}

fn context_pointer_at_an_odd_address(lib: &'static Aio) -> Vec<i64> {
    let mut handle = Odd::new::<io_context_t>(1);
    let ctxp = handle.ptr::<io_context_t>();
    let mut results = Vec::new();
    // io_queue_init clears the handle first (ours after asking the kernel).
    // SAFETY: the handle is ours; written unaligned below.
    unsafe { ctxp.write_unaligned(std::ptr::without_provenance_mut(0x5678)) };
    // SAFETY: ctxp points into our buffer.
    results.push(unsafe { (lib.io_queue_init)(8, ctxp) } as i64);
    let ctx: io_context_t = handle.get(0);
    results.push(!ctx.is_null() as i64);
    // SAFETY: the context just created.
    results.push(unsafe { (lib.io_queue_release)(ctx) } as i64);
    // io_setup reads nothing, the kernel writes the handle.
    // SAFETY: as above.
    unsafe { ctxp.write_unaligned(std::ptr::null_mut()) };
    // SAFETY: as above.
    results.push(unsafe { (lib.io_setup)(8, ctxp) } as i64);
    let ctx: io_context_t = handle.get(0);
    let mut zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut events = [zeroed_event(); 1];
    // SAFETY: room for one event.
    results.push(unsafe { (lib.io_getevents)(ctx, 0, 1, events.as_mut_ptr(), &mut zero) } as i64);
    // SAFETY: the context just created.
    results.push(unsafe { (lib.io_destroy)(ctx) } as i64);
    results
}
