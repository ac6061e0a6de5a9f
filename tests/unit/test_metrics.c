/*
 * test_metrics.c - the counters and their text: replies counted by
 * transport, qtype and rcode (BADVERS from the request's EDNS version),
 * truncation, every block summed, the control thread's counters, and a
 * buffer too small told by the length needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsd/metrics.h"
#include "dnsd/query.h"

static char text[64 * 1024];

static void
reply_with(uint8_t *reply, int rcode, int tc)
{
	memset(reply, 0, DNS_HEADER_LEN);
	reply[2] = 0x84 | (tc ? 0x02 : 0);
	reply[3] = (uint8_t)rcode;
}

static void
assert_line(const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(text, want) == NULL)
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void
test_queries_summed_over_blocks(void **state)
{
	struct metrics	*m;
	struct query	 q = { .qtype = 1 };
	uint8_t		 reply[DNS_HEADER_LEN];
	char		 err[128];

	(void)state;
	assert_non_null(m = metrics_create(3, "9.9.9", err, sizeof(err)));
	reply_with(reply, 0, 0);
	metrics_query(metrics_block(m, 1), QUERY_TRANSPORT_UDP, &q, reply, sizeof(reply));
	metrics_query(metrics_block(m, 2), QUERY_TRANSPORT_UDP, &q, reply, sizeof(reply));
	metrics_query(metrics_block(m, 0), QUERY_TRANSPORT_TCP, &q, reply, sizeof(reply));
	q.qtype = 99;
	reply_with(reply, 3, 1);
	metrics_query(metrics_block(m, 1), QUERY_TRANSPORT_UDP, &q, reply, sizeof(reply));
	q.qtype = 6;
	q.edns = 1;
	q.edns_version = 1;
	reply_with(reply, 0, 0);
	metrics_query(metrics_block(m, 2), QUERY_TRANSPORT_UDP, &q, reply, sizeof(reply));
	assert_null(metrics_block(m, 3));
	assert_true(metrics_format(m, text, sizeof(text)) < sizeof(text));
	assert_line("redisfo_dns_queries_total{transport=\"udp\",qtype=\"A\",rcode=\"NOERROR\"} 2");
	assert_line("redisfo_dns_queries_total{transport=\"tcp\",qtype=\"A\",rcode=\"NOERROR\"} 1");
	assert_line("redisfo_dns_queries_total{transport=\"udp\",qtype=\"other\",rcode=\"NXDOMAIN\"} 1");
	assert_line("redisfo_dns_queries_total{transport=\"udp\",qtype=\"SOA\",rcode=\"BADVERS\"} 1");
	assert_line("redisfo_dns_truncated_total 1");
	assert_line("redisfo_dns_build_info{version=\"9.9.9\"} 1");
	metrics_free(m);
}

static void
test_control_counters(void **state)
{
	struct metrics	*m;
	char		 err[128];

	(void)state;
	assert_non_null(m = metrics_create(1, "1", err, sizeof(err)));
	metrics_update(m, 0);
	metrics_update(m, 0);
	metrics_update(m, 8);
	metrics_update(m, 42);
	metrics_transfer(m, MXFR_IXFR_FULL);
	metrics_transfer_refused(m);
	metrics_notify(m, MNOTIFY_TIMEOUT);
	metrics_reload(m, 0);
	metrics_publish(m, 4000000000u, 0.0002);
	metrics_publish(m, 7, 2.0);
	metrics_format(m, text, sizeof(text));
	assert_line("redisfo_dns_updates_total{rcode=\"NOERROR\"} 2");
	assert_line("redisfo_dns_updates_total{rcode=\"NXRRSET\"} 1");
	assert_line("redisfo_dns_updates_total{rcode=\"other\"} 1");
	assert_line("redisfo_dns_transfers_total{kind=\"ixfr_full\"} 1");
	assert_line("redisfo_dns_transfers_total{kind=\"axfr\"} 0");
	assert_line("redisfo_dns_transfers_refused_total 1");
	assert_line("redisfo_dns_notifies_total{result=\"timeout\"} 1");
	assert_line("redisfo_dns_reloads_total{result=\"failed\"} 1");
	assert_line("redisfo_dns_reloads_total{result=\"ok\"} 0");
	assert_line("redisfo_dns_zone_serial 7");
	assert_line("redisfo_dns_publish_seconds_bucket{le=\"0.0001\"} 0");
	assert_line("redisfo_dns_publish_seconds_bucket{le=\"0.0005\"} 1");
	assert_line("redisfo_dns_publish_seconds_bucket{le=\"+Inf\"} 2");
	assert_line("redisfo_dns_publish_seconds_count 2");
	metrics_free(m);
}

static void
test_small_buffer_tells_length(void **state)
{
	struct metrics	*m;
	char		 err[128], small[16];
	size_t		 need;

	(void)state;
	assert_non_null(m = metrics_create(1, "1", err, sizeof(err)));
	need = metrics_format(m, text, sizeof(text));
	assert_int_equal(metrics_format(m, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queries_summed_over_blocks),
		cmocka_unit_test(test_control_counters),
		cmocka_unit_test(test_small_buffer_tells_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
