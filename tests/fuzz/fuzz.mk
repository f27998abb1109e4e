# tests/fuzz/fuzz.mk - included by tests/tests.mk: the fuzz targets, built with libFuzzer for
# `make fuzz` and with the replay main (plain and ASan+UBSan, gcc) for `make check`.
# A new target is tests/fuzz/NAME.c (defining LLVMFuzzerTestOneInput) plus one line here:

FUZZ_TARGETS := fuzz_frame
FUZZ_TARGETS += fuzz_schemac
FUZZ_TARGETS += fuzz_types
FUZZ_TARGETS += fuzz_yaml
FUZZ_TARGETS += fuzz_vmconfig
FUZZ_TARGETS += fuzz_spawnspec
FUZZ_TARGETS += fuzz_sidecar
FUZZ_TARGETS += fuzz_cbproto
FUZZ_TARGETS += fuzz_jbjson
FUZZ_TARGETS += fuzz_toolinput
# (every FUZZ_TARGETS line must come before the rules below)

FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_FLAGS ?=
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -Icompiler -I$(O)/compiler -Igenerated -I$(O)/tests/gen $(YAML_CFLAGS)
FUZZ_DIR := $(O)/fuzz
FUZZ_OBJ := $(FUZZ_DIR)/obj
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/%)
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(O)/tests/fuzz/%)
FUZZ_REPLAY_SAN := $(FUZZ_TARGETS:%=$(O)/san/tests/fuzz/%)

.PHONY: check-fuzz fuzz fuzz-build fuzz-seed

# ---- replay builds: the usual test objects, rules and libraries, plus replay.c

$(FUZZ_TARGETS:%=$(O)/tests/fuzz/%.o) $(FUZZ_TARGETS:%=$(O)/san/tests/fuzz/%.o) \
    $(O)/tests/fuzz/seed_gen.o: $(O)/tests/gen/recursive.h
$(FUZZ_REPLAY): $(O)/tests/fuzz/replay.o $(O)/tests/value_gen.o $(O)/tests/gen/recursive.o
$(FUZZ_REPLAY_SAN): $(O)/san/tests/fuzz/replay.o $(O)/san/tests/value_gen.o \
    $(O)/san/tests/gen/recursive.o

# Targets of sidecar code get its flags, their own sidecar objects and its libraries:
# fuzz_vmconfig the CreateVm config parser, fuzz_spawnspec the spawn spec, fuzz_sidecar all of
# $(SIDECAR_SRC) (the whole sidecar but main.c), fuzz_cbproto the callback socket's request
# reader, fuzz_jbjson the js_bridge result readers, fuzz_toolinput the host callback argument
# resolution (toolinput.c needs the VM's toolkits and policy: all of $(SIDECAR_SRC) again).
# seed_gen writes spawn specs.
FUZZ_SIDECAR_CPPFLAGS := -D_GNU_SOURCE $(SIDECAR_INC) -Isidecar/client -Igenerated \
                         $(shell $(PKG_CONFIG) --cflags $(SIDECAR_PKGS))
FUZZ_SIDECAR_TARGETS := fuzz_vmconfig fuzz_spawnspec fuzz_sidecar fuzz_cbproto fuzz_jbjson \
                        fuzz_toolinput
$(FUZZ_SIDECAR_TARGETS:%=$(O)/tests/fuzz/%.o) $(FUZZ_SIDECAR_TARGETS:%=$(O)/san/tests/fuzz/%.o) \
    $(O)/tests/fuzz/seed_gen.o: XCPPFLAGS = $(TEST_CPPFLAGS) $(FUZZ_SIDECAR_CPPFLAGS)
$(O)/tests/fuzz/fuzz_vmconfig: $(O)/sidecar/server/vmconfig.o $(O)/sidecar/vmfs/base64.o
$(O)/san/tests/fuzz/fuzz_vmconfig: $(O)/san/sidecar/server/vmconfig.o $(O)/san/sidecar/vmfs/base64.o
$(O)/tests/fuzz/fuzz_spawnspec $(O)/tests/fuzz/seed_gen: $(O)/sidecar/proc/spawnspec.o
$(O)/san/tests/fuzz/fuzz_spawnspec: $(O)/san/sidecar/proc/spawnspec.o
$(O)/tests/fuzz/fuzz_sidecar $(O)/tests/fuzz/fuzz_toolinput: $(SIDECAR_OBJ)
$(O)/san/tests/fuzz/fuzz_sidecar $(O)/san/tests/fuzz/fuzz_toolinput: $(SIDECAR_SAN_OBJ)
$(O)/tests/fuzz/fuzz_cbproto: $(O)/sidecar/host/cbrequest.o
$(O)/san/tests/fuzz/fuzz_cbproto: $(O)/san/sidecar/host/cbrequest.o
$(O)/tests/fuzz/fuzz_jbjson: $(O)/sidecar/host/jbjson.o $(O)/sidecar/vmfs/base64.o
$(O)/san/tests/fuzz/fuzz_jbjson: $(O)/san/sidecar/host/jbjson.o $(O)/san/sidecar/vmfs/base64.o
$(FUZZ_DIR)/bin/fuzz_vmconfig: $(FUZZ_OBJ)/sidecar/server/vmconfig.o $(FUZZ_OBJ)/sidecar/vmfs/base64.o
$(FUZZ_DIR)/bin/fuzz_spawnspec: $(FUZZ_OBJ)/sidecar/proc/spawnspec.o
$(FUZZ_DIR)/bin/fuzz_sidecar $(FUZZ_DIR)/bin/fuzz_toolinput: $(SIDECAR_SRC:%.c=$(FUZZ_OBJ)/%.o)
$(FUZZ_DIR)/bin/fuzz_cbproto: $(FUZZ_OBJ)/sidecar/host/cbrequest.o
$(FUZZ_DIR)/bin/fuzz_jbjson: $(FUZZ_OBJ)/sidecar/host/jbjson.o $(FUZZ_OBJ)/sidecar/vmfs/base64.o
$(O)/tests/fuzz/fuzz_vmconfig $(O)/san/tests/fuzz/fuzz_vmconfig $(FUZZ_DIR)/bin/fuzz_vmconfig \
$(O)/tests/fuzz/fuzz_jbjson $(O)/san/tests/fuzz/fuzz_jbjson $(FUZZ_DIR)/bin/fuzz_jbjson: \
    TEST_EXTRA_LIBS += $(shell $(PKG_CONFIG) --libs jansson)
$(O)/tests/fuzz/fuzz_sidecar $(O)/san/tests/fuzz/fuzz_sidecar $(FUZZ_DIR)/bin/fuzz_sidecar \
$(O)/tests/fuzz/fuzz_toolinput $(O)/san/tests/fuzz/fuzz_toolinput $(FUZZ_DIR)/bin/fuzz_toolinput: \
    TEST_EXTRA_LIBS += $(SIDECAR_LIBS)
$(FUZZ_SIDECAR_TARGETS:%=$(FUZZ_OBJ)/tests/fuzz/%.o): XCPPFLAGS = $(FUZZ_SIDECAR_CPPFLAGS)
$(FUZZ_OBJ)/sidecar/%.o: XCPPFLAGS = $(FUZZ_SIDECAR_CPPFLAGS)

# Every corpus and regression input, through both builds.
check-fuzz: $(FUZZ_REPLAY) $(FUZZ_REPLAY_SAN)
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    in=tests/fuzz/corpus/$$t; [ -d tests/fuzz/regress/$$t ] && in="$$in tests/fuzz/regress/$$t"; \
	    $(O)/tests/fuzz/$$t $$in; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	        $(O)/san/tests/fuzz/$$t $$in; \
	done

# ---- libFuzzer builds: everything again with clang and the fuzzer's coverage instrumentation

FUZZ_DEP_SRC := $(RUNTIME_SRC) $(RUNTIME_YAML_SRC) $(COMPILER_SRC) $(WIRE_C) tests/value_gen.c
FUZZ_DEP_OBJ := $(FUZZ_DEP_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/compiler/parser.o \
                $(FUZZ_OBJ)/compiler/lexer.o $(FUZZ_OBJ)/tests/gen/recursive.o

$(FUZZ_OBJ)/%.o: %.c | $(O)/compiler/parser.h $(O)/compiler/lexer.h $(O)/tests/gen/recursive.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC FUZZ $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CPPFLAGS) $(XCPPFLAGS) $(CFLAGS_ALL) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_OBJ)/compiler/parser.o $(FUZZ_OBJ)/compiler/lexer.o: $(FUZZ_OBJ)/%.o: $(O)/%.c \
        | $(O)/compiler/parser.h $(O)/compiler/lexer.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC FUZZ $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CPPFLAGS) $(CFLAGS_ALL) $(GEN_RELAX) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_OBJ)/tests/gen/recursive.o: $(O)/tests/gen/recursive.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC FUZZ $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CPPFLAGS) $(CFLAGS_ALL) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/bin/%: $(FUZZ_OBJ)/tests/fuzz/%.o $(FUZZ_DEP_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD FUZZ $@")
	$(Q)$(FUZZ_CC) $(OPT) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(TEST_EXTRA_LIBS) $(YAML_LIBS)

fuzz-build: $(FUZZ_BIN)

# Each target for FUZZ_SECONDS on a scratch copy of its corpus (plus its regressions), then the
# inputs that found new coverage are merged back into tests/fuzz/corpus/TARGET. Crashes land in
# $(FUZZ_DIR)/crashes/TARGET/; the output in $(FUZZ_DIR)/TARGET.log. libFuzzer runs in
# $(FUZZ_DIR), where -jobs=N (in FUZZ_FLAGS) leaves its fuzz-N.log files.
fuzz: $(FUZZ_BIN)
	$(Q)failed=; for t in $(FUZZ_TARGETS); do \
	    corpus=$(CURDIR)/tests/fuzz/corpus/$$t; work=$(abspath $(FUZZ_DIR))/work/$$t; \
	    crashes=$(abspath $(FUZZ_DIR))/crashes/$$t; log=$(abspath $(FUZZ_DIR))/$$t.log; \
	    bin=$(abspath $(FUZZ_DIR))/bin/$$t; \
	    rm -rf $$work; mkdir -p $$work $$crashes $$corpus; \
	    cp $$corpus/* $$work/ 2>/dev/null; \
	    extra=; [ -d tests/fuzz/regress/$$t ] && extra=$(CURDIR)/tests/fuzz/regress/$$t; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=$(CURDIR)/tests/fuzz/$$t.dict; \
	    before=$$(ls $$corpus | wc -l); \
	    echo "  FUZZ    $$t for $(FUZZ_SECONDS) s (log in $(FUZZ_DIR)/$$t.log)"; \
	    if ! (cd $(FUZZ_DIR) && $$bin -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	        -artifact_prefix=$$crashes/ -print_final_stats=1 $$dict $(FUZZ_FLAGS) \
	        $$work $$extra) >$$log 2>&1; then \
	        failed="$$failed $$t"; grep -E -A12 '^==[0-9]+==ERROR|fuzz check failed|SUMMARY' $$log; \
	    fi; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $$log \
	        | sed 's/^/          /'; \
	    grep -E '(INITED|DONE) +cov:' $$log | sed 's/^/          /'; \
	    (cd $(FUZZ_DIR) && $$bin -merge=1 $$dict $$corpus $$work) >>$$log 2>&1 \
	        || failed="$$failed $$t(merge)"; \
	    added=$$(( $$(ls $$corpus | wc -l) - before )); \
	    echo "  MERGE   $$added new inputs into tests/fuzz/corpus/$$t"; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzzing failed:$$failed - inputs in $(FUZZ_DIR)/crashes/; once fixed, add each to" \
	         "tests/fuzz/regress/TARGET/"; exit 1; fi

# ---- seeds: rewrites the generated seed-* and edge-* files of the committed corpora

$(O)/tests/fuzz/seed_gen: $(O)/tests/value_gen.o $(O)/tests/gen/recursive.o
fuzz-seed: $(O)/tests/fuzz/seed_gen
	$(Q)rm -f tests/fuzz/corpus/fuzz_frame/seed-* tests/fuzz/corpus/fuzz_frame/edge-* \
	    tests/fuzz/corpus/fuzz_types/seed-* tests/fuzz/corpus/fuzz_types/edge-* \
	    tests/fuzz/corpus/fuzz_schemac/seed-* \
	    $(foreach t,fuzz_yaml fuzz_vmconfig fuzz_spawnspec fuzz_sidecar fuzz_cbproto \
	        fuzz_jbjson fuzz_toolinput, \
	        tests/fuzz/corpus/$t/seed-* tests/fuzz/corpus/$t/edge-*)
	$(Q)mkdir -p tests/fuzz/corpus && $(O)/tests/fuzz/seed_gen tests/fuzz/corpus
	$(Q)mkdir -p tests/fuzz/corpus/fuzz_schemac && set -e && \
	    for f in tests/golden/*/*/schema.bare; do \
	        c=$${f#tests/golden/}; c=$${c%/schema.bare}; \
	        cp $$f tests/fuzz/corpus/fuzz_schemac/seed-golden-$$(echo $$c | tr / -).bare; \
	    done; \
	    for f in tests/schemas/*.bare; do \
	        cp $$f tests/fuzz/corpus/fuzz_schemac/seed-schemas-$$(basename $$f); done; \
	    cp $(SCHEMA) tests/fuzz/corpus/fuzz_schemac/seed-protocol.bare
	@echo "  SEED    tests/fuzz/corpus/fuzz_schemac: the golden, test and protocol schemas"
