/*
 * tsig.c - RFC 8945 transaction signatures for the server side: verify the
 * TSIG of a request, and append a TSIG to a reply (signed, or unsigned and
 * carrying an error), chaining MACs over the messages of a zone transfer.
 *
 * It works on wire-format messages directly (bounded parsing, no ldns
 * packet), so the same code serves UPDATE, transfers and signed queries,
 * and so the error cases (BADKEY, BADSIG, BADTIME) are answered exactly as
 * the RFC says. The HMAC is OpenSSL's one-shot HMAC() over a digest buffer
 * built here. It never trusts a length it has not checked against the
 * message, and it never signs with a key the request did not name.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "dnsd/wire.h"

#define TSIG_FUDGE	300	/* the fudge our replies carry */

/* The algorithms we know: config name, wire name (presentation), digest. */
static const struct tsig_alg {
	const char	*conf_name;
	const char	*dname;
	const EVP_MD	*(*md)(void);
} tsig_algs[] = {
	{ "hmac-md5",    "hmac-md5.sig-alg.reg.int.", EVP_md5 },
	{ "hmac-sha1",   "hmac-sha1.",   EVP_sha1 },
	{ "hmac-sha224", "hmac-sha224.", EVP_sha224 },
	{ "hmac-sha256", "hmac-sha256.", EVP_sha256 },
	{ "hmac-sha384", "hmac-sha384.", EVP_sha384 },
	{ "hmac-sha512", "hmac-sha512.", EVP_sha512 },
};

/* A key ready to use: decoded secret, digest, canonical names. */
struct tsig_key_ready {
	const EVP_MD	*md;
	uint8_t		 secret[192];
	int		 secret_len;
	uint8_t		 name[256];		/* canonical wire form */
	size_t		 name_len;
	uint8_t		 alg[256];
	size_t		 alg_len;
};

/* Prepare key; -1 if there is none or it cannot be used. */
static int
tsig_key_prepare(const struct conf_tsig_key *key, struct tsig_key_ready *k)
{
	const struct tsig_alg *alg = NULL;
	unsigned char b64[sizeof(key->secret) + 4];
	size_t slen;
	int n;

	if (key == NULL || key->name[0] == '\0')
		return -1;
	for (size_t i = 0; i < sizeof(tsig_algs) / sizeof(tsig_algs[0]); i++)
		if (strcasecmp(key->algorithm, tsig_algs[i].conf_name) == 0 ||
		    strcasecmp(key->algorithm, tsig_algs[i].dname) == 0)
			alg = &tsig_algs[i];
	if (alg == NULL)
		return -1;
	k->md = alg->md();
	if ((k->name_len = dns_name_from_text(key->name, k->name)) == 0 ||
	    (k->alg_len = dns_name_from_text(alg->dname, k->alg)) == 0)
		return -1;
	dns_name_lower(k->name, k->name, k->name_len);
	dns_name_lower(k->alg, k->alg, k->alg_len);
	/* Base64, padding optional. */
	slen = strlen(key->secret);
	if (slen == 0 || slen + 3 >= sizeof(b64) || (slen + 3) / 4 * 3 > sizeof(k->secret))
		return -1;
	memcpy(b64, key->secret, slen);
	while (slen % 4 != 0)
		b64[slen++] = '=';
	b64[slen] = '\0';
	n = EVP_DecodeBlock(k->secret, b64, (int)slen);
	if (n < 0)
		return -1;
	if (b64[slen - 1] == '=')
		n--;
	if (b64[slen - 2] == '=')
		n--;
	k->secret_len = n;
	return 0;
}

/* Append the TSIG variables (RFC 8945 4.3.3) to d; returns bytes added. */
static size_t
tsig_vars_put(uint8_t *d, const uint8_t *key_name, size_t key_len,
    const uint8_t *alg, size_t alg_len, uint64_t t, uint16_t fudge,
    uint16_t error, const uint8_t *other, uint16_t other_len)
{
	size_t o = 0;

	memcpy(d + o, key_name, key_len);
	dns_name_lower(d + o, d + o, key_len);
	o += key_len;
	dns_wr16(d + o, DNS_CLASS_ANY);
	o += 2;
	memset(d + o, 0, 4);
	o += 4;
	memcpy(d + o, alg, alg_len);
	dns_name_lower(d + o, d + o, alg_len);
	o += alg_len;
	dns_wr48(d + o, t);
	o += 6;
	dns_wr16(d + o, fudge);
	o += 2;
	dns_wr16(d + o, error);
	o += 2;
	dns_wr16(d + o, other_len);
	o += 2;
	if (other_len)
		memcpy(d + o, other, other_len);
	return o + other_len;
}

/* The TSIG record that ends a message, as read from the wire. */
struct tsig_rr {
	size_t		 start;		/* offset of the record: what is signed ends here */
	uint16_t	 arcount;
	uint8_t		 name[DNS_NAME_MAX];	/* the key's, wire form */
	size_t		 name_len;
	uint8_t		 alg[DNS_NAME_MAX];
	size_t		 alg_len;
	uint64_t	 time;
	uint16_t	 fudge, mac_size, orig_id, error, other_len;
	const uint8_t	*mac, *other;
};

/*
 * Find the TSIG of wire, which must be its last record, and read it into
 * r. TSIG_NONE when the message has none, TSIG_MALFORMED when the message
 * or the record does not parse (or a TSIG stands elsewhere), else TSIG_OK.
 */
static enum tsig_verdict
tsig_rr_read(const uint8_t *wire, size_t len, struct tsig_rr *r)
{
	size_t		off = DNS_HEADER_LEN, rdend, skipped_len;
	uint8_t		skipped[DNS_NAME_MAX];
	uint16_t	qd, an, ns;

	memset(r, 0, sizeof(*r));
	if (len < DNS_HEADER_LEN)
		return TSIG_MALFORMED;
	qd = dns_rd16(wire + DNS_OFF_QDCOUNT);
	an = dns_rd16(wire + DNS_OFF_ANCOUNT);
	ns = dns_rd16(wire + DNS_OFF_NSCOUNT);
	r->arcount = dns_rd16(wire + DNS_OFF_ARCOUNT);
	if (r->arcount == 0)
		return TSIG_NONE;
	/* Every name is read, pointers followed: a bad one is FORMERR here. */
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(wire, len, &off, skipped, &skipped_len) < 0 || off + 4 > len)
			return TSIG_MALFORMED;
		off += 4;
	}
	for (unsigned i = 0; i < (unsigned)an + ns + r->arcount - 1u; i++) {
		if (dns_name_read(wire, len, &off, skipped, &skipped_len) < 0 || off + 10 > len)
			return TSIG_MALFORMED;
		if (dns_rd16(wire + off) == DNS_TYPE_TSIG)
			return TSIG_MALFORMED;	/* a TSIG that is not the last record */
		off += 10 + (size_t)dns_rd16(wire + off + 8);
		if (off > len)
			return TSIG_MALFORMED;
	}
	r->start = off;
	if (dns_name_read(wire, len, &off, r->name, &r->name_len) < 0 || off + 10 > len)
		return TSIG_MALFORMED;
	if (dns_rd16(wire + off) != DNS_TYPE_TSIG)
		return TSIG_NONE;
	if (dns_rd16(wire + off + 2) != DNS_CLASS_ANY || dns_rd16(wire + off + 4) != 0 ||
	    dns_rd16(wire + off + 6) != 0)
		return TSIG_MALFORMED;
	rdend = off + 10 + dns_rd16(wire + off + 8);
	off += 10;
	if (rdend != len)
		return TSIG_MALFORMED;
	/* The algorithm name must not be compressed, but accept it if it is. */
	if (dns_name_read(wire, len, &off, r->alg, &r->alg_len) < 0 || off + 10 > rdend)
		return TSIG_MALFORMED;
	r->time = dns_rd48(wire + off);
	r->fudge = dns_rd16(wire + off + 6);
	r->mac_size = dns_rd16(wire + off + 8);
	off += 10;
	if (off + r->mac_size + 6 > rdend)
		return TSIG_MALFORMED;
	r->mac = wire + off;
	off += r->mac_size;
	r->orig_id = dns_rd16(wire + off);
	r->error = dns_rd16(wire + off + 2);
	r->other_len = dns_rd16(wire + off + 4);
	off += 6;
	if (off + r->other_len != rdend)
		return TSIG_MALFORMED;
	r->other = wire + off;
	return TSIG_OK;
}

int
tsig_signed_without_error(const uint8_t *wire, size_t len)
{
	struct tsig_rr r;

	return tsig_rr_read(wire, len, &r) == TSIG_OK && r.mac_size > 0 && r.error == 0;
}

/*
 * Is r's MAC the one key k gives wire? A reply's digest starts with the
 * request's MAC (prior); a request has none (prior NULL).
 */
static int
tsig_mac_ok(const struct tsig_key_ready *k, const uint8_t *prior, size_t prior_len,
    const uint8_t *wire, const struct tsig_rr *r)
{
	uint8_t		*digest;
	size_t		 dl = 0, full = (size_t)EVP_MD_get_size(k->md);
	unsigned char	 out[EVP_MAX_MD_SIZE];
	unsigned int	 out_len = 0;
	int		 ok;

	if ((digest = malloc(2 + prior_len + r->start + 1024 + r->other_len)) == NULL)
		return 0;
	if (prior != NULL) {
		dns_wr16(digest, (uint16_t)prior_len);
		memcpy(digest + 2, prior, prior_len);
		dl = 2 + prior_len;
	}
	memcpy(digest + dl, wire, r->start);
	dns_wr16(digest + dl + DNS_OFF_ID, r->orig_id);
	dns_wr16(digest + dl + DNS_OFF_ARCOUNT, (uint16_t)(r->arcount - 1));
	dl += r->start;
	dl += tsig_vars_put(digest + dl, r->name, r->name_len, r->alg, r->alg_len, r->time,
	    r->fudge, r->error, r->other, r->other_len);
	ok = HMAC(k->md, k->secret, k->secret_len, digest, dl, out, &out_len) != NULL &&
	    out_len == full && CRYPTO_memcmp(out, r->mac, r->mac_size) == 0;
	free(digest);
	return ok;
}

enum tsig_verdict
tsig_verify_request(const uint8_t *wire, size_t len,
    const struct conf_tsig_key *key, unsigned fudge_max, struct tsig_state *st)
{
	struct tsig_key_ready	k;
	struct tsig_rr		r;
	enum tsig_verdict	v;
	uint64_t		now;
	size_t			full;

	memset(st, 0, sizeof(*st));
	st->error = TSIG_OK;
	if ((v = tsig_rr_read(wire, len, &r)) != TSIG_OK)
		return v;
	memcpy(st->key_name, r.name, r.name_len);
	st->key_name_len = r.name_len;
	memcpy(st->alg_name, r.alg, r.alg_len);
	st->alg_name_len = r.alg_len;
	st->orig_id = r.orig_id;
	st->present = 1;
	st->time_signed = r.time;

	/* RFC 8945 5.2: key, then MAC, then time. */
	if (tsig_key_prepare(key, &k) < 0 ||
	    !dns_name_equal(st->key_name, st->key_name_len, k.name, k.name_len) ||
	    !dns_name_equal(st->alg_name, st->alg_name_len, k.alg, k.alg_len)) {
		st->error = TSIG_BADKEY;
		return TSIG_BADKEY;
	}
	full = (size_t)EVP_MD_get_size(k.md);
	/* RFC 8945 5.2.2.1: longer than the digest, or below half of it. */
	if (r.mac_size > full || r.mac_size > sizeof(st->mac) ||
	    r.mac_size < (full / 2 > 10 ? full / 2 : 10))
		return TSIG_MALFORMED;
	if (!tsig_mac_ok(&k, NULL, 0, wire, &r)) {
		st->error = TSIG_BADSIG;
		return TSIG_BADSIG;
	}
	memcpy(st->mac, r.mac, r.mac_size);
	st->mac_len = r.mac_size;
	/*
	 * RFC 8945 5.2.3, then 5.2.4: the time before the truncation policy.
	 * The window is the client's fudge, but never wider than ours.
	 */
	now = (uint64_t)time(NULL);
	if ((now > r.time ? now - r.time : r.time - now) >
	    (r.fudge < fudge_max ? r.fudge : fudge_max)) {
		st->error = TSIG_BADTIME;
		return TSIG_BADTIME;
	}
	/* A truncated MAC is valid but below our policy (full MACs only). */
	if (r.mac_size < full) {
		st->error = TSIG_BADTRUNC;
		return TSIG_BADTRUNC;
	}
	return TSIG_OK;
}

/*
 * Append the TSIG record of st (its key and algorithm names, original ID
 * and error) with time t, the MAC and other data to the len octets of
 * msg, which has room for max; ARCOUNT grows by one. Returns the new
 * length, or -1 when it does not fit.
 */
static ssize_t
tsig_rr_append(uint8_t *msg, size_t len, size_t max, const struct tsig_state *st,
    uint64_t t, const uint8_t *mac, size_t mac_len, const uint8_t *other, uint16_t other_len)
{
	size_t o = len, rdlen_at;

	if (len + st->key_name_len + 10 + st->alg_name_len + 16 + mac_len + other_len > max)
		return -1;
	memcpy(msg + o, st->key_name, st->key_name_len);
	o += st->key_name_len;
	dns_wr16(msg + o, DNS_TYPE_TSIG);
	dns_wr16(msg + o + 2, DNS_CLASS_ANY);
	memset(msg + o + 4, 0, 4);
	rdlen_at = o + 8;
	o += 10;
	memcpy(msg + o, st->alg_name, st->alg_name_len);
	o += st->alg_name_len;
	dns_wr48(msg + o, t);
	dns_wr16(msg + o + 6, TSIG_FUDGE);
	dns_wr16(msg + o + 8, (uint16_t)mac_len);
	o += 10;
	memcpy(msg + o, mac, mac_len);
	o += mac_len;
	dns_wr16(msg + o, st->orig_id);
	dns_wr16(msg + o + 2, (uint16_t)st->error);
	dns_wr16(msg + o + 4, other_len);
	o += 6;
	if (other_len > 0)
		memcpy(msg + o, other, other_len);
	o += other_len;
	dns_wr16(msg + rdlen_at, (uint16_t)(o - rdlen_at - 2));
	dns_wr16(msg + DNS_OFF_ARCOUNT, (uint16_t)(dns_rd16(msg + DNS_OFF_ARCOUNT) + 1));
	return (ssize_t)o;
}

ssize_t
tsig_sign_reply(uint8_t *reply, size_t len, size_t max,
    const struct conf_tsig_key *key, struct tsig_state *st, int first)
{
	struct tsig_key_ready k;
	uint8_t *digest;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	uint8_t other[6];
	uint16_t other_len = 0;
	uint64_t now = (uint64_t)time(NULL), t = now;
	int sign;
	size_t dl = 0;
	ssize_t n;

	if (!st->present)
		return (ssize_t)len;
	if (len < DNS_HEADER_LEN || len > 65535)
		return -1;
	/* Key and MAC errors go back unsigned; time and truncation signed. */
	sign = (st->error == TSIG_OK || st->error == TSIG_BADTIME ||
	    st->error == TSIG_BADTRUNC) && tsig_key_prepare(key, &k) == 0;
	if (st->error == TSIG_BADTIME) {
		/* RFC 8945 5.2.3: our time in Other Data. */
		t = st->time_signed;
		dns_wr48(other, now);
		other_len = 6;
	}
	if (sign) {
		if ((digest = malloc(len + 1024)) == NULL)
			return -1;
		if (st->mac_len > 0 || first) {
			dns_wr16(digest, (uint16_t)st->mac_len);
			memcpy(digest + 2, st->mac, st->mac_len);
			dl = 2 + st->mac_len;
		}
		memcpy(digest + dl, reply, len);
		dl += len;
		if (first) {
			dl += tsig_vars_put(digest + dl, st->key_name, st->key_name_len,
			    st->alg_name, st->alg_name_len, t, TSIG_FUDGE,
			    (uint16_t)st->error, other, other_len);
		} else {
			dns_wr48(digest + dl, t);
			dns_wr16(digest + dl + 6, TSIG_FUDGE);
			dl += 8;
		}
		if (HMAC(k.md, k.secret, k.secret_len, digest, dl, mac, &mac_len) == NULL) {
			free(digest);
			return -1;
		}
		free(digest);
	}
	/* The record: owner, type, class, TTL, rdlength, rdata. */
	if ((n = tsig_rr_append(reply, len, max, st, t, mac, mac_len, other, other_len)) < 0)
		return -1;
	/* Chain: the next message of a transfer is signed over this MAC. */
	if (sign) {
		memcpy(st->mac, mac, mac_len);
		st->mac_len = mac_len;
	}
	return n;
}

/* ---------------------------------------------------------------------
 * The client side, for the failover's UPDATEs: sign a request, verify
 * its reply (RFC 8945 4.3.1, 5.3.1). Kept apart from the server's code
 * above; it shares only the key preparation and the variables' layout,
 * so every algorithm the config accepts signs the same on both sides.
 */

ssize_t
tsig_sign_request(uint8_t *msg, size_t len, size_t max,
    const struct conf_tsig_key *key, uint64_t now, struct tsig_state *st)
{
	struct tsig_key_ready k;
	uint8_t *digest;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t dl;
	ssize_t n;

	memset(st, 0, sizeof(*st));
	if (len < DNS_HEADER_LEN || len > 65535 || tsig_key_prepare(key, &k) < 0)
		return -1;
	st->present = 1;
	st->orig_id = dns_rd16(msg + DNS_OFF_ID);
	st->time_signed = now;
	memcpy(st->key_name, k.name, k.name_len);
	st->key_name_len = k.name_len;
	memcpy(st->alg_name, k.alg, k.alg_len);
	st->alg_name_len = k.alg_len;
	if ((digest = malloc(len + 1024)) == NULL)
		return -1;
	memcpy(digest, msg, len);
	dl = len + tsig_vars_put(digest + len, k.name, k.name_len, k.alg, k.alg_len,
	    now, TSIG_FUDGE, 0, NULL, 0);
	if (HMAC(k.md, k.secret, k.secret_len, digest, dl, mac, &mac_len) == NULL ||
	    mac_len > sizeof(st->mac)) {
		free(digest);
		return -1;
	}
	free(digest);
	if ((n = tsig_rr_append(msg, len, max, st, now, mac, mac_len, NULL, 0)) < 0)
		return -1;
	memcpy(st->mac, mac, mac_len);
	st->mac_len = mac_len;
	return n;
}

enum tsig_verdict
tsig_verify_reply(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    const struct tsig_state *req, uint64_t now, int *error)
{
	struct tsig_key_ready	k;
	struct tsig_rr		r;
	enum tsig_verdict	v;
	size_t			full;

	*error = 0;
	if ((v = tsig_rr_read(wire, len, &r)) != TSIG_OK)
		return v;
	*error = r.error;
	if (tsig_key_prepare(key, &k) < 0 ||
	    !dns_name_equal(r.name, r.name_len, k.name, k.name_len) ||
	    !dns_name_equal(r.alg, r.alg_len, k.alg, k.alg_len))
		return TSIG_BADKEY;
	full = (size_t)EVP_MD_get_size(k.md);
	if (r.mac_size == 0)
		return TSIG_BADSIG;		/* an unsigned error answer */
	if (r.mac_size != full)
		return TSIG_BADTRUNC;		/* we sent full MACs: expect one back */
	if (!tsig_mac_ok(&k, req->mac, req->mac_len, wire, &r))
		return TSIG_BADSIG;
	if ((now > r.time ? now - r.time : r.time - now) > r.fudge)
		return TSIG_BADTIME;
	return TSIG_OK;
}
