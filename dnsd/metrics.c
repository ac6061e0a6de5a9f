/*
 * metrics.c - counting what the server does, and showing it to Prometheus.
 *
 * The query path only calls metrics_query() on its own block (see
 * metrics.h for who writes what). The endpoint runs in libmicrohttpd's
 * internal thread on a socket this file binds itself, so that a port in
 * use is reported with its reason; it answers GET /metrics with the text
 * exposition format (version 0.0.4) and 404 for anything else. It never
 * takes a lock a worker could wait on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "conf/util.h"
#include "dnsd/metrics.h"
#include "dnsd/query.h"

#define METRICS_TEXT_MAX	(256 * 1024)
#define METRICS_CONN_LIMIT	16
#define METRICS_CONN_TIMEOUT	5	/* seconds */

/* The control thread's counters; it alone writes them. */
struct metrics_ctl {
	uint64_t	updates[METRICS_RCODE_N];
	uint64_t	transfers[MXFR_N];
	uint64_t	transfers_refused;
	uint64_t	notifies[MNOTIFY_N];
	uint64_t	reloads_ok, reloads_failed;
	uint64_t	serial;
	uint64_t	publish_count, publish_ns;
	uint64_t	publish_le[METRICS_PUBLISH_BUCKETS];	/* cumulative */
};

struct metrics {
	struct metrics_block	*blocks;
	size_t			 nblocks;
	struct metrics_ctl	 ctl;
	struct MHD_Daemon	*mhd;
	int			 fd;
	double			 start_time;
	char			 version[32];
};

static const char *const rcode_names[METRICS_RCODE_N] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "BADVERS", "other",
};

static const char *const qtype_names[MQT_N] = {
	"A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "ANY",
	"AXFR", "IXFR", "other",
};

static const char *const transfer_names[MXFR_N] = { "axfr", "ixfr", "ixfr_full" };
static const char *const notify_names[MNOTIFY_N] = { "answered", "timeout", "error" };
static const char *const transport_names[2] = { "udp", "tcp" };

/* Upper bounds of the publish histogram's buckets, in seconds. */
static const double publish_bounds[METRICS_PUBLISH_BUCKETS] = {
	0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
};

static enum metrics_qtype
metrics_qtype_index(uint16_t qtype)
{
	switch (qtype) {
	case 1:		return MQT_A;
	case 2:		return MQT_NS;
	case 5:		return MQT_CNAME;
	case 6:		return MQT_SOA;
	case 12:	return MQT_PTR;
	case 15:	return MQT_MX;
	case 16:	return MQT_TXT;
	case 28:	return MQT_AAAA;
	case 33:	return MQT_SRV;
	case 255:	return MQT_ANY;
	case 252:	return MQT_AXFR;
	case 251:	return MQT_IXFR;
	default:	return MQT_OTHER;
	}
}

static unsigned
metrics_rcode_index(int rcode)
{
	if (rcode >= 0 && rcode <= 10)
		return (unsigned)rcode;
	return rcode == 16 ? METRICS_RCODE_BADVERS : METRICS_RCODE_OTHER;
}

static uint64_t
metrics_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void
metrics_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

struct metrics *
metrics_create(size_t nblocks, const char *version, char *err, size_t errlen)
{
	struct metrics	*m;
	struct timespec	 ts;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->blocks = aligned_alloc(64, sizeof(*m->blocks) * (nblocks ? nblocks : 1))) == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory for the counters");
		return NULL;
	}
	memset(m->blocks, 0, sizeof(*m->blocks) * (nblocks ? nblocks : 1));
	m->nblocks = nblocks;
	m->fd = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	snprintf(m->version, sizeof(m->version), "%s", version);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->mhd != NULL)
		MHD_stop_daemon(m->mhd);
	if (m->fd != -1)
		close(m->fd);
	free(m->blocks);
	free(m);
}

struct metrics_block *
metrics_block(struct metrics *m, size_t i)
{
	return m != NULL && i < m->nblocks ? &m->blocks[i] : NULL;
}

void
metrics_count_reply(struct metrics_block *b, int transport, const struct query *q,
    const uint8_t *reply, size_t len)
{
	int rcode;

	if (len < DNS_HEADER_LEN)
		return;
	rcode = reply[3] & 0x0f;
	if (rcode == 0 && q->edns && q->edns_version > 0)
		rcode = 16;	/* BADVERS lives in the OPT's extended bits */
	metrics_bump(&b->queries[transport != 0][metrics_qtype_index(q->qtype)]
	    [metrics_rcode_index(rcode)]);
	if (reply[2] & 0x02)
		metrics_bump(&b->truncated);
}

void
metrics_update(struct metrics *m, int rcode)
{
	if (m != NULL)
		metrics_bump(&m->ctl.updates[metrics_rcode_index(rcode)]);
}

void
metrics_transfer(struct metrics *m, enum metrics_transfer kind)
{
	if (m != NULL)
		metrics_bump(&m->ctl.transfers[kind]);
}

void
metrics_transfer_refused(struct metrics *m)
{
	if (m != NULL)
		metrics_bump(&m->ctl.transfers_refused);
}

void
metrics_notify(struct metrics *m, enum metrics_notify result)
{
	if (m != NULL)
		metrics_bump(&m->ctl.notifies[result]);
}

void
metrics_reload(struct metrics *m, int ok)
{
	if (m != NULL)
		metrics_bump(ok ? &m->ctl.reloads_ok : &m->ctl.reloads_failed);
}

void
metrics_publish(struct metrics *m, uint32_t serial, double seconds)
{
	int i;

	if (m == NULL)
		return;
	metrics_set(&m->ctl.serial, serial);
	for (i = 0; i < METRICS_PUBLISH_BUCKETS; i++)
		if (seconds <= publish_bounds[i])
			metrics_bump(&m->ctl.publish_le[i]);
	metrics_set(&m->ctl.publish_ns, metrics_read(&m->ctl.publish_ns) +
	    (uint64_t)(seconds * 1e9));
	metrics_bump(&m->ctl.publish_count);
}

/* The text being built: what fits in buf, and how long it would be. */
struct text {
	char	*buf;
	size_t	 cap, len;
};

static void __attribute__((format(printf, 2, 3)))
text_add(struct text *t, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(t->len < t->cap ? t->buf + t->len : NULL,
	    t->len < t->cap ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
}

static void
text_family(struct text *t, const char *name, const char *type, const char *help)
{
	text_add(t, "# HELP redisfo_dns_%s %s\n# TYPE redisfo_dns_%s %s\n",
	    name, help, name, type);
}

size_t
metrics_format(struct metrics *m, char *buf, size_t cap)
{
	struct text		 t = { buf, cap, 0 };
	struct metrics_ctl	*c = &m->ctl;
	uint64_t		 v, trunc = 0, drop = 0, slip = 0;
	size_t			 i, tr, qt, rc;

	if (cap > 0)
		buf[0] = '\0';
	text_family(&t, "queries_total", "counter", "Replies sent to queries.");
	for (tr = 0; tr < 2; tr++)
		for (qt = 0; qt < MQT_N; qt++)
			for (rc = 0; rc < METRICS_RCODE_N; rc++) {
				for (v = 0, i = 0; i < m->nblocks; i++)
					v += metrics_read(&m->blocks[i].queries[tr][qt][rc]);
				if (v > 0)
					text_add(&t, "redisfo_dns_queries_total{transport=\"%s\","
					    "qtype=\"%s\",rcode=\"%s\"} %llu\n", transport_names[tr],
					    qtype_names[qt], rcode_names[rc], (unsigned long long)v);
			}
	for (i = 0; i < m->nblocks; i++) {
		trunc += metrics_read(&m->blocks[i].truncated);
		drop += metrics_read(&m->blocks[i].rrl_drop);
		slip += metrics_read(&m->blocks[i].rrl_slip);
	}
	text_family(&t, "truncated_total", "counter", "Replies sent with TC set.");
	text_add(&t, "redisfo_dns_truncated_total %llu\n", (unsigned long long)trunc);
	text_family(&t, "rrl_total", "counter", "Replies that response rate limiting dropped or slipped.");
	text_add(&t, "redisfo_dns_rrl_total{action=\"drop\"} %llu\n", (unsigned long long)drop);
	text_add(&t, "redisfo_dns_rrl_total{action=\"slip\"} %llu\n", (unsigned long long)slip);

	text_family(&t, "updates_total", "counter", "UPDATE messages answered, by rcode.");
	for (rc = 0; rc < METRICS_RCODE_N; rc++)
		if ((v = metrics_read(&c->updates[rc])) > 0)
			text_add(&t, "redisfo_dns_updates_total{rcode=\"%s\"} %llu\n",
			    rcode_names[rc], (unsigned long long)v);
	text_family(&t, "transfers_total", "counter",
	    "Zone transfers sent: AXFR, IXFR with the changes, IXFR answered with the whole zone.");
	for (i = 0; i < MXFR_N; i++)
		text_add(&t, "redisfo_dns_transfers_total{kind=\"%s\"} %llu\n", transfer_names[i],
		    (unsigned long long)metrics_read(&c->transfers[i]));
	text_family(&t, "transfers_refused_total", "counter", "Zone transfers refused.");
	text_add(&t, "redisfo_dns_transfers_refused_total %llu\n",
	    (unsigned long long)metrics_read(&c->transfers_refused));
	text_family(&t, "notifies_total", "counter", "NOTIFY messages sent to secondaries, by outcome.");
	for (i = 0; i < MNOTIFY_N; i++)
		text_add(&t, "redisfo_dns_notifies_total{result=\"%s\"} %llu\n", notify_names[i],
		    (unsigned long long)metrics_read(&c->notifies[i]));
	text_family(&t, "reloads_total", "counter", "Reloads on SIGHUP, by outcome.");
	text_add(&t, "redisfo_dns_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)metrics_read(&c->reloads_ok));
	text_add(&t, "redisfo_dns_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)metrics_read(&c->reloads_failed));

	text_family(&t, "zone_serial", "gauge", "The SOA serial of the zone being served.");
	text_add(&t, "redisfo_dns_zone_serial %llu\n", (unsigned long long)metrics_read(&c->serial));
	text_family(&t, "publish_seconds", "histogram",
	    "Time to build and publish a new snapshot of the zone.");
	for (i = 0; i < METRICS_PUBLISH_BUCKETS; i++)
		text_add(&t, "redisfo_dns_publish_seconds_bucket{le=\"%g\"} %llu\n",
		    publish_bounds[i], (unsigned long long)metrics_read(&c->publish_le[i]));
	v = metrics_read(&c->publish_count);
	text_add(&t, "redisfo_dns_publish_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)v);
	text_add(&t, "redisfo_dns_publish_seconds_sum %.9f\n",
	    (double)metrics_read(&c->publish_ns) / 1e9);
	text_add(&t, "redisfo_dns_publish_seconds_count %llu\n", (unsigned long long)v);
	text_family(&t, "start_time_seconds", "gauge", "When the server started, in seconds since the epoch.");
	text_add(&t, "redisfo_dns_start_time_seconds %.3f\n", m->start_time);
	text_family(&t, "build_info", "gauge", "The version of this server.");
	text_add(&t, "redisfo_dns_build_info{version=\"%s\"} 1\n", m->version);
	return t.len;
}

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct metrics		*m = cls;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	unsigned		 status = MHD_HTTP_OK;
	char			*text;
	size_t			 len;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return MHD_NO;
	if ((text = malloc(METRICS_TEXT_MAX)) == NULL)
		return MHD_NO;
	if (strcmp(url, "/metrics") == 0) {
		len = metrics_format(m, text, METRICS_TEXT_MAX);
		if (len >= METRICS_TEXT_MAX)
			len = METRICS_TEXT_MAX - 1;
	} else {
		status = MHD_HTTP_NOT_FOUND;
		len = (size_t)snprintf(text, METRICS_TEXT_MAX, "not found: try /metrics\n");
	}
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int
metrics_listen(struct metrics *m, const struct sockaddr_storage *addr, char *err, size_t errlen)
{
	char		where[ADDR_TEXT_MAX];
	socklen_t	len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
			    sizeof(struct sockaddr_in);
	int		one = 1;

	addr_text(addr, where, sizeof(where));
	if ((m->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(m->fd, (const struct sockaddr *)addr, len) == -1 ||
	    listen(m->fd, 16) == -1) {
		snprintf(err, errlen, "metrics_listen %s: %s", where, strerror(errno));
		return -1;
	}
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    (addr->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
	    metrics_answer, m,
	    MHD_OPTION_LISTEN_SOCKET, m->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT,
	    MHD_OPTION_END);
	if (m->mhd == NULL) {
		snprintf(err, errlen, "metrics_listen %s: the HTTP server did not start", where);
		return -1;
	}
	m->fd = -1;	/* the daemon closes it */
	return 0;
}
