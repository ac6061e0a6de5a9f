DNSD_SRCS := dnsd/zone.c dnsd/snapshot.c dnsd/store.c dnsd/query.c dnsd/server.c dnsd/udp.c dnsd/tcp.c \
	dnsd/commands.c dnsd/rrl.c dnsd/update.c dnsd/tsig.c dnsd/xfr.c dnsd/notify.c \
	dnsd/metrics.c dnsd/stats.c dnsd/journal.c
LDLIBS += -lldns -lurcu-qsbr -lpthread -lcrypto -lmicrohttpd -lsystemd
