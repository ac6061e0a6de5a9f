/*
 * tcp.c - the TCP connections of `redisfo-dns serve`.
 *
 * Run by the control thread (server.c) from its epoll loop: accept
 * clients on the listening sockets, read 2-byte-length framed messages,
 * several to a connection, answer each through the query fast path or,
 * for UPDATE, zone transfers and signed queries, through the server's
 * slow path, and write the answers back as the client reads them. A zone
 * transfer is a stream: its messages are made only as the socket drains.
 *
 * Every socket is non-blocking and nothing here may wait: one slow or
 * hostile client must not hold the loop that also applies UPDATEs. So a
 * connection is read a bounded number of times a turn, and not at all
 * while TCP_OUT_MAX of its answers wait unread or a transfer is being
 * sent: a client that sends and never reads cannot make the server
 * buffer without end.
 *
 * Connections are a shared resource that must not be taken from the
 * operator: the limits in server_int.h (per address, per /24 or /56, in
 * all, idle time, lifetime, queries, transfers) keep any one client to
 * its share, and when the table is full a newcomer takes the place of the
 * oldest connection that never showed the update key, from the most
 * crowded network (or address), so the switch's signed UPDATE always
 * finds a way in and a flood from many addresses mostly displaces itself. A client at a limit is logged, at
 * most every TCP_WARN_EVERY_MS. Out of file descriptors, the listeners
 * are left alone for TCP_ACCEPT_PAUSE_MS at a time rather than polled
 * in a loop, and that is logged once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "conf/log.h"
#include "conf/util.h"
#include "dnsd/metrics.h"
#include "dnsd/query.h"
#include "dnsd/server_int.h"
#include "dnsd/wire.h"

#define TCP_OUT_MAX		(256 * 1024)	/* answers waiting for a client: read no more */
#define TCP_XFR_FILL		(64 * 1024)	/* a transfer's messages made ahead of the socket */
#define TCP_XFR_TURN		(1024 * 1024)	/* a transfer's bytes per turn of the loop */
#define TCP_READS		8		/* reads per connection per turn of the loop */
#define TCP_ACCEPTS		64		/* accepts per listener per turn of the loop */
#define TCP_ACCEPT_PAUSE_MS	500		/* out of descriptors: listeners left alone */
#define TCP_WARN_EVERY_MS	10000		/* a limit's log line at most this often */
#define TCP_LINGER_MS		2000		/* after our FIN, waiting for the client's */

struct tcp_conn {
	struct ev		 ev;
	struct sockaddr_storage	 peer;
	uint8_t			 addr[16];	/* the peer's address, IPv4 v4-mapped */
	int64_t			 born_ms, last_ms;
	unsigned		 queries;
	int			 signed_ok;	/* it showed the update key: never evicted */
	int			 closing;	/* lifetime or queries used up: no more messages */
	int64_t			 shut_ms;	/* closing: answers all out, FIN sent; 0: not yet */
	struct xfr_stream	*xfr;		/* the transfer being sent */
	uint8_t			*out;
	size_t			 outlen, outoff, outcap;
	uint32_t		 events;	/* what epoll watches for it */
	int			 eof;		/* the client has sent all it will */
	int			 closed;	/* waiting for tcp_reap */
	struct tcp_conn		*next;
	size_t			 inlen;
	uint8_t			 in[2 + TCP_MSG_MAX];	/* last: never zeroed */
};

/* A log line at most every TCP_WARN_EVERY_MS, with how many were held back. */
struct tcp_warn {
	int64_t		next_ms;
	unsigned	held;
};

static struct tcp_warn	warn_addr, warn_evict, warn_full, warn_xfr, warn_xfr_fail;

static void tcp_warn(struct tcp_warn *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tcp_warn(struct tcp_warn *w, const char *fmt, ...)
{
	char	 line[512];
	int64_t	 now = mono_ms();
	va_list	 ap;

	if (now < w->next_ms) {
		w->held++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (w->held > 0)
		log_warnx("%s (and %u more like it in the last %d s)", line, w->held,
		    TCP_WARN_EVERY_MS / 1000);
	else
		log_warnx("%s", line);
	w->next_ms = now + TCP_WARN_EVERY_MS;
	w->held = 0;
}

/* ---- clients and their share ---- */

static void
addr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

/* Octets that name an address's network: a /24 (IPv4), a /56 (IPv6). */
static size_t
addr_net_len(const uint8_t a[16])
{
	return IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a) ? 15 : 7;
}

/* Same /24 (IPv4, v4-mapped included) or /56 (IPv6)? */
static int
addr_same_net(const uint8_t a[16], const uint8_t b[16])
{
	return addr_net_len(a) == addr_net_len(b) && memcmp(a, b, addr_net_len(a)) == 0;
}

static const char *
addr_key_text(const uint8_t key[16], char *buf, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)key))
		return inet_ntop(AF_INET, key + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, key, buf, (socklen_t)len);
}

static const char *
net_text(const uint8_t key[16])
{
	return IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)key) ? "/24" : "/56";
}

/*
 * Close c. Its memory goes at tcp_reap, once the loop is done with the
 * events it was handed: one of them may still name c (a connection
 * another one's arrival displaced).
 */
static void
conn_close(struct server *srv, struct tcp_conn *c)
{
	struct tcp_conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->xfr != NULL) {
		xfr_stream_free(c->xfr);
		c->xfr = NULL;
		srv->nxfr--;
	}
	close(c->ev.fd);
	c->ev.fd = -1;
	free(c->out);
	c->out = NULL;
	c->closed = 1;
	c->next = srv->closed;
	srv->closed = c;
	srv->nconns--;
	srv->trim_due = 1;
}

void
tcp_reap(struct server *srv)
{
	struct tcp_conn *c;

	while ((c = srv->closed) != NULL) {
		srv->closed = c->next;
		free(c);
	}
}

/* Connections of one network or one address, to find the crowd. */
struct tcp_group {
	const uint8_t	*key;		/* an address of the group */
	size_t		 n;
	struct tcp_conn	*oldest;	/* its oldest unsigned connection */
};

#define TCP_GROUP_SLOTS	(2 * TCP_MAX_CONNS)	/* a hash table at most half full */

/*
 * Whom a newcomer replaces: the oldest unsigned connection of the most
 * crowded network (within NULL) or of the most crowded address in
 * within's network; so a client alone in its network is never the one to
 * go while others have several. NULL when every candidate is signed.
 */
static struct tcp_conn *
conn_crowd_victim(struct server *srv, const uint8_t *within)
{
	struct tcp_group	 g[TCP_GROUP_SLOTS];
	struct tcp_conn		*c, *best = NULL;
	size_t			 i, k, klen, bestn = 0;
	uint32_t		 h;

	memset(g, 0, sizeof(g));
	for (c = srv->conns; c != NULL; c = c->next) {
		if (within != NULL && !addr_same_net(c->addr, within))
			continue;
		klen = within != NULL ? 16 : addr_net_len(c->addr);
		for (h = 2166136261u, k = 0; k < klen; k++)
			h = (h ^ c->addr[k]) * 16777619u;
		for (i = h % TCP_GROUP_SLOTS; g[i].key != NULL; i = (i + 1) % TCP_GROUP_SLOTS)
			if (within != NULL ? memcmp(g[i].key, c->addr, 16) == 0 :
			    addr_same_net(g[i].key, c->addr))
				break;
		g[i].key = c->addr;
		g[i].n++;
		if (!c->signed_ok)
			g[i].oldest = c;	/* the newest come first */
	}
	for (i = 0; i < TCP_GROUP_SLOTS; i++)
		if (g[i].oldest != NULL && (g[i].n > bestn ||
		    (g[i].n == bestn && g[i].oldest->born_ms < best->born_ms))) {
			best = g[i].oldest;
			bestn = g[i].n;
		}
	return best;
}

/*
 * Room for a new connection from peer: 0, after closing another if a
 * limit other than the client's own was reached; -1 when it must be
 * turned away.
 */
static int
conn_make_room(struct server *srv, const struct sockaddr_storage *peer)
{
	struct tcp_conn	*c, *victim;
	uint8_t		 a[16];
	size_t		 naddr = 0, nnet = 0;
	char		 who[INET6_ADDRSTRLEN], whom[INET6_ADDRSTRLEN];
	const char	*limit;

	addr_key(peer, a);
	for (c = srv->conns; c != NULL; c = c->next) {
		int net = addr_same_net(c->addr, a);

		nnet += net;
		naddr += net && memcmp(c->addr, a, 16) == 0;
	}
	addr_key_text(a, who, sizeof(who));
	if (naddr >= TCP_PER_ADDR) {
		/* Its own connections are its share: the newest is the one refused. */
		tcp_warn(&warn_addr, "tcp: %s has %zu connections, its limit: refusing more",
		    who, naddr);
		return -1;
	}
	if (nnet >= TCP_PER_NET) {
		victim = conn_crowd_victim(srv, a);
		limit = "its network's limit";
	} else if (srv->nconns >= TCP_MAX_CONNS) {
		victim = conn_crowd_victim(srv, NULL);
		limit = "the server's limit";
	} else
		return 0;
	if (victim == NULL) {
		tcp_warn(&warn_full, "tcp: connection from %s refused: %s of connections "
		    "is reached and every one of them is signed", who, limit);
		return -1;
	}
	addr_key_text(victim->addr, whom, sizeof(whom));
	tcp_warn(&warn_evict, "tcp: connection from %s is over %s (%zu in its %s, %zu in all): "
	    "closed the oldest unsigned one of the most crowded, from %s", who, limit, nnet,
	    net_text(a), srv->nconns, whom);
	conn_close(srv, victim);
	return 0;
}

/* Another transfer for c's client now would go past a limit. */
static int
conn_xfr_busy(const struct server *srv, const struct tcp_conn *c)
{
	const struct tcp_conn	*o;
	size_t			 n = 0;

	if (srv->nxfr >= TCP_XFR_MAX)
		return 1;
	for (o = srv->conns; o != NULL; o = o->next)
		n += o->xfr != NULL && memcmp(o->addr, c->addr, 16) == 0;
	return n >= TCP_XFR_PER_ADDR;
}

/* ---- one connection ---- */

static int
conn_queue(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (len > TCP_MSG_MAX)
		return -1;
	if (c->outoff > 0) {
		/* Drop what was written, so the buffer holds only the backlog. */
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + len + 2 > c->outcap) {
		size_t	 cap = c->outcap ? c->outcap : 4096;
		uint8_t	*p;

		while (cap < c->outlen + len + 2)
			cap *= 2;
		if ((p = realloc(c->out, cap)) == NULL)
			return -1;
		c->out = p;
		c->outcap = cap;
	}
	dns_wr16(c->out + c->outlen, (uint16_t)len);
	memcpy(c->out + c->outlen + 2, msg, len);
	c->outlen += len + 2;
	return 0;
}

/* Answers queued and not yet written. */
static size_t
conn_backlog(const struct tcp_conn *c)
{
	return c->outlen - c->outoff;
}

/* Is a whole message waiting in the input buffer? */
static int
conn_has_message(const struct tcp_conn *c)
{
	return c->inlen >= 2 && c->inlen - 2 >= dns_rd16(c->in);
}

/* May the connection take more input now? */
static int
conn_wants_input(const struct tcp_conn *c)
{
	return !c->eof && !c->closing && c->xfr == NULL && conn_backlog(c) <= TCP_OUT_MAX &&
	    c->inlen < sizeof(c->in);
}

/* Nothing more to say or to hear: the connection can close. */
static int
conn_finished(const struct tcp_conn *c)
{
	return conn_backlog(c) == 0 && c->xfr == NULL &&
	    (c->closing || (c->eof && !conn_has_message(c)));
}

/*
 * Watch for input only while the client reads its answers: one that
 * sends and never reads must not make the server buffer without end.
 */
static void
conn_watch(struct server *srv, struct tcp_conn *c)
{
	uint32_t events = (conn_wants_input(c) ? EPOLLIN : 0) |
	    (c->outlen > 0 || c->xfr != NULL ? EPOLLOUT : 0);

	if (events != c->events) {
		c->events = events;
		server_ev_mod(srv, &c->ev, events);
	}
}

/* Write what is queued; -1 when the connection is broken. */
static int
conn_flush(struct tcp_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->ev.fd, c->out + c->outoff, c->outlen - c->outoff);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->outoff += (size_t)n;
		c->last_ms = mono_ms();
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	return 0;
}

/* The transfer's next messages, up to TCP_XFR_FILL queued; -1 closes. */
static int
conn_pump(struct server *srv, struct tcp_conn *c)
{
	uint8_t	*m;
	size_t	 n;
	int	 rc;

	while (c->xfr != NULL && conn_backlog(c) < TCP_XFR_FILL) {
		if ((rc = xfr_stream_next(c->xfr, &m, &n)) == 1) {
			rc = conn_queue(c, m, n);
			free(m);
			if (rc == -1)
				return -1;
			continue;
		}
		if (rc == -1) {
			char who[ADDR_TEXT_MAX];

			tcp_warn(&warn_xfr_fail, "tcp: transfer to %s cut short: a message could "
			    "not be made", addr_text(&c->peer, who, sizeof(who)));
			return -1;
		}
		xfr_stream_free(c->xfr);
		c->xfr = NULL;
		srv->nxfr--;
		srv->trim_due = 1;
	}
	return 0;
}

/* Answer one message from a TCP client; -1 closes the connection. */
static int
conn_message(struct server *srv, struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	static uint8_t		buf[TCP_MSG_MAX];
	struct query		q;
	struct replies		rep;
	enum query_verdict	v;
	size_t			olen;
	int			rc = 0, busy;

	if (query_parse(msg, len, &q) == QUERY_DROP)
		return -1;
	v = query_answer(rcu_dereference(server_snapshot), &q, QUERY_TRANSPORT_TCP,
	    buf, sizeof(buf), &olen);
	if (v == QUERY_REPLY) {
		if (olen == 0)
			return 0;
		metrics_query(metrics_block(srv->metrics, 0), QUERY_TRANSPORT_TCP, &q, buf, olen);
		return conn_queue(c, buf, olen);
	}
	if (v != QUERY_SLOW)
		return 0;
	busy = (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR) && conn_xfr_busy(srv, c);
	server_slow_handle(srv, msg, len, &c->peer, QUERY_TRANSPORT_TCP, busy, &rep);
	if (rep.signed_ok)
		c->signed_ok = 1;
	if (rep.msg != NULL)
		rc = conn_queue(c, rep.msg, rep.len);
	if (rep.xfr != NULL && rc == 0) {
		if (xfr_stream_form(rep.xfr) == XFR_BUSY) {
			char who[INET6_ADDRSTRLEN];

			tcp_warn(&warn_xfr, "tcp: transfer to %s refused: at the limit of %d "
			    "transfers per client or %d in all", addr_key_text(c->addr, who,
			    sizeof(who)), TCP_XFR_PER_ADDR, TCP_XFR_MAX);
		}
		c->xfr = rep.xfr;
		rep.xfr = NULL;
		srv->nxfr++;
		rc = conn_pump(srv, c);
	}
	server_replies_free(&rep);
	return rc;
}

/*
 * Answer the whole messages read so far, while the backlog has room and
 * no transfer is being sent; -1 when the connection must close.
 */
static int
conn_process(struct server *srv, struct tcp_conn *c)
{
	size_t off = 0, mlen;

	while (c->inlen - off >= 2 && c->xfr == NULL && !c->closing &&
	    conn_backlog(c) <= TCP_OUT_MAX) {
		mlen = dns_rd16(c->in + off);
		if (c->inlen - off - 2 < mlen)
			break;
		if (conn_message(srv, c, c->in + off + 2, mlen) == -1)
			return -1;
		/* Whole messages count as activity, not a trickle of bytes. */
		c->last_ms = mono_ms();
		off += 2 + mlen;
		if (++c->queries >= TCP_MAX_QUERIES)
			c->closing = 1;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/*
 * Write, make a transfer's next messages, answer waiting messages, until
 * the socket is full or there is nothing left to do (a transfer gives
 * way after TCP_XFR_TURN bytes, so the loop goes round); -1 closes.
 */
static int
conn_run(struct server *srv, struct tcp_conn *c)
{
	size_t made = 0, before;

	for (;;) {
		if (conn_flush(c) == -1)
			return -1;
		if (c->xfr != NULL) {
			if (conn_backlog(c) >= TCP_XFR_FILL || made >= TCP_XFR_TURN)
				break;
			before = conn_backlog(c);
			if (conn_pump(srv, c) == -1)
				return -1;
			made += conn_backlog(c) - before;
			continue;
		}
		if (c->closing || conn_backlog(c) > TCP_OUT_MAX || !conn_has_message(c))
			break;
		if (conn_process(srv, c) == -1)
			return -1;
	}
	return 0;
}

/*
 * A connection that has said all it will: close it; but when the server
 * ends it (lifetime, query count) while the client may still be sending,
 * send FIN first and wait up to TCP_LINGER_MS for the client's, so that
 * answers still in the kernel's buffers reach it rather than be lost to a
 * reset. Nothing more is read meanwhile. 1 when c is closed or lingering.
 */
static int
conn_end(struct server *srv, struct tcp_conn *c)
{
	if (!c->closing || c->eof || shutdown(c->ev.fd, SHUT_WR) == -1) {
		conn_close(srv, c);
		return 1;
	}
	c->shut_ms = mono_ms();
	c->events = EPOLLRDHUP;
	server_ev_mod(srv, &c->ev, EPOLLRDHUP);
	return 1;
}

/*
 * A connection is ready: write what is queued, answer what was read, read
 * more (a bounded number of times, so one client cannot hold the loop).
 * At end of input the answers still go out, then the connection closes.
 */
void
tcp_conn_ready(struct server *srv, struct ev *ev, uint32_t events)
{
	struct tcp_conn	*c = (struct tcp_conn *)ev;
	ssize_t		 n;
	int		 reads;

	if (c->closed)
		return;
	if (c->shut_ms != 0) {
		/* Lingering: the client's FIN (or an error) is all it waits for. */
		conn_close(srv, c);
		return;
	}
	if (conn_run(srv, c) == -1)
		goto close;
	for (reads = 0; reads < TCP_READS && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    conn_wants_input(c); reads++) {
		n = read(c->ev.fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			goto close;
		c->eof = n == 0;
		c->inlen += (size_t)n;
		if (conn_run(srv, c) == -1)
			goto close;
	}
	if (conn_finished(c) && conn_end(srv, c))
		return;
	conn_watch(srv, c);
	return;
close:
	conn_close(srv, c);
}

/* ---- the listeners ---- */

/* Out of descriptors: leave the listeners alone for a while, and say so once. */
static void
accept_pause(struct server *srv, int err)
{
	size_t i;

	srv->accept_resume_ms = mono_ms() + TCP_ACCEPT_PAUSE_MS;
	for (i = 0; i < srv->nlisteners; i++)
		server_ev_mod(srv, &srv->listeners[i], 0);
	if (!srv->accept_starved)
		log_warnx("tcp: cannot accept connections (%s) with %zu open: trying again "
		    "every %d ms until some close", strerror(err), srv->nconns,
		    TCP_ACCEPT_PAUSE_MS);
	srv->accept_starved = 1;
}

void
tcp_accept_resume(struct server *srv)
{
	size_t i;

	if (srv->accept_resume_ms == 0 || mono_ms() < srv->accept_resume_ms)
		return;
	srv->accept_resume_ms = 0;
	for (i = 0; i < srv->nlisteners; i++)
		server_ev_mod(srv, &srv->listeners[i], EPOLLIN);
}

void
tcp_accept(struct server *srv, struct ev *l)
{
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	struct tcp_conn		*c;
	int			 fd, i;

	for (i = 0; i < TCP_ACCEPTS; i++) {
		plen = sizeof(peer);
		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(srv, errno);
			else if (errno == EAGAIN && srv->accept_starved) {
				/* Every waiting client taken: the shortage is over. */
				log_info("tcp: accepting connections again (%zu open)", srv->nconns);
				srv->accept_starved = 0;
			}
			return;
		}
		if (conn_make_room(srv, &peer) == -1 || (c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		/* Not calloc: the input buffer need not be zeroed, nor touched yet. */
		memset(c, 0, offsetof(struct tcp_conn, in));
		c->ev.kind = EV_CONN;
		c->ev.fd = fd;
		c->events = EPOLLIN;
		c->peer = peer;
		addr_key(&peer, c->addr);
		c->born_ms = c->last_ms = mono_ms();
		c->next = srv->conns;
		srv->conns = c;
		srv->nconns++;
		server_ev_add(srv, &c->ev, EPOLLIN);
	}
}

/*
 * Once a second: close connections idle too long; stop taking messages on
 * those past their lifetime; give freed memory back to the system.
 */
void
tcp_conns_expire(struct server *srv)
{
	struct tcp_conn *c, *next;
	int64_t		 now = mono_ms();

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->last_ms > TCP_IDLE_MS) {
			conn_close(srv, c);
			continue;
		}
		if (c->shut_ms != 0 && now - c->shut_ms > TCP_LINGER_MS) {
			conn_close(srv, c);
			continue;
		}
		if (!c->closing && now - c->born_ms > TCP_LIFETIME_MS) {
			c->closing = 1;
			if (!conn_finished(c) || !conn_end(srv, c))
				conn_watch(srv, c);
		}
	}
	tcp_reap(srv);
	if (srv->trim_due) {
		/* Transfers and buffers are big, freed at once: the heap keeps them. */
		malloc_trim(0);
		srv->trim_due = 0;
	}
}

/* At stop: every connection closed, whatever it still had to say. */
void
tcp_conns_close(struct server *srv)
{
	while (srv->conns != NULL)
		conn_close(srv, srv->conns);
	tcp_reap(srv);
}
