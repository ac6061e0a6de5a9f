/*
 * lock.h - the failover lock (failover.lock_file): one switch or rejoin at
 * a time. flock(2), so the kernel drops it when the process ends, however
 * it ends.
 */
#ifndef REDISFO_FAILOVER_LOCK_H
#define REDISFO_FAILOVER_LOCK_H

#include <stddef.h>

/*
 * Take the lock at path without waiting: exclusive (and "<pid> <what>"
 * written in the file for others to name), or shared when shared is set
 * (a dry run, which only wants to know). Returns the descriptor to close
 * to let go; -2 when another process holds it (err: "another switch is
 * running (pid N)", naming what the holder wrote); -1 on any other error
 * (err); -3 when shared and the file does not exist (nobody took it).
 */
int	lock_take(const char *path, int shared, const char *what, char *err,
	    size_t errlen);
void	lock_release(int fd);

#endif
