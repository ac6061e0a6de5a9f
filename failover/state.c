/*
 * state.c - one look at a service: the record over DNS and every node's
 * probe, and the verdict (consistent, split brain, ...).
 *
 * It only reads: no command here changes a node or the zone. The record is
 * matched to a node by comparing address bytes (not text), so "::1" and
 * "0:0::1" are the same address; a record that holds only some of a
 * node's addresses, or some it no longer has, still names it when no
 * other node matches as well (a node's address list was edited).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/util.h"
#include "failover/state.h"

const char *
state_verdict_str(enum state_verdict v)
{
	switch (v) {
	case VERDICT_CONSISTENT:	return "consistent";
	case VERDICT_DNS_UNKNOWN:	return "record unknown";
	case VERDICT_RECORD_NO_NODE:	return "record matches no node";
	case VERDICT_SERVED_DOWN:	return "served node unreachable";
	case VERDICT_SERVED_NOT_MASTER:	return "served node not master";
	case VERDICT_SPLIT_BRAIN:	return "split brain";
	case VERDICT_FENCED_MASTER:	return "fenced node back as master";
	case VERDICT_WRONG_MASTER:	return "replica of the wrong master";
	}
	return "?";
}

const char *
state_master_text(const struct node_info *ni, char *buf, size_t len)
{
	if (ni->master_host[0] == '\0' || ni->master_port == 0)
		snprintf(buf, len, "no master yet");
	else
		snprintf(buf, len, "%s:%d", ni->master_host, ni->master_port);
	return buf;
}

const struct conf_service *
state_service_arg(const struct conf *conf, int argc, char **argv, int *used,
    char *err, size_t errlen)
{
	const struct conf_service *svc;

	*used = 0;
	if (argc > 0 && argv[0][0] != '-') {
		svc = conf_service_find(conf, argv[0]);
		if (svc != NULL) {
			*used = 1;
			return svc;
		}
	}
	if (conf->n_services == 1)
		return &conf->services[0];
	if (argc > 0 && argv[0][0] != '-')
		snprintf(err, errlen, "no service named '%s'", argv[0]);
	else
		snprintf(err, errlen, "%zu services: name one", conf->n_services);
	return NULL;
}

const struct conf_service *
state_command_args(const struct conf *conf, int argc, char **argv,
    const char **node, char *err, size_t errlen)
{
	const struct conf_service	*svc;
	const char			*pos[2] = { NULL, NULL };
	int				 i, npos = 0, used, want = node ? 2 : 1;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] != '-' && npos < want)
			pos[npos++] = argv[i];
		else {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return NULL;
		}
	}
	if (node != NULL) {
		if (npos == 0) {
			snprintf(err, errlen, "name the node");
			return NULL;
		}
		*node = pos[npos - 1];
		npos--;
	}
	svc = state_service_arg(conf, npos, (char **)pos, &used, err, errlen);
	if (svc != NULL && npos > 0 && !used) {
		snprintf(err, errlen, "no such service");
		return NULL;
	}
	return svc;
}

int
state_node_index(const struct conf_service *svc, const char *name)
{
	size_t i;

	for (i = 0; i < svc->n_nodes; i++)
		if (strcmp(svc->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

void
state_node_addresses(const struct conf_node *node, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < node->n_address && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
		    node->address[i].text);
}

static int
node_has_address(const struct conf_node *node, int family, const unsigned char *bytes)
{
	size_t i;

	for (i = 0; i < node->n_address; i++)
		if (node->address[i].family == family &&
		    memcmp(node->address[i].bytes, bytes, family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* Does the record hold addr (one of a node's)? */
static int
record_has(const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
    const struct conf_ip *addr)
{
	const struct dnsclient_rrset	*set = addr->family == AF_INET ? a : aaaa;
	unsigned char			 b[16];
	size_t				 j;

	for (j = 0; j < set->n; j++)
		if (inet_pton(addr->family, set->value[j], b) == 1 &&
		    memcmp(addr->bytes, b, addr->family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* How many of the record's values node has; *bad counts the unparsable. */
static size_t
node_shares(const struct conf_node *node, const struct dnsclient_rrset *a,
    const struct dnsclient_rrset *aaaa)
{
	unsigned char	b[16];
	size_t		j, n = 0;

	for (j = 0; j < a->n; j++)
		n += inet_pton(AF_INET, a->value[j], b) == 1 &&
		    node_has_address(node, AF_INET, b);
	for (j = 0; j < aaaa->n; j++)
		n += inet_pton(AF_INET6, aaaa->value[j], b) == 1 &&
		    node_has_address(node, AF_INET6, b);
	return n;
}

int
state_match_record_how(const struct conf_service *svc, const struct dnsclient_rrset *a,
    const struct dnsclient_rrset *aaaa, enum state_match *how, int *other)
{
	size_t			i, n = a->n + aaaa->n, k;
	int			found[3] = { -1, -1, -1 }, second[3] = { -1, -1, -1 };
	int			t;
	enum state_match	dummy;

	if (how == NULL)
		how = &dummy;
	if (other != NULL)
		other[0] = other[1] = -1;
	*how = MATCH_NONE;
	if (n == 0)
		return -1;
	/* found[0]: exact, [1]: all of the record, [2]: some of it */
	for (i = 0; i < svc->n_nodes; i++) {
		k = node_shares(&svc->nodes[i], a, aaaa);
		if (k == 0)
			continue;
		t = k < n ? 2 : svc->nodes[i].n_address == n ? 0 : 1;
		if (found[t] < 0)
			found[t] = (int)i;
		else if (second[t] < 0)
			second[t] = (int)i;
	}
	for (t = 0; t < 3; t++) {
		if (found[t] < 0)
			continue;
		if (second[t] >= 0) {
			*how = MATCH_AMBIGUOUS;
			if (other != NULL) {
				other[0] = found[t];
				other[1] = second[t];
			}
			return -1;
		}
		*how = t == 0 ? MATCH_EXACT : t == 1 ? MATCH_SUBSET : MATCH_OVERLAP;
		return found[t];
	}
	return -1;
}

int
state_match_record(const struct conf_service *svc, const struct dnsclient_rrset *a,
    const struct dnsclient_rrset *aaaa)
{
	return state_match_record_how(svc, a, aaaa, NULL, NULL);
}

const char *
state_record_mismatch(const struct conf_node *node, const struct dnsclient_rrset *a,
    const struct dnsclient_rrset *aaaa, char *buf, size_t len)
{
	const struct dnsclient_rrset	*set;
	unsigned char			 b[16];
	size_t				 i, j, o = 0;
	int				 fam;

	buf[0] = '\0';
	for (i = 0; i < node->n_address && o < len; i++)
		if (!record_has(a, aaaa, &node->address[i]))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," :
			    "record lacks ", node->address[i].text);
	if (o > 0 && o < len)
		o += (size_t)snprintf(buf + o, len - o, " of %s", node->name);
	for (fam = 0; fam < 2; fam++) {
		set = fam == 0 ? a : aaaa;
		for (j = 0; j < set->n && o < len; j++) {
			if (inet_pton(fam == 0 ? AF_INET : AF_INET6, set->value[j], b) == 1 &&
			    node_has_address(node, fam == 0 ? AF_INET : AF_INET6, b))
				continue;
			o += (size_t)snprintf(buf + o, len - o, "%s%.45s",
			    strstr(buf, "record has ") ? "," : o ? "; record has " :
			    "record has ", set->value[j]);
		}
	}
	if (strstr(buf, "record has ") != NULL && o < len)
		snprintf(buf + o, len - o, " that %s no longer has", node->name);
	return buf;
}

int
state_follows(const struct node_info *replica, const struct conf_node *node)
{
	unsigned char a[16], b[16];
	size_t i;
	int fam;

	if (replica->role != NODE_ROLE_REPLICA || replica->master_port != node->port)
		return 0;
	if (strcmp(replica->master_host, node->host) == 0)
		return 1;
	/* a node named by host name: the replica may know it by an address */
	for (i = 0; node->address_from_host && i < node->n_address; i++)
		if (strcmp(replica->master_host, node->address[i].text) == 0)
			return 1;
	fam = strchr(node->host, ':') ? AF_INET6 : AF_INET;
	return inet_pton(fam, replica->master_host, a) == 1 &&
	    inet_pton(fam, node->host, b) == 1 &&
	    memcmp(a, b, fam == AF_INET ? 4 : 16) == 0;
}

enum dnsclient_result
state_read_dns(struct svc_state *st)
{
	const struct conf_sockaddr	*srv = &st->conf->failover.server;
	int				 to = st->conf->failover.probe_timeout_ms;
	enum dnsclient_result		 r;

	st->served = -1;
	r = dnsclient_query(&srv->ss, srv->len, st->owner, DNSCLIENT_TYPE_A, to,
	    st->a, st->dns_err, sizeof(st->dns_err));
	if (r == DNSCLIENT_OK)
		r = dnsclient_query(&srv->ss, srv->len, st->owner, DNSCLIENT_TYPE_AAAA,
		    to, st->aaaa, st->dns_err, sizeof(st->dns_err));
	if (r == DNSCLIENT_OK)
		r = dnsclient_query(&srv->ss, srv->len, st->txt_owner,
		    DNSCLIENT_TYPE_TXT, to, st->txt, st->dns_err, sizeof(st->dns_err));
	if (r == DNSCLIENT_OK)
		r = dnsclient_serial(&srv->ss, srv->len, st->conf->dns.zone, to,
		    &st->serial, st->dns_err, sizeof(st->dns_err));
	st->dns = r;
	if (r != DNSCLIENT_OK)
		return r;
	st->ttl = st->a->n ? st->a->ttl : st->aaaa->ttl;
	st->served = state_match_record_how(st->svc, st->a, st->aaaa, &st->served_how,
	    st->served_other);
	txt_parse(st->txt->n ? st->txt->value[0] : "", &st->redisfo);
	return r;
}

/* The lease, into st (lease_err when it cannot be read). */
static void
state_read_lease(struct svc_state *st)
{
	char e[sizeof(st->lease_err)];

	switch (lease_read(st->conf, st->svc, &st->lease, e, sizeof(e))) {
	case 1:
		st->lease_held = 1;
		st->lease_err[0] = '\0';
		break;
	case 0:
		st->lease_err[0] = '\0';
		break;
	default:
		snprintf(st->lease_err, sizeof(st->lease_err), "%s", e);
		break;
	}
}

int
state_load(struct svc_state *st, const struct conf *conf,
    const struct conf_service *svc, int probe)
{
	memset(st, 0, sizeof(*st));
	st->conf = conf;
	st->svc = svc;
	st->served = -1;
	snprintf(st->owner, sizeof(st->owner), "%s.%s", svc->name, conf->dns.zone);
	snprintf(st->txt_owner, sizeof(st->txt_owner), "_redisfo.%s.%s", svc->name,
	    conf->dns.zone);
	st->nodes = calloc(svc->n_nodes ? svc->n_nodes : 1, sizeof(*st->nodes));
	st->a = calloc(1, sizeof(*st->a));
	st->aaaa = calloc(1, sizeof(*st->aaaa));
	st->txt = calloc(1, sizeof(*st->txt));
	if (st->nodes == NULL || st->a == NULL || st->aaaa == NULL || st->txt == NULL) {
		snprintf(st->dns_err, sizeof(st->dns_err), "out of memory");
		return -1;
	}
	state_read_lease(st);
	state_read_dns(st);
	if (probe)
		node_probe_all(svc, conf->failover.probe_timeout_ms, st->nodes);
	if (!st->lease_held)
		state_read_lease(st);
	st->loaded_ms = lease_now_ms();
	/* a node named by host name has addresses once a probe resolved it */
	if (st->served == -1)
		st->served = state_match_record_how(svc, st->a, st->aaaa, &st->served_how,
		    st->served_other);
	state_judge(st);
	return 0;
}

void
state_free(struct svc_state *st)
{
	free(st->nodes);
	free(st->a);
	free(st->aaaa);
	free(st->txt);
	st->nodes = NULL;
	st->a = st->aaaa = st->txt = NULL;
}

static void
text_add(struct svc_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* More of the verdict's text, cut where it no longer fits. */
static void
text_add(struct svc_state *st, const char *fmt, ...)
{
	size_t	o = strlen(st->verdict_text);
	va_list	ap;

	if (o + 1 >= sizeof(st->verdict_text))
		return;
	va_start(ap, fmt);
	vsnprintf(st->verdict_text + o, sizeof(st->verdict_text) - o, fmt, ap);
	va_end(ap);
}

void
state_judge(struct svc_state *st)
{
	const struct conf_service	*svc = st->svc;
	const struct node_info		*p = NULL;
	size_t				 i;
	int				 other = -1, wrong = -1, fenced = -1;

	st->n_masters = 0;
	for (i = 0; i < svc->n_nodes; i++)
		if (st->nodes[i].reachable && st->nodes[i].role == NODE_ROLE_MASTER) {
			st->n_masters++;
			if ((int)i != st->served)
				other = (int)i;
			if (st->redisfo.fenced[0] &&
			    strcmp(svc->nodes[i].name, st->redisfo.fenced) == 0)
				fenced = (int)i;
		}
	if (st->served >= 0) {
		p = &st->nodes[st->served];
		for (i = 0; i < svc->n_nodes; i++) {
			st->nodes[i].lag_bytes = -1;
			if (!st->nodes[i].reachable || !p->reachable)
				continue;
			if ((int)i == st->served) {
				st->nodes[i].lag_bytes = 0;
			} else if (state_follows(&st->nodes[i], &svc->nodes[st->served])) {
				st->nodes[i].lag_bytes = p->master_offset - st->nodes[i].replica_offset;
				if (st->nodes[i].lag_bytes < 0)
					st->nodes[i].lag_bytes = 0;
			} else if (st->nodes[i].role == NODE_ROLE_REPLICA && wrong < 0)
				wrong = (int)i;
		}
	}

	st->verdict = VERDICT_CONSISTENT;
	if (st->dns != DNSCLIENT_OK) {
		st->verdict = VERDICT_DNS_UNKNOWN;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "cannot read the record: %s", st->dns_err);
	} else if (st->served < 0) {
		st->verdict = VERDICT_RECORD_NO_NODE;
		/* an A or AAAA value is an address: 45 characters at most */
		if (st->served_how == MATCH_AMBIGUOUS)
			snprintf(st->verdict_text, sizeof(st->verdict_text),
			    "%.200s %.45s%s%.45s matches more than one node of %.64s "
			    "(%.64s and %.64s): give each node addresses of its own", st->owner,
			    st->a->n ? st->a->value[0] : "", st->aaaa->n ? " " : "",
			    st->aaaa->n ? st->aaaa->value[0] : "", svc->name,
			    svc->nodes[st->served_other[0]].name,
			    svc->nodes[st->served_other[1]].name);
		else
			snprintf(st->verdict_text, sizeof(st->verdict_text),
			    "%s %.45s%s%.45s matches no node of %s", st->owner,
			    st->a->n ? st->a->value[0] : "", st->aaaa->n ? " " : "",
			    st->aaaa->n ? st->aaaa->value[0] : "", svc->name);
	} else if (fenced >= 0) {
		st->verdict = VERDICT_FENCED_MASTER;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "split brain: fenced node %s is back as master while %s is served; "
		    "run rejoin %s", svc->nodes[fenced].name,
		    svc->nodes[st->served].name, svc->nodes[fenced].name);
	} else if (other >= 0 && p->reachable && p->role == NODE_ROLE_MASTER) {
		st->verdict = VERDICT_SPLIT_BRAIN;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "split brain: %s claims master while %s is served",
		    svc->nodes[other].name, svc->nodes[st->served].name);
		if (st->n_masters == 2)
			text_add(st, "; `switch --to %s --force` adopts %s, `rejoin %s` "
			    "keeps %s", svc->nodes[other].name, svc->nodes[other].name,
			    svc->nodes[other].name, svc->nodes[st->served].name);
	} else if (!p->reachable) {
		st->verdict = VERDICT_SERVED_DOWN;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "served node %s is unreachable: %.300s", svc->nodes[st->served].name,
		    p->error);
		if (other >= 0 && st->n_masters == 1)
			text_add(st, "; %s is master outside the record: `switch --to %s` "
			    "adopts it", svc->nodes[other].name, svc->nodes[other].name);
	} else if (p->role != NODE_ROLE_MASTER) {
		st->verdict = VERDICT_SERVED_NOT_MASTER;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "served node %s is a %s, not a master", svc->nodes[st->served].name,
		    node_role_str(p->role));
	} else if (other >= 0) {
		st->verdict = VERDICT_SPLIT_BRAIN;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "split brain: %s claims master while %s is served",
		    svc->nodes[other].name, svc->nodes[st->served].name);
	} else if (wrong >= 0) {
		char master[300];

		st->verdict = VERDICT_WRONG_MASTER;
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "%s is a replica of %s, not of the served %s", svc->nodes[wrong].name,
		    state_master_text(&st->nodes[wrong], master, sizeof(master)),
		    svc->nodes[st->served].name);
	} else {
		snprintf(st->verdict_text, sizeof(st->verdict_text),
		    "%s is served and master", svc->nodes[st->served].name);
	}
	if (st->dns == DNSCLIENT_OK && st->served >= 0 && st->served_how != MATCH_EXACT) {
		char why[300];

		text_add(st, "; %s: `switch --to %s` repairs it",
		    state_record_mismatch(&svc->nodes[st->served], st->a, st->aaaa, why,
		    sizeof(why)), svc->nodes[st->served].name);
	}
}

enum state_secondary
state_secondary_wait(const struct svc_state *st, const struct conf_sockaddr *addr,
    int within_ms, uint32_t *seen, char *err, size_t errlen)
{
	int64_t		deadline = mono_ms() + within_ms;
	struct timespec	ts = { 0, 100 * 1000000 };

	for (;;) {
		if (dnsclient_serial(&addr->ss, addr->len, st->conf->dns.zone,
		    st->conf->failover.probe_timeout_ms, seen, err, errlen) != DNSCLIENT_OK)
			return SECONDARY_NO_ANSWER;
		if ((int32_t)(*seen - st->serial) >= 0)
			return SECONDARY_IN_SYNC;
		if (mono_ms() >= deadline)
			return SECONDARY_BEHIND;
		nanosleep(&ts, NULL);
	}
}
