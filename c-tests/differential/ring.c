/*
 * The completion ring as programs see it: io_context_t is the address of
 * the kernel's ring. A zero-timeout io_getevents on an empty ring makes no
 * system call in libaio whatever produced the address, so the same must
 * hold for a ring read and advanced by the program itself (as fio and QEMU
 * do), a ring moved with mremap (as libaio's harness test 19 does), a
 * context made by the raw system call, and every one of many contexts.
 * One case per run, named by argv[1].
 */
#include "common.h"

#include <sys/syscall.h>

/* The kernel's ring header; the events follow it. */
struct ring {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event events[];
};

#define RING_MAGIC 0xa10a10a1u

static void reap_from_user_space(io_context_t ctx, struct iocb *base, int n)
{
	struct ring *ring = (struct ring *)ctx;
	unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

	printf("ring: magic %s, header_length %u, %u events\n", ring->magic == RING_MAGIC ? "ok" : "wrong",
	       ring->header_length, (tail + ring->nr - head) % ring->nr);
	while (head != tail) {
		show_event(&ring->events[head], base, n);
		head = (head + 1) % ring->nr;
	}
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
}

/* Writes one block through ctx and reaps it with a zero timeout. */
static void use(io_context_t ctx, int fd, char *buf)
{
	struct iocb cb, *list[1] = { &cb };
	struct io_event ev[2];
	struct timespec zero = { 0, 0 };
	int got;

	io_prep_pwrite(&cb, fd, buf, 4096, 0);
	cb.data = (void *)(uintptr_t)1;
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = io_getevents(ctx, 0, 2, ev, &zero));
	show_events(ev, got, &cb, 1);
	CHECK(io_getevents(ctx, 0, 2, ev, &zero));
}

#define MANY 300

int main(int argc, char **argv)
{
	static io_context_t many[MANY];
	io_context_t ctx = NULL;
	struct iocb cb[2], *list[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	struct timespec zero = { 0, 0 };
	char *buf;
	int fd;

	start();
	NEED(argc == 2);
	fd = shm_file("ring", 8192);
	buf = aligned(4096, 'r');

	if (strcmp(argv[1], "user-reap") == 0) {
		NEED(io_setup(8, &ctx) == 0);
		io_prep_pwrite(&cb[0], fd, buf, 4096, 0);
		io_prep_pread(&cb[1], fd, buf, 4096, 4096);
		cb[0].data = (void *)(uintptr_t)1;
		cb[1].data = (void *)(uintptr_t)2;
		CHECK(io_submit(ctx, 2, list));
		reap_from_user_space(ctx, cb, 2);
		CHECK(io_getevents(ctx, 0, 2, ev, &zero));
		CHECK(io_queue_run(ctx));
		use(ctx, fd, buf);
		CHECK(io_destroy(ctx));
	} else if (strcmp(argv[1], "mremap") == 0) {
		void *moved;
		size_t size;

		NEED(io_setup(8, &ctx) == 0);
		size = (size_t)((((struct ring *)ctx)->nr * sizeof(struct io_event) + 32 + 4095) & ~4095u);
		moved = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		NEED(moved != MAP_FAILED);
		moved = mremap(ctx, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, moved);
		NEED(moved != MAP_FAILED);
		printf("ring moved: %s\n", moved != (void *)ctx ? "yes" : "no");
		ctx = (io_context_t)moved;
		CHECK(io_getevents(ctx, 0, 2, ev, &zero));
		CHECK(io_queue_run(ctx));
		use(ctx, fd, buf);
		CHECK(io_destroy(ctx));
	} else if (strcmp(argv[1], "raw-setup") == 0) {
		NEED(syscall(SYS_io_setup, 8, &ctx) == 0);
		CHECK(io_getevents(ctx, 0, 2, ev, &zero));
		CHECK(io_queue_run(ctx));
		use(ctx, fd, buf);
		CHECK(io_destroy(ctx));
	} else if (strcmp(argv[1], "many-contexts") == 0) {
		int failures = 0, empty = 0;

		for (int i = 0; i < MANY; i++)
			if (io_setup(1, &many[i]) != 0)
				failures++;
		printf("%d contexts, %d failures\n", MANY, failures);
		for (int i = 0; i < MANY; i++)
			if (io_getevents(many[i], 0, 2, ev, &zero) == 0)
				empty++;
		printf("empty: %d\n", empty);
		use(many[MANY - 1], fd, buf);
		/* No io_destroy: each waits for an RCU grace period, while the
		 * kernel's cleanup at exit waits once for all of them. */
	} else {
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return 2;
	}
	return 0;
}
