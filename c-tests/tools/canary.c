/*
 * Planted errors, which tests/sanitizers.rs runs under each checker to
 * prove that the checker works here and that a clean report means
 * something. The mode is argv[1]:
 *
 *   leak            a block of 100 bytes lost: a definite leak
 *   event-overflow  with LIBAIO_USERSPACE_REAP=1: two completions reaped
 *                   into an array with room for one (nr says 2, breaking
 *                   io_getevents' contract), so the LIBRARY writes past the
 *                   end of a heap block, copying them out of the ring
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

static void event_overflow(void)
{
	const char *mode = getenv("LIBAIO_USERSPACE_REAP");
	CHECK(mode && strcmp(mode, "1") == 0);
	int fd = scratch_file("/dev/shm", "canary", 2 * BLOCK, 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	char *buf = aligned_buf(2 * BLOCK);
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(4, &ctx), 0);
	struct iocb io[2], *iop[2] = { &io[0], &io[1] };
	for (int i = 0; i < 2; i++) {
		io_prep_pread(&io[i], fd, buf + i * BLOCK, BLOCK, i * BLOCK);
		io_set_eventfd(&io[i], efd);
	}
	CALL_EQ(io_submit(ctx, 2, iop), 2);
	uint64_t total = 0;
	while (total < 2) {
		uint64_t count;
		CHECK(read(efd, &count, sizeof(count)) == (ssize_t)sizeof(count));
		total += count;
	}
	/* Both are in the ring: the library copies them out itself. */
	struct io_event *one = malloc(sizeof(*one));
	CHECK(one != NULL);
	struct timespec zero = { 0, 0 };
	int ret = io_getevents(ctx, 2, 2, one, &zero);
	printf("event-overflow: io_getevents returned %d\n", ret);
	free(one);
	CALL_EQ(io_destroy(ctx), 0);
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
