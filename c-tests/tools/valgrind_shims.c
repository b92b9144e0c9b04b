/*
 * Two calls that valgrind 3.19 itself cannot take, for the programs that
 * tests/sanitizers.rs runs under valgrind: it builds them with
 * -Dio_pgetevents=libaio_rs_vg_io_pgetevents -Dio_submit=libaio_rs_vg_io_submit
 * and links this file in (compiled without those defines), so that their
 * expectations still hold there. Outside valgrind (RUNNING_ON_VALGRIND is 0)
 * both are the library's functions, unchanged.
 *
 * io_submit with a negative nr: valgrind's wrapper reads the iocb array
 * with nr as an unsigned count, walks past the array into the stack and
 * dies of SIGSEGV itself ("the 'impossible' happened"). The kernel refuses
 * a negative nr before it looks at anything else (-EINVAL), which is what
 * the shim answers for it under valgrind; every other call goes to the
 * library. (The library passes nr straight to the kernel; the native and
 * AddressSanitizer runs, and tests/api.rs, check that answer.)
 *
 * io_pgetevents: valgrind has no wrapper for the system call (333 on
 * x86_64): it prints "unhandled amd64-linux syscall: 333" and fails the call
 * with ENOSYS without entering the kernel.
 * The library's own io_pgetevents is always called first, with the
 * caller's arguments: everything it does before the system call (the
 * zero-timeout answer from the ring, the sigset pair it builds) runs under
 * memcheck. Only when it returns -ENOSYS inside valgrind is the call
 * emulated, with the library's io_getevents and pthread_sigmask around it:
 *
 *   - no mask: io_getevents, the same call without a mask;
 *   - a mask that lets a pending signal through: the kernel would find the
 *     signal at once. Events already in the ring are returned (the kernel
 *     checks the ring before it sleeps); if there are none, the signal is
 *     delivered under the mask and the answer is -EINTR;
 *   - otherwise: io_getevents with the mask in place while it waits (not
 *     atomic like the system call, which does not matter to these
 *     single-threaded checks).
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <valgrind/valgrind.h>

int libaio_rs_vg_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);
int libaio_rs_vg_io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			       struct timespec *timeout, sigset_t *sigmask);

int libaio_rs_vg_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	if (nr < 0 && RUNNING_ON_VALGRIND)
		return -EINVAL;
	return io_submit(ctx, nr, iocbs);
}

/* Whether a signal pending for this thread or the process is not in MASK. */
static int deliverable_pending(const sigset_t *mask)
{
	sigset_t pending;
	if (sigpending(&pending) != 0)
		return 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&pending, sig) == 1 && sigismember(mask, sig) == 0)
			return 1;
	return 0;
}

int libaio_rs_vg_io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			       struct timespec *timeout, sigset_t *sigmask)
{
	int ret = io_pgetevents(ctx, min_nr, nr, events, timeout, sigmask);
	if (ret != -ENOSYS || !RUNNING_ON_VALGRIND)
		return ret;

	int saved_errno = errno;
	/* Arguments the kernel refuses are refused the same way without a mask. */
	if (!sigmask || min_nr < 0 || nr < 0 || min_nr > nr) {
		ret = io_getevents(ctx, min_nr, nr, events, timeout);
	} else if (deliverable_pending(sigmask)) {
		struct timespec zero = { 0, 0 };
		ret = io_getevents(ctx, 0, nr, events, &zero);
		if (ret == 0) {
			sigset_t old;
			pthread_sigmask(SIG_SETMASK, sigmask, &old);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			ret = -EINTR;
		}
	} else {
		sigset_t old;
		pthread_sigmask(SIG_SETMASK, sigmask, &old);
		ret = io_getevents(ctx, min_nr, nr, events, timeout);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	errno = saved_errno;
	return ret;
}
