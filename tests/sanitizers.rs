//! The C test programs, and a soak program, under memory checkers: valgrind
//! memcheck, and AddressSanitizer with UBSan.
//!
//! Every program of `c-tests/` (read with the markers `tests/c_programs.rs`
//! documents: plain programs with their companions, the old binary, the
//! static-archive user) is built again in scratch, for each checker, and run
//! against our library:
//!
//! - **memcheck**: built `-O2 -g`, run under `valgrind --leak-check=full
//!   --errors-for-leak-kinds=definite --error-exitcode=99`; every process
//!   (forked children too) must report no error and no definite leak.
//!   `c-tests/tools/valgrind.supp` suppresses only the reports of bad
//!   arguments that `real_io.c` passes on purpose; `c-tests/tools/valgrind_shims.c`
//!   works around two calls valgrind 3.19 cannot take (io_pgetevents, and
//!   io_submit with a negative count); both files say why.
//! - **AddressSanitizer + UBSan**: built `-O1 -g -fsanitize=address,undefined
//!   -fno-omit-frame-pointer -fno-sanitize-recover=all`, leak detection on;
//!   no report allowed. Our library itself is not instrumented (it is the
//!   shared object or archive the Makefile built) and calls no libc function
//!   that ASan intercepts, so its own reads and writes are memcheck's to
//!   check; everything it hands the programs is checked where they use it.
//!
//! The static-archive program runs as a dynamically linked executable with
//! `libaio.a` in it and as a shared object with `libaio.a` in it, linked and
//! dlopen()ed. Its fully static (`-static`) form is left out: ASan cannot
//! link it, and memcheck cannot replace malloc in it (no dynamic loader), so
//! leak checking is off there and static glibc's start-up code gives a
//! stream of uninitialised-value reports of its own. (`tests/c_programs.rs`
//! runs it natively.)
//!
//! `c-tests/tools/soak.c` adds volume: thousands of requests on rings of
//! several sizes, io_queue_run with and without callbacks, io_pgetevents
//! with signal masks, threads reaping one context, fork(); it runs with and
//! without `LIBAIO_USERSPACE_REAP=1`. `c-tests/tools/canary.c` plants errors
//! that each checker must catch, so that a clean report means something: a
//! leak (both), the library writing past an event array (memcheck), a signed
//! overflow (UBSan).
//! `c-tests/tools/ring_extent.c` shows why memcheck, left alone, reports
//! user-space reaping's reads of a ring's later pages. (Under valgrind the
//! library itself never reaps in user space: valgrind refuses the rseq
//! system call, so glibc registers no rseq area and the library leaves
//! every reap to the kernel, as it may with `LIBAIO_USERSPACE_REAP=1`.)
//!
//! Run with `LIBAIO_RS_LIBDIR=<repo>/build/lib cargo test --test sanitizers`.

mod common;

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{build, include_dir, libdir, root, scratch_dir};

/// Warnings are errors in every C file, and every build has debug
/// information for the checkers' stack traces.
const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Werror", "-g"];

/// The longest one program may run, under valgrind, before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(180);

/// `LIBAIO_RS_SOAK_ROUNDS` for the soak program.
const SOAK_ROUNDS: &str = "40";

/// The exit code valgrind gives a process in which it found errors.
const MEMCHECK_ERROR_EXIT: i32 = 99;

/// The exit code ASan gives a process in which it found errors.
const ASAN_ERROR_EXIT: i32 = 98;

/// Renames that route the two calls valgrind 3.19 cannot take through
/// `c-tests/tools/valgrind_shims.c`.
const VALGRIND_SHIM_DEFINES: &[&str] = &[
    "-Dio_pgetevents=libaio_rs_vg_io_pgetevents",
    "-Dio_submit=libaio_rs_vg_io_submit",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Checker {
    /// valgrind's memcheck.
    Memcheck,
    /// AddressSanitizer (with LeakSanitizer) and UBSan, compiled in.
    Asan,
}

impl Checker {
    fn name(self) -> &'static str {
        match self {
            Checker::Memcheck => "memcheck",
            Checker::Asan => "asan+ubsan",
        }
    }

    /// Compiler flags of every C file built for this checker.
    fn cflags(self) -> &'static [&'static str] {
        match self {
            Checker::Memcheck => &["-O2"],
            Checker::Asan => &[
                "-O1",
                "-fsanitize=address,undefined",
                "-fno-omit-frame-pointer",
                "-fno-sanitize-recover=all",
            ],
        }
    }
}

fn c_tests_dir() -> PathBuf {
    root().join("c-tests")
}

fn tools_dir() -> PathBuf {
    c_tests_dir().join("tools")
}

/// What a `c-tests/*.c` file is, from its markers.
#[derive(Debug)]
enum Kind {
    /// A program built against our header and library, with these
    /// companions (built against the system header) linked in.
    Plain(Vec<String>),
    /// Part of a plain program.
    Companion,
    /// Built against the system header and libaio, run against ours.
    OldBinary,
    /// Linked with our libaio.a.
    StaticArchive,
}

/// One `c-tests/*.c`.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    kind: Kind,
}

impl Source {
    fn stem(&self) -> String {
        self.path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

/// Every `c-tests/*.c`, in name order, with the markers `tests/c_programs.rs`
/// reads (`also-against-system-libaio` does not matter here: every program
/// runs against our library only).
fn sources() -> Vec<Source> {
    let mut paths: Vec<PathBuf> = fs::read_dir(c_tests_dir())
        .expect("read c-tests/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && path.extension() == Some(OsStr::new("c")))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            let mut companions = Vec::new();
            let mut kind = None;
            const MARKER: &str = "/* libaio-rs:";
            for (at, _) in text.match_indices(MARKER) {
                let body = &text[at + MARKER.len()..];
                let end = body.find("*/").expect("unterminated marker");
                let words: Vec<&str> = body[..end].split_whitespace().collect();
                match words.as_slice() {
                    ["companion"] => kind = Some(Kind::Companion),
                    ["old-binary"] => kind = Some(Kind::OldBinary),
                    ["static-archive"] => kind = Some(Kind::StaticArchive),
                    ["also-against-system-libaio"] => {}
                    ["with-system-header", other] => companions.push(other.to_string()),
                    _ => panic!(
                        "{}: unknown marker `libaio-rs: {}`",
                        path.display(),
                        words.join(" ")
                    ),
                }
            }
            Source {
                kind: kind.unwrap_or(Kind::Plain(companions)),
                path,
            }
        })
        .collect()
}

/// The C compiler: `$CC`, or `cc`.
fn cc() -> Command {
    Command::new(std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc")))
}

/// Our library directory, absolute, as the loader reports it.
fn our_libdir() -> PathBuf {
    fs::canonicalize(libdir()).unwrap_or_else(|e| panic!("{}: {e}", libdir().display()))
}

/// A program to run: an executable, its arguments and environment.
struct Target {
    label: String,
    exe: PathBuf,
    args: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
}

impl Target {
    fn new(label: impl Into<String>, exe: PathBuf) -> Target {
        Target {
            label: label.into(),
            exe,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    fn arg(mut self, arg: impl Into<OsString>) -> Target {
        self.args.push(arg.into());
        self
    }

    fn env(mut self, name: &'static str, value: impl Into<OsString>) -> Target {
        self.env.push((name, value.into()));
        self
    }

    /// Expects our libaio.so.1 to be the one loaded.
    fn ours(self) -> Target {
        self.env("LIBAIO_RS_EXPECT_LIB", common::our_lib())
    }

    /// A name usable in file names.
    fn slug(&self) -> String {
        self.label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    }
}

/// Builds the programs for one checker, in one scratch directory.
struct Builder {
    checker: Checker,
    dir: PathBuf,
    /// A copy of the system's libaio.h.
    system_include: PathBuf,
    /// valgrind_shims.c compiled, plain and position-independent (memcheck).
    shims: Option<(PathBuf, PathBuf)>,
}

impl Builder {
    fn new(checker: Checker, dir: PathBuf) -> Builder {
        let system_include = common::c_tests::system_include(&dir);
        let mut builder = Builder {
            checker,
            dir,
            system_include,
            shims: None,
        };
        if checker == Checker::Memcheck {
            let plain = builder.dir.join("valgrind_shims.o");
            let pic = builder.dir.join("valgrind_shims.pic.o");
            for (object, extra) in [(&plain, None), (&pic, Some("-fPIC"))] {
                builder
                    .compile(|cmd| {
                        cmd.arg("-I")
                            .arg(include_dir())
                            .args(extra)
                            .arg("-c")
                            .arg(tools_dir().join("valgrind_shims.c"))
                            .arg("-o")
                            .arg(object);
                    })
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            builder.shims = Some((plain, pic));
        }
        builder
    }

    /// Runs the compiler with this checker's flags and `args`.
    fn compile(&self, args: impl FnOnce(&mut Command)) -> Result<(), String> {
        let mut cmd = cc();
        cmd.args(WARNINGS).args(self.checker.cflags());
        args(&mut cmd);
        build(&mut cmd)
    }

    /// Flags to compile against our header (with the valgrind shims' renames
    /// for memcheck) and the shims' object to link in (`pic` for a shared
    /// object).
    fn our_header(&self, cmd: &mut Command, pic: bool) {
        cmd.arg("-I")
            .arg(include_dir())
            .arg("-I")
            .arg(c_tests_dir());
        if let Some((plain, pic_object)) = &self.shims {
            cmd.args(VALGRIND_SHIM_DEFINES)
                .arg(if pic { pic_object } else { plain });
        }
    }

    /// Links against our libaio.so, found through the run path.
    fn our_library(&self, cmd: &mut Command) {
        let lib = our_libdir();
        cmd.arg("-L")
            .arg(&lib)
            .arg("-laio")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-pthread");
    }

    /// A program built against our header and libaio.so: `source` and the
    /// `companions` (built against the system header).
    fn plain(&self, source: &Path, companions: &[String]) -> Result<PathBuf, String> {
        let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
        let mut objects = Vec::new();
        for other in companions {
            let object = self.dir.join(format!("{other}.o"));
            self.compile(|cmd| {
                cmd.arg("-I")
                    .arg(&self.system_include)
                    .arg("-c")
                    .arg(c_tests_dir().join(other))
                    .arg("-o")
                    .arg(&object);
            })?;
            objects.push(object);
        }
        let exe = self.dir.join(&stem);
        self.compile(|cmd| {
            self.our_header(cmd, false);
            cmd.arg(source).args(&objects);
            self.our_library(cmd);
            cmd.arg("-o").arg(&exe);
        })?;
        Ok(exe)
    }

    /// The targets of every program of `c-tests/`.
    fn c_programs(&self) -> Result<Vec<Target>, String> {
        let mut targets = Vec::new();
        for source in sources() {
            let stem = source.stem();
            match &source.kind {
                Kind::Companion => {}
                Kind::Plain(companions) => {
                    let exe = self.plain(&source.path, companions)?;
                    targets.push(Target::new(stem, exe).ours());
                }
                Kind::OldBinary => {
                    // Built as a program of its time: the system header and
                    // libaio; our directory comes first when it runs.
                    let exe = self.dir.join(&stem);
                    self.compile(|cmd| {
                        cmd.arg("-I")
                            .arg(&self.system_include)
                            .arg(&source.path)
                            .arg("-laio")
                            .arg("-pthread")
                            .arg("-o")
                            .arg(&exe);
                    })?;
                    targets.push(
                        Target::new(stem, exe)
                            .env("LD_LIBRARY_PATH", our_libdir())
                            .env("LIBAIO_RS_EXPECT_LIB", our_libdir().join("libaio.so.1")),
                    );
                }
                Kind::StaticArchive => targets.extend(self.static_archive(&source)?),
            }
        }
        Ok(targets)
    }

    /// The static-archive program as an executable with libaio.a in it, and
    /// as a shared object with libaio.a in it, linked and dlopen()ed.
    fn static_archive(&self, source: &Source) -> Result<Vec<Target>, String> {
        let stem = source.stem();
        let archive = libdir().join("libaio.a");
        let dynamic = self.dir.join(format!("{stem}-dynamic"));
        self.compile(|cmd| {
            self.our_header(cmd, false);
            cmd.arg(&source.path).arg(&archive).arg("-o").arg(&dynamic);
        })?;
        let dso = self.dir.join("libaio_rs_static_user.so");
        self.compile(|cmd| {
            self.our_header(cmd, true);
            cmd.arg("-DLIBAIO_RS_STATIC_DSO")
                .arg(&source.path)
                .args(["-shared", "-fPIC", "-Wl,-z,defs"])
                .arg(&archive)
                .arg("-o")
                .arg(&dso);
        })?;
        let linked = self.dir.join(format!("{stem}-loader-linked"));
        self.compile(|cmd| {
            cmd.arg("-I")
                .arg(include_dir())
                .arg("-DLIBAIO_RS_STATIC_LOADER_LINKED")
                .arg(&source.path)
                .arg("-L")
                .arg(&self.dir)
                .arg("-laio_rs_static_user")
                .arg(format!("-Wl,-rpath,{}", self.dir.display()))
                .arg("-o")
                .arg(&linked);
        })?;
        let dlopen = self.dir.join(format!("{stem}-loader-dlopen"));
        self.compile(|cmd| {
            cmd.arg("-I")
                .arg(include_dir())
                .arg("-DLIBAIO_RS_STATIC_LOADER_DLOPEN")
                .arg(&source.path)
                .arg("-ldl")
                .arg("-o")
                .arg(&dlopen);
        })?;
        Ok(vec![
            Target::new(format!("{stem} (executable)"), dynamic)
                .env("LIBAIO_RS_EXPECT_LIB", "none"),
            Target::new(format!("{stem} (shared object, linked)"), linked)
                .env("LIBAIO_RS_EXPECT_LIB", "none"),
            Target::new(format!("{stem} (shared object, dlopen)"), dlopen)
                .arg(&dso)
                .env("LIBAIO_RS_EXPECT_LIB", "none"),
        ])
    }

    /// A program of `c-tests/tools/`, built against our header and libaio.so.
    fn tool(&self, file: &str) -> Result<PathBuf, String> {
        self.plain(&tools_dir().join(file), &[])
    }

    /// The soak program, in both reaping modes.
    fn soak(&self) -> Result<Vec<Target>, String> {
        let exe = self.tool("soak.c")?;
        Ok(vec![
            Target::new("soak", exe.clone())
                .ours()
                .env("LIBAIO_RS_SOAK_ROUNDS", SOAK_ROUNDS),
            Target::new("soak (user-space reaping)", exe)
                .ours()
                .env("LIBAIO_RS_SOAK_ROUNDS", SOAK_ROUNDS)
                .env("LIBAIO_USERSPACE_REAP", "1"),
        ])
    }
}

/// What a program run under a checker left.
struct Finished {
    label: String,
    /// Its status and output.
    run: common::Finished,
    /// memcheck's log of each process (forked children have their own).
    logs: Vec<(PathBuf, String)>,
    elapsed: Duration,
}

impl Finished {
    fn report(&self) -> String {
        let mut text = format!("{}: {}", self.label, self.run.report());
        for (path, log) in &self.logs {
            let _ = write!(text, "--- {}\n{log}", path.display());
        }
        text
    }
}

/// Runs `target` under `checker`, with its output and logs in `dir`, killing
/// it after [`TIMEOUT`].
fn run_under(checker: Checker, target: &Target, dir: &Path) -> Result<Finished, String> {
    let slug = target.slug();
    let log_prefix = format!("{slug}.valgrind.");
    let mut cmd = match checker {
        Checker::Memcheck => {
            let mut cmd = Command::new("valgrind");
            cmd.args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
                "--num-callers=30",
            ])
            .arg(format!(
                "--suppressions={}",
                tools_dir().join("valgrind.supp").display()
            ))
            .arg(format!(
                "--log-file={}",
                dir.join(format!("{log_prefix}%p")).display()
            ))
            .arg("--")
            .arg(&target.exe);
            cmd
        }
        Checker::Asan => {
            let mut cmd = Command::new(&target.exe);
            cmd.env(
                "ASAN_OPTIONS",
                format!(
                    "detect_leaks=1:halt_on_error=1:exitcode={ASAN_ERROR_EXIT}:\
                     detect_stack_use_after_return=1:check_initialization_order=1:\
                     strict_string_checks=1"
                ),
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
            cmd
        }
    };
    cmd.args(&target.args)
        .env_remove("LD_PRELOAD")
        .env_remove("LD_DEBUG")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBAIO_USERSPACE_REAP")
        .env("TMPDIR", std::env::temp_dir());
    for (name, value) in &target.env {
        cmd.env(name, value);
    }
    let start = Instant::now();
    let run = common::run_to_files(&mut cmd, dir, &slug, TIMEOUT)
        .map_err(|e| format!("{}: {e}", target.label))?;
    let elapsed = start.elapsed();
    let mut logs: Vec<(PathBuf, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&log_prefix)
        })
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_default();
            (path, text)
        })
        .collect();
    logs.sort();
    Ok(Finished {
        label: target.label.clone(),
        run,
        logs,
        elapsed,
    })
}

/// What one process's memcheck log says.
#[derive(Default, Debug)]
struct MemcheckSummary {
    errors: u64,
    suppressed: u64,
    definitely_lost: u64,
    /// Calls of io_pgetevents valgrind refused (see valgrind_shims.c).
    unhandled_pgetevents: u64,
}

/// The first number after `key` in `text` (commas allowed), if any.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn memcheck_summary(log: &str) -> Result<MemcheckSummary, String> {
    let line = log
        .lines()
        .rev()
        .find(|line| line.contains("ERROR SUMMARY:"))
        .ok_or("no ERROR SUMMARY in the log (valgrind died?)")?;
    Ok(MemcheckSummary {
        errors: number_after(line, "ERROR SUMMARY:").ok_or("unreadable ERROR SUMMARY")?,
        suppressed: number_after(line, "(suppressed:").unwrap_or(0),
        definitely_lost: number_after(log, "definitely lost:").unwrap_or(0),
        unhandled_pgetevents: log.matches("unhandled amd64-linux syscall: 333").count() as u64,
    })
}

/// A clean memcheck run: exit 0, and in every process's log no error and
/// no definite leak. Returns a summary line.
fn memcheck_verdict(finished: &Finished) -> Result<String, String> {
    if !finished.run.status.success() {
        return Err(format!("failed\n{}", finished.report()));
    }
    if finished.logs.is_empty() {
        return Err(format!("no valgrind log\n{}", finished.report()));
    }
    let mut total = MemcheckSummary::default();
    for (path, log) in &finished.logs {
        let summary =
            memcheck_summary(log).map_err(|e| format!("{}: {e}\n{}", path.display(), log))?;
        if summary.errors != 0 || summary.definitely_lost != 0 {
            return Err(format!("memcheck found errors\n{}", finished.report()));
        }
        total.suppressed += summary.suppressed;
        total.unhandled_pgetevents += summary.unhandled_pgetevents;
    }
    Ok(format!(
        "exit 0, {} process(es), 0 errors ({} suppressed), 0 bytes definitely lost, \
         {} io_pgetevents emulated, {:.1} s",
        finished.logs.len(),
        total.suppressed,
        total.unhandled_pgetevents,
        finished.elapsed.as_secs_f64()
    ))
}

/// What ASan, LeakSanitizer and UBSan print when they find something.
const SANITIZER_REPORTS: &[&str] = &[
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: AddressSanitizer",
];

/// A clean sanitizer run: exit 0 and no report.
fn asan_verdict(finished: &Finished) -> Result<String, String> {
    if !finished.run.status.success()
        || SANITIZER_REPORTS
            .iter()
            .any(|report| finished.run.stderr.contains(report))
    {
        return Err(format!("failed\n{}", finished.report()));
    }
    Ok(format!(
        "exit 0, no report, {:.1} s",
        finished.elapsed.as_secs_f64()
    ))
}

/// Fails unless valgrind can run.
fn require_valgrind() {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(ok, "valgrind is missing: install it (scripts/test-deps)");
}

/// Runs every target under `checker` (in parallel), judging each with
/// `verdict`; prints a line per target and fails listing every failure.
fn run_all(
    checker: Checker,
    dir: &Path,
    targets: &[Target],
    verdict: fn(&Finished) -> Result<String, String>,
) {
    let results = common::check_in_parallel(targets, |target| {
        run_under(checker, target, dir).and_then(|f| verdict(&f))
    });
    let mut failures = String::new();
    for (target, result) in &results {
        match result {
            Ok(line) => println!("{}: {}: {line}", checker.name(), target.label),
            Err(e) => {
                let _ = writeln!(
                    failures,
                    "=== {} under {}: {e}",
                    target.label,
                    checker.name()
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// Builds the C programs and the soak program for `checker`.
fn all_targets(builder: &Builder) -> Vec<Target> {
    let mut targets = builder.c_programs().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        targets.len() >= 4,
        "expected the c-tests programs, found {} targets",
        targets.len()
    );
    targets.extend(builder.soak().unwrap_or_else(|e| panic!("{e}")));
    targets
}

#[test]
fn c_programs_and_soak_are_clean_under_memcheck() {
    require_valgrind();
    let dir = scratch_dir("sanitizers/memcheck");
    let builder = Builder::new(Checker::Memcheck, dir.clone());
    let targets = all_targets(&builder);
    run_all(Checker::Memcheck, &dir, &targets, memcheck_verdict);
}

#[test]
fn c_programs_and_soak_are_clean_under_asan_and_ubsan() {
    let dir = scratch_dir("sanitizers/asan");
    let builder = Builder::new(Checker::Asan, dir.clone());
    let targets = all_targets(&builder);
    run_all(Checker::Asan, &dir, &targets, asan_verdict);
}

/// Runs a canary and returns what it left; it must have failed.
fn canary(checker: Checker, builder: &Builder, exe: &Path, mode: &str) -> Finished {
    let target = Target::new(format!("canary {mode}"), exe.to_path_buf()).arg(mode);
    let finished = run_under(checker, &target, &builder.dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !finished.run.status.success(),
        "{} did not catch the planted error `{mode}`:\n{}",
        checker.name(),
        finished.report()
    );
    finished
}

#[test]
fn the_checkers_catch_planted_errors() {
    require_valgrind();
    for checker in [Checker::Memcheck, Checker::Asan] {
        let dir = scratch_dir(&format!("sanitizers/canary-{}", checker.name()));
        let builder = Builder::new(checker, dir);
        let exe = builder.tool("canary.c").unwrap_or_else(|e| panic!("{e}"));
        // (mode, exit code, what the report must say, and where)
        let expectations: &[(&str, i32, &[&str])] = match checker {
            Checker::Memcheck => &[
                (
                    "leak",
                    MEMCHECK_ERROR_EXIT,
                    &["definitely lost", "canary.c"],
                ),
                (
                    "event-overflow",
                    MEMCHECK_ERROR_EXIT,
                    &["Invalid write", "libaio.so", "overflow_callback"],
                ),
            ],
            Checker::Asan => &[
                (
                    "leak",
                    ASAN_ERROR_EXIT,
                    &["ERROR: LeakSanitizer", "canary.c"],
                ),
                // No event-overflow: the library is not instrumented and
                // calls no libc function that ASan intercepts, so its own
                // writes are memcheck's to catch.
                ("ubsan", 1, &["runtime error: signed integer overflow"]),
            ],
        };
        for &(mode, code, needles) in expectations {
            let finished = canary(checker, &builder, &exe, mode);
            let text = finished.report();
            assert_eq!(
                finished.run.status.code(),
                Some(code),
                "{} on `{mode}`: unexpected exit:\n{text}",
                checker.name()
            );
            for needle in needles {
                assert!(
                    text.contains(needle),
                    "{} on `{mode}`: no `{needle}` in the report:\n{text}",
                    checker.name()
                );
            }
            println!("{}: canary {mode}: caught", checker.name());
        }
    }
}

/// Why soak.c tells memcheck the size of each ring: valgrind registers only
/// PGROUNDUP(32 + 32 * nr_events) bytes of a new ring, fewer than the
/// kernel maps for most sizes (see `c-tests/tools/ring_extent.c`). The ring's
/// own header gives the true extent, which is never less.
#[test]
fn memcheck_knows_only_part_of_each_ring() {
    require_valgrind();
    let dir = scratch_dir("sanitizers/ring-extent");
    let builder = Builder::new(Checker::Memcheck, dir.clone());
    let exe = builder
        .tool("ring_extent.c")
        .unwrap_or_else(|e| panic!("{e}"));
    let finished = run_under(
        Checker::Memcheck,
        &Target::new("ring_extent", exe).ours(),
        &dir,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    memcheck_verdict(&finished).unwrap_or_else(|e| panic!("{e}"));
    let mut smaller = 0;
    for line in finished.run.stdout.lines() {
        // io_setup(N): ring nr R, kernel K bytes, memcheck M bytes
        let requested = number_after(line, "io_setup(").unwrap();
        let nr = number_after(line, "ring nr").unwrap();
        let kernel = number_after(line, "kernel").unwrap();
        let memcheck = number_after(line, "memcheck").unwrap();
        let page = 4096;
        assert!(nr >= requested, "{line}");
        assert_eq!(kernel, (32 + 32 * nr).div_ceil(page) * page, "{line}");
        assert!(
            memcheck <= kernel,
            "memcheck knows more than the ring: {line}"
        );
        if memcheck < kernel {
            smaller += 1;
        }
        println!("{line}");
    }
    assert!(
        finished.run.stdout.lines().count() >= 5,
        "{}",
        finished.report()
    );
    if smaller == 0 {
        println!(
            "valgrind now registers whole rings: soak.c's ring_known_to_memcheck() is no longer needed"
        );
    }
}
