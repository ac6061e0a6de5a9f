CONF_SRCS := conf/conf.c conf/log.c conf/util.c
LDLIBS += -lconfig
