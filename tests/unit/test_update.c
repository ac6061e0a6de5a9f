/*
 * test_update.c - RFC 2136 UPDATE against a zone built here: TSIG policy,
 * zone section, each prerequisite kind passing and failing, the update
 * operations, CNAME conflicts, apex protection, serial arithmetic, NOTZONE,
 * that a failed or empty update never yields a new zone, and the replay
 * cache: BADTIME for a replay, its file written, read back and refused
 * when damaged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "dnsd/snapshot.h"
#include "dnsd/update.h"
#include "dnsd/zone.h"
#include "tests/unit/unit_msg.h"
#include "tests/unit/unit_zone.h"

#define ORIGIN		"svc.test."
#define KEY_NAME	UNIT_KEY_NAME
#define KEY_SECRET	UNIT_KEY_SECRET
#define FUDGE_MAX	300	/* dns.tsig_fudge_max */

static struct conf_tsig_key key = { KEY_NAME, "hmac-sha256", KEY_SECRET };
/* The answers remembered across the messages of every test, as a server's are. */
static struct update_replay replay;
/* update_limit_negative_ttl() of every run(): 0 as a server without dns.negative_ttl_strict. */
static uint32_t negative_ttl_max;

static const char zone_text[] =
	"$ORIGIN svc.test.\n"
	"$TTL 60\n"
	"@ IN SOA ns1 hostmaster 100 3600 600 86400 5\n"
	"@ IN NS ns1\n"
	"@ IN NS ns2\n"
	"@ IN TXT \"apex\"\n"
	"ns1 IN A 127.0.0.1\n"
	"ns2 IN A 127.0.0.1\n"
	"redis 5 IN A 127.0.0.2\n"
	"_redisfo.redis IN TXT \"primary=r1 epoch=1\"\n"
	"alias IN CNAME redis\n";

static ldns_zone *
zone_make(const char *text)
{
	return unit_zone_from_text(ORIGIN, text);
}

/* An RR: "name ttl type rdata" read in class IN, then given class c. */
static ldns_rr *
rr(const char *name, uint32_t ttl, ldns_rr_class c, ldns_rr_type t, const char *rdata)
{
	ldns_rr *r = NULL;
	char buf[512];

	if (rdata) {
		snprintf(buf, sizeof(buf), "%s %u IN %s %s", name, ttl,
		    ldns_rr_descript(t)->_name, rdata);
		assert_int_equal(ldns_rr_new_frm_str(&r, buf, 60, NULL, NULL), LDNS_STATUS_OK);
	} else {
		r = ldns_rr_new();
		ldns_rr_set_owner(r, ldns_dname_new_frm_str(name));
		ldns_rr_set_type(r, t);
		ldns_rr_set_ttl(r, ttl);
	}
	ldns_rr_set_class(r, c);
	return r;
}

struct msg {
	ldns_rr_list	*pre, *up;
	const char	*zone;		/* zone section name */
	int		 sign;		/* 0 unsigned, 1 key, 2 wrong key name, 3 wrong secret */
};

static void
msg_init(struct msg *m)
{
	m->pre = ldns_rr_list_new();
	m->up = ldns_rr_list_new();
	m->zone = ORIGIN;
	m->sign = 1;
}

/* Build, sign and run; returns rcode, *out the new zone (or NULL). */
static int
run(struct msg *m, const ldns_zone *z, ldns_zone **out, const struct conf_tsig_key *k)
{
	ldns_pkt *p = unit_msg_update(m->zone, m->pre, m->up, 999);
	uint8_t *w, *rw = NULL;
	size_t n, rn;
	char err[256];
	struct update_ctx *u;
	int rc;

	w = unit_msg_wire(p, m->sign == 0 ? NULL : m->sign == 2 ? "nobody." : KEY_NAME,
	    m->sign == 3 ? "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMDE=" : KEY_SECRET, &n, NULL);
	u = update_begin(w, n, k, FUDGE_MAX, &replay, err, sizeof(err));
	assert_non_null(u);
	update_limit_negative_ttl(u, negative_ttl_max);
	rc = update_run(u, z, ORIGIN, out);
	/* The reply always builds; signed replies verify with ldns. */
	assert_int_equal(update_reply(u, rc, &rw, &rn), 0);
	ldns_pkt *rp = NULL;
	assert_int_equal(ldns_wire2pkt(&rp, rw, rn), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_get_rcode(rp), rc);
	assert_int_equal(ldns_pkt_id(rp), 999);
	assert_true(ldns_pkt_qr(rp));
	assert_int_equal(ldns_pkt_get_opcode(rp), LDNS_PACKET_UPDATE);
	if (m->sign == 1 && k->name[0])
		assert_true(ldns_pkt_tsig_verify(rp, rw, rn, KEY_NAME, KEY_SECRET,
		    ldns_rr_rdf(ldns_pkt_tsig(p), 3)));
	ldns_pkt_free(rp);
	free(rw);
	free(w);
	update_end(u);
	ldns_pkt_free(p);
	ldns_rr_list_deep_free(m->pre);
	ldns_rr_list_deep_free(m->up);
	return rc;
}


/* Sign any message body by hand, at time now (see unit_msg_sign_at). */
static size_t
sign_wire(uint8_t *w, size_t n)
{
	return unit_msg_sign_at(w, n, (uint64_t)time(NULL));
}

/* Run a wire message through begin/run/reply; rcode, *out the new zone. */
static int
run_wire(const uint8_t *w, size_t n, const ldns_zone *z, ldns_zone **out)
{
	char err[256];
	struct update_ctx *u = update_begin(w, n, &key, FUDGE_MAX, &replay, err, sizeof(err));
	uint8_t *rw = NULL;
	size_t rn;
	int rc;

	*out = NULL;
	if (u == NULL)
		return -1;
	rc = update_run(u, z, ORIGIN, out);
	if (update_reply(u, rc, &rw, &rn) == 0) {
		assert_true(rn >= 12 && rn <= 65535);
		assert_true(rw[2] & 0x80);
		free(rw);
	}
	update_end(u);
	return rc;
}

static uint32_t
serial_of(const ldns_zone *z)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(ldns_zone_soa(z), 2));
}

/* How many RRs of type t at name (SOA included). */
static int
count(const ldns_zone *z, const char *name, ldns_rr_type t)
{
	ldns_rdf *n = ldns_dname_new_frm_str(name);
	int c = 0;

	if (t == LDNS_RR_TYPE_SOA)
		c = ldns_dname_compare(ldns_rr_owner(ldns_zone_soa(z)), n) == 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++) {
		ldns_rr *r = ldns_rr_list_rr(ldns_zone_rrs(z), i);
		if (ldns_rr_get_type(r) == t && ldns_dname_compare(ldns_rr_owner(r), n) == 0)
			c++;
	}
	ldns_rdf_deep_free(n);
	return c;
}

/* Is "name type rdata" in the zone? */
static int
has(const ldns_zone *z, const char *name, ldns_rr_type t, const char *rdata)
{
	ldns_rr *want = rr(name, 0, LDNS_RR_CLASS_IN, t, rdata);
	int found = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++) {
		ldns_rr *r = ldns_rr_list_rr(ldns_zone_rrs(z), i);
		if (ldns_rr_compare_no_rdata(r, want) == 0 && ldns_rr_compare(r, want) == 0)
			found = 1;
	}
	ldns_rr_free(want);
	return found;
}

static void
test_add_and_serial(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_AAAA, "::2"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_true(has(nz, "redis.svc.test.", LDNS_RR_TYPE_AAAA, "::2"));
	assert_true(has(nz, "redis.svc.test.", LDNS_RR_TYPE_A, "127.0.0.2"));
	assert_int_equal(serial_of(nz), 101);
	assert_int_equal(serial_of(z), 100);		/* the input is untouched */
	assert_int_equal(count(z, "redis.svc.test.", LDNS_RR_TYPE_AAAA), 0);
	ldns_zone_deep_free(nz);

	/* Adding what is already there changes nothing: no new zone. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "127.0.0.2"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

static void
test_tsig_policy(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct conf_tsig_key nokey = { "", "", "" };
	struct msg m;
	int signs[] = { 0, 2, 3 };
	int want[] = { LDNS_RCODE_REFUSED, LDNS_RCODE_NOTAUTH, LDNS_RCODE_NOTAUTH };

	(void)state;
	for (int i = 0; i < 3; i++) {
		msg_init(&m);
		m.sign = signs[i];
		ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN,
		    LDNS_RR_TYPE_A, "10.0.0.1"));
		assert_int_equal(run(&m, z, &nz, &key), want[i]);
		assert_null(nz);
	}
	/* No key configured: refused, whatever the request carries. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "10.0.0.1"));
	assert_int_equal(run(&m, z, &nz, &nokey), LDNS_RCODE_REFUSED);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

static void
test_zone_section(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	msg_init(&m);
	m.zone = "other.test.";
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOTAUTH);
	msg_init(&m);
	m.zone = "redis.svc.test.";
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOTAUTH);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

/* The compare-and-swap: replace redis A .2 by .3 only if it is .2. */
static void
test_prereq_value_dependent(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		msg_init(&m);
		ldns_rr_list_push_rr(m.pre, rr("redis.svc.test.", 0, LDNS_RR_CLASS_IN,
		    LDNS_RR_TYPE_A, pass ? "127.0.0.2" : "127.0.0.9"));
		ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_ANY,
		    LDNS_RR_TYPE_A, NULL));
		ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
		    LDNS_RR_TYPE_A, "127.0.0.3"));
		if (!pass) {
			assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NXRRSET);
			assert_null(nz);
		} else {
			assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
			assert_non_null(nz);
			assert_int_equal(count(nz, "redis.svc.test.", LDNS_RR_TYPE_A), 1);
			assert_true(has(nz, "redis.svc.test.", LDNS_RR_TYPE_A, "127.0.0.3"));
			ldns_zone_deep_free(nz);
		}
	}
	/* A prerequisite naming fewer RRs than the RRset holds fails too. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_NS, "ns1.svc.test."));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NXRRSET);
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_NS, "NS2.svc.test."));
	ldns_rr_list_push_rr(m.pre, rr("svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_NS, "ns1.svc.test."));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

/* One prerequisite of class c, type t at name, expecting rcode want. */
static void
prereq_case(const ldns_zone *z, const char *name, ldns_rr_class c, ldns_rr_type t, int want)
{
	ldns_zone *nz = NULL;
	struct msg m;

	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr(name, 0, c, t, NULL));
	ldns_rr_list_push_rr(m.up, rr("new.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "10.9.9.9"));
	assert_int_equal(run(&m, z, &nz, &key), want);
	if (want == LDNS_RCODE_NOERROR) {
		assert_non_null(nz);
		ldns_zone_deep_free(nz);
	} else {
		assert_null(nz);
	}
}

static void
test_prereq_kinds(void **state)
{
	ldns_zone *z = zone_make(zone_text);

	(void)state;
	/* RRset exists (value independent). */
	prereq_case(z, "redis.svc.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	prereq_case(z, "redis.svc.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NXRRSET);
	prereq_case(z, "svc.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR);
	/* RRset does not exist. */
	prereq_case(z, "redis.svc.test.", LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	prereq_case(z, "redis.svc.test.", LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_A, LDNS_RCODE_YXRRSET);
	/* Name is in use. */
	prereq_case(z, "alias.svc.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR);
	prereq_case(z, "nothere.svc.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_ANY, LDNS_RCODE_NXDOMAIN);
	/* Name is not in use (an empty non-terminal is not in use). */
	prereq_case(z, "nothere.svc.test.", LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR);
	prereq_case(z, "redis.svc.test.", LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_ANY, LDNS_RCODE_YXDOMAIN);
	prereq_case(z, "svc.test.", LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_ANY, LDNS_RCODE_YXDOMAIN);
	/* Outside the zone. */
	prereq_case(z, "redis.other.test.", LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_A, LDNS_RCODE_NOTZONE);
	ldns_zone_deep_free(z);
}

static void
test_deletes(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	/* Delete one RR. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_NONE,
	    LDNS_RR_TYPE_A, "127.0.0.2"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(count(nz, "redis.svc.test.", LDNS_RR_TYPE_A), 0);
	ldns_zone_deep_free(nz);
	/* Delete an RR that is not there: nothing changes. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_NONE,
	    LDNS_RR_TYPE_A, "127.0.0.7"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	/* Delete an RRset. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("_redisfo.redis.svc.test.", 0, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_TXT, NULL));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_int_equal(count(nz, "_redisfo.redis.svc.test.", LDNS_RR_TYPE_TXT), 0);
	assert_int_equal(count(nz, "redis.svc.test.", LDNS_RR_TYPE_A), 1);
	ldns_zone_deep_free(nz);
	/* Delete all RRsets at a name. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_TXT, "\"x\""));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_ANY, NULL));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_int_equal(count(nz, "redis.svc.test.", LDNS_RR_TYPE_A), 0);
	assert_int_equal(count(nz, "redis.svc.test.", LDNS_RR_TYPE_TXT), 0);
	ldns_zone_deep_free(nz);
	/* Class rules: a delete with a TTL is malformed, nothing changes. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("new.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "10.0.0.1"));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 30, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_A, NULL));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_FORMERR);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

static void
test_cname_conflict(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	/* CNAME where other data lives: ignored. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_CNAME, "ns1.svc.test."));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	/* Other data at a CNAME: ignored. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("alias.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "10.0.0.1"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	/* A new CNAME replaces the old one. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("alias.svc.test.", 60, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_CNAME, "ns1.svc.test."));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(count(nz, "alias.svc.test.", LDNS_RR_TYPE_CNAME), 1);
	assert_true(has(nz, "alias.svc.test.", LDNS_RR_TYPE_CNAME, "ns1.svc.test."));
	ldns_zone_deep_free(nz);
	ldns_zone_deep_free(z);
}

static void
test_apex_protection(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	/* Deleting the SOA or NS RRsets at the apex is ignored. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_SOA, NULL));
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_NS, NULL));
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_SOA,
	    "ns1 hostmaster 100 3600 600 86400 5"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	/* Delete all at the apex: the SOA and NS stay, the TXT goes. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_ANY, NULL));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(count(nz, "svc.test.", LDNS_RR_TYPE_NS), 2);
	assert_int_equal(count(nz, "svc.test.", LDNS_RR_TYPE_SOA), 1);
	assert_int_equal(count(nz, "svc.test.", LDNS_RR_TYPE_TXT), 0);
	ldns_zone_deep_free(nz);
	/* The last apex NS cannot be deleted one RR at a time. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_NS,
	    "ns1.svc.test."));
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_NS,
	    "ns2.svc.test."));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(count(nz, "svc.test.", LDNS_RR_TYPE_NS), 1);
	ldns_zone_deep_free(nz);
	ldns_zone_deep_free(z);
}

static void
test_serial_wrap_and_soa_update(void **state)
{
	char text[sizeof(zone_text) + 16];
	ldns_zone *z, *nz = NULL;
	struct msg m;
	const char *p = strstr(zone_text, "100 3600");

	(void)state;
	snprintf(text, sizeof(text), "%.*s4294967295%s", (int)(p - zone_text), zone_text, p + 3);
	z = zone_make(text);
	assert_int_equal(serial_of(z), 4294967295u);
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_A, "10.0.0.1"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_int_equal(serial_of(nz), 0);		/* RFC 1982: 2^32-1 + 1 = 0 */
	ldns_zone_deep_free(nz);
	/* An explicit SOA with a serial that is newer (mod 2^32) is taken... */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 60, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_SOA,
	    "ns1 hostmaster 5 3600 600 86400 5"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(serial_of(nz), 5);
	ldns_zone_deep_free(nz);
	/* ...an older one is ignored. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 60, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_SOA,
	    "ns1 hostmaster 4294967000 3600 600 86400 5"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOERROR);
	assert_null(nz);
	ldns_zone_deep_free(z);
}

/* A new SOA as "ttl rdata" in one message; the rcode, *nz the new zone or NULL. */
static int
run_soa(const ldns_zone *z, uint32_t ttl, const char *rdata, ldns_zone **nz)
{
	struct msg m;

	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", ttl, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_SOA, rdata));
	return run(&m, z, nz, &key);
}

/*
 * dns.negative_ttl_strict: an SOA that raises min(TTL, minimum) above the
 * limit is refused; within it, or lower than it was, it goes through.
 */
static void
test_negative_ttl_strict(void **state)
{
	ldns_zone *z = zone_make(zone_text), *high, *nz = NULL;
	struct msg m;

	(void)state;
	/* The zone: SOA TTL 60, minimum 5. Not strict: anything goes. */
	negative_ttl_max = 0;
	assert_int_equal(run_soa(z, 3600, "ns1 hostmaster 101 3600 600 86400 3600", &nz),
	    LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(zone_negative_ttl(ldns_zone_soa(nz)), 3600);
	high = nz;
	nz = NULL;

	negative_ttl_max = 5;
	/* within the limit: the minimum 5 bounds it whatever the TTL */
	assert_int_equal(run_soa(z, 3600, "ns1 hostmaster 102 3600 600 86400 5", &nz),
	    LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	nz = NULL;
	/* raised above it, by the minimum or by both */
	assert_int_equal(run_soa(z, 60, "ns1 hostmaster 103 3600 600 86400 6", &nz),
	    LDNS_RCODE_REFUSED);
	assert_null(nz);
	assert_int_equal(run_soa(z, 3600, "ns1 hostmaster 104 3600 600 86400 3600", &nz),
	    LDNS_RCODE_REFUSED);
	assert_null(nz);
	/* a zone above it already: lowering it, or only a new serial, goes through */
	assert_int_equal(run_soa(high, 30, "ns1 hostmaster 105 3600 600 86400 3600", &nz),
	    LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(zone_negative_ttl(ldns_zone_soa(nz)), 30);
	ldns_zone_deep_free(nz);
	nz = NULL;
	assert_int_equal(run_soa(high, 3600, "ns1 hostmaster 106 3600 600 86400 3600", &nz),
	    LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	nz = NULL;
	/* and so does a change that leaves the SOA alone (the serial moves by itself) */
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("neg.svc.test.", 5, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_A, "10.0.0.9"));
	assert_int_equal(run(&m, high, &nz, &key), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	assert_int_equal(serial_of(nz), 102);
	ldns_zone_deep_free(nz);
	negative_ttl_max = 0;
	ldns_zone_deep_free(high);
	ldns_zone_deep_free(z);
}

static void
test_notzone_all_or_nothing(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;

	(void)state;
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_A, "10.0.0.1"));
	ldns_rr_list_push_rr(m.up, rr("x.example.", 5, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_A, "10.0.0.1"));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NOTZONE);
	assert_null(nz);
	/* A failing prerequisite stops the whole update. */
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("x.svc.test.", 0, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_A, NULL));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_ANY, LDNS_RR_TYPE_A, NULL));
	assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_NXRRSET);
	assert_null(nz);
	assert_int_equal(count(z, "redis.svc.test.", LDNS_RR_TYPE_A), 1);
	ldns_zone_deep_free(z);
}

/* Data we do not serve (delegations, wildcards, DNAME) is refused whole. */
static void
test_unservable_refused(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	struct msg m;
	struct { const char *name; ldns_rr_type t; const char *rdata; } bad[] = {
		{ "sub.svc.test.", LDNS_RR_TYPE_NS, "ns.elsewhere.example." },
		{ "*.svc.test.", LDNS_RR_TYPE_A, "10.0.0.1" },
		{ "d.svc.test.", LDNS_RR_TYPE_DNAME, "elsewhere.example." },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg_init(&m);
		ldns_rr_list_push_rr(m.up, rr("ok.svc.test.", 5, LDNS_RR_CLASS_IN,
		    LDNS_RR_TYPE_A, "10.0.0.2"));
		ldns_rr_list_push_rr(m.up, rr(bad[i].name, 5, LDNS_RR_CLASS_IN,
		    bad[i].t, bad[i].rdata));
		assert_int_equal(run(&m, z, &nz, &key), LDNS_RCODE_REFUSED);
		assert_null(nz);
	}
	ldns_zone_deep_free(z);
}


/* Does z survive a write and a load (what a restart would do)? */
static int
zone_reloads(const ldns_zone *z)
{
	char dir[] = "/tmp/test_update.XXXXXX", path[64], err[512];
	ldns_zone *back;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/z", dir);
	if (zone_write_atomic(z, path, err, sizeof(err)) != 0)
		{ print_error("write: %s\n", err); ldns_zone_print(stderr, z); }
	back = zone_load(path, ORIGIN, 60, err, sizeof(err));
	if (back == NULL)
		print_error("reload: %s\n", err);
	unlink(path);
	rmdir(dir);
	if (back == NULL)
		return 0;
	ldns_zone_deep_free(back);
	return 1;
}

/* Wire: an UPDATE header and zone section for svc.test.; returns length. */
static size_t
wire_update_head(uint8_t *w, uint16_t prcount, uint16_t upcount)
{
	static const uint8_t zsec[] = "\003svc\004test\000\000\006\000\001";

	memset(w, 0, 12);
	w[0] = 0x12; w[1] = 0x34;
	w[2] = 5 << 3;
	w[5] = 1;
	w[6] = (uint8_t)(prcount >> 8); w[7] = (uint8_t)prcount;
	w[8] = (uint8_t)(upcount >> 8); w[9] = (uint8_t)upcount;
	memcpy(w + 12, zsec, sizeof(zsec) - 1);
	return 12 + sizeof(zsec) - 1;
}

/* A class IN add of a known type needs its RDATA: an empty A is no address. */
static void
test_add_empty_rdata(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA,
	    LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_CNAME, 65280 };
	uint8_t w[512];

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t n = wire_update_head(w, 0, 1);
		int rc;

		memcpy(w + n, "\001x\003svc\004test", 12); n += 12;
		w[n++] = (uint8_t)(types[i] >> 8); w[n++] = (uint8_t)types[i];
		memcpy(w + n, "\x00\x01\x00\x00\x00\x05\x00\x00", 8); n += 8;
		n = sign_wire(w, n);
		rc = run_wire(w, n, z, &nz);
		if (types[i] == 65280) {
			/* An unknown type's RDATA may be empty (RFC 3597). */
			assert_int_equal(rc, LDNS_RCODE_NOERROR);
			assert_non_null(nz);
			assert_true(zone_reloads(nz));
			ldns_zone_deep_free(nz);
		} else {
			assert_int_equal(rc, LDNS_RCODE_FORMERR);
			assert_null(nz);
		}
	}
	ldns_zone_deep_free(z);
}



/*
 * Records ldns's own printer gets wrong are written so that they load
 * back: a CAA tag with a space (generic form), a quote in an MX target.
 */
static void
test_add_unprintable(void **state)
{
	static const struct {
		const char	*rdata;
		size_t		 len;
		uint16_t	 type;
	} cases[] = {
		{ "\x00\x03" "a bca", 7, LDNS_RR_TYPE_CAA },
		{ "\x00\x0a\x03" "a\"b" "\003svc\004test", 16, LDNS_RR_TYPE_MX },
	};
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	uint8_t w[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = wire_update_head(w, 0, 1);

		memcpy(w + n, "\001x\003svc\004test", 12); n += 12;
		w[n++] = (uint8_t)(cases[i].type >> 8); w[n++] = (uint8_t)cases[i].type;
		memcpy(w + n, "\x00\x01\x00\x00\x00\x05", 6); n += 6;
		w[n++] = 0; w[n++] = (uint8_t)cases[i].len;
		memcpy(w + n, cases[i].rdata, cases[i].len); n += cases[i].len;
		n = sign_wire(w, n);
		assert_int_equal(run_wire(w, n, z, &nz), LDNS_RCODE_NOERROR);
		assert_non_null(nz);
		assert_true(zone_reloads(nz));
		ldns_zone_deep_free(nz);
	}
	ldns_zone_deep_free(z);
}

/* A record too long for any text a zone file reader takes: refused, with why. */
static void
test_add_unwritable_refused(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	uint8_t *w = malloc(65535);
	size_t n = wire_update_head(w, 0, 1), rdlen = 160 * 256, k;
	char err[256];
	struct update_ctx *u;

	(void)state;
	assert_non_null(w);
	memcpy(w + n, "\001x\003svc\004test", 12); n += 12;
	memcpy(w + n, "\x00\x10\x00\x01\x00\x00\x00\x05", 8); n += 8;
	w[n++] = (uint8_t)(rdlen >> 8); w[n++] = (uint8_t)rdlen;
	for (k = 0; k < 160; k++) {
		w[n++] = 255;
		memset(w + n, 0xff, 255);
		n += 255;
	}
	n = sign_wire(w, n);
	u = update_begin(w, n, &key, FUDGE_MAX, &replay, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(update_run(u, z, ORIGIN, &nz), LDNS_RCODE_REFUSED);
	assert_null(nz);
	assert_non_null(strstr(update_why(u), "cannot be written to the zone file"));
	update_end(u);
	free(w);
	ldns_zone_deep_free(z);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A zone of 10,000 services (A and TXT each), as the bench serves. */
static ldns_zone *
zone_big(void)
{
	size_t cap = strlen(zone_text) + 10000 * 80, o;
	char *text = malloc(cap);
	ldns_zone *z;

	assert_non_null(text);
	o = (size_t)snprintf(text, cap, "%s", zone_text);
	for (int i = 0; i < 10000; i++)
		o += (size_t)snprintf(text + o, cap - o,
		    "s%d IN A 10.%d.%d.1\n_redisfo.s%d IN TXT \"primary=r1\"\n",
		    i, i / 256, i % 256, i);
	z = zone_make(text);
	free(text);
	return z;
}

/* Append one RR to a hand-built message (owner uncompressed). */
static size_t
wire_rr(uint8_t *w, size_t n, const char *name, uint16_t type, uint16_t class,
    uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);

	assert_non_null(d);
	memcpy(w + n, ldns_rdf_data(d), ldns_rdf_size(d));
	n += ldns_rdf_size(d);
	ldns_rdf_deep_free(d);
	w[n++] = (uint8_t)(type >> 8); w[n++] = (uint8_t)type;
	w[n++] = (uint8_t)(class >> 8); w[n++] = (uint8_t)class;
	for (int i = 3; i >= 0; i--)
		w[n++] = (uint8_t)(ttl >> (8 * i));
	w[n++] = (uint8_t)(rdlen >> 8); w[n++] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(w + n, rdata, rdlen);
	return n + rdlen;
}

/* Sign and run head + the first count records of body; rcode and seconds. */
static int
run_timed(uint8_t *w, int kind, const uint8_t *body, const size_t *end, int count,
    const ldns_zone *z, ldns_zone **nz, double *secs)
{
	size_t n = wire_update_head(w, (uint16_t)(kind < 2 ? count : 0),
	    (uint16_t)(kind < 2 ? 0 : count));
	double t0;
	int rc;

	memcpy(w + n, body, end[count - 1]);
	n = sign_wire(w, n + end[count - 1]);
	t0 = now_s();
	rc = run_wire(w, n, z, nz);
	*secs = now_s() - t0;
	print_message("kind %d: %d records, %zu bytes: rcode %d in %.3f s\n",
	    kind, count, n, rc, *secs);
	return rc;
}

/*
 * The largest UPDATEs a key holder can send (64 KB, thousands of records)
 * against a 10,000-service zone: refused at once beyond 1000 records, and
 * 1000 of them applied in the time of a few single-record updates (before,
 * each record scanned the whole zone: seconds).
 */
static void
test_huge_updates(void **state)
{
	ldns_zone *z = zone_big(), *nz;
	uint8_t *w = malloc(65536 + 512), *body = malloc(65536);
	size_t end[4096];
	double t, one;

	(void)state;
	assert_non_null(w);
	assert_non_null(body);
	/* The yardstick: one add, which copies and checks the whole zone too. */
	end[0] = wire_rr(body, 0, "one.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 5,
	    (const uint8_t *)"\x0a\0\0\x01", 4);
	assert_int_equal(run_timed(w, 2, body, end, 1, z, &nz, &one), LDNS_RCODE_NOERROR);
	ldns_zone_deep_free(nz);
	for (int kind = 0; kind < 4; kind++) {
		size_t n = 0;
		int count = 0;

		while (n < 65535 - 200) {
			char name[64];
			uint8_t a[4] = { 10, 1, (uint8_t)(count / 250), (uint8_t)(count % 250 + 1) };

			snprintf(name, sizeof(name), "s%d.svc.test.", count % 10000);
			if (kind == 0)		/* one value-dependent prerequisite, repeated */
				n = wire_rr(body, n, "redis.svc.test.", LDNS_RR_TYPE_A,
				    LDNS_RR_CLASS_IN, 0, (const uint8_t *)"\x7f\0\0\x02", 4);
			else if (kind == 1)	/* distinct RRsets exist */
				n = wire_rr(body, n, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, NULL, 0);
			else if (kind == 2)	/* adds to one RRset */
				n = wire_rr(body, n, "many.svc.test.", LDNS_RR_TYPE_A,
				    LDNS_RR_CLASS_IN, 5, a, 4);
			else			/* deletes of distinct RRsets */
				n = wire_rr(body, n, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, NULL, 0);
			end[count++] = n;
		}
		count--;
		assert_int_equal(run_timed(w, kind, body, end, count, z, &nz, &t),
		    LDNS_RCODE_REFUSED);
		assert_null(nz);
		assert_true(t < one);
		assert_int_equal(run_timed(w, kind, body, end, 1000, z, &nz, &t),
		    LDNS_RCODE_NOERROR);
		assert_true(kind == 0 || kind == 1 ? nz == NULL : nz != NULL);
		if (nz)
			ldns_zone_deep_free(nz);
		/* Not 1000 times one add (a scan of the zone per record). */
		assert_true(t < 5 * one);
	}
	free(body);
	free(w);
	ldns_zone_deep_free(z);
}


/*
 * A signed "replace .2 by .3" captured and sent again after the record was
 * switched back must not switch it again: the repeat gets the first answer
 * and no new zone. The same change in a new message (new ID) applies.
 */
static void
test_replay(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	uint8_t w[512], w2[512];
	size_t n = wire_update_head(w, 1, 2), n2;

	(void)state;
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0,
	    (const uint8_t *)"\x7f\0\0\x02", 4);
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, NULL, 0);
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 5,
	    (const uint8_t *)"\x7f\0\0\x03", 4);
	memcpy(w2, w, n);
	w2[1] ^= 0x55;		/* another ID */
	n2 = sign_wire(w2, n);
	n = sign_wire(w, n);
	assert_int_equal(run_wire(w, n, z, &nz), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	/* The record is .2 again (z): the replay finds its prerequisite true. */
	assert_int_equal(run_wire(w, n, z, &nz), LDNS_RCODE_NOERROR);
	assert_null(nz);
	assert_int_equal(run_wire(w2, n2, z, &nz), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	/* A refused one stays refused, even once it would pass. */
	n = wire_update_head(w, 1, 1);
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0,
	    (const uint8_t *)"\x7f\0\0\x03", 4);
	n = wire_rr(w, n, "x.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 5,
	    (const uint8_t *)"\x0a\0\0\x01", 4);
	n = sign_wire(w, n);
	assert_int_equal(run_wire(w, n, z, &nz), LDNS_RCODE_NXRRSET);
	{
		char text[sizeof(zone_text)];
		const char *p = strstr(zone_text, "127.0.0.2");
		ldns_zone *z3;

		snprintf(text, sizeof(text), "%.*s127.0.0.3%s", (int)(p - zone_text),
		    zone_text, p + 9);
		z3 = zone_make(text);
		assert_int_equal(run_wire(w, n, z3, &nz), LDNS_RCODE_NXRRSET);
		assert_null(nz);
		ldns_zone_deep_free(z3);
	}
	ldns_zone_deep_free(z);
}

/*
 * Run w with the replay cache r; returns the rcode, *out the new zone,
 * *tsig_err the TSIG error of the reply (which must verify, signed over
 * the request's MAC, as every reply to a request signed right must).
 */
static int
run_replay(struct update_replay *r, const uint8_t *w, size_t n, const ldns_zone *z,
    ldns_zone **out, int *tsig_err)
{
	char err[256];
	struct update_ctx *u = update_begin(w, n, &key, FUDGE_MAX, r, err, sizeof(err));
	uint8_t *rw = NULL;
	size_t rn;
	ldns_pkt *rp = NULL;
	ldns_rdf *reqmac = ldns_native2rdf_int16_data(32, (uint8_t *)(uintptr_t)(w + n - 6 - 32));
	int rc;

	assert_non_null(u);
	rc = update_run(u, z, ORIGIN, out);
	assert_int_equal(update_reply(u, rc, &rw, &rn), 0);
	assert_int_equal(ldns_wire2pkt(&rp, rw, rn), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_get_rcode(rp), rc);
	assert_non_null(ldns_pkt_tsig(rp));
	assert_true(ldns_pkt_tsig_verify(rp, rw, rn, KEY_NAME, KEY_SECRET, reqmac));
	*tsig_err = ldns_rdf2native_int16(ldns_rr_rdf(ldns_pkt_tsig(rp), 5));
	if (*tsig_err == TSIG_BADTIME)	/* our time goes back with it */
		assert_int_equal(ldns_rdf_size(ldns_rr_rdf(ldns_pkt_tsig(rp), 6)), 2 + 6);
	ldns_rdf_deep_free(reqmac);
	ldns_pkt_free(rp);
	free(rw);
	update_end(u);
	return rc;
}

/* "prereq: redis A from; update: redis A := to", id, signed at t. */
static size_t
wire_switch(uint8_t *w, uint16_t id, const char *from, const char *to, uint64_t t)
{
	size_t n = wire_update_head(w, 1, 2);

	w[0] = (uint8_t)(id >> 8);
	w[1] = (uint8_t)id;
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0,
	    (const uint8_t *)from, 4);
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, NULL, 0);
	n = wire_rr(w, n, "redis.svc.test.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 5,
	    (const uint8_t *)to, 4);
	return unit_msg_sign_at(w, n, t);
}

/*
 * RFC 8945 5.2.3: a captured switch sent again once a later-signed one
 * has run is refused with BADTIME (signed, with our time), and so is any
 * request signed before the latest one run; nothing changes. The cache
 * written to its file and read back (a restart) refuses the same.
 */
static void
test_replay_badtime(void **state)
{
	struct update_replay *r = calloc(1, sizeof(*r)), *r2 = calloc(1, sizeof(*r2));
	ldns_zone *z = zone_make(zone_text), *nz = NULL, *nz2 = NULL;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t a[512], b[512], c[512];
	size_t an = wire_switch(a, 1, "\x7f\0\0\x02", "\x7f\0\0\x03", now - 10);
	size_t bn = wire_switch(b, 2, "\x7f\0\0\x03", "\x7f\0\0\x02", now - 5);
	size_t cn = wire_switch(c, 3, "\x7f\0\0\x02", "\x7f\0\0\x04", now - 8);
	char dir[] = "/tmp/test_update.XXXXXX", path[128], err[512];
	int te;

	(void)state;
	assert_non_null(r);
	assert_non_null(r2);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/zone.replay", dir);
	assert_int_equal(run_replay(r, a, an, z, &nz, &te), LDNS_RCODE_NOERROR);
	assert_int_equal(te, 0);
	assert_non_null(nz);
	assert_true(r->dirty);
	assert_int_equal(run_replay(r, b, bn, nz, &nz2, &te), LDNS_RCODE_NOERROR);
	assert_non_null(nz2);
	assert_int_equal(r->latest, now - 5);
	/* Back at .2 (z), a's prerequisite holds: still refused. */
	r->dirty = 0;
	ldns_zone_deep_free(nz);
	assert_int_equal(run_replay(r, a, an, z, &nz, &te), LDNS_RCODE_NOTAUTH);
	assert_int_equal(te, TSIG_BADTIME);
	assert_null(nz);
	assert_int_equal(run_replay(r, c, cn, z, &nz, &te), LDNS_RCODE_NOTAUTH);
	assert_int_equal(te, TSIG_BADTIME);
	assert_null(nz);
	assert_false(r->dirty);		/* refusals teach it nothing */
	/* b is the latest: sent again, its first answer, no change. */
	assert_int_equal(run_replay(r, b, bn, nz2, &nz, &te), LDNS_RCODE_NOERROR);
	assert_int_equal(te, 0);
	assert_null(nz);

	/* A restart: what was saved refuses the same. */
	assert_int_equal(update_replay_save(r, path, ORIGIN, now, FUDGE_MAX, 1, err,
	    sizeof(err)), 0);
	assert_false(r->dirty);
	assert_int_equal(update_replay_load(r2, path, ORIGIN, err, sizeof(err)), 0);
	assert_int_equal(r2->n, 2);
	assert_int_equal(r2->latest, now - 5);
	assert_int_equal(run_replay(r2, a, an, z, &nz, &te), LDNS_RCODE_NOTAUTH);
	assert_int_equal(te, TSIG_BADTIME);
	assert_int_equal(run_replay(r2, b, bn, nz2, &nz, &te), LDNS_RCODE_NOERROR);
	assert_null(nz);

	/*
	 * Entries outside the window are let go when saved; one not found that
	 * is no newer than them is refused all the same, so a wider window
	 * later cannot bring it back.
	 */
	assert_int_equal(update_replay_save(r2, path, ORIGIN, now + 10, 1, 1, err,
	    sizeof(err)), 0);
	assert_int_equal(r2->n, 0);
	assert_int_equal(r2->forgotten, now - 5);
	assert_int_equal(update_replay_load(r, path, ORIGIN, err, sizeof(err)), 0);
	assert_int_equal(r->n, 0);
	assert_int_equal(r->forgotten, now - 5);
	assert_int_equal(run_replay(r, b, bn, nz2, &nz, &te), LDNS_RCODE_NOTAUTH);
	assert_int_equal(te, TSIG_BADTIME);
	/* A new request, signed later, goes through. */
	cn = wire_switch(c, 4, "\x7f\0\0\x02", "\x7f\0\0\x04", now);
	assert_int_equal(run_replay(r, c, cn, nz2, &nz, &te), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	ldns_zone_deep_free(nz2);
	ldns_zone_deep_free(z);
	unlink(path);
	rmdir(dir);
	free(r);
	free(r2);
}

/*
 * When the server cannot keep or apply a change it answers SERVFAIL, and
 * the message sent again gets SERVFAIL too, with nothing applied.
 */
static void
test_replay_amend(void **state)
{
	struct update_replay *r = calloc(1, sizeof(*r));
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	uint8_t a[512];
	size_t an = wire_switch(a, 9, "\x7f\0\0\x02", "\x7f\0\0\x03", (uint64_t)time(NULL));
	char err[256];
	struct update_ctx *u;
	int te;

	(void)state;
	assert_non_null(r);
	u = update_begin(a, an, &key, FUDGE_MAX, r, err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(update_run(u, z, ORIGIN, &nz), LDNS_RCODE_NOERROR);
	assert_non_null(nz);
	ldns_zone_deep_free(nz);
	r->dirty = 0;
	update_replay_amend(u, LDNS_RCODE_SERVFAIL);
	assert_true(r->dirty);
	update_end(u);
	assert_int_equal(run_replay(r, a, an, z, &nz, &te), LDNS_RCODE_SERVFAIL);
	assert_int_equal(te, 0);
	assert_null(nz);
	ldns_zone_deep_free(z);
	free(r);
}

/* Write text to path. */
static void
file_put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/*
 * A missing replay cache is an empty one (the first start); a file that
 * is not ours, is for another zone, or is cut or damaged is an error that
 * names the file and the problem, and never an empty cache.
 */
static void
test_replay_file_errors(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "no header" },
		{ "$ORIGIN svc.test.\n", ":1: not a replay cache written by redisfo-dns" },
		{ "redisfo-dns-replay 2 zone svc.test. latest 5 forgotten 0 entries 0\n",
		  ":1: version 2" },
		{ "redisfo-dns-replay 1 zone other.test. latest 5 forgotten 0 entries 0\n",
		  ":1: written for zone other.test., not svc.test." },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 entries 0\n", ":1: bad header" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 1\n",
		  "0 entries where 1 were announced" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 1\n"
		  "5 0 0a0b0c0d0e0f", ":2: the last line is cut short" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 1\n"
		  "5 0 0a0b0c0d0e0g\n", ":2: not an entry" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 1\n"
		  "5 0 0a0b0c0d0e0\n", ":2: not an entry" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 1\n"
		  "6 0 0a0b0c0d0e0f\n", ":2: an entry signed after latest" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 0\n"
		  "5 0 0a0b0c0d0e0f\n", ":2: more entries than the 0 announced" },
		{ "redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 2000\n",
		  ":1: bad latest, forgotten or entries" },
	};
	struct update_replay *r = calloc(1, sizeof(*r));
	char dir[] = "/tmp/test_update.XXXXXX", path[128], err[512];

	(void)state;
	assert_non_null(r);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/zone.replay", dir);
	r->n = 3;
	assert_int_equal(update_replay_load(r, path, ORIGIN, err, sizeof(err)), 0);
	assert_int_equal(r->n, 0);
	file_put(path, "# a comment\n"
	    "redisfo-dns-replay 1 zone SVC.test. latest 5 forgotten 2 entries 1\n"
	    "5 3 0a0b0c0d0e0f\n");
	assert_int_equal(update_replay_load(r, path, ORIGIN, err, sizeof(err)), 0);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->seen[0].rcode, 3);
	assert_int_equal(r->seen[0].mac_len, 6);
	assert_int_equal(r->forgotten, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		file_put(path, bad[i].text);
		err[0] = '\0';
		assert_int_equal(update_replay_load(r, path, ORIGIN, err, sizeof(err)), -1);
		assert_int_equal(r->n, 0);
		if (strncmp(err, path, strlen(path)) != 0 || strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s and \"%s\"", i, err, path,
			    bad[i].why);
	}
	assert_int_equal(update_replay_check(path, ORIGIN, err, sizeof(err)), 0);	/* "<path>.replay": none */
	unlink(path);
	rmdir(dir);
	free(r);
}

/* xorshift64: the mutations are the same on every run. */
static uint64_t
fuzz_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Unsigned wire form of an UPDATE built with ldns (consumes the lists). */
static size_t
seed_wire(struct msg *m, uint8_t *w)
{
	ldns_pkt *p = unit_msg_update(m->zone, m->pre, m->up, 4321);
	size_t n;
	uint8_t *b = unit_msg_wire(p, NULL, NULL, &n, NULL);
	assert_true(n < 1024);
	memcpy(w, b, n);
	free(b);
	ldns_pkt_free(p);
	ldns_rr_list_deep_free(m->pre);
	ldns_rr_list_deep_free(m->up);
	return n;
}

static void
fuzz_mutate(uint8_t *w, size_t *n, uint64_t *s)
{
	int k = 1 + (int)(fuzz_rand(s) % 4);

	for (int i = 0; i < k && *n > 0; i++) {
		size_t at = (size_t)(fuzz_rand(s) % *n);

		switch (fuzz_rand(s) % 5) {
		case 0:
			w[at] ^= (uint8_t)(1u << (fuzz_rand(s) % 8));
			break;
		case 1:
			w[at] = (uint8_t)fuzz_rand(s);
			break;
		case 2:		/* a length or count at an interesting value */
			w[at] = (uint8_t[]){ 0, 1, 0x3f, 0x40, 0x7f, 0xc0, 0xff }[fuzz_rand(s) % 7];
			break;
		case 3:
			*n = at;
			break;
		default:	/* a compression pointer to anywhere, itself included */
			if (at + 1 < *n) {
				w[at] = (uint8_t)(0xc0 | (fuzz_rand(s) % 4));
				w[at + 1] = (uint8_t)fuzz_rand(s);
			}
			break;
		}
	}
}

/*
 * Mutated UPDATEs (bit flips, bytes, truncations, compression pointers),
 * half of them signed after the mutation so that they reach the parser and
 * the update logic, half mutated after signing so that they hit the TSIG
 * parser. Nothing may crash or read out of bounds (run by hand under
 * AddressSanitizer too), every reply is a DNS reply, and every new zone
 * passes the checks, builds a snapshot and, for a sample, reloads.
 */
static void
test_fuzz(void **state)
{
	ldns_zone *z = zone_make(zone_text), *nz;
	uint8_t seeds[6][1024], w[1200];
	size_t seed_len[6], n, reloaded = 0, accepted = 0;
	uint64_t s = 0x9e3779b97f4a7c15ull;
	struct msg m;
	struct tsig_state st;
	char err[512];

	(void)state;
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("redis.svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "127.0.0.2"));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_A, NULL));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "127.0.0.3"));
	ldns_rr_list_push_rr(m.up, rr("_redisfo.redis.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_TXT, "\"primary=r2 epoch=2\""));
	seed_len[0] = seed_wire(&m, seeds[0]);
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("redis.svc.test.", 0, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_ANY, NULL));
	ldns_rr_list_push_rr(m.pre, rr("nothere.svc.test.", 0, LDNS_RR_CLASS_NONE,
	    LDNS_RR_TYPE_AAAA, NULL));
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 60, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_SOA,
	    "ns1 hostmaster 200 3600 600 86400 5"));
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 60, LDNS_RR_CLASS_IN, LDNS_RR_TYPE_MX,
	    "10 mail.svc.test."));
	seed_len[1] = seed_wire(&m, seeds[1]);
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("svc.test.", 0, LDNS_RR_CLASS_NONE, LDNS_RR_TYPE_NS,
	    "ns1.svc.test."));
	ldns_rr_list_push_rr(m.up, rr("alias.svc.test.", 0, LDNS_RR_CLASS_ANY,
	    LDNS_RR_TYPE_ANY, NULL));
	ldns_rr_list_push_rr(m.up, rr("alias.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_CNAME, "redis.svc.test."));
	ldns_rr_list_push_rr(m.up, rr("a.b.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_AAAA, "2001:db8::1"));
	seed_len[2] = seed_wire(&m, seeds[2]);
	msg_init(&m);
	ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_SRV, "0 5 6379 redis.svc.test."));
	ldns_rr_list_push_rr(m.up, rr("x.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_CAA, "0 issue \"ca.example\""));
	ldns_rr_list_push_rr(m.up, rr("redis.svc.test.", 0, LDNS_RR_CLASS_NONE,
	    LDNS_RR_TYPE_A, "127.0.0.2"));
	seed_len[3] = seed_wire(&m, seeds[3]);
	msg_init(&m);
	seed_len[4] = seed_wire(&m, seeds[4]);
	msg_init(&m);
	ldns_rr_list_push_rr(m.pre, rr("svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_NS, "ns1.svc.test."));
	ldns_rr_list_push_rr(m.pre, rr("svc.test.", 0, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_NS, "ns2.svc.test."));
	ldns_rr_list_push_rr(m.up, rr("ns3.svc.test.", 5, LDNS_RR_CLASS_IN,
	    LDNS_RR_TYPE_A, "10.0.0.3"));
	seed_len[5] = seed_wire(&m, seeds[5]);

	for (int i = 0; i < 4000; i++) {
		size_t k = (size_t)(fuzz_rand(&s) % 6);
		int sign_after = i % 2;

		memcpy(w, seeds[k], seed_len[k]);
		n = seed_len[k];
		if (sign_after) {
			fuzz_mutate(w, &n, &s);
			if (n < 12)
				n = 12;
			w[10] = w[11] = 0;	/* our TSIG must be the last record */
			n = sign_wire(w, n);
		} else {
			n = sign_wire(w, n);
			fuzz_mutate(w, &n, &s);
		}
		(void)tsig_verify_request(w, n, &key, FUDGE_MAX, &st);
		(void)run_wire(w, n, z, &nz);
		if (nz == NULL)
			continue;
		accepted++;
		assert_int_equal(zone_check(nz, ORIGIN, err, sizeof(err)), 0);
		struct snapshot *snap = snapshot_build(nz, ORIGIN, err, sizeof(err));
		if (snap != NULL)
			snapshot_free(snap);
		if (reloaded < 40) {
			assert_true(zone_reloads(nz));
			reloaded++;
		}
		ldns_zone_deep_free(nz);
	}
	/* The mutations did reach the update logic. */
	assert_true(accepted > 50);
	ldns_zone_deep_free(z);
}

static void
test_garbage(void **state)
{
	char err[128];
	uint8_t w[20] = { 0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b' };
	struct update_ctx *u;
	ldns_zone *z = zone_make(zone_text), *nz = NULL;
	uint8_t *r;
	size_t rn;

	(void)state;
	assert_null(update_begin(w, 5, &key, FUDGE_MAX, &replay, err, sizeof(err)));
	u = update_begin(w, 15, &key, FUDGE_MAX, &replay, err, sizeof(err));
	assert_non_null(u);
	/* Unsigned and unparseable: refused before anything else. */
	assert_int_equal(update_run(u, z, ORIGIN, &nz), LDNS_RCODE_REFUSED);
	assert_int_equal(update_reply(u, LDNS_RCODE_REFUSED, &r, &rn), 0);
	assert_int_equal(rn, 12);
	assert_int_equal(r[0], 0x12);
	assert_int_equal(r[2], 0xa8);
	free(r);
	update_end(u);
	ldns_zone_deep_free(z);
	/* A zone name over 255 octets is not echoed: the reply stays valid. */
	{
		uint8_t big[400] = { 0x12, 0x34, 0x28, 0, 0, 1 };
		size_t n = 12;
		ldns_pkt *p = NULL;

		for (int l = 0; l < 5; l++) {
			big[n++] = 63;
			memset(big + n, 'a', 63);
			n += 63;
		}
		big[n++] = 0;
		memcpy(big + n, "\0\6\0\1", 4);
		n += 4;
		assert_non_null(u = update_begin(big, n, &key, FUDGE_MAX, &replay, err, sizeof(err)));
		assert_int_equal(update_reply(u, LDNS_RCODE_FORMERR, &r, &rn), 0);
		assert_int_equal(ldns_wire2pkt(&p, r, rn), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
		ldns_pkt_free(p);
		free(r);
		update_end(u);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_serial),
		cmocka_unit_test(test_tsig_policy),
		cmocka_unit_test(test_zone_section),
		cmocka_unit_test(test_prereq_value_dependent),
		cmocka_unit_test(test_prereq_kinds),
		cmocka_unit_test(test_deletes),
		cmocka_unit_test(test_cname_conflict),
		cmocka_unit_test(test_apex_protection),
		cmocka_unit_test(test_serial_wrap_and_soa_update),
		cmocka_unit_test(test_negative_ttl_strict),
		cmocka_unit_test(test_notzone_all_or_nothing),
		cmocka_unit_test(test_unservable_refused),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_add_empty_rdata),
		cmocka_unit_test(test_add_unprintable),
		cmocka_unit_test(test_add_unwritable_refused),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_badtime),
		cmocka_unit_test(test_replay_amend),
		cmocka_unit_test(test_replay_file_errors),
		cmocka_unit_test(test_huge_updates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
