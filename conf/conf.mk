CONF_SRCS := conf/conf.c conf/scan.c conf/log.c conf/util.c
LDLIBS += -lconfig
