/*
 * rrl.h - response rate limiting per client network (/24 for IPv4, /56
 * for IPv6), for UDP answers, and for the UDP messages handed to the
 * control thread (UPDATE, signed queries) before it verifies them. Each
 * UDP worker owns one table: no locks.
 * A limited answer is dropped, except every slip-th, which goes out
 * truncated so a real client retries over TCP.
 */
#ifndef REDISFO_RRL_H
#define REDISFO_RRL_H

#include <sys/socket.h>
#include <time.h>

enum rrl_verdict { RRL_PASS = 0, RRL_DROP, RRL_SLIP };

struct rrl;

struct rrl		*rrl_create(int rate, int slip);	/* NULL when rate is 0 */
void			 rrl_free(struct rrl *r);
enum rrl_verdict	 rrl_check(struct rrl *r, const struct sockaddr_storage *peer, time_t now);

#endif
