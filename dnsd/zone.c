/*
 * zone.c - the zone's master copy: read, check, create and persist it.
 *
 * The file is RFC 1035 master format, read with ldns. It is the service's
 * state, so it is only ever replaced whole: written to a temp file beside
 * it, fsynced, renamed over the old one, and the folder fsynced. A crash
 * at any moment leaves either the old file or the new one. It never
 * writes the file in place and never touches the served snapshot: the
 * server decides when a zone read or written here is published.
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
#include "dnsd/wire.h"
#include "dnsd/zone.h"

/*
 * Is name the apex or below it? Compares the wire forms in place: ldns's
 * own subdomain test allocates per label, and this runs for every record.
 */
static int
rdf_is_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	const uint8_t	*n = ldns_rdf_data(name), *a = ldns_rdf_data(apex);
	size_t		 nlen = ldns_rdf_size(name), alen = ldns_rdf_size(apex), pos = 0;

	while (nlen - pos > alen) {
		if (n[pos] == 0 || (n[pos] & DNS_PTR_MASK))
			return 0;
		pos += 1 + n[pos];
	}
	return dns_name_equal(n + pos, nlen - pos, a, alen);
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

static const ldns_rr_list *sort_rrs;	/* for zone_owner_cmp; control thread only */

static int
zone_owner_cmp(const void *a, const void *b)
{
	return ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(sort_rrs, *(const size_t *)a)),
	    ldns_rr_owner(ldns_rr_list_rr(sort_rrs, *(const size_t *)b)));
}

/* Indexes of rrs sorted by owner name, so a name's records are adjacent. */
static size_t *
zone_sort_by_owner(const ldns_rr_list *rrs)
{
	size_t	 n = ldns_rr_list_rr_count(rrs), i;
	size_t	*idx = malloc((n ? n : 1) * sizeof(*idx));

	if (idx == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		idx[i] = i;
	sort_rrs = rrs;
	qsort(idx, n, sizeof(*idx), zone_owner_cmp);
	return idx;
}

/* 0 when the CNAME rr has no other record at its name (copies of itself aside). */
static int
zone_cname_alone(const ldns_rr_list *rrs, const size_t *byname, const ldns_rr *rr)
{
	size_t lo = 0, hi = ldns_rr_list_rr_count(rrs), k;

	/* Find the first record at the name, then walk the group. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(rrs, byname[mid])),
		    ldns_rr_owner(rr)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < ldns_rr_list_rr_count(rrs); k++) {
		const ldns_rr *other = ldns_rr_list_rr(rrs, byname[k]);

		if (ldns_dname_compare(ldns_rr_owner(other), ldns_rr_owner(rr)) != 0)
			break;
		if (other != rr && (ldns_rr_get_type(other) != LDNS_RR_TYPE_CNAME ||
		    ldns_rr_compare(other, rr) != 0))
			return -1;
	}
	return 0;
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
	size_t			 i, n = ldns_rr_list_rr_count(rrs), apex_ns = 0;
	size_t			*byname = NULL;
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
		const char	*why = NULL;

		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			why = "only class IN is served";
		else if (!rdf_is_below(owner, apex))
			why = "name is outside the zone";
		else if (type == LDNS_RR_TYPE_SOA)
			why = "a second SOA record";
		else if (ldns_dname_is_wildcard(owner))
			why = "wildcard names are not supported";
		else if (type == LDNS_RR_TYPE_NS && ldns_dname_compare(owner, apex) != 0)
			why = "delegations are not supported";
		else if (type == LDNS_RR_TYPE_DNAME)
			why = "DNAME records are not supported";
		else if (type == LDNS_RR_TYPE_CNAME && ldns_dname_compare(owner, apex) == 0)
			why = "a CNAME cannot be at the zone apex";
		if (why == NULL && type == LDNS_RR_TYPE_NS)
			apex_ns++;
		if (why == NULL && type == LDNS_RR_TYPE_CNAME) {
			/* Another record at the name: the group is contiguous in byname. */
			if (byname == NULL && (byname = zone_sort_by_owner(rrs)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			if (zone_cname_alone(rrs, byname, rr) == -1)
				why = "a CNAME must be the only record at its name";
		}
		if (why != NULL) {
			rr_describe(rr, what, sizeof(what));
			where_rr(path, lines, (ssize_t)i, at, sizeof(at));
			snprintf(err, errlen, "%s%s: %s (zone %s)", at, what, why, origin);
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
	free(byname);
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

/* ---- writing records fast ---- */

/* Append a wire-format name as presentation text; -1 if it does not fit. */
static int
fmt_dname(char **p, char *end, const uint8_t *name, size_t len)
{
	size_t pos = 0, i;

	if (len == 1 && name[0] == 0) {
		if (*p + 1 >= end)
			return -1;
		*(*p)++ = '.';
		return 0;
	}
	while (pos < len && name[pos] != 0) {
		size_t lab = name[pos];

		if (pos + 1 + lab > len)
			return -1;
		for (i = 0; i < lab; i++) {
			uint8_t c = name[pos + 1 + i];

			if (*p + 5 >= end)
				return -1;
			if (c <= ' ' || c >= 0x7f)
				*p += sprintf(*p, "\\%03u", c);
			else {
				if (strchr(".\\\"();@$", c) != NULL)
					*(*p)++ = '\\';
				*(*p)++ = (char)c;
			}
		}
		*(*p)++ = '.';
		pos += 1 + lab;
	}
	return 0;
}

/* A TXT rdata: its character-strings, quoted and escaped. */
static int
fmt_txt(char **p, char *end, const ldns_rr *rr)
{
	size_t k, i;

	for (k = 0; k < ldns_rr_rd_count(rr); k++) {
		const ldns_rdf	*rdf = ldns_rr_rdf(rr, k);
		const uint8_t	*d = ldns_rdf_data(rdf);
		size_t		 n = ldns_rdf_size(rdf);

		if (n == 0 || (size_t)d[0] + 1 != n || *p + 4 >= end)
			return -1;
		if (k > 0)
			*(*p)++ = ' ';
		*(*p)++ = '"';
		for (i = 1; i < n; i++) {
			if (*p + 6 >= end)
				return -1;
			if (d[i] < ' ' || d[i] >= 0x7f)
				*p += sprintf(*p, "\\%03u", d[i]);
			else {
				if (d[i] == '"' || d[i] == '\\')
					*(*p)++ = '\\';
				*(*p)++ = (char)d[i];
			}
		}
		*(*p)++ = '"';
	}
	return 0;
}

/*
 * One record as a master-file line. The types a service zone is made of
 * are written here directly (ldns formats through printf, far too slowly
 * for a zone rewritten on every change); any other type goes to ldns.
 * Returns the line's length, or 0 when ldns must do it.
 */
static size_t
zone_rr_format(const ldns_rr *rr, char *buf, size_t len)
{
	char			*p = buf, *end = buf + len;
	const ldns_rdf		*owner = ldns_rr_owner(rr), *rd0 = ldns_rr_rdf(rr, 0);
	ldns_rr_type		 type = ldns_rr_get_type(rr);
	const ldns_rr_descriptor *desc = ldns_rr_descript(type);
	char			 addr[INET6_ADDRSTRLEN];
	int			 n;

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || desc == NULL || rd0 == NULL ||
	    fmt_dname(&p, end, ldns_rdf_data(owner), ldns_rdf_size(owner)) == -1)
		return 0;
	n = snprintf(p, (size_t)(end - p), "\t%u\tIN\t%s\t", ldns_rr_ttl(rr), desc->_name);
	if (n < 0 || n >= end - p || p + n + 64 >= end)
		return 0;
	p += n;
	switch (type) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		if (ldns_rdf_size(rd0) != (type == LDNS_RR_TYPE_A ? 4u : 16u) ||
		    inet_ntop(type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6, ldns_rdf_data(rd0),
		    addr, sizeof(addr)) == NULL)
			return 0;
		n = snprintf(p, (size_t)(end - p), "%s", addr);
		if (n < 0 || n >= end - p)
			return 0;
		p += n;
		break;
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_PTR:
		if (ldns_rdf_get_type(rd0) != LDNS_RDF_TYPE_DNAME ||
		    fmt_dname(&p, end, ldns_rdf_data(rd0), ldns_rdf_size(rd0)) == -1)
			return 0;
		break;
	case LDNS_RR_TYPE_TXT:
		if (fmt_txt(&p, end, rr) == -1)
			return 0;
		break;
	default:
		return 0;
	}
	if (p + 2 >= end)
		return 0;
	*p++ = '\n';
	*p = '\0';
	return (size_t)(p - buf);
}

static int
rr_print_checked(FILE *fp, const ldns_rr *rr)
{
	char	 line[4096];
	size_t	 n = zone_rr_format(rr, line, sizeof(line));
	char	*s;
	int	 rc;

	if (n > 0)
		return fwrite(line, 1, n, fp) == n ? 0 : -1;
	if ((s = ldns_rr2str(rr)) == NULL)
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
	(void)setvbuf(fp, NULL, _IOFBF, 1 << 16);
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

/*
 * Two names in wire form, equal ignoring ASCII case. Cheaper than
 * ldns_dname_compare, which matters when a large update meets a large zone
 * or a change is looked for in one: equal names have equal lengths, and
 * length octets (< 64) fold to themselves, so the octets can be compared
 * one by one.
 */
int
zone_name_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	return dns_name_equal(ldns_rdf_data(a), ldns_rdf_size(a), ldns_rdf_data(b),
	    ldns_rdf_size(b));
}
