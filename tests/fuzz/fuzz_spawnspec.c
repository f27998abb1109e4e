/*
 * fuzz_spawnspec.c - any bytes as a spawn spec (the memfd the sidecar hands a VM's supervisor),
 * through sv_spec_read() and sv_spec_view_free() (sidecar/proc/spawnspec.c). No crash, no leak. A
 * spec that reads has argc and envc strings in NULL-terminated vectors, every string (file,
 * argv, envp, cwd, the rules' operations and patterns) ends inside the buffer, the fs and
 * network scopes have as many rules as they say and the other domains deny. Written again with
 * sv_spec_create() it reads back the same, in at most as many bytes (numbers come out in their
 * shortest form; the input is reproduced exactly when its numbers were), and the second writing
 * is a fixed point.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "supervisor.h"

/* A memfd holding bytes. */
static int memfd_of(const void *bytes, size_t n)
{
    int fd = memfd_create("fuzz-spawnspec", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
    const uint8_t *p = bytes;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        FUZZ_CHECK(k > 0, "write to a memfd: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    return fd;
}

/* Everything in fd (malloc'd). */
static uint8_t *slurp(int fd, size_t *n)
{
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0 && st.st_size >= 0, "fstat: %s", strerror(errno));
    *n = (size_t)st.st_size;
    uint8_t *p = fuzz_junk(*n);
    FUZZ_CHECK(pread(fd, p, *n, 0) == (ssize_t)*n, "pread: %s", strerror(errno));
    return p;
}

/* s is a string that starts and ends (with its NUL) inside the spec's strings. */
static void check_str(const sv_spec_view_t *v, size_t size, const char *s, const char *what)
{
    const char *lo = v->buf + sizeof(sv_spawn_spec_t), *hi = v->buf + size;
    FUZZ_CHECK(s != NULL, "%s is NULL", what);
    FUZZ_CHECK(s >= lo && s < hi, "%s points outside the strings", what);
    FUZZ_CHECK(memchr(s, '\0', (size_t)(hi - s)) != NULL, "%s does not end inside the buffer",
               what);
}

static void check_vec(const sv_spec_view_t *v, size_t size, char *const *vec, size_t n,
                      const char *what)
{
    FUZZ_CHECK(vec != NULL, "%s: no vector", what);
    for (size_t i = 0; i < n; i++)
        check_str(v, size, vec[i], what);
    FUZZ_CHECK(vec[n] == NULL, "%s: not NULL-terminated after %zu", what, n);
}

static void check_view(const sv_spec_view_t *v, size_t size)
{
    FUZZ_CHECK(v->hdr == (const void *)v->buf && v->hdr->magic == SV_SPEC_MAGIC,
               "the header is not the buffer's start, or has a wrong magic");
    FUZZ_CHECK(v->hdr->strings_len == size - sizeof *v->hdr, "strings_len %llu of %zu bytes",
               (unsigned long long)v->hdr->strings_len, size);
    FUZZ_CHECK(v->hdr->argc > 0 && v->hdr->fs_access <= SC_FS_ACCESS_NONE,
               "argc %u, fs_access %u accepted", v->hdr->argc, v->hdr->fs_access);
    check_str(v, size, v->file, "file");
    check_str(v, size, v->cwd, "cwd");
    check_vec(v, size, v->argv, v->hdr->argc, "argv");
    check_vec(v, size, v->envp, v->hdr->envc, "envp");
    for (int d = 0; d < SC_DOMAIN_COUNT; d++) {
        const sc_perm_scope_t *s = &v->policy.domains[d];
        if (d != SC_DOMAIN_FS && d != SC_DOMAIN_NETWORK) {
            FUZZ_CHECK(s->default_mode == SC_PERM_DENY && s->nrules == 0 && s->rules == NULL,
                       "domain %d does not travel but is not deny-all", d);
            continue;
        }
        FUZZ_CHECK(s->default_mode <= SC_PERM_DENY && s->nrules <= 1u << 16 && s->rules,
                   "domain %d: mode %d, %zu rules", d, (int)s->default_mode, s->nrules);
        for (size_t r = 0; r < s->nrules; r++) {
            const sc_perm_rule_t *rule = &s->rules[r];
            FUZZ_CHECK(rule->mode <= SC_PERM_DENY, "domain %d rule %zu: mode %d", d, r,
                       (int)rule->mode);
            check_vec(v, size, (char *const *)(void *)rule->operations, rule->noperations,
                      "operations");
            check_vec(v, size, (char *const *)(void *)rule->patterns, rule->npatterns, "patterns");
        }
    }
}

static bool same_strs(char *const *a, char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Two views say the same. */
static void check_same(const sv_spec_view_t *a, const sv_spec_view_t *b)
{
    FUZZ_CHECK(a->hdr->argc == b->hdr->argc && a->hdr->envc == b->hdr->envc &&
                   a->hdr->fs_access == b->hdr->fs_access,
               "the header reads back differently");
    FUZZ_CHECK(strcmp(a->file, b->file) == 0 && strcmp(a->cwd, b->cwd) == 0 &&
                   same_strs(a->argv, b->argv, a->hdr->argc) &&
                   same_strs(a->envp, b->envp, a->hdr->envc),
               "file, cwd, argv or envp reads back differently");
    for (int d = 0; d < SC_DOMAIN_COUNT; d++) {
        const sc_perm_scope_t *x = &a->policy.domains[d], *y = &b->policy.domains[d];
        FUZZ_CHECK(x->default_mode == y->default_mode && x->nrules == y->nrules,
                   "domain %d reads back differently", d);
        for (size_t r = 0; r < x->nrules; r++) {
            const sc_perm_rule_t *p = &x->rules[r], *q = &y->rules[r];
            FUZZ_CHECK(p->mode == q->mode && p->noperations == q->noperations &&
                           p->npatterns == q->npatterns &&
                           same_strs((char *const *)(void *)p->operations,
                                     (char *const *)(void *)q->operations, p->noperations) &&
                           same_strs((char *const *)(void *)p->patterns,
                                     (char *const *)(void *)q->patterns, p->npatterns),
                       "domain %d rule %zu reads back differently", d, r);
        }
    }
}

/* Writes v with sv_spec_create and reads the memfd back into *out; returns the bytes. */
static uint8_t *rewrite(const sv_spec_view_t *v, sv_spec_view_t *out, size_t *n)
{
    sv_spawn_t s;
    memset(&s, 0, sizeof s);
    s.file = v->file;
    s.argv = (const char *const *)v->argv;
    s.argc = v->hdr->argc;
    s.envp = (const char *const *)v->envp;
    s.envc = v->hdr->envc;
    s.cwd = v->cwd;
    s.fs_access = (sc_fs_access_t)v->hdr->fs_access;
    s.policy = &v->policy;
    int fd = sv_spec_create(&s);
    FUZZ_CHECK(fd >= 0, "sv_spec_create of a spec that was read: %s", strerror(errno));
    uint8_t *bytes = slurp(fd, n);
    memset(out, 0, sizeof *out);
    FUZZ_CHECK(sv_spec_read(fd, out) == 0, "a written spec does not read");
    close(fd);
    return bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sv_spec_view_t v;
    int fd = memfd_of(data, size);
    memset(&v, 0, sizeof v);
    int rc = sv_spec_read(fd, &v);
    close(fd);
    if (rc == 0) {
        check_view(&v, size);
        sv_spec_view_t v2, v3;
        size_t n2, n3;
        uint8_t *b2 = rewrite(&v, &v2, &n2);
        check_view(&v2, n2);
        check_same(&v, &v2);
        FUZZ_CHECK(n2 <= size, "written again it takes %zu bytes, more than %zu", n2, size);
        FUZZ_CHECK(n2 < size || memcmp(b2, data, size) == 0,
                   "written again in as many bytes, but different ones");
        uint8_t *b3 = rewrite(&v2, &v3, &n3);
        FUZZ_CHECK(n3 == n2 && memcmp(b3, b2, n2) == 0, "a second writing differs");
        sv_spec_view_free(&v3);
        sv_spec_view_free(&v2);
        free(b3);
        free(b2);
    } else {
        FUZZ_CHECK(rc == -1, "sv_spec_read returned %d", rc);
    }
    sv_spec_view_free(&v);
    FUZZ_CHECK(v.buf == NULL && v.argv == NULL && v.envp == NULL,
               "sv_spec_view_free left the view set");
    return 0;
}
