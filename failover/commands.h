/*
 * commands.h - the operator commands of failover/, called from the command
 * table in conf/main.c. Each takes the loaded config and the arguments after
 * the command name, and returns the process exit code (README, "Operating a switch"):
 * 0 done, 1 refused or failed with nothing changed, 2 usage or config
 * error, 3 failed part-way. check follows Nagios: 0 OK .. 3 UNKNOWN.
 */
#ifndef REDISFO_FAILOVER_COMMANDS_H
#define REDISFO_FAILOVER_COMMANDS_H

struct conf;

int	cmd_switch(const struct conf *conf, int argc, char **argv);
int	cmd_rejoin(const struct conf *conf, int argc, char **argv);
int	cmd_status(const struct conf *conf, int argc, char **argv);
int	cmd_check(const struct conf *conf, int argc, char **argv);
int	cmd_readers(const struct conf *conf, int argc, char **argv);

#endif
