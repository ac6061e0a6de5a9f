/*
 * txt.c - the one place that writes and reads the words of the _redisfo
 * TXT record (see txt.h). Kept apart from the DNS client and from the
 * switch so the format has one home and a unit test (tests/unit/test_txt.c).
 *
 * The rdata comes in presentation form (RFC 1035 5.1): strings in double
 * quotes or bare, separated by blanks, with \X and \DDD escapes. Pure text
 * work: it never does I/O and never prints. A text that does not fit its
 * buffer is an error, never a record cut short (only rec->text, shown to
 * people, is cut).
 */
#include <ctype.h>
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

/*
 * One character of a string at *p (an escape is one character), advanced
 * past it; -1 at the end of the string (closing quote, or a blank when
 * bare) or of the text.
 */
static int
txt_char(const char **p, int quoted)
{
	const char	*s = *p;
	int		 c;

	if (*s == '\0' || (quoted && *s == '"') ||
	    (!quoted && isspace((unsigned char)*s)))
		return -1;
	if (*s != '\\' || s[1] == '\0') {
		*p = s + 1;
		return (unsigned char)*s;
	}
	if (isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
	    isdigit((unsigned char)s[3])) {
		c = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		*p = s + 4;
		return c & 0xff;
	}
	*p = s + 2;
	return (unsigned char)s[1];
}

/*
 * The next string of rdata from *p: its bounds in presentation form
 * (*start, *end: without the quotes) and whether it is quoted; *p moves
 * past it. 0 when there is none left.
 */
static int
txt_next_string(const char **p, const char **start, const char **end, int *quoted)
{
	const char *s = *p;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;
	*quoted = *s == '"';
	if (*quoted)
		s++;
	*start = s;
	while (txt_char(&s, *quoted) != -1)
		;
	*end = s;
	if (*quoted && *s == '"')
		s++;
	*p = s;
	return 1;
}

/* Copy the value of word (l bytes, "key=value") into field when it fits. */
static void
txt_word_copy(char *field, size_t size, const char *word, size_t l, size_t keylen)
{
	if (l - keylen < size)
		snprintf(field, size, "%.*s", (int)(l - keylen), word + keylen);
}

/* Take one unescaped word into rec. */
static void
txt_word(struct txt_record *rec, const char *w, size_t l)
{
	if (l >= 8 && strncmp(w, "primary=", 8) == 0)
		txt_word_copy(rec->primary, sizeof(rec->primary), w, l, 8);
	else if (l >= 7 && strncmp(w, "fenced=", 7) == 0)
		txt_word_copy(rec->fenced, sizeof(rec->fenced), w, l, 7);
	else if (l >= 3 && strncmp(w, "at=", 3) == 0)
		txt_word_copy(rec->at, sizeof(rec->at), w, l, 3);
	else if (l >= 6 && strncmp(w, "epoch=", 6) == 0) {
		char num[32];

		snprintf(num, sizeof(num), "%.*s", (int)(l - 6), w + 6);
		rec->epoch = strtoll(num, NULL, 10);
	}
}

void
txt_parse(const char *rdata, struct txt_record *rec)
{
	const char	*p = rdata, *s, *e;
	char		 word[TXT_TEXT_MAX];
	size_t		 wl, tl = 0;
	int		 quoted, c, too_long;

	memset(rec, 0, sizeof(*rec));
	while (txt_next_string(&p, &s, &e, &quoted)) {
		if (tl > 0 && tl + 1 < sizeof(rec->text))
			rec->text[tl++] = ' ';
		wl = 0;
		too_long = 0;
		for (;;) {
			c = s < e ? txt_char(&s, quoted) : -1;
			if (c != -1 && tl + 1 < sizeof(rec->text) && c != '\0')
				rec->text[tl++] = (char)c;
			if (c == -1 || c == ' ') {
				if (wl > 0 && !too_long)
					txt_word(rec, word, wl);
				wl = 0;
				too_long = 0;
				if (c == -1)
					break;
				continue;
			}
			if (wl + 1 < sizeof(word))
				word[wl++] = (char)c;
			else
				too_long = 1;
		}
		rec->text[tl] = '\0';
	}
}

/* Append l bytes of s to out at *o, leaving room for the NUL. */
static int
txt_put(char *out, size_t outlen, size_t *o, const char *s, size_t l)
{
	if (*o + l >= outlen)
		return -1;
	memcpy(out + *o, s, l);
	*o += l;
	out[*o] = '\0';
	return 0;
}

int
txt_unfence(const char *rdata, char *out, size_t outlen)
{
	const char	*p = rdata, *s, *e, *w, *q;
	size_t		 o = 0, mark, words;
	int		 quoted, c;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	while (txt_next_string(&p, &s, &e, &quoted)) {
		mark = o;
		if ((o > 0 && txt_put(out, outlen, &o, " ", 1) == -1) ||
		    txt_put(out, outlen, &o, "\"", 1) == -1)
			return -1;
		words = 0;
		/* Words as written (escapes kept), an unescaped space between. */
		for (w = s; w < e; ) {
			for (q = w; q < e; ) {
				const char *before = q;

				c = txt_char(&q, quoted);
				if (c == ' ' && *before == ' ') {
					q = before;
					break;
				}
			}
			if (q > w && strncmp(w, "fenced=", 7) != 0) {
				if ((words++ > 0 && txt_put(out, outlen, &o, " ", 1) == -1) ||
				    txt_put(out, outlen, &o, w, (size_t)(q - w)) == -1)
					return -1;
			}
			w = q < e ? q + 1 : q;
		}
		if (words == 0) {
			o = mark;	/* a string left empty goes */
			out[o] = '\0';
			continue;
		}
		if (txt_put(out, outlen, &o, "\"", 1) == -1)
			return -1;
	}
	if (o == 0)
		return txt_put(out, outlen, &o, "\"\"", 2);
	return 0;
}
