/*
 * update.h - RFC 2136 UPDATE, authenticated by RFC 8945 TSIG.
 *
 * Runs in the server's control thread only. It never touches the served
 * snapshot or the zone file: it computes a new zone from the current one,
 * and the server persists it, swaps the snapshot, and only then sends the
 * reply (so an acknowledged change is durable and visible).
 *
 *	u = update_begin(wire, len, key, &replay, err, sizeof(err));   NULL: drop
 *	rcode = update_run(u, zone, origin, &new_zone);        new_zone only if changed
 *	... server persists new_zone; on failure rcode = SERVFAIL ...
 *	update_reply(u, rcode, &reply, &reply_len);            signed when the request was
 *	update_end(u);
 *
 * Limits: at most 1000 prerequisite and update records (more: REFUSED); a
 * signed UPDATE seen again (same MAC) gets its first answer and changes
 * nothing, so a captured switch cannot be replayed within the TSIG fudge.
 * The answers it remembers are the caller's (struct update_replay, kept
 * beside the zone they were given for), not this module's.
 */
#ifndef REDISFO_UPDATE_H
#define REDISFO_UPDATE_H

#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

struct conf_tsig_key;
struct update_ctx;

#define UPDATE_REPLAY_MAX	1024

/*
 * The answers to the last signed UPDATEs, by request MAC. A message seen
 * again (an attacker replaying a captured switch while its time is still
 * within the fudge, or a client retransmitting over UDP) gets its first
 * answer again and changes nothing: replayed, "replace 127.0.0.2 by .3"
 * would undo a later switch back. Older than the fudge, TSIG refuses it
 * anyway (BADTIME). All zeros is empty; one per zone, used by one thread.
 */
struct update_replay {
	struct update_replay_entry {
		uint8_t	mac[64];
		size_t	mac_len;
		int	rcode;
	}	 seen[UPDATE_REPLAY_MAX];
	size_t	 next;			/* the slot the next answer takes */
};

/*
 * Parse the message; NULL (and err) when it cannot even be answered.
 * replay is consulted by update_run and learns the answer in update_reply;
 * it must outlive u.
 */
struct update_ctx	*update_begin(const uint8_t *wire, size_t len,
			    const struct conf_tsig_key *key, struct update_replay *replay,
			    char *err, size_t errlen);
/*
 * Check TSIG, zone section, prerequisites and updates against zone, whose
 * apex is origin (absolute, lower case). Returns the DNS rcode. On NOERROR
 * with a change, *new_zone is a new zone (serial increased) owned by the
 * caller; otherwise *new_zone is NULL. zone is not modified.
 */
int			 update_run(struct update_ctx *u, const ldns_zone *zone,
			    const char *origin, ldns_zone **new_zone);
/* Build the reply with rcode (malloc'd, caller frees). -1 on error. */
int			 update_reply(struct update_ctx *u, int rcode,
			    uint8_t **wire, size_t *len);
/*
 * The update section's records: their owners are the only names a change
 * by this message can touch (NULL when the message did not parse).
 */
const ldns_rr_list	*update_section(const struct update_ctx *u);
/* Why update_run refused (policy, TSIG), for the log; "" when it did not. */
const char		*update_why(const struct update_ctx *u);
void			 update_end(struct update_ctx *u);

#endif
