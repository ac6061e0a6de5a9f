# redisfo-dns - authoritative DNS for a Redis primary, and the failover tool.
#
#   make            build ./redisfo-dns
#   make deps       install the Debian packages the build, run and tests need
#   make run        deps + build + serve the shipped redisfo.conf and zones/
#   make demo       deps + build + three Redis nodes, the server and a writer,
#                   a switch there and back, and "acked N, lost 0"
#   make test       deps + build + every unit and behaviour test, the
#                   bad-input stress under AddressSanitizer, and a few
#                   seconds of each fuzz target after replaying its corpus
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      side-by-side figures against NSD and Knot
#   make install    the binary, config, zone, man pages, systemd unit and
#                   user (PREFIX, SYSCONFDIR, LOCALSTATEDIR, DESTDIR; see the end)

PREFIX	?= /usr/local
CFLAGS	?= -O2 -g
WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS += -I. -D_GNU_SOURCE
PYTHON	:= /usr/bin/python3

# Debian packages: build, run, tests and bench.
DEB_PKGS := gcc make libc6-dev libldns-dev libssl-dev ldnsutils libhiredis-dev \
	libconfig-dev liburcu-dev libcmocka-dev redis-server redis-tools redis-sentinel \
	bind9-dnsutils knot-dnsutils dnsperf nsd knot python3 python3-dnspython \
	python3-redis python3-pytest util-linux mount openssl libmicrohttpd-dev libsystemd-dev prometheus mandoc systemd pkg-config
# BIND and PowerDNS: the behaviour tests run them as secondary and as external primary
DEB_PKGS += bind9 pdns-server pdns-backend-sqlite3 sqlite3
# unbound: a caching resolver in front of the server (negative TTL, the sweep, README)
DEB_PKGS += unbound

# Module by module: each fragment lists its own sources and adds the
# libraries they call to LDLIBS (the unit tests' fragment to UNIT_LDLIBS).
include conf/conf.mk
include dnsd/dnsd.mk
include failover/failover.mk
include tests/unit/unit.mk

LIB_SRCS := $(CONF_SRCS) $(DNSD_SRCS) $(FAILOVER_SRCS)
MAIN_SRC := conf/main.c

BUILD	:= build
OBJS	:= $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o) $(MAIN_SRC:%.c=$(BUILD)/asan/%.o)
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)

.PHONY: all deps run demo test test-unit test-behaviour test-asan bench install clean

all: redisfo-dns

redisfo-dns: $(OBJS) $(MAIN_OBJ)
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
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -o $@ $< $(OBJS) $(LDLIBS) $(UNIT_LDLIBS)

# The header dependencies -MMD wrote beside each object and test binary.
-include $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(ASAN_OBJS:.o=.d) $(UNIT_BINS:=.d)

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
	$(MAKE) redisfo-dns redisfo-dns-asan $(UNIT_BINS)
	$(MAKE) test-unit test-behaviour fuzz-check

test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $(BUILD)/tests/$$t; done

test-behaviour: redisfo-dns redisfo-dns-asan
	cd tests/behaviour && $(PYTHON) -m pytest -q -rs -p no:cacheprovider .

test-asan: redisfo-dns-asan
	cd tests/behaviour && $(PYTHON) -m pytest -q -rs -p no:cacheprovider test_stress.py

bench: deps redisfo-dns
	tests/bench/run

# The config and the zone are the operator's: never overwritten. Without
# DESTDIR, as root, the redisfo user is created and given the state folder
# and read access to a config made here; a package does that on its own.
install: redisfo-dns
	install -D -m 0755 redisfo-dns $(DESTDIR)$(SBINDIR)/redisfo-dns
	install -D -m 0644 conf/redisfo-dns.8 $(DESTDIR)$(MANDIR)/man8/redisfo-dns.8
	install -D -m 0644 conf/redisfo.conf.5 $(DESTDIR)$(MANDIR)/man5/redisfo.conf.5
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CONFDIR)
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	$(UNIT_SED) conf/redisfo-dns.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/redisfo-dns.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/redisfo-dns.service
	$(UNIT_SED) conf/redisfo-dns.sysusers.in > $(DESTDIR)$(SYSUSERSDIR)/redisfo-dns.conf
	chmod 0644 $(DESTDIR)$(SYSUSERSDIR)/redisfo-dns.conf
	@set -e; conf=$(DESTDIR)$(CONFDIR)/redisfo.conf; \
	zone=$(DESTDIR)$(STATEDIR)/$(notdir $(SAMPLE_ZONE)); new_conf=; new_zone=; \
	if [ -e "$$conf" ]; then echo "keeping $$conf: it exists"; else \
		(umask 077; $(CONF_SED) redisfo.conf > "$$conf.new"); \
		if [ "$$(grep -cF '= "$(STATEDIR)/' "$$conf.new")" != 3 ]; then \
			rm -f "$$conf.new"; \
			echo "redisfo.conf: cannot point zone_file, lock_file and audit_log at $(STATEDIR):" \
			    "each must be set on a line of its own"; \
			exit 1; \
		fi; \
		chmod 0640 "$$conf.new"; mv "$$conf.new" "$$conf"; new_conf=1; \
		echo "installed $$conf"; \
	fi; \
	if [ -e "$$zone" ]; then echo "keeping $$zone: it is the state"; else \
		install -m 0644 $(SAMPLE_ZONE) "$$zone"; new_zone=1; \
		echo "installed $$zone"; \
	fi; \
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/redisfo-dns.conf; \
		chown redisfo:redisfo $(STATEDIR); \
		if [ -n "$$new_zone" ]; then chown redisfo:redisfo "$$zone"; fi; \
		if [ -n "$$new_conf" ]; then chgrp redisfo "$$conf"; fi; \
		echo "then: systemctl daemon-reload && systemctl enable --now redisfo-dns"; \
	fi

clean:
	rm -rf $(BUILD) redisfo-dns redisfo-dns-asan

# ---- install layout (DESIGN.md section 9); each may be set on the command line

SYSCONFDIR	?= /etc
LOCALSTATEDIR	?= /var/lib
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
ifndef SYSTEMDUNITDIR
SYSTEMDUNITDIR	:= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
endif
SYSUSERSDIR	?= /usr/lib/sysusers.d
CONFDIR		:= $(SYSCONFDIR)/redisfo-dns
STATEDIR	:= $(LOCALSTATEDIR)/redisfo-dns
SAMPLE_ZONE	:= zones/svc.test.zone

# The binary looks for $(CONFDIR)/redisfo.conf last (conf/main.c), so it is
# built with the SYSCONFDIR it is installed with. The stamp holds the value
# the objects were built with; it changes, and main.c is rebuilt, only when
# SYSCONFDIR does.
SYSCONF_STAMP	:= $(BUILD)/sysconfdir.stamp
$(BUILD)/conf/main.o $(BUILD)/asan/conf/main.o: CPPFLAGS += -DREDISFO_SYSCONFDIR='"$(SYSCONFDIR)"'
$(BUILD)/conf/main.o $(BUILD)/asan/conf/main.o: $(SYSCONF_STAMP)
$(SYSCONF_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(SYSCONFDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR)' > $@

# The unit and the sysusers entry, with the paths they run with.
UNIT_SED = sed -e 's|@sbindir@|$(SBINDIR)|g' -e 's|@conffile@|$(CONFDIR)/redisfo.conf|g' \
	-e 's|@statedir@|$(STATEDIR)|g'
# StateDirectory= can only name a folder under /var/lib; install makes
# any other one, and ReadWritePaths= opens it.
ifneq ($(STATEDIR),/var/lib/redisfo-dns)
UNIT_SED += -e '/^StateDirectory/d'
endif

# The installed config is the shipped one with its files in the state
# folder: the zone (the state), the switch lock and the audit log.
CONF_SED = sed -e 's|^\([[:space:]]*zone_file[[:space:]]*=[[:space:]]*\)"[^"]*"|\1"$(STATEDIR)/$(notdir $(SAMPLE_ZONE))"|' \
	-e 's|^\([[:space:]]*lock_file[[:space:]]*=[[:space:]]*\)"\([^"]*/\)*\([^"/]*\)"|\1"$(STATEDIR)/\3"|' \
	-e 's|^\([[:space:]]*audit_log[[:space:]]*=[[:space:]]*\)"\([^"]*/\)*\([^"/]*\)"|\1"$(STATEDIR)/\3"|'

.PHONY: uninstall man-lint FORCE

FORCE:

# What install added; the config and the state folder stay.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/redisfo-dns \
		$(DESTDIR)$(MANDIR)/man8/redisfo-dns.8 \
		$(DESTDIR)$(MANDIR)/man5/redisfo.conf.5 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/redisfo-dns.service \
		$(DESTDIR)$(SYSUSERSDIR)/redisfo-dns.conf
	@echo "kept $(DESTDIR)$(CONFDIR) and $(DESTDIR)$(STATEDIR): the config and the zone"

# The man pages, as mandoc sees them: no output is a clean page. Run
# beside each other, so that each finds the other one it names.
man-lint:
	cd conf && mandoc -T lint redisfo-dns.8 redisfo.conf.5
# Coverage-guided fuzzing: make fuzz, make fuzz-check (see the fragment).
include tests/fuzz/fuzz.mk
