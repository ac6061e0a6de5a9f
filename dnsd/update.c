/* update.c - stub, being written. */
#include "dnsd/update.h"
struct update_ctx *update_begin(const uint8_t *wire, size_t len, const struct conf_tsig_key *key, char *err, size_t errlen) { (void)wire; (void)len; (void)key; (void)err; (void)errlen; return NULL; }
int update_run(struct update_ctx *u, const ldns_zone *zone, const char *origin, ldns_zone **new_zone) { (void)u; (void)zone; (void)origin; *new_zone = NULL; return 4; }
int update_reply(struct update_ctx *u, int rcode, uint8_t **wire, size_t *len) { (void)u; (void)rcode; (void)wire; (void)len; return -1; }
void update_end(struct update_ctx *u) { (void)u; }
