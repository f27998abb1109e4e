/* ast.h - the schema's syntax tree, allocated from one arena and annotated by check and order. */
#ifndef SCHEMAC_AST_H
#define SCHEMAC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bare.h"

/* A source range: 1-based line and byte column of the first and last byte. */
typedef struct src_span {
    int first_line, first_column;
    int last_line, last_column;
} src_span_t;

typedef enum ast_kind {
    AST_UINT,
    AST_INT,
    AST_U8,
    AST_U16,
    AST_U32,
    AST_U64,
    AST_I8,
    AST_I16,
    AST_I32,
    AST_I64,
    AST_F32,
    AST_F64,
    AST_BOOL,
    AST_STR,
    AST_DATA,
    AST_VOID,
    AST_DATA_FIXED,
    AST_OPTIONAL,
    AST_LIST,
    AST_LIST_FIXED,
    AST_MAP,
    AST_ENUM,
    AST_UNION,
    AST_STRUCT,
    AST_NAMED, /* a reference to a user type */
    AST_ERROR  /* what the parser put in place of a syntax error */
} ast_kind_t;

typedef struct ast_type ast_type_t;
typedef struct ast_decl ast_decl_t;

typedef struct ast_field {
    struct ast_field *next;
    const char *name;
    src_span_t span;
    ast_type_t *type;
    const char *c_name; /* set by order */
} ast_field_t;

typedef struct ast_enum_value {
    struct ast_enum_value *next;
    const char *name;
    src_span_t span;
    bool explicit_value;
    uint64_t value;
    src_span_t value_span;
    const char *c_name;
} ast_enum_value_t;

typedef struct ast_member {
    struct ast_member *next;
    ast_type_t *type;
    bool explicit_tag;
    uint64_t tag;
    src_span_t tag_span;
    const char *c_name;     /* storage name inside the C union; NULL for void */
    const char *tag_const;  /* tag constant */
    const char *label;      /* name in descriptors and paths */
    bool boxed;
} ast_member_t;

/* Annotations for emission, filled in by order.c. */
typedef struct ast_emit {
    const char *stem;   /* function-name stem: "sx_exec_request", "sx_str_list" */
    const char *c_type; /* C type name: "sx_exec_request_t", "bare_str_t", "uint32_t" */
    ast_type_t *canon;  /* the node that carries the definitions of this structural type */
    bool is_public;     /* named type: functions are extern */
    bool emitted;
    bool boxed;         /* optional: value behind a pointer */
    bool needs_check;   /* has something to validate */
    bool needs_init;    /* zero bytes are not a valid value */
    size_t min_size;    /* smallest encoding in bytes */
    bool init_called;   /* some other init calls this one */
    bool desc_used;     /* some other descriptor points at this one */
    void *def;          /* the def_t (sema.h) that defines this type */
} ast_emit_t;

struct ast_type {
    ast_kind_t kind;
    src_span_t span;
    ast_type_t *elem;       /* OPTIONAL, LIST, LIST_FIXED; MAP value */
    ast_type_t *key;        /* MAP */
    uint64_t length;        /* DATA_FIXED, LIST_FIXED */
    bool length_overflow;   /* the length literal did not fit in 64 bits */
    src_span_t length_span;
    const char *ref;        /* NAMED */
    ast_decl_t *decl;       /* NAMED, after resolution */
    ast_field_t *fields;    /* STRUCT */
    ast_enum_value_t *values; /* ENUM */
    ast_member_t *members;  /* UNION */
    size_t count;
    ast_decl_t *owner;      /* the declaration this node appears in */
    const char *anon_path;  /* snake-case path for anonymous aggregates */
    ast_emit_t e;
};

struct ast_decl {
    ast_decl_t *next;
    const char *name;
    src_span_t span; /* the name */
    ast_type_t *type;
    size_t index;    /* position in the schema */
    bool finite;     /* has a finite value (recursion check) */
    ast_emit_t e;    /* stem and C type of the named type */
};

typedef struct ast_schema {
    ast_decl_t *decls;
    size_t count;
} ast_schema_t;

ast_type_t *ast_new_type(bare_arena_t *a, ast_kind_t kind, src_span_t span);
const char *ast_kind_spelling(ast_kind_t kind);
bool ast_is_primitive(ast_kind_t kind);
bool ast_is_aggregate(ast_kind_t kind);
/* Follows NAMED references to the defining type (NULL if unresolved or cyclic). */
ast_type_t *ast_resolve(ast_type_t *t);
/* The type's spelling in schema syntax ("list<str>", "Foo", "struct"), arena-allocated. */
const char *ast_spelling(bare_arena_t *a, const ast_type_t *t);
/* Writes the schema back in canonical syntax. */
void ast_print_schema(const ast_schema_t *s, void (*out)(void *ud, const char *text), void *ud);

char *ast_strdup(bare_arena_t *a, const char *s);
char *ast_strndup(bare_arena_t *a, const char *s, size_t n);
char *ast_printf(bare_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
