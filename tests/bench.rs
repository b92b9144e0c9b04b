//! `make bench` itself: `bench/run` over a few cases, one short round each,
//! against the built library. Nothing here is about speed; the test checks
//! that the benchmark runs, that every aiobench run passed its own data
//! checks (a failed run leaves a hole in the report and a non-zero exit),
//! and the figures in its report that are exact: the system calls each
//! variant makes per operation, which are the library's documented
//! behaviour (no call for a zero timeout on an empty ring, io_queue_run
//! reaping 32 completions per call, user-space reaping making none on
//! `/dev/shm`, the io_uring backend reading `/dev/shm` inside io_submit).
//! It also checks that the run cleans up after itself (the slow device of a
//! slow-device case too) and that it refuses to compare the system libaio
//! with itself.

mod common;

use common::{libdir, root, scratch_dir, system_lib};
use std::fs;
use std::path::Path;
use std::process::Command;

/// The cells of the row of `table` (a `### ` section of the report) whose
/// first cell is `case`.
fn row(report: &str, table: &str, case: &str) -> Vec<String> {
    let section = report
        .split("\n### ")
        .find(|s| s.starts_with(table))
        .unwrap_or_else(|| panic!("no section {table:?} in the report:\n{report}"));
    let line = section
        .lines()
        .find(|l| l.starts_with(&format!("| {case} |")))
        .unwrap_or_else(|| panic!("no row {case:?} in {table:?}:\n{section}"));
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// What `bench/run` leaves in /dev/shm, in the loop devices' list and in
/// the mounts: the files and mounts named for a benchmark process
/// (`aiobench-<pid>...`, `.../bench/run-<pid>/...`) that is no longer
/// running, so that a benchmark running beside the test (another
/// checkout's) is not counted.
fn leftovers() -> Vec<String> {
    let finished = |name: &str, prefix: &str| {
        let pid: String = name
            .split(prefix)
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        pid.is_empty() || !Path::new("/proc").join(&pid).exists()
    };
    let of_a_finished_run = |name: &str| finished(name, "aiobench-");
    let mut found: Vec<String> = fs::read_dir("/dev/shm")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("aiobench-") && of_a_finished_run(n))
        .collect();
    let out = common::run_ok(Command::new("losetup").args(["-a"]));
    found.extend(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("aiobench-") && of_a_finished_run(l))
            .map(str::to_owned),
    );
    found.extend(
        fs::read_to_string("/proc/mounts")
            .unwrap()
            .lines()
            .filter(|l| l.contains("slowfs") || l.contains("/bench/run-"))
            .filter(|l| finished(l, "/bench/run-"))
            .map(str::to_owned),
    );
    found
}

fn bench_run(lib: &Path, scratch: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(root().join("bench/run"));
    cmd.arg("--lib")
        .arg(lib)
        .arg("--scratch")
        .arg(scratch)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("LIBAIO_USERSPACE_REAP");
    common::run_with_time_limit(&mut cmd, std::time::Duration::from_secs(600))
}

#[test]
fn the_benchmark_runs_and_counts_the_documented_system_calls() {
    let before = leftovers();
    let scratch = scratch_dir("bench");
    let out = bench_run(
        libdir(),
        &scratch,
        &[
            "--cases",
            "shm-qd1,loop-qd1,queuerun-32,empty,fio-qd1,hot-qd1",
            "--rounds",
            "1",
            "--fio-rounds",
            "1",
            "--slow-rounds",
            "1",
            "--secs",
            "0.02",
            "--warmup",
            "0.01",
            "--fio-secs",
            "0.3",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench/run failed ({}):\n{stderr}\n{report}",
        out.status
    );
    assert_eq!(
        fs::read_to_string(scratch.join("last-report.md")).unwrap(),
        report.trim_end().to_owned() + "\n",
        "the saved report differs from the printed one"
    );

    let shm = "4K rand read, /dev/shm, QD 1";
    let loop_dev = "4K rand read, loop dev (dio), QD 1";
    let empty = "io_getevents, zero timeout, empty ring";
    let queuerun = "io_queue_run, 32 callbacks per run";
    // Every variant of every case has a figure.
    for case in [shm, loop_dev, empty, queuerun] {
        let cells = row(&report, "Throughput", case);
        assert_eq!(cells.len(), 10, "{case}: {cells:?}");
        for cell in &cells[2..] {
            assert!(
                cell.chars().any(|c| c.is_ascii_digit()),
                "{case}: {cells:?}"
            );
        }
    }
    let fio = row(&report, "fio", "fio libaio 4K randread /dev/shm, iodepth 1");
    assert!(
        fio[1..]
            .iter()
            .all(|c| c.chars().any(|c| c.is_ascii_digit())),
        "{fio:?}"
    );

    // The io_uring backend on the slow device's hot file: a figure for each,
    // and for the two references (a bare io_uring instance, pread alone).
    let hot = row(
        &report,
        "io_uring backend",
        "4K rand read, buffered, hot page cache (ext4), QD 1",
    );
    assert_eq!(hot.len(), 8, "{hot:?}");
    assert!(
        hot[1..4]
            .iter()
            .chain(&hot[6..8])
            .all(|c| c.chars().any(|c| c.is_ascii_digit())),
        "{hot:?}"
    );

    // io_getevents calls (io_uring_enter for ours+uring) per 1000
    // operations: libaio, ours, ours+USR, ours+uring, raw. The backend reads
    // /dev/shm inside io_submit and takes the events in user space.
    let per_1000 = "io_getevents system calls per 1000 operations";
    assert_eq!(
        row(&report, per_1000, shm)[1..],
        ["1000", "1000", "0", "0", "1000"]
    );
    assert_eq!(
        row(&report, per_1000, empty)[1..],
        ["0", "0", "0", "0", "1000"]
    );
    assert_eq!(
        row(&report, per_1000, queuerun)[1..],
        ["1000", "31.2", "0", "0", "31.2"]
    );
    // All system calls per operation: io_submit and io_getevents per read
    // (ours+uring: one preadv2).
    let cost = row(&report, "Cost per operation", shm);
    assert_eq!(
        cost[1..6],
        ["2.00", "2.00", "1.00", "1.00", "2.00"],
        "{cost:?}"
    );
    // Instructions per call were measured for each variant.
    for cell in &cost[6..] {
        assert!(cell.parse::<f64>().is_ok_and(|v| v > 0.0), "{cost:?}");
    }

    assert_eq!(leftovers(), before, "bench/run left files or loop devices");
    let mut kept: Vec<String> = fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["aiobench", "last-report.md"]);
    fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn the_benchmark_refuses_to_compare_libaio_with_itself() {
    let scratch = scratch_dir("bench-self");
    let system_dir = system_lib().parent().unwrap().to_owned();
    let out = bench_run(
        &system_dir,
        &scratch,
        &["--cases", "empty", "--rounds", "1", "--no-counts"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "bench/run accepted the system libaio as ours"
    );
    assert!(
        stderr.contains("the system libaio and --lib are the same file"),
        "{stderr}"
    );
    fs::remove_dir_all(&scratch).unwrap();
}
