/*
 * main.c - redisfo-dns: the command table.
 *
 * Parse the global options, find the config (-c, $REDISFO_CONF,
 * ./redisfo.conf, then the one under SYSCONFDIR), load it once, set up
 * logging from it, and hand the rest of the arguments to the command's
 * handler, which lives in its own module: serve and checkconf in dnsd/,
 * the operator commands in failover/.
 * It is the command line of conf/, the base layer shared by dnsd/ and
 * failover/, and the one file of conf/ that calls into them. It never
 * does a command's work itself, and reads the config once (a command that
 * loads a large zone starts again first, on huge pages): the path it was
 * read from travels in conf->path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "conf/version.h"
#include "dnsd/server.h"
#include "dnsd/stats.h"
#include "failover/commands.h"
#include "failover/sentinel.h"


/* make passes the SYSCONFDIR that make install puts the config under. */
#ifndef REDISFO_SYSCONFDIR
#define REDISFO_SYSCONFDIR	"/etc"
#endif
#define REDISFO_CONF_ENV	"REDISFO_CONF"
#define HUGE_ZONE_BYTES		(1 << 20)	/* about 5,000 services */
#define REDISFO_CONF_LOCAL	"redisfo.conf"
#define REDISFO_CONF_SYSTEM	REDISFO_SYSCONFDIR "/redisfo-dns/redisfo.conf"

struct command {
	const char	*name;
	int		(*fn)(const struct conf *, int, char **);
	const char	*args;		/* what follows the name */
	const char	*about;
	int		 nagios;	/* speaks plugin conventions: a bad config is UNKNOWN */
	int		 zone;		/* loads the whole zone: huge pages for its heap */
};

/* Bytes in the file at path; 0 when there is none. */
static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

static const struct command commands[] = {
	{ "serve",	cmd_serve,	"",
	    "run the DNS server in the foreground", 0, 1 },
	{ "switch",	cmd_switch,	"[SERVICE] [--to NODE] [--force] [--dry-run] [-y]",
	    "move the primary to a replica, and the record with it", 0, 0 },
	{ "rejoin",	cmd_rejoin,	"[SERVICE] NODE",
	    "make a recovered node a replica of the served primary", 0, 0 },
	{ "status",	cmd_status,	"[SERVICE] [--json]",
	    "nodes, served record, verdict", 0, 0 },
	{ "check",	cmd_check,	"[SERVICE] [-w BYTES] [-c BYTES] [-t SECONDS] [-V]",
	    "monitoring check (Nagios plugin conventions)", 1, 0 },
	{ "readers",	cmd_readers,	"[SERVICE]",
	    "refresh the reader record from a probe (every service without SERVICE)", 0, 0 },
	{ "sentinel-reconfig", cmd_sentinel_reconfig,
	    "MASTER-NAME ROLE STATE FROM-IP FROM-PORT TO-IP TO-PORT",
	    "Sentinel's client-reconfig-script: move the record to TO (exit 1 retry, 2 do not)", 0, 0 },
	{ "checkconf",	cmd_checkconf,	"",
	    "validate the config and the zone", 0, 1 },
	{ "stats",	cmd_stats,	"",
	    "the running server's counters, from dns.metrics_listen", 0, 0 },
};

/* serve reads the config again on SIGHUP: from the file conf_load read. */
/*
 * The config file to read: the -c file (opt, NULL when not given), else
 * $REDISFO_CONF when set and not empty, else ./redisfo.conf when there is
 * anything by that name, else the one under SYSCONFDIR. how says, for an
 * error message, which step chose it and which were passed over; "" for -c.
 */
static const char *
conf_locate(const char *opt, char *how, size_t howlen)
{
	const char	*env = getenv(REDISFO_CONF_ENV);
	struct stat	 st;

	how[0] = '\0';
	if (opt != NULL)
		return opt;
	if (env != NULL && env[0] != '\0') {
		snprintf(how, howlen, " (from $" REDISFO_CONF_ENV "; no -c)");
		return env;
	}
	if (lstat(REDISFO_CONF_LOCAL, &st) == 0) {
		snprintf(how, howlen, " (./" REDISFO_CONF_LOCAL "; no -c, no $"
		    REDISFO_CONF_ENV ")");
		return REDISFO_CONF_LOCAL;
	}
	snprintf(how, howlen, " (no -c, no $" REDISFO_CONF_ENV ", no ./"
	    REDISFO_CONF_LOCAL ")");
	return REDISFO_CONF_SYSTEM;
}

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: redisfo-dns [-c FILE] [-v|-q] COMMAND [ARGS]\n"
	    "       redisfo-dns --help | --version\n\n"
	    "  -c FILE   config file; without it $" REDISFO_CONF_ENV ", else\n"
	    "            ./" REDISFO_CONF_LOCAL " if it exists, else\n"
	    "            " REDISFO_CONF_SYSTEM "\n"
	    "  -v, -q    more or less logging than log.level (each once or more)\n"
	    "  COMMAND --help   that command's usage\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s%s%s\n        %s\n", commands[i].name,
		    commands[i].args[0] ? " " : "", commands[i].args, commands[i].about);
}

int
main(int argc, char **argv)
{
	const struct command	*cmd = NULL;
	const char		*conf_opt = NULL, *conf_file;
	struct conf		 conf;
	char			 err[1024], how[96];
	int			 i, rc, verbosity = 0;
	size_t			 j;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "redisfo-dns: -c needs a file\n");
				return 2;
			}
			conf_opt = argv[++i];
		}
		else if (strcmp(argv[i], "-v") == 0)
			verbosity++;
		else if (strcmp(argv[i], "-q") == 0)
			verbosity--;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("redisfo-dns %s\n", REDISFO_VERSION);
			return 0;
		} else {
			fprintf(stderr, "redisfo-dns: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	/* until the config says otherwise: stderr, info moved by -v and -q */
	log_set_target(LOG_TARGET_STDERR);
	log_set_level(LOG_LVL_INFO + verbosity);
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (j = 0; j < sizeof(commands) / sizeof(commands[0]); j++)
		if (strcmp(argv[i], commands[j].name) == 0)
			cmd = &commands[j];
	if (cmd == NULL) {
		fprintf(stderr, "redisfo-dns: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	for (j = (size_t)i + 1; j < (size_t)argc; j++)
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			printf("usage: redisfo-dns [-c FILE] %s%s%s\n  %s\n", cmd->name,
			    cmd->args[0] ? " " : "", cmd->args, cmd->about);
			return 0;
		}
	conf_file = conf_locate(conf_opt, how, sizeof(how));
	if (conf_load(conf_file, &conf, err, sizeof(err)) == -1) {
		if (cmd->nagios) {
			printf("REDISFO UNKNOWN - %s%s\n", err, how);
			return 3;
		}
		fprintf(stderr, "redisfo-dns: %s%s\n", err, how);
		return 2;
	}
	/* A zone too large for a few pages of heap: load it on huge ones. */
	if (cmd->zone && file_size(conf.dns.zone_file) >= HUGE_ZONE_BYTES) {
		conf_free(&conf);
		heap_hugepages(argv);
		if (conf_load(conf_file, &conf, err, sizeof(err)) == -1) {
			fprintf(stderr, "redisfo-dns: %s%s\n", err, how);
			return 2;
		}
	}
	log_set_level(conf.log.level + verbosity);
	log_set_target((enum log_target)conf.log.target);
	rc = cmd->fn(&conf, argc - i - 1, argv + i + 1);
	conf_free(&conf);
	return rc;
}
