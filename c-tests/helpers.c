/*
 * The inline helpers of our libaio.h against the system's, byte for byte.
 *
 * helpers_sys.c, compiled against a copy of the system header, wraps each
 * system helper in a function (sys_io_prep_pread, ...). For many argument
 * combinations (negative, zero and huge descriptors, counts, offsets and
 * flags; NULL, small and wild pointers) this program fills two iocbs with
 * the same garbage, runs our helper on one and the system's on the other,
 * and compares the 64 bytes; it also checks our result field by field. The
 * helpers that submit (io_poll, io_fsync, io_fdsync) run on a real context
 * and must leave the same bytes and return the same values, and the
 * requests they queue must complete.
 *
 * Built with -DLIBAIO_RS_MUTANT_HELPERS, our prep helpers are deliberately
 * broken (their memset fills with 0x11): the test driver checks that this
 * build fails.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
/* libaio-rs: with-system-header helpers_sys.c */
/* libaio-rs: also-against-system-libaio */
#define _GNU_SOURCE
#ifdef LIBAIO_RS_MUTANT_HELPERS
#include <string.h>
#define memset(dst, byte, len) __builtin_memset((dst), (byte) ^ 0x11, (len))
#endif
#include <libaio.h>
#ifdef LIBAIO_RS_MUTANT_HELPERS
#undef memset
#endif

#include <poll.h>
#include <stdarg.h>
#include <sys/uio.h>

#include "helpers_sys.h"
#include "testutil.h"

#define IOCB_SIZE 64

static unsigned long comparisons;

/* Garbage to fill an iocb with before a helper runs: pattern G. */
#define GARBAGE_PATTERNS 7
static void garbage(struct iocb *iocb, int g)
{
	static const int bytes[] = { 0x00, 0xff, 0xa5, 0x5a, 0x01 };
	if (g < 5)
		memset(iocb, bytes[g], sizeof(*iocb));
	else
		fill_pattern(iocb, sizeof(*iocb), (unsigned)g * 7919u);
}

static void dump(const char *name, const struct iocb *iocb)
{
	const unsigned char *p = (const unsigned char *)iocb;
	fprintf(stderr, "  %-9s", name);
	for (int i = 0; i < IOCB_SIZE; i++)
		fprintf(stderr, "%02x%s", p[i], (i % 8 == 7) ? " " : "");
	fprintf(stderr, "\n");
}

/*
 * Checks that OURS, SYS and, when not NULL, EXPECT hold the same 64 bytes;
 * on failure prints the call (a printf format and its arguments) and the
 * three iocbs.
 */
__attribute__((format(printf, 4, 5))) static void same(const struct iocb *ours, const struct iocb *sys,
						       const struct iocb *expect, const char *fmt, ...)
{
	comparisons++;
	if (memcmp(ours, sys, IOCB_SIZE) == 0 && (!expect || memcmp(ours, expect, IOCB_SIZE) == 0))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "helpers differ: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump("ours", ours);
	dump("system", sys);
	if (expect)
		dump("expected", expect);
	exit(1);
}

/* What every io_prep_* must leave: all zero but the descriptor and command. */
static void expected_prep(struct iocb *iocb, int fd, int cmd)
{
	memset(iocb, 0, sizeof(*iocb));
	iocb->aio_fildes = fd;
	iocb->aio_lio_opcode = (short)cmd;
}

static const int fds[] = { INT_MIN, -1, 0, 1, 7, 65535, INT_MAX };
#define N_FDS (sizeof(fds) / sizeof(fds[0]))

static char some_bytes[16];
static void *const bufs[] = { NULL, some_bytes, (void *)1, (void *)(uintptr_t)-1, (void *)(uintptr_t)0x7fffdeadbeefULL };
#define N_BUFS (sizeof(bufs) / sizeof(bufs[0]))

static const size_t counts[] = { 0, 1, 511, 4096, (size_t)1 << 30, (size_t)LONG_MAX + 1, SIZE_MAX,
				 (size_t)0x123456789abcdef0ULL };
#define N_COUNTS (sizeof(counts) / sizeof(counts[0]))

static const long long offsets[] = { LLONG_MIN, -4096, -1, 0, 1, 4096, 1LL << 40, LLONG_MAX };
#define N_OFFSETS (sizeof(offsets) / sizeof(offsets[0]))

static const int iovcnts[] = { INT_MIN, -1, 0, 1, 3, 1024, INT_MAX };
#define N_IOVCNTS (sizeof(iovcnts) / sizeof(iovcnts[0]))

static struct iovec some_iovecs[3];
static const struct iovec *const iovs[] = { NULL, some_iovecs, (const struct iovec *)(uintptr_t)-16 };
#define N_IOVS (sizeof(iovs) / sizeof(iovs[0]))

/* INT_MIN, -1, 0, RWF_HIPRI, RWF_DSYNC, RWF_NOWAIT, RWF_APPEND, INT_MAX */
static const int rw_flags[] = { INT_MIN, -1, 0, 1, 2, 8, 16, INT_MAX };
#define N_RW_FLAGS (sizeof(rw_flags) / sizeof(rw_flags[0]))

static const int poll_events[] = { INT_MIN, -1, 0, POLLIN, POLLIN | POLLOUT | POLLPRI, 0x8000, INT_MAX };
#define N_POLL_EVENTS (sizeof(poll_events) / sizeof(poll_events[0]))

static void callback_a(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)iocb, (void)res, (void)res2;
}

static void callback_b(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)iocb, (void)res, (void)res2;
}

static io_callback_t const callbacks[] = { NULL, callback_a, callback_b };
#define N_CALLBACKS (sizeof(callbacks) / sizeof(callbacks[0]))

static void check_rw(void)
{
	struct iocb a, b, e;
	for (int g = 0; g < GARBAGE_PATTERNS; g++)
		for (size_t f = 0; f < N_FDS; f++)
			for (size_t p = 0; p < N_BUFS; p++)
				for (size_t c = 0; c < N_COUNTS; c++)
					for (size_t o = 0; o < N_OFFSETS; o++) {
						int fd = fds[f];
						void *buf = bufs[p];
						size_t n = counts[c];
						long long off = offsets[o];

						garbage(&a, g);
						garbage(&b, g);
						io_prep_pread(&a, fd, buf, n, off);
						sys_io_prep_pread(&b, fd, buf, n, off);
						expected_prep(&e, fd, IO_CMD_PREAD);
						e.u.c.buf = buf;
						e.u.c.nbytes = n;
						e.u.c.offset = off;
						same(&a, &b, &e, "io_prep_pread(fd %d, buf %p, count %zu, offset %lld), garbage %d",
						     fd, buf, n, off, g);

						garbage(&a, g);
						garbage(&b, g);
						io_prep_pwrite(&a, fd, buf, n, off);
						sys_io_prep_pwrite(&b, fd, buf, n, off);
						e.aio_lio_opcode = IO_CMD_PWRITE;
						same(&a, &b, &e, "io_prep_pwrite(fd %d, buf %p, count %zu, offset %lld), garbage %d",
						     fd, buf, n, off, g);
					}
}

static void check_vectored(void)
{
	struct iocb a, b, e;
	for (int g = 0; g < GARBAGE_PATTERNS; g++)
		for (size_t f = 0; f < N_FDS; f++)
			for (size_t v = 0; v < N_IOVS; v++)
				for (size_t c = 0; c < N_IOVCNTS; c++)
					for (size_t o = 0; o < N_OFFSETS; o++) {
						int fd = fds[f];
						const struct iovec *iov = iovs[v];
						int cnt = iovcnts[c];
						long long off = offsets[o];

						garbage(&a, g);
						garbage(&b, g);
						io_prep_preadv(&a, fd, iov, cnt, off);
						sys_io_prep_preadv(&b, fd, iov, cnt, off);
						expected_prep(&e, fd, IO_CMD_PREADV);
						/* The count is an int stored in an unsigned long: sign-extended. */
						e.u.c.buf = (void *)iov;
						e.u.c.nbytes = (unsigned long)(long)cnt;
						e.u.c.offset = off;
						same(&a, &b, &e, "io_prep_preadv(fd %d, iov %p, iovcnt %d, offset %lld), garbage %d",
						     fd, (const void *)iov, cnt, off, g);
						CHECK(a.u.v.vec == iov && a.u.v.nr == e.u.c.nbytes && a.u.v.offset == off);

						garbage(&a, g);
						garbage(&b, g);
						io_prep_pwritev(&a, fd, iov, cnt, off);
						sys_io_prep_pwritev(&b, fd, iov, cnt, off);
						e.aio_lio_opcode = IO_CMD_PWRITEV;
						same(&a, &b, &e, "io_prep_pwritev(fd %d, iov %p, iovcnt %d, offset %lld), garbage %d",
						     fd, (const void *)iov, cnt, off, g);

						for (size_t r = 0; r < N_RW_FLAGS; r++) {
							int flags = rw_flags[r];
							garbage(&a, g);
							garbage(&b, g);
							io_prep_preadv2(&a, fd, iov, cnt, off, flags);
							sys_io_prep_preadv2(&b, fd, iov, cnt, off, flags);
							e.aio_lio_opcode = IO_CMD_PREADV;
							e.aio_rw_flags = (unsigned)flags;
							same(&a, &b, &e,
							     "io_prep_preadv2(fd %d, iov %p, iovcnt %d, offset %lld, flags %#x), garbage %d",
							     fd, (const void *)iov, cnt, off, (unsigned)flags, g);

							garbage(&a, g);
							garbage(&b, g);
							io_prep_pwritev2(&a, fd, iov, cnt, off, flags);
							sys_io_prep_pwritev2(&b, fd, iov, cnt, off, flags);
							e.aio_lio_opcode = IO_CMD_PWRITEV;
							same(&a, &b, &e,
							     "io_prep_pwritev2(fd %d, iov %p, iovcnt %d, offset %lld, flags %#x), garbage %d",
							     fd, (const void *)iov, cnt, off, (unsigned)flags, g);
							e.aio_rw_flags = 0;
						}
					}
}

static void check_poll_and_sync_preps(void)
{
	struct iocb a, b, e;
	for (int g = 0; g < GARBAGE_PATTERNS; g++)
		for (size_t f = 0; f < N_FDS; f++) {
			int fd = fds[f];
			for (size_t v = 0; v < N_POLL_EVENTS; v++) {
				int events = poll_events[v];
				garbage(&a, g);
				garbage(&b, g);
				io_prep_poll(&a, fd, events);
				sys_io_prep_poll(&b, fd, events);
				expected_prep(&e, fd, IO_CMD_POLL);
				e.u.poll.events = events;
				same(&a, &b, &e, "io_prep_poll(fd %d, events %#x), garbage %d", fd, (unsigned)events, g);
			}

			garbage(&a, g);
			garbage(&b, g);
			io_prep_fsync(&a, fd);
			sys_io_prep_fsync(&b, fd);
			expected_prep(&e, fd, IO_CMD_FSYNC);
			same(&a, &b, &e, "io_prep_fsync(fd %d), garbage %d", fd, g);

			garbage(&a, g);
			garbage(&b, g);
			io_prep_fdsync(&a, fd);
			sys_io_prep_fdsync(&b, fd);
			expected_prep(&e, fd, IO_CMD_FDSYNC);
			same(&a, &b, &e, "io_prep_fdsync(fd %d), garbage %d", fd, g);
		}
}

/* io_set_callback and io_set_eventfd change only their own fields. */
static void check_setters(void)
{
	static const int eventfds[] = { INT_MIN, -1, 0, 3, 1000, INT_MAX };
	struct iocb a, b, e;
	for (int g = 0; g < GARBAGE_PATTERNS; g++) {
		for (size_t c = 0; c < N_CALLBACKS; c++) {
			io_callback_t cb = callbacks[c];
			garbage(&a, g);
			garbage(&b, g);
			garbage(&e, g);
			io_set_callback(&a, cb);
			sys_io_set_callback(&b, cb);
			e.data = (void *)cb;
			same(&a, &b, &e, "io_set_callback(callback %zu), garbage %d", c, g);
		}
		for (size_t i = 0; i < sizeof(eventfds) / sizeof(eventfds[0]); i++) {
			int efd = eventfds[i];
			garbage(&a, g);
			garbage(&b, g);
			garbage(&e, g);
			io_set_eventfd(&a, efd);
			sys_io_set_eventfd(&b, efd);
			e.u.c.flags |= 1;
			e.u.c.resfd = (unsigned)efd;
			same(&a, &b, &e, "io_set_eventfd(%d), garbage %d", efd, g);

			/* Twice in a row, and after a prep and a callback. */
			io_set_eventfd(&a, efd);
			sys_io_set_eventfd(&b, efd);
			same(&a, &b, &e, "io_set_eventfd(%d) twice, garbage %d", efd, g);

			for (size_t c = 0; c < N_CALLBACKS; c++) {
				garbage(&a, g);
				garbage(&b, g);
				io_prep_pwrite(&a, 5, some_bytes, sizeof(some_bytes), 512);
				io_set_callback(&a, callbacks[c]);
				io_set_eventfd(&a, efd);
				sys_io_prep_pwrite(&b, 5, some_bytes, sizeof(some_bytes), 512);
				sys_io_set_callback(&b, callbacks[c]);
				sys_io_set_eventfd(&b, efd);
				expected_prep(&e, 5, IO_CMD_PWRITE);
				e.data = (void *)callbacks[c];
				e.u.c.buf = some_bytes;
				e.u.c.nbytes = sizeof(some_bytes);
				e.u.c.offset = 512;
				e.u.c.flags = 1;
				e.u.c.resfd = (unsigned)efd;
				same(&a, &b, &e, "io_prep_pwrite + io_set_callback(%zu) + io_set_eventfd(%d), garbage %d",
				     c, efd, g);
			}
		}
	}
}

/*
 * The submitting helpers. Every request queued here stays in flight until
 * the end (polls wait for the pipe), so the iocbs live in this table.
 */
#define MAX_QUEUED 128
static struct iocb queued[MAX_QUEUED];
static long queued_res[MAX_QUEUED];
static int n_queued;

static struct iocb *next_slot(void)
{
	CHECK(n_queued + 2 <= MAX_QUEUED);
	return &queued[n_queued];
}

enum submitter { POLL, FSYNC, FDSYNC };

/*
 * Runs our submitting helper and the system's, each on its own copy of the
 * garbage; both must return EXPECT and leave the same bytes. A queued
 * request is expected to complete with RES.
 */
static void submit_both(enum submitter which, io_context_t ctx, io_callback_t cb, int fd, int events, int g,
			int expect, long res)
{
	static const char *const names[] = { "io_poll", "io_fsync", "io_fdsync" };
	struct iocb *a = next_slot(), *b = a + 1;
	garbage(a, g);
	garbage(b, g);
	int ra, rb;
	switch (which) {
	case POLL:
		ra = KEEPS_ERRNO(io_poll(ctx, a, cb, fd, events));
		rb = KEEPS_ERRNO(sys_io_poll(ctx, b, cb, fd, events));
		break;
	case FSYNC:
		ra = KEEPS_ERRNO(io_fsync(ctx, a, cb, fd));
		rb = KEEPS_ERRNO(sys_io_fsync(ctx, b, cb, fd));
		break;
	default:
		ra = KEEPS_ERRNO(io_fdsync(ctx, a, cb, fd));
		rb = KEEPS_ERRNO(sys_io_fdsync(ctx, b, cb, fd));
		break;
	}
	if (ra != expect || rb != expect) {
		fprintf(stderr, "%s(ctx %p, fd %d, events %#x), garbage %d: ours returned %d, the system's %d, expected %d\n",
			names[which], (void *)ctx, fd, (unsigned)events, g, ra, rb, expect);
		exit(1);
	}
	same(a, b, NULL, "%s(ctx %p, fd %d, events %#x), garbage %d", names[which], (void *)ctx, fd, (unsigned)events,
	     g);
	CHECK(a->aio_fildes == fd && a->data == (void *)cb);
	if (expect == 1) {
		queued_res[n_queued] = queued_res[n_queued + 1] = res;
		n_queued += 2;
	}
}

static void check_submitters(void)
{
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	int file = scratch_file("/dev/shm", "helpers", 4096, 0);
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(MAX_QUEUED, &ctx), 0);

	for (int g = 0; g < GARBAGE_PATTERNS; g++) {
		io_callback_t cb = callbacks[g % N_CALLBACKS];
		submit_both(POLL, ctx, cb, pipefd[0], POLLIN, g, 1, POLLIN);
		submit_both(POLL, ctx, cb, pipefd[0], POLLIN | POLLPRI, g, 1, POLLIN);
		submit_both(POLL, ctx, cb, -1, POLLIN, g, -EBADF, 0);
		submit_both(POLL, ctx, cb, INT_MAX, POLLIN, g, -EBADF, 0);
		submit_both(POLL, NULL, cb, pipefd[0], POLLIN, g, -EINVAL, 0);
		submit_both(FSYNC, ctx, cb, file, 0, g, 1, 0);
		submit_both(FSYNC, ctx, cb, -1, 0, g, -EBADF, 0);
		submit_both(FSYNC, ctx, cb, pipefd[0], 0, g, -EINVAL, 0);
		submit_both(FSYNC, NULL, cb, file, 0, g, -EINVAL, 0);
		submit_both(FDSYNC, ctx, cb, file, 0, g, 1, 0);
		submit_both(FDSYNC, ctx, cb, INT_MIN, 0, g, -EBADF, 0);
		submit_both(FDSYNC, ctx, cb, pipefd[1], 0, g, -EINVAL, 0);
		submit_both(FDSYNC, NULL, cb, file, 0, g, -EINVAL, 0);
	}

	/* Make the pipe readable: every poll completes. */
	CHECK(write(pipefd[1], "x", 1) == 1);
	struct io_event events[MAX_QUEUED];
	int seen[MAX_QUEUED] = { 0 };
	int got = 0;
	while (got < n_queued) {
		struct timespec ts = { 10, 0 };
		int n = KEEPS_ERRNO(io_getevents(ctx, 1, n_queued - got, events, &ts));
		CHECK(n > 0);
		for (int i = 0; i < n; i++) {
			struct iocb *obj = events[i].obj;
			CHECK(obj >= queued && obj < queued + n_queued);
			int slot = (int)(obj - queued);
			CHECK(!seen[slot]);
			seen[slot] = 1;
			CHECK(events[i].data == obj->data);
			CHECK_EQ(events[i].res2, 0);
			if (obj->aio_lio_opcode == IO_CMD_POLL)
				CHECK(((long)events[i].res & POLLIN) != 0);
			else
				CHECK_EQ((long)events[i].res, queued_res[slot]);
		}
		got += n;
	}
	CALL_EQ(io_destroy(ctx), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	close(file);
}

int main(void)
{
	check_loaded_libaio();
	CHECK_EQ(sizeof(struct iocb), IOCB_SIZE);
	check_rw();
	check_vectored();
	check_poll_and_sync_preps();
	check_setters();
	check_submitters();
	printf("helpers: %lu comparisons of our helpers with the system header's, %d requests queued and reaped\n",
	       comparisons, n_queued);
	return 0;
}
