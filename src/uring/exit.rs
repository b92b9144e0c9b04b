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
//! that, first, hands over its pending polls and
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
//!
//! How the destructor is registered: a thread's first io_submit may run in
//! a signal handler, which must not allocate (the handler may have
//! interrupted malloc). So the thread that loads the library, in the
//! constructor, registers with glibc's `__cxa_thread_atexit_impl` (which
//! allocates; it runs at that thread's exit, and at exit() for the main
//! thread), and the constructor makes a pthread key whose destructor is
//! ours; every other thread, at its first io_submit, sets its value of that
//! key, which for glibc's first 32 keys is a store into the thread's own
//! descriptor: no allocation, no lock. Where the key is not among those
//! (a program that made 32 keys before loading the library), threads fall
//! back to `__cxa_thread_atexit_impl` at their first io_submit.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

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

/// `pthread_key_create`.
type KeyCreate = unsafe extern "C" fn(
    key: *mut u32,
    destructor: Option<unsafe extern "C" fn(*mut c_void)>,
) -> core::ffi::c_int;

/// `pthread_setspecific`.
type SetSpecific = unsafe extern "C" fn(key: u32, value: *const c_void) -> core::ffi::c_int;

unsafe extern "C" {
    /// GLIBC_2.18; on x86_64 found with dlsym instead ([`resolve`]).
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    fn __cxa_thread_atexit_impl(
        func: unsafe extern "C" fn(*mut c_void),
        obj: *mut c_void,
        dso_symbol: *mut c_void,
    ) -> core::ffi::c_int;

    /// GLIBC_2.34 (libc.so.6); on x86_64 found with dlsym instead.
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    fn pthread_key_create(
        key: *mut u32,
        destructor: Option<unsafe extern "C" fn(*mut c_void)>,
    ) -> core::ffi::c_int;

    /// As above.
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    fn pthread_setspecific(key: u32, value: *const c_void) -> core::ffi::c_int;

    /// This shared object's handle (from the C runtime's crtbegin), which
    /// keeps it loaded until the destructors registered with it have run.
    static __dso_handle: u8;
}

/// `__cxa_thread_atexit_impl`'s address on x86_64, or 0: looked up once at
/// load ([`resolve`]), so that the library needs no GLIBC_2.18 version
/// there (its others are 2.17 and older) and no dlsym runs in io_submit.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
static AT_EXIT: AtomicUsize = AtomicUsize::new(0);

/// `pthread_setspecific`'s address on x86_64, or 0 (as for [`AT_EXIT`]).
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
static SET_SPECIFIC: AtomicUsize = AtomicUsize::new(0);

/// glibc keeps a thread's values of the first 32 keys in the thread's own
/// descriptor (`PTHREAD_KEY_2NDLEVEL_SIZE`): setting one allocates nothing.
const KEYS_IN_DESCRIPTOR: u32 = 32;

/// The key whose destructor is [`at_key_exit`], if it is one of the first
/// [`KEYS_IN_DESCRIPTOR`]; otherwise this value.
const NO_KEY: u32 = u32::MAX;
static KEY: AtomicU32 = AtomicU32::new(NO_KEY);

/// At load, when the backend is asked for (`process`): finds glibc's
/// functions, makes the key, and registers the loading thread's destructor.
pub fn resolve() {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    let create = {
        use crate::rseq::glibc_symbol;
        if let Some(address) = glibc_symbol(c"__cxa_thread_atexit_impl") {
            // Relaxed: the constructor runs before the program's threads
            // exist (or, in dlopen, before the library is handed out).
            AT_EXIT.store(address as usize, Ordering::Relaxed);
        }
        match (
            glibc_symbol(c"pthread_key_create"),
            glibc_symbol(c"pthread_setspecific"),
        ) {
            (Some(create), Some(set)) => {
                // Relaxed: as above.
                SET_SPECIFIC.store(set as usize, Ordering::Relaxed);
                // SAFETY: glibc's function of that name and signature.
                Some(unsafe { core::mem::transmute::<*mut u8, KeyCreate>(create) })
            }
            _ => None,
        }
    };
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    let create: Option<KeyCreate> = Some(pthread_key_create);
    if let Some(create) = create {
        let mut key = NO_KEY;
        // SAFETY: a key to fill in, and our destructor.
        if unsafe { create(&mut key, Some(at_key_exit)) } == 0 && key < KEYS_IN_DESCRIPTOR {
            // Relaxed: as above.
            KEY.store(key, Ordering::Relaxed);
        }
    }
    // The loading thread (the main thread, unless another thread
    // dlopen'ed the library) is registered now, where allocating is safe,
    // and with the destructor that exit() runs too (key destructors run
    // only when a thread ends on its own).
    hook(registry::thread_token(), false);
}

/// The key and `pthread_setspecific`, if the key is usable.
fn key() -> Option<(u32, SetSpecific)> {
    // Relaxed: see `resolve`.
    let key = KEY.load(Ordering::Relaxed);
    if key == NO_KEY {
        return None;
    }
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    {
        // Relaxed: as above.
        let address = SET_SPECIFIC.load(Ordering::Relaxed);
        if address == 0 {
            return None;
        }
        // SAFETY: glibc's function of that name and signature.
        let set = unsafe { core::mem::transmute::<usize, SetSpecific>(address) };
        Some((key, set))
    }
    #[cfg(not(all(target_arch = "x86_64", target_pointer_width = "64")))]
    Some((key, pthread_setspecific))
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
    let token = registry::thread_token();
    match hook(token, true) {
        Some(index) => index as u32 + 1,
        None => 0,
    }
}

/// Registers the calling thread's destructor unless it is registered;
/// returns the thread's registry index, or None if it has none or the
/// destructor could not be registered. With `by_key`, through the key where
/// it is usable (safe in a signal handler), else `__cxa_thread_atexit_impl`.
fn hook(token: usize, by_key: bool) -> Option<usize> {
    let index = registry::my_thread_index()?;
    let record = registry::thread_exit(index);
    // Relaxed: written by this thread only (and cleared by its destructor).
    if record.hooked.load(Ordering::Relaxed) == token {
        return Some(index);
    }
    let registered = match key().filter(|_| by_key) {
        // SAFETY: our key, and a value that is not NULL (NULL would not
        // call the destructor); at_key_exit takes it back.
        Some((key, set)) => unsafe { set(key, (index + 1) as *const c_void) == 0 },
        None => {
            let at_exit = at_exit()?;
            // SAFETY: a function of this library with the argument it
            // expects; __dso_handle names this library, so glibc keeps it
            // loaded until the destructor has run.
            unsafe {
                at_exit(
                    at_thread_exit,
                    index as *mut c_void,
                    (&raw const __dso_handle).cast_mut().cast(),
                ) == 0
            }
        }
    };
    if !registered {
        return None;
    }
    record.hooked.store(token, Ordering::Relaxed);
    Some(index)
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

/// The key's destructor: the value is the thread's registry index + 1.
unsafe extern "C" fn at_key_exit(value: *mut c_void) {
    // SAFETY: the value set by `hook`.
    unsafe { at_thread_exit((value as usize - 1) as *mut c_void) }
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
