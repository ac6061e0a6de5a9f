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
#include "conf/util.h"
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
	if (zone_rr_why(soa, apex) != NULL) {
		rr_describe(soa, what, sizeof(what));
		snprintf(err, errlen, "%sthe SOA record (%s): %s (zone %s)", at, what,
		    zone_rr_why(soa, apex), origin);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ldns_rr		*rr = ldns_rr_list_rr(rrs, i);
		ldns_rr_type	 type = ldns_rr_get_type(rr);
		const char	*why = type == LDNS_RR_TYPE_SOA ? "a second SOA record" :
			    zone_rr_why(rr, apex);

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
zone_brackets_check(const char *buf, size_t len, const char *path, char *err, size_t errlen)
{
	int	 line = 1, in_quote = 0, in_comment = 0, escaped = 0;
	int	 quote_line = 0, paren_line = 0;
	size_t	 i;

	for (i = 0; i < len; i++) {
		char c = buf[i];

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
				return -1;
			}
			paren_line = line;
		} else if (c == ')' && !in_quote) {
			if (paren_line == 0) {
				snprintf(err, errlen, "%s:%d: a ')' without a '(' before it",
				    path, line);
				return -1;
			}
			paren_line = 0;
		}
		if (c == '\n')
			line++;
	}
	if (in_quote) {
		snprintf(err, errlen, "%s:%d: a quoted string is never closed", path, quote_line);
		return -1;
	}
	if (paren_line > 0) {
		snprintf(err, errlen, "%s:%d: a parenthesis is never closed (every line after "
		    "it would be read as part of that record)", path, paren_line);
		return -1;
	}
	return 0;
}

/* The whole file in memory (NUL-terminated); NULL with err. */
static char *
zone_slurp(const char *path, size_t *lenp, char *err, size_t errlen)
{
	struct stat	 sb;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1)
		goto fail;
	cap = (size_t)sb.st_size + 1;
	for (;;) {
		if (len + 1 >= cap) {
			char *p = realloc(buf, cap *= 2);

			if (p == NULL)
				goto fail;
			buf = p;
		} else if (buf == NULL && (buf = malloc(cap)) == NULL)
			goto fail;
		if ((n = read(fd, buf + len, cap - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

/*
 * ---- reading records fast ----
 *
 * ldns reads a record through a tokenizer that copies each field into
 * buffers of 64 KB it allocates and frees again, record after record:
 * for a zone of a few hundred thousand records that is most of the time
 * it takes to start. The records a service zone is made of, written
 * plainly on one line, are read here directly instead; anything else
 * (directives, parentheses, escapes, comments alone on a line, other
 * types, numbers written as 1h, names near the length limits, text that
 * ldns would refuse) goes to ldns as before, one record at a time. The
 * fast reader takes a line only when it is sure ldns would read it
 * without complaint into the very same record, so what is accepted, what
 * is refused and the message and line of a refusal stay ldns's.
 */

#define FAST_LINE_MAX	4096	/* longer lines go to ldns */
#define FAST_NAME_MAX	250	/* wire length; longer names go to ldns */
#define FAST_TOKENS	8

struct zone_reader {
	const char	*buf;
	size_t		 len, pos;
	int		 line;		/* lines read so far, as ldns counts them */
	uint32_t	 ttl;		/* $TTL, or the caller's default */
	ldns_rdf	*origin;	/* $ORIGIN; never NULL while reading */
	ldns_rdf	*prev;		/* owner of the last record that named one */
	uint8_t		 prev_wire[256];	/* ... as the fast reader last set it */
	size_t		 prev_len;
	int		 prev_newer;	/* prev_wire is newer than prev */
};

static int
fast_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int
fast_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '*';
}

/*
 * A name made of plain labels, relative ones completed with the origin,
 * as ldns_str2rdf_dname and ldns_dname_cat would make it. 0, or -1 when
 * it is anything but plain (left to ldns).
 */
static int
fast_name(const struct zone_reader *r, const char *s, size_t n, uint8_t *out, size_t *outlen)
{
	size_t	 i, lab = 0, w = 1;	/* out[0]: the first label's length */

	if (n == 1 && s[0] == '.') {
		out[0] = 0;
		*outlen = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (w >= FAST_NAME_MAX)
			return -1;
		if (s[i] == '.') {
			if (lab == 0 || lab > 63)
				return -1;
			out[w - lab - 1] = (uint8_t)lab;
			lab = 0;
			w++;
		} else if (fast_name_char(s[i])) {
			out[w++] = (uint8_t)s[i];
			lab++;
		} else
			return -1;
	}
	if (s[n - 1] == '.') {		/* absolute: w points past the last label */
		out[w - 1] = 0;
		*outlen = w;
		return 0;
	}
	if (lab == 0 || lab > 63)
		return -1;
	out[w - lab - 1] = (uint8_t)lab;
	if (w + ldns_rdf_size(r->origin) > FAST_NAME_MAX)
		return -1;
	memcpy(out + w, ldns_rdf_data(r->origin), ldns_rdf_size(r->origin));
	*outlen = w + ldns_rdf_size(r->origin);
	return 0;
}

/* A decimal number of at most digits digits and at most max; -1 if not. */
static long
fast_number(const char *s, size_t n, size_t digits, long max)
{
	long	 v = 0;
	size_t	 i;

	if (n == 0 || n > digits)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

static int
fast_push(ldns_rr *rr, ldns_rdf_type type, size_t len, const void *data)
{
	ldns_rdf *rdf = ldns_rdf_new_frm_data(type, len, data);

	if (rdf == NULL || !ldns_rr_push_rdf(rr, rdf)) {
		ldns_rdf_deep_free(rdf);
		return -1;
	}
	return 0;
}

/* TXT: quoted strings and plain words, at least one; 1 = pushed, 0 = not plain. */
static int
fast_txt(ldns_rr *rr, const char *s, const char *end)
{
	uint8_t	 str[256];
	size_t	 n = 0;

	while (s < end) {
		const char *a, *b;

		if (*s == '"') {
			a = s + 1;
			if ((b = memchr(a, '"', (size_t)(end - a))) == NULL)
				return 0;
			s = b + 1;
			if (s < end && !fast_ws(*s))
				return 0;	/* "a"b: ldns reads that its own way */
		} else {
			for (a = b = s; b < end && !fast_ws(*b); b++)
				if (*b == '"')
					return 0;
			s = b;
		}
		if (b - a > 255)
			return 0;
		str[0] = (uint8_t)(b - a);
		memcpy(str + 1, a, (size_t)(b - a));
		if (fast_push(rr, LDNS_RDF_TYPE_STR, (size_t)(b - a) + 1, str) == -1)
			return -1;
		n++;
		while (s < end && fast_ws(*s))
			s++;
	}
	return n > 0;
}

/*
 * Read the record at r->pos if it is one the fast reader takes: 1 (with
 * *out, and the reader past it), 0 when ldns must read it (nothing
 * changed), -1 when out of memory.
 */
static int
zone_rr_fast(struct zone_reader *r, ldns_rr **out)
{
	const char	*p = r->buf + r->pos, *end = r->buf + r->len, *eol, *stop, *s, *q;
	const char	*tok[FAST_TOKENS];
	size_t		 toklen[FAST_TOKENS], ntok = 0, i, nrd;
	uint8_t		 owner[256], name[256], addr[16];
	size_t		 owner_len, name_len;
	char		 text[64];
	ldns_rr		*rr;
	ldns_rr_type	 type;
	uint32_t	 ttl;
	long		 v;
	int		 quoted = 0, has_quote = 0, explicit_owner, rc;

	if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
		eol = end;
	if (eol - p > FAST_LINE_MAX || p == eol || *p == '$' || r->origin == NULL)
		return 0;
	/* Printable text without escapes or parentheses; cut the comment. */
	stop = eol;
	for (q = p; q < eol; q++) {
		unsigned char c = (unsigned char)*q;

		if (c == '\t')
			continue;
		if (c < 0x20 || c > 0x7e || c == '(' || c == ')' || c == '\\')
			return 0;
		if (c == '"') {
			quoted = !quoted;
			has_quote = 1;
		} else if (c == ';' && !quoted) {
			stop = q;
			break;
		}
	}
	if (quoted)
		return 0;
	while (stop > p && fast_ws(stop[-1]))
		stop--;
	/* Owner (none when the line starts blank), then TTL, class, type. */
	explicit_owner = !fast_ws(*p);
	for (s = p; s < stop && ntok < 4; ) {
		if (ntok > 0 || !explicit_owner)
			while (s < stop && fast_ws(*s))
				s++;
		if (s >= stop)
			break;
		tok[ntok] = s;
		while (s < stop && !fast_ws(*s))
			s++;
		toklen[ntok] = (size_t)(s - tok[ntok]);
		ntok++;
		if (ntok == 1 && !explicit_owner) {
			/* No owner: what was read is the next field. */
			tok[1] = tok[0];
			toklen[1] = toklen[0];
			toklen[0] = 0;
			ntok = 2;
		}
		if (ntok >= 2) {
			const char *t = tok[ntok - 1];
			size_t tl = toklen[ntok - 1];

			if (ntok == 2 && t[0] >= '0' && t[0] <= '9')
				continue;	/* TTL */
			if (tl == 2 && strncasecmp(t, "IN", 2) == 0 &&
			    (ntok == 2 || (ntok == 3 && tok[1][0] >= '0' && tok[1][0] <= '9')))
				continue;	/* class */
			break;			/* the type */
		}
	}
	if (ntok < 2 || (explicit_owner && toklen[0] == 0))
		return 0;
	/* tok[ntok - 1] is the type; before it the optional TTL and class. */
	ttl = r->ttl == 0 ? LDNS_DEFAULT_TTL : r->ttl;
	if (tok[1][0] >= '0' && tok[1][0] <= '9') {
		if (ntok < 3 || (v = fast_number(tok[1], toklen[1], 9, 999999999)) < 0)
			return 0;
		ttl = (uint32_t)v;
	}
	i = toklen[ntok - 1];
	q = tok[ntok - 1];
	if (i == 1 && strncasecmp(q, "A", 1) == 0)
		type = LDNS_RR_TYPE_A;
	else if (i == 4 && strncasecmp(q, "AAAA", 4) == 0)
		type = LDNS_RR_TYPE_AAAA;
	else if (i == 3 && strncasecmp(q, "TXT", 3) == 0)
		type = LDNS_RR_TYPE_TXT;
	else if (i == 5 && strncasecmp(q, "CNAME", 5) == 0)
		type = LDNS_RR_TYPE_CNAME;
	else if (i == 2 && strncasecmp(q, "NS", 2) == 0)
		type = LDNS_RR_TYPE_NS;
	else if (i == 3 && strncasecmp(q, "PTR", 3) == 0)
		type = LDNS_RR_TYPE_PTR;
	else if (i == 2 && strncasecmp(q, "MX", 2) == 0)
		type = LDNS_RR_TYPE_MX;
	else if (i == 3 && strncasecmp(q, "SRV", 3) == 0)
		type = LDNS_RR_TYPE_SRV;
	else
		return 0;
	if (has_quote && type != LDNS_RR_TYPE_TXT)
		return 0;
	/* The owner: "@" is the origin; a blank one the previous owner. */
	if (!explicit_owner) {
		memcpy(owner, r->prev_wire, r->prev_len);
		owner_len = r->prev_len;
	} else if (toklen[0] == 1 && tok[0][0] == '@') {
		owner_len = ldns_rdf_size(r->origin);
		memcpy(owner, ldns_rdf_data(r->origin), owner_len);
	} else if (fast_name(r, tok[0], toklen[0], owner, &owner_len) == -1)
		return 0;
	/* The data: split it into fields where its type has a fixed number. */
	s = tok[ntok - 1] + toklen[ntok - 1];
	while (s < stop && fast_ws(*s))
		s++;
	nrd = 0;
	if (type != LDNS_RR_TYPE_TXT) {
		for (q = s; q < stop && nrd < FAST_TOKENS; nrd++) {
			tok[nrd] = q;
			while (q < stop && !fast_ws(*q))
				q++;
			toklen[nrd] = (size_t)(q - tok[nrd]);
			while (q < stop && fast_ws(*q))
				q++;
		}
		if (q < stop)
			return 0;
	}
	if ((rr = ldns_rr_new()) == NULL)
		return -1;
	ldns_rr_set_type(rr, type);
	ldns_rr_set_ttl(rr, ttl);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	rc = 0;
	switch (type) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		if (nrd != 1 || toklen[0] >= sizeof(text))
			break;
		memcpy(text, tok[0], toklen[0]);
		text[toklen[0]] = '\0';
		if (inet_pton(type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6, text, addr) != 1)
			break;
		rc = fast_push(rr, type == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
		    type == LDNS_RR_TYPE_A ? 4 : 16, addr) == 0 ? 1 : -1;
		break;
	case LDNS_RR_TYPE_TXT:
		rc = fast_txt(rr, s, stop);
		break;
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_MX:
	case LDNS_RR_TYPE_SRV:
		/* Numbers first (MX: preference; SRV: priority, weight, port), then the name. */
		i = type == LDNS_RR_TYPE_MX ? 1 : type == LDNS_RR_TYPE_SRV ? 3 : 0;
		if (nrd != i + 1 || fast_name(r, tok[i], toklen[i], name, &name_len) == -1)
			break;
		rc = 1;
		for (nrd = 0; nrd < i && rc == 1; nrd++) {
			uint8_t b[2];

			if ((v = fast_number(tok[nrd], toklen[nrd], 5, 65535)) < 0)
				rc = 0;
			else {
				b[0] = (uint8_t)(v >> 8);
				b[1] = (uint8_t)v;
				rc = fast_push(rr, LDNS_RDF_TYPE_INT16, 2, b) == 0 ? 1 : -1;
			}
		}
		if (rc == 1)
			rc = fast_push(rr, LDNS_RDF_TYPE_DNAME, name_len, name) == 0 ? 1 : -1;
		break;
	default:
		break;
	}
	if (rc == 1) {
		ldns_rdf *o = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, owner_len, owner);

		if (o == NULL)
			rc = -1;
		else
			ldns_rr_set_owner(rr, o);
	}
	if (rc != 1) {
		ldns_rr_free(rr);
		return rc;
	}
	/* An owner written out (or "@") is the one blank owners take next. */
	if (explicit_owner) {
		memcpy(r->prev_wire, owner, owner_len);
		r->prev_len = owner_len;
		r->prev_newer = 1;
	}
	/* Past the line, and past blank lines as ldns skips them. */
	r->pos = (size_t)(eol - r->buf);
	while (r->pos < r->len && strchr("\f\n\r\v", r->buf[r->pos]) != NULL &&
	    r->buf[r->pos] != '\0') {
		if (r->buf[r->pos] == '\n')
			r->line++;
		r->pos++;
	}
	*out = rr;
	return 1;
}

/* One record (or directive, or nothing) read by ldns from r->pos on. */
static ldns_status
zone_rr_ldns(struct zone_reader *r, FILE *fp, ldns_rr **rr)
{
	ldns_status	st;
	long		at;

	if (r->prev_newer) {
		ldns_rdf *p = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, r->prev_len,
		    r->prev_wire);

		if (p == NULL)
			return LDNS_STATUS_MEM_ERR;
		ldns_rdf_deep_free(r->prev);
		r->prev = p;
		r->prev_newer = 0;
	}
	if (fseek(fp, (long)r->pos, SEEK_SET) == -1)
		return LDNS_STATUS_FILE_ERR;
	st = ldns_rr_new_frm_fp_l(rr, fp, &r->ttl, &r->origin, &r->prev, &r->line);
	at = ftell(fp);
	r->pos = feof(fp) || at < 0 ? r->len : (size_t)at;
	if (r->prev != NULL && ldns_rdf_size(r->prev) <= sizeof(r->prev_wire)) {
		r->prev_len = ldns_rdf_size(r->prev);
		memcpy(r->prev_wire, ldns_rdf_data(r->prev), r->prev_len);
	} else
		r->prev_len = 0;
	return st;
}

/*
 * Read the records one by one (as ldns_zone_new_frm_fp_l does), keeping
 * each one's line so that every mistake can be named by its line.
 */
static ldns_zone *
zone_read(const char *buf, size_t len, const char *path, const char *origin,
    uint32_t default_ttl, int **lines_out, char *err, size_t errlen)
{
	struct zone_reader	 r;
	ldns_zone		*z = ldns_zone_new();
	FILE			*fp = NULL;
	int			 first, *lines = NULL, fast;
	size_t			 nlines = 0, cap, i;
	ldns_status		 st;

	memset(&r, 0, sizeof(r));
	r.buf = buf;
	r.len = len;
	r.ttl = default_ttl;
	if (z == NULL || ldns_str2rdf_dname(&r.origin, origin) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "%s: bad zone name %s", path, origin);
		goto fail;
	}
	r.prev = ldns_rdf_clone(r.origin);
	if (r.prev == NULL || ldns_rdf_size(r.prev) > sizeof(r.prev_wire))
		goto oom;
	r.prev_len = ldns_rdf_size(r.prev);
	memcpy(r.prev_wire, ldns_rdf_data(r.prev), r.prev_len);
	/* Room for a record a line: the lines never grow while reading. */
	for (cap = 1, i = 0; i < len; i++)
		cap += buf[i] == '\n';
	if ((lines = malloc(cap * sizeof(*lines))) == NULL)
		goto oom;
	/*
	 * And for the records (ldns_rr_list's fields are public; it would
	 * double its array from 16 up, ending up to twice the size needed).
	 */
	if (cap > 16) {
		ldns_rr_list	 *rrs = ldns_zone_rrs(z);
		ldns_rr		**p = realloc(rrs->_rrs, cap * sizeof(*p));

		if (p == NULL)
			goto oom;
		rrs->_rrs = p;
		rrs->_rr_capacity = cap;
	}
	while (r.pos < r.len) {
		ldns_rr *rr = NULL;

		first = r.line + 1;
		if ((fast = zone_rr_fast(&r, &rr)) == -1)
			goto oom;
		if (fast) {
			st = LDNS_STATUS_OK;
		} else {
			if (fp == NULL && (fp = fmemopen((void *)buf, len, "r")) == NULL)
				goto oom;
			st = zone_rr_ldns(&r, fp, &rr);
		}
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
			snprintf(err, errlen, "%s:%d: $INCLUDE is not supported", path, r.line);
			goto fail;
		}
		if (st != LDNS_STATUS_OK) {
			snprintf(err, errlen, "%s:%d: %s", path, r.line, ldns_get_errorstr_by_id(st));
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
			int *p = realloc(lines, (cap *= 2) * sizeof(*p));

			if (p == NULL) {
				ldns_rr_free(rr);
				goto oom;
			}
			lines = p;
		}
		if (!ldns_zone_push_rr(z, rr)) {
			ldns_rr_free(rr);
			goto oom;
		}
		lines[nlines++] = first;
	}
	if (fp != NULL)
		fclose(fp);
	ldns_rdf_deep_free(r.origin);
	ldns_rdf_deep_free(r.prev);
	*lines_out = lines;
	return z;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	if (fp != NULL)
		fclose(fp);
	ldns_rdf_deep_free(r.origin);
	ldns_rdf_deep_free(r.prev);
	ldns_zone_deep_free(z);
	free(lines);
	return NULL;
}

ldns_zone *
zone_load(const char *path, const char *origin, uint32_t default_ttl, char *err, size_t errlen)
{
	ldns_zone	*z;
	char		*buf;
	size_t		 len;
	int		*lines = NULL;

	if ((buf = zone_slurp(path, &len, err, errlen)) == NULL)
		return NULL;
	if (zone_brackets_check(buf, len, path, err, errlen) == -1) {
		free(buf);
		return NULL;
	}
	z = zone_read(buf, len, path, origin, default_ttl, &lines, err, errlen);
	free(buf);
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

uint32_t
zone_negative_ttl(const ldns_rr *soa)
{
	uint32_t ttl, minimum;

	if (soa == NULL || ldns_rr_rd_count(soa) < 7)
		return 0;
	ttl = ldns_rr_ttl(soa);
	minimum = ldns_rdf2native_int32(ldns_rr_rdf(soa, 6));
	return ttl < minimum ? ttl : minimum;
}

int
zone_negative_ttl_check(const ldns_rr *soa, const char *path, uint32_t limit,
    char *msg, size_t msglen)
{
	uint32_t	 neg = zone_negative_ttl(soa);

	if (soa == NULL || neg <= limit)
		return 0;
	snprintf(msg, msglen, "%s: the SOA's negative TTL, min(TTL %u, minimum %u) = %u, "
	    "is above dns.negative_ttl %u: resolvers may cache a NODATA or NXDOMAIN "
	    "for %u s, so an address a switch adds (an AAAA when the new primary "
	    "is dual-stack) stays unseen that long; lower the SOA TTL or minimum "
	    "to %u", path, ldns_rr_ttl(soa),
	    ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), neg, limit, neg, limit);
	return 1;
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
	struct stat	 sb;

	folder_of(path, dir, sizeof(dir));
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
	struct atomic_file	 af;
	char			 what[512];
	FILE			*fp;
	size_t			 i;

	if (zone_file_folder_check(path, err, errlen) == -1 ||
	    atomic_file_open(&af, path, err, errlen) == -1)
		return -1;
	fp = af.fp;
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
	return atomic_file_commit(&af, 1, err, errlen);
unwritable:
	rr_describe(rr, what, sizeof(what));
	snprintf(err, errlen, "%s: %s cannot be written: %s", path, what, t.oom ?
	    "out of memory" : "its text is longer than a zone file reader takes");
	goto cleanup;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", af.tmp, strerror(errno));
cleanup:
	free(t.p);
	atomic_file_abort(&af);
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
	/* Negative answers are cached no longer than dns.negative_ttl (RFC 2308 5). */
	snprintf(line, sizeof(line), "%s %d IN SOA ns1.%s hostmaster.%s 1 3600 600 1209600 %d",
	    origin, conf->dns.negative_ttl, origin, origin, conf->dns.negative_ttl);
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

const char *
zone_rr_why(const ldns_rr *rr, const ldns_rdf *apex)
{
	const ldns_rdf	*owner = ldns_rr_owner(rr);
	ldns_rr_type	 type = ldns_rr_get_type(rr);

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		return "only class IN is served";
	if (!rdf_is_below(owner, apex))
		return "name is outside the zone";
	if (type == LDNS_RR_TYPE_SOA && !zone_name_eq(owner, apex))
		return "a SOA record away from the zone apex";
	if (ldns_dname_is_wildcard(owner))
		return "wildcard names are not supported";
	if (type == LDNS_RR_TYPE_NS && !zone_name_eq(owner, apex))
		return "delegations are not supported";
	if (type == LDNS_RR_TYPE_DNAME)
		return "DNAME records are not supported";
	if (type == LDNS_RR_TYPE_CNAME && zone_name_eq(owner, apex))
		return "a CNAME cannot be at the zone apex";
	return NULL;
}

/* ---- changes ---- */

int
zone_edit_add(struct zone_edit *e, const ldns_rdf *owner, ldns_rr_list *rrs)
{
	ldns_rdf *copy;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct zone_edit_name *p = realloc(e->names, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		e->names = p;
		e->cap = cap;
	}
	if ((copy = ldns_rdf_clone(owner)) == NULL)
		return -1;
	e->names[e->n].owner = copy;
	e->names[e->n++].rrs = rrs;
	return 0;
}

void
zone_edit_free(struct zone_edit *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		ldns_rdf_deep_free(e->names[i].owner);
		ldns_rr_list_deep_free(e->names[i].rrs);
	}
	free(e->names);
	memset(e, 0, sizeof(*e));
}

size_t
zone_name_hash(const ldns_rdf *name)
{
	const uint8_t	*d = ldns_rdf_data(name);
	size_t		 h = 2166136261u;

	for (size_t i = 0; i < ldns_rdf_size(name); i++)
		h = (h ^ dns_lower(d[i])) * 16777619u;
	return h;
}

/* The edit's names, hashed: index + 1 in names, 0 = empty. */
struct edit_index {
	size_t	*slot;
	size_t	 mask;
};

static int
zone_edit_names(const struct zone_edit *edit, const struct edit_index *ix, const ldns_rdf *owner)
{
	size_t i = zone_name_hash(owner) & ix->mask;

	for (; ix->slot[i] != 0; i = (i + 1) & ix->mask)
		if (zone_name_eq(edit->names[ix->slot[i] - 1].owner, owner))
			return 1;
	return 0;
}

int
zone_edit_apply(ldns_zone *z, const struct zone_edit *edit)
{
	ldns_rr_list	*keep = ldns_rr_list_new(), *old = ldns_zone_rrs(z);
	struct edit_index ix;
	size_t		 i, k, size = 16;

	while (size < edit->n * 2)
		size *= 2;
	ix.mask = size - 1;
	if (keep == NULL || (ix.slot = calloc(size, sizeof(*ix.slot))) == NULL) {
		ldns_rr_list_free(keep);
		return -1;
	}
	for (i = 0; i < edit->n; i++) {
		for (k = zone_name_hash(edit->names[i].owner) & ix.mask; ix.slot[k] != 0;
		    k = (k + 1) & ix.mask)
			;
		ix.slot[k] = i + 1;
	}
	for (i = 0; i < ldns_rr_list_rr_count(old); i++) {
		ldns_rr *rr = ldns_rr_list_rr(old, i);

		if (zone_edit_names(edit, &ix, ldns_rr_owner(rr)))
			ldns_rr_free(rr);
		else if (!ldns_rr_list_push_rr(keep, rr))
			goto fail;
	}
	if (ldns_zone_soa(z) != NULL && zone_edit_names(edit, &ix, ldns_rr_owner(ldns_zone_soa(z)))) {
		ldns_rr_free(ldns_zone_soa(z));
		ldns_zone_set_soa(z, NULL);
	}
	for (i = 0; i < edit->n; i++)
		for (k = 0; k < ldns_rr_list_rr_count(edit->names[i].rrs); k++) {
			ldns_rr *c = ldns_rr_clone(ldns_rr_list_rr(edit->names[i].rrs, k));

			if (c == NULL)
				goto fail;
			if (ldns_rr_get_type(c) == LDNS_RR_TYPE_SOA && ldns_zone_soa(z) == NULL)
				ldns_zone_set_soa(z, c);
			else if (!ldns_rr_list_push_rr(keep, c)) {
				ldns_rr_free(c);
				goto fail;
			}
		}
	ldns_rr_list_free(old);
	ldns_zone_set_rrs(z, keep);
	free(ix.slot);
	return 0;
fail:
	free(ix.slot);
	/* Out of memory half-way: what is left is a zone no one should serve. */
	ldns_rr_list_deep_free(keep);
	ldns_rr_list_set_rr_count(old, 0);
	return -1;
}
