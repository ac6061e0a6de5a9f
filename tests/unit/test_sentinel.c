/*
 * test_sentinel.c - the pure parts of failover/sentinel.c: which service
 * Sentinel's master name is, which node its address and port are (by
 * host, by served address, never by address alone without the port), and
 * what to do with the record as read (move it, find it moved, or leave a
 * record that names neither node).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "failover/sentinel.h"

static struct conf_node		nodes[3];
static struct conf_service	svcs[2];
static struct conf		conf;

static void
setup(void)
{
	static const char *names[] = { "r1", "r2", "r3" };
	static const char *hosts[] = { "127.0.0.2", "127.0.0.3", "::1" };
	int i;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < 3; i++) {
		snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", names[i]);
		snprintf(nodes[i].host, sizeof(nodes[i].host), "%s", hosts[i]);
		nodes[i].port = 6379;
		assert_int_equal(conf_ip_parse(hosts[i], &nodes[i].address[0]), 0);
		nodes[i].n_address = 1;
	}
	/* r2 is served at other addresses than its host (NAT) */
	assert_int_equal(conf_ip_parse("10.1.0.3", &nodes[1].address[0]), 0);
	assert_int_equal(conf_ip_parse("2001:db8::3", &nodes[1].address[1]), 0);
	nodes[1].n_address = 2;
	memset(svcs, 0, sizeof(svcs));
	snprintf(svcs[0].name, sizeof(svcs[0].name), "cache");
	snprintf(svcs[1].name, sizeof(svcs[1].name), "redis");
	snprintf(svcs[1].sentinel_name, sizeof(svcs[1].sentinel_name), "mymaster");
	svcs[1].nodes = nodes;
	svcs[1].n_nodes = 3;
	memset(&conf, 0, sizeof(conf));
	conf.services = svcs;
	conf.n_services = 2;
}

static void
test_service_find(void **state)
{
	(void)state;
	setup();
	assert_ptr_equal(sentinel_service_find(&conf, "mymaster"), &svcs[1]);
	/* by sentinel_name only: a service's own name is not a master name,
	 * and an unset sentinel_name matches nothing, "" included */
	assert_null(sentinel_service_find(&conf, "redis"));
	assert_null(sentinel_service_find(&conf, "cache"));
	assert_null(sentinel_service_find(&conf, ""));
	assert_null(sentinel_service_find(&conf, "MyMaster"));
}

static void
test_node_find(void **state)
{
	const struct conf_service *svc;

	(void)state;
	setup();
	svc = &svcs[1];
	assert_int_equal(sentinel_node_find(svc, "127.0.0.2", 6379), 0);
	assert_int_equal(sentinel_node_find(svc, "127.0.0.3", 6379), 1);
	/* the same address written another way */
	assert_int_equal(sentinel_node_find(svc, "0:0::1", 6379), 2);
	/* by a served address */
	assert_int_equal(sentinel_node_find(svc, "10.1.0.3", 6379), 1);
	assert_int_equal(sentinel_node_find(svc, "2001:db8:0::3", 6379), 1);
	/* the port must match too */
	assert_int_equal(sentinel_node_find(svc, "127.0.0.2", 6380), -1);
	assert_int_equal(sentinel_node_find(svc, "10.1.0.3", 6380), -1);
	/* unknown, or not an address */
	assert_int_equal(sentinel_node_find(svc, "127.0.0.9", 6379), -1);
	assert_int_equal(sentinel_node_find(svc, "", 6379), -1);
	assert_int_equal(sentinel_node_find(svc, "r1", 6379), -1);
}

static void
test_decide(void **state)
{
	(void)state;
	assert_int_equal(sentinel_decide(0, 0, 1), SENTINEL_MOVE);
	assert_int_equal(sentinel_decide(1, 0, 1), SENTINEL_ALREADY);
	/* already there even when FROM is no node */
	assert_int_equal(sentinel_decide(1, -1, 1), SENTINEL_ALREADY);
	/* a late call of an older failover: the record names a third node */
	assert_int_equal(sentinel_decide(2, 0, 1), SENTINEL_STALE);
	/* the record names no node */
	assert_int_equal(sentinel_decide(-1, 0, 1), SENTINEL_STALE);
	assert_int_equal(sentinel_decide(-1, -1, 1), SENTINEL_STALE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_find),
		cmocka_unit_test(test_node_find),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
