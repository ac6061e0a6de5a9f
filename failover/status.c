/*
 * status.c - `status`: what the services look like, for an operator: a
 * table per service, or one JSON document with --json.
 *
 * With no SERVICE named it shows every service of the config. It only
 * reads (probes and DNS queries, through state.c), and also shows the
 * zone's serial at each secondary (dns.notify). Nothing here changes a
 * node or the zone: the writers are switch.c and rejoin.c; the
 * monitoring check is check.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "conf/version.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/json.h"
#include "failover/lease.h"
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
status_secondaries(const struct conf *conf)
{
	const struct conf_dns	*dns = &conf->dns;
	struct secondary_view	*v = calloc(dns->n_notify ? dns->n_notify : 1, sizeof(*v));

	for (size_t i = 0; v != NULL && i < dns->n_notify; i++) {
		v[i].addr = &dns->notify[i];
		v[i].ok = dnsclient_serial(&dns->notify[i].ss, dns->notify[i].len, dns->zone,
		    conf->failover.probe_timeout_ms, &v[i].serial, v[i].err,
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

static const char *
lease_state_str(enum lease_state s)
{
	switch (s) {
	case LEASE_LIVE:	return "live";
	case LEASE_OVERDUE:	return "overdue";
	case LEASE_EXPIRED:	return "expired";
	}
	return "?";
}

/* The state of the lease st found (call only when st->lease_held). */
static enum lease_state
status_lease_state(const struct svc_state *st)
{
	return lease_judge(&st->lease, st->loaded_ms, lease_budget_ms(st->conf, st->svc));
}

/* A live lease: a switch or rejoin at work, whatever the probes saw. */
static int
status_in_progress(const struct svc_state *st)
{
	return st->lease_held && status_lease_state(st) == LEASE_LIVE;
}

/* The fields of one service's object, without its braces. */
static void
status_json_fields(const struct svc_state *st, const struct secondary_view *sec)
{
	const struct conf_service	*svc = st->svc;
	size_t				 i, j;
	int				 dns_ok = st->dns == DNSCLIENT_OK;

	printf("\"service\":");
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
	printf(",\"lease\":");
	if (st->lease_held) {
		printf("{\"holder\":");
		json_str_write(stdout, st->lease.holder);
		printf(",\"host\":");
		json_str_write(stdout, st->lease.host);
		printf(",\"pid\":%ld,\"since\":\"%s\",\"expires\":\"%s\",\"state\":\"%s\"}",
		    st->lease.pid, st->lease.since_text, st->lease.expires_text,
		    lease_state_str(status_lease_state(st)));
	} else
		printf("null");
	printf(",\"lease_error\":");
	json_str_or_null(st->lease_err[0] ? st->lease_err : NULL);
	printf(",\"switch_in_progress\":%s", status_in_progress(st) ? "true" : "false");
}

/*
 * The verdict's name and its text, without saying the name twice when
 * the text starts with it ("split brain: r2 claims master ...").
 */
static const char *
status_verdict_line(const struct svc_state *st, char *buf, size_t len)
{
	const char	*name = state_verdict_str(st->verdict);
	size_t		 n = strlen(name);

	if (strncmp(st->verdict_text, name, n) == 0 && st->verdict_text[n] == ':')
		snprintf(buf, len, "%s", st->verdict_text);
	else
		snprintf(buf, len, "%s: %s", name, st->verdict_text);
	return buf;
}

static void
status_table(const struct svc_state *st, const struct secondary_view *sec)
{
	const struct conf_service	*svc = st->svc;
	char				 hp[300], master[300], off[32], lag[32];
	char				 line[1100];
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
			state_master_text(ni, master, sizeof(master));
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
	if (st->lease_held) {
		lease_describe(&st->lease, line, sizeof(line));
		printf("  lease   %s, until %s (%s)\n", line, st->lease.expires_text,
		    lease_state_str(status_lease_state(st)));
	} else if (st->lease_err[0])
		printf("  lease   %s\n", st->lease_err);
	if (status_in_progress(st)) {
		/* what the probes saw is a switch half-way, not a fault */
		lease_describe(&st->lease, line, sizeof(line));
		printf("  verdict switch in progress (%s)\n", line);
		return;
	}
	printf("  verdict %s\n", status_verdict_line(st, line, sizeof(line)));
}

/*
 * status's arguments: --json and at most one SERVICE. *svc is the named
 * service, or NULL for every service. -1 and err on a usage error.
 */
static int
status_args(const struct conf *conf, int argc, char **argv, int *json,
    const struct conf_service **svc, char *err, size_t errlen)
{
	int i;

	*json = 0;
	*svc = NULL;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (argv[i][0] != '-' && *svc == NULL) {
			*svc = conf_service_find(conf, argv[i]);
			if (*svc == NULL) {
				snprintf(err, errlen, "no service named '%s'", argv[i]);
				return -1;
			}
		} else {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Every service asked for, as a table each or as one JSON document:
 * {"version":...,"services":[{...},...]}. When there is one service, its
 * fields are at the top level as well, as they were before there was a
 * list. 0 when every service is consistent, else 1.
 */
int
cmd_status(const struct conf *conf, int argc, char **argv)
{
	const struct conf_service	*one, *svc;
	struct svc_state		 st;
	struct secondary_view		*sec;
	char				 err[256];
	size_t				 i, n;
	int				 json, rc = 0;

	if (status_args(conf, argc, argv, &json, &one, err, sizeof(err)) == -1) {
		msg_errorx("status: %s\nusage: status [SERVICE] [--json]", err);
		return 2;
	}
	if (one == NULL && conf->n_services == 1)
		one = &conf->services[0];
	n = one != NULL ? 1 : conf->n_services;
	if ((sec = status_secondaries(conf)) == NULL) {
		msg_errorx("status: out of memory");
		return 1;
	}
	if (json) {
		printf("{\"version\":");
		json_str_write(stdout, REDISFO_VERSION);
		printf(",\"services\":[");
	}
	for (i = 0; i < n; i++) {
		svc = one != NULL ? one : &conf->services[i];
		if (state_load(&st, conf, svc, 1) == -1) {
			fflush(stdout);
			msg_errorx("status: %s", st.dns_err);
			state_free(&st);
			free(sec);
			return 1;
		}
		if (json) {
			printf("%s{", i ? "," : "");
			status_json_fields(&st, sec);
			putchar('}');
			if (n == 1) {
				printf("],");
				status_json_fields(&st, sec);
			}
		} else {
			if (i)
				putchar('\n');
			status_table(&st, sec);
		}
		if (st.verdict != VERDICT_CONSISTENT && !status_in_progress(&st))
			rc = 1;
		state_free(&st);
	}
	if (json)
		printf("%s}\n", n == 1 ? "" : "]");
	free(sec);
	return rc;
}
