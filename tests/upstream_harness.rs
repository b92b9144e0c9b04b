//! libaio's own test harness as our acceptance suite.
//!
//! `scripts/upstream-harness` fetches the libaio source package with
//! `apt-get source` (into `target/upstream/`), builds every harness case
//! against our header and our libaio.so.1, and runs them all, including the
//! root-only cases 8 and 10 on loop-mounted ext2 images and case 23, which
//! Debian's packaging leaves out. This test runs it and requires every case
//! to pass: on this machine (root, a kernel with aio poll) nothing may be
//! skipped.
//!
//! The run takes about 45 s (6.t and 14.t move hundreds of MiB, 11.t makes
//! two million round trips, 18.t is 100 threads of O_DIRECT reads).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

/// The cases libaio 0.3.113's harness has: 2 to 23 but for 9.
const CASES: &[u32] = &[
    2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
];

/// The cases left out under the io_uring backend (`LIBAIO_BACKEND=io_uring`,
/// `scripts/check-io-uring`), and why: they read the completion ring through
/// the handle without checking its header, which README.md's "The io_uring
/// backend" tells not to do under the backend (tests/io_uring_backend.rs
/// pins what such a reader sees).
const NOT_UNDER_THE_BACKEND: &[(u32, &str)] = &[
    (
        17,
        "reaps by reading the ring unchecked (user_getevents): under the backend it would \
         wait forever for an empty ring to fill",
    ),
    (
        19,
        "mremaps the ring and reads it unchecked: under the backend the moved page is not a \
         context",
    ),
];

/// The cases this run expects to pass.
fn cases() -> Vec<u32> {
    if !common::io_uring_backend() {
        return CASES.to_vec();
    }
    for (case, why) in NOT_UNDER_THE_BACKEND {
        println!("upstream_harness: case {case}.t left out under the io_uring backend: {why}");
    }
    CASES
        .iter()
        .copied()
        .filter(|c| NOT_UNDER_THE_BACKEND.iter().all(|(n, _)| n != c))
        .collect()
}

/// Copies `from` line by line to our stdout (so `--nocapture` shows the run
/// as it goes) and into `log`.
fn tee(from: impl Read, log: &Mutex<String>) {
    for line in BufReader::new(from).lines() {
        let line = line.unwrap_or_else(|e| format!("<unreadable output: {e}>"));
        println!("{line}");
        let mut log = log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    }
}

/// Parses the harness's last line, `Pass: P  Fail: F  Skip: S`.
fn summary(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.strip_prefix("Pass: ")?;
    let (pass, rest) = rest.split_once("  Fail: ")?;
    let (fail, skip) = rest.split_once("  Skip: ")?;
    Some((pass.parse().ok()?, fail.parse().ok()?, skip.parse().ok()?))
}

#[test]
fn upstream_harness_passes_every_case() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the upstream harness must run as root: cases 8 and 10 loop-mount ext2 images, and \
         fetching the source may need to add a deb-src entry; run `cargo test --test \
         upstream_harness` as root"
    );

    let cases = cases();
    let list: Vec<String> = cases.iter().map(u32::to_string).collect();
    let script = common::root().join("scripts/upstream-harness");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("--cases")
        .arg(list.join(" "))
        .env("LIBAIO_RS_LIBDIR", common::libdir())
        .env("LIBAIO_RS_INCLUDE", common::include_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));

    // Both streams into one log, in about the order they were written.
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let err_log = Arc::clone(&log);
    let err_thread = thread::spawn(move || tee(stderr, &err_log));
    tee(child.stdout.take().unwrap(), &log);
    err_thread.join().unwrap();
    let status = child.wait().expect("wait for the harness");
    let log = log.lock().unwrap().clone();

    let fail = |why: String| -> ! {
        panic!(
            "upstream harness: {why} ({status})\n--- harness output\n{log}--- end of harness output"
        );
    };

    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let Some((pass, failed, skipped)) = summary(last) else {
        fail(format!(
            "no `Pass: P  Fail: F  Skip: S` last line (last line: {last:?})"
        ));
    };
    let not_passed: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("Completed cases/") && !l.ends_with(" with 0."))
        .collect();
    if failed != 0 || skipped != 0 || !not_passed.is_empty() {
        fail(format!(
            "{failed} failed, {skipped} skipped; every case must pass:\n  {}",
            not_passed.join("\n  ")
        ));
    }
    for case in &cases {
        let line = format!("Completed cases/{case}.p with 0.");
        if !log.lines().any(|l| l == line) {
            fail(format!("case {case}.t did not run (no {line:?})"));
        }
    }
    if pass as usize != cases.len() {
        fail(format!("{pass} cases passed, expected {}", cases.len()));
    }
    if !status.success() {
        fail("the harness script failed".to_string());
    }
}
