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
#include "dnsd/zone.h"

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

/* Bodies, names and type tables: freed all at once with their owner. */
struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 used, cap;
	uint8_t			 data[];
};

#define ARENA_CHUNK	(256 * 1024)
#define ARENA_SMALL	1024		/* an entry made by a change starts with this */
#define SCRATCH_MAX	(65535 + 256)

/* An RRset of the loaded zone while the first version is built. */
struct rrset {
	const uint8_t	*owner;		/* lower-cased wire form, in base->owners */
	union {
		uint32_t at;		/* its RRs: load.rrs[at] on, n of them */
		ldns_rr *first;		/* while sorting: the one RR of an entry */
	};
	uint32_t	 ttl;		/* the lowest of its RRs */
	uint32_t	 n;
	uint16_t	 type;
	uint8_t		 owner_len;
};

/*
 * What an answer is built with: the version whose names it reads (the
 * table complete), where its bytes go, and whose reads to note.
 */
struct build {
	struct snapshot		 *snap;
	struct arena_chunk	**arena;	/* where bodies and type tables go */
	size_t			  chunk;	/* in chunks of this many bytes */
	size_t			 *bytes;
	uint8_t			 *scratch;	/* where an answer is written, SCRATCH_MAX */
	const ldns_rr		 *soa;
	uint32_t		  neg_ttl;
	const uint8_t		 *self;		/* the entry being built */
	size_t			  self_len;
	int			  failed;	/* out of memory noting a read */
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

/* ---- arenas ---- */

/*
 * n bytes that live as long as the arena's owner, aligned to align (a
 * power of two: 8 for structures, 1 for answer bodies, which are only
 * copied); NULL if none left. A new chunk holds at least chunk bytes.
 */
static void *
arena_alloc(struct arena_chunk **head, size_t *bytes, size_t chunk, size_t n, size_t align)
{
	struct arena_chunk	*c = *head;
	size_t			 cap, at = 0;

	if (c != NULL)
		at = (c->used + align - 1) & ~(align - 1);
	if (c == NULL || at > c->cap || c->cap - at < n) {
		cap = n > chunk ? n : chunk;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->next = *head;
		c->used = 0;
		c->cap = cap;
		*head = c;
		if (bytes != NULL)
			*bytes += cap;
		at = 0;
	}
	c->used = at + n;
	return c->data + at;
}

static void
arena_free(struct arena_chunk *c)
{
	struct arena_chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
}

/* ---- the base: what the first version was built with ---- */

/* A name whose answer reads another name: built again when that one changes. */
struct dep {
	struct dep	*next;
	uint32_t	 hash;		/* of the name read */
	uint8_t		 len, dep_len;
	uint8_t		 names[];	/* the name read, then the one whose answer reads it */
};

/*
 * Shared by every version made from one loaded zone: the entries, sets
 * and answers built at load, the loaded zone (its records are the base
 * entries'), and the index of which answers read which names (kept for
 * the newest version only, by the control thread).
 */
struct snap_base {
	unsigned		 refs;
	uint32_t		 gen;		/* the newest version made */
	struct arena_chunk	*arena;
	uint8_t			*owners;
	struct name_entry	*entries;
	struct zset		*sets;
	ldns_rr			**rrs;
	ldns_zone		*zone;		/* NULL: the caller's */
	struct dep		**deps;
	size_t			 deps_mask;
	struct arena_chunk	*dep_arena;	/* the deps, freed with the base */
};

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

static int
name_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* A total order on names, shorter first, for sorting lists of them. */
static int
name_order(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/*
 * Note that the answers of b->self read name (b->failed when out of
 * memory), once: a change builds the same answers again and again.
 */
static void
dep_note(struct build *b, const uint8_t *name, size_t len)
{
	struct snap_base	*base = b->snap->base;
	uint32_t		 h = name_hash(name, len);
	struct dep		**head = &base->deps[h & base->deps_mask], *d;

	for (d = *head; d != NULL; d = d->next)
		if (d->hash == h && name_same(d->names, d->len, name, len) &&
		    name_same(d->names + d->len, d->dep_len, b->self, b->self_len))
			return;
	if ((d = arena_alloc(&base->dep_arena, NULL, ARENA_CHUNK, sizeof(*d) + len + b->self_len,
	    8)) == NULL) {
		b->failed = 1;
		return;
	}
	d->hash = h;
	d->len = (uint8_t)len;
	d->dep_len = (uint8_t)b->self_len;
	memcpy(d->names, name, len);
	memcpy(d->names + len, b->self, b->self_len);
	d->next = *head;
	*head = d;
}

static void
base_free(struct snap_base *base)
{
	free(base->deps);
	arena_free(base->dep_arena);
	arena_free(base->arena);
	free(base->owners);
	free(base->entries);
	free(base->sets);
	free(base->rrs);
	if (base->zone != NULL)
		ldns_zone_deep_free(base->zone);
	free(base);
}

/* ---- entries, pages, versions ---- */

#define SLOT(s, i)	((s)->pages[(i) >> SNAP_PAGE_BITS]->slot[(i) & (SNAP_PAGE_SLOTS - 1)])

static void
entry_free(struct name_entry *e)
{
	size_t i, k;

	for (i = 0; i < e->nsets; i++)
		for (k = 0; k < e->sets[i].n; k++)
			ldns_rr_free(e->sets[i].rr[k]);
	arena_free(e->arena);
	free(e);
}

static void
entry_unref(struct name_entry *e)
{
	if (e != NULL && e->own && --e->refs == 0)
		entry_free(e);
}

static void
page_release(struct snap_page *p)
{
	size_t i;

	if (p == NULL || --p->refs > 0)
		return;
	for (i = 0; i < SNAP_PAGE_SLOTS; i++)
		entry_unref(p->slot[i]);
	free(p);
}

void
snapshot_ref(struct snapshot *snap)
{
	snap->refs++;
}

void
snapshot_free(struct snapshot *snap)
{
	size_t i;

	if (snap == NULL || --snap->refs > 0)
		return;
	for (i = 0; snap->pages != NULL && i <= snap->table_mask >> SNAP_PAGE_BITS; i++)
		page_release(snap->pages[i]);
	free(snap->pages);
	arena_free(snap->arena);
	if (snap->base != NULL && --snap->base->refs == 0)
		base_free(snap->base);
	free(snap);
}

void
snapshot_own_zone(struct snapshot *snap, ldns_zone *zone)
{
	snap->base->zone = zone;
}

const struct name_entry *
snapshot_lookup(const struct snapshot *snap, const uint8_t *name, size_t len)
{
	size_t			 i = name_hash(name, len) & snap->table_mask;
	const struct name_entry *ne;

	while ((ne = SLOT(snap, i)) != NULL) {
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

/* ---- what an answer reads ---- */

static const struct zset *
entry_set(const struct name_entry *ne, uint16_t type)
{
	size_t i;

	for (i = 0; ne != NULL && i < ne->nsets; i++)
		if (ne->sets[i].type == type)
			return &ne->sets[i];
	return NULL;
}

/* The entry at name, noting that the answer being built reads it. */
static const struct name_entry *
b_entry(struct build *b, const uint8_t *name, size_t len)
{
	if (b->self != NULL && !name_same(name, len, b->self, b->self_len))
		dep_note(b, name, len);
	return snapshot_lookup(b->snap, name, len);
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
wr_rrset(struct writer *w, const struct zset *s, int owner_off)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		wr_rr(w, s->rr[i], owner_off, s->ttl);
}

/* The apex SOA with the negative TTL of RFC 2308 section 5. */
static void
wr_negative_soa(struct writer *w, struct build *b)
{
	if (b->self != NULL && !name_same(b->self, b->self_len, b->snap->apex, b->snap->apex_len))
		dep_note(b, b->snap->apex, b->snap->apex_len);
	wr_rr(w, b->soa, -1, b->neg_ttl);
}

/* Additional section: in-zone addresses of NS, MX and SRV targets. */
static uint16_t
wr_additional(struct writer *w, struct build *b, const struct zset *s)
{
	const struct name_entry *at;
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
		const ldns_rdf	*target = ldns_rr_rdf(s->rr[i], field);
		uint8_t		 lc[256];
		size_t		 len;

		if (target == NULL || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME)
			continue;
		len = rdf_name_lc(target, lc);
		at = b_entry(b, lc, len);
		for (t = 0; t < 2; t++) {
			const struct zset *a = entry_set(at, t == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);

			if (a != NULL) {
				wr_rrset(w, a, -1);
				count += a->n;
			}
		}
	}
	return count;
}

static int
answer_finish(struct build *b, struct answer *ans, struct writer *w, size_t len_noadd)
{
	uint8_t *body;

	if (w->failed || b->failed || w->len > 65535 - 512)
		return -1;
	if ((body = arena_alloc(b->arena, b->bytes, b->chunk, w->len ? w->len : 1, 1)) == NULL)
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
answer_build(struct build *b, const struct name_entry *self, const uint8_t *qname, size_t qlen,
    uint16_t qtype, struct answer *ans)
{
	struct writer		 w;
	const struct zset	*s = NULL, *cname;
	uint8_t			 cur[256];
	size_t			 cur_len = qlen, len_noadd, hops;
	int			 owner_off = 12;

	writer_init(&w, b, qname, qlen);
	memcpy(cur, qname, qlen);
	memset(ans, 0, sizeof(*ans));
	ans->rcode = LDNS_RCODE_NOERROR;
	for (hops = 0; hops <= CNAME_CHAIN_MAX; hops++) {
		/* The name asked about is at hand; the chain's names are looked up. */
		const struct name_entry *ne = hops == 0 && self != NULL ? self :
		    b_entry(b, cur, cur_len);

		s = qtype == LDNS_RR_TYPE_ANY ? NULL : entry_set(ne, qtype);
		if (s != NULL || qtype == LDNS_RR_TYPE_CNAME)
			break;
		if ((cname = entry_set(ne, LDNS_RR_TYPE_CNAME)) == NULL)
			break;
		/* Write the CNAME, then go on at its target if it is ours. */
		wr_rrset(&w, cname, owner_off);
		ans->ancount += cname->n;
		cur_len = rdf_name_lc(ldns_rr_rdf(cname->rr[0], 0), cur);
		owner_off = -1;
		if (!name_is_below(cur, cur_len, b->snap->apex, b->snap->apex_len))
			goto done;	/* the resolver follows it from here */
		if (b_entry(b, cur, cur_len) == NULL) {
			ans->rcode = LDNS_RCODE_NXDOMAIN;
			break;
		}
	}
	if (s != NULL) {
		wr_rrset(&w, s, owner_off);
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
answer_build_negative(struct build *b, struct answer *ans, uint8_t rcode)
{
	struct writer w;

	writer_init(&w, b, NULL, 0);
	wr_dict_add(&w, b->snap->apex, b->snap->apex_len, b->snap->apex_len, DICT_APEX);
	memset(ans, 0, sizeof(*ans));
	wr_rr(&w, b->soa, -1, b->neg_ttl);
	ans->nscount = 1;
	ans->rcode = rcode;
	return answer_finish(b, ans, &w, w.len);
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

/* Every answer of a name: its types, and those a CNAME chain from it ends in. */
static int
entry_build(struct build *b, struct name_entry *ne)
{
	const struct zset	*cname = entry_set(ne, LDNS_RR_TYPE_CNAME);
	uint16_t		 chain_types[64];
	size_t			 nchain = 0, i, t;

	b->self = ne->name;
	b->self_len = ne->name_len;
	ne->ntypes = 0;
	ne->has_other = 0;
	ne->any = NAME_NO_ANY;
	if (cname != NULL) {
		/* Follow the chain to collect the types its end holds. */
		uint8_t	cur[256];
		size_t	cur_len = rdf_name_lc(ldns_rr_rdf(cname->rr[0], 0), cur), k, hops;

		for (hops = 0; hops < CNAME_CHAIN_MAX; hops++) {
			const struct name_entry *at = b_entry(b, cur, cur_len);
			const struct zset *next = entry_set(at, LDNS_RR_TYPE_CNAME);

			for (k = 0; at != NULL && k < at->nsets && nchain < 63; k++)
				if (at->sets[k].type != LDNS_RR_TYPE_CNAME)
					chain_types[nchain++] = at->sets[k].type;
			if (next == NULL)
				break;
			cur_len = rdf_name_lc(ldns_rr_rdf(next->rr[0], 0), cur);
		}
	}
	ne->types = arena_alloc(b->arena, b->bytes, b->chunk,
	    (ne->nsets + nchain + (cname != NULL) + 1) * sizeof(*ne->types), 8);
	if (ne->types == NULL)
		return -1;
	for (i = 0; i < ne->nsets; i++) {
		if (answer_build(b, ne, ne->name, ne->name_len, ne->sets[i].type,
		    &ne->types[ne->ntypes]) == -1)
			return -1;
		ne->types[ne->ntypes].type = ne->sets[i].type;
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
		if (answer_build(b, ne, ne->name, ne->name_len, chain_types[i], &ne->types[t]) == -1) {
			ne->types[t].body = NULL;
			ne->ntypes++;
			return -1;
		}
		ne->types[t].type = chain_types[i];
		ne->ntypes++;
	}
	if (cname != NULL) {
		/* Any other type: the chain, then NODATA/NXDOMAIN at its end. */
		if (answer_build(b, ne, ne->name, ne->name_len, 0, &ne->types[ne->ntypes]) == -1)
			return -1;
		ne->has_other = 1;
	}
	ne->any = entry_pick_any(ne);
	return 0;
}

/* The answers of the whole version, not of a name: negative, and the apex SOA. */
static int
version_build_negative(struct build *b)
{
	struct snapshot		*snap = b->snap;
	uint32_t		 minimum = ldns_rdf2native_int32(ldns_rr_rdf(snap->soa_rr, 6));

	b->soa = snap->soa_rr;
	b->neg_ttl = ldns_rr_ttl(snap->soa_rr) < minimum ? ldns_rr_ttl(snap->soa_rr) : minimum;
	snap->serial = ldns_rdf2native_int32(ldns_rr_rdf(snap->soa_rr, 2));
	b->self = NULL;
	b->arena = &snap->arena;
	b->chunk = ARENA_SMALL;
	return answer_build_negative(b, &snap->nxdomain, LDNS_RCODE_NXDOMAIN) == -1 ||
	    answer_build_negative(b, &snap->nodata, LDNS_RCODE_NOERROR) == -1 ||
	    answer_build(b, NULL, snap->apex, snap->apex_len, LDNS_RR_TYPE_SOA, &snap->soa) == -1 ?
	    -1 : 0;
}

/* ---- the table ---- */

/* The slot holding name, or -1. */
static ssize_t
table_find(const struct snapshot *s, const uint8_t *name, size_t len)
{
	size_t			 i = name_hash(name, len) & s->table_mask;
	const struct name_entry *ne;

	while ((ne = SLOT(s, i)) != NULL) {
		if (name_same(ne->name, ne->name_len, name, len))
			return (ssize_t)i;
		i = (i + 1) & s->table_mask;
	}
	return -1;
}

static int
table_alloc(struct snapshot *s, size_t slots)
{
	size_t i, npages = slots >> SNAP_PAGE_BITS;

	if ((s->pages = calloc(npages, sizeof(*s->pages))) == NULL)
		return -1;
	s->table_mask = slots - 1;
	for (i = 0; i < npages; i++) {
		if ((s->pages[i] = calloc(1, sizeof(*s->pages[i]))) == NULL)
			return -1;
		s->pages[i]->refs = 1;
	}
	return 0;
}

/* Put e in the first free slot of its chain, in a table whose pages are s's own. */
static void
table_put(struct snapshot *s, struct name_entry *e)
{
	size_t i = name_hash(e->name, e->name_len) & s->table_mask;

	while (SLOT(s, i) != NULL)
		i = (i + 1) & s->table_mask;
	SLOT(s, i) = e;
	if (e->own)
		e->refs++;
}

/* Write slot i of a version not yet published: its page is copied first if shared. */
static int
slot_set(struct snapshot *s, size_t i, struct name_entry *e)
{
	struct snap_page	**pp = &s->pages[i >> SNAP_PAGE_BITS], *p = *pp, *c;
	struct name_entry	*old;
	size_t			 k;

	if (p->refs > 1) {
		if ((c = malloc(sizeof(*c))) == NULL)
			return -1;
		memcpy(c->slot, p->slot, sizeof(c->slot));
		c->refs = 1;
		for (k = 0; k < SNAP_PAGE_SLOTS; k++)
			if (c->slot[k] != NULL && c->slot[k]->own)
				c->slot[k]->refs++;
		p->refs--;
		*pp = p = c;
		s->bytes += sizeof(*c);
	}
	old = p->slot[i & (SNAP_PAGE_SLOTS - 1)];
	if (e != NULL && e->own)
		e->refs++;
	p->slot[i & (SNAP_PAGE_SLOTS - 1)] = e;
	entry_unref(old);
	return 0;
}

/* Twice the slots: every entry put again, into pages of s's own. */
static int
table_grow(struct snapshot *s)
{
	struct snapshot		 t;
	size_t			 i, npages = (s->table_mask + 1) >> SNAP_PAGE_BITS;

	memset(&t, 0, sizeof(t));
	if (table_alloc(&t, (s->table_mask + 1) * 2) == -1) {
		for (i = 0; t.pages != NULL && i <= t.table_mask >> SNAP_PAGE_BITS; i++)
			free(t.pages[i]);
		free(t.pages);
		return -1;
	}
	for (i = 0; i <= s->table_mask; i++)
		if (SLOT(s, i) != NULL)
			table_put(&t, SLOT(s, i));
	for (i = 0; i < npages; i++)
		page_release(s->pages[i]);
	free(s->pages);
	s->pages = t.pages;
	s->table_mask = t.table_mask;
	s->bytes += npages * sizeof(struct snap_page);
	return 0;
}

static int
table_insert(struct snapshot *s, struct name_entry *e)
{
	size_t i;

	if ((s->nnames + 1) * 2 > s->table_mask + 1 && table_grow(s) == -1)
		return -1;
	i = name_hash(e->name, e->name_len) & s->table_mask;
	while (SLOT(s, i) != NULL)
		i = (i + 1) & s->table_mask;
	if (slot_set(s, i, e) == -1)
		return -1;
	s->nnames++;
	return 0;
}

/* Empty slot i, moving back the entries after it that belong before it. */
static int
table_delete(struct snapshot *s, size_t i)
{
	size_t			 j = i, home;
	struct name_entry	*e;

	if (slot_set(s, i, NULL) == -1)
		return -1;
	s->nnames--;
	for (;;) {
		j = (j + 1) & s->table_mask;
		if ((e = SLOT(s, j)) == NULL)
			return 0;
		home = name_hash(e->name, e->name_len) & s->table_mask;
		/* e stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		if (slot_set(s, i, e) == -1 || slot_set(s, j, NULL) == -1)
			return -1;
		i = j;
	}
}

/* ---- entries made by a change ---- */

static struct name_entry *
entry_new(struct snapshot *s, const uint8_t *name, size_t len)
{
	struct name_entry	*e = calloc(1, sizeof(*e));
	uint8_t			*copy;

	if (e == NULL)
		return NULL;
	e->own = 1;
	e->gen = s->gen;
	e->any = NAME_NO_ANY;
	if ((copy = arena_alloc(&e->arena, NULL, ARENA_SMALL, len, 1)) == NULL) {
		free(e);
		return NULL;
	}
	memcpy(copy, name, len);
	e->name = copy;
	e->name_len = (uint8_t)len;
	return e;
}

static int rr_rdata_cmp(const ldns_rr *, const ldns_rr *);

/* Type, then data: the order the sets of a loaded zone have. */
static int
rr_type_data_cmp(const void *a, const void *b)
{
	const ldns_rr	*x = *(ldns_rr *const *)a, *y = *(ldns_rr *const *)b;

	if (ldns_rr_get_type(x) != ldns_rr_get_type(y))
		return (int)ldns_rr_get_type(x) - (int)ldns_rr_get_type(y);
	return rr_rdata_cmp(x, y);
}

/*
 * Give e the records rr[0..n) (now e's, freed here when the same as
 * another), grouped into sets by type as a loaded zone's are.
 */
static int
entry_set_records(struct name_entry *e, ldns_rr **rr, size_t n)
{
	ldns_rr	**mine;
	size_t	  i, k, kept = 0;

	if (n == 0)
		return 0;
	/* Room for a set per record: nothing can fail once records are freed. */
	if ((mine = arena_alloc(&e->arena, NULL, ARENA_SMALL, n * sizeof(*mine), 8)) == NULL ||
	    (e->sets = arena_alloc(&e->arena, NULL, ARENA_SMALL, n * sizeof(*e->sets), 8)) == NULL)
		return -1;
	memcpy(mine, rr, n * sizeof(*mine));
	qsort(mine, n, sizeof(*mine), rr_type_data_cmp);
	for (i = 0; i < n; i++) {
		if (kept > 0 && rr_type_data_cmp(&mine[kept - 1], &mine[i]) == 0) {
			if (ldns_rr_ttl(mine[i]) < ldns_rr_ttl(mine[kept - 1]))
				ldns_rr_set_ttl(mine[kept - 1], ldns_rr_ttl(mine[i]));
			ldns_rr_free(mine[i]);
			continue;
		}
		mine[kept++] = mine[i];
	}
	n = kept;
	for (i = 0; i < n; i = k) {
		struct zset *z = &e->sets[e->nsets++];

		z->rr = &mine[i];
		z->type = ldns_rr_get_type(mine[i]);
		z->ttl = ldns_rr_ttl(mine[i]);
		for (k = i + 1; k < n && ldns_rr_get_type(mine[k]) == z->type; k++)
			if (ldns_rr_ttl(mine[k]) < z->ttl)
				z->ttl = ldns_rr_ttl(mine[k]);
		z->n = (uint16_t)(k - i);
	}
	return 0;
}

/* A copy of e that this version may write: its records cloned, no answers yet. */
static struct name_entry *
entry_copy(struct snapshot *s, const struct name_entry *e)
{
	struct name_entry	*c = entry_new(s, e->name, e->name_len);
	ldns_rr			*rr[1024], **v = rr;
	size_t			 n = 0, i, k, total = 0;

	if (c == NULL)
		return NULL;
	c->children = e->children;
	for (i = 0; i < e->nsets; i++)
		total += e->sets[i].n;
	if (total > sizeof(rr) / sizeof(rr[0]) && (v = malloc(total * sizeof(*v))) == NULL)
		goto fail;
	for (i = 0; i < e->nsets; i++)
		for (k = 0; k < e->sets[i].n; k++) {
			if ((v[n] = ldns_rr_clone(e->sets[i].rr[k])) == NULL)
				goto fail;
			n++;
		}
	if (entry_set_records(c, v, n) == -1)
		goto fail;
	if (v != rr)
		free(v);
	return c;
fail:
	while (n > 0)
		ldns_rr_free(v[--n]);
	if (v != rr)
		free(v);
	entry_free(c);
	return NULL;
}

/* ---- the first version, from a loaded zone ---- */

/* The loaded zone's records grouped and sorted, while the base is made. */
struct load {
	const ldns_zone	*zone;
	ldns_rr		*soa;
	struct rrset	*sets;		/* sorted by owner, then type */
	size_t		 nsets;
	ldns_rr		**rrs;		/* every RR once, in the order of sets; the base keeps them */
	size_t		 nrrs;
	uint8_t		*names;		/* the lower-cased owners; the base keeps them */
	size_t		 names_len;
};

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

/* The zone's RR number i: 0 is the SOA, then the zone's list. */
static ldns_rr *
load_rr(const struct load *l, uint32_t i)
{
	return i == 0 ? l->soa : ldns_rr_list_rr(ldns_zone_rrs(l->zone), i - 1);
}

/* Owner, type, then data: equal RRs end up next to each other. */
static int
rrset_rr_cmp(const void *a, const void *b)
{
	int c = rrset_cmp(a, b);

	if (c != 0)
		return c;
	return rr_rdata_cmp(((const struct rrset *)a)->first, ((const struct rrset *)b)->first);
}

/* Is there a set at owner (sets are sorted by owner first)? */
static int
load_name_exists(const struct load *l, const uint8_t *owner, size_t len)
{
	size_t lo = 0, hi = l->nsets;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rrset *s = &l->sets[mid];
		size_t n = s->owner_len < len ? s->owner_len : len;
		int c = memcmp(s->owner, owner, n);

		if (c == 0 && s->owner_len != len)
			c = s->owner_len < len ? -1 : 1;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Group the zone's RRs into sorted RRsets; duplicates dropped (RFC 2181).
 * One sort by owner, type and data does it in O(n log n), whatever the
 * size of an RRset.
 */
static int
load_sets(struct load *l)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(l->zone);
	size_t			 total = ldns_rr_list_rr_count(rrs) + 1, i, j, n = 0, kept = 0;
	size_t			 names_len = 0, off = 0;
	struct rrset		*flat;
	const ldns_rdf		*prev = NULL;

	for (i = 0; i < total; i++)
		names_len += ldns_rdf_size(ldns_rr_owner(load_rr(l, (uint32_t)i)));
	flat = calloc(total, sizeof(*flat));
	l->rrs = calloc(total, sizeof(*l->rrs));
	l->names = malloc(names_len ? names_len : 1);
	if (flat == NULL || l->rrs == NULL || l->names == NULL) {
		free(flat);
		return -1;
	}
	for (i = 0; i < total; i++) {
		ldns_rr		*rr = load_rr(l, (uint32_t)i);
		const ldns_rdf	*owner = ldns_rr_owner(rr);

		if (i > 0 && ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			continue;	/* the zone's own SOA is the one at i == 0 */
		/* A name's records usually follow each other: one copy of it. */
		if (prev != NULL && ldns_rdf_size(prev) == ldns_rdf_size(owner) &&
		    memcmp(ldns_rdf_data(prev), ldns_rdf_data(owner), ldns_rdf_size(owner)) == 0) {
			flat[n].owner = flat[n - 1].owner;
			flat[n].owner_len = flat[n - 1].owner_len;
		} else {
			flat[n].owner = l->names + off;
			flat[n].owner_len = (uint8_t)rdf_name_lc(owner, l->names + off);
			off += flat[n].owner_len;
		}
		prev = owner;
		l->names_len = off;
		flat[n].type = ldns_rr_get_type(rr);
		flat[n].ttl = ldns_rr_ttl(rr);
		flat[n].first = rr;
		n++;
	}
	/* One RR per entry, sorted; then each run of equal (owner, type)
	 * becomes one set whose RRs lie together in l->rrs, duplicates out. */
	qsort(flat, n, sizeof(*flat), rrset_rr_cmp);
	l->nsets = 0;
	for (i = 0; i < n; i = j) {
		struct rrset s = flat[i];

		s.at = (uint32_t)kept;
		l->rrs[kept++] = flat[i].first;
		s.n = 1;
		for (j = i + 1; j < n && rrset_cmp(&flat[i], &flat[j]) == 0; j++) {
			/* Sorted by data too: a duplicate equals the last one kept. */
			if (rr_rdata_cmp(l->rrs[kept - 1], flat[j].first) != 0) {
				l->rrs[kept++] = flat[j].first;
				s.n++;
			}
			if (flat[j].ttl < s.ttl)
				s.ttl = flat[j].ttl;
		}
		flat[l->nsets++] = s;
	}
	l->sets = flat;
	l->nrrs = kept;
	return 0;
}

struct ent {
	const uint8_t	*name;		/* a tail of an owner, in the base's owners */
	size_t		 len;
};

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return name_order(x->name, x->len, y->name, y->len);
}

/*
 * Names between the apex and an owner that own nothing themselves answer
 * NODATA, not NXDOMAIN: collect them, sorted and each once.
 */
static struct ent *
load_empty_nonterminals(const struct load *l, size_t apex_len, size_t *count)
{
	struct ent	*ents = NULL;
	size_t		 nents = 0, cap = 0, i, k, out = 0;

	for (i = 0; i < l->nsets; i++) {
		const uint8_t	*name = l->sets[i].owner;
		size_t		 len = l->sets[i].owner_len, off = 0;

		if (i > 0 && name_same(l->sets[i - 1].owner, l->sets[i - 1].owner_len, name, len))
			continue;
		while (name[off] != 0 && len - off > apex_len) {
			off += 1 + name[off];
			if (len - off <= apex_len || load_name_exists(l, name + off, len - off))
				continue;
			if (nents == cap) {
				struct ent *p = realloc(ents, (cap = cap ? cap * 2 : 64) * sizeof(*p));

				if (p == NULL) {
					free(ents);
					return NULL;
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
		ents[out++] = ents[i];
	}
	*count = out;
	return ents != NULL ? ents : malloc(1);
}

/* Count, for every name, the names directly below it. */
static void
version_count_children(struct snapshot *s, struct name_entry *entries, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const uint8_t	*name = entries[i].name;
		size_t		 len = entries[i].name_len, up;
		ssize_t		 at;

		if (name_same(name, len, s->apex, s->apex_len) || name[0] == 0)
			continue;
		up = 1 + name[0];
		if ((at = table_find(s, name + up, len - up)) >= 0)
			SLOT(s, (size_t)at)->children++;
	}
}

static int
load_fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "cannot build the answers: %s", what);
	return -1;
}

struct snapshot *
snapshot_build(const ldns_zone *zone, const char *origin, char *err, size_t errlen)
{
	struct load	 l;
	struct build	 b;
	struct snapshot	*snap;
	struct snap_base *base;
	struct ent	*ents = NULL;
	ldns_rdf	*apex = NULL;
	size_t		 nowners = 0, nents = 0, i, j, k, slots;

	memset(&l, 0, sizeof(l));
	memset(&b, 0, sizeof(b));
	l.zone = zone;
	l.soa = ldns_zone_soa(zone);
	if (l.soa == NULL || ldns_rr_rd_count(l.soa) < 7) {
		snprintf(err, errlen, "the zone has no SOA record");
		return NULL;
	}
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad zone name %s", origin);
		return NULL;
	}
	if ((snap = calloc(1, sizeof(*snap))) == NULL ||
	    (base = calloc(1, sizeof(*base))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(snap);
		ldns_rdf_deep_free(apex);
		return NULL;
	}
	snap->refs = 1;
	snap->base = base;
	base->refs = 1;
	snap->apex_len = rdf_name_lc(apex, snap->apex);
	ldns_rdf_deep_free(apex);
	if ((b.scratch = malloc(SCRATCH_MAX)) == NULL || load_sets(&l) == -1)
		goto oom;
	base->owners = l.names;
	l.names = NULL;
	snap->bytes += l.names_len;
	snap->nrrs = l.nrrs;
	/* One entry per owner name, then the empty non-terminals above them. */
	/* Sets are sorted by owner; equal owners need not be one copy of it. */
	for (i = 0; i < l.nsets; i++)
		nowners += i == 0 || !name_same(l.sets[i].owner, l.sets[i].owner_len,
		    l.sets[i - 1].owner, l.sets[i - 1].owner_len);
	if ((ents = load_empty_nonterminals(&l, snap->apex_len, &nents)) == NULL ||
	    (base->entries = calloc(nowners + nents + 1, sizeof(*base->entries))) == NULL ||
	    (base->sets = calloc(l.nsets + 1, sizeof(*base->sets))) == NULL)
		goto oom;
	base->rrs = l.rrs;
	l.rrs = NULL;
	for (i = 0; i < l.nsets; i++) {
		base->sets[i].rr = &base->rrs[l.sets[i].at];
		base->sets[i].n = (uint16_t)(l.sets[i].n > 65535 ? 65535 : l.sets[i].n);
		base->sets[i].ttl = l.sets[i].ttl;
		base->sets[i].type = l.sets[i].type;
	}
	for (i = 0, k = 0; i < l.nsets; i = j, k++) {
		struct name_entry *ne = &base->entries[k];

		for (j = i + 1; j < l.nsets && name_same(l.sets[j].owner, l.sets[j].owner_len,
		    l.sets[i].owner, l.sets[i].owner_len); j++)
			;
		ne->name = l.sets[i].owner;
		ne->name_len = l.sets[i].owner_len;
		ne->sets = &base->sets[i];
		ne->nsets = (uint16_t)(j - i);
		ne->any = NAME_NO_ANY;
	}
	for (i = 0; i < nents; i++, k++) {
		base->entries[k].name = ents[i].name;
		base->entries[k].name_len = (uint8_t)ents[i].len;
		base->entries[k].any = NAME_NO_ANY;
	}
	snap->nnames = k;
	for (slots = SNAP_PAGE_SLOTS; slots < snap->nnames * 2; slots *= 2)
		;
	for (base->deps_mask = 1023; base->deps_mask < snap->nnames / 2; base->deps_mask = base->deps_mask * 2 + 1)
		;
	if (table_alloc(snap, slots) == -1 ||
	    (base->deps = calloc(base->deps_mask + 1, sizeof(*base->deps))) == NULL)
		goto oom;
	snap->bytes += (slots >> SNAP_PAGE_BITS) * sizeof(struct snap_page) +
	    snap->nnames * sizeof(struct name_entry) + l.nsets * sizeof(struct zset) +
	    l.nrrs * sizeof(ldns_rr *);
	for (i = 0; i < snap->nnames; i++)
		table_put(snap, &base->entries[i]);
	version_count_children(snap, base->entries, snap->nnames);
	{
		const struct zset *soa = entry_set(snapshot_lookup(snap, snap->apex,
		    snap->apex_len), LDNS_RR_TYPE_SOA);

		if (soa == NULL) {
			snprintf(err, errlen, "the zone's SOA record is not at its apex %s", origin);
			goto fail;
		}
		snap->soa_rr = soa->rr[0];
	}
	b.snap = snap;
	b.bytes = &snap->bytes;
	b.soa = snap->soa_rr;
	if (version_build_negative(&b) == -1)
		goto oom;
	b.arena = &base->arena;
	b.chunk = ARENA_CHUNK;
	for (i = 0; i < snap->nnames; i++)
		if (entry_build(&b, &base->entries[i]) == -1)
			goto oom;
	free(ents);
	free(l.sets);
	free(l.rrs);
	free(b.scratch);
	return snap;
oom:
	load_fail(err, errlen, "out of memory or an answer over 64 KB");
fail:
	free(ents);
	free(l.sets);
	free(l.rrs);
	free(l.names);
	free(b.scratch);
	snapshot_free(snap);
	return NULL;
}

/* ---- the next version ---- */

/* Names whose entries a change writes or builds again. */
struct namelist {
	struct nl_name {
		uint8_t	name[256];
		uint8_t	len;
	}	*v;
	size_t	 n, cap;
	int	 failed;
};

static void
nl_add(struct namelist *l, const uint8_t *name, size_t len)
{
	if (l == NULL)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct nl_name *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL) {
			l->failed = 1;
			return;
		}
		l->v = p;
		l->cap = cap;
	}
	memcpy(l->v[l->n].name, name, len);
	l->v[l->n++].len = (uint8_t)len;
}

static int
nl_cmp(const void *a, const void *b)
{
	const struct nl_name *x = a, *y = b;

	return name_order(x->name, x->len, y->name, y->len);
}

/* A new version that shares everything with old. */
static struct snapshot *
version_next(struct snapshot *old)
{
	struct snapshot	*s = malloc(sizeof(*s));
	size_t		 i, npages = (old->table_mask + 1) >> SNAP_PAGE_BITS;

	if (s == NULL)
		return NULL;
	*s = *old;
	s->arena = NULL;
	s->refs = 1;
	if ((s->pages = malloc(npages * sizeof(*s->pages))) == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->pages, old->pages, npages * sizeof(*s->pages));
	for (i = 0; i < npages; i++)
		s->pages[i]->refs++;
	s->base->refs++;
	s->gen = ++s->base->gen;
	return s;
}

/* The entry at slot i, made this version's own to write (and listed in rebuild, if given). */
static struct name_entry *
version_own(struct snapshot *s, size_t i, struct namelist *rebuild)
{
	struct name_entry *e = SLOT(s, i), *c;

	if (e->gen == s->gen && e->own)
		return e;
	if ((c = entry_copy(s, e)) == NULL || slot_set(s, i, c) == -1) {
		if (c != NULL)
			entry_free(c);
		return NULL;
	}
	nl_add(rebuild, c->name, c->name_len);
	return c;
}

static int
name_is_apex(const struct snapshot *s, const uint8_t *name, size_t len)
{
	return name_same(name, len, s->apex, s->apex_len);
}

/* Put e (a new name) in, with an empty non-terminal above it where none is. */
static int
version_insert(struct snapshot *s, struct name_entry *e, struct namelist *rebuild)
{
	const uint8_t	*name = e->name;
	size_t		 len = e->name_len, up;
	ssize_t		 at;
	struct name_entry *p;

	if (table_insert(s, e) == -1)
		return -1;
	nl_add(rebuild, name, len);
	if (name_is_apex(s, name, len) || name[0] == 0)
		return 0;
	up = 1 + name[0];
	if ((at = table_find(s, name + up, len - up)) >= 0) {
		if ((p = version_own(s, (size_t)at, rebuild)) == NULL)
			return -1;
		p->children++;
		return 0;
	}
	if ((p = entry_new(s, name + up, len - up)) == NULL)
		return -1;
	p->children = 1;
	if (version_insert(s, p, rebuild) == -1) {
		if (p->refs == 0)
			entry_free(p);
		return -1;
	}
	return 0;
}

/* Take the name at slot i out, and the empty non-terminals left above it with nothing below. */
static int
version_remove(struct snapshot *s, size_t i, struct namelist *rebuild)
{
	uint8_t		 name[256];
	size_t		 len = SLOT(s, i)->name_len, up;
	ssize_t		 at;
	struct name_entry *p;

	memcpy(name, SLOT(s, i)->name, len);
	if (table_delete(s, i) == -1)
		return -1;
	nl_add(rebuild, name, len);
	if (name_is_apex(s, name, len) || name[0] == 0)
		return 0;
	up = 1 + name[0];
	if ((at = table_find(s, name + up, len - up)) < 0)
		return 0;
	if ((p = version_own(s, (size_t)at, rebuild)) == NULL)
		return -1;
	if (p->children > 0)
		p->children--;
	if (p->children == 0 && p->nsets == 0 && !name_is_apex(s, p->name, p->name_len))
		return version_remove(s, (size_t)at, rebuild);
	return 0;
}

/* Same owner, type, data and TTL. */
static int
rr_same(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) && ldns_rr_ttl(a) == ldns_rr_ttl(b) &&
	    ldns_rr_get_class(a) == ldns_rr_get_class(b) && rr_rdata_cmp(a, b) == 0;
}

/* Clones of the records of a (not the SOA) that b does not hold, onto out. */
static int
rrs_missing(ldns_rr *const *a, size_t na, ldns_rr *const *b, size_t nb, ldns_rr_list *out)
{
	size_t i, k;

	for (i = 0; i < na; i++) {
		ldns_rr *c;

		if (ldns_rr_get_type(a[i]) == LDNS_RR_TYPE_SOA)
			continue;
		for (k = 0; k < nb && !rr_same(a[i], b[k]); k++)
			;
		if (k < nb)
			continue;
		if ((c = ldns_rr_clone(a[i])) == NULL || !ldns_rr_list_push_rr(out, c)) {
			if (c != NULL)
				ldns_rr_free(c);
			return -1;
		}
	}
	return 0;
}

/* The records of an entry as one array (malloc'd, borrowed pointers); n = 0: none. */
static ldns_rr **
entry_records(const struct name_entry *e, size_t *n)
{
	size_t	 i, k, total = 0;
	ldns_rr	**v;

	for (i = 0; e != NULL && i < e->nsets; i++)
		total += e->sets[i].n;
	*n = total;
	if ((v = malloc((total ? total : 1) * sizeof(*v))) == NULL)
		return NULL;
	for (i = 0, total = 0; e != NULL && i < e->nsets; i++)
		for (k = 0; k < e->sets[i].n; k++)
			v[total++] = e->sets[i].rr[k];
	return v;
}

/* What changed at one name, from the entry's records to rrs. */
static int
version_diff_name(const struct name_entry *e, ldns_rr *const *rrs, size_t n,
    ldns_rr_list *removed, ldns_rr_list *added)
{
	size_t	 no;
	ldns_rr	**old = entry_records(e, &no);
	int	 rc = -1;

	if (old != NULL && rrs_missing(old, no, rrs, n, removed) == 0 &&
	    rrs_missing(rrs, n, old, no, added) == 0)
		rc = 0;
	free(old);
	return rc;
}

/* Set the name of the edit to its records in s; the records become s's. */
static int
version_edit_name(struct snapshot *s, struct zone_edit_name *en, struct namelist *rebuild,
    ldns_rr_list *removed, ldns_rr_list *added)
{
	uint8_t			 lc[256];
	size_t			 len = rdf_name_lc(en->owner, lc), n = ldns_rr_list_rr_count(en->rrs);
	size_t			 had = 0, i;
	ssize_t			 at = table_find(s, lc, len);
	struct name_entry	*cur = at >= 0 ? SLOT(s, (size_t)at) : NULL, *e;
	ldns_rr			**v;

	if ((v = malloc((n ? n : 1) * sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = ldns_rr_list_rr(en->rrs, i);
	if (version_diff_name(cur, v, n, removed, added) == -1)
		goto fail;
	for (i = 0; cur != NULL && i < cur->nsets; i++)
		had += cur->sets[i].n;
	if (n == 0) {
		free(v);
		if (cur == NULL || cur->nsets == 0)
			return 0;
		s->nrrs -= had;
		if (cur->children == 0 && !name_is_apex(s, lc, len))
			return version_remove(s, (size_t)at, rebuild);
		/* Names below it remain: an empty non-terminal now. */
		if ((e = entry_new(s, lc, len)) == NULL)
			return -1;
		e->children = cur->children;
		if (slot_set(s, (size_t)at, e) == -1) {
			entry_free(e);
			return -1;
		}
		nl_add(rebuild, lc, len);
		return 0;
	}
	if ((e = entry_new(s, lc, len)) == NULL || entry_set_records(e, v, n) == -1) {
		if (e != NULL)
			entry_free(e);
		goto fail;
	}
	/* The records are the entry's now, not the edit's (the same twice: one). */
	ldns_rr_list_set_rr_count(en->rrs, 0);
	free(v);
	for (i = 0, n = 0; i < e->nsets; i++)
		n += e->sets[i].n;
	s->nrrs = s->nrrs - had + n;
	if (cur != NULL) {
		e->children = cur->children;
		if (slot_set(s, (size_t)at, e) == -1) {
			entry_free(e);
			return -1;
		}
		nl_add(rebuild, lc, len);
		return 0;
	}
	if (version_insert(s, e, rebuild) == -1) {
		if (e->refs == 0)
			entry_free(e);
		return -1;
	}
	return 0;
fail:
	free(v);
	return -1;
}

/* Add the names whose answers read the names listed so far. */
static void
version_add_readers(struct snapshot *s, struct namelist *l)
{
	size_t n = l->n, i;

	for (i = 0; i < n; i++) {
		uint32_t	 h = name_hash(l->v[i].name, l->v[i].len);
		struct dep	*d;

		for (d = s->base->deps[h & s->base->deps_mask]; d != NULL; d = d->next)
			if (d->hash == h && name_same(d->names, d->len, l->v[i].name, l->v[i].len))
				nl_add(l, d->names + d->len, d->dep_len);
	}
}

struct snapshot *
snapshot_apply(struct snapshot *old, struct zone_edit *edit, ldns_rr_list **removed,
    ldns_rr_list **added, char *err, size_t errlen)
{
	struct snapshot		*s = version_next(old);
	struct namelist		 rebuild;
	struct build		 b;
	const struct zset	*soa;
	size_t			 i, k;

	memset(&rebuild, 0, sizeof(rebuild));
	memset(&b, 0, sizeof(b));
	*removed = ldns_rr_list_new();
	*added = ldns_rr_list_new();
	if (s == NULL || *removed == NULL || *added == NULL ||
	    (b.scratch = malloc(SCRATCH_MAX)) == NULL)
		goto oom;
	for (i = 0; i < edit->n; i++)
		if (version_edit_name(s, &edit->names[i], &rebuild, *removed, *added) == -1)
			goto oom;
	soa = entry_set(snapshot_lookup(s, s->apex, s->apex_len), LDNS_RR_TYPE_SOA);
	if (soa == NULL) {
		snprintf(err, errlen, "the change leaves the zone without its SOA record");
		goto fail;
	}
	s->soa_rr = soa->rr[0];
	/* The SOA is in every negative answer: the apex and what reads it. */
	nl_add(&rebuild, s->apex, s->apex_len);
	version_add_readers(s, &rebuild);
	if (rebuild.failed)
		goto oom;
	qsort(rebuild.v, rebuild.n, sizeof(*rebuild.v), nl_cmp);
	b.snap = s;
	b.bytes = &s->bytes;
	if (version_build_negative(&b) == -1)
		goto oom;
	for (i = 0; i < rebuild.n; i = k) {
		ssize_t			 at = table_find(s, rebuild.v[i].name, rebuild.v[i].len);
		struct name_entry	*e;

		for (k = i + 1; k < rebuild.n && nl_cmp(&rebuild.v[i], &rebuild.v[k]) == 0; k++)
			;
		if (at < 0)
			continue;	/* gone from the zone */
		if ((e = version_own(s, (size_t)at, NULL)) == NULL)
			goto oom;
		b.arena = &e->arena;
		b.chunk = ARENA_SMALL;
		if (entry_build(&b, e) == -1)
			goto oom;
	}
	if (rebuild.failed)
		goto oom;
	free(rebuild.v);
	free(b.scratch);
	return s;
oom:
	load_fail(err, errlen, "out of memory or an answer over 64 KB");
fail:
	free(rebuild.v);
	free(b.scratch);
	snapshot_free(s);
	ldns_rr_list_deep_free(*removed);
	ldns_rr_list_deep_free(*added);
	*removed = *added = NULL;
	return NULL;
}

/* ---- reading a version whole ---- */

int
snapshot_name_rrs(const struct snapshot *snap, const ldns_rdf *owner, ldns_rr_list *out)
{
	uint8_t			 lc[256];
	size_t			 len = rdf_name_lc(owner, lc), i, k;
	const struct name_entry	*e = snapshot_lookup(snap, lc, len);

	for (i = 0; e != NULL && i < e->nsets; i++)
		for (k = 0; k < e->sets[i].n; k++)
			if (!ldns_rr_list_push_rr(out, e->sets[i].rr[k]))
				return -1;
	return 0;
}

static int
rr_owner_type_cmp(const void *a, const void *b)
{
	const ldns_rr	*x = *(ldns_rr *const *)a, *y = *(ldns_rr *const *)b;
	int		 c = ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(y));

	if (c != 0)
		return c;
	return (int)ldns_rr_get_type(x) - (int)ldns_rr_get_type(y);
}

ldns_zone *
snapshot_zone_view(const struct snapshot *snap, int sorted)
{
	ldns_zone	*z = ldns_zone_new();
	ldns_rr		**v;
	size_t		 i, k, m, n = 0;

	if (z == NULL || (v = malloc((snap->nrrs + 1) * sizeof(*v))) == NULL) {
		if (z != NULL)
			ldns_zone_free(z);
		return NULL;
	}
	ldns_zone_set_soa(z, (ldns_rr *)(uintptr_t)snap->soa_rr);
	for (i = 0; i <= snap->table_mask; i++) {
		const struct name_entry *e = SLOT(snap, i);

		for (k = 0; e != NULL && k < e->nsets; k++)
			for (m = 0; m < e->sets[k].n; m++)
				if (e->sets[k].type != LDNS_RR_TYPE_SOA && n < snap->nrrs)
					v[n++] = e->sets[k].rr[m];
	}
	if (sorted)
		qsort(v, n, sizeof(*v), rr_owner_type_cmp);
	for (i = 0; i < n; i++)
		if (!ldns_rr_list_push_rr(ldns_zone_rrs(z), v[i])) {
			free(v);
			snapshot_zone_view_free(z);
			return NULL;
		}
	free(v);
	return z;
}

void
snapshot_zone_view_free(ldns_zone *view)
{
	if (view == NULL)
		return;
	ldns_zone_set_soa(view, NULL);
	ldns_zone_free(view);
}

int
snapshot_diff(const struct snapshot *old, const struct snapshot *new,
    ldns_rr_list **removed, ldns_rr_list **added)
{
	size_t i;

	*removed = ldns_rr_list_new();
	*added = ldns_rr_list_new();
	if (*removed == NULL || *added == NULL)
		goto fail;
	for (i = 0; i <= new->table_mask; i++) {
		const struct name_entry *e = SLOT(new, i);
		ldns_rr	**v;
		size_t	  n;
		int	  rc;

		if (e == NULL)
			continue;
		if ((v = entry_records(e, &n)) == NULL)
			goto fail;
		rc = version_diff_name(snapshot_lookup(old, e->name, e->name_len), v, n,
		    *removed, *added);
		free(v);
		if (rc == -1)
			goto fail;
	}
	for (i = 0; i <= old->table_mask; i++) {
		const struct name_entry *e = SLOT(old, i);
		ldns_rr	**v;
		size_t	  n;
		int	  rc;

		if (e == NULL || snapshot_lookup(new, e->name, e->name_len) != NULL)
			continue;
		if ((v = entry_records(e, &n)) == NULL)
			goto fail;
		rc = rrs_missing(v, n, NULL, 0, *removed);
		free(v);
		if (rc == -1)
			goto fail;
	}
	return 0;
fail:
	ldns_rr_list_deep_free(*removed);
	ldns_rr_list_deep_free(*added);
	*removed = *added = NULL;
	return -1;
}
