/*
 * log.c - leveled logging to stderr or syslog.
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/. Each
 * message is formatted into one buffer and handed over in one call, a
 * write(2) to stderr or a syslog(3), so lines from several threads never
 * interleave. On stderr a line carries its syslog priority ("<6>") when
 * stderr is not a terminal, for journald to read; syslog gets the
 * priority itself. The stderr path never allocates, so it is safe on any
 * path, the query path's errors included; syslog(3) may allocate in some
 * C libraries, which is its own business.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "conf/log.h"

static int		log_level = LOG_LVL_INFO;
static const char	*log_prefix = "redisfo-dns";
static enum log_target	log_target = LOG_TARGET_STDERR;
static int		log_priority_prefix;	/* stderr is not a terminal */

/* The syslog priority of each level, LOG_LVL_ERROR to LOG_LVL_DEBUG. */
static const int	log_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

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
	char		 buf[2048], pri[8] = "";
	struct timespec	 ts;
	struct tm	 tm;
	int		 n, m, priority;

	if (level > log_level)
		return;
	priority = log_priorities[level < LOG_LVL_ERROR ? LOG_LVL_ERROR :
	    level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : level];
	if (log_target == LOG_TARGET_SYSLOG)
		n = snprintf(buf, sizeof(buf), "%s: ", tag);	/* syslog adds time and pid */
	else {
		if (log_priority_prefix)
			snprintf(pri, sizeof(pri), "<%d>", priority);
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(buf, sizeof(buf), "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
		    pri, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000000, log_prefix, (int)getpid(), tag);
	}
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (log_target == LOG_TARGET_SYSLOG) {
		buf[n] = '\0';
		syslog(priority, "%s", buf);
		return;
	}
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

void
log_set_target(enum log_target target)
{
	if (log_target == LOG_TARGET_SYSLOG && target != LOG_TARGET_SYSLOG)
		closelog();
	/* connected now, before serve gives up root and starts its threads */
	if (target == LOG_TARGET_SYSLOG && log_target != LOG_TARGET_SYSLOG)
		openlog(log_prefix, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_target = target;
	log_priority_prefix = !isatty(STDERR_FILENO);
}
