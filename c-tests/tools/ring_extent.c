/*
 * How much of a completion ring valgrind knows about, against what the
 * kernel mapped: run under valgrind by tests/sanitizers.rs.
 *
 * valgrind's io_setup wrapper (POST(sys_io_setup), m_syswrap) tells memcheck
 * that the new ring spans PGROUNDUP(32 + nr_events * 32) bytes, nr_events
 * being the caller's argument. The kernel (fs/aio.c, ioctx_alloc and
 * aio_setup_ring) sizes the ring for max(nr_events, 4 * CPUs) * 2 events,
 * rounded up to whole pages, and records in the ring's header (`nr`) how
 * many events fit. So memcheck takes the last pages of most rings for
 * unmapped memory: anything that reads completions out of the ring itself
 * (this library with LIBAIO_USERSPACE_REAP=1, fio's userspace_reap, QEMU)
 * gets "Invalid read" reports there once the ring's head has moved past
 * them. The library's ordinary path reads only the 32-byte header.
 *
 * For each size, this prints the requested size, the ring's nr, the bytes
 * the kernel's ring covers and the bytes memcheck takes as addressable
 * (found with VALGRIND_GET_VBITS, which reports nothing itself), then
 * destroys the ring. Outside valgrind the last figure is "-".
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#define _GNU_SOURCE
#include <libaio.h>

#include <valgrind/memcheck.h>

#include "testutil.h"

#define PAGE 4096UL
#define HEADER 32UL
#define EVENT 32UL

static unsigned long round_up(unsigned long n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

int main(void)
{
	static const int sizes[] = { 1, 7, 64, 127, 128, 300, 1000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		io_context_t ctx = NULL;
		CALL_EQ(io_setup(sizes[i], &ctx), 0);
		const unsigned *header = (const unsigned *)ctx;
		unsigned nr = header[1];
		unsigned long kernel = round_up(HEADER + nr * EVENT);
		printf("io_setup(%d): ring nr %u, kernel %lu bytes, memcheck ", sizes[i], nr,
		       kernel);
		if (RUNNING_ON_VALGRIND) {
			unsigned long known = 0;
			unsigned char vbits[PAGE];
			while (known < kernel &&
			       VALGRIND_GET_VBITS((char *)ctx + known, vbits, PAGE) == 1)
				known += PAGE;
			printf("%lu bytes\n", known);
		} else {
			printf("-\n");
		}
		CALL_EQ(io_destroy(ctx), 0);
	}
	return 0;
}
