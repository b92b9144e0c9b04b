//! The kernel's io_uring interface (`linux/io_uring.h`), as much of it as
//! the backend uses: the setup parameters, the submission and completion
//! queue entries, the wait argument, the probe and the synchronous cancel.
//!
//! Every field has a fixed width, so the layouts are the same on every
//! architecture; the asserts at the end pin them.

#![allow(dead_code)]

/// `struct io_sqring_offsets`: where the submission ring's fields are in
/// its mapping.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct SqOffsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub flags: u32,
    pub dropped: u32,
    pub array: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_cqring_offsets`: where the completion ring's fields are.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CqOffsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub overflow: u32,
    pub cqes: u32,
    pub flags: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_uring_params`, io_uring_setup(2)'s in-and-out argument.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Params {
    pub sq_entries: u32,
    pub cq_entries: u32,
    pub flags: u32,
    pub sq_thread_cpu: u32,
    pub sq_thread_idle: u32,
    pub features: u32,
    pub wq_fd: u32,
    pub resv: [u32; 3],
    pub sq_off: SqOffsets,
    pub cq_off: CqOffsets,
}

/// `struct io_uring_sqe`: one submission (64 bytes). The unions of the C
/// header are flattened to the members the backend uses.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Sqe {
    pub opcode: u8,
    pub flags: u8,
    pub ioprio: u16,
    pub fd: i32,
    /// `off` (or `addr2`).
    pub off: u64,
    /// `addr` (or `splice_off_in`).
    pub addr: u64,
    pub len: u32,
    /// `rw_flags`, `fsync_flags`, `poll32_events`, `timeout_flags`...
    pub op_flags: u32,
    pub user_data: u64,
    pub buf_index: u16,
    pub personality: u16,
    pub file_index: i32,
    pub addr3: u64,
    pub pad2: u64,
}

/// `struct io_uring_cqe`: one completion (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Cqe {
    pub user_data: u64,
    pub res: i32,
    pub flags: u32,
}

/// `struct __kernel_timespec`: 64-bit seconds on every architecture.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

/// `struct io_uring_getevents_arg`, passed with `IORING_ENTER_EXT_ARG`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct GeteventsArg {
    /// A `sigset_t *`, or 0.
    pub sigmask: u64,
    pub sigmask_sz: u32,
    pub min_wait_usec: u32,
    /// A `struct __kernel_timespec *` (relative), or 0: no limit.
    pub ts: u64,
}

/// `struct io_uring_sync_cancel_reg`, for `IORING_REGISTER_SYNC_CANCEL`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct SyncCancel {
    pub addr: u64,
    pub fd: i32,
    pub flags: u32,
    pub timeout: Timespec,
    pub opcode: u8,
    pub pad: [u8; 7],
    pub pad2: [u64; 3],
}

/// `struct io_uring_probe_op`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ProbeOp {
    pub op: u8,
    pub resv: u8,
    pub flags: u16,
    pub resv2: u32,
}

/// `struct io_uring_probe` with room for every opcode.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Probe {
    pub last_op: u8,
    pub ops_len: u8,
    pub resv: u16,
    pub resv2: [u32; 3],
    pub ops: [ProbeOp; PROBE_OPS],
}

/// How many opcodes a probe asks about.
pub const PROBE_OPS: usize = 64;

/// `IO_URING_OP_SUPPORTED`, in [`ProbeOp::flags`].
pub const OP_SUPPORTED: u16 = 1;

// Opcodes.
pub const OP_NOP: u8 = 0;
pub const OP_READV: u8 = 1;
pub const OP_WRITEV: u8 = 2;
pub const OP_FSYNC: u8 = 3;
pub const OP_POLL_ADD: u8 = 6;
pub const OP_TIMEOUT: u8 = 11;
pub const OP_READ: u8 = 22;
pub const OP_WRITE: u8 = 23;

/// `IOSQE_IO_HARDLINK`: the next entry runs after this one, whatever its
/// result.
pub const SQE_IO_HARDLINK: u8 = 1 << 3;

/// `IORING_FSYNC_DATASYNC`.
pub const FSYNC_DATASYNC: u32 = 1;

// Setup flags.
pub const SETUP_CQSIZE: u32 = 1 << 3;
pub const SETUP_SUBMIT_ALL: u32 = 1 << 7;

// Features the kernel reports.
pub const FEAT_SINGLE_MMAP: u32 = 1 << 0;
pub const FEAT_NODROP: u32 = 1 << 1;
pub const FEAT_SUBMIT_STABLE: u32 = 1 << 2;
pub const FEAT_EXT_ARG: u32 = 1 << 8;

// io_uring_enter flags.
pub const ENTER_GETEVENTS: u32 = 1 << 0;
pub const ENTER_EXT_ARG: u32 = 1 << 3;

/// `IORING_SQ_CQ_OVERFLOW`, in the submission ring's flags: completions
/// wait in the kernel for room in the completion ring.
pub const SQ_CQ_OVERFLOW: u32 = 1 << 1;

// io_uring_register opcodes.
pub const REGISTER_PROBE: u32 = 8;
pub const REGISTER_SYNC_CANCEL: u32 = 24;

// mmap offsets.
pub const OFF_SQ_RING: u64 = 0;
pub const OFF_CQ_RING: u64 = 0x800_0000;
pub const OFF_SQES: u64 = 0x1000_0000;

/// Most completion-queue entries an instance may have (`IORING_MAX_CQ_ENTRIES`).
pub const MAX_CQ_ENTRIES: u32 = 65536;
/// Most submission-queue entries (`IORING_MAX_ENTRIES`).
pub const MAX_SQ_ENTRIES: u32 = 32768;

const _: () = assert!(core::mem::size_of::<Params>() == 120);
const _: () = assert!(core::mem::size_of::<Sqe>() == 64);
const _: () = assert!(core::mem::offset_of!(Sqe, user_data) == 32); // word 4
const _: () = assert!(core::mem::offset_of!(Sqe, op_flags) == 28);
const _: () = assert!(core::mem::size_of::<Cqe>() == 16);
const _: () = assert!(core::mem::size_of::<GeteventsArg>() == 24);
const _: () = assert!(core::mem::size_of::<SyncCancel>() == 64);
const _: () = assert!(core::mem::size_of::<ProbeOp>() == 8);
const _: () = assert!(core::mem::offset_of!(Probe, ops) == 16);
