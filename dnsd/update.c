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
 * the zone file is FORMERR.
 *
 * With dns.negative_ttl_strict, an UPDATE whose new SOA raises the zone's
 * negative TTL, min(SOA TTL, SOA minimum), above dns.negative_ttl is
 * REFUSED: resolvers would keep a NODATA that long after a switch.
 *
 * Replays (RFC 8945 5.2.3): a signed message older than the latest one
 * run gets BADTIME; one seen again while none newer has run gets its
 * first answer and changes nothing. What that takes is kept in the
 * caller's struct update_replay, which this file also reads from and
 * writes to its file beside the zone: it holds no state between messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/util.h"
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
	int				 learned;	/* run the first time: in the replay cache */
	uint8_t				*zone_sec;	/* raw zone section, for the reply */
	size_t				 zone_sec_len;
	ldns_pkt			*pkt;		/* NULL if it did not parse */
	const struct conf_tsig_key	*key;
	struct update_replay		*replay;	/* the caller's */
	struct tsig_state		 st;
	enum tsig_verdict		 tsig_rc;
	char				 why[256];	/* why a policy refused it */
	uint32_t			 negative_ttl_max;	/* 0 = no limit */
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
	const struct update_source *src;
	const ldns_rdf	**names;	/* the names loaded from src, the apex first */
	size_t		 nnames, namecap;
	int		 changed;
	int		 soa_set;	/* the update itself raised the serial */
	int		 failed;	/* out of memory loading a name */
};

/* ---- the replay cache ---- */

#define REPLAY_MAGIC	"redisfo-dns-replay"
#define REPLAY_VERSION	1
#define REPLAY_TIME_MAX	0xffffffffffffull	/* Time Signed is 48 bits */

static struct update_replay_entry *
update_replay_find(struct update_replay *r, const struct tsig_state *st)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->seen[i].mac_len == st->mac_len && st->mac_len > 0 &&
		    memcmp(r->seen[i].mac, st->mac, st->mac_len) == 0)
			return &r->seen[i];
	return NULL;
}

/* Let entry i go; a request it covered is now refused through r->forgotten. */
static void
update_replay_forget(struct update_replay *r, size_t i)
{
	if (r->seen[i].time_signed > r->forgotten)
		r->forgotten = r->seen[i].time_signed;
	r->seen[i] = r->seen[--r->n];
	r->dirty = 1;
}

static void
update_replay_learn(struct update_replay *r, const struct tsig_state *st, int rcode)
{
	struct update_replay_entry *e;

	if (r->n == UPDATE_REPLAY_MAX) {
		size_t oldest = 0;

		for (size_t i = 1; i < r->n; i++)
			if (r->seen[i].time_signed < r->seen[oldest].time_signed)
				oldest = i;
		update_replay_forget(r, oldest);
	}
	e = &r->seen[r->n++];
	e->time_signed = st->time_signed;
	memcpy(e->mac, st->mac, st->mac_len);
	e->mac_len = st->mac_len;
	e->rcode = rcode;
	if (st->time_signed > r->latest)
		r->latest = st->time_signed;
	r->dirty = 1;
}

void
update_replay_note(struct update_replay *r, uint64_t time_signed, const uint8_t *mac,
    size_t mac_len, int rcode)
{
	struct tsig_state st;
	struct update_replay_entry *e;

	if (mac_len == 0 || mac_len > sizeof(st.mac))
		return;
	memset(&st, 0, sizeof(st));
	st.time_signed = time_signed;
	memcpy(st.mac, mac, mac_len);
	st.mac_len = mac_len;
	if ((e = update_replay_find(r, &st)) != NULL)
		e->rcode = rcode;
	else if (time_signed > r->forgotten)
		update_replay_learn(r, &st, rcode);
}

int
update_replay_fact(const struct update_ctx *u, uint64_t *time_signed, uint8_t *mac,
    size_t *mac_len, int *rcode)
{
	const struct update_replay_entry *e;

	if (!u->learned || (e = update_replay_find(u->replay, &u->st)) == NULL)
		return 0;
	*time_signed = e->time_signed;
	memcpy(mac, e->mac, e->mac_len);
	*mac_len = e->mac_len;
	*rcode = e->rcode;
	return 1;
}

int
update_replay_path(const char *zone_file, char *path, size_t len)
{
	int n = snprintf(path, len, "%s.replay", zone_file);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A decimal number of at most max, digits only. */
static int
replay_number(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' || *v > max ? -1 : 0;
}

static int
replay_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "<time signed> <rcode> <MAC in hex>" into e; -1 if it is not that. */
static int
replay_entry_parse(char *line, struct update_replay_entry *e)
{
	char *save = NULL, *t = strtok_r(line, " ", &save), *rc = strtok_r(NULL, " ", &save);
	char *mac = strtok_r(NULL, " ", &save);
	uint64_t v;
	size_t hl;

	if (replay_number(t, REPLAY_TIME_MAX, &e->time_signed) == -1 ||
	    replay_number(rc, DNS_RCODE_MASK, &v) == -1 || mac == NULL ||
	    strtok_r(NULL, " ", &save) != NULL)
		return -1;
	e->rcode = (int)v;
	hl = strlen(mac);
	if (hl == 0 || hl % 2 != 0 || hl / 2 > sizeof(e->mac))
		return -1;
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = replay_hex(mac[2 * i]), lo = replay_hex(mac[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		e->mac[i] = (uint8_t)(hi << 4 | lo);
	}
	e->mac_len = hl / 2;
	return 0;
}

/*
 * The header line, "redisfo-dns-replay 1 zone <zone> latest <time>
 * forgotten <time> entries <n>"; -1 with why when it is not one of ours,
 * or not for origin.
 */
static int
replay_header_parse(char *line, const char *origin, struct update_replay *r,
    uint64_t *count, char *why, size_t whylen)
{
	static const char *const word[] = { REPLAY_MAGIC, NULL, "zone", NULL, "latest",
	    NULL, "forgotten", NULL, "entries", NULL };
	char *tok[10], *save = NULL;
	uint64_t version;
	size_t i;

	for (i = 0; i < 10; i++)
		tok[i] = strtok_r(i == 0 ? line : NULL, " ", &save);
	if (tok[0] == NULL || strcmp(tok[0], REPLAY_MAGIC) != 0) {
		snprintf(why, whylen, "not a replay cache written by redisfo-dns "
		    "(its first line is not \"%s ...\")", REPLAY_MAGIC);
		return -1;
	}
	if (replay_number(tok[1], UINT32_MAX, &version) == -1 || version != REPLAY_VERSION) {
		snprintf(why, whylen, "version %.20s: this redisfo-dns reads version %d",
		    tok[1] ? tok[1] : "(none)", REPLAY_VERSION);
		return -1;
	}
	for (i = 0; i < 10; i++)
		if (tok[i] == NULL || (word[i] != NULL && strcmp(tok[i], word[i]) != 0))
			break;
	if (i < 10 || strtok_r(NULL, " ", &save) != NULL) {
		snprintf(why, whylen, "bad header (expected \"%s %d zone <zone> latest "
		    "<time> forgotten <time> entries <n>\")", REPLAY_MAGIC, REPLAY_VERSION);
		return -1;
	}
	if (strcasecmp(tok[3], origin) != 0) {
		snprintf(why, whylen, "written for zone %.255s, not %s", tok[3], origin);
		return -1;
	}
	if (replay_number(tok[5], REPLAY_TIME_MAX, &r->latest) == -1 ||
	    replay_number(tok[7], REPLAY_TIME_MAX, &r->forgotten) == -1 ||
	    replay_number(tok[9], UPDATE_REPLAY_MAX, count) == -1) {
		snprintf(why, whylen, "bad latest, forgotten or entries (times of at most "
		    "48 bits, at most %d entries)", UPDATE_REPLAY_MAX);
		return -1;
	}
	return 0;
}

int
update_replay_load(struct update_replay *r, const char *path, const char *origin,
    char *err, size_t errlen)
{
	FILE		*fp;
	char		 line[512], why[512] = "";
	uint64_t	 count = 0;
	int		 lineno = 0, header = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;	/* the first start: nothing signed yet */
		snprintf(err, errlen, "%s: cannot read the replay cache: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t l = strlen(line);

		lineno++;
		if (l == 0 || line[l - 1] != '\n') {
			snprintf(why, sizeof(why), "%s", feof(fp) ? "the last line is cut short" :
			    "line too long");
			goto out;
		}
		line[l - 1] = '\0';
		if (line[0] == '#')
			continue;
		if (!header) {
			if (replay_header_parse(line, origin, r, &count, why, sizeof(why)) == -1)
				goto out;
			header = 1;
		} else if (r->n == count) {
			snprintf(why, sizeof(why), "more entries than the %" PRIu64 " announced",
			    count);
			goto out;
		} else if (replay_entry_parse(line, &r->seen[r->n]) == -1) {
			snprintf(why, sizeof(why), "not an entry (expected \"<time signed> "
			    "<rcode> <MAC in lower-case hex>\")");
			goto out;
		} else if (r->seen[r->n++].time_signed > r->latest) {
			snprintf(why, sizeof(why), "an entry signed after latest");
			goto out;
		}
	}
	if (ferror(fp)) {
		snprintf(why, sizeof(why), "read error: %s", strerror(errno));
		goto out;
	}
	lineno = 0;
	if (!header)
		snprintf(why, sizeof(why), "no header: not a replay cache written by redisfo-dns");
	else if (r->n != count)
		snprintf(why, sizeof(why), "%zu entries where %" PRIu64 " were announced "
		    "(cut short?)", r->n, count);
	else
		rc = 0;
out:
	fclose(fp);
	if (rc == -1) {
		if (lineno > 0)
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
		else
			snprintf(err, errlen, "%s: %s", path, why);
		memset(r, 0, sizeof(*r));
	}
	return rc;
}

int
update_replay_check(const char *zone_file, const char *origin, char *err, size_t errlen)
{
	struct update_replay	*r = malloc(sizeof(*r));
	char			 path[PATH_MAX];
	int			 rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (update_replay_path(zone_file, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "%.400s: path too long for its replay cache", zone_file);
		rc = -1;
	} else
		rc = update_replay_load(r, path, origin, err, errlen);
	free(r);
	return rc;
}

int
update_replay_save(struct update_replay *r, const char *path, const char *origin,
    uint64_t now, unsigned fudge_max, int sync_folder, char *err, size_t errlen)
{
	struct atomic_file af;

	/* Outside the window TSIG refuses them; forgotten then refuses them too. */
	for (size_t i = 0; i < r->n; )
		if (r->seen[i].time_signed + fudge_max < now)
			update_replay_forget(r, i);
		else
			i++;
	if (atomic_file_open(&af, path, err, errlen) == -1)
		return -1;
	fprintf(af.fp, "# The signed UPDATEs of the last dns.tsig_fudge_max seconds, so that\n"
	    "# none is applied twice, even after a restart. Written by redisfo-dns.\n");
	fprintf(af.fp, "%s %d zone %s latest %" PRIu64 " forgotten %" PRIu64 " entries %zu\n",
	    REPLAY_MAGIC, REPLAY_VERSION, origin, r->latest, r->forgotten, r->n);
	for (size_t i = 0; i < r->n; i++) {
		fprintf(af.fp, "%" PRIu64 " %d ", r->seen[i].time_signed, r->seen[i].rcode);
		for (size_t k = 0; k < r->seen[i].mac_len; k++)
			fprintf(af.fp, "%02x", r->seen[i].mac[k]);
		fputc('\n', af.fp);
	}
	if (atomic_file_commit(&af, sync_folder, err, errlen) == -1)
		return -1;
	r->dirty = 0;
	return 0;
}

void
update_replay_amend(struct update_ctx *u, int rcode)
{
	struct update_replay_entry *e;

	if (u->learned && (e = update_replay_find(u->replay, &u->st)) != NULL &&
	    e->rcode != rcode) {
		e->rcode = rcode;
		u->replay->dirty = 1;
	}
}

/*
 * RFC 8945 5.2.3: is this request, signed and on time, a replay? A
 * request signed before the latest one run is (or is out of order, which
 * no client of ours does); so is one not found that is no newer than an
 * entry let go. Then it gets BADTIME, signed, with our time.
 */
static int
update_replay_refused(struct update_ctx *u, const struct update_replay_entry *seen)
{
	const struct update_replay *r = u->replay;
	unsigned long long t = u->st.time_signed;

	if (t < r->latest && seen != NULL)
		snprintf(u->why, sizeof(u->why), "TSIG BADTIME (a replay: this UPDATE "
		    "ran already, and one signed later since)");
	else if (t < r->latest)
		snprintf(u->why, sizeof(u->why), "TSIG BADTIME (signed at %llu, before "
		    "the latest UPDATE run, signed at %llu: a replay or out of order)", t,
		    (unsigned long long)r->latest);
	else if (seen == NULL && t <= r->forgotten)
		snprintf(u->why, sizeof(u->why), "TSIG BADTIME (signed at %llu, no later "
		    "than UPDATEs the replay cache let go: it may have run)", t);
	else
		return 0;
	u->st.error = TSIG_BADTIME;
	return 1;
}

/* Records in the prerequisite and update sections, from the header. */
static unsigned
update_rr_count(const struct update_ctx *u)
{
	return (unsigned)dns_rd16(u->hdr + DNS_OFF_ANCOUNT) + dns_rd16(u->hdr + DNS_OFF_NSCOUNT);
}

struct update_ctx *
update_begin(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    unsigned fudge_max, struct update_replay *replay, char *err, size_t errlen)
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
	u->tsig_rc = tsig_verify_request(wire, len, key, fudge_max, &u->st);
	if (u->tsig_rc == TSIG_MALFORMED)
		u->st.present = 0;
	/* Only an authenticated message of a bounded size reaches ldns. */
	if (u->tsig_rc == TSIG_OK && update_rr_count(u) <= UPDATE_MAX_RRS &&
	    ldns_wire2pkt(&u->pkt, wire, len) != LDNS_STATUS_OK)
		u->pkt = NULL;
	return u;
}

void
update_limit_negative_ttl(struct update_ctx *u, uint32_t max)
{
	u->negative_ttl_max = max;
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

/* First index + 1 of the chain where name's records are; 0 if none. */
static size_t
work_head(const struct update_work *w, const ldns_rdf *name)
{
	return w->nbucket ? w->bucket[zone_name_hash(name) & (w->nbucket - 1)] : 0;
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
	size_t h = zone_name_hash(ldns_rr_owner(w->rr[i])) & (w->nbucket - 1);

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
	free(w->names);
	free(w->rr);
	free(w->next);
	free(w->bucket);
	if (w->soa)
		ldns_rr_free(w->soa);
	memset(w, 0, sizeof(*w));
}

static int
work_loaded(const struct update_work *w, const ldns_rdf *name)
{
	for (size_t i = 0; i < w->nnames; i++)
		if (zone_name_eq(w->names[i], name))
			return 1;
	return 0;
}

/*
 * Bring the records at name (not the SOA, held apart) into the work,
 * once: the work holds only the names the message names, and the apex.
 */
static int
work_load_name(struct update_work *w, const ldns_rdf *name)
{
	ldns_rr_list *l;
	int rc = 0;

	if (work_loaded(w, name))
		return 0;
	if (w->nnames == w->namecap) {
		size_t cap = w->namecap ? w->namecap * 2 : 16;
		const ldns_rdf **v = realloc(w->names, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		w->names = v;
		w->namecap = cap;
	}
	w->names[w->nnames++] = name;
	if ((l = ldns_rr_list_new()) == NULL)
		return -1;
	if (w->src->name_rrs(w->src->arg, name, l) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i), *c;

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			continue;
		if ((c = ldns_rr_clone(rr)) == NULL || work_push(w, c) < 0) {
			if (c != NULL)
				ldns_rr_free(c);
			rc = -1;
		}
	}
	ldns_rr_list_free(l);
	return rc;
}

static int
work_load_section(struct update_work *w, const ldns_rr_list *l)
{
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++)
		if (work_load_name(w, ldns_rr_owner(ldns_rr_list_rr(l, i))) < 0)
			return -1;
	return 0;
}

static int
work_load(struct update_work *w, const struct update_source *src, const ldns_rdf *apex,
    const ldns_pkt *pkt)
{
	const ldns_rr *soa = src->soa(src->arg);

	memset(w, 0, sizeof(*w));
	w->apex = apex;
	w->src = src;
	if (soa == NULL || (w->soa = ldns_rr_clone(soa)) == NULL)
		return -1;
	if (work_load_name(w, apex) < 0 || work_load_section(w, ldns_pkt_answer(pkt)) < 0 ||
	    work_load_section(w, ldns_pkt_authority(pkt)) < 0)
		return -1;
	return 0;
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

/* The records the work holds at name, taken out of it (the SOA with the apex's). */
static ldns_rr_list *
work_take_name(struct update_work *w, const ldns_rdf *name)
{
	ldns_rr_list *l = ldns_rr_list_new();

	if (l == NULL)
		return NULL;
	if (zone_name_eq(name, w->apex)) {
		if (!ldns_rr_list_push_rr(l, w->soa))
			goto fail;
		w->soa = NULL;
	}
	for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1]) {
		ldns_rr *z = work_at(w, j, name);

		if (z == NULL)
			continue;
		if (!ldns_rr_list_push_rr(l, z))
			goto fail;
		w->rr[j - 1] = NULL;
	}
	return l;
fail:
	ldns_rr_list_deep_free(l);
	return NULL;
}

/* Does the work hold at name just what src holds (TTLs included)? */
static int
work_name_unchanged(const struct update_work *w, const ldns_rdf *name)
{
	ldns_rr_list	*l = ldns_rr_list_new();
	size_t		 n = 0, had = 0;
	int		 same = l != NULL && w->src->name_rrs(w->src->arg, name, l) == 0;

	for (size_t j = work_head(w, name); same && j != 0; j = w->next[j - 1]) {
		ldns_rr *z = work_at(w, j, name);
		int found = 0;

		if (z == NULL)
			continue;
		n++;
		for (size_t i = 0; !found && i < ldns_rr_list_rr_count(l); i++) {
			ldns_rr *o = ldns_rr_list_rr(l, i);

			found = rr_same_data(o, z) && ldns_rr_ttl(o) == ldns_rr_ttl(z);
		}
		same = found;
	}
	for (size_t i = 0; same && i < ldns_rr_list_rr_count(l); i++)
		had += ldns_rr_get_type(ldns_rr_list_rr(l, i)) != LDNS_RR_TYPE_SOA;
	if (l != NULL)
		ldns_rr_list_free(l);
	return same && n == had;
}

/* The change as an edit: every name whose records differ, and the apex (its SOA). */
static int
work_to_edit(struct update_work *w, struct zone_edit *edit)
{
	for (size_t i = 0; i < w->nnames; i++) {
		ldns_rr_list *l;

		if (i > 0 && work_name_unchanged(w, w->names[i]))
			continue;
		if ((l = work_take_name(w, w->names[i])) == NULL)
			return -1;
		if (zone_edit_add(edit, w->names[i], l) < 0) {
			ldns_rr_list_deep_free(l);
			return -1;
		}
	}
	return 0;
}

/*
 * The name the CNAME at name points to after the change: in the edit (the
 * records of the names it changes are there, no longer in the work), the
 * work, or the zone; NULL: none.
 */
static ldns_rdf *
work_cname_target(const struct update_work *w, const struct zone_edit *edit,
    const ldns_rdf *name)
{
	ldns_rdf	*target = NULL;
	ldns_rr_list	*l;

	for (size_t i = 0; i < edit->n; i++) {
		if (!zone_name_eq(edit->names[i].owner, name))
			continue;
		for (size_t k = 0; k < ldns_rr_list_rr_count(edit->names[i].rrs); k++) {
			const ldns_rr *rr = ldns_rr_list_rr(edit->names[i].rrs, k);

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME)
				return ldns_rdf_clone(ldns_rr_rdf(rr, 0));
		}
		return NULL;
	}
	if (work_loaded(w, name)) {
		for (size_t j = work_head(w, name); j != 0; j = w->next[j - 1]) {
			ldns_rr *z = work_at(w, j, name);

			if (z != NULL && ldns_rr_get_type(z) == LDNS_RR_TYPE_CNAME)
				return ldns_rdf_clone(ldns_rr_rdf(z, 0));
		}
		return NULL;
	}
	if ((l = ldns_rr_list_new()) == NULL)
		return NULL;
	if (w->src->name_rrs(w->src->arg, name, l) == 0)
		for (size_t i = 0; target == NULL && i < ldns_rr_list_rr_count(l); i++)
			if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == LDNS_RR_TYPE_CNAME)
				target = ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(l, i), 0));
	ldns_rr_list_free(l);
	return target;
}

#define CNAME_WALK_MAX	64

/*
 * What a zone check says of the zone after the change, asked only of the
 * names it changes: the zone before passed it. 0, or -1 with why.
 */
static int
work_check(const struct update_work *w, const struct zone_edit *edit, char *why, size_t whylen)
{
	for (size_t i = 0; i < edit->n; i++) {
		const ldns_rr_list *l = edit->names[i].rrs;
		int cname = 0, other = 0, ns = 0;

		for (size_t k = 0; k < ldns_rr_list_rr_count(l); k++) {
			const ldns_rr *rr = ldns_rr_list_rr(l, k);
			const char *bad = zone_rr_why(rr, w->apex);

			if (bad != NULL) {
				char *owner = ldns_rdf2str(ldns_rr_owner(rr));

				snprintf(why, whylen, "%.200s type %u: %s", owner ? owner : "?",
				    ldns_rr_get_type(rr), bad);
				free(owner);
				return -1;
			}
			cname += ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME;
			other += ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME;
			ns += ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS;
		}
		if (cname && other) {
			snprintf(why, whylen, "a CNAME must be the only record at its name");
			return -1;
		}
		if (zone_name_eq(edit->names[i].owner, w->apex) && ns == 0) {
			snprintf(why, whylen, "the zone apex would have no NS record");
			return -1;
		}
		if (cname) {
			/* A new loop goes through a changed name: walk from each. */
			ldns_rdf *cur = work_cname_target(w, edit, edit->names[i].owner), *next;

			for (size_t hops = 0; cur != NULL && hops < CNAME_WALK_MAX; hops++) {
				if (zone_name_eq(cur, edit->names[i].owner)) {
					ldns_rdf_deep_free(cur);
					snprintf(why, whylen, "a CNAME loop, no name on it has an answer");
					return -1;
				}
				next = work_cname_target(w, edit, cur);
				ldns_rdf_deep_free(cur);
				cur = next;
			}
			if (cur != NULL)
				ldns_rdf_deep_free(cur);
		}
	}
	return 0;
}

/* A signed request on time, run for the first time: its answer. */
static int
update_apply_message(struct update_ctx *u, const struct update_source *src, const char *origin,
    struct zone_edit *edit)
{
	struct update_work w;
	ldns_rdf *apex = NULL;
	ldns_rr *zrr;
	int rc;

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
	if (work_load(&w, src, apex, u->pkt) < 0) {
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
		/*
		 * dns.negative_ttl_strict: a new SOA may not make resolvers
		 * cache NODATA longer than the limit, unless it lowers a zone
		 * that is above it already (a serial bump must still pass).
		 */
		if (rc == DNS_RCODE_NOERROR && w.soa_set && u->negative_ttl_max > 0) {
			uint32_t neg = zone_negative_ttl(w.soa);
			uint32_t was = zone_negative_ttl(src->soa(src->arg));

			if (neg > u->negative_ttl_max && neg > was) {
				snprintf(u->why, sizeof(u->why), "the new SOA's negative TTL, "
				    "min(TTL %u, minimum %u) = %u, is above dns.negative_ttl %u "
				    "(dns.negative_ttl_strict)", ldns_rr_ttl(w.soa),
				    ldns_rdf2native_int32(ldns_rr_rdf(w.soa, 6)), neg,
				    u->negative_ttl_max);
				rc = DNS_RCODE_REFUSED;
			}
		}
		if (rc == DNS_RCODE_NOERROR && work_to_edit(&w, edit) < 0)
			rc = DNS_RCODE_SERVFAIL;
		/*
		 * What we serve is narrower than what RFC 2136 lets one write
		 * (no delegations, wildcards, DNAME): such an update is refused,
		 * so a zone we hand back always loads again after a restart.
		 */
		if (rc == DNS_RCODE_NOERROR && work_check(&w, edit, u->why, sizeof(u->why)) < 0)
			rc = DNS_RCODE_REFUSED;
		if (rc != DNS_RCODE_NOERROR)
			zone_edit_free(edit);
	}
	work_free(&w);
	ldns_rdf_deep_free(apex);
	return rc;
}

int
update_run_edit(struct update_ctx *u, const struct update_source *src, const char *origin,
    struct zone_edit *edit)
{
	const struct update_replay_entry *seen;
	int rc;

	memset(edit, 0, sizeof(*edit));
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
		    u->tsig_rc == TSIG_BADTIME ? "BADTIME (clock off by more than the fudge or "
		    "dns.tsig_fudge_max)" :
		    u->tsig_rc == TSIG_BADTRUNC ? "BADTRUNC (truncated MAC)" :
		    "error");
		return DNS_RCODE_NOTAUTH;
	}
	seen = update_replay_find(u->replay, &u->st);
	if (update_replay_refused(u, seen))
		return DNS_RCODE_NOTAUTH;
	if (seen != NULL) {
		snprintf(u->why, sizeof(u->why), "the same signed UPDATE again, "
		    "answered as the first time and not applied twice");
		return seen->rcode;
	}
	rc = update_apply_message(u, src, origin, edit);
	update_replay_learn(u->replay, &u->st, rc);
	u->learned = 1;
	return rc;
}

/* A source that is an ldns zone, indexed by owner once (for tools and tests). */
struct zone_src {
	const ldns_zone	*zone;
	size_t		*bucket;	/* index + 1 of the first record, 0 = none */
	size_t		*next;
	size_t		 mask;
};

static int
zone_src_init(struct zone_src *zs, const ldns_zone *zone)
{
	const ldns_rr_list	*l = ldns_zone_rrs(zone);
	size_t			 n = l ? ldns_rr_list_rr_count(l) : 0, size = 64;

	memset(zs, 0, sizeof(*zs));
	zs->zone = zone;
	while (size < n * 2)
		size *= 2;
	zs->mask = size - 1;
	if ((zs->bucket = calloc(size, sizeof(*zs->bucket))) == NULL ||
	    (zs->next = calloc(n + 1, sizeof(*zs->next))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t h = zone_name_hash(ldns_rr_owner(ldns_rr_list_rr(l, i))) & zs->mask;

		zs->next[i] = zs->bucket[h];
		zs->bucket[h] = i + 1;
	}
	return 0;
}

static int
zone_src_name_rrs(void *arg, const ldns_rdf *owner, ldns_rr_list *out)
{
	const struct zone_src	*zs = arg;
	const ldns_rr_list	*l = ldns_zone_rrs(zs->zone);
	const ldns_rr		*soa = ldns_zone_soa(zs->zone);

	if (soa != NULL && zone_name_eq(ldns_rr_owner(soa), owner) &&
	    !ldns_rr_list_push_rr(out, (ldns_rr *)(uintptr_t)soa))
		return -1;
	for (size_t j = zs->bucket[zone_name_hash(owner) & zs->mask]; j != 0; j = zs->next[j - 1]) {
		ldns_rr *rr = ldns_rr_list_rr(l, j - 1);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA && zone_name_eq(ldns_rr_owner(rr), owner) &&
		    !ldns_rr_list_push_rr(out, rr))
			return -1;
	}
	return 0;
}

static const ldns_rr *
zone_src_soa(void *arg)
{
	return ldns_zone_soa(((const struct zone_src *)arg)->zone);
}

int
update_run(struct update_ctx *u, const ldns_zone *zone, const char *origin,
    ldns_zone **new_zone)
{
	struct zone_src		 zs;
	struct update_source	 src = { zone_src_name_rrs, zone_src_soa, &zs };
	struct zone_edit	 edit;
	int			 rc;

	*new_zone = NULL;
	if (zone_src_init(&zs, zone) == -1) {
		free(zs.bucket);
		return DNS_RCODE_SERVFAIL;
	}
	rc = update_run_edit(u, &src, origin, &edit);
	free(zs.bucket);
	free(zs.next);
	if (rc == DNS_RCODE_NOERROR && edit.n > 0) {
		ldns_rr_list *copy = ldns_rr_list_clone(ldns_zone_rrs(zone));
		ldns_rr *soa = ldns_zone_soa(zone) ? ldns_rr_clone(ldns_zone_soa(zone)) : NULL;

		if ((*new_zone = ldns_zone_new()) != NULL) {
			ldns_zone_set_soa(*new_zone, soa);
			ldns_rr_list_deep_free(ldns_zone_rrs(*new_zone));
			ldns_zone_set_rrs(*new_zone, copy);
			soa = NULL;
			copy = NULL;
		}
		if (soa != NULL)
			ldns_rr_free(soa);
		if (copy != NULL)
			ldns_rr_list_deep_free(copy);
		if (*new_zone == NULL || ldns_zone_rrs(*new_zone) == NULL ||
		    zone_edit_apply(*new_zone, &edit) < 0) {
			if (*new_zone != NULL)
				ldns_zone_deep_free(*new_zone);
			*new_zone = NULL;
			rc = DNS_RCODE_SERVFAIL;
			update_replay_amend(u, rc);
		}
	}
	zone_edit_free(&edit);
	return rc;
}
