//! The C test programs of `c-tests/` (top level) and how they are built:
//! shared by `tests/c_programs.rs`, which runs them here, and
//! `tests/foreign.rs`, which cross-builds them and runs them on other
//! architectures. See `tests/c_programs.rs` for the markers.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{build, include_dir, root};

/// Warnings are errors in every C file.
pub const CFLAGS: &[&str] = &["-Wall", "-Wextra", "-Werror", "-O2"];

/// The system's header, which programs' companions are compiled against.
pub const SYSTEM_HEADER: &str = "/usr/include/libaio.h";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Built against our header and library, run.
    Plain,
    /// Part of another program.
    Companion,
    /// Reaches the LIBAIO_0.1 symbols; built against the system's libaio.
    OldBinary,
    /// Linked with our libaio.a.
    StaticArchive,
}

/// One `c-tests/*.c` and what its markers say.
#[derive(Debug)]
pub struct Program {
    /// The file name, e.g. `helpers.c`.
    pub file: String,
    pub path: PathBuf,
    pub kind: Kind,
    /// Files to compile against the system header and link in.
    pub with_system_header: Vec<String>,
    /// Also run against the system's libaio.
    pub against_system: bool,
    pub text: String,
}

impl Program {
    /// The file name without `.c`.
    pub fn stem(&self) -> &str {
        self.file.strip_suffix(".c").unwrap()
    }
}

pub fn c_tests_dir() -> PathBuf {
    root().join("c-tests")
}

/// Every `c-tests/*.c`, in name order.
pub fn programs() -> Vec<Program> {
    let mut paths: Vec<PathBuf> = fs::read_dir(c_tests_dir())
        .expect("read c-tests/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && path.extension() == Some(OsStr::new("c")))
        .collect();
    paths.sort();
    paths.into_iter().map(|path| parse(&path)).collect()
}

/// Reads a program's `/* libaio-rs: ... */` markers.
fn parse(path: &Path) -> Program {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut program = Program {
        file: file.clone(),
        path: path.to_path_buf(),
        kind: Kind::Plain,
        with_system_header: Vec::new(),
        against_system: false,
        text: String::new(),
    };
    let mut kinds = Vec::new();
    const MARKER: &str = "/* libaio-rs:";
    for (at, _) in text.match_indices(MARKER) {
        let body = &text[at + MARKER.len()..];
        let end = body
            .find("*/")
            .unwrap_or_else(|| panic!("c-tests/{file}: unterminated marker"));
        let words: Vec<&str> = body[..end].split_whitespace().collect();
        match words.as_slice() {
            ["companion"] => kinds.push(Kind::Companion),
            ["old-binary"] => kinds.push(Kind::OldBinary),
            ["static-archive"] => kinds.push(Kind::StaticArchive),
            ["also-against-system-libaio"] => program.against_system = true,
            ["with-system-header", other] => {
                assert!(
                    c_tests_dir().join(other).is_file(),
                    "c-tests/{file}: with-system-header names a missing file {other}"
                );
                program.with_system_header.push(other.to_string());
            }
            _ => panic!(
                "c-tests/{file}: unknown marker `libaio-rs: {}`",
                words.join(" ")
            ),
        }
    }
    assert!(
        kinds.len() <= 1,
        "c-tests/{file}: more than one kind marker: {kinds:?}"
    );
    program.kind = kinds.first().copied().unwrap_or(Kind::Plain);
    assert!(
        program.kind == Kind::Plain
            || (program.with_system_header.is_empty() && !program.against_system),
        "c-tests/{file}: with-system-header and also-against-system-libaio apply to plain programs only"
    );
    program.text = text;
    program
}

/// A copy of the system header in `dir/system-include`; returns that directory.
pub fn system_include(dir: &Path) -> PathBuf {
    assert!(
        Path::new(SYSTEM_HEADER).exists(),
        "{SYSTEM_HEADER} is missing: install libaio-dev (scripts/test-deps)"
    );
    let inc = dir.join("system-include");
    fs::create_dir_all(&inc).unwrap();
    fs::copy(SYSTEM_HEADER, inc.join("libaio.h")).unwrap();
    inc
}

/// Compiles a plain program (and its companions) into `dir` with the C
/// compiler `cc`, against our header and our library in `lib` (also its
/// RUNPATH), with `defines` (`-D...`) added to the program's own
/// compilation.
pub fn build_plain(
    program: &Program,
    dir: &Path,
    defines: &[&str],
    cc: &OsStr,
    lib: &Path,
) -> Result<PathBuf, String> {
    let cc = || Command::new(cc);
    let mut objects = Vec::new();
    if !program.with_system_header.is_empty() {
        let inc = system_include(dir);
        for other in &program.with_system_header {
            let object = dir.join(format!("{other}.o"));
            build(
                cc().args(CFLAGS)
                    .arg("-I")
                    .arg(&inc)
                    .arg("-c")
                    .arg(c_tests_dir().join(other))
                    .arg("-o")
                    .arg(&object),
            )?;
            objects.push(object);
        }
    }
    let exe = dir.join(program.stem());
    build(
        cc().args(CFLAGS)
            .args(defines)
            .arg("-I")
            .arg(include_dir())
            .arg(&program.path)
            .args(&objects)
            .arg("-L")
            .arg(lib)
            .arg("-laio")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            // RUNPATH, which LD_LIBRARY_PATH overrides for the run against
            // the system's library.
            .arg("-Wl,--enable-new-dtags")
            .arg("-pthread")
            .arg("-o")
            .arg(&exe),
    )?;
    Ok(exe)
}

/// The flags every program of `c-tests/differential/` is built with.
pub const DIFFERENTIAL_CFLAGS: [&str; 5] = ["-O2", "-g", "-Wall", "-Wextra", "-Werror"];

/// The two builds of a program of `c-tests/differential/` with the C
/// compiler `cc`: against the system's header (a copy in `system_include`)
/// and libaio (`-laio`, found in `system_libdir` if given), then against our
/// header and our library in `lib` (also its RUNPATH); into `out`.
pub fn differential_commands(
    cc: &OsStr,
    source: &Path,
    system_include: &Path,
    system_libdir: Option<&Path>,
    lib: &Path,
    out: [&Path; 2],
) -> [Command; 2] {
    let mut system = Command::new(cc);
    system
        .args(DIFFERENTIAL_CFLAGS)
        .arg("-I")
        .arg(system_include)
        .arg("-o")
        .arg(out[0])
        .arg(source);
    if let Some(dir) = system_libdir {
        system.arg("-L").arg(dir);
    }
    system.arg("-laio");
    let mut ours = Command::new(cc);
    ours.args(DIFFERENTIAL_CFLAGS)
        .arg("-I")
        .arg(include_dir())
        .arg("-o")
        .arg(out[1])
        .arg(source)
        .arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-laio");
    [system, ours]
}
