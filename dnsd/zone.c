/*
 * zone.c - the zone's master copy: read, check, create and persist it.
 *
 * The file is RFC 1035 master format, read with ldns. It is the service's
 * state, so it is only ever replaced whole: written to a temp file beside
 * it, fsynced, renamed over the old one, and the folder fsynced. A crash
 * at any moment leaves either the old file or the new one. It never
 * writes the file in place and never touches the served snapshot: the
 * server decides when a zone read or written here is published.
 *
 * What is written must load back as the same records, so names and
 * character-strings are spelled here (ldns's printer leaves some octets
 * bare) and anything ldns would print wrongly goes in RFC 3597 generic
 * form; zone_rr_roundtrip() is the check that whatever the server takes
 * in (a loaded zone, an UPDATE) passes through that text unchanged.
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

/* ---- presentation text of names and strings ---- */

/* A growing text buffer; oom is sticky, so callers check once at the end. */
struct ztext {
	char	*p;
	size_t	 len, cap;
	int	 oom;
	int	 origin_moved;	/* a "$ORIGIN" line was written for a long owner */
};

static int
zt_reserve(struct ztext *t, size_t more)
{
	char	*np;
	size_t	 ncap;

	if (t->oom)
		return -1;
	if (t->len + more + 1 <= t->cap)
		return 0;
	for (ncap = t->cap ? t->cap : 1024; ncap < t->len + more + 1; ncap *= 2)
		;
	if ((np = realloc(t->p, ncap)) == NULL) {
		t->oom = 1;
		return -1;
	}
	t->p = np;
	t->cap = ncap;
	return 0;
}

static void
zt_put(struct ztext *t, const char *s, size_t n)
{
	if (zt_reserve(t, n) == -1)
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
zt_puts(struct ztext *t, const char *s)
{
	zt_put(t, s, strlen(s));
}

static void
zt_octet(struct ztext *t, uint8_t c)
{
	char b[5];

	snprintf(b, sizeof(b), "\\%03u", c);
	zt_put(t, b, 4);
}

/*
 * A name in wire form as absolute presentation text. Every octet that
 * means something to a master-file reader is escaped: the label separator,
 * the quote, the backslash, parentheses, the comment sign, @ and $ (an
 * owner starting with them is the origin or a directive); space, control
 * and non-ASCII octets as \DDD.
 */
static void
zt_name(struct ztext *t, const uint8_t *name, size_t len)
{
	size_t pos = 0, i;

	if (len == 0 || name[0] == 0) {
		zt_put(t, ".", 1);
		return;
	}
	while (pos < len && name[pos] != 0) {
		size_t lab = name[pos];

		for (i = 0; i < lab && pos + 1 + i < len; i++) {
			uint8_t c = name[pos + 1 + i];

			if (c <= ' ' || c >= 0x7f)
				zt_octet(t, c);
			else {
				char e[2] = { '\\', (char)c };

				if (strchr(".\\\"();@$", c) != NULL)
					zt_put(t, e, 2);
				else
					zt_put(t, e + 1, 1);
			}
		}
		zt_put(t, ".", 1);
		pos += 1 + lab;
	}
}

/* A character-string (length octet first), quoted; only " and \ need a backslash inside quotes. */
static void
zt_string(struct ztext *t, const uint8_t *d, size_t n)
{
	size_t i;

	zt_put(t, "\"", 1);
	for (i = 1; i < n; i++) {
		if (d[i] < ' ' || d[i] >= 0x7f)
			zt_octet(t, d[i]);
		else {
			char e[2] = { '\\', (char)d[i] };

			if (d[i] == '"' || d[i] == '\\')
				zt_put(t, e, 2);
			else
				zt_put(t, e + 1, 1);
		}
	}
	zt_put(t, "\"", 1);
}

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

/* "owner TYPE" for messages, the owner escaped as the zone file has it. */
static void	rr_describe(const ldns_rr *rr, char *buf, size_t len);
/* Can every record of z be written back (as zone_write_atomic does)? 0 or -1 with err. */
static int	zone_check_writable(const ldns_zone *z, const char *path, const int *lines,
		    char *err, size_t errlen);

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

static int
zone_cname_cmp(const void *a, const void *b)
{
	return zone_owner_cmp(a, b);
}

/* The CNAME in cn (indexes of rrs, sorted by owner) owned by name; -1 if none. */
static ssize_t
zone_cname_find(const ldns_rr_list *rrs, const size_t *cn, size_t n, const ldns_rdf *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t	mid = (lo + hi) / 2;
		int	c = ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(rrs, cn[mid])), name);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * A chain of CNAMEs that comes back to a name on it (a name pointing at
 * itself included) answers no query. Returns the index in rrs of a CNAME
 * on such a loop and writes the loop into chain, or -1 when there is none
 * (-2: out of memory). Each CNAME is walked once.
 */
static ssize_t
zone_cname_loop(const ldns_rr_list *rrs, char *chain, size_t chainlen)
{
	size_t		 n = ldns_rr_list_rr_count(rrs), i, ncn = 0, k;
	size_t		*cn = malloc((n ? n : 1) * sizeof(*cn));
	uint8_t		*state = NULL;	/* 0 not seen, 1 on the walk now, 2 done */
	ssize_t		 at, found = -1;

	if (cn == NULL || (state = calloc(n ? n : 1, 1)) == NULL) {
		free(cn);
		return -2;
	}
	for (i = 0; i < n; i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(rrs, i)) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_rd_count(ldns_rr_list_rr(rrs, i)) == 1)
			cn[ncn++] = i;
	sort_rrs = rrs;
	qsort(cn, ncn, sizeof(*cn), zone_cname_cmp);
	for (k = 0; k < ncn && found < 0; k++) {
		if (state[k] != 0)
			continue;
		for (at = (ssize_t)k; at >= 0 && state[at] == 0; ) {
			state[at] = 1;
			at = zone_cname_find(rrs, cn, ncn,
			    ldns_rr_rdf(ldns_rr_list_rr(rrs, cn[at]), 0));
		}
		if (at >= 0 && state[at] == 1) {
			/* Back on this walk: at is on the loop; spell it out from there. */
			struct ztext	t = { NULL, 0, 0, 0, 0 };
			ssize_t		j = at;

			found = (ssize_t)cn[at];
			do {
				const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(rrs, cn[j]));

				zt_name(&t, ldns_rdf_data(o), ldns_rdf_size(o));
				zt_puts(&t, " -> ");
				j = zone_cname_find(rrs, cn, ncn,
				    ldns_rr_rdf(ldns_rr_list_rr(rrs, cn[j]), 0));
			} while (j != at && j >= 0);
			{
				const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(rrs, cn[at]));

				zt_name(&t, ldns_rdf_data(o), ldns_rdf_size(o));
			}
			snprintf(chain, chainlen, "%s", t.oom || t.p == NULL ? "?" : t.p);
			free(t.p);
		}
		/* Everything walked is settled: on a loop (reported) or leading out. */
		for (i = 0; i < ncn; i++)
			if (state[i] == 1)
				state[i] = 2;
	}
	free(cn);
	free(state);
	return found;
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
	{
		char	chain[512];
		ssize_t	loop = zone_cname_loop(rrs, chain, sizeof(chain));

		if (loop == -2) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (loop >= 0) {
			rr_describe(ldns_rr_list_rr(rrs, (size_t)loop), what, sizeof(what));
			where_rr(path, lines, loop, at, sizeof(at));
			snprintf(err, errlen, "%s%s: a CNAME loop, no name on it has an answer: "
			    "%s (zone %s)", at, what, chain, origin);
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
 * file and calls it valid, and an opening parenthesis that is never
 * closed swallows every line after it into one record. Find those first,
 * with the line each opened on: 0, or -1 with err.
 */
static int
zone_brackets_check(FILE *fp, const char *path, char *err, size_t errlen)
{
	int c, line = 1, in_quote = 0, in_comment = 0, escaped = 0;
	int quote_line = 0, paren_line = 0;

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
				quote_line = line;
		} else if (c == ';' && !in_quote)
			in_comment = 1;
		else if (c == '(' && !in_quote) {
			if (paren_line > 0) {
				snprintf(err, errlen, "%s:%d: a parenthesis opened inside the "
				    "one opened on line %d (is a ')' missing there?)", path, line,
				    paren_line);
				goto fail;
			}
			paren_line = line;
		} else if (c == ')' && !in_quote) {
			if (paren_line == 0) {
				snprintf(err, errlen, "%s:%d: a ')' without a '(' before it",
				    path, line);
				goto fail;
			}
			paren_line = 0;
		}
		if (c == '\n')
			line++;
	}
	if (in_quote) {
		snprintf(err, errlen, "%s:%d: a quoted string is never closed", path, quote_line);
		goto fail;
	}
	if (paren_line > 0) {
		snprintf(err, errlen, "%s:%d: a parenthesis is never closed (every line after "
		    "it would be read as part of that record)", path, paren_line);
		goto fail;
	}
	rewind(fp);
	return 0;
fail:
	rewind(fp);
	return -1;
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
	int		*lines = NULL;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if (zone_brackets_check(fp, path, err, errlen) == -1) {
		fclose(fp);
		return NULL;
	}
	z = zone_read(fp, path, origin, default_ttl, &lines, err, errlen);
	fclose(fp);
	if (z == NULL)
		return NULL;
	if (zone_check_lines(z, origin, path, lines, err, errlen) == -1 ||
	    zone_check_writable(z, path, lines, err, errlen) == -1) {
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

/* ---- writing records: presentation text that reads back the same ---- */

/*
 * ldns reads an owner of at most 254 characters of text, whatever the name
 * it stands for; a name of 255 octets escaped as \DDD takes about 1000.
 * Such an owner is written as "$ORIGIN <name>" and "@", which ldns reads
 * with its name parser (4 characters per octet allowed). The record's
 * presentation data, all fields together, is read into 65535 characters.
 */
#define ZT_OWNER_MAX	254
#define ZT_RDATA_MAX	65535

/*
 * One field written here, or -1 for a field type left to ldns. Numbers and
 * addresses have one spelling; names and strings are escaped above.
 */
static int
zt_rdf(struct ztext *t, const ldns_rdf *rdf)
{
	const uint8_t	*d = ldns_rdf_data(rdf);
	size_t		 n = ldns_rdf_size(rdf);
	char		 b[INET6_ADDRSTRLEN];

	switch (ldns_rdf_get_type(rdf)) {
	case LDNS_RDF_TYPE_DNAME:
		zt_name(t, d, n);
		return 0;
	case LDNS_RDF_TYPE_INT8:
		if (n != 1)
			return -1;
		snprintf(b, sizeof(b), "%u", d[0]);
		break;
	case LDNS_RDF_TYPE_INT16:
		if (n != 2)
			return -1;
		snprintf(b, sizeof(b), "%u", ldns_rdf2native_int16(rdf));
		break;
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_PERIOD:
		if (n != 4)
			return -1;
		snprintf(b, sizeof(b), "%u", ldns_rdf2native_int32(rdf));
		break;
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_AAAA:
		if (n != (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A ? 4u : 16u) ||
		    inet_ntop(n == 4 ? AF_INET : AF_INET6, d, b, sizeof(b)) == NULL)
			return -1;
		break;
	case LDNS_RDF_TYPE_STR:
		if (n == 0 || (size_t)d[0] + 1 != n)
			return -1;
		zt_string(t, d, n);
		return 0;
	default:
		return -1;
	}
	zt_puts(t, b);
	return 0;
}

/* RFC 3597: "\# <length> <hex>", the one form every reader takes for any type. */
static int
zt_generic(struct ztext *t, const ldns_rr *rr)
{
	static const char hex[] = "0123456789abcdef";
	char	 b[32];
	size_t	 k, i, total = 0;

	for (k = 0; k < ldns_rr_rd_count(rr); k++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, k));
	if (total > 65535)
		return -1;
	snprintf(b, sizeof(b), "\\# %zu", total);
	zt_puts(t, b);
	if (total > 0)
		zt_put(t, " ", 1);
	for (k = 0; k < ldns_rr_rd_count(rr); k++) {
		const uint8_t	*d = ldns_rdf_data(ldns_rr_rdf(rr, k));
		size_t		 n = ldns_rdf_size(ldns_rr_rdf(rr, k));

		if (zt_reserve(t, 2 * n) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			t->p[t->len++] = hex[d[i] >> 4];
			t->p[t->len++] = hex[d[i] & 15];
		}
		t->p[t->len] = '\0';
	}
	return 0;
}

/* The data of rr read back from text, and rr, the same to the octet? */
static int zone_rr_text_same(const ldns_rr *rr, const char *text, size_t len,
    char *why, size_t whylen);

enum zt_form { ZT_OWN, ZT_LDNS, ZT_GENERIC };

/*
 * The owner, TTL, class and type of rr; then its data in the form asked.
 * ZT_LDNS writes the fields ldns knows how to print with ldns (names
 * and strings always here).
 */
static int
zt_record(struct ztext *t, const ldns_rr *rr, enum zt_form form)
{
	const ldns_rdf			*owner = ldns_rr_owner(rr);
	const ldns_rr_descriptor	*desc = ldns_rr_descript(ldns_rr_get_type(rr));
	size_t				 start = t->len, mark, k;
	char				 b[64];

	zt_name(t, ldns_rdf_data(owner), ldns_rdf_size(owner));
	if (t->len - start > ZT_OWNER_MAX) {
		/* Too long for ldns's owner field: say it as the origin. */
		mark = t->len;
		if (zt_reserve(t, 9) == -1)
			return -1;
		memmove(t->p + start + 8, t->p + start, mark - start);
		memcpy(t->p + start, "$ORIGIN ", 8);
		t->len += 8;
		zt_puts(t, "\n@");
		t->origin_moved = 1;
	}
	if (desc != NULL && desc->_name != NULL && ldns_rr_get_type(rr) != 0)
		snprintf(b, sizeof(b), "\t%u\tIN\t%s\t", ldns_rr_ttl(rr), desc->_name);
	else
		snprintf(b, sizeof(b), "\t%u\tIN\tTYPE%u\t", ldns_rr_ttl(rr),
		    (unsigned)ldns_rr_get_type(rr));
	zt_puts(t, b);
	mark = t->len;
	if (form == ZT_GENERIC || desc == NULL || ldns_rr_rd_count(rr) == 0) {
		if (zt_generic(t, rr) == -1)
			return -1;
	} else {
		for (k = 0; k < ldns_rr_rd_count(rr); k++) {
			const ldns_rdf	*rdf = ldns_rr_rdf(rr, k);
			char		*s;

			if (k > 0)
				zt_put(t, " ", 1);
			if (zt_rdf(t, rdf) == 0)
				continue;
			if (form == ZT_OWN || (s = ldns_rdf2str(rdf)) == NULL)
				return -1;
			zt_puts(t, s);
			free(s);
		}
	}
	if (t->len - mark > ZT_RDATA_MAX)
		return -1;
	zt_put(t, "\n", 1);
	return t->oom ? -1 : 0;
}

/*
 * Fields whose ldns text ldns cannot read without leaking: a CERT type of
 * 0 prints as "0", and ldns's reader allocates it, finds it invalid and
 * drops the allocation. Such records go straight to the generic form.
 */
static int
zt_ldns_text_leaks(const ldns_rr *rr)
{
	size_t k;

	for (k = 0; k < ldns_rr_rd_count(rr); k++) {
		const ldns_rdf *rdf = ldns_rr_rdf(rr, k);

		if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_CERT_ALG &&
		    (ldns_rdf_size(rdf) != 2 || ldns_rdf2native_int16(rdf) == 0))
			return 1;
	}
	return 0;
}

/*
 * The form rr is written in: the fields this file spells itself when it
 * spells them all; else ldns's text for the fields it does not, when that
 * reads back the same; else RFC 3597's generic form.
 */
static int
zt_record_any(struct ztext *t, const ldns_rr *rr)
{
	size_t start = t->len;

	if (zt_record(t, rr, ZT_OWN) == 0)
		return 0;
	t->len = start;
	t->oom = 0;
	if (!zt_ldns_text_leaks(rr) && zt_record(t, rr, ZT_LDNS) == 0 &&
	    zone_rr_text_same(rr, t->p + start, t->len - start, NULL, 0) == 0)
		return 0;
	t->len = start;
	t->oom = 0;
	return zt_record(t, rr, ZT_GENERIC);
}

/* rr's wire form (uncompressed, names as they are); caller frees. */
static uint8_t *
rr_wire(const ldns_rr *rr, size_t *len)
{
	uint8_t *w = NULL;

	if (ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, len) != LDNS_STATUS_OK) {
		free(w);
		return NULL;
	}
	return w;
}

static int
zone_rr_text_same(const ldns_rr *rr, const char *text, size_t len, char *why, size_t whylen)
{
	FILE		*fp;
	ldns_rr		*back = NULL;
	ldns_rdf	*origin = NULL, *prev = NULL;
	uint32_t	 ttl = 0;
	ldns_status	 st;
	uint8_t		*a = NULL, *b = NULL;
	size_t		 alen = 0, blen = 0;
	int		 line = 0, rc = -1;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((fp = fmemopen((void *)text, len, "r")) == NULL) {
		if (why != NULL)
			snprintf(why, whylen, "out of memory");
		return -1;
	}
	/* Read as zone_read does: directives first, then the record. */
	origin = ldns_dname_new_frm_str(".");
	do {
		st = ldns_rr_new_frm_fp_l(&back, fp, &ttl, &origin, &prev, &line);
	} while (st == LDNS_STATUS_SYNTAX_ORIGIN || st == LDNS_STATUS_SYNTAX_TTL ||
	    (st == LDNS_STATUS_SYNTAX_EMPTY && !feof(fp)));
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (st != LDNS_STATUS_OK) {
		if (why != NULL)
			snprintf(why, whylen, "its text does not read back: %s",
			    ldns_get_errorstr_by_id(st));
		return -1;
	}
	if ((a = rr_wire(rr, &alen)) == NULL || (b = rr_wire(back, &blen)) == NULL) {
		if (why != NULL)
			snprintf(why, whylen, "cannot be put in wire form");
		goto out;
	}
	if (alen != blen || memcmp(a, b, alen) != 0 || ldns_rr_ttl(rr) != ldns_rr_ttl(back) ||
	    ldns_rr_get_class(rr) != ldns_rr_get_class(back)) {
		if (why != NULL)
			snprintf(why, whylen, "its text reads back as a different record");
		goto out;
	}
	rc = 0;
out:
	free(a);
	free(b);
	ldns_rr_free(back);
	return rc;
}

int
zone_rr_roundtrip(const ldns_rr *rr, char *why, size_t whylen)
{
	struct ztext	 t = { NULL, 0, 0, 0, 0 };
	char		 detail[256];
	int		 rc;

	if (zt_record_any(&t, rr) == -1) {
		snprintf(why, whylen, "its presentation text is longer than a zone file "
		    "reader takes (%d characters of data)", ZT_RDATA_MAX);
		free(t.p);
		return -1;
	}
	rc = zone_rr_text_same(rr, t.p, t.len, detail, sizeof(detail));
	if (rc == -1)
		snprintf(why, whylen, "%s", detail);
	free(t.p);
	return rc;
}

/*
 * One record as master-file text, appended to t (a "$ORIGIN" line first
 * when the owner is too long for the owner field); the text is fresh in
 * t->p + the old t->len. -1 when it cannot be written (out of memory, or
 * longer than a reader takes).
 */
static void
rr_describe(const ldns_rr *rr, char *buf, size_t len)
{
	struct ztext	 t = { NULL, 0, 0, 0, 0 };
	const ldns_rdf	*owner = ldns_rr_owner(rr);
	char		*type = ldns_rr_type2str(ldns_rr_get_type(rr));

	zt_name(&t, ldns_rdf_data(owner), ldns_rdf_size(owner));
	snprintf(buf, len, "%s %s", t.oom || t.p == NULL ? "?" : t.p, type ? type : "?");
	free(t.p);
	free(type);
}

static int
zone_check_writable(const ldns_zone *z, const char *path, const int *lines, char *err,
    size_t errlen)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(z);
	struct ztext		 t = { NULL, 0, 0, 0, 0 };
	char			 what[512], at[PATH_MAX + 32];
	size_t			 i;

	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		t.len = 0;
		if (zt_record_any(&t, ldns_rr_list_rr(rrs, i)) == 0)
			continue;
		rr_describe(ldns_rr_list_rr(rrs, i), what, sizeof(what));
		where_rr(path, lines, (ssize_t)i, at, sizeof(at));
		snprintf(err, errlen, "%s%s: %s", at, what, t.oom ? "out of memory" :
		    "could not be written back to the zone file: its text would be longer "
		    "than a zone file reader takes");
		free(t.p);
		return -1;
	}
	free(t.p);
	return 0;
}

static int
rr_print_checked(FILE *fp, struct ztext *t, const ldns_rr *rr)
{
	t->len = 0;
	if (zt_record_any(t, rr) == -1)
		return -1;
	return fwrite(t->p, 1, t->len, fp) == t->len ? 0 : -1;
}
/*
 * The folder a zone file goes in must exist: a clear word for the
 * operator rather than mkstemp's "No such file or directory" later.
 */
int
zone_file_folder_check(const char *path, char *err, size_t errlen)
{
	char		 dir[PATH_MAX];
	char		*slash;
	struct stat	 sb;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "%s: its folder %s %s", path, dir,
		    errno == ENOENT ? "does not exist" : strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a folder", path, dir);
		return -1;
	}
	return 0;
}

int
zone_write_atomic(const ldns_zone *z, const char *path, char *err, size_t errlen)
{
	const ldns_rr_list	*rrs = ldns_zone_rrs(z);
	struct ztext		 t = { NULL, 0, 0, 0, 0 };
	const ldns_rr		*rr = NULL;
	char			 tmp[PATH_MAX], what[512];
	FILE			*fp;
	int			 fd;
	size_t			 i;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (zone_file_folder_check(path, err, errlen) == -1)
		return -1;
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
	for (i = 0; i <= ldns_rr_list_rr_count(rrs); i++) {
		rr = i == 0 ? ldns_zone_soa(z) : ldns_rr_list_rr(rrs, i - 1);
		errno = 0;
		if (rr_print_checked(fp, &t, rr) == -1) {
			if (errno == 0 || t.oom)
				goto unwritable;
			goto fail;
		}
		if (t.origin_moved) {
			/* Back to the apex, for whoever adds a relative name by hand. */
			const ldns_rdf *apex = ldns_rr_owner(ldns_zone_soa(z));

			t.len = 0;
			t.origin_moved = 0;
			zt_puts(&t, "$ORIGIN ");
			zt_name(&t, ldns_rdf_data(apex), ldns_rdf_size(apex));
			zt_put(&t, "\n", 1);
			if (t.oom)
				goto unwritable;
			if (fwrite(t.p, 1, t.len, fp) != t.len)
				goto fail;
		}
	}
	free(t.p);
	t.p = NULL;
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
unwritable:
	rr_describe(rr, what, sizeof(what));
	snprintf(err, errlen, "%s: %s cannot be written: %s", path, what, t.oom ?
	    "out of memory" : "its text is longer than a zone file reader takes");
	goto cleanup;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
cleanup:
	free(t.p);
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
		/* The SRV names the primary's port; the reader record starts
		 * at the primary too (a switch or `readers` fills in replicas). */
		snprintf(line, sizeof(line), "_redis._tcp.%s.%s %d IN SRV 0 0 %d %s.%s",
		    svc->name, origin, conf->dns.ttl, node->port, svc->name, origin);
		if (zone_add_text(z, line, conf->dns.ttl, err, errlen) == -1)
			goto out;
		for (a = 0; svc->reader_name[0] && a < node->n_address; a++) {
			snprintf(line, sizeof(line), "%s.%s %d IN %s %s", svc->reader_name,
			    origin, conf->dns.ttl,
			    node->address[a].family == AF_INET6 ? "AAAA" : "A",
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
