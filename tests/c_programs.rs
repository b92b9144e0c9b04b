//! The C test programs of `c-tests/` (top level), compiled and run.
//!
//! Every `c-tests/*.c` is one program. Comment markers in its text say how
//! it is built and run:
//!
//! - no marker: compiled against our `include/libaio.h` with
//!   `-Wall -Wextra -Werror -O2`, linked with our libaio.so
//!   (`-L<libdir> -laio -Wl,-rpath,<libdir>`) and run; it must exit 0.
//! - `/* libaio-rs: with-system-header FILE */`: `c-tests/FILE` is compiled
//!   against a copy of the system's libaio.h and linked into the program.
//! - `/* libaio-rs: also-against-system-libaio */`: the program is also run
//!   with the system's libaio.so.1 first in `LD_LIBRARY_PATH`, so that its
//!   expectations are checked against libaio 0.3.113 itself.
//! - `/* libaio-rs: companion */`: not a program; another one's FILE.
//! - `/* libaio-rs: old-binary */`: built against the system header and
//!   libaio, run against both libraries (see [`old_binaries_bind_the_compat_symbols_to_our_library`]).
//! - `/* libaio-rs: static-archive */`: linked with our `libaio.a` into
//!   executables and a shared object (see [`static_archive_links_into_programs_and_shared_objects`]).
//!
//! The programs learn from `LIBAIO_RS_EXPECT_LIB` which libaio.so they must
//! find loaded ("none": none at all), and put their on-disk scratch files in
//! `TMPDIR`, removing them at once.
//!
//! Also here: the archive's symbol table, and fio running on our library.

mod common;

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::c_tests::{CFLAGS, Kind, Program, programs, system_include};
use common::{Finished, build, include_dir, libdir, scratch_dir, system_lib};

/// The longest any one program may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The ten functions libaio.a defines (their default versions).
const DEFAULT_NAMES: [&str; 10] = [
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_queue_init",
    "io_queue_release",
    "io_queue_run",
    "io_queue_wait",
    "io_setup",
    "io_submit",
];

/// The C compiler: `$CC`, or `cc`.
fn cc() -> Command {
    Command::new(std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc")))
}

/// Our library directory as an absolute path, as the dynamic loader will
/// print it when it finds the library through `LD_LIBRARY_PATH`.
fn our_libdir() -> PathBuf {
    fs::canonicalize(libdir()).unwrap_or_else(|e| panic!("{}: {e}", libdir().display()))
}

/// A command running `program` in a known environment: no preloads, no
/// loader debugging, no library path (callers add what they need), and
/// `TMPDIR` set for on-disk scratch files.
fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("LD_PRELOAD")
        .env_remove("LD_DEBUG")
        .env_remove("LD_DEBUG_OUTPUT")
        .env_remove("LD_LIBRARY_PATH")
        .env("TMPDIR", std::env::temp_dir());
    cmd
}

/// Runs `cmd` with its output in files under `dir` (named after `label`),
/// killing it after [`TIMEOUT`].
fn run_program(cmd: &mut Command, dir: &Path, label: &str) -> Result<Finished, String> {
    common::run_to_files(cmd, dir, label, TIMEOUT)
}

/// Runs `cmd`, which must exit 0; returns its standard output.
fn run_passing(cmd: &mut Command, dir: &Path, label: &str) -> Result<String, String> {
    let finished = run_program(cmd, dir, label)?;
    if finished.status.success() {
        Ok(finished.stdout)
    } else {
        Err(finished.report())
    }
}

/// [`common::c_tests::build_plain`] with `$CC` (or `cc`) and our library.
fn build_plain(program: &Program, dir: &Path, defines: &[&str]) -> Result<PathBuf, String> {
    let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
    common::c_tests::build_plain(program, dir, defines, &cc, libdir())
}

/// Builds and runs one plain program: against our library, and against the
/// system's if it asks to be. Returns what it printed.
fn check_plain(program: &Program) -> Result<String, String> {
    let dir = scratch_dir(&format!("c_programs/{}", program.stem()));
    let exe = build_plain(program, &dir, &[])?;
    let mut printed = run_passing(
        command(&exe).env("LIBAIO_RS_EXPECT_LIB", common::our_lib()),
        &dir,
        "ours",
    )
    .map_err(|e| format!("against our library: {e}"))?;
    if program.against_system {
        let system = system_lib();
        printed += &run_passing(
            command(&exe)
                .env("LD_LIBRARY_PATH", system.parent().unwrap())
                .env("LIBAIO_RS_EXPECT_LIB", &system),
            &dir,
            "system",
        )
        .map_err(|e| format!("against the system's libaio ({}): {e}", system.display()))?;
    }
    Ok(printed)
}

#[test]
fn every_c_program_passes() {
    let programs = programs();
    let companions: Vec<&str> = programs
        .iter()
        .flat_map(|p| &p.with_system_header)
        .map(String::as_str)
        .collect();
    for program in &programs {
        assert_eq!(
            program.kind == Kind::Companion,
            companions.contains(&program.file.as_str()),
            "c-tests/{}: a file is a companion exactly when a program names it in with-system-header",
            program.file
        );
    }
    let plain: Vec<&Program> = programs.iter().filter(|p| p.kind == Kind::Plain).collect();
    assert!(!plain.is_empty(), "no C test programs in c-tests/");

    let results = common::check_in_parallel(plain.iter().copied(), check_plain);

    let mut failures = String::new();
    for (program, result) in &results {
        match result {
            Ok(printed) => print!("c-tests/{}: passed\n{printed}", program.file),
            Err(e) => {
                let _ = writeln!(failures, "=== c-tests/{} FAILED {e}", program.file);
            }
        }
    }
    assert!(failures.is_empty(), "C test programs failed:\n{failures}");
}

/// The helper comparison can fail: a program built with
/// `LIBAIO_RS_MUTANT_HELPERS` breaks our helpers on purpose and must notice.
#[test]
fn helper_comparison_catches_an_altered_helper() {
    let mutants: Vec<Program> = programs()
        .into_iter()
        .filter(|p| !p.with_system_header.is_empty() && p.text.contains("LIBAIO_RS_MUTANT_HELPERS"))
        .collect();
    assert!(
        !mutants.is_empty(),
        "no program compares the helpers with LIBAIO_RS_MUTANT_HELPERS"
    );
    for program in &mutants {
        let dir = scratch_dir(&format!("c_programs/{}-mutant", program.stem()));
        let exe = build_plain(program, &dir, &["-DLIBAIO_RS_MUTANT_HELPERS"])
            .unwrap_or_else(|e| panic!("{e}"));
        let finished = run_program(
            command(&exe).env("LIBAIO_RS_EXPECT_LIB", common::our_lib()),
            &dir,
            "mutant",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            finished.status.code() == Some(1) && finished.stderr.contains("helpers differ"),
            "c-tests/{} did not catch the altered helpers: {}",
            program.file,
            finished.report()
        );
    }
}

/// Whether ld.so's `LD_DEBUG=bindings` output shows the reference of `from`
/// (as the loader names it) to `symbol` (version `version`, or any when
/// None) bound to the file `to`.
fn bound(debug: &str, from: &str, to: &Path, symbol: &str, version: Option<&str>) -> bool {
    let target = format!(" to {} [", to.display());
    let name = format!(": normal symbol `{symbol}'");
    debug.lines().any(|line| {
        let Some((requester, rest)) = line.split_once(" to ") else {
            return false;
        };
        let rest = format!(" to {rest}");
        requester.ends_with(&format!("binding file {from} [0]"))
            && rest.starts_with(&target)
            && rest.contains(&name)
            && version.is_none_or(|v| rest.ends_with(&format!("`{symbol}' [{v}]")))
    })
}

#[test]
fn old_binaries_bind_the_compat_symbols_to_our_library() {
    let old: Vec<Program> = programs()
        .into_iter()
        .filter(|p| p.kind == Kind::OldBinary)
        .collect();
    assert!(!old.is_empty(), "no old-binary program in c-tests/");
    let system = system_lib();
    let ours = our_libdir().join("libaio.so.1");
    for program in &old {
        let dir = scratch_dir(&format!("c_programs/{}", program.stem()));
        let inc = system_include(&dir);
        let exe = dir.join(program.stem());
        // Built as a program of its time: the system header and libaio.
        build(
            cc().args(CFLAGS)
                .arg("-I")
                .arg(&inc)
                .arg(&program.path)
                .arg("-o")
                .arg(&exe)
                .arg("-laio")
                .arg("-pthread"),
        )
        .unwrap_or_else(|e| panic!("c-tests/{}: {e}", program.file));

        let with_system = run_program(
            command(&exe)
                .env("LIBAIO_RS_EXPECT_LIB", &system)
                .env("LD_DEBUG", "bindings"),
            &dir,
            "system",
        )
        .unwrap_or_else(|e| panic!("c-tests/{}: {e}", program.file));
        assert!(
            with_system.status.success(),
            "c-tests/{} with the system's libaio failed: {}",
            program.file,
            with_system.report()
        );
        let from = exe.to_str().unwrap();
        // The binding check tells the libraries apart: not ours here.
        assert!(
            !bound(&with_system.stderr, from, &ours, "io_getevents", None),
            "c-tests/{}: bound to our library without LD_LIBRARY_PATH",
            program.file
        );

        let finished = run_program(
            command(&exe)
                .env("LD_LIBRARY_PATH", our_libdir())
                .env("LIBAIO_RS_EXPECT_LIB", &ours)
                .env("LD_DEBUG", "bindings"),
            &dir,
            "ours",
        )
        .unwrap_or_else(|e| panic!("c-tests/{}: {e}", program.file));
        assert!(
            finished.status.success(),
            "c-tests/{} with our library failed: {}",
            program.file,
            finished.report()
        );
        for (symbol, version) in [
            ("io_getevents", "LIBAIO_0.1"),
            ("io_cancel", "LIBAIO_0.1"),
            ("io_queue_wait", "LIBAIO_0.1"),
            ("io_submit", "LIBAIO_0.1"),
            ("io_setup", "LIBAIO_0.4"),
        ] {
            assert!(
                bound(&finished.stderr, from, &ours, symbol, Some(version)),
                "c-tests/{}: {symbol}@{version} is not bound to {}; LD_DEBUG=bindings said:\n{}",
                program.file,
                ours.display(),
                finished
                    .stderr
                    .lines()
                    .filter(|l| l.contains("libaio"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        print!(
            "c-tests/{}: passed with both libraries\n{}",
            program.file, finished.stdout
        );
    }
}

/// `readelf` output for `file`.
fn readelf(flag: &str, file: &Path) -> String {
    let out = common::run_ok(Command::new("readelf").arg("-W").arg(flag).arg(file));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn static_archive_links_into_programs_and_shared_objects() {
    let users: Vec<Program> = programs()
        .into_iter()
        .filter(|p| p.kind == Kind::StaticArchive)
        .collect();
    assert!(!users.is_empty(), "no static-archive program in c-tests/");
    let archive = libdir().join("libaio.a");
    for program in &users {
        let name = &program.file;
        let dir = scratch_dir(&format!("c_programs/{}", program.stem()));
        let compile = |defines: &[&str], extra: &[&OsStr], out: &Path| {
            build(
                cc().args(CFLAGS)
                    .args(defines)
                    .arg("-I")
                    .arg(include_dir())
                    .arg(&program.path)
                    .args(extra)
                    .arg("-o")
                    .arg(out),
            )
            .unwrap_or_else(|e| panic!("c-tests/{name}: {e}"))
        };
        let check = |cmd: &mut Command, label: &str| {
            cmd.env("LIBAIO_RS_EXPECT_LIB", "none");
            let printed = run_passing(cmd, &dir, label)
                .unwrap_or_else(|e| panic!("c-tests/{name} ({label}): {e}"));
            print!("{printed}");
        };

        // (a) A dynamically linked executable.
        let dynamic = dir.join("dynamic");
        compile(&[], &[archive.as_os_str()], &dynamic);
        assert!(
            !readelf("-d", &dynamic).contains("libaio"),
            "the executable needs a libaio.so"
        );
        check(&mut command(&dynamic), "dynamic");

        // (b) A fully static executable.
        let full = dir.join("static");
        compile(
            &["-DLIBAIO_RS_FULLY_STATIC"],
            &[OsStr::new("-static"), archive.as_os_str()],
            &full,
        );
        assert!(
            !readelf("-l", &full).contains("INTERP"),
            "the -static executable has an interpreter"
        );
        check(&mut command(&full), "static");

        // (c) A shared object, used by a program linked with it and by one
        // that dlopen()s it.
        let dso = dir.join("libaio_rs_static_user.so");
        compile(
            &["-DLIBAIO_RS_STATIC_DSO"],
            &[
                OsStr::new("-shared"),
                OsStr::new("-fPIC"),
                OsStr::new("-Wl,-z,defs"),
                archive.as_os_str(),
            ],
            &dso,
        );
        assert!(
            !readelf("-d", &dso).contains("libaio.so"),
            "the shared object needs a libaio.so"
        );
        let linked = dir.join("loader-linked");
        let rpath = format!("-Wl,-rpath,{}", dir.display());
        compile(
            &["-DLIBAIO_RS_STATIC_LOADER_LINKED"],
            &[
                OsStr::new("-L"),
                dir.as_os_str(),
                OsStr::new("-laio_rs_static_user"),
                OsStr::new(&rpath),
            ],
            &linked,
        );
        check(&mut command(&linked), "shared object, linked");
        let dlopen = dir.join("loader-dlopen");
        compile(
            &["-DLIBAIO_RS_STATIC_LOADER_DLOPEN"],
            &[OsStr::new("-ldl")],
            &dlopen,
        );
        check(command(&dlopen).arg(&dso), "shared object, dlopen");
    }
}

#[test]
fn static_archive_defines_only_the_ten_default_names() {
    let archive = libdir().join("libaio.a");
    let out = common::run_ok(
        Command::new("nm")
            .arg("-g")
            .arg("--defined-only")
            .arg(&archive),
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut globals: Vec<(String, String)> = listing
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.ends_with(':'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "unexpected nm line: {line}");
            (fields[2].to_string(), fields[1].to_string())
        })
        .collect();
    globals.sort();
    let names: Vec<&str> = globals.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        DEFAULT_NAMES,
        "global symbols of {}:\n{listing}",
        archive.display()
    );
    for (name, kind) in &globals {
        assert_eq!(
            kind,
            "T",
            "{name} is not a global function in {}:\n{listing}",
            archive.display()
        );
    }
}

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn fio_verifies_its_data_through_our_library() {
    let dir = scratch_dir("c_programs/fio");
    let data = RemoveOnDrop(PathBuf::from(format!(
        "/dev/shm/libaio-rs-fio-{}",
        std::process::id()
    )));
    let debug_prefix = dir.join("ld-debug");
    let mut cmd = command("fio");
    cmd.arg("--name=libaio-rs")
        .arg(format!("--filename={}", data.0.display()))
        .args([
            "--ioengine=libaio",
            "--direct=1",
            "--rw=randrw",
            "--bs=4k",
            "--size=8M",
            "--iodepth=16",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            "--exitall_on_error=1",
            // No verify state file in the working directory.
            "--verify_state_save=0",
        ])
        .current_dir(&dir)
        .env("LD_LIBRARY_PATH", our_libdir())
        .env_remove("LIBAIO_USERSPACE_REAP");
    // fio links the system's libaio.so.1; our directory must win.
    let finished = run_program(
        cmd.env("LD_DEBUG", "bindings")
            .env("LD_DEBUG_OUTPUT", &debug_prefix),
        &dir,
        "fio",
    )
    .unwrap_or_else(|e| panic!("fio: {e} (is fio installed? scripts/test-deps)"));
    assert!(
        data.0.exists(),
        "fio did not create {}: {}",
        data.0.display(),
        finished.report()
    );
    drop(data);
    assert!(
        finished.status.success(),
        "fio failed: {}",
        finished.report()
    );
    for expected in ["err= 0", "read: IOPS=", "write: IOPS="] {
        assert!(
            finished.stdout.contains(expected),
            "fio printed no `{expected}`: {}",
            finished.report()
        );
    }

    // LD_DEBUG_OUTPUT writes one file per process, named PREFIX.PID.
    let mut debug = String::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ld-debug.")
        {
            debug += &fs::read_to_string(&path).unwrap();
        }
    }
    let ours = our_libdir().join("libaio.so.1");
    for symbol in ["io_submit", "io_getevents"] {
        assert!(
            bound(&debug, "fio", &ours, symbol, None),
            "fio's {symbol} is not bound to {}; LD_DEBUG=bindings said:\n{}",
            ours.display(),
            debug
                .lines()
                .filter(|l| l.contains("libaio"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    print!("{}", finished.stdout);
}
