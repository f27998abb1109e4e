/* emit.c - growable text buffers with indentation, and atomic output files. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"

void emit_init(emitter_t *e)
{
    memset(e, 0, sizeof *e);
}

void emit_free(emitter_t *e)
{
    free(e->buf);
    memset(e, 0, sizeof *e);
}

static void vappend(emitter_t *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vappend(emitter_t *e, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || e->oom)
        return;
    size_t need = e->len + (size_t)n + 1;
    if (need > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = realloc(e->buf, cap);
        if (!p) {
            e->oom = true;
            return;
        }
        e->buf = p;
        e->cap = cap;
    }
    vsnprintf(e->buf + e->len, (size_t)n + 1, fmt, ap);
    e->len += (size_t)n;
}

void emit_raw(emitter_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(e, fmt, ap);
    va_end(ap);
}

void emit_line(emitter_t *e, const char *fmt, ...)
{
    va_list ap;
    for (int i = 0; i < e->indent; i++)
        emit_raw(e, "    ");
    va_start(ap, fmt);
    vappend(e, fmt, ap);
    va_end(ap);
    emit_raw(e, "\n");
}

void emit_blank(emitter_t *e)
{
    emit_raw(e, "\n");
}

void emit_indent(emitter_t *e)
{
    e->indent++;
}

void emit_dedent(emitter_t *e)
{
    if (e->indent > 0)
        e->indent--;
}

int emit_write_temp(const char *path, const char *data, size_t len, char **tmp_out)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 32);
    *tmp_out = NULL;
    if (!tmp)
        return ENOMEM;
    snprintf(tmp, n + 32, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return err;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return err;
        }
        p += k;
        left -= (size_t)k;
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        free(tmp);
        return err;
    }
    *tmp_out = tmp;
    return 0;
}
