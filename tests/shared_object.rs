//! The shared object as the dynamic linker and packagers see it: exported
//! symbols and versions, SONAME, dependencies, size, and the installed file
//! set, compared with the system's libaio.so.1 and with src/symbols.txt.

mod common;

use common::elf::{expected_from_table, exported, version_tree};
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// `readelf -d`: (tag, value) pairs of the dynamic section.
fn dynamic(lib: &Path) -> Vec<(String, String)> {
    let out = run_ok(Command::new("readelf").args(["-W", "-d"]).arg(lib));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let open = line.find('(')?;
            let close = line.find(')')?;
            let tag = line[open + 1..close].to_owned();
            Some((tag, line[close + 1..].trim().to_owned()))
        })
        .collect()
}

#[test]
fn exports_exactly_the_symbols_of_the_system_libaio() {
    let ours = exported(&our_lib());
    let system = exported(&system_lib());
    assert_eq!(
        ours, system,
        "exported symbols differ from the system libaio's"
    );
    assert_eq!(
        ours,
        expected_from_table("classic", 64),
        "exported symbols differ from src/symbols.txt"
    );
    // Sanity: the list is the full one, compat symbols included.
    assert_eq!(ours.len(), 16);
    assert!(ours.contains("io_getevents@LIBAIO_0.1") && ours.contains("io_getevents@@LIBAIO_0.4"));
}

#[test]
fn version_tree_matches_the_system_libaio() {
    let ours = version_tree(&our_lib());
    assert_eq!(ours, version_tree(&system_lib()));
    assert!(ours.iter().any(|l| l.contains("Name: LIBAIO_0.5")));
    assert!(ours.iter().any(|l| l == "Parent 1: LIBAIO_0.4"));
}

#[test]
fn soname_and_dependencies() {
    let dynamic = dynamic(&our_lib());
    let values = |tag: &str| -> Vec<&str> {
        dynamic
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("SONAME"), ["Library soname: [libaio.so.1]"]);
    assert_eq!(
        values("NEEDED"),
        ["Shared library: [libc.so.6]"],
        "only libc may be needed"
    );
    assert!(values("RPATH").is_empty() && values("RUNPATH").is_empty());
    assert!(values("TEXTREL").is_empty(), "no text relocations");
}

/// Code that the library does not use can still name libgcc_s's unwinder:
/// compiler-rt's personality routine, which Debian's compiler_builtins
/// holds, does. Linked the Makefile's way beside such code (here one C
/// function, handed to the link through LDFLAGS), both shared objects must
/// still need libc.so.6 alone, whichever toolchain built the crate.
#[test]
fn unused_references_to_the_unwinder_add_no_dependency() {
    let scratch = scratch_dir("unwinder-reference");
    let source = scratch.join("unused.c");
    std::fs::write(
        &source,
        "#include <unwind.h>\n\
         _Unwind_Ptr libaio_rs_test_unused(struct _Unwind_Context *c);\n\
         _Unwind_Ptr libaio_rs_test_unused(struct _Unwind_Context *c)\n\
         { return _Unwind_GetIP(c); }\n",
    )
    .unwrap();
    let object = scratch.join("unused.o");
    run_ok(
        Command::new("cc")
            .args([
                "-c",
                "-fPIC",
                "-ffunction-sections",
                "-Wall",
                "-Werror",
                "-o",
            ])
            .arg(&object)
            .arg(&source),
    );
    let undefined = run_ok(Command::new("nm").arg("-u").arg(&object));
    assert!(
        String::from_utf8_lossy(&undefined.stdout).contains("_Unwind_GetIP"),
        "the object names no _Unwind_GetIP"
    );
    libdir();
    let build = scratch.join("build");
    let mut make = make();
    make.arg(format!("BUILD={}", build.display()))
        .arg(format!("LDFLAGS={}", object.display()))
        .arg(build.join("lib/libaio.so.1.0.2"))
        .arg(build.join("lib/libaio.so.1t64.0.2"));
    run_ok(&mut make);
    for file in ["libaio.so.1.0.2", "libaio.so.1t64.0.2"] {
        let needed: Vec<String> = dynamic(&build.join("lib").join(file))
            .into_iter()
            .filter(|(tag, _)| tag == "NEEDED")
            .map(|(_, value)| value)
            .collect();
        assert_eq!(
            needed,
            ["Shared library: [libc.so.6]"],
            "{file}, linked beside code naming _Unwind_GetIP"
        );
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn no_rust_runtime_inside() {
    let out = run_ok(
        Command::new("readelf")
            .args(["-W", "--dyn-syms"])
            .arg(our_lib()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let imports: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" UND "))
        .filter_map(|l| l.split_whitespace().nth(7))
        .collect();
    for import in &imports {
        assert!(
            !import.contains("Unwind") && !import.contains("rust") && !import.contains("GCC_"),
            "unexpected import {import}"
        );
        // Everything the library calls comes from glibc.
        assert!(
            import.contains("@GLIBC_") || !import.contains('@'),
            "import {import}"
        );
    }
    let sections = run_ok(Command::new("readelf").args(["-W", "-S"]).arg(our_lib()));
    let sections = String::from_utf8_lossy(&sections.stdout);
    assert!(
        !sections.contains(".tdata") && !sections.contains(".tbss"),
        "no thread-local data"
    );
}

#[test]
fn stripped_size_is_under_64_kib() {
    let dir = scratch_dir("stripped-size");
    let copy = dir.join("libaio.so.1");
    run_ok(Command::new("strip").arg("-o").arg(&copy).arg(our_lib()));
    let size = std::fs::metadata(&copy).unwrap().len();
    println!("stripped libaio.so.1: {size} bytes");
    assert!(size < 64 * 1024, "{size} bytes");
}

/// The load segments are the system libaio's: one writable segment, as a
/// second one (the registry's `.bss`, aligned beyond the linker's page
/// size, once had one of its own) is a shared object whose symbols and
/// unwind tables valgrind 3.19 does not read: reports name no function, and
/// suppressions that match the program's frames stop matching.
#[test]
fn one_writable_load_segment_as_in_the_system_libaio() {
    let writable = |lib: &Path| {
        let out = run_ok(Command::new("readelf").args(["-W", "-l"]).arg(lib));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD "))
            .filter(|l| l.split_whitespace().nth(6).is_some_and(|f| f.contains('W')))
            .count()
    };
    assert_eq!(writable(&system_lib()), 1, "the system libaio");
    assert_eq!(writable(&our_lib()), 1, "{}", our_lib().display());
}

#[test]
fn library_file_and_symlinks() {
    let dir = libdir();
    let real = dir.join("libaio.so.1.0.2");
    assert!(real.symlink_metadata().unwrap().file_type().is_file());
    for link in ["libaio.so.1", "libaio.so"] {
        assert_eq!(
            std::fs::read_link(dir.join(link)).unwrap(),
            Path::new("libaio.so.1.0.2")
        );
    }
}

/// `make install` gives the file set of Debian's libaio1, libaio1t64 and
/// libaio-dev, plus pkg-config's file and our manual pages.
#[test]
fn make_install_honours_destdir_and_directories() {
    let dest = scratch_dir("install");
    libdir();
    let mut make = make();
    make.arg("-s").arg("install");
    make.arg(format!("DESTDIR={}", dest.display()));
    make.args([
        "prefix=/usr",
        "libdir=/usr/lib",
        "includedir=/usr/include",
        "mandir=/usr/share/man",
    ]);
    run_ok(&mut make);

    let mut files = BTreeSet::new();
    collect(&dest, &dest, &mut files);
    let mut expected: BTreeSet<String> = [
        "usr/include/libaio.h",
        "usr/lib/libaio.a",
        "usr/lib/libaio.so -> libaio.so.1.0.2",
        "usr/lib/libaio.so.1 -> libaio.so.1.0.2",
        "usr/lib/libaio.so.1.0.2",
        "usr/lib/libaio.so.1t64 -> libaio.so.1t64.0.2",
        "usr/lib/libaio.so.1t64.0.2",
        "usr/lib/pkgconfig/libaio.pc",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for page in std::fs::read_dir(root().join("man")).into_iter().flatten() {
        let name = page.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".3") {
            expected.insert(format!("usr/share/man/man3/{name}"));
        }
    }
    assert_eq!(files, expected);
    let installed = std::fs::read(dest.join("usr/include/libaio.h")).unwrap();
    assert_eq!(
        installed,
        std::fs::read(include_dir().join("libaio.h")).unwrap()
    );

    // pkg-config finds the library where it was installed.
    let pkg_config = |args: &[&str]| {
        let out = run_ok(
            Command::new("pkg-config")
                .args(args)
                .arg("libaio")
                .env("PKG_CONFIG_PATH", dest.join("usr/lib/pkgconfig"))
                .env("PKG_CONFIG_SYSROOT_DIR", &dest)
                .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1")
                .env("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(pkg_config(&["--modversion"]), "0.3.113");
    let text = pkg_config(&["--cflags", "--libs"]);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.contains(&"-laio"), "{text}");
    let include = format!("-I{}/usr/include", dest.display());
    let lib = format!("-L{}/usr/lib", dest.display());
    assert!(
        words.contains(&include.as_str()) && words.contains(&lib.as_str()),
        "{text}"
    );
}

/// libaio.so.1t64 is the library Debian 13 ships as libaio1t64
/// (0.3.113-8+b1): the same symbols plus an empty LIBAIO_0.6 node, under its
/// own SONAME. Compared with the real one, fetched from Debian's archive.
#[test]
fn t64_library_matches_debians_libaio1t64() {
    let ours = libdir().join("libaio.so.1t64");
    let theirs = debian_t64_library();
    assert_eq!(exported(&ours), exported(&theirs));
    assert_eq!(version_tree(&ours), version_tree(&theirs));
    assert!(exported(&ours).contains("LIBAIO_0.6"));
    let dynamic = dynamic(&ours);
    assert!(dynamic.contains(&(
        "SONAME".to_owned(),
        "Library soname: [libaio.so.1t64]".to_owned()
    )));
    // And it is the same code as libaio.so.1.
    let t64_text = run_ok(
        Command::new("objdump")
            .args(["-d", "--no-addresses", "--no-show-raw-insn"])
            .arg(&ours),
    );
    let classic_text = run_ok(
        Command::new("objdump")
            .args(["-d", "--no-addresses", "--no-show-raw-insn"])
            .arg(our_lib()),
    );
    let body = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_once("Disassembly of section .text:")
            .map(|(_, t)| t.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(body(&t64_text), body(&classic_text));
}

/// Debian 13's libaio.so.1t64.0.2 (package libaio1t64), downloaded once.
fn debian_t64_library() -> std::path::PathBuf {
    let root = debian_archive_package("trixie", "amd64", "libaio1t64", "0.3.113-8+b1");
    let library = root.join("usr/lib/x86_64-linux-gnu/libaio.so.1t64.0.2");
    assert!(
        library.exists(),
        "no {} in Debian's libaio1t64",
        library.display()
    );
    library
}

fn collect(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(base).unwrap().display().to_string();
        let meta = path.symlink_metadata().unwrap();
        if meta.file_type().is_symlink() {
            out.insert(format!(
                "{rel} -> {}",
                std::fs::read_link(&path).unwrap().display()
            ));
        } else if meta.is_dir() {
            collect(base, &path, out);
        } else {
            out.insert(rel);
        }
    }
}
