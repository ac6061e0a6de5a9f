/*
 * log.h - one-line logging with a level, to stderr or syslog, and fatal().
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/: used by the
 * server and the commands alike. Library-like code does not log its
 * errors: it returns -1 and fills an err buffer; the caller decides.
 * main.c sets the level and the target from the command line and
 * log.level / log.target; nothing else does.
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

/* Where lines go; the values of log.target in conf.h. */
enum log_target { LOG_TARGET_STDERR = 0, LOG_TARGET_SYSLOG = 1 };

/*
 * Send lines to target from now on. For stderr it also looks once whether
 * stderr is a terminal: when it is not (a pipe, a file, the journal) each
 * line starts with its syslog priority, "<3>" error, "<4>" warning, "<6>"
 * info, "<7>" debug. For syslog it opens the log as redisfo-dns, with the
 * pid, facility daemon. Call it before any thread logs.
 */
void	log_set_target(enum log_target target);

#endif
