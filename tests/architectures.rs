//! Every architecture Debian ships libaio on: the library cross-built with
//! the Makefile, and its binary interface checked against the rules that
//! define it (`src/symbols.txt`) and against Debian's own libaio of that
//! architecture, fetched from Debian's archive (bookworm's libaio1 for
//! `libaio.so.1`, trixie's libaio1t64 for `libaio.so.1t64`, unstable's for
//! loong64; the ports architectures have none reachable here: x32, powerpc,
//! ppc64, sparc64, m68k are checked against the rules alone).
//!
//! For each library: the exported symbols with their versions and bindings,
//! the version nodes and their parents, the SONAME, the ELF class, byte
//! order and machine; NEEDED must be `libc.so.6` alone, and every import a
//! glibc symbol.
//!
//! The architectures whose Rust target ships no standard library need a
//! nightly toolchain (`-Zbuild-std=core`); without one their test says so
//! and passes without building (`.ci/run` installs one).

mod common;

use std::path::{Path, PathBuf};

use common::elf::{dynamic, expected_from_table, exported, imported, machine, version_tree};
use common::{Apt, CrossTools, debian_archive_package, nightly_available, root, run_ok};
use std::process::Command;

/// One architecture.
struct Arch {
    /// Debian's name.
    name: &'static str,
    rust_target: &'static str,
    /// The GNU triple of Debian's cross toolchain.
    gnu: &'static str,
    /// Debian's multiarch directory name.
    multiarch: &'static str,
    bits: u32,
    /// Nightly `-Zbuild-std=core`: rustup has no standard library for it.
    build_std: bool,
    /// Debian's libaio1 of bookworm, and its libaio1t64 (suite, version).
    bookworm: bool,
    t64: Option<(&'static str, &'static str)>,
}

const TRIXIE: Option<(&str, &str)> = Some(("trixie", "0.3.113-8+b1"));

#[allow(clippy::too_many_arguments)]
const fn arch(
    name: &'static str,
    rust_target: &'static str,
    gnu: &'static str,
    multiarch: &'static str,
    bits: u32,
    build_std: bool,
    bookworm: bool,
    t64: Option<(&'static str, &'static str)>,
) -> Arch {
    Arch {
        name,
        rust_target,
        gnu,
        multiarch,
        bits,
        build_std,
        bookworm,
        t64,
    }
}

const AMD64: Arch = arch(
    "amd64",
    "x86_64-unknown-linux-gnu",
    "x86_64-linux-gnu",
    "x86_64-linux-gnu",
    64,
    false,
    true,
    TRIXIE,
);

/// Debian's name, Rust target, cross toolchain, multiarch directory, word
/// size, nightly, Debian's libaio1 (bookworm), libaio1t64.
#[rustfmt::skip]
const CROSS: &[Arch] = &[
    arch("arm64", "aarch64-unknown-linux-gnu", "aarch64-linux-gnu", "aarch64-linux-gnu", 64, false, true, TRIXIE),
    arch("armel", "armv5te-unknown-linux-gnueabi", "arm-linux-gnueabi", "arm-linux-gnueabi", 32, true, true, TRIXIE),
    arch("armhf", "armv7-unknown-linux-gnueabihf", "arm-linux-gnueabihf", "arm-linux-gnueabihf", 32, false, true, TRIXIE),
    arch("i386", "i686-unknown-linux-gnu", "i686-linux-gnu", "i386-linux-gnu", 32, false, true, TRIXIE),
    arch("mips64el", "mips64el-unknown-linux-gnuabi64", "mips64el-linux-gnuabi64", "mips64el-linux-gnuabi64", 64, true, true, None),
    arch("ppc64el", "powerpc64le-unknown-linux-gnu", "powerpc64le-linux-gnu", "powerpc64le-linux-gnu", 64, false, true, TRIXIE),
    arch("riscv64", "riscv64gc-unknown-linux-gnu", "riscv64-linux-gnu", "riscv64-linux-gnu", 64, false, false, TRIXIE),
    arch("s390x", "s390x-unknown-linux-gnu", "s390x-linux-gnu", "s390x-linux-gnu", 64, false, true, TRIXIE),
    arch("x32", "x86_64-unknown-linux-gnux32", "x86_64-linux-gnux32", "x86_64-linux-gnux32", 32, true, false, None),
    arch("powerpc", "powerpc-unknown-linux-gnu", "powerpc-linux-gnu", "powerpc-linux-gnu", 32, false, false, None),
    arch("ppc64", "powerpc64-unknown-linux-gnu", "powerpc64-linux-gnu", "powerpc64-linux-gnu", 64, false, false, None),
    arch("sparc64", "sparc64-unknown-linux-gnu", "sparc64-linux-gnu", "sparc64-linux-gnu", 64, true, false, None),
    arch("m68k", "m68k-unknown-linux-gnu", "m68k-linux-gnu", "m68k-linux-gnu", 32, true, false, None),
    arch("loong64", "loongarch64-unknown-linux-gnu", LOONG64, "loongarch64-linux-gnu", 64, true, false, SID),
];

/// loong64 has no cross compiler in Debian 12: clang 16 (with the linker of
/// the Rust toolchain, LLVM's own of Debian 12 being too old, and GNU ld
/// having no LoongArch target there) and a sysroot of Debian unstable's
/// packages ([`loong64_tools`]). rust-lld makes one difference from
/// Debian's library: it exports no symbol for each version node
/// (`LIBAIO_0.1`, ...) and records no parent of a node.
const LOONG64: &str = "";
/// Debian unstable's libaio1t64, whatever its version: from the sysroot.
const SID: Option<(&str, &str)> = Some(("sid", ""));

/// clang for loong64, over a sysroot of Debian unstable's C library
/// (fetched once into `target/foreign/loong64/sysroot/`, with Debian's
/// libaio1t64 for loong64, the reference).
fn loong64_tools() -> (CrossTools, PathBuf) {
    let dir = root().join("target/foreign/loong64");
    let sysroot = dir.join("sysroot");
    if !dir.join("sysroot-done").exists() {
        let _ = std::fs::remove_dir_all(&sysroot);
        let apt = Apt::new(
            &dir.join("apt"),
            "loong64",
            &["deb [arch=loong64] http://deb.debian.org/debian sid main".into()],
        );
        // libgcc-N-dev (crtbeginS.o, libgcc.a) of the default compiler.
        let gcc = apt
            .depends("gcc", "sid")
            .into_iter()
            .find(|d| d.starts_with("gcc-") && d[4..].chars().all(|c| c.is_ascii_digit()))
            .expect("gcc depends on gcc-N");
        let libgcc = format!("libgcc-{}-dev", &gcc[4..]);
        let packages = [
            "libc6",
            "libc6-dev",
            "linux-libc-dev",
            "libgcc-s1",
            &libgcc,
            "libaio1t64",
        ];
        let debs = apt.download(&packages.map(str::to_owned));
        for deb in &debs {
            run_ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&sysroot));
            std::fs::remove_file(deb).unwrap();
        }
        drop(apt);
        let _ = std::fs::remove_dir_all(dir.join("apt"));
        // The merged /usr's links, which libc.so's linker script names.
        for link in ["lib", "lib64"] {
            let _ = std::os::unix::fs::symlink(format!("usr/{link}"), sysroot.join(link));
        }
        std::fs::write(dir.join("sysroot-done"), "").unwrap();
    }
    let multiarch = sysroot.join("usr/lib/loongarch64-linux-gnu");
    let gcc_dir = std::fs::read_dir(sysroot.join("usr/lib/gcc/loongarch64-linux-gnu"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rust_sysroot = run_ok(Command::new("rustc").args(["--print", "sysroot"]));
    let lld = PathBuf::from(String::from_utf8_lossy(&rust_sysroot.stdout).trim())
        .join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld");
    let cc = format!(
        "clang-16 --target=loongarch64-linux-gnu --sysroot={} -fuse-ld=lld --ld-path={} -B{} \
         -L{} -L{} -Wno-unused-command-line-argument",
        sysroot.display(),
        lld.display(),
        multiarch.display(),
        multiarch.display(),
        gcc_dir.display()
    );
    let tools = CrossTools {
        cc,
        ld: lld.display().to_string(),
        objcopy: "llvm-objcopy-16".into(),
        ar: "llvm-ar-16".into(),
    };
    (tools, multiarch.join("libaio.so.1t64.0.2"))
}

/// Debian's library `file` of `package`, for this architecture.
fn debian(arch: &Arch, suite: &str, package: &str, version: &str, file: &str) -> PathBuf {
    let lib = debian_archive_package(suite, arch.name, package, version)
        .join("usr/lib")
        .join(arch.multiarch)
        .join(file);
    assert!(
        lib.exists(),
        "no {} in Debian's {package} {version}",
        lib.display()
    );
    lib
}

/// What is wrong with one of our libraries: compared with the rules, with
/// Debian's (when there is one), and against NEEDED and imports.
fn problems(
    arch: &Arch,
    ours: &Path,
    library: &str,
    soname: &str,
    theirs: Option<&Path>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(format!("{} {soname}: {what}", arch.name));
        }
    };
    let symbols = exported(ours);
    let mut rules = expected_from_table(library, arch.bits);
    if arch.gnu == LOONG64 {
        rules.retain(|s| s.contains('@'));
    }
    check(
        symbols == rules,
        format!("exports {symbols:?}, src/symbols.txt says {rules:?}"),
    );
    check(
        dynamic(ours, "SONAME") == [format!("Library soname: [{soname}]")],
        format!("SONAME {:?}", dynamic(ours, "SONAME")),
    );
    let needed = dynamic(ours, "NEEDED");
    check(
        needed == ["Shared library: [libc.so.6]"],
        format!("NEEDED {needed:?}, not libc.so.6 alone"),
    );
    // Versioned imports come from glibc; the unversioned ones are the weak
    // references of the C toolchain's start files (__gmon_start__, ...).
    for import in imported(ours) {
        check(
            (import.contains("@GLIBC_") || !import.contains('@'))
                && !import.contains("Unwind")
                && !import.contains("rust"),
            format!("imports {import}, not from glibc"),
        );
    }
    if let Some(theirs) = theirs {
        let (mut their_symbols, mut their_tree) = (exported(theirs), version_tree(theirs));
        let mut our_tree = version_tree(ours);
        if arch.gnu == LOONG64 {
            // The one difference, from the linker: rust-lld exports no symbol
            // for a version node and records no node's parent; everything
            // else must be as in Debian's build.
            their_symbols.retain(|s| s.contains('@'));
            their_tree.retain(|line| !line.starts_with("Parent"));
            let counts = |tree: &mut Vec<String>| {
                for line in tree.iter_mut() {
                    *line = line.replace("Cnt: 2", "Cnt: 1");
                }
            };
            counts(&mut their_tree);
            counts(&mut our_tree);
            check(
                !symbols.iter().any(|s| !s.contains('@'))
                    && !version_tree(ours).iter().any(|l| l.starts_with("Parent")),
                "now exports version nodes: the known difference is gone".into(),
            );
        }
        check(
            symbols == their_symbols,
            format!("exports {symbols:?}, Debian's {their_symbols:?}"),
        );
        check(
            our_tree == their_tree,
            format!("version tree {our_tree:?}, Debian's {their_tree:?}"),
        );
        check(
            dynamic(ours, "SONAME") == dynamic(theirs, "SONAME"),
            "SONAME differs from Debian's".into(),
        );
        check(
            machine(ours) == machine(theirs),
            format!("ELF {:?}, Debian's {:?}", machine(ours), machine(theirs)),
        );
        println!(
            "{} {soname}: {} symbols, version tree, SONAME and ELF header as Debian's; Debian's \
             NEEDED {:?}",
            arch.name,
            symbols.len(),
            dynamic(theirs, "NEEDED")
        );
    } else {
        println!(
            "{} {soname}: {} symbols as src/symbols.txt says (no Debian build to compare \
             with); ELF {:?}",
            arch.name,
            symbols.len(),
            machine(ours)
        );
    }
    problems
}

/// Builds one architecture (or takes the host's build) and checks it.
fn check(arch: &Arch, libdir: Option<&Path>) -> Vec<String> {
    if arch.build_std && !nightly_available() {
        println!(
            "{}: SKIPPED: {} has no standard library in rustup: needs a nightly toolchain with \
             rust-src (`rustup toolchain install nightly --component rust-src`); .ci/run \
             installs it",
            arch.name, arch.rust_target
        );
        return Vec::new();
    }
    let started = std::time::Instant::now();
    let (tools, sid_t64) = if arch.gnu == LOONG64 {
        let (tools, reference) = loong64_tools();
        (tools, Some(reference))
    } else {
        (CrossTools::gnu(arch.gnu), None)
    };
    let built;
    let dir = match libdir {
        Some(dir) => dir,
        None => {
            built = common::cross_build(arch.name, arch.rust_target, &tools, arch.build_std);
            &built
        }
    };
    println!("{}: built in {:.1?}", arch.name, started.elapsed());
    let bookworm = arch
        .bookworm
        .then(|| debian(arch, "bookworm", "libaio1", "0.3.113-4", "libaio.so.1.0.2"));
    let t64 = sid_t64.or_else(|| {
        arch.t64.map(|(suite, version)| {
            debian(arch, suite, "libaio1t64", version, "libaio.so.1t64.0.2")
        })
    });
    let mut all = problems(
        arch,
        &dir.join("libaio.so.1.0.2"),
        "classic",
        "libaio.so.1",
        bookworm.as_deref(),
    );
    all.extend(problems(
        arch,
        &dir.join("libaio.so.1t64.0.2"),
        "t64",
        "libaio.so.1t64",
        t64.as_deref(),
    ));
    all
}

#[test]
fn the_host_build_matches_debian() {
    let problems = check(&AMD64, Some(common::libdir()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_architecture_builds_and_matches_debian() {
    let mut all = Vec::new();
    for arch in CROSS {
        all.extend(check(arch, None));
    }
    assert!(
        all.is_empty(),
        "{} problem(s):\n{}",
        all.len(),
        all.join("\n")
    );
}
