//! The 32-bit x86 build (`i686-unknown-linux-gnu`), cross-compiled and run
//! on this kernel beside Debian's own i386 libaio.
//!
//! - The library is cross-built with the Makefile into `target/cross-i686/`
//!   (its own `BUILD` and `CARGO_TARGET_DIR`, so the host build is never
//!   touched), after making sure the Rust target and Debian's cross compiler
//!   are there (a missing one is a failure, not a skip).
//! - Debian's i386 packages are the reference: bookworm's libaio1 0.3.113-4
//!   (`libaio.so.1.0.2`) and trixie's libaio1t64 0.3.113-8+b1
//!   (`libaio.so.1t64.0.2`), fetched once with apt-get and a private
//!   configuration (nothing is installed, the system's apt state is not
//!   touched). (Their exported symbols, version trees, SONAMEs and NEEDED
//!   entries are compared with ours by `tests/architectures.rs`, as on every
//!   architecture.)
//! - 32-bit C programs run against both: `c-tests/real_io.c`,
//!   `c-tests/helpers.c` (with `helpers_sys.c` against a copy of the
//!   system's architecture-independent libaio.h; a build with deliberately
//!   broken helpers must fail) and `c-tests/old_binary.c` (the `LIBAIO_0.1`
//!   symbols), and the programs of `tests/cross_i686/`, which also run
//!   linked with our `libaio.a`:
//!   `specifics.c` (errno kept across failing calls on the `syscall()` path,
//!   io_pgetevents and its retry with the widened sigset after `EINVAL`,
//!   checked with strace and compared with Debian's system calls),
//!   `time64.c` (built with `_TIME_BITS=64`: the `_time64` entry points of
//!   libaio.so.1t64, zero, short and beyond-2^31-second timeouts) and
//!   `queue_wait.c` (io_queue_wait must not compile with `_TIME_BITS=64`).
//!
//! Programs run through the cross toolchain's loader
//! (`/usr/i686-linux-gnu/lib/ld-linux.so.2`, linked in with
//! `--dynamic-linker`), with our library directory, or Debian's through
//! `LD_LIBRARY_PATH`, ahead of the cross libc in their RUNPATH.
//!
//! Known differences from Debian's i386 libraries, which the comparisons
//! allow for (each is a difference in system calls, not in results):
//! - io_queue_run asks the kernel for 32 events at a time (README.md);
//! - trixie's libaio.so.1t64 implements io_getevents with the io_pgetevents
//!   system call (sigmask NULL, falling back to io_getevents on `ENOSYS`),
//!   so its io_getevents retries after `EINVAL` too; ours makes the
//!   io_getevents system call, as bookworm's libaio.so.1 does;
//! - for a timeout beyond 2^31 seconds our `_time64` functions clamp tv_sec
//!   to 2^31 - 1, where trixie's keep its low 32 bits (2^40 seconds becomes
//!   0: no wait at all; `time64.c` expects each behaviour of its library).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::elf::dynamic;
use common::{Finished, build, debian_archive_package, root, run, run_ok, scratch_dir};

/// The Rust target the library is cross-built for.
const RUST_TARGET: &str = "i686-unknown-linux-gnu";

/// The cross toolchain's libc and dynamic loader (libc6-dev-i386-cross and
/// libc6-i386-cross).
const CROSS_LIBC_DIR: &str = "/usr/i686-linux-gnu/lib";
const LOADER: &str = "/usr/i686-linux-gnu/lib/ld-linux.so.2";

/// Warnings are errors in every C file.
const CFLAGS: &[&str] = &["-Wall", "-Wextra", "-Werror", "-O2"];

/// A 64-bit time_t (and off_t, which glibc requires with it).
const TIME64: &[&str] = &["-D_TIME_BITS=64", "-D_FILE_OFFSET_BITS=64"];

/// What our header says when io_queue_wait is called with `_TIME_BITS=64`.
const QUEUE_WAIT_ERROR: &str =
    "io_queue_wait takes a 32-bit struct timespec: not with _TIME_BITS=64";

/// The longest any one program may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The AIO system calls strace is asked to show (with `write`, for the
/// programs' markers). `io_pgetevents_time64` appears only where our
/// `_time64` functions get a context the library does not know (Debian's
/// library never uses the 64-bit-time system calls).
const TRACED: &str = "trace=io_setup,io_destroy,io_submit,io_cancel,io_getevents,\
                      io_pgetevents,io_pgetevents_time64,write";

/// A tool of Debian's i686 cross toolchain.
fn cross(tool: &str) -> String {
    format!("i686-linux-gnu-{tool}")
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The cross compiler, binutils, libc and strace must be installed.
fn check_tools() {
    for tool in ["gcc", "ld", "objcopy", "ar", "nm", "readelf"] {
        let name = cross(tool);
        assert!(
            runs(&name),
            "{name} is missing: install gcc-i686-linux-gnu and libc6-dev-i386-cross \
             (scripts/test-deps)"
        );
    }
    assert!(
        Path::new(LOADER).exists() && Path::new(CROSS_LIBC_DIR).join("libc.so.6").exists(),
        "{LOADER} is missing: install libc6-dev-i386-cross (scripts/test-deps)"
    );
    assert!(runs("strace"), "strace is missing (scripts/test-deps)");
}

/// Our 32-bit build's library directory (libaio.so.1, libaio.so.1t64,
/// libaio.a), cross-built once per test run (make does nothing when it is up
/// to date).
fn our_libdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        check_tools();
        common::ensure_rust_target(RUST_TARGET);
        let base = root().join("target/cross-i686");
        let cargo_dir = base.join("cargo");
        let start = Instant::now();
        run_ok(
            Command::new("make")
                .arg("-C")
                .arg(root())
                .arg("-s")
                .arg(format!("RUST_TARGET={RUST_TARGET}"))
                .arg(format!("CC={}", cross("gcc")))
                .arg(format!("LD={}", cross("ld")))
                .arg(format!("OBJCOPY={}", cross("objcopy")))
                .arg(format!("AR={}", cross("ar")))
                .arg(format!("BUILD={}", base.join("build").display()))
                .arg(format!("CARGO_TARGET_DIR={}", cargo_dir.display()))
                .env("CARGO_TARGET_DIR", &cargo_dir)
                // Not a sub-make of whatever make runs the tests.
                .env_remove("MAKEFLAGS")
                .env_remove("MFLAGS")
                .env_remove("MAKELEVEL")
                .arg("lib"),
        );
        println!("cross build (make lib): {:.1?}", start.elapsed());
        let dir = base.join("build/lib");
        fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
    })
}

/// Debian's i386 libraries, extracted.
struct Debian {
    /// bookworm's libaio1 0.3.113-4: the directory holding libaio.so.1.
    bookworm: PathBuf,
    /// trixie's libaio1t64 0.3.113-8+b1: the directory holding
    /// libaio.so.1t64.
    trixie: PathBuf,
}

fn debian() -> &'static Debian {
    static DEBIAN: OnceLock<Debian> = OnceLock::new();
    DEBIAN.get_or_init(|| Debian {
        bookworm: debian_package("bookworm", "libaio1", "0.3.113-4", "libaio.so.1.0.2"),
        trixie: debian_package("trixie", "libaio1t64", "0.3.113-8+b1", "libaio.so.1t64.0.2"),
    })
}

/// Debian's i386 `package` of `dist`, extracted (see
/// `common::debian_archive_package`): the directory holding `library`.
fn debian_package(dist: &str, package: &str, version: &str, library: &str) -> PathBuf {
    let libdir =
        debian_archive_package(dist, "i386", package, version).join("usr/lib/i386-linux-gnu");
    assert!(
        libdir.join(library).exists(),
        "no {library} in Debian's {package} {version}"
    );
    libdir
}

// ---------------------------------------------------------------------------
// Building and running 32-bit programs.

/// The C compiler, warnings as errors.
fn cc() -> Command {
    let mut cmd = Command::new(cross("gcc"));
    cmd.args(CFLAGS);
    cmd
}

fn build_ok(cmd: &mut Command) {
    build(cmd).unwrap_or_else(|e| panic!("{e}"));
}

/// How a program links with libaio.
#[derive(Clone, Copy)]
enum Link<'a> {
    /// `-L<dir> -l<name>`, e.g. `aio` or `:libaio.so.1t64`.
    Shared(&'a Path, &'a str),
    /// Our libaio.a.
    Static,
}

/// The linker options of a 32-bit program: the cross loader, and a RUNPATH
/// of `dirs` then the cross libc (LD_LIBRARY_PATH goes first).
fn link_options(cmd: &mut Command, link: Link, dirs: &[&Path]) {
    match link {
        Link::Shared(dir, name) => {
            cmd.arg("-L").arg(dir).arg(format!("-l{name}"));
        }
        Link::Static => {
            cmd.arg(our_libdir().join("libaio.a"));
        }
    }
    let mut runpath: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    runpath.push(CROSS_LIBC_DIR.to_owned());
    cmd.arg(format!("-Wl,--dynamic-linker={LOADER}"))
        .arg(format!("-Wl,-rpath,{}", runpath.join(":")))
        .arg("-Wl,--enable-new-dtags")
        .arg("-pthread");
}

fn c_tests() -> PathBuf {
    root().join("c-tests")
}

fn our_programs() -> PathBuf {
    root().join("tests/cross_i686")
}

/// Builds `source` against our header (and c-tests/testutil.h) with
/// `defines`, linked as `link` says, into `dir/name`.
fn build_program(
    dir: &Path,
    name: &str,
    source: &Path,
    defines: &[&str],
    extra_objects: &[PathBuf],
    link: Link,
) -> PathBuf {
    let exe = dir.join(name);
    let mut cmd = cc();
    cmd.args(defines)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(c_tests())
        .arg(source)
        .args(extra_objects)
        .arg("-o")
        .arg(&exe);
    let dirs: Vec<&Path> = match link {
        Link::Shared(dir, _) => vec![dir],
        Link::Static => vec![],
    };
    link_options(&mut cmd, link, &dirs);
    build_ok(&mut cmd);
    exe
}

/// Which libaio a run loads.
#[derive(Clone, Copy)]
enum Against<'a> {
    /// The one the program's RUNPATH finds: ours, at this path.
    Ours(&'a Path),
    /// The library at this path (Debian's, or ours for a program that
    /// does not find it by itself), its directory first in LD_LIBRARY_PATH.
    Path(&'a Path),
    /// None: linked with libaio.a.
    Nothing,
}

impl Against<'_> {
    fn label(&self) -> String {
        match self {
            Against::Ours(lib) => format!("ours ({})", lib.display()),
            Against::Path(lib) => lib.display().to_string(),
            Against::Nothing => "libaio.a".to_owned(),
        }
    }
}

/// A short name for output files.
fn tag(against: Against) -> &'static str {
    match against {
        Against::Ours(_) => "ours",
        Against::Path(_) => "debian",
        Against::Nothing => "static",
    }
}

/// A command running `exe` (through strace writing to `trace`, if given) in
/// a known environment, against `against`.
fn command(exe: &Path, against: Against, trace: Option<&Path>) -> Command {
    let mut cmd = match trace {
        Some(file) => {
            let mut cmd = Command::new("strace");
            cmd.args(["-qq", "-e", TRACED, "-e", "signal=none", "-o"])
                .arg(file)
                .arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.env_remove("LD_PRELOAD")
        .env_remove("LD_DEBUG")
        .env_remove("LD_DEBUG_OUTPUT")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LIBAIO_USERSPACE_REAP")
        .env_remove("LIBAIO_RS_TIME64_TRUNCATES")
        .env("TMPDIR", std::env::temp_dir());
    match against {
        Against::Ours(lib) => {
            cmd.env("LIBAIO_RS_EXPECT_LIB", lib);
        }
        Against::Path(lib) => {
            cmd.env("LD_LIBRARY_PATH", lib.parent().unwrap())
                .env("LIBAIO_RS_EXPECT_LIB", lib);
        }
        Against::Nothing => {
            cmd.env("LIBAIO_RS_EXPECT_LIB", "none");
        }
    }
    cmd
}

/// The scratch files the C programs make are named
/// `libaio-rs-c-<tag>-<pid>-XXXXXX` and unlinked at once: none may be left
/// in /dev/shm by a process that has exited.
fn check_no_leftovers() {
    let Ok(entries) = fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("libaio-rs-c-") else {
            continue;
        };
        let pid = rest.rsplit('-').nth(1).unwrap_or("");
        if pid.parse::<u32>().is_ok() {
            assert!(
                Path::new("/proc").join(pid).exists(),
                "/dev/shm/{name} was left behind by process {pid}"
            );
        }
    }
}

/// Runs `cmd` with its output in files under `dir` named after `label`,
/// killing it (and what it started) after [`TIMEOUT`]; then checks that it
/// left nothing behind.
fn run_program(cmd: &mut Command, dir: &Path, label: &str) -> Finished {
    let finished = common::run_to_files(cmd, dir, label, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    check_no_leftovers();
    finished
}

/// Runs a program that must exit 0; returns what it printed.
fn run_passing(cmd: &mut Command, dir: &Path, label: &str, what: &str) -> Finished {
    let finished = run_program(cmd, dir, label);
    assert!(
        finished.status.success(),
        "{what} failed: {}",
        finished.report()
    );
    print!("{what}: {}", finished.stdout);
    finished
}

// ---------------------------------------------------------------------------
// strace output, phase by phase.

/// Replaces what changes from run to run in a strace line: addresses, and
/// the contents of written buffers.
fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("aio_buf=\"") {
            // A quoted, escaped string, maybe followed by "...".
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            let tail = &after[end..];
            rest = tail.strip_prefix("...").unwrap_or(tail);
            out.push_str("aio_buf=DATA");
        } else if let Some(after) = rest.strip_prefix("0x") {
            let digits = after
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(after.len());
            out.push_str("ADDR");
            rest = &after[digits..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// One AIO system call of a trace, normalized, with the phases the program
/// had open (`write(-1, "@phase")` to `write(-1, "@phase-done")`).
struct Call {
    line: String,
    phases: Vec<String>,
}

/// The AIO system calls of a strace output file.
fn calls(trace: &Path) -> Vec<Call> {
    let text = fs::read_to_string(trace).unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
    let mut open: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("write(-1, \"@") {
            let name = rest.split('"').next().unwrap();
            match name.strip_suffix("-done") {
                Some(done) => {
                    assert_eq!(
                        open.pop().as_deref(),
                        Some(done),
                        "{}: phase markers out of order",
                        trace.display()
                    );
                }
                None => open.push(name.to_owned()),
            }
        } else if line.starts_with("io_") {
            calls.push(Call {
                line: normalize(line),
                phases: open.clone(),
            });
        }
    }
    assert!(
        open.is_empty(),
        "{}: unfinished phases {open:?}",
        trace.display()
    );
    calls
}

/// The calls made during `phase`.
fn in_phase<'a>(calls: &'a [Call], phase: &str) -> Vec<&'a str> {
    calls
        .iter()
        .filter(|c| c.phases.iter().any(|p| p == phase))
        .map(|c| c.line.as_str())
        .collect()
}

/// Asserts that `phase` made exactly the calls `expected` describes: for
/// each call, its name and strings its line must contain.
fn expect_phase(calls: &[Call], phase: &str, expected: &[(&str, &[&str])], what: &str) {
    let got = in_phase(calls, phase);
    let matches = got.len() == expected.len()
        && got.iter().zip(expected).all(|(line, (name, parts))| {
            line.starts_with(&format!("{name}(")) && parts.iter().all(|p| line.contains(p))
        });
    assert!(
        matches,
        "{what}, phase {phase}: expected the calls {expected:?}, strace showed:\n{}",
        got.join("\n")
    );
}

/// Asserts that two traces are the same outside the phases in `skip`.
fn same_calls(ours: &[Call], theirs: &[Call], skip: &[&str], what: &str) {
    let keep = |calls: &[Call]| -> Vec<String> {
        calls
            .iter()
            .filter(|c| !c.phases.iter().any(|p| skip.contains(&p.as_str())))
            .map(|c| c.line.clone())
            .collect()
    };
    let (a, b) = (keep(ours), keep(theirs));
    if a != b {
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: the system calls differ (first at call {first}):\n--- ours\n{}\n--- Debian's\n{}",
            a[first.min(a.len())..].join("\n"),
            b[first.min(b.len())..].join("\n")
        );
    }
}

/// Asserts that two traces made the same calls in each of `phases`.
fn same_phases(ours: &[Call], theirs: &[Call], phases: &[&str], what: &str) {
    for phase in phases {
        assert_eq!(
            in_phase(ours, phase),
            in_phase(theirs, phase),
            "{what}: the system calls of phase {phase} differ (left ours, right Debian's)"
        );
    }
}

// ---------------------------------------------------------------------------
// The programs.

/// c-tests/real_io.c, helpers.c (+ helpers_sys.c against the system
/// header) and old_binary.c, 32-bit, against our libraries and Debian's.
#[test]
fn c_tests_pass_on_i686_with_both_libraries() {
    let ours = our_libdir();
    let debian = debian();
    let dir = scratch_dir("cross_i686/c-tests");

    // real_io against libaio.so.1 (bookworm's, ours) and libaio.so.1t64
    // (trixie's, ours): with the usual 32-bit time_t it uses the same
    // functions of either.
    for (name, lib, theirs) in [
        ("aio", "libaio.so.1", debian.bookworm.join("libaio.so.1")),
        (
            ":libaio.so.1t64",
            "libaio.so.1t64",
            debian.trixie.join("libaio.so.1t64"),
        ),
    ] {
        let exe = build_program(
            &dir,
            &format!("real_io-{lib}"),
            &c_tests().join("real_io.c"),
            &[],
            &[],
            Link::Shared(ours, name),
        );
        assert_eq!(
            dynamic(&exe, "NEEDED")
                .iter()
                .filter(|n| n.contains("libaio"))
                .collect::<Vec<_>>(),
            [&format!("Shared library: [{lib}]")]
        );
        for against in [Against::Ours(&ours.join(lib)), Against::Path(&theirs)] {
            run_passing(
                &mut command(&exe, against, None),
                &dir,
                &format!("real_io-{lib}-{}", tag(against)),
                &format!("c-tests/real_io.c ({lib}) against {}", against.label()),
            );
        }
    }

    // helpers.c: our inline helpers against the system header's, byte for
    // byte, on the i386 layout.
    let inc = common::c_tests::system_include(&dir);
    let helpers_sys = dir.join("helpers_sys.o");
    build_ok(
        cc().arg("-I")
            .arg(&inc)
            .arg("-c")
            .arg(c_tests().join("helpers_sys.c"))
            .arg("-o")
            .arg(&helpers_sys),
    );
    let exe = build_program(
        &dir,
        "helpers",
        &c_tests().join("helpers.c"),
        &[],
        std::slice::from_ref(&helpers_sys),
        Link::Shared(ours, "aio"),
    );
    for against in [
        Against::Ours(&ours.join("libaio.so.1")),
        Against::Path(&debian.bookworm.join("libaio.so.1")),
    ] {
        run_passing(
            &mut command(&exe, against, None),
            &dir,
            &format!("helpers-{}", tag(against)),
            &format!("c-tests/helpers.c against {}", against.label()),
        );
    }
    // The comparison can fail: helpers broken on purpose must be caught.
    let mutant = build_program(
        &dir,
        "helpers-mutant",
        &c_tests().join("helpers.c"),
        &["-DLIBAIO_RS_MUTANT_HELPERS"],
        &[helpers_sys],
        Link::Shared(ours, "aio"),
    );
    let finished = run_program(
        &mut command(&mutant, Against::Ours(&ours.join("libaio.so.1")), None),
        &dir,
        "helpers-mutant",
    );
    assert!(
        finished.status.code() == Some(1) && finished.stderr.contains("helpers differ"),
        "c-tests/helpers.c did not catch the altered helpers: {}",
        finished.report()
    );

    // old_binary.c: built as an old i386 program against the system header
    // and Debian's libaio.so.1, run with each; its LIBAIO_0.1 references
    // must bind to our library.
    let exe = dir.join("old_binary");
    let mut cmd = cc();
    cmd.arg("-I")
        .arg(&inc)
        .arg("-I")
        .arg(c_tests())
        .arg(c_tests().join("old_binary.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&debian.bookworm)
        .arg("-l:libaio.so.1")
        .arg(format!("-Wl,--dynamic-linker={LOADER}"))
        .arg(format!("-Wl,-rpath,{CROSS_LIBC_DIR}"))
        .arg("-Wl,--enable-new-dtags")
        .arg("-pthread");
    build_ok(&mut cmd);
    let theirs = debian.bookworm.join("libaio.so.1");
    run_passing(
        &mut command(&exe, Against::Path(&theirs), None),
        &dir,
        "old_binary-debian",
        &format!("c-tests/old_binary.c against {}", theirs.display()),
    );
    let mine = ours.join("libaio.so.1");
    let finished = run_passing(
        command(&exe, Against::Path(&mine), None).env("LD_DEBUG", "bindings"),
        &dir,
        "old_binary-ours",
        &format!("c-tests/old_binary.c against {}", mine.display()),
    );
    for (symbol, version) in [
        ("io_getevents", "LIBAIO_0.1"),
        ("io_cancel", "LIBAIO_0.1"),
        ("io_queue_wait", "LIBAIO_0.1"),
        ("io_submit", "LIBAIO_0.1"),
        ("io_setup", "LIBAIO_0.4"),
    ] {
        assert!(
            bound(&finished.stderr, &exe, &mine, symbol, version),
            "old_binary: {symbol}@{version} is not bound to {}",
            mine.display()
        );
    }
}

/// Whether ld.so's `LD_DEBUG=bindings` output shows `from`'s reference to
/// `symbol` (version `version`) bound to the file `to`.
fn bound(debug: &str, from: &Path, to: &Path, symbol: &str, version: &str) -> bool {
    let requester = format!(
        "binding file {} [0] to {} [0]:",
        from.display(),
        to.display()
    );
    let name = format!(": normal symbol `{symbol}' [{version}]");
    debug
        .lines()
        .any(|line| line.contains(&requester) && line.ends_with(&name))
}

/// tests/cross_i686/specifics.c: errno on the syscall() path, and
/// io_pgetevents with and without a mask, its retry after EINVAL seen with
/// strace and compared with Debian's libraries.
#[test]
fn errno_and_pgetevents_on_i686() {
    let ours = our_libdir();
    let debian = debian();
    let dir = scratch_dir("cross_i686/specifics");
    let source = our_programs().join("specifics.c");

    // What our library must do, phase by phase (each call also keeps errno:
    // the program checks that).
    let check = |calls: &[Call], what: &str| {
        const NO_MASK: &str = "{sigmask=NULL, sigsetsize=8}";
        const MASK: &str = "{sigmask=[USR1], sigsetsize=8}";
        // The widened io_sigset_compat, as strace reads it with 32-bit words.
        const WIDENED: &str = ", sigsetsize=0})";
        const EINVAL: &str = "= -1 EINVAL";
        // EFAULT and EINTR: one call each, no retry.
        expect_phase(
            calls,
            "efault",
            &[
                ("io_getevents", &["= -1 EFAULT"]),
                ("io_pgetevents", &["sigsetsize=8}", "= -1 EFAULT"]),
            ],
            what,
        );
        expect_phase(
            calls,
            "eintr",
            &[(
                "io_pgetevents",
                &["{sigmask=[], sigsetsize=8}", "ERESTARTNOHAND"],
            )],
            what,
        );
        expect_phase(
            calls,
            "nomask",
            &[("io_pgetevents", &[NO_MASK, ") = 1"])],
            what,
        );
        expect_phase(calls, "mask", &[("io_pgetevents", &[MASK, ") = 1"])], what);
        expect_phase(
            calls,
            "timeout",
            &[
                ("io_pgetevents", &[NO_MASK, ") = 0"]),
                ("io_pgetevents", &[MASK, ") = 0"]),
            ],
            what,
        );
        expect_phase(
            calls,
            "einval",
            &[
                ("io_pgetevents", &[NO_MASK, EINVAL]),
                ("io_pgetevents", &["{sigmask=NULL", WIDENED, EINVAL]),
                ("io_pgetevents", &[MASK, EINVAL]),
                ("io_pgetevents", &["{sigmask=ADDR", WIDENED, EINVAL]),
            ],
            what,
        );
        expect_phase(
            calls,
            "getevents-einval",
            &[("io_getevents", &[EINVAL])],
            what,
        );
        expect_phase(calls, "zero", &[], what);
        assert!(
            !calls.iter().any(|c| c.line.contains("time64")),
            "{what}: a 64-bit-time system call"
        );
    };

    // Linked with libaio.so.1: ours against bookworm's, every call the same
    // but io_queue_run's.
    let exe = build_program(
        &dir,
        "specifics",
        &source,
        &[],
        &[],
        Link::Shared(ours, "aio"),
    );
    let trace_ours = dir.join("ours.trace");
    let mine = ours.join("libaio.so.1");
    run_passing(
        &mut command(&exe, Against::Ours(&mine), Some(&trace_ours)),
        &dir,
        "ours",
        "specifics.c against our libaio.so.1",
    );
    let ours_calls = calls(&trace_ours);
    check(&ours_calls, "our libaio.so.1");
    let trace_theirs = dir.join("bookworm.trace");
    let theirs = debian.bookworm.join("libaio.so.1");
    run_passing(
        &mut command(&exe, Against::Path(&theirs), Some(&trace_theirs)),
        &dir,
        "bookworm",
        "specifics.c against Debian's libaio.so.1",
    );
    let bookworm_calls = calls(&trace_theirs);
    check(&bookworm_calls, "Debian's libaio.so.1");
    same_calls(
        &ours_calls,
        &bookworm_calls,
        &["queue-run"],
        "specifics.c, our libaio.so.1 and bookworm's",
    );

    // Linked with libaio.so.1t64: ours against trixie's, which makes
    // io_getevents an io_pgetevents system call, so only the phases without
    // io_getevents calls compare.
    let exe = build_program(
        &dir,
        "specifics-t64",
        &source,
        &[],
        &[],
        Link::Shared(ours, ":libaio.so.1t64"),
    );
    let trace_ours = dir.join("ours-t64.trace");
    let mine = ours.join("libaio.so.1t64");
    run_passing(
        &mut command(&exe, Against::Ours(&mine), Some(&trace_ours)),
        &dir,
        "ours-t64",
        "specifics.c against our libaio.so.1t64",
    );
    let ours_calls = calls(&trace_ours);
    check(&ours_calls, "our libaio.so.1t64");
    let trace_theirs = dir.join("trixie.trace");
    let theirs = debian.trixie.join("libaio.so.1t64");
    run_passing(
        &mut command(&exe, Against::Path(&theirs), Some(&trace_theirs)),
        &dir,
        "trixie",
        "specifics.c against Debian's libaio.so.1t64",
    );
    same_phases(
        &ours_calls,
        &calls(&trace_theirs),
        &["eintr", "nomask", "mask", "timeout", "einval", "zero"],
        "specifics.c, our libaio.so.1t64 and trixie's",
    );

    // And with our libaio.a linked in.
    let exe = build_program(&dir, "specifics-static", &source, &[], &[], Link::Static);
    run_passing(
        &mut command(&exe, Against::Nothing, None),
        &dir,
        "static",
        "specifics.c with our libaio.a",
    );
}

/// tests/cross_i686/time64.c, built with `_TIME_BITS=64`: its calls resolve
/// to the `_time64` functions of libaio.so.1t64, which work with real I/O,
/// answer zero timeouts on an empty ring without a system call, pass short
/// timeouts intact and clamp those beyond 2^31 seconds.
#[test]
fn time64_programs_use_the_time64_functions() {
    let ours = our_libdir();
    let debian = debian();
    let dir = scratch_dir("cross_i686/time64");
    let source = our_programs().join("time64.c");
    let exe = build_program(
        &dir,
        "time64",
        &source,
        TIME64,
        &[],
        Link::Shared(ours, ":libaio.so.1t64"),
    );

    // The imports: the _time64 functions, never the 32-bit-time ones.
    let out = run_ok(Command::new(cross("nm")).arg("-D").arg(&exe));
    let imports: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("io_"))
        .map(str::to_owned)
        .collect();
    for name in [
        "io_getevents_time64@LIBAIO_0.6",
        "io_pgetevents_time64@LIBAIO_0.6",
    ] {
        assert!(imports.contains(name), "time64 lacks {name}: {imports:?}");
    }
    assert!(
        !imports
            .iter()
            .any(|s| s.starts_with("io_getevents@") || s.starts_with("io_pgetevents@")),
        "time64 imports a 32-bit-time function: {imports:?}"
    );
    assert_eq!(
        dynamic(&exe, "NEEDED")
            .iter()
            .filter(|n| n.contains("libaio"))
            .collect::<Vec<_>>(),
        ["Shared library: [libaio.so.1t64]"]
    );

    // The loader binds them to the LIBAIO_0.6 functions of the library
    // found: ours, and trixie's.
    let mine = ours.join("libaio.so.1t64");
    let theirs = debian.trixie.join("libaio.so.1t64");
    for against in [Against::Ours(&mine), Against::Path(&theirs)] {
        let (lib, label) = match against {
            Against::Ours(lib) => (lib, "bindings-ours"),
            Against::Path(lib) => (lib, "bindings-trixie"),
            Against::Nothing => unreachable!(),
        };
        let mut cmd = command(&exe, against, None);
        cmd.env("LD_DEBUG", "bindings");
        if matches!(against, Against::Path(_)) {
            cmd.env("LIBAIO_RS_TIME64_TRUNCATES", "1");
        }
        let what = format!("time64.c against {} (LD_DEBUG=bindings)", against.label());
        let finished = run_passing(&mut cmd, &dir, label, &what);
        for symbol in ["io_getevents_time64", "io_pgetevents_time64"] {
            assert!(
                bound(&finished.stderr, &exe, lib, symbol, "LIBAIO_0.6"),
                "{what}: {symbol}@LIBAIO_0.6 is not bound to {}; the loader said:\n{}",
                lib.display(),
                finished
                    .stderr
                    .lines()
                    .filter(|l| l.contains("normal symbol `io_"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }

    // The system calls, under strace.
    let trace_ours = dir.join("ours.trace");
    run_passing(
        &mut command(&exe, Against::Ours(&mine), Some(&trace_ours)),
        &dir,
        "ours",
        "time64.c against our libaio.so.1t64",
    );
    let ours_calls = calls(&trace_ours);
    let what = "time64.c against our libaio.so.1t64";
    const ZERO: &str = "{tv_sec=0, tv_nsec=0}";
    const SHORT: &str = "{tv_sec=0, tv_nsec=20000000}";
    const CLAMPED: &str = "{tv_sec=2147483647, tv_nsec=0}";
    const EINVAL: &str = "= -1 EINVAL";
    // 400 zero-timeout calls on an empty ring: not one system call.
    expect_phase(&ours_calls, "zero-empty", &[], what);
    // With an event in the ring: one call each, which returns it.
    expect_phase(
        &ours_calls,
        "zero-pending",
        &[("io_getevents", &[ZERO, ") = 1"])],
        what,
    );
    expect_phase(
        &ours_calls,
        "zero-pending-p",
        &[(
            "io_pgetevents",
            &[ZERO, "{sigmask=[USR1], sigsetsize=8}", ") = 1"],
        )],
        what,
    );
    expect_phase(
        &ours_calls,
        "short",
        &[
            ("io_getevents", &[SHORT, ") = 0"]),
            ("io_pgetevents", &[SHORT, ") = 0"]),
        ],
        what,
    );
    expect_phase(
        &ours_calls,
        "einval",
        &[
            ("io_pgetevents", &[SHORT, "sigsetsize=8}", EINVAL]),
            ("io_pgetevents", &[SHORT, "sigsetsize=0}", EINVAL]),
            ("io_getevents", &[SHORT, EINVAL]),
        ],
        what,
    );
    for i in 0..6 {
        let name = if i % 2 == 0 {
            "io_getevents"
        } else {
            "io_pgetevents"
        };
        expect_phase(
            &ours_calls,
            &format!("huge-{i}"),
            &[(name, &[CLAMPED, ") = 1"])],
            what,
        );
    }
    // Contexts the library does not know: the kernel reads the timeout,
    // with its 64-bit-time call; nowhere else.
    const TIME64_CALL: &str = "io_pgetevents_time64";
    expect_phase(
        &ours_calls,
        "unknown",
        &[
            (TIME64_CALL, &["(ADDR, 1, 1, ADDR, ADDR, NULL) = -1 EFAULT"]),
            (
                TIME64_CALL,
                &["ADDR, ADDR, {sigmask=[USR1], sigsetsize=8}) = -1 EFAULT"],
            ),
            (TIME64_CALL, &[SHORT, "NULL) = -1 EINVAL"]),
            (TIME64_CALL, &[SHORT, "sigsetsize=8}", EINVAL]),
            ("io_getevents", &["NULL) = -1 EINVAL"]),
        ],
        what,
    );
    assert!(
        !ours_calls
            .iter()
            .filter(|c| !c.phases.iter().any(|p| p == "unknown"))
            .any(|c| c.line.contains("time64")),
        "{what}: a 64-bit-time system call outside the unknown contexts"
    );

    // Trixie's: the same answers without a system call; its truncation of
    // timeouts beyond 2^31 seconds is what the program expects of it.
    let trace_theirs = dir.join("trixie.trace");
    run_passing(
        command(&exe, Against::Path(&theirs), Some(&trace_theirs))
            .env("LIBAIO_RS_TIME64_TRUNCATES", "1"),
        &dir,
        "trixie",
        "time64.c against Debian's libaio.so.1t64",
    );
    let trixie_calls = calls(&trace_theirs);
    same_phases(
        &ours_calls,
        &trixie_calls,
        &["zero-empty", "zero-pending-p"],
        "time64.c, our libaio.so.1t64 and trixie's",
    );

    // And with our libaio.a linked in.
    let exe = build_program(&dir, "time64-static", &source, TIME64, &[], Link::Static);
    run_passing(
        &mut command(&exe, Against::Nothing, None),
        &dir,
        "static",
        "time64.c with our libaio.a",
    );
}

/// io_queue_wait has no 64-bit-time version: with `_TIME_BITS=64` a call
/// of it is a compile error, with our header's message; without, it compiles.
#[test]
fn io_queue_wait_does_not_compile_with_time64() {
    check_tools();
    let dir = scratch_dir("cross_i686/queue_wait");
    let source = our_programs().join("queue_wait.c");
    for optimize in ["-O0", "-O2"] {
        let compile = |defines: &[&str]| {
            let mut cmd = cc();
            cmd.arg(optimize)
                .args(defines)
                .arg("-I")
                .arg(root().join("include"))
                .arg("-c")
                .arg(&source)
                .arg("-o")
                .arg(dir.join("queue_wait.o"));
            run(&mut cmd)
        };
        let out = compile(&[]);
        assert!(
            out.status.success(),
            "queue_wait.c {optimize} with a 32-bit time_t does not compile:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = compile(TIME64);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(QUEUE_WAIT_ERROR),
            "queue_wait.c {optimize} with _TIME_BITS=64: expected the error \
             \"{QUEUE_WAIT_ERROR}\", the compiler said ({}):\n{stderr}",
            out.status
        );
    }
    println!("io_queue_wait with _TIME_BITS=64: a compile error, as it should be");
}

#[test]
fn normalize_hides_addresses_and_buffers() {
    assert_eq!(
        normalize(r#"io_submit(0xf7d23000, 1, [{aio_buf="a\"b\\"..., aio_nbytes=4}]) = 1"#),
        "io_submit(ADDR, 1, [{aio_buf=DATA, aio_nbytes=4}]) = 1"
    );
    assert_eq!(normalize("io_setup(4, [0xf7d2])"), "io_setup(4, [ADDR])");
}
