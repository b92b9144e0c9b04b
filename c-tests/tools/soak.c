/*
 * A short soak run for the memory checkers (tests/sanitizers.rs runs it under
 * valgrind memcheck, AddressSanitizer and UBSan): many submissions and
 * reaps on rings of several sizes (each ring wraps around many times), the
 * io_queue_* layer with callbacks and without, io_pgetevents with signal
 * masks, threads reaping one context together, and fork().
 *
 * Every event array is allocated with exactly the room the call is given,
 * so that a library writing one event too many writes out of bounds; every
 * call runs with errno set to a sentinel that must survive it. Data written
 * is read back and compared.
 *
 * LIBAIO_RS_SOAK_ROUNDS (default 40) scales the run. With
 * LIBAIO_USERSPACE_REAP=1 in the environment the library copies completions
 * out of the ring itself: the driver runs both modes.
 *
 * Not a test of c-tests/ (tests/c_programs.rs does not build it), but it
 * uses their helpers: compile with -I c-tests.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif

#include "testutil.h"

#define BLOCK 4096
/* Blocks in the scratch file: each request of a batch gets its own. */
#define FILE_BLOCKS 512

static const struct timespec ZERO = { 0, 0 };
static const struct timespec ONE_MS = { 0, 1000000 };
static const struct timespec LONG_WAIT = { 30, 0 };
#define TS(t) (&(struct timespec){ (t).tv_sec, (t).tv_nsec })

static unsigned rounds = 40;
static uint32_t rng_state = 0x12345678u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/*
 * Tells memcheck how far the ring behind CTX really extends (see
 * ring_extent.c): valgrind's io_setup wrapper registers only the part the
 * requested size needs, so with LIBAIO_USERSPACE_REAP=1 the library's reads
 * of the later slots would be reported as reads of unmapped memory. The
 * extent is the kernel's, from the ring's own header (nr events after a
 * 32-byte header, in whole pages): reads past it are still reported.
 * Nothing happens outside valgrind.
 */
static void ring_known_to_memcheck(io_context_t ctx)
{
#ifdef VALGRIND_MAKE_MEM_DEFINED
	if (RUNNING_ON_VALGRIND) {
		unsigned nr = ((const unsigned *)ctx)[1];
		size_t bytes = (32 + (size_t)nr * 32 + 4095) / 4096 * 4096;
		VALGRIND_MAKE_MEM_DEFINED(ctx, bytes);
	}
#else
	(void)ctx;
#endif
}

/* A number in [lo, hi]. */
static long between(long lo, long hi)
{
	return lo + (long)(rng() % (uint32_t)(hi - lo + 1));
}

static struct io_event *alloc_events(long n)
{
	struct io_event *ev = malloc((size_t)n * sizeof(*ev));
	CHECK(ev != NULL);
	return ev;
}

/* Index of IOCB in the array BASE of N, which it must be in. */
static long index_of(struct iocb *base, long n, struct iocb *iocb)
{
	long i = iocb - base;
	CHECK(i >= 0 && i < n);
	return i;
}

/*
 * Rings of DEPTH requests: each round writes a batch of patterned blocks,
 * submitted in pieces, reaped with a mix of min_nr, nr and timeouts, then
 * reads them back.
 */
static void submit_and_reap(int fd, long depth)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup((int)depth, &ctx), 0);
	ring_known_to_memcheck(ctx);
	long max_batch = depth < FILE_BLOCKS ? depth : FILE_BLOCKS;
	struct iocb *iocbs = calloc((size_t)max_batch, sizeof(*iocbs));
	struct iocb **ptrs = calloc((size_t)max_batch, sizeof(*ptrs));
	char *wbuf = aligned_buf((size_t)max_batch * BLOCK);
	char *rbuf = aligned_buf((size_t)max_batch * BLOCK);
	int *seen = calloc((size_t)max_batch, sizeof(*seen));
	CHECK(iocbs && ptrs && seen);

	for (unsigned round = 0; round < rounds; round++) {
		long n = between(1, max_batch);
		for (int pass = 0; pass < 2; pass++) {
			int writing = pass == 0;
			for (long i = 0; i < n; i++) {
				char *buf = (writing ? wbuf : rbuf) + i * BLOCK;
				if (writing)
					fill_pattern(buf, BLOCK, round * 1000 + (unsigned)i);
				else
					memset(buf, 0, BLOCK);
				if (writing)
					io_prep_pwrite(&iocbs[i], fd, buf, BLOCK, i * BLOCK);
				else
					io_prep_pread(&iocbs[i], fd, buf, BLOCK, i * BLOCK);
				iocbs[i].data = (void *)(uintptr_t)(i + 1);
				ptrs[i] = &iocbs[i];
				seen[i] = 0;
			}
			/* Submitted in pieces of random sizes. */
			for (long done = 0; done < n;) {
				long piece = between(1, n - done);
				int ret = KEEPS_ERRNO(io_submit(ctx, piece, ptrs + done));
				CHECK(ret > 0 && ret <= piece);
				done += ret;
			}
			/* Reaped with every kind of call. */
			long got = 0;
			while (got < n) {
				long left = n - got;
				long nr = between(1, left);
				struct io_event *ev = alloc_events(nr);
				int ret;
				switch (rng() % 4) {
				case 0: /* whatever is there now */
					ret = KEEPS_ERRNO(io_getevents(ctx, 0, nr, ev, TS(ZERO)));
					break;
				case 1: /* at least one */
					ret = KEEPS_ERRNO(io_getevents(ctx, 1, nr, ev, TS(LONG_WAIT)));
					break;
				case 2: /* all of nr, no timeout */
					ret = KEEPS_ERRNO(io_getevents(ctx, nr, nr, ev, NULL));
					break;
				default: /* a short wait */
					ret = KEEPS_ERRNO(io_getevents(ctx, 0, nr, ev, TS(ONE_MS)));
					break;
				}
				CHECK(ret >= 0 && ret <= nr);
				for (int k = 0; k < ret; k++) {
					long i = index_of(iocbs, n, ev[k].obj);
					CHECK_EQ((uintptr_t)ev[k].data, i + 1);
					CHECK_EQ((long)ev[k].res, BLOCK);
					CHECK_EQ(ev[k].res2, 0);
					CHECK_EQ(seen[i]++, 0);
				}
				got += ret;
				free(ev);
			}
		}
		for (long i = 0; i < n; i++)
			CHECK(memcmp(rbuf + i * BLOCK, wbuf + i * BLOCK, BLOCK) == 0);
		/* Nothing left behind. */
		CALL_EQ(io_getevents(ctx, 0, 1, NULL, TS(ZERO)), 0);
	}

	CALL_EQ(io_destroy(ctx), 0);
	/* The handle is dead now (no context was created since: not reused). */
	struct io_event ev;
	CALL_EQ(io_getevents(ctx, 0, 1, &ev, TS(ZERO)), -EINVAL);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(ONE_MS)), -EINVAL);
	CALL_EQ(io_queue_run(ctx), -EINVAL);
	CALL_EQ(io_queue_wait(ctx, TS(ZERO)), -EINVAL);
	CALL_EQ(io_destroy(ctx), -EINVAL);
	free(iocbs), free(ptrs), free(wbuf), free(rbuf), free(seen);
}

/* io_queue_run: callbacks recorded per iocb. */
static struct iocb *cb_base;
static long cb_count;
static int *cb_calls;
static long cb_total;

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	long i = index_of(cb_base, cb_count, iocb);
	CHECK_EQ(res, BLOCK);
	CHECK_EQ(res2, 0);
	cb_calls[i]++;
	cb_total++;
}

static void queue_run(int fd)
{
	enum { QUEUE = 128 };
	io_context_t q = (io_context_t)(uintptr_t)0x5a5a; /* io_queue_init clears it */
	CALL_EQ(io_queue_init(QUEUE, &q), 0);
	ring_known_to_memcheck(q);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	struct iocb *iocbs = calloc(QUEUE, sizeof(*iocbs));
	struct iocb **ptrs = calloc(QUEUE, sizeof(*ptrs));
	char *buf = aligned_buf((size_t)QUEUE * BLOCK);
	cb_calls = calloc(QUEUE, sizeof(*cb_calls));
	CHECK(iocbs && ptrs && cb_calls);
	cb_base = iocbs;

	for (unsigned round = 0; round < rounds; round++) {
		/* Up to 100: more than io_queue_run's batch of 32. */
		long n = between(1, 100);
		long with_callback = 0;
		cb_count = n;
		cb_total = 0;
		for (long i = 0; i < n; i++) {
			io_prep_pread(&iocbs[i], fd, buf + i * BLOCK, BLOCK, i * BLOCK);
			/* About one in five has no callback: consumed without a call. */
			if (rng() % 5 != 0) {
				io_set_callback(&iocbs[i], on_done);
				with_callback++;
			}
			io_set_eventfd(&iocbs[i], efd);
			ptrs[i] = &iocbs[i];
			cb_calls[i] = 0;
		}
		CALL_EQ(io_submit(q, n, ptrs), n);
		/* Waits until all have completed, so one io_queue_run sees them all. */
		uint64_t total = 0;
		while (total < (uint64_t)n) {
			uint64_t count;
			CHECK(read(efd, &count, sizeof(count)) == (ssize_t)sizeof(count));
			total += count;
		}
		CALL_EQ(io_queue_wait(q, TS(ZERO)), 0);
		CALL_EQ(io_queue_run(q), 0);
		CHECK_EQ(cb_total, with_callback);
		for (long i = 0; i < n; i++)
			CHECK_EQ(cb_calls[i], iocbs[i].data ? 1 : 0);
		/* Nothing left: a second run calls nothing. */
		CALL_EQ(io_queue_run(q), 0);
		CHECK_EQ(cb_total, with_callback);
	}
	CALL_EQ(io_queue_release(q), 0);
	CALL_EQ(io_queue_run(q), -EINVAL);
	close(efd);
	free(iocbs), free(ptrs), free(buf), free(cb_calls);
}

static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static void *send_usr1_later(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	/* Not a timing assertion: either way the waiter gets -EINTR. */
	struct timespec delay = { 0, 5 * 1000 * 1000 };
	nanosleep(&delay, NULL);
	CHECK(pthread_kill(target, SIGUSR1) == 0);
	return NULL;
}

/* io_pgetevents with no mask, a mask blocking SIGUSR1 and an empty one. */
static void pgetevents_masks(int fd)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(32, &ctx), 0);
	ring_known_to_memcheck(ctx);
	sigset_t usr1, empty, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&empty);
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, &old_sa) == 0);
	CHECK(pthread_sigmask(SIG_BLOCK, &usr1, &old) == 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	char *buf = aligned_buf(8 * BLOCK);

	for (unsigned round = 0; round < rounds; round++) {
		/* Completions reaped with each kind of mask. */
		struct iocb io[8], *iop[8];
		long n = between(1, 8);
		for (long i = 0; i < n; i++) {
			io_prep_pread(&io[i], fd, buf + i * BLOCK, BLOCK, i * BLOCK);
			iop[i] = &io[i];
		}
		CALL_EQ(io_submit(ctx, n, iop), n);
		long got = 0;
		while (got < n) {
			sigset_t *masks[] = { NULL, &usr1, &empty };
			long nr = between(1, n - got);
			struct io_event *ev = alloc_events(nr);
			int ret = KEEPS_ERRNO(
				io_pgetevents(ctx, 1, nr, ev, TS(LONG_WAIT), masks[rng() % 3]));
			CHECK(ret >= 1 && ret <= nr);
			for (int k = 0; k < ret; k++) {
				index_of(io, n, ev[k].obj);
				CHECK_EQ((long)ev[k].res, BLOCK);
			}
			got += ret;
			free(ev);
		}
		struct io_event one;
		CALL_EQ(io_pgetevents(ctx, 0, 1, &one, TS(ZERO), &usr1), 0);
		CALL_EQ(io_pgetevents(ctx, 0, 1, &one, TS(ZERO), NULL), 0);
	}

	/* A pending, blocked SIGUSR1: a mask that keeps it blocked waits it out. */
	struct iocb p, *pp = &p;
	io_prep_poll(&p, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pp), 1);
	struct io_event ev;
	usr1_count = 0;
	CHECK(raise(SIGUSR1) == 0);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(ONE_MS), &usr1), 0);
	CHECK_EQ(usr1_count, 0);
	/* A mask that lets it through: -EINTR, the handler ran. */
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), &empty), -EINTR);
	CHECK_EQ(usr1_count, 1);
	/* Sent by another thread while this one waits with an empty mask. */
	pthread_t self = pthread_self(), sender;
	CHECK(pthread_create(&sender, NULL, send_usr1_later, &self) == 0);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), &empty), -EINTR);
	CHECK(pthread_join(sender, NULL) == 0);
	CHECK_EQ(usr1_count, 2);
	/* The poll is still queued: cancelled, its event follows. */
	CALL_EQ(io_cancel(ctx, &p, &ev), -EINPROGRESS);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, TS(LONG_WAIT), &usr1), 1);
	CHECK(ev.obj == &p);
	CALL_EQ(io_cancel(ctx, &p, &ev), -EINVAL);

	CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	CHECK(sigaction(SIGUSR1, &old_sa, NULL) == 0);
	CALL_EQ(io_destroy(ctx), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	free(buf);
}

/* Threads reaping one context while the main thread submits. */
enum { REAPERS = 4, PER_ROUND = 48 };
struct shared_ctx {
	io_context_t ctx;
	struct iocb *iocbs;
	long n;
	atomic_long reaped;
	atomic_int *seen;
};

static void *reaper(void *arg)
{
	struct shared_ctx *s = arg;
	for (long call = 0; atomic_load(&s->reaped) < s->n; call++) {
		long nr = 1 + call % 8;
		struct io_event *ev = alloc_events(nr);
		int ret = KEEPS_ERRNO(io_getevents(s->ctx, 1, nr, ev, TS(ONE_MS)));
		CHECK(ret >= 0 && ret <= nr);
		for (int k = 0; k < ret; k++) {
			long i = index_of(s->iocbs, s->n, ev[k].obj);
			CHECK_EQ((long)ev[k].res, BLOCK);
			CHECK_EQ(atomic_fetch_add(&s->seen[i], 1), 0);
		}
		atomic_fetch_add(&s->reaped, ret);
		free(ev);
	}
	return NULL;
}

static void threads_reaping(int fd)
{
	struct shared_ctx s = { .ctx = NULL };
	CALL_EQ(io_setup(PER_ROUND, &s.ctx), 0);
	ring_known_to_memcheck(s.ctx);
	unsigned thread_rounds = rounds / 4 + 1;
	s.n = (long)thread_rounds * PER_ROUND;
	s.iocbs = calloc((size_t)s.n, sizeof(*s.iocbs));
	s.seen = calloc((size_t)s.n, sizeof(*s.seen));
	char *buf = aligned_buf(PER_ROUND * BLOCK);
	CHECK(s.iocbs && s.seen);
	atomic_init(&s.reaped, 0);
	pthread_t threads[REAPERS];
	for (int t = 0; t < REAPERS; t++)
		CHECK(pthread_create(&threads[t], NULL, reaper, &s) == 0);
	for (unsigned round = 0; round < thread_rounds; round++) {
		/* Waits for room: at most PER_ROUND in flight. */
		while (atomic_load(&s.reaped) < (long)round * PER_ROUND)
			sched_yield();
		for (long i = 0; i < PER_ROUND; i++) {
			long k = (long)round * PER_ROUND + i;
			struct iocb *io = &s.iocbs[k];
			io_prep_pread(io, fd, buf + i * BLOCK, BLOCK, i * BLOCK);
			int ret = KEEPS_ERRNO(io_submit(s.ctx, 1, &io));
			CHECK_EQ(ret, 1);
		}
	}
	for (int t = 0; t < REAPERS; t++)
		CHECK(pthread_join(threads[t], NULL) == 0);
	CHECK_EQ(atomic_load(&s.reaped), s.n);
	CALL_EQ(io_destroy(s.ctx), 0);
	free(s.iocbs), free(s.seen), free(buf);
}

/* A child after fork(): the parent's context is not its own. */
static void child_after_fork(io_context_t parent, int fd)
{
	struct io_event ev;
	CALL_EQ(io_getevents(parent, 0, 1, &ev, TS(ZERO)), -EINVAL);
	CALL_EQ(io_getevents(parent, 1, 1, &ev, TS(ONE_MS)), -EINVAL);
	CALL_EQ(io_pgetevents(parent, 0, 1, &ev, TS(ZERO), NULL), -EINVAL);
	CALL_EQ(io_queue_run(parent), -EINVAL);
	CALL_EQ(io_destroy(parent), -EINVAL);
	/* Its own context works. */
	io_context_t mine = NULL;
	CALL_EQ(io_queue_init(4, &mine), 0);
	ring_known_to_memcheck(mine);
	char *buf = aligned_buf(BLOCK);
	struct iocb io, *iop = &io;
	io_prep_pread(&io, fd, buf, BLOCK, 0);
	CALL_EQ(io_submit(mine, 1, &iop), 1);
	CALL_EQ(io_getevents(mine, 1, 1, &ev, TS(LONG_WAIT)), 1);
	CHECK(ev.obj == &io);
	CHECK_EQ((long)ev.res, BLOCK);
	CALL_EQ(io_getevents(mine, 0, 1, &ev, TS(ZERO)), 0);
	CALL_EQ(io_queue_release(mine), 0);
	free(buf);
}

static void forks(int fd)
{
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(8, &ctx), 0);
	ring_known_to_memcheck(ctx);
	char *buf = aligned_buf(BLOCK);
	for (int child = 0; child < 3; child++) {
		/* A completion waiting in the ring at fork time. */
		struct iocb io, *iop = &io;
		io_prep_pread(&io, fd, buf, BLOCK, 0);
		CALL_EQ(io_submit(ctx, 1, &iop), 1);
		fflush(NULL);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			child_after_fork(ctx, fd);
			free(buf);
			exit(0);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "child %d failed: status %#x\n", child, status);
			exit(1);
		}
		/* The parent's context is untouched. */
		struct io_event ev;
		CALL_EQ(io_getevents(ctx, 1, 1, &ev, TS(LONG_WAIT)), 1);
		CHECK(ev.obj == &io);
		CHECK_EQ((long)ev.res, BLOCK);
		CALL_EQ(io_getevents(ctx, 0, 1, &ev, TS(ZERO)), 0);
	}
	CALL_EQ(io_destroy(ctx), 0);
	free(buf);
}

int main(void)
{
	check_loaded_libaio();
	const char *env = getenv("LIBAIO_RS_SOAK_ROUNDS");
	if (env && *env)
		rounds = (unsigned)strtoul(env, NULL, 10);
	int fd = scratch_file("/dev/shm", "soak", (off_t)FILE_BLOCKS * BLOCK, 0);

	/* Ring sizes: one request, a page's worth, several pages. */
	static const long depths[] = { 1, 7, 64, 300 };
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++)
		submit_and_reap(fd, depths[i]);
	queue_run(fd);
	pgetevents_masks(fd);
	threads_reaping(fd);
	forks(fd);

	close(fd);
	const char *mode = getenv("LIBAIO_USERSPACE_REAP");
	printf("soak: %u rounds passed%s\n", rounds,
	       mode && strcmp(mode, "1") == 0 ? " (user-space reaping)" : "");
	return 0;
}
