/*
 * unit_msg.h - for the unit tests: DNS messages, built the ways the tests
 * need them, in one place.
 *
 *  - the test key (UNIT_KEY_*), the one every signed test message uses;
 *  - queries and UPDATEs made by ldns, and their wire form, signed by ldns
 *    with any key: ldns is the independent client the server must agree
 *    with;
 *  - unit_msg_sign_at: a TSIG appended by hand, for the messages ldns
 *    cannot sign (a time it does not choose, a body it cannot parse);
 *  - struct unit_pkt: a message written byte by byte, for the malformed
 *    packets the fast path must survive and for replies played by a test.
 *
 * Every helper fails the test (cmocka asserts) rather than return an error.
 */
#ifndef REDISFO_UNIT_MSG_H
#define REDISFO_UNIT_MSG_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define UNIT_KEY_NAME	"redisfo-key."
#define UNIT_KEY_ALG	"hmac-sha256"
#define UNIT_KEY_SECRET	"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM="
#define UNIT_KEY_FUDGE	300

/* A query for name and type, class IN, with id. */
static inline ldns_pkt *
unit_msg_query(const char *name, ldns_rr_type type, uint16_t id)
{
	ldns_pkt *p = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, 0),
	    LDNS_STATUS_OK);
	ldns_pkt_set_id(p, id);
	return p;
}

/* An UPDATE of zone with its prerequisite and update sections (now p's), with id. */
static inline ldns_pkt *
unit_msg_update(const char *zone, ldns_rr_list *pre, ldns_rr_list *up, uint16_t id)
{
	ldns_pkt *p = ldns_update_pkt_new(ldns_dname_new_frm_str(zone), LDNS_RR_CLASS_IN,
	    pre, up, NULL);

	assert_non_null(p);
	ldns_pkt_set_id(p, id);
	return p;
}

/*
 * The wire form of p (malloc'd), signed first by ldns (hmac-sha256, fudge
 * 300) with key_name and secret unless key_name is NULL; p keeps its TSIG.
 * *mac, when mac is not NULL, is a copy of the request MAC (NULL unsigned).
 */
static inline uint8_t *
unit_msg_wire(ldns_pkt *p, const char *key_name, const char *secret, size_t *len,
    ldns_rdf **mac)
{
	uint8_t *w = NULL;

	if (key_name != NULL)
		assert_int_equal(ldns_pkt_tsig_sign(p, key_name, secret, UNIT_KEY_FUDGE,
		    UNIT_KEY_ALG ".", NULL), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt2wire(&w, p, len), LDNS_STATUS_OK);
	if (mac != NULL)
		*mac = key_name ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
	return w;
}

/*
 * Sign any message body by hand, as signed at time t (ldns can only sign
 * what it can parse, and only "now"): append a TSIG with the test key,
 * hmac-sha256, the given fudge, the message's own ID as original ID, and bump
 * ARCOUNT. w must have room for 100 more bytes. Returns the new length.
 */
static inline size_t
unit_msg_sign_at_fudge(uint8_t *w, size_t n, uint64_t t, uint16_t fudge)
{
	static const uint8_t kn[] = "\013redisfo-key";
	static const uint8_t an[] = "\013hmac-sha256";
	uint8_t *dig = malloc(n + 256), sec[64], mac[32], vars[64];
	size_t d = 0, v = 0, o = n;
	unsigned int ml = 0;
	int sl;

	assert_non_null(dig);
	memcpy(vars + v, kn, sizeof(kn)); v += sizeof(kn);	/* includes the root */
	memcpy(vars + v, "\x00\xff\x00\x00\x00\x00", 6); v += 6;	/* class ANY, TTL 0 */
	memcpy(vars + v, an, sizeof(an)); v += sizeof(an);
	for (int i = 5; i >= 0; i--)
		vars[v++] = (uint8_t)(t >> (8 * i));
	vars[v++] = (uint8_t)(fudge >> 8);
	vars[v++] = (uint8_t)fudge;
	memcpy(vars + v, "\x00\x00\x00\x00", 4); v += 4;	/* error, other length */
	memcpy(dig, w, n);
	d = n;
	memcpy(dig + d, vars, v);
	d += v;
	sl = EVP_DecodeBlock(sec, (const unsigned char *)UNIT_KEY_SECRET,
	    (int)strlen(UNIT_KEY_SECRET)) - 1;
	assert_non_null(HMAC(EVP_sha256(), sec, sl, dig, d, mac, &ml));
	free(dig);
	memcpy(w + o, kn, sizeof(kn)); o += sizeof(kn);
	memcpy(w + o, "\x00\xfa\x00\xff\x00\x00\x00\x00", 8); o += 8;
	w[o++] = 0;
	w[o++] = (uint8_t)(sizeof(an) + 10 + 32 + 6);
	memcpy(w + o, an, sizeof(an)); o += sizeof(an);
	memcpy(w + o, vars + v - 12, 6); o += 6;		/* time signed */
	w[o++] = (uint8_t)(fudge >> 8);
	w[o++] = (uint8_t)fudge;
	memcpy(w + o, "\x00\x20", 2); o += 2;			/* MAC size */
	memcpy(w + o, mac, 32); o += 32;
	w[o++] = w[0];						/* original ID */
	w[o++] = w[1];
	memcpy(w + o, "\x00\x00\x00\x00", 4); o += 4;
	w[11]++;
	return o;
}

/* unit_msg_sign_at_fudge with fudge 300. */
static inline size_t
unit_msg_sign_at(uint8_t *w, size_t n, uint64_t t)
{
	return unit_msg_sign_at_fudge(w, n, t, UNIT_KEY_FUDGE);
}

/* A message written byte by byte. */
struct unit_pkt {
	uint8_t	b[1024];
	size_t	len;
};

static inline void
unit_pkt_put(struct unit_pkt *p, const void *data, size_t n)
{
	assert_true(p->len + n <= sizeof(p->b));
	memcpy(p->b + p->len, data, n);
	p->len += n;
}

static inline void
unit_pkt_u16(struct unit_pkt *p, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	unit_pkt_put(p, b, 2);
}

static inline void
unit_pkt_u32(struct unit_pkt *p, uint32_t v)
{
	unit_pkt_u16(p, v >> 16);
	unit_pkt_u16(p, v & 0xffff);
}

/* Start the message over with a header: id, both flag octets, the four counts. */
static inline void
unit_pkt_header(struct unit_pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
    uint16_t ns, uint16_t ar)
{
	p->len = 0;
	unit_pkt_u16(p, id);
	unit_pkt_u16(p, flags);
	unit_pkt_u16(p, qd);
	unit_pkt_u16(p, an);
	unit_pkt_u16(p, ns);
	unit_pkt_u16(p, ar);
}

/* Append a presentation name ("a.b.c", "" for the root) in wire form. */
static inline void
unit_pkt_name(struct unit_pkt *p, const char *name)
{
	const char *s = name, *dot;

	while (*s != '\0') {
		size_t n;
		uint8_t l;

		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		l = (uint8_t)n;
		unit_pkt_put(p, &l, 1);
		unit_pkt_put(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	unit_pkt_put(p, "", 1);
}

static inline void
unit_pkt_question(struct unit_pkt *p, const char *name, uint16_t qtype, uint16_t qclass)
{
	unit_pkt_name(p, name);
	unit_pkt_u16(p, qtype);
	unit_pkt_u16(p, qclass);
}

/* An OPT record: root owner, size, extended rcode, version, DO, rdata. */
static inline void
unit_pkt_opt(struct unit_pkt *p, uint16_t size, uint8_t version, int dnssec_ok,
    const uint8_t *rdata, uint16_t rdlen)
{
	unit_pkt_put(p, "", 1);
	unit_pkt_u16(p, 41);
	unit_pkt_u16(p, size);
	unit_pkt_u32(p, (uint32_t)version << 16 | (dnssec_ok ? 0x8000u : 0));
	unit_pkt_u16(p, rdlen);
	if (rdlen)
		unit_pkt_put(p, rdata, rdlen);
}

#endif
