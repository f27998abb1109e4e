/* base64.c - standard padded base64, strict on input (base64.h). */
#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sc_base64_encode(const uint8_t *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[k++] = alphabet[v >> 18 & 63];
        out[k++] = alphabet[v >> 12 & 63];
        out[k++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    return k;
}

static int value_of(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

sc_base64_status_t sc_base64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen,
                                    size_t *at)
{
    size_t o = 0;
    *at = 0;
    if (n % 4 != 0)
        return SC_BASE64_LENGTH;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            *at = i + k;
            if (s[i + k] == '=') {
                if (i + 4 != n || k < 2)
                    return SC_BASE64_PAD;
                pad++;
                v[k] = 0;
                continue;
            }
            if (pad)
                return SC_BASE64_PAD;
            if ((v[k] = value_of((unsigned char)s[i + k])) < 0)
                return SC_BASE64_CHAR;
        }
        if ((pad == 2 && (v[1] & 0x0f)) || (pad == 1 && (v[2] & 0x03))) {
            *at = i + 3 - pad;
            return SC_BASE64_TRAILING;
        }
        uint32_t b =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(b >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(b >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)b;
    }
    *outlen = o;
    return SC_BASE64_OK;
}
