/*
 * Entry points that the instrumentation of a recent LLVM (Rust nightly's
 * -Zsanitizer=thread) calls and the ThreadSanitizer runtime of GCC 12
 * (Debian 12's libtsan) does not define yet: each forwards to the libc
 * function, which that runtime intercepts and checks.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 */
#include <string.h>

void *__tsan_memset(void *dest, int c, size_t n);
void *__tsan_memcpy(void *dest, const void *src, size_t n);
void *__tsan_memmove(void *dest, const void *src, size_t n);

void *__tsan_memset(void *dest, int c, size_t n)
{
	return memset(dest, c, n);
}

void *__tsan_memcpy(void *dest, const void *src, size_t n)
{
	return memcpy(dest, src, n);
}

void *__tsan_memmove(void *dest, const void *src, size_t n)
{
	return memmove(dest, src, n);
}
