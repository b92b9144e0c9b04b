//! Our libaio.h against the system's (Debian's libaio-dev 0.3.113-4), which
//! it must replace without any program noticing.
//!
//! - Layout, on every architecture Debian ships libaio on that Debian 12 has
//!   a gcc for (x86_64, i386, x32, s390x, powerpc, arm64, armel, armhf,
//!   mips64el, ppc64el, ppc64, riscv64, sparc64, m68k: both byte orders,
//!   both word sizes): the size and alignment of every type, the
//!   offset, size, alignment, exact type and signedness of every field
//!   (the pad fields of that target included), and every enumerator. Nothing
//!   runs: each quantity N becomes the size of a symbol `char q[N + 1]` in an
//!   object file, and the host's readelf reads the sizes back.
//! - Macros: the header must define the same macros as the system one.
//! - Source compatibility: c-tests/header/use_all.c, which uses everything the
//!   header offers, compiled as C and C++ in every language mode, with -O2,
//!   and with -Wpedantic with the header found through -I and through
//!   -isystem: wherever the system header compiles cleanly ours must too, and
//!   ours may not add a diagnostic the system header does not cause. The
//!   cross compilers compile it too.
//! - Self-tests make sure the comparisons do catch a modified header, and
//!   that the table knows every type and enumerator of the system header.
//! - The checked-in header is what tools/header (cbindgen) generates from the
//!   Rust definitions now.
//!
//! Every compiler sees a private copy of the system header (never
//! /usr/include itself), and the cross compilers see only their own libc
//! headers (`-nostdinc`): a header from the wrong place is an error.

mod common;

use common::{include_dir, root, run, scratch_dir};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------
// Targets and the compilers that build for them

/// How libaio lays out a target: byte order and width of `long` decide
/// where the pad fields are, as the system header's PADDED macros do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Little-endian, 64-bit long.
    Le64,
    /// Little-endian, 32-bit long.
    Le32,
    /// Big-endian, 64-bit long.
    Be64,
    /// Big-endian, 32-bit long.
    Be32,
}

impl Class {
    fn long_bytes(self) -> u64 {
        match self {
            Class::Le64 | Class::Be64 => 8,
            Class::Le32 | Class::Be32 => 4,
        }
    }

    fn big_endian(self) -> bool {
        matches!(self, Class::Be64 | Class::Be32)
    }
}

/// One target of the layout comparison.
struct Target {
    name: &'static str,
    cc: &'static str,
    class: Class,
    /// A cross compiler, kept away from the host's /usr/include.
    cross: bool,
}

const fn target(name: &'static str, cc: &'static str, class: Class, cross: bool) -> Target {
    Target {
        name,
        cc,
        class,
        cross,
    }
}

const TARGETS: &[Target] = &[
    target("x86_64", "cc", Class::Le64, false),
    target("i386", "i686-linux-gnu-gcc", Class::Le32, true),
    target("x32", "x86_64-linux-gnux32-gcc", Class::Le32, true),
    target("s390x", "s390x-linux-gnu-gcc", Class::Be64, true),
    target("powerpc", "powerpc-linux-gnu-gcc", Class::Be32, true),
    // The other architectures Debian ships libaio on (tests/architectures.rs;
    // loong64 has no cross gcc in Debian 12).
    target("arm64", "aarch64-linux-gnu-gcc", Class::Le64, true),
    target("armel", "arm-linux-gnueabi-gcc", Class::Le32, true),
    target("armhf", "arm-linux-gnueabihf-gcc", Class::Le32, true),
    target("mips64el", "mips64el-linux-gnuabi64-gcc", Class::Le64, true),
    target("ppc64el", "powerpc64le-linux-gnu-gcc", Class::Le64, true),
    target("ppc64", "powerpc64-linux-gnu-gcc", Class::Be64, true),
    target("riscv64", "riscv64-linux-gnu-gcc", Class::Le64, true),
    target("sparc64", "sparc64-linux-gnu-gcc", Class::Be64, true),
    target("m68k", "m68k-linux-gnu-gcc", Class::Be32, true),
];

/// The flags that confine a cross compiler to its own headers: -nostdinc,
/// then its default search list without the host's /usr/include (Debian's
/// cross compilers fall back on it).
fn isolation_flags(target: &Target) -> Vec<String> {
    let out = tool(Command::new(target.cc).args(["-x", "c", "-E", "-v", "/dev/null"]));
    assert!(
        out.status.success(),
        "{} ({}) does not work: {}\nRun scripts/test-deps.",
        target.cc,
        target.name,
        String::from_utf8_lossy(&out.stderr)
    );
    if !target.cross {
        return Vec::new();
    }
    let log = String::from_utf8_lossy(&out.stderr);
    let list = log
        .split_once("#include <...> search starts here:")
        .and_then(|(_, rest)| rest.split_once("End of search list."))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("{}: no include search list in:\n{log}", target.cc));
    let mut flags = vec!["-nostdinc".to_owned()];
    for dir in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !is_host_include(Path::new(dir)) {
            flags.push("-isystem".to_owned());
            flags.push(dir.to_owned());
        }
    }
    flags
}

/// Whether `path` lies in the host's own header directories.
fn is_host_include(path: &Path) -> bool {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    path.starts_with("/usr/include") || path.starts_with("/usr/local/include")
}

/// Runs a tool, telling how to install it when it is missing.
fn tool(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{:?} is not installed: run scripts/test-deps (it installs the compilers and binutils \
             the header tests need)",
            cmd.get_program()
        ),
        Err(_) => run(cmd),
    }
}

// ---------------------------------------------------------------------------
// The two headers

/// A header under test: a directory holding a `libaio.h`.
#[derive(Clone)]
struct Header {
    name: &'static str,
    dir: PathBuf,
}

impl Header {
    fn ours() -> Header {
        Header {
            name: "ours",
            dir: include_dir(),
        }
    }

    /// A private copy of /usr/include/libaio.h in `scratch`, so that no
    /// compiler needs the host's /usr/include to find it.
    fn system(scratch: &Path) -> Header {
        let text = std::fs::read_to_string("/usr/include/libaio.h").unwrap_or_else(|e| {
            panic!("/usr/include/libaio.h: {e}: install libaio-dev (scripts/test-deps)")
        });
        assert!(
            text.contains("struct io_sigset_compat") && text.contains("io_prep_pwritev2"),
            "/usr/include/libaio.h is not Debian's libaio 0.3.113 header"
        );
        let dir = scratch.join("system-include");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libaio.h"), text).unwrap();
        Header {
            name: "system",
            dir,
        }
    }

    /// A copy of our header with `edits` (from, to) applied, each of which
    /// must match once: the self-tests' deliberately broken header.
    fn mutant(scratch: &Path, edits: &[(&str, &str)]) -> Header {
        let mut text = std::fs::read_to_string(include_dir().join("libaio.h")).unwrap();
        for (from, to) in edits {
            assert_eq!(
                text.matches(from).count(),
                1,
                "mutation anchor {from:?} not found once"
            );
            text = text.replace(from, to);
        }
        let dir = scratch.join("mutant-include");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libaio.h"), text).unwrap();
        Header {
            name: "ours (mutant)",
            dir,
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("libaio.h").canonicalize().unwrap()
    }
}

// ---------------------------------------------------------------------------
// Compiling

/// What one compiler run said.
struct Outcome {
    ok: bool,
    /// The diagnostics, without their locations.
    diagnostics: BTreeSet<String>,
    stderr: String,
}

/// Compiles with `header` found through `include_flag` (`-I` or
/// `-isystem`), in a C locale and with plain diagnostics. When it succeeds,
/// checks from the dependency list that the intended libaio.h was used and,
/// on a cross compiler, that nothing came from the host's /usr/include.
fn compile(
    cc: &str,
    args: &[String],
    header: &Header,
    include_flag: &str,
    dep: &Path,
    cross: bool,
) -> Outcome {
    let out = tool(
        Command::new(cc)
            .env("LC_ALL", "C")
            .args(["-fdiagnostics-color=never", "-fno-diagnostics-show-caret"])
            .arg(include_flag)
            .arg(&header.dir)
            .arg("-MD")
            .arg("-MF")
            .arg(dep)
            .args(args),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let diagnostics = stderr
        .lines()
        .filter_map(|line| {
            let at = line
                .find(": error: ")
                .or_else(|| line.find(": warning: "))?;
            Some(line[at + 2..].to_owned())
        })
        .collect();
    if out.status.success() {
        let deps =
            std::fs::read_to_string(dep).unwrap_or_else(|e| panic!("{}: {e}", dep.display()));
        let files: Vec<&str> = deps
            .split_whitespace()
            .skip(1)
            .filter(|t| *t != "\\" && !t.ends_with(':'))
            .collect();
        let used: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.ends_with("/libaio.h") || **f == "libaio.h")
            .map(|f| Path::new(f).canonicalize().unwrap())
            .collect();
        assert_eq!(
            used,
            [header.file()],
            "{cc} {args:?}: included the wrong libaio.h"
        );
        if cross {
            let host: Vec<_> = files
                .iter()
                .filter(|f| is_host_include(Path::new(f)))
                .collect();
            assert!(host.is_empty(), "{cc} read the host's headers: {host:?}");
        }
    }
    Outcome {
        ok: out.status.success(),
        diagnostics,
        stderr,
    }
}

/// Runs `f` on every item on a few threads; the results keep the order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .max(4);
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(items.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

// ---------------------------------------------------------------------------
// The layout table: every type, field and enumerator of libaio.h

const ALL: &[Class] = &[Class::Le64, Class::Le32, Class::Be64, Class::Be32];
/// The pad beside a pointer or a long exists where long is 32 bits.
const ILP32: &[Class] = &[Class::Le32, Class::Be32];

/// The type of a field, as the system header spells it.
enum Ty {
    /// An integer type.
    Int(&'static str),
    /// A pointer type.
    Ptr(&'static str),
    /// One of the structures below, measured field by field again, at its
    /// offset in the outer structure.
    Struct(&'static Struct),
    /// An unnamed union of the given members (`iocb.u`).
    Union(&'static [Field]),
}

struct Field {
    name: &'static str,
    ty: Ty,
    /// The targets on which the field exists.
    on: &'static [Class],
}

struct Struct {
    /// The C type, e.g. `struct iocb`.
    name: &'static str,
    fields: &'static [Field],
}

/// A field that exists on the targets `on`.
const fn field_on(name: &'static str, ty: Ty, on: &'static [Class]) -> Field {
    Field { name, ty, on }
}

/// A field that exists everywhere.
const fn field(name: &'static str, ty: Ty) -> Field {
    field_on(name, ty, ALL)
}

/// A pad field beside a pointer or long: `unsigned`, 32-bit targets only.
const fn pad(name: &'static str) -> Field {
    field_on(name, Ty::Int("unsigned int"), ILP32)
}

const POLL: Struct = Struct {
    name: "struct io_iocb_poll",
    fields: &[
        field("events", Ty::Int("int")),
        // PADDED(int events, __pad1): `int events, __pad1` on LE64, an
        // `unsigned __pad1` elsewhere (before events on big-endian).
        field_on("__pad1", Ty::Int("int"), &[Class::Le64]),
        field_on(
            "__pad1",
            Ty::Int("unsigned int"),
            &[Class::Le32, Class::Be64, Class::Be32],
        ),
    ],
};

const SOCKADDR: Struct = Struct {
    name: "struct io_iocb_sockaddr",
    fields: &[
        field("addr", Ty::Ptr("struct sockaddr *")),
        pad("__pad1"),
        field("len", Ty::Int("unsigned long")),
        pad("__pad2"),
    ],
};

const COMMON: Struct = Struct {
    name: "struct io_iocb_common",
    fields: &[
        field("buf", Ty::Ptr("void *")),
        pad("__pad1"),
        field("nbytes", Ty::Int("unsigned long")),
        pad("__pad2"),
        field("offset", Ty::Int("long long")),
        field("__pad3", Ty::Int("long long")),
        field("flags", Ty::Int("unsigned int")),
        field("resfd", Ty::Int("unsigned int")),
    ],
};

const VECTOR: Struct = Struct {
    name: "struct io_iocb_vector",
    fields: &[
        field("vec", Ty::Ptr("const struct iovec *")),
        pad("__pad1"),
        field("nr", Ty::Int("unsigned long")),
        pad("__pad2"),
        field("offset", Ty::Int("long long")),
    ],
};

const IOCB: Struct = Struct {
    name: "struct iocb",
    fields: &[
        field("data", Ty::Ptr("void *")),
        pad("__pad1"),
        field("key", Ty::Int("unsigned int")),
        field("aio_rw_flags", Ty::Int("unsigned int")),
        field("aio_lio_opcode", Ty::Int("short")),
        field("aio_reqprio", Ty::Int("short")),
        field("aio_fildes", Ty::Int("int")),
        field(
            "u",
            Ty::Union(&[
                field("c", Ty::Struct(&COMMON)),
                field("v", Ty::Struct(&VECTOR)),
                field("poll", Ty::Struct(&POLL)),
                field("saddr", Ty::Struct(&SOCKADDR)),
            ]),
        ),
    ],
};

const EVENT: Struct = Struct {
    name: "struct io_event",
    fields: &[
        field("data", Ty::Ptr("void *")),
        pad("__pad1"),
        field("obj", Ty::Ptr("struct iocb *")),
        pad("__pad2"),
        field("res", Ty::Int("unsigned long")),
        pad("__pad3"),
        field("res2", Ty::Int("unsigned long")),
        pad("__pad4"),
    ],
};

const SIGSET: Struct = Struct {
    name: "struct io_sigset",
    fields: &[
        field("ss", Ty::Int("unsigned long")),
        field("ss_len", Ty::Int("unsigned long")),
    ],
};

const SIGSET_COMPAT: Struct = Struct {
    name: "struct io_sigset_compat",
    fields: &[
        field("ss", Ty::Int("unsigned long")),
        pad("__ss_pad"),
        field("ss_len", Ty::Int("unsigned long")),
    ],
};

const STRUCTS: &[&Struct] = &[
    &IOCB,
    &COMMON,
    &VECTOR,
    &POLL,
    &SOCKADDR,
    &EVENT,
    &SIGSET,
    &SIGSET_COMPAT,
];

/// The other types: name, the type it must be (if a typedef), and whether
/// it is an integer type.
const TYPES: &[(&str, Option<&str>, bool)] = &[
    ("io_context_t", Some("struct io_context *"), false),
    (
        "io_callback_t",
        Some("void (*)(io_context_t, struct iocb *, long, long)"),
        false,
    ),
    ("enum io_iocb_cmd", None, true),
    ("io_iocb_cmd_t", Some("enum io_iocb_cmd"), true),
];

const ENUMERATORS: &[&str] = &[
    "IO_CMD_PREAD",
    "IO_CMD_PWRITE",
    "IO_CMD_FSYNC",
    "IO_CMD_FDSYNC",
    "IO_CMD_POLL",
    "IO_CMD_NOOP",
    "IO_CMD_PREADV",
    "IO_CMD_PWRITEV",
];

/// How a measured quantity is judged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Check {
    /// Ours must equal the system's.
    Same,
    /// Ours must equal the system's, which must be this: a check that the
    /// table is right about the system header.
    SameAndSystemIs(u64),
    /// A fact about the target, independent of the header.
    Target(u64),
}

/// One number measured at compile time.
struct Quantity {
    item: String,
    expr: String,
    check: Check,
}

/// Measures one type: size and alignment, and with `compatible` whether it
/// is that type exactly, with `integer` whether it is signed.
fn measure_type(
    q: &mut Vec<Quantity>,
    item: &str,
    ty: &str,
    compatible: Option<&str>,
    integer: bool,
) {
    let mut push = |what: &str, expr: String, check| {
        q.push(Quantity {
            item: format!("{item}: {what}"),
            expr,
            check,
        });
    };
    push("sizeof", format!("sizeof({ty})"), Check::Same);
    push("alignof", format!("_Alignof({ty})"), Check::Same);
    if let Some(c) = compatible {
        push(
            &format!("is `{c}`"),
            format!("__builtin_types_compatible_p({ty}, {c})"),
            Check::SameAndSystemIs(1),
        );
    }
    if integer {
        push("signed", format!("(({ty})-1 < 0)"), Check::Same);
    }
}

/// Measures the fields of `fields`, reached as `outer.prefix<field>`.
fn measure_fields(
    q: &mut Vec<Quantity>,
    class: Class,
    outer: &Struct,
    prefix: &str,
    fields: &[Field],
) {
    for f in fields.iter().filter(|f| f.on.contains(&class)) {
        let path = format!("{prefix}{}", f.name);
        let item = format!("{}: .{path}", outer.name);
        let lvalue = format!("(((({} *)0))->{path})", outer.name);
        let ty = format!("__typeof__({lvalue})");
        q.push(Quantity {
            item: format!("{item}: offset"),
            expr: format!("__builtin_offsetof({}, {path})", outer.name),
            check: Check::Same,
        });
        match &f.ty {
            Ty::Int(c) => measure_type(q, &item, &ty, Some(c), true),
            Ty::Ptr(c) => measure_type(q, &item, &ty, Some(c), false),
            Ty::Struct(s) => {
                measure_type(q, &item, &ty, Some(s.name), false);
                measure_fields(q, class, outer, &format!("{path}."), s.fields);
            }
            Ty::Union(members) => {
                measure_type(q, &item, &ty, None, false);
                measure_fields(q, class, outer, &format!("{path}."), members);
            }
        }
    }
}

/// Everything measured on a target of `class`.
fn quantities(class: Class) -> Vec<Quantity> {
    let mut q = Vec::new();
    q.push(Quantity {
        item: "target: sizeof(long)".into(),
        expr: "sizeof(long)".into(),
        check: Check::Target(class.long_bytes()),
    });
    q.push(Quantity {
        item: "target: big-endian".into(),
        expr: "(__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)".into(),
        check: Check::Target(class.big_endian().into()),
    });
    for s in STRUCTS {
        measure_type(&mut q, s.name, s.name, None, false);
        // Bytes no listed field covers: 0 unless the header has a field the
        // table does not know, or padding.
        let direct: Vec<String> = s
            .fields
            .iter()
            .filter(|f| f.on.contains(&class))
            .map(|f| format!("sizeof(((({} *)0))->{})", s.name, f.name))
            .collect();
        q.push(Quantity {
            item: format!("{}: bytes outside the listed fields", s.name),
            expr: format!("sizeof({}) - ({})", s.name, direct.join(" + ")),
            check: Check::SameAndSystemIs(0),
        });
        measure_fields(&mut q, class, s, "", s.fields);
    }
    for (name, compatible, integer) in TYPES {
        measure_type(&mut q, name, name, *compatible, *integer);
    }
    for e in ENUMERATORS {
        q.push(Quantity {
            item: format!("enum io_iocb_cmd: {e}"),
            expr: (*e).into(),
            check: Check::Same,
        });
    }
    q
}

/// The C file whose symbol `libaio_q<i>` is `quantities[i] + 1` bytes long.
fn layout_source(quantities: &[Quantity]) -> String {
    let mut c = String::from(
        "/* Generated by tests/header.rs: the size of libaio_q<i> is quantity i, plus one. */\n\
         #include <libaio.h>\n\n",
    );
    for (i, q) in quantities.iter().enumerate() {
        writeln!(c, "/* {} */\nchar libaio_q{i}[({}) + 1];", q.item, q.expr).unwrap();
    }
    c
}

/// The sizes of the `libaio_q<i>` symbols of an object file, minus one.
fn read_quantities(object: &Path, count: usize) -> Vec<u64> {
    let out = tool(Command::new("readelf").arg("-sW").arg(object));
    assert!(
        out.status.success(),
        "readelf -sW {}: {}",
        object.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut values = vec![None; count];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // Num: Value Size Type Bind Vis Ndx Name
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = f
            .get(7)
            .and_then(|n| n.strip_prefix("libaio_q"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let size = match f[2].strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => f[2].parse(),
        }
        .unwrap_or_else(|e| panic!("readelf size {:?}: {e}", f[2]));
        values[i] = Some(size - 1);
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.unwrap_or_else(|| panic!("{}: no symbol libaio_q{i}", object.display())))
        .collect()
}

/// The names of the macros defined after preprocessing `source` with
/// `header`: the header's own and those of the headers it includes.
fn macros(target: &Target, flags: &[String], header: &Header, source: &Path) -> BTreeSet<String> {
    let out = tool(
        Command::new(target.cc)
            .args(flags)
            .arg("-I")
            .arg(&header.dir)
            .args(["-std=gnu11", "-E", "-dM"])
            .arg(source),
    );
    assert!(
        out.status.success(),
        "{} -E -dM: {}",
        target.cc,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.strip_prefix("#define ")?
                .split([' ', '('])
                .next()
                .map(str::to_owned)
        })
        .collect()
}

/// What the layout comparison found.
struct LayoutReport {
    /// Quantities compared, per target.
    counts: Vec<(&'static str, usize)>,
    /// Every difference, as `target: item: ours X, system Y`.
    problems: Vec<String>,
}

/// Measures every quantity on every target in `targets` under `ours` and
/// `system`, and compares.
fn compare_layout(
    targets: &[&Target],
    ours: &Header,
    system: &Header,
    scratch: &Path,
) -> LayoutReport {
    struct Job<'a> {
        target: &'a Target,
        header: &'a Header,
        flags: Vec<String>,
        source: PathBuf,
        count: usize,
    }
    let flags: Vec<Vec<String>> = parallel(targets, |t| isolation_flags(t));
    let all_quantities: Vec<Vec<Quantity>> = targets.iter().map(|t| quantities(t.class)).collect();
    let mut jobs = Vec::new();
    for ((target, flags), q) in targets.iter().zip(&flags).zip(&all_quantities) {
        let source = scratch.join(format!("layout-{}.c", target.name));
        std::fs::write(&source, layout_source(q)).unwrap();
        for header in [ours, system] {
            jobs.push(Job {
                target,
                header,
                flags: flags.clone(),
                source: source.clone(),
                count: q.len(),
            });
        }
    }
    // Per job: the quantities, or why they could not be measured; and the
    // macros the header defines.
    let results = parallel(&jobs, |job| {
        let tag = format!(
            "{}-{}",
            job.target.name,
            job.header
                .name
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let object = scratch.join(format!("{tag}.o"));
        let mut args = job.flags.clone();
        args.extend(["-std=gnu11", "-O0", "-fno-common", "-c"].map(String::from));
        args.push(job.source.display().to_string());
        args.push("-o".into());
        args.push(object.display().to_string());
        let out = compile(
            job.target.cc,
            &args,
            job.header,
            "-I",
            &scratch.join(format!("{tag}.d")),
            job.target.cross,
        );
        let values = if out.ok {
            Ok(read_quantities(&object, job.count))
        } else {
            Err(out.stderr)
        };
        (
            values,
            macros(job.target, &job.flags, job.header, &job.source),
        )
    });

    let mut report = LayoutReport {
        counts: Vec::new(),
        problems: Vec::new(),
    };
    for (i, (target, q)) in targets.iter().zip(&all_quantities).enumerate() {
        let (ours_values, ours_macros) = &results[2 * i];
        let (system_values, system_macros) = &results[2 * i + 1];
        let name = target.name;
        let system_values = match system_values {
            Ok(v) => v,
            Err(stderr) => panic!(
                "{name}: the system header does not compile with {} (are the libc6-dev-*-cross \
                 packages installed? run scripts/test-deps):\n{stderr}",
                target.cc
            ),
        };
        let ours_values = match ours_values {
            Ok(v) => v,
            Err(stderr) => {
                report.problems.push(format!(
                    "{name}: our header fails where the system one compiles:\n{stderr}"
                ));
                continue;
            }
        };
        for ((q, &o), &s) in q.iter().zip(ours_values).zip(system_values) {
            match q.check {
                Check::Target(want) => {
                    assert_eq!(
                        s, want,
                        "{name}: {} is {s}, not {want}: is {} the right compiler?",
                        q.item, target.cc
                    )
                }
                Check::SameAndSystemIs(want) => assert_eq!(
                    s, want,
                    "{name}: the table is wrong about the system header: {} is {s}, not {want}",
                    q.item
                ),
                Check::Same => {}
            }
            if o != s {
                report
                    .problems
                    .push(format!("{name}: {}: ours {o}, system {s}", q.item));
            }
        }
        let only_ours: Vec<_> = ours_macros.difference(system_macros).collect();
        let only_system: Vec<_> = system_macros.difference(ours_macros).collect();
        if !only_ours.is_empty() || !only_system.is_empty() {
            report.problems.push(format!(
                "{name}: macros defined after #include <libaio.h>: only ours {only_ours:?}, only the \
                 system's {only_system:?}"
            ));
        }
        report.counts.push((name, q.len() + 1));
    }
    report
}

#[test]
fn layout_matches_the_system_header_on_every_target() {
    let scratch = scratch_dir("header-layout");
    let system = Header::system(&scratch);
    let targets: Vec<&Target> = TARGETS.iter().collect();
    let report = compare_layout(&targets, &Header::ours(), &system, &scratch);
    assert!(
        report.problems.is_empty(),
        "our libaio.h differs from the system's:\n  {}",
        report.problems.join("\n  ")
    );
    assert_eq!(report.counts.len(), TARGETS.len());
    eprintln!(
        "quantities compared (plus the macro set): {:?}",
        report.counts
    );
}

/// The layout comparison is no formality: a header with two fields swapped,
/// one changed in sign and one macro more fails it.
#[test]
fn layout_comparison_catches_a_modified_header() {
    let scratch = scratch_dir("header-layout-mutant");
    let system = Header::system(&scratch);
    let mutant = Header::mutant(
        &scratch,
        &[
            ("    unsigned int flags;\n", "    unsigned int resfd_;\n"),
            ("    unsigned int resfd;\n", "    unsigned int flags;\n"),
            ("    unsigned int resfd_;\n", "    unsigned int resfd;\n"),
            (
                "    short aio_reqprio;\n",
                "    unsigned short aio_reqprio;\n",
            ),
            (
                "#define __LIBAIO_H\n",
                "#define __LIBAIO_H\n#define LIBAIO_EXTRA 1\n",
            ),
        ],
    );
    let host = &TARGETS[0];
    let report = compare_layout(&[host], &mutant, &system, &scratch);
    let text = report.problems.join("\n");
    for expected in [
        "x86_64: struct iocb: .u.c.flags: offset: ours 60, system 56",
        "x86_64: struct iocb: .u.c.resfd: offset: ours 56, system 60",
        "x86_64: struct io_iocb_common: .flags: offset: ours 36, system 32",
        "x86_64: struct iocb: .aio_reqprio: signed: ours 0, system 1",
        "x86_64: struct iocb: .aio_reqprio: is `short`: ours 0, system 1",
        "LIBAIO_EXTRA",
    ] {
        assert!(
            text.contains(expected),
            "the comparison missed {expected:?}; it found:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------
// Source compatibility

/// A language mode of the host compilers.
struct Mode {
    name: &'static str,
    driver: &'static str,
    args: &'static [&'static str],
    cxx: bool,
}

const fn c(name: &'static str, args: &'static [&'static str]) -> Mode {
    Mode {
        name,
        driver: "gcc",
        args,
        cxx: false,
    }
}

const fn cxx(name: &'static str, args: &'static [&'static str]) -> Mode {
    Mode {
        name,
        driver: "g++",
        args,
        cxx: true,
    }
}

const MODES: &[Mode] = &[
    c("gnu89", &["-x", "c", "-std=gnu89"]),
    c("gnu99", &["-x", "c", "-std=gnu99"]),
    c("c11", &["-x", "c", "-std=c11"]),
    // Strict C11 with POSIX asked for, as a program using sigset_t must.
    c(
        "c11 + _POSIX_C_SOURCE",
        &["-x", "c", "-std=c11", "-D_POSIX_C_SOURCE=200809L"],
    ),
    c("gnu11", &["-x", "c", "-std=gnu11"]),
    c("gnu17", &["-x", "c", "-std=gnu17"]),
    cxx("c++98", &["-x", "c++", "-std=c++98"]),
    cxx("c++11", &["-x", "c++", "-std=c++11"]),
    cxx("c++17", &["-x", "c++", "-std=c++17"]),
    cxx("c++20", &["-x", "c++", "-std=c++20"]),
];

/// Where the system header itself fails with gcc/g++ 12 (it must: the
/// check below would lose its meaning if the system header failed
/// everywhere, so these are asserted, not only observed):
///
/// - `-std=c11` (strict ISO C, no POSIX): `sigset_t`, which the header
///   uses, is POSIX; strict <signal.h> does not declare it.
/// - `-Wpedantic` with the header found through `-I` (not a system header),
///   in every C mode: io_set_callback converts a function pointer to
///   `void *`, which ISO C forbids; gnu89 also rejects `long long` and the
///   comma after the last enumerator.
/// - `-Wpedantic` through `-I` in c++98: `long long` and that comma.
///
/// Everywhere else (every mode but strict c11 without -Wpedantic, or with
/// it through `-isystem`, and C++11 and later even with -Wpedantic
/// through `-I`), the system header compiles cleanly, and ours must.
fn system_header_compiles(mode: &Mode, pedantic: bool, include_flag: &str) -> bool {
    if mode.name == "c11" {
        return false;
    }
    !(pedantic && include_flag == "-I" && (!mode.cxx || mode.name == "c++98"))
}

/// The warning sets each mode is tried with, all on top of `-Wall -Wextra
/// -Werror`: (pedantic, how the header is found, extra flags). -O2 lets the
/// middle end warn about the inline helpers too; -isystem is how a program
/// sees the installed header, which makes the -Wpedantic comparison
/// meaningful where the system header fails it through -I.
const VARIANTS: &[(bool, &str, &[&str])] = &[
    (false, "-I", &["-O2"]),
    (true, "-I", &["-Wpedantic"]),
    (true, "-isystem", &["-Wpedantic"]),
];

/// One compilation of use_all.c.
struct SourceJob<'a> {
    what: String,
    cc: &'a str,
    args: Vec<String>,
    include_flag: &'static str,
    header: &'a Header,
    cross: bool,
}

fn use_all() -> PathBuf {
    root().join("c-tests/header/use_all.c")
}

/// Compiles the jobs, named `tag<i>` in scratch.
fn run_source_jobs(jobs: &[SourceJob], scratch: &Path, tag: &str) -> Vec<Outcome> {
    let numbered: Vec<(usize, &SourceJob)> = jobs.iter().enumerate().collect();
    parallel(&numbered, |(i, job)| {
        let mut args = job.args.clone();
        args.extend(["-c".into(), use_all().display().to_string(), "-o".into()]);
        args.push(scratch.join(format!("{tag}{i}.o")).display().to_string());
        compile(
            job.cc,
            &args,
            job.header,
            job.include_flag,
            &scratch.join(format!("{tag}{i}.d")),
            job.cross,
        )
    })
}

/// The jobs of one mode and warning set, with `system` and `ours`, in
/// pairs.
fn paired_jobs<'a>(
    what: String,
    cc: &'a str,
    args: Vec<String>,
    include_flag: &'static str,
    cross: bool,
    ours: &'a Header,
    system: &'a Header,
) -> [SourceJob<'a>; 2] {
    let mut with_wait = args.clone();
    with_wait.push("-DUSE_IO_QUEUE_WAIT".into());
    [
        SourceJob {
            what: what.clone(),
            cc,
            args: with_wait,
            include_flag,
            header: ours,
            cross,
        },
        SourceJob {
            what,
            cc,
            args,
            include_flag,
            header: system,
            cross,
        },
    ]
}

/// Compares the outcomes of paired jobs: ours must compile where the
/// system header does, and add no diagnostic. Returns the problems.
fn compare_pairs(jobs: &[SourceJob], outcomes: &[Outcome]) -> Vec<String> {
    let mut problems = Vec::new();
    for (job, pair) in jobs.chunks(2).zip(outcomes.chunks(2)) {
        let (ours, system) = (&pair[0], &pair[1]);
        let what = &job[0].what;
        if system.ok && !ours.ok {
            problems.push(format!(
                "{what}: the system header compiles, ours fails:\n{}",
                ours.stderr
            ));
            continue;
        }
        let extra: Vec<_> = ours.diagnostics.difference(&system.diagnostics).collect();
        if !extra.is_empty() {
            problems.push(format!(
                "{what}: ours adds diagnostics {extra:#?}\n--- ours:\n{}",
                ours.stderr
            ));
        }
    }
    problems
}

#[test]
fn source_compatible_in_every_language_mode() {
    let scratch = scratch_dir("header-source");
    let system = Header::system(&scratch);
    let ours = Header::ours();
    let mut jobs = Vec::new();
    let mut expect_system = Vec::new();
    for mode in MODES {
        for &(pedantic, include_flag, extra) in VARIANTS {
            let mut args: Vec<String> = mode.args.iter().map(|a| a.to_string()).collect();
            args.extend(
                ["-Wall", "-Wextra", "-Werror"]
                    .iter()
                    .chain(extra)
                    .map(|a| a.to_string()),
            );
            let what = format!(
                "{} {} {} ({include_flag})",
                mode.driver,
                mode.name,
                extra.join(" ")
            );
            expect_system.push((
                what.clone(),
                system_header_compiles(mode, pedantic, include_flag),
            ));
            jobs.extend(paired_jobs(
                what,
                mode.driver,
                args,
                include_flag,
                false,
                &ours,
                &system,
            ));
        }
    }
    // The cross compilers, in their default C mode.
    let cross: Vec<&Target> = TARGETS.iter().filter(|t| t.cross).collect();
    let cross_flags = parallel(&cross, |t| isolation_flags(t));
    for (target, flags) in cross.iter().zip(cross_flags) {
        let mut args = flags;
        args.extend(["-x", "c", "-Wall", "-Wextra", "-Werror"].map(String::from));
        let what = format!("{} ({})", target.cc, target.name);
        expect_system.push((what.clone(), true));
        jobs.extend(paired_jobs(
            what, target.cc, args, "-I", true, &ours, &system,
        ));
    }

    let outcomes = run_source_jobs(&jobs, &scratch, "use_all-");
    let mut problems = compare_pairs(&jobs, &outcomes);
    for ((what, expected), system) in expect_system.iter().zip(outcomes.chunks(2).map(|p| &p[1])) {
        if system.ok != *expected {
            problems.push(format!(
                "{what}: the system header {} (see system_header_compiles):\n{}",
                if system.ok {
                    "compiles, though it was expected to fail"
                } else {
                    "fails"
                },
                system.stderr
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "source compatibility:\n{}",
        problems.join("\n")
    );
    eprintln!(
        "{} compilations, {} of them with each header",
        jobs.len(),
        jobs.len() / 2
    );
}

/// The source comparison is no formality: it catches a missing helper, and
/// use_all.c needs the io_queue_wait guard (the system header lacks it).
#[test]
fn source_comparison_catches_a_modified_header() {
    let scratch = scratch_dir("header-source-mutant");
    let system = Header::system(&scratch);
    let mutant = Header::mutant(
        &scratch,
        &[(
            "static inline void io_set_eventfd(",
            "static inline void io_set_eventfd_renamed(",
        )],
    );
    let flags = |lang: &str, std: &str| -> Vec<String> {
        ["-x", lang, std, "-Wall", "-Wextra", "-Werror"]
            .map(String::from)
            .to_vec()
    };
    let (args, cxx_args) = (flags("c", "-std=gnu11"), flags("c++", "-std=c++17"));
    let mut jobs = Vec::new();
    for (what, cc, a) in [("gcc gnu11", "gcc", &args), ("g++ c++17", "g++", &cxx_args)] {
        let what = format!("{what} (mutant)");
        jobs.extend(paired_jobs(
            what,
            cc,
            a.clone(),
            "-I",
            false,
            &mutant,
            &system,
        ));
    }
    // The system header with the io_queue_wait use enabled.
    for (what, cc, mut a) in [("gcc", "gcc", args), ("g++", "g++", cxx_args)] {
        a.push("-DUSE_IO_QUEUE_WAIT".into());
        jobs.push(SourceJob {
            what: format!("{what}: system with io_queue_wait"),
            cc,
            args: a,
            include_flag: "-I",
            header: &system,
            cross: false,
        });
    }
    let outcomes = run_source_jobs(&jobs, &scratch, "mutant-");
    let problems = compare_pairs(&jobs[..4], &outcomes[..4]);
    assert_eq!(
        problems.len(),
        2,
        "the comparison missed the renamed io_set_eventfd: {problems:#?}"
    );
    assert!(
        problems.iter().all(|p| p.contains("io_set_eventfd")),
        "{problems:#?}"
    );
    for (job, out) in jobs[4..].iter().zip(&outcomes[4..]) {
        assert!(
            !out.ok && out.stderr.contains("io_queue_wait"),
            "{}: io_queue_wait should be undeclared:\n{}",
            job.what,
            out.stderr
        );
    }
}

/// The table covers every type and enumerator the system header defines
/// (that it covers every field, the "bytes outside the listed fields"
/// quantity proves): a guard against a type this test would not measure.
#[test]
fn the_table_knows_every_type_of_the_system_header() {
    let text = std::fs::read_to_string("/usr/include/libaio.h").unwrap_or_else(|e| {
        panic!("/usr/include/libaio.h: {e}: install libaio-dev (scripts/test-deps)")
    });
    let known: BTreeSet<&str> = STRUCTS
        .iter()
        .map(|s| s.name)
        .chain(TYPES.iter().map(|t| t.0))
        // Forward declarations only.
        .chain([
            "struct io_context",
            "struct timespec",
            "struct sockaddr",
            "struct iovec",
        ])
        .collect();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    let mut missing = BTreeSet::new();
    for pair in words.windows(2) {
        let name = format!("{} {}", pair[0], pair[1]);
        if matches!(pair[0], "struct" | "enum") && !known.contains(name.as_str()) {
            missing.insert(name);
        }
    }
    for &w in &words {
        let typedef = w.starts_with("io_") && w.ends_with("_t");
        if (typedef && !known.contains(w))
            || (w.starts_with("IO_CMD_") && !ENUMERATORS.contains(&w))
        {
            missing.insert(w.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/header.rs does not measure: {missing:?}"
    );
}

/// `tools/header --check FILE` (cbindgen over this crate, in a crate of its
/// own, which the library does not depend on), with the cargo settings of
/// this test run removed.
fn header_tool_check(file: &Path) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO") && key != "CARGO_HOME")
            || (key.starts_with("RUST") && !key.starts_with("RUSTUP"))
            || key.contains("MAKEFLAGS")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.args(["run", "--quiet", "--locked", "--manifest-path"])
        .arg(root.join("tools/header/Cargo.toml"))
        .args(["--", "--check"])
        .arg(file)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("header-tool"),
        );
    tool(&mut cmd)
}

/// The checked-in include/libaio.h is what cbindgen makes from the Rust
/// definitions now (`make header` regenerates it), and the check does see a
/// header that differs by one line.
#[test]
fn checked_in_header_is_current() {
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/libaio.h");
    let out = header_tool_check(&checked_in);
    assert!(
        out.status.success(),
        "include/libaio.h is stale: run `make header` and commit the result\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let text = std::fs::read_to_string(&checked_in).unwrap();
    let edited = text.replacen("int io_setup(", "int io_setup (", 1);
    assert_ne!(edited, text, "no io_setup prototype in include/libaio.h");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("header-stale");
    std::fs::create_dir_all(&scratch).unwrap();
    let stale = scratch.join("libaio.h");
    std::fs::write(&stale, edited).unwrap();
    let out = header_tool_check(&stale);
    std::fs::remove_dir_all(&scratch).unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is stale"),
        "a header edited by hand passed the check: {out:?}"
    );
}
