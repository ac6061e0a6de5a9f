/*
 * udp.c - the UDP workers of `redisfo-dns serve`.
 *
 * One thread per (listen address, worker), each with its own SO_REUSEPORT
 * socket, receiving and sending in batches (recvmmsg and sendmmsg) and
 * answering from the current snapshot through the fast path in query.c,
 * with response rate limiting when dns.rrl asks for it. A message the
 * fast path cannot answer (UPDATE, a TSIG-signed query) is counted by the
 * rate limit like any answer, then copied onto the slow queue, a pipe the
 * control thread in server.c reads, a bounded number a second.
 *
 * A worker never blocks on anything but its socket, never takes a lock,
 * and never allocates, except to hand on such a rare message. It reads the
 * snapshot under liburcu's QSBR flavour: "offline" while it waits in
 * recvmmsg, and through a quiescent state after each batch, so the control
 * thread can free an old snapshot once no worker can still be reading it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "dnsd/metrics.h"
#include "dnsd/query.h"
#include "dnsd/rrl.h"
#include "dnsd/server_int.h"
#include "dnsd/wire.h"

#define UDP_BATCH	32
#define UDP_IN_MAX	4096
#define SLOW_PER_SECOND	2000	/* messages one worker hands on, per second */
/*
 * Socket buffers. Under full load the queries clients have outstanding
 * wait in the receive buffer; on loopback a small query takes some 800
 * bytes of it, so the kernel's usual 208 KB holds ~256 and drops the rest
 * unseen (dnsperf -q 200 from a faster client gets there). 4 MB (the
 * kernel books twice that) holds some 10,000; NSD asks for 1 MB. The send
 * side holds replies the network has not taken yet.
 */
#define UDP_RCVBUF	(4 * 1024 * 1024)
#define UDP_SNDBUF	(1024 * 1024)
#define UDP_RCVBUF_LOW	(1024 * 1024)	/* below this, say so */
#define SEND_RETRIES	3		/* a reply the kernel has no room for: tries */

struct worker {
	pthread_t		 tid;
	int			 fd;
	int			 pktinfo;	/* bound to a wildcard: reply from the address asked */
	int			 started;	/* its thread runs */
	time_t			 slow_second;	/* the second slow_count counts in */
	unsigned		 slow_count;
	int			 slowq;		/* write end of the control pipe */
	struct rrl		*rrl;
	struct metrics_block	*mb;		/* this worker's counters; NULL: none */
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

static atomic_int	workers_stop;

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

/*
 * The slip of a message the control thread would have answered: empty,
 * truncated, unsigned, so that a real client asks again over TCP.
 */
static size_t
worker_slip_slow(const struct query *q, uint8_t *out)
{
	size_t n = query_error(q, DNS_RCODE_NOERROR, out, EDNS_OUR_SIZE);

	out[DNS_OFF_FLAGS1] |= DNS_FLAG_TC;
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
			/*
			 * Counted here, before anything is verified: a flood of
			 * signed messages, good MAC or not, is limited as any
			 * other answer is. The switch sends its UPDATEs over
			 * TCP, which is never limited.
			 */
			enum rrl_verdict r = w->rrl != NULL ?
			    rrl_check(w->rrl, &w->peers[i], now) : RRL_PASS;

			if (r == RRL_PASS) {
				worker_forward(w, w->in_buf[i], len, h);
				continue;
			}
			metrics_rrl(w->mb, r == RRL_DROP);
			if (r == RRL_DROP || (olen = worker_slip_slow(&q, out)) == 0)
				continue;
		} else if (v != QUERY_REPLY || olen == 0) {
			continue;
		} else if (w->rrl != NULL) {
			enum rrl_verdict r = rrl_check(w->rrl, &w->peers[i], now);

			if (r == RRL_DROP) {
				metrics_rrl(w->mb, 1);
				continue;
			}
			if (r == RRL_SLIP) {
				metrics_rrl(w->mb, 0);
				olen = worker_slip(&q, out);
			}
		}
		metrics_query(w->mb, QUERY_TRANSPORT_UDP, &q, out, olen);
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
	int		 i, n, tries;
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
		nout = worker_batch(w, rcu_dereference(server_snapshot), n);
		for (sent = 0, tries = 0; sent < nout; ) {
			int s = sendmmsg(w->fd, w->out_msgs + sent, nout - sent, 0);

			if (s > 0) {
				sent += (unsigned)s;
				tries = 0;
				continue;
			}
			if (s < 0 && errno == EINTR)
				continue;
			/* No room for it yet: wait for some, a few times. */
			if (s < 0 && (errno == EAGAIN || errno == ENOBUFS) &&
			    ++tries < SEND_RETRIES) {
				struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };

				(void)poll(&pfd, 1, 1);
				continue;
			}
			sent++;	/* skip a reply the kernel refuses */
			tries = 0;
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

/*
 * Ask for size bytes of socket buffer: beyond net.core.[rw]mem_max when
 * allowed (root or CAP_NET_ADMIN), else as much as that allows. Returns
 * what the kernel granted (it counts twice what is asked, bookkeeping
 * included), or -1.
 */
static int
udp_buffer_size(int fd, int force_opt, int opt, int size)
{
	int		got = -1;
	socklen_t	len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) == -1)
		return -1;
	return got;
}

static void
udp_buffers(int fd, const char *where)
{
	static int	warned;
	int		rcv = udp_buffer_size(fd, SO_RCVBUFFORCE, SO_RCVBUF, UDP_RCVBUF);

	(void)udp_buffer_size(fd, SO_SNDBUFFORCE, SO_SNDBUF, UDP_SNDBUF);
	if (rcv >= 0 && rcv < UDP_RCVBUF_LOW && !warned) {
		warned = 1;
		log_warnx("udp %s: receive buffer is %d KB (raise net.core.rmem_max, or run "
		    "as root): queries beyond what it holds in a burst are dropped", where,
		    rcv / 1024);
	}
}

struct worker *
udp_worker_create(const struct conf_sockaddr *a, const struct conf_dns *dns, int slowq,
    struct metrics_block *mb, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->slowq = slowq;
	w->mb = mb;
	w->pktinfo = server_addr_is_wildcard(&a->ss);
	w->rrl = rrl_create(dns->rrl.rate, dns->rrl.slip);
	if ((w->fd = server_socket_open(a, SOCK_DGRAM, err, errlen)) == -1) {
		rrl_free(w->rrl);
		free(w);
		return NULL;
	}
	udp_buffers(w->fd, a->text);
	return w;
}

int
udp_worker_start(struct worker *w)
{
	if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

void
udp_workers_stop(struct worker **w, size_t n)
{
	size_t i;

	atomic_store(&workers_stop, 1);
	for (i = 0; i < n; i++)
		(void)shutdown(w[i]->fd, SHUT_RDWR);	/* wakes recvmmsg */
	for (i = 0; i < n; i++) {
		if (w[i]->started)
			pthread_join(w[i]->tid, NULL);
		close(w[i]->fd);
		rrl_free(w[i]->rrl);
		free(w[i]);
	}
}
