/*
 * report.c - `status` and `check`: what a service looks like, for an
 * operator (a table, or JSON with --json) and for monitoring.
 *
 * Both only read (probes and DNS queries, through state.c); status also
 * shows the zone's serial at each secondary (dns.notify). check follows
 * the Nagios plugin conventions: one line, `| perfdata`, exit 0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Nothing here changes a node or the
 * zone: the writers are switch.c and rejoin.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/json.h"
#include "failover/msg.h"
#include "failover/node.h"
#include "failover/state.h"

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
	json_str_or_null(st->txt->n ? st->redisfo.text : NULL);
	printf(",\"epoch\":%lld,\"fenced\":", st->redisfo.epoch);
	json_str_or_null(st->redisfo.fenced);
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
		printf("  state   %s\n", st->redisfo.text);
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
	char				 err[256];
	int				 json = 0, rc;

	svc = state_command_args(conf, argc, argv, &json, NULL, err, sizeof(err));
	if (svc == NULL) {
		msg_errorx("status: %s", err);
		return 2;
	}
	if (state_load(&st, conf, svc, 1) == -1) {
		msg_errorx("status: %s", st.dns_err);
		state_free(&st);
		return 1;
	}
	if ((sec = status_secondaries(&st)) == NULL) {
		msg_errorx("status: out of memory");
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
	char				 msg[768] = "", err[256];
	long long			 maxlag = 0;
	size_t				 i;
	int				 rc = 0, replicas = 0;

	svc = state_command_args(conf, argc, argv, NULL, NULL, err, sizeof(err));
	if (svc == NULL) {
		msg_errorx("check: %s", err);
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
	/* A secondary that stays behind never got the change: warn. */
	for (i = 0; st.dns == DNSCLIENT_OK && i < conf->dns.n_notify; i++) {
		uint32_t	seen;
		size_t		o = strlen(msg);

		if (state_secondary_wait(&st, &conf->dns.notify[i], STATE_SECONDARY_BEHIND_MS,
		    &seen, err, sizeof(err)) != SECONDARY_BEHIND)
			continue;
		if (rc < 1)
			rc = 1;
		snprintf(msg + o, sizeof(msg) - o, "; secondary %s behind (serial %u, not %u, "
		    "after %d s)", conf->dns.notify[i].text, seen, st.serial,
		    STATE_SECONDARY_BEHIND_MS / 1000);
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
