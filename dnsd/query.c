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

#define OPCODE_QUERY	0
#define OPCODE_NOTIFY	4
#define OPCODE_UPDATE	5

#define RCODE_NOERROR	0
#define RCODE_FORMERR	1
#define RCODE_NXDOMAIN	3
#define RCODE_NOTIMP	4
#define RCODE_REFUSED	5
#define RCODE_BADVERS	16

#define TYPE_OPT	41
#define TYPE_TKEY	249
#define TYPE_TSIG	250
#define TYPE_IXFR	251
#define TYPE_AXFR	252

#define CLASS_IN	1
#define OPT_LEN		11

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * Skip a possibly compressed name in a record of the request. Returns the
 * offset just past it, or 0 when it runs off the end or is not a name.
 */
static size_t
name_skip(const uint8_t *wire, size_t len, size_t pos)
{
	size_t total = 0;

	while (pos < len) {
		uint8_t b = wire[pos];

		if (b == 0)
			return pos + 1;
		if ((b & 0xc0) == 0xc0)
			return pos + 2 <= len ? pos + 2 : 0;
		if (b & 0xc0)
			return 0;
		total += b + 1;
		if (total > 255)
			return 0;
		pos += 1 + b;
	}
	return 0;
}

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
		if (b & 0xc0)
			return -1;	/* a pointer has nothing before it to point at */
		if (n + 1 + b > DNS_NAME_MAX || pos + 1 + b > len)
			return -1;
		q->qname_lc[n++] = b;
		if (b == 0)
			break;
		for (size_t i = 1; i <= b; i++) {
			uint8_t c = wire[pos + i];

			q->qname_lc[n++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		}
		pos += 1 + b;
	}
	pos++;
	if (pos + 4 > len)
		return -1;
	q->qname_len = n;
	q->qtype = rd16(wire + pos);
	q->qclass = rd16(wire + pos + 2);
	q->question_end = pos + 4;
	return 0;
}

/* The options of an OPT record must fill its rdata exactly. */
static int
opt_options_check(const uint8_t *p, size_t rdlen)
{
	size_t pos = 0;

	while (pos + 4 <= rdlen)
		pos += 4 + (size_t)rd16(p + pos + 2);
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

		if ((pos = name_skip(wire, len, pos)) == 0 || pos + 10 > len)
			return -1;
		type = rd16(wire + pos);
		ttl = (uint32_t)rd16(wire + pos + 4) << 16 | rd16(wire + pos + 6);
		rdlen = rd16(wire + pos + 8);
		if (pos + 10 + rdlen > len)
			return -1;
		if (i >= nrecords - nadditional) {
			if (type == TYPE_OPT) {
				if (q->edns || pos != start + 1 || wire[start] != 0)
					return -1;	/* two OPTs, or not at the root */
				if (opt_options_check(wire + pos + 10, rdlen) == -1)
					return -1;
				q->edns = 1;
				q->edns_size = rd16(wire + pos + 2);
				if (q->edns_size < 512)
					q->edns_size = 512;
				q->edns_version = (ttl >> 16) & 0xff;
				q->edns_do = (ttl & 0x8000) != 0;
			} else if (type == TYPE_TSIG) {
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

	if (len < DNS_HEADER_LEN || (wire[2] & 0x80))
		return QUERY_DROP;
	q->wire = wire;
	q->len = len;
	q->id = rd16(wire);
	q->opcode = (wire[2] >> 3) & 0x0f;
	q->qtype = q->qclass = 0;
	q->qname_len = q->question_end = 0;
	q->edns = q->edns_do = q->has_tsig = 0;
	q->edns_size = 512;
	q->edns_version = 0;
	q->rcode = RCODE_NOERROR;
	qd = rd16(wire + 4);
	an = rd16(wire + 6);
	ns = rd16(wire + 8);
	ar = rd16(wire + 10);

	if (qd == 1 && question_parse(wire, len, q) == -1)
		q->question_end = 0;
	if (q->opcode != OPCODE_QUERY && q->opcode != OPCODE_NOTIFY &&
	    q->opcode != OPCODE_UPDATE) {
		/* Still look for an OPT, so the reply can carry ours. */
		if ((qd == 0 || q->question_end) &&
		    records_parse(wire, len, q, (size_t)an + ns + ar, ar) == -1)
			q->edns = 0;
		q->rcode = RCODE_NOTIMP;
		return QUERY_REPLY;
	}
	if (qd != 1 || q->question_end == 0) {
		q->rcode = RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (q->opcode == OPCODE_QUERY && (an != 0 ||
	    (ns != 0 && !(q->qtype == TYPE_IXFR && ns == 1)))) {
		q->rcode = RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (records_parse(wire, len, q, (size_t)an + ns + ar, ar) == -1) {
		q->edns = 0;
		q->rcode = RCODE_FORMERR;
		return QUERY_REPLY;
	}
	if (q->edns && q->edns_version > 0)
		q->rcode = RCODE_BADVERS;
	return QUERY_REPLY;
}

/* Header and question of a reply; returns the offset after them. */
static size_t
reply_start(const struct query *q, uint8_t *out, int aa, int rcode)
{
	size_t n = q->question_end ? q->question_end : DNS_HEADER_LEN;

	memcpy(out, q->wire, n);
	out[2] = 0x80 | (q->opcode << 3) | (aa ? 0x04 : 0) | (q->wire[2] & 0x01);
	out[3] = (q->wire[3] & 0x10) | (rcode & 0x0f);
	wr16(out + 4, q->question_end ? 1 : 0);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, 0);
	return n;
}

static size_t
reply_opt(const struct query *q, uint8_t *out, size_t at, int rcode)
{
	uint8_t *p = out + at;

	p[0] = 0;
	wr16(p + 1, TYPE_OPT);
	wr16(p + 3, EDNS_OUR_SIZE);
	p[5] = (uint8_t)(rcode >> 4);	/* extended rcode */
	p[6] = 0;			/* version */
	p[7] = q->edns_do ? 0x80 : 0;
	p[8] = 0;
	wr16(p + 9, 0);
	wr16(out + 10, rd16(out + 10) + 1);
	return at + OPT_LEN;
}

size_t
query_error(const struct query *q, int rcode, uint8_t *out, size_t outmax)
{
	size_t n;

	if (outmax < (q->question_end ? q->question_end : DNS_HEADER_LEN) + OPT_LEN)
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
	size_t	opt = q->edns ? OPT_LEN : 0, n, body, i;
	uint16_t ar = a->arcount, apex_at;

	n = reply_start(q, out, 1, a->rcode);
	if (n + a->len + opt <= limit)
		body = a->len;
	else if (n + a->len_noadd + opt <= limit) {
		body = a->len_noadd;
		ar = 0;
	} else {
		out[2] |= 0x02;		/* TC: the client asks again over TCP */
		return q->edns ? reply_opt(q, out, n, 0) : n;
	}
	memcpy(out + n, a->body, body);
	apex_at = (uint16_t)(DNS_HEADER_LEN + q->qname_len - snap->apex_len);
	for (i = 0; i < a->npatch; i++)
		if (a->patch[i] + 2u <= body)
			wr16(out + n + a->patch[i], 0xc000 | apex_at);
	wr16(out + 6, a->ancount);
	wr16(out + 8, a->nscount);
	wr16(out + 10, ar);
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
	if (q->rcode != RCODE_NOERROR) {
		*outlen = query_error(q, q->rcode, out, outmax);
		return *outlen ? QUERY_REPLY : QUERY_DROP;
	}
	if (q->opcode == OPCODE_UPDATE || q->has_tsig)
		return QUERY_SLOW;
	if (q->opcode == OPCODE_NOTIFY) {
		/* We are the primary: nobody has anything to tell us. */
		*outlen = query_error(q, RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	if (q->qclass != CLASS_IN) {
		*outlen = query_error(q, RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	switch (q->qtype) {
	case TYPE_OPT: case TYPE_TKEY: case TYPE_TSIG:
		*outlen = query_error(q, RCODE_FORMERR, out, outmax);
		return QUERY_REPLY;
	case TYPE_AXFR: case TYPE_IXFR:
		if (!query_in_zone(q, snap) || q->qname_len != snap->apex_len) {
			*outlen = query_error(q, RCODE_REFUSED, out, outmax);
			return QUERY_REPLY;	/* we transfer our zone only */
		}
		if (transport == QUERY_TRANSPORT_TCP)
			return QUERY_SLOW;
		if (q->qtype == TYPE_AXFR) {
			*outlen = query_error(q, RCODE_FORMERR, out, outmax);
		} else {
			/* IXFR over UDP: "ask over TCP" (RFC 1995 section 2). */
			*outlen = query_error(q, RCODE_NOERROR, out, outmax);
			out[2] |= 0x06;
		}
		return QUERY_REPLY;
	default:
		break;
	}
	if (!query_in_zone(q, snap)) {
		*outlen = query_error(q, RCODE_REFUSED, out, outmax);
		return QUERY_REPLY;
	}
	ne = snapshot_lookup(snap, q->qname_lc, q->qname_len);
	a = ne == NULL ? &snap->nxdomain : snapshot_answer(snap, ne, q->qtype);
	*outlen = reply_answer(q, snap, a, transport, out, outmax);
	return QUERY_REPLY;
}
