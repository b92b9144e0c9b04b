/*
 * Source compatibility of libaio.h: uses every type, field, enumerator,
 * typedef, inline helper and prototype the header offers, then re-declares
 * the prototypes in libaio 0.3.113's own spelling (which must be compatible
 * with the header's). Compiled as C and as C++, with the system header and
 * with ours, by tests/header.rs; it is never linked or run.
 *
 * Defines the test passes:
 *   USE_IO_QUEUE_WAIT  the header declares io_queue_wait() (ours does; the
 *                      system header has it commented out).
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */

#include <libaio.h>
/* A second inclusion must be harmless (the include guard). */
#include <libaio.h>

/* The header forward-declares these; their definitions come from here. */
#include <sys/uio.h>
#include <sys/socket.h>
#include <time.h>
#include <stddef.h>

/* A 32-bit long means the pad fields exist beside every pointer and long. */
#if defined(__SIZEOF_LONG__) && __SIZEOF_LONG__ == 4
#define HAVE_WORD_PADS 1
#endif

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	(void)iocb;
	(void)res;
	(void)res2;
}

/* Every enumerator, through the enum tag and through the typedef. */
static int commands(void)
{
	enum io_iocb_cmd tagged = IO_CMD_PREAD;
	io_iocb_cmd_t cmds[8];
	int sum = 0;
	unsigned i;

	cmds[0] = IO_CMD_PREAD;
	cmds[1] = IO_CMD_PWRITE;
	cmds[2] = IO_CMD_FSYNC;
	cmds[3] = IO_CMD_FDSYNC;
	cmds[4] = IO_CMD_POLL;
	cmds[5] = IO_CMD_NOOP;
	cmds[6] = IO_CMD_PREADV;
	cmds[7] = IO_CMD_PWRITEV;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		sum += (int)cmds[i];
	switch (tagged) {
	case IO_CMD_PREAD:
	case IO_CMD_PWRITE:
	case IO_CMD_FSYNC:
	case IO_CMD_FDSYNC:
	case IO_CMD_POLL:
	case IO_CMD_NOOP:
	case IO_CMD_PREADV:
	case IO_CMD_PWRITEV:
		break;
	}
	return sum;
}

/* Every field of every structure, read and written. */
static long fields(struct iocb *io, struct io_event *ev, struct sockaddr *sa, const struct iovec *iov)
{
	struct io_iocb_common *c = &io->u.c;
	struct io_iocb_vector *v = &io->u.v;
	struct io_iocb_poll *poll = &io->u.poll;
	struct io_iocb_sockaddr *saddr = &io->u.saddr;
	struct io_sigset set;
	struct io_sigset_compat compat;
	long total = 0;

	io->data = NULL;
	io->key = 0;
	io->aio_rw_flags = 0;
	io->aio_lio_opcode = IO_CMD_NOOP;
	io->aio_reqprio = 0;
	io->aio_fildes = -1;
	c->buf = NULL;
	c->nbytes = 0;
	c->offset = 0;
	c->__pad3 = 0;
	c->flags = 0;
	c->resfd = 0;
	v->vec = iov;
	v->nr = 1;
	v->offset = 0;
	poll->events = 0;
	poll->__pad1 = 0;
	saddr->addr = sa;
	saddr->len = 0;
#ifdef HAVE_WORD_PADS
	io->__pad1 = 0;
	c->__pad1 = 0;
	c->__pad2 = 0;
	v->__pad1 = 0;
	v->__pad2 = 0;
	saddr->__pad1 = 0;
	saddr->__pad2 = 0;
	ev->__pad1 = 0;
	ev->__pad2 = 0;
	ev->__pad3 = 0;
	ev->__pad4 = 0;
#endif
	ev->data = io->data;
	ev->obj = io;
	ev->res = 0;
	ev->res2 = 0;
	total += (long)ev->res + (long)ev->res2 + (ev->obj == io) + (ev->data == NULL);

	set.ss = 0;
	set.ss_len = 8;
	compat.ss = set.ss;
	compat.ss_len = set.ss_len;
#ifdef HAVE_WORD_PADS
	compat.__ss_pad = 0;
#endif
	total += (long)(compat.ss + compat.ss_len);
	total += (long)io->key + (long)io->aio_rw_flags + io->aio_lio_opcode + io->aio_reqprio + io->aio_fildes;
	total += (long)c->nbytes + (long)c->offset + (long)c->__pad3 + (long)c->flags + (long)c->resfd;
	total += (long)v->nr + (long)v->offset + poll->events + (long)saddr->len;
	total += (c->buf == NULL) + (v->vec == iov) + (saddr->addr == sa);
	return total;
}

/* Every inline helper, every prototype, every typedef. */
static int calls(io_context_t ctx)
{
	struct iocb iocbs[14];
	struct iocb *list[2];
	struct io_event events[4];
	struct iovec iov[2];
	struct timespec ts;
	sigset_t mask;
	io_callback_t cb = on_done;
	char buf[16];
	int ret = 0;

	iov[0].iov_base = buf;
	iov[0].iov_len = sizeof(buf);
	iov[1] = iov[0];
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	memset(&mask, 0, sizeof(mask));

	io_prep_pread(&iocbs[0], 0, buf, sizeof(buf), 0);
	io_prep_pwrite(&iocbs[1], 1, buf, sizeof(buf), 4096);
	io_prep_preadv(&iocbs[2], 0, iov, 2, 0);
	io_prep_pwritev(&iocbs[3], 1, iov, 2, 0);
	io_prep_preadv2(&iocbs[4], 0, iov, 2, 0, 0);
	io_prep_pwritev2(&iocbs[5], 1, iov, 2, 0, 0);
	io_prep_poll(&iocbs[6], 0, 1);
	io_prep_fsync(&iocbs[7], 1);
	io_prep_fdsync(&iocbs[8], 1);
	io_set_callback(&iocbs[0], cb);
	io_set_eventfd(&iocbs[1], 3);
	ret += io_poll(ctx, &iocbs[9], cb, 0, 1);
	ret += io_fsync(ctx, &iocbs[10], on_done, 1);
	ret += io_fdsync(ctx, &iocbs[11], cb, 1);

	list[0] = &iocbs[0];
	list[1] = &iocbs[1];
	ret += io_queue_init(4, &ctx);
	ret += io_setup(4, &ctx);
	ret += io_submit(ctx, 2, list);
	ret += io_cancel(ctx, &iocbs[0], &events[0]);
	ret += io_getevents(ctx, 0, 4, events, &ts);
	ret += io_getevents(ctx, 0, 4, events, NULL);
	ret += io_pgetevents(ctx, 0, 4, events, &ts, &mask);
	ret += io_pgetevents(ctx, 0, 4, events, NULL, NULL);
	ret += io_queue_run(ctx);
#ifdef USE_IO_QUEUE_WAIT
	ret += io_queue_wait(ctx, &ts);
#endif
	ret += io_queue_release(ctx);
	ret += io_destroy(ctx);
	ret += (int)fields(&iocbs[12], &events[1], NULL, iov);
	ret += commands();
	return ret;
}

/* The prototypes, each through a pointer of its exact type. */
typedef int (*setup_fn)(int, io_context_t *);
typedef int (*ctx_fn)(io_context_t);
typedef int (*submit_fn)(io_context_t, long, struct iocb **);
typedef int (*cancel_fn)(io_context_t, struct iocb *, struct io_event *);
typedef int (*getevents_fn)(io_context_t, long, long, struct io_event *, struct timespec *);
typedef int (*pgetevents_fn)(io_context_t, long, long, struct io_event *, struct timespec *, sigset_t *);
typedef int (*wait_fn)(io_context_t, struct timespec *);

/*
 * The inline helpers, each through a pointer of its exact type. The pragmas
 * let gnu89 and c++98 -Wpedantic accept this file's own `long long`, so that
 * only the header's count.
 */
typedef void (*set_callback_fn)(struct iocb *, io_callback_t);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wlong-long"
typedef void (*prep_rw_fn)(struct iocb *, int, void *, size_t, long long);
typedef void (*prep_v_fn)(struct iocb *, int, const struct iovec *, int, long long);
typedef void (*prep_v2_fn)(struct iocb *, int, const struct iovec *, int, long long, int);
#pragma GCC diagnostic pop
typedef void (*prep_poll_fn)(struct iocb *, int, int);
typedef int (*poll_fn)(io_context_t, struct iocb *, io_callback_t, int, int);
typedef void (*prep_sync_fn)(struct iocb *, int);
typedef int (*sync_fn)(io_context_t, struct iocb *, io_callback_t, int);
typedef void (*set_eventfd_fn)(struct iocb *, int);

static int helper_types(void)
{
	set_callback_fn set_callback = io_set_callback;
	prep_rw_fn prep_rw[2] = { io_prep_pread, io_prep_pwrite };
	prep_v_fn prep_v[2] = { io_prep_preadv, io_prep_pwritev };
	prep_v2_fn prep_v2[2] = { io_prep_preadv2, io_prep_pwritev2 };
	prep_poll_fn prep_poll = io_prep_poll;
	poll_fn poll = io_poll;
	prep_sync_fn prep_sync[2] = { io_prep_fsync, io_prep_fdsync };
	sync_fn sync[2] = { io_fsync, io_fdsync };
	set_eventfd_fn set_eventfd = io_set_eventfd;
	int n = (set_callback != NULL) + (prep_poll != NULL) + (poll != NULL) + (set_eventfd != NULL);
	unsigned i;

	for (i = 0; i < 2; i++)
		n += (prep_rw[i] != NULL) + (prep_v[i] != NULL) + (prep_v2[i] != NULL) + (prep_sync[i] != NULL) +
		     (sync[i] != NULL);
	return n;
}

int libaio_header_use_all(io_context_t ctx);
int libaio_header_use_all(io_context_t ctx)
{
	setup_fn setup = io_setup, queue_init = io_queue_init;
	ctx_fn destroy = io_destroy, queue_release = io_queue_release, queue_run = io_queue_run;
	submit_fn submit = io_submit;
	cancel_fn cancel = io_cancel;
	getevents_fn getevents = io_getevents;
	pgetevents_fn pgetevents = io_pgetevents;
	int ret = calls(ctx) + helper_types();
#ifdef USE_IO_QUEUE_WAIT
	wait_fn queue_wait = io_queue_wait;
	ret += queue_wait != NULL;
#endif
	ret += (setup != NULL) + (queue_init != NULL) + (destroy != NULL) + (queue_release != NULL);
	ret += (queue_run != NULL) + (submit != NULL) + (cancel != NULL) + (getevents != NULL);
	ret += pgetevents != NULL;
	return ret;
}

/*
 * libaio's prototypes as libaio 0.3.113 spells them; each must agree with the
 * header's declaration. They come after every use above, so the uses rely on
 * the header alone.
 */
#ifdef __cplusplus
extern "C" {
#endif
extern int io_queue_init(int maxevents, io_context_t *ctxp);
extern int io_queue_release(io_context_t ctx);
extern int io_queue_wait(io_context_t ctx, struct timespec *timeout);
extern int io_queue_run(io_context_t ctx);
extern int io_setup(int maxevents, io_context_t *ctxp);
extern int io_destroy(io_context_t ctx);
extern int io_submit(io_context_t ctx, long nr, struct iocb *ios[]);
extern int io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt);
extern int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events, struct timespec *timeout);
extern int io_pgetevents(io_context_t ctx, long min_nr, long nr,
		struct io_event *events, struct timespec *timeout,
		sigset_t *sigmask);
#ifdef __cplusplus
}
#endif
