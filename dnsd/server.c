/*
 * server.c - the control thread of `redisfo-dns serve`: setup, the event
 * loop, publishing a zone, reloads, the slow path, and stop.
 *
 * The control thread (the main thread) owns everything that changes: the
 * zone's master copy, its IXFR journal and the UPDATE replay cache, the
 * TCP connections (tcp.c), UPDATE, zone transfers, signed queries, NOTIFY,
 * signals and reloads. The UDP workers (udp.c) answer from the snapshot
 * and pass it, over the slow queue, the few messages they cannot answer.
 * A change makes the next version of the zone from the names it touches
 * (snapshot.c), appends it to the journal (store.c), publishes it with
 * one pointer swap, and frees the old one once no worker can still be
 * reading it (liburcu's QSBR flavour). The zone file is written in the
 * background now and then, from a version that stays alive meanwhile.
 *
 * Sockets are opened, then privileges dropped, before the first packet is
 * read. Signals are read through a signalfd in the loop: no work is done
 * in a signal handler. Nothing here runs in a worker: it may allocate and
 * call ldns, but must never block the loop on a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <grp.h>
#include <pthread.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <urcu-qsbr.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "conf/version.h"
#include "dnsd/metrics.h"
#include "dnsd/notify.h"
#include "dnsd/query.h"
#include "dnsd/server_int.h"
#include "dnsd/snapshot.h"
#include "dnsd/store.h"
#include "dnsd/tsig.h"
#include "dnsd/update.h"
#include "dnsd/wire.h"
#include "dnsd/xfr.h"
#include "dnsd/zone.h"

/* Swapped here only, by server_publish; read by every worker under RCU. */
struct snapshot	*server_snapshot;

/* ---- sockets ---- */

int
server_addr_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int
server_socket_open(const struct conf_sockaddr *a, int type, char *err, size_t errlen)
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
	if (type == SOCK_DGRAM && server_addr_is_wildcard(&a->ss) &&
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

void
server_ev_add(struct server *srv, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, ev->fd, &e) == -1)
		log_warnx("epoll_ctl: %s", strerror(errno));
}

void
server_ev_mod(struct server *srv, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	(void)epoll_ctl(srv->epfd, EPOLL_CTL_MOD, ev->fd, &e);
}

/* ---- publishing a zone ---- */

/*
 * Swap in a new version. The old one is let go once no worker can still
 * read it: at the end of this turn of the loop, after the reply that
 * follows the change has gone out.
 */
static void
server_publish(struct server *srv, struct snapshot *snap)
{
	struct snapshot *old = rcu_xchg_pointer(&server_snapshot, snap);

	srv->ver = snap;
	if (old != NULL) {
		if (srv->nretired == sizeof(srv->retired) / sizeof(srv->retired[0])) {
			synchronize_rcu();
			server_retire(srv);
		}
		srv->retired[srv->nretired++] = old;
	}
}

void
server_retire(struct server *srv)
{
	size_t i;

	if (srv->nretired == 0)
		return;
	synchronize_rcu();
	for (i = 0; i < srv->nretired; i++)
		snapshot_free(srv->retired[i]);
	srv->nretired = 0;
	srv->trim_due = 1;
}

/* Transfers read the version they started on, as an ldns zone of its records. */
static void
server_view_release(void *ver)
{
	snapshot_free(ver);
}

static void
server_zone_drop(struct server *srv)
{
	if (srv->zone_shared != NULL) {
		xfr_zone_release(srv->zone_shared);
		srv->zone_shared = NULL;
	}
}

/* Serve version nv from now on (t0: when its making began, for the metrics). */
static void
server_adopt(struct server *srv, struct snapshot *nv, int64_t t0)
{
	server_zone_drop(srv);
	log_info("serving %s serial %u: %zu names in %zu bytes", srv->conf->dns.zone,
	    nv->serial, nv->nnames, nv->bytes);
	metrics_publish(srv->metrics, nv->serial, (double)(mono_us() - t0) / 1e6);
	server_publish(srv, nv);
}

/* ---- the slow path: UPDATE, transfers, signed queries ---- */

/*
 * The UPDATE replay cache lives beside the zone file (saved whole when
 * the zone file is written) and in the journal (each signed UPDATE), so
 * that a signed UPDATE is never applied twice, even across a restart.
 */
static int
server_replay_load(struct server *srv, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (update_replay_path(srv->conf->dns.zone_file, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "%.400s: path too long for its replay cache",
		    srv->conf->dns.zone_file);
		return -1;
	}
	return update_replay_load(srv->replay, path, srv->conf->dns.zone, err, errlen);
}

/* UPDATE reads the served version, name by name. */
static int
server_src_name_rrs(void *ver, const ldns_rdf *owner, ldns_rr_list *out)
{
	return snapshot_name_rrs(ver, owner, out);
}

static const ldns_rr *
server_src_soa(void *ver)
{
	return ((const struct snapshot *)ver)->soa_rr;
}

/*
 * Run an UPDATE: the next version is made from the names it touches, the
 * request and its change made durable in the journal, the version
 * published, and only then the reply sent. Whatever fails, nothing of the
 * change is served or on disk, and the answer is SERVFAIL.
 */
static int
slow_update_apply(struct server *srv, struct update_ctx *u, int rcode, struct zone_edit *edit,
    int64_t t0)
{
	struct snapshot	*old = srv->ver, *nv = NULL;
	ldns_rr_list	*removed = NULL, *added = NULL;
	uint64_t	 time_signed = 0;
	uint8_t		 mac[64];
	size_t		 mac_len = 0;
	int		 fact_rcode = 0, fact;
	char		 err[512];

	if (rcode == DNS_RCODE_NOERROR && edit->n > 0 &&
	    (nv = snapshot_apply(old, edit, &removed, &added, err, sizeof(err))) == NULL) {
		log_errorx("update not applied: %s", err);
		rcode = DNS_RCODE_SERVFAIL;
		update_replay_amend(u, rcode);
	}
	fact = update_replay_fact(u, &time_signed, mac, &mac_len, &fact_rcode);
	if ((fact || nv != NULL) && store_append(&srv->store, fact ? &time_signed : NULL, mac,
	    mac_len, fact_rcode, old, nv, removed, added, err, sizeof(err)) == -1) {
		log_errorx("update not applied: %s", err);
		snapshot_free(nv);
		nv = NULL;
		rcode = DNS_RCODE_SERVFAIL;
		update_replay_amend(u, rcode);
	}
	if (nv == NULL) {
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		return rcode;
	}
	xfr_journal_add(&srv->journal, ldns_rr_clone(old->soa_rr), ldns_rr_clone(nv->soa_rr),
	    removed, added, nv->nrrs);
	server_adopt(srv, nv, t0);
	return rcode;
}

static void
slow_update(struct server *srv, const uint8_t *msg, size_t len, struct replies *out)
{
	struct update_source	 src = { server_src_name_rrs, server_src_soa, srv->ver };
	struct update_ctx	*u;
	struct zone_edit	 edit;
	char			 err[512];
	int			 rcode;
	uint32_t		 before = srv->ver->serial;
	int64_t			 t0 = mono_us();

	if ((u = update_begin(msg, len, &srv->conf->dns.update_key,
	    (unsigned)srv->conf->dns.tsig_fudge_max, srv->replay, err, sizeof(err))) == NULL) {
		log_debug("update dropped: %s", err);
		return;
	}
	if (srv->conf->dns.negative_ttl_strict)
		update_limit_negative_ttl(u, (uint32_t)srv->conf->dns.negative_ttl);
	rcode = update_run_edit(u, &src, srv->conf->dns.zone, &edit);
	rcode = slow_update_apply(srv, u, rcode, &edit, t0);
	zone_edit_free(&edit);
	if (rcode != DNS_RCODE_NOERROR)
		log_info("update answered %s: %s", ldns_lookup_by_id(ldns_rcodes, rcode) ?
		    ldns_lookup_by_id(ldns_rcodes, rcode)->name : "?", update_why(u));
	if (update_reply(u, rcode, &out->msg, &out->len) == -1)
		out->msg = NULL;
	else {
		metrics_update(srv->metrics, rcode);
		out->signed_ok = tsig_signed_without_error(out->msg, out->len);
	}
	update_end(u);
	if (srv->ver->serial != before) {
		log_info("update applied, serial %u", srv->ver->serial);
		if (srv->notifier != NULL)
			notifier_start(srv->notifier, srv->conf->dns.zone,
			    (ldns_rr *)(uintptr_t)srv->ver->soa_rr);
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
	v = tsig_verify_request(q.wire, q.len, &srv->conf->dns.update_key,
	    (unsigned)srv->conf->dns.tsig_fudge_max, &st);
	if ((buf = malloc(TCP_MSG_MAX)) == NULL)
		return;
	q.has_tsig = 0;
	if (v == TSIG_OK) {
		struct snapshot *snap = rcu_dereference(server_snapshot);

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
	metrics_query(metrics_block(srv->metrics, 0), transport, &q, buf, blen);
	out->msg = buf;
	out->len = blen;
	out->signed_ok = v == TSIG_OK;
}

/*
 * A zone transfer: its stream, and one log line saying what it carries to
 * whom. The stream shares the zone being served, and keeps it after an
 * UPDATE replaces it, until the transfer ends.
 */
static void
slow_transfer(struct server *srv, const uint8_t *msg, size_t len,
    const struct sockaddr_storage *peer, int qtype, int busy, struct replies *out)
{
	const char		*kind = qtype == DNS_TYPE_IXFR ? "IXFR" : "AXFR";
	char			 who[INET6_ADDRSTRLEN + 16];
	uint32_t		 serial = srv->ver->serial;
	struct xfr_stream	*s;
	ldns_zone		*view;

	if (srv->zone_shared == NULL) {
		if ((view = snapshot_zone_view(srv->ver, 0)) == NULL)
			return;
		if ((srv->zone_shared = xfr_zone_view(view, server_view_release, srv->ver)) == NULL) {
			snapshot_zone_view_free(view);
			return;
		}
		snapshot_ref(srv->ver);
	}
	if ((s = xfr_stream_start(msg, len, (const struct sockaddr *)peer, srv->zone_shared,
	    &srv->journal, srv->conf->dns.zone, &srv->conf->dns, busy)) == NULL)
		return;
	out->xfr = s;
	out->signed_ok = xfr_stream_signed(s);
	addr_text(peer, who, sizeof(who));
	if (xfr_stream_form(s) == XFR_ERROR || xfr_stream_form(s) == XFR_BUSY)
		metrics_transfer_refused(srv->metrics);
	else
		metrics_transfer(srv->metrics, qtype == DNS_TYPE_AXFR ? MXFR_AXFR :
		    xfr_stream_form(s) == XFR_FULL ? MXFR_IXFR_FULL : MXFR_IXFR);
	switch (xfr_stream_form(s)) {
	case XFR_ERROR: {
		const ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, xfr_stream_rcode(s));

		/* Anyone can ask: at debug level, so a flood cannot fill the log. */
		log_debug("%s to %s: answered %s", kind, who, rc ? rc->name : "?");
		break;
	}
	case XFR_BUSY:
		/* tcp.c says so, rate-limited. */
		log_debug("%s to %s: REFUSED, at the transfer limits", kind, who);
		break;
	case XFR_SOA:
		log_info("%s to %s: current at serial %u", kind, who, serial);
		break;
	case XFR_FULL:
		log_info("%s to %s: the whole zone at serial %u", kind, who, serial);
		break;
	case XFR_INCREMENTAL:
		log_info("%s to %s: %zu change%s up to serial %u", kind, who,
		    xfr_stream_changes(s), xfr_stream_changes(s) == 1 ? "" : "s", serial);
		break;
	}
}

/* Handle a message the fast path passed on; fills out with the replies. */
void
server_slow_handle(struct server *srv, const uint8_t *msg, size_t len,
    const struct sockaddr_storage *peer, int transport, int xfr_busy, struct replies *out)
{
	struct query q;

	memset(out, 0, sizeof(*out));
	if (query_parse(msg, len, &q) != QUERY_REPLY || q.rcode != 0)
		return;
	if (q.opcode == DNS_OPCODE_UPDATE)
		slow_update(srv, msg, len, out);
	else if (transport == QUERY_TRANSPORT_TCP &&
	    (q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR))
		slow_transfer(srv, msg, len, peer, q.qtype, xfr_busy, out);
	else if (q.has_tsig)
		slow_signed_query(srv, &q, transport, out);
}

void
server_replies_free(struct replies *r)
{
	free(r->msg);
	xfr_stream_free(r->xfr);
	r->msg = NULL;
	r->xfr = NULL;
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

			server_slow_handle(srv, r->data, r->len, &r->peer, QUERY_TRANSPORT_UDP, 0, &rep);
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
			server_replies_free(&rep);
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

/* ---- reload ---- */

/* Settings that the running sockets and workers were made with. */
static int
server_needs_restart(const struct conf_dns *a, const struct conf_dns *b)
{
	size_t i;

	if (a->n_listen != b->n_listen || a->workers != b->workers ||
	    a->rrl.rate != b->rrl.rate || a->rrl.slip != b->rrl.slip ||
	    strcmp(a->user, b->user) != 0 ||
	    strcmp(a->metrics_listen.text, b->metrics_listen.text) != 0)
		return 1;
	for (i = 0; i < a->n_listen; i++)
		if (a->listen[i].len != b->listen[i].len ||
		    memcmp(&a->listen[i].ss, &b->listen[i].ss, a->listen[i].len) != 0)
			return 1;
	return 0;
}

/* Tell the secondaries of dns.notify about the zone now served. */
static void
server_notifier_create(struct server *srv)
{
	char err[512] = "";

	if (srv->notifier != NULL)
		notifier_free(srv->notifier);
	srv->notifier = notifier_create(&srv->conf->dns, err, sizeof(err));
	if (srv->notifier == NULL && err[0] != '\0')
		log_warnx("notify: %s", err);
	notifier_count_into(srv->notifier, srv->metrics);
	if (srv->notifier != NULL)
		notifier_start(srv->notifier, srv->conf->dns.zone,
		    (ldns_rr *)(uintptr_t)srv->ver->soa_rr);
}

/*
 * The zone part of a reload. The zone file is the state as of its last
 * write, and the journal holds what came after: a file that is as the
 * server last wrote or read it is not read again. One changed by hand is
 * taken when its serial is after the served one, journaled as a change
 * like any other; one that is gone gets the served zone written back.
 */
static int
server_reload_zone(struct server *srv, const struct conf *nc, char *err, size_t errlen)
{
	struct snapshot	*nv;
	ldns_zone	*z;
	ldns_rr_list	*removed = NULL, *added = NULL;
	int64_t		 t0 = mono_us();
	uint64_t	 digest;

	if (strcmp(nc->dns.zone_file, srv->conf->dns.zone_file) != 0) {
		snprintf(err, errlen, "dns.zone_file changed from %.400s to %.400s: that takes a "
		    "restart", srv->conf->dns.zone_file, nc->dns.zone_file);
		return -1;
	}
	if (access(nc->dns.zone_file, F_OK) == -1 && errno == ENOENT) {
		log_warnx("%s is gone: writing the zone being served back to it",
		    nc->dns.zone_file);
		store_write_now(&srv->store, srv->ver, srv->replay, srv->journal.n);
		return access(nc->dns.zone_file, F_OK) == 0 ? 0 :
		    (snprintf(err, errlen, "cannot write %.400s back", nc->dns.zone_file), -1);
	}
	if (!store_file_changed(&srv->store, digest = store_digest(nc->dns.zone_file))) {
		log_info("%s is as the server wrote it: still serving serial %u",
		    nc->dns.zone_file, srv->ver->serial);
		if (zone_negative_ttl_check(srv->ver->soa_rr, nc->dns.zone_file,
		    (uint32_t)nc->dns.negative_ttl, err, errlen))
			log_warnx("%s", err);
		return 0;
	}
	if ((z = zone_load(nc->dns.zone_file, nc->dns.zone, (uint32_t)nc->dns.ttl,
	    err, errlen)) == NULL)
		return -1;
	if (zone_negative_ttl_check(ldns_zone_soa(z), nc->dns.zone_file,
	    (uint32_t)nc->dns.negative_ttl, err, errlen))
		log_warnx("%s", err);
	if ((int32_t)(zone_serial(z) - srv->ver->serial) <= 0 && srv->store.behind > 0) {
		snprintf(err, errlen, "%.400s holds serial %u, not after the served %u, whose last "
		    "%zu changes it does not hold (they are in the journal): raise the serial "
		    "above %u, or edit the file the server writes within %d ms of the last "
		    "change", nc->dns.zone_file, zone_serial(z), srv->ver->serial,
		    srv->store.behind, srv->ver->serial, STORE_COMPACT_IDLE_MS);
		ldns_zone_deep_free(z);
		return -1;
	}
	/* Changed while it was read: what was read is not known by its digest. */
	if (store_digest(nc->dns.zone_file) != digest)
		digest = 0;
	if ((nv = snapshot_build(z, nc->dns.zone, err, errlen)) == NULL) {
		ldns_zone_deep_free(z);
		return -1;
	}
	snapshot_own_zone(nv, z);
	if (snapshot_diff(srv->ver, nv, &removed, &added) == -1 ||
	    store_reloaded(&srv->store, srv->ver, nv, digest, removed, added, err, errlen) == -1) {
		if (removed == NULL)
			snprintf(err, errlen, "out of memory");
		ldns_rr_list_deep_free(removed);
		ldns_rr_list_deep_free(added);
		snapshot_free(nv);
		return -1;
	}
	xfr_journal_add(&srv->journal, ldns_rr_clone(srv->ver->soa_rr), ldns_rr_clone(nv->soa_rr),
	    removed, added, nv->nrrs);
	server_adopt(srv, nv, t0);
	return 0;
}

static void
server_reload(struct server *srv)
{
	struct conf	*nc = calloc(1, sizeof(*nc));
	char		 err[1024];

	log_info("reloading %s", srv->conf->path);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)mono_us());
	if (nc == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto refused;
	}
	if (conf_load(srv->conf->path, nc, err, sizeof(err)) == -1) {
		free(nc);
		goto refused;
	}
	if (strcmp(nc->dns.zone, srv->conf->dns.zone) != 0) {
		snprintf(err, sizeof(err), "dns.zone changed from %s to %s: that takes a restart",
		    srv->conf->dns.zone, nc->dns.zone);
		goto refused_conf;
	}
	if (server_needs_restart(&nc->dns, &srv->conf->dns))
		log_warnx("changes to dns.listen, dns.workers, dns.rrl, dns.user or "
		    "dns.metrics_listen take a restart; keeping the running ones");
	if (server_reload_zone(srv, nc, err, sizeof(err)) == -1)
		goto refused_conf;
	/* The zone is in: the new config is in force from here, all of it. */
	if (srv->conf_owned != NULL) {
		conf_free(srv->conf_owned);
		free(srv->conf_owned);
	}
	srv->conf_owned = nc;
	srv->conf = nc;
	server_notifier_create(srv);
	metrics_reload(srv->metrics, 1);
	sd_notify(0, "READY=1");
	return;
refused_conf:
	conf_free(nc);
	free(nc);
refused:
	log_errorx("reload refused, still serving the old zone with the old config: %s", err);
	metrics_reload(srv->metrics, 0);
	sd_notify(0, "READY=1");
}

/* ---- setup and the control loop ---- */

/* UDP workers per listen address: dns.workers, or one per CPU. */
static size_t
server_workers_per_address(const struct conf_dns *dns)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	return dns->workers > 0 ? (size_t)dns->workers : (size_t)(ncpu > 0 ? ncpu : 1);
}

static int
server_open(struct server *srv, char *err, size_t errlen)
{
	const struct conf_dns	*dns = &srv->conf->dns;
	size_t			 per = server_workers_per_address(dns);
	size_t			 i, k;

	srv->listeners = calloc(dns->n_listen, sizeof(*srv->listeners));
	srv->workers = calloc(dns->n_listen * per, sizeof(*srv->workers));
	if (srv->listeners == NULL || srv->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < dns->n_listen; i++) {
		srv->listeners[i].kind = EV_LISTENER;
		if ((srv->listeners[i].fd = server_socket_open(&dns->listen[i], SOCK_STREAM,
		    err, errlen)) == -1)
			return -1;
		srv->nlisteners++;
		for (k = 0; k < per; k++) {
			/* Block 0 is the control thread's, for TCP and the slow path. */
			struct worker *w = udp_worker_create(&dns->listen[i], dns, srv->slowq[1],
			    metrics_block(srv->metrics, 1 + srv->nworkers), err, errlen);

			if (w == NULL)
				return -1;
			srv->workers[srv->nworkers++] = w;
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
	char		 dir[PATH_MAX];

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
	folder_of(dns->zone_file, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "dns.user: %s cannot write in %.600s, where the zone file "
		    "and its journal are written", dns->user, dir);
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
		if (srv->accept_resume_ms != 0 && (nt = (int)(srv->accept_resume_ms - mono_ms())) <
		    timeout)
			timeout = nt < 0 ? 0 : nt;
		if ((nt = store_timeout_ms(&srv->store, srv->ver)) >= 0 && nt < timeout)
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
				tcp_accept(srv, ev);
				break;
			case EV_CONN:
				tcp_conn_ready(srv, ev, events[i].events);
				break;
			case EV_SLOWQ:
				slowq_drain(srv);
				break;
			case EV_NOTIFY:
				if (srv->notifier != NULL)
					notifier_on_readable(srv->notifier);
				break;
			case EV_STORE:
				store_tick(&srv->store, srv->ver, srv->replay, srv->journal.n, 1);
				break;
			}
		}
		/* The replies of this turn are out: old versions can go, the file follow. */
		server_retire(srv);
		store_tick(&srv->store, srv->ver, srv->replay, srv->journal.n, 0);
		if (srv->notifier != NULL && notifier_timeout_ms(srv->notifier) == 0)
			notifier_on_timer(srv->notifier);
		tcp_reap(srv);
		tcp_accept_resume(srv);
		if (mono_ms() - last_sweep >= 1000) {
			tcp_conns_expire(srv);
			last_sweep = mono_ms();
		}
		if (srv->notifier != NULL && notifier_fd(srv->notifier) >= 0 &&
		    srv->notify_ev.fd != notifier_fd(srv->notifier)) {
			if (srv->notify_ev.fd >= 0)
				(void)epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->notify_ev.fd, NULL);
			srv->notify_ev.fd = notifier_fd(srv->notifier);
			server_ev_add(srv, &srv->notify_ev, EPOLLIN);
		}
	}
}

static void
server_stop(struct server *srv)
{
	size_t i;

	udp_workers_stop(srv->workers, srv->nworkers);
	tcp_conns_close(srv);
	for (i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	slowq_discard(srv);
	server_zone_drop(srv);
	store_close(&srv->store, srv->ver, srv->replay, srv->journal.n);
	server_retire(srv);
	snapshot_free(rcu_xchg_pointer(&server_snapshot, NULL));
	srv->ver = NULL;
	xfr_journal_clear(&srv->journal);
	if (srv->notifier != NULL)
		notifier_free(srv->notifier);
	if (srv->conf_owned != NULL) {
		conf_free(srv->conf_owned);
		free(srv->conf_owned);
	}
	metrics_free(srv->metrics);
	free(srv->replay);
	free(srv->listeners);
	free(srv->workers);
}

int
server_run(const struct conf *conf, ldns_zone *z)
{
	struct server	 srv;
	struct snapshot	*ver;
	char		 err[1024], where[128];
	sigset_t	 sigs;
	size_t		 i;
	int64_t		 t0 = mono_us();

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	srv.notify_ev.kind = EV_NOTIFY;
	srv.notify_ev.fd = -1;
	if (conf->dns.metrics_listen.text[0] != '\0' &&
	    (srv.metrics = metrics_create(1 + conf->dns.n_listen *
	    server_workers_per_address(&conf->dns), REDISFO_VERSION, err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		ldns_zone_deep_free(z);
		return 1;
	}
	/* Without what it remembers, a captured UPDATE could be applied again. */
	if ((srv.replay = malloc(sizeof(*srv.replay))) == NULL ||
	    server_replay_load(&srv, err, sizeof(err)) == -1) {
		log_errorx("%s", srv.replay == NULL ? "out of memory" : err);
		free(srv.replay);
		ldns_zone_deep_free(z);
		metrics_free(srv.metrics);
		return 2;
	}
	if ((ver = snapshot_build(z, conf->dns.zone, err, sizeof(err))) == NULL) {
		log_errorx("%s: %s", conf->dns.zone_file, err);
		ldns_zone_deep_free(z);
		free(srv.replay);
		metrics_free(srv.metrics);
		return 2;
	}
	snapshot_own_zone(ver, z);
	/* The journal's changes after the zone file's serial, and its history for IXFR. */
	if (store_open(&srv.store, &conf->dns, &ver, srv.replay, &srv.journal, err,
	    sizeof(err)) == -1) {
		log_errorx("%s", err);
		snapshot_free(ver);
		xfr_journal_clear(&srv.journal);
		free(srv.replay);
		metrics_free(srv.metrics);
		return 2;
	}
	server_adopt(&srv, ver, t0);

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
	if (server_open(&srv, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		server_stop(&srv);
		return 1;
	}
	/* After the signals are blocked: its thread must not take them. */
	if (srv.metrics != NULL && metrics_listen(srv.metrics, &conf->dns.metrics_listen.ss,
	    err, sizeof(err)) == -1) {
		log_errorx("dns.%s", err);
		server_stop(&srv);
		return 2;
	}
	if (server_drop_privileges(&conf->dns, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		server_stop(&srv);
		return 1;
	}
	server_ev_add(&srv, &srv.sig_ev, EPOLLIN);
	server_ev_add(&srv, &srv.slowq_ev, EPOLLIN);
	srv.store_ev.kind = EV_STORE;
	srv.store_ev.fd = store_fd(&srv.store);
	server_ev_add(&srv, &srv.store_ev, EPOLLIN);
	for (i = 0; i < srv.nlisteners; i++)
		server_ev_add(&srv, &srv.listeners[i], EPOLLIN);
	for (i = 0; i < srv.nworkers; i++)
		if (udp_worker_start(srv.workers[i]) == -1)
			fatalx("cannot start a worker thread");
	for (i = 0; i < conf->dns.n_listen; i++)
		log_info("listening on %s udp+tcp",
		    addr_text(&conf->dns.listen[i].ss, where, sizeof(where)));
	log_info("udp workers per listen address: %zu; tcp: at most %d connections (%d per "
	    "address, %d per /24 or /56), idle timeout %d s, lifetime %d s",
	    server_workers_per_address(&conf->dns), TCP_MAX_CONNS, TCP_PER_ADDR, TCP_PER_NET,
	    TCP_IDLE_MS / 1000, TCP_LIFETIME_MS / 1000);
	if (srv.metrics != NULL)
		log_info("metrics on http://%s/metrics", conf->dns.metrics_listen.text);
	server_notifier_create(&srv);
	sd_notify(0, "READY=1");

	server_loop(&srv);
	sd_notify(0, "STOPPING=1");
	server_stop(&srv);
	log_info("stopped");
	return 0;
}
