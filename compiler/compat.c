/*
 * compat.c - `schemac --compat OLD NEW`: every difference between two schemas that matters on
 * the wire, with both locations. The rule: a change is compatible when every message valid
 * under OLD is valid under NEW with the same meaning (new readers accept what old writers
 * send); it is listed as a warning or note, the rest as errors. Types are matched by name and
 * compared structurally through aliases; a renamed type is followed where it is referenced.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sema.h"

enum { SAME = 0, COMPATIBLE = 1, BREAKING = 2 };

/* A pair of differently named types being compared, or compared as a rename. */
typedef struct pair {
    const ast_decl_t *o, *n;
    int result;
} pair_t;

typedef struct compat {
    schemac_front_t *old, *new;
    diag_t dold, dnew; /* the report: locations in either file */
    bare_arena_t arena;
    int quiet; /* > 0: compare without reporting */
    int breaking, compatible;
    pair_t *pairs;
    size_t npairs, cap;
    const ast_decl_t **renamed_to; /* new types reached by a rename, not to be listed as new */
    size_t nrenamed;
} compat_t;

/* ---- reporting ---- */

typedef enum level { L_ERROR, L_WARNING, L_NOTE } level_t;

static void report(compat_t *c, level_t level, bool in_new, src_span_t at, src_span_t other,
                   const char *other_note, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void report(compat_t *c, level_t level, bool in_new, src_span_t at, src_span_t other,
                   const char *other_note, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (c->quiet)
        return;
    if (level == L_ERROR)
        c->breaking++;
    else
        c->compatible++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_t *here = in_new ? &c->dnew : &c->dold, *there = in_new ? &c->dold : &c->dnew;
    if (level == L_ERROR)
        diag_error(here, at, "%s", msg);
    else if (level == L_WARNING)
        diag_warn(here, at, "%s", msg);
    else
        diag_note(here, at, "compatible: %s", msg);
    /* The peer location is in the other file: a note of this diagnostic. */
    if (other_note)
        diag_note(there, other, "%s", other_note);
}

static const char *spell(compat_t *c, const ast_type_t *t)
{
    return ast_spelling(&c->arena, t);
}

/* ---- lookups ---- */

static ast_decl_t *find_decl(const schemac_front_t *f, const char *name)
{
    for (ast_decl_t *d = f->schema.decls; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

/* Whether t mentions the type called name (not following references). */
static bool refers_to(const ast_type_t *t, const char *name)
{
    if (!t)
        return false;
    switch (t->kind) {
    case AST_NAMED:
        return strcmp(t->ref, name) == 0;
    case AST_OPTIONAL:
    case AST_LIST:
    case AST_LIST_FIXED:
        return refers_to(t->elem, name);
    case AST_MAP:
        return refers_to(t->key, name) || refers_to(t->elem, name);
    case AST_STRUCT:
        for (const ast_field_t *f = t->fields; f; f = f->next)
            if (refers_to(f->type, name))
                return true;
        return false;
    case AST_UNION:
        for (const ast_member_t *m = t->members; m; m = m->next)
            if (refers_to(m->type, name))
                return true;
        return false;
    default:
        return false;
    }
}

/* A type of f other than `except` that refers to name, or NULL. */
static const ast_decl_t *referrer(const schemac_front_t *f, const char *name,
                                  const schemac_front_t *must_exist_in)
{
    for (const ast_decl_t *d = f->schema.decls; d; d = d->next)
        if (strcmp(d->name, name) != 0 && refers_to(d->type, name) &&
            (!must_exist_in || find_decl(must_exist_in, d->name)))
            return d;
    return NULL;
}

/* Follows aliases to the node that has a shape. */
static const ast_type_t *shape(const ast_type_t *t)
{
    return ast_resolve((ast_type_t *)t);
}

/* data and list<u8> are the same bytes on the wire, as are data[N] and list<u8>[N]. */
static bool bytes_like(const ast_type_t *s, bool *fixed, uint64_t *len)
{
    const ast_type_t *e = s->elem ? shape(s->elem) : NULL;
    *fixed = s->kind == AST_DATA_FIXED || s->kind == AST_LIST_FIXED;
    *len = s->length;
    if (s->kind == AST_DATA || s->kind == AST_DATA_FIXED)
        return true;
    return (s->kind == AST_LIST || s->kind == AST_LIST_FIXED) && e && e->kind == AST_U8;
}

/* ---- structural comparison ---- */

static int compare(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *what,
                   const char *path, src_span_t os, src_span_t ns);

static int max_of(int a, int b)
{
    return a > b ? a : b;
}

static bool contains_name(const ast_field_t *fields, const char *name)
{
    for (; fields; fields = fields->next)
        if (strcmp(fields->name, name) == 0)
            return true;
    return false;
}

static int compare_struct(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *path)
{
    int result = SAME;
    size_t no = 0, nn = 0, i = 0;
    for (const ast_field_t *f = o->fields; f; f = f->next)
        no++;
    for (const ast_field_t *f = n->fields; f; f = f->next)
        nn++;
    const ast_field_t **by_pos =
        bare_arena_alloc(&c->arena, (nn + 1) * sizeof *by_pos, _Alignof(ast_field_t *));
    bool *matched = bare_arena_alloc(&c->arena, nn + 1, 1);
    if (!by_pos || !matched)
        return BREAKING;
    for (const ast_field_t *f = n->fields; f; f = f->next, i++) {
        by_pos[i] = f;
        matched[i] = false;
    }
    /* Fields by name; an unknown name in the place of a vanished one is a rename. */
    i = 0;
    for (const ast_field_t *f = o->fields; f; f = f->next, i++) {
        size_t j = 0;
        while (j < nn && strcmp(by_pos[j]->name, f->name) != 0)
            j++;
        if (j < nn) {
            matched[j] = true;
            result =
                max_of(result, compare(c, f->type, by_pos[j]->type,
                                       ast_printf(&c->arena, "field '%s' of '%s'", f->name, path),
                                       ast_printf(&c->arena, "%s.%s", path, f->name), f->span,
                                       by_pos[j]->span));
            continue;
        }
        if (i < nn && !matched[i] && !contains_name(o->fields, by_pos[i]->name)) {
            const ast_field_t *g = by_pos[i];
            matched[i] = true;
            c->quiet++;
            int r = compare(c, f->type, g->type, "", path, f->span, g->span);
            c->quiet--;
            if (r == SAME) {
                report(c, L_WARNING, true, g->span, f->span, "it was called this here",
                       "field '%s' of '%s' renamed to '%s' (the same on the wire)", f->name, path,
                       g->name);
                result = max_of(result, COMPATIBLE);
            } else {
                report(c, L_ERROR, true, g->span, f->span,
                       ast_printf(&c->arena, "'%s' was %s here", f->name, spell(c, f->type)),
                       "field '%s' of '%s' (%s) replaced by '%s' of type %s", f->name, path,
                       spell(c, f->type), g->name, spell(c, g->type));
                result = BREAKING;
            }
            continue;
        }
        report(c, L_ERROR, false, f->span, n->span, ast_printf(&c->arena, "'%s' is here", path),
               "field '%s' removed from '%s': BARE structs carry no field names or count, so "
               "what follows it is read from the wrong bytes",
               f->name, path);
        result = BREAKING;
    }
    /* Fields both have, out of their relative order. */
    size_t rank_o = 0;
    for (const ast_field_t *f = o->fields; f; f = f->next) {
        size_t j = 0, rank_n = 0;
        while (j < nn && strcmp(by_pos[j]->name, f->name) != 0) {
            if (contains_name(o->fields, by_pos[j]->name))
                rank_n++;
            j++;
        }
        if (j == nn)
            continue;
        if (rank_n != rank_o) {
            size_t pos_o = 1;
            for (const ast_field_t *g = o->fields; g != f; g = g->next)
                pos_o++;
            report(c, L_ERROR, true, by_pos[j]->span, f->span, "it was here",
                   "field '%s' of '%s' moved from position %zu to %zu: struct fields are "
                   "encoded in order",
                   f->name, path, pos_o, j + 1);
            result = BREAKING;
        }
        rank_o++;
    }
    for (i = 0; i < nn; i++) {
        if (matched[i] || contains_name(o->fields, by_pos[i]->name))
            continue;
        report(c, L_ERROR, true, by_pos[i]->span, o->span,
               ast_printf(&c->arena, "'%s' had %zu field%s", path, no, no == 1 ? "" : "s"),
               "field '%s' added to '%s'%s: BARE structs carry no field count, so new readers "
               "run past the end of old messages and old readers misread new ones",
               by_pos[i]->name, path, i + 1 == nn ? " at the end" : "");
        result = BREAKING;
    }
    return result;
}

static const ast_enum_value_t *value_named(const ast_type_t *t, const char *name)
{
    for (const ast_enum_value_t *v = t->values; v; v = v->next)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

static const ast_enum_value_t *value_numbered(const ast_type_t *t, uint64_t value)
{
    for (const ast_enum_value_t *v = t->values; v; v = v->next)
        if (v->value == value)
            return v;
    return NULL;
}

static int compare_enum(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *path)
{
    int result = SAME;
    uint64_t max_old = 0;
    for (const ast_enum_value_t *v = o->values; v; v = v->next) {
        const ast_enum_value_t *same_name = value_named(n, v->name);
        const ast_enum_value_t *same_num = value_numbered(n, v->value);
        max_old = v->value > max_old ? v->value : max_old;
        if (same_name && same_name->value != v->value) {
            report(c, L_ERROR, true, same_name->span, v->span, "it was here",
                   "value '%s' of '%s' renumbered from %llu to %llu: enums are encoded by "
                   "number",
                   v->name, path, (unsigned long long)v->value,
                   (unsigned long long)same_name->value);
            result = BREAKING;
        } else if (!same_num) {
            report(c, L_ERROR, false, v->span, n->span, ast_printf(&c->arena, "'%s' is here", path),
                   "value '%s' (%llu) removed from '%s': new readers reject old messages that "
                   "use it",
                   v->name, (unsigned long long)v->value, path);
            result = BREAKING;
        } else if (!same_name) {
            report(c, L_WARNING, true, same_num->span, v->span, "it was called this here",
                   "value %llu of '%s' renamed from '%s' to '%s' (the same on the wire)",
                   (unsigned long long)v->value, path, v->name, same_num->name);
            result = max_of(result, COMPATIBLE);
        }
    }
    for (const ast_enum_value_t *v = n->values; v; v = v->next) {
        if (value_numbered(o, v->value) || value_named(o, v->name))
            continue;
        report(c, L_NOTE, true, v->span, o->span, ast_printf(&c->arena, "'%s' was here", path),
               "value '%s' (%llu) added %s '%s'; old readers reject messages that use it", v->name,
               (unsigned long long)v->value, v->value > max_old ? "at the end of" : "to", path);
        result = max_of(result, COMPATIBLE);
    }
    return result;
}

static const ast_member_t *member_tagged(const ast_type_t *t, uint64_t tag)
{
    for (const ast_member_t *m = t->members; m; m = m->next)
        if (m->tag == tag)
            return m;
    return NULL;
}

static const ast_member_t *member_labelled(const ast_type_t *t, const char *label)
{
    for (const ast_member_t *m = t->members; m; m = m->next)
        if (m->label && strcmp(m->label, label) == 0)
            return m;
    return NULL;
}

static int compare_union(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *path)
{
    int result = SAME;
    uint64_t max_old = 0;
    for (const ast_member_t *m = o->members; m; m = m->next) {
        const ast_member_t *at = member_tagged(n, m->tag), *same = member_labelled(n, m->label);
        max_old = m->tag > max_old ? m->tag : max_old;
        if (same && same->tag != m->tag) {
            report(c, L_ERROR, true, same->type->span, m->type->span, "it was here",
                   "member '%s' of '%s' moved from tag %llu to %llu: unions are encoded by tag",
                   m->label, path, (unsigned long long)m->tag, (unsigned long long)same->tag);
            result = BREAKING;
        } else if (!at) {
            report(c, L_ERROR, false, m->type->span, n->span,
                   ast_printf(&c->arena, "'%s' is here", path),
                   "member '%s' (tag %llu) removed from '%s': new readers reject old messages "
                   "that use it",
                   m->label, (unsigned long long)m->tag, path);
            result = BREAKING;
        } else {
            result = max_of(result, compare(c, m->type, at->type,
                                            ast_printf(&c->arena, "member '%s' (tag %llu) of '%s'",
                                                       m->label, (unsigned long long)m->tag, path),
                                            ast_printf(&c->arena, "%s.%s", path, at->label),
                                            m->type->span, at->type->span));
        }
    }
    for (const ast_member_t *m = n->members; m; m = m->next) {
        if (member_tagged(o, m->tag) || member_labelled(o, m->label))
            continue;
        report(
            c, L_NOTE, true, m->type->span, o->span, ast_printf(&c->arena, "'%s' was here", path),
            "member '%s' (tag %llu) added %s '%s'; old readers reject messages that use it",
            m->label, (unsigned long long)m->tag, m->tag > max_old ? "at the end of" : "to", path);
        result = max_of(result, COMPATIBLE);
    }
    return result;
}

static pair_t *find_pair(compat_t *c, const ast_decl_t *o, const ast_decl_t *n)
{
    for (size_t i = 0; i < c->npairs; i++)
        if (c->pairs[i].o == o && c->pairs[i].n == n)
            return &c->pairs[i];
    return NULL;
}

/* Records a pair as in progress (taken as the same, so cycles end); SIZE_MAX without memory. */
static size_t push_pair(compat_t *c, const ast_decl_t *o, const ast_decl_t *n)
{
    if (c->npairs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        pair_t *np = realloc(c->pairs, cap * sizeof *np);
        if (!np)
            return SIZE_MAX;
        c->pairs = np;
        c->cap = cap;
    }
    c->pairs[c->npairs] = (pair_t){o, n, SAME};
    return c->npairs++;
}

static void note_renamed(compat_t *c, const ast_decl_t *d)
{
    const ast_decl_t **nr = realloc(c->renamed_to, (c->nrenamed + 1) * sizeof *nr);
    if (nr) {
        c->renamed_to = nr;
        c->renamed_to[c->nrenamed++] = d;
    }
}

/*
 * Two references with different names. A type whose old name is gone, reached under a new
 * name, is a rename: compared in depth (once). Otherwise a reference now names another type:
 * compatible only when both have the same encoding.
 */
static int compare_named(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *what,
                         src_span_t os, src_span_t ns)
{
    const ast_decl_t *od = o->decl, *nd = n->decl;
    bool rename = !find_decl(c->new, od->name) && !find_decl(c->old, nd->name);
    pair_t *p = find_pair(c, od, nd);
    if (p)
        return p->result; /* done, or in progress (a cycle): assume the same */
    if (c->quiet || !rename) {
        /* Quiet comparisons remember nothing: the loud one may still have to report. */
        size_t at = push_pair(c, od, nd);
        if (at == SIZE_MAX)
            return BREAKING;
        c->quiet++;
        int r = compare(c, od->type, nd->type, "", nd->name, od->span, nd->span);
        c->quiet--;
        c->npairs = at;
        if (c->quiet)
            return r;
        if (r != BREAKING)
            report(c, L_WARNING, true, ns, os,
                   ast_printf(&c->arena, "it named '%s' here", od->name),
                   "%s now names '%s' instead of '%s' (%s on the wire)", what, nd->name, od->name,
                   r == SAME ? "the same" : "compatible");
        else
            report(c, L_ERROR, true, ns, os, ast_printf(&c->arena, "it was '%s' here", od->name),
                   "%s changed type from %s to %s", what, od->name, nd->name);
        return r == BREAKING ? BREAKING : COMPATIBLE;
    }
    /* First what it amounts to, for the rename's own line; then the differences, if any. */
    size_t at = push_pair(c, od, nd);
    if (at == SIZE_MAX)
        return BREAKING;
    c->quiet++;
    int r = compare(c, od->type, nd->type, "", nd->name, od->span, nd->span);
    c->quiet--;
    report(c, L_WARNING, true, nd->span, od->span, "it was called this here",
           "type '%s' renamed to '%s' (%s)", od->name, nd->name,
           r == SAME         ? "the same on the wire"
           : r == COMPATIBLE ? "compatible on the wire"
                             : "and changed; the changes follow");
    if (r != SAME)
        r = compare(c, od->type, nd->type, ast_printf(&c->arena, "type '%s'", nd->name), nd->name,
                    od->span, nd->span);
    note_renamed(c, nd);
    c->pairs[at].result = max_of(r, COMPATIBLE);
    return c->pairs[at].result;
}

static int changed(compat_t *c, const char *what, const ast_type_t *o, const ast_type_t *n,
                   src_span_t os, src_span_t ns, const char *why)
{
    report(c, L_ERROR, true, ns, os, ast_printf(&c->arena, "it was %s here", spell(c, o)),
           "%s changed type from %s to %s%s", what, spell(c, o), spell(c, n), why);
    return BREAKING;
}

static int compare(compat_t *c, const ast_type_t *o, const ast_type_t *n, const char *what,
                   const char *path, src_span_t os, src_span_t ns)
{
    if (o->kind == AST_NAMED && n->kind == AST_NAMED) {
        if (strcmp(o->ref, n->ref) == 0)
            return SAME; /* the type itself is compared under its name */
        if (o->decl && n->decl)
            return compare_named(c, o, n, what, os, ns);
    }
    const ast_type_t *so = shape(o), *sn = shape(n);
    bool fo, fn;
    uint64_t lo, ln;
    if (!so || !sn)
        return SAME;
    if (so->kind != sn->kind && bytes_like(so, &fo, &lo) && bytes_like(sn, &fn, &ln)) {
        if (fo != fn || lo != ln)
            return changed(c, what, o, n, os, ns, "");
        return SAME; /* data and list<u8>: the same bytes */
    }
    if (so->kind != sn->kind) {
        if (so->kind == AST_STR && sn->kind == AST_DATA) {
            report(c, L_WARNING, true, ns, os, "it was str here",
                   "%s changed type from str to data: old values are valid data, but old "
                   "readers reject new values that are not UTF-8",
                   what);
            return COMPATIBLE;
        }
        const char *why = "";
        if (sn->kind == AST_OPTIONAL || so->kind == AST_OPTIONAL)
            why = ": an optional has a presence byte before the value";
        else if ((so->kind == AST_LIST) != (sn->kind == AST_LIST) &&
                 (so->kind == AST_LIST_FIXED || sn->kind == AST_LIST_FIXED))
            why = ": a variable list has a count before the items, a fixed one none";
        else if (so->kind == AST_DATA && sn->kind == AST_STR)
            why = ": old values need not be UTF-8";
        return changed(c, what, o, n, os, ns, why);
    }
    switch (so->kind) {
    case AST_DATA_FIXED:
        if (so->length != sn->length) {
            report(c, L_ERROR, true, ns, os, ast_printf(&c->arena, "it was %s here", spell(c, o)),
                   "%s changed its fixed length from %llu to %llu (%s to %s)", what,
                   (unsigned long long)so->length, (unsigned long long)sn->length, spell(c, o),
                   spell(c, n));
            return BREAKING;
        }
        return SAME;
    case AST_LIST_FIXED:
        if (so->length != sn->length) {
            report(c, L_ERROR, true, ns, os, ast_printf(&c->arena, "it was %s here", spell(c, o)),
                   "%s changed its fixed length from %llu to %llu (%s to %s)", what,
                   (unsigned long long)so->length, (unsigned long long)sn->length, spell(c, o),
                   spell(c, n));
            return BREAKING;
        }
        /* fall through */
    case AST_LIST:
        return compare(c, so->elem, sn->elem, ast_printf(&c->arena, "the items of %s", what),
                       ast_printf(&c->arena, "%s[]", path), so->elem->span, sn->elem->span);
    case AST_OPTIONAL:
        return compare(c, so->elem, sn->elem, ast_printf(&c->arena, "the value of %s", what), path,
                       so->elem->span, sn->elem->span);
    case AST_MAP:
        return max_of(compare(c, so->key, sn->key, ast_printf(&c->arena, "the keys of %s", what),
                              ast_printf(&c->arena, "%s{}", path), so->key->span, sn->key->span),
                      compare(c, so->elem, sn->elem,
                              ast_printf(&c->arena, "the values of %s", what),
                              ast_printf(&c->arena, "%s[]", path), so->elem->span, sn->elem->span));
    case AST_STRUCT:
        return compare_struct(c, so, sn, path);
    case AST_ENUM:
        return compare_enum(c, so, sn, path);
    case AST_UNION:
        return compare_union(c, so, sn, path);
    default:
        return SAME; /* the same primitive */
    }
}

/* ---- the schemas ---- */

static bool renamed_target(const compat_t *c, const ast_decl_t *d)
{
    for (size_t i = 0; i < c->nrenamed; i++)
        if (c->renamed_to[i] == d)
            return true;
    return false;
}

static void compare_schemas(compat_t *c)
{
    for (const ast_decl_t *od = c->old->schema.decls; od; od = od->next) {
        const ast_decl_t *nd = find_decl(c->new, od->name);
        if (nd)
            compare(c, od->type, nd->type, ast_printf(&c->arena, "type '%s'", od->name), od->name,
                    od->span, nd->span);
    }
    /* Types gone: where a surviving type referred to them, the reference was compared. */
    for (const ast_decl_t *od = c->old->schema.decls; od; od = od->next) {
        if (find_decl(c->new, od->name) || referrer(c->old, od->name, c->new))
            continue;
        const ast_decl_t *twin = NULL;
        for (const ast_decl_t *nd = c->new->schema.decls; nd && !twin; nd = nd->next) {
            if (find_decl(c->old, nd->name) || renamed_target(c, nd) ||
                referrer(c->new, nd->name, NULL))
                continue;
            c->quiet++;
            if (compare(c, od->type, nd->type, "", nd->name, od->span, nd->span) == SAME)
                twin = nd;
            c->quiet--;
        }
        if (twin) {
            report(c, L_WARNING, true, twin->span, od->span, "it was called this here",
                   "type '%s' renamed to '%s': the same on the wire, but programs that encode "
                   "or decode it by name must change",
                   od->name, twin->name);
            note_renamed(c, twin);
        } else {
            src_span_t none = {0, 0, 0, 0};
            report(c, L_WARNING, false, od->span, none, NULL,
                   "type '%s' removed; no remaining type referred to it, so this breaks only "
                   "programs that encode or decode it themselves",
                   od->name);
        }
    }
    for (const ast_decl_t *nd = c->new->schema.decls; nd; nd = nd->next) {
        if (find_decl(c->old, nd->name) || renamed_target(c, nd) ||
            referrer(c->new, nd->name, NULL))
            continue;
        src_span_t none = {0, 0, 0, 0};
        report(c, L_NOTE, true, nd->span, none, NULL, "type '%s' added", nd->name);
    }
}

int schemac_compat(const schemac_options_t *old_opt, const schemac_options_t *new_opt,
                   FILE *report_out, FILE *diag_out)
{
    schemac_front_t fo, fn;
    compat_t c;
    int rc = schemac_front_load(old_opt, diag_out, &fo);
    int rc2 = schemac_front_load(new_opt, diag_out, &fn);

    if (rc != SCHEMAC_OK || rc2 != SCHEMAC_OK) {
        schemac_front_free(&fo);
        schemac_front_free(&fn);
        return SCHEMAC_USAGE_ERROR;
    }
    memset(&c, 0, sizeof c);
    c.old = &fo;
    c.new = &fn;
    bare_arena_init(&c.arena, NULL, NULL);
    diag_init(&c.dold, old_opt->schema_path, fo.diag.src, fo.diag.src_len, report_out);
    diag_init(&c.dnew, new_opt->schema_path, fn.diag.src, fn.diag.src_len, report_out);
    c.dold.error_limit = c.dnew.error_limit = 0;
    compare_schemas(&c);
    if (c.breaking)
        fprintf(report_out, "%d breaking change%s, %d compatible change%s\n", c.breaking,
                c.breaking == 1 ? "" : "s", c.compatible, c.compatible == 1 ? "" : "s");
    else
        fprintf(report_out, "wire-compatible: no breaking change, %d compatible change%s\n",
                c.compatible, c.compatible == 1 ? "" : "s");
    rc = c.breaking ? SCHEMAC_BREAKING : SCHEMAC_COMPATIBLE;
    free(c.pairs);
    free(c.renamed_to);
    bare_arena_free(&c.arena);
    schemac_front_free(&fo);
    schemac_front_free(&fn);
    return rc;
}
