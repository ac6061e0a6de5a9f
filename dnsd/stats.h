/*
 * stats.h - `redisfo-dns stats`: the running server's counters, read from
 * its metrics endpoint and printed as a table.
 */
#ifndef REDISFO_STATS_H
#define REDISFO_STATS_H

struct conf;

/* Exit 0 printed, 1 the endpoint is off or did not answer, 2 usage. */
int	cmd_stats(const struct conf *conf, int argc, char **argv);

#endif
