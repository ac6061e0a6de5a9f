/*
 * sentinel.c - `redisfo-dns sentinel-reconfig MASTER-NAME ROLE STATE
 * FROM-IP FROM-PORT TO-IP TO-PORT`, a drop-in Redis Sentinel
 * client-reconfig-script: when Sentinel has promoted a replica, the
 * record follows it.
 *
 * Sentinel runs the script on the leader and on every observer, STATE
 * "start" in Redis 7 ("failover" in its documentation; both are taken,
 * any other STATE is ignored with exit 0). Whichever call comes first
 * moves the record; the others find it already names TO and exit 0.
 * MASTER-NAME is a service's sentinel_name; FROM and TO are nodes of it,
 * by host and port or by served address and port. The move is the
 * switch's compare-and-swap UPDATE: prerequisite "the record still names
 * FROM's addresses", then TO's addresses and the TXT with the next epoch
 * (fenced= kept unless it names TO); one audit line and one log line say
 * what happened.
 *
 * It never touches Redis (Sentinel already did) and never waits long:
 * the failover lock is asked for without blocking, again and again for
 * at most SENTINEL_LOCK_WAIT_MS (another call for the same failover
 * holds it for milliseconds; a switch or a rejoin holds it longer, and
 * that is a retry). Exit codes, Sentinel's convention: 0 done (or
 * nothing to do), 1 retry later (the DNS server cannot be reached, the
 * lock is held, the outcome is unknown), 2 do not retry (bad arguments,
 * no such service or node, the record names neither FROM nor TO, the
 * server refuses the key).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "failover/audit.h"
#include "failover/dnsclient.h"
#include "failover/lease.h"
#include "failover/lock.h"
#include "failover/move.h"
#include "failover/msg.h"
#include "failover/sentinel.h"
#include "failover/state.h"
#include "failover/txt.h"

#define SENTINEL_LOCK_WAIT_MS	1000	/* longest wait for the failover lock */
#define SENTINEL_LOCK_POLL_MS	2

#define SENTINEL_USAGE	"usage: sentinel-reconfig MASTER-NAME ROLE STATE " \
			"FROM-IP FROM-PORT TO-IP TO-PORT"

/* One call, for the audit line and the log line. */
struct sentinel_call {
	const struct conf		*conf;
	const struct conf_service	*svc;		/* NULL until mapped */
	const char			*master, *role, *state;
	const char			*from_ip, *to_ip;
	int				 from_port, to_port;
	int				 from, to;	/* node indexes, -1 */
	long long			 t_locked, t_read;	/* mono_ms, for the log */
	char				 from_name[CONF_NAME_MAX + 80];
	char				 to_name[CONF_NAME_MAX + 80];
	long long			 t0;		/* mono_ms at the start */
};

const struct conf_service *
sentinel_service_find(const struct conf *conf, const char *master)
{
	size_t i;

	for (i = 0; i < conf->n_services; i++)
		if (conf->services[i].sentinel_name[0] &&
		    strcmp(conf->services[i].sentinel_name, master) == 0)
			return &conf->services[i];
	return NULL;
}

/* Is text the address ip? Both parsed, compared byte for byte. */
static int
sentinel_same_ip(const char *text, const struct conf_ip *ip)
{
	struct conf_ip a;

	return conf_ip_parse(text, &a) == 0 && a.family == ip->family &&
	    memcmp(a.bytes, ip->bytes, a.family == AF_INET ? 4 : 16) == 0;
}

int
sentinel_node_find(const struct conf_service *svc, const char *ip, int port)
{
	const struct conf_node	*nd;
	struct conf_ip		 want;
	int			 parsed;
	size_t			 i, j;

	parsed = conf_ip_parse(ip, &want) == 0;
	for (i = 0; i < svc->n_nodes; i++) {
		nd = &svc->nodes[i];
		if (nd->port == port && (strcasecmp(nd->host, ip) == 0 ||
		    (parsed && sentinel_same_ip(nd->host, &want))))
			return (int)i;
	}
	for (i = 0; parsed && i < svc->n_nodes; i++) {
		nd = &svc->nodes[i];
		for (j = 0; nd->port == port && j < nd->n_address; j++)
			if (nd->address[j].family == want.family &&
			    memcmp(nd->address[j].bytes, want.bytes,
			    want.family == AF_INET ? 4 : 16) == 0)
				return (int)i;
	}
	return -1;
}

enum sentinel_decision
sentinel_decide(int served, int from, int to)
{
	if (served >= 0 && served == to)
		return SENTINEL_ALREADY;
	if (served >= 0 && served == from)
		return SENTINEL_MOVE;
	return SENTINEL_STALE;
}

/* The call's one audit line and log line; returns rc, for tail calls. */
static int
sentinel_report(struct sentinel_call *sc, int rc, const char *result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
sentinel_report(struct sentinel_call *sc, int rc, const char *result,
    const char *fmt, ...)
{
	char			detail[768], who[CONF_NAME_MAX + 400], err[512];
	struct audit_entry	e;
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	memset(&e, 0, sizeof(e));
	e.service = sc->svc != NULL ? sc->svc->name : "";
	e.mode = "sentinel";
	e.from = sc->from_name;
	e.to = sc->to_name;
	e.step = "record";
	e.result = result;
	e.us = (mono_ms() - sc->t0) * 1000;
	e.detail = detail;
	snprintf(who, sizeof(who), "sentinel-reconfig %s (%s %s, %s -> %s)", sc->master,
	    sc->role, sc->state, sc->from_name, sc->to_name);
	audit_log_step(who, &e);
	if (audit_append(sc->conf->failover.audit_log, &e, err, sizeof(err)) == -1)
		msg_warnx("%s", err);
	return rc;
}

/* A port argument, 1..65535; -1 when it is not one. */
static int
sentinel_port(const char *s)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* Take the failover lock, asking again until SENTINEL_LOCK_WAIT_MS. */
static int
sentinel_lock(const struct conf *conf, char *e, size_t elen)
{
	struct timespec	ts = { 0, SENTINEL_LOCK_POLL_MS * 1000000L };
	long long	deadline = mono_ms() + SENTINEL_LOCK_WAIT_MS;
	int		fd;

	for (;;) {
		fd = lock_take(conf->failover.lock_file, 0, "sentinel-reconfig", e, elen);
		if (fd != LOCK_BUSY || mono_ms() >= deadline)
			return fd;
		nanosleep(&ts, NULL);
	}
}

/*
 * The move: prerequisite = FROM's addresses (and no RRset of a family it
 * has none of), then TO's addresses and the TXT, in one UPDATE.
 */
static enum dnsclient_result
sentinel_move(const struct sentinel_call *sc, const struct svc_state *st,
    char *e, size_t elen)
{
	const struct conf	*conf = sc->conf;
	const struct conf_node	*tn = &sc->svc->nodes[sc->to];
	struct txt_record	 rec;
	struct move		 m;
	int			 rcode;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), "%s", tn->name);
	rec.epoch = st->redisfo.epoch + 1;
	if (strcmp(st->redisfo.fenced, tn->name) != 0)
		snprintf(rec.fenced, sizeof(rec.fenced), "%s", st->redisfo.fenced);
	txt_stamp(&rec);
	if (move_build(&m, st->owner, st->txt_owner, &sc->svc->nodes[sc->from], tn,
	    conf->dns.ttl, &rec) == -1) {
		snprintf(e, elen, "the TXT does not fit (not sent)");
		return DNSCLIENT_REFUSED;
	}
	return dnsclient_update(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, &conf->dns.update_key, m.ch, m.n,
	    conf->failover.probe_timeout_ms * 2, &rcode, e, elen);
}

/* Name of node i, else "ip:port" as Sentinel gave it. */
static void
sentinel_name_node(const struct conf_service *svc, int i, const char *ip, int port,
    char *out, size_t len)
{
	if (svc != NULL && i >= 0)
		snprintf(out, len, "%s", svc->nodes[i].name);
	else
		snprintf(out, len, "%s:%d", ip, port);
}

/* Under the lock: read the record, decide, move. Returns the exit code. */
static int
sentinel_apply(struct sentinel_call *sc)
{
	struct svc_state	 st;
	enum dnsclient_result	 res;
	char			 e[512], named[CONF_NAME_MAX + 8];
	int			 rc;

	sc->t_locked = mono_ms();
	if (state_load(&st, sc->conf, sc->svc, 0) == -1) {
		rc = sentinel_report(sc, SENTINEL_EXIT_RETRY, "failed", "%s", st.dns_err);
		goto out;
	}
	if (st.dns != DNSCLIENT_OK) {
		rc = sentinel_report(sc, SENTINEL_EXIT_RETRY, "failed",
		    "cannot read the record (Sentinel retries): %s", st.dns_err);
		goto out;
	}
	/* A switch or rejoin from another host is at work: not under it. An
	 * expired lease is a dead holder's and does not count. */
	if (st.lease_held && lease_judge(&st.lease, st.loaded_ms,
	    lease_budget_ms(sc->conf, sc->svc)) != LEASE_EXPIRED) {
		lease_describe(&st.lease, e, sizeof(e));
		rc = sentinel_report(sc, SENTINEL_EXIT_RETRY, "refused",
		    "a %s holds the lease until %s (Sentinel retries)", e,
		    st.lease.expires_text);
		goto out;
	}
	switch (sentinel_decide(st.served, sc->from, sc->to)) {
	case SENTINEL_ALREADY:
		rc = sentinel_report(sc, SENTINEL_EXIT_DONE, "ok",
		    "%s already names %s (epoch %lld): nothing to do", st.owner,
		    sc->to_name, st.redisfo.epoch);
		goto out;
	case SENTINEL_STALE:
		snprintf(named, sizeof(named), "%s", st.served >= 0 ?
		    sc->svc->nodes[st.served].name : "no node");
		rc = sentinel_report(sc, SENTINEL_EXIT_NO_RETRY, "refused",
		    "%s names %s, neither %s nor %s: not moved (a late call of an "
		    "older failover, or a record moved by hand; see status)",
		    st.owner, named, sc->from_name, sc->to_name);
		goto out;
	case SENTINEL_MOVE:
		break;
	}
	sc->t_read = mono_ms();
	res = sentinel_move(sc, &st, e, sizeof(e));
	switch (res) {
	case DNSCLIENT_OK:
		rc = sentinel_report(sc, SENTINEL_EXIT_DONE, "ok",
		    "%s now names %s (epoch %lld; lock %lld ms, read %lld ms, UPDATE %lld ms)",
		    st.owner, sc->to_name, st.redisfo.epoch + 1, sc->t_locked - sc->t0,
		    sc->t_read - sc->t_locked, mono_ms() - sc->t_read);
		goto out;
	case DNSCLIENT_REFUSED:
	case DNSCLIENT_NOTAUTH:
		rc = sentinel_report(sc, SENTINEL_EXIT_NO_RETRY, "refused",
		    "record not moved: %s", e);
		goto out;
	case DNSCLIENT_UNREACHABLE:
	case DNSCLIENT_RCODE:
		rc = sentinel_report(sc, SENTINEL_EXIT_RETRY, "failed",
		    "record not moved (Sentinel retries): %s", e);
		goto out;
	default:
		break;
	}
	/* Changed under us (PREREQ), or no trustworthy reply: the record
	 * itself says whether it names TO now. */
	if (state_read_dns(&st) == DNSCLIENT_OK && st.served == sc->to) {
		rc = sentinel_report(sc, SENTINEL_EXIT_DONE, "ok",
		    "%s names %s (the UPDATE said: %s)", st.owner, sc->to_name, e);
		goto out;
	}
	rc = sentinel_report(sc, SENTINEL_EXIT_RETRY, "failed",
	    "record not moved (Sentinel retries): %s", e);
out:
	state_free(&st);
	return rc;
}

int
cmd_sentinel_reconfig(const struct conf *conf, int argc, char **argv)
{
	struct sentinel_call	sc;
	char			e[512];
	int			fd, rc;

	if (argc != 7) {
		msg_errorx("sentinel-reconfig: %d argument(s), 7 expected\n%s", argc,
		    SENTINEL_USAGE);
		return SENTINEL_EXIT_NO_RETRY;
	}
	memset(&sc, 0, sizeof(sc));
	sc.conf = conf;
	sc.t0 = mono_ms();
	sc.master = argv[0];
	sc.role = argv[1];
	sc.state = argv[2];
	sc.from_ip = argv[3];
	sc.to_ip = argv[5];
	sc.from_port = sentinel_port(argv[4]);
	sc.to_port = sentinel_port(argv[6]);
	sc.from = sc.to = -1;
	if (sc.from_port < 0 || sc.to_port < 0) {
		msg_errorx("sentinel-reconfig: bad port '%s'\n%s",
		    sc.from_port < 0 ? argv[4] : argv[6], SENTINEL_USAGE);
		return SENTINEL_EXIT_NO_RETRY;
	}
	if (strcmp(sc.state, "start") != 0 && strcmp(sc.state, "failover") != 0) {
		log_info("sentinel-reconfig %s: state '%s' ignored (start and failover "
		    "move the record)", sc.master, sc.state);
		return SENTINEL_EXIT_DONE;
	}
	sc.svc = sentinel_service_find(conf, sc.master);
	if (sc.svc != NULL) {
		sc.from = sentinel_node_find(sc.svc, sc.from_ip, sc.from_port);
		sc.to = sentinel_node_find(sc.svc, sc.to_ip, sc.to_port);
	}
	sentinel_name_node(sc.svc, sc.from, sc.from_ip, sc.from_port, sc.from_name,
	    sizeof(sc.from_name));
	sentinel_name_node(sc.svc, sc.to, sc.to_ip, sc.to_port, sc.to_name,
	    sizeof(sc.to_name));
	if (sc.svc == NULL)
		return sentinel_report(&sc, SENTINEL_EXIT_NO_RETRY, "refused",
		    "no service has sentinel_name = \"%s\"", sc.master);
	if (sc.to < 0)
		return sentinel_report(&sc, SENTINEL_EXIT_NO_RETRY, "refused",
		    "no node of %s is %s port %d (by host or by address)", sc.svc->name,
		    sc.to_ip, sc.to_port);

	fd = sentinel_lock(conf, e, sizeof(e));
	if (fd < 0)
		return sentinel_report(&sc, SENTINEL_EXIT_RETRY, "failed",
		    "%s (Sentinel retries)", e);
	rc = sentinel_apply(&sc);
	lock_release(fd);
	return rc;
}
