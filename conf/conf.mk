CONF_SRCS := conf/conf.c conf/log.c
