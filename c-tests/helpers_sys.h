/*
 * The system header's inline helpers, each wrapped in a function of its own
 * (defined in helpers_sys.c, which is compiled against a copy of the
 * system's libaio.h), so that helpers.c can run them side by side with ours.
 *
 * Included after a libaio.h: the types are that header's.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#ifndef LIBAIO_RS_HELPERS_SYS_H
#define LIBAIO_RS_HELPERS_SYS_H

#include <stddef.h>

struct iovec;

void sys_io_set_callback(struct iocb *iocb, io_callback_t cb);
void sys_io_prep_pread(struct iocb *iocb, int fd, void *buf, size_t count, long long offset);
void sys_io_prep_pwrite(struct iocb *iocb, int fd, void *buf, size_t count, long long offset);
void sys_io_prep_preadv(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset);
void sys_io_prep_pwritev(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset);
void sys_io_prep_preadv2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
			 int flags);
void sys_io_prep_pwritev2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
			  int flags);
void sys_io_prep_poll(struct iocb *iocb, int fd, int events);
void sys_io_prep_fsync(struct iocb *iocb, int fd);
void sys_io_prep_fdsync(struct iocb *iocb, int fd);
int sys_io_poll(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd, int events);
int sys_io_fsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd);
int sys_io_fdsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd);
void sys_io_set_eventfd(struct iocb *iocb, int eventfd);

#endif /* LIBAIO_RS_HELPERS_SYS_H */
