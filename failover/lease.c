/*
 * lease.c - the switch lease in the zone (see lease.h): its text, its
 * state at a moment, and the three compare-and-swap UPDATEs that take,
 * break and release it.
 *
 * Every UPDATE has a prerequisite, so two hosts racing for the lease
 * cannot both win: the server applies one and refuses the other. An
 * UPDATE whose answer is lost is judged by reading the lease back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/lease.h"

/* ---------------------------------------------------------- the text */

void
lease_owner(const struct conf *conf, const struct conf_service *svc, char *buf,
    size_t len)
{
	snprintf(buf, len, "_lock._redisfo.%s.%s", svc->name, conf->dns.zone);
}

long long
lease_budget_ms(const struct conf *conf, const struct conf_service *svc)
{
	const struct conf_failover	*f = &conf->failover;
	long long			 ms;

	ms = f->pause_timeout_ms + (long long)f->probe_timeout_ms *
	    (f->probes + 2 * (long long)svc->n_nodes);
	if (f->pre_hook[0])
		ms += f->hook_timeout_ms;
	if (f->post_hook[0])
		ms += f->hook_timeout_ms;
	return ms;
}

long long
lease_length_ms(const struct conf *conf, const struct conf_service *svc)
{
	return 2 * lease_budget_ms(conf, svc) + 1000;
}

static void
time_text(long long secs, char *buf, size_t len)
{
	time_t		t = (time_t)secs;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
lease_time_parse(const char *text, long long *secs)
{
	struct tm	tm;
	int		n = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    text[n] != '\0' || strlen(text) != 20)
		return -1;
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*secs = (long long)timegm(&tm);
	return 0;
}

int
lease_format(struct lease *l)
{
	int n;

	time_text(l->since, l->since_text, sizeof(l->since_text));
	time_text(l->expires, l->expires_text, sizeof(l->expires_text));
	n = snprintf(l->value, sizeof(l->value),
	    "\"holder=%s host=%s pid=%ld since=%s expires=%s\"", l->holder, l->host,
	    l->pid, l->since_text, l->expires_text);
	return n < 0 || (size_t)n >= sizeof(l->value) ? -1 : 0;
}

/* Copy a word's value into dst (len), -1 when it does not fit or is empty. */
static int
word_copy(char *dst, size_t len, const char *v, size_t n)
{
	if (n == 0 || n >= len)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int
lease_parse(const char *value, struct lease *l)
{
	const char	*p = value, *w, *eq;
	char		 num[32];
	size_t		 n, klen;
	int		 have = 0;
	char		*end;

	memset(l, 0, sizeof(*l));
	if (strlen(value) >= sizeof(l->value))
		return -1;
	snprintf(l->value, sizeof(l->value), "%s", value);
	/* One quoted string of space-separated key=value words; a lease
	 * has no escapes (the host name is written without any). */
	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		if (*p == '\0' || *p == '\\')
			return -1;
		if (*p == ' ') {
			p++;
			continue;
		}
		w = p;
		while (*p != ' ' && *p != '"' && *p != '\0' && *p != '\\')
			p++;
		n = (size_t)(p - w);
		if ((eq = memchr(w, '=', n)) == NULL)
			return -1;
		klen = (size_t)(eq - w);
#define KEY(k)	(klen == sizeof(k) - 1 && memcmp(w, k, sizeof(k) - 1) == 0)
		eq++;
		n = (size_t)(p - eq);
		if (KEY("holder")) {
			if (word_copy(l->holder, sizeof(l->holder), eq, n) == -1)
				return -1;
			have |= 1;
		} else if (KEY("host")) {
			if (word_copy(l->host, sizeof(l->host), eq, n) == -1)
				return -1;
			have |= 2;
		} else if (KEY("pid")) {
			if (word_copy(num, sizeof(num), eq, n) == -1 || num[0] < '0' ||
			    num[0] > '9')
				return -1;
			l->pid = strtol(num, &end, 10);
			if (*end != '\0')
				return -1;
			have |= 4;
		} else if (KEY("since")) {
			if (word_copy(l->since_text, sizeof(l->since_text), eq, n) == -1 ||
			    lease_time_parse(l->since_text, &l->since) == -1)
				return -1;
			have |= 8;
		} else if (KEY("expires")) {
			if (word_copy(l->expires_text, sizeof(l->expires_text), eq, n) == -1 ||
			    lease_time_parse(l->expires_text, &l->expires) == -1)
				return -1;
			have |= 16;
		}
		/* other words: a later version's, skipped */
#undef KEY
	}
	if (p[1] != '\0')
		return -1;
	return have == 31 ? 0 : -1;
}

enum lease_state
lease_judge(const struct lease *l, long long now_ms, long long budget_ms)
{
	if (now_ms >= (l->expires + 1) * 1000)
		return LEASE_EXPIRED;
	if (now_ms - (l->since + 1) * 1000 > budget_ms)
		return LEASE_OVERDUE;
	return LEASE_LIVE;
}

void
lease_describe(const struct lease *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s on host %s pid %ld since %s", l->holder, l->host,
	    l->pid, l->since_text);
}

/* -------------------------------------------------------- the network */

long long
lease_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* This host's name, with nothing a TXT word would need escaped. */
static void
host_name(char *buf, size_t len)
{
	char	h[256] = "";
	size_t	i;

	if (gethostname(h, sizeof(h) - 1) == -1 || h[0] == '\0')
		snprintf(h, sizeof(h), "unknown");
	for (i = 0; h[i]; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-' ||
		    h[i] == '_'))
			h[i] = '_';
	snprintf(buf, len, "%.*s", (int)len - 1, h);
}

static int
lease_timeout(const struct conf *conf)
{
	return conf->failover.probe_timeout_ms < 1000 ? 1000 :
	    conf->failover.probe_timeout_ms;
}

static int
read_at(const struct conf *conf, const char *owner, struct dnsclient_rrset *rr,
    char *err, size_t errlen)
{
	const struct conf_sockaddr *srv = &conf->failover.server;

	if (dnsclient_query_tcp(&srv->ss, srv->len, owner, DNSCLIENT_TYPE_TXT,
	    lease_timeout(conf), rr, err, errlen) != DNSCLIENT_OK)
		return -1;
	return 0;
}

int
lease_read(const struct conf *conf, const struct conf_service *svc, struct lease *l,
    char *err, size_t errlen)
{
	const struct conf_sockaddr	*srv = &conf->failover.server;
	struct dnsclient_rrset		*rr;
	char				 owner[CONF_DNAME_MAX + 96], e[512];
	int				 rc;

	lease_owner(conf, svc, owner, sizeof(owner));
	if ((rr = malloc(sizeof(*rr))) == NULL) {
		snprintf(err, errlen, "lease %s: out of memory", owner);
		return -1;
	}
	if (dnsclient_query(&srv->ss, srv->len, owner, DNSCLIENT_TYPE_TXT,
	    conf->failover.probe_timeout_ms, rr, e, sizeof(e)) != DNSCLIENT_OK) {
		snprintf(err, errlen, "lease %s: %s", owner, e);
		rc = -1;
	} else if (rr->n == 0)
		rc = 0;
	else if (rr->n > 1 || lease_parse(rr->value[0], l) == -1) {
		snprintf(err, errlen, "lease %s holds what is not a lease: %s%s", owner,
		    rr->value[0], rr->n > 1 ? " (and more)" : "");
		rc = -1;
	} else
		rc = 1;
	free(rr);
	return rc;
}

/*
 * Send one UPDATE of the lease; when its answer is lost, read the lease
 * back and call it applied when the zone holds want (NULL: holds none).
 */
static enum dnsclient_result
lease_send(const struct conf *conf, const char *owner,
    const struct dnsclient_change *ch, size_t n, const char *want, char *err,
    size_t errlen)
{
	const struct conf_sockaddr	*srv = &conf->failover.server;
	struct dnsclient_rrset		*rr;
	enum dnsclient_result		 r;
	char				 e[512];

	r = dnsclient_update(&srv->ss, srv->len, conf->dns.zone, &conf->dns.update_key,
	    ch, n, lease_timeout(conf), NULL, err, errlen);
	if (r != DNSCLIENT_TIMEOUT && r != DNSCLIENT_ERROR)
		return r;
	if ((rr = malloc(sizeof(*rr))) == NULL)
		return r;
	if (read_at(conf, owner, rr, e, sizeof(e)) == 0 &&
	    (want == NULL ? rr->n == 0 : rr->n == 1 && strcmp(rr->value[0], want) == 0))
		r = DNSCLIENT_OK;
	free(rr);
	return r;
}

enum lease_take_result
lease_take(const struct conf *conf, const struct conf_service *svc, const char *holder,
    struct lease *mine, char *note, size_t notelen, char *err, size_t errlen)
{
	struct dnsclient_change	 ch[3];
	struct lease		 old;
	enum dnsclient_result	 r;
	char			 owner[CONF_DNAME_MAX + 96], e[512], who[256];
	long long		 now;
	int			 tries, got;

	note[0] = '\0';
	lease_owner(conf, svc, owner, sizeof(owner));
	for (tries = 0; tries < 3; tries++) {
		memset(mine, 0, sizeof(*mine));
		snprintf(mine->holder, sizeof(mine->holder), "%s", holder);
		host_name(mine->host, sizeof(mine->host));
		mine->pid = (long)getpid();
		now = lease_now_ms();
		mine->since = now / 1000;
		mine->expires = (now + lease_length_ms(conf, svc) + 999) / 1000;
		if (lease_format(mine) == -1) {
			snprintf(err, errlen, "lease %s: the TXT does not fit", owner);
			return LEASE_FAILED;
		}
		ch[0] = (struct dnsclient_change){ DNSCLIENT_PREREQ_NAME_ABSENT, owner,
		    DNSCLIENT_TYPE_TXT, 0, NULL };
		ch[1] = (struct dnsclient_change){ DNSCLIENT_ADD, owner,
		    DNSCLIENT_TYPE_TXT, 0, mine->value };
		r = lease_send(conf, owner, ch, 2, mine->value, e, sizeof(e));
		if (r == DNSCLIENT_OK)
			return LEASE_TAKEN;
		if (r != DNSCLIENT_PREREQ) {
			snprintf(err, errlen, "cannot take the lease %s: %s", owner, e);
			return LEASE_FAILED;
		}
		/* The name is in use: whose lease, and is it still good? */
		got = lease_read(conf, svc, &old, e, sizeof(e));
		if (got == -1) {
			snprintf(err, errlen, "%s", e);
			return LEASE_FAILED;
		}
		if (got == 0)
			continue;	/* released in between, or not a TXT: again */
		/* a copy of our own UPDATE, sent again, found it applied */
		if (strcmp(old.value, mine->value) == 0)
			return LEASE_TAKEN;
		lease_describe(&old, who, sizeof(who));
		if (lease_judge(&old, lease_now_ms(), lease_budget_ms(conf, svc)) != LEASE_EXPIRED) {
			snprintf(err, errlen, "another %s holds the lease %s (until %s)",
			    who, owner, old.expires_text);
			return LEASE_BUSY;
		}
		ch[0] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
		    DNSCLIENT_TYPE_TXT, 0, old.value };
		ch[1] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
		    DNSCLIENT_TYPE_TXT, 0, NULL };
		ch[2] = (struct dnsclient_change){ DNSCLIENT_ADD, owner,
		    DNSCLIENT_TYPE_TXT, 0, mine->value };
		r = lease_send(conf, owner, ch, 3, mine->value, e, sizeof(e));
		if (r == DNSCLIENT_OK) {
			snprintf(note, notelen, "breaking an expired lease of %s "
			    "(expired %s)", who, old.expires_text);
			return LEASE_TAKEN;
		}
		if (r != DNSCLIENT_PREREQ) {
			snprintf(err, errlen, "cannot break the expired lease %s of %s: %s",
			    owner, who, e);
			return LEASE_FAILED;
		}
		/* another broke it first: look again */
	}
	snprintf(err, errlen, "cannot take the lease %s: the name is in use "
	    "(by records that are not a lease, or by a race that keeps changing it)",
	    owner);
	return LEASE_FAILED;
}

int
lease_release(const struct conf *conf, const struct conf_service *svc,
    const struct lease *mine, char *err, size_t errlen)
{
	struct dnsclient_change	 ch[2];
	struct lease		 now;
	enum dnsclient_result	 r;
	char			 owner[CONF_DNAME_MAX + 96], e[512];

	lease_owner(conf, svc, owner, sizeof(owner));
	ch[0] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
	    DNSCLIENT_TYPE_TXT, 0, mine->value };
	ch[1] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
	    DNSCLIENT_TYPE_TXT, 0, NULL };
	r = lease_send(conf, owner, ch, 2, NULL, e, sizeof(e));
	if (r == DNSCLIENT_OK)
		return 0;
	/* a copy sent again may find the first one applied: gone is gone */
	if (r == DNSCLIENT_PREREQ && lease_read(conf, svc, &now, e, sizeof(e)) == 0)
		return 0;
	if (r == DNSCLIENT_PREREQ)
		snprintf(err, errlen, "lease %s: no longer ours (broken by another "
		    "after it expired?); left alone", owner);
	else
		snprintf(err, errlen, "cannot release the lease %s: %s (it expires "
		    "%s)", owner, e, mine->expires_text);
	return -1;
}
