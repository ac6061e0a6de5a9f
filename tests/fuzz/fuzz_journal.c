/*
 * fuzz_journal.c - the zone's change journal read from any bytes.
 *
 * Byte 0 is a mode: with bit 0 set, the header's and every record's
 * checksums are made right before the file is written, as a fuzzer
 * cannot forge a CRC, so that the payloads reach the parser; clear, the
 * bytes go as they are. Then journal_read on the file, and for a file it
 * takes:
 *  - journal_open where the read ended (a torn tail is cut), after which
 *    the file reads back whole, to the same records and the same end;
 *  - its records appended in order to a new journal, which must take
 *    every one (what reads must write) and read back to the same records.
 * Files go to a private folder, on tmpfs when there is one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnsd/journal.h"
#include "dnsd/wire.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* More than any seed holds; an input with more is only read. */
#define FUZZ_JOURNAL_KEEP	64

struct kept {
	size_t			n, total;
	struct journal_rec	rec[FUZZ_JOURNAL_KEEP];
};

static int
keep(void *arg, const struct journal_rec *rec, off_t off)
{
	struct kept		*k = arg;
	struct journal_rec	*c;

	(void)off;
	if (rec->has_change && (rec->from_soa == NULL || rec->to_soa == NULL ||
	    rec->removed == NULL || rec->added == NULL)) {
		fprintf(stderr, "journal: a change without its SOAs or lists\n");
		abort();
	}
	if (!rec->has_replay && !rec->has_change) {
		fprintf(stderr, "journal: a record of nothing\n");
		abort();
	}
	if (k->total++ >= FUZZ_JOURNAL_KEEP)
		return 0;
	c = &k->rec[k->n++];
	*c = *rec;
	if (rec->has_change) {
		c->from_soa = ldns_rr_clone(rec->from_soa);
		c->to_soa = ldns_rr_clone(rec->to_soa);
		c->removed = ldns_rr_list_clone(rec->removed);
		c->added = ldns_rr_list_clone(rec->added);
		if (c->from_soa == NULL || c->to_soa == NULL || c->removed == NULL ||
		    c->added == NULL)
			abort();
	}
	return 0;
}

static void
kept_free(struct kept *k)
{
	for (size_t i = 0; i < k->n; i++) {
		ldns_rr_free(k->rec[i].from_soa);
		ldns_rr_free(k->rec[i].to_soa);
		ldns_rr_list_deep_free(k->rec[i].removed);
		ldns_rr_list_deep_free(k->rec[i].added);
	}
	memset(k, 0, sizeof(*k));
}

/* The checksums of buf as dnsd/journal.c computes them, lengths taken as they are. */
static void
fix_checksums(uint8_t *buf, size_t size)
{
	size_t		off, n;
	uint32_t	len;

	if (size < 12)
		return;
	n = dns_rd16(buf + 10);
	if (12 + n + 4 > size)
		return;
	dns_wr32(buf + 12 + n, journal_crc32c(buf, 12 + n));
	for (off = 12 + n + 4; size - off >= 12; off += 12 + (size_t)len) {
		len = dns_rd32(buf + off);
		dns_wr32(buf + off + 4, journal_crc32c(buf + off, 4));
		if (len > size - off - 12)
			return;
		dns_wr32(buf + off + 8, journal_crc32c(buf + off + 12, len));
	}
}

static void
fail(const char *why, size_t i)
{
	fprintf(stderr, "journal round trip: record %zu: %s\n", i, why);
	abort();
}

static int
rr_same(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_compare(a, b) == 0 && ldns_rr_ttl(a) == ldns_rr_ttl(b);
}

static int
list_same(const ldns_rr_list *a, const ldns_rr_list *b)
{
	size_t i, n = ldns_rr_list_rr_count(a);

	if (n != ldns_rr_list_rr_count(b))
		return 0;
	for (i = 0; i < n; i++)
		if (!rr_same(ldns_rr_list_rr(a, i), ldns_rr_list_rr(b, i)))
			return 0;
	return 1;
}

static void
compare(const struct kept *a, const struct kept *b)
{
	const struct journal_rec	*x, *y;
	size_t				 i;

	if (a->total != b->total)
		fail("the number of records changed", a->total);
	for (i = 0; i < a->n; i++) {
		x = &a->rec[i];
		y = &b->rec[i];
		if (x->has_replay != y->has_replay || x->has_change != y->has_change)
			fail("what it holds changed", i);
		if (x->has_replay && (x->time_signed != y->time_signed ||
		    x->rcode != y->rcode || x->mac_len != y->mac_len ||
		    memcmp(x->mac, y->mac, x->mac_len) != 0))
			fail("the replay facts changed", i);
		if (x->has_change && (!rr_same(x->from_soa, y->from_soa) ||
		    !rr_same(x->to_soa, y->to_soa) || !list_same(x->removed, y->removed) ||
		    !list_same(x->added, y->added)))
			fail("the change changed", i);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 in[300], out[300];
	static struct kept first, again;
	struct journal	*j;
	off_t		 end, torn, end2, torn2;
	char		 err[1024];
	size_t		 i;

	if (in[0] == '\0') {
		snprintf(in, sizeof(in), "%s/in.journal", fuzz_dir());
		snprintf(out, sizeof(out), "%s/out.journal", fuzz_dir());
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		uint8_t *buf = malloc(size);

		if (buf == NULL)
			abort();
		memcpy(buf, data + 1, size - 1);
		fix_checksums(buf, size - 1);
		fuzz_write_file(in, buf, size - 1);
		free(buf);
	} else
		fuzz_write_file(in, data + 1, size - 1);
	if (journal_read(in, FUZZ_ORIGIN, keep, &first, &end, &torn, err, sizeof(err)) != 0) {
		kept_free(&first);
		return 0;
	}
	if (torn != -1 && torn != end) {
		fprintf(stderr, "journal: torn at %lld but ends at %lld\n", (long long)torn,
		    (long long)end);
		abort();
	}

	/* Opened where it ended, the file holds just its good records. */
	if ((j = journal_open(in, FUZZ_ORIGIN, end, err, sizeof(err))) == NULL) {
		fprintf(stderr, "journal: a file that reads does not open: %s\n", err);
		abort();
	}
	if (journal_size(j) != end)
		abort();
	journal_close(j);
	if (journal_read(in, FUZZ_ORIGIN, keep, &again, &end2, &torn2, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "journal: cut where it ended, it does not read: %s\n", err);
		abort();
	}
	if (torn2 != -1 || end2 != end)
		abort();
	compare(&first, &again);
	kept_free(&again);

	/* Written again, record by record, it reads back the same. */
	if (first.total <= FUZZ_JOURNAL_KEEP) {
		unlink(out);
		if ((j = journal_open(out, FUZZ_ORIGIN, 0, err, sizeof(err))) == NULL) {
			fprintf(stderr, "journal: %s\n", err);
			abort();
		}
		for (i = 0; i < first.n; i++)
			if (journal_append(j, &first.rec[i], err, sizeof(err)) == -1) {
				fprintf(stderr, "journal: a record read does not append: %s\n",
				    err);
				abort();
			}
		journal_close(j);
		if (journal_read(out, FUZZ_ORIGIN, keep, &again, &end2, &torn2, err,
		    sizeof(err)) != 0 || torn2 != -1) {
			fprintf(stderr, "journal: the rewritten file does not read: %s\n", err);
			abort();
		}
		compare(&first, &again);
		kept_free(&again);
	}
	kept_free(&first);
	return 0;
}
