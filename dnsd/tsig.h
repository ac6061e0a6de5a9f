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

struct conf_tsig_key;

#define TSIG_NONE	(-1)	/* the message carries no TSIG */
#define TSIG_OK		0
#define TSIG_BADSIG	16
#define TSIG_BADKEY	17
#define TSIG_BADTIME	18
#define TSIG_BADTRUNC	22

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
 * against key. Returns TSIG_NONE, TSIG_OK or a TSIG error code, and fills
 * st for tsig_sign_reply. -2 if the TSIG record is malformed (FORMERR).
 */
int	tsig_verify_request(const uint8_t *wire, size_t len,
	    const struct conf_tsig_key *key, struct tsig_state *st);

/*
 * Append a TSIG record to reply (in place; ARCOUNT updated): signed with
 * key over the request MAC in st when st->error is TSIG_OK, unsigned with
 * st->error otherwise (RFC 8945 section 5.3.2). Returns the new length, or
 * -1 if it does not fit in max. For the later messages of a transfer, pass
 * first = 0 so that the previous message's MAC is chained (st is updated).
 */
ssize_t	tsig_sign_reply(uint8_t *reply, size_t len, size_t max,
	    const struct conf_tsig_key *key, struct tsig_state *st, int first);

#endif
