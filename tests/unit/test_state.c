/*
 * test_state.c - failover/state.c, the view every failover command starts
 * from: matching the served record to a node by address bytes, "does this
 * replica follow that node", the verdicts (consistent, split brain, fenced
 * master, ...) and the service and node arguments of the commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "failover/state.h"

static struct conf_node		nodes[3];
static struct conf_service	svc;
static struct conf		conf;

static void
setup_nodes(void)
{
	static const char *names[] = { "r1", "r2", "r3" };
	static const char *hosts[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
	int i;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < 3; i++) {
		snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", names[i]);
		snprintf(nodes[i].host, sizeof(nodes[i].host), "%s", hosts[i]);
		nodes[i].port = 6379;
		assert_int_equal(conf_ip_parse(hosts[i], &nodes[i].address[0]), 0);
		nodes[i].n_address = 1;
	}
	/* r3 is served dual-stack */
	assert_int_equal(conf_ip_parse("2001:db8::4", &nodes[2].address[1]), 0);
	nodes[2].n_address = 2;
	memset(&svc, 0, sizeof(svc));
	snprintf(svc.name, sizeof(svc.name), "redis");
	svc.nodes = nodes;
	svc.n_nodes = 3;
	memset(&conf, 0, sizeof(conf));
}

static void
set_values(struct dnsclient_rrset *set, const char *a, const char *b)
{
	memset(set, 0, sizeof(*set));
	if (a != NULL)
		snprintf(set->value[set->n++], sizeof(set->value[0]), "%s", a);
	if (b != NULL)
		snprintf(set->value[set->n++], sizeof(set->value[0]), "%s", b);
}

static void
test_match_record(void **state)
{
	struct dnsclient_rrset	a, aaaa;
	enum state_match	how;
	int			other[2];

	(void)state;
	setup_nodes();
	set_values(&a, "127.0.0.3", NULL);
	set_values(&aaaa, NULL, NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 1);
	assert_int_equal(how, MATCH_EXACT);
	assert_int_equal(state_match_record(&svc, &a, &aaaa), 1);
	set_values(&aaaa, "2001:db8:0:0::4", NULL);	/* same bytes, other text */
	set_values(&a, "127.0.0.4", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 2);
	assert_int_equal(how, MATCH_EXACT);
	/* r3 gained an address the record lacks: a subset still names it */
	set_values(&aaaa, NULL, NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 2);
	assert_int_equal(how, MATCH_SUBSET);
	set_values(&a, NULL, NULL);
	set_values(&aaaa, "2001:db8::4", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 2);
	assert_int_equal(how, MATCH_SUBSET);
	/* r2 lost an address the record still has: the overlap names it */
	set_values(&a, "127.0.0.3", NULL);
	set_values(&aaaa, "fd77::3", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 1);
	assert_int_equal(how, MATCH_OVERLAP);
	set_values(&a, "127.0.0.3", "10.77.0.99");
	set_values(&aaaa, NULL, NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 1);
	assert_int_equal(how, MATCH_OVERLAP);
	/* an exact match wins over a subset of another node */
	nodes[1].address[1] = nodes[2].address[0];	/* r2: 127.0.0.3, 127.0.0.4 */
	nodes[1].n_address = 2;
	set_values(&a, "127.0.0.4", NULL);
	set_values(&aaaa, "2001:db8::4", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), 2);
	assert_int_equal(how, MATCH_EXACT);
	/* two nodes with all of the record: ambiguous, both named */
	set_values(&aaaa, NULL, NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), -1);
	assert_int_equal(how, MATCH_AMBIGUOUS);
	assert_int_equal(other[0], 1);
	assert_int_equal(other[1], 2);
	assert_int_equal(state_match_record(&svc, &a, &aaaa), -1);
	setup_nodes();
	/* two nodes sharing some of it, neither all: ambiguous */
	set_values(&a, "127.0.0.4", "127.0.0.2");
	set_values(&aaaa, "2001:db8::4", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), -1);
	assert_int_equal(how, MATCH_AMBIGUOUS);
	set_values(&a, NULL, NULL);
	set_values(&aaaa, NULL, NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, other), -1);
	assert_int_equal(how, MATCH_NONE);
	set_values(&a, "not an address", NULL);
	assert_int_equal(state_match_record(&svc, &a, &aaaa), -1);
	set_values(&a, "10.77.0.99", NULL);
	assert_int_equal(state_match_record_how(&svc, &a, &aaaa, &how, NULL), -1);
	assert_int_equal(how, MATCH_NONE);
}

static void
test_record_mismatch(void **state)
{
	struct dnsclient_rrset	a, aaaa;
	char			buf[256];

	(void)state;
	setup_nodes();
	set_values(&a, "127.0.0.4", NULL);
	set_values(&aaaa, NULL, NULL);
	assert_string_equal(state_record_mismatch(&nodes[2], &a, &aaaa, buf, sizeof(buf)),
	    "record lacks 2001:db8::4 of r3");
	set_values(&a, "127.0.0.3", "10.77.0.99");
	assert_string_equal(state_record_mismatch(&nodes[1], &a, &aaaa, buf, sizeof(buf)),
	    "record has 10.77.0.99 that r2 no longer has");
	set_values(&a, "10.77.0.99", NULL);
	set_values(&aaaa, "2001:db8::4", NULL);
	assert_string_equal(state_record_mismatch(&nodes[2], &a, &aaaa, buf, sizeof(buf)),
	    "record lacks 127.0.0.4 of r3; record has 10.77.0.99 that r3 no longer has");
	set_values(&a, "127.0.0.4", NULL);
	assert_string_equal(state_record_mismatch(&nodes[2], &a, &aaaa, buf, sizeof(buf)), "");
}

static void
test_follows(void **state)
{
	struct node_info r;

	(void)state;
	setup_nodes();
	memset(&r, 0, sizeof(r));
	r.role = NODE_ROLE_REPLICA;
	snprintf(r.master_host, sizeof(r.master_host), "127.0.0.2");
	r.master_port = 6379;
	assert_true(state_follows(&r, &nodes[0]));
	assert_false(state_follows(&r, &nodes[1]));
	r.master_port = 6380;
	assert_false(state_follows(&r, &nodes[0]));
	r.master_port = 6379;
	r.role = NODE_ROLE_MASTER;
	assert_false(state_follows(&r, &nodes[0]));
}

/* A state with r1 served; roles given as "M", "r1" (replica of r1), "-". */
static void
make_state(struct svc_state *st, struct node_info *infos, const char *roles[3],
    const char *fenced)
{
	static struct dnsclient_rrset a, aaaa, txt;
	int i;

	memset(st, 0, sizeof(*st));
	set_values(&a, "127.0.0.2", NULL);
	set_values(&aaaa, NULL, NULL);
	set_values(&txt, NULL, NULL);
	st->a = &a;
	st->aaaa = &aaaa;
	st->txt = &txt;
	st->conf = &conf;
	st->svc = &svc;
	st->nodes = infos;
	st->dns = DNSCLIENT_OK;
	st->served = 0;
	snprintf(st->redisfo.fenced, sizeof(st->redisfo.fenced), "%s", fenced ? fenced : "");
	memset(infos, 0, 3 * sizeof(*infos));
	for (i = 0; i < 3; i++) {
		infos[i].conf = &nodes[i];
		if (strcmp(roles[i], "-") == 0)
			continue;
		infos[i].reachable = 1;
		if (strcmp(roles[i], "M") == 0) {
			infos[i].role = NODE_ROLE_MASTER;
			infos[i].master_offset = 1000;
		} else {
			int m = roles[i][1] - '1';
			infos[i].role = NODE_ROLE_REPLICA;
			snprintf(infos[i].master_host, sizeof(infos[i].master_host), "%s",
			    nodes[m].host);
			infos[i].master_port = nodes[m].port;
			infos[i].link_up = 1;
			infos[i].replica_offset = 900;
		}
	}
}

static void
test_verdicts(void **state)
{
	struct svc_state	st;
	struct node_info	infos[3];

	(void)state;
	setup_nodes();
	make_state(&st, infos, (const char *[]){ "M", "r1", "r1" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_CONSISTENT);
	assert_int_equal(infos[1].lag_bytes, 100);
	assert_int_equal(infos[0].lag_bytes, 0);

	make_state(&st, infos, (const char *[]){ "M", "r1", "M" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SPLIT_BRAIN);
	assert_non_null(strstr(st.verdict_text, "r3 claims master"));

	make_state(&st, infos, (const char *[]){ "M", "M", "r1" }, "r2");
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_FENCED_MASTER);

	make_state(&st, infos, (const char *[]){ "-", "r1", "r1" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SERVED_DOWN);
	assert_null(strstr(st.verdict_text, "adopts"));

	/* promoted outside a switch, the served node gone: adopt it */
	make_state(&st, infos, (const char *[]){ "-", "M", "r1" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SERVED_DOWN);
	assert_non_null(strstr(st.verdict_text,
	    "r2 is master outside the record: `switch --to r2` adopts it"));

	/* two masters: both ways out named */
	make_state(&st, infos, (const char *[]){ "M", "M", "r1" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SPLIT_BRAIN);
	assert_non_null(strstr(st.verdict_text,
	    "`switch --to r2 --force` adopts r2, `rejoin r2` keeps r1"));

	/* the record lacks an address r1 gained: consistent, with the repair named */
	make_state(&st, infos, (const char *[]){ "M", "r1", "r1" }, NULL);
	assert_int_equal(conf_ip_parse("fd77::2", &nodes[0].address[1]), 0);
	nodes[0].n_address = 2;
	st.served_how = MATCH_SUBSET;
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_CONSISTENT);
	assert_non_null(strstr(st.verdict_text,
	    "record lacks fd77::2 of r1: `switch --to r1` repairs it"));
	setup_nodes();

	make_state(&st, infos, (const char *[]){ "r2", "M", "r2" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SERVED_NOT_MASTER);

	make_state(&st, infos, (const char *[]){ "M", "r1", "r2" }, NULL);
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_WRONG_MASTER);

	make_state(&st, infos, (const char *[]){ "M", "r1", "r1" }, NULL);
	st.served = -1;
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_RECORD_NO_NODE);

	make_state(&st, infos, (const char *[]){ "M", "r1", "r1" }, NULL);
	st.dns = DNSCLIENT_TIMEOUT;
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_DNS_UNKNOWN);
}

static void
test_service_arg(void **state)
{
	const struct conf_service	*s;
	struct conf_service		 two[2];
	char				*argv[] = { "other", "--json" };
	char				 err[128];
	int				 used;

	(void)state;
	setup_nodes();
	conf.services = &svc;
	conf.n_services = 1;
	s = state_service_arg(&conf, 0, NULL, &used, err, sizeof(err));
	assert_ptr_equal(s, &svc);
	assert_int_equal(used, 0);
	memset(two, 0, sizeof(two));
	snprintf(two[0].name, sizeof(two[0].name), "redis");
	snprintf(two[1].name, sizeof(two[1].name), "other");
	conf.services = two;
	conf.n_services = 2;
	s = state_service_arg(&conf, 2, argv, &used, err, sizeof(err));
	assert_ptr_equal(s, &two[1]);
	assert_int_equal(used, 1);
	s = state_service_arg(&conf, 1, argv + 1, &used, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "2 services"));
}

static void
test_command_args(void **state)
{
	const struct conf_service	*s;
	const char			*node = NULL;
	char				*bad[] = { "r2", "--bogus" };
	char				*two[] = { "redis", "r2" };
	char				*other[] = { "nope", "r2" };
	char				 err[128];

	(void)state;
	setup_nodes();
	conf.services = &svc;
	conf.n_services = 1;
	assert_null(state_command_args(&conf, 2, bad, &node, err, sizeof(err)));
	assert_string_equal(err, "unexpected argument '--bogus'");
	/* a NODE is the last word; without one, say so */
	s = state_command_args(&conf, 2, two, &node, err, sizeof(err));
	assert_ptr_equal(s, &svc);
	assert_string_equal(node, "r2");
	assert_null(state_command_args(&conf, 0, NULL, &node, err, sizeof(err)));
	assert_string_equal(err, "name the node");
	/* the one service is taken, but a word that names no service is an error */
	assert_null(state_command_args(&conf, 2, other, &node, err, sizeof(err)));
	assert_string_equal(err, "no such service");
}

/* A replica that has not said which master it follows is never ":0". */
static void
test_master_text(void **state)
{
	struct node_info	ni;
	char			buf[300];

	(void)state;
	memset(&ni, 0, sizeof(ni));
	ni.role = NODE_ROLE_REPLICA;
	assert_string_equal(state_master_text(&ni, buf, sizeof(buf)), "no master yet");
	snprintf(ni.master_host, sizeof(ni.master_host), "127.0.0.2");
	assert_string_equal(state_master_text(&ni, buf, sizeof(buf)), "no master yet");
	ni.master_port = 6379;
	assert_string_equal(state_master_text(&ni, buf, sizeof(buf)), "127.0.0.2:6379");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_record),
		cmocka_unit_test(test_record_mismatch),
		cmocka_unit_test(test_follows),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_master_text),
		cmocka_unit_test(test_service_arg),
		cmocka_unit_test(test_command_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
