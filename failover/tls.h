/*
 * tls.h - the TLS half of a node connection: one OpenSSL context per
 * service (its CAs, client certificate and verify mode, loaded once), and
 * the handshake of a connected socket against a deadline, with the name
 * check. node.c owns the socket and the RESP framing; this file only turns
 * a connected socket into an SSL session, or says exactly why it could not.
 */
#ifndef REDISFO_FAILOVER_TLS_H
#define REDISFO_FAILOVER_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct conf_service;
struct conf_node;

/*
 * Handshake over the connected, non-blocking socket fd with node of svc,
 * by the monotonic deadline (ms). The certificate must chain to the
 * service's CAs and carry its server_name (the node's host by default; an
 * IP literal is checked as an address, a name is also sent as SNI) unless
 * verify is off. Returns the session, or NULL and err ("TLS: certificate
 * verify failed: hostname mismatch"). The socket stays the caller's.
 */
SSL	*tls_connect(const struct conf_service *svc, const struct conf_node *node,
	    int fd, int64_t deadline_ms, char *err, size_t errlen);

/* The reason of the latest OpenSSL error of this thread (and clear the
 * queue), for a failed SSL_read or SSL_write; fallback when there is none. */
const char	*tls_error_reason(const char *fallback);

#endif
