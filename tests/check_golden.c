/*
 * check_golden.c - schemac against golden files: tests/golden/valid/<case>/ must compile to
 * expect.h, expect.c and expect.bare byte for byte; tests/golden/invalid/<case>/ must fail
 * with exactly expect.err (carets and notes included) and write nothing.
 * An optional `args` file holds options (--legacy, --dialect=vbare, --prefix=P, --error-limit=N,
 * --suffix=S, -MD); with an expect.d, the make rule must be that, the scratch directory spelt OUT.
 * A valid case with a `same_as` file (holding another valid case's name) has no expectations of
 * its own: it must compile to that case's, byte for byte (an old spelling and its new one).
 * UPDATE_GOLDEN=1 rewrites the expectations instead of comparing (review the diff).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schemac.h"

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif

#define MAX_CASES 512

static char *valid_cases[MAX_CASES], *invalid_cases[MAX_CASES];
static int n_valid, n_invalid;

static int list_cases(const char *kind, char **out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/golden/%s", SOURCE_DIR, kind);
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CASES)
        if (e->d_name[0] != '.')
            out[n++] = strdup(e->d_name);
    closedir(d);
    /* a stable order, so loop indices name the same case on every run */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            char *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Fails with the first differing line of expected vs actual. */
static void compare(const char *what, const char *path, const char *actual, size_t len)
{
    if (getenv("UPDATE_GOLDEN")) {
        spit(path, actual, len);
        return;
    }
    size_t elen;
    char *expected = slurp(path, &elen);
    ck_assert_msg(expected != NULL, "%s: missing %s (run with UPDATE_GOLDEN=1)", what, path);
    if (elen == len && memcmp(expected, actual, len) == 0) {
        free(expected);
        return;
    }
    int line = 1;
    size_t i = 0;
    while (i < elen && i < len && expected[i] == actual[i]) {
        if (expected[i] == '\n')
            line++;
        i++;
    }
    size_t a = i, b = i;
    while (a > 0 && actual[a - 1] != '\n')
        a--;
    while (b < len && actual[b] != '\n')
        b++;
    size_t c = i, d = i;
    while (c > 0 && expected[c - 1] != '\n')
        c--;
    while (d < elen && expected[d] != '\n')
        d++;
    ck_abort_msg("%s differs from %s at line %d:\n  expected: %.*s\n  actual:   %.*s", what, path,
                 line, (int)(d - c), expected + c, (int)(b - a), actual + a);
}

typedef struct golden_run {
    schemac_result_t res;
    char *diags;
    size_t diags_len;
    int rc;
    char outdir[4096];
} golden_run_t;

static void run_case(const char *kind, const char *name, golden_run_t *run)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/tests/golden/%s/%s", SOURCE_DIR, kind, name);
    snprintf(path, sizeof path, "%s/schema.bare", dir);
    size_t len;
    char *text = slurp(path, &len);
    ck_assert_msg(text != NULL, "%s: no schema.bare", name);

    schemac_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.schema_path = "schema.bare";
    opt.text = text;
    opt.text_len = len;
    opt.name = "expect";
    opt.prefix = "t";
    /* Outputs go to a scratch directory: an invalid case must leave it empty. */
    snprintf(run->outdir, sizeof run->outdir, "/tmp/golden.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run->outdir));
    opt.out_dir = run->outdir;

    snprintf(path, sizeof path, "%s/args", dir);
    char *args = slurp(path, NULL);
    for (char *tok = args ? strtok(args, " \t\n") : NULL; tok; tok = strtok(NULL, " \t\n")) {
        if (strcmp(tok, "--legacy") == 0)
            opt.legacy = true;
        else if (strncmp(tok, "--prefix=", 9) == 0)
            opt.prefix = tok + 9;
        else if (strncmp(tok, "--error-limit=", 14) == 0)
            opt.error_limit = atoi(tok + 14);
        else if (strncmp(tok, "--suffix=", 9) == 0)
            opt.suffix = strdup(tok + 9); /* args is freed before the result is used */
        else if (strcmp(tok, "--dialect=vbare") == 0)
            opt.vbare = opt.legacy = true; /* as schemac's --dialect vbare sets them */
        else if (strcmp(tok, "-MD") == 0)
            opt.depfile_default = true;
        else
            ck_abort_msg("%s: unknown option '%s' in args", name, tok);
    }

    FILE *diag = open_memstream(&run->diags, &run->diags_len);
    run->rc = schemac_compile(&opt, diag, &run->res);
    fclose(diag);
    free((char *)opt.suffix);
    free(args);
    free(text);
}

static void cleanup_run(golden_run_t *run)
{
    const char *written[] = {run->res.header_path, run->res.source_path, run->res.depfile_path};
    for (size_t i = 0; i < 3; i++)
        if (written[i])
            unlink(written[i]);
    rmdir(run->outdir);
    schemac_result_free(&run->res);
    free(run->diags);
}

START_TEST(test_valid)
{
    const char *name = valid_cases[_i];
    golden_run_t run;
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/tests/golden/valid/%s", SOURCE_DIR, name);
    run_case("valid", name, &run);
    ck_assert_msg(run.rc == SCHEMAC_OK, "%s: schemac failed (%d):\n%s", name, run.rc, run.diags);
    ck_assert_msg(run.diags_len == 0, "%s: unexpected diagnostics:\n%s", name, run.diags);

    snprintf(path, sizeof path, "%s/same_as", dir);
    char *same = slurp(path, NULL);
    if (same) {
        same[strcspn(same, " \t\n")] = '\0';
        snprintf(dir, sizeof dir, "%s/tests/golden/valid/%s", SOURCE_DIR, same);
        free(same);
        if (getenv("UPDATE_GOLDEN")) { /* the other case's expectations are its own to update */
            cleanup_run(&run);
            return;
        }
    }
    snprintf(path, sizeof path, "%s/expect.h", dir);
    compare(name, path, run.res.header, run.res.header_len);
    snprintf(path, sizeof path, "%s/expect.c", dir);
    compare(name, path, run.res.source, run.res.source_len);
    snprintf(path, sizeof path, "%s/expect.bare", dir);
    compare(name, path, run.res.canonical, strlen(run.res.canonical));

    snprintf(path, sizeof path, "%s/expect.d", dir);
    if (access(path, F_OK) == 0) {
        /* the rule names the scratch directory: spelt OUT in the expectation */
        char rule[8192];
        const char *dep = run.res.depend ? run.res.depend : "";
        size_t k = 0, n = strlen(run.outdir);
        for (const char *p = dep; *p && k < sizeof rule - 4;) {
            if (strncmp(p, run.outdir, n) == 0) {
                memcpy(rule + k, "OUT", 3);
                k += 3;
                p += n;
            } else {
                rule[k++] = *p++;
            }
        }
        rule[k] = '\0';
        compare(name, path, rule, k);
        ck_assert_msg(run.res.depfile_path == NULL || access(run.res.depfile_path, F_OK) == 0,
                      "%s: no depfile written", name);
    }

    /* what was written is what was returned */
    size_t len;
    char *written = slurp(run.res.header_path, &len);
    ck_assert_msg(written && len == run.res.header_len &&
                      memcmp(written, run.res.header, len) == 0,
                  "%s: written header differs", name);
    free(written);
    cleanup_run(&run);
}
END_TEST

START_TEST(test_invalid)
{
    const char *name = invalid_cases[_i];
    golden_run_t run;
    char path[4200];
    run_case("invalid", name, &run);
    ck_assert_msg(run.rc == SCHEMAC_SCHEMA_ERROR, "%s: expected exit status 1, got %d:\n%s", name,
                  run.rc, run.diags);
    ck_assert_msg(run.res.header == NULL && run.res.source == NULL, "%s: produced output", name);
    snprintf(path, sizeof path, "%s/tests/golden/invalid/%s/expect.err", SOURCE_DIR, name);
    compare(name, path, run.diags, run.diags_len);
    snprintf(path, sizeof path, "%s/expect.h", run.outdir);
    ck_assert_msg(access(path, F_OK) != 0, "%s: an invalid schema wrote %s", name, path);
    cleanup_run(&run);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tv = tcase_create("valid");
    TCase *ti = tcase_create("invalid");
    n_valid = list_cases("valid", valid_cases);
    n_invalid = list_cases("invalid", invalid_cases);
    tcase_add_loop_test(tv, test_valid, 0, n_valid);
    tcase_add_loop_test(ti, test_invalid, 0, n_invalid);
    suite_add_tcase(s, tv);
    suite_add_tcase(s, ti);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(golden_suite());
    if (n_valid == 0 || n_invalid == 0) {
        fprintf(stderr, "check_golden: no golden cases found under %s/tests/golden\n", SOURCE_DIR);
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
