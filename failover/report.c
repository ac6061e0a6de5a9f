/*
 * report.c - `status`, `check` and `rejoin`: the commands around a switch.
 *
 * status and check only read (probes and DNS queries); status also shows
 * the zone's serial at each secondary (dns.notify). check follows the
 * Nagios plugin conventions: one line, `| perfdata`, exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN. rejoin is the one writer here: it makes a
 * recovered node a replica of the served primary, kills its clients only
 * once it is a replica, and clears `fenced` in the TXT with a
 * compare-and-swap UPDATE. It refuses the served primary itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/audit.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/json.h"
#include "failover/lock.h"
#include "failover/node.h"
#include "failover/state.h"

/* Messages are cut to their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"


/* [SERVICE] plus options; returns the service or NULL (usage printed). */
static const struct conf_service *
parse_service(const struct conf *conf, const char *cmd, int argc, char **argv,
    int *json, const char **node)
{
	const struct conf_service	*svc;
	const char			*pos[2] = { NULL, NULL };
	char				 err[256];
	int				 i, npos = 0, used, want = node ? 2 : 1;

	for (i = 0; i < argc; i++) {
		if (json != NULL && strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (argv[i][0] != '-' && npos < want)
			pos[npos++] = argv[i];
		else {
			fprintf(stderr, "redisfo-dns: %s: unexpected argument '%s'\n", cmd, argv[i]);
			return NULL;
		}
	}
	if (node != NULL) {
		if (npos == 0) {
			fprintf(stderr, "redisfo-dns: %s: name the node\n", cmd);
			return NULL;
		}
		*node = pos[npos - 1];
		npos--;
	}
	svc = state_service_arg(conf, npos, (char **)pos, &used, err, sizeof(err));
	if (svc == NULL || (npos > 0 && !used)) {
		fprintf(stderr, "redisfo-dns: %s: %s\n", cmd,
		    svc == NULL ? err : "no such service");
		return NULL;
	}
	return svc;
}

static void
json_str_or_null(const char *s)
{
	if (s == NULL || s[0] == '\0')
		printf("null");
	else
		json_str_write(stdout, s);
}

static void
json_list(const struct dnsclient_rrset *set)
{
	size_t i;

	putchar('[');
	for (i = 0; i < set->n; i++) {
		if (i)
			putchar(',');
		json_str_write(stdout, set->value[i]);
	}
	putchar(']');
}

/*
 * The zone's serial at each secondary (the dns.notify targets, which
 * answer queries on the port they are notified on), to show whether a
 * change has reached them. It never changes the verdict: a secondary a
 * second behind during a switch is normal.
 */
struct secondary_view {
	const struct conf_sockaddr	*addr;
	int				 ok;
	uint32_t			 serial;
	char				 err[256];
};

static struct secondary_view *
status_secondaries(const struct svc_state *st)
{
	const struct conf_dns	*dns = &st->conf->dns;
	struct secondary_view	*v = calloc(dns->n_notify ? dns->n_notify : 1, sizeof(*v));

	for (size_t i = 0; v != NULL && i < dns->n_notify; i++) {
		v[i].addr = &dns->notify[i];
		v[i].ok = dnsclient_serial(&dns->notify[i].ss, dns->notify[i].len, dns->zone,
		    st->conf->failover.probe_timeout_ms, &v[i].serial, v[i].err,
		    sizeof(v[i].err)) == DNSCLIENT_OK;
	}
	return v;
}

/* "in sync", "behind", "ahead" of the primary's serial, by RFC 1982. */
static const char *
secondary_sync(const struct svc_state *st, const struct secondary_view *v)
{
	int32_t d = (int32_t)(v->serial - st->serial);

	return d == 0 ? "in sync" : d < 0 ? "behind" : "ahead";
}

static void
status_json(const struct svc_state *st, const struct secondary_view *sec)
{
	const struct conf_service	*svc = st->svc;
	size_t				 i, j;
	int				 dns_ok = st->dns == DNSCLIENT_OK;

	printf("{\"service\":");
	json_str_write(stdout, svc->name);
	printf(",\"record\":{\"name\":");
	json_str_write(stdout, st->owner);
	printf(",\"server\":");
	json_str_write(stdout, st->conf->failover.server.text);
	printf(",\"a\":");
	json_list(st->a);
	printf(",\"aaaa\":");
	json_list(st->aaaa);
	if (dns_ok)
		printf(",\"ttl\":%u,\"serial\":%u", st->ttl, st->serial);
	else
		printf(",\"ttl\":null,\"serial\":null");
	printf(",\"node\":");
	json_str_or_null(st->served >= 0 ? svc->nodes[st->served].name : NULL);
	printf(",\"txt\":");
	json_str_or_null(st->txt->n ? st->txt->value[0] : NULL);
	printf(",\"epoch\":%lld,\"fenced\":", st->epoch);
	json_str_or_null(st->fenced);
	printf(",\"error\":");
	json_str_or_null(dns_ok ? NULL : st->dns_err);
	printf("},\"nodes\":[");
	for (i = 0; i < svc->n_nodes; i++) {
		const struct conf_node *n = &svc->nodes[i];
		const struct node_info *ni = &st->nodes[i];

		printf("%s{\"name\":", i ? "," : "");
		json_str_write(stdout, n->name);
		printf(",\"host\":");
		json_str_write(stdout, n->host);
		printf(",\"port\":%d,\"addresses\":[", n->port);
		for (j = 0; j < n->n_address; j++) {
			if (j)
				putchar(',');
			json_str_write(stdout, n->address[j].text);
		}
		printf("],\"priority\":%d,\"served\":%s,\"reachable\":%s,\"error\":",
		    n->priority, (int)i == st->served ? "true" : "false",
		    ni->reachable ? "true" : "false");
		json_str_or_null(ni->reachable ? NULL : ni->error);
		printf(",\"role\":");
		json_str_or_null(ni->reachable ? node_role_str(ni->role) : NULL);
		if (ni->reachable && ni->role == NODE_ROLE_REPLICA) {
			printf(",\"master_host\":");
			json_str_write(stdout, ni->master_host);
			printf(",\"master_port\":%d,\"link\":\"%s\",\"offset\":%lld",
			    ni->master_port, ni->link_up ? "up" : "down", ni->replica_offset);
		} else if (ni->reachable) {
			printf(",\"master_host\":null,\"master_port\":null,\"link\":null,"
			    "\"offset\":%lld", ni->master_offset);
		} else
			printf(",\"master_host\":null,\"master_port\":null,\"link\":null,"
			    "\"offset\":null");
		if (ni->lag_bytes >= 0)
			printf(",\"lag_bytes\":%lld", ni->lag_bytes);
		else
			printf(",\"lag_bytes\":null");
		printf(",\"connected_replicas\":%d,\"probe_ms\":%lld}",
		    ni->connected_replicas, ni->probe_ms);
	}
	printf("],\"secondaries\":[");
	for (i = 0; i < st->conf->dns.n_notify; i++) {
		printf("%s{\"address\":", i ? "," : "");
		json_str_write(stdout, sec[i].addr->text);
		if (sec[i].ok)
			printf(",\"serial\":%u,\"sync\":\"%s\",\"error\":null}", sec[i].serial,
			    dns_ok ? secondary_sync(st, &sec[i]) : "unknown");
		else {
			printf(",\"serial\":null,\"sync\":null,\"error\":");
			json_str_write(stdout, sec[i].err);
			putchar('}');
		}
	}
	printf("],\"verdict\":\"%s\",\"verdict_text\":", state_verdict_str(st->verdict));
	json_str_write(stdout, st->verdict_text);
	printf("}\n");
}

static void
status_table(const struct svc_state *st, const struct secondary_view *sec)
{
	const struct conf_service	*svc = st->svc;
	char				 hp[300], master[300], off[32], lag[32];
	size_t				 i;

	printf("service %s\n", svc->name);
	if (st->dns == DNSCLIENT_OK)
		printf("  record  %s -> %s%s%s%s (%s), TTL %u, serial %u, from %s\n",
		    st->owner, st->a->n ? st->a->value[0] : "",
		    st->a->n > 1 ? ",..." : "", st->aaaa->n ? " " : "",
		    st->aaaa->n ? st->aaaa->value[0] : "",
		    st->served >= 0 ? svc->nodes[st->served].name : "no node",
		    st->ttl, st->serial, st->conf->failover.server.text);
	else
		printf("  record  %s: %s\n", st->owner, st->dns_err);
	if (st->txt->n)
		printf("  state   %s\n", st->txt->value[0]);
	printf("  %-10s %-24s %-9s %-8s %-24s %-5s %12s %10s\n", "NODE", "HOST:PORT",
	    "REACHABLE", "ROLE", "MASTER", "LINK", "OFFSET", "LAG");
	for (i = 0; i < svc->n_nodes; i++) {
		const struct node_info *ni = &st->nodes[i];

		snprintf(hp, sizeof(hp), "%s:%d", svc->nodes[i].host, svc->nodes[i].port);
		if (!ni->reachable) {
			printf("%c %-10s %-24s %-9s %s\n", (int)i == st->served ? '*' : ' ',
			    svc->nodes[i].name, hp, "no", ni->error);
			continue;
		}
		if (ni->role == NODE_ROLE_REPLICA)
			snprintf(master, sizeof(master), "%s:%d", ni->master_host, ni->master_port);
		else
			snprintf(master, sizeof(master), "-");
		snprintf(off, sizeof(off), "%lld", ni->role == NODE_ROLE_REPLICA ?
		    ni->replica_offset : ni->master_offset);
		if (ni->lag_bytes >= 0)
			snprintf(lag, sizeof(lag), "%lldB", ni->lag_bytes);
		else
			snprintf(lag, sizeof(lag), "-");
		printf("%c %-10s %-24s %-9s %-8s %-24s %-5s %12s %10s\n",
		    (int)i == st->served ? '*' : ' ', svc->nodes[i].name, hp, "yes",
		    node_role_str(ni->role), master,
		    ni->role == NODE_ROLE_REPLICA ? (ni->link_up ? "up" : "down") : "-",
		    off, lag);
	}
	for (i = 0; i < st->conf->dns.n_notify; i++) {
		if (!sec[i].ok)
			printf("  secondary %s: %s\n", sec[i].addr->text, sec[i].err);
		else if (st->dns == DNSCLIENT_OK)
			printf("  secondary %s: serial %u, %s\n", sec[i].addr->text, sec[i].serial,
			    secondary_sync(st, &sec[i]));
		else
			printf("  secondary %s: serial %u\n", sec[i].addr->text, sec[i].serial);
	}
	printf("  verdict %s: %s\n", state_verdict_str(st->verdict), st->verdict_text);
}

int
cmd_status(const struct conf *conf, int argc, char **argv)
{
	const struct conf_service	*svc;
	struct svc_state		 st;
	struct secondary_view		*sec;
	int				 json = 0, rc;

	svc = parse_service(conf, "status", argc, argv, &json, NULL);
	if (svc == NULL)
		return 2;
	if (state_load(&st, conf, svc, 1) == -1) {
		fprintf(stderr, "redisfo-dns: status: %s\n", st.dns_err);
		state_free(&st);
		return 1;
	}
	if ((sec = status_secondaries(&st)) == NULL) {
		fprintf(stderr, "redisfo-dns: status: out of memory\n");
		state_free(&st);
		return 1;
	}
	if (json)
		status_json(&st, sec);
	else
		status_table(&st, sec);
	rc = st.verdict == VERDICT_CONSISTENT ? 0 : 1;
	free(sec);
	state_free(&st);
	return rc;
}

int
cmd_check(const struct conf *conf, int argc, char **argv)
{
	static const char		*names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	const struct conf_service	*svc;
	struct svc_state		 st;
	char				 msg[768] = "";
	long long			 maxlag = 0;
	size_t				 i;
	int				 rc = 0, replicas = 0;

	svc = parse_service(conf, "check", argc, argv, NULL, NULL);
	if (svc == NULL) {
		printf("REDISFO UNKNOWN - usage: check [SERVICE]\n");
		return 3;
	}
	if (state_load(&st, conf, svc, 1) == -1) {
		printf("REDISFO UNKNOWN - %s\n", st.dns_err);
		state_free(&st);
		return 3;
	}
	switch (st.verdict) {
	case VERDICT_DNS_UNKNOWN:
		rc = 3;
		break;
	case VERDICT_RECORD_NO_NODE:
	case VERDICT_SERVED_DOWN:
	case VERDICT_SERVED_NOT_MASTER:
	case VERDICT_SPLIT_BRAIN:
	case VERDICT_FENCED_MASTER:
		rc = 2;
		break;
	case VERDICT_WRONG_MASTER:
		rc = 1;
		break;
	case VERDICT_CONSISTENT:
		break;
	}
	snprintf(msg, sizeof(msg), "%s: %s", svc->name, st.verdict_text);
	for (i = 0; st.served >= 0 && i < svc->n_nodes; i++) {
		const struct node_info *ni = &st.nodes[i];
		size_t o = strlen(msg);

		if ((int)i == st.served)
			continue;
		if (!ni->reachable) {
			if (rc < 1)
				rc = 1;
			snprintf(msg + o, sizeof(msg) - o, "; %s unreachable", svc->nodes[i].name);
			continue;
		}
		if (!state_follows(ni, &svc->nodes[st.served]))
			continue;
		replicas++;
		if (ni->lag_bytes > maxlag)
			maxlag = ni->lag_bytes;
		if (!ni->link_up) {
			if (rc < 1)
				rc = 1;
			snprintf(msg + o, sizeof(msg) - o, "; %s link down", svc->nodes[i].name);
		} else if (ni->lag_bytes > conf->failover.max_lag_bytes) {
			if (rc < 1)
				rc = 1;
			snprintf(msg + o, sizeof(msg) - o, "; %s lags %lld bytes (max %lld)",
			    svc->nodes[i].name, ni->lag_bytes, conf->failover.max_lag_bytes);
		}
	}
	if (rc == 0) {
		size_t o = strlen(msg);
		snprintf(msg + o, sizeof(msg) - o, ", %d replica(s) following", replicas);
	}
	if (st.dns == DNSCLIENT_OK)
		printf("REDISFO %s - %s | lag=%lldB;%lld;;0 serial=%u\n", names[rc], msg,
		    maxlag, conf->failover.max_lag_bytes, st.serial);
	else
		printf("REDISFO %s - %s | lag=%lldB;%lld;;0\n", names[rc], msg, maxlag,
		    conf->failover.max_lag_bytes);
	state_free(&st);
	return rc;
}

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
	fprintf(stderr, "redisfo-dns: rejoin%s: %s\n", rj->refused ? " refused" : "",
	    rj->why);
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

	audit_append(rj->conf->failover.audit_log, &e);
	rj->t0 = mono_ms();
}

/* The TXT without its fenced= word, quoted for an UPDATE. */
static void
txt_unfenced(const char *txt, char *out, size_t outlen)
{
	const char	*p;
	size_t		 o = 0, l;

	o += (size_t)snprintf(out, outlen, "\"");
	for (p = txt; *p && o < outlen; p += l) {
		p += strspn(p, " ");
		l = strcspn(p, " ");
		if (l == 0 || strncmp(p, "fenced=", 7) == 0)
			continue;
		o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", o > 1 ? " " : "",
		    (int)l, p);
	}
	if (o < outlen)
		snprintf(out + o, outlen - o, "\"");
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
	char				 e[512], oldtxt[DNSCLIENT_VALUE_MAX + 4], newtxt[DNSCLIENT_VALUE_MAX + 4];
	long long			 killed = 0, deadline;
	struct rejoin_log		 rj;
	int				 n, rc = 1, rcode, lock_fd;

	svc = parse_service(conf, "rejoin", argc, argv, NULL, &name);
	if (svc == NULL)
		return 2;
	n = state_node_index(svc, name);
	if (n < 0) {
		fprintf(stderr, "redisfo-dns: rejoin: no node named '%s' in %s\n", name, svc->name);
		return 2;
	}
	nn = &svc->nodes[n];
	memset(&rj, 0, sizeof(rj));
	rj.conf = conf;
	rj.svc = svc;
	rj.node = name;
	rj.t0 = mono_ms();
	/* A switch half-way must not see its target re-pointed under it. */
	lock_fd = lock_take(conf->failover.lock_file, 0, "rejoin", e, sizeof(e));
	if (lock_fd < 0) {
		rj.refused = 1;
		rejoin_fail(&rj, "%s", e);
		rejoin_audit(&rj, "rejoin", "refused", rj.why);
		return 1;
	}
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
		memset(&info, 0, sizeof(info));
		if (node_probe(c, &info, e, sizeof(e)) == 0 && info.link_up)
			break;
		if (mono_ms() >= deadline) {
			rejoin_fail(&rj, "%s's link to %s is not up yet "
			    "(it is a replica; the sync goes on)", name, pn->name);
			goto out;
		}
		{
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	printf("%s's replication link to %s is up\n", name, pn->name);
	rejoin_audit(&rj, "link", "ok", "");

	if (st.fenced[0] && strcmp(st.fenced, name) == 0 && st.txt->n == 1) {
		snprintf(oldtxt, sizeof(oldtxt), "\"%s\"", st.txt->value[0]);
		txt_unfenced(st.txt->value[0], newtxt, sizeof(newtxt));
		struct dnsclient_change ch[] = {
			{ DNSCLIENT_PREREQ_VALUE, st.txt_owner, DNSCLIENT_TYPE_TXT, 0, oldtxt },
			{ DNSCLIENT_DELETE_RRSET, st.txt_owner, DNSCLIENT_TYPE_TXT, 0, NULL },
			{ DNSCLIENT_ADD, st.txt_owner, DNSCLIENT_TYPE_TXT, (uint32_t)conf->dns.ttl,
			    newtxt },
		};
		if (dnsclient_update(&conf->failover.server.ss, conf->failover.server.len,
		    conf->dns.zone, &conf->dns.update_key, ch, 3,
		    conf->failover.probe_timeout_ms * 2, &rcode, e, sizeof(e)) != DNSCLIENT_OK) {
			rejoin_fail(&rj, "%s rejoined but fenced= stays in "
			    "the TXT: %s", name, e);
			goto out;
		}
		printf("fenced=%s cleared from %s\n", name, st.txt_owner);
		rejoin_audit(&rj, "unfence", "ok", st.txt_owner);
	}
	rc = 0;
out:
	rejoin_audit(&rj, "rejoin", rc == 0 ? "ok" : rc == 3 ? "failed part-way" :
	    rj.refused ? "refused" : "failed", rc == 0 ? "" : rj.why);
	node_close(c);
	state_free(&st);
	lock_release(lock_fd);
	return rc;
}
