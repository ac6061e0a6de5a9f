/*
 * test_zone.c - zone loading, checking, creation and atomic writes, and the
 * snapshot compiled from a zone (dnsd/zone.c, dnsd/snapshot.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conf/conf.h"
#include "dnsd/query.h"
#include "dnsd/snapshot.h"
#include "dnsd/zone.h"
#include "tests/unit/unit_zone.h"

static char	tmpdir[64];
static char	path[128];
static char	err[1024];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_zone.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/z.zone", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char *good_zone =
    "$ORIGIN svc.test.\n"
    "$TTL 3600\n"
    "@ IN SOA ns1 hostmaster 7 3600 600 1209600 60\n"
    "  IN NS ns1\n"
    "ns1 IN A 127.0.0.1\n"
    "redis 5 IN A 127.0.0.2\n"
    "REDIS 5 IN A 127.0.0.2\n"
    "redis 5 IN AAAA ::2\n"
    "_redisfo.redis 5 IN TXT \"primary=r1 epoch=1\"\n"
    "alias IN CNAME redis\n"
    "alias2 IN CNAME alias\n"
    "away IN CNAME www.example.com.\n"
    "dangling IN CNAME nothere\n"
    "a.b.deep IN A 127.0.0.9\n"
    "mail IN MX 10 ns1\n"
    "odd IN TXT \"a \\\"quoted\\\" \\\\ word\" \"\\010tab\" \"\"\n"
    "esc\\.dot IN A 192.0.2.1\n"
    "spa\\032ce IN CNAME esc\\.dot\n";

static ldns_zone *
load_text(const char *text)
{
	write_file(text);
	return zone_load(path, "svc.test.", 3600, err, sizeof(err));
}

static void
test_load_good(void **state)
{
	ldns_zone *z;

	(void)state;
	z = load_text(good_zone);
	assert_non_null(z);
	assert_int_equal(zone_serial(z), 7);
	ldns_zone_deep_free(z);
}

static void
expect_error(const char *text, const char *needle)
{
	ldns_zone *z = load_text(text);

	if (z != NULL)
		ldns_zone_deep_free(z);
	assert_null(z);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
	assert_non_null(strstr(err, path));
}

static void
test_load_errors(void **state)
{
	(void)state;
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "redis IN A not-an-address\n", ":4:");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN NS ns1\n", "no SOA");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n", "no NS");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "www.example.com. IN A 127.0.0.1\n", "outside the zone");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "x IN CNAME y\nx IN A 127.0.0.1\n", "CNAME must be the only");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "* IN A 127.0.0.1\n", "wildcard");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "sub IN NS ns.other.\n", "delegations");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "@ IN CNAME other\n", "CNAME");
	/* A '(' never closed would swallow the lines after it. */
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h ( 1 2 3 4 5\n@ IN NS ns1\n"
	    "redis IN A 127.0.0.2\n", ":2: a parenthesis is never closed");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h ( 1 2 3 4 5\n@ IN NS ns1\n"
	    "redis IN TXT ( \"a\" )\n", ":4: a parenthesis opened inside the one opened on line 2");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5 )\n@ IN NS ns1\n",
	    ":2: a ')' without");
	/* CNAME loops: a name at itself, two names, and a longer chain. */
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "self IN CNAME self\n", ":4: self.svc.test. CNAME: a CNAME loop");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "a IN CNAME B\nb IN CNAME a\n", "a CNAME loop");
	expect_error("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
	    "start IN CNAME c1\nc1 IN CNAME c2\nc2 IN CNAME c3\nc3 IN CNAME c4\n"
	    "c4 IN CNAME c2\n",
	    "c2.svc.test. -> c3.svc.test. -> c4.svc.test. -> c2.svc.test.");
}

static void
test_load_parens_and_chains_ok(void **state)
{
	ldns_zone *z;

	(void)state;
	/* Closed parentheses, escaped and quoted ones, and chains that end. */
	z = load_text("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h (\n 1 ; serial (\n 2 3 4 5 )\n"
	    "@ IN NS ns1\np\\(x IN TXT \"(\" \")\"\n"
	    "a IN CNAME b\nb IN CNAME c\nc IN CNAME outside.example.\nd IN CNAME a\n");
	if (z == NULL)
		fail_msg("%s", err);
	ldns_zone_deep_free(z);
}

static void
test_folder_check(void **state)
{
	char p2[200];

	(void)state;
	assert_int_equal(zone_file_folder_check(path, err, sizeof(err)), 0);
	assert_int_equal(zone_file_folder_check("/nonexistent/dir/z.zone", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir does not exist"));
	write_file("x");
	snprintf(p2, sizeof(p2), "%s/z.zone", path);
	assert_int_equal(zone_file_folder_check(p2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a folder"));
}

static void
test_load_missing(void **state)
{
	ldns_zone *z;

	(void)state;
	z = zone_load("/nonexistent/z.zone", "svc.test.", 3600, err, sizeof(err));
	assert_null(z);
	assert_non_null(strstr(err, "/nonexistent/z.zone"));
}

static void
test_write_atomic_roundtrip(void **state)
{
	ldns_zone	*z, *z2;
	DIR		*d;
	struct dirent	*de;
	int		 files = 0;

	(void)state;
	z = load_text(good_zone);
	assert_non_null(z);
	assert_int_equal(zone_write_atomic(z, path, err, sizeof(err)), 0);
	z2 = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	assert_non_null(z2);
	/* What was written reads back record for record, escapes and all. */
	ldns_zone_sort(z);
	ldns_zone_sort(z2);
	assert_int_equal(ldns_rr_list_compare(ldns_zone_rrs(z), ldns_zone_rrs(z2)), 0);
	assert_int_equal(zone_serial(z2), 7);
	/* No temp file is left behind. */
	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);
	/* A folder that is not there: an error, nothing written. */
	assert_int_equal(zone_write_atomic(z, "/nonexistent/dir/z.zone", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/z.zone"));
	ldns_zone_deep_free(z);
	ldns_zone_deep_free(z2);
}

/*
 * Records whose names and strings hold every octet a master file gives a
 * meaning to. Each must read back from what zone_write_atomic writes
 * exactly as it was, to the octet and the letter case.
 */
static const char *awkward_rrs[] = {
	"mx.svc.test. 60 IN MX 10 a\\\"b.svc.test.",
	"q\\\"uote.svc.test. 60 IN A 192.0.2.1",
	"back\\\\slash.svc.test. 60 IN A 192.0.2.2",
	"pa\\(re\\)n.svc.test. 60 IN TXT \"x\"",
	"semi\\;colon.svc.test. 60 IN AAAA 2001:db8::1",
	"sp\\032ace\\009tab.svc.test. 60 IN A 192.0.2.3",
	"dot\\.inside.svc.test. 60 IN A 192.0.2.4",
	"\\@at.svc.test. 60 IN A 192.0.2.5",
	"\\$dollar.svc.test. 60 IN A 192.0.2.6",
	"mid@dle$.svc.test. 60 IN A 192.0.2.7",
	"\\000nul\\255.svc.test. 60 IN A 192.0.2.8",
	"caf\\195\\169.svc.test. 60 IN A 192.0.2.9",
	"MiXeD.svc.test. 60 IN CNAME TaRgEt\\\".svc.test.",
	"_redis._tcp.svc.test. 60 IN SRV 0 0 6379 r\\(1\\)\\;.svc.test.",
	"txt.svc.test. 60 IN TXT \"\" \"\\\"\" \"\\\\\" \";(\" \")\" \"\\010\\013\" \"\\000\\255\" "
	    "\"caf\\195\\169\" \"a\\\\\"",
	"empty.svc.test. 60 IN TXT \"\"",
	"hinfo.svc.test. 60 IN HINFO \"a b\" \"c\\\"d\"",
	"naptr.svc.test. 60 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:x@y!\" _sip._udp.svc.test.",
	"caa.svc.test. 60 IN CAA 0 issue \"ca;\\\"x\"",
	"cert.svc.test. 60 IN CERT 1 0 0 AAECAw==",
	"cert0.svc.test. 60 IN CERT \\# 7 00000000000102",
	"unknown.svc.test. 60 IN TYPE65400 \\# 3 010203",
	"unknown0.svc.test. 60 IN TYPE65401 \\# 0",
	"ptr.svc.test. 60 IN PTR \\\"\\(\\)\\;\\@\\$\\\\.example.",
	"rp.svc.test. 60 IN RP a\\.b\\\"c.svc.test. t\\032xt.svc.test.",
};

static uint8_t *
rr_wire_of(const ldns_rr *rr, size_t *len)
{
	uint8_t *w = NULL;

	assert_int_equal(ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, len), LDNS_STATUS_OK);
	return w;
}

/* Is the same record, to the octet (ldns's own compare ignores case), in list? */
static int
list_has_exact(const ldns_rr_list *list, const ldns_rr *rr)
{
	size_t	 alen, blen, i;
	uint8_t	*a = rr_wire_of(rr, &alen), *b;
	int	 found = 0;

	for (i = 0; i < ldns_rr_list_rr_count(list) && !found; i++) {
		b = rr_wire_of(ldns_rr_list_rr(list, i), &blen);
		found = alen == blen && memcmp(a, b, alen) == 0 &&
		    ldns_rr_ttl(rr) == ldns_rr_ttl(ldns_rr_list_rr(list, i));
		free(b);
	}
	free(a);
	return found;
}

/* An owner of 3 labels of 63 non-ASCII octets: about 760 characters escaped. */
static ldns_rr *
long_owner_rr(void)
{
	uint8_t		 wire[255];
	size_t		 pos = 0, l;
	ldns_rr		*rr = NULL;
	ldns_rdf	*owner;

	for (l = 0; l < 3; l++) {
		wire[pos++] = 63;
		memset(wire + pos, l == 1 ? '"' : 0xc3, 63);
		pos += 63;
	}
	memcpy(wire + pos, "\003svc\004test\000", 10);
	pos += 10;
	assert_int_equal(ldns_rr_new_frm_str(&rr, "x.svc.test. 60 IN A 192.0.2.10", 0, NULL,
	    NULL), LDNS_STATUS_OK);
	owner = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, pos, wire);
	assert_non_null(owner);
	ldns_rdf_deep_free(ldns_rr_owner(rr));
	ldns_rr_set_owner(rr, owner);
	return rr;
}

static void
test_write_awkward_roundtrip(void **state)
{
	ldns_zone	*z, *z2;
	ldns_rr		*rr;
	char		 why[256];
	size_t		 i;

	(void)state;
	z = load_text("$ORIGIN svc.test.\n"
	    "@ 3600 IN SOA ns\\;1 host\\\"master\\.x\\255 7 3600 600 1209600 60\n"
	    "@ IN NS ns\\;1\n");
	assert_non_null(z);
	for (i = 0; i <= sizeof(awkward_rrs) / sizeof(awkward_rrs[0]); i++) {
		rr = NULL;
		if (i == sizeof(awkward_rrs) / sizeof(awkward_rrs[0]))
			rr = long_owner_rr();
		else if (ldns_rr_new_frm_str(&rr, awkward_rrs[i], 0, NULL, NULL) != LDNS_STATUS_OK)
			fail_msg("test record does not parse: %s", awkward_rrs[i]);
		if (zone_rr_roundtrip(rr, why, sizeof(why)) != 0)
			fail_msg("%s: %s", i < sizeof(awkward_rrs) / sizeof(awkward_rrs[0]) ?
			    awkward_rrs[i] : "long owner", why);
		assert_true(ldns_zone_push_rr(z, rr));
	}
	assert_int_equal(zone_rr_roundtrip(ldns_zone_soa(z), why, sizeof(why)), 0);
	assert_int_equal(zone_write_atomic(z, path, err, sizeof(err)), 0);
	{
		/* The long owner is said as $ORIGIN and @, then the origin is the apex again. */
		char	 text[16384];
		FILE	*fp = fopen(path, "r");
		size_t	 n;

		assert_non_null(fp);
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
		text[n] = '\0';
		assert_non_null(strstr(text, "\n$ORIGIN \\195\\195"));
		assert_non_null(strstr(text, ".svc.test.\n@\t60\tIN\tA\t192.0.2.10\n$ORIGIN svc.test.\n"));
	}
	z2 = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	if (z2 == NULL)
		fail_msg("the written zone does not load: %s", err);
	assert_int_equal(ldns_rr_list_rr_count(ldns_zone_rrs(z2)),
	    ldns_rr_list_rr_count(ldns_zone_rrs(z)));
	for (i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++)
		assert_true(list_has_exact(ldns_zone_rrs(z2), ldns_rr_list_rr(ldns_zone_rrs(z), i)));
	{
		ldns_rr_list *soa1 = ldns_rr_list_new(), *soa2;

		ldns_rr_list_push_rr(soa1, ldns_zone_soa(z));
		soa2 = soa1;
		assert_true(list_has_exact(soa2, ldns_zone_soa(z2)));
		ldns_rr_list_free(soa1);
	}
	/* Written a second time, the text is the same: nothing drifts. */
	{
		char	 path2[160], cmd[1024];

		snprintf(path2, sizeof(path2), "%s/again.zone", tmpdir);
		assert_int_equal(zone_write_atomic(z2, path2, err, sizeof(err)), 0);
		snprintf(cmd, sizeof(cmd), "sort %s > %s.a; sort %s > %s.b; cmp -s %s.a %s.b",
		    path, path, path2, path2, path, path2);
		assert_int_equal(system(cmd), 0);
	}
	ldns_zone_deep_free(z);
	ldns_zone_deep_free(z2);
}

/* A record whose text is longer than ldns reads is named as such, not written half. */
static void
test_roundtrip_refuses_unreadable(void **state)
{
	ldns_rr		*rr = NULL;
	ldns_rdf	*s;
	uint8_t		 str[256];
	char		 why[256];
	int		 i;

	(void)state;
	assert_int_equal(ldns_rr_new_frm_str(&rr, "big.svc.test. 60 IN TXT \"x\"", 0, NULL,
	    NULL), LDNS_STATUS_OK);
	str[0] = 255;
	memset(str + 1, 0xff, 255);
	for (i = 0; i < 200; i++) {
		s = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, sizeof(str), str);
		assert_true(ldns_rr_push_rdf(rr, s));
	}
	assert_int_equal(zone_rr_roundtrip(rr, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer than"));
	ldns_rr_free(rr);
}

static void
test_create_if_missing(void **state)
{
	struct conf		conf;
	struct conf_service	svc;
	struct conf_node	nodes[2];
	struct conf_sockaddr	listen;
	ldns_zone		*z;
	size_t			 i;
	int			 srv = 0;

	(void)state;
	memset(&conf, 0, sizeof(conf));
	memset(&svc, 0, sizeof(svc));
	memset(nodes, 0, sizeof(nodes));
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:5353", 53, &listen), 0);
	snprintf(conf.dns.zone, sizeof(conf.dns.zone), "svc.test.");
	snprintf(conf.dns.zone_file, sizeof(conf.dns.zone_file), "%s", path);
	conf.dns.ttl = 5;
	conf.dns.listen = &listen;
	conf.dns.n_listen = 1;
	snprintf(svc.name, sizeof(svc.name), "redis");
	snprintf(nodes[0].name, sizeof(nodes[0].name), "r1");
	assert_int_equal(conf_ip_parse("127.0.0.2", &nodes[0].address[0]), 0);
	assert_int_equal(conf_ip_parse("fd00::2", &nodes[0].address[1]), 0);
	nodes[0].n_address = 2;
	nodes[0].port = 6380;
	snprintf(svc.reader_name, sizeof(svc.reader_name), "redis-ro");
	svc.nodes = nodes;
	svc.n_nodes = 1;
	conf.services = &svc;
	conf.n_services = 1;

	unlink(path);
	assert_int_equal(zone_create_if_missing(&conf, err, sizeof(err)), 1);
	assert_int_equal(zone_create_if_missing(&conf, err, sizeof(err)), 0);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	if (z == NULL)
		fail_msg("%s", err);
	/* NS, ns1 A, redis A and AAAA, the SRV, redis-ro A and AAAA (the
	 * primary until a switch or `readers`), the _redisfo TXT. */
	assert_int_equal(ldns_rr_list_rr_count(ldns_zone_rrs(z)), 8);
	for (i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_zone_rrs(z), i);
		char	*text;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SRV)
			continue;
		text = ldns_rr2str(rr);
		assert_non_null(text);
		assert_non_null(strstr(text, "_redis._tcp.redis.svc.test.\t5\tIN\tSRV\t"
		    "0 0 6380 redis.svc.test."));
		free(text);
		srv++;
	}
	assert_int_equal(srv, 1);
	ldns_zone_deep_free(z);
	/* reader_name "": no reader record */
	svc.reader_name[0] = '\0';
	unlink(path);
	assert_int_equal(zone_create_if_missing(&conf, err, sizeof(err)), 1);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	if (z == NULL)
		fail_msg("%s", err);
	assert_int_equal(ldns_rr_list_rr_count(ldns_zone_rrs(z)), 6);
	ldns_zone_deep_free(z);
}

/* A created zone caches negative answers for dns.negative_ttl, not a fixed minute. */
static void
test_create_soa_negative_ttl(void **state)
{
	struct conf		conf;
	struct conf_sockaddr	listen;
	ldns_zone		*z;
	ldns_rr			*soa;

	(void)state;
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:5353", 53, &listen), 0);
	snprintf(conf.dns.zone, sizeof(conf.dns.zone), "svc.test.");
	snprintf(conf.dns.zone_file, sizeof(conf.dns.zone_file), "%s", path);
	conf.dns.ttl = 5;
	conf.dns.negative_ttl = 7;
	conf.dns.listen = &listen;
	conf.dns.n_listen = 1;

	unlink(path);
	assert_int_equal(zone_create_if_missing(&conf, err, sizeof(err)), 1);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	if (z == NULL)
		fail_msg("%s", err);
	soa = ldns_zone_soa(z);
	assert_int_equal(ldns_rr_ttl(soa), 7);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), 7);
	assert_int_equal(zone_negative_ttl(soa), 7);
	assert_int_equal(zone_negative_ttl_check(ldns_zone_soa(z), path, 7, err, sizeof(err)), 0);
	ldns_zone_deep_free(z);
}

/* min(SOA TTL, minimum) against the limit: a warning naming the file and both values. */
static void
test_negative_ttl_check(void **state)
{
	ldns_zone	*z;
	char		 msg[512];

	(void)state;
	/* minimum below the TTL: the minimum counts */
	z = unit_zone_from_text("svc.test.", "$ORIGIN svc.test.\n"
	    "@ 3600 IN SOA ns1 hostmaster 1 3600 600 1209600 60\n@ 3600 IN NS ns1\n");
	assert_int_equal(zone_negative_ttl(ldns_zone_soa(z)), 60);
	assert_int_equal(zone_negative_ttl_check(ldns_zone_soa(z), "zones/x.zone", 60, msg, sizeof(msg)), 0);
	assert_int_equal(zone_negative_ttl_check(ldns_zone_soa(z), "zones/x.zone", 5, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "zones/x.zone: "));
	assert_non_null(strstr(msg, "min(TTL 3600, minimum 60) = 60"));
	assert_non_null(strstr(msg, "dns.negative_ttl 5"));
	assert_non_null(strstr(msg, "AAAA"));
	ldns_zone_deep_free(z);
	/* the TTL below the minimum: the TTL counts */
	z = unit_zone_from_text("svc.test.", "$ORIGIN svc.test.\n"
	    "@ 30 IN SOA ns1 hostmaster 1 3600 600 1209600 600\n@ 3600 IN NS ns1\n");
	assert_int_equal(zone_negative_ttl(ldns_zone_soa(z)), 30);
	assert_int_equal(zone_negative_ttl_check(ldns_zone_soa(z), "x", 29, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "min(TTL 30, minimum 600) = 30"));
	assert_int_equal(zone_negative_ttl_check(ldns_zone_soa(z), "x", 30, msg, sizeof(msg)), 0);
	ldns_zone_deep_free(z);
}

/* ---- the snapshot ---- */

static size_t
make_query(uint8_t *buf, const char *name, uint16_t qtype)
{
	size_t n = 12, len;
	const char *p = name, *dot;

	memset(buf, 0, 12);
	buf[0] = 0x12;
	buf[1] = 0x34;
	buf[5] = 1;
	while (*p) {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		buf[n++] = (uint8_t)len;
		memcpy(buf + n, p, len);
		n += len;
		p += len + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	buf[n++] = qtype >> 8;
	buf[n++] = qtype & 0xff;
	buf[n++] = 0;
	buf[n++] = 1;
	return n;
}

/* Ask the snapshot and parse the reply with ldns. */
static ldns_pkt *
ask(const struct snapshot *snap, const char *name, uint16_t qtype)
{
	uint8_t		q[512], out[65535];
	size_t		qlen = make_query(q, name, qtype), olen;
	struct query	pq;
	ldns_pkt	*pkt = NULL;

	assert_int_equal(query_parse(q, qlen, &pq), QUERY_REPLY);
	assert_int_equal(query_answer(snap, &pq, QUERY_TRANSPORT_TCP, out, sizeof(out), &olen),
	    QUERY_REPLY);
	assert_int_equal(ldns_wire2pkt(&pkt, out, olen), LDNS_STATUS_OK);
	return pkt;
}

static void
test_snapshot_answers(void **state)
{
	struct snapshot	*snap;
	ldns_zone	*z;
	ldns_pkt	*p;

	(void)state;
	z = load_text(good_zone);
	assert_non_null(z);
	snap = snapshot_build(z, "svc.test.", err, sizeof(err));
	assert_non_null(snap);
	assert_int_equal(snap->serial, 7);

	/* The record is in the file twice: served once (RFC 2181). */
	p = ask(snap, "REDIS.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);

	/* A chain of two CNAMEs inside the zone, then the A record. */
	p = ask(snap, "alias2.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_ancount(p), 3);
	ldns_pkt_free(p);

	/* The chain, then NODATA at its end (SOA in authority). */
	p = ask(snap, "alias.svc.test", LDNS_RR_TYPE_MX);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);

	/* A CNAME out of the zone: just the CNAME. */
	p = ask(snap, "away.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);

	/* A CNAME to a name that does not exist: NXDOMAIN with the CNAME. */
	p = ask(snap, "dangling.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);

	/* Empty non-terminal: NODATA, not NXDOMAIN. */
	p = ask(snap, "b.deep.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);

	/* NXDOMAIN: the SOA, its TTL the lower of TTL and MINIMUM. */
	p = ask(snap, "a.very.long.name.that.is.not.there.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(p), 1);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 60);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), 0)),
	    LDNS_RR_TYPE_SOA);
	ldns_pkt_free(p);

	/* MX: the target's address in the additional section. */
	p = ask(snap, "mail.svc.test", LDNS_RR_TYPE_MX);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_arcount(p), 1);
	ldns_pkt_free(p);

	/* ANY: one RRset only (RFC 8482). */
	p = ask(snap, "redis.svc.test", LDNS_RR_TYPE_ANY);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_A);
	ldns_pkt_free(p);

	/* Outside the zone: REFUSED without AA. */
	p = ask(snap, "example.com", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(p));
	ldns_pkt_free(p);

	/* A name that only ends like the zone is outside it. */
	p = ask(snap, "xsvc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);

	snapshot_free(snap);
	ldns_zone_deep_free(z);
}

/* SOA names outside the zone sharing a suffix, as in a delegated subzone. */
static void
test_snapshot_negative_with_outside_soa_names(void **state)
{
	struct snapshot	*snap;
	ldns_zone	*z;
	ldns_pkt	*p;
	ldns_rr		*soa;
	char		*rname;
	const char	*names[] = { "nope.svc.test", "a.b.c.nope.svc.test", "redis.svc.test" };
	uint16_t	 types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_A, LDNS_RR_TYPE_MX };
	size_t		 i;

	(void)state;
	z = load_text("$ORIGIN svc.test.\n"
	    "@ 3600 IN SOA ns1.example.net. hostmaster.example.net. 1 2 3 4 60\n"
	    "@ IN NS ns1.example.net.\nredis 5 IN A 127.0.0.2\n");
	assert_non_null(z);
	snap = snapshot_build(z, "svc.test.", err, sizeof(err));
	assert_non_null(snap);
	for (i = 0; i < 3; i++) {
		p = ask(snap, names[i], types[i]);
		assert_int_equal(ldns_pkt_nscount(p), 1);
		soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
		rname = ldns_rdf2str(ldns_rr_rdf(soa, 1));
		assert_string_equal(rname, "hostmaster.example.net.");
		free(rname);
		ldns_pkt_free(p);
	}
	snapshot_free(snap);
	ldns_zone_deep_free(z);
}

static void
test_snapshot_many_names(void **state)
{
	struct snapshot	*snap;
	ldns_zone	*z;
	FILE		*fp;
	char		 name[64];
	int		 i;
	ldns_pkt	*p;

	(void)state;
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("$ORIGIN svc.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 127.0.0.1\n", fp);
	for (i = 0; i < 2000; i++)
		fprintf(fp, "s%d 5 IN A 10.0.%d.%d\n", i, i / 256, i % 256);
	/* One large RRset, each record twice: duplicates go in one sort. */
	for (i = 0; i < 6000; i++)
		fprintf(fp, "wide 5 IN A 10.1.%d.%d\n", (i % 3000) / 256, (i % 3000) % 256);
	fclose(fp);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	assert_non_null(z);
	snap = snapshot_build(z, "svc.test.", err, sizeof(err));
	assert_non_null(snap);
	p = ask(snap, "wide.svc.test", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_ancount(p), 3000);
	ldns_pkt_free(p);
	for (i = 0; i < 2000; i += 97) {
		snprintf(name, sizeof(name), "s%d.svc.test", i);
		p = ask(snap, name, LDNS_RR_TYPE_A);
		assert_int_equal(ldns_pkt_ancount(p), 1);
		ldns_pkt_free(p);
	}
	snapshot_free(snap);
	ldns_zone_deep_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_parens_and_chains_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_awkward_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_refuses_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_if_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_soa_negative_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_ttl_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_negative_with_outside_soa_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_many_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
