/*
 * switch.h - the inside of `redisfo-dns switch`, shared by the two files
 * that make it: switch.c (the steps, the driver and the outcome) and
 * switch_print.c (what the operator reads). hook.c serves them without
 * knowing this struct. Nothing else includes it but the outcome's unit
 * test; the command itself is declared in commands.h.
 */
#ifndef REDISFO_FAILOVER_SWITCH_H
#define REDISFO_FAILOVER_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "failover/dnsclient.h"
#include "failover/hook.h"
#include "failover/lease.h"
#include "failover/node.h"
#include "failover/state.h"
#include "failover/txt.h"

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
	STEP_SWEEP,
	STEP_MAX
};

/* MODE_ADOPT: --to names a node already master (promoted outside a
 * switch): the record moves to it, nothing is promoted or paused. */
enum switch_mode { MODE_PLANNED, MODE_FAILOVER, MODE_REPAIR, MODE_ADOPT };

/* What the record read back (over TCP) after an UPDATE said. */
enum switch_readback {
	READBACK_NONE = 0,	/* not read back */
	READBACK_UNCHANGED,	/* names the old primary, serial as before */
	READBACK_APPLIED,	/* names the target */
	READBACK_OTHER,		/* anything else (another writer, another serial) */
	READBACK_FAILED,	/* could not be read */
};

/* What a fresh look after the rollbacks found (switch_print says only that). */
struct switch_after {
	int		looked;		/* the look was taken */
	int		record;		/* node the record names; -1 none, -2 unreadable */
	char		record_err[256];
	int		p_answers, t_answers;
	enum node_role	p_role, t_role;
	int		t_follows_p, t_link_up;
};

/* What a step's run or rollback returns. */
enum step_run {
	RUN_OK = 0,
	RUN_FAILED = -1,	/* sw->err says why */
	RUN_USAGE = -2,		/* the operator asked for what cannot be (--to
				   names no node): exit 2 */
};

enum step_status { ST_NOT_RUN = 0, ST_OK, ST_FAILED, ST_ROLLED_BACK, ST_ROLLBACK_FAILED };

/* One line of the preflight's verdicts, printed by switch_print_checks(). */
enum check_kind { CHECK_OK, CHECK_FAIL, CHECK_NOTE };

struct switch_check {
	enum check_kind	kind;
	char		text[1024];	/* an error text and a record fit whole */
};

#define SWITCH_CHECKS_MAX	40

struct sw {
	const struct conf		*conf;
	const struct conf_service	*svc;
	/* options */
	const char			*to;
	int				 force, dry_run, yes;
	/* what preflight found */
	struct svc_state		 st;
	enum switch_mode		 mode;
	int				 p, t;		/* node indexes */
	const struct conf_node		*pn, *tn;
	struct node_conn		*pc, *tc;
	int				 p_probes_failed;
	int				 adopt_demote;	/* adopt with --force while the
							   old primary is master too:
							   the demote step runs */
	struct switch_check		 checks[SWITCH_CHECKS_MAX];
	size_t				 n_checks, n_checks_printed;
	/* progress */
	int				 lock_fd;
	int				 sweep_fd;	/* the sweeps' lock, while lock_fd is held */
	int				 lease_held;	/* lease is ours, to release */
	struct lease			 lease;		/* the lease in the zone */
	struct hook_signals		 sig;
	int				 changed;	/* a node was changed */
	int				 committed;	/* the record moved */
	int				 dns_unknown;	/* the UPDATE's outcome is unknown */
	int				 p_demoted;
	int				 p_fenced;	/* the demote failed after the swap: P
							   paused for long, clients killed */
	struct dnsclient_update_info	 swap_info;	/* how the swap's UPDATE went */
	int				 dns_error_reply;	/* it got an error reply it
								   cannot trust */
	enum switch_readback		 readback;
	struct switch_after		 after;
	int				 t_promote_refused;	/* T answered REPLICAOF NO ONE
							   with an error */
	long long			 p_offset, t_offset;
	long long			 pause_start, pause_end;
	long long			 last_pause;	/* last CLIENT PAUSE sent */
	uint32_t			 new_serial;
	long long			 new_epoch;
	char				 new_txt[512];
	struct txt_record		 new_rec;	/* what new_txt says */
	char				 fenced[CONF_NAME_MAX];
	char				 warnings[2048];
	char				 err[1024];
	/* the timeline */
	enum step_status		 status[STEP_MAX];
	long long			 step_us[STEP_MAX];
	long long			 step_hook_us;	/* REDISFO_STEP_HOOK, all runs */
	char				 note[STEP_MAX][256];
};

struct step {
	const char	*name;
	const char	*what;		/* for the plan */
	enum step_run	(*run)(struct sw *);
	enum step_run	(*rollback)(struct sw *);
	int		 planned;	/* runs in a planned switchover */
	int		 failover;	/* runs in an unplanned failover */
	int		 repair;	/* runs in a record repair */
};

extern const struct step switch_steps[STEP_MAX];

/* Does step i run in sw's mode? */
int		 switch_step_runs(const struct sw *sw, int i);
const char	*switch_mode_str(enum switch_mode mode);

/*
 * How a switch ended, worked out from what happened (struct switch_facts)
 * by switch_outcome(), a pure function; the exit code, the last words and
 * whether to roll back all follow from it.
 */
enum switch_outcome {
	SWITCH_DONE,		/* every step ran: exit 0 */
	SWITCH_DRY_RUN_OK,	/* --dry-run, every check passed: 0 */
	SWITCH_USAGE,		/* refused on a usage error: 2 */
	SWITCH_REFUSED,		/* a check, the operator, the lock or pre_hook
				   said no, before anything changed: 1 */
	SWITCH_FAILED,		/* a step failed, nothing had changed: 1 */
	SWITCH_ROLLED_BACK,	/* a step failed, every change undone: 1 */
	SWITCH_PART_WAY,	/* the record moved, a later step failed: 3 */
	SWITCH_PART_WAY_FENCED,	/* the record moved, the old primary could not
				   be demoted but is held paused with its
				   clients killed: 3 */
	SWITCH_DNS_UNKNOWN,	/* rolled back, but the UPDATE may land late: 3 */
	SWITCH_ROLLBACK_FAILED,	/* a rollback failed: 3 */
};

struct switch_facts {
	int		dry_run;
	int		failed;		/* the step that failed; STEP_MAX = none */
	enum step_run	how;		/* RUN_FAILED or RUN_USAGE, when one failed */
	int		changed;	/* a node was (or may have been) changed */
	int		committed;	/* the record moved */
	int		dns_unknown;	/* no answer to the UPDATE that can be trusted */
	int		dns_error_reply;	/* ... but an error reply came */
	enum switch_readback readback;	/* what a read-back found, after one */
	int		p_fenced;	/* the old primary, not demoted, is held
					   paused with its clients killed */
	int		rollback_failed;	/* a rollback ran and failed */
};

enum switch_outcome	switch_outcome(const struct switch_facts *f);
/* The outcomes that call for the rollbacks (before they ran). */
int			switch_outcome_rolls_back(enum switch_outcome o);
/* 0 done, 1 refused or nothing changed, 2 usage, 3 part-way. */
int			switch_outcome_exit(enum switch_outcome o);

/* How long a failed demote keeps the old primary paused for writes. */
#define SWITCH_FENCE_PAUSE_MS	(24 * 3600 * 1000)

/* switch_print.c: everything the switch shows the operator. */
void	switch_print_checks(struct sw *sw);
void	switch_print_loss(const struct sw *sw);
void	switch_print_plan(const struct sw *sw);
void	switch_print_timeline(const struct sw *sw);
void	switch_print_failed_at(const struct sw *sw, int failed);
void	switch_print_outcome(const struct sw *sw, enum switch_outcome o,
	    const struct switch_facts *f);

#endif
