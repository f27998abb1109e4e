/*
 * perms.c - the permission policy (reference filesystem-permissions.md §8): the path glob,
 * last-match-wins rule evaluation with ASK as deny, and the hidden read requirement of
 * mutating filesystem operations (§8.4). Pure decisions: the filesystem is reached only through
 * the caller's resolver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

static const char *const fs_op_names[] = {
    [SC_FS_READ] = "read",
    [SC_FS_WRITE] = "write",
    [SC_FS_STAT] = "stat",
    [SC_FS_READDIR] = "readdir",
    [SC_FS_CREATE_DIR] = "create_dir",
    [SC_FS_RM] = "rm",
    [SC_FS_RENAME] = "rename",
    [SC_FS_SYMLINK] = "symlink",
    [SC_FS_MOUNT_SENSITIVE] = "mount_sensitive",
};

const char *sc_fs_op_name(sc_fs_op_t op)
{
    if ((size_t)op >= sizeof fs_op_names / sizeof fs_op_names[0])
        return "unknown";
    return fs_op_names[op];
}

static const char *const domain_names[SC_DOMAIN_COUNT] = {
    [SC_DOMAIN_FS] = "fs",
    [SC_DOMAIN_NETWORK] = "network",
    [SC_DOMAIN_CHILD_PROCESS] = "child_process",
    [SC_DOMAIN_PROCESS] = "process",
    [SC_DOMAIN_ENV] = "env",
    [SC_DOMAIN_TOOL] = "tool",
};

/*
 * The glob is matched as a set of reachable subject offsets, one pattern token at a time
 * (O(pattern x subject), no backtracking, so no pattern can make it exponential): m[i] is
 * true when the pattern so far matches subject[0..i).
 */
bool sc_glob_match(const char *pattern, const char *subject)
{
    size_t n = strlen(subject);
    bool small[256];
    bool *m = n < sizeof small ? small : malloc(n + 1);
    if (!m)
        return false; /* fail closed: no match */
    memset(m, 0, n + 1);
    m[0] = true;
    for (const char *p = pattern; *p;) {
        if (*p == '*') {
            size_t stars = 0;
            while (*p == '*') {
                p++;
                stars++;
            }
            if (stars >= 2) {
                /* any run, '/' included: everything from the first reachable offset on */
                size_t i = 0;
                while (i <= n && !m[i])
                    i++;
                for (; i <= n; i++)
                    m[i] = true;
            } else {
                /* a run without '/': forward propagation, in place */
                for (size_t i = 0; i < n; i++)
                    if (m[i] && subject[i] != '/')
                        m[i + 1] = true;
            }
            continue;
        }
        char c = *p++;
        /* one byte: '?' any but '/', anything else itself; shift right by one */
        for (size_t i = n; i > 0; i--)
            m[i] = m[i - 1] && (c == '?' ? subject[i - 1] != '/' : subject[i - 1] == c);
        m[0] = false;
    }
    bool ok = m[n];
    if (m != small)
        free(m);
    return ok;
}

static bool rule_matches(const sc_perm_rule_t *r, const char *operation, const char *resource)
{
    bool op = false;
    for (size_t i = 0; i < r->noperations && !op; i++)
        op = strcmp(r->operations[i], "*") == 0 || strcmp(r->operations[i], operation) == 0;
    if (!op || !resource)
        return false;
    for (size_t i = 0; i < r->npatterns; i++)
        if (sc_glob_match(r->patterns[i], resource))
            return true;
    return false;
}

bool sc_policy_allows(const sc_policy_t *policy, int domain, const char *operation,
                      const char *resource, char *reason, size_t reasonlen)
{
    sc_perm_mode_t mode = SC_PERM_DENY;
    if (policy && domain >= 0 && domain < SC_DOMAIN_COUNT) {
        const sc_perm_scope_t *scope = &policy->domains[domain];
        mode = scope->default_mode;
        for (size_t i = 0; i < scope->nrules; i++)
            if (rule_matches(&scope->rules[i], operation, resource))
                mode = scope->rules[i].mode; /* the last match wins */
    }
    const char *dname = domain >= 0 && domain < SC_DOMAIN_COUNT ? domain_names[domain] : "unknown";
    if (reason && reasonlen) {
        if (mode == SC_PERM_ALLOW)
            reason[0] = '\0';
        else if (mode == SC_PERM_ASK)
            snprintf(reason, reasonlen, "permission prompt required for %s.%s", dname, operation);
        else
            snprintf(reason, reasonlen, "blocked by %s.%s policy", dname, operation);
    }
    return mode == SC_PERM_ALLOW;
}

/* read on the resolved form of prefix; a prefix that does not resolve ends the walk (stop). */
static bool guard_one(const sc_policy_t *policy, const char *prefix, sc_resolve_fn *resolve,
                      void *ud, bool *stop, char *denied, char *reason, size_t reasonlen)
{
    char real[SC_PATH_MAX + 1];
    if (resolve(ud, prefix, real) != 0) {
        *stop = true;
        return true;
    }
    if (sc_policy_allows(policy, SC_DOMAIN_FS, "read", real, reason, reasonlen))
        return true;
    memcpy(denied, real, strlen(real) + 1);
    return false;
}

bool sc_policy_read_guard(const sc_policy_t *policy, const char *path, bool resolved_style,
                          sc_resolve_fn *resolve, void *ud, char *denied, char *reason,
                          size_t reasonlen)
{
    char real[SC_PATH_MAX + 1];
    if (resolved_style && resolve(ud, path, real) == 0 &&
        sc_policy_allows(policy, SC_DOMAIN_FS, "read", real, NULL, 0))
        return true;

    size_t len = strlen(path);
    if (len > SC_PATH_MAX)
        len = SC_PATH_MAX;
    char prefix[SC_PATH_MAX + 1];
    memcpy(prefix, path, len);
    prefix[len] = '\0';
    bool stop = false;
    /* every ancestor below "/", shortest first: the prefixes ending before each later '/' */
    for (size_t i = 1; i < len && !stop; i++) {
        if (prefix[i] != '/')
            continue;
        prefix[i] = '\0';
        bool ok = guard_one(policy, prefix, resolve, ud, &stop, denied, reason, reasonlen);
        prefix[i] = '/';
        if (!ok)
            return false;
    }
    if (resolved_style && !stop && len > 1)
        return guard_one(policy, prefix, resolve, ud, &stop, denied, reason, reasonlen);
    return true;
}
