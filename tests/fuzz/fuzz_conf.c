/*
 * fuzz_conf.c - redisfo.conf on hostile text: conf_load() on a file in a
 * private folder, then the lookups over what it loaded.
 *
 * A config that loads is one the server starts with, and the server's
 * first act is to create the zone from it when the file is missing: so
 * when the zone file would be in the private folder, the zone is created
 * there and must load back with the config's zone and TTL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "dnsd/zone.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is path a file directly in dir (so creating it touches nothing else)? */
static int
path_is_in(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/' &&
	    strchr(path + n + 1, '/') == NULL && strcmp(path + n + 1, "..") != 0 &&
	    strcmp(path + n + 1, ".") != 0 && path[n + 1] != '\0' &&
	    strcmp(path + n + 1, "redisfo.conf") != 0;
}

static void
check_zone_created(const struct conf *conf)
{
	ldns_zone	*z;
	char		 err[1024];
	int		 rc;

	if (!path_is_in(conf->dns.zone_file, fuzz_dir()))
		return;
	(void)unlink(conf->dns.zone_file);
	rc = zone_create_if_missing(conf, err, sizeof(err));
	if (rc == 1) {
		z = zone_load(conf->dns.zone_file, conf->dns.zone, (uint32_t)conf->dns.ttl,
		    err, sizeof(err));
		if (z == NULL) {
			fprintf(stderr, "the zone created from a loaded config does not "
			    "load: %s\n", err);
			abort();
		}
		ldns_zone_deep_free(z);
	}
	(void)unlink(conf->dns.zone_file);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 path[300];
	struct conf	 conf;
	char		 err[1024], key[256];
	const char	*doc;
	size_t		 i, j;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/redisfo.conf", fuzz_dir());
	fuzz_write_file(path, data, size);
	if (conf_load(path, &conf, err, sizeof(err)) != 0) {
		if (err[0] == '\0') {
			fprintf(stderr, "conf_load failed without a message\n");
			abort();
		}
		conf_free(&conf);
		return 0;
	}
	if (conf.dns.n_listen == 0 || conf.n_services == 0) {
		fprintf(stderr, "a loaded config without a listen address or a service\n");
		abort();
	}
	for (i = 0; i < conf.n_services; i++) {
		if (conf_service_find(&conf, conf.services[i].name) == NULL)
			abort();
		for (j = 0; j < conf.services[i].n_nodes; j++)
			if (conf_node_find(&conf.services[i], conf.services[i].nodes[j].name) == NULL)
				abort();
	}
	for (i = 0; conf_key_info(i, key, sizeof(key), &doc) == 0; i++)
		;
	check_zone_created(&conf);
	conf_free(&conf);
	return 0;
}
