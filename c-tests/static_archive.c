/*
 * Our static libaio.a, linked into programs and shared objects: real I/O
 * through every function, with no libaio.so loaded.
 *
 * The driver builds this one file in several roles, chosen by a macro:
 *
 *   (none)                          a dynamically linked executable with libaio.a in it
 *   LIBAIO_RS_FULLY_STATIC          the same, linked with -static
 *   LIBAIO_RS_STATIC_DSO            a shared object (-shared -fPIC) with libaio.a in it,
 *                                   exporting libaio_rs_static_dso_run()
 *   LIBAIO_RS_STATIC_LOADER_LINKED  an executable linked with that shared object
 *   LIBAIO_RS_STATIC_LOADER_DLOPEN  an executable that dlopen()s it (path in argv[1])
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
/* libaio-rs: static-archive */
#define _GNU_SOURCE
#include <libaio.h>

#include <dlfcn.h>
#include <poll.h>
#include <sys/eventfd.h>

#include "testutil.h"

int libaio_rs_static_dso_run(void);

#if !defined(LIBAIO_RS_STATIC_LOADER_LINKED) && !defined(LIBAIO_RS_STATIC_LOADER_DLOPEN)

#define BLOCK 4096

static int callback_calls;
static long callback_res;

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	(void)iocb;
	CHECK_EQ(res2, 0);
	callback_calls++;
	callback_res = res;
}

/* Real I/O through all ten functions of the archive. */
static void run_static_io(void)
{
#ifndef LIBAIO_RS_FULLY_STATIC
	/* io_submit is the archive's copy, in the same object as this code. */
	Dl_info mine, theirs;
	CHECK(dladdr((void *)run_static_io, &mine) != 0);
	CHECK(dladdr((void *)io_submit, &theirs) != 0);
	CHECK(mine.dli_fbase == theirs.dli_fbase);
#endif
	int fd = scratch_file("/dev/shm", "static", 16 * BLOCK, 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	char *wbuf = aligned_buf(4 * BLOCK), *rbuf = aligned_buf(4 * BLOCK);
	fill_pattern(wbuf, 4 * BLOCK, 4242);

	io_context_t ctx = NULL;
	CALL_EQ(io_setup(0, &ctx), -EINVAL);
	CALL_EQ(io_setup(8, &ctx), 0);
	struct iocb io, *iop = &io;
	struct io_event ev;
	struct timespec wait = { 30, 0 }, zero = { 0, 0 };

	io_prep_pwrite(&io, fd, wbuf, 4 * BLOCK, 4 * BLOCK);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, &wait), 1);
	CHECK(ev.obj == &io);
	CHECK_EQ((long)ev.res, 4 * BLOCK);

	io_prep_pread(&io, fd, rbuf, 4 * BLOCK, 4 * BLOCK);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	CALL_EQ(io_pgetevents(ctx, 1, 1, &ev, &wait, NULL), 1);
	CHECK_EQ((long)ev.res, 4 * BLOCK);
	CHECK(memcmp(rbuf, wbuf, 4 * BLOCK) == 0);

	io_prep_poll(&io, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, &zero), 0);
	CALL_EQ(io_cancel(ctx, &io, &ev), -EINPROGRESS);
	CALL_EQ(io_getevents(ctx, 1, 1, &ev, &wait), 1);
	CHECK(ev.obj == &io);
	CHECK_EQ((long)ev.res, 0);
	CALL_EQ(io_destroy(ctx), 0);
	CALL_EQ(io_destroy(ctx), -EINVAL);

	io_context_t q = (io_context_t)(uintptr_t)-1;
	CALL_EQ(io_queue_init(4, &q), 0);
	memset(rbuf, 0, 4 * BLOCK);
	io_prep_pread(&io, fd, rbuf, 2 * BLOCK, 4 * BLOCK);
	io_set_callback(&io, on_done);
	io_set_eventfd(&io, efd);
	CALL_EQ(io_submit(q, 1, &iop), 1);
	uint64_t completed;
	CHECK(read(efd, &completed, sizeof(completed)) == (ssize_t)sizeof(completed));
	CHECK_EQ(completed, 1);
	CALL_EQ(io_queue_wait(q, &zero), 0);
	CHECK_EQ(callback_calls, 0);
	CALL_EQ(io_queue_run(q), 0);
	CHECK_EQ(callback_calls, 1);
	CHECK_EQ(callback_res, 2 * BLOCK);
	CHECK(memcmp(rbuf, wbuf, 2 * BLOCK) == 0);
	CALL_EQ(io_queue_run(q), 0);
	CHECK_EQ(callback_calls, 1);
	CALL_EQ(io_queue_release(q), 0);

	close(efd);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	free(wbuf);
	free(rbuf);
}

#endif

#if defined(LIBAIO_RS_STATIC_DSO)

int libaio_rs_static_dso_run(void)
{
	run_static_io();
	return 42;
}

#elif defined(LIBAIO_RS_STATIC_LOADER_LINKED)

int main(void)
{
	CHECK_EQ(libaio_rs_static_dso_run(), 42);
	check_loaded_libaio();
	printf("static_archive: shared object, linked: passed\n");
	return 0;
}

#elif defined(LIBAIO_RS_STATIC_LOADER_DLOPEN)

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	void *dso = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!dso) {
		fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
		return 1;
	}
	int (*run)(void) = (int (*)(void))dlsym(dso, "libaio_rs_static_dso_run");
	CHECK(run != NULL);
	CHECK_EQ(run(), 42);
	check_loaded_libaio();
	CHECK(dlclose(dso) == 0);
	printf("static_archive: shared object, dlopen: passed\n");
	return 0;
}

#else

int main(void)
{
	run_static_io();
	check_loaded_libaio();
#ifdef LIBAIO_RS_FULLY_STATIC
	printf("static_archive: static executable: passed\n");
#else
	printf("static_archive: dynamic executable: passed\n");
#endif
	return 0;
}

#endif
