/*
 * emit_c.c - the generated source: for every type an encoder, a strict decoder, a validator and
 * an initialiser (field by field, early return), then the type descriptors.
 */
#include <limits.h>
#include <string.h>

#include "emit.h"
#include "schemac.h"

/* Where a value lives: as an lvalue ("v->name") and as a pointer ("&v->name"). */
typedef struct place {
    const char *lv;
    const char *ptr;
} place_t;

static place_t at_lvalue(gen_t *g, const char *lv)
{
    place_t p = {lv, ast_printf(g->arena, "&%s", lv)};
    return p;
}

static place_t at_pointer(gen_t *g, const char *ptr)
{
    place_t p = {ast_printf(g->arena, "(*%s)", ptr), ptr};
    return p;
}

/* The final shape behind aliases and structural references. */
static const ast_type_t *shape_of(const ast_type_t *t)
{
    for (int hops = 0; hops < 100000; hops++) {
        if (t->kind == AST_NAMED)
            t = t->decl->type;
        else if (t->e.canon)
            t = t->e.canon;
        else
            return t;
    }
    return t;
}

/* ---- properties by fixed point: needs_check, needs_init, min_size ---- */

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX / 4 - b ? SIZE_MAX / 4 : a + b;
}

static size_t prim_min_size(ast_kind_t k)
{
    switch (k) {
    case AST_U16:
    case AST_I16:
        return 2;
    case AST_U32:
    case AST_I32:
    case AST_F32:
        return 4;
    case AST_U64:
    case AST_I64:
    case AST_F64:
        return 8;
    case AST_VOID:
        return 0;
    default:
        return 1; /* varints, u8, i8, bool, and the length prefix of str and data */
    }
}

static bool t_needs_check(const ast_type_t *t)
{
    def_t *d = order_def_of(t);
    if (!d)
        return t->kind == AST_STR || t->kind == AST_DATA;
    return d->e->needs_check;
}

static bool t_needs_init(const ast_type_t *t)
{
    def_t *d = order_def_of(t);
    return d ? d->e->needs_init : false;
}

static size_t t_min_size(const ast_type_t *t)
{
    def_t *d = order_def_of(t);
    return d ? d->e->min_size : prim_min_size(t->kind);
}

static void props_of(const def_t *d, bool *check, bool *init, size_t *min)
{
    const ast_type_t *t = gen_body(d);
    *check = false;
    *init = false;
    *min = 0;
    if (d->kind == DEF_ENTRY) {
        *min = sat_add(t_min_size(t->key), t_min_size(t->elem));
        return;
    }
    switch (t->kind) {
    case AST_STRUCT:
        for (const ast_field_t *f = t->fields; f; f = f->next) {
            *check = *check || t_needs_check(f->type);
            *init = *init || t_needs_init(f->type);
            *min = sat_add(*min, t_min_size(f->type));
        }
        break;
    case AST_UNION:
        *check = true;
        *init = t->members->tag != 0 || (!t->members->boxed && t_needs_init(t->members->type));
        *min = SIZE_MAX / 4;
        for (const ast_member_t *m = t->members; m; m = m->next) {
            size_t s = sat_add(bare_uint_size(m->tag), t_min_size(m->type));
            if (s < *min)
                *min = s;
        }
        break;
    case AST_ENUM:
        *check = true;
        *init = t->values->value != 0;
        *min = bare_uint_size(t->values->value);
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            if (bare_uint_size(v->value) < *min)
                *min = bare_uint_size(v->value);
        break;
    case AST_VOID:
        break;
    case AST_OPTIONAL:
        *check = t->e.boxed || t_needs_check(t->elem);
        *min = 1;
        break;
    case AST_LIST:
    case AST_MAP:
        *check = true;
        *min = 1;
        break;
    case AST_LIST_FIXED: {
        *check = t_needs_check(t->elem);
        *init = t_needs_init(t->elem);
        size_t each = t_min_size(t->elem);
        *min = each && t->length > (SIZE_MAX / 4) / each ? SIZE_MAX / 4 : each * t->length;
        break;
    }
    case AST_DATA_FIXED:
        *min = (size_t)t->length;
        break;
    default:
        /* an alias: the aliased type's properties */
        *check = t_needs_check(t);
        *init = t_needs_init(t);
        *min = t_min_size(t);
        break;
    }
}

/* Marks which static inits and descriptors are referenced, so no unused static is emitted. */
static void mark_use(const ast_type_t *t, bool init, bool desc)
{
    def_t *d = order_def_of(t);
    if (!d)
        return;
    if (init && d->e->needs_init)
        d->e->init_called = true;
    if (desc)
        d->e->desc_used = true;
}

static void mark_uses(const emit_model_t *m)
{
    for (size_t i = 0; i < m->ndefs; i++) {
        const def_t *d = m->defs[i];
        const ast_type_t *t = gen_body(d);
        bool init = d->e->needs_init;
        switch (d->kind == DEF_ENTRY ? AST_ERROR : t->kind) {
        case AST_STRUCT:
            for (const ast_field_t *f = t->fields; f; f = f->next)
                mark_use(f->type, init, true);
            break;
        case AST_UNION:
            for (const ast_member_t *mb = t->members; mb; mb = mb->next)
                mark_use(mb->type, init && mb == t->members && !mb->boxed, true);
            break;
        case AST_OPTIONAL:
        case AST_LIST:
            mark_use(t->elem, false, true);
            break;
        case AST_LIST_FIXED:
            mark_use(t->elem, init, true);
            break;
        case AST_MAP:
            if (d->kind == DEF_TYPE) {
                mark_use(t->key, false, true);
                mark_use(t->elem, false, true);
            }
            break;
        case AST_ERROR:
        case AST_ENUM:
        case AST_VOID:
        case AST_DATA_FIXED:
            break;
        default: {
            /* an alias: its init calls the aliased type's; its descriptor copies the shape */
            const ast_type_t *s = shape_of(t);
            mark_use(t, init, false);
            if (s->kind == AST_OPTIONAL || s->kind == AST_LIST || s->kind == AST_LIST_FIXED)
                mark_use(s->elem, false, true);
            if (s->kind == AST_MAP) {
                mark_use(s->key, false, true);
                mark_use(s->elem, false, true);
            }
            break;
        }
        }
    }
}

static void compute_props(const emit_model_t *m)
{
    /* Monotone from below; definitions come dependencies first, so this ends fast. */
    for (int round = 0; round < 10000; round++) {
        bool changed = false;
        for (size_t i = 0; i < m->ndefs; i++) {
            def_t *d = m->defs[i];
            bool check, init;
            size_t min;
            props_of(d, &check, &init, &min);
            if (check != d->e->needs_check || init != d->e->needs_init || min != d->e->min_size) {
                d->e->needs_check = d->e->needs_check || check;
                d->e->needs_init = d->e->needs_init || init;
                if (min > d->e->min_size)
                    d->e->min_size = min;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
}

/* ---- expressions ---- */

static const char *prim_name(ast_kind_t k)
{
    switch (k) {
    case AST_UINT:
        return "uint";
    case AST_INT:
        return "int";
    default:
        return ast_kind_spelling(k);
    }
}

static const char *encode_expr(gen_t *g, const ast_type_t *t, place_t p)
{
    if (t->kind == AST_VOID)
        return NULL;
    if (t->kind <= AST_VOID)
        return ast_printf(g->arena, "bare_write_%s(w, %s)", prim_name(t->kind), p.lv);
    return ast_printf(g->arena, "%s_encode(w, %s)", t->e.stem, p.ptr);
}

static const char *decode_expr(gen_t *g, const ast_type_t *t, place_t p)
{
    if (t->kind <= AST_VOID)
        return ast_printf(g->arena, "bare_read_%s(r, %s)", prim_name(t->kind), p.ptr);
    return ast_printf(g->arena, "%s_decode(r, %s)", t->e.stem, p.ptr);
}

static const char *check_expr(gen_t *g, const ast_type_t *t, place_t p)
{
    if (!t_needs_check(t))
        return NULL;
    if (t->kind == AST_STR)
        return ast_printf(g->arena, "bare_check_str(err, %s)", p.lv);
    if (t->kind == AST_DATA)
        return ast_printf(g->arena, "bare_check_data(err, %s)", p.lv);
    return ast_printf(g->arena, "%s_check(%s, err)", t->e.stem, p.ptr);
}

/* ---- function heads ---- */

/*
 * Named types' functions are API; anonymous types' are static, and an optional's also inline:
 * they are small and called once per optional field, where a call costs as much as the work.
 */
static const char *storage(const def_t *d)
{
    if (gen_is_named(d))
        return "";
    return gen_body(d)->kind == AST_OPTIONAL ? "static inline " : "static ";
}

static void head_encode(gen_t *g, const def_t *d, const char *end)
{
    emit_line(g->out, "%sint %s_encode(bare_writer_t *w, const %s *v)%s", storage(d), d->e->stem,
              d->e->c_type, end);
}

static void head_decode(gen_t *g, const def_t *d, const char *end)
{
    emit_line(g->out, "%sint %s_decode(bare_reader_t *r, %s *out)%s", storage(d), d->e->stem,
              d->e->c_type, end);
}

static void head_check(gen_t *g, const def_t *d, const char *end)
{
    emit_line(g->out, "static int %s_check(const %s *v, bare_error_t *err)%s", d->e->stem,
              d->e->c_type, end);
}

static void head_init(gen_t *g, const def_t *d, const char *end)
{
    emit_line(g->out, "%svoid %s_init(%s *v)%s", storage(d), d->e->stem, d->e->c_type, end);
}

/* "if (EXPR != BARE_OK) return ON_ERROR;" */
static void guard(gen_t *g, const char *expr, const char *on_error)
{
    emit_line(g->out, "if (%s != BARE_OK)", expr);
    emit_indent(g->out);
    emit_line(g->out, "return %s;", on_error);
    emit_dedent(g->out);
}

/* The alignment of TYPE without C11's _Alignof, so that the .c compiles as C99: the offset of
 * a member that follows a char in a struct is the member's alignment. The struct is declared in
 * the enclosing block (a type defined inside offsetof is undefined in C23 and clang warns). */
#define ALIGN_EXPR "offsetof(struct bare_align, v)"
static void emit_align(emitter_t *e, const char *type)
{
    emit_line(e, "struct bare_align { char c; %s v; };", type);
}

static void rc_guard(gen_t *g, const char *expr)
{
    emit_line(g->out, "rc = %s;", expr);
    emit_line(g->out, "if (rc != BARE_OK)");
    emit_indent(g->out);
    emit_line(g->out, "return rc;");
    emit_dedent(g->out);
}

static void open_body(gen_t *g)
{
    emit_line(g->out, "{");
    emit_indent(g->out);
}

static void close_body(gen_t *g)
{
    emit_dedent(g->out);
    emit_line(g->out, "}");
    emit_blank(g->out);
}

static void enter(gen_t *g)
{
    guard(g, "bare_reader_enter(r)", "r->err.status");
}

static void leave_ok(gen_t *g)
{
    emit_line(g->out, "bare_reader_leave(r);");
    emit_line(g->out, "return BARE_OK;");
}

/* ---- struct ---- */

static void gen_struct(gen_t *g, const def_t *d, const ast_type_t *t)
{
    head_encode(g, d, "");
    open_body(g);
    emit_line(g->out, "int rc;");
    emit_blank(g->out);
    for (const ast_field_t *f = t->fields; f; f = f->next)
        rc_guard(g, encode_expr(g, f->type, at_lvalue(g, ast_printf(g->arena, "v->%s", f->c_name))));
    emit_line(g->out, "return BARE_OK;");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    enter(g);
    for (const ast_field_t *f = t->fields; f; f = f->next)
        guard(g,
              decode_expr(g, f->type, at_lvalue(g, ast_printf(g->arena, "out->%s", f->c_name))),
              ast_printf(g->arena, "bare_path_field(&r->err, \"%s\")", f->name));
    leave_ok(g);
    close_body(g);

    if (d->e->needs_check) {
        head_check(g, d, "");
        open_body(g);
        for (const ast_field_t *f = t->fields; f; f = f->next) {
            const char *c =
                check_expr(g, f->type, at_lvalue(g, ast_printf(g->arena, "v->%s", f->c_name)));
            if (c)
                guard(g, c, ast_printf(g->arena, "bare_path_field(err, \"%s\")", f->name));
        }
        emit_line(g->out, "return BARE_OK;");
        close_body(g);
    }
}

static void init_fields(gen_t *g, const ast_type_t *t)
{
    for (const ast_field_t *f = t->fields; f; f = f->next)
        if (t_needs_init(f->type))
            emit_line(g->out, "%s_init(&v->%s);", f->type->e.stem, f->c_name);
}

/* ---- union ---- */

static place_t member_place(gen_t *g, const ast_member_t *m, const char *base)
{
    const char *lv = ast_printf(g->arena, "%s->u.%s", base, m->c_name);
    return m->boxed ? at_pointer(g, lv) : at_lvalue(g, lv);
}

static void gen_union(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "int rc;");
    emit_blank(e);
    emit_line(e, "switch (v->tag) {");
    for (const ast_member_t *m = t->members; m; m = m->next) {
        emit_line(e, "case %s:", m->tag_const);
        emit_indent(e);
        if (m->boxed) {
            emit_line(e, "if (!v->u.%s)", m->c_name);
            emit_indent(e);
            emit_line(e, "return BARE_E_NULL_POINTER;");
            emit_dedent(e);
        }
        rc_guard(g, ast_printf(g->arena, "bare_write_uint(w, %s)", m->tag_const));
        const char *enc = m->c_name ? encode_expr(g, m->type, member_place(g, m, "v")) : NULL;
        emit_line(e, "return %s;", enc ? enc : "BARE_OK");
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return BARE_E_UNION_TAG;");
    emit_dedent(e);
    emit_line(e, "}");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    emit_line(e, "size_t at = bare_reader_offset(r);");
    emit_line(e, "uint64_t tag;");
    emit_blank(e);
    enter(g);
    guard(g, "bare_read_uint(r, &tag)", "r->err.status");
    emit_line(e, "switch (tag) {");
    for (const ast_member_t *m = t->members; m; m = m->next) {
        emit_line(e, "case %s:", m->tag_const);
        emit_indent(e);
        emit_line(e, "out->tag = %s;", m->tag_const);
        if (m->c_name) {
            if (m->boxed) {
                emit_line(e, "{");
                emit_indent(e);
                emit_line(e, "void *p;");
                emit_align(e, m->type->e.c_type);
                guard(g,
                      ast_printf(g->arena, "bare_reader_alloc(r, 1, sizeof *out->u.%s, %s, &p)",
                                 m->c_name, ALIGN_EXPR),
                      "r->err.status");
                emit_line(e, "out->u.%s = p;", m->c_name);
                emit_dedent(e);
                emit_line(e, "}");
            }
            guard(g, decode_expr(g, m->type, member_place(g, m, "out")),
                  ast_printf(g->arena, "bare_path_field(&r->err, \"%s\")", m->label));
        }
        emit_line(e, "break;");
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return bare_reader_fail_at(r, BARE_E_UNION_TAG, at);");
    emit_dedent(e);
    emit_line(e, "}");
    leave_ok(g);
    close_body(g);

    head_check(g, d, "");
    open_body(g);
    emit_line(e, "switch (v->tag) {");
    for (const ast_member_t *m = t->members; m; m = m->next) {
        emit_line(e, "case %s:", m->tag_const);
        emit_indent(e);
        if (m->boxed) {
            emit_line(e, "if (!v->u.%s) {", m->c_name);
            emit_indent(e);
            emit_line(e, "bare_error_set(err, BARE_E_NULL_POINTER, 0);");
            emit_line(e, "return bare_path_field(err, \"%s\");", m->label);
            emit_dedent(e);
            emit_line(e, "}");
        }
        const char *c = m->c_name ? check_expr(g, m->type, member_place(g, m, "v")) : NULL;
        if (c)
            guard(g, c, ast_printf(g->arena, "bare_path_field(err, \"%s\")", m->label));
        emit_line(e, "return BARE_OK;");
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return bare_error_set(err, BARE_E_UNION_TAG, 0);");
    emit_dedent(e);
    emit_line(e, "}");
    close_body(g);
}

static void init_union(gen_t *g, const ast_type_t *t)
{
    const ast_member_t *m = t->members;
    emit_line(g->out, "v->tag = %s;", m->tag_const);
    if (m->c_name && !m->boxed && t_needs_init(m->type))
        emit_line(g->out, "%s_init(&v->u.%s);", m->type->e.stem, m->c_name);
}

/* ---- enum ---- */

static void gen_enum(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "if (!%s_is_valid((uint64_t)*v))", stem);
    emit_indent(e);
    emit_line(e, "return BARE_E_ENUM;");
    emit_dedent(e);
    emit_line(e, "return bare_write_uint(w, (uint64_t)*v);");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    emit_line(e, "size_t at = bare_reader_offset(r);");
    emit_line(e, "uint64_t v;");
    emit_blank(e);
    guard(g, "bare_read_uint(r, &v)", "r->err.status");
    emit_line(e, "if (!%s_is_valid(v))", stem);
    emit_indent(e);
    emit_line(e, "return bare_reader_fail_at(r, BARE_E_ENUM, at);");
    emit_dedent(e);
    emit_line(e, "*out = (%s)v;", d->e->c_type);
    emit_line(e, "return BARE_OK;");
    close_body(g);

    head_check(g, d, "");
    open_body(g);
    emit_line(e, "if (!%s_is_valid((uint64_t)*v))", stem);
    emit_indent(e);
    emit_line(e, "return bare_error_set(err, BARE_E_ENUM, 0);");
    emit_dedent(e);
    emit_line(e, "return BARE_OK;");
    close_body(g);
}

static void gen_enum_names(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;
    const char *ct = d->e->c_type;

    emit_line(e, "const char *const %s_names[] = {", stem);
    emit_indent(e);
    for (const ast_enum_value_t *v = t->values; v; v = v->next)
        emit_line(e, "\"%s\",", v->name);
    emit_dedent(e);
    emit_line(e, "};");
    emit_blank(e);
    emit_line(e, "const char *%s_name(%s v)", stem, ct);
    open_body(g);
    emit_line(e, "switch ((uint64_t)v) {");
    for (const ast_enum_value_t *v = t->values; v; v = v->next) {
        emit_line(e, "case %s:", v->c_name);
        emit_indent(e);
        emit_line(e, "return \"%s\";", v->name);
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return NULL;");
    emit_dedent(e);
    emit_line(e, "}");
    close_body(g);
    emit_line(e, "bool %s_from_name(bare_str_t name, %s *out)", stem, ct);
    open_body(g);
    for (const ast_enum_value_t *v = t->values; v; v = v->next) {
        emit_line(e, "if (bare_str_eq_cstr(name, \"%s\")) {", v->name);
        emit_indent(e);
        emit_line(e, "*out = %s;", v->c_name);
        emit_line(e, "return true;");
        emit_dedent(e);
        emit_line(e, "}");
    }
    emit_line(e, "return false;");
    close_body(g);
}

/* ---- optional, list, fixed list, fixed data, map ---- */

static void gen_optional(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    bool boxed = t->e.boxed;
    place_t val = boxed ? at_pointer(g, "v->value") : at_lvalue(g, "v->value");
    place_t out = boxed ? at_pointer(g, "out->value") : at_lvalue(g, "out->value");

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "int rc = bare_write_bool(w, v->present);");
    emit_blank(e);
    emit_line(e, "if (rc != BARE_OK || !v->present)");
    emit_indent(e);
    emit_line(e, "return rc;");
    emit_dedent(e);
    if (boxed) {
        emit_line(e, "if (!v->value)");
        emit_indent(e);
        emit_line(e, "return BARE_E_NULL_POINTER;");
        emit_dedent(e);
    }
    emit_line(e, "return %s;", encode_expr(g, t->elem, val));
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    enter(g);
    guard(g, "bare_read_present(r, &out->present)", "r->err.status");
    emit_line(e, "if (out->present) {");
    emit_indent(e);
    if (boxed) {
        emit_line(e, "void *p;");
        emit_align(e, t->elem->e.c_type);
        guard(
            g,
            ast_printf(g->arena, "bare_reader_alloc(r, 1, sizeof *out->value, %s, &p)", ALIGN_EXPR),
            "r->err.status");
        emit_line(e, "out->value = p;");
    }
    guard(g, decode_expr(g, t->elem, out), "r->err.status");
    emit_dedent(e);
    emit_line(e, "} else {");
    emit_indent(e);
    if (boxed)
        emit_line(e, "out->value = NULL;");
    else
        emit_line(e, "memset(&out->value, 0, sizeof out->value);");
    emit_dedent(e);
    emit_line(e, "}");
    leave_ok(g);
    close_body(g);

    if (d->e->needs_check) {
        head_check(g, d, "");
        open_body(g);
        emit_line(e, "if (!v->present)");
        emit_indent(e);
        emit_line(e, "return BARE_OK;");
        emit_dedent(e);
        if (boxed) {
            emit_line(e, "if (!v->value)");
            emit_indent(e);
            emit_line(e, "return bare_error_set(err, BARE_E_NULL_POINTER, 0);");
            emit_dedent(e);
        }
        const char *c = check_expr(g, t->elem, val);
        emit_line(e, "return %s;", c ? c : "BARE_OK");
        close_body(g);
    }
}

static void null_items_check(gen_t *g, const char *on_error)
{
    emit_line(g->out, "if (v->len && !v->items)");
    emit_indent(g->out);
    emit_line(g->out, "return %s;", on_error);
    emit_dedent(g->out);
}

static void gen_list(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    place_t item = at_lvalue(g, "v->items[i]");

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "int rc;");
    emit_blank(e);
    null_items_check(g, "BARE_E_NULL_POINTER");
    rc_guard(g, "bare_write_uint(w, (uint64_t)v->len)");
    emit_line(e, "for (size_t i = 0; i < v->len; i++) {");
    emit_indent(e);
    rc_guard(g, encode_expr(g, t->elem, item));
    emit_dedent(e);
    emit_line(e, "}");
    emit_line(e, "return BARE_OK;");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    emit_line(e, "size_t n;");
    emit_line(e, "void *items;");
    emit_blank(e);
    enter(g);
    guard(g, ast_printf(g->arena, "bare_read_count(r, %zu, &n)", t_min_size(t->elem)),
          "r->err.status");
    emit_align(e, t->elem->e.c_type);
    guard(
        g,
        ast_printf(g->arena, "bare_reader_alloc(r, n, sizeof *out->items, %s, &items)", ALIGN_EXPR),
        "r->err.status");
    emit_line(e, "out->items = items;");
    emit_line(e, "out->len = n;");
    emit_line(e, "for (size_t i = 0; i < n; i++)");
    emit_indent(e);
    guard(g, decode_expr(g, t->elem, at_lvalue(g, "out->items[i]")),
          "bare_path_index(&r->err, i)");
    emit_dedent(e);
    leave_ok(g);
    close_body(g);

    head_check(g, d, "");
    open_body(g);
    null_items_check(g, "bare_error_set(err, BARE_E_NULL_POINTER, 0)");
    const char *c = check_expr(g, t->elem, item);
    if (c) {
        emit_line(e, "for (size_t i = 0; i < v->len; i++)");
        emit_indent(e);
        guard(g, c, "bare_path_index(err, i)");
        emit_dedent(e);
    }
    emit_line(e, "return BARE_OK;");
    close_body(g);
}

static void gen_list_fixed(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    unsigned long long n = (unsigned long long)t->length;
    place_t item = at_lvalue(g, "v->items[i]");

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "int rc;");
    emit_blank(e);
    emit_line(e, "for (size_t i = 0; i < %llu; i++) {", n);
    emit_indent(e);
    rc_guard(g, encode_expr(g, t->elem, item));
    emit_dedent(e);
    emit_line(e, "}");
    emit_line(e, "return BARE_OK;");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    enter(g);
    emit_line(e, "for (size_t i = 0; i < %llu; i++)", n);
    emit_indent(e);
    guard(g, decode_expr(g, t->elem, at_lvalue(g, "out->items[i]")),
          "bare_path_index(&r->err, i)");
    emit_dedent(e);
    leave_ok(g);
    close_body(g);

    if (d->e->needs_check) {
        head_check(g, d, "");
        open_body(g);
        emit_line(e, "for (size_t i = 0; i < %llu; i++)", n);
        emit_indent(e);
        guard(g, check_expr(g, t->elem, item), "bare_path_index(err, i)");
        emit_dedent(e);
        emit_line(e, "return BARE_OK;");
        close_body(g);
    }
}

static void gen_data_fixed(gen_t *g, const def_t *d, const ast_type_t *t)
{
    unsigned long long n = (unsigned long long)t->length;
    head_encode(g, d, "");
    open_body(g);
    emit_line(g->out, "return bare_write_fixed(w, v->bytes, %llu);", n);
    close_body(g);
    head_decode(g, d, "");
    open_body(g);
    emit_line(g->out, "return bare_read_fixed(r, out->bytes, %llu);", n);
    close_body(g);
}

typedef enum key_path_kind { KP_STR, KP_INT, KP_UINT, KP_INDEX } key_path_kind_t;

typedef struct key_info {
    const char *kind;      /* bare_key_kind_t constant */
    key_path_kind_t path;  /* how an error names the entry */
} key_info_t;

static key_info_t key_info(const ast_type_t *key)
{
    const ast_type_t *k = shape_of(key);
    key_info_t ki;
    switch (k->kind) {
    case AST_STR:
    case AST_DATA:
        ki.kind = "BARE_KEY_BYTES";
        ki.path = KP_STR;
        break;
    case AST_INT:
    case AST_I8:
    case AST_I16:
    case AST_I32:
    case AST_I64:
        ki.kind = "BARE_KEY_SIGNED";
        ki.path = KP_INT;
        break;
    case AST_DATA_FIXED:
        ki.kind = "BARE_KEY_FIXED";
        ki.path = KP_INDEX;
        break;
    default: /* unsigned integers, bool, enums */
        ki.kind = "BARE_KEY_UNSIGNED";
        ki.path = KP_UINT;
        break;
    }
    return ki;
}

static const char *key_path(gen_t *g, key_info_t ki, const char *err, const char *key)
{
    switch (ki.path) {
    case KP_STR:
        return ast_printf(g->arena, "bare_path_key_str(%s, (const char *)%s.ptr, %s.len)", err,
                          key, key);
    case KP_INT:
        return ast_printf(g->arena, "bare_path_key_int(%s, (int64_t)%s)", err, key);
    case KP_UINT:
        return ast_printf(g->arena, "bare_path_key_uint(%s, (uint64_t)%s)", err, key);
    default:
        return ast_printf(g->arena, "bare_path_index(%s, i)", err);
    }
}

static void gen_map(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    key_info_t ki = key_info(t->key);

    head_encode(g, d, "");
    open_body(g);
    emit_line(e, "int rc;");
    emit_blank(e);
    null_items_check(g, "BARE_E_NULL_POINTER");
    rc_guard(g, "bare_write_uint(w, (uint64_t)v->len)");
    emit_line(e, "for (size_t i = 0; i < v->len; i++) {");
    emit_indent(e);
    rc_guard(g, encode_expr(g, t->key, at_lvalue(g, "v->items[i].key")));
    rc_guard(g, encode_expr(g, t->elem, at_lvalue(g, "v->items[i].value")));
    emit_dedent(e);
    emit_line(e, "}");
    emit_line(e, "return BARE_OK;");
    close_body(g);

    head_decode(g, d, "");
    open_body(g);
    emit_line(e, "size_t at = bare_reader_offset(r);");
    emit_line(e, "size_t n;");
    emit_line(e, "void *items;");
    emit_blank(e);
    enter(g);
    guard(g,
          ast_printf(g->arena, "bare_read_count(r, %zu, &n)",
                     sat_add(t_min_size(t->key), t_min_size(t->elem))),
          "r->err.status");
    emit_align(e, ast_printf(g->arena, "%s_entry_t", d->e->stem));
    guard(
        g,
        ast_printf(g->arena, "bare_reader_alloc(r, n, sizeof *out->items, %s, &items)", ALIGN_EXPR),
        "r->err.status");
    emit_line(e, "out->items = items;");
    emit_line(e, "out->len = n;");
    emit_line(e, "for (size_t i = 0; i < n; i++) {");
    emit_indent(e);
    guard(g, decode_expr(g, t->key, at_lvalue(g, "out->items[i].key")),
          "bare_path_index(&r->err, i)");
    guard(g, decode_expr(g, t->elem, at_lvalue(g, "out->items[i].value")),
          key_path(g, ki, "&r->err", "out->items[i].key"));
    emit_dedent(e);
    emit_line(e, "}");
    guard(g,
          ast_printf(g->arena,
                     "bare_reader_check_keys(r, out->items, n, sizeof *out->items, %s, "
                     "sizeof out->items[0].key, at)",
                     ki.kind),
          "r->err.status");
    leave_ok(g);
    close_body(g);

    head_check(g, d, "");
    open_body(g);
    null_items_check(g, "bare_error_set(err, BARE_E_NULL_POINTER, 0)");
    const char *ck = check_expr(g, t->key, at_lvalue(g, "v->items[i].key"));
    const char *cv = check_expr(g, t->elem, at_lvalue(g, "v->items[i].value"));
    if (ck || cv) {
        emit_line(e, "for (size_t i = 0; i < v->len; i++) {");
        emit_indent(e);
        if (ck)
            guard(g, ck, "bare_path_index(err, i)");
        if (cv)
            guard(g, cv, key_path(g, ki, "err", "v->items[i].key"));
        emit_dedent(e);
        emit_line(e, "}");
    }
    emit_line(e, "return bare_check_keys(err, v->items, v->len, sizeof *v->items, %s, "
                 "sizeof v->items[0].key);",
              ki.kind);
    close_body(g);
}

/* ---- named void and aliases ---- */

static void gen_void(gen_t *g, const def_t *d)
{
    head_encode(g, d, "");
    open_body(g);
    emit_line(g->out, "(void)w;");
    emit_line(g->out, "(void)v;");
    emit_line(g->out, "return BARE_OK;");
    close_body(g);
    head_decode(g, d, "");
    open_body(g);
    emit_line(g->out, "(void)r;");
    emit_line(g->out, "out->unused_ = 0;");
    emit_line(g->out, "return BARE_OK;");
    close_body(g);
}

static void gen_alias(gen_t *g, const def_t *d, const ast_type_t *t)
{
    head_encode(g, d, "");
    open_body(g);
    emit_line(g->out, "return %s;", encode_expr(g, t, at_pointer(g, "v")));
    close_body(g);
    head_decode(g, d, "");
    open_body(g);
    emit_line(g->out, "return %s;", decode_expr(g, t, at_pointer(g, "out")));
    close_body(g);
    if (d->e->needs_check) {
        head_check(g, d, "");
        open_body(g);
        emit_line(g->out, "return %s;", check_expr(g, t, at_pointer(g, "v")));
        close_body(g);
    }
}

/* ---- per definition ---- */

static void gen_init(gen_t *g, const def_t *d, const ast_type_t *t)
{
    if (!gen_is_named(d) && !d->e->init_called)
        return;
    head_init(g, d, "");
    open_body(g);
    emit_line(g->out, "memset(v, 0, sizeof *v);");
    if (d->e->needs_init) {
        switch (t->kind) {
        case AST_STRUCT:
            init_fields(g, t);
            break;
        case AST_UNION:
            init_union(g, t);
            break;
        case AST_ENUM:
            emit_line(g->out, "*v = %s;", t->values->c_name);
            break;
        case AST_LIST_FIXED:
            emit_line(g->out, "for (size_t i = 0; i < %llu; i++)",
                      (unsigned long long)t->length);
            emit_indent(g->out);
            emit_line(g->out, "%s_init(&v->items[i]);", t->elem->e.stem);
            emit_dedent(g->out);
            break;
        default:
            emit_line(g->out, "%s_init(v);", t->e.stem);
            break;
        }
    }
    close_body(g);
}

static void gen_validate(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    emit_line(e, "int %s_validate(const %s *v, bare_error_t *err)", d->e->stem, d->e->c_type);
    open_body(g);
    emit_line(e, "bare_error_t local;");
    emit_blank(e);
    emit_line(e, "if (!err)");
    emit_indent(e);
    emit_line(e, "err = &local;");
    emit_dedent(e);
    emit_line(e, "bare_error_init(err);");
    if (d->e->needs_check) {
        emit_line(e, "return %s_check(v, err);", d->e->stem);
    } else {
        emit_line(e, "(void)v;");
        emit_line(e, "return BARE_OK;");
    }
    close_body(g);
}

static void gen_functions(gen_t *g, const def_t *d)
{
    const ast_type_t *t = gen_body(d);
    if (d->kind == DEF_ENTRY)
        return;
    emit_line(g->out, "/* %s */", d->kind == DEF_DECL ? d->decl->name : gen_spelling(g, t));
    emit_blank(g->out);
    switch (t->kind) {
    case AST_STRUCT:
        gen_struct(g, d, t);
        break;
    case AST_UNION:
        gen_union(g, d, t);
        break;
    case AST_ENUM:
        gen_enum(g, d);
        if (gen_is_named(d))
            gen_enum_names(g, d, t);
        break;
    case AST_VOID:
        if (d->kind == DEF_DECL)
            gen_void(g, d);
        break;
    default:
        if (d->kind == DEF_DECL) {
            gen_alias(g, d, t);
            break;
        }
        if (t->kind == AST_OPTIONAL)
            gen_optional(g, d, t);
        else if (t->kind == AST_LIST)
            gen_list(g, d, t);
        else if (t->kind == AST_LIST_FIXED)
            gen_list_fixed(g, d, t);
        else if (t->kind == AST_DATA_FIXED)
            gen_data_fixed(g, d, t);
        else if (t->kind == AST_MAP)
            gen_map(g, d, t);
        break;
    }
    gen_init(g, d, t);
    if (gen_is_named(d)) {
        gen_validate(g, d);
        if (t->kind == AST_UNION)
            gen_dispatch_defs(g, d);
    }
}

static void gen_prototypes(gen_t *g)
{
    const emit_model_t *m = g->m;
    emit_line(g->out, "/* Functions of anonymous and structural types, and validators. */");
    for (size_t i = 0; i < m->ndefs; i++) {
        const def_t *d = m->defs[i];
        const ast_type_t *t = gen_body(d);
        if (d->kind == DEF_ENTRY || (t->kind == AST_VOID && d->kind != DEF_DECL))
            continue;
        if (!gen_is_named(d)) {
            head_encode(g, d, ";");
            head_decode(g, d, ";");
            if (d->e->init_called)
                head_init(g, d, ";");
        }
        if (d->e->needs_check)
            head_check(g, d, ";");
    }
    emit_blank(g->out);
}

/* ---- descriptors ---- */

static const char *desc_kind(ast_kind_t k)
{
    switch (k) {
    case AST_UINT:
        return "BARE_KIND_UINT";
    case AST_INT:
        return "BARE_KIND_INT";
    case AST_U8:
        return "BARE_KIND_U8";
    case AST_U16:
        return "BARE_KIND_U16";
    case AST_U32:
        return "BARE_KIND_U32";
    case AST_U64:
        return "BARE_KIND_U64";
    case AST_I8:
        return "BARE_KIND_I8";
    case AST_I16:
        return "BARE_KIND_I16";
    case AST_I32:
        return "BARE_KIND_I32";
    case AST_I64:
        return "BARE_KIND_I64";
    case AST_F32:
        return "BARE_KIND_F32";
    case AST_F64:
        return "BARE_KIND_F64";
    case AST_BOOL:
        return "BARE_KIND_BOOL";
    case AST_STR:
        return "BARE_KIND_STR";
    case AST_DATA:
        return "BARE_KIND_DATA";
    case AST_VOID:
        return "BARE_KIND_VOID";
    case AST_DATA_FIXED:
        return "BARE_KIND_DATA_FIXED";
    case AST_OPTIONAL:
        return "BARE_KIND_OPTIONAL";
    case AST_LIST:
        return "BARE_KIND_LIST";
    case AST_LIST_FIXED:
        return "BARE_KIND_LIST_FIXED";
    case AST_MAP:
        return "BARE_KIND_MAP";
    case AST_ENUM:
        return "BARE_KIND_ENUM";
    case AST_UNION:
        return "BARE_KIND_UNION";
    default:
        return "BARE_KIND_STRUCT";
    }
}

/* &descriptor of any type: the runtime's for primitives, ours otherwise. */
static const char *desc_ref(gen_t *g, const ast_type_t *t)
{
    if (t->kind == AST_VOID)
        return "NULL";
    if (t->kind <= AST_VOID)
        return ast_printf(g->arena, "&bare_desc_%s", prim_name(t->kind));
    return ast_printf(g->arena, "&%s_desc", t->e.stem);
}

/*
 * An enum value or union tag as a C constant: past INT_MAX in UINT64_C, as in the header (a
 * plain decimal constant past INT64_MAX is "so large that it is unsigned").
 */
static const char *u64_literal(gen_t *g, uint64_t v)
{
    if (v > INT_MAX)
        return ast_printf(g->arena, "UINT64_C(%llu)", (unsigned long long)v);
    return ast_printf(g->arena, "%llu", (unsigned long long)v);
}

static void gen_desc_arrays(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;
    if (t->kind == AST_STRUCT) {
        emit_line(e, "static const bare_field_desc_t %s_fields[] = {", stem);
        emit_indent(e);
        for (const ast_field_t *f = t->fields; f; f = f->next)
            emit_line(e, "{\"%s\", %s, offsetof(%s, %s)},", f->name, desc_ref(g, f->type),
                      d->e->c_type, f->c_name);
        emit_dedent(e);
        emit_line(e, "};");
    } else if (t->kind == AST_ENUM) {
        emit_line(e, "static const bare_enum_value_desc_t %s_values[] = {", stem);
        emit_indent(e);
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            emit_line(e, "{\"%s\", %s},", v->name, u64_literal(g, v->value));
        emit_dedent(e);
        emit_line(e, "};");
    } else if (t->kind == AST_UNION) {
        emit_line(e, "static const bare_member_desc_t %s_members[] = {", stem);
        emit_indent(e);
        for (const ast_member_t *m = t->members; m; m = m->next)
            emit_line(e, "{\"%s\", %s, %s, %s},", m->label, u64_literal(g, m->tag),
                      desc_ref(g, m->type), m->boxed ? "true" : "false");
        emit_dedent(e);
        emit_line(e, "};");
    } else {
        return;
    }
    emit_blank(e);
}

/* The initialiser fields that describe the shape s, as laid out by the definition `owner`. */
static void gen_desc_shape(gen_t *g, const ast_type_t *s, const char *owner_ct)
{
    emitter_t *e = g->out;
    const def_t *sd = order_def_of(s);
    const char *sstem = sd ? sd->e->stem : NULL;
    size_t count = 0;

    emit_line(e, ".kind = %s,", desc_kind(s->kind));
    switch (s->kind) {
    case AST_STRUCT:
        for (const ast_field_t *f = s->fields; f; f = f->next)
            count++;
        emit_line(e, ".count = %zu,", count);
        emit_line(e, ".fields = %s_fields,", sstem);
        break;
    case AST_ENUM:
        for (const ast_enum_value_t *v = s->values; v; v = v->next)
            count++;
        emit_line(e, ".count = %zu,", count);
        emit_line(e, ".values = %s_values,", sstem);
        break;
    case AST_UNION: {
        bool storage = false;
        for (const ast_member_t *m = s->members; m; m = m->next) {
            count++;
            storage = storage || m->c_name;
        }
        emit_line(e, ".count = %zu,", count);
        emit_line(e, ".members = %s_members,", sstem);
        emit_line(e, ".c_tag_size = sizeof(%s_tag_t),", sstem);
        if (storage)
            emit_line(e, ".c_inner_offset = offsetof(%s, u),", owner_ct);
        break;
    }
    case AST_OPTIONAL:
        emit_line(e, ".elem = %s,", desc_ref(g, s->elem));
        emit_line(e, ".c_inner_offset = offsetof(%s, value),", owner_ct);
        if (s->e.boxed)
            emit_line(e, ".boxed = true,");
        break;
    case AST_LIST:
        emit_line(e, ".elem = %s,", desc_ref(g, s->elem));
        break;
    case AST_LIST_FIXED:
        emit_line(e, ".length = %llu,", (unsigned long long)s->length);
        emit_line(e, ".elem = %s,", desc_ref(g, s->elem));
        break;
    case AST_DATA_FIXED:
        emit_line(e, ".length = %llu,", (unsigned long long)s->length);
        break;
    case AST_MAP:
        emit_line(e, ".key = %s,", desc_ref(g, s->key));
        emit_line(e, ".elem = %s,", desc_ref(g, s->elem));
        emit_line(e, ".c_entry_size = sizeof(%s_entry_t),", sstem);
        emit_line(e, ".c_inner_offset = offsetof(%s_entry_t, value),", sstem);
        break;
    default:
        break;
    }
    emit_line(e, ".c_size = sizeof(%s),", owner_ct);
}

static void gen_thunks(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;
    emit_line(e, "static int %s_encode_any(bare_writer_t *w, const void *v)", stem);
    open_body(g);
    emit_line(e, "return %s_encode(w, v);", stem);
    close_body(g);
    emit_line(e, "static int %s_decode_any(bare_reader_t *r, void *v)", stem);
    open_body(g);
    emit_line(e, "return %s_decode(r, v);", stem);
    close_body(g);
    emit_line(e, "static int %s_validate_any(const void *v, bare_error_t *err)", stem);
    open_body(g);
    emit_line(e, "return %s_validate(v, err);", stem);
    close_body(g);
    emit_line(e, "static void %s_init_any(void *v)", stem);
    open_body(g);
    emit_line(e, "%s_init(v);", stem);
    close_body(g);
}

static void gen_desc(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const ast_type_t *t = gen_body(d);
    const ast_type_t *s = d->kind == DEF_DECL ? shape_of(t) : t;
    bool named = gen_is_named(d);

    if (d->kind == DEF_ENTRY || (!named && !d->e->desc_used))
        return;
    gen_desc_arrays(g, d, t);
    if (named)
        gen_thunks(g, d);
    emit_line(e, "%sconst bare_type_desc_t %s_desc = {", named ? "" : "static ", d->e->stem);
    emit_indent(e);
    if (s->kind == AST_VOID || (!ast_is_aggregate(s->kind) && s->kind != AST_DATA_FIXED)) {
        emit_line(e, ".kind = %s,", desc_kind(s->kind));
        emit_line(e, ".c_size = sizeof(%s),", d->e->c_type);
    } else {
        gen_desc_shape(g, s, d->e->c_type);
    }
    emit_line(e, ".name = \"%s\",", named ? d->decl->name : gen_spelling(g, t));
    if (named) {
        emit_line(e, ".encode = %s_encode_any,", d->e->stem);
        emit_line(e, ".decode = %s_decode_any,", d->e->stem);
        emit_line(e, ".validate = %s_validate_any,", d->e->stem);
        emit_line(e, ".init = %s_init_any,", d->e->stem);
    }
    emit_dedent(e);
    emit_line(e, "};");
    emit_blank(e);
}

/*
 * An alias declared ahead of the type it names (--legacy) describes its shape with that type's
 * field, value or member array, which is defined with the type's descriptor: it must wait.
 */
static bool desc_waits(const emit_model_t *m, size_t i)
{
    const def_t *d = m->defs[i];
    if (d->kind != DEF_DECL || d->decl->type->kind != AST_NAMED)
        return false;
    const def_t *shape = order_def_of(shape_of(d->decl->type));
    for (size_t j = i + 1; j < m->ndefs; j++)
        if (m->defs[j] == shape)
            return true;
    return false;
}

void gen_source(gen_t *g)
{
    emitter_t *e = g->out;
    const emit_model_t *m = g->m;

    compute_props(m);
    mark_uses(m);
    emit_line(e, "/* Code generated by schemac %s from %s. DO NOT EDIT. */", SCHEMAC_VERSION,
              g->source_name);
    emit_line(e, "#include <stddef.h>");
    emit_line(e, "#include <string.h>");
    emit_blank(e);
    emit_line(e, "#include \"%s\"", g->header_name);
    emit_blank(e);
    gen_prototypes(g);
    emit_line(e, "/* Descriptors of anonymous and structural types, defined at the end. */");
    for (size_t i = 0; i < m->ndefs; i++)
        if (m->defs[i]->kind == DEF_TYPE && m->defs[i]->e->desc_used)
            emit_line(e, "static const bare_type_desc_t %s_desc;", m->defs[i]->e->stem);
    emit_blank(e);
    for (size_t i = 0; i < m->ndefs; i++)
        gen_functions(g, m->defs[i]);
    for (size_t i = 0; i < m->ndefs; i++)
        if (!desc_waits(m, i))
            gen_desc(g, m->defs[i]);
    for (size_t i = 0; i < m->ndefs; i++)
        if (desc_waits(m, i))
            gen_desc(g, m->defs[i]);
    emit_line(e, "static const bare_type_desc_t *const %s_schema_types[] = {", m->prefix);
    emit_indent(e);
    size_t n = 0;
    for (const ast_decl_t *d = g->schema->decls; d; d = d->next, n++)
        emit_line(e, "&%s_desc,", d->e.stem);
    emit_dedent(e);
    emit_line(e, "};");
    emit_blank(e);
    emit_line(e, "const bare_schema_desc_t %s_schema = {\"%s\", %zu, %s_schema_types};", m->prefix,
              g->source_name, n, m->prefix);
}
