/*
 * lock.h - the failover lock (failover.lock_file): one switch or rejoin at
 * a time. flock(2), so the kernel drops it when the process ends, however
 * it ends.
 */
#ifndef REDISFO_FAILOVER_LOCK_H
#define REDISFO_FAILOVER_LOCK_H

#include <stddef.h>

/* What lock_take returns when it returns no descriptor. */
enum lock_result {
	LOCK_ERROR = -1,	/* err says why (the file cannot be opened, ...) */
	LOCK_BUSY = -2,		/* another process holds it; err: "another switch
				   is running (pid N)", naming what it wrote */
	LOCK_ABSENT = -3,	/* shared only: the file does not exist, so
				   nobody holds the lock (err untouched) */
};

/*
 * Take the lock at path without waiting: exclusive (and "<pid> <what>"
 * written in the file for others to name), or shared when shared is set
 * (a dry run, which only wants to know). Returns the descriptor (>= 0) to
 * close to let go, or one of enum lock_result.
 */
int	lock_take(const char *path, int shared, const char *what, char *err,
	    size_t errlen);
/*
 * The sweeps' lock, "<path>.sweep": a sweep of an old primary holds it
 * while it looks at a node and kills its clients, and a switch or rejoin
 * from the moment it holds the lock at path until it ends, so that a
 * sweep never kills the connections of a switch under way, nor clients of
 * a node that switch is making primary again. Waits (for a sweep round,
 * milliseconds; for a switch, its length). The descriptor, or LOCK_ERROR.
 */
int	lock_sweeps(const char *path, char *err, size_t errlen);
void	lock_release(int fd);

#endif
