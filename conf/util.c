/*
 * util.c - the monotonic clock and the socket-address formatter.
 *
 * Part of conf/, the base layer shared by dnsd/ and failover/: the one
 * home of both (see util.h). It never allocates, never fails and never
 * prints.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#include "conf/util.h"

int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(buf, len, "?");
	return buf;
}
