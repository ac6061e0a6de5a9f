/*
 * rrl.c - response rate limiting: a fixed table of per-network counters.
 *
 * Each slot counts the answers sent to one client network in the current
 * second. Slots are found by hash and simply taken over on collision: an
 * attacker can at worst reset another network's count, never make the
 * table grow. Called once per UDP answer; no allocation after creation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "dnsd/rrl.h"

#define RRL_SLOTS	8192	/* power of two */

struct rrl_slot {
	uint64_t	key;
	time_t		second;
	uint32_t	count;
	uint32_t	limited;
};

struct rrl {
	uint32_t	rate;
	uint32_t	slip;
	struct rrl_slot	slots[RRL_SLOTS];
};

struct rrl *
rrl_create(int rate, int slip)
{
	struct rrl *r;

	if (rate <= 0 || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->rate = (uint32_t)rate;
	r->slip = slip > 0 ? (uint32_t)slip : 0;
	return r;
}

void
rrl_free(struct rrl *r)
{
	free(r);
}

/* The client's network: /24 of IPv4, /56 of IPv6, tagged by family. */
static uint64_t
rrl_key(const struct sockaddr_storage *peer)
{
	uint64_t key = 0;

	if (peer->ss_family == AF_INET) {
		const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;

		key = (uint64_t)1 << 63 | (uint64_t)a[0] << 16 | (uint64_t)a[1] << 8 | a[2];
	} else if (peer->ss_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;

		memcpy(&key, a, 7);
		key &= ~((uint64_t)1 << 63);
	}
	return key;
}

enum rrl_verdict
rrl_check(struct rrl *r, const struct sockaddr_storage *peer, time_t now)
{
	uint64_t	 key = rrl_key(peer);
	uint64_t	 h = key * 0x9e3779b97f4a7c15ull;
	struct rrl_slot	*s = &r->slots[(h >> 40) & (RRL_SLOTS - 1)];

	if (s->key != key || s->second != now) {
		s->key = key;
		s->second = now;
		s->count = 0;
		s->limited = 0;
	}
	if (++s->count <= r->rate)
		return RRL_PASS;
	s->limited++;
	if (r->slip > 0 && s->limited % r->slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}
