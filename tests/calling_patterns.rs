//! The library under the calling patterns real programs use and the other
//! tests do not: reaping from a signal handler that interrupted a reaper,
//! `io_destroy` while other threads are inside the reaping calls, and
//! children made without fork()'s handlers.
//!
//! Each case is a C program of `c-tests/tools/`, built against our header
//! and library, and where libaio defines the behaviour also against the
//! system's libaio, and run in libaio's reaping mode and with
//! `LIBAIO_USERSPACE_REAP=1`:
//!
//! - `signal_reap`: per-thread timer signals every 20 us whose handler reaps
//!   the context the interrupted thread is reaping (io_getevents,
//!   io_pgetevents, io_queue_run), 100,000 reads, one and four threads:
//!   every read completed exactly once, no hang; and again with handlers
//!   that also submit reads of their own to the same context;
//! - `destroy_race`: 10,000 contexts destroyed while reapers of every kind
//!   (zero, 1 ms and no timeout, io_pgetevents, io_queue_run) use them: no
//!   crash (libaio 0.3.113 crashes), no completion delivered twice, and
//!   every completion reaped before its destroy delivered;
//! - `raw_children`: children made with fork(), _Fork() and a raw clone
//!   system call get -EINVAL on their parent's context and leave its ring
//!   alone, as with libaio.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The reaping modes: libaio's, and user-space reaping.
const MODES: [Option<&str>; 2] = [None, Some("1")];

/// A program of c-tests/tools/, built (once per test process) against our
/// header and library, or the system's.
fn tool(name: &str, which: Which) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    // One build at a time, so that a test never runs a program another
    // test's linker is still writing (ETXTBSY); the program appears under
    // its name only when it is whole.
    static BUILDING: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| scratch_dir("calling-patterns"));
    let exe = dir.join(format!("{name}-{which:?}"));
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if exe.exists() {
        return exe;
    }
    let partial = dir.join(format!("{name}-{which:?}.partial"));
    let mut cc = Command::new("cc");
    cc.args(["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
        .arg(&partial)
        .arg(root().join(format!("c-tests/tools/{name}.c")));
    match which {
        Which::Ours => {
            cc.arg("-I")
                .arg(include_dir())
                .arg("-L")
                .arg(libdir())
                .arg(format!("-Wl,-rpath,{}", libdir().display()));
        }
        // The system header is in the default include path.
        Which::System => {}
    }
    cc.arg("-laio");
    build(&mut cc).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&partial, &exe).unwrap();
    exe
}

/// Runs `exe args` with the reaping mode `mode`, killed after a minute and
/// a half; returns what it printed, or why it failed.
fn run(exe: &Path, args: &[&str], mode: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("LIBAIO_USERSPACE_REAP");
    if let Some(value) = mode {
        cmd.env("LIBAIO_USERSPACE_REAP", value);
    }
    let label = format!(
        "{}-{}-{}",
        exe.file_name().unwrap().to_string_lossy(),
        args.join("-"),
        mode.unwrap_or("0")
    );
    let dir = exe.parent().unwrap();
    let finished = run_to_files(&mut cmd, dir, &label, hang_limit(Duration::from_secs(90)))?;
    if finished.status.success() {
        Ok(finished.stdout)
    } else {
        Err(format!("{label}: {}", finished.report()))
    }
}

/// The number after `label` in `text` (e.g. "duplicates 0").
fn figure(text: &str, label: &str) -> u64 {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        + label.len();
    text[start..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in:\n{text}"))
}

/// Runs `signal_reap 1|4 100000 extra...` against the system libaio and in
/// both of our reaping modes; checks that every read completed exactly once
/// and the handlers really ran and reaped, then hands the summary to
/// `check`. Failures to run are collected and reported together.
fn signal_reap_everywhere(extra: &[&str], check: impl Fn(&str, Which, &str)) {
    let mut runs = vec![(Which::System, None)];
    runs.extend(MODES.map(|mode| (Which::Ours, mode)));
    let mut failures = Vec::new();
    for (which, mode) in runs {
        for threads in ["1", "4"] {
            let what = format!("{which:?}, LIBAIO_USERSPACE_REAP={mode:?}, {threads} threads");
            let args: Vec<&str> = [threads, "100000"].iter().chain(extra).copied().collect();
            match run(&tool("signal_reap", which), &args, mode) {
                Err(e) => failures.push(format!("{what}: {e}")),
                Ok(out) => {
                    println!("{what}: {}", out.replace('\n', "; "));
                    // Exactly once (the program checks each read too).
                    assert_eq!(figure(&out, "reaped"), 100_000, "{what}");
                    assert_eq!(figure(&out, "duplicates"), 0, "{what}");
                    assert_eq!(figure(&out, "not exactly once"), 0, "{what}");
                    // The handlers really ran, and really reaped.
                    assert!(figure(&out, "handler runs") > 1000, "{what}: {out}");
                    assert!(
                        figure(&out, "completions reaped in handlers") > 1000,
                        "{what}: {out}"
                    );
                    check(&what, which, &out);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn signal_handlers_reap_the_context_the_interrupted_code_is_reaping() {
    signal_reap_everywhere(&[], |_, _, _| {});
}

#[test]
fn signal_handlers_submit_to_the_context_the_interrupted_code_is_using() {
    // Under the io_uring backend a handler that interrupted an io_submit on
    // the same context in the same thread gets -EAGAIN (README.md, the
    // backend's differences); with kernel AIO it never does here (the
    // context has room for every read in flight).
    let backend = io_uring_backend();
    signal_reap_everywhere(&["submit"], |what, which, out| {
        // Every read a handler submitted completed, once.
        let submitted = figure(out, "handler submissions");
        assert_eq!(figure(out, "completed"), submitted, "{what}");
        assert!(submitted > 1000, "{what}: {out}");
        let refused = figure(out, "refused with EAGAIN");
        if backend && which == Which::Ours {
            assert!(refused > 0, "{what}: {out}");
        } else {
            assert_eq!(refused, 0, "{what}: {out}");
        }
    });
}

#[test]
fn io_destroy_races_with_reapers_of_every_kind() {
    for mode in MODES {
        let what = format!("LIBAIO_USERSPACE_REAP={mode:?}");
        let out = run(&tool("destroy_race", Which::Ours), &["10000", "48"], mode)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        println!("{what}: {}", out.replace('\n', "; "));
        assert_eq!(figure(&out, "destroy races"), 10_000, "{what}");
        assert_eq!(figure(&out, "duplicates"), 0, "{what}");
        assert_eq!(figure(&out, "unexpected"), 0, "{what}");
        // Half the rounds wait for their completions before the destroy:
        // all of them delivered.
        assert_eq!(figure(&out, "delivered whole"), 5_000, "{what}");
        // The races happened: reapers called on destroyed contexts.
        assert!(figure(&out, "calls answered -EINVAL") > 10_000, "{what}");
    }
}

#[test]
fn children_made_without_fork_handlers_get_einval_on_their_parents_context() {
    for how in ["fork", "_Fork", "clone"] {
        let reference = run(&tool("raw_children", Which::System), &[how], None)
            .unwrap_or_else(|e| panic!("system libaio, {how}: {e}"));
        assert!(
            reference.contains("child: io_getevents, zero timeout = -EINVAL")
                && reference.contains("parent's completions still waiting 8")
                && reference.contains("parent: reaped 8"),
            "system libaio, {how}:\n{reference}"
        );
        for mode in MODES {
            let ours = run(&tool("raw_children", Which::Ours), &[how], mode)
                .unwrap_or_else(|e| panic!("ours, {how}, {mode:?}: {e}"));
            if io_uring_backend() {
                // The backend's handle is no ring: what the program counts
                // in it is always 0; every result is the same (README.md,
                // "The io_uring backend").
                let reference = reference.replace("waiting 8", "waiting 0");
                let reference = reference.replace("ring: 8", "ring: 0");
                assert_eq!(ours, reference, "{how}, LIBAIO_USERSPACE_REAP={mode:?}");
                continue;
            }
            assert_eq!(ours, reference, "{how}, LIBAIO_USERSPACE_REAP={mode:?}");
        }
    }
}
