/*
 * Every exported function, called from C on real I/O: O_DIRECT files in
 * /dev/shm (tmpfs) and in $TMPDIR or /tmp (disk), a pipe for polls, an
 * eventfd for notifications. Data written is read back and compared; every
 * call runs with errno set to a sentinel that must survive it.
 *
 * The driver runs this program against our library and against the
 * system's libaio: the expectations below hold for both.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
/* libaio-rs: also-against-system-libaio */
#define _GNU_SOURCE
#include <libaio.h>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include "testutil.h"

#define BLOCK 4096
#define FILE_SIZE (1024 * 1024)
#define RWF_DSYNC_FLAG 2 /* RWF_DSYNC */

static const struct timespec ZERO = { 0, 0 };
static const struct timespec ONE_MS = { 0, 1000000 };
static const struct timespec LONG_WAIT = { 30, 0 };

/* A writable copy of a timeout (the functions take a non-const pointer). */
#define TS(t) (&(struct timespec){ (t).tv_sec, (t).tv_nsec })

/* Waits for exactly N completions (any order) into EVENTS. */
static void reap(io_context_t ctx, struct io_event *events, int n)
{
	int got = 0;
	while (got < n) {
		int ret = KEEPS_ERRNO(io_getevents(ctx, 1, n - got, events + got, TS(LONG_WAIT)));
		CHECK(ret > 0);
		got += ret;
	}
}

/* The event for IOCB among the N in EVENTS. */
static struct io_event *event_for(struct io_event *events, int n, struct iocb *iocb)
{
	for (int i = 0; i < n; i++)
		if (events[i].obj == iocb)
			return &events[i];
	fprintf(stderr, "no completion for iocb %p\n", (void *)iocb);
	exit(1);
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
	CHECK_EQ(total, n);
}

static void check_setup_and_queue_init(void)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(0, &ctx), -EINVAL);
	CALL_EQ(io_setup(-1, &ctx), -EINVAL);
	CALL_EQ(io_setup(INT_MAX, &ctx), -EINVAL);
	CALL_EQ(io_setup(1, NULL), -EFAULT);
	CHECK(ctx == NULL);

	/* io_setup does not clear the handle: a non-zero one is refused. */
	ctx = (io_context_t)(uintptr_t)0x1234;
	CALL_EQ(io_setup(1, &ctx), -EINVAL);
	CHECK(ctx == (io_context_t)(uintptr_t)0x1234);

	ctx = NULL;
	CALL_EQ(io_setup(1, &ctx), 0);
	CHECK(ctx != NULL);
	CALL_EQ(io_destroy(ctx), 0);

	/* io_queue_init refuses a non-positive size before touching the handle... */
	io_context_t q = (io_context_t)(uintptr_t)0x5678;
	CALL_EQ(io_queue_init(0, &q), -EINVAL);
	CALL_EQ(io_queue_init(-5, &q), -EINVAL);
	CALL_EQ(io_queue_init(INT_MIN, &q), -EINVAL);
	CHECK(q == (io_context_t)(uintptr_t)0x5678);
	/* ...and clears it otherwise, so that garbage in it is fine. */
	CALL_EQ(io_queue_init(4, &q), 0);
	CHECK(q != NULL && q != (io_context_t)(uintptr_t)0x5678);
	CALL_EQ(io_queue_release(q), 0);

	CALL_EQ(io_destroy(NULL), -EINVAL);
	CALL_EQ(io_queue_release(NULL), -EINVAL);
	CALL_EQ(io_submit(NULL, 0, NULL), -EINVAL);
	CALL_EQ(io_getevents(NULL, 0, 1, NULL, TS(ZERO)), -EINVAL);
	CALL_EQ(io_pgetevents(NULL, 0, 1, NULL, TS(ZERO), NULL), -EINVAL);
	CALL_EQ(io_queue_wait(NULL, NULL), -EINVAL);
	CALL_EQ(io_queue_run(NULL), -EINVAL);
	struct iocb unused;
	io_prep_fsync(&unused, 0);
	struct io_event ev;
	CALL_EQ(io_cancel(NULL, &unused, &ev), -EINVAL);
}

/* Writes with pwrite, pwritev and pwritev2, syncs, reads back three ways. */
static void check_read_write(io_context_t ctx, int fd)
{
	char *w0 = aligned_buf(4 * BLOCK), *r0 = aligned_buf(4 * BLOCK);
	char *wv = aligned_buf(3 * BLOCK), *rv = aligned_buf(3 * BLOCK);
	char *w2 = aligned_buf(2 * BLOCK), *r2 = aligned_buf(2 * BLOCK);
	fill_pattern(w0, 4 * BLOCK, 1);
	fill_pattern(wv, 3 * BLOCK, 2);
	fill_pattern(w2, 2 * BLOCK, 3);
	struct iovec wiov[3], riov[3], w2iov[2], r2iov[2];
	for (int i = 0; i < 3; i++) {
		/* Out of order in memory, so that a wrong gather shows. */
		wiov[i] = (struct iovec){ wv + (2 - i) * BLOCK, BLOCK };
		riov[i] = (struct iovec){ rv + (2 - i) * BLOCK, BLOCK };
	}
	for (int i = 0; i < 2; i++) {
		w2iov[i] = (struct iovec){ w2 + i * BLOCK, BLOCK };
		r2iov[i] = (struct iovec){ r2 + i * BLOCK, BLOCK };
	}

	struct iocb w[3], *wp[3] = { &w[0], &w[1], &w[2] };
	struct io_event events[8];
	io_prep_pwrite(&w[0], fd, w0, 4 * BLOCK, 0);
	io_prep_pwritev(&w[1], fd, wiov, 3, 16 * BLOCK);
	io_prep_pwritev2(&w[2], fd, w2iov, 2, 32 * BLOCK, RWF_DSYNC_FLAG);
	for (int i = 0; i < 3; i++)
		w[i].data = (void *)(uintptr_t)(0x1000 + i);
	CALL_EQ(io_submit(ctx, 3, wp), 3);
	/* min_nr 3: the call waits for all three. */
	CALL_EQ(io_getevents(ctx, 3, 3, events, TS(LONG_WAIT)), 3);
	static const long sizes[] = { 4 * BLOCK, 3 * BLOCK, 2 * BLOCK };
	for (int i = 0; i < 3; i++) {
		struct io_event *e = event_for(events, 3, &w[i]);
		CHECK_EQ((long)e->res, sizes[i]);
		CHECK_EQ(e->res2, 0);
		CHECK(e->data == (void *)(uintptr_t)(0x1000 + i));
	}

	struct iocb s[2], *sp[2] = { &s[0], &s[1] };
	io_prep_fsync(&s[0], fd);
	io_prep_fdsync(&s[1], fd);
	CALL_EQ(io_submit(ctx, 2, sp), 2);
	reap(ctx, events, 2);
	for (int i = 0; i < 2; i++) {
		struct io_event *e = event_for(events, 2, &s[i]);
		CHECK_EQ((long)e->res, 0);
		CHECK_EQ(e->res2, 0);
	}

	struct iocb r[4], *rp[4] = { &r[0], &r[1], &r[2], &r[3] };
	char *past_eof = aligned_buf(BLOCK);
	io_prep_pread(&r[0], fd, r0, 4 * BLOCK, 0);
	io_prep_preadv(&r[1], fd, riov, 3, 16 * BLOCK);
	io_prep_preadv2(&r[2], fd, r2iov, 2, 32 * BLOCK, 0);
	io_prep_pread(&r[3], fd, past_eof, BLOCK, FILE_SIZE);
	CALL_EQ(io_submit(ctx, 4, rp), 4);
	/* nr limits how many come back; min_nr 2 of the 3 left. */
	CALL_EQ(io_getevents(ctx, 1, 1, events, TS(LONG_WAIT)), 1);
	CALL_EQ(io_getevents(ctx, 3, 3, events + 1, TS(LONG_WAIT)), 3);
	static const long read_sizes[] = { 4 * BLOCK, 3 * BLOCK, 2 * BLOCK, 0 };
	for (int i = 0; i < 4; i++) {
		struct io_event *e = event_for(events, 4, &r[i]);
		CHECK_EQ((long)e->res, read_sizes[i]);
		CHECK_EQ(e->res2, 0);
	}
	CHECK(memcmp(r0, w0, 4 * BLOCK) == 0);
	CHECK(memcmp(rv, wv, 3 * BLOCK) == 0);
	CHECK(memcmp(r2, w2, 2 * BLOCK) == 0);
	CHECK(has_pattern(r0, 4 * BLOCK, 1));

	/* A request the kernel fails after queueing it: the error is in res. */
	io_prep_pread(&r[0], fd, NULL, BLOCK, 0);
	CALL_EQ(io_submit(ctx, 1, rp), 1);
	reap(ctx, events, 1);
	CHECK_EQ((long)events[0].res, -EFAULT);

	free(w0), free(r0), free(wv), free(rv), free(w2), free(r2), free(past_eof);
}

/* io_submit's own answers, and a partial submission. */
static void check_submit(io_context_t ctx, int fd)
{
	char *buf = aligned_buf(BLOCK);
	struct iocb io[2], *iop[2] = { &io[0], &io[1] };
	io_prep_pread(&io[0], fd, buf, BLOCK, 0);
	io_prep_pread(&io[1], -1, buf, BLOCK, 0);
	CALL_EQ(io_submit(ctx, 0, iop), 0);
	CALL_EQ(io_submit(ctx, -1, iop), -EINVAL);
	CALL_EQ(io_submit(ctx, 1, NULL), -EFAULT);
	CALL_EQ(io_submit(ctx, 1, iop + 1), -EBADF);
	/* The first is queued, the second refused: 1. */
	CALL_EQ(io_submit(ctx, 2, iop), 1);
	struct io_event ev;
	reap(ctx, &ev, 1);
	CHECK(ev.obj == &io[0]);
	CHECK_EQ((long)ev.res, BLOCK);
	free(buf);
}

/* min_nr, nr and timeouts on an empty ring. */
static void check_getevents_limits(io_context_t ctx)
{
	struct io_event events[4];
	/* Nothing queued: a zero timeout answers at once, a short one after it. */
	CALL_EQ(io_getevents(ctx, 0, 4, events, TS(ZERO)), 0);
	CALL_EQ(io_getevents(ctx, 1, 4, events, TS(ZERO)), 0);
	CALL_EQ(io_getevents(ctx, 1, 4, events, TS(ONE_MS)), 0);
	CALL_EQ(io_getevents(ctx, 0, 4, events, NULL), 0);
	/* The kernel checks the numbers when it is asked... */
	CALL_EQ(io_getevents(ctx, 3, 2, events, TS(ONE_MS)), -EINVAL);
	CALL_EQ(io_getevents(ctx, 0, -1, events, TS(ONE_MS)), -EINVAL);
	/* ...but libaio answers an empty ring with a zero timeout itself, unchecked. */
	CALL_EQ(io_getevents(ctx, 3, 2, events, TS(ZERO)), 0);
	CALL_EQ(io_getevents(ctx, 0, -1, NULL, TS(ZERO)), 0);
	CALL_EQ(io_pgetevents(ctx, 0, 4, events, TS(ZERO), NULL), 0);
	CALL_EQ(io_pgetevents(ctx, 1, 4, events, TS(ONE_MS), NULL), 0);
	CALL_EQ(io_pgetevents(ctx, 3, 2, events, TS(ONE_MS), NULL), -EINVAL);
}

/* Polls on a pipe, and io_cancel of a pending poll. */
static void check_poll_and_cancel(io_context_t ctx, int pipefd[2])
{
	struct iocb p, *pp = &p;
	struct io_event ev;
	io_prep_poll(&p, pipefd[0], POLLIN);
	p.data = &p;
	CALL_EQ(io_submit(ctx, 1, &pp), 1);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(ZERO)), 0);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(ONE_MS)), 0);
	CHECK(write(pipefd[1], "p", 1) == 1);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(LONG_WAIT)), 1);
	CHECK(ev.obj == &p && ev.data == &p);
	CHECK(((long)ev.res & POLLIN) != 0);
	CHECK_EQ(ev.res2, 0);
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);

	/* Cancelling a pending poll starts the cancellation; its completion follows. */
	io_prep_poll(&p, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pp), 1);
	struct io_event untouched;
	memset(&untouched, 0xab, sizeof(untouched));
	ev = untouched;
	CALL_EQ(io_cancel(ctx, &p, &ev), -EINPROGRESS);
	CHECK(memcmp(&ev, &untouched, sizeof(ev)) == 0);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(LONG_WAIT)), 1);
	CHECK(ev.obj == &p);
	CHECK_EQ((long)ev.res, 0);
	/* No longer queued, or never submitted: EINVAL. */
	CALL_EQ(io_cancel(ctx, &p, &ev), -EINVAL);
	struct iocb never;
	io_prep_poll(&never, pipefd[0], POLLIN);
	CALL_EQ(io_cancel(ctx, &never, &ev), -EINVAL);
}

static volatile sig_atomic_t usr1_delivered;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_delivered = 1;
}

/* io_pgetevents with no mask and with masks that let SIGUSR1 through or not. */
static void check_pgetevents(io_context_t ctx, int fd, int pipefd[2])
{
	char *buf = aligned_buf(BLOCK);
	struct iocb r, *rp = &r;
	struct io_event ev;
	io_prep_pread(&r, fd, buf, BLOCK, 0);
	CALL_EQ(io_submit(ctx, 1, &rp), 1);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), NULL), 1);
	CHECK(ev.obj == &r);
	CHECK_EQ((long)ev.res, BLOCK);

	sigset_t usr1, empty, old, now;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&empty);
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, &old_sa) == 0);
	CHECK(sigprocmask(SIG_BLOCK, &usr1, &old) == 0);
	usr1_delivered = 0;
	CHECK(raise(SIGUSR1) == 0); /* pending: blocked */
	CHECK(!usr1_delivered);

	/* A poll that will not complete by itself keeps the calls waiting. */
	struct iocb p, *pp = &p;
	io_prep_poll(&p, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pp), 1);
	/* A mask that blocks SIGUSR1, or none (the thread's blocks it): a plain timeout. */
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(ONE_MS), &usr1), 0);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(ONE_MS), NULL), 0);
	CHECK(!usr1_delivered);
	/* A mask that lets it through: interrupted, and the handler ran. */
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), &empty), -EINTR);
	CHECK(usr1_delivered);
	/* The thread's own mask is back. */
	CHECK(sigprocmask(SIG_BLOCK, NULL, &now) == 0);
	CHECK(sigismember(&now, SIGUSR1) == 1);

	/* Completing the poll: io_pgetevents with a mask returns it. */
	CHECK(write(pipefd[1], "q", 1) == 1);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), &empty), 1);
	CHECK(ev.obj == &p);
	CHECK(((long)ev.res & POLLIN) != 0);
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);

	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	CHECK(sigaction(SIGUSR1, &old_sa, NULL) == 0);
	free(buf);
}

/* What each io_queue_run callback saw. */
struct call {
	int calls;
	io_context_t ctx;
	long res, res2;
};
static struct iocb cb_iocbs[5];
static struct call cb_calls[5];

static void record(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	CHECK(iocb >= cb_iocbs && iocb < cb_iocbs + 5);
	struct call *call = &cb_calls[iocb - cb_iocbs];
	call->calls++;
	call->ctx = ctx;
	call->res = res;
	call->res2 = res2;
}

static void record_other(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	/* A second callback, so that each iocb's own is the one called. */
	CHECK(iocb == &cb_iocbs[4]);
	record(ctx, iocb, res + 1000, res2);
}

/* io_queue_run with callbacks, and eventfd notification of completions. */
static void check_queue_run(io_context_t ctx, int fd, int pipefd[2])
{
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	char *wbuf = aligned_buf(BLOCK), *rbuf = aligned_buf(BLOCK);
	fill_pattern(wbuf, BLOCK, 9);
	memset(cb_calls, 0, sizeof(cb_calls));

	/* A write first, on its own, so that the read after it sees the data. */
	struct iocb *p0 = &cb_iocbs[0];
	io_prep_pwrite(p0, fd, wbuf, BLOCK, 40 * BLOCK);
	io_set_callback(p0, record);
	io_set_eventfd(p0, efd);
	CALL_EQ(io_submit(ctx, 1, &p0), 1);
	wait_eventfd(efd, 1);
	CALL_EQ(io_queue_run(ctx), 0);
	CHECK_EQ(cb_calls[0].calls, 1);
	CHECK(cb_calls[0].ctx == ctx);
	CHECK_EQ(cb_calls[0].res, BLOCK);
	CHECK_EQ(cb_calls[0].res2, 0);

	CHECK(write(pipefd[1], "r", 1) == 1);
	struct iocb *ps[4] = { &cb_iocbs[1], &cb_iocbs[2], &cb_iocbs[3], &cb_iocbs[4] };
	io_prep_pread(ps[0], fd, rbuf, BLOCK, 40 * BLOCK);
	io_prep_pread(ps[1], fd, NULL, BLOCK, 40 * BLOCK);
	io_prep_poll(ps[2], pipefd[0], POLLIN);
	io_prep_fdsync(ps[3], fd);
	for (int i = 0; i < 4; i++) {
		io_set_callback(ps[i], i == 3 ? record_other : record);
		io_set_eventfd(ps[i], efd);
	}
	CALL_EQ(io_submit(ctx, 4, ps), 4);
	wait_eventfd(efd, 4);

	/* io_queue_wait neither waits nor consumes anything. */
	CALL_EQ(io_queue_wait(ctx, TS(ZERO)), 0);
	CALL_EQ(io_queue_wait(ctx, TS(ONE_MS)), 0);
	CALL_EQ(io_queue_wait(ctx, NULL), 0);
	CHECK_EQ(cb_calls[1].calls + cb_calls[2].calls + cb_calls[3].calls + cb_calls[4].calls, 0);

	CALL_EQ(io_queue_run(ctx), 0);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(cb_calls[i].calls, 1);
		CHECK(cb_calls[i].ctx == ctx);
		CHECK_EQ(cb_calls[i].res2, 0);
	}
	CHECK_EQ(cb_calls[1].res, BLOCK);
	CHECK_EQ(cb_calls[2].res, -EFAULT);
	CHECK(cb_calls[3].res & POLLIN);
	CHECK_EQ(cb_calls[4].res, 1000);
	CHECK(memcmp(rbuf, wbuf, BLOCK) == 0);

	/* Nothing left: no more calls. */
	CALL_EQ(io_queue_run(ctx), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(cb_calls[i].calls, 1);
	CALL_EQ(io_queue_wait(ctx, TS(ZERO)), 0);
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);

	/* A completion io_queue_wait saw stays for io_getevents, and the eventfd. */
	struct iocb r, *rp = &r;
	struct io_event ev;
	io_prep_pread(&r, fd, rbuf, BLOCK, 0);
	io_set_eventfd(&r, efd);
	CALL_EQ(io_submit(ctx, 1, &rp), 1);
	wait_eventfd(efd, 1);
	CALL_EQ(io_queue_wait(ctx, TS(ZERO)), 0);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(ZERO)), 1);
	CHECK(ev.obj == &r);
	CHECK_EQ((long)ev.res, BLOCK);

	close(efd);
	free(wbuf), free(rbuf);
}

static void run_on(const char *dir, const char *label)
{
	int fd = scratch_file(dir, label, FILE_SIZE, 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);

	io_context_t ctx = NULL;
	CALL_EQ(io_setup(32, &ctx), 0);
	check_read_write(ctx, fd);
	check_submit(ctx, fd);
	check_getevents_limits(ctx);
	check_poll_and_cancel(ctx, pipefd);
	check_pgetevents(ctx, fd, pipefd);
	check_queue_run(ctx, fd, pipefd);
	/* Everything was reaped. */
	CALL_EQ(io_getevents(ctx, 0, 1, NULL, TS(ZERO)), 0);
	CALL_EQ(io_destroy(ctx), 0);
	CALL_EQ(io_destroy(ctx), -EINVAL);

	/* The same through io_queue_init and io_queue_release. */
	io_context_t q = (io_context_t)(uintptr_t)-1;
	CALL_EQ(io_queue_init(8, &q), 0);
	check_read_write(q, fd);
	CALL_EQ(io_queue_release(q), 0);
	CALL_EQ(io_queue_release(q), -EINVAL);

	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	printf("real_io: %s (%s) passed\n", label, dir);
}

int main(void)
{
	check_loaded_libaio();
	check_setup_and_queue_init();
	run_on("/dev/shm", "shm");
	run_on(disk_dir(), "disk");
	return 0;
}
