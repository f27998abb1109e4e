/*
 * emit_dispatch.c - dispatch tables of named unions: a struct with one typed handler per member,
 * a macro that builds it from exactly one handler per member in schema order (so a missing,
 * extra or misplaced handler fails to compile), and the _dispatch function.
 */
#include "emit.h"

/* Each member's handler field: its storage name, or the escaped "void" for a bare void. */
static const char *handler_name(const ast_member_t *m)
{
    return m->c_name ? m->c_name : "void_";
}

/* "#define MACRO_HANDLERS(h0, ..., hN-1) \" */
static void emit_handlers_head(emitter_t *e, const char *macro, size_t n)
{
    emit_raw(e, "#define %s_HANDLERS(", macro);
    for (size_t i = 0; i < n; i++)
        emit_raw(e, "%sh%zu", i ? ", " : "", i);
    emit_raw(e, ") \\\n");
}

void gen_dispatch_decls(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const ast_type_t *t = gen_body(d);
    const char *stem = d->e->stem;
    char *macro = ast_strdup(g->arena, stem);
    size_t n = 0;

    for (char *p = macro; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    emit_line(e, "typedef struct %s_handlers {", stem);
    emit_indent(e);
    for (const ast_member_t *m = t->members; m; m = m->next, n++) {
        if (m->type->kind == AST_VOID)
            emit_line(e, "int (*%s)(void *ctx);", handler_name(m));
        else
            emit_line(e, "int (*%s)(void *ctx, const %s *v);", handler_name(m),
                      m->type->e.c_type);
    }
    emit_dedent(e);
    emit_line(e, "} %s_handlers_t;", stem);
    emit_line(e, "/* A handler table from one handler per member, in schema order. */");
    /* C++ before C++20 has no designated initializers: the members are in schema order, so a
     * positional list is the same table, and C++ refuses a handler of the wrong type. */
    emit_line(e, "#ifdef __cplusplus");
    emit_handlers_head(e, macro, n);
    emit_raw(e, "    {");
    for (size_t i = 0; i < n; i++)
        emit_raw(e, "%s(h%zu)", i ? ", " : "", i);
    emit_raw(e, "}\n");
    emit_line(e, "#else");
    emit_handlers_head(e, macro, n);
    emit_raw(e, "    {");
    size_t i = 0;
    /* Each handler through BARE_HANDLER: one of the wrong type is an error, not a warning. */
    for (const ast_member_t *m = t->members; m; m = m->next, i++) {
        if (m->type->kind == AST_VOID)
            emit_raw(e, "%s \\\n        .%s = BARE_HANDLER(int (*)(void *), h%zu)", i ? "," : "",
                     handler_name(m), i);
        else
            emit_raw(e, "%s \\\n        .%s = BARE_HANDLER(int (*)(void *, const %s *), h%zu)",
                     i ? "," : "", handler_name(m), m->type->e.c_type, i);
    }
    emit_raw(e, " \\\n    }\n");
    emit_line(e, "#endif");
    emit_line(e, "/* Calls the handler of v's member; BARE_E_UNION_TAG for an unknown tag. */");
    emit_line(e, "BARE_MUST_CHECK int %s_dispatch(const %s_handlers_t *h, void *ctx, const %s *v);",
              stem, stem, d->e->c_type);
}

void gen_dispatch_defs(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const ast_type_t *t = gen_body(d);
    const char *stem = d->e->stem;

    emit_line(e, "const char *%s_tag_name(%s_tag_t tag)", stem, stem);
    emit_line(e, "{");
    emit_indent(e);
    emit_line(e, "switch (tag) {");
    for (const ast_member_t *m = t->members; m; m = m->next) {
        emit_line(e, "case %s:", m->tag_const);
        emit_indent(e);
        emit_line(e, "return \"%s\";", m->label);
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return NULL;");
    emit_dedent(e);
    emit_line(e, "}");
    emit_dedent(e);
    emit_line(e, "}");
    emit_blank(e);

    emit_line(e, "int %s_dispatch(const %s_handlers_t *h, void *ctx, const %s *v)", stem, stem,
              d->e->c_type);
    emit_line(e, "{");
    emit_indent(e);
    emit_line(e, "switch (v->tag) {");
    for (const ast_member_t *m = t->members; m; m = m->next) {
        const char *hn = handler_name(m);
        emit_line(e, "case %s:", m->tag_const);
        emit_indent(e);
        emit_line(e, "if (!h->%s)", hn);
        emit_indent(e);
        emit_line(e, "return BARE_E_NO_HANDLER;");
        emit_dedent(e);
        if (m->type->kind == AST_VOID)
            emit_line(e, "return h->%s(ctx);", hn);
        else if (m->boxed)
            emit_line(e, "return h->%s(ctx, v->u.%s);", hn, m->c_name);
        else
            emit_line(e, "return h->%s(ctx, &v->u.%s);", hn, m->c_name);
        emit_dedent(e);
    }
    emit_line(e, "default:");
    emit_indent(e);
    emit_line(e, "return BARE_E_UNION_TAG;");
    emit_dedent(e);
    emit_line(e, "}");
    emit_dedent(e);
    emit_line(e, "}");
    emit_blank(e);
}
