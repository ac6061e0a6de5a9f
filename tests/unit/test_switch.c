/*
 * test_switch.c - how a switch ends: switch_outcome() from what happened
 * (which step failed and how, whether a node changed, the record moved,
 * the UPDATE's fate is unknown, what a read-back of the record found, a
 * rollback failed, the old primary was held paused after a failed
 * demote), the exit code each outcome gives (0 done, 1 nothing changed,
 * 2 usage, 3 part-way), and which outcomes call for the rollbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failover/switch.h"

static struct switch_facts
facts(int failed, enum step_run how)
{
	struct switch_facts f;

	memset(&f, 0, sizeof(f));
	f.failed = failed;
	f.how = how;
	return f;
}

static void
test_done_and_dry_run(void **state)
{
	struct switch_facts f = facts(STEP_MAX, RUN_OK);

	(void)state;
	assert_int_equal(switch_outcome(&f), SWITCH_DONE);
	assert_int_equal(switch_outcome_exit(SWITCH_DONE), 0);
	f.dry_run = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_DRY_RUN_OK);
	assert_int_equal(switch_outcome_exit(SWITCH_DRY_RUN_OK), 0);
	/* a dry run stops at the preflight: any failure is a refusal */
	f = facts(STEP_PREFLIGHT, RUN_FAILED);
	f.dry_run = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_REFUSED);
	f.how = RUN_USAGE;
	assert_int_equal(switch_outcome(&f), SWITCH_USAGE);
	f = facts(STEP_LOCK, RUN_FAILED);
	f.dry_run = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_REFUSED);
}

static void
test_refusals(void **state)
{
	struct switch_facts	f;
	int			step;

	(void)state;
	/* every step up to the pre_hook refuses, with nothing changed */
	for (step = STEP_LOCK; step <= STEP_PRE_HOOK; step++) {
		f = facts(step, RUN_FAILED);
		assert_int_equal(switch_outcome(&f), SWITCH_REFUSED);
		assert_false(switch_outcome_rolls_back(switch_outcome(&f)));
	}
	assert_int_equal(switch_outcome_exit(SWITCH_REFUSED), 1);
	/* --to naming no node is a usage error: exit 2 */
	f = facts(STEP_PREFLIGHT, RUN_USAGE);
	assert_int_equal(switch_outcome(&f), SWITCH_USAGE);
	assert_int_equal(switch_outcome_exit(SWITCH_USAGE), 2);
}

static void
test_failures(void **state)
{
	struct switch_facts f;

	(void)state;
	/* CLIENT PAUSE refused: the node did not run it, nothing changed */
	f = facts(STEP_PAUSE, RUN_FAILED);
	assert_int_equal(switch_outcome(&f), SWITCH_FAILED);
	assert_int_equal(switch_outcome_exit(SWITCH_FAILED), 1);
	assert_false(switch_outcome_rolls_back(SWITCH_FAILED));

	/* the catch-up timed out after the pause: roll back, nothing changed */
	f = facts(STEP_CATCHUP, RUN_FAILED);
	f.changed = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_ROLLED_BACK);
	assert_true(switch_outcome_rolls_back(SWITCH_ROLLED_BACK));
	assert_int_equal(switch_outcome_exit(SWITCH_ROLLED_BACK), 1);
	f.rollback_failed = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_ROLLBACK_FAILED);
	assert_int_equal(switch_outcome_exit(SWITCH_ROLLBACK_FAILED), 3);

	/* the UPDATE's reply never came: roll back, but say it may land */
	f = facts(STEP_SWAP, RUN_FAILED);
	f.changed = 1;
	f.dns_unknown = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	assert_true(switch_outcome_rolls_back(SWITCH_DNS_UNKNOWN));
	f.rollback_failed = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	assert_int_equal(switch_outcome_exit(SWITCH_DNS_UNKNOWN), 3);

	/* the record moved, then the demote failed: forward only */
	f = facts(STEP_DEMOTE, RUN_FAILED);
	f.changed = 1;
	f.committed = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_PART_WAY);
	assert_false(switch_outcome_rolls_back(SWITCH_PART_WAY));
	assert_int_equal(switch_outcome_exit(SWITCH_PART_WAY), 3);
}

static void
test_untrusted_replies(void **state)
{
	struct switch_facts f;

	(void)state;
	/* an unsigned REFUSED, and the record read back over TCP shows
	 * nothing moved: the server did say no. Rolled back, exit 1 */
	f = facts(STEP_SWAP, RUN_FAILED);
	f.changed = 1;
	f.dns_unknown = 1;
	f.dns_error_reply = 1;
	f.readback = READBACK_UNCHANGED;
	assert_int_equal(switch_outcome(&f), SWITCH_ROLLED_BACK);
	assert_int_equal(switch_outcome_exit(switch_outcome(&f)), 1);
	f.rollback_failed = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_ROLLBACK_FAILED);
	f.rollback_failed = 0;
	/* the same reply, but the serial moved, or the record could not be
	 * read: what it means cannot be known. Exit 3 */
	f.readback = READBACK_OTHER;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	f.readback = READBACK_FAILED;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	f.readback = READBACK_NONE;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	/* an untrusted NOERROR with the record unchanged: it may land yet */
	f.dns_error_reply = 0;
	f.readback = READBACK_UNCHANGED;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	assert_int_equal(switch_outcome_exit(SWITCH_DNS_UNKNOWN), 3);

	/* a record repair changes no node: an UPDATE of unknown fate is
	 * still no "nothing was changed" */
	f = facts(STEP_SWAP, RUN_FAILED);
	f.dns_unknown = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_DNS_UNKNOWN);
	f.dns_error_reply = 1;
	f.readback = READBACK_UNCHANGED;
	assert_int_equal(switch_outcome(&f), SWITCH_FAILED);
}

static void
test_demote_fenced(void **state)
{
	struct switch_facts f;

	(void)state;
	/* the record moved, the demote failed, the old primary is held
	 * paused with its clients killed: still part-way, said apart */
	f = facts(STEP_DEMOTE, RUN_FAILED);
	f.changed = 1;
	f.committed = 1;
	f.p_fenced = 1;
	assert_int_equal(switch_outcome(&f), SWITCH_PART_WAY_FENCED);
	assert_false(switch_outcome_rolls_back(SWITCH_PART_WAY_FENCED));
	assert_int_equal(switch_outcome_exit(SWITCH_PART_WAY_FENCED), 3);
	f.p_fenced = 0;
	assert_int_equal(switch_outcome(&f), SWITCH_PART_WAY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_and_dry_run),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_untrusted_replies),
		cmocka_unit_test(test_demote_fenced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
