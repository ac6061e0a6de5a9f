/*
 * sweep.h - after a planned switch, drop the clients that reached the old
 * primary (now a replica) through a resolver cache that still had its
 * address: they get READONLY for every write, and most client libraries
 * never reconnect on READONLY. Killed once the caches have expired, they
 * resolve again and reach the new primary.
 *
 * The sweep runs in a helper process the switch leaves behind: detached
 * (its own session, stdin and stdout on /dev/null, no lock, no descriptor
 * of the switch), it sleeps, sweeps twice and exits. Killing it is safe:
 * the sweep just does not happen.
 */
#ifndef REDISFO_FAILOVER_SWEEP_H
#define REDISFO_FAILOVER_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct conf_service;
struct conf_node;

#define SWEEP_ROUNDS	2

struct sweep_plan {
	const struct conf		*conf;
	const struct conf_service	*svc;
	const struct conf_node		*old_primary;	/* swept */
	const struct conf_node		*new_primary;	/* it must follow this one */
	int64_t		 switched_us;	/* mono_us() when the switch began: clients
					   younger than this are swept */
	int64_t		 demoted_us;	/* mono_us() when the old primary dropped
					   its clients */
	int		 ttl;		/* how long a cache may keep the old record:
					   dns.ttl, or the old record's TTL if longer */
	/* when each round runs: demoted_us + at_s[i] seconds */
	int		 at_s[SWEEP_ROUNDS];
};

/* Fill plan's rounds from plan->ttl: TTL + 1 s, then a TTL later. */
void	sweep_plan_rounds(struct sweep_plan *plan);

/*
 * Leave a helper behind that sweeps as plan says; *pid gets its pid.
 * 0, or -1 and err when it could not be started (nothing runs then).
 */
int	sweep_start(const struct sweep_plan *plan, pid_t *pid, char *err, size_t errlen);

/*
 * One sweep of the old primary, now: when it is a replica of the new
 * primary, CLIENT KILL ID each normal client younger than the switch
 * (replicas, masters, MONITOR and Pub/Sub clients are left alone). The
 * result goes to the log and the audit log; 0 when it swept or rightly
 * did nothing, -1 when it could not look.
 */
int	sweep_once(const struct sweep_plan *plan, int round);

#endif
