/* diag.c - diagnostics in the GCC/clang format so editors can jump to them. */
#include <stdarg.h>
#include <string.h>

#include "diag.h"

void diag_init(diag_t *d, const char *file, const char *src, size_t src_len, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->file = file;
    d->src = src;
    d->src_len = src_len;
    d->out = out;
    d->error_limit = 20;
}

/* The text of line n (1-based) without its newline. */
static bool find_line(const diag_t *d, int n, const char **start, size_t *len)
{
    const char *p = d->src, *end = d->src + d->src_len;
    if (!p || n < 1)
        return false;
    for (int line = 1; line < n; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *start = p;
    *len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (*len && p[*len - 1] == '\r')
        (*len)--;
    return true;
}

static void print_source(diag_t *d, src_span_t s)
{
    const char *line;
    size_t len;
    if (!find_line(d, s.first_line, &line, &len))
        return;
    fprintf(d->out, "%5d | ", s.first_line);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        fputc(c == '\t' || c >= 0x20 ? c : '?', d->out);
    }
    fputs("\n      | ", d->out);
    size_t col = s.first_column > 0 ? (size_t)s.first_column - 1 : 0;
    /* Tabs are copied so the caret lines up whatever the tab width. */
    for (size_t i = 0; i < col && i < len; i++)
        fputc(line[i] == '\t' ? '\t' : ' ', d->out);
    for (size_t i = len; i < col; i++)
        fputc(' ', d->out);
    size_t last = s.last_line == s.first_line && s.last_column >= s.first_column
                      ? (size_t)s.last_column
                      : (len > col ? len : col + 1);
    fputc('^', d->out);
    for (size_t i = col + 1; i < last; i++)
        fputc('~', d->out);
    fputc('\n', d->out);
}

static void vreport(diag_t *d, const char *kind, src_span_t s, const char *fmt, va_list ap)
    DIAG_PRINTF(4, 0);
static void vreport(diag_t *d, const char *kind, src_span_t s, const char *fmt, va_list ap)
{
    if (s.first_line > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", d->file, s.first_line, s.first_column, kind);
    else
        fprintf(d->out, "%s: %s: ", d->file, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    if (s.first_line > 0)
        print_source(d, s);
}

void diag_error(diag_t *d, src_span_t span, const char *fmt, ...)
{
    va_list ap;
    d->errors++;
    if (d->error_limit > 0 && d->errors > d->error_limit) {
        if (!d->limit_reached)
            fprintf(d->out, "%s: fatal error: too many errors emitted, stopping now "
                            "[-ferror-limit=%d]\n",
                    d->file, d->error_limit);
        d->limit_reached = true;
        d->drop_notes = true;
        return;
    }
    d->drop_notes = false;
    va_start(ap, fmt);
    vreport(d, "error", span, fmt, ap);
    va_end(ap);
}

void diag_warn(diag_t *d, src_span_t span, const char *fmt, ...)
{
    va_list ap;
    d->warnings++;
    d->drop_notes = d->limit_reached;
    if (d->limit_reached)
        return;
    va_start(ap, fmt);
    vreport(d, "warning", span, fmt, ap);
    va_end(ap);
}

void diag_note(diag_t *d, src_span_t span, const char *fmt, ...)
{
    va_list ap;
    if (d->drop_notes)
        return;
    va_start(ap, fmt);
    vreport(d, "note", span, fmt, ap);
    va_end(ap);
}

void diag_plain_error(diag_t *d, const char *fmt, ...)
{
    va_list ap;
    src_span_t none = {0, 0, 0, 0};
    d->errors++;
    va_start(ap, fmt);
    vreport(d, "error", none, fmt, ap);
    va_end(ap);
}

void diag_summary(diag_t *d)
{
    if (d->limit_reached)
        fprintf(d->out, "%d errors generated (the first %d shown).\n", d->errors,
                d->error_limit);
    else if (d->errors)
        fprintf(d->out, "%d error%s generated.\n", d->errors, d->errors == 1 ? "" : "s");
}
