/*
 * Creating and destroying contexts: io_setup, io_destroy, io_queue_init,
 * io_queue_release, on success and on every error the kernel gives.
 */
#include "common.h"

/* One more than /proc/sys/fs/aio-max-nr: a request the kernel must refuse. */
static int over_aio_max_nr(void)
{
	FILE *f = fopen("/proc/sys/fs/aio-max-nr", "r");
	long max = 0;

	NEED(f != NULL);
	NEED(fscanf(f, "%ld", &max) == 1);
	fclose(f);
	NEED(max > 0 && max < INT_MAX / 4);
	return (int)max + 1;
}

int main(void)
{
	io_context_t ctx = NULL, other, q;
	io_context_t *unmapped;
	int over = over_aio_max_nr();

	start();

	printf("-- io_setup errors\n");
	CHECK(io_setup(0, &ctx));
	CHECK(io_setup(-1, &ctx));
	CHECK(io_setup(-1000, &ctx));
	CHECK(io_setup(INT_MAX, &ctx));
	CHECK(io_setup(over, &ctx));
	CHECK(io_setup(1, NULL));
	CHECK(io_setup(1, (io_context_t *)KERNEL_PTR));
	CHECK(io_setup(-1000, (io_context_t *)KERNEL_PTR));
	unmapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	NEED(unmapped != MAP_FAILED);
	NEED(munmap(unmapped, 4096) == 0);
	CHECK(io_setup(1, unmapped));
	printf("ctx still NULL: %s\n", ctx == NULL ? "yes" : "no");

	printf("-- io_setup and io_destroy\n");
	CHECK(io_setup(8, &ctx));
	printf("ctx set: %s\n", ctx != NULL ? "yes" : "no");
	other = ctx;
	CHECK(io_setup(8, &other));
	printf("ctx unchanged by the refused io_setup: %s\n", other == ctx ? "yes" : "no");
	CHECK(io_destroy(ctx));
	CHECK(io_destroy(ctx));
	CHECK(io_destroy(NULL));
	CHECK(io_destroy((io_context_t)-1));
	CHECK(io_destroy((io_context_t)0x1000));

	printf("-- sizes\n");
	CHECK(io_setup(1, (ctx = NULL, &ctx)));
	CHECK(io_destroy(ctx));
	CHECK(io_setup(128, (ctx = NULL, &ctx)));
	CHECK(io_destroy(ctx));
	CHECK(io_setup(4096, (ctx = NULL, &ctx)));
	CHECK(io_destroy(ctx));

	printf("-- io_queue_init and io_queue_release\n");
	q = (io_context_t)0x1234;
	CHECK(io_queue_init(0, &q));
	CHECK(io_queue_init(-5, &q));
	CHECK(io_queue_init(INT_MIN, &q));
	printf("handle untouched by the refused calls: %s\n", q == (io_context_t)0x1234 ? "yes" : "no");
	CHECK(io_queue_init(8, &q));
	printf("garbage replaced by a context: %s\n", q != NULL && q != (io_context_t)0x1234 ? "yes" : "no");
	other = q;
	/* io_queue_init clears the handle first: a second call on the same
	 * variable makes a second context. */
	CHECK(io_queue_init(8, &q));
	printf("second context is new: %s\n", q != NULL && q != other ? "yes" : "no");
	CHECK(io_queue_init(INT_MAX, &ctx));
	printf("handle cleared by the failed io_setup: %s\n", ctx == NULL ? "yes" : "no");
	CHECK(io_queue_init(over, &ctx));
	CHECK(io_queue_release(q));
	CHECK(io_queue_release(q));
	CHECK(io_queue_release(other));
	CHECK(io_queue_release(NULL));
	CHECK(io_queue_release((io_context_t)-1));
	return 0;
}
