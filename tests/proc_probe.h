/*
 * proc_probe.h - what the suites that bound the sidecar's memory (check_vmfs, check_escape)
 * read of it through /proc (proc(5)). Failures are Check assertions.
 */
#ifndef PROC_PROBE_H
#define PROC_PROBE_H

#include <sys/types.h>

/* A "Name: value kB" field of /proc/<pid>/status (VmRSS, VmHWM), in KiB; -1 when absent. */
long probe_status_kib(pid_t pid, const char *field);

/* Resets the peak RSS (VmHWM) of pid to its current RSS (clear_refs "5"). */
void probe_reset_peak(pid_t pid);

#endif
