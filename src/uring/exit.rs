//! Keeping a thread's requests alive when the thread exits.
//!
//! io_uring ties a request to the thread that submitted it: a buffered read
//! that had to wait for the disk finishes in that thread's context, and a
//! poll is completed there, so when the thread has exited they fail
//! (measured on 6.18: `-EFAULT` for the read, `-ECANCELED` for the poll).
//! Kernel AIO ties requests to the context, and a program may submit from
//! a thread that then exits (a worker pool shrinking, a thread per job).
//!
//! So a thread that has submitted through the backend gets a destructor
//! (glibc's `__cxa_thread_atexit_impl`, run when the thread exits, and for
//! the main thread by exit()) that, first, hands over its pending polls and
//! its reads and writes of streams (pipes, sockets, character devices),
//! which io_uring has not started while their file is not ready: they are
//! cancelled and the reaper that finds the cancellation submits them again
//! from its own thread; then waits until every other request the thread
//! submitted (reads of files on disk, O_DIRECT, syncs) has completed (their
//! completions posted), sleeping in the kernel meanwhile so that the work
//! the kernel queues for the thread runs. A request that never completes
//! (a read from a device that hangs) keeps the thread from exiting, as it
//! keeps io_destroy from returning.
//!
//! Each thread's count of requests not yet completed is kept by the index
//! of its slot in the registry (`registry::my_thread_index`); a thread
//! without a slot (more than the registry has room for) is not tracked.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::registry;
use crate::sys;

/// One thread's record.
pub struct ThreadExit {
    /// Completions the kernel owes for the thread's requests.
    pending: AtomicUsize,
    /// The thread token of the thread whose destructor is registered, or 0.
    hooked: AtomicUsize,
}

impl ThreadExit {
    /// No requests, no destructor.
    pub const fn new() -> ThreadExit {
        ThreadExit {
            pending: AtomicUsize::new(0),
            hooked: AtomicUsize::new(0),
        }
    }
}

/// glibc's registration of a thread-exit destructor (C++'s thread_local
/// uses it), `__cxa_thread_atexit_impl`.
type AtExit = unsafe extern "C" fn(
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    dso_symbol: *mut c_void,
) -> core::ffi::c_int;

unsafe extern "C" {
    /// GLIBC_2.18; on x86_64 found with dlsym instead ([`resolve`]).
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    fn __cxa_thread_atexit_impl(
        func: unsafe extern "C" fn(*mut c_void),
        obj: *mut c_void,
        dso_symbol: *mut c_void,
    ) -> core::ffi::c_int;

    /// This shared object's handle (from the C runtime's crtbegin), which
    /// keeps it loaded until the destructors registered with it have run.
    static __dso_handle: u8;
}

/// `__cxa_thread_atexit_impl`'s address on x86_64, or 0: looked up once at
/// load ([`resolve`]), so that the library needs no GLIBC_2.18 version
/// there (its others are 2.17 and older) and no dlsym runs in io_submit.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
static AT_EXIT: AtomicUsize = AtomicUsize::new(0);

/// Finds `__cxa_thread_atexit_impl` (at load, when the backend is asked
/// for: `process`).
pub fn resolve() {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    if let Some(address) = crate::rseq::glibc_symbol(c"__cxa_thread_atexit_impl") {
        // Relaxed: the constructor runs before the program's threads exist.
        AT_EXIT.store(address as usize, Ordering::Relaxed);
    }
}

/// `__cxa_thread_atexit_impl`, if this glibc has it.
fn at_exit() -> Option<AtExit> {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    {
        // Relaxed: see `resolve`.
        let address = AT_EXIT.load(Ordering::Relaxed);
        // SAFETY: 0, or the address of glibc's function of that name and
        // signature (a non-null function pointer).
        (address != 0).then(|| unsafe { core::mem::transmute::<usize, AtExit>(address) })
    }
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    Some(__cxa_thread_atexit_impl)
}

/// The calling thread is about to submit: returns its owner number (its
/// registry index + 1, or 0 if it has none, which fits the 11 bits a
/// completion's tag has for it), registering its destructor the first
/// time.
pub fn this_thread_submits() -> u32 {
    let Some(index) = registry::my_thread_index() else {
        return 0;
    };
    let record = registry::thread_exit(index);
    let token = registry::thread_token();
    // Relaxed: written by this thread only (and cleared by its destructor).
    if record.hooked.load(Ordering::Relaxed) != token {
        // SAFETY: a function of this library with the argument it expects;
        // __dso_handle names this library, so glibc keeps it loaded until
        // the destructor has run.
        let Some(at_exit) = at_exit() else {
            return 0;
        };
        // SAFETY: as above.
        let registered = unsafe {
            at_exit(
                at_thread_exit,
                index as *mut c_void,
                (&raw const __dso_handle).cast_mut().cast(),
            )
        };
        if registered != 0 {
            return 0;
        }
        record.hooked.store(token, Ordering::Relaxed);
    }
    index as u32 + 1
}

/// `count` completions are now owed to the thread `owner`.
pub fn submitted(owner: u32, count: u32) {
    if let Some(index) = owner.checked_sub(1) {
        // Relaxed: a count, read with a second look (see at_thread_exit).
        registry::thread_exit(index as usize)
            .pending
            .fetch_add(count as usize, Ordering::Relaxed);
    }
}

/// One completion owed to the thread `owner` has been taken.
pub fn completed(owner: u32) {
    if let Some(index) = owner.checked_sub(1) {
        // Relaxed: as above.
        registry::thread_exit(index as usize)
            .pending
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// The destructor: see the module documentation.
unsafe extern "C" fn at_thread_exit(arg: *mut c_void) {
    let index = arg as usize;
    let owner = index as u32 + 1;
    let record = registry::thread_exit(index);
    registry::for_each_uring(|uring| uring.hand_over_polls(owner));
    loop {
        // Acquire: the reapers' updates.
        let before = record.pending.load(Ordering::Acquire);
        if before == 0 {
            break;
        }
        let mut posted = 0;
        registry::for_each_uring(|uring| posted += uring.posted_for(owner));
        // Nobody took a completion meanwhile, and every one owed is posted.
        if record.pending.load(Ordering::Acquire) == before && posted >= before {
            break;
        }
        // A millisecond in the kernel: the work it queued for this thread
        // runs meanwhile.
        // SAFETY: no mask.
        let _ = unsafe { sys::ppoll_for(1_000_000, core::ptr::null()) };
    }
    // Relaxed: this thread is ending.
    record.hooked.store(0, Ordering::Relaxed);
}
