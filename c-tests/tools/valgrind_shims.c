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
 *   - a mask: io_getevents in short slices with every signal blocked; once
 *     a signal the mask lets through is pending (before the wait or sent
 *     meanwhile, by this thread or another), events already in the ring are
 *     returned (the kernel checks the ring first); if there are none, the
 *     signal is delivered under the mask and the answer is -EINTR. (Setting
 *     the mask around one io_getevents instead is not atomic: a signal
 *     handled between the two calls left the wait to run out.)
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
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

/* The emulated wait under the caller's mask: io_getevents in slices of at
 * most 10 ms with every signal blocked, so that a signal the mask lets
 * through cannot be handled unseen between two system calls (another thread
 * may send it at any time): it stays pending until a slice ends, is then
 * delivered under the caller's mask, and the answer is -EINTR, as from the
 * system call. Events already in the ring come first, as the kernel checks
 * the ring before it looks for signals. */
static int wait_masked(io_context_t ctx, long min_nr, long nr, struct io_event *events,
		       const struct timespec *timeout, const sigset_t *sigmask)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	struct timespec now = { 0, 0 }, end = { 0, 0 };
	if (timeout) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		end.tv_sec = now.tv_sec + timeout->tv_sec;
		end.tv_nsec = now.tv_nsec + timeout->tv_nsec;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	int ret;
	for (;;) {
		if (deliverable_pending(sigmask)) {
			struct timespec zero = { 0, 0 };
			ret = io_getevents(ctx, 0, nr, events, &zero);
			if (ret == 0) {
				/* Delivered here, under the caller's mask. */
				pthread_sigmask(SIG_SETMASK, sigmask, NULL);
				ret = -EINTR;
			}
			break;
		}
		struct timespec slice = { 0, 10 * 1000 * 1000 };
		int last = 0;
		if (timeout) {
			long long left = (long long)(end.tv_sec - now.tv_sec) * 1000000000LL +
					 (end.tv_nsec - now.tv_nsec);
			if (left <= 10 * 1000 * 1000LL) {
				slice.tv_sec = 0;
				slice.tv_nsec = left > 0 ? left : 0;
				last = 1;
			}
		}
		ret = io_getevents(ctx, min_nr, nr, events, &slice);
		if (ret != 0 || min_nr == 0 || last)
			break;
		if (timeout)
			clock_gettime(CLOCK_MONOTONIC, &now);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
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
	} else {
		ret = wait_masked(ctx, min_nr, nr, events, timeout, sigmask);
	}
	errno = saved_errno;
	return ret;
}
