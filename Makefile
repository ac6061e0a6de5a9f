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

# Coverage-guided fuzzing (libFuzzer, clang): one target per entry point
# that reads untrusted bytes, in tests/fuzz/, each with a seed corpus in
# tests/fuzz/corpus/<target>/. The project's sources are compiled again
# with coverage and ASan+UBSan into $(BUILD)/fuzz/, UBSan made fatal.
#
#   make fuzz         each target for FUZZ_SECONDS; what it finds stays in
#                     $(BUILD)/fuzz/corpus/<target>/ for the next run
#   make fuzz-check   replay every seed and fuzz each target for
#                     FUZZ_QUICK_SECONDS, on a throwaway copy: the regression test
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_QUICK_SECONDS ?= 3
FUZZ_TARGETS	:= query tsig update xfr zone dnsclient conf
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS	:= -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LDLIBS	= $(LDLIBS)
FUZZ_OBJS	= $(LIB_SRCS:%.c=$(BUILD)/fuzz/%.o)
FUZZ_BINS	= $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
# clang warns where gcc, the project's compiler, does not: not fatal here.
FUZZ_SRC_WARN	= $(filter-out -Werror,$(WARN)) -Wno-unknown-warning-option \
	-Wno-gnu-variable-sized-type-not-at-end
FUZZ_ARGS	:= -timeout=10 -rss_limit_mb=2048
FUZZ_ENV	:= ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0
DEB_PKGS += clang libclang-rt-14-dev

.PHONY: fuzz fuzz-build fuzz-check

fuzz-build: $(FUZZ_BINS)

$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SRC_WARN) -MMD -MP -c -o $@ $<

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(WARN) -MMD -MP -o $@ $< \
		$(FUZZ_OBJS) $(FUZZ_LDLIBS)

fuzz: $(FUZZ_BINS)
	@failed=""; mkdir -p $(BUILD)/fuzz/artifacts; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
		mkdir -p $(BUILD)/fuzz/corpus/$$t; \
		$(FUZZ_ENV) $(BUILD)/fuzz/fuzz_$$t $(FUZZ_ARGS) -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- -print_final_stats=1 \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: failed:$$failed; the inputs are in $(BUILD)/fuzz/artifacts/"; exit 1; \
	fi

fuzz-check: $(FUZZ_BINS)
	@set -e; mkdir -p $(BUILD)/fuzz/artifacts; tmp=$$(mktemp -d); \
	trap 'rm -rf "$$tmp"' EXIT; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) seeds, then $(FUZZ_QUICK_SECONDS) s"; \
		mkdir -p $$tmp/$$t; \
		$(FUZZ_ENV) $(BUILD)/fuzz/fuzz_$$t $(FUZZ_ARGS) -max_total_time=$(FUZZ_QUICK_SECONDS) \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- \
			$$tmp/$$t tests/fuzz/corpus/$$t 2>$$tmp/$$t.log || \
			{ tail -n 60 $$tmp/$$t.log; echo "fuzz_$$t failed; the input is in $(BUILD)/fuzz/artifacts/"; exit 1; }; \
		grep -E '^Done|INITED' $$tmp/$$t.log | tail -n 2; \
	done
