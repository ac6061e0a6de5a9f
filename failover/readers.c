/*
 * readers.c - the reader record, <reader_name>.<zone>, and `redisfo-dns
 * readers [SERVICE]`, which refreshes it from a probe (see readers.h).
 *
 * The refresh reads the served record and the reader record over DNS,
 * probes every node, and sends one UPDATE whose prerequisites are the
 * served record as read (the primary has not moved since) and the reader
 * record as read (nobody rewrote it since): a switch or a rejoin that
 * changes either in between makes it change nothing, and it says so. It
 * needs no lock for that. It never talks to Redis but to probe, and never
 * changes anything when the record already says what the probes see.
 * Without SERVICE it refreshes every service that has a reader record.
 * Exit codes: 0 done or nothing to do, 1 refused or failed with nothing
 * changed, 2 usage, 3 the UPDATE's outcome is unknown.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "failover/move.h"
#include "failover/msg.h"
#include "failover/node.h"
#include "failover/readers.h"
#include "failover/state.h"

int
readers_owner(const struct conf *conf, const struct conf_service *svc, char *buf, size_t len)
{
	if (svc->reader_name[0] == '\0')
		return -1;
	snprintf(buf, len, "%s.%s", svc->reader_name, conf->dns.zone);
	return 0;
}

/* Add node's addresses to out, each once, while there is room. */
static void
readers_add_node(struct readers_set *out, const struct conf_node *node)
{
	size_t	a, j;
	int	added = 0;

	for (a = 0; a < node->n_address; a++) {
		for (j = 0; j < out->n; j++)
			if (strcmp(out->addr[j]->text, node->address[a].text) == 0)
				break;
		if (j < out->n)
			continue;
		if (out->n == READERS_MAX)
			break;
		out->addr[out->n++] = &node->address[a];
		added = 1;
	}
	out->n_nodes += added;
}

static void
readers_fallback(struct readers_set *out, const struct conf_node *primary)
{
	if (out->n > 0)
		return;
	out->n_nodes = 0;
	readers_add_node(out, primary);
	out->n_nodes = 0;
	out->primary_only = 1;
}

void
readers_pick(const struct conf_service *svc, int primary, const struct node_info *nodes,
    int include, struct readers_set *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < svc->n_nodes; i++) {
		const struct node_info *ni = &nodes[i];

		if ((int)i == primary)
			continue;
		if ((int)i != include && !(ni->reachable && ni->role == NODE_ROLE_REPLICA &&
		    ni->link_up && state_follows(ni, &svc->nodes[primary])))
			continue;
		readers_add_node(out, &svc->nodes[i]);
	}
	readers_fallback(out, &svc->nodes[primary]);
}

void
readers_pick_switch(const struct conf_service *svc, int from, int target,
    const struct node_info *nodes, const char *fenced, struct readers_set *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < svc->n_nodes; i++) {
		const struct node_info *ni = &nodes[i];

		if ((int)i == target)
			continue;
		if (fenced != NULL && fenced[0] && strcmp(fenced, svc->nodes[i].name) == 0)
			continue;
		/* The old primary answered: the demote makes it a replica. */
		if (!ni->reachable || (ni->role != NODE_ROLE_REPLICA && (int)i != from))
			continue;
		readers_add_node(out, &svc->nodes[i]);
	}
	readers_fallback(out, &svc->nodes[target]);
}

static int
readers_type(const struct conf_ip *ip)
{
	return ip->family == AF_INET ? DNSCLIENT_TYPE_A : DNSCLIENT_TYPE_AAAA;
}

size_t
readers_changes(struct dnsclient_change *ch, const char *owner,
    const struct readers_set *rs, int ttl)
{
	size_t i, n = 0;

	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
	    DNSCLIENT_TYPE_A, 0, NULL };
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
	    DNSCLIENT_TYPE_AAAA, 0, NULL };
	for (i = 0; i < rs->n; i++)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, owner,
		    readers_type(rs->addr[i]), (uint32_t)ttl, rs->addr[i]->text };
	return n;
}

static size_t
readers_prereq_rrset(struct dnsclient_change *ch, const char *owner, int type,
    const struct dnsclient_rrset *rr)
{
	size_t i;

	if (rr->n == 0) {
		ch[0] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner, type, 0, NULL };
		return 1;
	}
	for (i = 0; i < rr->n; i++)
		ch[i] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner, type, 0,
		    rr->value[i] };
	return rr->n;
}

size_t
readers_prereqs(struct dnsclient_change *ch, const char *owner,
    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa)
{
	size_t n;

	n = readers_prereq_rrset(ch, owner, DNSCLIENT_TYPE_A, a);
	return n + readers_prereq_rrset(ch + n, owner, DNSCLIENT_TYPE_AAAA, aaaa);
}

/* Is text one of rr's values, compared as addresses? */
static int
readers_rrset_has(const struct dnsclient_rrset *rr, int family, const char *text)
{
	unsigned char	want[16], got[16];
	size_t		i;

	if (inet_pton(family, text, want) != 1)
		return 0;
	for (i = 0; i < rr->n; i++)
		if (inet_pton(family, rr->value[i], got) == 1 &&
		    memcmp(want, got, family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

int
readers_same(const struct readers_set *rs, const struct dnsclient_rrset *a,
    const struct dnsclient_rrset *aaaa)
{
	size_t	i, n4 = 0, n6 = 0;

	for (i = 0; i < rs->n; i++) {
		const struct conf_ip *ip = rs->addr[i];

		if (!readers_rrset_has(ip->family == AF_INET ? a : aaaa, ip->family, ip->text))
			return 0;
		if (ip->family == AF_INET)
			n4++;
		else
			n6++;
	}
	/* rs has no duplicates: as many distinct values as it has, no more. */
	return a->n == n4 && aaaa->n == n6;
}

void
readers_set_text(const struct readers_set *rs, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < rs->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", rs->addr[i]->text);
}

void
readers_rrset_text(const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
    char *buf, size_t len)
{
	size_t i, o = 0;

	snprintf(buf, len, "nothing");
	if (a->n + aaaa->n == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < a->n + aaaa->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
		    i < a->n ? a->value[i] : aaaa->value[i - a->n]);
}

/* ------------------------------------------------------------ command */

enum dnsclient_result
readers_send(const struct svc_state *st, const char *owner, const struct readers_set *rs,
    int create, int *changed, char *was, size_t waslen, char *err, size_t errlen)
{
	const struct conf		*conf = st->conf;
	const struct conf_sockaddr	*srv = &conf->failover.server;
	struct dnsclient_change		 ch[CONF_ADDR_MAX + 2 + 2 * DNSCLIENT_RR_MAX + 2 +
					    READERS_CHANGES_MAX];
	struct dnsclient_rrset		*a;
	enum dnsclient_result		 res;
	size_t				 n;
	int				 rcode;

	*changed = 0;
	snprintf(was, waslen, "unknown");
	if ((a = calloc(2, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return DNSCLIENT_UNREACHABLE;
	}
	res = dnsclient_query(&srv->ss, srv->len, owner, DNSCLIENT_TYPE_A,
	    conf->failover.probe_timeout_ms, &a[0], err, errlen);
	if (res == DNSCLIENT_OK)
		res = dnsclient_query(&srv->ss, srv->len, owner, DNSCLIENT_TYPE_AAAA,
		    conf->failover.probe_timeout_ms, &a[1], err, errlen);
	if (res != DNSCLIENT_OK) {
		/* Nothing was sent: whatever went wrong, nothing changed. */
		free(a);
		return res == DNSCLIENT_TIMEOUT || res == DNSCLIENT_ERROR ?
		    DNSCLIENT_UNREACHABLE : res;
	}
	readers_rrset_text(&a[0], &a[1], was, waslen);
	if (readers_same(rs, &a[0], &a[1]) || (!create && a[0].n + a[1].n == 0)) {
		free(a);
		return DNSCLIENT_OK;
	}
	n = move_prereqs(ch, st->owner, &st->svc->nodes[st->served]);
	n += readers_prereqs(ch + n, owner, &a[0], &a[1]);
	n += readers_changes(ch + n, owner, rs, conf->dns.ttl);
	res = dnsclient_update(&srv->ss, srv->len, conf->dns.zone, &conf->dns.update_key,
	    ch, n, conf->failover.probe_timeout_ms * 2, &rcode, err, errlen);
	*changed = res == DNSCLIENT_OK;
	free(a);
	return res;
}

/* Refresh one service's reader record; the command's exit code. */
static int
readers_refresh(const struct conf *conf, const struct conf_service *svc)
{
	struct readers_set	 rs;
	struct svc_state	 st;
	enum dnsclient_result	 res;
	char			 owner[CONF_DNAME_MAX + 80], e[512], now[512], was[512];
	int			 changed, rc = 1;

	if (readers_owner(conf, svc, owner, sizeof(owner)) == -1) {
		msg_errorx("readers %s: reader_name is \"\": the service has no reader record",
		    svc->name);
		return 1;
	}
	if (state_load(&st, conf, svc, 1) == -1) {
		msg_errorx("readers %s: %s", svc->name, st.dns_err);
		goto out;
	}
	if (st.dns != DNSCLIENT_OK) {
		msg_errorx("readers %s: cannot read the record: %s", svc->name, st.dns_err);
		goto out;
	}
	if (st.served < 0) {
		msg_errorx("readers %s: %s", svc->name, st.verdict_text);
		goto out;
	}
	if (!st.nodes[st.served].reachable || st.nodes[st.served].role != NODE_ROLE_MASTER) {
		msg_errorx("readers %s: the served node %s is not a reachable master (%s): "
		    "the reader record is left as it is", svc->name,
		    svc->nodes[st.served].name, st.nodes[st.served].reachable ?
		    node_role_str(st.nodes[st.served].role) : st.nodes[st.served].error);
		goto out;
	}
	readers_pick(svc, st.served, st.nodes, -1, &rs);
	readers_set_text(&rs, now, sizeof(now));
	res = readers_send(&st, owner, &rs, 1, &changed, was, sizeof(was), e, sizeof(e));
	if (res == DNSCLIENT_PREREQ) {
		msg_errorx("readers %s: %s or %s changed since they were read (a switch "
		    "or a rejoin ran): nothing changed, run it again (%s)",
		    svc->name, owner, st.owner, e);
		goto out;
	}
	if (res == DNSCLIENT_TIMEOUT || res == DNSCLIENT_ERROR) {
		msg_errorx("readers %s: the UPDATE of %s may or may not have been applied: %s",
		    svc->name, owner, e);
		rc = 3;
		goto out;
	}
	if (res != DNSCLIENT_OK) {
		msg_errorx("readers %s: %s not refreshed: %s", svc->name, owner, e);
		goto out;
	}
	printf("%s: %s%s%s%s\n", owner, now, changed ? " (was " : ", unchanged",
	    changed ? was : "", changed ? ")" : "");
	if (rs.primary_only)
		printf("  the primary %s: no replica follows it with its link up\n",
		    svc->nodes[st.served].name);
	rc = 0;
out:
	state_free(&st);
	return rc;
}

int
cmd_readers(const struct conf *conf, int argc, char **argv)
{
	const struct conf_service	*svc;
	char				 e[256];
	size_t				 i;
	int				 rc = 0, one;

	if (argc == 0) {
		/* Every service that has a reader record: the worst exit wins. */
		for (i = 0; i < conf->n_services; i++) {
			if (conf->services[i].reader_name[0] == '\0')
				continue;
			one = readers_refresh(conf, &conf->services[i]);
			if (one > rc)
				rc = one;
		}
		return rc;
	}
	if (argv[0][0] != '-' && conf_service_find(conf, argv[0]) == NULL) {
		msg_errorx("readers: no service named '%s'", argv[0]);
		return 2;
	}
	svc = state_command_args(conf, argc, argv, NULL, e, sizeof(e));
	if (svc == NULL) {
		msg_errorx("readers: %s", e);
		return 2;
	}
	return readers_refresh(conf, svc);
}
