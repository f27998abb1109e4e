/*
 * landlock.c - the Landlock part of the guest sandbox: the VM's fs policy (reference
 * filesystem-permissions.md §8) turned into Landlock rules, conservatively, plus TCP and scope
 * restrictions. Raw syscalls on <linux/landlock.h>; the running kernel's ABI decides which
 * rights exist, and every right it knows is handled (denied unless a rule grants it).
 *
 * Trust model: this only ever takes rights away from the calling process (a guest child that
 * already has no_new_privs and no capabilities). Paths come from the VM's own policy and are
 * resolved inside the VM root the child has pivoted into, without following symlinks, so a
 * policy cannot make a rule land outside the subtree it names.
 *
 * How a policy becomes rules. Landlock grants rights on whole subtrees (a rule on a directory
 * covers everything beneath it), while the policy decides per path, last matching rule wins.
 * So a right is granted on a path only when the policy allows the operation for that path and
 * for every path beneath it; anything else stays denied ("fail closed where a rule cannot be
 * expressed"). Candidate paths are "/" when the default is ALLOW and, for every ALLOW rule
 * pattern, its literal part before the first glob character cut back to a '/' (a pattern with
 * no glob is itself a candidate). For a directory candidate C the rules are walked in order:
 * one whose pattern matches every path beneath C (a literal that every such path starts with,
 * then only stars, two or more: "**", "/" "**", "/tmp/" "**" for C = /tmp) sets the state to
 * its mode; one that may match only some of them makes the state MIXED unless it
 * agrees; the right is granted when the final state is ALLOW. A non-directory candidate is
 * judged as the single path it is. ASK counts as deny.
 *
 * Operation -> Landlock rights (on a directory they apply to what lies beneath it):
 *   read        READ_FILE | EXECUTE (the dynamic loader can map any readable file executable,
 *               so withholding EXECUTE from readable files would only break "./script")
 *   readdir     READ_DIR (it also lists C itself, so C must be allowed too, not only what
 *               lies beneath it)
 *   write       WRITE_FILE | TRUNCATE, and MAKE_REG | MAKE_FIFO | MAKE_SOCK: creating a file
 *               is a write in the reference's table; Landlock checks MAKE_* on the parent
 *               directory, which for a rule on C means any directory at or beneath C, i.e.
 *               new files strictly beneath C, exactly the paths judged beneath C
 *   create_dir  MAKE_DIR
 *   rm          REMOVE_FILE | REMOVE_DIR
 *   rename      REFER only: Landlock also wants REMOVE_* on the source directory and MAKE_* on
 *               the target, which would grant plain rm and create too; they come from the rm
 *               and write/create_dir grants, so a rename works where all of those are allowed
 *   symlink     MAKE_SYM
 * MAKE_CHAR and MAKE_BLOCK are never granted. The hidden read requirement of §8.4 is kept:
 * WRITE_FILE/TRUNCATE also need read allowed beneath C, and the MAKE_*, REMOVE_* and REFER
 * rights need read on every ancestor of C (but "/") and on C itself as well.
 *
 * What Landlock cannot restrict, and so is allowed whatever the policy says: stat, lstat,
 * access and exists (path walks and metadata reads), readlink, chdir, chmod, chown, utimes,
 * and reading or writing files through descriptors opened before the sandbox. Rules bind to
 * inodes that exist when the guest starts: a directory created later under a denied parent
 * gets nothing. A rule on a directory also reaches anything mounted beneath it, and a file
 * rule reaches every hard link of that inode (the same content).
 *
 * Always granted: the runtime directories (read, list, execute); /dev/null, zero, full,
 * random and urandom (read, write, and ioctl from ABI 5 on: no other device a guest opens
 * itself gets ioctl, while descriptors handed in, a pty included, keep it); /proc, the
 * VM's own procfs, and /dev/fd (read, list). Without Landlock at all, a guest may run only
 * when the policy allows everything and loopback TCP is allowed; otherwise it fails closed.
 *
 * TCP (ABI 4): with allow_loopback_tcp false, bind and connect are handled with no port
 * granted, so both fail with EACCES. Landlock checks only those two: UDP stays open, and a
 * listen() on an unbound socket still gets an ephemeral port nobody in the guest can reach.
 * Before ABI 4 that cannot be expressed, so it fails closed.
 *
 * Scopes (ABI 6): signals and abstract unix sockets reach only the guest's own domain, that
 * is the process and its descendants. Two guests started separately are two domains and
 * cannot signal each other; neither can signal the VM's supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec.h"
#include "fs.h"

/* Rights and attributes newer than the installed uapi header (values from Linux 6.12). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a longer struct than it knows
 * as long as the fields it does not know are zero. */
typedef struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
} ll_ruleset_attr_t;

#define FS_EXECUTE LANDLOCK_ACCESS_FS_EXECUTE
#define FS_WRITE_FILE LANDLOCK_ACCESS_FS_WRITE_FILE
#define FS_READ_FILE LANDLOCK_ACCESS_FS_READ_FILE
#define FS_READ_DIR LANDLOCK_ACCESS_FS_READ_DIR
#define FS_REMOVE (LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE)
#define FS_MAKE_FILES                                                                              \
    (LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SOCK)
#define FS_MAKE_DIR LANDLOCK_ACCESS_FS_MAKE_DIR
#define FS_MAKE_SYM LANDLOCK_ACCESS_FS_MAKE_SYM
#define FS_REFER LANDLOCK_ACCESS_FS_REFER
#define FS_TRUNCATE LANDLOCK_ACCESS_FS_TRUNCATE
#define FS_IOCTL_DEV LANDLOCK_ACCESS_FS_IOCTL_DEV
/* The rights that make sense on a non-directory (the kernel rejects the others there). */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
#define FS_READ_RIGHTS (FS_READ_FILE | FS_READ_DIR | FS_EXECUTE)

/* The character devices every guest may read and write (and ioctl, from ABI 5 on). */
static const char *const devices[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", NULL,
};

/* /proc is the VM's own procfs (its PID namespace); /dev/fd is normally a symlink into it. */
static const char *const proc_dirs[] = {"/proc", "/dev/fd", NULL};

static int ll_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? -1 : (int)abi;
}

static uint64_t fs_rights_of_abi(int abi)
{
    uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2)
        r |= FS_REFER;
    if (abi >= 3)
        r |= FS_TRUNCATE;
    if (abi >= 5)
        r |= FS_IOCTL_DEV;
    return r;
}

/* ---- the policy, judged per subtree (pure) ---- */

typedef enum sub_state { SUB_DENY, SUB_ALLOW, SUB_MIXED } sub_state_t;
typedef enum cover { COVER_NONE, COVER_SOME, COVER_ALL } cover_t;

static size_t literal_len(const char *pattern)
{
    return strcspn(pattern, "*?");
}

static bool starts_with(const char *s, const char *prefix, size_t plen)
{
    return strncmp(s, prefix, plen) == 0;
}

/*
 * How much of beneath(C) = {C/x, C/x/y, ...} pattern can match. Sufficient conditions only:
 * COVER_ALL when the pattern is a literal L followed by two or more stars only and every path
 * beneath C starts with L; COVER_NONE when its literal part and "C/" cannot be prefixes of
 * one another; COVER_SOME otherwise.
 */
static cover_t classify(const char *pattern, const char *cand)
{
    char prefix[SC_PATH_MAX + 2];
    size_t clen = strlen(cand);
    if (strcmp(cand, "/") == 0)
        clen = 0;
    memcpy(prefix, cand, clen);
    prefix[clen] = '/';
    prefix[clen + 1] = '\0';
    size_t plen = clen + 1;

    size_t lit = literal_len(pattern);
    if (pattern[lit] == '\0') /* a single path */
        return lit > plen && starts_with(pattern, prefix, plen) ? COVER_SOME : COVER_NONE;
    bool lit_in_prefix = lit <= plen && starts_with(prefix, pattern, lit);
    if (!lit_in_prefix && !(lit > plen && starts_with(pattern, prefix, plen)))
        return COVER_NONE;
    size_t stars = strspn(pattern + lit, "*");
    if (lit_in_prefix && stars >= 2 && pattern[lit + stars] == '\0')
        return COVER_ALL;
    return COVER_SOME;
}

static bool rule_has_op(const sc_perm_rule_t *r, const char *op)
{
    for (size_t i = 0; i < r->noperations; i++)
        if (strcmp(r->operations[i], "*") == 0 || strcmp(r->operations[i], op) == 0)
            return true;
    return false;
}

/* The policy's verdict for op on every path strictly beneath directory cand. */
static sub_state_t subtree_state(const sc_perm_scope_t *scope, const char *op, const char *cand)
{
    sub_state_t st = scope->default_mode == SC_PERM_ALLOW ? SUB_ALLOW : SUB_DENY;
    for (size_t i = 0; i < scope->nrules; i++) {
        const sc_perm_rule_t *r = &scope->rules[i];
        if (!rule_has_op(r, op))
            continue;
        cover_t cov = COVER_NONE;
        for (size_t j = 0; j < r->npatterns && cov != COVER_ALL; j++) {
            cover_t c = classify(r->patterns[j], cand);
            if (c > cov)
                cov = c;
        }
        sub_state_t mode = r->mode == SC_PERM_ALLOW ? SUB_ALLOW : SUB_DENY;
        if (cov == COVER_ALL)
            st = mode;
        else if (cov == COVER_SOME && st != mode)
            st = SUB_MIXED;
    }
    return st;
}

static bool allows(const sc_policy_t *policy, const char *op, const char *path)
{
    return sc_policy_allows(policy, SC_DOMAIN_FS, op, path, NULL, 0);
}

/* §8.4: read on every ancestor of the paths beneath cand, cand included, "/" excluded. */
static bool read_guard(const sc_policy_t *policy, const char *cand)
{
    char buf[SC_PATH_MAX + 1];
    size_t len = strlen(cand);
    if (len == 1)
        return true; /* "/" */
    memcpy(buf, cand, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        bool ok = allows(policy, "read", buf);
        buf[i] = saved;
        if (!ok)
            return false;
    }
    return true;
}

static uint64_t dir_rights(const sc_policy_t *policy, const char *cand)
{
    const sc_perm_scope_t *scope = &policy->domains[SC_DOMAIN_FS];
#define BENEATH(op) (subtree_state(scope, op, cand) == SUB_ALLOW)
    bool read = BENEATH("read");
    bool guard = read && read_guard(policy, cand);
    uint64_t r = 0;
    if (read)
        r |= FS_READ_FILE | FS_EXECUTE;
    if (BENEATH("readdir") && allows(policy, "readdir", cand))
        r |= FS_READ_DIR;
    if (read && BENEATH("write"))
        r |= FS_WRITE_FILE | FS_TRUNCATE;
    if (guard && BENEATH("write"))
        r |= FS_MAKE_FILES;
    if (guard && BENEATH("create_dir"))
        r |= FS_MAKE_DIR;
    if (guard && BENEATH("rm"))
        r |= FS_REMOVE;
    if (guard && BENEATH("rename"))
        r |= FS_REFER;
    if (guard && BENEATH("symlink"))
        r |= FS_MAKE_SYM;
#undef BENEATH
    return r;
}

static uint64_t file_rights(const sc_policy_t *policy, const char *path)
{
    uint64_t r = 0;
    if (allows(policy, "read", path)) {
        r |= FS_READ_FILE | FS_EXECUTE;
        /* a write of an existing file needs read on it too (§8.4, resolved style) */
        if (allows(policy, "write", path))
            r |= FS_WRITE_FILE | FS_TRUNCATE;
    }
    return r;
}

/* A candidate must be a normalized absolute path, or it could name a different place than
 * the policy subjects it stands for ("/a/../etc" opens /etc but no subject looks like that). */
static bool normalized(const char *p)
{
    if (p[0] != '/')
        return false;
    if (p[1] == '\0')
        return true;
    for (const char *s = p; *s;) {
        s++; /* past '/' */
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
    }
    return true;
}

typedef struct cand_list {
    char **items;
    size_t len, cap;
} cand_list_t;

static int cand_add(cand_list_t *cl, const char *p, size_t n)
{
    if (n == 0) { /* a relative pattern such as "**": everything, judged from "/" */
        p = "/";
        n = 1;
    }
    if (n > SC_PATH_MAX)
        return 0;
    for (size_t i = 0; i < cl->len; i++)
        if (strlen(cl->items[i]) == n && memcmp(cl->items[i], p, n) == 0)
            return 0;
    char *s = strndup(p, n);
    if (!s)
        return -1;
    if (!normalized(s)) {
        free(s);
        return 0;
    }
    if (cl->len == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 16;
        char **items = realloc(cl->items, cap * sizeof *items);
        if (!items) {
            free(s);
            return -1;
        }
        cl->items = items;
        cl->cap = cap;
    }
    cl->items[cl->len++] = s;
    return 0;
}

static int candidates(const sc_perm_scope_t *scope, cand_list_t *cl)
{
    if (scope->default_mode == SC_PERM_ALLOW && cand_add(cl, "/", 1) != 0)
        return -1;
    for (size_t i = 0; i < scope->nrules; i++) {
        const sc_perm_rule_t *r = &scope->rules[i];
        if (r->mode != SC_PERM_ALLOW)
            continue;
        for (size_t j = 0; j < r->npatterns; j++) {
            const char *p = r->patterns[j];
            size_t lit = literal_len(p);
            if (p[lit] != '\0') { /* a glob: cut back to the last '/' of the literal part */
                while (lit > 0 && p[lit - 1] != '/')
                    lit--;
                if (lit > 1)
                    lit--; /* drop the '/' itself, except for "/" */
            }
            if (cand_add(cl, p, lit) != 0)
                return -1;
        }
    }
    return 0;
}

static void cand_free(cand_list_t *cl)
{
    for (size_t i = 0; i < cl->len; i++)
        free(cl->items[i]);
    free(cl->items);
}

/* ---- rules ---- */

typedef struct ll_ctx {
    int ruleset;
    uint64_t handled;
    char *err;
    size_t errlen;
} ll_ctx_t;

/* Adds a rule on the inode fd refers to (consumed). Rights the ABI lacks, or that make no
 * sense on a non-directory, are dropped; an empty set adds nothing. */
static int add_rule_fd(ll_ctx_t *c, int fd, uint64_t rights, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return 0;
    }
    rights &= c->handled;
    if (!S_ISDIR(st.st_mode))
        rights &= FS_FILE_RIGHTS;
    int rc = 0;
    if (rights) {
        struct landlock_path_beneath_attr pb = {.allowed_access = rights, .parent_fd = fd};
        /* Safe: a rule only lets back rights this very ruleset takes away. */
        if (syscall(SYS_landlock_add_rule, c->ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) {
            snprintf(c->err, c->errlen, "landlock rule on %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    close(fd);
    return rc;
}

/* Host software and devices: their own symlinks (/bin -> usr/bin) are followed. */
static int add_fixed(ll_ctx_t *c, const char *const *paths, uint64_t rights)
{
    for (size_t i = 0; paths[i]; i++) {
        int fd = open(paths[i], O_PATH | O_CLOEXEC);
        if (fd < 0)
            continue; /* absent in this VM: nothing to grant */
        if (add_rule_fd(c, fd, rights, paths[i]) != 0)
            return -1;
    }
    return 0;
}

/* VM paths named by the policy: no symlink is followed anywhere in the path, so a rule can
 * only land on the inode the policy's path names (resolved paths are what the policy judges). */
static int open_policy_path(const char *path)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

static int add_policy(ll_ctx_t *c, const sc_policy_t *policy, uint64_t mask)
{
    cand_list_t cl = {0};
    int rc = candidates(&policy->domains[SC_DOMAIN_FS], &cl);
    if (rc != 0)
        snprintf(c->err, c->errlen, "landlock: out of memory");
    for (size_t i = 0; rc == 0 && i < cl.len; i++) {
        int fd = open_policy_path(cl.items[i]);
        struct stat st;
        if (fd < 0)
            continue; /* missing, behind a symlink or unreachable: nothing granted */
        if (fstat(fd, &st) != 0) {
            close(fd);
            continue;
        }
        uint64_t rights = S_ISDIR(st.st_mode) ? dir_rights(policy, cl.items[i])
                                              : file_rights(policy, cl.items[i]);
        rc = add_rule_fd(c, fd, rights & mask, cl.items[i]);
    }
    cand_free(&cl);
    return rc;
}

/* Every rule allows, starting from ALLOW: there is nothing for Landlock to enforce. */
static bool policy_allows_everything(const sc_policy_t *policy)
{
    const sc_perm_scope_t *scope = &policy->domains[SC_DOMAIN_FS];
    if (scope->default_mode != SC_PERM_ALLOW)
        return false;
    for (size_t i = 0; i < scope->nrules; i++)
        if (scope->rules[i].mode != SC_PERM_ALLOW)
            return false;
    return true;
}

int sc_landlock_apply(const sc_sandbox_spec_t *spec, char *err, size_t errlen)
{
    sc_policy_t deny_all = {0}; /* no policy: every domain DENY without rules */
    for (size_t i = 0; i < SC_DOMAIN_COUNT; i++)
        deny_all.domains[i].default_mode = SC_PERM_DENY;
    const sc_policy_t *policy = spec->policy ? spec->policy : &deny_all;
    int abi = ll_abi();
    if (abi < 1) {
        if (spec->fs_access == SC_FS_ACCESS_POLICY && policy_allows_everything(policy) &&
            spec->allow_loopback_tcp)
            return 0;
        snprintf(err, errlen, "Landlock is not available (%s): the fs policy cannot be enforced",
                 strerror(errno));
        return -1;
    }
    if (abi < 4 && !spec->allow_loopback_tcp) {
        snprintf(err, errlen, "Landlock ABI %d cannot forbid TCP (ABI 4 can)", abi);
        return -1;
    }

    ll_ruleset_attr_t attr = {.handled_access_fs = fs_rights_of_abi(abi)};
    /* No TCP at all when loopback TCP is not allowed: both rights handled, no port granted.
     * When it is allowed, TCP is left alone: the VM's network namespace holds only loopback
     * unless the network policy set it up otherwise. */
    if (abi >= 4 && !spec->allow_loopback_tcp)
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
    /* Signals and abstract unix sockets only within the guest's own domain (its descendants).
     * Before ABI 6 the VM's PID and network namespaces are the only walls. */
    if (abi >= 6)
        attr.scoped = LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;

    ll_ctx_t c = {.handled = attr.handled_access_fs, .err = err, .errlen = errlen};
    c.ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (c.ruleset < 0) {
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    uint64_t dev = FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV;
    int rc = add_fixed(&c, sc_runtime_dirs, FS_READ_RIGHTS);
    if (rc == 0)
        rc = add_fixed(&c, devices, dev);
    if (rc == 0)
        rc = add_fixed(&c, proc_dirs, FS_READ_FILE | FS_READ_DIR);
    if (rc == 0 && spec->fs_access != SC_FS_ACCESS_NONE)
        rc = add_policy(&c, policy,
                        spec->fs_access == SC_FS_ACCESS_READ_ONLY ? FS_READ_RIGHTS : UINT64_MAX);
    /* Safe: restrict_self only narrows what this process and its future children can do;
     * no_new_privs (set by the caller) is what lets an unprivileged process do it. */
    if (rc == 0 && syscall(SYS_landlock_restrict_self, c.ruleset, 0) != 0) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        rc = -1;
    }
    close(c.ruleset);
    return rc;
}
