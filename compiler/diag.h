/* diag.h - GCC-style diagnostics with source line, caret and notes; counts and an error limit. */
#ifndef SCHEMAC_DIAG_H
#define SCHEMAC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ast.h"

typedef struct diag {
    const char *file; /* as given on the command line */
    const char *src;  /* the schema text, for caret lines */
    size_t src_len;
    FILE *out;
    int errors, warnings;
    int error_limit;    /* 0: no limit */
    bool limit_reached; /* stop producing errors */
    bool drop_notes;    /* the last error was not printed, so neither are its notes */
} diag_t;

void diag_init(diag_t *d, const char *file, const char *src, size_t src_len, FILE *out);

#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
void diag_error(diag_t *d, src_span_t span, const char *fmt, ...) DIAG_PRINTF(3, 4);
void diag_warn(diag_t *d, src_span_t span, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* A note attached to the last error or warning. */
void diag_note(diag_t *d, src_span_t span, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* An error without a source location (I/O, usage). */
void diag_plain_error(diag_t *d, const char *fmt, ...) DIAG_PRINTF(2, 3);
/* "N errors generated." when there were any (and how many were shown, past the limit). */
void diag_summary(diag_t *d);

#endif
