/* tsig.c - stub, being written. */
#include "dnsd/tsig.h"
int tsig_verify_request(const uint8_t *wire, size_t len, const struct conf_tsig_key *key, struct tsig_state *st) { (void)wire; (void)len; (void)key; st->present = 0; return TSIG_NONE; }
ssize_t tsig_sign_reply(uint8_t *reply, size_t len, size_t max, const struct conf_tsig_key *key, struct tsig_state *st, int first) { (void)reply; (void)max; (void)key; (void)st; (void)first; return (ssize_t)len; }
