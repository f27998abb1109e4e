/*
 * vec_driver.c - runs one independent vector through the codecs schemac generated for one
 * schema: `vec_driver SCHEMA TYPE HEX` decodes HEX strictly as TYPE (the whole input), encodes
 * the value again and requires the same bytes. Exits 0 when it does, 1 when the decoder
 * refuses HEX, 2 when SCHEMA or TYPE is not this driver's, 3 on a wrong re-encoding.
 * Built by tests/tests.mk with VEC_H (the generated header), VEC_TABLE (one
 * VEC_TYPE(Name, c_prefix) line per type, made from that header) and VEC_SCHEMA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include VEC_H

typedef struct vec_type {
    const char *name;
    size_t size;
    int (*decode)(bare_reader_t *r, void *out);
    int (*encode)(bare_writer_t *w, const void *v);
} vec_type_t;

/* wrappers, so that every type is called through one pointer type */
#define VEC_TYPE(N, p)                                                                             \
    static int N##_dec(bare_reader_t *r, void *out)                                                \
    {                                                                                              \
        return p##_decode(r, out);                                                                 \
    }                                                                                              \
    static int N##_enc(bare_writer_t *w, const void *v)                                            \
    {                                                                                              \
        return p##_encode(w, v);                                                                   \
    }
#include VEC_TABLE
#undef VEC_TYPE
#define VEC_TYPE(N, p) {#N, sizeof(p##_t), N##_dec, N##_enc},
static const vec_type_t vec_types[] = {
#include VEC_TABLE
};
#undef VEC_TYPE

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], VEC_SCHEMA) != 0)
        return 2;
    const vec_type_t *t = NULL;
    for (size_t i = 0; i < sizeof vec_types / sizeof vec_types[0]; i++)
        if (strcmp(vec_types[i].name, argv[2]) == 0)
            t = &vec_types[i];
    if (t == NULL)
        return 2;
    size_t n = strlen(argv[3]) / 2;
    uint8_t *in = malloc(n + 1);
    void *value = calloc(1, t->size);
    if (in == NULL || value == NULL)
        return 4;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(argv[3][2 * i]), lo = hexval(argv[3][2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 4;
        in[i] = (uint8_t)(hi << 4 | lo);
    }
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    bare_reader_t r;
    bare_reader_init(&r, in, n, &arena, NULL);
    int rc = 0;
    if (t->decode(&r, value) != 0 || bare_reader_finish(&r) != 0) {
        rc = 1;
    } else {
        bare_writer_t w;
        bare_writer_init(&w, NULL, NULL);
        if (t->encode(&w, value) != 0 || w.len != n || memcmp(w.buf, in, n) != 0) {
            fprintf(stderr, "vec_driver: %s %s re-encodes differently\n", argv[2], argv[3]);
            rc = 3;
        }
        bare_writer_free(&w);
    }
    bare_arena_free(&arena);
    free(value);
    free(in);
    return rc;
}
