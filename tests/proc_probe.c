/* proc_probe.c - see proc_probe.h. */
#include "proc_probe.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long probe_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

void probe_reset_peak(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "we");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fputs("5", f);
    ck_assert_int_eq(fclose(f), 0);
}
