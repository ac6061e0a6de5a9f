/*
 * switch.c - `redisfo-dns switch`: move a service's primary to a replica.
 *
 * The switch is a state machine read top to bottom from switch_steps[]:
 * an enum of steps, one function per step, a rollback function for each
 * step that changes something before the record moves, and the plan, the
 * timeline and the audit log driven from the same table. A planned
 * switchover (the primary P answers) pauses writes on P, waits until the
 * target T has every byte P has, promotes T, swaps the record by a
 * compare-and-swap UPDATE, and only then demotes P and kills its clients;
 * an unplanned failover (P does not answer failover.probes probes)
 * promotes T, swaps the record and fences P; a record repair (the record
 * names a replica of the only master, and the operator asks --to that
 * master) only moves the record.
 *
 * What it must never do: move the record before T accepts writes; let P
 * take writes after T was promoted (P stays paused from the pause until
 * it is a replica, the pause is refreshed before each step that follows);
 * kill P's clients before P is a replica; report "nothing changed" when it
 * does not know. Each step returns a verdict (enum step_run); how the
 * switch ended is one enum worked out from what happened by
 * switch_outcome(), and the exit code comes from it: 0 done, 1 refused or
 * rolled back (nothing changed), 2 usage, 3 part-way (the message says
 * where things are). What the operator reads is printed by
 * switch_print.c; hooks and held signals are in hook.c.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/audit.h"
#include "failover/commands.h"
#include "failover/dnsclient.h"
#include "failover/hook.h"
#include "failover/lease.h"
#include "failover/lock.h"
#include "failover/move.h"
#include "failover/msg.h"
#include "failover/node.h"
#include "failover/readers.h"
#include "failover/state.h"
#include "failover/sweep.h"
#include "failover/switch.h"
#include "failover/txt.h"

static enum step_run	switch_step_lock(struct sw *);
static enum step_run	switch_step_preflight(struct sw *);
static enum step_run	switch_step_confirm(struct sw *);
static enum step_run	switch_step_pre_hook(struct sw *);
static enum step_run	switch_step_pause(struct sw *);
static enum step_run	switch_step_catchup(struct sw *);
static enum step_run	switch_step_promote(struct sw *);
static enum step_run	switch_step_swap(struct sw *);
static enum step_run	switch_step_demote(struct sw *);
static enum step_run	switch_step_repoint(struct sw *);
static enum step_run	switch_step_post_hook(struct sw *);
static enum step_run	switch_step_sweep(struct sw *);
static enum step_run	switch_rollback_pause(struct sw *);
static enum step_run	switch_rollback_promote(struct sw *);

const struct step switch_steps[STEP_MAX] = {
	[STEP_LOCK]	 = { "lock", "take the switch lock and the lease in the zone",
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
	[STEP_SWEEP]	 = { "sweep", "leave a helper that kills the old primary's new clients at dns.ttl + 1 s and a TTL later",
	    switch_step_sweep, NULL, 1, 0, 0 },
};

/* ------------------------------------------------------------ helpers */

int
switch_step_runs(const struct sw *sw, int i)
{
	switch (sw->mode) {
	case MODE_PLANNED:	return switch_steps[i].planned;
	case MODE_FAILOVER:	return switch_steps[i].failover;
	case MODE_REPAIR:	return switch_steps[i].repair;
	case MODE_ADOPT:	/* a repair; with a second master to demote, that
				   one is paused from before the swap until then */
		return switch_steps[i].repair || (sw->adopt_demote &&
		    (i == STEP_PAUSE || i == STEP_DEMOTE));
	}
	return 0;
}

const char *
switch_mode_str(enum switch_mode mode)
{
	switch (mode) {
	case MODE_PLANNED:	return "planned";
	case MODE_FAILOVER:	return "failover";
	case MODE_REPAIR:	return "repair";
	case MODE_ADOPT:	return "adopt";
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

/* A warning: said now on stdout, and kept for the last line. */
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

/* One verdict of the checks, kept for switch_print_checks(); returns ok. */
static int
verdict(struct sw *sw, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
verdict(struct sw *sw, int ok, const char *fmt, ...)
{
	struct switch_check	*c;
	va_list			 ap;

	if (sw->n_checks == SWITCH_CHECKS_MAX)
		return ok;
	c = &sw->checks[sw->n_checks++];
	c->kind = ok ? CHECK_OK : CHECK_FAIL;
	va_start(ap, fmt);
	vsnprintf(c->text, sizeof(c->text), fmt, ap);
	va_end(ap);
	return ok;
}

/* A line among the verdicts that is not one (what a failover means). */
static void
verdict_note(struct sw *sw, const char *text)
{
	if (sw->n_checks == SWITCH_CHECKS_MAX)
		return;
	sw->checks[sw->n_checks].kind = CHECK_NOTE;
	snprintf(sw->checks[sw->n_checks].text, sizeof(sw->checks[0].text), "%s", text);
	sw->n_checks++;
}

/* A step's result: one JSON line in failover.audit_log and one line in
 * the log (a dry run changes nothing and records nothing). */
static void
audit(struct sw *sw, const char *step, const char *result, long long us, const char *detail)
{
	struct audit_entry e = {
		.service = sw->svc->name,
		.mode = sw->pn == NULL ? "" : switch_mode_str(sw->mode),
		.from = sw->pn ? sw->pn->name : "",
		.to = sw->tn ? sw->tn->name : "",
		.step = step, .result = result, .us = us, .detail = detail,
	};
	char who[3 * CONF_NAME_MAX + 32], err[512];

	if (sw->dry_run)
		return;
	/* each line read alone in the journal says which move it is part of */
	if (sw->pn != NULL && sw->tn != NULL)
		snprintf(who, sizeof(who), "switch %s (%s %s -> %s)", sw->svc->name,
		    switch_mode_str(sw->mode), sw->pn->name, sw->tn->name);
	else
		snprintf(who, sizeof(who), "switch %s", sw->svc->name);
	audit_log_step(who, &e);
	if (audit_append(sw->conf->failover.audit_log, &e, err, sizeof(err)) == -1)
		msg_warnx("%s", err);
}

/* Run a hook with the switch described in its environment (hook_run). */
static int
switch_hook(struct sw *sw, const char *cmd, const char *result, const char *step,
    char *why, size_t whylen)
{
	char		old_addr[256], new_addr[256];
	struct hook_env	env = {
		.service = sw->svc->name, .mode = switch_mode_str(sw->mode),
		.old_name = sw->pn ? sw->pn->name : "",
		.new_name = sw->tn ? sw->tn->name : "",
		.zone = sw->conf->dns.zone, .epoch = sw->new_epoch,
		.result = result, .step = step,
	};

	if (sw->pn) {
		state_node_addresses(sw->pn, old_addr, sizeof(old_addr));
		env.old_address = old_addr;
	}
	if (sw->tn) {
		state_node_addresses(sw->tn, new_addr, sizeof(new_addr));
		env.new_address = new_addr;
	}
	return hook_run(cmd, &env, &sw->sig, sw->conf->failover.hook_timeout_ms, why,
	    whylen);
}

/* ------------------------------------------------------------- steps */

/* --dry-run: who holds the lease, if anyone, as a verdict. */
static void
switch_lease_look(struct sw *sw)
{
	struct lease	l;
	char		e[512], who[256], owner[CONF_DNAME_MAX + 96];

	lease_owner(sw->conf, sw->svc, owner, sizeof(owner));
	switch (lease_read(sw->conf, sw->svc, &l, e, sizeof(e))) {
	case 0:
		verdict(sw, 1, "lease %s is free", owner);
		return;
	case 1:
		lease_describe(&l, who, sizeof(who));
		if (lease_judge(&l, lease_now_ms(), lease_budget_ms(sw->conf, sw->svc)) ==
		    LEASE_EXPIRED)
			verdict(sw, 1, "lease %s: expired (%s, until %s): the switch "
			    "will break it", owner, who, l.expires_text);
		else
			verdict(sw, 0, "lease %s: held by %s until %s", owner, who,
			    l.expires_text);
		return;
	default:
		verdict(sw, 0, "%s", e);
		return;
	}
}

static enum step_run
switch_step_lock(struct sw *sw)
{
	const char	*path = sw->conf->failover.lock_file;
	char		 e[512], note[512];
	int		 fd;

	fd = lock_take(path, sw->dry_run, "switch", e, sizeof(e));
	switch (fd) {
	case LOCK_BUSY:
		if (sw->dry_run) {
			verdict(sw, 0, "lock %s: %s", path, e);
			switch_print_checks(sw);
		}
		sw_fail(sw, "%s", e);
		return RUN_FAILED;
	case LOCK_ERROR:
		sw_fail(sw, "%s", e);
		return RUN_FAILED;
	case LOCK_ABSENT:
		/* Only a dry run asks without creating the file: nobody holds it. */
		verdict(sw, 1, "lock %s is free", path);
		switch_print_checks(sw);
		return RUN_OK;
	default:
		break;
	}
	if (sw->dry_run) {
		verdict(sw, 1, "lock %s is free", path);
		lock_release(fd);
		switch_lease_look(sw);
		switch_print_checks(sw);
		return RUN_OK;
	}
	sw->lock_fd = fd;
	/* A sweep of an earlier switch finishes its round first, and waits for this one. */
	if ((sw->sweep_fd = lock_sweeps(path, e, sizeof(e))) < 0) {
		sw_fail(sw, "%s", e);
		return RUN_FAILED;
	}
	/* The file keeps out a second switch on this host; the lease in the
	 * zone keeps out one on any other host, and shows status and check
	 * everywhere that the states they are about to see are a switch. */
	switch (lease_take(sw->conf, sw->svc, "switch", &sw->lease, note, sizeof(note),
	    e, sizeof(e))) {
	case LEASE_TAKEN:
		sw->lease_held = 1;
		if (note[0])
			sw_warn(sw, "%s", note);
		return RUN_OK;
	case LEASE_BUSY:
	case LEASE_FAILED:
		break;
	}
	sw_fail(sw, "%s", e);
	return RUN_FAILED;
}

/* Give the lease back (the end of the switch, however it ended). */
static void
switch_lease_release(struct sw *sw)
{
	char e[512];

	if (!sw->lease_held)
		return;
	if (lease_release(sw->conf, sw->svc, &sw->lease, e, sizeof(e)) == -1)
		msg_warnx("switch: %s", e);
	sw->lease_held = 0;
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
		if (st->redisfo.fenced[0] &&
		    strcmp(st->redisfo.fenced, sw->svc->nodes[i].name) == 0)
			continue;
		if (sw->mode == MODE_PLANNED && !ni->link_up)
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

/* A reachable master other than P and not fenced, or -1. */
static int
other_master(const struct sw *sw)
{
	const struct svc_state	*st = &sw->st;
	size_t			 i;

	for (i = 0; i < sw->svc->n_nodes; i++)
		if ((int)i != sw->p && st->nodes[i].reachable &&
		    st->nodes[i].role == NODE_ROLE_MASTER &&
		    strcmp(st->redisfo.fenced, sw->svc->nodes[i].name) != 0)
			return (int)i;
	return -1;
}

/* The record: readable, and naming a node, which becomes P. */
static enum step_run
preflight_record(struct sw *sw)
{
	const struct svc_state	*st = &sw->st;
	const struct conf	*conf = sw->conf;

	if (!verdict(sw, st->dns == DNSCLIENT_OK, "record %s readable from %s%s%s",
	    st->owner, conf->failover.server.text, st->dns == DNSCLIENT_OK ? "" : ": ",
	    st->dns == DNSCLIENT_OK ? "" : st->dns_err)) {
		sw_fail(sw, "cannot read the record: %s", st->dns_err);
		return RUN_FAILED;
	}
	if (!verdict(sw, st->served >= 0, "record %s -> %s%s%s (serial %u) names a node%s%s",
	    st->owner, st->a->n ? st->a->value[0] : "", st->aaaa->n ? " " : "",
	    st->aaaa->n ? st->aaaa->value[0] : "", st->serial,
	    st->served >= 0 ? ": " : "", st->served >= 0 ? sw->svc->nodes[st->served].name : "")) {
		if (st->served_how == MATCH_AMBIGUOUS)
			sw_fail(sw, "%s", st->verdict_text);
		else
			sw_fail(sw, "the served record %s (%s%s%s) does not match any node "
			    "of %s", st->owner, st->a->n ? st->a->value[0] : "none",
			    st->aaaa->n ? " " : "", st->aaaa->n ? st->aaaa->value[0] : "",
			    sw->svc->name);
		return RUN_FAILED;
	}
	sw->p = st->served;
	sw->pn = &sw->svc->nodes[sw->p];
	return RUN_OK;
}

/*
 * The served node answers but is not a master. When it is a replica of
 * the only master M and the operator asked --to M, the record is what is
 * wrong (a late UPDATE, a hand edit): repair it, moving nothing else.
 * Otherwise refuse, saying how to repair.
 */
static enum step_run
preflight_not_master(struct sw *sw)
{
	const struct svc_state	*st = &sw->st;
	const struct node_info	*pi = &st->nodes[sw->p];
	int			 m = -1, hint;
	size_t			 i;

	for (i = 0; i < sw->svc->n_nodes; i++)
		if (st->nodes[i].reachable && st->nodes[i].role == NODE_ROLE_MASTER &&
		    state_follows(pi, &sw->svc->nodes[i]))
			m = (int)i;
	verdict(sw, 0, "primary %s is a master (it is a %s of %s:%d)", sw->pn->name,
	    node_role_str(pi->role), pi->master_host, pi->master_port);
	hint = m >= 0 && st->n_masters == 1;
	if (!hint || sw->to == NULL || strcmp(sw->to, sw->svc->nodes[m].name) != 0) {
		sw_fail(sw, "the served node %s is not a master (it is a %s of %s:%d)%s%s",
		    sw->pn->name, node_role_str(pi->role), pi->master_host, pi->master_port,
		    hint ? "; to point the record at its master, run switch --to " : "",
		    hint ? sw->svc->nodes[m].name : "");
		return RUN_FAILED;
	}
	sw->mode = MODE_REPAIR;
	sw->t = m;
	sw->tn = &sw->svc->nodes[m];
	verdict(sw, 1, "%s is the only master and %s follows it: repair the record",
	    sw->tn->name, sw->pn->name);
	return RUN_OK;
}

/* P: a master that answers (planned), one that does not (failover), or
 * a replica of the only master (repair). Sets sw->mode. */
static enum step_run
preflight_primary(struct sw *sw)
{
	const struct conf	*conf = sw->conf;
	struct node_info	*pi = &sw->st.nodes[sw->p];
	char			 note[256];
	int			 k;

	/* Is P up? It gets failover.probes chances before it counts as down. */
	sw->p_probes_failed = pi->reachable ? 0 : 1;
	for (k = 1; !pi->reachable && !pi->answered && k < conf->failover.probes; k++) {
		node_probe_one(sw->svc, sw->pn, conf->failover.probe_timeout_ms, pi);
		if (!pi->reachable)
			sw->p_probes_failed++;
	}
	if (!pi->reachable && pi->answered) {
		/* Up but unusable (AUTH, ...): that is no reason to fail over. */
		verdict(sw, 0, "primary %s answers but cannot be probed: %s", sw->pn->name,
		    pi->error);
		sw_fail(sw, "the primary %s answers but cannot be probed: %s", sw->pn->name,
		    pi->error);
		return RUN_FAILED;
	}
	if (pi->reachable)
		state_judge(&sw->st);
	sw->mode = pi->reachable ? MODE_PLANNED : MODE_FAILOVER;
	if (sw->mode == MODE_FAILOVER) {
		verdict(sw, 0, "primary %s does not answer after %d probes: %s",
		    sw->pn->name, sw->p_probes_failed, pi->error);
		snprintf(note, sizeof(note), "-> this is an UNPLANNED FAILOVER: writes %s "
		    "acknowledged after the target's last offset are lost", sw->pn->name);
		verdict_note(sw, note);
		return RUN_OK;
	}
	verdict(sw, 1, "primary %s answers", sw->pn->name);
	if (pi->role != NODE_ROLE_MASTER)
		return preflight_not_master(sw);
	verdict(sw, 1, "primary %s is a master", sw->pn->name);
	return RUN_OK;
}

/*
 * --to names the served node itself, and the record holds only some of
 * its addresses (one was added to or removed from its config): rewrite
 * the record to the node's addresses, the record as read being the
 * prerequisite. Nothing else moves.
 */
static enum step_run
preflight_rewrite(struct sw *sw)
{
	char why[300];

	sw->mode = MODE_REPAIR;
	sw->tn = sw->pn;
	verdict(sw, 1, "%s: rewrite the record to %s's addresses",
	    state_record_mismatch(sw->pn, sw->st.a, sw->st.aaaa, why, sizeof(why)),
	    sw->pn->name);
	return RUN_OK;
}

/* Is s a replication id (not "" and not all zeros)? */
static int
replid_set(const char *s)
{
	return s[0] != '\0' && strspn(s, "0") != strlen(s);
}

/*
 * --to names a node that is already a master: promoted by an operator, or
 * by a switch that died after its promote step. With the served primary
 * gone, adopt it: move the record and fence the old one. With the served
 * primary a master too, refuse unless --force, showing both histories;
 * --force adopts the target and demotes the old primary.
 */
static enum step_run
preflight_adopt(struct sw *sw)
{
	const struct node_info	*pi = &sw->st.nodes[sw->p], *ti = &sw->st.nodes[sw->t];
	char			 risk[300], note[512];
	long long		 lost = 0;
	size_t			 i;
	int			 shared = 1;

	if (sw->mode == MODE_FAILOVER) {
		sw->mode = MODE_ADOPT;
		snprintf(note, sizeof(note), "-> ADOPT %s: nothing is promoted or paused; "
		    "the record moves to it and %s is fenced (writes %s acknowledged that "
		    "%s lacks are lost)", sw->tn->name, sw->pn->name, sw->pn->name,
		    sw->tn->name);
		/* in place of the failover's note: nothing will be promoted */
		for (i = 0; i < sw->n_checks; i++)
			if (sw->checks[i].kind == CHECK_NOTE)
				break;
		if (i < sw->n_checks)
			snprintf(sw->checks[i].text, sizeof(sw->checks[i].text), "%s", note);
		else
			verdict_note(sw, note);
		verdict(sw, 1, "target %s is already a master (offset %lld): adopt it",
		    sw->tn->name, ti->master_offset);
		return RUN_OK;
	}
	/* Two masters. Shared history: the target was promoted from P. */
	if (replid_set(pi->replid) && strcmp(ti->replid2, pi->replid) == 0 &&
	    ti->second_offset > 0)
		lost = pi->master_offset - (ti->second_offset - 1);
	else if (replid_set(pi->replid) && strcmp(ti->replid, pi->replid) == 0)
		lost = pi->master_offset - ti->master_offset;
	else
		shared = 0;
	if (lost < 0)
		lost = 0;
	if (shared)
		snprintf(risk, sizeof(risk), "%lld bytes that %s acknowledged since %s "
		    "left it are at risk", lost, sw->pn->name, sw->tn->name);
	else
		snprintf(risk, sizeof(risk), "the histories diverged (no replication id "
		    "in common): whatever %s holds that %s lacks is at risk",
		    sw->pn->name, sw->tn->name);
	if (!verdict(sw, sw->force, "target %s is a master while the served %s is one "
	    "too (%s: master_replid %.40s offset %lld; %s: master_replid %.40s offset "
	    "%lld)%s", sw->tn->name, sw->pn->name, sw->pn->name, pi->replid,
	    pi->master_offset, sw->tn->name, ti->replid, ti->master_offset,
	    sw->force ? ": --force adopts it" : "")) {
		sw_fail(sw, "two masters: the served %s (master_replid %.40s, offset %lld) "
		    "and %s (master_replid %.40s, offset %lld); `switch --to %s --force` "
		    "adopts %s and demotes %s (%s); `rejoin %s` keeps %s", sw->pn->name,
		    pi->replid, pi->master_offset, sw->tn->name, ti->replid,
		    ti->master_offset, sw->tn->name, sw->tn->name, sw->pn->name, risk,
		    sw->tn->name, sw->pn->name);
		return RUN_FAILED;
	}
	sw->mode = MODE_ADOPT;
	sw->adopt_demote = 1;
	snprintf(note, sizeof(note), "-> ADOPT %s and demote %s (paused for writes from "
	    "before the swap): %s", sw->tn->name, sw->pn->name, risk);
	verdict_note(sw, note);
	return RUN_OK;
}

/* T: --to or the best replica; it must answer and follow P, and in a
 * planned switchover have its link up and lag at most max_lag_bytes. */
static enum step_run
preflight_target(struct sw *sw)
{
	const struct conf	*conf = sw->conf;
	const struct node_info	*pi = &sw->st.nodes[sw->p];
	struct node_info	*ti;

	if (sw->to != NULL) {
		sw->t = state_node_index(sw->svc, sw->to);
		if (sw->t < 0) {
			sw_fail(sw, "no node named '%s' in service %s", sw->to, sw->svc->name);
			return RUN_USAGE;
		}
		if (sw->t == sw->p && sw->st.served_how != MATCH_EXACT &&
		    sw->mode == MODE_PLANNED)
			return preflight_rewrite(sw);
		if (sw->t == sw->p) {
			verdict(sw, 0, "target %s is not the served primary", sw->to);
			sw_fail(sw, "%s is already the served primary", sw->to);
			return RUN_FAILED;
		}
	} else {
		int m = other_master(sw);

		if (sw->mode == MODE_FAILOVER && m >= 0) {
			/* promoting a replica now would make a second master */
			verdict(sw, 0, "no node but %s is master", sw->pn->name);
			sw_fail(sw, "%s is master outside the record: `switch --to %s` adopts "
			    "it", sw->svc->nodes[m].name, sw->svc->nodes[m].name);
			return RUN_FAILED;
		}
		sw->t = pick_target(sw);
		if (sw->t < 0) {
			verdict(sw, 0, "a replica of %s to promote", sw->pn->name);
			sw_fail(sw, "no reachable replica of %s%s to promote", sw->pn->name,
			    sw->mode == MODE_PLANNED ? " with its link up" : "");
			return RUN_FAILED;
		}
	}
	sw->tn = &sw->svc->nodes[sw->t];
	ti = &sw->st.nodes[sw->t];
	if (!verdict(sw, ti->reachable, "target %s answers%s%s", sw->tn->name,
	    ti->reachable ? "" : ": ", ti->reachable ? "" : ti->error)) {
		sw_fail(sw, "the target %s does not answer: %s", sw->tn->name, ti->error);
		return RUN_FAILED;
	}
	if (sw->to != NULL && ti->role == NODE_ROLE_MASTER)
		return preflight_adopt(sw);
	if (!verdict(sw, state_follows(ti, sw->pn), "target %s is a replica of the served "
	    "primary %s", sw->tn->name, sw->pn->name)) {
		if (ti->role == NODE_ROLE_REPLICA)
			sw_fail(sw, "the target %s is not a replica of the served primary %s "
			    "(it follows %s:%d)", sw->tn->name, sw->pn->name,
			    ti->master_host, ti->master_port);
		else
			sw_fail(sw, "the target %s is not a replica of the served primary %s "
			    "(it is a %s)", sw->tn->name, sw->pn->name, node_role_str(ti->role));
		return RUN_FAILED;
	}
	if (sw->mode != MODE_PLANNED)
		return RUN_OK;
	if (!verdict(sw, ti->link_up, "target %s's replication link is up", sw->tn->name)) {
		sw_fail(sw, "the target %s's replication link to %s is down",
		    sw->tn->name, sw->pn->name);
		return RUN_FAILED;
	}
	/*
	 * The replica was probed a moment after the primary: its offset may
	 * have run past what the primary said. That is in sync, not ahead.
	 */
	ti->lag_bytes = pi->master_offset - ti->replica_offset;
	if (ti->lag_bytes < 0)
		ti->lag_bytes = 0;
	if (ti->lag_bytes == 0) {
		verdict(sw, 1, "target %s is in sync with %s", sw->tn->name, sw->pn->name);
		return RUN_OK;
	}
	if (ti->lag_bytes <= conf->failover.max_lag_bytes) {
		verdict(sw, 1, "target %s is %lld bytes behind (max_lag_bytes %lld)",
		    sw->tn->name, ti->lag_bytes, conf->failover.max_lag_bytes);
		return RUN_OK;
	}
	if (!verdict(sw, sw->force, "target %s is %lld bytes behind (max_lag_bytes %lld)%s",
	    sw->tn->name, ti->lag_bytes, conf->failover.max_lag_bytes,
	    sw->force ? ": --force" : "")) {
		sw_fail(sw, "the target %s is %lld bytes behind %s (max_lag_bytes "
		    "%lld); use --force to switch anyway", sw->tn->name,
		    ti->lag_bytes, sw->pn->name, conf->failover.max_lag_bytes);
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* One command the switch will send a node, as it will send it. */
struct needed_cmd {
	const char	*name;		/* for messages */
	const char	*argv[8];
	int		 argc;
	const char	*what;		/* why the switch needs it */
	int		 optional;	/* a failure is a warning (CONFIG REWRITE) */
};

/*
 * Can node nd (connection c) run every command in cmds? One verdict per
 * node; a missing or forbidden command refuses (0), naming it and the
 * node; what cannot be checked, or an optional command, is a warning.
 */
static int
preflight_node_commands(struct sw *sw, const struct conf_node *nd, struct node_conn *c,
    const struct needed_cmd *cmds, size_t n)
{
	char		 why[512], names[256] = "", name[64];
	size_t		 i, o = 0;
	int		 unchecked = 0;

	for (i = 0; i < n; i++) {
		enum node_cmd_check v = node_command_check(c, cmds[i].argc, cmds[i].argv,
		    why, sizeof(why));

		snprintf(name, sizeof(name), "%s", cmds[i].name);
		if (v == NODE_CMD_OK || (v == NODE_CMD_UNCHECKED && !unchecked)) {
			if (strstr(names, name) == NULL)
				o += (size_t)snprintf(names + o, o < sizeof(names) ?
				    sizeof(names) - o : 0, "%s%s", o ? ", " : "", name);
		}
		if (v == NODE_CMD_OK)
			continue;
		if (v == NODE_CMD_UNCHECKED) {
			if (!unchecked)
				sw_warn(sw, "%s: %s", nd->name, why);
			unchecked = 1;
			continue;
		}
		if (cmds[i].optional && v != NODE_CMD_FAILED) {
			sw_warn(sw, "%s: %s: %s (%s)", nd->name, name, why, cmds[i].what);
			continue;
		}
		verdict(sw, 0, "%s (%s:%d) lets the switch run %s: %s", nd->name, nd->host,
		    nd->port, name, why);
		sw_fail(sw, "%s is not available on %s (%s:%d): %s; the switch needs it to "
		    "%s", name, nd->name, nd->host, nd->port, why, cmds[i].what);
		return 0;
	}
	if (o > 0)
		verdict(sw, 1, "%s lets the switch run %s%s", nd->name, names,
		    unchecked ? " as far as it can tell (see the warning)" : "");
	return 1;
}

/*
 * Before anything changes: every command the switch will send is there
 * (not renamed or disabled) and allowed to its user, on each node it will
 * send it to, so that a demote cannot fail for want of REPLICAOF after
 * the record moved.
 */
static enum step_run
preflight_commands(struct sw *sw)
{
	char		 pp[16], tp[16], pause[16], e[512];
	struct needed_cmd p_cmds[] = {
		{ "CLIENT PAUSE", { "CLIENT", "PAUSE", pause, "WRITE" }, 4, "pause its writes", 0 },
		{ "CLIENT UNPAUSE", { "CLIENT", "UNPAUSE" }, 2, "unpause it", 0 },
		{ "REPLICAOF", { "REPLICAOF", sw->tn->host, tp }, 3, "demote it", 0 },
		{ "CLIENT KILL", { "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes" }, 6,
		  "send its clients to the new primary", 0 },
		{ "CONFIG REWRITE", { "CONFIG", "REWRITE" }, 2, "its new role will not survive a restart", 1 },
	};
	struct needed_cmd t_cmds[] = {
		{ "REPLICAOF", { "REPLICAOF", "NO", "ONE" }, 3, "promote it", 0 },
		{ "REPLICAOF", { "REPLICAOF", sw->pn->host, pp }, 3, "make it a replica again on a rollback", 0 },
		{ "CONFIG REWRITE", { "CONFIG", "REWRITE" }, 2, "its new role will not survive a restart", 1 },
	};
	struct needed_cmd o_cmds[] = {
		{ "REPLICAOF", { "REPLICAOF", sw->tn->host, tp }, 3, "point it at the new primary", 0 },
		{ "CONFIG REWRITE", { "CONFIG", "REWRITE" }, 2, "its new role will not survive a restart", 1 },
	};
	struct node_conn *c;
	size_t		 i;
	int		 ok, nothing_promoted = sw->mode == MODE_REPAIR ||
			     sw->mode == MODE_ADOPT;

	snprintf(pp, sizeof(pp), "%d", sw->pn->port);
	snprintf(tp, sizeof(tp), "%d", sw->tn->port);
	snprintf(pause, sizeof(pause), "%d", sw->conf->failover.pause_timeout_ms);
	if ((sw->mode == MODE_PLANNED || sw->adopt_demote) &&
	    !preflight_node_commands(sw, sw->pn, sw->pc,
	    p_cmds, sizeof(p_cmds) / sizeof(p_cmds[0])))
		return RUN_FAILED;
	if (!preflight_node_commands(sw, sw->tn, sw->tc, nothing_promoted ?
	    t_cmds + 2 : t_cmds, nothing_promoted ? 1 : 3))
		return RUN_FAILED;
	for (i = 0; i < sw->svc->n_nodes; i++) {
		const struct conf_node *nd = &sw->svc->nodes[i];

		if ((int)i == sw->p || (int)i == sw->t || !sw->st.nodes[i].reachable ||
		    (sw->st.redisfo.fenced[0] && strcmp(sw->st.redisfo.fenced, nd->name) == 0))
			continue;
		c = node_connect(sw->svc, nd, sw->conf->failover.probe_timeout_ms, e, sizeof(e));
		if (c == NULL) {
			sw_warn(sw, "%s: %s", nd->name, e);
			continue;
		}
		ok = preflight_node_commands(sw, nd, c, o_cmds,
		    sizeof(o_cmds) / sizeof(o_cmds[0]));
		node_close(c);
		if (!ok)
			return RUN_FAILED;
	}
	return RUN_OK;
}

/*
 * Before anything changes: the DNS server takes an UPDATE signed with
 * our key that holds only the swap's prerequisite and no change. It
 * checks the key, the algorithm, the permission and the prerequisite,
 * and changes nothing; any other answer refuses the switch.
 */
static enum step_run
preflight_update_key(struct sw *sw)
{
	const struct conf		*conf = sw->conf;
	const struct conf_tsig_key	*key = &conf->dns.update_key;
	struct dnsclient_change		 ch[MOVE_CHANGES_MAX];
	struct dnsclient_update_info	 info;
	enum dnsclient_result		 res;
	char				 e[512];
	size_t				 n;

	/* the record as read when it holds only some of P's addresses */
	if (sw->st.served_how == MATCH_EXACT)
		n = move_prereqs(ch, sw->st.owner, sw->pn);
	else
		n = move_prereqs_values(ch, sw->st.owner, sw->st.a, sw->st.aaaa);
	res = dnsclient_send_update(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, key, ch, n, conf->failover.pause_timeout_ms * 3 / 4, &info,
	    e, sizeof(e));
	if (!verdict(sw, res == DNSCLIENT_OK, "DNS server %s takes an UPDATE signed with "
	    "%s (%s) whose prerequisite (the record names %s) holds%s%s",
	    conf->failover.server.text, key->name[0] ? key->name : "no key",
	    key->algorithm, sw->pn->name, info.udp ? " (over UDP: TCP refused)" : "",
	    res == DNSCLIENT_OK ? "" : ": no")) {
		sw_fail(sw, "the DNS server does not take the swap's UPDATE (checked with its "
		    "prerequisite alone, which changes nothing): %s", e);
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* What the swap will write: the next epoch, and who stays fenced. */
static void
preflight_plan(struct sw *sw)
{
	sw->new_epoch = sw->st.redisfo.epoch + 1;
	if (sw->mode == MODE_FAILOVER || (sw->mode == MODE_ADOPT && !sw->adopt_demote))
		snprintf(sw->fenced, sizeof(sw->fenced), "%s", sw->pn->name);
	else if (sw->st.redisfo.fenced[0] && strcmp(sw->st.redisfo.fenced, sw->tn->name) != 0)
		snprintf(sw->fenced, sizeof(sw->fenced), "%s", sw->st.redisfo.fenced);
}

static enum step_run
switch_step_preflight(struct sw *sw)
{
	const struct conf	*conf = sw->conf;
	enum step_run		 rc;
	char			 e[512];
	size_t			 i;

	if (state_load(&sw->st, conf, sw->svc, 1) == -1) {
		sw_fail(sw, "%s", sw->st.dns_err);
		return RUN_FAILED;
	}
	rc = preflight_record(sw);
	if (rc == RUN_OK)
		rc = preflight_primary(sw);
	if (rc == RUN_OK && sw->mode != MODE_REPAIR)
		rc = preflight_target(sw);
	switch_print_checks(sw);
	if (rc != RUN_OK)
		return rc;
	/* Connections to P and T, kept for the steps that follow. */
	sw->tc = node_connect(sw->svc, sw->tn, conf->failover.probe_timeout_ms, e, sizeof(e));
	if (sw->tc == NULL) {
		sw_fail(sw, "%s", e);
		return RUN_FAILED;
	}
	if (sw->mode == MODE_PLANNED || sw->adopt_demote) {
		sw->pc = node_connect(sw->svc, sw->pn, conf->failover.probe_timeout_ms, e, sizeof(e));
		if (sw->pc == NULL) {
			sw_fail(sw, "%s", e);
			return RUN_FAILED;
		}
	}
	rc = preflight_commands(sw);
	if (rc == RUN_OK)
		rc = preflight_update_key(sw);
	switch_print_checks(sw);
	if (rc != RUN_OK)
		return rc;
	if (sw->mode == MODE_FAILOVER)
		switch_print_loss(sw);
	for (i = 0; sw->mode != MODE_REPAIR && i < sw->svc->n_nodes; i++)
		if ((int)i != sw->p && (int)i != sw->t && sw->st.nodes[i].reachable &&
		    sw->st.nodes[i].role == NODE_ROLE_MASTER)
			sw_warn(sw, "%s also claims to be master (split brain?)",
			    sw->svc->nodes[i].name);
	preflight_plan(sw);
	switch_print_plan(sw);

	return RUN_OK;
}

/* Refresh P's write pause so it cannot run out before P is a replica. */
static int
pause_refresh(struct sw *sw)
{
	long long	since, off;
	char		e[256];

	if (sw->mode != MODE_PLANNED || sw->pause_start == 0 || sw->p_demoted)
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

static enum step_run
switch_step_confirm(struct sw *sw)
{
	char line[64];

	if (sw->yes)
		return RUN_OK;
	if (!isatty(STDIN_FILENO)) {
		sw_fail(sw, "not confirmed: no terminal to ask on; run with -y to %s",
		    sw->mode == MODE_FAILOVER ? "fail over" : "switch");
		return RUN_FAILED;
	}
	printf("%s %s from %s to %s? [y/N] ", sw->mode == MODE_PLANNED ? "Switch" :
	    sw->mode == MODE_REPAIR ? "Move the record of" :
	    sw->mode == MODE_ADOPT ? "ADOPT the master of" : "FAIL OVER",
	    sw->svc->name, sw->pn->name, sw->tn->name);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (line[0] != 'y' && line[0] != 'Y')) {
		sw_fail(sw, "not confirmed by the operator");
		return RUN_FAILED;
	}
	return RUN_OK;
}

static enum step_run
switch_step_pre_hook(struct sw *sw)
{
	char	why[128];
	int	rc;

	if (sw->conf->failover.pre_hook[0] == '\0') {
		snprintf(sw->note[STEP_PRE_HOOK], sizeof(sw->note[0]), "none");
		return RUN_OK;
	}
	rc = switch_hook(sw, sw->conf->failover.pre_hook, NULL, NULL, why, sizeof(why));
	if (rc == -1) {
		sw_fail(sw, "pre_hook %s: switch aborted", why);
		return RUN_FAILED;
	}
	if (rc != 0) {
		sw_fail(sw, "pre_hook exited with %d: switch aborted", rc);
		return RUN_FAILED;
	}
	return RUN_OK;
}

static enum step_run
switch_step_pause(struct sw *sw)
{
	char e[256];

	if (node_pause_writes(sw->pc, sw->conf->failover.pause_timeout_ms, e, sizeof(e)) == -1) {
		sw_fail(sw, "CLIENT PAUSE on %s failed: %s", sw->pn->name, e);
		/* Refused (no permission, Redis < 6.2): nothing happened. Else
		 * the pause may have been applied with the reply lost. */
		if (!node_last_refused(sw->pc))
			sw->changed = 1;
		return RUN_FAILED;
	}
	sw->pause_start = sw->last_pause = mono_us();
	sw->changed = 1;
	snprintf(sw->note[STEP_PAUSE], sizeof(sw->note[0]), "%s paused for writes, "
	    "safety timeout %d ms", sw->pn->name, sw->conf->failover.pause_timeout_ms);
	return RUN_OK;
}

static enum step_run
switch_rollback_pause(struct sw *sw)
{
	char e[256];

	if (node_unpause(sw->pc, e, sizeof(e)) == -1) {
		sw_warn(sw, "CLIENT UNPAUSE on %s failed: %s (the pause ends by itself "
		    "within %d ms)", sw->pn->name, e, sw->conf->failover.pause_timeout_ms);
		return RUN_FAILED;
	}
	sw->pause_end = mono_us();
	return RUN_OK;
}

static enum step_run
switch_step_catchup(struct sw *sw)
{
	struct node_info info;
	long long	deadline;
	char		e[256];
	struct timespec	ts = { 0, 200000 };

	/* Read P's offset only now that P is paused: nothing can add to it. */
	if (node_replication(sw->pc, &info, e, sizeof(e)) == -1) {
		sw_fail(sw, "cannot read the primary's offset: %s", e);
		return RUN_FAILED;
	}
	if (info.role != NODE_ROLE_MASTER) {
		sw_fail(sw, "%s is no longer a master (it is a %s of %s:%d)", sw->pn->name,
		    node_role_str(info.role), info.master_host, info.master_port);
		return RUN_FAILED;
	}
	sw->p_offset = info.master_offset;
	/* Half the pause for the catch-up, the other half for the rest. */
	deadline = sw->pause_start + (long long)sw->conf->failover.pause_timeout_ms * 500;
	for (;;) {
		if (node_replication(sw->tc, &info, e, sizeof(e)) == -1) {
			sw_fail(sw, "catch-up: cannot read the target's offset: %s", e);
			return RUN_FAILED;
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
			return RUN_FAILED;
		}
		sw->t_offset = info.replica_offset;
		if (sw->t_offset >= sw->p_offset)
			break;
		if (mono_us() >= deadline) {
			sw_fail(sw, "catch-up timed out: %s at offset %lld, %s at %lld after "
			    "%lld ms", sw->tn->name, sw->t_offset, sw->pn->name, sw->p_offset,
			    (mono_us() - sw->pause_start) / 1000);
			return RUN_FAILED;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(sw->note[STEP_CATCHUP], sizeof(sw->note[0]), "%s reached offset %lld",
	    sw->tn->name, sw->p_offset);
	return RUN_OK;
}

static enum step_run
switch_step_promote(struct sw *sw)
{
	struct node_info	info;
	char			e[256];

	if (pause_refresh(sw) == -1)
		return RUN_FAILED;
	if (node_replicaof(sw->tc, NULL, 0, e, sizeof(e)) == -1) {
		sw_fail(sw, "REPLICAOF NO ONE on %s failed: %s", sw->tn->name, e);
		/* Refused: T is still a replica, nothing to undo. Else it may
		 * have happened with the reply lost. */
		sw->t_promote_refused = node_last_refused(sw->tc);
		if (!sw->t_promote_refused)
			sw->changed = 1;
		return RUN_FAILED;
	}
	sw->changed = 1;
	/* CONFIG REWRITE (an fsync) waits for the repoint step, out of the pause. */
	if (node_probe(sw->tc, &info, e, sizeof(e)) == -1 || info.role != NODE_ROLE_MASTER) {
		sw_fail(sw, "%s is not master after REPLICAOF NO ONE: %s", sw->tn->name,
		    info.reachable ? node_role_str(info.role) : e);
		return RUN_FAILED;
	}
	snprintf(sw->note[STEP_PROMOTE], sizeof(sw->note[0]), "%s is master", sw->tn->name);
	return RUN_OK;
}

static enum step_run
switch_rollback_promote(struct sw *sw)
{
	char	e[256];
	int	rc;

	if (sw->t_promote_refused)
		return RUN_OK;	/* T refused REPLICAOF NO ONE: it never stopped following P */
	if (node_replicaof(sw->tc, sw->pn->host, sw->pn->port, e, sizeof(e)) == -1) {
		sw_warn(sw, "could not make %s a replica of %s again: %s", sw->tn->name,
		    sw->pn->name, e);
		return RUN_FAILED;
	}
	rc = node_config_rewrite(sw->tc, e, sizeof(e));
	if (rc == -1)
		sw_warn(sw, "%s", e);
	return RUN_OK;
}

/* The UPDATE of the swap: prerequisite = P's addresses, then the change. */
static enum dnsclient_result
swap_send(struct sw *sw, char *e, size_t elen)
{
	const struct conf	*conf = sw->conf;
	struct txt_record	 rec;
	struct move		 m;
	struct readers_set	 rs;
	char			 reader_owner[CONF_DNAME_MAX + 80];
	int			 timeout;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), "%s", sw->tn->name);
	rec.epoch = sw->new_epoch;
	snprintf(rec.fenced, sizeof(rec.fenced), "%s", sw->fenced);
	txt_stamp(&rec);
	sw->new_rec = rec;
	if ((sw->st.served_how == MATCH_EXACT ? move_build(&m, sw->st.owner,
	    sw->st.txt_owner, sw->pn, sw->tn, conf->dns.ttl, &rec) :
	    move_build_values(&m, sw->st.owner, sw->st.txt_owner, sw->st.a, sw->st.aaaa,
	    sw->tn, conf->dns.ttl, &rec)) == -1) {
		snprintf(e, elen, "the TXT does not fit (not sent)");
		memset(&sw->swap_info, 0, sizeof(sw->swap_info));
		sw->swap_info.rcode = -1;
		return DNSCLIENT_UNREACHABLE;
	}
	/* The reader record names the nodes the demote and repoint steps point at T. */
	if (readers_owner(conf, sw->svc, reader_owner, sizeof(reader_owner)) == 0) {
		readers_pick_switch(sw->svc, sw->p, sw->t, sw->st.nodes,
		    sw->st.redisfo.fenced, &rs);
		move_add_readers(&m, reader_owner, &rs, conf->dns.ttl);
	}
	snprintf(sw->new_txt, sizeof(sw->new_txt), "%s", m.txt);
	/* Some primaries take a second now and then (knotd's zone events):
	 * wait up to 3/4 of the pause (just renewed), never longer, however
	 * long probe_timeout_ms is: P must still be paused when the reply
	 * comes. A reply that does not come in time is looked for in the
	 * record itself. */
	timeout = conf->failover.pause_timeout_ms * 3 / 4;
	return dnsclient_send_update(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, &conf->dns.update_key, m.ch, m.n, timeout, &sw->swap_info, e, elen);
}

/*
 * Read the record, the TXT and the serial back over TCP from the server
 * the UPDATE went to (the pause renewed first): what the swap's UPDATE
 * did, when its reply cannot say. *what gets it in words.
 */
static enum switch_readback
swap_read_back(struct sw *sw, char *what, size_t whatlen)
{
	const struct conf		*conf = sw->conf;
	struct dnsclient_readback	*rb;
	enum switch_readback		 v;
	struct txt_record		 seen;
	enum state_match		 how;
	char				 e[512];
	int				 now, ours;

	if (pause_refresh(sw) == -1) {
		snprintf(what, whatlen, "not read back: %.500s", sw->err);
		return READBACK_FAILED;
	}
	rb = malloc(sizeof(*rb));
	if (rb == NULL) {
		snprintf(what, whatlen, "not read back: out of memory");
		return READBACK_FAILED;
	}
	if (dnsclient_readback(&conf->failover.server.ss, conf->failover.server.len,
	    conf->dns.zone, sw->st.owner, sw->st.txt_owner, conf->failover.probe_timeout_ms,
	    rb, e, sizeof(e)) != DNSCLIENT_OK) {
		snprintf(what, whatlen, "the record could not be read back: %.500s", e);
		free(rb);
		return READBACK_FAILED;
	}
	now = state_match_record_how(sw->svc, &rb->a, &rb->aaaa, &how, NULL);
	/* a rewrite of the served node's addresses is applied only when exact */
	if (now == sw->t && sw->t == sw->p && how != MATCH_EXACT)
		now = -1;
	if (rb->txt.n == 1)
		txt_parse(rb->txt.value[0], &seen);
	ours = rb->txt.n == 1 && strcmp(seen.primary, sw->new_rec.primary) == 0 &&
	    seen.epoch == sw->new_rec.epoch && strcmp(seen.at, sw->new_rec.at) == 0;
	if (now == sw->t)
		v = READBACK_APPLIED;
	else if (now == sw->p && rb->serial == sw->st.serial)
		v = READBACK_UNCHANGED;
	else
		v = READBACK_OTHER;
	snprintf(what, whatlen, "read back over %s: the record names %s%s, serial %u%s%s",
	    rb->udp ? "UDP (TCP refused)" : "TCP",
	    now >= 0 ? sw->svc->nodes[now].name : (rb->a.n ? rb->a.value[0] : "nothing"),
	    now >= 0 || !rb->a.n ? "" : " (no node)", rb->serial,
	    rb->serial == sw->st.serial ? " (unchanged)" : "",
	    ours ? ", and the TXT is this switch's" : "");
	free(rb);
	return v;
}

static enum step_run
switch_step_swap(struct sw *sw)
{
	const struct dnsclient_update_info *info = &sw->swap_info;
	enum dnsclient_result	res, q = DNSCLIENT_ERROR;
	char			e[512], what[1024];
	int			now, tries;

	if (pause_refresh(sw) == -1)
		return RUN_FAILED;
	res = swap_send(sw, e, sizeof(e));
	if (res == DNSCLIENT_PREREQ && info->retry_answered) {
		/* A retry's prerequisite fails once an earlier copy applied:
		 * "already applied" or "someone else changed it"? */
		sw->readback = swap_read_back(sw, what, sizeof(what));
		if (sw->readback == READBACK_APPLIED) {
			sw->committed = 1;
			sw_warn(sw, "an earlier copy of the UPDATE was applied (%s; %s)", e, what);
		} else if (sw->readback == READBACK_FAILED) {
			sw->dns_unknown = 1;
			sw_fail(sw, "record swap failed: %s; %s", e, what);
			return RUN_FAILED;
		} else {
			sw_fail(sw, "record swap failed: %s; %s", e, what);
			return RUN_FAILED;
		}
	} else if (res == DNSCLIENT_OK) {
		sw->committed = 1;
	} else if (res == DNSCLIENT_REFUSED || res == DNSCLIENT_NOTAUTH ||
	    res == DNSCLIENT_PREREQ || res == DNSCLIENT_RCODE || res == DNSCLIENT_UNREACHABLE) {
		sw_fail(sw, "record swap failed: %s", e);
		return RUN_FAILED;
	} else if (info->untrusted) {
		/* A reply came that cannot be trusted (unsigned, bad TSIG):
		 * find out from the record instead of guessing. */
		sw->dns_unknown = 1;
		sw->dns_error_reply = info->rcode != 0;
		sw->readback = swap_read_back(sw, what, sizeof(what));
		if (sw->readback == READBACK_APPLIED) {
			sw->dns_unknown = 0;
			sw->committed = 1;
			sw_warn(sw, "%s; %s", e, what);
		} else if (sw->readback == READBACK_UNCHANGED && sw->dns_error_reply) {
			sw_fail(sw, "record swap failed: %s; %s: the UPDATE was not applied",
			    e, what);
			return RUN_FAILED;
		} else {
			sw_fail(sw, "record swap failed: %s; %s; the UPDATE may yet be applied",
			    e, what);
			return RUN_FAILED;
		}
	} else {
		/* Timeout or a broken exchange: look at the record itself
		 * (a slow server gets a few chances to answer). The UPDATE took
		 * most of the pause and each look may take a probe timeout per
		 * query: renew the pause before each, so P cannot take writes
		 * while the record may already name T. */
		for (tries = 0; tries < 3; tries++) {
			if (pause_refresh(sw) == -1) {
				sw->dns_unknown = 1;
				return RUN_FAILED;
			}
			if ((q = state_read_dns(&sw->st)) == DNSCLIENT_OK)
				break;
		}
		now = sw->st.served;
		if (q == DNSCLIENT_OK && now == sw->t &&
		    (sw->t != sw->p || sw->st.served_how == MATCH_EXACT)) {
			sw->committed = 1;
			sw_warn(sw, "the UPDATE's reply was lost (%s) but the record names %s",
			    e, sw->tn->name);
		} else if (q == DNSCLIENT_OK && now == sw->p) {
			/* Not applied yet is not "never": a server that got the
			 * UPDATE and stalls may apply it after we gave up. */
			sw->dns_unknown = 1;
			sw_fail(sw, "record swap failed: %s; the record still names %s, "
			    "but the UPDATE may yet be applied", e, sw->pn->name);
			return RUN_FAILED;
		} else {
			sw->dns_unknown = 1;
			sw_fail(sw, "record swap failed: %s; the record's state is unknown", e);
			return RUN_FAILED;
		}
	}
	if (dnsclient_serial(&sw->conf->failover.server.ss, sw->conf->failover.server.len,
	    sw->conf->dns.zone, sw->conf->failover.probe_timeout_ms, &sw->new_serial,
	    e, sizeof(e)) == DNSCLIENT_OK)
		snprintf(sw->note[STEP_SWAP], sizeof(sw->note[0]), "record names %s, serial "
		    "%u -> %u%s", sw->tn->name, sw->st.serial, sw->new_serial,
		    info->udp ? " (over UDP: TCP refused or closed)" : "");
	else
		snprintf(sw->note[STEP_SWAP], sizeof(sw->note[0]), "record names %s%s",
		    sw->tn->name, info->udp ? " (over UDP: TCP refused or closed)" : "");
	return RUN_OK;
}

static enum step_run
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
		return RUN_FAILED;
	}
	if (node_replicaof(sw->pc, sw->tn->host, sw->tn->port, e, sizeof(e)) == -1) {
		char f[256] = "";

		/* The record names T: hold P for writes, for long, and drop
		 * its clients, so nothing acknowledged can land there. */
		if (node_pause_writes(sw->pc, SWITCH_FENCE_PAUSE_MS, f, sizeof(f)) == 0 &&
		    node_kill_clients(sw->pc, &killed, f, sizeof(f)) == 0) {
			sw->p_fenced = 1;
			sw_fail(sw, "could not make %s a replica of %s: %s; %s stays paused "
			    "for writes (CLIENT PAUSE WRITE for %d hours, until CLIENT UNPAUSE) "
			    "and its %lld clients were killed, so nothing acknowledged can land "
			    "there; make it a replica by hand (REPLICAOF %s %d), then CLIENT "
			    "UNPAUSE it", sw->pn->name, sw->tn->name, e, sw->pn->name,
			    SWITCH_FENCE_PAUSE_MS / 3600000, killed, sw->tn->host, sw->tn->port);
		} else
			sw_fail(sw, "could not make %s a replica of %s: %s; and it could not "
			    "be held paused with its clients killed (%s): it takes writes again "
			    "when its pause times out, a second master: fence it by hand "
			    "(REPLICAOF %s %d)", sw->pn->name, sw->tn->name, e, f,
			    sw->tn->host, sw->tn->port);
		return RUN_FAILED;
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
	return RUN_OK;
}

static enum step_run
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
	return RUN_OK;
}

static enum step_run
switch_step_post_hook(struct sw *sw)
{
	char	why[128];
	int	rc;

	if (sw->conf->failover.post_hook[0] == '\0') {
		snprintf(sw->note[STEP_POST_HOOK], sizeof(sw->note[0]), "none");
		return RUN_OK;
	}
	rc = switch_hook(sw, sw->conf->failover.post_hook, "done", NULL, why, sizeof(why));
	if (rc == -1)
		sw_warn(sw, "post_hook %s", why);
	else if (rc != 0)
		sw_warn(sw, "post_hook exited with %d", rc);
	return RUN_OK;
}

/*
 * Clients that reconnected to P through a resolver cache still naming it
 * get READONLY there for good: a helper, left behind without the lock,
 * drops them once the caches have expired (sweep.c). It never fails the
 * switch: without it, those clients only stay where they are.
 */
static enum step_run
switch_step_sweep(struct sw *sw)
{
	struct sweep_plan	 pl = {
		.conf = sw->conf, .svc = sw->svc,
		.old_primary = sw->pn, .new_primary = sw->tn,
		.switched_us = sw->pause_start, .demoted_us = sw->pause_end,
	};
	pid_t			 pid;
	char			 e[256];

	if (!sw->conf->failover.sweep) {
		snprintf(sw->note[STEP_SWEEP], sizeof(sw->note[0]), "off (failover.sweep)");
		return RUN_OK;
	}
	/* caches hold the old record for its own TTL, the new one's may be shorter */
	pl.ttl = sw->st.ttl > (uint32_t)sw->conf->dns.ttl ? (int)sw->st.ttl : sw->conf->dns.ttl;
	sweep_plan_rounds(&pl);
	if (sweep_start(&pl, &pid, e, sizeof(e)) == -1) {
		sw_warn(sw, "%s: clients that reach %s through a cached address stay there",
		    e, sw->pn->name);
		snprintf(sw->note[STEP_SWEEP], sizeof(sw->note[0]), "not scheduled: %.200s", e);
		return RUN_OK;
	}
	snprintf(sw->note[STEP_SWEEP], sizeof(sw->note[0]), "scheduled at +%d s and +%d s "
	    "after the demote, on %s (helper pid %ld)", pl.at_s[0], pl.at_s[1],
	    sw->pn->name, (long)pid);
	return RUN_OK;
}

/* --------------------------------------------------------- the driver */

enum switch_outcome
switch_outcome(const struct switch_facts *f)
{
	int refused = f->failed <= STEP_PRE_HOOK || f->how == RUN_USAGE;
	/* A reply it could not trust said no, and the record read back over
	 * TCP shows nothing moved: the UPDATE was not applied. */
	int settled = f->dns_error_reply && f->readback == READBACK_UNCHANGED;

	if (f->dry_run && f->failed >= STEP_MAX)
		return SWITCH_DRY_RUN_OK;
	if (f->dry_run)
		return f->how == RUN_USAGE ? SWITCH_USAGE : SWITCH_REFUSED;
	if (f->failed >= STEP_MAX)
		return SWITCH_DONE;
	if (refused && !f->changed)
		return f->how == RUN_USAGE ? SWITCH_USAGE : SWITCH_REFUSED;
	if (f->committed)
		return f->p_fenced ? SWITCH_PART_WAY_FENCED : SWITCH_PART_WAY;
	if (f->dns_unknown && !settled)
		return SWITCH_DNS_UNKNOWN;
	if (!f->changed)
		return SWITCH_FAILED;
	if (f->rollback_failed)
		return SWITCH_ROLLBACK_FAILED;
	return SWITCH_ROLLED_BACK;
}

int
switch_outcome_rolls_back(enum switch_outcome o)
{
	return o == SWITCH_ROLLED_BACK || o == SWITCH_DNS_UNKNOWN ||
	    o == SWITCH_ROLLBACK_FAILED;
}

int
switch_outcome_exit(enum switch_outcome o)
{
	switch (o) {
	case SWITCH_DONE:
	case SWITCH_DRY_RUN_OK:
		return 0;
	case SWITCH_USAGE:
		return 2;
	case SWITCH_REFUSED:
	case SWITCH_FAILED:
	case SWITCH_ROLLED_BACK:
		return 1;
	case SWITCH_PART_WAY:
	case SWITCH_PART_WAY_FENCED:
	case SWITCH_DNS_UNKNOWN:
	case SWITCH_ROLLBACK_FAILED:
		break;
	}
	return 3;
}

/* Undo, newest first, from the step that failed (it may have
 * half-happened); 1 if a rollback failed. */
static int
switch_rollback(struct sw *sw, int failed)
{
	long long	t0;
	int		j, rb_failed = 0;
	enum step_run	rc;

	for (j = failed; j >= 0; j--) {
		if (switch_steps[j].rollback == NULL || sw->status[j] == ST_NOT_RUN)
			continue;
		t0 = mono_us();
		rc = switch_steps[j].rollback(sw);
		sw->step_us[j] += mono_us() - t0;
		sw->status[j] = rc == RUN_OK ? ST_ROLLED_BACK : ST_ROLLBACK_FAILED;
		audit(sw, switch_steps[j].name, rc == RUN_OK ? "rolled back" : "rollback failed",
		    mono_us() - t0, rc == RUN_OK ? "" : sw->warnings);
		if (rc != RUN_OK)
			rb_failed = 1;
	}
	return rb_failed;
}

/*
 * After the rollbacks: one fresh look at P, T and the record, so that the
 * last words say only what was seen (P may be down, T taken away).
 */
static void
switch_look_after(struct sw *sw)
{
	struct switch_after	*a = &sw->after;
	struct svc_state	 now;
	const struct node_info	*pi, *ti;

	memset(a, 0, sizeof(*a));
	a->record = -2;
	if (sw->pn == NULL || sw->tn == NULL)
		return;
	if (state_load(&now, sw->conf, sw->svc, 1) == -1) {
		snprintf(a->record_err, sizeof(a->record_err), "%.250s", now.dns_err);
		state_free(&now);
		return;
	}
	a->looked = 1;
	if (now.dns == DNSCLIENT_OK)
		a->record = now.served;
	else
		snprintf(a->record_err, sizeof(a->record_err), "%.250s", now.dns_err);
	pi = &now.nodes[sw->p];
	ti = &now.nodes[sw->t];
	a->p_answers = pi->reachable;
	a->p_role = pi->role;
	a->t_answers = ti->reachable;
	a->t_role = ti->role;
	a->t_follows_p = ti->reachable && state_follows(ti, sw->pn);
	a->t_link_up = ti->link_up;
	state_free(&now);
}

static enum switch_outcome
switch_run(struct sw *sw)
{
	struct switch_facts	 f = { .dry_run = sw->dry_run, .failed = STEP_MAX,
				       .how = RUN_OK };
	enum switch_outcome	 o;
	long long		 t0;
	enum step_run		 rc;
	int			 i;
	char			*hook = getenv("REDISFO_STEP_HOOK"), why[128];

	if (hook != NULL && *hook != '\0' && !sw->dry_run)
		msg_warnx("REDISFO_STEP_HOOK is set: it runs after each step (for drills "
		    "and tests only)");
	for (i = 0; i < STEP_MAX; i++) {
		if (i > STEP_PREFLIGHT && !switch_step_runs(sw, i))
			continue;
		if (sw->dry_run && i > STEP_PREFLIGHT)
			break;
		if (i > STEP_PRE_HOOK)
			hook_signals_hold(&sw->sig);
		t0 = mono_us();
		rc = switch_steps[i].run(sw);
		sw->step_us[i] = mono_us() - t0;
		sw->status[i] = rc == RUN_OK ? ST_OK : ST_FAILED;
		audit(sw, switch_steps[i].name, rc == RUN_OK ? "ok" : "failed", sw->step_us[i],
		    rc == RUN_OK ? sw->note[i] : sw->err);
		if (rc != RUN_OK) {
			f.failed = i;
			f.how = rc;
			break;
		}
		if (hook == NULL || *hook == '\0' || sw->dry_run)
			continue;
		t0 = mono_us();
		if (switch_hook(sw, hook, NULL, switch_steps[i].name, why, sizeof(why)) == -1)
			sw_warn(sw, "REDISFO_STEP_HOOK after %s: %s", switch_steps[i].name, why);
		sw->step_hook_us += mono_us() - t0;
	}
	f.changed = sw->changed;
	f.committed = sw->committed;
	f.dns_unknown = sw->dns_unknown;
	f.dns_error_reply = sw->dns_error_reply;
	f.readback = sw->readback;
	f.p_fenced = sw->p_fenced;
	o = switch_outcome(&f);
	if (o != SWITCH_DONE && o != SWITCH_DRY_RUN_OK && o != SWITCH_REFUSED &&
	    o != SWITCH_USAGE)
		switch_print_failed_at(sw, f.failed);
	if (switch_outcome_rolls_back(o)) {
		f.rollback_failed = switch_rollback(sw, f.failed);
		o = switch_outcome(&f);
		switch_look_after(sw);
	}
	switch_print_outcome(sw, o, &f);
	if (!sw->dry_run && (o == SWITCH_REFUSED || o == SWITCH_USAGE))
		audit(sw, "refused", "refused", 0, sw->err);
	return o;
}

int
cmd_switch(const struct conf *conf, int argc, char **argv)
{
	struct sw	 sw;
	const char	*svcname = NULL;
	char		 err[256];
	int		 i, used;
	enum switch_outcome o;

	memset(&sw, 0, sizeof(sw));
	sw.conf = conf;
	sw.lock_fd = -1;
	sw.sweep_fd = -1;
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
			msg_errorx("switch: unexpected argument '%s'\n"
			    "usage: switch [SERVICE] [--to NODE] [--force] [--dry-run] [-y]",
			    argv[i]);
			return 2;
		}
	}
	sw.svc = state_service_arg(conf, svcname ? 1 : 0, svcname ? (char **)&svcname : NULL,
	    &used, err, sizeof(err));
	if (sw.svc == NULL || (svcname != NULL && !used)) {
		msg_errorx("switch: %s", sw.svc ? "no such service" : err);
		return 2;
	}
	if (sw.svc->sentinel_name[0]) {
		/* never two orchestrators at once */
		msg_errorx("switch refused: Sentinel manages %s: use SENTINEL FAILOVER %s",
		    sw.svc->name, sw.svc->sentinel_name);
		return 1;
	}
	hook_signals_init(&sw.sig);
	o = switch_run(&sw);
	hook_signals_release(&sw.sig);
	node_close(sw.pc);
	node_close(sw.tc);
	state_free(&sw.st);
	switch_lease_release(&sw);
	lock_release(sw.sweep_fd);
	lock_release(sw.lock_fd);
	return switch_outcome_exit(o);
}
