/*
 * snapshot.c - compile an ldns zone into precompiled wire answers.
 *
 * This is where the work of answering is done, once per zone change, so
 * that the query path only looks a name up and copies bytes. For every
 * owner name and every type it holds, the answer body (answer, authority
 * and additional sections) is written in wire format, with names
 * compressed against the question's name, which is always at offset 12 in
 * a reply. CNAMEs are followed inside the zone at build time. Empty
 * non-terminals get entries of their own, so they answer NODATA, not
 * NXDOMAIN.
 *
 * Runs in the control thread only; it may allocate freely. What it builds
 * is never written again once published.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "dnsd/snapshot.h"
#include "dnsd/wire.h"

#define CNAME_CHAIN_MAX	8
#define DICT_MAX	128
#define DICT_APEX	(-1)	/* a name at the apex: its pointer is patched per query */
#define DICT_NONE	(-2)	/* no written name ends that way */

/* One name written into a body, for compression of later names. */
struct dict_entry {
	uint8_t		name[256];	/* lower-cased wire form */
	size_t		len;
	size_t		literal;	/* bytes written as labels before any pointer */
	int		off;		/* offset in the message, or DICT_APEX */
};

/* A growing answer body and what it knows for compression. */
struct writer {
	uint8_t			*buf;
	size_t			 len, cap;
	size_t			 base;		/* message offset of buf[0] */
	struct dict_entry	 dict[DICT_MAX];
	size_t			 ndict;
	uint16_t		 patch[ANSWER_MAX_PATCH];
	size_t			 npatch;
	int			 failed;
	int			 base_known;	/* offsets in the body are message offsets */
};

/* An RRset of the zone: all RRs of one owner and type. */
struct rrset {
	const uint8_t	*owner;		/* lower-cased wire form, in build.names */
	union {
		uint32_t at;		/* its RRs: build.rrs[at] on, n of them */
		uint32_t first;		/* while sorting: the one RR of an entry (build_rr) */
	};
	uint32_t	 ttl;		/* the lowest of its RRs */
	uint32_t	 n;
	uint16_t	 type;
	uint8_t		 owner_len;
};

/* Bodies, names and type tables of a snapshot: freed all at once. */
struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 used, cap;
	uint8_t			 data[];
};

#define ARENA_CHUNK	(256 * 1024)
#define SCRATCH_MAX	(65535 + 256)

struct build {
	const ldns_zone	*zone;
	struct snapshot	*snap;
	uint8_t		 apex[256];
	size_t		 apex_len;
	struct rrset	*sets;		/* sorted by owner, then type */
	size_t		 nsets;
	uint32_t	*rrs;		/* every RR once (build_rr numbers), in the order of sets */
	uint8_t		*names;		/* the lower-cased owners; the snapshot keeps them */
	size_t		 names_len;
	uint8_t		*scratch;	/* where an answer is written, SCRATCH_MAX */
	ldns_rr		*soa;
	uint32_t	 neg_ttl;
	char		*err;
	size_t		 errlen;
};

/* ---- names ---- */

/* Lower-cased wire form of an ldns dname rdf; returns its length. */
static size_t
rdf_name_lc(const ldns_rdf *rdf, uint8_t *out)
{
	size_t len = ldns_rdf_size(rdf);

	if (len > 255)
		len = 255;
	dns_name_lower(out, ldns_rdf_data(rdf), len);
	return len;
}

/* Offset of the parent of the name at off, or -1 at the root. */
static int
name_next_label(const uint8_t *name, size_t len, size_t off)
{
	if (off >= len || name[off] == 0)
		return -1;
	return (int)(off + 1 + name[off]);
}

static int
name_is_below(const uint8_t *name, size_t len, const uint8_t *apex, size_t apex_len)
{
	size_t off = 0;

	while (len - off >= apex_len) {
		if (len - off == apex_len && memcmp(name + off, apex, apex_len) == 0)
			return 1;
		if (name[off] == 0)
			break;
		off += 1 + name[off];
	}
	return 0;
}

/* ---- the writer ---- */

static void
wr_reserve(struct writer *w, size_t n)
{
	if (w->len + n > w->cap)
		w->failed = 1;	/* larger than any DNS message */
}

static void
wr_bytes(struct writer *w, const void *p, size_t n)
{
	wr_reserve(w, n);
	if (w->failed)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
wr_u16(struct writer *w, uint16_t v)
{
	uint8_t b[2];

	dns_wr16(b, v);
	wr_bytes(w, b, 2);
}

static void
wr_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4];

	dns_wr32(b, v);
	wr_bytes(w, b, 4);
}

static void
wr_dict_add(struct writer *w, const uint8_t *lc, size_t len, size_t literal, int off)
{
	struct dict_entry *d;

	if (w->ndict == DICT_MAX || literal == 0 || (off >= 0 && off > 0x3fff))
		return;
	d = &w->dict[w->ndict++];
	memcpy(d->name, lc, len);
	d->len = len;
	d->literal = literal;
	d->off = off;
}

/*
 * Find a written name whose tail equals the name lc (len bytes) exactly.
 * Returns the message offset of that tail, DICT_APEX, or DICT_NONE.
 */
static int
wr_dict_find(const struct writer *w, const uint8_t *lc, size_t len)
{
	size_t	i;
	int	off;

	for (i = 0; i < w->ndict; i++) {
		const struct dict_entry *d = &w->dict[i];
		size_t pos = 0;

		while (pos < d->literal && d->len - pos >= len) {
			if (d->len - pos == len && memcmp(d->name + pos, lc, len) == 0) {
				if (d->off == DICT_APEX)
					return pos == 0 ? DICT_APEX : DICT_NONE;
				return d->off + (int)pos;
			}
			if ((off = name_next_label(d->name, d->len, pos)) < 0)
				break;
			pos = (size_t)off;
		}
	}
	return DICT_NONE;
}

/*
 * Write a name (wire form, any case) compressed against what was written
 * before; compress = 0 writes it whole (names in rdata of types that
 * must not be compressed, RFC 3597).
 */
static void
wr_name(struct writer *w, const uint8_t *name, size_t len, int compress)
{
	uint8_t	lc[256];
	size_t	pos = 0, start = w->base + w->len;
	int	at, next;

	if (len > 255) {
		w->failed = 1;
		return;
	}
	dns_name_lower(lc, name, len);
	while (pos < len && name[pos] != 0) {
		if (compress && (at = wr_dict_find(w, lc + pos, len - pos)) != DICT_NONE) {
			if (at == DICT_APEX) {
				if (w->npatch == ANSWER_MAX_PATCH) {
					w->failed = 1;
					return;
				}
				w->patch[w->npatch++] = (uint16_t)w->len;
				at = 0;
			}
			wr_u16(w, DNS_PTR << 8 | (uint16_t)at);
			break;
		}
		next = name_next_label(name, len, pos);
		if (next < 0 || (size_t)next > len) {
			w->failed = 1;
			return;
		}
		wr_bytes(w, name + pos, (size_t)next - pos);
		pos = (size_t)next;
	}
	if (pos >= len || name[pos] == 0)
		wr_bytes(w, "", 1);
	/*
	 * Only now is it in the message: later names may point into it, when
	 * its offset in the message is known (not in the zone-wide negative
	 * answer, whose question varies in length).
	 */
	if (compress && w->base_known)
		wr_dict_add(w, lc, len, pos, (int)start);
}

static int
type_rdata_compressible(uint16_t type)
{
	switch (type) {
	case LDNS_RR_TYPE_NS: case LDNS_RR_TYPE_CNAME: case LDNS_RR_TYPE_SOA:
	case LDNS_RR_TYPE_PTR: case LDNS_RR_TYPE_MX: case LDNS_RR_TYPE_MB:
	case LDNS_RR_TYPE_MG: case LDNS_RR_TYPE_MR: case LDNS_RR_TYPE_MINFO:
	case LDNS_RR_TYPE_MD: case LDNS_RR_TYPE_MF:
		return 1;
	default:
		return 0;
	}
}

/* Write one RR; owner_off >= 0 writes the owner as a pointer there. */
static void
wr_rr(struct writer *w, const ldns_rr *rr, int owner_off, uint32_t ttl)
{
	const ldns_rdf	*owner = ldns_rr_owner(rr);
	uint16_t	 type = ldns_rr_get_type(rr);
	size_t		 rdlen_at, i;

	if (owner_off >= 0)
		wr_u16(w, DNS_PTR << 8 | (uint16_t)owner_off);
	else
		wr_name(w, ldns_rdf_data(owner), ldns_rdf_size(owner), 1);
	wr_u16(w, type);
	wr_u16(w, ldns_rr_get_class(rr));
	wr_u32(w, ttl);
	rdlen_at = w->len;
	wr_u16(w, 0);
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *rdf = ldns_rr_rdf(rr, i);

		if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME)
			wr_name(w, ldns_rdf_data(rdf), ldns_rdf_size(rdf),
			    type_rdata_compressible(type));
		else
			wr_bytes(w, ldns_rdf_data(rdf), ldns_rdf_size(rdf));
	}
	if (!w->failed) {
		size_t rdlen = w->len - rdlen_at - 2;

		if (rdlen > 65535)
			w->failed = 1;
		else {
			dns_wr16(w->buf + rdlen_at, (uint16_t)rdlen);
		}
	}
}

/* ---- the arena ---- */

/*
 * n bytes that live as long as the snapshot, aligned to align (a power of
 * two: 8 for structures, 1 for answer bodies, which are only copied);
 * NULL if none left.
 */
static void *
arena_alloc(struct snapshot *snap, size_t n, size_t align)
{
	struct arena_chunk	*c = snap->arena;
	size_t			 cap, at = 0;

	if (c != NULL)
		at = (c->used + align - 1) & ~(align - 1);
	if (c == NULL || at > c->cap || c->cap - at < n) {
		cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->next = snap->arena;
		c->used = 0;
		c->cap = cap;
		snap->arena = c;
		snap->bytes += cap;
		at = 0;
	}
	c->used = at + n;
	return c->data + at;
}

static void
arena_free(struct snapshot *snap)
{
	struct arena_chunk *c, *next;

	for (c = snap->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	snap->arena = NULL;
}

/* ---- RRsets ---- */

static int
rrset_cmp(const void *a, const void *b)
{
	const struct rrset *x = a, *y = b;
	size_t	n = x->owner_len < y->owner_len ? x->owner_len : y->owner_len;
	int	c = memcmp(x->owner, y->owner, n);

	if (c != 0)
		return c;
	if (x->owner_len != y->owner_len)
		return x->owner_len < y->owner_len ? -1 : 1;
	return (int)x->type - (int)y->type;
}

/* A total order on the data of two RRs, without allocating. */
static int
rr_rdata_cmp(const ldns_rr *a, const ldns_rr *b)
{
	size_t na = ldns_rr_rd_count(a), nb = ldns_rr_rd_count(b), i;

	if (na != nb)
		return na < nb ? -1 : 1;
	for (i = 0; i < na; i++) {
		const ldns_rdf	*x = ldns_rr_rdf(a, i), *y = ldns_rr_rdf(b, i);
		size_t		 sx = ldns_rdf_size(x), sy = ldns_rdf_size(y);
		int		 c;

		if (sx != sy)
			return sx < sy ? -1 : 1;
		if ((c = memcmp(ldns_rdf_data(x), ldns_rdf_data(y), sx)) != 0)
			return c;
	}
	return 0;
}

/* Owner, type, then data: equal RRs end up next to each other. */
/* The zone's RR number i: 0 is the SOA, then the zone's list. */
static ldns_rr *
build_rr(const struct build *b, uint32_t i)
{
	return i == 0 ? b->soa : ldns_rr_list_rr(ldns_zone_rrs(b->zone), i - 1);
}

/* RR k of the set s. */
#define SET_RR(b, s, k)	build_rr((b), (b)->rrs[(s)->at + (k)])

static int
rrset_rr_cmp(const void *a, const void *b, void *arg)
{
	int c = rrset_cmp(a, b);

	if (c != 0)
		return c;
	return rr_rdata_cmp(build_rr(arg, ((const struct rrset *)a)->first),
	    build_rr(arg, ((const struct rrset *)b)->first));
}

static const struct rrset *
build_find_set(const struct build *b, const uint8_t *owner, size_t len, uint16_t type)
{
	struct rrset key;

	key.owner = owner;
	key.owner_len = (uint8_t)len;
	key.type = type;
	return bsearch(&key, b->sets, b->nsets, sizeof(key), rrset_cmp);
}

/* Index of the first set at owner (sets are sorted by owner first), or nsets. */
static size_t
build_owner_first(const struct build *b, const uint8_t *owner, size_t len)
{
	size_t lo = 0, hi = b->nsets;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rrset *s = &b->sets[mid];
		size_t n = s->owner_len < len ? s->owner_len : len;
		int c = memcmp(s->owner, owner, n);

		if (c == 0 && s->owner_len != len)
			c = s->owner_len < len ? -1 : 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->nsets && b->sets[lo].owner_len == len &&
	    memcmp(b->sets[lo].owner, owner, len) == 0)
		return lo;
	return b->nsets;
}

static int
build_name_exists(const struct build *b, const uint8_t *owner, size_t len)
{
	return build_owner_first(b, owner, len) < b->nsets;
}

/*
 * Group the zone's RRs into sorted RRsets; duplicates dropped (RFC 2181).
 * One sort by owner, type and data does it in O(n log n), whatever the
 * size of an RRset.
 */
static int
build_sets(struct build *b)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(b->zone);
	size_t			 total = ldns_rr_list_rr_count(rrs) + 1, i, j, n = 0, kept = 0;
	size_t			 names_len = 0, off = 0;
	struct rrset		*flat;
	const ldns_rdf		*prev = NULL;

	for (i = 0; i < total; i++) {
		ldns_rr *rr = i == 0 ? b->soa : ldns_rr_list_rr(rrs, i - 1);

		names_len += ldns_rdf_size(ldns_rr_owner(rr));
	}
	flat = calloc(total, sizeof(*flat));
	b->rrs = calloc(total, sizeof(*b->rrs));
	b->names = malloc(names_len ? names_len : 1);
	if (flat == NULL || b->rrs == NULL || b->names == NULL) {
		free(flat);
		return -1;
	}
	for (i = 0; i < total; i++) {
		ldns_rr		*rr = i == 0 ? b->soa : ldns_rr_list_rr(rrs, i - 1);
		const ldns_rdf	*owner = ldns_rr_owner(rr);

		if (i > 0 && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			continue;	/* the zone's own SOA is the one at i == 0 */
		/* A name's records usually follow each other: one copy of it. */
		if (prev != NULL && ldns_rdf_size(prev) == ldns_rdf_size(owner) &&
		    memcmp(ldns_rdf_data(prev), ldns_rdf_data(owner), ldns_rdf_size(owner)) == 0) {
			flat[n].owner = flat[n - 1].owner;
			flat[n].owner_len = flat[n - 1].owner_len;
		} else {
			flat[n].owner = b->names + off;
			flat[n].owner_len = (uint8_t)rdf_name_lc(owner, b->names + off);
			off += flat[n].owner_len;
		}
		prev = owner;
		b->names_len = off;
		flat[n].type = ldns_rr_get_type(rr);
		flat[n].ttl = ldns_rr_ttl(rr);
		flat[n].first = (uint32_t)i;
		n++;
	}
	/* One RR per entry, sorted; then each run of equal (owner, type)
	 * becomes one set whose RRs lie together in b->rrs, duplicates out. */
	qsort_r(flat, n, sizeof(*flat), rrset_rr_cmp, b);
	b->nsets = 0;
	for (i = 0; i < n; i = j) {
		struct rrset s = flat[i];

		s.at = (uint32_t)kept;
		b->rrs[kept++] = flat[i].first;
		s.n = 1;
		for (j = i + 1; j < n && rrset_cmp(&flat[i], &flat[j]) == 0; j++) {
			/* Sorted by data too: a duplicate equals the last one kept. */
			if (rr_rdata_cmp(build_rr(b, b->rrs[kept - 1]),
			    build_rr(b, flat[j].first)) != 0) {
				b->rrs[kept++] = flat[j].first;
				s.n++;
			}
			if (flat[j].ttl < s.ttl)
				s.ttl = flat[j].ttl;
		}
		flat[b->nsets++] = s;
	}
	b->sets = flat;
	return 0;
}

static void
build_free_sets(struct build *b)
{
	free(b->sets);
	free(b->rrs);
	free(b->names);
	free(b->scratch);
}

/* ---- answers ---- */

static void
writer_init(struct writer *w, const struct build *b, const uint8_t *qname, size_t qlen)
{
	/* Not the whole struct: its dictionary is large and filled as used. */
	w->buf = b->scratch;
	w->len = 0;
	w->cap = SCRATCH_MAX;
	w->ndict = w->npatch = 0;
	w->failed = 0;
	memset(w->patch, 0, sizeof(w->patch));
	w->base = 12 + qlen + 4;
	w->base_known = qname != NULL;
	if (qname != NULL)
		wr_dict_add(w, qname, qlen, qlen, 12);
}

static void
wr_rrset(struct writer *w, const struct build *b, const struct rrset *s, int owner_off)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		wr_rr(w, SET_RR(b, s, i), owner_off, s->ttl);
}

/* The apex SOA with the negative TTL of RFC 2308 section 5. */
static void
wr_negative_soa(struct writer *w, const struct build *b)
{
	wr_rr(w, b->soa, -1, b->neg_ttl);
}

/* Additional section: in-zone addresses of NS, MX and SRV targets. */
static uint16_t
wr_additional(struct writer *w, const struct build *b, const struct rrset *s)
{
	uint16_t	count = 0;
	size_t		i, t;
	int		field;

	switch (s->type) {
	case LDNS_RR_TYPE_NS:	field = 0; break;
	case LDNS_RR_TYPE_MX:	field = 1; break;
	case LDNS_RR_TYPE_SRV:	field = 3; break;
	default:		return 0;
	}
	for (i = 0; i < s->n; i++) {
		const ldns_rdf	*target = ldns_rr_rdf(SET_RR(b, s, i), field);
		uint8_t		 lc[256];
		size_t		 len;

		if (target == NULL || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME)
			continue;
		len = rdf_name_lc(target, lc);
		for (t = 0; t < 2; t++) {
			const struct rrset *a = build_find_set(b, lc, len,
			    t == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);

			if (a != NULL) {
				wr_rrset(w, b, a, -1);
				count += a->n;
			}
		}
	}
	return count;
}

static int
answer_finish(const struct build *b, struct answer *ans, struct writer *w, size_t len_noadd)
{
	uint8_t *body;

	if (w->failed || w->len > 65535 - 512)
		return -1;
	if ((body = arena_alloc(b->snap, w->len ? w->len : 1, 1)) == NULL)
		return -1;
	memcpy(body, w->buf, w->len);
	ans->body = body;
	ans->len = (uint16_t)w->len;
	ans->len_noadd = (uint16_t)len_noadd;
	ans->npatch = (uint8_t)w->npatch;
	memcpy(ans->patch, w->patch, sizeof(ans->patch));
	return 0;
}

/*
 * The answer to (qname, qtype): the RRset, or the CNAME chain inside the
 * zone and then the RRset at its end, or the SOA of a negative answer.
 * qtype 0 (never in a zone) gives the chain and the negative end.
 */
static int
answer_build(const struct build *b, const uint8_t *qname, size_t qlen,
    uint16_t qtype, struct answer *ans)
{
	struct writer		 w;
	const struct rrset	*s = NULL, *cname;
	uint8_t			 cur[256];
	size_t			 cur_len = qlen, len_noadd, hops;
	int			 owner_off = 12;

	writer_init(&w, b, qname, qlen);
	memcpy(cur, qname, qlen);
	memset(ans, 0, sizeof(*ans));
	ans->rcode = LDNS_RCODE_NOERROR;
	for (hops = 0; hops <= CNAME_CHAIN_MAX; hops++) {
		s = qtype == LDNS_RR_TYPE_ANY ? NULL : build_find_set(b, cur, cur_len, qtype);
		if (s != NULL || qtype == LDNS_RR_TYPE_CNAME)
			break;
		cname = build_find_set(b, cur, cur_len, LDNS_RR_TYPE_CNAME);
		if (cname == NULL)
			break;
		/* Write the CNAME, then go on at its target if it is ours. */
		wr_rrset(&w, b, cname, owner_off);
		ans->ancount += cname->n;
		cur_len = rdf_name_lc(ldns_rr_rdf(SET_RR(b, cname, 0), 0), cur);
		owner_off = -1;
		if (!name_is_below(cur, cur_len, b->apex, b->apex_len))
			goto done;	/* the resolver follows it from here */
		if (!build_name_exists(b, cur, cur_len)) {
			ans->rcode = LDNS_RCODE_NXDOMAIN;
			break;
		}
	}
	if (s != NULL) {
		wr_rrset(&w, b, s, owner_off);
		ans->ancount += s->n;
	} else {
		wr_negative_soa(&w, b);
		ans->nscount = 1;
	}
done:
	len_noadd = w.len;
	if (s != NULL)
		ans->arcount = wr_additional(&w, b, s);
	return answer_finish(b, ans, &w, len_noadd);
}

/* The zone-wide negative answer: SOA owner and names patched per query. */
static int
answer_build_negative(const struct build *b, struct answer *ans, uint8_t rcode)
{
	struct writer w;

	writer_init(&w, b, NULL, 0);
	wr_dict_add(&w, b->apex, b->apex_len, b->apex_len, DICT_APEX);
	memset(ans, 0, sizeof(*ans));
	wr_negative_soa(&w, b);
	ans->nscount = 1;
	ans->rcode = rcode;
	return answer_finish(b, ans, &w, w.len);
}

/* ---- the snapshot ---- */

static uint32_t
name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	size_t	 i;

	for (i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

const struct name_entry *
snapshot_lookup(const struct snapshot *snap, const uint8_t *name, size_t len)
{
	size_t			 i = name_hash(name, len) & snap->table_mask;
	uint32_t		 k;

	while ((k = snap->table[i]) != 0) {
		const struct name_entry *ne = &snap->names[k - 1];

		if (ne->name_len == len && memcmp(ne->name, name, len) == 0)
			return ne;
		i = (i + 1) & snap->table_mask;
	}
	return NULL;
}

const struct answer *
snapshot_answer(const struct snapshot *snap, const struct name_entry *ne, uint16_t qtype)
{
	size_t lo = 0, hi = ne->ntypes;

	if (qtype == LDNS_RR_TYPE_ANY)
		return ne->any != NAME_NO_ANY ? &ne->types[ne->any] : &snap->nodata;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ne->types[mid].type == qtype)
			return &ne->types[mid];
		if (ne->types[mid].type < qtype)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ne->has_other ? &ne->types[ne->ntypes] : &snap->nodata;
}

void
snapshot_free(struct snapshot *snap)
{
	if (snap == NULL)
		return;
	free(snap->names);
	free(snap->table);
	free(snap->owners);
	arena_free(snap);
	free(snap);
}

/*
 * The RFC 8482 choice for ANY: a CNAME alone (the types beside it are its
 * chain's), else the addresses, else the first RRset.
 */
static uint16_t
entry_pick_any(const struct name_entry *ne)
{
	static const uint16_t pref[] = { LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_A,
	    LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SOA };
	size_t i, t;

	for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		for (t = 0; t < ne->ntypes; t++)
			if (ne->types[t].type == pref[i])
				return (uint16_t)t;
	return ne->ntypes ? 0 : NAME_NO_ANY;
}

/* Types a CNAME chain from this name can end in, answered per type. */
static int
entry_build(struct build *b, struct name_entry *ne, size_t first, size_t nsets)
{
	const struct rrset	*cname = NULL;
	uint16_t		 chain_types[64];
	size_t			 nchain = 0, i, t;

	for (i = 0; i < nsets; i++)
		if (b->sets[first + i].type == LDNS_RR_TYPE_CNAME)
			cname = &b->sets[first + i];
	if (cname != NULL) {
		/* Follow the chain to collect the types its end holds. */
		uint8_t	cur[256];
		size_t	cur_len = rdf_name_lc(ldns_rr_rdf(SET_RR(b, cname, 0), 0), cur), k, hops;

		for (hops = 0; hops < CNAME_CHAIN_MAX; hops++) {
			const struct rrset *next = build_find_set(b, cur, cur_len, LDNS_RR_TYPE_CNAME);

			/* The sets at the name lie together: find the first. */
			for (k = build_owner_first(b, cur, cur_len); k < b->nsets && nchain < 63 &&
			    b->sets[k].owner_len == cur_len &&
			    memcmp(b->sets[k].owner, cur, cur_len) == 0; k++)
				if (b->sets[k].type != LDNS_RR_TYPE_CNAME)
					chain_types[nchain++] = b->sets[k].type;
			if (next == NULL)
				break;
			cur_len = rdf_name_lc(ldns_rr_rdf(SET_RR(b, next, 0), 0), cur);
		}
	}
	ne->types = arena_alloc(b->snap, (nsets + nchain + (cname != NULL)) * sizeof(*ne->types),
	    8);
	if (ne->types == NULL)
		return -1;
	for (i = 0; i < nsets; i++) {
		if (answer_build(b, ne->name, ne->name_len, b->sets[first + i].type,
		    &ne->types[ne->ntypes]) == -1)
			return -1;
		ne->types[ne->ntypes].type = b->sets[first + i].type;
		ne->ntypes++;
	}
	for (i = 0; i < nchain; i++) {
		int seen = 0;

		for (t = 0; t < ne->ntypes; t++)
			seen |= ne->types[t].type == chain_types[i];
		if (seen)
			continue;
		/* Keep types sorted: insert in place. */
		for (t = ne->ntypes; t > 0 && ne->types[t - 1].type > chain_types[i]; t--)
			ne->types[t] = ne->types[t - 1];
		if (answer_build(b, ne->name, ne->name_len, chain_types[i], &ne->types[t]) == -1) {
			ne->types[t].body = NULL;
			ne->ntypes++;
			return -1;
		}
		ne->types[t].type = chain_types[i];
		ne->ntypes++;
	}
	if (cname != NULL) {
		/* Any other type: the chain, then NODATA/NXDOMAIN at its end. */
		if (answer_build(b, ne->name, ne->name_len, 0, &ne->types[ne->ntypes]) == -1)
			return -1;
		ne->has_other = 1;
	}
	ne->any = entry_pick_any(ne);
	return 0;
}

static int
snapshot_add_name(struct snapshot *snap, size_t *cap, const uint8_t *name, size_t len)
{
	struct name_entry *ne;

	if (snap->nnames == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct name_entry *p = realloc(snap->names, ncap * sizeof(*p));

		if (p == NULL)
			return -1;
		snap->names = p;
		*cap = ncap;
	}
	/* name is in snap->owners: the snapshot's own copy, kept whole. */
	ne = &snap->names[snap->nnames];
	memset(ne, 0, sizeof(*ne));
	ne->name = name;
	ne->name_len = (uint8_t)len;
	ne->any = NAME_NO_ANY;
	snap->nnames++;
	return 0;
}

static int
snapshot_index(struct snapshot *snap)
{
	size_t size = 16, i, h;

	while (size < snap->nnames * 2)
		size *= 2;
	snap->table = calloc(size, sizeof(*snap->table));
	if (snap->table == NULL)
		return -1;
	snap->table_mask = size - 1;
	for (i = 0; i < snap->nnames; i++) {
		struct name_entry *ne = &snap->names[i];

		h = name_hash(ne->name, ne->name_len) & snap->table_mask;
		while (snap->table[h] != 0)
			h = (h + 1) & snap->table_mask;
		snap->table[h] = (uint32_t)i + 1;
	}
	return 0;
}

struct ent {
	const uint8_t	*name;		/* a tail of an entry's name, in snap->owners */
	size_t		 len;
};

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

/*
 * Names between the apex and an owner that own nothing themselves answer
 * NODATA, not NXDOMAIN: collect them, sorted so each is added once.
 */
static int
snapshot_add_empty_nonterminals(const struct build *b, struct snapshot *snap, size_t *cap)
{
	struct ent	*ents = NULL;
	size_t		 nents = 0, ents_cap = 0, nowners = snap->nnames, i, k;

	for (i = 0; i < nowners; i++) {
		const uint8_t	*name = snap->names[i].name;
		size_t		 len = snap->names[i].name_len, off = 0;

		while (name[off] != 0 && len - off > b->apex_len) {
			off += 1 + name[off];
			if (len - off <= b->apex_len || build_name_exists(b, name + off, len - off))
				continue;
			if (nents == ents_cap) {
				struct ent *p = realloc(ents, (ents_cap = ents_cap ? ents_cap * 2 : 64) *
				    sizeof(*p));

				if (p == NULL) {
					free(ents);
					return -1;
				}
				ents = p;
			}
			ents[nents].name = name + off;
			ents[nents++].len = len - off;
		}
	}
	if (nents > 0)
		qsort(ents, nents, sizeof(*ents), ent_cmp);
	for (i = 0; i < nents; i = k) {
		for (k = i + 1; k < nents && ent_cmp(&ents[i], &ents[k]) == 0; k++)
			;
		if (snapshot_add_name(snap, cap, ents[i].name, ents[i].len) == -1) {
			free(ents);
			return -1;
		}
	}
	free(ents);
	return 0;
}

static int
build_fail(struct build *b, const char *what)
{
	snprintf(b->err, b->errlen, "cannot build the answers: %s", what);
	return -1;
}

struct snapshot *
snapshot_build(const ldns_zone *zone, const char *origin, char *err, size_t errlen)
{
	struct build	 b;
	struct snapshot	*snap;
	ldns_rdf	*apex = NULL;
	size_t		 cap = 0, i, j, first;
	uint32_t	 minimum;

	memset(&b, 0, sizeof(b));
	b.zone = zone;
	b.err = err;
	b.errlen = errlen;
	b.soa = ldns_zone_soa(zone);
	if (b.soa == NULL || ldns_rr_rd_count(b.soa) < 7) {
		snprintf(err, errlen, "the zone has no SOA record");
		return NULL;
	}
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad zone name %s", origin);
		return NULL;
	}
	b.apex_len = rdf_name_lc(apex, b.apex);
	ldns_rdf_deep_free(apex);
	minimum = ldns_rdf2native_int32(ldns_rr_rdf(b.soa, 6));
	b.neg_ttl = ldns_rr_ttl(b.soa) < minimum ? ldns_rr_ttl(b.soa) : minimum;

	if ((snap = calloc(1, sizeof(*snap))) == NULL ||
	    (b.scratch = malloc(SCRATCH_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(snap);
		return NULL;
	}
	b.snap = snap;
	memcpy(snap->apex, b.apex, b.apex_len);
	snap->apex_len = b.apex_len;
	snap->serial = ldns_rdf2native_int32(ldns_rr_rdf(b.soa, 2));
	if (build_sets(&b) == -1) {
		build_fail(&b, "out of memory");
		build_free_sets(&b);
		snapshot_free(snap);
		return NULL;
	}
	snap->owners = b.names;
	snap->bytes += b.names_len;
	b.names = NULL;
	/* One entry per owner name, then the empty non-terminals above them. */
	for (i = 0, cap = 0; i < b.nsets; i++)
		cap += i == 0 || b.sets[i].owner != b.sets[i - 1].owner ||
		    b.sets[i].owner_len != b.sets[i - 1].owner_len ||
		    memcmp(b.sets[i].owner, b.sets[i - 1].owner, b.sets[i].owner_len) != 0;
	if ((snap->names = malloc((cap ? cap : 1) * sizeof(*snap->names))) == NULL)
		goto oom;
	for (i = 0; i < b.nsets; i = j) {
		for (j = i + 1; j < b.nsets && b.sets[j].owner_len == b.sets[i].owner_len &&
		    memcmp(b.sets[j].owner, b.sets[i].owner, b.sets[i].owner_len) == 0; j++)
			;
		if (snapshot_add_name(snap, &cap, b.sets[i].owner, b.sets[i].owner_len) == -1)
			goto oom;
		first = i;
		if (entry_build(&b, &snap->names[snap->nnames - 1], first, j - i) == -1)
			goto oom;
	}
	if (snapshot_add_empty_nonterminals(&b, snap, &cap) == -1)
		goto oom;
	if (answer_build_negative(&b, &snap->nxdomain, LDNS_RCODE_NXDOMAIN) == -1 ||
	    answer_build_negative(&b, &snap->nodata, LDNS_RCODE_NOERROR) == -1 ||
	    answer_build(&b, b.apex, b.apex_len, LDNS_RR_TYPE_SOA, &snap->soa) == -1)
		goto oom;
	/* The sets are done with: the table need not sit on top of them. */
	build_free_sets(&b);
	if (snapshot_index(snap) == -1) {
		snprintf(err, errlen, "cannot build the answers: out of memory");
		snapshot_free(snap);
		return NULL;
	}
	snap->bytes += cap * sizeof(struct name_entry) +
	    (snap->table_mask + 1) * sizeof(*snap->table);
	return snap;
oom:
	build_fail(&b, "out of memory or an answer over 64 KB");
	build_free_sets(&b);
	snapshot_free(snap);
	return NULL;
}
