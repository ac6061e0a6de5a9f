/*
 * notify.c - RFC 1996 NOTIFY to the secondaries listed in dns.notify.
 *
 * After each published change the server calls notifier_start(); we send a
 * NOTIFY (opcode 4, AA, question "<zone> IN SOA", and the new SOA in the
 * answer section, the hint RFC 1996 section 3.7 allows, so a secondary
 * can tell it is behind without asking) to every target and
 * retry each one (1 s, then 2, 4, 8 s: five tries in all) until a reply
 * with the same ID, opcode NOTIFY and QR set comes back from that address.
 * A newer serial restarts the round. Sockets are non-blocking, one per
 * address family, both behind one epoll descriptor so the server loop
 * polls a single fd. Nothing here ever blocks or waits; the server loop
 * owns time. A target that never answers is logged and given up on.
 *
 * A secondary accepts a NOTIFY only from an address it lists as its
 * primary (BIND: "refused notify from non-primary"), so each socket is
 * bound to the address the secondaries know us by: dns.notify_source of
 * its family, else the first dns.listen address of its family that is not
 * a wildcard; only with neither does the kernel pick the source.
 *
 * notifier_create() always returns a notifier when it succeeds; with no
 * targets it holds no socket and notifier_fd() is -1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "dnsd/metrics.h"
#include "dnsd/notify.h"
#include "dnsd/wire.h"

#define NOTIFY_TRIES		5
#define NOTIFY_FIRST_RETRY_MS	1000
#define NOTIFY_READ_BATCH	64	/* datagrams per socket per call */
/*
 * A NOTIFY goes without EDNS, so it must fit 512 bytes (RFC 1035 4.2.1):
 * an SOA that would not (names near 255 bytes) is left out; it is a hint.
 */
#define NOTIFY_MSG_MAX		512

struct notify_target {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*text;
	int			 fd;
	uint16_t		 id;
	int			 tries;		/* sent so far in this round */
	int			 pending;	/* not answered, not given up */
	int64_t			 due_ms;	/* next send, monotonic */
};

struct notifier {
	int			 epfd;
	int			 fd4, fd6;
	struct notify_target	*t;
	size_t			 n;
	uint8_t			 msg[NOTIFY_MSG_MAX];
	size_t			 msg_len;
	uint32_t		 serial;
	struct metrics		*metrics;	/* NULL: not counted */
};


static uint16_t
notify_random_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = (uint16_t)(mono_ms() * 2654435761u >> 7);
	return id;
}

/*
 * Where NOTIFY of family leaves from: dns.notify_source of that family,
 * else the first dns.listen address of it that is not a wildcard. 0 and
 * *len 0 when there is none (the kernel picks); the port is always 0.
 */
static void
notify_source_pick(const struct conf_dns *dns, int family,
    struct sockaddr_storage *ss, socklen_t *len)
{
	size_t i;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	for (i = 0; i < dns->n_notify_source; i++) {
		const struct conf_ip *ip = &dns->notify_source[i];

		if (ip->family != family)
			continue;
		ss->ss_family = (sa_family_t)family;
		if (family == AF_INET) {
			memcpy(&((struct sockaddr_in *)ss)->sin_addr, ip->bytes, 4);
			*len = sizeof(struct sockaddr_in);
		} else {
			memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, ip->bytes, 16);
			*len = sizeof(struct sockaddr_in6);
		}
		return;
	}
	for (i = 0; i < dns->n_listen; i++) {
		const struct sockaddr_storage *l = &dns->listen[i].ss;

		if (l->ss_family != family)
			continue;
		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)ss;

			if (((const struct sockaddr_in *)l)->sin_addr.s_addr == htonl(INADDR_ANY))
				continue;
			memcpy(a, l, sizeof(*a));
			a->sin_port = 0;
			*len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

			if (IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)l)->sin6_addr))
				continue;
			memcpy(a, l, sizeof(*a));
			a->sin6_port = 0;
			*len = sizeof(*a);
		}
		return;
	}
}

static int
notify_socket(const struct conf_dns *dns, int family, int epfd, char *err, size_t errlen)
{
	struct epoll_event	ev;
	struct sockaddr_storage	src;
	socklen_t		srclen;
	char			text[INET6_ADDRSTRLEN + 8];
	int			fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "notify: socket: %s", strerror(errno));
		return -1;
	}
	notify_source_pick(dns, family, &src, &srclen);
	if (srclen != 0) {
		inet_ntop(family, family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)&src)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)&src)->sin6_addr, text,
		    sizeof(text));
		if (bind(fd, (struct sockaddr *)&src, srclen) < 0) {
			snprintf(err, errlen, "cannot send NOTIFY from %s (%s): %s; no "
			    "NOTIFY will be sent", text, dns->n_notify_source ?
			    "dns.notify_source" : "dns.listen", strerror(errno));
			close(fd);
			return -1;
		}
		log_info("notify: sending from %s", text);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		snprintf(err, errlen, "notify: epoll_ctl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct notifier *
notifier_create(const struct conf_dns *dns, char *err, size_t errlen)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		snprintf(err, errlen, "notify: out of memory");
		return NULL;
	}
	n->epfd = n->fd4 = n->fd6 = -1;
	if (dns->n_notify == 0)
		return n;
	if ((n->t = calloc(dns->n_notify, sizeof(*n->t))) == NULL) {
		snprintf(err, errlen, "notify: out of memory");
		goto fail;
	}
	if ((n->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "notify: epoll_create1: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < dns->n_notify; i++) {
		const struct conf_sockaddr *a = &dns->notify[i];
		struct notify_target *t = &n->t[n->n++];
		int *fd = a->ss.ss_family == AF_INET6 ? &n->fd6 : &n->fd4;

		if (*fd < 0 && (*fd = notify_socket(dns, a->ss.ss_family, n->epfd,
		    err, errlen)) < 0)
			goto fail;
		memcpy(&t->ss, &a->ss, sizeof(t->ss));
		t->len = a->len;
		t->text = a->text;
		t->fd = *fd;
	}
	return n;
fail:
	notifier_free(n);
	return NULL;
}

void
notifier_free(struct notifier *n)
{
	if (n == NULL)
		return;
	if (n->fd4 >= 0)
		close(n->fd4);
	if (n->fd6 >= 0)
		close(n->fd6);
	if (n->epfd >= 0)
		close(n->epfd);
	free(n->t);
	free(n);
}

int
notifier_fd(const struct notifier *n)
{
	return n ? n->epfd : -1;
}

static void
notify_send(struct notifier *n, struct notify_target *t, int64_t now)
{
	dns_wr16(n->msg + DNS_OFF_ID, t->id);
	/* A full socket buffer is just a lost try: the retry covers it. */
	(void)sendto(t->fd, n->msg, n->msg_len, 0, (struct sockaddr *)&t->ss, t->len);
	t->tries++;
	t->due_ms = now + ((int64_t)NOTIFY_FIRST_RETRY_MS << (t->tries - 1));
}

/*
 * Append the SOA after the question, its owner a pointer to the question
 * name (the zone apex). 0 when it does not fit in NOTIFY_MSG_MAX.
 */
static size_t
notify_put_soa(uint8_t *msg, size_t o, const ldns_rr *soa)
{
	uint8_t	*w = NULL;
	size_t	 wlen, owner = ldns_rdf_size(ldns_rr_owner(soa));

	if (ldns_rr2wire(&w, soa, LDNS_SECTION_ANSWER, &wlen) != LDNS_STATUS_OK)
		return 0;
	if (wlen < owner || o + 2 + wlen - owner > NOTIFY_MSG_MAX) {
		free(w);
		return 0;
	}
	dns_wr16(msg + o, DNS_PTR << 8 | DNS_HEADER_LEN);
	o += 2;
	memcpy(msg + o, w + owner, wlen - owner);
	free(w);
	return o + wlen - owner;
}

void
notifier_start(struct notifier *n, const char *origin, const ldns_rr *soa)
{
	size_t o = DNS_HEADER_LEN, end, name_len;
	int64_t now = mono_ms();

	if (n == NULL || n->n == 0 || soa == NULL || ldns_rr_rd_count(soa) != 7)
		return;
	memset(n->msg, 0, sizeof(n->msg));
	n->msg[DNS_OFF_FLAGS1] = DNS_OPCODE_NOTIFY << DNS_OPCODE_SHIFT | DNS_FLAG_AA;
	dns_wr16(n->msg + DNS_OFF_QDCOUNT, 1);
	if ((name_len = dns_name_from_text(origin, n->msg + o)) == 0)
		return;
	o += name_len;
	dns_wr16(n->msg + o, DNS_TYPE_SOA);
	dns_wr16(n->msg + o + 2, DNS_CLASS_IN);
	o += 4;
	if ((end = notify_put_soa(n->msg, o, soa)) != 0) {
		dns_wr16(n->msg + DNS_OFF_ANCOUNT, 1);
		o = end;
	}
	n->msg_len = o;
	n->serial = ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
	for (size_t i = 0; i < n->n; i++) {
		struct notify_target *t = &n->t[i];

		t->id = notify_random_id();
		t->tries = 0;
		t->pending = 1;
		notify_send(n, t, now);
	}
}

static int
notify_same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

/*
 * A NOTIFY refused: say so by name, with the usual cause (a secondary
 * takes a NOTIFY only from an address it lists as its primary).
 */
static void
notify_log_rcode(const struct notify_target *t, unsigned rcode)
{
	const ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);

	if (rcode == DNS_RCODE_REFUSED || rcode == DNS_RCODE_NOTAUTH)
		log_warnx("notify %s: answered %s: it does not take a NOTIFY from this "
		    "server's address (list dns.listen or dns.notify_source among its "
		    "primaries); it learns of the change only at its SOA refresh",
		    t->text, lt ? lt->name : "?");
	else
		log_warnx("notify %s: answered %s", t->text, lt ? lt->name : "?");
}

static void
notify_drain(struct notifier *n, int fd)
{
	uint8_t buf[1500];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t r;

	/*
	 * Anyone can send to this socket: read a batch, not until it is empty,
	 * so that a flood cannot hold the server loop (which also applies
	 * UPDATEs). The epoll descriptor stays readable for the rest.
	 */
	for (int batch = 0; batch < NOTIFY_READ_BATCH; batch++) {
		fl = sizeof(from);
		r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;		/* EAGAIN: the retry covers any loss */
		}
		if (r < DNS_HEADER_LEN || !(buf[DNS_OFF_FLAGS1] & DNS_FLAG_QR) ||
		    dns_opcode(buf) != DNS_OPCODE_NOTIFY)
			continue;
		for (size_t i = 0; i < n->n; i++) {
			struct notify_target *t = &n->t[i];

			if (t->pending && t->fd == fd &&
			    t->id == dns_rd16(buf + DNS_OFF_ID) &&
			    notify_same_peer(&t->ss, &from)) {
				t->pending = 0;
				metrics_notify(n->metrics, dns_rcode(buf) == DNS_RCODE_NOERROR ?
				    MNOTIFY_ANSWERED : MNOTIFY_ERROR);
				if (dns_rcode(buf) != DNS_RCODE_NOERROR)
					notify_log_rcode(t, dns_rcode(buf));
			}
		}
	}
}

void
notifier_on_readable(struct notifier *n)
{
	if (n == NULL)
		return;
	if (n->fd4 >= 0)
		notify_drain(n, n->fd4);
	if (n->fd6 >= 0)
		notify_drain(n, n->fd6);
}

int
notifier_timeout_ms(const struct notifier *n)
{
	int64_t now = mono_ms(), best = -1;

	if (n == NULL)
		return -1;
	for (size_t i = 0; i < n->n; i++) {
		const struct notify_target *t = &n->t[i];
		int64_t d;

		if (!t->pending)
			continue;
		d = t->due_ms > now ? t->due_ms - now : 0;
		if (best < 0 || d < best)
			best = d;
	}
	return (int)best;
}

void
notifier_on_timer(struct notifier *n)
{
	int64_t now = mono_ms();

	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++) {
		struct notify_target *t = &n->t[i];

		if (!t->pending || t->due_ms > now)
			continue;
		if (t->tries >= NOTIFY_TRIES) {
			t->pending = 0;
			metrics_notify(n->metrics, MNOTIFY_TIMEOUT);
			log_warnx("notify %s: no answer after %d tries (serial %u)",
			    t->text, t->tries, n->serial);
			continue;
		}
		notify_send(n, t, now);
	}
}

void
notifier_count_into(struct notifier *n, struct metrics *m)
{
	if (n != NULL)
		n->metrics = m;
}
