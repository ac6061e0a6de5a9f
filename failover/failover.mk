FAILOVER_SRCS := failover/dnsclient.c failover/node.c failover/tls.c failover/state.c failover/txt.c failover/move.c \
	failover/switch.c failover/switch_print.c failover/hook.c failover/rejoin.c \
	failover/status.c failover/check.c failover/json.c failover/lock.c failover/audit.c failover/msg.c \
	failover/sentinel.c failover/sweep.c failover/lease.c failover/readers.c
LDLIBS += -lhiredis -lldns -lssl -lcrypto
