/* switch.c - stub, being written. */
#include "failover/commands.h"
int cmd_switch(const struct conf *conf, int argc, char **argv) { (void)conf; (void)argc; (void)argv; return 2; }
int cmd_rejoin(const struct conf *conf, int argc, char **argv) { (void)conf; (void)argc; (void)argv; return 2; }
int cmd_status(const struct conf *conf, int argc, char **argv) { (void)conf; (void)argc; (void)argv; return 2; }
int cmd_check(const struct conf *conf, int argc, char **argv) { (void)conf; (void)argc; (void)argv; return 3; }
