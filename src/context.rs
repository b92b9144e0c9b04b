//! Creating and destroying contexts, keeping the registry of live rings in
//! step with the kernel.

use core::ffi::c_int;

use crate::abi::io_context_t;
use crate::registry;
use crate::sys::{self, Errno, SysResult};

/// io_setup(2), then records the new ring as live.
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns; the kernel
/// checks it and answers `EFAULT` for a bad address.
pub unsafe fn setup(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    // SAFETY: the caller's contract.
    let ret = unsafe { sys::io_setup(maxevents, ctxp) }?;
    // SAFETY: the kernel has just stored the context there, so the address
    // is mapped and writable.
    registry::insert(unsafe { ctxp.read() } as usize);
    Ok(ret)
}

/// io_queue_init(): a fresh handle, then io_setup.
///
/// Unlike libaio it answers `EFAULT` for a NULL `ctxp` (and, where user and
/// kernel addresses are told apart by the top bit, for a kernel address)
/// instead of crashing.
///
/// # Safety
///
/// `ctxp` is NULL or points to an `io_context_t` the caller owns.
pub unsafe fn queue_init(maxevents: c_int, ctxp: *mut io_context_t) -> SysResult {
    if maxevents <= 0 {
        return Err(Errno::EINVAL);
    }
    if !plausible_user_address(ctxp as usize) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the caller's contract: ctxp is theirs to write. libaio clears
    // the handle first so that an uninitialised variable works.
    unsafe { ctxp.write(core::ptr::null_mut()) };
    // SAFETY: as above.
    unsafe { setup(maxevents, ctxp) }
}

/// Forgets the ring, then io_destroy(2).
///
/// # Safety
///
/// No other thread may be using `ctx` (as with any call that frees it).
pub unsafe fn destroy(ctx: io_context_t) -> SysResult {
    registry::remove(ctx as usize);
    // SAFETY: the caller's contract; the kernel validates ctx.
    unsafe { sys::io_destroy(ctx) }
}

/// False for addresses no user-space object can have: NULL, and on targets
/// whose kernel owns the upper half of the address space, that half.
fn plausible_user_address(addr: usize) -> bool {
    const KERNEL_HALF: usize = if cfg!(all(
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "riscv64",
            target_arch = "loongarch64"
        )
    )) {
        1 << (usize::BITS - 1)
    } else {
        0
    };
    addr != 0 && addr & KERNEL_HALF == 0
}

#[cfg(test)]
mod tests {
    use super::plausible_user_address;

    #[test]
    fn user_addresses() {
        assert!(!plausible_user_address(0));
        assert!(plausible_user_address(0x7ffd_0000_1000));
        #[cfg(target_arch = "x86_64")]
        assert!(!plausible_user_address(0xffff_ffff_8100_0000));
    }
}
