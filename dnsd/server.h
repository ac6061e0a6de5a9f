/*
 * server.h - the commands of dnsd, for conf/main.c's command table:
 * `redisfo-dns serve` and `checkconf` (both in commands.c).
 *
 * The server's own parts (server.c, udp.c, tcp.c) share server_int.h,
 * which nothing outside dnsd/ includes.
 */
#ifndef REDISFO_SERVER_H
#define REDISFO_SERVER_H

struct conf;

/* Exit codes as the CLI contract says: 0 done, 1 failed, 2 usage or config. */
int	cmd_serve(const struct conf *conf, int argc, char **argv);
int	cmd_checkconf(const struct conf *conf, int argc, char **argv);

#endif
