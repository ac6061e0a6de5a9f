/*
 * server.h - `redisfo-dns serve` and `checkconf`'s zone check.
 */
#ifndef REDISFO_SERVER_H
#define REDISFO_SERVER_H

struct conf;

int	cmd_serve(const struct conf *conf, const char *conf_path, int argc, char **argv);
int	cmd_checkconf(const struct conf *conf, int argc, char **argv);

#endif
