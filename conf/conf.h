/*
 * conf.h - redisfo.conf, read once into plain structs.
 *
 * Only conf/ includes <libconfig.h>. Everything else sees these structs,
 * filled and validated by conf_load(): every value is in range, every
 * address is parsed, relative paths are made relative to the config file's
 * folder. The rest of the program never re-checks or re-reads the config.
 * conf/ is the base layer shared by dnsd/ and failover/ (the config, the
 * command line, log, clock and address text); but for main.c, which hands
 * them their commands, it includes nothing of theirs.
 */
#ifndef REDISFO_CONF_H
#define REDISFO_CONF_H

#include <limits.h>
#include <stddef.h>
#include <sys/socket.h>

#define CONF_NAME_MAX	64	/* service and node names */
#define CONF_DNAME_MAX	256	/* presentation-format domain names */
#define CONF_ADDR_MAX	4	/* addresses served for one node */
#define CONF_HOOK_MAX	1024

/* An IP address, optionally with a port ("127.0.0.1:5353", "[::1]:53"). */
struct conf_sockaddr {
	char			text[80];	/* as written in the config */
	struct sockaddr_storage	ss;		/* family, address and port */
	socklen_t		len;
};

/* A bare IP address (no port), as served in A/AAAA records. */
struct conf_ip {
	char		text[64];	/* canonical text form */
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	bytes[16];	/* 4 or 16 bytes, network order */
};

struct conf_tsig_key {
	char	name[CONF_DNAME_MAX];	/* absolute, with the final dot; "" = no key */
	char	algorithm[32];		/* "hmac-sha256", "hmac-sha512", ... */
	char	secret[256];		/* base64, as written */
};

struct conf_rrl {
	int	rate;			/* responses/s per /24 (/56); 0 = off */
	int	slip;			/* every slip-th limited answer goes out TC=1; 0 = none */
};

struct conf_dns {
	struct conf_sockaddr	*listen;	/* at least one */
	size_t			 n_listen;
	char			 zone[CONF_DNAME_MAX];	/* absolute, lower case, final dot */
	char			 zone_file[PATH_MAX];	/* absolute path */
	int			 ttl;			/* 1 .. 86400 */
	int			 negative_ttl;		/* dns.ttl .. 86400, default dns.ttl */
	int			 negative_ttl_strict;	/* refuse UPDATEs raising it: 0/1 */
	int			 workers;		/* 0 = one per CPU, else 1 .. 64 */
	char			 user[64];		/* run as this user once listening; "" = stay */
	struct conf_tsig_key	 update_key;
	int			 tsig_fudge_max;	/* seconds a signed request's time may be off */
	struct conf_ip		*allow_transfer;
	size_t			 n_allow_transfer;
	struct conf_sockaddr	*notify;		/* port defaults to 53 */
	size_t			 n_notify;
	struct conf_ip		*notify_source;		/* at most one per family */
	size_t			 n_notify_source;
	struct conf_rrl		 rrl;
	struct conf_sockaddr	 metrics_listen;	/* text "" = no metrics */
};

struct conf_failover {
	struct conf_sockaddr	server;		/* default: first dns.listen */
	int			probe_timeout_ms;
	int			probes;
	int			pause_timeout_ms;
	long long		max_lag_bytes;
	char			lock_file[PATH_MAX];	/* absolute path */
	char			audit_log[PATH_MAX];	/* absolute path */
	int			hook_timeout_ms;	/* a hook running longer is killed */
	int			settle_ms;	/* replicas re-linking after a switch are fine */
	char			pre_hook[CONF_HOOK_MAX];	/* "" = none */
	char			post_hook[CONF_HOOK_MAX];
	int			sweep;		/* kill late clients of the old primary */
};

/* log = { ... }: where log lines go and how many. */
struct conf_log {
	int	target;		/* enum log_target of log.h: LOG_TARGET_STDERR, _SYSLOG */
	int	level;		/* LOG_LVL_ERROR .. LOG_LVL_DEBUG of log.h */
};

struct conf_node {
	char		name[CONF_NAME_MAX];
	char		host[256];		/* where Redis listens: IP (canonical) or name */
	int		port;			/* 1 .. 65535, default 6379 */
	struct conf_ip	address[CONF_ADDR_MAX];	/* served when primary; default = host */
	size_t		n_address;
	/* host is a name and no address was configured: address[] is empty
	 * at load and filled by failover/node.c with the addresses the name
	 * resolved to at each connect (the switch serves those). */
	int		address_from_host;
	int		priority;		/* higher wins; default 0 */
	int		line;			/* line in the config file */
};

/* services.tls = { ... }: how the failover talks to the nodes. */
struct conf_tls {
	int	enabled;		/* default 0: plain TCP */
	char	ca_file[PATH_MAX];	/* absolute; "" = the system's trust store */
	char	cert_file[PATH_MAX];	/* client certificate; "" = none */
	char	key_file[PATH_MAX];	/* its key; set together with cert_file */
	char	server_name[256];	/* "" = the node's host */
	int	verify;			/* default 1: chain and name checked */
};

struct conf_service {
	char		  name[CONF_NAME_MAX];	/* served as <name>.<zone> */
	char		  user[128];		/* Redis ACL user, "" = default */
	char		  password[256];	/* "" = no AUTH */
	char		  sentinel_name[128];	/* Sentinel's master name; "" = not
						   Sentinel-managed (switch decides) */
	char		  reader_name[CONF_NAME_MAX];	/* <reader_name>.<zone> names the
						   replicas; default <name>-ro, "" = none */
	struct conf_node *nodes;
	size_t		  n_nodes;
	struct conf_tls	  tls;
	int		  line;
};

struct conf {
	char			 path[PATH_MAX];	/* the file read */
	char			 dir[PATH_MAX];		/* its folder */
	struct conf_dns		 dns;
	struct conf_failover	 failover;
	struct conf_log		 log;
	struct conf_service	*services;
	size_t			 n_services;
};

/*
 * Read and validate the config file at path into *conf. On error returns -1
 * and writes one line naming the file, line and key into err; *conf is then
 * left empty (safe to conf_free). On success returns 0.
 */
int	conf_load(const char *path, struct conf *conf, char *err, size_t errlen);
void	conf_free(struct conf *conf);

/* Lookups over a loaded config; NULL when not found. */
const struct conf_service	*conf_service_find(const struct conf *conf, const char *name);
const struct conf_node		*conf_node_find(const struct conf_service *svc, const char *name);

/*
 * The key table, for documentation and tests: the i-th known key as a dotted
 * path ("dns.ttl", "services.nodes.port") and its one-line description
 * (meaning, default, range). Returns -1 past the end.
 */
int	conf_key_info(size_t i, char *key, size_t keylen, const char **doc);

/* Parse "ip", "ip:port" or "[ip6]:port" with a default port; -1 on error. */
int	conf_sockaddr_parse(const char *text, int default_port, struct conf_sockaddr *out);
/* Parse a bare IP address; -1 on error. */
int	conf_ip_parse(const char *text, struct conf_ip *out);

#endif
