/*
 * audit.h - failover.audit_log: one JSON line per step of each switch and
 * rejoin, appended, for whoever has to tell later what happened when; and
 * the same step as one line of the log (conf/log.h), for the journal or
 * syslog.
 */
#ifndef REDISFO_FAILOVER_AUDIT_H
#define REDISFO_FAILOVER_AUDIT_H

#include <stddef.h>

struct audit_entry {
	const char	*service;
	const char	*mode;		/* planned, failover, repair, rejoin, "" */
	const char	*from;		/* the old primary, or "" */
	const char	*to;		/* the new primary or the node rejoined */
	const char	*step;
	const char	*result;	/* ok, failed, refused, rolled back, ... */
	long long	 us;		/* how long the step took */
	const char	*detail;	/* NULL = "" */
};

/*
 * Append e as one line to path (nothing when path is ""). 0, or -1 and
 * err ("audit log PATH: why") when the line could not be written: the
 * caller says so, and goes on (a log never stops a switch).
 */
int	audit_append(const char *path, const struct audit_entry *e, char *err,
	    size_t errlen);

/*
 * Say e in the log, on one line: "<who>: <step> <result> <ms> ms: <detail>"
 * ("rejoin redis r1: link ok 12.0 ms"), info when the result is "ok", a
 * warning otherwise. who names the command and what it acts on
 * ("switch redis (planned r1 -> r2)", "rejoin redis r1").
 */
void	audit_log_step(const char *who, const struct audit_entry *e);

#endif
