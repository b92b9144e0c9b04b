//! The C types of `libaio.h`, laid out exactly as libaio 0.3.113 lays them out.
//!
//! `include/libaio.h` is generated from this file by cbindgen (see tools/header
//! and cbindgen.toml), so the documentation here is the header's too.
//!
//! # Layout classes
//!
//! The kernel's `struct iocb` and `struct io_event` are made of fixed
//! 64-bit fields. libaio's C structs put a pointer or an `unsigned long` in
//! each of them, so on 32-bit targets a 32-bit pad field sits next to the
//! value: after it on little-endian machines, before it on big-endian ones.
//! Two 32-bit fields sharing a 64-bit slot (`key` and `aio_rw_flags`, poll's
//! `events` and `__pad1`) swap places on big-endian machines.
//!
//! Only the byte order and the word size decide the layout, so every field
//! below that depends on them carries a `cfg` on `target_endian` and
//! `target_pointer_width`. In the generated header these become tests of
//! `__LIBAIO_BIG_ENDIAN` / `__LIBAIO_LITTLE_ENDIAN` and `__LIBAIO_ILP32` /
//! `__LIBAIO_LP64`, which the header derives from the compiler's
//! `__BYTE_ORDER__` and `__SIZEOF_LONG__`. Pad fields keep libaio's names and
//! types, so code that names them still compiles.
//!
//! The asserts at the end pin the layout on every target this crate is
//! built for; `c-tests/layout` compares the generated header against the
//! system's `libaio.h` under five compilers.

#![allow(non_camel_case_types)]
// Most of these types exist for C programs (and the header); the library
// itself only reads `io_event`.
#![allow(dead_code)]

use core::ffi::{c_int, c_long, c_longlong, c_short, c_uint, c_ulong, c_void};

#[cfg(not(any(target_pointer_width = "32", target_pointer_width = "64")))]
compile_error!("libaio's structures are defined for 32-bit and 64-bit targets only");

/// A kernel AIO context, opaque: an `io_context_t` points at its ring.
///
/// Never defined: the handle is the address of the context's completion ring
/// in this process's memory.
pub struct io_context {
    _private: [u8; 0],
}

/// A handle to a kernel AIO context, as `io_setup()` returns it.
///
/// Its value is the user address of the kernel's completion ring (`struct
/// aio_ring`); programs such as QEMU and fio read the ring through it.
pub type io_context_t = *mut io_context;

/// A completion callback: `io_set_callback()` stores it, `io_queue_run()` calls it.
///
/// It lives in the iocb's `data` field, and receives the completion's
/// results converted to `long`.
pub type io_callback_t =
    Option<unsafe extern "C" fn(ctx: io_context_t, iocb: *mut iocb, res: c_long, res2: c_long)>;

/// The operation an iocb asks for, in `iocb->aio_lio_opcode`.
///
/// The values are the kernel's `IOCB_CMD_*` numbers; 4 (the kernel's
/// never-merged PREADX) is unused.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum io_iocb_cmd {
    /// Read `u.c.nbytes` bytes at `u.c.offset` into `u.c.buf`.
    IO_CMD_PREAD = 0,
    /// Write `u.c.nbytes` bytes from `u.c.buf` at `u.c.offset`.
    IO_CMD_PWRITE = 1,
    /// fsync(2) the file.
    IO_CMD_FSYNC = 2,
    /// fdatasync(2) the file.
    IO_CMD_FDSYNC = 3,
    /// Wait for the poll(2) events in `u.poll.events`.
    IO_CMD_POLL = 5,
    /// Does nothing (the kernel rejects it with EINVAL).
    IO_CMD_NOOP = 6,
    /// Scatter read into the `u.c.nbytes` iovecs at `u.c.buf`.
    IO_CMD_PREADV = 7,
    /// Gather write from the `u.c.nbytes` iovecs at `u.c.buf`.
    IO_CMD_PWRITEV = 8,
}

/// The same type under its typedef name.
pub type io_iocb_cmd_t = io_iocb_cmd;

/// Arguments of `IO_CMD_POLL` (`iocb->u.poll`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_iocb_poll {
    /// Padding (zero).
    #[cfg(target_endian = "big")]
    pub __pad1: c_uint,
    /// The poll(2) events to wait for; the result is the events that fired.
    pub events: c_int,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "64"))]
    pub __pad1: c_int,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
}

/// A socket address argument (`iocb->u.saddr`); no kernel command uses it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_iocb_sockaddr {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// The address.
    pub addr: *mut libc::sockaddr,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// Its length.
    pub len: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad2: c_uint,
}

/// Arguments of reads, writes and syncs: `iocb->u.c`.
///
/// The completion's result is the number of bytes transferred, or a negated
/// errno.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_iocb_common {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// The buffer (or, for the vector commands, the iovec array).
    pub buf: *mut c_void,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// Bytes to transfer (or, for the vector commands, the iovec count).
    pub nbytes: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// File offset.
    pub offset: c_longlong,
    /// Reserved (the kernel's `aio_reserved2`); must be zero.
    pub __pad3: c_longlong,
    /// `IOCB_FLAG_*` flags: bit 0 (RESFD) makes the kernel signal `resfd`.
    pub flags: c_uint,
    /// An eventfd to signal on completion, when bit 0 of `flags` is set.
    pub resfd: c_uint,
}

/// Arguments of the vector commands: `iocb->u.v`, an overlay of `u.c`.
///
/// `vec` is `u.c.buf` and `nr` is `u.c.nbytes`; the io_prep_*v helpers fill
/// them in through `u.c`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_iocb_vector {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// The iovec array.
    pub vec: *const libc::iovec,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// The number of iovecs.
    pub nr: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// File offset.
    pub offset: c_longlong,
}

/// The command-specific part of an iocb (`iocb->u`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union iocb_u {
    /// Reads, writes, syncs and the vector commands.
    pub c: io_iocb_common,
    /// The vector commands.
    pub v: io_iocb_vector,
    /// `IO_CMD_POLL`.
    pub poll: io_iocb_poll,
    /// A socket address.
    pub saddr: io_iocb_sockaddr,
}

/// An I/O control block: one request to the kernel (64 bytes).
///
/// It has the kernel's `struct iocb` layout.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct iocb {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Returned untouched in the completion's `data` (io_set_callback's slot).
    pub data: *mut c_void,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Set by the kernel at submission (`aio_key`); io_cancel needs it intact.
    #[cfg(target_endian = "little")]
    pub key: c_uint,
    /// `RWF_*` flags for reads and writes (`RWF_NOWAIT`, `RWF_HIPRI`, ...).
    pub aio_rw_flags: c_uint,
    /// Set by the kernel at submission (`aio_key`); io_cancel needs it intact.
    #[cfg(target_endian = "big")]
    pub key: c_uint,
    /// The command, one of `enum io_iocb_cmd`.
    pub aio_lio_opcode: c_short,
    /// I/O priority, used with `IOCB_FLAG_IOPRIO` in `u.c.flags`.
    pub aio_reqprio: c_short,
    /// The file descriptor.
    pub aio_fildes: c_int,
    /// The command's arguments.
    pub u: iocb_u,
}

/// A completion, as `io_getevents()` returns it (32 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_event {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// The iocb's `data` at submission.
    pub data: *mut c_void,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad1: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// The iocb this event completes.
    pub obj: *mut iocb,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad2: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad3: c_uint,
    /// The result: bytes, poll events, or a negated errno (read it as `long`).
    pub res: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad3: c_uint,
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __pad4: c_uint,
    /// A second result, 0 for every current command.
    pub res2: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __pad4: c_uint,
}

/// The kernel's `struct __aio_sigset`, as io_pgetevents(2) takes it.
///
/// A Debian addition to libaio.h.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_sigset {
    /// Address of the `sigset_t`, or 0.
    pub ss: c_ulong,
    /// Size of the kernel's signal set in bytes.
    pub ss_len: c_ulong,
}

/// `struct io_sigset` with the address widened to 64 bits.
///
/// For 32-bit programs on 64-bit kernels; a Debian addition to libaio.h.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_sigset_compat {
    /// Padding (zero).
    #[cfg(all(target_endian = "big", target_pointer_width = "32"))]
    pub __ss_pad: c_uint,
    /// Address of the `sigset_t`, or 0.
    pub ss: c_ulong,
    /// Padding (zero).
    #[cfg(all(target_endian = "little", target_pointer_width = "32"))]
    pub __ss_pad: c_uint,
    /// Size of the kernel's signal set in bytes.
    pub ss_len: c_ulong,
}

/// Layout checks, for whichever target this is built for. The offsets are
/// the kernel's (`linux/aio_abi.h`), which libaio's structs mirror.
mod layout {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    /// Where a pointer or `unsigned long` sits in its 64-bit slot.
    const WORD_IN_SLOT: usize = if cfg!(all(target_endian = "big", target_pointer_width = "32")) {
        4
    } else {
        0
    };
    /// Where `key` (and poll's `events`) sits in its 64-bit slot.
    const LOW_HALF: usize = if cfg!(target_endian = "big") { 4 } else { 0 };

    // Aligned like its `long long` fields: 8 bytes, but 4 on i386.
    const _: () =
        assert!(size_of::<iocb>() == 64 && align_of::<iocb>() == align_of::<c_longlong>());
    const _: () = assert!(offset_of!(iocb, data) == WORD_IN_SLOT);
    const _: () = assert!(offset_of!(iocb, key) == 8 + LOW_HALF);
    const _: () = assert!(offset_of!(iocb, aio_rw_flags) == 12 - LOW_HALF);
    const _: () = assert!(offset_of!(iocb, aio_lio_opcode) == 16);
    const _: () = assert!(offset_of!(iocb, aio_reqprio) == 18);
    const _: () = assert!(offset_of!(iocb, aio_fildes) == 20);
    const _: () = assert!(offset_of!(iocb, u) == 24 && size_of::<iocb_u>() == 40);

    const _: () = assert!(size_of::<io_iocb_common>() == 40);
    const _: () = assert!(offset_of!(io_iocb_common, buf) == WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_iocb_common, nbytes) == 8 + WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_iocb_common, offset) == 16);
    const _: () = assert!(offset_of!(io_iocb_common, __pad3) == 24);
    const _: () = assert!(offset_of!(io_iocb_common, flags) == 32);
    const _: () = assert!(offset_of!(io_iocb_common, resfd) == 36);

    const _: () = assert!(size_of::<io_iocb_vector>() == 24);
    const _: () = assert!(offset_of!(io_iocb_vector, vec) == offset_of!(io_iocb_common, buf));
    const _: () = assert!(offset_of!(io_iocb_vector, nr) == offset_of!(io_iocb_common, nbytes));
    const _: () = assert!(offset_of!(io_iocb_vector, offset) == offset_of!(io_iocb_common, offset));

    const _: () = assert!(size_of::<io_iocb_poll>() == 8);
    const _: () = assert!(offset_of!(io_iocb_poll, events) == LOW_HALF);

    const _: () = assert!(size_of::<io_iocb_sockaddr>() == 16);
    const _: () = assert!(offset_of!(io_iocb_sockaddr, addr) == WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_iocb_sockaddr, len) == offset_of!(io_iocb_common, nbytes));

    const _: () = assert!(size_of::<io_event>() == 32);
    const _: () = assert!(offset_of!(io_event, data) == WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_event, obj) == 8 + WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_event, res) == 16 + WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_event, res2) == 24 + WORD_IN_SLOT);

    const _: () = assert!(size_of::<io_sigset>() == 2 * size_of::<c_ulong>());
    const _: () = assert!(offset_of!(io_sigset_compat, ss) == WORD_IN_SLOT);
    const _: () = assert!(offset_of!(io_sigset_compat, ss_len) == 8);

    const _: () = assert!(size_of::<io_iocb_cmd>() == size_of::<c_int>());
    const _: () = assert!(size_of::<io_callback_t>() == size_of::<*mut c_void>());
}
