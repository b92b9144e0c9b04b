/*
 * A 32-bit x86 program built with a 64-bit time_t (-D_TIME_BITS=64
 * -D_FILE_OFFSET_BITS=64) and linked with libaio.so.1t64: the header sends
 * its io_getevents and io_pgetevents calls to io_getevents_time64 and
 * io_pgetevents_time64 (the driver checks the imports with nm and the
 * bindings with LD_DEBUG), which must read its 16-byte struct timespec.
 *
 * Real I/O through both; zero timeouts on an empty ring answered without a
 * system call; a short timeout that really waits; timeouts beyond 2^31
 * seconds, which do not fit the 32-bit system call: our library clamps them
 * to 2^31 - 1 seconds, so the call still waits for the events, and returns
 * when they arrive. Debian's libaio.so.1t64 keeps only the low 32 bits of
 * tv_sec instead (2^40 seconds becomes 0: no wait at all): with
 * LIBAIO_RS_TIME64_TRUNCATES=1 in the environment the program expects that,
 * so that it can run against Debian's library too.
 *
 * Phases are marked for strace with write(-1, "@phase", ...), as in
 * specifics.c. Every call runs with errno set to a sentinel.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>

#include "testutil.h"

#define BLOCK 4096

_Static_assert(sizeof(long) == 4 && sizeof(void *) == 4, "a 32-bit program");
_Static_assert(sizeof(time_t) == 8 && sizeof(struct timespec) == 16, "with a 64-bit time_t");
_Static_assert(sizeof(off_t) == 8, "with a 64-bit off_t");

static void mark(const char *phase)
{
	int saved = errno;
	char text[64];
	int len = snprintf(text, sizeof(text), "@%s", phase);
	if (write(-1, text, (size_t)len) != -1)
		exit(2);
	errno = saved;
}

static long long now_ms(void)
{
	struct timespec t;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &t) == 0);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int truncates(void)
{
	const char *v = getenv("LIBAIO_RS_TIME64_TRUNCATES");
	return v && strcmp(v, "1") == 0;
}

struct later {
	int fd;
	int delay_ms;
};

/* Writes a byte to a pipe after a delay, from another thread. */
static void *write_later(void *arg)
{
	struct later *later = arg;
	struct timespec delay = { 0, later->delay_ms * 1000000L };
	nanosleep(&delay, NULL);
	CHECK(write(later->fd, "t", 1) == 1);
	return NULL;
}

/* Reads the eventfd until it has counted N completions in all. */
static void wait_eventfd(int efd, unsigned long long n)
{
	unsigned long long total = 0;
	while (total < n) {
		uint64_t count;
		CHECK(read(efd, &count, sizeof(count)) == (ssize_t)sizeof(count));
		total += count;
	}
}

static struct io_event *event_for(struct io_event *events, int n, struct iocb *iocb)
{
	for (int i = 0; i < n; i++)
		if (events[i].obj == iocb)
			return &events[i];
	fprintf(stderr, "no completion for iocb %p\n", (void *)iocb);
	exit(1);
}

/* Writes and reads back through both functions, with and without a mask. */
static void real_io(const char *dir, const char *label)
{
	int fd = scratch_file(dir, label, 1 << 20, 0);
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(16, &ctx), 0);
	struct timespec long_wait = { 30, 0 };
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);

	char *w[3], *r[3];
	struct iocb io[3], *iop[3];
	struct io_event ev[3];
	for (int i = 0; i < 3; i++) {
		w[i] = aligned_buf(2 * BLOCK);
		r[i] = aligned_buf(2 * BLOCK);
		fill_pattern(w[i], 2 * BLOCK, 640 + i);
		io_prep_pwrite(&io[i], fd, w[i], 2 * BLOCK, (long long)i * 16 * BLOCK);
		io[i].data = (void *)(uintptr_t)(0x640 + i);
		iop[i] = &io[i];
	}
	CALL_EQ(io_submit(ctx, 3, iop), 3);
	CALL_EQ(io_getevents(ctx, 3, 3, ev, &long_wait), 3);
	for (int i = 0; i < 3; i++) {
		struct io_event *e = event_for(ev, 3, &io[i]);
		CHECK_EQ((long)e->res, 2 * BLOCK);
		CHECK_EQ(e->res2, 0);
		CHECK(e->data == (void *)(uintptr_t)(0x640 + i));
	}

	for (int i = 0; i < 3; i++)
		io_prep_pread(&io[i], fd, r[i], 2 * BLOCK, (long long)i * 16 * BLOCK);
	CALL_EQ(io_submit(ctx, 3, iop), 3);
	int got = KEEPS_ERRNO(io_pgetevents(ctx, 1, 1, ev, &long_wait, NULL));
	CHECK_EQ(got, 1);
	while (got < 3) {
		int n = KEEPS_ERRNO(io_pgetevents(ctx, 1, 3 - got, ev + got, &long_wait, &usr1));
		CHECK(n > 0);
		got += n;
	}
	for (int i = 0; i < 3; i++) {
		struct io_event *e = event_for(ev, 3, &io[i]);
		CHECK_EQ((long)e->res, 2 * BLOCK);
		CHECK(memcmp(r[i], w[i], 2 * BLOCK) == 0);
		CHECK(has_pattern(r[i], 2 * BLOCK, 640 + i));
		free(w[i]), free(r[i]);
	}
	CALL_EQ(io_destroy(ctx), 0);
	close(fd);
	printf("time64: real I/O on %s (%s) passed\n", label, dir);
}

/* Zero timeouts: no system call on an empty ring, one when it holds events. */
static void zero_timeouts(int fd)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(8, &ctx), 0);
	struct timespec zero = { 0, 0 };
	struct io_event ev[4];
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);

	mark("zero-empty");
	for (int i = 0; i < 100; i++) {
		CALL_EQ(io_getevents(ctx, 1, 4, ev, &zero), 0);
		CALL_EQ(io_getevents(ctx, 0, 4, ev, &zero), 0);
		CALL_EQ(io_pgetevents(ctx, 1, 4, ev, &zero, NULL), 0);
		CALL_EQ(io_pgetevents(ctx, 1, 4, ev, &zero, &usr1), 0);
	}
	mark("zero-empty-done");

	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	char *buf = aligned_buf(BLOCK);
	struct iocb r, *rp = &r;
	io_prep_pread(&r, fd, buf, BLOCK, 0);
	io_set_eventfd(&r, efd);
	CALL_EQ(io_submit(ctx, 1, &rp), 1);
	wait_eventfd(efd, 1);
	mark("zero-pending");
	CALL_EQ(io_getevents(ctx, 1, 4, ev, &zero), 1);
	mark("zero-pending-done");
	CHECK(ev[0].obj == &r);
	CHECK_EQ((long)ev[0].res, BLOCK);

	CALL_EQ(io_submit(ctx, 1, &rp), 1);
	wait_eventfd(efd, 1);
	mark("zero-pending-p");
	CALL_EQ(io_pgetevents(ctx, 1, 4, ev, &zero, &usr1), 1);
	mark("zero-pending-p-done");
	CHECK(ev[0].obj == &r);

	close(efd);
	free(buf);
	CALL_EQ(io_destroy(ctx), 0);
}

/* A short timeout reaches the kernel intact and is waited for. */
static void short_timeouts(void)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(8, &ctx), 0);
	struct io_event ev;
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	struct timespec t = { 0, 20 * 1000000L };

	mark("short");
	long long start = now_ms();
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, &t), 0);
	long long mid = now_ms();
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, &t, &usr1), 0);
	long long end = now_ms();
	mark("short-done");
	CHECK(mid - start >= 19 && mid - start < 10000);
	CHECK(end - mid >= 19 && end - mid < 10000);

	/* EINVAL from the kernel: io_pgetevents asks again with the widened set. */
	mark("einval");
	CALL_EQ(io_pgetevents(ctx, 2, 1, &ev, &t, &usr1), -EINVAL);
	CALL_EQ(io_getevents(ctx, 2, 1, &ev, &t), -EINVAL);
	mark("einval-done");
	CALL_EQ(io_destroy(ctx), 0);
}

/* Timeouts beyond what a 32-bit tv_sec holds. */
static void huge_timeouts(int pipefd[2])
{
	static const int64_t seconds[] = { (INT64_C(1) << 31) + 5, INT64_C(1) << 40, INT64_MAX };
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(8, &ctx), 0);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	char phase[32];

	for (int i = 0; i < 6; i++) {
		struct iocb p, *pp = &p;
		struct io_event ev;
		io_prep_poll(&p, pipefd[0], POLLIN);
		CALL_EQ(io_submit(ctx, 1, &pp), 1);
		struct later later = { pipefd[1], 100 };
		pthread_t thread;
		CHECK(pthread_create(&thread, NULL, write_later, &later) == 0);

		struct timespec huge = { (time_t)seconds[i / 2], 0 };
		snprintf(phase, sizeof(phase), "huge-%d", i);
		mark(phase);
		int ret = i % 2 ? KEEPS_ERRNO(io_pgetevents(ctx, 1, 1, &ev, &huge, &usr1))
				: KEEPS_ERRNO(io_getevents(ctx, 1, 1, &ev, &huge));
		snprintf(phase, sizeof(phase), "huge-%d-done", i);
		mark(phase);
		/* Clamped, any of these waits for the event. Truncated, the
		 * kernel gets the low 32 bits as a signed tv_sec: 0 does not wait
		 * at all, a negative number waits without limit (the kernel's
		 * hrtimer saturates a time in the past to "never"). */
		int32_t low = (int32_t)(uint32_t)(uint64_t)seconds[i / 2];
		if (truncates() && low == 0) {
			CHECK_EQ(ret, 0);
			struct timespec long_wait = { 30, 0 };
			CALL_EQ(io_getevents(ctx, 1, 1, &ev, &long_wait), 1);
		} else {
			/* The event came from the other thread, 100 ms later. */
			CHECK_EQ(ret, 1);
		}
		CHECK(ev.obj == &p);
		CHECK(((long)ev.res & POLLIN) != 0);
		CHECK(pthread_join(thread, NULL) == 0);
		char c;
		CHECK(read(pipefd[0], &c, 1) == 1);
	}
	CALL_EQ(io_destroy(ctx), 0);
	printf("time64: timeouts beyond 2^31 seconds %s\n",
	       truncates() ? "truncated to their low 32 bits (Debian)"
			   : "clamped: every call waited for its event");
}

/* Contexts the library does not know (a handle that never was one, and
 * one destroyed): like the native entry points, the _time64 ones leave the
 * timeout to the kernel, which reads it itself: EFAULT for an unreadable
 * one, EINVAL for the context. Debian's build reads it first and crashes on
 * the unreadable one: the phase runs against ours only. */
static void unknown_contexts(void)
{
	struct io_event ev;
	struct timespec t = { 0, 20 * 1000000L };
	io_context_t stale = NULL;
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CALL_EQ(io_setup(8, &stale), 0);
	CALL_EQ(io_destroy(stale), 0);

	mark("unknown");
	CALL_EQ(io_getevents((io_context_t)0x1000, 1, 1, &ev, (struct timespec *)1), -EFAULT);
	CALL_EQ(io_pgetevents((io_context_t)0x1000, 1, 1, &ev, (struct timespec *)1, &usr1), -EFAULT);
	CALL_EQ(io_getevents((io_context_t)0x1000, 1, 1, &ev, &t), -EINVAL);
	CALL_EQ(io_pgetevents(stale, 1, 1, &ev, &t, &usr1), -EINVAL);
	CALL_EQ(io_getevents(stale, 1, 1, &ev, NULL), -EINVAL);
	mark("unknown-done");
}

int main(void)
{
	check_loaded_libaio();
	real_io("/dev/shm", "shm");
	real_io(disk_dir(), "disk");
	int fd = scratch_file("/dev/shm", "time64", 16 * BLOCK, 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	zero_timeouts(fd);
	short_timeouts();
	huge_timeouts(pipefd);
	if (!truncates())
		unknown_contexts();
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	printf("time64: passed\n");
	return 0;
}
