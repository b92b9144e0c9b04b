/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * slowfs: a FUSE file system with one file, disk.img, whose reads each
 * take at least DELAY_US microseconds: a slow but parallel device (like a
 * SAN or a busy SSD) for bench/run.
 *
 *   slowfs BACKING_FILE DELAY_US MOUNTPOINT [FUSE options, e.g. -f]
 *
 * disk.img is BACKING_FILE (which must exist, with its size); reads sleep,
 * then pread() it; writes go straight through. Every open is direct I/O
 * (no page cache in FUSE: each read reaches this program), and the kernel
 * may keep many requests in flight (max_background), which the
 * multi-threaded loop serves at once. bench/run puts a loop device with
 * direct I/O on disk.img and ext4 on that, so that a file system sees a
 * device whose reads take DELAY_US and run in parallel.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *image = "/disk.img";
static int backing = -1;
static long delay_us;

static void *slow_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Requests the kernel may have in flight at once (default 12). */
	conn->max_background = 512;
	conn->congestion_threshold = 384;
	cfg->direct_io = 1;
	cfg->entry_timeout = cfg->attr_timeout = 3600;
	return NULL;
}

static int slow_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, image) != 0)
		return -ENOENT;
	if (fstat(backing, st) != 0)
		return -errno;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	return 0;
}

static int slow_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
			struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, image + 1, NULL, 0, 0);
	return 0;
}

static int slow_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, image) != 0)
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int slow_read(const char *path, char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct timespec pause = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
	ssize_t got;

	(void)path;
	(void)fi;
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
	got = pread(backing, buf, size, off);
	return got < 0 ? -errno : (int)got;
}

static int slow_write(const char *path, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	ssize_t put;

	(void)path;
	(void)fi;
	put = pwrite(backing, buf, size, off);
	return put < 0 ? -errno : (int)put;
}

static int slow_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return (datasync ? fdatasync(backing) : fsync(backing)) ? -errno : 0;
}

static const struct fuse_operations operations = {
	.init = slow_init,
	.getattr = slow_getattr,
	.readdir = slow_readdir,
	.open = slow_open,
	.read = slow_read,
	.write = slow_write,
	.fsync = slow_fsync,
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: slowfs BACKING_FILE DELAY_US MOUNTPOINT [FUSE options]\n", stderr);
		return 2;
	}
	backing = open(argv[1], O_RDWR | O_CLOEXEC);
	if (backing < 0) {
		perror(argv[1]);
		return 1;
	}
	delay_us = strtol(argv[2], NULL, 10);
	/* What is left is FUSE's command line: the program, the mount point
	 * and the options. */
	argv[2] = argv[0];
	return fuse_main(argc - 2, argv + 2, &operations, NULL);
}
