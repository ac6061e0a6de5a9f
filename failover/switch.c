/*
 * switch.c - `redisfo-dns switch`: move a service's primary to a replica.
 *
 * The switch is a state machine read top to bottom from steps[]: an enum
 * of steps, one function per step, a rollback function for each step that
 * changes something before the record moves, and the timeline printed from
 * the same table. A planned switchover (the primary P answers) pauses
 * writes on P, waits until the target T has every byte P has, promotes T,
 * swaps the record by a compare-and-swap UPDATE, and only then demotes P
 * and kills its clients; an unplanned failover (P does not answer
 * failover.probes probes) promotes T, swaps the record and fences P; a
 * record repair (the record names a replica of the only master, and the
 * operator asks --to that master) only moves the record.
 *
 * What it must never do: move the record before T accepts writes; let P
 * take writes after T was promoted (P stays paused from the pause until
 * it is a replica, the pause is refreshed before each step that follows);
 * kill P's clients before P is a replica; report "nothing changed" when it
 * does not know. Exit codes: 0 done, 1 refused or rolled back (nothing
 * changed), 2 usage, 3 part-way (the message says where things are).
 *
 * Signals: from the first step that changes something until the switch
 * has finished or rolled back, SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 * SIGTSTP are held and reported at the end; SIGPIPE is ignored. SIGKILL
 * cannot be held; if it lands, P's pause runs out by itself
 * (pause_timeout_ms) and:
 * before the promote nothing changed; after the promote and before the
 * swap T is a second master that no client is sent to (`rejoin T`); after
 * the swap P is a master again that its old connections still write to
 * until `rejoin P` (check reports both as split brain).
 *
 * Hooks (pre_hook, post_hook) run with /bin/sh -c in their own process
 * group and are killed with it after failover.hook_timeout_ms: a hung
 * pre_hook aborts the switch before anything changed, a hung post_hook is
 * reported. A hook never inherits the lock.
 *
 * REDISFO_STEP_HOOK is for drills and tests only, never for production:
 * when it is set (and not empty) in the environment, its value is run
 * with /bin/sh -c after each step, with REDISFO_STEP=<step>, so a test can
 * kill a node or the DNS server at a precise moment. It runs inside the
 * write pause and only when set: nothing in the config can turn it on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/audit.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/json.h"
#include "failover/lock.h"
#include "failover/node.h"
#include "failover/msg.h"
#include "failover/state.h"
#include "failover/txt.h"

/* Messages are cut to their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

enum switch_step {
	STEP_LOCK,
	STEP_PREFLIGHT,
	STEP_CONFIRM,
	STEP_PRE_HOOK,
	STEP_PAUSE,
	STEP_CATCHUP,
	STEP_PROMOTE,
	STEP_SWAP,
	STEP_DEMOTE,
	STEP_REPOINT,
	STEP_POST_HOOK,
	STEP_MAX
};

enum switch_mode { MODE_PLANNED, MODE_FAILOVER, MODE_REPAIR };

enum step_status { ST_NOT_RUN = 0, ST_OK, ST_FAILED, ST_ROLLED_BACK, ST_ROLLBACK_FAILED };

struct sw {
	const struct conf		*conf;
	const struct conf_service	*svc;
	/* options */
	const char			*to;
	int				 force, dry_run, yes;
	/* what preflight found */
	struct svc_state		 st;
	enum switch_mode		 mode;
	int				 planned;	/* mode == MODE_PLANNED */
	int				 p, t;		/* node indexes */
	const struct conf_node		*pn, *tn;
	struct node_conn		*pc, *tc;
	int				 p_probes_failed;
	/* progress */
	int				 lock_fd;
	sigset_t			 old_mask;	/* the signal mask to restore */
	int				 signals_held;
	int				 changed;	/* a node was changed */
	int				 committed;	/* the record moved */
	int				 dns_unknown;	/* the UPDATE's outcome is unknown */
	int				 refused;	/* preflight/confirm/hook said no */
	int				 p_demoted;
	int				 t_promote_refused;	/* T answered REPLICAOF NO ONE
							   with an error */
	long long			 p_offset, t_offset;
	long long			 t_start, pause_start, pause_end;
	long long			 last_pause;	/* last CLIENT PAUSE sent */
	uint32_t			 new_serial;
	long long			 new_epoch;
	char				 new_txt[512];
	char				 fenced[CONF_NAME_MAX];
	char				 warnings[2048];
	char				 err[1024];
	/* the timeline */
	enum step_status		 status[STEP_MAX];
	long long			 step_us[STEP_MAX];
	char				 note[STEP_MAX][256];
};

struct step {
	const char	*name;
	const char	*what;		/* for the plan */
	int		(*run)(struct sw *);
	int		(*rollback)(struct sw *);
	int		 planned;	/* runs in a planned switchover */
	int		 failover;	/* runs in an unplanned failover */
	int		 repair;	/* runs in a record repair */
};

static int	switch_step_lock(struct sw *);
static int	switch_step_preflight(struct sw *);
static int	switch_step_confirm(struct sw *);
static int	switch_step_pre_hook(struct sw *);
static int	switch_step_pause(struct sw *);
static int	switch_step_catchup(struct sw *);
static int	switch_step_promote(struct sw *);
static int	switch_step_swap(struct sw *);
static int	switch_step_demote(struct sw *);
static int	switch_step_repoint(struct sw *);
static int	switch_step_post_hook(struct sw *);
static int	switch_rollback_pause(struct sw *);
static int	switch_rollback_promote(struct sw *);

static const struct step steps[STEP_MAX] = {
	[STEP_LOCK]	 = { "lock", "take the switch lock",
	    switch_step_lock, NULL, 1, 1, 1 },
	[STEP_PREFLIGHT] = { "preflight", "read the record, probe every node, check the target",
	    switch_step_preflight, NULL, 1, 1, 1 },
	[STEP_CONFIRM]	 = { "confirm", "show the plan, ask unless -y",
	    switch_step_confirm, NULL, 1, 1, 1 },
	[STEP_PRE_HOOK]	 = { "pre_hook", "run failover.pre_hook (non-zero aborts)",
	    switch_step_pre_hook, NULL, 1, 1, 1 },
	[STEP_PAUSE]	 = { "pause", "CLIENT PAUSE WRITE on the primary",
	    switch_step_pause, switch_rollback_pause, 1, 0, 0 },
	[STEP_CATCHUP]	 = { "catchup", "wait until the target has the primary's offset",
	    switch_step_catchup, NULL, 1, 0, 0 },
	[STEP_PROMOTE]	 = { "promote", "REPLICAOF NO ONE on the target, check ROLE",
	    switch_step_promote, switch_rollback_promote, 1, 1, 0 },
	[STEP_SWAP]	 = { "swap", "UPDATE the record (prerequisite: the old address) and the TXT",
	    switch_step_swap, NULL, 1, 1, 1 },
	[STEP_DEMOTE]	 = { "demote", "old primary: REPLICAOF target, CLIENT KILL, UNPAUSE, CONFIG REWRITE",
	    switch_step_demote, NULL, 1, 0, 0 },
	[STEP_REPOINT]	 = { "repoint", "CONFIG REWRITE the new primary, point the other replicas at it",
	    switch_step_repoint, NULL, 1, 1, 1 },
	[STEP_POST_HOOK] = { "post_hook", "run failover.post_hook (failure reported)",
	    switch_step_post_hook, NULL, 1, 1, 1 },
};

/* ------------------------------------------------------------ helpers */

static int
step_runs(const struct sw *sw, int i)
{
	switch (sw->mode) {
	case MODE_PLANNED:	return steps[i].planned;
	case MODE_FAILOVER:	return steps[i].failover;
	case MODE_REPAIR:	return steps[i].repair;
	}
	return 0;
}

static const char *
mode_str(const struct sw *sw)
{
	switch (sw->mode) {
	case MODE_PLANNED:	return "planned";
	case MODE_FAILOVER:	return "failover";
	case MODE_REPAIR:	return "repair";
	}
	return "?";
}


static void
sw_fail(struct sw *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sw_fail(struct sw *sw, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sw->err, sizeof(sw->err), fmt, ap);
	va_end(ap);
}

static void
sw_warn(struct sw *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sw_warn(struct sw *sw, const char *fmt, ...)
{
	va_list	ap;
	char	line[512];
	size_t	o = strlen(sw->warnings);

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("  warning: %s\n", line);
	fflush(stdout);
	snprintf(sw->warnings + o, sizeof(sw->warnings) - o, "%s%s", o ? "; " : "", line);
}

/* One verdict line of the preflight; returns ok. */
static int
verdict(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
verdict(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("  [%s] ", ok ? " ok " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return ok;
}

/* Append one JSON line for a step to failover.audit_log. */
static void
audit(struct sw *sw, const char *step, const char *result, long long us, const char *detail)
{
	struct audit_entry e = {
		.service = sw->svc->name,
		.mode = sw->pn == NULL ? "" : mode_str(sw),
		.from = sw->pn ? sw->pn->name : "",
		.to = sw->tn ? sw->tn->name : "",
		.step = step, .result = result, .us = us, .detail = detail,
	};

	char err[512];

	if (!sw->dry_run && audit_append(sw->conf->failover.audit_log, &e, err,
	    sizeof(err)) == -1)
		msg_warnx("%s", err);
}

/* Wait for the hook pid until timeout_ms; 0 with *status, or -1 when it
 * was killed for taking too long. */
static int
hook_wait(pid_t pid, int timeout_ms, int *status)
{
	long long	deadline = mono_us() + (long long)timeout_ms * 1000, left;
	struct pollfd	pfd = { .fd = -1, .events = POLLIN };
	struct timespec	ts = { 0, 5 * 1000000 };
	pid_t		w;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);	/* -1: poll by sleeping */
	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			break;
		left = deadline - mono_us();
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) == -1 && errno == EINTR)
				;
			if (pfd.fd != -1)
				close(pfd.fd);
			return -1;
		}
		if (pfd.fd != -1)
			poll(&pfd, 1, (int)(left / 1000) + 1);
		else
			nanosleep(&ts, NULL);
	}
	if (pfd.fd != -1)
		close(pfd.fd);
	if (w == -1) {
		*status = 0x7f00;	/* "exited 127": it could not be waited for */
	}
	return 0;
}

/*
 * Run cmd with /bin/sh -c and the switch described in the environment.
 * Returns its exit status, 128+N when killed by signal N, or -1 when it
 * could not be started or ran over the hook timeout (killed; *why says).
 */
static int
run_hook(struct sw *sw, const char *cmd, const char *result, const char *step,
    char *why, size_t whylen)
{
	char	epoch[32];
	pid_t	pid;
	int	status, timeout = sw->conf->failover.hook_timeout_ms;

	snprintf(epoch, sizeof(epoch), "%lld", sw->new_epoch);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		snprintf(why, whylen, "cannot start: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char addr[256];

		/* Its own process group (so a timeout kills all of it), and the
		 * signals the switch holds or ignores back to normal. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &sw->old_mask, NULL);
		setenv("REDISFO_SERVICE", sw->svc->name, 1);
		setenv("REDISFO_MODE", mode_str(sw), 1);
		setenv("REDISFO_OLD", sw->pn ? sw->pn->name : "", 1);
		setenv("REDISFO_NEW", sw->tn ? sw->tn->name : "", 1);
		if (sw->pn) {
			state_node_addresses(sw->pn, addr, sizeof(addr));
			setenv("REDISFO_OLD_ADDRESS", addr, 1);
		}
		if (sw->tn) {
			state_node_addresses(sw->tn, addr, sizeof(addr));
			setenv("REDISFO_NEW_ADDRESS", addr, 1);
		}
		setenv("REDISFO_ZONE", sw->conf->dns.zone, 1);
		setenv("REDISFO_EPOCH", epoch, 1);
		if (result)
			setenv("REDISFO_RESULT", result, 1);
		if (step)
			setenv("REDISFO_STEP", step, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides, whichever runs first */
	if (hook_wait(pid, timeout, &status) == -1) {
		snprintf(why, whylen, "killed after %d ms (the hook timeout)", timeout);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/*
 * From the first step that changes something to the end, SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT and SIGTSTP are held: a switch stopped half-way (after
 * the promote, say) leaves two masters, and one suspended by ^Z outlives
 * its pause, so it finishes or rolls back first and says afterwards that
 * it was asked to stop. SIGPIPE is ignored for the
 * whole command: an operator's `| head` or a closed terminal must not end
 * it half-way either. SIGKILL cannot be held; see the header.
 */
static void
signals_hold(struct sw *sw)
{
	sigset_t set;

	if (sw->signals_held)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sw->signals_held = 1;
}

/* Take any signal that arrived while held, and say so; 1 if one did. */
static int
signals_report(struct sw *sw)
{
	struct timespec	zero = { 0, 0 };
	sigset_t	set;
	int		sig, got = 0;

	if (!sw->signals_held)
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTSTP);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0) {
		fprintf(stderr, "redisfo-dns: %s arrived during the switch: held until "
		    "the switch had finished or rolled back\n", strsignal(sig));
		got = 1;
	}
	sigprocmask(SIG_SETMASK, &sw->old_mask, NULL);
	sw->signals_held = 0;
	return got;
}

/* Refresh P's write pause so it cannot run out before P is a replica. */
static int
pause_refresh(struct sw *sw)
{
	long long	since, off;
	char		e[256];

	if (!sw->planned || sw->pause_start == 0 || sw->p_demoted)
		return 0;
	since = mono_us() - sw->last_pause;
	if (node_pause_writes(sw->pc, sw->conf->failover.pause_timeout_ms, e, sizeof(e)) == -1) {
		sw_fail(sw, "cannot renew the write pause on %s: %s", sw->pn->name, e);
		return -1;
	}
	sw->last_pause = mono_us();
	/*
	 * If the pause may have run out, P may have taken writes the target
	 * never saw: go on only if P's offset did not move since the catch-up.
	 */
	if (sw->status[STEP_CATCHUP] == ST_OK && since >= (long long)sw->conf->failover.pause_timeout_ms * 900) {
		if (node_offset(sw->pc, &off, e, sizeof(e)) == -1) {
			sw_fail(sw, "the write pause on %s may have run out and its offset "
			    "cannot be read: %s", sw->pn->name, e);
			return -1;
		}
		if (off != sw->p_offset) {
			sw_fail(sw, "the write pause on %s ran out (%lld ms between steps) and "
			    "it took writes (offset %lld -> %lld)", sw->pn->name, since / 1000,
			    sw->p_offset, off);
			return -1;
		}
		sw_warn(sw, "the write pause on %s may have run out (%lld ms between "
		    "steps); its offset did not move", sw->pn->name, since / 1000);
	}
	return 0;
}

/* ------------------------------------------------------------- steps */

static int
switch_step_lock(struct sw *sw)
{
	const char	*path = sw->conf->failover.lock_file;
	char		 e[512];
	int		 fd;

	fd = lock_take(path, sw->dry_run, "switch", e, sizeof(e));
	if (fd == -2) {
		if (sw->dry_run)
			verdict(0, "lock %s: %s", path, e);
		sw_fail(sw, "%s", e);
		sw->refused = 1;
		return -1;
	}
	if (fd == -1) {
		sw_fail(sw, "%s", e);
		return -1;
	}
	if (sw->dry_run) {
		verdict(1, "lock %s is free", path);
		lock_release(fd);
		return 0;
	}
	sw->lock_fd = fd;
	return 0;
}

/* The best replica to promote, or -1. */
static int
pick_target(struct sw *sw)
{
	const struct svc_state	*st = &sw->st;
	const struct node_info	*ni, *best = NULL;
	int			 bi = -1;
	size_t			 i;

	for (i = 0; i < sw->svc->n_nodes; i++) {
		ni = &st->nodes[i];
		if ((int)i == sw->p || !ni->reachable || ni->role != NODE_ROLE_REPLICA ||
		    !state_follows(ni, sw->pn))
			continue;
		if (st->redisfo.fenced[0] && strcmp(st->redisfo.fenced, sw->svc->nodes[i].name) == 0)
			continue;
		if (sw->planned && !ni->link_up)
			continue;
		if (best != NULL) {
			if (ni->conf->priority < best->conf->priority)
				continue;
			if (ni->conf->priority == best->conf->priority &&
			    ni->replica_offset <= best->replica_offset)
				continue;
		}
		best = ni;
		bi = (int)i;
	}
	return bi;
}

/* The plan: what will happen, step by step. */
static void
print_plan(struct sw *sw)
{
	static const char	*what[] = { "planned switchover", "UNPLANNED FAILOVER",
				    "record repair" };
	char			 addrs[256];
	size_t			 i;

	state_node_addresses(sw->tn, addrs, sizeof(addrs));
	sw->new_epoch = sw->st.redisfo.epoch + 1;
	if (sw->mode == MODE_FAILOVER)
		snprintf(sw->fenced, sizeof(sw->fenced), "%s", sw->pn->name);
	else if (sw->st.redisfo.fenced[0] && strcmp(sw->st.redisfo.fenced, sw->tn->name) != 0)
		snprintf(sw->fenced, sizeof(sw->fenced), "%s", sw->st.redisfo.fenced);
	printf("plan: %s %s: %s (%s:%d) -> %s (%s:%d), record %s -> %s, epoch %lld\n",
	    what[sw->mode], sw->svc->name, sw->pn->name, sw->pn->host, sw->pn->port,
	    sw->tn->name, sw->tn->host, sw->tn->port, sw->st.owner, addrs, sw->new_epoch);
	for (i = 0; i < STEP_MAX; i++)
		if (step_runs(sw, (int)i))
			printf("  %-10s %s\n", steps[i].name, steps[i].what);
	fflush(stdout);
}

/*
 * The served node answers but is not a master. When it is a replica of
 * the only master M and the operator asked --to M, the record is what is
 * wrong (a late UPDATE, a hand edit): repair it, moving nothing else.
 * Otherwise refuse, saying how to repair.
 */
static int
preflight_not_master(struct sw *sw)
{
	const struct svc_state	*st = &sw->st;
	const struct node_info	*pi = &st->nodes[sw->p];
	char			 e[256];
	int			 m = -1;
	size_t			 i;

	for (i = 0; i < sw->svc->n_nodes; i++)
		if (st->nodes[i].reachable && st->nodes[i].role == NODE_ROLE_MASTER &&
		    state_follows(pi, &sw->svc->nodes[i]))
			m = (int)i;
	verdict(0, "primary %s is a master (it is a %s of %s:%d)", sw->pn->name,
	    node_role_str(pi->role), pi->master_host, pi->master_port);
	if (m < 0 || st->n_masters != 1 || sw->to == NULL ||
	    strcmp(sw->to, sw->svc->nodes[m].name) != 0) {
		sw_fail(sw, "the served node %s is not a master (it is a %s of %s:%d)%s%s%s",
		    sw->pn->name, node_role_str(pi->role), pi->master_host, pi->master_port,
		    m >= 0 && st->n_masters == 1 ? "; to point the record at its master, "
		    "run switch --to " : "", m >= 0 && st->n_masters == 1 ?
		    sw->svc->nodes[m].name : "", "");
		return -1;
	}
	sw->mode = MODE_REPAIR;
	sw->planned = 0;
	sw->t = m;
	sw->tn = &sw->svc->nodes[m];
	verdict(1, "%s is the only master and %s follows it: repair the record",
	    sw->tn->name, sw->pn->name);
	print_plan(sw);
	if (sw->dry_run)
		return 0;
	sw->tc = node_connect(sw->svc, sw->tn, sw->conf->failover.probe_timeout_ms,
	    e, sizeof(e));
	if (sw->tc == NULL) {
		sw_fail(sw, "%s", e);
		return -1;
	}
	return 0;
}

static int
switch_step_preflight(struct sw *sw)
{
	struct svc_state	*st = &sw->st;
	const struct conf	*conf = sw->conf;
	struct node_info	*pi, *ti;
	char			 e[512];
	int			 k, ok = 1;
	size_t			 i;

	if (state_load(st, conf, sw->svc, 1) == -1) {
		sw_fail(sw, "%s", st->dns_err);
		return -1;
	}
	if (!verdict(st->dns == DNSCLIENT_OK, "record %s readable from %s%s%s", st->owner,
	    conf->failover.server.text, st->dns == DNSCLIENT_OK ? "" : ": ",
	    st->dns == DNSCLIENT_OK ? "" : st->dns_err)) {
		sw_fail(sw, "cannot read the record: %s", st->dns_err);
		return -1;
	}
	if (!verdict(st->served >= 0, "record %s -> %s%s%s (serial %u) names a node%s%s",
	    st->owner, st->a->n ? st->a->value[0] : "", st->aaaa->n ? " " : "",
	    st->aaaa->n ? st->aaaa->value[0] : "", st->serial,
	    st->served >= 0 ? ": " : "", st->served >= 0 ? sw->svc->nodes[st->served].name : "")) {
		sw_fail(sw, "the served record %s (%s%s%s) does not match any node of %s",
		    st->owner, st->a->n ? st->a->value[0] : "none",
		    st->aaaa->n ? " " : "", st->aaaa->n ? st->aaaa->value[0] : "",
		    sw->svc->name);
		return -1;
	}
	sw->p = st->served;
	sw->pn = &sw->svc->nodes[sw->p];
	pi = &st->nodes[sw->p];

	/* Is P up? It gets failover.probes chances before it counts as down. */
	sw->p_probes_failed = pi->reachable ? 0 : 1;
	for (k = 1; !pi->reachable && !pi->answered && k < conf->failover.probes; k++) {
		node_probe_one(sw->svc, sw->pn, conf->failover.probe_timeout_ms, pi);
		if (!pi->reachable)
			sw->p_probes_failed++;
	}
	if (!pi->reachable && pi->answered) {
		/* Up but unusable (AUTH, ...): that is no reason to fail over. */
		verdict(0, "primary %s answers but cannot be probed: %s", sw->pn->name,
		    pi->error);
		sw_fail(sw, "the primary %s answers but cannot be probed: %s", sw->pn->name,
		    pi->error);
		return -1;
	}
	if (pi->reachable)
		state_judge(st);
	sw->mode = pi->reachable ? MODE_PLANNED : MODE_FAILOVER;
	sw->planned = sw->mode == MODE_PLANNED;
	if (sw->planned) {
		verdict(1, "primary %s answers", sw->pn->name);
		if (pi->role != NODE_ROLE_MASTER)
			return preflight_not_master(sw);
		verdict(1, "primary %s is a master", sw->pn->name);
	} else {
		verdict(0, "primary %s does not answer after %d probes: %s",
		    sw->pn->name, sw->p_probes_failed, pi->error);
		printf("  -> this is an UNPLANNED FAILOVER: writes %s acknowledged after "
		    "the target's last offset are lost\n", sw->pn->name);
	}

	/* The target. */
	if (sw->to != NULL) {
		sw->t = state_node_index(sw->svc, sw->to);
		if (sw->t < 0) {
			sw_fail(sw, "no node named '%s' in service %s", sw->to, sw->svc->name);
			return -2;
		}
		if (sw->t == sw->p) {
			verdict(0, "target %s is not the served primary", sw->to);
			sw_fail(sw, "%s is already the served primary", sw->to);
			return -1;
		}
	} else {
		sw->t = pick_target(sw);
		if (sw->t < 0) {
			verdict(0, "a replica of %s to promote", sw->pn->name);
			sw_fail(sw, "no reachable replica of %s%s to promote", sw->pn->name,
			    sw->planned ? " with its link up" : "");
			return -1;
		}
	}
	sw->tn = &sw->svc->nodes[sw->t];
	ti = &st->nodes[sw->t];
	if (!verdict(ti->reachable, "target %s answers%s%s", sw->tn->name,
	    ti->reachable ? "" : ": ", ti->reachable ? "" : ti->error)) {
		sw_fail(sw, "the target %s does not answer: %s", sw->tn->name, ti->error);
		return -1;
	}
	if (!verdict(state_follows(ti, sw->pn), "target %s is a replica of the served "
	    "primary %s", sw->tn->name, sw->pn->name)) {
		if (ti->role == NODE_ROLE_REPLICA)
			sw_fail(sw, "the target %s is not a replica of the served primary %s "
			    "(it follows %s:%d)", sw->tn->name, sw->pn->name,
			    ti->master_host, ti->master_port);
		else
			sw_fail(sw, "the target %s is not a replica of the served primary %s "
			    "(it is a %s)", sw->tn->name, sw->pn->name, node_role_str(ti->role));
		return -1;
	}
	if (sw->planned) {
		if (!verdict(ti->link_up, "target %s's replication link is up", sw->tn->name)) {
			sw_fail(sw, "the target %s's replication link to %s is down",
			    sw->tn->name, sw->pn->name);
			return -1;
		}
		ti->lag_bytes = pi->master_offset - ti->replica_offset;
		if (ti->lag_bytes > conf->failover.max_lag_bytes) {
			ok = verdict(sw->force, "target %s is %lld bytes behind (max_lag_bytes %lld)%s",
			    sw->tn->name, ti->lag_bytes, conf->failover.max_lag_bytes,
			    sw->force ? ": --force" : "");
			if (!ok) {
				sw_fail(sw, "the target %s is %lld bytes behind %s (max_lag_bytes "
				    "%lld); use --force to switch anyway", sw->tn->name,
				    ti->lag_bytes, sw->pn->name, conf->failover.max_lag_bytes);
				return -1;
			}
		} else
			verdict(1, "target %s is %lld bytes behind (max_lag_bytes %lld)",
			    sw->tn->name, ti->lag_bytes, conf->failover.max_lag_bytes);
	} else {
		printf("  what may be lost: everything %s acknowledged after offset %lld "
		    "(the target %s's last offset)\n", sw->pn->name, ti->replica_offset,
		    sw->tn->name);
		for (i = 0; i < sw->svc->n_nodes; i++) {
			const struct node_info *o = &st->nodes[i];
			if ((int)i == sw->p || (int)i == sw->t || !o->reachable ||
			    o->role != NODE_ROLE_REPLICA)
				continue;
			if (o->replica_offset > ti->replica_offset)
				printf("  note: %s has %lld bytes more than %s (promote it with "
				    "--to %s to lose less)\n", sw->svc->nodes[i].name,
				    o->replica_offset - ti->replica_offset, sw->tn->name,
				    sw->svc->nodes[i].name);
			else
				printf("  %s is %lld bytes behind %s\n", sw->svc->nodes[i].name,
				    ti->replica_offset - o->replica_offset, sw->tn->name);
		}
	}
	for (i = 0; i < sw->svc->n_nodes; i++)
		if ((int)i != sw->p && st->nodes[i].reachable &&
		    st->nodes[i].role == NODE_ROLE_MASTER)
			sw_warn(sw, "%s also claims to be master (split brain?)",
			    sw->svc->nodes[i].name);

	print_plan(sw);

	if (sw->dry_run)
		return 0;
	/* Keep connections to P and T for the steps that follow. */
	sw->tc = node_connect(sw->svc, sw->tn, conf->failover.probe_timeout_ms, e, sizeof(e));
	if (sw->tc == NULL) {
		sw_fail(sw, "%s", e);
		return -1;
	}
	if (sw->planned) {
		sw->pc = node_connect(sw->svc, sw->pn, conf->failover.probe_timeout_ms, e, sizeof(e));
		if (sw->pc == NULL) {
			sw_fail(sw, "%s", e);
			return -1;
		}
	}
	return 0;
}

static int
switch_step_confirm(struct sw *sw)
{
	char line[64];

	if (sw->yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		sw_fail(sw, "not confirmed: no terminal to ask on; run with -y to %s",
		    sw->mode == MODE_FAILOVER ? "fail over" : "switch");
		return -1;
	}
	printf("%s %s from %s to %s? [y/N] ", sw->mode == MODE_PLANNED ? "Switch" :
	    sw->mode == MODE_REPAIR ? "Move the record of" : "FAIL OVER",
	    sw->svc->name, sw->pn->name, sw->tn->name);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (line[0] != 'y' && line[0] != 'Y')) {
		sw_fail(sw, "not confirmed by the operator");
		return -1;
	}
	return 0;
}

static int
switch_step_pre_hook(struct sw *sw)
{
	char	why[128];
	int	rc;

	if (sw->conf->failover.pre_hook[0] == '\0') {
		snprintf(sw->note[STEP_PRE_HOOK], sizeof(sw->note[0]), "none");
		return 0;
	}
	rc = run_hook(sw, sw->conf->failover.pre_hook, NULL, NULL, why, sizeof(why));
	if (rc == -1) {
		sw_fail(sw, "pre_hook %s: switch aborted", why);
		return -1;
	}
	if (rc != 0) {
		sw_fail(sw, "pre_hook exited with %d: switch aborted", rc);
		return -1;
	}
	return 0;
}

static int
switch_step_pause(struct sw *sw)
{
	char e[256];

	if (node_pause_writes(sw->pc, sw->conf->failover.pause_timeout_ms, e, sizeof(e)) == -1) {
		sw_fail(sw, "CLIENT PAUSE on %s failed: %s", sw->pn->name, e);
		/* Refused (no permission, Redis < 6.2): nothing happened. Else
		 * the pause may have been applied with the reply lost. */
		if (!node_last_refused(sw->pc))
			sw->changed = 1;
		return -1;
	}
	sw->pause_start = sw->last_pause = mono_us();
	sw->changed = 1;
	snprintf(sw->note[STEP_PAUSE], sizeof(sw->note[0]), "%s paused for writes, "
	    "safety timeout %d ms", sw->pn->name, sw->conf->failover.pause_timeout_ms);
	return 0;
}

static int
switch_rollback_pause(struct sw *sw)
{
	char e[256];

	if (node_unpause(sw->pc, e, sizeof(e)) == -1) {
		sw_warn(sw, "CLIENT UNPAUSE on %s failed: %s (the pause ends by itself "
		    "within %d ms)", sw->pn->name, e, sw->conf->failover.pause_timeout_ms);
		return -1;
	}
	sw->pause_end = mono_us();
	return 0;
}

static int
switch_step_catchup(struct sw *sw)
{
	struct node_info info;
	long long	deadline;
	char		e[256];
	struct timespec	ts = { 0, 200000 };

	/* Read P's offset only now that P is paused: nothing can add to it. */
	if (node_replication(sw->pc, &info, e, sizeof(e)) == -1) {
		sw_fail(sw, "cannot read the primary's offset: %s", e);
		return -1;
	}
	if (info.role != NODE_ROLE_MASTER) {
		sw_fail(sw, "%s is no longer a master (it is a %s of %s:%d)", sw->pn->name,
		    node_role_str(info.role), info.master_host, info.master_port);
		return -1;
	}
	sw->p_offset = info.master_offset;
	/* Half the pause for the catch-up, the other half for the rest. */
	deadline = sw->pause_start + (long long)sw->conf->failover.pause_timeout_ms * 500;
	for (;;) {
		if (node_replication(sw->tc, &info, e, sizeof(e)) == -1) {
			sw_fail(sw, "catch-up: cannot read the target's offset: %s", e);
			return -1;
		}
		/* An offset means "has P's bytes" only while T replicates P:
		 * a T detached or re-pointed since the preflight may count
		 * past P's offset without them. */
		if (!state_follows(&info, sw->pn)) {
			if (info.role == NODE_ROLE_REPLICA)
				sw_fail(sw, "catch-up: the target %s is no longer a replica of "
				    "%s (it follows %s:%d)", sw->tn->name, sw->pn->name,
				    info.master_host, info.master_port);
			else
				sw_fail(sw, "catch-up: the target %s is no longer a replica of "
				    "%s (it is a %s)", sw->tn->name, sw->pn->name,
				    node_role_str(info.role));
			return -1;
		}
		sw->t_offset = info.replica_offset;
		if (sw->t_offset >= sw->p_offset)
			break;
		if (mono_us() >= deadline) {
			sw_fail(sw, "catch-up timed out: %s at offset %lld, %s at %lld after "
			    "%lld ms", sw->tn->name, sw->t_offset, sw->pn->name, sw->p_offset,
			    (mono_us() - sw->pause_start) / 1000);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(sw->note[STEP_CATCHUP], sizeof(sw->note[0]), "%s reached offset %lld",
	    sw->tn->name, sw->p_offset);
	return 0;
}

static int
switch_step_promote(struct sw *sw)
{
	struct node_info	info;
	char			e[256];

	if (pause_refresh(sw) == -1)
		return -1;
	if (node_replicaof(sw->tc, NULL, 0, e, sizeof(e)) == -1) {
		sw_fail(sw, "REPLICAOF NO ONE on %s failed: %s", sw->tn->name, e);
		/* Refused: T is still a replica, nothing to undo. Else it may
		 * have happened with the reply lost. */
		sw->t_promote_refused = node_last_refused(sw->tc);
		if (!sw->t_promote_refused)
			sw->changed = 1;
		return -1;
	}
	sw->changed = 1;
	/* CONFIG REWRITE (an fsync) waits for the repoint step, out of the pause. */
	if (node_probe(sw->tc, &info, e, sizeof(e)) == -1 || info.role != NODE_ROLE_MASTER) {
		sw_fail(sw, "%s is not master after REPLICAOF NO ONE: %s", sw->tn->name,
		    info.reachable ? node_role_str(info.role) : e);
		return -1;
	}
	snprintf(sw->note[STEP_PROMOTE], sizeof(sw->note[0]), "%s is master", sw->tn->name);
	return 0;
}

static int
switch_rollback_promote(struct sw *sw)
{
	char	e[256];
	int	rc;

	if (sw->t_promote_refused)
		return 0;	/* T refused REPLICAOF NO ONE: it never stopped following P */
	if (node_replicaof(sw->tc, sw->pn->host, sw->pn->port, e, sizeof(e)) == -1) {
		sw_warn(sw, "could not make %s a replica of %s again: %s", sw->tn->name,
		    sw->pn->name, e);
		return -1;
	}
	rc = node_config_rewrite(sw->tc, e, sizeof(e));
	if (rc == -1)
		sw_warn(sw, "%s", e);
	return 0;
}

/* The UPDATE of the swap: prerequisite = P's addresses, then the change. */
static enum dnsclient_result
swap_send(struct sw *sw, char *e, size_t elen, int *rcode)
{
	struct dnsclient_change	 ch[2 * CONF_ADDR_MAX + 8];
	const struct conf	*conf = sw->conf;
	const char		*owner = sw->st.owner, *txt = sw->st.txt_owner;
	struct txt_record	 rec;
	char			 rd[2 * CONF_ADDR_MAX][80];
	size_t			 n = 0, i, r = 0;
	int			 has4 = 0, has6 = 0, timeout;

	for (i = 0; i < sw->pn->n_address; i++) {
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
		    sw->pn->address[i].family == AF_INET ? DNSCLIENT_TYPE_A : DNSCLIENT_TYPE_AAAA,
		    0, sw->pn->address[i].text };
		if (sw->pn->address[i].family == AF_INET)
			has4 = 1;
		else
			has6 = 1;
	}
	if (!has4)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_A, 0, NULL };
	if (!has6)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_AAAA, 0, NULL };
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner, DNSCLIENT_TYPE_A, 0, NULL };
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner, DNSCLIENT_TYPE_AAAA, 0, NULL };
	for (i = 0; i < sw->tn->n_address; i++) {
		snprintf(rd[r], sizeof(rd[r]), "%s", sw->tn->address[i].text);
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, owner,
		    sw->tn->address[i].family == AF_INET ? DNSCLIENT_TYPE_A : DNSCLIENT_TYPE_AAAA,
		    (uint32_t)conf->dns.ttl, rd[r] };
		r++;
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), "%s", sw->tn->name);
	rec.epoch = sw->new_epoch;
	snprintf(rec.fenced, sizeof(rec.fenced), "%s", sw->fenced);
	txt_stamp(&rec);
	if (txt_format(&rec, sw->new_txt, sizeof(sw->new_txt)) == -1) {
		snprintf(e, elen, "the TXT does not fit (not sent)");
		return DNSCLIENT_UNREACHABLE;
	}
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, txt, DNSCLIENT_TYPE_TXT, 0, NULL };
	ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, txt, DNSCLIENT_TYPE_TXT,
	    (uint32_t)conf->dns.ttl, sw->new_txt };
	/* Some primaries take a second now and then (knotd's zone events):
	 * wait up to 3/4 of the pause (just renewed), never longer, however
	 * long probe_timeout_ms is: P must still be paused when the reply
	 * comes. A reply that does not come in time is looked for in the
	 * record itself. */
	timeout = conf->failover.pause_timeout_ms * 3 / 4;
	return dnsclient_update(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, &conf->dns.update_key, ch, n, timeout, rcode, e, elen);
}

static int
switch_step_swap(struct sw *sw)
{
	enum dnsclient_result	res, q = DNSCLIENT_ERROR;
	char			e[512];
	int			rcode, now, tries;

	if (pause_refresh(sw) == -1)
		return -1;
	res = swap_send(sw, e, sizeof(e), &rcode);
	if (res == DNSCLIENT_OK) {
		sw->committed = 1;
	} else if (res == DNSCLIENT_REFUSED || res == DNSCLIENT_NOTAUTH ||
	    res == DNSCLIENT_PREREQ || res == DNSCLIENT_RCODE || res == DNSCLIENT_UNREACHABLE) {
		sw_fail(sw, "record swap failed: %s", e);
		return -1;
	} else {
		/* Timeout or a reply we cannot trust: look at the record itself
		 * (a slow server gets a few chances to answer). The UPDATE took
		 * most of the pause and each look may take a probe timeout per
		 * query: renew the pause before each, so P cannot take writes
		 * while the record may already name T. */
		for (tries = 0; tries < 3; tries++) {
			if (pause_refresh(sw) == -1) {
				sw->dns_unknown = 1;
				return -1;
			}
			if ((q = state_read_dns(&sw->st)) == DNSCLIENT_OK)
				break;
		}
		now = sw->st.served;
		if (q == DNSCLIENT_OK && now == sw->t) {
			sw->committed = 1;
			sw_warn(sw, "the UPDATE's reply was lost (%s) but the record names %s",
			    e, sw->tn->name);
		} else if (q == DNSCLIENT_OK && now == sw->p) {
			/* Not applied yet is not "never": a server that got the
			 * UPDATE and stalls may apply it after we gave up. */
			sw->dns_unknown = 1;
			sw_fail(sw, "record swap failed: %s; the record still names %s, "
			    "but the UPDATE may yet be applied", e, sw->pn->name);
			return -1;
		} else {
			sw->dns_unknown = 1;
			sw_fail(sw, "record swap failed: %s; the record's state is unknown", e);
			return -1;
		}
	}
	if (dnsclient_serial(&sw->conf->failover.server.ss, sw->conf->failover.server.len,
	    sw->conf->dns.zone, sw->conf->failover.probe_timeout_ms, &sw->new_serial,
	    e, sizeof(e)) == DNSCLIENT_OK)
		snprintf(sw->note[STEP_SWAP], sizeof(sw->note[0]), "record names %s, serial "
		    "%u -> %u", sw->tn->name, sw->st.serial, sw->new_serial);
	else
		snprintf(sw->note[STEP_SWAP], sizeof(sw->note[0]), "record names %s",
		    sw->tn->name);
	return 0;
}

static int
switch_step_demote(struct sw *sw)
{
	char		e[256];
	long long	killed = 0;
	int		rc;

	if (pause_refresh(sw) == -1) {
		char why[sizeof(sw->err)];

		snprintf(why, sizeof(why), "%s", sw->err);
		sw_fail(sw, "%s did not take the pause renewal; it may still be master: %s",
		    sw->pn->name, why);
		return -1;
	}
	if (node_replicaof(sw->pc, sw->tn->host, sw->tn->port, e, sizeof(e)) == -1) {
		sw_fail(sw, "could not make %s a replica of %s: %s; it stays paused for "
		    "writes until the pause times out, then it is a second master: fence it "
		    "by hand (REPLICAOF %s %d)", sw->pn->name, sw->tn->name, e,
		    sw->tn->host, sw->tn->port);
		return -1;
	}
	sw->p_demoted = 1;
	/* Only now, with P a replica: clients reconnect and resolve again. */
	if (node_kill_clients(sw->pc, &killed, e, sizeof(e)) == -1)
		sw_warn(sw, "%s", e);
	if (node_unpause(sw->pc, e, sizeof(e)) == -1)
		sw_warn(sw, "%s (the pause ends by itself)", e);
	sw->pause_end = mono_us();
	/* Persisting the role (an fsync) does not need the pause. */
	rc = node_config_rewrite(sw->pc, e, sizeof(e));
	if (rc != 0)
		sw_warn(sw, "%s", e);
	snprintf(sw->note[STEP_DEMOTE], sizeof(sw->note[0]), "%s replica of %s, %lld "
	    "clients killed, unpaused", sw->pn->name, sw->tn->name, killed);
	return 0;
}

static int
switch_step_repoint(struct sw *sw)
{
	struct node_conn	*c;
	char			 e[256];
	size_t			 i;
	int			 n = 0;

	/* The new primary's role goes to its config file first. */
	if (node_config_rewrite(sw->tc, e, sizeof(e)) != 0)
		sw_warn(sw, "%s", e);
	for (i = 0; i < sw->svc->n_nodes; i++) {
		const struct conf_node *nd = &sw->svc->nodes[i];

		if ((int)i == sw->p || (int)i == sw->t)
			continue;
		if (sw->st.redisfo.fenced[0] && strcmp(sw->st.redisfo.fenced, nd->name) == 0) {
			sw_warn(sw, "%s is fenced: not re-pointed (rejoin %s)", nd->name, nd->name);
			continue;
		}
		c = node_connect(sw->svc, nd, sw->conf->failover.probe_timeout_ms, e, sizeof(e));
		if (c == NULL || node_replicaof(c, sw->tn->host, sw->tn->port, e, sizeof(e)) == -1) {
			sw_warn(sw, "%s not re-pointed at %s: %s; run rejoin %s when it is back",
			    nd->name, sw->tn->name, e, nd->name);
			node_close(c);
			continue;
		}
		if (node_config_rewrite(c, e, sizeof(e)) != 0)
			sw_warn(sw, "%s", e);
		node_close(c);
		n++;
	}
	snprintf(sw->note[STEP_REPOINT], sizeof(sw->note[0]), "%d replica(s) now follow %s",
	    n, sw->tn->name);
	return 0;
}

static int
switch_step_post_hook(struct sw *sw)
{
	char	why[128];
	int	rc;

	if (sw->conf->failover.post_hook[0] == '\0') {
		snprintf(sw->note[STEP_POST_HOOK], sizeof(sw->note[0]), "none");
		return 0;
	}
	rc = run_hook(sw, sw->conf->failover.post_hook, "done", NULL, why, sizeof(why));
	if (rc == -1)
		sw_warn(sw, "post_hook %s", why);
	else if (rc != 0)
		sw_warn(sw, "post_hook exited with %d", rc);
	return 0;
}

/* --------------------------------------------------------- the driver */

static void
print_timeline(const struct sw *sw)
{
	static const char *st_name[] = { "-", "ok", "FAILED", "rolled back", "ROLLBACK FAILED" };
	long long	total = 0;
	size_t		i;

	printf("timeline:\n");
	for (i = 0; i < STEP_MAX; i++) {
		if (sw->status[i] == ST_NOT_RUN)
			continue;
		printf("  %-10s %9.3f ms  %-12s %s\n", steps[i].name, sw->step_us[i] / 1000.0,
		    st_name[sw->status[i]], sw->note[i]);
		if (i != STEP_CONFIRM)
			total += sw->step_us[i];
	}
	if (sw->pause_start) {
		if (sw->pause_end)
			printf("write pause window: %.3f ms\n",
			    (sw->pause_end - sw->pause_start) / 1000.0);
		else
			printf("write pause window: not closed by the switch (ends by itself "
			    "after %d ms)\n", sw->conf->failover.pause_timeout_ms);
	}
	printf("total: %.3f ms (without the confirmation)\n", total / 1000.0);
	fflush(stdout);
}

/* After a failure: say where each node and the record are. */
static void
print_state_now(struct sw *sw)
{
	struct svc_state	now;
	size_t			i;

	if (state_load(&now, sw->conf, sw->svc, 1) == -1) {
		fprintf(stderr, "  state: cannot be read\n");
		return;
	}
	fprintf(stderr, "state now:\n");
	for (i = 0; i < sw->svc->n_nodes; i++) {
		const struct node_info *n = &now.nodes[i];

		if (!n->reachable)
			fprintf(stderr, "  %s (%s:%d): unreachable: %s\n", sw->svc->nodes[i].name,
			    sw->svc->nodes[i].host, sw->svc->nodes[i].port, n->error);
		else if (n->role == NODE_ROLE_REPLICA)
			fprintf(stderr, "  %s (%s:%d): replica of %s:%d, link %s\n",
			    sw->svc->nodes[i].name, sw->svc->nodes[i].host, sw->svc->nodes[i].port,
			    n->master_host, n->master_port, n->link_up ? "up" : "down");
		else
			fprintf(stderr, "  %s (%s:%d): %s%s\n", sw->svc->nodes[i].name,
			    sw->svc->nodes[i].host, sw->svc->nodes[i].port, node_role_str(n->role),
			    (int)i == sw->p && sw->pause_start && !sw->pause_end ?
			    " (paused for writes until the pause times out)" : "");
	}
	if (now.dns == DNSCLIENT_OK)
		fprintf(stderr, "  record %s -> %s%s%s (%s), serial %u\n", now.owner,
		    now.a->n ? now.a->value[0] : "", now.aaaa->n ? " " : "",
		    now.aaaa->n ? now.aaaa->value[0] : "",
		    now.served >= 0 ? sw->svc->nodes[now.served].name : "no node", now.serial);
	else
		fprintf(stderr, "  record %s: unknown (%s)\n", now.owner, now.dns_err);
	fprintf(stderr, "  verdict: %s\n", now.verdict_text);
	state_free(&now);
}

static int
switch_run(struct sw *sw)
{
	long long	t0;
	int		i, j, rc, rb_failed = 0;
	char		*hook = getenv("REDISFO_STEP_HOOK"), why[128];

	sw->t_start = mono_us();
	if (hook != NULL && *hook != '\0' && !sw->dry_run)
		fprintf(stderr, "redisfo-dns: REDISFO_STEP_HOOK is set: it runs after "
		    "each step (for drills and tests only)\n");
	for (i = 0; i < STEP_MAX; i++) {
		if (i > STEP_PREFLIGHT && !step_runs(sw, i))
			continue;
		if (sw->dry_run && i > STEP_PREFLIGHT)
			break;
		if (i > STEP_PRE_HOOK)
			signals_hold(sw);
		t0 = mono_us();
		rc = steps[i].run(sw);
		sw->step_us[i] = mono_us() - t0;
		sw->status[i] = rc == 0 ? ST_OK : ST_FAILED;
		audit(sw, steps[i].name, rc == 0 ? "ok" : "failed", sw->step_us[i],
		    rc == 0 ? sw->note[i] : sw->err);
		if (rc != 0) {
			if (i <= STEP_PRE_HOOK || rc == -2)
				sw->refused = 1;
			break;
		}
		if (hook != NULL && *hook != '\0' && !sw->dry_run &&
		    run_hook(sw, hook, NULL, steps[i].name, why, sizeof(why)) == -1)
			sw_warn(sw, "REDISFO_STEP_HOOK after %s: %s", steps[i].name, why);
	}
	if (sw->dry_run) {
		if (i < STEP_MAX && sw->status[i] == ST_FAILED) {
			fprintf(stderr, "redisfo-dns: switch would be refused: %s\n", sw->err);
			return rc == -2 ? 2 : 1;
		}
		printf("dry run: every check passed; nothing was changed\n");
		return 0;
	}
	if (i == STEP_MAX) {
		print_timeline(sw);
		printf("switch done: %s now serves %s (epoch %lld)%s%s\n", sw->tn->name,
		    sw->st.owner, sw->new_epoch, sw->warnings[0] ? "; warnings: " : "",
		    sw->warnings);
		return 0;
	}
	if (sw->refused && !sw->changed) {
		fprintf(stderr, "redisfo-dns: switch refused: %s\n", sw->err);
		audit(sw, "refused", "refused", 0, sw->err);
		return rc == -2 ? 2 : 1;
	}
	fprintf(stderr, "redisfo-dns: switch failed at %s: %s\n", steps[i].name, sw->err);
	if (sw->committed) {
		/* The record moved: forward only. */
		print_timeline(sw);
		print_state_now(sw);
		fprintf(stderr, "redisfo-dns: failed part-way: the record names %s, which is "
		    "master; see above for %s\n", sw->tn->name, sw->pn->name);
		return 3;
	}
	if (!sw->changed) {
		print_timeline(sw);
		fprintf(stderr, "redisfo-dns: nothing was changed\n");
		return 1;
	}
	/* Undo, newest first. The step that failed may have half-happened. */
	for (j = i; j >= 0; j--) {
		if (steps[j].rollback == NULL || sw->status[j] == ST_NOT_RUN)
			continue;
		t0 = mono_us();
		rc = steps[j].rollback(sw);
		sw->step_us[j] += mono_us() - t0;
		sw->status[j] = rc == 0 ? ST_ROLLED_BACK : ST_ROLLBACK_FAILED;
		audit(sw, steps[j].name, rc == 0 ? "rolled back" : "rollback failed",
		    mono_us() - t0, rc == 0 ? "" : sw->warnings);
		if (rc != 0)
			rb_failed = 1;
	}
	print_timeline(sw);
	if (!rb_failed && !sw->dns_unknown) {
		/* Say only what this switch undid: T may have been taken away
		 * by someone else (killed, detached) and is not claimed here. */
		if (sw->status[STEP_PROMOTE] == ST_ROLLED_BACK)
			fprintf(stderr, "redisfo-dns: rolled back: %s is the primary again, "
			    "%s its replica, the record untouched by this switch; nothing "
			    "changed\n", sw->pn->name, sw->tn->name);
		else
			fprintf(stderr, "redisfo-dns: rolled back: %s is the primary again "
			    "(unpaused), %s was not promoted, the record untouched by this "
			    "switch; nothing changed\n", sw->pn->name, sw->tn->name);
		return 1;
	}
	print_state_now(sw);
	if (sw->dns_unknown)
		fprintf(stderr, "redisfo-dns: failed part-way: %s is the primary again%s, "
		    "but the UPDATE's outcome is unknown: if %s applies it late, the record "
		    "names %s, %s; check with `status`, and if so run "
		    "`switch --to %s` to point the record back\n", sw->pn->name,
		    rb_failed ? " (and a rollback failed: see the state above)" : "",
		    sw->conf->failover.server.text, sw->tn->name,
		    sw->status[STEP_PROMOTE] == ST_ROLLED_BACK ? "now a replica" :
		    "not put back as a replica", sw->pn->name);
	else
		fprintf(stderr, "redisfo-dns: failed part-way: a rollback failed (see the "
		    "state above)\n");
	return 3;
}

int
cmd_switch(const struct conf *conf, int argc, char **argv)
{
	struct sw	 sw;
	const char	*svcname = NULL;
	char		 err[256];
	int		 i, rc, used;

	memset(&sw, 0, sizeof(sw));
	sw.conf = conf;
	sw.lock_fd = -1;
	sw.p = sw.t = -1;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			sw.to = argv[++i];
		else if (strcmp(argv[i], "--force") == 0)
			sw.force = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			sw.dry_run = 1;
		else if (strcmp(argv[i], "-y") == 0 || strcmp(argv[i], "--yes") == 0)
			sw.yes = 1;
		else if (argv[i][0] != '-' && svcname == NULL)
			svcname = argv[i];
		else {
			fprintf(stderr, "redisfo-dns: switch: unexpected argument '%s'\n"
			    "usage: switch [SERVICE] [--to NODE] [--force] [--dry-run] [-y]\n",
			    argv[i]);
			return 2;
		}
	}
	sw.svc = state_service_arg(conf, svcname ? 1 : 0, svcname ? (char **)&svcname : NULL,
	    &used, err, sizeof(err));
	if (sw.svc == NULL || (svcname != NULL && !used)) {
		fprintf(stderr, "redisfo-dns: switch: %s\n", sw.svc ? "no such service" : err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_SETMASK, NULL, &sw.old_mask);
	rc = switch_run(&sw);
	signals_report(&sw);
	node_close(sw.pc);
	node_close(sw.tc);
	state_free(&sw.st);
	lock_release(sw.lock_fd);
	return rc;
}
