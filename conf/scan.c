/*
 * scan.c - a second, small lexer over the config's text, for what libconfig
 * does not report.
 *
 * conf.c hands libconfig the text, then asks here what libconfig lost: a
 * plain integer too wide for 32 bits (libconfig wraps it silently) and the
 * name of a setting it found twice (it reports only the line). The lexer
 * knows libconfig's strings, escapes and three comment styles well enough
 * to skip them; it is not a parser, and conf.c still decides everything
 * from libconfig's tree. conf/ is the base layer shared by dnsd/ and
 * failover/.
 *
 * It never includes <libconfig.h>, never allocates, never prints, and only
 * reads the text it is given.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/scan.h"

/*
 * libconfig 1.5 silently wraps a plain integer that does not fit 32 bits
 * (5000000000 reads as 705032704): such literals are found here, so they
 * are reported instead of used.
 */
int
conf_scan_int_overflow(const char *p, size_t len, char *lit, size_t litlen)
{
	const char	*end = p + len, *start;
	int		 line = 1, hex;
	char		 prev = ' ', num[64];
	long long	 v;
	size_t		 n;

	while (p < end) {
		if (*p == '\n') {
			line++;
			prev = *p++;
			continue;
		}
		if (*p == '"') {		/* string, with escapes */
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\n')
					line++;
			}
			p++;
			prev = '"';
			continue;
		}
		if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (*p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end &&
			    p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			p += 2;
			prev = ' ';
			continue;
		}
		if (isalnum((unsigned char)prev) || prev == '_' || prev == '-' ||
		    prev == '*' || prev == '.' || prev == '+' ||
		    !(isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') &&
		    p + 1 < end && isdigit((unsigned char)p[1])))) {
			prev = *p++;
			continue;
		}
		start = p;
		if (*p == '-' || *p == '+')
			p++;
		hex = p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
		if (hex)
			p += 2;
		while (p < end && (hex ? isxdigit((unsigned char)*p) :
		    isdigit((unsigned char)*p)))
			p++;
		if (!hex && p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
			while (p < end && (isdigit((unsigned char)*p) || *p == '.' ||
			    *p == 'e' || *p == 'E' || *p == '-' || *p == '+'))
				p++;
			prev = '0';
			continue;		/* a float */
		}
		if (p < end && *p == 'L') {
			p++;
			prev = 'L';
			continue;		/* a 64-bit integer */
		}
		prev = p[-1];
		n = (size_t)(p - start);
		if (n >= sizeof(num))
			n = sizeof(num) - 1;
		memcpy(num, start, n);
		num[n] = '\0';
		errno = 0;
		v = strtoll(num, NULL, hex ? 16 : 10);
		if (errno == ERANGE || (hex ? v > 0x7fffffffLL :
		    (v > INT32_MAX || v < INT32_MIN))) {
			snprintf(lit, litlen, "%s", num);
			return line;
		}
	}
	return 0;
}

/* libconfig says "duplicate setting name" without the name: this says which. */
int
conf_scan_setting_name(const char *text, int line, char *out, size_t len)
{
	const char	*p = text, *start, *q;
	int		 n = 0, cur = 1;

	while (*p != '\0' && cur < line)
		if (*p++ == '\n')
			cur++;
	while (*p != '\0' && *p != '\n' && *p != '#') {
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '\n' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '"')
				p++;
			continue;
		}
		if (!isalpha((unsigned char)*p) && *p != '*') {
			p++;
			continue;
		}
		start = p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		    *p == '*')
			p++;
		for (q = p; *q == ' ' || *q == '\t'; q++)
			;
		if (*q == '=' || *q == ':') {
			if (++n > 1 || (size_t)(p - start) >= len)
				return -1;
			memcpy(out, start, (size_t)(p - start));
			out[p - start] = '\0';
		}
	}
	return n == 1 ? 0 : -1;
}
