/*
 * log.c - leveled logging to stderr.
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/. Each
 * message is formatted into one buffer and written with a single write(2),
 * so lines from several threads never interleave. It never allocates, so
 * it is safe on any path, the query path's errors included.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/log.h"

static int		log_level = LOG_LVL_INFO;
static const char	*log_prefix = "redisfo-dns";

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}



static void
log_vwrite(int level, const char *tag, const char *fmt, va_list ap)
{
	char		 buf[2048];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n, m;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_prefix, (int)getpid(), tag);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}

#define LOG_FN(fn, level, tag)					\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(level, tag, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_debug, LOG_LVL_DEBUG, "debug")
LOG_FN(log_info, LOG_LVL_INFO, "info")
LOG_FN(log_warnx, LOG_LVL_WARN, "warning")
LOG_FN(log_errorx, LOG_LVL_ERROR, "error")

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
