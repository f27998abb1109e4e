# tests/bench/sidecar.mk - included by tests/tests.mk: `make bench-sidecar` builds and runs the
# benchmarks of the real sidecar through the client library: bench_sidecar (lifecycle, request
# streams, memory, GuestFilesystemCall, snapshots), bench_exec (guest execution) and bench_stall
# (what one VM's disposal or snapshot costs the others), which share stats.c (clock, quantiles);
# `make bench` runs them as well. Not a test and not part of `make check`; they need root, as
# the sidecar does.

BENCH_SIDECAR_PROGS := $(O)/bench/bench_sidecar $(O)/bench/bench_exec $(O)/bench/bench_stall

.PHONY: bench-sidecar

$(BENCH_SIDECAR_PROGS:$(O)/bench/%=$(O)/tests/bench/%.o) $(O)/tests/bench/stats.o: \
    XCPPFLAGS = -D_GNU_SOURCE -Isidecar/client -Igenerated
$(BENCH_SIDECAR_PROGS): $(O)/bench/%: $(O)/tests/bench/%.o $(O)/tests/bench/stats.o $(LIBCLIENT) \
    $(WIRE_OBJ) $(LIBBARE_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(YAML_LIBS)

bench-sidecar: $(BENCH_SIDECAR_PROGS) $(SIDECAR)
	$(O)/bench/bench_sidecar $(SIDECAR)
	$(O)/bench/bench_exec $(SIDECAR)
	$(O)/bench/bench_stall $(SIDECAR)

# make bench runs these too
bench: bench-sidecar
