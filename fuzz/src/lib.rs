//! The fuzz harness of libaio-rs: each input is a sequence of calls of the
//! exported functions (`io_setup` ... `io_queue_wait`, and the three
//! `LIBAIO_0.1` compat implementations) with arguments taken from the input.
//!
//! The arguments stay within what the library's contract allows (README,
//! "What the library trusts"); inside it everything is fair game:
//!
//! - contexts: live ones, destroyed ones whose address is kept reserved (an
//!   inaccessible page is mapped there, so no new ring can take it), and
//!   bogus handles: NULL, a small number, unmapped, kernel and read-only
//!   addresses, a page that looks like an empty ring but is none, an address
//!   inside a live ring, any number from the input;
//! - pointers the kernel checks (iocb arrays, iocbs, events, results,
//!   timeouts, signal masks, `ctxp`): valid memory of the stated size, or
//!   NULL, unmapped, kernel or read-only addresses. Never a pointer the
//!   library itself must read or write: a live context's timeout is always
//!   readable, and with user-space reaping a live context's events array
//!   always has room for `nr` events;
//! - iocbs with any opcode, flags, priority and reserved fields, on the
//!   harness's own descriptors (O_DIRECT and buffered files in /dev/shm, a
//!   read-only one, non-blocking pipe ends and eventfd, /dev/null, /dev/zero,
//!   a directory) or bad ones, with buffers and iovecs inside the harness's
//!   own memory or bad addresses, at any offset; `data` is NULL or the
//!   harness's callback, never garbage (io_queue_run calls it);
//! - counts and timeouts: anything, except that a call that could wait on a
//!   live context gets a timeout of at most 100 µs, so nothing hangs.
//!
//! What is checked after every call: the result is >= 0 or a negated errno
//! (1 to 4095), `errno` is unchanged; calls on anything but a live context
//! fail with the kernel's `EINVAL` (or `EFAULT` for a bad pointer the kernel
//! reads first), proving the library did not read through the handle;
//! counts are within what was asked; every completion (event or callback)
//! is of an iocb submitted on that context and not yet reaped; and, with
//! kernel reaping, when a zero-timeout call answers 0 the ring is really
//! empty (a raw io_getevents system call finds nothing), unless a request
//! that completes asynchronously is in flight.
//!
//! State is bounded: at most [`MAX_LIVE`] contexts and [`MAX_STALE`] reserved
//! handles, all destroyed or released when the input ends, when the files are
//! also truncated and the pipe drained.
//!
//! io_destroy takes tens of milliseconds (the kernel waits for an RCU grace
//! period), far longer than the rest of an input. So the contexts still live
//! at the end of an input, and 15 in 16 of those an input destroys, are
//! handed to [`CLOSERS`] background threads (through a queue of
//! [`CLOSE_QUEUE`]), which destroy them, checking the result, while the
//! fuzzing thread goes on: their waits overlap. The harness never passes the
//! library a handle whose destruction is under way (a random handle that
//! happens to be one becomes NULL): that would be a use after free. The
//! other destroyed contexts are destroyed there and then, and their
//! addresses kept reserved for the rest of the input, as stale handles.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CString, c_int, c_long, c_void};
use std::ptr;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use aio_rs::abi::{io_event, iocb};
use libfuzzer_sys::arbitrary::Unstructured;

/// A context handle, as the C functions take it (`io_context_t` is a
/// pointer to an opaque struct; declared here as `void *`, the same in the
/// ABI, because that struct is not `#[repr(C)]`, which the improper_ctypes
/// lint reports).
type Ctx = *mut c_void;

unsafe extern "C" {
    // The library's exported functions, resolved against the linked crate
    // (they are #[no_mangle] there).
    fn io_setup(maxevents: c_int, ctxp: *mut Ctx) -> c_int;
    fn io_destroy(ctx: Ctx) -> c_int;
    fn io_submit(ctx: Ctx, nr: c_long, iocbs: *mut *mut iocb) -> c_int;
    fn io_cancel(ctx: Ctx, iocb: *mut iocb, result: *mut io_event) -> c_int;
    fn io_getevents(
        ctx: Ctx,
        min_nr: c_long,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
    ) -> c_int;
    fn io_pgetevents(
        ctx: Ctx,
        min_nr: c_long,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
        sigmask: *mut libc::sigset_t,
    ) -> c_int;
    fn io_queue_init(maxevents: c_int, ctxp: *mut Ctx) -> c_int;
    fn io_queue_release(ctx: Ctx) -> c_int;
    fn io_queue_run(ctx: Ctx) -> c_int;
    fn io_queue_wait(ctx: Ctx, timeout: *mut libc::timespec) -> c_int;
    fn __libaio_io_cancel_0_1(ctx: Ctx, iocb: *mut iocb) -> c_int;
    fn __libaio_io_getevents_0_1(
        ctx: Ctx,
        nr: c_long,
        events: *mut io_event,
        timeout: *mut libc::timespec,
    ) -> c_int;
    fn __libaio_io_queue_wait_0_1(ctx: Ctx, timeout: *mut libc::timespec) -> c_int;
}

/// Live contexts at once, per input.
pub const MAX_LIVE: usize = 4;
/// Destroyed contexts whose address is kept reserved, per input.
pub const MAX_STALE: usize = 4;
/// Calls per input.
const MAX_CALLS: usize = 96;
/// The largest ring a successful io_setup may ask for. The kernel counts
/// the requested size against the system's aio-max-nr (65536 by default),
/// shared with every other program: the live contexts and those waiting to
/// be destroyed ([`MAX_LIVE`] + [`CLOSE_QUEUE`] + [`CLOSERS`]) hold at most
/// 68 * 128 per fuzzing process.
const MAX_EVENTS_OK: i32 = 128;
/// Threads destroying contexts in the background: each io_destroy sleeps
/// for a grace period, and an input may leave [`MAX_LIVE`] contexts behind.
const CLOSERS: usize = 48;
/// Contexts waiting for a closer; more make the fuzzing thread wait.
const CLOSE_QUEUE: usize = 16;

const PAGE: usize = 4096;
/// The buffers requests read into and write from.
const BUF_BYTES: usize = 16 * 65536;
/// iocbs the harness submits.
const IOCBS: usize = 32;
/// Entries of an io_submit array.
const ARRAY: usize = 16;
/// Room in an events array.
const EVENTS: usize = 64;
/// Entries of an iovec array.
const IOVECS: usize = 16;
/// Size the scratch files are truncated back to after each input.
const FILE_BYTES: i64 = 1 << 20;

/// An address in the kernel's half: never user memory.
const KERNEL_ADDRESS: usize = 0xffff_ffff_8100_0000;

const SENTINEL_ERRNO: c_int = 0x5eed;

/// The kernel's `struct iocb` (x86-64 and other little-endian 64-bit
/// targets), which the harness fills field by field.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
struct RawIocb {
    data: u64,
    key: u32,
    rw_flags: u32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}

const _: () = assert!(std::mem::size_of::<RawIocb>() == std::mem::size_of::<iocb>());
const _: () = assert!(std::mem::size_of::<io_event>() == 32);

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_POLL: u16 = 5;
const IOCB_CMD_NOOP: u16 = 6;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;

/// What the kernel keeps in the first bytes of a ring; the fake ring has it.
const AIO_RING_MAGIC: u32 = 0xa10a_10a1;

/// Memory and descriptors made once per process and shared by all inputs.
/// Addresses are kept as numbers: the memory is mapped for the life of the
/// process and only ever reached through the raw pointers made from them.
struct Fixture {
    /// Kernel reaping (false) or the library's user-space reaping (true).
    user_reap: bool,
    /// An inaccessible page.
    guard: usize,
    /// A read-only page of zeros.
    readonly: usize,
    /// A writable page holding a ring header (magic, head == tail) that no
    /// io_setup made: the library must never take it for a ring.
    fake_ring: usize,
    /// [`BUF_BYTES`] of buffers.
    buffers: usize,
    /// [`IOCBS`] iocbs.
    iocbs: usize,
    /// The io_submit array: [`ARRAY`] pointers.
    array: usize,
    /// [`EVENTS`] events.
    events: usize,
    /// [`IOVECS`] iovecs.
    iovecs: usize,
    /// Descriptors requests may name (none of 0, 1, 2).
    fds: Vec<c_int>,
    /// The files truncated after each input.
    files: Vec<c_int>,
    pipe_read: c_int,
    eventfd: c_int,
}

/// Maps `pages` fresh pages with `prot`.
fn map(pages: usize, prot: c_int) -> usize {
    // SAFETY: a new anonymous mapping; nothing else is affected.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            pages * PAGE,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap failed");
    p as usize
}

/// Opens `path` with `flags`, panicking on failure.
fn open(path: &str, flags: c_int) -> c_int {
    let c = CString::new(path).unwrap();
    // SAFETY: a valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    assert!(fd > 2, "open {path}: {}", std::io::Error::last_os_error());
    fd
}

impl Fixture {
    fn new() -> Fixture {
        let user_reap = std::env::var("LIBAIO_USERSPACE_REAP").as_deref() == Ok("1");
        let guard = map(1, libc::PROT_NONE);
        let readonly = map(1, libc::PROT_READ);
        let fake_ring = map(1, libc::PROT_READ | libc::PROT_WRITE);
        let header: [u32; 8] = [0, 127, 5, 5, AIO_RING_MAGIC, 1, 0, 32];
        // SAFETY: the page is ours and writable; 32 bytes fit.
        unsafe { ptr::copy_nonoverlapping(header.as_ptr(), fake_ring as *mut u32, 8) };
        let buffers = map(BUF_BYTES / PAGE, libc::PROT_READ | libc::PROT_WRITE);
        let iocbs = map(1, libc::PROT_READ | libc::PROT_WRITE);
        let array = map(1, libc::PROT_READ | libc::PROT_WRITE);
        let events = map(1, libc::PROT_READ | libc::PROT_WRITE);
        let iovecs = map(1, libc::PROT_READ | libc::PROT_WRITE);
        const _: () = assert!(IOCBS * 64 <= PAGE && ARRAY * 8 <= PAGE);
        const _: () = assert!(EVENTS * 32 <= PAGE && IOVECS * 16 <= PAGE);

        let base = format!("/dev/shm/libaio-rs-fuzz-{}", std::process::id());
        let rw = libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC;
        let direct = open(&format!("{base}-direct"), rw | libc::O_DIRECT);
        let buffered = open(&format!("{base}-buffered"), rw);
        let read_only = open(&format!("{base}-buffered"), libc::O_RDONLY);
        for suffix in ["direct", "buffered"] {
            let _ = std::fs::remove_file(format!("{base}-{suffix}"));
        }
        let mut pipe = [0; 2];
        // SAFETY: room for two descriptors.
        let ret = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(ret, 0, "pipe2");
        // SAFETY: no pointers.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(eventfd > 2, "eventfd");
        let null = open("/dev/null", libc::O_RDWR);
        let zero = open("/dev/zero", libc::O_RDONLY);
        let dir = open("/dev/shm", libc::O_RDONLY | libc::O_DIRECTORY);
        let files = vec![direct, buffered];
        for &fd in &files {
            // SAFETY: an open descriptor.
            assert_eq!(unsafe { libc::ftruncate(fd, FILE_BYTES) }, 0);
        }
        Fixture {
            user_reap,
            guard,
            readonly,
            fake_ring,
            buffers,
            iocbs,
            array,
            events,
            iovecs,
            fds: vec![
                direct, buffered, read_only, pipe[0], pipe[1], eventfd, null, zero, dir,
            ],
            files,
            pipe_read: pipe[0],
            eventfd,
        }
    }

    fn iocb(&self, index: usize) -> *mut RawIocb {
        (self.iocbs as *mut RawIocb).wrapping_add(index % IOCBS)
    }

    /// Whether `addr` is one of the harness's iocbs.
    fn is_pool_iocb(&self, addr: usize) -> bool {
        addr >= self.iocbs
            && addr < self.iocbs + IOCBS * 64
            && (addr - self.iocbs).is_multiple_of(64)
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

/// For the `calls_user_reap` target: sets `LIBAIO_USERSPACE_REAP=1` before
/// the library reads it (it does so once, at its first reap).
pub fn enable_user_space_reaping() {
    // SAFETY: called from LLVMFuzzerInitialize, before libFuzzer starts any
    // thread and before any call into the library: nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var("LIBAIO_USERSPACE_REAP", "1") };
}

thread_local! {
    /// (context, iocb) of each callback io_queue_run made.
    static CALLBACKS: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

/// The callback the harness puts in iocbs' `data`.
unsafe extern "C" fn on_completion(ctx: Ctx, obj: *mut iocb, res: c_long, res2: c_long) {
    if tracing() {
        eprintln!("  callback({ctx:?}, {obj:?}, {res}, {res2})");
    }
    CALLBACKS.with(|calls| calls.borrow_mut().push((ctx as usize, obj as usize)));
}

fn callback_address() -> u64 {
    let f: unsafe extern "C" fn(Ctx, *mut iocb, c_long, c_long) = on_completion;
    f as usize as u64
}

fn errno() -> c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value }
}

/// Whether to print every call (`LIBAIO_RS_FUZZ_TRACE=1`), e.g. when
/// replaying a crash: `LIBAIO_RS_FUZZ_TRACE=1 cargo +nightly fuzz run calls ARTIFACT`.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("LIBAIO_RS_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// Makes one library call: errno must survive it, and the result must be
/// non-negative or a negated errno.
fn call(what: &str, args: std::fmt::Arguments<'_>, f: impl FnOnce() -> c_int) -> c_int {
    // One line per call, written at once: the closers trace too.
    let traced = tracing().then(|| format!("{what}({args})"));
    set_errno(SENTINEL_ERRNO);
    let ret = f();
    let after = errno();
    if let Some(call) = traced {
        eprintln!("{call} = {ret}");
    }
    assert_eq!(after, SENTINEL_ERRNO, "{what} changed errno");
    assert!(
        ret >= 0 || (1..=4095).contains(&-(ret as i64)),
        "{what} returned {ret}, neither a count nor a negated errno"
    );
    ret
}

fn assert_in(what: &str, ret: c_int, allowed: &[c_int]) {
    assert!(
        allowed.iter().any(|&e| ret == -e),
        "{what} returned {ret}, expected one of {:?} (negated)",
        allowed
    );
}

/// The background threads destroying contexts the fuzzing thread is done
/// with: those an input left live, and most of those it destroys.
struct Closer {
    /// (context, whether with io_queue_release rather than io_destroy).
    queue: SyncSender<(usize, bool)>,
    /// Handed over, not yet destroyed: how many times each address is (a
    /// new ring may get the address of one whose io_destroy is returning).
    pending: Mutex<HashMap<usize, u32>>,
}

fn closer() -> &'static Closer {
    static CLOSER: OnceLock<Closer> = OnceLock::new();
    CLOSER.get_or_init(|| {
        let (queue, rx) = sync_channel::<(usize, bool)>(CLOSE_QUEUE);
        let rx: Arc<Mutex<Receiver<(usize, bool)>>> = Arc::new(Mutex::new(rx));
        for _ in 0..CLOSERS {
            let rx = Arc::clone(&rx);
            std::thread::spawn(move || {
                loop {
                    let next = rx.lock().unwrap().recv();
                    let Ok((ctx, release)) = next else { return };
                    let what = if release {
                        "io_queue_release"
                    } else {
                        "io_destroy"
                    };
                    let ret = call(what, format_args!("{ctx:#x} (in the background)"), || {
                        // SAFETY: a live context that no other thread uses
                        // any more (the harness passes no pending handle).
                        unsafe {
                            if release {
                                io_queue_release(ctx as Ctx)
                            } else {
                                io_destroy(ctx as Ctx)
                            }
                        }
                    });
                    // A panic here aborts the process (libFuzzer's hook).
                    assert_eq!(ret, 0, "{what} of a live context");
                    let mut pending = closer().pending.lock().unwrap();
                    if let Some(n) = pending.get_mut(&ctx) {
                        *n -= 1;
                        if *n == 0 {
                            pending.remove(&ctx);
                        }
                    }
                }
            });
        }
        Closer {
            queue,
            pending: Mutex::new(HashMap::new()),
        }
    })
}

/// Whether `ctx` is being destroyed in the background.
fn closing(ctx: usize) -> bool {
    closer().pending.lock().unwrap().contains_key(&ctx)
}

/// Hands a live context over to the closers, which destroy it (with
/// io_queue_release if `release`) and check the result.
fn close_in_background(ctx: usize, release: bool) {
    let closer = closer();
    *closer.pending.lock().unwrap().entry(ctx).or_insert(0) += 1;
    closer
        .queue
        .send((ctx, release))
        .expect("the closers are gone");
}

/// A live context and its requests not yet reaped.
struct Live {
    ctx: usize,
    /// iocb address -> submissions not yet completed.
    outstanding: HashMap<usize, u32>,
    /// A request that may complete later (poll, fsync, unknown) was queued:
    /// the ring may fill at any moment.
    asynchronous: bool,
}

/// One input's state.
struct Session<'a> {
    fx: &'static Fixture,
    u: Unstructured<'a>,
    live: Vec<Live>,
    /// Destroyed contexts, each with an inaccessible page mapped at its address.
    stale: Vec<usize>,
}

impl<'a> Session<'a> {
    fn byte(&mut self) -> u8 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn u32(&mut self) -> u32 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn u64(&mut self) -> u64 {
        self.u.arbitrary().unwrap_or(0)
    }

    fn pick<T: Copy>(&mut self, menu: &[T]) -> T {
        menu[self.byte() as usize % menu.len()]
    }

    fn live_index(&self, ctx: usize) -> Option<usize> {
        self.live.iter().position(|l| l.ctx == ctx)
    }

    /// A context handle: live, stale (reserved) or bogus; never one being
    /// destroyed in the background.
    fn context(&mut self) -> usize {
        let ctx = self.any_context();
        if closing(ctx) { 0 } else { ctx }
    }

    fn any_context(&mut self) -> usize {
        let choice = self.byte() % 14;
        if choice < 6 && !self.live.is_empty() {
            let i = self.byte() as usize % self.live.len();
            return self.live[i].ctx;
        }
        if choice < 8 && !self.stale.is_empty() {
            let i = self.byte() as usize % self.stale.len();
            return self.stale[i];
        }
        match choice {
            8 => 0,
            9 => self.fx.guard,
            10 => self.fx.fake_ring,
            11 => self.pick(&[KERNEL_ADDRESS, self.fx.readonly, 1, 0xdead_beef, usize::MAX]),
            12 if !self.live.is_empty() => {
                // Inside a live ring, not at its start.
                let i = self.byte() as usize % self.live.len();
                let offset = 8 * (1 + self.byte() as usize);
                self.live[i].ctx + offset
            }
            _ => self.u64() as usize,
        }
    }

    /// A pointer the kernel checks and finds bad: NULL, unmapped, a kernel
    /// address, or read-only memory (bad only where the kernel writes).
    fn bad_pointer(&mut self) -> usize {
        self.pick(&[0, self.fx.guard, KERNEL_ADDRESS, self.fx.readonly])
    }

    /// `maxevents` for io_setup/io_queue_init: mostly one that may succeed
    /// (bounded, see [`MAX_EVENTS_OK`]), or one refused before anything is
    /// reserved (0, negative, more than aio-max-nr, more than the kernel's
    /// ring limit).
    fn maxevents(&mut self) -> c_int {
        if !self.byte().is_multiple_of(4) {
            1 + (self.u32() % MAX_EVENTS_OK as u32) as c_int
        } else {
            self.pick(&[0, -1, c_int::MIN, c_int::MAX, 1 << 20, 0x1000_0000 / 32 + 1])
        }
    }

    /// io_setup (or io_queue_init) with any `maxevents` and `ctxp`.
    fn setup(&mut self, queue_init: bool) {
        let maxevents = self.maxevents();
        let kind = self.byte() % 8;
        let room = self.live.len() < MAX_LIVE;
        let mut slot: Ctx = ptr::null_mut();
        let garbage = (self.u64() | 1) as usize;
        // Where io_setup may create a context: only with room for one more.
        let ctxp: *mut Ctx = match kind {
            0..=3 if room => &mut slot,
            4 if room || !queue_init => {
                // io_setup refuses a handle that is not 0; io_queue_init
                // clears it and goes on.
                slot = garbage as Ctx;
                &mut slot
            }
            _ => self.bad_pointer() as *mut Ctx,
        };
        let valid = ptr::eq(ctxp, &slot);
        let what = if queue_init {
            "io_queue_init"
        } else {
            "io_setup"
        };
        let ret = call(
            what,
            format_args!("{maxevents}, {ctxp:?} (holding {slot:?})"),
            || {
                if queue_init {
                    // SAFETY: ctxp is our slot or a bad address the library
                    // checks (NULL, kernel) or lets the kernel check (unmapped,
                    // read-only: the kernel reads 0 there and writing it fails).
                    unsafe { io_queue_init(maxevents, ctxp) }
                } else {
                    // SAFETY: as above; io_setup never writes a non-zero slot.
                    unsafe { io_setup(maxevents, ctxp) }
                }
            },
        );
        if ret == 0 {
            assert!(valid, "{what} succeeded with a bad ctxp {ctxp:?}");
            let ctx = slot as usize;
            assert!(
                ctx != 0 && ctx.is_multiple_of(PAGE),
                "{what} stored {ctx:#x} in the handle"
            );
            assert!(
                self.live_index(ctx).is_none(),
                "{what} returned a live context again"
            );
            self.stale.retain(|&s| s != ctx);
            self.live.push(Live {
                ctx,
                outstanding: HashMap::new(),
                asynchronous: false,
            });
        } else {
            assert_in(
                what,
                ret,
                &[libc::EINVAL, libc::EFAULT, libc::EAGAIN, libc::ENOMEM],
            );
        }
    }

    /// io_destroy or io_queue_release of any handle. A live context is
    /// mostly destroyed in the background (see [`Closer`]); one time in 16
    /// here and now (it takes tens of milliseconds), its address then
    /// reserved as a stale handle.
    fn destroy(&mut self, release: bool) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        // Not 0, which fuzzer inputs are full of.
        let here = self.byte() % 16 == 7;
        if let (Some(i), false) = (live, here) {
            self.live.swap_remove(i);
            close_in_background(ctx, release);
            return;
        }
        let what = if release {
            "io_queue_release"
        } else {
            "io_destroy"
        };
        let ret = call(what, format_args!("{ctx:#x}"), || {
            // SAFETY: a live context no other thread uses, or a handle the
            // library must refuse (bogus, or destroyed and reserved).
            unsafe {
                if release {
                    io_queue_release(ctx as Ctx)
                } else {
                    io_destroy(ctx as Ctx)
                }
            }
        });
        match live {
            Some(i) => {
                assert_eq!(ret, 0, "{what} of a live context");
                self.live.swap_remove(i);
                if self.stale.len() < MAX_STALE && reserve_page(ctx) {
                    self.stale.push(ctx);
                }
            }
            None => assert_eq!(ret, -libc::EINVAL, "{what} of {ctx:#x}, not a live context"),
        }
    }

    /// A buffer address and length: inside the harness's buffers, or bad.
    fn buffer(&mut self) -> (u64, u64) {
        let kind = self.byte() % 8;
        let len = match self.byte() % 4 {
            0 => 512 * (self.byte() as u64 % 129),
            1 => PAGE as u64 * (self.byte() as u64 % 17),
            _ => self.u32() as u64 % (BUF_BYTES as u64 + 1),
        };
        match kind {
            0..=5 => {
                let start = match self.byte() % 3 {
                    0 => 0,
                    1 => (self.u32() as usize % (BUF_BYTES / 512)) * 512,
                    _ => self.u32() as usize % BUF_BYTES,
                };
                let len = len.min((BUF_BYTES - start) as u64);
                ((self.fx.buffers + start) as u64, len)
            }
            6 => (self.fx.readonly as u64, len.min(PAGE as u64)),
            _ => (self.bad_pointer() as u64, len),
        }
    }

    /// An iovec array and its count: valid iovecs over the buffers (or bad
    /// bases) in the harness's array, or a bad array.
    fn iovecs(&mut self) -> (u64, u64) {
        if self.byte().is_multiple_of(6) {
            let count = self.pick(&[1u64, 2, 1024, 1025, u64::MAX]);
            return (self.bad_pointer() as u64, count);
        }
        let count = self.byte() as usize % (IOVECS + 1);
        let array = self.fx.iovecs as *mut libc::iovec;
        for i in 0..count {
            let (base, len) = self.buffer();
            let iov = libc::iovec {
                iov_base: base as *mut c_void,
                iov_len: len as usize,
            };
            // SAFETY: i < IOVECS, inside the page of iovecs.
            unsafe { array.add(i).write(iov) };
        }
        (array as u64, count as u64)
    }

    /// A descriptor: one of the harness's, or a bad number.
    fn fd(&mut self) -> u32 {
        if self.byte().is_multiple_of(8) {
            self.pick(&[-1i32, 1_000_000, i32::MAX]) as u32
        } else {
            let i = self.byte() as usize % self.fx.fds.len();
            self.fx.fds[i] as u32
        }
    }

    fn offset(&mut self) -> i64 {
        match self.byte() % 6 {
            0 => 0,
            1 => (self.u32() as i64 % 256) * 4096,
            2 => self.u32() as i64 % (16 << 20),
            3 => self.pick(&[-1i64, -4096, i64::MIN, i64::MAX, i64::MAX - 4095, 1 << 62]),
            _ => (self.u32() as i64 % (FILE_BYTES / 512)) * 512,
        }
    }

    /// Fills iocb `index` with a request built from the input.
    fn build_iocb(&mut self, index: usize) -> *mut RawIocb {
        let opcode = self.pick(&[
            IOCB_CMD_PREAD,
            IOCB_CMD_PWRITE,
            IOCB_CMD_PREAD,
            IOCB_CMD_PWRITE,
            IOCB_CMD_FSYNC,
            IOCB_CMD_FDSYNC,
            IOCB_CMD_POLL,
            IOCB_CMD_NOOP,
            IOCB_CMD_PREADV,
            IOCB_CMD_PWRITEV,
            4,
            9,
            u16::MAX,
        ]);
        let mut io = RawIocb {
            opcode,
            fildes: self.fd(),
            data: if self.byte().is_multiple_of(3) {
                0
            } else {
                callback_address()
            },
            ..RawIocb::default()
        };
        match opcode {
            IOCB_CMD_PREAD | IOCB_CMD_PWRITE => {
                (io.buf, io.nbytes) = self.buffer();
                io.offset = self.offset();
            }
            IOCB_CMD_PREADV | IOCB_CMD_PWRITEV => {
                (io.buf, io.nbytes) = self.iovecs();
                io.offset = self.offset();
            }
            IOCB_CMD_POLL => io.buf = self.pick(&[1u64, 4, 5, 0x3f, 0xffff, 0]),
            _ => {}
        }
        // Now and then, the fields most requests leave 0.
        let extras = self.byte();
        if extras & 1 != 0 {
            io.rw_flags = self.pick(&[1u32, 2, 4, 8, 16, 0x20, u32::MAX]);
        }
        if extras & 2 != 0 {
            io.flags = self.pick(&[1u32, 2, 3, 4, u32::MAX]);
            io.resfd = if self.byte().is_multiple_of(2) {
                self.fx.eventfd as u32
            } else {
                self.fd()
            };
        }
        if extras & 4 != 0 {
            io.reqprio = self.u32() as i16;
        }
        if extras & 8 != 0 {
            io.reserved2 = self.u64();
        }
        if extras & 16 != 0 {
            io.key = self.u32();
        }
        if extras & 32 != 0 && opcode != IOCB_CMD_POLL {
            // Poll's unused fields must be 0: sometimes they are not.
            io.nbytes = io.nbytes.wrapping_add(self.byte() as u64);
        }
        let p = self.fx.iocb(index);
        if tracing() {
            eprintln!("  iocb {p:?} = {io:x?}");
        }
        // SAFETY: an iocb of the pool, ours to write (the kernel copied any
        // earlier submission of it).
        unsafe { p.write(io) };
        p
    }

    /// io_submit of an array of iocbs (or a bad array) on any handle.
    fn submit(&mut self) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        let array = self.fx.array as *mut usize;
        let (iocbs, nr, len) = if !self.byte().is_multiple_of(8) {
            let len = self.byte() as usize % (ARRAY + 1);
            for i in 0..len {
                let entry = if !self.byte().is_multiple_of(8) {
                    let index = self.byte() as usize;
                    self.build_iocb(index) as usize
                } else {
                    self.bad_pointer()
                };
                // SAFETY: i < ARRAY, inside the array's page.
                unsafe { array.add(i).write(entry) };
            }
            // Never more than the array holds: the kernel would read past it.
            let nr = match self.byte() % 6 {
                0 => self.byte() as c_long % (len as c_long + 1),
                1 => self.pick(&[-1, c_long::MIN]),
                _ => len as c_long,
            };
            (array, nr, len)
        } else {
            let nr = self.pick(&[0, 1, 2, 16, 1 << 20, c_long::MAX, -1]);
            (self.bad_pointer() as *mut usize, nr, 0)
        };
        let ret = call(
            "io_submit",
            format_args!("{ctx:#x}, {nr}, {iocbs:?}"),
            || {
                // SAFETY: nr entries of the array (or a bad array the kernel
                // checks); each entry is one of our iocbs, whose buffers and
                // iovecs are our memory of the stated sizes, or a bad address.
                unsafe { io_submit(ctx as Ctx, nr, iocbs.cast()) }
            },
        );
        let Some(i) = live else {
            assert_eq!(
                ret,
                -libc::EINVAL,
                "io_submit on {ctx:#x}, not a live context"
            );
            return;
        };
        if ret < 0 {
            return;
        }
        assert!(
            (ret as c_long) <= nr && ret as usize <= len,
            "io_submit of {nr} returned {ret}"
        );
        for k in 0..ret as usize {
            // SAFETY: k < len, an entry written above.
            let entry = unsafe { array.add(k).read() };
            assert!(
                self.fx.is_pool_iocb(entry),
                "io_submit queued {entry:#x}, not an iocb"
            );
            // SAFETY: a pool iocb.
            let opcode = unsafe { (*(entry as *const RawIocb)).opcode };
            let l = &mut self.live[i];
            *l.outstanding.entry(entry).or_insert(0) += 1;
            if !matches!(
                opcode,
                IOCB_CMD_PREAD | IOCB_CMD_PWRITE | IOCB_CMD_PREADV | IOCB_CMD_PWRITEV
            ) {
                l.asynchronous = true;
            }
        }
    }

    /// A completion of `obj` reaped from live context `i`.
    fn completed(&mut self, i: usize, obj: usize, what: &str) {
        let l = &mut self.live[i];
        match l.outstanding.get_mut(&obj) {
            Some(n) if *n > 0 => *n -= 1,
            _ => panic!(
                "{what}: a completion of {obj:#x}, which has no request outstanding on {:#x}",
                l.ctx
            ),
        }
    }

    /// A timeout: a readable one for a live context, one of at most 100 µs
    /// when the call could wait.
    fn timeout(&mut self, live: bool, could_wait: bool, storage: &mut libc::timespec) -> usize {
        let kind = self.byte() % 12;
        let short = |ns: i64| libc::timespec {
            tv_sec: 0,
            tv_nsec: ns,
        };
        *storage = match kind {
            0..=4 => short(0),
            5 => short(self.u32() as i64 % 100_001),
            6 => short(-(self.u32() as i64) - 1),
            7 if !could_wait => return 0,
            8 if !could_wait => libc::timespec {
                tv_sec: self.pick(&[1, 3600, i64::MAX, -1, i64::MIN]),
                tv_nsec: self.pick(&[0, 999_999_999, 1_000_000_000, -1]),
            },
            9 if !live => return self.pick(&[0, self.fx.guard, KERNEL_ADDRESS]),
            10 => return self.fx.readonly, // zeros: a readable zero timeout
            _ => short(0),
        };
        storage as *mut libc::timespec as usize
    }

    /// An events array and the `nr` to pass with it.
    fn events_and_nr(&mut self, live: bool) -> (usize, c_long, bool) {
        // With user-space reaping the library writes a live context's
        // events itself: they must be valid.
        let may_be_bad = !(live && self.fx.user_reap);
        let wants_valid = !self.byte().is_multiple_of(6);
        if wants_valid || !may_be_bad {
            let nr = match self.byte() % 6 {
                0 => self.pick(&[-1, 0, c_long::MIN]),
                _ => self.byte() as c_long % (EVENTS as c_long + 1),
            };
            (self.fx.events, nr, true)
        } else {
            let nr = self.pick(&[1, 2, 64, 1 << 20, c_long::MAX, 0, -1]);
            (self.bad_pointer(), nr, false)
        }
    }

    /// io_getevents, io_pgetevents or io_getevents@LIBAIO_0.1 on any handle.
    fn getevents(&mut self, variant: u8) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        let (events, nr, events_valid) = self.events_and_nr(live.is_some());
        let min_nr: c_long = match variant {
            2 => 1, // the compat io_getevents waits for one at least
            _ => match self.byte() % 8 {
                0..=2 => 0,
                3 => 1,
                4 => nr,
                5 => nr.saturating_add(1),
                6 if nr > 0 => self.byte() as c_long % nr.saturating_add(1),
                _ => self.pick(&[-1, c_long::MIN, c_long::MAX]),
            },
        };
        let could_wait = live.is_some() && min_nr > 0 && min_nr <= nr;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = self.timeout(live.is_some(), could_wait, &mut ts) as *mut libc::timespec;
        let zero_timeout = !timeout.is_null()
            // SAFETY: a readable timeout (live contexts get nothing else).
            && live.is_some() && unsafe { (*timeout).tv_sec == 0 && (*timeout).tv_nsec == 0 };
        // SAFETY: sigset_t is plain data.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        let sigmask: *mut libc::sigset_t = match self.byte() % 6 {
            0 | 1 => ptr::null_mut(),
            2 | 3 => {
                let bits = self.u64();
                // SAFETY: the first 8 bytes of the sigset, which the kernel reads.
                unsafe { (&raw mut mask).cast::<u64>().write_unaligned(bits) };
                &mut mask
            }
            _ => self.bad_pointer() as *mut libc::sigset_t,
        };
        let events_ptr = events as *mut io_event;
        let what = ["io_getevents", "io_pgetevents", "io_getevents@LIBAIO_0.1"][variant as usize];
        let args = format_args!(
            "{ctx:#x}, min_nr {min_nr}, nr {nr}, events {events:#x}, timeout {timeout:?} {ts:?}, sigmask {sigmask:?}"
        );
        let ret = call(what, args, || {
            // SAFETY: events has room for nr events or is a bad address the
            // kernel checks (never so for a live context with user-space
            // reaping); the timeout is readable for a live context; a call
            // that could wait has a timeout of at most 100 µs.
            unsafe {
                match variant {
                    0 => io_getevents(ctx as Ctx, min_nr, nr, events_ptr, timeout),
                    1 => io_pgetevents(ctx as Ctx, min_nr, nr, events_ptr, timeout, sigmask),
                    _ => __libaio_io_getevents_0_1(ctx as Ctx, nr, events_ptr, timeout),
                }
            }
        });
        let Some(i) = live else {
            assert_in(what, ret, &[libc::EINVAL, libc::EFAULT]);
            return;
        };
        if ret < 0 {
            assert_in(what, ret, &[libc::EINVAL, libc::EFAULT, libc::EINTR]);
            return;
        }
        assert!(
            ret as c_long <= nr.max(0),
            "{what}: {ret} events for nr {nr}"
        );
        if ret > 0 {
            assert!(events_valid, "{what}: {ret} events into a bad array");
            self.take_events(i, ret as usize, what);
        } else if zero_timeout
            && nr > 0
            && (0..=nr).contains(&min_nr)
            && !self.fx.user_reap
            && !self.live[i].asynchronous
        {
            // With room for events and arguments the kernel takes, a
            // zero-timeout call returns whatever the ring holds: 0 means empty.
            self.ring_is_empty(i, what);
        }
    }

    /// Accounts for `count` events in the harness's events array.
    fn take_events(&mut self, i: usize, count: usize, what: &str) {
        let callback = callback_address();
        for k in 0..count.min(EVENTS) {
            // SAFETY: the first `count` events were written.
            let ev = unsafe { (self.fx.events as *const io_event).add(k).read() };
            let data = ev.data as u64;
            assert!(
                data == 0 || data == callback,
                "{what}: event data {data:#x} is not what was submitted"
            );
            self.completed(i, ev.obj as usize, what);
        }
    }

    /// The ring of live context `i` must be empty: a zero-timeout call just
    /// answered 0. Asks the kernel directly (only with kernel reaping, where
    /// this bypasses nothing) and accounts for anything it returns.
    fn ring_is_empty(&mut self, i: usize, what: &str) {
        let mut zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a live context, room for EVENTS events, a readable timeout.
        let found = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                self.live[i].ctx,
                0 as c_long,
                EVENTS as c_long,
                self.fx.events,
                &mut zero,
            )
        };
        assert_eq!(
            found, 0,
            "{what} answered 0 with a zero timeout, but the kernel then returned {found}"
        );
    }

    /// io_cancel (or the compat one) of any iocb on any handle.
    fn cancel(&mut self, compat: bool) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        let target = if !self.byte().is_multiple_of(6) {
            self.fx.iocb(self.byte() as usize) as usize
        } else {
            self.bad_pointer()
        };
        let result = if !self.byte().is_multiple_of(4) {
            self.fx.events
        } else {
            self.bad_pointer()
        };
        let what = if compat {
            "io_cancel@LIBAIO_0.1"
        } else {
            "io_cancel"
        };
        let ret = call(
            what,
            format_args!("{ctx:#x}, {target:#x}, {result:#x}"),
            || {
                // SAFETY: target is one of our iocbs or a bad address the kernel
                // reads first; result has room for one event or is a bad address
                // (the kernel writes it only on success).
                unsafe {
                    if compat {
                        __libaio_io_cancel_0_1(ctx as Ctx, target as *mut iocb)
                    } else {
                        io_cancel(ctx as Ctx, target as *mut iocb, result as *mut io_event)
                    }
                }
            },
        );
        match live {
            None => assert_in(what, ret, &[libc::EINVAL, libc::EFAULT]),
            Some(i) if ret == 0 => {
                // Old kernels return the event instead of queueing it.
                if !compat && result == self.fx.events {
                    self.take_events(i, 1, what);
                }
            }
            Some(_) => assert_in(
                what,
                ret,
                &[libc::EINPROGRESS, libc::EINVAL, libc::EFAULT, libc::EAGAIN],
            ),
        }
    }

    /// io_queue_run on any handle: the callbacks must be of requests
    /// outstanding on that context.
    fn queue_run(&mut self) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        CALLBACKS.with(|calls| calls.borrow_mut().clear());
        let ret = call("io_queue_run", format_args!("{ctx:#x}"), || {
            // SAFETY: every iocb's data is NULL or on_completion.
            unsafe { io_queue_run(ctx as Ctx) }
        });
        let calls = CALLBACKS.with(|calls| std::mem::take(&mut *calls.borrow_mut()));
        let Some(i) = live else {
            assert_eq!(
                ret,
                -libc::EINVAL,
                "io_queue_run on {ctx:#x}, not a live context"
            );
            assert!(calls.is_empty(), "io_queue_run on {ctx:#x} made callbacks");
            return;
        };
        assert_eq!(ret, 0, "io_queue_run on a live context");
        for (from, obj) in calls {
            assert_eq!(
                from, ctx,
                "io_queue_run passed another context to the callback"
            );
            self.completed(i, obj, "io_queue_run");
        }
        // Completions without a callback were consumed silently: what is
        // left outstanding is an upper bound from now on.
    }

    /// io_queue_wait (or the compat one): never waits.
    fn queue_wait(&mut self, compat: bool) {
        let ctx = self.context();
        let live = self.live_index(ctx);
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = self.timeout(live.is_some(), false, &mut ts) as *mut libc::timespec;
        let what = if compat {
            "io_queue_wait@LIBAIO_0.1"
        } else {
            "io_queue_wait"
        };
        let ret = call(what, format_args!("{ctx:#x}, {timeout:?} {ts:?}"), || {
            // SAFETY: the timeout is readable for a live context.
            unsafe {
                if compat {
                    __libaio_io_queue_wait_0_1(ctx as Ctx, timeout)
                } else {
                    io_queue_wait(ctx as Ctx, timeout)
                }
            }
        });
        match live {
            Some(_) => assert_eq!(ret, 0, "{what} on a live context"),
            None => assert_in(what, ret, &[libc::EINVAL, libc::EFAULT]),
        }
    }

    /// Writes to or reads from the pipe, completing or re-arming polls.
    fn pipe(&mut self) {
        let n = 1 + self.byte() as usize % 8;
        let mut bytes = [b'x'; 8];
        let fd = if self.byte().is_multiple_of(2) {
            self.fx.fds[4] // the write end
        } else {
            self.fx.pipe_read
        };
        // SAFETY: up to 8 bytes of a local array; the descriptor is ours and
        // non-blocking.
        unsafe {
            if fd == self.fx.pipe_read {
                libc::read(fd, bytes.as_mut_ptr().cast(), n);
            } else {
                libc::write(fd, bytes.as_ptr().cast(), n);
            }
        }
    }

    /// Reaps everything a live context has now, with zero timeouts.
    fn drain(&mut self) {
        if self.live.is_empty() {
            return;
        }
        let i = self.byte() as usize % self.live.len();
        let ctx = self.live[i].ctx;
        for _ in 0..8 {
            let mut zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let ret = call("io_getevents (drain)", format_args!("{ctx:#x}"), || {
                // SAFETY: a live context, room for EVENTS events.
                unsafe {
                    io_getevents(
                        ctx as Ctx,
                        0,
                        EVENTS as c_long,
                        self.fx.events as *mut io_event,
                        &mut zero,
                    )
                }
            });
            assert!(ret >= 0, "draining a live context: {ret}");
            if ret == 0 {
                break;
            }
            self.take_events(i, ret as usize, "io_getevents (drain)");
        }
    }

    /// Ends the input: every live context destroyed, every reservation
    /// released, the pipe drained, the files cut back.
    fn finish(&mut self) {
        for l in std::mem::take(&mut self.live) {
            close_in_background(l.ctx, false);
        }
        for s in std::mem::take(&mut self.stale) {
            // SAFETY: the page reserve_page() mapped there.
            unsafe { libc::munmap(s as *mut c_void, PAGE) };
        }
        let mut sink = [0u8; 256];
        // SAFETY: non-blocking reads into a local buffer.
        while unsafe { libc::read(self.fx.pipe_read, sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
        // SAFETY: as above (an eventfd read takes 8 bytes).
        unsafe { libc::read(self.fx.eventfd, sink.as_mut_ptr().cast(), 8) };
        for &fd in &self.fx.files {
            // SAFETY: an open descriptor.
            unsafe { libc::ftruncate(fd, FILE_BYTES) };
        }
    }
}

/// Maps an inaccessible page at `addr` (a ring just destroyed), so no new
/// ring can take the address while the stale handle is in use. False if
/// something else took it first (libFuzzer's threads may map memory).
fn reserve_page(addr: usize) -> bool {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let p = unsafe {
        libc::mmap(
            addr as *mut c_void,
            PAGE,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p as usize == addr {
        return true;
    }
    if p != libc::MAP_FAILED {
        // A kernel without MAP_FIXED_NOREPLACE put it elsewhere.
        // SAFETY: the mapping just made.
        unsafe { libc::munmap(p, PAGE) };
    }
    false
}

/// With `LIBAIO_RS_FUZZ_PLANTED_CRASH=1`, every input starting with this
/// byte fails on purpose (the fuzzer makes one in moments): tests/fuzz.rs
/// uses it to prove that scripts/fuzz reports a crash.
pub const PLANTED_CRASH: u8 = b'!';

/// Runs one input.
pub fn run(data: &[u8]) {
    static PLANTED: OnceLock<bool> = OnceLock::new();
    let planted = *PLANTED
        .get_or_init(|| std::env::var_os("LIBAIO_RS_FUZZ_PLANTED_CRASH").is_some_and(|v| v == "1"));
    assert!(
        !(planted && data.first() == Some(&PLANTED_CRASH)),
        "the planted crash (LIBAIO_RS_FUZZ_PLANTED_CRASH=1)"
    );
    let mut s = Session {
        fx: fixture(),
        u: Unstructured::new(data),
        live: Vec::new(),
        stale: Vec::new(),
    };
    for _ in 0..MAX_CALLS {
        if s.u.is_empty() {
            break;
        }
        match s.byte() % 18 {
            0 | 1 => s.setup(false),
            2 => s.setup(true),
            3 => s.destroy(false),
            4 => s.destroy(true),
            5..=7 => s.submit(),
            8 | 9 => s.getevents(0),
            10 => s.getevents(1),
            11 => s.getevents(2),
            12 => s.cancel(false),
            13 => s.cancel(true),
            14 => s.queue_run(),
            15 => {
                let compat = s.byte().is_multiple_of(2);
                s.queue_wait(compat)
            }
            16 => s.pipe(),
            _ => s.drain(),
        }
    }
    s.finish();
}
