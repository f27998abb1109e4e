/*
 * check_fastpath.c - the inline fast paths of runtime/bare.h against the out-of-line functions
 * that do the whole job (the original implementations): on many inputs, every reader and writer
 * function must give the same status, value, position and error either way. Also the UTF-8
 * validator and the small-map duplicate-key check against naive references.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bare.h"

/* ck_assert() records every assertion that passes; these loops make millions, so only failures. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define SAME(x, y) CHECK((x) == (y), "line %d: %s != %s", __LINE__, #x, #y)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* Bytes that sit on the fast paths' edges: 0, 1, 2, 0x7f, 0x80, 0xff, and small lengths. */
static uint8_t edge_byte(void)
{
    static const uint8_t edges[] = {0, 1, 2, 3, 4, 8, 0x7e, 0x7f, 0x80, 0x81, 0xc3, 0xff, 'a'};
    return rnd() % 3 ? edges[rnd() % sizeof edges] : (uint8_t)rnd();
}

/* An exactly sized heap copy, so that AddressSanitizer sees any read past the input. */
static uint8_t *random_input(size_t *len)
{
    *len = rnd() % 24;
    uint8_t *p = malloc(*len ? *len : 1);
    CHECK(p != NULL, "out of memory");
    for (size_t i = 0; i < *len; i++)
        p[i] = edge_byte();
    return p;
}

/* Two readers over the same input, one of them maybe already failed or nested. */
static void reader_pair(bare_reader_t *a, bare_reader_t *b, const uint8_t *buf, size_t len,
                        bare_arena_t *arena)
{
    bare_limits_t lim = {(uint32_t)(rnd() % 3), 0};
    bare_reader_init(a, buf, len, arena, &lim);
    if (rnd() % 8 == 0)
        bare_reader_fail_at(a, BARE_E_ENUM, 0); /* a sticky error */
    if (rnd() % 4 == 0 && len)
        a->p += rnd() % len;
    a->depth = (uint32_t)(rnd() % 3);
    *b = *a;
}

static void same_reader(const bare_reader_t *a, const bare_reader_t *b, const char *what)
{
    CHECK(a->p == b->p, "%s: positions differ", what);
    CHECK(a->depth == b->depth, "%s: depths differ", what);
    CHECK(a->err.status == b->err.status && a->err.offset == b->err.offset,
          "%s: errors differ (%d at %zu, %d at %zu)", what, a->err.status, a->err.offset,
          b->err.status, b->err.offset);
}

#define ROUNDS 20000

START_TEST(test_readers_agree)
{
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (int round = 0; round < ROUNDS; round++) {
        size_t len;
        uint8_t *buf = random_input(&len);
        bare_reader_t a, b;
        int ra, rb;

        reader_pair(&a, &b, buf, len, &arena);
        uint64_t ua = 1, ub = 1;
        ra = bare_read_uint(&a, &ua);
        rb = bare_read_uint_slow(&b, &ub);
        SAME(ra, rb);
        if (ra == BARE_OK)
            SAME(ua, ub);
        same_reader(&a, &b, "uint");

        reader_pair(&a, &b, buf, len, &arena);
        ra = bare_reader_enter(&a);
        rb = bare_reader_enter_slow(&b);
        SAME(ra, rb);
        same_reader(&a, &b, "enter");

        bool fa = false, fb = false;

        reader_pair(&a, &b, buf, len, &arena);
        ra = bare_read_bool(&a, &fa);
        rb = bare_read_flag_slow(&b, &fb, BARE_E_BOOL);
        SAME(ra, rb);
        if (ra == BARE_OK)
            CHECK(fa == fb, "line %d", __LINE__);
        same_reader(&a, &b, "bool");

        reader_pair(&a, &b, buf, len, &arena);
        ra = bare_read_present(&a, &fa);
        rb = bare_read_flag_slow(&b, &fb, BARE_E_OPTIONAL);
        SAME(ra, rb);
        if (ra == BARE_OK)
            CHECK(fa == fb, "line %d", __LINE__);
        same_reader(&a, &b, "present");

        reader_pair(&a, &b, buf, len, &arena);
        bare_str_t sa = {NULL, 0}, sb = {NULL, 0};
        ra = bare_read_str(&a, &sa);
        rb = bare_read_str_slow(&b, &sb);
        SAME(ra, rb);
        if (ra == BARE_OK)
            CHECK(sa.ptr == sb.ptr && sa.len == sb.len, "line %d", __LINE__);
        same_reader(&a, &b, "str");

        reader_pair(&a, &b, buf, len, &arena);
        bare_bytes_t da = {NULL, 0}, db = {NULL, 0};
        ra = bare_read_data(&a, &da);
        rb = bare_read_data_slow(&b, &db);
        SAME(ra, rb);
        if (ra == BARE_OK)
            CHECK(da.ptr == db.ptr && da.len == db.len, "line %d", __LINE__);
        same_reader(&a, &b, "data");

        static const size_t mins[] = {
            0, 1, 2, 3, 9, 64, 1000, SIZE_MAX / 0x80, SIZE_MAX / 0x80 + 1, SIZE_MAX};
        size_t min = mins[rnd() % (sizeof mins / sizeof mins[0])];
        reader_pair(&a, &b, buf, len, &arena);
        size_t ca = 7, cb = 7;
        ra = bare_read_count(&a, min, &ca);
        rb = bare_read_count_slow(&b, min, &cb);
        SAME(ra, rb);
        if (ra == BARE_OK)
            SAME(ca, cb);
        same_reader(&a, &b, "count");

        reader_pair(&a, &b, buf, len, &arena);
        size_t count = rnd() % 3;
        void *pa = &ca, *pb = &ca;
        ra = bare_reader_alloc(&a, count, 8, 8, &pa);
        rb = bare_reader_alloc_slow(&b, count, 8, 8, &pb);
        SAME(ra, rb);
        if (ra == BARE_OK)
            CHECK((pa == NULL) == (pb == NULL), "line %d", __LINE__);
        CHECK(a.alloc_used == b.alloc_used, "line %d", __LINE__);
        same_reader(&a, &b, "alloc");

        /* Fixed-width readers against a little-endian load of the same bytes. */
        static const size_t widths[] = {1, 2, 4, 8};
        size_t width = widths[rnd() % 4];
        reader_pair(&a, &b, buf, len, &arena);
        uint64_t want = 0, got = 0;
        bool fits = a.err.status == BARE_OK && bare_reader_left(&a) >= width;
        for (size_t i = 0; fits && i < width; i++)
            want |= (uint64_t)a.p[i] << (8 * i);
        if (width == 1) {
            uint8_t v = 0;
            ra = bare_read_u8(&a, &v);
            got = v;
        } else if (width == 2) {
            uint16_t v = 0;
            ra = bare_read_u16(&a, &v);
            got = v;
        } else if (width == 4) {
            uint32_t v = 0;
            ra = bare_read_u32(&a, &v);
            got = v;
        } else {
            ra = bare_read_u64(&a, &got);
        }
        rb = bare_reader_short(&b);
        if (fits) {
            SAME(ra, BARE_OK);
            SAME(got, want);
            CHECK(a.p == b.p + width, "line %d", __LINE__);
        } else {
            SAME(ra, rb);
            same_reader(&a, &b, "fixed");
        }
        free(buf);
    }
    bare_arena_free(&arena);
}
END_TEST

/* A writer, and a copy of it that owns a copy of its buffer. */
static void writer_pair(bare_writer_t *a, bare_writer_t *b, uint8_t *fixed_a, uint8_t *fixed_b)
{
    switch (rnd() % 4) {
    case 0:
        bare_writer_init(a, NULL, NULL);
        bare_writer_init(b, NULL, NULL);
        break;
    case 1: {
        size_t room = rnd() % 12;
        bare_writer_init_fixed(a, fixed_a, room);
        bare_writer_init_fixed(b, fixed_b, room);
        break;
    }
    default: {
        bare_writer_init(a, NULL, NULL);
        bare_writer_init(b, NULL, NULL);
        size_t pre = rnd() % 300;
        for (size_t i = 0; i < pre; i++) {
            SAME(bare_write_u8(a, 'x'), BARE_OK);
            SAME(bare_write_u8(b, 'x'), BARE_OK);
        }
        break;
    }
    }
    if (rnd() % 8 == 0)
        a->status = b->status = BARE_E_NOMEM; /* a sticky error */
}

static void same_writer(bare_writer_t *a, bare_writer_t *b, const char *what)
{
    CHECK(a->status == b->status, "%s: status %d vs %d", what, a->status, b->status);
    CHECK(a->len == b->len, "%s: length %zu vs %zu", what, a->len, b->len);
    CHECK(a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0, "%s: bytes differ", what);
    bare_writer_free(a);
    bare_writer_free(b);
}

START_TEST(test_writers_agree)
{
    uint8_t fa[16], fb[16], text[200];
    for (int round = 0; round < ROUNDS; round++) {
        bare_writer_t a, b;
        int ra, rb;

        static const uint64_t vals[] = {0, 1, 0x7f, 0x80, 0x3fff, 0x4000, UINT64_MAX};
        uint64_t v = rnd() % 2 ? vals[rnd() % 7] : rnd() >> (rnd() % 64);
        writer_pair(&a, &b, fa, fb);
        ra = bare_write_uint(&a, v);
        rb = bare_write_uint_slow(&b, v);
        SAME(ra, rb);
        same_writer(&a, &b, "uint");

        size_t n = rnd() % 2 ? rnd() % 140 : rnd() % 8;
        for (size_t i = 0; i < n; i++)
            text[i] = edge_byte();
        const uint8_t *ptr = rnd() % 16 ? text : NULL;
        writer_pair(&a, &b, fa, fb);
        bare_bytes_t d = {ptr, n};
        ra = bare_write_data(&a, d);
        rb = bare_write_data_slow(&b, d);
        SAME(ra, rb);
        same_writer(&a, &b, "data");

        writer_pair(&a, &b, fa, fb);
        bare_str_t s = {(const char *)ptr, n};
        ra = bare_write_str(&a, s);
        rb = bare_write_str_slow(&b, s);
        SAME(ra, rb);
        same_writer(&a, &b, "str");

        writer_pair(&a, &b, fa, fb);
        size_t want = rnd() % 20;
        uint8_t *da = bare_writer_reserve(&a, want), *db = bare_writer_reserve_slow(&b, want);
        CHECK((da == NULL) == (db == NULL), "line %d", __LINE__);
        same_writer(&a, &b, "reserve");
    }
}
END_TEST

/* RFC 3629, one byte at a time. */
static bool reference_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 2;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            k = 3;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            k = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i < k)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3Fu);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

START_TEST(test_utf8_against_reference)
{
    static const char *const pieces[] = {"a",
                                         "abcdefgh",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xc0\x80",
                                         "\xc1\xbf",
                                         "\xed\xa0\x80",
                                         "\xed\x9f\xbf",
                                         "\xf4\x90\x80\x80",
                                         "\xf4\x8f\xbf\xbf",
                                         "\x80",
                                         "\xff",
                                         "\xe0\xa0\x80",
                                         "\xe0\x9f\xbf",
                                         "\xf0\x90\x80\x80",
                                         "\xf0\x8f\xbf\xbf",
                                         "\xc2",
                                         "\xe2\x82",
                                         "\xf5\x80\x80\x80",
                                         "\xdf\xbf",
                                         "\xef\xbf\xbf"};
    uint8_t buf[160];
    for (int round = 0; round < 20 * ROUNDS; round++) {
        size_t n = 0, want = rnd() % 72;
        while (n < want) {
            if (rnd() % 4 == 0) {
                buf[n++] = (uint8_t)rnd();
                continue;
            }
            const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            size_t k = strlen(p);
            if (n + k > sizeof buf)
                break;
            memcpy(buf + n, p, k);
            n += k;
        }
        uint8_t *copy = malloc(n ? n : 1);
        CHECK(copy != NULL, "out of memory");
        memcpy(copy, buf, n);
        CHECK(bare_utf8_valid(copy, n) == reference_utf8(copy, n),
              "round %d: %zu bytes: the validator says %d", round, n, bare_utf8_valid(copy, n));
        free(copy);
    }
}
END_TEST

/* Maps of up to 20 string keys from a tiny alphabet (many equal signatures, some repeats). */
START_TEST(test_duplicate_keys_against_naive)
{
    static const char *const keys[] = {"",    "a",   "b",   "ab",  "ba",  "aa",   "bb",  "aab",
                                       "abb", "aba", "bab", "a-b", "a+b", "abab", "abba"};
    const size_t nkeys = sizeof keys / sizeof keys[0];
    for (int round = 0; round < ROUNDS; round++) {
        bare_str_t entries[20][2];
        size_t count = rnd() % 21;
        for (size_t i = 0; i < count; i++) {
            entries[i][0] = bare_str_from_cstr(keys[rnd() % nkeys]);
            entries[i][1] = BARE_STR_LIT("v");
        }
        size_t dup = SIZE_MAX;
        for (size_t j = 1; j < count && dup == SIZE_MAX; j++)
            for (size_t i = 0; i < j; i++)
                if (bare_str_eq(entries[i][0], entries[j][0])) {
                    dup = j;
                    break;
                }
        bare_error_t err;
        bare_error_init(&err);
        int rc = bare_check_keys(&err, entries, count, sizeof entries[0], BARE_KEY_BYTES,
                                 sizeof(bare_str_t));
        if (dup == SIZE_MAX) {
            SAME(rc, BARE_OK);
            continue;
        }
        SAME(rc, BARE_E_DUPLICATE_KEY);
        char want[64];
        snprintf(want, sizeof want, "[\"%s\"]", entries[dup][0].ptr);
        CHECK(strcmp(bare_error_path(&err), want) == 0, "path %s, want %s", bare_error_path(&err),
              want);
    }
}
END_TEST

static Suite *fastpath_suite(void)
{
    Suite *s = suite_create("fastpath");
    TCase *tc = tcase_create("fastpath");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_readers_agree);
    tcase_add_test(tc, test_writers_agree);
    tcase_add_test(tc, test_utf8_against_reference);
    tcase_add_test(tc, test_duplicate_keys_against_naive);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fastpath_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
