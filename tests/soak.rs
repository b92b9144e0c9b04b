//! Data-integrity soak: several threads keep contexts full of mixed requests
//! (IO_CMD_PREAD, PWRITE, PREADV, PWRITEV, FSYNC, FDSYNC and POLL) on a file
//! on tmpfs and a file on disk, then everything is read back and checked.
//!
//! - Seven threads: three share one context (its ring smaller than their
//!   queue depths together, so it fills), two share another, two have one
//!   each; queue depths from 8 to 1024.
//! - Every 512-byte sector written carries its file, block, sector and the
//!   block's generation (how many times it was written), plus a stretch of a
//!   fixed random template chosen by those; a block not yet written holds
//!   zeros. Each thread writes only its own blocks, and never has two
//!   requests on one block at once, so what every read must return is known
//!   exactly: reads are checked as they complete, and at the end the files
//!   are read back whole through the library and every byte checked.
//! - Vector requests scatter each block over two 2 KiB halves, in reverse
//!   order in memory.
//! - Polls wait on an eventfd or a pipe of their thread, which the thread
//!   makes readable now and then (and drains when none of its polls is in
//!   flight, so that later polls wait again).
//! - Every request carries a unique id in `data`; each completion is counted
//!   by it (exactly once), its `obj` must be its iocb, its result what the
//!   request asked for. Completions on a shared context are reaped by
//!   whichever thread gets them, with io_getevents (waiting, or with a zero
//!   timeout) and io_pgetevents.
//!
//! Three runs, one after the other, each in a child process of this binary
//! with a time limit (a crash or a hang fails the run, not the harness):
//! our library (1,000,000 requests), our library with
//! `LIBAIO_USERSPACE_REAP=1` (the library reads the variable once per
//! process), and the system's libaio as a control (200,000). Set
//! `LIBAIO_RS_SOAK_SCALE=<x>` to multiply every count (and the time limits)
//! by x (10 for ten times longer, 0.1 for a quick run). Run with
//! `--nocapture` to see the figures.

mod common;

use aio_rs::abi::io_iocb_cmd::*;
use common::*;
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_long, c_void};
use std::process::Command;
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Names the run a child process makes.
const CHILD: &str = "LIBAIO_RS_SOAK_CHILD";
/// Multiplies the request counts.
const SCALE: &str = "LIBAIO_RS_SOAK_SCALE";
/// The variable that turns on our library's user-space reaping.
const REAP_VAR: &str = "LIBAIO_USERSPACE_REAP";

const BLOCK: usize = 4096;
const SECTOR: usize = 512;
const SECTORS: usize = BLOCK / SECTOR;
const HALF: usize = BLOCK / 2;
/// Most blocks in one request; blocks are owned in stripes of this many, so
/// a request never spans two owners.
const MAX_BLOCKS: usize = 4;
/// Blocks per file: 96 MiB.
const FILE_BLOCKS: usize = 24 * 1024;
/// Most requests in one io_submit, and events in one reap.
const MAX_BATCH: usize = 64;
const MAX_REAP: usize = 256;

/// The contexts' sizes (io_setup's maxevents). 0 and 1 are shared, each by
/// threads whose queue depths add up to more than its ring holds (the kernel
/// takes about twice maxevents, rounded up to fill the ring's pages: some
/// 1023 and 126 requests here), so that io_submit finds it full.
const RINGS: [c_int; 4] = [512, 48, 1024, 8];

struct WorkerSpec {
    ring: usize,
    depth: usize,
    /// Share of the requests.
    weight: usize,
}

const WORKERS: [WorkerSpec; 7] = [
    WorkerSpec {
        ring: 0,
        depth: 1024,
        weight: 4,
    },
    WorkerSpec {
        ring: 0,
        depth: 256,
        weight: 2,
    },
    WorkerSpec {
        ring: 0,
        depth: 64,
        weight: 1,
    },
    WorkerSpec {
        ring: 1,
        depth: 128,
        weight: 2,
    },
    WorkerSpec {
        ring: 1,
        depth: 16,
        weight: 1,
    },
    WorkerSpec {
        ring: 2,
        depth: 1024,
        weight: 4,
    },
    WorkerSpec {
        ring: 3,
        depth: 8,
        weight: 1,
    },
];

// ------------------------------------------------------------------ the runs

/// The runs take turns: each wants the machine to itself.
static SERIAL: Mutex<()> = Mutex::new(());

/// `LIBAIO_RS_SOAK_SCALE`: 1 unless set (fractions run shorter).
fn scale() -> f64 {
    std::env::var(SCALE)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

/// In the parent: runs the test `name` in a child process (alone, with the
/// environment `reap` says) and prints its figures. In that child: runs the
/// soak on `which` with `requests` (times the scale) requests.
fn run(name: &str, which: Which, requests: usize, reap: Option<&str>) {
    let requests = ((requests as f64 * scale()) as usize).max(1000);
    if std::env::var(CHILD).as_deref() == Ok(name) {
        let lib = match which {
            Which::Ours => ours(),
            Which::System => system(),
        };
        let label = format!(
            "{which:?}{}",
            if reap.is_some() {
                " with LIBAIO_USERSPACE_REAP=1"
            } else {
                ""
            }
        );
        soak(lib, &label, requests);
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env_remove(REAP_VAR);
    if let Some(value) = reap {
        cmd.env(REAP_VAR, value);
    }
    // Generous: a run takes a fraction of this; what it guards against is a
    // hang.
    let limit = Duration::from_secs(120 + 120 * requests as u64 / 1_000_000);
    let out = run_with_time_limit(&mut cmd, limit);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("soak")) {
        println!("{line}");
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn soak_ours() {
    run("soak_ours", Which::Ours, 1_000_000, None);
}

#[test]
fn soak_ours_with_user_space_reaping() {
    run(
        "soak_ours_with_user_space_reaping",
        Which::Ours,
        1_000_000,
        Some("1"),
    );
}

#[test]
fn soak_system_libaio_control() {
    run("soak_system_libaio_control", Which::System, 200_000, None);
}

// ------------------------------------------------------------- the pattern

/// 4 KiB of random bytes, and a sector's worth more: each sector's body is a
/// window of it.
fn template() -> &'static [u8] {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        (0..BLOCK + SECTOR)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    })
}

/// The first 8 bytes of a sector: file, generation and sector number. Never
/// all ones (the poison) nor 0 for a written sector.
fn sector_header(file: usize, block: usize, generation: u32, sector: usize) -> u64 {
    ((file as u64 + 1) << 56) | (u64::from(generation) << 32) | (block * SECTORS + sector) as u64
}

/// Where in the template a sector's body starts.
fn body_start(file: usize, block: usize, generation: u32, sector: usize) -> usize {
    let h = ((block as u64) << 24 | u64::from(generation) << 1 | file as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 40) as usize + sector * 509) % BLOCK
}

const POISON: u64 = u64::MAX;

/// Writes sector `sector` of `block` at generation `generation` (> 0) at `at`.
///
/// # Safety
///
/// `at` is valid for writing 512 bytes.
unsafe fn fill_sector(at: *mut u8, file: usize, block: usize, generation: u32, sector: usize) {
    let header = sector_header(file, block, generation, sector).to_le_bytes();
    let start = body_start(file, block, generation, sector);
    // SAFETY: the caller's contract; the template has room past any start.
    unsafe {
        std::ptr::copy_nonoverlapping(header.as_ptr(), at, 8);
        std::ptr::copy_nonoverlapping(template()[start..].as_ptr(), at.add(8), SECTOR - 8);
    }
}

/// Checks the sector at `at` against what it must hold; describes the
/// difference.
///
/// # Safety
///
/// `at` is valid for reading 512 bytes, which nothing writes meanwhile.
unsafe fn check_sector(
    at: *const u8,
    file: usize,
    block: usize,
    generation: u32,
    sector: usize,
) -> Result<(), String> {
    // SAFETY: the caller's contract.
    let found = unsafe { std::slice::from_raw_parts(at, SECTOR) };
    let ok = if generation == 0 {
        found == [0; SECTOR]
    } else {
        let start = body_start(file, block, generation, sector);
        found[..8] == sector_header(file, block, generation, sector).to_le_bytes()
            && found[8..] == template()[start..start + SECTOR - 8]
    };
    if ok {
        return Ok(());
    }
    let header = u64::from_le_bytes(found[..8].try_into().unwrap());
    let what = match header {
        POISON => "the poison: never written by the read".to_string(),
        0 => "zeros".to_string(),
        h => format!(
            "the header of file {} block {} sector {} generation {}",
            (h >> 56) as i64 - 1,
            (h & 0xffff_ffff) / SECTORS as u64,
            (h & 0xffff_ffff) % SECTORS as u64,
            (h >> 32) & 0xff_ffff
        ),
    };
    Err(format!(
        "file {file} block {block} sector {sector}: expected generation {generation}, found {what}"
    ))
}

// ------------------------------------------------------------------- state

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Op {
    #[default]
    Read,
    Write,
    Readv,
    Writev,
    Fsync,
    Fdsync,
    Poll,
}

const OPS: [Op; 7] = [
    Op::Read,
    Op::Write,
    Op::Readv,
    Op::Writev,
    Op::Fsync,
    Op::Fdsync,
    Op::Poll,
];

impl Op {
    /// Picks an operation: out of 100, 26 reads, 28 writes, 14 of each
    /// vector command, 4 of each sync, 10 polls.
    fn pick(r: u64) -> Op {
        match r % 100 {
            0..26 => Op::Read,
            26..54 => Op::Write,
            54..68 => Op::Readv,
            68..82 => Op::Writev,
            82..86 => Op::Fsync,
            86..90 => Op::Fdsync,
            _ => Op::Poll,
        }
    }

    fn is_read(self) -> bool {
        matches!(self, Op::Read | Op::Readv)
    }

    fn is_data(self) -> bool {
        matches!(self, Op::Read | Op::Write | Op::Readv | Op::Writev)
    }

    fn is_vector(self) -> bool {
        matches!(self, Op::Readv | Op::Writev)
    }
}

/// What a request is, for whoever reaps its completion.
#[derive(Clone, Copy, Default)]
struct Meta {
    id: usize,
    op: Op,
    file: usize,
    block: usize,
    blocks: usize,
    /// The generation each block holds (reads) or will hold (writes).
    generations: [u32; MAX_BLOCKS],
}

const FREE: u8 = 0;
const PREPARED: u8 = 1;
const SUBMITTED: u8 = 2;

/// One request's iocb, iovecs and buffer. `iocb` comes first: a
/// completion's `obj` is the slot's address.
#[repr(C)]
struct Slot {
    iocb: UnsafeCell<iocb>,
    iov: UnsafeCell<[libc::iovec; 2 * MAX_BLOCKS]>,
    meta: UnsafeCell<Meta>,
    /// MAX_BLOCKS blocks in the worker's buffer.
    buf: *mut u8,
    /// FREE (the owner's), PREPARED (the owner's, not yet taken by the
    /// kernel), SUBMITTED (the kernel's, then the reaper's).
    state: AtomicU8,
}

// SAFETY: the cells are written only by the slot's owner while the slot is
// FREE or PREPARED, and read by a reaper only once the kernel has completed
// the request, after it has seen the SUBMITTED the owner stored (Release,
// after writing them) with Acquire; it stores FREE (Release) when done, and
// hands the slot back through a mutex.
unsafe impl Sync for Slot {}
// SAFETY: as above.
unsafe impl Send for Slot {}

impl Slot {
    fn meta(&self) -> Meta {
        // SAFETY: see the Sync impl; callers own the slot or hold a
        // completion for it.
        unsafe { *self.meta.get() }
    }

    /// Where sector `sector` of block `j` of the request lies in its buffer:
    /// in order, or for the vector commands, half-blocks in reverse order.
    fn sector_at(&self, meta: &Meta, j: usize, sector: usize) -> *mut u8 {
        let half = 2 * j + sector / (SECTORS / 2);
        let place = if meta.op.is_vector() {
            2 * meta.blocks - 1 - half
        } else {
            half
        };
        self.buf
            .wrapping_add(place * HALF + sector % (SECTORS / 2) * SECTOR)
    }
}

/// A block's generation, and whether a request of its owner is on it.
struct Block {
    generation: AtomicU32,
    busy: AtomicBool,
}

struct SoakFile {
    file: ScratchFile,
    blocks: Vec<Block>,
}

/// What a thread polls on.
enum Bell {
    Eventfd(c_int),
    Pipe([c_int; 2]),
}

impl Bell {
    fn new(eventfd: bool) -> Bell {
        if eventfd {
            // SAFETY: a new eventfd.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            assert!(fd >= 0);
            Bell::Eventfd(fd)
        } else {
            let mut fds = [0; 2];
            // SAFETY: room for two descriptors.
            let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
            assert_eq!(ret, 0);
            Bell::Pipe(fds)
        }
    }

    fn poll_fd(&self) -> c_int {
        match self {
            Bell::Eventfd(fd) => *fd,
            Bell::Pipe(fds) => fds[0],
        }
    }

    fn ring(&self) {
        let one = 1u64;
        // SAFETY: writes from our live buffer to our descriptors.
        let n = unsafe {
            match self {
                Bell::Eventfd(fd) => libc::write(*fd, (&raw const one).cast(), 8),
                Bell::Pipe(fds) => libc::write(fds[1], b"!".as_ptr().cast(), 1),
            }
        };
        assert!(n > 0, "ring: {}", std::io::Error::last_os_error());
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into our buffer from our non-blocking descriptor.
        while unsafe { libc::read(self.poll_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        let fds: &[c_int] = match self {
            Bell::Eventfd(fd) => std::slice::from_ref(fd),
            Bell::Pipe(fds) => fds,
        };
        for &fd in fds {
            // SAFETY: our descriptors.
            unsafe { libc::close(fd) };
        }
    }
}

struct Worker {
    index: usize,
    ring: usize,
    depth: usize,
    quota: usize,
    slots: Box<[Slot]>,
    /// The slots' buffers (kept alive; the slots point into it).
    _buffers: Buffers,
    /// Slots completed by any thread, for the owner to take back.
    returned: Mutex<Vec<u32>>,
    polls_in_flight: AtomicUsize,
    bell: Bell,
}

impl Worker {
    /// The slot whose iocb `obj` is, if it is one of ours.
    fn slot_of(&self, obj: *mut iocb) -> Option<&Slot> {
        let base = self.slots.as_ptr() as usize;
        let offset = (obj as usize).checked_sub(base)?;
        let size = std::mem::size_of::<Slot>();
        (offset % size == 0)
            .then(|| self.slots.get(offset / size))
            .flatten()
    }
}

/// Memory only reached through the slots' pointers.
struct Buffers(#[allow(dead_code)] AlignedBuf);

// SAFETY: never accessed through this value, only kept alive by it; see the
// Sync impl of Slot for the accesses.
unsafe impl Sync for Buffers {}

struct Ring {
    ctx: io_context_t,
    workers: usize,
    in_flight: AtomicUsize,
    done_submitting: AtomicUsize,
}

// SAFETY: a context may be used from any thread.
unsafe impl Sync for Ring {}

#[derive(Default)]
struct Stats {
    ops: [AtomicU64; 7],
    bytes: AtomicU64,
    submits: AtomicU64,
    partial_submits: AtomicU64,
    eagain: AtomicU64,
    reaps_waiting: AtomicU64,
    reaps_zero_timeout: AtomicU64,
    reaps_pgetevents: AtomicU64,
    reaped_for_others: AtomicU64,
    bells: AtomicU64,
}

struct Soak<'a> {
    lib: &'a Aio,
    files: Vec<SoakFile>,
    rings: Vec<Ring>,
    workers: Vec<Worker>,
    next_id: AtomicUsize,
    seen: Vec<AtomicU8>,
    stats: Stats,
    errors: Mutex<Vec<String>>,
    failed: AtomicBool,
    deadline: Instant,
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A small fast generator, one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl Soak<'_> {
    fn fail(&self, message: String) {
        self.failed.store(true, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 20 {
            errors.push(message);
        }
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Prepares slot `index` of worker `w` with a new request; false when no
    /// free blocks were found for it.
    fn prepare(&self, w: &Worker, index: u32, rng: &mut Rng) -> bool {
        let slot = &w.slots[index as usize];
        let op = Op::pick(rng.next());
        // Three requests in ten go to the disk (file 1), the rest to tmpfs.
        let file = usize::from(rng.below(10) < 3);
        let mut meta = Meta {
            op,
            file,
            ..Meta::default()
        };
        let mut io = zeroed_iocb();
        io.aio_fildes = self.files[file].file.fd;
        match op {
            Op::Fsync => io.aio_lio_opcode = IO_CMD_FSYNC as i16,
            Op::Fdsync => io.aio_lio_opcode = IO_CMD_FDSYNC as i16,
            Op::Poll => {
                io.aio_lio_opcode = IO_CMD_POLL as i16;
                io.aio_fildes = w.bell.poll_fd();
                io.u.poll.events = libc::POLLIN as c_int;
                w.polls_in_flight.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                let blocks = 1 + rng.below(MAX_BLOCKS);
                let Some(block) = self.claim_blocks(w, file, blocks, rng) else {
                    return false;
                };
                meta.block = block;
                meta.blocks = blocks;
                let states = &self.files[file].blocks[block..block + blocks];
                for (j, state) in states.iter().enumerate() {
                    let generation = state.generation.load(Ordering::Acquire);
                    meta.generations[j] = if op.is_read() {
                        generation
                    } else {
                        generation + 1
                    };
                }
                for j in 0..blocks {
                    for sector in 0..SECTORS {
                        let at = slot.sector_at(&meta, j, sector);
                        if op.is_read() {
                            // Poison every sector: a sector the read did not
                            // fill cannot pass.
                            // SAFETY: within the slot's buffer, which is
                            // ours while the slot is.
                            unsafe { at.cast::<u64>().write_unaligned(POISON) };
                        } else {
                            // SAFETY: as above.
                            unsafe {
                                fill_sector(at, file, block + j, meta.generations[j], sector)
                            };
                        }
                    }
                }
                let offset = (block * BLOCK) as i64;
                if op.is_vector() {
                    // SAFETY: the slot is ours (FREE).
                    let iov = unsafe { &mut *slot.iov.get() };
                    for (k, v) in iov.iter_mut().take(2 * blocks).enumerate() {
                        v.iov_base = slot.buf.wrapping_add((2 * blocks - 1 - k) * HALF).cast();
                        v.iov_len = HALF;
                    }
                    io.aio_lio_opcode = if op == Op::Readv {
                        IO_CMD_PREADV
                    } else {
                        IO_CMD_PWRITEV
                    } as i16;
                    io.u.v.vec = iov.as_ptr();
                    io.u.v.nr = (2 * blocks) as _;
                    io.u.v.offset = offset;
                } else {
                    io.aio_lio_opcode = if op == Op::Read {
                        IO_CMD_PREAD
                    } else {
                        IO_CMD_PWRITE
                    } as i16;
                    io.u.c.buf = slot.buf.cast();
                    io.u.c.nbytes = (blocks * BLOCK) as _;
                    io.u.c.offset = offset;
                }
            }
        }
        meta.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        io.data = without_provenance_mut::<c_void>(meta.id + 1);
        // SAFETY: the slot is ours (FREE): nothing else reads the cells.
        unsafe {
            *slot.meta.get() = meta;
            *slot.iocb.get() = io;
        }
        slot.state.store(PREPARED, Ordering::Relaxed);
        true
    }

    /// Finds `blocks` free blocks of worker `w` in one stripe of `file`, and
    /// marks them busy.
    fn claim_blocks(&self, w: &Worker, file: usize, blocks: usize, rng: &mut Rng) -> Option<usize> {
        let stripes = FILE_BLOCKS / MAX_BLOCKS;
        let mine = (stripes - w.index).div_ceil(self.workers.len());
        let states = &self.files[file].blocks;
        for _ in 0..8 {
            let stripe = rng.below(mine) * self.workers.len() + w.index;
            let first = stripe * MAX_BLOCKS + rng.below(MAX_BLOCKS - blocks + 1);
            let range = &states[first..first + blocks];
            if range.iter().all(|b| !b.busy.load(Ordering::Acquire)) {
                for b in range {
                    b.busy.store(true, Ordering::Relaxed);
                }
                return Some(first);
            }
        }
        None
    }

    /// Handles a completion, whoever's request it is.
    fn complete(&self, ring: &Ring, event: &io_event, reaper: usize) {
        let Some((owner, slot)) = self
            .workers
            .iter()
            .find_map(|w| w.slot_of(event.obj).map(|s| (w, s)))
        else {
            return self.fail(format!("an event for an unknown iocb {:?}", event.obj));
        };
        if slot.state.load(Ordering::Acquire) != SUBMITTED {
            return self.fail(format!(
                "an event for a slot not in flight (data {:?})",
                event.data
            ));
        }
        let meta = slot.meta();
        let id = event.data as usize;
        if id != meta.id + 1 {
            return self.fail(format!(
                "event data {id} for the iocb of request {}",
                meta.id + 1
            ));
        }
        if self.seen[meta.id].fetch_add(1, Ordering::Relaxed) != 0 {
            return self.fail(format!("request {id} completed twice"));
        }
        let res = event.res as i64;
        let size = (meta.blocks * BLOCK) as i64;
        let ok = match meta.op {
            Op::Poll => res & !((libc::POLLIN | libc::POLLRDNORM) as i64) == 0 && res != 0,
            Op::Fsync | Op::Fdsync => res == 0,
            _ => res == size,
        };
        if !ok || event.res2 != 0 {
            return self.fail(format!(
                "request {id} ({:?} of {size} bytes): res {res}, res2 {}",
                meta.op, event.res2
            ));
        }
        let blocks = &self.files[meta.file].blocks;
        if meta.op.is_data() {
            for j in 0..meta.blocks {
                let block = meta.block + j;
                if meta.op.is_read() {
                    for sector in 0..SECTORS {
                        // SAFETY: the read is complete; its buffer is
                        // the slot's, which nothing else touches until the
                        // slot is handed back.
                        let checked = unsafe {
                            check_sector(
                                slot.sector_at(&meta, j, sector),
                                meta.file,
                                block,
                                meta.generations[j],
                                sector,
                            )
                        };
                        if let Err(e) = checked {
                            return self.fail(format!("request {id} ({:?}): {e}", meta.op));
                        }
                    }
                } else {
                    blocks[block]
                        .generation
                        .store(meta.generations[j], Ordering::Release);
                }
                blocks[block].busy.store(false, Ordering::Release);
            }
            bump(&self.stats.bytes, size as u64);
        }
        if meta.op == Op::Poll {
            owner.polls_in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        bump(&self.stats.ops[meta.op as usize], 1);
        if owner.index != reaper {
            bump(&self.stats.reaped_for_others, 1);
        }
        slot.state.store(FREE, Ordering::Release);
        let index = (slot as *const Slot as usize - owner.slots.as_ptr() as usize)
            / std::mem::size_of::<Slot>();
        owner
            .returned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(index as u32);
        ring.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// One reap on `ring`, in one of three ways.
    fn reap(&self, ring: &Ring, reaper: usize, rng: &mut Rng, events: &mut [io_event]) {
        let nr = 1 + rng.below(MAX_REAP);
        // Waiting for more than half of what is in flight would mostly wait
        // out the timeout (since Linux 6.8 a waiter is not woken before
        // min_nr completions are there).
        let in_flight = ring.in_flight.load(Ordering::Relaxed);
        let min = (1 + rng.below(8)).min(nr).min(in_flight / 2).max(1);
        let way = rng.below(8);
        let mut wait = libc::timespec {
            tv_sec: 0,
            tv_nsec: if way == 0 { 0 } else { 2_000_000 },
        };
        let mut mask = sigset_empty();
        let ret = keeps_errno("reap", || {
            // SAFETY: room for nr <= MAX_REAP events; the timeout and the
            // mask are ours.
            unsafe {
                if way == 1 {
                    (self.lib.io_pgetevents)(
                        ring.ctx,
                        min as c_long,
                        nr as c_long,
                        events.as_mut_ptr(),
                        &mut wait,
                        &mut mask,
                    )
                } else {
                    (self.lib.io_getevents)(
                        ring.ctx,
                        min as c_long,
                        nr as c_long,
                        events.as_mut_ptr(),
                        &mut wait,
                    )
                }
            }
        });
        let counter = match way {
            0 => &self.stats.reaps_zero_timeout,
            1 => &self.stats.reaps_pgetevents,
            _ => &self.stats.reaps_waiting,
        };
        bump(counter, 1);
        if ret < 0 || ret as usize > nr {
            return self.fail(format!("reap (min {min}, nr {nr}): {ret}"));
        }
        for event in &events[..ret as usize] {
            self.complete(ring, event, reaper);
        }
    }

    /// A worker thread's life: keep its queue full until its quota is used
    /// up, reap for its context until every worker on it is done.
    fn work(&self, w: &Worker) {
        let ring = &self.rings[w.ring];
        let mut rng =
            Rng(0x9e37_79b9_7f4a_7c15 ^ (w.index as u64 + 1).wrapping_mul(0x1234_5678_9abc));
        let mut free: Vec<u32> = (0..w.depth as u32).rev().collect();
        let mut pending: Vec<u32> = Vec::with_capacity(MAX_BATCH);
        let mut list: Vec<*mut iocb> = Vec::with_capacity(MAX_BATCH);
        let mut events = vec![zeroed_event(); MAX_REAP];
        let mut left = w.quota;
        let mut done = false;
        let mut rung = false;
        loop {
            if self.failed() {
                return;
            }
            if Instant::now() > self.deadline {
                return self.fail(format!("worker {}: out of time", w.index));
            }
            if free.len() < MAX_BATCH {
                free.append(&mut w.returned.lock().unwrap_or_else(|e| e.into_inner()));
            }
            // Prepare a batch.
            let batch = 1 + rng.below(MAX_BATCH.min(w.depth));
            while pending.len() < batch && left > 0 {
                let Some(index) = free.pop() else { break };
                if !self.prepare(w, index, &mut rng) {
                    free.push(index);
                    break;
                }
                pending.push(index);
                left -= 1;
            }
            // Submit it: the ring may take part of it, or none.
            if !pending.is_empty() {
                list.clear();
                for &index in &pending {
                    let slot = &w.slots[index as usize];
                    slot.state.store(SUBMITTED, Ordering::Release);
                    list.push(slot.iocb.get());
                }
                ring.in_flight.fetch_add(list.len(), Ordering::AcqRel);
                // SAFETY: the iocbs, their iovecs and buffers stay as they
                // are until their completions are handled.
                let ret = keeps_errno("io_submit", || unsafe {
                    (self.lib.io_submit)(ring.ctx, list.len() as c_long, list.as_mut_ptr())
                });
                bump(&self.stats.submits, 1);
                let taken = if ret > 0 { ret as usize } else { 0 };
                if ret == -libc::EAGAIN {
                    bump(&self.stats.eagain, 1);
                } else if ret <= 0 || taken > list.len() {
                    return self.fail(format!("io_submit of {}: {ret}", list.len()));
                } else if taken < list.len() {
                    bump(&self.stats.partial_submits, 1);
                }
                for &index in &pending[taken..] {
                    w.slots[index as usize]
                        .state
                        .store(PREPARED, Ordering::Relaxed);
                }
                ring.in_flight
                    .fetch_sub(list.len() - taken, Ordering::AcqRel);
                pending.drain(..taken);
            }
            if !done && left == 0 && pending.is_empty() {
                done = true;
                ring.done_submitting.fetch_add(1, Ordering::AcqRel);
            }
            // Make the polls ready now and then (always, once done); when
            // none is in flight, take the readiness back.
            let polls = w.polls_in_flight.load(Ordering::Relaxed);
            if polls > 0 && !rung && (done || rng.below(4) == 0) {
                w.bell.ring();
                rung = true;
                bump(&self.stats.bells, 1);
            } else if polls == 0 && rung {
                w.bell.drain();
                rung = false;
            }
            self.reap(ring, w.index, &mut rng, &mut events);
            if done
                && ring.done_submitting.load(Ordering::Acquire) == ring.workers
                && ring.in_flight.load(Ordering::Acquire) == 0
            {
                return;
            }
        }
    }
}

fn sigset_empty() -> libc::sigset_t {
    // SAFETY: sigemptyset makes a valid set of the zeroed one.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

// -------------------------------------------------------------- the soak

/// Makes a file of FILE_BLOCKS zeroed (written, not sparse) blocks.
fn zeroed_file(fs: Fs) -> SoakFile {
    let file = ScratchFile::new(fs, "soak", 0, 0);
    let chunk = AlignedBuf::new(1 << 20, 0);
    for offset in (0..FILE_BLOCKS * BLOCK).step_by(chunk.len()) {
        // SAFETY: writing our buffer to our descriptor.
        let n =
            unsafe { libc::pwrite64(file.fd, chunk.as_ptr().cast(), chunk.len(), offset as i64) };
        assert_eq!(n, chunk.len() as isize);
    }
    // SAFETY: our descriptor.
    assert_eq!(unsafe { libc::fsync(file.fd) }, 0);
    let blocks = (0..FILE_BLOCKS)
        .map(|_| Block {
            generation: AtomicU32::new(0),
            busy: AtomicBool::new(false),
        })
        .collect();
    SoakFile { file, blocks }
}

fn soak(lib: &Aio, label: &str, requests: usize) {
    // (After libtest's "test ... " on the same line.)
    println!();
    let setup_start = Instant::now();
    let files = vec![zeroed_file(Fs::Shm), zeroed_file(Fs::Disk)];
    let rings: Vec<Ring> = RINGS
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let mut ctx = null_mut();
            // SAFETY: ctx is ours.
            let ret = unsafe { (lib.io_setup)(size, &mut ctx) };
            assert_eq!(ret, 0, "io_setup({size})");
            Ring {
                ctx,
                workers: WORKERS.iter().filter(|w| w.ring == i).count(),
                in_flight: AtomicUsize::new(0),
                done_submitting: AtomicUsize::new(0),
            }
        })
        .collect();
    let weights: usize = WORKERS.iter().map(|w| w.weight).sum();
    let mut assigned = 0;
    let workers: Vec<Worker> = WORKERS
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let quota = if index == WORKERS.len() - 1 {
                requests - assigned
            } else {
                requests * spec.weight / weights
            };
            assigned += quota;
            let mut buffers = AlignedBuf::new(spec.depth * MAX_BLOCKS * BLOCK, 0);
            let base = buffers.as_mut_ptr();
            let slots = (0..spec.depth)
                .map(|i| Slot {
                    iocb: UnsafeCell::new(zeroed_iocb()),
                    // SAFETY: iovec is plain data; all-zero is valid.
                    iov: UnsafeCell::new(unsafe { std::mem::zeroed() }),
                    meta: UnsafeCell::new(Meta::default()),
                    buf: base.wrapping_add(i * MAX_BLOCKS * BLOCK),
                    state: AtomicU8::new(FREE),
                })
                .collect();
            Worker {
                index,
                ring: spec.ring,
                depth: spec.depth,
                quota,
                slots,
                _buffers: Buffers(buffers),
                returned: Mutex::new(Vec::with_capacity(spec.depth)),
                polls_in_flight: AtomicUsize::new(0),
                bell: Bell::new(index % 2 == 0),
            }
        })
        .collect();
    let soak = Soak {
        lib,
        files,
        rings,
        workers,
        next_id: AtomicUsize::new(0),
        seen: (0..requests).map(|_| AtomicU8::new(0)).collect(),
        stats: Stats::default(),
        errors: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
        deadline: Instant::now() + Duration::from_secs(100 + 100 * requests as u64 / 1_000_000),
    };
    template();
    let setup = setup_start.elapsed();

    let start = Instant::now();
    let cpu_before = cpu_seconds();
    std::thread::scope(|s| {
        for w in &soak.workers {
            let soak = &soak;
            s.spawn(move || soak.work(w));
        }
    });
    let elapsed = start.elapsed();
    let cpu_after = cpu_seconds();
    let cpu_during = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    // Destroying the contexts cancels whatever a failure left in flight,
    // and waits for it, before the buffers go.
    for ring in &soak.rings {
        // SAFETY: ours; the workers are gone.
        let ret = unsafe { (lib.io_destroy)(ring.ctx) };
        assert_eq!(ret, 0);
    }
    let errors = soak.errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "soak on {label}: {} failures, the first:\n{}",
        errors.len(),
        errors.join("\n")
    );

    // Every request completed once.
    let prepared = soak.next_id.load(Ordering::Relaxed);
    assert_eq!(prepared, requests);
    let wrong: Vec<(usize, u8)> = soak
        .seen
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c.load(Ordering::Relaxed)))
        .filter(|&(_, c)| c != 1)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "requests (id, completions) not completed exactly once: {wrong:?}"
    );
    let ops: Vec<u64> = soak.stats.ops.iter().map(get).collect();
    assert_eq!(ops.iter().sum::<u64>(), requests as u64);

    // Read everything back through the library and check every byte.
    let verify_start = Instant::now();
    let verified = read_back_and_check(lib, &soak.files);
    let verify = verify_start.elapsed();

    let s = &soak.stats;
    let secs = elapsed.as_secs_f64();
    println!(
        "soak {label}: {requests} I/Os in {secs:.2} s = {:.0} IOPS, {:.0} MiB moved; \
         {} threads on {} contexts (2 shared), queue depths 8 to 1024; CPU {:.2} s user, \
         {:.2} s system",
        requests as f64 / secs,
        get(&s.bytes) as f64 / 1048576.0,
        WORKERS.len(),
        RINGS.len(),
        cpu_during.0,
        cpu_during.1
    );
    let counts: Vec<String> = OPS
        .iter()
        .map(|op| format!("{op:?} {}", ops[*op as usize]))
        .collect();
    println!("soak {label}: {}", counts.join(", "));
    println!(
        "soak {label}: {} io_submit calls ({} partial, {} EAGAIN); reaps: {} waiting, {} zero \
         timeout, {} io_pgetevents; {} completions reaped by another thread than their \
         submitter; {} bells rung",
        get(&s.submits),
        get(&s.partial_submits),
        get(&s.eagain),
        get(&s.reaps_waiting),
        get(&s.reaps_zero_timeout),
        get(&s.reaps_pgetevents),
        get(&s.reaped_for_others),
        get(&s.bells)
    );
    println!(
        "soak {label}: every completion once; {} MiB read back and checked byte for byte in \
         {:.2} s (setup {:.2} s)",
        verified >> 20,
        verify.as_secs_f64(),
        setup.as_secs_f64()
    );
}

/// This process's CPU time so far: (user, system) seconds.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage fills our struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// Reads both files whole through `lib` (1 MiB requests, 8 in flight) and
/// checks every sector against its block's generation; returns the bytes
/// checked.
fn read_back_and_check(lib: &Aio, files: &[SoakFile]) -> usize {
    const CHUNK: usize = 1 << 20;
    const DEPTH: usize = 8;
    let ctx = Ctx::new(lib, DEPTH as c_int);
    let mut bufs: Vec<AlignedBuf> = (0..DEPTH).map(|_| AlignedBuf::new(CHUNK, 0xff)).collect();
    let mut checked = 0;
    for (f, file) in files.iter().enumerate() {
        for round in (0..FILE_BLOCKS * BLOCK).step_by(CHUNK * DEPTH) {
            let mut ios: Vec<iocb> = bufs
                .iter_mut()
                .enumerate()
                .map(|(i, b)| {
                    let mut io = rw_iocb(IO_CMD_PREAD, file.file.fd, b, (round + i * CHUNK) as i64);
                    io.data = without_provenance_mut(i + 1);
                    io
                })
                .collect();
            let mut list: Vec<*mut iocb> = ios.iter_mut().map(|io| io as *mut iocb).collect();
            ctx.submit(&mut list);
            for event in ctx.reap(DEPTH) {
                assert_eq!(event.res, CHUNK as _);
                let i = event.data as usize - 1;
                let first = (round + i * CHUNK) / BLOCK;
                for (k, block_data) in bufs[i].chunks(BLOCK).enumerate() {
                    let block = first + k;
                    assert!(!file.blocks[block].busy.load(Ordering::Relaxed));
                    let generation = file.blocks[block].generation.load(Ordering::Relaxed);
                    for (sector, at) in block_data.chunks(SECTOR).enumerate() {
                        // SAFETY: 512 bytes of our buffer, the read done.
                        let result =
                            unsafe { check_sector(at.as_ptr(), f, block, generation, sector) };
                        if let Err(e) = result {
                            panic!("reading back: {e}");
                        }
                    }
                }
                checked += CHUNK;
            }
        }
    }
    checked
}
