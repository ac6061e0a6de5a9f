/*
 * test_manpage.c - redisfo.conf(5) documents every key of the config, and
 * only those.
 *
 * The page gives each key its own list item, `.It Ic <dotted key>`, the
 * path conf_key_info() returns ("dns.ttl", "services.nodes.port"). Every
 * key of the table must have one, and every such item must name a key of
 * the table, so that a key added to conf/conf.c or taken out of it cannot
 * leave the manual behind. The page is read from the source tree: the
 * tests run from its top folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define MANPAGE		"conf/redisfo.conf.5"
#define ITEM		".It Ic "

static char *
read_all(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	if (f == NULL)
		fail_msg("%s: cannot open (run from the top of the source tree)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Whether text has a line ".It Ic <key>" followed by a blank or the end. */
static int
page_has_item(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 ilen = strlen(ITEM), klen = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, ITEM, ilen) == 0 && strncmp(p + ilen, key, klen) == 0 &&
		    (p[ilen + klen] == ' ' || p[ilen + klen] == '\n'))
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

static int
table_has_key(const char *name, size_t len)
{
	char	key[128];
	size_t	i;

	for (i = 0; conf_key_info(i, key, sizeof(key), NULL) == 0; i++)
		if (strlen(key) == len && strncmp(key, name, len) == 0)
			return 1;
	return 0;
}

static void
test_page_documents_every_key(void **state)
{
	char		*text, key[128];
	const char	*doc;
	size_t		 i;

	(void)state;
	text = read_all(MANPAGE);
	for (i = 0; conf_key_info(i, key, sizeof(key), &doc) == 0; i++)
		if (!page_has_item(text, key))
			fail_msg("%s: key %s is not documented (no \"" ITEM "%s\" line)",
			    MANPAGE, key, key);
	assert_true(i >= 30);
	free(text);
}

static void
test_page_documents_only_keys(void **state)
{
	char		*text;
	const char	*p, *name;
	size_t		 len, items = 0;

	(void)state;
	text = read_all(MANPAGE);
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, ITEM, strlen(ITEM)) != 0)
			continue;
		name = p + strlen(ITEM);
		len = strcspn(name, " \n");
		if (!table_has_key(name, len))
			fail_msg("%s: documents \"%.*s\", which is not a key of conf/conf.c",
			    MANPAGE, (int)len, name);
		items++;
	}
	assert_true(items >= 30);
	free(text);
}

/* The check itself: a key that is only mentioned in passing does not count. */
static void
test_item_match(void **state)
{
	(void)state;
	assert_true(page_has_item(".It Ic dns.ttl Pq integer\n", "dns.ttl"));
	assert_true(page_has_item("x\n.It Ic dns\n", "dns"));
	assert_false(page_has_item(".It Ic dns.ttl Pq integer\n", "dns"));
	assert_false(page_has_item("see\n.Ic dns.ttl\n", "dns.ttl"));
	assert_false(page_has_item("", "dns"));
	assert_true(table_has_key("services.nodes.port", strlen("services.nodes.port")));
	assert_false(table_has_key("services.nodes.por", strlen("services.nodes.por")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_match),
		cmocka_unit_test(test_page_documents_every_key),
		cmocka_unit_test(test_page_documents_only_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
