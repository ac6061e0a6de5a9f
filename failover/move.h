/*
 * move.h - the UPDATE that moves a service's record from one node to
 * another: the compare-and-swap that switch, a failover, a repair and
 * sentinel-reconfig all send.
 *
 * The prerequisite is that the record holds exactly the old node's
 * addresses (and no RRset of a family the node has none of); the change
 * puts the new node's addresses in their place, rewrites the _redisfo
 * TXT and the _redis._tcp SRV (0 0 <new node's port> <service>.<zone>:
 * added when the zone had none), and, when the caller adds them, the
 * reader record's addresses. This module builds the changes only: sending them, and what to make
 * of the answer, stay with the caller. It never talks to Redis or to the
 * DNS server, and never prints.
 */
#ifndef REDISFO_MOVE_H
#define REDISFO_MOVE_H

#include <stddef.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "failover/readers.h"
#include "failover/txt.h"

#define MOVE_CHANGES_MAX	(2 * CONF_ADDR_MAX + 2 * DNSCLIENT_RR_MAX + 10 + READERS_CHANGES_MAX)

/* One move, ready for dnsclient_update: ch[0..n) point into it and the config. */
struct move {
	struct dnsclient_change	ch[MOVE_CHANGES_MAX];
	size_t			n;
	char			txt[DNSCLIENT_VALUE_MAX];	/* the new TXT, presentation form */
	char			srv_owner[CONF_DNAME_MAX + 96];	/* _redis._tcp.<service>.<zone> */
	char			srv[CONF_DNAME_MAX + 96];	/* the new SRV's rdata */
};

/*
 * The prerequisite "owner holds exactly from's addresses" into ch (room
 * for CONF_ADDR_MAX + 2); returns how many changes it took.
 */
size_t	move_prereqs(struct dnsclient_change *ch, const char *owner,
	    const struct conf_node *from);

/*
 * The prerequisite "owner holds exactly these values" (the record as it
 * was read, when it no longer equals a node's addresses) into ch (room
 * for 2 * DNSCLIENT_RR_MAX + 2); returns how many changes it took.
 */
size_t	move_prereqs_values(struct dnsclient_change *ch, const char *owner,
	    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa);

/*
 * The whole move of owner from node from to node to, its addresses at
 * ttl, with txt_owner's TXT rewritten to rec. 0, or -1 when the TXT does
 * not fit (then nothing may be sent).
 */
int	move_build(struct move *m, const char *owner, const char *txt_owner,
	    const struct conf_node *from, const struct conf_node *to, int ttl,
	    const struct txt_record *rec);

/* The same move with the record as read (a, aaaa) as its prerequisite. */
int	move_build_values(struct move *m, const char *owner, const char *txt_owner,
	    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
	    const struct conf_node *to, int ttl, const struct txt_record *rec);

/* Add to m the rewrite of the reader record reader_owner to rs, at ttl. */
void	move_add_readers(struct move *m, const char *reader_owner,
	    const struct readers_set *rs, int ttl);

#endif
