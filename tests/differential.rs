//! Differential tests: the C programs in `c-tests/differential/` run against
//! the system's libaio 0.3.113 and against libaio-rs, and must print the
//! same thing, exit the same way and make the same AIO system calls.
//!
//! Each program is built twice, with `-Wall -Wextra -Werror`:
//!
//! - against a copy of the system's `libaio.h`, linked with the system's
//!   `-laio` (the reference);
//! - against our `include/libaio.h`, linked with our `libaio.so.1` (rpath).
//!
//! and run three ways: the reference binary, ours, and the reference binary
//! with `LD_LIBRARY_PATH` pointing at our library (an existing binary picking
//! up the drop-in). Each run is traced with
//! `strace -f -qq -e trace=io_setup,io_destroy,io_submit,io_cancel,io_getevents,io_pgetevents`,
//! and the trace is normalized before comparing: addresses and process ids
//! become tokens numbered by first appearance (so that the same context
//! must be used in the same places), while counts, lengths, offsets, fds,
//! results, errno names, timeouts and signal masks stay as they are.
//!
//! The documented differences (inputs on which libaio crashes or reads a
//! stale ring and libaio-rs answers an error) are asserted separately, case
//! by case (`differences.c`): the reference dies by SIGSEGV, ours prints the
//! documented error, and both made the same system calls up to that point.

mod common;

use common::c_tests;
use common::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The system calls traced.
const TRACED: &str = "trace=io_setup,io_destroy,io_submit,io_cancel,io_getevents,io_pgetevents";

/// How a program meets a libaio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// Built with the system's libaio.h and -laio: the reference.
    System,
    /// Built with our libaio.h, linked with our libaio.so.1.
    Ours,
    /// The reference binary, run with LD_LIBRARY_PATH=<our libdir>.
    DropIn,
}

/// A program built both ways.
struct Program {
    name: String,
    dir: PathBuf,
    system: PathBuf,
    ours: PathBuf,
}

impl Program {
    fn binary(&self, variant: Variant) -> &Path {
        match variant {
            Variant::System | Variant::DropIn => &self.system,
            Variant::Ours => &self.ours,
        }
    }
}

fn sources() -> PathBuf {
    root().join("c-tests/differential")
}

/// `c-tests/differential/<name>.c`, built both ways (once per test process).
fn program(name: &str) -> Arc<Program> {
    type Built = Arc<OnceLock<Arc<Program>>>;
    static BUILT: OnceLock<Mutex<HashMap<String, Built>>> = OnceLock::new();
    let cell = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(name.to_owned())
        .or_default()
        .clone();
    cell.get_or_init(|| Arc::new(build(name))).clone()
}

fn build(name: &str) -> Program {
    let dir = scratch_dir(&format!("differential-{name}"));
    let source = sources().join(format!("{name}.c"));
    // Where the tests run without a C compiler (the guests of
    // tests/foreign.rs), the programs come built by the same commands
    // with the architecture's cross compiler, and run where they are: a
    // copy written here could still be open for writing in a child that
    // another test thread is starting, and fail to run (ETXTBSY).
    let prebuilt =
        std::env::var_os("LIBAIO_RS_PREBUILT").map(|path| Path::new(&path).join("differential"));
    let at = prebuilt.as_deref().unwrap_or(&dir);
    let program = Program {
        name: name.to_owned(),
        system: at.join(format!("{name}-system")),
        ours: at.join(format!("{name}-ours")),
        dir,
    };
    if prebuilt.is_none() {
        let system_include = c_tests::system_include(&program.dir);
        let commands = c_tests::differential_commands(
            "cc".as_ref(),
            &source,
            &system_include,
            None,
            libdir(),
            [&program.system, &program.ours],
        );
        let children = commands.map(|mut cmd| {
            let child = cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run cc: {e}"));
            (format!("{cmd:?}"), child)
        });
        for (cmd, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{cmd} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    for variant in [Variant::System, Variant::Ours, Variant::DropIn] {
        check_loaded_library(&program, variant);
    }
    program
}

/// The environment of a run: no inherited library path (cargo sets one),
/// ours for the drop-in case, and libaio's default reaping.
fn environment(cmd: &mut Command, variant: Variant) {
    // libaio's behaviour is what is compared: no user-space reaping.
    cmd.env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("LIBAIO_USERSPACE_REAP");
    if variant == Variant::DropIn {
        cmd.env("LD_LIBRARY_PATH", libdir());
    }
}

/// Asserts that the dynamic linker gives the variant's binary the libaio.so.1
/// it is meant to run with.
fn check_loaded_library(program: &Program, variant: Variant) {
    let mut cmd = Command::new(program.binary(variant));
    environment(&mut cmd, variant);
    cmd.env("LD_TRACE_LOADED_OBJECTS", "1");
    let out = run_ok(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    let loaded = text
        .lines()
        .find_map(|line| {
            let (name, rest) = line.trim().split_once(" => ")?;
            (name == "libaio.so.1").then(|| rest.split(" (").next().unwrap().to_owned())
        })
        .unwrap_or_else(|| panic!("{}: no libaio.so.1 in\n{text}", program.name));
    let expected = match variant {
        Variant::System => system_lib(),
        Variant::Ours | Variant::DropIn => our_lib(),
    };
    assert_eq!(
        std::fs::canonicalize(&loaded).unwrap(),
        std::fs::canonicalize(&expected).unwrap(),
        "{} ({variant:?}) loads the wrong libaio.so.1",
        program.name
    );
}

/// What one run showed.
#[derive(Clone, Debug)]
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// The strace output as written.
    raw_trace: String,
    /// The strace output, normalized.
    trace: String,
    /// Where the raw trace is kept, for inspection.
    trace_file: PathBuf,
}

/// Runs the program under strace.
fn execute(program: &Program, variant: Variant, args: &[&str]) -> Outcome {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let trace_file = program
        .dir
        .join(format!("{variant:?}-{}-{n}.trace", args.join("-")));
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", TRACED, "-o"])
        .arg(&trace_file)
        .arg(program.binary(variant))
        .args(args)
        .current_dir(&program.dir);
    environment(&mut cmd, variant);
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setrlimit, which is async-signal-safe; it touches no memory the
    // parent's other threads could have left inconsistent.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let raw_trace = std::fs::read_to_string(&trace_file).unwrap_or_else(|e| {
        panic!(
            "{} ({variant:?} {args:?}): no trace {}: {e}\n{stderr}",
            program.name,
            trace_file.display()
        )
    });
    Outcome {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        trace: normalize(&raw_trace),
        raw_trace,
        trace_file,
    }
}

/// Stable names for values that change from run to run, numbered in order
/// of first appearance.
struct Tokens {
    prefix: &'static str,
    seen: HashMap<String, String>,
}

impl Tokens {
    fn new(prefix: &'static str) -> Tokens {
        Tokens {
            prefix,
            seen: HashMap::new(),
        }
    }

    fn token(&mut self, value: &str) -> String {
        let next = self.seen.len() + 1;
        self.seen
            .entry(value.to_owned())
            .or_insert_with(|| format!("{}{next}", self.prefix))
            .clone()
    }
}

/// Whether `value` is an address in user space, where ASLR puts different
/// values in each run (PIE images, heap, mappings, stack). Smaller values
/// (the program's small tags, 0x1000 as a bad context) and kernel addresses
/// are constants the programs chose, and stay.
fn is_user_address(value: u64) -> bool {
    (0x10000..USER_END).contains(&value)
}

/// Where the user part of the address space ends (an upper bound), on this
/// architecture: the kernel's addresses the programs use lie above it.
const USER_END: u64 = if cfg!(target_pointer_width = "32") {
    0xffff_f000
} else if cfg!(target_arch = "x86_64") {
    1 << 47
} else if cfg!(target_arch = "s390x") {
    1 << 53
} else {
    // arm64, ppc64el, riscv64 (48-bit user addresses).
    1 << 48
};

/// Normalizes an strace output: process ids and user addresses become
/// tokens; the time a child used (in SIGCHLD) is dropped; runs of blanks
/// become one space.
fn normalize(trace: &str) -> String {
    let mut pids = Tokens::new("PID");
    let mut addrs = Tokens::new("ADDR");
    let mut out = String::new();
    for line in trace.lines() {
        let mut rest = line.trim();
        let pid = rest
            .split_once(|c: char| c.is_ascii_whitespace())
            .filter(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if let Some((pid, after)) = pid {
            out.push_str(&pids.token(pid));
            out.push(' ');
            rest = after.trim_start();
        }
        normalize_line(rest, &mut pids, &mut addrs, &mut out);
        out.push('\n');
    }
    out
}

fn normalize_line(line: &str, pids: &mut Tokens, addrs: &mut Tokens, out: &mut String) {
    let bytes = line.as_bytes();
    let digits_from = |start: usize, hex: bool| {
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_digit() || (hex && bytes[end].is_ascii_hexdigit()))
        {
            end += 1;
        }
        end
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &line[i..];
        let after_word = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if let Some(key) = ["si_pid=", "si_utime=", "si_stime="]
            .into_iter()
            .find(|key| rest.starts_with(key))
        {
            let start = i + key.len();
            let end = digits_from(start, false);
            out.push_str(key);
            if key == "si_pid=" {
                out.push_str(&pids.token(&line[start..end]));
            } else {
                out.push('_');
            }
            i = end;
        } else if !after_word && rest.starts_with("0x") && digits_from(i + 2, true) > i + 2 {
            let end = digits_from(i + 2, true);
            let text = &line[i..end];
            match u64::from_str_radix(&text[2..], 16) {
                Ok(value) if is_user_address(value) => out.push_str(&addrs.token(text)),
                _ => out.push_str(text),
            }
            i = end;
        } else if let Some(len) = x32_sigset(rest) {
            out.push_str("{SIGSET}");
            i += len;
        } else if let Some(len) = cpu_time_comment(rest) {
            // strace's note of the time a child used (` /* 0.01 s */`).
            i += len;
        } else if bytes[i].is_ascii_whitespace() {
            out.push(' ');
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
}

/// On x32, the length of io_pgetevents' `{sigmask=..., sigsetsize=...}` at
/// the start of `text`: strace shows the pair with x32's 32-bit words, while
/// the kernel reads it with 64-bit ones (README: Architectures), so what it
/// shows is not what the call passed, and is not compared.
fn x32_sigset(text: &str) -> Option<usize> {
    if !X32 || !text.starts_with("{sigmask=") {
        return None;
    }
    text.find('}').map(|end| end + 1)
}

/// The length of a ` /* <seconds> s */` comment at the start of `text`.
fn cpu_time_comment(text: &str) -> Option<usize> {
    let body = text.strip_prefix(" /* ")?;
    let end = body.find(" s */")?;
    body[..end]
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.')
        .then_some(4 + end + 5)
}

/// How `other` differs from `reference`: exit status, stdout, normalized
/// trace. Empty when they agree.
fn differences(reference: &Outcome, other: &Outcome) -> Vec<String> {
    let mut found = Vec::new();
    if reference.status.code() != other.status.code()
        || reference.status.signal() != other.status.signal()
    {
        found.push(format!(
            "exit status: {} vs {}",
            reference.status, other.status
        ));
    }
    if let Some(d) = first_difference("stdout", &reference.stdout, &other.stdout) {
        found.push(d);
    }
    if let Some(d) = first_difference("trace", &reference.trace, &other.trace) {
        found.push(d);
    }
    found
}

/// Whether the system calls of our library are compared with libaio's: not
/// under the io_uring backend, whose are io_uring's (README.md, "The io_uring
/// backend"); its results, output and exit status still are.
fn calls_compared() -> bool {
    !io_uring_backend()
}

/// [`differences`] as far as they are compared (see [`calls_compared`]).
fn compared_differences(reference: &Outcome, other: &Outcome) -> Vec<String> {
    let mut found = differences(reference, other);
    if !calls_compared() {
        found.retain(|d| !d.starts_with("trace differs"));
    }
    found
}

/// The first line where two texts differ, with a little context.
fn first_difference(what: &str, a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut text = format!(
        "{what} differs at line {} ({} vs {} lines):\n",
        at + 1,
        a.len(),
        b.len()
    );
    for line in &a[at.saturating_sub(2)..at] {
        let _ = writeln!(text, "    {line}");
    }
    let _ = writeln!(text, "  - {}", a.get(at).copied().unwrap_or("<end>"));
    let _ = writeln!(text, "  + {}", b.get(at).copied().unwrap_or("<end>"));
    Some(text)
}

fn describe(outcome: &Outcome) -> String {
    format!(
        "status {}; trace {}; stderr:\n{}",
        outcome.status,
        outcome.trace_file.display(),
        outcome.stderr
    )
}

/// Runs `name args` the three ways and asserts that ours and the drop-in
/// agree with the reference in stdout, exit status and system calls.
fn assert_same(name: &str, args: &[&str]) {
    assert_equivalent(
        name,
        args,
        |trace| trace.to_owned(),
        |trace| trace.to_owned(),
    );
}

/// As [`assert_same`], for a documented difference in the system calls
/// only: the reference's raw trace goes through `expected` (what libaio-rs
/// does instead) and ours through `accepted` before they are normalized and
/// compared, and the difference must really show (the traces differ).
fn assert_equivalent(
    name: &str,
    args: &[&str],
    expected: impl Fn(&str) -> String,
    accepted: impl Fn(&str) -> String,
) {
    let program = program(name);
    let mut reference = execute(&program, Variant::System, args);
    assert!(
        reference.status.success(),
        "{name} {args:?} fails with the system libaio: {}\n{}",
        describe(&reference),
        reference.stdout
    );
    assert!(
        reference.trace.lines().count() > 0,
        "{name} {args:?} made no AIO system call"
    );
    assert!(
        !reference.stdout.contains("errno changed"),
        "the system libaio changed errno:\n{}",
        reference.stdout
    );
    let unchanged = reference.trace.clone();
    // The transformations work on the raw traces, before the addresses are
    // numbered, so that a call left out does not shift the numbering.
    reference.trace = normalize(&expected(&reference.raw_trace));
    let mut failures = String::new();
    for variant in [Variant::Ours, Variant::DropIn] {
        let mut outcome = execute(&program, variant, args);
        let raw = outcome.trace.clone();
        outcome.trace = normalize(&accepted(&outcome.raw_trace));
        let found = compared_differences(&reference, &outcome);
        if !found.is_empty() {
            let _ = writeln!(
                failures,
                "== {name} {args:?}: {variant:?} differs from the system libaio\n{}\nreference: {}\n{variant:?}: {}",
                found.join("\n"),
                describe(&reference),
                describe(&outcome)
            );
        } else if calls_compared() && (reference.trace != unchanged || outcome.trace != raw) {
            // A documented difference must still be there, or the
            // documentation is out of date.
            assert_ne!(
                unchanged, raw,
                "{name} {args:?} ({variant:?}): the documented difference is gone"
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// A trace line split into (process, call) at the first blanks; lines
/// without a process token are kept whole.
fn split_process(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        // strace pads short process ids with blanks.
        Some((pid, call)) if pid.starts_with("PID") || pid.chars().all(|c| c.is_ascii_digit()) => {
            (pid, call.trim_start())
        }
        _ => ("", line),
    }
}

/// What libaio-rs's io_queue_run does where libaio reaps one completion per
/// system call (`io_getevents(ctx, 0, 1, [event], {0, 0}) = 1` over and
/// over): one `io_getevents(ctx, 0, 32, [up to 32 events], {0, 0})` per 32.
/// Only for programs whose zero-timeout io_getevents calls with nr 1 all come
/// from io_queue_run. (For a context the library does not know, a failing
/// call, io_queue_run asks for one completion, as libaio does.)
fn batched_queue_run(trace: &str) -> String {
    const ONE: &str = ", 0, 1, [";
    const ZERO: &str = "], {tv_sec=0, tv_nsec=0}) = 1";
    let mut out: Vec<String> = Vec::new();
    // The pending batch: (process, context, events).
    let mut batch: Option<(String, String, Vec<String>)> = None;
    let flush = |batch: &mut Option<(String, String, Vec<String>)>, out: &mut Vec<String>| {
        if let Some((pid, ctx, events)) = batch.take() {
            let prefix = if pid.is_empty() {
                String::new()
            } else {
                format!("{pid} ")
            };
            out.push(format!(
                "{prefix}io_getevents({ctx}, 0, 32, [{}], {{tv_sec=0, tv_nsec=0}}) = {}",
                events.join(", "),
                events.len()
            ));
        }
    };
    for line in trace.lines() {
        let (pid, call) = split_process(line);
        let reap = call
            .strip_prefix("io_getevents(")
            .and_then(|rest| rest.split_once(ONE))
            .and_then(|(ctx, rest)| rest.strip_suffix(ZERO).map(|event| (ctx, event)));
        match reap {
            Some((ctx, event)) => {
                let same = batch
                    .as_ref()
                    .is_some_and(|(p, c, e)| p == pid && c == ctx && e.len() < 32);
                if !same {
                    flush(&mut batch, &mut out);
                    batch = Some((pid.to_owned(), ctx.to_owned(), Vec::new()));
                }
                batch.as_mut().unwrap().2.push(event.to_owned());
            }
            None => {
                flush(&mut batch, &mut out);
                out.push(line.to_owned());
            }
        }
    }
    flush(&mut batch, &mut out);
    out.iter().map(|l| format!("{l}\n")).collect()
}

/// Drops the io_setup call that io_queue_init makes first when the handle it
/// was given is not 0: the kernel refuses it (EINVAL), libaio-rs clears the
/// handle and calls again with the same size, where libaio clears the handle
/// first. (Applied to both traces, so that a program's own refused io_setup
/// followed by another of the same size is left out of both.)
fn without_refused_first_setup(trace: &str) -> String {
    let lines: Vec<&str> = trace.lines().collect();
    let size = |call: &str| {
        call.strip_prefix("io_setup(")
            .and_then(|rest| rest.split_once(','))
            .map(|(n, _)| n.to_owned())
    };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let (pid, call) = split_process(line);
        let refused =
            call.starts_with("io_setup(") && call.ends_with(" = -1 EINVAL (Invalid argument)");
        let retried = lines.get(i + 1).is_some_and(|next| {
            let (next_pid, next_call) = split_process(next);
            next_pid == pid && size(next_call).is_some() && size(next_call) == size(call)
        });
        if !(refused && retried) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Drops the zero-timeout io_getevents calls that found nothing: libaio-rs
/// makes them where libaio answers from the ring without a call, for rings
/// it did not create itself (moved with mremap, or made by the raw system
/// call).
fn without_empty_zero_timeout_polls(trace: &str) -> String {
    trace
        .lines()
        .filter(|line| {
            let call = split_process(line).1;
            !(call.starts_with("io_getevents(")
                && call.ends_with(", [], {tv_sec=0, tv_nsec=0}) = 0"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_trace_transformations_do_what_they_say() {
    let libaio = "PID1 io_getevents(ADDR1, 0, 1, [{data=ADDR2, obj=ADDR3, res=4096, res2=0}], {tv_sec=0, tv_nsec=0}) = 1\n\
                  PID1 io_getevents(ADDR1, 0, 1, [{data=ADDR4, obj=ADDR5, res=8192, res2=0}], {tv_sec=0, tv_nsec=0}) = 1\n\
                  PID1 io_destroy(ADDR1) = 0\n\
                  PID1 io_getevents(NULL, 0, 1, ADDR6, {tv_sec=0, tv_nsec=0}) = -1 EINVAL (Invalid argument)\n";
    assert_eq!(
        batched_queue_run(libaio),
        "PID1 io_getevents(ADDR1, 0, 32, [{data=ADDR2, obj=ADDR3, res=4096, res2=0}, \
         {data=ADDR4, obj=ADDR5, res=8192, res2=0}], {tv_sec=0, tv_nsec=0}) = 2\nPID1 io_destroy(ADDR1) = 0\n\
         PID1 io_getevents(NULL, 0, 1, ADDR6, {tv_sec=0, tv_nsec=0}) = -1 EINVAL (Invalid argument)\n"
    );
    let ours = "PID1 io_getevents(ADDR1, 0, 2, [], {tv_sec=0, tv_nsec=0}) = 0\nPID1 io_destroy(ADDR1) = 0\n";
    // Raw strace output pads process ids shorter than five digits.
    let padded = "6820  io_getevents(0x7f8f77061000, 0, 2, [], {tv_sec=0, tv_nsec=0}) = 0\n\
                  6820  io_destroy(0x7f8f77061000)        = 0\n";
    assert_eq!(
        without_empty_zero_timeout_polls(padded),
        "6820  io_destroy(0x7f8f77061000)        = 0\n"
    );
    assert_eq!(
        without_empty_zero_timeout_polls(ours),
        "PID1 io_destroy(ADDR1) = 0\n"
    );
    let retried = "123 io_setup(4, 0x7ffd1000) = -1 EINVAL (Invalid argument)\n\
                   123 io_setup(4, [0x7f0000000000]) = 0\n\
                   123 io_setup(8, 0x7ffd1000) = -1 EINVAL (Invalid argument)\n\
                   123 io_setup(1, [0x7f0000010000]) = 0\n";
    assert_eq!(
        without_refused_first_setup(retried),
        "123 io_setup(4, [0x7f0000000000]) = 0\n\
         123 io_setup(8, 0x7ffd1000) = -1 EINVAL (Invalid argument)\n\
         123 io_setup(1, [0x7f0000010000]) = 0\n"
    );
}

// ---------------------------------------------------------------------------
// Same behaviour as libaio.

/// io_setup (0, -1, huge, over aio-max-nr, ctx already set, NULL, kernel and
/// unmapped ctxp), io_destroy (twice, NULL, bad), io_queue_init (0, -5,
/// garbage in *ctxp), io_queue_release. Documented difference: io_queue_init
/// on a handle that is not 0 first lets the kernel refuse it, then clears it
/// and calls again (one more, failing, io_setup).
#[test]
fn setup_and_destroy_match_libaio() {
    assert_equivalent(
        "setup",
        &[],
        without_refused_first_setup,
        without_refused_first_setup,
    );
}

/// io_submit: nr 0 and -1, NULL array, NULL and kernel elements, bad
/// contexts, bad fds, bad opcodes, reserved fields, a batch stopping at a
/// bad iocb, errors in completions, partial submission on a full ring.
#[test]
fn submit_matches_libaio() {
    assert_same("submit", &[]);
}

/// io_getevents, io_getevents@LIBAIO_0.1, io_queue_wait and
/// io_queue_wait@LIBAIO_0.1: no system call for a zero timeout on an empty
/// ring, a call otherwise; argument errors; a timeout that expires; NULL
/// timeouts; O_DIRECT writes and reads of a /dev/shm file.
#[test]
fn getevents_and_queue_wait_match_libaio() {
    if X32 {
        assert_the_x32_reference_differs("events");
    } else {
        assert_same("events", &[]);
    }
}

/// On x32 the reference (Debian's libaio source built for x32) passes
/// negative counts to the kernel zero-extended and gives io_pgetevents a
/// signal-set pair the kernel refuses (README: Architectures): there our
/// library and the reference binary on it (the drop-in) must agree, and the
/// reference must differ.
fn assert_the_x32_reference_differs(name: &str) {
    let program = program(name);
    let reference = execute(&program, Variant::System, &[]);
    let ours = execute(&program, Variant::Ours, &[]);
    let drop_in = execute(&program, Variant::DropIn, &[]);
    assert!(
        ours.status.success(),
        "{name}: {}\n{}",
        describe(&ours),
        ours.stdout
    );
    let found = differences(&ours, &drop_in);
    assert!(
        found.is_empty(),
        "{name}: ours and the drop-in differ:\n{}",
        found.join("\n")
    );
    assert!(
        !differences(&reference, &ours).is_empty(),
        "{name}: the x32 reference no longer differs: README's Architectures is out of date"
    );
}

/// io_pgetevents: NULL mask passed as {NULL, 8}, a mask, a pending signal
/// the mask unblocks (-EINTR), zero timeouts, real completions.
#[test]
fn pgetevents_matches_libaio() {
    if X32 {
        assert_the_x32_reference_differs("pgetevents");
    } else {
        assert_same("pgetevents", &[]);
    }
}

/// io_cancel and io_cancel@LIBAIO_0.1: -EINPROGRESS for a pending poll whose
/// completion comes later, -EINVAL for iocbs not queued, bad contexts;
/// io_poll and io_prep_poll completing.
#[test]
fn cancel_and_poll_match_libaio() {
    assert_same("cancel", &[]);
}

/// io_queue_init, io_queue_run (callbacks in order with res and res2,
/// returns 0), io_queue_wait, io_queue_release. Documented differences:
/// io_queue_run reaps up to 32 completions per system call, where libaio
/// reaps one per call; io_queue_init on a handle that is not 0 (see above).
#[test]
fn queue_run_matches_libaio_reaping_in_batches() {
    assert_equivalent(
        "queue",
        &[],
        |trace| without_refused_first_setup(&batched_queue_run(trace)),
        without_refused_first_setup,
    );
}

/// The inline helpers of libaio.h: the bytes each one writes, and real
/// submissions through pwritev/preadv (and the v2 forms), fsync, fdsync,
/// poll and io_set_eventfd.
#[test]
fn inline_helpers_match_libaio() {
    assert_same("helpers", &[]);
}

/// A forked child gets the kernel's -EINVAL for every call on the parent's
/// context that reaches the kernel, can make its own, and the parent's
/// context keeps working.
#[test]
fn contexts_across_fork_match_libaio() {
    assert_same("fork", &[]);
}

/// A program that reads completions from the ring itself, as fio and QEMU
/// do: libaio then answers a zero-timeout io_getevents without a call.
#[test]
fn ring_reaped_in_user_space_matches_libaio() {
    if io_uring_backend() {
        // The backend's handle is no ring: a reader that checks finds no
        // magic number and nothing to reap, and this one, which then stores
        // the head anyway, faults on the read-only header (README.md, "The
        // io_uring backend").
        for variant in [Variant::Ours, Variant::DropIn] {
            let ours = execute(&program("ring"), variant, &["user-reap"]);
            assert_eq!(ours.status.signal(), Some(libc::SIGSEGV), "{variant:?}");
            assert!(
                ours.stdout
                    .contains("ring: magic wrong, header_length 32, 0 events"),
                "{variant:?}: {}",
                ours.stdout
            );
        }
        return;
    }
    assert_same("ring", &["user-reap"]);
}

// Documented difference: libaio-rs only reads rings it created itself (and
// has not destroyed), so for a ring moved with mremap or made by the raw
// system call, a zero-timeout io_getevents on an empty ring goes to the
// kernel (same result, one more system call).

/// A ring moved with mremap (libaio's harness test 19) keeps working at its
/// new address.
#[test]
fn ring_moved_with_mremap_matches_libaio_with_extra_polls() {
    if io_uring_backend() {
        // Moving the backend's handle moves a page that looks like a ring
        // header; the context stays where io_setup put it, and the kernel
        // refuses the new address (README.md, "The io_uring backend").
        for variant in [Variant::Ours, Variant::DropIn] {
            let ours = execute(&program("ring"), variant, &["mremap"]);
            assert!(ours.status.success(), "{variant:?}: {}", describe(&ours));
            assert!(
                ours.stdout.contains("ring moved: yes")
                    && ours
                        .stdout
                        .contains("io_getevents(ctx, 0, 2, ev, &zero) = -EINVAL"),
                "{variant:?}: {}",
                ours.stdout
            );
        }
        return;
    }
    assert_equivalent(
        "ring",
        &["mremap"],
        |trace| trace.to_owned(),
        without_empty_zero_timeout_polls,
    );
}

/// A context made by the raw io_setup system call works like any other.
#[test]
fn context_from_raw_syscall_matches_libaio_with_extra_polls() {
    assert_equivalent(
        "ring",
        &["raw-setup"],
        |trace| trace.to_owned(),
        without_empty_zero_timeout_polls,
    );
}

/// 300 contexts live at once: a zero-timeout io_getevents on each, empty,
/// makes no system call.
#[test]
fn many_contexts_match_libaio() {
    assert_same("ring", &["many-contexts"]);
}

// ---------------------------------------------------------------------------
// The documented differences.

/// The normalized trace without strace's signal and exit lines.
fn calls(trace: &str) -> Vec<&str> {
    trace
        .lines()
        .filter(|line| {
            let body = line.split_once(' ').map_or(*line, |(_, b)| b);
            !body.starts_with("---") && !body.starts_with("+++")
        })
        .collect()
}

/// Runs `differences <case>`: the system build must die by SIGSEGV right
/// after printing the case's first line; ours and the drop-in must exit 0
/// printing `expected`, having made the reference's system calls and then
/// `extra_calls` more, each starting with the given text.
fn assert_documented_crash(case: &str, expected: &str, extra_calls: &[&str]) {
    assert_documented_crash_replacing(case, expected, 0, extra_calls);
}

/// As [`assert_documented_crash`], where ours makes the reference's calls
/// except its last `replaced` ones, then `extra_calls`.
fn assert_documented_crash_replacing(
    case: &str,
    expected: &str,
    replaced: usize,
    extra_calls: &[&str],
) {
    let program = program("differences");
    let reference = execute(&program, Variant::System, &[case]);
    assert_eq!(
        reference.status.signal(),
        Some(libc::SIGSEGV),
        "{case}: the system libaio was expected to crash: {}\n{}",
        describe(&reference),
        reference.stdout
    );
    let first_line = expected.lines().next().unwrap();
    assert_eq!(
        reference.stdout,
        format!("{first_line}\n"),
        "{case}: the system libaio crashed somewhere else"
    );
    let mut before_crash = calls(&reference.trace);
    before_crash.truncate(before_crash.len() - replaced);
    for variant in [Variant::Ours, Variant::DropIn] {
        let outcome = execute(&program, variant, &[case]);
        assert!(
            outcome.status.success(),
            "{case} ({variant:?}): {}\n{}",
            describe(&outcome),
            outcome.stdout
        );
        assert_eq!(outcome.stdout, expected, "{case} ({variant:?})");
        if !calls_compared() {
            continue;
        }
        let made = calls(&outcome.trace);
        assert!(
            made.len() == before_crash.len() + extra_calls.len()
                && made[..before_crash.len()] == before_crash[..],
            "{case} ({variant:?}): expected the system libaio's calls\n{}\nthen {extra_calls:?}, got\n{}",
            before_crash.join("\n"),
            made.join("\n")
        );
        for (call, start) in made[before_crash.len()..].iter().zip(extra_calls) {
            let body = call.split_once(' ').unwrap().1;
            assert!(
                body.starts_with(start),
                "{case} ({variant:?}): {body} does not start with {start}"
            );
        }
    }
}

/// A context that was destroyed: libaio reads its unmapped ring and crashes
/// (io_getevents whatever the timeout, io_pgetevents, io_queue_run,
/// io_queue_wait, and the 0.1 io_getevents and io_queue_wait); ours asks the
/// kernel, which answers -EINVAL.
#[test]
fn destroyed_context_gives_einval_where_libaio_segfaults() {
    for (case, call) in [
        ("destroyed-getevents", "io_getevents("),
        ("destroyed-getevents-timeout", "io_getevents("),
        ("destroyed-getevents-no-timeout", "io_getevents("),
        ("destroyed-pgetevents", "io_pgetevents("),
        ("destroyed-queue-run", "io_getevents("),
        ("destroyed-queue-wait", "io_getevents("),
        ("destroyed-old-getevents", "io_getevents("),
        ("destroyed-old-queue-wait", "io_getevents("),
    ] {
        let call = format!("{call}ADDR1, ");
        // On 32-bit targets our io_pgetevents asks again, with the signal
        // set's address widened, when the kernel says EINVAL.
        let retry = call.starts_with("io_pgetevents") && cfg!(target_pointer_width = "32");
        let calls = if retry { vec![&*call; 2] } else { vec![&*call] };
        assert_documented_crash(case, &format!("{case}\nresult = -EINVAL\n"), &calls);
    }
}

/// A context that never was ((io_context_t)-1, 0x1000): libaio dereferences
/// it and crashes; ours asks the kernel, which answers -EINVAL.
#[test]
fn invalid_context_gives_einval_where_libaio_segfaults() {
    let minus_one = format!("{:#x}", usize::MAX);
    for (case, call) in [
        ("invalid-getevents", format!("io_getevents({minus_one}, ")),
        ("invalid-pgetevents", "io_pgetevents(0x1000, ".into()),
        ("invalid-queue-run", format!("io_getevents({minus_one}, ")),
        ("invalid-queue-wait", "io_getevents(0x1000, ".into()),
    ] {
        let retry = call.starts_with("io_pgetevents") && cfg!(target_pointer_width = "32");
        let calls = if retry { vec![&*call; 2] } else { vec![&*call] };
        assert_documented_crash(case, &format!("{case}\nresult = -EINVAL\n"), &calls);
    }
}

/// io_queue_init(n, NULL): libaio writes through the NULL handle; ours
/// answers -EFAULT without a system call.
#[test]
fn queue_init_with_null_handle_gives_efault_where_libaio_segfaults() {
    assert_documented_crash(
        "queue-init-null",
        "queue-init-null\nresult = -EFAULT\n",
        &[],
    );
}

/// io_queue_init(n, <kernel address>): libaio writes through it; ours
/// answers -EFAULT without a system call (as io_setup would, through the
/// kernel), where the kernel owns the upper half of the address space; on
/// the other targets (32-bit ones, where the program's address is
/// truncated) it asks the kernel, with io_setup, which answers -EFAULT.
#[test]
fn queue_init_with_kernel_handle_gives_efault_where_libaio_segfaults() {
    let asks = aio_rs::plausible_user_address(0xffff_ffff_8100_0000_u64 as usize);
    assert_documented_crash(
        "queue-init-kernel-address",
        "queue-init-kernel-address\nresult = -EFAULT\n",
        if asks { &["io_setup(8, "] } else { &[] },
    );
}

/// io_queue_run over a completion whose iocb has no callback: libaio calls
/// address 0; ours consumes it without a call, runs the next completion's
/// callback and returns 0, leaving the ring empty.
#[test]
fn queue_run_skips_completion_without_callback_where_libaio_segfaults() {
    // libaio crashes on the first completion, reaped alone; libaio-rs reaps
    // both in one call (io_queue_run reaps in batches), skips the one
    // without a callback, then finds the ring empty without a call.
    assert_documented_crash_replacing(
        "queue-run-without-callback",
        "io_queue_run over a completion without a callback\n\
         callback: res=4096 res2=0\n\
         io_queue_run = 0\n\
         callbacks: 1\n\
         io_getevents, zero timeout = 0\n",
        1,
        &[
            "io_getevents(ADDR1, 0, 32, [{data=0, ",
            "io_destroy(ADDR1) = 0",
        ],
    );
}

/// A callback destroys its context while another completion waits: libaio's
/// io_queue_run reads the unmapped ring for the next one and crashes; ours
/// runs no further callback and returns the kernel's -EINVAL.
#[test]
fn queue_run_after_its_callback_destroyed_the_context_gives_einval_where_libaio_segfaults() {
    // libaio reaped one completion (its callback destroyed the context) and
    // crashed; libaio-rs reaped both in one call, then, after the destroy,
    // asks the kernel for the next one.
    assert_documented_crash_replacing(
        "destroyed-in-callback",
        "destroyed-in-callback\n\
         result = -EINVAL\n\
         callbacks: 1\n",
        2,
        &[
            "io_getevents(ADDR1, 0, 32, [",
            "io_destroy(ADDR1) = 0",
            "io_getevents(ADDR1, 0, 1, ",
        ],
    );
}

/// After fork, the child's zero-timeout io_getevents on the parent's
/// (empty) context: libaio reads the stale ring and answers 0 without a
/// system call; ours asks the kernel, which answers -EINVAL, as it does for
/// io_submit(ctx, 0, NULL) with both libraries.
#[test]
fn forked_child_gets_einval_where_libaio_reads_the_stale_ring() {
    let program = program("differences");
    let args = ["fork-stale-ring"];
    let expected = |child_result: &str| {
        format!(
            "child: io_submit(ctx, 0, NULL) = -EINVAL\n\
             child: io_getevents, zero timeout = {child_result}\n\
             child exited with 0\n\
             parent: io_getevents, zero timeout = 0\n"
        )
    };
    let reference = execute(&program, Variant::System, &args);
    assert!(reference.status.success(), "{}", describe(&reference));
    assert_eq!(reference.stdout, expected("0"));
    let child_calls = |trace: &str| -> Vec<String> {
        trace
            .lines()
            .filter_map(|l| l.strip_prefix("PID2 "))
            .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        child_calls(&reference.trace),
        ["io_submit(ADDR1, 0, NULL) = -1 EINVAL (Invalid argument)"],
        "system libaio, child:\n{}",
        reference.trace
    );
    for variant in [Variant::Ours, Variant::DropIn] {
        let outcome = execute(&program, variant, &args);
        assert!(outcome.status.success(), "{}", describe(&outcome));
        assert_eq!(outcome.stdout, expected("-EINVAL"), "{variant:?}");
        if !calls_compared() {
            continue;
        }
        let child = child_calls(&outcome.trace);
        assert_eq!(child.len(), 2, "{variant:?}, child:\n{}", outcome.trace);
        assert_eq!(
            child[0],
            "io_submit(ADDR1, 0, NULL) = -1 EINVAL (Invalid argument)"
        );
        assert!(
            child[1].starts_with("io_getevents(ADDR1, 0, 2, ")
                && child[1].ends_with("{tv_sec=0, tv_nsec=0}) = -1 EINVAL (Invalid argument)"),
            "{variant:?}: {}",
            child[1]
        );
        // Apart from that one call, the same system calls.
        let without: String = outcome
            .trace
            .lines()
            .filter(|l| l.strip_prefix("PID2 ") != Some(child[1].as_str()))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(without, reference.trace, "{variant:?}");
    }
}

// ---------------------------------------------------------------------------
// The comparison itself.

#[test]
fn normalization_tokens_addresses_and_pids_and_keeps_numbers() {
    // User addresses of this target (32-bit ones end at 4 GiB).
    let (ring, buf) = if cfg!(target_pointer_width = "64") {
        ("0x7f0000001000", "0x55aa00001000")
    } else {
        ("0xf7001000", "0x55aa1000")
    };
    let a = "123   io_setup(8, [0x7f0000001000])  = 0\n\
             123 io_submit(0x7f0000001000, 2, [{aio_data=0x2a, aio_buf=0x55aa00001000, aio_nbytes=4096, aio_offset=-1}]) = 1\n\
             124 io_cancel(0xffffffffffffffff, 0x1000, NULL) = -1 EINVAL (Invalid argument)\n\
             123 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=124, si_uid=0, si_status=0, si_utime=3, si_stime=1} ---\n"
        .replace("0x7f0000001000", ring)
        .replace("0x55aa00001000", buf);
    let a = a.as_str();
    let normalized = normalize(a);
    assert_eq!(
        normalized,
        "PID1 io_setup(8, [ADDR1]) = 0\n\
         PID1 io_submit(ADDR1, 2, [{aio_data=0x2a, aio_buf=ADDR2, aio_nbytes=4096, aio_offset=-1}]) = 1\n\
         PID2 io_cancel(0xffffffffffffffff, 0x1000, NULL) = -1 EINVAL (Invalid argument)\n\
         PID1 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=PID2, si_uid=0, si_status=0, si_utime=_, si_stime=_} ---\n"
    );
    // Other addresses and pids, same pattern: equal.
    let b = a
        .replace(ring, "0x7fabcdef")
        .replace(buf, "0x5600000f")
        .replace("123", "9999")
        .replace("124", "10000");
    assert_eq!(normalize(&b), normalized);
    // Some strace versions add the CPU time a child used: not compared.
    let c = a.replace("si_stime=1}", "si_stime=1 /* 0.04 s */}");
    assert_eq!(normalize(&c), normalized);
    // Whatever else changes shows.
    let other_ring = format!("io_submit({}", ring.replace("1000", "2000"));
    for (from, to) in [
        ("io_setup(8,", "io_setup(9,"),
        ("= 1\n", "= 2\n"),
        ("aio_nbytes=4096", "aio_nbytes=4095"),
        ("aio_offset=-1", "aio_offset=0"),
        ("aio_data=0x2a", "aio_data=0x2b"),
        ("EINVAL (Invalid argument)", "EFAULT (Bad address)"),
        ("0xffffffffffffffff", "0xfffffffffffffffe"),
        // The context used by io_submit is not the one io_setup made.
        (&format!("io_submit({ring}"), other_ring.as_str()),
        // The child made a call in the parent's place.
        ("124 io_cancel", "123 io_cancel"),
        ("si_status=0", "si_status=1"),
    ] {
        let changed = a.replacen(from, to, 1);
        assert_ne!(changed, a, "{from} not found");
        assert_ne!(
            normalize(&changed),
            normalized,
            "{from} -> {to} went unnoticed"
        );
    }
}

// ---------------------------------------------------------------------------
// io_queue_run under the calling patterns of real programs.

/// Runs `name args` the three ways and asserts that ours and the drop-in
/// print the same as the reference and exit the same way; their system calls
/// may differ only in making fewer io_getevents calls (io_queue_run reaps
/// ahead, and what it reaped ahead is handed out without the kernel).
fn assert_same_results(name: &str, args: &[&str]) {
    let program = program(name);
    let reference = execute(&program, Variant::System, args);
    assert!(
        reference.status.success() && !reference.stdout.contains("errno changed"),
        "{name} {args:?} with the system libaio: {}\n{}",
        describe(&reference),
        reference.stdout
    );
    // The other calls, normalized on their own (so that a reaping call left
    // out does not shift the numbering of the addresses after it).
    let is_reap = |line: &str| line.contains("io_getevents(") || line.contains("io_pgetevents(");
    let others = |outcome: &Outcome| -> String {
        let kept: String = outcome
            .raw_trace
            .lines()
            .filter(|line| !is_reap(line))
            .map(|line| format!("{line}\n"))
            .collect();
        normalize(&kept)
    };
    let reaps = |outcome: &Outcome| {
        calls(&outcome.trace)
            .into_iter()
            .filter(|l| is_reap(l))
            .count()
    };
    for variant in [Variant::Ours, Variant::DropIn] {
        let outcome = execute(&program, variant, args);
        let mut found: Vec<String> = differences(&reference, &outcome)
            .into_iter()
            .filter(|d| !d.starts_with("trace differs"))
            .collect();
        if !calls_compared() {
        } else if let Some(d) =
            first_difference("other calls", &others(&reference), &others(&outcome))
        {
            found.push(d);
        }
        if calls_compared() && reaps(&outcome) > reaps(&reference) {
            found.push(format!(
                "{} io_getevents calls where libaio makes {}",
                reaps(&outcome),
                reaps(&reference)
            ));
        }
        assert!(
            found.is_empty(),
            "{name} {args:?}: {variant:?} differs from the system libaio\n{}\n--- reference\n{}{}\n--- {variant:?}\n{}{}",
            found.join("\n"),
            reference.stdout,
            reference.trace,
            outcome.stdout,
            outcome.trace
        );
    }
}

/// A callback that reaps its context with io_getevents and a 1 s timeout
/// gets the next completion at once, as under libaio (where io_queue_run has
/// taken only its own completion from the kernel).
#[test]
fn a_callback_reaping_its_context_gets_the_next_completion() {
    assert_same_results("callbacks", &["getevents-in-callback"]);
}

/// A callback that polls its context (zero timeout) gets every waiting
/// completion, then nothing.
#[test]
fn a_callback_polling_its_context_gets_every_waiting_completion() {
    assert_same_results("callbacks", &["poll-in-callback"]);
}

/// A nested io_queue_run, from a callback, runs the other waiting callbacks;
/// the outer one then finds nothing.
#[test]
fn a_nested_io_queue_run_runs_the_waiting_callbacks() {
    assert_same_results("callbacks", &["nested-queue-run"]);
}

/// A callback that leaves with longjmp loses nothing: the next io_queue_run,
/// or io_getevents, gets the remaining completions.
#[test]
fn a_callback_leaving_with_longjmp_loses_nothing() {
    assert_same_results("callbacks", &["longjmp-out-of-callback"]);
    assert_same_results("callbacks", &["longjmp-then-getevents"]);
}

/// A callback that releases its context and creates another (at the same
/// address) ends the run: the old context's other completions are gone with
/// it, and the loop finds the new context empty.
#[test]
fn a_callback_replacing_its_context_ends_the_run() {
    assert_same_results("callbacks", &["replace-context-in-callback"]);
}

/// The comparison finds real differences: two runs of the same binary
/// agree, and every kind of change to a real outcome is reported, as is the
/// documented fork difference between the two libraries.
#[test]
fn the_comparison_catches_a_difference() {
    let setup = program("setup");
    let a = execute(&setup, Variant::System, &[]);
    let b = execute(&setup, Variant::System, &[]);
    assert_ne!(a.raw_trace, b.raw_trace, "two runs gave the same raw trace");
    assert!(
        differences(&a, &b).is_empty(),
        "two runs of one binary differ: {:?}",
        differences(&a, &b)
    );

    let renormalized = |raw: String| Outcome {
        trace: normalize(&raw),
        raw_trace: raw,
        ..b.clone()
    };
    let ctx_line = b
        .raw_trace
        .lines()
        .find(|l| l.contains("io_setup(8, [0x"))
        .unwrap();
    let ctx = ctx_line
        .split("[")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let mutations = [
        // A result.
        b.raw_trace.replacen("= -1 EINVAL", "= -1 EFAULT", 1),
        // An argument.
        b.raw_trace.replacen("io_setup(8, ", "io_setup(9, ", 1),
        // An extra system call.
        format!("{}{ctx_line}\n", b.raw_trace),
        // A missing one.
        b.raw_trace.replacen(&format!("{ctx_line}\n"), "", 1),
        // Another context in one call.
        b.raw_trace.replacen(
            &format!("io_destroy({ctx})"),
            "io_destroy(0x7f0000000000)",
            1,
        ),
    ];
    for raw in mutations {
        assert_ne!(raw, b.raw_trace);
        let found = differences(&a, &renormalized(raw));
        assert!(
            found.len() == 1 && found[0].starts_with("trace differs"),
            "{found:?}"
        );
    }
    let mut changed = b.clone();
    changed.stdout = b.stdout.replacen("= -EINVAL", "= -EFAULT", 1);
    assert!(differences(&a, &changed)[0].starts_with("stdout differs"));
    let exit_1 = run(Command::new("sh").args(["-c", "exit 1"]));
    changed = Outcome {
        status: exit_1.status,
        ..b.clone()
    };
    assert!(differences(&a, &changed)[0].starts_with("exit status"));

    // A real difference between the libraries (documented, and asserted
    // exactly by its own test): found in stdout and in the trace.
    let differing = program("differences");
    let system = execute(&differing, Variant::System, &["fork-stale-ring"]);
    let ours = execute(&differing, Variant::Ours, &["fork-stale-ring"]);
    let found = differences(&system, &ours);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("stdout differs") && found[1].starts_with("trace differs"));
}
