/*
 * tcp.c - the TCP connections of `redisfo-dns serve`.
 *
 * Run by the control thread (server.c) from its epoll loop: accept up to
 * TCP_MAX_CONNS clients on the listening sockets, read 2-byte-length
 * framed messages, several to a connection, answer each through the query
 * fast path or, for UPDATE, zone transfers and signed queries, through the
 * server's slow path, and write the answers back as the client reads
 * them. A connection idle for TCP_IDLE_MS is closed.
 *
 * Every socket is non-blocking and nothing here may wait: one slow or
 * hostile client must not hold the loop that also applies UPDATEs. So a
 * connection is read a bounded number of times a turn, and not at all
 * while TCP_OUT_MAX of its answers wait unread: a client that sends and
 * never reads cannot make the server buffer without end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "conf/util.h"
#include "dnsd/metrics.h"
#include "dnsd/query.h"
#include "dnsd/server_int.h"
#include "dnsd/wire.h"

#define TCP_OUT_MAX	(256 * 1024)	/* answers waiting for a client: read no more */
#define TCP_READS	8		/* reads per connection per turn of the loop */

struct tcp_conn {
	struct ev		 ev;
	struct sockaddr_storage	 peer;
	int64_t			 last_ms;
	uint8_t			 in[2 + TCP_MSG_MAX];
	size_t			 inlen;
	uint8_t			*out;
	size_t			 outlen, outoff, outcap;
	uint32_t		 events;	/* what epoll watches for it */
	int			 eof;		/* the client has sent all it will */
	struct tcp_conn		*next;
};

static void
conn_close(struct server *srv, struct tcp_conn *c)
{
	struct tcp_conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->ev.fd);
	free(c->out);
	free(c);
	srv->nconns--;
}

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

/*
 * Watch for input only while the client reads its answers: one that
 * sends and never reads must not make the server buffer without end.
 */
static void
conn_watch(struct server *srv, struct tcp_conn *c)
{
	uint32_t events = (c->eof || conn_backlog(c) > TCP_OUT_MAX ? 0 : EPOLLIN) |
	    (c->outlen > 0 ? EPOLLOUT : 0);

	if (events != c->events) {
		c->events = events;
		server_ev_mod(srv, &c->ev, events);
	}
}

/* Write what is queued; -1 when the connection is broken. */
static int
conn_flush(struct server *srv, struct tcp_conn *c)
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
	conn_watch(srv, c);
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
	size_t			olen, i;
	int			rc = 0;

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
	server_slow_handle(srv, msg, len, &c->peer, QUERY_TRANSPORT_TCP, &rep);
	if (rep.msg != NULL)
		rc = conn_queue(c, rep.msg, rep.len);
	for (i = 0; i < rep.xfr.n && rc == 0; i++)
		rc = conn_queue(c, rep.xfr.msg[i], rep.xfr.len[i]);
	server_replies_free(&rep);
	return rc;
}

/*
 * Answer the whole messages read so far, while the backlog has room;
 * -1 when the connection must close.
 */
static int
conn_process(struct server *srv, struct tcp_conn *c)
{
	size_t off = 0, mlen;

	while (c->inlen - off >= 2 && conn_backlog(c) <= TCP_OUT_MAX) {
		mlen = dns_rd16(c->in + off);
		if (c->inlen - off - 2 < mlen)
			break;
		if (conn_message(srv, c, c->in + off + 2, mlen) == -1)
			return -1;
		/* Whole messages count as activity, not a trickle of bytes. */
		c->last_ms = mono_ms();
		off += 2 + mlen;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/* Is a whole message waiting in the input buffer? */
static int
conn_has_message(const struct tcp_conn *c)
{
	return c->inlen >= 2 && c->inlen - 2 >= dns_rd16(c->in);
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

	if (conn_flush(srv, c) == -1 || conn_process(srv, c) == -1)
		goto close;
	for (reads = 0; reads < TCP_READS && !c->eof && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    conn_backlog(c) <= TCP_OUT_MAX && c->inlen < sizeof(c->in); reads++) {
		n = read(c->ev.fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			goto close;
		c->eof = n == 0;
		c->inlen += (size_t)n;
		if (conn_process(srv, c) == -1)
			goto close;
	}
	/* Answers drained while messages wait: go on with them. */
	for (;;) {
		if (conn_flush(srv, c) == -1)
			goto close;
		if (conn_backlog(c) > TCP_OUT_MAX || !conn_has_message(c))
			break;
		if (conn_process(srv, c) == -1)
			goto close;
	}
	if (c->eof && c->outlen == 0 && !conn_has_message(c))
		goto close;
	return;
close:
	conn_close(srv, c);
}

void
tcp_accept(struct server *srv, struct ev *l)
{
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	struct tcp_conn		*c;
	int			 fd;

	for (;;) {
		plen = sizeof(peer);
		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		if (srv->nconns >= TCP_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);	/* at the cap: the client tries again later */
			continue;
		}
		c->ev.kind = EV_CONN;
		c->ev.fd = fd;
		c->events = EPOLLIN;
		c->peer = peer;
		c->last_ms = mono_ms();
		c->next = srv->conns;
		srv->conns = c;
		srv->nconns++;
		server_ev_add(srv, &c->ev, EPOLLIN);
	}
}

void
tcp_conns_expire(struct server *srv)
{
	struct tcp_conn *c, *next;
	int64_t		 now = mono_ms();

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->last_ms > TCP_IDLE_MS)
			conn_close(srv, c);
	}
}

/* At stop: every connection closed, whatever it still had to say. */
void
tcp_conns_close(struct server *srv)
{
	while (srv->conns != NULL)
		conn_close(srv, srv->conns);
}
