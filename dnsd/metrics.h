/*
 * metrics.h - the server's counters, and the Prometheus endpoint that
 * shows them.
 *
 * Each thread that answers queries (every UDP worker, and the control
 * thread for TCP) owns one block of counters and is the only writer of
 * it: a count is a relaxed load and store, no lock and no atomic
 * read-modify-write, so the query path costs a few plain increments. The
 * control thread alone writes the rest (UPDATEs, transfers, NOTIFYs,
 * reloads, publishing). A scrape, served by libmicrohttpd's own thread,
 * reads every block with relaxed loads and sums them: it never stops or
 * slows a worker, and a figure it reads may be one query behind.
 */
#ifndef REDISFO_METRICS_H
#define REDISFO_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct query;

/* The query types counted by name; the rest count as "other". */
enum metrics_qtype {
	MQT_A, MQT_NS, MQT_CNAME, MQT_SOA, MQT_PTR, MQT_MX, MQT_TXT, MQT_AAAA,
	MQT_SRV, MQT_ANY, MQT_AXFR, MQT_IXFR, MQT_OTHER, MQT_N
};

/* rcodes 0 to 10 by their own number, then BADVERS, then the rest. */
#define METRICS_RCODE_BADVERS	11
#define METRICS_RCODE_OTHER	12
#define METRICS_RCODE_N		13

enum metrics_transfer { MXFR_AXFR, MXFR_IXFR, MXFR_IXFR_FULL, MXFR_N };
enum metrics_notify { MNOTIFY_ANSWERED, MNOTIFY_TIMEOUT, MNOTIFY_ERROR, MNOTIFY_N };

#define METRICS_PUBLISH_BUCKETS	8

/* One answering thread's counters; only that thread writes them. */
struct metrics_block {
	uint64_t	queries[2][MQT_N][METRICS_RCODE_N];	/* [transport] */
	uint64_t	truncated;
	uint64_t	rrl_drop, rrl_slip;
} __attribute__((aligned(64)));

struct metrics;

/*
 * Counters for nblocks answering threads (block 0 is the control
 * thread's). version goes into build_info. Returns NULL with err filled.
 */
struct metrics	*metrics_create(size_t nblocks, const char *version, char *err, size_t errlen);
void		 metrics_free(struct metrics *m);

/* Block i, for the thread that answers with it. */
struct metrics_block *metrics_block(struct metrics *m, size_t i);

/*
 * Serve /metrics on addr from a thread of libmicrohttpd's. Returns -1 with
 * err filled when the address cannot be bound (in use, not ours).
 */
int		 metrics_listen(struct metrics *m, const struct sockaddr_storage *addr,
		    char *err, size_t errlen);

/* One bump of a counter by its only writer. */
static inline void
metrics_bump(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/*
 * A reply sent for q over transport (QUERY_TRANSPORT_*): counts it by
 * qtype and the reply's rcode, and a truncated one. With no block
 * (metrics off) it costs one test, not a call.
 */
void		 metrics_count_reply(struct metrics_block *b, int transport,
		    const struct query *q, const uint8_t *reply, size_t len);

static inline void
metrics_query(struct metrics_block *b, int transport, const struct query *q,
    const uint8_t *reply, size_t len)
{
	if (b != NULL)
		metrics_count_reply(b, transport, q, reply, len);
}

/* A reply rate limiting dropped (drop = 1) or sent truncated (drop = 0). */
static inline void
metrics_rrl(struct metrics_block *b, int drop)
{
	if (b != NULL)
		metrics_bump(drop ? &b->rrl_drop : &b->rrl_slip);
}

/* The control thread's counters; m may be NULL (nothing counted). */
void		 metrics_update(struct metrics *m, int rcode);
void		 metrics_transfer(struct metrics *m, enum metrics_transfer kind);
void		 metrics_transfer_refused(struct metrics *m);
void		 metrics_notify(struct metrics *m, enum metrics_notify result);
void		 metrics_reload(struct metrics *m, int ok);
void		 metrics_publish(struct metrics *m, uint32_t serial, double seconds);

/*
 * The text exposition of every counter into buf (cap bytes). Returns the
 * length written, or the length needed when it is cap or more.
 */
size_t		 metrics_format(struct metrics *m, char *buf, size_t cap);

#endif
