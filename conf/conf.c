/*
 * conf.c - read redisfo.conf once, validate it, fill struct conf.
 *
 * The file is parsed with libconfig; every key the program knows is a row of
 * conf_keys[] below (where it lives, its type, default, range and a line of
 * documentation), and that table drives the whole walk: unknown keys, wrong
 * types, ranges, defaults and the copy into the plain structs of conf.h.
 * What a table row cannot say (defaults computed from other keys, duplicate
 * names, cross-key rules) is done right after, in conf_root_check() and the
 * two list walkers. Errors are one line naming the file, the line and the
 * dotted key; what libconfig does not report is found in the text by
 * scan.c. conf/ is the base layer shared by dnsd/ and failover/: the
 * config, the command line, log, clock and address text.
 *
 * This is the only file that includes <libconfig.h>. It never prints and
 * never exits; on any error conf_load() leaves *conf empty.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/scan.h"

#define CONF_FILE_MAX	(4 * 1024 * 1024)	/* a config larger than this is a mistake */
#define CONF_LIST_MAX	64			/* entries in listen/notify/allow_transfer */
#define CONF_KEY_MAX	160			/* dotted key paths in messages */

/* What a key holds, and so how it is checked and where it goes. */
enum conf_kind {
	CK_GROUP,	/* nested group: its own rows, scope "<scope>.<name>" */
	CK_LIST,	/* list of groups: filled by the row's list_fill */
	CK_INT,		/* int, min..max */
	CK_INT64,	/* long long, min..max; plain or 64-bit integer in the file */
	CK_STR,		/* char[size], any text */
	CK_PATH,	/* char[PATH_MAX], relative to the config's folder */
	CK_DNAME,	/* char[size], domain name: lower case, final dot */
	CK_LABEL,	/* char[size], one DNS label: letters, digits, hyphen */
	CK_ALGO,	/* char[size], a TSIG algorithm name */
	CK_BASE64,	/* char[size], base64 text */
	CK_HOST,	/* char[size], an IP address (stored canonical) or a host name */
	CK_SOCKADDR,	/* struct conf_sockaddr, "ip[:port]", def = default port */
	CK_SOCKADDRS,	/* struct conf_sockaddr *, count at off_n */
	CK_IPS,		/* struct conf_ip *, count at off_n */
	CK_IPS_FIXED,	/* struct conf_ip[max], count at off_n, min..max entries */
	CK_CHOICE,	/* int, the index of the string in choices */
	CK_BOOL,	/* int, true (1) or false (0); def = default */
};

#define CF_REQUIRED	0x01	/* absent is an error */
#define CF_EMPTY_OK	0x02	/* "" is allowed (means "none") */

struct conf_ctx;
struct conf_key;

typedef int	(*conf_list_fill_fn)(struct conf_ctx *, const struct conf_key *,
		    const config_setting_t *, const char *, void *);

struct conf_key {
	const char		*scope;		/* "" top level, "dns", "services.nodes" */
	const char		*name;
	enum conf_kind		 kind;
	int			 flags;
	size_t			 off;		/* field in the scope's struct */
	size_t			 off_n;		/* count field, for lists */
	size_t			 size;		/* char array size, for strings */
	long long		 def;		/* integer default; default port */
	long long		 min, max;	/* integer range; list length range */
	const char		*def_str;	/* text default; NULL = none or computed */
	conf_list_fill_fn	 list_fill;	/* CK_LIST only */
	const char		*doc;		/* meaning; default and range in words */
	const char *const	*choices;	/* CK_CHOICE only: the values, NULL last */
};

struct conf_ctx {
	const char	*file;		/* as given, for messages */
	char		*err;
	size_t		 errlen;
	struct conf	*conf;
};

static int	conf_services_fill(struct conf_ctx *, const struct conf_key *,
		    const config_setting_t *, const char *, void *);
static int	conf_nodes_fill(struct conf_ctx *, const struct conf_key *,
		    const config_setting_t *, const char *, void *);

#define FLD(st, f)	offsetof(struct st, f)
#define SZ(st, f)	sizeof(((struct st *)0)->f)

#define K_GROUP(sc, n, st, f, fl, doc) \
	{ sc, n, CK_GROUP, fl, FLD(st, f), 0, 0, 0, 0, 0, NULL, NULL, doc, NULL }
#define K_LIST(sc, n, fn, doc) \
	{ sc, n, CK_LIST, CF_REQUIRED, 0, 0, 0, 0, 1, 0, NULL, fn, doc, NULL }
#define K_INT(sc, n, st, f, d, lo, hi, doc) \
	{ sc, n, CK_INT, 0, FLD(st, f), 0, 0, d, lo, hi, NULL, NULL, doc, NULL }
#define K_INT64(sc, n, st, f, d, lo, hi, doc) \
	{ sc, n, CK_INT64, 0, FLD(st, f), 0, 0, d, lo, hi, NULL, NULL, doc, NULL }
#define K_TEXT(sc, n, kind, fl, st, f, d, doc) \
	{ sc, n, kind, fl, FLD(st, f), 0, SZ(st, f), 0, 0, 0, d, NULL, doc, NULL }
#define K_SOCKADDR(sc, n, fl, st, f, port, doc) \
	{ sc, n, CK_SOCKADDR, fl, FLD(st, f), 0, 0, port, 0, 0, NULL, NULL, doc, NULL }
#define K_ADDRS(sc, n, kind, st, f, fn, port, lo, hi, d, doc) \
	{ sc, n, kind, 0, FLD(st, f), FLD(st, fn), 0, port, lo, hi, d, NULL, doc, NULL }
#define K_CHOICE(sc, n, st, f, values, d, doc) \
	{ sc, n, CK_CHOICE, 0, FLD(st, f), 0, 0, 0, 0, 0, d, NULL, doc, values }
#define K_BOOL(sc, n, st, f, d, doc) \
	{ sc, n, CK_BOOL, 0, FLD(st, f), 0, 0, d, 0, 1, NULL, NULL, doc, NULL }

/* The values of log.target and log.level, in the order of log.h's enums. */
static const char *const conf_log_targets[] = { "stderr", "syslog", NULL };
static const char *const conf_log_levels[] = { "error", "warning", "info", "debug", NULL };

_Static_assert(LOG_TARGET_STDERR == 0 && LOG_TARGET_SYSLOG == 1,
    "conf_log_targets[] follows enum log_target");
_Static_assert(LOG_LVL_ERROR == 0 && LOG_LVL_WARN == 1 && LOG_LVL_INFO == 2 &&
    LOG_LVL_DEBUG == 3, "conf_log_levels[] follows enum log_level");

/*
 * Every key of redisfo.conf. A scope's struct is the one its group is read
 * into: "" struct conf, "dns" struct conf_dns, "dns.update_key" struct
 * conf_tsig_key, "dns.rrl" struct conf_rrl, "failover" struct
 * conf_failover, "log" struct conf_log, "services" struct conf_service,
 * "services.tls" struct conf_tls, "services.nodes" struct conf_node.
 */
static const struct conf_key conf_keys[] = {
	K_GROUP("", "dns", conf, dns, CF_REQUIRED,
	    "the DNS server: required"),
	K_GROUP("", "failover", conf, failover, 0,
	    "the switch and the Redis probes: optional, every key has a default"),
	K_GROUP("", "log", conf, log, 0,
	    "where log lines go and how many: optional, every key has a default"),
	K_LIST("", "services", conf_services_fill,
	    "list of groups, one per Redis deployment: at least one"),

	K_ADDRS("dns", "listen", CK_SOCKADDRS, conf_dns, listen, n_listen,
	    53, 1, CONF_LIST_MAX, "127.0.0.1:53",
	    "addresses to answer on, \"ip\", \"ip:port\" or \"[ip6]:port\"; port 53 if left out; default [\"127.0.0.1:53\"]"),
	K_TEXT("dns", "zone", CK_DNAME, CF_REQUIRED, conf_dns, zone, NULL,
	    "the zone served, final dot optional: required"),
	K_TEXT("dns", "zone_file", CK_PATH, 0, conf_dns, zone_file, NULL,
	    "RFC 1035 master file of the zone, rewritten on change; default \"<zone without the final dot>.zone\""),
	K_INT("dns", "ttl", conf_dns, ttl, 5, 1, 86400,
	    "TTL of the service records, seconds; default 5, 1..86400"),
	K_INT("dns", "negative_ttl", conf_dns, negative_ttl, 0, 1, 86400,
	    "the most a resolver may cache a NODATA or NXDOMAIN, min(SOA TTL, SOA minimum), seconds: the SOA TTL and minimum of a zone serve creates, the limit checkconf and serve warn above; default dns.ttl, dns.ttl..86400"),
	K_BOOL("dns", "negative_ttl_strict", conf_dns, negative_ttl_strict, 0,
	    "refuse an UPDATE that raises min(SOA TTL, SOA minimum) above dns.negative_ttl; default false"),
	K_INT("dns", "workers", conf_dns, workers, 1, 0, 64,
	    "UDP worker threads per listen address, 0 = one per CPU; default 1, 0..64"),
	K_TEXT("dns", "user", CK_STR, CF_EMPTY_OK, conf_dns, user, "",
	    "user serve runs as once its sockets are open; default \"\" = the one that started it"),
	K_GROUP("dns", "update_key", conf_dns, update_key, 0,
	    "TSIG key that signs UPDATEs (and may transfer); optional"),
	K_INT("dns", "tsig_fudge_max", conf_dns, tsig_fudge_max, 300, 1, 3600,
	    "the most a signed request's time may be off ours, seconds, whatever fudge it asks; default 300, 1..3600"),
	K_ADDRS("dns", "allow_transfer", CK_IPS, conf_dns, allow_transfer,
	    n_allow_transfer, 0, 0, CONF_LIST_MAX, NULL,
	    "IP addresses that may AXFR/IXFR without TSIG; default []"),
	K_ADDRS("dns", "notify", CK_SOCKADDRS, conf_dns, notify, n_notify,
	    53, 0, CONF_LIST_MAX, NULL,
	    "secondaries sent a NOTIFY on each change, \"ip[:port]\", port 53 if left out; default []"),
	K_ADDRS("dns", "notify_source", CK_IPS, conf_dns, notify_source,
	    n_notify_source, 0, 0, 2, NULL,
	    "address NOTIFY is sent from, at most one per family; default [] = the first dns.listen address of the family that is not a wildcard, else the kernel's choice"),
	K_GROUP("dns", "rrl", conf_dns, rrl, 0,
	    "response rate limiting; optional"),
	K_SOCKADDR("dns", "metrics_listen", CF_EMPTY_OK, conf_dns, metrics_listen, 9153,
	    "where to serve Prometheus metrics at /metrics, \"ip[:port]\", port 9153 if left out; default \"\" = off"),

	K_TEXT("dns.update_key", "name", CK_DNAME, CF_EMPTY_OK, conf_tsig_key,
	    name, "",
	    "key name, final dot optional; default \"\" = no key"),
	K_TEXT("dns.update_key", "algorithm", CK_ALGO, 0, conf_tsig_key,
	    algorithm, "hmac-sha256",
	    "hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512; default \"hmac-sha256\""),
	K_TEXT("dns.update_key", "secret", CK_BASE64, CF_EMPTY_OK, conf_tsig_key,
	    secret, "",
	    "the shared secret, base64; required when name is set"),

	K_INT("dns.rrl", "rate", conf_rrl, rate, 0, 0, 1000000,
	    "responses per second per client /24 (IPv6 /56), 0 = off; default 0, 0..1000000"),
	K_INT("dns.rrl", "slip", conf_rrl, slip, 2, 0, 10,
	    "every slip-th limited answer is sent truncated, 0 = never; default 2, 0..10"),

	K_SOCKADDR("failover", "server", 0, conf_failover, server, 53,
	    "DNS server that takes the UPDATEs and answers record queries, \"ip[:port]\"; default the first dns.listen (127.0.0.1 or ::1 for a wildcard)"),
	K_INT("failover", "probe_timeout_ms", conf_failover, probe_timeout_ms,
	    500, 10, 60000,
	    "timeout of one Redis probe, ms; default 500, 10..60000"),
	K_INT("failover", "probes", conf_failover, probes, 3, 1, 100,
	    "failed probes in a row before a node counts as down; default 3, 1..100"),
	K_INT("failover", "pause_timeout_ms", conf_failover, pause_timeout_ms,
	    2000, 100, 60000,
	    "longest write pause of a planned switch, ms; default 2000, 100..60000"),
	K_INT64("failover", "max_lag_bytes", conf_failover, max_lag_bytes,
	    1048576, 0, 1LL << 62,
	    "a replica further behind is no candidate without --force; default 1048576, 0..2^62"),
	K_TEXT("failover", "lock_file", CK_PATH, 0, conf_failover, lock_file,
	    "redisfo.lock",
	    "lock held by a running switch or rejoin; default \"redisfo.lock\""),
	K_TEXT("failover", "audit_log", CK_PATH, 0, conf_failover, audit_log,
	    "redisfo-audit.log",
	    "JSON lines, one per switch step; default \"redisfo-audit.log\""),
	K_INT("failover", "hook_timeout_ms", conf_failover, hook_timeout_ms,
	    30000, 100, 3600000,
	    "a pre_hook or post_hook still running after this is killed with its process group, ms; default 30000, 100..3600000"),
	K_INT("failover", "settle_ms", conf_failover, settle_ms,
	    5000, 0, 600000,
	    "after a switch (the record's at= time) replicas re-linking to the new primary count as resyncing, not link down, ms; default 5000, 0..600000"),
	K_TEXT("failover", "pre_hook", CK_STR, CF_EMPTY_OK, conf_failover,
	    pre_hook, "",
	    "command run before a switch, a failure aborts it; default \"\" = none"),
	K_TEXT("failover", "post_hook", CK_STR, CF_EMPTY_OK, conf_failover,
	    post_hook, "",
	    "command run after a switch; default \"\" = none"),
	K_BOOL("failover", "sweep", conf_failover, sweep, 1,
	    "after a planned switch, a helper kills the clients that reconnected to the old primary (now a replica) at dns.ttl + 1 s and again a TTL later, so clients that got a cached address reach the new primary; default true"),

	K_CHOICE("log", "target", conf_log, target, conf_log_targets, "stderr",
	    "\"stderr\" or \"syslog\" (facility daemon); on a stderr that is not a terminal each line starts with its priority, \"<6>\"; default \"stderr\""),
	K_CHOICE("log", "level", conf_log, level, conf_log_levels, "info",
	    "the least severe lines logged, \"error\", \"warning\", \"info\" or \"debug\"; -v and -q move from it; default \"info\""),

	K_TEXT("services", "name", CK_LABEL, CF_REQUIRED, conf_service, name,
	    NULL,
	    "served as <name>.<zone>; letters, digits, hyphen, 1..63: required, unique"),
	K_TEXT("services", "user", CK_STR, CF_EMPTY_OK, conf_service, user, "",
	    "Redis ACL user; default \"\" = the default user"),
	K_TEXT("services", "password", CK_STR, CF_EMPTY_OK, conf_service,
	    password, "",
	    "Redis AUTH password; default \"\" = no AUTH"),
	K_TEXT("services", "sentinel_name", CK_STR, CF_EMPTY_OK, conf_service,
	    sentinel_name, "",
	    "the Redis Sentinel master name of this service: set, Sentinel decides failovers (sentinel-reconfig moves the record, switch refuses); unique; default \"\" = switch decides"),
	K_TEXT("services", "reader_name", CK_LABEL, CF_EMPTY_OK, conf_service,
	    reader_name, NULL,
	    "<reader_name>.<zone> answers with the replicas that follow the primary with their link up (the primary when none does); unique among service and reader names; default \"<name>-ro\", \"\" = no reader record"),
	K_LIST("services", "nodes", conf_nodes_fill,
	    "list of groups, one per Redis server: at least one"),
	K_GROUP("services", "tls", conf_service, tls, 0,
	    "TLS to the service's nodes: optional, off unless enabled"),

	K_BOOL("services.tls", "enabled", conf_tls, enabled, 0,
	    "talk to the nodes over TLS (their tls-port); default false"),
	K_TEXT("services.tls", "ca_file", CK_PATH, CF_EMPTY_OK, conf_tls, ca_file,
	    "",
	    "PEM file of the CAs a node's certificate must chain to; default \"\" = the system's trust store"),
	K_TEXT("services.tls", "cert_file", CK_PATH, CF_EMPTY_OK, conf_tls,
	    cert_file, "",
	    "PEM client certificate (chain) shown to the nodes, with key_file; default \"\" = none"),
	K_TEXT("services.tls", "key_file", CK_PATH, CF_EMPTY_OK, conf_tls,
	    key_file, "",
	    "PEM private key of cert_file; default \"\" = none"),
	K_TEXT("services.tls", "server_name", CK_STR, CF_EMPTY_OK, conf_tls,
	    server_name, "",
	    "name (or IP address) a node's certificate must carry, and the SNI sent; default \"\" = the node's host"),
	K_BOOL("services.tls", "verify", conf_tls, verify, 1,
	    "check the certificate chain and name; false encrypts without knowing who answers; default true"),

	K_TEXT("services.nodes", "name", CK_LABEL, CF_REQUIRED, conf_node, name,
	    NULL,
	    "node name, same rules as a service name: required, unique in the service"),
	K_TEXT("services.nodes", "host", CK_HOST, CF_REQUIRED, conf_node, host,
	    NULL,
	    "IP address or DNS name where Redis listens, a name resolved (A and AAAA) at each connect: required"),
	K_INT("services.nodes", "port", conf_node, port, 6379, 1, 65535,
	    "Redis port; default 6379, 1..65535"),
	K_ADDRS("services.nodes", "address", CK_IPS_FIXED, conf_node, address,
	    n_address, 0, 1, CONF_ADDR_MAX, NULL,
	    "address(es) served while this node is primary, a string or a list of 1..4; default host, or for a name its addresses when last resolved"),
	K_INT("services.nodes", "priority", conf_node, priority, 0, 0, 65535,
	    "higher is preferred as the next primary; default 0, 0..65535"),
};

#define CONF_NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

static const char *const conf_algorithms[] = {
	"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
	"hmac-sha512",
};

static int	conf_group_fill(struct conf_ctx *, const config_setting_t *,
		    const config_setting_t *, const char *, const char *, void *);

/* ------------------------------------------------------------ errors */

static int
conf_line(const config_setting_t *s)
{
	return s == NULL ? 0 : (int)config_setting_source_line(s);
}

/*
 * Write "file:line: key: message" into the error buffer and return -1. The
 * line is the setting's, else its parent's; none if both are unknown.
 */
static int __attribute__((format(printf, 5, 6)))
conf_fail(struct conf_ctx *ctx, const config_setting_t *s,
    const config_setting_t *parent, const char *key, const char *fmt, ...)
{
	const config_setting_t	*at = s != NULL ? s : parent;
	const char		*file = ctx->file;
	char			 msg[512];
	va_list			 ap;
	int			 line;

	if (at != NULL && config_setting_source_file(at) != NULL)
		file = config_setting_source_file(at);
	line = conf_line(at);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s%s%s", file, line,
		    key ? key : "", key ? ": " : "", msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s%s%s", file,
		    key ? key : "", key ? ": " : "", msg);
	return -1;
}

static const char *
conf_type_name(enum conf_kind kind)
{
	switch (kind) {
	case CK_GROUP:
		return "a group";
	case CK_LIST:
		return "a list of groups";
	case CK_INT:
	case CK_INT64:
		return "an integer";
	case CK_SOCKADDRS:
	case CK_IPS:
		return "a list of strings";
	case CK_IPS_FIXED:
		return "a string or a list of strings";
	case CK_BOOL:
		return "true or false";
	default:
		return "a string";
	}
}

/* Quote text for a message, cut short and with control bytes as '?'. */
static const char *
conf_quote(const char *text, char *buf, size_t len)
{
	size_t i, j = 0;

	if (len < 8)
		return "";
	buf[j++] = '"';
	for (i = 0; text[i] != '\0' && j < len - 5; i++)
		buf[j++] = isprint((unsigned char)text[i]) ? text[i] : '?';
	if (text[i] != '\0') {
		buf[j++] = '.';
		buf[j++] = '.';
		buf[j++] = '.';
	}
	buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}

/* ------------------------------------------------------------ values */

int
conf_ip_parse(const char *text, struct conf_ip *out)
{
	struct conf_ip ip;

	memset(&ip, 0, sizeof(ip));
	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, ip.bytes) == 1)
		ip.family = AF_INET;
	else if (inet_pton(AF_INET6, text, ip.bytes) == 1)
		ip.family = AF_INET6;
	else
		return -1;
	if (inet_ntop(ip.family, ip.bytes, ip.text, sizeof(ip.text)) == NULL)
		return -1;
	*out = ip;
	return 0;
}

static int
conf_port_parse(const char *text, int *port)
{
	long	 v = 0;
	size_t	 i;

	if (text[0] == '\0' || strlen(text) > 5)
		return -1;
	for (i = 0; text[i] != '\0'; i++) {
		if (!isdigit((unsigned char)text[i]))
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int
conf_sockaddr_parse(const char *text, int default_port,
    struct conf_sockaddr *out)
{
	struct conf_sockaddr	 sa;
	struct conf_ip		 ip;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 host[64];
	const char		*h = text, *colon, *close, *port_text = NULL;
	size_t			 hlen;
	int			 port = default_port, bracket = 0;

	memset(&sa, 0, sizeof(sa));
	if (text == NULL || strlen(text) >= sizeof(sa.text) ||
	    default_port < 1 || default_port > 65535)
		return -1;
	if (text[0] == '[') {
		if ((close = strchr(text, ']')) == NULL)
			return -1;
		bracket = 1;
		h = text + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else {
		colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hlen = (size_t)(colon - text);	/* v4:port */
			port_text = colon + 1;
		} else
			hlen = strlen(text);		/* v4, or bare v6 */
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (conf_ip_parse(host, &ip) == -1)
		return -1;
	if (bracket && ip.family != AF_INET6)
		return -1;
	if (port_text != NULL && conf_port_parse(port_text, &port) == -1)
		return -1;
	memcpy(sa.text, text, strlen(text) + 1);
	if (ip.family == AF_INET) {
		sin = (struct sockaddr_in *)&sa.ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, ip.bytes, 4);
		sa.len = sizeof(*sin);
	} else {
		sin6 = (struct sockaddr_in6 *)&sa.ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, ip.bytes, 16);
		sa.len = sizeof(*sin6);
	}
	*out = sa;
	return 0;
}

static int
conf_sockaddr_equal(const struct conf_sockaddr *a, const struct conf_sockaddr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static int
conf_ip_equal(const struct conf_ip *a, const struct conf_ip *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes,
	    a->family == AF_INET ? 4 : 16) == 0;
}

/*
 * Normalise a domain name into out (lower case, final dot). Returns NULL, or
 * what is wrong with it.
 */
static const char *
conf_dname_normalise(const char *in, char *out, size_t outlen)
{
	size_t	len = strlen(in), i, label = 0;
	char	c;

	if (len == 0)
		return "must not be empty";
	if (strcmp(in, ".") == 0)
		return "must not be the root";
	if (in[len - 1] == '.')
		len--;
	if (len > 253)
		return "is longer than 253 characters";
	if (len + 2 > outlen)
		return "is too long";
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '.') {
			if (label == 0)
				return "has an empty label";
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
			if (++label > 63)
				return "has a label longer than 63 characters";
		} else
			return "has a character that is not a letter, digit, '-' or '_'";
		out[i] = (char)tolower((unsigned char)c);
	}
	if (label == 0)
		return "has an empty label";
	out[len] = '.';
	out[len + 1] = '\0';
	return NULL;
}

/* One DNS label of a service or node name; NULL or what is wrong. */
static const char *
conf_label_check(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0)
		return "must not be empty";
	if (len > 63)
		return "is longer than 63 characters";
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return "may hold only letters, digits and '-'";
	if (name[0] == '-' || name[len - 1] == '-')
		return "must not start or end with '-'";
	return NULL;
}

/*
 * A host name to resolve (syntax only: checkconf stays offline); NULL or
 * what is wrong. Labels as in conf_label_check, dot-separated, an optional
 * final dot; a last label of digits alone reads as a mistyped IPv4 address.
 */
static const char *
conf_hostname_check(const char *name)
{
	char		 label[64];
	const char	*p = name, *dot, *why;
	size_t		 len = strlen(name), l;
	int		 digits = 0;

	if (strchr(name, ':') != NULL)
		return "is not a valid IPv6 address";
	if (len > 253)
		return "is longer than 253 characters";
	while (*p != '\0') {
		dot = strchr(p, '.');
		l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0)
			return "has an empty label";
		if (l >= sizeof(label))
			return "has a label longer than 63 characters";
		memcpy(label, p, l);
		label[l] = '\0';
		if ((why = conf_label_check(label)) != NULL)
			return "has a label that is not letters, digits and '-' "
			    "(nor starts or ends with '-')";
		digits = strspn(label, "0123456789") == l;
		p += l;
		if (*p == '.')
			p++;
	}
	if (digits)
		return "is not a valid IPv4 address";
	return NULL;
}

static int
conf_base64_check(const char *s)
{
	size_t len = strlen(s), i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return -1;	/* data after padding */
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return -1;
	}
	return pad <= 2 && len - pad > 1 ? 0 : -1;
}

/* An absolute path for text: as is, or under the config's folder. */
static int
conf_path_resolve(const struct conf *conf, const char *text, char *out,
    size_t len)
{
	int n;

	if (text[0] == '/')
		n = snprintf(out, len, "%s", text);
	else
		n = snprintf(out, len, "%s/%s", strcmp(conf->dir, "/") == 0 ?
		    "" : conf->dir, text);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ------------------------------------------------------------ the walk */

static const struct conf_key *
conf_key_find(const char *scope, const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].scope, scope) == 0 &&
		    strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Format a key path; a path too long for the buffer is cut short. */
static void __attribute__((format(printf, 3, 4)))
conf_key_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

static void
conf_key_join(char *out, size_t len, const char *path, const char *name)
{
	conf_key_fmt(out, len, "%s%s%s", path, path[0] ? "." : "", name);
}

/* An integer in min..max; both plain and 64-bit integers are accepted. */
static int
conf_int_get(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const char *key, long long *v)
{
	int type = config_setting_type(s);

	if (type == CONFIG_TYPE_INT)
		*v = config_setting_get_int(s);
	else if (type == CONFIG_TYPE_INT64)
		*v = config_setting_get_int64(s);
	else
		return conf_fail(ctx, s, NULL, key, "must be an integer");
	if (*v < k->min || *v > k->max)
		return conf_fail(ctx, s, NULL, key,
		    "must be between %lld and %lld (got %lld)", k->min, k->max, *v);
	return 0;
}

/* The strings of a list-of-strings key: a list or array, or one string. */
static int
conf_strings_count(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const char *key, int *n)
{
	int type = config_setting_type(s);

	if (type == CONFIG_TYPE_STRING)
		*n = 1;
	else if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST)
		*n = config_setting_length(s);
	else
		return conf_fail(ctx, s, NULL, key, "must be %s",
		    conf_type_name(k->kind));
	if (*n < k->min)
		return conf_fail(ctx, s, NULL, key, "must hold at least %lld "
		    "address%s", k->min, k->min == 1 ? "" : "es");
	if (*n > k->max)
		return conf_fail(ctx, s, NULL, key, "must hold at most %lld "
		    "addresses (got %d)", k->max, *n);
	return 0;
}

static const char *
conf_strings_elem(struct conf_ctx *ctx, const config_setting_t *s,
    const char *key, int i, char *ekey, size_t ekeylen)
{
	const config_setting_t	*e;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		snprintf(ekey, ekeylen, "%s", key);
		return config_setting_get_string(s);
	}
	conf_key_fmt(ekey, ekeylen, "%s[%d]", key, i);
	e = config_setting_get_elem(s, (unsigned int)i);
	if (e == NULL || config_setting_type(e) != CONFIG_TYPE_STRING) {
		conf_fail(ctx, e, s, ekey, "must be a string");
		return NULL;
	}
	return config_setting_get_string(e);
}

static const config_setting_t *
conf_strings_elem_setting(const config_setting_t *s, int i)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return s;
	return config_setting_get_elem(s, (unsigned int)i);
}

/* A list of IP addresses or "ip[:port]" entries into a fresh array. */
static int
conf_addrs_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const char *key, void *base)
{
	struct conf_sockaddr	*sas = NULL;
	struct conf_ip		*ips = NULL, *fixed = NULL;
	const char		*text;
	char			 ekey[CONF_KEY_MAX], q[96];
	size_t			 esz;
	int			 n = 0, i, j;

	if (conf_strings_count(ctx, k, s, key, &n) == -1)
		return -1;
	esz = k->kind == CK_SOCKADDRS ? sizeof(*sas) : sizeof(*ips);
	if (k->kind == CK_IPS_FIXED)
		fixed = (struct conf_ip *)((char *)base + k->off);
	else if (n > 0) {
		void *p = calloc((size_t)n, esz);

		if (p == NULL)
			return conf_fail(ctx, s, NULL, key, "out of memory");
		*(void **)((char *)base + k->off) = p;
		if (k->kind == CK_SOCKADDRS)
			sas = p;
		else
			ips = p;
	}
	for (i = 0; i < n; i++) {
		if ((text = conf_strings_elem(ctx, s, key, i, ekey,
		    sizeof(ekey))) == NULL)
			return -1;
		if (k->kind == CK_SOCKADDRS) {
			if (conf_sockaddr_parse(text, (int)k->def, &sas[i]) == -1)
				return conf_fail(ctx,
				    conf_strings_elem_setting(s, i), s, ekey,
				    "%s is not an IP address with an optional "
				    "port (\"ip\", \"ip:port\", \"[ip6]:port\")",
				    conf_quote(text, q, sizeof(q)));
			for (j = 0; j < i; j++)
				if (conf_sockaddr_equal(&sas[j], &sas[i]))
					return conf_fail(ctx,
					    conf_strings_elem_setting(s, i), s,
					    ekey, "duplicate address %s",
					    conf_quote(text, q, sizeof(q)));
		} else {
			struct conf_ip *ip = fixed ? &fixed[i] : &ips[i];

			if (conf_ip_parse(text, ip) == -1)
				return conf_fail(ctx,
				    conf_strings_elem_setting(s, i), s, ekey,
				    "%s is not an IP address",
				    conf_quote(text, q, sizeof(q)));
			for (j = 0; j < i; j++)
				if (conf_ip_equal(fixed ? &fixed[j] : &ips[j], ip))
					return conf_fail(ctx,
					    conf_strings_elem_setting(s, i), s,
					    ekey, "duplicate address %s",
					    conf_quote(text, q, sizeof(q)));
		}
		*(size_t *)((char *)base + k->off_n) = (size_t)i + 1;
	}
	return 0;
}

/* A string key into its char array, checked for its kind. */
static int
conf_text_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const config_setting_t *parent,
    const char *key, const char *text, void *base)
{
	char		*out = (char *)base + k->off;
	const char	*why;
	char		 q[96], lower[32];
	struct conf_ip	 ip;
	size_t		 i;

	if (text[0] == '\0' && (k->flags & CF_EMPTY_OK)) {
		out[0] = '\0';
		return 0;
	}
	if (text[0] == '\0' && k->kind != CK_DNAME && k->kind != CK_LABEL)
		return conf_fail(ctx, s, parent, key, "must not be empty");
	switch (k->kind) {
	case CK_PATH:
		if (conf_path_resolve(ctx->conf, text, out, k->size) == -1)
			return conf_fail(ctx, s, parent, key, "path too long");
		return 0;
	case CK_DNAME:
		if ((why = conf_dname_normalise(text, out, k->size)) != NULL)
			return conf_fail(ctx, s, parent, key,
			    "%s is not a valid domain name: it %s",
			    conf_quote(text, q, sizeof(q)), why);
		return 0;
	case CK_LABEL:
		if ((why = conf_label_check(text)) != NULL)
			return conf_fail(ctx, s, parent, key,
			    "%s is not a valid name: it %s",
			    conf_quote(text, q, sizeof(q)), why);
		break;
	case CK_ALGO:
		for (i = 0; text[i] != '\0' && i < sizeof(lower) - 1; i++)
			lower[i] = (char)tolower((unsigned char)text[i]);
		lower[i] = '\0';
		for (i = 0; i < sizeof(conf_algorithms) /
		    sizeof(conf_algorithms[0]); i++)
			if (strcmp(lower, conf_algorithms[i]) == 0) {
				snprintf(out, k->size, "%s", conf_algorithms[i]);
				return 0;
			}
		return conf_fail(ctx, s, parent, key, "unknown algorithm %s "
		    "(use hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, "
		    "hmac-sha384 or hmac-sha512)", conf_quote(text, q, sizeof(q)));
	case CK_BASE64:
		if (conf_base64_check(text) == -1)
			return conf_fail(ctx, s, parent, key,
			    "is not valid base64");
		break;
	case CK_HOST:
		if (conf_ip_parse(text, &ip) == 0) {
			snprintf(out, k->size, "%s", ip.text);
			return 0;
		}
		if ((why = conf_hostname_check(text)) != NULL)
			return conf_fail(ctx, s, parent, key,
			    "%s is neither an IP address nor a host name: it %s",
			    conf_quote(text, q, sizeof(q)), why);
		break;
	default:
		break;
	}
	if (strlen(text) >= k->size)
		return conf_fail(ctx, s, parent, key,
		    "is too long (at most %zu characters)", k->size - 1);
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* A key with a few allowed values, by any case, into its int: the index. */
static int
conf_choice_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const config_setting_t *parent,
    const char *key, const char *text, void *base)
{
	char	q[96], values[160];
	size_t	i, n = 0;

	for (i = 0; k->choices[i] != NULL; i++)
		if (strcasecmp(text, k->choices[i]) == 0) {
			*(int *)((char *)base + k->off) = (int)i;
			return 0;
		}
	values[0] = '\0';
	for (i = 0; k->choices[i] != NULL && n < sizeof(values); i++)
		n += (size_t)snprintf(values + n, sizeof(values) - n, "%s\"%s\"",
		    i == 0 ? "" : k->choices[i + 1] == NULL ? " or " : ", ",
		    k->choices[i]);
	return conf_fail(ctx, s, parent, key, "%s is not %s",
	    conf_quote(text, q, sizeof(q)), values);
}

/*
 * One key of a group: s is the setting, or NULL when the key is absent (the
 * default then applies, or a required key is reported against parent).
 */
static int
conf_value_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *s, const config_setting_t *parent,
    const char *path, void *base)
{
	char		 key[CONF_KEY_MAX], scope[CONF_KEY_MAX];
	long long	 v;
	int		 type;

	conf_key_join(key, sizeof(key), path, k->name);
	if (s == NULL && (k->flags & CF_REQUIRED))
		return conf_fail(ctx, NULL, parent, key, "missing (required)");
	type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
	switch (k->kind) {
	case CK_GROUP:
		if (s != NULL && type != CONFIG_TYPE_GROUP)
			return conf_fail(ctx, s, NULL, key, "must be a group");
		conf_key_join(scope, sizeof(scope), k->scope, k->name);
		return conf_group_fill(ctx, s, parent, scope, key,
		    (char *)base + k->off);
	case CK_LIST:
		if (type == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)
			type = CONFIG_TYPE_LIST;	/* "[]" is an empty list */
		if (type != CONFIG_TYPE_LIST)
			return conf_fail(ctx, s, NULL, key,
			    "must be a list of groups: ( { ... }, { ... } )");
		if (config_setting_length(s) < 1)
			return conf_fail(ctx, s, NULL, key,
			    "must hold at least one group");
		return k->list_fill(ctx, k, s, key, base);
	case CK_INT:
	case CK_INT64:
		v = k->def;
		if (s != NULL && conf_int_get(ctx, k, s, key, &v) == -1)
			return -1;
		if (k->kind == CK_INT)
			*(int *)((char *)base + k->off) = (int)v;
		else
			*(long long *)((char *)base + k->off) = v;
		return 0;
	case CK_SOCKADDRS:
	case CK_IPS:
	case CK_IPS_FIXED:
		if (s == NULL)
			return 0;	/* default: empty, or computed later */
		return conf_addrs_fill(ctx, k, s, key, base);
	case CK_BOOL:
		if (s != NULL && type != CONFIG_TYPE_BOOL)
			return conf_fail(ctx, s, NULL, key, "must be true or false");
		*(int *)((char *)base + k->off) = s ? config_setting_get_bool(s) : (int)k->def;
		return 0;
	case CK_CHOICE:
		if (s != NULL && type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, NULL, key, "must be a string");
		return conf_choice_fill(ctx, k, s, parent, key,
		    s ? config_setting_get_string(s) : k->def_str, base);
	case CK_SOCKADDR:
		if (s == NULL)
			return 0;
		if (type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, NULL, key, "must be a string");
		if ((k->flags & CF_EMPTY_OK) && config_setting_get_string(s)[0] == '\0')
			return 0;
		if (conf_sockaddr_parse(config_setting_get_string(s), (int)k->def,
		    (struct conf_sockaddr *)((char *)base + k->off)) == -1) {
			char q[96];

			return conf_fail(ctx, s, NULL, key, "%s is not an IP "
			    "address with an optional port (\"ip\", \"ip:port\", "
			    "\"[ip6]:port\")", conf_quote(
			    config_setting_get_string(s), q, sizeof(q)));
		}
		return 0;
	default:
		if (s == NULL)
			return k->def_str == NULL ? 0 :
			    conf_text_fill(ctx, k, NULL, parent, key, k->def_str,
			    base);
		if (type != CONFIG_TYPE_STRING)
			return conf_fail(ctx, s, NULL, key, "must be a string");
		return conf_text_fill(ctx, k, s, parent, key,
		    config_setting_get_string(s), base);
	}
}

/*
 * Fill base (the struct of scope) from group, which may be NULL (absent:
 * defaults only). Keys are taken in file order, so the first mistake in the
 * file is the one reported; then the absent keys get their defaults.
 */
static int
conf_group_fill(struct conf_ctx *ctx, const config_setting_t *group,
    const config_setting_t *parent, const char *scope, const char *path,
    void *base)
{
	const config_setting_t	*m, *at = group ? group : parent;
	const struct conf_key	*k;
	char			 key[CONF_KEY_MAX];
	int			 i, n;
	size_t			 j;

	n = group ? config_setting_length(group) : 0;
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(group, (unsigned int)i);
		if ((k = conf_key_find(scope, config_setting_name(m))) == NULL) {
			conf_key_join(key, sizeof(key), path,
			    config_setting_name(m));
			return conf_fail(ctx, m, NULL, key, "unknown key");
		}
		if (conf_value_fill(ctx, k, m, group, path, base) == -1)
			return -1;
	}
	for (j = 0; j < CONF_NKEYS; j++) {
		k = &conf_keys[j];
		if (strcmp(k->scope, scope) != 0)
			continue;
		if (group != NULL && config_setting_get_member(group, k->name))
			continue;
		if (conf_value_fill(ctx, k, NULL, at, path, base) == -1)
			return -1;
	}
	return 0;
}

/*
 * A list of groups into a new array of size-byte elements, each filled
 * from the keys of scope; what names one in messages ("service"). Each
 * element keeps its line (an int at line_off), and their names (a string
 * at name_off) must differ without regard to case.
 */
static int
conf_groups_fill(struct conf_ctx *ctx, const config_setting_t *list, const char *key,
    const char *scope, const char *what, size_t size, size_t name_off, size_t line_off,
    void **arr, size_t *n_out)
{
	const config_setting_t	*g;
	char			 path[CONF_KEY_MAX], nkey[CONF_KEY_MAX];
	int			 n = config_setting_length(list), i, j;
	char			*elems;

	if ((elems = calloc((size_t)n, size)) == NULL)
		return conf_fail(ctx, list, NULL, key, "out of memory");
	*arr = elems;
	*n_out = (size_t)n;
	for (i = 0; i < n; i++) {
		char *e = elems + (size_t)i * size;

		g = config_setting_get_elem(list, (unsigned int)i);
		conf_key_fmt(path, sizeof(path), "%s[%d]", key, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return conf_fail(ctx, g, list, path, "must be a group");
		*(int *)(void *)(e + line_off) = conf_line(g);
		if (conf_group_fill(ctx, g, list, scope, path, e) == -1)
			return -1;
		for (j = 0; j < i; j++) {
			const char *o = elems + (size_t)j * size;

			if (strcasecmp(o + name_off, e + name_off) == 0) {
				conf_key_join(nkey, sizeof(nkey), path, "name");
				return conf_fail(ctx,
				    config_setting_get_member(g, "name"), g, nkey,
				    "duplicate %s name \"%s\" (first on line %d)", what,
				    e + name_off, *(const int *)(const void *)(o + line_off));
			}
		}
	}
	return 0;
}

/*
 * Each service's reader_name: "<name>-ro" when the key is not there, and
 * no reader name the same as a service's or another reader's (one owner
 * would carry two records).
 */
static int
conf_readers_fill(struct conf_ctx *ctx, const config_setting_t *list, const char *key,
    struct conf *conf)
{
	const config_setting_t	*g, *s;
	struct conf_service	*svc;
	char			 path[CONF_KEY_MAX], name[CONF_NAME_MAX + 8];
	size_t			 i, j;

	for (i = 0; i < conf->n_services; i++) {
		svc = &conf->services[i];
		g = config_setting_get_elem(list, (unsigned int)i);
		if (config_setting_get_member(g, "reader_name") != NULL)
			continue;
		snprintf(name, sizeof(name), "%s-ro", svc->name);
		if (strlen(name) >= sizeof(svc->reader_name)) {
			conf_key_fmt(path, sizeof(path), "%s[%zu].reader_name", key, i);
			return conf_fail(ctx, g, NULL, path, "the default \"%s\" is longer "
			    "than a DNS label (63): set reader_name", name);
		}
		memcpy(svc->reader_name, name, strlen(name) + 1);
	}
	for (i = 0; i < conf->n_services; i++) {
		svc = &conf->services[i];
		if (svc->reader_name[0] == '\0')
			continue;
		for (j = 0; j < conf->n_services; j++) {
			const char *other = NULL;

			if (strcasecmp(svc->reader_name, conf->services[j].name) == 0)
				other = "the name";
			else if (j < i && strcasecmp(svc->reader_name,
			    conf->services[j].reader_name) == 0)
				other = "the reader_name";
			if (other == NULL)
				continue;
			g = config_setting_get_elem(list, (unsigned int)i);
			s = config_setting_get_member(g, "reader_name");
			conf_key_fmt(path, sizeof(path), "%s[%zu].reader_name", key, i);
			return conf_fail(ctx, s != NULL ? s : g, s != NULL ? list : NULL, path,
			    "\"%s\" is already %s of service \"%s\" (line %d)",
			    svc->reader_name, other, conf->services[j].name,
			    conf->services[j].line);
		}
	}
	return 0;
}

/* services = ( { ... }, ... ): each a group, names unique. */
static int
conf_services_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *list, const char *key, void *base)
{
	struct conf		*conf = base;
	const config_setting_t	*g;
	const struct conf_tls	*tls;
	struct conf_ip		 ip;
	char			 path[CONF_KEY_MAX], q[96];
	const char		*why;
	size_t			 i, j;

	(void)k;
	if (conf_groups_fill(ctx, list, key, "services", "service",
	    sizeof(struct conf_service), offsetof(struct conf_service, name),
	    offsetof(struct conf_service, line), (void **)&conf->services,
	    &conf->n_services) == -1)
		return -1;
	/* One Sentinel master name moves one record. */
	for (i = 0; i < conf->n_services; i++)
		for (j = 0; conf->services[i].sentinel_name[0] && j < i; j++)
			if (strcmp(conf->services[i].sentinel_name,
			    conf->services[j].sentinel_name) == 0) {
				conf_key_fmt(path, sizeof(path), "%s[%zu].sentinel_name", key, i);
				return conf_fail(ctx, config_setting_get_member(
				    config_setting_get_elem(list, (unsigned int)i),
				    "sentinel_name"), list, path,
				    "\"%s\" is already service \"%s\"'s (line %d)",
				    conf->services[i].sentinel_name, conf->services[j].name,
				    conf->services[j].line);
			}
	if (conf_readers_fill(ctx, list, key, conf) == -1)
		return -1;
	for (i = 0; i < conf->n_services; i++) {
		tls = &conf->services[i].tls;
		g = config_setting_get_member(config_setting_get_elem(list,
		    (unsigned int)i), "tls");
		conf_key_fmt(path, sizeof(path), "%s[%zu].tls", key, i);
		if ((tls->cert_file[0] == '\0') != (tls->key_file[0] == '\0'))
			return conf_fail(ctx, g, NULL, path, "cert_file and key_file "
			    "go together: set both or neither");
		if (tls->server_name[0] != '\0' &&
		    conf_ip_parse(tls->server_name, &ip) == -1 &&
		    (why = conf_hostname_check(tls->server_name)) != NULL)
			return conf_fail(ctx, g, NULL, path, "server_name %s is neither "
			    "an IP address nor a host name: it %s",
			    conf_quote(tls->server_name, q, sizeof(q)), why);
	}
	return 0;
}

/* nodes = ( { ... }, ... ): each a group, names and host:port unique. */
static int
conf_nodes_fill(struct conf_ctx *ctx, const struct conf_key *k,
    const config_setting_t *list, const char *key, void *base)
{
	struct conf_service	*svc = base;
	const config_setting_t	*g;
	char			 path[CONF_KEY_MAX], nkey[CONF_KEY_MAX];
	size_t			 i, j;

	(void)k;
	if (conf_groups_fill(ctx, list, key, "services.nodes", "node",
	    sizeof(struct conf_node), offsetof(struct conf_node, name),
	    offsetof(struct conf_node, line), (void **)&svc->nodes, &svc->n_nodes) == -1)
		return -1;
	for (i = 0; i < svc->n_nodes; i++) {
		struct conf_node *node = &svc->nodes[i];

		g = config_setting_get_elem(list, (unsigned int)i);
		conf_key_fmt(path, sizeof(path), "%s[%zu]", key, i);
		if (node->n_address == 0 &&
		    conf_ip_parse(node->host, &node->address[0]) == 0)
			node->n_address = 1;
		else if (node->n_address == 0)
			node->address_from_host = 1;	/* a name: resolved at connect */
		for (j = 0; j < i; j++) {
			const struct conf_node *o = &svc->nodes[j];

			if (strcmp(o->host, node->host) == 0 &&
			    o->port == node->port) {
				conf_key_join(nkey, sizeof(nkey), path, "host");
				return conf_fail(ctx,
				    config_setting_get_member(g, "host"), g, nkey,
				    "%s port %d is already node \"%s\" (line %d)",
				    node->host, node->port, o->name, o->line);
			}
		}
	}
	return 0;
}

/*
 * The default failover.server: the first dns.listen address, with a
 * wildcard replaced by the loopback address of its family.
 */
static int
conf_server_default(const struct conf_sockaddr *first,
    struct conf_sockaddr *out)
{
	const struct sockaddr_in	*sin = (const void *)&first->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&first->ss;
	char				 ip[64], text[80];

	if (first->ss.ss_family == AF_INET) {
		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			snprintf(ip, sizeof(ip), "127.0.0.1");
		else if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) == NULL)
			return -1;
		snprintf(text, sizeof(text), "%s:%d", ip, ntohs(sin->sin_port));
	} else {
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			snprintf(ip, sizeof(ip), "::1");
		else if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip,
		    sizeof(ip)) == NULL)
			return -1;
		snprintf(text, sizeof(text), "[%s]:%d", ip,
		    ntohs(sin6->sin6_port));
	}
	return conf_sockaddr_parse(text, 53, out);
}

/*
 * What the table cannot say: defaults computed from other keys, and rules
 * that span keys. Runs once the whole file is read.
 */
static int
conf_root_check(struct conf_ctx *ctx, const config_t *cfg)
{
	struct conf		*conf = ctx->conf;
	struct conf_dns		*dns = &conf->dns;
	struct conf_failover	*fo = &conf->failover;
	const config_setting_t	*s;
	const struct conf_key	*k;
	char			 text[CONF_DNAME_MAX + 8];
	size_t			 i, zlen;

	if (dns->n_listen == 0) {
		if ((dns->listen = calloc(1, sizeof(*dns->listen))) == NULL)
			return conf_fail(ctx, NULL, NULL, "dns.listen",
			    "out of memory");
		k = conf_key_find("dns", "listen");
		if (conf_sockaddr_parse(k->def_str, (int)k->def,
		    &dns->listen[0]) == -1)
			return conf_fail(ctx, NULL, NULL, "dns.listen", "bad default");
		dns->n_listen = 1;
	}

	if (dns->zone_file[0] == '\0') {
		snprintf(text, sizeof(text), "%.*s.zone",
		    (int)strlen(dns->zone) - 1, dns->zone);
		if (conf_path_resolve(conf, text, dns->zone_file,
		    sizeof(dns->zone_file)) == -1)
			return conf_fail(ctx, config_lookup(cfg, "dns.zone"),
			    NULL, "dns.zone_file", "path too long");
	}

	/*
	 * Below dns.ttl would buy nothing: the old primary's address stays
	 * cached dns.ttl seconds after a switch whatever the SOA says.
	 */
	if (dns->negative_ttl == 0)
		dns->negative_ttl = dns->ttl;
	else if (dns->negative_ttl < dns->ttl)
		return conf_fail(ctx, config_lookup(cfg, "dns.negative_ttl"), NULL,
		    "dns.negative_ttl", "must be between dns.ttl (%d) and 86400 "
		    "(got %d)", dns->ttl, dns->negative_ttl);

	if (dns->update_key.name[0] != '\0' && dns->update_key.secret[0] == '\0')
		return conf_fail(ctx, config_lookup(cfg, "dns.update_key"), NULL,
		    "dns.update_key.secret", "missing (required when "
		    "dns.update_key.name is set)");

	if (dns->n_notify_source == 2 &&
	    dns->notify_source[0].family == dns->notify_source[1].family)
		return conf_fail(ctx, config_lookup(cfg, "dns.notify_source"), NULL,
		    "dns.notify_source", "two addresses of the same family (at "
		    "most one IPv4 and one IPv6)");

	if (fo->server.len == 0 &&
	    conf_server_default(&dns->listen[0], &fo->server) == -1)
		return conf_fail(ctx, NULL, NULL, "failover.server",
		    "cannot derive it from dns.listen");

	/* "_redisfo.<service>.<zone>" must still be a domain name. */
	zlen = strlen(dns->zone);
	for (i = 0; i < conf->n_services; i++) {
		if (strlen("_redisfo.") + strlen(conf->services[i].name) + 1 +
		    zlen - 1 > 253) {
			snprintf(text, sizeof(text), "services[%zu].name", i);
			s = config_lookup(cfg, "services");
			s = s ? config_setting_get_elem(s, (unsigned int)i) : NULL;
			return conf_fail(ctx, s ? config_setting_get_member(s,
			    "name") : NULL, s, text, "\"_redisfo.%s.%s\" would "
			    "be longer than 253 characters",
			    conf->services[i].name, dns->zone);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ integers */

/*
 * The dotted path of the first integer setting on line, to name the key
 * conf_scan_int_overflow found there.
 */
static int
conf_find_int_on_line(const config_setting_t *s, int line, char *path,
    size_t len)
{
	const config_setting_t	*e;
	size_t			 base = strlen(path);
	int			 i, n;

	if (!config_setting_is_aggregate(s))
		return config_setting_type(s) == CONFIG_TYPE_INT &&
		    conf_line(s) == line;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (config_setting_name(e) != NULL)
			snprintf(path + base, len - base, "%s%s", base ? "." : "",
			    config_setting_name(e));
		else
			snprintf(path + base, len - base, "[%d]", i);
		if (conf_find_int_on_line(e, line, path, len))
			return 1;
		path[base] = '\0';
	}
	return 0;
}

/* ------------------------------------------------------------ load, free */

/* Read the whole file: it must exist, be a regular file and readable. */
static char *
conf_file_read(struct conf_ctx *ctx, const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		conf_fail(ctx, NULL, NULL, NULL, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		conf_fail(ctx, NULL, NULL, NULL, "cannot read: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		conf_fail(ctx, NULL, NULL, NULL, "cannot read: %s",
		    S_ISDIR(st.st_mode) ? strerror(EISDIR) :
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "larger than 4 MiB");
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		conf_fail(ctx, NULL, NULL, NULL, "cannot read: out of memory");
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			conf_fail(ctx, NULL, NULL, NULL, "cannot read: %s",
			    r == 0 ? "file shrank while read" : strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL) {
		conf_fail(ctx, NULL, NULL, NULL, "holds a NUL byte: not a text file");
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

/* conf->dir (the folder, resolved) and conf->path (absolute). */
static int
conf_dir_set(struct conf_ctx *ctx, const char *path)
{
	char	copy[PATH_MAX], real[PATH_MAX];
	int	n;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return conf_fail(ctx, NULL, NULL, NULL, "path too long");
	if (realpath(dirname(copy), real) == NULL)
		return conf_fail(ctx, NULL, NULL, NULL, "cannot resolve its "
		    "folder: %s", strerror(errno));
	snprintf(ctx->conf->dir, sizeof(ctx->conf->dir), "%s", real);
	snprintf(copy, sizeof(copy), "%s", path);
	n = snprintf(ctx->conf->path, sizeof(ctx->conf->path), "%s/%s",
	    strcmp(real, "/") == 0 ? "" : real, basename(copy));
	if (n < 0 || (size_t)n >= sizeof(ctx->conf->path))
		return conf_fail(ctx, NULL, NULL, NULL, "path too long");
	return 0;
}

/*
 * libconfig 1.5 loses the buffer of a string token it meets where a
 * setting name belongs (what an unclosed quote usually leads to: the
 * rest of the file shifts by one quote) and reports only "syntax error".
 * Found here first, with a better word, so libconfig never takes that
 * path: a string that runs past the end of its line (libconfig joins
 * adjacent strings, so a value is never written across lines), and a
 * string where a group expects a name. Returns the line, or 0.
 */
static int
conf_text_strings_check(const char *p, size_t len, const char **what)
{
	const char	*end = p + len;
	char		 stack[64];	/* '{', '(' or '[' of each open bracket */
	int		 depth = 0, line = 1, want_name = 1, open_line;

	while (p < end) {
		char c = *p;

		if (c == '\n') {
			line++;
			p++;
		} else if (c == '#' || (c == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (c == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
				line += *p == '\n';
			p += p < end ? 2 : 0;
		} else if (c == '"') {
			if (want_name && (depth == 0 || stack[depth - 1] == '{')) {
				*what = "a string where a setting name belongs (is a quote "
				    "missing before it?)";
				return line;
			}
			for (open_line = line, p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end && p[1] != '\n')
					p++;
				else if (*p == '\n') {
					*what = "a string is never closed on its line";
					return open_line;
				}
			}
			if (p >= end) {
				*what = "a string is never closed";
				return open_line;
			}
			p++;
		} else {
			if (c == '{' || c == '(' || c == '[') {
				if (depth < (int)sizeof(stack))
					stack[depth] = c;
				depth++;
			} else if ((c == '}' || c == ')' || c == ']') && depth > 0)
				depth--;
			if (c == '{' || c == ';' || c == ',')
				want_name = 1;
			else if (!isspace((unsigned char)c))
				want_name = 0;
			if (depth > (int)sizeof(stack))
				return 0;	/* too deep to follow: leave it to libconfig */
			p++;
		}
	}
	return 0;
}

int
conf_load(const char *path, struct conf *conf, char *err, size_t errlen)
{
	struct conf_ctx	 ctx = { path, err, errlen, conf };
	config_t	 cfg;
	char		*text, lit[64], key[CONF_KEY_MAX];
	const char	*what = NULL;
	size_t		 len;
	int		 rc = -1, line;

	memset(conf, 0, sizeof(*conf));
	if (errlen > 0)
		err[0] = '\0';
	if ((text = conf_file_read(&ctx, path, &len)) == NULL)
		return -1;
	if (conf_dir_set(&ctx, path) == -1) {
		free(text);
		memset(conf, 0, sizeof(*conf));
		return -1;
	}
	if ((line = conf_text_strings_check(text, len, &what)) > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line, what);
		free(text);
		memset(conf, 0, sizeof(*conf));
		return -1;
	}
	config_init(&cfg);
	config_set_auto_convert(&cfg, CONFIG_FALSE);
	config_set_include_dir(&cfg, conf->dir);
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			conf_fail(&ctx, NULL, NULL, NULL, "cannot read: %s",
			    config_error_text(&cfg));
		else if (config_error_file(&cfg) == NULL &&
		    strcmp(config_error_text(&cfg), "duplicate setting name") == 0 &&
		    conf_scan_setting_name(text, config_error_line(&cfg), lit,
		    sizeof(lit)) == 0)
			snprintf(err, errlen, "%s:%d: %s: duplicate setting name",
			    path, config_error_line(&cfg), lit);
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(&cfg) ?
			    config_error_file(&cfg) : path,
			    config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	if ((line = conf_scan_int_overflow(text, len, lit, sizeof(lit))) > 0) {
		key[0] = '\0';
		if (!conf_find_int_on_line(config_root_setting(&cfg), line, key,
		    sizeof(key)))
			key[0] = '\0';
		if (key[0] != '\0')
			snprintf(err, errlen, "%s:%d: %s: %s does not fit a plain "
			    "integer (write %sL for a 64-bit one)", path, line,
			    key, lit, lit);
		else
			snprintf(err, errlen, "%s:%d: %s does not fit a plain "
			    "integer (write %sL for a 64-bit one)", path, line,
			    lit, lit);
		goto out;
	}
	if (conf_group_fill(&ctx, config_root_setting(&cfg), NULL, "", "",
	    conf) == -1)
		goto out;
	if (conf_root_check(&ctx, &cfg) == -1)
		goto out;
	rc = 0;
out:
	config_destroy(&cfg);
	free(text);
	if (rc == -1)
		conf_free(conf);
	return rc;
}

void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	free(conf->dns.listen);
	free(conf->dns.allow_transfer);
	free(conf->dns.notify);
	free(conf->dns.notify_source);
	for (i = 0; i < conf->n_services; i++)
		free(conf->services[i].nodes);
	free(conf->services);
	memset(conf, 0, sizeof(*conf));
}

int
conf_key_info(size_t i, char *key, size_t keylen, const char **doc)
{
	if (i >= CONF_NKEYS)
		return -1;
	if (key != NULL && keylen > 0)
		conf_key_join(key, keylen, conf_keys[i].scope, conf_keys[i].name);
	if (doc != NULL)
		*doc = conf_keys[i].doc;
	return 0;
}

const struct conf_service *
conf_service_find(const struct conf *conf, const char *name)
{
	size_t i;

	if (conf == NULL || name == NULL)
		return NULL;
	for (i = 0; i < conf->n_services; i++)
		if (strcasecmp(conf->services[i].name, name) == 0)
			return &conf->services[i];
	return NULL;
}

const struct conf_node *
conf_node_find(const struct conf_service *svc, const char *name)
{
	size_t i;

	if (svc == NULL || name == NULL)
		return NULL;
	for (i = 0; i < svc->n_nodes; i++)
		if (strcasecmp(svc->nodes[i].name, name) == 0)
			return &svc->nodes[i];
	return NULL;
}
