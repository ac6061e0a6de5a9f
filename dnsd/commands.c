/*
 * commands.c - the commands of dnsd: `serve` and `checkconf`.
 *
 * conf/main.c's command table hands them the loaded config and their own
 * arguments. They check those, load the zone the way both must (a zone
 * that does not load or compile is a configuration error, exit 2), and
 * for `serve` hand it to the server (server.c), which runs until a signal.
 * A zone whose negative TTL is above dns.negative_ttl is served, with a
 * warning (checkconf on stderr, serve in its log).
 * They are the only code in dnsd/ that decides an exit code; checkconf
 * prints its verdict on stdout, serve logs through conf/log.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "dnsd/server.h"
#include "dnsd/server_int.h"
#include "dnsd/snapshot.h"
#include "dnsd/store.h"
#include "dnsd/update.h"
#include "dnsd/zone.h"

int
cmd_serve(const struct conf *conf, int argc, char **argv)
{
	char		 err[1024];
	ldns_zone	*z;
	int		 created;

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "usage: redisfo-dns [-c FILE] serve\n");
		return 2;
	}
	/* A zone_file that can never be written is a configuration error. */
	if (zone_file_folder_check(conf->dns.zone_file, err, sizeof(err)) == -1) {
		log_errorx("dns.zone_file %s", err);
		return 2;
	}
	if ((created = zone_create_if_missing(conf, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		return 1;
	}
	if (created)
		log_info("created %s from the config", conf->dns.zone_file);
	/* A zone that cannot be served is a configuration error, as in checkconf. */
	if ((z = zone_load(conf->dns.zone_file, conf->dns.zone, (uint32_t)conf->dns.ttl,
	    err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		return 2;
	}
	if (zone_negative_ttl_check(ldns_zone_soa(z), conf->dns.zone_file, (uint32_t)conf->dns.negative_ttl,
	    err, sizeof(err)))
		log_warnx("%s", err);
	return server_run(conf, z);
}

/*
 * A service whose nodes listen on different ports works for clients that
 * read its SRV record, and breaks the others at a switch: a warning, not
 * an error.
 */
static void
checkconf_warn_ports(const struct conf *conf)
{
	size_t i, j;

	for (i = 0; i < conf->n_services; i++) {
		const struct conf_service *svc = &conf->services[i];

		for (j = 1; j < svc->n_nodes; j++)
			if (svc->nodes[j].port != svc->nodes[0].port)
				break;
		if (j == svc->n_nodes)
			continue;
		fprintf(stderr, "redisfo-dns: warning: service %s: node %s listens on port "
		    "%d and node %s on %d: after a switch, clients that ignore the SRV "
		    "record _redis._tcp.%s.%s connect to the wrong port\n", svc->name,
		    svc->nodes[0].name, svc->nodes[0].port, svc->nodes[j].name,
		    svc->nodes[j].port, svc->name, conf->dns.zone);
	}
}

int
cmd_checkconf(const struct conf *conf, int argc, char **argv)
{
	struct snapshot	*snap;
	ldns_zone	*z;
	char		 err[1024];

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "usage: redisfo-dns [-c FILE] checkconf\n");
		return 2;
	}
	if (zone_file_folder_check(conf->dns.zone_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "redisfo-dns: dns.zone_file %s\n", err);
		return 2;
	}
	checkconf_warn_ports(conf);
	/* What the zone's replay cache holds is state too: serve refuses a bad one. */
	if (update_replay_check(conf->dns.zone_file, conf->dns.zone, err, sizeof(err)) == -1) {
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 2;
	}
	if (access(conf->dns.zone_file, F_OK) == -1 && errno == ENOENT) {
		printf("configuration OK (zone file %s does not exist yet: serve creates it)\n",
		    conf->dns.zone_file);
		return 0;
	}
	if ((z = zone_load(conf->dns.zone_file, conf->dns.zone, (uint32_t)conf->dns.ttl,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 2;
	}
	/* Worth knowing, not an error: the zone serves, only a switch is slower to be seen. */
	if (zone_negative_ttl_check(ldns_zone_soa(z), conf->dns.zone_file, (uint32_t)conf->dns.negative_ttl,
	    err, sizeof(err)))
		fprintf(stderr, "redisfo-dns: warning: %s\n", err);
	if ((snap = snapshot_build(z, conf->dns.zone, err, sizeof(err))) == NULL) {
		ldns_zone_deep_free(z);
		fprintf(stderr, "redisfo-dns: %s: %s\n", conf->dns.zone_file, err);
		return 2;
	}
	snapshot_own_zone(snap, z);
	/* The journal's changes must apply to the file, as serve will apply them. */
	if (store_open(NULL, &conf->dns, &snap, NULL, NULL, err, sizeof(err)) == -1) {
		snapshot_free(snap);
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 2;
	}
	snapshot_free(snap);
	printf("configuration OK\n");
	return 0;
}
