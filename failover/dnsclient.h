/*
 * dnsclient.h - the DNS client of the failover side: queries of the served
 * record, the TXT state and the SOA serial, and RFC 2136 UPDATEs signed
 * with TSIG (RFC 8945), with prerequisites, sent to dnsd or to any primary
 * that speaks the protocol (BIND, Knot, PowerDNS).
 *
 * Every call has a timeout and fills an err buffer that names the server.
 * Nothing here prints or exits. An UPDATE goes over TCP, and over UDP
 * when TCP is refused or closed; its TSIG (and its reply's) is dnsd/tsig.c's.
 */
#ifndef REDISFO_FAILOVER_DNSCLIENT_H
#define REDISFO_FAILOVER_DNSCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conf_tsig_key;

#define DNSCLIENT_RR_MAX	16
#define DNSCLIENT_VALUE_MAX	512

/* RR types the client asks for (the wire values). */
#define DNSCLIENT_TYPE_A	1
#define DNSCLIENT_TYPE_SOA	6
#define DNSCLIENT_TYPE_TXT	16
#define DNSCLIENT_TYPE_AAAA	28
#define DNSCLIENT_TYPE_SRV	33

enum dnsclient_result {
	DNSCLIENT_OK = 0,
	DNSCLIENT_TIMEOUT,	/* no answer in time: the outcome is unknown */
	DNSCLIENT_UNREACHABLE,	/* nothing reached the server: no connection,
				   no listener, or the message could not be
				   built or signed */
	DNSCLIENT_REFUSED,	/* REFUSED (or NOTIMP, NOTZONE): nothing changed */
	DNSCLIENT_NOTAUTH,	/* NOTAUTH: key not accepted; err has the TSIG error */
	DNSCLIENT_PREREQ,	/* YXDOMAIN, YXRRSET, NXRRSET, NXDOMAIN on UPDATE */
	DNSCLIENT_RCODE,	/* any other error rcode */
	DNSCLIENT_ERROR,	/* transport error, or a reply that fails its
				   checks (unsigned, bad TSIG): the outcome is
				   unknown (struct dnsclient_update_info says
				   what such a reply said) */
};

/* What a query found. NXDOMAIN and NODATA are DNSCLIENT_OK with n == 0. */
struct dnsclient_rrset {
	int		rcode;		/* of the reply */
	uint32_t	ttl;		/* of the first matching RR */
	size_t		n;
	/* A/AAAA: the address text; TXT: the rdata in presentation form,
	 * each string quoted and escaped ("\"a b\" \"c\""), "" when too
	 * long; SOA: the serial in decimal. */
	char		value[DNSCLIENT_RR_MAX][DNSCLIENT_VALUE_MAX];
};

/* One line of an UPDATE (RFC 2136 sections 2.4 and 2.5). */
enum dnsclient_op {
	DNSCLIENT_PREREQ_VALUE,		/* RR is in the RRset (list every RR: the
					   RRset must equal the listed ones) */
	DNSCLIENT_PREREQ_EXISTS,	/* RRset exists, any value */
	DNSCLIENT_PREREQ_ABSENT,	/* RRset does not exist */
	DNSCLIENT_PREREQ_NAME_ABSENT,	/* name is not in use: no RRset of any
					   type (type is not looked at) */
	DNSCLIENT_DELETE_RRSET,		/* delete the RRset */
	DNSCLIENT_DELETE_RR,		/* delete one RR */
	DNSCLIENT_ADD,			/* add one RR */
};

struct dnsclient_change {
	enum dnsclient_op	 op;
	const char		*owner;		/* absolute name */
	int			 type;		/* DNSCLIENT_TYPE_* */
	uint32_t		 ttl;		/* DNSCLIENT_ADD only */
	const char		*rdata;		/* presentation form; NULL when none */
};

/*
 * Ask server for name/type (UDP, TCP when truncated). Fills out and
 * returns DNSCLIENT_OK when the server answered NOERROR or NXDOMAIN;
 * otherwise another result and err.
 */
enum dnsclient_result	dnsclient_query(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *name, int type,
			    int timeout_ms, struct dnsclient_rrset *out,
			    char *err, size_t errlen);

/* The same over TCP only (a read-back that must not trust UDP). */
enum dnsclient_result	dnsclient_query_tcp(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *name, int type,
			    int timeout_ms, struct dnsclient_rrset *out,
			    char *err, size_t errlen);

/* The zone's SOA serial into *serial. */
enum dnsclient_result	dnsclient_serial(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *zone, int timeout_ms,
			    uint32_t *serial, char *err, size_t errlen);

/* How an UPDATE went, beyond its result. */
struct dnsclient_update_info {
	int	rcode;		/* of the reply; -1 when none came */
	int	udp;		/* TCP was refused or closed: it went over UDP */
	int	sends;		/* copies sent (a UDP copy is sent again, same ID
				   and signature, while no answer comes) */
	int	retry_answered;	/* the reply may answer a copy sent after another
				   that reached the server: a failed prerequisite
				   may mean that the earlier copy was applied */
	int	untrusted;	/* a reply came, but it is unsigned or its TSIG
				   does not verify: DNSCLIENT_ERROR, and rcode is
				   what it claims */
	int	tsig_error;	/* the TSIG error in the reply (0: none) */
};

/*
 * Send one UPDATE for zone made of changes (prerequisites and updates in
 * any order; none but prerequisites is a check that changes nothing),
 * signed with key when key->name is not empty, over TCP, or over UDP when
 * TCP is refused or closed. The reply's TSIG is verified. Returns
 * DNSCLIENT_OK when the server applied it; info says how it went.
 */
enum dnsclient_result	dnsclient_send_update(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *zone,
			    const struct conf_tsig_key *key,
			    const struct dnsclient_change *changes, size_t n_changes,
			    int timeout_ms, struct dnsclient_update_info *info,
			    char *err, size_t errlen);

/* dnsclient_send_update with only the rcode (when not NULL; -1: none). */
enum dnsclient_result	dnsclient_update(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *zone,
			    const struct conf_tsig_key *key,
			    const struct dnsclient_change *changes, size_t n_changes,
			    int timeout_ms, int *rcode, char *err, size_t errlen);

/* What a read-back after an UPDATE found. */
struct dnsclient_readback {
	struct dnsclient_rrset	a, aaaa, txt;
	uint32_t		serial;
	int			udp;	/* TCP was refused: read over UDP */
};

/*
 * Read owner's A and AAAA, txt_owner's TXT (when not NULL) and the zone's
 * serial over TCP from server (over UDP only when TCP is refused there).
 */
enum dnsclient_result	dnsclient_readback(const struct sockaddr_storage *server,
			    socklen_t server_len, const char *zone, const char *owner,
			    const char *txt_owner, int timeout_ms,
			    struct dnsclient_readback *rb, char *err, size_t errlen);

const char	*dnsclient_result_str(enum dnsclient_result r);

#endif
