/*
 * desc.c - schemas loaded at run time: schemac_compile's front half (read, parse, check, name)
 * for tools, and type descriptors built from the checked tree, as schemac would emit them but
 * without a C layout, so libbare's generic codecs (bare_yaml_to_bare, bare_to_yaml) use them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "sema.h"

int schemac_front_load(const schemac_options_t *opt, FILE *diag_out, schemac_front_t *f)
{
    size_t len = opt->text_len;

    memset(f, 0, sizeof *f);
    bare_arena_init(&f->arena, NULL, NULL);
    diag_init(&f->diag, opt->schema_path, NULL, 0, diag_out);
    if (opt->error_limit)
        f->diag.error_limit = opt->error_limit < 0 ? 0 : opt->error_limit;
    if (opt->prefix && !schemac_valid_prefix(opt->prefix)) {
        diag_plain_error(&f->diag, "invalid prefix '%s': %s", opt->prefix,
                         schemac_name_problem(opt->prefix));
        return SCHEMAC_USAGE_ERROR;
    }
    if (!opt->text) {
        int err = 0;
        f->text = schemac_read_file(opt->schema_path, &len, &err);
        if (!f->text) {
            diag_plain_error(&f->diag, "cannot read '%s': %s", opt->schema_path,
                             err == EFBIG ? "larger than 16 MiB" : strerror(err));
            return SCHEMAC_USAGE_ERROR;
        }
    }
    const char *src = opt->text ? opt->text : f->text;
    f->len = len;
    f->diag.src = src;
    f->diag.src_len = len;

    parse_ctx_t pc = {&f->arena, &f->diag,     &f->schema,  &f->schema.decls,
                      0,         {0, 0, 0, 0}, opt->legacy, opt->vbare};
    parse_schema(&pc, src, len, opt->trace);
    if (f->diag.errors == 0) {
        sema_t sema = {&f->arena, &f->diag, &f->schema, opt->legacy, {NULL, 0}, NULL};
        sema_check(&sema);
        /* Naming finds the C collisions schemac reports, and gives union members their names. */
        char *name = opt->name ? strdup(opt->name) : schemac_default_name(opt->schema_path);
        char *prefix = opt->prefix ? strdup(opt->prefix) : name ? strdup(name) : NULL;
        for (char *p = prefix; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (f->diag.errors == 0 && (!prefix || !order_build(&sema, prefix, &f->model)) &&
            f->diag.errors == 0)
            diag_plain_error(&f->diag, "out of memory");
        free(name);
        free(prefix);
    }
    if (f->diag.errors) {
        diag_summary(&f->diag);
        return SCHEMAC_SCHEMA_ERROR;
    }
    return SCHEMAC_OK;
}

void schemac_front_free(schemac_front_t *f)
{
    bare_arena_free(&f->arena);
    free(f->text);
    memset(f, 0, sizeof *f);
}

/* ---- descriptors ---- */

typedef struct builder {
    bare_arena_t *arena;
    bare_type_desc_t **decls; /* by declaration index */
    bool oom;
} builder_t;

static const bare_type_desc_t *primitive(ast_kind_t k)
{
    static const bare_type_desc_t *const prims[] = {
        [AST_UINT] = &bare_desc_uint, [AST_INT] = &bare_desc_int, [AST_U8] = &bare_desc_u8,
        [AST_U16] = &bare_desc_u16,   [AST_U32] = &bare_desc_u32, [AST_U64] = &bare_desc_u64,
        [AST_I8] = &bare_desc_i8,     [AST_I16] = &bare_desc_i16, [AST_I32] = &bare_desc_i32,
        [AST_I64] = &bare_desc_i64,   [AST_F32] = &bare_desc_f32, [AST_F64] = &bare_desc_f64,
        [AST_BOOL] = &bare_desc_bool, [AST_STR] = &bare_desc_str, [AST_DATA] = &bare_desc_data,
    };
    return (size_t)k < sizeof prims / sizeof prims[0] ? prims[k] : NULL;
}

static bare_kind_t kind_of(ast_kind_t k)
{
    switch (k) {
    case AST_VOID:
        return BARE_KIND_VOID;
    case AST_DATA_FIXED:
        return BARE_KIND_DATA_FIXED;
    case AST_OPTIONAL:
        return BARE_KIND_OPTIONAL;
    case AST_LIST:
        return BARE_KIND_LIST;
    case AST_LIST_FIXED:
        return BARE_KIND_LIST_FIXED;
    case AST_MAP:
        return BARE_KIND_MAP;
    case AST_ENUM:
        return BARE_KIND_ENUM;
    case AST_UNION:
        return BARE_KIND_UNION;
    case AST_STRUCT:
        return BARE_KIND_STRUCT;
    default:
        return primitive(k)->kind;
    }
}

static void *alloc(builder_t *b, size_t n, size_t align)
{
    void *p = bare_arena_alloc(b->arena, n ? n : 1, align);
    if (!p)
        b->oom = true;
    else
        memset(p, 0, n ? n : 1);
    return p;
}

static void fill_shape(builder_t *b, bare_type_desc_t *d, const ast_type_t *s);

/* The descriptor a reference to t points at: a named type's, a primitive's, or a new one. */
static const bare_type_desc_t *desc_of(builder_t *b, const ast_type_t *t)
{
    if (t->kind == AST_NAMED)
        return t->decl ? b->decls[t->decl->index] : NULL;
    if (t->kind == AST_VOID)
        return NULL;
    if (primitive(t->kind))
        return primitive(t->kind);
    bare_type_desc_t *d = alloc(b, sizeof *d, _Alignof(bare_type_desc_t));
    if (!d)
        return NULL;
    d->name = ast_spelling(b->arena, t);
    fill_shape(b, d, t);
    return d;
}

static void fill_shape(builder_t *b, bare_type_desc_t *d, const ast_type_t *s)
{
    size_t n = 0, i = 0;
    d->kind = kind_of(s->kind);
    switch (s->kind) {
    case AST_STRUCT: {
        for (const ast_field_t *f = s->fields; f; f = f->next)
            n++;
        bare_field_desc_t *fields = alloc(b, n * sizeof *fields, _Alignof(bare_field_desc_t));
        if (!fields)
            return;
        for (const ast_field_t *f = s->fields; f; f = f->next, i++) {
            fields[i].name = f->name;
            fields[i].type = desc_of(b, f->type);
        }
        d->fields = fields;
        d->count = n;
        break;
    }
    case AST_ENUM: {
        for (const ast_enum_value_t *v = s->values; v; v = v->next)
            n++;
        bare_enum_value_desc_t *values =
            alloc(b, n * sizeof *values, _Alignof(bare_enum_value_desc_t));
        if (!values)
            return;
        for (const ast_enum_value_t *v = s->values; v; v = v->next, i++) {
            values[i].name = v->name;
            values[i].value = v->value;
        }
        d->values = values;
        d->count = n;
        break;
    }
    case AST_UNION: {
        for (const ast_member_t *m = s->members; m; m = m->next)
            n++;
        bare_member_desc_t *members = alloc(b, n * sizeof *members, _Alignof(bare_member_desc_t));
        if (!members)
            return;
        for (const ast_member_t *m = s->members; m; m = m->next, i++) {
            /* order.c named the members as generated descriptors name them */
            members[i].name = m->label ? m->label : ast_spelling(b->arena, m->type);
            members[i].tag = m->tag;
            members[i].type = desc_of(b, m->type);
            members[i].boxed = m->boxed;
        }
        d->members = members;
        d->count = n;
        break;
    }
    case AST_OPTIONAL:
    case AST_LIST:
        d->elem = desc_of(b, s->elem);
        break;
    case AST_LIST_FIXED:
        d->length = s->length;
        d->elem = desc_of(b, s->elem);
        break;
    case AST_DATA_FIXED:
        d->length = s->length;
        break;
    case AST_MAP:
        d->key = desc_of(b, s->key);
        d->elem = desc_of(b, s->elem);
        break;
    default:
        break;
    }
}

int schemac_load(const schemac_options_t *opt, FILE *diag_out, schemac_loaded_t *out)
{
    memset(out, 0, sizeof *out);
    out->front = malloc(sizeof *out->front);
    if (!out->front) {
        fprintf(diag_out, "%s: error: out of memory\n", opt->schema_path);
        return SCHEMAC_USAGE_ERROR;
    }
    schemac_front_t *f = out->front;
    int rc = schemac_front_load(opt, diag_out, f);
    if (rc != SCHEMAC_OK)
        return rc;

    builder_t b = {&f->arena, NULL, false};
    size_t n = f->schema.count, i = 0;
    b.decls = alloc(&b, n * sizeof *b.decls, _Alignof(bare_type_desc_t *));
    for (i = 0; b.decls && i < n; i++)
        b.decls[i] = alloc(&b, sizeof *b.decls[i], _Alignof(bare_type_desc_t));
    /* Every named descriptor exists before any is filled: references may point forward. */
    for (ast_decl_t *d = f->schema.decls; d && !b.oom; d = d->next) {
        bare_type_desc_t *desc = b.decls[d->index];
        const ast_type_t *shape = ast_resolve(d->type);
        if (shape) /* always, in a checked schema: alias cycles are errors */
            fill_shape(&b, desc, shape);
        desc->name = d->name;
    }
    if (b.oom) {
        diag_plain_error(&f->diag, "out of memory");
        return SCHEMAC_USAGE_ERROR;
    }
    out->schema.source = opt->schema_path;
    out->schema.count = n;
    out->schema.types = (const bare_type_desc_t *const *)b.decls;
    return SCHEMAC_OK;
}

void schemac_loaded_free(schemac_loaded_t *l)
{
    if (l->front) {
        schemac_front_free(l->front);
        free(l->front);
    }
    memset(l, 0, sizeof *l);
}
