/*
 * rejoin.c - `redisfo-dns rejoin [SERVICE] NODE`: bring a recovered node
 * back as a replica of the served primary, after a failover fenced it or
 * a switch left it behind.
 *
 * Like switch, it takes the failover lock first, so a switch half-way
 * never sees its target re-pointed under it; it refuses the served
 * primary itself and a served node that is not a reachable master. It
 * kills the node's clients only once it is a replica (they reconnect and
 * resolve again), waits for the link, then clears fenced= from the TXT by
 * a compare-and-swap UPDATE (prerequisite: the TXT as it was read), which
 * also puts the node in the reader record (readers.h); a node that was
 * not fenced gets there by the reader record's own compare-and-swap,
 * when the zone has a reader record. It
 * never touches the record, the served primary or any other node.
 * Exit codes: 0 done, 1 refused or failed with nothing changed, 2 usage,
 * 3 the node changed and a later step failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/audit.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/lease.h"
#include "failover/lock.h"
#include "failover/msg.h"
#include "failover/node.h"
#include "failover/readers.h"
#include "failover/state.h"
#include "failover/txt.h"

/* What rejoin did, for its last word and the audit log. */
struct rejoin_log {
	const struct conf		*conf;
	const struct conf_service	*svc;
	const char			*node;
	long long			 t0;		/* of the step being logged */
	int				 refused;	/* before anything changed */
	char				 why[768];
};

static void
rejoin_fail(struct rejoin_log *rj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Say why rejoin stops (a refusal when rj->refused is set) and keep it. */
static void
rejoin_fail(struct rejoin_log *rj, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rj->why, sizeof(rj->why), fmt, ap);
	va_end(ap);
	msg_errorx("rejoin%s: %s", rj->refused ? " refused" : "", rj->why);
}

static void
rejoin_audit(struct rejoin_log *rj, const char *step, const char *result,
    const char *detail)
{
	struct audit_entry e = {
		.service = rj->svc->name, .mode = "rejoin", .from = "", .to = rj->node,
		.step = step, .result = result, .us = (mono_ms() - rj->t0) * 1000,
		.detail = detail,
	};
	char who[2 * CONF_NAME_MAX + 16], err[512];

	snprintf(who, sizeof(who), "rejoin %s %s", rj->svc->name, rj->node);
	audit_log_step(who, &e);
	if (audit_append(rj->conf->failover.audit_log, &e, err, sizeof(err)) == -1)
		msg_warnx("%s", err);
	rj->t0 = mono_ms();
}

/*
 * Take fenced= out of the TXT: the prerequisite is the RRset exactly as
 * read (every RR, every string as written), so the UPDATE applies only
 * when nobody changed it since; each RR is written back without its
 * fenced= word (txt_unfence), one left with nothing dropped. The reader
 * record (reader_owner, NULL when none) becomes rs in the same UPDATE.
 */
static int
rejoin_unfence(struct rejoin_log *rj, const struct svc_state *st, const char *reader_owner,
    const struct readers_set *rs, char *e, size_t elen)
{
	const struct conf	*conf = rj->conf;
	struct dnsclient_change	 ch[2 * DNSCLIENT_RR_MAX + 1 + READERS_CHANGES_MAX];
	char			 newtxt[DNSCLIENT_RR_MAX][DNSCLIENT_VALUE_MAX];
	size_t			 i, n = 0, kept = 0;
	int			 rcode;

	for (i = 0; i < st->txt->n; i++) {
		if (st->txt->value[i][0] == '\0' ||
		    txt_unfence(st->txt->value[i], newtxt[i], sizeof(newtxt[i])) == -1) {
			snprintf(e, elen, "the TXT is too long to rewrite");
			return -1;
		}
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, st->txt_owner,
		    DNSCLIENT_TYPE_TXT, 0, st->txt->value[i] };
	}
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, st->txt_owner,
	    DNSCLIENT_TYPE_TXT, 0, NULL };
	for (i = 0; i < st->txt->n; i++) {
		if (strcmp(newtxt[i], "\"\"") == 0 && (kept > 0 || i + 1 < st->txt->n))
			continue;
		kept++;
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, st->txt_owner,
		    DNSCLIENT_TYPE_TXT, (uint32_t)conf->dns.ttl, newtxt[i] };
	}
	if (reader_owner != NULL)
		n += readers_changes(ch + n, reader_owner, rs, conf->dns.ttl);
	if (dnsclient_update(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, &conf->dns.update_key, ch, n,
	    conf->failover.probe_timeout_ms * 2, &rcode, e, elen) != DNSCLIENT_OK)
		return -1;
	return 0;
}

int
cmd_rejoin(const struct conf *conf, int argc, char **argv)
{
	const struct conf_service	*svc;
	const struct conf_node		*pn, *nn;
	struct svc_state		 st;
	struct node_conn		*c = NULL;
	struct node_info		 info;
	const char			*name = NULL;
	char				 e[512];
	long long			 killed = 0, deadline;
	struct rejoin_log		 rj;
	struct lease			 lease;
	struct readers_set		 rs;
	char				 note[512];
	char				 reader_owner[CONF_DNAME_MAX + 80], now[512], was[512];
	int				 n, rc = 1, lock_fd, sweep_fd = -1, leased = 0, has_readers, changed;

	svc = state_command_args(conf, argc, argv, &name, e, sizeof(e));
	if (svc == NULL) {
		msg_errorx("rejoin: %s", e);
		return 2;
	}
	n = state_node_index(svc, name);
	if (n < 0) {
		msg_errorx("rejoin: no node named '%s' in %s", name, svc->name);
		return 2;
	}
	nn = &svc->nodes[n];
	memset(&rj, 0, sizeof(rj));
	rj.conf = conf;
	rj.svc = svc;
	rj.node = name;
	rj.t0 = mono_ms();
	/* A switch half-way must not see its target re-pointed under it.
	 * LOCK_BUSY and LOCK_ERROR refuse alike; LOCK_ABSENT is for shared
	 * takes only. */
	lock_fd = lock_take(conf->failover.lock_file, 0, "rejoin", e, sizeof(e));
	if (lock_fd >= 0 && (sweep_fd = lock_sweeps(conf->failover.lock_file, e,
	    sizeof(e))) < 0) {
		lock_release(lock_fd);
		lock_fd = -1;
	}
	if (lock_fd < 0) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s", e);
		rejoin_audit(&rj, "rejoin", "refused", rj.why);
		return 1;
	}
	/* The lease keeps out a switch on another host, and tells status and
	 * check that the re-pointing they may see is a rejoin at work. */
	memset(&st, 0, sizeof(st));
	if (lease_take(conf, svc, "rejoin", &lease, note, sizeof(note), e,
	    sizeof(e)) != LEASE_TAKEN) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s", e);
		goto out;
	}
	leased = 1;
	if (note[0])
		msg_warnx("rejoin: %s", note);
	if (state_load(&st, conf, svc, 1) == -1) {
		rejoin_fail(&rj, "%s", st.dns_err);
		goto out;
	}
	if (st.dns != DNSCLIENT_OK) {
		rj.refused = 1;
		rejoin_fail(&rj, "cannot read the record: %s", st.dns_err);
		goto out;
	}
	if (st.served < 0) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s", st.verdict_text);
		goto out;
	}
	pn = &svc->nodes[st.served];
	if (st.served == n) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s is the served primary", name);
		goto out;
	}
	if (!st.nodes[st.served].reachable || st.nodes[st.served].role != NODE_ROLE_MASTER) {
		rj.refused = 1;
		rejoin_fail(&rj, "the served node %s is not a reachable master (%s)",
		    pn->name, st.nodes[st.served].reachable ?
		    node_role_str(st.nodes[st.served].role) : st.nodes[st.served].error);
		goto out;
	}
	if (!st.nodes[n].reachable) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s does not answer: %s", name, st.nodes[n].error);
		goto out;
	}
	c = node_connect(svc, nn, conf->failover.probe_timeout_ms, e, sizeof(e));
	if (c == NULL) {
		rejoin_fail(&rj, "%s", e);
		goto out;
	}
	if (state_follows(&st.nodes[n], pn)) {
		/* Its clients only ever read here: leave them connected. */
		printf("%s already is a replica of %s (%s:%d): its clients are left "
		    "connected\n", name, pn->name, pn->host, pn->port);
	} else {
		if (node_replicaof(c, pn->host, pn->port, e, sizeof(e)) == -1) {
			rejoin_fail(&rj, "%s", e);
			goto out;
		}
		rc = 3;		/* from here on, something changed */
		printf("%s is now a replica of %s (%s:%d)\n", name, pn->name, pn->host,
		    pn->port);
		if (node_config_rewrite(c, e, sizeof(e)) != 0)
			printf("  warning: %s\n", e);
		if (node_kill_clients(c, &killed, e, sizeof(e)) == -1)
			printf("  warning: %s\n", e);
		else
			printf("%lld client(s) of %s killed\n", killed, name);
		snprintf(e, sizeof(e), "%s replica of %s, %lld client(s) killed", name,
		    pn->name, killed);
		rejoin_audit(&rj, "replicaof", "ok", e);
	}

	/* Wait for the link (a full resync of a small data set is quick). */
	deadline = mono_ms() + 10000 + conf->failover.pause_timeout_ms;
	for (;;) {
		struct timespec ts = { 0, 20 * 1000000 };

		memset(&info, 0, sizeof(info));
		if (node_probe(c, &info, e, sizeof(e)) == 0 && info.link_up)
			break;
		if (mono_ms() >= deadline) {
			rejoin_fail(&rj, "%s's link to %s is not up yet "
			    "(it is a replica; the sync goes on)", name, pn->name);
			goto out;
		}
		nanosleep(&ts, NULL);
	}
	printf("%s's replication link to %s is up\n", name, pn->name);
	rejoin_audit(&rj, "link", "ok", "");

	/* The node reads from the served primary now: the reader record
	 * names it with the replicas the probe saw following with their link. */
	has_readers = readers_owner(conf, svc, reader_owner, sizeof(reader_owner)) == 0;
	readers_pick(svc, st.served, st.nodes, n, &rs);
	readers_set_text(&rs, now, sizeof(now));
	if (st.redisfo.fenced[0] && strcmp(st.redisfo.fenced, name) == 0) {
		if (rejoin_unfence(&rj, &st, has_readers ? reader_owner : NULL, &rs, e,
		    sizeof(e)) == -1) {
			rejoin_fail(&rj, "%s rejoined but fenced= stays in "
			    "the TXT: %s", name, e);
			goto out;
		}
		printf("fenced=%s cleared from %s\n", name, st.txt_owner);
		rejoin_audit(&rj, "unfence", "ok", st.txt_owner);
		if (has_readers)
			printf("%s: %s\n", reader_owner, now);
	} else if (has_readers) {
		/* A zone without a reader record keeps none: rejoin touches
		 * the zone only to keep what it holds true. */
		if (readers_send(&st, reader_owner, &rs, 0, &changed, was, sizeof(was), e,
		    sizeof(e)) != DNSCLIENT_OK) {
			rejoin_fail(&rj, "%s rejoined but %s is not refreshed: %s "
			    "(run readers %s)", name, reader_owner, e, svc->name);
			goto out;
		}
		if (changed || strcmp(was, "nothing") != 0)
			printf("%s: %s%s%s%s\n", reader_owner, now, changed ? " (was " :
			    ", unchanged", changed ? was : "", changed ? ")" : "");
		if (changed)
			rejoin_audit(&rj, "readers", "ok", now);
	}
	rc = 0;
out:
	rejoin_audit(&rj, "rejoin", rc == 0 ? "ok" : rc == 3 ? "failed part-way" :
	    rj.refused ? "refused" : "failed", rc == 0 ? "" : rj.why);
	node_close(c);
	state_free(&st);
	if (leased && lease_release(conf, svc, &lease, e, sizeof(e)) == -1)
		msg_warnx("rejoin: %s", e);
	lock_release(sweep_fd);
	lock_release(lock_fd);
	return rc;
}
