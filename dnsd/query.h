/*
 * query.h - the query fast path: check a request by hand, answer it from
 * the snapshot's precompiled answers.
 *
 * Never allocates, never blocks, never calls ldns. Every read of the
 * request is bounds-checked; the input is hostile.
 */
#ifndef REDISFO_QUERY_H
#define REDISFO_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "dnsd/wire.h"

struct snapshot;

/* What the fast path decided. */
enum query_verdict {
	QUERY_DROP = 0,		/* send nothing */
	QUERY_REPLY,		/* reply built in the output buffer */
	QUERY_SLOW,		/* needs the control thread: UPDATE, transfer, TSIG */
};

/* The parsed request: offsets into the caller's buffer. */
struct query {
	const uint8_t	*wire;
	size_t		 len;
	uint16_t	 id;
	uint8_t		 opcode;
	uint16_t	 qtype;
	uint16_t	 qclass;
	size_t		 qname_len;	/* wire length of the name, incl. root */
	size_t		 question_end;	/* offset just past QTYPE/QCLASS */
	uint8_t		 qname_lc[DNS_NAME_MAX]; /* lower-cased wire name */
	int		 edns;		/* OPT present */
	uint16_t	 edns_size;	/* client's UDP size (512 floor) */
	uint8_t		 edns_version;
	int		 edns_do;
	int		 has_tsig;
	int		 rcode;		/* parse verdict: 0 ok, else FORMERR etc. */
};

#define QUERY_TRANSPORT_UDP	0
#define QUERY_TRANSPORT_TCP	1

/*
 * Parse the header, question and additional section of wire. Returns
 * QUERY_DROP for what must not be answered (short, QR=1), else fills q:
 * q->rcode is 0 when the request is well-formed, or the rcode to answer.
 */
enum query_verdict	query_parse(const uint8_t *wire, size_t len, struct query *q);

/*
 * Answer a parsed request from snap into out (outmax bytes, at least 512).
 * Over UDP the answer is limited to the client's size and truncated (TC)
 * when it does not fit. Returns QUERY_REPLY with *outlen set, QUERY_DROP,
 * or QUERY_SLOW when the control thread must answer.
 */
enum query_verdict	query_answer(const struct snapshot *snap, const struct query *q,
			    int transport, uint8_t *out, size_t outmax, size_t *outlen);

/* Build a bare error reply (header, question if parsed, OPT if asked). */
size_t			query_error(const struct query *q, int rcode, uint8_t *out, size_t outmax);

#endif
