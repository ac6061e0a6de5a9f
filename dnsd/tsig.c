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

enum tsig_verdict
tsig_verify_request(const uint8_t *wire, size_t len,
    const struct conf_tsig_key *key, unsigned fudge_max, struct tsig_state *st)
{
	struct tsig_key_ready k;
	size_t off = DNS_HEADER_LEN, tsig_start, rdend, skipped_len;
	uint8_t skipped[DNS_NAME_MAX];
	uint16_t qd, an, ns, ar, fudge, mac_size, error, other_len;
	const uint8_t *mac, *other;
	uint64_t t, now;
	size_t full;
	uint8_t *digest;
	size_t dl;
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int out_len = 0;
	int bad;

	memset(st, 0, sizeof(*st));
	st->error = TSIG_OK;
	if (len < DNS_HEADER_LEN)
		return TSIG_MALFORMED;
	qd = dns_rd16(wire + DNS_OFF_QDCOUNT);
	an = dns_rd16(wire + DNS_OFF_ANCOUNT);
	ns = dns_rd16(wire + DNS_OFF_NSCOUNT);
	ar = dns_rd16(wire + DNS_OFF_ARCOUNT);
	if (ar == 0)
		return TSIG_NONE;
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(wire, len, &off, skipped, &skipped_len) < 0 || off + 4 > len)
			return TSIG_MALFORMED;
		off += 4;
	}
	for (unsigned i = 0; i < (unsigned)an + ns + ar - 1u; i++) {
		if (dns_name_read(wire, len, &off, skipped, &skipped_len) < 0 || off + 10 > len)
			return TSIG_MALFORMED;
		if (dns_rd16(wire + off) == DNS_TYPE_TSIG)
			return TSIG_MALFORMED;	/* a TSIG that is not the last record */
		off += 10 + (size_t)dns_rd16(wire + off + 8);
		if (off > len)
			return TSIG_MALFORMED;
	}
	tsig_start = off;
	if (dns_name_read(wire, len, &off, st->key_name, &st->key_name_len) < 0 ||
	    off + 10 > len)
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
	if (dns_name_read(wire, len, &off, st->alg_name, &st->alg_name_len) < 0 ||
	    off + 10 > rdend)
		return TSIG_MALFORMED;
	t = dns_rd48(wire + off);
	fudge = dns_rd16(wire + off + 6);
	mac_size = dns_rd16(wire + off + 8);
	off += 10;
	if (off + mac_size + 6 > rdend)
		return TSIG_MALFORMED;
	mac = wire + off;
	off += mac_size;
	st->orig_id = dns_rd16(wire + off);
	error = dns_rd16(wire + off + 2);
	other_len = dns_rd16(wire + off + 4);
	off += 6;
	if (off + other_len != rdend)
		return TSIG_MALFORMED;
	other = wire + off;
	st->present = 1;
	st->time_signed = t;
	(void)error;

	/* RFC 8945 5.2: key, then MAC, then time. */
	if (tsig_key_prepare(key, &k) < 0 ||
	    !dns_name_equal(st->key_name, st->key_name_len, k.name, k.name_len) ||
	    !dns_name_equal(st->alg_name, st->alg_name_len, k.alg, k.alg_len)) {
		st->error = TSIG_BADKEY;
		return TSIG_BADKEY;
	}
	full = (size_t)EVP_MD_get_size(k.md);
	/* RFC 8945 5.2.2.1: longer than the digest, or below half of it. */
	if (mac_size > full || mac_size > sizeof(st->mac) ||
	    mac_size < (full / 2 > 10 ? full / 2 : 10))
		return TSIG_MALFORMED;
	if ((digest = malloc(tsig_start + 1024 + other_len)) == NULL)
		return TSIG_MALFORMED;
	memcpy(digest, wire, tsig_start);
	dns_wr16(digest, st->orig_id);
	dns_wr16(digest + DNS_OFF_ARCOUNT, (uint16_t)(ar - 1));
	dl = tsig_start;
	dl += tsig_vars_put(digest + dl, st->key_name, st->key_name_len,
	    st->alg_name, st->alg_name_len, t, fudge, error, other, other_len);
	bad = HMAC(k.md, k.secret, k.secret_len, digest, dl, out, &out_len) == NULL ||
	    out_len != full || CRYPTO_memcmp(out, mac, mac_size) != 0;
	free(digest);
	if (bad) {
		st->error = TSIG_BADSIG;
		return TSIG_BADSIG;
	}
	memcpy(st->mac, mac, mac_size);
	st->mac_len = mac_size;
	/*
	 * RFC 8945 5.2.3, then 5.2.4: the time before the truncation policy.
	 * The window is the client's fudge, but never wider than ours.
	 */
	now = (uint64_t)time(NULL);
	if ((now > t ? now - t : t - now) > (fudge < fudge_max ? fudge : fudge_max)) {
		st->error = TSIG_BADTIME;
		return TSIG_BADTIME;
	}
	/* A truncated MAC is valid but below our policy (full MACs only). */
	if (mac_size < full) {
		st->error = TSIG_BADTRUNC;
		return TSIG_BADTRUNC;
	}
	return TSIG_OK;
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
	size_t dl = 0, o, rdlen_at;

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
	if (len + st->key_name_len + 10 + st->alg_name_len + 16 + mac_len +
	    other_len > max)
		return -1;
	o = len;
	memcpy(reply + o, st->key_name, st->key_name_len);
	o += st->key_name_len;
	dns_wr16(reply + o, DNS_TYPE_TSIG);
	dns_wr16(reply + o + 2, DNS_CLASS_ANY);
	memset(reply + o + 4, 0, 4);
	rdlen_at = o + 8;
	o += 10;
	memcpy(reply + o, st->alg_name, st->alg_name_len);
	o += st->alg_name_len;
	dns_wr48(reply + o, t);
	dns_wr16(reply + o + 6, TSIG_FUDGE);
	dns_wr16(reply + o + 8, (uint16_t)mac_len);
	o += 10;
	memcpy(reply + o, mac, mac_len);
	o += mac_len;
	dns_wr16(reply + o, st->orig_id);
	dns_wr16(reply + o + 2, (uint16_t)st->error);
	dns_wr16(reply + o + 4, other_len);
	o += 6;
	memcpy(reply + o, other, other_len);
	o += other_len;
	dns_wr16(reply + rdlen_at, (uint16_t)(o - rdlen_at - 2));
	dns_wr16(reply + DNS_OFF_ARCOUNT,
	    (uint16_t)(dns_rd16(reply + DNS_OFF_ARCOUNT) + 1));
	/* Chain: the next message of a transfer is signed over this MAC. */
	if (sign) {
		memcpy(st->mac, mac, mac_len);
		st->mac_len = mac_len;
	}
	return (ssize_t)o;
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
	size_t dl, o, rdlen_at;

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
	if (len + k.name_len + 10 + k.alg_len + 16 + mac_len > max)
		return -1;
	o = len;
	memcpy(msg + o, k.name, k.name_len);
	o += k.name_len;
	dns_wr16(msg + o, DNS_TYPE_TSIG);
	dns_wr16(msg + o + 2, DNS_CLASS_ANY);
	memset(msg + o + 4, 0, 4);
	rdlen_at = o + 8;
	o += 10;
	memcpy(msg + o, k.alg, k.alg_len);
	o += k.alg_len;
	dns_wr48(msg + o, now);
	dns_wr16(msg + o + 6, TSIG_FUDGE);
	dns_wr16(msg + o + 8, (uint16_t)mac_len);
	o += 10;
	memcpy(msg + o, mac, mac_len);
	o += mac_len;
	dns_wr16(msg + o, st->orig_id);
	dns_wr16(msg + o + 2, 0);
	dns_wr16(msg + o + 4, 0);
	o += 6;
	dns_wr16(msg + rdlen_at, (uint16_t)(o - rdlen_at - 2));
	dns_wr16(msg + DNS_OFF_ARCOUNT, (uint16_t)(dns_rd16(msg + DNS_OFF_ARCOUNT) + 1));
	memcpy(st->mac, mac, mac_len);
	st->mac_len = mac_len;
	return (ssize_t)o;
}

enum tsig_verdict
tsig_verify_reply(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    const struct tsig_state *req, uint64_t now, int *error)
{
	struct tsig_key_ready k;
	uint8_t name[DNS_NAME_MAX], alg[DNS_NAME_MAX], *digest;
	size_t off = DNS_HEADER_LEN, tsig_start, rdend, name_len, alg_len, dl, full;
	uint16_t qd, an, ns, ar, fudge, mac_size, orig_id, other_len;
	const uint8_t *mac, *other;
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int out_len = 0;
	uint64_t t;
	int bad;

	*error = 0;
	if (len < DNS_HEADER_LEN)
		return TSIG_MALFORMED;
	qd = dns_rd16(wire + DNS_OFF_QDCOUNT);
	an = dns_rd16(wire + DNS_OFF_ANCOUNT);
	ns = dns_rd16(wire + DNS_OFF_NSCOUNT);
	ar = dns_rd16(wire + DNS_OFF_ARCOUNT);
	if (ar == 0)
		return TSIG_NONE;
	for (unsigned i = 0; i < qd; i++) {
		if ((off = dns_name_skip(wire, len, off)) == 0 || off + 4 > len)
			return TSIG_MALFORMED;
		off += 4;
	}
	for (unsigned i = 0; i < (unsigned)an + ns + ar - 1u; i++) {
		if ((off = dns_name_skip(wire, len, off)) == 0 || off + 10 > len)
			return TSIG_MALFORMED;
		off += 10 + (size_t)dns_rd16(wire + off + 8);
		if (off > len)
			return TSIG_MALFORMED;
	}
	tsig_start = off;
	if (dns_name_read(wire, len, &off, name, &name_len) < 0 || off + 10 > len)
		return TSIG_MALFORMED;
	if (dns_rd16(wire + off) != DNS_TYPE_TSIG)
		return TSIG_NONE;
	rdend = off + 10 + dns_rd16(wire + off + 8);
	off += 10;
	if (rdend != len ||
	    dns_name_read(wire, len, &off, alg, &alg_len) < 0 || off + 10 > rdend)
		return TSIG_MALFORMED;
	t = dns_rd48(wire + off);
	fudge = dns_rd16(wire + off + 6);
	mac_size = dns_rd16(wire + off + 8);
	off += 10;
	if (off + mac_size + 6 > rdend)
		return TSIG_MALFORMED;
	mac = wire + off;
	off += mac_size;
	orig_id = dns_rd16(wire + off);
	*error = dns_rd16(wire + off + 2);
	other_len = dns_rd16(wire + off + 4);
	off += 6;
	if (off + other_len != rdend)
		return TSIG_MALFORMED;
	other = wire + off;
	if (tsig_key_prepare(key, &k) < 0 ||
	    !dns_name_equal(name, name_len, k.name, k.name_len) ||
	    !dns_name_equal(alg, alg_len, k.alg, k.alg_len))
		return TSIG_BADKEY;
	full = (size_t)EVP_MD_get_size(k.md);
	if (mac_size == 0)
		return TSIG_BADSIG;		/* an unsigned error answer */
	if (mac_size != full)
		return TSIG_BADTRUNC;		/* we sent full MACs: expect one back */
	if ((digest = malloc(2 + req->mac_len + tsig_start + 1024 + other_len)) == NULL)
		return TSIG_MALFORMED;
	dns_wr16(digest, (uint16_t)req->mac_len);
	memcpy(digest + 2, req->mac, req->mac_len);
	dl = 2 + req->mac_len;
	memcpy(digest + dl, wire, tsig_start);
	dns_wr16(digest + dl + DNS_OFF_ID, orig_id);
	dns_wr16(digest + dl + DNS_OFF_ARCOUNT, (uint16_t)(ar - 1));
	dl += tsig_start;
	dl += tsig_vars_put(digest + dl, name, name_len, alg, alg_len, t, fudge,
	    (uint16_t)*error, other, other_len);
	bad = HMAC(k.md, k.secret, k.secret_len, digest, dl, out, &out_len) == NULL ||
	    out_len != full || CRYPTO_memcmp(out, mac, mac_size) != 0;
	free(digest);
	if (bad)
		return TSIG_BADSIG;
	if ((now > t ? now - t : t - now) > fudge)
		return TSIG_BADTIME;
	return TSIG_OK;
}
