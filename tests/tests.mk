# tests/tests.mk - included by the top-level Makefile: Check suites (plain and sanitized),
# golden files, the freshness of generated/, and strict compilation of generated code.

TESTS := check_golden check_runtime
TESTS += check_generated
TESTS += check_cli
TESTS += check_vmconfig
TESTS += check_sidecar
TESTS += check_vmfs
TESTS += check_yaml check_compat check_yaml_cli
TESTS += check_fsops
TESTS += check_fastpath
TESTS += check_procinfo
TESTS += check_sandbox
TESTS += check_exec
TESTS += check_spawnspec
TESTS += check_secure_exec
TESTS += check_escape
TESTS += check_fetch
TESTS += check_callbacks
TESTS += check_mounts
TESTS += check_jsbridge
# (every TESTS line must come before the rules below that list the test programs)
TEST_BIN = $(TESTS:%=$(O)/tests/%)
TEST_SAN_BIN = $(TESTS:%=$(O)/san/tests/%)

TEST_CPPFLAGS = -Icompiler -I$(O)/compiler -Igenerated -I$(O)/tests/gen $(CHECK_CFLAGS) \
                -DSOURCE_DIR=\"$(CURDIR)\"
$(O)/tests/%.o $(O)/san/tests/%.o: XCPPFLAGS = $(TEST_CPPFLAGS)
$(O)/tests/%.o $(O)/san/tests/%.o: XCFLAGS = -Wno-missing-prototypes

# Test programs link the compiler library, the wire layer and the runtime (libbare-yaml
# before libbare, which it uses; libbare goes last on the link line).
TEST_LIBS := $(LIBSCHEMAC) $(WIRE_OBJ) $(LIBBARE_YAML_A) $(LIBBARE_A)
TEST_SAN_LIBS := $(O)/san/libschemac.a $(O)/san/generated/$(WIRE_NAME).o \
                 $(O)/san/libbare-yaml.a $(O)/san/libbare.a

$(O)/tests/%: $(O)/tests/%.o $(TEST_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $(filter %.o,$^) $(filter-out $(LIBBARE_A),$(filter %.a,$^)) \
	    $(LIBBARE_A) $(CHECK_LIBS) $(TEST_EXTRA_LIBS)

$(O)/san/tests/%: $(O)/san/tests/%.o $(TEST_SAN_LIBS)
	@$(if $(Q),echo "  LD SAN  $@")
	$(Q)$(CC) $(OPT) $(SANFLAGS) -o $@ $(filter %.o,$^) \
	    $(filter-out $(O)/san/libbare.a,$(filter %.a,$^)) $(O)/san/libbare.a $(CHECK_LIBS) \
	    $(TEST_EXTRA_LIBS)

# check_generated also needs a recursive schema compiled with --legacy, and the value walker.
$(O)/tests/gen/recursive.h $(O)/tests/gen/recursive.c &: tests/schemas/recursive.bare $(SCHEMAC)
	@mkdir -p $(@D)
	$(Q)$(SCHEMAC) --legacy -o $(O)/tests/gen -n recursive -p rec $<
$(O)/tests/gen/%.o: $(O)/tests/gen/%.c
	$(Q)$(CC) $(CPPFLAGS_ALL) -I$(O)/tests/gen $(CFLAGS_ALL) -c $< -o $@
$(O)/san/tests/gen/%.o: $(O)/tests/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS_ALL) -I$(O)/tests/gen $(CFLAGS_ALL) $(SANFLAGS) -c $< -o $@
$(O)/tests/check_generated.o $(O)/san/tests/check_generated.o: $(O)/tests/gen/recursive.h
$(O)/tests/check_generated: $(O)/tests/value_gen.o $(O)/tests/gen/recursive.o
$(O)/san/tests/check_generated: $(O)/san/tests/value_gen.o $(O)/san/tests/gen/recursive.o

# check_cli runs the schemac binary itself.
$(O)/tests/check_cli.o $(O)/san/tests/check_cli.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -DSCHEMAC_PATH=\"$(abspath $(SCHEMAC))\"
$(O)/tests/check_cli $(O)/san/tests/check_cli: $(SCHEMAC)

# check_vmconfig tests the sidecar's CreateVm config parser, which needs jansson.
$(O)/tests/check_vmconfig.o $(O)/san/tests/check_vmconfig.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) $(SIDECAR_INC) $(shell $(PKG_CONFIG) --cflags jansson)
$(O)/tests/check_vmconfig: $(O)/sidecar/server/vmconfig.o $(O)/sidecar/vmfs/base64.o
$(O)/san/tests/check_vmconfig: $(O)/san/sidecar/server/vmconfig.o $(O)/san/sidecar/vmfs/base64.o
$(O)/tests/check_vmconfig $(O)/san/tests/check_vmconfig: \
    TEST_EXTRA_LIBS += $(shell $(PKG_CONFIG) --libs jansson)

# check_fsops calls GuestFilesystemCall and the permission policy directly on a temporary root.
FSOPS_OBJ := sidecar/vmfs/fsops.o sidecar/vmfs/fsops_write.o sidecar/vmfs/perms.o sidecar/vmfs/ns.o \
             sidecar/sandbox/cgroup.o sidecar/sandbox/cgtree.o \
             sidecar/vmfs/content.o sidecar/vmfs/base64.o sidecar/server/fdio.o sidecar/server/log.o \
             tests/fsops_fixture.o tests/fsops_policy.o
$(addprefix $(O)/,tests/check_fsops.o tests/fsops_fixture.o tests/fsops_policy.o) \
$(addprefix $(O)/san/,tests/check_fsops.o tests/fsops_fixture.o tests/fsops_policy.o): \
    XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC)
$(O)/tests/check_fsops: $(FSOPS_OBJ:%=$(O)/%)
$(O)/san/tests/check_fsops: $(FSOPS_OBJ:%=$(O)/san/%)

# check_spawnspec writes and reads spawn specs (the supervisor's input) in memory.
$(O)/tests/check_spawnspec.o $(O)/san/tests/check_spawnspec.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC)
$(O)/tests/check_spawnspec: $(O)/sidecar/proc/spawnspec.o
$(O)/san/tests/check_spawnspec: $(O)/san/sidecar/proc/spawnspec.o

# check_procinfo reads fake procfs trees built in a temporary directory, and the real /proc.
$(O)/tests/check_procinfo.o $(O)/san/tests/check_procinfo.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC)
$(O)/tests/check_procinfo: $(O)/sidecar/proc/procinfo.o $(O)/sidecar/server/log.o
$(O)/san/tests/check_procinfo: $(O)/san/sidecar/proc/procinfo.o $(O)/san/sidecar/server/log.o

# check_sandbox forks children that apply the guest sandbox (seccomp, Landlock, rlimits) and
# makes real cgroups: it runs as root.
SANDBOX_OBJ := sidecar/sandbox/sandbox.o sidecar/sandbox/landlock.o sidecar/sandbox/cgroup.o sidecar/sandbox/cgtree.o \
               sidecar/vmfs/perms.o sidecar/server/fdio.o sidecar/proc/procinfo.o sidecar/server/log.o
$(O)/tests/check_sandbox.o $(O)/san/tests/check_sandbox.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC)
$(O)/tests/check_sandbox: $(SANDBOX_OBJ:%=$(O)/%)
$(O)/san/tests/check_sandbox: $(SANDBOX_OBJ:%=$(O)/san/%)
$(O)/tests/check_sandbox $(O)/san/tests/check_sandbox: \
    TEST_EXTRA_LIBS += $(shell $(PKG_CONFIG) --libs libseccomp)

check: check-generated check-strict-golden check-dispatch-compile check-man check-unit \
       check-unit-san check-c99-cxx

# Man pages are mdoc and must lint clean.
check-man:
	$(Q)if command -v mandoc >/dev/null; then mandoc -Tlint -Wwarning man/*.[0-9] && \
	    echo "  OK      man pages lint clean"; else echo "  SKIP    mandoc not installed"; fi

# A handler table missing a handler, with two swapped, or with one too many must not compile,
# under the strict flags and under the compiler's defaults (no -Werror, as a user builds).
check-dispatch-compile:
	$(Q)set -e; for cc in $(STRICT_CCS); do \
	    $$cc $(STRICT) -Iruntime -Igenerated -DVARIANT=0 -c tests/compile/dispatch.c -o $(O)/dispatch.o; \
	    for flags in "$(STRICT)" ""; do for v in 1 2 3; do \
	        if $$cc $$flags -Iruntime -Igenerated -DVARIANT=$$v -c tests/compile/dispatch.c \
	            -o $(O)/dispatch.o 2>$(O)/dispatch.err; then \
	            echo "tests/compile/dispatch.c variant $$v compiled with $$cc $$flags"; exit 1; fi; \
	        grep -qE 'argument|compatible' $(O)/dispatch.err || { cat $(O)/dispatch.err; exit 1; }; \
	    done; done; echo "  OK      handler mistakes fail to compile with $$cc (strict and default flags)"; \
	done; rm -f $(O)/dispatch.o

check-unit: $(TEST_BIN)
	$(Q)set -e; for t in $(TEST_BIN); do echo "  RUN     $$t"; $$t; done

check-unit-san: $(TEST_SAN_BIN)
	$(Q)set -e; for t in $(TEST_SAN_BIN); do echo "  RUN SAN $$t"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; done

# generated/ must be exactly what schemac makes of the schema today.
check-generated: $(SCHEMAC)
	@mkdir -p $(O)/gen
	$(Q)$(SCHEMAC) -o $(O)/gen $(SCHEMAC_WIRE_FLAGS) $(SCHEMA)
	$(Q)diff -u $(WIRE_H) $(O)/gen/$(WIRE_NAME).h && diff -u $(WIRE_C) $(O)/gen/$(WIRE_NAME).c \
	    || { echo "generated/ is stale: run 'make gen' and commit the result"; exit 1; }
	@echo "  OK      generated/ is fresh"

# Every golden output, and the wire layer, compile cleanly under the strict flags with every
# compiler present.
STRICT := -std=c11 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wstrict-prototypes -Werror
GOLDEN_C := $(wildcard tests/golden/valid/*/expect.c)
STRICT_CCS := $(shell for c in gcc clang; do command -v $$c >/dev/null 2>&1 && echo $$c; done)
check-strict-golden: $(LIBBARE_A)
	$(Q)set -e; for cc in $(STRICT_CCS); do for f in $(GOLDEN_C) $(WIRE_C); do \
	    $$cc $(STRICT) -Iruntime -I$$(dirname $$f) -c $$f -o $(O)/strict.o; done; \
	    echo "  OK      strict build of generated code with $$cc"; done; rm -f $(O)/strict.o

# The generated .c also builds as C99, and every generated header with its macros (each
# *_HANDLERS, BARE_STR_LIT) as C++11, 17 and 20: projects on older C compilers and C++ projects
# include them too. g++ is required (.ci/deps); clang++ is used when present.
.PHONY: check-c99-cxx
C99_STRICT := $(subst -std=c11,-std=c99,$(STRICT))
CXX_STRICT := -Wall -Wextra -Wpedantic -Werror
CXX_CCS := g++ $(shell command -v clang++ >/dev/null 2>&1 && echo clang++)
check-c99-cxx: $(O)/tests/gen/recursive.h
	$(Q)set -e; for cc in $(STRICT_CCS); do \
	    for f in $(GOLDEN_C) $(WIRE_C) $(O)/tests/gen/recursive.c; do \
	    $$cc $(C99_STRICT) -Iruntime -I$$(dirname $$f) -c $$f -o $(O)/c99.o; done; \
	    echo "  OK      C99 build of generated code with $$cc"; done; rm -f $(O)/c99.o
	$(Q)set -e; for cxx in $(CXX_CCS); do \
	    for h in $(GOLDEN_C:.c=.h) $(WIRE_H) $(O)/tests/gen/recursive.h; do \
	    sh tests/compile/cxx_uses.sh $$h >$(O)/cxx_uses.cc; for std in c++11 c++17 c++20; do \
	    $$cxx -std=$$std $(CXX_STRICT) -Iruntime -I$$(dirname $$h) -c $(O)/cxx_uses.cc \
	        -o $(O)/cxx_uses.o; done; done; \
	    echo "  OK      generated headers and macros as C++11/17/20 with $$cxx"; done; \
	    rm -f $(O)/cxx_uses.cc $(O)/cxx_uses.o

# What the man pages say, beyond lint: every library page has a LIBRARY section (how to link),
# and no .Fn swallowed the prose after it as arguments ("f(discards, it, in, ...)").
.PHONY: check-man-text
check-man: check-man-text
check-man-text:
	$(Q)if command -v mandoc >/dev/null; then set -e; for f in man/*.3; do \
	    grep -q '^\.Sh LIBRARY' $$f || { echo "$$f: no LIBRARY section"; exit 1; }; done; \
	    for f in man/*.[0-9]; do if mandoc -Tascii $$f | sed 's/.\x08//g' | \
	        grep -nE '[A-Za-z_]+\((a|an|the|it|is|in|of|to|and|or|discards|returns), '; then \
	        echo "$$f: a function's arguments are prose (end .Fn before the text)"; exit 1; fi; \
	    done; echo "  OK      man pages: LIBRARY sections, no prose as arguments"; fi

# check_sidecar drives the real binary through the client library (the sanitized suite drives
# the sanitized binary).
$(O)/tests/check_sidecar.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_sidecar.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_sidecar: $(LIBCLIENT) $(SIDECAR)
$(O)/san/tests/check_sidecar: $(O)/san/libsecure-exec-client.a $(O)/san/secure-exec-sidecar
$(O)/tests/check_vmfs.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_vmfs.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_vmfs: $(O)/tests/proc_probe.o $(LIBCLIENT) $(SIDECAR)
$(O)/san/tests/check_vmfs: $(O)/san/tests/proc_probe.o $(O)/san/libsecure-exec-client.a \
    $(O)/san/secure-exec-sidecar
$(O)/tests/check_exec.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_exec.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_exec: $(O)/tests/guest_fixture.o $(LIBCLIENT) $(SIDECAR)
$(O)/san/tests/check_exec: $(O)/san/tests/guest_fixture.o $(O)/san/libsecure-exec-client.a \
    $(O)/san/secure-exec-sidecar
# check_escape attacks the sidecar as a hostile guest and host would; check_exec and it share
# the guest fixture (tests/guest_fixture.c), check_vmfs and it the /proc probe of the
# sidecar's memory (tests/proc_probe.c).
$(O)/tests/check_escape.o $(O)/tests/guest_fixture.o: XCPPFLAGS = $(TEST_CPPFLAGS) \
    -Isidecar/client -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_escape.o $(O)/san/tests/guest_fixture.o: XCPPFLAGS = $(TEST_CPPFLAGS) \
    -Isidecar/client -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_escape: $(O)/tests/guest_fixture.o $(O)/tests/proc_probe.o $(LIBCLIENT) \
    $(SIDECAR)
$(O)/san/tests/check_escape: $(O)/san/tests/guest_fixture.o $(O)/san/tests/proc_probe.o \
    $(O)/san/libsecure-exec-client.a $(O)/san/secure-exec-sidecar
# check_fetch fetches from guest HTTP servers through the real sidecar (VmFetch); it reads
# each responseJson with jansson and its body with the sidecar's base64 decoder.
$(O)/tests/check_fetch.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client -Isidecar/vmfs \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\" $(shell $(PKG_CONFIG) --cflags jansson)
$(O)/san/tests/check_fetch.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client -Isidecar/vmfs \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\" $(shell $(PKG_CONFIG) --cflags jansson)
$(O)/tests/check_fetch: $(O)/tests/guest_fixture.o $(O)/sidecar/vmfs/base64.o $(LIBCLIENT) \
    $(SIDECAR)
$(O)/san/tests/check_fetch: $(O)/san/tests/guest_fixture.o $(O)/san/sidecar/vmfs/base64.o \
    $(O)/san/libsecure-exec-client.a $(O)/san/secure-exec-sidecar
$(O)/tests/check_fetch $(O)/san/tests/check_fetch: \
    TEST_EXTRA_LIBS += $(shell $(PKG_CONFIG) --libs jansson)

# check_callbacks: host callbacks through the real sidecar, the guest fixture and the program
# every callback command runs.
$(O)/tests/check_callbacks.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_callbacks.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_callbacks: $(O)/tests/guest_fixture.o $(LIBCLIENT) $(SIDECAR) $(CALLBACK_PROGRAM)
$(O)/san/tests/check_callbacks: $(O)/san/tests/guest_fixture.o $(O)/san/libsecure-exec-client.a \
    $(O)/san/secure-exec-sidecar $(CALLBACK_PROGRAM)
# check_mounts configures mounts in VMs whose guests read and write them (guest fixture).
$(O)/tests/check_mounts.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\"
$(O)/san/tests/check_mounts.o: XCPPFLAGS = $(TEST_CPPFLAGS) -Isidecar/client \
    -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\"
$(O)/tests/check_mounts: $(O)/tests/guest_fixture.o $(LIBCLIENT) $(SIDECAR)
$(O)/san/tests/check_mounts: $(O)/san/tests/guest_fixture.o $(O)/san/libsecure-exec-client.a \
    $(O)/san/secure-exec-sidecar
# check_jsbridge: the js_bridge plugin's JSON (jbjson.c, linked directly), and the plugin through
# the real sidecar with the client library as the host.
$(O)/tests/check_jsbridge.o: XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC) \
    -Isidecar/client -DSIDECAR_PATH=\"$(abspath $(SIDECAR))\" $(shell $(PKG_CONFIG) --cflags jansson)
$(O)/san/tests/check_jsbridge.o: XCPPFLAGS = $(TEST_CPPFLAGS) -D_GNU_SOURCE $(SIDECAR_INC) \
    -Isidecar/client -DSIDECAR_PATH=\"$(abspath $(O)/san/secure-exec-sidecar)\" \
    $(shell $(PKG_CONFIG) --cflags jansson)
$(O)/tests/check_jsbridge: $(O)/tests/guest_fixture.o $(O)/sidecar/host/jbjson.o \
    $(O)/sidecar/vmfs/base64.o $(LIBCLIENT) $(SIDECAR)
$(O)/san/tests/check_jsbridge: $(O)/san/tests/guest_fixture.o $(O)/san/sidecar/host/jbjson.o \
    $(O)/san/sidecar/vmfs/base64.o $(O)/san/libsecure-exec-client.a $(O)/san/secure-exec-sidecar
$(O)/tests/check_jsbridge $(O)/san/tests/check_jsbridge: \
    TEST_EXTRA_LIBS += $(shell $(PKG_CONFIG) --libs jansson)

# Fuzz targets (their corpora replay in `make check`; `make fuzz` runs libFuzzer) and benchmarks.
include tests/fuzz/fuzz.mk
include tests/bench/bench.mk
check: check-fuzz

# Only the programs that use the YAML codec (libbare-yaml) link libyaml. check_yaml compares it
# with the generated decoders (protocol and recursive schemas); check_compat runs the library
# and the schemac binary; check_yaml_cli runs the bare-yaml binary.
$(O)/tests/check_yaml $(O)/san/tests/check_yaml $(O)/tests/fuzz/fuzz_yaml \
    $(O)/san/tests/fuzz/fuzz_yaml $(O)/tests/fuzz/seed_gen: TEST_EXTRA_LIBS += $(YAML_LIBS)
$(O)/tests/check_yaml.o $(O)/san/tests/check_yaml.o: $(O)/tests/gen/recursive.h
$(O)/tests/check_yaml: $(O)/tests/value_gen.o $(O)/tests/gen/recursive.o
$(O)/san/tests/check_yaml: $(O)/san/tests/value_gen.o $(O)/san/tests/gen/recursive.o
$(O)/tests/check_compat.o $(O)/san/tests/check_compat.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -DSCHEMAC_PATH=\"$(abspath $(SCHEMAC))\"
$(O)/tests/check_compat $(O)/san/tests/check_compat: $(SCHEMAC)
$(O)/tests/check_yaml_cli.o $(O)/san/tests/check_yaml_cli.o: \
    XCPPFLAGS = $(TEST_CPPFLAGS) -DBARE_YAML_PATH=\"$(abspath $(BARE_YAML))\"
$(O)/tests/check_yaml_cli $(O)/san/tests/check_yaml_cli: $(BARE_YAML)

# check_secure_exec runs the secure-exec command, which runs the sidecar next to it (the
# sanitized suite: both sanitized), and bare-yaml on the trace it writes.
$(O)/tests/check_secure_exec.o: XCPPFLAGS = $(TEST_CPPFLAGS) \
    -DSECURE_EXEC_PATH=\"$(abspath $(SECURE_EXEC))\" -DBARE_YAML_PATH=\"$(abspath $(BARE_YAML))\"
$(O)/san/tests/check_secure_exec.o: XCPPFLAGS = $(TEST_CPPFLAGS) \
    -DSECURE_EXEC_PATH=\"$(abspath $(O)/san/secure-exec)\" \
    -DBARE_YAML_PATH=\"$(abspath $(BARE_YAML))\"
$(O)/tests/check_secure_exec: $(SECURE_EXEC) $(SIDECAR) $(BARE_YAML)
$(O)/san/tests/check_secure_exec: $(O)/san/secure-exec $(O)/san/secure-exec-sidecar $(BARE_YAML)
include tests/bench/sidecar.mk

# bare-yaml quotes every str a YAML 1.1 reader would take for another type: PyYAML (Debian's
# python3-yaml) must read its output back as the same strings.
.PHONY: check-yaml11
check: check-yaml11
check-yaml11: $(BARE_YAML)
	@mkdir -p $(O)/yaml11
	$(Q)python3 tests/yaml11_strings.py $(BARE_YAML) $(O)/yaml11

# The client library installed: the man page's example built with pkg-config alone (shared and
# static) and run against the installed sidecar.
.PHONY: check-client-install
check: check-client-install
check-client-install: all
	$(Q)MAKE="$(MAKE)" tests/client_install.sh $(O)

# libbare depends on nothing (libyaml is libbare-yaml's alone), and libbare-yaml.so on libbare.
.PHONY: check-libsplit
check: check-libsplit
check-libsplit: $(LIBBARE_SO) $(LIBBARE_YAML_SO)
	$(Q)set -e; n=$$(readelf -d $(LIBBARE_SO) | grep NEEDED || true); \
	    if echo "$$n" | grep -q yaml; then echo "libbare.so needs libyaml: $$n"; exit 1; fi; \
	    if ldd $(LIBBARE_SO) | grep -q yaml; then echo "libbare.so loads libyaml"; exit 1; fi; \
	    if nm -u $(LIBBARE_SO) | grep -q ' yaml_'; then echo "libbare.so uses yaml_*"; exit 1; fi; \
	    readelf -d $(LIBBARE_YAML_SO) | grep NEEDED | grep -q 'libbare\.so\.1' \
	        || { echo "libbare-yaml.so does not record libbare.so.1"; exit 1; }; \
	    readelf -d $(LIBBARE_YAML_SO) | grep NEEDED | grep -q 'libyaml' \
	        || { echo "libbare-yaml.so does not record libyaml"; exit 1; }
	@echo "  OK      libbare.so has no libyaml dependency; libbare-yaml.so needs libbare and libyaml"

# An installed tree is relocatable: install into a temporary prefix, move it, and build and
# run programs with nothing but pkg-config on the moved .pc files; the schemac variable names
# the moved schemac.
.PHONY: check-pkgconfig
check: check-pkgconfig
PCT := $(abspath $(O))/pctest
check-pkgconfig: all
	$(Q)rm -rf $(PCT) && mkdir -p $(PCT)
	$(Q)$(MAKE) --no-print-directory -s install PREFIX=$(PCT)/inst DESTDIR= >/dev/null
	$(Q)mv $(PCT)/inst $(PCT)/moved
	$(Q)set -e; export PKG_CONFIG_PATH=$(PCT)/moved/lib/pkgconfig; \
	    s=$$($(PKG_CONFIG) --variable=schemac libbare); \
	    test -x "$$s" || { echo "schemac variable: $$s is not an executable"; exit 1; }; \
	    case "$$s" in $(PCT)/moved/*) ;; \
	    *) echo "schemac variable: $$s is outside the tree"; exit 1;; esac; \
	    "$$s" --version >/dev/null; \
	    $(CC) $(STRICT) -o $(PCT)/codec tests/compile/pc_codec.c \
	        $$($(PKG_CONFIG) --cflags --libs libbare); \
	    $(CC) $(STRICT) -o $(PCT)/yaml tests/compile/pc_yaml.c \
	        $$($(PKG_CONFIG) --cflags --libs libbare-yaml); \
	    LD_LIBRARY_PATH=$(PCT)/moved/lib $(PCT)/codec; LD_LIBRARY_PATH=$(PCT)/moved/lib $(PCT)/yaml; \
	    if readelf -d $(PCT)/codec | grep NEEDED | grep -q yaml; then \
	        echo "a libbare-only program needs libyaml"; exit 1; fi
	$(Q)rm -rf $(PCT)
	@echo "  OK      moved install: pkg-config builds with libbare and libbare-yaml; schemac variable"

# tests/external-project is built as an outside project would be: against a moved `make install`
# tree, with a plain makefile (pkg-config, -MD depfiles), with CMake (find_package(schemac))
# and with Meson (the pkg-config schemac variable). Each build must run and print the decoded
# value; an edited schema must regenerate under make and CMake.
.PHONY: check-external-project
check: check-external-project
EPT := $(abspath $(O))/eptest
EP_WANT := hello, world x3 (7 bytes)
check-external-project: all
	$(Q)rm -rf $(EPT) && mkdir -p $(EPT)
	$(Q)$(MAKE) --no-print-directory -s install PREFIX=$(EPT)/inst DESTDIR= >/dev/null
	$(Q)mv $(EPT)/inst $(EPT)/moved
	$(Q)set -e; P=$(EPT)/moved; export PKG_CONFIG_PATH=$$P/lib/pkgconfig; \
	    cp -R tests/external-project $(EPT)/make; cp -R tests/external-project $(EPT)/src; \
	    $(MAKE) --no-print-directory -s -C $(EPT)/make CC=$(CC) CFLAGS="$(STRICT)" >/dev/null; \
	    test "$$(LD_LIBRARY_PATH=$$P/lib $(EPT)/make/hello)" = "$(EP_WANT)"; \
	    touch $(EPT)/make/hello.bare; \
	    if $(MAKE) --no-print-directory -s -q -C $(EPT)/make; then \
	        echo "make: an edited schema does not rebuild"; exit 1; fi; \
	    echo "  OK      external project: plain make + pkg-config"; \
	    if command -v cmake >/dev/null; then \
	        cmake -S $(EPT)/src -B $(EPT)/cmake -DCMAKE_PREFIX_PATH=$$P \
	            $$(command -v ninja >/dev/null && echo -GNinja) \
	            -DCMAKE_C_COMPILER=$(CC) >$(EPT)/cmake.log 2>&1 || { cat $(EPT)/cmake.log; exit 1; }; \
	        cmake --build $(EPT)/cmake >>$(EPT)/cmake.log 2>&1 || { cat $(EPT)/cmake.log; exit 1; }; \
	        test "$$($(EPT)/cmake/hello)" = "$(EP_WANT)"; \
	        touch $(EPT)/src/hello.bare; \
	        cmake --build $(EPT)/cmake | grep 'schemac hello.bare' >/dev/null \
	            || { echo "cmake: an edited schema does not regenerate"; exit 1; }; \
	        if cmake --build $(EPT)/cmake | grep 'schemac hello.bare' >/dev/null; then \
	            echo "cmake: an unchanged schema regenerates"; exit 1; fi; \
	        echo "  OK      external project: cmake find_package(schemac)"; \
	    else echo "  SKIP    external project with cmake: cmake not installed"; fi; \
	    if command -v meson >/dev/null && command -v ninja >/dev/null; then \
	        meson setup $(EPT)/meson $(EPT)/src >$(EPT)/meson.log 2>&1 \
	            || { cat $(EPT)/meson.log; exit 1; }; \
	        ninja -C $(EPT)/meson >>$(EPT)/meson.log 2>&1 || { cat $(EPT)/meson.log; exit 1; }; \
	        test "$$(LD_LIBRARY_PATH=$$P/lib $(EPT)/meson/hello)" = "$(EP_WANT)"; \
	        echo "  OK      external project: meson custom_target"; \
	    else echo "  SKIP    external project with meson: meson or ninja not installed"; fi
	$(Q)rm -rf $(EPT)

# The independent vectors (tests/vectors/*.yaml, written by @bare-ts under node with gen.mjs):
# each decoded and re-encoded by the descriptor codec (bare-yaml) to the same bytes, each reject
# vector refused. Node is not needed.
.PHONY: check-vectors
check: check-vectors
# They also go through the codecs schemac generates: the protocol's (generated/) and those of
# tests/vectors/features.bare, generated here, each behind vec_driver.c (its features.h is
# included by path: -I would hide glibc's <features.h>).
VEC_DIR := $(O)/vectors
VEC_TABLE_AWK := '/^\/\* [A-Za-z0-9_]+ /{n=$$2} /^void [a-z0-9_]+_init\(/{sub(/_init\(.*/,"",$$2); print "VEC_TYPE(" n ", " $$2 ")"}'
$(VEC_DIR)/features.h $(VEC_DIR)/features.c &: tests/vectors/features.bare $(SCHEMAC)
	@mkdir -p $(VEC_DIR)
	$(Q)$(SCHEMAC) -o $(VEC_DIR) tests/vectors/features.bare
$(VEC_DIR)/proto.table: generated/$(WIRE_NAME).h
	@mkdir -p $(VEC_DIR)
	$(Q)awk $(VEC_TABLE_AWK) $< >$@
$(VEC_DIR)/features.table: $(VEC_DIR)/features.h
	$(Q)awk $(VEC_TABLE_AWK) $< >$@
$(VEC_DIR)/vec_proto: tests/vectors/vec_driver.c $(VEC_DIR)/proto.table generated/$(WIRE_NAME).c \
    $(LIBBARE_A)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Iruntime -Igenerated -DVEC_H='"$(WIRE_NAME).h"' \
	    -DVEC_TABLE='"$(abspath $(VEC_DIR)/proto.table)"' -DVEC_SCHEMA='"$(SCHEMA)"' \
	    -o $@ $< generated/$(WIRE_NAME).c $(LIBBARE_A)
$(VEC_DIR)/vec_features: tests/vectors/vec_driver.c $(VEC_DIR)/features.table $(VEC_DIR)/features.c \
    $(LIBBARE_A)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Iruntime -DVEC_H='"$(abspath $(VEC_DIR)/features.h)"' \
	    -DVEC_TABLE='"$(abspath $(VEC_DIR)/features.table)"' \
	    -DVEC_SCHEMA='"tests/vectors/features.bare"' -o $@ $< $(VEC_DIR)/features.c $(LIBBARE_A)
$(VEC_DIR)/recursive.h $(VEC_DIR)/recursive.c &: tests/vectors/legacy-recursive.bare \
    $(SCHEMAC)
	@mkdir -p $(VEC_DIR)
	$(Q)$(SCHEMAC) --legacy -n recursive -o $(VEC_DIR) tests/vectors/legacy-recursive.bare
$(VEC_DIR)/recursive.table: $(VEC_DIR)/recursive.h
	$(Q)awk $(VEC_TABLE_AWK) $< >$@
$(VEC_DIR)/vec_recursive: tests/vectors/vec_driver.c $(VEC_DIR)/recursive.table \
    $(VEC_DIR)/recursive.c $(LIBBARE_A)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Iruntime -DVEC_H='"$(abspath $(VEC_DIR)/recursive.h)"' \
	    -DVEC_TABLE='"$(abspath $(VEC_DIR)/recursive.table)"' \
	    -DVEC_SCHEMA='"tests/vectors/legacy-recursive.bare"' -o $@ $< $(VEC_DIR)/recursive.c \
	    $(LIBBARE_A)
VEC_DRIVERS := $(VEC_DIR)/vec_proto $(VEC_DIR)/vec_features $(VEC_DIR)/vec_recursive
check-vectors: $(BARE_YAML) $(VEC_DRIVERS)
	$(Q)tests/vectors/check_vectors.sh $(BARE_YAML) $(VEC_DRIVERS)
