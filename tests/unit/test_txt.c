/*
 * test_txt.c - the _redisfo TXT record: what the switch writes is what
 * state reads back, rejoin's unfence drops fenced= and keeps every other
 * word, and nothing is ever cut short to fit a buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failover/txt.h"

static void
test_format_parse(void **state)
{
	struct txt_record	rec, back;
	char			out[512];

	(void)state;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), "r2");
	rec.epoch = 7;
	snprintf(rec.at, sizeof(rec.at), "2026-01-02T03:04:05Z");
	assert_int_equal(txt_format(&rec, out, sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r2 epoch=7 at=2026-01-02T03:04:05Z\"");

	snprintf(rec.fenced, sizeof(rec.fenced), "r1");
	assert_int_equal(txt_format(&rec, out, sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r2 epoch=7 at=2026-01-02T03:04:05Z fenced=r1\"");

	/* What the DNS client hands back is the same presentation form. */
	txt_parse(out, &back);
	assert_string_equal(back.primary, "r2");
	assert_int_equal(back.epoch, 7);
	assert_string_equal(back.at, "2026-01-02T03:04:05Z");
	assert_string_equal(back.fenced, "r1");
	assert_string_equal(back.text, "primary=r2 epoch=7 at=2026-01-02T03:04:05Z fenced=r1");

	/* Too small a buffer is an error, not a cut record. */
	assert_int_equal(txt_format(&rec, out, 20), -1);
}

static void
test_stamp(void **state)
{
	struct txt_record rec;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	txt_stamp(&rec);
	assert_int_equal(strlen(rec.at), 20);
	assert_int_equal(rec.at[10], 'T');
	assert_int_equal(rec.at[19], 'Z');
}

static void
test_parse_odd(void **state)
{
	struct txt_record	rec;
	char			longname[100];

	(void)state;
	txt_parse("", &rec);
	assert_string_equal(rec.primary, "");
	assert_int_equal(rec.epoch, 0);
	assert_string_equal(rec.fenced, "");

	/* extra spaces and unknown words */
	txt_parse("  epoch=12   other=x primary=r3  ", &rec);
	assert_string_equal(rec.primary, "r3");
	assert_int_equal(rec.epoch, 12);
	assert_string_equal(rec.fenced, "");

	/* a word too long for its field is left out, not cut */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	{
		char v[200];

		snprintf(v, sizeof(v), "primary=r1 fenced=%s", longname);
		txt_parse(v, &rec);
	}
	assert_string_equal(rec.primary, "r1");
	assert_string_equal(rec.fenced, "");
}

static void
test_unfence(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(txt_unfence("\"primary=r2 epoch=3 at=X fenced=r1\"", out, sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r2 epoch=3 at=X\"");
	/* fenced= anywhere; other words kept in order, spaces tidied */
	assert_int_equal(txt_unfence("\"fenced=r1  primary=r2 extra=1 epoch=3\"", out, sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r2 extra=1 epoch=3\"");
	assert_int_equal(txt_unfence("\"fenced=r1\"", out, sizeof(out)), 0);
	assert_string_equal(out, "\"\"");
	/* never cut */
	assert_int_equal(txt_unfence("\"primary=r2 epoch=3\"", out, 10), -1);
	assert_int_equal(txt_unfence("\"primary=r2\"", out, 13), 0);
	assert_int_equal(txt_unfence("\"primary=r2\"", out, 12), -1);
}

/* Several strings, as any RFC 2136 tool may write the TXT. */
static void
test_several_strings(void **state)
{
	struct txt_record	rec;
	char			out[512];

	(void)state;
	txt_parse("\"primary=r1 epoch=12\" \"fenced=r3\"", &rec);
	assert_string_equal(rec.primary, "r1");
	assert_int_equal(rec.epoch, 12);
	assert_string_equal(rec.fenced, "r3");
	assert_string_equal(rec.text, "primary=r1 epoch=12 fenced=r3");
	/* a string boundary ends a word */
	txt_parse("\"primary=r1\"\"epoch=4\"", &rec);
	assert_string_equal(rec.primary, "r1");
	assert_int_equal(rec.epoch, 4);
	/* bare strings and escapes */
	txt_parse("primary=r\\0502 \"epoch=5\\032fenced=r\\\"\"", &rec);
	assert_string_equal(rec.primary, "r22");
	assert_int_equal(rec.epoch, 5);
	assert_string_equal(rec.fenced, "r\"");

	/* the string that held only fenced= goes, the others stay as written */
	assert_int_equal(txt_unfence("\"primary=r1 epoch=12\" \"fenced=r3\"", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r1 epoch=12\"");
	assert_int_equal(txt_unfence("\"fenced=r3\" \"primary=r1\" \"x=\\\"y\\255 epoch=2\"",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r1\" \"x=\\\"y\\255 epoch=2\"");
	assert_int_equal(txt_unfence("\"primary=r1 fenced=r3\" \"epoch=2\"", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "\"primary=r1\" \"epoch=2\"");
	assert_int_equal(txt_unfence("\"primary=r1\" \"epoch=2\"", out, 20), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_several_strings),
		cmocka_unit_test(test_parse_odd),
		cmocka_unit_test(test_unfence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
