/* check.c - semantic checks of the BARE draft: names, duplicates, ordering, void, map keys,
 * fixed lengths and recursion. Each rule reports where it broke and, for repeats, where the
 * first occurrence is. */
#include <ctype.h>
#include <string.h>

#include "sema.h"

static const char *const builtin_names[] = {
    "uint", "int", "u8",  "u16", "u32", "u64",  "i8",   "i16",  "i32",
    "i64",  "f32", "f64", "bool", "str", "data", "void",
};

/* Levenshtein distance, capped: enough to rank "did you mean" candidates. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void undefined_type(sema_t *s, ast_type_t *t)
{
    const char *best = NULL;
    ast_decl_t *best_decl = NULL;
    size_t best_d = strlen(t->ref) / 3 + 1;
    if (best_d > 3)
        best_d = 3;
    best_d++;
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        size_t dist = edit_distance(t->ref, d->name);
        if (dist < best_d) {
            best_d = dist;
            best = d->name;
            best_decl = d;
        }
    }
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++) {
        size_t dist = edit_distance(t->ref, builtin_names[i]);
        if (strcmp(t->ref, "string") == 0 && strcmp(builtin_names[i], "str") == 0)
            dist = 0;
        if (dist < best_d) {
            best_d = dist;
            best = builtin_names[i];
            best_decl = NULL;
        }
    }
    if (!best) {
        diag_error(s->diag, t->span, "unknown type '%s'", t->ref);
        return;
    }
    diag_error(s->diag, t->span, "unknown type '%s'; did you mean '%s'?", t->ref, best);
    if (best_decl)
        diag_note(s->diag, best_decl->span, "'%s' is defined here", best);
}

static bool valid_type_name(const char *n)
{
    if (!isupper((unsigned char)n[0]))
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p))
            return false;
    return true;
}

static void check_length(sema_t *s, ast_type_t *t)
{
    if (t->length_overflow || t->length == 0 || t->length > UINT32_MAX)
        diag_error(s->diag, t->length_span,
                   "fixed length %s is out of range; it must be between 1 and 4294967295",
                   t->length_overflow ? "(beyond 64 bits)"
                                      : ast_printf(s->arena, "%llu",
                                                   (unsigned long long)t->length));
}

/* Structural equality, for repeated union members. */
static bool same_type(const ast_type_t *a, const ast_type_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case AST_NAMED:
        return strcmp(a->ref, b->ref) == 0;
    case AST_DATA_FIXED:
        return a->length == b->length;
    case AST_OPTIONAL:
    case AST_LIST:
        return same_type(a->elem, b->elem);
    case AST_LIST_FIXED:
        return a->length == b->length && same_type(a->elem, b->elem);
    case AST_MAP:
        return same_type(a->key, b->key) && same_type(a->elem, b->elem);
    case AST_STRUCT: {
        const ast_field_t *x = a->fields, *y = b->fields;
        for (; x && y; x = x->next, y = y->next)
            if (strcmp(x->name, y->name) != 0 || !same_type(x->type, y->type))
                return false;
        return !x && !y;
    }
    case AST_ENUM: {
        const ast_enum_value_t *x = a->values, *y = b->values;
        for (; x && y; x = x->next, y = y->next)
            if (strcmp(x->name, y->name) != 0 || x->value != y->value)
                return false;
        return !x && !y;
    }
    case AST_UNION: {
        const ast_member_t *x = a->members, *y = b->members;
        for (; x && y; x = x->next, y = y->next)
            if (x->tag != y->tag || !same_type(x->type, y->type))
                return false;
        return !x && !y;
    }
    default:
        return true;
    }
}

static void check_type(sema_t *s, ast_type_t *t);

static void check_enum(sema_t *s, ast_type_t *t)
{
    if (!t->values) {
        diag_error(s->diag, t->span, "an enum needs at least one value");
        return;
    }
    uint64_t next = 0;
    bool next_overflows = false;
    const ast_enum_value_t *prev = NULL;
    for (ast_enum_value_t *v = t->values; v; v = v->next) {
        for (const ast_enum_value_t *w = t->values; w != v; w = w->next) {
            if (strcmp(w->name, v->name) == 0) {
                diag_error(s->diag, v->span, "duplicate enum value name '%s'", v->name);
                diag_note(s->diag, w->span, "'%s' first defined here", w->name);
                break;
            }
        }
        if (!v->explicit_value) {
            if (next_overflows) {
                diag_error(s->diag, v->span, "the value of '%s' would exceed 2^64-1", v->name);
                continue;
            }
            v->value = next;
        }
        src_span_t at = v->explicit_value ? v->value_span : v->span;
        const ast_enum_value_t *same = NULL;
        for (const ast_enum_value_t *w = t->values; w != v; w = w->next)
            if (w->value == v->value)
                same = w;
        if (same) {
            diag_error(s->diag, at, "enum value %llu of '%s' repeats the value of '%s'",
                       (unsigned long long)v->value, v->name, same->name);
            diag_note(s->diag, same->span, "'%s' has value %llu", same->name,
                      (unsigned long long)same->value);
        } else if (prev && v->value < prev->value) {
            diag_error(s->diag, at,
                       "enum values must ascend: '%s' = %llu follows '%s' = %llu", v->name,
                       (unsigned long long)v->value, prev->name,
                       (unsigned long long)prev->value);
        }
        next_overflows = v->value == UINT64_MAX;
        next = v->value + (next_overflows ? 0 : 1);
        prev = v;
    }
}

static void check_union(sema_t *s, ast_type_t *t)
{
    if (!t->members) {
        diag_error(s->diag, t->span, "a union needs at least one member");
        return;
    }
    uint64_t next = 0;
    bool next_overflows = false;
    const ast_member_t *prev = NULL;
    for (ast_member_t *m = t->members; m; m = m->next) {
        check_type(s, m->type);
        for (const ast_member_t *w = t->members; w != m; w = w->next) {
            if (same_type(w->type, m->type)) {
                diag_error(s->diag, m->type->span, "'%s' is already a member of this union",
                           ast_spelling(s->arena, m->type));
                diag_note(s->diag, w->type->span, "first listed here");
                break;
            }
        }
        if (!m->explicit_tag) {
            if (next_overflows) {
                diag_error(s->diag, m->type->span, "the tag of this member would exceed 2^64-1");
                continue;
            }
            m->tag = next;
        }
        src_span_t at = m->explicit_tag ? m->tag_span : m->type->span;
        const ast_member_t *same = NULL;
        for (const ast_member_t *w = t->members; w != m; w = w->next)
            if (w->tag == m->tag)
                same = w;
        if (same) {
            diag_error(s->diag, at, "union tag %llu of '%s' repeats the tag of '%s'",
                       (unsigned long long)m->tag, ast_spelling(s->arena, m->type),
                       ast_spelling(s->arena, same->type));
            diag_note(s->diag, same->type->span, "'%s' has tag %llu",
                      ast_spelling(s->arena, same->type), (unsigned long long)same->tag);
        } else if (prev && m->tag < prev->tag) {
            diag_error(s->diag, at, "union tags must ascend: %llu follows %llu",
                       (unsigned long long)m->tag, (unsigned long long)prev->tag);
            diag_note(s->diag, prev->type->span, "'%s' has tag %llu",
                      ast_spelling(s->arena, prev->type), (unsigned long long)prev->tag);
        }
        next_overflows = m->tag == UINT64_MAX;
        next = m->tag + (next_overflows ? 0 : 1);
        prev = m;
    }
}

static void check_struct(sema_t *s, ast_type_t *t)
{
    if (!t->fields) {
        diag_error(s->diag, t->span, "a struct needs at least one field");
        return;
    }
    for (ast_field_t *f = t->fields; f; f = f->next) {
        for (const ast_field_t *g = t->fields; g != f; g = g->next) {
            if (strcmp(g->name, f->name) == 0) {
                diag_error(s->diag, f->span, "duplicate field '%s'", f->name);
                diag_note(s->diag, g->span, "'%s' first defined here", g->name);
                break;
            }
        }
        check_type(s, f->type);
    }
}

/* Resolution and the rules that need no resolved types. */
static void check_type(sema_t *s, ast_type_t *t)
{
    t->owner = s->cur;
    switch (t->kind) {
    case AST_NAMED: {
        ast_decl_t *d = sym_find(&s->syms, t->ref);
        if (!d) {
            undefined_type(s, t);
            return;
        }
        t->decl = d;
        if (!s->legacy && d->index >= s->cur->index) {
            if (d == s->cur)
                diag_error(s->diag, t->span,
                           "'%s' refers to itself; recursive types need --legacy", t->ref);
            else
                diag_error(s->diag, t->span,
                           "type '%s' is used before its definition (--legacy allows it)",
                           t->ref);
            diag_note(s->diag, d->span, "'%s' is defined here", d->name);
        }
        return;
    }
    case AST_DATA_FIXED:
        check_length(s, t);
        return;
    case AST_OPTIONAL:
    case AST_LIST:
        check_type(s, t->elem);
        return;
    case AST_LIST_FIXED:
        check_length(s, t);
        check_type(s, t->elem);
        return;
    case AST_MAP:
        check_type(s, t->key);
        check_type(s, t->elem);
        return;
    case AST_ENUM:
        check_enum(s, t);
        return;
    case AST_UNION:
        check_union(s, t);
        return;
    case AST_STRUCT:
        check_struct(s, t);
        return;
    default:
        return;
    }
}

/* A named type's definition through any aliases; NULL while unresolved or cyclic. */
static ast_type_t *resolve(sema_t *s, ast_type_t *t)
{
    for (size_t hops = 0; t && t->kind == AST_NAMED; hops++) {
        if (!t->decl || hops > s->schema->count)
            return NULL;
        t = t->decl->type;
    }
    return t;
}

static bool valid_key(const ast_type_t *k)
{
    switch (k->kind) {
    case AST_F32:
    case AST_F64:
    case AST_VOID:
        return false;
    case AST_ENUM:
        return true;
    default:
        return ast_is_primitive(k->kind);
    }
}

/* Rules that need resolved names: where void may appear, and what a map key may be. */
static void check_placement(sema_t *s, ast_type_t *t, bool union_member)
{
    ast_type_t *r = resolve(s, t);
    if (r && r->kind == AST_VOID && !union_member) {
        if (t->kind == AST_NAMED)
            diag_error(s->diag, t->span,
                       "'%s' is void, and void is only allowed as a union member", t->ref);
        else
            diag_error(s->diag, t->span, "'void' is only allowed as a union member");
        return;
    }
    switch (t->kind) {
    case AST_OPTIONAL:
    case AST_LIST:
    case AST_LIST_FIXED:
        check_placement(s, t->elem, false);
        break;
    case AST_MAP: {
        check_placement(s, t->key, false);
        check_placement(s, t->elem, false);
        ast_type_t *k = resolve(s, t->key);
        if (k && k->kind != AST_VOID && !valid_key(k))
            diag_error(s->diag, t->key->span,
                       "'%s' cannot be a map key; keys are primitive types other than f32, f64 "
                       "and void, or enums",
                       ast_spelling(s->arena, t->key));
        break;
    }
    case AST_UNION:
        for (ast_member_t *m = t->members; m; m = m->next)
            check_placement(s, m->type, true);
        break;
    case AST_STRUCT:
        for (ast_field_t *f = t->fields; f; f = f->next)
            check_placement(s, f->type, false);
        break;
    default:
        break;
    }
}

/* Does t have a finite value, given which declarations are known to have one? */
static bool finite(const ast_type_t *t)
{
    switch (t->kind) {
    case AST_NAMED:
        return !t->decl || t->decl->finite;
    case AST_LIST_FIXED:
        return finite(t->elem);
    case AST_STRUCT:
        for (const ast_field_t *f = t->fields; f; f = f->next)
            if (!finite(f->type))
                return false;
        return true;
    case AST_UNION:
        for (const ast_member_t *m = t->members; m; m = m->next)
            if (finite(m->type))
                return true;
        return !t->members;
    default:
        /* primitives, enums, and optional/list/map, which can always be empty */
        return true;
    }
}

/*
 * A recursive type must be able to stop: a least fixed point over the declarations finds the
 * ones with a finite value; the rest contain themselves with nothing to end the recursion.
 */
static void check_recursion(sema_t *s)
{
    bool changed = true;
    for (ast_decl_t *d = s->schema->decls; d; d = d->next)
        d->finite = false;
    while (changed) {
        changed = false;
        for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
            if (!d->finite && finite(d->type)) {
                d->finite = true;
                changed = true;
            }
        }
    }
    for (ast_decl_t *d = s->schema->decls; d; d = d->next)
        if (!d->finite)
            diag_error(s->diag, d->span,
                       "'%s' contains itself with no optional, list, map or union member to "
                       "end the recursion",
                       d->name);
}

void sema_check(sema_t *s)
{
    if (!sym_init(&s->syms, s->arena, s->schema->count)) {
        diag_plain_error(s->diag, "out of memory");
        return;
    }
    if (!s->schema->decls) {
        src_span_t start = {1, 1, 1, 1};
        diag_error(s->diag, start, "the schema declares no types");
        return;
    }
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        if (!valid_type_name(d->name))
            diag_error(s->diag, d->span,
                       "type name '%s' must start with an upper-case letter and contain only "
                       "letters and digits",
                       d->name);
        ast_decl_t *first = sym_insert(&s->syms, d);
        if (first) {
            diag_error(s->diag, d->span, "duplicate type '%s'", d->name);
            diag_note(s->diag, first->span, "'%s' first defined here", first->name);
        }
    }
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        s->cur = d;
        check_type(s, d->type);
    }
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        s->cur = d;
        /* A named void type is fine on its own; its uses are checked where they appear. */
        if (d->type->kind != AST_VOID && d->type->kind != AST_NAMED)
            check_placement(s, d->type, false);
    }
    if (s->legacy)
        check_recursion(s);
}
