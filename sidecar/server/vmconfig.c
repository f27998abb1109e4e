/*
 * vmconfig.c - CreateVmConfig: parsed with jansson, then walked object by object; each walker
 * rejects unknown fields, checks every type and value, names the field in its errors and
 * applies the defaults. Everything kept is copied into the caller's arena.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "vmconfig.h"

#define MAX_ENV 4096u        /* env entries */
#define MAX_LIST 65536u      /* items of any list, keys of dns.overrides */
#define MAX_GUEST_PATH 4096u /* bytes of a guest path (the reference VFS's limit) */
#define PATH_CAP 512         /* the field path in messages; longer paths are cut */
#define DEFAULT_FETCH_BYTES (1024u * 1024u)
#define DEFAULT_CWD "/home/user"

_Static_assert(sizeof(json_int_t) == sizeof(long long), "jansson integers are long long");

typedef struct ctx {
    bare_arena_t *arena;
    char *err;
    size_t errlen;
    bool big_ints; /* integers above LLONG_MAX were rewritten: see rewrite_big_integers() */
    uint32_t max_frame_bytes;
    size_t plen;
    char path[PATH_CAP]; /* where we are: "rootFilesystem.lowers[0].entries[3]" */
} ctx_t;

/* ------------------------------------------------------------------------------------------ */
/* Errors and the field path                                                                    */

__attribute__((format(printf, 4, 0))) static int failv(ctx_t *c, const char *prefix, bool at,
                                                       const char *fmt, va_list ap)
{
    if (!c->err || c->errlen == 0)
        return -1;
    int k = snprintf(c->err, c->errlen, "%s%s%s", prefix, at ? c->path : "", at ? " " : "");
    size_t n = k < 0 ? 0 : (size_t)k;
    if (n < c->errlen)
        vsnprintf(c->err + n, c->errlen - n, fmt, ap);
    return -1;
}

/* "invalid create VM config: <message>" */
__attribute__((format(printf, 2, 3))) static int fail(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(c, "invalid create VM config: ", false, fmt, ap);
    va_end(ap);
    return -1;
}

/* "invalid create VM config: <field path> <message>" */
__attribute__((format(printf, 2, 3))) static int fail_at(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(c, "invalid create VM config: ", true, fmt, ap);
    va_end(ap);
    return -1;
}

/* "invalid permissions policy: <message>" (the reference's rule validation) */
__attribute__((format(printf, 2, 3))) static int fail_policy(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(c, "invalid permissions policy: ", false, fmt, ap);
    va_end(ap);
    return -1;
}

static void path_append(ctx_t *c, const char *sep, const char *s)
{
    int k = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", sep, s);
    if (k > 0)
        c->plen +=
            (size_t)k < sizeof c->path - 1 - c->plen ? (size_t)k : sizeof c->path - 1 - c->plen;
}

/* Enters a member; returns what path_restore() needs to leave it. */
static size_t path_key(ctx_t *c, const char *key)
{
    size_t saved = c->plen;
    path_append(c, c->plen ? "." : "", key);
    return saved;
}

static size_t path_index(ctx_t *c, size_t i)
{
    char buf[32];
    size_t saved = c->plen;
    snprintf(buf, sizeof buf, "[%zu]", i);
    path_append(c, "", buf);
    return saved;
}

static void path_restore(ctx_t *c, size_t saved)
{
    c->plen = saved;
    c->path[saved] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Arena and typed access                                                                       */

/* n elements of size bytes from the arena; NULL for n == 0, or (with the error set) on failure. */
static void *arena_array(ctx_t *c, size_t n, size_t size, bool *oom)
{
    *oom = false;
    if (n == 0)
        return NULL;
    if (size && n > SIZE_MAX / size) {
        *oom = true;
        fail(c, "out of memory");
        return NULL;
    }
    void *p = bare_arena_alloc(c->arena, n * size, _Alignof(max_align_t));
    if (!p) {
        *oom = true;
        fail(c, "out of memory");
        return NULL;
    }
    memset(p, 0, n * size);
    return p;
}

/* A NUL-terminated arena copy of a string that must not contain NUL (it becomes a C string). */
static int copy_str(ctx_t *c, const char *s, size_t len, const char **out)
{
    if (memchr(s, '\0', len))
        return fail_at(c, "must not contain NUL");
    char *p = bare_arena_strdup(c->arena, (bare_str_t){s, len});
    if (!p)
        return fail(c, "out of memory");
    *out = p;
    return 0;
}

/* Member name of obj, or NULL when it is absent or null: null means absent for every field. */
static json_t *member(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

static bool in_list(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return true;
    return false;
}

/* v must be an object whose keys all appear in the NULL-terminated list fields. */
static int object_of(ctx_t *c, json_t *v, const char *const *fields)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v))
        return c->plen ? fail_at(c, "must be an object") : fail(c, "config must be a JSON object");
    json_object_foreach(v, key, val) {
        if (in_list(key, fields))
            continue;
        if (c->plen == 0)
            return fail(c, "unknown field '%s'", key);
        return fail(c, "unknown field '%s' in %s", key, c->path);
    }
    return 0;
}

static int want_string(ctx_t *c, json_t *v, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (!json_is_string(v))
        return fail_at(c, "must be a string");
    *s = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

static int want_bool(ctx_t *c, json_t *v, bool *out)
{
    if (!json_is_boolean(v))
        return fail_at(c, "must be a boolean");
    *out = json_is_true(v);
    return 0;
}

static int want_array(ctx_t *c, json_t *v, size_t max, size_t *n)
{
    *n = 0;
    if (!json_is_array(v))
        return fail_at(c, "must be an array");
    *n = json_array_size(v);
    if (*n > max)
        return fail_at(c, "must have at most %zu items", max);
    return 0;
}

/* A JSON integer as u64: jansson's non-negative integers, or a rewritten big one. */
static bool json_u64(const ctx_t *c, json_t *v, uint64_t *out)
{
    if (!json_is_integer(v))
        return false;
    json_int_t i = json_integer_value(v);
    if (i >= 0) {
        *out = (uint64_t)i;
        return true;
    }
    if (!c->big_ints)
        return false;
    *out = (uint64_t)LLONG_MAX + (uint64_t)(-(i + 1)) + 1u; /* i = LLONG_MAX - v */
    return true;
}

static int want_uint(ctx_t *c, json_t *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!json_u64(c, v, out) || *out < min || *out > max)
        return fail_at(c, "must be an integer between %" PRIu64 " and %" PRIu64, min, max);
    return 0;
}

/* A string from names (NULL-terminated); *out is its index. expected is for the message. */
static int want_enum(ctx_t *c, json_t *v, const char *const *names, const char *expected, int *out)
{
    if (json_is_string(v))
        for (int i = 0; names[i]; i++)
            if (strcmp(json_string_value(v), names[i]) == 0 &&
                json_string_length(v) == strlen(names[i])) {
                *out = i;
                return 0;
            }
    return fail_at(c, "must be %s", expected);
}

/*
 * Optional members: each returns 0 when name is absent (or null) and leaves *out alone, 1 when
 * it was given and is valid, -1 on an error. The path names the member while it is checked.
 */
static int opt_bool(ctx_t *c, json_t *obj, const char *name, bool *out)
{
    json_t *f = member(obj, name);
    size_t saved = path_key(c, name);
    if (f && want_bool(c, f, out) != 0)
        return -1;
    path_restore(c, saved);
    return f != NULL;
}

static int opt_uint(ctx_t *c, json_t *obj, const char *name, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    json_t *f = member(obj, name);
    size_t saved = path_key(c, name);
    if (f && want_uint(c, f, min, max, out) != 0)
        return -1;
    path_restore(c, saved);
    return f != NULL;
}

static int opt_enum(ctx_t *c, json_t *obj, const char *name, const char *const *names,
                    const char *expected, int *out)
{
    json_t *f = member(obj, name);
    size_t saved = path_key(c, name);
    if (f && want_enum(c, f, names, expected, out) != 0)
        return -1;
    path_restore(c, saved);
    return f != NULL;
}

/* The error for a required member that is absent. */
static int missing(ctx_t *c, const char *name)
{
    path_key(c, name);
    return fail_at(c, "is required");
}

/* ------------------------------------------------------------------------------------------ */
/* Guest paths                                                                                  */

/*
 * Checks a guest path at the current field: absolute, no NUL or control byte, at most 4096
 * bytes, no ".." segment, and (when strict) no "." or empty segment, so no "//" and no trailing
 * "/" except for "/" itself.
 */
static int check_guest_path(ctx_t *c, const char *s, size_t len, bool strict)
{
    if (len == 0 || s[0] != '/')
        return fail_at(c, "must be absolute");
    if (memchr(s, '\0', len))
        return fail_at(c, "must not contain NUL");
    if (len > MAX_GUEST_PATH)
        return fail_at(c, "must be at most %u bytes", MAX_GUEST_PATH);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail_at(c, "must not contain control characters");
    bool unnormal = false;
    for (size_t i = 1; len > 1 && i <= len;) {
        const char *slash = memchr(s + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - s) : len;
        size_t n = end - i;
        if (n == 2 && s[i] == '.' && s[i + 1] == '.')
            return fail_at(c, "must not contain '..'");
        if (n == 0 || (n == 1 && s[i] == '.'))
            unnormal = true;
        i = end + 1;
    }
    if (strict && unnormal)
        return fail_at(c, "must be normalized (no '.' segments, '//' or trailing '/')");
    return 0;
}

/* The lexically normalized copy of a checked absolute path: "." and empty segments dropped. */
static int normalized_copy(ctx_t *c, const char *s, size_t len, const char **out)
{
    char *p = bare_arena_alloc(c->arena, len + 1, 1);
    size_t o = 0;
    if (!p)
        return fail(c, "out of memory");
    for (size_t i = 1; i <= len;) {
        const char *slash = memchr(s + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - s) : len;
        size_t n = end - i;
        if (n > 0 && !(n == 1 && s[i] == '.')) {
            p[o++] = '/';
            memcpy(p + o, s + i, n);
            o += n;
        }
        i = end + 1;
    }
    if (o == 0)
        p[o++] = '/';
    p[o] = '\0';
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Root filesystem entries                                                                      */

static int entry_content(ctx_t *c, const char *s, size_t len, sc_entry_t *e)
{
    size_t cap = e->encoding == SC_ENCODING_BASE64 ? len / 4 * 3 : len;
    uint8_t *p = bare_arena_alloc(c->arena, cap + 1, 1);
    size_t at;
    if (!p)
        return fail(c, "out of memory");
    if (e->encoding == SC_ENCODING_UTF8) {
        memcpy(p, s, len);
        e->content_len = len;
    } else {
        switch (sc_base64_decode(s, len, p, &e->content_len, &at)) {
        case SC_BASE64_OK:
            break;
        case SC_BASE64_LENGTH:
            return fail_at(c, "is not valid base64: length %zu is not a multiple of 4", len);
        case SC_BASE64_CHAR:
            return fail_at(c, "is not valid base64: invalid character at offset %zu", at);
        case SC_BASE64_PAD:
            return fail_at(c, "is not valid base64: misplaced padding at offset %zu", at);
        default:
            return fail_at(c, "is not valid base64: non-zero trailing bits at offset %zu", at);
        }
    }
    p[e->content_len] = '\0';
    e->content = p;
    e->has_content = true;
    return 0;
}

/*
 * mode is permission bits. The file type comes from kind, but type bits that agree with kind
 * are accepted and dropped: snapshots report full st_mode values (0100644), and a host may
 * hand a snapshot back as a lower.
 */
static int entry_mode(ctx_t *c, uint64_t mode, sc_entry_t *e)
{
    static const uint32_t kind_type[] = {0100000, 0040000, 0120000};
    static const char *const kind_name[] = {"file", "directory", "symlink"};
    uint64_t type = mode & ~(uint64_t)07777;
    if (type != 0 && type != kind_type[e->kind]) {
        if ((type & ~(uint64_t)0170000) == 0)
            return fail_at(c, "has file type bits 0%" PRIo64 " that do not match kind \"%s\"", type,
                           kind_name[e->kind]);
        return fail_at(c, "must be at most 07777 (permission bits only; the type comes from "
                          "kind)");
    }
    e->mode = (uint32_t)(mode & 07777);
    return 0;
}

static int parse_entry(ctx_t *c, json_t *v, sc_entry_t *e)
{
    static const char *const fields[] = {"path",    "kind",     "mode",   "uid",        "gid",
                                         "content", "encoding", "target", "executable", NULL};
    static const char *const kinds[] = {"file", "directory", "symlink", NULL};
    static const char *const encodings[] = {"utf8", "base64", NULL};
    json_t *f;
    const char *s, *content = NULL, *target = NULL;
    size_t len, content_len = 0, target_len = 0, saved;
    uint64_t mode = 0, uid = 0, gid = 0;
    int kind = 0, encoding = SC_ENCODING_UTF8, has_mode, has_encoding, r;

    if (object_of(c, v, fields) != 0)
        return -1;
    memset(e, 0, sizeof *e);
    if (!(f = member(v, "path")))
        return missing(c, "path");
    saved = path_key(c, "path");
    if (want_string(c, f, &s, &len) != 0 || check_guest_path(c, s, len, true) != 0 ||
        copy_str(c, s, len, &e->path) != 0)
        return -1;
    path_restore(c, saved);

    if ((r = opt_enum(c, v, "kind", kinds, "\"file\", \"directory\" or \"symlink\"", &kind)) <= 0)
        return r < 0 ? -1 : missing(c, "kind");
    e->kind = (sc_entry_kind_t)kind;
    if ((has_mode = opt_uint(c, v, "mode", 0, UINT32_MAX, &mode)) < 0 ||
        opt_uint(c, v, "uid", 0, UINT32_MAX, &uid) < 0 ||
        opt_uint(c, v, "gid", 0, UINT32_MAX, &gid) < 0)
        return -1;
    e->uid = (uint32_t)uid;
    e->gid = (uint32_t)gid;

    saved = path_key(c, "content");
    if ((f = member(v, "content")) && want_string(c, f, &content, &content_len) != 0)
        return -1;
    path_restore(c, saved);
    if ((has_encoding =
             opt_enum(c, v, "encoding", encodings, "\"utf8\" or \"base64\"", &encoding)) < 0)
        return -1;
    e->encoding = (sc_encoding_t)encoding;
    saved = path_key(c, "target");
    if ((f = member(v, "target")) && want_string(c, f, &target, &target_len) != 0)
        return -1;
    path_restore(c, saved);
    if (opt_bool(c, v, "executable", &e->executable) < 0)
        return -1;

    /* The kind rules, with the reference's messages. */
    switch (e->kind) {
    case SC_ENTRY_FILE:
        if (target)
            return fail(c, "%s: file entry %s must not include target", c->path, e->path);
        if (has_encoding && !content) {
            path_key(c, "encoding");
            return fail_at(c, "requires content");
        }
        break;
    case SC_ENTRY_DIRECTORY:
        if (content || has_encoding || target)
            return fail(c, "%s: directory entry %s must not include content, encoding, or target",
                        c->path, e->path);
        break;
    case SC_ENTRY_SYMLINK:
        if (content || has_encoding)
            return fail(c, "%s: symlink entry %s must not include content or encoding", c->path,
                        e->path);
        if (!target || target_len == 0)
            return fail(c, "%s: symlink entry %s requires target", c->path, e->path);
        break;
    }

    saved = path_key(c, "mode");
    if (has_mode && entry_mode(c, mode, e) != 0)
        return -1;
    path_restore(c, saved);
    if (!has_mode) {
        static const uint32_t default_mode[] = {0644, 0755, 0777}; /* by kind */
        e->mode = e->kind == SC_ENTRY_FILE && e->executable ? 0755u : default_mode[e->kind];
    }
    saved = path_key(c, "target");
    if (target && copy_str(c, target, target_len, &e->target) != 0)
        return -1;
    path_restore(c, saved);
    saved = path_key(c, "content");
    if (content && entry_content(c, content, content_len, e) != 0)
        return -1;
    path_restore(c, saved);
    return 0;
}

static int parse_entries(ctx_t *c, json_t *v, sc_entry_t **out, size_t *n)
{
    bool oom;
    if (want_array(c, v, MAX_LIST, n) != 0)
        return -1;
    *out = arena_array(c, *n, sizeof **out, &oom);
    if (oom)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        size_t saved = path_index(c, i);
        if (parse_entry(c, json_array_get(v, i), &(*out)[i]) != 0)
            return -1;
        path_restore(c, saved);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* rootFilesystem                                                                               */

static int parse_lower(ctx_t *c, json_t *v, sc_lower_t *l)
{
    static const char *const snapshot_fields[] = {"kind", "entries", NULL};
    static const char *const bundled_fields[] = {"kind", NULL};
    static const char *const kinds[] = {"snapshot", "bundledBaseFilesystem", NULL};
    json_t *f;
    int kind = 0, r;

    if (!json_is_object(v))
        return fail_at(c, "must be an object");
    r = opt_enum(c, v, "kind", kinds, "\"snapshot\" or \"bundledBaseFilesystem\"", &kind);
    if (r <= 0)
        return r < 0 ? -1 : missing(c, "kind");
    l->kind = (sc_lower_kind_t)kind;
    if (object_of(c, v, l->kind == SC_LOWER_SNAPSHOT ? snapshot_fields : bundled_fields) != 0)
        return -1;
    if (l->kind == SC_LOWER_BUNDLED_BASE)
        return 0;
    if (!(f = member(v, "entries")))
        return missing(c, "entries");
    size_t saved = path_key(c, "entries");
    if (parse_entries(c, f, &l->entries, &l->nentries) != 0)
        return -1;
    path_restore(c, saved);
    return 0;
}

static int parse_root_fs(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const fields[] = {"mode", "disableDefaultBaseLayer", "lowers",
                                         "bootstrapEntries", NULL};
    static const char *const modes[] = {"ephemeral", "read-only", NULL};
    json_t *f;
    size_t saved;
    int mode = 0;
    bool oom;

    if (object_of(c, v, fields) != 0 ||
        opt_enum(c, v, "mode", modes, "\"ephemeral\" or \"read-only\"", &mode) < 0 ||
        opt_bool(c, v, "disableDefaultBaseLayer", &out->root.disable_default_base_layer) < 0)
        return -1;
    out->root.read_only = mode == 1;

    saved = path_key(c, "lowers");
    if ((f = member(v, "lowers"))) {
        if (want_array(c, f, MAX_LIST, &out->root.nlowers) != 0)
            return -1;
        out->root.lowers = arena_array(c, out->root.nlowers, sizeof *out->root.lowers, &oom);
        if (oom)
            return -1;
        for (size_t i = 0; i < out->root.nlowers; i++) {
            size_t s2 = path_index(c, i);
            if (parse_lower(c, json_array_get(f, i), &out->root.lowers[i]) != 0)
                return -1;
            path_restore(c, s2);
        }
    }
    path_restore(c, saved);

    saved = path_key(c, "bootstrapEntries");
    if ((f = member(v, "bootstrapEntries")) &&
        parse_entries(c, f, &out->root.bootstrap, &out->root.nbootstrap) != 0)
        return -1;
    path_restore(c, saved);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* permissions                                                                                  */

/* The JSON keys, then the names the reference's policy messages use, in domain order. */
static const char *const domain_keys[SC_DOMAIN_COUNT + 1] = {
    "fs", "network", "childProcess", "process", "env", "tool", NULL};
static const char *const domain_names[SC_DOMAIN_COUNT] = {"fs",      "network", "child_process",
                                                          "process", "env",     "tool"};
static const char *const mode_names[] = {"allow", "ask", "deny", NULL};
#define MODE_EXPECTED "\"allow\", \"ask\" or \"deny\""

void sc_policy_deny_all(sc_policy_t *p)
{
    for (size_t d = 0; d < SC_DOMAIN_COUNT; d++) {
        p->domains[d].default_mode = SC_PERM_DENY;
        p->domains[d].rules = NULL;
        p->domains[d].nrules = 0;
    }
}

/* rule.operations or rule.paths/patterns: a non-empty list of non-empty strings. */
static int parse_rule_list(ctx_t *c, json_t *rule, const char *field, size_t domain, size_t ri,
                           const char ***out, size_t *n)
{
    json_t *f = member(rule, field);
    size_t saved = path_key(c, field);
    bool oom;
    *n = 0;
    if (f && want_array(c, f, MAX_LIST, n) != 0)
        return -1;
    if (*n == 0)
        return fail_policy(c, "%s.rules[%zu].%s must not be empty; use [\"*\"] for wildcard",
                           domain_names[domain], ri, field);
    *out = arena_array(c, *n, sizeof **out, &oom);
    if (oom)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        size_t s2 = path_index(c, i);
        const char *s;
        size_t len;
        if (want_string(c, json_array_get(f, i), &s, &len) != 0)
            return -1;
        if (len == 0)
            return fail_policy(c, "%s.rules[%zu].%s[%zu] must not be empty", domain_names[domain],
                               ri, field, i);
        if (copy_str(c, s, len, &(*out)[i]) != 0)
            return -1;
        path_restore(c, s2);
    }
    path_restore(c, saved);
    return 0;
}

static int parse_rule(ctx_t *c, json_t *v, size_t domain, size_t ri, sc_perm_rule_t *rule)
{
    static const char *const fs_fields[] = {"mode", "operations", "paths", NULL};
    static const char *const other_fields[] = {"mode", "operations", "patterns", NULL};
    int mode = 0, r;

    if (object_of(c, v, domain == SC_DOMAIN_FS ? fs_fields : other_fields) != 0)
        return -1;
    if ((r = opt_enum(c, v, "mode", mode_names, MODE_EXPECTED, &mode)) <= 0)
        return r < 0 ? -1 : missing(c, "mode");
    rule->mode = (sc_perm_mode_t)mode;
    if (parse_rule_list(c, v, "operations", domain, ri, &rule->operations, &rule->noperations) != 0)
        return -1;
    return parse_rule_list(c, v, domain == SC_DOMAIN_FS ? "paths" : "patterns", domain, ri,
                           &rule->patterns, &rule->npatterns);
}

static int parse_scope(ctx_t *c, json_t *v, size_t domain, sc_perm_scope_t *scope)
{
    static const char *const fields[] = {"default", "rules", NULL};
    json_t *f;
    int mode = SC_PERM_DENY;
    bool oom;

    if (json_is_string(v)) {
        if (want_enum(c, v, mode_names, MODE_EXPECTED, &mode) != 0)
            return -1;
        scope->default_mode = (sc_perm_mode_t)mode;
        return 0;
    }
    if (!json_is_object(v))
        return fail_at(c, "must be " MODE_EXPECTED " or an object with rules");
    if (object_of(c, v, fields) != 0 ||
        opt_enum(c, v, "default", mode_names, MODE_EXPECTED, &mode) < 0)
        return -1;
    scope->default_mode = (sc_perm_mode_t)mode;
    if (!(f = member(v, "rules")))
        return missing(c, "rules");
    size_t saved = path_key(c, "rules");
    if (want_array(c, f, MAX_LIST, &scope->nrules) != 0)
        return -1;
    scope->rules = arena_array(c, scope->nrules, sizeof *scope->rules, &oom);
    if (oom)
        return -1;
    for (size_t i = 0; i < scope->nrules; i++) {
        size_t s2 = path_index(c, i);
        if (parse_rule(c, json_array_get(f, i), domain, i, &scope->rules[i]) != 0)
            return -1;
        path_restore(c, s2);
    }
    path_restore(c, saved);
    return 0;
}

static int parse_permissions(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    if (object_of(c, v, domain_keys) != 0)
        return -1;
    out->permissions_given = true;
    for (size_t d = 0; d < SC_DOMAIN_COUNT; d++) {
        json_t *f = member(v, domain_keys[d]);
        size_t saved = path_key(c, domain_keys[d]);
        if (f && parse_scope(c, f, d, &out->permissions.domains[d]) != 0)
            return -1;
        path_restore(c, saved);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* limits (reference §8, camelCase keys; every value a u64 greater than zero)                  */

typedef struct resource_key {
    const char *name;
    size_t offset;
    uint64_t def; /* 0: unset */
} resource_key_t;

/* clang-format off */
#define RES(name, field, def) {name, offsetof(sc_resource_limits_t, field), def}
static const resource_key_t resource_keys[] = {
    RES("cpuCount", cpu_count, 1),
    RES("maxProcesses", max_processes, 256),
    RES("maxOpenFds", max_open_fds, 4096), /* the reference: 256, see the man page */
    RES("maxPipes", max_pipes, 128),
    RES("maxPtys", max_ptys, 128),
    RES("maxSockets", max_sockets, 256),
    RES("maxConnections", max_connections, 256),
    RES("maxSocketBufferedBytes", max_socket_buffered_bytes, 4u << 20),
    RES("maxSocketDatagramQueueLen", max_socket_datagram_queue_len, 1024),
    RES("maxFilesystemBytes", max_filesystem_bytes, 64u << 20),
    RES("maxInodeCount", max_inode_count, 16384),
    RES("maxBlockingReadMs", max_blocking_read_ms, 5000),
    RES("maxPreadBytes", max_pread_bytes, 64u << 20),
    RES("maxFdWriteBytes", max_fd_write_bytes, 64u << 20),
    RES("maxProcessArgvBytes", max_process_argv_bytes, 1u << 20),
    RES("maxProcessEnvBytes", max_process_env_bytes, 1u << 20),
    RES("maxReaddirEntries", max_readdir_entries, 4096),
    RES("maxWasmFuel", max_wasm_fuel, 0),
    RES("maxWasmMemoryBytes", max_wasm_memory_bytes, 0),
    RES("maxWasmStackBytes", max_wasm_stack_bytes, 0),
    /*
     * Ours, for kernel-isolated guests (not in the reference): maxMemoryBytes caps the memory of
     * the VM's guests together (1 GiB unless set: no VM gets the host's memory by default),
     * maxCpuTimeMs the CPU time and maxWallTimeMs the wall-clock time of a guest process and
     * its descendants, maxFileSizeBytes the size of a file a guest writes. Unset = no limit.
     */
    RES("maxMemoryBytes", max_memory_bytes, 1u << 30),
    RES("maxCpuTimeMs", max_cpu_time_ms, 0),
    RES("maxWallTimeMs", max_wall_time_ms, 0),
    RES("maxFileSizeBytes", max_file_size_bytes, 0),
};
#undef RES
/* clang-format on */
#define NRESOURCE (sizeof resource_keys / sizeof resource_keys[0])

enum { G_RESOURCES, G_HTTP, G_TOOLS, G_PLUGINS, G_ACP, G_JS, G_PYTHON, G_WASM, G_COUNT };
static const char *const group_keys[G_COUNT + 1] = {
    "resources", "http", "tools", "plugins", "acp", "jsRuntime", "python", "wasm", NULL};

#define MAX_GROUP_KEYS 32
static const char *const http_keys[] = {"maxFetchResponseBytes", NULL};
static const char *const tools_keys[] = {
    "defaultToolTimeoutMs",    "maxToolTimeoutMs",         "maxRegisteredToolkits",
    "maxRegisteredToolsPerVm", "maxToolsPerToolkit",       "maxToolSchemaBytes",
    "maxToolExamplesPerTool",  "maxToolExampleInputBytes", NULL};
static const char *const plugins_keys[] = {"maxPersistedManifestBytes",
                                           "maxPersistedManifestFileBytes", NULL};
static const char *const acp_keys[] = {"maxReadLineBytes", "stdoutBufferByteLimit", NULL};
static const char *const js_keys[] = {"v8HeapLimitMb",         "capturedOutputLimitBytes",
                                      "stdinBufferLimitBytes", "eventPayloadLimitBytes",
                                      "v8IpcMaxFrameBytes",    NULL};
static const char *const python_keys[] = {"outputBufferMaxBytes", "executionTimeoutMs",
                                          "vfsRpcTimeoutMs", NULL};
static const char *const wasm_keys[] = {"maxModuleFileBytes", "capturedOutputLimitBytes",
                                        "syncReadLimitBytes", NULL};

/* One group: vals[i] is the value of keys[i], 0 when absent (0 is never a valid value). */
static int parse_limit_group(ctx_t *c, json_t *v, const char *const *keys, uint64_t *vals)
{
    if (object_of(c, v, keys) != 0)
        return -1;
    for (size_t i = 0; keys[i]; i++) {
        int r = opt_uint(c, v, keys[i], 0, UINT64_MAX, &vals[i]);
        if (r < 0)
            return -1;
        if (r > 0 && vals[i] == 0) {
            path_key(c, keys[i]);
            return fail_at(c, "must be greater than zero");
        }
    }
    return 0;
}

static void resource_defaults(sc_resource_limits_t *r)
{
    for (size_t i = 0; i < NRESOURCE; i++)
        *(uint64_t *)(void *)((char *)r + resource_keys[i].offset) = resource_keys[i].def;
}

static int parse_limits(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const *const group_names[G_COUNT] = {
        NULL, http_keys, tools_keys, plugins_keys, acp_keys, js_keys, python_keys, wasm_keys};
    const char *resource_names[NRESOURCE + 1];
    uint64_t vals[G_COUNT][MAX_GROUP_KEYS];

    _Static_assert(NRESOURCE < MAX_GROUP_KEYS, "MAX_GROUP_KEYS too small");
    for (size_t i = 0; i < NRESOURCE; i++)
        resource_names[i] = resource_keys[i].name;
    resource_names[NRESOURCE] = NULL;
    memset(vals, 0, sizeof vals);

    if (object_of(c, v, group_keys) != 0)
        return -1;
    for (size_t g = 0; g < G_COUNT; g++) {
        json_t *f = member(v, group_keys[g]);
        size_t saved = path_key(c, group_keys[g]);
        if (f && parse_limit_group(c, f, g == G_RESOURCES ? resource_names : group_names[g],
                                   vals[g]) != 0)
            return -1;
        path_restore(c, saved);
    }

    for (size_t i = 0; i < NRESOURCE; i++)
        if (vals[G_RESOURCES][i])
            *(uint64_t *)(void *)((char *)&out->resources + resource_keys[i].offset) =
                vals[G_RESOURCES][i];

    if (vals[G_HTTP][0]) {
        if (vals[G_HTTP][0] > c->max_frame_bytes)
            return fail(c,
                        "limits.http.maxFetchResponseBytes (%" PRIu64
                        ") must be <= the sidecar wire frame cap (%" PRIu32 ")",
                        vals[G_HTTP][0], c->max_frame_bytes);
        out->http_max_fetch_response_bytes = vals[G_HTTP][0];
    }

    uint64_t def_timeout = vals[G_TOOLS][0] ? vals[G_TOOLS][0] : 30000;
    uint64_t max_timeout = vals[G_TOOLS][1] ? vals[G_TOOLS][1] : 300000;
    if (def_timeout > max_timeout)
        return fail(c,
                    "limits.tools.defaultToolTimeoutMs (%" PRIu64
                    ") must be <= limits.tools.maxToolTimeoutMs (%" PRIu64 ")",
                    def_timeout, max_timeout);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* dns                                                                                          */

static bool parse_ip(const char *s, size_t len, bool allow_v4, bool allow_v6, sc_ip_addr_t *a)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(a, 0, sizeof *a);
    if (allow_v4 && inet_pton(AF_INET, buf, a->bytes) == 1)
        return true;
    a->v6 = true;
    return allow_v6 && inet_pton(AF_INET6, buf, a->bytes) == 1;
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* "ip", "ip:port", "[ipv6]", "[ipv6]:port" or a bare IPv6 address; the port defaults to 53. */
static bool parse_name_server(const char *s, size_t len, sc_dns_server_t *ns)
{
    const char *colon;
    ns->port = 53;
    if (memchr(s, '\0', len))
        return false;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || !parse_ip(s + 1, (size_t)(close - s - 1), false, true, &ns->addr))
            return false;
        size_t rest = len - (size_t)(close - s) - 1;
        return rest == 0 || (close[1] == ':' && parse_port(close + 2, rest - 1, &ns->port));
    }
    if (parse_ip(s, len, false, true, &ns->addr))
        return true;
    colon = memchr(s, ':', len);
    if (!colon)
        return parse_ip(s, len, true, false, &ns->addr);
    return parse_ip(s, (size_t)(colon - s), true, false, &ns->addr) &&
           parse_port(colon + 1, len - (size_t)(colon - s) - 1, &ns->port);
}

/* Lower-cased, one trailing dot removed; letters, digits, '-' and '_' in labels of 1..63. */
static bool normalize_hostname(const char *key, char *out, size_t cap)
{
    size_t len = strlen(key), label = 0;
    if (len > 0 && key[len - 1] == '.')
        len--;
    if (len == 0 || len > 253 || len >= cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = ch;
    }
    out[len] = '\0';
    return label > 0;
}

static int cmp_override(const void *a, const void *b)
{
    return strcmp(((const sc_dns_override_t *)a)->hostname,
                  ((const sc_dns_override_t *)b)->hostname);
}

static int parse_overrides(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    const char *key;
    json_t *val;
    size_t i = 0;
    bool oom;

    if (!json_is_object(v))
        return fail_at(c, "must be an object");
    if (json_object_size(v) > MAX_LIST)
        return fail_at(c, "must have at most %u hostnames", MAX_LIST);
    out->ndns_overrides = json_object_size(v);
    out->dns_overrides = arena_array(c, out->ndns_overrides, sizeof *out->dns_overrides, &oom);
    if (oom)
        return -1;
    json_object_foreach(v, key, val) {
        sc_dns_override_t *o = &out->dns_overrides[i++];
        char host[256];
        if (!normalize_hostname(key, host, sizeof host))
            return fail(c, "dns.overrides key '%s' is not a valid hostname", key);
        if (copy_str(c, host, strlen(host), &o->hostname) != 0)
            return -1;
        size_t saved = path_key(c, key);
        if (want_array(c, val, MAX_LIST, &o->naddrs) != 0)
            return -1;
        if (o->naddrs == 0)
            return fail_at(c, "must have at least one address");
        o->addrs = arena_array(c, o->naddrs, sizeof *o->addrs, &oom);
        if (oom)
            return -1;
        for (size_t k = 0; k < o->naddrs; k++) {
            const char *s;
            size_t len, s2 = path_index(c, k);
            if (want_string(c, json_array_get(val, k), &s, &len) != 0)
                return -1;
            if (memchr(s, '\0', len) || !parse_ip(s, len, true, true, &o->addrs[k]))
                return fail_at(c, "must be an IP address");
            path_restore(c, s2);
        }
        path_restore(c, saved);
    }
    /* Sorted, so that two keys naming one host ("A." and "a") are found in O(n log n). */
    if (out->ndns_overrides > 1)
        qsort(out->dns_overrides, out->ndns_overrides, sizeof *out->dns_overrides, cmp_override);
    for (i = 1; i < out->ndns_overrides; i++)
        if (strcmp(out->dns_overrides[i - 1].hostname, out->dns_overrides[i].hostname) == 0)
            return fail(c, "dns.overrides names host '%s' twice", out->dns_overrides[i].hostname);
    return 0;
}

static int parse_dns(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const fields[] = {"nameServers", "overrides", NULL};
    json_t *f;
    size_t saved;
    bool oom;

    if (object_of(c, v, fields) != 0)
        return -1;
    saved = path_key(c, "nameServers");
    if ((f = member(v, "nameServers"))) {
        if (want_array(c, f, MAX_LIST, &out->ndns_servers) != 0)
            return -1;
        out->dns_servers = arena_array(c, out->ndns_servers, sizeof *out->dns_servers, &oom);
        if (oom)
            return -1;
        for (size_t i = 0; i < out->ndns_servers; i++) {
            const char *s;
            size_t len, s2 = path_index(c, i);
            if (want_string(c, json_array_get(f, i), &s, &len) != 0)
                return -1;
            if (len == 0)
                return fail_at(c, "must not be empty");
            if (!parse_name_server(s, len, &out->dns_servers[i]))
                return fail_at(c, "must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")");
            path_restore(c, s2);
        }
    }
    path_restore(c, saved);

    saved = path_key(c, "overrides");
    if ((f = member(v, "overrides")) && parse_overrides(c, f, out) != 0)
        return -1;
    path_restore(c, saved);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* nativeRoot, listen, loopbackExemptPorts                                                      */

static int parse_native_root(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const fields[] = {"plugin", "readOnly", NULL};
    static const char *const plugin_fields[] = {"id", "config", NULL};
    json_t *plugin, *id;
    const char *s;
    size_t len;

    if (object_of(c, v, fields) != 0)
        return -1;
    out->has_native_root = true;
    if (!(plugin = member(v, "plugin")))
        return missing(c, "plugin");
    size_t saved = path_key(c, "plugin");
    if (object_of(c, plugin, plugin_fields) != 0)
        return -1;
    if (!(id = member(plugin, "id")))
        return missing(c, "id");
    path_key(c, "id");
    if (want_string(c, id, &s, &len) != 0)
        return -1;
    if (len == 0)
        return fail_at(c, "must not be empty");
    if (copy_str(c, s, len, &out->native_root_plugin) != 0)
        return -1;
    path_restore(c, saved);
    return opt_bool(c, v, "readOnly", &out->native_root_read_only) < 0 ? -1 : 0;
}

static int parse_listen(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const fields[] = {"portMin", "portMax", "allowPrivileged", NULL};
    uint64_t min = 1, max = 65535;

    if (object_of(c, v, fields) != 0 || opt_uint(c, v, "portMin", 1, 65535, &min) < 0 ||
        opt_uint(c, v, "portMax", 1, 65535, &max) < 0 ||
        opt_bool(c, v, "allowPrivileged", &out->listen_allow_privileged) < 0)
        return -1;
    if (min > max)
        return fail(c, "listen.portMin (%" PRIu64 ") must be <= listen.portMax (%" PRIu64 ")", min,
                    max);
    out->listen_port_min = (uint16_t)min;
    out->listen_port_max = (uint16_t)max;
    return 0;
}

static int parse_exempt_ports(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    bool oom;
    if (want_array(c, v, MAX_LIST, &out->nloopback_exempt_ports) != 0)
        return -1;
    out->loopback_exempt_ports =
        arena_array(c, out->nloopback_exempt_ports, sizeof *out->loopback_exempt_ports, &oom);
    if (oom)
        return -1;
    for (size_t i = 0; i < out->nloopback_exempt_ports; i++) {
        uint64_t port = 0;
        size_t saved = path_index(c, i);
        if (want_uint(c, json_array_get(v, i), 1, 65535, &port) != 0)
            return -1;
        out->loopback_exempt_ports[i] = (uint16_t)port;
        path_restore(c, saved);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* jsRuntime                                                                                    */

/* require("module").builtinModules of Node 22. */
/* clang-format off */
static const char *const node_builtins[] = {
    "_http_agent", "_http_client", "_http_common", "_http_incoming", "_http_outgoing",
    "_http_server", "_stream_duplex", "_stream_passthrough", "_stream_readable",
    "_stream_transform", "_stream_wrap", "_stream_writable", "_tls_common", "_tls_wrap",
    "assert", "assert/strict", "async_hooks", "buffer", "child_process", "cluster", "console",
    "constants", "crypto", "dgram", "diagnostics_channel", "dns", "dns/promises", "domain",
    "events", "fs", "fs/promises", "http", "http2", "https", "inspector", "inspector/promises",
    "module", "net", "os", "path", "path/posix", "path/win32", "perf_hooks", "process",
    "punycode", "querystring", "readline", "readline/promises", "repl", "stream",
    "stream/consumers", "stream/promises", "stream/web", "string_decoder", "sys", "timers",
    "timers/promises", "tls", "trace_events", "tty", "url", "util", "util/types", "v8", "vm",
    "wasi", "worker_threads", "zlib", NULL};
/* clang-format on */
/* Builtins that exist only with the scheme: "node:test" is a builtin, "test" is not. */
static const char *const node_prefixed_builtins[] = {"sea", "sqlite", "test", "test/reporters",
                                                     NULL};

static int parse_js_runtime(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    static const char *const fields[] = {"platform", "moduleResolution", "allowedBuiltins", NULL};
    static const char *const platforms[] = {"node", "browser", "neutral", "bare", NULL};
    static const char *const resolutions[] = {"node", "relative", "none", NULL};
    json_t *f;
    size_t saved, n;
    int platform = SC_JS_PLATFORM_NODE, resolution = SC_JS_RESOLUTION_NODE;
    bool oom;

    if (object_of(c, v, fields) != 0 ||
        opt_enum(c, v, "platform", platforms, "\"node\", \"browser\", \"neutral\" or \"bare\"",
                 &platform) < 0 ||
        opt_enum(c, v, "moduleResolution", resolutions, "\"node\", \"relative\" or \"none\"",
                 &resolution) < 0)
        return -1;
    out->js_platform = (sc_js_platform_t)platform;
    out->js_module_resolution = (sc_js_resolution_t)resolution;

    if (!(f = member(v, "allowedBuiltins")))
        return 0;
    saved = path_key(c, "allowedBuiltins");
    if (out->js_platform != SC_JS_PLATFORM_NODE)
        return fail_at(c, "is only valid with platform \"node\"");
    if (want_array(c, f, MAX_LIST, &n) != 0)
        return -1;
    out->has_js_allowed_builtins = true;
    out->njs_allowed_builtins = n;
    out->js_allowed_builtins = arena_array(c, n, sizeof *out->js_allowed_builtins, &oom);
    if (oom)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len, s2 = path_index(c, i);
        if (want_string(c, json_array_get(f, i), &s, &len) != 0)
            return -1;
        bool prefixed = len > 5 && memcmp(s, "node:", 5) == 0;
        const char *name = prefixed ? s + 5 : s;
        if (memchr(s, '\0', len) ||
            !(in_list(name, node_builtins) || (prefixed && in_list(name, node_prefixed_builtins))))
            return fail_at(c, "is not a Node builtin module");
        if (copy_str(c, name, strlen(name), &out->js_allowed_builtins[i]) != 0)
            return -1;
        path_restore(c, s2);
    }
    path_restore(c, saved);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The top level                                                                                */

static int parse_env(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    const char *key;
    json_t *val;
    size_t i = 0;
    bool oom;

    if (!json_is_object(v))
        return fail_at(c, "must be an object");
    if (json_object_size(v) > MAX_ENV)
        return fail_at(c, "must have at most %u entries", MAX_ENV);
    out->nenv = json_object_size(v);
    out->env = arena_array(c, out->nenv, sizeof *out->env, &oom);
    if (oom)
        return -1;
    json_object_foreach(v, key, val) {
        sc_kv_t *kv = &out->env[i++];
        const char *s;
        size_t len;
        if (key[0] == '\0')
            return fail_at(c, "must not have an empty key");
        if (strchr(key, '='))
            return fail(c, "env key '%s' must not contain '='", key);
        size_t saved = path_key(c, key);
        if (want_string(c, val, &s, &len) != 0 || copy_str(c, s, len, &kv->value) != 0)
            return -1;
        path_restore(c, saved);
        kv->key = bare_arena_strdup(c->arena, bare_str_from_cstr(key));
        if (!kv->key)
            return fail(c, "out of memory");
    }
    return 0;
}

static int parse_cwd(ctx_t *c, json_t *v, sc_vmconfig_t *out)
{
    const char *s;
    size_t len;
    if (want_string(c, v, &s, &len) != 0 || check_guest_path(c, s, len, false) != 0)
        return -1;
    return normalized_copy(c, s, len, &out->cwd);
}

typedef int member_fn(ctx_t *c, json_t *v, sc_vmconfig_t *out);

static int parse_root(ctx_t *c, json_t *root, sc_vmconfig_t *out)
{
    static const char *const fields[] = {
        "cwd",        "env",    "rootFilesystem",      "permissions", "limits", "dns",
        "nativeRoot", "listen", "loopbackExemptPorts", "jsRuntime",   NULL};
    static member_fn *const fns[] = {
        parse_cwd, parse_env,         parse_root_fs, parse_permissions,  parse_limits,
        parse_dns, parse_native_root, parse_listen,  parse_exempt_ports, parse_js_runtime};
    _Static_assert(sizeof fns / sizeof fns[0] + 1 == sizeof fields / sizeof fields[0],
                   "one parser per top-level field");

    if (object_of(c, root, fields) != 0)
        return -1;
    for (size_t i = 0; fields[i]; i++) {
        json_t *f = member(root, fields[i]);
        if (!f)
            continue;
        size_t saved = path_key(c, fields[i]);
        if (fns[i](c, f, out) != 0)
            return -1;
        path_restore(c, saved);
    }
    if (out->has_native_root && out->root.nbootstrap > 0)
        return fail(c, "nativeRoot does not support rootFilesystem.bootstrapEntries");
    if (out->has_native_root && out->root.nlowers > 0)
        return fail(c, "native root filesystems do not support rootFilesystem.lowers");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON loading                                                                                 */

static void put_token(char *dst, size_t toklen, const char *text)
{
    size_t n = strlen(text);
    memcpy(dst, text, n);
    memset(dst + n, ' ', toklen - n);
}

/*
 * jansson keeps integers in a long long and fails with "too big integer" above LLONG_MAX, but
 * limits are u64. So when the first parse fails that way, the text is parsed again with each
 * integer v in (LLONG_MAX, UINT64_MAX] replaced by the negative integer LLONG_MAX - v, which
 * json_u64() maps back. Negative integers of the input would be taken for such values, so
 * they become [] (any non-integer gives the same type error), as do integers above
 * UINT64_MAX. Replacements are never longer than the token and are padded with spaces, so
 * the line and column of any later JSON error stay right. Returns an arena copy or NULL.
 */
static char *rewrite_big_integers(ctx_t *c, const char *json, size_t len)
{
    char *buf = bare_arena_alloc(c->arena, len ? len : 1, 1);
    bool in_string = false;
    if (!buf)
        return NULL;
    memcpy(buf, json, len);
    for (size_t i = 0; i < len;) {
        char ch = buf[i];
        if (in_string) {
            i += ch == '\\' ? 2 : 1;
            in_string = ch != '"';
            continue;
        }
        if (ch == '"') {
            in_string = true;
            i++;
            continue;
        }
        if (ch != '-' && (ch < '0' || ch > '9')) {
            i++;
            continue;
        }
        size_t start = i, digits;
        bool neg = ch == '-';
        if (neg)
            i++;
        digits = i;
        while (i < len && buf[i] >= '0' && buf[i] <= '9')
            i++;
        if (i < len && (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E')) {
            /* a real: skip its fraction and exponent so their digits are not taken as ints */
            if (buf[i] == '.')
                for (i++; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
                    ;
            if (i < len && (buf[i] == 'e' || buf[i] == 'E')) {
                i++;
                if (i < len && (buf[i] == '+' || buf[i] == '-'))
                    i++;
                while (i < len && buf[i] >= '0' && buf[i] <= '9')
                    i++;
            }
            continue;
        }
        if (i == digits || (i - digits > 1 && buf[digits] == '0'))
            continue; /* not a valid integer: jansson reports it */
        uint64_t v = 0;
        bool over = false;
        for (size_t k = digits; k < i; k++) {
            unsigned d = (unsigned)(buf[k] - '0');
            if (v > (UINT64_MAX - d) / 10)
                over = true;
            else
                v = v * 10 + d;
        }
        size_t toklen = i - start;
        if (over || (neg && v != 0)) {
            put_token(buf + start, toklen, "[]");
        } else if (v > (uint64_t)LLONG_MAX) {
            char text[32];
            snprintf(text, sizeof text, "-%" PRIu64, v - (uint64_t)LLONG_MAX);
            if (strlen(text) <= toklen)
                put_token(buf + start, toklen, text);
        }
    }
    return buf;
}

static json_t *load(ctx_t *c, const char *json, size_t len)
{
    json_error_t e;
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, flags, &e);
    if (!root && json_error_code(&e) == json_error_numeric_overflow) {
        char *copy = rewrite_big_integers(c, json, len);
        if (!copy) {
            fail(c, "out of memory");
            return NULL;
        }
        c->big_ints = true;
        root = json_loadb(copy, len, flags, &e);
    }
    if (!root && c->err && c->errlen)
        snprintf(c->err, c->errlen, "invalid create VM config JSON: %s at line %d column %d",
                 e.text, e.line, e.column);
    return root;
}

int sc_vmconfig_parse(const char *json, size_t len, uint32_t max_frame_bytes, bare_arena_t *arena,
                      sc_vmconfig_t *out, char *err, size_t errlen)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.arena = arena;
    c.err = err;
    c.errlen = errlen;
    c.max_frame_bytes = max_frame_bytes;
    if (err && errlen)
        err[0] = '\0';

    memset(out, 0, sizeof *out);
    out->cwd = DEFAULT_CWD;
    sc_policy_deny_all(&out->permissions);
    resource_defaults(&out->resources);
    out->http_max_fetch_response_bytes =
        max_frame_bytes < DEFAULT_FETCH_BYTES ? max_frame_bytes : DEFAULT_FETCH_BYTES;
    out->listen_port_min = 1;
    out->listen_port_max = 65535;
    out->js_platform = SC_JS_PLATFORM_NODE;
    out->js_module_resolution = SC_JS_RESOLUTION_NODE;

    json_t *root = load(&c, json, len);
    if (!root)
        return -1;
    int rc = parse_root(&c, root, out);
    json_decref(root);
    return rc;
}
