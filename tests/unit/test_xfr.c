/*
 * test_xfr.c - outgoing transfers: every message of an AXFR fits a TCP
 * message (65535 bytes) with its TSIG, even for a huge RRset or a single
 * record near 64 KB; the records all arrive, signed messages verify as a
 * chain with ldns; access by allow_transfer with IPv4, IPv6 and v4-mapped
 * IPv6 peers; mutated queries are answered or dropped, never overrun; a
 * stream outlives the zone and journal changes it reads, and is REFUSED
 * when busy unless signed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "dnsd/xfr.h"
#include "tests/unit/unit_msg.h"
#include "tests/unit/unit_zone.h"

#define ORIGIN		"svc.test."
#define KEY_NAME	UNIT_KEY_NAME
#define KEY_SECRET	UNIT_KEY_SECRET

static const char zone_head[] =
	"$ORIGIN svc.test.\n"
	"$TTL 60\n"
	"@ IN SOA ns1 hostmaster 100 3600 600 86400 5\n"
	"@ IN NS ns1\n"
	"ns1 IN A 127.0.0.1\n"
	"redis 5 IN A 127.0.0.2\n";

static struct conf_dns dns;
static struct conf_ip allow[2];

static void
dns_init(void)
{
	memset(&dns, 0, sizeof(dns));
	snprintf(dns.zone, sizeof(dns.zone), "%s", ORIGIN);
	snprintf(dns.update_key.name, sizeof(dns.update_key.name), "%s", KEY_NAME);
	snprintf(dns.update_key.algorithm, sizeof(dns.update_key.algorithm), "hmac-sha256");
	snprintf(dns.update_key.secret, sizeof(dns.update_key.secret), "%s", KEY_SECRET);
	assert_int_equal(conf_ip_parse("127.0.0.1", &allow[0]), 0);
	assert_int_equal(conf_ip_parse("2001:db8::7", &allow[1]), 0);
	dns.allow_transfer = allow;
	dns.n_allow_transfer = 2;
}

static ldns_zone *
zone_from(const char *text)
{
	return unit_zone_from_text(ORIGIN, text);
}

/*
 * The AXFR query for ORIGIN, or the IXFR one from serial when serial is
 * not 0 (with a second SOA at then, when then is not 0); signed with the
 * key when sign; *mac its MAC.
 */
static uint8_t *
xfr_query_two(uint32_t serial, uint32_t then, int sign, size_t *len, ldns_rdf **mac)
{
	ldns_pkt *p = unit_msg_query(ORIGIN, serial ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR, 321);
	uint8_t *w;
	const uint32_t soas[2] = { serial, then };

	for (int i = 0; i < 2 && soas[i] != 0; i++) {
		ldns_rr *soa = NULL;
		char text[128];

		snprintf(text, sizeof(text), "%s 0 IN SOA ns1 hostmaster %u 1 1 1 1", ORIGIN, soas[i]);
		assert_int_equal(ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL), LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa));
	}
	w = unit_msg_wire(p, sign ? KEY_NAME : NULL, KEY_SECRET, len, mac);
	ldns_pkt_free(p);
	return w;
}

static uint8_t *
xfr_query(uint32_t serial, int sign, size_t *len, ldns_rdf **mac)
{
	return xfr_query_two(serial, 0, sign, len, mac);
}

static struct sockaddr_storage
peer_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

/*
 * Run an AXFR of z (an IXFR from serial with journal j, when serial is not
 * 0); check every message fits, its TSIG chain verifies when signed, and
 * return the records received or -1 and *rcode of a one-message error
 * answer. The serial of the second record (0 when there is none or it is
 * not a SOA) goes to *second: the old serial of an incremental answer.
 */
static int
transfer_from(const ldns_zone *z, const struct xfr_journal *j, uint32_t serial, int sign,
    const char *peer, int *rcode, uint32_t *second)
{
	size_t qlen, total = 0;
	ldns_rdf *mac = NULL;
	uint8_t *q = xfr_query(serial, sign, &qlen, &mac);
	struct sockaddr_storage ss = peer_of(peer);
	struct xfr_msgs out;

	*rcode = 0;
	*second = 0;
	assert_int_equal(xfr_answer(q, qlen, (struct sockaddr *)&ss, z, j, ORIGIN, &dns, &out), 0);
	assert_true(out.n >= 1);
	for (size_t i = 0; i < out.n; i++) {
		ldns_pkt *p = NULL;

		assert_true(out.len[i] <= 65535);
		assert_int_equal(ldns_wire2pkt(&p, out.msg[i], out.len[i]), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_id(p), 321);
		if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
			assert_int_equal(out.n, 1);
			*rcode = ldns_pkt_get_rcode(p);
			ldns_pkt_free(p);
			xfr_msgs_free(&out);
			free(q);
			ldns_rdf_deep_free(mac);
			return -1;
		}
		if (sign) {
			ldns_rdf *next;

			assert_non_null(ldns_pkt_tsig(p));
			assert_true(ldns_pkt_tsig_verify_next(p, out.msg[i], out.len[i],
			    KEY_NAME, KEY_SECRET, mac, i > 0));
			next = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
			ldns_rdf_deep_free(mac);
			mac = next;
		}
		for (size_t k = 0; k < ldns_pkt_ancount(p); k++, total++) {
			const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), k);

			if (total == 1 && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
				*second = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		}
		ldns_pkt_free(p);
	}
	xfr_msgs_free(&out);
	free(q);
	ldns_rdf_deep_free(mac);
	return (int)total;
}

static int
transfer(const ldns_zone *z, int sign, const char *peer, int *rcode)
{
	uint32_t second;

	return transfer_from(z, NULL, 0, sign, peer, rcode, &second);
}

/* 5000 A records at one name: split, every message under 64 KB, all there. */
static void
test_huge_rrset(void **state)
{
	size_t cap = sizeof(zone_head) + 5000 * 32, o;
	char *text = malloc(cap);
	ldns_zone *z;
	int rc;

	(void)state;
	dns_init();
	o = (size_t)snprintf(text, cap, "%s", zone_head);
	for (int i = 0; i < 5000; i++)
		o += (size_t)snprintf(text + o, cap - o, "many IN A 10.0.%d.%d\n",
		    i / 250, i % 250 + 1);
	z = zone_from(text);
	free(text);
	for (int sign = 0; sign < 2; sign++)
		assert_int_equal(transfer(z, sign, "127.0.0.1", &rc), 2 + 3 + 5000);
	ldns_zone_deep_free(z);
}

/*
 * One record whose RDATA is as large as the zone file allows: alone it
 * fits a message, but not with a TSIG after it. The transfer must not
 * produce a message over 65535 bytes: it fails cleanly (SERVFAIL) instead.
 */
static void
test_record_near_64k(void **state)
{
	const size_t rdlen = 65535 - 12 - 14 - 10 - 40;
	uint8_t *data = calloc(1, rdlen);
	ldns_zone *z = zone_from(zone_head);
	ldns_rr *big = ldns_rr_new();
	int rc;

	(void)state;
	dns_init();
	ldns_rr_set_owner(big, ldns_dname_new_frm_str("big.svc.test."));
	ldns_rr_set_type(big, (ldns_rr_type)65280);
	ldns_rr_set_class(big, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(big, 60);
	assert_true(ldns_rr_push_rdf(big, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN,
	    rdlen, data)));
	free(data);
	assert_true(ldns_zone_push_rr(z, big));
	/* Unsigned: the record goes in a message of its own. */
	assert_int_equal(transfer(z, 0, "127.0.0.1", &rc), 2 + 3 + 1);
	/* Signed: it cannot carry its TSIG; the whole transfer fails cleanly. */
	assert_int_equal(transfer(z, 1, "127.0.0.1", &rc), -1);
	assert_int_equal(rc, LDNS_RCODE_SERVFAIL);
	ldns_zone_deep_free(z);
}

static void
test_allow_list(void **state)
{
	ldns_zone *z = zone_from(zone_head);
	int rc;

	(void)state;
	dns_init();
	assert_int_equal(transfer(z, 0, "127.0.0.1", &rc), 5);
	assert_int_equal(transfer(z, 0, "::ffff:127.0.0.1", &rc), 5);
	assert_int_equal(transfer(z, 0, "2001:db8::7", &rc), 5);
	assert_int_equal(transfer(z, 0, "127.0.0.2", &rc), -1);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	assert_int_equal(transfer(z, 0, "::ffff:127.0.0.2", &rc), -1);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	/* An IPv6 address whose last 4 bytes spell an allowed IPv4 one. */
	assert_int_equal(transfer(z, 0, "::127.0.0.1", &rc), -1);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	assert_int_equal(transfer(z, 0, "2001:db8::8", &rc), -1);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	/* Signed with the key: allowed from anywhere. */
	assert_int_equal(transfer(z, 1, "192.0.2.1", &rc), 5);
	ldns_zone_deep_free(z);
}

/* The zone at serial, its service at 127.0.0.last, with extra TXT records. */
static ldns_zone *
version(uint32_t serial, int last, int extra)
{
	size_t cap = 512 + (size_t)extra * 40, o;
	char *text = malloc(cap);
	ldns_zone *z;

	o = (size_t)snprintf(text, cap, "$ORIGIN svc.test.\n$TTL 60\n"
	    "@ IN SOA ns1 hostmaster %u 3600 600 86400 5\n@ IN NS ns1\n"
	    "ns1 IN A 127.0.0.1\nredis 5 IN A 127.0.0.%d\n", serial, last);
	for (int i = 0; i < extra; i++)
		o += (size_t)snprintf(text + o, cap - o, "x%d IN TXT \"extra %d\"\n", i, i);
	z = zone_from(text);
	free(text);
	return z;
}

/* Records of the answer to an IXFR query carrying two SOAs, first and then. */
static int
two_soa_transfer(const ldns_zone *z, const struct xfr_journal *j, uint32_t first,
    uint32_t then)
{
	struct sockaddr_storage ss = peer_of("127.0.0.1");
	struct xfr_msgs out;
	size_t len, total = 0;
	uint8_t *w = xfr_query_two(first, then, 0, &len, NULL);

	assert_int_equal(xfr_answer(w, len, (struct sockaddr *)&ss, z, j, ORIGIN, &dns, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		ldns_pkt *m = NULL;

		assert_int_equal(ldns_wire2pkt(&m, out.msg[i], out.len[i]), LDNS_STATUS_OK);
		total += ldns_pkt_ancount(m);
		ldns_pkt_free(m);
	}
	xfr_msgs_free(&out);
	free(w);
	return (int)total;
}

/*
 * Changes 100 -> 101 -> 102: an IXFR from 100 carries both (old SOA
 * second), from 101 the last one, from 99 (never served) the whole zone,
 * signed or not; a client at 102 gets the SOA alone. When the changes
 * weigh more than the zone, the zone is sent.
 */
static void
test_journal_ixfr(void **state)
{
	struct xfr_journal j, tiny;
	ldns_zone *v[3] = { version(100, 2, 20), version(101, 3, 20), version(102, 3, 21) };
	ldns_zone *t[2] = { version(100, 2, 0), version(101, 3, 0) };
	uint32_t second;
	int rc;

	(void)state;
	dns_init();
	memset(&j, 0, sizeof(j));
	xfr_journal_record(&j, v[0], v[1], ORIGIN);
	xfr_journal_record(&j, v[1], v[2], ORIGIN);
	assert_int_equal(j.n, 2);
	for (int sign = 0; sign < 2; sign++) {
		/* SOA; SOA 100, A .2, SOA 101, A .3; SOA 101, SOA 102, TXT; SOA */
		assert_int_equal(transfer_from(v[2], &j, 100, sign, "127.0.0.1", &rc, &second), 9);
		assert_int_equal(second, 100);
		assert_int_equal(transfer_from(v[2], &j, 101, sign, "127.0.0.1", &rc, &second), 5);
		assert_int_equal(second, 101);
		assert_int_equal(transfer_from(v[2], &j, 99, sign, "127.0.0.1", &rc, &second), 26);
		assert_int_equal(second, 0);
		assert_int_equal(transfer_from(v[2], &j, 102, sign, "127.0.0.1", &rc, &second), 1);
	}
	/* Two SOAs in the query: the first is the client's. */
	assert_int_equal(two_soa_transfer(v[2], &j, 100, 200), 9);
	assert_int_equal(two_soa_transfer(v[2], &j, 200, 100), 1);
	/* The journal must lead to the zone served: if not, the whole zone. */
	assert_int_equal(transfer_from(v[1], &j, 100, 0, "127.0.0.1", &rc, &second), 25);
	assert_int_equal(second, 0);
	/* Four records of zone against six of change: the zone. */
	memset(&tiny, 0, sizeof(tiny));
	xfr_journal_record(&tiny, t[0], t[1], ORIGIN);
	assert_int_equal(tiny.n, 1);
	assert_int_equal(transfer_from(t[1], &tiny, 100, 0, "127.0.0.1", &rc, &second), 5);
	assert_int_equal(second, 0);
	xfr_journal_clear(&tiny);
	ldns_zone_deep_free(t[0]);
	ldns_zone_deep_free(t[1]);
	/* Refused stays refused. */
	assert_int_equal(transfer_from(v[2], &j, 100, 0, "127.0.0.2", &rc, &second), -1);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	xfr_journal_clear(&j);
	assert_int_equal(j.n, 0);
	assert_int_equal(j.rrs, 0);
	for (int i = 0; i < 3; i++)
		ldns_zone_deep_free(v[i]);
}

/*
 * A serial moved back, a gap, or records changed under the same serial
 * start the journal over; a reload that changed nothing keeps it.
 */
static void
test_journal_restarts(void **state)
{
	struct xfr_journal j;
	ldns_zone *a = version(100, 2, 0), *b = version(101, 3, 0), *b_again = version(101, 3, 0),
	    *b2 = version(101, 4, 0),
	    *c = version(200, 5, 0), *d = version(201, 6, 0);

	(void)state;
	memset(&j, 0, sizeof(j));
	xfr_journal_record(&j, a, b, ORIGIN);
	assert_int_equal(j.n, 1);
	xfr_journal_record(&j, b, b_again, ORIGIN);	/* reloaded, nothing changed: kept */
	assert_int_equal(j.n, 1);
	xfr_journal_record(&j, b_again, b2, ORIGIN);	/* edited, serial kept */
	assert_int_equal(j.n, 0);
	xfr_journal_record(&j, a, b, ORIGIN);
	xfr_journal_record(&j, b, a, ORIGIN);		/* serial back */
	assert_int_equal(j.n, 0);
	xfr_journal_record(&j, a, b, ORIGIN);
	xfr_journal_record(&j, c, d, ORIGIN);		/* does not follow 101 */
	assert_int_equal(j.n, 1);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(j.change[j.first]->from_soa, 2)), 200);
	/* 0xffffffff -> 5 is a step forward in serial arithmetic (RFC 1982). */
	ldns_zone *w = version(0xffffffffu, 2, 0), *x = version(5, 3, 0);
	xfr_journal_clear(&j);
	xfr_journal_record(&j, w, x, ORIGIN);
	assert_int_equal(j.n, 1);
	xfr_journal_clear(&j);
	ldns_zone_deep_free(a);
	ldns_zone_deep_free(b);
	ldns_zone_deep_free(b_again);
	ldns_zone_deep_free(b2);
	ldns_zone_deep_free(c);
	ldns_zone_deep_free(d);
	ldns_zone_deep_free(w);
	ldns_zone_deep_free(x);
}

/* The zone at serial with SOA refresh, and lines of records after it. */
static ldns_zone *
version_with(uint32_t serial, int refresh, const char *lines)
{
	char text[2048];

	snprintf(text, sizeof(text), "$ORIGIN svc.test.\n$TTL 60\n"
	    "@ IN SOA ns1 hostmaster %u %d 600 86400 5\n@ IN NS ns1\n"
	    "ns1 IN A 127.0.0.1\n%s", serial, refresh, lines);
	return zone_from(text);
}

/*
 * What a change holds: a record written twice, or in another case, is one
 * record; a new TTL is the record removed and added again; an SOA edited
 * under the same serial starts the journal over; serials that go round
 * the space leave only the changes that are unambiguous.
 */
static void
test_journal_changes(void **state)
{
	struct xfr_journal j;
	ldns_zone *a = version_with(1, 3600, "dup IN A 10.0.0.1\ndup IN A 10.0.0.1\n"
	    "DUP IN A 10.0.0.1\nt 60 IN A 10.0.0.2\n");
	ldns_zone *b = version_with(2, 3600, "dup IN A 10.0.0.1\nt 300 IN A 10.0.0.2\n");
	ldns_zone *b2 = version_with(2, 7200, "dup IN A 10.0.0.1\nt 300 IN A 10.0.0.2\n");
	ldns_zone *w[5];
	const uint32_t serials[5] = { 1, 0x40000000u, 0x80000000u, 0xc0000000u, 1 };
	const struct xfr_change *c;

	(void)state;
	memset(&j, 0, sizeof(j));
	xfr_journal_record(&j, a, b, ORIGIN);
	assert_int_equal(j.n, 1);
	c = j.change[j.first];
	assert_int_equal(ldns_rr_list_rr_count(c->removed), 1);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(c->removed, 0)), 60);
	assert_int_equal(ldns_rr_list_rr_count(c->added), 1);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(c->added, 0)), 300);
	xfr_journal_record(&j, b, b2, ORIGIN);
	assert_int_equal(j.n, 0);
	for (int i = 0; i < 5; i++) {
		char line[64];

		snprintf(line, sizeof(line), "redis IN A 10.1.0.%d\n", i + 1);
		w[i] = version_with(serials[i], 3600, line);
		if (i > 0)
			xfr_journal_record(&j, w[i - 1], w[i], ORIGIN);
	}
	/* 1 again: only the change from 0xc0000000 is told apart from it. */
	assert_int_equal(j.n, 1);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(j.change[j.first]->from_soa, 2)),
	    0xc0000000u);
	xfr_journal_clear(&j);
	for (int i = 0; i < 5; i++)
		ldns_zone_deep_free(w[i]);
	ldns_zone_deep_free(a);
	ldns_zone_deep_free(b);
	ldns_zone_deep_free(b2);
}

/*
 * Bounded: after 200 changes it holds the last XFR_JOURNAL_MAX; a change
 * bigger than the zone and the minimum is not kept; a big change that is
 * kept travels split into messages that fit, signed, with the chain intact.
 */
static void
test_journal_bounds(void **state)
{
	struct xfr_journal j;
	ldns_zone *prev = version(1, 1, 300), *cur = NULL, *big, *bigger;
	uint32_t second;
	int rc;

	(void)state;
	dns_init();
	memset(&j, 0, sizeof(j));
	for (uint32_t s = 2; s <= 201; s++) {
		cur = version(s, (int)(s % 250) + 1, 300);
		xfr_journal_record(&j, prev, cur, ORIGIN);
		ldns_zone_deep_free(prev);
		prev = cur;
	}
	assert_int_equal(j.n, XFR_JOURNAL_MAX);
	assert_int_equal(j.rrs, XFR_JOURNAL_MAX * 4);
	/* From 201 - 64 = 137 on it is incremental; before, the whole zone. */
	assert_int_equal(transfer_from(cur, &j, 137, 0, "127.0.0.1", &rc, &second),
	    2 + XFR_JOURNAL_MAX * 4);
	assert_int_equal(second, 137);
	assert_int_equal(transfer_from(cur, &j, 136, 0, "127.0.0.1", &rc, &second), 305);
	assert_int_equal(second, 0);

	/* 3000 records added: kept, as the new zone is bigger; signed and split. */
	big = version(202, 202, 3300);
	xfr_journal_record(&j, cur, big, ORIGIN);
	assert_int_equal(transfer_from(big, &j, 201, 1, "127.0.0.1", &rc, &second),
	    1 + 1 + 1 + 3000 + 1);
	assert_int_equal(second, 201);
	assert_int_equal(j.n, XFR_JOURNAL_MAX);
	/* Removing them all: a change larger than what is left; not kept. */
	bigger = version(203, 2, 0);
	xfr_journal_record(&j, big, bigger, ORIGIN);
	assert_int_equal(j.n, 0);
	xfr_journal_clear(&j);
	ldns_zone_deep_free(cur);
	ldns_zone_deep_free(big);
	ldns_zone_deep_free(bigger);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Mutated AXFR and IXFR queries, signed or not, against a zone with a
 * journal: answered (each message fits) or dropped.
 */
static void
test_fuzz(void **state)
{
	ldns_zone *z = zone_from(zone_head), *before = version(99, 3, 0);
	struct sockaddr_storage ss = peer_of("127.0.0.1");
	struct xfr_journal j;
	uint64_t s = 88172645463325252ull;
	size_t qlen[4];
	uint8_t *q[4], w[512];

	(void)state;
	dns_init();
	memset(&j, 0, sizeof(j));
	xfr_journal_record(&j, before, z, ORIGIN);
	for (int k = 0; k < 4; k++)
		q[k] = xfr_query(k < 2 ? 0 : 99, k % 2, &qlen[k], NULL);
	for (int i = 0; i < 6000; i++) {
		int k = i % 4;
		size_t n = qlen[k];
		struct xfr_msgs out;

		memcpy(w, q[k], n);
		for (int m = 0; m < 1 + (int)(rnd(&s) % 3) && n > 0; m++) {
			size_t at = (size_t)(rnd(&s) % n);

			if (rnd(&s) % 4 == 0)
				n = at;
			else
				w[at] ^= (uint8_t)(1u << (rnd(&s) % 8));
		}
		if (xfr_answer(w, n, (struct sockaddr *)&ss, z, &j, ORIGIN, &dns, &out) == 0) {
			assert_true(out.n >= 1);
			for (size_t m = 0; m < out.n; m++)
				assert_true(out.len[m] >= 12 && out.len[m] <= 65535);
			xfr_msgs_free(&out);
		}
	}
	for (int k = 0; k < 4; k++)
		free(q[k]);
	xfr_journal_clear(&j);
	ldns_zone_deep_free(before);
	ldns_zone_deep_free(z);
}

/* Records of what stream s still has to send; its messages' count in *msgs. */
static int
stream_drain(struct xfr_stream *s, int *rcode, size_t *msgs)
{
	uint8_t *m;
	size_t len;
	int total = 0, rc;

	*rcode = 0;
	*msgs = 0;
	while ((rc = xfr_stream_next(s, &m, &len)) == 1) {
		ldns_pkt *p = NULL;

		assert_int_equal(ldns_wire2pkt(&p, m, len), LDNS_STATUS_OK);
		if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR)
			*rcode = ldns_pkt_get_rcode(p);
		total += (int)ldns_pkt_ancount(p);
		(*msgs)++;
		ldns_pkt_free(p);
		free(m);
	}
	assert_int_equal(rc, 0);
	return total;
}

/*
 * An AXFR and an IXFR started, then the zone replaced and the journal
 * cleared (as an UPDATE and a restart of the journal would): both streams
 * still send what they started with, message by message. Busy, an
 * unsigned request is REFUSED and a signed one answered.
 */
static void
test_stream_outlives_zone(void **state)
{
	struct sockaddr_storage ss = peer_of("127.0.0.1");
	struct xfr_journal j;
	ldns_zone *old = version(100, 2, 2000);
	struct xfr_zone *zh = xfr_zone_create(version(101, 3, 2000));
	struct xfr_stream *ax, *ix, *busy;
	uint8_t *qa, *qi, *qs;
	size_t la, li, ls, msgs;
	int rc;

	(void)state;
	dns_init();
	memset(&j, 0, sizeof(j));
	assert_non_null(zh);
	xfr_journal_record(&j, old, zh->zone, ORIGIN);
	ldns_zone_deep_free(old);
	qa = xfr_query(0, 0, &la, NULL);
	qi = xfr_query(100, 0, &li, NULL);
	qs = xfr_query(0, 1, &ls, NULL);
	ax = xfr_stream_start(qa, la, (struct sockaddr *)&ss, zh, &j, ORIGIN, &dns, 0);
	ix = xfr_stream_start(qi, li, (struct sockaddr *)&ss, zh, &j, ORIGIN, &dns, 0);
	assert_non_null(ax);
	assert_non_null(ix);
	assert_int_equal(xfr_stream_form(ax), XFR_FULL);
	assert_int_equal(xfr_stream_form(ix), XFR_INCREMENTAL);
	assert_int_equal(xfr_stream_changes(ix), 1);
	xfr_zone_release(zh);		/* the server moved on */
	xfr_journal_clear(&j);
	/* SOA, NS, A, A, 2000 TXT, SOA; SOA, SOA 100, A .2, SOA 101, A .3, SOA */
	assert_int_equal(stream_drain(ax, &rc, &msgs), 2005);
	assert_int_equal(rc, 0);
	assert_true(msgs > 1);
	assert_int_equal(stream_drain(ix, &rc, &msgs), 6);
	xfr_stream_free(ax);
	xfr_stream_free(ix);

	zh = xfr_zone_create(version(102, 2, 0));
	busy = xfr_stream_start(qa, la, (struct sockaddr *)&ss, zh, NULL, ORIGIN, &dns, 1);
	assert_int_equal(xfr_stream_form(busy), XFR_BUSY);
	assert_int_equal(stream_drain(busy, &rc, &msgs), 0);
	assert_int_equal(rc, LDNS_RCODE_REFUSED);
	assert_int_equal(msgs, 1);
	xfr_stream_free(busy);
	busy = xfr_stream_start(qs, ls, (struct sockaddr *)&ss, zh, NULL, ORIGIN, &dns, 1);
	assert_true(xfr_stream_signed(busy));
	assert_int_equal(stream_drain(busy, &rc, &msgs), 5);
	assert_int_equal(rc, 0);
	xfr_stream_free(busy);
	xfr_zone_release(zh);
	free(qa);
	free(qi);
	free(qs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_rrset),
		cmocka_unit_test(test_record_near_64k),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_journal_ixfr),
		cmocka_unit_test(test_journal_restarts),
		cmocka_unit_test(test_journal_changes),
		cmocka_unit_test(test_journal_bounds),
		cmocka_unit_test(test_stream_outlives_zone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
