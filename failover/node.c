/*
 * node.c - Redis nodes: connect (plain TCP or TLS), AUTH, probe, and the
 * commands of a switch (pause, unpause, replicaof, config rewrite, client
 * kill).
 *
 * hiredis is the RESP library: redisFormatCommandArgv builds each command
 * and a redisReader parses each reply; the bytes go over this file's own
 * socket, plain or wrapped by tls.c, so both transports share one
 * connect, one deadline per command and one set of error messages. A
 * node's host may be a name: it is resolved at each connect (A and AAAA,
 * within the connect timeout) and, when no address is configured, the
 * addresses it resolved to become the ones the switch serves.
 *
 * Every call has a connect timeout and a command timeout; every reply is
 * checked for NULL and its type, and freed. A connection that failed
 * (timeout, reset), or that the server closed while it sat idle, is thrown
 * away and reopened before the next command, so a rollback after a hiccup
 * still gets its chance and a long confirmation costs nothing. This file
 * never decides anything: the switch does; it never prints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/node.h"
#include "failover/tls.h"

struct node_conn {
	const struct conf_service	*svc;
	const struct conf_node		*node;
	int				 timeout_ms;
	int				 fd;		/* -1: closed */
	SSL				*ssl;		/* NULL: plain TCP */
	redisReader			*reader;
	int				 broken;	/* an I/O error: reopen */
	char				 errstr[384];	/* why, for ctx_error */
	int				 answered;	/* a reply came back */
	int				 refused;	/* the last reply was an error */
};

/* Guards the resolved addresses written into a node's conf (probes of
 * different nodes run in threads; the switch reads them afterwards). */
static pthread_mutex_t	node_addr_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
node_role_str(enum node_role role)
{
	switch (role) {
	case NODE_ROLE_MASTER:	return "master";
	case NODE_ROLE_REPLICA:	return "replica";
	case NODE_ROLE_UNKNOWN:	break;
	}
	return "unknown";
}

int
node_last_refused(const struct node_conn *conn)
{
	return conn->refused;
}

static void
ctx_error(struct node_conn *conn, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s (%s:%d): %s: %s", conn->node->name,
	    conn->node->host, conn->node->port, what,
	    conn->errstr[0] ? conn->errstr : "no connection");
}

static void
conn_drop(struct node_conn *conn)
{
	if (conn->ssl != NULL) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	if (conn->fd != -1) {
		close(conn->fd);
		conn->fd = -1;
	}
	if (conn->reader != NULL) {
		redisReaderFree(conn->reader);
		conn->reader = NULL;
	}
	conn->broken = 0;
}

/*
 * The node's host as addresses, within the deadline: an IP literal at
 * once, a name through getaddrinfo_a so a slow resolver costs no more than
 * the connect timeout. A request still running at the deadline is left to
 * finish in the background (its memory with it: a command is short-lived).
 */
static struct addrinfo *
node_resolve(struct node_conn *conn, int64_t deadline_ms)
{
	struct req {
		struct gaicb	cb;
		struct addrinfo	hints;
		char		port[8];
	}			*q;
	struct gaicb		*list[1];
	struct addrinfo		 hints, *res = NULL;
	struct conf_ip		 ip;
	struct timespec		 ts;
	int64_t			 left;
	char			 port[8];
	int			 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", conn->node->port);
	if (conf_ip_parse(conn->node->host, &ip) == 0) {
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		if ((rc = getaddrinfo(ip.text, port, &hints, &res)) != 0) {
			snprintf(conn->errstr, sizeof(conn->errstr), "%s",
			    gai_strerror(rc));
			return NULL;
		}
		return res;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(conn->errstr, sizeof(conn->errstr), "out of memory");
		return NULL;
	}
	q->hints = hints;
	q->hints.ai_flags = AI_NUMERICSERV;
	memcpy(q->port, port, sizeof(port));
	q->cb.ar_name = conn->node->host;	/* the config outlives the request */
	q->cb.ar_service = q->port;
	q->cb.ar_request = &q->hints;
	list[0] = &q->cb;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
		snprintf(conn->errstr, sizeof(conn->errstr), "cannot resolve %s: %s",
		    conn->node->host, gai_strerror(rc));
		free(q);
		return NULL;
	}
	while ((rc = gai_error(&q->cb)) == EAI_INPROGRESS) {
		left = deadline_ms - mono_ms();
		if (left <= 0)
			break;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		gai_suspend((const struct gaicb *const *)list, 1, &ts);
	}
	if (rc == EAI_INPROGRESS) {
		snprintf(conn->errstr, sizeof(conn->errstr), "cannot resolve %s: "
		    "no answer in %d ms", conn->node->host, conn->timeout_ms);
		if (gai_cancel(&q->cb) == EAI_CANCELED)
			free(q);
		return NULL;
	}
	if (rc != 0 || q->cb.ar_result == NULL) {
		snprintf(conn->errstr, sizeof(conn->errstr), "cannot resolve %s: %s",
		    conn->node->host, rc != 0 ? gai_strerror(rc) : "no address");
		free(q);
		return NULL;
	}
	res = q->cb.ar_result;
	free(q);
	return res;
}

/*
 * A node named by host name with no address configured serves what the
 * name resolved to: IPv4 first, then IPv6, each once, at most
 * CONF_ADDR_MAX. The conf is const to everyone else; this is the one
 * field node.c owns (conf.h says so).
 */
static void
node_addresses_set(const struct conf_node *cnode, const struct addrinfo *res)
{
	struct conf_node	*node = (struct conf_node *)(uintptr_t)cnode;
	struct conf_ip		 ips[CONF_ADDR_MAX];
	const struct addrinfo	*ai;
	char			 text[INET6_ADDRSTRLEN];
	const void		*a;
	size_t			 n = 0, i;
	int			 pass, fam, dup;

	if (!node->address_from_host)
		return;
	for (pass = 0; pass < 2; pass++) {
		fam = pass == 0 ? AF_INET : AF_INET6;
		for (ai = res; ai != NULL && n < CONF_ADDR_MAX; ai = ai->ai_next) {
			if (ai->ai_family != fam)
				continue;
			a = fam == AF_INET ?
			    (const void *)&((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr :
			    (const void *)&((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
			if (inet_ntop(fam, a, text, sizeof(text)) == NULL ||
			    conf_ip_parse(text, &ips[n]) == -1)
				continue;
			for (dup = 0, i = 0; i < n && !dup; i++)
				dup = strcmp(ips[i].text, ips[n].text) == 0;
			if (!dup)
				n++;
		}
	}
	if (n == 0)
		return;
	pthread_mutex_lock(&node_addr_lock);
	memcpy(node->address, ips, n * sizeof(ips[0]));
	node->n_address = n;
	pthread_mutex_unlock(&node_addr_lock);
}

/* Non-blocking connect to one address by the deadline: the socket, or -1
 * with errstr. */
static int
conn_tcp(struct node_conn *conn, const struct addrinfo *ai, int64_t deadline_ms)
{
	socklen_t	len = sizeof(int);
	int		fd, e = 0, one = 1, w;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1) {
		snprintf(conn->errstr, sizeof(conn->errstr), "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto fail;
		}
		w = fd_wait(fd, POLLOUT, deadline_ms);
		if (w <= 0) {
			e = w == 0 ? ETIMEDOUT : errno;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			e = errno;
		if (e != 0)
			goto fail;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	snprintf(conn->errstr, sizeof(conn->errstr), "%s", strerror(e));
	close(fd);
	return -1;
}

/* Send all of buf by the deadline; -1 with errstr, the connection broken. */
static int
conn_write(struct node_conn *conn, const char *buf, size_t len, int64_t deadline_ms)
{
	ssize_t	n;
	int	e, w;

	while (len > 0) {
		if (conn->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(conn->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (n > 0)
				goto wrote;
			e = SSL_get_error(conn->ssl, (int)n);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				snprintf(conn->errstr, sizeof(conn->errstr), "TLS: %s",
				    e == SSL_ERROR_SYSCALL && errno ? strerror(errno) :
				    tls_error_reason("the connection failed"));
				goto broken;
			}
			w = fd_wait(conn->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline_ms);
		} else {
			n = send(conn->fd, buf, len, MSG_NOSIGNAL);
			if (n > 0)
				goto wrote;
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				snprintf(conn->errstr, sizeof(conn->errstr), "%s",
				    strerror(errno));
				goto broken;
			}
			w = fd_wait(conn->fd, POLLOUT, deadline_ms);
		}
		if (w <= 0) {
			snprintf(conn->errstr, sizeof(conn->errstr), "%s", w == 0 ?
			    "timed out" : strerror(errno));
			goto broken;
		}
		continue;
wrote:
		buf += n;
		len -= (size_t)n;
	}
	return 0;
broken:
	conn->broken = 1;
	return -1;
}

/* Read what is there (waiting until the deadline) into the reader. */
static int
conn_read(struct node_conn *conn, int64_t deadline_ms)
{
	char	buf[16384];
	ssize_t	n;
	int	e, w;

	for (;;) {
		if (conn->ssl != NULL) {
			ERR_clear_error();
			n = SSL_read(conn->ssl, buf, sizeof(buf));
			if (n > 0)
				break;
			e = SSL_get_error(conn->ssl, (int)n);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && errno == 0)) {
				snprintf(conn->errstr, sizeof(conn->errstr),
				    "connection closed by the node");
				goto broken;
			}
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				snprintf(conn->errstr, sizeof(conn->errstr), "TLS: %s",
				    e == SSL_ERROR_SYSCALL ? strerror(errno) :
				    tls_error_reason("the connection failed"));
				goto broken;
			}
			w = fd_wait(conn->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline_ms);
		} else {
			n = recv(conn->fd, buf, sizeof(buf), 0);
			if (n > 0)
				break;
			if (n == 0) {
				snprintf(conn->errstr, sizeof(conn->errstr),
				    "connection closed by the node");
				goto broken;
			}
			if (errno != EAGAIN && errno != EINTR) {
				snprintf(conn->errstr, sizeof(conn->errstr), "%s",
				    strerror(errno));
				goto broken;
			}
			w = fd_wait(conn->fd, POLLIN, deadline_ms);
		}
		if (w <= 0) {
			snprintf(conn->errstr, sizeof(conn->errstr), "%s", w == 0 ?
			    "no reply in time" : strerror(errno));
			goto broken;
		}
	}
	if (redisReaderFeed(conn->reader, buf, (size_t)n) != REDIS_OK) {
		snprintf(conn->errstr, sizeof(conn->errstr), "%s", conn->reader->errstr);
		goto broken;
	}
	return 0;
broken:
	conn->broken = 1;
	return -1;
}

/*
 * One command and its reply, within the command timeout: the reply (an
 * error reply as is), or NULL with errstr and the connection broken.
 */
static redisReply *
conn_roundtrip(struct node_conn *conn, int argc, const char **argv)
{
	int64_t	 deadline = mono_ms() + conn->timeout_ms;
	char	*cmd;
	void	*reply = NULL;
	int	 len;

	len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
	if (len < 0) {
		snprintf(conn->errstr, sizeof(conn->errstr), "out of memory");
		return NULL;
	}
	if (conn_write(conn, cmd, (size_t)len, deadline) == -1) {
		redisFreeCommand(cmd);
		return NULL;
	}
	redisFreeCommand(cmd);
	for (;;) {
		if (redisReaderGetReply(conn->reader, &reply) != REDIS_OK) {
			snprintf(conn->errstr, sizeof(conn->errstr), "%s",
			    conn->reader->errstr);
			conn->broken = 1;
			return NULL;
		}
		if (reply != NULL)
			return reply;
		if (conn_read(conn, deadline) == -1)
			return NULL;
	}
}

/* Open (or reopen) the connection: resolve, connect, TLS, AUTH. */
static int
conn_open(struct node_conn *conn, char *err, size_t errlen)
{
	struct addrinfo	*res, *ai;
	redisReply	*r;
	const char	*user = conn->svc->user, *pass = conn->svc->password;
	const char	*auth[3] = { "AUTH", NULL, NULL };
	int64_t		 deadline = mono_ms() + conn->timeout_ms;

	conn_drop(conn);
	conn->errstr[0] = '\0';
	if ((res = node_resolve(conn, deadline)) == NULL) {
		ctx_error(conn, "connect", err, errlen);
		return -1;
	}
	node_addresses_set(conn->node, res);
	for (ai = res; ai != NULL && conn->fd == -1 && mono_ms() < deadline;
	    ai = ai->ai_next)
		conn->fd = conn_tcp(conn, ai, deadline);
	freeaddrinfo(res);
	if (conn->fd == -1) {
		if (conn->errstr[0] == '\0')
			snprintf(conn->errstr, sizeof(conn->errstr), "%s", strerror(ETIMEDOUT));
		ctx_error(conn, "connect", err, errlen);
		return -1;
	}
	if (conn->svc->tls.enabled &&
	    (conn->ssl = tls_connect(conn->svc, conn->node, conn->fd, deadline,
	    conn->errstr, sizeof(conn->errstr))) == NULL) {
		snprintf(err, errlen, "%s (%s:%d): %s", conn->node->name,
		    conn->node->host, conn->node->port, conn->errstr);
		goto fail;
	}
	if ((conn->reader = redisReaderCreate()) == NULL) {
		snprintf(err, errlen, "%s (%s:%d): out of memory", conn->node->name,
		    conn->node->host, conn->node->port);
		goto fail;
	}
	if (pass[0] == '\0')
		return 0;
	auth[1] = user[0] != '\0' ? user : pass;
	auth[2] = user[0] != '\0' ? pass : NULL;
	r = conn_roundtrip(conn, user[0] != '\0' ? 3 : 2, auth);
	if (r == NULL) {
		ctx_error(conn, "AUTH", err, errlen);
		goto fail;
	}
	conn->answered = 1;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s (%s:%d): AUTH: %s", conn->node->name,
		    conn->node->host, conn->node->port, r->str);
		freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	return 0;
fail:
	conn_drop(conn);
	return -1;
}

/* A closed connection to node; NULL and err when out of memory. */
static struct node_conn *
conn_new(const struct conf_service *svc, const struct conf_node *node,
    int timeout_ms, char *err, size_t errlen)
{
	struct node_conn *conn;

	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		snprintf(err, errlen, "%s: out of memory", node->name);
		return NULL;
	}
	conn->svc = svc;
	conn->node = node;
	conn->timeout_ms = timeout_ms;
	conn->fd = -1;
	return conn;
}

struct node_conn *
node_connect(const struct conf_service *svc, const struct conf_node *node,
    int timeout_ms, char *err, size_t errlen)
{
	struct node_conn *conn;

	conn = conn_new(svc, node, timeout_ms, err, errlen);
	if (conn == NULL)
		return NULL;
	if (conn_open(conn, err, errlen) == -1) {
		free(conn);
		return NULL;
	}
	return conn;
}

void
node_close(struct node_conn *conn)
{
	if (conn == NULL)
		return;
	conn_drop(conn);
	free(conn);
}

/*
 * Did the server close an idle connection (its `timeout`, a restart, a
 * CLIENT KILL)? Nothing may be readable before a command was sent: a
 * readable or hung-up socket is one to reopen, not to send on. Over TLS
 * the node may have sent records that carry no data (TLS 1.3 session
 * tickets): reading them without getting data or an error means the
 * connection is still good.
 */
static int
conn_stale(struct node_conn *conn)
{
	struct pollfd	pfd = { .fd = conn->fd, .events = POLLIN | POLLRDHUP };
	char		c;
	int		n;

	if (poll(&pfd, 1, 0) == 0)
		return 0;
	if (conn->ssl == NULL || (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return 1;
	ERR_clear_error();
	n = SSL_read(conn->ssl, &c, 1);
	if (n <= 0 && SSL_get_error(conn->ssl, n) == SSL_ERROR_WANT_READ) {
		pfd.revents = 0;
		return poll(&pfd, 1, 0) != 0 || SSL_pending(conn->ssl) > 0;
	}
	ERR_clear_error();
	return 1;
}

/*
 * Run one command (argv form) and return its reply, or NULL with err. A
 * broken or server-closed connection is reopened first. An error reply is
 * returned as is.
 */
static redisReply *
conn_command(struct node_conn *conn, char *err, size_t errlen, int argc,
    const char **argv)
{
	redisReply	*r;
	char		 what[128];

	conn->refused = 0;
	if ((conn->fd == -1 || conn->broken || conn_stale(conn)) &&
	    conn_open(conn, err, errlen) == -1)
		return NULL;
	r = conn_roundtrip(conn, argc, argv);
	if (r != NULL) {
		conn->answered = 1;
		conn->refused = r->type == REDIS_REPLY_ERROR;
	}
	if (r == NULL) {
		snprintf(what, sizeof(what), "%s%s%s", argv[0], argc > 1 ? " " : "",
		    argc > 1 ? argv[1] : "");
		ctx_error(conn, what, err, errlen);
		return NULL;
	}
	return r;
}

/* A command whose reply must be a status (+OK...); 0 or -1. */
static int
conn_status(struct node_conn *conn, char *err, size_t errlen, int argc, const char **argv)
{
	redisReply *r;

	r = conn_command(conn, err, errlen, argc, argv);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STATUS) {
		snprintf(err, errlen, "%s (%s:%d): %s %s: %s", conn->node->name,
		    conn->node->host, conn->node->port, argv[0], argc > 1 ? argv[1] : "",
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

static long long
field_ll(const char *text, const char *key, long long dflt)
{
	const char	*p = text;
	size_t		 kl = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[kl] == ':')
			return strtoll(p + kl + 1, NULL, 10);
		p += kl;
	}
	return dflt;
}

static void
field_str(const char *text, const char *key, char *out, size_t outlen)
{
	const char	*p = text;
	size_t		 kl = strlen(key), l;

	out[0] = '\0';
	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[kl] == ':') {
			p += kl + 1;
			l = strcspn(p, "\r\n");
			if (l >= outlen)
				l = outlen - 1;
			memcpy(out, p, l);
			out[l] = '\0';
			return;
		}
		p += kl;
	}
}

void
node_info_parse(const char *text, struct node_info *info)
{
	char buf[64];

	field_str(text, "role", buf, sizeof(buf));
	if (strcmp(buf, "master") == 0)
		info->role = NODE_ROLE_MASTER;
	else if (strcmp(buf, "slave") == 0)
		info->role = NODE_ROLE_REPLICA;
	else
		info->role = NODE_ROLE_UNKNOWN;
	info->master_offset = field_ll(text, "master_repl_offset", -1);
	info->connected_replicas = (int)field_ll(text, "connected_slaves", 0);
	if (info->role == NODE_ROLE_REPLICA) {
		field_str(text, "master_host", info->master_host, sizeof(info->master_host));
		info->master_port = (int)field_ll(text, "master_port", 0);
		field_str(text, "master_link_status", buf, sizeof(buf));
		info->link_up = strcmp(buf, "up") == 0;
		info->replica_offset = field_ll(text, "slave_repl_offset", -1);
	} else {
		info->master_host[0] = '\0';
		info->master_port = 0;
		info->link_up = 0;
		info->replica_offset = -1;
	}
}

int
node_probe(struct node_conn *conn, struct node_info *info, char *err, size_t errlen)
{
	const char	*info_argv[] = { "INFO", "replication" };
	const char	*role_argv[] = { "ROLE" };
	redisReply	*r;
	long long	 t0 = mono_ms();
	int		 ok = -1;

	info->conf = conn->node;
	info->reachable = 0;
	info->lag_bytes = -1;
	r = conn_command(conn, err, errlen, 2, info_argv);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
		snprintf(err, errlen, "%s: INFO replication: %s", conn->node->name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
		freeReplyObject(r);
		goto out;
	}
	node_info_parse(r->str, info);
	freeReplyObject(r);

	/* ROLE is the authority on the role; INFO gave the details. */
	r = conn_command(conn, err, errlen, 1, role_argv);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		snprintf(err, errlen, "%s: ROLE: %s", conn->node->name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		goto out;
	}
	if (strcmp(r->element[0]->str, "master") == 0)
		info->role = NODE_ROLE_MASTER;
	else if (strcmp(r->element[0]->str, "slave") == 0)
		info->role = NODE_ROLE_REPLICA;
	else
		info->role = NODE_ROLE_UNKNOWN;
	freeReplyObject(r);
	info->reachable = 1;
	info->error[0] = '\0';
	ok = 0;
out:
	info->probe_ms = mono_ms() - t0;
	info->answered = conn->answered;
	if (ok == -1)
		snprintf(info->error, sizeof(info->error), "%s", err);
	return ok;
}

struct probe_job {
	const struct conf_service	*svc;
	const struct conf_node		*node;
	int				 timeout_ms;
	struct node_info		*info;
	pthread_t			 thread;
	int				 started;
};

void
node_probe_one(const struct conf_service *svc, const struct conf_node *node,
    int timeout_ms, struct node_info *info)
{
	struct node_conn	*conn;
	char			 err[256];
	long long		 t0 = mono_ms();

	conn = conn_new(svc, node, timeout_ms, info->error, sizeof(info->error));
	if (conn == NULL)
		return;
	if (conn_open(conn, err, sizeof(err)) == -1) {
		info->reachable = 0;
		info->answered = conn->answered;
		snprintf(info->error, sizeof(info->error), "%s", err);
	} else
		node_probe(conn, info, err, sizeof(err));
	info->probe_ms = mono_ms() - t0;
	node_close(conn);
}

static void *
probe_thread(void *arg)
{
	struct probe_job *job = arg;

	node_probe_one(job->svc, job->node, job->timeout_ms, job->info);
	return NULL;
}

void
node_probe_all(const struct conf_service *svc, int timeout_ms, struct node_info *infos)
{
	struct probe_job	*jobs;
	size_t			 i;

	for (i = 0; i < svc->n_nodes; i++) {
		memset(&infos[i], 0, sizeof(infos[i]));
		infos[i].conf = &svc->nodes[i];
		infos[i].lag_bytes = -1;
		infos[i].replica_offset = -1;
		infos[i].master_offset = -1;
	}
	jobs = calloc(svc->n_nodes, sizeof(*jobs));
	for (i = 0; i < svc->n_nodes; i++) {
		if (jobs == NULL) {
			snprintf(infos[i].error, sizeof(infos[i].error), "out of memory");
			continue;
		}
		jobs[i].svc = svc;
		jobs[i].node = &svc->nodes[i];
		jobs[i].timeout_ms = timeout_ms;
		jobs[i].info = &infos[i];
		if (pthread_create(&jobs[i].thread, NULL, probe_thread, &jobs[i]) == 0)
			jobs[i].started = 1;
		else
			probe_thread(&jobs[i]);	/* no thread: do it here */
	}
	for (i = 0; jobs != NULL && i < svc->n_nodes; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	free(jobs);
}

int
node_replication(struct node_conn *conn, struct node_info *info, char *err, size_t errlen)
{
	const char	*argv[] = { "INFO", "replication" };
	redisReply	*r;

	r = conn_command(conn, err, errlen, 2, argv);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
		snprintf(err, errlen, "%s: INFO replication: %s", conn->node->name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
		freeReplyObject(r);
		return -1;
	}
	memset(info, 0, sizeof(*info));
	info->conf = conn->node;
	info->lag_bytes = -1;
	node_info_parse(r->str, info);
	freeReplyObject(r);
	if (info->role == NODE_ROLE_UNKNOWN) {
		snprintf(err, errlen, "%s: no role in INFO replication", conn->node->name);
		return -1;
	}
	info->reachable = info->answered = 1;
	return 0;
}

int
node_offset(struct node_conn *conn, long long *offset, char *err, size_t errlen)
{
	struct node_info info;

	if (node_replication(conn, &info, err, errlen) == -1)
		return -1;
	*offset = info.role == NODE_ROLE_REPLICA ? info.replica_offset : info.master_offset;
	if (*offset < 0) {
		snprintf(err, errlen, "%s: no replication offset in INFO", conn->node->name);
		return -1;
	}
	return 0;
}

int
node_pause_writes(struct node_conn *conn, int ms, char *err, size_t errlen)
{
	char		 t[32];
	const char	*argv[] = { "CLIENT", "PAUSE", t, "WRITE" };

	snprintf(t, sizeof(t), "%d", ms);
	return conn_status(conn, err, errlen, 4, argv);
}

int
node_unpause(struct node_conn *conn, char *err, size_t errlen)
{
	const char *argv[] = { "CLIENT", "UNPAUSE" };

	return conn_status(conn, err, errlen, 2, argv);
}

int
node_replicaof(struct node_conn *conn, const char *host, int port, char *err, size_t errlen)
{
	char		 p[16];
	const char	*argv[] = { "REPLICAOF", "NO", "ONE" };

	if (host != NULL) {
		snprintf(p, sizeof(p), "%d", port);
		argv[1] = host;
		argv[2] = p;
	}
	return conn_status(conn, err, errlen, 3, argv);
}

int
node_config_rewrite(struct node_conn *conn, char *err, size_t errlen)
{
	const char	*argv[] = { "CONFIG", "REWRITE" };
	redisReply	*r;
	int		 rc = 0;

	r = conn_command(conn, err, errlen, 2, argv);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strcasestr(r->str, "without a config file") != NULL) {
			snprintf(err, errlen, "%s: no config file, CONFIG REWRITE skipped: "
			    "the role will not survive a restart", conn->node->name);
			rc = 1;
		} else {
			snprintf(err, errlen, "%s: CONFIG REWRITE: %s", conn->node->name, r->str);
			rc = -1;
		}
	} else if (r->type != REDIS_REPLY_STATUS) {
		snprintf(err, errlen, "%s: CONFIG REWRITE: unexpected reply type",
		    conn->node->name);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

int
node_kill_clients(struct node_conn *conn, long long *killed, char *err, size_t errlen)
{
	const char	*argv[] = { "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes" };
	redisReply	*r;

	r = conn_command(conn, err, errlen, 6, argv);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "%s: CLIENT KILL: %s", conn->node->name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
		freeReplyObject(r);
		return -1;
	}
	*killed = r->integer;
	freeReplyObject(r);
	return 0;
}

enum node_cmd_check
node_command_check(struct node_conn *conn, int argc, const char *const *argv, char *why,
    size_t whylen)
{
	const char	*info_argv[] = { "COMMAND", "INFO", argv[0] };
	const char	*dry[2 + 3 + 8];
	redisReply	*r;
	const char	*user = conn->svc->user[0] ? conn->svc->user : "default";
	char		 e[256];
	int		 i, n = 0;

	why[0] = '\0';
	/* Renamed (rename-command) or disabled: not in the command table. */
	r = conn_command(conn, why, whylen, 3, info_argv);
	if (r == NULL)
		return NODE_CMD_FAILED;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "COMMAND INFO %s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NODE_CMD_UNCHECKED;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY) {
		snprintf(why, whylen, "%s is renamed or disabled (COMMAND INFO does not "
		    "know it)", argv[0]);
		freeReplyObject(r);
		return NODE_CMD_MISSING;
	}
	freeReplyObject(r);
	/* Allowed to this user (Redis 7: ACL DRYRUN, with the arguments). */
	if (argc > 8)
		argc = 8;
	dry[n++] = "ACL";
	dry[n++] = "DRYRUN";
	dry[n++] = user;
	for (i = 0; i < argc; i++)
		dry[n++] = argv[i];
	r = conn_command(conn, why, whylen, n, dry);
	if (r == NULL)
		return NODE_CMD_FAILED;
	if (r->type == REDIS_REPLY_STATUS) {
		freeReplyObject(r);
		return NODE_CMD_OK;
	}
	if (r->type == REDIS_REPLY_STRING) {
		snprintf(why, whylen, "user %s may not run it: %s", user, r->str);
		freeReplyObject(r);
		return NODE_CMD_DENIED;
	}
	if (r->type == REDIS_REPLY_ERROR && strcasestr(r->str, "unknown subcommand"))
		snprintf(e, sizeof(e), "ACL DRYRUN is not there (Redis before 7)");
	else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0)
		snprintf(e, sizeof(e), "user %s may not run ACL DRYRUN", user);
	else
		snprintf(e, sizeof(e), "ACL DRYRUN: %s", r->type == REDIS_REPLY_ERROR ?
		    r->str : "unexpected reply type");
	snprintf(why, whylen, "%s: permissions not checked", e);
	freeReplyObject(r);
	return NODE_CMD_UNCHECKED;
}
