/*
 * The header's inline helpers: the bytes each io_prep_* leaves in an iocb
 * (built over garbage), and real submissions through each of them:
 * pwritev/preadv, pwritev2/preadv2, fsync, fdsync, poll, and completion
 * notification through io_set_eventfd.
 */
#include "common.h"

/* Prints an iocb's 64 bytes (the helpers below are given fake pointers,
 * so that the bytes are the same in every run). */
static void dump(const char *label, const struct iocb *iocb)
{
	const unsigned char *p = (const unsigned char *)iocb;

	printf("%-22s", label);
	for (size_t i = 0; i < sizeof(*iocb); i++)
		printf(i % 8 == 0 ? " %02x" : "%02x", p[i]);
	printf("\n");
}

static void fresh(struct iocb *iocb)
{
	memset(iocb, 0xa5, sizeof(*iocb));
}

static void callback(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)iocb, (void)res, (void)res2;
}

static int reap(io_context_t ctx, struct iocb *base, int n, int min)
{
	struct io_event ev[8];
	struct timespec wait = { 10, 0 };
	int got = CHECK(io_getevents(ctx, min, 8, ev, &wait));

	show_events(ev, got, base, n);
	for (int i = 0; i < got; i++)
		if ((uintptr_t)ev[i].data >= 0x10000)
			printf("    data is the callback: %s\n", ev[i].data == (void *)callback ? "yes" : "no");
	return got;
}

int main(void)
{
	io_context_t ctx = NULL;
	struct iocb cb[4], *list[4] = { &cb[0], &cb[1], &cb[2], &cb[3] };
	struct iovec wv[4], rv[4];
	struct io_event ev[4];
	struct timespec zero = { 0, 0 };
	char *wbuf, *rbuf, byte;
	int fd, pipefd[2], efd, ok;
	uint64_t count;

	start();
	fd = shm_file("helpers", 8 * 4096);
	wbuf = aligned(4 * 4096, 0);
	rbuf = aligned(4 * 4096, 0);
	for (int i = 0; i < 4; i++) {
		memset(wbuf + i * 4096, 'A' + i, 4096);
		wv[i].iov_base = wbuf + i * 4096;
		wv[i].iov_len = 4096;
		rv[i].iov_base = rbuf + (3 - i) * 4096;
		rv[i].iov_len = 4096;
	}
	NEED(pipe(pipefd) == 0);
	efd = eventfd(0, EFD_CLOEXEC);
	NEED(efd >= 0);

	printf("-- what each helper writes\n");
	fresh(&cb[0]);
	io_prep_pread(&cb[0], 7, (void *)0x1234, 4096, 0x0102030405060708LL);
	dump("io_prep_pread", &cb[0]);
	fresh(&cb[0]);
	io_prep_pwrite(&cb[0], -1, NULL, (size_t)-1, -1);
	dump("io_prep_pwrite", &cb[0]);
	fresh(&cb[0]);
	io_prep_preadv(&cb[0], 7, (const struct iovec *)0x4321, 3, 512);
	dump("io_prep_preadv", &cb[0]);
	fresh(&cb[0]);
	io_prep_pwritev(&cb[0], 7, (const struct iovec *)0x4321, -2, 512);
	dump("io_prep_pwritev", &cb[0]);
	fresh(&cb[0]);
	io_prep_preadv2(&cb[0], 7, (const struct iovec *)0x4321, 3, 512, RWF_NOWAIT | RWF_HIPRI);
	dump("io_prep_preadv2", &cb[0]);
	fresh(&cb[0]);
	io_prep_pwritev2(&cb[0], 7, (const struct iovec *)0x4321, 3, 512, -1);
	dump("io_prep_pwritev2", &cb[0]);
	fresh(&cb[0]);
	io_prep_poll(&cb[0], 7, POLLIN | POLLPRI | POLLRDHUP);
	dump("io_prep_poll", &cb[0]);
	fresh(&cb[0]);
	io_prep_fsync(&cb[0], 7);
	dump("io_prep_fsync", &cb[0]);
	fresh(&cb[0]);
	io_prep_fdsync(&cb[0], 7);
	dump("io_prep_fdsync", &cb[0]);
	fresh(&cb[0]);
	io_set_eventfd(&cb[0], 9);
	dump("io_set_eventfd", &cb[0]);
	io_prep_pread(&cb[0], 7, (void *)0x1234, 4096, 0);
	io_set_eventfd(&cb[0], 9);
	io_set_eventfd(&cb[0], -1);
	dump("io_set_eventfd twice", &cb[0]);
	fresh(&cb[0]);
	io_set_callback(&cb[0], (io_callback_t)0x42);
	dump("io_set_callback", &cb[0]);
	io_set_callback(&cb[0], NULL);
	dump("io_set_callback NULL", &cb[0]);

	NEED(io_setup(8, &ctx) == 0);

	printf("-- pwritev and preadv\n");
	io_prep_pwritev(&cb[0], fd, wv, 3, 0);
	cb[0].data = (void *)(uintptr_t)1;
	io_prep_pwritev2(&cb[1], fd, wv + 3, 1, 3 * 4096, RWF_DSYNC);
	cb[1].data = (void *)(uintptr_t)2;
	CHECK(io_submit(ctx, 2, list));
	reap(ctx, cb, 4, 2);
	io_prep_preadv(&cb[0], fd, rv, 2, 0);
	io_prep_preadv2(&cb[1], fd, rv + 2, 2, 2 * 4096, 0);
	CHECK(io_submit(ctx, 2, list));
	reap(ctx, cb, 4, 2);
	ok = memcmp(rbuf + 3 * 4096, wbuf, 4096) == 0 && memcmp(rbuf + 2 * 4096, wbuf + 4096, 4096) == 0 &&
	     memcmp(rbuf + 4096, wbuf + 2 * 4096, 4096) == 0 && memcmp(rbuf, wbuf + 3 * 4096, 4096) == 0;
	printf("data read back scattered: %s\n", ok ? "yes" : "no");
	io_prep_pwritev2(&cb[0], fd, wv, 1, 0, 0x40000000);
	CHECK(io_submit(ctx, 1, list));
	io_prep_preadv(&cb[0], fd, rv, 0, 0);
	io_prep_preadv(&cb[1], fd, rv, -1, 0);
	CHECK(io_submit(ctx, 1, list));
	CHECK(io_submit(ctx, 1, list + 1));
	reap(ctx, cb, 4, 1);

	printf("-- fsync and fdsync\n");
	CHECK(io_fsync(ctx, &cb[0], callback, fd));
	reap(ctx, cb, 4, 1);
	CHECK(io_fdsync(ctx, &cb[1], callback, fd));
	reap(ctx, cb, 4, 1);
	CHECK(io_fsync(ctx, &cb[0], callback, pipefd[0]));
	CHECK(io_fdsync(ctx, &cb[0], callback, 999));

	printf("-- poll\n");
	NEED(write(pipefd[1], "z", 1) == 1);
	CHECK(io_poll(ctx, &cb[0], callback, pipefd[0], POLLIN));
	reap(ctx, cb, 4, 1);
	NEED(read(pipefd[0], &byte, 1) == 1);
	io_prep_poll(&cb[1], pipefd[1], POLLOUT);
	CHECK(io_submit(ctx, 1, list + 1));
	reap(ctx, cb, 4, 1);

	printf("-- eventfd\n");
	io_prep_pwrite(&cb[0], fd, wbuf, 4096, 4 * 4096);
	io_set_eventfd(&cb[0], efd);
	cb[0].data = (void *)(uintptr_t)10;
	io_prep_pread(&cb[1], fd, rbuf, 4096, 0);
	io_set_eventfd(&cb[1], efd);
	cb[1].data = (void *)(uintptr_t)11;
	CHECK(io_submit(ctx, 2, list));
	NEED(read(efd, &count, sizeof(count)) == sizeof(count));
	printf("eventfd count: %llu\n", (unsigned long long)count);
	CHECK(io_getevents(ctx, 0, 4, ev, &zero));
	show_events(ev, 2, cb, 4);
	io_prep_fdsync(&cb[2], fd);
	io_set_eventfd(&cb[2], efd);
	cb[2].data = (void *)(uintptr_t)12;
	CHECK(io_submit(ctx, 1, list + 2));
	NEED(read(efd, &count, sizeof(count)) == sizeof(count));
	printf("eventfd count: %llu\n", (unsigned long long)count);
	CHECK(io_getevents(ctx, 0, 4, ev, &zero));
	show_events(ev, 1, cb, 4);
	CHECK(io_getevents(ctx, 0, 4, ev, &zero));
	io_prep_pread(&cb[0], fd, rbuf, 4096, 0);
	io_set_eventfd(&cb[0], pipefd[0]);
	CHECK(io_submit(ctx, 1, list));

	CHECK(io_destroy(ctx));
	return 0;
}
