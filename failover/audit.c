/*
 * audit.c - the audit log of switch and rejoin: JSON lines, each written
 * by one write(2) on a file opened O_APPEND, so lines of two processes
 * never interleave, and every string escaped by json_str_write(), so a
 * line always parses whatever a node or a server said. It never stops a
 * switch: a log that cannot be written is reported, not fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/audit.h"
#include "failover/json.h"

/* RFC 3339 UTC with milliseconds. */
static void
rfc3339_now_ms(char *buf, size_t len)
{
	struct timespec	ts;
	struct tm	tm;
	char		sec[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.19s.%03dZ", sec, (int)(ts.tv_nsec / 1000000));
}

void
audit_append(const char *path, const struct audit_entry *e)
{
	char	 ts[40], *line = NULL;
	size_t	 len = 0;
	FILE	*m;
	ssize_t	 n;
	int	 fd;

	if (path[0] == '\0')
		return;
	m = open_memstream(&line, &len);
	if (m == NULL) {
		fprintf(stderr, "redisfo-dns: audit log %s: %s\n", path, strerror(errno));
		return;
	}
	rfc3339_now_ms(ts, sizeof(ts));
	fprintf(m, "{\"time\":\"%s\",\"pid\":%d,\"service\":", ts, (int)getpid());
	json_str_write(m, e->service);
	fprintf(m, ",\"mode\":");
	json_str_write(m, e->mode);
	fprintf(m, ",\"from\":");
	json_str_write(m, e->from);
	fprintf(m, ",\"to\":");
	json_str_write(m, e->to);
	fprintf(m, ",\"step\":");
	json_str_write(m, e->step);
	fprintf(m, ",\"result\":");
	json_str_write(m, e->result);
	fprintf(m, ",\"ms\":%.3f,\"detail\":", e->us / 1000.0);
	json_str_write(m, e->detail ? e->detail : "");
	fprintf(m, "}\n");
	if (fclose(m) != 0) {
		fprintf(stderr, "redisfo-dns: audit log %s: out of memory\n", path);
		free(line);
		return;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		fprintf(stderr, "redisfo-dns: audit log %s: %s\n", path, strerror(errno));
	else {
		n = write(fd, line, len);
		if (n != (ssize_t)len)
			fprintf(stderr, "redisfo-dns: audit log %s: %s\n", path,
			    n == -1 ? strerror(errno) : "short write");
		close(fd);
	}
	free(line);
}
