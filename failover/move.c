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

size_t
move_prereqs_values(struct dnsclient_change *ch, const char *owner,
    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa)
{
	size_t n = 0, i;

	for (i = 0; i < a->n; i++)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
		    DNSCLIENT_TYPE_A, 0, a->value[i] };
	for (i = 0; i < aaaa->n; i++)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_VALUE, owner,
		    DNSCLIENT_TYPE_AAAA, 0, aaaa->value[i] };
	if (a->n == 0)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_A, 0, NULL };
	if (aaaa->n == 0)
		ch[n++] = (struct dnsclient_change){ DNSCLIENT_PREREQ_ABSENT, owner,
		    DNSCLIENT_TYPE_AAAA, 0, NULL };
	return n;
}

/* After n prerequisites: owner's addresses become to's, the TXT rec's. */
static int
move_changes(struct move *m, size_t n, const char *owner, const char *txt_owner,
    const struct conf_node *to, int ttl)
{
	size_t i;

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

int
move_build(struct move *m, const char *owner, const char *txt_owner,
    const struct conf_node *from, const struct conf_node *to, int ttl,
    const struct txt_record *rec)
{
	memset(m, 0, sizeof(*m));
	if (txt_format(rec, m->txt, sizeof(m->txt)) == -1)
		return -1;
	return move_changes(m, move_prereqs(m->ch, owner, from), owner, txt_owner, to, ttl);
}

int
move_build_values(struct move *m, const char *owner, const char *txt_owner,
    const struct dnsclient_rrset *a, const struct dnsclient_rrset *aaaa,
    const struct conf_node *to, int ttl, const struct txt_record *rec)
{
	memset(m, 0, sizeof(*m));
	if (txt_format(rec, m->txt, sizeof(m->txt)) == -1)
		return -1;
	return move_changes(m, move_prereqs_values(m->ch, owner, a, aaaa), owner,
	    txt_owner, to, ttl);
}

void
move_add_readers(struct move *m, const char *reader_owner, const struct readers_set *rs,
    int ttl)
{
	m->n += readers_changes(m->ch + m->n, reader_owner, rs, ttl);
}
