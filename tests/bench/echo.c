/*
 * echo.c - the loopback floor for `make bench`: a UDP reflector, not a server.
 *
 * It receives datagrams in batches (recvmmsg) on 127.0.0.1:PORT, sets QR and
 * clears the rcode in each, and sends them straight back (sendmmsg), with
 * no DNS work at all. bench.py measures its CPU per query exactly as it
 * measures the DNS servers', so the difference between a server's figure
 * and this one is what the server itself spends. It is built by bench.py
 * into its temporary folder and is never part of the product; it must never
 * listen anywhere but the loopback address it is given.
 *
 * Usage: echo PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ECHO_BATCH	32
#define ECHO_BUFSZ	1500

int
main(int argc, char **argv)
{
	static unsigned char	buf[ECHO_BATCH][ECHO_BUFSZ];
	struct sockaddr_in	from[ECHO_BATCH];
	struct iovec		iov[ECHO_BATCH];
	struct mmsghdr		msgs[ECHO_BATCH];
	struct sockaddr_in	addr;
	int			fd, n, i, port;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: echo PORT\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("echo: bind");
		return 1;
	}
	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < ECHO_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = ECHO_BUFSZ;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, ECHO_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (msgs[i].msg_len >= 4) {
				buf[i][2] |= 0x80;
				buf[i][3] &= 0xf0;
			}
			iov[i].iov_len = msgs[i].msg_len;
		}
		(void)sendmmsg(fd, msgs, (unsigned int)n, 0);
	}
}
