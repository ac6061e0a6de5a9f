# tests/fuzz/fuzz.mk - coverage-guided fuzzing (libFuzzer, clang), included
# at the end of the Makefile: one target per entry point that reads
# untrusted bytes, tests/fuzz/fuzz_<target>.c, each with its seeds in
# tests/fuzz/corpus/<target>/. The sources are compiled again with coverage
# and ASan+UBSan (UBSan fatal) into $(BUILD)/fuzz/, from LIB_SRCS and
# linked with LDLIBS, so a file or library a module's fragment adds reaches
# the fuzz build by itself.
#
#   make fuzz         each target for FUZZ_SECONDS; what it finds stays in
#                     $(BUILD)/fuzz/corpus/<target>/ for the next run
#   make fuzz-check   replay every seed and fuzz each target for
#                     FUZZ_QUICK_SECONDS, on a throwaway copy: the regression test
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_QUICK_SECONDS ?= 3
FUZZ_TARGETS	:= query tsig update xfr zone dnsclient conf journal
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

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

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
