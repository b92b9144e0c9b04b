/* The first process of a test guest (tests/foreign.rs): mounts what the
 * tests need, runs the commands of /tests/list one after the other, each in
 * a process group of its own with a time limit, prints how each ended
 * between markers the host reads from the console, and powers the machine
 * off.
 *
 * /tests/env holds NAME=VALUE lines put into the environment first.
 * /tests/list holds one command a line: a label, the time limit in
 * seconds, NAME=VALUE settings of the command's environment if any, then the
 * program and its arguments, separated by single spaces.
 *
 * Part of libaio-rs (MIT OR Apache-2.0). Built static by the host's cross
 * compiler; it needs nothing else in the guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void mount_fs(const char *source, const char *target, const char *type, const char *data)
{
	mkdir(target, 0755);
	if (mount(source, target, type, 0, data) != 0 && errno != EBUSY)
		say("init: mount %s on %s: %s\n", type, target, strerror(errno));
}

/* Whether a directory holds nothing (or does not exist). */
static int empty_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *entry;
	int empty = 1;
	if (!dir)
		return 1;
	while ((entry = readdir(dir)))
		if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
			empty = 0;
	closedir(dir);
	return empty;
}

/* Writes 0 to a sysctl file, if there is one. */
static void quiet(const char *path)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "0\n", 2) != 2)
			say("init: %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void load_env(void)
{
	FILE *f = fopen("/tests/env", "r");
	char line[4096];
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (strchr(line, '='))
			putenv(strdup(line));
	}
	fclose(f);
}

/* Runs one command line of /tests/list. */
static void run(char *line)
{
	char *argv[64];
	int argc = 0;
	char *label, *limit_text, *word;
	for (word = strtok(line, " "); word && argc < 63; word = strtok(NULL, " "))
		argv[argc++] = word;
	argv[argc] = NULL;
	if (argc < 3)
		return;
	label = argv[0];
	limit_text = argv[1];
	double limit = atof(limit_text), start = now();
	say("@@@ BEGIN %s\n", label);
	pid_t pid = fork();
	if (pid == 0) {
		int first = 2;
		setpgid(0, 0);
		while (argv[first] && argv[first][0] != '/' && strchr(argv[first], '='))
			putenv(argv[first++]);
		if (!argv[first])
			_exit(127);
		execv(argv[first], argv + first);
		say("init: exec %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	int status = 0, killed = 0;
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			break;
		if (!killed && now() - start > limit) {
			kill(-pid, SIGKILL);
			killed = 1;
		}
		usleep(20000);
	}
	/* Orphans of the command (they were re-parented to us). */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (killed)
		say("@@@ END %s timeout %.1f\n", label, now() - start);
	else if (WIFEXITED(status))
		say("@@@ END %s exit %d %.1f\n", label, WEXITSTATUS(status), now() - start);
	else
		say("@@@ END %s signal %d %.1f\n", label, WTERMSIG(status), now() - start);
}

int main(void)
{
	struct rlimit files = {65536, 65536};
	char line[4096];
	FILE *list;

	/* One stream for the host to read (in a chroot they are two). */
	dup2(STDOUT_FILENO, STDERR_FILENO);
	mount_fs("proc", "/proc", "proc", NULL);
	mount_fs("sysfs", "/sys", "sysfs", NULL);
	mount_fs("devtmpfs", "/dev", "devtmpfs", NULL);
	mount_fs("tmpfs", "/dev/shm", "tmpfs", "mode=1777");
	/* The root is a tmpfs already; a tmpfs over a /tmp holding files of
	 * the initramfs would hide them. */
	if (empty_dir("/tmp"))
		mount_fs("tmpfs", "/tmp", "tmpfs", "mode=1777");
	setrlimit(RLIMIT_NOFILE, &files);
	/* The tests crash processes on purpose: no kernel report of each. */
	quiet("/proc/sys/kernel/userprocess_debug");
	quiet("/proc/sys/debug/exception-trace");
	setenv("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", 1);
	setenv("HOME", "/root", 1);
	setenv("TMPDIR", "/tmp", 1);
	load_env();

	say("@@@ GUEST up %.1f\n", now());
	list = fopen("/tests/list", "r");
	if (!list) {
		say("init: /tests/list: %s\n", strerror(errno));
	} else {
		while (fgets(line, sizeof line, list)) {
			line[strcspn(line, "\n")] = 0;
			if (line[0] && line[0] != '#')
				run(line);
		}
		fclose(list);
	}
	say("@@@ GUEST done %.1f\n", now());
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
