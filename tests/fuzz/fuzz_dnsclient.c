/*
 * fuzz_dnsclient.c - the failover side's DNS client on hostile replies.
 *
 * The client's reply parsing (reply_parse, rr_value in dnsclient.c) is
 * static, so the target goes through the public calls: a server thread
 * in this process, on a loopback port, answers every UDP query and every
 * TCP connection with the fuzzer's bytes (the ID set to the query's, and
 * padded to a header, so that no reply is waited for in vain).
 *
 * The first byte picks the call, the rest is the reply:
 *	0-2	dnsclient_query for A, AAAA, TXT (TC=1 makes it ask again over TCP)
 *	3	dnsclient_serial (SOA)
 *	4	dnsclient_update, unsigned
 *	5	dnsclient_update signed with a key; the reply as it came
 *	6	the same, the reply signed by the server thread with the key
 *		over the request's MAC, so the checks after the TSIG run
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLY_MAX	65507		/* a UDP datagram's payload */

static struct conf_tsig_key	 key;
static struct sockaddr_storage	 server;
static socklen_t		 server_len;
static int			 udp_fd = -1, tcp_fd = -1;

/* The reply to send: set by the fuzzing thread before each call. */
static pthread_mutex_t	 reply_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t		 reply[REPLY_MAX];
static size_t		 reply_len;
static int		 reply_sign;

/* The reply to request q (q_len bytes) into out; its length. */
static size_t
reply_for(const uint8_t *q, size_t q_len, uint8_t *out)
{
	ldns_pkt	*req = NULL, *r = NULL;
	ldns_rr		*tsig;
	uint8_t		*signed_wire = NULL;
	size_t		 n, slen;
	int		 sign;

	pthread_mutex_lock(&reply_lock);
	n = reply_len;
	memcpy(out, reply, n);
	sign = reply_sign;
	pthread_mutex_unlock(&reply_lock);
	if (n < 12) {
		memset(out + n, 0, 12 - n);
		n = 12;
	}
	if (q_len >= 2)
		memcpy(out, q, 2);
	if (!sign || fuzz_tsig_count(out, n) > 1 ||
	    ldns_wire2pkt(&req, q, q_len) != LDNS_STATUS_OK)
		goto out;
	tsig = ldns_pkt_tsig(req);
	if (tsig != NULL && ldns_rr_rdf(tsig, 3) != NULL &&
	    ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK) {
		ldns_rr_free(ldns_pkt_tsig(r));
		ldns_pkt_set_tsig(r, NULL);
		if (ldns_pkt_tsig_sign_next(r, key.name, key.secret, 300, "hmac-sha256.",
		    ldns_rr_rdf(tsig, 3), 0) == LDNS_STATUS_OK &&
		    ldns_pkt2wire(&signed_wire, r, &slen) == LDNS_STATUS_OK &&
		    slen <= REPLY_MAX) {
			memcpy(out, signed_wire, slen);
			n = slen;
		}
	}
out:
	free(signed_wire);
	ldns_pkt_free(r);
	ldns_pkt_free(req);
	return n;
}

static int
io_full(int fd, uint8_t *buf, size_t len, int writing)
{
	struct pollfd	pfd = { fd, writing ? POLLOUT : POLLIN, 0 };
	size_t		done = 0;
	ssize_t		n;

	while (done < len) {
		if (poll(&pfd, 1, 2000) != 1)
			return -1;
		n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL) :
		    recv(fd, buf + done, len - done, 0);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static void
serve_tcp(int fd, uint8_t *q, uint8_t *out)
{
	uint8_t	hdr[2];
	size_t	q_len, n;

	if (io_full(fd, hdr, 2, 0) != 0)
		return;
	q_len = (size_t)hdr[0] << 8 | hdr[1];
	if (io_full(fd, q, q_len, 0) != 0)
		return;
	n = reply_for(q, q_len, out + 2);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	(void)io_full(fd, out, n + 2, 1);
}

static void *
serve(void *arg)
{
	static uint8_t		 q[65536], out[REPLY_MAX + 2];
	struct pollfd		 pfd[2] = { { udp_fd, POLLIN, 0 }, { tcp_fd, POLLIN, 0 } };
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	ssize_t			 q_len;
	size_t			 n;
	int			 fd;

	(void)arg;
	for (;;) {
		if (poll(pfd, 2, -1) < 1)
			continue;
		if (pfd[0].revents & POLLIN) {
			plen = sizeof(peer);
			q_len = recvfrom(udp_fd, q, sizeof(q), 0, (struct sockaddr *)&peer, &plen);
			if (q_len > 0) {
				n = reply_for(q, (size_t)q_len, out);
				(void)sendto(udp_fd, out, n, 0, (struct sockaddr *)&peer, plen);
			}
		}
		if (pfd[1].revents & POLLIN) {
			fd = accept(tcp_fd, NULL, NULL);
			if (fd != -1) {
				serve_tcp(fd, q, out);
				close(fd);
			}
		}
	}
	return NULL;
}

/* A UDP and a TCP socket on the same loopback port, and the thread. */
static void
setup(void)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&server;
	pthread_t		 t;
	int			 try, one = 1;

	fuzz_key(&key, "hmac-sha256");
	for (try = 0; try < 50; try++) {
		memset(&server, 0, sizeof(server));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		server_len = sizeof(*sin);
		udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (udp_fd == -1 || tcp_fd == -1)
			break;
		(void)setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(udp_fd, (struct sockaddr *)&server, server_len) == 0 &&
		    getsockname(udp_fd, (struct sockaddr *)&server, &server_len) == 0 &&
		    bind(tcp_fd, (struct sockaddr *)&server, server_len) == 0 &&
		    listen(tcp_fd, 16) == 0 &&
		    pthread_create(&t, NULL, serve, NULL) == 0)
			return;
		close(udp_fd);
		close(tcp_fd);
	}
	perror("fuzz_dnsclient: the loopback server");
	abort();
}

/*
 * Would the reply hit the ldns leaks the client cannot avoid? ldns 1.8.3's
 * ldns_wire2pkt() leaks all but the last of several TSIGs, and
 * ldns_pkt_tsig_verify() leaks the reply's TSIG when it cannot compute a
 * MAC (an algorithm it does not know): it takes the record off the packet
 * and returns before putting it back. Such replies are skipped unless
 * FUZZ_LDNS_TSIG_LEAK is set in the environment.
 */
static int
ldns_would_leak(const uint8_t *wire, size_t len, int verifies)
{
	static const char *const known[] = { "hmac-md5.sig-alg.reg.int.", "hmac-sha1.",
	    "hmac-sha224.", "hmac-sha256.", "hmac-sha384.", "hmac-sha512." };
	ldns_pkt	*p = NULL;
	ldns_rr		*t;
	char		*alg;
	size_t		 i;
	int		 leak = 1;

	if (getenv("FUZZ_LDNS_TSIG_LEAK") != NULL)
		return 0;
	if (fuzz_tsig_count(wire, len) > 1)
		return 1;
	if (!verifies || ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return 0;
	t = ldns_pkt_tsig(p);
	if (t == NULL || ldns_rr_rd_count(t) <= 6 ||
	    (alg = ldns_rdf2str(ldns_rr_rdf(t, 0))) == NULL) {
		ldns_pkt_free(p);
		return 0;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(alg, known[i]) == 0)
			leak = 0;
	free(alg);
	ldns_pkt_free(p);
	return leak;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 qtypes[] = { DNSCLIENT_TYPE_A, DNSCLIENT_TYPE_AAAA,
	    DNSCLIENT_TYPE_TXT };
	static const char *const qnames[] = { "redis.svc.test.", "redis.svc.test.",
	    "_redisfo.redis.svc.test." };
	static struct dnsclient_rrset out;
	const struct dnsclient_change changes[] = {
		{ DNSCLIENT_PREREQ_VALUE, "redis.svc.test.", DNSCLIENT_TYPE_A, 0, "127.0.0.2" },
		{ DNSCLIENT_DELETE_RRSET, "redis.svc.test.", DNSCLIENT_TYPE_A, 0, NULL },
		{ DNSCLIENT_ADD, "redis.svc.test.", DNSCLIENT_TYPE_A, 5, "127.0.0.3" },
	};
	struct conf_tsig_key	 nokey;
	uint32_t		 serial;
	char			 err[1024];
	size_t			 i;
	int			 mode, rcode;
	enum dnsclient_result	 r;

	if (udp_fd == -1)
		setup();
	if (size < 1 || size - 1 > REPLY_MAX)
		return 0;
	mode = data[0] % 7;
	if (ldns_would_leak(data + 1, size - 1, mode >= 5))
		return 0;
	pthread_mutex_lock(&reply_lock);
	memcpy(reply, data + 1, size - 1);
	reply_len = size - 1;
	reply_sign = mode == 6;
	pthread_mutex_unlock(&reply_lock);
	err[0] = '\0';
	memset(&nokey, 0, sizeof(nokey));
	switch (mode) {
	case 0: case 1: case 2:
		r = dnsclient_query(&server, server_len, qnames[mode], qtypes[mode], 2000,
		    &out, err, sizeof(err));
		if (r == DNSCLIENT_OK) {
			if (out.n > DNSCLIENT_RR_MAX)
				abort();
			for (i = 0; i < out.n; i++)
				if (memchr(out.value[i], '\0', sizeof(out.value[i])) == NULL)
					abort();
		}
		break;
	case 3:
		r = dnsclient_serial(&server, server_len, "svc.test.", 2000, &serial,
		    err, sizeof(err));
		break;
	default:
		r = dnsclient_update(&server, server_len, "svc.test.", mode == 4 ? &nokey : &key,
		    changes, sizeof(changes) / sizeof(changes[0]), 2000, &rcode,
		    err, sizeof(err));
		if (mode == 6 && r == DNSCLIENT_ERROR && strstr(err, "does not verify")) {
			fprintf(stderr, "a reply signed with the key: %s\n", err);
			abort();
		}
		break;
	}
	if (r == DNSCLIENT_TIMEOUT || r == DNSCLIENT_UNREACHABLE) {
		/* The server in this process always answers at once. */
		fprintf(stderr, "dnsclient: %s: %s\n", dnsclient_result_str(r), err);
		abort();
	}
	if (r != DNSCLIENT_OK && err[0] == '\0') {
		fprintf(stderr, "dnsclient: %s without a message\n", dnsclient_result_str(r));
		abort();
	}
	return 0;
}
