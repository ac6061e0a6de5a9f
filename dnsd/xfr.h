/*
 * xfr.h - outgoing zone transfers over TCP only: AXFR, and IXFR answered
 * with the changes since the client's serial when the journal still holds
 * them, its SOA alone when the client is current, else the whole zone.
 *
 * Runs in the server's control thread. Access: dns.allow_transfer
 * addresses, or a request signed with dns.update_key; others get REFUSED.
 */
#ifndef REDISFO_XFR_H
#define REDISFO_XFR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

struct conf_dns;

/* What a transfer answer carries, for the log. */
enum xfr_form {
	XFR_ERROR,		/* one reply with an error rcode */
	XFR_SOA,		/* the client is current: the SOA alone */
	XFR_FULL,		/* the whole zone */
	XFR_INCREMENTAL		/* the changes since the client's serial */
};

/* The messages of one answer, each a malloc'd DNS message (no TCP length). */
struct xfr_msgs {
	uint8_t		**msg;
	size_t		 *len;
	size_t		  n;
	enum xfr_form	  form;
	size_t		  changes;	/* XFR_INCREMENTAL: how many */
};

/*
 * The last changes of the served zone, in memory only (after a restart,
 * clients that are behind get the whole zone). Bounded: at most
 * XFR_JOURNAL_MAX changes, holding at most as many records as the zone
 * (or XFR_JOURNAL_MIN_RRS, when the zone is smaller); the oldest go first.
 * An IXFR gets the changes only when they are shorter than the zone.
 */
#define XFR_JOURNAL_MAX		64
#define XFR_JOURNAL_MIN_RRS	1000

struct xfr_change {
	ldns_rr		*from_soa, *to_soa;
	ldns_rr_list	*removed, *added;	/* SOAs excluded */
};

struct xfr_journal {
	struct xfr_change	change[XFR_JOURNAL_MAX];	/* a ring */
	size_t			first, n;
	size_t			rrs;		/* records held, SOAs included */
};

/*
 * Note that the served zone went from old to new (a zeroed journal is
 * empty). When touched is not NULL, the change was only at the owner names
 * of its records (an UPDATE's update section), and only those are compared.
 */
void	xfr_journal_record(struct xfr_journal *j, const ldns_zone *old,
	    const ldns_zone *new, const ldns_rr_list *touched);
void	xfr_journal_clear(struct xfr_journal *j);

/*
 * Answer the AXFR/IXFR query wire from peer with zone (apex origin) and
 * journal (NULL: none).
 * Always produces at least one message (an error reply if refused or
 * malformed) unless the query must be dropped (returns -1).
 */
int	xfr_answer(const uint8_t *wire, size_t len, const struct sockaddr *peer,
	    const ldns_zone *zone, const struct xfr_journal *journal,
	    const char *origin, const struct conf_dns *dns, struct xfr_msgs *out);
void	xfr_msgs_free(struct xfr_msgs *m);

#endif
