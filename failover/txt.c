/*
 * txt.c - the one place that writes and reads the words of the _redisfo
 * TXT record (see txt.h). Kept apart from the DNS client and from the
 * switch so the format has one home and a unit test (tests/unit/test_txt.c).
 *
 * Pure text work: it never does I/O and never prints. A text that does
 * not fit its buffer is an error, never a record cut short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "failover/txt.h"

void
txt_stamp(struct txt_record *rec)
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(rec->at, sizeof(rec->at), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
txt_format(const struct txt_record *rec, char *out, size_t outlen)
{
	int n;

	n = snprintf(out, outlen, "\"primary=%s epoch=%lld at=%s%s%s\"", rec->primary,
	    rec->epoch, rec->at, rec->fenced[0] ? " fenced=" : "", rec->fenced);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Copy the value of word (l bytes, "key=value") into field when it fits. */
static void
txt_word_copy(char *field, size_t size, const char *word, size_t l, size_t keylen)
{
	if (l - keylen < size)
		snprintf(field, size, "%.*s", (int)(l - keylen), word + keylen);
}

void
txt_parse(const char *value, struct txt_record *rec)
{
	const char	*p;
	size_t		 l;

	memset(rec, 0, sizeof(*rec));
	for (p = value; *p; p += l) {
		p += strspn(p, " ");
		l = strcspn(p, " ");
		if (strncmp(p, "primary=", 8) == 0)
			txt_word_copy(rec->primary, sizeof(rec->primary), p, l, 8);
		else if (strncmp(p, "fenced=", 7) == 0)
			txt_word_copy(rec->fenced, sizeof(rec->fenced), p, l, 7);
		else if (strncmp(p, "at=", 3) == 0)
			txt_word_copy(rec->at, sizeof(rec->at), p, l, 3);
		else if (strncmp(p, "epoch=", 6) == 0)
			rec->epoch = strtoll(p + 6, NULL, 10);
	}
}

int
txt_quote(const char *value, char *out, size_t outlen)
{
	int n;

	n = snprintf(out, outlen, "\"%s\"", value);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
txt_unfence(const char *value, char *out, size_t outlen)
{
	const char	*p;
	size_t		 o = 1, l;
	int		 n;

	if (outlen < 3)
		return -1;
	out[0] = '"';
	for (p = value; *p; p += l) {
		p += strspn(p, " ");
		l = strcspn(p, " ");
		if (l == 0 || strncmp(p, "fenced=", 7) == 0)
			continue;
		n = snprintf(out + o, outlen - o, "%s%.*s", o > 1 ? " " : "", (int)l, p);
		if (n < 0 || (size_t)n >= outlen - o)
			return -1;
		o += (size_t)n;
	}
	n = snprintf(out + o, outlen - o, "\"");
	return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}
