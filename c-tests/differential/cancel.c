/*
 * io_cancel (0.4 and the 0.1 compat symbol) on pending polls, finished and
 * never-submitted iocbs, bad contexts; io_poll and io_prep_poll completing.
 */
#include "common.h"

static void on_poll(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)iocb, (void)res, (void)res2;
}

/* An event filled with a pattern, to see whether the kernel wrote it. */
static void poison(struct io_event *ev)
{
	memset(ev, 0x5a, sizeof(*ev));
}

static const char *untouched(const struct io_event *ev)
{
	const unsigned char *p = (const unsigned char *)ev;

	for (size_t i = 0; i < sizeof(*ev); i++)
		if (p[i] != 0x5a)
			return "no";
	return "yes";
}

int main(void)
{
	io_context_t ctx = NULL;
	struct iocb cb[2], *list[2] = { &cb[0], &cb[1] };
	struct io_event ev[4], result;
	struct timespec zero = { 0, 0 }, wait = { 10, 0 };
	int pipefd[2], fd, got;
	char *buf, byte;

	start();
	NEED(pipe(pipefd) == 0);
	fd = shm_file("cancel", 4096);
	buf = aligned(4096, 'c');
	NEED(io_setup(8, &ctx) == 0);

	printf("-- cancelling a pending poll\n");
	io_prep_poll(&cb[0], pipefd[0], POLLIN);
	cb[0].data = (void *)(uintptr_t)1;
	CHECK(io_submit(ctx, 1, list));
	poison(&result);
	CHECK(io_cancel(ctx, &cb[0], &result));
	printf("result untouched: %s\n", untouched(&result));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	CHECK(io_cancel(ctx, &cb[0], &result));
	CHECK(io_getevents(ctx, 0, 4, ev, &zero));

	printf("-- cancelling with no room for the result\n");
	CHECK(io_submit(ctx, 1, list));
	CHECK(io_cancel(ctx, &cb[0], NULL));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);

	printf("-- the 0.1 io_cancel\n");
	cb[0].data = (void *)(uintptr_t)2;
	CHECK(io_submit(ctx, 1, list));
	CHECK(old_io_cancel(ctx, &cb[0]));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	CHECK(old_io_cancel(ctx, &cb[0]));

	printf("-- iocbs that are not queued\n");
	io_prep_poll(&cb[1], pipefd[0], POLLIN);
	poison(&result);
	CHECK(io_cancel(ctx, &cb[1], &result));
	printf("result untouched: %s\n", untouched(&result));
	io_prep_pread(&cb[1], fd, buf, 4096, 0);
	cb[1].data = (void *)(uintptr_t)3;
	CHECK(io_submit(ctx, 1, list + 1));
	CHECK(io_cancel(ctx, &cb[1], &result));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	CHECK(io_cancel(ctx, &cb[1], &result));
	CHECK(io_cancel(ctx, (struct iocb *)KERNEL_PTR, &result));
	CHECK(io_cancel(ctx, NULL, &result));
	CHECK(old_io_cancel(ctx, &cb[1]));
	CHECK(old_io_cancel(ctx, NULL));

	printf("-- bad contexts\n");
	cb[0].data = (void *)(uintptr_t)4;
	CHECK(io_submit(ctx, 1, list));
	CHECK(io_cancel(NULL, &cb[0], &result));
	CHECK(io_cancel((io_context_t)-1, &cb[0], &result));
	CHECK(old_io_cancel(NULL, &cb[0]));
	CHECK(old_io_cancel((io_context_t)0x1000, &cb[0]));

	printf("-- the poll completes\n");
	NEED(write(pipefd[1], "x", 1) == 1);
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	CHECK(io_cancel(ctx, &cb[0], &result));

	printf("-- io_poll on a readable pipe\n");
	CHECK(io_poll(ctx, &cb[0], on_poll, pipefd[0], POLLIN));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	printf("data is the callback: %s\n", ev[0].data == (void *)on_poll ? "yes" : "no");
	NEED(read(pipefd[0], &byte, 1) == 1);

	printf("-- io_poll on an empty pipe, then a write\n");
	CHECK(io_poll(ctx, &cb[0], on_poll, pipefd[0], POLLIN));
	CHECK(io_poll(ctx, &cb[1], on_poll, pipefd[1], POLLOUT));
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);
	NEED(write(pipefd[1], "y", 1) == 1);
	CHECK(got = io_getevents(ctx, 1, 4, ev, &wait));
	show_events(ev, got, cb, 2);

	printf("-- destroying a context with a poll pending\n");
	NEED(read(pipefd[0], &byte, 1) == 1);
	CHECK(io_poll(ctx, &cb[0], on_poll, pipefd[0], POLLIN));
	CHECK(io_destroy(ctx));
	CHECK(io_cancel(ctx, &cb[0], &result));
	return 0;
}
