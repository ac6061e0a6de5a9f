/*
 * node.h - one Redis node as the failover sees it: a connection with
 * connect and command timeouts, a probe (INFO replication + ROLE) parsed
 * into struct node_info, and the few commands a switch sends.
 *
 * Every function returns -1 and fills err (naming the node) on failure;
 * nothing here prints.
 */
#ifndef REDISFO_FAILOVER_NODE_H
#define REDISFO_FAILOVER_NODE_H

#include <stddef.h>

struct conf_service;
struct conf_node;
struct node_conn;

enum node_role { NODE_ROLE_UNKNOWN = 0, NODE_ROLE_MASTER, NODE_ROLE_REPLICA };

struct node_info {
	const struct conf_node	*conf;
	int			 reachable;	/* the probe got its replies */
	int			 answered;	/* the node replied, if only with an
						   error (AUTH refused): it is up */
	char			 error[256];	/* why not, when !reachable */
	enum node_role		 role;
	/* replica side */
	char			 master_host[256];
	int			 master_port;
	int			 link_up;	/* master_link_status:up */
	long long		 replica_offset;	/* slave_repl_offset */
	/* master side (a replica has one too: what it has received) */
	long long		 master_offset;	/* master_repl_offset */
	char			 replid[48];	/* master_replid: the history it is on */
	char			 replid2[48];	/* master_replid2: the one before, "" or 0s */
	long long		 second_offset;	/* second_repl_offset: where replid2
						   ended (its promotion), -1 */
	int			 connected_replicas;
	/* lag behind the served primary in bytes; -1 when unknown */
	long long		 lag_bytes;
	long long		 probe_ms;	/* how long the probe took */
};

/* Open a connection to node of svc (AUTH included); NULL and err on failure. */
struct node_conn	*node_connect(const struct conf_service *svc,
			    const struct conf_node *node, int timeout_ms,
			    char *err, size_t errlen);
void			 node_close(struct node_conn *conn);

/* INFO replication + ROLE into *info (reachable set to 1). */
int	node_probe(struct node_conn *conn, struct node_info *info, char *err, size_t errlen);

/* Connect to node, probe it and close: info filled either way. */
void	node_probe_one(const struct conf_service *svc, const struct conf_node *node,
	    int timeout_ms, struct node_info *info);

/*
 * Connect to and probe every node of svc at once (one thread each), with
 * timeout_ms for the connect and each command. infos has svc->n_nodes
 * entries, in config order; lag_bytes stays -1 (the caller knows which
 * node is the primary).
 */
void	node_probe_all(const struct conf_service *svc, int timeout_ms,
	    struct node_info *infos);

/* INFO replication alone (no ROLE) into *info: one round trip, for the
 * polls of a switch. -1 and err when it fails or names no role. */
int	node_replication(struct node_conn *conn, struct node_info *info, char *err,
	    size_t errlen);
/* Just the offset: master_repl_offset (master) or slave_repl_offset (replica). */
int	node_offset(struct node_conn *conn, long long *offset, char *err, size_t errlen);

int	node_pause_writes(struct node_conn *conn, int ms, char *err, size_t errlen);
int	node_unpause(struct node_conn *conn, char *err, size_t errlen);
/* REPLICAOF host port, or REPLICAOF NO ONE when host is NULL. */
int	node_replicaof(struct node_conn *conn, const char *host, int port,
	    char *err, size_t errlen);
/* CONFIG REWRITE; returns 1 (and a warning in err) when the node has no
 * config file, 0 when rewritten, -1 on error. */
int	node_config_rewrite(struct node_conn *conn, char *err, size_t errlen);
/* CLIENT KILL TYPE normal (not this connection); *killed gets the count. */
int	node_kill_clients(struct node_conn *conn, long long *killed, char *err, size_t errlen);

/* One line of CLIENT LIST, what a sweep needs of it. */
struct node_client {
	long long	id;
	long long	age;		/* seconds since it connected */
	char		flags[32];	/* "N", "S", "M", "O", "P", ... */
};

/*
 * CLIENT LIST TYPE normal: *clients gets a malloc'd array (free() it) of
 * *n entries. -1 and err on failure (nothing to free then).
 */
int	node_client_list(struct node_conn *conn, struct node_client **clients,
	    size_t *n, char *err, size_t errlen);
/* Parse the text of CLIENT LIST into out (at most max lines); returns the
 * number of lines with an id=, which may be more than max (for tests too). */
size_t	node_client_list_parse(const char *text, struct node_client *out, size_t max);
/* CLIENT KILL ID id (never this connection): *killed 1, or 0 when it was gone. */
int	node_kill_client_id(struct node_conn *conn, long long id, int *killed,
	    char *err, size_t errlen);

/* Can the switch run a command on a node? */
enum node_cmd_check {
	NODE_CMD_FAILED = -1,	/* no answer: why says */
	NODE_CMD_OK = 0,	/* there, and allowed to the user */
	NODE_CMD_MISSING,	/* renamed or disabled: COMMAND INFO knows no such name */
	NODE_CMD_DENIED,	/* ACL DRYRUN: the user may not run it */
	NODE_CMD_UNCHECKED,	/* there, but the node cannot say whether it is
				   allowed (no ACL DRYRUN before Redis 7, or no
				   permission to ask): why says */
};

/*
 * Is argv (the command as the switch will send it) there on the node
 * (COMMAND INFO argv[0]: renamed or disabled commands are not), and may
 * the service's user (or "default") run it (ACL DRYRUN, Redis 7)? why
 * gets the reason for anything but NODE_CMD_OK.
 */
enum node_cmd_check	node_command_check(struct node_conn *conn, int argc,
			    const char *const *argv, char *why, size_t whylen);

/* 1 when the last command on conn was answered with an error reply (so
 * the node did not run it), 0 when it ran or its fate is unknown. */
int	node_last_refused(const struct node_conn *conn);

const char	*node_role_str(enum node_role role);

/* Parse the text of INFO replication into info (for tests too). */
void	node_info_parse(const char *text, struct node_info *info);

#endif
