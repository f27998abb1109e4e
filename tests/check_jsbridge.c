/*
 * check_jsbridge.c - the js_bridge mount plugin. "json": the call's JSON (args per operation,
 * the errno of an error text, the strict readers of every result shape), linked directly.
 * "wire": through the real sidecar and the client library, which plays the host: a small
 * in-memory file system answers each JsBridgeCallRequest, or answers late, never, or with
 * garbage; GuestFilesystemCall and guest processes (cat, ls, echo through FUSE) use the mount.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "guest_fixture.h"
#include "jbjson.h"

/* ------------------------------------------------------------------------------------------ */
/* json: the translation                                                                        */

static char *args_of(sc_jb_op_t op, const sc_jb_args_t *a)
{
    char *s = sc_jb_args_json(op, a);
    ck_assert_msg(s != NULL, "%s: errno %d", sc_jb_op_name(op), errno);
    return s;
}

START_TEST(args_every_operation)
{
    /* every operation with its keys, in the reference's order (§6.3) */
    static const uint8_t hi[] = {'h', 'i', 0xff};
    sc_jb_args_t a = {.path = "/dir/x",
                      .path2 = "/y",
                      .target = "../t",
                      .data = hi,
                      .len = sizeof hi,
                      .recursive = true,
                      .mode = 0644,
                      .uid = 1000,
                      .gid = 100,
                      .atime_ms = 1700000000123ull,
                      .mtime_ms = 5,
                      .length = 7,
                      .offset = 9};
    static const struct {
        sc_jb_op_t op;
        const char *name, *json;
        bool mutates;
    } want[] = {
        {SC_JB_READ_FILE, "readFile", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_READ_DIR, "readDir", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_READ_DIR_TYPES, "readDirWithTypes", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_WRITE_FILE, "writeFile", "{\"path\":\"/dir/x\",\"content\":\"aGn/\"}", true},
        {SC_JB_CREATE_DIR, "createDir", "{\"path\":\"/dir/x\"}", true},
        {SC_JB_MKDIR, "mkdir", "{\"path\":\"/dir/x\",\"recursive\":true}", true},
        {SC_JB_EXISTS, "exists", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_STAT, "stat", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_LSTAT, "lstat", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_REMOVE_FILE, "removeFile", "{\"path\":\"/dir/x\"}", true},
        {SC_JB_REMOVE_DIR, "removeDir", "{\"path\":\"/dir/x\"}", true},
        {SC_JB_RENAME, "rename", "{\"oldPath\":\"/dir/x\",\"newPath\":\"/y\"}", true},
        {SC_JB_REALPATH, "realpath", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_SYMLINK, "symlink", "{\"target\":\"../t\",\"linkPath\":\"/dir/x\"}", true},
        {SC_JB_READLINK, "readlink", "{\"path\":\"/dir/x\"}", false},
        {SC_JB_LINK, "link", "{\"oldPath\":\"/dir/x\",\"newPath\":\"/y\"}", true},
        {SC_JB_CHMOD, "chmod", "{\"path\":\"/dir/x\",\"mode\":420}", true},
        {SC_JB_CHOWN, "chown", "{\"path\":\"/dir/x\",\"uid\":1000,\"gid\":100}", true},
        {SC_JB_UTIMES, "utimes", "{\"path\":\"/dir/x\",\"atimeMs\":1700000000123,\"mtimeMs\":5}",
         true},
        {SC_JB_TRUNCATE, "truncate", "{\"path\":\"/dir/x\",\"length\":7}", true},
        {SC_JB_PREAD, "pread", "{\"path\":\"/dir/x\",\"offset\":9,\"length\":7}", false},
        {SC_JB_PWRITE, "pwrite", "{\"path\":\"/dir/x\",\"offset\":9,\"content\":\"aGn/\"}", true},
    };
    ck_assert_int_eq(sizeof want / sizeof want[0], SC_JB_OP_COUNT);
    for (size_t i = 0; i < SC_JB_OP_COUNT; i++) {
        ck_assert_int_eq(want[i].op, (sc_jb_op_t)i);
        ck_assert_str_eq(sc_jb_op_name(want[i].op), want[i].name);
        ck_assert_int_eq(sc_jb_op_mutates(want[i].op), want[i].mutates);
        char *s = args_of(want[i].op, &a);
        ck_assert_msg(strcmp(s, want[i].json) == 0, "%s: %s", want[i].name, s);
        free(s);
    }
}
END_TEST

START_TEST(args_refused)
{
    /* a name JSON cannot carry, and a number beyond JSON's integers here */
    sc_jb_args_t a = {.path = "/bad\xff"};
    errno = 0;
    ck_assert_ptr_null(sc_jb_args_json(SC_JB_STAT, &a));
    ck_assert_int_eq(errno, EILSEQ);
    a.path = "/x";
    a.path2 = "/\xc3";
    ck_assert_ptr_null(sc_jb_args_json(SC_JB_RENAME, &a));
    ck_assert_int_eq(errno, EILSEQ);
    a.offset = (uint64_t)1 << 63;
    ck_assert_ptr_null(sc_jb_args_json(SC_JB_PREAD, &a));
    ck_assert_int_eq(errno, EINVAL);
    /* unicode goes through as itself, quotes and controls escaped */
    a.path = "/\xc3\xa9\"\n";
    char *s = args_of(SC_JB_EXISTS, &a);
    ck_assert_str_eq(s, "{\"path\":\"/\xc3\xa9\\\"\\n\"}");
    free(s);
    /* an empty write is an empty string */
    a.path = "/e";
    a.data = NULL;
    a.len = 0;
    s = args_of(SC_JB_WRITE_FILE, &a);
    ck_assert_str_eq(s, "{\"path\":\"/e\",\"content\":\"\"}");
    free(s);
}
END_TEST

START_TEST(error_errno)
{
    static const struct {
        const char *text;
        int err;
    } t[] = {
        {"ENOENT: no such file or directory, open '/x'", ENOENT},
        {"File Not Found", ENOENT},
        {"no such file", ENOENT},
        {"EACCES: nope", EACCES},
        {"EPERM: operation not permitted", EACCES},
        {"Permission Denied", EACCES},
        {"eexist", EEXIST},
        {"the file already exists", EEXIST},
        {"EISDIR: illegal operation on a directory", EIO},
        {"", EIO},
        {"boom", EIO},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(sc_jb_error_errno(t[i].text, strlen(t[i].text)) == t[i].err, "%s", t[i].text);
    /* only the given length counts */
    ck_assert_int_eq(sc_jb_error_errno("ENOENT", 3), EIO);
}
END_TEST

static json_t *J(const char *text)
{
    char why[256];
    json_t *v = sc_jb_parse_result(text, strlen(text), why, sizeof why);
    ck_assert_msg(v != NULL, "%s: %s", text, why);
    return v;
}

START_TEST(result_json)
{
    char why[256];
    ck_assert_ptr_null(sc_jb_parse_result("{nope", 5, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "not JSON"));
    ck_assert_ptr_null(sc_jb_parse_result("{\"a\":1,\"a\":2}", 13, why, sizeof why));
    ck_assert_ptr_null(sc_jb_parse_result("[\"x\\u0000\"]", 11, why, sizeof why));
    json_decref(J("true"));
    json_decref(J("\"text\""));
}
END_TEST

START_TEST(result_bytes)
{
    char why[256];
    uint8_t *p;
    size_t n;
    json_t *v = J("\"aGVsbG8=\"");
    ck_assert_int_eq(sc_jb_read_bytes(v, 5, &p, &n, why, sizeof why), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(p, "hello", 5), 0);
    free(p);
    /* more than asked for: refused before decoding */
    ck_assert_int_eq(sc_jb_read_bytes(v, 4, &p, &n, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "more than the 4 asked for"));
    json_decref(v);
    v = J("[104,105,0,255]");
    ck_assert_int_eq(sc_jb_read_bytes(v, 64, &p, &n, why, sizeof why), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(memcmp(p, "hi\0\xff", 4), 0);
    free(p);
    ck_assert_int_eq(sc_jb_read_bytes(v, 3, &p, &n, why, sizeof why), -1);
    json_decref(v);
    v = J("\"\"");
    ck_assert_int_eq(sc_jb_read_bytes(v, 0, &p, &n, why, sizeof why), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(p);
    free(p);
    json_decref(v);
    static const char *const bad[] = {"[256]",    "[-1]",     "[1.5]", "[\"a\"]", "\"aGk\"",
                                      "\"a*==\"", "\"aGl=\"", "{}",    "7",       "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = J(bad[i]);
        errno = 0;
        ck_assert_msg(sc_jb_read_bytes(v, 64, &p, &n, why, sizeof why) == -1, "%s", bad[i]);
        ck_assert_int_eq(errno, EIO);
        json_decref(v);
    }
}
END_TEST

#define STAT_JSON                                                                                  \
    "\"mode\":33188,\"size\":5,\"blocks\":8,\"dev\":1,\"rdev\":0,\"isDirectory\":false,"           \
    "\"isSymbolicLink\":false,\"atimeMs\":1700000000123,\"mtimeMs\":1700000000456.75,"             \
    "\"ctimeMs\":7,\"birthtimeMs\":0,\"ino\":42,\"nlink\":1,\"uid\":1000,\"gid\":1000"

START_TEST(result_stat)
{
    char why[256], text[1024];
    sc_jb_stat_t st;
    json_t *v = J("{" STAT_JSON "}");
    ck_assert_int_eq(sc_jb_read_stat(v, &st, why, sizeof why), 0);
    json_decref(v);
    ck_assert_uint_eq(st.mode, 0100644);
    ck_assert_uint_eq(st.size, 5);
    ck_assert_uint_eq(st.ino, 42);
    ck_assert_uint_eq(st.uid, 1000);
    ck_assert_uint_eq(st.atime_ms, 1700000000123ull);
    ck_assert_uint_eq(st.atime_ns, 123000000u);
    /* a fraction of a millisecond (Node's Stats) is kept */
    ck_assert_uint_eq(st.mtime_ms, 1700000000456ull);
    ck_assert_uint_eq(st.mtime_ns, 456750000u);
    ck_assert(!st.is_dir && !st.is_symlink);
    /* snake_case, and *Nsec */
    v = J("{\"mode\":16877,\"size\":4096,\"blocks\":8,\"dev\":1,\"rdev\":0,\"is_directory\":true,"
          "\"is_symbolic_link\":false,\"atime_ms\":1,\"mtime_ms\":2,\"ctime_ms\":3,"
          "\"birthtime_ms\":4,\"ino\":1,\"nlink\":2,\"uid\":0,\"gid\":0,\"mtimeNsec\":999}");
    ck_assert_int_eq(sc_jb_read_stat(v, &st, why, sizeof why), 0);
    ck_assert(st.is_dir);
    ck_assert_uint_eq(st.mtime_ns, 999);
    json_decref(v);
    /* every required field, one missing at a time */
    static const char *const fields[] = {
        "mode",           "size",    "blocks",  "dev",     "rdev",        "isDirectory",
        "isSymbolicLink", "atimeMs", "mtimeMs", "ctimeMs", "birthtimeMs", "ino",
        "nlink",          "uid",     "gid"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *o = J("{" STAT_JSON "}");
        json_object_del(o, fields[i]);
        ck_assert_int_eq(sc_jb_read_stat(o, &st, why, sizeof why), -1);
        ck_assert_msg(strstr(why, fields[i]) != NULL, "%s: %s", fields[i], why);
        json_decref(o);
    }
    /* wrong types and ranges, each named */
    static const char *const bad[][2] = {
        {"\"mode\":\"644\"", "mode"},
        {"\"size\":-1", "size"},
        {"\"uid\":4294967296", "uid"},
        {"\"isDirectory\":1", "isDirectory"},
        {"\"atimeMs\":-5", "atimeMs"},
        {"\"ctimeMs\":\"now\"", "ctimeMs"},
        {"\"nlink\":1.5", "nlink"},
        {"\"atimeNsec\":1000000000", "atimeNsec"},
        {"\"is_directory\":false", "is_directory"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = J("{" STAT_JSON "}");
        snprintf(text, sizeof text, "{%s}", bad[i][0]);
        json_t *patch = J(text);
        json_object_update(o, patch);
        json_decref(patch);
        ck_assert_msg(sc_jb_read_stat(o, &st, why, sizeof why) == -1, "%s accepted", bad[i][0]);
        ck_assert_msg(strstr(why, bad[i][1]) != NULL, "%s: %s", bad[i][0], why);
        json_decref(o);
    }
    v = J("[1]");
    ck_assert_int_eq(sc_jb_read_stat(v, &st, why, sizeof why), -1);
    json_decref(v);
    v = J("{" STAT_JSON "}");
    json_t *both = J("{\"isDirectory\":true,\"isSymbolicLink\":true}");
    json_object_update(v, both);
    json_decref(both);
    ck_assert_int_eq(sc_jb_read_stat(v, &st, why, sizeof why), -1);
    json_decref(v);
}
END_TEST

START_TEST(result_dir)
{
    char why[256];
    sc_jb_dirent_t *d;
    size_t n;
    json_t *v = J("[\"a\",\".\",\"b c\",\"..\",\"\xc3\xa9\"]");
    ck_assert_int_eq(sc_jb_read_dir(v, false, 10, &d, &n, why, sizeof why), 0);
    ck_assert_uint_eq(n, 3); /* "." and ".." left out */
    ck_assert_str_eq(d[0].name, "a");
    ck_assert_str_eq(d[1].name, "b c");
    free(d);
    /* over the limit: ENOMEM, the listing limit's errno */
    errno = 0;
    ck_assert_int_eq(sc_jb_read_dir(v, false, 2, &d, &n, why, sizeof why), -1);
    ck_assert_int_eq(errno, ENOMEM);
    json_decref(v);
    v = J("[{\"name\":\"d\",\"isDirectory\":true,\"isSymbolicLink\":false},"
          "{\"name\":\"l\",\"is_directory\":false,\"is_symbolic_link\":true}]");
    ck_assert_int_eq(sc_jb_read_dir(v, true, 10, &d, &n, why, sizeof why), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(d[0].is_dir && !d[0].is_symlink && !d[1].is_dir && d[1].is_symlink);
    free(d);
    json_decref(v);
    static const char *const bad_plain[] = {"[\"a/b\"]", "[\"\"]", "[1]", "{}"};
    for (size_t i = 0; i < sizeof bad_plain / sizeof bad_plain[0]; i++) {
        v = J(bad_plain[i]);
        errno = 0;
        ck_assert_msg(sc_jb_read_dir(v, false, 10, &d, &n, why, sizeof why) == -1, "%s",
                      bad_plain[i]);
        ck_assert_int_eq(errno, EIO);
        json_decref(v);
    }
    static const char *const bad_typed[] = {"[\"a\"]", "[{\"name\":\"a\"}]",
                                            ("[{\"name\":\"a\",\"isDirectory\":0,"
                                             "\"isSymbolicLink\":false}]"),
                                            "[{\"isDirectory\":true,\"isSymbolicLink\":false}]"};
    for (size_t i = 0; i < sizeof bad_typed / sizeof bad_typed[0]; i++) {
        v = J(bad_typed[i]);
        ck_assert_msg(sc_jb_read_dir(v, true, 10, &d, &n, why, sizeof why) == -1, "%s",
                      bad_typed[i]);
        json_decref(v);
    }
}
END_TEST

START_TEST(result_string_bool)
{
    char why[256];
    const char *s;
    size_t n;
    bool b;
    json_t *v = J("\"/a/b\"");
    ck_assert_int_eq(sc_jb_read_string(v, true, &s, &n, why, sizeof why), 0);
    ck_assert_str_eq(s, "/a/b");
    json_decref(v);
    v = J("\"rel\"");
    ck_assert_int_eq(sc_jb_read_string(v, false, &s, &n, why, sizeof why), 0);
    ck_assert_int_eq(sc_jb_read_string(v, true, &s, &n, why, sizeof why), -1);
    json_decref(v);
    v = J("\"\"");
    ck_assert_int_eq(sc_jb_read_string(v, false, &s, &n, why, sizeof why), -1);
    json_decref(v);
    v = J("5");
    ck_assert_int_eq(sc_jb_read_string(v, false, &s, &n, why, sizeof why), -1);
    ck_assert_int_eq(sc_jb_read_bool(v, &b, why, sizeof why), -1);
    json_decref(v);
    v = J("false");
    ck_assert_int_eq(sc_jb_read_bool(v, &b, why, sizeof why), 0);
    ck_assert(!b);
    json_decref(v);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* wire: the host                                                                               */

#define BRIDGE_TIMEOUT_MS 1500
#define MAX_ENTRIES 64
#define MAX_CALLS 256

/* The host's file system: paths relative to the mount root. */
typedef struct hent {
    char path[256];
    char kind;     /* 'f', 'd', 'l' */
    uint8_t *data; /* file content; symlink target (NUL-terminated) */
    size_t len;
    uint32_t mode;
} hent_t;

static hent_t hfs[MAX_ENTRIES];
static size_t nhfs;

typedef enum {
    H_ANSWER,     /* the file system answers */
    H_NEVER,      /* no reply */
    H_HOLD,       /* kept, answered by the test (late, or with another ownership) */
    H_WRONG_KIND, /* a HostCallbackResultResponse */
    H_BAD_JSON,   /* a result that is not JSON */
    H_WRONG_TYPE, /* a result of the wrong shape for the operation */
    H_WRONG_CALL, /* another callId */
    H_ERROR       /* error "EACCES: go away" */
} hmode_t;

static hmode_t hmode;

/* What reached the host, in order. */
typedef struct hcall {
    int64_t id;
    char op[32], mount[64], call[48];
    char *args;
    char conn[32], session[32], vm[32];
} hcall_t;

static hcall_t calls[MAX_CALLS];
static size_t ncalls;

static void host_reset(void)
{
    for (size_t i = 0; i < nhfs; i++)
        free(hfs[i].data);
    for (size_t i = 0; i < ncalls; i++)
        free(calls[i].args);
    nhfs = ncalls = 0;
    hmode = H_ANSWER;
    hfs[nhfs++] = (hent_t){"/", 'd', NULL, 0, 0755};
}

static hent_t *hfind(const char *path)
{
    for (size_t i = 0; i < nhfs; i++)
        if (strcmp(hfs[i].path, path) == 0)
            return &hfs[i];
    return NULL;
}

static hent_t *hput(const char *path, char kind, const void *data, size_t len)
{
    hent_t *e = hfind(path);
    if (!e) {
        ck_assert_uint_lt(nhfs, MAX_ENTRIES);
        e = &hfs[nhfs++];
        memset(e, 0, sizeof *e);
        snprintf(e->path, sizeof e->path, "%s", path);
    }
    free(e->data);
    e->kind = kind;
    e->mode = kind == 'd' ? 0755 : kind == 'l' ? 0777 : 0644;
    e->data = malloc(len + 1);
    memcpy(e->data, data, len);
    e->data[len] = 0;
    e->len = len;
    return e;
}

static void hdel(hent_t *e)
{
    free(e->data);
    *e = hfs[--nhfs];
}

/* The direct children of dir. */
static bool child_of(const char *dir, const char *path, const char **name)
{
    size_t n = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
    if (strcmp(path, "/") == 0 || strncmp(path, dir, n) != 0 || path[n] != '/' ||
        strchr(path + n + 1, '/'))
        return false;
    *name = path + n + 1;
    return true;
}

static char result[1 << 21], error_text[512];

static const char *b64s(const uint8_t *p, size_t n)
{
    static char out[1 << 20];
    size_t k = sc_base64_encode(p, n, out);
    out[k] = 0;
    return out;
}

static uint8_t *unb64(const char *s, size_t *n)
{
    uint8_t *out = malloc(strlen(s) / 4 * 3 + 1);
    size_t at;
    ck_assert_int_eq(sc_base64_decode(s, strlen(s), out, n, &at), SC_BASE64_OK);
    return out;
}

static void stat_json(const hent_t *e, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"mode\":%u,\"size\":%zu,\"blocks\":%zu,\"dev\":7,\"rdev\":0,\"isDirectory\":%s,"
             "\"isSymbolicLink\":%s,\"atimeMs\":1700000000000,\"mtimeMs\":1700000001500.5,"
             "\"ctimeMs\":1700000002000,\"birthtimeMs\":1600000000000,\"ino\":%zu,\"nlink\":1,"
             "\"uid\":1000,\"gid\":1000}",
             e->mode | (e->kind == 'd'   ? 040000u
                        : e->kind == 'l' ? 0120000u
                                         : 0100000u),
             e->kind == 'd' ? 4096 : e->len, (e->len + 511) / 512,
             e->kind == 'd' ? "true" : "false", e->kind == 'l' ? "true" : "false",
             (size_t)(e - hfs) + 100);
}

/* Runs one operation on the host's file system: the result JSON in result (or "" for none),
 * or an error text. Returns 0 or -1 (error). */
static int host_op(const char *op, json_t *args)
{
    const char *path = json_string_value(json_object_get(args, "path"));
    hent_t *e = path ? hfind(path) : NULL;
    result[0] = 0;
#define ENOENT_TEXT(p)                                                                             \
    (snprintf(error_text, sizeof error_text, "ENOENT: no such file or directory, '%s'", p), -1)
    if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
        if (e && e->kind == 'l' && !strcmp(op, "stat"))
            e = hfind((const char *)e->data);
        if (!e)
            return ENOENT_TEXT(path);
        stat_json(e, result, sizeof result);
    } else if (!strcmp(op, "exists")) {
        snprintf(result, sizeof result, "%s", e ? "true" : "false");
    } else if (!strcmp(op, "readFile") || !strcmp(op, "pread")) {
        if (!e)
            return ENOENT_TEXT(path);
        if (e->kind == 'd') {
            snprintf(error_text, sizeof error_text, "EISDIR: illegal operation on a directory");
            return -1;
        }
        size_t off = 0, len = e->len;
        if (!strcmp(op, "pread")) {
            off = (size_t)json_integer_value(json_object_get(args, "offset"));
            len = (size_t)json_integer_value(json_object_get(args, "length"));
            off = off > e->len ? e->len : off;
            len = len > e->len - off ? e->len - off : len;
        }
        snprintf(result, sizeof result, "\"%s\"", b64s(e->data + off, len));
    } else if (!strcmp(op, "readDir") || !strcmp(op, "readDirWithTypes")) {
        if (!e || e->kind != 'd')
            return ENOENT_TEXT(path);
        json_t *a = json_array();
        for (size_t i = 0; i < nhfs; i++) {
            const char *name;
            if (!child_of(path, hfs[i].path, &name))
                continue;
            if (!strcmp(op, "readDir"))
                json_array_append_new(a, json_string(name));
            else
                json_array_append_new(a, json_pack("{s:s,s:b,s:b}", "name", name, "isDirectory",
                                                   hfs[i].kind == 'd', "isSymbolicLink",
                                                   hfs[i].kind == 'l'));
        }
        char *s = json_dumps(a, JSON_COMPACT);
        snprintf(result, sizeof result, "%s", s);
        free(s);
        json_decref(a);
    } else if (!strcmp(op, "writeFile") || !strcmp(op, "pwrite")) {
        size_t n;
        uint8_t *p = unb64(json_string_value(json_object_get(args, "content")), &n);
        if (!strcmp(op, "writeFile")) {
            hput(path, 'f', p, n);
        } else {
            if (!e) {
                free(p);
                return ENOENT_TEXT(path);
            }
            size_t off = (size_t)json_integer_value(json_object_get(args, "offset"));
            if (off + n > e->len) {
                e->data = realloc(e->data, off + n + 1);
                memset(e->data + e->len, 0, off + n - e->len);
                e->len = off + n;
                e->data[e->len] = 0;
            }
            memcpy(e->data + off, p, n);
        }
        free(p);
    } else if (!strcmp(op, "truncate")) {
        if (!e)
            return ENOENT_TEXT(path);
        size_t n = (size_t)json_integer_value(json_object_get(args, "length"));
        e->data = realloc(e->data, n + 1);
        if (n > e->len)
            memset(e->data + e->len, 0, n - e->len);
        e->len = n;
        e->data[n] = 0;
    } else if (!strcmp(op, "mkdir") || !strcmp(op, "createDir")) {
        if (e) {
            snprintf(error_text, sizeof error_text, "EEXIST: file already exists, mkdir '%s'",
                     path);
            return -1;
        }
        hput(path, 'd', "", 0);
    } else if (!strcmp(op, "removeFile") || !strcmp(op, "removeDir")) {
        if (!e)
            return ENOENT_TEXT(path);
        hdel(e);
    } else if (!strcmp(op, "rename") || !strcmp(op, "link")) {
        const char *from = json_string_value(json_object_get(args, "oldPath"));
        const char *to = json_string_value(json_object_get(args, "newPath"));
        hent_t *s = hfind(from);
        if (!s)
            return ENOENT_TEXT(from);
        hent_t copy = *s;
        hent_t *d = hput(to, copy.kind, copy.data, copy.len);
        if (!strcmp(op, "rename"))
            hdel(hfind(from));
        (void)d;
    } else if (!strcmp(op, "symlink")) {
        const char *link = json_string_value(json_object_get(args, "linkPath"));
        const char *target = json_string_value(json_object_get(args, "target"));
        hput(link, 'l', target, strlen(target));
    } else if (!strcmp(op, "readlink")) {
        if (!e || e->kind != 'l')
            return ENOENT_TEXT(path);
        json_t *s = json_string((const char *)e->data);
        char *t = json_dumps(s, JSON_ENCODE_ANY);
        snprintf(result, sizeof result, "%s", t);
        free(t);
        json_decref(s);
    } else if (!strcmp(op, "realpath")) {
        if (!e)
            return ENOENT_TEXT(path);
        snprintf(result, sizeof result, "\"%s\"", path);
    } else if (!strcmp(op, "chmod")) {
        if (!e)
            return ENOENT_TEXT(path);
        e->mode = (uint32_t)json_integer_value(json_object_get(args, "mode")) & 07777;
    } else if (!strcmp(op, "chown") || !strcmp(op, "utimes")) {
        if (!e)
            return ENOENT_TEXT(path);
    } else {
        snprintf(error_text, sizeof error_text, "unknown operation %s", op);
        return -1;
    }
    return 0;
}

static void str_copy(char *out, size_t cap, bare_str_t s)
{
    snprintf(out, cap, "%.*s", (int)s.len, s.ptr);
}

/* A wrong-shape result for op: something that parses but is not what op returns. */
static const char *wrong_type(const char *op)
{
    if (!strcmp(op, "stat") || !strcmp(op, "lstat"))
        return "{\"mode\":\"rw-r--r--\"}";
    if (!strcmp(op, "readFile") || !strcmp(op, "pread"))
        return "[104,105,300]";
    if (!strcmp(op, "readDir") || !strcmp(op, "readDirWithTypes"))
        return "[\"a/../../etc\"]";
    return "{\"surprise\":true}";
}

static int on_request(void *ud, const sx_sidecar_request_frame_t *req,
                      sx_sidecar_response_payload_t *out)
{
    (void)ud;
    if (req->payload.tag != SX_SIDECAR_REQUEST_PAYLOAD_TAG_JS_BRIDGE_CALL_REQUEST)
        return -1;
    const sx_js_bridge_call_request_t *q = &req->payload.u.js_bridge_call_request;
    ck_assert_uint_lt(ncalls, MAX_CALLS);
    hcall_t *h = &calls[ncalls++];
    h->id = req->request_id;
    str_copy(h->op, sizeof h->op, q->operation);
    str_copy(h->mount, sizeof h->mount, q->mount_id);
    str_copy(h->call, sizeof h->call, q->call_id);
    h->args = strndup(q->args.ptr, q->args.len);
    ck_assert_int_eq(req->ownership.tag, SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP);
    str_copy(h->conn, sizeof h->conn, req->ownership.u.vm_ownership.connection_id);
    str_copy(h->session, sizeof h->session, req->ownership.u.vm_ownership.session_id);
    str_copy(h->vm, sizeof h->vm, req->ownership.u.vm_ownership.vm_id);
    memset(out, 0, sizeof *out);
    out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE;
    sx_js_bridge_result_response_t *r = &out->u.js_bridge_result_response;
    r->call_id = q->call_id;
    switch (hmode) {
    case H_NEVER:
    case H_HOLD:
        return SE_NO_REPLY;
    case H_WRONG_KIND:
        out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE;
        out->u.host_callback_result_response.invocation_id = q->call_id;
        return 0;
    case H_BAD_JSON:
        r->result.present = true;
        r->result.value = bare_str_from_cstr("{\"not json");
        return 0;
    case H_WRONG_TYPE:
        r->result.present = true;
        r->result.value = bare_str_from_cstr(wrong_type(h->op));
        return 0;
    case H_WRONG_CALL:
        r->call_id = bare_str_from_cstr("js-bridge-call-999999");
        r->result.present = true;
        r->result.value = bare_str_from_cstr("true");
        return 0;
    case H_ERROR:
        r->error.present = true;
        r->error.value = bare_str_from_cstr("EACCES: go away");
        return 0;
    case H_ANSWER:
        break;
    }
    json_error_t je;
    json_t *args = json_loadb(q->args.ptr, q->args.len, 0, &je);
    ck_assert_msg(args != NULL, "args are not JSON: %s", h->args);
    if (host_op(h->op, args) != 0) {
        r->error.present = true;
        r->error.value = bare_str_from_cstr(error_text);
    } else if (result[0]) {
        r->result.present = true;
        r->result.value = bare_str_from_cstr(result);
    }
    json_decref(args);
    return 0;
}

/* Answers calls[i] now (after its timeout: late), with result text, under vm_id. */
static void answer_held(size_t i, const char *result_text, const char *vm_id)
{
    hcall_t *h = &calls[i];
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_RESPONSE_FRAME;
    sx_sidecar_response_frame_t *r = &f.u.sidecar_response_frame;
    r->schema.name = bare_str_from_cstr("secure-exec-sidecar");
    r->schema.version = 7;
    r->request_id = h->id;
    r->ownership.tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    r->ownership.u.vm_ownership.connection_id = bare_str_from_cstr(h->conn);
    r->ownership.u.vm_ownership.session_id = bare_str_from_cstr(h->session);
    r->ownership.u.vm_ownership.vm_id = bare_str_from_cstr(vm_id ? vm_id : h->vm);
    r->payload.tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE;
    r->payload.u.js_bridge_result_response.call_id = bare_str_from_cstr(h->call);
    r->payload.u.js_bridge_result_response.result.present = true;
    r->payload.u.js_bridge_result_response.result.value = bare_str_from_cstr(result_text);
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
}

/* ------------------------------------------------------------------------------------------ */
/* wire: the sidecar                                                                            */

static char jb_log[64];

/* The sidecar, with a short bridge timeout, its log in a file the tests read. */
static void jb_start(void)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin",
                                      "SECURE_EXEC_SIDECAR_BRIDGE_TIMEOUT_MS=1500", NULL};
    char err[256];
    snprintf(jb_log, sizeof jb_log, "/tmp/jsbridge-log.XXXXXX");
    int fd = mkstemp(jb_log);
    ck_assert_int_ge(fd, 0);
    se_client_options_t opt = {SIDECAR_PATH, NULL, env, getenv("CHECK_EXEC_LOGS") ? 2 : fd, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    close(fd);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(se_client_authenticate(c, "jsbridge", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    host_reset();
    se_client_on_sidecar_request(c, on_request, NULL);
}

static void jb_stop(void)
{
    int status = se_client_close(c, T);
    c = NULL;
    unlink(jb_log);
    host_reset();
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sidecar status %d", status);
}

static bool log_has(const char *what)
{
    FILE *f = fopen(jb_log, "r");
    char line[2048];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

static int configure(const char *vm, const char *guest, bool ro, const char *plugin,
                     const char *config, sx_response_frame_t *r)
{
    sx_request_payload_t p;
    sx_mount_descriptor_t m;
    memset(&p, 0, sizeof p);
    memset(&m, 0, sizeof m);
    m.guest_path = bare_str_from_cstr(guest);
    m.read_only = ro;
    m.plugin.id = bare_str_from_cstr(plugin);
    m.plugin.config = bare_str_from_cstr(config);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
    p.u.configure_vm_request.mounts.len = 1;
    p.u.configure_vm_request.mounts.items = &m;
    return vm_call(vm, &p, r);
}

/* ConfigureVm with one js_bridge mount; the test fails when it is refused. */
static void mount_ws(const char *vm, const char *guest, bool ro, const char *config)
{
    sx_response_frame_t r;
    int st = configure(vm, guest, ro, "js_bridge", config, &r);
    ck_assert_msg(st == SE_OK, "ConfigureVm: %s: %s %s", se_strerror(st), rej_code, rej_msg);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE);
    ck_assert_uint_eq(r.payload.u.vm_configured_response.applied_mounts, 1);
}

/* A GuestFilesystemCall; the response's payload in *r (rejections: SE_REJECTED). */
typedef struct gfc {
    sx_guest_filesystem_operation_t op;
    const char *path, *dest, *target, *content;
    bool base64, recursive;
    int64_t len, offset;
} gfc_t;

static void gfc_payload(const gfc_t *g, sx_request_payload_t *p)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    sx_guest_filesystem_call_request_t *q = &p->u.guest_filesystem_call_request;
    q->operation = g->op;
    q->path = bare_str_from_cstr(g->path);
    if (g->dest) {
        q->destination_path.present = true;
        q->destination_path.value = bare_str_from_cstr(g->dest);
    }
    if (g->target) {
        q->target.present = true;
        q->target.value = bare_str_from_cstr(g->target);
    }
    if (g->content) {
        q->content.present = true;
        q->content.value = bare_str_from_cstr(g->content);
        if (g->base64) {
            q->encoding.present = true;
            q->encoding.value = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
        }
    }
    q->recursive = g->recursive;
    if (g->len >= 0) {
        q->len.present = true;
        q->len.value = (uint64_t)g->len;
    }
    if (g->offset >= 0) {
        q->offset.present = true;
        q->offset.value = (uint64_t)g->offset;
    }
}

static int gfc(const char *vm, gfc_t g, sx_response_frame_t *r)
{
    sx_request_payload_t p;
    gfc_payload(&g, &p);
    int st = vm_call(vm, &p, r);
    if (st == SE_REJECTED && getenv("CHECK_EXEC_LOGS"))
        fprintf(stderr, "check_jsbridge: %s %s rejected: %s: %s\n",
                sx_guest_filesystem_operation_name(g.op), g.path, rej_code, rej_msg);
    if (st == SE_OK) {
        ck_assert_int_eq(r->payload.tag, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE);
        ck_assert_int_eq(r->payload.u.guest_filesystem_result_response.operation, g.op);
    }
    return st;
}

#define G(o, p)                                                                                    \
    ((gfc_t){.op = SX_GUEST_FILESYSTEM_OPERATION_##o, .path = (p), .len = -1, .offset = -1})

/* Sends a GuestFilesystemCall without waiting for its answer (request id id). */
static void gfc_send(const char *vm, int64_t id, gfc_t g)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    sx_request_frame_t *q = &f.u.request_frame;
    q->schema.name = bare_str_from_cstr("secure-exec-sidecar");
    q->schema.version = 7;
    q->request_id = id;
    se_client_vm_scope(c, vm, &q->ownership);
    gfc_payload(&g, &q->payload);
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
}

/* The rejection of the response with id (sent with gfc_send), within ms. */
static void expect_late_rejection(int64_t id, int ms, const char *code, const char *substr)
{
    sx_response_frame_t r;
    int st = se_client_wait_response(c, id, ms, &r);
    ck_assert_msg(st == SE_OK, "request %lld: %s", (long long)id, se_strerror(st));
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    char cd[64], msg[1024];
    str_copy(cd, sizeof cd, r.payload.u.rejected_response.code);
    str_copy(msg, sizeof msg, r.payload.u.rejected_response.message);
    ck_assert_str_eq(cd, code);
    ck_assert_msg(strstr(msg, substr), "message '%s' lacks '%s'", msg, substr);
}

/* Pumps frames until the host has seen n calls (or ms pass). */
static void wait_calls(size_t n, int ms)
{
    for (int i = 0; i < ms / 20 && ncalls < n; i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 20, &ev);
    }
    ck_assert_msg(ncalls >= n, "the host saw %zu calls, not %zu", ncalls, n);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static const char *target_of(const sx_response_frame_t *r)
{
    static char buf[4096];
    const sx_guest_filesystem_result_response_t *g = &r->payload.u.guest_filesystem_result_response;
    ck_assert(g->target.present);
    str_copy(buf, sizeof buf, g->target.value);
    return buf;
}

static const char *content_of(const sx_response_frame_t *r)
{
    static char buf[4096];
    const sx_guest_filesystem_result_response_t *g = &r->payload.u.guest_filesystem_result_response;
    ck_assert(g->content.present);
    str_copy(buf, sizeof buf, g->content.value);
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* wire: GuestFilesystemCall                                                                    */

START_TEST(fs_call_operations)
{
    char vm[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hput("/x", 'f', "hello", 5);
    hput("/sub", 'd', "", 0);
    /* readFile: the exact call, mount-relative, its answer the content */
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/x"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "hello");
    ck_assert_uint_eq(ncalls, 1);
    ck_assert_str_eq(calls[0].op, "readFile");
    ck_assert_str_eq(calls[0].mount, "ws");
    ck_assert_str_eq(calls[0].call, "js-bridge-call-1");
    ck_assert_str_eq(calls[0].args, "{\"path\":\"/x\"}");
    ck_assert_str_eq(calls[0].vm, vm);
    ck_assert_int_lt(calls[0].id, 0);
    /* writeFile: content as base64, from text or base64 */
    gfc_t w = G(WRITE_FILE, "/workspace/sub/y");
    w.content = "hi";
    ck_assert_int_eq(gfc(vm, w, &r), SE_OK);
    ck_assert_str_eq(calls[1].op, "writeFile");
    ck_assert_str_eq(calls[1].call, "js-bridge-call-2");
    ck_assert_str_eq(calls[1].args, "{\"path\":\"/sub/y\",\"content\":\"aGk=\"}");
    ck_assert_str_eq((char *)hfind("/sub/y")->data, "hi");
    w.content = "AP8=";
    w.base64 = true;
    ck_assert_int_eq(gfc(vm, w, &r), SE_OK);
    ck_assert_uint_eq(hfind("/sub/y")->len, 2);
    ck_assert_int_eq(hfind("/sub/y")->data[1], 0xff);
    /* binary content comes back as base64 */
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/sub/y"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "AP8=");
    ck_assert_int_eq(r.payload.u.guest_filesystem_result_response.encoding.value,
                     SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64);
    /* stat: the host's fields */
    ck_assert_int_eq(gfc(vm, G(STAT, "/workspace/x"), &r), SE_OK);
    const sx_guest_filesystem_stat_t *st = &r.payload.u.guest_filesystem_result_response.stat.value;
    ck_assert(r.payload.u.guest_filesystem_result_response.stat.present);
    ck_assert_uint_eq(st->mode, 0100644);
    ck_assert_uint_eq(st->size, 5);
    ck_assert_uint_eq(st->mtime_ms, 1700000001500ull);
    ck_assert_uint_eq(st->uid, 1000);
    ck_assert(!st->is_directory);
    /* readDir of the mount root: its names */
    ck_assert_int_eq(gfc(vm, G(READ_DIR, "/workspace"), &r), SE_OK);
    ck_assert_str_eq(calls[ncalls - 1].args, "{\"path\":\"/\"}");
    const sx_str_list_t *e = &r.payload.u.guest_filesystem_result_response.entries.value;
    ck_assert_uint_eq(e->len, 2);
    /* pread, exists, mkdir, rename, realpath, symlink, readlink, chmod, truncate, remove */
    gfc_t pr = G(PREAD, "/workspace/x");
    pr.offset = 1;
    pr.len = 3;
    ck_assert_int_eq(gfc(vm, pr, &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "ell");
    ck_assert_str_eq(calls[ncalls - 1].args, "{\"path\":\"/x\",\"offset\":1,\"length\":3}");
    ck_assert_int_eq(gfc(vm, G(EXISTS, "/workspace/nope"), &r), SE_OK);
    ck_assert(r.payload.u.guest_filesystem_result_response.exists.present);
    ck_assert(!r.payload.u.guest_filesystem_result_response.exists.value);
    gfc_t mk = G(MKDIR, "/workspace/a/b");
    mk.recursive = true;
    ck_assert_int_eq(gfc(vm, mk, &r), SE_OK);
    ck_assert_str_eq(calls[ncalls - 1].args, "{\"path\":\"/a/b\",\"recursive\":true}");
    gfc_t mv = G(RENAME, "/workspace/x");
    mv.dest = "/workspace/x2";
    ck_assert_int_eq(gfc(vm, mv, &r), SE_OK);
    ck_assert_str_eq(calls[ncalls - 1].args, "{\"oldPath\":\"/x\",\"newPath\":\"/x2\"}");
    ck_assert_str_eq(target_of(&r), "/workspace/x2");
    ck_assert_int_eq(gfc(vm, G(REALPATH, "/workspace/x2"), &r), SE_OK);
    ck_assert_str_eq(target_of(&r), "/workspace/x2");
    gfc_t ln = G(SYMLINK, "/workspace/l");
    ln.target = "x2";
    ck_assert_int_eq(gfc(vm, ln, &r), SE_OK);
    ck_assert_str_eq(calls[ncalls - 1].args, "{\"target\":\"x2\",\"linkPath\":\"/l\"}");
    ck_assert_int_eq(gfc(vm, G(READ_LINK, "/workspace/l"), &r), SE_OK);
    ck_assert_str_eq(target_of(&r), "x2");
    gfc_t tr = G(TRUNCATE, "/workspace/x2");
    tr.len = 2;
    ck_assert_int_eq(gfc(vm, tr, &r), SE_OK);
    ck_assert_uint_eq(hfind("/x2")->len, 2);
    ck_assert_int_eq(gfc(vm, G(REMOVE_FILE, "/workspace/x2"), &r), SE_OK);
    ck_assert_ptr_null(hfind("/x2"));
    /* the host's error text becomes its errno */
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/gone"), &r), SE_REJECTED);
    ck_assert_str_eq(rej_code, "kernel_error");
    ck_assert_msg(strstr(rej_msg, "ENOENT: ENOENT: no such file or directory, '/gone', "
                                  "readFile '/gone'"),
                  "%s", rej_msg);
    size_t before = ncalls;
    /* across mounts, and a symlink out of the mount: EXDEV, the host is not asked */
    mv.dest = "/tmp/out";
    expect_rejection(gfc(vm, mv, &r), "kernel_error", "EXDEV");
    ln.target = "../../etc/passwd";
    expect_rejection(gfc(vm, ln, &r), "kernel_error", "EXDEV");
    /* missing fields are the host's mistake */
    gfc_t bad = G(WRITE_FILE, "/workspace/q");
    expect_rejection(gfc(vm, bad, &r), "invalid_state", "requires content");
    bad = G(PREAD, "/workspace/q");
    bad.offset = 0;
    expect_rejection(gfc(vm, bad, &r), "invalid_state", "requires len");
    ck_assert_uint_eq(ncalls, before);
    /* outside the mount the VM's own files answer, without the host */
    ck_assert_int_eq(gfc(vm, G(EXISTS, "/etc"), &r), SE_OK);
    ck_assert(r.payload.u.guest_filesystem_result_response.exists.value);
    ck_assert_uint_eq(ncalls, before);
    vm_dispose(vm);
    jb_stop();
}
END_TEST

START_TEST(fs_call_read_only_and_policy)
{
    char vm[64];
    sx_response_frame_t r;
    jb_start();
    /* reads under /workspace/secret are denied, the rest allowed */
    vm_new("{\"permissions\": {\"fs\": {\"default\": \"allow\", \"rules\": [{\"mode\": \"deny\", "
           "\"operations\": [\"read\"], \"paths\": [\"/workspace/secret/**\"]}]}}}",
           vm);
    mount_ws(vm, "/workspace", true, "null");
    hput("/x", 'f', "hello", 5);
    gfc_t w = G(WRITE_FILE, "/workspace/x");
    w.content = "changed";
    expect_rejection(gfc(vm, w, &r), "kernel_error", "EROFS: read-only filesystem: /x");
    expect_rejection(gfc(vm, G(REMOVE_FILE, "/workspace/x"), &r), "kernel_error", "EROFS");
    gfc_t mk = G(CREATE_DIR, "/workspace/d");
    expect_rejection(gfc(vm, mk, &r), "kernel_error", "EROFS");
    expect_rejection(gfc(vm, G(READ_FILE, "/workspace/secret/k"), &r), "kernel_error",
                     "EACCES: permission denied, ");
    ck_assert_msg(strstr(rej_msg, " '/workspace/secret/k': blocked by fs.read policy"), "%s",
                  rej_msg);
    ck_assert_uint_eq(ncalls, 0);
    /* reads still work; the mountId is the guest path when the config names none */
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/x"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "hello");
    ck_assert_str_eq(calls[0].mount, "/workspace");
    vm_dispose(vm);
    jb_stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* wire: hosts that answer late, never, or with garbage                                         */

START_TEST(late_reply_dropped)
{
    char vm[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hmode = H_HOLD;
    long long t0 = now_ms();
    expect_rejection(gfc(vm, G(READ_FILE, "/workspace/x"), &r), "kernel_error",
                     "EIO: readFile /x: timed out waiting for sidecar response after 2s");
    long long took = now_ms() - t0;
    ck_assert_msg(took >= BRIDGE_TIMEOUT_MS - 100 && took < BRIDGE_TIMEOUT_MS + 5000,
                  "answered after %lld ms", took);
    /* the answer after the timeout is logged and dropped; the sidecar carries on */
    answer_held(0, "\"aGk=\"", NULL);
    hmode = H_ANSWER;
    hput("/x", 'f', "fresh", 5);
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/x"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "fresh");
    ck_assert(log_has("dropped a SidecarResponseFrame"));
    vm_dispose(vm);
    jb_stop();
}
END_TEST

START_TEST(never_answers_while_others_are_served)
{
    char vm[64], vm2[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", vm2);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hmode = H_NEVER;
    gfc_send(vm, 1000, G(STAT, "/workspace/x"));
    wait_calls(1, T);
    /* while that call waits, the sidecar serves the same VM's own files and another VM */
    long long t0 = now_ms();
    ck_assert_int_eq(gfc(vm2, G(EXISTS, "/etc"), &r), SE_OK);
    ck_assert_int_eq(gfc(vm, G(EXISTS, "/tmp"), &r), SE_OK);
    ck_assert_msg(now_ms() - t0 < BRIDGE_TIMEOUT_MS, "another VM waited for the host");
    expect_late_rejection(1000, T, "kernel_error", "EIO: stat /x: timed out");
    /* a host that never answers: exists is false, not an error */
    ck_assert_int_eq(gfc(vm, G(EXISTS, "/workspace/x"), &r), SE_OK);
    ck_assert(!r.payload.u.guest_filesystem_result_response.exists.value);
    vm_dispose(vm);
    vm_dispose(vm2);
    jb_stop();
}
END_TEST

START_TEST(garbage_replies)
{
    char vm[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    static const struct {
        hmode_t mode;
        const char *log;
    } kinds[] = {
        {H_WRONG_KIND, "HostCallbackResultResponse"},
        {H_BAD_JSON, "the result is not JSON"},
        {H_WRONG_TYPE, "not an integer"},
        {H_WRONG_CALL, "callId 'js-bridge-call-999999'"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        hmode = kinds[i].mode;
        expect_rejection(gfc(vm, G(STAT, "/workspace/x"), &r), "kernel_error", "EIO");
        ck_assert_msg(log_has(kinds[i].log), "no log line with '%s'", kinds[i].log);
    }
    /* wrong shapes for reads and listings */
    hmode = H_WRONG_TYPE;
    expect_rejection(gfc(vm, G(READ_FILE, "/workspace/x"), &r), "kernel_error",
                     "EIO: invalid js_bridge payload for readFile '/x'");
    expect_rejection(gfc(vm, G(READ_DIR, "/workspace"), &r), "kernel_error", "EIO");
    /* an error text: its errno */
    hmode = H_ERROR;
    expect_rejection(gfc(vm, G(READ_FILE, "/workspace/x"), &r), "kernel_error",
                     "EACCES: EACCES: go away, readFile '/x'");
    /* a reply under another VM's ownership is not this call's answer */
    hmode = H_HOLD;
    size_t n = ncalls;
    gfc_send(vm, 2000, G(STAT, "/workspace/x"));
    wait_calls(n + 1, T);
    answer_held(n, "true", "vm-999");
    expect_late_rejection(2000, T, "kernel_error",
                          "sidecar response ownership did not match request ownership");
    /* still alive and well */
    hmode = H_ANSWER;
    hput("/x", 'f', "ok", 2);
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/x"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "ok");
    vm_dispose(vm);
    jb_stop();
}
END_TEST

START_TEST(calls_in_flight_are_bounded)
{
    char vm[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hmode = H_HOLD;
    for (int i = 0; i < 70; i++)
        gfc_send(vm, 3000 + i, G(EXISTS, "/workspace/x"));
    wait_calls(64, T);
    /* the rest wait in the sidecar, not at the host */
    for (int i = 0; i < 10; i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 20, &ev);
    }
    ck_assert_uint_eq(ncalls, 64);
    /* one answer lets the next one go */
    answer_held(0, "true", NULL);
    wait_calls(65, T);
    ck_assert_int_eq(se_client_wait_response(c, 3000, T, &r), SE_OK);
    ck_assert(r.payload.u.guest_filesystem_result_response.exists.value);
    ck_assert_str_eq(calls[64].call, "js-bridge-call-65");
    /* a dispose ends them all: every request is answered */
    vm_dispose(vm);
    for (int i = 1; i < 70; i++) {
        ck_assert_int_eq(se_client_wait_response(c, 3000 + i, T, &r), SE_OK);
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE);
        ck_assert(!r.payload.u.guest_filesystem_result_response.exists.value);
    }
    jb_stop();
}
END_TEST

START_TEST(dispose_with_calls_pending)
{
    char vm[64], vm2[64];
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", vm2);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hmode = H_NEVER;
    gfc_send(vm, 4000, G(READ_FILE, "/workspace/x"));
    wait_calls(1, T);
    vm_dispose(vm);
    expect_late_rejection(4000, T, "kernel_error", "EIO");
    /* the reply that comes now names a request nobody waits for */
    answer_held(0, "\"aGk=\"", NULL);
    ck_assert_int_eq(gfc(vm2, G(EXISTS, "/etc"), &r), SE_OK);
    vm_dispose(vm2);
    jb_stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* wire: guest processes, through FUSE                                                          */

START_TEST(guest_cat_ls_echo)
{
    char vm[64];
    int code;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hput("/x", 'f', "hello from the host\n", 20);
    hput("/dir", 'd', "", 0);
    hput("/dir/inner", 'f', "deep", 4);
    ck_assert_str_eq(sh(vm, "cat /workspace/x", &code), "hello from the host\n");
    ck_assert_int_eq(code, 0);
    /* the guest is uid 1000 and sees the host's owner */
    const char *ls = sh(vm, "ls -ln /workspace", &code);
    ck_assert_int_eq(code, 0);
    ck_assert_msg(strstr(ls, "-rw-r--r-- 1 1000 1000 ") && strstr(ls, " 20 Nov 14  2023 x\n") &&
                      strstr(ls, "drwxr-xr-x 1 1000 1000 4096 ") && strstr(ls, " dir\n"),
                  "%s", ls);
    ck_assert_str_eq(sh(vm, "cat /workspace/dir/inner; id -u", &code), "deep1000\n");
    /* writes reach the host */
    ck_assert_str_eq(sh(vm, "echo hi > /workspace/y && cat /workspace/y", &code), "hi\n");
    ck_assert_int_eq(code, 0);
    ck_assert_uint_eq(hfind("/y")->len, 3);
    ck_assert_str_eq((char *)hfind("/y")->data, "hi\n");
    ck_assert_str_eq(sh(vm,
                        "echo more >> /workspace/y; mkdir /workspace/new; "
                        "mv /workspace/y /workspace/new/z; cat /workspace/new/z; "
                        "rm /workspace/new/z; rmdir /workspace/new; ls /workspace",
                        &code),
                     "hi\nmore\ndir\nx\n");
    ck_assert_int_eq(code, 0);
    ck_assert_ptr_null(hfind("/new"));
    /* symlinks, modes, times, truncation */
    ck_assert_str_eq(sh(vm,
                        "ln -s x /workspace/l && readlink /workspace/l && "
                        "head -c 5 /workspace/l && echo && chmod 600 /workspace/x && "
                        "stat -c %a /workspace/x && touch /workspace/x && "
                        "truncate -s 3 /workspace/x && cat /workspace/x",
                        &code),
                     "x\nhello\n600\nhel");
    ck_assert_int_eq(code, 0);
    ck_assert_uint_eq(hfind("/x")->mode, 0600);
    bool utimes = false;
    for (size_t i = 0; i < ncalls; i++)
        utimes = utimes || strcmp(calls[i].op, "utimes") == 0;
    ck_assert(utimes);
    /* more than one call's worth (reads and writes go in chunks of at most 128 KiB) */
    ck_assert_str_eq(sh(vm,
                        "head -c 300000 /dev/zero | tr '\\0' a > /workspace/big && "
                        "cat /workspace/big | wc -c && tail -c 3 /workspace/big",
                        &code),
                     "300000\naaa");
    ck_assert_uint_eq(hfind("/big")->len, 300000);
    for (size_t i = 0; i < ncalls; i++) {
        json_t *a = json_loads(calls[i].args, 0, NULL);
        json_t *len = json_object_get(a, "length"), *content = json_object_get(a, "content");
        if (!strcmp(calls[i].op, "pread"))
            ck_assert_int_le(json_integer_value(len), 131072);
        if (!strcmp(calls[i].op, "pwrite"))
            ck_assert_uint_le(json_string_length(content), 131072 / 3 * 4 + 4);
        json_decref(a);
    }
    /* a missing file is ENOENT, from the host's text */
    const char *miss = sh(vm, "cat /workspace/missing 2>&1", &code);
    ck_assert_int_ne(code, 0);
    ck_assert_msg(strstr(miss, "No such file or directory"), "%s", miss);
    vm_dispose(vm);
    jb_stop();
}
END_TEST

START_TEST(guest_read_only)
{
    char vm[64];
    int code;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    mount_ws(vm, "/workspace", true, "{\"mountId\":\"ws\"}");
    hput("/x", 'f', "keep", 4);
    const char *out = sh(vm,
                         "cat /workspace/x; echo no > /workspace/x 2>&1 || echo refused; "
                         "touch /workspace/new 2>/dev/null || echo refused; cat /workspace/x",
                         &code);
    ck_assert_str_eq(out, "keeprefused\nrefused\nkeep");
    for (size_t i = 0; i < ncalls; i++)
        ck_assert_msg(strcmp(calls[i].op, "writeFile") && strcmp(calls[i].op, "pwrite") &&
                          strcmp(calls[i].op, "truncate"),
                      "a write reached the host: %s", calls[i].op);
    vm_dispose(vm);
    jb_stop();
}
END_TEST

START_TEST(guest_host_silent_or_garbage)
{
    char vm[64], vm2[64];
    int code;
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", vm2);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hput("/x", 'f', "data", 4);
    /* garbage: EIO for the guest, a log line, and the sidecar carries on */
    hmode = H_WRONG_TYPE;
    const char *out = sh(vm, "cat /workspace/x 2>&1; echo rc=$?", &code);
    ck_assert_msg(strstr(out, "Input/output error") && strstr(out, "rc=1"), "%s", out);
    /* a host that never answers: EIO after the timeout; another VM is served meanwhile */
    hmode = H_NEVER;
    const char *args[] = {"-c", "cat /workspace/x 2>&1; echo rc=$?", NULL};
    exec_opts_t o = cmd("sh", args);
    result_t res;
    memset(&res, 0, sizeof res);
    res.code = -1;
    size_t n = ncalls; /* the guest may ask before ProcessStarted reaches us */
    ck_assert_int_eq(execute(vm, "slow", &o, NULL), SE_OK);
    wait_calls(n + 1, T);
    long long t0 = now_ms();
    ck_assert_int_eq(gfc(vm2, G(EXISTS, "/etc"), &r), SE_OK);
    ck_assert_msg(now_ms() - t0 < BRIDGE_TIMEOUT_MS, "another VM waited for the host");
    ck_assert(collect("slow", &res, T));
    ck_assert_msg(strstr(res.out.buf, "Input/output error") && strstr(res.out.buf, "rc=1"), "%s",
                  res.out.buf);
    result_free(&res);
    /* killed while its call waits: it goes at once; the late reply finds no request */
    memset(&res, 0, sizeof res);
    res.code = -1;
    const char *args2[] = {"-c", "cat /workspace/x", NULL};
    o = cmd("sh", args2);
    n = ncalls;
    ck_assert_int_eq(execute(vm, "killed", &o, NULL), SE_OK);
    wait_calls(n + 1, T);
    ck_assert_int_eq(kill_proc(vm, "killed", "SIGKILL"), SE_OK);
    ck_assert(collect("killed", &res, BRIDGE_TIMEOUT_MS / 2));
    ck_assert_int_eq(res.code, 137);
    result_free(&res);
    /* a guest still waiting when its VM is disposed */
    memset(&res, 0, sizeof res);
    res.code = -1;
    n = ncalls;
    ck_assert_int_eq(execute(vm, "left", &o, NULL), SE_OK);
    wait_calls(n + 1, T);
    vm_dispose(vm);
    msleep(BRIDGE_TIMEOUT_MS + 200); /* every timer of the disposed VM is gone */
    ck_assert_int_eq(gfc(vm2, G(EXISTS, "/etc"), &r), SE_OK);
    vm_dispose(vm2);
    jb_stop();
}
END_TEST

/* The number after what in the log (0 when absent). */
static long log_number(const char *what)
{
    FILE *f = fopen(jb_log, "r");
    char line[2048];
    long n = 0;
    while (f && !n && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, what);
        if (p)
            n = strtol(p + strlen(what), NULL, 10);
    }
    if (f)
        fclose(f);
    return n;
}

START_TEST(guest_connection_ends_with_its_supervisor)
{
    char vm[64], vm2[64];
    int code;
    sx_response_frame_t r;
    jb_start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", vm2);
    mount_ws(vm, "/workspace", false, "{\"mountId\":\"ws\"}");
    hput("/x", 'f', "one", 3);
    ck_assert_str_eq(sh(vm, "cat /workspace/x", &code), "one");
    /* the VM's init dies: its mount namespace, and so the FUSE connection, goes with it */
    long sup = log_number("supervisor started (host pid ");
    ck_assert_int_gt(sup, 1);
    ck_assert_int_eq(kill((pid_t)sup, SIGKILL), 0);
    for (int i = 0; i < 250 && !log_has("FUSE connection for /workspace ended"); i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 20, &ev);
    }
    ck_assert(log_has("FUSE connection for /workspace ended"));
    /* the mount still answers host requests, and the sidecar everyone */
    ck_assert_int_eq(gfc(vm, G(READ_FILE, "/workspace/x"), &r), SE_OK);
    ck_assert_str_eq(content_of(&r), "one");
    ck_assert_int_eq(gfc(vm2, G(EXISTS, "/etc"), &r), SE_OK);
    vm_dispose(vm);
    vm_dispose(vm2);
    jb_stop();
}
END_TEST

/* JB_TEST=name runs that test alone (with CK_RUN_CASE=wire or json). */
#define ADD(t, fn)                                                                                 \
    do {                                                                                           \
        const char *only = getenv("JB_TEST");                                                      \
        if (!only || strcmp(only, #fn) == 0)                                                       \
            tcase_add_test(t, fn);                                                                 \
    } while (0)

static Suite *jsbridge_suite(void)
{
    Suite *s = suite_create("jsbridge");
    TCase *t = tcase_create("json");
    ADD(t, args_every_operation);
    ADD(t, args_refused);
    ADD(t, error_errno);
    ADD(t, result_json);
    ADD(t, result_bytes);
    ADD(t, result_stat);
    ADD(t, result_dir);
    ADD(t, result_string_bool);
    suite_add_tcase(s, t);
    t = tcase_create("wire");
    tcase_set_timeout(t, 120);
    ADD(t, fs_call_operations);
    ADD(t, fs_call_read_only_and_policy);
    ADD(t, late_reply_dropped);
    ADD(t, never_answers_while_others_are_served);
    ADD(t, garbage_replies);
    ADD(t, calls_in_flight_are_bounded);
    ADD(t, dispose_with_calls_pending);
    ADD(t, guest_cat_ls_echo);
    ADD(t, guest_read_only);
    ADD(t, guest_host_silent_or_garbage);
    ADD(t, guest_connection_ends_with_its_supervisor);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(jsbridge_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
