/*
 * log.h - one-line logging to stderr with a level, and fatal().
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/: used by the
 * server and the commands alike. Library-like code does not log its
 * errors: it returns -1 and fills an err buffer; the caller decides.
 */
#ifndef REDISFO_LOG_H
#define REDISFO_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

void	log_set_level(int level);
/* The level set by -v/-q, for code that writes its own lines (failover/msg.c). */
int	log_get_level(void);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
