/*
 * check_cli.c - the schemac command as a user runs it: exit statuses, what goes to stdout and
 * stderr, which files are written (all or nothing, no temporaries left), and reproducible
 * output. Each test runs the built binary in a scratch directory with fork and exec.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif
#ifndef SCHEMAC_PATH
#define SCHEMAC_PATH SOURCE_DIR "/build/schemac"
#endif

static const char valid_schema[] = "# a point\n"
                                   "type Point struct { x: i32 y: i32 }\n"
                                   "type Shape union { Point | str }\n";
static const char valid_canonical[] = "type Point struct {\n"
                                      "  x: i32\n"
                                      "  y: i32\n"
                                      "}\n"
                                      "\n"
                                      "type Shape union {\n"
                                      "  Point |\n"
                                      "  str\n"
                                      "}\n";
static const char invalid_schema[] = "type Job struct {\n"
                                     "  a: Nope1\n"
                                     "  b: Nope2\n"
                                     "  c: Nope3\n"
                                     "}\n";

/* One run of schemac: exit status and everything it printed. */
typedef struct run {
    int status;
    char *out, *err;
    size_t out_len, err_len;
} run_t;

static char scratch[256]; /* this test's directory */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* A path inside the scratch directory. */
static const char *in_scratch(const char *rel)
{
    static char bufs[4][512];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", scratch, rel);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/check_cli.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
    spit(in_scratch("valid.bare"), valid_schema);
    spit(in_scratch("invalid.bare"), invalid_schema);
    ck_assert_int_eq(mkdir(in_scratch("out"), 0755), 0);
}

static void teardown(void)
{
    rm_rf(scratch);
}

/* Runs schemac with args (NULL-terminated) in directory cwd, capturing stdout and stderr. */
static run_t run_in(const char *cwd, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = SCHEMAC_PATH;
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;

    char out_path[600], err_path[600];
    snprintf(out_path, sizeof out_path, "%s/.stdout", scratch);
    snprintf(err_path, sizeof err_path, "%s/.stderr", scratch);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || chdir(cwd) != 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    run_t r;
    ck_assert_msg(WIFEXITED(ws), "schemac died (signal %d)", WTERMSIG(ws));
    r.status = WEXITSTATUS(ws);
    ck_assert_msg(r.status != 127, "cannot run %s", SCHEMAC_PATH);
    r.out = slurp(out_path, &r.out_len);
    r.err = slurp(err_path, &r.err_len);
    unlink(out_path);
    unlink(err_path);
    ck_assert_ptr_nonnull(r.out);
    ck_assert_ptr_nonnull(r.err);
    return r;
}

#define RUN(...) run_in(scratch, (const char *const[]){__VA_ARGS__, NULL})

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

/* How many names in dir contain `containing`; with NULL, how many names there are. */
static int count_entries(const char *dir, const char *containing)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!containing || strstr(e->d_name, containing))
            n++;
    }
    closedir(d);
    return n;
}

static void assert_no_temporaries(const char *dir)
{
    ck_assert_msg(count_entries(dir, ".tmp") == 0, "a temporary file was left in %s", dir);
}

/* ---- success ---- */

START_TEST(test_valid_writes_both)
{
    run_t r = RUN("-o", "out", "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_uint_eq(r.err_len, 0);
    ck_assert_uint_eq(r.out_len, 0);
    size_t hlen, clen;
    char *h = slurp(in_scratch("out/valid.h"), &hlen);
    char *c = slurp(in_scratch("out/valid.c"), &clen);
    ck_assert_msg(h && hlen > 0, "no header");
    ck_assert_msg(c && clen > 0, "no source");
    ck_assert_ptr_nonnull(strstr(h, "typedef struct valid_point valid_point_t;"));
    ck_assert_ptr_nonnull(strstr(c, "#include \"valid.h\""));
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 2);
    assert_no_temporaries(in_scratch("out"));
    free(h);
    free(c);
    run_free(&r);
}
END_TEST

START_TEST(test_name_and_prefix)
{
    run_t r = RUN("-o", "out", "-n", "proto", "--prefix=pp", "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    char *h = slurp(in_scratch("out/proto.h"), NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(strstr(h, "#ifndef PROTO_H"));
    ck_assert_ptr_nonnull(strstr(h, "pp_point_t"));
    ck_assert(exists(in_scratch("out/proto.c")));
    free(h);
    run_free(&r);
}
END_TEST

/* ---- schema errors: status 1, diagnostics, nothing written ---- */

START_TEST(test_invalid_writes_nothing)
{
    run_t r = RUN("-o", "out", "invalid.bare");
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(r.out_len, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "invalid.bare:2:6: error: unknown type 'Nope1'\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "    2 |   a: Nope1\n      |      ^~~~~\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "3 errors generated.\n"));
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
}
END_TEST

START_TEST(test_invalid_keeps_old_outputs)
{
    static const char old_h[] = "old header\n", old_c[] = "old source\n";
    spit(in_scratch("out/invalid.h"), old_h);
    spit(in_scratch("out/invalid.c"), old_c);
    spit(in_scratch("out/invalid.d"), "old rule\n");
    run_t r = RUN("-o", "out", "-MF", "out/invalid.d", "invalid.bare");
    ck_assert_int_eq(r.status, 1);
    char *h = slurp(in_scratch("out/invalid.h"), NULL);
    char *c = slurp(in_scratch("out/invalid.c"), NULL);
    char *d = slurp(in_scratch("out/invalid.d"), NULL);
    ck_assert_str_eq(h, old_h);
    ck_assert_str_eq(c, old_c);
    ck_assert_str_eq(d, "old rule\n");
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 3);
    assert_no_temporaries(in_scratch("out"));
    free(h);
    free(c);
    free(d);
    run_free(&r);
}
END_TEST

START_TEST(test_error_limit)
{
    const char *spellings[] = {"-ferror-limit=1", "--error-limit=1", "--error-limit", "1"};
    for (size_t i = 0; i < 3; i++) {
        run_t r = i < 2 ? RUN(spellings[i], "-c", "invalid.bare")
                        : RUN(spellings[2], spellings[3], "-c", "invalid.bare");
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(strstr(r.err, "'Nope1'") && !strstr(r.err, "'Nope2'"),
                      "%s: more than one error shown:\n%s", spellings[i], r.err);
        ck_assert_ptr_nonnull(strstr(r.err, "too many errors emitted, stopping now "
                                            "[-ferror-limit=1]\n"));
        run_free(&r);
    }
    run_t all = RUN("-ferror-limit=0", "-c", "invalid.bare");
    ck_assert_int_eq(all.status, 1);
    ck_assert_ptr_nonnull(strstr(all.err, "'Nope3'"));
    ck_assert_ptr_null(strstr(all.err, "too many errors"));
    run_free(&all);
}
END_TEST

/* ---- usage and I/O errors: status 2 ---- */

START_TEST(test_missing_schema)
{
    run_t r = RUN("-o", "out", "no-such.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot read 'no-such.bare'"));
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
}
END_TEST

START_TEST(test_output_dir_missing)
{
    run_t r = RUN("-o", "no-such-dir", "valid.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write 'no-such-dir/valid.h'"));
    ck_assert(!exists(in_scratch("no-such-dir")));
    run_free(&r);
}
END_TEST

START_TEST(test_output_dir_not_a_directory)
{
    spit(in_scratch("file"), "x");
    run_t r = RUN("-o", "file", "valid.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write 'file/valid.h'"));
    run_free(&r);
}
END_TEST

START_TEST(test_output_dir_unwritable)
{
    if (geteuid() == 0)
        return; /* root writes anywhere: the two tests above cover the failure path */
    ck_assert_int_eq(chmod(in_scratch("out"), 0500), 0);
    run_t r = RUN("-o", "out", "valid.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write 'out/valid.h'"));
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
}
END_TEST

/* The depfile cannot be written after the header and source temporaries were: none is left. */
START_TEST(test_late_write_failure_leaves_nothing)
{
    run_t r = RUN("-o", "out", "-MF", "no-such-dir/valid.d", "valid.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write 'no-such-dir/valid.d'"));
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    assert_no_temporaries(in_scratch("out"));
    run_free(&r);
}
END_TEST

/* Arguments that are a usage error, each on its own. */
static const char *const usage_errors[][4] = {
    {"--no-such-option", "valid.bare", NULL},
    {NULL},
    {"valid.bare", "invalid.bare", NULL},
    {"--prefix=1abc", "valid.bare", NULL},
    {"-p", "__reserved", "valid.bare", NULL},
    {"--prefix=has-dash", "valid.bare", NULL},
    {"-ferror-limit=many", "valid.bare", NULL},
    {"-o", NULL},
    {"--suffix", "a/b", "valid.bare", NULL},
    {"--suffix=", "valid.bare", NULL},
    {"valid.bare", "-MF", NULL},
    {"-MT", NULL},
    {"--dialect", "go-bare", "valid.bare", NULL},
};

START_TEST(test_usage_errors)
{
    const char *const *args = usage_errors[_i];
    run_t r = run_in(scratch, args);
    ck_assert_msg(r.status == 2, "case %d: exit %d\n%s", _i, r.status, r.err);
    ck_assert_msg(r.err_len > 0, "case %d: no message", _i);
    ck_assert_uint_eq(r.out_len, 0);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    ck_assert(!exists(in_scratch("valid.h")));
    run_free(&r);
}
END_TEST

/* Names that would make reserved or unusable identifiers: refused with the reason and a fix. */
static const struct {
    const char *file, *name, *want;
} bad_names[] = {
    /* from the file name: checked like -n, with the way out */
    {"__x.bare", NULL,
     "error: invalid output name '__x' (from the file name '__x.bare'): it starts with '_'"},
    {"9x.bare", NULL,
     "error: invalid output name '9x' (from the file name '9x.bare'): it is "
     "not a C identifier"},
    {"_lower.bare", NULL, "name the outputs with -n NAME\n"},
    /* -n: 64 characters is a length problem, not a malformed identifier */
    {"valid.bare", "a234567890123456789012345678901234567890123456789012345678901234",
     "it is longer than 63 characters"},
    {"valid.bare", "_valid", "error: invalid name '_valid': it starts with '_'"},
};

START_TEST(test_bad_names)
{
    const char *file = bad_names[_i].file;
    if (strcmp(file, "valid.bare") != 0)
        spit(in_scratch(file), valid_schema);
    const char *with_name[] = {"-o", "out", "-n", bad_names[_i].name, file, NULL};
    const char *without[] = {"-o", "out", file, NULL};
    run_t r = run_in(scratch, bad_names[_i].name ? with_name : without);
    ck_assert_msg(r.status == 2, "case %d: exit %d\n%s", _i, r.status, r.err);
    ck_assert_msg(strstr(r.err, bad_names[_i].want), "case %d: %s", _i, r.err);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
}
END_TEST

/* A 63-character name is the longest accepted; a file name that is fine needs no -n. */
START_TEST(test_longest_name)
{
    run_t r = RUN("-o", "out", "-n",
                  "a23456789012345678901234567890123456789012345678901234567890123", "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 2);
    run_free(&r);
}
END_TEST

/* ---- informational options: stdout, status 0, nothing written ---- */

START_TEST(test_version)
{
    run_t r = RUN("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(r.out, "schemac ", 8) == 0, "version: %s", r.out);
    ck_assert_uint_eq(r.err_len, 0);
    run_free(&r);
    r = RUN("-V");
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(r.out, "schemac ", 8) == 0, "version: %s", r.out);
    run_free(&r);
}
END_TEST

START_TEST(test_help)
{
    run_t r = RUN("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strncmp(r.out, "usage: schemac", 14) == 0, "help: %s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "--legacy"));
    ck_assert_uint_eq(r.err_len, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_make_rule)
{
    run_t r = RUN("-M", "-o", "out", "valid.bare");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "out/valid.h out/valid.c: valid.bare\n");
    ck_assert_uint_eq(r.err_len, 0);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
    /* no -o: the current directory */
    r = RUN("-M", "-n", "proto", "valid.bare");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "./proto.h ./proto.c: valid.bare\n");
    ck_assert(!exists(in_scratch("proto.h")));
    run_free(&r);
}
END_TEST

START_TEST(test_depfile)
{
    const char *forms[][2] = {{"-MF", "out/a.d"}, {"--depfile", "out/b.d"},
                              {"--depfile=out/c.d", NULL}};
    const char *files[] = {"out/a.d", "out/b.d", "out/c.d"};
    for (size_t i = 0; i < 3; i++) {
        run_t r = forms[i][1] ? RUN("-o", "out", forms[i][0], forms[i][1], "valid.bare")
                              : RUN("-o", "out", forms[i][0], "valid.bare");
        ck_assert_msg(r.status == 0, "%s: exit %d: %s", forms[i][0], r.status, r.err);
        ck_assert_uint_eq(r.out_len, 0);
        char *rule = slurp(in_scratch(files[i]), NULL);
        ck_assert_msg(rule != NULL, "%s: no depfile", forms[i][0]);
        ck_assert_str_eq(rule, "out/valid.h out/valid.c: valid.bare\n");
        free(rule);
        ck_assert(exists(in_scratch("out/valid.h")));
        ck_assert(exists(in_scratch("out/valid.c")));
        assert_no_temporaries(in_scratch("out"));
        run_free(&r);
    }
}
END_TEST

START_TEST(test_print)
{
    run_t r = RUN("--print", "-o", "out", "valid.bare");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, valid_canonical);
    ck_assert_uint_eq(r.err_len, 0);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
    run_free(&r);
    /* the canonical text is itself a schema that prints the same */
    spit(in_scratch("canonical.bare"), valid_canonical);
    r = RUN("--print", "canonical.bare");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, valid_canonical);
    run_free(&r);
}
END_TEST

/* --dialect vbare reaches the parser: vbare's spellings compile, and only with it. */
START_TEST(test_dialect_vbare)
{
    spit(in_scratch("v.bare"), "// vbare\ntype M map<string, u8>\n");
    run_t r = RUN("--dialect", "vbare", "--print", "v.bare");
    ck_assert_msg(r.status == 0, "exit %d\n%s", r.status, r.err);
    ck_assert_str_eq(r.out, "type M map<str><u8>\n");
    run_free(&r);
    r = RUN("--legacy", "-c", "v.bare");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "'//' starts a comment only in --dialect vbare"));
    run_free(&r);
}
END_TEST

START_TEST(test_check_only)
{
    const char *flags[] = {"-c", "--check"};
    for (size_t i = 0; i < 2; i++) {
        run_t r = RUN(flags[i], "-o", "out", "valid.bare");
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.out_len, 0);
        ck_assert_uint_eq(r.err_len, 0);
        ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
        run_free(&r);
        r = RUN(flags[i], "-o", "out", "invalid.bare");
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_nonnull(strstr(r.err, "error: unknown type 'Nope1'"));
        ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 0);
        run_free(&r);
    }
}
END_TEST

/*
 * gcc's dependency options, each against the rule gcc writes in the same case (gcc -M foo.c
 * gives "foo.o: foo.c"; here the targets are the two outputs and the dependency the schema).
 */
START_TEST(test_gcc_dep_options)
{
    static const char rule[] = "out/valid.h out/valid.c: valid.bare\n";
    /* -M -MF: the rule goes to the file only, and nothing is generated (gcc -M -MF). */
    run_t r = RUN("-M", "-MF", "out/m.d", "-o", "out", "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_uint_eq(r.out_len, 0);
    char *d = slurp(in_scratch("out/m.d"), NULL);
    ck_assert_msg(d != NULL, "-M -MF wrote no file");
    ck_assert_str_eq(d, rule);
    free(d);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 1);
    run_free(&r);
    unlink(in_scratch("out/m.d"));

    /* -MD and -MMD: generate, and the depfile is the header's path with .d appended (not
     * replacing .h: gcc -MD writes out/valid.d when it compiles out/valid.c). */
    const char *md[] = {"-MD", "-MMD"};
    for (size_t i = 0; i < 2; i++) {
        r = RUN(md[i], "-o", "out", "valid.bare");
        ck_assert_msg(r.status == 0, "%s: exit %d: %s", md[i], r.status, r.err);
        ck_assert_uint_eq(r.out_len, 0);
        d = slurp(in_scratch("out/valid.h.d"), NULL);
        ck_assert_msg(d != NULL, "%s wrote no out/valid.h.d", md[i]);
        ck_assert_str_eq(d, rule);
        free(d);
        ck_assert(exists(in_scratch("out/valid.h")) && exists(in_scratch("out/valid.c")));
        assert_no_temporaries(in_scratch("out"));
        run_free(&r);
        rm_rf(in_scratch("out/valid.h.d"));
    }

    /* -MD -MF, joined -MFfile; -MT as written, -MQ quoted, several joined by a space; -MP adds
     * nothing for the main file, as gcc -MP on a file that includes nothing. */
    r = RUN("-MD", "-MFout/j.d", "-MT", "a b", "-MTlib", "-MQ", "x y$#", "-MP", "-o", "out",
            "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    d = slurp(in_scratch("out/j.d"), NULL);
    ck_assert_msg(d != NULL, "-MFout/j.d wrote no file");
    ck_assert_str_eq(d, "a b lib x\\ y$$\\#: valid.bare\n");
    free(d);
    ck_assert(!exists(in_scratch("out/valid.h.d")));
    run_free(&r);

    /* Paths quoted as gcc quotes them: blank (and the backslashes before it), '$', '#'. */
    spit(in_scratch("my sch$#.bare"), valid_schema);
    spit(in_scratch("a\\ b.bare"), valid_schema);
    r = RUN("-M", "-n", "ms", "-o", "out", "my sch$#.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "out/ms.h out/ms.c: my\\ sch$$\\#.bare\n");
    run_free(&r);
    r = RUN("-M", "-n", "ab", "-o", "out", "a\\ b.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "out/ab.h out/ab.c: a\\\\\\ b.bare\n");
    run_free(&r);
}
END_TEST

/* A hand-written file in an output's place is refused and left as it was; nothing is written. */
START_TEST(test_refuse_hand_written)
{
    static const char mine[] = "/* my own valid.c */\nint main(void) { return 0; }\n";
    spit(in_scratch("out/valid.c"), mine);
    run_t r = RUN("-o", "out", "valid.bare");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "refusing to overwrite 'out/valid.c': it was not generated by "
                                "schemac") != NULL,
                  "message: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "--suffix"));
    char *c = slurp(in_scratch("out/valid.c"), NULL);
    ck_assert_str_eq(c, mine);
    free(c);
    ck_assert_int_eq(count_entries(in_scratch("out"), NULL), 1);
    run_free(&r);
    /* Its own earlier output is replaced as before. */
    ck_assert_int_eq(unlink(in_scratch("out/valid.c")), 0);
    for (int i = 0; i < 2; i++) {
        r = RUN("-o", "out", "valid.bare");
        ck_assert_msg(r.status == 0, "run %d: exit %d: %s", i, r.status, r.err);
        run_free(&r);
    }
}
END_TEST

/* --suffix: NAME{SUFFIX}.h and .c beside a hand-written NAME.c, which is not touched. */
START_TEST(test_suffix)
{
    static const char mine[] = "#include \"valid.bare.h\"\n";
    spit(in_scratch("out/valid.c"), mine);
    run_t r = RUN("--suffix", ".bare", "-MD", "-o", "out", "valid.bare");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    char *h = slurp(in_scratch("out/valid.bare.h"), NULL);
    char *c = slurp(in_scratch("out/valid.bare.c"), NULL);
    char *d = slurp(in_scratch("out/valid.bare.h.d"), NULL);
    char *own = slurp(in_scratch("out/valid.c"), NULL);
    ck_assert_msg(h && c && d, "missing output");
    ck_assert_ptr_nonnull(strstr(c, "\n#include \"valid.bare.h\"\n"));
    ck_assert_ptr_nonnull(strstr(h, "#ifndef VALID_BARE_H\n"));
    ck_assert_str_eq(d, "out/valid.bare.h out/valid.bare.c: valid.bare\n");
    ck_assert_str_eq(own, mine);
    free(h);
    free(c);
    free(d);
    free(own);
    run_free(&r);
    r = RUN("-M", "--suffix=-gen", "-o", "out", "valid.bare");
    ck_assert_str_eq(r.out, "out/valid-gen.h out/valid-gen.c: valid.bare\n");
    run_free(&r);
}
END_TEST

/* Runs make -s in dir; its exit status. */
static int run_make(const char *dir)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        /* The make running check must not pass its flags and jobserver to this one. */
        unsetenv("MAKEFLAGS");
        unsetenv("MFLAGS");
        unsetenv("MAKELEVEL");
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execlp("make", "make", "-s", "-C", dir, "SCHEMAC=" SCHEMAC_PATH, (char *)NULL);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* Moves path's modification time by delta seconds: the test need not sleep for make to see it. */
static void age(const char *path, long delta)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    struct timespec t[2] = {{st.st_mtime + delta, 0}, {st.st_mtime + delta, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

/*
 * The man page's recipe: a rule that does not name the schema, -MD and -include of the
 * depfiles; make rebuilds the outputs when the schema changes and only then.
 */
START_TEST(test_make_rebuilds_from_depfile)
{
    spit(in_scratch("Makefile"), "all: gen/valid.h\n"
                                 "gen/valid.h gen/valid.c &:\n"
                                 "\t$(SCHEMAC) -MD -MP -o gen valid.bare\n"
                                 "\techo built >>log\n"
                                 "-include gen/*.d\n");
    ck_assert_int_eq(mkdir(in_scratch("gen"), 0755), 0);
    ck_assert_int_eq(run_make(scratch), 0);
    ck_assert(exists(in_scratch("gen/valid.h.d")));
    ck_assert_int_eq(run_make(scratch), 0); /* up to date: no second build */
    char *log = slurp(in_scratch("log"), NULL);
    ck_assert_str_eq(log, "built\n");
    free(log);
    /* Back-date what make built rather than post-date the schema (no clock-skew warning). */
    const char *built[] = {"gen/valid.h", "gen/valid.c", "gen/valid.h.d", "log"};
    for (size_t i = 0; i < 4; i++)
        age(in_scratch(built[i]), -10);
    spit(in_scratch("valid.bare"), "type Added struct { a: u8 }\n");
    ck_assert_int_eq(run_make(scratch), 0);
    log = slurp(in_scratch("log"), NULL);
    ck_assert_str_eq(log, "built\nbuilt\n");
    free(log);
    char *h = slurp(in_scratch("gen/valid.h"), NULL);
    ck_assert_ptr_nonnull(strstr(h, "valid_added_t"));
    free(h);
}
END_TEST

/* ---- reproducible output ---- */

START_TEST(test_reproducible)
{
    /* Two trees with the same relative layout, compiled from different working directories. */
    const char *trees[] = {"a", "b/deeper"};
    char *h[3], *c[3];
    size_t hl[3], cl[3];
    ck_assert_int_eq(mkdir(in_scratch("b"), 0755), 0);
    for (size_t i = 0; i < 3; i++) {
        const char *tree = trees[i < 2 ? 0 : 1];
        char path[600];
        if (i != 1) {
            snprintf(path, sizeof path, "%s/%s", scratch, tree);
            ck_assert_int_eq(mkdir(path, 0755), 0);
            snprintf(path, sizeof path, "%s/%s/schema", scratch, tree);
            ck_assert_int_eq(mkdir(path, 0755), 0);
            snprintf(path, sizeof path, "%s/%s/schema/proto.bare", scratch, tree);
            spit(path, valid_schema);
        }
        snprintf(path, sizeof path, "%s/%s", scratch, tree);
        run_t r = run_in(path, (const char *const[]){"-o", ".", "schema/proto.bare", NULL});
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        run_free(&r);
        snprintf(path, sizeof path, "%s/%s/proto.h", scratch, tree);
        h[i] = slurp(path, &hl[i]);
        snprintf(path, sizeof path, "%s/%s/proto.c", scratch, tree);
        c[i] = slurp(path, &cl[i]);
        ck_assert_ptr_nonnull(h[i]);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_msg(!strstr(h[i], scratch) && !strstr(c[i], scratch),
                      "the output names the directory it was made in");
    }
    for (size_t i = 1; i < 3; i++) {
        ck_assert_msg(hl[i] == hl[0] && memcmp(h[i], h[0], hl[0]) == 0,
                      "header of run %zu differs", i);
        ck_assert_msg(cl[i] == cl[0] && memcmp(c[i], c[0], cl[0]) == 0,
                      "source of run %zu differs", i);
    }
    for (size_t i = 0; i < 3; i++) {
        free(h[i]);
        free(c[i]);
    }
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *ok = tcase_create("success");
    TCase *bad = tcase_create("schema_errors");
    TCase *usage = tcase_create("usage_errors");
    TCase *info = tcase_create("informational");
    TCase *repro = tcase_create("reproducible");
    TCase *all[] = {ok, bad, usage, info, repro};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(ok, test_valid_writes_both);
    tcase_add_test(ok, test_name_and_prefix);
    tcase_add_test(ok, test_gcc_dep_options);
    tcase_add_test(ok, test_refuse_hand_written);
    tcase_add_test(ok, test_suffix);
    tcase_add_test(ok, test_make_rebuilds_from_depfile);
    tcase_add_test(bad, test_invalid_writes_nothing);
    tcase_add_test(bad, test_invalid_keeps_old_outputs);
    tcase_add_test(bad, test_error_limit);
    tcase_add_test(usage, test_missing_schema);
    tcase_add_test(usage, test_output_dir_missing);
    tcase_add_test(usage, test_output_dir_not_a_directory);
    tcase_add_test(usage, test_output_dir_unwritable);
    tcase_add_test(usage, test_late_write_failure_leaves_nothing);
    tcase_add_loop_test(usage, test_usage_errors, 0,
                        (int)(sizeof usage_errors / sizeof usage_errors[0]));
    tcase_add_loop_test(usage, test_bad_names, 0, (int)(sizeof bad_names / sizeof bad_names[0]));
    tcase_add_test(usage, test_longest_name);
    tcase_add_test(info, test_version);
    tcase_add_test(info, test_help);
    tcase_add_test(info, test_make_rule);
    tcase_add_test(info, test_depfile);
    tcase_add_test(info, test_print);
    tcase_add_test(info, test_check_only);
    tcase_add_test(info, test_dialect_vbare);
    tcase_add_test(repro, test_reproducible);
    return s;
}

int main(void)
{
    if (access(SCHEMAC_PATH, X_OK) != 0) {
        fprintf(stderr, "check_cli: %s is not built\n", SCHEMAC_PATH);
        return 1;
    }
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
