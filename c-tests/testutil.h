/*
 * Small helpers shared by the C test programs in c-tests/: checks that name
 * the failing line, an errno sentinel, aligned buffers, scratch files and a
 * check of which libaio the process loaded.
 *
 * Part of libaio-rs. Licensed MIT OR Apache-2.0.
 *
 * Every program defines _GNU_SOURCE before including anything.
 */
#ifndef LIBAIO_RS_TESTUTIL_H
#define LIBAIO_RS_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value errno holds around every library call: no call may change it. */
#define ERRNO_SENTINEL 1234

static inline void test_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	fflush(NULL);
	exit(1);
}

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond))                                               \
			test_fail(__FILE__, __LINE__, #cond);              \
	} while (0)

/* Compares two integers, printing both on failure. */
#define CHECK_EQ(actual, expected)                                                  \
	do {                                                                        \
		long long actual_ = (long long)(actual);                            \
		long long expected_ = (long long)(expected);                        \
		if (actual_ != expected_) {                                         \
			fprintf(stderr, "%s:%d: %s is %lld, expected %s = %lld\n", \
				__FILE__, __LINE__, #actual, actual_, #expected,   \
				expected_);                                         \
			fflush(NULL);                                               \
			exit(1);                                                    \
		}                                                                   \
	} while (0)

/*
 * Evaluates EXPR (a library call) with errno set to the sentinel and checks
 * that errno still holds it afterwards; yields EXPR's value.
 */
#define KEEPS_ERRNO(expr)                                                          \
	__extension__({                                                            \
		errno = ERRNO_SENTINEL;                                            \
		__typeof__(expr) value_ = (expr);                                  \
		if (errno != ERRNO_SENTINEL) {                                     \
			fprintf(stderr, "%s:%d: %s changed errno to %d\n", __FILE__, \
				__LINE__, #expr, errno);                           \
			fflush(NULL);                                              \
			exit(1);                                                   \
		}                                                                  \
		value_;                                                            \
	})

/* Like CHECK_EQ(KEEPS_ERRNO(call), expected). */
#define CALL_EQ(call, expected) CHECK_EQ(KEEPS_ERRNO(call), expected)

/* A zero-filled buffer of LEN bytes aligned for O_DIRECT. */
static inline void *aligned_buf(size_t len)
{
	void *p = NULL;
	if (posix_memalign(&p, 4096, len) != 0) {
		perror("posix_memalign");
		exit(1);
	}
	memset(p, 0, len);
	return p;
}

/* Fills BUF with a pattern that depends on SEED and on each byte's position. */
static inline void fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	uint32_t x = seed * 2654435761u + 0x9e3779b9u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x ^ i);
	}
}

/* Whether BUF holds fill_pattern(SEED). */
static inline int has_pattern(const void *buf, size_t len, unsigned seed)
{
	unsigned char *expect = malloc(len);
	if (!expect)
		exit(1);
	fill_pattern(expect, len, seed);
	int same = memcmp(buf, expect, len) == 0;
	free(expect);
	return same;
}

/*
 * Opens a new file of LEN bytes in DIR with O_DIRECT and FLAGS, and unlinks
 * it at once, so that nothing is left behind whatever happens to the
 * program. Fails the test if the file system refuses O_DIRECT.
 */
static inline int scratch_file(const char *dir, const char *tag, off_t len, int flags)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/libaio-rs-c-%s-%ld-XXXXXX", dir, tag, (long)getpid());
	int tmp = mkstemp(path);
	if (tmp < 0) {
		fprintf(stderr, "mkstemp %s: %s\n", path, strerror(errno));
		exit(1);
	}
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC | flags);
	int open_errno = errno;
	unlink(path);
	close(tmp);
	if (fd < 0) {
		fprintf(stderr, "open %s with O_DIRECT: %s\n", path, strerror(open_errno));
		exit(1);
	}
	if (ftruncate(fd, len) != 0) {
		perror("ftruncate");
		exit(1);
	}
	return fd;
}

/* The directory for on-disk scratch files: $TMPDIR, or /tmp. */
static inline const char *disk_dir(void)
{
	const char *dir = getenv("TMPDIR");
	return dir && *dir ? dir : "/tmp";
}

struct libaio_search {
	char found[PATH_MAX];
	int count;
};

static inline int libaio_search_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct libaio_search *search = data;
	(void)size;
	const char *name = info->dlpi_name;
	const char *base = name ? strrchr(name, '/') : NULL;
	base = base ? base + 1 : name;
	if (base && strncmp(base, "libaio.so", 9) == 0) {
		search->count++;
		if (!realpath(name, search->found))
			snprintf(search->found, sizeof(search->found), "%s", name);
	}
	return 0;
}

/*
 * Checks that the process loaded exactly one libaio.so, the file named by
 * $LIBAIO_RS_EXPECT_LIB (compared after resolving symbolic links), or none
 * at all when that variable is "none".
 */
static inline void check_loaded_libaio(void)
{
	const char *expect = getenv("LIBAIO_RS_EXPECT_LIB");
	if (!expect) {
		fprintf(stderr, "LIBAIO_RS_EXPECT_LIB is not set\n");
		exit(1);
	}
	struct libaio_search search = { .count = 0 };
	dl_iterate_phdr(libaio_search_cb, &search);
	if (strcmp(expect, "none") == 0) {
		if (search.count != 0) {
			fprintf(stderr, "a libaio.so is loaded (%s), but none should be\n", search.found);
			exit(1);
		}
		return;
	}
	char want[PATH_MAX];
	if (!realpath(expect, want)) {
		fprintf(stderr, "realpath %s: %s\n", expect, strerror(errno));
		exit(1);
	}
	if (search.count != 1 || strcmp(search.found, want) != 0) {
		fprintf(stderr, "loaded %d libaio.so (last: %s), expected exactly %s\n", search.count,
			search.count ? search.found : "-", want);
		exit(1);
	}
}

#endif /* LIBAIO_RS_TESTUTIL_H */
