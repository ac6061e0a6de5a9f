/*
 * state.h - what a service looks like right now: every node probed in
 * parallel, the served record, the _redisfo TXT and the SOA serial as
 * queried over DNS from failover.server, and the verdict drawn from them.
 * switch, rejoin, status and check all start from one of these.
 */
#ifndef REDISFO_FAILOVER_STATE_H
#define REDISFO_FAILOVER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "failover/lease.h"
#include "failover/node.h"
#include "failover/txt.h"

enum state_verdict {
	VERDICT_CONSISTENT = 0,
	VERDICT_DNS_UNKNOWN,		/* the record could not be read */
	VERDICT_RECORD_NO_NODE,		/* the record matches no node */
	VERDICT_SERVED_DOWN,		/* the served node does not answer */
	VERDICT_SERVED_NOT_MASTER,	/* the served node is not a master */
	VERDICT_SPLIT_BRAIN,		/* another node claims to be master */
	VERDICT_FENCED_MASTER,		/* the fenced node is back as master */
	VERDICT_WRONG_MASTER,		/* a replica follows another node */
};

/* How the record's addresses match a node's (state_match_record_how). */
enum state_match {
	MATCH_EXACT = 0,	/* the node's addresses, no more, no fewer */
	MATCH_SUBSET,		/* some of the node's (it gained an address) */
	MATCH_OVERLAP,		/* shares some (it lost one); the only node that does */
	MATCH_NONE,		/* no node has any of them */
	MATCH_AMBIGUOUS,	/* two nodes match as well: other[] names them */
};

struct svc_state {
	const struct conf		*conf;
	const struct conf_service	*svc;
	char				 owner[CONF_DNAME_MAX + 80];	/* <service>.<zone> */
	char				 txt_owner[CONF_DNAME_MAX + 96];/* _redisfo.<service>.<zone> */
	struct node_info		*nodes;		/* svc->n_nodes */

	enum dnsclient_result		 dns;		/* of the record queries */
	char				 dns_err[512];
	struct dnsclient_rrset		*a, *aaaa, *txt;
	uint32_t			 serial;
	uint32_t			 ttl;
	int				 served;	/* node index the record names, -1 */
	enum state_match		 served_how;	/* and how well */
	int				 served_other[2];	/* MATCH_AMBIGUOUS: two nodes */
	struct txt_record		 redisfo;	/* the TXT, parsed */
	/* the verdict */
	enum state_verdict		 verdict;
	char				 verdict_text[640];	/* dns_err fits whole */
	int				 n_masters;
	/* the switch lease (lease.h), read before the record and again after
	 * the probes, so a switch that began in between is seen */
	int				 lease_held;	/* a lease was found */
	struct lease			 lease;
	char				 lease_err[512];	/* "": read fine */
	long long			 loaded_ms;	/* wall clock, ms, after the probes */
};

/* The service named by argv[0] if it is one, else the only service. *used
 * is set to 1 when argv[0] was consumed. NULL and err when ambiguous. */
const struct conf_service *state_service_arg(const struct conf *conf, int argc,
			    char **argv, int *used, char *err, size_t errlen);

/*
 * The arguments of rejoin: [SERVICE] and a NODE last. The service, or
 * NULL and err (without the command's name) on a usage error.
 */
const struct conf_service *state_command_args(const struct conf *conf, int argc,
			    char **argv, const char **node, char *err, size_t errlen);

/* Fill st: DNS first, then probes (probes = 0 skips them). 0, or -1 with
 * st->dns_err when nothing could be allocated. */
int	state_load(struct svc_state *st, const struct conf *conf,
	    const struct conf_service *svc, int probe);
void	state_free(struct svc_state *st);
/* Re-read only the record, TXT and serial. */
enum dnsclient_result	state_read_dns(struct svc_state *st);
/* Work out the verdict from what was loaded. */
void	state_judge(struct svc_state *st);

/*
 * The node the record's A+AAAA name, or -1 (none, or two equally). A node
 * whose addresses equal the record's wins; else the one node that has
 * all of the record's addresses (it gained one); else the one node that
 * shares any (it lost one). *how says which (may be NULL); other[0..1]
 * get two of the nodes when ambiguous (may be NULL).
 */
int	state_match_record_how(const struct conf_service *svc,
	    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
	    enum state_match *how, int *other);
/* The same, without how. */
int	state_match_record(const struct conf_service *svc,
	    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa);
/*
 * What the record lacks of node's addresses, or has that the node does
 * not ("" when it holds exactly the node's): "record lacks fd77::12 of
 * r2" or "record has 10.77.0.99 that r2 no longer has". Returns buf.
 */
const char	*state_record_mismatch(const struct conf_node *node,
		    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
		    char *buf, size_t len);
/* Does replica info follow node? (master_host/port vs host/port) */
int	state_follows(const struct node_info *replica, const struct conf_node *node);
/* Index of the node called name, or -1. */
int	state_node_index(const struct conf_service *svc, const char *name);
/* "addr1,addr2" of a node, for messages. */
void	state_node_addresses(const struct conf_node *node, char *buf, size_t len);
const char	*state_verdict_str(enum state_verdict v);
/*
 * The master a replica follows, "host:port", or "no master yet" while a
 * replica has been told to follow one and has not said which (Redis
 * reports port 0 then). Returns buf.
 */
const char	*state_master_text(const struct node_info *ni, char *buf, size_t len);

/*
 * A secondary (a dns.notify target) behind the record's serial is normal
 * for the second a NOTIFY and a transfer take; one still behind after
 * STATE_SECONDARY_BEHIND_MS was never reached (a refused NOTIFY, a
 * failing transfer) and will be at best at its SOA refresh.
 */
#define STATE_SECONDARY_BEHIND_MS	3000

enum state_secondary {
	SECONDARY_IN_SYNC = 0,		/* at the serial, or ahead (RFC 1982) */
	SECONDARY_BEHIND,		/* still behind once within_ms passed */
	SECONDARY_NO_ANSWER,		/* err says why */
};

/*
 * Ask the secondary at addr for st's zone serial until it reaches
 * st->serial or within_ms passes (0: ask once). *seen gets the last
 * serial it answered.
 */
enum state_secondary	state_secondary_wait(const struct svc_state *st,
			    const struct conf_sockaddr *addr, int within_ms,
			    uint32_t *seen, char *err, size_t errlen);

#endif
