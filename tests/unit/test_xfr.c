/*
 * test_xfr.c - outgoing transfers: every message of an AXFR fits a TCP
 * message (65535 bytes) with its TSIG, even for a huge RRset or a single
 * record near 64 KB; the records all arrive, signed messages verify as a
 * chain with ldns; access by allow_transfer with IPv4, IPv6 and v4-mapped
 * IPv6 peers; mutated queries are answered or dropped, never overrun.
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
#include "tests/unit/unit_zone.h"

#define ORIGIN		"svc.test."
#define KEY_NAME	"redisfo-key."
#define KEY_SECRET	"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM="

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

/* The AXFR query for ORIGIN, signed with the key when sign; *mac its MAC. */
static uint8_t *
axfr_query(int sign, size_t *len, ldns_rdf **mac)
{
	ldns_pkt *p = NULL;
	uint8_t *w = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, ORIGIN, LDNS_RR_TYPE_AXFR,
	    LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 321);
	if (sign)
		assert_int_equal(ldns_pkt_tsig_sign(p, KEY_NAME, KEY_SECRET, 300,
		    "hmac-sha256.", NULL), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt2wire(&w, p, len), LDNS_STATUS_OK);
	if (mac)
		*mac = sign ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
	ldns_pkt_free(p);
	return w;
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
 * Run an AXFR of z; check every message fits, its TSIG chain verifies when
 * signed, and return the records received (SOA twice) or -1 and *rcode of
 * a one-message error answer.
 */
static int
transfer(const ldns_zone *z, int sign, const char *peer, int *rcode)
{
	size_t qlen, total = 0;
	ldns_rdf *mac = NULL;
	uint8_t *q = axfr_query(sign, &qlen, &mac);
	struct sockaddr_storage ss = peer_of(peer);
	struct xfr_msgs out;

	*rcode = 0;
	assert_int_equal(xfr_answer(q, qlen, (struct sockaddr *)&ss, z, ORIGIN, &dns, &out), 0);
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
		total += ldns_pkt_ancount(p);
		ldns_pkt_free(p);
	}
	xfr_msgs_free(&out);
	free(q);
	ldns_rdf_deep_free(mac);
	return (int)total;
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

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mutated AXFR/IXFR queries: answered (each message fits) or dropped. */
static void
test_fuzz(void **state)
{
	ldns_zone *z = zone_from(zone_head);
	struct sockaddr_storage ss = peer_of("127.0.0.1");
	uint64_t s = 88172645463325252ull;
	size_t qlen[2];
	uint8_t *q[2], w[512];

	(void)state;
	dns_init();
	q[0] = axfr_query(0, &qlen[0], NULL);
	q[1] = axfr_query(1, &qlen[1], NULL);
	for (int i = 0; i < 3000; i++) {
		int k = i % 2;
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
		if (xfr_answer(w, n, (struct sockaddr *)&ss, z, ORIGIN, &dns, &out) == 0) {
			assert_true(out.n >= 1);
			for (size_t j = 0; j < out.n; j++)
				assert_true(out.len[j] >= 12 && out.len[j] <= 65535);
			xfr_msgs_free(&out);
		}
	}
	free(q[0]);
	free(q[1]);
	ldns_zone_deep_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_rrset),
		cmocka_unit_test(test_record_near_64k),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
