/*
 * scan.h - what libconfig does not report, found in the config's text.
 *
 * Private to conf/: only conf.c calls these, on the text it gave libconfig,
 * to name the line and the setting in its messages. conf/ is the base
 * layer shared by dnsd/ and failover/; nothing outside it includes this.
 */
#ifndef REDISFO_CONF_SCAN_H
#define REDISFO_CONF_SCAN_H

#include <stddef.h>

/*
 * The line of the first plain integer literal in text[0..len) that does
 * not fit 32 bits (libconfig 1.5 silently wraps one), with the literal in
 * lit; 0 when there is none. 64-bit literals (with L) and floats pass.
 */
int	conf_scan_int_overflow(const char *text, size_t len, char *lit,
	    size_t litlen);

/*
 * The setting name on line ("name =" or "name :") of the NUL-terminated
 * text, into out, when the line holds exactly one; -1 otherwise (none,
 * several, or too long for out).
 */
int	conf_scan_setting_name(const char *text, int line, char *out, size_t len);

#endif
