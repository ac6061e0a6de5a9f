/*
 * test_dnsclient.c - the failover's DNS client.
 *
 * Offline: timeouts against a socket that never answers (UDP and TCP), a
 * refused connection, address text. Live, when DNSCLIENT_TEST_SERVER
 * (ip:port) is set by tests/behaviour/test_dnsclient*.py, against a real
 * server holding zone DNSCLIENT_TEST_ZONE with redis A 127.0.0.2 and the
 * key DNSCLIENT_TEST_KEY (name:algorithm:secret): query, compare-and-swap
 * UPDATE, stale prerequisite, wrong key, serial increase.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/dnsclient.h"

static struct sockaddr_storage	live_ss;
static socklen_t		live_len;
static struct conf_tsig_key	live_key;
static char			live_zone[256];

static long long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A bound socket that never answers; its address in *ss. */
static int
silent_socket(int type, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	int fd;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	*len = sizeof(*sin);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void
test_query_timeout_udp(void **state)
{
	struct sockaddr_storage	ss;
	struct dnsclient_rrset	set;
	socklen_t		len;
	char			err[256];
	long long		t0;
	int			fd;

	(void)state;
	fd = silent_socket(SOCK_DGRAM, &ss, &len);
	t0 = ms_now();
	assert_int_equal(dnsclient_query(&ss, len, "redis.svc.test.", DNSCLIENT_TYPE_A,
	    200, &set, err, sizeof(err)), DNSCLIENT_TIMEOUT);
	assert_true(ms_now() - t0 < 1000);
	assert_non_null(strstr(err, "127.0.0.1:"));
	close(fd);
}

static void
test_update_timeout_tcp(void **state)
{
	struct sockaddr_storage	ss;
	struct dnsclient_change	c = { DNSCLIENT_ADD, "x.svc.test.", DNSCLIENT_TYPE_A, 5, "127.0.0.9" };
	struct conf_tsig_key	key = { "k.", "hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" };
	socklen_t		len;
	char			err[256];
	int			fd, rcode;

	(void)state;
	fd = silent_socket(SOCK_STREAM, &ss, &len);
	assert_int_equal(dnsclient_update(&ss, len, "svc.test.", &key, &c, 1, 200,
	    &rcode, err, sizeof(err)), DNSCLIENT_TIMEOUT);
	assert_int_equal(rcode, -1);
	close(fd);
}

static void
test_update_connection_refused(void **state)
{
	struct sockaddr_storage	ss;
	struct dnsclient_change	c = { DNSCLIENT_ADD, "x.svc.test.", DNSCLIENT_TYPE_A, 5, "127.0.0.9" };
	socklen_t		len;
	char			err[512];
	int			fd;

	(void)state;
	/* a port nothing listens on, TCP or UDP: refused both ways */
	fd = silent_socket(SOCK_DGRAM, &ss, &len);
	close(fd);
	assert_int_equal(dnsclient_update(&ss, len, "svc.test.", NULL, &c, 1, 500,
	    NULL, err, sizeof(err)), DNSCLIENT_UNREACHABLE);
	assert_non_null(strstr(err, "not sent"));
	assert_non_null(strstr(err, "connect"));
}

/* TCP refused, UDP silent: the same datagram again until the deadline. */
static void
test_update_udp_fallback_retries(void **state)
{
	struct sockaddr_storage	ss;
	struct dnsclient_change	c = { DNSCLIENT_ADD, "x.svc.test.", DNSCLIENT_TYPE_A, 5, "127.0.0.9" };
	struct conf_tsig_key	key = { "k.", "hmac-sha384", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" };
	struct dnsclient_update_info info;
	uint8_t			first[1024], buf[1024];
	socklen_t		len;
	ssize_t			n1, n;
	char			err[512];
	int			fd, copies = 1;

	(void)state;
	fd = silent_socket(SOCK_DGRAM, &ss, &len);	/* nothing on TCP there */
	assert_int_equal(dnsclient_send_update(&ss, len, "svc.test.", &key, &c, 1, 600,
	    &info, err, sizeof(err)), DNSCLIENT_TIMEOUT);
	assert_int_equal(info.udp, 1);
	assert_true(info.sends >= 2);
	assert_int_equal(info.rcode, -1);
	assert_non_null(strstr(err, "over UDP"));
	n1 = recv(fd, first, sizeof(first), MSG_DONTWAIT);
	assert_true(n1 > 12);
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		/* every copy is the first one, byte for byte: same ID, same MAC */
		assert_int_equal(n, n1);
		assert_memory_equal(buf, first, (size_t)n1);
		copies++;
	}
	assert_int_equal(copies, info.sends);
	close(fd);
}

static void
test_bad_record_is_local_error(void **state)
{
	struct sockaddr_storage	ss;
	struct dnsclient_change	c = { DNSCLIENT_ADD, "x.svc.test.", DNSCLIENT_TYPE_A, 5, "not-an-ip" };
	socklen_t		len;
	char			err[256];
	int			fd;

	(void)state;
	fd = silent_socket(SOCK_STREAM, &ss, &len);
	assert_int_equal(dnsclient_update(&ss, len, "svc.test.", NULL, &c, 1, 500,
	    NULL, err, sizeof(err)), DNSCLIENT_ERROR);
	assert_non_null(strstr(err, "not-an-ip"));
	close(fd);
}

static void
test_addr_text(void **state)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	char			buf[80];

	(void)state;
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(5353);
	inet_pton(AF_INET6, "::1", &s6->sin6_addr);
	addr_text(&ss, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:5353");
	assert_string_equal(dnsclient_result_str(DNSCLIENT_PREREQ), "prerequisite failed");
}

/* Live tests: the zone starts with redis A 127.0.0.2 (no AAAA). */
static void
test_live_swap(void **state)
{
	struct dnsclient_rrset	*set = malloc(sizeof(*set));
	char			 owner[300], txtname[300], err[512];
	uint32_t		 s0, s1;
	int			 rcode;

	(void)state;
	if (live_len == 0) {
		free(set);
		skip();
	}
	snprintf(owner, sizeof(owner), "redis.%s", live_zone);
	snprintf(txtname, sizeof(txtname), "_redisfo.redis.%s", live_zone);
	assert_int_equal(dnsclient_query(&live_ss, live_len, owner, DNSCLIENT_TYPE_A,
	    1000, set, err, sizeof(err)), DNSCLIENT_OK);
	assert_int_equal(set->n, 1);
	assert_string_equal(set->value[0], "127.0.0.2");
	assert_int_equal(dnsclient_serial(&live_ss, live_len, live_zone, 1000, &s0,
	    err, sizeof(err)), DNSCLIENT_OK);

	struct dnsclient_change swap[] = {
		{ DNSCLIENT_PREREQ_VALUE, owner, DNSCLIENT_TYPE_A, 0, "127.0.0.2" },
		{ DNSCLIENT_PREREQ_ABSENT, owner, DNSCLIENT_TYPE_AAAA, 0, NULL },
		{ DNSCLIENT_DELETE_RRSET, owner, DNSCLIENT_TYPE_A, 0, NULL },
		{ DNSCLIENT_ADD, owner, DNSCLIENT_TYPE_A, 5, "127.0.0.3" },
		{ DNSCLIENT_DELETE_RRSET, txtname, DNSCLIENT_TYPE_TXT, 0, NULL },
		{ DNSCLIENT_ADD, txtname, DNSCLIENT_TYPE_TXT, 5,
		    "\"primary=r2 epoch=2 at=2026-01-01T00:00:00Z\"" },
	};
	assert_int_equal(dnsclient_update(&live_ss, live_len, live_zone, &live_key,
	    swap, 6, 2000, &rcode, err, sizeof(err)), DNSCLIENT_OK);
	assert_int_equal(rcode, 0);
	assert_int_equal(dnsclient_query(&live_ss, live_len, owner, DNSCLIENT_TYPE_A,
	    1000, set, err, sizeof(err)), DNSCLIENT_OK);
	assert_int_equal(set->n, 1);
	assert_string_equal(set->value[0], "127.0.0.3");
	assert_int_equal(set->ttl, 5);
	assert_int_equal(dnsclient_query(&live_ss, live_len, txtname, DNSCLIENT_TYPE_TXT,
	    1000, set, err, sizeof(err)), DNSCLIENT_OK);
	assert_int_equal(set->n, 1);
	assert_string_equal(set->value[0], "\"primary=r2 epoch=2 at=2026-01-01T00:00:00Z\"");
	assert_int_equal(dnsclient_serial(&live_ss, live_len, live_zone, 1000, &s1,
	    err, sizeof(err)), DNSCLIENT_OK);
	assert_true((int32_t)(s1 - s0) > 0);

	/* The same swap again: the record is no longer 127.0.0.2. */
	swap[3].rdata = "127.0.0.4";
	assert_int_equal(dnsclient_update(&live_ss, live_len, live_zone, &live_key,
	    swap, 6, 2000, &rcode, err, sizeof(err)), DNSCLIENT_PREREQ);
	assert_int_equal(rcode, 8);	/* NXRRSET */
	assert_non_null(strstr(err, "prerequisite failed"));
	assert_int_equal(dnsclient_query(&live_ss, live_len, owner, DNSCLIENT_TYPE_A,
	    1000, set, err, sizeof(err)), DNSCLIENT_OK);
	assert_string_equal(set->value[0], "127.0.0.3");

	/* A wrong secret: NOTAUTH with the TSIG error, unsigned as RFC 8945
	 * says, so it cannot be trusted; nothing changed. */
	struct conf_tsig_key bad = live_key;
	snprintf(bad.secret, sizeof(bad.secret), "%s", "d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==");
	swap[0].rdata = "127.0.0.3";
	assert_int_equal(dnsclient_update(&live_ss, live_len, live_zone, &bad,
	    swap, 6, 2000, &rcode, err, sizeof(err)), DNSCLIENT_ERROR);
	assert_int_equal(rcode, 9);	/* NOTAUTH */
	assert_non_null(strstr(err, "BADSIG"));
	assert_non_null(strstr(err, "cannot be trusted"));
	/* No key at all: refused one way or another, never OK. */
	assert_int_not_equal(dnsclient_update(&live_ss, live_len, live_zone, NULL,
	    swap, 6, 2000, &rcode, err, sizeof(err)), DNSCLIENT_OK);
	assert_int_equal(dnsclient_query(&live_ss, live_len, owner, DNSCLIENT_TYPE_A,
	    1000, set, err, sizeof(err)), DNSCLIENT_OK);
	assert_string_equal(set->value[0], "127.0.0.3");
	free(set);
}

static void
live_setup(void)
{
	const char	*srv = getenv("DNSCLIENT_TEST_SERVER");
	const char	*key = getenv("DNSCLIENT_TEST_KEY");
	const char	*zone = getenv("DNSCLIENT_TEST_ZONE");
	struct sockaddr_in *sin = (struct sockaddr_in *)&live_ss;
	char		 host[64], *colon;

	if (srv == NULL || key == NULL || zone == NULL)
		return;
	snprintf(host, sizeof(host), "%s", srv);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return;
	*colon = '\0';
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return;
	if (sscanf(key, "%255[^:]:%31[^:]:%255s", live_key.name, live_key.algorithm,
	    live_key.secret) != 3)
		return;
	snprintf(live_zone, sizeof(live_zone), "%s", zone);
	live_len = sizeof(*sin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_timeout_udp),
		cmocka_unit_test(test_update_timeout_tcp),
		cmocka_unit_test(test_update_connection_refused),
		cmocka_unit_test(test_update_udp_fallback_retries),
		cmocka_unit_test(test_bad_record_is_local_error),
		cmocka_unit_test(test_addr_text),
		cmocka_unit_test(test_live_swap),
	};

	live_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
