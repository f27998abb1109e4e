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
/* The same for name relative to dirfd (AT_FDCWD: a path). */
int sc_write_text_at(int dirfd, const char *name, const char *text);

/* Reads fd into buf until n bytes, end of file or an error (EINTR is retried); how many were
 * read. */
size_t sc_read_upto(int fd, void *buf, size_t n);

/* Reads up to size - 1 bytes of dirfd/name into buf, NUL-terminated; the length, or -1 with
 * errno set. For the small files of /proc and cgroupfs. */
long sc_read_text_at(int dirfd, const char *name, char *buf, size_t size);

/* Closes every descriptor from `from` up except the n in keep (any order; negative ones are
 * ignored, and keep is sorted in place): close_range, or one at a time without it. */
void sc_close_all_but(int *keep, int n, int from);

#endif
