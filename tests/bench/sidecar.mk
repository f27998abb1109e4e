# tests/bench/sidecar.mk - included by tests/tests.mk: `make bench-sidecar` builds and runs the
# benchmarks of the real sidecar through the client library: bench_sidecar (lifecycle, request
# streams, memory, GuestFilesystemCall, snapshots), bench_exec (guest execution), bench_stall
# (what one VM's disposal or snapshot costs the others) and bench_host (host callbacks, js_bridge
# and host_dir mounts, VmFetch, ConfigureVm), which share stats.c (clock, quantiles); the ones
# that run guests share guest.c too. `make bench` runs them as well. Not a test and not part of
# `make check`; they need root, as the sidecar does.

BENCH_SIDECAR_PROGS := $(O)/bench/bench_sidecar $(O)/bench/bench_exec $(O)/bench/bench_stall \
    $(O)/bench/bench_host

.PHONY: bench-sidecar

$(BENCH_SIDECAR_PROGS:$(O)/bench/%=$(O)/tests/bench/%.o) $(O)/tests/bench/stats.o \
    $(O)/tests/bench/guest.o: XCPPFLAGS = -D_GNU_SOURCE -Isidecar/client -Igenerated
# bench_host answers js_bridge reads in base64 with the sidecar's encoder
$(O)/tests/bench/bench_host.o: XCPPFLAGS += -Isidecar/vmfs
# (extra objects: the link puts every object before the archives)
$(O)/bench/bench_exec $(O)/bench/bench_stall $(O)/bench/bench_host: $(O)/tests/bench/guest.o
$(O)/bench/bench_host: $(O)/sidecar/vmfs/base64.o
$(BENCH_SIDECAR_PROGS): $(O)/bench/%: $(O)/tests/bench/%.o $(O)/tests/bench/stats.o $(LIBCLIENT) \
    $(WIRE_OBJ) $(LIBBARE_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(YAML_LIBS)

# the sidecar gives guests host callback commands only with its program beside it
bench-sidecar: $(BENCH_SIDECAR_PROGS) $(SIDECAR) $(CALLBACK_PROGRAM)
	$(O)/bench/bench_sidecar $(SIDECAR)
	$(O)/bench/bench_exec $(SIDECAR)
	$(O)/bench/bench_stall $(SIDECAR)
	$(O)/bench/bench_host $(SIDECAR)

# make bench runs these too
bench: bench-sidecar
