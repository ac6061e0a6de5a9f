/*
 * readers.h - the reader record, <reader_name>.<zone> A/AAAA: the
 * addresses of the replicas that follow the served primary with their
 * link up, for clients that only read. It is never empty: with no such
 * replica it names the primary, which answers reads too.
 *
 * The pure part (which nodes, which changes, does the record say what
 * the probes see) is shared by switch (through move.h), rejoin, check
 * and the `readers` command, which refreshes the record from a probe
 * with a compare-and-swap UPDATE. Nothing but cmd_readers prints.
 */
#ifndef REDISFO_FAILOVER_READERS_H
#define REDISFO_FAILOVER_READERS_H

#include <stddef.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "failover/node.h"
#include "failover/state.h"

/* At most this many addresses (those of the first nodes, in config order):
 * every one must come back from one query for the compare-and-swap. */
#define READERS_MAX		DNSCLIENT_RR_MAX
/* The changes that rewrite the record: two deletes and the adds. */
#define READERS_CHANGES_MAX	(READERS_MAX + 2)

/* A reader record's content: addresses (into the config), no duplicate. */
struct readers_set {
	const struct conf_ip	*addr[READERS_MAX];
	size_t			 n;
	int			 primary_only;	/* no replica: the primary's */
	int			 n_nodes;	/* replicas named */
};

/* "<reader_name>.<zone>" into buf; -1 when the service has no reader record. */
int	readers_owner(const struct conf *conf, const struct conf_service *svc,
	    char *buf, size_t len);

/*
 * What the record should say when svc->nodes[primary] is the served
 * primary and nodes[] its probes: each reachable replica that follows it
 * with its link up, plus node include (-1: none) whatever its probe says
 * (a node a command has just seen come up), else the primary.
 */
void	readers_pick(const struct conf_service *svc, int primary,
	    const struct node_info *nodes, int include, struct readers_set *out);

/*
 * What a switch to svc->nodes[target] from svc->nodes[from] puts in the
 * record: the nodes it makes replicas of the target, as their probes
 * (nodes[]) saw them before it began: the old primary when it answered
 * (the demote), the other replicas that answered (the repoint), fenced (a
 * node name or "") excepted; else the target.
 */
void	readers_pick_switch(const struct conf_service *svc, int from, int target,
	    const struct node_info *nodes, const char *fenced, struct readers_set *out);

/* The changes that make owner's A/AAAA exactly rs at ttl, into ch
 * (READERS_CHANGES_MAX); returns how many. */
size_t	readers_changes(struct dnsclient_change *ch, const char *owner,
	    const struct readers_set *rs, int ttl);

/* The prerequisite "owner's A and AAAA are exactly a and aaaa, as read"
 * into ch (2 * DNSCLIENT_RR_MAX + 2); returns how many. */
size_t	readers_prereqs(struct dnsclient_change *ch, const char *owner,
	    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa);

/* 1 when a and aaaa hold exactly rs's addresses (in any order). */
int	readers_same(const struct readers_set *rs, const struct dnsclient_rrset *a,
	    const struct dnsclient_rrset *aaaa);

/* "addr,addr" of rs, or of a and aaaa, for messages. */
void	readers_set_text(const struct readers_set *rs, char *buf, size_t len);
void	readers_rrset_text(const struct dnsclient_rrset *a,
	    const struct dnsclient_rrset *aaaa, char *buf, size_t len);

/*
 * Make owner, the reader record of st's service, say rs: read it, and
 * when it differs, send one UPDATE whose prerequisites are the served
 * record (st->served's addresses) and the reader record as read. OK with
 * *changed 0 when it already said rs, or when it does not exist and
 * create is 0; was gets what it said. A result but OK and err otherwise
 * (DNSCLIENT_PREREQ: one of them changed).
 */
enum dnsclient_result	readers_send(const struct svc_state *st, const char *owner,
			    const struct readers_set *rs, int create, int *changed,
			    char *was, size_t waslen, char *err, size_t errlen);

int	cmd_readers(const struct conf *conf, int argc, char **argv);

#endif
