/*
 * tls.c - OpenSSL sessions to Redis nodes (Redis's tls-port).
 *
 * One SSL_CTX per service, built on first use and kept for the life of the
 * command (a switch opens several connections, and its write pause should
 * not pay for reading the CA file again). The handshake runs on the
 * caller's non-blocking socket and polls on WANT_READ/WANT_WRITE until the
 * deadline, so it costs no more than the connect timeout. Failures say
 * what failed in OpenSSL's words: the verify result for a certificate
 * ("certificate has expired", "hostname mismatch"), the error reason for
 * the rest. This file never prints and never closes the caller's socket.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "failover/tls.h"

struct tls_ctx {
	const struct conf_service	*svc;
	SSL_CTX				*ctx;
	struct tls_ctx			*next;
};

static pthread_mutex_t	 tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_ctx	*tls_ctxs;

const char *
tls_error_reason(const char *fallback)
{
	static __thread char	buf[160];
	unsigned long		e, last = 0;
	const char		*r;

	while ((e = ERR_get_error()) != 0)
		last = e;	/* the last one is the closest to the cause */
	if (last == 0)
		return fallback;
	if ((r = ERR_reason_error_string(last)) != NULL)
		return r;
	ERR_error_string_n(last, buf, sizeof(buf));
	return buf;
}

/* A file named by the config that OpenSSL will read: say why not first,
 * in the system's words, rather than in OpenSSL's. */
static int
tls_file_check(const char *what, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == -1) {
		snprintf(err, errlen, "TLS: %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

static SSL_CTX *
tls_ctx_build(const struct conf_tls *t, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "TLS: %s", tls_error_reason("cannot create a context"));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (t->ca_file[0] != '\0') {
		if (tls_file_check("ca_file", t->ca_file, err, errlen) == -1)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
			snprintf(err, errlen, "TLS: ca_file %s: %s", t->ca_file,
			    tls_error_reason("no certificate in it"));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "TLS: the system's trust store: %s",
		    tls_error_reason("cannot be read"));
		goto fail;
	}
	if (t->cert_file[0] != '\0') {
		if (tls_file_check("cert_file", t->cert_file, err, errlen) == -1 ||
		    tls_file_check("key_file", t->key_file, err, errlen) == -1)
			goto fail;
		if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
			snprintf(err, errlen, "TLS: cert_file %s: %s", t->cert_file,
			    tls_error_reason("no certificate in it"));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
			snprintf(err, errlen, "TLS: key_file %s: %s", t->key_file,
			    tls_error_reason("no key in it"));
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "TLS: key_file %s does not match cert_file %s",
			    t->key_file, t->cert_file);
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* The service's context, built once; NULL and err when its files are bad
 * (not kept: the next connection tries again and says so again). */
static SSL_CTX *
tls_ctx_get(const struct conf_service *svc, char *err, size_t errlen)
{
	struct tls_ctx		*t;
	SSL_CTX			*ctx = NULL;
	struct sigaction	 sa;

	pthread_mutex_lock(&tls_lock);
	for (t = tls_ctxs; t != NULL; t = t->next)
		if (t->svc == svc) {
			ctx = t->ctx;
			goto out;
		}
	/*
	 * OpenSSL writes with write(2): a node that closed its end must be
	 * an error to report, not a SIGPIPE that ends the command. Where
	 * nobody chose a disposition yet, ignore it (hook.c restores the
	 * default for the hooks it runs).
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	if ((ctx = tls_ctx_build(&svc->tls, err, errlen)) == NULL)
		goto out;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "TLS: out of memory");
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	t->svc = svc;
	t->ctx = ctx;
	t->next = tls_ctxs;
	tls_ctxs = t;
out:
	pthread_mutex_unlock(&tls_lock);
	return ctx;
}

/* The name or address the certificate must carry, and SNI for a name. */
static int
tls_set_peer(SSL *ssl, const char *name, int verify, char *err, size_t errlen)
{
	X509_VERIFY_PARAM	*vp = SSL_get0_param(ssl);
	struct conf_ip		 ip;
	int			 is_ip = conf_ip_parse(name, &ip) == 0;

	if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
		snprintf(err, errlen, "TLS: server name %s: %s", name,
		    tls_error_reason("cannot be sent"));
		return -1;
	}
	if (!verify)
		return 0;
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, ip.text) != 1 :
	    SSL_set1_host(ssl, name) != 1) {
		snprintf(err, errlen, "TLS: server name %s: %s", name,
		    tls_error_reason("cannot be checked"));
		return -1;
	}
	return 0;
}

SSL *
tls_connect(const struct conf_service *svc, const struct conf_node *node,
    int fd, int64_t deadline_ms, char *err, size_t errlen)
{
	const char	*name = svc->tls.server_name[0] ? svc->tls.server_name : node->host;
	SSL_CTX		*ctx;
	SSL		*ssl;
	long		 vr;
	int		 rc, e, w;

	if ((ctx = tls_ctx_get(svc, err, errlen)) == NULL)
		return NULL;
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(err, errlen, "TLS: %s", tls_error_reason("cannot create a session"));
		goto fail;
	}
	if (tls_set_peer(ssl, name, svc->tls.verify, err, errlen) == -1)
		goto fail;
	for (;;) {
		errno = 0;
		if ((rc = SSL_connect(ssl)) == 1)
			return ssl;
		e = SSL_get_error(ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = fd_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline_ms);
			if (w == 1)
				continue;
			snprintf(err, errlen, "TLS: handshake %s", w == 0 ?
			    "timed out" : strerror(errno));
			goto fail;
		}
		vr = SSL_get_verify_result(ssl);
		if (e == SSL_ERROR_SSL && vr != X509_V_OK)
			snprintf(err, errlen, "TLS: certificate verify failed: %s",
			    X509_verify_cert_error_string(vr));
		else if (e == SSL_ERROR_SSL)
			snprintf(err, errlen, "TLS: handshake: %s",
			    tls_error_reason("failed"));
		else if (e == SSL_ERROR_SYSCALL && errno != 0)
			snprintf(err, errlen, "TLS: handshake: %s", strerror(errno));
		else
			snprintf(err, errlen, "TLS: handshake: the node closed the "
			    "connection (is it a plain port?)");
		goto fail;
	}
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}
