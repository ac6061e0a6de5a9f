/*
 * update.c - RFC 2136 dynamic UPDATE for the served zone, authenticated by
 * RFC 8945 TSIG with dns.update_key.
 *
 * The server's control thread hands us one UPDATE message; we check its
 * TSIG, zone section, prerequisites (RFC 2136 3.2) and update section
 * (3.4), and compute a new zone off to the side from a copy of the current
 * one. We never modify the zone we are given, never touch the served
 * snapshot or the zone file: the server persists the new zone, swaps the
 * snapshot and only then asks us for the reply, so an acknowledged change
 * is durable and visible. Any failure leaves the zone as it was.
 *
 * Policy: an unsigned UPDATE is answered REFUSED (as is any UPDATE when no
 * key is configured): the server does serve the zone, so NOTAUTH ("not
 * authoritative") would point the client at the wrong problem, and RFC 2136
 * 3.3 makes REFUSED the answer to a request the policy forbids. A request
 * signed with an unknown key, a bad MAC or a time outside the fudge gets
 * NOTAUTH with the TSIG error (BADKEY, BADSIG, BADTIME) as RFC 8945 says.
 *
 * Hostile input: nothing reaches ldns's parser before its TSIG verifies;
 * a message of more than 1000 records is refused before it is parsed; the
 * work grows with the zone plus the update, not their product (a name's
 * records are found by hash), so the largest message costs a fraction of a
 * second on a 10,000-service zone; a record that would not read back from
 * the zone file is FORMERR; a signed message seen again gets its first
 * answer and changes nothing (the answers are kept in the caller's
 * struct update_replay: this file holds no state between messages).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "dnsd/update.h"
#include "dnsd/wire.h"
#include "dnsd/zone.h"

/*
 * At most this many prerequisite and update records in one message. The
 * failover sends a handful; the bound keeps the largest message a key
 * holder can send to a fraction of a second on a 10,000-service zone.
 */
#define UPDATE_MAX_RRS	1000

struct update_ctx {
	uint8_t				 hdr[DNS_HEADER_LEN];
	int				 remember;	/* a signed request run: keep its answer */
	uint8_t				*zone_sec;	/* raw zone section, for the reply */
	size_t				 zone_sec_len;
	ldns_pkt			*pkt;		/* NULL if it did not parse */
	const struct conf_tsig_key	*key;
	struct update_replay		*replay;	/* the caller's */
	struct tsig_state		 st;
	enum tsig_verdict		 tsig_rc;
	char				 why[256];	/* why a policy refused it */
};

/*
 * The zone being built: the SOA and every other RR, owned. A deleted RR
 * leaves a NULL slot, so that indices stay valid; the records of a name
 * are found through a hash of owner names (chains of index + 1, 0 ends),
 * so that a large update against a large zone is not a product of both.
 */
struct update_work {
	ldns_rr		*soa;
	ldns_rr		**rr;
	size_t		*next;		/* the next record in the same bucket */
	size_t		 n, cap;
	size_t		*bucket;
	size_t		 nbucket;	/* a power of two */
	const ldns_rdf	*apex;
	int		 changed;
	int		 soa_set;	/* the update itself raised the serial */
};

static const struct update_replay_entry *
update_replay_find(const struct update_replay *r, const struct tsig_state *st)
{
	for (size_t i = 0; i < UPDATE_REPLAY_MAX; i++)
		if (r->seen[i].mac_len == st->mac_len && st->mac_len > 0 &&
		    memcmp(r->seen[i].mac, st->mac, st->mac_len) == 0)
			return &r->seen[i];
	return NULL;
}

static void
update_replay_add(struct update_replay *r, const struct tsig_state *st, int rcode)
{
	struct update_replay_entry *e = &r->seen[r->next];

	memcpy(e->mac, st->mac, st->mac_len);
	e->mac_len = st->mac_len;
	e->rcode = rcode;
	r->next = (r->next + 1) % UPDATE_REPLAY_MAX;
}

/* Records in the prerequisite and update sections, from the header. */
static unsigned
update_rr_count(const struct update_ctx *u)
{
	return (unsigned)dns_rd16(u->hdr + DNS_OFF_ANCOUNT) + dns_rd16(u->hdr + DNS_OFF_NSCOUNT);
}

struct update_ctx *
update_begin(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    struct update_replay *replay, char *err, size_t errlen)
{
	struct update_ctx *u;
	size_t off = DNS_HEADER_LEN;

	if (len < DNS_HEADER_LEN || (wire[DNS_OFF_FLAGS1] & DNS_FLAG_QR)) {
		snprintf(err, errlen, "update: %s", len < DNS_HEADER_LEN ? "short message" :
		    "QR set");
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		snprintf(err, errlen, "update: out of memory");
		return NULL;
	}
	memcpy(u->hdr, wire, DNS_HEADER_LEN);
	u->key = key;
	u->replay = replay;
	/* Keep the zone section as sent when it is one plain name + type/class. */
	if (dns_rd16(wire + DNS_OFF_QDCOUNT) == 1) {
		while (off < len && wire[off] != 0 && (wire[off] & DNS_PTR_MASK) == 0)
			off += (size_t)wire[off] + 1;
		/* A name of at most 255 octets (RFC 1035 3.1), or none echoed. */
		if (off < len && wire[off] == 0 && off + 5 <= len &&
		    off + 1 - DNS_HEADER_LEN <= DNS_NAME_MAX) {
			off += 5;
			if ((u->zone_sec = malloc(off - DNS_HEADER_LEN)) != NULL) {
				memcpy(u->zone_sec, wire + DNS_HEADER_LEN, off - DNS_HEADER_LEN);
				u->zone_sec_len = off - DNS_HEADER_LEN;
			}
		}
	}
	u->tsig_rc = tsig_verify_request(wire, len, key, &u->st);
	if (u->tsig_rc == TSIG_MALFORMED)
		u->st.present = 0;
	/* Only an authenticated message of a bounded size reaches ldns. */
	if (u->tsig_rc == TSIG_OK && update_rr_count(u) <= UPDATE_MAX_RRS &&
	    ldns_wire2pkt(&u->pkt, wire, len) != LDNS_STATUS_OK)
		u->pkt = NULL;
	return u;
}

const ldns_rr_list *
update_section(const struct update_ctx *u)
{
	return u->pkt ? ldns_pkt_authority(u->pkt) : NULL;
}

const char *
update_why(const struct update_ctx *u)
{
	return u->why;
}

void
update_end(struct update_ctx *u)
{
	if (u == NULL)
		return;
	if (u->pkt)
		ldns_pkt_free(u->pkt);
	free(u->zone_sec);
	free(u);
}

int
update_reply(struct update_ctx *u, int rcode, uint8_t **wire, size_t *len)
{
	size_t max = DNS_HEADER_LEN + u->zone_sec_len + 1200, n;
	uint8_t *b;
	ssize_t r;

	if (u->remember) {
		update_replay_add(u->replay, &u->st, rcode);
		u->remember = 0;
	}

	if ((b = calloc(1, max)) == NULL)
		return -1;
	memcpy(b + DNS_OFF_ID, u->hdr + DNS_OFF_ID, 2);
	b[DNS_OFF_FLAGS1] = (uint8_t)(DNS_FLAG_QR |
	    (u->hdr[DNS_OFF_FLAGS1] & DNS_OPCODE_MASK << DNS_OPCODE_SHIFT));
	b[DNS_OFF_FLAGS2] = (uint8_t)(rcode & DNS_RCODE_MASK);
	if (u->zone_sec_len) {
		dns_wr16(b + DNS_OFF_QDCOUNT, 1);
		memcpy(b + DNS_HEADER_LEN, u->zone_sec, u->zone_sec_len);
	}
	n = DNS_HEADER_LEN + u->zone_sec_len;
	if (u->st.present) {
		if ((r = tsig_sign_reply(b, n, max, u->key, &u->st, 1)) < 0) {
			free(b);
			return -1;
		}
		n = (size_t)r;
	}
	*wire = b;
	*len = n;
	return 0;
}

/* RFC 1982: is a greater than b? */
static int
serial_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static int
name_in_zone(const ldns_rdf *name, const ldns_rdf *apex)
{
	return ldns_dname_compare(name, apex) == 0 || ldns_dname_is_subdomain(name, apex);
}

/*
 * Same owner, type and RDATA, TTL and class aside; names inside the RDATA
 * compare ignoring case, as in the canonical form (RFC 4034 6.2), without
 * building copies.
 */
static int
rr_same_data(const ldns_rr *a, const ldns_rr *b)
{
	size_t n = ldns_rr_rd_count(a);

	if (ldns_rr_get_type(a) != ldns_rr_get_type(b) || n != ldns_rr_rd_count(b) ||
	    !zone_name_eq(ldns_rr_owner(a), ldns_rr_owner(b)))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const ldns_rdf *x = ldns_rr_rdf(a, i), *y = ldns_rr_rdf(b, i);

		if (ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME &&
		    ldns_rdf_get_type(y) == LDNS_RDF_TYPE_DNAME) {
			if (!zone_name_eq(x, y))
				return 0;
		} else if (ldns_rdf_size(x) != ldns_rdf_size(y) ||
		    memcmp(ldns_rdf_data(x), ldns_rdf_data(y), ldns_rdf_size(x)) != 0)
			return 0;
	}
	return 1;
}

static size_t
name_hash(const ldns_rdf *name)
{
	const uint8_t *d = ldns_rdf_data(name);
	size_t h = 2166136261u;

	for (size_t i = 0; i < ldns_rdf_size(name); i++) {
		h = (h ^ dns_lower(d[i])) * 16777619u;
	}
	return h;
}

/* First index + 1 of the chain where name's records are; 0 if none. */
static size_t
work_head(const struct update_work *w, const ldns_rdf *name)
{
	return w->nbucket ? w->bucket[name_hash(name) & (w->nbucket - 1)] : 0;
}

/* The record at index + 1 j if it is owned by name, else NULL. */
static ldns_rr *
work_at(const struct update_work *w, size_t j, const ldns_rdf *name)
{
	ldns_rr *z = w->rr[j - 1];

	return z != NULL && zone_name_eq(ldns_rr_owner(z), name) ? z : NULL;
}

static void
work_index(struct update_work *w, size_t i)
{
	size_t h = name_hash(ldns_rr_owner(w->rr[i])) & (w->nbucket - 1);

	w->next[i] = w->bucket[h];
	w->bucket[h] = i + 1;
}

static int
work_push(struct update_work *w, ldns_rr *rr)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		ldns_rr **v = realloc(w->rr, cap * sizeof(*v));
		size_t *nx;

		if (v == NULL)
			return -1;
		w->rr = v;
		if ((nx = realloc(w->next, cap * sizeof(*nx))) == NULL)
			return -1;
		w->next = nx;
		w->cap = cap;
	}
	if ((w->n + 1) * 2 > w->nbucket) {
		size_t nb = w->nbucket ? w->nbucket * 4 : 256, *b = calloc(nb, sizeof(*b));

		if (b == NULL)
			return -1;
		free(w->bucket);
		w->bucket = b;
		w->nbucket = nb;
		for (size_t i = 0; i < w->n; i++)
			if (w->rr[i] != NULL)
				work_index(w, i);
	}
	w->rr[w->n] = rr;
	work_index(w, w->n);
	w->n++;
	return 0;
}

static void
work_remove(struct update_work *w, size_t i)
{
	ldns_rr_free(w->rr[i]);
	w->rr[i] = NULL;
	w->changed = 1;
}

static void
work_free(struct update_work *w)
{
	for (size_t i = 0; i < w->n; i++)
		ldns_rr_free(w->rr[i]);
	free(w->rr);
	free(w->next);
	free(w->bucket);
	if (w->soa)
		ldns_rr_free(w->soa);
	memset(w, 0, sizeof(*w));
}

static int
work_load(struct update_work *w, const ldns_zone *zone, const ldns_rdf *apex)
{
	const ldns_rr_list *l = ldns_zone_rrs(zone);

	memset(w, 0, sizeof(*w));
	w->apex = apex;
	if (ldns_zone_soa(zone) && (w->soa = ldns_rr_clone(ldns_zone_soa(zone))) == NULL)
		return -1;
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i), *c;

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			if (w->soa == NULL && (w->soa = ldns_rr_clone(rr)) == NULL)
				return -1;
			continue;
		}
		if ((c = ldns_rr_clone(rr)) == NULL || work_push(w, c) < 0) {
			ldns_rr_free(c);
			return -1;
		}
	}
	return w->soa ? 0 : -1;
}

/* Does name own any RR (type 0 = any type)? */
static int
work_has(const struct update_work *w, const ldns_rdf *name, ldns_rr_type type)
{
	ldns_rr *z;

	if ((type == 0 || type == LDNS_RR_TYPE_SOA) &&
	    zone_name_eq(ldns_rr_owner(w->soa), name))
		return 1;
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1])
		if ((z = work_at(w, j, name)) != NULL &&
		    (type == 0 || ldns_rr_get_type(z) == type))
			return 1;
	return 0;
}

static int
work_has_other_than(const struct update_work *w, const ldns_rdf *name, ldns_rr_type type)
{
	ldns_rr *z;

	if (zone_name_eq(ldns_rr_owner(w->soa), name) && type != LDNS_RR_TYPE_SOA)
		return 1;
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1])
		if ((z = work_at(w, j, name)) != NULL && ldns_rr_get_type(z) != type)
			return 1;
	return 0;
}

static size_t
work_count(const struct update_work *w, const ldns_rdf *name, ldns_rr_type type)
{
	ldns_rr *z;
	size_t c = 0;

	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1])
		if ((z = work_at(w, j, name)) != NULL && ldns_rr_get_type(z) == type)
			c++;
	return c;
}

/* Is rr (owner, type, RDATA) in the zone? */
static int
work_has_rr(const struct update_work *w, const ldns_rr *rr)
{
	const ldns_rdf *name = ldns_rr_owner(rr);
	ldns_rr *z;

	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && rr_same_data(rr, w->soa))
		return 1;
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1])
		if ((z = work_at(w, j, name)) != NULL && rr_same_data(rr, z))
			return 1;
	return 0;
}

static int
type_is_meta(ldns_rr_type t)
{
	return t == LDNS_RR_TYPE_OPT || t == LDNS_RR_TYPE_TSIG ||
	    t == LDNS_RR_TYPE_TKEY || t == LDNS_RR_TYPE_IXFR ||
	    t == LDNS_RR_TYPE_AXFR || t == LDNS_RR_TYPE_MAILA ||
	    t == LDNS_RR_TYPE_MAILB || t == LDNS_RR_TYPE_ANY;
}

/* RFC 2136 3.2: the prerequisite section, against the current zone. */
static int
update_prereq(const ldns_rr_list *pre, const struct update_work *w)
{
	size_t n = pre ? ldns_rr_list_rr_count(pre) : 0;

	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(pre, i);
		ldns_rr_class c = ldns_rr_get_class(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);
		const ldns_rdf *name = ldns_rr_owner(rr);

		if (ldns_rr_ttl(rr) != 0)
			return DNS_RCODE_FORMERR;
		if (!name_in_zone(name, w->apex))
			return DNS_RCODE_NOTZONE;
		if (c == LDNS_RR_CLASS_ANY) {
			if (ldns_rr_rd_count(rr) != 0)
				return DNS_RCODE_FORMERR;
			if (t == LDNS_RR_TYPE_ANY) {
				if (!work_has(w, name, 0))
					return DNS_RCODE_NXDOMAIN;
			} else if (!work_has(w, name, t))
				return DNS_RCODE_NXRRSET;
		} else if (c == LDNS_RR_CLASS_NONE) {
			if (ldns_rr_rd_count(rr) != 0)
				return DNS_RCODE_FORMERR;
			if (t == LDNS_RR_TYPE_ANY) {
				if (work_has(w, name, 0))
					return DNS_RCODE_YXDOMAIN;
			} else if (work_has(w, name, t))
				return DNS_RCODE_YXRRSET;
		} else if (c == LDNS_RR_CLASS_IN) {
			if (type_is_meta(t))
				return DNS_RCODE_FORMERR;
		} else {
			return DNS_RCODE_FORMERR;
		}
	}
	/*
	 * Value-dependent (class IN): for each name and type named, the zone's
	 * RRset must equal the set of prerequisite RRs, TTLs aside. Each set
	 * is checked once, at its first RR.
	 */
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(pre, i);
		const ldns_rdf *name = ldns_rr_owner(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);
		size_t zone_n = 0;
		int seen = 0;

		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		for (size_t j = 0; !seen && j < i; j++) {
			ldns_rr *p = ldns_rr_list_rr(pre, j);

			seen = ldns_rr_get_class(p) == LDNS_RR_CLASS_IN &&
			    ldns_rr_get_type(p) == t && zone_name_eq(ldns_rr_owner(p), name);
		}
		if (seen)
			continue;
		/* Every prerequisite RR of this set is in the zone... */
		for (size_t j = i; j < n; j++) {
			ldns_rr *p = ldns_rr_list_rr(pre, j);

			if (ldns_rr_get_class(p) != LDNS_RR_CLASS_IN ||
			    ldns_rr_get_type(p) != t || !zone_name_eq(ldns_rr_owner(p), name))
				continue;
			if (!work_has_rr(w, p))
				return DNS_RCODE_NXRRSET;
		}
		/* ...and every zone RR of it is among the prerequisites. */
		if (t == LDNS_RR_TYPE_SOA)
			zone_n = zone_name_eq(ldns_rr_owner(w->soa), name);
		for (size_t k = work_head(w, name); k != 0; k = w->next[k - 1]) {
			ldns_rr *z = work_at(w, k, name);
			int found = 0;

			if (z == NULL || ldns_rr_get_type(z) != t)
				continue;
			zone_n++;
			for (size_t j = i; !found && j < n; j++) {
				ldns_rr *p = ldns_rr_list_rr(pre, j);
				found = ldns_rr_get_class(p) == LDNS_RR_CLASS_IN &&
				    rr_same_data(p, z);
			}
			if (!found)
				return DNS_RCODE_NXRRSET;
		}
		if (zone_n == 0)
			return DNS_RCODE_NXRRSET;
	}
	return DNS_RCODE_NOERROR;
}

/* RFC 2136 3.4.1: check the whole update section before changing anything. */
static int
update_prescan(const ldns_rr_list *up, const ldns_rdf *apex, char *why, size_t whylen)
{
	char detail[160];

	for (size_t i = 0; up && i < ldns_rr_list_rr_count(up); i++) {
		ldns_rr *rr = ldns_rr_list_rr(up, i);
		ldns_rr_class c = ldns_rr_get_class(rr);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (!name_in_zone(ldns_rr_owner(rr), apex))
			return DNS_RCODE_NOTZONE;
		if (c == LDNS_RR_CLASS_IN) {
			const ldns_rr_descriptor *d = ldns_rr_descript(t);

			if (type_is_meta(t))
				return DNS_RCODE_FORMERR;
			/*
			 * ldns reads an empty or short RDATA of a known type
			 * without complaint; added, it would be served as an
			 * A without an address, a CNAME without a target.
			 */
			if (d != NULL && ldns_rr_rd_count(rr) < ldns_rr_descriptor_minimum(d))
				return DNS_RCODE_FORMERR;
			/* What is served must load again from the file it is written to. */
			if (zone_rr_roundtrip(rr, detail, sizeof(detail)) == -1) {
				snprintf(why, whylen, "a %.16s record that cannot be written "
				    "to the zone file and read back the same: %.160s", d != NULL &&
				    d->_name != NULL ? d->_name : "TYPE", detail);
				return DNS_RCODE_REFUSED;
			}
		} else if (c == LDNS_RR_CLASS_ANY) {
			if (ldns_rr_ttl(rr) != 0 || ldns_rr_rd_count(rr) != 0 ||
			    (type_is_meta(t) && t != LDNS_RR_TYPE_ANY))
				return DNS_RCODE_FORMERR;
		} else if (c == LDNS_RR_CLASS_NONE) {
			if (ldns_rr_ttl(rr) != 0 || type_is_meta(t))
				return DNS_RCODE_FORMERR;
		} else {
			return DNS_RCODE_FORMERR;
		}
	}
	return DNS_RCODE_NOERROR;
}

static int
update_add(struct update_work *w, const ldns_rr *rr)
{
	const ldns_rdf *name = ldns_rr_owner(rr);
	ldns_rr_type t = ldns_rr_get_type(rr);
	ldns_rr *c;
	int dup = 0;

	if (t == LDNS_RR_TYPE_SOA) {
		uint32_t cur = ldns_rdf2native_int32(ldns_rr_rdf(w->soa, 2));
		uint32_t nw = ldns_rr_rd_count(rr) == 7 ?
		    ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)) : cur;

		if (!zone_name_eq(name, w->apex) || !serial_gt(nw, cur))
			return 0;
		if ((c = ldns_rr_clone(rr)) == NULL)
			return -1;
		ldns_rr_set_class(c, LDNS_RR_CLASS_IN);
		ldns_rr_free(w->soa);
		w->soa = c;
		w->changed = w->soa_set = 1;
		return 0;
	}
	/* CNAME and other data do not mix (RFC 2136 3.4.2.2): ignore. */
	if (t == LDNS_RR_TYPE_CNAME && work_has_other_than(w, name, LDNS_RR_TYPE_CNAME))
		return 0;
	if (t != LDNS_RR_TYPE_CNAME && work_has(w, name, LDNS_RR_TYPE_CNAME))
		return 0;
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1]) {
		ldns_rr *z = work_at(w, j, name);

		if (z == NULL || ldns_rr_get_type(z) != t)
			continue;
		if (t == LDNS_RR_TYPE_CNAME && !rr_same_data(z, rr)) {
			work_remove(w, j - 1);	/* one CNAME per name: replace it */
			continue;
		}
		if (rr_same_data(z, rr))
			dup = 1;
		/* An RRset has one TTL (RFC 2181 5.2): the newest wins. */
		if (ldns_rr_ttl(z) != ldns_rr_ttl(rr)) {
			ldns_rr_set_ttl(z, ldns_rr_ttl(rr));
			w->changed = 1;
		}
	}
	if (dup)
		return 0;
	if ((c = ldns_rr_clone(rr)) == NULL)
		return -1;
	if (work_push(w, c) < 0) {
		ldns_rr_free(c);
		return -1;
	}
	w->changed = 1;
	return 0;
}

static void
update_delete(struct update_work *w, const ldns_rr *rr)
{
	const ldns_rdf *name = ldns_rr_owner(rr);
	ldns_rr_type t = ldns_rr_get_type(rr);
	int apex = zone_name_eq(name, w->apex);

	if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_ANY) {
		if (apex && (t == LDNS_RR_TYPE_SOA || t == LDNS_RR_TYPE_NS))
			return;
		for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1]) {
			ldns_rr *z = work_at(w, j, name);

			if (z != NULL && (t == LDNS_RR_TYPE_ANY ?
			    !(apex && ldns_rr_get_type(z) == LDNS_RR_TYPE_NS) :
			    ldns_rr_get_type(z) == t))
				work_remove(w, j - 1);
		}
		return;
	}
	/* Class NONE: delete one RR; never the SOA, never the apex's last NS. */
	if (t == LDNS_RR_TYPE_SOA)
		return;
	if (apex && t == LDNS_RR_TYPE_NS && work_count(w, name, t) <= 1)
		return;
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1]) {
		ldns_rr *z = work_at(w, j, name);

		if (z != NULL && rr_same_data(z, rr)) {
			work_remove(w, j - 1);
			return;
		}
	}
}

static int
update_apply(const ldns_rr_list *up, struct update_work *w)
{
	for (size_t i = 0; up && i < ldns_rr_list_rr_count(up); i++) {
		ldns_rr *rr = ldns_rr_list_rr(up, i);

		if (ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN) {
			if (update_add(w, rr) < 0)
				return DNS_RCODE_SERVFAIL;
		} else {
			update_delete(w, rr);
		}
	}
	return DNS_RCODE_NOERROR;
}

static ldns_zone *
work_to_zone(struct update_work *w)
{
	ldns_zone *z = ldns_zone_new();

	if (z == NULL)
		return NULL;
	ldns_zone_set_soa(z, w->soa);
	w->soa = NULL;
	for (size_t i = 0; i < w->n; i++) {
		if (w->rr[i] == NULL)
			continue;
		if (!ldns_zone_push_rr(z, w->rr[i])) {
			ldns_zone_deep_free(z);
			return NULL;		/* work_free frees the rest */
		}
		w->rr[i] = NULL;
	}
	return z;
}

int
update_run(struct update_ctx *u, const ldns_zone *zone, const char *origin,
    ldns_zone **new_zone)
{
	const struct update_replay_entry *seen;
	struct update_work w;
	ldns_rdf *apex = NULL;
	ldns_rr *zrr;
	int rc;

	*new_zone = NULL;
	if (u->tsig_rc == TSIG_MALFORMED) {
		snprintf(u->why, sizeof(u->why), "malformed TSIG record");
		return DNS_RCODE_FORMERR;
	}
	if (u->key == NULL || u->key->name[0] == '\0') {
		snprintf(u->why, sizeof(u->why), "no dns.update_key configured");
		return DNS_RCODE_REFUSED;
	}
	if (u->tsig_rc == TSIG_NONE) {
		snprintf(u->why, sizeof(u->why), "not signed");
		return DNS_RCODE_REFUSED;
	}
	if (u->tsig_rc != TSIG_OK) {
		snprintf(u->why, sizeof(u->why), "TSIG %s",
		    u->tsig_rc == TSIG_BADKEY ? "BADKEY (unknown key or algorithm)" :
		    u->tsig_rc == TSIG_BADSIG ? "BADSIG (wrong MAC)" :
		    u->tsig_rc == TSIG_BADTIME ? "BADTIME (clock off by more than the fudge)" :
		    u->tsig_rc == TSIG_BADTRUNC ? "BADTRUNC (truncated MAC)" :
		    "error");
		return DNS_RCODE_NOTAUTH;
	}
	if ((seen = update_replay_find(u->replay, &u->st)) != NULL) {
		snprintf(u->why, sizeof(u->why), "the same signed UPDATE again, "
		    "answered as the first time and not applied twice");
		return seen->rcode;
	}
	u->remember = 1;
	if (update_rr_count(u) > UPDATE_MAX_RRS) {
		snprintf(u->why, sizeof(u->why), "%u records, more than the %d allowed",
		    update_rr_count(u), UPDATE_MAX_RRS);
		return DNS_RCODE_REFUSED;
	}
	if (u->pkt == NULL) {
		snprintf(u->why, sizeof(u->why), "unparseable message");
		return DNS_RCODE_FORMERR;
	}

	/* RFC 2136 3.1: exactly one zone, of type SOA, ours. */
	if (ldns_pkt_qdcount(u->pkt) != 1 ||
	    (zrr = ldns_rr_list_rr(ldns_pkt_question(u->pkt), 0)) == NULL ||
	    ldns_rr_get_type(zrr) != LDNS_RR_TYPE_SOA)
		return DNS_RCODE_FORMERR;
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK)
		return DNS_RCODE_SERVFAIL;
	if (ldns_rr_get_class(zrr) != LDNS_RR_CLASS_IN ||
	    !zone_name_eq(ldns_rr_owner(zrr), apex)) {
		ldns_rdf_deep_free(apex);
		return DNS_RCODE_NOTAUTH;
	}
	if (work_load(&w, zone, apex) < 0) {
		work_free(&w);
		ldns_rdf_deep_free(apex);
		return DNS_RCODE_SERVFAIL;
	}
	if ((rc = update_prereq(ldns_pkt_answer(u->pkt), &w)) == DNS_RCODE_NOERROR &&
	    (rc = update_prescan(ldns_pkt_authority(u->pkt), apex, u->why,
	    sizeof(u->why))) == DNS_RCODE_NOERROR)
		rc = update_apply(ldns_pkt_authority(u->pkt), &w);
	if (rc == DNS_RCODE_NOERROR && w.changed) {
		/*
		 * RFC 2136 3.6: the serial moves forward with every change, in
		 * RFC 1982 arithmetic: 4294967295 + 1 is 0, a serial like any
		 * other (secondaries compare serials, they do not test them).
		 */
		if (!w.soa_set) {
			uint32_t s = ldns_rdf2native_int32(ldns_rr_rdf(w.soa, 2)) + 1;
			ldns_rdf *r = ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, s);

			if (r == NULL)
				rc = DNS_RCODE_SERVFAIL;
			else
				ldns_rdf_deep_free(ldns_rr_set_rdf(w.soa, r, 2));
		}
		if (rc == DNS_RCODE_NOERROR && (*new_zone = work_to_zone(&w)) == NULL)
			rc = DNS_RCODE_SERVFAIL;
		/*
		 * What we serve is narrower than what RFC 2136 lets one write
		 * (no delegations, wildcards, DNAME): such an update is refused,
		 * so a zone we hand back always loads again after a restart.
		 */
		if (rc == DNS_RCODE_NOERROR &&
		    zone_check(*new_zone, origin, u->why, sizeof(u->why)) < 0) {
			ldns_zone_deep_free(*new_zone);
			*new_zone = NULL;
			rc = DNS_RCODE_REFUSED;
		}
	}
	work_free(&w);
	ldns_rdf_deep_free(apex);
	return rc;
}
