/*
 * lock.c - the one lock that switch and rejoin take before they look at a
 * service, held until they have finished or rolled back.
 *
 * The descriptor is close-on-exec, so a hook does not inherit it and
 * cannot keep the lock after the switch ends. Never waits: a second
 * operator is told who holds it instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "failover/lock.h"

int
lock_take(const char *path, int shared, const char *what, char *err, size_t errlen)
{
	char	buf[64] = "", *sp;
	ssize_t	n;
	int	fd;

	fd = open(path, (shared ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
	if (fd == -1) {
		if (shared && errno == ENOENT)
			return LOCK_ABSENT;
		snprintf(err, errlen, "lock file %s: %s", path, strerror(errno));
		return LOCK_ERROR;
	}
	if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "lock file %s: %s", path, strerror(errno));
			close(fd);
			return LOCK_ERROR;
		}
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		sp = strchr(buf, ' ');
		if (sp != NULL)
			*sp++ = '\0';
		snprintf(err, errlen, "another %s is running (pid %s)",
		    sp != NULL && *sp ? sp : "switch or rejoin", buf[0] ? buf : "?");
		return LOCK_BUSY;
	}
	if (!shared) {
		snprintf(buf, sizeof(buf), "%d %s\n", (int)getpid(), what);
		if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, strlen(buf), 0) == -1) {
			/* the lock holds anyway; only the pid shown to others is missing */
		}
	}
	return fd;
}

int
lock_sweeps(const char *path, char *err, size_t errlen)
{
	char	sweep[4096 + 8];
	int	fd;

	if ((size_t)snprintf(sweep, sizeof(sweep), "%s.sweep", path) >= sizeof(sweep)) {
		snprintf(err, errlen, "lock file %.400s: path too long", path);
		return LOCK_ERROR;
	}
	if ((fd = open(sweep, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(err, errlen, "lock file %.400s: %s", sweep, strerror(errno));
		return LOCK_ERROR;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "lock file %.400s: %s", sweep, strerror(errno));
			close(fd);
			return LOCK_ERROR;
		}
	}
	return fd;
}

void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
