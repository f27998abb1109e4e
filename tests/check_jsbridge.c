/*
 * check_jsbridge.c - the js_bridge mount plugin. "json": the call's JSON (args per operation,
 * the errno of an error text, the strict readers of every result shape), linked directly.
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

/* JB_TEST=name runs that test alone (with CK_RUN_CASE=json). */
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
