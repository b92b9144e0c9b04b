/*
 * The documented differences: inputs on which libaio 0.3.113 crashes (or
 * reads a ring the process no longer owns) and libaio-rs answers an error.
 * One case per run, named by argv[1]. Each case first prints what it is
 * about to do, so that a crash is seen to happen at that call.
 */
#include "common.h"

static io_context_t destroyed_context(void)
{
	io_context_t ctx = NULL;

	NEED(io_setup(8, &ctx) == 0);
	NEED(io_destroy(ctx) == 0);
	return ctx;
}

static int calls;

static void callback(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx, (void)iocb;
	calls++;
	printf("callback: res=%ld res2=%ld\n", res, res2);
}

/* A completion whose iocb has no callback, followed by one that has. */
static int run_without_callback(void)
{
	io_context_t ctx = NULL;
	struct iocb cb[2], *list[2] = { &cb[0], &cb[1] };
	struct timespec zero = { 0, 0 };
	struct io_event ev[2];
	int fd = shm_file("differences", 4096);
	char *buf = aligned(4096, 'd');

	NEED(io_queue_init(4, &ctx) == 0);
	io_prep_pwrite(&cb[0], fd, buf, 4096, 0);
	io_prep_pread(&cb[1], fd, buf, 4096, 0);
	io_set_callback(&cb[1], callback);
	NEED(io_submit(ctx, 2, list) == 2);
	printf("io_queue_run over a completion without a callback\n");
	report("io_queue_run", (errno = ERRNO_SENTINEL, io_queue_run(ctx)));
	printf("callbacks: %d\n", calls);
	report("io_getevents, zero timeout", (errno = ERRNO_SENTINEL, io_getevents(ctx, 0, 2, ev, &zero)));
	NEED(io_queue_release(ctx) == 0);
	return 0;
}

static io_context_t destroyed_in_callback_ctx;

static void destroys_its_context(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)iocb, (void)res, (void)res2;
	calls++;
	NEED(io_destroy(ctx) == 0);
}

/* Two completions waiting; the first one's callback destroys the context.
 * libaio's io_queue_run then reads the unmapped ring. */
static int destroyed_in_callback(void)
{
	io_context_t ctx = NULL;
	struct iocb cb[2], *list[2] = { &cb[0], &cb[1] };
	int fd = shm_file("differences", 2 * 4096);
	char *buf = aligned(2 * 4096, 'd');
	int ret;

	NEED(io_queue_init(4, &ctx) == 0);
	destroyed_in_callback_ctx = ctx;
	for (int i = 0; i < 2; i++) {
		io_prep_pread(&cb[i], fd, buf + i * 4096, 4096, i * 4096);
		io_set_callback(&cb[i], destroys_its_context);
	}
	NEED(io_submit(ctx, 2, list) == 2);
	printf("destroyed-in-callback\n");
	errno = ERRNO_SENTINEL;
	ret = io_queue_run(ctx);
	report("result", ret);
	printf("callbacks: %d\n", calls);
	return 0;
}

/* The child of a fork, on its parent's context. */
static int stale_ring_after_fork(void)
{
	io_context_t ctx = NULL;
	struct timespec zero = { 0, 0 };
	struct io_event ev[2];
	int status;
	pid_t pid;

	NEED(io_setup(8, &ctx) == 0);
	fflush(stdout);
	pid = fork();
	NEED(pid >= 0);
	if (pid == 0) {
		report("child: io_submit(ctx, 0, NULL)", (errno = ERRNO_SENTINEL, io_submit(ctx, 0, NULL)));
		report("child: io_getevents, zero timeout",
		       (errno = ERRNO_SENTINEL, io_getevents(ctx, 0, 2, ev, &zero)));
		fflush(stdout);
		_exit(0);
	}
	NEED(waitpid(pid, &status, 0) == pid);
	printf("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	report("parent: io_getevents, zero timeout", (errno = ERRNO_SENTINEL, io_getevents(ctx, 0, 2, ev, &zero)));
	NEED(io_destroy(ctx) == 0);
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec zero = { 0, 0 }, short_wait = { 0, 1000 * 1000 };
	struct io_event ev[2];
	const char *c;
	int ret;

	start();
	NEED(argc == 2);
	c = argv[1];

	if (strcmp(c, "queue-run-without-callback") == 0)
		return run_without_callback();
	if (strcmp(c, "fork-stale-ring") == 0)
		return stale_ring_after_fork();
	if (strcmp(c, "destroyed-in-callback") == 0)
		return destroyed_in_callback();

	printf("%s\n", c);
	errno = ERRNO_SENTINEL;
	if (strcmp(c, "destroyed-getevents") == 0)
		ret = io_getevents(destroyed_context(), 0, 2, ev, &zero);
	else if (strcmp(c, "destroyed-getevents-timeout") == 0)
		ret = io_getevents(destroyed_context(), 1, 2, ev, &short_wait);
	else if (strcmp(c, "destroyed-getevents-no-timeout") == 0)
		ret = io_getevents(destroyed_context(), 1, 2, ev, NULL);
	else if (strcmp(c, "destroyed-pgetevents") == 0)
		ret = io_pgetevents(destroyed_context(), 0, 2, ev, &zero, NULL);
	else if (strcmp(c, "destroyed-queue-run") == 0)
		ret = io_queue_run(destroyed_context());
	else if (strcmp(c, "destroyed-queue-wait") == 0)
		ret = io_queue_wait(destroyed_context(), &zero);
	else if (strcmp(c, "destroyed-old-getevents") == 0)
		ret = old_io_getevents(destroyed_context(), 2, ev, &zero);
	else if (strcmp(c, "destroyed-old-queue-wait") == 0)
		ret = old_io_queue_wait(destroyed_context(), &zero);
	else if (strcmp(c, "invalid-getevents") == 0)
		ret = io_getevents((io_context_t)-1, 0, 2, ev, &zero);
	else if (strcmp(c, "invalid-pgetevents") == 0)
		ret = io_pgetevents((io_context_t)0x1000, 0, 2, ev, &zero, NULL);
	else if (strcmp(c, "invalid-queue-run") == 0)
		ret = io_queue_run((io_context_t)-1);
	else if (strcmp(c, "invalid-queue-wait") == 0)
		ret = io_queue_wait((io_context_t)0x1000, NULL);
	else if (strcmp(c, "queue-init-null") == 0)
		ret = io_queue_init(8, NULL);
	else if (strcmp(c, "queue-init-kernel-address") == 0)
		ret = io_queue_init(8, (io_context_t *)KERNEL_PTR);
	else {
		fprintf(stderr, "unknown case %s\n", c);
		return 2;
	}
	report("result", ret);
	return 0;
}
