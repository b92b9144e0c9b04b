/*
 * What is particular to the 32-bit x86 library, with the usual 32-bit
 * time_t: its system calls go through libc's syscall(), which sets errno on
 * failure, so every call here runs with errno set to a sentinel that must
 * survive it; and io_pgetevents retries with the widened io_sigset_compat
 * after EINVAL, as Debian's libaio does.
 *
 * The phases are marked for strace with write(-1, "@phase", ...), which
 * fails with EBADF and is seen in the trace: the driver (tests/cross_i686.rs)
 * counts the AIO system calls between the markers and compares the trace
 * with the one Debian's i386 libaio gives.
 *
 * Run against our libaio.so.1 and libaio.so.1t64 and against Debian's:
 * every expectation below holds for all of them.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "testutil.h"

#define BLOCK 4096

_Static_assert(sizeof(long) == 4 && sizeof(void *) == 4, "a 32-bit program");
_Static_assert(sizeof(time_t) == 4 && sizeof(struct timespec) == 8, "with a 32-bit time_t");

/* A marker for strace; errno is put back. */
static void mark(const char *phase)
{
	int saved = errno;
	char text[64];
	int len = snprintf(text, sizeof(text), "@%s", phase);
	if (write(-1, text, (size_t)len) != -1)
		exit(2);
	errno = saved;
}

static struct timespec ms(long n)
{
	return (struct timespec){ n / 1000, (n % 1000) * 1000000 };
}

static volatile sig_atomic_t usr1_delivered;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_delivered = 1;
}

/* Every function's failures, each with errno set to the sentinel first. */
static void failures_keep_errno(int fd)
{
	mark("errno");
	io_context_t ctx = NULL;
	struct io_event ev[2];
	struct timespec t = ms(1);
	CALL_EQ(io_setup(0, &ctx), -EINVAL);
	CALL_EQ(io_setup(INT_MAX, &ctx), -EINVAL);
	CALL_EQ(io_setup(1, NULL), -EFAULT);
	CALL_EQ(io_setup(4, &ctx), 0);
	CHECK(ctx != NULL);
	io_context_t taken = ctx;
	CALL_EQ(io_setup(4, &taken), -EINVAL);

	CALL_EQ(io_destroy(NULL), -EINVAL);
	CALL_EQ(io_queue_release(NULL), -EINVAL);
	CALL_EQ(io_queue_init(0, &taken), -EINVAL);
	CALL_EQ(io_queue_wait(NULL, &t), -EINVAL);
	/* Our io_queue_run asks for 32 events at a time, libaio for 1: the one
	 * difference in the system calls of this program (README.md). */
	mark("queue-run");
	CALL_EQ(io_queue_run(NULL), -EINVAL);
	mark("queue-run-done");

	char *buf = aligned_buf(BLOCK);
	struct iocb good, bad, *goodp = &good, *badp = &bad;
	io_prep_pread(&good, fd, buf, BLOCK, 0);
	io_prep_pread(&bad, -1, buf, BLOCK, 0);
	CALL_EQ(io_submit(NULL, 1, &goodp), -EINVAL);
	CALL_EQ(io_submit(ctx, -1, &goodp), -EINVAL);
	CALL_EQ(io_submit(ctx, 1, NULL), -EFAULT);
	CALL_EQ(io_submit(ctx, 1, &badp), -EBADF);
	CALL_EQ(io_cancel(NULL, &good, ev), -EINVAL);
	CALL_EQ(io_cancel(ctx, &good, ev), -EINVAL);

	CALL_EQ(io_getevents(NULL, 1, 1, ev, &t), -EINVAL);
	CALL_EQ(io_getevents(ctx, 2, 1, ev, &t), -EINVAL);
	CALL_EQ(io_pgetevents(NULL, 1, 1, ev, &t, NULL), -EINVAL);

	/* A completion waiting, and nowhere to put it. */
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	io_set_eventfd(&good, efd);
	CALL_EQ(io_submit(ctx, 1, &goodp), 1);
	uint64_t completed;
	CHECK(read(efd, &completed, sizeof(completed)) == (ssize_t)sizeof(completed));
	CHECK_EQ(completed, 1);
	close(efd);
	void *unmapped = mmap(NULL, BLOCK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(unmapped != MAP_FAILED);
	/* EFAULT: no retry. */
	mark("efault");
	CALL_EQ(io_getevents(ctx, 1, 1, unmapped, &t), -EFAULT);
	sigset_t *bad_mask = unmapped;
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &t, bad_mask), -EFAULT);
	mark("efault-done");
	CALL_EQ(io_getevents(ctx, 1, 1, ev, &t), 1);
	CHECK(ev[0].obj == &good);
	CHECK_EQ((long)ev[0].res, BLOCK);

	/* Interrupted by a signal the mask lets through. */
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, &old_sa) == 0);
	sigset_t usr1, empty, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&empty);
	CHECK(sigprocmask(SIG_BLOCK, &usr1, &old) == 0);
	usr1_delivered = 0;
	CHECK(raise(SIGUSR1) == 0);
	struct timespec long_wait = ms(30000);
	/* EINTR: no retry either. */
	mark("eintr");
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &long_wait, &empty), -EINTR);
	mark("eintr-done");
	CHECK(usr1_delivered);
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	CHECK(sigaction(SIGUSR1, &old_sa, NULL) == 0);

	/* And errno values other than the sentinel survive too. */
	for (int value = 0; value < 3; value++) {
		errno = value;
		CHECK_EQ(io_destroy(NULL), -EINVAL);
		CHECK_EQ(errno, value);
		CHECK_EQ(io_getevents(NULL, 0, 1, ev, &t), -EINVAL);
		CHECK_EQ(errno, value);
	}

	CALL_EQ(io_destroy(ctx), 0);
	CALL_EQ(io_destroy(ctx), -EINVAL);
	CHECK(munmap(unmapped, BLOCK) == 0);
	free(buf);
	mark("errno-done");
}

/* io_pgetevents without and with a mask, phase by phase for strace. */
static void pgetevents_phases(int fd, int pipefd[2])
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(8, &ctx), 0);
	char *wbuf = aligned_buf(BLOCK), *rbuf = aligned_buf(BLOCK);
	fill_pattern(wbuf, BLOCK, 686);
	struct iocb w, r, p, *wp = &w, *rp = &r, *pp = &p;
	struct io_event ev[4];
	struct timespec long_wait = ms(30000), short_wait = ms(1), zero = ms(0);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);

	/* Without a mask: one system call, which succeeds. */
	io_prep_pwrite(&w, fd, wbuf, BLOCK, 8 * BLOCK);
	CALL_EQ(io_submit(ctx, 1, &wp), 1);
	mark("nomask");
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &long_wait, NULL), 1);
	mark("nomask-done");
	CHECK(ev[0].obj == &w);
	CHECK_EQ((long)ev[0].res, BLOCK);

	/* With a mask: the same. */
	io_prep_pread(&r, fd, rbuf, BLOCK, 8 * BLOCK);
	CALL_EQ(io_submit(ctx, 1, &rp), 1);
	mark("mask");
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &long_wait, &usr1), 1);
	mark("mask-done");
	CHECK(ev[0].obj == &r);
	CHECK_EQ((long)ev[0].res, BLOCK);
	CHECK(memcmp(rbuf, wbuf, BLOCK) == 0);

	/* A timeout, with and without a mask: one call each, no retry. */
	io_prep_poll(&p, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pp), 1);
	mark("timeout");
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &short_wait, NULL), 0);
	CALL_EQ(io_pgetevents(ctx, 1, 1, ev, &short_wait, &usr1), 0);
	mark("timeout-done");

	/* EINVAL from the kernel: each call is made twice, the second time with
	 * the widened io_sigset_compat. */
	mark("einval");
	CALL_EQ(io_pgetevents(ctx, 2, 1, ev, &short_wait, NULL), -EINVAL);
	CALL_EQ(io_pgetevents(ctx, 2, 1, ev, &short_wait, &usr1), -EINVAL);
	mark("einval-done");

	/* io_getevents has no such retry. */
	mark("getevents-einval");
	CALL_EQ(io_getevents(ctx, 2, 1, ev, &short_wait), -EINVAL);
	mark("getevents-einval-done");

	/* The poll completes; reaped, it leaves the ring empty. */
	CHECK(write(pipefd[1], "x", 1) == 1);
	CALL_EQ(io_getevents(ctx, 1, 1, ev, &long_wait), 1);
	CHECK(ev[0].obj == &p);
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);

	/* An empty ring and a zero timeout: answered without a system call,
	 * with or without a mask. */
	mark("zero");
	for (int i = 0; i < 10; i++) {
		CALL_EQ(io_pgetevents(ctx, 1, 4, ev, &zero, NULL), 0);
		CALL_EQ(io_pgetevents(ctx, 1, 4, ev, &zero, &usr1), 0);
		CALL_EQ(io_getevents(ctx, 1, 4, ev, &zero), 0);
	}
	mark("zero-done");

	CALL_EQ(io_destroy(ctx), 0);
	free(wbuf), free(rbuf);
}

int main(void)
{
	check_loaded_libaio();
	int fd = scratch_file("/dev/shm", "i686", 64 * BLOCK, 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	failures_keep_errno(fd);
	pgetevents_phases(fd, pipefd);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	printf("i686 specifics: passed\n");
	return 0;
}
