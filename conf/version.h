/*
 * version.h - the release of redisfo-dns, in one place: `--version`,
 * `check -V`, status --json and anything else that names it read it here.
 */
#ifndef REDISFO_VERSION_H
#define REDISFO_VERSION_H

#define REDISFO_VERSION	"0.1.0"

#endif
