/*
 * test_query.c - unit tests of the query fast path (dnsd/query.c).
 *
 * query_parse() sees hostile bytes from anyone, so most cases here are
 * malformed packets built byte by byte: short and zero-length packets and
 * QR=1 are dropped; truncated questions, compression pointers and odd
 * label types in the question, names over 255 bytes, QDCOUNT != 1 and
 * records in the answer/authority sections are FORMERR; the OPT record is
 * parsed (size with its 512 floor, version, DO) and rejected when doubled,
 * not at the root or with options overrunning it; a TSIG is detected.
 * Then query_answer() and query_error() are run against a snapshot built
 * from a small zone to check the replies the parser's verdicts lead to.
 *
 * The tests never touch the network and must not depend on the order
 * they run in: every packet is built in a local buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "dnsd/query.h"
#include "dnsd/snapshot.h"
#include "dnsd/wire.h"
#include "tests/unit/unit_msg.h"

/* The usual query: id 0x1234, RD, one question, optional OPT. */
static void
pkt_query(struct unit_pkt *p, const char *name, uint16_t qtype, int edns)
{
	unit_pkt_header(p, 0x1234, 0x0100, 1, 0, 0, edns ? 1 : 0);
	unit_pkt_question(p, name, qtype, 1);
	if (edns)
		unit_pkt_opt(p, 1232, 0, 0, NULL, 0);
}

static enum query_verdict
parse(const struct unit_pkt *p, struct query *q)
{
	memset(q, 0xa5, sizeof(*q));	/* nothing may be left from before */
	return query_parse(p->b, p->len, q);
}

static void
assert_formerr(const struct unit_pkt *p)
{
	struct query q;

	assert_int_equal(parse(p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_FORMERR);
}

/* ---------------------------------------------------------------- drop */

static void
test_short_packets_dropped(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	size_t		n;

	(void)state;
	pkt_query(&p, "redis.svc.test", 1, 0);
	assert_int_equal(query_parse(p.b, 0, &q), QUERY_DROP);
	for (n = 1; n < DNS_HEADER_LEN; n++)
		assert_int_equal(query_parse(p.b, n, &q), QUERY_DROP);
	/* 12 bytes exactly is a header: not dropped (QDCOUNT 1 but no question) */
	assert_int_equal(query_parse(p.b, DNS_HEADER_LEN, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_FORMERR);
}

static void
test_qr_dropped(void **state)
{
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	pkt_query(&p, "redis.svc.test", 1, 0);
	p.b[2] |= DNS_FLAG_QR;
	assert_int_equal(parse(&p, &q), QUERY_DROP);
	unit_pkt_header(&p, 1, 0x8000 | (2 << 11), 0, 0, 0, 0);	/* QR + odd opcode */
	assert_int_equal(parse(&p, &q), QUERY_DROP);
}

/* ----------------------------------------------------------- good parse */

static void
test_valid_query_parsed(void **state)
{
	static const uint8_t lc[] = "\x05redis\x03svc\x04test";
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 0xbeef, 0x0100, 1, 0, 0, 0);
	unit_pkt_question(&p, "ReDiS.SvC.TEST", 28, 1);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.opcode, 0);
	assert_int_equal(q.qtype, 28);
	assert_int_equal(q.qclass, 1);
	assert_int_equal(q.qname_len, sizeof(lc));	/* with the root byte */
	assert_memory_equal(q.qname_lc, lc, sizeof(lc));
	assert_int_equal(q.question_end, p.len);
	assert_int_equal(q.edns, 0);
	assert_int_equal(q.has_tsig, 0);
	assert_ptr_equal(q.wire, p.b);
	assert_int_equal(q.len, p.len);
	/* the caller's bytes keep their case: only qname_lc is lowered */
	assert_memory_equal(p.b + 13, "ReDiS", 5);
}

static void
test_root_name_and_classes(void **state)
{
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
	unit_pkt_question(&p, "", 2, 3);		/* . NS CH */
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.qname_lc[0], 0);
	assert_int_equal(q.qtype, 2);
	assert_int_equal(q.qclass, 3);
}

static void
test_lowercase_only_ascii(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	uint8_t		label[6] = { 5, 'A', 'Z', '@', '[', 0xc1 };

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
	unit_pkt_put(&p, label, sizeof(label));
	unit_pkt_put(&p, "\0\0\1\0\1", 5);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(q.qname_lc[1], 'a');
	assert_int_equal(q.qname_lc[2], 'z');
	assert_int_equal(q.qname_lc[3], '@');
	assert_int_equal(q.qname_lc[4], '[');
	assert_int_equal(q.qname_lc[5], 0xc1);	/* bytes over 0x7f untouched */
}

/* --------------------------------------------------------- bad question */

static void
test_truncated_question(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	size_t		cut, full;

	(void)state;
	pkt_query(&p, "redis.svc.test", 1, 0);
	full = p.len;
	for (cut = DNS_HEADER_LEN + 1; cut < full; cut++) {
		assert_int_equal(query_parse(p.b, cut, &q), QUERY_REPLY);
		assert_int_equal(q.rcode, DNS_RCODE_FORMERR);
		assert_int_equal(q.question_end, 0);
	}
}

static void
test_compression_in_question(void **state)
{
	static const uint8_t cases[][8] = {
		{ 0xc0, 0x0c },				/* to itself */
		{ 0x01, 'a', 0xc0, 0x0c },		/* loop to the start */
		{ 0x01, 'a', 0xc0, 0x00 },		/* into the header */
		{ 0xc0, 0x11, 0x00 },
	};
	struct unit_pkt	p;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i][0] == 0xc0 ? 2 : 4;

		unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
		unit_pkt_put(&p, cases[i], n);
		unit_pkt_put(&p, "\0\1\0\1", 4);
		unit_pkt_name(&p, "svc.test");		/* something to point at */
		assert_formerr(&p);
	}
}

static void
test_bad_label_types(void **state)
{
	static const uint8_t types[] = { 0x40, 0x41, 0x7f, 0x80, 0xbf };
	uint8_t		data[128];
	struct unit_pkt	p;
	size_t		i;

	(void)state;
	memset(data, 'a', sizeof(data));
	for (i = 0; i < sizeof(types); i++) {
		unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
		unit_pkt_put(&p, &types[i], 1);
		unit_pkt_put(&p, data, types[i] & 0x3f);
		unit_pkt_name(&p, "svc.test");
		unit_pkt_put(&p, "\0\1\0\1", 4);
		assert_formerr(&p);
	}
	/* 63 is the longest label and fine */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
	unit_pkt_put(&p, "\x3f", 1);
	unit_pkt_put(&p, data, 63);
	unit_pkt_name(&p, "svc.test");
	unit_pkt_put(&p, "\0\1\0\1", 4);
	{
		struct query q;

		assert_int_equal(parse(&p, &q), QUERY_REPLY);
		assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
		assert_int_equal(q.qname_len, 64 + 10);
	}
}

/* A name of exactly total wire bytes, made of labels of at most 63. */
static void
pkt_long_name(struct unit_pkt *p, size_t total)
{
	uint8_t		data[63];
	size_t		left = total - 1;	/* the root byte */

	memset(data, 'x', sizeof(data));
	while (left > 0) {
		uint8_t n = left > 64 ? 63 : (uint8_t)(left - 1);

		if (left > 64 && left - 64 == 1)
			n = 62;		/* never leave a 1-byte remainder */
		unit_pkt_put(p, &n, 1);
		unit_pkt_put(p, data, n);
		left -= (size_t)n + 1;
	}
	unit_pkt_put(p, "", 1);
}

static void
test_name_length_limit(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	size_t		total;

	(void)state;
	for (total = 250; total <= 260; total++) {
		unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
		pkt_long_name(&p, total);
		assert_int_equal(p.len - DNS_HEADER_LEN, total);
		unit_pkt_put(&p, "\0\1\0\1", 4);
		assert_int_equal(parse(&p, &q), QUERY_REPLY);
		if (total <= DNS_NAME_MAX) {
			assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
			assert_int_equal(q.qname_len, total);
		} else
			assert_int_equal(q.rcode, DNS_RCODE_FORMERR);
	}
	/* many 1-byte labels past 255 */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
	for (total = 0; total < 130; total++)
		unit_pkt_put(&p, "\x01y", 2);
	unit_pkt_put(&p, "\0\0\1\0\1", 5);
	assert_formerr(&p);
}

static void
test_qdcount_not_one(void **state)
{
	struct unit_pkt p;

	(void)state;
	unit_pkt_header(&p, 1, 0, 0, 0, 0, 0);
	assert_formerr(&p);
	unit_pkt_header(&p, 1, 0, 2, 0, 0, 0);
	unit_pkt_question(&p, "a.svc.test", 1, 1);
	unit_pkt_question(&p, "b.svc.test", 1, 1);
	assert_formerr(&p);
	unit_pkt_header(&p, 1, 0, 0xffff, 0, 0, 0);
	unit_pkt_question(&p, "a.svc.test", 1, 1);
	assert_formerr(&p);
}

static void
test_records_in_query(void **state)
{
	static const uint8_t rr[] = { 0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 127, 0, 0, 2 };
	struct unit_pkt p;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 1, 0, 0);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_put(&p, rr, sizeof(rr));
	assert_formerr(&p);
	unit_pkt_header(&p, 1, 0, 1, 0, 1, 0);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_put(&p, rr, sizeof(rr));
	assert_formerr(&p);
	/* counted but missing */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	assert_formerr(&p);
}

/* ------------------------------------------------------------ opcodes */

static void
test_opcodes(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	int		op;

	(void)state;
	for (op = 0; op < 16; op++) {
		unit_pkt_header(&p, 7, (uint16_t)(op << 11), 1, 0, 0, 0);
		unit_pkt_question(&p, "svc.test", 6, 1);
		assert_int_equal(parse(&p, &q), QUERY_REPLY);
		assert_int_equal(q.opcode, op);
		if (op == 0 || op == 4 || op == 5)
			assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
		else
			assert_int_equal(q.rcode, DNS_RCODE_NOTIMP);
	}
}

/* ----------------------------------------------------------------- OPT */

static void
test_opt_parsed(void **state)
{
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 4096, 0, 1, NULL, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_true(q.edns);
	assert_int_equal(q.edns_size, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);

	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 100, 0, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_true(q.edns);
	assert_int_equal(q.edns_size, 512);	/* RFC 6891 6.2.5 floor */
	assert_false(q.edns_do);

	/* no OPT: size stays the plain 512 and edns is off */
	pkt_query(&p, "redis.svc.test", 1, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_false(q.edns);
	assert_false(q.edns_do);
}

static void
test_opt_with_options(void **state)
{
	static const uint8_t opts[] = { 0xfd, 0xe9, 0, 2, 0xab, 0xcd, 0, 10, 0, 8,
	    1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t overrun[] = { 0xfd, 0xe9, 0, 50, 0xab, 0xcd };
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 0, 0, opts, sizeof(opts));
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_true(q.edns);

	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 0, 0, overrun, sizeof(overrun));
	assert_formerr(&p);

	/* rdlength past the end of the packet */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 0, 0, NULL, 0);
	p.b[p.len - 1] = 20;
	assert_formerr(&p);
}

static void
test_opt_badvers(void **state)
{
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 1, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_true(q.edns);
	assert_int_equal(q.edns_version, 1);
	assert_int_equal(q.rcode, DNS_RCODE_BADVERS);
}

static void
test_two_opts(void **state)
{
	struct unit_pkt p;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 2);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 0, 0, NULL, 0);
	unit_pkt_opt(&p, 4096, 0, 0, NULL, 0);
	assert_formerr(&p);
}

static void
test_opt_owner_not_root(void **state)
{
	struct unit_pkt p;

	(void)state;
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_name(&p, "svc.test");
	unit_pkt_u16(&p, 41);
	unit_pkt_u16(&p, 1232);
	unit_pkt_u32(&p, 0);
	unit_pkt_u16(&p, 0);
	assert_formerr(&p);
	/* a pointer to the root is not the root either */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_put(&p, "\xc0\x0c", 2);
	unit_pkt_u16(&p, 41);
	unit_pkt_u16(&p, 1232);
	unit_pkt_u32(&p, 0);
	unit_pkt_u16(&p, 0);
	assert_formerr(&p);
}

/* ---------------------------------------------------------------- TSIG */

static void
pkt_tsig(struct unit_pkt *p)
{
	static const uint8_t rdata[] = {
		11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
		0, 0, 0x65, 0x00, 0x00, 0x00,	/* time signed */
		1, 0x2c,			/* fudge */
		0, 4, 1, 2, 3, 4,		/* MAC */
		0x12, 0x34,			/* original id */
		0, 0,				/* error */
		0, 0,				/* other len */
	};

	unit_pkt_name(p, "redisfo-key");
	unit_pkt_u16(p, 250);
	unit_pkt_u16(p, 255);
	unit_pkt_u32(p, 0);
	unit_pkt_u16(p, sizeof(rdata));
	unit_pkt_put(p, rdata, sizeof(rdata));
}

static void
test_tsig_detected(void **state)
{
	struct unit_pkt	p;
	struct query	q;

	(void)state;
	unit_pkt_header(&p, 0x1234, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "svc.test", 6, 1);
	pkt_tsig(&p);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_true(q.has_tsig);
	assert_false(q.edns);

	/* OPT then TSIG: both seen */
	unit_pkt_header(&p, 0x1234, 0, 1, 0, 0, 2);
	unit_pkt_question(&p, "svc.test", 6, 1);
	unit_pkt_opt(&p, 1232, 0, 0, NULL, 0);
	pkt_tsig(&p);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOERROR);
	assert_true(q.has_tsig);
	assert_true(q.edns);

	/* TSIG not last */
	unit_pkt_header(&p, 0x1234, 0, 1, 0, 0, 2);
	unit_pkt_question(&p, "svc.test", 6, 1);
	pkt_tsig(&p);
	unit_pkt_opt(&p, 1232, 0, 0, NULL, 0);
	assert_formerr(&p);
}

/* -------------------------------------------------------- query_error */

static void
test_query_error_reply(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	uint8_t		out[512];
	size_t		n;

	(void)state;
	unit_pkt_header(&p, 0xabcd, 0x0100 | (2 << 11), 1, 0, 0, 1);
	unit_pkt_question(&p, "ReDiS.svc.test", 1, 1);
	unit_pkt_opt(&p, 4096, 0, 1, NULL, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_NOTIMP);
	n = query_error(&q, q.rcode, out, sizeof(out));
	assert_int_equal(n, q.question_end + 11);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0xcd);
	assert_true(out[2] & DNS_FLAG_QR);
	assert_int_equal((out[2] >> 3) & 0x0f, 2);	/* opcode copied */
	assert_true(out[2] & DNS_FLAG_RD);			/* RD copied */
	assert_false(out[2] & DNS_FLAG_AA);
	assert_false(out[3] & DNS_FLAG_RA);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_NOTIMP);
	assert_int_equal(out[5], 1);			/* QDCOUNT */
	assert_int_equal(out[7] | out[9], 0);
	assert_int_equal(out[11], 1);			/* the OPT */
	assert_memory_equal(out + 12, p.b + 12, q.question_end - 12);
	/* our OPT: root, type 41, size 1232, version 0, DO copied */
	assert_int_equal(out[q.question_end], 0);
	assert_int_equal(out[q.question_end + 1] << 8 | out[q.question_end + 2], 41);
	assert_int_equal(out[q.question_end + 3] << 8 | out[q.question_end + 4], EDNS_OUR_SIZE);
	assert_int_equal(out[q.question_end + 6], 0);
	assert_int_equal(out[q.question_end + 7] & 0x80, 0x80);

	/* BADVERS: 16 = 0 in the header, 1 in the OPT's extended rcode */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "redis.svc.test", 1, 1);
	unit_pkt_opt(&p, 1232, 3, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	n = query_error(&q, q.rcode, out, sizeof(out));
	assert_int_equal(n, q.question_end + 11);
	assert_int_equal(out[3] & 0x0f, 0);
	assert_int_equal(out[q.question_end + 5], 1);
	assert_int_equal(out[q.question_end + 6], 0);	/* version 0 */

	/* no room: nothing */
	assert_int_equal(query_error(&q, q.rcode, out, 12), 0);
}

static void
test_query_error_without_question(void **state)
{
	struct unit_pkt	p;
	struct query	q;
	uint8_t		out[512];
	size_t		n;

	(void)state;
	unit_pkt_header(&p, 0x4242, 0, 2, 0, 0, 0);
	unit_pkt_question(&p, "a.svc.test", 1, 1);
	unit_pkt_question(&p, "b.svc.test", 1, 1);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(q.rcode, DNS_RCODE_FORMERR);
	n = query_error(&q, q.rcode, out, sizeof(out));
	assert_true(n >= DNS_HEADER_LEN);
	assert_int_equal(out[0] << 8 | out[1], 0x4242);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_FORMERR);
	assert_int_equal(out[11], 0);			/* no OPT asked, none sent */
}

/* ------------------------------------------------- query_answer, zone */

static const char ZONE_TEXT[] =
	"$ORIGIN svc.test.\n"
	"$TTL 300\n"
	"@ 3600 IN SOA ns1.svc.test. hostmaster.svc.test. 1 3600 600 86400 60\n"
	"@ 3600 IN NS ns1.svc.test.\n"
	"ns1 IN A 127.0.0.1\n"
	"redis 5 IN A 127.0.0.2\n"
	"alias IN CNAME redis.svc.test.\n"
	"deep.ent IN A 192.0.2.1\n"
	"big IN TXT \"00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"
	"big IN TXT \"01-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"
	"big IN TXT \"02-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n";

static int
zone_setup(void **state)
{
	FILE		*fp;
	ldns_zone	*z = NULL;
	ldns_rdf	*origin;
	ldns_status	 st;
	int		 line = 0;
	struct snapshot	*snap;
	char		 err[256];

	origin = ldns_dname_new_frm_str("svc.test.");
	fp = fmemopen((void *)ZONE_TEXT, sizeof(ZONE_TEXT) - 1, "r");
	if (origin == NULL || fp == NULL)
		return -1;
	st = ldns_zone_new_frm_fp_l(&z, fp, origin, 300, LDNS_RR_CLASS_IN, &line);
	fclose(fp);
	ldns_rdf_deep_free(origin);
	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "zone line %d: %s\n", line, ldns_get_errorstr_by_id(st));
		return -1;
	}
	snap = snapshot_build(z, "svc.test.", err, sizeof(err));
	ldns_zone_deep_free(z);
	if (snap == NULL) {
		fprintf(stderr, "snapshot_build: %s\n", err);
		return -1;
	}
	*state = snap;
	return 0;
}

static int
zone_teardown(void **state)
{
	snapshot_free(*state);
	return 0;
}

/* Parse and answer p; the reply goes to out, its length is returned. */
static size_t
answer(const struct snapshot *snap, const struct unit_pkt *p, int transport, uint8_t *out,
    size_t outmax)
{
	struct query		q;
	size_t			n = 0;
	enum query_verdict	v;

	assert_int_equal(parse(p, &q), QUERY_REPLY);
	v = query_answer(snap, &q, transport, out, outmax, &n);
	assert_int_equal(v, QUERY_REPLY);
	assert_true(n >= DNS_HEADER_LEN && n <= outmax);
	/* every reply: QR, ID and RD copied, RA clear, the question kept */
	assert_true(out[2] & DNS_FLAG_QR);
	assert_int_equal(out[0], p->b[0]);
	assert_int_equal(out[1], p->b[1]);
	assert_int_equal(out[2] & DNS_FLAG_RD, p->b[2] & DNS_FLAG_RD);
	assert_false(out[3] & DNS_FLAG_RA);
	if (out[5] == 1)
		assert_memory_equal(out + 12, p->b + 12, q.question_end - 12);
	return n;
}

static uint16_t
count(const uint8_t *out, int section)
{
	return (uint16_t)(out[4 + 2 * section] << 8 | out[5 + 2 * section]);
}

static void
test_answer_positive(void **state)
{
	const struct snapshot	*snap = *state;
	struct unit_pkt		 p;
	uint8_t			 out[4096];
	size_t			 n;

	unit_pkt_header(&p, 9, 0x0100, 1, 0, 0, 0);
	unit_pkt_question(&p, "REDIS.svc.TEST", 1, 1);
	n = answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_true(out[2] & DNS_FLAG_AA);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_NOERROR);
	assert_int_equal(count(out, 1), 1);
	/* the answer's rdata is the last 4 bytes: 127.0.0.2 */
	assert_memory_equal(out + n - 4, "\x7f\x00\x00\x02", 4);
	assert_memory_equal(out + 13, "REDIS", 5);	/* 0x20 kept */
}

static void
test_answer_negative(void **state)
{
	const struct snapshot	*snap = *state;
	struct unit_pkt		 p;
	uint8_t			 out[4096];
	size_t			 n;
	ldns_pkt		*lp = NULL;
	ldns_rr			*soa;

	pkt_query(&p, "nope.svc.test", 1, 0);
	n = answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_true(out[2] & DNS_FLAG_AA);
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_NXDOMAIN);
	assert_int_equal(count(out, 1), 0);
	assert_int_equal(count(out, 2), 1);
	/* the patched apex pointer must decode: read it back with ldns */
	assert_int_equal(ldns_wire2pkt(&lp, out, n), LDNS_STATUS_OK);
	soa = ldns_rr_list_rr(ldns_pkt_authority(lp), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), 60);		/* min(3600, 60) */
	ldns_pkt_free(lp);

	/* NODATA, and an empty non-terminal is NODATA too */
	pkt_query(&p, "redis.svc.test", 15, 0);
	answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_NOERROR);
	assert_int_equal(count(out, 1), 0);
	assert_int_equal(count(out, 2), 1);
	pkt_query(&p, "ent.svc.test", 1, 0);
	answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_NOERROR);
	assert_int_equal(count(out, 1), 0);
	assert_int_equal(count(out, 2), 1);
}

static void
test_answer_refused(void **state)
{
	const struct snapshot	*snap = *state;
	struct unit_pkt		 p;
	uint8_t			 out[4096];
	static const char	*names[] = { "www.example.org", "test", "", "xsvc.test",
	    "svc.test.example" };
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pkt_query(&p, names[i], 1, 0);
		answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
		assert_int_equal(out[3] & 0x0f, DNS_RCODE_REFUSED);
		assert_false(out[2] & DNS_FLAG_AA);
		assert_int_equal(count(out, 1) + count(out, 2), 0);
	}
	/* class CH inside the zone */
	unit_pkt_header(&p, 1, 0, 1, 0, 0, 0);
	unit_pkt_question(&p, "redis.svc.test", 1, 3);
	answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_int_equal(out[3] & 0x0f, DNS_RCODE_REFUSED);
}

static void
test_answer_truncation(void **state)
{
	const struct snapshot	*snap = *state;
	struct unit_pkt		 p;
	uint8_t			 out[4096];
	size_t			 n;

	/* ~700 bytes of TXT: TC over UDP without EDNS, whole with it or TCP */
	pkt_query(&p, "big.svc.test", 16, 0);
	n = answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_true(n <= 512);
	assert_true(out[2] & DNS_FLAG_TC);
	pkt_query(&p, "big.svc.test", 16, 1);
	n = answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_false(out[2] & DNS_FLAG_TC);
	assert_true(n > 512 && n <= EDNS_OUR_SIZE);
	assert_int_equal(count(out, 1), 3);
	pkt_query(&p, "big.svc.test", 16, 0);
	n = answer(snap, &p, QUERY_TRANSPORT_TCP, out, sizeof(out));
	assert_false(out[2] & DNS_FLAG_TC);
	assert_int_equal(count(out, 1), 3);
	/* an output buffer under 512 bytes is refused outright */
	{
		struct query q;
		size_t on = 99;

		assert_int_equal(parse(&p, &q), QUERY_REPLY);
		assert_int_equal(query_answer(snap, &q, QUERY_TRANSPORT_UDP, out, 511, &on),
		    QUERY_DROP);
	}
}

static void
test_answer_slow_paths(void **state)
{
	const struct snapshot	*snap = *state;
	struct unit_pkt		 p;
	struct query		 q;
	uint8_t			 out[4096];
	size_t			 n;

	/* UPDATE and TSIG-signed requests go to the control thread */
	unit_pkt_header(&p, 1, 5 << 11, 1, 0, 0, 0);
	unit_pkt_question(&p, "svc.test", 6, 1);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(query_answer(snap, &q, QUERY_TRANSPORT_UDP, out, sizeof(out), &n),
	    QUERY_SLOW);
	unit_pkt_header(&p, 0x1234, 0, 1, 0, 0, 1);
	unit_pkt_question(&p, "svc.test", 6, 1);
	pkt_tsig(&p);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(query_answer(snap, &q, QUERY_TRANSPORT_UDP, out, sizeof(out), &n),
	    QUERY_SLOW);
	/* AXFR: FORMERR (or TC) over UDP, the control thread over TCP */
	pkt_query(&p, "svc.test", 252, 0);
	n = answer(snap, &p, QUERY_TRANSPORT_UDP, out, sizeof(out));
	assert_true((out[3] & 0x0f) == DNS_RCODE_FORMERR || (out[2] & DNS_FLAG_TC));
	assert_int_equal(count(out, 1), 0);
	assert_int_equal(parse(&p, &q), QUERY_REPLY);
	assert_int_equal(query_answer(snap, &q, QUERY_TRANSPORT_TCP, out, sizeof(out), &n),
	    QUERY_SLOW);
}

/* A small deterministic generator, so a failure replays. */
static uint32_t
rnd_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Mutated and random packets through parse and answer: whatever comes in,
 * the parsed fields stay inside the packet and the reply inside the buffer.
 */
static void
test_random_packets_bounded(void **state)
{
	const struct snapshot	*snap = *state;
	static uint8_t		 out[65535];
	struct unit_pkt		 base, p;
	struct query		 q;
	uint32_t		 seed = 20261125;
	size_t			 i, n, outlen;

	pkt_query(&base, "ReDiS.svc.test", 1, 1);
	for (i = 0; i < 200000; i++) {
		uint32_t r = rnd_next(&seed);

		if (r % 4 == 0) {		/* random bytes */
			p.len = rnd_next(&seed) % 600;
			for (n = 0; n < p.len; n++)
				p.b[n] = (uint8_t)rnd_next(&seed);
			if (p.len > 2 && (r & 0x100))
				p.b[2] &= 0x7f;
		} else {			/* a valid query, mutated */
			p = base;
			for (n = 0; n < 1 + r % 4; n++)
				p.b[rnd_next(&seed) % p.len] ^= (uint8_t)(1u << (rnd_next(&seed) % 8));
			if (r & 0x10)
				p.len = rnd_next(&seed) % (p.len + 1);
		}
		memset(&q, 0, sizeof(q));
		if (query_parse(p.b, p.len, &q) == QUERY_DROP)
			continue;
		assert_true(p.len >= DNS_HEADER_LEN);
		assert_true(q.question_end <= p.len);
		assert_true(q.qname_len <= DNS_NAME_MAX);
		if (q.rcode == 0) {
			assert_true(q.question_end == DNS_HEADER_LEN + q.qname_len + 4);
			assert_int_equal(q.qname_lc[q.qname_len - 1], 0);
		}
		outlen = 0;
		n = (r & 0x20) ? 512 : sizeof(out);
		switch (query_answer(snap, &q, (r & 0x40) ? QUERY_TRANSPORT_TCP :
		    QUERY_TRANSPORT_UDP, out, n, &outlen)) {
		case QUERY_REPLY:
			assert_true(outlen >= DNS_HEADER_LEN && outlen <= n);
			assert_true(out[2] & DNS_FLAG_QR);
			assert_memory_equal(out, p.b, 2);
			break;
		default:
			break;
		}
	}
}

int
main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_short_packets_dropped),
		cmocka_unit_test(test_qr_dropped),
		cmocka_unit_test(test_valid_query_parsed),
		cmocka_unit_test(test_root_name_and_classes),
		cmocka_unit_test(test_lowercase_only_ascii),
		cmocka_unit_test(test_truncated_question),
		cmocka_unit_test(test_compression_in_question),
		cmocka_unit_test(test_bad_label_types),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_qdcount_not_one),
		cmocka_unit_test(test_records_in_query),
		cmocka_unit_test(test_opcodes),
		cmocka_unit_test(test_opt_parsed),
		cmocka_unit_test(test_opt_with_options),
		cmocka_unit_test(test_opt_badvers),
		cmocka_unit_test(test_two_opts),
		cmocka_unit_test(test_opt_owner_not_root),
		cmocka_unit_test(test_tsig_detected),
		cmocka_unit_test(test_query_error_reply),
		cmocka_unit_test(test_query_error_without_question),
	};
	const struct CMUnitTest answer_tests[] = {
		cmocka_unit_test(test_answer_positive),
		cmocka_unit_test(test_answer_negative),
		cmocka_unit_test(test_answer_refused),
		cmocka_unit_test(test_answer_truncation),
		cmocka_unit_test(test_answer_slow_paths),
		cmocka_unit_test(test_random_packets_bounded),
	};
	int fails;

	fails = cmocka_run_group_tests_name("query_parse", parse_tests, NULL, NULL);
	fails += cmocka_run_group_tests_name("query_answer", answer_tests, zone_setup,
	    zone_teardown);
	return fails ? 1 : 0;
}
