/* notify.c - stub, being written. */
#include <stddef.h>
#include "dnsd/notify.h"
struct notifier *notifier_create(const struct conf_dns *dns, char *err, size_t errlen) { (void)dns; (void)err; (void)errlen; return NULL; }
void notifier_free(struct notifier *n) { (void)n; }
int notifier_fd(const struct notifier *n) { (void)n; return -1; }
void notifier_start(struct notifier *n, const char *origin, uint32_t serial) { (void)n; (void)origin; (void)serial; }
void notifier_on_readable(struct notifier *n) { (void)n; }
int notifier_timeout_ms(const struct notifier *n) { (void)n; return -1; }
void notifier_on_timer(struct notifier *n) { (void)n; }
