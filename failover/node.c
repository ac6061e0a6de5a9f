/*
 * node.c - Redis nodes over hiredis: connect, AUTH, probe, and the commands
 * of a switch (pause, unpause, replicaof, config rewrite, client kill).
 *
 * Every call has a connect timeout and a command timeout; every reply is
 * checked for NULL, c->err and its type, and freed. A context that failed
 * (timeout, reset), or that the server closed while it sat idle, is thrown
 * away and reopened before the next command, so a rollback after a hiccup
 * still gets its chance and a long confirmation costs nothing. This file
 * never decides anything: the switch does; it never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/node.h"

struct node_conn {
	const struct conf_service	*svc;
	const struct conf_node		*node;
	int				 timeout_ms;
	redisContext			*c;
	int				 answered;	/* a reply came back */
	int				 refused;	/* the last reply was an error */
};


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
	    conn->c && conn->c->err ? conn->c->errstr : "no connection");
}

/* Open (or reopen) the context, with timeouts and AUTH. */
static int
conn_open(struct node_conn *conn, char *err, size_t errlen)
{
	struct timeval	 tv = { conn->timeout_ms / 1000, (conn->timeout_ms % 1000) * 1000 };
	redisReply	*r;
	const char	*user = conn->svc->user, *pass = conn->svc->password;

	if (conn->c != NULL)
		redisFree(conn->c);
	conn->c = redisConnectWithTimeout(conn->node->host, conn->node->port, tv);
	if (conn->c == NULL) {
		snprintf(err, errlen, "%s (%s:%d): cannot allocate a connection",
		    conn->node->name, conn->node->host, conn->node->port);
		return -1;
	}
	if (conn->c->err) {
		ctx_error(conn, "connect", err, errlen);
		goto fail;
	}
	/* hiredis opens it without close-on-exec: a hook must not inherit
	 * a connection to a node (and keep it open after the switch). */
	if (fcntl(conn->c->fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s (%s:%d): close-on-exec: %s", conn->node->name,
		    conn->node->host, conn->node->port, strerror(errno));
		goto fail;
	}
	if (redisSetTimeout(conn->c, tv) != REDIS_OK) {
		ctx_error(conn, "set timeout", err, errlen);
		goto fail;
	}
	if (pass[0] == '\0')
		return 0;
	if (user[0] != '\0')
		r = redisCommand(conn->c, "AUTH %s %s", user, pass);
	else
		r = redisCommand(conn->c, "AUTH %s", pass);
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
	redisFree(conn->c);
	conn->c = NULL;
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
	if (conn->c != NULL)
		redisFree(conn->c);
	free(conn);
}

/*
 * Did the server close an idle connection (its `timeout`, a restart, a
 * CLIENT KILL)? Nothing may be readable before a command was sent: a
 * readable or hung-up socket is one to reopen, not to send on.
 */
static int
conn_stale(const struct node_conn *conn)
{
	struct pollfd pfd = { .fd = conn->c->fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) != 0;
}

/*
 * Run one command (argv form) and return its reply, or NULL with err. A
 * broken or server-closed context is reopened first. An error reply is
 * returned as is.
 */
static redisReply *
conn_command(struct node_conn *conn, char *err, size_t errlen, int argc,
    const char **argv)
{
	redisReply	*r;
	char		 what[128];

	conn->refused = 0;
	if ((conn->c == NULL || conn->c->err || conn_stale(conn)) &&
	    conn_open(conn, err, errlen) == -1)
		return NULL;
	r = redisCommandArgv(conn->c, argc, argv, NULL);
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
