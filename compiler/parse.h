/* parse.h - the interface between the scanner, the parser and schemac_compile(). */
#ifndef SCHEMAC_PARSE_H
#define SCHEMAC_PARSE_H

#include <setjmp.h>

#include "ast.h"
#include "diag.h"

typedef struct parse_ctx {
    bare_arena_t *arena;
    diag_t *diag;
    ast_schema_t *schema;
    ast_decl_t **tail;
    int syntax_errors;            /* reported by the parser */
    src_span_t last_syntax_error; /* where the last one was, to drop repeats */
    bool legacy;                  /* --legacy: the pre-2022 spellings are accepted, not errors */
    bool vbare;                   /* --dialect vbare: '//' comments and map<K, V> too */
} parse_ctx_t;

/* Scanner state (flex's extra data). */
typedef struct lex_state {
    parse_ctx_t *pc;
    int line, col;         /* position of the next byte */
    int end_line, end_col; /* last byte of the last token (0: none yet) */
    jmp_buf fatal;         /* flex's internal fatal errors land here */
} lex_state_t;

/* A token's value: its spelling for names and keywords, its number for integers. */
typedef struct lex_token {
    const char *text;
    ast_kind_t prim; /* for primitive type keywords */
    uint64_t num;
    bool overflow;
} lex_token_t;

/* Parses src into pc->schema; returns the number of errors reported. */
int parse_schema(parse_ctx_t *pc, const char *src, size_t len, bool trace);

#endif
