/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * aiobench: one benchmark binary for libaio and anything that replaces it.
 *
 * Built once against the system <libaio.h> and linked with -laio, so the same
 * binary runs against any libaio.so.1 chosen with LD_LIBRARY_PATH. With --raw
 * it does the same work through syscall(SYS_io_*) and calls no libaio
 * function at all (the header's inline helpers are not used either): the
 * floor.
 *
 *   aiobench CASE [options]
 *   aiobench mkfile PATH MIB        write the test pattern into PATH
 *
 * Cases:
 *   rw        4 KiB O_DIRECT random reads of --file at queue depth --qd:
 *             submit --qd, then repeat io_getevents(ctx, --min, --qd, ev,
 *             NULL) and resubmit what completed in one io_submit.
 *             One op = one completed read.
 *   empty     io_getevents(ctx, 0, 1, ev, {0,0}) on an empty ring.
 *             One op = one call.
 *   queuerun  submit --qd reads carrying callbacks (io_set_callback), wait
 *             (watching the ring's tail) until all are in the ring, then
 *             io_queue_run; only io_queue_run is timed. The callback only
 *             records its arguments; they are checked after io_queue_run
 *             returns. One op = one completion dispatched. --raw reaps them
 *             with io_getevents system calls of nr = --qd (one, normally)
 *             and calls the callbacks itself.
 *   setup     io_setup(128) then io_destroy. One op = one cycle.
 *
 * Options:
 *   --raw           system calls instead of libaio
 *   --uring         rw only: the same calls served by a bare io_uring instance
 *                   (io_submit: one io_uring_enter submitting a read per iocb;
 *                   io_getevents: the completion queue, and io_uring_enter to
 *                   wait for min_nr): what io_uring itself does when driven
 *                   the way the libaio API drives it. No libaio function runs.
 *   --pread         rw only: io_submit does each read with pread(2) on the
 *                   calling thread and io_getevents hands the results out:
 *                   the read system call alone, which no library doing one
 *                   system call per read on the calling thread can beat.
 *   --file PATH     file or block device read by rw and queuerun
 *   --qd N          queue depth (rw) or completions per run (queuerun)
 *   --min N         min_nr of rw's io_getevents (default 1)
 *   --secs S        length of the timed loop (default 1)
 *   --warmup S      length of the warm-up loop (default 0.2)
 *   --ops N         run N ops instead of --secs (for strace and callgrind)
 *   --warmup-ops N  warm-up by op count instead of --warmup
 *   --mark          surround the measured calls with write(-1, "aiobench:
 *                   begin"/"end") so that an strace log can be cut
 *   --buffered      open --file without O_DIRECT (reads go through the page
 *                   cache)
 *   --cold          with --buffered: drop --file's cached pages first
 *                   (POSIX_FADV_DONTNEED) and ask for no read-ahead
 *                   (POSIX_FADV_RANDOM), so that every read reaches the device
 *   --hot           with --buffered: read the whole file once first, so that
 *                   every read is served from the page cache
 *
 * The measured library calls go through the noinline functions bench_lib_*,
 * so that `valgrind --tool=callgrind --collect-atstart=no
 * --toggle-collect='bench_lib_*'` counts the user-space instructions of those
 * calls only (the wrapper itself adds a handful). When <valgrind/callgrind.h>
 * is available the counters are zeroed after the warm-up.
 *
 * Every completion is checked: it names one of our iocbs, that iocb was in
 * flight (so each completes exactly once), res is 4096 and res2 0, data is
 * what was set, and the buffer holds the block that was asked for (the file
 * carries each block's number at both ends; the buffer is poisoned before
 * each read). At the end every iocb must have completed. Any error exits
 * with status 1 and no result line.
 *
 * Output: one line starting with "result " made of key=value pairs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libaio.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define CALLGRIND_ZERO_STATS do { } while (0)
#endif

#if defined(__clang__)
#define MEASURED __attribute__((noinline, used))
#else
#define MEASURED __attribute__((noinline, noipa, used))
#endif

#define BS 4096u
#define TAIL_MAGIC UINT64_C(0x5a5aa5a5c3c33c3c)
#define RING_MAGIC 0xa10a10a1u

/* The kernel's ring header; io_context_t is its address. */
struct ring_header {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features,
		header_length;
};

static int raw;       /* no libaio function is called (--raw, --uring, --pread) */
static enum { ENGINE_LIBAIO, ENGINE_RAW, ENGINE_URING, ENGINE_PREAD } engine;
static const char *const engine_names[] = { "libaio", "raw", "uring", "pread" };
static int mark;
static int buffered, cold, hot;
static int fd = -1;
static uint64_t nblocks;
static unsigned nslots;
static struct iocb *iocbs;
static struct iocb **list;
static struct io_event *events;
static unsigned char *bufs;
static uint64_t *expect;
static unsigned char *inflight;
static long ninflight;
static uint64_t completions;
static uint64_t rng = UINT64_C(0x2545f4914f6cdd1d);

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("aiobench: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next_random(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(0x2545f4914f6cdd1d);
}

static void put_mark(const char *what)
{
	if (mark) {
		ssize_t r = write(-1, what, strlen(what));
		(void)r;
	}
}

/* ---- the system calls, or libaio --------------------------------------- */

static int sys_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}

/* ---- --uring: a bare io_uring instance behind the rw loop's four calls -- */

static struct {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *rings, *cq_ring;
	size_t rings_len, cq_len, sqes_len;
} ur = { .fd = -1 };

static void *ring_map(size_t len, off_t what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       ur.fd, what);

	if (p == MAP_FAILED)
		die("mmap of the io_uring rings: %s", strerror(errno));
	return p;
}

static int uring_setup(unsigned entries)
{
	struct io_uring_params p;
	unsigned char *sq, *cq;

	memset(&p, 0, sizeof p);
	ur.fd = (int)syscall(SYS_io_uring_setup, entries, &p);
	if (ur.fd < 0)
		return -errno;
	ur.rings_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	ur.cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (ur.cq_len > ur.rings_len)
			ur.rings_len = ur.cq_len;
		sq = cq = ur.rings = ring_map(ur.rings_len, IORING_OFF_SQ_RING);
		ur.cq_ring = NULL;
	} else {
		sq = ur.rings = ring_map(ur.rings_len, IORING_OFF_SQ_RING);
		cq = ur.cq_ring = ring_map(ur.cq_len, IORING_OFF_CQ_RING);
	}
	ur.sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	ur.sqes = ring_map(ur.sqes_len, IORING_OFF_SQES);
	ur.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ur.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ur.sq_array = (unsigned *)(sq + p.sq_off.array);
	ur.cq_head = (unsigned *)(cq + p.cq_off.head);
	ur.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ur.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ur.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static void uring_destroy(void)
{
	munmap(ur.sqes, ur.sqes_len);
	if (ur.cq_ring)
		munmap(ur.cq_ring, ur.cq_len);
	munmap(ur.rings, ur.rings_len);
	close(ur.fd);
	ur.fd = -1;
}

static int uring_enter(unsigned submit, unsigned wait, unsigned flags)
{
	return sys_ret(syscall(SYS_io_uring_enter, ur.fd, submit, wait, flags, NULL, 0));
}

/* Each iocb (a pread, as prep() makes them) becomes an IORING_OP_READ that
 * carries the iocb's address; one io_uring_enter submits them all. */
static int uring_submit(long nr, struct iocb **v)
{
	unsigned tail = *ur.sq_tail, mask = *ur.sq_mask;

	for (long k = 0; k < nr; k++) {
		const struct iocb *cb = v[k];
		unsigned at = (tail + (unsigned)k) & mask;
		struct io_uring_sqe *sqe = &ur.sqes[at];

		memset(sqe, 0, sizeof *sqe);
		sqe->opcode = IORING_OP_READ;
		sqe->fd = cb->aio_fildes;
		sqe->addr = (uint64_t)(uintptr_t)cb->u.c.buf;
		sqe->len = (uint32_t)cb->u.c.nbytes;
		sqe->off = (uint64_t)cb->u.c.offset;
		sqe->user_data = (uint64_t)(uintptr_t)cb;
		ur.sq_array[at] = at;
	}
	__atomic_store_n(ur.sq_tail, tail + (unsigned)nr, __ATOMIC_RELEASE);
	return uring_enter((unsigned)nr, 0, 0);
}

/* Takes up to nr completions, waiting in io_uring_enter for min_nr. */
static int uring_getevents(long min_nr, long nr, struct io_event *ev)
{
	long got = 0;

	for (;;) {
		unsigned head = *ur.cq_head;
		unsigned tail = __atomic_load_n(ur.cq_tail, __ATOMIC_ACQUIRE);
		int rc;

		while (head != tail && got < nr) {
			const struct io_uring_cqe *cqe = &ur.cqes[head & *ur.cq_mask];
			struct iocb *cb = (struct iocb *)(uintptr_t)cqe->user_data;

			ev[got].data = cb->data;
			ev[got].obj = cb;
			ev[got].res = (unsigned long)(long)cqe->res;
			ev[got].res2 = 0;
			got++;
			head++;
		}
		__atomic_store_n(ur.cq_head, head, __ATOMIC_RELEASE);
		if (got >= min_nr)
			return (int)got;
		rc = uring_enter(0, (unsigned)(min_nr - got), IORING_ENTER_GETEVENTS);
		if (rc < 0 && rc != -EINTR)
			return rc;
	}
}

/* ---- --pread: each read done by io_submit's stand-in, on this thread ---- */

static struct io_event *done_events;
static long ndone;

static int pread_submit(long nr, struct iocb **v)
{
	for (long k = 0; k < nr; k++) {
		struct iocb *cb = v[k];
		ssize_t got = pread(cb->aio_fildes, cb->u.c.buf, cb->u.c.nbytes,
				    cb->u.c.offset);

		if ((unsigned long)ndone >= nslots)
			die("more reads done than slots");
		done_events[ndone].data = cb->data;
		done_events[ndone].obj = cb;
		done_events[ndone].res = (unsigned long)(got < 0 ? -errno : got);
		done_events[ndone].res2 = 0;
		ndone++;
	}
	return (int)nr;
}

static int pread_getevents(long min_nr, long nr, struct io_event *ev)
{
	long n = ndone < nr ? ndone : nr;

	if (n < min_nr)
		die("waiting for %ld reads with %ld done: nothing else would complete",
		    min_nr, ndone);
	memcpy(ev, done_events, (size_t)n * sizeof *ev);
	memmove(done_events, done_events + n, (size_t)(ndone - n) * sizeof *ev);
	ndone -= n;
	return (int)n;
}

/* ---- the four calls, by engine ------------------------------------------ */

static inline int do_setup(int maxevents, io_context_t *ctxp)
{
	int rc;

	switch (engine) {
	case ENGINE_RAW:
		return sys_ret(syscall(SYS_io_setup, maxevents, ctxp));
	case ENGINE_URING:
		rc = uring_setup((unsigned)maxevents);
		/* Any non-zero handle: the engine has one instance. */
		*ctxp = rc == 0 ? (io_context_t)&ur : 0;
		return rc;
	case ENGINE_PREAD:
		done_events = calloc((size_t)maxevents, sizeof *done_events);
		*ctxp = done_events ? (io_context_t)&done_events : 0;
		return done_events ? 0 : -ENOMEM;
	default:
		return io_setup(maxevents, ctxp);
	}
}

static inline int do_destroy(io_context_t ctx)
{
	switch (engine) {
	case ENGINE_RAW:
		return sys_ret(syscall(SYS_io_destroy, ctx));
	case ENGINE_URING:
		uring_destroy();
		return 0;
	case ENGINE_PREAD:
		free(done_events);
		done_events = NULL;
		return 0;
	default:
		return io_destroy(ctx);
	}
}

static inline int do_submit(io_context_t ctx, long nr, struct iocb **v)
{
	switch (engine) {
	case ENGINE_RAW:
		return sys_ret(syscall(SYS_io_submit, ctx, nr, v));
	case ENGINE_URING:
		return uring_submit(nr, v);
	case ENGINE_PREAD:
		return pread_submit(nr, v);
	default:
		return io_submit(ctx, nr, v);
	}
}

static inline int do_getevents(io_context_t ctx, long min_nr, long nr,
			       struct io_event *ev, struct timespec *ts)
{
	switch (engine) {
	case ENGINE_RAW:
		return sys_ret(syscall(SYS_io_getevents, ctx, min_nr, nr, ev, ts));
	case ENGINE_URING:
		return uring_getevents(min_nr, nr, ev);
	case ENGINE_PREAD:
		return pread_getevents(min_nr, nr, ev);
	default:
		return io_getevents(ctx, min_nr, nr, ev, ts);
	}
}

typedef void (*callback_fn)(io_context_t, struct iocb *, long, long);

/* The floor of io_queue_run: reap the n completions known to be waiting
 * with as few system calls as possible and dispatch them. */
static int raw_queue_run(io_context_t ctx, long n)
{
	static struct timespec zero;

	while (n > 0) {
		int got = sys_ret(syscall(SYS_io_getevents, ctx, 0L, n, events, &zero));

		if (got <= 0)
			return got;
		for (int k = 0; k < got; k++) {
			callback_fn cb;

			memcpy(&cb, &events[k].data, sizeof cb);
			cb(ctx, events[k].obj, (long)events[k].res, (long)events[k].res2);
		}
		n -= got;
	}
	return 0;
}

/* The measured calls. */
MEASURED int bench_lib_submit(io_context_t ctx, long nr, struct iocb **v)
{
	return do_submit(ctx, nr, v);
}

MEASURED int bench_lib_getevents(io_context_t ctx, long min_nr, long nr,
				 struct io_event *ev, struct timespec *ts)
{
	return do_getevents(ctx, min_nr, nr, ev, ts);
}

MEASURED int bench_lib_queue_run(io_context_t ctx, long n)
{
	if (raw)
		return raw_queue_run(ctx, n);
	return io_queue_run(ctx);
}

MEASURED int bench_lib_setup(int maxevents, io_context_t *ctxp)
{
	return do_setup(maxevents, ctxp);
}

MEASURED int bench_lib_destroy(io_context_t ctx)
{
	return do_destroy(ctx);
}

/* ---- iocbs and their checks -------------------------------------------- */

static void *rw_tag(unsigned i)
{
	return (void *)(uintptr_t)(UINT64_C(0xab000000) + i);
}

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2);

/* Prepares slot i for a read of a random block. */
static void prep(unsigned i, int with_callback)
{
	uint64_t block = next_random() % nblocks;
	struct iocb *cb = &iocbs[i];
	unsigned char *buf = bufs + (size_t)i * BS;
	uint64_t poison = ~UINT64_C(0);

	memcpy(buf, &poison, sizeof poison);
	memcpy(buf + BS - sizeof poison, &poison, sizeof poison);
	if (raw) {
		callback_fn fn = on_done;

		memset(cb, 0, sizeof *cb);
		cb->aio_fildes = fd;
		cb->aio_lio_opcode = IO_CMD_PREAD;
		cb->u.c.buf = buf;
		cb->u.c.nbytes = BS;
		cb->u.c.offset = (long long)(block * BS);
		if (with_callback)
			memcpy(&cb->data, &fn, sizeof fn);
		else
			cb->data = rw_tag(i);
	} else {
		io_prep_pread(cb, fd, buf, BS, (long long)(block * BS));
		if (with_callback)
			io_set_callback(cb, on_done);
		else
			cb->data = rw_tag(i);
	}
	if (inflight[i])
		die("slot %u reused while in flight", i);
	expect[i] = block;
	inflight[i] = 1;
	ninflight++;
}

/* Checks one completion; returns its slot. */
static unsigned check_completion(struct iocb *obj, unsigned long res,
				 unsigned long res2)
{
	uintptr_t off = (uintptr_t)obj - (uintptr_t)iocbs;
	unsigned i;
	uint64_t head, tail;
	const unsigned char *buf;

	if ((uintptr_t)obj < (uintptr_t)iocbs || off % sizeof(struct iocb) != 0 ||
	    off / sizeof(struct iocb) >= nslots)
		die("completion for an unknown iocb %p", (void *)obj);
	i = (unsigned)(off / sizeof(struct iocb));
	if (!inflight[i])
		die("iocb %u completed twice (or was never submitted)", i);
	if (res != BS || res2 != 0)
		die("iocb %u: res %ld res2 %ld, expected %u and 0", i, (long)res,
		    (long)res2, BS);
	buf = bufs + (size_t)i * BS;
	memcpy(&head, buf, sizeof head);
	memcpy(&tail, buf + BS - sizeof tail, sizeof tail);
	if (head != expect[i] || tail != (expect[i] ^ TAIL_MAGIC))
		die("iocb %u: buffer holds block %#" PRIx64 "/%#" PRIx64
		    ", expected block %" PRIu64, i, head, tail, expect[i]);
	inflight[i] = 0;
	ninflight--;
	completions++;
	return i;
}

static unsigned check_event(const struct io_event *ev)
{
	unsigned i = check_completion(ev->obj, ev->res, ev->res2);

	if (ev->data != rw_tag(i))
		die("iocb %u: event data %p, expected %p", i, ev->data, rw_tag(i));
	return i;
}

/* io_queue_run's callback only records what it is given (so that the
 * measured call is mostly the library's work); the records are checked once
 * io_queue_run has returned. */
struct callback_record {
	io_context_t ctx;
	struct iocb *iocb;
	long res, res2;
};

static struct callback_record *records;
static unsigned nrecords;
static io_context_t current_ctx;

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	if (nrecords < nslots) {
		struct callback_record *r = &records[nrecords];

		r->ctx = ctx;
		r->iocb = iocb;
		r->res = res;
		r->res2 = res2;
	}
	nrecords++;
}

static void check_records(void)
{
	callback_fn fn = on_done;

	if (nrecords > nslots)
		die("%u callbacks for %u iocbs", nrecords, nslots);
	for (unsigned k = 0; k < nrecords; k++) {
		const struct callback_record *r = &records[k];
		callback_fn got;

		if (r->ctx != current_ctx)
			die("callback given context %p, expected %p", (void *)r->ctx,
			    (void *)current_ctx);
		check_completion(r->iocb, (unsigned long)r->res, (unsigned long)r->res2);
		memcpy(&got, &r->iocb->data, sizeof got);
		if (got != fn)
			die("callback called for an iocb whose data is not it");
	}
	nrecords = 0;
}

/* ---- loops ------------------------------------------------------------- */

struct phase {
	double deadline;   /* by time, when max_ops is 0 */
	uint64_t max_ops;  /* by op count */
	uint64_t ops;      /* ops done */
	uint64_t calls;    /* measured library calls made */
	double busy;       /* seconds spent in the measured calls (queuerun) */
	int timed;         /* the measured phase: marks are written */
};

static int phase_done(const struct phase *p)
{
	if (p->max_ops)
		return p->ops >= p->max_ops;
	return now() >= p->deadline;
}

static io_context_t setup_context(int maxevents)
{
	io_context_t ctx = 0;
	int rc = do_setup(maxevents, &ctx);

	if (rc != 0 || !ctx)
		die("io_setup(%d): %s", maxevents, strerror(-rc));
	return ctx;
}

static void destroy_context(io_context_t ctx)
{
	int rc = do_destroy(ctx);

	if (rc != 0)
		die("io_destroy: %s", strerror(-rc));
}

static void rw_loop(io_context_t ctx, long min_nr, struct phase *p)
{
	while (!phase_done(p)) {
		int n = bench_lib_getevents(ctx, min_nr, (long)nslots, events, NULL);
		int s;

		if (n < 0)
			die("io_getevents: %s", strerror(-n));
		if (n < min_nr || n == 0 || (unsigned)n > nslots)
			die("io_getevents returned %d (min_nr %ld, nr %u)", n, min_nr,
			    nslots);
		for (int k = 0; k < n; k++) {
			unsigned i = check_event(&events[k]);

			prep(i, 0);
			list[k] = &iocbs[i];
		}
		s = bench_lib_submit(ctx, n, list);
		if (s != n)
			die("io_submit of %d returned %d", n, s);
		p->calls += 2;
		p->ops += (uint64_t)n;
	}
}

static void drain(io_context_t ctx)
{
	while (ninflight > 0) {
		int n = do_getevents(ctx, 1, (long)nslots, events, NULL);

		if (n <= 0)
			die("draining: io_getevents returned %d", n);
		for (int k = 0; k < n; k++)
			check_event(&events[k]);
	}
}

static void wait_ring(io_context_t ctx, unsigned n)
{
	const volatile struct ring_header *ring = (const void *)ctx;
	double give_up = 0;

	/* libaio-rs's io_uring backend gives no kernel ring to watch; on
	 * /dev/shm it completes these reads inside io_submit, as kernel AIO
	 * does (io_queue_run then finds them all, or the run fails). */
	if (ring->magic != RING_MAGIC)
		return;
	for (unsigned spins = 0;; spins++) {
		uint32_t nr = ring->nr, head = ring->head;
		uint32_t tail = __atomic_load_n(&((const struct ring_header *)ctx)->tail,
						__ATOMIC_ACQUIRE);

		if ((tail + nr - head) % nr >= n)
			return;
		if (spins % 1024 == 1023) {
			if (give_up == 0)
				give_up = now() + 10;
			else if (now() > give_up)
				die("completions did not reach the ring");
		}
	}
}

static void queuerun_loop(io_context_t ctx, struct phase *p)
{
	while (!phase_done(p)) {
		int s, rc;
		double t0, t1;

		for (unsigned i = 0; i < nslots; i++) {
			prep(i, 1);
			list[i] = &iocbs[i];
		}
		s = do_submit(ctx, (long)nslots, list);
		if (s != (int)nslots)
			die("io_submit of %u returned %d", nslots, s);
		wait_ring(ctx, nslots);
		if (p->timed)
			put_mark("aiobench:begin");
		t0 = now();
		rc = bench_lib_queue_run(ctx, (long)nslots);
		t1 = now();
		if (p->timed)
			put_mark("aiobench:end");
		if (rc != 0)
			die("io_queue_run returned %d", rc);
		check_records();
		if (ninflight != 0)
			die("io_queue_run left %ld completions undispatched", ninflight);
		p->busy += t1 - t0;
		p->calls++;
		p->ops += nslots;
	}
}

static void empty_loop(io_context_t ctx, struct phase *p)
{
	struct timespec zero = { 0, 0 };

	while (!phase_done(p)) {
		for (int k = 0; k < 1024; k++) {
			int rc = bench_lib_getevents(ctx, 0, 1, events, &zero);

			if (rc != 0)
				die("io_getevents on an empty ring returned %d", rc);
		}
		p->calls += 1024;
		p->ops += 1024;
	}
}

static void setup_loop(struct phase *p)
{
	while (!phase_done(p)) {
		io_context_t ctx = 0;
		int rc = bench_lib_setup(128, &ctx);

		if (rc != 0 || !ctx)
			die("io_setup(128) returned %d", rc);
		rc = bench_lib_destroy(ctx);
		if (rc != 0)
			die("io_destroy returned %d", rc);
		p->calls += 2;
		p->ops++;
	}
}

/* ---- main -------------------------------------------------------------- */

static void make_file(const char *path, const char *mib)
{
	uint64_t blocks = strtoull(mib, NULL, 10) * 256;
	unsigned char *block;
	int out;

	if (blocks == 0)
		die("mkfile: bad size %s", mib);
	block = calloc(1, BS);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (!block || out < 0)
		die("mkfile %s: %s", path, strerror(errno));
	for (uint64_t b = 0; b < blocks; b++) {
		uint64_t tail = b ^ TAIL_MAGIC;

		memcpy(block, &b, sizeof b);
		memcpy(block + BS - sizeof tail, &tail, sizeof tail);
		if (write(out, block, BS) != (ssize_t)BS)
			die("mkfile %s: %s", path, strerror(errno));
	}
	if (fsync(out) != 0 || close(out) != 0)
		die("mkfile %s: %s", path, strerror(errno));
	free(block);
}

/* Reads the whole file once, so that its pages are cached. */
static void read_whole(int in, off_t size)
{
	static unsigned char chunk[1 << 20];

	for (off_t at = 0; at < size;) {
		ssize_t got = pread(in, chunk, sizeof chunk, at);

		if (got <= 0)
			die("reading the file ahead: %s", got < 0 ? strerror(errno) : "end");
		at += got;
	}
}

static const char *library_path(void)
{
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, "io_submit");

	if (!sym || !dladdr(sym, &info) || !info.dli_fname)
		return "unknown";
	return info.dli_fname;
}

static void usage(void)
{
	fputs("usage: aiobench rw|empty|queuerun|setup [--raw|--uring|--pread] [--file PATH]\n"
	      "                [--qd N] [--min N] [--secs S] [--warmup S] [--ops N] [--warmup-ops N]\n"
	      "                [--mark] [--buffered [--cold|--hot]]\n"
	      "       aiobench mkfile PATH MIB\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ "uring", no_argument, NULL, 'u' },
		{ "pread", no_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "qd", required_argument, NULL, 'q' },
		{ "min", required_argument, NULL, 'm' },
		{ "secs", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "ops", required_argument, NULL, 'o' },
		{ "warmup-ops", required_argument, NULL, 'W' },
		{ "mark", no_argument, NULL, 'M' },
		{ "buffered", no_argument, NULL, 'b' },
		{ "cold", no_argument, NULL, 'c' },
		{ "hot", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bench, *file = NULL;
	long qd = 1, min_nr = 1;
	double secs = 1.0, warm_secs = 0.2, elapsed;
	uint64_t ops = 0, warm_ops = 0;
	struct phase warm = { 0 }, timed = { 0 };
	io_context_t ctx = 0;
	int opt, needs_io;

	if (argc >= 2 && strcmp(argv[1], "mkfile") == 0) {
		if (argc != 4)
			usage();
		make_file(argv[2], argv[3]);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		usage();
	bench = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'r': engine = ENGINE_RAW; break;
		case 'u': engine = ENGINE_URING; break;
		case 'p': engine = ENGINE_PREAD; break;
		case 'f': file = optarg; break;
		case 'q': qd = strtol(optarg, NULL, 10); break;
		case 'm': min_nr = strtol(optarg, NULL, 10); break;
		case 's': secs = strtod(optarg, NULL); break;
		case 'w': warm_secs = strtod(optarg, NULL); break;
		case 'o': ops = strtoull(optarg, NULL, 10); break;
		case 'W': warm_ops = strtoull(optarg, NULL, 10); break;
		case 'M': mark = 1; break;
		case 'b': buffered = 1; break;
		case 'c': cold = 1; break;
		case 'h': hot = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	raw = engine != ENGINE_LIBAIO;
	needs_io = !strcmp(bench, "rw") || !strcmp(bench, "queuerun");
	if (!needs_io && strcmp(bench, "empty") && strcmp(bench, "setup"))
		usage();
	if (qd < 1 || qd > 4096 || min_nr < 0 || min_nr > qd)
		die("need 1 <= --qd <= 4096 and 0 <= --min <= --qd");
	if ((engine == ENGINE_URING || engine == ENGINE_PREAD) && strcmp(bench, "rw"))
		die("--uring and --pread go with rw");
	if ((cold || hot) && (!buffered || (cold && hot)))
		die("--cold and --hot go with --buffered, one of them");

	if (needs_io) {
		off_t size;

		if (!file)
			die("%s needs --file", bench);
		fd = open(file, buffered ? O_RDONLY : O_RDONLY | O_DIRECT);
		if (fd < 0)
			die("open %s%s: %s", file, buffered ? "" : " with O_DIRECT",
			    strerror(errno));
		size = lseek(fd, 0, SEEK_END);
		if (size < (off_t)BS)
			die("%s is too small", file);
		nblocks = (uint64_t)size / BS;
		if (cold && (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
			     posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) != 0))
			die("posix_fadvise %s: %s", file, strerror(errno));
		if (hot)
			read_whole(fd, size);
		nslots = (unsigned)qd;
		iocbs = calloc(nslots, sizeof *iocbs);
		list = calloc(nslots, sizeof *list);
		events = calloc(nslots, sizeof *events);
		expect = calloc(nslots, sizeof *expect);
		inflight = calloc(nslots, 1);
		records = calloc(nslots, sizeof *records);
		bufs = aligned_alloc(BS, (size_t)nslots * BS);
		if (!iocbs || !list || !events || !expect || !inflight || !records || !bufs)
			die("out of memory");
	} else {
		events = calloc(1, sizeof *events);
		if (!events)
			die("out of memory");
	}

	warm.max_ops = warm_ops;
	timed.max_ops = ops;
	if (!strcmp(bench, "rw")) {
		ctx = setup_context((int)qd);
		for (unsigned i = 0; i < nslots; i++) {
			prep(i, 0);
			list[i] = &iocbs[i];
		}
		if (do_submit(ctx, (long)nslots, list) != (int)nslots)
			die("initial io_submit failed");
		warm.deadline = now() + warm_secs;
		if (warm_ops || warm_secs > 0)
			rw_loop(ctx, min_nr, &warm);
		CALLGRIND_ZERO_STATS;
		put_mark("aiobench:begin");
		elapsed = now();
		timed.deadline = elapsed + secs;
		rw_loop(ctx, min_nr, &timed);
		elapsed = now() - elapsed;
		put_mark("aiobench:end");
		drain(ctx);
		destroy_context(ctx);
	} else if (!strcmp(bench, "queuerun")) {
		ctx = setup_context((int)qd);
		current_ctx = ctx;
		warm.deadline = now() + warm_secs;
		if (warm_ops || warm_secs > 0)
			queuerun_loop(ctx, &warm);
		CALLGRIND_ZERO_STATS;
		timed.timed = 1;
		timed.deadline = now() + secs;
		queuerun_loop(ctx, &timed);
		elapsed = timed.busy;
		destroy_context(ctx);
	} else if (!strcmp(bench, "empty")) {
		ctx = setup_context(1);
		warm.deadline = now() + warm_secs;
		if (warm_ops || warm_secs > 0)
			empty_loop(ctx, &warm);
		CALLGRIND_ZERO_STATS;
		put_mark("aiobench:begin");
		elapsed = now();
		timed.deadline = elapsed + secs;
		empty_loop(ctx, &timed);
		elapsed = now() - elapsed;
		put_mark("aiobench:end");
		destroy_context(ctx);
	} else {
		warm.deadline = now() + warm_secs;
		if (warm_ops || warm_secs > 0)
			setup_loop(&warm);
		CALLGRIND_ZERO_STATS;
		put_mark("aiobench:begin");
		elapsed = now();
		timed.deadline = elapsed + secs;
		setup_loop(&timed);
		elapsed = now() - elapsed;
		put_mark("aiobench:end");
	}

	if (needs_io && ninflight != 0)
		die("%ld iocbs never completed", ninflight);
	if (elapsed <= 0)
		die("nothing was timed");
	printf("result case=%s raw=%d engine=%s lib=%s qd=%ld min=%ld ops=%" PRIu64
	       " calls=%" PRIu64 " completions=%" PRIu64 " elapsed=%.6f ops_per_s=%.1f"
	       " callgrind_zero=%d\n",
	       bench, raw, engine_names[engine], raw ? "none" : library_path(), qd, min_nr,
	       timed.ops,
	       timed.calls, completions, elapsed, (double)timed.ops / elapsed,
	       HAVE_CALLGRIND);
	return 0;
}
