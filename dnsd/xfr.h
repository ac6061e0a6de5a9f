/*
 * xfr.h - outgoing zone transfers (AXFR, and IXFR answered by a full
 * transfer or, when the client is current, its SOA alone), over TCP only.
 *
 * Runs in the server's control thread. Access: dns.allow_transfer
 * addresses, or a request signed with dns.update_key; others get REFUSED.
 */
#ifndef REDISFO_XFR_H
#define REDISFO_XFR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

struct conf_dns;

/* The messages of one answer, each a malloc'd DNS message (no TCP length). */
struct xfr_msgs {
	uint8_t	**msg;
	size_t	 *len;
	size_t	  n;
};

/*
 * Answer the AXFR/IXFR query wire from peer with zone (apex origin).
 * Always produces at least one message (an error reply if refused or
 * malformed) unless the query must be dropped (returns -1).
 */
int	xfr_answer(const uint8_t *wire, size_t len, const struct sockaddr *peer,
	    const ldns_zone *zone, const char *origin, const struct conf_dns *dns,
	    struct xfr_msgs *out);
void	xfr_msgs_free(struct xfr_msgs *m);

#endif
