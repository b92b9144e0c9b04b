/*
 * Children made without fork()'s handlers, on their parent's context: the
 * kernel gives a child no contexts, so its calls must get -EINVAL, and it
 * must not read or move the parent's ring (which the child's copy of the
 * address space still maps, shared with the parent).
 *
 *   raw_children fork|_Fork|clone
 *
 * The parent submits eight reads (O_DIRECT on /dev/shm: they complete at
 * once and wait in the ring), then makes a child the given way. The child
 * calls io_getevents with a zero timeout, io_pgetevents, io_queue_run and
 * io_getevents with a timeout on the parent's context and prints each
 * result; then the parent checks that the ring still holds its eight
 * completions and reaps them. Prints the results; the output is the same
 * with libaio and libaio-rs, in either reaping mode.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libaio.h>

#define N 8

static io_context_t ctx;
static int callbacks;

static void callback(io_context_t c, struct iocb *iocb, long res, long res2)
{
	(void)c, (void)iocb, (void)res, (void)res2;
	callbacks++;
}

static void show(const char *what, int ret)
{
	if (ret < 0)
		printf("%s = -%s\n", what, strerrorname_np(-ret));
	else
		printf("%s = %d\n", what, ret);
}

/* The parent's completions still in the ring (head to tail). */
static unsigned waiting(void)
{
	volatile unsigned *ring = (volatile unsigned *)ctx;
	unsigned nr = ring[1], head = ring[2], tail = ring[3];

	return (tail + nr - head) % nr;
}

static void child(void)
{
	struct io_event ev[N];
	struct timespec zero = { 0, 0 }, short_wait = { 0, 1000 * 1000 };

	show("child: io_getevents, zero timeout", io_getevents(ctx, 0, N, ev, &zero));
	show("child: io_pgetevents, zero timeout", io_pgetevents(ctx, 1, N, ev, &zero, NULL));
	show("child: io_queue_run", io_queue_run(ctx));
	show("child: io_getevents, 1 ms", io_getevents(ctx, 1, N, ev, &short_wait));
	printf("child: callbacks %d, parent's completions still waiting %u\n", callbacks, waiting());
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct iocb cb[N], *list[N];
	struct io_event ev[N];
	struct timespec second = { 1, 0 };
	char path[64], *buf;
	int fd, status, got = 0;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: raw_children fork|_Fork|clone\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(20);
	snprintf(path, sizeof(path), "/dev/shm/libaio-rs-raw-children-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (fd < 0 || unlink(path) || ftruncate(fd, 4096) || posix_memalign((void **)&buf, 4096, N * 4096))
		return 2;
	if (io_queue_init(16, &ctx))
		return 2;
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cb[i], fd, buf + i * 4096, 4096, 0);
		io_set_callback(&cb[i], callback);
		list[i] = &cb[i];
	}
	show("io_submit", io_submit(ctx, N, list));
	printf("waiting in the ring: %u\n", waiting());

	if (!strcmp(argv[1], "fork"))
		pid = fork();
	else if (!strcmp(argv[1], "_Fork"))
		pid = _Fork();
	else if (!strcmp(argv[1], "clone"))
		pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	else
		return 2;
	if (pid < 0)
		return 2;
	if (pid == 0)
		child();
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	printf("parent: still waiting in the ring: %u\n", waiting());
	while (got < N) {
		int ret = io_getevents(ctx, 1, N, ev, &second);

		if (ret <= 0)
			break;
		got += ret;
	}
	printf("parent: reaped %d\n", got);
	show("io_queue_release", io_queue_release(ctx));
	return got == N ? 0 : 1;
}
