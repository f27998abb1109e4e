/*
 * fuzz_jbjson.c - any bytes as a host's js_bridge reply, through the readers of
 * sidecar/host/jbjson.c. The first byte picks the reader (its low 3 bits) and a bound (the other
 * 5: 0 to 30, 31 for none): the rest is the result text for sc_jb_parse_result() and then
 * sc_jb_read_bytes() (readFile, pread: at most the bound), sc_jb_read_stat(), sc_jb_read_dir()
 * (readDir, readDirWithTypes: at most the bound), sc_jb_read_string() (readlink, realpath) or
 * sc_jb_read_bool() (exists); or the error text of sc_jb_error_errno(). No crash, no leak. Every
 * refusal carries a message and errno EIO (ENOMEM only for a listing over its bound); a reader
 * that refuses leaves no output. What a reader accepts keeps its promise: content never longer
 * than the bound, and exactly what the base64 or the byte array says; a stat whose every field
 * is the JSON's, times included, nanoseconds within the second; a listing of valid names, in
 * order, "." and ".." left out, at most the bound, pointing into the value; a non-empty
 * string without NUL (absolute for realpath). The errno of an error text is the one of the
 * documented substrings it holds.
 */
#include <errno.h>

#include "base64.h"
#include "fuzz.h"
#include "jbjson.h"

enum {
    PICK_BYTES,
    PICK_STAT,
    PICK_DIR,
    PICK_DIR_TYPES,
    PICK_READLINK,
    PICK_REALPATH,
    PICK_BOOL,
    PICK_ERROR
};

static void check_refusal(int rc, const char *why, const char *what)
{
    FUZZ_CHECK(rc == -1, "%s returned %d", what, rc);
    FUZZ_CHECK(why[0] != '\0', "%s refused without a message", what);
    FUZZ_CHECK(memchr(why, '\0', 256) != NULL, "%s: the message is not terminated", what);
}

static void check_bytes(const json_t *v, uint64_t max)
{
    char why[256] = "";
    uint8_t *p = (uint8_t *)"junk";
    size_t n = 12345;
    errno = 0;
    int rc = sc_jb_read_bytes(v, max, &p, &n, why, sizeof why);
    if (rc != 0) {
        check_refusal(rc, why, "sc_jb_read_bytes");
        FUZZ_CHECK(errno == EIO, "sc_jb_read_bytes refused with errno %d, not EIO", errno);
        FUZZ_CHECK(p == NULL && n == 0, "a refused content is left in the output");
        return;
    }
    FUZZ_CHECK(rc == 0 && p != NULL, "accepted content is NULL");
    FUZZ_CHECK(n <= max, "accepted content of %zu bytes, over the bound of %llu", n,
               (unsigned long long)max);
    if (json_is_string(v)) {
        /* the decoder is strict: the bytes encode back to exactly the string */
        size_t len = json_string_length(v);
        char *b = fuzz_junk((n + 2) / 3 * 4 + 1);
        size_t k = sc_base64_encode(p, n, b);
        FUZZ_CHECK(k == len && memcmp(b, json_string_value(v), len) == 0,
                   "the %zu bytes read from a %zu-character base64 string encode to another one", n,
                   len);
        free(b);
    } else {
        FUZZ_CHECK(json_is_array(v) && json_array_size(v) == n,
                   "%zu bytes read from an array of %zu", n, json_array_size(v));
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(json_integer_value(json_array_get(v, i)) == p[i],
                       "byte %zu is %u, the array says %lld", i, p[i],
                       (long long)json_integer_value(json_array_get(v, i)));
    }
    free(p);
}

/* The JSON of a stat field, by either of its names. */
static const json_t *stat_field(const json_t *o, const char *camel, const char *snake)
{
    const json_t *a = json_object_get(o, camel), *b = snake ? json_object_get(o, snake) : NULL;
    FUZZ_CHECK(!(a && b), "a stat with both %s and %s was accepted", camel, snake);
    FUZZ_CHECK(a || b, "a stat without %s was accepted", camel);
    return a ? a : b;
}

static void check_uint(const json_t *o, const char *name, uint64_t got, uint64_t max)
{
    const json_t *v = stat_field(o, name, NULL);
    FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) >= 0 &&
                   (uint64_t)json_integer_value(v) <= max,
               "the stat's %s was accepted as %s", name,
               json_is_integer(v) ? "an integer out of range" : "not an integer");
    FUZZ_CHECK((uint64_t)json_integer_value(v) == got, "the stat's %s is %llu, the JSON says %lld",
               name, (unsigned long long)got, (long long)json_integer_value(v));
}

/* A time: ms from the JSON's milliseconds; ns (NULL for the birth time, which sc_jb_stat_t does
 * not keep) within the second, the *Nsec field's when given, else the milliseconds'. */
static void check_time(const json_t *o, const char *camel, const char *snake, const char *ncamel,
                       const char *nsnake, uint64_t ms, const uint32_t *ns)
{
    const json_t *v = stat_field(o, camel, snake);
    if (json_is_integer(v)) {
        FUZZ_CHECK(json_integer_value(v) >= 0 && (uint64_t)json_integer_value(v) == ms,
                   "the stat's %s is %llu, the JSON says %lld", camel, (unsigned long long)ms,
                   (long long)json_integer_value(v));
    } else {
        FUZZ_CHECK(json_is_real(v), "the stat's %s was accepted as neither integer nor real",
                   camel);
        double d = json_real_value(v);
        FUZZ_CHECK(d >= 0 && d < 9.0e15 && (double)ms <= d && d < (double)ms + 1,
                   "the stat's %s is %llu, the JSON says %.17g", camel, (unsigned long long)ms, d);
    }
    const json_t *a = json_object_get(o, ncamel), *b = json_object_get(o, nsnake);
    FUZZ_CHECK(!(a && b), "a stat with both %s and %s was accepted", ncamel, nsnake);
    if (!ns)
        return;
    FUZZ_CHECK(*ns <= 999999999u, "the stat's %s nanoseconds are %u", camel, *ns);
    if (a || b)
        FUZZ_CHECK((json_int_t)*ns == json_integer_value(a ? a : b),
                   "the stat's %s is %u, the JSON says %lld", ncamel, *ns,
                   (long long)json_integer_value(a ? a : b));
    else if (json_is_integer(v))
        FUZZ_CHECK(*ns == ms % 1000 * 1000000, "the stat's %s nanoseconds are %u for %llu ms",
                   camel, *ns, (unsigned long long)ms);
}

static void check_stat(const json_t *v)
{
    char why[256] = "";
    sc_jb_stat_t st;
    memset(&st, 0xA5, sizeof st);
    errno = 0;
    int rc = sc_jb_read_stat(v, &st, why, sizeof why);
    if (rc != 0) {
        check_refusal(rc, why, "sc_jb_read_stat");
        FUZZ_CHECK(errno == EIO, "sc_jb_read_stat refused with errno %d, not EIO", errno);
        return;
    }
    FUZZ_CHECK(json_is_object(v), "a stat that is not an object was accepted");
    check_uint(v, "mode", st.mode, UINT32_MAX);
    check_uint(v, "size", st.size, INT64_MAX);
    check_uint(v, "blocks", st.blocks, INT64_MAX);
    check_uint(v, "dev", st.dev, UINT64_MAX);
    check_uint(v, "rdev", st.rdev, UINT64_MAX);
    check_uint(v, "ino", st.ino, UINT64_MAX);
    check_uint(v, "nlink", st.nlink, UINT64_MAX);
    check_uint(v, "uid", st.uid, UINT32_MAX);
    check_uint(v, "gid", st.gid, UINT32_MAX);
    const json_t *d = stat_field(v, "isDirectory", "is_directory");
    const json_t *l = stat_field(v, "isSymbolicLink", "is_symbolic_link");
    FUZZ_CHECK(json_is_boolean(d) && json_is_boolean(l), "a stat's types were accepted as %s",
               "not booleans");
    FUZZ_CHECK(st.is_dir == json_is_true(d) && st.is_symlink == json_is_true(l),
               "the stat's types are not the JSON's");
    FUZZ_CHECK(!(st.is_dir && st.is_symlink), "a stat both a directory and a symbolic link");
    check_time(v, "atimeMs", "atime_ms", "atimeNsec", "atime_nsec", st.atime_ms, &st.atime_ns);
    check_time(v, "mtimeMs", "mtime_ms", "mtimeNsec", "mtime_nsec", st.mtime_ms, &st.mtime_ns);
    check_time(v, "ctimeMs", "ctime_ms", "ctimeNsec", "ctime_nsec", st.ctime_ms, &st.ctime_ns);
    check_time(v, "birthtimeMs", "birthtime_ms", "birthtimeNsec", "birthtime_nsec", st.birthtime_ms,
               NULL);
}

static bool is_dot(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static void check_dir(const json_t *v, bool typed, uint64_t max)
{
    char why[256] = "";
    sc_jb_dirent_t *d = (sc_jb_dirent_t *)"junk";
    size_t n = 12345;
    errno = 0;
    int rc = sc_jb_read_dir(v, typed, max, &d, &n, why, sizeof why);
    if (rc != 0) {
        check_refusal(rc, why, "sc_jb_read_dir");
        FUZZ_CHECK(errno == EIO || errno == ENOMEM, "sc_jb_read_dir refused with errno %d", errno);
        FUZZ_CHECK(d == NULL && n == 0, "a refused listing is left in the output");
        if (errno == ENOMEM) {
            /* only for a listing over its bound: more than max names that are not dots */
            size_t names = 0;
            for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *e = json_array_get(v, i);
                const json_t *s = typed ? json_object_get(e, "name") : e;
                names += json_is_string(s) && !is_dot(json_string_value(s), json_string_length(s));
            }
            FUZZ_CHECK(names > max, "ENOMEM for a listing of %zu names, bound %llu", names,
                       (unsigned long long)max);
        }
        return;
    }
    FUZZ_CHECK(d != NULL && json_is_array(v), "an accepted listing is NULL or not from an array");
    FUZZ_CHECK(n <= max, "a listing of %zu entries, over the bound of %llu", n,
               (unsigned long long)max);
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        const json_t *name = typed ? json_object_get(e, "name") : e;
        FUZZ_CHECK(json_is_string(name), "entry %zu was accepted without a string name", i);
        const char *s = json_string_value(name);
        size_t len = json_string_length(name);
        if (is_dot(s, len))
            continue;
        FUZZ_CHECK(k < n, "entry %zu is not in the listing of %zu", i, n);
        FUZZ_CHECK(d[k].name == s && d[k].len == len, "listing entry %zu is not JSON entry %zu", k,
                   i);
        FUZZ_CHECK(len > 0 && len <= 255 && !memchr(s, '/', len) && !memchr(s, '\0', len),
                   "entry %zu's name is not a file name", i);
        if (typed) {
            const json_t *dir = json_object_get(e, "isDirectory");
            const json_t *link = json_object_get(e, "isSymbolicLink");
            dir = dir ? dir : json_object_get(e, "is_directory");
            link = link ? link : json_object_get(e, "is_symbolic_link");
            FUZZ_CHECK(json_is_boolean(dir) && json_is_boolean(link) &&
                           d[k].is_dir == json_is_true(dir) &&
                           d[k].is_symlink == json_is_true(link),
                       "entry %zu's types are not the JSON's", i);
        }
        k++;
    }
    FUZZ_CHECK(k == n, "a listing of %zu entries from %zu names", n, k);
    free(d);
}

static void check_string(const json_t *v, bool absolute)
{
    char why[256] = "";
    const char *s = NULL;
    size_t n = 0;
    errno = 0;
    int rc = sc_jb_read_string(v, absolute, &s, &n, why, sizeof why);
    if (rc != 0) {
        check_refusal(rc, why, "sc_jb_read_string");
        FUZZ_CHECK(errno == EIO, "sc_jb_read_string refused with errno %d, not EIO", errno);
        return;
    }
    FUZZ_CHECK(json_is_string(v) && s == json_string_value(v) && n == json_string_length(v),
               "the string read is not the value's");
    FUZZ_CHECK(n > 0 && !memchr(s, '\0', n), "an empty string, or one with NUL, was accepted");
    FUZZ_CHECK(!absolute || s[0] == '/', "a relative path was accepted for realpath");
}

static void check_bool(const json_t *v)
{
    char why[256] = "";
    bool b = false;
    errno = 0;
    int rc = sc_jb_read_bool(v, &b, why, sizeof why);
    if (rc != 0) {
        check_refusal(rc, why, "sc_jb_read_bool");
        FUZZ_CHECK(errno == EIO && !json_is_boolean(v), "a boolean refused, or not with EIO");
        return;
    }
    FUZZ_CHECK(json_is_boolean(v) && b == json_is_true(v), "the boolean read is not the value");
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether the n bytes of text hold needle (lowercase), ignoring ASCII case. */
static bool holds(const char *text, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && lower(text[i + j]) == needle[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

static void check_error(const char *text, size_t n)
{
    int want = EIO;
    if (holds(text, n, "enoent") || holds(text, n, "not found") || holds(text, n, "no such file"))
        want = ENOENT;
    else if (holds(text, n, "eacces") || holds(text, n, "eperm") ||
             holds(text, n, "permission denied"))
        want = EACCES;
    else if (holds(text, n, "eexist") || holds(text, n, "already exists"))
        want = EEXIST;
    int got = sc_jb_error_errno(text, n);
    FUZZ_CHECK(got == want, "the error text maps to errno %d, not %d", got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int pick = data[0] & 7;
    uint64_t bound = data[0] >> 3 == 31 ? UINT64_MAX : (uint64_t)(data[0] >> 3);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (pick == PICK_ERROR) {
        check_error(text, len);
        return 0;
    }
    char why[256] = "";
    errno = 0;
    json_t *v = sc_jb_parse_result(text, len, why, sizeof why);
    if (!v) {
        check_refusal(-1, why, "sc_jb_parse_result");
        FUZZ_CHECK(errno == EIO && strstr(why, "not JSON") != NULL,
                   "a result that is not JSON: errno %d, \"%s\"", errno, why);
        return 0;
    }
    switch (pick) {
    case PICK_BYTES:
        check_bytes(v, bound);
        break;
    case PICK_STAT:
        check_stat(v);
        break;
    case PICK_DIR:
    case PICK_DIR_TYPES:
        check_dir(v, pick == PICK_DIR_TYPES, bound);
        break;
    case PICK_READLINK:
    case PICK_REALPATH:
        check_string(v, pick == PICK_REALPATH);
        break;
    default:
        check_bool(v);
        break;
    }
    json_decref(v);
    return 0;
}
