/*
 * The queue helpers: io_queue_init, io_queue_run calling each completion's
 * callback in order with res and res2 and returning 0, io_queue_wait (both
 * versions), io_queue_release. An eventfd tells when an asynchronous fsync
 * has completed, so that io_queue_run finds it.
 */
#include "common.h"

static io_context_t the_ctx;
static struct iocb cb[4];
static int calls;

static void report_callback(const char *name, io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	long idx = iocb - cb;

	calls++;
	printf("    %s: ctx %s, iocb[%ld], res=", name, ctx == the_ctx ? "ok" : "wrong", idx);
	if (res < 0)
		printf("-%s", errname((int)-res));
	else
		printf("%ld", res);
	printf(" res2=%ld\n", res2);
}

static void first(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	report_callback("first", ctx, iocb, res, res2);
}

static void second(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	report_callback("second", ctx, iocb, res, res2);
}

static void third(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	report_callback("third", ctx, iocb, res, res2);
}

int main(void)
{
	io_context_t ctx = (io_context_t)0x5678;
	struct iocb *list[4] = { &cb[0], &cb[1], &cb[2], &cb[3] };
	struct timespec zero = { 0, 0 }, wait = { 10, 0 };
	uint64_t count;
	char *buf;
	int fd, efd;

	start();
	fd = shm_file("queue", 3 * 4096);
	buf = aligned(3 * 4096, 'q');
	efd = eventfd(0, EFD_CLOEXEC);
	NEED(efd >= 0);

	CHECK(io_queue_init(4, &ctx));
	the_ctx = ctx;

	printf("-- nothing to run\n");
	CHECK(io_queue_run(ctx));
	CHECK(io_queue_wait(ctx, &zero));
	CHECK(old_io_queue_wait(ctx, &zero));
	printf("callbacks: %d\n", calls);

	printf("-- three completions, in order\n");
	io_prep_pwrite(&cb[0], fd, buf, 4096, 0);
	io_set_callback(&cb[0], first);
	io_prep_pwrite(&cb[1], fd, buf + 4096, 8192, 4096);
	io_set_callback(&cb[1], second);
	io_prep_pread(&cb[2], fd, NULL, 4096, 0);
	io_set_callback(&cb[2], third);
	CHECK(io_submit(ctx, 3, list));
	CHECK(io_queue_wait(ctx, &zero));
	CHECK(io_queue_wait(ctx, NULL));
	CHECK(old_io_queue_wait(ctx, &wait));
	CHECK(io_queue_run(ctx));
	printf("callbacks: %d\n", calls);
	CHECK(io_queue_run(ctx));
	printf("callbacks: %d\n", calls);

	printf("-- an fsync, found through its eventfd\n");
	io_prep_fsync(&cb[3], fd);
	io_set_callback(&cb[3], second);
	io_set_eventfd(&cb[3], efd);
	CHECK(io_submit(ctx, 1, list + 3));
	NEED(read(efd, &count, sizeof(count)) == sizeof(count));
	printf("eventfd count: %llu\n", (unsigned long long)count);
	CHECK(io_queue_run(ctx));
	printf("callbacks: %d\n", calls);

	printf("-- the same iocb three times, one batch\n");
	io_prep_pread(&cb[0], fd, buf, 4096, 0);
	io_set_callback(&cb[0], third);
	list[1] = list[2] = &cb[0];
	CHECK(io_submit(ctx, 3, list));
	CHECK(io_queue_run(ctx));
	printf("callbacks: %d\n", calls);

	printf("-- errors\n");
	CHECK(io_queue_run(NULL));
	CHECK(io_queue_wait(NULL, NULL));
	CHECK(io_queue_release(ctx));
	CHECK(io_queue_release(ctx));
	printf("callbacks: %d\n", calls);
	return 0;
}
