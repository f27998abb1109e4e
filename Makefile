# One non-recursive Makefile: schemac, libbare, the generated wire layer, tests and tools.
# Objects go out of tree into $(O); `make V=1` shows the commands.

O ?= build
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
AR ?= ar
BISON ?= bison
FLEX ?= flex
PKG_CONFIG ?= pkg-config

VERSION := 0.1.0

# The strict set everything of ours compiles with; generated flex/bison code gets a relaxed
# per-file addition, never a weaker global set.
WARN := -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wundef -Wwrite-strings -Wvla -Werror
CSTD := -std=c11
OPT ?= -O2 -g
CPPFLAGS_ALL := -D_POSIX_C_SOURCE=200809L -Iruntime
CFLAGS_ALL := $(CSTD) $(OPT) $(WARN) $(CFLAGS)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
# libbare-yaml (bare_yaml*.c, the YAML codec) uses libyaml; libbare itself depends on nothing.
YAML_CFLAGS := $(shell $(PKG_CONFIG) --cflags yaml-0.1 2>/dev/null)
YAML_LIBS := $(shell $(PKG_CONFIG) --libs yaml-0.1 2>/dev/null)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.PHONY: all check gen run install check-man uninstall clean check-generated check-golden check-unit \
        check-unit-san check-strict-golden check-dispatch-compile

# ---------------------------------------------------------------------------------------------
# Sources

RUNTIME_SRC := runtime/bare.c runtime/bare_arena.c runtime/bare_frame.c runtime/bare_reader.c \
               runtime/bare_utf8.c runtime/bare_writer.c runtime/bare_desc.c
# A library of its own so programs that only encode and decode need no libyaml.
RUNTIME_YAML_SRC := runtime/bare_yaml.c runtime/bare_yaml_out.c
COMPILER_SRC := compiler/ast.c compiler/check.c compiler/compat.c compiler/desc.c \
                compiler/diag.c compiler/emit.c \
                compiler/emit_c.c compiler/emit_dispatch.c compiler/emit_h.c compiler/order.c \
                compiler/parse.c compiler/schemac.c compiler/sym.c
COMPILER_GEN := $(O)/compiler/parser.c $(O)/compiler/lexer.c

SCHEMA := schema/secure_exec_sidecar_v1.bare
WIRE_NAME := secure_exec_sidecar_v1
WIRE_PREFIX := sx
SCHEMAC_WIRE_FLAGS := -n $(WIRE_NAME) -p $(WIRE_PREFIX)

LIBBARE_A := $(O)/libbare.a
LIBBARE_SO := $(O)/libbare.so.1
LIBBARE_YAML_A := $(O)/libbare-yaml.a
LIBBARE_YAML_SO := $(O)/libbare-yaml.so.1
LIBSCHEMAC := $(O)/libschemac.a
SCHEMAC := $(O)/schemac
BARE_YAML := $(O)/bare-yaml
WIRE_OBJ := $(O)/generated/$(WIRE_NAME).o

all: $(SCHEMAC) $(BARE_YAML) $(LIBBARE_A) $(LIBBARE_SO) $(LIBBARE_YAML_A) $(LIBBARE_YAML_SO) \
     $(WIRE_OBJ) $(SIDECAR) $(LIBCLIENT)

# ---------------------------------------------------------------------------------------------
# Compilation rules: $(O)/X.o from X.c; $(O)/san/X.o the same with the sanitizers;
# $(O)/pic/X.o position-independent for the shared library.

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS_ALL) $(XCPPFLAGS) $(CFLAGS_ALL) $(XCFLAGS) -MMD -MP -c $< -o $@

$(O)/san/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC SAN  $@")
	$(Q)$(CC) $(CPPFLAGS_ALL) $(XCPPFLAGS) $(CFLAGS_ALL) $(XCFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@

$(O)/pic/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC PIC  $@")
	$(Q)$(CC) $(CPPFLAGS_ALL) $(YAML_CFLAGS) $(CFLAGS_ALL) -fPIC -fvisibility=default -MMD -MP \
	    -c $< -o $@

# ---------------------------------------------------------------------------------------------
# Runtime: libbare

RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(O)/%.o)
RUNTIME_SAN_OBJ := $(RUNTIME_SRC:%.c=$(O)/san/%.o)
RUNTIME_PIC_OBJ := $(RUNTIME_SRC:%.c=$(O)/pic/%.o)

$(LIBBARE_A): $(RUNTIME_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(O)/runtime/bare_yaml%.o $(O)/san/runtime/bare_yaml%.o: XCPPFLAGS = $(YAML_CFLAGS)

$(O)/san/libbare.a: $(RUNTIME_SAN_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBBARE_SO): $(RUNTIME_PIC_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libbare.so.1 -o $@ $^

# libbare-yaml: the YAML codec, on top of libbare (its .so records libbare.so.1 as NEEDED).
$(LIBBARE_YAML_A): $(RUNTIME_YAML_SRC:%.c=$(O)/%.o)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(O)/san/libbare-yaml.a: $(RUNTIME_YAML_SRC:%.c=$(O)/san/%.o)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBBARE_YAML_SO): $(RUNTIME_YAML_SRC:%.c=$(O)/pic/%.o) $(LIBBARE_SO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libbare-yaml.so.1 -o $@ $^ $(YAML_LIBS)

# The .pc files are relocatable: with the default LIBDIR, prefix is found from the file's own
# place (${pcfiledir}), so an installed tree can be moved. Written at install time, so they
# always carry the PREFIX and LIBDIR of that install.
PC_PREFIX = $(if $(filter $(PREFIX)/lib,$(LIBDIR)),$${pcfiledir}/../..,$(PREFIX))
PC_SUBST = sed -e 's|@PREFIX@|$(PC_PREFIX)|g' \
    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
    -e 's|@BINDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(BINDIR))|g' -e 's|@VERSION@|$(VERSION)|g'
# The CMake package's equivalent, relative to its own <libdir>/cmake/schemac directory.
CM_PREFIX = $(if $(filter $(PREFIX)/lib,$(LIBDIR)),$${CMAKE_CURRENT_LIST_DIR}/../../..,$(PREFIX))
CM_SUBST = sed -e 's|@PREFIX@|$(CM_PREFIX)|g' \
    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${_schemac_prefix}/%,$(LIBDIR))|g' \
    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${_schemac_prefix}/%,$(INCLUDEDIR))|g' \
    -e 's|@BINDIR@|$(patsubst $(PREFIX)/%,$${_schemac_prefix}/%,$(BINDIR))|g' \
    -e 's|@VERSION@|$(VERSION)|g'

# ---------------------------------------------------------------------------------------------
# Compiler: flex and bison outputs stay in $(O)/compiler

$(O)/compiler/parser.c $(O)/compiler/parser.h &: compiler/parser.y
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BISON   $<")
	$(Q)$(BISON) -Wall -Werror --defines=$(O)/compiler/parser.h -o $(O)/compiler/parser.c $<

$(O)/compiler/lexer.c $(O)/compiler/lexer.h &: compiler/lexer.l
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FLEX    $<")
	$(Q)$(FLEX) --header-file=$(O)/compiler/lexer.h -o $(O)/compiler/lexer.c $<

# Generated scanner and parser: compiled with the strict set plus what their skeletons need.
GEN_RELAX := -Wno-unused-function -Wno-sign-conversion -Wno-conversion -Wno-missing-prototypes \
             -Wno-unused-parameter -Wno-sign-compare
$(O)/compiler/parser.o $(O)/compiler/lexer.o: $(O)/compiler/%.o: $(O)/compiler/%.c \
        $(O)/compiler/parser.h $(O)/compiler/lexer.h
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS_ALL) -Icompiler -I$(O)/compiler $(CFLAGS_ALL) $(GEN_RELAX) -MMD -MP -c $< -o $@
$(O)/san/compiler/parser.o $(O)/san/compiler/lexer.o: $(O)/san/compiler/%.o: $(O)/compiler/%.c \
        $(O)/compiler/parser.h $(O)/compiler/lexer.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS_ALL) -Icompiler -I$(O)/compiler $(CFLAGS_ALL) $(GEN_RELAX) $(SANFLAGS) -MMD -MP -c $< -o $@

# Everything in compiler/ sees the generated headers.
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(O)/%.o) $(O)/compiler/parser.o $(O)/compiler/lexer.o
COMPILER_SAN_OBJ := $(COMPILER_SRC:%.c=$(O)/san/%.o) $(O)/san/compiler/parser.o \
                    $(O)/san/compiler/lexer.o
$(COMPILER_SRC:%.c=$(O)/%.o) $(COMPILER_SRC:%.c=$(O)/san/%.o) $(O)/compiler/main.o \
    $(O)/compiler/yaml_main.o: XCPPFLAGS = -Icompiler -I$(O)/compiler
$(COMPILER_SRC:%.c=$(O)/%.o) $(COMPILER_SRC:%.c=$(O)/san/%.o) $(O)/compiler/main.o \
    $(O)/compiler/yaml_main.o: \
    | $(O)/compiler/parser.h $(O)/compiler/lexer.h

$(LIBSCHEMAC): $(COMPILER_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(O)/san/libschemac.a: $(COMPILER_SAN_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SCHEMAC): $(O)/compiler/main.o $(LIBSCHEMAC) $(LIBBARE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^

# bare-yaml: YAML to BARE and back for any schema, through descriptors built at run time.
$(BARE_YAML): $(O)/compiler/yaml_main.o $(LIBSCHEMAC) $(LIBBARE_YAML_A) $(LIBBARE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(YAML_LIBS)

# ---------------------------------------------------------------------------------------------
# The generated wire layer: generated/ is committed; `make gen` rewrites it from the schema.

WIRE_H := generated/$(WIRE_NAME).h
WIRE_C := generated/$(WIRE_NAME).c

gen: $(SCHEMAC)
	$(SCHEMAC) -o generated $(SCHEMAC_WIRE_FLAGS) $(SCHEMA)

# The main job: build everything, then run a guest program in a VM through the sidecar.
run: all
	$(SECURE_EXEC) run sidecar/cli/demo.js

$(O)/generated/%.o $(O)/san/generated/%.o: XCPPFLAGS = -Igenerated

# ---------------------------------------------------------------------------------------------
# The sidecar

SIDECAR_SRC := $(addprefix sidecar/server/,config.c ext.c handlers.c io.c log.c loop.c respond.c \
                   server.c state.c vm.c vmconfig.c fdio.c offload.c) \
               $(addprefix sidecar/vmfs/,ns.c content.c entries.c basefs.c rootfs.c layers.c \
                   fsreq.c perms.c fsops.c fsops_write.c base64.c) \
               $(addprefix sidecar/proc/,procinfo.c vmexec.c execreq.c procreq.c portfwd.c \
                   spawnspec.c) \
               $(addprefix sidecar/sandbox/,sandbox.c landlock.c cgroup.c supervisor.c cgtree.c) \
               $(addprefix sidecar/host/,hostreq.c fetch.c callbacks.c toolinput.c cbrequest.c \
                   cbserve.c cbview.c mounts.c mountops.c mountns.c jsbridge.c jbjson.c \
                   jbfscall.c jbfuse.c jbmount.c)
SIDECAR := $(O)/secure-exec-sidecar
CALLBACK_PROGRAM := $(O)/secure-exec-callback
# The sidecar's folders: the protocol server, VM filesystems, guest processes, the privileged
# sandbox, and what reaches out to the host (host callbacks, mounts, VmFetch). Its sources include each other's headers by name.
SIDECAR_INC := -Isidecar/server -Isidecar/vmfs -Isidecar/proc -Isidecar/sandbox -Isidecar/host
SIDECAR_PKGS := jansson yaml-0.1 libseccomp
# VmFetch's HTTP client (host/fetch.c), run by the sidecar's loop through curl's multi interface
SIDECAR_PKGS += libcurl
# js_bridge mounts reach guests through FUSE (host/jbfuse.c), libfuse's low-level API
SIDECAR_PKGS += fuse3
SIDECAR_LIBS = $(shell $(PKG_CONFIG) --libs $(SIDECAR_PKGS))
SIDECAR_OBJ := $(SIDECAR_SRC:%.c=$(O)/%.o)
SIDECAR_SAN_OBJ := $(SIDECAR_SRC:%.c=$(O)/san/%.o)

# The sidecar is Linux code (epoll, signalfd, namespaces): it asks for the GNU extensions.
DATADIR ?= $(PREFIX)/share/secure-exec
LIBEXECDIR ?= $(PREFIX)/libexec/secure-exec
$(O)/sidecar/%.o $(O)/san/sidecar/%.o: \
    XCPPFLAGS = -D_GNU_SOURCE $(SIDECAR_INC) -Isidecar/client -Igenerated \
                -DSC_DATADIR=\"$(DATADIR)\" -DSC_SOURCE_DIR=\"$(CURDIR)/sidecar\" \
                -DSC_LIBEXECDIR=\"$(LIBEXECDIR)\" \
                $(shell $(PKG_CONFIG) --cflags $(SIDECAR_PKGS))

# The client library: how hosts and the tests talk to the sidecar. It carries the wire layer
# it calls, so a user links it and libbare only (secure-exec-client.pc); a link that also names
# $(WIRE_OBJ) must put it before the archive.
CLIENT_SRC := sidecar/client/client.c
LIBCLIENT := $(O)/libsecure-exec-client.a
LIBCLIENT_SO := $(O)/libsecure-exec-client.so.1
$(LIBCLIENT): $(CLIENT_SRC:%.c=$(O)/%.o) $(WIRE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(O)/pic/sidecar/client/%.o: sidecar/client/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC PIC  $@")
	$(Q)$(CC) $(CPPFLAGS_ALL) -D_GNU_SOURCE -Isidecar/client -Igenerated $(CFLAGS_ALL) -fPIC \
	    -MMD -MP -c $< -o $@
$(LIBCLIENT_SO): $(CLIENT_SRC:%.c=$(O)/pic/%.o) $(O)/pic/generated/$(WIRE_NAME).o $(LIBBARE_SO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libsecure-exec-client.so.1 -o $@ $^
$(O)/secure-exec-client.pc: sidecar/client/secure-exec-client.pc.in Makefile
	$(Q)sed -e 's|@VERSION@|$(VERSION)|g' $< > $@
$(O)/san/libsecure-exec-client.a: $(CLIENT_SRC:%.c=$(O)/san/%.o)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The secure-exec command: a file, code or a program run in a VM (sidecar/cli/).
CLI_SRC := sidecar/cli/secure-exec.c sidecar/cli/session.c sidecar/cli/vmjson.c
SECURE_EXEC := $(O)/secure-exec
$(O)/sidecar/cli/%.o $(O)/san/sidecar/cli/%.o: \
    XCPPFLAGS = -D_GNU_SOURCE -Isidecar/client -Igenerated -DSE_VERSION=\"$(VERSION)\" \
                $(shell $(PKG_CONFIG) --cflags jansson)
$(SECURE_EXEC): $(CLI_SRC:%.c=$(O)/%.o) $(LIBCLIENT) $(LIBBARE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(shell $(PKG_CONFIG) --libs jansson)
$(O)/san/secure-exec: $(CLI_SRC:%.c=$(O)/san/%.o) $(O)/san/libsecure-exec-client.a \
        $(O)/san/generated/$(WIRE_NAME).o $(O)/san/libbare.a
	@$(if $(Q),echo "  LD SAN  $@")
	$(Q)$(CC) $(OPT) $(SANFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs jansson)
# (all's first line is read before these names are defined)
all: $(SIDECAR) $(CALLBACK_PROGRAM) $(LIBCLIENT) $(LIBCLIENT_SO) $(SECURE_EXEC)

# secure-exec-callback: the program each host callback command of a VM runs, as a guest
# process (sidecar/host/cbprogram.c). Static: it needs nothing of the VM's root. Both sidecar
# builds find it beside them (build/, or build/ above build/san/).
$(CALLBACK_PROGRAM): $(O)/sidecar/host/cbprogram.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -static -o $@ $^

$(SIDECAR): $(O)/sidecar/server/main.o $(SIDECAR_OBJ) $(WIRE_OBJ) $(LIBBARE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(SIDECAR_LIBS)

$(O)/san/secure-exec-sidecar: $(O)/san/sidecar/server/main.o $(SIDECAR_SAN_OBJ) \
        $(O)/san/generated/$(WIRE_NAME).o $(O)/san/libbare.a
	@$(if $(Q),echo "  LD SAN  $@")
	$(Q)$(CC) $(OPT) $(SANFLAGS) -o $@ $^ $(SIDECAR_LIBS)

# ---------------------------------------------------------------------------------------------
# Tests

-include tests/tests.mk

# ---------------------------------------------------------------------------------------------
# Install

install: all $(O)/secure-exec-client.pc
	install -D -m 0755 $(SCHEMAC) $(DESTDIR)$(BINDIR)/schemac
	install -D -m 0755 $(BARE_YAML) $(DESTDIR)$(BINDIR)/bare-yaml
	install -D -m 0644 man/bare-yaml.1 $(DESTDIR)$(MANDIR)/man1/bare-yaml.1
	install -D -m 0644 $(LIBBARE_A) $(DESTDIR)$(LIBDIR)/libbare.a
	install -D -m 0755 $(LIBBARE_SO) $(DESTDIR)$(LIBDIR)/libbare.so.1
	ln -sf libbare.so.1 $(DESTDIR)$(LIBDIR)/libbare.so
	install -D -m 0644 runtime/bare.h $(DESTDIR)$(INCLUDEDIR)/bare.h
	install -D -m 0644 $(LIBBARE_YAML_A) $(DESTDIR)$(LIBDIR)/libbare-yaml.a
	install -D -m 0755 $(LIBBARE_YAML_SO) $(DESTDIR)$(LIBDIR)/libbare-yaml.so.1
	ln -sf libbare-yaml.so.1 $(DESTDIR)$(LIBDIR)/libbare-yaml.so
	mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	$(PC_SUBST) runtime/libbare.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libbare.pc
	$(PC_SUBST) runtime/libbare-yaml.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libbare-yaml.pc
	mkdir -p $(DESTDIR)$(LIBDIR)/cmake/schemac
	$(CM_SUBST) runtime/cmake/schemacConfig.cmake.in \
	    >$(DESTDIR)$(LIBDIR)/cmake/schemac/schemacConfig.cmake
	$(CM_SUBST) runtime/cmake/schemacConfigVersion.cmake.in \
	    >$(DESTDIR)$(LIBDIR)/cmake/schemac/schemacConfigVersion.cmake
	install -D -m 0644 man/schemac.1 $(DESTDIR)$(MANDIR)/man1/schemac.1
	install -D -m 0644 man/libbare.3 $(DESTDIR)$(MANDIR)/man3/libbare.3
	install -D -m 0755 $(SIDECAR) $(DESTDIR)$(BINDIR)/secure-exec-sidecar
	install -D -m 0755 $(CALLBACK_PROGRAM) $(DESTDIR)$(LIBEXECDIR)/secure-exec-callback
	install -D -m 0644 sidecar/base-filesystem.yaml $(DESTDIR)$(DATADIR)/base-filesystem.yaml
	install -D -m 0644 man/secure-exec-sidecar.1 $(DESTDIR)$(MANDIR)/man1/secure-exec-sidecar.1
	install -D -m 0644 $(LIBCLIENT) $(DESTDIR)$(LIBDIR)/libsecure-exec-client.a
	install -D -m 0755 $(LIBCLIENT_SO) $(DESTDIR)$(LIBDIR)/libsecure-exec-client.so.1
	ln -sf libsecure-exec-client.so.1 $(DESTDIR)$(LIBDIR)/libsecure-exec-client.so
	install -D -m 0644 $(O)/secure-exec-client.pc \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/secure-exec-client.pc
	install -D -m 0644 $(SCHEMA) $(DESTDIR)$(DATADIR)/$(WIRE_NAME).bare
	install -D -m 0644 sidecar/client/client.h $(DESTDIR)$(INCLUDEDIR)/secure-exec/client.h
	install -D -m 0644 $(WIRE_H) $(DESTDIR)$(INCLUDEDIR)/secure-exec/$(WIRE_NAME).h
	install -D -m 0644 man/secure_exec_client.3 $(DESTDIR)$(MANDIR)/man3/secure_exec_client.3
	install -D -m 0755 $(SECURE_EXEC) $(DESTDIR)$(BINDIR)/secure-exec
	install -D -m 0644 man/secure-exec.1 $(DESTDIR)$(MANDIR)/man1/secure-exec.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/schemac $(DESTDIR)$(LIBDIR)/libbare.a \
	      $(DESTDIR)$(LIBDIR)/libbare.so.1 $(DESTDIR)$(LIBDIR)/libbare.so \
	      $(DESTDIR)$(INCLUDEDIR)/bare.h $(DESTDIR)$(LIBDIR)/pkgconfig/libbare.pc \
	      $(DESTDIR)$(MANDIR)/man1/schemac.1 $(DESTDIR)$(MANDIR)/man3/libbare.3 \
	      $(DESTDIR)$(BINDIR)/secure-exec-sidecar $(DESTDIR)$(MANDIR)/man1/secure-exec-sidecar.1 \
	      $(DESTDIR)$(LIBDIR)/libsecure-exec-client.a $(DESTDIR)$(MANDIR)/man3/secure_exec_client.3
	rm -rf $(DESTDIR)$(INCLUDEDIR)/secure-exec $(DESTDIR)$(DATADIR) $(DESTDIR)$(LIBEXECDIR)
	rm -rf $(DESTDIR)$(LIBDIR)/cmake/schemac
	rm -f $(DESTDIR)$(LIBDIR)/libsecure-exec-client.so.1 \
	      $(DESTDIR)$(LIBDIR)/libsecure-exec-client.so \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/secure-exec-client.pc
	rm -f $(DESTDIR)$(BINDIR)/bare-yaml $(DESTDIR)$(MANDIR)/man1/bare-yaml.1
	rm -f $(DESTDIR)$(LIBDIR)/libbare-yaml.a $(DESTDIR)$(LIBDIR)/libbare-yaml.so.1 \
	      $(DESTDIR)$(LIBDIR)/libbare-yaml.so $(DESTDIR)$(LIBDIR)/pkgconfig/libbare-yaml.pc
	rm -f $(DESTDIR)$(BINDIR)/secure-exec $(DESTDIR)$(MANDIR)/man1/secure-exec.1

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
