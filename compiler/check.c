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
        /* a name that shares nothing with the typo is no suggestion ('A' for 'B') */
        if (dist >= strlen(t->ref) || dist >= strlen(d->name))
            continue;
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

/* The draft's enum-value-name: UPPER *(UPPER / DIGIT / "_"). */
static bool valid_enum_value_name(const char *n)
{
    if (!isupper((unsigned char)n[0]))
        return false;
    for (const char *p = n; *p; p++)
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

static void check_length(sema_t *s, ast_type_t *t)
{
    if (t->length_overflow)
        diag_error(s->diag, t->length_span,
                   "fixed length does not fit in 64 bits; it must be between 1 and "
                   "4294967295");
    else if (t->length == 0 || t->length > UINT32_MAX)
        diag_error(s->diag, t->length_span,
                   "fixed length %llu is out of range; it must be between 1 and 4294967295",
                   (unsigned long long)t->length);
}

/* "struct 'Point'" for a declaration's own aggregate, "the anonymous struct" inside one. */
static const char *aggregate_name(sema_t *s, const ast_type_t *t)
{
    if (s->cur && s->cur->type == t)
        return ast_printf(s->arena, "%s '%s'", ast_kind_spelling(t->kind), s->cur->name);
    return ast_printf(s->arena, "the anonymous %s", ast_kind_spelling(t->kind));
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

/* Where an enum value or a union member gets its number: "RED = 1", or just "RED". */
static src_span_t value_site(const ast_enum_value_t *v)
{
    src_span_t at = v->span;
    if (v->explicit_value) {
        at.last_line = v->value_span.last_line;
        at.last_column = v->value_span.last_column;
    }
    return at;
}

static src_span_t tag_site(const ast_member_t *m)
{
    src_span_t at = m->type->span;
    if (m->explicit_tag) {
        at.last_line = m->tag_span.last_line;
        at.last_column = m->tag_span.last_column;
    }
    return at;
}

static void check_enum(sema_t *s, ast_type_t *t)
{
    if (!t->values) {
        diag_error(s->diag, t->span, "%s is empty; an enum needs at least one value",
                   aggregate_name(s, t));
        return;
    }
    uint64_t next = 0;
    bool next_overflows = false;
    const ast_enum_value_t *prev = NULL;
    for (ast_enum_value_t *v = t->values; v; v = v->next) {
        /* --legacy compiles schemas other tools accepted with any case; the C constants are
         * upper-cased either way, and a resulting clash is reported as a C name collision. */
        if (!s->legacy && !valid_enum_value_name(v->name)) {
            char *upper = ast_strdup(s->arena, v->name);
            for (char *p = upper; p && *p; p++)
                *p = (char)toupper((unsigned char)*p);
            bool hint = upper && valid_enum_value_name(upper);
            diag_error(s->diag, v->span,
                       "enum value name '%s' must start with an upper-case letter and contain "
                       "only upper-case letters, digits and '_'%s%s%s",
                       v->name, hint ? " (write '" : "", hint ? upper : "", hint ? "')" : "");
        }
        for (const ast_enum_value_t *w = t->values; w != v; w = w->next) {
            if (strcmp(w->name, v->name) == 0) {
                diag_error(s->diag, v->span, "duplicate enum value name '%s'", v->name);
                diag_note(s->diag, w->span, "'%s' first defined here", w->name);
                break;
            }
        }
        if (!v->explicit_value) {
            if (next_overflows) {
                diag_error(s->diag, v->span,
                           "'%s' would have the value after %llu, which does not fit in 64 bits",
                           v->name, (unsigned long long)UINT64_MAX);
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
            diag_note(s->diag, value_site(same), "'%s' has value %llu", same->name,
                      (unsigned long long)same->value);
        } else if (prev && v->value < prev->value) {
            diag_error(s->diag, at,
                       "enum values must ascend: '%s' = %llu follows '%s' = %llu", v->name,
                       (unsigned long long)v->value, prev->name,
                       (unsigned long long)prev->value);
            diag_note(s->diag, value_site(prev), "'%s' has value %llu", prev->name,
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
        diag_error(s->diag, t->span, "%s is empty; a union needs at least one member",
                   aggregate_name(s, t));
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
                diag_error(s->diag, m->type->span,
                           "'%s' would have the tag after %llu, which does not fit in 64 bits",
                           ast_spelling(s->arena, m->type), (unsigned long long)UINT64_MAX);
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
            diag_note(s->diag, tag_site(same), "'%s' has tag %llu",
                      ast_spelling(s->arena, same->type), (unsigned long long)same->tag);
        } else if (prev && m->tag < prev->tag) {
            diag_error(s->diag, at, "union tags must ascend: '%s' = %llu follows '%s' = %llu",
                       ast_spelling(s->arena, m->type), (unsigned long long)m->tag,
                       ast_spelling(s->arena, prev->type), (unsigned long long)prev->tag);
            diag_note(s->diag, tag_site(prev), "'%s' has tag %llu",
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
        diag_error(s->diag, t->span, "%s is empty; a struct needs at least one field",
                   aggregate_name(s, t));
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
        ast_type_t *k = resolve(s, t->key);
        if (k && !valid_key(k)) {
            /* What the key is, when its spelling does not say it. */
            const char *is = t->key->kind == AST_NAMED
                                 ? ast_printf(s->arena, ": it is %s%s",
                                              ast_is_primitive(k->kind) ? "" : "a ",
                                              ast_spelling(s->arena, k))
                                 : "";
            diag_error(s->diag, t->key->span,
                       "'%s' cannot be a map key%s; a key must be a primitive type other than "
                       "f32, f64 and void, or an enum",
                       ast_spelling(s->arena, t->key), is);
        } else {
            check_placement(s, t->key, false);
        }
        check_placement(s, t->elem, false);
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

/* One step of a cycle: where a declaration needs another that has no finite value. */
typedef struct cycle_edge {
    ast_type_t *ref;   /* the NAMED reference */
    const char *field; /* the field it is in, if any ("outer.inner" when nested) */
    bool via_union;    /* reached through a union none of whose members is finite */
} cycle_edge_t;

/*
 * The first reference in t to a declaration without a finite value that t cannot do without:
 * not behind an optional, list or map, and through a union only when no member is finite.
 */
static bool infinite_ref(sema_t *s, ast_type_t *t, cycle_edge_t *e)
{
    switch (t->kind) {
    case AST_NAMED:
        if (!t->decl || t->decl->finite)
            return false;
        e->ref = t;
        return true;
    case AST_LIST_FIXED:
        return infinite_ref(s, t->elem, e);
    case AST_STRUCT:
        for (ast_field_t *f = t->fields; f; f = f->next) {
            if (infinite_ref(s, f->type, e)) {
                e->field = e->field ? ast_printf(s->arena, "%s.%s", f->name, e->field) : f->name;
                return true;
            }
        }
        return false;
    case AST_UNION:
        if (finite(t))
            return false;
        for (ast_member_t *m = t->members; m; m = m->next) {
            if (infinite_ref(s, m->type, e)) {
                e->via_union = true;
                return true;
            }
        }
        return false;
    default:
        return false;
    }
}

/* Reports the cycle that starts at walk[0] and comes back to it. */
static void report_cycle(sema_t *s, ast_decl_t **walk, cycle_edge_t *edges, size_t n)
{
    ast_decl_t *d = walk[0];
    bool aliases = true, via_union = false;
    for (size_t i = 0; i < n; i++) {
        aliases = aliases && walk[i]->type->kind == AST_NAMED;
        via_union = via_union || edges[i].via_union;
    }
    if (aliases) {
        const char *chain = d->name;
        for (size_t i = 1; i <= n; i++)
            chain = ast_printf(s->arena, "%s -> %s", chain, walk[i % n]->name);
        diag_error(s->diag, d->span, "'%s' is an alias of itself (%s), so it has no value",
                   d->name, chain);
    } else if (via_union) {
        diag_error(s->diag, d->span,
                   "'%s' contains itself in every member of a union, with no optional, map or "
                   "variable-length list to end the recursion",
                   d->name);
    } else {
        diag_error(s->diag, d->span,
                   "'%s' contains itself with no optional, map, variable-length list or union "
                   "to end the recursion",
                   d->name);
    }
    for (size_t i = 0; i < n; i++) {
        const char *from = walk[i]->name, *to = edges[i].ref->ref;
        if (walk[i]->type->kind == AST_NAMED)
            diag_note(s->diag, edges[i].ref->span, "'%s' is an alias of '%s'", from, to);
        else if (edges[i].via_union)
            diag_note(s->diag, edges[i].ref->span,
                      "'%s' needs '%s' here; no member of this union ends the recursion", from,
                      to);
        else if (edges[i].field)
            diag_note(s->diag, edges[i].ref->span, "'%s' contains '%s' in field '%s'", from, to,
                      edges[i].field);
        else
            diag_note(s->diag, edges[i].ref->span, "'%s' contains '%s' here", from, to);
    }
}

/*
 * A recursive type must be able to stop: a least fixed point over the declarations finds the
 * ones with a finite value. Each of the rest needs another of them, so following those needs
 * leads into a cycle; each cycle is reported once, with its steps as notes. Declarations that
 * merely contain such a cycle are not reported: the cycle is the error.
 */
static void check_recursion(sema_t *s)
{
    bool changed = true;
    size_t n = s->schema->count;
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

    /* From each declaration without a finite value, follow what it needs until a declaration
     * repeats. seen: 0, or the walk it was seen in (from 1); pos: its place in that walk. */
    bare_arena_t *a = s->arena;
    size_t *seen = bare_arena_alloc(a, n * sizeof *seen, _Alignof(size_t));
    size_t *pos = bare_arena_alloc(a, n * sizeof *pos, _Alignof(size_t));
    ast_decl_t **walk = bare_arena_alloc(a, n * sizeof *walk, _Alignof(ast_decl_t *));
    cycle_edge_t *edges = bare_arena_alloc(a, n * sizeof *edges, _Alignof(cycle_edge_t));
    if (!seen || !walk || !edges || !pos) {
        diag_plain_error(s->diag, "out of memory");
        return;
    }
    memset(seen, 0, n * sizeof *seen);
    size_t k = 0;
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        if (d->finite || seen[d->index])
            continue;
        k++;
        size_t len = 0;
        ast_decl_t *cur = d;
        while (!seen[cur->index]) {
            seen[cur->index] = k;
            pos[cur->index] = len;
            walk[len] = cur;
            memset(&edges[len], 0, sizeof edges[len]);
            if (!infinite_ref(s, cur->type, &edges[len]))
                break; /* cannot happen: cur is not finite */
            cur = edges[len++].ref->decl;
        }
        /* Back at a declaration of this walk: from there on, the walk is a cycle. */
        if (seen[cur->index] == k && pos[cur->index] < len)
            report_cycle(s, walk + pos[cur->index], edges + pos[cur->index],
                         len - pos[cur->index]);
    }
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
