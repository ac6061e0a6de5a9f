/*
 * tsig.h - RFC 8945 TSIG for the server: verify a request, sign a reply.
 *
 * Used by UPDATE, zone transfers, and any query that arrives signed.
 */
#ifndef REDISFO_TSIG_H
#define REDISFO_TSIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dnsd/wire.h"

struct conf_tsig_key;

/*
 * What tsig_verify_request found. The errors above TSIG_OK are RFC 8945's
 * own numbers: they travel in the reply's TSIG (and st->error holds them).
 * The two below it are ours and never go on the wire.
 */
enum tsig_verdict {
	TSIG_MALFORMED = -2,		/* a TSIG record that does not parse: FORMERR */
	TSIG_NONE = -1,			/* the message carries no TSIG */
	TSIG_OK = 0,
	TSIG_BADSIG = DNS_RCODE_BADSIG,
	TSIG_BADKEY = DNS_RCODE_BADKEY,
	TSIG_BADTIME = DNS_RCODE_BADTIME,
	TSIG_BADTRUNC = DNS_RCODE_BADTRUNC,
};

/* What a reply needs from its request: the request MAC, key, time. */
struct tsig_state {
	int		present;		/* request had a TSIG */
	int		error;			/* TSIG_OK or TSIG_BAD* */
	uint8_t		mac[64];
	size_t		mac_len;
	uint16_t	orig_id;
	uint64_t	time_signed;		/* the request's, for BADTIME */
	uint8_t		key_name[256];		/* wire form, as in the request */
	size_t		key_name_len;
	uint8_t		alg_name[256];
	size_t		alg_name_len;
};

/*
 * Verify the TSIG of request wire (must be the last additional record)
 * against key. Returns TSIG_NONE, TSIG_OK, a TSIG error (BADKEY, BADSIG,
 * BADTIME, BADTRUNC: NOTAUTH) or TSIG_MALFORMED (FORMERR), and fills st
 * for tsig_sign_reply. The request's time must be within its fudge of
 * ours, and its fudge counts for at most fudge_max seconds
 * (dns.tsig_fudge_max): a client cannot stretch how long a captured
 * message stays good.
 */
enum tsig_verdict	tsig_verify_request(const uint8_t *wire, size_t len,
			    const struct conf_tsig_key *key, unsigned fudge_max,
			    struct tsig_state *st);

/*
 * Does message wire (a reply of ours) end in a TSIG that carries a MAC and
 * no error? Only a request that showed the key gets one (RFC 8945 5.3): an
 * unsigned reply, or one carrying BADSIG, BADKEY or BADTIME, answers a
 * request that did not. It checks the form, not the MAC.
 */
int	tsig_signed_without_error(const uint8_t *wire, size_t len);

/*
 * Append a TSIG record to reply (in place; ARCOUNT updated): signed with
 * key over the request MAC in st when st->error is TSIG_OK, unsigned with
 * st->error otherwise (RFC 8945 section 5.3.2). Returns the new length, or
 * -1 if it does not fit in max. For the later messages of a transfer, pass
 * first = 0 so that the previous message's MAC is chained (st is updated).
 */
ssize_t			tsig_sign_reply(uint8_t *reply, size_t len, size_t max,
			    const struct conf_tsig_key *key, struct tsig_state *st, int first);

/*
 * The client side (the failover's UPDATEs). tsig_sign_request appends a
 * TSIG signed with key, at time now, to the request msg (in place, ARCOUNT
 * updated) and keeps in st what the reply is checked against. Returns the
 * new length, or -1 when key cannot sign (no name, an algorithm we do not
 * know, a secret that is not base64) or the record does not fit in max.
 */
ssize_t			tsig_sign_request(uint8_t *msg, size_t len, size_t max,
			    const struct conf_tsig_key *key, uint64_t now,
			    struct tsig_state *st);

/*
 * Check the TSIG of a reply to the request signed into req. Returns
 * TSIG_OK when it is signed with key over req's MAC within its fudge;
 * TSIG_NONE when the reply carries no TSIG; TSIG_BADKEY when it names
 * another key or algorithm; TSIG_BADSIG for a wrong or empty MAC (an
 * unsigned error answer); TSIG_BADTRUNC for a truncated one; TSIG_BADTIME
 * outside the fudge; TSIG_MALFORMED when it does not parse. *error gets
 * the TSIG error the server put in it (0 when none, or no TSIG).
 */
enum tsig_verdict	tsig_verify_reply(const uint8_t *wire, size_t len,
			    const struct conf_tsig_key *key, const struct tsig_state *req,
			    uint64_t now, int *error);

#endif
