/*
 * switch_print.c - what a switch shows the operator: the preflight's
 * verdicts, what an unplanned failover may lose, the plan, the timeline,
 * the state of every node after a failure, and the last words of each
 * outcome.
 *
 * Progress and verdicts go to stdout; failures, and the state they leave,
 * to stderr (through msg.h for the "redisfo-dns: " lines). It only reads
 * struct sw: it never decides, never changes the switch's state and never
 * talks to a node, except print_state_now's one fresh look after a
 * failure.
 */
#include <stdio.h>
#include <string.h>

#include "failover/msg.h"
#include "failover/switch.h"

void
switch_print_checks(struct sw *sw)
{
	static const char *mark[] = { [CHECK_OK] = "  [ ok ] ", [CHECK_FAIL] = "  [FAIL] ",
				      [CHECK_NOTE] = "  " };
	const struct switch_check *c;

	for (; sw->n_checks_printed < sw->n_checks; sw->n_checks_printed++) {
		c = &sw->checks[sw->n_checks_printed];
		printf("%s%s\n", mark[c->kind], c->text);
	}
}

/* An unplanned failover: what the target lacks, and who has more. */
void
switch_print_loss(const struct sw *sw)
{
	const struct node_info	*ti = &sw->st.nodes[sw->t];
	size_t			 i;

	printf("  what may be lost: everything %s acknowledged after offset %lld "
	    "(the target %s's last offset)\n", sw->pn->name, ti->replica_offset,
	    sw->tn->name);
	for (i = 0; i < sw->svc->n_nodes; i++) {
		const struct node_info *o = &sw->st.nodes[i];

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

/* The plan: what will happen, step by step. */
void
switch_print_plan(const struct sw *sw)
{
	static const char	*what[] = { [MODE_PLANNED] = "planned switchover",
				    [MODE_FAILOVER] = "UNPLANNED FAILOVER",
				    [MODE_REPAIR] = "record repair",
				    [MODE_ADOPT] = "adopt a master" };
	char			 addrs[256];
	int			 i;

	state_node_addresses(sw->tn, addrs, sizeof(addrs));
	printf("plan: %s %s: %s (%s:%d) -> %s (%s:%d), record %s -> %s, epoch %lld\n",
	    what[sw->mode], sw->svc->name, sw->pn->name, sw->pn->host, sw->pn->port,
	    sw->tn->name, sw->tn->host, sw->tn->port, sw->st.owner, addrs, sw->new_epoch);
	for (i = 0; i < STEP_MAX; i++)
		if (switch_step_runs(sw, i))
			printf("  %-10s %s\n", switch_steps[i].name, switch_steps[i].what);
	fflush(stdout);
}

void
switch_print_timeline(const struct sw *sw)
{
	static const char *st_name[] = { [ST_NOT_RUN] = "-", [ST_OK] = "ok",
				 [ST_FAILED] = "FAILED", [ST_ROLLED_BACK] = "rolled back",
				 [ST_ROLLBACK_FAILED] = "ROLLBACK FAILED" };
	long long	total = 0;
	size_t		i;

	printf("timeline:\n");
	for (i = 0; i < STEP_MAX; i++) {
		if (sw->status[i] == ST_NOT_RUN)
			continue;
		printf("  %-10s %9.3f ms  %-12s %s\n", switch_steps[i].name,
		    sw->step_us[i] / 1000.0, st_name[sw->status[i]], sw->note[i]);
		if (i != STEP_CONFIRM)
			total += sw->step_us[i];
	}
	/* The step hook runs between steps, inside the pause window: count it
	 * in the total too, on a line of its own. */
	if (sw->step_hook_us) {
		printf("  %-10s %9.3f ms  (REDISFO_STEP_HOOK, after each step)\n",
		    "step hooks", sw->step_hook_us / 1000.0);
		total += sw->step_hook_us;
	}
	if (sw->pause_start) {
		if (sw->p_fenced)
			printf("write pause window: held on %s (CLIENT PAUSE WRITE for %d "
			    "hours, until CLIENT UNPAUSE): it could not be demoted\n",
			    sw->pn->name, SWITCH_FENCE_PAUSE_MS / 3600000);
		else if (sw->pause_end)
			printf("write pause window: %.3f ms\n",
			    (sw->pause_end - sw->pause_start) / 1000.0);
		else
			printf("write pause window: not closed by the switch (ends by itself "
			    "after %d ms)\n", sw->conf->failover.pause_timeout_ms);
	}
	printf("total: %.3f ms (without the confirmation)\n", total / 1000.0);
	fflush(stdout);
}

/* After a failure: say where each node and the record are, from a fresh look. */
static void
print_state_now(const struct sw *sw)
{
	const struct conf_service	*svc = sw->svc;
	struct svc_state		 now;
	size_t				 i;

	if (state_load(&now, sw->conf, svc, 1) == -1) {
		fprintf(stderr, "  state: cannot be read\n");
		return;
	}
	fprintf(stderr, "state now:\n");
	for (i = 0; i < svc->n_nodes; i++) {
		const struct conf_node *nd = &svc->nodes[i];
		const struct node_info *n = &now.nodes[i];

		if (!n->reachable)
			fprintf(stderr, "  %s (%s:%d): unreachable: %s\n", nd->name, nd->host,
			    nd->port, n->error);
		else if (n->role == NODE_ROLE_REPLICA)
			fprintf(stderr, "  %s (%s:%d): replica of %s:%d, link %s\n", nd->name,
			    nd->host, nd->port, n->master_host, n->master_port,
			    n->link_up ? "up" : "down");
		else
			fprintf(stderr, "  %s (%s:%d): %s%s\n", nd->name, nd->host, nd->port,
			    node_role_str(n->role),
			    (int)i == sw->p && sw->pause_start && !sw->pause_end ?
			    " (paused for writes until the pause times out)" : "");
	}
	if (now.dns == DNSCLIENT_OK)
		fprintf(stderr, "  record %s -> %s%s%s (%s), serial %u\n", now.owner,
		    now.a->n ? now.a->value[0] : "", now.aaaa->n ? " " : "",
		    now.aaaa->n ? now.aaaa->value[0] : "",
		    now.served >= 0 ? svc->nodes[now.served].name : "no node", now.serial);
	else
		fprintf(stderr, "  record %s: unknown (%s)\n", now.owner, now.dns_err);
	fprintf(stderr, "  verdict: %s\n", now.verdict_text);
	state_free(&now);
}

void
switch_print_failed_at(const struct sw *sw, int failed)
{
	msg_errorx("switch failed at %s: %s", switch_steps[failed].name, sw->err);
}

/*
 * What a rollback left, from switch_look_after's fresh look only: P, T
 * and the record as seen, never as hoped.
 */
static void
p_seen(const struct sw *sw, int say_unpaused, char *p, size_t plen)
{
	const struct switch_after	*a = &sw->after;
	int				 unpaused = say_unpaused &&
					     sw->status[STEP_PAUSE] == ST_ROLLED_BACK;

	if (!a->looked)
		snprintf(p, plen, "%s was not looked at again", sw->pn->name);
	else if (!a->p_answers)
		snprintf(p, plen, "%s did not answer", sw->pn->name);
	else if (a->p_role == NODE_ROLE_MASTER)
		snprintf(p, plen, "%s is the primary again%s", sw->pn->name,
		    unpaused ? " (unpaused)" : "");
	else
		snprintf(p, plen, "%s answers as a %s", sw->pn->name,
		    node_role_str(a->p_role));
}

static void
print_rolled_back(const struct sw *sw)
{
	const struct switch_after	*a = &sw->after;
	char				 p[256], t[256], rec[384];

	p_seen(sw, 1, p, sizeof(p));
	/* T: what this switch did to it, and what it is now. */
	if (sw->status[STEP_PROMOTE] != ST_ROLLED_BACK || sw->t_promote_refused)
		snprintf(t, sizeof(t), "%s was not promoted", sw->tn->name);
	else if (!a->looked)
		snprintf(t, sizeof(t), "%s was told to follow %s again", sw->tn->name,
		    sw->pn->name);
	else if (!a->t_answers)
		snprintf(t, sizeof(t), "%s was told to follow %s again but does not "
		    "answer now", sw->tn->name, sw->pn->name);
	else if (a->t_follows_p)
		snprintf(t, sizeof(t), "%s is a replica of %s again%s", sw->tn->name,
		    sw->pn->name, a->t_link_up ? "" : a->p_answers ?
		    " (its link not up yet)" : " (link down)");
	else
		snprintf(t, sizeof(t), "%s answers as a %s, not a replica of %s",
		    sw->tn->name, node_role_str(a->t_role), sw->pn->name);
	if (a->record == -2)
		snprintf(rec, sizeof(rec), "the record could not be read (%s)", a->record_err);
	else if (a->record == sw->p)
		snprintf(rec, sizeof(rec), "the record still names %s",
		    a->looked && !a->p_answers ? "it" : sw->pn->name);
	else if (a->record >= 0)
		snprintf(rec, sizeof(rec), "the record names %s", sw->svc->nodes[a->record].name);
	else
		snprintf(rec, sizeof(rec), "the record names no node");
	if (a->looked && !a->p_answers)
		msg_errorx("rolled back: %s: %s; %s; nothing changed", p, rec, t);
	else
		msg_errorx("rolled back: %s, %s, %s; nothing changed", p, t, rec);
}

void
switch_print_outcome(const struct sw *sw, enum switch_outcome o,
    const struct switch_facts *f)
{
	char p[256];

	if (o == SWITCH_DRY_RUN_OK) {
		printf("dry run: every check passed; nothing was changed\n");
		return;
	}
	if (o == SWITCH_USAGE || o == SWITCH_REFUSED) {
		msg_errorx("switch %s: %s", sw->dry_run ? "would be refused" : "refused",
		    sw->err);
		return;
	}
	switch_print_timeline(sw);
	switch (o) {
	case SWITCH_DRY_RUN_OK:
	case SWITCH_USAGE:
	case SWITCH_REFUSED:
		break;
	case SWITCH_DONE:
		printf("switch done: %s now serves %s (epoch %lld)%s%s\n", sw->tn->name,
		    sw->st.owner, sw->new_epoch, sw->warnings[0] ? "; warnings: " : "",
		    sw->warnings);
		break;
	case SWITCH_FAILED:
		msg_errorx("nothing was changed");
		break;
	case SWITCH_PART_WAY:
		/* The record moved: forward only. */
		print_state_now(sw);
		msg_errorx("failed part-way: the record names %s, which is master; see "
		    "above for %s", sw->tn->name, sw->pn->name);
		break;
	case SWITCH_PART_WAY_FENCED:
		print_state_now(sw);
		msg_errorx("failed part-way: the record names %s, which is master; %s could "
		    "not be demoted, but it stays paused for writes and its clients were "
		    "killed, so nothing acknowledged can land there: make it a replica of "
		    "%s (REPLICAOF %s %d), then CLIENT UNPAUSE it", sw->tn->name,
		    sw->pn->name, sw->tn->name, sw->tn->host, sw->tn->port);
		break;
	case SWITCH_ROLLED_BACK:
		/* Say only what was seen after the rollback: P may be down,
		 * T may have been taken away by someone else. */
		print_rolled_back(sw);
		break;
	case SWITCH_DNS_UNKNOWN:
		print_state_now(sw);
		p_seen(sw, 0, p, sizeof(p));
		msg_errorx("failed part-way: %s%s, but the UPDATE's outcome is unknown: if "
		    "%s applies it late, the record names %s, %s; check with `status`, and "
		    "if so run `switch --to %s` to point the record back", p,
		    f->rollback_failed ? " (and a rollback failed: see the state above)" : "",
		    sw->conf->failover.server.text, sw->tn->name,
		    sw->status[STEP_PROMOTE] == ST_ROLLED_BACK ? "now a replica" :
		    "not put back as a replica", sw->pn->name);
		break;
	case SWITCH_ROLLBACK_FAILED:
		print_state_now(sw);
		msg_errorx("failed part-way: a rollback failed (see the state above)");
		break;
	}
}
