/*
 * test_check.c - failover/check.c, the monitoring plugin's decisions:
 * the worse of two states and the count of each over several services,
 * a replica's lag against -w and -c, a service's state and text from
 * what state.c loaded, its perfdata, and check's arguments.
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
#include "failover/check.h"
#include "failover/state.h"

static struct conf_node		nodes[3];
static struct conf_service	svcs[2];
static struct conf		conf;
static struct dnsclient_rrset	a, aaaa, txt;

/* redis: r1 (served, master at offset 1000), r2 and r3 replicas of r1
 * at offset 900 with their links up; a second service, cache. */
static void
setup(struct svc_state *st, struct node_info *infos)
{
	static const char *names[] = { "r1", "r2", "r3" };
	static const char *hosts[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
	int i;

	memset(nodes, 0, sizeof(nodes));
	memset(svcs, 0, sizeof(svcs));
	memset(&conf, 0, sizeof(conf));
	for (i = 0; i < 3; i++) {
		snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", names[i]);
		snprintf(nodes[i].host, sizeof(nodes[i].host), "%s", hosts[i]);
		nodes[i].port = 6379;
		assert_int_equal(conf_ip_parse(hosts[i], &nodes[i].address[0]), 0);
		nodes[i].n_address = 1;
	}
	snprintf(svcs[0].name, sizeof(svcs[0].name), "redis");
	svcs[0].nodes = nodes;
	svcs[0].n_nodes = 3;
	snprintf(svcs[1].name, sizeof(svcs[1].name), "cache");
	conf.services = svcs;
	conf.n_services = 2;
	conf.failover.max_lag_bytes = 1000;

	memset(st, 0, sizeof(*st));
	memset(&a, 0, sizeof(a));
	memset(&aaaa, 0, sizeof(aaaa));
	memset(&txt, 0, sizeof(txt));
	snprintf(a.value[a.n++], sizeof(a.value[0]), "127.0.0.2");
	st->a = &a;
	st->aaaa = &aaaa;
	st->txt = &txt;
	st->conf = &conf;
	st->svc = &svcs[0];
	st->nodes = infos;
	st->dns = DNSCLIENT_OK;
	st->serial = 7;
	st->served = 0;
	memset(infos, 0, 3 * sizeof(*infos));
	for (i = 0; i < 3; i++) {
		infos[i].conf = &nodes[i];
		infos[i].reachable = 1;
		if (i == 0) {
			infos[i].role = NODE_ROLE_MASTER;
			infos[i].master_offset = 1000;
			continue;
		}
		infos[i].role = NODE_ROLE_REPLICA;
		snprintf(infos[i].master_host, sizeof(infos[i].master_host), "127.0.0.2");
		infos[i].master_port = 6379;
		infos[i].link_up = 1;
		infos[i].replica_offset = 900;
	}
}

static void
test_worst_and_tally(void **state)
{
	struct check_tally	t;
	char			buf[128];

	(void)state;
	assert_int_equal(check_worst(CHECK_STATE_OK, CHECK_STATE_WARNING),
	    CHECK_STATE_WARNING);
	assert_int_equal(check_worst(CHECK_STATE_CRITICAL, CHECK_STATE_WARNING),
	    CHECK_STATE_CRITICAL);
	/* a service that cannot be read is worse than OK, not than WARNING */
	assert_int_equal(check_worst(CHECK_STATE_UNKNOWN, CHECK_STATE_OK),
	    CHECK_STATE_UNKNOWN);
	assert_int_equal(check_worst(CHECK_STATE_UNKNOWN, CHECK_STATE_WARNING),
	    CHECK_STATE_WARNING);
	assert_int_equal(check_worst(CHECK_STATE_CRITICAL, CHECK_STATE_UNKNOWN),
	    CHECK_STATE_CRITICAL);

	memset(&t, 0, sizeof(t));
	t.n[CHECK_STATE_OK] = 2;
	t.n[CHECK_STATE_CRITICAL] = 1;
	assert_int_equal(check_tally_worst(&t), CHECK_STATE_CRITICAL);
	check_tally_text(&t, buf, sizeof(buf));
	assert_string_equal(buf, "1 critical, 2 ok");

	t.n[CHECK_STATE_UNKNOWN] = 1;
	t.n[CHECK_STATE_WARNING] = 3;
	check_tally_text(&t, buf, sizeof(buf));
	assert_string_equal(buf, "1 critical, 3 warning, 1 unknown, 2 ok");

	memset(&t, 0, sizeof(t));
	t.n[CHECK_STATE_UNKNOWN] = 1;
	t.n[CHECK_STATE_OK] = 1;
	assert_int_equal(check_tally_worst(&t), CHECK_STATE_UNKNOWN);
	t.n[CHECK_STATE_UNKNOWN] = 0;
	assert_int_equal(check_tally_worst(&t), CHECK_STATE_OK);
	check_tally_text(&t, buf, sizeof(buf));
	assert_string_equal(buf, "1 ok");
	/* a buffer too short is cut, never overrun */
	t.n[CHECK_STATE_CRITICAL] = 12345;
	check_tally_text(&t, buf, 8);
	assert_string_equal(buf, "12345 c");
}

static void
test_lag_state(void **state)
{
	struct check_limits l = { 1000, -1 };

	(void)state;
	/* a threshold is the most a replica may lag and still be OK */
	assert_int_equal(check_lag_state(0, &l), CHECK_STATE_OK);
	assert_int_equal(check_lag_state(1000, &l), CHECK_STATE_OK);
	assert_int_equal(check_lag_state(1001, &l), CHECK_STATE_WARNING);
	assert_int_equal(check_lag_state(1LL << 40, &l), CHECK_STATE_WARNING);
	l.crit = 5000;
	assert_int_equal(check_lag_state(5000, &l), CHECK_STATE_WARNING);
	assert_int_equal(check_lag_state(5001, &l), CHECK_STATE_CRITICAL);
	l.warn = 0;
	l.crit = 0;
	assert_int_equal(check_lag_state(0, &l), CHECK_STATE_OK);
	assert_int_equal(check_lag_state(1, &l), CHECK_STATE_CRITICAL);
}

static void
test_service_judge(void **state)
{
	struct svc_state	st;
	struct node_info	infos[3];
	struct check_service	r;
	struct check_limits	l = { 1000, -1 };

	(void)state;
	setup(&st, infos);
	state_judge(&st);
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_OK);
	assert_string_equal(r.text, "redis: r1 is served and master, 2 replica(s) following");
	assert_int_equal(r.max_lag, 100);
	assert_true(r.serial_ok);
	assert_int_equal(r.serial, 7);

	/* r2 behind by 5000: WARNING under -w 1000, CRITICAL under -c 2000 */
	infos[1].replica_offset = 1000 - 5000;
	state_judge(&st);
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_WARNING);
	assert_string_equal(r.text, "redis: r1 is served and master; r2 lags 5000 bytes "
	    "(max 1000)");
	assert_int_equal(r.max_lag, 5000);
	l.crit = 2000;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_CRITICAL);
	assert_string_equal(r.text, "redis: r1 is served and master; r2 lags 5000 bytes "
	    "(critical above 2000)");

	/* r3 unreachable and r2's link down: WARNING, both said */
	setup(&st, infos);
	infos[2].reachable = 0;
	infos[1].link_up = 0;
	state_judge(&st);
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_WARNING);
	assert_string_equal(r.text, "redis: r1 is served and master; r2 link down; "
	    "r3 unreachable");

	/* the verdict decides first: split brain is CRITICAL whatever the lag */
	setup(&st, infos);
	infos[2].role = NODE_ROLE_MASTER;
	state_judge(&st);
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_CRITICAL);
	assert_non_null(strstr(r.text, "split brain: r3 claims master"));

	setup(&st, infos);
	st.dns = DNSCLIENT_TIMEOUT;
	snprintf(st.dns_err, sizeof(st.dns_err), "no answer");
	state_judge(&st);
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_UNKNOWN);
	assert_false(r.serial_ok);
}

/* The lease's text both ways, and its state as time passes. */
static void
test_lease_text_and_judge(void **state)
{
	struct lease	l, back;
	long long	t;

	(void)state;
	memset(&l, 0, sizeof(l));
	snprintf(l.holder, sizeof(l.holder), "switch");
	snprintf(l.host, sizeof(l.host), "ops-1");
	l.pid = 4242;
	assert_int_equal(lease_time_parse("2026-11-30T08:00:00Z", &l.since), 0);
	l.expires = l.since + 10;
	assert_int_equal(lease_format(&l), 0);
	assert_string_equal(l.value, "\"holder=switch host=ops-1 pid=4242 "
	    "since=2026-11-30T08:00:00Z expires=2026-11-30T08:00:10Z\"");
	assert_int_equal(lease_parse(l.value, &back), 0);
	assert_string_equal(back.holder, "switch");
	assert_string_equal(back.host, "ops-1");
	assert_int_equal(back.pid, 4242);
	assert_int_equal(back.since, l.since);
	assert_int_equal(back.expires, l.expires);
	/* a word of a later version is skipped; a missing or bad one is no lease */
	assert_int_equal(lease_parse("\"holder=rejoin host=h pid=1 since=2026-11-30T08:00:00Z "
	    "expires=2026-11-30T08:00:10Z why=drill\"", &back), 0);
	assert_int_equal(lease_parse("\"holder=rejoin host=h pid=1 "
	    "since=2026-11-30T08:00:00Z\"", &back), -1);
	assert_int_equal(lease_parse("\"holder=switch host=h pid=x since=2026-11-30T08:00:00Z "
	    "expires=2026-11-30T08:00:10Z\"", &back), -1);
	assert_int_equal(lease_parse("\"primary=r2 epoch=3 at=2026-11-30T08:00:00Z\"", &back), -1);
	assert_int_equal(lease_time_parse("2026-11-30 08:00:00Z", &t), -1);
	assert_int_equal(lease_time_parse("2026-13-30T08:00:00Z", &t), -1);
	/* the age counts from the end of the since second */
	t = l.since * 1000;
	assert_int_equal(lease_judge(&l, t + 1000 + 500, 500), LEASE_LIVE);
	assert_int_equal(lease_judge(&l, t + 1000 + 501, 500), LEASE_OVERDUE);
	assert_int_equal(lease_judge(&l, t + 10999, 500), LEASE_OVERDUE);
	assert_int_equal(lease_judge(&l, t + 11000, 500), LEASE_EXPIRED);
}

/* A lease decides alone; replicas re-linking right after a switch are fine. */
static void
test_service_judge_lease_and_settle(void **state)
{
	struct svc_state	st;
	struct node_info	infos[3];
	struct check_service	r;
	struct check_limits	l = { 1000, -1 };
	long long		since;

	(void)state;
	setup(&st, infos);
	conf.failover.pause_timeout_ms = 2000;
	conf.failover.probe_timeout_ms = 100;
	conf.failover.probes = 2;
	conf.failover.settle_ms = 5000;
	/* mid-switch: r2 promoted, the record still names r1 */
	infos[1].role = NODE_ROLE_MASTER;
	state_judge(&st);
	assert_int_equal(st.verdict, VERDICT_SPLIT_BRAIN);
	st.lease_held = 1;
	snprintf(st.lease.holder, sizeof(st.lease.holder), "switch");
	snprintf(st.lease.host, sizeof(st.lease.host), "ops-1");
	st.lease.pid = 77;
	assert_int_equal(lease_time_parse("2026-11-30T08:00:00Z", &since), 0);
	st.lease.since = since;
	st.lease.expires = since + 10;
	assert_int_equal(lease_format(&st.lease), 0);
	st.loaded_ms = since * 1000 + 1200;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_OK);
	assert_string_equal(r.text, "redis: switch in progress (switch on host ops-1 pid 77 "
	    "since 2026-11-30T08:00:00Z)");
	/* budget: 2000 + 100 * (2 + 2 * 3) = 2800 ms */
	st.loaded_ms = since * 1000 + 1000 + 2801;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_WARNING);
	assert_non_null(strstr(r.text, "still holds the lease"));
	st.loaded_ms = (since + 11) * 1000;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_CRITICAL);
	assert_non_null(strstr(r.text, "expired at 2026-11-30T08:00:10Z"));

	/* after the switch: r2 re-linking, at= a second ago */
	setup(&st, infos);
	conf.failover.settle_ms = 5000;
	infos[1].link_up = 0;
	snprintf(st.redisfo.at, sizeof(st.redisfo.at), "2026-11-30T08:00:00Z");
	state_judge(&st);
	st.loaded_ms = since * 1000 + 1000 + 4999;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_OK);
	assert_non_null(strstr(r.text, "; r2 resyncing"));
	/* past settle_ms a link still down is a warning, as before */
	st.loaded_ms = since * 1000 + 1000 + 5000;
	check_service_judge(&st, &l, NULL, &r);
	assert_int_equal(r.state, CHECK_STATE_WARNING);
	assert_non_null(strstr(r.text, "; r2 link down"));
}

static void
test_perf_service(void **state)
{
	struct svc_state	 st;
	struct node_info	 infos[3];
	struct check_limits	 l = { 1000, -1 };
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*f;

	(void)state;
	setup(&st, infos);
	infos[2].reachable = 0;
	state_judge(&st);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	check_perf_service(f, &st, &l);
	l.crit = 5000;
	st.dns = DNSCLIENT_TIMEOUT;	/* no serial then; the lags are kept */
	check_perf_service(f, &st, &l);
	/* the record names no node: nothing to say of any lag */
	st.served = -1;
	check_perf_service(f, &st, &l);
	fclose(f);
	assert_string_equal(text,
	    " lag_redis_r2=100B;1000;;0 lag_redis_r3=U;1000;;0 serial_redis=7"
	    " lag_redis_r2=100B;1000;5000;0 lag_redis_r3=U;1000;5000;0");
	free(text);
}

static void
test_parse_args(void **state)
{
	struct svc_state	 st;
	struct node_info	 infos[3];
	struct check_opts	 o;
	char			 err[256];
	char			*none[] = { NULL };
	char			*all[] = { "cache", "-w", "10", "-c", "20", "-t", "5", "-V" };
	char			*longs[] = { "--warning", "0", "--critical", "0", "--timeout", "1" };
	char			*low[] = { "-w", "10", "-c", "5" };
	char			*crit_only[] = { "-c", "5" };

	(void)state;
	setup(&st, infos);
	/* the defaults: -w max_lag_bytes, no -c, no -t; every service */
	assert_int_equal(check_parse_args(&conf, 0, none, &o, err, sizeof(err)), 0);
	assert_null(o.svc);
	assert_int_equal(o.limits.warn, 1000);
	assert_int_equal(o.limits.crit, -1);
	assert_int_equal(o.timeout_s, 0);
	assert_false(o.version);
	/* one service in the config: that one */
	conf.n_services = 1;
	assert_int_equal(check_parse_args(&conf, 0, none, &o, err, sizeof(err)), 0);
	assert_ptr_equal(o.svc, &svcs[0]);
	conf.n_services = 2;

	assert_int_equal(check_parse_args(&conf, 8, all, &o, err, sizeof(err)), 0);
	assert_ptr_equal(o.svc, &svcs[1]);
	assert_int_equal(o.limits.warn, 10);
	assert_int_equal(o.limits.crit, 20);
	assert_int_equal(o.timeout_s, 5);
	assert_true(o.version);
	assert_int_equal(check_parse_args(&conf, 6, longs, &o, err, sizeof(err)), 0);
	assert_int_equal(o.limits.warn, 0);
	assert_int_equal(o.limits.crit, 0);
	assert_int_equal(o.timeout_s, 1);
	/* -c alone below the default -w is allowed: above -c is CRITICAL */
	assert_int_equal(check_parse_args(&conf, 2, crit_only, &o, err, sizeof(err)), 0);
	assert_int_equal(o.limits.crit, 5);

	assert_int_equal(check_parse_args(&conf, 4, low, &o, err, sizeof(err)), -1);
	assert_string_equal(err, "the warning threshold (-w 10) is above the critical "
	    "one (-c 5)");
	{
		char *bad[][2] = { { "-w", "x" }, { "-w", "-1" }, { "-c", "1k" },
				   { "-t", "0" }, { "-t", "86401" }, { "-t", " 1" },
				   { "nosuch", NULL }, { "redis", "cache" }, { "--bogus", NULL },
				   { "-t", NULL } };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int argc = bad[i][1] ? 2 : 1;

			err[0] = '\0';
			assert_int_equal(check_parse_args(&conf, argc, bad[i], &o, err,
			    sizeof(err)), -1);
			assert_true(err[0] != '\0');
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worst_and_tally),
		cmocka_unit_test(test_lag_state),
		cmocka_unit_test(test_service_judge),
		cmocka_unit_test(test_perf_service),
		cmocka_unit_test(test_lease_text_and_judge),
		cmocka_unit_test(test_service_judge_lease_and_settle),
		cmocka_unit_test(test_parse_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
