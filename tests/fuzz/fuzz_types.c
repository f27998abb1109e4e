/*
 * fuzz_types.c - every root type through its descriptor's entry points. The first input byte
 * picks a named type of the protocol schema (sx_schema) or, after those, of the recursive
 * --legacy test schema (rec_schema); the rest is decoded as that type with bare_decode(). A value
 * that decodes must validate, re-encode to exactly those bytes and decode again to an equal
 * value. Each type's init() value must validate and round-trip too.
 */
#include "fuzz.h"
#include "recursive.h"
#include "secure_exec_sidecar_v1.h"
#include "../value_gen.h"

static const bare_type_desc_t *pick(uint8_t byte)
{
    size_t i = byte % (sx_schema.count + rec_schema.count);
    return i < sx_schema.count ? sx_schema.types[i] : rec_schema.types[i - sx_schema.count];
}

/* encode(v) == want (when want is not NULL), decode(encode(v)) == v, and again the same bytes. */
static void round_trip(const bare_type_desc_t *d, const void *v, const uint8_t *want,
                       size_t want_len, bare_arena_t *arena)
{
    bare_writer_t w1, w2;
    bare_error_t err;
    void *b = fuzz_junk(d->c_size);

    int rc = d->validate(v, &err);
    FUZZ_CHECK(rc == BARE_OK, "%s: validate: %s at %s", d->name, bare_strerror(rc),
               bare_error_path(&err));
    bare_writer_init(&w1, NULL, NULL);
    bare_writer_init(&w2, NULL, NULL);
    rc = bare_encode(d, &w1, v);
    FUZZ_CHECK(rc == BARE_OK, "%s: encode: %s", d->name, bare_strerror(rc));
    if (want)
        FUZZ_CHECK(w1.len == want_len && (want_len == 0 || memcmp(w1.buf, want, want_len) == 0),
                   "%s: re-encoding gives %zu bytes that differ from the %zu-byte input", d->name,
                   w1.len, want_len);
    rc = bare_decode(d, w1.buf, w1.len, arena, NULL, b, &err);
    FUZZ_CHECK(rc == BARE_OK, "%s: the encoding fails to decode: %s at %zu %s", d->name,
               bare_strerror(rc), err.offset, bare_error_path(&err));
    FUZZ_CHECK(value_equal(d, v, b), "%s: decoded value differs", d->name);
    rc = bare_encode(d, &w2, b);
    FUZZ_CHECK(rc == BARE_OK && w2.len == w1.len &&
                   (w1.len == 0 || memcmp(w1.buf, w2.buf, w1.len) == 0),
               "%s: the second encoding differs", d->name);
    bare_writer_free(&w1);
    bare_writer_free(&w2);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const bare_type_desc_t *d = pick(data[0]);
    FUZZ_CHECK(d->decode && d->encode && d->validate && d->init, "%s: an entry point is NULL",
               d->name);
    data++;
    size--;

    bare_arena_t arena;
    bare_error_t err;
    void *a = fuzz_junk(d->c_size);
    bare_arena_init(&arena, NULL, NULL);

    d->init(a);
    round_trip(d, a, NULL, 0, &arena);

    memset(a, 0xA5, d->c_size);
    int rc = bare_decode(d, data, size, &arena, NULL, a, &err);
    if (rc != BARE_OK) {
        fuzz_check_reject(rc, &err, size);
    } else {
        round_trip(d, a, data, size, &arena);
        /* Self-delimiting: no proper prefix decodes. */
        if (size > 0) {
            void *b = fuzz_junk(d->c_size);
            rc = bare_decode(d, data, size - 1, &arena, NULL, b, &err);
            FUZZ_CHECK(rc != BARE_OK, "%s: the input without its last byte decodes", d->name);
            fuzz_check_reject(rc, &err, size - 1);
            free(b);
        }
    }
    bare_arena_free(&arena);
    free(a);
    return 0;
}
