/*
 * fsops_fixture.h - what the GuestFilesystemCall tests share (fsops_fixture.c): a VM root in a
 * temporary directory with files, directories, hard links, a FIFO and symlinks of every kind
 * (relative, absolute, "/", "../" chains, loops, dangling, to host paths), a canary file beside
 * the root that no call may read or change, and helpers that build requests and check answers.
 */
#ifndef FSOPS_FIXTURE_H
#define FSOPS_FIXTURE_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define OP(x) SX_GUEST_FILESYSTEM_OPERATION_##x
#define ID_BASE 0x3c000000u
#define CANARY_TEXT "HOST-CANARY-SECRET\n"

/* clang-format off */
#define SET(x) {true, (x)}
/* clang-format on */

typedef struct opt64 {
    bool on;
    uint64_t v;
} opt64_t;

typedef struct fcase {
    int op;
    const char *path, *dest, *target, *content;
    bool b64, recursive;
    opt64_t mode, uid, gid, atime, mtime, len, offset;
    const char *want; /* the exact message, or NULL for success */
} fcase_t;

/* The temporary tree: base_dir holds root/ (the VM's "/") and canary. */
extern char base_dir[64], root_dir[PATH_MAX], canary[PATH_MAX];
extern int root_fd;
/* What sc_fs_call gets; tests change them before calling. */
extern sc_host_t host;
extern sc_policy_t policy;
extern sc_resource_limits_t limits;
extern sc_fsctx_t ctx;
extern bare_arena_t arena;
/* The last request and its answer. */
extern sx_guest_filesystem_call_request_t rq;
extern sx_guest_filesystem_result_response_t out;
extern char code[64], msg[2048];

/* A test case whose every test gets a fresh tree (default policy: allow all), removed after. */
TCase *fixture_tcase(const char *name);

/* Host side of the tree. hp() gives the host path of a root-relative name (rotating buffers). */
const char *hp(const char *rel);
void mk_dir(const char *rel);
void mk_file(const char *rel, const void *data, size_t n);
void mk_text(const char *rel, const char *text);
void mk_link(const char *rel, const char *target);
const char *slurp(const char *path); /* "" when missing; one static buffer */
bool host_exists(const char *path);  /* lstat */
bool starts(const char *s, const char *prefix);
void assert_canary_intact(void);

/* The fs domain's default, no rules; every other domain DENY. */
void set_policy(sc_perm_mode_t def);

/* Calls: load() fills rq from a case, call_req() runs it; expect() checks the outcome. */
void load(const fcase_t *c);
int call_req(void);
void expect(const fcase_t *c);
void ok(const fcase_t c);
void fails(const fcase_t c);
const char *text_of(void); /* content of the last answer, which must be UTF-8 */
const char *read_text(const char *path);
const char *target_of(void); /* target of the last answer */
sx_guest_filesystem_stat_t stat_of(int op, const char *path);

/* The permission and unit test cases (fsops_policy.c). */
void fsops_add_policy_tcases(Suite *s);

#endif
