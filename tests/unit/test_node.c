/*
 * test_node.c - parsing INFO replication into struct node_info, and the
 * node commands' behaviour when nothing answers (timeouts, errors named).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "failover/node.h"

static const char master_info[] =
    "# Replication\r\n"
    "role:master\r\n"
    "connected_slaves:2\r\n"
    "slave0:ip=127.0.0.3,port=6379,state=online,offset=1234,lag=0\r\n"
    "slave1:ip=127.0.0.4,port=6379,state=online,offset=1200,lag=1\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:0f0e0d0c0b0a09080706050403020100ffeeddcc\r\n"
    "master_repl_offset:1234\r\n"
    "second_repl_offset:-1\r\n";

static const char replica_info[] =
    "# Replication\r\n"
    "role:slave\r\n"
    "master_host:127.0.0.2\r\n"
    "master_port:6380\r\n"
    "master_link_status:up\r\n"
    "master_last_io_seconds_ago:1\r\n"
    "master_sync_in_progress:0\r\n"
    "slave_read_repl_offset:1234\r\n"
    "slave_repl_offset:1230\r\n"
    "slave_priority:100\r\n"
    "connected_slaves:0\r\n"
    "master_repl_offset:1234\r\n";

static void
test_parse_master(void **state)
{
	struct node_info info;

	(void)state;
	memset(&info, 0, sizeof(info));
	node_info_parse(master_info, &info);
	assert_int_equal(info.role, NODE_ROLE_MASTER);
	assert_int_equal(info.connected_replicas, 2);
	assert_int_equal(info.master_offset, 1234);
	assert_int_equal(info.replica_offset, -1);
	assert_int_equal(info.link_up, 0);
	assert_string_equal(node_role_str(info.role), "master");
}

static void
test_parse_replica(void **state)
{
	struct node_info info;

	(void)state;
	memset(&info, 0, sizeof(info));
	node_info_parse(replica_info, &info);
	assert_int_equal(info.role, NODE_ROLE_REPLICA);
	assert_string_equal(info.master_host, "127.0.0.2");
	assert_int_equal(info.master_port, 6380);
	assert_int_equal(info.link_up, 1);
	/* slave_repl_offset (applied), not slave_read_repl_offset */
	assert_int_equal(info.replica_offset, 1230);
}

static void
test_parse_link_down_and_garbage(void **state)
{
	struct node_info info;

	(void)state;
	memset(&info, 0, sizeof(info));
	node_info_parse("role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:1\r\n"
	    "master_link_status:down\r\n", &info);
	assert_int_equal(info.role, NODE_ROLE_REPLICA);
	assert_int_equal(info.link_up, 0);
	assert_int_equal(info.replica_offset, -1);
	memset(&info, 0, sizeof(info));
	node_info_parse("xrole:master\r\nrole:sentinel\r\n", &info);
	assert_int_equal(info.role, NODE_ROLE_UNKNOWN);
	node_info_parse("", &info);
	assert_int_equal(info.role, NODE_ROLE_UNKNOWN);
	assert_int_equal(info.master_offset, -1);
}

/* IPv6 everywhere: master_host holds colons, so do the slaveN lines of a
 * master; a replica in a full sync reports its link down. */
static void
test_parse_ipv6_and_sync_in_progress(void **state)
{
	struct node_info info;

	(void)state;
	memset(&info, 0, sizeof(info));
	node_info_parse("# Replication\r\nrole:slave\r\nmaster_host:::1\r\n"
	    "master_port:6390\r\nmaster_link_status:down\r\n"
	    "master_sync_in_progress:1\r\nslave_read_repl_offset:1\r\n"
	    "slave_repl_offset:1\r\nmaster_sync_total_bytes:-1\r\n"
	    "master_link_down_since_seconds:-1\r\nmaster_repl_offset:0\r\n", &info);
	assert_int_equal(info.role, NODE_ROLE_REPLICA);
	assert_string_equal(info.master_host, "::1");
	assert_int_equal(info.master_port, 6390);
	assert_int_equal(info.link_up, 0);
	assert_int_equal(info.replica_offset, 1);
	memset(&info, 0, sizeof(info));
	node_info_parse("role:master\r\nconnected_slaves:1\r\n"
	    "slave0:ip=2001:db8::3,port=6379,state=online,offset=77,lag=0\r\n"
	    "master_repl_offset:77\r\n", &info);
	assert_int_equal(info.role, NODE_ROLE_MASTER);
	assert_int_equal(info.master_offset, 77);
	assert_int_equal(info.connected_replicas, 1);
	assert_string_equal(info.master_host, "");
}

/* A listening socket that never answers: connect works, commands time out. */
static void
test_probe_times_out(void **state)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	struct conf_service	svc;
	struct conf_node	node;
	struct node_info	info[1];
	struct timespec		t0, t1;
	int			fd;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);

	memset(&svc, 0, sizeof(svc));
	memset(&node, 0, sizeof(node));
	snprintf(node.name, sizeof(node.name), "stuck");
	snprintf(node.host, sizeof(node.host), "127.0.0.1");
	node.port = ntohs(sin.sin_port);
	svc.nodes = &node;
	svc.n_nodes = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	node_probe_all(&svc, 200, info);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(info[0].reachable, 0);
	assert_non_null(strstr(info[0].error, "stuck"));
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	close(fd);
}

static void
test_connect_refused_names_the_node(void **state)
{
	struct conf_service	svc;
	struct conf_node	node;
	char			err[256];

	(void)state;
	memset(&svc, 0, sizeof(svc));
	memset(&node, 0, sizeof(node));
	snprintf(node.name, sizeof(node.name), "gone");
	snprintf(node.host, sizeof(node.host), "127.0.0.1");
	node.port = 1;		/* nothing listens on port 1 */
	assert_null(node_connect(&svc, &node, 200, err, sizeof(err)));
	assert_non_null(strstr(err, "gone (127.0.0.1:1)"));
}

/* CLIENT LIST as Redis 7 writes it: what a sweep reads of each line. */
static void
test_parse_client_list(void **state)
{
	static const char text[] =
	    "id=3 addr=127.0.0.3:40000 laddr=127.0.0.2:6379 fd=8 name= age=120 idle=0 "
	    "flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 cmd=replconf user=default\n"
	    "id=17 addr=127.0.0.1:40001 laddr=127.0.0.2:6379 fd=9 name=app age=2 idle=0 "
	    "flags=N db=0 sub=0 psub=0 cmd=incr user=default lib-name=redis-py\n"
	    "garbage line\n"
	    "id=18 addr=127.0.0.1:40002 laddr=127.0.0.2:6379 fd=10 name= age=0 idle=0 "
	    "flags=O db=0 cmd=monitor user=default resp=2";
	struct node_client	cl[4];

	(void)state;
	assert_int_equal(node_client_list_parse(text, NULL, 0), 3);
	assert_int_equal(node_client_list_parse(text, cl, 2), 3);
	assert_int_equal(node_client_list_parse(text, cl, 4), 3);
	assert_int_equal(cl[0].id, 3);
	assert_int_equal(cl[0].age, 120);
	assert_string_equal(cl[0].flags, "S");
	assert_int_equal(cl[1].id, 17);
	assert_int_equal(cl[1].age, 2);
	assert_string_equal(cl[1].flags, "N");
	/* the last line, without its newline */
	assert_int_equal(cl[2].id, 18);
	assert_int_equal(cl[2].age, 0);
	assert_string_equal(cl[2].flags, "O");
	/* a line without age: unknown, never taken for a young client */
	assert_int_equal(node_client_list_parse("id=5 flags=N\n", cl, 1), 1);
	assert_int_equal(cl[0].age, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_master),
		cmocka_unit_test(test_parse_replica),
		cmocka_unit_test(test_parse_link_down_and_garbage),
		cmocka_unit_test(test_parse_ipv6_and_sync_in_progress),
		cmocka_unit_test(test_probe_times_out),
		cmocka_unit_test(test_connect_refused_names_the_node),
		cmocka_unit_test(test_parse_client_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
