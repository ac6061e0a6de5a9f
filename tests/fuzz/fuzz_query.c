/*
 * fuzz_query.c - the query fast path on hostile bytes: query_parse() on the
 * input, then query_answer() over UDP and TCP from a snapshot of a small
 * zone, or query_error() when the parse gave an rcode.
 *
 * Beyond the sanitizers, it checks what a reply promises: it fits the
 * buffer and, over UDP, the client's size (512 without EDNS); it keeps the
 * request's ID; and ldns can parse it back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsd/query.h"
#include "dnsd/snapshot.h"
#include "dnsd/zone.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snapshot *snap;

static void
snapshot_setup(void)
{
	ldns_zone	*z;
	char		 err[512];

	z = fuzz_zone_from_text(FUZZ_ORIGIN, FUZZ_ZONE_TEXT);
	if (zone_check(z, FUZZ_ORIGIN, err, sizeof(err)) != 0 ||
	    (snap = snapshot_build(z, FUZZ_ORIGIN, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_query: fixture: %s\n", err);
		abort();
	}
	ldns_zone_deep_free(z);
}

static void
check_reply(const struct query *q, const uint8_t *data, size_t size, int transport,
    const uint8_t *out, size_t outmax, size_t outlen)
{
	size_t limit = q->edns ? q->edns_size : 512;

	if (outlen > outmax || outlen < DNS_HEADER_LEN) {
		fprintf(stderr, "reply of %zu bytes in a buffer of %zu\n", outlen, outmax);
		abort();
	}
	if (transport == QUERY_TRANSPORT_UDP && outlen > limit && outlen > 512) {
		fprintf(stderr, "UDP reply of %zu bytes to a client that takes %zu\n",
		    outlen, limit);
		abort();
	}
	if (size >= 2 && (out[0] != data[0] || out[1] != data[1])) {
		fprintf(stderr, "reply with another ID\n");
		abort();
	}
	fuzz_assert_parses(out, outlen, transport == QUERY_TRANSPORT_UDP ?
	    "UDP reply" : "TCP reply");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	udp[4096], tcp[65535];
	struct query	q;
	enum query_verdict v;
	size_t		outlen;

	if (snap == NULL)
		snapshot_setup();
	memset(&q, 0, sizeof(q));
	v = query_parse(data, size, &q);
	if (v == QUERY_DROP)
		return 0;
	if (q.rcode != 0) {
		outlen = query_error(&q, q.rcode, udp, sizeof(udp));
		if (outlen > 0)
			check_reply(&q, data, size, QUERY_TRANSPORT_TCP, udp, sizeof(udp), outlen);
	}
	/* The smallest buffer the contract allows, then roomy ones. */
	outlen = 0;
	if (query_answer(snap, &q, QUERY_TRANSPORT_UDP, udp, 512, &outlen) == QUERY_REPLY)
		check_reply(&q, data, size, QUERY_TRANSPORT_UDP, udp, 512, outlen);
	outlen = 0;
	if (query_answer(snap, &q, QUERY_TRANSPORT_UDP, udp, sizeof(udp), &outlen) == QUERY_REPLY)
		check_reply(&q, data, size, QUERY_TRANSPORT_UDP, udp, sizeof(udp), outlen);
	outlen = 0;
	if (query_answer(snap, &q, QUERY_TRANSPORT_TCP, tcp, sizeof(tcp), &outlen) == QUERY_REPLY)
		check_reply(&q, data, size, QUERY_TRANSPORT_TCP, tcp, sizeof(tcp), outlen);
	return 0;
}
