/*
 * test_conf.c - unit tests of conf/: loading, defaults, and every kind of
 * config mistake.
 *
 * Each case writes a config to a fresh temporary folder and loads it. A
 * mistake must give -1, one line naming the file, the line and the dotted
 * key, and leave the struct empty. The shipped redisfo.conf is loaded from
 * the source tree (the tests run from the top of the tree) and must
 * document every key of the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"

#define SAMPLE_CONF	"redisfo.conf"

/* A minimal valid body: lines 1-3. Tests append after it or replace it. */
#define SVC_LINE "services = ( { name = \"redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n"
#define MIN_DNS "dns = { zone = \"svc.test\"; };\n"

static char	tmpdir[64];
static char	conf_path[PATH_MAX];
static char	err[1024];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/redisfo.conf", tmpdir);
	err[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
load_text(const char *text, struct conf *conf)
{
	write_file(conf_path, text);
	return conf_load(conf_path, conf, err, sizeof(err));
}

static void
assert_conf_empty(const struct conf *conf)
{
	assert_null(conf->services);
	assert_int_equal(conf->n_services, 0);
	assert_null(conf->dns.listen);
	assert_int_equal(conf->dns.n_listen, 0);
	assert_null(conf->dns.allow_transfer);
	assert_null(conf->dns.notify);
	assert_string_equal(conf->dns.zone, "");
}

/*
 * text must fail to load with an error "<path>:<line>: <key>: ..." that
 * also holds what (if not NULL).
 */
static void
expect_error(const char *text, int line, const char *key, const char *what)
{
	struct conf	conf;
	char		want[PATH_MAX + 256];

	assert_int_equal(load_text(text, &conf), -1);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s: ", conf_path, line, key);
	else
		snprintf(want, sizeof(want), "%s: %s: ", conf_path, key);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	if (what != NULL && strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, what);
	assert_null(strchr(err, '\n'));
	assert_conf_empty(&conf);
	conf_free(&conf);
}

static uint16_t
sa_port(const struct conf_sockaddr *sa)
{
	if (sa->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&sa->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&sa->ss)->sin6_port);
}

static char *
read_all(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ good files */

static void
test_sample_loads(void **state)
{
	struct conf			 conf;
	const struct conf_service	*svc;
	const struct conf_node		*n;
	char				 cwd[PATH_MAX], want[PATH_MAX + 32];

	(void)state;
	if (conf_load(SAMPLE_CONF, &conf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_string_equal(conf.dir, cwd);
	assert_int_equal(conf.dns.n_listen, 2);
	assert_string_equal(conf.dns.listen[0].text, "127.0.0.1:5353");
	assert_int_equal(conf.dns.listen[0].ss.ss_family, AF_INET);
	assert_int_equal(sa_port(&conf.dns.listen[0]), 5353);
	assert_string_equal(conf.dns.listen[1].text, "[::1]:5353");
	assert_int_equal(conf.dns.listen[1].ss.ss_family, AF_INET6);
	assert_int_equal(conf.dns.listen[1].len, sizeof(struct sockaddr_in6));
	assert_string_equal(conf.dns.zone, "svc.test.");
	snprintf(want, sizeof(want), "%s/zones/svc.test.zone", cwd);
	assert_string_equal(conf.dns.zone_file, want);
	assert_int_equal(conf.dns.ttl, 5);
	assert_int_equal(conf.dns.workers, 1);
	assert_string_equal(conf.dns.update_key.name, "redisfo-key.");
	assert_string_equal(conf.dns.update_key.algorithm, "hmac-sha256");
	assert_int_equal(strlen(conf.dns.update_key.secret), 44);	/* 32 bytes */
	assert_int_equal(conf.dns.n_allow_transfer, 2);
	assert_string_equal(conf.dns.allow_transfer[0].text, "127.0.0.1");
	assert_string_equal(conf.dns.allow_transfer[1].text, "::1");
	assert_int_equal(conf.dns.n_notify, 0);
	assert_int_equal(conf.dns.rrl.rate, 0);
	assert_int_equal(conf.dns.rrl.slip, 2);
	assert_string_equal(conf.failover.server.text, "127.0.0.1:5353");
	assert_int_equal(sa_port(&conf.failover.server), 5353);
	assert_int_equal(conf.failover.probe_timeout_ms, 500);
	assert_int_equal(conf.failover.probes, 3);
	assert_int_equal(conf.failover.pause_timeout_ms, 2000);
	assert_int_equal(conf.failover.max_lag_bytes, 1048576);
	snprintf(want, sizeof(want), "%s/redisfo.lock", cwd);
	assert_string_equal(conf.failover.lock_file, want);
	snprintf(want, sizeof(want), "%s/redisfo-audit.log", cwd);
	assert_string_equal(conf.failover.audit_log, want);
	assert_string_equal(conf.failover.pre_hook, "");
	assert_int_equal(conf.n_services, 1);
	svc = conf_service_find(&conf, "redis");
	assert_non_null(svc);
	assert_int_equal(svc->n_nodes, 3);
	assert_string_equal(svc->nodes[0].name, "r1");
	assert_string_equal(svc->nodes[0].host, "127.0.0.2");
	assert_string_equal(svc->nodes[1].host, "127.0.0.3");
	assert_string_equal(svc->nodes[2].host, "127.0.0.4");
	n = conf_node_find(svc, "r2");
	assert_non_null(n);
	assert_int_equal(n->priority, 100);
	assert_int_equal(n->port, 6379);
	assert_int_equal(n->n_address, 1);
	assert_string_equal(n->address[0].text, "127.0.0.3");
	assert_int_equal(svc->nodes[0].priority, 0);
	assert_int_equal(conf.log.target, LOG_TARGET_STDERR);
	assert_int_equal(conf.log.level, LOG_LVL_INFO);
	conf_free(&conf);
	assert_conf_empty(&conf);
}

/* Every key of the table is described in the shipped config. */
static void
test_sample_documents_every_key(void **state)
{
	char		*text, key[128], want[160];
	const char	*doc, *leaf;
	size_t		 i;

	(void)state;
	text = read_all(SAMPLE_CONF);
	for (i = 0; conf_key_info(i, key, sizeof(key), &doc) == 0; i++) {
		assert_non_null(doc);
		assert_true(strlen(doc) > 10);
		leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
		snprintf(want, sizeof(want), "# %s:", leaf);
		if (strstr(text, want) == NULL) {
			snprintf(want, sizeof(want), "#   %s:", leaf);
			if (strstr(text, want) == NULL)
				fail_msg("%s: key %s is not documented", SAMPLE_CONF, key);
		}
	}
	assert_true(i >= 30);
	free(text);
}

static void
test_defaults(void **state)
{
	struct conf		 conf;
	const struct conf_node	*n;
	char			 want[PATH_MAX + 32];

	(void)state;
	if (load_text(MIN_DNS SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.dns.n_listen, 1);
	assert_string_equal(conf.dns.listen[0].text, "127.0.0.1:53");
	assert_int_equal(sa_port(&conf.dns.listen[0]), 53);
	assert_string_equal(conf.dns.zone, "svc.test.");
	snprintf(want, sizeof(want), "%s/svc.test.zone", conf.dir);
	assert_string_equal(conf.dns.zone_file, want);
	assert_int_equal(conf.dns.ttl, 5);
	assert_int_equal(conf.dns.negative_ttl, 5);
	assert_int_equal(conf.dns.negative_ttl_strict, 0);
	assert_int_equal(conf.dns.workers, 1);
	assert_string_equal(conf.dns.update_key.name, "");
	assert_string_equal(conf.dns.update_key.algorithm, "hmac-sha256");
	assert_string_equal(conf.dns.update_key.secret, "");
	assert_int_equal(conf.dns.n_allow_transfer, 0);
	assert_null(conf.dns.allow_transfer);
	assert_int_equal(conf.dns.n_notify, 0);
	assert_int_equal(conf.dns.rrl.rate, 0);
	assert_int_equal(conf.dns.rrl.slip, 2);
	assert_int_equal(conf.failover.server.ss.ss_family, AF_INET);
	assert_int_equal(sa_port(&conf.failover.server), 53);
	assert_int_equal(conf.failover.probe_timeout_ms, 500);
	assert_int_equal(conf.failover.probes, 3);
	assert_int_equal(conf.failover.pause_timeout_ms, 2000);
	assert_int_equal(conf.failover.max_lag_bytes, 1048576);
	snprintf(want, sizeof(want), "%s/redisfo.lock", conf.dir);
	assert_string_equal(conf.failover.lock_file, want);
	snprintf(want, sizeof(want), "%s/redisfo-audit.log", conf.dir);
	assert_string_equal(conf.failover.audit_log, want);
	assert_string_equal(conf.failover.pre_hook, "");
	assert_string_equal(conf.failover.post_hook, "");
	assert_int_equal(conf.log.target, LOG_TARGET_STDERR);
	assert_int_equal(conf.log.level, LOG_LVL_INFO);
	assert_string_equal(conf.services[0].user, "");
	assert_string_equal(conf.services[0].password, "");
	assert_int_equal(conf.services[0].line, 2);
	n = &conf.services[0].nodes[0];
	assert_int_equal(n->port, 6379);
	assert_int_equal(n->priority, 0);
	assert_int_equal(n->n_address, 1);
	assert_string_equal(n->address[0].text, "127.0.0.2");
	assert_int_equal(n->address[0].family, AF_INET);
	assert_int_equal(n->line, 2);
	conf_free(&conf);
	assert_conf_empty(&conf);
	conf_free(&conf);	/* twice is fine */
}

/* Several services, each with nodes; addresses as a string or a list. */
static void
test_services_and_addresses(void **state)
{
	struct conf			 conf;
	const struct conf_service	*svc;
	const struct conf_node		*n;

	(void)state;
	if (load_text(
	    "dns = {\n"
	    "  zone = \"Example.ORG\";\n"
	    "  listen = ( \"0.0.0.0:5300\", \"[::]\" );\n"
	    "  allow_transfer = [ \"2001:DB8::1\" ];\n"
	    "  notify = [ \"192.0.2.1\", \"[2001:db8::2]:5301\" ];\n"
	    "  update_key = { name = \"Key.Example\"; algorithm = \"HMAC-SHA512\"; secret = \"c2VjcmV0\"; };\n"
	    "  rrl = { rate = 100; slip = 0; };\n"
	    "};\n"
	    "failover = { max_lag_bytes = 4611686018427387904L; pre_hook = \"/bin/true\"; };\n"
	    "services = (\n"
	    "  { name = \"cache\"; user = \"u\"; password = \"p\"; nodes = (\n"
	    "    { name = \"a\"; host = \"::1\"; port = 7000; address = \"2001:db8::10\"; priority = 65535; },\n"
	    "    { name = \"b\"; host = \"::1\"; port = 7001; address = [ \"192.0.2.10\", \"2001:db8::11\" ]; }\n"
	    "  ); },\n"
	    "  { name = \"Sessions\"; nodes = ( { name = \"s-1\"; host = \"127.0.0.3\"; } ); }\n"
	    ");\n", &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.dns.zone, "example.org.");
	assert_string_equal(conf.dns.update_key.name, "key.example.");
	assert_string_equal(conf.dns.update_key.algorithm, "hmac-sha512");
	assert_string_equal(conf.dns.allow_transfer[0].text, "2001:db8::1");
	assert_int_equal(conf.dns.n_notify, 2);
	assert_int_equal(sa_port(&conf.dns.notify[0]), 53);
	assert_int_equal(sa_port(&conf.dns.notify[1]), 5301);
	assert_int_equal(sa_port(&conf.dns.listen[1]), 53);
	assert_int_equal(conf.dns.rrl.rate, 100);
	assert_int_equal(conf.dns.rrl.slip, 0);
	/* the first listen is a wildcard: the server is loopback, same port */
	assert_string_equal(conf.failover.server.text, "127.0.0.1:5300");
	assert_int_equal(sa_port(&conf.failover.server), 5300);
	assert_int_equal(conf.failover.max_lag_bytes, 1LL << 62);
	assert_string_equal(conf.failover.pre_hook, "/bin/true");
	assert_int_equal(conf.n_services, 2);
	svc = conf_service_find(&conf, "CACHE");
	assert_non_null(svc);
	assert_string_equal(svc->user, "u");
	assert_string_equal(svc->password, "p");
	assert_int_equal(svc->line, 11);
	n = conf_node_find(svc, "A");
	assert_non_null(n);
	assert_int_equal(n->line, 12);
	assert_int_equal(n->port, 7000);
	assert_int_equal(n->priority, 65535);
	assert_int_equal(n->n_address, 1);
	assert_string_equal(n->address[0].text, "2001:db8::10");
	n = conf_node_find(svc, "b");
	assert_int_equal(n->n_address, 2);
	assert_int_equal(n->address[0].family, AF_INET);
	assert_int_equal(n->address[1].family, AF_INET6);
	assert_null(conf_node_find(svc, "s-1"));
	assert_null(conf_service_find(&conf, "nope"));
	svc = conf_service_find(&conf, "sessions");
	assert_non_null(svc);
	assert_string_equal(svc->name, "Sessions");
	assert_non_null(conf_node_find(svc, "S-1"));
	conf_free(&conf);
}

static void
test_wildcard_v6_server(void **state)
{
	struct conf conf;

	(void)state;
	if (load_text("dns = { zone = \"svc.test.\"; listen = [ \"[::]:5353\" ]; };\n"
	    SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.failover.server.text, "[::1]:5353");
	assert_int_equal(conf.failover.server.ss.ss_family, AF_INET6);
	assert_int_equal(sa_port(&conf.failover.server), 5353);
	conf_free(&conf);
}

static void
test_zone_normalised(void **state)
{
	struct conf conf;

	(void)state;
	if (load_text("dns = { zone = \"SVC.Test\"; };\n" SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.dns.zone, "svc.test.");
	conf_free(&conf);
	if (load_text("dns = { zone = \"svc.test.\"; };\n" SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.dns.zone, "svc.test.");
	conf_free(&conf);
}

/* Relative paths are relative to the config's folder, not to the cwd. */
static void
test_relative_paths(void **state)
{
	struct conf	conf;
	char		sub[PATH_MAX], path[PATH_MAX + 32], cwd[PATH_MAX],
			real[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/my.conf", sub);
	write_file(path,
	    "dns = { zone = \"svc.test\"; zone_file = \"zones/z.zone\"; };\n"
	    "failover = { lock_file = \"/run/x.lock\"; audit_log = \"../log/a.log\"; };\n"
	    SVC_LINE);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	if (conf_load("etc/my.conf", &conf, err, sizeof(err)) != 0) {
		assert_int_equal(chdir(cwd), 0);
		fail_msg("%s", err);
	}
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(realpath(sub, real));
	assert_string_equal(conf.dir, real);
	snprintf(want, sizeof(want), "%s/my.conf", real);
	assert_string_equal(conf.path, want);
	snprintf(want, sizeof(want), "%s/zones/z.zone", real);
	assert_string_equal(conf.dns.zone_file, want);
	assert_string_equal(conf.failover.lock_file, "/run/x.lock");
	snprintf(want, sizeof(want), "%s/../log/a.log", real);
	assert_string_equal(conf.failover.audit_log, want);
	conf_free(&conf);
}

/* ------------------------------------------------------------ mistakes */

static void
test_missing_file(void **state)
{
	struct conf	conf;
	char		want[PATH_MAX + 64];

	(void)state;
	snprintf(conf_path, sizeof(conf_path), "%s/nonexistent.conf", tmpdir);
	assert_int_equal(conf_load(conf_path, &conf, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	    conf_path);
	assert_string_equal(err, want);
	assert_conf_empty(&conf);
	conf_free(&conf);
	assert_int_equal(conf_load(tmpdir, &conf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Is a directory"));
}

static void
test_syntax_error(void **state)
{
	struct conf	conf;
	char		want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(load_text("dns = {\n zone = \"svc.test\";\n ttl = = 5;\n};\n"
	    SVC_LINE, &conf), -1);
	snprintf(want, sizeof(want), "%s:3: syntax error", conf_path);
	assert_string_equal(err, want);
	assert_conf_empty(&conf);
	assert_int_equal(load_text("dns = {\n zone = \"a\";\n zone = \"b\";\n};\n", &conf), -1);
	snprintf(want, sizeof(want), "%s:3: ", conf_path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "zone: duplicate setting name"));
	/* An unclosed quote: named at its line, before libconfig loses a string. */
	assert_int_equal(load_text("dns = {\n zone = \"svc.test;\n ttl = 5;\n};\n", &conf), -1);
	snprintf(want, sizeof(want), "%s:2: a string is never closed on its line", conf_path);
	assert_string_equal(err, want);
	assert_conf_empty(&conf);
	assert_int_equal(load_text("dns = {\n zone = \"svc.test\";\n \"ttl\" = 5;\n};\n",
	    &conf), -1);
	snprintf(want, sizeof(want), "%s:3: a string where a setting name belongs", conf_path);
	assert_non_null(strstr(err, want));
	/* Strings with escapes, comments with quotes, and adjacent strings still load. */
	assert_int_equal(load_text("# a \"quote\n/* \"\n */ dns = { zone = \"svc.\" // \"\n"
	    " \"te\\\"st\"; };\n" SVC_LINE, &conf), -1);
	assert_null(strstr(err, "string"));
	conf_free(&conf);
}

static void
test_unknown_keys(void **state)
{
	(void)state;
	expect_error(MIN_DNS SVC_LINE "bogus = 1;\n", 3, "bogus", "unknown key");
	expect_error("dns = {\n zone = \"svc.test\";\n bogus = \"x\";\n};\n" SVC_LINE,
	    3, "dns.bogus", "unknown key");
	expect_error("dns = { zone = \"svc.test\";\n rrl = { rate = 1;\n burst = 2; }; };\n" SVC_LINE,
	    3, "dns.rrl.burst", "unknown key");
	expect_error("dns = { zone = \"svc.test\";\n update_key = { nam = \"k\"; }; };\n" SVC_LINE,
	    2, "dns.update_key.nam", "unknown key");
	expect_error(MIN_DNS SVC_LINE "failover = {\n probe = 3;\n};\n", 4,
	    "failover.probe", "unknown key");
	expect_error(MIN_DNS "services = ( { name = \"r\";\n pass = \"x\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].pass", "unknown key");
	expect_error(MIN_DNS "services = ( { name = \"r\"; nodes = (\n"
	    " { name = \"r1\"; host = \"127.0.0.2\"; },\n"
	    " { name = \"r2\"; host = \"127.0.0.3\";\n  weight = 3; }\n ); } );\n",
	    5, "services[0].nodes[1].weight", "unknown key");
}

static void
test_wrong_types(void **state)
{
	(void)state;
	expect_error("dns = {\n zone = \"svc.test\";\n ttl = \"5\";\n};\n" SVC_LINE,
	    3, "dns.ttl", "must be an integer");
	expect_error("dns = {\n zone = \"svc.test\";\n ttl = 5.0;\n};\n" SVC_LINE,
	    3, "dns.ttl", "must be an integer");
	expect_error("dns = {\n zone = 7;\n};\n" SVC_LINE, 2, "dns.zone",
	    "must be a string");
	expect_error("dns = {\n zone = \"svc.test\";\n listen = \"127.0.0.1\" ;\n"
	    " allow_transfer = true;\n};\n" SVC_LINE, 4, "dns.allow_transfer",
	    "must be a list of strings");
	expect_error("dns = {\n zone = \"svc.test\";\n notify = ( \"127.0.0.1\", 53 );\n};\n"
	    SVC_LINE, 3, "dns.notify[1]", "must be a string");
	expect_error("dns = {\n zone = \"svc.test\";\n rrl = 5;\n};\n" SVC_LINE,
	    3, "dns.rrl", "must be a group");
	expect_error("dns = ( 1 );\n" SVC_LINE, 1, "dns", "must be a group");
	expect_error(MIN_DNS "services = { name = \"r\"; };\n", 2, "services",
	    "must be a list of groups");
	expect_error(MIN_DNS "services = ( \"redis\" );\n", 2, "services[0]",
	    "must be a group");
	expect_error(MIN_DNS "services = ( { name = \"r\";\n nodes = ( { name = \"r1\";\n"
	    " host = \"127.0.0.2\"; port = \"6379\"; } ); } );\n", 4,
	    "services[0].nodes[0].port", "must be an integer");
	expect_error(MIN_DNS "services = ( { name = \"r\";\n nodes = ( { name = \"r1\";\n"
	    " host = \"127.0.0.2\"; address = 10; } ); } );\n", 4,
	    "services[0].nodes[0].address", "must be a string or a list of strings");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_error("dns = {\n zone = \"svc.test\";\n ttl = 0;\n};\n" SVC_LINE,
	    3, "dns.ttl", "must be between 1 and 86400 (got 0)");
	expect_error("dns = {\n zone = \"svc.test\";\n workers = 65;\n};\n" SVC_LINE,
	    3, "dns.workers", "must be between 0 and 64 (got 65)");
	expect_error("dns = {\n zone = \"svc.test\";\n rrl = { slip = 11; };\n};\n" SVC_LINE,
	    3, "dns.rrl.slip", "must be between 0 and 10 (got 11)");
	expect_error(MIN_DNS SVC_LINE "failover = {\n probes = 0;\n};\n", 4,
	    "failover.probes", "must be between 1 and 100 (got 0)");
	expect_error(MIN_DNS SVC_LINE "failover = {\n pause_timeout_ms = -5;\n};\n", 4,
	    "failover.pause_timeout_ms", "(got -5)");
	expect_error(MIN_DNS SVC_LINE "failover = {\n max_lag_bytes = 4611686018427387905L;\n};\n",
	    4, "failover.max_lag_bytes", "must be between 0 and 4611686018427387904");
	/* a plain integer over 32 bits would be wrapped by the parser */
	expect_error(MIN_DNS SVC_LINE "failover = {\n max_lag_bytes = 5000000000;\n};\n",
	    4, "failover.max_lag_bytes", "5000000000L");
	expect_error("dns = {\n zone = \"svc.test\";\n ttl = 4294967301;\n};\n" SVC_LINE,
	    3, "dns.ttl", "does not fit");
	expect_error(MIN_DNS "services = ( { name = \"r\";\n nodes = ( { name = \"r1\";\n"
	    " host = \"127.0.0.2\"; port = 65536; } ); } );\n", 4,
	    "services[0].nodes[0].port", "must be between 1 and 65535 (got 65536)");
	expect_error(MIN_DNS "services = ( { name = \"r\";\n nodes = ( { name = \"r1\";\n"
	    " host = \"127.0.0.2\"; priority = -1; } ); } );\n", 4,
	    "services[0].nodes[0].priority", "must be between 0 and 65535");
}

/* dns.negative_ttl: dns.ttl unless set, never below it. */
static void
test_negative_ttl(void **state)
{
	struct conf conf;

	(void)state;
	if (load_text("dns = { zone = \"svc.test\"; ttl = 30; };\n" SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.dns.negative_ttl, 30);
	conf_free(&conf);
	if (load_text("dns = { zone = \"svc.test\"; ttl = 30; negative_ttl = 30;\n"
	    " negative_ttl_strict = true; };\n" SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.dns.negative_ttl, 30);
	assert_int_equal(conf.dns.negative_ttl_strict, 1);
	conf_free(&conf);
	if (load_text("dns = { zone = \"svc.test\"; negative_ttl = 86400; };\n" SVC_LINE,
	    &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.dns.negative_ttl, 86400);
	conf_free(&conf);
	expect_error("dns = {\n zone = \"svc.test\";\n ttl = 30;\n negative_ttl = 29;\n};\n"
	    SVC_LINE, 4, "dns.negative_ttl", "must be between dns.ttl (30) and 86400 (got 29)");
	expect_error("dns = {\n zone = \"svc.test\";\n negative_ttl = 86401;\n};\n"
	    SVC_LINE, 3, "dns.negative_ttl", "must be between 1 and 86400 (got 86401)");
	expect_error("dns = {\n zone = \"svc.test\";\n negative_ttl_strict = 1;\n};\n"
	    SVC_LINE, 3, "dns.negative_ttl_strict", "must be true or false");
}

static void
test_bad_addresses(void **state)
{
	(void)state;
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\"; },\n"
	    "  { name = \"r2\"; host = \"foo_bar\"; }\n ); } );\n", 5,
	    "services[0].nodes[1].host",
	    "\"foo_bar\" is neither an IP address nor a host name");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r2\"; host = \"127.0.0.300\"; }\n ); } );\n", 4,
	    "services[0].nodes[0].host", "is not a valid IPv4 address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r2\"; host = \"::1::2\"; }\n ); } );\n", 4,
	    "services[0].nodes[0].host", "is not a valid IPv6 address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r2\"; host = \"a..b\"; }\n ); } );\n", 4,
	    "services[0].nodes[0].host", "has an empty label");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\";\n  address = \"127.0.0.2\"; }\n ); } );\n", 4,
	    "services[0].nodes[0].host", "missing");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\";\n"
	    "    address = [ \"10.0.0.1\",\n \"10.0.0.300\" ]; }\n ); } );\n", 6,
	    "services[0].nodes[0].address[1]", "\"10.0.0.300\" is not an IP address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\";\n"
	    "    address = \"host.example\"; }\n ); } );\n", 5,
	    "services[0].nodes[0].address", "is not an IP address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\";\n"
	    "    address = [ \"2001:db8::1\", \"2001:DB8:0::1\" ]; }\n ); } );\n", 5,
	    "services[0].nodes[0].address[1]", "duplicate address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\";\n"
	    "    address = [ \"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\", \"10.0.0.4\", \"10.0.0.5\" ]; }\n ); } );\n",
	    5, "services[0].nodes[0].address", "at most 4");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\";\n"
	    "    address = [ ]; }\n ); } );\n", 5,
	    "services[0].nodes[0].address", "at least 1");
	expect_error("dns = { zone = \"svc.test\";\n listen = [ \"127.0.0.1:53\", \"localhost:53\" ]; };\n"
	    SVC_LINE, 2, "dns.listen[1]", "\"localhost:53\" is not an IP address");
	expect_error("dns = { zone = \"svc.test\";\n listen = [ \"127.0.0.1:0\" ]; };\n"
	    SVC_LINE, 2, "dns.listen[0]", "is not an IP address");
	expect_error("dns = { zone = \"svc.test\";\n listen = [ ]; };\n"
	    SVC_LINE, 2, "dns.listen", "at least 1");
	expect_error("dns = { zone = \"svc.test\";\n listen = [ \"127.0.0.1:53\", \"127.0.0.1\" ]; };\n"
	    SVC_LINE, 2, "dns.listen[1]", "duplicate address");
	expect_error("dns = { zone = \"svc.test\";\n allow_transfer = [ \"10.0.0.0/8\" ]; };\n"
	    SVC_LINE, 2, "dns.allow_transfer[0]", "is not an IP address");
	expect_error("dns = { zone = \"svc.test\";\n notify = [ \"[10.0.0.1]:53\" ]; };\n"
	    SVC_LINE, 2, "dns.notify[0]", "is not an IP address");
	expect_error(MIN_DNS SVC_LINE "failover = {\n server = \"127.0.0.1:99999\";\n};\n",
	    4, "failover.server", "is not an IP address");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\"; },\n"
	    "  { name = \"r2\"; host = \"127.0.0.2\"; port = 6379; }\n ); } );\n", 5,
	    "services[0].nodes[1].host", "already node \"r1\"");
}

static void
test_duplicate_names(void **state)
{
	(void)state;
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n nodes = (\n"
	    "  { name = \"r1\"; host = \"127.0.0.2\"; },\n"
	    "  { name = \"r2\"; host = \"127.0.0.3\"; },\n"
	    "  { host = \"127.0.0.4\";\n    name = \"R1\"; }\n ); } );\n", 7,
	    "services[0].nodes[2].name", "duplicate node name \"R1\" (first on line 4)");
	expect_error(MIN_DNS "services = (\n"
	    " { name = \"redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); },\n"
	    " { name = \"Redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); }\n);\n",
	    4, "services[1].name", "duplicate service name \"Redis\" (first on line 3)");
}

static void
test_bad_names(void **state)
{
	(void)state;
	expect_error("dns = {\n zone = \"svc..test\";\n};\n" SVC_LINE, 2,
	    "dns.zone", "empty label");
	expect_error("dns = {\n zone = \"\";\n};\n" SVC_LINE, 2, "dns.zone",
	    "must not be empty");
	expect_error("dns = {\n zone = \".\";\n};\n" SVC_LINE, 2, "dns.zone",
	    "root");
	expect_error("dns = {\n zone = \"svc test\";\n};\n" SVC_LINE, 2,
	    "dns.zone", "not a valid domain name");
	expect_error("dns = {\n zone = \"a234567890123456789012345678901234567890123456789012345678901234.test\";\n};\n"
	    SVC_LINE, 2, "dns.zone", "longer than 63");
	expect_error("dns = {\n zone = \"" "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789.abcd" "\";\n};\n"
	    SVC_LINE, 2, "dns.zone", "longer than 253");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( {\n name = \"_redis\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].name", "not a valid name");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( {\n name = \"-redis\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].name", "not a valid name");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( {\n name = \"re.dis\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].name", "not a valid name");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( {\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 2,
	    "services[0].name", "missing");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( { name = \"redis\";\n"
	    " nodes = ( { name = \"r 1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].nodes[0].name", "not a valid name");
	expect_error("dns = { zone = \"svc.test\"; };\nservices = ( { name = \"redis\";\n"
	    " nodes = ( ); } );\n", 3, "services[0].nodes", "at least one");
	expect_error(MIN_DNS "services = ( );\n", 2, "services", "at least one");
	expect_error("dns = { zone = \"" "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789.a23456789."
	    "a23456789.a23456789.a23456789.a23456789." "\"; };\n"
	    "services = ( {\n name = \"redis\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].name", "longer than 253");
	expect_error(MIN_DNS, 0, "services", "missing");
	expect_error("dns = {\n ttl = 5;\n};\n" SVC_LINE, 1, "dns.zone", "missing");
}

static void
test_update_key(void **state)
{
	struct conf conf;

	(void)state;
	expect_error("dns = { zone = \"svc.test\";\n update_key = {\n name = \"k.\";\n"
	    " secret = \"not base64!\"; }; };\n" SVC_LINE, 4,
	    "dns.update_key.secret", "not valid base64");
	expect_error("dns = { zone = \"svc.test\";\n update_key = {\n name = \"k.\";\n"
	    " secret = \"YWJjZA\"; }; };\n" SVC_LINE, 4,
	    "dns.update_key.secret", "not valid base64");
	expect_error("dns = { zone = \"svc.test\";\n update_key = {\n name = \"k.\";\n"
	    " algorithm = \"hmac-sha3\";\n secret = \"YWJjZA==\"; }; };\n" SVC_LINE, 4,
	    "dns.update_key.algorithm", "unknown algorithm \"hmac-sha3\"");
	expect_error("dns = { zone = \"svc.test\";\n update_key = {\n name = \"k.\";\n"
	    " }; };\n" SVC_LINE, 2, "dns.update_key.secret", "missing");
	expect_error("dns = { zone = \"svc.test\";\n update_key = {\n name = \"bad..key\";\n"
	    " secret = \"YWJjZA==\"; }; };\n" SVC_LINE, 3, "dns.update_key.name",
	    "not a valid domain name");
	/* name "" means no key, whatever else is there */
	if (load_text("dns = { zone = \"svc.test\"; update_key = { name = \"\"; }; };\n"
	    SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.dns.update_key.name, "");
	conf_free(&conf);
	if (load_text("dns = { zone = \"svc.test\"; update_key = { name = \"K\"; "
	    "algorithm = \"hmac-md5\"; secret = \"YWJjZA==\"; }; };\n" SVC_LINE,
	    &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.dns.update_key.name, "k.");
	assert_string_equal(conf.dns.update_key.algorithm, "hmac-md5");
	assert_string_equal(conf.dns.update_key.secret, "YWJjZA==");
	conf_free(&conf);
}

/* log = { target; level; }: each value, any case; a wrong one names the key. */
static void
test_log(void **state)
{
	static const struct {
		const char	*target, *level;
		int		 want_target, want_level;
	} good[] = {
		{ "stderr", "error", LOG_TARGET_STDERR, LOG_LVL_ERROR },
		{ "syslog", "warning", LOG_TARGET_SYSLOG, LOG_LVL_WARN },
		{ "SysLog", "Info", LOG_TARGET_SYSLOG, LOG_LVL_INFO },
		{ "stderr", "debug", LOG_TARGET_STDERR, LOG_LVL_DEBUG },
	};
	struct conf	conf;
	char		text[512];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), MIN_DNS SVC_LINE
		    "log = { target = \"%s\"; level = \"%s\"; };\n",
		    good[i].target, good[i].level);
		if (load_text(text, &conf) != 0)
			fail_msg("%s: %s", text, err);
		assert_int_equal(conf.log.target, good[i].want_target);
		assert_int_equal(conf.log.level, good[i].want_level);
		conf_free(&conf);
	}
	/* one key set, the other one's default */
	if (load_text(MIN_DNS SVC_LINE "log = { level = \"debug\"; };\n", &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.log.target, LOG_TARGET_STDERR);
	assert_int_equal(conf.log.level, LOG_LVL_DEBUG);
	conf_free(&conf);
	if (load_text(MIN_DNS SVC_LINE "log = { };\n", &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.log.target, LOG_TARGET_STDERR);
	assert_int_equal(conf.log.level, LOG_LVL_INFO);
	conf_free(&conf);

	expect_error(MIN_DNS SVC_LINE "log = {\n level = \"verbose\";\n};\n", 4,
	    "log.level", "\"verbose\" is not \"error\", \"warning\", \"info\" or \"debug\"");
	expect_error(MIN_DNS SVC_LINE "log = {\n level = \"\";\n};\n", 4,
	    "log.level", "\"\" is not \"error\"");
	expect_error(MIN_DNS SVC_LINE "log = {\n level = 7;\n};\n", 4,
	    "log.level", "must be a string");
	expect_error(MIN_DNS SVC_LINE "log = {\n target = \"journal\";\n};\n", 4,
	    "log.target", "\"journal\" is not \"stderr\" or \"syslog\"");
	expect_error(MIN_DNS SVC_LINE "log = {\n target = [ \"syslog\" ];\n};\n", 4,
	    "log.target", "must be a string");
	expect_error(MIN_DNS SVC_LINE "log = {\n facility = \"daemon\";\n};\n", 4,
	    "log.facility", "unknown key");
	expect_error(MIN_DNS SVC_LINE "log = \"syslog\";\n", 3, "log",
	    "must be a group");
}

/* reader_name: "<name>-ro" unless set, "" for none, never another's name. */
static void
test_reader_name(void **state)
{
	struct conf	conf;
	char		text[1024];
	static const char long_name[] =
	    "r23456789012345678901234567890123456789012345678901234567890a";

	(void)state;
	if (load_text(MIN_DNS SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.services[0].reader_name, "redis-ro");
	conf_free(&conf);
	if (load_text(MIN_DNS "services = ( { name = \"redis\"; reader_name = \"\"; "
	    "nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.services[0].reader_name, "");
	conf_free(&conf);
	if (load_text(MIN_DNS "services = ( { name = \"redis\"; reader_name = \"Replicas\"; "
	    "nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.services[0].reader_name, "Replicas");
	conf_free(&conf);
	expect_error(MIN_DNS "services = (\n { name = \"redis\";\n reader_name = \"a.b\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 4,
	    "services[0].reader_name", "is not a valid name");
	/* another service's name, or its reader name */
	expect_error(MIN_DNS "services = (\n"
	    " { name = \"redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); },\n"
	    " { name = \"cache\";\n reader_name = \"REDIS\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.3\"; } ); } );\n", 5,
	    "services[1].reader_name", "\"REDIS\" is already the name of service \"redis\"");
	expect_error(MIN_DNS "services = (\n"
	    " { name = \"redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); },\n"
	    " { name = \"cache\";\n reader_name = \"redis-ro\";\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.3\"; } ); } );\n", 5,
	    "services[1].reader_name",
	    "\"redis-ro\" is already the reader_name of service \"redis\"");
	/* a service called like another's default reader name */
	expect_error(MIN_DNS "services = (\n"
	    " { name = \"redis-ro\"; nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); },\n"
	    " { name = \"redis\"; nodes = ( { name = \"r1\"; host = \"127.0.0.3\"; } ); } );\n",
	    4, "services[1].reader_name", "is already the name of service \"redis-ro\"");
	/* a 62-letter name has no default that fits a label */
	snprintf(text, sizeof(text), MIN_DNS "services = (\n { name = \"%s\"; nodes = ( "
	    "{ name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", long_name);
	expect_error(text, 3, "services[0].reader_name", "longer than a DNS label");
}

/* ------------------------------------------------------------ parsers */

/* A host name is kept as written and resolved later (checkconf stays
 * offline); an IP host still gives the default address. */
static void
test_host_names(void **state)
{
	struct conf conf;

	(void)state;
	if (load_text(MIN_DNS "services = ( { name = \"redis\"; nodes = (\n"
	    "  { name = \"r1\"; host = \"redis-1.example.\"; },\n"
	    "  { name = \"r2\"; host = \"localhost\"; address = \"192.0.2.7\"; },\n"
	    "  { name = \"r3\"; host = \"127.0.0.4\"; } ); } );\n", &conf) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.services[0].nodes[0].host, "redis-1.example.");
	assert_int_equal(conf.services[0].nodes[0].n_address, 0);
	assert_int_equal(conf.services[0].nodes[0].address_from_host, 1);
	assert_int_equal(conf.services[0].nodes[1].n_address, 1);
	assert_int_equal(conf.services[0].nodes[1].address_from_host, 0);
	assert_string_equal(conf.services[0].nodes[2].address[0].text, "127.0.0.4");
	assert_int_equal(conf.services[0].nodes[2].address_from_host, 0);
	conf_free(&conf);
}

static void
test_tls(void **state)
{
	struct conf conf;

	(void)state;
	if (load_text(MIN_DNS SVC_LINE, &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.services[0].tls.enabled, 0);
	assert_int_equal(conf.services[0].tls.verify, 1);
	assert_string_equal(conf.services[0].tls.ca_file, "");
	assert_string_equal(conf.services[0].tls.server_name, "");
	conf_free(&conf);
	if (load_text(MIN_DNS "services = ( { name = \"redis\";\n"
	    " tls = { enabled = true; ca_file = \"ca.pem\"; cert_file = \"c.pem\";\n"
	    "  key_file = \"/k.pem\"; server_name = \"redis.example\"; verify = false; };\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", &conf) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.services[0].tls.enabled, 1);
	assert_int_equal(conf.services[0].tls.verify, 0);
	assert_string_equal(conf.services[0].tls.server_name, "redis.example");
	assert_string_equal(conf.services[0].tls.key_file, "/k.pem");
	assert_true(conf.services[0].tls.ca_file[0] == '/');
	assert_non_null(strstr(conf.services[0].tls.ca_file, "/ca.pem"));
	conf_free(&conf);
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n"
	    " tls = { enabled = \"yes\"; };\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].tls.enabled", "must be true or false");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n"
	    " tls = { enabled = true; cert_file = \"c.pem\"; };\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].tls", "cert_file and key_file go together");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n"
	    " tls = { server_name = \"bad name\"; };\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].tls", "server_name \"bad name\" is neither");
	expect_error(MIN_DNS "services = ( { name = \"redis\";\n"
	    " tls = { verify = true; cipher = \"x\"; };\n"
	    " nodes = ( { name = \"r1\"; host = \"127.0.0.2\"; } ); } );\n", 3,
	    "services[0].tls.cipher", "unknown key");
}

static void
test_sockaddr_parse(void **state)
{
	struct conf_sockaddr sa;

	(void)state;
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:5353", 53, &sa), 0);
	assert_int_equal(sa.ss.ss_family, AF_INET);
	assert_int_equal(sa_port(&sa), 5353);
	assert_int_equal(sa.len, sizeof(struct sockaddr_in));
	assert_string_equal(sa.text, "127.0.0.1:5353");
	assert_int_equal(conf_sockaddr_parse("127.0.0.1", 53, &sa), 0);
	assert_int_equal(sa_port(&sa), 53);
	assert_int_equal(conf_sockaddr_parse("[::1]:5353", 53, &sa), 0);
	assert_int_equal(sa.ss.ss_family, AF_INET6);
	assert_int_equal(sa_port(&sa), 5353);
	assert_int_equal(sa.len, sizeof(struct sockaddr_in6));
	assert_int_equal(conf_sockaddr_parse("::1", 5300, &sa), 0);
	assert_int_equal(sa.ss.ss_family, AF_INET6);
	assert_int_equal(sa_port(&sa), 5300);
	assert_int_equal(conf_sockaddr_parse("[2001:db8::1]", 53, &sa), 0);
	assert_int_equal(sa_port(&sa), 53);
	assert_int_equal(conf_sockaddr_parse("0.0.0.0:1", 53, &sa), 0);
	assert_int_equal(conf_sockaddr_parse("", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:0", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:65536", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:+53", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("127.0.0.1:53x", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("[127.0.0.1]:53", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("[::1", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("[::1]x", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("[]:53", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse("localhost:53", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse(" 127.0.0.1", 53, &sa), -1);
	assert_int_equal(conf_sockaddr_parse(NULL, 53, &sa), -1);
}

static void
test_ip_parse(void **state)
{
	struct conf_ip ip;

	(void)state;
	assert_int_equal(conf_ip_parse("192.0.2.1", &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(ip.text, "192.0.2.1");
	assert_memory_equal(ip.bytes, "\xc0\x00\x02\x01", 4);
	assert_int_equal(conf_ip_parse("2001:DB8:0:0::1", &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_string_equal(ip.text, "2001:db8::1");
	assert_int_equal(ip.bytes[0], 0x20);
	assert_int_equal(ip.bytes[15], 1);
	assert_int_equal(conf_ip_parse("1.2.3", &ip), -1);
	assert_int_equal(conf_ip_parse("1.2.3.4:53", &ip), -1);
	assert_int_equal(conf_ip_parse("[::1]", &ip), -1);
	assert_int_equal(conf_ip_parse("", &ip), -1);
	assert_int_equal(conf_ip_parse("example.com", &ip), -1);
}

/*
 * Random mutations of the shipped config: each must load or fail with one
 * line that names the file; nothing may crash or leak (run it under
 * AddressSanitizer to see the latter).
 */
static void
test_mutations(void **state)
{
	static const char *const junk[] = {
		"", "\"", ";", "{", "}", "(", ")", "[", "]", "=", "0", "-1",
		"99999999999", "1L", "0x7fffffff", "1.5", "true", "\"x\"",
		"\"\"", "::", ".", "\\", "#", "/*", "\n", "@include \"x\"",
		"\"127.0.0.1:99999\"", "\"[::1]:\"", "\"0.0.0.0\"",
		"\"a..b\"", "nodes", "name", "services", "dns = {};",
	};
	struct conf	 conf;
	char		*sample, *buf;
	size_t		 len, i, at, cut, n_ok = 0, n_err = 0;
	unsigned int	 seed = 12345;
	int		 round;

	(void)state;
	sample = read_all(SAMPLE_CONF);
	len = strlen(sample);
	buf = malloc(len + 256);
	assert_non_null(buf);
	for (round = 0; round < 1500; round++) {
		at = (size_t)rand_r(&seed) % len;
		cut = (size_t)rand_r(&seed) % 8;
		if (at + cut > len)
			cut = len - at;
		i = (size_t)rand_r(&seed) % (sizeof(junk) / sizeof(junk[0]));
		memcpy(buf, sample, at);
		strcpy(buf + at, junk[i]);
		strcat(buf + at, sample + at + cut);
		memset(&conf, 0xa5, sizeof(conf));
		if (load_text(buf, &conf) == 0) {
			n_ok++;
			assert_true(conf.n_services >= 1);
			assert_true(conf.dns.n_listen >= 1);
		} else {
			n_err++;
			if (strncmp(err, conf_path, strlen(conf_path)) != 0)
				fail_msg("error \"%s\" does not name the file", err);
			assert_null(strchr(err, '\n'));
			assert_conf_empty(&conf);
		}
		conf_free(&conf);
	}
	assert_true(n_ok > 0);
	assert_true(n_err > 0);
	free(buf);
	free(sample);
}

static void
test_free_zeroed(void **state)
{
	struct conf conf;

	(void)state;
	memset(&conf, 0, sizeof(conf));
	conf_free(&conf);
	conf_free(NULL);
	assert_null(conf_service_find(&conf, "redis"));
	assert_null(conf_node_find(NULL, "r1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_loads),
		cmocka_unit_test_setup_teardown(test_reader_name, setup, teardown),
		cmocka_unit_test(test_sample_documents_every_key),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_services_and_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wildcard_v6_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zone_normalised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
		cmocka_unit_test(test_sockaddr_parse),
		cmocka_unit_test(test_ip_parse),
		cmocka_unit_test(test_free_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
