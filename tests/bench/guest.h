/*
 * guest.h - what the benchmarks that run guests through the real sidecar share (bench_exec,
 * bench_stall, bench_host): a VM, a process started by ExecuteRequest and followed to its exit
 * through the client library. A failure ends the program with a message naming it.
 */
#ifndef BENCH_GUEST_H
#define BENCH_GUEST_H

#include <stddef.h>

#include "client.h"

#define BENCH_T 60000 /* ms: every request's timeout */

/* Prints "bench: what" to stderr and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));

/* Creates a JavaScript VM with config (JSON); its id in vm (64 bytes). */
void bench_vm_new(se_client_t *c, const char *config, char *vm);

/* Starts argv (NULL-terminated, at most 15 arguments) in vm as process id; returns after
 * ProcessStarted. */
void bench_start(se_client_t *c, const char *vm, const char *id, const char *const *argv);

/* Takes events until process id exits; returns its exit code. *first (when not NULL and 0) gets
 * the time (bench_now_ms) of its first output, *bytes (when not NULL) grows by its output
 * bytes; stdout is copied to out (cap bytes, NUL-terminated) when out is not NULL. Events of
 * other processes are dropped. */
int bench_wait_exit(se_client_t *c, const char *id, double *first, size_t *bytes, char *out,
                    size_t cap);

/* Runs sh -c script in vm to its end: its exit code, its stdout in out (as above). */
int bench_sh(se_client_t *c, const char *vm, const char *script, char *out, size_t cap);

#endif
