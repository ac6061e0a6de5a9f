/*
 * sweep.c - the sweep of the old primary after a planned switch (sweep.h).
 *
 * Why: the demote kills every normal client of the old primary P, and they
 * reconnect within milliseconds. A client whose resolver still caches the
 * record (up to dns.ttl after the swap) lands on P again, now a replica,
 * and gets READONLY for every write for as long as it lives. The sweep
 * kills those clients once the caches must have let go of the old address
 * (TTL + 1 s after the demote, the TTL being dns.ttl or the TTL the old
 * record had, if that was longer) and once more a TTL later, for
 * stragglers; they reconnect, resolve again and reach the new primary.
 *
 * Which clients: CLIENT LIST TYPE normal (so no replica link, no Pub/Sub
 * client: subscribers on a replica still get what the primary publishes),
 * less MONITOR (flag O) and any master or replica flag, less the clients
 * older than the switch: the demote already dropped every normal client
 * there was, so a normal client on P younger than the switch came after
 * it. A client that connects to the replica's own address on purpose in
 * the window is dropped too, once or twice; it reconnects to the same
 * address. That is the trade-off of a sweep that does not guess intent.
 *
 * What it must never do: kill clients on a node that is not a replica of
 * the new primary (it may have become primary again since): each round
 * checks ROLE first and does nothing otherwise, and it looks and kills
 * under the sweeps' lock (lock.h), which a switch or rejoin holds for as
 * long as it runs, so that no switch can start or end in between. It never
 * holds the failover lock itself, and never keeps the switch's terminal or
 * pipes open.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "conf/util.h"
#include "failover/lock.h"
#include "failover/audit.h"
#include "failover/node.h"
#include "failover/state.h"
#include "failover/sweep.h"

void
sweep_plan_rounds(struct sweep_plan *plan)
{
	int i;

	plan->at_s[0] = plan->ttl + 1;
	for (i = 1; i < SWEEP_ROUNDS; i++)
		plan->at_s[i] = plan->at_s[i - 1] + plan->ttl;
}

static void
sweep_audit(const struct sweep_plan *plan, const char *result, long long us,
    const char *detail)
{
	struct audit_entry e = {
		.service = plan->svc->name, .mode = "planned",
		.from = plan->old_primary->name, .to = plan->new_primary->name,
		.step = "sweep", .result = result, .us = us, .detail = detail,
	};
	char who[3 * CONF_NAME_MAX + 32], err[512];

	snprintf(who, sizeof(who), "switch %s (planned %s -> %s)", plan->svc->name,
	    plan->old_primary->name, plan->new_primary->name);
	audit_log_step(who, &e);
	if (audit_append(plan->conf->failover.audit_log, &e, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

/* A client the sweep may kill: a plain one, connected after the switch. */
static int
sweepable(const struct node_client *c, long long max_age)
{
	if (c->id <= 0 || c->age < 0 || c->age > max_age)
		return 0;
	return strpbrk(c->flags, "SMOP") == NULL;
}

static int	sweep_node(const struct sweep_plan *, int, int64_t);

int
sweep_once(const struct sweep_plan *plan, int round)
{
	int64_t		 t0 = mono_us();
	int		 lk, rc;
	char		 e[512], d[768];

	/* No switch or rejoin while the node is looked at and swept: see lock.h. */
	if ((lk = lock_sweeps(plan->conf->failover.lock_file, e, sizeof(e))) < 0) {
		snprintf(d, sizeof(d), "round %d: %s not swept: %s", round,
		    plan->old_primary->name, e);
		sweep_audit(plan, "failed", mono_us() - t0, d);
		return -1;
	}
	rc = sweep_node(plan, round, t0);
	lock_release(lk);
	return rc;
}

/* One round on the old primary, under the sweeps' lock. */
static int
sweep_node(const struct sweep_plan *plan, int round, int64_t t0)
{
	const struct conf_node	*p = plan->old_primary, *t = plan->new_primary;
	struct node_conn	*c;
	struct node_info	 info;
	struct node_client	*cl = NULL;
	size_t			 n = 0, i;
	long long		 max_age, killed = 0, older = 0;
	int			 k, tmo = plan->conf->failover.probe_timeout_ms;
	char			 e[512], d[768];

	c = node_connect(plan->svc, p, tmo, e, sizeof(e));
	if (c == NULL || node_probe(c, &info, e, sizeof(e)) == -1) {
		snprintf(d, sizeof(d), "round %d: %s not swept: %s", round, p->name, e);
		sweep_audit(plan, "failed", mono_us() - t0, d);
		node_close(c);
		return -1;
	}
	if (!state_follows(&info, t)) {
		snprintf(d, sizeof(d), "round %d: %s not swept: it is %s%s%s, not a replica "
		    "of %s", round, p->name, node_role_str(info.role),
		    info.role == NODE_ROLE_REPLICA ? " of " : "",
		    info.role == NODE_ROLE_REPLICA ? info.master_host : "", t->name);
		sweep_audit(plan, "skipped", mono_us() - t0, d);
		node_close(c);
		return 0;
	}
	if (node_client_list(c, &cl, &n, e, sizeof(e)) == -1) {
		snprintf(d, sizeof(d), "round %d: %s not swept: %s", round, p->name, e);
		sweep_audit(plan, "failed", mono_us() - t0, d);
		node_close(c);
		return -1;
	}
	/* age is in whole seconds: round the switch's age up */
	max_age = (mono_us() - plan->switched_us + 999999) / 1000000;
	for (i = 0; i < n; i++) {
		if (!sweepable(&cl[i], max_age)) {
			older++;
			continue;
		}
		if (node_kill_client_id(c, cl[i].id, &k, e, sizeof(e)) == -1)
			break;
		killed += k;	/* 0: gone meanwhile, or this very connection */
	}
	if (i < n) {
		snprintf(d, sizeof(d), "round %d: %s: %lld clients killed, then %s", round,
		    p->name, killed, e);
		sweep_audit(plan, "failed", mono_us() - t0, d);
	} else {
		snprintf(d, sizeof(d), "round %d: %s: %lld clients that connected after the "
		    "switch killed, %lld others left alone", round, p->name, killed, older);
		sweep_audit(plan, "ok", mono_us() - t0, d);
	}
	free(cl);
	node_close(c);
	return i < n ? -1 : 0;
}

/* Sleep until mono_us() reaches at. */
static void
sleep_until(int64_t at)
{
	struct timespec	ts = { .tv_sec = at / 1000000, .tv_nsec = (at % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* The helper, in its own session: cut loose from the switch, sweep, exit. */
static void __attribute__((noreturn))
sweep_helper(const struct sweep_plan *plan)
{
	struct stat	sb;
	sigset_t	none;
	int		i, fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTSTP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* syslog's socket is among the descriptors closed below: reopen it */
	log_set_target(LOG_TARGET_STDERR);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		/* a log file stays; a terminal or a pipe the switch's caller
		 * reads to its end does not */
		if (fstat(STDERR_FILENO, &sb) == -1 || !S_ISREG(sb.st_mode))
			dup2(fd, STDERR_FILENO);
	}
	/* the lock, the switch's connections, every other descriptor */
	closefrom(3);
	log_set_target(plan->conf->log.target);
	if (chdir("/") == -1)
		_exit(1);
	for (i = 0; i < SWEEP_ROUNDS; i++) {
		sleep_until(plan->demoted_us + (int64_t)plan->at_s[i] * 1000000);
		sweep_once(plan, i + 1);
	}
	_exit(0);
}

int
sweep_start(const struct sweep_plan *plan, pid_t *pid, char *err, size_t errlen)
{
	int	pfd[2], status;
	pid_t	mid, helper = -1;
	ssize_t	r;

	if (pipe(pfd) == -1) {
		snprintf(err, errlen, "sweep helper: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);	/* nothing buffered is written twice */
	mid = fork();
	if (mid == -1) {
		snprintf(err, errlen, "sweep helper: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (mid == 0) {
		/* in between: a new session, then the helper, orphaned at once */
		close(pfd[0]);
		/* the lock and the rest go before the helper exists */
		if (pfd[1] > 3)
			close_range(3, (unsigned)pfd[1] - 1, 0);
		close_range((unsigned)pfd[1] + 1, ~0U, 0);
		if (setsid() == -1)
			_exit(1);
		helper = fork();
		if (helper == 0)
			sweep_helper(plan);
		r = write(pfd[1], &helper, sizeof(helper));
		_exit(helper == -1 || r != (ssize_t)sizeof(helper));
	}
	close(pfd[1]);
	do
		r = read(pfd[0], &helper, sizeof(helper));
	while (r == -1 && errno == EINTR);
	close(pfd[0]);
	while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
		;
	if (r != (ssize_t)sizeof(helper) || helper <= 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "sweep helper: could not be started");
		return -1;
	}
	*pid = helper;
	return 0;
}
