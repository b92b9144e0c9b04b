//! What the tests see of a context under the io_uring backend
//! (`LIBAIO_BACKEND=io_uring`, the second pass of `make check`): its handle
//! is no ring to count completions in, and its reapers wait in
//! io_uring_enter(2). README.md, "The io_uring backend".

use super::common::io_uring_backend;
use super::ring_word;
use aio_rs::abi::io_context_t;

/// `AIO_RING_MAGIC`: a kernel ring's header has it, the backend's not.
const KERNEL_RING: u32 = 0xa10a_10a1;

/// For a context of the backend, the completions io_uring has posted for
/// it since io_setup (the header's `id` is its io_uring descriptor, whose
/// fdinfo counts them), which is what these tests wait for: they count
/// completions before anything reaps them, or while a waiter that asked
/// for more holds them. None for a kernel ring.
pub fn posted(ctx: io_context_t) -> Option<u32> {
    if !io_uring_backend() || ring_word(ctx, 16) == KERNEL_RING {
        return None;
    }
    let fd = ring_word(ctx, 0);
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let tail = info
        .lines()
        .find_map(|l| l.strip_prefix("CqTail:"))
        .unwrap_or_else(|| panic!("no CqTail in the fdinfo of descriptor {fd}:\n{info}"));
    Some(tail.trim().parse().unwrap())
}

/// Whether system call `nr` (as /proc/PID/task/TID/syscall gives it) is
/// where the backend's io_getevents and io_pgetevents wait.
pub fn waits_in(nr: Option<&str>) -> bool {
    io_uring_backend() && nr == Some(aio_rs::syscall_numbers::IO_URING_ENTER.to_string().as_str())
}
