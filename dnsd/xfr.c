/*
 * xfr.c - outgoing zone transfers over TCP: AXFR (RFC 5936), and IXFR
 * (RFC 1995): the SOA alone when the client is current, the changes since
 * its serial when the journal holds them all, else the whole zone in AXFR
 * form, which RFC 1995 section 4 allows.
 *
 * The journal keeps the last changes of the served zone, each as the
 * records it removed and added, found by comparing the zone before and
 * after: for an UPDATE only at the names it names, for a reload of an
 * edited file everywhere.
 *
 * The server's control thread gives us a query read from a TCP connection
 * and the current zone; we decide the answer and then make its DNS
 * messages one at a time, as the connection drains (the caller adds the
 * 2-byte TCP lengths). A stream reads the zone and the journal's changes
 * in place, holding a reference to each, so a transfer costs one message
 * of memory however large the zone, and an UPDATE meanwhile does not
 * disturb it: it goes on sending the zone it started with. Access is for
 * dns.allow_transfer addresses or a request signed with dns.update_key;
 * every message of a signed transfer is signed, chained as RFC 8945 5.3.1
 * says. The zone is only read, never changed.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "dnsd/wire.h"
#include "dnsd/snapshot.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"

#define XFR_MSG_BUDGET	16000	/* uncompressed RR bytes per message */
#define XFR_TSIG_ROOM	1024
#define XFR_MSG_MAX	65535	/* what a TCP length prefix can carry */
#define XFR_SEGS	(3 + 4 * XFR_JOURNAL_MAX)

/* A piece of the answer section: one record, or a list without its SOAs. */
struct xfr_seg {
	const ldns_rr		*rr;
	const ldns_rr_list	*list;
};

struct xfr_stream {
	struct conf_tsig_key	 key;
	struct tsig_state	 st;		/* chained from message to message */
	struct tsig_state	 st_first;	/* over the request, for a SERVFAIL */
	uint16_t		 id;
	ldns_rr			*question;
	struct xfr_zone		*zh;		/* held while the stream reads it */
	struct xfr_change	*chg[XFR_JOURNAL_MAX];
	size_t			 nchg;
	struct xfr_seg		 seg[XFR_SEGS];
	size_t			 nseg, at_seg, at_rr;
	uint8_t			*ready;		/* a one-message answer, made at start */
	size_t			 ready_len;
	enum xfr_form		 form;
	int			 rcode;
	size_t			 changes;
	int			 is_signed;
	int			 first, done;
};

/* ---- shared zones and changes ---- */

struct xfr_zone *
xfr_zone_create(ldns_zone *z)
{
	struct xfr_zone *zh = calloc(1, sizeof(*zh));

	if (zh == NULL)
		return NULL;
	zh->zone = z;
	zh->refs = 1;
	return zh;
}

struct xfr_zone *
xfr_zone_view(ldns_zone *view, void (*release)(void *), void *arg)
{
	struct xfr_zone *zh = xfr_zone_create(view);

	if (zh != NULL) {
		zh->release = release;
		zh->arg = arg;
	}
	return zh;
}

void
xfr_zone_release(struct xfr_zone *zh)
{
	if (zh == NULL || --zh->refs > 0)
		return;
	if (zh->release != NULL) {
		/* The records are another's: only the list goes. */
		ldns_zone_set_soa(zh->zone, NULL);
		ldns_zone_free(zh->zone);
		zh->release(zh->arg);
	} else
		ldns_zone_deep_free(zh->zone);
	free(zh);
}

static void
xfr_change_free(struct xfr_change *c)
{
	if (c->from_soa)
		ldns_rr_free(c->from_soa);
	if (c->to_soa)
		ldns_rr_free(c->to_soa);
	if (c->removed)
		ldns_rr_list_deep_free(c->removed);
	if (c->added)
		ldns_rr_list_deep_free(c->added);
	free(c);
}

static void
xfr_change_release(struct xfr_change *c)
{
	if (c != NULL && --c->refs == 0)
		xfr_change_free(c);
}

/* ---- messages ---- */

/* Wire form of p, signed when st says so; -1 when it cannot be sent. */
static int
xfr_wire(const ldns_pkt *p, const struct conf_tsig_key *key, struct tsig_state *st,
    int first, uint8_t **msg, size_t *len)
{
	uint8_t *w = NULL, *b;
	size_t n;
	ssize_t r;

	if (ldns_pkt2wire(&w, p, &n) != LDNS_STATUS_OK)
		return -1;
	if ((b = realloc(w, n + XFR_TSIG_ROOM)) == NULL) {
		free(w);
		return -1;
	}
	if (st->present) {
		if ((r = tsig_sign_reply(b, n, n + XFR_TSIG_ROOM, key, st, first)) < 0) {
			free(b);
			return -1;
		}
		n = (size_t)r;
	}
	/* A record too large to travel with its TSIG cannot be sent at all. */
	if (n > XFR_MSG_MAX) {
		free(b);
		return -1;
	}
	*msg = b;
	*len = n;
	return 0;
}

/* A reply with no answer: header and question only (q may be NULL). */
static int
xfr_error(struct xfr_stream *s, uint16_t id, uint8_t flags1, const ldns_rr *q, int rcode,
    struct tsig_state *st)
{
	ldns_pkt *p = ldns_pkt_new();
	int rc;

	if (p == NULL)
		return -1;
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_opcode(p, (ldns_pkt_opcode)((flags1 >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK));
	ldns_pkt_set_rd(p, flags1 & DNS_FLAG_RD);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	if (q != NULL) {
		ldns_rr *qr = ldns_rr_clone(q);

		if (qr == NULL || !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qr)) {
			ldns_rr_free(qr);
			ldns_pkt_free(p);
			return -1;
		}
	}
	free(s->ready);
	s->ready = NULL;
	rc = xfr_wire(p, &s->key, st, 1, &s->ready, &s->ready_len);
	ldns_pkt_free(p);
	s->form = XFR_ERROR;
	s->rcode = rcode;
	return rc;
}

/* Is peer in dns.allow_transfer? v4-mapped v6 peers count as v4. */
static int
xfr_peer_allowed(const struct sockaddr *peer, const struct conf_dns *dns)
{
	unsigned char a[16];
	int fam;

	if (peer == NULL)
		return 0;
	if (peer->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
		fam = AF_INET;
	} else if (peer->sa_family == AF_INET6) {
		const struct in6_addr *s6 =
		    &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(s6)) {
			memcpy(a, s6->s6_addr + 12, 4);
			fam = AF_INET;
		} else {
			memcpy(a, s6->s6_addr, 16);
			fam = AF_INET6;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < dns->n_allow_transfer; i++) {
		const struct conf_ip *ip = &dns->allow_transfer[i];
		static const unsigned char mapped[12] =
		    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (ip->family == fam &&
		    memcmp(ip->bytes, a, fam == AF_INET ? 4 : 16) == 0)
			return 1;
		if (fam == AF_INET && ip->family == AF_INET6 &&
		    memcmp(ip->bytes, mapped, 12) == 0 && memcmp(ip->bytes + 12, a, 4) == 0)
			return 1;
	}
	return 0;
}

/* ---- the answer section, piece by piece ---- */

static void
xfr_seg_rr(struct xfr_stream *s, const ldns_rr *rr)
{
	s->seg[s->nseg].rr = rr;
	s->seg[s->nseg++].list = NULL;
}

static void
xfr_seg_list(struct xfr_stream *s, const ldns_rr_list *l)
{
	s->seg[s->nseg].rr = NULL;
	s->seg[s->nseg++].list = l;
}

/* The record to send next (SOAs inside lists skipped); NULL at the end. */
static const ldns_rr *
xfr_peek(struct xfr_stream *s)
{
	while (s->at_seg < s->nseg) {
		const struct xfr_seg *g = &s->seg[s->at_seg];

		if (g->rr != NULL) {
			if (s->at_rr == 0)
				return g->rr;
		} else {
			while (g->list != NULL && s->at_rr < ldns_rr_list_rr_count(g->list)) {
				const ldns_rr *rr = ldns_rr_list_rr(g->list, s->at_rr);

				if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
					return rr;
				s->at_rr++;
			}
		}
		s->at_seg++;
		s->at_rr = 0;
	}
	return NULL;
}

/* The zone in AXFR form: SOA, every RR, SOA; or the SOA alone. */
static void
xfr_plan_full(struct xfr_stream *s, int soa_only)
{
	const ldns_rr *soa = ldns_zone_soa(s->zh->zone);

	xfr_seg_rr(s, soa);
	if (!soa_only) {
		xfr_seg_list(s, ldns_zone_rrs(s->zh->zone));
		xfr_seg_rr(s, soa);
	}
}

/*
 * The changes since serial in RFC 1995 form: the current SOA; for each
 * change the old SOA, what it removed, the new SOA, what it added; the
 * current SOA again. The changes are held until the stream ends.
 */
static void
xfr_plan_incremental(struct xfr_stream *s, struct xfr_journal *j, size_t from)
{
	const ldns_rr *soa = ldns_zone_soa(s->zh->zone);

	xfr_seg_rr(s, soa);
	for (size_t i = from; i < j->n; i++) {
		struct xfr_change *c = j->change[(j->first + i) % XFR_JOURNAL_MAX];

		c->refs++;
		s->chg[s->nchg++] = c;
		xfr_seg_rr(s, c->from_soa);
		xfr_seg_list(s, c->removed);
		xfr_seg_rr(s, c->to_soa);
		xfr_seg_list(s, c->added);
	}
	xfr_seg_rr(s, soa);
}

static uint32_t
xfr_soa_serial(const ldns_rr *soa)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* Records a change holds, its two SOAs included. */
static size_t
xfr_change_size(const struct xfr_change *c)
{
	return 2 + ldns_rr_list_rr_count(c->removed) + ldns_rr_list_rr_count(c->added);
}

/*
 * Where the journal's changes from serial start, when they lead without a
 * gap to the zone being served; -1 when they do not (send it all).
 */
static ssize_t
xfr_journal_find(const struct xfr_journal *j, const ldns_zone *zone, uint32_t serial)
{
	const struct xfr_change *last;
	size_t i, records = 2;

	if (j == NULL || j->n == 0)
		return -1;
	last = j->change[(j->first + j->n - 1) % XFR_JOURNAL_MAX];
	if (xfr_soa_serial(last->to_soa) != zone_serial(zone))
		return -1;
	for (i = 0; i < j->n; i++)
		if (xfr_soa_serial(j->change[(j->first + i) % XFR_JOURNAL_MAX]->from_soa) == serial)
			break;
	if (i == j->n)
		return -1;
	/* Changes that weigh more than the zone: the zone is the shorter answer. */
	for (size_t k = i; k < j->n; k++)
		records += xfr_change_size(j->change[(j->first + k) % XFR_JOURNAL_MAX]);
	if (records > ldns_rr_list_rr_count(ldns_zone_rrs(zone)) + 2)
		return -1;
	return (ssize_t)i;
}

/* ---- streams ---- */

struct xfr_stream *
xfr_stream_start(const uint8_t *wire, size_t len, const struct sockaddr *peer,
    struct xfr_zone *zh, struct xfr_journal *journal, const char *origin,
    const struct conf_dns *dns, int busy)
{
	struct xfr_stream *s;
	ssize_t from = -1;
	ldns_pkt *q = NULL;
	ldns_rr *qr = NULL;
	ldns_rdf *apex = NULL;
	const ldns_zone *zone = zh->zone;
	enum tsig_verdict trc;
	uint16_t id;
	uint8_t flags1;
	int rc = 0, soa_only = 0;

	if (len < DNS_HEADER_LEN || (wire[DNS_OFF_FLAGS1] & DNS_FLAG_QR))
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->key = dns->update_key;
	s->first = 1;
	id = dns_rd16(wire + DNS_OFF_ID);
	flags1 = wire[DNS_OFF_FLAGS1];
	s->id = id;
	trc = tsig_verify_request(wire, len, &dns->update_key, (unsigned)dns->tsig_fudge_max,
	    &s->st);
	if (trc == TSIG_MALFORMED)
		s->st.present = 0;
	s->st_first = s->st;
	if (ldns_wire2pkt(&q, wire, len) != LDNS_STATUS_OK) {
		q = NULL;
		rc = xfr_error(s, id, flags1, NULL, DNS_RCODE_FORMERR, &s->st);
		goto done;
	}
	if (ldns_pkt_qdcount(q) == 1)
		qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	if (trc == TSIG_MALFORMED || ldns_pkt_qdcount(q) != 1 || qr == NULL ||
	    (ldns_rr_get_type(qr) != LDNS_RR_TYPE_AXFR &&
	    ldns_rr_get_type(qr) != LDNS_RR_TYPE_IXFR)) {
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_FORMERR, &s->st);
		goto done;
	}
	if (trc > TSIG_OK) {
		/* A TSIG error: RFC 8945 5.2, NOTAUTH with the error. */
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_NOTAUTH, &s->st);
		goto done;
	}
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK) {
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_SERVFAIL, &s->st);
		goto done;
	}
	if (ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN ||
	    ldns_dname_compare(ldns_rr_owner(qr), apex) != 0) {
		/* Not our zone: REFUSED, as the query fast path answers it. */
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_REFUSED, &s->st);
		goto done;
	}
	if ((trc != TSIG_OK && !xfr_peer_allowed(peer, dns)) || ldns_zone_soa(zone) == NULL) {
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_REFUSED, &s->st);
		goto done;
	}
	s->is_signed = trc == TSIG_OK;
	if (ldns_rr_get_type(qr) == LDNS_RR_TYPE_IXFR) {
		const ldns_rr_list *auth = ldns_pkt_authority(q);

		for (size_t i = 0; auth && i < ldns_rr_list_rr_count(auth); i++) {
			ldns_rr *soa = ldns_rr_list_rr(auth, i);

			if (ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(soa) == 7) {
				uint32_t theirs = xfr_soa_serial(soa), ours = zone_serial(zone);

				/* Current or newer (RFC 1982): the SOA alone. */
				soa_only = (int32_t)(ours - theirs) <= 0;
				if (!soa_only)
					from = xfr_journal_find(journal, zone, theirs);
				break;	/* the client's SOA is the first one */
			}
		}
	}
	if (busy && !soa_only && !s->is_signed) {
		/* At the transfer limits: the client tries again later. */
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_REFUSED, &s->st);
		s->form = XFR_BUSY;
		goto done;
	}
	if ((s->question = ldns_rr_clone(qr)) == NULL) {
		rc = xfr_error(s, id, flags1, qr, DNS_RCODE_SERVFAIL, &s->st);
		goto done;
	}
	s->zh = zh;
	zh->refs++;
	if (from >= 0) {
		xfr_plan_incremental(s, journal, (size_t)from);
		s->form = XFR_INCREMENTAL;
		s->changes = journal->n - (size_t)from;
	} else {
		xfr_plan_full(s, soa_only);
		s->form = soa_only ? XFR_SOA : XFR_FULL;
	}
done:
	if (apex)
		ldns_rdf_deep_free(apex);
	if (q)
		ldns_pkt_free(q);
	if (rc < 0) {
		xfr_stream_free(s);
		return NULL;
	}
	return s;
}

/* The first message could not be made: one SERVFAIL, signed over the request. */
static int
xfr_stream_servfail(struct xfr_stream *s, uint8_t **msg, size_t *len)
{
	if (xfr_error(s, s->id, 0, s->question, DNS_RCODE_SERVFAIL, &s->st_first) < 0)
		return -1;
	s->done = 1;
	*msg = s->ready;
	*len = s->ready_len;
	s->ready = NULL;
	return 1;
}

int
xfr_stream_next(struct xfr_stream *s, uint8_t **msg, size_t *len)
{
	const ldns_rr *rr;
	ldns_pkt *p;
	size_t budget = 0, count = 0;
	int rc = 0;

	if (s->ready != NULL) {
		*msg = s->ready;
		*len = s->ready_len;
		s->ready = NULL;
		s->done = 1;
		return 1;
	}
	if (s->done || xfr_peek(s) == NULL)
		return 0;
	if ((p = ldns_pkt_new()) == NULL)
		return s->first ? xfr_stream_servfail(s, msg, len) : -1;
	ldns_pkt_set_id(p, s->id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	if (s->first) {
		ldns_rr *qr = ldns_rr_clone(s->question);

		if (qr == NULL || !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qr)) {
			ldns_rr_free(qr);
			rc = -1;
		}
	}
	/* Records up to the budget; always one, however large. */
	while (rc == 0 && (rr = xfr_peek(s)) != NULL) {
		size_t sz = ldns_rr_uncompressed_size(rr);
		ldns_rr *c;

		if (count > 0 && budget + sz > XFR_MSG_BUDGET)
			break;
		if ((c = ldns_rr_clone(rr)) == NULL ||
		    !ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c)) {
			ldns_rr_free(c);
			rc = -1;
			break;
		}
		budget += sz;
		count++;
		s->at_rr++;
	}
	if (rc == 0)
		rc = xfr_wire(p, &s->key, &s->st, s->first, msg, len);
	ldns_pkt_free(p);
	if (rc < 0)
		return s->first ? xfr_stream_servfail(s, msg, len) : -1;
	s->first = 0;
	if (xfr_peek(s) == NULL)
		s->done = 1;
	return 1;
}

enum xfr_form
xfr_stream_form(const struct xfr_stream *s)
{
	return s->form;
}

int
xfr_stream_rcode(const struct xfr_stream *s)
{
	return s->rcode;
}

size_t
xfr_stream_changes(const struct xfr_stream *s)
{
	return s->changes;
}

int
xfr_stream_signed(const struct xfr_stream *s)
{
	return s->is_signed;
}

void
xfr_stream_free(struct xfr_stream *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nchg; i++)
		xfr_change_release(s->chg[i]);
	xfr_zone_release(s->zh);
	if (s->question)
		ldns_rr_free(s->question);
	free(s->ready);
	free(s);
}

static int
xfr_push(struct xfr_msgs *out, uint8_t *msg, size_t len)
{
	uint8_t **m = realloc(out->msg, (out->n + 1) * sizeof(*m));
	size_t *l;

	if (m == NULL)
		return -1;
	out->msg = m;
	if ((l = realloc(out->len, (out->n + 1) * sizeof(*l))) == NULL)
		return -1;
	out->len = l;
	out->msg[out->n] = msg;
	out->len[out->n] = len;
	out->n++;
	return 0;
}

int
xfr_answer(const uint8_t *wire, size_t len, const struct sockaddr *peer,
    const ldns_zone *zone, const struct xfr_journal *journal, const char *origin,
    const struct conf_dns *dns, struct xfr_msgs *out)
{
	/* Never freed through this reference: the caller keeps the zone. */
	struct xfr_zone zh = { (ldns_zone *)(uintptr_t)zone, 1, NULL, NULL };
	struct xfr_stream *s;
	uint8_t *m;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	s = xfr_stream_start(wire, len, peer, &zh, (struct xfr_journal *)(uintptr_t)journal,
	    origin, dns, 0);
	if (s == NULL)
		return -1;
	while ((rc = xfr_stream_next(s, &m, &n)) == 1)
		if (xfr_push(out, m, n) < 0) {
			free(m);
			rc = -1;
			break;
		}
	out->form = s->form == XFR_BUSY ? XFR_ERROR : s->form;
	out->changes = s->changes;
	if (rc < 0) {
		/* Nothing half-sent: one SERVFAIL, signed over the request. */
		xfr_msgs_free(out);
		if (xfr_error(s, s->id, 0, s->question, DNS_RCODE_SERVFAIL, &s->st_first) < 0 ||
		    xfr_push(out, s->ready, s->ready_len) < 0) {
			xfr_stream_free(s);
			xfr_msgs_free(out);
			return -1;
		}
		s->ready = NULL;
		out->form = XFR_ERROR;
	}
	xfr_stream_free(s);
	return 0;
}

void
xfr_msgs_free(struct xfr_msgs *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->msg[i]);
	free(m->msg);
	free(m->len);
	memset(m, 0, sizeof(*m));
}

/* ---- the journal of recent changes, for IXFR ---- */

/* The oldest change out of the journal (a stream still sending it keeps it). */
static void
xfr_journal_drop_oldest(struct xfr_journal *j)
{
	struct xfr_change *c = j->change[j->first];

	j->rrs -= xfr_change_size(c);
	j->change[j->first] = NULL;
	xfr_change_release(c);
	j->first = (j->first + 1) % XFR_JOURNAL_MAX;
	j->n--;
}

void
xfr_journal_clear(struct xfr_journal *j)
{
	while (j->n > 0)
		xfr_journal_drop_oldest(j);
	j->first = 0;
}

/*
 * Put change c (the journal's now) at the end of the journal, zone_rrs
 * the records of the zone it leads to.
 */
static void
xfr_journal_push(struct xfr_journal *j, struct xfr_change *c, size_t zone_rrs)
{
	uint32_t	from = xfr_soa_serial(c->from_soa), to = xfr_soa_serial(c->to_soa);
	size_t		keep;

	/*
	 * IXFR can only describe a step forward that continues the journal.
	 * A serial moved back starts it over (clients that are behind get the
	 * whole zone); so does a gap, or a reload that changed records but not
	 * the serial. A reload that changed nothing keeps it.
	 */
	if ((int32_t)(to - from) < 0 || (j->n > 0 && xfr_soa_serial(
	    j->change[(j->first + j->n - 1) % XFR_JOURNAL_MAX]->to_soa) != from)) {
		xfr_journal_clear(j);
		if ((int32_t)(to - from) < 0) {
			xfr_change_free(c);
			return;
		}
	}
	c->refs = 1;
	if (to == from) {
		int same = ldns_rr_list_rr_count(c->removed) == 0 &&
		    ldns_rr_list_rr_count(c->added) == 0 &&
		    ldns_rr_compare(c->from_soa, c->to_soa) == 0 &&
		    ldns_rr_ttl(c->from_soa) == ldns_rr_ttl(c->to_soa);

		xfr_change_free(c);
		if (!same)
			xfr_journal_clear(j);
		return;
	}
	if (j->n == XFR_JOURNAL_MAX)
		xfr_journal_drop_oldest(j);
	j->change[(j->first + j->n) % XFR_JOURNAL_MAX] = c;
	j->n++;
	j->rrs += xfr_change_size(c);
	/* No point in changes that outweigh the zone: past that, send it all. */
	keep = zone_rrs;
	if (keep < XFR_JOURNAL_MIN_RRS)
		keep = XFR_JOURNAL_MIN_RRS;
	while (j->n > 0 && j->rrs > keep)
		xfr_journal_drop_oldest(j);
	/*
	 * Serials that went round more than half the space (RFC 1982) would
	 * make an old one ambiguous: keep only the changes since the newest
	 * serial is ahead of them.
	 */
	while (j->n > 0 && (int32_t)(to - xfr_soa_serial(j->change[j->first]->from_soa)) <= 0)
		xfr_journal_drop_oldest(j);
}

void
xfr_journal_record(struct xfr_journal *j, const ldns_zone *old, const ldns_zone *new,
    const char *origin)
{
	struct snapshot	*a = NULL, *b = NULL;
	ldns_rr_list	*removed = NULL, *added = NULL;
	char		 err[256];

	if ((a = snapshot_build(old, origin, err, sizeof(err))) == NULL ||
	    (b = snapshot_build(new, origin, err, sizeof(err))) == NULL ||
	    snapshot_diff(a, b, &removed, &added) == -1)
		xfr_journal_clear(j);
	else
		xfr_journal_add(j, ldns_rr_clone(a->soa_rr), ldns_rr_clone(b->soa_rr), removed,
		    added, b->nrrs);
	snapshot_free(a);
	snapshot_free(b);
}

void
xfr_journal_add(struct xfr_journal *j, ldns_rr *from_soa, ldns_rr *to_soa,
    ldns_rr_list *removed, ldns_rr_list *added, size_t zone_rrs)
{
	struct xfr_change *c = calloc(1, sizeof(*c));

	if (c == NULL || from_soa == NULL || to_soa == NULL || removed == NULL || added == NULL) {
		free(c);
		if (from_soa)
			ldns_rr_free(from_soa);
		if (to_soa)
			ldns_rr_free(to_soa);
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		xfr_journal_clear(j);
		return;
	}
	c->from_soa = from_soa;
	c->to_soa = to_soa;
	c->removed = removed;
	c->added = added;
	xfr_journal_push(j, c, zone_rrs);
}
