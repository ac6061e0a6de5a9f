/*
 * update.h - RFC 2136 UPDATE, authenticated by RFC 8945 TSIG.
 *
 * Runs in the server's control thread only. It never touches the served
 * snapshot or the zone file: it reads the zone name by name (the names the
 * message names, and the apex) and says what the change is; the server
 * makes the next version from it, journals it, publishes it, and only
 * then sends the reply (so an acknowledged change is durable and visible).
 *
 *	u = update_begin(wire, len, key, fudge_max, &replay, err, sizeof(err));   NULL: drop
 *	update_limit_negative_ttl(u, max);                     optional
 *	rcode = update_run_edit(u, &source, origin, &edit);    edit.n > 0: a change
 *	... server applies and journals edit, with update_replay_fact(u, ...);
 *	    on failure rcode = SERVFAIL, update_replay_amend(u, rcode) ...
 *	update_reply(u, rcode, &reply, &reply_len);            signed when the request was
 *	zone_edit_free(&edit); update_end(u);
 *
 * Limits: at most 1000 prerequisite and update records (more: REFUSED).
 * Replays (RFC 8945 5.2.3): a signed UPDATE whose time is older than the
 * latest one run, or that was run already and a later one since, gets
 * BADTIME, signed, with our time (so does a replay once a later-signed
 * UPDATE has run); one sent again while none signed later has run (a
 * retransmission, or two requests byte-identical because they were made
 * in the same second) gets its first answer again and changes nothing. What
 * a replay check needs is the caller's (struct update_replay, kept with the
 * zone it was given for, journaled before any reply goes out and saved
 * beside the zone file with it), not this module's.
 */
#ifndef REDISFO_UPDATE_H
#define REDISFO_UPDATE_H

#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

struct conf_tsig_key;
struct update_ctx;
struct zone_edit;

/*
 * Where update_run_edit reads the zone: the records at a name (pushed
 * onto out as borrowed pointers, the SOA among the apex's; 0 or -1), and
 * the SOA. Only the names a message names are read.
 */
struct update_source {
	int		 (*name_rrs)(void *arg, const ldns_rdf *owner, ldns_rr_list *out);
	const ldns_rr	*(*soa)(void *arg);
	void		*arg;
};

#define UPDATE_REPLAY_MAX	1024

/*
 * The signed UPDATEs run lately, by request MAC, with their Time Signed
 * and the answer they got; and the latest Time Signed run. Replayed,
 * "replace 127.0.0.2 by .3" would undo a later switch back: a request
 * signed before the latest one is refused (BADTIME), and one seen already
 * is never run twice. Entries older than dns.tsig_fudge_max are let go
 * when saved (TSIG refuses such a request anyway), and the oldest when the
 * table is full; a request not found that is no newer than an entry let
 * go is refused too, so forgetting never lets one run twice, whatever the
 * window later becomes. All zeros is empty; one per zone, one thread.
 */
struct update_replay {
	struct update_replay_entry {
		uint64_t	time_signed;
		uint8_t		mac[64];
		size_t		mac_len;
		int		rcode;		/* the answer it got */
	}	 seen[UPDATE_REPLAY_MAX];
	size_t	 n;			/* entries in use */
	uint64_t latest;		/* the latest Time Signed of an UPDATE run */
	uint64_t forgotten;		/* the latest Time Signed of an entry let go */
	int	 dirty;			/* changed since loaded or saved */
};

/* Where the replay cache of the zone in zone_file lives: "<zone_file>.replay". */
int			 update_replay_path(const char *zone_file, char *path, size_t len);
/*
 * Load r from path, written for zone origin. A missing file is an empty
 * cache (0); a file that is not one of ours, is for another zone, or does
 * not parse is -1 with err naming the file, the line and the problem:
 * the caller must not go on without the protection it held.
 */
int			 update_replay_load(struct update_replay *r, const char *path,
			    const char *origin, char *err, size_t errlen);
/*
 * Enter a signed UPDATE run before (from the journal) in r, or set the
 * answer of one already there.
 */
void			 update_replay_note(struct update_replay *r, uint64_t time_signed,
			    const uint8_t *mac, size_t mac_len, int rcode);
/*
 * What the replay cache learned from u (its Time Signed, MAC and final
 * answer), for the journal: 1, or 0 when u taught it nothing.
 */
int			 update_replay_fact(const struct update_ctx *u, uint64_t *time_signed,
			    uint8_t *mac, size_t *mac_len, int *rcode);
/* checkconf: does the replay cache beside zone_file load? As update_replay_load. */
int			 update_replay_check(const char *zone_file, const char *origin,
			    char *err, size_t errlen);
/*
 * Drop the entries older than fudge_max seconds before now, and write r
 * to path atomically and durably (temp file, fsync, rename, and with
 * sync_folder an fsync of the folder; without, the caller's next fsync of
 * that same folder makes the rename durable). 0, or -1 with err and the
 * file as it was.
 */
int			 update_replay_save(struct update_replay *r, const char *path,
			    const char *origin, uint64_t now, unsigned fudge_max,
			    int sync_folder, char *err, size_t errlen);

/*
 * Parse the message; NULL (and err) when it cannot even be answered. Its
 * TSIG is checked with a window of at most fudge_max seconds. replay is
 * consulted and taught by update_run; it must outlive u.
 */
struct update_ctx	*update_begin(const uint8_t *wire, size_t len,
			    const struct conf_tsig_key *key, unsigned fudge_max,
			    struct update_replay *replay, char *err, size_t errlen);
/*
 * Check TSIG, replay, zone section, prerequisites and updates against
 * zone, whose apex is origin (absolute, lower case). Returns the DNS
 * rcode. On NOERROR with a change, *new_zone is a new zone (serial
 * increased) owned by the caller; otherwise *new_zone is NULL. zone is not
 * modified. A signed request run for the first time is entered in the
 * replay cache with that rcode (replay->dirty set).
 */
int			 update_run(struct update_ctx *u, const ldns_zone *zone,
			    const char *origin, ldns_zone **new_zone);
/*
 * As update_run, reading the zone from src, name by name: on NOERROR
 * with a change, edit holds every name it changes with all its records
 * afterwards, the apex (with the new SOA) always among them; otherwise
 * edit is empty. The caller frees it (zone_edit_free).
 */
int			 update_run_edit(struct update_ctx *u, const struct update_source *src,
			    const char *origin, struct zone_edit *edit);
/*
 * The caller answers rcode instead (it could not keep or apply the
 * change): a repeat of the message gets that answer too.
 */
void			 update_replay_amend(struct update_ctx *u, int rcode);
/* Build the reply with rcode (malloc'd, caller frees). -1 on error. */
int			 update_reply(struct update_ctx *u, int rcode,
			    uint8_t **wire, size_t *len);
/*
 * Refuse (REFUSED, with why) an update whose new SOA makes min(SOA TTL,
 * SOA minimum) larger than max and larger than it was; 0 = no limit (the
 * default). Call before update_run.
 */
void			 update_limit_negative_ttl(struct update_ctx *u, uint32_t max);
/*
 * The update section's records: their owners are the only names a change
 * by this message can touch (NULL when the message did not parse).
 */
const ldns_rr_list	*update_section(const struct update_ctx *u);
/* Why update_run refused (policy, TSIG, replay), for the log; "" when it did not. */
const char		*update_why(const struct update_ctx *u);
void			 update_end(struct update_ctx *u);

#endif
