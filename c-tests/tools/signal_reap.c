/*
 * Reaping from a signal handler while the interrupted code reaps the same
 * context: a libaio entry point is a system-call wrapper plus a ring read,
 * so a program may call it from a handler, and it must neither hang nor
 * lose or duplicate a completion.
 *
 *   signal_reap THREADS IOS [submit]
 *
 * THREADS threads share one context (one: the main thread alone). Each submits its share of IOS reads
 * (O_DIRECT, 4 KiB, on /dev/shm, so they complete inside io_submit and wait
 * in the ring) and reaps, alternating io_getevents, io_pgetevents and
 * io_queue_run, while a per-thread timer interrupts it every 20 us with a
 * signal whose handler reaps the same context too (io_getevents,
 * io_pgetevents or io_queue_run, never waiting). Every read has an iocb of
 * its own; each completion is counted where it is reaped, and each must be
 * counted exactly once. Prints a summary, exits 0 when every count is 1.
 *
 * With "submit", the handler also submits a read of its own to the same
 * context before it reaps (each thread's handler has POOL iocbs, reused
 * once completed), so that handlers interrupt submissions as well as reaps:
 * every handler read must complete exactly once too, and the summary counts
 * the submissions refused with -EAGAIN.
 *
 * Run it with and without LIBAIO_USERSPACE_REAP=1, against libaio-rs and
 * against the system libaio.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>

#define BATCH 16
#define IN_FLIGHT 192 /* per context, below the ring's capacity */
#define BLOCK 4096
#define POOL 8 /* iocbs per thread for its handler's reads */
#define MAX_THREADS 64

static io_context_t ctx;
static struct iocb *iocbs;
static atomic_uchar *seen;
static long ios;
static int fd;
static atomic_long reaped, in_flight, duplicates, bad_results;
static atomic_long handler_runs, handler_reaps;
static __thread int handler_turn;
static int handler_submits;
/* The handlers' iocbs follow the IOS ones in iocbs[]: 1 while in flight. */
static atomic_uchar pool_busy[MAX_THREADS * POOL];
static atomic_long pool_in_flight, pool_submitted, pool_refused, pool_completed;
static __thread long my_pool;  /* this thread's first pool index */
static __thread char *my_pool_buf;

static void die(const char *what, int err)
{
	fprintf(stderr, "signal_reap: %s: %s\n", what, strerror(err));
	exit(2);
}

/* Counts the completion of `obj`: async-signal-safe (atomics only). */
static void record(struct iocb *obj, long res)
{
	long id = obj - iocbs;

	if (id >= ios && id < ios + MAX_THREADS * POOL) {
		if (res != BLOCK)
			atomic_fetch_add(&bad_results, 1);
		if (atomic_exchange(&pool_busy[id - ios], 0) != 1)
			atomic_fetch_add(&duplicates, 1);
		atomic_fetch_add(&pool_completed, 1);
		atomic_fetch_sub(&pool_in_flight, 1);
		return;
	}
	if (id < 0 || id >= ios || res != BLOCK) {
		atomic_fetch_add(&bad_results, 1);
		return;
	}
	if (atomic_fetch_add(&seen[id], 1) != 0)
		atomic_fetch_add(&duplicates, 1);
	atomic_fetch_add(&reaped, 1);
	atomic_fetch_sub(&in_flight, 1);
}

static void callback(io_context_t c, struct iocb *obj, long res, long res2)
{
	(void)c, (void)res2;
	record(obj, res);
}

static void record_events(struct io_event *ev, int n)
{
	for (int i = 0; i < n; i++)
		record(ev[i].obj, (long)ev[i].res);
}

/* The handler's submission: one read from a free iocb of this thread's
 * pool, if one is free. */
static void handler_submit(void)
{
	for (long k = my_pool; k < my_pool + POOL; k++) {
		unsigned char idle = 0;
		struct iocb *io = &iocbs[ios + k];
		int ret;

		if (!atomic_compare_exchange_strong(&pool_busy[k], &idle, 1))
			continue;
		io_prep_pread(io, fd, my_pool_buf, BLOCK, 0);
		io_set_callback(io, callback);
		atomic_fetch_add(&pool_in_flight, 1);
		ret = io_submit(ctx, 1, &io);
		if (ret == 1) {
			atomic_fetch_add(&pool_submitted, 1);
		} else if (ret == -EAGAIN) {
			atomic_fetch_add(&pool_refused, 1);
			atomic_fetch_sub(&pool_in_flight, 1);
			atomic_store(&pool_busy[k], 0);
		} else {
			_exit(5);
		}
		return;
	}
}

static void handler(int sig, siginfo_t *info, void *uc)
{
	struct io_event ev[8];
	struct timespec zero = { 0, 0 };
	int saved = errno, n = 0;

	(void)sig, (void)info, (void)uc;
	atomic_fetch_add(&handler_runs, 1);
	if (handler_submits && my_pool_buf)
		handler_submit();
	switch (handler_turn++ % 3) {
	case 0:
		n = io_getevents(ctx, 0, 8, ev, &zero);
		break;
	case 1:
		n = io_pgetevents(ctx, 1, 8, ev, &zero, NULL);
		break;
	case 2: {
		long before = atomic_load(&reaped);

		int ret = io_queue_run(ctx);

		if (ret < 0 && ret != -EINTR)
			_exit(3);
		atomic_fetch_add(&handler_reaps, atomic_load(&reaped) - before);
		break;
	}
	}
	if (n < 0 && n != -EINTR)
		_exit(4); /* a handler's reap never fails otherwise */
	record_events(ev, n);
	atomic_fetch_add(&handler_reaps, n);
	errno = saved;
}

struct share {
	long first, count, pool;
};

static void *worker(void *arg)
{
	struct share *share = arg;
	struct sigevent sev = { 0 };
	struct itimerspec every = { { 0, 20000 }, { 0, 20000 } };
	struct io_event ev[BATCH];
	struct timespec wait = { 0, 1000 * 1000 };
	char *buf;
	timer_t timer;
	long next = share->first, end = share->first + share->count;
	int turn = 0;

	if (posix_memalign((void **)&buf, BLOCK, BLOCK))
		die("posix_memalign", ENOMEM);
	my_pool = share->pool;
	if (handler_submits && posix_memalign((void **)&my_pool_buf, BLOCK, BLOCK))
		die("posix_memalign", ENOMEM);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer))
		die("timer_create", errno);
	if (timer_settime(timer, 0, &every, NULL))
		die("timer_settime", errno);

	while (atomic_load(&reaped) < ios) {
		/* Submit a batch of this thread's share while there is room. */
		if (next < end && atomic_load(&in_flight) + BATCH <= IN_FLIGHT) {
			struct iocb *list[BATCH];
			int n = 0, ret;

			for (; n < BATCH && next + n < end; n++) {
				struct iocb *io = &iocbs[next + n];

				io_prep_pread(io, fd, buf, BLOCK, 0);
				io_set_callback(io, callback);
				list[n] = io;
			}
			atomic_fetch_add(&in_flight, n);
			ret = io_submit(ctx, n, list);
			if (ret != n && ret != -EINTR) {
				fprintf(stderr, "io_submit: %d of %d\n", ret, n);
				exit(2);
			}
			if (ret == n)
				next += n;
			else
				atomic_fetch_sub(&in_flight, n);
		}
		/* Reap some. */
		switch (turn++ % 3) {
		case 0: {
			int got = io_getevents(ctx, 1, BATCH, ev, &wait);

			if (got < 0 && got != -EINTR)
				die("io_getevents", -got);
			if (got > 0)
				record_events(ev, got);
			break;
		}
		case 1: {
			int got = io_pgetevents(ctx, 0, BATCH, ev, &wait, NULL);

			if (got < 0 && got != -EINTR)
				die("io_pgetevents", -got);
			if (got > 0)
				record_events(ev, got);
			break;
		}
		case 2: {
			/* -EINTR: a signal was pending when its zero-timeout
			 * io_getevents found nothing (the kernel's answer). */
			int ret = io_queue_run(ctx);

			if (ret < 0 && ret != -EINTR)
				die("io_queue_run", -ret);
			break;
		}
		}
	}
	timer_delete(timer);
	free(buf);
	/* my_pool_buf stays: the handler's reads may still be in flight. */
	return NULL;
}

int main(int argc, char **argv)
{
	char path[64];
	struct sigaction sa = { 0 };
	int threads;
	long bad = 0;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "submit"))) {
		fprintf(stderr, "usage: signal_reap THREADS IOS [submit]\n");
		return 2;
	}
	threads = atoi(argv[1]);
	ios = atol(argv[2]);
	handler_submits = argc == 4;
	alarm(120);
	iocbs = calloc(ios + MAX_THREADS * POOL, sizeof(*iocbs));
	seen = calloc(ios, sizeof(*seen));
	if (!iocbs || !seen)
		die("calloc", ENOMEM);
	snprintf(path, sizeof(path), "/dev/shm/libaio-rs-signal-reap-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (fd < 0)
		die("open", errno);
	unlink(path);
	if (ftruncate(fd, BLOCK))
		die("ftruncate", errno);
	if (io_queue_init(256, &ctx))
		die("io_queue_init", EINVAL);

	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL))
		die("sigaction", errno);

	pthread_t tid[MAX_THREADS];
	struct share shares[MAX_THREADS];
	if (threads < 1 || threads > MAX_THREADS)
		die("threads", EINVAL);
	for (int t = 0; t < threads; t++) {
		shares[t].pool = (long)t * POOL;
		shares[t].first = ios / threads * t;
		shares[t].count = t == threads - 1 ? ios - shares[t].first : ios / threads;
	}
	/* One thread: the main thread itself, so that the process stays
	 * single-threaded (the library takes shortcuts there). */
	if (threads == 1)
		worker(&shares[0]);
	for (int t = 0; t < threads && threads > 1; t++)
		if (pthread_create(&tid[t], NULL, worker, &shares[t]))
			die("pthread_create", EAGAIN);
	for (int t = 0; t < threads && threads > 1; t++)
		pthread_join(tid[t], NULL);
	signal(SIGRTMIN, SIG_IGN);
	/* The handlers' last reads. */
	while (atomic_load(&pool_in_flight) > 0) {
		struct io_event ev[8];
		struct timespec second = { 1, 0 };
		int got = io_getevents(ctx, 1, 8, ev, &second);

		if (got <= 0)
			die("io_getevents of the handlers' reads", got < 0 ? -got : ETIMEDOUT);
		record_events(ev, got);
	}

	for (long i = 0; i < ios; i++)
		bad += seen[i] != 1;
	printf("ios %ld, reaped %ld, duplicates %ld, not exactly once %ld, bad results %ld\n", ios,
	       atomic_load(&reaped), atomic_load(&duplicates), bad, atomic_load(&bad_results));
	printf("handler runs %ld, completions reaped in handlers %ld\n", atomic_load(&handler_runs),
	       atomic_load(&handler_reaps));
	if (handler_submits)
		printf("handler submissions %ld, refused with EAGAIN %ld, completed %ld\n",
		       atomic_load(&pool_submitted), atomic_load(&pool_refused),
		       atomic_load(&pool_completed));
	if (io_queue_release(ctx))
		die("io_queue_release", EINVAL);
	return bad || atomic_load(&duplicates) || atomic_load(&bad_results) ||
			       atomic_load(&pool_completed) != atomic_load(&pool_submitted)
		       ? 1
		       : 0;
}
