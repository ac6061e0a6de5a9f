/*
 * test_notify.c - NOTIFY to a secondary played by a socket here: the
 * message is a NOTIFY for the zone's SOA, with the new SOA as its answer; only a reply with the same ID,
 * opcode NOTIFY and QR, from the target's own address and port, ends the
 * retries (spoofed ones from elsewhere are ignored); and a flood on the
 * notifier's socket is read a batch at a time, so that the server loop,
 * which also answers UPDATEs, is never held by it; and names so long that
 * the SOA would take the message past 512 bytes leave the SOA out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "dnsd/notify.h"
#include "tests/unit/unit_msg.h"

/* A UDP socket on 127.0.0.1, any port; its address in *sa. */
static int
udp_socket(struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t l = sizeof(*sa);

	assert_true(fd >= 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &l), 0);
	return fd;
}

/* The zone's SOA at serial. */
static ldns_rr *
soa_at(uint32_t serial)
{
	ldns_rr *rr = NULL;
	char text[128];

	snprintf(text, sizeof(text),
	    "svc.test. 30 IN SOA ns1.svc.test. hostmaster.svc.test. %u 3600 600 86400 5", serial);
	assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

/*
 * Receive the next NOTIFY at fd (within 2 s), check it carries the SOA at
 * serial in its answer; its ID, and where it came from.
 */
static uint16_t
notify_recv(int fd, struct sockaddr_in *from, uint32_t serial)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	uint8_t b[512];
	socklen_t fl = sizeof(*from);
	ldns_pkt *p = NULL;
	ldns_rr *ans, *want = soa_at(serial);
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)from, &fl);
	assert_true(n > 12 + 10 + 4);
	assert_int_equal((b[2] >> 3) & 0x0f, 4);		/* opcode NOTIFY */
	assert_true(b[2] & 0x04);				/* AA */
	assert_false(b[2] & 0x80);
	assert_memory_equal(b + 12, "\003svc\004test\000\000\006\000\001", 14);
	assert_memory_equal(b + 26, "\300\014", 2);		/* owner: the question's name */
	assert_int_equal(ldns_wire2pkt(&p, b, (size_t)n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ans = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	assert_int_equal(ldns_rr_compare(ans, want), 0);
	assert_int_equal(ldns_rr_ttl(ans), 30);
	ldns_pkt_free(p);
	ldns_rr_free(want);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* A notifier whose one target is sec (target and dns are its config). */
static struct notifier *
notifier_to(const struct sockaddr_in *sec, struct conf_sockaddr *target, struct conf_dns *dns)
{
	struct notifier *n;
	char err[256];

	memset(dns, 0, sizeof(*dns));
	memset(target, 0, sizeof(*target));
	snprintf(target->text, sizeof(target->text), "127.0.0.1:%u", ntohs(sec->sin_port));
	memcpy(&target->ss, sec, sizeof(*sec));
	target->len = sizeof(*sec);
	dns->notify = target;
	dns->n_notify = 1;
	n = notifier_create(dns, err, sizeof(err));
	assert_non_null(n);
	return n;
}

static void
reply_send(int fd, const struct sockaddr_in *to, uint16_t id, uint8_t flags2)
{
	struct unit_pkt b;

	unit_pkt_header(&b, id, (uint16_t)(flags2 << 8), 0, 0, 0, 0);
	assert_int_equal(sendto(fd, b.b, b.len, 0, (const struct sockaddr *)to,
	    sizeof(*to)), (ssize_t)b.len);
}

/* Wait until the notifier has input, then let it read. */
static void
notifier_feed(struct notifier *n)
{
	struct pollfd pfd = { notifier_fd(n), POLLIN, 0 };

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	notifier_on_readable(n);
}

static int
notifier_has_input(const struct notifier *n)
{
	struct pollfd pfd = { notifier_fd(n), POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1;
}

static void
test_reply_matching(void **state)
{
	struct sockaddr_in sec, other, from;
	int fd = udp_socket(&sec), spoof = udp_socket(&other);
	struct conf_sockaddr target;
	struct conf_dns dns;
	struct notifier *n;
	ldns_rr *soa;
	uint16_t id;

	(void)state;
	n = notifier_to(&sec, &target, &dns);
	soa = soa_at(7);
	notifier_start(n, "svc.test.", soa);
	ldns_rr_free(soa);
	id = notify_recv(fd, &from, 7);
	assert_true(notifier_timeout_ms(n) >= 0);
	/* Right ID from another port of the same host: spoofed, ignored. */
	reply_send(spoof, &from, id, 0x80 | 4 << 3);
	notifier_feed(n);
	assert_true(notifier_timeout_ms(n) >= 0);
	/* From the secondary: wrong ID, no QR, wrong opcode: ignored. */
	reply_send(fd, &from, (uint16_t)(id + 1), 0x80 | 4 << 3);
	notifier_feed(n);
	reply_send(fd, &from, id, 4 << 3);
	notifier_feed(n);
	reply_send(fd, &from, id, 0x80 | 0 << 3);
	notifier_feed(n);
	assert_true(notifier_timeout_ms(n) >= 0);
	/* The answer: no more retries. */
	reply_send(fd, &from, id, 0x80 | 4 << 3);
	notifier_feed(n);
	assert_int_equal(notifier_timeout_ms(n), -1);

	/* A flood from anywhere is read a batch at a time. */
	soa = soa_at(8);
	notifier_start(n, "svc.test.", soa);
	ldns_rr_free(soa);
	id = notify_recv(fd, &from, 8);
	for (int i = 0; i < 400; i++)
		reply_send(spoof, &from, (uint16_t)i, 0x80 | 4 << 3);
	notifier_feed(n);
	assert_true(notifier_has_input(n));		/* the rest waits its turn */
	for (int i = 0; i < 100 && notifier_has_input(n); i++)
		notifier_on_readable(n);
	assert_false(notifier_has_input(n));
	assert_true(notifier_timeout_ms(n) >= 0);
	reply_send(fd, &from, id, 0x80 | 4 << 3);
	notifier_feed(n);
	assert_int_equal(notifier_timeout_ms(n), -1);
	notifier_free(n);
	close(fd);
	close(spoof);
}

/*
 * A zone and SOA names so long that the SOA would take the NOTIFY past
 * 512 bytes: it goes without the SOA (a hint only), question intact.
 */
static void
test_long_names_leave_out_the_soa(void **state)
{
	struct sockaddr_in sec, from;
	int fd = udp_socket(&sec);
	struct conf_sockaddr target;
	struct conf_dns dns;
	struct notifier *n;
	char origin[256], text[1024];
	struct pollfd pfd = { fd, POLLIN, 0 };
	socklen_t fl = sizeof(from);
	uint8_t b[1024];
	ldns_pkt *p = NULL;
	ldns_rr *soa = NULL;
	ssize_t len;
	int o = 0;

	(void)state;
	for (int i = 0; i < 4; i++)		/* 4 labels of 58: 237 bytes on the wire */
		o += snprintf(origin + o, sizeof(origin) - (size_t)o, "%.58s.",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(text, sizeof(text), "%s 30 IN SOA ns1.%s hostmaster.%s 9 3600 600 86400 5",
	    origin, origin, origin);
	assert_int_equal(ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL), LDNS_STATUS_OK);
	n = notifier_to(&sec, &target, &dns);
	notifier_start(n, origin, soa);
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
	assert_true(len > 12 && len <= 512);
	assert_int_equal(ldns_wire2pkt(&p, b, (size_t)len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)),
	    ldns_rr_owner(soa)), 0);
	ldns_pkt_free(p);
	ldns_rr_free(soa);
	notifier_free(n);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_matching),
		cmocka_unit_test(test_long_names_leave_out_the_soa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
