/*
 * test_switch.c - how a switch ends: switch_outcome() from what happened
 * (which step failed and how, whether a node changed, the record moved,
 * the UPDATE's fate is unknown, a rollback failed), the exit code each
 * outcome gives (0 done, 1 nothing changed, 2 usage, 3 part-way), and
 * which outcomes call for the rollbacks.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_and_dry_run),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
