/*
 * test_tsig.c - RFC 8945 TSIG: requests signed by ldns verify, replies we
 * sign verify with ldns (first and chained messages), and each error
 * (BADKEY, BADSIG, BADTIME) is found and answered as the RFC says. The
 * client side (the failover's UPDATEs): a request we sign verifies on
 * the server side and its reply verifies here, with every algorithm;
 * an unsigned or altered reply does not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "tests/unit/unit_msg.h"

#define KEY_NAME	UNIT_KEY_NAME
#define KEY_SECRET	UNIT_KEY_SECRET
#define FUDGE_MAX	300	/* dns.tsig_fudge_max */
#define OTHER_SECRET	"b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMDE="

static struct conf_tsig_key key = { KEY_NAME, "hmac-sha256", KEY_SECRET };

/* A query for redis.svc.test. A, signed by ldns with key_name/secret; wire out. */
static uint8_t *
signed_query(const char *key_name, const char *secret, size_t *len, ldns_rdf **mac)
{
	ldns_pkt *p = unit_msg_query("redis.svc.test.", LDNS_RR_TYPE_A, 4242);
	uint8_t *w = unit_msg_wire(p, key_name, secret, len, mac);

	ldns_pkt_free(p);
	return w;
}

/* The same query, id 77, signed by hand at time t with fudge (ldns signs "now"). */
static uint8_t *
signed_query_fudge(uint64_t t, uint16_t fudge, size_t *len)
{
	ldns_pkt *p = unit_msg_query("redis.svc.test.", LDNS_RR_TYPE_A, 77);
	uint8_t *w, *out;
	size_t n;

	w = unit_msg_wire(p, NULL, NULL, &n, NULL);
	ldns_pkt_free(p);
	out = malloc(n + 200);
	assert_non_null(out);
	memcpy(out, w, n);
	free(w);
	*len = unit_msg_sign_at_fudge(out, n, t, fudge);
	return out;
}

static uint8_t *
signed_query_at(uint64_t t, size_t *len)
{
	return signed_query_fudge(t, UNIT_KEY_FUDGE, len);
}

/* A reply to the query in wire: header + question, QR set. */
static size_t
reply_from(const uint8_t *q, size_t qlen, uint8_t *r, int rcode)
{
	size_t off = 12;

	(void)qlen;
	while (q[off])
		off += q[off] + 1U;
	off += 5;
	memcpy(r, q, off);
	r[2] |= 0x84;
	r[3] = (uint8_t)rcode;
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	return off;
}

static void
test_verify_ok_and_sign_roundtrip(void **state)
{
	struct tsig_state st;
	ldns_rdf *mac = NULL;
	size_t qlen, rlen;
	uint8_t *q = signed_query(KEY_NAME, KEY_SECRET, &qlen, &mac), r[4096];
	ldns_pkt *rp = NULL;
	ssize_t n;

	(void)state;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_OK);
	assert_true(st.present);
	assert_int_equal(st.mac_len, 32);
	rlen = reply_from(q, qlen, r, 0);
	n = tsig_sign_reply(r, rlen, sizeof(r), &key, &st, 1);
	assert_true(n > (ssize_t)rlen);
	assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tsig_verify(rp, r, (size_t)n, KEY_NAME, KEY_SECRET, mac));
	ldns_pkt_free(rp);

	/* Second message of a transfer: chained over the previous MAC. */
	ldns_rdf *prev = ldns_native2rdf_int16_data(st.mac_len, st.mac);
	rlen = reply_from(q, qlen, r, 0);
	n = tsig_sign_reply(r, rlen, sizeof(r), &key, &st, 0);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tsig_verify_next(rp, r, (size_t)n, KEY_NAME, KEY_SECRET, prev, 1));
	ldns_pkt_free(rp);
	ldns_rdf_deep_free(prev);
	ldns_rdf_deep_free(mac);
	free(q);
}

/* A secret written without base64 padding is the same key. */
static void
test_unpadded_secret(void **state)
{
	struct conf_tsig_key k = { KEY_NAME, "hmac-sha256", "" };
	struct tsig_state st;
	size_t qlen;
	uint8_t *q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);

	(void)state;
	snprintf(k.secret, sizeof(k.secret), "%.*s", (int)strlen(KEY_SECRET) - 1, KEY_SECRET);
	assert_int_equal(tsig_verify_request(q, qlen, &k, FUDGE_MAX, &st), TSIG_OK);
	snprintf(k.secret, sizeof(k.secret), "not base64!");
	assert_int_equal(tsig_verify_request(q, qlen, &k, FUDGE_MAX, &st), TSIG_BADKEY);
	free(q);
}

static void
test_unsigned_is_none(void **state)
{
	struct tsig_state st;
	ldns_pkt *p = NULL;
	uint8_t *w = NULL, r[512];
	size_t n;

	(void)state;
	p = unit_msg_query("redis.svc.test.", LDNS_RR_TYPE_A, 0);
	w = unit_msg_wire(p, NULL, NULL, &n, NULL);
	assert_int_equal(tsig_verify_request(w, n, &key, FUDGE_MAX, &st), TSIG_NONE);
	assert_false(st.present);
	size_t rl = reply_from(w, n, r, 0);
	assert_int_equal(tsig_sign_reply(r, rl, sizeof(r), &key, &st, 1), (ssize_t)rl);
	ldns_pkt_free(p);
	free(w);
}

static void
check_unsigned_error_reply(struct tsig_state *st, const uint8_t *q, size_t qlen, int error)
{
	uint8_t r[4096];
	size_t rl = reply_from(q, qlen, r, 9);
	ssize_t n = tsig_sign_reply(r, rl, sizeof(r), &key, st, 1);
	ldns_pkt *rp = NULL;
	ldns_rr *t;

	assert_true(n > (ssize_t)rl);
	assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)n), LDNS_STATUS_OK);
	assert_non_null(t = ldns_pkt_tsig(rp));
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), error);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(t, 2)), 300);
	/* No MAC: an unsigned reply (RFC 8945 5.3.2). */
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(t, 3)), 2);
	ldns_pkt_free(rp);
}

static void
test_badkey(void **state)
{
	struct tsig_state st;
	size_t qlen;
	uint8_t *q = signed_query("other-key.", KEY_SECRET, &qlen, NULL);
	struct conf_tsig_key nokey = { "", "", "" };

	(void)state;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADKEY);
	assert_int_equal(st.error, TSIG_BADKEY);
	check_unsigned_error_reply(&st, q, qlen, TSIG_BADKEY);
	assert_int_equal(tsig_verify_request(q, qlen, &nokey, FUDGE_MAX, &st), TSIG_BADKEY);
	free(q);
	/* Right name, other algorithm configured: BADKEY too. */
	struct conf_tsig_key k512 = { KEY_NAME, "hmac-sha512", KEY_SECRET };
	q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);
	assert_int_equal(tsig_verify_request(q, qlen, &k512, FUDGE_MAX, &st), TSIG_BADKEY);
	free(q);
}

static void
test_badsig(void **state)
{
	struct tsig_state st;
	size_t qlen;
	uint8_t *q = signed_query(KEY_NAME, OTHER_SECRET, &qlen, NULL);

	(void)state;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADSIG);
	check_unsigned_error_reply(&st, q, qlen, TSIG_BADSIG);
	free(q);
	/* A message changed after signing. */
	q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);
	q[2] ^= 0x01;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADSIG);
	free(q);
}

static void
test_badtime(void **state)
{
	struct tsig_state st;
	size_t qlen;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t *q = signed_query_at(now, &qlen), r[4096];
	ldns_pkt *rp = NULL;
	ldns_rr *t;

	(void)state;
	/* The hand-made signer agrees with ours when the time is right... */
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_OK);
	free(q);
	/* ...and 1000 s off is outside the 300 s fudge. */
	q = signed_query_at(now - 1000, &qlen);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADTIME);
	assert_int_equal(st.time_signed, now - 1000);
	size_t rl = reply_from(q, qlen, r, 9);
	ssize_t n = tsig_sign_reply(r, rl, sizeof(r), &key, &st, 1);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)n), LDNS_STATUS_OK);
	t = ldns_pkt_tsig(rp);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), TSIG_BADTIME);
	/* Signed (BADTIME replies are), with our time in Other Data. */
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(t, 3)), 2 + 32);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(t, 6)), 2 + 6);
	/* ldns agrees with the MAC, computed over the request's MAC. */
	ldns_rdf *reqmac = ldns_native2rdf_int16_data(32, q + qlen - 6 - 32);
	assert_true(ldns_pkt_tsig_verify(rp, r, (size_t)n, KEY_NAME, KEY_SECRET, reqmac));
	ldns_rdf_deep_free(reqmac);
	free(q);
	ldns_pkt_free(rp);
}

/*
 * The window is the client's fudge, never more than ours: signed 3000 s
 * ago with fudge 3600 is BADTIME under dns.tsig_fudge_max 300, and a
 * client's smaller fudge still counts.
 */
static void
test_fudge_capped(void **state)
{
	struct tsig_state st;
	uint64_t now = (uint64_t)time(NULL);
	size_t qlen;
	uint8_t *q;

	(void)state;
	q = signed_query_fudge(now - 3000, 3600, &qlen);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADTIME);
	assert_int_equal(st.error, TSIG_BADTIME);
	assert_int_equal(tsig_verify_request(q, qlen, &key, 3600, &st), TSIG_OK);
	free(q);
	q = signed_query_fudge(now - 200, 3600, &qlen);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_OK);
	free(q);
	q = signed_query_fudge(now + 200, 100, &qlen);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADTIME);
	free(q);
}

/* Every algorithm we accept signs and verifies like ldns does. */
static void
test_algorithms(void **state)
{
	const char *algs[][2] = {
		{ "hmac-md5", "hmac-md5.sig-alg.reg.int." }, { "hmac-sha1", "hmac-sha1." },
		{ "hmac-sha256", "hmac-sha256." }, { "hmac-sha512", "hmac-sha512." },
	};	/* not hmac-sha384: this ldns cannot sign with it, and leaks when asked */
	int tested = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct conf_tsig_key k = { KEY_NAME, "", KEY_SECRET };
		struct tsig_state st;
		ldns_pkt *p = NULL, *rp = NULL;
		uint8_t *w = NULL, r[4096];
		size_t n;
		ssize_t rn;

		snprintf(k.algorithm, sizeof(k.algorithm), "%s", algs[i][0]);
		p = unit_msg_query("redis.svc.test.", LDNS_RR_TYPE_A, 0);
		if (ldns_pkt_tsig_sign(p, KEY_NAME, KEY_SECRET, 300, algs[i][1],
		    NULL) != LDNS_STATUS_OK) {
			/* This ldns cannot sign with it: nothing to compare. */
			print_message("ldns cannot sign with %s, skipped\n", algs[i][0]);
			ldns_pkt_free(p);
			continue;
		}
		tested++;
		assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
		assert_int_equal(tsig_verify_request(w, n, &k, FUDGE_MAX, &st), TSIG_OK);
		rn = tsig_sign_reply(r, reply_from(w, n, r, 0), sizeof(r), &k, &st, 1);
		assert_true(rn > 0);
		assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)rn), LDNS_STATUS_OK);
		assert_true(ldns_pkt_tsig_verify(rp, r, (size_t)rn, KEY_NAME, KEY_SECRET,
		    ldns_rr_rdf(ldns_pkt_tsig(p), 3)));
		ldns_pkt_free(rp);
		ldns_pkt_free(p);
		free(w);
	}
	assert_true(tested >= 3);
}

/* Cut the (hmac-sha256, last) TSIG's MAC in wire down to keep bytes. */
static void
truncate_mac(uint8_t *w, size_t *len, size_t keep)
{
	size_t rdlen_at = *len - 61 - 2, mac_at = *len - 6 - 32;

	assert_int_equal(w[rdlen_at] << 8 | w[rdlen_at + 1], 61);
	memmove(w + mac_at + keep, w + mac_at + 32, 6);
	w[mac_at - 2] = 0;
	w[mac_at - 1] = (uint8_t)keep;
	w[rdlen_at + 1] = (uint8_t)(61 - 32 + keep);
	*len -= 32 - keep;
}

/* RFC 8945 5.2.2.1: a truncated MAC is BADTRUNC here, a too short one FORMERR. */
static void
test_truncated_mac(void **state)
{
	struct tsig_state st;
	size_t qlen;
	uint8_t *q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL), r[4096];
	ldns_pkt *rp = NULL;

	(void)state;
	truncate_mac(q, &qlen, 16);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADTRUNC);
	size_t rl = reply_from(q, qlen, r, 9);
	ssize_t n = tsig_sign_reply(r, rl, sizeof(r), &key, &st, 1);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&rp, r, (size_t)n), LDNS_STATUS_OK);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(ldns_pkt_tsig(rp), 5)), TSIG_BADTRUNC);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(ldns_pkt_tsig(rp), 3)), 2 + 32);	/* signed */
	ldns_pkt_free(rp);
	free(q);
	/* A wrong truncated MAC is still BADSIG; one below 16 bytes is malformed. */
	q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);
	truncate_mac(q, &qlen, 16);
	q[qlen - 7] ^= 1;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADSIG);
	free(q);
	q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);
	truncate_mac(q, &qlen, 8);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	free(q);
	/* RFC 8945 5.2: the time is checked before the truncation policy. */
	q = signed_query_at((uint64_t)time(NULL) - 1000, &qlen);
	truncate_mac(q, &qlen, 16);
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_BADTIME);
	free(q);
}

static void
test_malformed(void **state)
{
	struct tsig_state st;
	size_t qlen;
	uint8_t *q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);

	(void)state;
	/* Truncated TSIG rdata. */
	assert_int_equal(tsig_verify_request(q, qlen - 3, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	assert_int_equal(tsig_verify_request(q, 5, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	/* Compression pointers in the TSIG owner: a loop, and past the end. */
	size_t at = qlen - 61 - 10 - 13;	/* the owner, \013redisfo-key\000 */
	assert_int_equal(q[at], 11);
	q[at] = (uint8_t)(0xc0 | at >> 8);
	q[at + 1] = (uint8_t)at;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	q[at] = 0xff;
	q[at + 1] = 0xff;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	/* A label type that is not a length nor a pointer. */
	q[at] = 0x41;
	assert_int_equal(tsig_verify_request(q, qlen, &key, FUDGE_MAX, &st), TSIG_MALFORMED);
	free(q);
	/* Every truncation of a signed query is malformed, never read past. */
	q = signed_query(KEY_NAME, KEY_SECRET, &qlen, NULL);
	for (size_t n = 12; n < qlen; n++) {
		uint8_t *c = malloc(n);	/* exact size, so a sanitizer sees overreads */

		memcpy(c, q, n);
		assert_true(tsig_verify_request(c, n, &key, FUDGE_MAX, &st) < 0);
		free(c);
	}
	free(q);
}

/* Client side: sign, verify as the server, sign the reply, verify it back. */
static void
test_client_roundtrip(void **state)
{
	static const char *algs[] = { "hmac-md5", "hmac-sha1", "hmac-sha224",
	    "hmac-sha256", "hmac-sha384", "hmac-sha512" };
	struct conf_tsig_key	 k = key;
	struct tsig_state	 req, srv;
	uint8_t			 msg[1024], reply[1024];
	size_t			 qlen, rlen;
	ssize_t			 n;
	uint64_t		 now = (uint64_t)time(NULL);
	uint8_t			*w;
	int			 error;

	(void)state;
	w = signed_query(NULL, NULL, &qlen, NULL);	/* unsigned */
	assert_true(qlen < 512);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(k.algorithm, sizeof(k.algorithm), "%s", algs[i]);
		memcpy(msg, w, qlen);
		n = tsig_sign_request(msg, qlen, sizeof(msg), &k, now, &req);
		assert_true(n > (ssize_t)qlen);
		assert_int_equal(tsig_verify_request(msg, (size_t)n, &k, FUDGE_MAX, &srv), TSIG_OK);
		/* the server's reply: the request with QR set, signed */
		memcpy(reply, w, qlen);
		reply[2] |= 0x80;
		n = tsig_sign_reply(reply, qlen, sizeof(reply), &k, &srv, 1);
		assert_true(n > (ssize_t)qlen);
		rlen = (size_t)n;
		assert_int_equal(tsig_verify_reply(reply, rlen, &k, &req, now, &error), TSIG_OK);
		assert_int_equal(error, 0);
		/* an altered reply, the wrong secret, an unsigned one */
		reply[3] ^= 0x05;
		assert_int_equal(tsig_verify_reply(reply, rlen, &k, &req, now, &error),
		    TSIG_BADSIG);
		reply[3] ^= 0x05;
		snprintf(k.secret, sizeof(k.secret), "%s", OTHER_SECRET);
		assert_int_equal(tsig_verify_reply(reply, rlen, &k, &req, now, &error),
		    TSIG_BADSIG);
		snprintf(k.secret, sizeof(k.secret), "%s", KEY_SECRET);
		assert_int_equal(tsig_verify_reply(w, qlen, &k, &req, now, &error),
		    TSIG_NONE);
		/* too late for the fudge */
		assert_int_equal(tsig_verify_reply(reply, rlen, &k, &req, now + 1000, &error),
		    TSIG_BADTIME);
	}
	/* an algorithm nobody knows cannot sign */
	snprintf(k.algorithm, sizeof(k.algorithm), "%s", "hmac-sha999");
	memcpy(msg, w, qlen);
	assert_int_equal(tsig_sign_request(msg, qlen, sizeof(msg), &k, now, &req), -1);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_ok_and_sign_roundtrip),
		cmocka_unit_test(test_unpadded_secret),
		cmocka_unit_test(test_unsigned_is_none),
		cmocka_unit_test(test_badkey),
		cmocka_unit_test(test_badsig),
		cmocka_unit_test(test_badtime),
		cmocka_unit_test(test_fudge_capped),
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_truncated_mac),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_client_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
