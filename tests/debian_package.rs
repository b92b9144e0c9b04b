//! The Debian packages (debian/): built, linted, inspected, and installed
//! into a Debian 12 chroot in place of the libaio1 that fio pulls in.
//!
//! 1. Two copies of the tree (the files git knows, plus the untracked ones
//!    it does not ignore) in two different directories under
//!    target/debian-package/, each vendored with debian/vendor.sh and built
//!    with `dpkg-buildpackage -b -us -uc` (`-d` when rustc is not Debian's):
//!    the first with the unit tests, the second with `nocheck`. The two
//!    builds must give byte-identical libraries and .deb files.
//! 2. lintian over the binary packages (and, for information, the source
//!    package): no errors.
//! 3. The .deb files' contents, control fields, shlibs and symbols against
//!    what Debian's libaio1, libaio1t64 and libaio-dev have.
//! 4. Meanwhile, in another thread: a Debian 12 minbase chroot (debootstrap,
//!    kept as a tarball in target/debian-package/cache/ so that later runs
//!    only unpack it), with fio and libaio-dev installed from the archive.
//!    Then our three packages go in with apt, which must remove libaio1
//!    and libaio-dev and nothing else (fio stays); a package depending on
//!    `libaio1 (>= 0.3.113-4)`, `libaio1t64` and `libaio-dev` must install;
//!    fio must verify its data through the library, and LD_DEBUG=bindings
//!    must show it bound to the installed libaio.so.1, whose bytes are the
//!    package's.
//!    The packages' instances for a second architecture must be
//!    co-installable (Multi-Arch: same).
//!
//! /proc and /dev are mounted in the chroot, and the apt caches of
//! target/debian-package/cache/ bind-mounted into it, by a guard that
//! unmounts them all when dropped, also when the test fails; a run begins by
//! unmounting whatever an interrupted run left under target/debian-package.
//! Nothing is installed on the host. Needs root (debootstrap, chroot,
//! mount), the network (the Debian archive, unless cached), git, and the
//! tools scripts/test-deps installs (dpkg-dev, debhelper, lintian,
//! debootstrap).
//!
//! Timings on 2 cores: about 65 s when the chroot tarball is cached (two
//! builds of 20 s each and lintian, while the chroot gets fio in another
//! thread); about 75 s the first time, when debootstrap (45 s here, with a
//! fast mirror) and the downloads run beside the builds.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The Debian release of the chroot, and where its packages come from.
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

/// Our binary packages, and the Debian package each one replaces.
const PACKAGES: [(&str, &str); 3] = [
    ("libaio-rs1", "libaio1"),
    ("libaio-rs1t64", "libaio1t64"),
    ("libaio-rs-dev", "libaio-dev"),
];

/// The symbols control files Debian's libaio1 (0.3.113-4) and libaio1t64
/// (0.3.113-8+b1) ship on 64-bit architectures: ours must be the same.
const SYMBOLS_LIBAIO1: &str = "\
libaio.so.1 libaio1 #MINVER#
* Build-Depends-Package: libaio-dev
 LIBAIO_0.1@LIBAIO_0.1 0.3.9
 LIBAIO_0.4@LIBAIO_0.4 0.3.93
 LIBAIO_0.5@LIBAIO_0.5 0.3.112
 io_cancel@LIBAIO_0.1 0.3.9
 io_cancel@LIBAIO_0.4 0.3.93
 io_destroy@LIBAIO_0.4 0.3.93
 io_getevents@LIBAIO_0.1 0.3.9
 io_getevents@LIBAIO_0.4 0.3.93
 io_pgetevents@LIBAIO_0.5 0.3.112
 io_queue_init@LIBAIO_0.1 0.3.9
 io_queue_release@LIBAIO_0.1 0.3.9
 io_queue_run@LIBAIO_0.1 0.3.9
 io_queue_wait@LIBAIO_0.1 0.3.9
 io_queue_wait@LIBAIO_0.4 0.3.93
 io_setup@LIBAIO_0.4 0.3.93
 io_submit@LIBAIO_0.1 0.3.9
";
const SYMBOLS_LIBAIO1T64: &str = "\
libaio.so.1t64 libaio1t64 #MINVER#
* Build-Depends-Package: libaio-dev
 LIBAIO_0.1@LIBAIO_0.1 0.3.9
 LIBAIO_0.4@LIBAIO_0.4 0.3.93
 LIBAIO_0.5@LIBAIO_0.5 0.3.112
 LIBAIO_0.6@LIBAIO_0.6 0.3.113
 io_cancel@LIBAIO_0.1 0.3.9
 io_cancel@LIBAIO_0.4 0.3.93
 io_destroy@LIBAIO_0.4 0.3.93
 io_getevents@LIBAIO_0.1 0.3.9
 io_getevents@LIBAIO_0.4 0.3.93
 io_pgetevents@LIBAIO_0.5 0.3.112
 io_queue_init@LIBAIO_0.1 0.3.9
 io_queue_release@LIBAIO_0.1 0.3.9
 io_queue_run@LIBAIO_0.1 0.3.9
 io_queue_wait@LIBAIO_0.1 0.3.9
 io_queue_wait@LIBAIO_0.4 0.3.93
 io_setup@LIBAIO_0.4 0.3.93
 io_submit@LIBAIO_0.1 0.3.9
";

/// The repository root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Everything this test makes: target/debian-package.
fn work_dir() -> PathBuf {
    root().join("target/debian-package")
}

// ---------------------------------------------------------------------------
// Running programs, and timing the steps.

/// The steps' durations, printed as they end and again at the end.
struct Clock {
    start: Instant,
    steps: Mutex<Vec<(String, Duration)>>,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            steps: Mutex::new(Vec::new()),
        }
    }

    /// Runs one step, printing its name when it starts and how long it took.
    fn step<T>(&self, name: &str, f: impl FnOnce() -> T) -> T {
        println!(
            "[debian_package {:6.1}s] {name} ...",
            self.start.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let result = f();
        let took = started.elapsed();
        println!(
            "[debian_package {:6.1}s] {name}: {:.1}s",
            self.start.elapsed().as_secs_f64(),
            took.as_secs_f64()
        );
        self.steps.lock().unwrap().push((name.to_owned(), took));
        result
    }

    fn report(&self) {
        println!("debian_package timings:");
        for (name, took) in self.steps.lock().unwrap().iter() {
            println!("  {:7.1}s  {name}", took.as_secs_f64());
        }
        println!(
            "  {:7.1}s  total (the chroot steps ran beside the builds)",
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// Runs a command; panics if it cannot start.
fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn report(out: &Output) -> String {
    format!(
        "({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed; returns its standard output.
fn check(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(out.status.success(), "{cmd:?} failed {}", report(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a long command that must succeed, its output going to `log`; on
/// failure, panics with the end of the log.
fn check_logged(cmd: &mut Command, log: &Path) {
    let file = fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        panic!(
            "{cmd:?} failed ({status}); the end of {}:\n{tail}",
            log.display()
        );
    }
}

/// `sha256sum FILE`.
fn sha256(path: &Path) -> String {
    let out = check(Command::new("sha256sum").arg(path));
    out.split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("sha256sum {} printed nothing", path.display()))
        .to_owned()
}

// ---------------------------------------------------------------------------
// Mounts.

/// The mount points under `dir`, deepest first (from /proc/self/mountinfo,
/// whose fifth field is the mount point, with spaces and the like written
/// as octal escapes).
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let dir = dir.to_string_lossy().into_owned();
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| field.replace("\\040", " ").replace("\\011", "\t"))
        .filter(|point| point == &dir || point.starts_with(&format!("{dir}/")))
        .map(PathBuf::from)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    points.dedup();
    points
}

/// Unmounts `point`; a lazy unmount when a process still holds it.
fn unmount(point: &Path) -> bool {
    let quiet = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    quiet(Command::new("umount").arg(point)) || quiet(Command::new("umount").arg("-l").arg(point))
}

/// Unmounts everything mounted under `dir` (left by an interrupted run).
fn unmount_below(dir: &Path) {
    // A mount can hide another at the same point: go round until none is left.
    for _ in 0..10 {
        let points = mounts_below(dir);
        if points.is_empty() {
            return;
        }
        for point in points {
            eprintln!("debian_package: unmounting leftover {}", point.display());
            unmount(&point);
        }
    }
    let left = mounts_below(dir);
    assert!(left.is_empty(), "cannot unmount {left:?}");
}

/// Removes a directory tree that may have held mounts: unmounts first, and
/// never crosses into another file system.
fn remove_tree(dir: &Path) {
    if fs::symlink_metadata(dir).is_err() {
        return;
    }
    unmount_below(dir);
    check(
        Command::new("rm")
            .args(["-rf", "--one-file-system"])
            .arg(dir),
    );
}

/// Mounts that are undone, in reverse order, when the guard is dropped:
/// after the test, and also when it panics.
struct Mounts {
    points: Vec<PathBuf>,
}

impl Mounts {
    fn new() -> Mounts {
        Mounts { points: Vec::new() }
    }

    /// `mount ARGS... POINT`.
    fn mount<I, S>(&mut self, args: I, point: &Path)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        fs::create_dir_all(point).unwrap();
        check(Command::new("mount").args(args).arg(point));
        self.points.push(point.to_owned());
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        while let Some(point) = self.points.pop() {
            if !unmount(&point) {
                eprintln!("debian_package: could not unmount {}", point.display());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Building the packages.

/// One package build: its source tree and the files it made.
struct Build {
    /// The directory dpkg-buildpackage ran in.
    tree: PathBuf,
    /// Where it put the .deb files (the tree's parent).
    out: PathBuf,
    /// Package name to its .deb file.
    debs: BTreeMap<String, PathBuf>,
    /// The .changes file.
    changes: PathBuf,
}

impl Build {
    fn deb(&self, package: &str) -> &Path {
        self.debs
            .get(package)
            .unwrap_or_else(|| panic!("the build in {} made no {package}", self.tree.display()))
    }

    /// Unpacks a package (`dpkg-deb -x`) under out/unpacked/PACKAGE.
    fn unpacked(&self, package: &str) -> PathBuf {
        let dir = self.out.join("unpacked").join(package);
        if !dir.exists() {
            fs::create_dir_all(&dir).unwrap();
            check(
                Command::new("dpkg-deb")
                    .arg("-x")
                    .arg(self.deb(package))
                    .arg(&dir),
            );
        }
        dir
    }
}

/// Copies the tree as git sees it: every tracked file that still exists,
/// as it is now, and every untracked file git does not ignore (debian/,
/// this test, ...). target/, build/ and debian/vendor stay behind.
fn copy_tree(to: &Path) {
    let list = check(Command::new("git").arg("-C").arg(root()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    let files: BTreeSet<&str> = list.split('\0').filter(|f| !f.is_empty()).collect();
    assert!(
        files.contains("debian/rules") && files.contains("Makefile"),
        "git ls-files in {} lists no debian/rules or Makefile",
        root().display()
    );
    for file in files {
        let from = root().join(file);
        let Ok(meta) = fs::symlink_metadata(&from) else {
            continue; // deleted in the working tree
        };
        let dest = to.join(file);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if meta.file_type().is_symlink() {
            symlink(fs::read_link(&from).unwrap(), &dest).unwrap();
        } else if meta.is_file() {
            // fs::copy keeps the permissions (debian/rules is executable).
            fs::copy(&from, &dest)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), dest.display()));
        }
    }
}

/// Whether the rustc on PATH is Debian's (dpkg knows the file). When it is
/// not (rustup, on Debian 12), dpkg-buildpackage needs -d: the packaged
/// rustc the Build-Depends name is not installed.
fn rustc_is_debian() -> bool {
    let Some(rustc) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("rustc"))
            .find(|p| p.is_file())
    }) else {
        panic!("no rustc on PATH");
    };
    let real = fs::canonicalize(&rustc).unwrap_or(rustc);
    Command::new("dpkg")
        .arg("-S")
        .arg(&real)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A command run with the environment a package build should see: none of
/// the cargo, rustc, make or debhelper settings of the `cargo test` (or
/// `make check`) that runs this test. CARGO_HOME and RUSTUP_* stay: they
/// say where the toolchain and the crate cache are.
fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let cargo = key.starts_with("CARGO") && key != "CARGO_HOME";
        let rust = key.starts_with("RUST") && !key.starts_with("RUSTUP");
        let other = key.starts_with("DEB_")
            || key.starts_with("DH_")
            || key.starts_with("MAKE")
            || [
                "MFLAGS",
                "LIBAIO_RS_LIBDIR",
                "LD_LIBRARY_PATH",
                "CC",
                "CFLAGS",
                "CPPFLAGS",
                "LDFLAGS",
                "SOURCE_DATE_EPOCH",
            ]
            .contains(&key.as_ref());
        if cargo || rust || other {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// Copies the tree to `out/name`, vendors it and builds the packages.
fn build(out: &Path, name: &str, options: &str, no_check_builddeps: bool) -> Build {
    remove_tree(out);
    let tree = out.join(name);
    fs::create_dir_all(&tree).unwrap();
    copy_tree(&tree);
    check_logged(
        clean_command(tree.join("debian/vendor.sh")).current_dir(&tree),
        &out.join("vendor.log"),
    );
    let mut cmd = clean_command("dpkg-buildpackage");
    cmd.args(["-b", "-us", "-uc"])
        .env("DEB_BUILD_OPTIONS", options)
        .current_dir(&tree);
    if no_check_builddeps {
        cmd.arg("-d");
    }
    check_logged(&mut cmd, &out.join("build.log"));

    let mut debs = BTreeMap::new();
    let mut changes = None;
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".deb") {
            let package = stem.split('_').next().unwrap().to_owned();
            debs.insert(package, path);
        } else if file.ends_with(".changes") {
            changes = Some(path);
        }
    }
    let made: BTreeSet<&str> = debs.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = PACKAGES.iter().map(|(ours, _)| *ours).collect();
    assert_eq!(made, expected, "the packages the build in {name} made");
    Build {
        tree,
        out: out.to_owned(),
        debs,
        changes: changes.expect("dpkg-buildpackage made no .changes"),
    }
}

/// `dpkg-parsechangelog -S FIELD` in the tree.
fn changelog(tree: &Path, field: &str) -> String {
    check(
        Command::new("dpkg-parsechangelog")
            .args(["-S", field])
            .current_dir(tree),
    )
    .trim()
    .to_owned()
}

/// The Makefile's `VERSION := 0.3.113`: the libaio release we provide.
fn interface_version(tree: &Path) -> String {
    let makefile = fs::read_to_string(tree.join("Makefile")).unwrap();
    makefile
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("VERSION")?.trim_start();
            Some(rest.strip_prefix(":=")?.trim().to_owned())
        })
        .expect("no `VERSION :=` line in the Makefile")
}

// ---------------------------------------------------------------------------
// What is in the packages.

/// One line of `dpkg-deb -c`: mode, owner, path and, for a link, its target.
#[derive(Debug)]
struct Entry {
    mode: String,
    owner: String,
    path: String,
    target: Option<String>,
}

fn contents(deb: &Path) -> Vec<Entry> {
    check(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .map(|line| {
            // -rw-r--r-- root/root  16053 2026-11-22 05:58 ./usr/include/libaio.h
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 6, "unexpected dpkg-deb -c line: {line}");
            Entry {
                mode: f[0].to_owned(),
                owner: f[1].to_owned(),
                path: f[5].trim_start_matches('.').to_owned(),
                target: (f.len() == 8 && f[6] == "->").then(|| f[7].to_owned()),
            }
        })
        .collect()
}

/// The paths a package must hold: `files` plus the directories above them.
fn with_parents(files: &[String]) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for file in files {
        all.insert(file.clone());
        let mut path = Path::new(file.as_str());
        while let Some(parent) = path.parent() {
            let dir = parent.to_string_lossy();
            all.insert(if dir == "/" {
                "/".to_owned()
            } else {
                format!("{dir}/")
            });
            path = parent;
        }
    }
    all
}

/// The manual pages the tree has (man/*.3), as installed: NAME.3.gz.
fn man_pages(tree: &Path) -> Vec<String> {
    let mut pages: Vec<String> = fs::read_dir(tree.join("man"))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".3"))
                .map(|name| format!("/usr/share/man/man3/{name}.gz"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    pages
}

fn check_contents(build: &Build, multiarch: &str, provided: &str, version: &str) {
    let lib = format!("/usr/lib/{multiarch}");
    // The files every package has, plus `extra` in its doc directory;
    // lintian overrides in the two runtime packages.
    let doc = |package: &str, extra: &[&str]| -> Vec<String> {
        let mut files = vec![
            format!("/usr/share/doc/{package}/changelog.gz"),
            format!("/usr/share/doc/{package}/copyright"),
        ];
        if package != "libaio-rs-dev" {
            files.push(format!("/usr/share/lintian/overrides/{package}"));
        }
        files.extend(
            extra
                .iter()
                .map(|f| format!("/usr/share/doc/{package}/{f}")),
        );
        files
    };
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    expected.insert("libaio-rs1", {
        let mut files = vec![
            format!("{lib}/libaio.so.1"),
            format!("{lib}/libaio.so.1.0.2"),
        ];
        files.extend(doc("libaio-rs1", &["README.Debian"]));
        files
    });
    expected.insert("libaio-rs1t64", {
        let mut files = vec![
            format!("{lib}/libaio.so.1t64"),
            format!("{lib}/libaio.so.1t64.0.2"),
        ];
        files.extend(doc("libaio-rs1t64", &[]));
        files
    });
    expected.insert("libaio-rs-dev", {
        let mut files = vec![
            "/usr/include/libaio.h".to_owned(),
            format!("{lib}/libaio.a"),
            format!("{lib}/libaio.so"),
            format!("{lib}/pkgconfig/libaio.pc"),
        ];
        files.extend(doc("libaio-rs-dev", &[]));
        files.extend(man_pages(&build.tree));
        files
    });
    let links: BTreeMap<String, &str> = [
        (format!("{lib}/libaio.so.1"), "libaio.so.1.0.2"),
        (format!("{lib}/libaio.so.1t64"), "libaio.so.1t64.0.2"),
        (format!("{lib}/libaio.so"), "libaio.so.1.0.2"),
    ]
    .into_iter()
    .collect();

    for (package, files) in &expected {
        let deb = build.deb(package);
        let entries = contents(deb);
        let listing: Vec<String> = entries
            .iter()
            .map(|e| format!("{} {} {}", e.mode, e.owner, e.path))
            .collect();
        let got: BTreeSet<String> = entries.iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            got,
            with_parents(files),
            "the files of {package}:\n{}",
            listing.join("\n")
        );
        for entry in &entries {
            let good_mode = match entry.mode.chars().next() {
                Some('d') => entry.mode == "drwxr-xr-x",
                Some('l') => entry.mode == "lrwxrwxrwx",
                _ => entry.mode == "-rw-r--r--",
            };
            assert!(
                good_mode && entry.owner == "root/root",
                "{package}: {} is {} {}",
                entry.path,
                entry.mode,
                entry.owner
            );
            if let Some(target) = links.get(&entry.path) {
                assert_eq!(
                    entry.target.as_deref(),
                    Some(*target),
                    "{package}: where {} points",
                    entry.path
                );
            }
        }

        // Control fields.
        let field = |name: &str| {
            check(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))
                .trim()
                .to_owned()
        };
        let replaced = PACKAGES.iter().find(|(ours, _)| ours == package).unwrap().1;
        assert_eq!(field("Version"), version, "{package}: Version");
        assert_eq!(field("Multi-Arch"), "same", "{package}: Multi-Arch");
        assert_eq!(
            field("Provides"),
            format!("{replaced} (= {provided})"),
            "{package}: Provides"
        );
        for relation in ["Conflicts", "Replaces"] {
            assert_eq!(field(relation), replaced, "{package}: {relation}");
        }
        let depends = field("Depends");
        if *package == "libaio-rs-dev" {
            assert_eq!(depends, format!("libaio-rs1 (= {version})"));
        } else {
            assert!(
                depends.starts_with("libc6 (>= 2."),
                "{package}: Depends: {depends}"
            );
        }
    }

    // shlibs and symbols: Debian's, naming Debian's packages.
    let control_file = |package: &str, name: &str| {
        check(
            Command::new("dpkg-deb")
                .arg("--info")
                .arg(build.deb(package))
                .arg(name),
        )
    };
    for (package, symbols, shlibs) in [
        (
            "libaio-rs1",
            SYMBOLS_LIBAIO1,
            "libaio 1 libaio1 (>= 0.3.113)\n",
        ),
        (
            "libaio-rs1t64",
            SYMBOLS_LIBAIO1T64,
            "libaio 1t64 libaio1t64 (>= 0.3.113)\n",
        ),
    ] {
        assert_eq!(
            control_file(package, "symbols"),
            symbols,
            "{package}: symbols"
        );
        assert_eq!(control_file(package, "shlibs"), shlibs, "{package}: shlibs");
        assert!(
            control_file(package, "triggers").contains("activate-noawait ldconfig"),
            "{package}: no ldconfig trigger"
        );
    }
    // The same as the installed libaio1's, when Debian's is there.
    let system = Path::new("/var/lib/dpkg/info").join(format!("libaio1:{}.symbols", arch()));
    if let Ok(theirs) = fs::read_to_string(&system) {
        assert_eq!(
            control_file("libaio-rs1", "symbols"),
            theirs,
            "our symbols file differs from {}",
            system.display()
        );
    }
}

/// `dpkg --print-architecture`.
fn arch() -> String {
    check(Command::new("dpkg").arg("--print-architecture"))
        .trim()
        .to_owned()
}

/// lintian over a .changes or .dsc; fails on errors. Returns its report.
fn lintian(what: &Path, fail_on_error: bool) -> String {
    let out = output(
        Command::new("lintian")
            .args(["--display-info", "--show-overrides", "--fail-on", "error"])
            .arg(what),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("E: ")).collect();
    if fail_on_error {
        assert!(
            out.status.success() && errors.is_empty(),
            "lintian {} {}",
            what.display(),
            report(&out)
        );
    }
    text
}

// ---------------------------------------------------------------------------
// The chroot.

/// A Debian chroot under target/debian-package/chroot with /proc, /dev
/// and the apt caches mounted (unmounted when this is dropped).
struct Chroot {
    dir: PathBuf,
    // Declared last: dropped after everything that might still use the mounts.
    mounts: Mounts,
}

impl Chroot {
    /// `chroot DIR ARGS...` with a plain environment, under `timeout`.
    fn command(&self, seconds: u32, args: &[&str]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.arg(seconds.to_string())
            .arg("chroot")
            .arg(&self.dir)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C")
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive");
        for proxy in ["http_proxy", "https_proxy", "no_proxy"] {
            if let Some(value) = std::env::var_os(proxy) {
                cmd.env(proxy, value);
            }
        }
        cmd
    }

    /// Runs `sh -c SCRIPT` in the chroot; it must succeed. Returns stdout.
    fn sh(&self, seconds: u32, script: &str) -> String {
        check(&mut self.command(seconds, &["sh", "-c", script]))
    }

    /// The host path of a path in the chroot.
    fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// `dpkg-query`'s status of a package: "installed", "not-installed", ...
    fn status(&self, package: &str) -> String {
        let out =
            output(&mut self.command(60, &["dpkg-query", "-W", "-f=${db:Status-Status}", package]));
        let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if status.is_empty() {
            "not-installed".to_owned()
        } else {
            status
        }
    }
}

/// The pristine Debian 12 minbase system, as a tarball: made once with
/// debootstrap, then reused (delete target/debian-package/cache to renew).
fn minbase_tarball(cache: &Path, clock: &Clock) -> PathBuf {
    let tarball = cache.join(format!("{SUITE}-minbase.tar"));
    if tarball.exists() {
        return tarball;
    }
    clock.step(&format!("debootstrap {SUITE} (once; cached)"), || {
        let dir = cache.join("debootstrap");
        remove_tree(&dir);
        check_logged(
            Command::new("debootstrap")
                .args(["--variant=minbase", SUITE])
                .arg(&dir)
                .arg(MIRROR),
            &cache.join("debootstrap.log"),
        );
        unmount_below(&dir);
        let partial = cache.join("minbase.tar.partial");
        check(
            Command::new("tar")
                .args(["--numeric-owner", "-C"])
                .arg(&dir)
                .arg("-cf")
                .arg(&partial)
                .arg("."),
        );
        fs::rename(&partial, &tarball).unwrap();
        remove_tree(&dir);
    });
    tarball
}

/// Unpacks a fresh chroot, mounts what it needs, and installs fio and
/// libaio-dev (with Debian's libaio1) from the archive.
fn prepare_chroot(work: &Path, clock: &Clock) -> Chroot {
    let cache = work.join("cache");
    fs::create_dir_all(&cache).unwrap();
    let tarball = minbase_tarball(&cache, clock);
    let dir = work.join("chroot");
    let mut chroot = clock.step("unpack the chroot", || {
        remove_tree(&dir);
        fs::create_dir_all(&dir).unwrap();
        check(
            Command::new("tar")
                .args(["--numeric-owner", "-xpf"])
                .arg(&tarball)
                .arg("-C")
                .arg(&dir),
        );
        Chroot {
            dir: dir.clone(),
            mounts: Mounts::new(),
        }
    });
    // Name resolution for apt.
    if let Ok(resolv) = fs::read("/etc/resolv.conf") {
        let dest = chroot.path("/etc/resolv.conf");
        let _ = fs::remove_file(&dest);
        fs::write(&dest, resolv).unwrap();
    }
    let proc_dir = chroot.path("/proc");
    chroot.mounts.mount(["-t", "proc", "proc"], &proc_dir);
    let dev_dir = chroot.path("/dev");
    chroot.mounts.mount(["--bind", "/dev"], &dev_dir);
    // apt logs the terminal output of dpkg through a pseudo-terminal.
    if Path::new("/dev/pts/ptmx").exists() {
        let pts_dir = chroot.path("/dev/pts");
        chroot.mounts.mount(["--bind", "/dev/pts"], &pts_dir);
    }
    // apt's lists and downloaded packages persist between runs.
    for (name, inside) in [
        ("apt-lists", "/var/lib/apt/lists"),
        ("apt-archives", "/var/cache/apt/archives"),
    ] {
        let keep = cache.join(name);
        fs::create_dir_all(keep.join("partial")).unwrap();
        let point = chroot.path(inside);
        chroot
            .mounts
            .mount([OsStr::new("--bind"), keep.as_os_str()], &point);
    }
    clock.step(
        "apt-get install fio qemu-utils sysbench libaio-dev (in the chroot)",
        || {
            let log = work.join("chroot-apt.log");
            check_logged(
                &mut chroot.command(
                    900,
                    &[
                        "sh",
                        "-c",
                        "apt-get -q -o Acquire::Retries=3 update && \
                     apt-get -q -y -o Acquire::Retries=3 install --no-install-recommends \
                     fio qemu-utils sysbench libaio-dev",
                    ],
                ),
                &log,
            );
        },
    );
    for package in ["fio", "qemu-utils", "sysbench", "libaio1", "libaio-dev"] {
        assert_eq!(
            chroot.status(package),
            "installed",
            "{package} in the chroot"
        );
    }
    chroot
}

/// A package that depends on what ours provide, with the versions Debian's
/// packages have: it must install with ours in place of Debian's.
fn dependent_package(dir: &Path) -> PathBuf {
    remove_tree(dir);
    let root = dir.join("libaio-rs-test-dependent");
    fs::create_dir_all(root.join("DEBIAN")).unwrap();
    fs::write(
        root.join("DEBIAN/control"),
        "Package: libaio-rs-test-dependent\n\
         Version: 1.0\n\
         Architecture: all\n\
         Maintainer: libaio-rs tests <tests@example.org>\n\
         Depends: libaio1 (>= 0.3.113-4), libaio1t64 (>= 0.3.113-8+b1), libaio-dev (>= 0.3.113)\n\
         Description: depends on libaio1, libaio1t64 and libaio-dev\n \
         A test package of tests/debian_package.rs.\n",
    )
    .unwrap();
    let deb = dir.join("libaio-rs-test-dependent_1.0_all.deb");
    check(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-b"])
            .arg(&root)
            .arg(&deb),
    );
    deb
}

/// The same packages, relabelled for another architecture: what dpkg needs
/// to check that two instances of each are co-installable.
fn foreign_instances(build: &Build, dir: &Path, foreign: &str) -> Vec<PathBuf> {
    remove_tree(dir);
    fs::create_dir_all(dir).unwrap();
    let mut debs = Vec::new();
    for (package, _) in PACKAGES {
        let tree = dir.join(format!("{package}-{foreign}"));
        check(
            Command::new("dpkg-deb")
                .arg("-R")
                .arg(build.deb(package))
                .arg(&tree),
        );
        let control = tree.join("DEBIAN/control");
        let text = fs::read_to_string(&control).unwrap();
        let relabelled: String = text
            .lines()
            // No libc6 of that architecture in the chroot.
            .filter(|line| !line.starts_with("Depends: libc6"))
            .map(|line| match line.strip_prefix("Architecture: ") {
                Some(_) => format!("Architecture: {foreign}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        fs::write(&control, relabelled).unwrap();
        let deb = dir.join(format!("{package}_{foreign}.deb"));
        check(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-b"])
                .arg(&tree)
                .arg(&deb),
        );
        debs.push(deb);
    }
    debs
}

/// The functions libaio exports (other libraries' io_* names, such as
/// liburing's io_uring_*, are not ours).
const LIBAIO_FUNCTIONS: [&str; 10] = [
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    "io_queue_init",
    "io_queue_release",
    "io_queue_run",
    "io_queue_wait",
];

/// Asserts that `LD_DEBUG=bindings` output left in the chroot's
/// /tmp/ld-debug.* shows `program`'s io_submit bound to the installed
/// libaio.so.1 (the file of our package), and nothing else of libaio's
/// elsewhere.
fn assert_bound_to_installed(chroot: &Chroot, program: &str, multiarch: &str) {
    let mut debug = String::new();
    for entry in fs::read_dir(chroot.path("/tmp")).unwrap() {
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
    let needle = format!("binding file {program} [0] to ");
    let bindings: Vec<(String, String)> = debug
        .lines()
        .filter_map(|line| {
            let rest = line.split_once(needle.as_str())?.1;
            let (lib, rest) = rest.split_once(" [")?;
            let symbol = rest.split_once(": normal symbol `")?.1.split_once('\'')?.0;
            LIBAIO_FUNCTIONS
                .contains(&symbol)
                .then(|| (lib.to_owned(), symbol.to_owned()))
        })
        .collect();
    assert!(
        bindings.iter().any(|(_, s)| s == "io_submit"),
        "LD_DEBUG=bindings shows no binding of {program}'s io_submit"
    );
    for (lib, symbol) in &bindings {
        assert!(
            lib == &format!("/usr/lib/{multiarch}/libaio.so.1")
                || lib == &format!("/lib/{multiarch}/libaio.so.1"),
            "{program}'s {symbol} is bound to {lib}, not the installed libaio.so.1"
        );
    }
    println!(
        "{program}: {} io_* bindings, all to the installed libaio.so.1",
        bindings.len()
    );
}

/// Installs our packages into the chroot and runs fio there on them.
fn install_and_run(chroot: &Chroot, build: &Build, work: &Path, clock: &Clock) {
    let multiarch = check(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))
        .trim()
        .to_owned();
    let debs_dir = chroot.path("/tmp/debs");
    fs::create_dir_all(&debs_dir).unwrap();
    let mut inside = Vec::new();
    for (package, _) in PACKAGES {
        let deb = build.deb(package);
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(deb, debs_dir.join(&name)).unwrap();
        inside.push(format!("/tmp/debs/{name}"));
    }

    // apt, as a user would: it must remove Debian's libaio1 and libaio-dev
    // (plain `dpkg -i` stops at libaio-dev's `libaio1 (= 0.3.113-4)`
    // unless given --auto-deconfigure) and nothing else.
    clock.step("apt-get install our packages (in the chroot)", || {
        let script = format!(
            "apt-get -q -y --no-install-recommends install {}",
            inside.join(" ")
        );
        let out = chroot.sh(300, &script);
        println!("{out}");
        let removed: BTreeSet<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("The following packages will be REMOVED:"))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .flat_map(str::split_whitespace)
            .collect();
        assert_eq!(
            removed,
            BTreeSet::from(["libaio-dev", "libaio1"]),
            "what apt removed:\n{out}"
        );
    });
    for (ours, theirs) in PACKAGES {
        assert_eq!(chroot.status(ours), "installed", "{ours}");
        assert_eq!(chroot.status(theirs), "not-installed", "{theirs}");
    }
    assert_eq!(chroot.status("fio"), "installed", "fio");
    // Nothing broken, nothing half-configured.
    chroot.sh(60, "apt-get -q check");
    let audit = chroot.sh(60, "dpkg --audit");
    assert!(audit.trim().is_empty(), "dpkg --audit: {audit}");

    // A package that wants Debian's libaio1, libaio1t64 and libaio-dev.
    let dependent = dependent_package(&work.join("dependent"));
    fs::copy(&dependent, debs_dir.join("dependent.deb")).unwrap();
    chroot.sh(60, "dpkg -i /tmp/debs/dependent.deb");
    assert_eq!(
        chroot.status("libaio-rs-test-dependent"),
        "installed",
        "a package depending on libaio1 (>= 0.3.113-4), libaio1t64 and libaio-dev"
    );

    // The dynamic linker's cache has both names (the ldconfig trigger ran).
    let cache = chroot.sh(60, "ldconfig -p | grep libaio");
    println!("ldconfig -p | grep libaio:\n{cache}");
    for name in ["libaio.so.1 ", "libaio.so.1t64 ", "libaio.so "] {
        assert!(
            cache.lines().any(|l| l.trim_start().starts_with(name)),
            "ldconfig -p lists no {name}:\n{cache}"
        );
    }

    // fio writes, reads back and verifies, with O_DIRECT, through libaio,
    // on the host's file system (the chroot's /tmp).
    let fio = clock.step("fio --ioengine=libaio --direct=1 --verify=crc32c", || {
        chroot.sh(
            300,
            "rm -f /tmp/ld-debug.*; \
             LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/ld-debug \
             fio --name=libaio-rs --filename=/tmp/fio.data --ioengine=libaio --direct=1 \
             --rw=randrw --bs=4k --size=16M --iodepth=16 --verify=crc32c --do_verify=1 \
             --verify_fatal=1 --exitall_on_error=1 --verify_state_save=0; \
             status=$?; rm -f /tmp/fio.data; exit $status",
        )
    });
    println!("{fio}");
    for expected in ["err= 0", "read: IOPS=", "write: IOPS="] {
        assert!(
            fio.contains(expected),
            "fio printed no `{expected}`:\n{fio}"
        );
    }

    // Which file fio's io_submit and io_getevents were bound to.
    let mut debug = String::new();
    for entry in fs::read_dir(chroot.path("/tmp")).unwrap() {
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
    // "binding file fio [0] to /lib/x86_64-linux-gnu/libaio.so.1 [0]:
    // normal symbol `io_submit' [LIBAIO_0.1]"
    let bindings: Vec<(String, String)> = debug
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("binding file fio [0] to ")?.1;
            let (lib, rest) = rest.split_once(" [")?;
            let symbol = rest.split_once(": normal symbol `")?.1.split_once('\'')?.0;
            LIBAIO_FUNCTIONS
                .contains(&symbol)
                .then(|| (lib.to_owned(), symbol.to_owned()))
        })
        .collect();
    for symbol in ["io_submit", "io_getevents"] {
        assert!(
            bindings.iter().any(|(_, s)| s == symbol),
            "LD_DEBUG=bindings shows no binding of fio's {symbol}:\n{}",
            debug
                .lines()
                .filter(|l| l.contains("libaio"))
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let bound_to: BTreeSet<String> = bindings.iter().map(|(lib, _)| lib.clone()).collect();
    let symbols: BTreeSet<&str> = bindings.iter().map(|(_, s)| s.as_str()).collect();
    println!("fio's {symbols:?} are bound to {bound_to:?}");
    let bound_to: Vec<String> = bound_to.into_iter().collect();
    assert_eq!(bound_to.len(), 1, "fio bound to several libraries");
    let bound = &bound_to[0];
    assert!(
        bound == &format!("/usr/lib/{multiarch}/libaio.so.1")
            || bound == &format!("/lib/{multiarch}/libaio.so.1"),
        "fio bound to {bound}, not the installed libaio.so.1"
    );
    // That file, links resolved, is the one in our package, byte for byte.
    let real = chroot
        .sh(60, &format!("readlink -f {bound}"))
        .trim()
        .to_owned();
    assert_eq!(real, format!("/usr/lib/{multiarch}/libaio.so.1.0.2"));
    let owner = chroot.sh(60, &format!("dpkg -S {real}"));
    assert!(
        owner.starts_with("libaio-rs1:"),
        "{real} belongs to {owner}"
    );
    let installed = sha256(&chroot.path(&real));
    let packaged = sha256(
        &build
            .unpacked("libaio-rs1")
            .join(real.trim_start_matches('/')),
    );
    println!("{real} in the chroot: sha256 {installed} (the package's: {packaged})");
    assert_eq!(
        installed, packaged,
        "the installed {real} is not our package's"
    );

    // The same for qemu-img, whose native AIO reads completions from the ring
    // itself, and sysbench's asynchronous file I/O; both verify their data.
    let qemu = clock.step("qemu-img convert with aio=native (in the chroot)", || {
        let opts = |file: &str| {
            format!(
                "driver=raw,file.driver=file,file.filename={file},file.aio=native,cache.direct=on"
            )
        };
        chroot.sh(
            300,
            &format!(
                "set -e; rm -f /tmp/ld-debug.*; \
                 dd if=/dev/urandom of=/tmp/q.src bs=1M count=16 status=none; \
                 dd if=/dev/zero of=/tmp/q.dst bs=1M count=16 status=none; \
                 LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/ld-debug \
                 qemu-img convert -n -W -m 8 --image-opts --target-image-opts {} {}; \
                 cmp /tmp/q.src /tmp/q.dst; rm -f /tmp/q.src /tmp/q.dst; echo copied",
                opts("/tmp/q.src"),
                opts("/tmp/q.dst")
            ),
        )
    });
    assert!(qemu.contains("copied"), "{qemu}");
    assert_bound_to_installed(chroot, "qemu-img", &multiarch);
    let sysbench = clock.step(
        "sysbench fileio async direct, validated (in the chroot)",
        || {
            chroot.sh(
                300,
                "set -e; rm -rf /tmp/sb /tmp/ld-debug.*; mkdir /tmp/sb; cd /tmp/sb; \
             o='fileio --file-num=2 --file-total-size=8M --file-block-size=16384 \
                --file-extra-flags=direct --time=0 --validate=on'; \
             sysbench $o prepare >/dev/null; \
             LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/ld-debug \
             sysbench $o --file-test-mode=rndrw --file-io-mode=async --file-async-backlog=1 \
               --events=2000 run; \
             sysbench $o cleanup >/dev/null; cd /; rm -rf /tmp/sb",
            )
        },
    );
    let events = sysbench
        .lines()
        .find_map(|l| l.trim().strip_prefix("total number of events:"))
        .map(str::trim);
    assert!(
        !sysbench.contains("FATAL") && events == Some("2000"),
        "sysbench:\n{sysbench}"
    );
    assert_bound_to_installed(chroot, "sysbench", &multiarch);

    // Multi-Arch: same: the packages' instances for another architecture
    // install beside these (each Conflicts with a name both provide, and
    // their files in shared paths must be the same). Relabelled copies are
    // enough for dpkg and apt to check that.
    clock.step(
        "Multi-Arch: same, a second architecture (in the chroot)",
        || {
            let native = arch();
            let foreign = if native == "i386" { "amd64" } else { "i386" };
            let debs = foreign_instances(build, &work.join("foreign"), foreign);
            let mut names = Vec::new();
            for deb in &debs {
                let name = deb.file_name().unwrap().to_string_lossy().into_owned();
                fs::copy(deb, debs_dir.join(&name)).unwrap();
                names.push(format!("/tmp/debs/{name}"));
            }
            chroot.sh(60, &format!("dpkg --add-architecture {foreign}"));
            chroot.sh(120, &format!("dpkg -i {}", names.join(" ")));
            chroot.sh(60, "apt-get -q check");
            for (ours, _) in PACKAGES {
                for a in [native.as_str(), foreign] {
                    assert_eq!(
                        chroot.status(&format!("{ours}:{a}")),
                        "installed",
                        "{ours}:{a}"
                    );
                }
            }
        },
    );
}

// ---------------------------------------------------------------------------

#[test]
fn debian_packages_build_reproducibly_pass_lintian_and_replace_libaio_in_a_chroot() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root: debootstrap, chroot and mount (run `cargo test --test \
         debian_package` as root)"
    );
    for tool in ["git", "dpkg-buildpackage", "dh", "lintian", "debootstrap"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "{tool} is missing: run scripts/test-deps"
        );
    }
    let work = work_dir();
    fs::create_dir_all(&work).unwrap();
    unmount_below(&work);
    let clock = Clock::new();
    let no_check_builddeps = !rustc_is_debian();
    if no_check_builddeps {
        println!(
            "rustc is not Debian's (rustup?): dpkg-buildpackage -d skips the Build-Depends check"
        );
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());

    std::thread::scope(|scope| {
        // The chroot, beside the builds: mostly network and dpkg.
        let chroot = scope.spawn(|| prepare_chroot(&work, &clock));

        // Two builds of two copies, in differently named directories: with
        // the unit tests, then with nocheck.
        let one = clock.step("dpkg-buildpackage (copy one, with the unit tests)", || {
            build(
                &work.join("one"),
                "libaio-rs",
                &format!("parallel={jobs}"),
                no_check_builddeps,
            )
        });
        let two = clock.step("dpkg-buildpackage (copy two, nocheck)", || {
            build(
                &work.join("build-two/nested"),
                "another-tree",
                &format!("nocheck parallel={jobs}"),
                no_check_builddeps,
            )
        });
        let log_one = fs::read_to_string(one.out.join("build.log")).unwrap();
        let log_two = fs::read_to_string(two.out.join("build.log")).unwrap();
        assert!(
            log_one.contains("cargo test --frozen --lib"),
            "the build without nocheck ran no unit tests"
        );
        for (log, name) in [(&log_one, "one"), (&log_two, "two")] {
            assert!(
                !log.contains("make check") && !log.contains("make -j1 check"),
                "build {name} ran `make check`"
            );
        }
        assert!(
            !log_two.contains("cargo test"),
            "the nocheck build ran the unit tests"
        );

        // Reproducible: the same libraries, and the same .deb files.
        clock.step("compare the two builds", || {
            let multiarch = check(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))
                .trim()
                .to_owned();
            for (package, file) in [
                ("libaio-rs1", "libaio.so.1.0.2"),
                ("libaio-rs1t64", "libaio.so.1t64.0.2"),
                ("libaio-rs-dev", "libaio.a"),
            ] {
                let path = format!("usr/lib/{multiarch}/{file}");
                let a = sha256(&one.unpacked(package).join(&path));
                let b = sha256(&two.unpacked(package).join(&path));
                println!("sha256 {file}: {a} / {b}");
                assert_eq!(a, b, "{file} differs between the two builds");
            }
            for (package, _) in PACKAGES {
                let a = sha256(one.deb(package));
                let b = sha256(two.deb(package));
                println!("sha256 {package}.deb: {a} / {b}");
                assert_eq!(a, b, "{package}'s .deb differs between the two builds");
            }
        });

        clock.step("lintian", || {
            let binary = lintian(&one.changes, true);
            println!("lintian {}:\n{binary}", one.changes.display());
            // The source package too, for information: it is not built by
            // `dpkg-buildpackage -b` (dpkg-source -b on a fresh copy).
            let source_out = work.join("source");
            remove_tree(&source_out);
            let tree = source_out.join("libaio-rs");
            fs::create_dir_all(&tree).unwrap();
            copy_tree(&tree);
            check(
                clean_command("dpkg-source")
                    .arg("-b")
                    .arg("libaio-rs")
                    .current_dir(&source_out),
            );
            let dsc = fs::read_dir(&source_out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "dsc"))
                .expect("dpkg-source made no .dsc");
            println!(
                "lintian {} (not checked):\n{}",
                dsc.display(),
                lintian(&dsc, false)
            );
        });

        let version = changelog(&one.tree, "Version");
        let provided = format!("{}+rs{version}", interface_version(&one.tree));
        let multiarch = check(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))
            .trim()
            .to_owned();
        clock.step("check the packages' contents", || {
            check_contents(&one, &multiarch, &provided, &version)
        });

        let chroot = chroot
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        install_and_run(&chroot, &one, &work, &clock);
        // Unmount, then remove the chroot and the build trees (they are
        // big); all are kept when a step failed. The .deb files and the
        // logs stay.
        drop(chroot);
        for dir in [work.join("chroot"), one.tree, two.tree, work.join("source")] {
            remove_tree(&dir);
        }
    });
    clock.report();
    std::io::stdout().flush().unwrap();
}
