/*
 * snapshot.h - an immutable, precompiled image of the zone for the query
 * fast path.
 *
 * snapshot_build() turns an ldns zone into a hash table of names, each with
 * the complete wire-format answer body (everything after the question) for
 * every query type it can be asked, plus one zone-wide negative answer.
 * A snapshot is never changed after it is built: a zone change builds a new
 * one and swaps the pointer (see server.c), so readers need no locks.
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

/*
 * A name's answers, kept small: a zone of 100,000 services has 200,000
 * of them. types[0..ntypes) are sorted by type; with has_other,
 * types[ntypes] answers every type not listed (a CNAME's chain).
 */
struct name_entry {
	const uint8_t		*name;		/* lower-cased wire form */
	struct answer		*types;
	uint16_t		 ntypes;
	uint16_t		 any;		/* RFC 8482: index in types; NAME_NO_ANY = NODATA */
	uint8_t			 name_len;
	uint8_t			 has_other;
};

struct snapshot {
	uint8_t			 apex[256];	/* lower-cased wire form */
	size_t			 apex_len;
	uint32_t		 serial;
	size_t			 nnames;
	struct name_entry	*names;
	uint32_t		*table;		/* open addressing, power of two: names index + 1; 0 = empty */
	size_t			 table_mask;
	uint8_t			*owners;	/* the names the entries point to */
	struct answer		 nxdomain;	/* SOA in authority, apex patched */
	struct answer		 nodata;
	struct answer		 soa;		/* apex SOA in the answer section */
	size_t			 bytes;		/* memory held, for the log */
	struct arena_chunk	*arena;		/* bodies, names, type tables */
};

struct snapshot		*snapshot_build(const ldns_zone *zone, const char *origin,
			    char *err, size_t errlen);
void			 snapshot_free(struct snapshot *snap);
/* The entry for a lower-cased wire name, or NULL. */
const struct name_entry	*snapshot_lookup(const struct snapshot *snap,
			    const uint8_t *name, size_t len);
/* The answer for qtype at a name (never NULL: falls back to NODATA). */
const struct answer	*snapshot_answer(const struct snapshot *snap,
			    const struct name_entry *ne, uint16_t qtype);

#endif
