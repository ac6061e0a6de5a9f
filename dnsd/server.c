/* server.c - stub, being written. */
#include "dnsd/server.h"
int cmd_serve(const struct conf *conf, const char *conf_path, int argc, char **argv) { (void)conf; (void)conf_path; (void)argc; (void)argv; return 1; }
int cmd_checkconf(const struct conf *conf, int argc, char **argv) { (void)conf; (void)argc; (void)argv; return 2; }
