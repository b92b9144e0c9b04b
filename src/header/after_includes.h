
#ifdef __cplusplus
extern "C" {
#endif

struct timespec;
struct sockaddr;
struct iovec;

/*
 * The structures below mirror the kernel's, whose fields are all 64 bits
 * wide. Where a field holds a pointer or a long, 32-bit targets add a pad
 * beside it (after it on little-endian, before it on big-endian), and two
 * 32-bit fields sharing a slot swap on big-endian. The layout therefore
 * depends only on the byte order and the width of long.
 */
#if defined(__BYTE_ORDER__) && defined(__SIZEOF_LONG__)
#  define __LIBAIO_BIG (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#  define __LIBAIO_LITTLE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#  define __LIBAIO_LONG_BYTES __SIZEOF_LONG__
#elif defined(__BYTE_ORDER) && defined(__WORDSIZE) /* glibc's <endian.h> and <bits/wordsize.h> */
#  define __LIBAIO_BIG (__BYTE_ORDER == __BIG_ENDIAN)
#  define __LIBAIO_LITTLE (__BYTE_ORDER == __LITTLE_ENDIAN)
#  define __LIBAIO_LONG_BYTES (__WORDSIZE / 8)
#else
#  error "libaio.h: cannot tell this target's byte order and word size"
#endif
#if __LIBAIO_LITTLE
#  define __LIBAIO_LITTLE_ENDIAN 1
#elif __LIBAIO_BIG
#  define __LIBAIO_BIG_ENDIAN 1
#else
#  error "libaio.h: unsupported byte order"
#endif
#if __LIBAIO_LONG_BYTES == 8
#  define __LIBAIO_LP64 1
#elif __LIBAIO_LONG_BYTES == 4
#  define __LIBAIO_ILP32 1
#else
#  error "libaio.h: unsupported word size"
#endif
#undef __LIBAIO_BIG
#undef __LIBAIO_LITTLE
#undef __LIBAIO_LONG_BYTES

/*
 * On 32-bit targets, a program built with a 64-bit time_t (_TIME_BITS=64)
 * passes a timespec the usual functions cannot read: its calls of
 * io_getevents and io_pgetevents go to the 64-bit-time versions of
 * libaio.so.1t64 instead, as with Debian's libaio.
 */
#if defined(__LIBAIO_ILP32) && defined(_TIME_BITS)
#  if _TIME_BITS == 64
#    define __LIBAIO_TIME64_NAME(name) __asm__(#name)
     /* io_queue_wait has no such version: calling it is an error there. */
#    if defined(__GNUC__)
#      define __LIBAIO_TIME32_ONLY \
	__attribute__((__error__("io_queue_wait takes a 32-bit struct timespec: not with _TIME_BITS=64")))
#    endif
#  endif
#endif
#ifndef __LIBAIO_TIME64_NAME
#  define __LIBAIO_TIME64_NAME(name)
#endif
#ifndef __LIBAIO_TIME32_ONLY
#  define __LIBAIO_TIME32_ONLY
#endif
