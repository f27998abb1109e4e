/* bare_utf8.c - strict UTF-8 validation (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
#include <string.h>

#include "bare.h"

/* The index of the first byte of a word (loaded little-endian) with its high bit set. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_HIGH_BYTE(w) ((size_t)__builtin_ctzll(w) / 8)
#else
#define FIRST_HIGH_BYTE(w) ((size_t)0)
#endif

bool bare_utf8_valid(const void *buf, size_t len)
{
    if (len == 0)
        return true; /* buf may be NULL, and NULL + 0 is undefined in C */
    const uint8_t *p = buf;
    const uint8_t *end = p + len;
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t a, b;

    /* ASCII is the common case: a short string is settled by two overlapping loads. */
    if (len >= 8 && len <= 16) {
        memcpy(&a, p, sizeof a);
        memcpy(&b, end - 8, sizeof b);
        if (!((a | b) & high))
            return true;
    } else if (len >= 4 && len < 8) {
        uint32_t x, y;
        memcpy(&x, p, sizeof x);
        memcpy(&y, end - 4, sizeof y);
        if (!((x | y) & 0x80808080u))
            return true;
    }
    for (;;) {
        /* ASCII two words, then a word, at a time, up to the first byte that is not ASCII. */
        while ((size_t)(end - p) >= 16) {
            memcpy(&a, p, sizeof a);
            memcpy(&b, p + 8, sizeof b);
            if ((a | b) & high)
                break;
            p += 16;
        }
        while ((size_t)(end - p) >= 8) {
            memcpy(&a, p, sizeof a);
            a &= high;
            if (a) {
                p += FIRST_HIGH_BYTE(a);
                goto character;
            }
            p += 8;
        }
        /* Under eight bytes left: the string's last eight (some already checked) settle an
           ASCII tail in one look; else byte by byte. */
        if (len >= 8) {
            memcpy(&a, end - 8, sizeof a);
            if (!(a & high))
                return true;
        }
        while (p < end && *p < 0x80)
            p++;
        if (p == end)
            return true;
    character:;
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        /* Two-byte characters (Latin, Greek, Cyrillic...) are the common ones. */
        if (c >= 0xC2 && c <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
            p += 2;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* beyond U+10FFFF */
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if ((size_t)(end - p) < n)
            return false;
        if (p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
}
