/*
 * txt.h - the _redisfo TXT record of a service, the switch's memory kept
 * in the zone itself: "primary=<node> epoch=<n> at=<RFC 3339> fenced=<node>".
 *
 * switch writes it (a new epoch with each move of the record), state reads
 * it, rejoin takes fenced= out of it. This module only turns the text into
 * fields and back; it never sends, prints or decides anything.
 */
#ifndef REDISFO_FAILOVER_TXT_H
#define REDISFO_FAILOVER_TXT_H

#include <stddef.h>

#include "conf/conf.h"

struct txt_record {
	char		primary[CONF_NAME_MAX];	/* the node the record names */
	long long	epoch;			/* one more with each switch; 0 = none */
	char		at[32];			/* when, RFC 3339 UTC, to the second */
	char		fenced[CONF_NAME_MAX];	/* a node to keep out until rejoin; "" */
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
 * Fill rec from value, the TXT's strings as the DNS client gives them
 * (joined by a space, unquoted). Words it does not know are skipped, and
 * so is a word too long for its field; what is missing stays "" or 0.
 */
void	txt_parse(const char *value, struct txt_record *rec);

/*
 * value quoted for an UPDATE, as it is (txt_quote) or without its fenced=
 * word, every other word kept in its order (txt_unfence). 0, or -1 when
 * out is too small.
 */
int	txt_quote(const char *value, char *out, size_t outlen);
int	txt_unfence(const char *value, char *out, size_t outlen);

#endif
