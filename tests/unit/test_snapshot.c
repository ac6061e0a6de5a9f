/*
 * test_snapshot.c - a version made from the last by a change answers
 * exactly as one built from scratch from the same records.
 *
 * Random changes over a pool of names (addresses, text, CNAMEs to names
 * of the pool and outside, SRV, MX and NS targets whose addresses go in
 * the additional section, names deep enough to make and unmake empty
 * non-terminals, deletions); after each, every answer of every name of
 * either version, and the negative answers, are compared byte for byte
 * with a fresh build, and the versions before stay as they were while a
 * newer one is made.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnsd/snapshot.h"
#include "dnsd/zone.h"
#include "unit_zone.h"

#define ORIGIN	"svc.test."

static const char *pool[] = {
	"a", "b", "c", "x.a", "y.x.a", "deep.q.r", "q.r", "m", "s", "_redis._tcp.a",
	"ns1", "www", "z.y.x.a",
};
#define NPOOL	(sizeof(pool) / sizeof(pool[0]))

static const uint16_t qtypes[] = {
	LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_CNAME,
	LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_SOA,
	LDNS_RR_TYPE_ANY, 99,
};

static ldns_rr *
rr(const char *fmt, ...)
{
	char	 text[512];
	ldns_rr	*r = NULL;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_int_equal(ldns_rr_new_frm_str(&r, text, 300, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

static void
answers_equal(const struct answer *a, const struct answer *b, const char *what)
{
	if (a->len != b->len || a->ancount != b->ancount || a->nscount != b->nscount ||
	    a->arcount != b->arcount || a->rcode != b->rcode || a->npatch != b->npatch ||
	    a->len_noadd != b->len_noadd || memcmp(a->body, b->body, a->len) != 0 ||
	    memcmp(a->patch, b->patch, sizeof(a->patch)) != 0) {
		print_error("answers differ at %s: len %u/%u an %u/%u ns %u/%u ar %u/%u rcode %u/%u\n",
		    what, a->len, b->len, a->ancount, b->ancount, a->nscount, b->nscount,
		    a->arcount, b->arcount, a->rcode, b->rcode);
		fail();
	}
}

/* Every answer of name in inc equals fresh's; both have it or neither. */
static void
name_equal(const struct snapshot *inc, const struct snapshot *fresh, const char *rel)
{
	char		 text[300];
	ldns_rdf	*d;
	uint8_t		 lc[256];
	size_t		 len, i;
	const struct name_entry *x, *y;

	snprintf(text, sizeof(text), "%s%s%s", rel, rel[0] ? "." : "", ORIGIN);
	d = ldns_dname_new_frm_str(text);
	assert_non_null(d);
	len = ldns_rdf_size(d);
	memcpy(lc, ldns_rdf_data(d), len);
	ldns_dname2canonical(d);
	memcpy(lc, ldns_rdf_data(d), len);
	ldns_rdf_deep_free(d);
	x = snapshot_lookup(inc, lc, len);
	y = snapshot_lookup(fresh, lc, len);
	if ((x == NULL) != (y == NULL)) {
		print_error("%s: %s in the changed version, %s in a fresh one\n", text,
		    x ? "present" : "absent", y ? "present" : "absent");
		fail();
	}
	if (x == NULL)
		return;
	for (i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++) {
		char what[340];

		snprintf(what, sizeof(what), "%s type %u", text, qtypes[i]);
		answers_equal(snapshot_answer(inc, x, qtypes[i]), snapshot_answer(fresh, y, qtypes[i]),
		    what);
	}
}

static void
versions_equal(const struct snapshot *inc)
{
	ldns_zone	*view = snapshot_zone_view(inc, 1);
	struct snapshot	*fresh;
	char		 err[256];
	size_t		 i;

	assert_non_null(view);
	fresh = snapshot_build(view, ORIGIN, err, sizeof(err));
	if (fresh == NULL)
		print_error("fresh build: %s\n", err);
	assert_non_null(fresh);
	assert_int_equal(inc->serial, fresh->serial);
	assert_int_equal(inc->nnames, fresh->nnames);
	assert_int_equal(inc->nrrs, fresh->nrrs);
	answers_equal(&inc->nxdomain, &fresh->nxdomain, "NXDOMAIN");
	answers_equal(&inc->nodata, &fresh->nodata, "NODATA");
	answers_equal(&inc->soa, &fresh->soa, "SOA");
	name_equal(inc, fresh, "");
	for (i = 0; i < NPOOL; i++)
		name_equal(inc, fresh, pool[i]);
	name_equal(inc, fresh, "r");
	name_equal(inc, fresh, "_tcp.a");
	name_equal(inc, fresh, "y.a");
	snapshot_free(fresh);
	snapshot_zone_view_free(view);
}

/* Records for name: one to three of a random kind. */
static ldns_rr_list *
random_records(const char *name, unsigned *seed)
{
	ldns_rr_list	*l = ldns_rr_list_new();
	int		 kind = rand_r(seed) % 8, n = 1 + rand_r(seed) % 3, i;
	const char	*target = pool[rand_r(seed) % NPOOL];

	for (i = 0; i < n; i++) {
		switch (kind) {
		case 0: case 1:
			ldns_rr_list_push_rr(l, rr("%s.%s %d IN A 10.0.%d.%d", name, ORIGIN,
			    5 + rand_r(seed) % 3, rand_r(seed) % 4, rand_r(seed) % 4));
			break;
		case 2:
			ldns_rr_list_push_rr(l, rr("%s.%s 5 IN AAAA 2001:db8::%x", name, ORIGIN,
			    rand_r(seed) % 4));
			break;
		case 3:
			ldns_rr_list_push_rr(l, rr("%s.%s 5 IN TXT \"t%d\"", name, ORIGIN,
			    rand_r(seed) % 4));
			break;
		case 4:
			if (i == 0)
				ldns_rr_list_push_rr(l, rr("%s.%s 5 IN CNAME %s%s", name, ORIGIN,
				    rand_r(seed) % 5 ? target : "out.example", rand_r(seed) % 5 ?
				    "." ORIGIN : "."));
			break;
		case 5:
			ldns_rr_list_push_rr(l, rr("%s.%s 5 IN SRV 0 0 %d %s.%s", name, ORIGIN,
			    6379 + i, target, ORIGIN));
			break;
		case 6:
			ldns_rr_list_push_rr(l, rr("%s.%s 5 IN MX %d %s.%s", name, ORIGIN, i,
			    pool[rand_r(seed) % NPOOL], ORIGIN));
			break;
		default:
			break;	/* none: the name goes */
		}
	}
	return l;
}

static int
zone_edit_names_has(const struct zone_edit *e, const ldns_rdf *owner)
{
	for (size_t i = 0; i < e->n; i++)
		if (ldns_dname_compare(e->names[i].owner, owner) == 0)
			return 1;
	return 0;
}

static void
test_changes_answer_as_fresh_builds(void **state)
{
	ldns_zone	*z = unit_zone_from_text(ORIGIN,
	    "$ORIGIN svc.test.\n"
	    "@ 30 IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
	    "@ 30 IN NS ns1\n"
	    "ns1 IN A 127.0.0.1\n"
	    "a 5 IN A 10.0.0.1\n"
	    "_redis._tcp.a 5 IN SRV 0 0 6379 a\n"
	    "www 5 IN CNAME a\n"
	    "deep.q.r 5 IN TXT \"x\"\n"
	    "m 5 IN MX 10 a\n"
	    "@ 30 IN MX 10 m\n");
	struct snapshot	*v, *kept = NULL;
	char		 err[256];
	unsigned	 seed = 7;
	int		 step;

	(void)state;
	v = snapshot_build(z, ORIGIN, err, sizeof(err));
	assert_non_null(v);
	snapshot_own_zone(v, z);
	versions_equal(v);
	for (step = 0; step < 600; step++) {
		struct zone_edit	 e;
		struct snapshot		*nv;
		ldns_rr_list		*removed, *added, *apex = ldns_rr_list_new();
		ldns_rdf		*owner;
		int			 names = 1 + rand_r(&seed) % 3, i;
		char			 text[300];

		memset(&e, 0, sizeof(e));
		for (i = 0; i < names; i++) {
			const char *name = pool[rand_r(&seed) % NPOOL];

			if (strcmp(name, "ns1") == 0)
				continue;
			snprintf(text, sizeof(text), "%s.%s", name, ORIGIN);
			owner = ldns_dname_new_frm_str(text);
			if (!zone_edit_names_has(&e, owner))
				assert_int_equal(zone_edit_add(&e, owner, random_records(name, &seed)), 0);
			ldns_rdf_deep_free(owner);
		}
		/* The apex, with the serial one up, as every change has it. */
		ldns_rr_list_push_rr(apex, rr(ORIGIN " 30 IN SOA ns1." ORIGIN " hostmaster." ORIGIN
		    " %d 3600 600 86400 60", step + 2));
		ldns_rr_list_push_rr(apex, rr(ORIGIN " 30 IN NS ns1." ORIGIN));
		owner = ldns_dname_new_frm_str(ORIGIN);
		assert_int_equal(zone_edit_add(&e, owner, apex), 0);
		ldns_rdf_deep_free(owner);
		nv = snapshot_apply(v, &e, &removed, &added, err, sizeof(err));
		if (nv == NULL)
			print_error("step %d: %s\n", step, err);
		assert_non_null(nv);
		zone_edit_free(&e);
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		versions_equal(nv);
		/* An older version still held (a transfer, a compaction) is unchanged. */
		if (step % 50 == 0) {
			if (kept != NULL)
				snapshot_free(kept);
			kept = v;
			snapshot_ref(kept);
		}
		if (kept != NULL && step % 50 == 49)
			versions_equal(kept);
		snapshot_free(v);
		v = nv;
	}
	if (kept != NULL) {
		versions_equal(kept);
		snapshot_free(kept);
	}
	snapshot_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes_answer_as_fresh_builds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
