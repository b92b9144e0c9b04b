/*
 * Reaping: io_getevents (0.4 and the 0.1 compat symbol) and io_queue_wait
 * (both versions), around real O_DIRECT writes and reads of a /dev/shm file.
 * A zero timeout on an empty ring is answered without a system call; a
 * zero timeout on a non-empty ring, or any other timeout, makes the call.
 */
#include "common.h"

#define BLOCK 4096
#define NBLOCKS 4

static void verify(const char *buf, int block, char expect)
{
	int ok = 1;

	for (int i = 0; i < BLOCK; i++)
		if (buf[i] != expect)
			ok = 0;
	printf("    block %d holds '%c': %s\n", block, expect, ok ? "yes" : "no");
}

int main(void)
{
	io_context_t ctx = NULL;
	struct iocb cb[NBLOCKS], *list[NBLOCKS];
	struct io_event ev[8];
	struct timespec zero = { 0, 0 }, short_wait = { 0, 20 * 1000 * 1000 };
	struct timespec wait = { 10, 0 };
	char *wbuf[NBLOCKS], *rbuf[NBLOCKS];
	int fd, got;

	start();
	fd = shm_file("events", NBLOCKS * BLOCK);
	for (int i = 0; i < NBLOCKS; i++) {
		wbuf[i] = aligned(BLOCK, 'a' + i);
		rbuf[i] = aligned(BLOCK, 0);
		list[i] = &cb[i];
	}
	NEED(io_setup(16, &ctx) == 0);

	printf("-- empty ring, zero timeout: no system call, arguments unchecked\n");
	CHECK(io_getevents(ctx, 0, 4, ev, &zero));
	CHECK(io_getevents(ctx, 1, 4, ev, &zero));
	CHECK(io_getevents(ctx, 5, 4, ev, &zero));
	CHECK(io_getevents(ctx, 0, -1, ev, &zero));
	CHECK(io_getevents(ctx, -1, 4, ev, &zero));
	CHECK(io_getevents(ctx, 1, 4, NULL, &zero));
	CHECK(io_queue_wait(ctx, &zero));
	CHECK(old_io_getevents(ctx, 4, ev, &zero));
	CHECK(old_io_getevents(ctx, -1, NULL, &zero));
	CHECK(old_io_queue_wait(ctx, &zero));

	printf("-- empty ring, other timeouts: the kernel answers\n");
	CHECK(io_getevents(ctx, 5, 4, ev, &short_wait));
	CHECK(io_getevents(ctx, 0, -1, ev, &short_wait));
	CHECK(io_getevents(ctx, -1, 4, ev, &short_wait));
	CHECK(io_getevents(ctx, 1, 4, ev, &short_wait));
	CHECK(io_getevents(ctx, 0, 4, ev, NULL));
	CHECK(io_getevents(ctx, 0, 0, NULL, NULL));
	CHECK(io_queue_wait(ctx, NULL));
	CHECK(io_queue_wait(ctx, &wait));
	CHECK(old_io_getevents(ctx, 4, ev, &short_wait));
	CHECK(old_io_getevents(ctx, -1, ev, &short_wait));
	CHECK(old_io_queue_wait(ctx, NULL));
	CHECK(old_io_queue_wait(ctx, &wait));
	CHECK(io_getevents(NULL, 0, 4, ev, &zero));
	CHECK(io_getevents(NULL, 1, 4, ev, &short_wait));
	CHECK(io_queue_wait(NULL, &zero));
	CHECK(old_io_getevents(NULL, 4, ev, &zero));
	CHECK(old_io_queue_wait(NULL, &zero));

	printf("-- writes\n");
	for (int i = 0; i < NBLOCKS; i++) {
		io_prep_pwrite(&cb[i], fd, wbuf[i], BLOCK, (long long)i * BLOCK);
		cb[i].data = (void *)(uintptr_t)(100 + i);
	}
	CHECK(io_submit(ctx, NBLOCKS, list));
	printf("-- non-empty ring, zero timeout: the kernel answers\n");
	CHECK(io_queue_wait(ctx, &zero));
	CHECK(old_io_queue_wait(ctx, &zero));
	CHECK(io_getevents(ctx, 5, 4, ev, &zero));
	CHECK(got = io_getevents(ctx, 0, 1, ev, &zero));
	show_events(ev, got, cb, NBLOCKS);
	CHECK(got = old_io_getevents(ctx, 1, ev, &zero));
	show_events(ev, got, cb, NBLOCKS);
	printf("-- no timeout with a completion waiting\n");
	CHECK(got = io_getevents(ctx, 1, 1, ev, NULL));
	show_events(ev, got, cb, NBLOCKS);
	CHECK(got = old_io_getevents(ctx, 8, ev, NULL));
	show_events(ev, got, cb, NBLOCKS);
	CHECK(io_getevents(ctx, 0, 8, ev, &zero));

	printf("-- reads\n");
	for (int i = 0; i < NBLOCKS; i++) {
		io_prep_pread(&cb[i], fd, rbuf[i], BLOCK, (long long)(NBLOCKS - 1 - i) * BLOCK);
		cb[i].data = (void *)(uintptr_t)(200 + i);
	}
	CHECK(io_submit(ctx, NBLOCKS, list));
	CHECK(io_getevents(ctx, 1, 4, NULL, &wait));
	CHECK(io_getevents(ctx, 1, 4, (struct io_event *)KERNEL_PTR, &wait));
	CHECK(got = io_getevents(ctx, 4, 8, ev, &wait));
	show_events(ev, got, cb, NBLOCKS);
	for (int i = 0; i < NBLOCKS; i++)
		verify(rbuf[i], NBLOCKS - 1 - i, 'a' + (NBLOCKS - 1 - i));
	CHECK(io_getevents(ctx, 0, 8, ev, &zero));

	printf("-- one at a time, min_nr 1 with the 0.1 symbol\n");
	for (int i = 0; i < 2; i++) {
		io_prep_pread(&cb[i], fd, rbuf[i], BLOCK, (long long)i * BLOCK);
		cb[i].data = (void *)(uintptr_t)(300 + i);
	}
	CHECK(io_submit(ctx, 2, list));
	CHECK(got = io_getevents(ctx, 2, 2, ev, &wait));
	show_events(ev, got, cb, NBLOCKS);
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = old_io_getevents(ctx, 2, ev, &wait));
	show_events(ev, got, cb, NBLOCKS);
	CHECK(old_io_getevents(ctx, 2, ev, &short_wait));

	CHECK(io_destroy(ctx));
	return 0;
}
