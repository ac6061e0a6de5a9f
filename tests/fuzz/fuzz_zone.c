/*
 * fuzz_zone.c - the zone file round trip: text -> zone_load ->
 * zone_write_atomic -> zone_load again.
 *
 * The zone file is the service's state and the server rewrites it on every
 * change, so whatever loads once must write a file that loads back to the
 * same records (owner, class, type, TTL and data, compared as DNS does:
 * names without case). Files go to a private folder, on tmpfs when there
 * is one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsd/zone.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* All records of z, SOA first, then in canonical order (a new list of clones). */
static ldns_rr_list *
zone_records(const ldns_zone *z)
{
	ldns_rr_list *l = ldns_rr_list_clone(ldns_zone_rrs(z));

	if (l == NULL)
		abort();
	ldns_rr_list_sort(l);
	if (ldns_zone_soa(z) != NULL)
		ldns_rr_list_push_rr(l, ldns_rr_clone(ldns_zone_soa(z)));
	return l;
}

static void
fail(const char *why, const ldns_rr *a, const ldns_rr *b)
{
	fprintf(stderr, "zone round trip: %s\n", why);
	if (a != NULL) {
		fprintf(stderr, "  loaded:   ");
		ldns_rr_print(stderr, a);
	}
	if (b != NULL) {
		fprintf(stderr, "  reloaded: ");
		ldns_rr_print(stderr, b);
	}
	abort();
}

static void
compare(const ldns_zone *z1, const ldns_zone *z2)
{
	ldns_rr_list	*a = zone_records(z1), *b = zone_records(z2);
	size_t		 i, n = ldns_rr_list_rr_count(a);
	ldns_rr		*ra, *rb;

	if ((ldns_zone_soa(z1) == NULL) != (ldns_zone_soa(z2) == NULL))
		fail("the SOA came or went", ldns_zone_soa(z1), ldns_zone_soa(z2));
	if (n != ldns_rr_list_rr_count(b)) {
		fprintf(stderr, "%zu records loaded, %zu reloaded\n", n,
		    ldns_rr_list_rr_count(b));
		fail("the number of records changed", NULL, NULL);
	}
	for (i = 0; i < n; i++) {
		ra = ldns_rr_list_rr(a, i);
		rb = ldns_rr_list_rr(b, i);
		if (ldns_rr_compare(ra, rb) != 0)
			fail("a record changed", ra, rb);
		if (ldns_rr_ttl(ra) != ldns_rr_ttl(rb))
			fail("a TTL changed", ra, rb);
	}
	ldns_rr_list_deep_free(a);
	ldns_rr_list_deep_free(b);
}

/*
 * Known to fail, not fixed yet; zones that hit these are skipped unless
 * FUZZ_ZONE_STRICT is set in the environment, to check a fix:
 *  - a name holding a double quote ("a\".b") loads, but a record that
 *    zone_write_atomic() leaves to ldns to print (MX, SRV, any type but
 *    A, AAAA, CNAME, NS, PTR, TXT and SOA) is written with the quote
 *    bare, as ldns does not escape it in names: the file does not load;
 *  - a name of raw bytes outside ASCII loads, is written with \DDD
 *    escapes, and when that text is 254 characters or more ldns refuses to
 *    read it back (its tokens are shorter than LDNS_MAX_DOMAINLEN).
 */
static int
name_unwritable(const ldns_rdf *rdf)
{
	const uint8_t	*d = ldns_rdf_data(rdf);
	size_t		 n = ldns_rdf_size(rdf), pos = 0, i, text = 0;

	if (memchr(d, '"', n) != NULL)
		return 1;
	/* The text as fmt_dname() in zone.c writes it: labels and dots. */
	while (pos < n && d[pos] != 0) {
		for (i = pos + 1; i <= pos + d[pos] && i < n; i++)
			text += d[i] <= ' ' || d[i] >= 0x7f ? 4 :
			    strchr(".\\\"();@$", d[i]) ? 2 : 1;
		text++;
		pos += 1 + (size_t)d[pos];
	}
	return text >= 254;
}

static int
rr_has_unwritable_name(const ldns_rr *rr)
{
	const ldns_rdf	*rdf;
	size_t		 i;

	if (rr == NULL)
		return 0;
	if (name_unwritable(ldns_rr_owner(rr)))
		return 1;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		rdf = ldns_rr_rdf(rr, i);
		if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME && name_unwritable(rdf))
			return 1;
	}
	return 0;
}

static int
known_failure(const ldns_zone *z)
{
	static int	strict = -1;
	size_t		i;

	if (strict == -1)
		strict = getenv("FUZZ_ZONE_STRICT") != NULL;
	if (strict)
		return 0;
	if (rr_has_unwritable_name(ldns_zone_soa(z)))
		return 1;
	for (i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); i++)
		if (rr_has_unwritable_name(ldns_rr_list_rr(ldns_zone_rrs(z), i)))
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 in[300], out[300];
	ldns_zone	*z1, *z2;
	char		 err[1024];

	if (in[0] == '\0') {
		snprintf(in, sizeof(in), "%s/in.zone", fuzz_dir());
		snprintf(out, sizeof(out), "%s/out.zone", fuzz_dir());
	}
	fuzz_write_file(in, data, size);
	z1 = zone_load(in, FUZZ_ORIGIN, 60, err, sizeof(err));
	if (z1 == NULL)
		return 0;
	if (known_failure(z1)) {
		ldns_zone_deep_free(z1);
		return 0;
	}
	if (zone_write_atomic(z1, out, err, sizeof(err)) != 0) {
		fprintf(stderr, "a loaded zone does not write: %s\n", err);
		abort();
	}
	z2 = zone_load(out, FUZZ_ORIGIN, 60, err, sizeof(err));
	if (z2 == NULL) {
		fprintf(stderr, "the written zone does not load back: %s\n", err);
		abort();
	}
	compare(z1, z2);
	ldns_zone_deep_free(z1);
	ldns_zone_deep_free(z2);
	return 0;
}
