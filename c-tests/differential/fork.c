/*
 * Contexts across fork: the kernel refuses the parent's context in the
 * child (io_submit, io_cancel, io_destroy, and io_getevents that reaches
 * the kernel), the child can make its own, and the parent's context keeps
 * working. (A zero-timeout io_getevents on the parent's context in the
 * child is a documented difference: see differences.c.)
 */
#include "common.h"

static void child(io_context_t parent_ctx, int fd, char *buf)
{
	io_context_t own = NULL;
	struct iocb cb, *list[1] = { &cb };
	struct io_event ev[2];
	struct timespec wait = { 10, 0 }, short_wait = { 0, 1000 * 1000 };
	int got;

	printf("-- child\n");
	io_prep_pread(&cb, fd, buf, 4096, 0);
	CHECK(io_submit(parent_ctx, 0, NULL));
	CHECK(io_submit(parent_ctx, 1, list));
	CHECK(io_cancel(parent_ctx, &cb, ev));
	CHECK(io_getevents(parent_ctx, 1, 2, ev, &short_wait));
	CHECK(io_getevents(parent_ctx, 0, 2, ev, NULL));
	CHECK(io_pgetevents(parent_ctx, 0, 2, ev, &wait, NULL));
	CHECK(io_queue_wait(parent_ctx, NULL));
	CHECK(io_destroy(parent_ctx));

	CHECK(io_queue_init(4, &own));
	printf("child context differs from the parent's: %s\n", own != parent_ctx ? "yes" : "no");
	struct timespec zero = { 0, 0 };
	CHECK(io_getevents(own, 0, 2, ev, &zero));
	cb.data = (void *)(uintptr_t)2;
	CHECK(io_submit(own, 1, list));
	CHECK(got = io_getevents(own, 1, 2, ev, &wait));
	show_events(ev, got, &cb, 1);
	printf("child read '%c'\n", buf[0]);
	CHECK(io_queue_release(own));
	fflush(stdout);
	_exit(0);
}

int main(void)
{
	io_context_t ctx = NULL;
	struct iocb cb, *list[1] = { &cb };
	struct io_event ev[2];
	struct timespec zero = { 0, 0 }, wait = { 10, 0 };
	int fd, got, status;
	char *buf;
	pid_t pid;

	start();
	fd = shm_file("fork", 4096);
	buf = aligned(4096, 'f');
	NEED(io_setup(8, &ctx) == 0);
	io_prep_pwrite(&cb, fd, buf, 4096, 0);
	cb.data = (void *)(uintptr_t)1;
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = io_getevents(ctx, 1, 2, ev, &wait));
	show_events(ev, got, &cb, 1);
	memset(buf, 0, 4096);

	fflush(stdout);
	pid = fork();
	NEED(pid >= 0);
	if (pid == 0)
		child(ctx, fd, buf);
	NEED(waitpid(pid, &status, 0) == pid);
	printf("-- parent\n");
	printf("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(io_getevents(ctx, 0, 2, ev, &zero));
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.data = (void *)(uintptr_t)3;
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = io_getevents(ctx, 1, 2, ev, &wait));
	show_events(ev, got, &cb, 1);
	printf("parent read '%c'\n", buf[0]);
	CHECK(io_destroy(ctx));
	return 0;
}
