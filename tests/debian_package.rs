//! The Debian packages (debian/), built as Debian builds them: in a clean
//! chroot of the release (Debian 13 by default), with the release's own
//! rustc, cargo and crates (librust-*-dev), with the network cut; then
//! linted, inspected, installed in place of Debian's libaio1t64 and
//! libaio-dev, and run by fio, qemu-img, sysbench and the package's own
//! autopkgtest.
//!
//! 1. The build chroot: `debootstrap --variant=buildd` of the release plus
//!    the Build-Depends of debian/control (`apt-get build-dep`), and nothing
//!    else. Made once and kept as a tarball in target/debian-package/cache/,
//!    named after the release and a digest of debian/control's source
//!    paragraph, so that new Build-Depends make a new one; later runs only
//!    unpack it. The apt archive cache there persists too.
//! 2. In the build chroot, under `unshare --net` (only the loopback
//!    interface): two copies of the tree (the files git knows, plus the
//!    untracked ones it does not ignore), in two differently named
//!    directories, built with `dpkg-buildpackage`: the first with the source
//!    package and the unit tests, the second binary-only with `nocheck`.
//!    cargo must have used the release's libc crate, the two builds must
//!    give byte-identical libraries and .deb files, and both shared objects
//!    must need libc.so.6 alone.
//! 3. Meanwhile, in another thread, the test chroot: the build chroot plus
//!    lintian, autopkgtest, fio, qemu-utils, sysbench and Debian's libaio-dev
//!    (TEST_PACKAGES), cached as a tarball of its own. It sees the builds'
//!    /build through a bind mount.
//! 4. There, the release's lintian over the source and binary packages:
//!    nothing but the reasoned overrides of debian/ (and `unused-override`
//!    for those meant for the other release's lintian), at every level; in
//!    a thread of its own, beside the next steps.
//! 5. The .deb files' contents, control fields, shlibs and symbols against
//!    what Debian's libaio1, libaio1t64 and libaio-dev have; libaio.so
//!    points where Debian's libaio-dev points it (libaio.so.1t64 from Debian
//!    13 on). Then our packages go in with apt, which must remove Debian's
//!    libaio and libaio-dev and nothing else; a package depending on
//!    `libaio1 (>= 0.3.113-4)`, `libaio1t64` and `libaio-dev` must install;
//!    fio, qemu-img and sysbench must verify their data through the library,
//!    LD_DEBUG=bindings must show them bound to the installed library, whose
//!    bytes are the package's; autopkgtest (the `null` server, inside the
//!    chroot) runs debian/tests: C programs built against the installed
//!    libaio-rs-dev, shared (needing the release's SONAME) and static, and
//!    the unit tests. The packages' instances for a second architecture
//!    must be co-installable (Multi-Arch: same).
//! 6. From the start, on the host, beside the chroots' work: the vendored
//!    route of debian/README.source (build profile pkg.libaio-rs.vendor,
//!    Rust from rustup, crates in debian/vendor): its libaio.so points where
//!    the host's libaio-dev points it (libaio.so.1 on Debian 12), and its
//!    shared objects need libc.so.6 alone.
//!
//! `LIBAIO_RS_DEBIAN_SUITE=sid` (or another suite debootstrap knows) runs
//! the same on that release instead of Debian 13.
//!
//! /proc, /dev, the apt cache and /build are mounted in the chroots by
//! guards that unmount them all when dropped, also when the test fails; a
//! run begins by unmounting whatever an interrupted run left under
//! target/debian-package. Nothing is installed on the host, and the chroots
//! and build trees are removed at the end (the cache, the .deb files of the
//! host and the logs stay under target/debian-package). Needs root
//! (debootstrap, chroot, mount, unshare), the Debian archive (unless
//! cached) and crates.io (the vendored route; cargo's cache will do), git,
//! and the tools scripts/test-deps installs (dpkg-dev, debhelper,
//! debootstrap).
//!
//! Timings are printed at the end (`--nocapture`); the README gives those
//! measured.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the release's packages come from.
const MIRROR: &str = "http://deb.debian.org/debian";

/// The release the packages are built for: Debian 13 unless
/// `LIBAIO_RS_DEBIAN_SUITE` names another.
fn suite() -> String {
    std::env::var("LIBAIO_RS_DEBIAN_SUITE").unwrap_or_else(|_| "trixie".to_owned())
}

/// Whether the suite is Debian's unstable one, whose archive snapshot may
/// carry an expired Valid-Until date.
fn is_unstable(suite: &str) -> bool {
    matches!(suite, "sid" | "unstable")
}

/// Our binary packages, and the Debian package each one replaces.
const PACKAGES: [(&str, &str); 3] = [
    ("libaio-rs1", "libaio1"),
    ("libaio-rs1t64", "libaio1t64"),
    ("libaio-rs-dev", "libaio-dev"),
];

/// The build profile of debian/control and debian/rules for the vendored
/// route (crates in debian/vendor, Rust from anywhere).
const VENDOR_PROFILE: &str = "pkg.libaio-rs.vendor";

/// The file and the runtime package behind a development link to `soname`.
fn dev_library(soname: &str) -> (&'static str, &'static str) {
    match soname {
        "libaio.so.1t64" => ("libaio.so.1t64.0.2", "libaio-rs1t64"),
        "libaio.so.1" => ("libaio.so.1.0.2", "libaio-rs1"),
        other => panic!("no library of ours has the SONAME {other}"),
    }
}

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

/// The .deb and .changes files a build left in `out`, beside its `tree`.
fn collect_build(tree: PathBuf, out: &Path) -> Build {
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
    assert_eq!(
        made,
        expected,
        "the packages the build in {} made",
        out.display()
    );
    Build {
        tree,
        out: out.to_owned(),
        debs,
        changes: changes.expect("dpkg-buildpackage made no .changes"),
    }
}

/// The vendored route, on the host: debian/vendor.sh, then
/// `dpkg-buildpackage -b -P pkg.libaio-rs.vendor` with whatever Rust is on
/// PATH (rustup's), no -d.
fn build_vendored_on_host(out: &Path, jobs: usize) -> Build {
    remove_tree(out);
    let tree = out.join("libaio-rs");
    fs::create_dir_all(&tree).unwrap();
    copy_tree(&tree);
    check_logged(
        clean_command(tree.join("debian/vendor.sh")).current_dir(&tree),
        &out.join("vendor.log"),
    );
    check_logged(
        clean_command("dpkg-buildpackage")
            .args(["-b", "-us", "-uc"])
            .arg(format!("-P{VENDOR_PROFILE}"))
            .env("DEB_BUILD_OPTIONS", format!("nocheck parallel={jobs}"))
            .current_dir(&tree),
        &out.join("build.log"),
    );
    collect_build(tree, out)
}

/// Copies the tree to `/build/DIR/NAME` in the chroot and runs
/// `dpkg-buildpackage ARGS -us -uc` there, with the network cut.
fn build_in_chroot(chroot: &Chroot, dir: &str, name: &str, args: &str, options: &str) -> Build {
    let inside = format!("/build/{dir}");
    let out = chroot.path(&inside);
    remove_tree(&out);
    let tree = out.join(name);
    fs::create_dir_all(&tree).unwrap();
    copy_tree(&tree);
    let script = format!(
        "cd {inside}/{name} && DEB_BUILD_OPTIONS='{options}' dpkg-buildpackage {args} -us -uc"
    );
    check_logged(
        &mut chroot.offline_command(1200, &["sh", "-c", &script]),
        &out.join("build.log"),
    );
    collect_build(tree, &out)
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

/// What the packages must hold. `dev_soname` is the library libaio.so
/// points to, as the release's own libaio-dev has it.
fn check_contents(build: &Build, multiarch: &str, provided: &str, version: &str, dev_soname: &str) {
    let (dev_file, dev_runtime) = dev_library(dev_soname);
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
        (format!("{lib}/libaio.so"), dev_file),
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
            assert_eq!(depends, format!("{dev_runtime} (= {version})"));
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

/// The lintian hints of a report that are no reasoned override: every
/// `E:`, `W:`, `I:`, `P:` or `X:` line but `unused-override`, which the
/// overrides meant for the other release's lintian give (debian/source/
/// lintian-overrides says which).
fn lintian_complaints(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|l| {
            ["E: ", "W: ", "I: ", "P: ", "X: "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter(|l| !l.contains(": unused-override "))
        .collect()
}

/// The release's lintian, in `chroot`, over the source and binary
/// packages of `build` (its .changes, under /build): nothing but reasoned
/// overrides.
fn lintian_in(chroot: &Chroot, build: &Build, suite: &str) {
    let changes = format!(
        "/build/one/{}",
        build.changes.file_name().unwrap().to_string_lossy()
    );
    let out = output(&mut chroot.command(
        600,
        &[
            "lintian",
            "--pedantic",
            "--display-info",
            "--display-experimental",
            "--show-overrides",
            &changes,
        ],
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("lintian of {suite}, {changes}:\n{text}");
    let complaints = lintian_complaints(&text);
    assert!(
        complaints.is_empty(),
        "lintian of {suite}: {complaints:#?}\n{}",
        report(&out)
    );
    assert!(
        text.contains("O: libaio-rs1: package-name-doesnt-match-sonames")
            && text.contains("libaio-rs source: "),
        "lintian did not check the source and binary packages:\n{text}"
    );
}

// ---------------------------------------------------------------------------
// The chroot.

/// A Debian chroot with /proc, /dev and the apt archive cache mounted
/// (unmounted when this is dropped).
struct Chroot {
    dir: PathBuf,
    // Declared last: dropped after everything that might still use the mounts.
    mounts: Mounts,
}

impl Chroot {
    /// Mounts what the chroot at `dir` needs; its downloaded packages go to
    /// `cache`/apt-archives, which persists between runs.
    fn open(dir: &Path, cache: &Path, suite: &str) -> Chroot {
        let mut chroot = Chroot {
            dir: dir.to_owned(),
            mounts: Mounts::new(),
        };
        // Name resolution for apt.
        if let Ok(resolv) = fs::read("/etc/resolv.conf") {
            let dest = chroot.path("/etc/resolv.conf");
            let _ = fs::remove_file(&dest);
            fs::write(&dest, resolv).unwrap();
        }
        // The archive's unstable suite may be a snapshot whose Release file
        // has expired by the machine's clock.
        if is_unstable(suite) {
            fs::write(
                chroot.path("/etc/apt/apt.conf.d/99libaio-rs-tests"),
                "Acquire::Check-Valid-Until \"false\";\n",
            )
            .unwrap();
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
        let keep = cache.join("apt-archives");
        fs::create_dir_all(keep.join("partial")).unwrap();
        let point = chroot.path("/var/cache/apt/archives");
        chroot
            .mounts
            .mount([OsStr::new("--bind"), keep.as_os_str()], &point);
        chroot
    }

    /// Makes the host's `dir` appear at `inside` in the chroot.
    fn bind(&mut self, dir: &Path, inside: &str) {
        let point = self.path(inside);
        self.mounts
            .mount([OsStr::new("--bind"), dir.as_os_str()], &point);
    }

    /// `chroot DIR ARGS...` with a plain environment, under `timeout`.
    fn command(&self, seconds: u32, args: &[&str]) -> Command {
        self.command_in(seconds, &[], args)
    }

    /// The same in a network namespace of its own: no network at all.
    fn offline_command(&self, seconds: u32, args: &[&str]) -> Command {
        self.command_in(seconds, &["unshare", "--net"], args)
    }

    fn command_in(&self, seconds: u32, wrapper: &[&str], args: &[&str]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.arg(seconds.to_string())
            .args(wrapper)
            .arg("chroot")
            .arg(&self.dir)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C.UTF-8")
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive");
        for proxy in ["http_proxy", "https_proxy", "no_proxy"] {
            if let Some(value) = std::env::var_os(proxy) {
                cmd.env(proxy, value);
            }
        }
        cmd
    }

    /// `apt-get update`, then `apt-get ARGS` (installing without the
    /// recommended packages), logged to `log`; must succeed.
    fn apt(&self, args: &str, log: &Path) {
        let script = format!(
            "apt-get -q -o Acquire::Retries=3 update && \
             apt-get -q -y -o Acquire::Retries=3 --no-install-recommends {args}"
        );
        check_logged(&mut self.command(900, &["sh", "-c", &script]), log);
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

/// The tarball `cache/KIND-DIGEST.tar`, where DIGEST is a digest of `what`
/// it holds; other tarballs of that KIND are removed.
fn cached_tarball(cache: &Path, kind: &str, what: &str) -> PathBuf {
    let key_file = cache.join(format!("{kind}.key"));
    fs::write(&key_file, what).unwrap();
    let key = sha256(&key_file)[..16].to_owned();
    fs::remove_file(&key_file).unwrap();
    let name = format!("{kind}-{key}.tar");
    for entry in fs::read_dir(cache).unwrap() {
        let old = entry.unwrap().path();
        let file = old.file_name().unwrap().to_string_lossy().into_owned();
        if file != name && file.starts_with(&format!("{kind}-")) && file.ends_with(".tar") {
            fs::remove_file(&old).unwrap();
        }
    }
    cache.join(&name)
}

/// Unpacks `tarball` into a new directory `dir`.
fn unpack(tarball: &Path, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    check(
        Command::new("tar")
            .args(["--numeric-owner", "-xpf"])
            .arg(tarball)
            .arg("-C")
            .arg(dir),
    );
}

/// Packs the tree `dir` into `tarball` (through a partial file).
fn pack(dir: &Path, tarball: &Path) {
    let partial = tarball.with_extension("tar.partial");
    check(
        Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(dir)
            .arg("-cf")
            .arg(&partial)
            .arg("."),
    );
    fs::rename(&partial, tarball).unwrap();
}

/// A release's build chroot as a tarball: `debootstrap --variant=buildd`
/// plus the Build-Depends of debian/control, made once, then reused. Its
/// name holds a digest of debian/control's source paragraph, so that new
/// Build-Depends make a new one (and the old one of that release goes).
/// When it makes the tarball, the tree it packed moves to `fresh`, the
/// chroot of this run, rather than being unpacked again.
fn build_chroot_tarball(cache: &Path, suite: &str, clock: &Clock, fresh: &Path) -> PathBuf {
    let control = fs::read_to_string(root().join("debian/control")).unwrap();
    let source = control.split("\n\n").next().unwrap();
    let tarball = cached_tarball(cache, &format!("{suite}-buildd"), source);
    if tarball.exists() {
        return tarball;
    }
    clock.step(
        &format!("debootstrap --variant=buildd {suite}, apt-get build-dep (once; cached)"),
        || {
            let dir = cache.join("debootstrap");
            remove_tree(&dir);
            check_logged(
                Command::new("debootstrap")
                    .args(["--variant=buildd", suite])
                    .arg(&dir)
                    .arg(MIRROR),
                &cache.join("debootstrap.log"),
            );
            unmount_below(&dir);
            {
                let chroot = Chroot::open(&dir, cache, suite);
                let builddeps = chroot.path("/tmp/builddeps/debian");
                fs::create_dir_all(&builddeps).unwrap();
                fs::copy(root().join("debian/control"), builddeps.join("control")).unwrap();
                chroot.apt("build-dep /tmp/builddeps", &cache.join("build-dep.log"));
                fs::remove_dir_all(chroot.path("/tmp/builddeps")).unwrap();
            }
            unmount_below(&dir);
            // debootstrap's own downloads.
            for entry in fs::read_dir(dir.join("var/cache/apt/archives")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "deb") {
                    fs::remove_file(&path).unwrap();
                }
            }
            pack(&dir, &tarball);
            remove_tree(fresh);
            fs::rename(&dir, fresh).unwrap();
        },
    );
    tarball
}

/// The packages the tests take from the archive, beside the build
/// dependencies: lintian, autopkgtest (and what debian/tests needs beyond
/// the build dependencies), and programs to run on our library (with
/// Debian's libaio).
const TEST_PACKAGES: &str = "lintian autopkgtest pkgconf fio qemu-utils sysbench libaio-dev";

/// A fresh build chroot of the release under target/debian-package/chroot,
/// from the cached tarball, with its mounts; and that tarball.
fn build_chroot(work: &Path, suite: &str, clock: &Clock) -> (Chroot, PathBuf) {
    let cache = work.join("cache");
    fs::create_dir_all(&cache).unwrap();
    // What this test cached before it built in a chroot of the release.
    for old in ["bookworm-minbase.tar", "apt-lists"] {
        remove_tree(&cache.join(old));
    }
    let dir = work.join("chroot");
    remove_tree(&dir);
    let tarball = build_chroot_tarball(&cache, suite, clock, &dir);
    if !dir.exists() {
        clock.step("unpack the build chroot", || unpack(&tarball, &dir));
    }
    (Chroot::open(&dir, &cache, suite), tarball)
}

/// The chroot the built packages are checked, installed and run in, under
/// target/debian-package/test-chroot: the build chroot plus TEST_PACKAGES,
/// cached as a tarball of its own (named after the build chroot's and the
/// package list).
fn test_chroot(work: &Path, suite: &str, clock: &Clock, build_tarball: &Path) -> Chroot {
    let cache = work.join("cache");
    let what = format!("{}\n{TEST_PACKAGES}", build_tarball.display());
    let tarball = cached_tarball(&cache, &format!("{suite}-test"), &what);
    let dir = work.join("test-chroot");
    remove_tree(&dir);
    if tarball.exists() {
        clock.step("unpack the test chroot", || unpack(&tarball, &dir));
    } else {
        clock.step(
            &format!("make the test chroot: apt-get install {TEST_PACKAGES} (once; cached)"),
            || {
                unpack(build_tarball, &dir);
                {
                    let chroot = Chroot::open(&dir, &cache, suite);
                    chroot.apt(
                        &format!("install {TEST_PACKAGES}"),
                        &work.join("test-chroot-apt.log"),
                    );
                }
                pack(&dir, &tarball);
            },
        );
    }
    Chroot::open(&dir, &cache, suite)
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

/// The libaio SONAME a program of the chroot needs (`readelf -d`).
fn libaio_needed(chroot: &Chroot, program: &str) -> String {
    let out = check(Command::new("readelf").arg("-d").arg(chroot.path(program)));
    let needed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_once('[')?.1.split_once(']').map(|(name, _)| name))
        .filter(|name| name.starts_with("libaio.so"))
        .collect();
    assert_eq!(needed.len(), 1, "{program} needs {needed:?}");
    needed[0].to_owned()
}

/// Asserts that `LD_DEBUG=bindings` output left in the chroot's
/// /tmp/ld-debug.* shows `program`'s io_submit and `also` bound to the
/// installed `soname`, and nothing else of libaio's elsewhere. Returns the
/// path the dynamic linker bound them to.
fn assert_bound_to_installed(
    chroot: &Chroot,
    program: &str,
    also: &[&str],
    multiarch: &str,
    soname: &str,
) -> String {
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
    // "binding file fio [0] to /lib/x86_64-linux-gnu/libaio.so.1t64 [0]:
    // normal symbol `io_submit' [LIBAIO_0.1]"
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
    for symbol in std::iter::once(&"io_submit").chain(also) {
        assert!(
            bindings.iter().any(|(_, s)| s == symbol),
            "LD_DEBUG=bindings shows no binding of {program}'s {symbol}:\n{}",
            debug
                .lines()
                .filter(|l| l.contains("libaio"))
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let installed = [
        format!("/usr/lib/{multiarch}/{soname}"),
        format!("/lib/{multiarch}/{soname}"),
    ];
    for (lib, symbol) in &bindings {
        assert!(
            installed.contains(lib),
            "{program}'s {symbol} is bound to {lib}, not the installed {soname}"
        );
    }
    println!(
        "{program}: {} io_* bindings, all to the installed {soname}",
        bindings.len()
    );
    bindings[0].0.clone()
}

/// Installs our packages into the chroot in place of Debian's libaio (fio,
/// qemu-utils, sysbench and libaio-dev are there), and runs programs on
/// them. `dev_soname` is where Debian's libaio-dev pointed libaio.so.
fn install_and_run(chroot: &Chroot, build: &Build, work: &Path, clock: &Clock, dev_soname: &str) {
    let multiarch = check(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))
        .trim()
        .to_owned();
    // The library Debian's programs of this release are linked against,
    // and the packages (Debian's, ours) that hold it.
    let soname = libaio_needed(chroot, "/usr/bin/fio");
    let (file, ours) = dev_library(&soname);
    let theirs = PACKAGES.iter().find(|(o, _)| *o == ours).unwrap().1;
    assert_eq!(chroot.status(theirs), "installed", "Debian's {theirs}");
    let debs_dir = chroot.path("/tmp/debs");
    fs::create_dir_all(&debs_dir).unwrap();
    let mut inside = Vec::new();
    for (package, _) in PACKAGES {
        let deb = build.deb(package);
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(deb, debs_dir.join(&name)).unwrap();
        inside.push(format!("/tmp/debs/{name}"));
    }

    // apt, as a user would: it must remove Debian's libaio and libaio-dev
    // (plain `dpkg -i` stops at libaio-dev's exact dependency on its own
    // libaio unless given --auto-deconfigure) and nothing else.
    clock.step("apt-get install our packages (in the test chroot)", || {
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
            BTreeSet::from(["libaio-dev", theirs]),
            "what apt removed:\n{out}"
        );
    });
    for (ours, theirs) in PACKAGES {
        assert_eq!(chroot.status(ours), "installed", "{ours}");
        assert_eq!(chroot.status(theirs), "not-installed", "{theirs}");
    }
    for program in ["fio", "qemu-utils", "sysbench"] {
        assert_eq!(chroot.status(program), "installed", "{program}");
    }
    // Nothing broken, nothing half-configured.
    chroot.sh(60, "apt-get -q check");
    let audit = chroot.sh(60, "dpkg --audit");
    assert!(audit.trim().is_empty(), "dpkg --audit: {audit}");
    // libaio.so points where Debian's libaio-dev pointed it.
    let link = chroot
        .sh(60, &format!("readlink /usr/lib/{multiarch}/libaio.so"))
        .trim()
        .to_owned();
    assert_eq!(
        link,
        dev_library(dev_soname).0,
        "libaio.so of libaio-rs-dev"
    );

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
    let bound = assert_bound_to_installed(chroot, "fio", &["io_getevents"], &multiarch, &soname);
    // That file, links resolved, is the one in our package, byte for byte.
    let real = chroot
        .sh(60, &format!("readlink -f {bound}"))
        .trim()
        .to_owned();
    assert_eq!(real, format!("/usr/lib/{multiarch}/{file}"));
    let owner = chroot.sh(60, &format!("dpkg -S {real}"));
    assert!(
        owner.starts_with(&format!("{ours}:")),
        "{real} belongs to {owner}"
    );
    let installed = sha256(&chroot.path(&real));
    let packaged = sha256(&build.unpacked(ours).join(real.trim_start_matches('/')));
    println!("{real} in the chroot: sha256 {installed} (the package's: {packaged})");
    assert_eq!(
        installed, packaged,
        "the installed {real} is not our package's"
    );

    // The same for qemu-img, whose native AIO reads completions from the ring
    // itself, and sysbench's asynchronous file I/O; both verify their data.
    let qemu = clock.step("qemu-img convert with aio=native (in the test chroot)", || {
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
    assert_bound_to_installed(chroot, "qemu-img", &[], &multiarch, &soname);
    let sysbench = clock.step(
        "sysbench fileio async direct, validated (in the test chroot)",
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
    assert_bound_to_installed(chroot, "sysbench", &[], &multiarch, &soname);
}

/// autopkgtest, inside the chroot (the `null` server), over the source
/// package and our .deb files of a build in the chroot at `build_root`:
/// debian/tests must pass, and the C programs built against libaio-rs-dev
/// must need `dev_soname`.
fn autopkgtest(chroot: &Chroot, build: &Build, build_root: &Path, dev_soname: &str) {
    // The builds' /build is mounted at the same place in the test chroot.
    let inside = |path: &Path| {
        format!(
            "/{}",
            path.strip_prefix(build_root).unwrap().to_string_lossy()
        )
    };
    let dsc = fs::read_dir(&build.out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "dsc"))
        .expect("the build made no .dsc");
    let mut args = vec![inside(&dsc)];
    args.extend(PACKAGES.iter().map(|(p, _)| inside(build.deb(p))));
    let log = build.out.join("autopkgtest.log");
    let script = format!(
        "autopkgtest {} -- null; echo \"autopkgtest exit status $?\"",
        args.join(" ")
    );
    check_logged(&mut chroot.command(1200, &["sh", "-c", &script]), &log);
    let text = fs::read_to_string(&log).unwrap();
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("@@@@@@@@@@@@@@@@@@@@ summary"))
        .skip(1)
        .take_while(|l| !l.starts_with("autopkgtest ["))
        .collect();
    println!("autopkgtest:\n{}", summary.join("\n"));
    let results: BTreeMap<&str, &str> = summary
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .collect();
    assert_eq!(
        results,
        BTreeMap::from([("c-programs", "PASS"), ("unit-tests", "PASS")]),
        "autopkgtest (see {})",
        log.display()
    );
    assert!(
        text.contains("autopkgtest exit status 0"),
        "autopkgtest failed: {}",
        log.display()
    );
    let needs = format!("linked with -laio (needs {dev_soname}): passed");
    assert!(
        text.contains(&format!("real_io, {needs}")),
        "no `real_io, {needs}` in {}",
        log.display()
    );
}

/// Multi-Arch: same: the packages' instances for another architecture
/// install beside these (each Conflicts with a name both provide, and their
/// files in shared paths must be the same). Relabelled copies are enough
/// for dpkg and apt to check that.
fn multi_arch_same(chroot: &Chroot, build: &Build, work: &Path) {
    let native = arch();
    let foreign = if native == "i386" { "amd64" } else { "i386" };
    let debs = foreign_instances(build, &work.join("foreign"), foreign);
    let debs_dir = chroot.path("/tmp/debs");
    fs::create_dir_all(&debs_dir).unwrap();
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
}

/// The NEEDED entries of a shared object.
fn needed(lib: &Path) -> Vec<String> {
    check(Command::new("readelf").arg("-d").arg(lib))
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
        .collect()
}

/// Both shared objects of a build need libc.so.6 alone.
fn assert_only_libc_needed(build: &Build, multiarch: &str, what: &str) {
    for (package, file) in [
        ("libaio-rs1", "libaio.so.1.0.2"),
        ("libaio-rs1t64", "libaio.so.1t64.0.2"),
    ] {
        let lib = build
            .unpacked(package)
            .join(format!("usr/lib/{multiarch}/{file}"));
        let needed = needed(&lib);
        println!("{what}: {file} needs {needed:?}");
        assert_eq!(needed, ["libc.so.6"], "NEEDED of {file} ({what})");
    }
}

/// Where `libaio.so` of Debian's own libaio-dev points, as a SONAME: on the
/// host (`root` = "/") or in a chroot.
fn debian_dev_soname(root_dir: &Path, multiarch: &str) -> String {
    let link = root_dir.join(format!("usr/lib/{multiarch}/libaio.so"));
    let target = fs::read_link(&link).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: Debian's libaio-dev is not installed there",
            link.display()
        )
    });
    let lib = link.parent().unwrap().join(target);
    let out = check(Command::new("readelf").arg("-d").arg(&lib));
    out.lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
        .unwrap_or_else(|| panic!("{} has no SONAME", lib.display()))
}

// ---------------------------------------------------------------------------

#[test]
fn debian_packages_build_offline_in_a_release_chroot_pass_lintian_and_replace_libaio() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root: debootstrap, chroot, mount and unshare (run `cargo test --test \
         debian_package` as root)"
    );
    for tool in [
        "git",
        "dpkg-buildpackage",
        "dh",
        "debootstrap",
        "unshare",
        "readelf",
    ] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "{tool} is missing: run scripts/test-deps"
        );
    }
    let suite = suite();
    let work = work_dir();
    fs::create_dir_all(&work).unwrap();
    unmount_below(&work);
    let clock = Clock::new();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let multiarch = check(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"))
        .trim()
        .to_owned();

    std::thread::scope(|scope| {
        // The vendored route on the host, beside the chroots' work.
        let host = scope.spawn(|| {
            clock.step(
                "dpkg-buildpackage -P pkg.libaio-rs.vendor (on the host)",
                || build_vendored_on_host(&work.join("host"), jobs),
            )
        });

        let (build_chroot, build_tarball) = build_chroot(&work, &suite, &clock);
        // The chroot of the checks after the build, made beside the builds.
        let test_chroot = {
            let (work, suite, clock, tarball) = (&work, &suite, &clock, build_tarball.clone());
            scope.spawn(move || test_chroot(work, suite, clock, &tarball))
        };

        // The builds run without network: only the loopback interface.
        let interfaces = check(&mut build_chroot.offline_command(60, &["cat", "/proc/net/dev"]));
        let names: Vec<&str> = interfaces
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(names, ["lo"], "the network the builds see");
        // The libc crate the release packages (librust-libc-dev).
        let packaged_libc: Vec<String> =
            fs::read_dir(build_chroot.path("/usr/share/cargo/registry"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter_map(|name| name.strip_prefix("libc-").map(str::to_owned))
                .collect();
        assert_eq!(packaged_libc.len(), 1, "libc crates: {packaged_libc:?}");
        let rustc = build_chroot.sh(60, "rustc --version");
        println!("{suite}: {}, libc crate {}", rustc.trim(), packaged_libc[0]);

        // Two builds of two copies, in differently named directories: the
        // source package and the binaries with the unit tests, then the
        // binaries alone with nocheck.
        let one = clock.step(
            &format!("dpkg-buildpackage, offline, in {suite} (copy one, with the unit tests)"),
            || {
                build_in_chroot(
                    &build_chroot,
                    "one",
                    "libaio-rs",
                    "",
                    &format!("parallel={jobs}"),
                )
            },
        );
        let two = clock.step(
            &format!("dpkg-buildpackage -b, offline, in {suite} (copy two, nocheck)"),
            || {
                build_in_chroot(
                    &build_chroot,
                    "build-two/nested",
                    "another-tree",
                    "-b",
                    &format!("nocheck parallel={jobs}"),
                )
            },
        );
        let log_one = fs::read_to_string(one.out.join("build.log")).unwrap();
        let log_two = fs::read_to_string(two.out.join("build.log")).unwrap();
        assert!(
            log_one.contains(&format!("Compiling libc v{}", packaged_libc[0])),
            "the build did not use the release's libc crate {}",
            packaged_libc[0]
        );
        assert!(
            log_one.contains("cargo test --offline --lib") && log_one.contains("test result: ok."),
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
        assert_only_libc_needed(&one, &multiarch, &format!("{suite}, {}", rustc.trim()));

        // Reproducible: the same libraries, and the same .deb files.
        clock.step("compare the two builds", || {
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

        // The rest runs in the test chroot, which sees the builds' /build.
        let mut chroot = test_chroot
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        chroot.bind(&build_chroot.path("/build"), "/build");

        // lintian of the release over the source package and the binaries,
        // beside the installation and the programs (it only reads).
        let dev_soname = std::thread::scope(|inner| {
            let lintian = inner.spawn(|| {
                clock.step(&format!("lintian of {suite} (in the test chroot)"), || {
                    lintian_in(&chroot, &one, &suite)
                })
            });

            // Our packages' contents, with libaio.so where Debian's points.
            let dev_soname = debian_dev_soname(&chroot.dir, &multiarch);
            println!("{suite}: Debian's libaio-dev links programs against {dev_soname}");
            let version = changelog(&one.tree, "Version");
            let provided = format!("{}+rs{version}", interface_version(&one.tree));
            clock.step("check the packages' contents", || {
                check_contents(&one, &multiarch, &provided, &version, &dev_soname)
            });

            install_and_run(&chroot, &one, &work, &clock, &dev_soname);
            clock.step("autopkgtest (null, in the test chroot)", || {
                autopkgtest(&chroot, &one, &build_chroot.dir, &dev_soname)
            });
            clock.step(
                "Multi-Arch: same, a second architecture (in the test chroot)",
                || multi_arch_same(&chroot, &one, &work),
            );
            lintian
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            dev_soname
        });
        println!("{suite}: libaio-rs-dev links programs against {dev_soname}");
        let version = changelog(&one.tree, "Version");
        let provided = format!("{}+rs{version}", interface_version(&one.tree));

        // The vendored route: the host's release decides libaio.so as
        // Debian's libaio-dev there does.
        let host = host
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let host_soname = debian_dev_soname(Path::new("/"), &multiarch);
        clock.step("check the vendored build's contents", || {
            check_contents(&host, &multiarch, &provided, &version, &host_soname)
        });
        assert_only_libc_needed(&host, &multiarch, "vendored, on the host");

        // Unmount, then remove the chroots and the build trees (they are
        // big); all are kept when a step failed. The .deb files and the
        // logs stay, in target/debian-package/host.
        drop(chroot);
        drop(build_chroot);
        for dir in [work.join("test-chroot"), work.join("chroot"), host.tree] {
            remove_tree(&dir);
        }
    });
    clock.report();
    std::io::stdout().flush().unwrap();
}
