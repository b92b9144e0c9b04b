//! The fuzz targets of `fuzz/`, run for a bounded time by `scripts/fuzz`:
//! random sequences of calls with random arguments against the library,
//! built with AddressSanitizer by cargo-fuzz. Any crash, sanitizer report,
//! broken invariant of the harness or hang fails the test, which prints
//! scripts/fuzz's report (the input, and how to replay it).
//!
//! Needs the nightly toolchain (cargo-fuzz builds with `-Zsanitizer`) and
//! cargo-fuzz, so `cargo test` leaves it out (`test = false` in Cargo.toml):
//! `make fuzz` installs both when missing and runs it (CI does, beside `make
//! check`). Without them the tests fail and say so. The fuzzing time is
//! `LIBAIO_RS_FUZZ_SECONDS` (default 45), shared by the two targets; the
//! first build takes a few minutes more.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The fuzzing time of the whole run, by default.
const DEFAULT_SECONDS: u32 = 45;

/// The two tests both build and run the fuzzer: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A command with what `cargo test` set for itself removed, so that cargo
/// commands run as if from a shell.
fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "CARGO",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTUP_TOOLCHAIN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|out| out.status.success())
}

/// Whether the nightly toolchain is there.
fn nightly_available() -> bool {
    succeeds(clean_command("cargo").args(["+nightly", "--version"]))
}

/// Takes the lock and checks the tools (missing ones fail the test).
fn prepare() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        nightly_available(),
        "no nightly toolchain, which cargo-fuzz needs: run `make fuzz`, which installs it"
    );
    assert!(
        succeeds(clean_command("cargo").args(["+nightly", "fuzz", "--version"])),
        "cargo-fuzz is missing: run `make fuzz`, which installs it"
    );
    Some(guard)
}

/// Runs `scripts/fuzz` with `args` and `env`.
fn run_fuzz(args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = clean_command(root().join("scripts/fuzz"));
    cmd.args(args).current_dir(root());
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("run scripts/fuzz")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The fuzzer finds nothing in `LIBAIO_RS_FUZZ_SECONDS` (default 45).
#[test]
fn fuzzing_finds_no_crash() {
    let Some(_serial) = prepare() else { return };
    let seconds = std::env::var("LIBAIO_RS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(DEFAULT_SECONDS);
    let out = run_fuzz(&[&seconds.to_string()], &[]);
    let report = text(&out);
    assert!(out.status.success(), "scripts/fuzz failed: {report}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("fuzz: ")) {
        println!("{line}");
    }
    // fuzz: total: N inputs in S s (R/s), no crash
    let total: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("fuzz: total: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in the report: {report}"));
    assert!(total > 0, "the fuzzer ran no input: {report}");
}

/// A crash does fail the run: with `LIBAIO_RS_FUZZ_PLANTED_CRASH=1` the
/// harness fails on purpose on inputs starting with `!`, which the fuzzer
/// soon makes; scripts/fuzz must exit non-zero, report the panic and keep
/// the input. (Its corpus and artifacts go to a scratch directory.)
#[test]
fn a_planted_crash_fails_the_fuzz_run() {
    let Some(_serial) = prepare() else { return };
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-planted-crash");
    let _ = std::fs::remove_dir_all(&scratch);
    let (seeds, artifacts, work) = (
        scratch.join("seeds"),
        scratch.join("artifacts"),
        scratch.join("work"),
    );
    for dir in [&seeds, &artifacts, &work] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(seeds.join("seed"), b"x").unwrap();
    let out = run_fuzz(
        &["30", "calls"],
        &[
            ("FUZZ_SEEDS", seeds.as_os_str()),
            ("FUZZ_ARTIFACTS", artifacts.as_os_str()),
            ("FUZZ_WORK_DIR", work.as_os_str()),
            ("FUZZ_JOBS", OsStr::new("1")),
            ("LIBAIO_RS_FUZZ_PLANTED_CRASH", OsStr::new("1")),
        ],
    );
    let report = text(&out);
    assert!(
        !out.status.success(),
        "scripts/fuzz passed despite the planted crash: {report}"
    );
    for needle in ["FAILED", "the planted crash", "LIBAIO_RS_FUZZ_TRACE=1"] {
        assert!(report.contains(needle), "no `{needle}` in: {report}");
    }
    let saved = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("crash-"))
        .count();
    assert!(saved > 0, "no crash input saved in {}", artifacts.display());
    println!("the planted crash was reported and its input saved");
}
