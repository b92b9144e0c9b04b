/*
 * io_queue_run under the calling patterns real programs use: callbacks that
 * reap the same context, run a nested io_queue_run, leave with longjmp, or
 * replace their context with a new one. libaio takes one completion, calls
 * its callback, and only then takes the next; whatever libaio-rs reaps
 * ahead must not show. One case per run, named by argv[1].
 *
 * Each case submits its reads on /dev/shm with O_DIRECT, where they complete
 * inside io_submit, so that every completion waits in the ring before
 * io_queue_run starts.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#include "common.h"
#include <setjmp.h>

#define N 6

static io_context_t the_ctx;
static struct iocb cb[N];
static int depth, calls;
static jmp_buf out;
static const char *the_case;

static long idx(struct iocb *iocb)
{
	return iocb - cb;
}

/* Submits N reads of 512 bytes, each with `callback`. */
static void submit_reads(io_context_t ctx, io_callback_t callback)
{
	static char *buf;
	static int fd = -1;
	struct iocb *list[N];

	if (fd < 0) {
		fd = shm_file("callbacks", N * 4096);
		buf = aligned(N * 4096, 'c');
	}
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cb[i], fd, buf + i * 4096, 512, i * 4096);
		io_set_callback(&cb[i], callback);
		list[i] = &cb[i];
	}
	CHECK(io_submit(ctx, N, list));
}

static void show(const char *what, struct iocb *iocb, long res)
{
	calls++;
	printf("    %s: iocb[%ld] res=%ld depth=%d\n", what, idx(iocb), res, depth);
}

/* The first callback reaps the next completion itself, with a 1 s timeout:
 * it must get it at once. */
static void reaps_the_next(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)res2;
	show("callback", iocb, res);
	if (idx(iocb) == 0) {
		struct io_event ev;
		struct timespec second = { 1, 0 };
		int got = CHECK(io_getevents(ctx, 1, 1, &ev, &second));

		if (got == 1)
			show_event(&ev, cb, N);
	}
}

/* The first callback runs io_queue_run again. */
static void runs_nested(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)res2;
	show("callback", iocb, res);
	if (idx(iocb) == 0 && depth == 0) {
		depth++;
		CHECK(io_queue_run(ctx));
		depth--;
	}
}

/* The second callback leaves with longjmp. */
static void jumps_out(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	(void)res2;
	show("callback", iocb, res);
	if (idx(iocb) == 1)
		longjmp(out, 1);
}

/* The first callback releases the context and creates another, which the
 * kernel places at the same address. */
static void replaces_the_context(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	io_context_t fresh = 0;

	(void)res2;
	show("callback", iocb, res);
	if (idx(iocb) != 0)
		return;
	CHECK(io_queue_release(ctx));
	CHECK(io_queue_init(4, &fresh));
	printf("    new context at the same address: %s\n", fresh == ctx ? "yes" : "no");
	the_ctx = fresh;
}

/* The first callback reaps the rest with io_getevents and a zero timeout
 * (min_nr 0), then a zero-timeout poll finds nothing. */
static void polls_the_rest(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)res2;
	show("callback", iocb, res);
	if (idx(iocb) == 0) {
		struct io_event ev[N];
		struct timespec zero = { 0, 0 };
		int got = CHECK(io_getevents(ctx, 0, N, ev, &zero));

		show_events(ev, got, cb, N);
		CHECK(io_getevents(ctx, 0, N, ev, &zero));
		CHECK(io_pgetevents(ctx, 0, N, ev, &zero, NULL));
	}
}

int main(int argc, char **argv)
{
	start();
	if (argc != 2) {
		fprintf(stderr, "usage: callbacks CASE\n");
		return 2;
	}
	the_case = argv[1];
	printf("%s\n", the_case);
	CHECK(io_queue_init(16, &the_ctx));

	if (!strcmp(the_case, "getevents-in-callback")) {
		submit_reads(the_ctx, reaps_the_next);
		CHECK(io_queue_run(the_ctx));
	} else if (!strcmp(the_case, "nested-queue-run")) {
		submit_reads(the_ctx, runs_nested);
		CHECK(io_queue_run(the_ctx));
	} else if (!strcmp(the_case, "longjmp-out-of-callback")) {
		submit_reads(the_ctx, jumps_out);
		if (!setjmp(out))
			CHECK(io_queue_run(the_ctx));
		else
			printf("    back from longjmp\n");
		CHECK(io_queue_run(the_ctx));
	} else if (!strcmp(the_case, "longjmp-then-getevents")) {
		struct io_event ev[N];
		struct timespec zero = { 0, 0 };
		int got;

		submit_reads(the_ctx, jumps_out);
		if (!setjmp(out))
			CHECK(io_queue_run(the_ctx));
		else
			printf("    back from longjmp\n");
		got = CHECK(io_getevents(the_ctx, 0, N, ev, &zero));
		show_events(ev, got, cb, N);
	} else if (!strcmp(the_case, "replace-context-in-callback")) {
		io_context_t old;

		submit_reads(the_ctx, replaces_the_context);
		old = the_ctx;
		CHECK(io_queue_run(old));
		/* The loop went on with the new context (same handle): nothing
		 * there. */
		submit_reads(the_ctx, replaces_the_context);
		printf("-- the new context works\n");
	} else if (!strcmp(the_case, "poll-in-callback")) {
		submit_reads(the_ctx, polls_the_rest);
		CHECK(io_queue_run(the_ctx));
	} else {
		fprintf(stderr, "unknown case %s\n", the_case);
		return 2;
	}
	printf("callbacks: %d\n", calls);
	CHECK(io_queue_release(the_ctx));
	return 0;
}
