/*
 * io_destroy while other threads are inside io_getevents, io_pgetevents and
 * io_queue_run on the same context: the kernel wakes them with -EINVAL, and
 * the library must never read a ring that io_destroy has unmapped (libaio
 * 0.3.113 does, and crashes).
 *
 *   destroy_race ROUNDS DESTROYERS
 *
 * DESTROYERS threads each create contexts in turn (ROUNDS in all), submit
 * four reads (O_DIRECT on /dev/shm: they complete at once), publish the
 * context in a slot, wait a few microseconds and destroy it: every other
 * round only once all four completions were reaped (so those must be
 * delivered exactly once), the others at once (so io_destroy races with
 * reapers copying from the ring). Meanwhile four reapers per kind loop over
 * the slots: io_getevents with a zero timeout, with 1 ms, and with none
 * (waiting until a completion arrives or io_destroy wakes them), and
 * io_queue_run with io_pgetevents. A reaper may use a handle after its
 * context is destroyed (the kernel says -EINVAL, or the address already
 * names another destroyer's new context, whose completions it then reaps:
 * every completion carries a unique number either way).
 *
 * Exits 0 when no completion was delivered twice, every waited-for round
 * was delivered whole, and no call failed with anything but -EINVAL (or
 * -EINTR); a crash is the failure this test exists for.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>

#define PER_ROUND 4
#define SLOTS 64
#define BLOCK 4096

static _Atomic(io_context_t) slots[SLOTS];
static struct iocb *iocbs; /* one per read: its index numbers the read */
static atomic_uchar *seen;
static atomic_int stop;
static atomic_long delivered, duplicates, unexpected, einval, races;
static long rounds;
static int fd;

static void die(const char *what, int err)
{
	fprintf(stderr, "destroy_race: %s: %s\n", what, strerror(err));
	exit(2);
}

static void record(struct iocb *iocb)
{
	unsigned long id = (unsigned long)(iocb - iocbs);

	if (iocb < iocbs || id >= (unsigned long)rounds * PER_ROUND) {
		atomic_fetch_add(&unexpected, 1);
		return;
	}
	if (atomic_fetch_add(&seen[id], 1) != 0)
		atomic_fetch_add(&duplicates, 1);
	atomic_fetch_add(&delivered, 1);
}

static void check(int ret)
{
	if (ret == -EINVAL)
		atomic_fetch_add(&einval, 1);
	else if (ret < 0 && ret != -EINTR)
		atomic_fetch_add(&unexpected, 1);
}

static void callback(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)res2;
	if (res != BLOCK)
		atomic_fetch_add(&unexpected, 1);
	record(iocb);
}

static void record_events(struct io_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		if ((long)ev[i].res != BLOCK)
			atomic_fetch_add(&unexpected, 1);
		record(ev[i].obj);
	}
}

static unsigned next_random(unsigned *state)
{
	*state = *state * 1103515245 + 12345;
	return *state >> 8;
}

enum kind { ZERO, SHORT, FOREVER, RUN };

static void *reaper(void *arg)
{
	enum kind kind = (enum kind)(long)arg;
	struct timespec zero = { 0, 0 }, short_wait = { 0, 1000 * 1000 };
	struct io_event ev[PER_ROUND];
	unsigned state = (unsigned)(long)arg * 7919 + 1;
	int turn = 0;

	while (!atomic_load(&stop)) {
		io_context_t ctx = atomic_load(&slots[next_random(&state) % SLOTS]);
		int ret;

		if (!ctx)
			continue;
		switch (kind) {
		case ZERO:
			ret = io_getevents(ctx, 0, PER_ROUND, ev, &zero);
			break;
		case SHORT:
			ret = io_getevents(ctx, 1, PER_ROUND, ev, &short_wait);
			break;
		case FOREVER:
			ret = io_getevents(ctx, 1, PER_ROUND, ev, NULL);
			break;
		default:
			if (turn++ % 2) {
				check(io_queue_run(ctx));
				continue;
			}
			ret = io_pgetevents(ctx, 0, PER_ROUND, ev, &zero, NULL);
			break;
		}
		if (ret > 0)
			record_events(ev, ret);
		else
			check(ret);
	}
	return NULL;
}

struct destroyer {
	long first, count;
	int slot;
};

static void *destroyer(void *arg)
{
	struct destroyer *d = arg;
	struct iocb *list[PER_ROUND];
	unsigned state = (unsigned)d->slot * 104729 + 3;
	char *buf;

	if (posix_memalign((void **)&buf, BLOCK, BLOCK))
		die("alloc", ENOMEM);
	for (long r = d->first; r < d->first + d->count; r++) {
		io_context_t ctx = 0;
		int ret, wait_for_all = r % 2 == 0;

		/* EAGAIN: other processes hold fs.aio-max-nr for a moment. */
		for (int tries = 0; (ret = io_queue_init(16, &ctx)) == -EAGAIN && tries < 10000; tries++)
			usleep(1000);
		if (ret)
			die("io_queue_init", -ret);
		for (int i = 0; i < PER_ROUND; i++) {
			struct iocb *io = &iocbs[r * PER_ROUND + i];

			io_prep_pread(io, fd, buf, BLOCK, 0);
			io_set_callback(io, callback);
			list[i] = io;
		}
		/* Published first, so that reapers may already be inside
		 * io_getevents when the completions arrive. */
		atomic_store(&slots[d->slot], ctx);
		if ((ret = io_submit(ctx, PER_ROUND, list)) != PER_ROUND)
			die("io_submit", ret < 0 ? -ret : EAGAIN);
		if (wait_for_all) {
			for (int i = 0; i < PER_ROUND; i++)
				while (!atomic_load(&seen[r * PER_ROUND + i]))
					sched_yield();
		} else {
			for (unsigned spin = next_random(&state) % 2000; spin; spin--)
				__asm__ volatile("" ::: "memory");
		}
		if ((ret = r % 4 < 2 ? io_destroy(ctx) : io_queue_release(ctx)))
			die("io_destroy", -ret);
		atomic_fetch_add(&races, 1);
		/* The stale handle stays in the slot a moment longer, so that
		 * reapers also call on a destroyed context. */
		if (next_random(&state) % 2)
			sched_yield();
		atomic_store(&slots[d->slot], 0);
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	enum { REAPERS_PER_KIND = 2 };
	pthread_t reapers[4 * REAPERS_PER_KIND], destroyers[SLOTS];
	struct destroyer shares[SLOTS];
	char path[64];
	long whole = 0, waited = 0;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: destroy_race ROUNDS DESTROYERS\n");
		return 2;
	}
	rounds = atol(argv[1]);
	n = atoi(argv[2]);
	if (n < 1 || n > SLOTS || rounds < n)
		die("arguments", EINVAL);
	alarm(300);
	seen = calloc(rounds * PER_ROUND, 1);
	iocbs = calloc(rounds * PER_ROUND, sizeof(*iocbs));
	if (!seen || !iocbs)
		die("calloc", ENOMEM);
	snprintf(path, sizeof(path), "/dev/shm/libaio-rs-destroy-race-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (fd < 0)
		die("open", errno);
	unlink(path);
	if (ftruncate(fd, BLOCK))
		die("ftruncate", errno);

	for (int i = 0; i < 4 * REAPERS_PER_KIND; i++)
		if (pthread_create(&reapers[i], NULL, reaper, (void *)(long)(i % 4)))
			die("pthread_create", EAGAIN);
	for (int i = 0; i < n; i++) {
		shares[i].first = rounds / n * i;
		shares[i].count = i == n - 1 ? rounds - shares[i].first : rounds / n;
		shares[i].slot = i;
		if (pthread_create(&destroyers[i], NULL, destroyer, &shares[i]))
			die("pthread_create", EAGAIN);
	}
	for (int i = 0; i < n; i++)
		pthread_join(destroyers[i], NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4 * REAPERS_PER_KIND; i++)
		pthread_join(reapers[i], NULL);

	for (long r = 0; r < rounds; r += 2) {
		int got = 0;

		for (int i = 0; i < PER_ROUND; i++)
			got += seen[r * PER_ROUND + i] == 1;
		waited++;
		whole += got == PER_ROUND;
	}
	printf("destroy races %ld, completions delivered %ld (of %ld), duplicates %ld\n",
	       atomic_load(&races), atomic_load(&delivered), rounds * PER_ROUND,
	       atomic_load(&duplicates));
	printf("rounds waited for and delivered whole %ld of %ld, calls answered -EINVAL %ld, "
	       "unexpected %ld\n",
	       whole, waited, atomic_load(&einval), atomic_load(&unexpected));
	return atomic_load(&duplicates) || atomic_load(&unexpected) || whole != waited ? 1 : 0;
}
