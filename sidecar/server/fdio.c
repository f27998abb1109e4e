/* fdio.c - small file descriptor helpers (fdio.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"

int sc_write_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n > 0) {
        ssize_t k = write(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

size_t sc_read_upto(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

int sc_write_text(const char *path, const char *text)
{
    return sc_write_text_at(AT_FDCWD, path, text);
}

int sc_write_text_at(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    if (n == (ssize_t)len)
        return 0;
    errno = n < 0 ? saved : EIO;
    return -1;
}

long sc_read_text_at(int dirfd, const char *name, char *buf, size_t size)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = sc_read_upto(fd, buf, size - 1);
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

/* Closes lo..hi: close_range, or one at a time on a kernel without it. */
static void close_span(unsigned lo, unsigned hi)
{
    if (lo > hi || syscall(SYS_close_range, lo, hi, 0u) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = lo; fd <= (long)hi && fd < (max > 0 ? max : 1024); fd++)
        close((int)fd);
}

void sc_close_all_but(int *keep, int n, int from)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned lo = (unsigned)from;
    for (int i = 0; i < n; i++) {
        if (keep[i] < from)
            continue;
        if ((unsigned)keep[i] > lo)
            close_span(lo, (unsigned)keep[i] - 1);
        lo = (unsigned)keep[i] + 1;
    }
    close_span(lo, ~0u);
}
