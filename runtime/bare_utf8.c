/* bare_utf8.c - strict UTF-8 validation (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
#include <string.h>

#include "bare.h"

bool bare_utf8_valid(const void *buf, size_t len)
{
    if (len == 0)
        return true; /* buf may be NULL, and NULL + 0 is undefined in C */
    const uint8_t *p = buf;
    const uint8_t *end = p + len;

    while (p < end) {
        /* ASCII runs are the common case: check eight bytes at a time. */
        while ((size_t)(end - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof w);
            if (w & UINT64_C(0x8080808080808080))
                break;
            p += 8;
        }
        if (p == end)
            break;
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
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
    return true;
}
