FAILOVER_SRCS := failover/dnsclient.c failover/node.c failover/state.c failover/switch.c failover/report.c failover/json.c failover/lock.c failover/audit.c
LDLIBS += -lhiredis -lldns
