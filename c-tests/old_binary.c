/*
 * An "old binary": a program that calls io_getevents, io_cancel and
 * io_queue_wait as a program linked against libaio before 0.4 does, through
 * their LIBAIO_0.1 versions (io_getevents without min_nr, io_cancel without
 * the result event).
 *
 * The driver builds it against the SYSTEM header and libaio, runs it with
 * the system library, then with ours first in LD_LIBRARY_PATH, and checks
 * with LD_DEBUG=bindings that the LIBAIO_0.1 symbols bind to our file.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
/* libaio-rs: old-binary */
#define _GNU_SOURCE
#include <libaio.h>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>

#include "testutil.h"

/* The LIBAIO_0.1 interface, under names of our own. */
int old_getevents(io_context_t ctx, long nr, struct io_event *events, struct timespec *timeout);
int old_cancel(io_context_t ctx, struct iocb *iocb);
int old_queue_wait(io_context_t ctx, struct timespec *timeout);
__asm__(".symver old_getevents, io_getevents@LIBAIO_0.1");
__asm__(".symver old_cancel, io_cancel@LIBAIO_0.1");
__asm__(".symver old_queue_wait, io_queue_wait@LIBAIO_0.1");

#define BLOCK 4096

static struct timespec zero(void)
{
	return (struct timespec){ 0, 0 };
}

static void *write_later(void *arg)
{
	int fd = *(int *)arg;
	/* Not a timing assertion: the delay only makes the reader wait first. */
	struct timespec delay = { 0, 20 * 1000 * 1000 };
	nanosleep(&delay, NULL);
	if (write(fd, "w", 1) != 1)
		abort();
	return NULL;
}

int main(void)
{
	check_loaded_libaio();
	int fd = scratch_file("/dev/shm", "old-binary", 16 * BLOCK, 0);
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	io_context_t ctx = NULL;
	CALL_EQ(io_setup(16, &ctx), 0);

	/* Nothing queued: the old io_getevents and io_queue_wait answer at once. */
	struct io_event events[4];
	struct timespec ts = zero();
	CALL_EQ(old_getevents(ctx, 4, events, &ts), 0);
	ts = (struct timespec){ 0, 1000000 };
	CALL_EQ(old_getevents(ctx, 4, events, &ts), 0);
	ts = zero();
	CALL_EQ(old_queue_wait(ctx, &ts), 0);
	CALL_EQ(old_queue_wait(ctx, NULL), 0);
	CALL_EQ(old_queue_wait(NULL, NULL), -EINVAL);
	CALL_EQ(old_getevents(NULL, 1, events, NULL), -EINVAL);

	/* A write, then a read of it back, reaped with the old io_getevents. */
	char *wbuf = aligned_buf(2 * BLOCK), *rbuf = aligned_buf(2 * BLOCK);
	fill_pattern(wbuf, 2 * BLOCK, 77);
	struct iocb io, *iop = &io;
	io_prep_pwrite(&io, fd, wbuf, 2 * BLOCK, BLOCK);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	ts = (struct timespec){ 30, 0 };
	CALL_EQ(old_getevents(ctx, 4, events, &ts), 1);
	CHECK(events[0].obj == &io);
	CHECK_EQ((long)events[0].res, 2 * BLOCK);
	io_prep_pread(&io, fd, rbuf, 2 * BLOCK, BLOCK);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	CALL_EQ(old_getevents(ctx, 1, events, NULL), 1);
	CHECK_EQ((long)events[0].res, 2 * BLOCK);
	CHECK(memcmp(rbuf, wbuf, 2 * BLOCK) == 0);
	/* The old io_queue_wait leaves a completion for io_getevents. */
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	io_prep_pread(&io, fd, rbuf, BLOCK, 0);
	io_set_eventfd(&io, efd);
	CALL_EQ(io_submit(ctx, 1, &iop), 1);
	uint64_t completed;
	CHECK(read(efd, &completed, sizeof(completed)) == (ssize_t)sizeof(completed));
	CHECK_EQ(completed, 1);
	ts = zero();
	CALL_EQ(old_queue_wait(ctx, &ts), 0);
	CALL_EQ(old_queue_wait(ctx, NULL), 0);
	CALL_EQ(old_getevents(ctx, 1, events, &ts), 1);
	CHECK(events[0].obj == &io);
	CHECK_EQ((long)events[0].res, BLOCK);
	close(efd);

	/* The old io_getevents waits for at least one event (its min_nr is 1). */
	struct iocb poll_io, *pollp = &poll_io;
	io_prep_poll(&poll_io, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pollp), 1);
	pthread_t writer;
	CHECK(pthread_create(&writer, NULL, write_later, &pipefd[1]) == 0);
	CALL_EQ(old_getevents(ctx, 4, events, NULL), 1);
	CHECK(events[0].obj == &poll_io);
	CHECK(((long)events[0].res & POLLIN) != 0);
	CHECK(pthread_join(writer, NULL) == 0);
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);

	/* The old io_cancel: a pending poll's cancellation starts, its event follows. */
	io_prep_poll(&poll_io, pipefd[0], POLLIN);
	CALL_EQ(io_submit(ctx, 1, &pollp), 1);
	CALL_EQ(old_cancel(ctx, &poll_io), -EINPROGRESS);
	ts = (struct timespec){ 30, 0 };
	CALL_EQ(old_getevents(ctx, 1, events, &ts), 1);
	CHECK(events[0].obj == &poll_io);
	CHECK_EQ((long)events[0].res, 0);
	CALL_EQ(old_cancel(ctx, &poll_io), -EINVAL);
	CALL_EQ(old_cancel(NULL, &poll_io), -EINVAL);

	ts = zero();
	CALL_EQ(old_queue_wait(ctx, &ts), 0);
	CALL_EQ(io_destroy(ctx), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	free(wbuf);
	free(rbuf);
	printf("old_binary: passed\n");
	return 0;
}
