/*
 * move.c - the record's compare-and-swap UPDATE, built in one place (see
 * move.h).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "failover/move.h"

static int
move_type(const struct conf_ip *ip)
{
	return ip->family == AF_INET ? DNSCLIENT_TYPE_A : DNSCLIENT_TYPE_AAAA;
}

size_t
move_prereqs(struct dnsclient_change *ch, const char *owner, const struct conf_node *from)
{
	size_t	n = 0, i;
	int	has4 = 0, has6 = 0;

	for (i = 0; i < from->n_address; i++) {
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
		    move_type(&from->address[i]), 0, from->address[i].text };
		if (from->address[i].family == AF_INET)
			has4 = 1;
		else
			has6 = 1;
	}
	if (!has4)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_A, 0, NULL };
	if (!has6)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_AAAA, 0, NULL };
	return n;
}

int
move_build(struct move *m, const char *owner, const char *txt_owner,
    const struct conf_node *from, const struct conf_node *to, int ttl,
    const struct txt_record *rec)
{
	size_t i, n;

	memset(m, 0, sizeof(*m));
	if (txt_format(rec, m->txt, sizeof(m->txt)) == -1)
		return -1;
	n = move_prereqs(m->ch, owner, from);
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
	    DNSCLIENT_TYPE_A, 0, NULL };
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, owner,
	    DNSCLIENT_TYPE_AAAA, 0, NULL };
	for (i = 0; i < to->n_address; i++)
		m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, owner,
		    move_type(&to->address[i]), (uint32_t)ttl, to->address[i].text };
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, txt_owner,
	    DNSCLIENT_TYPE_TXT, 0, NULL };
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, txt_owner,
	    DNSCLIENT_TYPE_TXT, (uint32_t)ttl, m->txt };
	/* Clients that read SRV learn the port with the address. */
	snprintf(m->srv_owner, sizeof(m->srv_owner), "_redis._tcp.%s", owner);
	snprintf(m->srv, sizeof(m->srv), "0 0 %d %s", to->port, owner);
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_DELETE_RRSET, m->srv_owner,
	    DNSCLIENT_TYPE_SRV, 0, NULL };
	m->ch[n++] = (struct dnsclient_change){ DNSCLIENT_ADD, m->srv_owner,
	    DNSCLIENT_TYPE_SRV, (uint32_t)ttl, m->srv };
	m->n = n;
	return 0;
}

void
move_add_readers(struct move *m, const char *reader_owner, const struct readers_set *rs,
    int ttl)
{
	m->n += readers_changes(m->ch + m->n, reader_owner, rs, ttl);
}
