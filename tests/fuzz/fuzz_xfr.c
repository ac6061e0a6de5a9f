/*
 * fuzz_xfr.c - zone transfer requests on hostile bytes: xfr_answer() from
 * a small zone and a journal holding two changes, so AXFR, IXFR with the
 * changes, IXFR with the SOA alone and the refusals are all reachable.
 *
 * The first byte picks the case, the rest is the request:
 *	bits 0-1  the peer: 127.0.0.1 (allowed), 192.0.2.9 (not allowed),
 *		  ::ffff:127.0.0.1 (v4-mapped), 2001:db8::7 (allowed)
 *	bit 2	  sign the request with the key first (ldns)
 *	bit 3	  no journal
 * Only what the server would pass to xfr_answer() gets there (see
 * server_would_transfer). Every message of the answer must parse back
 * with ldns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "conf/conf.h"
#include "dnsd/query.h"
#include "dnsd/snapshot.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ldns_zone		*zone;
static struct xfr_journal	 journal;
static struct conf_dns		 dns;
static struct conf_ip		 allow[2];
static struct snapshot		*snap;

/* The fixture zone with its serial and redis's address replaced. */
static ldns_zone *
zone_version(unsigned serial, const char *addr)
{
	char	text[sizeof(FUZZ_ZONE_TEXT)], num[4];

	/* Same lengths: "100" and "127.0.0.2" are overwritten in place. */
	snprintf(text, sizeof(text), "%s", FUZZ_ZONE_TEXT);
	snprintf(num, sizeof(num), "%03u", serial % 1000);
	memcpy(strstr(text, "hostmaster 100 ") + 11, num, 3);
	memcpy(strstr(text, "127.0.0.2"), addr, 9);
	return fuzz_zone_from_text(FUZZ_ORIGIN, text);
}

static void
setup(void)
{
	ldns_zone	*v100, *v101;
	char		 err[512];

	memset(&dns, 0, sizeof(dns));
	snprintf(dns.zone, sizeof(dns.zone), "%s", FUZZ_ORIGIN);
	fuzz_key(&dns.update_key, "hmac-sha256");
	if (conf_ip_parse("127.0.0.1", &allow[0]) != 0 ||
	    conf_ip_parse("2001:db8::7", &allow[1]) != 0)
		abort();
	dns.allow_transfer = allow;
	dns.n_allow_transfer = 2;
	v100 = zone_version(100, "127.0.0.2");
	v101 = zone_version(101, "127.0.0.3");
	zone = zone_version(102, "127.0.0.4");
	xfr_journal_record(&journal, v100, v101, FUZZ_ORIGIN);
	xfr_journal_record(&journal, v101, zone, FUZZ_ORIGIN);
	if ((snap = snapshot_build(zone, FUZZ_ORIGIN, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_xfr: fixture: %s\n", err);
		abort();
	}
	ldns_zone_deep_free(v100);
	ldns_zone_deep_free(v101);
}

/*
 * Does the server hand this request to xfr_answer()? Only what the fast
 * path sends to the control thread over TCP, and there only AXFR and IXFR
 * (server.c, slow_handle). xfr_answer() itself passes a message whose
 * TSIG it found malformed to ldns_wire2pkt(), which leaks all but the
 * last of several TSIGs (ldns 1.8.3): query_parse() keeps those out.
 * FUZZ_XFR_UNGATED=1 feeds xfr_answer() everything, that leak included.
 */
static int
server_would_transfer(const uint8_t *wire, size_t len)
{
	static uint8_t	 buf[65535];
	static int	 ungated = -1;
	struct query	 q;
	size_t		 olen = 0;

	if (ungated == -1)
		ungated = getenv("FUZZ_XFR_UNGATED") != NULL;
	if (ungated)
		return 1;
	memset(&q, 0, sizeof(q));
	if (query_parse(wire, len, &q) != QUERY_REPLY || q.rcode != 0 ||
	    query_answer(snap, &q, QUERY_TRANSPORT_TCP, buf, sizeof(buf), &olen) != QUERY_SLOW)
		return 0;
	return q.opcode != LDNS_PACKET_UPDATE &&
	    (q.qtype == LDNS_RR_TYPE_AXFR || q.qtype == LDNS_RR_TYPE_IXFR);
}

static socklen_t
peer_of(int which, struct sockaddr_storage *ss)
{
	static const char *const peers[] = { "127.0.0.1", "192.0.2.9",
	    "::ffff:127.0.0.1", "2001:db8::7" };
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (which == 0 || which == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(40000);
		inet_pton(AF_INET, peers[which], &s4->sin_addr);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(40000);
	inet_pton(AF_INET6, peers[which], &s6->sin6_addr);
	return sizeof(*s6);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 ss;
	struct xfr_msgs		 out;
	uint8_t			*signed_wire = NULL;
	const uint8_t		*wire;
	size_t			 len, i;
	int			 mode;

	if (zone == NULL)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	wire = data + 1;
	len = size - 1;
	peer_of(mode & 3, &ss);
	if (mode & 4) {
		if (fuzz_sign(wire, len, &dns.update_key, &signed_wire, &len) != 0)
			return 0;
		wire = signed_wire;
	}
	if (!server_would_transfer(wire, len)) {
		free(signed_wire);
		return 0;
	}
	memset(&out, 0, sizeof(out));
	if (xfr_answer(wire, len, (struct sockaddr *)&ss, zone,
	    mode & 8 ? NULL : &journal, FUZZ_ORIGIN, &dns, &out) == 0) {
		if (out.n == 0) {
			fprintf(stderr, "xfr_answer: no message\n");
			abort();
		}
		for (i = 0; i < out.n; i++)
			fuzz_assert_parses(out.msg[i], out.len[i], "transfer message");
	}
	xfr_msgs_free(&out);
	free(signed_wire);
	return 0;
}
