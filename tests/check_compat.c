/*
 * check_compat.c - `schemac --compat OLD NEW`: a table of schema pairs, one or more per rule
 * (compatible and breaking), each with the expected exit status and key lines of the report;
 * then the command itself (exit statuses, stdout and stderr).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schemac.h"

#ifndef SCHEMAC_PATH
#define SCHEMAC_PATH "build/schemac"
#endif

typedef struct compat_case {
    const char *name;
    const char *old_text, *new_text;
    int status;
    const char *lines[3]; /* each must appear in the report */
    const char *absent;   /* must not appear (NULL: no check) */
} compat_case_t;

#define P "type P struct {\n  x: u32\n  y: u32\n}\n"

static const compat_case_t cases[] = {
    {"identical", P, P, 0, {"wire-compatible: no breaking change, 0 compatible changes"}, "error"},
    {"struct field added at the end",
     P,
     "type P struct {\n  x: u32\n  y: u32\n  z: u8\n}\n",
     1,
     {"new.bare:4:3: error: field 'z' added to 'P' at the end: BARE structs carry no field count",
      "old.bare:1:8: note: 'P' had 2 fields", "1 breaking change, 0 compatible changes"},
     NULL},
    {"struct field removed",
     P,
     "type P struct {\n  x: u32\n}\n",
     1,
     {"old.bare:3:3: error: field 'y' removed from 'P'", "new.bare:1:8: note: 'P' is here"},
     NULL},
    {"struct fields reordered",
     P,
     "type P struct {\n  y: u32\n  x: u32\n}\n",
     1,
     {"new.bare:3:3: error: field 'x' of 'P' moved from position 1 to 2",
      "old.bare:2:3: note: it was here", "field 'y' of 'P' moved from position 2 to 1"},
     NULL},
    {"struct field retyped",
     P,
     "type P struct {\n  x: u64\n  y: u32\n}\n",
     1,
     {"new.bare:2:3: error: field 'x' of 'P' changed type from u32 to u64",
      "old.bare:2:3: note: it was u32 here"},
     NULL},
    {"struct field renamed",
     P,
     "type P struct {\n  left: u32\n  y: u32\n}\n",
     0,
     {"new.bare:2:3: warning: field 'x' of 'P' renamed to 'left' (the same on the wire)",
      "old.bare:2:3: note: it was called this here"},
     "error"},
    {"struct field renamed and retyped",
     P,
     "type P struct {\n  left: str\n  y: u32\n}\n",
     1,
     {"error: field 'x' of 'P' (u32) replaced by 'left' of type str"},
     NULL},
    {"enum value added at the end",
     "type E enum { A B }\n",
     "type E enum { A B C }\n",
     0,
     {"new.bare:1:19: note: compatible: value 'C' (2) added at the end of 'E'; old readers "
      "reject messages that use it",
      "wire-compatible: no breaking change, 1 compatible change"},
     "error"},
    {"enum value removed",
     "type E enum { A B C }\n",
     "type E enum { A C = 2 }\n",
     1,
     {"old.bare:1:17: error: value 'B' (1) removed from 'E': new readers reject old messages"},
     NULL},
    {"enum value inserted, renumbering the rest",
     "type E enum { A B }\n",
     "type E enum { A X B }\n",
     1,
     {"error: value 'B' of 'E' renumbered from 1 to 2"},
     NULL},
    {"enum value renamed",
     "type E enum { A B }\n",
     "type E enum { A BEE }\n",
     0,
     {"warning: value 1 of 'E' renamed from 'B' to 'BEE' (the same on the wire)"},
     "error"},
    {"enum value added in a gap",
     "type E enum { A B = 5 }\n",
     "type E enum { A C = 2 B = 5 }\n",
     0,
     {"note: compatible: value 'C' (2) added to 'E'"},
     "error"},
    {"union member added at the end",
     "type A u8\ntype B u16\ntype U union { A | B }\n",
     "type A u8\ntype B u16\ntype C u32\ntype U union { A | B | C }\n",
     0,
     {"new.bare:4:24: note: compatible: member 'C' (tag 2) added at the end of 'U'"},
     "error"},
    {"union member removed",
     "type A u8\ntype B u16\ntype U union { A | B }\n",
     "type A u8\ntype B u16\ntype U union { A }\n",
     1,
     {"old.bare:3:20: error: member 'B' (tag 1) removed from 'U'"},
     NULL},
    {"union member renumbered",
     "type A u8\ntype B u16\ntype U union { A | B }\n",
     "type A u8\ntype B u16\ntype U union { A | B = 5 }\n",
     1,
     {"error: member 'B' of 'U' moved from tag 1 to 5: unions are encoded by tag"},
     NULL},
    {"union member retyped under the same tag",
     "type U union { u8 | str }\n",
     "type U union { u8 | u16 }\n",
     1,
     {"error: member 'str' (tag 1) of 'U' changed type from str to u16"},
     NULL},
    {"fixed data length changed",
     "type S struct { d: data[16] }\n",
     "type S struct { d: data[32] }\n",
     1,
     {"error: field 'd' of 'S' changed its fixed length from 16 to 32 (data[16] to data[32])"},
     NULL},
    {"fixed list length changed",
     "type S struct { l: list<u8>[3] }\n",
     "type S struct { l: list<u8>[4] }\n",
     1,
     {"changed its fixed length from 3 to 4"},
     NULL},
    {"optional added",
     "type S struct { v: u32 }\n",
     "type S struct { v: optional<u32> }\n",
     1,
     {"error: field 'v' of 'S' changed type from u32 to optional<u32>: an optional has a "
      "presence byte"},
     NULL},
    {"optional removed",
     "type S struct { v: optional<str> }\n",
     "type S struct { v: str }\n",
     1,
     {"changed type from optional<str> to str"},
     NULL},
    {"optional element retyped",
     "type S struct { v: optional<u8> }\n",
     "type S struct { v: optional<i8> }\n",
     1,
     {"error: the value of field 'v' of 'S' changed type from u8 to i8"},
     NULL},
    {"list became fixed",
     "type S struct { l: list<str> }\n",
     "type S struct { l: list<str>[2] }\n",
     1,
     {"changed type from list<str> to list<str>[2]: a variable list has a count"},
     NULL},
    {"list items retyped",
     "type S struct { l: list<u16> }\n",
     "type S struct { l: list<u32> }\n",
     1,
     {"error: the items of field 'l' of 'S' changed type from u16 to u32"},
     NULL},
    {"map key retyped",
     "type S struct { m: map<str><u8> }\n",
     "type S struct { m: map<u32><u8> }\n",
     1,
     {"error: the keys of field 'm' of 'S' changed type from str to u32"},
     NULL},
    {"map value retyped",
     "type S struct { m: map<str><u8> }\n",
     "type S struct { m: map<str><bool> }\n",
     1,
     {"error: the values of field 'm' of 'S' changed type from u8 to bool"},
     NULL},
    {"alias and its target are the same",
     "type Name str\ntype S struct { n: Name }\n",
     "type Name str\ntype S struct { n: str }\n",
     0,
     {"wire-compatible: no breaking change, 0 compatible changes"},
     "warning"},
    {"alias retargeted",
     "type Id u32\n",
     "type Id u64\n",
     1,
     {"error: type 'Id' changed type from u32 to u64"},
     NULL},
    {"data and list<u8> are the same bytes",
     "type S struct { b: data  f: data[2] }\n",
     "type S struct { b: list<u8>  f: list<u8>[2] }\n",
     0,
     {"wire-compatible: no breaking change, 0 compatible changes"},
     "error"},
    {"str to data",
     "type S struct { s: str }\n",
     "type S struct { s: data }\n",
     0,
     {"warning: field 's' of 'S' changed type from str to data: old values are valid data"},
     NULL},
    {"data to str",
     "type S struct { s: data }\n",
     "type S struct { s: str }\n",
     1,
     {"changed type from data to str: old values need not be UTF-8"},
     NULL},
    {"kind changed",
     "type X struct { a: u8 }\n",
     "type X union { u8 }\n",
     1,
     {"error: type 'X' changed type from struct to union"},
     NULL},
    {"void member became a struct",
     "type V void\ntype U union { u8 | V }\n",
     "type V struct { a: u8 }\ntype U union { u8 | V }\n",
     1,
     {"error: type 'V' changed type from void to struct"},
     NULL},
    {"referenced type renamed",
     "type A struct { x: u8 }\ntype S struct { a: A }\n",
     "type B struct { x: u8 }\ntype S struct { a: B }\n",
     0,
     {"new.bare:1:6: warning: type 'A' renamed to 'B' (the same on the wire)",
      "old.bare:1:6: note: it was called this here"},
     "error"},
    {"referenced type renamed and changed",
     "type A struct { x: u8 }\ntype S struct { a: A }\n",
     "type B struct { x: u16 }\ntype S struct { a: B }\n",
     1,
     {"new.bare:1:17: error: field 'x' of 'B' changed type from u8 to u16"},
     NULL},
    {"reference retargeted to another type",
     "type A struct { x: u8 }\ntype B struct { x: str }\ntype S struct { a: A }\n",
     "type A struct { x: u8 }\ntype B struct { x: str }\ntype S struct { a: B }\n",
     1,
     {"new.bare:3:17: error: field 'a' of 'S' changed type from A to B",
      "old.bare:3:17: note: it was 'A' here"},
     NULL},
    {"reference retargeted to a twin",
     "type A struct { x: u8 }\ntype B struct { y: u8 }\ntype S struct { a: A }\n",
     "type A struct { x: u8 }\ntype B struct { y: u8 }\ntype S struct { a: B }\n",
     0,
     {"warning: field 'a' of 'S' now names 'B' instead of 'A' (compatible on the wire)"},
     "error"},
    {"root type renamed",
     "type Frame struct { a: u8 }\n",
     "type Message struct { a: u8 }\n",
     0,
     {"warning: type 'Frame' renamed to 'Message': the same on the wire, but programs that "
      "encode or decode it by name must change"},
     "error"},
    {"root type removed",
     "type A u8\ntype Gone struct { a: A }\n",
     "type A u8\n",
     0,
     {"old.bare:2:6: warning: type 'Gone' removed; no remaining type referred to it"},
     "error"},
    {"type added",
     "type A u8\n",
     "type A u8\ntype New struct { a: A }\n",
     0,
     {"new.bare:2:6: note: compatible: type 'New' added"},
     "error"},
    {"anonymous struct changed inside",
     "type S struct { in: struct { a: u8 } }\n",
     "type S struct { in: struct { a: i8 } }\n",
     1,
     {"error: field 'a' of 'S.in' changed type from u8 to i8"},
     NULL},
};

static char *run_compat(const compat_case_t *t, int *status, bool legacy)
{
    schemac_options_t o, n;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    memset(&o, 0, sizeof o);
    o.schema_path = "old.bare";
    o.text = t->old_text;
    o.text_len = strlen(t->old_text);
    o.legacy = legacy;
    n = o;
    n.schema_path = "new.bare";
    n.text = t->new_text;
    n.text_len = strlen(t->new_text);
    *status = schemac_compat(&o, &n, out, out);
    fclose(out);
    return text;
}

START_TEST(test_compat_table)
{
    const compat_case_t *t = &cases[_i];
    int status;
    char *report = run_compat(t, &status, false);
    ck_assert_msg(status == t->status, "%s: exit %d, want %d\n%s", t->name, status, t->status,
                  report);
    for (int i = 0; i < 3 && t->lines[i]; i++)
        ck_assert_msg(strstr(report, t->lines[i]) != NULL, "%s: no line\n  %s\nin\n%s", t->name,
                      t->lines[i], report);
    if (t->absent)
        ck_assert_msg(strstr(report, t->absent) == NULL, "%s: '%s' in\n%s", t->name, t->absent,
                      report);
    /* the comparison is symmetric in what it finds: NEW against itself is always clean */
    compat_case_t self = *t;
    self.old_text = t->new_text;
    free(report);
    report = run_compat(&self, &status, false);
    ck_assert_msg(status == 0 && strstr(report, "0 compatible changes"), "%s: %s", t->name, report);
    free(report);
}
END_TEST

START_TEST(test_recursive_schemas)
{
    static const char rec_old[] = "type Expr union { Lit | Neg }\n"
                                  "type Lit struct { v: i64 }\n"
                                  "type Neg struct { e: optional<Expr> }\n";
    static const char rec_new[] = "type Expr union { Lit | Neg | Abs }\n"
                                  "type Lit struct { v: i64 }\n"
                                  "type Neg struct { e: optional<Expr> }\n"
                                  "type Abs struct { e: Expr }\n";
    static const char rec_renamed[] = "type Expr union { Lit | Minus }\n"
                                      "type Lit struct { v: i64 }\n"
                                      "type Minus struct { e: optional<Expr> }\n";
    compat_case_t t = {"recursive", rec_old, rec_new, 0, {NULL}, NULL};
    int status;
    char *report = run_compat(&t, &status, true);
    ck_assert_msg(status == 0, "%s", report);
    ck_assert_ptr_nonnull(strstr(report, "member 'Abs' (tag 2) added at the end of 'Expr'"));
    free(report);
    t.new_text = rec_renamed;
    report = run_compat(&t, &status, true);
    ck_assert_msg(status == 0, "%s", report);
    ck_assert_ptr_nonnull(strstr(report, "type 'Neg' renamed to 'Minus' (the same on the wire)"));
    free(report);
}
END_TEST

START_TEST(test_invalid_schema_is_a_usage_error)
{
    compat_case_t t = {"invalid", "type A u8\n", "type A struct { b: Nope }\n", 2, {NULL}, NULL};
    int status;
    char *report = run_compat(&t, &status, false);
    ck_assert_int_eq(status, SCHEMAC_USAGE_ERROR);
    ck_assert_ptr_nonnull(strstr(report, "new.bare:1:20: error: unknown type 'Nope'"));
    free(report);
}
END_TEST

/* ---- the command ---- */

static char scratch[64];

static void spit(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static char *slurp_fd(int fd)
{
    char *buf = malloc(65536);
    size_t n = 0;
    ssize_t k;
    ck_assert_ptr_nonnull(buf);
    lseek(fd, 0, SEEK_SET);
    while ((k = read(fd, buf + n, 65535 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    return buf;
}

/* Runs schemac in the scratch directory; returns the exit status, stdout and stderr. */
static int run(const char *const *args, char **out, char **err)
{
    char op[128], ep[128];
    snprintf(op, sizeof op, "%s/out", scratch);
    snprintf(ep, sizeof ep, "%s/err", scratch);
    int o = open(op, O_RDWR | O_CREAT | O_TRUNC, 0600),
        e = open(ep, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert(o >= 0 && e >= 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        const char *argv[16] = {SCHEMAC_PATH};
        size_t n = 1;
        for (; *args && n < 15; args++)
            argv[n++] = *args;
        argv[n] = NULL;
        if (dup2(o, 1) < 0 || dup2(e, 2) < 0 || chdir(scratch) != 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    ck_assert(WIFEXITED(ws));
    *out = slurp_fd(o);
    *err = slurp_fd(e);
    close(o);
    close(e);
    return WEXITSTATUS(ws);
}

static void setup(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/check_compat.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
    spit("old.bare", P);
    spit("new.bare", "type P struct {\n  x: u32\n  y: u32\n  z: u8\n}\n");
    spit("bad.bare", "type P strukt {}\n");
}

static void teardown(void)
{
    const char *names[] = {"old.bare", "new.bare", "bad.bare", "out", "err"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch, names[i]);
        unlink(path);
    }
    rmdir(scratch);
}

START_TEST(test_command)
{
    char *out, *err;
    ck_assert_int_eq(run((const char *[]){"--compat", "old.bare", "new.bare", NULL}, &out, &err),
                     1);
    ck_assert_ptr_nonnull(strstr(out, "new.bare:4:3: error: field 'z' added to 'P' at the end"));
    ck_assert_ptr_nonnull(strstr(out, "1 breaking change, 0 compatible changes\n"));
    ck_assert_str_eq(err, "");
    free(out);
    free(err);
    ck_assert_int_eq(run((const char *[]){"--compat", "old.bare", "old.bare", NULL}, &out, &err),
                     0);
    ck_assert_str_eq(out, "wire-compatible: no breaking change, 0 compatible changes\n");
    free(out);
    free(err);
    /* an invalid or missing schema, or a wrong number of them: usage errors */
    ck_assert_int_eq(run((const char *[]){"--compat", "old.bare", "bad.bare", NULL}, &out, &err),
                     2);
    ck_assert_ptr_nonnull(strstr(err, "bad.bare:1:"));
    free(out);
    free(err);
    ck_assert_int_eq(run((const char *[]){"--compat", "old.bare", "none.bare", NULL}, &out, &err),
                     2);
    ck_assert_ptr_nonnull(strstr(err, "cannot read 'none.bare'"));
    free(out);
    free(err);
    ck_assert_int_eq(run((const char *[]){"--compat", "old.bare", NULL}, &out, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "needs two schemas"));
    free(out);
    free(err);
}
END_TEST

static Suite *compat_suite(void)
{
    Suite *s = suite_create("compat");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_compat_table, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_recursive_schemas);
    tcase_add_test(tc, test_invalid_schema_is_a_usage_error);
    suite_add_tcase(s, tc);
    TCase *cmd = tcase_create("command");
    tcase_add_checked_fixture(cmd, setup, teardown);
    tcase_add_test(cmd, test_command);
    suite_add_tcase(s, cmd);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(compat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
