//! The project's tests on other architectures, at run time.
//!
//! qemu-user has no AIO system calls, so each architecture gets a real
//! kernel of its own: a Debian kernel booted by full-system QEMU (TCG), with
//! an initramfs holding the test programs, cross-built on this machine. i386
//! runs on this kernel directly, in a chroot of the same file tree.
//!
//! For each architecture, one test here:
//!
//! 1. cross-builds the library with the Makefile (`RUST_TARGET`, `CC`, ...)
//!    into `target/foreign/<arch>/build/`, and the test programs of
//!    [`TESTS`] with cargo, for that target, into `target/foreign/cargo/`;
//! 2. fetches, once (cached under `target/foreign/<arch>/debs/`), from
//!    Debian's archive with a private apt configuration: the kernel, Debian's
//!    own libaio of that architecture (the reference the tests compare with)
//!    and `setpriv` (util-linux, for the set-user-ID case of the user-space
//!    reaping test);
//! 3. lays out a root file system: the cross toolchain's C library, the
//!    test programs, our library at the path of its build directory, the
//!    reference library, the repository files the tests read, and `/init`
//!    (`tests/foreign/init.c`, static), which mounts `/proc`, `/dev`,
//!    `/dev/shm`, runs each test program with a time limit, reports between
//!    markers on the console and powers the machine off;
//! 4. boots it (2 virtual CPUs, for the multi-threaded tests) and reads the
//!    verdict from the console: every program must exit 0.
//!
//! The test programs are the project's own: every `tests/*.rs` in [`TESTS`]
//! runs whole, whatever it contains. The tests that compile C at run time or
//! need other tools (strace, fio, valgrind, a C compiler, cargo) cannot run
//! in these guests; README.md lists them.
//!
//! x32 needs a nightly toolchain (rustup ships no x32 standard library):
//! its test says so and passes without running when there is none; `.ci/run`
//! installs one.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Apt, clean_command, nightly_available, root, run, run_ok};

/// The integration tests that run on every architecture: those that need
/// only a kernel, the two libraries and strace (`differential` gets its C
/// programs prebuilt here: `LIBAIO_RS_PREBUILT`).
const TESTS: &[&str] = &[
    "api",
    "fast_path",
    "bad_input",
    "faults",
    "user_space_reaping",
    "differential",
];

/// The longest one test program may run in a guest (TCG is 5 to 20 times
/// slower than this machine).
const PROGRAM_LIMIT: u64 = 600;

/// How much longer than on this machine a test may take under TCG before
/// it counts as hung (`common::hang_limit`).
const SLOWDOWN: u32 = 10;

/// The longest a guest may run, from boot to power-off.
const BOOT_LIMIT: Duration = Duration::from_secs(1500);

/// How a guest is booted.
struct Guest {
    /// The QEMU program.
    qemu: &'static str,
    /// Its machine options.
    machine: &'static [&'static str],
    /// The console device, for `console=`.
    console: &'static str,
    /// More kernel command line.
    append: &'static str,
    /// The Debian architecture of the kernel.
    kernel_arch: &'static str,
    /// The suite and metapackage of the kernel.
    kernel_suite: &'static str,
    kernel_package: &'static str,
}

/// Debian's libaio of an architecture, the reference (suite `source`:
/// built here from Debian's source, `common::debian_libaio_from_source`).
struct Reference {
    suite: &'static str,
    package: &'static str,
    version: &'static str,
    /// The library's file name.
    file: &'static str,
}

/// One architecture.
struct Arch {
    /// Debian's name.
    name: &'static str,
    rust_target: &'static str,
    /// The GNU triple of Debian's cross toolchain (`<triple>-gcc`, and its
    /// libraries in `/usr/<triple>/lib`).
    gnu: &'static str,
    /// Debian's multiarch directory name.
    multiarch: &'static str,
    /// Whether the standard library must be built (nightly `-Zbuild-std`).
    build_std: bool,
    /// None: run on this kernel, in a chroot.
    guest: Option<Guest>,
    /// The suites packages come from (the reference, setpriv).
    suites: &'static [&'static str],
    /// The Debian architecture of the tools in the guest (setpriv).
    tools_arch: &'static str,
    reference: Reference,
}

const BOOKWORM: &[&str] = &["bookworm", "bookworm-backports"];
/// The tools of the guest are of its own architecture.
const TOOLS_SAME: &str = "";
const LIBAIO1: Reference = Reference {
    suite: "bookworm",
    package: "libaio1",
    version: "0.3.113-4",
    file: "libaio.so.1.0.2",
};

const ARM64: Arch = Arch {
    name: "arm64",
    rust_target: "aarch64-unknown-linux-gnu",
    gnu: "aarch64-linux-gnu",
    multiarch: "aarch64-linux-gnu",
    build_std: false,
    guest: Some(Guest {
        qemu: "qemu-system-aarch64",
        machine: &["-M", "virt", "-cpu", "cortex-a72"],
        console: "ttyAMA0",
        append: "",
        kernel_arch: "arm64",
        kernel_suite: "bookworm-backports",
        kernel_package: "linux-image-arm64",
    }),
    suites: BOOKWORM,
    tools_arch: TOOLS_SAME,
    reference: LIBAIO1,
};

const ARMHF: Arch = Arch {
    name: "armhf",
    rust_target: "armv7-unknown-linux-gnueabihf",
    gnu: "arm-linux-gnueabihf",
    multiarch: "arm-linux-gnueabihf",
    build_std: false,
    guest: Some(Guest {
        qemu: "qemu-system-arm",
        machine: &["-M", "virt,highmem=off", "-cpu", "cortex-a15"],
        console: "ttyAMA0",
        append: "",
        kernel_arch: "armhf",
        kernel_suite: "bookworm-backports",
        kernel_package: "linux-image-armmp-lpae",
    }),
    suites: BOOKWORM,
    tools_arch: TOOLS_SAME,
    reference: LIBAIO1,
};

const S390X: Arch = Arch {
    name: "s390x",
    rust_target: "s390x-unknown-linux-gnu",
    gnu: "s390x-linux-gnu",
    multiarch: "s390x-linux-gnu",
    build_std: false,
    guest: Some(Guest {
        qemu: "qemu-system-s390x",
        machine: &["-M", "s390-ccw-virtio", "-cpu", "max"],
        console: "ttysclp0",
        append: "",
        kernel_arch: "s390x",
        kernel_suite: "bookworm-backports",
        kernel_package: "linux-image-s390x",
    }),
    suites: BOOKWORM,
    tools_arch: TOOLS_SAME,
    reference: LIBAIO1,
};

const PPC64EL: Arch = Arch {
    name: "ppc64el",
    rust_target: "powerpc64le-unknown-linux-gnu",
    gnu: "powerpc64le-linux-gnu",
    multiarch: "powerpc64le-linux-gnu",
    build_std: false,
    guest: Some(Guest {
        qemu: "qemu-system-ppc64",
        machine: &[
            "-M",
            "pseries,x-vof=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
            "-cpu",
            "power9",
        ],
        console: "hvc0",
        append: "",
        kernel_arch: "ppc64el",
        kernel_suite: "bookworm-backports",
        kernel_package: "linux-image-powerpc64le",
    }),
    suites: BOOKWORM,
    tools_arch: TOOLS_SAME,
    reference: LIBAIO1,
};

/// riscv64 is not a Debian 12 architecture: Debian 13's kernel and tools.
/// Debian never built libaio1 (0.3.113-4) for it, and its libaio1t64
/// behaves otherwise where libaio 0.3.113 is the reference (it makes the
/// io_pgetevents system call for io_getevents, and copies a timeout that
/// libaio1 leaves to the kernel): the reference is libaio1's source built
/// here for riscv64, as for x32 (tests/architectures.rs compares the ABI
/// with Debian 13's libaio1t64).
const RISCV64: Arch = Arch {
    name: "riscv64",
    rust_target: "riscv64gc-unknown-linux-gnu",
    gnu: "riscv64-linux-gnu",
    multiarch: "riscv64-linux-gnu",
    build_std: false,
    guest: Some(Guest {
        qemu: "qemu-system-riscv64",
        machine: &["-M", "virt", "-cpu", "rv64"],
        console: "ttyS0",
        append: "",
        kernel_arch: "riscv64",
        kernel_suite: "trixie",
        kernel_package: "linux-image-riscv64",
    }),
    suites: &["trixie"],
    tools_arch: TOOLS_SAME,
    reference: FROM_SOURCE,
};

/// Debian's libaio1 0.3.113-4, built here from its source package.
const FROM_SOURCE: Reference = Reference {
    suite: "source",
    package: "libaio",
    version: "0.3.113-4",
    file: "libaio.so.1.0.2",
};

/// i386 runs on this kernel (a 64-bit kernel runs 32-bit x86 programs).
const I386: Arch = Arch {
    name: "i386",
    rust_target: "i686-unknown-linux-gnu",
    gnu: "i686-linux-gnu",
    multiarch: "i386-linux-gnu",
    build_std: false,
    guest: None,
    suites: BOOKWORM,
    tools_arch: TOOLS_SAME,
    reference: LIBAIO1,
};

/// x32 under an amd64 kernel started with `syscall.x32=y` (Debian builds
/// it in, off by default). Debian's x32 port is not reachable here: the
/// reference is Debian's libaio source built for x32, and the guest's
/// setpriv is amd64's (with this machine's amd64 C library).
const X32: Arch = Arch {
    name: "x32",
    rust_target: "x86_64-unknown-linux-gnux32",
    gnu: "x86_64-linux-gnux32",
    multiarch: "x86_64-linux-gnux32",
    build_std: true,
    guest: Some(Guest {
        qemu: "qemu-system-x86_64",
        machine: &["-cpu", "max"],
        console: "ttyS0",
        append: "syscall.x32=y",
        kernel_arch: "amd64",
        kernel_suite: "bookworm-backports",
        kernel_package: "linux-image-amd64",
    }),
    suites: BOOKWORM,
    tools_arch: "amd64",
    reference: FROM_SOURCE,
};

// ---------------------------------------------------------------------------
// Building

/// `target/foreign`.
fn foreign_dir() -> PathBuf {
    root().join("target/foreign")
}

/// cargo, on the toolchain the architecture needs.
fn cargo(arch: &Arch) -> Command {
    let mut cmd = clean_command("cargo");
    if arch.build_std {
        cmd.arg("+nightly");
    }
    cmd
}

/// Cross-builds the test programs; returns them by name (`lib` for the
/// library's unit tests).
fn build_tests(arch: &Arch) -> BTreeMap<String, PathBuf> {
    if !arch.build_std {
        common::ensure_rust_target(arch.rust_target);
    }
    let mut cmd = cargo(arch);
    cmd.current_dir(root())
        .args([
            "test",
            "--no-run",
            "--no-default-features",
            "--message-format=json",
        ])
        .args(["--target", arch.rust_target])
        // With -Zbuild-std, not where the library was built with its own
        // `core` (two of them in one directory clash).
        .env(
            "CARGO_TARGET_DIR",
            foreign_dir().join(if arch.build_std { "cargo-std" } else { "cargo" }),
        )
        // Smaller programs: no debug information of their own.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env(
            format!(
                "CARGO_TARGET_{}_LINKER",
                arch.rust_target.to_uppercase().replace('-', "_")
            ),
            format!("{}-gcc", arch.gnu),
        );
    if arch.build_std {
        // One `core` for everything: the profile's panic=abort would have
        // cargo build a second one for the library.
        cmd.arg("-Zbuild-std")
            .env("CARGO_PROFILE_DEV_PANIC", "unwind");
    }
    // The library's unit tests hold 64-bit addresses (src/registry.rs).
    if arch.rust_target.starts_with("aarch64")
        || arch.rust_target.starts_with("s390x")
        || arch.rust_target.starts_with("powerpc64")
        || arch.rust_target.starts_with("riscv64")
    {
        cmd.arg("--lib");
    }
    for test in TESTS {
        cmd.args(["--test", test]);
    }
    let out = run_ok(&mut cmd);
    let mut programs = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(exe) = json_string(line, "\"executable\":\"") else {
            continue;
        };
        let Some(target) = line.split("\"target\":{").nth(1) else {
            continue;
        };
        let name = json_string(target, "\"name\":\"").unwrap();
        let name = if name == "aio_rs" { "lib".into() } else { name };
        programs.insert(name, PathBuf::from(exe));
    }
    programs
}

/// The JSON string after `key` in `text` (no escapes in what is read here).
fn json_string(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

// ---------------------------------------------------------------------------
// Debian's packages

/// What is fetched from Debian for an architecture, extracted.
struct Fetched {
    /// The extracted packages (the reference library, setpriv).
    tree: PathBuf,
    /// The kernel image, for a guest.
    kernel: Option<PathBuf>,
}

/// Fetches (once) the packages an architecture needs.
fn fetch(arch: &Arch) -> Fetched {
    let dir = foreign_dir().join(arch.name).join("debs");
    let tree = dir.join("tree");
    let kernel = dir.join("kernel");
    let reference = &arch.reference;
    let wanted = format!(
        "{} {} {} (with libaio.so.1) setpriv strace busybox {:?}",
        reference.suite,
        reference.package,
        reference.version,
        arch.guest.as_ref().map(|g| g.kernel_package)
    );
    let marker = dir.join("fetched");
    if fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Fetched {
            tree,
            kernel: arch.guest.as_ref().map(|_| kernel),
        };
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let mirror = "http://deb.debian.org/debian";
    let sources = |debian_arch: &str, suites: &[&str]| -> Vec<String> {
        suites
            .iter()
            .map(|suite| format!("deb [arch={debian_arch}] {mirror} {suite} main"))
            .collect()
    };
    let tools_arch = match arch.tools_arch {
        TOOLS_SAME => arch.name,
        other => other,
    };
    let apt = Apt::new(
        &dir.join("apt"),
        tools_arch,
        &sources(tools_arch, arch.suites),
    );
    // setpriv (util-linux needs more libraries, but setpriv only these),
    // strace and a shell (busybox), with the C library they need.
    let mut wanted_debs = vec!["util-linux".to_owned(), "libcap-ng0".to_owned()];
    wanted_debs.extend(apt.closure(&["strace", "busybox-static"]));
    if reference.suite != "source" {
        wanted_debs.push(format!("{}={}", reference.package, reference.version));
    }
    for deb in &apt.download(&wanted_debs) {
        run_ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tree));
        fs::remove_file(deb).unwrap();
    }
    drop(apt);
    if reference.suite == "source" {
        let built = common::debian_libaio_from_source(arch.name, &format!("{}-gcc", arch.gnu));
        let dest = tree.join("usr/lib").join(arch.multiarch);
        fs::create_dir_all(&dest).unwrap();
        fs::copy(built.join(reference.file), dest.join(reference.file)).unwrap();
        std::os::unix::fs::symlink(reference.file, dest.join("libaio.so.1")).unwrap();
    }
    if let Some(guest) = &arch.guest {
        let apt = Apt::new(
            &dir.join("apt-kernel"),
            guest.kernel_arch,
            &sources(guest.kernel_arch, &[guest.kernel_suite]),
        );
        let image = apt
            .depends(guest.kernel_package, guest.kernel_suite)
            .into_iter()
            .find(|d| d.starts_with("linux-image-"))
            .unwrap_or_else(|| panic!("{} depends on no linux-image", guest.kernel_package));
        let deb = &apt.download(&[format!("{image}/{}", guest.kernel_suite)])[0];
        let unpacked = dir.join("kernel-package");
        fs::create_dir_all(&unpacked).unwrap();
        run_ok(Command::new("sh").arg("-c").arg(format!(
            "dpkg-deb --fsys-tarfile '{}' | tar -x -C '{}' --wildcards './boot/vmlinu*'",
            deb.display(),
            unpacked.display()
        )));
        let image = fs::read_dir(unpacked.join("boot"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .next()
            .expect("a kernel image in the package");
        fs::rename(&image, &kernel).unwrap();
        fs::remove_dir_all(&unpacked).unwrap();
        fs::remove_file(deb).unwrap();
    }
    fs::write(&marker, &wanted).unwrap();
    println!(
        "{}: fetched from Debian in {:.1?}",
        arch.name,
        started.elapsed()
    );
    Fetched {
        tree,
        kernel: arch.guest.as_ref().map(|_| kernel),
    }
}

// ---------------------------------------------------------------------------
// The guest's file tree

/// Copies `from` to `to` (following symbolic links), creating directories
/// and replacing what is there.
fn install(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    let _ = fs::remove_file(to);
    fs::copy(from, to).unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
}

/// Copies a directory tree; symbolic links stay links (to be resolved in
/// the guest: an absolute one names a file of the guest's tree).
fn install_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            fs::create_dir_all(to).unwrap();
            let _ = fs::remove_file(&dest);
            std::os::unix::fs::symlink(fs::read_link(&path).unwrap(), &dest).unwrap();
        } else if meta.is_dir() {
            install_tree(&path, &dest);
        } else {
            install(&path, &dest);
        }
    }
}

/// Lays out the guest's file tree in `tree`; returns the labels of the
/// programs `/init` runs.
fn lay_out(
    arch: &Arch,
    tree: &Path,
    fetched: &Fetched,
    ours: &Path,
    programs: &BTreeMap<String, PathBuf>,
) -> Vec<String> {
    let _ = fs::remove_dir_all(tree);
    let gnu = arch.gnu;
    // /init, in a root with a merged /usr, as Debian 12's and 13's.
    let init = tree.join("init");
    fs::create_dir_all(tree).unwrap();
    for dir in ["bin", "sbin", "lib", "lib64", "libx32", "lib32"] {
        fs::create_dir_all(tree.join("usr").join(dir)).unwrap();
        std::os::unix::fs::symlink(format!("usr/{dir}"), tree.join(dir)).unwrap();
    }
    run_ok(
        Command::new(format!("{gnu}-gcc"))
            .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&init)
            .arg(root().join("tests/foreign/init.c")),
    );
    // The C library of the cross toolchain, with its loader wherever the
    // programs look for it.
    let libc_dir = PathBuf::from(format!("/usr/{gnu}/lib"));
    for entry in fs::read_dir(&libc_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let runtime = [
            "libc.so.",
            "libm.so.",
            "libgcc_s.so.",
            "libdl.so.",
            "libpthread.so.",
            "librt.so.",
            "libutil.so.",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        let loader = name.starts_with("ld-") || name.starts_with("ld64");
        if runtime || loader {
            install(&path, &tree.join("lib").join(&name));
            install(&path, &tree.join("lib").join(arch.multiarch).join(&name));
        }
        if loader {
            for dir in ["lib64", "libx32"] {
                install(&path, &tree.join(dir).join(&name));
            }
        }
    }
    // Debian's packages: the reference library and the tools, over the
    // cross toolchain's C library (the same, or on riscv64 a newer one).
    install_tree(&fetched.tree, tree);
    std::os::unix::fs::symlink("busybox", tree.join("bin/sh")).unwrap();
    // Our library, where its build directory is on this machine.
    install_tree(ours, &tree.join(ours.strip_prefix("/").unwrap()));
    // What the tests read of the repository.
    let repo = tree.join(root().strip_prefix("/").unwrap());
    install(&root().join("README.md"), &repo.join("README.md"));
    install_tree(&root().join("docs"), &repo.join("docs"));
    install_tree(&root().join("include"), &repo.join("include"));
    // The test programs, without their symbols.
    let mut list = String::new();
    for (name, exe) in programs {
        let dest = tree.join("tests/bin").join(name);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        run_ok(
            Command::new(format!("{gnu}-strip"))
                .arg("-o")
                .arg(&dest)
                .arg(exe),
        );
        let capture = if blessing() { " --nocapture" } else { "" };
        list += &format!("{name} {PROGRAM_LIMIT} /tests/bin/{name} --test-threads=2{capture}\n");
    }
    list += &c_programs(arch, tree, ours);
    fs::write(tree.join("tests/list"), &list).unwrap();
    let labels = list
        .lines()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    let reference = reference_path(arch);
    assert!(
        tree.join(reference.strip_prefix("/").unwrap()).exists(),
        "no {} in Debian's {}",
        reference.display(),
        arch.reference.package
    );
    fs::write(
        tree.join("tests/env"),
        format!(
            "LIBAIO_RS_LIBDIR={}\nLIBAIO_RS_SYSTEM_LIB={}\nRUST_BACKTRACE=1\nLIBAIO_RS_SLOWDOWN={}\n\
             LIBAIO_RS_PREBUILT=/tests/prebuilt\n{}",
            ours.display(),
            reference.display(),
            if arch.guest.is_some() { SLOWDOWN } else { 1 },
            if blessing() {
                "LIBAIO_RS_BLESS=1\nLIBAIO_RS_BLESS_TO_CONSOLE=1\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();
    for dir in ["proc", "sys", "dev", "tmp", "root"] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    fs::set_permissions(tree.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    labels
}

/// Whether the tests rewrite their checked-in results
/// (`LIBAIO_RS_BLESS=1`, e.g. `docs/bad-input/<arch>.md`): the guest's
/// tests print them on the console, and they are written here.
fn blessing() -> bool {
    std::env::var_os("LIBAIO_RS_BLESS").is_some_and(|v| v == "1")
}

/// Writes the files the guest's tests blessed (between `@@@ FILE <path>`
/// and `@@@ ENDFILE` on the console) into the repository.
fn keep_blessed(console: &str) {
    let mut lines = console.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("@@@ FILE ") else {
            continue;
        };
        let mut text = String::new();
        for line in lines.by_ref() {
            if line == "@@@ ENDFILE" {
                break;
            }
            text += line;
            text.push('\n');
        }
        let dest = root().join(path);
        assert!(
            !path.contains("..") && path.starts_with("docs/"),
            "a guest blessed {path}"
        );
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(&dest, text).unwrap();
        println!("blessed {path}");
    }
}

/// Where the guest finds the reference library as `libaio.so.1`, for C
/// programs run against it (on riscv64 its file is Debian's libaio.so.1t64,
/// whose interface on a 64-bit target is libaio.so.1's).
const REFERENCE_DIR: &str = "/usr/lib/libaio-reference";

/// Cross-builds the C programs of `c-tests/` into the guest's `/tests/c`:
/// every plain one against our header and shared object (and also run
/// against the reference library where it asks to be), and those that link
/// our libaio.a as a dynamic and as a static executable. Returns their lines
/// of `/tests/list`.
fn c_programs(arch: &Arch, tree: &Path, ours: &Path) -> String {
    use common::c_tests::{CFLAGS, Kind, build_plain, programs};
    let dir = foreign_dir().join(arch.name).join("c");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let cc = format!("{}-gcc", arch.gnu);
    let bin = tree.join("tests/c");
    fs::create_dir_all(&bin).unwrap();
    let reference = reference_path(arch);
    let reference_dir = tree.join(REFERENCE_DIR.strip_prefix('/').unwrap());
    fs::create_dir_all(&reference_dir).unwrap();
    std::os::unix::fs::symlink(&reference, reference_dir.join("libaio.so.1")).unwrap();
    let mut list = String::new();
    let mut line = |label: &str, env: &str, exe: &Path| {
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        install(exe, &bin.join(&name));
        list += &format!("c-{label} {PROGRAM_LIMIT} {env}/tests/c/{name}\n");
    };
    // The programs of tests/differential.rs, prebuilt.
    let prebuilt = tree.join("tests/prebuilt/differential");
    fs::create_dir_all(&prebuilt).unwrap();
    let system_include = common::c_tests::system_include(&dir);
    let link_dir = dir.join("reference-link");
    fs::create_dir_all(&link_dir).unwrap();
    std::os::unix::fs::symlink(
        tree.join(reference.strip_prefix("/").unwrap()),
        link_dir.join("libaio.so"),
    )
    .unwrap();
    for entry in fs::read_dir(root().join("c-tests/differential")).unwrap() {
        let source = entry.unwrap().path();
        if source.extension().is_none_or(|e| e != "c") {
            continue;
        }
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let out = [
            prebuilt.join(format!("{name}-system")),
            prebuilt.join(format!("{name}-ours")),
        ];
        for mut cmd in common::c_tests::differential_commands(
            cc.as_ref(),
            &source,
            &system_include,
            Some(&link_dir),
            ours,
            [&out[0], &out[1]],
        ) {
            common::build(&mut cmd).unwrap_or_else(|e| panic!("{}: {e}", arch.name));
        }
    }
    for program in programs() {
        let stem = program.stem().to_owned();
        match program.kind {
            Kind::Plain => {
                let exe = build_plain(&program, &dir, &[], cc.as_ref(), ours)
                    .unwrap_or_else(|e| panic!("{}: {e}", arch.name));
                line(
                    &stem,
                    &format!("LIBAIO_RS_EXPECT_LIB={}/libaio.so.1 ", ours.display()),
                    &exe,
                );
                // Not on x32: the programs expect libaio's answers, which
                // the x32 build of its source does not give for negative
                // counts and signal masks (README: Architectures).
                if program.against_system && arch.name != "x32" {
                    line(
                        &format!("{stem}@reference"),
                        &format!(
                            "LD_LIBRARY_PATH={REFERENCE_DIR} \
                             LIBAIO_RS_EXPECT_LIB={REFERENCE_DIR}/libaio.so.1 "
                        ),
                        &exe,
                    );
                }
            }
            Kind::StaticArchive => {
                for (variant, extra) in [
                    ("dynamic", &[][..]),
                    ("static", &["-static", "-DLIBAIO_RS_FULLY_STATIC"][..]),
                ] {
                    let exe = dir.join(format!("{stem}-{variant}"));
                    common::build(
                        Command::new(&cc)
                            .args(CFLAGS)
                            .args(extra)
                            .arg("-I")
                            .arg(root().join("include"))
                            .arg(&program.path)
                            .arg(ours.join("libaio.a"))
                            .arg("-o")
                            .arg(&exe),
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", arch.name));
                    line(
                        &format!("{stem}-{variant}"),
                        "LIBAIO_RS_EXPECT_LIB=none ",
                        &exe,
                    );
                }
            }
            // Built against the system's libaio (not this architecture's),
            // or part of another program.
            Kind::OldBinary | Kind::Companion => {}
        }
    }
    // The calling patterns of tests/calling_patterns.rs, smaller (the
    // guests emulate every instruction), in both reaping modes where the
    // architecture has user-space reaping (x86_64 only, so not here):
    // io_destroy racing reapers of every kind, and signal handlers reaping
    // what the interrupted threads reap. Each exits 0 only when every
    // completion was delivered exactly once.
    for (tool, args) in [
        ("destroy_race", "1000 8"),
        ("signal_reap", "1 20000"),
        ("signal_reap", "4 20000"),
    ] {
        let exe = dir.join(tool);
        if !exe.exists() {
            common::build(
                Command::new(&cc)
                    .args(CFLAGS)
                    .arg("-pthread")
                    .arg("-I")
                    .arg(root().join("include"))
                    .arg(root().join(format!("c-tests/tools/{tool}.c")))
                    .arg(format!("-L{}", ours.display()))
                    .arg(format!("-Wl,-rpath,{}", ours.display()))
                    .arg("-laio")
                    // Byte-sized atomics are libatomic calls on some targets
                    // (riscv64), whose library the guests do not have.
                    .arg("-Wl,--push-state,--as-needed,-Bstatic,-latomic,--pop-state")
                    .arg("-o")
                    .arg(&exe),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", arch.name));
            install(&exe, &bin.join(tool));
        }
        let label = format!("{tool}-{}", args.split(' ').next().unwrap());
        list += &format!("c-{label} {PROGRAM_LIMIT} /tests/c/{tool} {args}\n");
    }
    list
}

/// Where the reference library is in the guest.
fn reference_path(arch: &Arch) -> PathBuf {
    PathBuf::from(format!(
        "/usr/lib/{}/{}",
        arch.multiarch, arch.reference.file
    ))
}

/// Writes `tree` as an uncompressed initramfs (cpio, "newc" format).
fn write_initramfs(tree: &Path, out: &Path) {
    let mut entries = Vec::new();
    collect(tree, tree, &mut entries);
    entries.sort();
    let mut file = std::io::BufWriter::new(fs::File::create(out).unwrap());
    let mut ino = 1;
    let mut write_entry = |name: &str, mode: u32, data: &[u8]| {
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        ino += 1;
        let mut bytes = header.into_bytes();
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        bytes.extend_from_slice(data);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        file.write_all(&bytes).unwrap();
    };
    for rel in &entries {
        let path = tree.join(rel);
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = std::os::unix::fs::MetadataExt::mode(&meta);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap();
            write_entry(rel, mode, target.as_os_str().as_encoded_bytes());
        } else if meta.is_dir() {
            write_entry(rel, mode, &[]);
        } else {
            write_entry(rel, mode, &fs::read(&path).unwrap());
        }
    }
    write_entry("TRAILER!!!", 0, &[]);
    file.flush().unwrap();
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.strip_prefix(base).unwrap().display().to_string());
        if path.symlink_metadata().unwrap().is_dir() {
            collect(base, &path, out);
        }
    }
}

// ---------------------------------------------------------------------------
// Running

/// Boots the guest (or enters the chroot) and returns the console output.
fn boot(arch: &Arch, tree: &Path, kernel: Option<&Path>, work: &Path) -> String {
    let log = work.join("console.log");
    let finished = match &arch.guest {
        Some(guest) => {
            let initramfs = work.join("initramfs.cpio");
            write_initramfs(tree, &initramfs);
            let mut qemu = Command::new(guest.qemu);
            qemu.args(guest.machine)
                .args(["-m", "2048", "-smp", "2", "-accel", "tcg"])
                .args([
                    "-nographic",
                    "-no-reboot",
                    "-nic",
                    "none",
                    "-monitor",
                    "none",
                ])
                .args(["-serial", "stdio"])
                .arg("-kernel")
                .arg(kernel.unwrap())
                .arg("-initrd")
                .arg(&initramfs)
                .arg("-append")
                .arg(format!(
                    "console={} rdinit=/init panic=-1 loglevel=3 {}",
                    guest.console, guest.append
                ));
            let finished = common::run_to_files(&mut qemu, work, "qemu", BOOT_LIMIT);
            let _ = fs::remove_file(&initramfs);
            finished
        }
        None => {
            // A mount and process namespace of its own: what /init mounts
            // goes away with it.
            let mut unshare = Command::new("unshare");
            unshare
                .args(["--mount", "--pid", "--fork", "--kill-child", "chroot"])
                .arg(tree)
                .arg("/init");
            common::run_to_files(&mut unshare, work, "chroot", BOOT_LIMIT)
        }
    };
    let finished = finished.unwrap_or_else(|e| panic!("{}: {e}", arch.name));
    let console = finished.stdout.replace('\r', "");
    fs::write(&log, &console).unwrap();
    // In a process namespace, /init's power-off ends it with SIGINT.
    let powered_off = arch.guest.is_none()
        && std::os::unix::process::ExitStatusExt::signal(&finished.status) == Some(libc::SIGINT)
        && console.contains("@@@ GUEST done");
    assert!(
        (finished.status.success() || powered_off) && console.contains("@@@ GUEST done"),
        "{}: the guest failed ({}), or /init did not finish; console in {}:\n{}",
        arch.name,
        finished.status,
        log.display(),
        finished.stderr
    );
    console
}

/// What one test program did, read from the console.
#[derive(Debug, Default)]
struct Outcome {
    end: Option<String>,
    passed: usize,
    failed: usize,
    output: String,
}

fn parse(console: &str) -> BTreeMap<String, Outcome> {
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in console.lines() {
        if let Some(label) = line.strip_prefix("@@@ BEGIN ") {
            current = Some(label.to_owned());
            outcomes.entry(label.to_owned()).or_default();
        } else if let Some(rest) = line.strip_prefix("@@@ END ") {
            let (label, end) = rest.split_once(' ').unwrap_or((rest, ""));
            outcomes.entry(label.to_owned()).or_default().end = Some(end.to_owned());
            current = None;
        } else if let Some(label) = &current {
            let outcome = outcomes.get_mut(label).unwrap();
            let line = line.trim_end();
            if line.starts_with("test ") && line.ends_with(" ... ok") {
                outcome.passed += 1;
            } else if line.starts_with("test ") && line.contains(" ... FAILED") {
                outcome.failed += 1;
            }
            outcome.output += line;
            outcome.output.push('\n');
        }
    }
    outcomes
}

/// Runs the project's tests on one architecture.
fn run_architecture(arch: &Arch) {
    if arch.build_std && !nightly_available() {
        println!(
            "{}: SKIPPED: needs a nightly toolchain with rust-src (`rustup toolchain install \
             nightly --component rust-src`); .ci/run installs it",
            arch.name
        );
        return;
    }
    let work = foreign_dir().join(arch.name);
    fs::create_dir_all(&work).unwrap();
    let started = Instant::now();
    let ours = common::cross_build(
        arch.name,
        arch.rust_target,
        &common::CrossTools::gnu(arch.gnu),
        arch.build_std,
    );
    let programs = build_tests(arch);
    let built = started.elapsed();
    let fetched = fetch(arch);
    let tree = work.join("tree");
    let labels = lay_out(arch, &tree, &fetched, &ours, &programs);
    let prepared = started.elapsed();
    let console = boot(arch, &tree, fetched.kernel.as_deref(), &work);
    let _ = fs::remove_dir_all(&tree);
    let ran = started.elapsed() - prepared;

    if blessing() {
        keep_blessed(&console);
    }
    let mut outcomes = parse(&console);
    let mut problems = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for name in &labels {
        let Some(outcome) = outcomes.get_mut(name) else {
            problems.push(format!("{name}: did not run"));
            continue;
        };
        if name.starts_with("c-") {
            // A C program: one test, passed when it exits 0.
            let ok = outcome
                .end
                .as_deref()
                .is_some_and(|e| e.starts_with("exit 0 "));
            outcome.passed = usize::from(ok);
            outcome.failed = usize::from(!ok);
        }
        passed += outcome.passed;
        failed += outcome.failed;
        let end = outcome.end.as_deref().unwrap_or("no end");
        println!(
            "{}: {name}: {} passed, {} failed ({end})",
            arch.name, outcome.passed, outcome.failed
        );
        if !end.starts_with("exit 0 ") || outcome.failed > 0 || outcome.passed == 0 {
            problems.push(format!("{name}: {end}\n{}", outcome.output));
        }
    }
    println!(
        "{}: {passed} passed, {failed} failed; built in {:.0?}, prepared in {:.0?}, ran in \
         {ran:.0?} (console: {})",
        arch.name,
        built,
        prepared - built,
        work.join("console.log").display()
    );
    assert!(
        problems.is_empty(),
        "{}: {} test program(s) failed:\n{}",
        arch.name,
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn arm64() {
    run_architecture(&ARM64);
}

#[test]
fn armhf() {
    run_architecture(&ARMHF);
}

#[test]
fn s390x() {
    run_architecture(&S390X);
}

#[test]
fn ppc64el() {
    run_architecture(&PPC64EL);
}

#[test]
fn riscv64() {
    run_architecture(&RISCV64);
}

#[test]
fn i386() {
    run_architecture(&I386);
}

#[test]
fn x32() {
    run_architecture(&X32);
}

#[test]
fn console_markers_are_read() {
    let console = "boot noise\n@@@ BEGIN api\ntest a ... ok\ntest b ... FAILED\n\
                   @@@ END api exit 101 1.0\n@@@ BEGIN faults\ntest c ... ok\n";
    let outcomes = parse(console);
    assert_eq!(outcomes["api"].passed, 1);
    assert_eq!(outcomes["api"].failed, 1);
    assert_eq!(outcomes["api"].end.as_deref(), Some("exit 101 1.0"));
    assert_eq!(outcomes["faults"].passed, 1);
    assert_eq!(outcomes["faults"].end, None);
    let _ = run;
}
