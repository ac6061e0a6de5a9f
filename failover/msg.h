/*
 * msg.h - how the failover commands speak on stderr: one line,
 * "redisfo-dns: <message>", an error or a warning, quieted by -q as the
 * server's log is (conf/log.h levels).
 *
 * Only command-level code calls these (switch, rejoin, status, check);
 * the modules below them fill err buffers and never print.
 */
#ifndef REDISFO_FAILOVER_MSG_H
#define REDISFO_FAILOVER_MSG_H

/* Something the command could not do, or refuses to do (LOG_LVL_ERROR). */
void	msg_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Something the operator should know that does not stop the command
 * (LOG_LVL_WARN: -q -q quiets it). */
void	msg_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
