/*
 * Shared by the differential test programs (c-tests/differential): each
 * program is built against the system libaio and against libaio-rs, and its
 * output and system calls are compared (tests/differential.rs).
 *
 * Output must be deterministic: results, errno names, event fields and data
 * read back, never addresses. CHECK() prints a call's result and notes any
 * change to errno, which libaio never touches.
 *
 * Include it first: it defines _GNU_SOURCE.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#ifndef DIFFERENTIAL_COMMON_H
#define DIFFERENTIAL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>

/* Exported by libaio.so.1 but left undeclared by libaio.h 0.3.113. */
int io_queue_wait(io_context_t ctx, struct timespec *timeout);

/* The compat symbols, reached the way a binary linked against libaio 0.1
 * reaches them: references bound to the old version. */
int old_io_getevents(io_context_t ctx, long nr, struct io_event *events, struct timespec *timeout);
__asm__(".symver old_io_getevents, io_getevents@LIBAIO_0.1");
int old_io_cancel(io_context_t ctx, struct iocb *iocb);
__asm__(".symver old_io_cancel, io_cancel@LIBAIO_0.1");
int old_io_queue_wait(io_context_t ctx, struct timespec *timeout);
__asm__(".symver old_io_queue_wait, io_queue_wait@LIBAIO_0.1");

/* errno is set to this before every checked call: it must survive. */
#define ERRNO_SENTINEL 1234

/* An address in the kernel's half of the address space. */
#define KERNEL_PTR ((void *)0xffffffff81000000UL)

static inline const char *errname(int e)
{
	const char *name = strerrorname_np(e);
	return name ? name : "E?";
}

/* Prints "label = result" (a count, or -ENAME) and flags a changed errno. */
static inline int report(const char *label, int ret)
{
	int saved = errno;

	if (ret < 0)
		printf("%s = -%s\n", label, errname(-ret));
	else
		printf("%s = %d\n", label, ret);
	if (saved != ERRNO_SENTINEL)
		printf("    errno changed from %d to %s\n", ERRNO_SENTINEL, errname(saved));
	return ret;
}

#define CHECK(expr) report(#expr, (errno = ERRNO_SENTINEL, (int)(expr)))

static inline void fail(const char *what, int line)
{
	fprintf(stderr, "line %d: %s failed (errno %s)\n", line, what, errname(errno));
	exit(2);
}

/* A precondition of the test itself, not a behaviour under test. */
#define NEED(cond) do { if (!(cond)) fail(#cond, __LINE__); } while (0)

/* Line-buffered output (a crash must not lose what was printed), no core
 * files, and a watchdog: a program that hangs dies by SIGALRM. */
static inline void start(void)
{
	struct rlimit none = { 0, 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	setrlimit(RLIMIT_CORE, &none);
	alarm(20);
}

/* A file of `size` zero bytes on /dev/shm, opened with O_DIRECT. Its name
 * is unique to this process and it is unlinked at once, so nothing is left
 * behind whatever happens next. */
static inline int shm_file(const char *tag, off_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/libaio-rs-differential-%d-%s", (int)getpid(), tag);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	NEED(fd >= 0);
	NEED(unlink(path) == 0);
	NEED(ftruncate(fd, size) == 0);
	return fd;
}

/* A page-aligned buffer filled with `fill`. */
static inline void *aligned(size_t size, int fill)
{
	void *p = NULL;

	NEED(posix_memalign(&p, 4096, size) == 0);
	memset(p, fill, size);
	return p;
}

/* Prints a completion: which of `n` iocbs at `base` it is, its data (a small
 * tag) and its results. */
static inline void show_event(const struct io_event *ev, const struct iocb *base, int n)
{
	long idx = ev->obj - base;
	uintptr_t data = (uintptr_t)ev->data;

	if (idx >= 0 && idx < n)
		printf("    event: iocb[%ld]", idx);
	else
		printf("    event: unknown iocb");
	if (data < 0x10000)
		printf(" data=%lu", (unsigned long)data);
	else
		printf(" data=<pointer>");
	if ((long)ev->res < 0)
		printf(" res=-%s", errname((int)-(long)ev->res));
	else
		printf(" res=%ld", (long)ev->res);
	printf(" res2=%ld\n", (long)ev->res2);
}

static inline void show_events(const struct io_event *ev, int got, const struct iocb *base, int n)
{
	for (int i = 0; i < got; i++)
		show_event(&ev[i], base, n);
}

#endif
