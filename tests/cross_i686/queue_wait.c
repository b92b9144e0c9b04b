/*
 * Calls io_queue_wait, which has no 64-bit-time version: built with
 * -D_TIME_BITS=64 on a 32-bit target this must not compile (our header
 * marks the function with an error attribute), and built without it, it
 * must.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <time.h>

int wait_a_little(io_context_t ctx);

int wait_a_little(io_context_t ctx)
{
	struct timespec t = { 0, 1000 };
	return io_queue_wait(ctx, &t);
}
