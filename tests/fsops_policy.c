/*
 * fsops_policy.c - the permission policy of GuestFilesystemCall (sidecar/vmfs/perms.c and its use in
 * fsops.c): the reference's permission_flags cases and more, table-driven (subjects, labels,
 * last match wins, ASK, the hidden read requirement of §8.4, EXISTS answering false), the other
 * domains' reasons, and unit tables for the glob and the path normalizer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsops_fixture.h"

/* ------------------------------------------------------------------------------------------ */
/* Permissions                                                                                  */

typedef struct prule {
    sc_perm_mode_t mode;
    const char *ops[4];
    const char *paths[4];
} prule_t;

typedef struct pcase {
    const char *name;
    sc_perm_mode_t def;
    prule_t rules[4];
    fcase_t call;
    bool exists; /* EXISTS calls: the expected answer */
} pcase_t;

#define ALLOW SC_PERM_ALLOW
#define DENY SC_PERM_DENY
#define ASK SC_PERM_ASK
#define R(m, o, p)                                                                                 \
    {                                                                                              \
        m, {o},                                                                                    \
        {                                                                                          \
            p                                                                                      \
        }                                                                                          \
    }

/* clang-format off */
static const pcase_t perm_cases[] = {
    /* permission_flags: a single star does not cross '/' */
    {.name = "single star ok", .def = DENY,
     .rules = {R(ALLOW, "read", "/tmp"), {ALLOW, {"create_dir", "read", "stat"}, {"/tmp/*"}}},
     .call = {.op = OP(MKDIR), .path = "/tmp/x"}},
    {.name = "single star nested", .def = DENY,
     .rules = {R(ALLOW, "read", "/tmp"), {ALLOW, {"create_dir", "read", "stat"}, {"/tmp/*"}}},
     .call = {.op = OP(MKDIR), .path = "/tmp/a/b",
      .want = "EACCES: permission denied, mkdir '/tmp/a/b': blocked by fs.create_dir policy"}},
    /* a double star does */
    {.name = "double star", .def = DENY,
     .rules = {R(ALLOW, "read", "/tmp"), {ALLOW, {"create_dir", "read", "stat"}, {"/tmp/**"}}},
     .call = {.op = OP(MKDIR), .path = "/tmp/x"}},
    {.name = "double star recursive", .def = DENY,
     .rules = {R(ALLOW, "read", "/tmp"), {ALLOW, {"create_dir", "read", "stat"}, {"/tmp/**"}}},
     .call = {.op = OP(MKDIR), .path = "/tmp/x/y/z", .recursive = true}},
    {.name = "create_dir label", .def = DENY,
     .rules = {R(ALLOW, "read", "/tmp")},
     .call = {.op = OP(CREATE_DIR), .path = "/tmp/x",
      .want = "EACCES: permission denied, createDir '/tmp/x': blocked by fs.create_dir policy"}},
    /* §8.4: read on the existing ancestors */
    {.name = "ancestors need read", .def = DENY,
     .rules = {R(ALLOW, "create_dir", "/tmp/**")},
     .call = {.op = OP(MKDIR), .path = "/tmp/a/x",
      .want = "EACCES: permission denied, read '/tmp': blocked by fs.read policy"}},
    {.name = "ancestors need read, second", .def = DENY,
     .rules = {{ALLOW, {"create_dir", "read"}, {"/tmp", "/tmp/**"}}, R(DENY, "read", "/tmp/a")},
     .call = {.op = OP(MKDIR), .path = "/tmp/a/x",
      .want = "EACCES: permission denied, read '/tmp/a': blocked by fs.read policy"}},
    {.name = "ancestors stop at the first missing", .def = DENY,
     .rules = {R(ALLOW, "create_dir", "/**"), R(ALLOW, "read", "/tmp")},
     .call = {.op = OP(MKDIR), .path = "/tmp/n/o/p", .recursive = true}},
    {.name = "write new file", .def = DENY,
     .rules = {R(ALLOW, "write", "/tmp/**"), R(ALLOW, "read", "/tmp")},
     .call = {.op = OP(WRITE_FILE), .path = "/tmp/new.txt", .content = "x"}},
    {.name = "write new file without read", .def = DENY,
     .rules = {R(ALLOW, "write", "/tmp/**")},
     .call = {.op = OP(WRITE_FILE), .path = "/tmp/new.txt", .content = "x",
      .want = "EACCES: permission denied, read '/tmp': blocked by fs.read policy"}},
    /* WRITE_FILE makes missing parents under write on the new file's destination form, with
     * read on its existing ancestors; create_dir is not asked (as the reference) */
    {.name = "write makes parents", .def = DENY,
     .rules = {R(ALLOW, "write", "/tmp/**"), R(ALLOW, "read", "/tmp")},
     .call = {.op = OP(WRITE_FILE), .path = "/tmp/p/q/new.txt", .content = "x"}},
    {.name = "write makes parents only where allowed", .def = DENY,
     .rules = {R(ALLOW, "write", "/tmp/*"), R(ALLOW, "read", "/tmp")},
     .call = {.op = OP(WRITE_FILE), .path = "/tmp/p/q/new.txt", .content = "x",
      .want = "EACCES: permission denied, write '/tmp/p/q/new.txt': blocked by fs.write policy"}},
    {.name = "write makes parents, ancestors need read", .def = DENY,
     .rules = {R(ALLOW, "write", "/tmp/**")},
     .call = {.op = OP(WRITE_FILE), .path = "/tmp/p/q/new.txt", .content = "x",
      .want = "EACCES: permission denied, read '/tmp': blocked by fs.read policy"}},
    {.name = "write makes parents through a link, checked where it lands", .def = ALLOW,
     .rules = {R(DENY, "write", "/dir/**")},
     .call = {.op = OP(WRITE_FILE), .path = "/link-dir/p/new.txt", .content = "x",
      .want = "EACCES: permission denied, write '/dir/p/new.txt': blocked by fs.write policy"}},
    {.name = "write existing unreadable file", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/no.txt")},
     .call = {.op = OP(WRITE_FILE), .path = "/secret/no.txt", .content = "x",
      .want = "EACCES: permission denied, read '/secret/no.txt': blocked by fs.read policy"}},
    {.name = "write denied", .def = ALLOW,
     .rules = {R(DENY, "write", "/secret/**")},
     .call = {.op = OP(WRITE_FILE), .path = "/secret/ok.txt", .content = "x",
      .want = "EACCES: permission denied, write '/secret/ok.txt': blocked by fs.write policy"}},
    {.name = "write through a dangling link lands checked", .def = ALLOW,
     .rules = {R(DENY, "write", "/secret/**")},
     .call = {.op = OP(WRITE_FILE), .path = "/dangling-secret", .content = "x",
      .want = "EACCES: permission denied, write '/secret/new.txt': blocked by fs.write policy"}},
    /* last match wins, both ways */
    {.name = "last match allows", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/**"), R(ALLOW, "read", "/secret/ok.txt")},
     .call = {.op = OP(READ_FILE), .path = "/secret/ok.txt"}},
    {.name = "last match denies", .def = ALLOW,
     .rules = {R(ALLOW, "read", "/secret/ok.txt"), R(DENY, "read", "/secret/**")},
     .call = {.op = OP(READ_FILE), .path = "/secret/ok.txt",
      .want = "EACCES: permission denied, read '/secret/ok.txt': blocked by fs.read policy"}},
    {.name = "other names unaffected", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/**"), R(ALLOW, "read", "/secret/ok.txt")},
     .call = {.op = OP(READ_FILE), .path = "/secret/no.txt",
      .want = "EACCES: permission denied, read '/secret/no.txt': blocked by fs.read policy"}},
    {.name = "ask denies", .def = ALLOW,
     .rules = {R(ASK, "read", "/secret/**")},
     .call = {.op = OP(READ_FILE), .path = "/secret/no.txt",
      .want = "EACCES: permission denied, read '/secret/no.txt': permission prompt required "
              "for fs.read"}},
    {.name = "ask default", .def = ASK,
     .rules = {R(ALLOW, "read", "/dir/**")},
     .call = {.op = OP(STAT), .path = "/file.txt",
      .want = "EACCES: permission denied, stat '/file.txt': permission prompt required for "
              "fs.stat"}},
    {.name = "default deny", .def = DENY,
     .rules = {{0}},
     .call = {.op = OP(READ_FILE), .path = "/file.txt",
      .want = "EACCES: permission denied, read '/file.txt': blocked by fs.read policy"}},
    {.name = "operation star", .def = DENY,
     .rules = {R(ALLOW, "*", "/**")},
     .call = {.op = OP(RENAME), .path = "/file.txt", .dest = "/tmp/f"}},
    {.name = "unknown op names never match", .def = DENY,
     .rules = {R(ALLOW, "chmod", "/**"), R(ALLOW, "read", "/**")},
     .call = {.op = OP(CHMOD), .path = "/file.txt", .mode = SET(0600),
      .want = "EACCES: permission denied, chmod '/file.txt': blocked by fs.write policy"}},
    /* ENOENT comes before the decision for resolved subjects */
    {.name = "missing before denial", .def = DENY,
     .rules = {{0}},
     .call = {.op = OP(READ_FILE), .path = "/missing",
      .want = "ENOENT: no such file or directory, open '/missing'"}},
    /* subjects: resolved through symlinks, lexical for lstat and readlink */
    {.name = "resolved subject", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/**")},
     .call = {.op = OP(READ_FILE), .path = "/link-secret",
      .want = "EACCES: permission denied, read '/secret/no.txt': blocked by fs.read policy"}},
    {.name = "stat resolved", .def = ALLOW,
     .rules = {R(DENY, "stat", "/secret/**")},
     .call = {.op = OP(STAT), .path = "/link-secret",
      .want = "EACCES: permission denied, stat '/secret/no.txt': blocked by fs.stat policy"}},
    {.name = "lstat lexical", .def = ALLOW,
     .rules = {R(DENY, "stat", "/secret/**")},
     .call = {.op = OP(LSTAT), .path = "/link-secret"}},
    {.name = "lstat lexical denied", .def = ALLOW,
     .rules = {R(DENY, "stat", "/link-secret")},
     .call = {.op = OP(LSTAT), .path = "/x/../link-secret",
      .want = "EACCES: permission denied, stat '/link-secret': blocked by fs.stat policy"}},
    {.name = "readlink lexical", .def = ALLOW,
     .rules = {R(DENY, "read", "/link-secret")},
     .call = {.op = OP(READ_LINK), .path = "/link-secret",
      .want = "EACCES: permission denied, readlink '/link-secret': blocked by fs.read policy"}},
    {.name = "readlink of a link to a denied file", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/**")},
     .call = {.op = OP(READ_LINK), .path = "/link-secret"}},
    {.name = "realpath is read", .def = ALLOW,
     .rules = {R(DENY, "read", "/secret/**")},
     .call = {.op = OP(REALPATH), .path = "/link-secret",
      .want = "EACCES: permission denied, read '/secret/no.txt': blocked by fs.read policy"}},
    {.name = "readdir", .def = ALLOW,
     .rules = {R(DENY, "readdir", "/dir")},
     .call = {.op = OP(READ_DIR), .path = "/link-dir",
      .want = "EACCES: permission denied, readdir '/dir': blocked by fs.readdir policy"}},
    {.name = "rm", .def = ALLOW,
     .rules = {R(DENY, "rm", "/dir/*")},
     .call = {.op = OP(REMOVE_FILE), .path = "/link-dir/file.txt",
      .want = "EACCES: permission denied, rm '/dir/file.txt': blocked by fs.rm policy"}},
    {.name = "rmdir", .def = ALLOW,
     .rules = {R(DENY, "rm", "/empty")},
     .call = {.op = OP(REMOVE_DIR), .path = "/empty",
      .want = "EACCES: permission denied, rm '/empty': blocked by fs.rm policy"}},
    {.name = "rename source", .def = ALLOW,
     .rules = {R(DENY, "rename", "/file.txt")},
     .call = {.op = OP(RENAME), .path = "/file.txt", .dest = "/tmp/f",
      .want = "EACCES: permission denied, rename '/file.txt': blocked by fs.rename policy"}},
    {.name = "rename destination", .def = ALLOW,
     .rules = {R(DENY, "rename", "/tmp/**")},
     .call = {.op = OP(RENAME), .path = "/file.txt", .dest = "/tmp/f",
      .want = "EACCES: permission denied, rename '/tmp/f': blocked by fs.rename policy"}},
    {.name = "symlink", .def = ALLOW,
     .rules = {R(DENY, "symlink", "/**")},
     .call = {.op = OP(SYMLINK), .path = "/l", .target = "x",
      .want = "EACCES: permission denied, symlink '/l': blocked by fs.symlink policy"}},
    {.name = "symlink destination form", .def = ALLOW,
     .rules = {R(DENY, "symlink", "/dir/*")},
     .call = {.op = OP(SYMLINK), .path = "/link-dir/l", .target = "x",
      .want = "EACCES: permission denied, symlink '/dir/l': blocked by fs.symlink policy"}},
    {.name = "link source", .def = ALLOW,
     .rules = {R(DENY, "write", "/dir/file.txt")},
     .call = {.op = OP(LINK), .path = "/link-file", .dest = "/h",
      .want = "EACCES: permission denied, link '/dir/file.txt': blocked by fs.write policy"}},
    {.name = "link destination", .def = ALLOW,
     .rules = {R(DENY, "write", "/tmp/**")},
     .call = {.op = OP(LINK), .path = "/file.txt", .dest = "/tmp/h",
      .want = "EACCES: permission denied, link '/tmp/h': blocked by fs.write policy"}},
    {.name = "chown", .def = ALLOW,
     .rules = {R(DENY, "write", "/file.txt")},
     .call = {.op = OP(CHOWN), .path = "/file.txt", .uid = SET(1), .gid = SET(1),
      .want = "EACCES: permission denied, chown '/file.txt': blocked by fs.write policy"}},
    {.name = "utimes", .def = ALLOW,
     .rules = {R(DENY, "write", "/file.txt")},
     .call = {.op = OP(UTIMES), .path = "/file.txt", .atime = SET(1), .mtime = SET(1),
      .want = "EACCES: permission denied, utimes '/file.txt': blocked by fs.write policy"}},
    {.name = "truncate", .def = ALLOW,
     .rules = {R(DENY, "write", "/dir/file.txt")},
     .call = {.op = OP(TRUNCATE), .path = "/link-file", .len = SET(0),
      .want = "EACCES: permission denied, truncate '/dir/file.txt': blocked by fs.write policy"}},
    {.name = "pread", .def = ALLOW,
     .rules = {R(DENY, "read", "/file.txt")},
     .call = {.op = OP(PREAD), .path = "/file.txt", .offset = SET(0), .len = SET(1),
      .want = "EACCES: permission denied, read '/file.txt': blocked by fs.read policy"}},
    /* EXISTS: denial is false */
    {.name = "exists denied", .def = DENY,
     .rules = {{0}},
     .call = {.op = OP(EXISTS), .path = "/file.txt"}, .exists = false},
    {.name = "exists allowed", .def = DENY,
     .rules = {R(ALLOW, "stat", "/file.txt")},
     .call = {.op = OP(EXISTS), .path = "/file.txt"}, .exists = true},
    {.name = "exists resolved subject", .def = ALLOW,
     .rules = {R(DENY, "stat", "/secret/**")},
     .call = {.op = OP(EXISTS), .path = "/link-secret"}, .exists = false},
    {.name = "exists missing dest form", .def = DENY,
     .rules = {R(ALLOW, "stat", "/tmp/*")},
     .call = {.op = OP(EXISTS), .path = "/tmp/a"}, .exists = true},
};
/* clang-format on */

static sc_perm_rule_t rule_store[4];

static void load_policy(const pcase_t *c)
{
    set_policy(c->def);
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(c->rules) && c->rules[i].ops[0]; i++) {
        sc_perm_rule_t *r = &rule_store[n++];
        r->mode = c->rules[i].mode;
        r->operations = (const char **)c->rules[i].ops;
        r->patterns = (const char **)c->rules[i].paths;
        for (r->noperations = 0; r->noperations < 4 && c->rules[i].ops[r->noperations];)
            r->noperations++;
        for (r->npatterns = 0; r->npatterns < 4 && c->rules[i].paths[r->npatterns];)
            r->npatterns++;
    }
    policy.domains[SC_DOMAIN_FS].rules = n ? rule_store : NULL;
    policy.domains[SC_DOMAIN_FS].nrules = n;
}

START_TEST(test_permissions)
{
    const pcase_t *c = &perm_cases[_i];
    load_policy(c);
    load(&c->call);
    int rc = call_req();
    if (c->call.want) {
        ck_assert_msg(rc == -1, "%s: succeeded", c->name);
        ck_assert_msg(strcmp(msg, c->call.want) == 0, "%s: got %s", c->name, msg);
        ck_assert_str_eq(code, "kernel_error");
    } else {
        ck_assert_msg(rc == 0, "%s: %s", c->name, msg);
    }
    if (c->call.op == OP(EXISTS)) {
        ck_assert(out.exists.present);
        ck_assert_msg(out.exists.value == c->exists, "%s", c->name);
    }
    /* a denied mutation changes nothing */
    if (rc != 0) {
        ck_assert(!host_exists(hp("tmp/x")) && !host_exists(hp("tmp/new.txt")));
        ck_assert(!host_exists(hp("tmp/a/x")) && !host_exists(hp("secret/new.txt")));
        ck_assert(!host_exists(hp("l")) && !host_exists(hp("h")) && !host_exists(hp("tmp/h")));
        ck_assert_str_eq(slurp(hp("secret/no.txt")), "no");
        ck_assert_str_eq(slurp(hp("secret/ok.txt")), "ok");
        ck_assert_str_eq(slurp(hp("file.txt")), "content");
    }
}
END_TEST

/* A denied subject whose name is not UTF-8 still gives a UTF-8 message. */
START_TEST(test_denied_subject_not_utf8)
{
    mk_text("bad\xff\xc3", "x");
    mk_link("link-bad", "bad\xff\xc3");
    static const char *ops[] = {"read"}, *pats[] = {"/bad*"};
    sc_perm_rule_t rule = {SC_PERM_DENY, ops, 1, pats, 1};
    set_policy(SC_PERM_ALLOW);
    policy.domains[SC_DOMAIN_FS].rules = &rule;
    policy.domains[SC_DOMAIN_FS].nrules = 1;
    fails(
        (fcase_t){.op = OP(READ_FILE),
                  .path = "/link-bad",
                  .want = "EACCES: permission denied, read '/bad?\?': blocked by fs.read policy"});
    ck_assert(bare_utf8_valid(msg, strlen(msg)));
    /* the name itself comes back with U+FFFD where it is not UTF-8 */
    policy.domains[SC_DOMAIN_FS].nrules = 0;
    ok((fcase_t){.op = OP(REALPATH), .path = "/link-bad"});
    ck_assert_str_eq(target_of(), "/bad\xef\xbf\xbd\xef\xbf\xbd");
}
END_TEST

/* The policy for other domains and the reasons. */
START_TEST(test_policy_allows)
{
    static const char *net_ops[] = {"http"}, *net_pats[] = {"tcp://*:443"};
    static const char *star[] = {"*"}, *any[] = {"**"}, *evil[] = {"tcp://evil:*"};
    sc_perm_rule_t net[] = {{SC_PERM_ALLOW, net_ops, 1, net_pats, 1},
                            {SC_PERM_ASK, star, 1, evil, 1}};
    sc_perm_rule_t cp[] = {{SC_PERM_DENY, star, 1, any, 1}};
    set_policy(SC_PERM_DENY);
    policy.domains[SC_DOMAIN_NETWORK] = (sc_perm_scope_t){SC_PERM_DENY, net, 2};
    policy.domains[SC_DOMAIN_CHILD_PROCESS] = (sc_perm_scope_t){SC_PERM_ALLOW, cp, 1};
    policy.domains[SC_DOMAIN_TOOL] = (sc_perm_scope_t){SC_PERM_ALLOW, NULL, 0};
    char reason[128];
    ck_assert(sc_policy_allows(&policy, SC_DOMAIN_NETWORK, "http", "tcp://a.b:443", reason,
                               sizeof reason));
    ck_assert_str_eq(reason, "");
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_NETWORK, "http", "tcp://a.b:80", reason,
                                sizeof reason));
    ck_assert_str_eq(reason, "blocked by network.http policy");
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_NETWORK, "listen", "tcp://evil:443", reason,
                                sizeof reason));
    ck_assert_str_eq(reason, "permission prompt required for network.listen");
    ck_assert(
        !sc_policy_allows(&policy, SC_DOMAIN_CHILD_PROCESS, "spawn", "sh", reason, sizeof reason));
    ck_assert_str_eq(reason, "blocked by child_process.spawn policy");
    /* no resource: no rule can match, the default decides */
    ck_assert(sc_policy_allows(&policy, SC_DOMAIN_CHILD_PROCESS, "spawn", NULL, NULL, 0));
    ck_assert(sc_policy_allows(&policy, SC_DOMAIN_TOOL, "invoke", "kit:tool", NULL, 0));
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_ENV, "read", "HOME", reason, sizeof reason));
    ck_assert_str_eq(reason, "blocked by env.read policy");
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_PROCESS, "inspect", "process://snapshot", reason,
                                sizeof reason));
    ck_assert_str_eq(reason, "blocked by process.inspect policy");
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_COUNT, "x", "y", NULL, 0));
    ck_assert(!sc_policy_allows(NULL, SC_DOMAIN_FS, "read", "/", NULL, 0));
    /* a reason buffer too small is cut, not overrun */
    char tiny[8];
    ck_assert(!sc_policy_allows(&policy, SC_DOMAIN_ENV, "read", "HOME", tiny, sizeof tiny));
    ck_assert_str_eq(tiny, "blocked");

    static const char *const names[] = {"read", "write",  "stat",    "readdir",        "create_dir",
                                        "rm",   "rename", "symlink", "mount_sensitive"};
    for (int i = 0; i < (int)ARRAY_LEN(names); i++)
        ck_assert_str_eq(sc_fs_op_name((sc_fs_op_t)i), names[i]);
}
END_TEST

/* The §8.4 walk with a fake filesystem: these paths exist (and resolve to themselves). */
static const char *const fake_tree[] = {"/", "/a", "/a/b", "/a/b/c", "/l"};

static int fake_resolve(void *ud, const char *path, char *out_path)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(path, "/l") == 0) { /* a symlink to /a/b */
        strcpy(out_path, "/a/b");
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(fake_tree); i++)
        if (strcmp(fake_tree[i], path) == 0) {
            strcpy(out_path, path);
            return 0;
        }
    return ENOENT;
}

static const struct {
    const char *read1, *read2; /* globs allowed for read */
    const char *path;
    bool resolved_style, want;
    const char *denied;
} guard_cases[] = {
    {"/a", NULL, "/a/b/c", false, false, "/a/b"},
    {"/a/**", NULL, "/a/b/c", false, false, "/a"}, /* the double star needs "/a/" */
    {"/a", "/a/*", "/a/b/c", false, true, NULL},
    {"/**", NULL, "/a/b/c", false, true, NULL},
    {"/nothing", NULL, "/x/y/z", false, true, NULL}, /* /x missing: the walk ends at once */
    {"/nothing", NULL, "/a", false, true, NULL},     /* only "/" above: nothing to check */
    {"/nothing", NULL, "/a/b/c", true, false, "/a"},
    {"/a/b/c", NULL, "/a/b/c", true, true, NULL},    /* the resolved path alone suffices */
    {"/a", "/a/b", "/a/b/c", true, false, "/a/b/c"}, /* else the walk includes it */
    {"/a", NULL, "/a/b/new", true, false, "/a/b"},
    {"/a", "/a/b", "/a/b/new", true, true, NULL},
    {"/l", NULL, "/l/c", false, false, "/a/b"}, /* ancestors are taken resolved */
    {"/a", "/a/b", "/l/c", false, true, NULL},
};

START_TEST(test_read_guard)
{
    static const char *readop[] = {"read"};
    const char *pats[2] = {guard_cases[_i].read1, guard_cases[_i].read2};
    sc_perm_rule_t rule = {SC_PERM_ALLOW, readop, 1, pats, pats[1] ? 2 : 1};
    set_policy(SC_PERM_DENY);
    policy.domains[SC_DOMAIN_FS].rules = &rule;
    policy.domains[SC_DOMAIN_FS].nrules = 1;
    int calls = 0;
    char denied[SC_PATH_MAX + 1] = "", reason[128] = "";
    bool got = sc_policy_read_guard(&policy, guard_cases[_i].path, guard_cases[_i].resolved_style,
                                    fake_resolve, &calls, denied, reason, sizeof reason);
    ck_assert_msg(got == guard_cases[_i].want, "case %d", _i);
    if (!got) {
        ck_assert_str_eq(denied, guard_cases[_i].denied);
        ck_assert_str_eq(reason, "blocked by fs.read policy");
    }
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Units: the glob and the normalizer                                                           */

#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct {
    const char *pattern, *subject;
    bool want;
} glob_cases[] = {
    {"/tmp/*", "/tmp/a", true},
    {"/tmp/*", "/tmp/a/b", false},
    {"/tmp/*", "/tmp/", true},
    {"/tmp/*", "/tmp", false},
    {"/tmp/**", "/tmp/a/b/c", true},
    {"/tmp/**", "/tmp/", true},
    {"/tmp/**", "/tmp", false},
    {"/**", "/", true},
    {"/**", "/a/b", true},
    {"**", "/", true},
    {"**", "", true},
    {"*", "", true},
    {"*", "abc", true},
    {"*", "/", false},
    {"/a/**/b", "/a/b", false},
    {"/a/**/b", "/a//b", true},
    {"/a/**/b", "/a/x/y/b", true},
    {"/a/***", "/a/x/y", true},
    {"/a/*/c", "/a/b/c", true},
    {"/a/*/c", "/a/b/x/c", false},
    {"/a/?", "/a/b", true},
    {"/a/?", "/a/bc", false},
    {"/a/?", "/a/", false},
    {"/a?b", "/a/b", false},
    {"/a??", "/a\xc3\xa9", true}, /* bytes */
    {"/a?", "/a\xc3\xa9", false},
    {"/file.txt", "/file.txt", true},
    {"/file.txt", "/file_txt", false},
    {"/file.txt", "/file.txt/", false},
    {"/[ab]", "/a", false},
    {"/[ab]", "/[ab]", true},
    {"/{a,b}", "/a", false},
    {"/\\*", "/\\x", true},
    {"/\\*", "/*", false},
    {"", "", true},
    {"", "/", false},
    {"*.txt", "a.txt", true},
    {"*.txt", "dir/a.txt", false},
    {"**.txt", "dir/a.txt", true},
    {"*a*a*a*a*a*a*a*a*b", A64, false}, /* no exponential backtracking */
    {"**a**a**a**a**a**b", A64, false},
    {"**a**a**a**a**a**a", A64, true},
    {"tcp://*:443", "tcp://example.com:443", true},
    {"tcp://*:443", "tcp://example.com:4430", false},
    {"dns://*.example.com", "dns://a.example.com", true},
};

START_TEST(test_glob)
{
    ck_assert_msg(sc_glob_match(glob_cases[_i].pattern, glob_cases[_i].subject) ==
                      glob_cases[_i].want,
                  "'%s' vs '%s'", glob_cases[_i].pattern, glob_cases[_i].subject);
}
END_TEST

START_TEST(test_glob_long_subject)
{
    static char s[5000];
    memset(s, 'a', sizeof s - 1);
    s[0] = '/';
    s[2500] = '/';
    ck_assert(sc_glob_match("/**", s));
    ck_assert(!sc_glob_match("/*", s));
    ck_assert(sc_glob_match("/*/*", s));
    ck_assert(sc_glob_match("/**a", s));
    ck_assert(!sc_glob_match("/**b", s));
}
END_TEST

static const struct {
    const char *in;
    int err;
    const char *want;
} norm_cases[] = {
    {"", 0, "/"},
    {"/", 0, "/"},
    {"a/b", 0, "/a/b"},
    {"/a/./b/", 0, "/a/b"},
    {"//x//y//", 0, "/x/y"},
    {"/../..", 0, "/"},
    {"a/../../b", 0, "/b"},
    {"/a/b/../c/./..", 0, "/a"},
    {"/.../x", 0, "/.../x"},
    {"/a..b/.c", 0, "/a..b/.c"},
    {"/caf\xc3\xa9", 0, "/caf\xc3\xa9"},
    {"/a\x01", EINVAL, NULL},
    {"/a\tb", EINVAL, NULL},
    {"/a\x7f", EINVAL, NULL},
    {"/a\nb", EINVAL, NULL},
};

START_TEST(test_normalize)
{
    char outp[SC_PATH_MAX + 1];
    int err = sc_path_normalize(norm_cases[_i].in, strlen(norm_cases[_i].in), outp);
    ck_assert_int_eq(err, norm_cases[_i].err);
    if (!err)
        ck_assert_str_eq(outp, norm_cases[_i].want);
}
END_TEST

START_TEST(test_normalize_limits)
{
    static char in[SC_PATH_MAX + 8];
    char outp[SC_PATH_MAX + 1];
    memset(in, 'a', sizeof in);
    in[0] = '/';
    ck_assert_int_eq(sc_path_normalize(in, SC_PATH_MAX, outp), 0); /* exactly 4096 */
    ck_assert_uint_eq(strlen(outp), SC_PATH_MAX);
    ck_assert_int_eq(sc_path_normalize(in, SC_PATH_MAX + 1, outp), ENAMETOOLONG);
    /* length counts after normalization */
    in[1] = '.';
    in[2] = '/';
    ck_assert_int_eq(sc_path_normalize(in, SC_PATH_MAX + 2, outp), 0);
    ck_assert_int_eq(sc_path_normalize("/a\0b", 4, outp), EINVAL);
}
END_TEST

void fsops_add_policy_tcases(Suite *s)
{
    TCase *tc = fixture_tcase("permissions");
    tcase_add_loop_test(tc, test_permissions, 0, (int)ARRAY_LEN(perm_cases));
    tcase_add_test(tc, test_policy_allows);
    tcase_add_test(tc, test_denied_subject_not_utf8);
    tcase_add_loop_test(tc, test_read_guard, 0, (int)ARRAY_LEN(guard_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("units");
    tcase_add_loop_test(tc, test_glob, 0, (int)ARRAY_LEN(glob_cases));
    tcase_add_test(tc, test_glob_long_subject);
    tcase_add_loop_test(tc, test_normalize, 0, (int)ARRAY_LEN(norm_cases));
    tcase_add_test(tc, test_normalize_limits);
    suite_add_tcase(s, tc);
}
