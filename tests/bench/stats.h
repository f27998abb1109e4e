/*
 * stats.h - what the benchmarks of the real sidecar (bench_sidecar, bench_exec, bench_stall,
 * bench_host) share: a monotonic clock in milliseconds and nearest-rank quantiles of their
 * samples.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

/* CLOCK_MONOTONIC, in milliseconds. */
double bench_now_ms(void);

/* The p-quantile (nearest rank) of v[0, n), 0 when n is 0; v itself is left as it was. Exits
 * with a message if the sorted copy cannot be made. */
double bench_quantile(const double *v, size_t n, double p);

#endif
