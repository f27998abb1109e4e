/*
 * check_runtime.c - the libbare runtime through its public API (runtime/bare.h): varints, UTF-8,
 * primitives, every reject class with its offset, limits, duplicate map keys, error paths,
 * arena, writer, framing over pipes and sockets, and status texts. Expected bytes are worked
 * out by hand from the BARE draft (LEB128 varints, zig-zag ints, little-endian fixed width).
 */
#define _GNU_SOURCE /* pipe2 */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bare.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                      */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "01 ff 7f" -> bytes; spaces are optional separators. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = hex; *s;) {
        if (*s == ' ') {
            s++;
            continue;
        }
        int hi = hex_digit(s[0]), lo = s[1] ? hex_digit(s[1]) : -1;
        ck_assert_msg(hi >= 0 && lo >= 0, "bad hex in test table: \"%s\"", hex);
        ck_assert_msg(n < cap, "hex too long for buffer: \"%s\"", hex);
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    return n;
}

static const char *tohex(const uint8_t *p, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? " %02x" : "%02x", p[i]);
    return buf;
}

static void assert_bytes(const char *what, const uint8_t *got, size_t n, const char *hex)
{
    uint8_t want[512];
    char g[1600];
    size_t wn = unhex(hex, want, sizeof want);
    ck_assert_msg(n == wn && (n == 0 || memcmp(got, want, n) == 0), "%s: got [%s], want [%s]", what,
                  tohex(got, n, g, sizeof g), hex);
}

/* An input buffer of exactly the right size, so ASan catches any read past its end. */
typedef struct exact_buf {
    uint8_t *p;
    size_t len;
} exact_buf_t;

static exact_buf_t exact_bytes(const void *p, size_t n)
{
    exact_buf_t b = {malloc(n ? n : 1), n};
    ck_assert_ptr_nonnull(b.p);
    if (n)
        memcpy(b.p, p, n);
    return b;
}

static exact_buf_t exact_hex(const char *hex)
{
    uint8_t tmp[512];
    size_t n = unhex(hex, tmp, sizeof tmp);
    return exact_bytes(tmp, n);
}

/*
 * A Lua-style allocator that counts, checks the old_size it is given against what it handed
 * out, and refuses every (re)allocation once fail_after of them have succeeded (-1: never).
 * Blocks start 16 bytes past a 64-byte boundary (aligned for any C type, misaligned for larger
 * requests) and are followed by a guard zone checked on free, so overruns show without ASan.
 */
#define TA_MAX_BLOCKS 64
#define TA_SHIFT 16
#define TA_GUARD 64

typedef struct test_alloc {
    long calls;      /* successful (re)allocations */
    long fail_after; /* -1: never fail */
    long refused;
    size_t live; /* blocks held */
    struct {
        void *p;
        size_t size;
    } blk[TA_MAX_BLOCKS];
} test_alloc_t;

static void test_alloc_init(test_alloc_t *t, long fail_after)
{
    memset(t, 0, sizeof *t);
    t->fail_after = fail_after;
}

static size_t ta_find(test_alloc_t *t, void *p)
{
    for (size_t i = 0; i < TA_MAX_BLOCKS; i++)
        if (t->blk[i].p == p)
            return i;
    ck_abort_msg("allocator: unknown block %p", p);
    return 0;
}

static void ta_release(void *p, size_t size)
{
    const uint8_t *guard = (const uint8_t *)p + size;
    for (size_t i = 0; i < TA_GUARD; i++)
        ck_assert_msg(guard[i] == 0xcd, "allocator: write past the end of a %zu-byte block", size);
    free((uint8_t *)p - TA_SHIFT);
}

static void *test_alloc_fn(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    test_alloc_t *t = ud;
    size_t slot = TA_MAX_BLOCKS;
    if (ptr) {
        slot = ta_find(t, ptr);
        ck_assert_msg(t->blk[slot].size == old_size, "allocator: old_size %zu, block has %zu",
                      old_size, t->blk[slot].size);
    }
    if (new_size == 0) {
        if (ptr) {
            ta_release(ptr, old_size);
            t->blk[slot].p = NULL;
            t->live--;
        }
        return NULL;
    }
    void *base = NULL;
    if ((t->fail_after >= 0 && t->calls >= t->fail_after) ||
        new_size > SIZE_MAX - TA_SHIFT - TA_GUARD ||
        posix_memalign(&base, 64, TA_SHIFT + new_size + TA_GUARD) != 0) {
        t->refused++;
        return NULL;
    }
    uint8_t *p = (uint8_t *)base + TA_SHIFT;
    memset(p + new_size, 0xcd, TA_GUARD);
    if (ptr) {
        memcpy(p, ptr, old_size < new_size ? old_size : new_size);
        ta_release(ptr, old_size);
    } else {
        slot = ta_find(t, NULL);
        t->live++;
    }
    t->calls++;
    t->blk[slot].p = p;
    t->blk[slot].size = new_size;
    return p;
}

static void reader_over(bare_reader_t *r, const exact_buf_t *b, bare_arena_t *arena,
                        const bare_limits_t *limits)
{
    bare_reader_init(r, b->p, b->len, arena, limits);
}

/* ------------------------------------------------------------------------------------------ */
/* varint: uint, int and sizes                                                                  */

/* Every encoded length 1..10 at both ends: 2^(7k)-1 takes k bytes, 2^(7k) takes k+1. */
static const struct {
    uint64_t v;
    const char *hex;
} uint_cases[] = {
    {0, "00"},
    {1, "01"},
    {UINT64_C(127), "7f"},
    {UINT64_C(128), "80 01"},
    {UINT64_C(300), "ac 02"},
    {(UINT64_C(1) << 14) - 1, "ff 7f"},
    {UINT64_C(1) << 14, "80 80 01"},
    {(UINT64_C(1) << 21) - 1, "ff ff 7f"},
    {UINT64_C(1) << 21, "80 80 80 01"},
    {(UINT64_C(1) << 28) - 1, "ff ff ff 7f"},
    {UINT64_C(1) << 28, "80 80 80 80 01"},
    {(UINT64_C(1) << 35) - 1, "ff ff ff ff 7f"},
    {UINT64_C(1) << 35, "80 80 80 80 80 01"},
    {(UINT64_C(1) << 42) - 1, "ff ff ff ff ff 7f"},
    {UINT64_C(1) << 42, "80 80 80 80 80 80 01"},
    {(UINT64_C(1) << 49) - 1, "ff ff ff ff ff ff 7f"},
    {UINT64_C(1) << 49, "80 80 80 80 80 80 80 01"},
    {(UINT64_C(1) << 56) - 1, "ff ff ff ff ff ff ff 7f"},
    {UINT64_C(1) << 56, "80 80 80 80 80 80 80 80 01"},
    {(UINT64_C(1) << 63) - 1, "ff ff ff ff ff ff ff ff 7f"},
    {UINT64_C(1) << 63, "80 80 80 80 80 80 80 80 80 01"},
    {UINT64_MAX, "ff ff ff ff ff ff ff ff ff 01"},
};

START_TEST(test_uint_encode)
{
    uint8_t want[16];
    size_t n = unhex(uint_cases[_i].hex, want, sizeof want);
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_uint(&w, uint_cases[_i].v), BARE_OK);
    assert_bytes("bare_write_uint", w.buf, w.len, uint_cases[_i].hex);
    ck_assert_uint_eq(bare_uint_size(uint_cases[_i].v), n);
    bare_writer_free(&w);
}
END_TEST

START_TEST(test_uint_decode)
{
    /* The varint, then a marker byte the reader must leave in place. */
    uint8_t in[16];
    size_t n = unhex(uint_cases[_i].hex, in, sizeof in);
    in[n] = 0xaa;
    exact_buf_t b = exact_bytes(in, n + 1);
    bare_reader_t r;
    uint64_t v = 0;
    uint8_t marker = 0;
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_uint(&r, &v), BARE_OK);
    ck_assert_uint_eq(v, uint_cases[_i].v);
    ck_assert_uint_eq(bare_reader_offset(&r), n);
    ck_assert_int_eq(bare_read_u8(&r, &marker), BARE_OK);
    ck_assert_uint_eq(marker, 0xaa);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);

    /* Alone in an exactly sized buffer too (no look-ahead past the last byte). */
    b = exact_bytes(in, n);
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_uint(&r, &v), BARE_OK);
    ck_assert_uint_eq(v, uint_cases[_i].v);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);
}
END_TEST

/* zig-zag: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...; n -> 2n for n >= 0, -n -> 2n-1. */
static const struct {
    int64_t v;
    const char *hex;
} int_cases[] = {
    {0, "00"},
    {-1, "01"},
    {1, "02"},
    {-2, "03"},
    {2, "04"},
    {63, "7e"},
    {-64, "7f"},
    {64, "80 01"},  /* 128 */
    {-65, "81 01"}, /* 129 */
    {INT32_MAX, "fe ff ff ff 0f"},
    {INT32_MIN, "ff ff ff ff 0f"},
    {INT64_MAX, "fe ff ff ff ff ff ff ff ff 01"},
    {INT64_MIN, "ff ff ff ff ff ff ff ff ff 01"},
};

START_TEST(test_int_roundtrip)
{
    bare_writer_t w;
    bare_reader_t r;
    int64_t v = 0;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_int(&w, int_cases[_i].v), BARE_OK);
    assert_bytes("bare_write_int", w.buf, w.len, int_cases[_i].hex);

    exact_buf_t b = exact_hex(int_cases[_i].hex);
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_int(&r, &v), BARE_OK);
    ck_assert_int_eq(v, int_cases[_i].v);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);
    bare_writer_free(&w);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* UTF-8                                                                                        */

static const struct {
    const char *what;
    const char *hex;
    bool valid;
} utf8_cases[] = {
    {"empty", "", true},
    {"ASCII", "48 65 6c 6c 6f", true},
    {"NUL", "00", true},
    {"embedded NUL", "61 00 62", true},
    {"U+0080", "c2 80", true},
    {"U+07FF", "df bf", true},
    {"U+0800", "e0 a0 80", true},
    {"U+20AC euro", "e2 82 ac", true},
    {"U+D7FF", "ed 9f bf", true},
    {"U+E000", "ee 80 80", true},
    {"U+FFFF", "ef bf bf", true},
    {"U+10000", "f0 90 80 80", true},
    {"U+1F600", "f0 9f 98 80", true},
    {"U+10FFFF", "f4 8f bf bf", true},
    {"multibyte inside an 8-byte window", "41 41 41 c3 a9 41 41 41 41 41", true},
    {"multibyte after 8 ASCII", "41 41 41 41 41 41 41 41 e2 82 ac 41", true},
    {"4-byte across windows", "41 41 41 41 41 41 f0 9f 98 80 41 41 41 41 41 41 41 41", true},
    {"U+110000", "f4 90 80 80", false},
    {"f4 bf", "f4 bf bf bf", false},
    {"overlong c0 80", "c0 80", false},
    {"overlong c1 bf", "c1 bf", false},
    {"overlong e0 80 80", "e0 80 80", false},
    {"overlong e0 9f bf", "e0 9f bf", false},
    {"overlong f0 80 80 80", "f0 80 80 80", false},
    {"overlong f0 8f bf bf", "f0 8f bf bf", false},
    {"surrogate ed a0 80", "ed a0 80", false},
    {"surrogate ed bf bf", "ed bf bf", false},
    {"lone continuation 80", "80", false},
    {"lone continuation bf", "bf", false},
    {"continuation after ASCII", "41 80", false},
    {"continuation after 8 ASCII", "41 41 41 41 41 41 41 41 80", false},
    {"continuation first of 8", "80 41 41 41 41 41 41 41 41", false},
    {"continuation last of 8", "41 41 41 41 41 41 41 80 41", false},
    {"lead ff fourth of 8", "41 41 41 ff 41 41 41 41", false},
    {"extra continuation", "c3 a9 a9", false},
    {"truncated 2-byte", "c2", false},
    {"truncated 3-byte", "e2 82", false},
    {"truncated 4-byte", "f0 9f 98", false},
    {"truncated 2-byte after 7 ASCII", "41 41 41 41 41 41 41 c2", false},
    {"truncated 2-byte after 8 ASCII", "41 41 41 41 41 41 41 41 c2", false},
    {"truncated 3-byte after 8 ASCII", "41 41 41 41 41 41 41 41 e2 82", false},
    {"truncated 4-byte after 8 ASCII", "41 41 41 41 41 41 41 41 f0 9f 98", false},
    {"truncated 4-byte after 16 ASCII", "41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 f0 9f",
     false},
    {"bad 2nd byte of 2", "c2 41", false},
    {"bad 2nd byte of 3", "e2 41 ac", false},
    {"bad 3rd byte of 3", "e2 82 41", false},
    {"bad 4th byte of 4", "f0 9f 98 41", false},
    {"lead byte as 2nd of 2", "c3 c3", false},
    {"lead byte as 3rd of 3", "e2 82 c0", false},
    {"ff as 3rd of 3", "e2 82 ff", false},
    {"lead byte as 4th of 4", "f0 9f 98 f0", false},
    {"lead f5", "f5 80 80 80", false},
    {"lead f7", "f7 bf bf bf", false},
    {"lead f8", "f8 88 80 80 80", false},
    {"lead fc", "fc 84 80 80 80 80", false},
    {"lead fe", "fe", false},
    {"lead ff", "ff", false},
};

START_TEST(test_utf8_valid)
{
    exact_buf_t b = exact_hex(utf8_cases[_i].hex);
    ck_assert_msg(bare_utf8_valid(b.p, b.len) == utf8_cases[_i].valid, "%s: expected %s",
                  utf8_cases[_i].what, utf8_cases[_i].valid ? "valid" : "invalid");
    free(b.p);
}
END_TEST

/* Validation stops at len even when the bytes after it would complete a sequence. */
START_TEST(test_utf8_bounded)
{
    static const char *const seqs[] = {"c3 a9",
                                       "e2 82 ac",
                                       "f0 9f 98 80",
                                       "f4 8f bf bf",
                                       "41 41 41 41 41 41 41 41 e2 82 ac",
                                       "41 41 41 41 41 41 41 f0 9f 98 80"};
    for (size_t i = 0; i < ARRAY_LEN(seqs); i++) {
        uint8_t b[32];
        size_t n = unhex(seqs[i], b, sizeof b);
        ck_assert(bare_utf8_valid(b, n));
        ck_assert_msg(!bare_utf8_valid(b, n - 1), "%s cut by one byte", seqs[i]);
        /* The same as a str whose length stops one byte short, followed by that byte. */
        uint8_t in[40];
        in[0] = (uint8_t)(n - 1);
        memcpy(in + 1, b, n);
        exact_buf_t eb = exact_bytes(in, n + 1);
        bare_reader_t r;
        bare_str_t str;
        reader_over(&r, &eb, NULL, NULL);
        ck_assert_int_eq(bare_read_str(&r, &str), BARE_E_UTF8);
        ck_assert_uint_eq(r.err.offset, 0);
        free(eb.p);
    }
}
END_TEST

/* The same cases as a str on the wire (after one unrelated byte), through the writer, and as
 * data, which carries any bytes. */
START_TEST(test_utf8_str)
{
    uint8_t bytes[64], in[70];
    size_t n = unhex(utf8_cases[_i].hex, bytes, sizeof bytes);
    bool valid = utf8_cases[_i].valid;
    in[0] = 0xee;
    in[1] = (uint8_t)n;
    memcpy(in + 2, bytes, n);
    exact_buf_t b = exact_bytes(in, n + 2);
    bare_reader_t r;
    bare_str_t s = {NULL, 0};
    uint8_t skip;

    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_u8(&r, &skip), BARE_OK);
    if (valid) {
        ck_assert_int_eq(bare_read_str(&r, &s), BARE_OK);
        ck_assert_ptr_eq(s.ptr, (const char *)b.p + 2); /* borrowed from the input */
        ck_assert_uint_eq(s.len, n);
        ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    } else {
        ck_assert_int_eq(bare_read_str(&r, &s), BARE_E_UTF8);
        ck_assert_int_eq(r.err.status, BARE_E_UTF8);
        ck_assert_uint_eq(r.err.offset, 1); /* the length prefix */
    }

    bare_bytes_t d;
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_u8(&r, &skip), BARE_OK);
    ck_assert_int_eq(bare_read_data(&r, &d), BARE_OK);
    ck_assert_uint_eq(d.len, n);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);

    bare_writer_t w;
    bare_str_t v = {(const char *)bytes, n};
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_str(&w, v), valid ? BARE_OK : BARE_E_UTF8);
    if (valid) {
        ck_assert_uint_eq(w.len, n + 1);
        ck_assert_mem_eq(w.buf, in + 1, n + 1);
    } else {
        ck_assert_uint_eq(w.len, 0);
        ck_assert_int_eq(bare_write_u8(&w, 1), BARE_E_UTF8); /* sticky */
        ck_assert_uint_eq(w.len, 0);
    }
    bare_writer_free(&w);

    bare_error_t e;
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_str(&e, v), valid ? BARE_OK : BARE_E_UTF8);
    free(b.p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Fixed-width primitives, bool, str, data, fixed data                                         */

typedef enum op {
    OP_UINT,
    OP_INT,
    OP_U8,
    OP_U16,
    OP_U32,
    OP_U64,
    OP_I8,
    OP_I16,
    OP_I32,
    OP_I64,
    OP_F32,
    OP_F64,
    OP_BOOL,
    OP_PRESENT,
    OP_STR,
    OP_DATA,
    OP_FIXED3,
    OP_COUNT4
} op_t;

/* u: unsigned value, bool, or the float's bit pattern; s: signed value. */
static const struct {
    op_t op;
    uint64_t u;
    int64_t s;
    const char *hex;
} prim_cases[] = {
    {OP_U8, 0, 0, "00"},
    {OP_U8, 0xab, 0, "ab"},
    {OP_U8, 0xff, 0, "ff"},
    {OP_U16, 0x1234, 0, "34 12"},
    {OP_U16, 0xffff, 0, "ff ff"},
    {OP_U32, 0x12345678, 0, "78 56 34 12"},
    {OP_U32, 0x80000001u, 0, "01 00 00 80"},
    {OP_U64, UINT64_C(0x0102030405060708), 0, "08 07 06 05 04 03 02 01"},
    {OP_U64, UINT64_MAX, 0, "ff ff ff ff ff ff ff ff"},
    {OP_I8, 0, -1, "ff"},
    {OP_I8, 0, INT8_MIN, "80"},
    {OP_I8, 0, INT8_MAX, "7f"},
    {OP_I16, 0, -2, "fe ff"},
    {OP_I16, 0, INT16_MIN, "00 80"},
    {OP_I16, 0, 0x1234, "34 12"},
    {OP_I32, 0, INT32_MIN, "00 00 00 80"},
    {OP_I32, 0, -0x12345678, "88 a9 cb ed"},
    {OP_I64, 0, -2, "fe ff ff ff ff ff ff ff"},
    {OP_I64, 0, INT64_MAX, "ff ff ff ff ff ff ff 7f"},
    {OP_I64, 0, INT64_MIN, "00 00 00 00 00 00 00 80"},
    {OP_F32, 0x3f800000, 0, "00 00 80 3f"}, /* 1.0f */
    {OP_F32, 0x80000000, 0, "00 00 00 80"}, /* -0.0f */
    {OP_F32, 0xff800000, 0, "00 00 80 ff"}, /* -inf */
    {OP_F32, 0x7fc00001, 0, "01 00 c0 7f"}, /* quiet NaN with payload */
    {OP_F32, 0xffc00000, 0, "00 00 c0 ff"}, /* negative quiet NaN */
    {OP_F32, 0x00000001, 0, "01 00 00 00"}, /* smallest subnormal */
    {OP_F64, UINT64_C(0x3ff0000000000000), 0, "00 00 00 00 00 00 f0 3f"}, /* 1.0 */
    {OP_F64, UINT64_C(0x8000000000000000), 0, "00 00 00 00 00 00 00 80"}, /* -0.0 */
    {OP_F64, UINT64_C(0x7ff8000000000001), 0, "01 00 00 00 00 00 f8 7f"}, /* NaN + payload */
    {OP_F64, UINT64_C(0xfff8000000000000), 0, "00 00 00 00 00 00 f8 ff"}, /* -NaN */
    {OP_F64, UINT64_C(0x400921fb54442d18), 0, "18 2d 44 54 fb 21 09 40"}, /* pi */
    {OP_BOOL, 0, 0, "00"},
    {OP_BOOL, 1, 0, "01"},
};

static int write_prim(bare_writer_t *w, op_t op, uint64_t u, int64_t s)
{
    switch (op) {
    case OP_U8:
        return bare_write_u8(w, (uint8_t)u);
    case OP_U16:
        return bare_write_u16(w, (uint16_t)u);
    case OP_U32:
        return bare_write_u32(w, (uint32_t)u);
    case OP_U64:
        return bare_write_u64(w, u);
    case OP_I8:
        return bare_write_i8(w, (int8_t)s);
    case OP_I16:
        return bare_write_i16(w, (int16_t)s);
    case OP_I32:
        return bare_write_i32(w, (int32_t)s);
    case OP_I64:
        return bare_write_i64(w, s);
    case OP_F32: {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, sizeof f);
        return bare_write_f32(w, f);
    }
    case OP_F64: {
        double d;
        memcpy(&d, &u, sizeof d);
        return bare_write_f64(w, d);
    }
    case OP_BOOL:
        return bare_write_bool(w, u != 0);
    default:
        ck_abort_msg("write_prim: op %d", (int)op);
        return -1;
    }
}

/* Reads one primitive; *u or *s receives its value (floats: the bit pattern). */
static int read_prim(bare_reader_t *r, op_t op, uint64_t *u, int64_t *s)
{
    int rc;
    switch (op) {
    case OP_U8: {
        uint8_t v = 0;
        rc = bare_read_u8(r, &v);
        *u = v;
        return rc;
    }
    case OP_U16: {
        uint16_t v = 0;
        rc = bare_read_u16(r, &v);
        *u = v;
        return rc;
    }
    case OP_U32: {
        uint32_t v = 0;
        rc = bare_read_u32(r, &v);
        *u = v;
        return rc;
    }
    case OP_U64:
        return bare_read_u64(r, u);
    case OP_I8: {
        int8_t v = 0;
        rc = bare_read_i8(r, &v);
        *s = v;
        return rc;
    }
    case OP_I16: {
        int16_t v = 0;
        rc = bare_read_i16(r, &v);
        *s = v;
        return rc;
    }
    case OP_I32: {
        int32_t v = 0;
        rc = bare_read_i32(r, &v);
        *s = v;
        return rc;
    }
    case OP_I64:
        return bare_read_i64(r, s);
    case OP_F32: {
        float f = 0;
        uint32_t bits;
        rc = bare_read_f32(r, &f);
        memcpy(&bits, &f, sizeof bits);
        *u = bits;
        return rc;
    }
    case OP_F64: {
        double d = 0;
        rc = bare_read_f64(r, &d);
        memcpy(u, &d, sizeof *u);
        return rc;
    }
    case OP_BOOL: {
        bool b = false;
        rc = bare_read_bool(r, &b);
        *u = b;
        return rc;
    }
    case OP_PRESENT: {
        bool b = false;
        rc = bare_read_present(r, &b);
        *u = b;
        return rc;
    }
    case OP_UINT:
        return bare_read_uint(r, u);
    case OP_INT:
        return bare_read_int(r, s);
    case OP_STR: {
        bare_str_t v;
        return bare_read_str(r, &v);
    }
    case OP_DATA: {
        bare_bytes_t v;
        return bare_read_data(r, &v);
    }
    case OP_FIXED3: {
        uint8_t v[3];
        return bare_read_fixed(r, v, sizeof v);
    }
    case OP_COUNT4: {
        size_t n;
        rc = bare_read_count(r, 4, &n);
        *u = n;
        return rc;
    }
    }
    ck_abort_msg("read_prim: op %d", (int)op);
    return -1;
}

START_TEST(test_prim_roundtrip)
{
    bare_writer_t w;
    bare_reader_t r;
    uint64_t u = 0;
    int64_t s = 0;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(write_prim(&w, prim_cases[_i].op, prim_cases[_i].u, prim_cases[_i].s),
                     BARE_OK);
    assert_bytes("write", w.buf, w.len, prim_cases[_i].hex);
    bare_writer_free(&w);

    exact_buf_t b = exact_hex(prim_cases[_i].hex);
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(read_prim(&r, prim_cases[_i].op, &u, &s), BARE_OK);
    switch (prim_cases[_i].op) {
    case OP_I8:
    case OP_I16:
    case OP_I32:
    case OP_I64:
        ck_assert_int_eq(s, prim_cases[_i].s);
        break;
    default:
        ck_assert_msg(u == prim_cases[_i].u, "read back 0x%" PRIx64 ", want 0x%" PRIx64, u,
                      prim_cases[_i].u);
    }
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);
}
END_TEST

START_TEST(test_str_data_fixed)
{
    bare_writer_t w;
    bare_reader_t r;
    bare_str_t s;
    bare_bytes_t d;
    uint8_t big[200], fixed[3];
    memset(big, 0x5a, sizeof big);

    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_str(&w, BARE_STR_LIT("h\xc3\xa9llo")), BARE_OK);
    ck_assert_int_eq(bare_write_str(&w, BARE_STR_LIT("")), BARE_OK);
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){(const uint8_t *)"\x00\xff", 2}), BARE_OK);
    ck_assert_int_eq(bare_write_fixed(&w, (const uint8_t *)"\x01\x02\x03", 3), BARE_OK);
    assert_bytes("str, str, data, fixed", w.buf, w.len,
                 "06 68 c3 a9 6c 6c 6f 00 02 00 ff 01 02 03");
    /* A 200-byte data: prefix 200 = 0x48 | 0x80, 0x01. */
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){big, sizeof big}), BARE_OK);
    ck_assert_uint_eq(w.len, 14 + 2 + 200);
    ck_assert_uint_eq(w.buf[14], 0xc8);
    ck_assert_uint_eq(w.buf[15], 0x01);

    exact_buf_t b = exact_bytes(w.buf, w.len);
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_str(&r, &s), BARE_OK);
    ck_assert(bare_str_eq_cstr(s, "h\xc3\xa9llo"));
    ck_assert_ptr_eq(s.ptr, (const char *)b.p + 1);
    ck_assert_int_eq(bare_read_str(&r, &s), BARE_OK);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(bare_read_data(&r, &d), BARE_OK);
    ck_assert_uint_eq(d.len, 2);
    ck_assert_ptr_eq(d.ptr, b.p + 9);
    ck_assert_int_eq(bare_read_fixed(&r, fixed, 3), BARE_OK);
    ck_assert_mem_eq(fixed, "\x01\x02\x03", 3);
    ck_assert_int_eq(bare_read_data(&r, &d), BARE_OK);
    ck_assert_uint_eq(d.len, 200);
    ck_assert_mem_eq(d.ptr, big, 200);
    ck_assert_int_eq(bare_read_fixed(&r, fixed, 0), BARE_OK);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);
    bare_writer_free(&w);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Rejects: status and the offset where the offending item starts                              */

static const struct {
    const char *what;
    op_t op;
    size_t skip; /* bytes consumed before the failing read */
    const char *hex;
    int status;
    size_t offset;
} reject_cases[] = {
    {"uint 80 00", OP_UINT, 0, "80 00", BARE_E_VARINT_NONCANONICAL, 0},
    {"uint ff 00", OP_UINT, 0, "ff 00", BARE_E_VARINT_NONCANONICAL, 0},
    {"uint 81 80 00", OP_UINT, 0, "81 80 00", BARE_E_VARINT_NONCANONICAL, 0},
    {"uint 80 00 after a byte", OP_UINT, 1, "07 80 00", BARE_E_VARINT_NONCANONICAL, 1},
    {"uint 10 bytes ending 00", OP_UINT, 0, "80 80 80 80 80 80 80 80 80 00",
     BARE_E_VARINT_NONCANONICAL, 0},
    {"uint 10th byte 02", OP_UINT, 0, "80 80 80 80 80 80 80 80 80 02", BARE_E_VARINT_OVERFLOW, 0},
    {"uint 10th byte 7f", OP_UINT, 0, "ff ff ff ff ff ff ff ff ff 7f", BARE_E_VARINT_OVERFLOW, 0},
    {"uint 11 bytes", OP_UINT, 0, "80 80 80 80 80 80 80 80 80 80 01", BARE_E_VARINT_OVERFLOW, 0},
    {"uint 11 bytes all ones", OP_UINT, 2, "00 00 ff ff ff ff ff ff ff ff ff ff 01",
     BARE_E_VARINT_OVERFLOW, 2},
    {"uint empty", OP_UINT, 0, "", BARE_E_TRUNCATED, 0},
    {"uint 80", OP_UINT, 0, "80", BARE_E_TRUNCATED, 0},
    {"uint ff ff ff", OP_UINT, 1, "00 ff ff ff", BARE_E_TRUNCATED, 1},
    {"uint 9 continuation bytes", OP_UINT, 0, "ff ff ff ff ff ff ff ff ff", BARE_E_TRUNCATED, 0},
    {"int 80 00", OP_INT, 0, "80 00", BARE_E_VARINT_NONCANONICAL, 0},
    {"int 11 bytes", OP_INT, 1, "00 ff ff ff ff ff ff ff ff ff ff 01", BARE_E_VARINT_OVERFLOW, 1},
    {"int truncated", OP_INT, 0, "ff", BARE_E_TRUNCATED, 0},
    {"u8 empty", OP_U8, 0, "", BARE_E_TRUNCATED, 0},
    {"u16 one byte", OP_U16, 2, "aa bb cc", BARE_E_TRUNCATED, 2},
    {"u32 three bytes", OP_U32, 0, "01 02 03", BARE_E_TRUNCATED, 0},
    {"u64 seven bytes", OP_U64, 1, "00 01 02 03 04 05 06 07", BARE_E_TRUNCATED, 1},
    {"i8 empty", OP_I8, 1, "00", BARE_E_TRUNCATED, 1},
    {"i16 one byte", OP_I16, 0, "ff", BARE_E_TRUNCATED, 0},
    {"i32 three bytes", OP_I32, 1, "00 01 02 03", BARE_E_TRUNCATED, 1},
    {"i64 seven bytes", OP_I64, 0, "01 02 03 04 05 06 07", BARE_E_TRUNCATED, 0},
    {"f32 three bytes", OP_F32, 0, "00 00 80", BARE_E_TRUNCATED, 0},
    {"f64 seven bytes", OP_F64, 1, "00 00 00 00 00 00 00 f0", BARE_E_TRUNCATED, 1},
    {"bool 02", OP_BOOL, 1, "01 02", BARE_E_BOOL, 1},
    {"bool ff", OP_BOOL, 0, "ff", BARE_E_BOOL, 0},
    {"bool empty", OP_BOOL, 1, "01", BARE_E_TRUNCATED, 1},
    {"optional 02", OP_PRESENT, 1, "00 02", BARE_E_OPTIONAL, 1},
    {"optional 80", OP_PRESENT, 0, "80", BARE_E_OPTIONAL, 0},
    {"optional empty", OP_PRESENT, 0, "", BARE_E_TRUNCATED, 0},
    {"str length 5, 2 left", OP_STR, 1, "aa 05 61 62", BARE_E_LENGTH, 1},
    {"str 2-byte length 128, 1 left", OP_STR, 2, "aa bb 80 01 00", BARE_E_LENGTH, 2},
    {"str length UINT64_MAX", OP_STR, 0, "ff ff ff ff ff ff ff ff ff 01 61", BARE_E_LENGTH, 0},
    {"str length non-canonical", OP_STR, 1, "aa 80 00", BARE_E_VARINT_NONCANONICAL, 1},
    {"str length truncated", OP_STR, 1, "aa 80", BARE_E_TRUNCATED, 1},
    {"str overlong", OP_STR, 1, "aa 02 c0 80", BARE_E_UTF8, 1},
    {"str surrogate", OP_STR, 0, "03 ed a0 80", BARE_E_UTF8, 0},
    {"data length 3, 2 left", OP_DATA, 1, "aa 03 01 02", BARE_E_LENGTH, 1},
    {"data empty input", OP_DATA, 0, "", BARE_E_TRUNCATED, 0},
    {"data[3] two bytes", OP_FIXED3, 1, "aa 01 02", BARE_E_TRUNCATED, 1},
    {"count 3 x 4 > 11 left", OP_COUNT4, 1, "aa 03 00 00 00 00 00 00 00 00 00 00 00", BARE_E_LENGTH,
     1},
    {"count UINT64_MAX x 4", OP_COUNT4, 0, "ff ff ff ff ff ff ff ff ff 01 00 00 00 00",
     BARE_E_LENGTH, 0},
    /* 2^62 elements of 4 bytes: the product wraps to 0 in 64 bits. */
    {"count 2^62 x 4", OP_COUNT4, 0, "80 80 80 80 80 80 80 80 40 00", BARE_E_LENGTH, 0},
    {"count non-canonical", OP_COUNT4, 0, "80 00", BARE_E_VARINT_NONCANONICAL, 0},
};

START_TEST(test_reject)
{
    exact_buf_t b = exact_hex(reject_cases[_i].hex);
    bare_reader_t r;
    uint8_t skip[16];
    uint64_t u;
    int64_t s;
    int want = reject_cases[_i].status;

    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_fixed(&r, skip, reject_cases[_i].skip), BARE_OK);
    int rc = read_prim(&r, reject_cases[_i].op, &u, &s);
    ck_assert_msg(rc == want, "%s: got %s, want %s", reject_cases[_i].what, bare_status_name(rc),
                  bare_status_name(want));
    ck_assert_int_eq(r.err.status, want);
    ck_assert_msg(r.err.offset == reject_cases[_i].offset, "%s: offset %zu, want %zu",
                  reject_cases[_i].what, r.err.offset, reject_cases[_i].offset);
    ck_assert_uint_le(bare_reader_offset(&r), b.len);

    /* Sticky: every later call fails with the first status and keeps its offset. */
    ck_assert_int_eq(bare_read_fixed(&r, skip, 0), want);
    ck_assert_int_eq(bare_read_uint(&r, &u), want);
    ck_assert_int_eq(bare_reader_finish(&r), want);
    ck_assert_uint_eq(r.err.offset, reject_cases[_i].offset);
    free(b.p);
}
END_TEST

START_TEST(test_trailing)
{
    exact_buf_t b = exact_hex("01 02 03");
    bare_reader_t r;
    uint8_t v;
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_OK);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_E_TRAILING);
    ck_assert_int_eq(r.err.status, BARE_E_TRAILING);
    ck_assert_uint_eq(r.err.offset, 1);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_E_TRAILING);

    /* After an earlier failure finish reports that one, not TRAILING. */
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_bool(&r, (bool[1]){false}), BARE_OK);
    ck_assert_int_eq(bare_read_bool(&r, (bool[1]){false}), BARE_E_BOOL);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_E_BOOL);
    ck_assert_uint_eq(r.err.offset, 1);

    /* Empty input is a complete empty read, also when it comes as NULL (an empty frame). */
    bare_reader_init(&r, b.p, 0, NULL, NULL);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    bare_reader_init(&r, NULL, 0, NULL, NULL);
    ck_assert_int_eq(bare_read_fixed(&r, NULL, 0), BARE_OK);
    ck_assert_uint_eq(bare_reader_left(&r), 0);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_E_TRUNCATED);
    ck_assert_uint_eq(r.err.offset, 0);
    free(b.p);
}
END_TEST

START_TEST(test_sticky)
{
    exact_buf_t b = exact_hex("00 02 05 07");
    bare_reader_t r;
    bool flag;
    uint8_t v = 0;
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_bool(&r, &flag), BARE_OK);
    ck_assert_int_eq(bare_read_bool(&r, &flag), BARE_E_BOOL);
    ck_assert_uint_eq(bare_reader_offset(&r), 1); /* the bad byte is not consumed */
    /* A read that would succeed on its own fails now, and a later failure of another kind
     * does not replace the first. */
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_E_BOOL);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(bare_read_present(&r, &flag), BARE_E_BOOL);
    ck_assert_int_eq(bare_reader_fail_at(&r, BARE_E_UNION_TAG, 3), BARE_E_BOOL);
    ck_assert_int_eq(bare_reader_enter(&r), BARE_E_BOOL);
    void *p = (void *)&r;
    ck_assert_int_eq(bare_reader_alloc(&r, 1, 1, 1, &p), BARE_E_BOOL);
    ck_assert_int_eq(r.err.status, BARE_E_BOOL);
    ck_assert_uint_eq(r.err.offset, 1);

    /* bare_reader_fail_at records the offset it is given. */
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_reader_fail_at(&r, BARE_E_ENUM, 3), BARE_E_ENUM);
    ck_assert_int_eq(bare_reader_fail_at(&r, BARE_E_UNION_TAG, 0), BARE_E_ENUM);
    ck_assert_uint_eq(r.err.offset, 3);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_E_ENUM);
    free(b.p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Limits: counts, depth, allocation                                                            */

START_TEST(test_count)
{
    bare_reader_t r;
    size_t n = 99;
    uint8_t skip;

    /* 3 elements of at least 4 bytes, exactly 12 left: accepted. */
    exact_buf_t b = exact_hex("aa 03 00 00 00 00 00 00 00 00 00 00 00 00");
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_u8(&r, &skip), BARE_OK);
    ck_assert_int_eq(bare_read_count(&r, 4, &n), BARE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(bare_reader_offset(&r), 2);

    /* The same with 5-byte elements: 15 > 12. */
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_u8(&r, &skip), BARE_OK);
    ck_assert_int_eq(bare_read_count(&r, 5, &n), BARE_E_LENGTH);
    ck_assert_uint_eq(r.err.offset, 1);

    /* min_elem_size 0 counts as 1: 12 elements fit, 13 do not. */
    free(b.p);
    b = exact_hex("0c 00 00 00 00 00 00 00 00 00 00 00 00");
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_count(&r, 0, &n), BARE_OK);
    ck_assert_uint_eq(n, 12);
    free(b.p);
    b = exact_hex("0d 00 00 00 00 00 00 00 00 00 00 00 00");
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_count(&r, 0, &n), BARE_E_LENGTH);
    ck_assert_uint_eq(r.err.offset, 0);

    /* A zero count needs no input. */
    free(b.p);
    b = exact_hex("00");
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_read_count(&r, 1000, &n), BARE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    free(b.p);
}
END_TEST

/* max_depth given, and the depth it allows (0 selects the default). */
static const struct {
    uint32_t max_depth;
    uint32_t allowed;
} depth_cases[] = {{1, 1}, {2, 2}, {7, 7}, {0, BARE_DEFAULT_MAX_DEPTH}, {1000, 1000}};

START_TEST(test_depth)
{
    exact_buf_t b = exact_hex("00 01");
    bare_limits_t lim = {depth_cases[_i].max_depth, 0};
    bare_reader_t r;
    uint8_t v;
    reader_over(&r, &b, NULL, &lim);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_OK);

    /* Leaving gives the level back. */
    ck_assert_int_eq(bare_reader_enter(&r), BARE_OK);
    bare_reader_leave(&r);
    for (uint32_t i = 0; i < depth_cases[_i].allowed; i++)
        ck_assert_int_eq(bare_reader_enter(&r), BARE_OK);
    ck_assert_int_eq(bare_reader_enter(&r), BARE_E_DEPTH);
    ck_assert_uint_eq(r.err.offset, 1);
    bare_reader_leave(&r);
    ck_assert_int_eq(bare_reader_enter(&r), BARE_E_DEPTH); /* sticky */
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_E_DEPTH);
    free(b.p);
}
END_TEST

START_TEST(test_alloc_limit)
{
    exact_buf_t b = exact_hex("00 00 00");
    bare_arena_t arena;
    bare_reader_t r;
    bare_limits_t lim = {0, 100};
    void *p = NULL;
    uint8_t v;
    bare_arena_init(&arena, NULL, NULL);

    reader_over(&r, &b, &arena, &lim);
    ck_assert_int_eq(bare_reader_alloc(&r, 0, 8, 8, &p), BARE_OK);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(bare_reader_alloc(&r, 10, 8, 8, &p), BARE_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 8, 0);
    memset(p, 0xa5, 80);
    ck_assert_int_eq(bare_reader_alloc(&r, 5, 4, 4, &p), BARE_OK); /* 100 in all: at the limit */
    ck_assert_uint_eq(r.alloc_used, 100);
    ck_assert_int_eq(bare_read_u8(&r, &v), BARE_OK);
    ck_assert_int_eq(bare_reader_alloc(&r, 1, 1, 1, &p), BARE_E_ALLOC_LIMIT);
    ck_assert_uint_eq(r.err.offset, 1);

    /* count * size overflowing size_t is a limit failure, not a small allocation. */
    static const size_t overflow[][2] = {
        {SIZE_MAX / 2 + 1, 2}, {SIZE_MAX, SIZE_MAX}, {(SIZE_MAX >> 4) + 2, 16}, {2, SIZE_MAX}};
    for (size_t i = 0; i < ARRAY_LEN(overflow); i++) {
        reader_over(&r, &b, &arena, NULL);
        ck_assert_int_eq(bare_reader_alloc(&r, overflow[i][0], overflow[i][1], 1, &p),
                         BARE_E_ALLOC_LIMIT);
        ck_assert_uint_eq(r.err.offset, 0);
    }

    /* The default limit applies when none is given. */
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(bare_reader_alloc(&r, BARE_DEFAULT_MAX_ALLOC + 1, 1, 1, &p),
                     BARE_E_ALLOC_LIMIT);

    /* No arena: nothing to allocate from. */
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(bare_reader_alloc(&r, 1, 1, 1, &p), BARE_E_INVALID_ARGUMENT);

    bare_arena_free(&arena);
    free(b.p);
}
END_TEST

START_TEST(test_alloc_nomem)
{
    exact_buf_t b = exact_hex("00 00 00");
    test_alloc_t ta;
    bare_arena_t arena;
    bare_reader_t r;
    void *p = NULL;
    uint8_t skip[2];
    test_alloc_init(&ta, 0);
    bare_arena_init(&arena, test_alloc_fn, &ta);

    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(bare_read_fixed(&r, skip, 2), BARE_OK);
    ck_assert_int_eq(bare_reader_alloc(&r, 10, 4, 4, &p), BARE_E_NOMEM);
    ck_assert_uint_eq(r.err.offset, 2);
    ck_assert_uint_eq(r.alloc_used, 0);
    ck_assert_int_eq(bare_read_fixed(&r, skip, 1), BARE_E_NOMEM);
    ck_assert_int_gt(ta.refused, 0);

    /* One block allowed: allocations inside it work, the one needing a second block fails. */
    test_alloc_init(&ta, 1);
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(bare_reader_alloc(&r, 16, 1, 1, &p), BARE_OK);
    ck_assert_int_eq(bare_reader_alloc(&r, 16, 1, 1, &p), BARE_OK);
    ck_assert_int_eq(bare_reader_alloc(&r, 1 << 20, 1, 1, &p), BARE_E_NOMEM);
    bare_arena_free(&arena);
    ck_assert_uint_eq(ta.live, 0);
    free(b.p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Duplicate map keys                                                                           */

typedef struct key_entry {
    union {
        uint8_t k1;
        uint16_t k2;
        uint32_t k4;
        uint64_t k8;
        bare_str_t str;
        uint8_t fixed[16];
    } key;
    uint8_t value;
} key_entry_t;

/*
 * Keys by entry index (before duplicates are planted):
 *   unsigned  (100 - i) << 8 * (size - 1)       descending, differing in the top byte
 *   signed    (i odd ? -1 : 1) * (i + 1) * M    M = 1, 2^8, 2^24, 2^48 for sizes 1, 2, 4, 8
 *   bytes     "" for 0, else "key<i>"           "key1" is a prefix of "key10"
 *   fixed     all zero but the last byte, 100 - i
 * Small maps have 5 entries; entry 3 repeats entry 1 and entry 4 repeats entry 0, so the first
 * repeat in entry order is entry 3. Large maps have 40 entries (the sorting path); entries 10
 * and 35 repeat entry 3 and entry 30 repeats entry 20, whose key sorts before entry 3's: the
 * error must still name entry 10, the first repeat in entry order.
 */
#define SMALL_KEYS 5
#define LARGE_KEYS 40

static const struct {
    const char *what;
    bare_key_kind_t kind;
    size_t key_size;
    const char *small_path; /* key of entry 1 */
    const char *large_path; /* key of entry 3 */
} key_cases[] = {
    {"u8", BARE_KEY_UNSIGNED, 1, "[99]", "[97]"},
    {"u16", BARE_KEY_UNSIGNED, 2, "[25344]", "[24832]"},
    {"u32", BARE_KEY_UNSIGNED, 4, "[1660944384]", "[1627389952]"},
    {"u64", BARE_KEY_UNSIGNED, 8, "[7133701809754865664]", "[6989586621679009792]"},
    {"i8", BARE_KEY_SIGNED, 1, "[-2]", "[-4]"},
    {"i16", BARE_KEY_SIGNED, 2, "[-512]", "[-1024]"},
    {"i32", BARE_KEY_SIGNED, 4, "[-33554432]", "[-67108864]"},
    {"i64", BARE_KEY_SIGNED, 8, "[-562949953421312]", "[-1125899906842624]"},
    {"str", BARE_KEY_BYTES, 0, "[\"key1\"]", "[\"key3\"]"},
    {"data[4]", BARE_KEY_FIXED, 4, "[3]", "[10]"}, /* fixed keys are named by entry index */
    {"data[16]", BARE_KEY_FIXED, 16, "[3]", "[10]"},
};

/* Entry i's key as the bytes of its wire encoding (without a str's length prefix). */
static size_t key_wire(size_t kc, size_t i, uint8_t *out)
{
    size_t size = key_cases[kc].key_size;
    switch (key_cases[kc].kind) {
    case BARE_KEY_UNSIGNED: {
        uint64_t k = (uint64_t)(100 - i) << (8 * (size - 1));
        for (size_t j = 0; j < size; j++)
            out[j] = (uint8_t)(k >> (8 * j));
        return size;
    }
    case BARE_KEY_SIGNED: {
        static const int64_t m[9] = {0, 1, INT64_C(1) << 8, 0, INT64_C(1) << 24, 0,
                                     0, 0, INT64_C(1) << 48};
        int64_t k = (i % 2 ? -1 : 1) * (int64_t)(i + 1) * m[size];
        for (size_t j = 0; j < size; j++)
            out[j] = (uint8_t)((uint64_t)k >> (8 * j));
        return size;
    }
    case BARE_KEY_BYTES:
        return i == 0 ? 0 : (size_t)sprintf((char *)out, "key%zu", i);
    case BARE_KEY_FIXED:
        memset(out, 0, size);
        out[size - 1] = (uint8_t)(100 - i);
        return size;
    }
    return 0;
}

/* Encodes map<K><u8> after one unrelated byte; *dup_at gets the offset of entry dup's key. */
static size_t encode_key_map(size_t kc, size_t count, bool plant, uint8_t *out, size_t dup,
                             size_t *dup_at)
{
    size_t n = 0;
    out[n++] = 0xee;
    out[n++] = (uint8_t)count;
    for (size_t i = 0; i < count; i++) {
        size_t src = i;
        if (plant && count == SMALL_KEYS && (i == 3 || i == 4))
            src = 4 - i;
        if (plant && count == LARGE_KEYS && (i == 10 || i == 35))
            src = 3;
        if (plant && count == LARGE_KEYS && i == 30)
            src = 20;
        if (i == dup)
            *dup_at = n;
        uint8_t k[32];
        size_t kn = key_wire(kc, src, k);
        if (key_cases[kc].kind == BARE_KEY_BYTES)
            out[n++] = (uint8_t)kn;
        memcpy(out + n, k, kn);
        n += kn;
        out[n++] = (uint8_t)i;
    }
    return n;
}

/* Decodes what encode_key_map wrote, the way generated code does. */
static int decode_key_map(size_t kc, bare_reader_t *r, key_entry_t **entries, size_t *count)
{
    size_t size = key_cases[kc].key_size;
    uint8_t skip;
    void *p;
    int rc = bare_read_u8(r, &skip);
    rc = rc ? rc : bare_read_count(r, size ? size + 1 : 2, count);
    rc = rc ? rc : bare_reader_alloc(r, *count, sizeof **entries, alignof(key_entry_t), &p);
    if (rc)
        return rc;
    *entries = p;
    for (size_t i = 0; i < *count && !rc; i++) {
        key_entry_t *e = &(*entries)[i];
        switch (key_cases[kc].kind) {
        case BARE_KEY_UNSIGNED:
            rc = size == 1   ? bare_read_u8(r, &e->key.k1)
                 : size == 2 ? bare_read_u16(r, &e->key.k2)
                 : size == 4 ? bare_read_u32(r, &e->key.k4)
                             : bare_read_u64(r, &e->key.k8);
            break;
        case BARE_KEY_SIGNED:
            rc = size == 1   ? bare_read_i8(r, (int8_t *)&e->key.k1)
                 : size == 2 ? bare_read_i16(r, (int16_t *)&e->key.k2)
                 : size == 4 ? bare_read_i32(r, (int32_t *)&e->key.k4)
                             : bare_read_i64(r, (int64_t *)&e->key.k8);
            break;
        case BARE_KEY_BYTES:
            rc = bare_read_str(r, &e->key.str);
            break;
        case BARE_KEY_FIXED:
            rc = bare_read_fixed(r, e->key.fixed, size);
            break;
        }
        rc = rc ? rc : bare_read_u8(r, &e->value);
    }
    return rc;
}

/* _i = 4 * key case + scenario: 0 small with repeats, 1 large with repeats, 2 small, 3 large. */
START_TEST(test_map_keys)
{
    size_t kc = (size_t)_i / 4, scenario = (size_t)_i % 4;
    size_t count = scenario % 2 ? LARGE_KEYS : SMALL_KEYS;
    bool plant = scenario < 2;
    size_t dup = count == SMALL_KEYS ? 3 : 10, dup_at = 0;
    const char *path = count == SMALL_KEYS ? key_cases[kc].small_path : key_cases[kc].large_path;
    uint8_t in[1024];
    size_t n = encode_key_map(kc, count, plant, in, dup, &dup_at);
    exact_buf_t b = exact_bytes(in, n);
    bare_arena_t arena;
    bare_reader_t r;
    key_entry_t *entries = NULL;
    size_t got = 0;

    bare_arena_init(&arena, NULL, NULL);
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(decode_key_map(kc, &r, &entries, &got), BARE_OK);
    ck_assert_uint_eq(got, count);
    int rc = bare_reader_check_keys(&r, entries, got, sizeof *entries, key_cases[kc].kind,
                                    key_cases[kc].key_size, 1);
    if (plant) {
        ck_assert_msg(rc == BARE_E_DUPLICATE_KEY, "%s: got %s", key_cases[kc].what,
                      bare_status_name(rc));
        ck_assert_str_eq(bare_error_path(&r.err), path);
        /* Integer and fixed keys point at the map, str keys at the repeated key's prefix. */
        ck_assert_uint_eq(r.err.offset, key_cases[kc].kind == BARE_KEY_BYTES ? dup_at : 1);
    } else {
        ck_assert_msg(rc == BARE_OK, "%s: got %s at %s", key_cases[kc].what, bare_status_name(rc),
                      bare_error_path(&r.err));
        ck_assert_int_eq(bare_reader_finish(&r), BARE_OK);
    }

    /* The same entries as a value built in C. */
    bare_error_t e;
    bare_error_init(&e);
    rc = bare_check_keys(&e, entries, got, sizeof *entries, key_cases[kc].kind,
                         key_cases[kc].key_size);
    ck_assert_int_eq(rc, plant ? BARE_E_DUPLICATE_KEY : BARE_OK);
    ck_assert_str_eq(bare_error_path(&e), plant ? path : "");
    ck_assert_uint_eq(e.offset, 0);

    bare_arena_free(&arena);
    free(b.p);
}
END_TEST

/* The examples of bare.h: ["X"], [7], [-3], composed with the enclosing field. */
START_TEST(test_map_keys_named)
{
    /* map<str><u8>{"X": 1, "Y": 2, "X": 3} after two bytes: 00 00 | 03 | 01 58 01 | 01 59 02 |
     * 01 58 03, so the repeated key's length prefix is at offset 9. */
    exact_buf_t b = exact_hex("00 00 03 01 58 01 01 59 02 01 58 03");
    bare_arena_t arena;
    bare_reader_t r;
    key_entry_t *entries;
    size_t count;
    uint8_t skip[2];
    void *p;
    bare_arena_init(&arena, NULL, NULL);
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(bare_read_fixed(&r, skip, 2), BARE_OK);
    ck_assert_int_eq(bare_read_count(&r, 2, &count), BARE_OK);
    ck_assert_int_eq(bare_reader_alloc(&r, count, sizeof *entries, alignof(key_entry_t), &p),
                     BARE_OK);
    entries = p;
    for (size_t i = 0; i < count; i++) {
        ck_assert_int_eq(bare_read_str(&r, &entries[i].key.str), BARE_OK);
        ck_assert_int_eq(bare_read_u8(&r, &entries[i].value), BARE_OK);
    }
    ck_assert_int_eq(
        bare_reader_check_keys(&r, entries, count, sizeof *entries, BARE_KEY_BYTES, 0, 2),
        BARE_E_DUPLICATE_KEY);
    ck_assert_uint_eq(r.err.offset, 9);
    ck_assert_int_eq(bare_path_field(&r.err, "env"), BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&r.err), "env[\"X\"]");
    bare_arena_free(&arena);
    free(b.p);

    struct {
        uint8_t k;
        uint8_t v;
    } u8map[] = {{7, 0}, {1, 0}, {7, 0}};
    struct {
        int32_t k;
        uint32_t v;
    } i32map[] = {{-3, 0}, {4, 0}, {3, 0}, {-3, 0}};
    bare_error_t e;
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_keys(&e, u8map, 3, sizeof u8map[0], BARE_KEY_UNSIGNED, 1),
                     BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&e), "[7]");
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_keys(&e, i32map, 4, sizeof i32map[0], BARE_KEY_SIGNED, 4),
                     BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&e), "[-3]");
    /* An error already held is kept. */
    ck_assert_int_eq(bare_check_keys(&e, u8map, 3, sizeof u8map[0], BARE_KEY_UNSIGNED, 1),
                     BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&e), "[-3]");
    bare_error_init(&e);
    bare_error_set(&e, BARE_E_UTF8, 0);
    ck_assert_int_eq(bare_check_keys(&e, u8map, 3, sizeof u8map[0], BARE_KEY_UNSIGNED, 1),
                     BARE_E_UTF8);
    ck_assert_str_eq(bare_error_path(&e), "");

    /* Two entries are the smallest map that can repeat a key. */
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_keys(&e, u8map, 2, sizeof u8map[0] * 2, BARE_KEY_UNSIGNED, 1),
                     BARE_E_DUPLICATE_KEY); /* entries 0 and 2 as a 2-entry map */
    ck_assert_str_eq(bare_error_path(&e), "[7]");
    b = exact_hex("00 00 00");
    reader_over(&r, &b, NULL, NULL);
    ck_assert_int_eq(
        bare_reader_check_keys(&r, u8map, 2, sizeof u8map[0] * 2, BARE_KEY_UNSIGNED, 1, 2),
        BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&r.err), "[7]");
    ck_assert_uint_eq(r.err.offset, 2);
    free(b.p);

    /* No repeats, and maps of 0 and 1 entries. */
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_keys(&e, u8map, 2, sizeof u8map[0], BARE_KEY_UNSIGNED, 1), BARE_OK);
    ck_assert_int_eq(bare_check_keys(&e, u8map, 1, sizeof u8map[0], BARE_KEY_UNSIGNED, 1), BARE_OK);
    ck_assert_int_eq(bare_check_keys(&e, NULL, 0, sizeof u8map[0], BARE_KEY_UNSIGNED, 1), BARE_OK);
}
END_TEST

/* Large maps sort in scratch space from the reader's arena, within max_alloc. */
START_TEST(test_map_keys_scratch)
{
    key_entry_t entries[LARGE_KEYS];
    exact_buf_t b = exact_hex("00");
    bare_limits_t lim = {0, 64};
    bare_arena_t arena;
    bare_reader_t r;
    memset(entries, 0, sizeof entries);
    for (size_t i = 0; i < LARGE_KEYS; i++)
        entries[i].key.k4 = (uint32_t)(1000 - i);
    bare_arena_init(&arena, NULL, NULL);

    /* 17 entries need 2 * 17 * 4 = 136 bytes > 64. */
    reader_over(&r, &b, &arena, &lim);
    ck_assert_int_eq(
        bare_reader_check_keys(&r, entries, 17, sizeof entries[0], BARE_KEY_UNSIGNED, 4, 0),
        BARE_E_ALLOC_LIMIT);
    /* 16 entries are checked without scratch space. */
    reader_over(&r, &b, &arena, &lim);
    ck_assert_int_eq(
        bare_reader_check_keys(&r, entries, 16, sizeof entries[0], BARE_KEY_UNSIGNED, 4, 0),
        BARE_OK);
    ck_assert_uint_eq(r.alloc_used, 0);
    /* Without a limit in the way the same 17 entries pass and charge the reader. */
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(
        bare_reader_check_keys(&r, entries, 17, sizeof entries[0], BARE_KEY_UNSIGNED, 4, 0),
        BARE_OK);
    ck_assert_uint_ge(r.alloc_used, 2 * 17 * sizeof(uint32_t));
    /* An earlier error is returned as is. */
    reader_over(&r, &b, &arena, NULL);
    ck_assert_int_eq(bare_reader_fail_at(&r, BARE_E_ENUM, 0), BARE_E_ENUM);
    entries[1].key.k4 = entries[0].key.k4;
    ck_assert_int_eq(
        bare_reader_check_keys(&r, entries, 2, sizeof entries[0], BARE_KEY_UNSIGNED, 4, 0),
        BARE_E_ENUM);
    bare_arena_free(&arena);
    free(b.p);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Error paths                                                                                  */

START_TEST(test_path_compose)
{
    bare_error_t e;
    bare_error_init(&e);
    ck_assert_str_eq(bare_error_path(&e), "");
    ck_assert_int_eq(bare_error_set(&e, BARE_E_UTF8, 42), BARE_E_UTF8);
    ck_assert_int_eq(bare_error_set(&e, BARE_E_BOOL, 7), BARE_E_UTF8); /* first one stays */
    ck_assert_uint_eq(e.offset, 42);
    /* Innermost first, as the error unwinds. */
    ck_assert_int_eq(bare_path_key_str(&e, "X", 1), BARE_E_UTF8);
    ck_assert_int_eq(bare_path_field(&e, "env"), BARE_E_UTF8);
    ck_assert_int_eq(bare_path_field(&e, "ExecuteRequest"), BARE_E_UTF8);
    ck_assert_int_eq(bare_path_field(&e, "payload"), BARE_E_UTF8);
    ck_assert_str_eq(bare_error_path(&e), "payload.ExecuteRequest.env[\"X\"]");

    bare_error_init(&e);
    bare_path_field(&e, "name");
    bare_path_index(&e, 3);
    bare_path_field(&e, "items");
    ck_assert_str_eq(bare_error_path(&e), "items[3].name");

    bare_error_init(&e);
    bare_path_field(&e, "x");
    bare_path_index(&e, 12);
    ck_assert_str_eq(bare_error_path(&e), "[12].x");

    bare_error_init(&e);
    bare_path_key_uint(&e, UINT64_MAX);
    bare_path_key_int(&e, INT64_MIN);
    bare_path_key_int(&e, 5);
    bare_path_index(&e, 0);
    bare_path_field(&e, "m");
    ck_assert_str_eq(bare_error_path(&e), "m[0][5][-9223372036854775808][18446744073709551615]");
}
END_TEST

static const struct {
    const char *key;
    size_t len;
    const char *path;
} key_str_cases[] = {
    {"X", 1, "[\"X\"]"},
    {"", 0, "[\"\"]"},
    {"a\"b", 3, "[\"a\\\"b\"]"},
    {"a\\b", 3, "[\"a\\\\b\"]"},
    {"\n", 1, "[\"\\x0a\"]"},
    {"\x01\x1f\x7f", 3, "[\"\\x01\\x1f\\x7f\"]"},
    {"a\0b", 3, "[\"a\\x00b\"]"},
    {" ~", 2, "[\" ~\"]"},
    {"h\xc3\xa9", 3, "[\"h\xc3\xa9\"]"}, /* UTF-8 passes through */
    /* 40 bytes are kept whole; a longer key is cut after 40 and marked. */
    {"0123456789012345678901234567890123456789", 40,
     "[\"0123456789012345678901234567890123456789\"]"},
    {"0123456789012345678901234567890123456789X", 41,
     "[\"0123456789012345678901234567890123456789...\"]"},
    {"012345678901234567890123456789012345678\"tail", 44,
     "[\"012345678901234567890123456789012345678\\\"...\"]"},
};

START_TEST(test_path_key_str)
{
    bare_error_t e;
    bare_error_init(&e);
    bare_path_key_str(&e, key_str_cases[_i].key, key_str_cases[_i].len);
    ck_assert_str_eq(bare_error_path(&e), key_str_cases[_i].path);
}
END_TEST

START_TEST(test_path_key_str_control)
{
    /* 45 control bytes: 40 escaped as \x01 (160 characters), then the cut marker. */
    char key[45], want[200];
    size_t n = 0;
    memset(key, 1, sizeof key);
    n += (size_t)sprintf(want + n, "[\"");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(want + n, "\\x01");
    sprintf(want + n, "...\"]");
    bare_error_t e;
    bare_error_init(&e);
    bare_path_key_str(&e, key, sizeof key);
    ck_assert_str_eq(bare_error_path(&e), want);
}
END_TEST

/* Asserts the path text fits the buffer and is terminated. */
static void assert_path_fits(const bare_error_t *e)
{
    ck_assert_uint_lt(e->path_start, BARE_PATH_MAX);
    ck_assert_int_eq(e->path[BARE_PATH_MAX - 1], '\0');
    ck_assert_uint_eq(strlen(e->path + e->path_start), BARE_PATH_MAX - 1u - e->path_start);
}

START_TEST(test_path_truncation)
{
    bare_error_t e;
    char name[8], want[BARE_PATH_MAX + 64];

    /* 50 segments of 5 bytes (".s000" ...) fill the 250 bytes the marker leaves. */
    bare_error_init(&e);
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "s%03d", i);
        bare_path_field(&e, name);
    }
    assert_path_fits(&e);
    size_t n = 0;
    for (int i = 49; i >= 0; i--)
        n += (size_t)sprintf(want + n, ".s%03d", i);
    ck_assert_str_eq(bare_error_path(&e), want + 1);

    /* Fifty more: the outermost ones give way to "<...>" and the innermost are kept. */
    for (int i = 50; i < 100; i++) {
        snprintf(name, sizeof name, "s%03d", i);
        bare_path_field(&e, name);
        assert_path_fits(&e);
    }
    bare_path_index(&e, 7);
    bare_path_key_str(&e, "k", 1);
    assert_path_fits(&e);
    memcpy(want, "<...>", 5);
    n = 5;
    for (int i = 49; i >= 0; i--)
        n += (size_t)sprintf(want + n, ".s%03d", i);
    ck_assert_str_eq(bare_error_path(&e), want);
    ck_assert_uint_eq(strlen(bare_error_path(&e)), BARE_PATH_MAX - 1);

    /* A field name longer than the whole buffer. */
    char huge[1000];
    memset(huge, 'n', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    bare_error_init(&e);
    bare_path_field(&e, huge);
    assert_path_fits(&e);
    ck_assert_msg(strncmp(bare_error_path(&e), "<...>", 5) == 0, "path %s", bare_error_path(&e));

    /* Many long escaped keys and indices never overflow. */
    char ctl[64];
    memset(ctl, 0x1b, sizeof ctl);
    bare_error_init(&e);
    for (size_t i = 0; i < 200; i++) {
        bare_path_key_str(&e, ctl, sizeof ctl);
        bare_path_index(&e, SIZE_MAX - i);
        bare_path_field(&e, huge + i);
        assert_path_fits(&e);
    }
    ck_assert_msg(strncmp(bare_error_path(&e), "<...>", 5) == 0, "path %s", bare_error_path(&e));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Arena                                                                                        */

static const size_t arena_sizes[] = {1, 3, 7, 13, 100, 3000, 5000, 1, 9000, 17, 40000, 2};

START_TEST(test_arena_align)
{
    size_t align = (size_t)1 << _i; /* 1 .. 64 */
    test_alloc_t ta;
    bare_arena_t a;
    uint8_t *p[ARRAY_LEN(arena_sizes)];
    test_alloc_init(&ta, -1);
    bare_arena_init(&a, test_alloc_fn, &ta);

    for (int round = 0; round < 2; round++) {
        size_t total = 0;
        for (size_t i = 0; i < ARRAY_LEN(arena_sizes); i++) {
            p[i] = bare_arena_alloc(&a, arena_sizes[i], align);
            ck_assert_ptr_nonnull(p[i]);
            ck_assert_msg((uintptr_t)p[i] % align == 0, "size %zu: %p not %zu-aligned",
                          arena_sizes[i], (void *)p[i], align);
            memset(p[i], (int)i + 1, arena_sizes[i]);
            total += arena_sizes[i];
        }
        ck_assert_uint_eq(a.used, total);
        /* No allocation overlaps another (each still holds its own fill). */
        for (size_t i = 0; i < ARRAY_LEN(arena_sizes); i++)
            for (size_t j = 0; j < arena_sizes[i]; j++)
                ck_assert_uint_eq(p[i][j], i + 1);
        bare_arena_reset(&a);
        ck_assert_uint_eq(a.used, 0);
        ck_assert_uint_eq(ta.live, 1);
    }
    bare_arena_free(&a);
    ck_assert_uint_eq(ta.live, 0);
}
END_TEST

START_TEST(test_arena_reuse)
{
    test_alloc_t ta;
    bare_arena_t a;
    test_alloc_init(&ta, -1);
    bare_arena_init(&a, test_alloc_fn, &ta);

    ck_assert_ptr_null(bare_arena_alloc(&a, 8, 0)); /* align must be a power of two */
    ck_assert_ptr_null(bare_arena_alloc(&a, 8, 3));
    ck_assert_ptr_null(bare_arena_alloc(&a, 8, 48));
    ck_assert_ptr_null(bare_arena_alloc(&a, SIZE_MAX - 8, 8));
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 0, 1));

    /* The kept block serves the same allocations again, without the allocator. */
    bare_arena_reset(&a);
    void *first = bare_arena_alloc(&a, 100, 8);
    ck_assert_ptr_nonnull(first);
    long calls = ta.calls;
    bare_arena_reset(&a);
    ck_assert_ptr_eq(bare_arena_alloc(&a, 100, 8), first);
    ck_assert_int_eq(ta.calls, calls);

    /* Grow to several blocks; reset keeps one (the largest) and serves the big request
     * from it afterwards. */
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 3000, 1));
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 3000, 1));
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 50000, 16));
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 10, 1));
    ck_assert_uint_ge(ta.live, 2);
    bare_arena_reset(&a);
    ck_assert_uint_eq(ta.live, 1);
    calls = ta.calls;
    uint8_t *big = bare_arena_alloc(&a, 50000, 16);
    ck_assert_ptr_nonnull(big);
    memset(big, 0, 50000);
    ck_assert_int_eq(ta.calls, calls);
    bare_arena_free(&a);
    ck_assert_uint_eq(ta.live, 0);
    /* A freed arena starts over. */
    ck_assert_ptr_nonnull(bare_arena_alloc(&a, 10, 1));
    bare_arena_free(&a);
    ck_assert_uint_eq(ta.live, 0);

    /* The C library's allocator (ASan checks the leak and the bounds). */
    bare_arena_init(&a, NULL, NULL);
    for (int i = 0; i < 100; i++)
        memset(bare_arena_alloc(&a, 1000, 8), i, 1000);
    bare_arena_reset(&a);
    memset(bare_arena_alloc(&a, 1000, 8), 0, 1000);
    bare_arena_free(&a);
}
END_TEST

START_TEST(test_arena_strdup)
{
    bare_arena_t a;
    bare_arena_init(&a, NULL, NULL);
    char *s = bare_arena_strdup(&a, BARE_STR_LIT("hello"));
    ck_assert_str_eq(s, "hello");
    char *t = bare_arena_strdup(&a, BARE_STR_LIT("a\0b"));
    ck_assert_mem_eq(t, "a\0b\0", 4);
    char *u = bare_arena_strdup(&a, (bare_str_t){NULL, 0});
    ck_assert_str_eq(u, "");
    ck_assert_ptr_ne(s, t);
    ck_assert_str_eq(s, "hello");
    ck_assert_ptr_null(bare_arena_strdup(&a, (bare_str_t){"x", SIZE_MAX}));
    bare_arena_free(&a);
}
END_TEST

/* The allocator refuses after n calls: every allocation either succeeds or returns NULL,
 * and nothing leaks. */
START_TEST(test_arena_fail_after)
{
    static const size_t sizes[] = {100, 5000, 5000, 20000, 100, 80000, 160000};
    size_t prev_ok = 0;
    for (long n = 0; n < 12; n++) {
        test_alloc_t ta;
        bare_arena_t a;
        size_t ok = 0;
        test_alloc_init(&ta, n);
        bare_arena_init(&a, test_alloc_fn, &ta);
        for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
            uint8_t *p = bare_arena_alloc(&a, sizes[i], 8);
            if (!p)
                break;
            memset(p, 0x11, sizes[i]);
            ok++;
        }
        ck_assert_int_le(ta.calls, n);
        ck_assert_msg(ok == ARRAY_LEN(sizes) || ta.refused > 0, "n=%ld: NULL without refusal", n);
        ck_assert_uint_ge(ok, prev_ok);
        if (n == 0)
            ck_assert_uint_eq(ok, 0);
        prev_ok = ok;
        bare_arena_free(&a);
        ck_assert_uint_eq(ta.live, 0);
    }
    ck_assert_uint_eq(prev_ok, ARRAY_LEN(sizes));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                       */

START_TEST(test_writer_grow)
{
    test_alloc_t ta;
    bare_writer_t w;
    enum { N = 100000 };
    test_alloc_init(&ta, -1);
    bare_writer_init(&w, test_alloc_fn, &ta);
    for (uint32_t i = 0; i < N; i++)
        ck_assert_int_eq(bare_write_u32(&w, i * 2654435761u), BARE_OK);
    ck_assert_uint_eq(w.len, 4u * N);
    ck_assert_uint_ge(w.cap, w.len);
    for (uint32_t i = 0; i < N; i++) {
        const uint8_t *q = w.buf + 4 * i;
        uint32_t v =
            (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        ck_assert_uint_eq(v, i * 2654435761u);
    }
    /* Many reallocations, but geometric: not one per write. */
    ck_assert_int_ge(ta.calls, 5);
    ck_assert_int_le(ta.calls, 40);
    ck_assert_uint_eq(ta.live, 1);

    /* Reset keeps the memory. */
    uint8_t *buf = w.buf;
    size_t cap = w.cap;
    long calls = ta.calls;
    bare_writer_reset(&w);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_int_eq(bare_write_u8(&w, 0x42), BARE_OK);
    ck_assert_ptr_eq(w.buf, buf);
    ck_assert_uint_eq(w.cap, cap);
    ck_assert_int_eq(ta.calls, calls);
    assert_bytes("after reset", w.buf, w.len, "42");

    /* reserve gives room without changing len. */
    uint8_t *room = bare_writer_reserve(&w, 3);
    ck_assert_ptr_eq(room, w.buf + 1);
    ck_assert_uint_eq(w.len, 1);
    bare_writer_free(&w);
    ck_assert_uint_eq(ta.live, 0);

    /* The default allocator, from nothing, with one big write. */
    bare_writer_init(&w, NULL, NULL);
    uint8_t *big = calloc(1, 1 << 20);
    ck_assert_int_eq(bare_write_bytes(&w, big, 1 << 20), BARE_OK);
    ck_assert_int_eq(bare_write_bytes(&w, big, 0), BARE_OK);
    ck_assert_uint_eq(w.len, 1 << 20);
    free(big);
    bare_writer_free(&w);
}
END_TEST

START_TEST(test_writer_fixed)
{
    uint8_t buf[8];
    bare_writer_t w;

    bare_writer_init_fixed(&w, buf, 4);
    ck_assert_int_eq(bare_write_u16(&w, 0x0201), BARE_OK);
    ck_assert_int_eq(bare_write_u16(&w, 0x0403), BARE_OK); /* exactly full */
    assert_bytes("fixed", w.buf, w.len, "01 02 03 04");
    ck_assert_int_eq(bare_write_u8(&w, 5), BARE_E_BUFFER_FULL);
    ck_assert_int_eq(w.status, BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 4);
    ck_assert_int_eq(bare_write_bytes(&w, "", 0), BARE_E_BUFFER_FULL); /* sticky */
    ck_assert_ptr_null(bare_writer_reserve(&w, 0));

    /* A write that does not fit fails whole; a smaller one after it still fails. */
    bare_writer_reset(&w);
    ck_assert_int_eq(w.status, BARE_OK);
    ck_assert_int_eq(bare_write_u8(&w, 9), BARE_OK);
    ck_assert_int_eq(bare_write_u64(&w, 0), BARE_E_BUFFER_FULL);
    ck_assert_int_eq(bare_write_u8(&w, 9), BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 1);
    ck_assert_ptr_eq(w.buf, buf);

    /* Varints and length-prefixed values need only their own size. */
    bare_writer_init_fixed(&w, buf, 1);
    ck_assert_int_eq(bare_write_uint(&w, 127), BARE_OK);
    assert_bytes("uint in 1 byte", w.buf, w.len, "7f");
    bare_writer_init_fixed(&w, buf, 2);
    ck_assert_int_eq(bare_write_int(&w, -150), BARE_OK); /* zig-zag 299 */
    assert_bytes("int in 2 bytes", w.buf, w.len, "ab 02");
    bare_writer_init_fixed(&w, buf, 4);
    ck_assert_int_eq(bare_write_str(&w, BARE_STR_LIT("abc")), BARE_OK);
    assert_bytes("str in 4 bytes", w.buf, w.len, "03 61 62 63");
    bare_writer_init_fixed(&w, buf, 3);
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){(const uint8_t *)"ab", 2}), BARE_OK);
    assert_bytes("data in 3 bytes", w.buf, w.len, "02 61 62");
    bare_writer_init_fixed(&w, buf, 3);
    ck_assert_int_eq(bare_write_str(&w, BARE_STR_LIT("abc")), BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 0);
    bare_writer_init_fixed(&w, buf, 1);
    ck_assert_int_eq(bare_write_uint(&w, 128), BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 0);

    /* A length whose prefix plus bytes overflows size_t fails without touching the bytes. */
    bare_writer_init_fixed(&w, buf, sizeof buf);
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){buf, SIZE_MAX - 3}), BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 0);

    /* Freeing a fixed writer leaves the caller's buffer alone. */
    bare_writer_free(&w);
}
END_TEST

START_TEST(test_writer_null)
{
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_str(&w, (bare_str_t){NULL, 0}), BARE_OK);
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){NULL, 0}), BARE_OK);
    assert_bytes("empty str and data", w.buf, w.len, "00 00");
    ck_assert_int_eq(bare_write_str(&w, (bare_str_t){NULL, 3}), BARE_E_NULL_POINTER);
    ck_assert_uint_eq(w.len, 2);
    ck_assert_int_eq(bare_write_u8(&w, 1), BARE_E_NULL_POINTER); /* sticky */
    bare_writer_reset(&w);
    ck_assert_int_eq(bare_write_data(&w, (bare_bytes_t){NULL, 1}), BARE_E_NULL_POINTER);
    ck_assert_uint_eq(w.len, 0);
    bare_writer_free(&w);

    bare_error_t e;
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_str(&e, (bare_str_t){NULL, 0}), BARE_OK);
    ck_assert_int_eq(bare_check_data(&e, (bare_bytes_t){NULL, 0}), BARE_OK);
    ck_assert_int_eq(bare_check_data(&e, (bare_bytes_t){(const uint8_t *)"\xff", 1}), BARE_OK);
    ck_assert_int_eq(e.status, BARE_OK);
    ck_assert_int_eq(bare_check_str(&e, (bare_str_t){NULL, 2}), BARE_E_NULL_POINTER);
    ck_assert_int_eq(bare_check_str(&e, BARE_STR_LIT("\xff")), BARE_E_NULL_POINTER); /* first */
    bare_error_init(&e);
    ck_assert_int_eq(bare_check_data(&e, (bare_bytes_t){NULL, 2}), BARE_E_NULL_POINTER);
}
END_TEST

START_TEST(test_writer_nomem)
{
    for (long n = 0; n < 4; n++) {
        test_alloc_t ta;
        bare_writer_t w;
        uint8_t chunk[100];
        int rc = BARE_OK;
        size_t i;
        memset(chunk, 0x33, sizeof chunk);
        test_alloc_init(&ta, n);
        bare_writer_init(&w, test_alloc_fn, &ta);
        for (i = 0; i < 100 && rc == BARE_OK; i++)
            rc = bare_write_bytes(&w, chunk, sizeof chunk);
        ck_assert_int_eq(rc, BARE_E_NOMEM);
        ck_assert_uint_le(w.len, w.cap);
        ck_assert_uint_eq(w.len, (i - 1) * sizeof chunk); /* the failed write added nothing */
        ck_assert_int_eq(bare_write_u8(&w, 0), BARE_E_NOMEM);
        bare_writer_free(&w);
        ck_assert_uint_eq(ta.live, 0);
    }
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Framing                                                                                      */

static const struct {
    uint32_t len;
    const char *hex;
} header_cases[] = {
    {0, "00 00 00 00"},          {1, "00 00 00 01"},        {0x01020304, "01 02 03 04"},
    {0x00ff0000, "00 ff 00 00"}, {1u << 24, "01 00 00 00"}, {UINT32_MAX, "ff ff ff ff"},
};

START_TEST(test_frame_header)
{
    uint8_t hdr[4], in[4];
    bare_frame_header_encode(hdr, header_cases[_i].len);
    assert_bytes("header", hdr, 4, header_cases[_i].hex);
    unhex(header_cases[_i].hex, in, sizeof in);
    ck_assert_uint_eq(bare_frame_header_decode(in), header_cases[_i].len);
}
END_TEST

static void make_pipe(int fds[2])
{
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
}

static void write_hex(int fd, const char *hex)
{
    uint8_t buf[512];
    size_t n = unhex(hex, buf, sizeof buf);
    ck_assert_int_eq(bare_fd_write_full(fd, buf, n), BARE_OK);
}

START_TEST(test_frame_pipe)
{
    int fds[2];
    bare_writer_t buf;
    uint32_t len = 0;
    uint8_t raw[16], big[1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    make_pipe(fds);
    bare_writer_init(&buf, NULL, NULL);

    /* The bytes on the wire: big-endian length, then the payload. */
    ck_assert_int_eq(bare_frame_write(fds[1], "abc", 3, 64), BARE_OK);
    ck_assert_int_eq(bare_fd_read_full(fds[0], raw, 7), BARE_OK);
    assert_bytes("frame", raw, 7, "00 00 00 03 61 62 63");

    ck_assert_int_eq(bare_frame_write(fds[1], "hello", 5, 64), BARE_OK);
    ck_assert_int_eq(bare_frame_write(fds[1], NULL, 0, 64), BARE_OK);
    ck_assert_int_eq(bare_frame_write(fds[1], "hi", 2, 64), BARE_OK);
    ck_assert_int_eq(bare_frame_write(fds[1], big, sizeof big, sizeof big), BARE_OK); /* = max */
    ck_assert_int_eq(bare_frame_write(fds[1], big, 5, 4), BARE_E_FRAME_TOO_LARGE);
    ck_assert_int_eq(bare_frame_write(fds[1], big, sizeof big, 0), BARE_E_FRAME_TOO_LARGE);
    ck_assert_int_eq(close(fds[1]), 0);

    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), BARE_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_uint_eq(buf.len, 5);
    ck_assert_mem_eq(buf.buf, "hello", 5);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), BARE_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_uint_eq(buf.len, 0);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), BARE_OK);
    ck_assert_uint_eq(buf.len, 2); /* contents replaced */
    ck_assert_mem_eq(buf.buf, "hi", 2);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, sizeof big, &len), BARE_OK);
    ck_assert_uint_eq(buf.len, sizeof big);
    ck_assert_mem_eq(buf.buf, big, sizeof big);
    /* The refused frames wrote nothing: the stream ends cleanly here. */
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), BARE_E_EOF);
    close(fds[0]);
    bare_writer_free(&buf);
}
END_TEST

/* Bytes in the stream before it is closed, what the next two frame reads return, and the
 * length the first one reports when it got a whole header (-1: it did not). */
static const struct {
    const char *hex;
    int first, second;
    long len;
} eof_cases[] = {
    {"", BARE_E_EOF, BARE_E_EOF, -1},
    {"00", BARE_E_TRUNCATED, BARE_E_EOF, -1},
    {"00 00 00", BARE_E_TRUNCATED, BARE_E_EOF, -1},
    {"00 00 00 05", BARE_E_TRUNCATED, BARE_E_EOF, 5},
    {"00 00 00 05 61 62", BARE_E_TRUNCATED, BARE_E_EOF, 5},
    {"00 00 00 00", BARE_OK, BARE_E_EOF, 0},
    {"00 00 00 01 61", BARE_OK, BARE_E_EOF, 1},
    {"00 00 00 01 61 00 00", BARE_OK, BARE_E_TRUNCATED, 1},
};

START_TEST(test_frame_eof)
{
    int fds[2];
    bare_writer_t buf;
    uint32_t len = 0;
    make_pipe(fds);
    bare_writer_init(&buf, NULL, NULL);
    write_hex(fds[1], eof_cases[_i].hex);
    close(fds[1]);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), eof_cases[_i].first);
    if (eof_cases[_i].len >= 0)
        ck_assert_uint_eq(len, (uint32_t)eof_cases[_i].len);
    if (eof_cases[_i].first == BARE_OK)
        ck_assert_uint_eq(buf.len, len);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 64, &len), eof_cases[_i].second);
    close(fds[0]);
    bare_writer_free(&buf);
}
END_TEST

START_TEST(test_frame_too_large)
{
    int fds[2];
    bare_writer_t buf;
    uint32_t len = 0;
    uint8_t junk[10000];
    make_pipe(fds);
    bare_writer_init(&buf, NULL, NULL);

    write_hex(fds[1], "00 00 00 0a 01 02 03 04 05 06 07 08 09 0a 00 00 00 02 6f 6b");
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 4, &len), BARE_E_FRAME_TOO_LARGE);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(bare_fd_skip(fds[0], len), BARE_OK);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 4, &len), BARE_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_mem_eq(buf.buf, "ok", 2);

    /* Skipping more than one internal buffer's worth, then more than is left. */
    memset(junk, 0xaa, sizeof junk);
    ck_assert_int_eq(bare_fd_write_full(fds[1], junk, sizeof junk), BARE_OK);
    write_hex(fds[1], "00 00 00 01 21 aa aa");
    ck_assert_int_eq(bare_fd_skip(fds[0], sizeof junk), BARE_OK);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 4, &len), BARE_OK);
    ck_assert_mem_eq(buf.buf, "!", 1);
    close(fds[1]);
    ck_assert_int_eq(bare_fd_skip(fds[0], 3), BARE_E_TRUNCATED);
    ck_assert_int_eq(bare_fd_skip(fds[0], 0), BARE_OK);
    close(fds[0]);

    /* A fixed buffer smaller than the frame. */
    uint8_t small[2];
    bare_writer_t fixed;
    make_pipe(fds);
    bare_writer_init_fixed(&fixed, small, sizeof small);
    write_hex(fds[1], "00 00 00 03 61 62 63 00 00 00 02 78 79");
    ck_assert_int_eq(bare_frame_read(fds[0], &fixed, 64, &len), BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(bare_fd_skip(fds[0], len), BARE_OK);
    /* The next frame fits: the buffer's earlier failure does not stick across frames. */
    ck_assert_int_eq(bare_frame_read(fds[0], &fixed, 64, &len), BARE_OK);
    ck_assert_uint_eq(fixed.len, 2);
    ck_assert_mem_eq(small, "xy", 2);
    close(fds[0]);
    close(fds[1]);
    bare_writer_free(&buf);
}
END_TEST

/* Writes each byte as its own SOCK_SEQPACKET record, so every read(2) returns one byte. */
static void drip(int fd, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (write(fd, p + i, 1) != 1)
            _exit(2);
}

START_TEST(test_frame_byte_pieces)
{
    int sv[2];
    uint8_t stream[512];
    size_t n = 0;
    /* "hello", an empty frame, and 300 bytes (0x12c). */
    n += unhex("00 00 00 05 68 65 6c 6c 6f 00 00 00 00 00 00 01 2c", stream, sizeof stream);
    for (size_t i = 0; i < 300; i++)
        stream[n++] = (uint8_t)(255 - i % 256);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        drip(sv[1], stream, n);
        close(sv[1]);
        _exit(0);
    }
    close(sv[1]);

    bare_writer_t buf;
    uint32_t len = 0;
    bare_writer_init(&buf, NULL, NULL);
    ck_assert_int_eq(bare_frame_read(sv[0], &buf, 1024, &len), BARE_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(buf.buf, "hello", 5);
    ck_assert_int_eq(bare_frame_read(sv[0], &buf, 1024, &len), BARE_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(bare_frame_read(sv[0], &buf, 1024, &len), BARE_OK);
    ck_assert_uint_eq(len, 300);
    ck_assert_mem_eq(buf.buf, stream + 17, 300);
    ck_assert_int_eq(bare_frame_read(sv[0], &buf, 1024, &len), BARE_E_EOF);

    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(sv[0]);
    bare_writer_free(&buf);
}
END_TEST

static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A read blocked in the kernel and interrupted by signals (no SA_RESTART) keeps going. */
START_TEST(test_fd_eintr)
{
    int fds[2];
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
    usr1_count = 0;
    make_pipe(fds);
    pid_t parent = getpid();

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < 10; i++) {
            sleep_ms(5);
            kill(parent, SIGUSR1);
        }
        sleep_ms(5);
        static const uint8_t frame[] = {0, 0, 0, 2, 'o', 'k'};
        drip(fds[1], frame, sizeof frame);
        _exit(0);
    }
    close(fds[1]);
    bare_writer_t buf;
    uint32_t len = 0;
    bare_writer_init(&buf, NULL, NULL);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 16, &len), BARE_OK);
    ck_assert_mem_eq(buf.buf, "ok", 2);
    ck_assert_int_eq(bare_frame_read(fds[0], &buf, 16, &len), BARE_E_EOF);
    ck_assert_int_gt(usr1_count, 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    bare_writer_free(&buf);
    sigaction(SIGUSR1, &old, NULL);
}
END_TEST

/*
 * A 1 MiB frame into a pipe whose reader drains it slowly while it interrupts the blocked
 * writer with signals: write(2) returns short counts or EINTR, and the frame must arrive whole.
 */
#define BIG_FRAME ((size_t)1 << 20)

/* Not periodic in any power of two, so a resent or skipped chunk cannot go unnoticed. */
static uint8_t big_frame_byte(size_t i)
{
    return (uint8_t)(((uint32_t)i * 2654435761u) >> 24);
}

static int drain_and_check(int fd, pid_t writer)
{
    uint8_t *got = malloc(BARE_FRAME_HEADER_SIZE + BIG_FRAME);
    size_t n = 0;
    if (!got)
        return 3;
    for (int i = 0; i < 20; i++) {
        sleep_ms(2);
        kill(writer, SIGUSR1);
        ssize_t k = read(fd, got + n, 1000);
        if (k <= 0)
            return 4;
        n += (size_t)k;
    }
    while (n < BARE_FRAME_HEADER_SIZE + BIG_FRAME) {
        ssize_t k = read(fd, got + n, BARE_FRAME_HEADER_SIZE + BIG_FRAME - n);
        if (k <= 0)
            return 5;
        n += (size_t)k;
    }
    /* 2^20 is 00 10 00 00 big-endian. */
    if (got[0] != 0 || got[1] != 0x10 || got[2] != 0 || got[3] != 0)
        return 6;
    for (size_t i = 0; i < BIG_FRAME; i++)
        if (got[BARE_FRAME_HEADER_SIZE + i] != big_frame_byte(i))
            return 7;
    free(got);
    uint8_t extra;
    return read(fd, &extra, 1) == 0 ? 0 : 8; /* and then the end of the stream */
}

START_TEST(test_fd_write_interrupted)
{
    int fds[2];
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
    usr1_count = 0;
    uint8_t *payload = malloc(BIG_FRAME);
    ck_assert_ptr_nonnull(payload);
    for (size_t i = 0; i < BIG_FRAME; i++)
        payload[i] = big_frame_byte(i);
    make_pipe(fds);
    pid_t parent = getpid();

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[1]);
        free(payload);
        _exit(drain_and_check(fds[0], parent));
    }
    close(fds[0]);
    ck_assert_int_eq(bare_frame_write(fds[1], payload, BIG_FRAME, (uint32_t)BIG_FRAME), BARE_OK);
    close(fds[1]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader saw a bad frame (%d)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_int_gt(usr1_count, 0);
    free(payload);
    sigaction(SIGUSR1, &old, NULL);
}
END_TEST

START_TEST(test_fd_errors)
{
    uint8_t b[4] = {0};
    bare_writer_t buf;
    uint32_t len;
    bare_writer_init(&buf, NULL, NULL);
    ck_assert_int_eq(bare_fd_read_full(-1, b, 1), BARE_E_IO);
    ck_assert_int_eq(bare_fd_write_full(-1, b, 1), BARE_E_IO);
    ck_assert_int_eq(bare_fd_skip(-1, 1), BARE_E_IO);
    ck_assert_int_eq(bare_frame_read(-1, &buf, 16, &len), BARE_E_IO);
    ck_assert_int_eq(bare_frame_write(-1, b, 1, 16), BARE_E_IO);
    ck_assert_int_eq(bare_fd_read_full(-1, b, 0), BARE_OK);
    bare_writer_free(&buf);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Status texts, strings, descriptors                                                           */

static const struct {
    int status;
    const char *name, *text;
} status_cases[] = {
    {BARE_E_OK, "OK", "success"},
    {BARE_E_TRUNCATED, "TRUNCATED", "unexpected end of input"},
    {BARE_E_VARINT_NONCANONICAL, "VARINT_NONCANONICAL", "varint is not in its shortest form"},
    {BARE_E_VARINT_OVERFLOW, "VARINT_OVERFLOW",
     "varint is longer than 10 bytes or exceeds 64 bits"},
    {BARE_E_BOOL, "BOOL", "bool byte is neither 0 nor 1"},
    {BARE_E_OPTIONAL, "OPTIONAL", "optional flag byte is neither 0 nor 1"},
    {BARE_E_UTF8, "UTF8", "string is not valid UTF-8"},
    {BARE_E_ENUM, "ENUM", "unknown enum value"},
    {BARE_E_UNION_TAG, "UNION_TAG", "unknown union tag"},
    {BARE_E_DUPLICATE_KEY, "DUPLICATE_KEY", "duplicate map key"},
    {BARE_E_LENGTH, "LENGTH", "length or count exceeds the remaining input"},
    {BARE_E_TRAILING, "TRAILING", "trailing bytes after the value"},
    {BARE_E_DEPTH, "DEPTH", "nesting depth limit exceeded"},
    {BARE_E_ALLOC_LIMIT, "ALLOC_LIMIT", "allocation limit exceeded"},
    {BARE_E_NOMEM, "NOMEM", "out of memory"},
    {BARE_E_BUFFER_FULL, "BUFFER_FULL", "output buffer is full"},
    {BARE_E_NULL_POINTER, "NULL_POINTER", "NULL pointer with a non-zero length"},
    {BARE_E_NO_HANDLER, "NO_HANDLER", "no handler for this union member"},
    {BARE_E_FRAME_TOO_LARGE, "FRAME_TOO_LARGE", "frame length exceeds the maximum"},
    {BARE_E_EOF, "EOF", "end of file"},
    {BARE_E_IO, "IO", "I/O error"},
    {BARE_E_INVALID_ARGUMENT, "INVALID_ARGUMENT", "invalid argument"},
    {BARE_E_YAML_SYNTAX, "YAML_SYNTAX", "YAML syntax error"},
    {BARE_E_YAML_TYPE, "YAML_TYPE", "YAML node of the wrong kind for the schema type"},
    {BARE_E_YAML_VALUE, "YAML_VALUE", "YAML scalar is not a value of the schema type"},
    {BARE_E_YAML_FIELD, "YAML_FIELD", "unknown or missing struct field in YAML"},
};

START_TEST(test_status)
{
    ck_assert_int_eq((int)ARRAY_LEN(status_cases), BARE_STATUS_COUNT);
    ck_assert_int_eq(status_cases[_i].status, _i); /* dense, in list order */
    ck_assert_str_eq(bare_status_name(status_cases[_i].status), status_cases[_i].name);
    ck_assert_str_eq(bare_strerror(status_cases[_i].status), status_cases[_i].text);
}
END_TEST

START_TEST(test_status_unknown)
{
    static const int bad[] = {-1, BARE_STATUS_COUNT, BARE_STATUS_COUNT + 1, 1000, INT32_MIN};
    ck_assert_int_eq(BARE_OK, 0);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_str_eq(bare_status_name(bad[i]), "UNKNOWN");
        ck_assert_str_eq(bare_strerror(bad[i]), "unknown status");
    }
}
END_TEST

START_TEST(test_strings)
{
    bare_str_t s = bare_str_from_cstr("abc");
    ck_assert_uint_eq(s.len, 3);
    ck_assert_uint_eq(bare_str_from_cstr(NULL).len, 0);
    ck_assert(bare_str_eq(s, BARE_STR_LIT("abc")));
    ck_assert(!bare_str_eq(s, BARE_STR_LIT("abd")));
    ck_assert(!bare_str_eq(s, BARE_STR_LIT("ab")));
    ck_assert(bare_str_eq((bare_str_t){NULL, 0}, BARE_STR_LIT("")));
    ck_assert(bare_str_eq_cstr(BARE_STR_LIT("a\0b"), "a") == false);
    ck_assert(bare_str_eq_cstr(BARE_STR_LIT("a"), "a"));
}
END_TEST

static int decode_u8(bare_reader_t *r, void *out)
{
    return bare_read_u8(r, out);
}

static int encode_u8(bare_writer_t *w, const void *v)
{
    return bare_write_u8(w, *(const uint8_t *)v);
}

START_TEST(test_descriptors)
{
    static const char *const names[] = {
        "uint", "int",  "u8",       "u16",  "u32",     "u64", "i8",    "i16",
        "i32",  "i64",  "f32",      "f64",  "bool",    "str", "data",  "data[N]",
        "void", "enum", "optional", "list", "list[N]", "map", "union", "struct"};
    for (size_t k = 0; k < ARRAY_LEN(names); k++)
        ck_assert_str_eq(bare_kind_name((bare_kind_t)k), names[k]);
    ck_assert_str_eq(bare_kind_name((bare_kind_t)ARRAY_LEN(names)), "unknown");

    ck_assert_int_eq(bare_desc_u16.kind, BARE_KIND_U16);
    ck_assert_str_eq(bare_desc_u16.name, "u16");
    ck_assert_uint_eq(bare_desc_u16.c_size, 2);
    ck_assert_uint_eq(bare_desc_str.c_size, sizeof(bare_str_t));
    ck_assert_int_eq(bare_desc_data.kind, BARE_KIND_DATA);

    /* Whole-value decode: trailing bytes rejected, error copied out. */
    bare_type_desc_t byte = {.kind = BARE_KIND_U8,
                             .name = "Byte",
                             .c_size = 1,
                             .encode = encode_u8,
                             .decode = decode_u8};
    bare_type_desc_t opaque = {.kind = BARE_KIND_STRUCT, .name = "Opaque"};
    const bare_type_desc_t *types[] = {&byte, &opaque};
    bare_schema_desc_t schema = {"test.bare", 2, types};
    ck_assert_ptr_eq(bare_schema_find(&schema, "Opaque"), &opaque);
    ck_assert_ptr_null(bare_schema_find(&schema, "Missing"));

    bare_error_t err;
    uint8_t out = 0;
    ck_assert_int_eq(bare_decode(&byte, "\x07", 1, NULL, NULL, &out, &err), BARE_OK);
    ck_assert_uint_eq(out, 7);
    ck_assert_int_eq(err.status, BARE_OK);
    ck_assert_int_eq(bare_decode(&byte, "\x07\x08", 2, NULL, NULL, &out, &err), BARE_E_TRAILING);
    ck_assert_uint_eq(err.offset, 1);
    ck_assert_int_eq(bare_decode(&byte, "", 0, NULL, NULL, &out, NULL), BARE_E_TRUNCATED);
    ck_assert_int_eq(bare_decode(&opaque, "", 0, NULL, NULL, &out, &err), BARE_E_INVALID_ARGUMENT);
    ck_assert_int_eq(err.status, BARE_E_INVALID_ARGUMENT);

    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_encode(&byte, &w, &out), BARE_OK);
    assert_bytes("bare_encode", w.buf, w.len, "07");
    ck_assert_int_eq(bare_encode(&opaque, &w, &out), BARE_E_INVALID_ARGUMENT);
    bare_writer_free(&w);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc;

    tc = tcase_create("varint");
    tcase_add_loop_test(tc, test_uint_encode, 0, (int)ARRAY_LEN(uint_cases));
    tcase_add_loop_test(tc, test_uint_decode, 0, (int)ARRAY_LEN(uint_cases));
    tcase_add_loop_test(tc, test_int_roundtrip, 0, (int)ARRAY_LEN(int_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_add_loop_test(tc, test_utf8_valid, 0, (int)ARRAY_LEN(utf8_cases));
    tcase_add_loop_test(tc, test_utf8_str, 0, (int)ARRAY_LEN(utf8_cases));
    tcase_add_test(tc, test_utf8_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("primitives");
    tcase_add_loop_test(tc, test_prim_roundtrip, 0, (int)ARRAY_LEN(prim_cases));
    tcase_add_test(tc, test_str_data_fixed);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_add_loop_test(tc, test_reject, 0, (int)ARRAY_LEN(reject_cases));
    tcase_add_test(tc, test_trailing);
    tcase_add_test(tc, test_sticky);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_count);
    tcase_add_loop_test(tc, test_depth, 0, (int)ARRAY_LEN(depth_cases));
    tcase_add_test(tc, test_alloc_limit);
    tcase_add_test(tc, test_alloc_nomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("map_keys");
    tcase_add_loop_test(tc, test_map_keys, 0, 4 * (int)ARRAY_LEN(key_cases));
    tcase_add_test(tc, test_map_keys_named);
    tcase_add_test(tc, test_map_keys_scratch);
    suite_add_tcase(s, tc);

    tc = tcase_create("path");
    tcase_add_test(tc, test_path_compose);
    tcase_add_loop_test(tc, test_path_key_str, 0, (int)ARRAY_LEN(key_str_cases));
    tcase_add_test(tc, test_path_key_str_control);
    tcase_add_test(tc, test_path_truncation);
    suite_add_tcase(s, tc);

    tc = tcase_create("arena");
    tcase_add_loop_test(tc, test_arena_align, 0, 7);
    tcase_add_test(tc, test_arena_reuse);
    tcase_add_test(tc, test_arena_strdup);
    tcase_add_test(tc, test_arena_fail_after);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer");
    tcase_add_test(tc, test_writer_grow);
    tcase_add_test(tc, test_writer_fixed);
    tcase_add_test(tc, test_writer_null);
    tcase_add_test(tc, test_writer_nomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("frame");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_frame_header, 0, (int)ARRAY_LEN(header_cases));
    tcase_add_test(tc, test_frame_pipe);
    tcase_add_loop_test(tc, test_frame_eof, 0, (int)ARRAY_LEN(eof_cases));
    tcase_add_test(tc, test_frame_too_large);
    tcase_add_test(tc, test_frame_byte_pieces);
    tcase_add_test(tc, test_fd_eintr);
    tcase_add_test(tc, test_fd_write_interrupted);
    tcase_add_test(tc, test_fd_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_loop_test(tc, test_status, 0, (int)ARRAY_LEN(status_cases));
    tcase_add_test(tc, test_status_unknown);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_descriptors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtime_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
