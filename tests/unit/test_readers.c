/*
 * test_readers.c - the pure parts of the SRV and reader records: which
 * nodes the reader record names (from probes, and for a switch), the
 * changes and prerequisites that rewrite it, whether a record read back
 * says the same, the SRV in the switch's UPDATE (failover/move.c), and
 * check's warning for a stale reader record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "failover/check.h"
#include "failover/move.h"
#include "failover/readers.h"
#include "failover/state.h"

static struct conf_node		nodes[4];
static struct conf_service	svc;
static struct conf		conf;
static struct node_info		infos[4];

/* r1 master; r2, r3 replicas of r1 with their link up; r4 (r3's address
 * too, another port) a replica of r1 as well. */
static void
setup(void)
{
	static const char *names[] = { "r1", "r2", "r3", "r4" };
	static const char *hosts[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.4" };
	int i;

	memset(nodes, 0, sizeof(nodes));
	memset(infos, 0, sizeof(infos));
	memset(&svc, 0, sizeof(svc));
	memset(&conf, 0, sizeof(conf));
	for (i = 0; i < 4; i++) {
		snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", names[i]);
		snprintf(nodes[i].host, sizeof(nodes[i].host), "%s", hosts[i]);
		nodes[i].port = 6379 + (i == 3);
		assert_int_equal(conf_ip_parse(hosts[i], &nodes[i].address[0]), 0);
		nodes[i].n_address = 1;
		infos[i].conf = &nodes[i];
		infos[i].reachable = 1;
		infos[i].answered = 1;
		if (i == 0) {
			infos[i].role = NODE_ROLE_MASTER;
			continue;
		}
		infos[i].role = NODE_ROLE_REPLICA;
		snprintf(infos[i].master_host, sizeof(infos[i].master_host), "127.0.0.2");
		infos[i].master_port = 6379;
		infos[i].link_up = 1;
	}
	/* r2 is served at two addresses */
	assert_int_equal(conf_ip_parse("fd00::3", &nodes[1].address[1]), 0);
	nodes[1].n_address = 2;
	snprintf(svc.name, sizeof(svc.name), "redis");
	snprintf(svc.reader_name, sizeof(svc.reader_name), "redis-ro");
	svc.nodes = nodes;
	svc.n_nodes = 4;
	snprintf(conf.dns.zone, sizeof(conf.dns.zone), "svc.test.");
	conf.dns.ttl = 5;
	conf.services = &svc;
	conf.n_services = 1;
}

static void
set_text(const struct readers_set *rs, const char *want)
{
	char buf[512];

	readers_set_text(rs, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_pick(void **state)
{
	struct readers_set rs;

	(void)state;
	setup();
	readers_pick(&svc, 0, infos, -1, &rs);
	/* r4 shares r3's address: once */
	set_text(&rs, "127.0.0.3,fd00::3,127.0.0.4");
	assert_false(rs.primary_only);
	assert_int_equal(rs.n_nodes, 2);
	/* link down, unreachable, following another node: out */
	infos[1].link_up = 0;
	infos[2].reachable = 0;
	snprintf(infos[3].master_host, sizeof(infos[3].master_host), "127.0.0.3");
	readers_pick(&svc, 0, infos, -1, &rs);
	set_text(&rs, "127.0.0.2");
	assert_true(rs.primary_only);
	/* a node a command has just brought in counts whatever its probe */
	readers_pick(&svc, 0, infos, 2, &rs);
	set_text(&rs, "127.0.0.4");
	assert_false(rs.primary_only);
}

static void
test_pick_switch(void **state)
{
	struct readers_set rs;

	(void)state;
	setup();
	/* planned r1 -> r2: r1 (demoted), r3, r4 (one address) */
	readers_pick_switch(&svc, 0, 1, infos, "", &rs);
	set_text(&rs, "127.0.0.2,127.0.0.4");
	/* unplanned: r1 does not answer; r3 is fenced */
	infos[0].reachable = 0;
	readers_pick_switch(&svc, 0, 1, infos, "r3", &rs);
	set_text(&rs, "127.0.0.4");
	/* nobody left: the new primary */
	infos[3].reachable = 0;
	readers_pick_switch(&svc, 0, 1, infos, "r3", &rs);
	set_text(&rs, "127.0.0.3,fd00::3");
	assert_true(rs.primary_only);
}

static void
rrset(struct dnsclient_rrset *rr, const char *v1, const char *v2)
{
	memset(rr, 0, sizeof(*rr));
	if (v1 != NULL)
		snprintf(rr->value[rr->n++], DNSCLIENT_VALUE_MAX, "%s", v1);
	if (v2 != NULL)
		snprintf(rr->value[rr->n++], DNSCLIENT_VALUE_MAX, "%s", v2);
}

static void
test_same_and_changes(void **state)
{
	static struct dnsclient_rrset	a, aaaa;
	struct dnsclient_change		ch[2 * DNSCLIENT_RR_MAX + 2];
	struct readers_set		rs;
	size_t				n;

	(void)state;
	setup();
	readers_pick(&svc, 0, infos, -1, &rs);
	rrset(&a, "127.0.0.4", "127.0.0.3");
	rrset(&aaaa, "fd00:0:0::3", NULL);
	assert_true(readers_same(&rs, &a, &aaaa));	/* any order, as addresses */
	rrset(&aaaa, NULL, NULL);
	assert_false(readers_same(&rs, &a, &aaaa));
	rrset(&a, "127.0.0.4", "127.0.0.9");
	rrset(&aaaa, "fd00::3", NULL);
	assert_false(readers_same(&rs, &a, &aaaa));
	rrset(&a, "127.0.0.3", NULL);
	assert_false(readers_same(&rs, &a, &aaaa));

	n = readers_changes(ch, "redis-ro.svc.test.", &rs, 5);
	assert_int_equal(n, 5);
	assert_int_equal(ch[0].op, DNSCLIENT_DELETE_RRSET);
	assert_int_equal(ch[0].type, DNSCLIENT_TYPE_A);
	assert_int_equal(ch[1].op, DNSCLIENT_DELETE_RRSET);
	assert_int_equal(ch[1].type, DNSCLIENT_TYPE_AAAA);
	assert_int_equal(ch[3].op, DNSCLIENT_ADD);
	assert_int_equal(ch[3].type, DNSCLIENT_TYPE_AAAA);
	assert_string_equal(ch[3].rdata, "fd00::3");
	assert_int_equal(ch[4].ttl, 5);

	/* prerequisites: every value read, and "absent" for an empty family */
	rrset(&a, "127.0.0.3", "127.0.0.4");
	rrset(&aaaa, NULL, NULL);
	n = readers_prereqs(ch, "redis-ro.svc.test.", &a, &aaaa);
	assert_int_equal(n, 3);
	assert_int_equal(ch[0].op, DNSCLIENT_PREREQ_VALUE);
	assert_string_equal(ch[1].rdata, "127.0.0.4");
	assert_int_equal(ch[2].op, DNSCLIENT_PREREQ_ABSENT);
	assert_int_equal(ch[2].type, DNSCLIENT_TYPE_AAAA);
}

static void
test_move_srv_and_readers(void **state)
{
	struct move		m;
	struct txt_record	rec;
	struct readers_set	rs;
	size_t			i, srv = 0, base;

	(void)state;
	setup();
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), "r4");
	rec.epoch = 2;
	assert_int_equal(move_build(&m, "redis.svc.test.", "_redisfo.redis.svc.test.",
	    &nodes[0], &nodes[3], 5, &rec), 0);
	for (i = 0; i < m.n; i++) {
		if (m.ch[i].type != DNSCLIENT_TYPE_SRV)
			continue;
		assert_string_equal(m.ch[i].owner, "_redis._tcp.redis.svc.test.");
		if (m.ch[i].op == DNSCLIENT_ADD)
			assert_string_equal(m.ch[i].rdata, "0 0 6380 redis.svc.test.");
		else
			assert_int_equal(m.ch[i].op, DNSCLIENT_DELETE_RRSET);
		srv++;
	}
	assert_int_equal(srv, 2);
	/* the prerequisites stay the address alone */
	for (i = 0; i < m.n; i++)
		if (m.ch[i].op <= DNSCLIENT_PREREQ_ABSENT)
			assert_string_equal(m.ch[i].owner, "redis.svc.test.");
	base = m.n;
	readers_pick_switch(&svc, 0, 3, infos, "", &rs);
	move_add_readers(&m, "redis-ro.svc.test.", &rs, 5);
	assert_int_equal(m.n, base + 2 + rs.n);
	assert_true(m.n <= MOVE_CHANGES_MAX);
	assert_string_equal(m.ch[m.n - 1].owner, "redis-ro.svc.test.");
}

static void
test_owner(void **state)
{
	char buf[128];

	(void)state;
	setup();
	assert_int_equal(readers_owner(&conf, &svc, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "redis-ro.svc.test.");
	svc.reader_name[0] = '\0';
	assert_int_equal(readers_owner(&conf, &svc, buf, sizeof(buf)), -1);
}

static void
test_check_judge(void **state)
{
	static struct dnsclient_rrset	a, aaaa;
	struct check_readers		rd;
	struct check_service		out;
	struct svc_state		st;

	(void)state;
	setup();
	memset(&st, 0, sizeof(st));
	st.conf = &conf;
	st.svc = &svc;
	st.nodes = infos;
	st.served = 0;
	memset(&rd, 0, sizeof(rd));
	rd.owner = "redis-ro.svc.test.";
	rd.read = 1;
	rd.a = &a;
	rd.aaaa = &aaaa;
	rrset(&a, "127.0.0.3", "127.0.0.4");
	rrset(&aaaa, "fd00::3", NULL);
	memset(&out, 0, sizeof(out));
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_OK);
	assert_string_equal(out.text, "");
	/* r3 and r4 down: the record still names their address */
	infos[2].reachable = infos[3].reachable = 0;
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_WARNING);
	assert_string_equal(out.text, "; redis-ro.svc.test. names 127.0.0.3,127.0.0.4,"
	    "fd00::3, the probes see 127.0.0.3,fd00::3 (readers redis)");
	/* no reader record yet (an older zone): nothing to say */
	memset(&out, 0, sizeof(out));
	rrset(&a, NULL, NULL);
	rrset(&aaaa, NULL, NULL);
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_OK);
	/* not read: a warning; no reader record configured: nothing */
	rd.read = 0;
	rd.err = "timeout";
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_WARNING);
	assert_non_null(strstr(out.text, "could not be read: timeout"));
	memset(&out, 0, sizeof(out));
	rd.owner = NULL;
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_OK);
	/* the primary down: the verdict speaks, not the reader record */
	rd.owner = "redis-ro.svc.test.";
	infos[0].reachable = 0;
	check_readers_judge(&st, &rd, &out);
	assert_int_equal(out.state, CHECK_STATE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_pick_switch),
		cmocka_unit_test(test_same_and_changes),
		cmocka_unit_test(test_move_srv_and_readers),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_check_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
