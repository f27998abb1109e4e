/*
 * spawnspec.c - the spawn spec: what the sidecar asks the VM's supervisor to start, written
 * into a sealed memfd (sv_spec_create) and read back by the supervisor (sv_spec_read). The
 * reader trusts nothing of the bytes: every count is bounded, every string must end inside the
 * buffer, and the whole buffer must be consumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

typedef struct spec_buf {
    char *p;
    size_t len, cap;
    bool failed;
} spec_buf_t;

static void put_str(spec_buf_t *b, const char *str)
{
    size_t n = strlen(str) + 1;
    if (b->failed)
        return;
    if (b->len + n > SV_SPEC_MAX) {
        b->failed = true;
        errno = E2BIG;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, str, n);
    b->len += n;
}

static void put_num(spec_buf_t *b, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    put_str(b, num);
}

/* The domains a guest's sandbox is built from. */
static const int spec_domains[] = {SC_DOMAIN_FS, SC_DOMAIN_NETWORK};
#define SPEC_NDOMAINS (sizeof spec_domains / sizeof spec_domains[0])

int sv_spec_create(const sv_spawn_t *s)
{
    spec_buf_t b = {NULL, 0, 0, false};
    sv_spawn_spec_t h;
    memset(&h, 0, sizeof h);
    h.magic = SV_SPEC_MAGIC;
    h.argc = (uint32_t)s->argc;
    h.envc = (uint32_t)s->envc;
    h.fs_access = (uint32_t)s->fs_access;
    put_str(&b, s->file);
    for (size_t i = 0; i < s->argc; i++)
        put_str(&b, s->argv[i]);
    for (size_t i = 0; i < s->envc; i++)
        put_str(&b, s->envp[i]);
    put_str(&b, s->cwd);
    for (size_t d = 0; d < SPEC_NDOMAINS; d++) {
        const sc_perm_scope_t *sc = &s->policy->domains[spec_domains[d]];
        put_num(&b, (uint64_t)sc->default_mode);
        put_num(&b, sc->nrules);
        for (size_t r = 0; r < sc->nrules; r++) {
            const sc_perm_rule_t *rule = &sc->rules[r];
            put_num(&b, (uint64_t)rule->mode);
            put_num(&b, rule->noperations);
            for (size_t i = 0; i < rule->noperations; i++)
                put_str(&b, rule->operations[i]);
            put_num(&b, rule->npatterns);
            for (size_t i = 0; i < rule->npatterns; i++)
                put_str(&b, rule->patterns[i]);
        }
    }
    if (b.failed || s->argc > UINT32_MAX || s->envc > UINT32_MAX) {
        int e = errno ? errno : ENOMEM;
        free(b.p);
        errno = e;
        return -1;
    }
    h.strings_len = b.len;
    int fd = memfd_create("secure-exec-spawn", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int rc = fd < 0 ? -1 : 0;
    if (rc == 0 &&
        (write(fd, &h, sizeof h) != (ssize_t)sizeof h || write(fd, b.p, b.len) != (ssize_t)b.len))
        rc = -1;
    /* Sealed: what the supervisor reads is what was written, whoever else holds the fd. */
    if (rc == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        rc = -1;
    free(b.p);
    if (rc != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

typedef struct spec_cursor {
    char *p, *end;
} spec_cursor_t;

static const char *next_str(spec_cursor_t *c)
{
    if (c->p >= c->end)
        return NULL;
    char *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
    if (!nul)
        return NULL;
    char *s = c->p;
    c->p = nul + 1;
    return s;
}

static bool next_num(spec_cursor_t *c, uint64_t max, uint64_t *out)
{
    const char *s = next_str(c);
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool next_strs(spec_cursor_t *c, const char ***out, size_t *n)
{
    uint64_t count;
    if (!next_num(c, 1u << 16, &count))
        return false;
    *n = (size_t)count;
    *out = calloc(count + 1, sizeof **out);
    if (!*out)
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!((*out)[i] = next_str(c)))
            return false;
    return true;
}

void sv_spec_view_free(sv_spec_view_t *v)
{
    sc_policy_t *p = &v->policy;
    for (int d = 0; d < SC_DOMAIN_COUNT; d++) {
        for (size_t r = 0; r < p->domains[d].nrules; r++) {
            free(p->domains[d].rules[r].operations);
            free(p->domains[d].rules[r].patterns);
        }
        free(p->domains[d].rules);
    }
    free(v->argv);
    free(v->envp);
    free(v->buf);
    memset(v, 0, sizeof *v);
}

int sv_spec_read(int memfd, sv_spec_view_t *v)
{
    char **buf = &v->buf;
    struct stat st;
    if (fstat(memfd, &st) != 0 || st.st_size < (off_t)sizeof(sv_spawn_spec_t) ||
        (uint64_t)st.st_size > SV_SPEC_MAX + sizeof(sv_spawn_spec_t))
        return -1;
    size_t size = (size_t)st.st_size;
    *buf = malloc(size + 1);
    if (!*buf || pread(memfd, *buf, size, 0) != (ssize_t)size)
        return -1;
    (*buf)[size] = '\0';
    v->hdr = (const sv_spawn_spec_t *)(void *)*buf;
    if (v->hdr->magic != SV_SPEC_MAGIC || v->hdr->strings_len != size - sizeof *v->hdr ||
        v->hdr->argc == 0 || v->hdr->argc > 1u << 20 || v->hdr->envc > 1u << 20 ||
        v->hdr->fs_access > SC_FS_ACCESS_NONE)
        return -1;
    v->argv = calloc(v->hdr->argc + 1, sizeof *v->argv);
    v->envp = calloc(v->hdr->envc + 1, sizeof *v->envp);
    if (!v->argv || !v->envp)
        return -1;
    spec_cursor_t c = {*buf + sizeof *v->hdr, *buf + size};
    if (!(v->file = next_str(&c)))
        return -1;
    for (uint32_t i = 0; i < v->hdr->argc; i++)
        if (!(v->argv[i] = (char *)next_str(&c)))
            return -1;
    for (uint32_t i = 0; i < v->hdr->envc; i++)
        if (!(v->envp[i] = (char *)next_str(&c)))
            return -1;
    if (!(v->cwd = next_str(&c)))
        return -1;
    for (int d = 0; d < SC_DOMAIN_COUNT; d++)
        v->policy.domains[d].default_mode = SC_PERM_DENY;
    for (size_t d = 0; d < SPEC_NDOMAINS; d++) {
        sc_perm_scope_t *sc = &v->policy.domains[spec_domains[d]];
        uint64_t mode, nrules;
        if (!next_num(&c, SC_PERM_DENY, &mode) || !next_num(&c, 1u << 16, &nrules))
            return -1;
        sc->default_mode = (sc_perm_mode_t)mode;
        sc->rules = calloc(nrules ? nrules : 1, sizeof *sc->rules);
        if (!sc->rules)
            return -1;
        for (uint64_t r = 0; r < nrules; r++) {
            sc_perm_rule_t *rule = &sc->rules[r];
            sc->nrules = (size_t)r + 1;
            if (!next_num(&c, SC_PERM_DENY, &mode))
                return -1;
            rule->mode = (sc_perm_mode_t)mode;
            if (!next_strs(&c, &rule->operations, &rule->noperations) ||
                !next_strs(&c, &rule->patterns, &rule->npatterns))
                return -1;
        }
    }
    return c.p == c.end ? 0 : -1;
}
