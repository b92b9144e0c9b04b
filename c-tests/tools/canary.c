/*
 * Planted errors, which tests/sanitizers.rs runs under each checker to
 * prove that the checker works here and that a clean report means
 * something. The mode is argv[1]:
 *
 *   leak            a block of 100 bytes lost: a definite leak
 *   event-overflow  an io_queue_run callback asks io_getevents for the two
 *                   completions io_queue_run took from the kernel along
 *                   with its own, into an array with room for one (nr says
 *                   2, breaking io_getevents' contract), so the LIBRARY
 *                   writes past the end of a heap block, copying them out
 *                   of what it kept
 *   ubsan           a signed integer overflow
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <sys/eventfd.h>

#include "testutil.h"

#define BLOCK 4096

void *volatile canary_sink;

static void leak(void)
{
	canary_sink = malloc(100);
	CHECK(canary_sink != NULL);
	canary_sink = NULL;
}

static io_context_t overflow_ctx;
static int overflow_calls;

/* The first callback asks for the two completions that io_queue_run took
 * from the kernel with its own and keeps for later, into an array with room
 * for one. */
static void overflow_callback(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)iocb;
	(void)res;
	(void)res2;
	if (overflow_calls++ > 0)
		return;
	struct io_event *one = malloc(sizeof(*one));
	CHECK(one != NULL);
	struct timespec zero = { 0, 0 };
	int ret = io_getevents(ctx, 2, 2, one, &zero);
	printf("event-overflow: io_getevents returned %d\n", ret);
	free(one);
}

static void event_overflow(void)
{
	int fd = scratch_file("/dev/shm", "canary", 3 * BLOCK, 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	char *buf = aligned_buf(3 * BLOCK);
	CALL_EQ(io_setup(4, &overflow_ctx), 0);
	struct iocb io[3], *iop[3] = { &io[0], &io[1], &io[2] };
	for (int i = 0; i < 3; i++) {
		io_prep_pread(&io[i], fd, buf + i * BLOCK, BLOCK, i * BLOCK);
		io_set_eventfd(&io[i], efd);
		io_set_callback(&io[i], overflow_callback);
	}
	CALL_EQ(io_submit(overflow_ctx, 3, iop), 3);
	uint64_t total = 0;
	while (total < 3) {
		uint64_t count;
		CHECK(read(efd, &count, sizeof(count)) == (ssize_t)sizeof(count));
		total += count;
	}
	/* All three are in the ring: io_queue_run takes them together, and the
	 * library copies the two it kept into the callback's array itself. */
	printf("event-overflow: io_queue_run returned %d\n", io_queue_run(overflow_ctx));
	CALL_EQ(io_destroy(overflow_ctx), 0);
	free(buf);
	close(efd);
	close(fd);
}

static void ubsan(void)
{
	volatile int big = INT_MAX;
	int sum = big + 1;
	printf("ubsan: %d\n", sum);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	if (strcmp(argv[1], "leak") == 0)
		leak();
	else if (strcmp(argv[1], "event-overflow") == 0)
		event_overflow();
	else if (strcmp(argv[1], "ubsan") == 0)
		ubsan();
	else
		CHECK(!"unknown mode");
	return 0;
}
