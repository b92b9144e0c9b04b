//! Real programs from Debian's packages, linked against the system libaio,
//! run with our library swapped in: fio (`ioengine=libaio`), qemu-img
//! (`aio=native`) and sysbench (`fileio --file-io-mode=async`).
//!
//! Every run is made with one of the two ways of swapping a library in
//! (`LD_LIBRARY_PATH=<libdir>` or `LD_PRELOAD=<libdir>/libaio.so.1`) and
//! proves that our library served it:
//!
//! - `LD_DEBUG=bindings` shows each libaio function the program imports
//!   (read from its dynamic symbol table with `nm -D`) bound to our file, with
//!   the version the program asks for; and the system's libaio is not loaded
//!   at all (with `LD_PRELOAD`, because the preloaded object's SONAME,
//!   `libaio.so.1`, already satisfies the program's NEEDED entry);
//! - `strace` counts the AIO system calls the run made, so the bound
//!   functions were actually used (the programs are linked with `BIND_NOW`,
//!   so bindings alone would show up even if a program never called them);
//! - the program's own data check passed: fio's `verify=crc32c`, a byte
//!   comparison of what qemu-img copied or wrote, sysbench's `--validate`.
//!
//! The checks themselves are tested: the bindings check rejects a run against
//! the system library, the fio check rejects a run that did not verify or
//! whose verification failed, the system-call count sees `io_getevents` where
//! it is made, and a copy of fio needing `libaio.so.1t64` does not start
//! without our directory.
//!
//! Files go to `/dev/shm` (tmpfs, which takes `O_DIRECT`) under unique names,
//! or to a scratch directory under `target/` for the on-disk runs; all are
//! removed afterwards. A program that hangs is killed after [`DEADLINE`]
//! (a guard against hangs, not a timing assertion).
//!
//! Run with `LIBAIO_RS_LIBDIR=/work/main/build/lib cargo test --test
//! real_programs` (add `-- --nocapture` to see each run's system-call counts).

mod common;

use common::{Fs, io_uring_backend, libdir, root, run_ok, scratch_dir, system_lib};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A run still going after this long is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(120);

/// The AIO system calls `strace` counts, and the io_uring backend's (its
/// instance, its submissions and waits, and the reads and writes it does
/// inside io_submit).
const AIO_SYSCALLS: &str = "io_setup,io_destroy,io_submit,io_cancel,io_getevents,io_pgetevents,\
                            io_uring_setup,io_uring_enter,preadv2,pwritev2";

/// Whether `run` did its asynchronous I/O through our library as it
/// should: the kernel's AIO calls, or under the io_uring backend
/// (README.md, "The io_uring backend"), the backend's: its contexts made
/// with io_uring_setup (after an io_setup(0, ctxp) that lets the kernel
/// check the handle's address), nothing submitted with io_submit, the I/O
/// submitted with io_uring_enter or done with preadv2/pwritev2.
fn did_aio(run: &Run) -> bool {
    if io_uring_backend() {
        run.calls("io_uring_setup") >= 1
            && run.calls("io_submit") == 0
            && run.calls("io_uring_enter") + run.calls("preadv2") + run.calls("pwritev2") >= 1
    } else {
        run.calls("io_setup") >= 1 && run.calls("io_submit") >= 1
    }
}

/// Whether `run` reaped completions in the kernel: io_getevents calls, or
/// under the io_uring backend, which reaps in user space and waits in
/// io_uring_enter, true (nothing to see).
fn reaped_in_the_kernel(run: &Run) -> bool {
    io_uring_backend() || run.calls("io_getevents") > 0
}

// ---------------------------------------------------------------------------
// Programs

/// The path of `name` from `$PATH`; fails the test, pointing at
/// scripts/test-deps, when it is not installed.
fn installed(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: run {}/scripts/test-deps as root \
                 (it installs fio, qemu-utils, sysbench, strace and patchelf)",
                root().display()
            )
        })
}

/// An installed program and the libaio functions it imports.
struct Program {
    path: PathBuf,
    /// `(name, version)` of every `LIBAIO_*` symbol the program imports.
    imports: Vec<(String, String)>,
}

impl Program {
    /// `name` from `$PATH`; fails the test, pointing at scripts/test-deps,
    /// when it is not installed.
    fn installed(name: &str) -> Program {
        Program::at(installed(name))
    }

    /// The program at `path`.
    fn at(path: PathBuf) -> Program {
        let out = run_ok(
            Command::new("nm")
                .args(["-D", "--undefined-only"])
                .arg(&path),
        );
        let imports = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().last())
            .filter_map(|sym| sym.split_once('@'))
            .filter(|(_, version)| version.starts_with("LIBAIO_"))
            .map(|(name, version)| (name.to_string(), version.to_string()))
            .collect();
        Program { path, imports }
    }

    /// Asserts the program imports each of `names` from libaio.
    fn assert_imports(&self, names: &[&str]) {
        for name in names {
            assert!(
                self.imports.iter().any(|(n, _)| n == name),
                "{} does not import {name} from libaio (imports: {:?}); is it \
                 still linked against libaio.so.1?",
                self.path.display(),
                self.imports
            );
        }
    }

    /// The name the dynamic linker gives the main program in its debug
    /// output: `argv[0]`, which is the path we run it by.
    fn debug_name(&self) -> String {
        self.path.display().to_string()
    }
}

fn fio() -> Program {
    let p = Program::installed("fio");
    p.assert_imports(&["io_queue_init", "io_submit", "io_getevents", "io_destroy"]);
    p
}

fn qemu_img() -> Program {
    let p = Program::installed("qemu-img");
    // QEMU's linux-aio code never calls io_getevents: it reads completions
    // from the ring itself, through the io_context_t io_setup returned.
    p.assert_imports(&["io_setup", "io_submit", "io_destroy"]);
    p
}

fn sysbench() -> Program {
    let p = Program::installed("sysbench");
    p.assert_imports(&["io_queue_init", "io_submit", "io_getevents"]);
    p
}

/// Our libaio.so.1.
fn our_lib() -> PathBuf {
    libdir().join("libaio.so.1")
}

/// Our libaio.so.1t64.
fn our_t64_lib() -> PathBuf {
    libdir().join("libaio.so.1t64")
}

// ---------------------------------------------------------------------------
// Scratch files

/// A file or directory removed when dropped (also when a test fails).
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            let _ = fs::remove_file(&self.0);
        }
    }
}

/// A unique path for a data file: in `/dev/shm`, or in `dir` (on disk).
fn data_path(fs: Fs, dir: &Path, tag: &str) -> Remove {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let name = format!("libaio-rs-real-programs-{}-{tag}-{n}", std::process::id());
    Remove(match fs {
        Fs::Shm => Path::new("/dev/shm").join(name),
        Fs::Disk => dir.join(name),
    })
}

/// A scratch directory under `target/`, removed afterwards.
fn scratch(name: &str) -> Remove {
    Remove(scratch_dir(&format!("real_programs-{name}")))
}

/// `len` random bytes (from the kernel: quick even in a debug build).
fn random_bytes(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut out = vec![0; len];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut out))
        .unwrap();
    out
}

/// The offset of the first byte where `a` and `b` differ, if they do.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    Some(
        a.iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len())),
    )
}

// ---------------------------------------------------------------------------
// Running a program with our library swapped in

/// How our library replaces the system's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Swap {
    /// `LD_LIBRARY_PATH=<libdir>`.
    LibraryPath,
    /// `LD_PRELOAD=<libdir>/libaio.so.1`.
    Preload,
    /// Neither: the program gets the system's libaio (for the checks that
    /// must fail).
    System,
}

/// One program run: what to run and how.
struct Invocation<'a> {
    program: &'a Program,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    cwd: PathBuf,
    /// Run under `strace -f` and count the AIO system calls.
    trace: bool,
}

impl<'a> Invocation<'a> {
    fn new(program: &'a Program, cwd: &Path) -> Invocation<'a> {
        Invocation {
            program,
            args: Vec::new(),
            env: Vec::new(),
            cwd: cwd.to_path_buf(),
            trace: true,
        }
    }

    fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    fn args<S: Into<OsString>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn env(mut self, name: &'static str, value: &str) -> Self {
        self.env.push((name, value.to_string()));
        self
    }

    fn untraced(mut self) -> Self {
        self.trace = false;
        self
    }
}

/// One `binding file FROM to TO: normal symbol `NAME' [VERSION]` line of
/// `LD_DEBUG=bindings`.
#[derive(Debug)]
struct Binding {
    from: String,
    to: String,
    symbol: String,
    version: Option<String>,
}

/// What `LD_DEBUG=bindings` said about a run.
#[derive(Debug, Default)]
struct Bindings {
    /// The bindings of libaio's functions (`io_*`), and every binding from
    /// or to a file named like libaio; the thousands of others are dropped.
    bindings: Vec<Binding>,
    /// Every object named in the log: as the source or target of a binding,
    /// or by `calling init:` / `calling fini:`.
    objects: BTreeSet<String>,
}

impl Bindings {
    /// Parses the `LD_DEBUG` output (lines `   PID:\tMESSAGE`).
    fn parse(text: &str) -> Bindings {
        let mut out = Bindings::default();
        for line in text.lines() {
            let Some((_, message)) = line.split_once(":\t") else {
                continue;
            };
            if let Some(b) = parse_binding(message) {
                for file in [b.from, b.to] {
                    if !out.objects.contains(file) {
                        out.objects.insert(file.to_string());
                    }
                }
                if b.symbol.starts_with("io_")
                    || b.from.contains("libaio")
                    || b.to.contains("libaio")
                {
                    out.bindings.push(Binding {
                        from: b.from.to_string(),
                        to: b.to.to_string(),
                        symbol: b.symbol.to_string(),
                        version: b.version.map(str::to_string),
                    });
                }
            } else if let Some(rest) = message
                .strip_prefix("calling init: ")
                .or_else(|| message.strip_prefix("calling fini: "))
            {
                let file = rest.strip_suffix(" [0]").unwrap_or(rest);
                out.objects.insert(file.trim().to_string());
            }
        }
        out
    }

    /// Whether the file at `lib` (by its canonical path) is among the
    /// objects the log names.
    fn loaded(&self, lib: &Path) -> bool {
        let want = canonical(lib);
        self.objects
            .iter()
            .any(|o| o.starts_with('/') && canonical(Path::new(o)) == want)
    }

    /// The libaio-related lines, for failure messages.
    fn libaio_lines(&self) -> String {
        self.bindings
            .iter()
            .filter(|b| b.to.contains("libaio") || b.from.contains("libaio"))
            .map(|b| {
                format!(
                    "  {} -> {}: {} [{}]",
                    b.from,
                    b.to,
                    b.symbol,
                    b.version.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One binding line, borrowed from the log.
struct BindingLine<'a> {
    from: &'a str,
    to: &'a str,
    symbol: &'a str,
    version: Option<&'a str>,
}

/// `binding file FROM [NS] to TO [NS]: KIND symbol `NAME'[ [VERSION]]`.
fn parse_binding(message: &str) -> Option<BindingLine<'_>> {
    let rest = message.strip_prefix("binding file ")?;
    let (from, rest) = rest.split_once("] to ")?;
    let from = from.rsplit_once(" [")?.0;
    let (to, rest) = rest.split_once("]: ")?;
    let to = to.rsplit_once(" [")?.0;
    let (_, rest) = rest.split_once(" symbol `")?;
    let (symbol, rest) = rest.split_once('\'')?;
    let version = rest
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'));
    Some(BindingLine {
        from,
        to,
        symbol,
        version,
    })
}

/// `path` with every symbolic link resolved (the path itself if it cannot be).
fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A finished run.
struct Run {
    label: String,
    command: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    bindings: Bindings,
    /// AIO system calls made, by name (when traced).
    syscalls: BTreeMap<String, usize>,
}

impl Run {
    /// The run, for failure messages.
    fn report(&self) -> String {
        fn tail(s: &str) -> &str {
            let start = s.len().saturating_sub(6000);
            let start = (start..=s.len())
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(s.len());
            &s[start..]
        }
        format!(
            "{}: {}\n  exit: {}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}\n--- libaio bindings\n{}\n--- AIO system calls: {:?}",
            self.label,
            self.command,
            self.status,
            tail(&self.stdout),
            tail(&self.stderr),
            self.bindings.libaio_lines(),
            self.syscalls
        )
    }

    fn calls(&self, syscall: &str) -> usize {
        self.syscalls.get(syscall).copied().unwrap_or(0)
    }

    fn assert_success(&self) {
        assert!(self.status.success(), "run failed:\n{}", self.report());
    }
}

/// Runs `inv` with our library swapped in as `swap` says, with
/// `LD_DEBUG=bindings` (output in `dir`, files named after `label`) and, if
/// asked, under strace; returns the output, the parsed bindings and the
/// system-call counts.
fn run_swapped(inv: &Invocation, swap: Swap, dir: &Path, label: &str) -> Run {
    let debug_prefix = dir.join(format!("{label}.ld-debug"));
    let strace_out = dir.join(format!("{label}.strace"));
    let mut cmd = if inv.trace {
        let mut c = Command::new(installed("strace"));
        c.args(["-f", "-qq", "--seccomp-bpf", "-e"])
            .arg(format!("trace={AIO_SYSCALLS}"))
            .arg("-o")
            .arg(&strace_out)
            .arg(&inv.program.path);
        c
    } else {
        Command::new(&inv.program.path)
    };
    cmd.args(&inv.args)
        .current_dir(&inv.cwd)
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_DEBUG")
        .env_remove("LD_DEBUG_OUTPUT")
        .env_remove("LD_BIND_NOW")
        .env_remove("LIBAIO_USERSPACE_REAP")
        .env("TMPDIR", dir)
        .env("LD_DEBUG", "bindings")
        .env("LD_DEBUG_OUTPUT", &debug_prefix);
    match swap {
        Swap::LibraryPath => {
            cmd.env("LD_LIBRARY_PATH", libdir());
        }
        Swap::Preload => {
            cmd.env("LD_PRELOAD", our_lib());
        }
        Swap::System => {}
    }
    for (name, value) in &inv.env {
        cmd.env(name, value);
    }
    let command = format!(
        "{}{} {}",
        inv.env
            .iter()
            .map(|(n, v)| format!("{n}={v} "))
            .collect::<String>(),
        match swap {
            Swap::LibraryPath => format!("LD_LIBRARY_PATH={}", libdir().display()),
            Swap::Preload => format!("LD_PRELOAD={}", our_lib().display()),
            Swap::System => "(system libaio)".to_string(),
        },
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );

    let stdout_path = dir.join(format!("{label}.stdout"));
    let stderr_path = dir.join(format!("{label}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label}: `{command}` still running after {DEADLINE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };

    // LD_DEBUG_OUTPUT writes one file per process, PREFIX.PID.
    let prefix = format!("{label}.ld-debug.");
    let mut debug = String::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        {
            debug += &String::from_utf8_lossy(&fs::read(&path).unwrap());
            fs::remove_file(&path).unwrap();
        }
    }
    let mut syscalls = BTreeMap::new();
    if inv.trace {
        let text = fs::read_to_string(&strace_out).unwrap_or_default();
        for line in text.lines() {
            // `PID name(args) = result`, or `PID name(args <unfinished ...>`:
            // each call starts one such line.
            let Some((_, call)) = line.split_once(' ') else {
                continue;
            };
            if let Some((name, _)) = call.trim_start().split_once('(') {
                if AIO_SYSCALLS.split(',').any(|traced| traced.trim() == name) {
                    *syscalls.entry(name.to_string()).or_insert(0) += 1;
                }
            }
        }
        let _ = fs::remove_file(&strace_out);
    }
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = fs::remove_file(&stdout_path);
    let _ = fs::remove_file(&stderr_path);
    Run {
        label: label.to_string(),
        command,
        status,
        stdout,
        stderr,
        bindings: Bindings::parse(&debug),
        syscalls,
    }
}

/// Checks that each libaio function `program` imports was bound, with the
/// version it asks for, to the file `lib`, and that none of `absent` was
/// loaded at all.
fn check_served(run: &Run, program: &Program, lib: &Path, absent: &[&Path]) -> Result<(), String> {
    let from = program.debug_name();
    let want = canonical(lib);
    let mut problems = Vec::new();
    if program.imports.is_empty() {
        problems.push(format!("{from} imports nothing from libaio"));
    }
    for (name, version) in &program.imports {
        let found: Vec<&Binding> = run
            .bindings
            .bindings
            .iter()
            .filter(|b| b.from == from && &b.symbol == name)
            .collect();
        if found.is_empty() {
            problems.push(format!("no binding of {name} from {from}"));
        }
        for b in found {
            if canonical(Path::new(&b.to)) != want {
                problems.push(format!(
                    "{name} is bound to {}, not {}",
                    b.to,
                    lib.display()
                ));
            }
            if b.version.as_deref() != Some(version.as_str()) {
                problems.push(format!(
                    "{name} bound with version {:?}, not {version}",
                    b.version
                ));
            }
        }
    }
    for other in absent {
        if run.bindings.loaded(other) {
            problems.push(format!("{} was loaded", canonical(other).display()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Asserts the run was served by our libaio.so.1 and the system's libaio was
/// never loaded.
fn assert_served_by_ours(run: &Run, program: &Program) {
    if let Err(e) = check_served(run, program, &our_lib(), &[&system_lib()]) {
        panic!("not served by our library:\n{e}\n\n{}", run.report());
    }
}

// ---------------------------------------------------------------------------
// A small JSON reader, for fio's --output-format=json

#[derive(Debug)]
enum Json {
    /// A number, `true`, `false` or `null`, as written.
    Scalar(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let start = text.find('{').ok_or("no JSON object")?;
        let mut p = JsonParser {
            s: &text.as_bytes()[start..],
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at byte {}", start + p.i));
        }
        Ok(v)
    }

    fn get(&self, key: &str) -> Result<&Json, String> {
        match self {
            Json::Obj(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("no key {key:?}")),
            _ => Err(format!("not an object where {key:?} was expected")),
        }
    }

    fn path(&self, keys: &[&str]) -> Result<&Json, String> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    fn u64(&self) -> Result<u64, String> {
        match self {
            Json::Scalar(n) => n.parse().map_err(|e| format!("{n}: {e}")),
            other => Err(format!("not a number: {other:?}")),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let Json::Str(key) = self.value()? else {
                        return self.err("expected a key");
                    };
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected `:`");
                    }
                    self.i += 1;
                    members.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected `,` or `]`"),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.i) {
                        None => return self.err("unterminated string"),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Json::Str(String::from_utf8_lossy(&out).into_owned()));
                        }
                        Some(b'\\') => {
                            let c = *self.s.get(self.i + 1).ok_or("JSON: bad escape")?;
                            self.i += 2;
                            match c {
                                b'n' => out.push(b'\n'),
                                b't' => out.push(b'\t'),
                                b'r' => out.push(b'\r'),
                                b'b' => out.push(8),
                                b'f' => out.push(12),
                                b'u' => {
                                    // Kept as written: the tests read no such strings.
                                    out.extend_from_slice(b"\\u");
                                }
                                other => out.push(other),
                            }
                        }
                        Some(&c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric()
                        || matches!(self.s[self.i], b'-' | b'+' | b'.'))
                {
                    self.i += 1;
                }
                let word = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                if word.is_empty() {
                    return self.err("unexpected character");
                }
                Ok(Json::Scalar(word))
            }
            None => self.err("unexpected end"),
        }
    }
}

// ---------------------------------------------------------------------------
// fio

/// Bytes each fio job reads and writes over.
const FIO_SIZE: u64 = 4 << 20;

/// One fio job of the matrix.
struct FioCase {
    name: &'static str,
    fs: Fs,
    bs: u64,
    args: &'static [&'static str],
    /// fio's own `userspace_reap=1` (with `iodepth_batch_complete_min=0`):
    /// fio reads the ring through the io_context_t itself. Never combined
    /// with our `LIBAIO_USERSPACE_REAP=1`: two reapers on one ring.
    fio_reaps: bool,
    /// fio asks io_getevents for at least one event (complete_min >= 1), so
    /// without user-space reaping every reap is a system call.
    blocking_reap: bool,
}

const FIO_MATRIX: &[FioCase] = &[
    FioCase {
        name: "qd1",
        fs: Fs::Shm,
        bs: 4096,
        args: &["--iodepth=1"],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "qd64",
        fs: Fs::Shm,
        bs: 4096,
        args: &["--iodepth=64"],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "qd64-batch16-complete8to32",
        fs: Fs::Shm,
        bs: 4096,
        args: &[
            "--iodepth=64",
            "--iodepth_batch_submit=16",
            "--iodepth_batch_complete_min=8",
            "--iodepth_batch_complete_max=32",
        ],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "qd64-batch64-complete64",
        fs: Fs::Shm,
        bs: 4096,
        args: &[
            "--iodepth=64",
            "--iodepth_batch_submit=64",
            "--iodepth_batch_complete_min=64",
            "--iodepth_batch_complete_max=64",
        ],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "qd32-poll-complete0to16",
        fs: Fs::Shm,
        bs: 4096,
        args: &[
            "--iodepth=32",
            "--iodepth_batch_submit=8",
            "--iodepth_batch_complete_min=0",
            "--iodepth_batch_complete_max=16",
        ],
        fio_reaps: false,
        blocking_reap: false,
    },
    FioCase {
        name: "bs64k-qd16-batch4",
        fs: Fs::Shm,
        bs: 65536,
        args: &["--iodepth=16", "--iodepth_batch_submit=4"],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "disk-qd16",
        fs: Fs::Disk,
        bs: 4096,
        args: &["--iodepth=16"],
        fio_reaps: false,
        blocking_reap: true,
    },
    FioCase {
        name: "fio-userspace-reap-qd32",
        fs: Fs::Shm,
        bs: 4096,
        args: &[
            "--iodepth=32",
            "--iodepth_batch_complete_min=0",
            "--userspace_reap=1",
        ],
        fio_reaps: true,
        blocking_reap: false,
    },
];

/// What a fio job did.
#[derive(Debug)]
struct FioStats {
    reads: u64,
    writes: u64,
}

/// A fio run of one job and where its JSON report went.
struct FioRun {
    run: Run,
    json: String,
}

/// A fio job: random reads and writes over `FIO_SIZE` bytes of a fresh file,
/// O_DIRECT, crc32c verification (fatal), plus `extra` options.
fn fio_invocation<'a>(
    fio: &'a Program,
    dir: &Path,
    data: &Path,
    bs: u64,
    extra: &[&str],
    json: &Path,
) -> Invocation<'a> {
    Invocation::new(fio, dir)
        .arg("--name=libaio-rs")
        .arg(format!("--filename={}", data.display()))
        .args([
            "--ioengine=libaio",
            "--direct=1",
            "--rw=randrw",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            // No verify state files in the working directory.
            "--verify_state_save=0",
            "--output-format=json",
        ])
        .arg(format!("--bs={bs}"))
        .arg(format!("--size={FIO_SIZE}"))
        .arg(format!("--output={}", json.display()))
        .args(extra.iter().copied())
}

/// Where and how a fio job runs: the file system, block size and extra
/// options.
struct FioJob<'a> {
    fs: Fs,
    bs: u64,
    extra: &'a [&'a str],
}

/// Runs one fio job as `fio_invocation` makes it; removes the data file.
fn run_fio(
    fio: &Program,
    dir: &Path,
    label: &str,
    job: FioJob,
    swap: Swap,
    env: &[(&'static str, &str)],
) -> FioRun {
    let data = data_path(job.fs, dir, label);
    let json_path = dir.join(format!("{label}.json"));
    let mut inv = fio_invocation(fio, dir, &data.0, job.bs, job.extra, &json_path);
    for (name, value) in env {
        inv = inv.env(name, value);
    }
    let run = run_swapped(&inv, swap, dir, label);
    assert!(
        data.0.exists(),
        "fio did not create {}:\n{}",
        data.0.display(),
        run.report()
    );
    drop(data);
    let json = fs::read_to_string(&json_path).unwrap_or_default();
    let _ = fs::remove_file(&json_path);
    FioRun { run, json }
}

/// Checks that a fio run of [`fio_invocation`]'s job succeeded, did I/O and
/// verified every block it wrote.
///
/// With `rw=randrw` fio visits each of the `size / bs` blocks once, reading
/// or writing it; then, with `do_verify=1`, it reads back and checks every
/// block it wrote. So the reads it reports (verify reads included) are
/// exactly one per block: fewer means blocks written were not verified.
fn check_fio(f: &FioRun, bs: u64) -> Result<FioStats, String> {
    if !f.run.status.success() {
        return Err(format!("fio exited with {}", f.run.status));
    }
    let doc = Json::parse(&f.json).map_err(|e| format!("fio's JSON: {e}"))?;
    let Json::Arr(jobs) = doc.get("jobs")? else {
        return Err("`jobs` is not an array".into());
    };
    let [job] = jobs.as_slice() else {
        return Err(format!("{} jobs, expected 1", jobs.len()));
    };
    let error = job.get("error")?.u64()?;
    if error != 0 {
        return Err(format!("fio reported error {error}"));
    }
    let get = |dir: &str, key: &str| job.path(&[dir, key]).and_then(Json::u64);
    let (reads, writes) = (get("read", "total_ios")?, get("write", "total_ios")?);
    for dir in ["read", "write"] {
        if get(dir, "short_ios")? != 0 || get(dir, "drop_ios")? != 0 {
            return Err(format!("short or dropped {dir}s"));
        }
        if get(dir, "io_bytes")? != get(dir, "total_ios")? * bs {
            return Err(format!("{dir}: io_bytes is not total_ios * bs"));
        }
    }
    let blocks = FIO_SIZE / bs;
    if writes == 0 {
        return Err("fio wrote nothing".into());
    }
    if reads != blocks {
        return Err(format!(
            "fio made {reads} reads over {blocks} blocks with {writes} writes: \
             expected {blocks} (each block read or written once, then each \
             written block read back and verified)"
        ));
    }
    Ok(FioStats { reads, writes })
}

/// Runs the whole matrix with `swap` (and our user-space reaping if
/// `our_reap`), checking each run.
fn fio_matrix(swap: Swap, our_reap: bool) {
    let fio = fio();
    let tag = format!(
        "fio-{}{}",
        match swap {
            Swap::LibraryPath => "ld-library-path",
            Swap::Preload => "ld-preload",
            Swap::System => "system",
        },
        if our_reap { "-our-reap" } else { "" }
    );
    let dir = scratch(&tag);
    let env: &[(&str, &str)] = if our_reap {
        &[("LIBAIO_USERSPACE_REAP", "1")]
    } else {
        &[]
    };
    let mut ran = 0;
    for case in FIO_MATRIX {
        if our_reap && case.fio_reaps {
            // Two reapers of one ring: unsafe (see README), not done.
            continue;
        }
        let label = format!("{tag}-{}", case.name);
        let job = FioJob {
            fs: case.fs,
            bs: case.bs,
            extra: case.args,
        };
        let f = run_fio(&fio, &dir.0, &label, job, swap, env);
        assert_served_by_ours(&f.run, &fio);
        let stats =
            check_fio(&f, case.bs).unwrap_or_else(|e| panic!("{label}: {e}\n\n{}", f.run.report()));
        assert!(
            did_aio(&f.run),
            "{label}: no io_setup/io_submit system calls:\n{}",
            f.run.report()
        );
        if case.fio_reaps {
            // fio reaps from the ring at the address our io_setup returned
            // (it checks the ring's magic number first and calls
            // io_getevents if it does not match).
            assert_eq!(
                f.run.calls("io_getevents"),
                0,
                "{label}: fio's userspace_reap did not read the ring through our io_context_t:\n{}",
                f.run.report()
            );
        } else if case.blocking_reap && !our_reap {
            // The control for the zero above: blocking reaps are system calls.
            assert!(
                reaped_in_the_kernel(&f.run),
                "{label}: strace saw no io_getevents:\n{}",
                f.run.report()
            );
        }
        println!(
            "{label}: ok, {} reads (verify included), {} writes; system calls {:?}",
            stats.reads, stats.writes, f.run.syscalls
        );
        ran += 1;
    }
    assert!(ran >= 7);
}

#[test]
fn fio_matrix_with_ld_library_path() {
    fio_matrix(Swap::LibraryPath, false);
}

#[test]
fn fio_matrix_with_ld_preload() {
    fio_matrix(Swap::Preload, false);
}

#[test]
fn fio_matrix_with_our_userspace_reaping() {
    fio_matrix(Swap::LibraryPath, true);
}

/// The fio check is not a formality: it rejects a run that skipped
/// verification and one whose verification failed.
#[test]
fn fio_check_rejects_missing_or_failed_verification() {
    let fio = fio();
    let dir = scratch("fio-negative");

    // The same job without the verify phase: fewer reads than blocks.
    let f = run_fio(
        &fio,
        &dir.0,
        "no-verify",
        FioJob {
            fs: Fs::Shm,
            bs: 4096,
            extra: &["--iodepth=16", "--do_verify=0"],
        },
        Swap::LibraryPath,
        &[],
    );
    assert_served_by_ours(&f.run, &fio);
    f.run.assert_success();
    let e = check_fio(&f, 4096).expect_err("a run without verification passed the check");
    assert!(e.contains("reads over"), "{e}");

    // Verify only, over a file of random bytes that fio never wrote: every
    // block's header is wrong, and verify_fatal stops fio with an error.
    let data = data_path(Fs::Shm, &dir.0, "garbage");
    fs::write(&data.0, random_bytes(FIO_SIZE as usize)).unwrap();
    let json = dir.0.join("verify-only.json");
    let inv = fio_invocation(
        &fio,
        &dir.0,
        &data.0,
        4096,
        &["--iodepth=16", "--verify_only=1", "--rw=randwrite"],
        &json,
    );
    let run = run_swapped(&inv, Swap::LibraryPath, &dir.0, "verify-only");
    assert_served_by_ours(&run, &fio);
    let f = FioRun {
        json: fs::read_to_string(&json).unwrap_or_default(),
        run,
    };
    let e = check_fio(&f, 4096).expect_err("a failed verification passed the check");
    assert!(
        f.run.stderr.contains("verify: bad magic header"),
        "fio did not report the verification failure ({e}):\n{}",
        f.run.report()
    );
    println!("verification failure detected: {e}");
}

/// The bindings check is not a formality: against the system library it
/// fails, and it names the system file as the one serving the calls.
#[test]
fn bindings_check_rejects_the_system_library() {
    let dir = scratch("bindings-negative");
    for program in [fio(), qemu_img()] {
        let inv = Invocation::new(&program, &dir.0)
            .arg("--version")
            .untraced();
        let label = program.path.file_name().unwrap().to_string_lossy();
        // Both programs are linked with BIND_NOW: every import is bound at
        // start-up, so `--version` shows them all.
        let system = run_swapped(&inv, Swap::System, &dir.0, &format!("{label}-system"));
        system.assert_success();
        let e = check_served(&system, &program, &our_lib(), &[&system_lib()])
            .expect_err("a run with the system libaio passed as ours");
        assert!(e.contains("is bound to") && e.contains("was loaded"), "{e}");
        check_served(&system, &program, &system_lib(), &[&our_lib()])
            .unwrap_or_else(|e| panic!("{e}\n{}", system.report()));

        // And the same with ours, both ways.
        for swap in [Swap::LibraryPath, Swap::Preload] {
            let ours = run_swapped(&inv, swap, &dir.0, &format!("{label}-{swap:?}"));
            ours.assert_success();
            assert_served_by_ours(&ours, &program);
            assert!(
                check_served(&ours, &program, &system_lib(), &[]).is_err(),
                "{swap:?}: the check says the system library served the run"
            );
        }
    }
}

#[test]
fn binding_lines_parse() {
    let text = [
        "     16556:\tbinding file fio [0] to /work/main/build/lib/libaio.so.1 [0]: normal symbol `io_submit' [LIBAIO_0.1]",
        "     16556:\tbinding file /lib/x86_64-linux-gnu/libaio.so.1 [0] to /lib/x86_64-linux-gnu/libc.so.6 [0]: normal symbol `syscall' [GLIBC_2.2.5]",
        "     16556:\tbinding file a b [1] to c [0]: protected symbol `io_x'",
        "     16556:\tbinding file fio [0] to /lib/x86_64-linux-gnu/libc.so.6 [0]: normal symbol `read' [GLIBC_2.2.5]",
        "     16556:\tcalling init: /opt/x/libfoo.so.1",
        "     16556:\tcalling fini: /opt/y/libbar.so.2 [0]",
        "     16556:\tfile=libaio.so.1 [0];  needed by fio [0]",
    ]
    .join("\n");
    let b = Bindings::parse(&text);
    assert_eq!(b.bindings.len(), 3);
    assert_eq!(b.bindings[0].from, "fio");
    assert_eq!(b.bindings[0].to, "/work/main/build/lib/libaio.so.1");
    assert_eq!(b.bindings[0].symbol, "io_submit");
    assert_eq!(b.bindings[0].version.as_deref(), Some("LIBAIO_0.1"));
    assert_eq!(b.bindings[2].from, "a b");
    assert_eq!(b.bindings[2].symbol, "io_x");
    assert_eq!(b.bindings[2].version, None);
    let objects: Vec<&str> = b.objects.iter().map(String::as_str).collect();
    assert_eq!(
        objects,
        [
            "/lib/x86_64-linux-gnu/libaio.so.1",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/opt/x/libfoo.so.1",
            "/opt/y/libbar.so.2",
            "/work/main/build/lib/libaio.so.1",
            "a b",
            "c",
            "fio",
        ]
    );
}

// ---------------------------------------------------------------------------
// qemu-img

/// `--image-opts` for a raw image file opened with O_DIRECT and Linux AIO.
fn native_raw(path: &Path) -> String {
    let p = path.display().to_string();
    assert!(!p.contains(','), "{p}: commas would need escaping");
    format!("driver=raw,file.driver=file,file.filename={p},file.aio=native,cache.direct=on")
}

/// Runs qemu-img's native-AIO work with `swap`; checks the data.
fn qemu_img_runs(qemu: &Program, dir: &Path, tag: &str, swap: Swap, lib: &Path, absent: &[&Path]) {
    const IMAGE: usize = 16 << 20;
    let check = |run: &Run| {
        run.assert_success();
        if let Err(e) = check_served(run, qemu, lib, absent) {
            panic!("not served by {}:\n{e}\n\n{}", lib.display(), run.report());
        }
        assert!(
            run.calls("io_setup") >= 1 && run.calls("io_submit") >= 1,
            "qemu-img made no io_setup/io_submit system calls (is aio=native in use?):\n{}",
            run.report()
        );
        // (Under the io_uring backend too: QEMU reads completions straight
        // from the ring, and the backend leaves it to kernel AIO (README.md,
        // "The io_uring backend"). Its own io_uring, for its event loop, is
        // not ours.)
        println!("{}: ok; system calls {:?}", run.label, run.syscalls);
    };

    // convert: reads the source and writes the target, both with Linux AIO.
    let src = data_path(Fs::Shm, dir, &format!("{tag}-src"));
    let dst = data_path(Fs::Shm, dir, &format!("{tag}-dst"));
    let data = random_bytes(IMAGE);
    fs::write(&src.0, &data).unwrap();
    fs::write(&dst.0, random_bytes(IMAGE)).unwrap();
    let inv = Invocation::new(qemu, dir)
        .args(["convert", "-n", "-W", "-m", "8"])
        .args(["--image-opts", "--target-image-opts"])
        .arg(native_raw(&src.0))
        .arg(native_raw(&dst.0));
    let run = run_swapped(&inv, swap, dir, &format!("{tag}-convert"));
    check(&run);
    let copied = fs::read(&dst.0).unwrap();
    assert_eq!(copied.len(), IMAGE);
    if let Some(at) = first_difference(&copied, &data) {
        panic!(
            "qemu-img convert: the copy differs from the source at byte {at}:\n{}",
            run.report()
        );
    }
    drop((src, dst));

    // bench -w: 2048 writes of 4 KiB, 64 in flight, over a 4 MiB image of
    // random bytes (twice round); every byte must end up the pattern.
    const BENCH: usize = 4 << 20;
    let img = data_path(Fs::Shm, dir, &format!("{tag}-bench"));
    fs::write(&img.0, random_bytes(BENCH)).unwrap();
    let bench = |extra: &[&str], label: &str| {
        let inv = Invocation::new(qemu, dir)
            .args(["bench", "-f", "raw", "-t", "none", "-i", "native"])
            .args(extra.iter().copied())
            .arg(&img.0);
        run_swapped(&inv, swap, dir, &format!("{tag}-{label}"))
    };
    let run = bench(
        &[
            "-w",
            "--pattern=165",
            "-c",
            "2048",
            "-d",
            "64",
            "-s",
            "4096",
        ],
        "bench-write",
    );
    check(&run);
    assert!(
        run.calls("io_submit") >= 2048 / 64,
        "too few io_submit calls for 2048 writes:\n{}",
        run.report()
    );
    let written = fs::read(&img.0).unwrap();
    assert_eq!(written.len(), BENCH);
    if let Some(at) = first_difference(&written, &vec![0xa5; BENCH]) {
        panic!(
            "qemu-img bench -w --pattern=0xa5 left byte {at} = {:#x}:\n{}",
            written[at],
            run.report()
        );
    }
    // bench (reads), 32 in flight: exercises the read side at depth.
    let run = bench(&["-c", "2048", "-d", "32", "-s", "4096"], "bench-read");
    check(&run);
}

#[test]
fn qemu_img_native_aio_with_both_swaps() {
    let qemu = qemu_img();
    let dir = scratch("qemu-img");
    for (swap, tag) in [
        (Swap::LibraryPath, "ld-library-path"),
        (Swap::Preload, "ld-preload"),
    ] {
        qemu_img_runs(&qemu, &dir.0, tag, swap, &our_lib(), &[&system_lib()]);
    }
}

// ---------------------------------------------------------------------------
// sysbench

#[test]
fn sysbench_fileio_async_direct_with_both_swaps() {
    let sb = sysbench();
    for (swap, tag) in [
        (Swap::LibraryPath, "ld-library-path"),
        (Swap::Preload, "ld-preload"),
    ] {
        // On disk, in a scratch directory: sysbench makes its files in its
        // working directory.
        let dir = scratch(&format!("sysbench-{tag}"));
        let common = [
            "fileio",
            "--file-num=4",
            "--file-total-size=16M",
            "--file-block-size=16384",
            "--file-extra-flags=direct",
            "--time=0",
        ];
        let step = |extra: &[&str], label: &str| {
            let inv = Invocation::new(&sb, &dir.0)
                .args(common)
                .args(extra.iter().copied());
            let run = run_swapped(&inv, swap, &dir.0, &format!("sysbench-{tag}-{label}"));
            run.assert_success();
            assert!(
                !run.stdout.contains("FATAL") && !run.stderr.contains("FATAL"),
                "sysbench reported an error:\n{}",
                run.report()
            );
            assert_served_by_ours(&run, &sb);
            run
        };
        let ops = |run: &Run, what: &str| -> f64 {
            run.stdout
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{what}/s:")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no `{what}/s:` in:\n{}", run.report()))
        };
        let events = |run: &Run, n: u32| {
            assert!(
                run.stdout.lines().any(|l| {
                    l.trim()
                        .strip_prefix("total number of events:")
                        .is_some_and(|v| v.trim() == n.to_string())
                }),
                "sysbench did not complete {n} events:\n{}",
                run.report()
            );
        };

        step(&["--validate=on", "prepare"], "prepare");
        // Random reads, 64 in flight per thread, two threads (a context
        // each). No --validate: sysbench's async mode reads every request
        // into one shared buffer, so validation is only sound with a
        // backlog of 1 (with the system libaio too).
        let run = step(
            &[
                "--file-test-mode=rndrd",
                "--file-io-mode=async",
                "--file-async-backlog=64",
                "--threads=2",
                "--events=4000",
                "run",
            ],
            "async-rndrd-backlog64",
        );
        events(&run, 4000);
        assert!(ops(&run, "reads") > 0.0, "{}", run.report());
        assert!(did_aio(&run) && reaped_in_the_kernel(&run));
        println!("{}: ok; system calls {:?}", run.label, run.syscalls);
        // Random reads and writes, validated: each write carries a checksum
        // and its offset, each read checks them.
        let run = step(
            &[
                "--file-test-mode=rndrw",
                "--file-io-mode=async",
                "--file-async-backlog=1",
                "--validate=on",
                "--events=2000",
                "run",
            ],
            "async-rndrw-validate",
        );
        events(&run, 2000);
        assert!(ops(&run, "reads") > 0.0 && ops(&run, "writes") > 0.0);
        assert!(did_aio(&run) && reaped_in_the_kernel(&run));
        println!("{}: ok; system calls {:?}", run.label, run.syscalls);
        // Everything written through our library, read back (synchronous
        // reads, no libaio) and validated: 1024 blocks of 16 KiB.
        let run = step(
            &[
                "--file-test-mode=seqrd",
                "--file-io-mode=sync",
                "--validate=on",
                "--events=1024",
                "run",
            ],
            "sync-seqrd-validate",
        );
        events(&run, 1024);
        step(&["cleanup"], "cleanup");
        let left: Vec<_> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left in {}: {left:?}", dir.0.display());
    }
}

// ---------------------------------------------------------------------------
// The t64 name

/// A copy of `program` in `dir` whose NEEDED entry is libaio.so.1t64.
fn t64_copy(program: &Program, dir: &Path) -> Program {
    let copy = dir.join(format!(
        "{}-t64",
        program.path.file_name().unwrap().to_string_lossy()
    ));
    let patchelf = installed("patchelf");
    fs::copy(&program.path, &copy).unwrap();
    run_ok(
        Command::new(&patchelf)
            .args(["--replace-needed", "libaio.so.1", "libaio.so.1t64"])
            .arg(&copy),
    );
    let needed = run_ok(Command::new(&patchelf).arg("--print-needed").arg(&copy));
    let needed = String::from_utf8_lossy(&needed.stdout);
    assert!(
        needed.lines().any(|l| l == "libaio.so.1t64")
            && !needed.lines().any(|l| l == "libaio.so.1"),
        "patchelf did not rename the NEEDED entry of {}:\n{needed}",
        copy.display()
    );
    Program::at(copy)
}

/// Asserts that `program` does not start without our directory: no
/// libaio.so.1t64 on this system, so the runs above used ours under that name.
fn assert_fails_without_our_libdir(program: &Program, dir: &Path) {
    let inv = Invocation::new(program, dir).arg("--version").untraced();
    let label = format!(
        "{}-system",
        program.path.file_name().unwrap().to_string_lossy()
    );
    let run = run_swapped(&inv, Swap::System, dir, &label);
    assert!(
        run.status.code() == Some(127)
            && run
                .stderr
                .contains("libaio.so.1t64: cannot open shared object file"),
        "{} started without our libaio.so.1t64 (does the system have one now?):\n{}",
        program.path.display(),
        run.report()
    );
    assert!(run.status.signal().is_none());
}

#[test]
fn t64_name_serves_fio_and_qemu_img() {
    let fio = fio();
    let qemu = qemu_img();
    let dir = scratch("t64");
    let fio64 = t64_copy(&fio, &dir.0);
    let qemu64 = t64_copy(&qemu, &dir.0);
    let t64 = our_t64_lib();
    assert!(t64.exists(), "{} is missing: run make", t64.display());
    // Neither the system's libaio nor our libaio.so.1 may be loaded: the
    // calls must go to the file named libaio.so.1t64.
    let absent = [system_lib(), our_lib()];
    let absent: Vec<&Path> = absent.iter().map(PathBuf::as_path).collect();

    let f = run_fio(
        &fio64,
        &dir.0,
        "fio-t64",
        FioJob {
            fs: Fs::Shm,
            bs: 4096,
            extra: &["--iodepth=16", "--iodepth_batch_submit=4"],
        },
        Swap::LibraryPath,
        &[],
    );
    if let Err(e) = check_served(&f.run, &fio64, &t64, &absent) {
        panic!(
            "not served by {}:\n{e}\n\n{}",
            t64.display(),
            f.run.report()
        );
    }
    let stats = check_fio(&f, 4096).unwrap_or_else(|e| panic!("{e}\n\n{}", f.run.report()));
    assert!(did_aio(&f.run) && reaped_in_the_kernel(&f.run));
    println!("fio-t64: ok, {stats:?}; system calls {:?}", f.run.syscalls);

    qemu_img_runs(
        &qemu64,
        &dir.0,
        "qemu-t64",
        Swap::LibraryPath,
        &t64,
        &absent,
    );

    assert_fails_without_our_libdir(&fio64, &dir.0);
    assert_fails_without_our_libdir(&qemu64, &dir.0);
}
