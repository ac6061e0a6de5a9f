/*
 * test_zone_read.c - zone_load reads plain one-line records itself and
 * leaves the rest to ldns (dnsd/zone.c): each record here, after a fixed
 * head, must load into exactly the record ldns makes of the same line
 * (owner bytes and case, TTL, class, type, each field's type and data),
 * and a line ldns refuses must be refused with ldns's message and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnsd/zone.h"

#define HEAD	"$ORIGIN svc.test.\n$TTL 300\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n"
#define HEAD_LINES	4

static char	tmpdir[64];
static char	path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_zone_read.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/z.zone", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(tmpdir);
}

static ldns_zone *
load(const char *line, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "%s%s\n", HEAD, line);
	fclose(fp);
	return zone_load(path, "svc.test.", 3600, err, errlen);
}

/* What ldns itself makes of line, in the state the head leaves. */
static ldns_status
ldns_read(const char *line, ldns_rr **rr)
{
	ldns_rdf	*origin = ldns_dname_new_frm_str("svc.test.");
	ldns_rdf	*prev = ldns_rdf_clone(origin);
	ldns_status	 st = ldns_rr_new_frm_str(rr, line, 300, origin, &prev);

	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return st;
}

static void
assert_rdf_same(const ldns_rdf *a, const ldns_rdf *b, const char *line)
{
	if (ldns_rdf_get_type(a) != ldns_rdf_get_type(b) ||
	    ldns_rdf_size(a) != ldns_rdf_size(b) ||
	    memcmp(ldns_rdf_data(a), ldns_rdf_data(b), ldns_rdf_size(a)) != 0)
		fail_msg("\"%s\": a field differs from ldns's", line);
}

/* Lines read into the same record as ldns reads them. */
static void
test_same_records_as_ldns(void **state)
{
	static const char *lines[] = {
		"www A 192.0.2.1",
		"WwW\t5\tIN\tA\t192.0.2.1",
		"www 5 in a 192.0.2.1 ; a comment",
		"www.svc.test. 0 IN A 10.0.0.1",
		"@ IN A 127.0.0.1",
		" IN A 127.0.0.3",
		"_redisfo.svc1 5 IN TXT \"primary=n1 epoch=1 at=2026-01-01T00:00:00Z\"",
		"t TXT \"a;b\" plain \"\" \"two words\"",
		"t TXT \"(not a paren)\"",
		"t TXT " "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
		"v6 AAAA fd00::1:2",
		"v6 AAAA ::ffff:192.0.2.1",
		"alias CNAME redis",
		"alias2 CNAME redis.example.net.",
		"alias3 CNAME .",
		"@ NS ns.example.net.",
		"p PTR host",
		"mail MX 10 mx1",
		"mail MX 010 mx1.example.net.",
		"_redis._tcp.r SRV 0 5 6379 redis",
		"_redis._tcp.r 60 IN SRV 65535 65535 65535 redis.",
		"a-b_c.d-e A 192.0.2.9",
		"lab.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.8",
		"esc\\.dot A 192.0.2.1",		/* escapes: read by ldns, the same */
		"par A ( 192.0.2.1 )",
		"w 1h A 192.0.2.1",
		"t TXT \"a\\\"b\"",
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char		 err[1024];
		ldns_zone	*z = load(lines[i], err, sizeof(err));
		ldns_rr		*want = NULL, *got;
		ldns_status	 st = ldns_read(lines[i], &want);

		if (st != LDNS_STATUS_OK)
			fail_msg("\"%s\": ldns refuses it; not a record to compare", lines[i]);
		if (z == NULL)
			fail_msg("\"%s\": %s", lines[i], err);
		got = ldns_rr_list_rr(ldns_zone_rrs(z), ldns_rr_list_rr_count(ldns_zone_rrs(z)) - 1);
		assert_rdf_same(ldns_rr_owner(got), ldns_rr_owner(want), lines[i]);
		assert_int_equal(ldns_rr_get_type(got), ldns_rr_get_type(want));
		assert_int_equal(ldns_rr_get_class(got), ldns_rr_get_class(want));
		assert_int_equal(ldns_rr_ttl(got), ldns_rr_ttl(want));
		assert_int_equal(ldns_rr_rd_count(got), ldns_rr_rd_count(want));
		for (k = 0; k < ldns_rr_rd_count(got); k++)
			assert_rdf_same(ldns_rr_rdf(got, k), ldns_rr_rdf(want, k), lines[i]);
		ldns_rr_free(want);
		ldns_zone_deep_free(z);
	}
}

/* Lines ldns refuses: refused the same, naming the line. */
static void
test_same_refusals_as_ldns(void **state)
{
	static const char *lines[] = {
		"www A 256.0.0.1",
		"www A 01.2.3.4",
		"www A 192.0.2.1 extra",
		"www A",
		"www AAAA 192.0.2.1",
		"a..b A 192.0.2.1",
		"t TXT \"" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
		"t TXT " "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"mail MX 10",
		"mail MX x mx1",
		"s SRV 1 2 3",
		"alias CNAME a..b",
		"lab.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.8",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char		 err[1024], want[1200];
		ldns_zone	*z = load(lines[i], err, sizeof(err));
		ldns_rr		*rr = NULL;
		ldns_status	 st = ldns_read(lines[i], &rr);

		if (st == LDNS_STATUS_OK)
			fail_msg("\"%s\": ldns reads it; not a refusal to test", lines[i]);
		if (z != NULL)
			fail_msg("\"%s\" loaded", lines[i]);
		snprintf(want, sizeof(want), "%s:%d: %s", path, HEAD_LINES + 1,
		    ldns_get_errorstr_by_id(st));
		assert_string_equal(err, want);
	}
}

/* Blank and comment lines around records: the lines named stay ldns's. */
static void
test_lines_named(void **state)
{
	char		 err[1024];
	ldns_zone	*z;
	FILE		*fp;

	(void)state;
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(HEAD "\n; c\nok A 192.0.2.1\n\n\nalso AAAA ::1\nbad A 1.2.3\n", fp);
	fclose(fp);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	assert_null(z);
	assert_non_null(strstr(err, ":11: "));
	/* A record the checks refuse is named by its own line. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(HEAD "\n\nok A 192.0.2.1\n\nout.example. A 192.0.2.2\n", fp);
	fclose(fp);
	z = zone_load(path, "svc.test.", 3600, err, sizeof(err));
	assert_null(z);
	if (strstr(err, ":9: ") == NULL || strstr(err, "outside the zone") == NULL)
		fail_msg("%s", err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_records_as_ldns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_refusals_as_ldns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_named, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
