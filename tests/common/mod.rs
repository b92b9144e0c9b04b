//! What the integration tests share: where the built library and the
//! system's libaio are, both loaded side by side, scratch files for real I/O,
//! and small helpers to run programs.
//!
//! The library under test is the shared object the Makefile links
//! (`make check` passes its directory in `LIBAIO_RS_LIBDIR`); when that is
//! not set, the tests build it themselves with `make lib`, in a separate
//! target directory so as not to wait on the cargo running the tests.
//!
//! Both libraries are loaded into the test process with dlopen (each from its
//! own path, so the shared SONAME does not merge them) and every function is
//! looked up with dlvsym by name and version, so a test can run the same calls
//! against each and compare.

#![allow(dead_code)]

pub mod c_tests;
pub mod elf;

use std::ffi::{CStr, CString, c_int, c_long, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use aio_rs::abi::{io_context_t, io_event, iocb};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding our libaio.so.1, libaio.so and libaio.a.
pub fn libdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("LIBAIO_RS_LIBDIR") {
            return PathBuf::from(dir);
        }
        // One build at a time: test processes (and the children some tests
        // run) start side by side, and one must not load the library while
        // another is still linking it.
        let locks = root().join("target");
        std::fs::create_dir_all(&locks).unwrap();
        let mut make = make();
        make.arg("-s").arg("lib");
        let status = Command::new("flock")
            .arg(locks.join("test-build.lock"))
            .arg(make.get_program())
            .args(make.get_args())
            .envs(make.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .status()
            .expect("run make");
        assert!(status.success(), "make lib failed");
        root().join("target/test-build/lib")
    })
}

/// `make -C <root>`, pointed at the build the tests use: the one `make check`
/// made (`LIBAIO_RS_LIBDIR`), or else a private one under target/, built with
/// its own cargo target directory so as not to wait on the cargo running the
/// tests.
pub fn make() -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(root());
    match std::env::var_os("LIBAIO_RS_LIBDIR") {
        Some(dir) => {
            let build = Path::new(&dir)
                .parent()
                .expect("LIBAIO_RS_LIBDIR is <build>/lib");
            cmd.arg(format!("BUILD={}", build.display()));
        }
        None => {
            cmd.arg(format!(
                "BUILD={}",
                root().join("target/test-build").display()
            ));
            cmd.env("CARGO_TARGET_DIR", root().join("target/test-cargo"));
        }
    }
    cmd
}

/// Our shared object (the file behind libaio.so.1).
pub fn our_lib() -> PathBuf {
    libdir().join("libaio.so.1")
}

/// Our header directory.
pub fn include_dir() -> PathBuf {
    root().join("include")
}

/// The system's libaio.so.1 (Debian's libaio1), the reference: where the C
/// compiler finds it, or the file named by `LIBAIO_RS_SYSTEM_LIB` (where the
/// tests run without a compiler, in the guests of `tests/foreign.rs`).
pub fn system_lib() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("LIBAIO_RS_SYSTEM_LIB") {
            return PathBuf::from(path);
        }
        let out = run_ok(Command::new("cc").arg("-print-file-name=libaio.so.1"));
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            path.is_absolute() && path.exists(),
            "the system libaio.so.1 is missing: install libaio1 and libaio-dev (scripts/test-deps)"
        );
        path
    })
    .clone()
}

/// Runs a command, returning its output; panics if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command that must succeed.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a compiler or another build tool; on failure, returns the command
/// and what it printed.
pub fn build(cmd: &mut Command) -> Result<(), String> {
    let out = run(cmd);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `check` of every item, each on a thread of its own; a check that panics
/// counts as failed.
pub fn check_in_parallel<'a, T: Sync, R: Send>(
    items: impl IntoIterator<Item = &'a T>,
    check: impl Fn(&'a T) -> Result<R, String> + Sync,
) -> Vec<(&'a T, Result<R, String>)> {
    let check = &check;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| (item, scope.spawn(move || check(item))))
            .collect();
        handles
            .into_iter()
            .map(|(item, handle)| {
                (
                    item,
                    handle.join().unwrap_or_else(|_| Err("panicked".into())),
                )
            })
            .collect()
    })
}

/// A fresh directory for one test's build products, under cargo's
/// per-target scratch directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps the calling thread on one CPU while it lives: the kernel keeps
/// some of a context's free slots per CPU, so how many requests a full ring
/// takes can depend on which CPU submits.
pub struct Pinned(libc::cpu_set_t);

impl Pinned {
    /// To the CPU it runs on now.
    pub fn here() -> Pinned {
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        assert!(
            cpu >= 0,
            "sched_getcpu: {}",
            std::io::Error::last_os_error()
        );
        Pinned::to_cpu(cpu as usize)
    }

    pub fn to_cpu(cpu: usize) -> Pinned {
        // SAFETY: plain affinity calls on the calling thread with our sets.
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            assert_eq!(libc::sched_getaffinity(0, size, &mut old), 0);
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            assert_eq!(libc::sched_setaffinity(0, size, &one), 0);
            Pinned(old)
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: restores the set saved in to_cpu().
        unsafe { libc::sched_setaffinity(0, size, &self.0) };
    }
}

/// An address no process can use: in the kernel's half of the address space
/// on 64-bit targets (as libaio's own tests use), and on 32-bit ones the
/// last page of the 4 GiB, above the highest address a 32-bit process may
/// map. Where the kernel owns the upper half of the address space (x86_64,
/// aarch64, riscv64, loongarch64) the library declines to read through it
/// ([`library_reads_kernel_address`]); elsewhere (s390x's separate address
/// spaces, 32-bit processes, ...) it is an unmapped address like any other.
pub const KERNEL_ADDRESS: usize = if cfg!(target_pointer_width = "64") {
    0xffff_ffff_8100_0000_u64 as usize
} else {
    0xffff_f000
};

/// x32, where the reference is Debian's libaio source built for x32
/// (`tests/foreign.rs`), which passes negative counts to the kernel
/// zero-extended and io_pgetevents' signal-set pair with 32-bit words (README:
/// Architectures): where that shows, the tests expect it.
pub const X32: bool = cfg!(all(target_arch = "x86_64", target_pointer_width = "32"));

/// Whether our library reads through [`KERNEL_ADDRESS`], as libaio does,
/// rather than leaving it to the kernel.
pub fn library_reads_kernel_address() -> bool {
    aio_rs::plausible_user_address(KERNEL_ADDRESS)
}

/// Which of the two libraries a loaded `Aio` is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Which {
    /// libaio-rs, the library under test.
    Ours,
    /// The system's libaio 0.3.113.
    System,
}

type Setup = unsafe extern "C" fn(c_int, *mut io_context_t) -> c_int;
type Destroy = unsafe extern "C" fn(io_context_t) -> c_int;
type Submit = unsafe extern "C" fn(io_context_t, c_long, *mut *mut iocb) -> c_int;
type Cancel = unsafe extern "C" fn(io_context_t, *mut iocb, *mut io_event) -> c_int;
type Getevents =
    unsafe extern "C" fn(io_context_t, c_long, c_long, *mut io_event, *mut libc::timespec) -> c_int;
type Pgetevents = unsafe extern "C" fn(
    io_context_t,
    c_long,
    c_long,
    *mut io_event,
    *mut libc::timespec,
    *mut libc::sigset_t,
) -> c_int;
type Wait = unsafe extern "C" fn(io_context_t, *mut libc::timespec) -> c_int;
type Cancel01 = unsafe extern "C" fn(io_context_t, *mut iocb) -> c_int;
type Getevents01 =
    unsafe extern "C" fn(io_context_t, c_long, *mut io_event, *mut libc::timespec) -> c_int;

/// One libaio, loaded with dlopen, every exported function looked up by
/// name and version.
pub struct Aio {
    pub which: Which,
    pub path: PathBuf,
    pub io_setup: Setup,
    pub io_destroy: Destroy,
    pub io_submit: Submit,
    pub io_cancel: Cancel,
    pub io_getevents: Getevents,
    pub io_pgetevents: Pgetevents,
    pub io_queue_init: Setup,
    pub io_queue_release: Destroy,
    pub io_queue_run: Destroy,
    pub io_queue_wait: Wait,
    /// `io_cancel@LIBAIO_0.1`
    pub io_cancel_0_1: Cancel01,
    /// `io_getevents@LIBAIO_0.1`
    pub io_getevents_0_1: Getevents01,
    /// `io_queue_wait@LIBAIO_0.1`
    pub io_queue_wait_0_1: Wait,
}

// SAFETY: the struct holds plain code addresses and a path; the functions
// themselves are thread-safe, as libaio's are.
unsafe impl Sync for Aio {}
// SAFETY: as above.
unsafe impl Send for Aio {}

impl Aio {
    fn load(which: Which, path: PathBuf) -> Aio {
        let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: dlopen of a shared object by absolute path; RTLD_LOCAL keeps
        // the two libaio copies from resolving each other's symbols.
        let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(
            !handle.is_null(),
            "dlopen {}: {}",
            path.display(),
            dlerror()
        );
        let sym = |name: &str, version: &str| -> *mut c_void {
            let n = CString::new(name).unwrap();
            let v = CString::new(version).unwrap();
            // SAFETY: valid handle and C strings.
            let p = unsafe { dlvsym(handle, n.as_ptr(), v.as_ptr()) };
            assert!(!p.is_null(), "{}: no {name}@{version}", path.display());
            p
        };
        // SAFETY: each symbol is the function of that name and version, whose
        // C prototype the matching type spells.
        unsafe {
            Aio {
                which,
                io_setup: std::mem::transmute::<*mut c_void, Setup>(sym("io_setup", "LIBAIO_0.4")),
                io_destroy: std::mem::transmute::<*mut c_void, Destroy>(sym(
                    "io_destroy",
                    "LIBAIO_0.4",
                )),
                io_submit: std::mem::transmute::<*mut c_void, Submit>(sym(
                    "io_submit",
                    "LIBAIO_0.1",
                )),
                io_cancel: std::mem::transmute::<*mut c_void, Cancel>(sym(
                    "io_cancel",
                    "LIBAIO_0.4",
                )),
                io_getevents: std::mem::transmute::<*mut c_void, Getevents>(sym(
                    "io_getevents",
                    "LIBAIO_0.4",
                )),
                io_pgetevents: std::mem::transmute::<*mut c_void, Pgetevents>(sym(
                    "io_pgetevents",
                    "LIBAIO_0.5",
                )),
                io_queue_init: std::mem::transmute::<*mut c_void, Setup>(sym(
                    "io_queue_init",
                    "LIBAIO_0.1",
                )),
                io_queue_release: std::mem::transmute::<*mut c_void, Destroy>(sym(
                    "io_queue_release",
                    "LIBAIO_0.1",
                )),
                io_queue_run: std::mem::transmute::<*mut c_void, Destroy>(sym(
                    "io_queue_run",
                    "LIBAIO_0.1",
                )),
                io_queue_wait: std::mem::transmute::<*mut c_void, Wait>(sym(
                    "io_queue_wait",
                    "LIBAIO_0.4",
                )),
                io_cancel_0_1: std::mem::transmute::<*mut c_void, Cancel01>(sym(
                    "io_cancel",
                    "LIBAIO_0.1",
                )),
                io_getevents_0_1: std::mem::transmute::<*mut c_void, Getevents01>(sym(
                    "io_getevents",
                    "LIBAIO_0.1",
                )),
                io_queue_wait_0_1: std::mem::transmute::<*mut c_void, Wait>(sym(
                    "io_queue_wait",
                    "LIBAIO_0.1",
                )),
                path,
            }
        }
    }
}

unsafe extern "C" {
    /// glibc's dlsym by symbol version (in libc.so.6 since glibc 2.34).
    /// Declared here: the libc crate has it only from 0.2.176, and the
    /// crate's declared minimum is older (see Cargo.toml).
    fn dlvsym(
        handle: *mut c_void,
        symbol: *const std::ffi::c_char,
        version: *const std::ffi::c_char,
    ) -> *mut c_void;
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a C string valid until the next dl call.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// libaio-rs, loaded.
pub fn ours() -> &'static Aio {
    static LIB: OnceLock<Aio> = OnceLock::new();
    LIB.get_or_init(|| Aio::load(Which::Ours, our_lib()))
}

/// The system's libaio, loaded.
pub fn system() -> &'static Aio {
    static LIB: OnceLock<Aio> = OnceLock::new();
    LIB.get_or_init(|| Aio::load(Which::System, system_lib()))
}

/// Both libraries: a test runs its calls against each and compares.
pub fn both() -> [&'static Aio; 2] {
    [ours(), system()]
}

/// The calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: __errno_location is always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
pub fn set_errno(value: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value }
}

/// A sentinel errno value: calls must leave it as it is.
pub const ERRNO_SENTINEL: c_int = 1234;

/// Runs `f` with errno set to a sentinel and asserts that errno is unchanged
/// afterwards; returns `f`'s result.
pub fn keeps_errno<T>(what: &str, f: impl FnOnce() -> T) -> T {
    set_errno(ERRNO_SENTINEL);
    let result = f();
    assert_eq!(errno(), ERRNO_SENTINEL, "{what} changed errno");
    result
}

/// A context created with `lib.io_setup`, destroyed on drop.
pub struct Ctx<'a> {
    pub lib: &'a Aio,
    pub ctx: io_context_t,
}

// SAFETY: a context may be used from any thread; the kernel (and the
// library, for user-space reaping) serialises what needs it.
unsafe impl Sync for Ctx<'_> {}

impl<'a> Ctx<'a> {
    pub fn new(lib: &'a Aio, maxevents: c_int) -> Ctx<'a> {
        let mut ctx: io_context_t = std::ptr::null_mut();
        // SAFETY: ctx is ours to write.
        let ret = unsafe { (lib.io_setup)(maxevents, &mut ctx) };
        assert_eq!(ret, 0, "{:?}: io_setup({maxevents})", lib.which);
        Ctx { lib, ctx }
    }

    /// Submits the iocbs, asserting all were queued.
    pub fn submit(&self, iocbs: &mut [*mut iocb]) {
        // SAFETY: the iocbs and their buffers outlive their completion (the
        // callers reap before dropping them).
        let ret =
            unsafe { (self.lib.io_submit)(self.ctx, iocbs.len() as c_long, iocbs.as_mut_ptr()) };
        assert_eq!(ret, iocbs.len() as c_int, "{:?}: io_submit", self.lib.which);
    }

    /// Waits for exactly `n` completions.
    pub fn reap(&self, n: usize) -> Vec<io_event> {
        let mut events = vec![zeroed_event(); n];
        let mut got = 0;
        while got < n {
            let mut timeout = libc::timespec {
                tv_sec: 10,
                tv_nsec: 0,
            };
            // SAFETY: room for n - got events.
            let ret = unsafe {
                (self.lib.io_getevents)(
                    self.ctx,
                    1,
                    (n - got) as c_long,
                    events[got..].as_mut_ptr(),
                    &mut timeout,
                )
            };
            assert!(ret > 0, "{:?}: io_getevents returned {ret}", self.lib.which);
            got += ret as usize;
        }
        events
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        if !self.ctx.is_null() {
            // SAFETY: destroys the context we created.
            unsafe { (self.lib.io_destroy)(self.ctx) };
        }
    }
}

/// An all-zero event.
pub fn zeroed_event() -> io_event {
    // SAFETY: io_event is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// An all-zero iocb.
pub fn zeroed_iocb() -> iocb {
    // SAFETY: iocb is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// An iocb for a read or write of `buf` at `offset` of `fd`, as
/// io_prep_pread/io_prep_pwrite make it.
pub fn rw_iocb(opcode: aio_rs::abi::io_iocb_cmd, fd: c_int, buf: &mut [u8], offset: i64) -> iocb {
    let mut io = zeroed_iocb();
    io.aio_fildes = fd;
    io.aio_lio_opcode = opcode as i16;
    io.u.c = aio_rs::abi::io_iocb_common {
        buf: buf.as_mut_ptr().cast(),
        nbytes: buf.len() as _,
        offset,
        ..unsafe_zeroed()
    };
    io
}

fn unsafe_zeroed<T: Copy>() -> T {
    // SAFETY: only used for the plain-data ABI structs.
    unsafe { std::mem::zeroed() }
}

/// A buffer aligned for O_DIRECT.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

impl AlignedBuf {
    pub fn new(len: usize, fill: u8) -> AlignedBuf {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        // SAFETY: ptr is valid for len bytes.
        unsafe { ptr.write_bytes(fill, len) };
        AlignedBuf { ptr, len }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: allocated and initialised for len bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we own it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, 4096).unwrap();
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) };
    }
}

/// Where a scratch file lives: tmpfs or the root file system's disk.
#[derive(Clone, Copy, Debug)]
pub enum Fs {
    /// `/dev/shm` (tmpfs; O_DIRECT works on it).
    Shm,
    /// `std::env::temp_dir()`, on disk.
    Disk,
}

/// A file opened with O_DIRECT, already unlinked (`path` names where it was
/// created), closed on drop.
pub struct ScratchFile {
    pub path: PathBuf,
    pub fd: c_int,
}

impl ScratchFile {
    /// Creates a file of `len` bytes (zeros) on `fs`, opened read-write with
    /// O_DIRECT and `extra_flags`.
    pub fn new(fs: Fs, tag: &str, len: u64, extra_flags: c_int) -> ScratchFile {
        let dir = match fs {
            Fs::Shm => PathBuf::from("/dev/shm"),
            Fs::Disk => std::env::temp_dir(),
        };
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("libaio-rs-test-{}-{tag}-{n}", std::process::id()));
        let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid C string.
        let fd = unsafe {
            libc::open(
                cpath.as_ptr(),
                libc::O_RDWR
                    | libc::O_CREAT
                    | libc::O_TRUNC
                    | libc::O_DIRECT
                    | libc::O_CLOEXEC
                    | extra_flags,
                0o600,
            )
        };
        assert!(
            fd >= 0,
            "open {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is open.
        assert_eq!(unsafe { libc::ftruncate(fd, len as libc::off_t) }, 0);
        // Unlinked at once: nothing is left behind even if the test dies.
        std::fs::remove_file(&path).unwrap();
        ScratchFile { path, fd }
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        // SAFETY: fd is open and ours.
        unsafe { libc::close(self.fd) };
    }
}

/// A pipe; `flags` (`O_NONBLOCK`, or 0) apply to both ends.
pub struct Pipe {
    pub read: c_int,
    pub write: c_int,
}

impl Pipe {
    pub fn new(flags: c_int) -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: fds has room for two descriptors.
        let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | flags) };
        assert_eq!(ret, 0);
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    /// Writes `bytes` into the pipe.
    pub fn put(&self, bytes: &[u8]) {
        // SAFETY: writing from our buffer to our descriptor.
        let n = unsafe { libc::write(self.write, bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize);
    }

    /// Makes the read end readable.
    pub fn ring(&self) {
        self.put(b"!");
    }

    /// Empties a non-blocking pipe.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into our buffer from our non-blocking descriptor.
        while unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }

    pub fn close_write_end(&mut self) {
        // SAFETY: our descriptor, closed once.
        unsafe { libc::close(self.write) };
        self.write = -1;
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        for fd in [self.read, self.write] {
            if fd >= 0 {
                // SAFETY: our descriptors.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// The address of a context that was created and destroyed, kept reserved
/// (an inaccessible page is mapped there) so that no other thread's new
/// context can take it while a test uses the stale handle. Reading through
/// it faults.
pub struct StaleHandle(pub io_context_t);

impl StaleHandle {
    /// A handle to a context `lib` created and destroyed.
    pub fn new(lib: &Aio) -> StaleHandle {
        loop {
            let ctx = Ctx::new(lib, 4);
            let raw = ctx.ctx;
            drop(ctx);
            // SAFETY: maps a fresh inaccessible page at an address nothing
            // else uses, or fails if another thread's ring got there first.
            let page = unsafe {
                libc::mmap(
                    raw.cast(),
                    4096,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if page == raw.cast() {
                return StaleHandle(raw);
            }
            if page != libc::MAP_FAILED {
                // An old kernel placed it elsewhere: give it back.
                // SAFETY: the mapping just made.
                unsafe { libc::munmap(page, 4096) };
            }
        }
    }
}

impl Drop for StaleHandle {
    fn drop(&mut self) {
        // SAFETY: the page mapped in new().
        unsafe { libc::munmap(self.0.cast(), 4096) };
    }
}

// ------------------------------------------------ observing system calls

/// Observing whether the library makes the io_getevents/io_pgetevents
/// system calls, with a seccomp filter on one thread: it makes those two
/// calls fail with an error the kernel never gives for them (EHWPOISON)
/// instead of reaching the kernel.
/// The error the filter substitutes for the system calls.
pub const FILTERED: c_int = -libc::EHWPOISON;

/// Runs `f` on a new thread whose io_getevents and io_pgetevents calls fail
/// with EHWPOISON without reaching the kernel.
pub fn without_reaping_calls<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                install_filter(&reaping_calls());
                f()
            })
            .join()
            .unwrap()
    })
}

/// The system call numbers of io_getevents and io_pgetevents here, as the
/// library makes them.
pub fn reaping_calls() -> Vec<c_long> {
    use aio_rs::syscall_numbers::{IO_GETEVENTS, IO_PGETEVENTS};
    std::iter::once(IO_GETEVENTS).chain(IO_PGETEVENTS).collect()
}

/// `AUDIT_ARCH_*` of this target (linux/audit.h), which a seccomp filter sees
/// in `seccomp_data.arch`. x32 is `AUDIT_ARCH_X86_64`: its system call
/// numbers carry the x32 bit instead.
const AUDIT_ARCH: u32 = if cfg!(target_arch = "x86_64") {
    0xc000_003e
} else if cfg!(target_arch = "x86") {
    0x4000_0003
} else if cfg!(target_arch = "aarch64") {
    0xc000_00b7
} else if cfg!(all(target_arch = "arm", target_endian = "little")) {
    0x4000_0028
} else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
    0xc000_0015
} else if cfg!(target_arch = "powerpc64") {
    0x8000_0015
} else if cfg!(target_arch = "powerpc") {
    0x0000_0014
} else if cfg!(target_arch = "s390x") {
    0x8000_0016
} else if cfg!(target_arch = "riscv64") {
    0xc000_00f3
} else if cfg!(target_arch = "loongarch64") {
    0xc000_0102
} else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
    0xc000_0008
} else if cfg!(target_arch = "sparc64") {
    0x8000_002b
} else if cfg!(target_arch = "m68k") {
    0x0000_0004
} else {
    panic!("AUDIT_ARCH of this architecture: add it to tests/common/mod.rs")
};

fn install_filter(syscalls: &[c_long]) {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let n = syscalls.len() as u8;
    let mut program = vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(AUDIT_ARCH, 0, n + 1),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
    ];
    for (i, &nr) in syscalls.iter().enumerate() {
        // Match: jump to the errno return, past the remaining tests and
        // the allow.
        program.push(jump(nr as u32, n - i as u8, 0));
    }
    program.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    program.push(stmt(
        RET_K,
        libc::SECCOMP_RET_ERRNO | libc::EHWPOISON as u32,
    ));
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: both prctl calls only affect the calling thread; the program
    // is well-formed (every jump lands inside it) and outlives the call.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A time limit past which something counts as hung, stretched by the
/// factor in `LIBAIO_RS_SLOWDOWN` (set where the tests run emulated, in the
/// guests of `tests/foreign.rs`). Never a measurement: a bound on a hang.
pub fn hang_limit(limit: Duration) -> Duration {
    let factor = std::env::var("LIBAIO_RS_SLOWDOWN")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1);
    limit * factor.max(1)
}

/// What a program that ran to its end printed.
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The status and both outputs, for a failure message.
    pub fn report(&self) -> String {
        format!(
            "{}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with no input and its output in files under `dir` named after
/// `label` (kept for a look after a failure), in a process group of its own
/// that is killed past `limit`: a bug can show up as a hang, and the program
/// may have started others (strace, valgrind, forked children).
pub fn run_to_files(
    cmd: &mut Command,
    dir: &Path,
    label: &str,
    limit: Duration,
) -> Result<Finished, String> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let stdout_path = dir.join(format!("{label}.stdout"));
    let stderr_path = dir.join(format!("{label}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let group = child.id() as libc::pid_t;
            // SAFETY: kill(2) of the process group the child leads (it was
            // started with process_group(0)): the child and what it started.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            return Err(format!("{cmd:?} did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Finished {
        status,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    })
}

/// Runs a command, killing it (and failing) past `limit`: a bug can show up
/// as a hang. Its output is read meanwhile, so a chatty child cannot block.
pub fn run_with_time_limit(cmd: &mut Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Read the pipes meanwhile, so a chatty child cannot block on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).unwrap();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            println!("(killed after {limit:?})");
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Downloads a package from Debian's archive once, with apt-get and a
/// private configuration (its own sources, lists and cache under
/// target/debian-packages/; nothing is installed and the system's apt
/// configuration is not touched), extracts it, and returns the directory it
/// was extracted into.
pub fn debian_archive_package(dist: &str, arch: &str, package: &str, version: &str) -> PathBuf {
    let dir = root()
        .join("target/debian-packages")
        .join(format!("{dist}-{arch}-{package}"));
    let extracted = dir.join("root");
    let done = dir.join("extracted");
    if done.exists() {
        return extracted;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let debs = Apt::new(
        &dir,
        arch,
        &[format!(
            "deb [arch={arch}] http://deb.debian.org/debian {dist} main"
        )],
    )
    .download(&[format!("{package}:{arch}={version}")]);
    run_ok(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&debs[0])
            .arg(&extracted),
    );
    std::fs::write(&done, "").unwrap();
    extracted
}

/// Installs the Rust target's standard library with rustup when the
/// toolchain lacks it.
pub fn ensure_rust_target(target: &str) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = run_ok(Command::new(&rustc).args(["--print", "sysroot"]));
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let libdir = sysroot.join("lib/rustlib").join(target).join("lib");
    if libdir.is_dir() {
        return;
    }
    // Test binaries run side by side (tests/foreign.rs beside the others),
    // and two `rustup target add` of one target at once fail on each
    // other's files: one at a time, each looking again under the lock.
    let locks = root().join("target");
    std::fs::create_dir_all(&locks).unwrap();
    let out = Command::new("flock")
        .arg(locks.join("rustup-target-add.lock"))
        .args([
            "sh",
            "-c",
            r#"[ -d "$1" ] || exec rustup target add "$2""#,
            "sh",
        ])
        .arg(&libdir)
        .arg(target)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the Rust target {target} is not installed, and rustup cannot be run ({e}): \
                 install the target's standard library"
            )
        });
    assert!(
        out.status.success() && libdir.is_dir(),
        "`rustup target add {target}` failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a nightly toolchain with the standard library's source is there,
/// for the targets that rustup ships no standard library for
/// (`-Zbuild-std`).
pub fn nightly_available() -> bool {
    Command::new("rustc")
        .args(["+nightly", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .is_some_and(|out| {
            let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            sysroot.join("lib/rustlib/src/rust/library/std").is_dir()
        })
}

/// A command with the environment of a nested build: not a sub-make or
/// sub-cargo of whatever runs the tests.
pub fn clean_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The C toolchain the Makefile cross-builds with: its `CC`, `LD`,
/// `OBJCOPY` and `AR`.
pub struct CrossTools {
    pub cc: String,
    pub ld: String,
    pub objcopy: String,
    pub ar: String,
}

impl CrossTools {
    /// Debian's cross toolchain `<gnu>-gcc`, `<gnu>-ld`, ...
    pub fn gnu(gnu: &str) -> CrossTools {
        CrossTools {
            cc: format!("{gnu}-gcc"),
            ld: format!("{gnu}-ld"),
            objcopy: format!("{gnu}-objcopy"),
            ar: format!("{gnu}-ar"),
        }
    }
}

/// Cross-builds the library with the Makefile for the Rust target
/// `rust_target` with `tools` (nightly `-Zbuild-std=core` where rustup has
/// no standard library for the target), into `target/foreign/<name>/build/`;
/// returns its `lib` directory. Cargo's files go to `target/foreign/cargo/`.
/// (Cargo serialises its own builds; `flock` serialises the Makefile's.)
pub fn cross_build(name: &str, rust_target: &str, tools: &CrossTools, build_std: bool) -> PathBuf {
    if !build_std {
        ensure_rust_target(rust_target);
    }
    let base = root().join("target/foreign").join(name);
    std::fs::create_dir_all(&base).unwrap();
    // tests/architectures.rs and tests/foreign.rs build the same libraries,
    // maybe at once: one make at a time for each (the second finds it built).
    let mut make = clean_command("flock");
    make.arg(base.join("build.lock"))
        .arg("make")
        .arg("-C")
        .arg(root())
        .arg("-s")
        .arg(format!("RUST_TARGET={rust_target}"))
        .arg(format!("CC={}", tools.cc))
        .arg(format!("LD={}", tools.ld))
        .arg(format!("OBJCOPY={}", tools.objcopy))
        .arg(format!("AR={}", tools.ar))
        .arg(format!("BUILD={}", base.join("build").display()))
        .arg(format!(
            "CARGO_TARGET_DIR={}",
            root().join("target/foreign/cargo").display()
        ));
    if build_std {
        make.arg("CARGO=cargo +nightly")
            .arg("CARGO_FLAGS=-Zbuild-std=core");
    }
    run_ok(make.arg("lib"));
    base.join("build/lib")
}

/// Debian's libaio.so.1.0.2 built from Debian's own source package
/// (bookworm's 0.3.113-4, every Debian patch applied, among them its x32
/// support) with the C compiler `cc`, by its own Makefile: the reference for
/// an architecture whose Debian build cannot be fetched here (x32 is a ports
/// architecture). Built once; returns the directory holding the library.
pub fn debian_libaio_from_source(name: &str, cc: &str) -> PathBuf {
    let dir = root()
        .join("target/debian-packages")
        .join(format!("source-libaio-{name}"));
    let lib = dir.join("lib");
    if dir.join("built").exists() {
        return lib;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let apt = Apt::new(
        &dir.join("apt"),
        "amd64",
        &["deb-src http://deb.debian.org/debian bookworm main".into()],
    );
    apt.source("libaio=0.3.113-4");
    let src = dir.join("apt/libaio-0.3.113/src");
    run_ok(
        Command::new("make")
            .arg("-C")
            .arg(&src)
            .arg(format!("CC={cc}"))
            .arg("libaio.so.1.0.2")
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL"),
    );
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(src.join("libaio.so.1.0.2"), lib.join("libaio.so.1.0.2")).unwrap();
    std::os::unix::fs::symlink("libaio.so.1.0.2", lib.join("libaio.so.1")).unwrap();
    drop(apt);
    let _ = std::fs::remove_dir_all(dir.join("apt"));
    std::fs::write(dir.join("built"), "").unwrap();
    lib
}

/// apt-get with a private configuration, for Debian packages of one
/// architecture: its sources.list, lists and cache live in its directory
/// (the lists and cache are removed when it is dropped); nothing is
/// installed, and the system's apt configuration and state are not touched.
pub struct Apt {
    dir: PathBuf,
    arch: String,
}

impl Apt {
    /// Sets up `dir` with these sources.list lines and reads the lists.
    pub fn new(dir: &Path, arch: &str, sources: &[String]) -> Apt {
        std::fs::create_dir_all(dir.join("lists/partial")).unwrap();
        std::fs::create_dir_all(dir.join("cache/archives/partial")).unwrap();
        std::fs::write(dir.join("sources.list"), sources.join("\n") + "\n").unwrap();
        let apt = Apt {
            dir: dir.to_owned(),
            arch: arch.to_owned(),
        };
        apt.run("apt-get", &["update"]);
        apt
    }

    fn run(&self, tool: &str, args: &[&str]) -> String {
        let dir = &self.dir;
        let arch = &self.arch;
        let mut cmd = Command::new(tool);
        cmd.current_dir(dir)
            .arg(format!(
                "-o=Dir::Etc::SourceList={}",
                dir.join("sources.list").display()
            ))
            .arg("-o=Dir::Etc::SourceParts=-")
            .arg(format!(
                "-o=Dir::State::Lists={}",
                dir.join("lists").display()
            ))
            .arg("-o=Dir::State::status=/dev/null")
            .arg(format!("-o=Dir::Cache={}", dir.join("cache").display()))
            .arg("-o=APT::Sandbox::User=root")
            .arg(format!("-o=APT::Architecture={arch}"))
            .arg(format!("-o=APT::Architectures::={arch}"))
            .arg("-o=Acquire::Languages=none")
            .arg("-o=Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false")
            .arg("-qq")
            .args(args);
        String::from_utf8_lossy(&run_ok(&mut cmd).stdout).into_owned()
    }

    /// Fetches and unpacks a source package (`name=version`) into the
    /// directory, Debian's patches applied (sources.list needs `deb-src`).
    pub fn source(&self, package: &str) {
        self.run("apt-get", &["source", package]);
    }

    /// `packages` with everything they depend on, as apt would install them
    /// on an empty system: the package names.
    pub fn closure(&self, packages: &[&str]) -> Vec<String> {
        self.run(
            "apt-get",
            &[
                &["install", "--print-uris", "--no-install-recommends"],
                packages,
            ]
            .concat(),
        )
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter_map(|file| file.split('_').next())
        .map(str::to_owned)
        .collect()
    }

    /// The packages `package` of `suite` depends on (first alternatives).
    pub fn depends(&self, package: &str, suite: &str) -> Vec<String> {
        self.run(
            "apt-cache",
            &[
                &format!("-o=APT::Default-Release={suite}"),
                "depends",
                package,
            ],
        )
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Depends: "))
        .map(str::to_owned)
        .collect()
    }

    /// Downloads `packages` (`name`, `name=version` or `name/suite`) into
    /// the directory; returns the files, in the order asked for.
    pub fn download(&self, packages: &[String]) -> Vec<PathBuf> {
        let before = debs_in(&self.dir);
        let names: Vec<&str> = packages.iter().map(String::as_str).collect();
        self.run("apt-get", &[&["download"], names.as_slice()].concat());
        let new: Vec<PathBuf> = debs_in(&self.dir).difference(&before).cloned().collect();
        packages
            .iter()
            .map(|wanted| {
                let name = wanted.split([':', '/', '=']).next().unwrap();
                let prefix = format!("{name}_");
                new.iter()
                    .find(|deb| {
                        deb.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with(&prefix)
                    })
                    .unwrap_or_else(|| {
                        panic!("apt-get download gave no {name} in {}", self.dir.display())
                    })
                    .clone()
            })
            .collect()
    }
}

impl Drop for Apt {
    fn drop(&mut self) {
        // The package lists were only needed for the downloads.
        let _ = std::fs::remove_dir_all(self.dir.join("lists"));
        let _ = std::fs::remove_dir_all(self.dir.join("cache"));
    }
}

fn debs_in(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect()
}

// ------------------------------------------- the io_uring backend (issue 13)

/// Whether the tests run with `LIBAIO_BACKEND=io_uring` (the second pass of
/// `make check`, `scripts/check-io-uring`): the library under test then
/// serves every context it creates with io_uring, and its handles are not
/// kernel rings (README.md, "The io_uring backend").
pub fn io_uring_backend() -> bool {
    std::env::var_os("LIBAIO_BACKEND").is_some_and(|v| v == "io_uring")
}

/// [`without_reaping_calls`], with io_uring_enter(2) filtered too: the
/// system call in which the io_uring backend waits for completions.
pub fn without_waiting_calls<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let mut calls = reaping_calls();
    calls.push(aio_rs::syscall_numbers::IO_URING_ENTER);
    with_calls_filtered(&calls, f)
}

/// Runs `f` on a new thread whose calls of `syscalls` fail with EHWPOISON
/// without reaching the kernel, as a seccomp profile refuses them.
pub fn with_calls_filtered<T: Send>(syscalls: &[c_long], f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                install_filter(syscalls);
                f()
            })
            .join()
            .unwrap()
    })
}
