//! Whether this kernel can serve contexts with io_uring, asked once per
//! process at the first io_setup under the backend.
//!
//! io_uring may be missing (before 5.1), turned off
//! (`kernel.io_uring_disabled`), refused by a seccomp filter (Docker's
//! default profile makes io_uring_setup fail with `EPERM`), or too old for
//! what the backend needs:
//!
//! - `IORING_SETUP_SUBMIT_ALL` (5.18), so that one failed request does not
//!   leave the rest of a batch unsubmitted;
//! - `IORING_FEAT_NODROP`, `IORING_FEAT_SUBMIT_STABLE` (5.5: the kernel
//!   copies iovec arrays while io_submit runs, as kernel AIO does) and
//!   `IORING_FEAT_EXT_ARG` (5.11: a timeout and a signal mask for the wait);
//! - the read, write, vectored, fsync, poll and timeout operations;
//! - `IORING_REGISTER_SYNC_CANCEL` (6.0), which cancels a poll and says at
//!   once whether it did, as io_cancel(2) must.
//!
//! When any of this is missing, every context is a kernel AIO context, as
//! without the backend. (A seccomp filter that kills the process instead
//! of refusing the call cannot be probed for.)

use core::sync::atomic::{AtomicU8, Ordering};

use super::kernel::{self, Params, Probe, ProbeOp, SyncCancel, Timespec};
use crate::sys::{self, Errno};

const UNKNOWN: u8 = 0;
const USABLE: u8 = 1;
const UNUSABLE: u8 = 2;

/// What the probe found.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether io_uring can serve contexts (probed the first time).
pub fn usable() -> bool {
    // Relaxed: every thread that probes finds the same.
    match STATE.load(Ordering::Relaxed) {
        UNKNOWN => {
            let usable = probe();
            STATE.store(if usable { USABLE } else { UNUSABLE }, Ordering::Relaxed);
            usable
        }
        state => state == USABLE,
    }
}

/// Makes a small instance and asks it.
fn probe() -> bool {
    let mut params = Params {
        flags: kernel::SETUP_CQSIZE | kernel::SETUP_SUBMIT_ALL,
        cq_entries: 16,
        ..Params::default()
    };
    // SAFETY: params is a struct io_uring_params.
    let Ok(fd) = (unsafe { sys::io_uring_setup(8, (&raw mut params).cast()) }) else {
        return false;
    };
    let needed = kernel::FEAT_SINGLE_MMAP
        | kernel::FEAT_NODROP
        | kernel::FEAT_SUBMIT_STABLE
        | kernel::FEAT_EXT_ARG;
    let usable = params.features & needed == needed && operations(fd) && sync_cancel(fd);
    sys::close(fd);
    usable
}

/// Whether the instance `fd` supports every operation the backend uses.
fn operations(fd: core::ffi::c_int) -> bool {
    let mut probe = Probe {
        last_op: 0,
        ops_len: 0,
        resv: 0,
        resv2: [0; 3],
        ops: [ProbeOp::default(); kernel::PROBE_OPS],
    };
    // SAFETY: the kernel fills in at most PROBE_OPS operations.
    let asked = unsafe {
        sys::io_uring_register(
            fd,
            kernel::REGISTER_PROBE,
            (&raw mut probe).cast(),
            kernel::PROBE_OPS as u32,
        )
    };
    let supported = |op: u8| {
        probe
            .ops
            .iter()
            .take(probe.ops_len as usize)
            .any(|o| o.op == op && o.flags & kernel::OP_SUPPORTED != 0)
    };
    asked.is_ok()
        && [
            kernel::OP_READ,
            kernel::OP_WRITE,
            kernel::OP_READV,
            kernel::OP_WRITEV,
            kernel::OP_FSYNC,
            kernel::OP_POLL_ADD,
            kernel::OP_TIMEOUT,
        ]
        .into_iter()
        .all(supported)
}

/// Whether the instance `fd` has synchronous cancellation: cancelling
/// nothing then says `ENOENT` (an older kernel: `EINVAL`).
fn sync_cancel(fd: core::ffi::c_int) -> bool {
    let mut cancel = SyncCancel {
        addr: u64::MAX,
        fd: -1,
        timeout: Timespec {
            tv_sec: -1,
            tv_nsec: -1,
        },
        ..SyncCancel::default()
    };
    // SAFETY: the kernel reads one struct io_uring_sync_cancel_reg.
    let ret = unsafe {
        sys::io_uring_register(
            fd,
            kernel::REGISTER_SYNC_CANCEL,
            (&raw mut cancel).cast(),
            1,
        )
    };
    ret == Err(Errno::ENOENT)
}
