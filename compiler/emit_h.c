/* emit_h.c - the generated header: C types in dependency order, then the API of each named type. */
#include <limits.h>
#include <string.h>

#include "emit.h"
#include "schemac.h"

const ast_type_t *gen_body(const def_t *d)
{
    return d->kind == DEF_DECL ? d->decl->type : d->type;
}

bool gen_is_named(const def_t *d)
{
    return d->kind == DEF_DECL;
}

const char *gen_spelling(gen_t *g, const ast_type_t *t)
{
    return ast_spelling(g->arena, t);
}

bool gen_fits_int(const ast_type_t *t)
{
    if (t->kind == AST_ENUM) {
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            if (v->value > INT_MAX)
                return false;
    } else if (t->kind == AST_UNION) {
        for (const ast_member_t *m = t->members; m; m = m->next)
            if (m->tag > INT_MAX)
                return false;
    }
    return true;
}

static const char *upper(gen_t *g, const char *s)
{
    char *out = ast_strdup(g->arena, s);
    for (char *p = out; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return out;
}

static void comment_for(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    if (d->kind == DEF_DECL)
        emit_line(e, "/* %s (%s:%d) */", d->decl->name, g->source_name, d->decl->span.first_line);
    else if (d->kind == DEF_ENTRY)
        emit_line(e, "/* an entry of %s */", gen_spelling(g, d->type));
    else if (d->type->kind == AST_STRUCT || d->type->kind == AST_UNION ||
             d->type->kind == AST_ENUM)
        emit_line(e, "/* anonymous %s in %s (%s:%d) */", ast_kind_spelling(d->type->kind),
                  d->type->owner ? d->type->owner->name : "?", g->source_name,
                  d->type->span.first_line);
    else
        emit_line(e, "/* %s */", gen_spelling(g, d->type));
}

static void gen_enum_type(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;
    size_t count = 0;
    for (const ast_enum_value_t *v = t->values; v; v = v->next)
        count++;
    if (gen_fits_int(t)) {
        emit_line(e, "typedef enum %s {", stem);
        emit_indent(e);
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            emit_line(e, "%s = %llu,", v->c_name, (unsigned long long)v->value);
        emit_dedent(e);
        emit_line(e, "} %s;", d->e->c_type);
    } else {
        emit_line(e, "typedef uint64_t %s;", d->e->c_type);
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            emit_line(e, "#define %s UINT64_C(%llu)", v->c_name, (unsigned long long)v->value);
    }
    emit_line(e, "#define %s_COUNT %zu", upper(g, stem), count);
    emit_blank(e);
    bool dense = true;
    uint64_t i = 0;
    for (const ast_enum_value_t *v = t->values; v; v = v->next, i++)
        if (v->value != i)
            dense = false;
    emit_line(e, "static inline bool %s_is_valid(uint64_t v)", stem);
    emit_line(e, "{");
    emit_indent(e);
    if (dense) {
        emit_line(e, "return v < %zu;", count);
    } else {
        emit_line(e, "switch (v) {");
        for (const ast_enum_value_t *v = t->values; v; v = v->next)
            emit_line(e, "case %s:", v->c_name);
        emit_indent(e);
        emit_line(e, "return true;");
        emit_dedent(e);
        emit_line(e, "default:");
        emit_indent(e);
        emit_line(e, "return false;");
        emit_dedent(e);
        emit_line(e, "}");
    }
    emit_dedent(e);
    emit_line(e, "}");
}

static void gen_union_type(gen_t *g, const def_t *d, const ast_type_t *t)
{
    emitter_t *e = g->out;
    const char *stem = d->e->stem;
    if (gen_fits_int(t)) {
        emit_line(e, "typedef enum %s_tag {", stem);
        emit_indent(e);
        for (const ast_member_t *m = t->members; m; m = m->next)
            emit_line(e, "%s = %llu,", m->tag_const, (unsigned long long)m->tag);
        emit_dedent(e);
        emit_line(e, "} %s_tag_t;", stem);
    } else {
        emit_line(e, "typedef uint64_t %s_tag_t;", stem);
        for (const ast_member_t *m = t->members; m; m = m->next)
            emit_line(e, "#define %s UINT64_C(%llu)", m->tag_const, (unsigned long long)m->tag);
    }
    emit_blank(e);
    emit_line(e, "struct %s {", d->tag);
    emit_indent(e);
    emit_line(e, "%s_tag_t tag;", stem);
    bool storage = false;
    for (const ast_member_t *m = t->members; m; m = m->next)
        if (m->c_name)
            storage = true;
    if (storage) {
        emit_line(e, "union {");
        emit_indent(e);
        for (const ast_member_t *m = t->members; m; m = m->next) {
            if (!m->c_name)
                continue;
            emit_line(e, "%s %s%s; /* %s%s */", m->type->e.c_type, m->boxed ? "*" : "", m->c_name,
                      m->label, m->boxed ? ", behind a pointer: the type is recursive" : "");
        }
        emit_dedent(e);
        emit_line(e, "} u;");
    }
    emit_dedent(e);
    emit_line(e, "};");
}

static void gen_type(gen_t *g, const def_t *d)
{
    emitter_t *e = g->out;
    const ast_type_t *t = gen_body(d);

    if (d->kind == DEF_DECL && d->struct_like && t->kind != AST_STRUCT && t->kind != AST_UNION &&
        t->kind != AST_VOID)
        return; /* an alias of a struct type: its typedef is among the declarations above */
    comment_for(g, d);
    if (d->kind == DEF_ENTRY) {
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "%s key; /* %s */", t->key->e.c_type, gen_spelling(g, t->key));
        emit_line(e, "%s value; /* %s */", t->elem->e.c_type, gen_spelling(g, t->elem));
        emit_dedent(e);
        emit_line(e, "};");
        emit_blank(e);
        return;
    }
    switch (t->kind) {
    case AST_STRUCT:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        for (const ast_field_t *f = t->fields; f; f = f->next)
            emit_line(e, "%s %s; /* %s */", f->type->e.c_type, f->c_name,
                      gen_spelling(g, f->type));
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_UNION:
        gen_union_type(g, d, t);
        break;
    case AST_ENUM:
        gen_enum_type(g, d, t);
        break;
    case AST_VOID:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "char unused_; /* void: nothing goes on the wire */");
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_OPTIONAL:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "bool present;");
        if (t->e.boxed)
            emit_line(e, "%s *value; /* behind a pointer: the type is recursive */",
                      t->elem->e.c_type);
        else
            emit_line(e, "%s value;", t->elem->e.c_type);
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_LIST:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "size_t len;");
        emit_line(e, "%s *items;", t->elem->e.c_type);
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_LIST_FIXED:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "%s items[%llu];", t->elem->e.c_type, (unsigned long long)t->length);
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_DATA_FIXED:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "uint8_t bytes[%llu];", (unsigned long long)t->length);
        emit_dedent(e);
        emit_line(e, "};");
        break;
    case AST_MAP:
        emit_line(e, "struct %s {", d->tag);
        emit_indent(e);
        emit_line(e, "size_t len;");
        emit_line(e, "%s_entry_t *items;", d->e->stem);
        emit_dedent(e);
        emit_line(e, "};");
        break;
    default:
        /* an alias of a primitive or an enum */
        emit_line(e, "typedef %s %s;", t->e.c_type, d->e->c_type);
        break;
    }
    emit_blank(e);
}

static void gen_api(gen_t *g, const ast_decl_t *decl)
{
    emitter_t *e = g->out;
    const def_t *d = decl->e.def;
    const char *stem = decl->e.stem;
    const char *ct = decl->e.c_type;

    emit_line(e, "/* %s */", decl->name);
    emit_line(e, "void %s_init(%s *v);", stem, ct);
    emit_line(e, "BARE_MUST_CHECK int %s_encode(bare_writer_t *w, const %s *v);", stem, ct);
    emit_line(e, "BARE_MUST_CHECK int %s_decode(bare_reader_t *r, %s *out);", stem, ct);
    emit_line(e, "BARE_MUST_CHECK int %s_validate(const %s *v, bare_error_t *err);", stem, ct);
    emit_line(e, "extern const bare_type_desc_t %s_desc;", stem);
    if (decl->type->kind == AST_ENUM) {
        emit_line(e, "extern const char *const %s_names[%s_COUNT];", stem, upper(g, stem));
        emit_line(e, "const char *%s_name(%s v);", stem, ct);
        emit_line(e, "bool %s_from_name(bare_str_t name, %s *out);", stem, ct);
    }
    if (decl->type->kind == AST_UNION) {
        emit_line(e, "const char *%s_tag_name(%s_tag_t tag);", stem, stem);
        gen_dispatch_decls(g, d);
    }
    emit_blank(e);
}

void gen_header(gen_t *g)
{
    emitter_t *e = g->out;
    const emit_model_t *m = g->m;

    emit_line(e, "/* Code generated by schemac %s from %s. DO NOT EDIT. */", SCHEMAC_VERSION,
              g->source_name);
    emit_line(e, "#ifndef %s", g->guard);
    emit_line(e, "#define %s", g->guard);
    emit_blank(e);
    emit_line(e, "#include \"bare.h\"");
    emit_blank(e);
    emit_line(e, "#if BARE_ABI_VERSION != %d", SCHEMAC_ABI_VERSION);
    emit_line(e, "#error \"%s needs the bare runtime ABI %d; regenerate it with schemac\"",
              g->header_name, SCHEMAC_ABI_VERSION);
    emit_line(e, "#endif");
    emit_blank(e);
    emit_line(e, "#ifdef __cplusplus");
    emit_line(e, "extern \"C\" {");
    emit_line(e, "#endif");
    emit_blank(e);
    emit_line(e, "/* Struct types, declared ahead so that they can point at each other. */");
    for (size_t i = 0; i < m->ndefs; i++) {
        const def_t *d = m->defs[i];
        if (d->struct_like)
            emit_line(e, "typedef struct %s %s;", d->tag, d->e->c_type);
    }
    emit_blank(e);
    for (size_t i = 0; i < m->ndefs; i++)
        gen_type(g, m->defs[i]);

    emit_line(e, "/*");
    emit_line(e, " * For each named type T:");
    emit_line(e, " *   T_init      sets the zero value (first enum value, first union member).");
    emit_line(e, " *   T_encode    appends the encoding to w; BARE_E_ENUM, BARE_E_UNION_TAG, "
                 "BARE_E_UTF8 or");
    emit_line(e, " *               BARE_E_NULL_POINTER when the value cannot be encoded.");
    emit_line(e, " *   T_decode    reads one value strictly; strings and data borrow r's buffer, "
                 "lists, maps");
    emit_line(e, " *               and recursive values come from r's arena. On failure r->err "
                 "holds the status,");
    emit_line(e, " *               offset and path, and *out is unspecified.");
    emit_line(e, " *   T_validate  checks a value built in C obeys the schema (UTF-8, enum "
                 "values, union tags,");
    emit_line(e, " *               NULL pointers, duplicate map keys); err may be NULL.");
    emit_line(e, " *   T_desc      the type descriptor, for generic tools.");
    emit_line(e, " */");
    emit_blank(e);
    for (const ast_decl_t *d = g->schema->decls; d; d = d->next)
        gen_api(g, d);
    emit_line(e, "/* Every named type of the schema, in schema order. */");
    emit_line(e, "extern const bare_schema_desc_t %s_schema;", m->prefix);
    emit_blank(e);
    emit_line(e, "#ifdef __cplusplus");
    emit_line(e, "}");
    emit_line(e, "#endif");
    emit_blank(e);
    emit_line(e, "#endif /* %s */", g->guard);
}
