/* emit.h - output text buffers, atomic file writes, and the generators of header and source. */
#ifndef SCHEMAC_EMIT_H
#define SCHEMAC_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "sema.h"

typedef struct emitter {
    char *buf;
    size_t len, cap;
    bool oom;
    int indent; /* in levels of four spaces */
} emitter_t;

void emit_init(emitter_t *e);
void emit_free(emitter_t *e);
/* Appends formatted text as is. */
void emit_raw(emitter_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one line at the current indentation. */
void emit_line(emitter_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_blank(emitter_t *e);
void emit_indent(emitter_t *e);
void emit_dedent(emitter_t *e);

/*
 * Writes data to a temporary file beside path and returns its name in *tmp_out (malloc'd);
 * the caller renames it over path once every output is ready. Returns 0 or an errno value.
 */
int emit_write_temp(const char *path, const char *data, size_t len, char **tmp_out);

/* What the generators need besides the model. */
typedef struct gen {
    const emit_model_t *m;
    const ast_schema_t *schema;
    bare_arena_t *arena;
    const char *source_name; /* schema path as given */
    const char *header_name; /* file name the source includes */
    const char *guard;
    emitter_t *out;
} gen_t;

void gen_header(gen_t *g);
void gen_source(gen_t *g);
/* Dispatch tables of named unions: declarations (header) and definitions (source). */
void gen_dispatch_decls(gen_t *g, const def_t *d);
void gen_dispatch_defs(gen_t *g, const def_t *d);

/* Shared helpers of the generators. */
const ast_type_t *gen_body(const def_t *d); /* the node whose shape d lays out */
bool gen_is_named(const def_t *d);
const char *gen_spelling(gen_t *g, const ast_type_t *t);
/* true when all of an enum's values, or a union's tags, fit in a C enum (int). */
bool gen_fits_int(const ast_type_t *t);

#endif
