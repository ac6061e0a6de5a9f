# redisfo-dns - authoritative DNS for a Redis primary, and the failover tool.
#
#   make            build ./redisfo-dns
#   make deps       install the Debian packages the build, run and tests need
#   make run        deps + build + serve the shipped redisfo.conf and zones/
#   make demo       deps + build + three Redis nodes, the server and a writer,
#                   a switch there and back, and "acked N, lost 0"
#   make test       deps + build + every unit and behaviour test, and the
#                   bad-input stress under AddressSanitizer
#   make bench      side-by-side figures against NSD and Knot
#   make install    install the binary and the sample config

PREFIX	?= /usr/local
CFLAGS	?= -O2 -g
WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS += -I. -D_GNU_SOURCE
LDLIBS	:= -lldns -lhiredis -lconfig -lurcu-qsbr -lpthread -lcrypto
PYTHON	:= /usr/bin/python3

# Debian packages: build, run, tests and bench.
DEB_PKGS := gcc make libc6-dev libldns-dev libssl-dev ldnsutils libhiredis-dev \
	libconfig-dev liburcu-dev libcmocka-dev redis-server redis-tools \
	bind9-dnsutils knot-dnsutils dnsperf nsd knot python3 python3-dnspython \
	python3-redis python3-pytest util-linux

# The sources, module by module; each fragment lists its own files.
include conf/conf.mk
include dnsd/dnsd.mk
include failover/failover.mk
include tests/unit/unit.mk

LIB_SRCS := $(CONF_SRCS) $(DNSD_SRCS) $(FAILOVER_SRCS)
MAIN_SRC := conf/main.c

BUILD	:= build
OBJS	:= $(LIB_SRCS:%.c=$(BUILD)/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o) $(BUILD)/asan/conf/main.o
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer

.PHONY: all deps run demo test test-unit test-behaviour test-asan bench install clean

all: redisfo-dns

redisfo-dns: $(OBJS) $(BUILD)/conf/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

redisfo-dns-asan: $(ASAN_OBJS)
	$(CC) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN_FLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -o $@ $< $(OBJS) $(LDLIBS) -lcmocka

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

run: deps redisfo-dns
	./redisfo-dns -c redisfo.conf serve

# deps first, then the build (as in test: under -j the two would race)
demo: deps
	@$(MAKE) --no-print-directory redisfo-dns
	$(PYTHON) tests/demo/demo.py

test: deps
	$(MAKE) redisfo-dns redisfo-dns-asan $(UNIT_TESTS:%=$(BUILD)/tests/%)
	$(MAKE) test-unit test-behaviour

test-unit: $(UNIT_TESTS:%=$(BUILD)/tests/%)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $(BUILD)/tests/$$t; done

test-behaviour: redisfo-dns redisfo-dns-asan
	cd tests/behaviour && $(PYTHON) -m pytest -q -rs -p no:cacheprovider .

test-asan: redisfo-dns-asan
	cd tests/behaviour && $(PYTHON) -m pytest -q -rs -p no:cacheprovider test_stress.py

bench: deps redisfo-dns
	tests/bench/run

install: redisfo-dns
	install -D -m 0755 redisfo-dns $(DESTDIR)$(PREFIX)/sbin/redisfo-dns
	install -D -m 0644 redisfo.conf $(DESTDIR)$(PREFIX)/share/doc/redisfo-dns/redisfo.conf.example

clean:
	rm -rf $(BUILD) redisfo-dns redisfo-dns-asan

# Coverage-guided fuzzing: make fuzz, make fuzz-check (see the fragment).
include tests/fuzz/fuzz.mk
