/*
 * check.h - the inside of `redisfo-dns check`, the monitoring plugin:
 * its options, the state of one service drawn from a struct svc_state,
 * and how several services add up to one state. The command itself is
 * declared in commands.h; this header is for check.c and its unit test.
 * Everything declared here decides from what state.c loaded: it never
 * probes a node, queries the server or prints.
 */
#ifndef REDISFO_FAILOVER_CHECK_H
#define REDISFO_FAILOVER_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"
#include "failover/state.h"

/* The plugin states, numbered as their exit codes. */
enum check_state {
	CHECK_STATE_OK = 0,
	CHECK_STATE_WARNING = 1,
	CHECK_STATE_CRITICAL = 2,
	CHECK_STATE_UNKNOWN = 3,
};

#define CHECK_STATES	4

/* Replication lag thresholds, in bytes: a replica whose lag is above
 * warn is WARNING, above crit CRITICAL (crit -1: never). */
struct check_limits {
	long long	warn;
	long long	crit;
};

struct check_opts {
	const struct conf_service	*svc;		/* NULL: every service */
	struct check_limits		 limits;
	int				 timeout_s;	/* 0: no bound */
	int				 version;	/* -V: print it and stop */
};

#define CHECK_USAGE	"check [SERVICE] [-w BYTES] [-c BYTES] [-t SECONDS] [-V]"

/*
 * Parse check's arguments into *o. warn defaults to
 * failover.max_lag_bytes (the switch's limit for a target), crit to none.
 * svc is the named service, or the only one when the config has one,
 * else NULL (every service). -1 and err (no command name) on a usage
 * error.
 */
int	check_parse_args(const struct conf *conf, int argc, char **argv,
	    struct check_opts *o, char *err, size_t errlen);

/* What one service comes to. */
struct check_service {
	enum check_state	state;
	char			text[1024];	/* "<service>: <verdict>[; ...]" */
	long long		max_lag;	/* of the replicas that follow */
	int			serial_ok;	/* the record and serial were read */
	uint32_t		serial;
};

/* The state of st's service: a lease held decides alone (live: OK,
 * "switch in progress"; overdue: WARNING; expired: CRITICAL); else the
 * verdict, then each replica (unreachable, link down, or resyncing
 * within settle_ms of the switch, lag against l), then behind (NULL or
 * "": none), the secondaries found behind, which make it a WARNING. */
void	check_service_judge(const struct svc_state *st, const struct check_limits *l,
	    const char *behind, struct check_service *out);

/* Is st within failover.settle_ms of its record's at= time (replicas
 * re-linking to the new primary are resyncing, not down)? */
int	check_settling(const struct svc_state *st);

/* The reader record as check read it, for check_readers_judge. */
struct check_readers {
	const char			*owner;	/* NULL: the service has none */
	int				 read;	/* a and aaaa were read */
	const char			*err;	/* why not, when !read */
	const struct dnsclient_rrset	*a, *aaaa;
};

/* A reader record that does not say what st's probes see (readers.h)
 * makes out a WARNING, with what it says and what it should. Nothing when
 * the served node is not a reachable master (the verdict says so), nor
 * when the zone has no reader record yet (a zone written before reader
 * records: the next switch or `readers` adds it). */
void	check_readers_judge(const struct svc_state *st, const struct check_readers *rd,
	    struct check_service *out);

/* st's perfdata, each item after a space: lag_<service>_<node>=<n>B;
 * <warn>;<crit>;0 for every node but the served one (U when its lag is
 * not known), then serial_<service>=<n>. Nothing when the record names
 * no node; no serial when it could not be read. */
void	check_perf_service(FILE *f, const struct svc_state *st,
	    const struct check_limits *l);

/* The state a verdict alone gives. */
enum check_state	check_verdict_state(enum state_verdict v);
/* The state of a replica lagging lag bytes. */
enum check_state	check_lag_state(long long lag, const struct check_limits *l);
/* The worse of two: CRITICAL, then WARNING, then UNKNOWN, then OK. */
enum check_state	check_worst(enum check_state a, enum check_state b);
const char		*check_state_str(enum check_state s);

/* How many services are in each state. */
struct check_tally {
	int	n[CHECK_STATES];
};

enum check_state	check_tally_worst(const struct check_tally *t);
/* "1 critical, 2 ok": the states that occur, the worst first. */
void			check_tally_text(const struct check_tally *t, char *buf,
			    size_t len);

#endif
