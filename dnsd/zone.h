/*
 * zone.h - the zone's master copy: load, check, create, persist.
 *
 * The zone file is the state of the service (which node is primary is what
 * the zone says). It is read with ldns, checked (SOA and NS at the apex,
 * every name inside the zone, CNAME alone at its name, no CNAME loop, no
 * parenthesis or quote left open), and written back atomically: temp
 * file, fsync, rename, fsync of the folder, in a text that loads back to
 * the same records.
 */
#ifndef REDISFO_ZONE_H
#define REDISFO_ZONE_H

#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

struct conf;

/* Load and check the zone file; errors name the file and line. */
ldns_zone	*zone_load(const char *path, const char *origin, uint32_t default_ttl,
		    char *err, size_t errlen);
/* Check a zone's structure; 0 or -1 with err. */
int		 zone_check(const ldns_zone *z, const char *origin, char *err, size_t errlen);
/*
 * Build the initial zone from the config (SOA, NS, and per service the
 * first node's addresses and the _redisfo TXT) and write it to
 * conf->dns.zone_file if that file does not exist. 1 = created,
 * 0 = already there, -1 = error.
 */
int		 zone_create_if_missing(const struct conf *conf, char *err, size_t errlen);
/* Write z to path atomically and durably; 0 or -1 with err. */
int		 zone_write_atomic(const ldns_zone *z, const char *path, char *err, size_t errlen);
/*
 * Does rr, written to a zone file as zone_write_atomic writes it, read
 * back as the same record (owner, type, class, TTL, data to the octet)?
 * 0, or -1 with why. Whatever the server takes in (a loaded zone, an
 * UPDATE) must pass, so that what it writes always loads again.
 */
int		 zone_rr_roundtrip(const ldns_rr *rr, char *why, size_t whylen);
/* 0 when the folder path is to go in exists; -1 with err naming it. */
int		 zone_file_folder_check(const char *path, char *err, size_t errlen);
uint32_t	 zone_serial(const ldns_zone *z);
/*
 * min(SOA TTL, SOA minimum): how long RFC 2308 lets a resolver cache a
 * NODATA or NXDOMAIN of the zone; 0 without a full SOA.
 */
uint32_t	 zone_negative_ttl(const ldns_rr *soa);
/*
 * Is the negative TTL of the zone whose SOA is soa above limit
 * (dns.negative_ttl)? 1 with a warning in msg naming path, both values and
 * what it costs a switch; 0 when not.
 */
int		 zone_negative_ttl_check(const ldns_rr *soa, const char *path,
		    uint32_t limit, char *msg, size_t msglen);
/*
 * A change to a zone: for each name it touches, every record the name
 * holds afterwards (an empty list: the name is gone). The SOA is a record
 * of the apex like the others. The edit owns its names and records.
 */
struct zone_edit {
	struct zone_edit_name {
		ldns_rdf	*owner;
		ldns_rr_list	*rrs;
	}		*names;
	size_t		 n, cap;
};

/* Add a name with its records (rrs taken, owner copied); 0, or -1 out of memory. */
int		 zone_edit_add(struct zone_edit *e, const ldns_rdf *owner, ldns_rr_list *rrs);
void		 zone_edit_free(struct zone_edit *e);
/*
 * Apply edit to z in place (a copy for tools and tests; the server
 * applies changes to its snapshot). 0, or -1 out of memory.
 */
int		 zone_edit_apply(ldns_zone *z, const struct zone_edit *edit);
/*
 * Why rr may not be in the zone of apex (class, outside, a second SOA,
 * wildcard, delegation, DNAME, CNAME at the apex), or NULL when it may.
 */
const char	*zone_rr_why(const ldns_rr *rr, const ldns_rdf *apex);
/* A hash of a name in wire form that ignores ASCII case (FNV-1a). */
size_t		 zone_name_hash(const ldns_rdf *name);
/* Two names in wire form, equal ignoring ASCII case (a cheap ldns_dname_compare() == 0). */
int		 zone_name_eq(const ldns_rdf *a, const ldns_rdf *b);

#endif
