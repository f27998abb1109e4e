/*
 * jbjson.c - js_bridge calls as JSON (jbjson.h). The host is trusted to answer, not to answer
 * well: every result is read strictly (types, ranges, sizes), and a failure says which field
 * held what, so a host author can see the mistake in the sidecar's log.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "bare.h"
#include "jbjson.h"

static const char *const op_names[SC_JB_OP_COUNT] = {
    [SC_JB_READ_FILE] = "readFile",
    [SC_JB_READ_DIR] = "readDir",
    [SC_JB_READ_DIR_TYPES] = "readDirWithTypes",
    [SC_JB_WRITE_FILE] = "writeFile",
    [SC_JB_CREATE_DIR] = "createDir",
    [SC_JB_MKDIR] = "mkdir",
    [SC_JB_EXISTS] = "exists",
    [SC_JB_STAT] = "stat",
    [SC_JB_LSTAT] = "lstat",
    [SC_JB_REMOVE_FILE] = "removeFile",
    [SC_JB_REMOVE_DIR] = "removeDir",
    [SC_JB_RENAME] = "rename",
    [SC_JB_REALPATH] = "realpath",
    [SC_JB_SYMLINK] = "symlink",
    [SC_JB_READLINK] = "readlink",
    [SC_JB_LINK] = "link",
    [SC_JB_CHMOD] = "chmod",
    [SC_JB_CHOWN] = "chown",
    [SC_JB_UTIMES] = "utimes",
    [SC_JB_TRUNCATE] = "truncate",
    [SC_JB_PREAD] = "pread",
    [SC_JB_PWRITE] = "pwrite",
};

const char *sc_jb_op_name(sc_jb_op_t op)
{
    return (unsigned)op < SC_JB_OP_COUNT ? op_names[op] : "?";
}

bool sc_jb_op_mutates(sc_jb_op_t op)
{
    switch (op) {
    case SC_JB_WRITE_FILE:
    case SC_JB_CREATE_DIR:
    case SC_JB_MKDIR:
    case SC_JB_REMOVE_FILE:
    case SC_JB_REMOVE_DIR:
    case SC_JB_RENAME:
    case SC_JB_SYMLINK:
    case SC_JB_LINK:
    case SC_JB_CHMOD:
    case SC_JB_CHOWN:
    case SC_JB_UTIMES:
    case SC_JB_TRUNCATE:
    case SC_JB_PWRITE:
        return true;
    default:
        return false;
    }
}

/* ---- args ---- */

static int set_str(json_t *o, const char *key, const char *s)
{
    if (!s || !bare_utf8_valid(s, strlen(s))) {
        errno = EILSEQ;
        return -1;
    }
    if (json_object_set_new(o, key, json_string(s)) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static int set_uint(json_t *o, const char *key, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (json_object_set_new(o, key, json_integer((json_int_t)v)) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static int set_content(json_t *o, const uint8_t *p, size_t n)
{
    char *b = malloc((n + 2) / 3 * 4 + 1);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    size_t k = sc_base64_encode(p, n, b);
    int rc = json_object_set_new(o, "content", json_stringn(b, k));
    free(b);
    if (rc != 0)
        errno = ENOMEM;
    return rc ? -1 : 0;
}

char *sc_jb_args_json(sc_jb_op_t op, const sc_jb_args_t *a)
{
    json_t *o = json_object();
    int rc = o ? 0 : -1;
    if (!o)
        errno = ENOMEM;
    switch (op) {
    case SC_JB_RENAME:
    case SC_JB_LINK:
        rc = rc ? rc : set_str(o, "oldPath", a->path);
        rc = rc ? rc : set_str(o, "newPath", a->path2);
        break;
    case SC_JB_SYMLINK:
        rc = rc ? rc : set_str(o, "target", a->target);
        rc = rc ? rc : set_str(o, "linkPath", a->path);
        break;
    default:
        rc = rc ? rc : set_str(o, "path", a->path);
        break;
    }
    switch (op) {
    case SC_JB_WRITE_FILE:
        rc = rc ? rc : set_content(o, a->data, a->len);
        break;
    case SC_JB_MKDIR:
        if (!rc && json_object_set_new(o, "recursive", json_boolean(a->recursive)) != 0) {
            errno = ENOMEM;
            rc = -1;
        }
        break;
    case SC_JB_CHMOD:
        rc = rc ? rc : set_uint(o, "mode", a->mode);
        break;
    case SC_JB_CHOWN:
        rc = rc ? rc : set_uint(o, "uid", a->uid);
        rc = rc ? rc : set_uint(o, "gid", a->gid);
        break;
    case SC_JB_UTIMES:
        rc = rc ? rc : set_uint(o, "atimeMs", a->atime_ms);
        rc = rc ? rc : set_uint(o, "mtimeMs", a->mtime_ms);
        break;
    case SC_JB_TRUNCATE:
        rc = rc ? rc : set_uint(o, "length", a->length);
        break;
    case SC_JB_PREAD:
        rc = rc ? rc : set_uint(o, "offset", a->offset);
        rc = rc ? rc : set_uint(o, "length", a->length);
        break;
    case SC_JB_PWRITE:
        rc = rc ? rc : set_uint(o, "offset", a->offset);
        rc = rc ? rc : set_content(o, a->data, a->len);
        break;
    default:
        break;
    }
    char *text = NULL;
    if (rc == 0) {
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
            errno = ENOMEM;
    }
    json_decref(o);
    return text;
}

/* ---- errors ---- */

static bool has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return true;
    return false;
}

int sc_jb_error_errno(const char *s, size_t n)
{
    if (has(s, n, "enoent") || has(s, n, "not found") || has(s, n, "no such file"))
        return ENOENT;
    if (has(s, n, "eacces") || has(s, n, "eperm") || has(s, n, "permission denied"))
        return EACCES;
    if (has(s, n, "eexist") || has(s, n, "already exists"))
        return EEXIST;
    return EIO;
}

/* ---- results ---- */

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t whylen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    errno = EIO;
    return -1;
}

/* A JSON value's kind, for messages. */
static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

json_t *sc_jb_parse_result(const char *text, size_t len, char *why, size_t whylen)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v)
        fail(why, whylen, "the result is not JSON: %s at offset %d", e.text, e.position);
    return v;
}

int sc_jb_read_bytes(const json_t *v, uint64_t max, uint8_t **out, size_t *n, char *why,
                     size_t whylen)
{
    *out = NULL;
    *n = 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        size_t pad = len >= 2 && s[len - 2] == '=' ? 2 : len >= 1 && s[len - 1] == '=' ? 1 : 0;
        /* checked before anything is decoded: a huge reply costs nothing more */
        uint64_t est = len / 4 * 3 >= pad ? len / 4 * 3 - pad : 0;
        if (est > max)
            return fail(why, whylen, "the result holds %llu bytes, more than the %llu asked for",
                        (unsigned long long)est, (unsigned long long)max);
        uint8_t *b = malloc(len / 4 * 3 + 1);
        size_t got = 0, at = 0;
        if (!b) {
            errno = ENOMEM;
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        sc_base64_status_t st = sc_base64_decode(s, len, b, &got, &at);
        if (st != SC_BASE64_OK) {
            free(b);
            return fail(why, whylen, "the result is a string but not base64 (at offset %zu)", at);
        }
        *out = b;
        *n = got;
        return 0;
    }
    if (!json_is_array(v))
        return fail(why, whylen, "the result is %s, not a base64 string or an array of bytes",
                    kind(v));
    size_t count = json_array_size(v);
    if (count > max)
        return fail(why, whylen, "the result holds %zu bytes, more than the %llu asked for", count,
                    (unsigned long long)max);
    uint8_t *b = malloc(count + 1);
    if (!b) {
        errno = ENOMEM;
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 255) {
            free(b);
            return fail(why, whylen, "result[%zu] is %s, not a byte (an integer 0 to 255)", i,
                        json_is_integer(e) ? "out of range" : kind(e));
        }
        b[i] = (uint8_t)json_integer_value(e);
    }
    *out = b;
    *n = count;
    return 0;
}

/* A stat field by its camelCase or snake_case name (not both: which one would count?). */
static int field(const json_t *o, const char *camel, const char *snake, bool required,
                 const json_t **out, char *why, size_t whylen)
{
    const json_t *a = json_object_get(o, camel), *b = snake ? json_object_get(o, snake) : NULL;
    if (a && b)
        return fail(why, whylen, "the stat result has both %s and %s", camel, snake);
    *out = a ? a : b;
    if (!*out && required)
        return fail(why, whylen, "the stat result lacks %s", camel);
    return 0;
}

static int stat_uint(const json_t *o, const char *camel, const char *snake, uint64_t max,
                     uint64_t *out, char *why, size_t whylen)
{
    const json_t *v;
    if (field(o, camel, snake, true, &v, why, whylen) != 0)
        return -1;
    if (!json_is_integer(v))
        return fail(why, whylen, "the stat result's %s is %s, not an integer", camel, kind(v));
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return fail(why, whylen, "the stat result's %s is %lld, outside 0 to %llu", camel,
                    (long long)i, (unsigned long long)max);
    *out = (uint64_t)i;
    return 0;
}

static int stat_bool(const json_t *o, const char *camel, const char *snake, bool *out, char *why,
                     size_t whylen)
{
    const json_t *v;
    if (field(o, camel, snake, true, &v, why, whylen) != 0)
        return -1;
    if (!json_is_boolean(v))
        return fail(why, whylen, "the stat result's %s is %s, not a boolean", camel, kind(v));
    *out = json_is_true(v);
    return 0;
}

/* A time: epoch milliseconds (Node's Stats carry fractions), and *Nsec when given. */
static int stat_time(const json_t *o, const char *camel, const char *snake, const char *ncamel,
                     const char *nsnake, uint64_t *ms, uint32_t *ns, char *why, size_t whylen)
{
    const json_t *v;
    if (field(o, camel, snake, true, &v, why, whylen) != 0)
        return -1;
    uint64_t frac_ns = 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *ms = (uint64_t)json_integer_value(v);
    } else if (json_is_real(v) && isfinite(json_real_value(v)) && json_real_value(v) >= 0 &&
               json_real_value(v) < 9.0e15) {
        /* non-negative and below 2^53: the conversion truncates exactly as floor() would */
        double d = json_real_value(v);
        *ms = (uint64_t)d;
        frac_ns = (uint64_t)((d - (double)*ms) * 1e6);
    } else {
        return fail(why, whylen, "the stat result's %s is %s, not a time in milliseconds", camel,
                    json_is_number(v) ? "negative or too large" : kind(v));
    }
    *ns = (uint32_t)(*ms % 1000 * 1000000 + frac_ns);
    const json_t *n;
    if (field(o, ncamel, nsnake, false, &n, why, whylen) != 0)
        return -1;
    if (n) {
        if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > 999999999)
            return fail(why, whylen, "the stat result's %s is not an integer 0 to 999999999",
                        ncamel);
        *ns = (uint32_t)json_integer_value(n);
    }
    return 0;
}

int sc_jb_read_stat(const json_t *v, sc_jb_stat_t *st, char *why, size_t whylen)
{
    memset(st, 0, sizeof *st);
    if (!json_is_object(v))
        return fail(why, whylen, "the result is %s, not a stat object", kind(v));
    uint64_t mode, uid, gid;
    if (stat_uint(v, "mode", NULL, UINT32_MAX, &mode, why, whylen) != 0 ||
        stat_uint(v, "size", NULL, INT64_MAX, &st->size, why, whylen) != 0 ||
        stat_uint(v, "blocks", NULL, INT64_MAX, &st->blocks, why, whylen) != 0 ||
        stat_uint(v, "dev", NULL, UINT64_MAX, &st->dev, why, whylen) != 0 ||
        stat_uint(v, "rdev", NULL, UINT64_MAX, &st->rdev, why, whylen) != 0 ||
        stat_bool(v, "isDirectory", "is_directory", &st->is_dir, why, whylen) != 0 ||
        stat_bool(v, "isSymbolicLink", "is_symbolic_link", &st->is_symlink, why, whylen) != 0 ||
        stat_time(v, "atimeMs", "atime_ms", "atimeNsec", "atime_nsec", &st->atime_ms, &st->atime_ns,
                  why, whylen) != 0 ||
        stat_time(v, "mtimeMs", "mtime_ms", "mtimeNsec", "mtime_nsec", &st->mtime_ms, &st->mtime_ns,
                  why, whylen) != 0 ||
        stat_time(v, "ctimeMs", "ctime_ms", "ctimeNsec", "ctime_nsec", &st->ctime_ms, &st->ctime_ns,
                  why, whylen) != 0)
        return -1;
    uint32_t bns;
    if (stat_time(v, "birthtimeMs", "birthtime_ms", "birthtimeNsec", "birthtime_nsec",
                  &st->birthtime_ms, &bns, why, whylen) != 0 ||
        stat_uint(v, "ino", NULL, UINT64_MAX, &st->ino, why, whylen) != 0 ||
        stat_uint(v, "nlink", NULL, UINT64_MAX, &st->nlink, why, whylen) != 0 ||
        stat_uint(v, "uid", NULL, UINT32_MAX, &uid, why, whylen) != 0 ||
        stat_uint(v, "gid", NULL, UINT32_MAX, &gid, why, whylen) != 0)
        return -1;
    if (st->is_dir && st->is_symlink)
        return fail(why, whylen, "the stat result is both a directory and a symbolic link");
    st->mode = (uint32_t)mode;
    st->uid = (uint32_t)uid;
    st->gid = (uint32_t)gid;
    return 0;
}

/* A name a directory can hold: not empty, no '/' or NUL, UTF-8 (JSON strings are). */
static bool good_name(const char *s, size_t n)
{
    return n > 0 && n <= 255 && !memchr(s, '/', n) && !memchr(s, '\0', n);
}

static int dir_bool(const json_t *o, size_t i, const char *camel, const char *snake, bool *out,
                    char *why, size_t whylen)
{
    const json_t *a = json_object_get(o, camel), *b = json_object_get(o, snake);
    const json_t *v = a ? a : b;
    if (a && b)
        return fail(why, whylen, "result[%zu] has both %s and %s", i, camel, snake);
    if (!json_is_boolean(v))
        return fail(why, whylen, "result[%zu].%s is %s, not a boolean", i, camel,
                    v ? kind(v) : "missing");
    *out = json_is_true(v);
    return 0;
}

int sc_jb_read_dir(const json_t *v, bool typed, uint64_t max, sc_jb_dirent_t **out, size_t *n,
                   char *why, size_t whylen)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(v))
        return fail(why, whylen, "the result is %s, not an array", kind(v));
    size_t count = json_array_size(v);
    sc_jb_dirent_t *d = calloc(count ? count : 1, sizeof *d);
    if (!d) {
        errno = ENOMEM;
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(v, i), *name = e;
        if (typed) {
            if (!json_is_object(e)) {
                free(d);
                return fail(why, whylen,
                            "result[%zu] is %s, not {name, isDirectory, "
                            "isSymbolicLink}",
                            i, kind(e));
            }
            name = json_object_get(e, "name");
        }
        if (!json_is_string(name)) {
            free(d);
            return fail(why, whylen, "result[%zu]%s is %s, not a string", i, typed ? ".name" : "",
                        name ? kind(name) : "missing");
        }
        const char *s = json_string_value(name);
        size_t len = json_string_length(name);
        if (!good_name(s, len)) {
            free(d);
            return fail(why, whylen,
                        "result[%zu]%s is not a file name (empty, over 255 bytes, "
                        "or with '/' or NUL)",
                        i, typed ? ".name" : "");
        }
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            continue;
        if (typed &&
            (dir_bool(e, i, "isDirectory", "is_directory", &d[k].is_dir, why, whylen) != 0 ||
             dir_bool(e, i, "isSymbolicLink", "is_symbolic_link", &d[k].is_symlink, why, whylen) !=
                 0)) {
            free(d);
            return -1;
        }
        if (k >= max) {
            free(d);
            snprintf(why, whylen, "the listing has more than %llu entries",
                     (unsigned long long)max);
            errno = ENOMEM;
            return -1;
        }
        d[k].name = s;
        d[k].len = len;
        k++;
    }
    *out = d;
    *n = k;
    return 0;
}

int sc_jb_read_string(const json_t *v, bool absolute, const char **s, size_t *len, char *why,
                      size_t whylen)
{
    if (!json_is_string(v))
        return fail(why, whylen, "the result is %s, not a string", kind(v));
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (*len == 0 || memchr(*s, '\0', *len))
        return fail(why, whylen, "the result is an empty string or holds NUL");
    if (absolute && (*s)[0] != '/')
        return fail(why, whylen, "the result is not an absolute path");
    return 0;
}

int sc_jb_read_bool(const json_t *v, bool *b, char *why, size_t whylen)
{
    if (!json_is_boolean(v))
        return fail(why, whylen, "the result is %s, not a boolean", kind(v));
    *b = json_is_true(v);
    return 0;
}
