/* content.c - file content on the wire: UTF-8 text when valid, otherwise standard base64. */
#include <string.h>

#include "fs.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sc_content_encode(const uint8_t *p, size_t n, bare_arena_t *arena, bare_str_t *content,
                       sx_root_filesystem_entry_encoding_t *encoding)
{
    if (bare_utf8_valid(p, n)) {
        *content = (bare_str_t){(const char *)p, n};
        *encoding = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_UTF8;
        return;
    }
    size_t out_len = (n + 2) / 3 * 4;
    char *out = bare_arena_alloc(arena, out_len + 1, 1);
    if (!out) {
        *content = (bare_str_t){"", 0};
        *encoding = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[k++] = b64[v >> 18 & 63];
        out[k++] = b64[v >> 12 & 63];
        out[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? b64[v & 63] : '=';
    }
    *content = (bare_str_t){out, k};
    *encoding = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
}

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64, (char)c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int sc_content_decode(bare_str_t content, bool base64, bare_arena_t *arena, const uint8_t **p,
                      size_t *n)
{
    if (!base64) {
        *p = (const uint8_t *)content.ptr;
        *n = content.len;
        return 0;
    }
    /* Standard alphabet with padding; a length that is not a multiple of 4 is invalid. */
    if (content.len % 4)
        return -1;
    uint8_t *out = bare_arena_alloc(arena, content.len / 4 * 3 + 1, 1);
    if (!out)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < content.len; i += 4) {
        int v[4];
        int pad = 0;
        for (size_t j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)content.ptr[i + j];
            if (c == '=' && i + 4 == content.len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -1; /* data after padding */
            v[j] = b64_value(c);
            if (v[j] < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        out[k++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[k++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[k++] = (uint8_t)w;
    }
    *p = out;
    *n = k;
    return 0;
}
