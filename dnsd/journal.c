/*
 * journal.c - the zone's change journal on disk: append a record durably,
 * read them all back at start, and compact the file to a recent tail.
 *
 * The file is only ever appended to (one write, one fdatasync per record)
 * or replaced whole (temp file, fsync, rename, folder fsync), so a crash
 * leaves at worst a last record cut short, which reading drops. Reading
 * trusts nothing in the file: every length is checked against what is
 * left before it is used, every record against its checksum, and every
 * resource record is parsed from a slice that ends where it must.
 *
 * The format, every integer in network byte order:
 *
 *   header   magic "RFDNSJNL" (8), version (16 bits, 1), origin length
 *            (16), the zone's origin in lower-case wire form, CRC-32C of
 *            all the header before it (32).
 *   record   payload length (32, 1 to 16 MiB), CRC-32C of those 4 length
 *            octets (32), CRC-32C of the payload (32), the payload.
 *   payload  flags (8: 0x01 replay facts, 0x02 a change; at least one);
 *            replay facts: Time Signed (48), rcode (16), MAC length (8,
 *            at most 64), the MAC;
 *            a change: the SOA before, the SOA after, a count (32) and
 *            the records removed, a count (32) and the records added.
 *            Each record is its uncompressed wire form (owner, type,
 *            class, TTL, rdata length, rdata), every owner in the zone.
 *
 * A crash during an append leaves a last record cut short, or with zeros
 * or old octets where some of it should be; nothing good comes after it,
 * and it is dropped. Damage anywhere else fails the read, rather than drop
 * the good records after it. The length has a checksum of its own so that
 * these are told apart: a length that checks out says where the record
 * ends (past the end of the file: cut short; its checksum failing with
 * more after it: damage); one that does not is damage only when a good
 * record can be found after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/util.h"
#include "dnsd/journal.h"
#include "dnsd/wire.h"

#define JOURNAL_MAGIC		"RFDNSJNL"
#define JOURNAL_MAGIC_LEN	8
#define JOURNAL_VERSION		1
#define JOURNAL_HEAD_FIXED	12	/* magic, version, origin length */
#define JOURNAL_HEAD_MAX	(JOURNAL_HEAD_FIXED + DNS_NAME_MAX + 4)
#define JOURNAL_REC_HEAD	12	/* length, its CRC, the payload's CRC */
/* Larger than any change the server makes (an UPDATE is at most 64 KiB): damage. */
#define JOURNAL_REC_MAX		(16u << 20)
#define JOURNAL_F_REPLAY	0x01
#define JOURNAL_F_CHANGE	0x02
#define JOURNAL_MAC_MAX		64
#define JOURNAL_TIME_MAX	((UINT64_C(1) << 48) - 1)
#define JOURNAL_RR_MIN		11	/* root owner, type, class, TTL, rdata length */

struct journal {
	int		 fd;
	char		 path[PATH_MAX];
	uint8_t		 head[JOURNAL_HEAD_MAX];
	size_t		 head_len;
	const uint8_t	*origin;	/* in head */
	size_t		 origin_len;
	off_t		 end;		/* where the next record goes */
	int		 broken;	/* a failed write could not be undone */
	int		 have_serial;	/* a change was appended through us: */
	uint32_t	 serial;	/* ... its to-serial */
};

/* ---- CRC-32C ---- */

/* The reflected Castagnoli polynomial 0x82f63b78, four bits at a time. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t
journal_crc32c(const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint32_t	 crc = 0xffffffff;

	while (len-- > 0) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc32c_nibble[crc & 0x0f];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 0x0f];
	}
	return crc ^ 0xffffffff;
}

/* ---- the header ---- */

int
journal_path(const char *zone_file, char *path, size_t len)
{
	int n = snprintf(path, len, "%s.journal", zone_file);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The header for origin into head (JOURNAL_HEAD_MAX octets); -1 with why. */
static int
journal_head_build(const char *origin, uint8_t *head, size_t *head_len, char *why,
    size_t whylen)
{
	ldns_rdf	*name;
	size_t		 n;

	if ((name = ldns_dname_new_frm_str(origin)) == NULL) {
		snprintf(why, whylen, "zone %.300s: not a domain name", origin);
		return -1;
	}
	n = ldns_rdf_size(name);
	memcpy(head, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	dns_wr16(head + 8, JOURNAL_VERSION);
	dns_wr16(head + 10, (uint16_t)n);
	dns_name_lower(head + JOURNAL_HEAD_FIXED, ldns_rdf_data(name), n);
	ldns_rdf_deep_free(name);
	dns_wr32(head + JOURNAL_HEAD_FIXED + n, journal_crc32c(head, JOURNAL_HEAD_FIXED + n));
	*head_len = JOURNAL_HEAD_FIXED + n + 4;
	return 0;
}

/*
 * A wire-form name of len octets as text for a message, "?" when it is not
 * one name of exactly len octets; octets outside printable ASCII as \DDD.
 */
static void
journal_name_text(const uint8_t *w, size_t len, char *out, size_t outlen)
{
	size_t	pos = 0, o = 0, i;

	out[0] = '\0';
	while (pos < len && w[pos] != 0 && w[pos] <= DNS_LABEL_MAX &&
	    pos + 1 + w[pos] < len) {
		for (i = pos + 1; i <= pos + w[pos] && o + 6 < outlen; i++)
			if (w[i] > ' ' && w[i] < 0x7f && w[i] != '.' && w[i] != '\\')
				out[o++] = (char)w[i];
			else
				o += (size_t)snprintf(out + o, outlen - o, "\\%03u", w[i]);
		if (o + 2 < outlen)
			out[o++] = '.';
		out[o] = '\0';
		pos += 1 + (size_t)w[pos];
	}
	if (pos + 1 != len || w[pos] != 0)
		snprintf(out, outlen, "?");
	else if (pos == 0)
		snprintf(out, outlen, ".");
}

/*
 * Does the file's buf of size octets start with a journal header equal to
 * want? 0, or -1 with *at the offset of the field that is wrong and why.
 */
static int
journal_head_check(const uint8_t *buf, size_t size, const uint8_t *want, size_t want_len,
    const char *origin, size_t *at, char *why, size_t whylen)
{
	size_t		n;
	unsigned	version;
	char		name[4 * DNS_NAME_MAX + 1];

	*at = 0;
	if (size < JOURNAL_MAGIC_LEN || memcmp(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0) {
		snprintf(why, whylen, "not a journal of redisfo-dns (no \"%s\" magic)",
		    JOURNAL_MAGIC);
		return -1;
	}
	*at = 8;
	if (size < JOURNAL_HEAD_FIXED) {
		snprintf(why, whylen, "the header is cut short");
		return -1;
	}
	if ((version = dns_rd16(buf + 8)) != JOURNAL_VERSION) {
		snprintf(why, whylen, "version %u: this redisfo-dns reads version %d", version,
		    JOURNAL_VERSION);
		return -1;
	}
	*at = 10;
	n = dns_rd16(buf + 10);
	if (n < 1 || n > DNS_NAME_MAX) {
		snprintf(why, whylen, "an origin of %zu octets", n);
		return -1;
	}
	*at = JOURNAL_HEAD_FIXED + n;
	if (size < JOURNAL_HEAD_FIXED + n + 4) {
		snprintf(why, whylen, "the header is cut short");
		return -1;
	}
	if (dns_rd32(buf + JOURNAL_HEAD_FIXED + n) !=
	    journal_crc32c(buf, JOURNAL_HEAD_FIXED + n)) {
		snprintf(why, whylen, "the header's checksum fails");
		return -1;
	}
	*at = JOURNAL_HEAD_FIXED;
	if (!dns_name_equal(buf + JOURNAL_HEAD_FIXED, n, want + JOURNAL_HEAD_FIXED,
	    want_len - JOURNAL_HEAD_FIXED - 4)) {
		journal_name_text(buf + JOURNAL_HEAD_FIXED, n, name, sizeof(name));
		snprintf(why, whylen, "the journal of zone %s, not of %s", name, origin);
		return -1;
	}
	return 0;
}

/* ---- records: framing ---- */

enum journal_frame {
	JOURNAL_FRAME_GOOD,
	JOURNAL_FRAME_TORN,	/* the writer stopped inside it: not a record */
	JOURNAL_FRAME_BAD	/* damage, which why names */
};

/*
 * Does a good record start anywhere at or after from? Only a damaged
 * length makes us look: a record cut short can leave one (its first
 * octets sat in a sector that never reached the disk), but then nothing
 * good follows it; found, it is damage in the middle of the file. Each
 * candidate costs a checksum of 4 octets, so the scan is linear.
 */
static int
journal_good_after(const uint8_t *buf, size_t size, size_t from)
{
	size_t		p;
	uint32_t	len;

	for (p = from; p < size && size - p >= JOURNAL_REC_HEAD; p++) {
		len = dns_rd32(buf + p);
		if (dns_rd32(buf + p + 4) == journal_crc32c(buf + p, 4) && len >= 1 &&
		    len <= JOURNAL_REC_MAX && len <= size - p - JOURNAL_REC_HEAD &&
		    dns_rd32(buf + p + 8) == journal_crc32c(buf + p + JOURNAL_REC_HEAD, len))
			return 1;
	}
	return 0;
}

/*
 * The record at off in the size octets of buf: good (its payload is *plen
 * octets after the record's head), torn (the writer stopped inside it:
 * nothing good follows), or bad with why.
 */
static enum journal_frame
journal_frame(const uint8_t *buf, size_t size, size_t off, uint32_t *plen, char *why,
    size_t whylen)
{
	const uint8_t	*r = buf + off;
	size_t		 left = size - off;
	uint32_t	 len;

	if (left < JOURNAL_REC_HEAD)
		return JOURNAL_FRAME_TORN;
	len = dns_rd32(r);
	if (dns_rd32(r + 4) != journal_crc32c(r, 4)) {
		if (!journal_good_after(buf, size, off + 1))
			return JOURNAL_FRAME_TORN;
		snprintf(why, whylen, "the record's length is damaged, and records follow it");
		return JOURNAL_FRAME_BAD;
	}
	if (len < 1 || len > JOURNAL_REC_MAX) {
		snprintf(why, whylen, "a record of %u octets (1 to %u)", len, JOURNAL_REC_MAX);
		return JOURNAL_FRAME_BAD;
	}
	if (len > left - JOURNAL_REC_HEAD)
		return JOURNAL_FRAME_TORN;
	if (dns_rd32(r + 8) != journal_crc32c(r + JOURNAL_REC_HEAD, len)) {
		if (len == left - JOURNAL_REC_HEAD)
			return JOURNAL_FRAME_TORN;
		snprintf(why, whylen, "the record's checksum fails, and more follows it");
		return JOURNAL_FRAME_BAD;
	}
	*plen = len;
	return JOURNAL_FRAME_GOOD;
}

/* ---- records: the payload ---- */

/* A payload being read: nothing is taken past len. */
struct journal_cur {
	const uint8_t	*p;
	size_t		 len, pos;
};

static int
jc_take(struct journal_cur *c, size_t n, const uint8_t **at)
{
	if (c->len - c->pos < n)
		return -1;
	*at = c->p + c->pos;
	c->pos += n;
	return 0;
}

static void
journal_rec_clear(struct journal_rec *rec)
{
	ldns_rr_free(rec->from_soa);
	ldns_rr_free(rec->to_soa);
	ldns_rr_list_deep_free(rec->removed);
	ldns_rr_list_deep_free(rec->added);
	memset(rec, 0, sizeof(*rec));
}

/* Is the wire-form name (well formed, as ldns gives it) the apex or below it? */
static int
journal_in_zone(const ldns_rdf *name, const uint8_t *origin, size_t olen)
{
	const uint8_t	*n = ldns_rdf_data(name);
	size_t		 len = ldns_rdf_size(name), pos = 0;

	while (pos < len) {
		if (len - pos == olen && dns_name_equal(n + pos, olen, origin, olen))
			return 1;
		if (n[pos] == 0)
			break;
		pos += 1 + (size_t)n[pos];
	}
	return 0;
}

/*
 * One resource record in uncompressed wire form at the cursor, found to
 * end where its rdata length says and handed to ldns as a slice of exactly
 * that, so nothing it does can reach past it. -1 with why.
 */
static int
journal_rr_parse(struct journal_cur *c, const uint8_t *origin, size_t olen, ldns_rr **rrp,
    char *why, size_t whylen)
{
	const uint8_t	*at;
	size_t		 start = c->pos, name = 1, rpos = 0, rrlen;
	uint8_t		 lab;
	ldns_rr		*rr = NULL;
	ldns_status	 st;

	*rrp = NULL;
	for (;;) {
		if (jc_take(c, 1, &at) == -1)
			goto cut;
		if ((lab = *at) == 0)
			break;
		if (lab > DNS_LABEL_MAX) {
			snprintf(why, whylen, "a record whose owner is compressed or not a name");
			return -1;
		}
		if ((name += 1 + (size_t)lab) > DNS_NAME_MAX) {
			snprintf(why, whylen, "a record whose owner is longer than %d octets",
			    DNS_NAME_MAX);
			return -1;
		}
		if (jc_take(c, lab, &at) == -1)
			goto cut;
	}
	/* type, class, TTL, then the rdata length */
	if (jc_take(c, 10, &at) == -1 || jc_take(c, dns_rd16(at + 8), &at) == -1)
		goto cut;
	rrlen = c->pos - start;
	if ((st = ldns_wire2rr(&rr, c->p + start, rrlen, &rpos, LDNS_SECTION_ANSWER)) !=
	    LDNS_STATUS_OK) {
		snprintf(why, whylen, "a record that does not parse: %s",
		    ldns_get_errorstr_by_id(st));
		return -1;
	}
	if (rpos != rrlen) {
		snprintf(why, whylen, "a record whose rdata is not what its type holds");
		ldns_rr_free(rr);
		return -1;
	}
	if (!journal_in_zone(ldns_rr_owner(rr), origin, olen)) {
		snprintf(why, whylen, "a record outside the zone");
		ldns_rr_free(rr);
		return -1;
	}
	*rrp = rr;
	return 0;
cut:
	snprintf(why, whylen, "a resource record runs past the end of the record");
	return -1;
}

static uint32_t
journal_soa_serial(const ldns_rr *soa)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* A whole SOA of the apex at the cursor; which names it in why. */
static int
journal_soa_parse(struct journal_cur *c, const uint8_t *origin, size_t olen, ldns_rr **soa,
    const char *which, char *why, size_t whylen)
{
	const ldns_rdf	*owner;
	char		 sub[256];

	if (journal_rr_parse(c, origin, olen, soa, sub, sizeof(sub)) == -1) {
		snprintf(why, whylen, "%s: %s", which, sub);
		return -1;
	}
	owner = ldns_rr_owner(*soa);
	if (ldns_rr_get_type(*soa) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(*soa) != 7 ||
	    ldns_rdf_size(ldns_rr_rdf(*soa, 2)) != 4 ||
	    !dns_name_equal(ldns_rdf_data(owner), ldns_rdf_size(owner), origin, olen)) {
		snprintf(why, whylen, "%s: not a whole SOA of the zone's apex", which);
		return -1;
	}
	return 0;
}

/* A count and that many records, none an SOA, at the cursor into a new *listp. */
static int
journal_list_parse(struct journal_cur *c, const uint8_t *origin, size_t olen,
    ldns_rr_list **listp, const char *which, char *why, size_t whylen)
{
	const uint8_t	*at;
	uint32_t	 n, i;
	ldns_rr		*rr;
	char		 sub[256];

	if (jc_take(c, 4, &at) == -1) {
		snprintf(why, whylen, "%s: the count runs past the end of the record", which);
		return -1;
	}
	/* Checked before anything is made of it: no count makes us allocate. */
	if ((n = dns_rd32(at)) > (c->len - c->pos) / JOURNAL_RR_MIN) {
		snprintf(why, whylen, "%s: %u records cannot fit in the %zu octets left", which,
		    n, c->len - c->pos);
		return -1;
	}
	if ((*listp = ldns_rr_list_new()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (journal_rr_parse(c, origin, olen, &rr, sub, sizeof(sub)) == -1) {
			snprintf(why, whylen, "%s: record %u: %s", which, i + 1, sub);
			return -1;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			snprintf(why, whylen, "%s: record %u: an SOA (the change's SOAs stand "
			    "apart)", which, i + 1);
			ldns_rr_free(rr);
			return -1;
		}
		if (!ldns_rr_list_push_rr(*listp, rr)) {
			snprintf(why, whylen, "out of memory");
			ldns_rr_free(rr);
			return -1;
		}
	}
	return 0;
}

/*
 * The payload of len octets at p, for the zone of wire-form origin, into
 * rec (owned by the caller on success, to free with journal_rec_clear);
 * -1 with why and nothing held.
 */
static int
journal_payload_parse(const uint8_t *p, size_t len, const uint8_t *origin, size_t olen,
    struct journal_rec *rec, char *why, size_t whylen)
{
	struct journal_cur	 c = { p, len, 0 };
	const uint8_t		*at;
	uint8_t			 flags;

	memset(rec, 0, sizeof(*rec));
	if (jc_take(&c, 1, &at) == -1) {
		snprintf(why, whylen, "an empty record");
		return -1;
	}
	flags = *at;
	if (flags == 0 || (flags & ~(JOURNAL_F_REPLAY | JOURNAL_F_CHANGE)) != 0) {
		snprintf(why, whylen, "flags 0x%02x (0x01 replay facts, 0x02 a change, at "
		    "least one)", flags);
		return -1;
	}
	if (flags & JOURNAL_F_REPLAY) {
		rec->has_replay = 1;
		if (jc_take(&c, 9, &at) == -1) {
			snprintf(why, whylen, "the replay facts run past the end of the record");
			goto fail;
		}
		rec->time_signed = dns_rd48(at);
		rec->rcode = dns_rd16(at + 6);
		rec->mac_len = at[8];
		if (rec->mac_len > JOURNAL_MAC_MAX) {
			snprintf(why, whylen, "a MAC of %zu octets (at most %d)", rec->mac_len,
			    JOURNAL_MAC_MAX);
			goto fail;
		}
		if (jc_take(&c, rec->mac_len, &at) == -1) {
			snprintf(why, whylen, "the MAC runs past the end of the record");
			goto fail;
		}
		memcpy(rec->mac, at, rec->mac_len);
	}
	if (flags & JOURNAL_F_CHANGE) {
		rec->has_change = 1;
		if (journal_soa_parse(&c, origin, olen, &rec->from_soa, "the SOA before",
		    why, whylen) == -1 ||
		    journal_soa_parse(&c, origin, olen, &rec->to_soa, "the SOA after",
		    why, whylen) == -1 ||
		    journal_list_parse(&c, origin, olen, &rec->removed, "the records removed",
		    why, whylen) == -1 ||
		    journal_list_parse(&c, origin, olen, &rec->added, "the records added",
		    why, whylen) == -1)
			goto fail;
	}
	if (c.pos != len) {
		snprintf(why, whylen, "%zu octets after the record's data", len - c.pos);
		goto fail;
	}
	return 0;
fail:
	journal_rec_clear(rec);
	return -1;
}

/* ---- reading ---- */

/* The whole file into a new *bufp: 0; 1 when it does not exist; -1 with err. */
static int
journal_slurp(const char *path, uint8_t **bufp, size_t *sizep, char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 size, got = 0;
	ssize_t		 n;
	int		 fd;

	*bufp = NULL;
	*sizep = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size >= SIZE_MAX) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory for its %zu octets", path, size);
		close(fd);
		return -1;
	}
	while (got < size) {
		if ((n = read(fd, buf + got, size - got)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;		/* cut shorter meanwhile: what there is */
		got += (size_t)n;
	}
	close(fd);
	*bufp = buf;
	*sizep = got;
	return 0;
}

int
journal_read(const char *path, const char *origin,
    int (*fn)(void *arg, const struct journal_rec *rec, off_t off), void *arg,
    off_t *end, off_t *torn, char *err, size_t errlen)
{
	uint8_t			 head[JOURNAL_HEAD_MAX], *buf;
	size_t			 head_len, olen, size, off = 0, at;
	struct journal_rec	 rec;
	uint32_t		 plen = 0, serial = 0;
	int			 have_serial = 0, r;
	char			 why[768];

	*end = 0;
	*torn = -1;
	if (journal_head_build(origin, head, &head_len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	olen = head_len - JOURNAL_HEAD_FIXED - 4;
	if ((r = journal_slurp(path, &buf, &size, err, errlen)) != 0)
		return r == 1 ? 0 : -1;
	if (journal_head_check(buf, size, head, head_len, origin, &at, why, sizeof(why)) == -1)
		goto bad;
	for (off = head_len; off < size; off += JOURNAL_REC_HEAD + (size_t)plen) {
		at = off;
		switch (journal_frame(buf, size, off, &plen, why, sizeof(why))) {
		case JOURNAL_FRAME_GOOD:
			break;
		case JOURNAL_FRAME_TORN:
			*torn = (off_t)off;
			goto done;
		case JOURNAL_FRAME_BAD:
			goto bad;
		}
		if (journal_payload_parse(buf + off + JOURNAL_REC_HEAD, plen,
		    head + JOURNAL_HEAD_FIXED, olen, &rec, why, sizeof(why)) == -1)
			goto bad;
		if (rec.has_change) {
			if (have_serial && journal_soa_serial(rec.from_soa) != serial) {
				snprintf(why, sizeof(why), "a change from serial %u, where the "
				    "change before it left serial %u",
				    journal_soa_serial(rec.from_soa), serial);
				journal_rec_clear(&rec);
				goto bad;
			}
			have_serial = 1;
			serial = journal_soa_serial(rec.to_soa);
		}
		if (fn != NULL && fn(arg, &rec, (off_t)off) == -1) {
			journal_rec_clear(&rec);
			free(buf);
			*end = (off_t)off;
			return -1;
		}
		journal_rec_clear(&rec);
	}
done:
	free(buf);
	*end = (off_t)off;
	return 0;
bad:
	snprintf(err, errlen, "%s: offset %zu: %s", path, at, why);
	free(buf);
	*end = (off_t)off;
	*torn = -1;
	return -1;
}

/* ---- writing ---- */

static int
journal_write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, p, n, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int
journal_read_all(int fd, uint8_t *p, size_t n, off_t off)
{
	ssize_t r;

	while (n > 0) {
		if ((r = pread(fd, p, n, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;	/* shorter than we made it: not ours alone */
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/*
 * A new journal at j->path, with j's header and then tail: written to a
 * temp file beside it, fsynced, renamed over the path, and the folder
 * fsynced. The new file's descriptor in *fdp. 0; -1 with err and nothing
 * changed; -2 with err when it was renamed but the folder's fsync failed
 * (*fdp is then set too).
 */
static int
journal_file_new(const struct journal *j, const uint8_t *tail, size_t tail_len, int *fdp,
    char *err, size_t errlen)
{
	char	tmp[PATH_MAX];
	int	fd;

	*fdp = -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", j->path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", j->path);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot create a temp file: %s", tmp, strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0644);
	if (journal_write_all(fd, j->head, j->head_len, 0) == -1 ||
	    journal_write_all(fd, tail, tail_len, (off_t)j->head_len) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, j->path) == -1) {
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, j->path,
		    strerror(errno));
		goto fail;
	}
	*fdp = fd;
	if (fsync_folder_of(j->path) == -1) {
		snprintf(err, errlen, "%s: fsync of its folder: %s", j->path, strerror(errno));
		return -2;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

struct journal *
journal_open(const char *path, const char *origin, off_t end, char *err, size_t errlen)
{
	struct journal	*j;
	uint8_t		 head[JOURNAL_HEAD_MAX];
	struct stat	 st;
	char		 why[768];
	size_t		 at;
	ssize_t		 n;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	j->fd = -1;
	if (snprintf(j->path, sizeof(j->path), "%s", path) >= (int)sizeof(j->path)) {
		snprintf(err, errlen, "%.200s...: path too long", path);
		goto fail;
	}
	if (journal_head_build(origin, j->head, &j->head_len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	j->origin = j->head + JOURNAL_HEAD_FIXED;
	j->origin_len = j->head_len - JOURNAL_HEAD_FIXED - 4;
	if ((j->fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
			goto fail;
		}
		if (end != 0) {
			snprintf(err, errlen, "%s: gone since %lld octets of it were read",
			    path, (long long)end);
			goto fail;
		}
		if (journal_file_new(j, NULL, 0, &j->fd, err, errlen) != 0)
			goto fail;
		j->end = (off_t)j->head_len;
		return j;
	}
	if (fstat(j->fd, &st) == -1 || (n = pread(j->fd, head, sizeof(head), 0)) == -1) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (journal_head_check(head, (size_t)n, j->head, j->head_len, origin, &at, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: offset %zu: %s", path, at, why);
		goto fail;
	}
	if (end < (off_t)j->head_len || end > st.st_size) {
		snprintf(err, errlen, "%s: offset %lld: not where its records end (it has %lld "
		    "octets, the first record at %zu)", path, (long long)end,
		    (long long)st.st_size, j->head_len);
		goto fail;
	}
	/* The torn record goes, for good, before anything is appended after it. */
	if (end < st.st_size && (ftruncate(j->fd, end) == -1 || fsync(j->fd) == -1)) {
		snprintf(err, errlen, "%s: cannot cut the torn record at offset %lld: %s", path,
		    (long long)end, strerror(errno));
		goto fail;
	}
	j->end = end;
	return j;
fail:
	journal_close(j);
	return NULL;
}

/* A growing record; oom is sticky, checked once at the end. */
struct journal_buf {
	uint8_t	*p;
	size_t	 len, cap;
	int	 oom;
};

static void
jb_put(struct journal_buf *b, const void *data, size_t n)
{
	uint8_t	*np;
	size_t	 ncap;

	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		for (ncap = b->cap ? b->cap : 512; ncap < b->len + n; ncap *= 2)
			;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
jb_u8(struct journal_buf *b, uint8_t v)
{
	jb_put(b, &v, 1);
}

static void
jb_u16(struct journal_buf *b, uint16_t v)
{
	uint8_t w[2];

	dns_wr16(w, v);
	jb_put(b, w, 2);
}

static void
jb_u32(struct journal_buf *b, uint32_t v)
{
	uint8_t w[4];

	dns_wr32(w, v);
	jb_put(b, w, 4);
}

/* rr in uncompressed wire form; -1 when ldns cannot write it. */
static int
jb_rr(struct journal_buf *b, const ldns_rr *rr)
{
	uint8_t	*w = NULL;
	size_t	 n = 0;

	if (rr == NULL || ldns_rr_owner(rr) == NULL ||
	    ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n) != LDNS_STATUS_OK) {
		free(w);
		return -1;
	}
	jb_put(b, w, n);
	free(w);
	return 0;
}

static int
jb_list(struct journal_buf *b, const ldns_rr_list *l)
{
	size_t i, n = l != NULL ? ldns_rr_list_rr_count(l) : 0;

	if (n > UINT32_MAX)
		return -1;
	jb_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++)
		if (jb_rr(b, ldns_rr_list_rr(l, i)) == -1)
			return -1;
	return 0;
}

/* The whole record for rec, head and checksums included, into b; -1 with why. */
static int
journal_rec_build(struct journal_buf *b, const struct journal_rec *rec, char *why,
    size_t whylen)
{
	size_t len;

	if (!rec->has_replay && !rec->has_change) {
		snprintf(why, whylen, "a record with neither replay facts nor a change");
		return -1;
	}
	if (rec->has_replay && (rec->time_signed > JOURNAL_TIME_MAX ||
	    rec->mac_len > JOURNAL_MAC_MAX || rec->rcode < 0 || rec->rcode > 0xffff)) {
		snprintf(why, whylen, "replay facts out of range (a 48-bit time, a MAC of at "
		    "most %d octets, an rcode of 16 bits)", JOURNAL_MAC_MAX);
		return -1;
	}
	jb_put(b, (uint8_t[JOURNAL_REC_HEAD]){ 0 }, JOURNAL_REC_HEAD);
	jb_u8(b, (rec->has_replay ? JOURNAL_F_REPLAY : 0) |
	    (rec->has_change ? JOURNAL_F_CHANGE : 0));
	if (rec->has_replay) {
		jb_u16(b, (uint16_t)(rec->time_signed >> 32));
		jb_u32(b, (uint32_t)rec->time_signed);
		jb_u16(b, (uint16_t)rec->rcode);
		jb_u8(b, (uint8_t)rec->mac_len);
		jb_put(b, rec->mac, rec->mac_len);
	}
	if (rec->has_change && (jb_rr(b, rec->from_soa) == -1 || jb_rr(b, rec->to_soa) == -1 ||
	    jb_list(b, rec->removed) == -1 || jb_list(b, rec->added) == -1)) {
		snprintf(why, whylen, "a record of the change cannot be put in wire form");
		return -1;
	}
	if (b->oom) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if ((len = b->len - JOURNAL_REC_HEAD) > JOURNAL_REC_MAX) {
		snprintf(why, whylen, "a record of %zu octets (at most %u)", len,
		    JOURNAL_REC_MAX);
		return -1;
	}
	dns_wr32(b->p, (uint32_t)len);
	dns_wr32(b->p + 4, journal_crc32c(b->p, 4));
	dns_wr32(b->p + 8, journal_crc32c(b->p + JOURNAL_REC_HEAD, len));
	return 0;
}

/*
 * Cut the file back to j->end after a failed append, with the reason added
 * to err; if that fails too, j is broken: the file's tail is unknown.
 */
static void
journal_cut(struct journal *j, char *err, size_t errlen)
{
	size_t l = strnlen(err, errlen);

	if (ftruncate(j->fd, j->end) == 0 && fsync(j->fd) == 0)
		return;
	j->broken = 1;
	if (l + 1 < errlen)
		snprintf(err + l, errlen - l, "; cutting it back failed too: %s",
		    strerror(errno));
}

off_t
journal_append(struct journal *j, const struct journal_rec *rec, char *err, size_t errlen)
{
	struct journal_buf	 b = { NULL, 0, 0, 0 };
	struct journal_rec	 back;
	off_t			 at = j->end;
	uint32_t		 to = 0;
	char			 why[768];

	if (j->broken) {
		snprintf(err, errlen, "%s: a failed append could not be cut back: no more "
		    "records until it is read again", j->path);
		return -1;
	}
	if (journal_rec_build(&b, rec, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: cannot append: %s", j->path, why);
		goto fail;
	}
	/* What the next start cannot read would stop it: read it back first. */
	if (journal_payload_parse(b.p + JOURNAL_REC_HEAD, b.len - JOURNAL_REC_HEAD, j->origin,
	    j->origin_len, &back, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: cannot append a record that would not read back: %s",
		    j->path, why);
		goto fail;
	}
	if (back.has_change) {
		if (j->have_serial && journal_soa_serial(back.from_soa) != j->serial) {
			snprintf(err, errlen, "%s: cannot append a change from serial %u after "
			    "one to serial %u", j->path, journal_soa_serial(back.from_soa),
			    j->serial);
			journal_rec_clear(&back);
			goto fail;
		}
		to = journal_soa_serial(back.to_soa);
	}
	journal_rec_clear(&back);
	if (journal_write_all(j->fd, b.p, b.len, at) == -1 || fdatasync(j->fd) == -1) {
		snprintf(err, errlen, "%s: cannot append at offset %lld: %s", j->path,
		    (long long)at, strerror(errno));
		journal_cut(j, err, errlen);
		goto fail;
	}
	j->end += (off_t)b.len;
	if (rec->has_change) {
		j->have_serial = 1;
		j->serial = to;
	}
	free(b.p);
	return at;
fail:
	free(b.p);
	return -1;
}

off_t
journal_size(const struct journal *j)
{
	return j->end;
}

off_t
journal_compact(struct journal *j, off_t keep_from, char *err, size_t errlen)
{
	uint8_t		*tail = NULL;
	size_t		 tail_len, off;
	uint32_t	 plen;
	char		 why[768];
	int		 fd, rc;

	if (j->broken) {
		snprintf(err, errlen, "%s: a failed append could not be cut back: not "
		    "compacted", j->path);
		return -1;
	}
	if (keep_from < (off_t)j->head_len || keep_from > j->end) {
		snprintf(err, errlen, "%s: offset %lld: not a record of the journal (they lie "
		    "from %zu to %lld)", j->path, (long long)keep_from, j->head_len,
		    (long long)j->end);
		return -1;
	}
	tail_len = (size_t)(j->end - keep_from);
	if (tail_len > 0) {
		if ((tail = malloc(tail_len)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", j->path);
			return -1;
		}
		if (journal_read_all(j->fd, tail, tail_len, keep_from) == -1) {
			snprintf(err, errlen, "%s: cannot read: %s", j->path, strerror(errno));
			free(tail);
			return -1;
		}
	}
	/* Only good records are carried over, which keep_from must start. */
	for (off = 0; off < tail_len; off += JOURNAL_REC_HEAD + (size_t)plen) {
		snprintf(why, sizeof(why), "a record cut short");
		if (journal_frame(tail, tail_len, off, &plen, why, sizeof(why)) !=
		    JOURNAL_FRAME_GOOD) {
			snprintf(err, errlen, "%s: offset %lld: %s (is offset %lld a record's "
			    "start?)", j->path, (long long)keep_from + (long long)off, why,
			    (long long)keep_from);
			free(tail);
			return -1;
		}
	}
	rc = journal_file_new(j, tail, tail_len, &fd, err, errlen);
	free(tail);
	if (rc == -1)
		return -1;
	close(j->fd);
	j->fd = fd;
	j->end = (off_t)(j->head_len + tail_len);
	if (rc == -2) {
		j->broken = 1;
		return -1;
	}
	return (off_t)j->head_len;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	free(j);
}
