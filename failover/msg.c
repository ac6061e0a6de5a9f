/*
 * msg.c - the one writer of the failover commands' stderr lines (msg.h).
 *
 * No time stamp and no pid, unlike the server's log: a command's output is
 * read by the operator who ran it, at once. The level comes from
 * conf/log.c, so -v and -q mean the same for every command. Each line is
 * one write(2); it never allocates and never exits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/log.h"
#include "failover/msg.h"

static void
msg_vwrite(int level, const char *fmt, va_list ap)
{
	char	buf[2048];
	int	n, m;

	if (level > log_get_level())
		return;
	n = snprintf(buf, sizeof(buf), "redisfo-dns: ");
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;	/* a cut line still ends the line */
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

void
msg_errorx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vwrite(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
}

void
msg_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vwrite(LOG_LVL_WARN, fmt, ap);
	va_end(ap);
}
