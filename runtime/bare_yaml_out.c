/*
 * bare_yaml_out.c - BARE to YAML for any type, driven by descriptors alone and exactly as strict
 * as the generated decoders (same reader calls, depth accounting, count checks, offsets and
 * paths); a stream of length-prefixed frames; the map-key helpers both directions share.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "bare_yaml_internal.h"

#define TAG_BINARY "tag:yaml.org,2002:binary"

/* ---- map keys ---- */

bare_key_kind_t bare_yaml_key_kind(const bare_type_desc_t *key)
{
    switch (key->kind) {
    case BARE_KIND_STR:
    case BARE_KIND_DATA:
        return BARE_KEY_BYTES;
    case BARE_KIND_INT:
    case BARE_KIND_I8:
    case BARE_KIND_I16:
    case BARE_KIND_I32:
    case BARE_KIND_I64:
        return BARE_KEY_SIGNED;
    case BARE_KIND_DATA_FIXED:
        return BARE_KEY_FIXED;
    default: /* unsigned integers, bool, enums */
        return BARE_KEY_UNSIGNED;
    }
}

void bare_yaml_key_read(const bare_type_desc_t *key, const uint8_t *p, size_t len,
                        bare_yaml_key_t *out)
{
    bare_reader_t r;
    uint64_t u = 0;
    int64_t s = 0;
    int rc = BARE_OK;

    memset(out, 0, sizeof *out);
    out->kind = bare_yaml_key_kind(key);
    bare_reader_init(&r, p, len, NULL, NULL);
    switch (key->kind) {
    case BARE_KIND_STR:
    case BARE_KIND_DATA:
        rc = bare_read_data(&r, &out->bytes);
        return;
    case BARE_KIND_DATA_FIXED:
        out->bytes.ptr = p;
        out->bytes.len = len;
        return;
    case BARE_KIND_INT:
        rc = bare_read_int(&r, &s);
        break;
    case BARE_KIND_I8: {
        int8_t v = 0;
        rc = bare_read_i8(&r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I16: {
        int16_t v = 0;
        rc = bare_read_i16(&r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I32: {
        int32_t v = 0;
        rc = bare_read_i32(&r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I64:
        rc = bare_read_i64(&r, &s);
        break;
    case BARE_KIND_U8:
    case BARE_KIND_BOOL: {
        uint8_t v = 0;
        rc = bare_read_u8(&r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U16: {
        uint16_t v = 0;
        rc = bare_read_u16(&r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U32: {
        uint32_t v = 0;
        rc = bare_read_u32(&r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U64:
        rc = bare_read_u64(&r, &u);
        break;
    default: /* uint, enums */
        rc = bare_read_uint(&r, &u);
        break;
    }
    (void)rc; /* the bytes were written or read as this type just before */
    out->bits = out->kind == BARE_KEY_SIGNED ? (uint64_t)s : u;
}

int bare_yaml_key_path(bare_error_t *e, const bare_yaml_key_t *k, size_t index)
{
    switch (k->kind) {
    case BARE_KEY_BYTES:
        return bare_path_key_str(e, (const char *)k->bytes.ptr, k->bytes.len);
    case BARE_KEY_SIGNED:
        return bare_path_key_int(e, (int64_t)k->bits);
    case BARE_KEY_UNSIGNED:
        return bare_path_key_uint(e, k->bits);
    default:
        return bare_path_index(e, index);
    }
}

typedef struct span_ctx {
    const uint8_t *buf;
    const size_t *starts, *ends;
} span_ctx_t;

static int span_cmp(const void *ctx, uint32_t a, uint32_t b)
{
    const span_ctx_t *c = ctx;
    size_t la = c->ends[a] - c->starts[a], lb = c->ends[b] - c->starts[b];
    size_t n = la < lb ? la : lb;
    int d = n ? memcmp(c->buf + c->starts[a], c->buf + c->starts[b], n) : 0;
    if (d)
        return d;
    return la < lb ? -1 : la > lb;
}

size_t bare_yaml_find_duplicate(const uint8_t *buf, const size_t *starts, const size_t *ends,
                                size_t n, bare_arena_t *arena)
{
    span_ctx_t c = {buf, starts, ends};
    size_t dup = SIZE_MAX;
    if (n <= 16) {
        for (size_t j = 1; j < n && dup == SIZE_MAX; j++)
            for (size_t i = 0; i < j; i++)
                if (span_cmp(&c, (uint32_t)i, (uint32_t)j) == 0) {
                    dup = j;
                    break;
                }
        return dup;
    }
    if (n > UINT32_MAX)
        return SIZE_MAX - 1;
    uint32_t *idx = bare_arena_alloc(arena, 2 * n * sizeof *idx, _Alignof(uint32_t));
    if (!idx)
        return SIZE_MAX - 1;
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    bare_sort_indices(idx, idx + n, n, span_cmp, &c);
    /* Stable: within equal keys entry order is kept, so the later of a pair comes second. */
    for (size_t i = 1; i < n; i++)
        if (span_cmp(&c, idx[i - 1], idx[i]) == 0 && (dup == SIZE_MAX || idx[i] < dup))
            dup = idx[i];
    return dup;
}

/* ---- smallest encodings: schemac's min_size, recomputed from the descriptors ---- */

/*
 * A list's or map's count is refused when count * (smallest element) exceeds the remaining
 * input. The compiler computes the smallest encoding of each type as a least fixed point
 * (recursive types); this does the same over the descriptors reachable from the root, so the
 * checks, and so the errors, are the generated decoders' own.
 */
typedef struct msize {
    const bare_type_desc_t **keys;
    size_t *vals;
    size_t cap, count;
} msize_t;

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX / 4 - b ? SIZE_MAX / 4 : a + b;
}

static size_t slot_of(const msize_t *t, const bare_type_desc_t *d)
{
    size_t h = (size_t)(((uintptr_t)d >> 4) * UINT64_C(0x9E3779B97F4A7C15));
    size_t i = h & (t->cap - 1);
    while (t->keys[i] && t->keys[i] != d)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static bool msize_grow(msize_t *t, bare_arena_t *a)
{
    msize_t n = {NULL, NULL, t->cap ? t->cap * 2 : 64, t->count};
    n.keys = bare_arena_alloc(a, n.cap * sizeof *n.keys, _Alignof(bare_type_desc_t *));
    n.vals = bare_arena_alloc(a, n.cap * sizeof *n.vals, _Alignof(size_t));
    if (!n.keys || !n.vals)
        return false;
    memset(n.keys, 0, n.cap * sizeof *n.keys);
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i]) {
            size_t s = slot_of(&n, t->keys[i]);
            n.keys[s] = t->keys[i];
            n.vals[s] = t->vals[i];
        }
    *t = n;
    return true;
}

static size_t min_of(const msize_t *t, const bare_type_desc_t *d);

/* The smallest encoding of d from its parts' current values. */
static size_t min_shape(const msize_t *t, const bare_type_desc_t *d)
{
    size_t m = 0;
    if (!d)
        return 0;
    switch (d->kind) {
    case BARE_KIND_U16:
    case BARE_KIND_I16:
        return 2;
    case BARE_KIND_U32:
    case BARE_KIND_I32:
    case BARE_KIND_F32:
        return 4;
    case BARE_KIND_U64:
    case BARE_KIND_I64:
    case BARE_KIND_F64:
        return 8;
    case BARE_KIND_VOID:
        return 0;
    case BARE_KIND_DATA_FIXED:
        return (size_t)d->length;
    case BARE_KIND_ENUM:
        m = d->count ? bare_uint_size(d->values[0].value) : 1;
        for (size_t i = 1; i < d->count; i++)
            if (bare_uint_size(d->values[i].value) < m)
                m = bare_uint_size(d->values[i].value);
        return m;
    case BARE_KIND_LIST_FIXED: {
        size_t each = min_of(t, d->elem);
        return each && d->length > (SIZE_MAX / 4) / each ? SIZE_MAX / 4 : each * (size_t)d->length;
    }
    case BARE_KIND_STRUCT:
        for (size_t i = 0; i < d->count; i++)
            m = sat_add(m, min_of(t, d->fields[i].type));
        return m;
    case BARE_KIND_UNION:
        m = SIZE_MAX / 4;
        for (size_t i = 0; i < d->count; i++) {
            size_t s = sat_add(bare_uint_size(d->members[i].tag), min_of(t, d->members[i].type));
            if (s < m)
                m = s;
        }
        return m;
    default: /* varints, u8, i8, bool, str and data prefixes, optional, list, map */
        return 1;
    }
}

static bool recursive_kind(const bare_type_desc_t *d)
{
    return d && (d->kind == BARE_KIND_STRUCT || d->kind == BARE_KIND_UNION ||
                 d->kind == BARE_KIND_LIST_FIXED);
}

static size_t min_of(const msize_t *t, const bare_type_desc_t *d)
{
    if (!recursive_kind(d) || !t->cap)
        return min_shape(t, d);
    size_t s = slot_of(t, d);
    return t->keys[s] ? t->vals[s] : min_shape(t, d);
}

/* Every descriptor reachable from root, then the fixed point from below, as schemac does. */
static bool msize_build(msize_t *t, bare_arena_t *a, const bare_type_desc_t *root)
{
    size_t cap = 64, n = 0;
    const bare_type_desc_t **stack = bare_arena_alloc(a, cap * sizeof *stack, _Alignof(void *));
    if (!stack || !msize_grow(t, a))
        return false;
    stack[n++] = root;
    while (n) {
        const bare_type_desc_t *d = stack[--n];
        if (!d || t->keys[slot_of(t, d)])
            continue;
        if ((t->count + 1) * 2 > t->cap && !msize_grow(t, a))
            return false;
        size_t s = slot_of(t, d);
        t->keys[s] = d;
        t->vals[s] = 0;
        t->count++;
        size_t kids = d->count + 2;
        if (n + kids > cap) {
            size_t ncap = (n + kids) * 2;
            const bare_type_desc_t **ns = bare_arena_alloc(a, ncap * sizeof *ns, _Alignof(void *));
            if (!ns)
                return false;
            memcpy(ns, stack, n * sizeof *ns);
            stack = ns;
            cap = ncap;
        }
        stack[n++] = d->elem;
        stack[n++] = d->key;
        for (size_t i = 0; i < d->count; i++) {
            if (d->kind == BARE_KIND_STRUCT && d->fields)
                stack[n++] = d->fields[i].type;
            else if (d->kind == BARE_KIND_UNION && d->members)
                stack[n++] = d->members[i].type;
        }
    }
    for (int round = 0; round < 10000; round++) {
        bool changed = false;
        for (size_t i = 0; i < t->cap; i++) {
            if (!recursive_kind(t->keys[i]))
                continue;
            size_t m = min_shape(t, t->keys[i]);
            if (m > t->vals[i]) {
                t->vals[i] = m;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    return true;
}

/* ---- decoding while emitting ---- */

typedef struct ydec {
    bare_reader_t r;
    bare_arena_t arena;     /* map keys, base64 text: reset per frame */
    bare_arena_t tab_arena; /* the min-size table: lives for the call */
    msize_t tab;
    yaml_emitter_t em;
    bare_writer_t *out;
} ydec_t;

static int fail(ydec_t *c, int status)
{
    return bare_reader_fail_at(&c->r, status, bare_reader_offset(&c->r));
}

/* Hands an initialised event to the emitter, which owns it from then on. */
static int emit(ydec_t *c, int initialised, yaml_event_t *ev)
{
    if (!initialised)
        return fail(c, BARE_E_NOMEM);
    if (!yaml_emitter_emit(&c->em, ev))
        return fail(c, c->out->status ? c->out->status : BARE_E_NOMEM);
    return BARE_OK;
}

static int em_scalar(ydec_t *c, const char *tag, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (n > INT_MAX)
        return fail(c, BARE_E_ALLOC_LIMIT);
    int ok = yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)s, (int)n,
                                          tag == NULL, tag == NULL, style);
    return emit(c, ok, &ev);
}

/* Text that reads back as a string whatever the YAML reader: quoted when it looks like more. */
static int em_text(ydec_t *c, const char *s, size_t n)
{
    return em_scalar(c, NULL, s, n,
                     bare_yaml_needs_quotes(s, n) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                  : YAML_ANY_SCALAR_STYLE);
}

static int em_plain(ydec_t *c, const char *s)
{
    return em_scalar(c, NULL, s, strlen(s), YAML_PLAIN_SCALAR_STYLE);
}

static int em_open(ydec_t *c, bool map)
{
    yaml_event_t ev;
    int ok =
        map ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
            : yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    return emit(c, ok, &ev);
}

static int em_close(ydec_t *c, bool map)
{
    yaml_event_t ev;
    int ok = map ? yaml_mapping_end_event_initialize(&ev) : yaml_sequence_end_event_initialize(&ev);
    return emit(c, ok, &ev);
}

static int em_binary(ydec_t *c, const uint8_t *p, size_t n)
{
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *text = bare_arena_alloc(&c->arena, cap, 1);
    if (!text)
        return fail(c, BARE_E_NOMEM);
    size_t k = bare_yaml_base64_encode(p, n, text);
    return em_scalar(c, TAG_BINARY, text, k,
                     k ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static int dec_number(ydec_t *c, const bare_type_desc_t *d)
{
    char buf[48];
    uint64_t u = 0;
    int64_t s = 0;
    bool is_signed = false;
    int rc;

    switch (d->kind) {
    case BARE_KIND_UINT:
        rc = bare_read_uint(&c->r, &u);
        break;
    case BARE_KIND_U8: {
        uint8_t v = 0;
        rc = bare_read_u8(&c->r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U16: {
        uint16_t v = 0;
        rc = bare_read_u16(&c->r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U32: {
        uint32_t v = 0;
        rc = bare_read_u32(&c->r, &v);
        u = v;
        break;
    }
    case BARE_KIND_U64:
        rc = bare_read_u64(&c->r, &u);
        break;
    case BARE_KIND_INT:
        is_signed = true;
        rc = bare_read_int(&c->r, &s);
        break;
    case BARE_KIND_I8: {
        int8_t v = 0;
        is_signed = true;
        rc = bare_read_i8(&c->r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I16: {
        int16_t v = 0;
        is_signed = true;
        rc = bare_read_i16(&c->r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I32: {
        int32_t v = 0;
        is_signed = true;
        rc = bare_read_i32(&c->r, &v);
        s = v;
        break;
    }
    case BARE_KIND_I64:
        is_signed = true;
        rc = bare_read_i64(&c->r, &s);
        break;
    case BARE_KIND_F32: {
        float v = 0;
        if ((rc = bare_read_f32(&c->r, &v)))
            return rc;
        bare_yaml_format_float((double)v, true, buf, sizeof buf);
        return em_plain(c, buf);
    }
    case BARE_KIND_F64: {
        double v = 0;
        if ((rc = bare_read_f64(&c->r, &v)))
            return rc;
        bare_yaml_format_float(v, false, buf, sizeof buf);
        return em_plain(c, buf);
    }
    default: {
        bool b = false;
        if ((rc = bare_read_bool(&c->r, &b)))
            return rc;
        return em_plain(c, b ? "true" : "false");
    }
    }
    if (rc)
        return rc;
    if (is_signed)
        snprintf(buf, sizeof buf, "%" PRId64, s);
    else
        snprintf(buf, sizeof buf, "%" PRIu64, u);
    return em_plain(c, buf);
}

static int dec_value(ydec_t *c, const bare_type_desc_t *d);

static int dec_map(ydec_t *c, const bare_type_desc_t *d)
{
    size_t at = bare_reader_offset(&c->r), n;
    bare_key_kind_t kind = bare_yaml_key_kind(d->key);
    size_t size = kind == BARE_KEY_BYTES   ? sizeof(bare_bytes_t)
                  : kind == BARE_KEY_FIXED ? (size_t)d->key->length
                                           : sizeof(uint64_t);
    size_t align = kind == BARE_KEY_BYTES   ? _Alignof(bare_bytes_t)
                   : kind == BARE_KEY_FIXED ? 1
                                            : _Alignof(uint64_t);
    void *entries;

    if (bare_reader_enter(&c->r) ||
        bare_read_count(&c->r, sat_add(min_of(&c->tab, d->key), min_of(&c->tab, d->elem)), &n) ||
        bare_reader_alloc(&c->r, n, size, align, &entries) || em_open(c, true))
        return c->r.err.status;
    for (size_t i = 0; i < n; i++) {
        size_t start = bare_reader_offset(&c->r);
        bare_yaml_key_t k;
        if (dec_value(c, d->key))
            return bare_path_index(&c->r.err, i);
        bare_yaml_key_read(d->key, c->r.start + start, bare_reader_offset(&c->r) - start, &k);
        uint8_t *e = (uint8_t *)entries + i * size;
        if (kind == BARE_KEY_BYTES)
            memcpy(e, &k.bytes, sizeof k.bytes);
        else if (kind == BARE_KEY_FIXED)
            memcpy(e, k.bytes.ptr, size);
        else
            memcpy(e, &k.bits, sizeof k.bits);
        if (dec_value(c, d->elem))
            return bare_yaml_key_path(&c->r.err, &k, i);
    }
    if (bare_reader_check_keys(&c->r, entries, n, size, kind, size, at) || em_close(c, true))
        return c->r.err.status;
    bare_reader_leave(&c->r);
    return BARE_OK;
}

static int dec_union(ydec_t *c, const bare_type_desc_t *d)
{
    size_t at = bare_reader_offset(&c->r);
    const bare_member_desc_t *m = NULL;
    uint64_t tag;

    if (bare_reader_enter(&c->r) || bare_read_uint(&c->r, &tag))
        return c->r.err.status;
    for (size_t i = 0; i < d->count && !m; i++)
        if (d->members[i].tag == tag)
            m = &d->members[i];
    if (!m)
        return bare_reader_fail_at(&c->r, BARE_E_UNION_TAG, at);
    if (em_open(c, true) || em_text(c, m->name, strlen(m->name)))
        return c->r.err.status;
    if (dec_value(c, m->type))
        return bare_path_field(&c->r.err, m->name);
    if (em_close(c, true))
        return c->r.err.status;
    bare_reader_leave(&c->r);
    return BARE_OK;
}

static int dec_aggregate(ydec_t *c, const bare_type_desc_t *d)
{
    size_t n;
    switch (d->kind) {
    case BARE_KIND_STRUCT:
        if (bare_reader_enter(&c->r) || em_open(c, true))
            return c->r.err.status;
        for (size_t i = 0; i < d->count; i++) {
            const char *name = d->fields[i].name;
            if (em_text(c, name, strlen(name)))
                return c->r.err.status;
            if (dec_value(c, d->fields[i].type))
                return bare_path_field(&c->r.err, name);
        }
        if (em_close(c, true))
            return c->r.err.status;
        break;
    case BARE_KIND_OPTIONAL: {
        bool present;
        if (bare_reader_enter(&c->r) || bare_read_present(&c->r, &present))
            return c->r.err.status;
        if (present ? dec_value(c, d->elem) : em_plain(c, "null"))
            return c->r.err.status;
        break;
    }
    case BARE_KIND_LIST:
    case BARE_KIND_LIST_FIXED:
        n = (size_t)d->length;
        if (bare_reader_enter(&c->r) ||
            (d->kind == BARE_KIND_LIST && bare_read_count(&c->r, min_of(&c->tab, d->elem), &n)) ||
            em_open(c, false))
            return c->r.err.status;
        for (size_t i = 0; i < n; i++)
            if (dec_value(c, d->elem))
                return bare_path_index(&c->r.err, i);
        if (em_close(c, false))
            return c->r.err.status;
        break;
    case BARE_KIND_MAP:
        return dec_map(c, d);
    default:
        return dec_union(c, d);
    }
    bare_reader_leave(&c->r);
    return BARE_OK;
}

static int dec_value(ydec_t *c, const bare_type_desc_t *d)
{
    size_t at = bare_reader_offset(&c->r);
    if (!d || d->kind == BARE_KIND_VOID)
        return em_plain(c, "null");
    switch (d->kind) {
    case BARE_KIND_STR: {
        bare_str_t s;
        if (bare_read_str(&c->r, &s))
            return c->r.err.status;
        return em_text(c, s.ptr, s.len);
    }
    case BARE_KIND_DATA: {
        bare_bytes_t b;
        if (bare_read_data(&c->r, &b))
            return c->r.err.status;
        return em_binary(c, b.ptr, b.len);
    }
    case BARE_KIND_DATA_FIXED: {
        /* bare_read_fixed's checks, without copying the bytes out */
        if (c->r.err.status)
            return c->r.err.status;
        if (bare_reader_left(&c->r) < d->length)
            return fail(c, BARE_E_TRUNCATED);
        const uint8_t *p = c->r.p;
        c->r.p += d->length;
        return em_binary(c, p, (size_t)d->length);
    }
    case BARE_KIND_ENUM: {
        uint64_t v;
        if (bare_read_uint(&c->r, &v))
            return c->r.err.status;
        for (size_t i = 0; i < d->count; i++)
            if (d->values[i].value == v)
                return em_text(c, d->values[i].name, strlen(d->values[i].name));
        return bare_reader_fail_at(&c->r, BARE_E_ENUM, at);
    }
    case BARE_KIND_STRUCT:
    case BARE_KIND_UNION:
    case BARE_KIND_OPTIONAL:
    case BARE_KIND_LIST:
    case BARE_KIND_LIST_FIXED:
    case BARE_KIND_MAP:
        return dec_aggregate(c, d);
    default:
        return dec_number(c, d);
    }
}

/* ---- entry points ---- */

static int write_handler(void *data, unsigned char *buf, size_t size)
{
    ydec_t *c = data;
    return bare_write_bytes(c->out, buf, size) == BARE_OK;
}

static int doc_event(ydec_t *c, bool start, bool marker)
{
    yaml_event_t ev;
    int ok = start ? yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, !marker)
                   : yaml_document_end_event_initialize(&ev, 1);
    return emit(c, ok, &ev);
}

static int stream_event(ydec_t *c, bool start)
{
    yaml_event_t ev;
    int ok = start ? yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)
                   : yaml_stream_end_event_initialize(&ev);
    return emit(c, ok, &ev);
}

/* Sets up the emitter and the min-size table; on failure err holds the status. */
static int begin(ydec_t *c, const bare_type_desc_t *type, bare_writer_t *out, bare_error_t *err)
{
    memset(c, 0, sizeof *c);
    c->out = out;
    bare_arena_init(&c->arena, out->fixed ? NULL : out->alloc, out->fixed ? NULL : out->ud);
    bare_arena_init(&c->tab_arena, out->fixed ? NULL : out->alloc, out->fixed ? NULL : out->ud);
    bare_reader_init(&c->r, NULL, 0, &c->arena, NULL);
    if (!yaml_emitter_initialize(&c->em))
        return bare_error_set(err, BARE_E_NOMEM, 0);
    yaml_emitter_set_output(&c->em, write_handler, c);
    yaml_emitter_set_unicode(&c->em, 1);
    yaml_emitter_set_width(&c->em, -1);
    yaml_emitter_set_indent(&c->em, 2);
    if (!msize_build(&c->tab, &c->tab_arena, type))
        return bare_error_set(err, BARE_E_NOMEM, 0);
    if (stream_event(c, true))
        return bare_error_set(err, c->r.err.status, 0);
    return BARE_OK;
}

static void end(ydec_t *c)
{
    yaml_emitter_delete(&c->em);
    bare_arena_free(&c->arena);
    bare_arena_free(&c->tab_arena);
}

/* One value of type in p[0..n) as one document. */
static int one_document(ydec_t *c, const bare_type_desc_t *type, const uint8_t *p, size_t n,
                        const bare_limits_t *limits, bool marker)
{
    bare_reader_init(&c->r, p, n, &c->arena, limits);
    if (doc_event(c, true, marker) || dec_value(c, type))
        return c->r.err.status;
    if (bare_reader_finish(&c->r) || doc_event(c, false, false))
        return c->r.err.status;
    return BARE_OK;
}

int bare_to_yaml(const bare_type_desc_t *type, const void *bytes, size_t len,
                 const bare_limits_t *limits, bare_writer_t *yaml_out, bare_error_t *err)
{
    bare_error_t local;
    ydec_t c;
    size_t start = yaml_out->len;
    int rc;

    if (!err)
        err = &local;
    bare_error_init(err);
    if (yaml_out->status)
        return bare_error_set(err, yaml_out->status, 0);
    if (!type || (!bytes && len))
        return bare_error_set(err, BARE_E_INVALID_ARGUMENT, 0);
    rc = begin(&c, type, yaml_out, err);
    if (rc == BARE_OK) {
        rc = one_document(&c, type, bytes, len, limits, false);
        if (rc == BARE_OK)
            rc = stream_event(&c, false);
        *err = c.r.err;
    }
    end(&c);
    if (rc != BARE_OK)
        yaml_out->len = start;
    return rc;
}

/*
 * A stream of frames read as it grows. Complete frames are decoded straight from the bytes fed;
 * only a frame split across feeds is gathered in pending. Each frame becomes one document, which
 * libyaml flushes into yaml_out at its end, so a caller can pass it on at once.
 */
struct bare_yaml_frames {
    ydec_t c;
    const bare_type_desc_t *type;
    const bare_limits_t *limits;
    bare_limits_t limits_copy;
    uint32_t max_frame;
    uint32_t declared;     /* the pending frame's length, once its header is complete */
    bare_writer_t pending; /* a frame split across feeds: header, then payload */
    size_t pos;            /* stream offset of the next frame's first byte */
    size_t index;          /* frames converted; after a failure, the failing one's index */
    bool started, ended;
    bare_error_t err; /* sticky: the first failure */
    bare_alloc_fn *alloc;
    void *ud;
};

static int frames_fail(bare_yaml_frames_t *f, bare_error_t *err)
{
    if (err)
        *err = f->err;
    return f->err.status;
}

static int frames_init(bare_yaml_frames_t *f, const bare_type_desc_t *type, uint32_t max_frame,
                       const bare_limits_t *limits, bare_writer_t *yaml_out)
{
    bare_error_init(&f->err);
    f->type = type;
    if (limits) {
        f->limits_copy = *limits;
        f->limits = &f->limits_copy;
    }
    f->max_frame = max_frame;
    bare_writer_init(&f->pending, yaml_out->fixed ? NULL : yaml_out->alloc,
                     yaml_out->fixed ? NULL : yaml_out->ud);
    if (yaml_out->status)
        return bare_error_set(&f->err, yaml_out->status, 0);
    if (!type)
        return bare_error_set(&f->err, BARE_E_INVALID_ARGUMENT, 0);
    f->started = true;
    return begin(&f->c, type, yaml_out, &f->err);
}

static void frames_done(bare_yaml_frames_t *f)
{
    if (f->started)
        end(&f->c);
    bare_writer_free(&f->pending);
}

/* The frame header just completed declares n bytes: refused early when over the maximum. */
static int frames_header(bare_yaml_frames_t *f, uint32_t n)
{
    if (f->max_frame && n > f->max_frame) {
        bare_error_set(&f->err, BARE_E_FRAME_TOO_LARGE, f->pos);
        snprintf(f->err.detail, sizeof f->err.detail,
                 "the frame declares %" PRIu32 " bytes, more than the maximum %" PRIu32, n,
                 f->max_frame);
        return f->err.status;
    }
    f->declared = n;
    return BARE_OK;
}

/* One complete frame's payload as one document; a failed document is taken back. */
static int frames_one(bare_yaml_frames_t *f, const uint8_t *p, uint32_t n)
{
    size_t mark = f->c.out->len;
    int rc = one_document(&f->c, f->type, p, n, f->limits, true);
    if (rc != BARE_OK) {
        f->err = f->c.r.err;
        f->err.offset += f->pos + BARE_FRAME_HEADER_SIZE;
        f->c.out->len = mark;
        return rc;
    }
    bare_arena_reset(&f->c.arena);
    f->pos += BARE_FRAME_HEADER_SIZE + (size_t)n;
    f->index++;
    return BARE_OK;
}

static int frames_feed(bare_yaml_frames_t *f, const uint8_t *p, size_t left)
{
    int rc = BARE_OK;
    while (left && rc == BARE_OK) {
        if (f->pending.len == 0 && left >= BARE_FRAME_HEADER_SIZE) {
            uint32_t n = bare_frame_header_decode(p);
            if ((rc = frames_header(f, n)))
                break;
            if (n <= left - BARE_FRAME_HEADER_SIZE) {
                rc = frames_one(f, p + BARE_FRAME_HEADER_SIZE, n);
                p += BARE_FRAME_HEADER_SIZE + (size_t)n;
                left -= BARE_FRAME_HEADER_SIZE + (size_t)n;
                continue;
            }
        }
        bool had_header = f->pending.len >= BARE_FRAME_HEADER_SIZE;
        size_t want = had_header ? BARE_FRAME_HEADER_SIZE + (size_t)f->declared - f->pending.len
                                 : BARE_FRAME_HEADER_SIZE - f->pending.len;
        size_t take = want < left ? want : left;
        if (bare_write_bytes(&f->pending, p, take))
            return bare_error_set(&f->err, f->pending.status, f->pos);
        p += take;
        left -= take;
        if (!had_header && f->pending.len == BARE_FRAME_HEADER_SIZE &&
            (rc = frames_header(f, bare_frame_header_decode(f->pending.buf))))
            break;
        if (f->pending.len >= BARE_FRAME_HEADER_SIZE &&
            f->pending.len == BARE_FRAME_HEADER_SIZE + (size_t)f->declared) {
            rc = frames_one(f, f->pending.buf + BARE_FRAME_HEADER_SIZE, f->declared);
            f->pending.len = 0;
        }
    }
    return rc;
}

static int frames_finish(bare_yaml_frames_t *f)
{
    size_t have = f->pending.len;
    if (have && have < BARE_FRAME_HEADER_SIZE) {
        bare_error_set(&f->err, BARE_E_TRUNCATED, f->pos);
        snprintf(f->err.detail, sizeof f->err.detail,
                 "the stream ends inside a frame header (%zu of 4 bytes)", have);
        return f->err.status;
    }
    if (have) {
        bare_error_set(&f->err, BARE_E_TRUNCATED, f->pos);
        snprintf(f->err.detail, sizeof f->err.detail,
                 "the frame declares %" PRIu32 " bytes but only %zu follow", f->declared,
                 have - BARE_FRAME_HEADER_SIZE);
        return f->err.status;
    }
    if (stream_event(&f->c, false)) {
        f->err = f->c.r.err;
        return f->err.status;
    }
    f->ended = true;
    return BARE_OK;
}

int bare_yaml_frames_open(bare_yaml_frames_t **out, const bare_type_desc_t *type,
                          uint32_t max_frame, const bare_limits_t *limits, bare_writer_t *yaml_out,
                          bare_error_t *err)
{
    bare_error_t local;
    if (!err)
        err = &local;
    bare_error_init(err);
    *out = NULL;
    if (!yaml_out)
        return bare_error_set(err, BARE_E_INVALID_ARGUMENT, 0);
    bare_alloc_fn *alloc =
        yaml_out->fixed || !yaml_out->alloc ? bare_default_alloc : yaml_out->alloc;
    void *ud = yaml_out->fixed ? NULL : yaml_out->ud;
    bare_yaml_frames_t *f = alloc(ud, NULL, 0, sizeof *f);
    if (!f)
        return bare_error_set(err, BARE_E_NOMEM, 0);
    memset(f, 0, sizeof *f);
    f->alloc = alloc;
    f->ud = ud;
    if (frames_init(f, type, max_frame, limits, yaml_out)) {
        *err = f->err;
        bare_yaml_frames_free(f);
        return err->status;
    }
    *out = f;
    return BARE_OK;
}

int bare_yaml_frames_feed(bare_yaml_frames_t *f, const void *bytes, size_t len, bare_error_t *err)
{
    if (f->err.status || f->ended)
        return f->err.status ? frames_fail(f, err) : BARE_E_INVALID_ARGUMENT;
    if (!bytes && len)
        return BARE_E_INVALID_ARGUMENT;
    if (frames_feed(f, bytes, len))
        return frames_fail(f, err);
    if (err)
        bare_error_init(err);
    return BARE_OK;
}

int bare_yaml_frames_finish(bare_yaml_frames_t *f, bare_error_t *err)
{
    if (f->err.status || f->ended || frames_finish(f))
        return f->err.status ? frames_fail(f, err) : BARE_E_INVALID_ARGUMENT;
    if (err)
        bare_error_init(err);
    return BARE_OK;
}

size_t bare_yaml_frames_index(const bare_yaml_frames_t *f)
{
    return f->index;
}

void bare_yaml_frames_free(bare_yaml_frames_t *f)
{
    if (!f)
        return;
    frames_done(f);
    f->alloc(f->ud, f, sizeof *f, 0);
}

int bare_frames_to_yaml(const bare_type_desc_t *type, const void *bytes, size_t len,
                        uint32_t max_frame, const bare_limits_t *limits, bare_writer_t *yaml_out,
                        bare_error_t *err, size_t *frame)
{
    bare_yaml_frames_t f;
    size_t start = yaml_out->len;
    int rc;

    memset(&f, 0, sizeof f);
    rc = frames_init(&f, type, max_frame, limits, yaml_out);
    if (rc == BARE_OK && !bytes && len)
        rc = bare_error_set(&f.err, BARE_E_INVALID_ARGUMENT, 0);
    if (rc == BARE_OK)
        rc = frames_feed(&f, bytes, len);
    if (rc == BARE_OK)
        rc = frames_finish(&f);
    if (err)
        *err = f.err;
    if (frame)
        *frame = f.index;
    frames_done(&f);
    if (rc != BARE_OK)
        yaml_out->len = start;
    return rc;
}
