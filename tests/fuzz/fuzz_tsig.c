/*
 * fuzz_tsig.c - TSIG request verification on hostile bytes, then the
 * signing of a reply with the state it left.
 *
 * The first byte picks the case, the rest is the message:
 *	bit 0	sign the message with the server's key first (ldns), so that
 *		the paths past a valid MAC are reached; else verify as is
 *	bit 1	the key is hmac-sha512 instead of hmac-sha256
 *	bit 2	no key configured
 * The message itself then stands in for the reply that tsig_sign_reply()
 * signs, first alone and then chained as in a transfer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dnsd/tsig.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_tsig_key	 key;
	struct tsig_state	 st;
	uint8_t			*signed_wire = NULL, *reply;
	const uint8_t		*wire;
	size_t			 len, max;
	ssize_t			 n;
	int			 mode, rc;

	if (size < 1)
		return 0;
	mode = data[0];
	wire = data + 1;
	len = size - 1;
	fuzz_key(&key, mode & 2 ? "hmac-sha512" : "hmac-sha256");
	if (mode & 4)
		key.name[0] = '\0';
	if (mode & 1) {
		if (fuzz_sign(wire, len, &key, &signed_wire, &len) != 0)
			return 0;
		wire = signed_wire;
	}
	memset(&st, 0, sizeof(st));
	rc = tsig_verify_request(wire, len, &key, FUZZ_FUDGE_MAX, &st);
	if (rc != TSIG_NONE && rc != TSIG_OK && rc != TSIG_BADSIG && rc != TSIG_BADKEY &&
	    rc != TSIG_BADTIME && rc != TSIG_BADTRUNC && rc != -2) {
		fprintf(stderr, "tsig_verify_request returned %d\n", rc);
		abort();
	}
	if ((mode & 5) == 1 && rc != TSIG_OK && fuzz_one_tsig(wire, len)) {
		/*
		 * ldns signed it just now with the same key, and it is well
		 * formed (ldns can write counts that do not match a message
		 * it read with too few records).
		 */
		fprintf(stderr, "a message signed with the key verifies as %d\n", rc);
		abort();
	}
	if (rc >= TSIG_OK && len >= 12) {
		max = len + 1024;
		reply = malloc(max);
		if (reply == NULL)
			abort();
		memcpy(reply, wire, len);
		n = tsig_sign_reply(reply, len, max, &key, &st, 1);
		if (n > (ssize_t)max)
			abort();
		if (n > 0 && len + 300 <= max) {
			/* The next message of a transfer, chained on the first. */
			n = tsig_sign_reply(reply, len, max, &key, &st, 0);
			if (n > (ssize_t)max)
				abort();
		}
		free(reply);
	}
	free(signed_wire);
	return 0;
}
