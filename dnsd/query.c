/*
 * query.c - the query fast path.
 *
 * Every UDP and TCP query goes through here: the header, question and
 * additional section are checked by hand, the name is looked up in the
 * snapshot, and the reply is the request's own header and question
 * (copied byte for byte, so the 0x20 case is kept) followed by a
 * precompiled answer body and, when asked for, an OPT record.
 *
 * This file must never allocate, block, take a lock or call ldns: it runs
 * once per packet in every worker, on input from anyone. Every read of the
 * request is checked against its length.
 */
#include <string.h>

#include "dnsd/query.h"
#include "dnsd/snapshot.h"
#include "dnsd/wire.h"

/* Parse the question's name at offset 12: no pointers, no odd labels. */
static int
question_parse(const uint8_t *wire, size_t len, struct query *q)
{
	size_t pos = DNS_HEADER_LEN, n = 0;

	for (;;) {
		uint8_t b;

		if (pos >= len)
			return -1;
		b = wire[pos];
		if (b & DNS_PTR_MASK)
			return -1;	/* a pointer has nothing before it to point at */
		if (n + 1 + b > DNS_NAME_MAX || pos + 1 + b > len)
			return -1;
		q->qname_lc[n++] = b;
		if (b == 0)
			break;
		for (size_t i = 1; i <= b; i++) {
			uint8_t c = wire[pos + i];

			q->qname_lc[n++] = dns_lower(c);
		}
		pos += 1 + b;
	}
	pos++;
	if (pos + 4 > len)
		return -1;
	q->qname_len = n;
	q->qtype = dns_rd16(wire + pos);
	q->qclass = dns_rd16(wire + pos + 2);
	q->question_end = pos + 4;
	return 0;
}

/* The options of an OPT record must fill its rdata exactly. */
static int
opt_options_check(const uint8_t *p, size_t rdlen)
{
	size_t pos = 0;

	while (pos + 4 <= rdlen)
		pos += 4 + (size_t)dns_rd16(p + pos + 2);
	return pos == rdlen ? 0 : -1;
}

/* Walk the answer, authority and additional records: OPT and TSIG. */
static int
records_parse(const uint8_t *wire, size_t len, struct query *q, size_t nrecords,
    size_t nadditional)
{
	size_t pos = q->question_end ? q->question_end : DNS_HEADER_LEN, i;

	for (i = 0; i < nrecords; i++) {
		size_t start = pos, rdlen;
		uint16_t type;
		uint32_t ttl;

		if ((pos = dns_name_skip(wire, len, pos)) == 0 || pos + 10 > len)
			return -1;
		type = dns_rd16(wire + pos);
		ttl = dns_rd32(wire + pos + 4);
		rdlen = dns_rd16(wire + pos + 8);
		if (pos + 10 + rdlen > len)
			return -1;
		if (i >= nrecords - nadditional) {
			if (type == DNS_TYPE_OPT) {
				if (q->edns || pos != start + 1 || wire[start] != 0)
					return -1;	/* two OPTs, or not at the root */
				if (opt_options_check(wire + pos + 10, rdlen) == -1)
					return -1;
				q->edns = 1;
				q->edns_size = dns_rd16(wire + pos + 2);
				if (q->edns_size < 512)
					q->edns_size = 512;
				q->edns_version = (ttl >> 16) & 0xff;
				q->edns_do = (ttl & 0x8000) != 0;
			} else if (type == DNS_TYPE_TSIG) {
				if (i != nrecords - 1)
					return -1;	/* TSIG must be the last record */
				q->has_tsig = 1;
			}
		}
		pos += 10 + rdlen;
	}
	return 0;
}

enum query_verdict
query_parse(const uint8_t *wire, size_t len, struct query *q)
{
	uint16_t qd, an, ns, ar;

	if (len < DNS_HEADER_LEN || (wire[DNS_OFF_FLAGS1] & DNS_FLAG_QR))
		return QUERY_DROP;
	q->wire = wire;
	q->len = len;
	q->id = dns_rd16(wire);
	q->opcode = (wire[DNS_OFF_FLAGS1] >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK;
	q->qtype = q->qclass = 0;
	q->qname_len = q->question_end = 0;
	q->edns = q->edns_do = q->has_tsig = 0;
	q->edns_size = 512;
	q->edns_version = 0;
	q->rcode = DNS_RCODE_NOERROR;
	qd = dns_rd16(wire + DNS_OFF_QDCOUNT);
	an = dns_rd16(wire + DNS_OFF_ANCOUNT);
	ns = dns_rd16(wire + DNS_OFF_NSCOUNT);
	ar = dns_rd16(wire + DNS_OFF_ARCOUNT);

	if (qd == 1 && question_parse(wire, len, q) == -1)
		q->question_end = 0;
	if (q->opcode != DNS_OPCODE_QUERY && q->opcode != DNS_OPCODE_NOTIFY &&
	    q->opcode != DNS_OPCODE_UPDATE) {
		/* Still look for an OPT, so the reply can carry ours. */
		if ((qd == 0 || q->question_end) &&
		    records_parse(wire, len, q, (size_t)an + ns + ar, ar) == -1)
			q->edns = 0;
		q->rcode = DNS_RCODE_NOTIMP;
		return QUERY_REPLY;
	}
	if (qd != 1 || q->question_end == 0) {
		q->rcode = DNS_RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (q->opcode == DNS_OPCODE_QUERY && (an != 0 ||
	    (ns != 0 && !(q->qtype == DNS_TYPE_IXFR && ns == 1)))) {
		q->rcode = DNS_RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (records_parse(wire, len, q, (size_t)an + ns + ar, ar) == -1) {
		q->edns = 0;
		q->rcode = DNS_RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (q->edns && q->edns_version > 0)
		q->rcode = DNS_RCODE_BADVERS;
	return QUERY_REPLY;
}

/* Header and question of a reply; returns the offset after them. */
static size_t
reply_start(const struct query *q, uint8_t *out, int aa, int rcode)
{
	size_t n = q->question_end ? q->question_end : DNS_HEADER_LEN;

	memcpy(out, q->wire, n);
	out[DNS_OFF_FLAGS1] = DNS_FLAG_QR | (q->opcode << DNS_OPCODE_SHIFT) |
	    (aa ? DNS_FLAG_AA : 0) | (q->wire[DNS_OFF_FLAGS1] & DNS_FLAG_RD);
	out[DNS_OFF_FLAGS2] = (q->wire[DNS_OFF_FLAGS2] & DNS_FLAG_CD) | (rcode & DNS_RCODE_MASK);
	dns_wr16(out + DNS_OFF_QDCOUNT, q->question_end ? 1 : 0);
	dns_wr16(out + DNS_OFF_ANCOUNT, 0);
	dns_wr16(out + DNS_OFF_NSCOUNT, 0);
	dns_wr16(out + DNS_OFF_ARCOUNT, 0);
	return n;
}

static size_t
reply_opt(const struct query *q, uint8_t *out, size_t at, int rcode)
{
	uint8_t *p = out + at;

	p[0] = 0;
	dns_wr16(p + 1, DNS_TYPE_OPT);
	dns_wr16(p + 3, EDNS_OUR_SIZE);
	p[5] = (uint8_t)(rcode >> 4);	/* extended rcode */
	p[6] = 0;			/* version */
	p[7] = q->edns_do ? 0x80 : 0;
	p[8] = 0;
	dns_wr16(p + 9, 0);
	dns_wr16(out + DNS_OFF_ARCOUNT, dns_rd16(out + DNS_OFF_ARCOUNT) + 1);
	return at + DNS_OPT_LEN;
}

size_t
query_error(const struct query *q, int rcode, uint8_t *out, size_t outmax)
{
	size_t n;

	if (outmax < (q->question_end ? q->question_end : DNS_HEADER_LEN) + DNS_OPT_LEN)
		return 0;
	n = reply_start(q, out, 0, rcode);
	if (q->edns)
		n = reply_opt(q, out, n, rcode);
	return n;
}

/* The largest reply this transport and this client allow. */
static size_t
reply_limit(const struct query *q, int transport, size_t outmax)
{
	size_t limit;

	if (transport == QUERY_TRANSPORT_TCP)
		limit = 65535;
	else if (q->edns)
		limit = q->edns_size < EDNS_OUR_SIZE ? q->edns_size : EDNS_OUR_SIZE;
	else
		limit = 512;
	return limit < outmax ? limit : outmax;
}

static size_t
reply_answer(const struct query *q, const struct snapshot *snap, const struct answer *a,
    int transport, uint8_t *out, size_t outmax)
{
	size_t	limit = reply_limit(q, transport, outmax);
	size_t	opt = q->edns ? DNS_OPT_LEN : 0, n, body, i;
	uint16_t ar = a->arcount, apex_at;

	n = reply_start(q, out, 1, a->rcode);
	if (n + a->len + opt <= limit)
		body = a->len;
	else if (n + a->len_noadd + opt <= limit) {
		body = a->len_noadd;
		ar = 0;
	} else {
		out[DNS_OFF_FLAGS1] |= DNS_FLAG_TC;	/* the client asks again over TCP */
		return q->edns ? reply_opt(q, out, n, 0) : n;
	}
	memcpy(out + n, a->body, body);
	apex_at = (uint16_t)(DNS_HEADER_LEN + q->qname_len - snap->apex_len);
	for (i = 0; i < a->npatch; i++)
		if (a->patch[i] + 2u <= body)
			dns_wr16(out + n + a->patch[i], DNS_PTR << 8 | apex_at);
	dns_wr16(out + DNS_OFF_ANCOUNT, a->ancount);
	dns_wr16(out + DNS_OFF_NSCOUNT, a->nscount);
	dns_wr16(out + DNS_OFF_ARCOUNT, ar);
	n += body;
	return q->edns ? reply_opt(q, out, n, 0) : n;
}

/* Is the question's name the apex or below it? */
static int
query_in_zone(const struct query *q, const struct snapshot *snap)
{
	size_t pos = 0;

	while (q->qname_len - pos > snap->apex_len) {
		if (q->qname_lc[pos] == 0)
			return 0;
		pos += 1 + q->qname_lc[pos];
	}
	return q->qname_len - pos == snap->apex_len &&
	    memcmp(q->qname_lc + pos, snap->apex, snap->apex_len) == 0;
}

enum query_verdict
query_answer(const struct snapshot *snap, const struct query *q, int transport,
    uint8_t *out, size_t outmax, size_t *outlen)
{
	const struct name_entry	*ne;
	const struct answer	*a;

	*outlen = 0;
	if (outmax < 512)
		return QUERY_DROP;
	if (q->rcode != DNS_RCODE_NOERROR) {
		*outlen = query_error(q, q->rcode, out, outmax);
		return *outlen ? QUERY_REPLY : QUERY_DROP;
	}
	if (q->opcode == DNS_OPCODE_UPDATE || q->has_tsig)
		return QUERY_SLOW;
	if (q->opcode == DNS_OPCODE_NOTIFY) {
		/* We are the primary: nobody has anything to tell us. */
		*outlen = query_error(q, DNS_RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	if (q->qclass != DNS_CLASS_IN) {
		*outlen = query_error(q, DNS_RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	switch (q->qtype) {
	case DNS_TYPE_OPT: case DNS_TYPE_TKEY: case DNS_TYPE_TSIG:
		*outlen = query_error(q, DNS_RCODE_FORMERR, out, outmax);
		return QUERY_REPLY;
	case DNS_TYPE_AXFR: case DNS_TYPE_IXFR:
		if (!query_in_zone(q, snap) || q->qname_len != snap->apex_len) {
			*outlen = query_error(q, DNS_RCODE_REFUSED, out, outmax);
			return QUERY_REPLY;	/* we transfer our zone only */
		}
		if (transport == QUERY_TRANSPORT_TCP)
			return QUERY_SLOW;
		if (q->qtype == DNS_TYPE_AXFR) {
			*outlen = query_error(q, DNS_RCODE_FORMERR, out, outmax);
		} else {
			/* IXFR over UDP: "ask over TCP" (RFC 1995 section 2). */
			*outlen = query_error(q, DNS_RCODE_NOERROR, out, outmax);
			out[DNS_OFF_FLAGS1] |= DNS_FLAG_AA | DNS_FLAG_TC;
		}
		return QUERY_REPLY;
	default:
		break;
	}
	if (!query_in_zone(q, snap)) {
		*outlen = query_error(q, DNS_RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	ne = snapshot_lookup(snap, q->qname_lc, q->qname_len);
	a = ne == NULL ? &snap->nxdomain : snapshot_answer(snap, ne, q->qtype);
	*outlen = reply_answer(q, snap, a, transport, out, outmax);
	return QUERY_REPLY;
}
