/*
 * main.c - redisfo-dns: the command table.
 *
 * Parse the global options, load the config once, and hand the rest of the
 * arguments to the command's handler, which lives in its own module:
 * serve and checkconf in dnsd/, the operator commands in failover/.
 * It is the command line of conf/, the base layer shared by dnsd/ and
 * failover/, and the one file of conf/ that calls into them. It never
 * does a command's work itself, and reads the config once: the path it
 * was read from travels in conf->path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/version.h"
#include "dnsd/server.h"
#include "failover/commands.h"

struct command {
	const char	*name;
	int		(*fn)(const struct conf *, int, char **);
	const char	*args;		/* what follows the name */
	const char	*about;
	int		 nagios;	/* speaks plugin conventions: a bad config is UNKNOWN */
};

static int	cmd_serve_main(const struct conf *conf, int argc, char **argv);

static const struct command commands[] = {
	{ "serve",	cmd_serve_main,	"",
	    "run the DNS server in the foreground", 0 },
	{ "switch",	cmd_switch,	"[SERVICE] [--to NODE] [--force] [--dry-run] [-y]",
	    "move the primary to a replica, and the record with it", 0 },
	{ "rejoin",	cmd_rejoin,	"[SERVICE] NODE",
	    "make a recovered node a replica of the served primary", 0 },
	{ "status",	cmd_status,	"[SERVICE] [--json]",
	    "nodes, served record, verdict", 0 },
	{ "check",	cmd_check,	"[SERVICE]",
	    "monitoring check (Nagios plugin conventions)", 1 },
	{ "checkconf",	cmd_checkconf,	"",
	    "validate the config and the zone", 0 },
};

/* serve reads the config again on SIGHUP: from the file conf_load read. */
static int
cmd_serve_main(const struct conf *conf, int argc, char **argv)
{
	return cmd_serve(conf, conf->path, argc, argv);
}

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: redisfo-dns [-c FILE] [-v|-q] COMMAND [ARGS]\n"
	    "       redisfo-dns --help | --version\n\n"
	    "  -c FILE   config file (default ./redisfo.conf)\n"
	    "  -v, -q    more or less logging\n"
	    "  COMMAND --help   that command's usage\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s%s%s\n        %s\n", commands[i].name,
		    commands[i].args[0] ? " " : "", commands[i].args, commands[i].about);
}

int
main(int argc, char **argv)
{
	const struct command	*cmd = NULL;
	const char		*conf_file = "redisfo.conf";
	struct conf		 conf;
	char			 err[1024];
	int			 i, rc, level = LOG_LVL_INFO;
	size_t			 j;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "redisfo-dns: -c needs a file\n");
				return 2;
			}
			conf_file = argv[++i];
		}
		else if (strcmp(argv[i], "-v") == 0)
			level++;
		else if (strcmp(argv[i], "-q") == 0)
			level--;
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
	log_set_level(level);
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
	if (conf_load(conf_file, &conf, err, sizeof(err)) == -1) {
		if (cmd->nagios) {
			printf("REDISFO UNKNOWN - %s\n", err);
			return 3;
		}
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 2;
	}
	rc = cmd->fn(&conf, argc - i - 1, argv + i + 1);
	conf_free(&conf);
	return rc;
}
