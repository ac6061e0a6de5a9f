/*
 * xfr.h - outgoing zone transfers over TCP only: AXFR, and IXFR answered
 * with the changes since the client's serial when the journal still holds
 * them, its SOA alone when the client is current, else the whole zone.
 *
 * Runs in the server's control thread. Access: dns.allow_transfer
 * addresses, or a request signed with dns.update_key; others get REFUSED.
 *
 * An answer is a stream: xfr_stream_start decides what to send and takes
 * references to the zone and journal changes it will read, and each
 * xfr_stream_next makes one more message, when the connection has room
 * for it. Nothing of the zone is copied for a transfer, and a zone the
 * server has moved past stays alive only while a transfer still reads it.
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
	XFR_INCREMENTAL,	/* the changes since the client's serial */
	XFR_BUSY		/* REFUSED: the server is at its transfer limits */
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
 * The last changes of the served zone (the server fills it again from
 * its durable journal after a restart). Bounded: at most
 * XFR_JOURNAL_MAX changes, holding at most as many records as the zone
 * (or XFR_JOURNAL_MIN_RRS, when the zone is smaller); the oldest go first.
 * An IXFR gets the changes only when they are shorter than the zone.
 */
#define XFR_JOURNAL_MAX		64
#define XFR_JOURNAL_MIN_RRS	1000

struct xfr_change {
	ldns_rr		*from_soa, *to_soa;
	ldns_rr_list	*removed, *added;	/* SOAs excluded */
	unsigned	 refs;			/* the journal's, and streams' */
};

struct xfr_journal {
	struct xfr_change	*change[XFR_JOURNAL_MAX];	/* a ring */
	size_t			first, n;
	size_t			rrs;		/* records held, SOAs included */
};

/*
 * Note that the served zone (apex origin) went from old to new, whole
 * zones compared (for tools and tests; the server knows its changes).
 * A zeroed journal is empty.
 */
void	xfr_journal_record(struct xfr_journal *j, const ldns_zone *old,
	    const ldns_zone *new, const char *origin);
void	xfr_journal_clear(struct xfr_journal *j);
/*
 * The same, for a change already worked out (taken, freed on failure);
 * zone_rrs: the records of the zone it leads to.
 */
void	xfr_journal_add(struct xfr_journal *j, ldns_rr *from_soa, ldns_rr *to_soa,
	    ldns_rr_list *removed, ldns_rr_list *added, size_t zone_rrs);

/*
 * A zone shared by the server and the transfers still reading it: the
 * zone is freed with the last reference.
 */
struct xfr_zone {
	ldns_zone	*zone;
	unsigned	 refs;
	void		(*release)(void *);	/* NULL: the zone is ours, freed deeply */
	void		*arg;
};

/* A zone with one reference, the caller's; NULL when out of memory. */
struct xfr_zone	*xfr_zone_create(ldns_zone *z);
/*
 * A zone whose records belong to someone else: with the last reference
 * only the zone and its list are freed, then release(arg) is called.
 */
struct xfr_zone	*xfr_zone_view(ldns_zone *view, void (*release)(void *), void *arg);
void		 xfr_zone_release(struct xfr_zone *zh);

struct xfr_stream;

/*
 * Answer the AXFR/IXFR query wire from peer with zone (apex origin) and
 * journal (NULL: none). When busy, an unsigned request that would get
 * data is REFUSED instead (the server is at its transfer limits; a
 * request signed with the update key always gets its answer). NULL when
 * the query must be dropped; the stream holds what it reads, and none of
 * wire, peer or dns past this call.
 */
struct xfr_stream	*xfr_stream_start(const uint8_t *wire, size_t len,
			    const struct sockaddr *peer, struct xfr_zone *zone,
			    struct xfr_journal *journal, const char *origin,
			    const struct conf_dns *dns, int busy);
/*
 * The next message of the answer (malloc'd, no TCP length): 1; 0 when
 * the answer is complete; -1 when a message cannot be made after others
 * went out (the connection must close: the answer cannot be completed).
 */
int			 xfr_stream_next(struct xfr_stream *s, uint8_t **msg, size_t *len);
enum xfr_form		 xfr_stream_form(const struct xfr_stream *s);
/* XFR_ERROR: the rcode; XFR_INCREMENTAL: how many changes. */
int			 xfr_stream_rcode(const struct xfr_stream *s);
size_t			 xfr_stream_changes(const struct xfr_stream *s);
/* Was the request signed with the update key (and verified)? */
int			 xfr_stream_signed(const struct xfr_stream *s);
void			 xfr_stream_free(struct xfr_stream *s);

/*
 * The whole answer at once (for tests and tools): always at least one
 * message (an error reply if refused or malformed) unless the query must
 * be dropped (returns -1); a failure part-way is one SERVFAIL.
 */
int	xfr_answer(const uint8_t *wire, size_t len, const struct sockaddr *peer,
	    const ldns_zone *zone, const struct xfr_journal *journal,
	    const char *origin, const struct conf_dns *dns, struct xfr_msgs *out);
void	xfr_msgs_free(struct xfr_msgs *m);

#endif
