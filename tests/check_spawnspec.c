/*
 * check_spawnspec.c - the spawn spec between the sidecar and a VM's supervisor: what is
 * written comes back the same (argv, envp, cwd, the fs and network policy), the memfd is
 * sealed, and every malformed or truncated spec is refused.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "supervisor.h"

static const char *ops_rw[] = {"read", "write"};
static const char *paths_tmp[] = {"/tmp/**", "/home/user/*"};
static const char *ops_all[] = {"*"};
static const char *pats_net[] = {"tcp://127.0.0.1:*"};

static sc_perm_rule_t fs_rules[] = {
    {SC_PERM_ALLOW, ops_rw, 2, paths_tmp, 2},
    {SC_PERM_DENY, ops_all, 1, paths_tmp + 1, 1},
};
static sc_perm_rule_t net_rules[] = {{SC_PERM_ASK, ops_all, 1, pats_net, 1}};

static void sample(sv_spawn_t *s, sc_policy_t *pol)
{
    static const char *argv[] = {"sh", "-c", "echo 'a b'", "", NULL};
    static const char *envp[] = {"HOME=/home/user", "EMPTY=", NULL};
    memset(pol, 0, sizeof *pol);
    for (int d = 0; d < SC_DOMAIN_COUNT; d++)
        pol->domains[d].default_mode = SC_PERM_ALLOW; /* only fs and network travel */
    pol->domains[SC_DOMAIN_FS].default_mode = SC_PERM_DENY;
    pol->domains[SC_DOMAIN_FS].rules = fs_rules;
    pol->domains[SC_DOMAIN_FS].nrules = 2;
    pol->domains[SC_DOMAIN_NETWORK].rules = net_rules;
    pol->domains[SC_DOMAIN_NETWORK].nrules = 1;
    memset(s, 0, sizeof *s);
    s->file = "sh";
    s->argv = argv;
    s->argc = 4;
    s->envp = envp;
    s->envc = 2;
    s->cwd = "/home/user";
    s->fs_access = SC_FS_ACCESS_READ_ONLY;
    s->policy = pol;
}

/* A memfd holding bytes. */
static int memfd_of(const void *p, size_t n)
{
    int fd = memfd_create("t", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    return fd;
}

static size_t slurp(int fd, char **out)
{
    off_t size = lseek(fd, 0, SEEK_END);
    *out = malloc((size_t)size);
    ck_assert_int_eq(pread(fd, *out, (size_t)size, 0), size);
    return (size_t)size;
}

START_TEST(round_trip)
{
    sv_spawn_t s;
    sc_policy_t pol;
    sample(&s, &pol);
    int fd = sv_spec_create(&s);
    ck_assert_int_ge(fd, 0);
    /* sealed: nobody can change it after the fact */
    ck_assert_int_lt(write(fd, "x", 1), 0);
    ck_assert_int_lt(ftruncate(fd, 4), 0);
    sv_spec_view_t v;
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(sv_spec_read(fd, &v), 0);
    ck_assert_str_eq(v.file, "sh");
    ck_assert_str_eq(v.argv[0], "sh");
    ck_assert_str_eq(v.argv[2], "echo 'a b'");
    ck_assert_str_eq(v.argv[3], "");
    ck_assert_ptr_null(v.argv[4]);
    ck_assert_str_eq(v.envp[1], "EMPTY=");
    ck_assert_ptr_null(v.envp[2]);
    ck_assert_str_eq(v.cwd, "/home/user");
    ck_assert_uint_eq(v.hdr->fs_access, SC_FS_ACCESS_READ_ONLY);
    const sc_perm_scope_t *fs = &v.policy.domains[SC_DOMAIN_FS];
    ck_assert_int_eq(fs->default_mode, SC_PERM_DENY);
    ck_assert_uint_eq(fs->nrules, 2);
    ck_assert_int_eq(fs->rules[0].mode, SC_PERM_ALLOW);
    ck_assert_uint_eq(fs->rules[0].noperations, 2);
    ck_assert_str_eq(fs->rules[0].operations[1], "write");
    ck_assert_uint_eq(fs->rules[0].npatterns, 2);
    ck_assert_str_eq(fs->rules[0].patterns[0], "/tmp/**");
    ck_assert_int_eq(fs->rules[1].mode, SC_PERM_DENY);
    ck_assert_str_eq(fs->rules[1].patterns[0], "/home/user/*");
    const sc_perm_scope_t *net = &v.policy.domains[SC_DOMAIN_NETWORK];
    ck_assert_int_eq(net->default_mode, SC_PERM_ALLOW);
    ck_assert_int_eq(net->rules[0].mode, SC_PERM_ASK);
    ck_assert_str_eq(net->rules[0].patterns[0], "tcp://127.0.0.1:*");
    /* the domains that do not travel deny */
    ck_assert_int_eq(v.policy.domains[SC_DOMAIN_ENV].default_mode, SC_PERM_DENY);
    ck_assert_uint_eq(v.policy.domains[SC_DOMAIN_ENV].nrules, 0);
    sv_spec_view_free(&v);
    close(fd);
}
END_TEST

/* Every truncation of a valid spec, and every single-byte change of its header, is refused
 * (or, for the bytes that are free text, read without crossing the buffer). */
START_TEST(malformed_refused)
{
    sv_spawn_t s;
    sc_policy_t pol;
    sample(&s, &pol);
    int fd = sv_spec_create(&s);
    char *bytes;
    size_t n = slurp(fd, &bytes);
    close(fd);
    for (size_t cut = 0; cut < n; cut++) {
        int t = memfd_of(bytes, cut);
        sv_spec_view_t v;
        memset(&v, 0, sizeof v);
        ck_assert_msg(sv_spec_read(t, &v) != 0, "a spec cut at %zu of %zu was accepted", cut, n);
        sv_spec_view_free(&v);
        close(t);
    }
    /* one more byte than the header declares */
    char *longer = malloc(n + 1);
    memcpy(longer, bytes, n);
    longer[n] = 'x';
    int t = memfd_of(longer, n + 1);
    sv_spec_view_t v;
    memset(&v, 0, sizeof v);
    ck_assert_int_ne(sv_spec_read(t, &v), 0);
    sv_spec_view_free(&v);
    close(t);
    free(longer);
    /* header fields: magic, argc 0, an fs_access out of range */
    sv_spawn_spec_t *h = (sv_spawn_spec_t *)(void *)bytes;
    uint32_t saved;
    uint32_t *fields[] = {&h->magic, &h->argc, &h->fs_access};
    uint32_t bad[] = {0x12345678u, 0, 7};
    for (size_t i = 0; i < 3; i++) {
        saved = *fields[i];
        *fields[i] = bad[i];
        t = memfd_of(bytes, n);
        memset(&v, 0, sizeof v);
        ck_assert_msg(sv_spec_read(t, &v) != 0, "header field %zu", i);
        sv_spec_view_free(&v);
        close(t);
        *fields[i] = saved;
    }
    /* more strings claimed than present */
    h->envc += 1;
    t = memfd_of(bytes, n);
    memset(&v, 0, sizeof v);
    ck_assert_int_ne(sv_spec_read(t, &v), 0);
    sv_spec_view_free(&v);
    close(t);
    free(bytes);
}
END_TEST

START_TEST(too_big)
{
    sv_spawn_t s;
    sc_policy_t pol;
    sample(&s, &pol);
    size_t big = (size_t)SV_SPEC_MAX + 1;
    char *arg = malloc(big);
    memset(arg, 'a', big - 1);
    arg[big - 1] = '\0';
    const char *argv[] = {"x", arg, NULL};
    s.argv = argv;
    s.argc = 2;
    errno = 0;
    ck_assert_int_eq(sv_spec_create(&s), -1);
    ck_assert_int_eq(errno, E2BIG);
    free(arg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spawnspec");
    TCase *t = tcase_create("spawnspec");
    tcase_add_test(t, round_trip);
    tcase_add_test(t, malformed_refused);
    tcase_add_test(t, too_big);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
