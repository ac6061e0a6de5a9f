/* conf.c - stub, being written. */
#include <string.h>
#include <stdio.h>
#include "conf/conf.h"
int conf_load(const char *path, struct conf *conf, char *err, size_t errlen) { memset(conf, 0, sizeof(*conf)); snprintf(err, errlen, "%s: not implemented", path); return -1; }
void conf_free(struct conf *conf) { (void)conf; }
const struct conf_service *conf_service_find(const struct conf *conf, const char *name) { (void)conf; (void)name; return NULL; }
const struct conf_node *conf_node_find(const struct conf_service *svc, const char *name) { (void)svc; (void)name; return NULL; }
int conf_sockaddr_parse(const char *text, int default_port, struct conf_sockaddr *out) { (void)text; (void)default_port; (void)out; return -1; }
int conf_ip_parse(const char *text, struct conf_ip *out) { (void)text; (void)out; return -1; }
