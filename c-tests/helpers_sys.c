/*
 * The system header's inline helpers, wrapped: compiled against a copy of
 * /usr/include/libaio.h and linked into helpers.c (see there).
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
/* libaio-rs: companion */
#define _GNU_SOURCE
#include <libaio.h>

#include "helpers_sys.h"

/*
 * A guard that this file really sees the system header: libaio 0.3.113's
 * header leaves io_queue_wait undeclared, ours declares it, so this
 * incompatible declaration compiles only against the system's.
 */
int io_queue_wait(int not_declared_by_the_system_header);

void sys_io_set_callback(struct iocb *iocb, io_callback_t cb)
{
	io_set_callback(iocb, cb);
}

void sys_io_prep_pread(struct iocb *iocb, int fd, void *buf, size_t count, long long offset)
{
	io_prep_pread(iocb, fd, buf, count, offset);
}

void sys_io_prep_pwrite(struct iocb *iocb, int fd, void *buf, size_t count, long long offset)
{
	io_prep_pwrite(iocb, fd, buf, count, offset);
}

void sys_io_prep_preadv(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset)
{
	io_prep_preadv(iocb, fd, iov, iovcnt, offset);
}

void sys_io_prep_pwritev(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset)
{
	io_prep_pwritev(iocb, fd, iov, iovcnt, offset);
}

void sys_io_prep_preadv2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
			 int flags)
{
	io_prep_preadv2(iocb, fd, iov, iovcnt, offset, flags);
}

void sys_io_prep_pwritev2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
			  int flags)
{
	io_prep_pwritev2(iocb, fd, iov, iovcnt, offset, flags);
}

void sys_io_prep_poll(struct iocb *iocb, int fd, int events)
{
	io_prep_poll(iocb, fd, events);
}

void sys_io_prep_fsync(struct iocb *iocb, int fd)
{
	io_prep_fsync(iocb, fd);
}

void sys_io_prep_fdsync(struct iocb *iocb, int fd)
{
	io_prep_fdsync(iocb, fd);
}

int sys_io_poll(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd, int events)
{
	return io_poll(ctx, iocb, cb, fd, events);
}

int sys_io_fsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	return io_fsync(ctx, iocb, cb, fd);
}

int sys_io_fdsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	return io_fdsync(ctx, iocb, cb, fd);
}

void sys_io_set_eventfd(struct iocb *iocb, int eventfd)
{
	io_set_eventfd(iocb, eventfd);
}
