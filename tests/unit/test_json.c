/*
 * test_json.c - failover/json.c: whatever the bytes, what status --json
 * and the audit log write is a JSON string that is valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failover/json.h"

static void
test_json_str(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "r1", "\"r1\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "tab\tnl\n\x7f", "\"tab\\u0009nl\\u000a\\u007f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "\xff\xc3(", "\"\\u00ff\\u00c3(\"" },		/* not UTF-8 */
		{ "\xc0\xaf", "\"\\u00c0\\u00af\"" },		/* overlong */
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },	/* surrogate */
		{ "\xe2\x82", "\"\\u00e2\\u0082\"" },		/* cut short */
	};
	char	*buf = NULL;
	size_t	 len = 0, i;
	FILE	*f;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = open_memstream(&buf, &len);
		assert_non_null(f);
		json_str_write(f, cases[i].in);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(buf, cases[i].out);
		free(buf);
		buf = NULL;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
