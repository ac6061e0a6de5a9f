/*
 * audit.c - the audit log of switch and rejoin: JSON lines, each written
 * by one write(2) on a file opened O_APPEND, so lines of two processes
 * never interleave, and every string escaped by json_str_write(), so a
 * line always parses whatever a node or a server said. It never stops a
 * switch: a log that cannot be written is returned as an error for the
 * command to report. Each step also goes to the log (conf/log.h, stderr
 * or syslog), never to stdout, where the commands print their timelines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/log.h"
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

int
audit_append(const char *path, const struct audit_entry *e, char *err, size_t errlen)
{
	char	 ts[40], *line = NULL;
	size_t	 len = 0;
	FILE	*m;
	ssize_t	 n;
	int	 fd, rc = 0;

	if (path[0] == '\0')
		return 0;
	m = open_memstream(&line, &len);
	if (m == NULL) {
		snprintf(err, errlen, "audit log %s: %s", path, strerror(errno));
		return -1;
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
		snprintf(err, errlen, "audit log %s: out of memory", path);
		free(line);
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "audit log %s: %s", path, strerror(errno));
		rc = -1;
	} else {
		n = write(fd, line, len);
		if (n != (ssize_t)len) {
			snprintf(err, errlen, "audit log %s: %s", path,
			    n == -1 ? strerror(errno) : "short write");
			rc = -1;
		}
		close(fd);
	}
	free(line);
	return rc;
}

void
audit_log_step(const char *who, const struct audit_entry *e)
{
	const char	*d = e->detail ? e->detail : "";
	const char	*sep = d[0] ? ": " : "";

	if (strcmp(e->result, "ok") == 0)
		log_info("%s: %s ok %.1f ms%s%s", who, e->step, e->us / 1000.0, sep, d);
	else if (strcmp(e->step, e->result) == 0)	/* "refused refused" */
		log_warnx("%s: %s%s%s", who, e->result, sep, d);
	else
		log_warnx("%s: %s %s %.1f ms%s%s", who, e->step, e->result,
		    e->us / 1000.0, sep, d);
}
