/*
 * order.c - from a checked schema to the emission model: C names for every type, function and
 * constant (with collision detection), pointers where a recursive schema needs them, and an
 * order of definitions in which C sees every type complete before it is embedded.
 */
#include <ctype.h>
#include <string.h>

#include "sema.h"

/* Words C (and C++, for headers used from it) reserves, and macros of the headers we include. */
static const char *const reserved_words[] = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "constexpr", "continue", "default", "delete", "do", "double", "else",
    "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "NULL",
    "nullptr", "offsetof", "operator", "or", "private", "protected", "public", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "static_assert", "struct",
    "switch", "template", "this", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "while", "xor",
};

typedef struct origin {
    const char *name;
    const char *what;
    src_span_t span;
} origin_t;

/* A set of emitted identifiers, each with what produced it, for collision reports. */
typedef struct names {
    origin_t *slots;
    size_t cap, count;
} names_t;

typedef struct order {
    sema_t *s;
    emit_model_t *m;
    names_t globals;
    def_t **all; /* in creation order */
    size_t nall, capall;
    ast_type_t **canon; /* structural types by base name */
    size_t ncanon, capcanon;
    bool failed;
} order_t;

static size_t hash_str(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return (size_t)h;
}

static bool names_grow(order_t *o, names_t *n)
{
    size_t cap = n->cap ? n->cap * 2 : 256;
    origin_t *slots = bare_arena_alloc(o->s->arena, cap * sizeof *slots, _Alignof(origin_t));
    if (!slots)
        return false;
    memset(slots, 0, cap * sizeof *slots);
    for (size_t i = 0; i < n->cap; i++) {
        if (!n->slots[i].name)
            continue;
        size_t j = hash_str(n->slots[i].name) & (cap - 1);
        while (slots[j].name)
            j = (j + 1) & (cap - 1);
        slots[j] = n->slots[i];
    }
    n->slots = slots;
    n->cap = cap;
    return true;
}

/* Claims name for what; reports a collision with the earlier claimant and returns false. */
static bool claim(order_t *o, names_t *n, const char *name, const char *what, src_span_t span)
{
    if (!name)
        return true;
    if (n->count * 2 >= n->cap && !names_grow(o, n)) {
        o->failed = true;
        return false;
    }
    size_t i = hash_str(name) & (n->cap - 1);
    for (; n->slots[i].name; i = (i + 1) & (n->cap - 1)) {
        if (strcmp(n->slots[i].name, name) == 0) {
            diag_error(o->s->diag, span, "the C name '%s' of %s collides with that of %s", name,
                       what, n->slots[i].what);
            if (n->slots[i].span.first_line)
                diag_note(o->s->diag, n->slots[i].span, "%s is here", n->slots[i].what);
            o->failed = true;
            return false;
        }
    }
    n->slots[i].name = name;
    n->slots[i].what = what;
    n->slots[i].span = span;
    n->count++;
    return true;
}

static const char *snake(bare_arena_t *a, const char *name)
{
    size_t n = strlen(name);
    char *out = bare_arena_alloc(a, 2 * n + 1, 1);
    size_t k = 0;
    if (!out)
        return "";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isupper(c) && i > 0 && name[i - 1] != '_') {
            unsigned char prev = (unsigned char)name[i - 1];
            unsigned char next = (unsigned char)name[i + 1];
            if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)))
                out[k++] = '_';
        }
        out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
    return out;
}

static const char *upper(bare_arena_t *a, const char *s)
{
    char *out = ast_strdup(a, s);
    for (char *p = out; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return out;
}

static bool is_reserved(const char *w)
{
    for (size_t i = 0; i < sizeof reserved_words / sizeof reserved_words[0]; i++)
        if (strcmp(reserved_words[i], w) == 0)
            return true;
    /* _Bool, _Generic, __x: reserved for the implementation */
    return w[0] == '_' && (isupper((unsigned char)w[1]) || w[1] == '_');
}

/* A member name that is safe in C: reserved words get a trailing underscore. */
static const char *c_member(order_t *o, const char *w)
{
    return is_reserved(w) ? ast_printf(o->s->arena, "%s_", w) : w;
}

static const char *prim_c_type(ast_kind_t k)
{
    switch (k) {
    case AST_UINT:
        return "uint64_t";
    case AST_INT:
        return "int64_t";
    case AST_U8:
        return "uint8_t";
    case AST_U16:
        return "uint16_t";
    case AST_U32:
        return "uint32_t";
    case AST_U64:
        return "uint64_t";
    case AST_I8:
        return "int8_t";
    case AST_I16:
        return "int16_t";
    case AST_I32:
        return "int32_t";
    case AST_I64:
        return "int64_t";
    case AST_F32:
        return "float";
    case AST_F64:
        return "double";
    case AST_BOOL:
        return "bool";
    case AST_STR:
        return "bare_str_t";
    case AST_DATA:
        return "bare_bytes_t";
    default:
        return NULL;
    }
}

static def_t *new_def(order_t *o, def_kind_t kind, ast_type_t *type, ast_decl_t *decl,
                      ast_emit_t *e)
{
    if (o->nall == o->capall) {
        size_t cap = o->capall ? o->capall * 2 : 64;
        def_t **all = bare_arena_alloc(o->s->arena, cap * sizeof *all, _Alignof(def_t *));
        if (!all) {
            o->failed = true;
            return NULL;
        }
        if (o->nall)
            memcpy(all, o->all, o->nall * sizeof *all);
        o->all = all;
        o->capall = cap;
    }
    def_t *d = bare_arena_alloc(o->s->arena, sizeof *d, _Alignof(def_t));
    if (!d) {
        o->failed = true;
        return NULL;
    }
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->type = type;
    d->decl = decl;
    d->e = e;
    d->scc_index = -1;
    e->def = d;
    o->all[o->nall++] = d;
    return d;
}

def_t *order_def_of(const ast_type_t *t)
{
    if (t->kind == AST_NAMED)
        return t->decl ? t->decl->e.def : NULL;
    if (t->e.canon)
        return t->e.canon->e.def;
    return t->e.def;
}

/* The base name (no prefix) a structural type's C names derive from. */
static const char *base_of(order_t *o, const ast_type_t *t)
{
    bare_arena_t *a = o->s->arena;
    switch (t->kind) {
    case AST_NAMED:
        return snake(a, t->ref);
    case AST_DATA_FIXED:
        return ast_printf(a, "data%llu", (unsigned long long)t->length);
    case AST_OPTIONAL:
        return ast_printf(a, "%s_opt", base_of(o, t->elem));
    case AST_LIST:
        return ast_printf(a, "%s_list", base_of(o, t->elem));
    case AST_LIST_FIXED:
        return ast_printf(a, "%s_array%llu", base_of(o, t->elem), (unsigned long long)t->length);
    case AST_MAP:
        return ast_printf(a, "%s_%s_map", base_of(o, t->key), base_of(o, t->elem));
    case AST_STRUCT:
    case AST_UNION:
    case AST_ENUM:
        return t->anon_path;
    default:
        return ast_kind_spelling(t->kind);
    }
}

static bool same_structure(const ast_type_t *a, const ast_type_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case AST_NAMED:
        return a->decl == b->decl;
    case AST_DATA_FIXED:
        return a->length == b->length;
    case AST_OPTIONAL:
    case AST_LIST:
        return same_structure(a->elem, b->elem);
    case AST_LIST_FIXED:
        return a->length == b->length && same_structure(a->elem, b->elem);
    case AST_MAP:
        return same_structure(a->key, b->key) && same_structure(a->elem, b->elem);
    case AST_STRUCT:
    case AST_UNION:
    case AST_ENUM:
        return a == b;
    default:
        return true;
    }
}

static void set_names(order_t *o, ast_emit_t *e, const char *base)
{
    e->stem = ast_printf(o->s->arena, "%s_%s", o->m->prefix, base);
    e->c_type = ast_printf(o->s->arena, "%s_t", e->stem);
}

static void assign(order_t *o, ast_type_t *t, const char *path);

/* Does t have an anonymous struct, union or enum inside (not behind a name)? */
static bool has_anonymous(const ast_type_t *t)
{
    switch (t->kind) {
    case AST_STRUCT:
    case AST_UNION:
    case AST_ENUM:
        return true;
    case AST_OPTIONAL:
    case AST_LIST:
    case AST_LIST_FIXED:
        return has_anonymous(t->elem);
    case AST_MAP:
        return has_anonymous(t->key) || has_anonymous(t->elem);
    default:
        return false;
    }
}

/* Names of a union's members: storage field, tag constant and label. */
static void assign_members(order_t *o, ast_type_t *u, const char *path, const char *stem_upper)
{
    names_t local = {0};
    for (ast_member_t *m = u->members; m; m = m->next) {
        const char *base;
        ast_type_t *t = m->type;
        /* An anonymous type is named after its place, which is named after the member: such
         * a member is named after its tag instead. */
        if (has_anonymous(t)) {
            base = ast_printf(o->s->arena, "m%llu", (unsigned long long)m->tag);
            m->label = ast_printf(o->s->arena, "%llu", (unsigned long long)m->tag);
        } else {
            base = t->kind == AST_NAMED ? snake(o->s->arena, t->ref) : base_of(o, t);
            m->label = t->kind == AST_NAMED ? t->ref : ast_spelling(o->s->arena, t);
        }
        assign(o, t, ast_printf(o->s->arena, "%s_%s", path, base));
        m->c_name = t->kind == AST_VOID ? NULL : c_member(o, base);
        m->tag_const = ast_printf(o->s->arena, "%s_TAG_%s", stem_upper, upper(o->s->arena, base));
        const char *what = ast_printf(o->s->arena, "union member '%s' in '%s'", m->label,
                                      u->owner ? u->owner->name : "?");
        claim(o, &o->globals, m->tag_const, what, t->span);
        if (m->c_name)
            claim(o, &local, m->c_name, what, t->span);
    }
}

static void assign_fields(order_t *o, ast_type_t *s, const char *path)
{
    names_t local = {0};
    for (ast_field_t *f = s->fields; f; f = f->next) {
        const char *base = snake(o->s->arena, f->name);
        f->c_name = c_member(o, base);
        claim(o, &local, f->c_name, ast_printf(o->s->arena, "field '%s'", f->name), f->span);
        assign(o, f->type, ast_printf(o->s->arena, "%s_%s", path, base));
    }
}

static void assign_values(order_t *o, ast_type_t *en, const char *stem_upper)
{
    for (ast_enum_value_t *v = en->values; v; v = v->next) {
        v->c_name = ast_printf(o->s->arena, "%s_%s", stem_upper, upper(o->s->arena, v->name));
        claim(o, &o->globals, v->c_name,
              ast_printf(o->s->arena, "enum value '%s' in '%s'", v->name,
                         en->owner ? en->owner->name : "?"),
              v->span);
    }
}

/*
 * The identifiers one definition emits, so that any two that meet are reported: once per
 * definition, since when one of its names collides, usually all of them do. False when one did.
 */
static bool claim_def(order_t *o, def_t *d, const char *what, src_span_t span)
{
    bare_arena_t *a = o->s->arena;
    const char *stem = d->e->stem;
    const char *su = upper(a, stem);
    const char *names[16];
    size_t n = 0;
    const char *suffixes[] = {"_t", "_init", "_encode", "_decode", "_check", "_desc"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        names[n++] = ast_printf(a, "%s%s", stem, suffixes[i]);
    if (d->kind == DEF_DECL)
        names[n++] = ast_printf(a, "%s_validate", stem);
    ast_type_t *t = d->type;
    if (t && t->kind == AST_ENUM) {
        const char *more[] = {"_name", "_from_name", "_is_valid", "_names"};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            names[n++] = ast_printf(a, "%s%s", stem, more[i]);
        names[n++] = ast_printf(a, "%s_COUNT", su);
    }
    if (t && t->kind == AST_UNION) {
        const char *more[] = {"_tag_t", "_handlers_t", "_dispatch"};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            names[n++] = ast_printf(a, "%s%s", stem, more[i]);
        names[n++] = ast_printf(a, "%s_HANDLERS", su);
    }
    if (t && t->kind == AST_MAP)
        names[n++] = ast_printf(a, "%s_entry_t", stem);
    for (size_t i = 0; i < n; i++)
        if (!claim(o, &o->globals, names[i], what, span))
            return false;
    return true;
}

/* An aggregate's own names (fields, values, members) under the stem of its definition. */
static void assign_body(order_t *o, ast_type_t *t, const char *path, const char *stem)
{
    const char *su = upper(o->s->arena, stem);
    if (t->kind == AST_STRUCT)
        assign_fields(o, t, path);
    else if (t->kind == AST_UNION)
        assign_members(o, t, path, su);
    else if (t->kind == AST_ENUM)
        assign_values(o, t, su);
}

static void assign(order_t *o, ast_type_t *t, const char *path)
{
    bare_arena_t *a = o->s->arena;
    t->anon_path = path;
    switch (t->kind) {
    case AST_NAMED:
        t->e.stem = t->decl->e.stem;
        t->e.c_type = t->decl->e.c_type;
        return;
    case AST_STRUCT:
    case AST_UNION:
    case AST_ENUM: {
        set_names(o, &t->e, path);
        def_t *d = new_def(o, DEF_TYPE, t, NULL, &t->e);
        if (!d)
            return;
        /* The names inside a definition whose own names collide would only repeat that. */
        if (claim_def(o, d,
                      ast_printf(a, "an anonymous %s in '%s'", ast_kind_spelling(t->kind),
                                 t->owner ? t->owner->name : "?"),
                      t->span))
            assign_body(o, t, path, t->e.stem);
        return;
    }
    case AST_OPTIONAL:
        assign(o, t->elem, ast_printf(a, "%s_value", path));
        break;
    case AST_LIST:
    case AST_LIST_FIXED:
        assign(o, t->elem, ast_printf(a, "%s_item", path));
        break;
    case AST_MAP:
        assign(o, t->key, ast_printf(a, "%s_key", path));
        assign(o, t->elem, ast_printf(a, "%s_value", path));
        break;
    case AST_DATA_FIXED:
        break;
    default:
        t->e.c_type = prim_c_type(t->kind);
        return;
    }
    /* A structural type: one definition per distinct base name. */
    const char *base = base_of(o, t);
    /*
     * `type FooList list<Foo>` names the very shape list<Foo> is named after: the alias keeps
     * the name, and the shape's own (static) definition takes a suffix.
     */
    for (ast_decl_t *d = o->s->schema->decls; d; d = d->next) {
        if (d->type->kind != AST_NAMED && strcmp(snake(a, d->name), base) == 0 &&
            same_structure(d->type, t)) {
            base = ast_printf(a, "%s_shape", base);
            break;
        }
    }
    for (size_t i = 0; i < o->ncanon; i++) {
        ast_type_t *c = o->canon[i];
        if (strcmp(c->e.stem + strlen(o->m->prefix) + 1, base) != 0)
            continue;
        if (!same_structure(c, t)) {
            diag_error(o->s->diag, t->span,
                       "the C name of '%s' collides with that of '%s'; rename one of the types",
                       ast_spelling(a, t), ast_spelling(a, c));
            diag_note(o->s->diag, c->span, "'%s' is here", ast_spelling(a, c));
            o->failed = true;
        }
        t->e.canon = c;
        t->e.stem = c->e.stem;
        t->e.c_type = c->e.c_type;
        return;
    }
    if (o->ncanon == o->capcanon) {
        size_t cap = o->capcanon ? o->capcanon * 2 : 64;
        ast_type_t **v = bare_arena_alloc(a, cap * sizeof *v, _Alignof(ast_type_t *));
        if (!v) {
            o->failed = true;
            return;
        }
        if (o->ncanon)
            memcpy(v, o->canon, o->ncanon * sizeof *v);
        o->canon = v;
        o->capcanon = cap;
    }
    o->canon[o->ncanon++] = t;
    set_names(o, &t->e, base);
    def_t *d = new_def(o, DEF_TYPE, t, NULL, &t->e);
    if (!d)
        return;
    claim_def(o, d, ast_printf(a, "'%s'", ast_spelling(a, t)), t->span);
    if (t->kind == AST_MAP) {
        /* The entry {key, value} is its own definition, so maps can nest recursively. */
        ast_emit_t *ee = bare_arena_alloc(a, sizeof *ee, _Alignof(ast_emit_t));
        if (!ee) {
            o->failed = true;
            return;
        }
        memset(ee, 0, sizeof *ee);
        ee->stem = ast_printf(a, "%s_entry", t->e.stem);
        ee->c_type = ast_printf(a, "%s_entry_t", t->e.stem);
        def_t *entry = new_def(o, DEF_ENTRY, t, NULL, ee);
        t->e.def = d; /* new_def pointed it at the entry */
        if (entry)
            entry->struct_like = true, entry->tag = ee->stem;
    }
}

/* ---- struct-likeness, value dependencies, boxing and order ---- */

/* Follows struct-like aliases to the definition that really lays out the C type. */
static def_t *real_def(def_t *d)
{
    for (size_t hops = 0; d && d->kind == DEF_DECL && hops < 100000; hops++) {
        ast_type_t *root = d->decl->type;
        if (root->kind == AST_STRUCT || root->kind == AST_UNION || root->kind == AST_ENUM ||
            root->kind == AST_VOID)
            return d;
        def_t *next = order_def_of(root);
        if (!next || !next->struct_like)
            return d;
        d = next;
    }
    return d;
}

static void compute_struct_like(emit_model_t *m, order_t *o)
{
    (void)m;
    /* Non-alias definitions first, then aliases in dependency order (at most n passes). */
    for (size_t i = 0; i < o->nall; i++) {
        def_t *d = o->all[i];
        if (d->kind == DEF_ENTRY)
            continue;
        ast_type_t *t = d->kind == DEF_DECL ? d->decl->type : d->type;
        switch (t->kind) {
        case AST_STRUCT:
        case AST_UNION:
        case AST_VOID:
        case AST_OPTIONAL:
        case AST_LIST:
        case AST_LIST_FIXED:
        case AST_MAP:
        case AST_DATA_FIXED:
            if (d->kind == DEF_DECL && t->kind != AST_STRUCT && t->kind != AST_UNION &&
                t->kind != AST_VOID)
                break; /* an alias of a structural type: resolved below */
            d->struct_like = true;
            d->tag = d->e->stem;
            break;
        default:
            break;
        }
    }
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < o->nall; i++) {
            def_t *d = o->all[i];
            if (d->kind != DEF_DECL || d->struct_like)
                continue;
            def_t *target = order_def_of(d->decl->type);
            if (target && target->struct_like && d->decl->type->kind != AST_ENUM) {
                d->struct_like = true;
                d->tag = target->tag;
                changed = true;
            }
        }
    }
}

/* Calls f for each definition d needs before it; boxable marks optional/union edges. */
typedef void edge_fn(order_t *o, def_t *from, def_t *to, bool *boxed_flag, void *ud);

static void value_edge(order_t *o, def_t *from, ast_type_t *t, bool *boxable, edge_fn *f,
                       void *ud)
{
    def_t *to = order_def_of(t);
    if (to)
        f(o, from, real_def(to), boxable, ud);
}

/* A pointer to t needs t's typedef only when it cannot be declared ahead. */
static void pointer_edge(order_t *o, def_t *from, ast_type_t *t, edge_fn *f, void *ud)
{
    def_t *to = order_def_of(t);
    if (to && !to->struct_like)
        f(o, from, to, NULL, ud);
}

static void body_edges(order_t *o, def_t *d, ast_type_t *t, edge_fn *f, void *ud)
{
    switch (t->kind) {
    case AST_STRUCT:
        for (ast_field_t *fl = t->fields; fl; fl = fl->next)
            value_edge(o, d, fl->type, NULL, f, ud);
        break;
    case AST_UNION:
        for (ast_member_t *mb = t->members; mb; mb = mb->next) {
            if (mb->boxed)
                pointer_edge(o, d, mb->type, f, ud);
            else
                value_edge(o, d, mb->type, &mb->boxed, f, ud);
        }
        break;
    case AST_OPTIONAL:
        if (t->e.boxed)
            pointer_edge(o, d, t->elem, f, ud);
        else
            value_edge(o, d, t->elem, &t->e.boxed, f, ud);
        break;
    case AST_LIST:
        pointer_edge(o, d, t->elem, f, ud);
        break;
    case AST_LIST_FIXED:
        value_edge(o, d, t->elem, NULL, f, ud);
        break;
    default:
        break;
    }
}

static void for_each_edge(order_t *o, def_t *d, edge_fn *f, void *ud)
{
    if (d->kind == DEF_ENTRY) {
        value_edge(o, d, d->type->key, NULL, f, ud);
        value_edge(o, d, d->type->elem, NULL, f, ud);
        return;
    }
    if (d->kind == DEF_DECL) {
        ast_type_t *root = d->decl->type;
        if (root->kind == AST_STRUCT || root->kind == AST_UNION) {
            body_edges(o, d, root, f, ud);
        } else if (root->kind != AST_ENUM && root->kind != AST_VOID && !d->struct_like) {
            def_t *to = order_def_of(root); /* a typedef of an enum or primitive alias */
            if (to)
                f(o, d, to, NULL, ud);
        }
        return;
    }
    body_edges(o, d, d->type, f, ud);
}

/* Tarjan's strongly connected components over value dependencies. */
typedef struct tarjan {
    def_t **stack;
    size_t sp;
    int index, scc;
} tarjan_t;

static void strongconnect(order_t *o, def_t *v, tarjan_t *tj);

static void tarjan_edge(order_t *o, def_t *from, def_t *to, bool *boxable, void *ud)
{
    tarjan_t *tj = ud;
    (void)boxable;
    if (to->scc_index < 0) {
        strongconnect(o, to, tj);
        if (to->scc_low < from->scc_low)
            from->scc_low = to->scc_low;
    } else if (to->on_stack && to->scc_index < from->scc_low) {
        from->scc_low = to->scc_index;
    }
}

static void strongconnect(order_t *o, def_t *v, tarjan_t *tj)
{
    v->scc_index = v->scc_low = tj->index++;
    tj->stack[tj->sp++] = v;
    v->on_stack = true;
    for_each_edge(o, v, tarjan_edge, tj);
    if (v->scc_low == v->scc_index) {
        def_t *w;
        do {
            w = tj->stack[--tj->sp];
            w->on_stack = false;
            w->scc = tj->scc;
        } while (w != v);
        tj->scc++;
    }
}

static void box_edge(order_t *o, def_t *from, def_t *to, bool *boxable, void *ud)
{
    (void)o;
    (void)ud;
    /* An optional or union edge inside a cycle becomes a pointer; that ends the cycle. */
    if (boxable && from->scc == to->scc)
        *boxable = true;
}

typedef struct topo {
    def_t **out;
    size_t n;
} topo_t;

static void visit(order_t *o, def_t *d, topo_t *tp);

static void topo_edge(order_t *o, def_t *from, def_t *to, bool *boxable, void *ud)
{
    (void)from;
    (void)boxable;
    if (to->mark == 1) {
        src_span_t none = {0, 0, 0, 0};
        diag_error(o->s->diag, none, "internal error: types '%s' and '%s' embed each other",
                   from->e->stem, to->e->stem);
        o->failed = true;
        return;
    }
    visit(o, to, ud);
}

static void visit(order_t *o, def_t *d, topo_t *tp)
{
    if (d->mark)
        return;
    d->mark = 1;
    for_each_edge(o, d, topo_edge, tp);
    d->mark = 2;
    tp->out[tp->n++] = d;
}

bool order_build(sema_t *s, const char *prefix, emit_model_t *m)
{
    order_t o;
    bare_arena_t *a = s->arena;

    memset(&o, 0, sizeof o);
    o.s = s;
    o.m = m;
    m->prefix = prefix;
    m->prefix_upper = upper(a, prefix);

    claim(&o, &o.globals, ast_printf(a, "%s_schema", prefix), "the schema descriptor",
          (src_span_t){0, 0, 0, 0});
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        set_names(&o, &d->e, snake(a, d->name));
        d->e.is_public = true;
    }
    for (ast_decl_t *d = s->schema->decls; d; d = d->next) {
        ast_type_t *root = d->type;
        const char *path = snake(a, d->name);
        def_t *def = new_def(&o, DEF_DECL, root, d, &d->e);
        if (!def)
            return false;
        bool named = claim_def(&o, def, ast_printf(a, "type '%s'", d->name), d->span);
        if (!named)
            continue; /* its inner names would only repeat the collision */
        if (root->kind == AST_STRUCT || root->kind == AST_UNION || root->kind == AST_ENUM) {
            root->e.stem = d->e.stem;
            root->e.c_type = d->e.c_type;
            root->e.def = def;
            root->anon_path = path;
            assign_body(&o, root, path, d->e.stem);
        } else if (root->kind == AST_VOID) {
            root->e.stem = d->e.stem;
            root->e.c_type = d->e.c_type;
            root->e.def = def;
        } else {
            assign(&o, root, path);
        }
    }
    if (o.failed || s->diag->errors)
        return false;

    compute_struct_like(m, &o);

    tarjan_t tj = {0};
    tj.stack = bare_arena_alloc(a, (o.nall + 1) * sizeof *tj.stack, _Alignof(def_t *));
    if (!tj.stack)
        return false;
    for (size_t i = 0; i < o.nall; i++)
        if (o.all[i]->scc_index < 0)
            strongconnect(&o, o.all[i], &tj);
    for (size_t i = 0; i < o.nall; i++)
        for_each_edge(&o, o.all[i], box_edge, NULL);

    topo_t tp = {bare_arena_alloc(a, (o.nall + 1) * sizeof(def_t *), _Alignof(def_t *)), 0};
    if (!tp.out)
        return false;
    for (size_t i = 0; i < o.nall; i++)
        visit(&o, o.all[i], &tp);
    m->defs = tp.out;
    m->ndefs = tp.n;
    return !o.failed;
}
