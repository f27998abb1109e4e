/* stats.c - see stats.h. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_quantile(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    double *w = malloc(n * sizeof *w);
    if (!w) {
        fputs("bench: out of memory for a quantile\n", stderr);
        exit(1);
    }
    memcpy(w, v, n * sizeof *w);
    qsort(w, n, sizeof *w, cmp_double);
    double x = w[(size_t)(p * (double)(n - 1) + 0.5)];
    free(w);
    return x;
}
