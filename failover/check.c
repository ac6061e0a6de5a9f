/*
 * check.c - `redisfo-dns check`: the services as monitoring sees them,
 * by the Nagios plugin guidelines: a first line `REDISFO <STATE> - text |
 * perfdata`, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 *
 * With one service (the config's only one, or the one named) the first
 * line is all there is, its perfdata the largest lag and the serial. With
 * several, the first line is the worst state and how many services are in
 * each, its perfdata a lag per replica and a serial per service, and one
 * line per service follows (the plugin's long output).
 *
 * It only reads, through state.c (and the reader record, readers.h):
 * nothing here changes a node or the zone. The state of a service is decided by pure functions (check.h),
 * then printed in one place. -t bounds the whole run: a watchdog thread
 * (no signal handler) prints UNKNOWN and ends the process when the time
 * is up and the report is not out yet.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/version.h"
#include "failover/check.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/lease.h"
#include "failover/msg.h"
#include "failover/node.h"
#include "failover/readers.h"
#include "failover/state.h"

/* ---------------------------------------------------------- the states */

const char *
check_state_str(enum check_state s)
{
	switch (s) {
	case CHECK_STATE_OK:		return "OK";
	case CHECK_STATE_WARNING:	return "WARNING";
	case CHECK_STATE_CRITICAL:	return "CRITICAL";
	case CHECK_STATE_UNKNOWN:	return "UNKNOWN";
	}
	return "UNKNOWN";
}

/* A service that cannot be read is worse than one that is fine, and
 * better than one known to be in trouble. */
static int
state_rank(enum check_state s)
{
	switch (s) {
	case CHECK_STATE_OK:		return 0;
	case CHECK_STATE_UNKNOWN:	return 1;
	case CHECK_STATE_WARNING:	return 2;
	case CHECK_STATE_CRITICAL:	return 3;
	}
	return 1;
}

enum check_state
check_worst(enum check_state a, enum check_state b)
{
	return state_rank(a) >= state_rank(b) ? a : b;
}

enum check_state
check_tally_worst(const struct check_tally *t)
{
	enum check_state	w = CHECK_STATE_OK;
	int			s;

	for (s = 0; s < CHECK_STATES; s++)
		if (t->n[s] > 0)
			w = check_worst(w, (enum check_state)s);
	return w;
}

void
check_tally_text(const struct check_tally *t, char *buf, size_t len)
{
	static const enum check_state order[] = { CHECK_STATE_CRITICAL,
	    CHECK_STATE_WARNING, CHECK_STATE_UNKNOWN, CHECK_STATE_OK };
	static const char *word[] = { [CHECK_STATE_OK] = "ok",
	    [CHECK_STATE_WARNING] = "warning", [CHECK_STATE_CRITICAL] = "critical",
	    [CHECK_STATE_UNKNOWN] = "unknown" };
	size_t	i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]) && o < len; i++) {
		if (t->n[order[i]] == 0)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%d %s", o ? ", " : "",
		    t->n[order[i]], word[order[i]]);
	}
	if (o == 0)
		snprintf(buf, len, "no services");
}

enum check_state
check_verdict_state(enum state_verdict v)
{
	switch (v) {
	case VERDICT_CONSISTENT:
		return CHECK_STATE_OK;
	case VERDICT_DNS_UNKNOWN:
		return CHECK_STATE_UNKNOWN;
	case VERDICT_RECORD_NO_NODE:
	case VERDICT_SERVED_DOWN:
	case VERDICT_SERVED_NOT_MASTER:
	case VERDICT_SPLIT_BRAIN:
	case VERDICT_FENCED_MASTER:
		return CHECK_STATE_CRITICAL;
	case VERDICT_WRONG_MASTER:
		return CHECK_STATE_WARNING;
	}
	return CHECK_STATE_UNKNOWN;
}

enum check_state
check_lag_state(long long lag, const struct check_limits *l)
{
	if (l->crit >= 0 && lag > l->crit)
		return CHECK_STATE_CRITICAL;
	if (lag > l->warn)
		return CHECK_STATE_WARNING;
	return CHECK_STATE_OK;
}

/* ------------------------------------------------------------ options */

/* A whole decimal number in [min, max], or -1. */
static int
parse_count(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
check_parse_args(const struct conf *conf, int argc, char **argv,
    struct check_opts *o, char *err, size_t errlen)
{
	const char	*name = NULL, *val;
	long long	 v;
	int		 i, warn_set = 0, crit_set = 0;

	memset(o, 0, sizeof(*o));
	o->limits.warn = conf->failover.max_lag_bytes;
	o->limits.crit = -1;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			o->version = 1;
			continue;
		}
		if (strcmp(a, "-w") == 0 || strcmp(a, "--warning") == 0 ||
		    strcmp(a, "-c") == 0 || strcmp(a, "--critical") == 0 ||
		    strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) {
			if (i + 1 == argc) {
				snprintf(err, errlen, "%s needs a value", a);
				return -1;
			}
			val = argv[++i];
			if (a[1] == 't' || strcmp(a, "--timeout") == 0) {
				if (parse_count(val, 1, 86400, &v) == -1) {
					snprintf(err, errlen, "%s: '%s' is not a number of seconds "
					    "from 1 to 86400", a, val);
					return -1;
				}
				o->timeout_s = (int)v;
				continue;
			}
			if (parse_count(val, 0, (long long)1 << 50, &v) == -1) {
				snprintf(err, errlen, "%s: '%s' is not a number of bytes", a, val);
				return -1;
			}
			if (a[1] == 'w' || strcmp(a, "--warning") == 0) {
				o->limits.warn = v;
				warn_set = 1;
			} else {
				o->limits.crit = v;
				crit_set = 1;
			}
			continue;
		}
		if (a[0] == '-' || name != NULL) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -1;
		}
		name = a;
	}
	if (warn_set && crit_set && o->limits.warn > o->limits.crit) {
		snprintf(err, errlen, "the warning threshold (-w %lld) is above the "
		    "critical one (-c %lld)", o->limits.warn, o->limits.crit);
		return -1;
	}
	if (name != NULL) {
		o->svc = conf_service_find(conf, name);
		if (o->svc == NULL) {
			snprintf(err, errlen, "no service named '%s'", name);
			return -1;
		}
	} else if (conf->n_services == 1)
		o->svc = &conf->services[0];
	return 0;
}

/* ----------------------------------------------------------- a service */

/* Append to a fixed buffer, cutting what does not fit. */
static void
text_add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
text_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t	o = strlen(buf);
	va_list	ap;

	if (o + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

int
check_settling(const struct svc_state *st)
{
	long long at;

	if (st->redisfo.at[0] == '\0' || lease_time_parse(st->redisfo.at, &at) == -1)
		return 0;
	/* at= is to the second: the switch ended before the end of it */
	return st->loaded_ms < (at + 1) * 1000 + st->conf->failover.settle_ms;
}

/*
 * A lease held: a switch or rejoin at work, whatever the probes saw (OK),
 * one running longer than a switch takes (WARNING), or one left behind by
 * a holder that was killed (CRITICAL). 0 when no lease was found.
 */
static int
check_lease(const struct svc_state *st, struct check_service *out)
{
	const struct conf_service	*svc = st->svc;
	char				 who[256];
	long long			 budget = lease_budget_ms(st->conf, svc);

	if (!st->lease_held)
		return 0;
	lease_describe(&st->lease, who, sizeof(who));
	switch (lease_judge(&st->lease, st->loaded_ms, budget)) {
	case LEASE_LIVE:
		out->state = CHECK_STATE_OK;
		snprintf(out->text, sizeof(out->text), "%s: switch in progress (%s)",
		    svc->name, who);
		break;
	case LEASE_OVERDUE:
		out->state = CHECK_STATE_WARNING;
		snprintf(out->text, sizeof(out->text), "%s: %s still holds the lease, "
		    "longer than a switch takes (%lld ms), until %s; %.300s", svc->name, who,
		    budget, st->lease.expires_text, st->verdict_text);
		break;
	case LEASE_EXPIRED:
		out->state = CHECK_STATE_CRITICAL;
		snprintf(out->text, sizeof(out->text), "%s: the lease of %s expired at %s "
		    "(its holder was killed?): see status; the next switch breaks it; %.300s",
		    svc->name, who, st->lease.expires_text, st->verdict_text);
		break;
	}
	return 1;
}

void
check_service_judge(const struct svc_state *st, const struct check_limits *l,
    const char *behind, struct check_service *out)
{
	const struct conf_service	*svc = st->svc;
	enum check_state		 s = check_verdict_state(st->verdict), ls;
	size_t				 i;
	int				 replicas = 0, settling;

	memset(out, 0, sizeof(*out));
	out->serial_ok = st->dns == DNSCLIENT_OK;
	out->serial = st->serial;
	for (i = 0; st->served >= 0 && i < svc->n_nodes; i++)
		if ((int)i != st->served && st->nodes[i].lag_bytes > out->max_lag &&
		    st->nodes[i].reachable && state_follows(&st->nodes[i], &svc->nodes[st->served]))
			out->max_lag = st->nodes[i].lag_bytes;
	if (check_lease(st, out))
		return;
	out->max_lag = 0;
	settling = check_settling(st);
	snprintf(out->text, sizeof(out->text), "%s: %s", svc->name, st->verdict_text);
	/* the record names a node by some of its addresses: the text says which */
	if (st->dns == DNSCLIENT_OK && st->served >= 0 && st->served_how != MATCH_EXACT)
		s = check_worst(s, CHECK_STATE_WARNING);
	for (i = 0; st->served >= 0 && i < svc->n_nodes; i++) {
		const struct node_info	*ni = &st->nodes[i];
		const char		*name = svc->nodes[i].name;

		if ((int)i == st->served)
			continue;
		if (!ni->reachable) {
			s = check_worst(s, CHECK_STATE_WARNING);
			text_add(out->text, sizeof(out->text), "; %s unreachable", name);
			continue;
		}
		if (!state_follows(ni, &svc->nodes[st->served]))
			continue;
		replicas++;
		if (ni->lag_bytes > out->max_lag)
			out->max_lag = ni->lag_bytes;
		if (!ni->link_up && settling) {
			/* re-linking to the new primary, right after a switch */
			text_add(out->text, sizeof(out->text), "; %s resyncing", name);
			continue;
		}
		if (!ni->link_up) {
			s = check_worst(s, CHECK_STATE_WARNING);
			text_add(out->text, sizeof(out->text), "; %s link down", name);
			continue;
		}
		ls = check_lag_state(ni->lag_bytes, l);
		s = check_worst(s, ls);
		if (ls == CHECK_STATE_CRITICAL)
			text_add(out->text, sizeof(out->text), "; %s lags %lld bytes "
			    "(critical above %lld)", name, ni->lag_bytes, l->crit);
		else if (ls == CHECK_STATE_WARNING)
			text_add(out->text, sizeof(out->text), "; %s lags %lld bytes (max %lld)",
			    name, ni->lag_bytes, l->warn);
	}
	if (behind != NULL && behind[0] != '\0') {
		s = check_worst(s, CHECK_STATE_WARNING);
		text_add(out->text, sizeof(out->text), "%s", behind);
	}
	if (s == CHECK_STATE_OK)
		text_add(out->text, sizeof(out->text), ", %d replica(s) following", replicas);
	out->state = s;
}

/* Does a replica of the served node answer with its link still down? */
static int
check_relinking(const struct svc_state *st)
{
	size_t i;

	for (i = 0; i < st->svc->n_nodes; i++)
		if ((int)i != st->served && st->nodes[i].reachable && !st->nodes[i].link_up &&
		    state_follows(&st->nodes[i], &st->svc->nodes[st->served]))
			return 1;
	return 0;
}

void
check_readers_judge(const struct svc_state *st, const struct check_readers *rd,
    struct check_service *out)
{
	struct readers_set	rs;
	char			want[512], seen[512];

	/*
	 * A switch or rejoin at work (its lease held) rewrites the record,
	 * and for settle_ms after a switch a replica may still be re-linking:
	 * the probes may see fewer than it names, for a moment.
	 */
	if (rd->owner == NULL || st->served < 0 || !st->nodes[st->served].reachable ||
	    st->nodes[st->served].role != NODE_ROLE_MASTER || st->lease_held ||
	    (check_settling(st) && check_relinking(st)))
		return;
	if (!rd->read) {
		out->state = check_worst(out->state, CHECK_STATE_WARNING);
		text_add(out->text, sizeof(out->text), "; %s could not be read: %s",
		    rd->owner, rd->err ? rd->err : "");
		return;
	}
	if (rd->a->n + rd->aaaa->n == 0)
		return;
	readers_pick(st->svc, st->served, st->nodes, -1, &rs);
	if (readers_same(&rs, rd->a, rd->aaaa))
		return;
	readers_set_text(&rs, want, sizeof(want));
	readers_rrset_text(rd->a, rd->aaaa, seen, sizeof(seen));
	out->state = check_worst(out->state, CHECK_STATE_WARNING);
	text_add(out->text, sizeof(out->text), "; %s names %s, the probes see %s "
	    "(readers %s)", rd->owner, seen, want, st->svc->name);
}

/*
 * Read st's reader record for check_readers_judge into rd (rr: two
 * rrsets of room, e: the error).
 */
static void
check_readers_read(const struct svc_state *st, struct dnsclient_rrset *rr, char *owner,
    size_t ownerlen, char *e, size_t elen, struct check_readers *rd)
{
	const struct conf_sockaddr	*srv = &st->conf->failover.server;
	int				 to = st->conf->failover.probe_timeout_ms;

	memset(rd, 0, sizeof(*rd));
	if (rr == NULL || readers_owner(st->conf, st->svc, owner, ownerlen) == -1)
		return;
	rd->owner = owner;
	rd->a = &rr[0];
	rd->aaaa = &rr[1];
	rd->err = e;
	rd->read = dnsclient_query(&srv->ss, srv->len, owner, DNSCLIENT_TYPE_A, to, &rr[0],
	    e, elen) == DNSCLIENT_OK && dnsclient_query(&srv->ss, srv->len, owner,
	    DNSCLIENT_TYPE_AAAA, to, &rr[1], e, elen) == DNSCLIENT_OK;
}

/*
 * The secondaries of dns.notify still behind the record's serial once
 * STATE_SECONDARY_BEHIND_MS has passed, as text for the check's line
 * ("" when none is): they never got the change. One that does not answer
 * is status's to show, not a warning.
 */
static void
check_secondaries(const struct conf *conf, const struct svc_state *st, char *buf, size_t len)
{
	char		err[256];
	uint32_t	seen;
	size_t		i;

	buf[0] = '\0';
	for (i = 0; st->dns == DNSCLIENT_OK && i < conf->dns.n_notify; i++)
		if (state_secondary_wait(st, &conf->dns.notify[i], STATE_SECONDARY_BEHIND_MS,
		    &seen, err, sizeof(err)) == SECONDARY_BEHIND)
			text_add(buf, len, "; secondary %s behind (serial %u, not %u, after %d s)",
			    conf->dns.notify[i].text, seen, st->serial,
			    STATE_SECONDARY_BEHIND_MS / 1000);
}

/* ";<warn>;<crit>;0" of a lag item: crit is empty when there is none. */
static void
perf_limits(FILE *f, const struct check_limits *l)
{
	if (l->crit >= 0)
		fprintf(f, ";%lld;%lld;0", l->warn, l->crit);
	else
		fprintf(f, ";%lld;;0", l->warn);
}

void
check_perf_service(FILE *f, const struct svc_state *st, const struct check_limits *l)
{
	const struct conf_service	*svc = st->svc;
	size_t				 i;

	for (i = 0; st->served >= 0 && i < svc->n_nodes; i++) {
		if ((int)i == st->served)
			continue;
		/* names are DNS labels: nothing a label would need quoted */
		fprintf(f, " lag_%s_%s=", svc->name, svc->nodes[i].name);
		if (st->nodes[i].lag_bytes >= 0)
			fprintf(f, "%lldB", st->nodes[i].lag_bytes);
		else
			fprintf(f, "U");
		perf_limits(f, l);
	}
	if (st->dns == DNSCLIENT_OK)
		fprintf(f, " serial_%s=%u", svc->name, st->serial);
}

/* ----------------------------------------------------------- watchdog */

/*
 * -t: a thread that waits for the report until the deadline. When the
 * time is up first, it prints UNKNOWN and ends the process, holding the
 * lock, so the report can no longer start; once the report holds it, the
 * watchdog stands down.
 */
struct watchdog {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	pthread_t	 thread;
	int		 seconds;
	int		 done;
	const char	*doing;		/* the service being checked */
};

static void *
watchdog_thread(void *arg)
{
	struct watchdog	*w = arg;
	struct timespec	 until;
	int		 rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += w->seconds;
	pthread_mutex_lock(&w->mu);
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
	if (!w->done) {
		printf("REDISFO UNKNOWN - check timed out after %d s (-t %d)%s%s\n",
		    w->seconds, w->seconds, w->doing ? " while checking " : "",
		    w->doing ? w->doing : "");
		fflush(stdout);
		_exit(CHECK_STATE_UNKNOWN);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int
watchdog_start(struct watchdog *w, int seconds)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->seconds = seconds;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->thread, NULL, watchdog_thread, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		return -1;
	}
	return 0;
}

static void
watchdog_doing(struct watchdog *w, const char *what)
{
	if (w->seconds == 0)
		return;
	pthread_mutex_lock(&w->mu);
	w->doing = what;
	pthread_mutex_unlock(&w->mu);
}

/* The report is ready: from here on the watchdog stays quiet. */
static void
watchdog_stop(struct watchdog *w)
{
	if (w->seconds == 0)
		return;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* ------------------------------------------------------------- report */

/* One service, as it always was: one line, the largest lag. */
static enum check_state
check_one(const struct conf *conf, const struct check_opts *o, FILE *out)
{
	struct svc_state	st;
	struct check_service	r;
	struct check_readers	rd;
	struct dnsclient_rrset	*rr;
	char			behind[512], owner[CONF_DNAME_MAX + 80], e[512];

	if (state_load(&st, conf, o->svc, 1) == -1) {
		fprintf(out, "REDISFO UNKNOWN - %s\n", st.dns_err);
		state_free(&st);
		return CHECK_STATE_UNKNOWN;
	}
	check_secondaries(conf, &st, behind, sizeof(behind));
	check_service_judge(&st, &o->limits, behind, &r);
	rr = calloc(2, sizeof(*rr));
	check_readers_read(&st, rr, owner, sizeof(owner), e, sizeof(e), &rd);
	check_readers_judge(&st, &rd, &r);
	free(rr);
	fprintf(out, "REDISFO %s - %s | lag=%lldB", check_state_str(r.state), r.text,
	    r.max_lag);
	perf_limits(out, &o->limits);
	if (r.serial_ok)
		fprintf(out, " serial=%u", r.serial);
	fputc('\n', out);
	state_free(&st);
	return r.state;
}

/* Every service: the worst state and the count of each on the first
 * line, with every service's perfdata; a line per service after it. */
static enum check_state
check_all(const struct conf *conf, const struct check_opts *o, struct watchdog *w,
    FILE *out)
{
	struct check_tally	 tally;
	struct check_service	 r;
	struct svc_state	 st;
	enum check_state	 worst;
	struct check_readers	 rd;
	struct dnsclient_rrset	*rr = calloc(2, sizeof(*rr));
	char			 owner[CONF_DNAME_MAX + 80], e[512];
	char			*perf = NULL, *lines = NULL, counts[128], behind[512] = "";
	size_t			 perf_len = 0, lines_len = 0, i;
	int			 asked = 0;
	FILE			*pf, *lf;

	memset(&tally, 0, sizeof(tally));
	pf = open_memstream(&perf, &perf_len);
	lf = open_memstream(&lines, &lines_len);
	if (pf == NULL || lf == NULL) {
		fprintf(out, "REDISFO UNKNOWN - out of memory\n");
		if (pf != NULL)
			fclose(pf);
		if (lf != NULL)
			fclose(lf);
		free(perf);
		free(lines);
		free(rr);
		return CHECK_STATE_UNKNOWN;
	}
	for (i = 0; i < conf->n_services; i++) {
		const struct conf_service *svc = &conf->services[i];

		watchdog_doing(w, svc->name);
		if (state_load(&st, conf, svc, 1) == -1) {
			r.state = CHECK_STATE_UNKNOWN;
			snprintf(r.text, sizeof(r.text), "%s: %s", svc->name, st.dns_err);
		} else {
			/* The secondaries hold the one zone: asked once, told of each service. */
			if (!asked) {
				check_secondaries(conf, &st, behind, sizeof(behind));
				asked = st.dns == DNSCLIENT_OK;
			}
			check_service_judge(&st, &o->limits, behind, &r);
			check_readers_read(&st, rr, owner, sizeof(owner), e, sizeof(e), &rd);
			check_readers_judge(&st, &rd, &r);
			check_perf_service(pf, &st, &o->limits);
		}
		state_free(&st);
		tally.n[r.state]++;
		fprintf(lf, "%s - %s\n", check_state_str(r.state), r.text);
	}
	fclose(pf);
	fclose(lf);
	worst = check_tally_worst(&tally);
	check_tally_text(&tally, counts, sizeof(counts));
	fprintf(out, "REDISFO %s - %s |%s\n%s", check_state_str(worst), counts,
	    perf ? perf : "", lines ? lines : "");
	free(perf);
	free(lines);
	free(rr);
	return worst;
}

int
cmd_check(const struct conf *conf, int argc, char **argv)
{
	struct check_opts	 o;
	struct watchdog		 w;
	enum check_state	 s;
	char			 err[256], *text = NULL;
	size_t			 len = 0;
	FILE			*out;

	if (check_parse_args(conf, argc, argv, &o, err, sizeof(err)) == -1) {
		msg_errorx("check: %s", err);
		printf("REDISFO UNKNOWN - %s; usage: %s\n", err, CHECK_USAGE);
		return CHECK_STATE_UNKNOWN;
	}
	if (o.version) {
		printf("redisfo-dns %s\n", REDISFO_VERSION);
		return 0;
	}
	memset(&w, 0, sizeof(w));
	if (o.timeout_s > 0 && watchdog_start(&w, o.timeout_s) == -1) {
		printf("REDISFO UNKNOWN - cannot start the -t timer\n");
		return CHECK_STATE_UNKNOWN;
	}
	/* Decide, then print: the report is written aside, and goes out
	 * whole once the watchdog has stood down. */
	out = open_memstream(&text, &len);
	if (out == NULL) {
		watchdog_stop(&w);
		printf("REDISFO UNKNOWN - out of memory\n");
		return CHECK_STATE_UNKNOWN;
	}
	if (o.svc != NULL) {
		watchdog_doing(&w, o.svc->name);
		s = check_one(conf, &o, out);
	} else
		s = check_all(conf, &o, &w, out);
	fclose(out);
	watchdog_stop(&w);
	if (text == NULL) {
		printf("REDISFO UNKNOWN - out of memory\n");
		return CHECK_STATE_UNKNOWN;
	}
	fputs(text, stdout);
	free(text);
	return (int)s;
}
