/*
 * xfr.c - outgoing zone transfers over TCP: AXFR (RFC 5936), and IXFR
 * (RFC 1995) answered with the SOA alone when the client is current, else
 * with the whole zone in AXFR form, which RFC 1995 section 4 allows.
 *
 * The server's control thread gives us a query read from a TCP connection
 * and the current zone; we return the list of DNS messages to send (the
 * caller adds the 2-byte TCP lengths). Access is for dns.allow_transfer
 * addresses or a request signed with dns.update_key; every message of a
 * signed transfer is signed, chained as RFC 8945 5.3.1 says. The zone is
 * only read, never changed.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "dnsd/xfr.h"

#define XFR_MSG_BUDGET	16000	/* uncompressed RR bytes per message */
#define XFR_TSIG_ROOM	1024
#define XFR_MSG_MAX	65535	/* what a TCP length prefix can carry */

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

/* Wire form of p, signed when st says so, appended to out. */
static int
xfr_emit(struct xfr_msgs *out, const ldns_pkt *p, const struct conf_dns *dns,
    struct tsig_state *st, int first)
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
		if ((r = tsig_sign_reply(b, n, n + XFR_TSIG_ROOM, &dns->update_key,
		    st, first)) < 0) {
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
	if (xfr_push(out, b, n) < 0) {
		free(b);
		return -1;
	}
	return 0;
}

/* A reply with no answer: header and question only (q may be NULL). */
static int
xfr_error(struct xfr_msgs *out, const uint8_t *wire, const ldns_pkt *q, int rcode,
    const struct conf_dns *dns, struct tsig_state *st)
{
	ldns_pkt *p = ldns_pkt_new();
	int rc;

	if (p == NULL)
		return -1;
	ldns_pkt_set_id(p, (uint16_t)(wire[0] << 8 | wire[1]));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_opcode(p, (ldns_pkt_opcode)((wire[2] >> 3) & 0x0f));
	ldns_pkt_set_rd(p, wire[2] & 0x01);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	if (q && ldns_pkt_qdcount(q) == 1) {
		ldns_rr *qr = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
		if (qr == NULL || !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qr)) {
			ldns_rr_free(qr);
			ldns_pkt_free(p);
			return -1;
		}
	}
	rc = xfr_emit(out, p, dns, st, 1);
	ldns_pkt_free(p);
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

/* The zone in AXFR form: SOA, every RR, SOA; split by size. */
static int
xfr_full(struct xfr_msgs *out, const uint8_t *wire, const ldns_pkt *q,
    const ldns_zone *zone, int soa_only, const struct conf_dns *dns,
    struct tsig_state *st)
{
	const ldns_rr_list *rrs = ldns_zone_rrs(zone);
	size_t n = rrs ? ldns_rr_list_rr_count(rrs) : 0, i = 0, budget = 0;
	ldns_pkt *p = NULL;
	int first = 1, stage = 0;	/* 0: opening SOA, 1: RRs, 2: closing SOA */

	for (;;) {
		const ldns_rr *rr;
		ldns_rr *c;

		if (stage == 0)
			rr = ldns_zone_soa(zone);
		else if (stage == 1 && i < n)
			rr = ldns_rr_list_rr(rrs, i++);
		else if (stage == 1) {
			stage = 2;
			continue;
		} else if (stage == 2)
			rr = ldns_zone_soa(zone);
		else
			break;
		if (stage == 1 && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			continue;
		if (p && budget + ldns_rr_uncompressed_size(rr) > XFR_MSG_BUDGET) {
			if (xfr_emit(out, p, dns, st, first) < 0)
				goto fail;
			ldns_pkt_free(p);
			p = NULL;
			first = 0;
		}
		if (p == NULL) {
			if ((p = ldns_pkt_new()) == NULL)
				goto fail;
			ldns_pkt_set_id(p, (uint16_t)(wire[0] << 8 | wire[1]));
			ldns_pkt_set_qr(p, true);
			ldns_pkt_set_aa(p, true);
			budget = 0;
			if (first) {
				ldns_rr *qr = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
				if (qr == NULL || !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qr)) {
					ldns_rr_free(qr);
					goto fail;
				}
			}
		}
		if ((c = ldns_rr_clone(rr)) == NULL ||
		    !ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, c)) {
			ldns_rr_free(c);
			goto fail;
		}
		budget += ldns_rr_uncompressed_size(rr);
		if (stage == 0)
			stage = soa_only ? 3 : 1;
		else if (stage == 2)
			stage = 3;
	}
	if (p && xfr_emit(out, p, dns, st, first) < 0)
		goto fail;
	if (p)
		ldns_pkt_free(p);
	return 0;
fail:
	if (p)
		ldns_pkt_free(p);
	return -1;
}

int
xfr_answer(const uint8_t *wire, size_t len, const struct sockaddr *peer,
    const ldns_zone *zone, const char *origin, const struct conf_dns *dns,
    struct xfr_msgs *out)
{
	struct tsig_state st, st_first;
	ldns_pkt *q = NULL;
	ldns_rr *qr;
	ldns_rdf *apex = NULL;
	int trc, rc = 0, soa_only = 0;

	memset(out, 0, sizeof(*out));
	if (len < 12 || (wire[2] & 0x80))
		return -1;
	trc = tsig_verify_request(wire, len, &dns->update_key, &st);
	if (trc == -2)
		st.present = 0;
	if (ldns_wire2pkt(&q, wire, len) != LDNS_STATUS_OK) {
		q = NULL;
		rc = xfr_error(out, wire, NULL, LDNS_RCODE_FORMERR, dns, &st);
		goto done;
	}
	if (trc == -2 || ldns_pkt_qdcount(q) != 1 ||
	    (qr = ldns_rr_list_rr(ldns_pkt_question(q), 0)) == NULL ||
	    (ldns_rr_get_type(qr) != LDNS_RR_TYPE_AXFR &&
	    ldns_rr_get_type(qr) != LDNS_RR_TYPE_IXFR)) {
		rc = xfr_error(out, wire, q, LDNS_RCODE_FORMERR, dns, &st);
		goto done;
	}
	if (trc > 0) {
		/* RFC 8945 5.2: NOTAUTH with the TSIG error. */
		rc = xfr_error(out, wire, q, LDNS_RCODE_NOTAUTH, dns, &st);
		goto done;
	}
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK) {
		rc = xfr_error(out, wire, q, LDNS_RCODE_SERVFAIL, dns, &st);
		goto done;
	}
	if (ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN ||
	    ldns_dname_compare(ldns_rr_owner(qr), apex) != 0) {
		/* Not our zone: REFUSED, as the query fast path answers it. */
		rc = xfr_error(out, wire, q, LDNS_RCODE_REFUSED, dns, &st);
		goto done;
	}
	if ((trc != TSIG_OK && !xfr_peer_allowed(peer, dns)) ||
	    ldns_zone_soa(zone) == NULL) {
		rc = xfr_error(out, wire, q, LDNS_RCODE_REFUSED, dns, &st);
		goto done;
	}
	if (ldns_rr_get_type(qr) == LDNS_RR_TYPE_IXFR) {
		const ldns_rr_list *auth = ldns_pkt_authority(q);

		for (size_t i = 0; auth && i < ldns_rr_list_rr_count(auth); i++) {
			ldns_rr *s = ldns_rr_list_rr(auth, i);

			if (ldns_rr_get_type(s) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(s) == 7) {
				uint32_t theirs = ldns_rdf2native_int32(ldns_rr_rdf(s, 2));
				uint32_t ours = ldns_rdf2native_int32(
				    ldns_rr_rdf(ldns_zone_soa(zone), 2));

				/* Current or newer (RFC 1982): the SOA alone. */
				soa_only = (int32_t)(ours - theirs) <= 0;
			}
		}
	}
	st_first = st;
	if ((rc = xfr_full(out, wire, q, zone, soa_only, dns, &st)) < 0) {
		/* Nothing half-sent: one SERVFAIL, signed over the request. */
		xfr_msgs_free(out);
		rc = xfr_error(out, wire, q, LDNS_RCODE_SERVFAIL, dns, &st_first);
	}
done:
	if (rc < 0)
		xfr_msgs_free(out);
	if (apex)
		ldns_rdf_deep_free(apex);
	if (q)
		ldns_pkt_free(q);
	return rc < 0 ? -1 : 0;
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
