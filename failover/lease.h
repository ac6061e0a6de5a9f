/*
 * lease.h - the switch lease: the failover lock made visible from every
 * host, as a TXT record in the zone itself,
 *
 *   _lock._redisfo.<service>.<zone> TXT "holder=switch host=<host>
 *       pid=<pid> since=<RFC 3339> expires=<RFC 3339>"
 *
 * taken by switch and rejoin with a compare-and-swap UPDATE whose
 * prerequisite is that the name is not in use, released by one whose
 * prerequisite is the lease's own value, and broken, once expired, by one
 * whose prerequisite is the stale value. status, check and
 * sentinel-reconfig read it: a live lease means the transient states they
 * see are a switch at work.
 *
 * The pure half (format, parse, judge, lengths) decides nothing with the
 * network and is unit tested; lease_take, lease_release and lease_read
 * talk to failover.server. Nothing here prints.
 */
#ifndef REDISFO_FAILOVER_LEASE_H
#define REDISFO_FAILOVER_LEASE_H

#include <stddef.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"

struct lease {
	char		holder[16];		/* "switch", "rejoin" */
	char		host[72];
	long		pid;
	long long	since;			/* seconds since the epoch */
	long long	expires;
	char		since_text[32];		/* RFC 3339, UTC */
	char		expires_text[32];
	char		value[DNSCLIENT_VALUE_MAX];	/* the TXT, presentation form */
};

/* What a lease read at a moment comes to. */
enum lease_state {
	LEASE_LIVE,		/* held, younger than the budget */
	LEASE_OVERDUE,		/* held longer than a switch takes: WARNING */
	LEASE_EXPIRED,		/* past its expiry: its holder was killed */
};

/* "_lock._redisfo.<service>.<zone>" */
void	lease_owner(const struct conf *conf, const struct conf_service *svc,
	    char *buf, size_t len);

/*
 * How long a switch takes at most, in ms: failover.pause_timeout_ms plus
 * the probe budget, probe_timeout_ms times (probes + 2 per node: the
 * preflight's probes of the primary, a connect and a command per node in
 * the demote and the repoint), plus hook_timeout_ms for each hook set.
 */
long long	lease_budget_ms(const struct conf *conf, const struct conf_service *svc);
/* The lease's length: twice the budget and one second. */
long long	lease_length_ms(const struct conf *conf, const struct conf_service *svc);

/* Fill l->value (and the texts) from holder, host, pid, since and
 * expires. -1 when it does not fit. */
int	lease_format(struct lease *l);
/* A TXT's presentation form (as dnsclient reads it) into *l; -1 when it
 * is not a lease (a field is missing or bad). */
int	lease_parse(const char *value, struct lease *l);
/* An RFC 3339 UTC time to the second ("2026-11-30T08:00:00Z") into
 * *secs; -1 when it is not one. */
int	lease_time_parse(const char *text, long long *secs);

/*
 * The state of l at now_ms (wall clock, ms). The times are to the second:
 * its age is counted from the end of its since second, so a lease is
 * never called overdue early; it is expired once now is past expires.
 */
enum lease_state	lease_judge(const struct lease *l, long long now_ms,
			    long long budget_ms);
/* The wall clock, ms since the epoch (a lease's times are wall times). */
long long	lease_now_ms(void);
/* "switch on host h pid 12 since 2026-...Z" */
void	lease_describe(const struct lease *l, char *buf, size_t len);

/* What lease_take did. */
enum lease_take_result {
	LEASE_TAKEN = 0,
	LEASE_BUSY,		/* another holds a lease that has not expired;
				   err names it */
	LEASE_FAILED,		/* the server could not be asked, or said no;
				   err says why */
};

/*
 * Take svc's lease for holder ("switch", "rejoin"): *mine gets it. An
 * expired lease is broken (its stale value the prerequisite) and note
 * says so ("breaking an expired lease of ..."); otherwise note is "".
 */
enum lease_take_result	lease_take(const struct conf *conf,
			    const struct conf_service *svc, const char *holder,
			    struct lease *mine, char *note, size_t notelen,
			    char *err, size_t errlen);
/* Remove mine, if the zone still holds exactly it. 0, or -1 and err. */
int	lease_release(const struct conf *conf, const struct conf_service *svc,
	    const struct lease *mine, char *err, size_t errlen);
/*
 * Read svc's lease: 1 and *l when one is there, 0 when the name holds no
 * TXT, -1 and err when it cannot be read or is not a lease.
 */
int	lease_read(const struct conf *conf, const struct conf_service *svc,
	    struct lease *l, char *err, size_t errlen);

#endif
