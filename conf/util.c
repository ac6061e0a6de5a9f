/*
 * util.c - the monotonic clock, the socket-address formatter, and files
 * replaced whole.
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/: the one
 * home of each (see util.h). The clock and the formatter never allocate,
 * never fail and never print; the file functions return -1 with an error
 * string.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/util.h"

int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

int
fd_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int64_t		left;
	int		n;

	for (;;) {
		if ((left = deadline_ms - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		return n < 0 ? -1 : 1;
	}
}

const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(buf, len, "?");
	return buf;
}

void
folder_of(const char *path, char *dir, size_t len)
{
	char *slash;

	snprintf(dir, len, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, len, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

int
fsync_folder_of(const char *path)
{
	char	dir[PATH_MAX];
	int	fd, rc;

	folder_of(path, dir, sizeof(dir));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
atomic_file_open(struct atomic_file *af, const char *path, char *err, size_t errlen)
{
	int fd;

	af->fp = NULL;
	if (snprintf(af->path, sizeof(af->path), "%s", path) >= (int)sizeof(af->path) ||
	    snprintf(af->tmp, sizeof(af->tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(af->tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(af->tmp)) == -1) {
		snprintf(err, errlen, "%s: cannot create a temp file: %s", af->tmp,
		    strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0644);
	if ((af->fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", af->tmp, strerror(errno));
		close(fd);
		unlink(af->tmp);
		return -1;
	}
	(void)setvbuf(af->fp, NULL, _IOFBF, 1 << 16);
	return 0;
}

int
atomic_file_commit(struct atomic_file *af, int sync_folder, char *err, size_t errlen)
{
	int rc;

	if (fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", af->tmp, strerror(errno));
		atomic_file_abort(af);
		return -1;
	}
	rc = fclose(af->fp);
	af->fp = NULL;
	if (rc != 0 || rename(af->tmp, af->path) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", af->tmp, strerror(errno));
		unlink(af->tmp);
		return -1;
	}
	if (sync_folder && fsync_folder_of(af->path) == -1) {
		snprintf(err, errlen, "%s: fsync of its folder: %s", af->path, strerror(errno));
		return -1;
	}
	return 0;
}

void
atomic_file_abort(struct atomic_file *af)
{
	if (af->fp != NULL)
		fclose(af->fp);
	af->fp = NULL;
	unlink(af->tmp);
}

void
heap_hugepages(char **argv)
{
	const char	*was = getenv("GLIBC_TUNABLES");
	char		 want[1024];

	if (was != NULL && strstr(was, "glibc.malloc.hugetlb") != NULL)
		return;		/* done, or the operator chose */
	if ((size_t)snprintf(want, sizeof(want), "%s%sglibc.malloc.hugetlb=1", was ? was : "",
	    was ? ":" : "") >= sizeof(want) || setenv("GLIBC_TUNABLES", want, 1) == -1)
		return;
	(void)execv("/proc/self/exe", argv);
	/* Cannot: go on as we are, and do not ask again in a child. */
	(void)setenv("GLIBC_TUNABLES", was != NULL ? was : "", 1);
}
