/* fdio.h - small file descriptor helpers the sidecar's modules share. */
#ifndef SC_FDIO_H
#define SC_FDIO_H

#include <stddef.h>

/* Writes all n bytes, retrying short writes and EINTR; 0, or -1 with errno set. */
int sc_write_all(int fd, const void *p, size_t n);

/*
 * Writes text to the existing file at path in a single write(2), as files of /proc
 * (uid_map, setgroups) and of cgroupfs require; 0, or -1 with errno set (also for a short
 * write, which such files never make).
 */
int sc_write_text(const char *path, const char *text);

#endif
