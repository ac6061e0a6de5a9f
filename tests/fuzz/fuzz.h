/*
 * fuzz.h - what the libFuzzer targets share: the zone and the key they run
 * against, a scratch folder for the targets that need files, and TSIG
 * signing of a fuzzed message so that the paths past a valid signature are
 * reached too (a fuzzer cannot forge an HMAC).
 *
 * Everything here aborts on a setup failure: a target that cannot build
 * its fixture must not report the fuzzer's inputs as fine.
 */
#ifndef REDISFO_FUZZ_H
#define REDISFO_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ldns/ldns.h>

#include "conf/conf.h"

#define FUZZ_ORIGIN	"svc.test."
#define FUZZ_KEY_NAME	"redisfo-key."
#define FUZZ_KEY_SECRET	"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM="

/* The zone every DNS target answers from: each record type the server compiles. */
#define FUZZ_ZONE_TEXT \
	"$ORIGIN svc.test.\n" \
	"$TTL 60\n" \
	"@ IN SOA ns1 hostmaster 100 3600 600 86400 5\n" \
	"@ IN NS ns1\n" \
	"@ IN NS ns2.other.test.\n" \
	"@ IN MX 10 mail\n" \
	"ns1 IN A 127.0.0.1\n" \
	"ns1 IN AAAA ::1\n" \
	"mail IN A 192.0.2.25\n" \
	"redis 5 IN A 127.0.0.2\n" \
	"redis 5 IN AAAA 2001:db8::2\n" \
	"_redisfo.redis 5 IN TXT \"primary=r1 epoch=1 at=2026-11-25T00:00:00Z\"\n" \
	"www IN CNAME redis\n" \
	"_svc._tcp IN SRV 0 5 6379 redis\n"

static inline ldns_zone *
fuzz_zone_from_text(const char *origin, const char *text)
{
	FILE		*f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
	ldns_zone	*z = NULL;
	ldns_rdf	*o = ldns_dname_new_frm_str(origin);
	int		 line = 0;

	if (f == NULL || o == NULL ||
	    ldns_zone_new_frm_fp_l(&z, f, o, 60, LDNS_RR_CLASS_IN, &line) != LDNS_STATUS_OK) {
		fprintf(stderr, "fuzz: the fixture zone does not load (line %d)\n", line);
		abort();
	}
	fclose(f);
	ldns_rdf_deep_free(o);
	return z;
}

static inline void
fuzz_key(struct conf_tsig_key *k, const char *algorithm)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", FUZZ_KEY_NAME);
	snprintf(k->algorithm, sizeof(k->algorithm), "%s", algorithm);
	snprintf(k->secret, sizeof(k->secret), "%s", FUZZ_KEY_SECRET);
}

/*
 * How many records of type TSIG the message holds, in any section, as far
 * as it can be walked. ldns 1.8.3's ldns_wire2pkt() keeps only the last
 * TSIG it reads and leaks the ones before it, so a message with two of
 * them leaks whoever parses it.
 */
static inline unsigned
fuzz_tsig_walk(const uint8_t *wire, size_t len, int *whole)
{
	size_t		off = 12;
	unsigned	n = 0, i, qd, rrs;

	*whole = 0;
	if (len < 12)
		return 0;
	qd = (unsigned)wire[4] << 8 | wire[5];
	rrs = ((unsigned)wire[6] << 8 | wire[7]) + ((unsigned)wire[8] << 8 | wire[9]) +
	    ((unsigned)wire[10] << 8 | wire[11]);
	for (i = 0; i < qd + rrs; i++) {
		while (off < len && wire[off] != 0 && (wire[off] & 0xc0) == 0)
			off += (size_t)wire[off] + 1;
		if (off >= len)
			break;
		off += (wire[off] & 0xc0) ? 2 : 1;
		if (i < qd) {
			off += 4;
			continue;
		}
		if (off + 10 > len)
			break;
		if (((unsigned)wire[off] << 8 | wire[off + 1]) == 250)
			n++;
		off += 10 + ((size_t)wire[off + 8] << 8 | wire[off + 9]);
	}
	*whole = i == qd + rrs && off == len;
	return n;
}

static inline unsigned
fuzz_tsig_count(const uint8_t *wire, size_t len)
{
	int whole;

	return fuzz_tsig_walk(wire, len, &whole);
}

/* Is the message exactly its header's records, with one TSIG among them? */
static inline int
fuzz_one_tsig(const uint8_t *wire, size_t len)
{
	int whole;

	return fuzz_tsig_walk(wire, len, &whole) == 1 && whole;
}

/*
 * The message wire, parsed by ldns and signed now with key: a malloc'd
 * message in *out, or -1 when ldns cannot parse or sign it.
 */
static inline int
fuzz_sign(const uint8_t *wire, size_t len, const struct conf_tsig_key *key,
    uint8_t **out, size_t *outlen)
{
	ldns_pkt	*p = NULL;
	char		 alg[64];
	int		 rc = -1;

	/* ldns leaks the algorithm name when it cannot sign with a nameless key. */
	if (key->name[0] == '\0' || fuzz_tsig_count(wire, len) > 1)
		return -1;
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return -1;
	/* ldns_pkt_tsig_sign() replaces a TSIG the message had without freeing it. */
	ldns_rr_free(ldns_pkt_tsig(p));
	ldns_pkt_set_tsig(p, NULL);
	snprintf(alg, sizeof(alg), "%s.", key->algorithm);
	if (ldns_pkt_tsig_sign(p, key->name, key->secret, 300, alg, NULL) == LDNS_STATUS_OK &&
	    ldns_pkt2wire(out, p, outlen) == LDNS_STATUS_OK)
		rc = 0;
	ldns_pkt_free(p);
	return rc;
}

/* Does every message built by the server parse back with ldns? */
static inline void
fuzz_assert_parses(const uint8_t *wire, size_t len, const char *what)
{
	ldns_pkt	*p = NULL;
	ldns_status	 st = ldns_wire2pkt(&p, wire, len);

	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "fuzz: %s (%zu bytes) does not parse: %s\n", what, len,
		    ldns_get_errorstr_by_id(st));
		abort();
	}
	ldns_pkt_free(p);
}

/*
 * A private folder for this process's files, on tmpfs when there is one
 * (the zone target fsyncs every write), removed at exit.
 */
static char fuzz_dir_path[256];

static inline void
fuzz_dir_remove(void)
{
	char cmd[300];

	if (fuzz_dir_path[0] != '\0' && strncmp(fuzz_dir_path, "/", 1) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir_path);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
	}
}

static inline const char *
fuzz_dir(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if (fuzz_dir_path[0] != '\0')
		return fuzz_dir_path;
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/redisfo-fuzz.XXXXXX", base);
	if (mkdtemp(fuzz_dir_path) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* Write data to path (truncating); aborts on failure. */
static inline void
fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* The server's default cap on a request's fudge (dns.tsig_fudge_max). */
#define FUZZ_FUDGE_MAX	300

#endif
