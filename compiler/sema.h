/* sema.h - name resolution, semantic checks, C naming and emission order. */
#ifndef SCHEMAC_SEMA_H
#define SCHEMAC_SEMA_H

#include "ast.h"
#include "diag.h"
#include "schemac.h"

/* Interned names to declarations: an open-addressing hash table in the arena. */
typedef struct sym_table {
    ast_decl_t **slots;
    size_t cap;
} sym_table_t;

bool sym_init(sym_table_t *t, bare_arena_t *a, size_t expected);
ast_decl_t *sym_find(const sym_table_t *t, const char *name);
/* Inserts d unless its name is present; returns the existing declaration or NULL. */
ast_decl_t *sym_insert(sym_table_t *t, ast_decl_t *d);

typedef struct sema {
    bare_arena_t *arena;
    diag_t *diag;
    ast_schema_t *schema;
    bool legacy;
    sym_table_t syms;
    ast_decl_t *cur;
} sema_t;

/* Resolves names and reports every rule of the BARE draft the schema breaks. */
void sema_check(sema_t *s);

/* One unit of output: a named type, or an anonymous/structural type, or a map entry. */
typedef enum def_kind { DEF_DECL, DEF_TYPE, DEF_ENTRY } def_kind_t;

typedef struct def {
    def_kind_t kind;
    ast_decl_t *decl; /* DEF_DECL */
    ast_type_t *type; /* the defining node: decl root, canonical node, or the map */
    ast_emit_t *e;    /* names and flags of this definition */
    bool struct_like; /* its C type is a struct, so it can be declared ahead */
    const char *tag;  /* the struct tag (for struct_like) */
    int mark;
    int scc_index, scc_low;
    bool on_stack;
    int scc;
} def_t;

typedef struct emit_model {
    const char *prefix;       /* lower case */
    const char *prefix_upper; /* upper case */
    def_t **defs;             /* in emission order: dependencies first */
    size_t ndefs;
} emit_model_t;

/* Names every C identifier, detects collisions, boxes recursive edges and orders definitions. */
bool order_build(sema_t *s, const char *prefix, emit_model_t *m);
/* The definition that carries type t's C type (NULL for primitives). */
def_t *order_def_of(const ast_type_t *t);

/* A schema read, parsed, checked and named (desc.c): what schemac_load and compat work on. */
typedef struct schemac_front {
    bare_arena_t arena; /* the tree, the model and the descriptors built from them */
    diag_t diag;
    ast_schema_t schema;
    emit_model_t model;
    char *text; /* the schema text when it was read from the file */
    size_t len;
} schemac_front_t;

/* schemac_compile's steps before generation; the same diagnostics and return values. */
int schemac_front_load(const schemac_options_t *opt, FILE *diag_out, schemac_front_t *f);
void schemac_front_free(schemac_front_t *f);

#endif
