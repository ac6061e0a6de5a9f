/*
 * stats.c - `redisfo-dns stats`: the server's counters as a table.
 *
 * It asks the running server's metrics endpoint (dns.metrics_listen) for
 * /metrics, the very text Prometheus scrapes, and prints each family under
 * its help line with one row per labelled value. It reads only what the
 * server publishes: no second way of counting. The HTTP it speaks is one
 * HTTP/1.0 GET with a deadline; it never follows redirects.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/util.h"
#include "dnsd/stats.h"

#define STATS_TIMEOUT_MS	3000
#define STATS_MAX		(512 * 1024)

/*
 * GET /metrics from addr into a NUL-terminated buffer of the body. Returns
 * the body (to free) or NULL with err filled.
 */
static char *
stats_fetch(const struct conf_sockaddr *addr, char *err, size_t errlen)
{
	static const char	 req[] = "GET /metrics HTTP/1.0\r\nAccept: text/plain\r\n\r\n";
	int64_t			 deadline = mono_ms() + STATS_TIMEOUT_MS;
	char			*buf = NULL, *body;
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd, soerr = 0;
	socklen_t		 sl = sizeof(soerr);

	if ((fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) == -1) {
		if (errno != EINPROGRESS || fd_wait(fd, POLLOUT, deadline) != 1)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 || soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		goto fail;
	if ((buf = malloc(STATS_MAX + 1)) == NULL)
		goto fail;
	for (;;) {
		if (fd_wait(fd, POLLIN, deadline) != 1)
			goto fail;
		if ((n = recv(fd, buf + len, STATS_MAX - len, 0)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0 || (len += (size_t)n) == STATS_MAX)
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		snprintf(err, errlen, "metrics endpoint %s: unexpected answer: %.40s",
		    addr->text, buf);
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
fail:
	snprintf(err, errlen, "metrics endpoint %s: %s", addr->text, strerror(errno));
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

/*
 * Print the exposition text as a table: each family's help line, then one
 * row per sample, named by what its name adds to the family's (a
 * histogram's _bucket, _sum, _count) and by its labels.
 */
static void
stats_print(char *text)
{
	char	 family[128] = "", what[256];
	char	*line, *save = NULL, *sp, *name, *labels;
	size_t	 flen = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0 && (sp = strchr(line + 7, ' ')) != NULL) {
			*sp = '\0';
			snprintf(family, sizeof(family), "%s", line + 7);
			flen = strlen(family);
			printf("\n%s  (%s)\n", family, sp + 1);
			continue;
		}
		if (line[0] == '#' || (sp = strrchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		name = line;
		if ((labels = strchr(name, '{')) != NULL) {
			*labels++ = '\0';
			labels[strcspn(labels, "}")] = '\0';
		}
		if (strncmp(name, family, flen) == 0)
			name += flen;
		snprintf(what, sizeof(what), "%s%s%s", name[0] == '_' ? name + 1 : name,
		    name[0] != '\0' && labels != NULL ? " " : "", labels != NULL ? labels : "");
		printf("  %-58s %15s\n", what[0] ? what : "value", sp + 1);
	}
}

int
cmd_stats(const struct conf *conf, int argc, char **argv)
{
	char	 err[512];
	char	*text;

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "redisfo-dns: usage: redisfo-dns stats\n");
		return 2;
	}
	if (conf->dns.metrics_listen.text[0] == '\0') {
		fprintf(stderr, "redisfo-dns: dns.metrics_listen is not set in %s: "
		    "the server keeps no endpoint to read\n", conf->path);
		return 1;
	}
	if ((text = stats_fetch(&conf->dns.metrics_listen, err, sizeof(err))) == NULL) {
		fprintf(stderr, "redisfo-dns: %s\n", err);
		return 1;
	}
	printf("redisfo-dns counters from %s", conf->dns.metrics_listen.text);
	stats_print(text);
	free(text);
	return 0;
}
