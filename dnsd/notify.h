/*
 * notify.h - RFC 1996 NOTIFY to the secondaries in dns.notify after each
 * change, retried until each answers or a bounded number of tries.
 *
 * Driven by the server's control loop: it polls notifier_fd() for input and
 * calls notifier_on_timer() when notifier_timeout_ms() has passed.
 */
#ifndef REDISFO_NOTIFY_H
#define REDISFO_NOTIFY_H

#include <stdint.h>
#include <ldns/ldns.h>

struct conf_dns;
struct metrics;
struct notifier;

/*
 * NULL (and err) only on failure. With no targets (dns->n_notify == 0) it
 * returns a notifier with nothing to do: notifier_fd() is -1, notifier_start()
 * does nothing. The fd is an epoll descriptor over one socket per family.
 */
struct notifier	*notifier_create(const struct conf_dns *dns, char *err, size_t errlen);
void		 notifier_free(struct notifier *n);
int		 notifier_fd(const struct notifier *n);	/* -1 when nothing to notify */
/* A new SOA was published: notify every target (restarting retries). */
void		 notifier_start(struct notifier *n, const char *origin, const ldns_rr *soa);
void		 notifier_on_readable(struct notifier *n);
/* Milliseconds until notifier_on_timer() is due; -1 when nothing is pending. */
int		 notifier_timeout_ms(const struct notifier *n);
void		 notifier_on_timer(struct notifier *n);
/* Count each target's outcome (answered, error rcode, no answer) into m. */
void		 notifier_count_into(struct notifier *n, struct metrics *m);

#endif
