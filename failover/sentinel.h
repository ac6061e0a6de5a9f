/*
 * sentinel.h - `redisfo-dns sentinel-reconfig`: Redis Sentinel's
 * client-reconfig-script. Sentinel decides and promotes; this moves the
 * record after it, and never touches Redis.
 *
 * The pure parts (which service, which node, what to do with the record
 * as read) are here for the unit test; the command is cmd_sentinel_reconfig.
 */
#ifndef REDISFO_FAILOVER_SENTINEL_H
#define REDISFO_FAILOVER_SENTINEL_H

#include "conf/conf.h"

/* Sentinel's convention for the script's exit code. */
enum sentinel_exit {
	SENTINEL_EXIT_DONE = 0,		/* moved, already moved, or ignored */
	SENTINEL_EXIT_RETRY = 1,	/* Sentinel runs it again later */
	SENTINEL_EXIT_NO_RETRY = 2,	/* the same call can never succeed */
};

/* What to do with the record, from the node it names as read. */
enum sentinel_decision {
	SENTINEL_MOVE,		/* it names FROM: move it to TO */
	SENTINEL_ALREADY,	/* it names TO: an earlier call moved it */
	SENTINEL_STALE,		/* it names neither (or no node): a late call
				   of an older failover, or a record moved by
				   hand; leave it */
};

/* The service whose sentinel_name is master, or NULL. */
const struct conf_service *sentinel_service_find(const struct conf *conf,
			    const char *master);

/*
 * Index of the node Sentinel names by ip and port: the node whose host is
 * ip (same text, or the same address) with that port, else the one that
 * serves ip as one of its addresses with that port. -1 when none.
 */
int	sentinel_node_find(const struct conf_service *svc, const char *ip, int port);

/* served, from and to are node indexes (-1: no node). */
enum sentinel_decision	sentinel_decide(int served, int from, int to);

/* sentinel-reconfig MASTER-NAME ROLE STATE FROM-IP FROM-PORT TO-IP TO-PORT */
int	cmd_sentinel_reconfig(const struct conf *conf, int argc, char **argv);

#endif
