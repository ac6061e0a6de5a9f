/*
 * fuzz_update.c - RFC 2136 UPDATE on hostile bytes: update_begin,
 * update_run against a small zone, update_reply, as the server's control
 * thread calls them.
 *
 * The first byte picks the case, the rest is the message:
 *	0	the server has a key; the message as it came
 *	1	the server has a key; the message signed with it first (ldns),
 *		so the prerequisites and updates are reached
 *	2	the server has no key; the message as it came
 * A zone an UPDATE produces is what the server writes and serves next, so
 * it must pass zone_check, compile to a snapshot, and go in the journal;
 * and the server's own way to it (the names the message names read from
 * the served version, the next version made from them) must give the
 * same records and names.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dnsd/snapshot.h"
#include "dnsd/update.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ldns_zone *zone;
static struct xfr_journal journal;

static void
check_new_zone(const ldns_zone *nz)
{
	struct snapshot	*snap;
	char		 err[512];

	if (zone_check(nz, FUZZ_ORIGIN, err, sizeof(err)) != 0) {
		fprintf(stderr, "UPDATE made a zone that fails its check: %s\n", err);
		abort();
	}
	if (zone_serial(nz) == zone_serial(zone)) {
		fprintf(stderr, "UPDATE changed the zone but not its serial\n");
		abort();
	}
	snap = snapshot_build(nz, FUZZ_ORIGIN, err, sizeof(err));
	if (snap == NULL) {
		fprintf(stderr, "UPDATE made a zone that does not compile: %s\n", err);
		abort();
	}
	snapshot_free(snap);
	xfr_journal_record(&journal, zone, nz, FUZZ_ORIGIN);
	xfr_journal_clear(&journal);
}

static int
src_name_rrs(void *ver, const ldns_rdf *owner, ldns_rr_list *out)
{
	return snapshot_name_rrs(ver, owner, out);
}

static const ldns_rr *
src_soa(void *ver)
{
	return ((const struct snapshot *)ver)->soa_rr;
}

/* The same message the server's way: its next version holds nz's records. */
static void
check_server_path(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    const ldns_zone *nz)
{
	static struct snapshot		*base;
	static struct update_replay	 replay;
	struct update_source		 src;
	struct update_ctx		*u;
	struct zone_edit		 edit;
	struct snapshot			*nv, *fresh;
	ldns_rr_list			*removed, *added;
	ldns_zone			*a, *b;
	char				 err[512];
	size_t				 i;

	if (base == NULL && (base = snapshot_build(zone, FUZZ_ORIGIN, err, sizeof(err))) == NULL)
		abort();
	memset(&replay, 0, sizeof(replay));
	if ((u = update_begin(wire, len, key, FUZZ_FUDGE_MAX, &replay, err, sizeof(err))) == NULL)
		abort();
	src.name_rrs = src_name_rrs;
	src.soa = src_soa;
	src.arg = base;
	if (update_run_edit(u, &src, FUZZ_ORIGIN, &edit) != 0 || edit.n == 0 ||
	    (nv = snapshot_apply(base, &edit, &removed, &added, err, sizeof(err))) == NULL) {
		fprintf(stderr, "the server's way to the change failed: %s\n", err);
		abort();
	}
	zone_edit_free(&edit);
	ldns_rr_list_deep_free(removed);
	ldns_rr_list_deep_free(added);
	update_end(u);
	if ((fresh = snapshot_build(nz, FUZZ_ORIGIN, err, sizeof(err))) == NULL)
		abort();
	a = snapshot_zone_view(nv, 1);
	b = snapshot_zone_view(fresh, 1);
	if (a == NULL || b == NULL || nv->nnames != fresh->nnames ||
	    ldns_rr_list_rr_count(ldns_zone_rrs(a)) != ldns_rr_list_rr_count(ldns_zone_rrs(b)) ||
	    ldns_rr_compare(ldns_zone_soa(a), ldns_zone_soa(b)) != 0) {
		fprintf(stderr, "the server's next version differs from the zone UPDATE made\n");
		abort();
	}
	for (i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(a)); i++)
		if (ldns_rr_compare(ldns_rr_list_rr(ldns_zone_rrs(a), i),
		    ldns_rr_list_rr(ldns_zone_rrs(b), i)) != 0) {
			fprintf(stderr, "the server's next version differs at record %zu\n", i);
			abort();
		}
	snapshot_zone_view_free(a);
	snapshot_zone_view_free(b);
	snapshot_free(fresh);
	snapshot_free(nv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_tsig_key	 key;
	struct update_ctx	*u;
	ldns_zone		*nz = NULL;
	uint8_t			*signed_wire = NULL, *reply = NULL;
	const uint8_t		*wire;
	size_t			 len, rlen = 0;
	char			 err[512];
	int			 mode, rcode;

	if (zone == NULL)
		zone = fuzz_zone_from_text(FUZZ_ORIGIN, FUZZ_ZONE_TEXT);
	if (size < 1)
		return 0;
	mode = data[0] % 3;
	wire = data + 1;
	len = size - 1;
	fuzz_key(&key, "hmac-sha256");
	if (mode == 2)
		key.name[0] = '\0';
	if (mode == 1) {
		if (fuzz_sign(wire, len, &key, &signed_wire, &len) != 0)
			return 0;
		wire = signed_wire;
	}
	/* The replay cache is the caller's: one per run, so runs do not meet. */
	static struct update_replay replay;

	memset(&replay, 0, sizeof(replay));
	u = update_begin(wire, len, &key, FUZZ_FUDGE_MAX, &replay, err, sizeof(err));
	if (u == NULL) {
		free(signed_wire);
		return 0;
	}
	rcode = update_run(u, zone, FUZZ_ORIGIN, &nz);
	if (rcode < 0 || rcode > 15 || (nz != NULL && rcode != 0)) {
		fprintf(stderr, "update_run: rcode %d, new zone %p\n", rcode, (void *)nz);
		abort();
	}
	(void)update_why(u);
	if (nz != NULL) {
		check_new_zone(nz);
		check_server_path(wire, len, &key, nz);
		ldns_zone_deep_free(nz);
	}
	if (update_reply(u, rcode, &reply, &rlen) == 0) {
		fuzz_assert_parses(reply, rlen, "UPDATE reply");
		free(reply);
	}
	update_end(u);
	free(signed_wire);
	return 0;
}
