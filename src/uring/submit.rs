//! io_submit(2) under the backend: each iocb checked as the kernel's
//! io_submit checks it, in the same order, so that the same iocbs are
//! refused with the same errors and the same partial counts (io_uring would
//! accept them and fail them later, in their completions), then turned into
//! submission queue entries and submitted with one system call.
//!
//! What the kernel checks at submission, and where it is checked here:
//!
//! - the reserved field and the sizes (`EINVAL`);
//! - room for one more request (`EAGAIN`): [`Uring::reserve`];
//! - the descriptor (`EBADF`), with fcntl(2), and for reads and writes its
//!   access mode (`EBADF`);
//! - `IOCB_FLAG_RESFD`: an open descriptor (`EBADF`) that is an eventfd
//!   (`EINVAL`), from `/proc/self/fd`;
//! - the opcode (`EINVAL`; io_uring's NOP must not stand in for libaio's
//!   `IO_CMD_NOOP`, which the kernel refuses);
//! - for reads and writes: the I/O priority with `IOCB_FLAG_IOPRIO`
//!   (`EINVAL`, `EPERM`), the `RWF_*` flags (`EOPNOTSUPP`, `EINVAL`;
//!   `RWF_HIPRI` is dropped, as kernel AIO drops it, where io_uring would
//!   fail the request), the buffer or iovec array (`EFAULT`, `EINVAL`), a
//!   negative or overflowing offset (`EINVAL`; io_uring would read at the
//!   file position and move it);
//! - for fsync: no buffer, offset, size or flags (`EINVAL`), a file that
//!   can be synced (`EINVAL` for pipes, sockets, devices...);
//! - for polls: events within 16 bits, no offset, size or flags (`EINVAL`).
//!
//! What only the file system knows (a file without `read_iter`,
//! `RWF_NOWAIT` on a file that cannot honour it...) is reported in the
//! completion instead: README.md lists it.
//!
//! `IOCB_FLAG_RESFD` is kernel AIO's eventfd signal per completion: here a
//! write of 1 to the eventfd, hard-linked after the request, so that it
//! follows its completion whatever the result.

use core::ffi::{c_int, c_long};
use core::sync::atomic::Ordering;

use super::inline::{self, Attempt, Class};
use super::kernel::{self, Sqe};
use super::{
    KIND_EVENTFD, KIND_REQUEST, SLOT_IN_FLIGHT, SLOT_IOVECS, SLOT_LINK, SLOT_POLL, SLOT_REARM,
    SLOT_RESUBMIT, SLOT_STREAM, Tag, Uring, exit, page_size,
};
use crate::abi::iocb;
use crate::sys::{self, Errno, SysResult, plausible_user_address};

/// `IOCB_FLAG_RESFD` and `IOCB_FLAG_IOPRIO`, in the iocb's flags.
const FLAG_RESFD: u32 = 1 << 0;
const FLAG_IOPRIO: u32 = 1 << 1;

// The kernel's IOCB_CMD_* opcodes.
const CMD_PREAD: i16 = 0;
const CMD_PWRITE: i16 = 1;
const CMD_FSYNC: i16 = 2;
const CMD_FDSYNC: i16 = 3;
const CMD_POLL: i16 = 5;
const CMD_PREADV: i16 = 7;
const CMD_PWRITEV: i16 = 8;

// RWF_* flags.
const RWF_HIPRI: u32 = 0x01;
const RWF_APPEND: u32 = 0x10;
const RWF_NOAPPEND: u32 = 0x20;
const RWF_ATOMIC: u32 = 0x40;
/// Every flag Linux knows (6.14: up to `RWF_DONTCACHE`); others are
/// `EOPNOTSUPP`.
const RWF_KNOWN: u32 = 0xff;

/// The most iovecs one request may have (`UIO_MAXIOV`).
const UIO_MAXIOV: u64 = 1024;

/// The buffer of the eventfd signal: the 1 added to the counter.
static ONE: u64 = 1;

/// One checked iocb, ready to become submission queue entries.
struct Request {
    sqe: Sqe,
    /// The iocb's address and `aio_data`, for its event.
    obj: usize,
    data: u64,
    /// The library's duplicate of `IOCB_FLAG_RESFD`'s eventfd.
    resfd: Option<c_int>,
    poll: bool,
    /// A read or write of a stream ([`Class::Stream`]).
    stream: bool,
    /// A vectored request's iovecs, when few enough to keep a copy.
    iovecs: Option<[libc::iovec; SLOT_IOVECS]>,
}

/// A submission in progress: entries filled but not yet handed to the
/// kernel, all under the submit lock.
struct Batch<'a> {
    uring: &'a Uring,
    /// The submission queue's tail as this batch has filled it.
    tail: u32,
    /// Entries filled since the last system call.
    queued: u32,
    /// Requests were done at once while threads wait in the kernel.
    wake: bool,
}

/// io_submit(2) on a context the backend serves.
///
/// # Safety
///
/// `iocbs` holds `nr` pointers to iocbs that stay valid, with their
/// buffers, until their completions are reaped (as for the kernel). The
/// array, the iocbs and their iovec arrays are read here, so they must be
/// readable (NULL and kernel addresses get `EFAULT`, as from the kernel).
pub unsafe fn submit(uring: &Uring, nr: c_long, iocbs: *mut *mut iocb) -> SysResult {
    if nr < 0 || uring.is_dead() {
        return Err(Errno::EINVAL);
    }
    let nr = (nr as u64).min(u64::from(uring.ring_nr())) as usize;
    if nr == 0 {
        return Ok(0);
    }
    // A signal handler that interrupted a submission on this context in
    // this thread cannot add to the queue meanwhile.
    let Some(_lock) = uring.submit_lock.lock() else {
        return Err(Errno::EAGAIN);
    };
    if uring.is_dead() {
        return Err(Errno::EINVAL);
    }
    let owner = exit::this_thread_submits();
    let mut batch = Batch::new(uring);
    // Relaxed: a hint; the slots say which.
    if uring.resubmits.load(Ordering::Relaxed) > 0 {
        batch.resubmit_pending(owner);
    }
    let mut files = Files::default();
    let mut submitted = 0;
    let mut refused = None;
    for i in 0..nr {
        // SAFETY: the caller's contract.
        match unsafe { check(uring, iocbs, i, &mut files) } {
            Ok(Checked::Queue(request)) => {
                batch.add(request, owner);
                submitted += 1;
            }
            Ok(Checked::Done(event, resfd)) => {
                batch.complete_now(event, resfd);
                submitted += 1;
            }
            Err(errno) => {
                refused = Some(errno);
                break;
            }
        }
    }
    batch.finish();
    match refused {
        Some(errno) if submitted == 0 => Err(errno),
        _ => Ok(submitted as c_int),
    }
}

/// Checks iocb `i` of `iocbs` as the kernel does, reserving room for it
/// (kept when it is submitted), and writes its `aio_key` as the kernel does.
///
/// # Safety
///
/// As for [`submit`].
unsafe fn check(
    uring: &Uring,
    iocbs: *mut *mut iocb,
    i: usize,
    files: &mut Files,
) -> Result<Checked, Errno> {
    let element = iocbs.wrapping_add(i);
    if !plausible_user_address(element as usize) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the caller's contract; the kernel reads it unaligned too.
    let ptr = unsafe { element.read_unaligned() };
    if !plausible_user_address(ptr as usize) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: as above.
    let cb = unsafe { ptr.read_unaligned() };
    // The kernel's fixed-width fields (struct iocb in linux/aio_abi.h).
    // SAFETY: an iocb is 8 words.
    let words = unsafe { ptr.cast::<[u64; 8]>().read_unaligned() };
    let (data, buf, nbytes, offset, reserved) =
        (words[0], words[3], words[4], words[5] as i64, words[6]);
    // SAFETY: reading the plain-data union as its common member.
    let (flags, resfd) = unsafe { (cb.u.c.flags, cb.u.c.resfd) };
    if reserved != 0 {
        return Err(Errno::EINVAL);
    }
    // The kernel's overflow check: a buffer and size must fit the machine's
    // words (on 32-bit targets the upper halves must be 0).
    if buf != buf as usize as u64 || nbytes != nbytes as usize as u64 || (nbytes as isize) < 0 {
        return Err(Errno::EINVAL);
    }
    let room = uring.reserve().ok_or(Errno::EAGAIN)?;
    let fd = cb.aio_fildes;
    let op = cb.aio_lio_opcode;
    let write = op == CMD_PWRITE || op == CMD_PWRITEV;
    let rw = write || op == CMD_PREAD || op == CMD_PREADV;
    // A read or write that is tried at once checks the descriptor itself
    // (the kernel answers EBADF for a bad one or the wrong access mode);
    // anything else is checked here, as kernel AIO's fget() checks it.
    let class = if rw { uring.classes.get(fd) } else { None };
    let at_once = class.is_some_and(|c| matches!(c, Class::Memory | Class::Cached));
    let wants_resfd = flags & FLAG_RESFD != 0;
    let mode = if at_once && !wants_resfd {
        None
    } else {
        Some(files.mode(fd)?)
    };
    if wants_resfd {
        files.eventfd(resfd as c_int)?;
    }
    if cb.key != 0 {
        // The kernel writes the key (KIOCB_KEY, 0), which io_cancel checks.
        // SAFETY: the caller's iocb (the kernel writes it too).
        unsafe { (&raw mut (*ptr).key).write_unaligned(0) };
    }
    let resfd = wants_resfd.then_some(resfd as c_int);
    let mut sqe = Sqe {
        fd,
        user_data: 0,
        ..Sqe::default()
    };
    let rw_flags = cb.aio_rw_flags;
    let mut poll = false;
    let mut stream = false;
    let mut iovecs = None;
    match op {
        _ if rw => {
            if flags & FLAG_IOPRIO != 0 {
                check_ioprio(i32::from(cb.aio_reqprio))?;
                sqe.ioprio = cb.aio_reqprio as u16;
            }
            check_rw_flags(rw_flags, write)?;
            if let Some(mode) = mode {
                check_access(mode, write)?;
            }
            // What is known of the descriptor number may be another file's:
            // O_DIRECT lost shows it (as does a stream's ESPIPE, below).
            let stale = |mode: c_int| mode & libc::O_DIRECT == 0;
            let class = match class {
                Some(Class::Kernel) if mode.is_some_and(stale) => None,
                known => known,
            };
            let class = class.unwrap_or_else(|| {
                // Known from the check above when not known before.
                let class = inline::classify(fd, mode.unwrap_or(0));
                uring.classes.set(fd, class);
                class
            });
            // A directory has no read_iter: the kernel refuses it here.
            if class == Class::Directory {
                return Err(Errno::EINVAL);
            }
            let vectored = op == CMD_PREADV || op == CMD_PWRITEV;
            // SAFETY: the caller's contract (the iovec array is read).
            let count = unsafe { check_buffers(buf, nbytes, vectored) }?;
            if vectored && nbytes as usize <= SLOT_IOVECS {
                let mut copy = [libc::iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                }; SLOT_IOVECS];
                for (i, iov) in copy.iter_mut().take(nbytes as usize).enumerate() {
                    // SAFETY: checked readable by check_buffers.
                    *iov = unsafe { (buf as usize as *const libc::iovec).add(i).read_unaligned() };
                }
                iovecs = Some(copy);
            }
            if offset < 0 || offset.checked_add(count as i64).is_none() {
                return Err(Errno::EINVAL);
            }
            let one = libc::iovec {
                iov_base: buf as usize as *mut core::ffi::c_void,
                iov_len: count as usize,
            };
            let (iov, segments) = if vectored {
                (buf as usize as *const libc::iovec, nbytes as usize)
            } else {
                (&raw const one, 1)
            };
            let flags = rw_flags & !RWF_HIPRI;
            let io = inline::Io {
                write,
                fd,
                iov,
                segments,
                total: count,
                offset,
                rw_flags: flags,
            };
            // SAFETY: the caller's contract; the iovecs were checked.
            match unsafe { inline::attempt(class, &io) } {
                Attempt::Done(res) => {
                    room.keep();
                    return Ok(Checked::Done([data, ptr as u64, res as u64, 0], resfd));
                }
                Attempt::Refused(errno) => return Err(errno),
                Attempt::Unable => uring.classes.set(fd, Class::Kernel),
                Attempt::Stream => {
                    // Not checked above: tried at once.
                    check_access(files.mode(fd)?, write)?;
                    uring.classes.set(fd, Class::Stream);
                }
                Attempt::Later => {}
            }
            stream = matches!(uring.classes.get(fd), Some(Class::Stream));
            sqe.opcode = match (vectored, write) {
                (false, false) => kernel::OP_READ,
                (false, true) => kernel::OP_WRITE,
                (true, false) => kernel::OP_READV,
                (true, true) => kernel::OP_WRITEV,
            };
            sqe.addr = buf;
            sqe.len = if vectored {
                nbytes as u32
            } else {
                count as u32
            };
            sqe.off = offset as u64;
            sqe.op_flags = flags;
        }
        op @ (CMD_FSYNC | CMD_FDSYNC) => {
            if buf != 0 || offset != 0 || nbytes != 0 || rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            // Only files with an fsync operation: regular files,
            // directories, block devices.
            let kind = sys::file_type(fd).map_err(|_| Errno::EBADF)?;
            if ![libc::S_IFREG, libc::S_IFDIR, libc::S_IFBLK].contains(&kind) {
                return Err(Errno::EINVAL);
            }
            sqe.opcode = kernel::OP_FSYNC;
            if op == CMD_FDSYNC {
                sqe.op_flags = kernel::FSYNC_DATASYNC;
            }
        }
        CMD_POLL => {
            if buf != u64::from(buf as u16) || offset != 0 || nbytes != 0 || rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            // Ready already: kernel AIO completes the poll inside io_submit,
            // with the events asked for that are ready, as poll(2) answers.
            let ready = sys::poll_now(fd, buf as u16 as i16).map_err(|_| Errno::EBADF)?;
            if ready != 0 {
                room.keep();
                let res = u64::from(ready as u16);
                return Ok(Checked::Done([data, ptr as u64, res, 0], resfd));
            }
            // Later, kernel AIO reports what the wake-up says, which for
            // "readable" and "writable" carries the *NORM twins (a pipe, an
            // eventfd): asked for too, so that io_uring reports them.
            let mut events = buf as u32;
            if events & libc::POLLIN as u32 != 0 {
                events |= libc::POLLRDNORM as u32;
            }
            if events & libc::POLLOUT as u32 != 0 {
                events |= libc::POLLWRNORM as u32;
            }
            sqe.opcode = kernel::OP_POLL_ADD;
            // The kernel swaps the halves of poll32_events on big-endian
            // machines.
            sqe.op_flags = if cfg!(target_endian = "big") {
                events.rotate_left(16)
            } else {
                events
            };
            poll = true;
        }
        _ => return Err(Errno::EINVAL),
    }
    // The library's own reference to the eventfd, held until the signal is
    // done (the program may close its descriptor meanwhile).
    let resfd = match resfd {
        Some(fd) => Some(sys::dup(fd).map_err(|_| Errno::EBADF)?),
        None => None,
    };
    room.keep();
    Ok(Checked::Queue(Request {
        sqe,
        obj: ptr as usize,
        data,
        resfd,
        poll,
        stream,
        iovecs,
    }))
}

/// What becomes of a checked iocb.
enum Checked {
    /// It goes to io_uring.
    Queue(Request),
    /// It was done at once (`inline`): its event (the kernel's four words),
    /// and the eventfd to signal.
    Done([u64; 4], Option<c_int>),
}

/// Checks a descriptor's access mode (its `F_GETFL` flags) for a read or a
/// write, as the kernel's aio_read() and aio_write() do (`EBADF`).
fn check_access(mode: c_int, write: bool) -> Result<(), Errno> {
    // O_RDONLY reads, O_WRONLY writes, O_RDWR both (3: neither).
    let (reads, writes) = match mode & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        libc::O_RDWR => (true, true),
        _ => (false, false),
    };
    if if write { writes } else { reads } {
        Ok(())
    } else {
        Err(Errno::EBADF)
    }
}

/// Checks an I/O priority as the kernel's ioprio_check_cap() does.
fn check_ioprio(prio: i32) -> Result<(), Errno> {
    const CLASS_SHIFT: u32 = 13;
    const LEVEL_MASK: i32 = 7;
    match (prio >> CLASS_SHIFT) & 7 {
        // Real time: privileged.
        1 if !sys::may_use_realtime_io_priority() => Err(Errno::EPERM),
        // Real time, best effort, idle.
        1..=3 => Ok(()),
        // None: no level.
        0 if prio & LEVEL_MASK == 0 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// Checks `RWF_*` flags as the kernel's kiocb_set_rw_flags() does, as far
/// as it can be without knowing the file.
fn check_rw_flags(flags: u32, write: bool) -> Result<(), Errno> {
    if flags & !RWF_KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & RWF_APPEND != 0 && flags & RWF_NOAPPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & RWF_ATOMIC != 0 && !write {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// Checks a request's buffer as the kernel imports it: `buf` and `nbytes`
/// are the buffer and its size, or the iovec array and its length; returns
/// the number of bytes to transfer (capped, as the kernel caps it).
///
/// # Safety
///
/// For a vectored request, the iovec array is readable.
unsafe fn check_buffers(buf: u64, nbytes: u64, vectored: bool) -> Result<u64, Errno> {
    let max = max_rw_count();
    if !vectored {
        let len = nbytes.min(max);
        return if user_range(buf, len) {
            Ok(len)
        } else {
            Err(Errno::EFAULT)
        };
    }
    if nbytes > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    if nbytes == 0 {
        return Ok(0);
    }
    if !user_range(buf, nbytes * size_of::<libc::iovec>() as u64) {
        return Err(Errno::EFAULT);
    }
    let iovecs = buf as usize as *const libc::iovec;
    let mut total = 0u64;
    for i in 0..nbytes as usize {
        // SAFETY: the caller's contract: nbytes iovecs.
        let iov = unsafe { iovecs.add(i).read_unaligned() };
        let (base, len) = (iov.iov_base as u64, iov.iov_len as u64);
        // One iovec is imported like a plain buffer (capped first); more
        // are checked as they are.
        let checked = if nbytes == 1 { len.min(max) } else { len };
        if !user_range(base, checked) {
            return Err(Errno::EFAULT);
        }
        total += checked.min(max - total);
    }
    Ok(total)
}

/// `MAX_RW_COUNT`: the most one read or write transfers.
fn max_rw_count() -> u64 {
    (i32::MAX as u64) & !(page_size() as u64 - 1)
}

/// The kernel's access_ok(): `len` bytes at `addr` lie in user space.
fn user_range(addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    if cfg!(target_pointer_width = "32") {
        end <= 1 << 32
    } else {
        end <= 1 << 63
    }
}

/// Descriptors already checked in this io_submit.
#[derive(Default)]
struct Files {
    /// (descriptor, fcntl flags)
    modes: [(c_int, c_int); 4],
    known: usize,
    /// An eventfd found so.
    eventfd: Option<c_int>,
}

impl Files {
    /// The access mode and flags of `fd`, or `EBADF` as the kernel's fget.
    fn mode(&mut self, fd: c_int) -> Result<c_int, Errno> {
        if let Some(&(_, flags)) = self.modes[..self.known].iter().find(|(f, _)| *f == fd) {
            return Ok(flags);
        }
        let flags = sys::fcntl_getfl(fd).map_err(|_| Errno::EBADF)?;
        // fget() does not take O_PATH descriptors.
        if flags & libc::O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        let at = self.known % self.modes.len();
        self.modes[at] = (fd, flags);
        self.known = (self.known + 1).min(self.modes.len());
        Ok(flags)
    }

    /// `fd`, if it is an open eventfd: `EBADF` if it is not open, `EINVAL`
    /// if it is something else, as eventfd_ctx_fdget() answers.
    fn eventfd(&mut self, fd: c_int) -> Result<c_int, Errno> {
        if self.eventfd == Some(fd) {
            return Ok(fd);
        }
        self.mode(fd)?;
        let mut path = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0";
        let digits = decimal(fd as u32);
        path[14..14 + digits.len()].copy_from_slice(digits.as_bytes());
        let path = core::ffi::CStr::from_bytes_until_nul(&path).map_err(|_| Errno::EBADF)?;
        let mut target = [0u8; 32];
        match sys::readlink(path, &mut target) {
            Ok(len) if &target[..len] == b"anon_inode:[eventfd]" => {}
            Ok(_) => return Err(Errno::EINVAL),
            // Without /proc the descriptor cannot be told apart: it is
            // taken for an eventfd (README.md).
            Err(Errno::ENOENT) => {}
            Err(_) => return Err(Errno::EBADF),
        }
        self.eventfd = Some(fd);
        Ok(fd)
    }
}

/// The decimal digits of `n`.
pub(super) fn decimal(mut n: u32) -> Digits {
    let mut buf = [0u8; 10];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, at }
}

/// [`decimal`]'s result.
pub(super) struct Digits {
    buf: [u8; 10],
    at: usize,
}

impl Digits {
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    fn len(&self) -> usize {
        self.buf.len() - self.at
    }
}

impl<'a> Batch<'a> {
    /// A batch on `uring`, whose submit lock the caller holds.
    fn new(uring: &'a Uring) -> Batch<'a> {
        Batch {
            uring,
            // Relaxed: only the lock holder writes the tail.
            // SAFETY: the kernel's ring field, mapped for the state's life.
            tail: unsafe { (*uring.sq_tail).load(Ordering::Relaxed) },
            queued: 0,
            wake: false,
        }
    }

    /// Hands out the event of a request done at once: into the queue of
    /// such events, with its eventfd signal, and (when threads wait in the
    /// kernel, which knows nothing of it) a no-op completion to wake them.
    fn complete_now(&mut self, event: [u64; 4], resfd: Option<c_int>) {
        let uring = self.uring;
        uring.done.push(event);
        if let Some(fd) = resfd {
            inline::signal(fd);
        }
        // SeqCst: against a waiter's announcement (see reap::Uring::wait).
        if uring.waiters.load(Ordering::SeqCst) > 0 {
            self.wake = true;
        }
    }

    /// Ends the batch: the wake-up, if needed, and the system call.
    fn finish(&mut self) {
        if self.wake {
            if self.queued + 1 > self.uring.sq_entries {
                self.flush();
            }
            self.push(Sqe {
                opcode: kernel::OP_NOP,
                user_data: Tag {
                    slot: 0,
                    generation: 0,
                    kind: super::KIND_CONTROL,
                    owner: 0,
                }
                .encode(),
                ..Sqe::default()
            });
            self.uring.expected.fetch_add(1, Ordering::Relaxed);
            self.wake = false;
        }
        self.flush();
    }

    /// Submits again the requests left for the next submission (see
    /// [`resubmit`]).
    fn resubmit_pending(&mut self, owner: u32) {
        let uring = self.uring;
        for index in 0..uring.slot_count {
            let slot = uring.slot(index);
            // AcqRel: one thread takes it.
            if slot.state.fetch_and(!SLOT_RESUBMIT, Ordering::AcqRel) & SLOT_RESUBMIT != 0 {
                // Relaxed: a hint.
                uring.resubmits.fetch_sub(1, Ordering::Relaxed);
                self.requeue(index, owner);
            }
        }
    }

    /// Queues the request of slot `index` again (with its eventfd signal),
    /// for this thread: its entry, as kept in the slot.
    fn requeue(&mut self, index: u32, owner: u32) {
        let uring = self.uring;
        let slot = uring.slot(index);
        // Relaxed: the slot's request is this thread's to submit now.
        let resfd = slot.resfd.load(Ordering::Relaxed);
        let mut sqe = slot.entry();
        let mut tag = Tag::decode(sqe.user_data);
        tag.owner = owner;
        sqe.user_data = tag.encode();
        slot.keep_entry(&sqe);
        slot.owner.store(owner, Ordering::Relaxed);
        let links = if resfd >= 0 { SLOT_LINK } else { 0 };
        // Release: the owner's store happens before a reaper reads it.
        slot.state
            .fetch_update(Ordering::Release, Ordering::Relaxed, |state| {
                Some((state & !SLOT_REARM) + links)
            })
            .ok();
        self.queue(sqe, resfd, owner);
    }

    /// Queues `sqe` (a request's entry, as kept in its slot) and, for an
    /// eventfd `resfd`, its signal, hard-linked after it.
    fn queue(&mut self, mut sqe: Sqe, resfd: c_int, owner: u32) {
        let uring = self.uring;
        let needed = if resfd >= 0 { 2 } else { 1 };
        if self.queued + needed > uring.sq_entries {
            self.flush();
        }
        let mut signal = Tag::decode(sqe.user_data);
        signal.kind = KIND_EVENTFD;
        if resfd >= 0 {
            sqe.flags |= kernel::SQE_IO_HARDLINK;
        }
        self.push(sqe);
        if resfd >= 0 {
            self.push(Sqe {
                opcode: kernel::OP_WRITE,
                fd: resfd,
                addr: (&raw const ONE) as u64,
                len: size_of::<u64>() as u32,
                user_data: signal.encode(),
                ..Sqe::default()
            });
        }
        uring.expected.fetch_add(needed, Ordering::Relaxed);
        exit::submitted(owner, needed);
    }

    /// Queues a checked request (and its eventfd signal) in a slot of its
    /// own; the room was reserved when it was checked.
    fn add(&mut self, request: Request, owner: u32) {
        let uring = self.uring;
        // Slots are twice the capacity, and each request in flight holds
        // one: there is always one.
        let index = uring.take_slot().unwrap_or_else(unreachable_slots);
        let slot = uring.slot(index);
        // Relaxed throughout: the slot is ours until the kernel completes
        // the request, and the system call that submits it orders these
        // writes before the completion that makes the slot visible again.
        let generation = slot.generation.load(Ordering::Relaxed).wrapping_add(1);
        slot.generation.store(generation, Ordering::Relaxed);
        slot.data.store(request.data, Ordering::Relaxed);
        slot.obj.store(request.obj, Ordering::Relaxed);
        slot.owner.store(owner, Ordering::Relaxed);
        let resfd = request.resfd.unwrap_or(-1);
        slot.resfd.store(resfd, Ordering::Relaxed);
        let mut sqe = request.sqe;
        if let Some(iovecs) = request.iovecs {
            sqe.addr = slot.keep_iovecs(&iovecs);
        }
        sqe.user_data = Tag {
            slot: index,
            generation,
            kind: KIND_REQUEST,
            owner,
        }
        .encode();
        slot.keep_entry(&sqe);
        let mut state = SLOT_IN_FLIGHT;
        if request.poll {
            state |= SLOT_POLL;
        }
        if request.stream {
            state |= SLOT_STREAM;
        }
        if resfd >= 0 {
            state += SLOT_LINK;
        }
        slot.state.store(state, Ordering::Release);
        self.queue(sqe, resfd, owner);
    }

    /// Puts one entry in the submission queue.
    fn push(&mut self, sqe: Sqe) {
        let uring = self.uring;
        let at = self.tail & uring.sq_mask;
        // SAFETY: the submission queue has sq_mask + 1 entries, and the
        // kernel reads none past the tail it was given.
        unsafe { uring.sqes.add(at as usize).write(sqe) };
        self.tail = self.tail.wrapping_add(1);
        self.queued += 1;
    }

    /// Hands the queued entries to the kernel, retrying while it lacks
    /// memory: once published they cannot be taken back.
    fn flush(&mut self) {
        if self.queued == 0 {
            return;
        }
        let uring = self.uring;
        // Release: the entries are written before the kernel sees the tail.
        // SAFETY: the kernel's ring field.
        unsafe { (*uring.sq_tail).store(self.tail, Ordering::Release) };
        let mut left = self.queued;
        self.queued = 0;
        while left > 0 {
            // SAFETY: `left` entries are queued and valid; they and the
            // buffers they name are the caller's contract.
            match unsafe { uring.enter(left, 0, 0, core::ptr::null(), 0) } {
                Ok(taken) => left -= taken.min(left),
                Err(Errno::EAGAIN | Errno::ENOMEM | Errno::EBUSY | Errno::EINTR) => {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                }
                // The descriptor was closed under the library (or worse):
                // the context cannot work any more.
                Err(_) => {
                    uring.break_down();
                    return;
                }
            }
        }
    }
}

/// Submits the request of slot `index` again, from this thread: a poll
/// whose thread exited and cancelled it (see `exit`), or a request the
/// kernel cancelled before it started (see `reap`). A signal handler that
/// interrupted a submission on the context leaves it to the next
/// submission.
pub(super) fn resubmit(uring: &Uring, index: u32) {
    let Some(_lock) = uring.submit_lock.lock() else {
        let slot = uring.slot(index);
        // Release: the slot's fields before the next submitter sees it.
        slot.state.fetch_or(SLOT_RESUBMIT, Ordering::Release);
        // Relaxed: a hint, read under the lock.
        uring.resubmits.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let owner = exit::this_thread_submits();
    let mut batch = Batch::new(uring);
    batch.requeue(index, owner);
    batch.flush();
}

/// Submits one entry of the library's own (no slot: its completion is
/// dropped).
///
/// # Safety
///
/// The caller holds `uring`'s submit lock; what the entry names stays valid
/// while the call runs.
pub(super) unsafe fn push_one(uring: &Uring, sqe: Sqe) {
    let mut batch = Batch::new(uring);
    batch.push(sqe);
    uring.expected.fetch_add(1, Ordering::Relaxed);
    batch.flush();
}

#[cold]
fn unreachable_slots() -> u32 {
    // SAFETY: abort() has no preconditions.
    unsafe { libc::abort() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_priorities() {
        let prio = |class: i32, level: i32| class << 13 | level;
        assert_eq!(check_ioprio(0), Ok(()));
        assert_eq!(check_ioprio(prio(0, 1)), Err(Errno::EINVAL));
        assert_eq!(check_ioprio(prio(2, 7)), Ok(()));
        assert_eq!(check_ioprio(prio(3, 0)), Ok(()));
        assert_eq!(check_ioprio(prio(4, 0)), Err(Errno::EINVAL));
        assert_eq!(check_ioprio(-1), Err(Errno::EINVAL));
    }

    #[test]
    fn rw_flags() {
        assert_eq!(check_rw_flags(RWF_HIPRI, false), Ok(()));
        assert_eq!(check_rw_flags(0x8000_0000, false), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            check_rw_flags(RWF_APPEND | RWF_NOAPPEND, true),
            Err(Errno::EINVAL)
        );
        assert_eq!(check_rw_flags(RWF_ATOMIC, false), Err(Errno::EOPNOTSUPP));
        assert_eq!(check_rw_flags(RWF_ATOMIC, true), Ok(()));
    }

    #[test]
    fn user_ranges() {
        assert!(user_range(0x1000, 4096));
        assert!(!user_range(0xffff_ffff_8100_0000, 1));
        assert!(!user_range(u64::MAX, 2));
    }

    #[test]
    fn descriptor_digits() {
        assert_eq!(decimal(0).as_bytes(), b"0");
        assert_eq!(decimal(1234).as_bytes(), b"1234");
        assert_eq!(decimal(u32::MAX).as_bytes(), b"4294967295");
    }
}
