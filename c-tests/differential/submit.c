/*
 * io_submit: argument errors, per-iocb errors, a batch that stops at its
 * first bad iocb, errors reported in the completion, and partial submission
 * once the ring is full.
 */
#include "common.h"

/* Runs the process on one CPU: the kernel hands out ring slots through
 * per-CPU caches, so the point where a full ring refuses more depends on
 * which CPUs the submissions ran on. */
static void pin_to_one_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	NEED(cpu >= 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	NEED(sched_setaffinity(0, sizeof(set), &set) == 0);
}

#define NPOLL 200

int main(void)
{
	static struct iocb polls[NPOLL];
	static struct iocb *poll_list[NPOLL];
	static struct io_event events[128];
	io_context_t ctx = NULL, full = NULL;
	struct iocb cb[3], *list[3];
	struct timespec wait = { 10, 0 };
	int fd, pipefd[2], got;
	char *buf;

	start();
	pin_to_one_cpu();
	NEED(io_setup(16, &ctx) == 0);
	fd = shm_file("submit", 16384);
	buf = aligned(4096, 'x');
	NEED(pipe(pipefd) == 0);

	printf("-- arguments\n");
	io_prep_pwrite(&cb[0], fd, buf, 4096, 0);
	list[0] = &cb[0];
	CHECK(io_submit(ctx, 0, NULL));
	CHECK(io_submit(ctx, 0, list));
	CHECK(io_submit(ctx, -1, list));
	CHECK(io_submit(ctx, LONG_MIN, list));
	CHECK(io_submit(ctx, 1, NULL));
	CHECK(io_submit(ctx, 1, (struct iocb **)KERNEL_PTR));
	list[0] = NULL;
	CHECK(io_submit(ctx, 1, list));
	list[0] = (struct iocb *)KERNEL_PTR;
	CHECK(io_submit(ctx, 1, list));
	list[0] = &cb[0];
	CHECK(io_submit(NULL, 1, list));
	CHECK(io_submit((io_context_t)-1, 1, list));
	CHECK(io_submit((io_context_t)0x1000, 1, list));

	printf("-- iocbs the kernel refuses\n");
	io_prep_pread(&cb[0], 999, buf, 4096, 0);
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], -1, buf, 4096, 0);
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], pipefd[1], buf, 4096, 0);
	CHECK(io_submit(ctx, 1, list));
	io_prep_pwrite(&cb[0], pipefd[0], buf, 4096, 0);
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], fd, buf, 4096, 0);
	cb[0].aio_lio_opcode = 4;
	CHECK(io_submit(ctx, 1, list));
	cb[0].aio_lio_opcode = IO_CMD_NOOP;
	CHECK(io_submit(ctx, 1, list));
	cb[0].aio_lio_opcode = 99;
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], fd, buf, 4096, 0);
	cb[0].u.c.__pad3 = 1;
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], fd, buf, 4096, -1);
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], fd, buf, 4096, 0);
	cb[0].u.c.flags = 1 << 7;
	CHECK(io_submit(ctx, 1, list));
	io_prep_pread(&cb[0], fd, buf, 4096, 0);
	io_set_eventfd(&cb[0], 999);
	CHECK(io_submit(ctx, 1, list));
	CHECK(io_getevents(ctx, 0, 16, events, &wait));

	printf("-- a batch stops at its first bad iocb\n");
	io_prep_pwrite(&cb[0], fd, buf, 4096, 0);
	io_prep_pwrite(&cb[1], 999, buf, 4096, 4096);
	io_prep_pwrite(&cb[2], fd, buf, 4096, 8192);
	for (int i = 0; i < 3; i++) {
		cb[i].data = (void *)(uintptr_t)(i + 1);
		list[i] = &cb[i];
	}
	CHECK(io_submit(ctx, 3, list));
	CHECK(got = io_getevents(ctx, 1, 3, events, &wait));
	show_events(events, got, cb, 3);
	list[0] = NULL;
	CHECK(io_submit(ctx, 3, list));
	list[0] = &cb[0];
	list[1] = &cb[2];
	CHECK(io_submit(ctx, 2, list));
	CHECK(got = io_getevents(ctx, 2, 3, events, &wait));
	show_events(events, got, cb, 3);

	printf("-- errors in the completion\n");
	io_prep_pread(&cb[0], fd, NULL, 4096, 0);
	io_prep_pread(&cb[1], fd, buf, 100, 0);
	io_prep_pread(&cb[2], fd, buf, 4096, 1 << 20);
	CHECK(io_submit(ctx, 3, (list[0] = &cb[0], list[1] = &cb[1], list[2] = &cb[2], list)));
	CHECK(got = io_getevents(ctx, 3, 3, events, &wait));
	show_events(events, got, cb, 3);

	printf("-- a full ring\n");
	NEED(io_setup(1, &full) == 0);
	for (int i = 0; i < NPOLL; i++) {
		io_prep_poll(&polls[i], pipefd[0], POLLIN);
		polls[i].data = (void *)(uintptr_t)i;
		poll_list[i] = &polls[i];
	}
	CHECK(io_submit(full, 100, poll_list));
	CHECK(io_submit(full, 100, poll_list + 100));
	CHECK(io_submit(full, 1, poll_list + 199));
	NEED(write(pipefd[1], "x", 1) == 1);
	CHECK(got = io_getevents(full, 120, 128, events, &wait));
	for (int i = 0, same = 0; i < got; i++) {
		if (events[i].res == events[0].res && events[i].res2 == 0)
			same++;
		if (i == got - 1)
			printf("    res=%ld res2=0 in %d of %d events\n", (long)events[0].res, same, got);
	}
	CHECK(io_submit(full, 1, poll_list + 199));
	CHECK(io_destroy(full));

	CHECK(io_destroy(ctx));
	return 0;
}
