/* bare_writer.c - growable and fixed output buffers and the primitive encoders. */
#include <string.h>

#include "bare_internal.h"

/* The external definitions of bare.h's inline fast paths (their slow halves are below). */
extern inline uint8_t *bare_writer_reserve(bare_writer_t *w, size_t n);
extern inline int bare_write_bytes(bare_writer_t *w, const void *p, size_t n);
extern inline int bare_write_uint(bare_writer_t *w, uint64_t v);
extern inline int bare_write_int(bare_writer_t *w, int64_t v);
extern inline int bare_write_u8(bare_writer_t *w, uint8_t v);
extern inline int bare_write_u16(bare_writer_t *w, uint16_t v);
extern inline int bare_write_u32(bare_writer_t *w, uint32_t v);
extern inline int bare_write_u64(bare_writer_t *w, uint64_t v);
extern inline int bare_write_i8(bare_writer_t *w, int8_t v);
extern inline int bare_write_i16(bare_writer_t *w, int16_t v);
extern inline int bare_write_i32(bare_writer_t *w, int32_t v);
extern inline int bare_write_i64(bare_writer_t *w, int64_t v);
extern inline int bare_write_f32(bare_writer_t *w, float v);
extern inline int bare_write_f64(bare_writer_t *w, double v);
extern inline int bare_write_bool(bare_writer_t *w, bool v);
extern inline int bare_write_data(bare_writer_t *w, bare_bytes_t v);
extern inline int bare_write_str(bare_writer_t *w, bare_str_t v);

void bare_writer_init(bare_writer_t *w, bare_alloc_fn *alloc, void *ud)
{
    w->buf = NULL;
    w->len = w->cap = 0;
    w->alloc = alloc ? alloc : bare_default_alloc;
    w->ud = ud;
    w->fixed = false;
    w->status = BARE_OK;
}

void bare_writer_init_fixed(bare_writer_t *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->alloc = NULL;
    w->ud = NULL;
    w->fixed = true;
    w->status = BARE_OK;
}

void bare_writer_reset(bare_writer_t *w)
{
    w->len = 0;
    w->status = BARE_OK;
}

void bare_writer_free(bare_writer_t *w)
{
    if (!w->fixed && w->buf)
        w->alloc(w->ud, w->buf, w->cap, 0);
    w->buf = NULL;
    w->len = w->cap = 0;
}

uint8_t *bare_writer_reserve_slow(bare_writer_t *w, size_t n)
{
    if (w->status)
        return NULL;
    if (n <= w->cap - w->len)
        return w->buf ? w->buf + w->len : NULL; /* n is 0: no buffer yet, no arithmetic on NULL */
    if (w->fixed || n > SIZE_MAX - w->len) {
        w->status = BARE_E_BUFFER_FULL;
        return NULL;
    }
    size_t want = w->cap ? w->cap : 256;
    while (want < w->len + n) {
        if (want > SIZE_MAX / 2) {
            want = w->len + n;
            break;
        }
        want *= 2;
    }
    uint8_t *p = w->alloc(w->ud, w->buf, w->cap, want);
    if (!p) {
        w->status = BARE_E_NOMEM;
        return NULL;
    }
    w->buf = p;
    w->cap = want;
    return w->buf + w->len;
}

size_t bare_varint_encode(uint8_t out[10], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t bare_uint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int bare_write_uint_slow(bare_writer_t *w, uint64_t v)
{
    /* Only the bytes this value needs: a fixed buffer may have exactly that much room. */
    uint8_t *dst = bare_writer_reserve(w, bare_uint_size(v));
    if (!dst)
        return w->status;
    w->len += bare_varint_encode(dst, v);
    return BARE_OK;
}

int bare_write_data_slow(bare_writer_t *w, bare_bytes_t v)
{
    if (w->status)
        return w->status;
    if (v.len && !v.ptr)
        return w->status = BARE_E_NULL_POINTER;
    size_t n = bare_uint_size(v.len);
    if (v.len > SIZE_MAX - n)
        return w->status = BARE_E_BUFFER_FULL;
    uint8_t *dst = bare_writer_reserve(w, n + v.len);
    if (!dst)
        return w->status;
    bare_varint_encode(dst, v.len);
    if (v.len)
        memcpy(dst + n, v.ptr, v.len);
    w->len += n + v.len;
    return BARE_OK;
}

int bare_write_str_slow(bare_writer_t *w, bare_str_t v)
{
    if (w->status)
        return w->status;
    if (v.len && !v.ptr)
        return w->status = BARE_E_NULL_POINTER;
    if (!bare_utf8_valid(v.ptr, v.len))
        return w->status = BARE_E_UTF8;
    bare_bytes_t b = {(const uint8_t *)v.ptr, v.len};
    return bare_write_data_slow(w, b);
}

int bare_write_fixed(bare_writer_t *w, const uint8_t *p, size_t len)
{
    return bare_write_bytes(w, p, len);
}
