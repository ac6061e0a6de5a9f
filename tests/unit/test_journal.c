/*
 * test_journal.c - the zone's change journal on disk (dnsd/journal.c):
 * records read back as written, a record cut short or damaged at the end
 * is dropped and appending goes on after it, damage anywhere else and
 * another zone's file are refused with the offset, compaction keeps what
 * it is told to.
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
#include <sys/stat.h>
#include <unistd.h>

#include "dnsd/journal.h"

#define ORIGIN	"svc.test."
#define MAXSEEN	16

static char	tmpdir[64];
static char	path[128];
static char	err[1024];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_journal.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/z.zone.journal", tmpdir);
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

/* ---- records to write ---- */

static ldns_rr *
rr(const char *text)
{
	ldns_rr		*r = NULL;
	ldns_rdf	*o = ldns_dname_new_frm_str(ORIGIN);

	assert_int_equal(ldns_rr_new_frm_str(&r, text, 60, o, NULL), LDNS_STATUS_OK);
	ldns_rdf_deep_free(o);
	return r;
}

static ldns_rr *
soa(uint32_t serial)
{
	char text[200];

	snprintf(text, sizeof(text), "@ 3600 IN SOA ns1 hostmaster %u 3600 600 86400 5",
	    serial);
	return rr(text);
}

static void
rec_free(struct journal_rec *r)
{
	ldns_rr_free(r->from_soa);
	ldns_rr_free(r->to_soa);
	ldns_rr_list_deep_free(r->removed);
	ldns_rr_list_deep_free(r->added);
	memset(r, 0, sizeof(*r));
}

static void
rec_replay(struct journal_rec *r, uint64_t time_signed, uint8_t fill, size_t mac_len,
    int rcode)
{
	r->has_replay = 1;
	r->time_signed = time_signed;
	memset(r->mac, fill, mac_len);
	r->mac_len = mac_len;
	r->rcode = rcode;
}

/* A change from serial to serial + 1, removing one A and adding another. */
static void
rec_change(struct journal_rec *r, uint32_t serial, const char *gone, const char *come)
{
	r->has_change = 1;
	r->from_soa = soa(serial);
	r->to_soa = soa(serial + 1);
	r->removed = ldns_rr_list_new();
	r->added = ldns_rr_list_new();
	if (gone != NULL)
		ldns_rr_list_push_rr(r->removed, rr(gone));
	if (come != NULL)
		ldns_rr_list_push_rr(r->added, rr(come));
}

/* ---- what a read reports ---- */

struct seen {
	size_t			n;
	off_t			off[MAXSEEN];
	struct journal_rec	rec[MAXSEEN];
};

static int
collect(void *arg, const struct journal_rec *rec, off_t off)
{
	struct seen		*s = arg;
	struct journal_rec	*c;

	assert_true(s->n < MAXSEEN);
	c = &s->rec[s->n];
	*c = *rec;
	c->from_soa = rec->from_soa ? ldns_rr_clone(rec->from_soa) : NULL;
	c->to_soa = rec->to_soa ? ldns_rr_clone(rec->to_soa) : NULL;
	c->removed = rec->removed ? ldns_rr_list_clone(rec->removed) : NULL;
	c->added = rec->added ? ldns_rr_list_clone(rec->added) : NULL;
	if (rec->has_change) {
		assert_non_null(rec->removed);
		assert_non_null(rec->added);
	}
	s->off[s->n++] = off;
	return 0;
}

static void
seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		rec_free(&s->rec[i]);
	s->n = 0;
}

static void
assert_rr_same(const ldns_rr *a, const ldns_rr *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(ldns_rr_compare(a, b), 0);
	assert_int_equal(ldns_rr_ttl(a), ldns_rr_ttl(b));
	/* the owner's case too: the journal keeps what the change said */
	assert_int_equal(ldns_rdf_size(ldns_rr_owner(a)), ldns_rdf_size(ldns_rr_owner(b)));
	assert_memory_equal(ldns_rdf_data(ldns_rr_owner(a)), ldns_rdf_data(ldns_rr_owner(b)),
	    ldns_rdf_size(ldns_rr_owner(a)));
}

static void
assert_list_same(const ldns_rr_list *a, const ldns_rr_list *b)
{
	size_t na = a ? ldns_rr_list_rr_count(a) : 0, nb = b ? ldns_rr_list_rr_count(b) : 0;

	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_rr_same(ldns_rr_list_rr(a, i), ldns_rr_list_rr(b, i));
}

static void
assert_rec_same(const struct journal_rec *a, const struct journal_rec *b)
{
	assert_int_equal(a->has_replay, b->has_replay);
	if (a->has_replay) {
		assert_int_equal(a->time_signed, b->time_signed);
		assert_int_equal(a->mac_len, b->mac_len);
		assert_memory_equal(a->mac, b->mac, a->mac_len);
		assert_int_equal(a->rcode, b->rcode);
	}
	assert_int_equal(a->has_change, b->has_change);
	if (a->has_change) {
		assert_rr_same(a->from_soa, b->from_soa);
		assert_rr_same(a->to_soa, b->to_soa);
		assert_list_same(a->removed, b->removed);
		assert_list_same(a->added, b->added);
	}
}

/* ---- files ---- */

static off_t
file_size(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_size;
}

static uint8_t *
file_read(const char *p, size_t *len)
{
	FILE	*f = fopen(p, "rb");
	uint8_t	*buf;

	assert_non_null(f);
	*len = (size_t)file_size(p);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void
file_write(const char *p, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Nothing but the journal in the folder: no temp file left behind. */
static void
assert_folder_clean(void)
{
	DIR		*d = opendir(tmpdir);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			assert_string_equal(e->d_name, "z.zone.journal");
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
}

/*
 * A journal of three records, as written: replay facts only, a change
 * only (1 -> 2), and both (2 -> 3). Their offsets in off[], the file's
 * size returned.
 */
static struct journal_rec three[3];

static off_t
write_three(off_t off[3])
{
	struct journal	*j;
	off_t		 size;

	memset(three, 0, sizeof(three));
	rec_replay(&three[0], 1764460800, 0xab, 32, 0);
	rec_change(&three[1], 1, "redis 5 IN A 127.0.0.2", "Redis 5 IN A 127.0.0.3");
	ldns_rr_list_push_rr(three[1].added, rr("_redisfo.redis 5 IN TXT \"primary=r2\""));
	rec_replay(&three[2], (UINT64_C(1) << 48) - 1, 0x5c, 64, 65535);
	rec_change(&three[2], 2, "Redis 5 IN A 127.0.0.3", "redis 5 IN A 127.0.0.2");

	j = journal_open(path, ORIGIN, 0, err, sizeof(err));
	assert_non_null(j);
	for (int i = 0; i < 3; i++) {
		off_t before = journal_size(j);

		off[i] = journal_append(j, &three[i], err, sizeof(err));
		assert_int_equal(off[i], before);
		assert_true(journal_size(j) > before);
	}
	size = journal_size(j);
	journal_close(j);
	assert_int_equal(file_size(path), size);
	return size;
}

static void
free_three(void)
{
	for (int i = 0; i < 3; i++)
		rec_free(&three[i]);
}

/* ---- tests ---- */

static void
test_crc32c(void **state)
{
	(void)state;
	/* the check value of CRC-32C (RFC 3720 B.4 and the CRC catalogue) */
	assert_int_equal(journal_crc32c("123456789", 9), 0xe3069283);
	assert_int_equal(journal_crc32c("", 0), 0);
	assert_int_equal(journal_crc32c((uint8_t[32]){ 0 }, 32), 0x8a9136aa);
}

static void
test_path(void **state)
{
	char p[32];

	(void)state;
	assert_int_equal(journal_path("zones/z.zone", p, sizeof(p)), 0);
	assert_string_equal(p, "zones/z.zone.journal");
	assert_int_equal(journal_path("zones/z.zone", p, 20), -1);
}

static void
test_missing(void **state)
{
	struct seen	s = { 0 };
	off_t		end = 99, torn = 99;

	(void)state;
	assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(end, 0);
	assert_int_equal(torn, -1);
	assert_int_equal(s.n, 0);
	/* and nothing is created by reading */
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_roundtrip(void **state)
{
	struct seen		 s = { 0 };
	struct journal		*j;
	struct journal_rec	 four = { 0 };
	off_t			 off[3], size, end, torn, at;

	(void)state;
	size = write_three(off);
	assert_folder_clean();
	assert_true(off[0] > 0);
	assert_true(off[0] < off[1] && off[1] < off[2] && off[2] < size);

	assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(end, size);
	assert_int_equal(torn, -1);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s.off[i], off[i]);
		assert_rec_same(&s.rec[i], &three[i]);
	}
	assert_null(s.rec[0].from_soa);
	seen_free(&s);

	/* the origin's case does not matter; a NULL fn only checks */
	assert_int_equal(journal_read(path, "SVC.Test.", NULL, NULL, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(end, size);

	/* reopened where the read ended, appending goes on */
	j = journal_open(path, ORIGIN, end, err, sizeof(err));
	assert_non_null(j);
	assert_int_equal(journal_size(j), size);
	rec_change(&four, 3, NULL, "new 60 IN AAAA 2001:db8::1");
	at = journal_append(j, &four, err, sizeof(err));
	assert_int_equal(at, size);
	journal_close(j);
	assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.off[3], size);
	assert_rec_same(&s.rec[3], &four);
	assert_int_equal(ldns_rr_list_rr_count(s.rec[3].removed), 0);
	seen_free(&s);
	rec_free(&four);
	free_three();
}

static void
test_other_zone(void **state)
{
	struct journal	*j;
	off_t		 off[3], end, torn;

	(void)state;
	write_three(off);
	free_three();
	assert_int_equal(journal_read(path, "other.test.", NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "offset 12:"));
	assert_non_null(strstr(err, "svc.test."));
	assert_non_null(strstr(err, "other.test."));
	/* nor is it opened for appending */
	j = journal_open(path, "other.test.", off[0], err, sizeof(err));
	assert_null(j);
	assert_non_null(strstr(err, "offset 12:"));
}

static void
test_bad_header(void **state)
{
	static const char	 text[] = "$ORIGIN svc.test.\n@ IN SOA ns1 hostmaster 1 1 1 1 1\n";
	uint8_t			*buf;
	size_t			 len;
	off_t			 off[3], end, torn;

	(void)state;
	file_write(path, (const uint8_t *)text, sizeof(text) - 1);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "offset 0: not a journal"));
	assert_null(journal_open(path, ORIGIN, 0, err, sizeof(err)));

	file_write(path, (const uint8_t *)"", 0);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "offset 0:"));

	/* a version we do not know, however whole its header */
	unlink(path);
	write_three(off);
	free_three();
	buf = file_read(path, &len);
	buf[9] = 2;
	file_write(path, buf, len);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "offset 8: version 2"));
	/* a damaged origin is not taken for another zone's */
	buf[9] = 1;
	buf[14] ^= 0x20;
	file_write(path, buf, len);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum"));
	free(buf);
}

/* The file cut inside its last record, at every length. */
static void
test_torn_tail(void **state)
{
	struct seen		 s = { 0 };
	struct journal		*j;
	uint8_t			*buf;
	size_t			 len;
	off_t			 off[3], end, torn, cut;

	(void)state;
	write_three(off);
	buf = file_read(path, &len);
	for (cut = off[2]; cut < (off_t)len; cut++) {
		file_write(path, buf, (size_t)cut);
		assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
		    sizeof(err)), 0);
		assert_int_equal(end, off[2]);
		assert_int_equal(torn, cut == off[2] ? -1 : off[2]);
		assert_int_equal(s.n, 2);
		assert_int_equal(s.off[1], off[1]);
		assert_rec_same(&s.rec[0], &three[0]);
		assert_rec_same(&s.rec[1], &three[1]);
		seen_free(&s);

		/* reopened: the tail goes, and the record written again follows */
		j = journal_open(path, ORIGIN, end, err, sizeof(err));
		assert_non_null(j);
		assert_int_equal(file_size(path), off[2]);
		assert_int_equal(journal_append(j, &three[2], err, sizeof(err)), off[2]);
		journal_close(j);
		assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
		    sizeof(err)), 0);
		assert_int_equal(torn, -1);
		assert_int_equal(end, (off_t)len);
		assert_int_equal(s.n, 3);
		assert_rec_same(&s.rec[2], &three[2]);
		seen_free(&s);
	}
	/* a file grown by a write whose data never reached the disk: zeros */
	memset(buf + off[2], 0, len - (size_t)off[2]);
	file_write(path, buf, len);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(torn, off[2]);
	assert_int_equal(end, off[2]);
	free(buf);
	free_three();
}

/* Any octet of the last record damaged: it is dropped, as cut short. */
static void
test_flip_last(void **state)
{
	struct seen	 s = { 0 };
	uint8_t		*buf;
	size_t		 len, i;
	off_t		 off[3], end, torn;

	(void)state;
	write_three(off);
	buf = file_read(path, &len);
	for (i = (size_t)off[2]; i < len; i++) {
		buf[i] ^= 0x01;
		file_write(path, buf, len);
		buf[i] ^= 0x01;
		assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
		    sizeof(err)), 0);
		assert_int_equal(torn, off[2]);
		assert_int_equal(end, off[2]);
		assert_int_equal(s.n, 2);
		seen_free(&s);
	}
	free(buf);
	free_three();
}

/* Any octet of a middle record damaged: an error at that record, nothing dropped. */
static void
test_flip_middle(void **state)
{
	char		 want[64];
	uint8_t		*buf;
	size_t		 len, i;
	off_t		 off[3], end, torn;

	(void)state;
	write_three(off);
	free_three();
	buf = file_read(path, &len);
	snprintf(want, sizeof(want), "offset %lld:", (long long)off[1]);
	for (i = (size_t)off[1]; i < (size_t)off[2]; i++) {
		buf[i] ^= 0x40;
		file_write(path, buf, len);
		buf[i] ^= 0x40;
		assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, want));
		assert_int_equal(torn, -1);
	}
	free(buf);
}

static void
test_serial_chain(void **state)
{
	struct journal		*j;
	struct journal_rec	 a = { 0 }, b = { 0 };
	char			 want[64];
	off_t			 first, second, end, torn;

	(void)state;
	rec_change(&a, 1, NULL, "x 60 IN A 192.0.2.1");
	rec_change(&b, 5, NULL, "y 60 IN A 192.0.2.2");
	j = journal_open(path, ORIGIN, 0, err, sizeof(err));
	assert_non_null(j);
	first = journal_append(j, &a, err, sizeof(err));
	assert_true(first > 0);
	/* the writer refuses to break the chain it knows */
	assert_int_equal(journal_append(j, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "serial 5"));
	assert_int_equal(journal_size(j), file_size(path));
	journal_close(j);

	/* a second writer that does not know it can; the reader refuses the file */
	j = journal_open(path, ORIGIN, file_size(path), err, sizeof(err));
	assert_non_null(j);
	second = journal_append(j, &b, err, sizeof(err));
	assert_true(second > first);
	journal_close(j);
	assert_int_equal(journal_read(path, ORIGIN, NULL, NULL, &end, &torn, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "offset %lld:", (long long)second);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "serial 5"));
	assert_non_null(strstr(err, "serial 2"));
	rec_free(&a);
	rec_free(&b);
}

/* What journal_append refuses leaves the file as it was. */
static void
test_append_refuses(void **state)
{
	struct journal		*j;
	struct journal_rec	 r = { 0 };
	uint8_t			*before, *after;
	size_t			 blen, alen;
	off_t			 size;

	(void)state;
	j = journal_open(path, ORIGIN, 0, err, sizeof(err));
	assert_non_null(j);
	size = journal_size(j);
	before = file_read(path, &blen);

	assert_int_equal(journal_append(j, &r, err, sizeof(err)), -1);	/* neither */
	assert_non_null(strstr(err, path));
	rec_replay(&r, 1, 0, 65, 0);
	assert_int_equal(journal_append(j, &r, err, sizeof(err)), -1);	/* MAC too long */
	memset(&r, 0, sizeof(r));
	rec_change(&r, 1, NULL, "www.example.org. 60 IN A 192.0.2.1");
	assert_int_equal(journal_append(j, &r, err, sizeof(err)), -1);	/* outside */
	assert_non_null(strstr(err, "outside the zone"));
	rec_free(&r);
	rec_change(&r, 1, NULL, NULL);
	ldns_rr_list_push_rr(r.added, soa(9));
	assert_int_equal(journal_append(j, &r, err, sizeof(err)), -1);	/* an SOA among them */
	rec_free(&r);
	rec_change(&r, 1, NULL, NULL);
	ldns_rr_free(r.to_soa);
	r.to_soa = rr("@ 60 IN NS ns1");
	assert_int_equal(journal_append(j, &r, err, sizeof(err)), -1);	/* not an SOA */
	rec_free(&r);

	assert_int_equal(journal_size(j), size);
	after = file_read(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	journal_close(j);
}

static void
test_open_refuses(void **state)
{
	struct journal	*j;
	off_t		 off[3], size;

	(void)state;
	/* a journal that is missing is made only when nothing of it was read */
	assert_null(journal_open(path, ORIGIN, 100, err, sizeof(err)));
	assert_int_equal(access(path, F_OK), -1);
	size = write_three(off);
	free_three();
	assert_null(journal_open(path, ORIGIN, size + 1, err, sizeof(err)));
	assert_null(journal_open(path, ORIGIN, 0, err, sizeof(err)));
	assert_int_equal(file_size(path), size);
	j = journal_open(path, ORIGIN, size, err, sizeof(err));
	assert_non_null(j);
	journal_close(j);
}

static void
test_compact(void **state)
{
	struct seen		 s = { 0 };
	struct journal		*j;
	struct journal_rec	 four = { 0 }, five = { 0 };
	uint8_t			*before, *after;
	size_t			 blen, alen;
	off_t			 off[3], size, head, moved, at, end, torn;

	(void)state;
	size = write_three(off);
	head = off[0];		/* the first record follows the header */
	j = journal_open(path, ORIGIN, size, err, sizeof(err));
	assert_non_null(j);

	/* not a record's start: refused, the file as it was */
	before = file_read(path, &blen);
	assert_int_equal(journal_compact(j, off[1] + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(journal_compact(j, head - 1, err, sizeof(err)), -1);
	assert_int_equal(journal_compact(j, size + 1, err, sizeof(err)), -1);
	after = file_read(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	assert_folder_clean();

	/* from the middle record on */
	moved = journal_compact(j, off[1], err, sizeof(err));
	assert_int_equal(moved, head);
	assert_int_equal(journal_size(j), head + (size - off[1]));
	assert_int_equal(file_size(path), journal_size(j));
	assert_folder_clean();
	rec_change(&four, 3, "new 60 IN AAAA 2001:db8::1", NULL);
	at = journal_append(j, &four, err, sizeof(err));
	assert_int_equal(at, head + (size - off[1]));
	assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.off[0], moved);
	assert_int_equal(s.off[1], moved + (off[2] - off[1]));
	assert_int_equal(s.off[2], at);
	assert_rec_same(&s.rec[0], &three[1]);
	assert_rec_same(&s.rec[1], &three[2]);
	assert_rec_same(&s.rec[2], &four);
	assert_int_equal(end, journal_size(j));
	seen_free(&s);

	/* from the end: none kept, appending starts after the header */
	moved = journal_compact(j, journal_size(j), err, sizeof(err));
	assert_int_equal(moved, head);
	assert_int_equal(journal_size(j), head);
	assert_int_equal(file_size(path), head);
	rec_change(&five, 4, NULL, "new 60 IN AAAA 2001:db8::2");
	assert_int_equal(journal_append(j, &five, err, sizeof(err)), head);
	journal_close(j);
	assert_int_equal(journal_read(path, ORIGIN, collect, &s, &end, &torn, err,
	    sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.off[0], head);
	assert_rec_same(&s.rec[0], &five);
	seen_free(&s);
	assert_folder_clean();
	rec_free(&four);
	rec_free(&five);
	free_three();
}

static int
stop_at_second(void *arg, const struct journal_rec *rec, off_t off)
{
	int *calls = arg;

	(void)rec;
	(void)off;
	if (++*calls == 2) {
		snprintf(err, sizeof(err), "stopped");
		return -1;
	}
	return 0;
}

static void
test_callback_stops(void **state)
{
	off_t	off[3], end, torn;
	int	calls = 0;

	(void)state;
	write_three(off);
	free_three();
	assert_int_equal(journal_read(path, ORIGIN, stop_at_second, &calls, &end, &torn,
	    err, sizeof(err)), -1);
	assert_int_equal(calls, 2);
	assert_string_equal(err, "stopped");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_path),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
