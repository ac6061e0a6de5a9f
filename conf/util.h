/*
 * util.h - the base layer's small shared helpers: one monotonic clock and
 * one socket-address formatter.
 *
 * conf/ is the base layer shared by dnsd/ and failover/ (the config, the
 * command line, log, clock and address text).
 *
 * Every module that times something or prints a peer uses these, so a
 * duration means the same thing in the server's log, the switch's timeline
 * and the client's deadlines. They never allocate and never fail.
 */
#ifndef REDISFO_UTIL_H
#define REDISFO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Monotonic time since an arbitrary start, in milliseconds or microseconds. */
int64_t		 mono_ms(void);
int64_t		 mono_us(void);

/* Longest text addr_text writes: "[v6 address]:65535" and its NUL. */
#define ADDR_TEXT_MAX	64

/*
 * "192.0.2.1:53" or "[2001:db8::1]:53" into buf; returns buf. An address of
 * another family prints as "?".
 */
const char	*addr_text(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
