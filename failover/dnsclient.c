/*
 * dnsclient.c - queries and TSIG-signed RFC 2136 UPDATEs for the failover.
 *
 * ldns builds and parses the messages; the TSIG of an UPDATE and of its
 * reply is the project's own (dnsd/tsig.c), so every algorithm the config
 * accepts signs the same way on the server and here. The socket work is
 * done here with poll() and one deadline per call, so a dead server costs
 * at most timeout_ms: queries go over UDP with TCP when truncated (or over
 * TCP alone, for a read-back that must not trust UDP); an UPDATE goes over
 * TCP, and over UDP (RFC 2136 allows both) when TCP is refused or closed,
 * the same message (same ID, same signature) sent again while no answer
 * comes. The switch relies on the result codes to tell "nothing changed"
 * (REFUSED, NOTAUTH, prerequisite failed) from "unknown" (timeout, a reply
 * that cannot be trusted): this file must never report anything but
 * DNSCLIENT_ERROR for a reply to a signed UPDATE whose TSIG does not
 * verify, and says in struct dnsclient_update_info what such a reply said.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "dnsd/tsig.h"
#include "failover/dnsclient.h"


const char *
dnsclient_result_str(enum dnsclient_result r)
{
	switch (r) {
	case DNSCLIENT_OK:	return "ok";
	case DNSCLIENT_TIMEOUT:	return "timeout";
	case DNSCLIENT_UNREACHABLE: return "unreachable";
	case DNSCLIENT_REFUSED:	return "refused";
	case DNSCLIENT_NOTAUTH:	return "notauth";
	case DNSCLIENT_PREREQ:	return "prerequisite failed";
	case DNSCLIENT_RCODE:	return "error rcode";
	case DNSCLIENT_ERROR:	return "error";
	}
	return "?";
}

static const char *
rcode_str(int rcode)
{
	static const char *names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
	    "NOTAUTH", "NOTZONE" };

	if (rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(names[0])))
		return names[rcode];
	return "RCODE?";
}

static const char *
tsig_error_str(int e)
{
	switch (e) {
	case 0:		return "no TSIG error";
	case 16:	return "BADSIG";
	case 17:	return "BADKEY";
	case 18:	return "BADTIME";
	case 19:	return "BADMODE";
	case 20:	return "BADNAME";
	case 21:	return "BADALG";
	case 22:	return "BADTRUNC";
	}
	return "unknown TSIG error";
}

/* How an exchange with the server ended. */
enum exchange {
	XCHG_OK = 0,
	XCHG_ERROR = -1,	/* err says why; the outcome is unknown */
	XCHG_TIMEOUT = -2,	/* no reply by the deadline */
	XCHG_NOT_SENT = -3,	/* no connection (TCP) or no listener (UDP, ICMP port
				   unreachable): nothing was received */
	XCHG_CLOSED = -4,	/* TCP only: the server closed the connection
				   before its reply; the message may have reached it */
};

/*
 * Send wire over UDP and return the first datagram with the same ID.
 * XCHG_OK, XCHG_ERROR (err) or XCHG_TIMEOUT.
 */
static enum exchange
udp_exchange(const struct sockaddr_storage *ss, socklen_t sslen,
    const uint8_t *wire, size_t len, long long deadline,
    uint8_t *reply, size_t *replylen, char *err, size_t errlen)
{
	ssize_t	n;
	int	fd;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return XCHG_ERROR;
	}
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1 ||
	    send(fd, wire, len, 0) != (ssize_t)len) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		close(fd);
		return XCHG_ERROR;
	}
	for (;;) {
		if (fd_wait(fd, POLLIN, deadline) != 1) {
			close(fd);
			return XCHG_TIMEOUT;
		}
		n = recv(fd, reply, *replylen, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(err, errlen, "recv: %s", strerror(errno));
			close(fd);
			return XCHG_ERROR;
		}
		if (n >= 12 && reply[0] == wire[0] && reply[1] == wire[1])
			break;
	}
	close(fd);
	*replylen = (size_t)n;
	return XCHG_OK;
}

static enum exchange
io_all(int fd, uint8_t *buf, size_t len, int writing, long long deadline)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		if (fd_wait(fd, writing ? POLLOUT : POLLIN, deadline) != 1)
			return XCHG_TIMEOUT;
		n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
		    : recv(fd, buf + done, len - done, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == 0 || (n == -1 && (errno == ECONNRESET || errno == EPIPE)))
			return XCHG_CLOSED;
		if (n <= 0)
			return XCHG_ERROR;
		done += (size_t)n;
	}
	return XCHG_OK;
}

/*
 * Same as udp_exchange over TCP; *reply is malloc'ed. XCHG_NOT_SENT when
 * the connection could not be made.
 */
static enum exchange
tcp_exchange(const struct sockaddr_storage *ss, socklen_t sslen,
    const uint8_t *wire, size_t len, long long deadline,
    uint8_t **reply, size_t *replylen, char *err, size_t errlen)
{
	uint8_t		 hdr[2], *out, *buf = NULL;
	size_t		 blen;
	socklen_t	 sl = sizeof(int);
	int		 fd, soerr = 0;
	enum exchange	 rc;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return XCHG_ERROR;
	}
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return XCHG_NOT_SENT;
	}
	if (fd_wait(fd, POLLOUT, deadline) != 1) {
		snprintf(err, errlen, "connect: timed out");
		close(fd);
		return XCHG_NOT_SENT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr) {
		snprintf(err, errlen, "connect: %s", strerror(soerr ? soerr : errno));
		close(fd);
		return XCHG_NOT_SENT;
	}
	out = malloc(len + 2);
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return XCHG_ERROR;
	}
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	memcpy(out + 2, wire, len);
	rc = io_all(fd, out, len + 2, 1, deadline);
	free(out);
	if (rc == XCHG_OK)
		rc = io_all(fd, hdr, 2, 0, deadline);
	if (rc == XCHG_OK) {
		blen = ((size_t)hdr[0] << 8) | hdr[1];
		buf = malloc(blen ? blen : 1);
		if (buf == NULL)
			rc = XCHG_ERROR;
		else
			rc = io_all(fd, buf, blen, 0, deadline);
	}
	close(fd);
	if (rc != XCHG_OK) {
		free(buf);
		if (rc == XCHG_ERROR)
			snprintf(err, errlen, "TCP exchange failed: %s", strerror(errno));
		else if (rc == XCHG_CLOSED)
			snprintf(err, errlen, "TCP connection closed before the reply");
		return rc;
	}
	if (blen < 12) {
		free(buf);
		snprintf(err, errlen, "short reply over TCP");
		return XCHG_ERROR;
	}
	*reply = buf;
	*replylen = blen;
	return XCHG_OK;
}

/*
 * Return the rdf as a string value into out. A TXT comes as its rdata in
 * presentation form, each string quoted as it is in the RR, so that it
 * can be sent back as a prerequisite exactly as read (failover/txt.c
 * reads it); a TXT too long for out is left "" rather than cut.
 */
static void
rr_value(const ldns_rr *rr, char *out, size_t outlen)
{
	ldns_rdf	*rdf;
	char		*s;
	size_t		 i, o = 0, l;

	out[0] = '\0';
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT) {
		for (i = 0; i < ldns_rr_rd_count(rr); i++) {
			if ((s = ldns_rdf2str(ldns_rr_rdf(rr, i))) == NULL) {
				out[0] = '\0';
				return;
			}
			l = strlen(s);
			if (o + (o > 0) + l >= outlen) {
				free(s);
				out[0] = '\0';
				return;
			}
			if (o > 0)
				out[o++] = ' ';
			memcpy(out + o, s, l);
			o += l;
			out[o] = '\0';
			free(s);
		}
		return;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
		rdf = ldns_rr_rdf(rr, 2);
		if (rdf != NULL)
			snprintf(out, outlen, "%u", ldns_rdf2native_int32(rdf));
		return;
	}
	rdf = ldns_rr_rdf(rr, 0);
	if (rdf == NULL)
		return;
	s = ldns_rdf2str(rdf);
	if (s != NULL) {
		snprintf(out, outlen, "%s", s);
		free(s);
	}
}

/* Map a reply's rcode to a result (for UPDATE). */
static enum dnsclient_result
rcode_result(int rcode)
{
	switch (rcode) {
	case LDNS_RCODE_NOERROR:	return DNSCLIENT_OK;
	case LDNS_RCODE_REFUSED:
	case LDNS_RCODE_NOTIMPL:
	case LDNS_RCODE_NOTZONE:	return DNSCLIENT_REFUSED;
	case LDNS_RCODE_NOTAUTH:	return DNSCLIENT_NOTAUTH;
	case LDNS_RCODE_YXDOMAIN:
	case LDNS_RCODE_YXRRSET:
	case LDNS_RCODE_NXRRSET:
	case LDNS_RCODE_NXDOMAIN:	return DNSCLIENT_PREREQ;
	}
	return DNSCLIENT_RCODE;
}

/* The reply to wire: same ID, and parseable; NULL with err otherwise. */
static ldns_pkt *
reply_parse(const uint8_t *wire, const uint8_t *reply, size_t rlen, const char *where,
    char *err, size_t errlen)
{
	ldns_pkt	*r = NULL;
	ldns_status	 st;

	if (reply[0] != wire[0] || reply[1] != wire[1]) {
		snprintf(err, errlen, "DNS server %s: reply with the wrong ID", where);
		return NULL;
	}
	st = ldns_wire2pkt(&r, reply, rlen);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "DNS server %s: unparseable reply: %s", where,
		    ldns_get_errorstr_by_id(st));
		return NULL;
	}
	return r;
}

/* A query over UDP (TCP when truncated), or over TCP alone when tcp_only. */
static enum dnsclient_result
query_run(const struct sockaddr_storage *server, socklen_t server_len,
    const char *name, int type, int tcp_only, int timeout_ms,
    struct dnsclient_rrset *out, char *err, size_t errlen)
{
	enum dnsclient_result	 res = DNSCLIENT_ERROR;
	ldns_pkt		*q = NULL, *r = NULL;
	ldns_rdf		*qname = NULL;
	ldns_rr_list		*an;
	ldns_rr			*rr;
	ldns_status		 st;
	uint8_t			*wire = NULL, udpbuf[65535], *reply = udpbuf, *tcpbuf = NULL;
	size_t			 wlen, rlen = sizeof(udpbuf), i;
	long long		 deadline = mono_ms() + timeout_ms;
	char			 where[128], e[256] = "";
	enum exchange		 rc = XCHG_ERROR;

	memset(out, 0, sizeof(*out));
	addr_text(server, where, sizeof(where));
	qname = ldns_dname_new_frm_str(name);
	if (qname == NULL) {
		snprintf(err, errlen, "query %s: bad name '%s'", where, name);
		return DNSCLIENT_ERROR;
	}
	q = ldns_pkt_query_new(qname, (ldns_rr_type)type, LDNS_RR_CLASS_IN, 0);
	if (q == NULL) {
		ldns_rdf_deep_free(qname);
		snprintf(err, errlen, "query %s: out of memory", where);
		return DNSCLIENT_ERROR;
	}
	ldns_pkt_set_random_id(q);
	st = ldns_pkt2wire(&wire, q, &wlen);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "query %s: %s", where, ldns_get_errorstr_by_id(st));
		goto out;
	}
	if (!tcp_only)
		rc = udp_exchange(server, server_len, wire, wlen, deadline, udpbuf, &rlen,
		    e, sizeof(e));
	if (tcp_only || (rc == XCHG_OK && (udpbuf[2] & 0x02))) {	/* TC: again over TCP */
		rc = tcp_exchange(server, server_len, wire, wlen, deadline,
		    &tcpbuf, &rlen, e, sizeof(e));
		reply = tcpbuf;
	}
	if (rc == XCHG_TIMEOUT) {
		snprintf(err, errlen, "DNS server %s did not answer %s within %d ms",
		    where, name, timeout_ms);
		res = DNSCLIENT_TIMEOUT;
		goto out;
	}
	if (rc == XCHG_ERROR || rc == XCHG_NOT_SENT || rc == XCHG_CLOSED) {
		snprintf(err, errlen, "DNS server %s: %s", where, e);
		res = rc == XCHG_NOT_SENT ? DNSCLIENT_UNREACHABLE : DNSCLIENT_ERROR;
		goto out;
	}
	r = reply_parse(wire, reply, rlen, where, err, errlen);
	if (r == NULL)
		goto out;
	out->rcode = ldns_pkt_get_rcode(r);
	if (out->rcode != LDNS_RCODE_NOERROR && out->rcode != LDNS_RCODE_NXDOMAIN) {
		snprintf(err, errlen, "DNS server %s answered %s for %s", where,
		    rcode_str(out->rcode), name);
		res = out->rcode == LDNS_RCODE_REFUSED ? DNSCLIENT_REFUSED : DNSCLIENT_RCODE;
		goto out;
	}
	an = ldns_pkt_answer(r);
	for (i = 0; an != NULL && i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if ((int)ldns_rr_get_type(rr) != type ||
		    ldns_dname_compare(ldns_rr_owner(rr), qname) != 0)
			continue;
		if (out->n == DNSCLIENT_RR_MAX)
			break;
		if (out->n == 0)
			out->ttl = ldns_rr_ttl(rr);
		rr_value(rr, out->value[out->n], sizeof(out->value[0]));
		out->n++;
	}
	res = DNSCLIENT_OK;
out:
	ldns_pkt_free(q);	/* frees qname */
	ldns_pkt_free(r);
	free(wire);
	free(tcpbuf);
	return res;
}

enum dnsclient_result
dnsclient_query(const struct sockaddr_storage *server, socklen_t server_len,
    const char *name, int type, int timeout_ms, struct dnsclient_rrset *out,
    char *err, size_t errlen)
{
	return query_run(server, server_len, name, type, 0, timeout_ms, out, err, errlen);
}

enum dnsclient_result
dnsclient_query_tcp(const struct sockaddr_storage *server, socklen_t server_len,
    const char *name, int type, int timeout_ms, struct dnsclient_rrset *out,
    char *err, size_t errlen)
{
	return query_run(server, server_len, name, type, 1, timeout_ms, out, err, errlen);
}

enum dnsclient_result
dnsclient_serial(const struct sockaddr_storage *server, socklen_t server_len,
    const char *zone, int timeout_ms, uint32_t *serial, char *err, size_t errlen)
{
	struct dnsclient_rrset	*set;
	enum dnsclient_result	 res;

	set = malloc(sizeof(*set));
	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		return DNSCLIENT_ERROR;
	}
	res = dnsclient_query(server, server_len, zone, DNSCLIENT_TYPE_SOA,
	    timeout_ms, set, err, errlen);
	if (res == DNSCLIENT_OK && set->n == 0) {
		char where[128];
		addr_text(server, where, sizeof(where));
		snprintf(err, errlen, "DNS server %s has no SOA for %s", where, zone);
		res = DNSCLIENT_RCODE;
	}
	if (res == DNSCLIENT_OK)
		*serial = (uint32_t)strtoul(set->value[0], NULL, 10);
	free(set);
	return res;
}

/* Build one RR of an UPDATE; NULL with err on failure. */
static ldns_rr *
change_rr(const struct dnsclient_change *c, char *err, size_t errlen)
{
	ldns_rr		*rr = NULL;
	ldns_rdf	*owner;
	ldns_status	 st;
	char		 text[1024];
	const char	*tname;
	ldns_rr_class	 cls;

	tname = ldns_rr_descript((uint16_t)c->type) ?
	    ldns_rr_descript((uint16_t)c->type)->_name : NULL;
	if (tname == NULL) {
		snprintf(err, errlen, "unknown RR type %d", c->type);
		return NULL;
	}
	switch (c->op) {
	case DNSCLIENT_PREREQ_VALUE:
	case DNSCLIENT_DELETE_RR:
	case DNSCLIENT_ADD:
		if (c->rdata == NULL) {
			snprintf(err, errlen, "%s %s: no data", c->owner, tname);
			return NULL;
		}
		snprintf(text, sizeof(text), "%s %u IN %s %s", c->owner,
		    c->op == DNSCLIENT_ADD ? c->ttl : 0, tname, c->rdata);
		st = ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
		if (st != LDNS_STATUS_OK) {
			snprintf(err, errlen, "bad record '%.300s': %s", text,
			    ldns_get_errorstr_by_id(st));
			return NULL;
		}
		if (c->op == DNSCLIENT_DELETE_RR)
			ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
		return rr;
	case DNSCLIENT_PREREQ_EXISTS:
	case DNSCLIENT_DELETE_RRSET:
		cls = LDNS_RR_CLASS_ANY;
		break;
	case DNSCLIENT_PREREQ_ABSENT:
	default:
		cls = LDNS_RR_CLASS_NONE;
		break;
	}
	owner = ldns_dname_new_frm_str(c->owner);
	rr = owner ? ldns_rr_new() : NULL;
	if (rr == NULL) {
		ldns_rdf_deep_free(owner);
		snprintf(err, errlen, "bad name '%s'", c->owner);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, (ldns_rr_type)c->type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, 0);
	ldns_rr_set_question(rr, false);
	return rr;
}

static int
is_prereq(enum dnsclient_op op)
{
	return op == DNSCLIENT_PREREQ_VALUE || op == DNSCLIENT_PREREQ_EXISTS ||
	    op == DNSCLIENT_PREREQ_ABSENT;
}

/*
 * Send the UPDATE wire over UDP, the same datagram again (same ID, same
 * signature) each time no answer came within an interval that doubles,
 * until deadline. *sends counts the copies. XCHG_NOT_SENT when the first
 * copy met no listener (ICMP port unreachable) and nothing else had gone.
 */
static enum exchange
udp_update_exchange(const struct sockaddr_storage *ss, socklen_t sslen,
    const uint8_t *wire, size_t len, long long deadline, int timeout_ms,
    int sent_before, uint8_t *reply, size_t *replylen, int *sends,
    char *err, size_t errlen)
{
	long long	interval = timeout_ms / 4 > 100 ? timeout_ms / 4 : 100, next;
	ssize_t		n;
	int		fd;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return sent_before ? XCHG_ERROR : XCHG_NOT_SENT;
	}
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1) {
		snprintf(err, errlen, "UDP connect: %s", strerror(errno));
		close(fd);
		return sent_before ? XCHG_ERROR : XCHG_NOT_SENT;
	}
	for (;;) {
		if (send(fd, wire, len, 0) != (ssize_t)len) {
			snprintf(err, errlen, "UDP send: %s", strerror(errno));
			close(fd);
			return sent_before || *sends ? XCHG_ERROR : XCHG_NOT_SENT;
		}
		(*sends)++;
		next = mono_ms() + interval;
		if (next > deadline)
			next = deadline;
		interval *= 2;
		for (;;) {
			if (fd_wait(fd, POLLIN, next) != 1)
				break;
			n = recv(fd, reply, *replylen, 0);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n == -1) {
				int nolistener = errno == ECONNREFUSED;

				snprintf(err, errlen, "UDP: %s%s", strerror(errno),
				    nolistener ? " (nothing listens there)" : "");
				close(fd);
				return nolistener && *sends == 1 && !sent_before ?
				    XCHG_NOT_SENT : XCHG_ERROR;
			}
			if (n >= 12 && reply[0] == wire[0] && reply[1] == wire[1]) {
				close(fd);
				*replylen = (size_t)n;
				return XCHG_OK;
			}
		}
		if (mono_ms() >= deadline) {
			close(fd);
			return XCHG_TIMEOUT;
		}
	}
}

enum dnsclient_result
dnsclient_send_update(const struct sockaddr_storage *server, socklen_t server_len,
    const char *zone, const struct conf_tsig_key *key,
    const struct dnsclient_change *changes, size_t n_changes, int timeout_ms,
    struct dnsclient_update_info *info, char *err, size_t errlen)
{
	enum dnsclient_result	 res = DNSCLIENT_ERROR;
	ldns_rr_list		*pr = NULL, *up = NULL;
	ldns_pkt		*q = NULL, *r = NULL;
	ldns_rdf		*zname;
	ldns_rr			*rr;
	ldns_status		 st;
	struct tsig_state	 ts;
	uint8_t			*body = NULL, *wire = NULL, *reply = NULL, udpbuf[65535];
	size_t			 blen, wlen, rlen = 0, i;
	ssize_t			 slen;
	long long		 deadline = mono_ms() + timeout_ms;
	char			 where[128], e[512] = "", e2[256] = "", how[160] = "";
	enum exchange		 rc;
	enum tsig_verdict	 tv = TSIG_NONE;
	int			 rcd, signed_req = key != NULL && key->name[0] != '\0';

	memset(info, 0, sizeof(*info));
	info->rcode = -1;
	addr_text(server, where, sizeof(where));
	pr = ldns_rr_list_new();
	up = ldns_rr_list_new();
	if (pr == NULL || up == NULL) {
		snprintf(err, errlen, "update %s: out of memory (not sent)", where);
		res = DNSCLIENT_UNREACHABLE;
		goto out;
	}
	for (i = 0; i < n_changes; i++) {
		rr = change_rr(&changes[i], e, sizeof(e));
		if (rr == NULL) {
			snprintf(err, errlen, "update %s: %s (not sent)", where, e);
			goto out;
		}
		ldns_rr_list_push_rr(is_prereq(changes[i].op) ? pr : up, rr);
	}
	zname = ldns_dname_new_frm_str(zone);
	if (zname == NULL) {
		snprintf(err, errlen, "update %s: bad zone '%s' (not sent)", where, zone);
		goto out;
	}
	q = ldns_update_pkt_new(zname, LDNS_RR_CLASS_IN, pr, up, NULL);
	if (q == NULL) {
		ldns_rdf_deep_free(zname);
		snprintf(err, errlen, "update %s: cannot build the message (not sent)", where);
		res = DNSCLIENT_UNREACHABLE;
		goto out;
	}
	ldns_pkt_set_rd(q, false);
	ldns_pkt_set_random_id(q);
	st = ldns_pkt2wire(&body, q, &blen);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "update %s: %s (not sent)", where,
		    ldns_get_errorstr_by_id(st));
		goto out;
	}
	wire = malloc(blen + 1024);
	if (wire == NULL) {
		snprintf(err, errlen, "update %s: out of memory (not sent)", where);
		res = DNSCLIENT_UNREACHABLE;
		goto out;
	}
	memcpy(wire, body, blen);
	wlen = blen;
	if (signed_req) {
		slen = tsig_sign_request(wire, blen, blen + 1024, key, (uint64_t)time(NULL), &ts);
		if (slen < 0) {
			snprintf(err, errlen, "update %s: cannot sign with key %s (%s): unknown "
			    "algorithm or a secret that is not base64 (not sent)", where,
			    key->name, key->algorithm);
			res = DNSCLIENT_UNREACHABLE;
			goto out;
		}
		wlen = (size_t)slen;
	}
	rc = tcp_exchange(server, server_len, wire, wlen, deadline, &reply, &rlen,
	    e, sizeof(e));
	if (rc == XCHG_NOT_SENT || rc == XCHG_CLOSED) {
		/* RFC 2136 allows UDP: same message, retried while unanswered. */
		int sent_before = rc == XCHG_CLOSED;

		info->udp = 1;
		rlen = sizeof(udpbuf);
		rc = udp_update_exchange(server, server_len, wire, wlen, deadline, timeout_ms,
		    sent_before, udpbuf, &rlen, &info->sends, e2, sizeof(e2));
		info->retry_answered = rc == XCHG_OK && (sent_before || info->sends > 1);
		snprintf(how, sizeof(how), " (TCP: %.100s; then over UDP, %d cop%s sent)", e,
		    info->sends, info->sends == 1 ? "y" : "ies");
		snprintf(e, sizeof(e), "%s", e2);
		if (rc == XCHG_OK) {
			free(reply);
			reply = malloc(rlen);
			if (reply == NULL) {
				snprintf(err, errlen, "update %s: out of memory", where);
				goto out;
			}
			memcpy(reply, udpbuf, rlen);
		}
	} else
		info->sends = rc == XCHG_OK || rc == XCHG_TIMEOUT ? 1 : 0;
	if (rc == XCHG_TIMEOUT) {
		snprintf(err, errlen, "DNS server %s did not answer the UPDATE of %s "
		    "within %d ms%s", where, zone, timeout_ms, how);
		res = DNSCLIENT_TIMEOUT;
		goto out;
	}
	if (rc != XCHG_OK) {
		snprintf(err, errlen, "DNS server %s: UPDATE of %s: %s%s%s", where, zone, e,
		    how, rc == XCHG_NOT_SENT ? " (not sent)" : "");
		res = rc == XCHG_NOT_SENT ? DNSCLIENT_UNREACHABLE : DNSCLIENT_ERROR;
		goto out;
	}
	r = reply_parse(wire, reply, rlen, where, err, errlen);
	if (r == NULL)
		goto out;
	rcd = ldns_pkt_get_rcode(r);
	info->rcode = rcd;
	if (signed_req) {
		tv = tsig_verify_reply(reply, rlen, key, &ts, (uint64_t)time(NULL),
		    &info->tsig_error);
		if (tv != TSIG_OK) {
			/* Anyone on the path could have sent it: say what it says,
			 * but its word is not the server's. */
			info->untrusted = 1;
			snprintf(err, errlen, "DNS server %s answered the UPDATE of %s with "
			    "%s%s%s%s, %s: the reply cannot be trusted", where, zone,
			    rcode_str(rcd), info->tsig_error ? " (TSIG error " : "",
			    info->tsig_error ? tsig_error_str(info->tsig_error) : "",
			    info->tsig_error ? ")" : "",
			    tv == TSIG_NONE ? "unsigned" : tv == TSIG_BADSIG ?
			    "its TSIG does not verify (wrong key, or unsigned)" :
			    tv == TSIG_BADKEY ? "signed with another key or algorithm" :
			    tv == TSIG_BADTIME ? "signed at a time outside the fudge" :
			    tv == TSIG_BADTRUNC ? "with a truncated TSIG" : "with a malformed TSIG");
			res = DNSCLIENT_ERROR;
			goto out;
		}
	}
	res = rcode_result(rcd);
	if (res == DNSCLIENT_PREREQ)
		snprintf(err, errlen, "DNS server %s: prerequisite failed (%s): the "
		    "record changed since it was read%s", where, rcode_str(rcd),
		    info->retry_answered ? ", or an earlier copy of this UPDATE was "
		    "applied" : "");
	else if (res == DNSCLIENT_NOTAUTH)
		snprintf(err, errlen, "DNS server %s refused the UPDATE of %s: NOTAUTH "
		    "(%s) with key %s", where, zone, tsig_error_str(info->tsig_error),
		    signed_req ? key->name : "(none)");
	else if (res != DNSCLIENT_OK)
		snprintf(err, errlen, "DNS server %s refused the UPDATE of %s: %s",
		    where, zone, rcode_str(rcd));
out:
	ldns_rr_list_deep_free(pr);
	ldns_rr_list_deep_free(up);
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	free(body);
	free(wire);
	free(reply);
	return res;
}

enum dnsclient_result
dnsclient_update(const struct sockaddr_storage *server, socklen_t server_len,
    const char *zone, const struct conf_tsig_key *key,
    const struct dnsclient_change *changes, size_t n_changes, int timeout_ms,
    int *rcode, char *err, size_t errlen)
{
	struct dnsclient_update_info	info;
	enum dnsclient_result		res;

	res = dnsclient_send_update(server, server_len, zone, key, changes, n_changes,
	    timeout_ms, &info, err, errlen);
	if (rcode != NULL)
		*rcode = info.rcode;
	return res;
}

enum dnsclient_result
dnsclient_readback(const struct sockaddr_storage *server, socklen_t server_len,
    const char *zone, const char *owner, const char *txt_owner, int timeout_ms,
    struct dnsclient_readback *rb, char *err, size_t errlen)
{
	enum dnsclient_result (*ask)(const struct sockaddr_storage *, socklen_t,
	    const char *, int, int, struct dnsclient_rrset *, char *, size_t);
	struct dnsclient_rrset	*soa;
	enum dnsclient_result	 res;

	memset(rb, 0, sizeof(*rb));
	ask = dnsclient_query_tcp;
	res = ask(server, server_len, owner, DNSCLIENT_TYPE_A, timeout_ms, &rb->a,
	    err, errlen);
	if (res == DNSCLIENT_UNREACHABLE) {
		/* No TCP there (the UPDATE went over UDP): UDP is what there is. */
		rb->udp = 1;
		ask = dnsclient_query;
		res = ask(server, server_len, owner, DNSCLIENT_TYPE_A, timeout_ms, &rb->a,
		    err, errlen);
	}
	if (res == DNSCLIENT_OK)
		res = ask(server, server_len, owner, DNSCLIENT_TYPE_AAAA, timeout_ms,
		    &rb->aaaa, err, errlen);
	if (res == DNSCLIENT_OK && txt_owner != NULL)
		res = ask(server, server_len, txt_owner, DNSCLIENT_TYPE_TXT, timeout_ms,
		    &rb->txt, err, errlen);
	if (res != DNSCLIENT_OK)
		return res;
	soa = malloc(sizeof(*soa));
	if (soa == NULL) {
		snprintf(err, errlen, "out of memory");
		return DNSCLIENT_ERROR;
	}
	res = ask(server, server_len, zone, DNSCLIENT_TYPE_SOA, timeout_ms, soa, err, errlen);
	if (res == DNSCLIENT_OK && soa->n == 0) {
		char where[128];

		addr_text(server, where, sizeof(where));
		snprintf(err, errlen, "DNS server %s has no SOA for %s", where, zone);
		res = DNSCLIENT_RCODE;
	}
	if (res == DNSCLIENT_OK)
		rb->serial = (uint32_t)strtoul(soa->value[0], NULL, 10);
	free(soa);
	return res;
}
