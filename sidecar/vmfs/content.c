/* content.c - file content on the wire: UTF-8 text when valid, otherwise standard base64. */

#include "base64.h"
#include "fs.h"

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
    size_t k = sc_base64_encode(p, n, out);
    *content = (bare_str_t){out, k};
    *encoding = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
}

int sc_content_decode(bare_str_t content, bool base64, bare_arena_t *arena, const uint8_t **p,
                      size_t *n)
{
    if (!base64) {
        *p = (const uint8_t *)content.ptr;
        *n = content.len;
        return 0;
    }
    uint8_t *out = bare_arena_alloc(arena, content.len / 4 * 3 + 1, 1);
    size_t k, at;
    if (!out || sc_base64_decode(content.ptr, content.len, out, &k, &at) != SC_BASE64_OK)
        return -1;
    *p = out;
    *n = k;
    return 0;
}
