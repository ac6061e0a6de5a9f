/*
 * snapshot.h - an immutable, precompiled image of the zone for the query
 * fast path.
 *
 * snapshot_build() turns an ldns zone into a hash table of names, each with
 * its records and the complete wire-format answer body (everything after
 * the question) for every query type it can be asked, plus one zone-wide
 * negative answer. A snapshot is never changed after it is published: a
 * change makes a new version beside it (snapshot_apply, which costs what
 * the change touches) and the server swaps the pointer, so readers need
 * no locks.
 */
#ifndef REDISFO_SNAPSHOT_H
#define REDISFO_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

#define ANSWER_MAX_PATCH	4

struct arena_chunk;

/*
 * One precompiled answer: the sections after the question. Name
 * compression is resolved at build time against the question's name at
 * offset 12, except for the zone-wide negative answer, whose pointers to
 * the apex depend on the length of the question's name: their offsets in
 * body are listed in patch[] and filled in per query.
 */
struct answer {
	const uint8_t	*body;
	uint16_t	 len;		/* all sections */
	uint16_t	 len_noadd;	/* without the additional section */
	uint16_t	 ancount, nscount, arcount;
	uint8_t		 rcode;		/* NOERROR or NXDOMAIN */
	uint8_t		 npatch;
	uint16_t	 patch[ANSWER_MAX_PATCH];
	uint16_t	 type;		/* in a name's types: the type it answers */
};

#define NAME_NO_ANY	0xffff

/* An RRset: the records of one owner and type, with the lowest TTL of them. */
struct zset {
	ldns_rr		**rr;
	uint32_t	  ttl;
	uint16_t	  n;
	uint16_t	  type;
};

/*
 * A name: its records and its answers, kept small (a zone of 100,000
 * services has half a million of them). types[0..ntypes) are sorted by
 * type; with has_other, types[ntypes] answers every type not listed (a
 * CNAME's chain). sets[0..nsets) are its records by type; none for an
 * empty non-terminal. An entry is shared by every version of the zone
 * it is in, and never written again once published, but for children,
 * which only the control thread reads, and only in the newest version.
 */
struct name_entry {
	const uint8_t		*name;		/* lower-cased wire form */
	struct answer		*types;
	struct zset		*sets;
	struct arena_chunk	*arena;		/* own: its name, answers and sets */
	uint32_t		 refs;		/* own: the table pages that hold it */
	uint32_t		 children;	/* names directly below it */
	uint32_t		 gen;		/* the version that made it */
	uint16_t		 ntypes;
	uint16_t		 nsets;
	uint16_t		 any;		/* RFC 8482: index in types; NAME_NO_ANY = NODATA */
	uint8_t			 name_len;
	uint8_t			 has_other;
	uint8_t			 own;		/* made by a change, freed alone; else the base's */
};

/* The table is cut in pages of slots, so that a change copies only the pages it writes. */
#define SNAP_PAGE_BITS	9
#define SNAP_PAGE_SLOTS	(1u << SNAP_PAGE_BITS)

struct snap_page {
	uint32_t		 refs;		/* versions whose table holds it */
	struct name_entry	*slot[SNAP_PAGE_SLOTS];
};

struct snap_base;

/*
 * One version of the zone. A change makes a new version that shares every
 * page, entry and answer it does not touch with the one before, and is
 * published by one pointer swap; versions are counted (the server's, the
 * transfers' and the compaction's), and freed when the last goes.
 */
struct snapshot {
	uint8_t			 apex[256];	/* lower-cased wire form */
	size_t			 apex_len;
	uint32_t		 serial;
	size_t			 nnames;	/* empty non-terminals included */
	size_t			 nrrs;		/* records, the SOA included */
	struct snap_page	**pages;	/* open addressing: entry pointers, NULL = empty */
	size_t			 table_mask;	/* slots - 1, a power of two */
	struct answer		 nxdomain;	/* SOA in authority, apex patched */
	struct answer		 nodata;
	struct answer		 soa;		/* apex SOA in the answer section */
	const ldns_rr		*soa_rr;
	size_t			 bytes;		/* memory held, for the log */
	struct arena_chunk	*arena;		/* this version's own: its negative answers */
	struct snap_base	*base;
	uint32_t		 gen;
	unsigned		 refs;
};

/*
 * Build the first version of a zone. Its entries point at zone's
 * records: zone must outlive it, unless handed over by snapshot_own_zone.
 */
struct snapshot		*snapshot_build(const ldns_zone *zone, const char *origin,
			    char *err, size_t errlen);
/* The snapshot frees zone (deeply) with the last version that uses it. */
void			 snapshot_own_zone(struct snapshot *snap, ldns_zone *zone);
/* Count a reference; drop one (the last frees). Control thread only. */
void			 snapshot_ref(struct snapshot *snap);
void			 snapshot_free(struct snapshot *snap);
/* The entry for a lower-cased wire name, or NULL. */
const struct name_entry	*snapshot_lookup(const struct snapshot *snap,
			    const uint8_t *name, size_t len);
/* The answer for qtype at a name (never NULL: falls back to NODATA). */
const struct answer	*snapshot_answer(const struct snapshot *snap,
			    const struct name_entry *ne, uint16_t qtype);
/* The records at owner (any case), pushed onto out as borrowed pointers. */
int			 snapshot_name_rrs(const struct snapshot *snap, const ldns_rdf *owner,
			    ldns_rr_list *out);
/*
 * The zone as an ldns zone whose records are the version's own (borrowed:
 * free it with snapshot_zone_view_free, while snap is still held), sorted
 * by owner then type when sorted is set.
 */
ldns_zone		*snapshot_zone_view(const struct snapshot *snap, int sorted);
void			 snapshot_zone_view_free(ldns_zone *view);

struct zone_edit;

/*
 * The next version: old (the newest) with edit's names holding edit's
 * records, their answers and those that read them built again. edit's
 * records become the new version's. removed and added (new lists, SOAs
 * left out) say what changed, for IXFR and the journal. NULL with err on
 * failure, old unchanged.
 */
struct snapshot		*snapshot_apply(struct snapshot *old, struct zone_edit *edit,
			    ldns_rr_list **removed, ldns_rr_list **added, char *err, size_t errlen);
/* What went from old to new, whole zones compared (a reload). 0, or -1 out of memory. */
int			 snapshot_diff(const struct snapshot *old, const struct snapshot *new,
			    ldns_rr_list **removed, ldns_rr_list **added);

#endif
