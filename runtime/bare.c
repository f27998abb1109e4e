/* bare.c - status texts, strings, error paths, descriptor helpers and whole-value entry points. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bare_internal.h"

static const char *const status_text[] = {
#define BARE_XX_TEXT(name, text) text,
    BARE_STATUS_MAP(BARE_XX_TEXT)
#undef BARE_XX_TEXT
};

static const char *const status_names[] = {
#define BARE_XX_NAME(name, text) #name,
    BARE_STATUS_MAP(BARE_XX_NAME)
#undef BARE_XX_NAME
};

const char *bare_strerror(int status)
{
    if (status < 0 || status >= BARE_STATUS_COUNT)
        return "unknown status";
    return status_text[status];
}

const char *bare_status_name(int status)
{
    if (status < 0 || status >= BARE_STATUS_COUNT)
        return "UNKNOWN";
    return status_names[status];
}

bare_str_t bare_str_from_cstr(const char *s)
{
    bare_str_t r = {s, s ? strlen(s) : 0};
    return r;
}

bool bare_str_eq(bare_str_t a, bare_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool bare_str_eq_cstr(bare_str_t a, const char *s)
{
    return bare_str_eq(a, bare_str_from_cstr(s));
}

/* ---- errors and paths ---- */

void bare_error_init(bare_error_t *e)
{
    e->status = BARE_OK;
    e->offset = 0;
    e->path_start = BARE_PATH_MAX - 1;
    e->path[BARE_PATH_MAX - 1] = '\0';
    e->line = e->column = 0;
    e->detail[0] = '\0';
}

int bare_error_set(bare_error_t *e, int status, size_t offset)
{
    if (e->status == BARE_OK) {
        e->status = status;
        e->offset = offset;
    }
    return e->status;
}

const char *bare_error_path(const bare_error_t *e)
{
    const char *p = e->path + e->path_start;
    return *p == '.' ? p + 1 : p;
}

const char *bare_error_message(const bare_error_t *e)
{
    return e->detail[0] ? e->detail : bare_strerror(e->status);
}

/*
 * Prepends n bytes of s. The first TRUNC_LEN bytes of the buffer are kept free for the marker
 * that replaces the outermost segments when a path does not fit.
 */
#define TRUNC_MARK "<...>"
#define TRUNC_LEN (sizeof TRUNC_MARK - 1)

static int path_prepend(bare_error_t *e, const char *s, size_t n)
{
    char *at = e->path + e->path_start;
    if (BARE_PATH_MAX - 1u - e->path_start >= TRUNC_LEN && memcmp(at, TRUNC_MARK, TRUNC_LEN) == 0)
        return e->status; /* already truncated */
    if (n + TRUNC_LEN > e->path_start) {
        e->path_start = (uint16_t)(e->path_start - TRUNC_LEN);
        memcpy(e->path + e->path_start, TRUNC_MARK, TRUNC_LEN);
        return e->status;
    }
    e->path_start = (uint16_t)(e->path_start - n);
    memcpy(e->path + e->path_start, s, n);
    return e->status;
}

int bare_path_field(bare_error_t *e, const char *name)
{
    char buf[BARE_PATH_MAX];
    size_t n = strlen(name);
    if (n > BARE_PATH_MAX - 2)
        n = BARE_PATH_MAX - 2;
    buf[0] = '.';
    memcpy(buf + 1, name, n);
    return path_prepend(e, buf, n + 1);
}

int bare_path_index(bare_error_t *e, size_t index)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%zu]", index);
    return path_prepend(e, buf, (size_t)n);
}

int bare_path_key_uint(bare_error_t *e, uint64_t key)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%" PRIu64 "]", key);
    return path_prepend(e, buf, (size_t)n);
}

int bare_path_key_int(bare_error_t *e, int64_t key)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%" PRId64 "]", key);
    return path_prepend(e, buf, (size_t)n);
}

/* ["key"], with quotes, backslashes and control bytes escaped, cut at 40 bytes. */
int bare_path_key_str(bare_error_t *e, const char *ptr, size_t len)
{
    char buf[256];
    size_t n = 0;
    buf[n++] = '[';
    buf[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ptr[i];
        if (i == 40) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n++] = ']';
    return path_prepend(e, buf, n);
}

/* ---- sorting (for duplicate-key checks; qsort has no context argument in C11) ---- */

void bare_sort_indices(uint32_t *idx, uint32_t *tmp, size_t n,
                       int (*cmp)(const void *ctx, uint32_t a, uint32_t b), const void *ctx)
{
    /* Bottom-up merge sort: O(n log n) whatever the input, so hostile keys cannot slow it. */
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp(ctx, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

/* ---- descriptors ---- */

static const char *const kind_names[] = {
    "uint", "int", "u8",   "u16",  "u32",      "u64",  "i8",       "i16",
    "i32",  "i64", "f32",  "f64",  "bool",     "str",  "data",     "data[N]",
    "void", "enum", "optional", "list", "list[N]", "map", "union", "struct",
};

const char *bare_kind_name(bare_kind_t kind)
{
    if ((size_t)kind >= sizeof kind_names / sizeof kind_names[0])
        return "unknown";
    return kind_names[kind];
}

const bare_type_desc_t *bare_schema_find(const bare_schema_desc_t *s, const char *name)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->types[i]->name, name) == 0)
            return s->types[i];
    return NULL;
}

int bare_decode(const bare_type_desc_t *type, const void *buf, size_t len, bare_arena_t *arena,
                const bare_limits_t *limits, void *out, bare_error_t *err)
{
    bare_reader_t r;
    int rc;

    if (!type->decode) {
        if (err) {
            bare_error_init(err);
            bare_error_set(err, BARE_E_INVALID_ARGUMENT, 0);
        }
        return BARE_E_INVALID_ARGUMENT;
    }
    bare_reader_init(&r, buf, len, arena, limits);
    rc = type->decode(&r, out);
    if (rc == BARE_OK)
        rc = bare_reader_finish(&r);
    if (err)
        *err = r.err;
    return rc;
}

int bare_encode(const bare_type_desc_t *type, bare_writer_t *w, const void *value)
{
    if (!type->encode)
        return BARE_E_INVALID_ARGUMENT;
    return type->encode(w, value);
}
