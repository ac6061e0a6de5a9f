/*
 * server_int.h - what the pieces of `redisfo-dns serve` share, and nothing
 * else includes: the server's state, the events of its loop, the message a
 * UDP worker hands to the control thread, and the calls between
 * server.c (the control thread), udp.c (the workers), tcp.c (the
 * connections) and commands.c (the command that starts it all).
 *
 * Everything here but server_snapshot belongs to the control thread. The
 * workers see only their own struct worker, the snapshot (through RCU)
 * and the write end of the slow queue.
 */
#ifndef REDISFO_SERVER_INT_H
#define REDISFO_SERVER_INT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ldns/ldns.h>

#include "dnsd/store.h"
#include "dnsd/update.h"
#include "dnsd/xfr.h"

struct conf;
struct conf_dns;
struct conf_sockaddr;
struct metrics;
struct metrics_block;
struct notifier;
struct snapshot;
struct tcp_conn;
struct worker;

/*
 * TCP limits. A client (one address) has at most TCP_PER_ADDR connections
 * and its /24 (IPv4) or /56 (IPv6) at most TCP_PER_NET; past those, and
 * at TCP_MAX_CONNS in all, a new connection takes the place of the
 * oldest one that has not shown the update key, in the most crowded
 * network or address (a signed exchange always gets in). A connection is closed when idle for TCP_IDLE_MS, and takes
 * no new queries after TCP_LIFETIME_MS or TCP_MAX_QUERIES. At most
 * TCP_XFR_PER_ADDR transfers per client and TCP_XFR_MAX in all are sent
 * at once; more are REFUSED unless signed.
 */
#define TCP_MAX_CONNS		256
#define TCP_PER_ADDR		16
#define TCP_PER_NET		64
#define TCP_IDLE_MS		10000
#define TCP_LIFETIME_MS		60000
#define TCP_MAX_QUERIES		10000
#define TCP_XFR_PER_ADDR	2
#define TCP_XFR_MAX		16
#define TCP_MSG_MAX		65535

/* What a ready descriptor of the control loop is; the first member of each. */
enum ev_kind { EV_SIGNAL, EV_LISTENER, EV_CONN, EV_SLOWQ, EV_NOTIFY, EV_STORE };

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

/* What a slow request is answered with: one message, or a transfer. */
struct replies {
	uint8_t			*msg;		/* NULL: none */
	size_t			 len;
	struct xfr_stream	*xfr;		/* its messages, made as they can go */
	int			 signed_ok;	/* the request showed the update key */
};

struct server {
	const struct conf	*conf;		/* the one in force */
	struct conf		*conf_owned;	/* a reloaded one we must free */
	struct snapshot		*ver;		/* the version served (server_snapshot) */
	struct snapshot		*retired[16];	/* let go once no worker reads them */
	size_t			 nretired;
	struct store		 store;		/* the zone file and journal */
	struct ev		 store_ev;
	struct xfr_zone		*zone_shared;	/* ver's records, while transfers read them */
	struct xfr_journal	 journal;	/* its last changes, for IXFR */
	struct update_replay	*replay;	/* the last signed UPDATEs, kept beside the zone file */
	int			 epfd;
	struct ev		 sig_ev, slowq_ev, notify_ev;
	int			 slowq[2];
	struct ev		*listeners;
	size_t			 nlisteners;
	struct worker		**workers;
	size_t			 nworkers;
	struct tcp_conn		*conns;		/* the newest first */
	struct tcp_conn		*closed;	/* closed this turn of the loop */
	size_t			 nconns;
	size_t			 nxfr;		/* connections sending a transfer */
	int64_t			 accept_resume_ms;	/* 0: accepting */
	int			 accept_starved;	/* out of descriptors, logged */
	int			 trim_due;	/* memory given back since the last trim */
	struct notifier		*notifier;
	struct metrics		*metrics;	/* NULL: dns.metrics_listen is off */
	int			 stopping;
};

/* The snapshot being served (RCU-protected: rcu_dereference to read it). */
extern struct snapshot	*server_snapshot;

/* server.c: run the server on zone z (now its own) until a signal stops it; an exit code. */
int	server_run(const struct conf *conf, ldns_zone *z);
/* server.c: free the versions replaced, once no worker can read them. */
void	server_retire(struct server *srv);
/* server.c: sockets and the event loop, for the workers and connections. */
int	server_socket_open(const struct conf_sockaddr *a, int type, char *err, size_t errlen);
int	server_addr_is_wildcard(const struct sockaddr_storage *ss);
void	server_ev_add(struct server *srv, struct ev *ev, uint32_t events);
void	server_ev_mod(struct server *srv, struct ev *ev, uint32_t events);
/*
 * server.c: answer a message the fast path passed on; replies_free after.
 * xfr_busy: the client or the server is at its transfer limit.
 */
void	server_slow_handle(struct server *srv, const uint8_t *msg, size_t len,
	    const struct sockaddr_storage *peer, int transport, int xfr_busy,
	    struct replies *out);
void	server_replies_free(struct replies *r);

/*
 * udp.c: one worker on listen address a, its replies to the slow path on
 * slowq, counting into mb (NULL: not counted).
 */
struct worker	*udp_worker_create(const struct conf_sockaddr *a, const struct conf_dns *dns,
		    int slowq, struct metrics_block *mb, char *err, size_t errlen);
int		 udp_worker_start(struct worker *w);
/* Stop every worker (woken from recvmmsg), wait for it, and free it. */
void		 udp_workers_stop(struct worker **w, size_t n);

/* tcp.c: the connections, driven by the control loop. */
void	tcp_accept(struct server *srv, struct ev *listener);
void	tcp_conn_ready(struct server *srv, struct ev *ev, uint32_t events);
void	tcp_conns_expire(struct server *srv);
/* Watch the listeners again after a pause for want of descriptors. */
void	tcp_accept_resume(struct server *srv);
void	tcp_conns_close(struct server *srv);
/* Free the connections closed in this turn of the loop, after its events. */
void	tcp_reap(struct server *srv);

#endif
