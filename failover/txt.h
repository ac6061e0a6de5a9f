/*
 * txt.h - the _redisfo TXT record of a service, the switch's memory kept
 * in the zone itself: "primary=<node> epoch=<n> at=<RFC 3339> fenced=<node>".
 *
 * switch writes it (a new epoch with each move of the record), state reads
 * it, rejoin takes fenced= out of it. Any RFC 2136 tool may have written
 * it, as one string or as several ("primary=r1 epoch=12" "fenced=r3"):
 * every function here takes the TXT's rdata in presentation form, the
 * strings quoted and escaped as the DNS client gives them, and a string
 * boundary separates words like a space. This module only turns that text
 * into fields and back; it never sends, prints or decides anything.
 */
#ifndef REDISFO_FAILOVER_TXT_H
#define REDISFO_FAILOVER_TXT_H

#include <stddef.h>

#include "conf/conf.h"

#define TXT_TEXT_MAX	512

struct txt_record {
	char		primary[CONF_NAME_MAX];	/* the node the record names */
	long long	epoch;			/* one more with each switch; 0 = none */
	char		at[32];			/* when, RFC 3339 UTC, to the second */
	char		fenced[CONF_NAME_MAX];	/* a node to keep out until rejoin; "" */
	char		text[TXT_TEXT_MAX];	/* the strings unescaped, joined by a
						   space, for people (cut to fit) */
};

/* Set rec->at to the time now. */
void	txt_stamp(struct txt_record *rec);

/*
 * rec as the quoted presentation form an UPDATE carries
 * ("\"primary=r2 epoch=2 at=... fenced=r1\""; fenced= only when set).
 * 0, or -1 when out is too small: a record cut short is never sent.
 */
int	txt_format(const struct txt_record *rec, char *out, size_t outlen);

/*
 * Fill rec from rdata, one TXT RR in presentation form ("\"a b\" \"c\"";
 * a bare word counts as a string too). Words it does not know are
 * skipped, and so is a word too long for its field; what is missing stays
 * "" or 0.
 */
void	txt_parse(const char *rdata, struct txt_record *rec);

/*
 * rdata (presentation form) without its fenced= word: every other word
 * and every string boundary kept, a string left empty dropped (one empty
 * string when nothing is left), every other string kept as written.
 * 0, or -1 when out is too small.
 */
int	txt_unfence(const char *rdata, char *out, size_t outlen);

#endif
