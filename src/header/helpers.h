
#undef __LIBAIO_LITTLE_ENDIAN
#undef __LIBAIO_BIG_ENDIAN
#undef __LIBAIO_LP64
#undef __LIBAIO_ILP32
#undef __LIBAIO_TIME64_NAME
#undef __LIBAIO_TIME32_ONLY

/*
 * Helpers that fill in an iocb. Every io_prep_* function clears the whole
 * iocb first, then sets the file descriptor, the command and its arguments;
 * io_set_callback and io_set_eventfd change only their own fields, so they
 * come after io_prep_*.
 */

/* Clears IOCB and sets the descriptor and command (an internal helper). */
static inline void __libaio_prep(struct iocb *iocb, int fd, enum io_iocb_cmd cmd)
{
	memset(iocb, 0, sizeof(*iocb));
	iocb->aio_fildes = fd;
	iocb->aio_lio_opcode = (short)cmd;
	iocb->aio_reqprio = 0;
}

/* Stores CB in iocb->data, for io_queue_run() to call on completion. */
static inline void io_set_callback(struct iocb *iocb, io_callback_t cb)
{
	iocb->data = (void *)cb;
}

/* A read of COUNT bytes at OFFSET of FD into BUF. */
static inline void io_prep_pread(struct iocb *iocb, int fd, void *buf, size_t count, long long offset)
{
	__libaio_prep(iocb, fd, IO_CMD_PREAD);
	iocb->u.c.buf = buf;
	iocb->u.c.nbytes = count;
	iocb->u.c.offset = offset;
}

/* A write of COUNT bytes from BUF at OFFSET of FD. */
static inline void io_prep_pwrite(struct iocb *iocb, int fd, void *buf, size_t count, long long offset)
{
	__libaio_prep(iocb, fd, IO_CMD_PWRITE);
	iocb->u.c.buf = buf;
	iocb->u.c.nbytes = count;
	iocb->u.c.offset = offset;
}

/* A read at OFFSET of FD scattered into the IOVCNT buffers of IOV. */
static inline void io_prep_preadv(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset)
{
	__libaio_prep(iocb, fd, IO_CMD_PREADV);
	iocb->u.c.buf = (void *)iov;
	iocb->u.c.nbytes = iovcnt;
	iocb->u.c.offset = offset;
}

/* A write at OFFSET of FD gathered from the IOVCNT buffers of IOV. */
static inline void io_prep_pwritev(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset)
{
	__libaio_prep(iocb, fd, IO_CMD_PWRITEV);
	iocb->u.c.buf = (void *)iov;
	iocb->u.c.nbytes = iovcnt;
	iocb->u.c.offset = offset;
}

/* io_prep_preadv with preadv2(2) flags (RWF_*). */
static inline void io_prep_preadv2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
				   int flags)
{
	io_prep_preadv(iocb, fd, iov, iovcnt, offset);
	iocb->aio_rw_flags = flags;
}

/* io_prep_pwritev with pwritev2(2) flags (RWF_*). */
static inline void io_prep_pwritev2(struct iocb *iocb, int fd, const struct iovec *iov, int iovcnt, long long offset,
				    int flags)
{
	io_prep_pwritev(iocb, fd, iov, iovcnt, offset);
	iocb->aio_rw_flags = flags;
}

/* A wait for the poll(2) EVENTS of FD; the completion's res holds the events that fired. */
static inline void io_prep_poll(struct iocb *iocb, int fd, int events)
{
	__libaio_prep(iocb, fd, IO_CMD_POLL);
	iocb->u.poll.events = events;
}

/* Prepares a poll with callback CB and submits it to CTX. */
static inline int io_poll(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd, int events)
{
	io_prep_poll(iocb, fd, events);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

/* An fsync(2) of FD. */
static inline void io_prep_fsync(struct iocb *iocb, int fd)
{
	__libaio_prep(iocb, fd, IO_CMD_FSYNC);
}

/* Prepares an fsync with callback CB and submits it to CTX. */
static inline int io_fsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	io_prep_fsync(iocb, fd);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

/* An fdatasync(2) of FD. */
static inline void io_prep_fdsync(struct iocb *iocb, int fd)
{
	__libaio_prep(iocb, fd, IO_CMD_FDSYNC);
}

/* Prepares an fdatasync with callback CB and submits it to CTX. */
static inline int io_fdsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	io_prep_fdsync(iocb, fd);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

/* Makes the kernel signal the eventfd EVENTFD when IOCB completes (IOCB_FLAG_RESFD). */
static inline void io_set_eventfd(struct iocb *iocb, int eventfd)
{
	iocb->u.c.flags |= 1u << 0;
	iocb->u.c.resfd = eventfd;
}

#ifdef __cplusplus
}
#endif

#endif /* __LIBAIO_H */
