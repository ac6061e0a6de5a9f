/*
 * server.c - `redisfo-dns serve`: sockets, UDP workers, and the control
 * thread.
 *
 * UDP workers: one thread per (listen address, worker), each with its own
 * SO_REUSEPORT socket, receiving and sending in batches (recvmmsg and
 * sendmmsg) and answering from the current snapshot through the fast path
 * in query.c. A worker never blocks on anything but its socket and never
 * allocates, except to hand a rare message (UPDATE, TSIG-signed query)
 * to the control thread.
 *
 * The control thread (the main thread) owns everything that changes: the
 * zone's master copy, TCP connections, UPDATE, zone transfers, NOTIFY,
 * signals and reloads. A change builds a new snapshot aside, persists the
 * zone, publishes the snapshot with one pointer swap, and frees the old
 * one once no worker can still be reading it (liburcu's QSBR flavour:
 * workers are "offline" while they wait in recvmmsg, and pass through a
 * quiescent state after each batch).
 *
 * Signals are read through a signalfd in the control loop: no work is
 * done in a signal handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "dnsd/notify.h"
#include "dnsd/query.h"
#include "dnsd/rrl.h"
#include "dnsd/server.h"
#include "dnsd/snapshot.h"
#include "dnsd/tsig.h"
#include "dnsd/update.h"
#include "dnsd/wire.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"

#define UDP_BATCH	32
#define UDP_IN_MAX	4096
#define TCP_MAX_CONNS	256
#define TCP_IDLE_MS	10000
#define TCP_MSG_MAX	65535
#define TCP_OUT_MAX	(256 * 1024)	/* answers waiting for a client: read no more */
#define TCP_READS	8		/* reads per connection per turn of the loop */
#define SLOW_PER_SECOND	2000	/* messages one worker hands on, per second */

enum ev_kind { EV_SIGNAL, EV_LISTENER, EV_CONN, EV_SLOWQ, EV_NOTIFY };

struct ev {
	enum ev_kind	kind;
	int		fd;
};

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
union pktinfo_ctl {
	char		buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr	align;
};

/* A message a worker hands to the control thread, with where to reply. */
struct slow_req {
	int			fd;
	struct sockaddr_storage	peer;
	socklen_t		peerlen;
	union pktinfo_ctl	ctl;		/* the source address to reply from */
	size_t			ctllen;
	size_t			len;
	uint8_t			data[];
};

struct worker {
	pthread_t		 tid;
	int			 fd;
	int			 pktinfo;	/* bound to a wildcard: reply from the address asked */
	int			 started;	/* its thread runs */
	time_t			 slow_second;	/* the second slow_count counts in */
	unsigned		 slow_count;
	int			 slowq;		/* write end of the control pipe */
	struct rrl		*rrl;
	/* Batches: requests in, replies out. */
	struct mmsghdr		 in_msgs[UDP_BATCH];
	struct iovec		 in_iov[UDP_BATCH];
	struct sockaddr_storage	 peers[UDP_BATCH];
	uint8_t			 in_buf[UDP_BATCH][UDP_IN_MAX];
	union pktinfo_ctl	 in_ctl[UDP_BATCH];
	struct mmsghdr		 out_msgs[UDP_BATCH];
	struct iovec		 out_iov[UDP_BATCH];
	union pktinfo_ctl	 out_ctl[UDP_BATCH];
	uint8_t			 out_buf[UDP_BATCH][EDNS_OUR_SIZE];
};

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

struct server {
	const struct conf	*conf;		/* the one in force */
	struct conf		*conf_owned;	/* a reloaded one we must free */
	const char		*conf_path;
	ldns_zone		*zone;
	struct xfr_journal	 journal;	/* its last changes, for IXFR */
	struct update_replay	 replay;	/* answers to the last signed UPDATEs */
	int			 epfd;
	struct ev		 sig_ev, slowq_ev, notify_ev;
	int			 slowq[2];
	struct ev		*listeners;
	size_t			 nlisteners;
	struct worker		**workers;
	size_t			 nworkers;
	struct tcp_conn		*conns;
	size_t			 nconns;
	struct notifier		*notifier;
	int			 stopping;
};

static struct snapshot	*current_snapshot;	/* RCU-protected */
static atomic_int	 workers_stop;



/* ---- the UDP workers ---- */

/*
 * From the destination address a request arrived on (a socket bound to a
 * wildcard address), the control message that sends the reply from that
 * same address. Returns its length, 0 when the request had none.
 */
static size_t
pktinfo_reply(struct msghdr *in, union pktinfo_ctl *out)
{
	struct cmsghdr	*c, *o = &out->align;

	for (c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

static void
worker_forward(struct worker *w, const uint8_t *msg, size_t len, struct msghdr *h)
{
	struct slow_req	*r;
	time_t		 now = time(NULL);

	/*
	 * Anyone can send a packet that carries a TSIG: hand on a bounded
	 * number a second, so that a flood of them over UDP cannot take the
	 * control thread from TCP, where the switch sends its UPDATEs.
	 */
	if (now != w->slow_second) {
		w->slow_second = now;
		w->slow_count = 0;
	}
	if (++w->slow_count > SLOW_PER_SECOND)
		return;
	if ((r = malloc(sizeof(*r) + len)) == NULL)
		return;
	r->fd = w->fd;
	memcpy(&r->peer, h->msg_name, h->msg_namelen);
	r->peerlen = h->msg_namelen;
	r->ctllen = w->pktinfo ? pktinfo_reply(h, &r->ctl) : 0;
	r->len = len;
	memcpy(r->data, msg, len);
	if (write(w->slowq, &r, sizeof(r)) != sizeof(r))
		free(r);	/* the control thread is swamped: drop it */
}

/* A rate-limited answer that slips through: empty and truncated. */
static size_t
worker_slip(const struct query *q, uint8_t *out)
{
	size_t n = q->question_end ? q->question_end : DNS_HEADER_LEN;

	out[DNS_OFF_FLAGS1] |= DNS_FLAG_TC;
	memset(out + DNS_OFF_ANCOUNT, 0, DNS_HEADER_LEN - DNS_OFF_ANCOUNT);
	return n;
}

/* Answer one batch; returns how many replies are ready in out_msgs. */
static unsigned
worker_batch(struct worker *w, const struct snapshot *snap, int n)
{
	struct query	q;
	unsigned	nout = 0;
	time_t		now = w->rrl ? time(NULL) : 0;
	int		i;

	for (i = 0; i < n; i++) {
		struct msghdr	*h = &w->in_msgs[i].msg_hdr;
		size_t		 len = w->in_msgs[i].msg_len, olen;
		uint8_t		*out = w->out_buf[nout];
		enum query_verdict v;

		if (h->msg_flags & MSG_TRUNC)
			continue;
		if (query_parse(w->in_buf[i], len, &q) == QUERY_DROP)
			continue;
		v = query_answer(snap, &q, QUERY_TRANSPORT_UDP, out, EDNS_OUR_SIZE, &olen);
		if (v == QUERY_SLOW) {
			worker_forward(w, w->in_buf[i], len, h);
			continue;
		}
		if (v != QUERY_REPLY || olen == 0)
			continue;
		if (w->rrl != NULL) {
			enum rrl_verdict r = rrl_check(w->rrl, &w->peers[i], now);

			if (r == RRL_DROP)
				continue;
			if (r == RRL_SLIP)
				olen = worker_slip(&q, out);
		}
		w->out_iov[nout].iov_base = out;
		w->out_iov[nout].iov_len = olen;
		w->out_msgs[nout].msg_hdr.msg_name = &w->peers[i];
		w->out_msgs[nout].msg_hdr.msg_namelen = h->msg_namelen;
		if (w->pktinfo) {
			w->out_msgs[nout].msg_hdr.msg_control = &w->out_ctl[nout];
			w->out_msgs[nout].msg_hdr.msg_controllen = pktinfo_reply(h, &w->out_ctl[nout]);
			if (w->out_msgs[nout].msg_hdr.msg_controllen == 0)
				w->out_msgs[nout].msg_hdr.msg_control = NULL;
		}
		nout++;
	}
	return nout;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	int		 i, n;
	unsigned	 nout, sent;

	for (i = 0; i < UDP_BATCH; i++) {
		w->in_iov[i].iov_base = w->in_buf[i];
		w->in_iov[i].iov_len = UDP_IN_MAX;
		w->in_msgs[i].msg_hdr.msg_iov = &w->in_iov[i];
		w->in_msgs[i].msg_hdr.msg_iovlen = 1;
		w->in_msgs[i].msg_hdr.msg_name = &w->peers[i];
		w->out_msgs[i].msg_hdr.msg_iov = &w->out_iov[i];
		w->out_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	rcu_register_thread();
	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		for (i = 0; i < UDP_BATCH; i++) {
			w->in_msgs[i].msg_hdr.msg_namelen = sizeof(w->peers[i]);
			w->in_msgs[i].msg_hdr.msg_flags = 0;
			if (w->pktinfo) {
				w->in_msgs[i].msg_hdr.msg_control = &w->in_ctl[i];
				w->in_msgs[i].msg_hdr.msg_controllen = sizeof(w->in_ctl[i]);
			}
		}
		rcu_thread_offline();
		n = recvmmsg(w->fd, w->in_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		rcu_thread_online();
		if (n <= 0)
			continue;	/* EINTR, a passing error, or shutdown at stop */
		nout = worker_batch(w, rcu_dereference(current_snapshot), n);
		for (sent = 0; sent < nout; ) {
			int s = sendmmsg(w->fd, w->out_msgs + sent, nout - sent, 0);

			if (s <= 0) {
				if (s < 0 && errno == EINTR)
					continue;
				sent++;	/* skip a reply the kernel refuses */
				continue;
			}
			sent += (unsigned)s;
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

/* ---- sockets ---- */

static int
sockaddr_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int
socket_open(const struct conf_sockaddr *a, int type, char *err, size_t errlen)
{
	int fd, on = 1;

	fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (type == SOCK_DGRAM && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (a->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (type == SOCK_DGRAM && sockaddr_is_wildcard(&a->ss) &&
	    (a->ss.ss_family == AF_INET ?
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) :
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on))) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 128) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s (%s): %s", a->text,
	    type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
ev_add(struct server *srv, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, ev->fd, &e) == -1)
		log_warnx("epoll_ctl: %s", strerror(errno));
}

static void
ev_mod(struct server *srv, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	(void)epoll_ctl(srv->epfd, EPOLL_CTL_MOD, ev->fd, &e);
}

/* ---- publishing a zone ---- */

/* Swap in a new snapshot; the old one is freed once no worker reads it. */
static void
server_publish(struct snapshot *snap)
{
	struct snapshot *old = rcu_xchg_pointer(&current_snapshot, snap);

	if (old != NULL) {
		synchronize_rcu();
		snapshot_free(old);
	}
}

/*
 * Make z the served zone: build its snapshot, persist it when asked, then
 * swap. touched, when not NULL, holds records whose owners are the only
 * names that changed (an UPDATE's). On failure nothing changes and err
 * says why.
 */
static int
server_adopt_zone(struct server *srv, ldns_zone *z, int persist, const ldns_rr_list *touched,
    char *err, size_t errlen)
{
	struct snapshot *snap = snapshot_build(z, srv->conf->dns.zone, err, errlen);

	if (snap == NULL)
		return -1;
	if (persist && zone_write_atomic(z, srv->conf->dns.zone_file, err, errlen) == -1) {
		snapshot_free(snap);
		return -1;
	}
	if (srv->zone != NULL) {
		xfr_journal_record(&srv->journal, srv->zone, z, touched);
		ldns_zone_deep_free(srv->zone);
	}
	srv->zone = z;
	log_info("serving %s serial %u: %zu names in %zu bytes", srv->conf->dns.zone,
	    snap->serial, snap->nnames, snap->bytes);
	server_publish(snap);
	return 0;
}

/* ---- the slow path: UPDATE, transfers, signed queries ---- */

/* What a slow request is answered with: one message, or a transfer's. */
struct replies {
	uint8_t		*msg;		/* NULL: none */
	size_t		 len;
	struct xfr_msgs	 xfr;
};

static void
slow_update(struct server *srv, const uint8_t *msg, size_t len, struct replies *out)
{
	struct update_ctx	*u;
	ldns_zone		*nz = NULL;
	char			 err[512];
	int			 rcode;
	uint32_t		 serial = 0;

	if ((u = update_begin(msg, len, &srv->conf->dns.update_key, &srv->replay,
	    err, sizeof(err))) == NULL) {
		log_debug("update dropped: %s", err);
		return;
	}
	rcode = update_run(u, srv->zone, srv->conf->dns.zone, &nz);
	if (nz != NULL) {
		serial = zone_serial(nz);
		if (server_adopt_zone(srv, nz, 1, update_section(u), err, sizeof(err)) == -1) {
			log_errorx("update not applied: %s", err);
			ldns_zone_deep_free(nz);
			rcode = DNS_RCODE_SERVFAIL;
			serial = 0;
		}
	}
	if (rcode != DNS_RCODE_NOERROR)
		log_info("update answered %s: %s", ldns_lookup_by_id(ldns_rcodes, rcode) ?
		    ldns_lookup_by_id(ldns_rcodes, rcode)->name : "?", update_why(u));
	if (update_reply(u, rcode, &out->msg, &out->len) == -1)
		out->msg = NULL;
	update_end(u);
	if (serial != 0) {
		log_info("update applied, serial %u", serial);
		if (srv->notifier != NULL)
			notifier_start(srv->notifier, srv->conf->dns.zone, ldns_zone_soa(srv->zone));
	}
}

static void
slow_signed_query(struct server *srv, const struct query *q0, int transport,
    struct replies *out)
{
	struct tsig_state	 st;
	struct query		 q = *q0;
	uint8_t			*buf;
	size_t			 blen = 0, max = transport == QUERY_TRANSPORT_TCP ? TCP_MSG_MAX : EDNS_OUR_SIZE;
	enum tsig_verdict	 v;
	ssize_t			 n;

	memset(&st, 0, sizeof(st));
	v = tsig_verify_request(q.wire, q.len, &srv->conf->dns.update_key, &st);
	if ((buf = malloc(TCP_MSG_MAX)) == NULL)
		return;
	q.has_tsig = 0;
	if (v == TSIG_OK) {
		struct snapshot *snap = rcu_dereference(current_snapshot);

		/* Room for the TSIG: the longest key name and a SHA-512 MAC. */
		if (query_answer(snap, &q, transport, buf, max - 620, &blen) != QUERY_REPLY)
			blen = 0;
	} else if (v == TSIG_MALFORMED || v == TSIG_NONE) {
		blen = query_error(&q, DNS_RCODE_FORMERR, buf, max);
		st.present = 0;
	} else
		blen = query_error(&q, DNS_RCODE_NOTAUTH, buf, max);
	if (blen > 0 && st.present) {
		n = tsig_sign_reply(buf, blen, max, &srv->conf->dns.update_key, &st, 1);
		blen = n < 0 ? 0 : (size_t)n;
	}
	if (blen == 0) {
		free(buf);
		return;
	}
	out->msg = buf;
	out->len = blen;
}

/* A zone transfer, and one log line saying what it carried to whom. */
static void
slow_transfer(struct server *srv, const uint8_t *msg, size_t len,
    const struct sockaddr_storage *peer, int qtype, struct replies *out)
{
	const char	*kind = qtype == DNS_TYPE_IXFR ? "IXFR" : "AXFR";
	char		 who[INET6_ADDRSTRLEN + 16];
	uint32_t	 serial = zone_serial(srv->zone);

	if (xfr_answer(msg, len, (const struct sockaddr *)peer, srv->zone, &srv->journal,
	    srv->conf->dns.zone, &srv->conf->dns, &out->xfr) == -1)
		return;
	addr_text(peer, who, sizeof(who));
	switch (out->xfr.form) {
	case XFR_ERROR: {
		const ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes,
		    out->xfr.n > 0 && out->xfr.len[0] >= 4 ? dns_rcode(out->xfr.msg[0]) :
		    DNS_RCODE_SERVFAIL);

		/* Anyone can ask: at debug level, so a flood cannot fill the log. */
		log_debug("%s to %s: answered %s", kind, who, rc ? rc->name : "?");
		break;
	}
	case XFR_SOA:
		log_info("%s to %s: current at serial %u", kind, who, serial);
		break;
	case XFR_FULL:
		log_info("%s to %s: the whole zone at serial %u (%zu message%s)", kind, who,
		    serial, out->xfr.n, out->xfr.n == 1 ? "" : "s");
		break;
	case XFR_INCREMENTAL:
		log_info("%s to %s: %zu change%s up to serial %u (%zu message%s)", kind, who,
		    out->xfr.changes, out->xfr.changes == 1 ? "" : "s", serial, out->xfr.n,
		    out->xfr.n == 1 ? "" : "s");
		break;
	}
}

/* Handle a message the fast path passed on; fills out with the replies. */
static void
slow_handle(struct server *srv, const uint8_t *msg, size_t len,
    const struct sockaddr_storage *peer, int transport, struct replies *out)
{
	struct query q;

	memset(out, 0, sizeof(*out));
	if (query_parse(msg, len, &q) != QUERY_REPLY || q.rcode != 0)
		return;
	if (q.opcode == DNS_OPCODE_UPDATE)
		slow_update(srv, msg, len, out);
	else if (transport == QUERY_TRANSPORT_TCP &&
	    (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR))
		slow_transfer(srv, msg, len, peer, q.qtype, out);
	else if (q.has_tsig)
		slow_signed_query(srv, &q, transport, out);
}

static void
replies_free(struct replies *r)
{
	free(r->msg);
	if (r->xfr.n > 0)
		xfr_msgs_free(&r->xfr);
}

static void
slowq_drain(struct server *srv)
{
	struct slow_req	*reqs[64];
	ssize_t		 got;
	size_t		 i;

	while ((got = read(srv->slowq[0], reqs, sizeof(reqs))) > 0) {
		for (i = 0; i < (size_t)got / sizeof(reqs[0]); i++) {
			struct slow_req	*r = reqs[i];
			struct replies	 rep;

			slow_handle(srv, r->data, r->len, &r->peer, QUERY_TRANSPORT_UDP, &rep);
			if (rep.msg != NULL) {
				struct iovec	iov = { rep.msg, rep.len };
				struct msghdr	mh = {
					.msg_name = &r->peer, .msg_namelen = r->peerlen,
					.msg_iov = &iov, .msg_iovlen = 1,
					.msg_control = r->ctllen ? &r->ctl : NULL,
					.msg_controllen = r->ctllen,
				};

				(void)sendmsg(r->fd, &mh, 0);
			}
			replies_free(&rep);
			free(r);
		}
	}
}

/*
 * At stop, requests still queued are dropped, not applied: the sockets to
 * answer them on are closed, and a change nobody hears of is worse than
 * one the client knows it must send again.
 */
static void
slowq_discard(struct server *srv)
{
	struct slow_req	*reqs[64];
	ssize_t		 got, i;

	if (srv->slowq[0] <= 0)
		return;
	while ((got = read(srv->slowq[0], reqs, sizeof(reqs))) > 0)
		for (i = 0; i < got / (ssize_t)sizeof(reqs[0]); i++)
			free(reqs[i]);
}

/* ---- TCP ---- */

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
		ev_mod(srv, &c->ev, events);
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
	v = query_answer(rcu_dereference(current_snapshot), &q, QUERY_TRANSPORT_TCP,
	    buf, sizeof(buf), &olen);
	if (v == QUERY_REPLY)
		return olen > 0 ? conn_queue(c, buf, olen) : 0;
	if (v != QUERY_SLOW)
		return 0;
	slow_handle(srv, msg, len, &c->peer, QUERY_TRANSPORT_TCP, &rep);
	if (rep.msg != NULL)
		rc = conn_queue(c, rep.msg, rep.len);
	for (i = 0; i < rep.xfr.n && rc == 0; i++)
		rc = conn_queue(c, rep.xfr.msg[i], rep.xfr.len[i]);
	replies_free(&rep);
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
static void
conn_ready(struct server *srv, struct tcp_conn *c, uint32_t events)
{
	ssize_t	n;
	int	reads;

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

static void
listener_accept(struct server *srv, struct ev *l)
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
		ev_add(srv, &c->ev, EPOLLIN);
	}
}

static void
conns_expire(struct server *srv)
{
	struct tcp_conn *c, *next;
	int64_t		 now = mono_ms();

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->last_ms > TCP_IDLE_MS)
			conn_close(srv, c);
	}
}

/* ---- reload ---- */

/* Settings that the running sockets and workers were made with. */
static int
server_needs_restart(const struct conf_dns *a, const struct conf_dns *b)
{
	size_t i;

	if (a->n_listen != b->n_listen || a->workers != b->workers ||
	    a->rrl.rate != b->rrl.rate || a->rrl.slip != b->rrl.slip ||
	    strcmp(a->user, b->user) != 0)
		return 1;
	for (i = 0; i < a->n_listen; i++)
		if (a->listen[i].len != b->listen[i].len ||
		    memcmp(&a->listen[i].ss, &b->listen[i].ss, a->listen[i].len) != 0)
			return 1;
	return 0;
}

static void
server_reload(struct server *srv)
{
	struct conf	*nc = calloc(1, sizeof(*nc));
	ldns_zone	*z = NULL;
	char		 err[1024];

	log_info("reloading %s", srv->conf_path);
	if (nc == NULL)
		return;
	if (conf_load(srv->conf_path, nc, err, sizeof(err)) == -1) {
		free(nc);
		goto refused;
	}
	if (strcmp(nc->dns.zone, srv->conf->dns.zone) != 0) {
		snprintf(err, sizeof(err), "dns.zone changed from %s to %s: that takes a restart",
		    srv->conf->dns.zone, nc->dns.zone);
		goto refused_conf;
	}
	if (server_needs_restart(&nc->dns, &srv->conf->dns))
		log_warnx("changes to dns.listen, dns.workers, dns.rrl or dns.user take a "
		    "restart; keeping the running ones");
	/*
	 * The zone file is the state: if it is gone, the zone in memory is
	 * the latest state there is. Write it back rather than start over
	 * from the config, which would move the record and the serial back.
	 */
	if (access(nc->dns.zone_file, F_OK) == -1 && errno == ENOENT) {
		log_warnx("%s is gone: writing the zone being served back to it",
		    nc->dns.zone_file);
		if (zone_write_atomic(srv->zone, nc->dns.zone_file, err, sizeof(err)) == -1)
			goto refused_conf;
	}
	if ((z = zone_load(nc->dns.zone_file, nc->dns.zone, (uint32_t)nc->dns.ttl,
	    err, sizeof(err))) == NULL || server_adopt_zone(srv, z, 0, NULL, err, sizeof(err)) == -1)
		goto refused_conf;
	/* The zone is in: the new config is in force from here, all of it. */
	if (srv->conf_owned != NULL) {
		conf_free(srv->conf_owned);
		free(srv->conf_owned);
	}
	srv->conf_owned = nc;
	srv->conf = nc;
	if (srv->notifier != NULL)
		notifier_free(srv->notifier);
	err[0] = '\0';
	srv->notifier = notifier_create(&nc->dns, err, sizeof(err));
	if (srv->notifier == NULL && err[0] != '\0')
		log_warnx("notify: %s", err);
	if (srv->notifier != NULL)
		notifier_start(srv->notifier, nc->dns.zone, ldns_zone_soa(srv->zone));
	return;
refused_conf:
	if (z != NULL)
		ldns_zone_deep_free(z);
	conf_free(nc);
	free(nc);
refused:
	log_errorx("reload refused, still serving the old zone with the old config: %s", err);
}

/* ---- setup and the control loop ---- */

static int
server_open(struct server *srv, char *err, size_t errlen)
{
	const struct conf_dns	*dns = &srv->conf->dns;
	long			 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t			 per = dns->workers > 0 ? (size_t)dns->workers :
				     (size_t)(ncpu > 0 ? ncpu : 1);
	size_t			 i, k;

	srv->listeners = calloc(dns->n_listen, sizeof(*srv->listeners));
	srv->workers = calloc(dns->n_listen * per, sizeof(*srv->workers));
	if (srv->listeners == NULL || srv->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < dns->n_listen; i++) {
		srv->listeners[i].kind = EV_LISTENER;
		if ((srv->listeners[i].fd = socket_open(&dns->listen[i], SOCK_STREAM, err, errlen)) == -1)
			return -1;
		srv->nlisteners++;
		for (k = 0; k < per; k++) {
			struct worker *w = calloc(1, sizeof(*w));

			if (w == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			srv->workers[srv->nworkers++] = w;
			w->slowq = srv->slowq[1];
			w->pktinfo = sockaddr_is_wildcard(&dns->listen[i].ss);
			w->rrl = rrl_create(dns->rrl.rate, dns->rrl.slip);
			if ((w->fd = socket_open(&dns->listen[i], SOCK_DGRAM, err, errlen)) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Become dns.user, once the sockets are open and before the first packet
 * is read. The zone file's folder must stay writable: every change is a
 * new file renamed over the old one.
 */
static int
server_drop_privileges(const struct conf_dns *dns, char *err, size_t errlen)
{
	struct passwd	*pw;
	char		 dir[PATH_MAX], *slash;

	if (dns->user[0] == '\0')
		return 0;
	if ((pw = getpwnam(dns->user)) == NULL) {
		snprintf(err, errlen, "dns.user: there is no user \"%s\"", dns->user);
		return -1;
	}
	if (initgroups(dns->user, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "dns.user: cannot become %s: %s", dns->user, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", dns->zone_file);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "dns.user: %s cannot write in %.600s, where the zone file "
		    "is replaced on every change", dns->user, dir);
		return -1;
	}
	log_info("running as %s", dns->user);
	return 0;
}

static void
server_loop(struct server *srv)
{
	struct epoll_event	events[64];
	int			n, i, timeout, nt;
	int64_t			last_sweep = mono_ms();

	while (!srv->stopping) {
		timeout = 1000;
		if (srv->notifier != NULL && (nt = notifier_timeout_ms(srv->notifier)) >= 0 &&
		    nt < timeout)
			timeout = nt;
		n = epoll_wait(srv->epfd, events, 64, timeout);
		for (i = 0; i < n; i++) {
			struct ev *ev = events[i].data.ptr;

			switch (ev->kind) {
			case EV_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						server_reload(srv);
					else {
						log_info("stopping on signal %u", si.ssi_signo);
						srv->stopping = 1;
					}
				}
				break;
			}
			case EV_LISTENER:
				listener_accept(srv, ev);
				break;
			case EV_CONN: {
				struct tcp_conn *c = (struct tcp_conn *)ev;

				conn_ready(srv, c, events[i].events);
				break;
			}
			case EV_SLOWQ:
				slowq_drain(srv);
				break;
			case EV_NOTIFY:
				if (srv->notifier != NULL)
					notifier_on_readable(srv->notifier);
				break;
			}
		}
		if (srv->notifier != NULL && notifier_timeout_ms(srv->notifier) == 0)
			notifier_on_timer(srv->notifier);
		if (mono_ms() - last_sweep >= 1000) {
			conns_expire(srv);
			last_sweep = mono_ms();
		}
		if (srv->notifier != NULL && notifier_fd(srv->notifier) >= 0 &&
		    srv->notify_ev.fd != notifier_fd(srv->notifier)) {
			if (srv->notify_ev.fd >= 0)
				(void)epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->notify_ev.fd, NULL);
			srv->notify_ev.fd = notifier_fd(srv->notifier);
			ev_add(srv, &srv->notify_ev, EPOLLIN);
		}
	}
}

static void
server_stop(struct server *srv)
{
	size_t i;

	atomic_store(&workers_stop, 1);
	for (i = 0; i < srv->nworkers; i++)
		(void)shutdown(srv->workers[i]->fd, SHUT_RDWR);	/* wakes recvmmsg */
	for (i = 0; i < srv->nworkers; i++) {
		if (srv->workers[i]->started)
			pthread_join(srv->workers[i]->tid, NULL);
		if (srv->workers[i]->fd != -1)
			close(srv->workers[i]->fd);
		rrl_free(srv->workers[i]->rrl);
		free(srv->workers[i]);
	}
	while (srv->conns != NULL)
		conn_close(srv, srv->conns);
	for (i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	slowq_discard(srv);
	snapshot_free(rcu_xchg_pointer(&current_snapshot, NULL));
	if (srv->zone != NULL)
		ldns_zone_deep_free(srv->zone);
	xfr_journal_clear(&srv->journal);
	if (srv->notifier != NULL)
		notifier_free(srv->notifier);
	if (srv->conf_owned != NULL) {
		conf_free(srv->conf_owned);
		free(srv->conf_owned);
	}
	free(srv->listeners);
	free(srv->workers);
}

int
cmd_serve(const struct conf *conf, const char *conf_path, int argc, char **argv)
{
	struct server	 srv;
	char		 err[1024], where[128];
	sigset_t	 sigs;
	ldns_zone	*z;
	size_t		 i;
	int		 created;

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "usage: redisfo-dns [-c FILE] serve\n");
		return 2;
	}
	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	srv.conf_path = conf_path;
	srv.notify_ev.kind = EV_NOTIFY;
	srv.notify_ev.fd = -1;

	if ((created = zone_create_if_missing(conf, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		return 1;
	}
	if (created)
		log_info("created %s from the config", conf->dns.zone_file);
	/* A zone that cannot be served is a configuration error, as in checkconf. */
	if ((z = zone_load(conf->dns.zone_file, conf->dns.zone, (uint32_t)conf->dns.ttl,
	    err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		return 2;
	}
	if (server_adopt_zone(&srv, z, 0, NULL, err, sizeof(err)) == -1) {
		log_errorx("%s: %s", conf->dns.zone_file, err);
		ldns_zone_deep_free(z);
		return 2;
	}

	/* Signals: blocked in every thread, read by the control loop. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((srv.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    pipe2(srv.slowq, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    (srv.sig_ev.fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_errorx("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	srv.sig_ev.kind = EV_SIGNAL;
	srv.slowq_ev.kind = EV_SLOWQ;
	srv.slowq_ev.fd = srv.slowq[0];
	if (server_open(&srv, err, sizeof(err)) == -1 ||
	    server_drop_privileges(&conf->dns, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		server_stop(&srv);
		return 1;
	}
	err[0] = '\0';
	srv.notifier = notifier_create(&conf->dns, err, sizeof(err));
	if (srv.notifier == NULL && err[0] != '\0')
		log_warnx("notify: %s", err);
	ev_add(&srv, &srv.sig_ev, EPOLLIN);
	ev_add(&srv, &srv.slowq_ev, EPOLLIN);
	for (i = 0; i < srv.nlisteners; i++)
		ev_add(&srv, &srv.listeners[i], EPOLLIN);
	for (i = 0; i < srv.nworkers; i++)
		if (pthread_create(&srv.workers[i]->tid, NULL, worker_main, srv.workers[i]) != 0)
			fatalx("cannot start a worker thread");
		else
			srv.workers[i]->started = 1;
	for (i = 0; i < conf->dns.n_listen; i++)
		log_info("listening on %s udp+tcp",
		    addr_text(&conf->dns.listen[i].ss, where, sizeof(where)));
	log_info("%zu udp workers, tcp: at most %d connections, idle timeout %d s",
	    srv.nworkers, TCP_MAX_CONNS, TCP_IDLE_MS / 1000);
	if (srv.notifier != NULL)
		notifier_start(srv.notifier, conf->dns.zone, ldns_zone_soa(srv.zone));

	server_loop(&srv);
	server_stop(&srv);
	log_info("stopped");
	return 0;
}

int
cmd_checkconf(const struct conf *conf, int argc, char **argv)
{
	struct snapshot	*snap;
	ldns_zone	*z;
	char		 err[1024];

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "usage: redisfo-dns [-c FILE] checkconf\n");
		return 2;
	}
	if (access(conf->dns.zone_file, F_OK) == -1 && errno == ENOENT) {
		printf("configuration OK (zone file %s does not exist yet: serve creates it)\n",
		    conf->dns.zone_file);
		return 0;
	}
	if ((z = zone_load(conf->dns.zone_file, conf->dns.zone, (uint32_t)conf->dns.ttl,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 2;
	}
	snap = snapshot_build(z, conf->dns.zone, err, sizeof(err));
	ldns_zone_deep_free(z);
	if (snap == NULL) {
		fprintf(stderr, "redisfo-dns: %s: %s\n", conf->dns.zone_file, err);
		return 2;
	}
	snapshot_free(snap);
	printf("configuration OK\n");
	return 0;
}
