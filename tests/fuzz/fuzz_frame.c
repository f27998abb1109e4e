/*
 * fuzz_frame.c - any bytes as a ProtocolFrame, through the typed API of the wire layer. A frame
 * that decodes must validate, re-encode to exactly the input (the strict decoder accepts only
 * canonical encodings), decode again to an equal value and re-encode to the same bytes; no
 * proper prefix of it may decode. A rejected input must come with a coherent error.
 */
#include "fuzz.h"
#include "secure_exec_sidecar_v1.h"
#include "../value_gen.h"

static int decode(const uint8_t *data, size_t size, bare_arena_t *arena, sx_protocol_frame_t *out,
                  bare_error_t *err)
{
    bare_reader_t r;
    bare_reader_init(&r, data, size, arena, NULL);
    int rc = sx_protocol_frame_decode(&r, out);
    if (rc == BARE_OK)
        rc = bare_reader_finish(&r);
    *err = r.err;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bare_arena_t arena;
    bare_error_t err;
    bare_writer_t w1, w2, fixed;
    sx_protocol_frame_t *a = fuzz_junk(sizeof *a), *b = fuzz_junk(sizeof *b);

    bare_arena_init(&arena, NULL, NULL);
    int rc = decode(data, size, &arena, a, &err);
    if (rc != BARE_OK) {
        fuzz_check_reject(rc, &err, size);
        goto out;
    }
    FUZZ_CHECK(err.status == BARE_OK, "decode succeeded with error %d", err.status);

    rc = sx_protocol_frame_validate(a, &err);
    FUZZ_CHECK(rc == BARE_OK, "a decoded frame fails validation: %s at %s", bare_strerror(rc),
               bare_error_path(&err));

    bare_writer_init(&w1, NULL, NULL);
    bare_writer_init(&w2, NULL, NULL);
    rc = sx_protocol_frame_encode(&w1, a);
    FUZZ_CHECK(rc == BARE_OK, "a decoded frame fails to encode: %s", bare_strerror(rc));
    FUZZ_CHECK(w1.len == size && memcmp(w1.buf, data, size) == 0,
               "re-encoding gives %zu bytes that differ from the %zu-byte input", w1.len, size);

    rc = decode(w1.buf, w1.len, &arena, b, &err);
    FUZZ_CHECK(rc == BARE_OK, "the re-encoding fails to decode: %s at %zu %s", bare_strerror(rc),
               err.offset, bare_error_path(&err));
    FUZZ_CHECK(value_equal(&sx_protocol_frame_desc, a, b), "the second decode differs");
    rc = sx_protocol_frame_encode(&w2, b);
    FUZZ_CHECK(rc == BARE_OK && w2.len == w1.len && memcmp(w2.buf, w1.buf, w1.len) == 0,
               "the second encoding differs");

    /* A fixed buffer of exactly the size takes the frame; one byte less refuses it. */
    uint8_t *buf = fuzz_junk(size);
    bare_writer_init_fixed(&fixed, buf, size);
    rc = sx_protocol_frame_encode(&fixed, a);
    FUZZ_CHECK(rc == BARE_OK && fixed.len == size && memcmp(buf, data, size) == 0,
               "encoding into an exact fixed buffer: %s", bare_strerror(rc));
    bare_writer_init_fixed(&fixed, buf, size - 1);
    rc = sx_protocol_frame_encode(&fixed, a);
    FUZZ_CHECK(rc == BARE_E_BUFFER_FULL, "a fixed buffer one byte short: %s", bare_strerror(rc));
    free(buf);

    /* BARE values are self-delimiting: a proper prefix is always incomplete. */
    rc = decode(data, size - 1, &arena, b, &err);
    FUZZ_CHECK(rc != BARE_OK, "the input without its last byte decodes");
    fuzz_check_reject(rc, &err, size - 1);
    rc = decode(data, size / 2, &arena, b, &err);
    FUZZ_CHECK(rc != BARE_OK, "the first half of the input decodes");

    bare_writer_free(&w1);
    bare_writer_free(&w2);
out:
    bare_arena_free(&arena);
    free(a);
    free(b);
    return 0;
}
