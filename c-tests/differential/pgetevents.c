/*
 * io_pgetevents: the mask goes to the kernel as { mask, 8 }, a NULL mask as
 * { NULL, 8 }; a zero timeout on an empty ring makes no call; a signal the
 * mask lets through interrupts the wait.
 */
#include "common.h"

static volatile sig_atomic_t handled;

static void on_usr2(int sig)
{
	(void)sig;
	handled++;
}

int main(void)
{
	io_context_t ctx = NULL;
	struct iocb cb, *list[1] = { &cb };
	struct io_event ev[4];
	struct timespec zero = { 0, 0 }, short_wait = { 0, 20 * 1000 * 1000 }, wait = { 10, 0 };
	struct sigaction sa;
	sigset_t usr1, none, blocked;
	char *buf;
	int fd, got;

	start();
	fd = shm_file("pgetevents", 4096);
	buf = aligned(4096, 'p');
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	NEED(io_setup(8, &ctx) == 0);

	printf("-- empty ring\n");
	CHECK(io_pgetevents(ctx, 0, 4, ev, &zero, NULL));
	CHECK(io_pgetevents(ctx, 0, 4, ev, &zero, &usr1));
	CHECK(io_pgetevents(ctx, 5, 4, ev, &zero, &usr1));
	CHECK(io_pgetevents(ctx, 1, 4, NULL, &zero, (sigset_t *)KERNEL_PTR));
	CHECK(io_pgetevents(ctx, 1, 4, ev, &short_wait, NULL));
	CHECK(io_pgetevents(ctx, 1, 4, ev, &short_wait, &usr1));
	CHECK(io_pgetevents(ctx, 0, 4, ev, NULL, &usr1));
	CHECK(io_pgetevents(ctx, 0, 4, ev, NULL, NULL));
	CHECK(io_pgetevents(ctx, 5, 4, ev, &short_wait, &usr1));
	CHECK(io_pgetevents(ctx, 0, -1, ev, &short_wait, NULL));
	CHECK(io_pgetevents(ctx, 1, 4, ev, &short_wait, (sigset_t *)KERNEL_PTR));
	CHECK(io_pgetevents(NULL, 0, 4, ev, &zero, NULL));
	CHECK(io_pgetevents(NULL, 1, 4, ev, &short_wait, &usr1));

	printf("-- a pending signal the mask unblocks\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	NEED(sigaction(SIGUSR2, &sa, NULL) == 0);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR2);
	NEED(sigprocmask(SIG_BLOCK, &blocked, NULL) == 0);
	NEED(raise(SIGUSR2) == 0);
	printf("handled before: %d\n", (int)handled);
	CHECK(io_pgetevents(ctx, 1, 4, ev, &wait, &usr1));
	printf("handled after: %d\n", (int)handled);
	NEED(sigprocmask(SIG_BLOCK, NULL, &blocked) == 0);
	printf("SIGUSR2 blocked again: %s\n", sigismember(&blocked, SIGUSR2) ? "yes" : "no");
	CHECK(io_pgetevents(ctx, 1, 4, ev, &short_wait, &usr1));

	printf("-- completions\n");
	io_prep_pwrite(&cb, fd, buf, 4096, 0);
	cb.data = (void *)(uintptr_t)7;
	CHECK(io_submit(ctx, 1, list));
	CHECK(io_pgetevents(ctx, 5, 4, ev, &zero, NULL));
	CHECK(got = io_pgetevents(ctx, 0, 4, ev, &zero, &none));
	show_events(ev, got, &cb, 1);
	CHECK(io_pgetevents(ctx, 0, 4, ev, &zero, &none));
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.data = (void *)(uintptr_t)8;
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = io_pgetevents(ctx, 1, 4, ev, NULL, &usr1));
	show_events(ev, got, &cb, 1);
	CHECK(io_submit(ctx, 1, list));
	CHECK(got = io_pgetevents(ctx, 1, 4, ev, &wait, NULL));
	show_events(ev, got, &cb, 1);

	CHECK(io_destroy(ctx));
	return 0;
}
