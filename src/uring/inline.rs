//! Reads and writes the library does at once, inside io_submit, as kernel
//! AIO does them there, and the queue their events wait in.
//!
//! Kernel AIO finishes some requests before io_submit returns: a buffered
//! read whose pages are cached, and any read or write of a file in memory
//! (tmpfs), which it copies in the calling thread. io_uring would try the
//! first inline too, but hands the second to a worker thread (tmpfs cannot
//! say "this would block"), which halves the throughput of one request at a
//! time and makes a completion that kernel AIO gives at once arrive later.
//! So, for files whose class ([`Class`]) says it may pay:
//!
//! - a buffered read of a file on disk is tried with `RWF_NOWAIT`: when the
//!   page cache has it all, that is the completion; when it would wait for
//!   the device (`EAGAIN`, or a short read), io_uring does it, truly
//!   asynchronously;
//! - a buffered write of a file on disk is done at once, as kernel AIO does
//!   it: it lands in the page cache, so the wait is short, and a program
//!   that reaps it with `min_nr` 0 right after io_submit (libaio's own test
//!   harness does) finds it done, and a read submitted after it sees it;
//! - a read or write of a file in memory is done at once, as kernel AIO
//!   does; so is one of a block device in memory (zram, brd, pmem),
//!   O_DIRECT too: kernel AIO does them inside io_submit, and io_uring would
//!   hand each one to a worker thread (they cannot say "this would block").
//!
//! O_DIRECT on another device always goes to io_uring (even with `RWF_NOWAIT` a
//! direct read waits for the device). The system call checks the descriptor
//! as the kernel's io_submit does (`EBADF` for a bad descriptor or the wrong
//! access mode, `EOPNOTSUPP` for `RWF_*` flags the file cannot honour), and
//! what the call then returns, bytes or error, is the event's result, as
//! kernel AIO reports the same call's.
//!
//! A file's class is kept per descriptor number in the context; a number
//! reused for another file may keep a stale class, which changes where the
//! I/O is done (a blocking read of a file believed in memory blocks
//! io_submit, as kernel AIO's does), never its result.
//!
//! The events wait in [`Done`], which every reaper takes from before the
//! completion queue.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU32, Ordering};

use super::RelaxedU64;

use crate::abi::io_event;
use crate::sys::{self, Errno};

/// Where a file's reads and writes are done.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    /// A regular file in memory (tmpfs, ramfs), or a block device in
    /// memory (zram, brd, pmem): reads and writes at once.
    Memory,
    /// A buffered regular file elsewhere, or a buffered block device:
    /// reads tried with `RWF_NOWAIT`, writes at once.
    Cached,
    /// O_DIRECT on a device, a file that cannot say it would block:
    /// io_uring.
    Kernel,
    /// Pipes, sockets, character devices...: io_uring, which waits for them
    /// to be ready before it reads or writes, so that a request still
    /// waiting can be cancelled and submitted again without losing data
    /// (how a thread that exits hands it over, see `exit`).
    Stream,
    /// A directory, which has no `read_iter`: kernel AIO refuses reads of
    /// it with `EINVAL` (a directory cannot be opened for writing).
    Directory,
}

/// tmpfs and ramfs (`linux/magic.h`).
const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;

/// The class of `fd`, whose `fcntl(F_GETFL)` flags are `flags`.
pub fn classify(fd: c_int, flags: c_int) -> Class {
    match sys::file_kind(fd) {
        Ok((libc::S_IFREG, _)) => {
            if matches!(sys::file_system(fd), Ok(TMPFS_MAGIC | RAMFS_MAGIC)) {
                return Class::Memory;
            }
        }
        Ok((libc::S_IFBLK, device)) => {
            if in_memory_block_device(device) {
                return Class::Memory;
            }
        }
        Ok((libc::S_IFDIR, _)) => return Class::Directory,
        _ => return Class::Stream,
    }
    if flags & libc::O_DIRECT != 0 {
        Class::Kernel
    } else {
        Class::Cached
    }
}

/// Whether the block device `(major, minor)` keeps its data in memory and
/// reads and writes it in the submitting thread: zram, brd's ram disks and
/// pmem (by the name the kernel gives the device, from
/// `/sys/dev/block/MAJOR:MINOR`). Kernel AIO does their reads and writes
/// inside io_submit, O_DIRECT included; io_uring would hand each one to a
/// worker thread, as they cannot say "this would block" (measured on zram,
/// O_DIRECT, one at a time: 0.05x of kernel AIO on a quiet machine, 0.3x on
/// a busy one). Without /sys, none is.
fn in_memory_block_device((major, minor): (u32, u32)) -> bool {
    let mut path = [0u8; 40];
    let mut at = 0;
    for part in [
        b"/sys/dev/block/".as_slice(),
        super::submit::decimal(major).as_bytes(),
        b":",
        super::submit::decimal(minor).as_bytes(),
    ] {
        path[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    let Ok(path) = core::ffi::CStr::from_bytes_until_nul(&path) else {
        return false;
    };
    // "../../devices/virtual/block/zram0"
    let mut target = [0u8; 256];
    let Ok(len) = sys::readlink(path, &mut target) else {
        return false;
    };
    in_memory_device_name(target[..len].rsplit(|&b| b == b'/').next().unwrap_or(&[]))
}

/// Whether `name` is a zram, brd or pmem device's (`zram0`, `ram1`,
/// `pmem0`, `pmem0s`, `pmem1.2`).
fn in_memory_device_name(name: &[u8]) -> bool {
    [b"zram".as_slice(), b"ram", b"pmem"].iter().any(|prefix| {
        name.strip_prefix(*prefix)
            .is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit))
    })
}

/// Classes of recent descriptors: a direct-mapped cache of a context, used
/// under its submit lock.
pub struct Classes([RelaxedU64; 16]);

impl Classes {
    pub const fn new() -> Classes {
        Classes([const { RelaxedU64::new(0) }; 16])
    }

    fn at(&self, fd: c_int) -> &RelaxedU64 {
        &self.0[fd as usize % self.0.len()]
    }

    /// What is known of `fd`.
    pub fn get(&self, fd: c_int) -> Option<Class> {
        // Relaxed: written and read under the submit lock.
        let word = self.at(fd).load(Ordering::Relaxed);
        if fd < 0 || word >> 8 != fd as u64 + 1 {
            return None;
        }
        Some(match word & 0xff {
            0 => Class::Memory,
            1 => Class::Cached,
            2 => Class::Kernel,
            3 => Class::Stream,
            _ => Class::Directory,
        })
    }

    /// Records the class of `fd`.
    pub fn set(&self, fd: c_int, class: Class) {
        if fd < 0 {
            return;
        }
        let code = match class {
            Class::Memory => 0,
            Class::Cached => 1,
            Class::Kernel => 2,
            Class::Stream => 3,
            Class::Directory => 4,
        };
        // Relaxed: see `get`.
        self.at(fd)
            .store((fd as u64 + 1) << 8 | code, Ordering::Relaxed);
    }
}

/// What an attempt to do a request at once gave.
pub enum Attempt {
    /// Done: the event's result.
    Done(i64),
    /// Refused, as kernel AIO's io_submit refuses it.
    Refused(Errno),
    /// It must wait for a device this time: io_uring's.
    Later,
    /// The file cannot say when it would wait (no `RWF_NOWAIT`): io_uring's,
    /// from now on.
    Unable,
    /// The file has no offsets: a stream (its descriptor number was another
    /// file's), io_uring's from now on.
    Stream,
}

/// `RWF_NOWAIT`.
const RWF_NOWAIT: u32 = 0x08;

/// A read or write, as io_submit checked it.
pub struct Io {
    pub write: bool,
    pub fd: c_int,
    /// The iovecs (one for a plain read or write).
    pub iov: *const libc::iovec,
    pub segments: usize,
    /// Their bytes, in all.
    pub total: u64,
    pub offset: i64,
    /// The caller's `RWF_*` flags, without `RWF_HIPRI`.
    pub rw_flags: u32,
}

/// Tries `io` at once, the way the file's `class` says.
///
/// # Safety
///
/// The iovecs and their buffers are the caller's (the kernel checks them).
pub unsafe fn attempt(class: Class, io: &Io) -> Attempt {
    let total = io.total;
    let asked_nowait = io.rw_flags & RWF_NOWAIT != 0;
    let flags = match class {
        Class::Memory => io.rw_flags,
        Class::Cached if io.write => io.rw_flags,
        Class::Cached => io.rw_flags | RWF_NOWAIT,
        _ => return Attempt::Later,
    };
    // SAFETY: the caller's contract.
    let ret =
        unsafe { sys::preadv2_pwritev2(io.write, io.fd, io.iov, io.segments, io.offset, flags) };
    match ret {
        // All of it, or the end of the file (a read of a file in memory is
        // never short otherwise), or what a write could do (a full disk).
        Ok(n) if n as u64 == total || class == Class::Memory || io.write => Attempt::Done(n as i64),
        Ok(0) => Attempt::Done(0),
        // Some of it is not cached: the device must be waited for.
        Ok(_) => Attempt::Later,
        Err(Errno::EBADF) => Attempt::Refused(Errno::EBADF),
        // The caller's RWF_NOWAIT (or another flag) this file cannot honour:
        // the kernel refuses it at io_submit.
        Err(Errno::EOPNOTSUPP) if asked_nowait || class == Class::Memory => {
            Attempt::Refused(Errno::EOPNOTSUPP)
        }
        Err(Errno::EAGAIN) if asked_nowait => Attempt::Done(-i64::from(libc::EAGAIN)),
        Err(Errno::EOPNOTSUPP) => Attempt::Unable,
        Err(Errno::ESPIPE) => Attempt::Stream,
        // Would wait, or an argument only the kernel's own path checks:
        // io_uring's.
        Err(Errno::EAGAIN | Errno::EINVAL) => Attempt::Later,
        Err(errno) => Attempt::Done(-i64::from(errno.get())),
    }
}

/// The events of requests done at once, waiting to be handed out: a ring
/// of one producer (the submitter, under the submit lock) and any number
/// of consumers, which claim the oldest with a compare-and-swap of `head`
/// after reading them (a reader that loses the race to another has read
/// entries the producer may have rewritten since, and reads again).
pub struct Done {
    head: AtomicU32,
    tail: AtomicU32,
    mask: u32,
    /// `mask + 1` events of four words.
    events: *const [RelaxedU64; 4],
}

impl Done {
    /// A queue of the `size` (a power of two) entries at `events`.
    pub fn new(events: *const [RelaxedU64; 4], size: u32) -> Done {
        Done {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            mask: size - 1,
            events,
        }
    }

    fn entry(&self, index: u32) -> &[RelaxedU64; 4] {
        // SAFETY: mask + 1 entries at `events`, in the context's mapping.
        unsafe { &*self.events.add((index & self.mask) as usize) }
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        // SeqCst: the waiters' check against the producer's (see
        // `reap::Uring::wait`).
        self.head.load(Ordering::SeqCst) == self.tail.load(Ordering::SeqCst)
    }

    /// Adds an event (the kernel's four words). The caller holds the submit
    /// lock, and the context's room keeps the queue from overflowing (it
    /// holds as many as the context takes requests).
    pub fn push(&self, event: [u64; 4]) {
        // Relaxed: only the producer writes the tail.
        let tail = self.tail.load(Ordering::Relaxed);
        for (word, value) in self.entry(tail).iter().zip(event) {
            // Relaxed: published by the tail's store.
            word.store(value, Ordering::Relaxed);
        }
        if crate::registry::single_threaded() {
            // Release: the event is written before consumers see it. The
            // only waiter there can be is a frame of this thread that the
            // signal handler running this push interrupted: program order
            // puts the store before the look for waiters.
            self.tail.store(tail.wrapping_add(1), Ordering::Release);
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            // SeqCst: the event is written before consumers see it, and
            // before the producer looks for waiters to wake.
            self.tail.store(tail.wrapping_add(1), Ordering::SeqCst);
        }
    }

    /// Takes up to `max` events into `out`; returns how many.
    ///
    /// # Safety
    ///
    /// `out` has room for `max` events (unaligned is fine).
    pub unsafe fn take(&self, out: *mut io_event, max: usize) -> usize {
        loop {
            // Acquire on both: the entries up to the tail were written
            // before it moved; head first, so that tail - head cannot
            // underflow.
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            let count = (tail.wrapping_sub(head) as usize).min(max);
            if count == 0 {
                return 0;
            }
            for i in 0..count {
                // Relaxed: ordered by the Acquire loads; a torn read is
                // discarded by the failed claim.
                let event = self
                    .entry(head.wrapping_add(i as u32))
                    .each_ref()
                    .map(|w| w.load(Ordering::Relaxed));
                // SAFETY: i < max, inside the caller's room.
                unsafe { out.add(i).cast::<[u64; 4]>().write_unaligned(event) };
            }
            // AcqRel: Acquire as above; Release orders our reads before the
            // producer reuses the entries.
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(count as u32),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return count;
            }
        }
    }

    /// Drops every waiting event (io_destroy).
    pub fn clear(&self) {
        // Relaxed: nobody else uses the context any more.
        self.head
            .store(self.tail.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Adds 1 to the eventfd `fd`: kernel AIO's `IOCB_FLAG_RESFD` signal, for a
/// completion done at once.
pub fn signal(fd: c_int) {
    let one = 1u64;
    // SAFETY: writes 8 bytes from `one`, which outlives the call.
    let _ = unsafe { sys::write(fd, (&raw const one).cast(), 8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_devices_in_memory_by_name() {
        for name in ["zram0", "zram12", "ram0", "pmem0", "pmem0s", "pmem1.2"] {
            assert!(in_memory_device_name(name.as_bytes()), "{name}");
        }
        for name in [
            "vda", "loop0", "nvme0n1", "zram", "ramdisk", "dm-0", "md0", "",
        ] {
            assert!(!in_memory_device_name(name.as_bytes()), "{name}");
        }
    }
}
