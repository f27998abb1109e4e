/* ast.c - syntax-tree constructors, spellings and the canonical schema printer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ast.h"

char *ast_strndup(bare_arena_t *a, const char *s, size_t n)
{
    bare_str_t str = {s, n};
    return bare_arena_strdup(a, str);
}

char *ast_strdup(bare_arena_t *a, const char *s)
{
    return ast_strndup(a, s, strlen(s));
}

char *ast_printf(bare_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = bare_arena_alloc(a, (size_t)n + 1, 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

ast_type_t *ast_new_type(bare_arena_t *a, ast_kind_t kind, src_span_t span)
{
    ast_type_t *t = bare_arena_alloc(a, sizeof *t, _Alignof(ast_type_t));
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->span = span;
    return t;
}

static const char *const spellings[] = {
    [AST_UINT] = "uint",   [AST_INT] = "int",     [AST_U8] = "u8",
    [AST_U16] = "u16",     [AST_U32] = "u32",     [AST_U64] = "u64",
    [AST_I8] = "i8",       [AST_I16] = "i16",     [AST_I32] = "i32",
    [AST_I64] = "i64",     [AST_F32] = "f32",     [AST_F64] = "f64",
    [AST_BOOL] = "bool",   [AST_STR] = "str",     [AST_DATA] = "data",
    [AST_VOID] = "void",   [AST_DATA_FIXED] = "data", [AST_OPTIONAL] = "optional",
    [AST_LIST] = "list",   [AST_LIST_FIXED] = "list", [AST_MAP] = "map",
    [AST_ENUM] = "enum",   [AST_UNION] = "union", [AST_STRUCT] = "struct",
    [AST_NAMED] = "named", [AST_ERROR] = "error",
};

const char *ast_kind_spelling(ast_kind_t kind)
{
    return spellings[kind];
}

bool ast_is_primitive(ast_kind_t kind)
{
    return kind <= AST_VOID || kind == AST_DATA_FIXED;
}

bool ast_is_aggregate(ast_kind_t kind)
{
    return kind >= AST_OPTIONAL && kind <= AST_STRUCT;
}

ast_type_t *ast_resolve(ast_type_t *t)
{
    /* A chain longer than the number of declarations would be a cycle of aliases. */
    for (int guard = 0; t && t->kind == AST_NAMED; guard++) {
        if (!t->decl || guard > 100000)
            return NULL;
        t = t->decl->type;
    }
    return t;
}

const char *ast_spelling(bare_arena_t *a, const ast_type_t *t)
{
    switch (t->kind) {
    case AST_NAMED:
        return t->ref;
    case AST_DATA_FIXED:
        return ast_printf(a, "data[%llu]", (unsigned long long)t->length);
    case AST_OPTIONAL:
        return ast_printf(a, "optional<%s>", ast_spelling(a, t->elem));
    case AST_LIST:
        return ast_printf(a, "list<%s>", ast_spelling(a, t->elem));
    case AST_LIST_FIXED:
        return ast_printf(a, "list<%s>[%llu]", ast_spelling(a, t->elem),
                          (unsigned long long)t->length);
    case AST_MAP:
        return ast_printf(a, "map<%s><%s>", ast_spelling(a, t->key), ast_spelling(a, t->elem));
    default:
        return spellings[t->kind];
    }
}

/* ---- canonical printer ---- */

typedef struct printer {
    void (*out)(void *ud, const char *text);
    void *ud;
} printer_t;

static void put(const printer_t *p, const char *s)
{
    p->out(p->ud, s);
}

static void putf(const printer_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(const printer_t *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p->out(p->ud, buf);
}

static void indent(const printer_t *p, int depth)
{
    for (int i = 0; i < depth; i++)
        put(p, "  ");
}

static void print_type(const printer_t *p, const ast_type_t *t, int depth)
{
    switch (t->kind) {
    case AST_NAMED:
        put(p, t->ref);
        break;
    case AST_DATA_FIXED:
        putf(p, "data[%llu]", (unsigned long long)t->length);
        break;
    case AST_OPTIONAL:
        put(p, "optional<");
        print_type(p, t->elem, depth);
        put(p, ">");
        break;
    case AST_LIST:
    case AST_LIST_FIXED:
        put(p, "list<");
        print_type(p, t->elem, depth);
        put(p, ">");
        if (t->kind == AST_LIST_FIXED)
            putf(p, "[%llu]", (unsigned long long)t->length);
        break;
    case AST_MAP:
        put(p, "map<");
        print_type(p, t->key, depth);
        put(p, "><");
        print_type(p, t->elem, depth);
        put(p, ">");
        break;
    case AST_ENUM:
        put(p, "enum {\n");
        for (const ast_enum_value_t *v = t->values; v; v = v->next) {
            indent(p, depth + 1);
            put(p, v->name);
            if (v->explicit_value)
                putf(p, " = %llu", (unsigned long long)v->value);
            put(p, "\n");
        }
        indent(p, depth);
        put(p, "}");
        break;
    case AST_UNION:
        put(p, "union {\n");
        for (const ast_member_t *m = t->members; m; m = m->next) {
            indent(p, depth + 1);
            print_type(p, m->type, depth + 1);
            if (m->explicit_tag)
                putf(p, " = %llu", (unsigned long long)m->tag);
            put(p, m->next ? " |\n" : "\n");
        }
        indent(p, depth);
        put(p, "}");
        break;
    case AST_STRUCT:
        put(p, "struct {\n");
        for (const ast_field_t *f = t->fields; f; f = f->next) {
            indent(p, depth + 1);
            putf(p, "%s: ", f->name);
            print_type(p, f->type, depth + 1);
            put(p, "\n");
        }
        indent(p, depth);
        put(p, "}");
        break;
    default:
        put(p, spellings[t->kind]);
        break;
    }
}

void ast_print_schema(const ast_schema_t *s, void (*out)(void *ud, const char *text), void *ud)
{
    printer_t p = {out, ud};
    for (const ast_decl_t *d = s->decls; d; d = d->next) {
        if (d != s->decls)
            put(&p, "\n");
        putf(&p, "type %s ", d->name);
        print_type(&p, d->type, 0);
        put(&p, "\n");
    }
}
