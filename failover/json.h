/*
 * json.h - the one JSON string writer of failover/ (the audit log and
 * `status --json`): whatever bytes it is given, what it writes is a valid
 * JSON string.
 */
#ifndef REDISFO_FAILOVER_JSON_H
#define REDISFO_FAILOVER_JSON_H

#include <stdio.h>

/* Write s to f as a quoted JSON string: '"', '\\' and control characters
 * escaped, valid UTF-8 copied, any other byte written as \u00XX. */
void	json_str_write(FILE *f, const char *s);

#endif
