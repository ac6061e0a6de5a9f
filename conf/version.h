/*
 * version.h - the one version string, for --version, status --json and the
 * server's build_info metric.
 */
#ifndef REDISFO_VERSION_H
#define REDISFO_VERSION_H

#define REDISFO_VERSION	"0.1.0"

#endif
