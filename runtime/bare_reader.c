/* bare_reader.c - the strict, bounded reader: varints, fixed-width values, strings, counts, keys. */
#include <string.h>

#include "bare_internal.h"

/* The external definitions of bare.h's inline fast paths (their slow halves are below). */
extern inline int bare_reader_enter(bare_reader_t *r);
extern inline int bare_read_uint(bare_reader_t *r, uint64_t *out);
extern inline int bare_read_int(bare_reader_t *r, int64_t *out);
extern inline int bare_read_u8(bare_reader_t *r, uint8_t *out);
extern inline int bare_read_u16(bare_reader_t *r, uint16_t *out);
extern inline int bare_read_u32(bare_reader_t *r, uint32_t *out);
extern inline int bare_read_u64(bare_reader_t *r, uint64_t *out);
extern inline int bare_read_i8(bare_reader_t *r, int8_t *out);
extern inline int bare_read_i16(bare_reader_t *r, int16_t *out);
extern inline int bare_read_i32(bare_reader_t *r, int32_t *out);
extern inline int bare_read_i64(bare_reader_t *r, int64_t *out);
extern inline int bare_read_f32(bare_reader_t *r, float *out);
extern inline int bare_read_f64(bare_reader_t *r, double *out);
extern inline int bare_read_bool(bare_reader_t *r, bool *out);
extern inline int bare_read_present(bare_reader_t *r, bool *out);
extern inline int bare_read_str(bare_reader_t *r, bare_str_t *out);
extern inline int bare_read_data(bare_reader_t *r, bare_bytes_t *out);
extern inline int bare_read_count(bare_reader_t *r, size_t min_elem_size, size_t *out);
extern inline int bare_reader_alloc(bare_reader_t *r, size_t count, size_t size, size_t align,
                                    void **out);

void bare_reader_init(bare_reader_t *r, const void *buf, size_t len, bare_arena_t *arena,
                      const bare_limits_t *limits)
{
    /* An empty input may come as NULL; arithmetic on a null pointer is undefined, even + 0. */
    static const uint8_t no_input[1];
    if (!buf)
        buf = no_input;
    r->start = r->p = buf;
    r->end = r->start + len;
    r->arena = arena;
    r->alloc_used = 0;
    r->depth = 0;
    r->max_depth = BARE_DEFAULT_MAX_DEPTH;
    r->max_alloc = BARE_DEFAULT_MAX_ALLOC;
    if (limits && limits->max_depth)
        r->max_depth = limits->max_depth;
    if (limits && limits->max_alloc)
        r->max_alloc = limits->max_alloc;
    bare_error_init(&r->err);
}

int bare_reader_fail_at(bare_reader_t *r, int status, size_t offset)
{
    return bare_error_set(&r->err, status, offset);
}

static int fail(bare_reader_t *r, int status)
{
    return bare_error_set(&r->err, status, bare_reader_offset(r));
}

int bare_reader_finish(bare_reader_t *r)
{
    if (r->err.status)
        return r->err.status;
    if (r->p != r->end)
        return fail(r, BARE_E_TRAILING);
    return BARE_OK;
}

int bare_reader_enter_slow(bare_reader_t *r)
{
    if (r->err.status)
        return r->err.status;
    if (r->depth >= r->max_depth)
        return fail(r, BARE_E_DEPTH);
    r->depth++;
    return BARE_OK;
}

size_t bare_varint_decode(const uint8_t *p, const uint8_t *end, uint64_t *out, int *status)
{
    uint64_t v = 0;
    size_t i = 0;

    for (;;) {
        if (p + i >= end) {
            *status = BARE_E_TRUNCATED;
            return 0;
        }
        uint8_t b = p[i];
        if (i == 9 && b > 1) {
            /* The tenth byte holds bit 63 only: anything more is too long or too large. */
            *status = BARE_E_VARINT_OVERFLOW;
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        i++;
        if (!(b & 0x80)) {
            if (b == 0 && i > 1) {
                *status = BARE_E_VARINT_NONCANONICAL;
                return 0;
            }
            *out = v;
            return i;
        }
    }
}

int bare_read_uint_slow(bare_reader_t *r, uint64_t *out)
{
    if (r->err.status)
        return r->err.status;
    if (r->p < r->end && *r->p < 0x80) {
        *out = *r->p++;
        return BARE_OK;
    }
    int status = BARE_OK;
    size_t n = bare_varint_decode(r->p, r->end, out, &status);
    if (n == 0)
        return fail(r, status);
    r->p += n;
    return BARE_OK;
}

static int need(bare_reader_t *r, size_t n)
{
    if (r->err.status)
        return r->err.status;
    if (bare_reader_left(r) < n)
        return fail(r, BARE_E_TRUNCATED);
    return BARE_OK;
}

int bare_reader_short(bare_reader_t *r)
{
    if (r->err.status)
        return r->err.status;
    return fail(r, BARE_E_TRUNCATED);
}

int bare_read_flag_slow(bare_reader_t *r, bool *out, int status)
{
    int rc = need(r, 1);
    if (rc)
        return rc;
    if (*r->p > 1)
        return fail(r, status);
    *out = *r->p++ == 1;
    return BARE_OK;
}

/* A length prefix and that many bytes; on failure the offset is the prefix's. */
static int read_span(bare_reader_t *r, const uint8_t **ptr, size_t *len, size_t *at)
{
    uint64_t n;
    *at = bare_reader_offset(r);
    int rc = bare_read_uint(r, &n);
    if (rc)
        return rc;
    if (n > bare_reader_left(r))
        return bare_reader_fail_at(r, BARE_E_LENGTH, *at);
    *ptr = r->p;
    *len = (size_t)n;
    r->p += n;
    return BARE_OK;
}

int bare_read_str_slow(bare_reader_t *r, bare_str_t *out)
{
    const uint8_t *p = NULL;
    size_t n = 0, at;
    int rc = read_span(r, &p, &n, &at);
    if (rc)
        return rc;
    if (!bare_utf8_valid(p, n))
        return bare_reader_fail_at(r, BARE_E_UTF8, at);
    out->ptr = (const char *)p;
    out->len = n;
    return BARE_OK;
}

int bare_read_data_slow(bare_reader_t *r, bare_bytes_t *out)
{
    const uint8_t *p = NULL;
    size_t n = 0, at;
    int rc = read_span(r, &p, &n, &at);
    if (rc)
        return rc;
    out->ptr = p;
    out->len = n;
    return BARE_OK;
}

int bare_read_fixed(bare_reader_t *r, uint8_t *out, size_t len)
{
    int rc = need(r, len);
    if (rc)
        return rc;
    if (len)
        memcpy(out, r->p, len);
    r->p += len;
    return BARE_OK;
}

int bare_read_count_slow(bare_reader_t *r, size_t min_elem_size, size_t *out)
{
    uint64_t n;
    size_t at = bare_reader_offset(r);
    int rc = bare_read_uint(r, &n);
    if (rc)
        return rc;
    if (min_elem_size == 0)
        min_elem_size = 1;
    if (n > bare_reader_left(r) / min_elem_size)
        return bare_reader_fail_at(r, BARE_E_LENGTH, at);
    *out = (size_t)n;
    return BARE_OK;
}

int bare_reader_alloc_slow(bare_reader_t *r, size_t count, size_t size, size_t align,
                           void **out)
{
    if (r->err.status)
        return r->err.status;
    *out = NULL;
    if (count == 0)
        return BARE_OK;
    if (size != 0 && count > SIZE_MAX / size)
        return fail(r, BARE_E_ALLOC_LIMIT);
    size_t bytes = count * size;
    if (bytes > r->max_alloc - r->alloc_used)
        return fail(r, BARE_E_ALLOC_LIMIT);
    if (!r->arena)
        return fail(r, BARE_E_INVALID_ARGUMENT);
    void *p = bare_arena_alloc(r->arena, bytes, align);
    if (!p)
        return fail(r, BARE_E_NOMEM);
    r->alloc_used += bytes;
    *out = p;
    return BARE_OK;
}

/* ---- duplicate map keys ---- */

typedef struct key_ctx {
    const uint8_t *entries;
    size_t stride;
    bare_key_kind_t kind;
    size_t key_size;
} key_ctx_t;

static uint64_t key_int(const key_ctx_t *c, size_t i)
{
    const uint8_t *k = c->entries + i * c->stride;
    switch (c->key_size) {
    case 1: {
        uint8_t v;
        memcpy(&v, k, 1);
        return v;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, k, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, k, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, k, 8);
        return v;
    }
    }
}

static bare_bytes_t key_bytes(const key_ctx_t *c, size_t i)
{
    bare_bytes_t b;
    memcpy(&b, c->entries + i * c->stride, sizeof b);
    return b;
}

static int key_cmp(const void *ctx, uint32_t a, uint32_t b)
{
    const key_ctx_t *c = ctx;
    switch (c->kind) {
    case BARE_KEY_UNSIGNED:
    case BARE_KEY_SIGNED: {
        /* Equal values have equal bits, which is all the check needs. */
        uint64_t x = key_int(c, a), y = key_int(c, b);
        return x < y ? -1 : x > y;
    }
    case BARE_KEY_BYTES: {
        bare_bytes_t x = key_bytes(c, a), y = key_bytes(c, b);
        size_t n = x.len < y.len ? x.len : y.len;
        int d = n ? memcmp(x.ptr, y.ptr, n) : 0;
        if (d)
            return d;
        return x.len < y.len ? -1 : x.len > y.len;
    }
    case BARE_KEY_FIXED:
    default:
        return memcmp(c->entries + a * c->stride, c->entries + b * c->stride, c->key_size);
    }
}

/* Maps up to this size are checked pairwise, larger ones by sorting. */
#define SMALL_MAP 16

/* The later of the first repeated pair (in entry order), or SIZE_MAX when all keys differ. */
static size_t find_duplicate(const key_ctx_t *c, size_t count, uint32_t *idx, uint32_t *tmp)
{
    size_t dup = SIZE_MAX;
    if (!idx && c->kind == BARE_KEY_BYTES && count <= SMALL_MAP) {
        /* The common small map of strings: each key goes into a small open-addressing table by
           a signature of its length, first and last byte (equal keys have equal signatures);
           bytes are compared only when signatures agree. Keys go in in entry order, so the
           first key found already present is the later of the first repeated pair. */
        uint64_t sig[SMALL_MAP];
        uint8_t slot[4 * SMALL_MAP]; /* entry index + 1; 0 is free */
        memset(slot, 0, sizeof slot);
        for (size_t j = 0; j < count; j++) {
            bare_bytes_t k = key_bytes(c, j);
            sig[j] = k.len ? (uint64_t)k.len << 16 | (uint64_t)k.ptr[0] << 8 | k.ptr[k.len - 1] : 0;
            size_t h = (size_t)((sig[j] * UINT64_C(0x9E3779B97F4A7C15)) >> 58);
            for (; slot[h]; h = (h + 1) % sizeof slot)
                if (sig[slot[h] - 1] == sig[j] && key_cmp(c, slot[h] - 1u, (uint32_t)j) == 0)
                    return j;
            slot[h] = (uint8_t)(j + 1);
        }
        return SIZE_MAX;
    }
    if (!idx) {
        for (size_t j = 1; j < count && dup == SIZE_MAX; j++)
            for (size_t i = 0; i < j; i++)
                if (key_cmp(c, (uint32_t)i, (uint32_t)j) == 0) {
                    dup = j;
                    break;
                }
        return dup;
    }
    for (size_t i = 0; i < count; i++)
        idx[i] = (uint32_t)i;
    bare_sort_indices(idx, tmp, count, key_cmp, c);
    /* The sort is stable, so within a run of equal keys the entry order is kept. */
    for (size_t i = 1; i < count; i++)
        if (key_cmp(c, idx[i - 1], idx[i]) == 0 && (dup == SIZE_MAX || idx[i] < dup))
            dup = idx[i];
    return dup;
}

static int dup_path(bare_error_t *e, const key_ctx_t *c, size_t dup)
{
    switch (c->kind) {
    case BARE_KEY_UNSIGNED:
        return bare_path_key_uint(e, key_int(c, dup));
    case BARE_KEY_SIGNED: {
        uint64_t u = key_int(c, dup);
        unsigned shift = (unsigned)(64 - 8 * c->key_size);
        int64_t v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        return bare_path_key_int(e, v);
    }
    case BARE_KEY_BYTES: {
        bare_bytes_t b = key_bytes(c, dup);
        return bare_path_key_str(e, (const char *)b.ptr, b.len);
    }
    case BARE_KEY_FIXED:
    default:
        return bare_path_index(e, dup);
    }
}

int bare_reader_check_keys(bare_reader_t *r, const void *entries, size_t count, size_t stride,
                           bare_key_kind_t kind, size_t key_size, size_t map_offset)
{
    key_ctx_t c = {entries, stride, kind, key_size};
    uint32_t *idx = NULL, *tmp = NULL;

    if (r->err.status)
        return r->err.status;
    if (count < 2)
        return BARE_OK;
    if (count > SMALL_MAP) {
        if (count > UINT32_MAX)
            return fail(r, BARE_E_ALLOC_LIMIT);
        void *p;
        int rc = bare_reader_alloc(r, 2 * count, sizeof(uint32_t), _Alignof(uint32_t), &p);
        if (rc)
            return rc;
        idx = p;
        tmp = idx + count;
    }
    size_t dup = find_duplicate(&c, count, idx, tmp);
    if (dup == SIZE_MAX)
        return BARE_OK;
    size_t at = map_offset;
    if (kind == BARE_KEY_BYTES) {
        bare_bytes_t b = key_bytes(&c, dup);
        at = (size_t)(b.ptr - r->start) - bare_uint_size(b.len);
    }
    bare_reader_fail_at(r, BARE_E_DUPLICATE_KEY, at);
    return dup_path(&r->err, &c, dup);
}

int bare_check_keys(bare_error_t *e, const void *entries, size_t count, size_t stride,
                    bare_key_kind_t kind, size_t key_size)
{
    key_ctx_t c = {entries, stride, kind, key_size};
    uint32_t *idx = NULL;

    if (e->status)
        return e->status;
    if (count < 2)
        return BARE_OK;
    if (count > SMALL_MAP && count <= UINT32_MAX / 2)
        idx = bare_default_alloc(NULL, NULL, 0, 2 * count * sizeof *idx);
    /* Without scratch memory the quadratic scan still gives the right answer. */
    size_t dup = find_duplicate(&c, count, idx, idx ? idx + count : NULL);
    if (idx)
        bare_default_alloc(NULL, idx, 2 * count * sizeof *idx, 0);
    if (dup == SIZE_MAX)
        return BARE_OK;
    bare_error_set(e, BARE_E_DUPLICATE_KEY, 0);
    return dup_path(e, &c, dup);
}
