/*
 * zone.c - the zone's master copy: read, check, create and persist it.
 *
 * The file is RFC 1035 master format, read with ldns. It is the service's
 * state, so it is only ever replaced whole: written to a temp file beside
 * it, fsynced, renamed over the old one, and the folder fsynced. A crash
 * at any moment leaves either the old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conf/conf.h"
#include "dnsd/zone.h"

static int
rdf_is_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	return ldns_dname_compare(name, apex) == 0 || ldns_dname_is_subdomain(name, apex);
}

static void
rr_describe(const ldns_rr *rr, char *buf, size_t len)
{
	char *owner = ldns_rdf2str(ldns_rr_owner(rr));
	char *type = ldns_rr_type2str(ldns_rr_get_type(rr));

	snprintf(buf, len, "%s %s", owner ? owner : "?", type ? type : "?");
	free(owner);
	free(type);
}

/* Where a mistake is: "path:line: ", "path: " or nothing, as known. */
static void
where_rr(const char *path, const int *lines, ssize_t i, char *buf, size_t len)
{
	if (path != NULL && lines != NULL && i >= 0 && lines[i] > 0)
		snprintf(buf, len, "%s:%d: ", path, lines[i]);
	else if (path != NULL)
		snprintf(buf, len, "%s: ", path);
	else
		buf[0] = '\0';
}

/*
 * zone_check; with path and lines (one per record of ldns_zone_rrs), each
 * message starts with the file and line of the record at fault.
 */
static int
zone_check_lines(const ldns_zone *z, const char *origin, const char *path,
    const int *lines, char *err, size_t errlen)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(z);
	ldns_rr			*soa = ldns_zone_soa(z);
	ldns_rdf		*apex = NULL;
	size_t			 i, j, n = ldns_rr_list_rr_count(rrs), apex_ns = 0;
	char			 what[512], at[PATH_MAX + 32];
	int			 rc = -1;

	where_rr(path, lines, -1, at, sizeof(at));
	if (ldns_str2rdf_dname(&apex, origin) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "%sbad zone name %s", at, origin);
		return -1;
	}
	if (soa == NULL) {
		snprintf(err, errlen, "%sno SOA record for %s", at, origin);
		goto out;
	}
	if (ldns_dname_compare(ldns_rr_owner(soa), apex) != 0) {
		rr_describe(soa, what, sizeof(what));
		snprintf(err, errlen, "%sthe SOA record (%s) is not at the zone apex %s", at,
		    what, origin);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ldns_rr		*rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf	*owner = ldns_rr_owner(rr);
		ldns_rr_type	 type = ldns_rr_get_type(rr);

		rr_describe(rr, what, sizeof(what));
		where_rr(path, lines, (ssize_t)i, at, sizeof(at));
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			snprintf(err, errlen, "%s%s: only class IN is served", at, what);
			goto out;
		}
		if (!rdf_is_below(owner, apex)) {
			snprintf(err, errlen, "%s%s: name is outside the zone %s", at, what, origin);
			goto out;
		}
		if (type == LDNS_RR_TYPE_SOA) {
			snprintf(err, errlen, "%s%s: a second SOA record", at, what);
			goto out;
		}
		if (ldns_dname_is_wildcard(owner)) {
			snprintf(err, errlen, "%s%s: wildcard names are not supported", at, what);
			goto out;
		}
		if (type == LDNS_RR_TYPE_NS) {
			if (ldns_dname_compare(owner, apex) != 0) {
				snprintf(err, errlen, "%s%s: delegations are not supported", at, what);
				goto out;
			}
			apex_ns++;
		}
		if (type == LDNS_RR_TYPE_DNAME) {
			snprintf(err, errlen, "%s%s: DNAME records are not supported", at, what);
			goto out;
		}
		if (type != LDNS_RR_TYPE_CNAME)
			continue;
		if (ldns_dname_compare(owner, apex) == 0) {
			snprintf(err, errlen, "%s%s: a CNAME cannot be at the zone apex", at, what);
			goto out;
		}
		for (j = 0; j < n; j++) {
			ldns_rr *other = ldns_rr_list_rr(rrs, j);

			if (j == i || ldns_dname_compare(ldns_rr_owner(other), owner) != 0)
				continue;
			if (ldns_rr_get_type(other) == LDNS_RR_TYPE_CNAME &&
			    ldns_rr_compare(other, rr) == 0)
				continue;	/* the same record twice */
			snprintf(err, errlen, "%s%s: a CNAME must be the only record at its name", at, what);
			goto out;
		}
	}
	if (apex_ns == 0) {
		where_rr(path, lines, -1, at, sizeof(at));
		snprintf(err, errlen, "%sno NS record at the zone apex %s", at, origin);
		goto out;
	}
	rc = 0;
out:
	ldns_rdf_deep_free(apex);
	return rc;
}

int
zone_check(const ldns_zone *z, const char *origin, char *err, size_t errlen)
{
	return zone_check_lines(z, origin, NULL, NULL, err, errlen);
}

/*
 * ldns reads a quoted string that is never closed up to the end of the
 * file and calls it valid: find that first, and the line it opened on.
 */
static int
zone_quotes_check(FILE *fp, int *open_line)
{
	int c, line = 1, in_quote = 0, in_comment = 0, escaped = 0;

	while ((c = getc(fp)) != EOF) {
		if (escaped)
			escaped = 0;
		else if (c == '\\')
			escaped = 1;
		else if (in_comment)
			in_comment = c != '\n';
		else if (c == '"') {
			in_quote = !in_quote;
			if (in_quote)
				*open_line = line;
		} else if (c == ';' && !in_quote)
			in_comment = 1;
		if (c == '\n')
			line++;
	}
	rewind(fp);
	return in_quote ? -1 : 0;
}

/*
 * Read the records one by one (as ldns_zone_new_frm_fp_l does), keeping
 * each one's line so that every mistake can be named by its line.
 */
static ldns_zone *
zone_read(FILE *fp, const char *path, const char *origin, uint32_t default_ttl,
    int **lines_out, char *err, size_t errlen)
{
	ldns_zone	*z = ldns_zone_new();
	ldns_rdf	*my_origin = NULL, *prev = NULL;
	uint32_t	 ttl = default_ttl;
	int		 line = 0, first, *lines = NULL;
	size_t		 nlines = 0, cap = 0;
	ldns_status	 st;

	if (z == NULL || ldns_str2rdf_dname(&my_origin, origin) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "%s: bad zone name %s", path, origin);
		goto fail;
	}
	prev = ldns_rdf_clone(my_origin);
	while (!feof(fp)) {
		ldns_rr *rr = NULL;

		first = line + 1;
		st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &my_origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
			snprintf(err, errlen, "%s:%d: $INCLUDE is not supported", path, line);
			goto fail;
		}
		if (st != LDNS_STATUS_OK) {
			snprintf(err, errlen, "%s:%d: %s", path, line, ldns_get_errorstr_by_id(st));
			goto fail;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			if (ldns_zone_soa(z) != NULL) {
				snprintf(err, errlen, "%s:%d: a second SOA record", path, first);
				ldns_rr_free(rr);
				goto fail;
			}
			ldns_zone_set_soa(z, rr);
			continue;
		}
		if (nlines == cap) {
			int *p = realloc(lines, (cap = cap ? cap * 2 : 64) * sizeof(*p));

			if (p == NULL) {
				ldns_rr_free(rr);
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			lines = p;
		}
		if (!ldns_zone_push_rr(z, rr)) {
			ldns_rr_free(rr);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		lines[nlines++] = first;
	}
	ldns_rdf_deep_free(my_origin);
	ldns_rdf_deep_free(prev);
	*lines_out = lines;
	return z;
fail:
	ldns_rdf_deep_free(my_origin);
	ldns_rdf_deep_free(prev);
	ldns_zone_deep_free(z);
	free(lines);
	return NULL;
}

ldns_zone *
zone_load(const char *path, const char *origin, uint32_t default_ttl, char *err, size_t errlen)
{
	ldns_zone	*z;
	FILE		*fp;
	int		*lines = NULL, open_line = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if (zone_quotes_check(fp, &open_line) == -1) {
		snprintf(err, errlen, "%s:%d: a quoted string is never closed", path, open_line);
		fclose(fp);
		return NULL;
	}
	z = zone_read(fp, path, origin, default_ttl, &lines, err, errlen);
	fclose(fp);
	if (z == NULL)
		return NULL;
	if (zone_check_lines(z, origin, path, lines, err, errlen) == -1) {
		ldns_zone_deep_free(z);
		free(lines);
		return NULL;
	}
	free(lines);
	return z;
}

uint32_t
zone_serial(const ldns_zone *z)
{
	ldns_rr *soa = ldns_zone_soa(z);

	if (soa == NULL || ldns_rr_rd_count(soa) < 3)
		return 0;
	return ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
}

/* fsync the folder holding path, so a rename in it is durable. */
static int
fsync_dir_of(const char *path)
{
	char	 dir[PATH_MAX];
	char	*slash;
	int	 fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
rr_print_checked(FILE *fp, const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	int rc;

	if (s == NULL)
		return -1;
	rc = fputs(s, fp) < 0 ? -1 : 0;
	free(s);
	return rc;
}

int
zone_write_atomic(const ldns_zone *z, const char *path, char *err, size_t errlen)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(z);
	char			 tmp[PATH_MAX];
	FILE			*fp;
	int			 fd;
	size_t			 i;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "%s: cannot create a temp file: %s", tmp, strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0644);
	if ((fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(fp, "; the state of the service: written by redisfo-dns, serial %u\n",
	    zone_serial(z));
	if (rr_print_checked(fp, ldns_zone_soa(z)) == -1)
		goto fail;
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		if (rr_print_checked(fp, ldns_rr_list_rr(rrs, i)) == -1)
			goto fail;
	if (fflush(fp) != 0 || fsync(fd) != 0)
		goto fail;
	if (fclose(fp) != 0) {
		fp = NULL;
		goto fail;
	}
	fp = NULL;
	if (rename(tmp, path) == -1)
		goto fail;
	if (fsync_dir_of(path) == -1) {
		snprintf(err, errlen, "%s: fsync of its folder: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
	if (fp != NULL)
		fclose(fp);
	unlink(tmp);
	return -1;
}

/* Append one RR given in presentation form; -1 with err on failure. */
static int
zone_add_text(ldns_zone *z, const char *text, uint32_t ttl, char *err, size_t errlen)
{
	ldns_rr		*rr = NULL;
	ldns_status	 st = ldns_rr_new_frm_str(&rr, text, ttl, NULL, NULL);

	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "cannot build record \"%s\": %s", text,
		    ldns_get_errorstr_by_id(st));
		return -1;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
		ldns_zone_set_soa(z, rr);
	else if (!ldns_zone_push_rr(z, rr)) {
		ldns_rr_free(rr);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
zone_create_if_missing(const struct conf *conf, char *err, size_t errlen)
{
	const char	*origin = conf->dns.zone;
	const char	*path = conf->dns.zone_file;
	char		 line[1024], stamp[32], ns_addr[64] = "127.0.0.1";
	ldns_zone	*z;
	struct stat	 sb;
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i, a;
	int		 rc = -1;

	if (stat(path, &sb) == 0)
		return 0;
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((z = ldns_zone_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (conf->dns.n_listen > 0) {
		const struct sockaddr_storage *ss = &conf->dns.listen[0].ss;

		if (ss->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr != htonl(INADDR_ANY))
			inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			    ns_addr, sizeof(ns_addr));
	}
	snprintf(line, sizeof(line), "%s 3600 IN SOA ns1.%s hostmaster.%s 1 3600 600 1209600 60",
	    origin, origin, origin);
	if (zone_add_text(z, line, 3600, err, errlen) == -1)
		goto out;
	snprintf(line, sizeof(line), "%s 3600 IN NS ns1.%s", origin, origin);
	if (zone_add_text(z, line, 3600, err, errlen) == -1)
		goto out;
	snprintf(line, sizeof(line), "ns1.%s 3600 IN A %s", origin, ns_addr);
	if (zone_add_text(z, line, 3600, err, errlen) == -1)
		goto out;
	for (i = 0; i < conf->n_services; i++) {
		const struct conf_service *svc = &conf->services[i];
		const struct conf_node *node = &svc->nodes[0];

		for (a = 0; a < node->n_address; a++) {
			snprintf(line, sizeof(line), "%s.%s %d IN %s %s", svc->name, origin,
			    conf->dns.ttl, node->address[a].family == AF_INET6 ? "AAAA" : "A",
			    node->address[a].text);
			if (zone_add_text(z, line, conf->dns.ttl, err, errlen) == -1)
				goto out;
		}
		snprintf(line, sizeof(line), "_redisfo.%s.%s %d IN TXT \"primary=%s epoch=1 at=%s\"",
		    svc->name, origin, conf->dns.ttl, node->name, stamp);
		if (zone_add_text(z, line, conf->dns.ttl, err, errlen) == -1)
			goto out;
	}
	if (zone_write_atomic(z, path, err, errlen) == -1)
		goto out;
	rc = 1;
out:
	ldns_zone_deep_free(z);
	return rc;
}
