/*
 * fsops_fixture.c - the temporary VM root and the call helpers shared by the GuestFilesystemCall
 * tests (see fsops_fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops_fixture.h"

char base_dir[64], root_dir[PATH_MAX], canary[PATH_MAX];
int root_fd = -1;
sc_host_t host;
sc_policy_t policy;
sc_resource_limits_t limits;
sc_fsctx_t ctx;
bare_arena_t arena;
sx_guest_filesystem_call_request_t rq;
sx_guest_filesystem_result_response_t out;
char code[64], msg[2048];

/* ------------------------------------------------------------------------------------------ */
/* The root                                                                                     */

const char *hp(const char *rel) /* host path of a root-relative name */
{
    static char buf[4][PATH_MAX * 2];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", root_dir, rel);
    return b;
}

void mk_dir(const char *rel)
{
    ck_assert_int_eq(mkdir(hp(rel), 0755), 0);
    ck_assert_int_eq(chmod(hp(rel), 0755), 0);
}

void mk_file(const char *rel, const void *data, size_t n)
{
    int fd = open(hp(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    ck_assert_int_eq(chmod(hp(rel), 0644), 0);
}

void mk_text(const char *rel, const char *text)
{
    mk_file(rel, text, strlen(text));
}

void mk_link(const char *rel, const char *target)
{
    ck_assert_int_eq(symlink(target, hp(rel)), 0);
}

/* The whole content of a host file ("" when missing); static, one at a time. */
const char *slurp(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

bool host_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void set_policy(sc_perm_mode_t def)
{
    for (int d = 0; d < SC_DOMAIN_COUNT; d++)
        policy.domains[d] = (sc_perm_scope_t){SC_PERM_DENY, NULL, 0};
    policy.domains[SC_DOMAIN_FS].default_mode = def;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

/*
 * Every test's tree lives in one directory per test case, made and removed by the runner
 * itself (unchecked fixture): a failed assertion ends a forked test without its teardown.
 */
static char run_dir[48];

static void run_setup(void)
{
    snprintf(run_dir, sizeof run_dir, "/tmp/check_fsops.XXXXXX");
    if (!mkdtemp(run_dir))
        run_dir[0] = '\0';
}

static void run_teardown(void)
{
    remove_tree(run_dir);
}

static void setup(void)
{
    umask(077); /* the sidecar's umask must not shape guest files */
    snprintf(base_dir, sizeof base_dir, "%s/t.XXXXXX", run_dir[0] ? run_dir : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(base_dir));
    snprintf(root_dir, sizeof root_dir, "%s/root", base_dir);
    snprintf(canary, sizeof canary, "%s/canary", base_dir);
    ck_assert_int_eq(mkdir(root_dir, 0755), 0);
    int fd = open(canary, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, CANARY_TEXT, strlen(CANARY_TEXT)), (ssize_t)strlen(CANARY_TEXT));
    close(fd);

    static const char *const dirs[] = {"etc",  "dir", "dir/sub", "empty",
                                       "full", "tmp", "tmp/a",   "secret"};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
        mk_dir(dirs[i]);
    mk_text("etc/shadow", "vm-shadow\n");
    mk_text("dir/file.txt", "hello");
    mk_text("dir/sub/deep.txt", "deep");
    mk_text("full/a.txt", "a");
    mk_text("file.txt", "content");
    mk_text("empty.txt", "");
    mk_file("bin.dat", "\x00\xff\xfe\x80\x01", 5);
    mk_text("secret/ok.txt", "ok");
    mk_text("secret/no.txt", "no");
    mk_text("h1.txt", "hard");
    ck_assert_int_eq(link(hp("h1.txt"), hp("h2.txt")), 0);
    mk_link("link-file", "dir/file.txt");
    mk_link("link-dir", "/dir");
    mk_link("link-root", "/");
    mk_link("link-shadow", "/etc/shadow");
    mk_link("link-passwd", "/etc/passwd");
    mk_link("link-canary", canary);
    mk_link("link-up", "../../../../../../../..");
    mk_link("link-up-canary", "../canary"); /* on the host: exactly the canary */
    mk_link("dir/link-up2", "../../..");
    mk_link("loop-a", "loop-b");
    mk_link("loop-b", "loop-a");
    mk_link("dangling", "nowhere");
    mk_link("dangling-abs", "/made.txt");
    mk_link("dangling-chain", "dangling-abs");
    mk_link("link-secret", "/secret/no.txt");
    mk_link("dangling-secret", "/secret/new.txt");
    ck_assert_int_eq(mkfifo(hp("fifo"), 0644), 0);

    root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(root_fd, 0);
    host = (sc_host_t){.privileged = geteuid() == 0, .id_base = ID_BASE, .id_count = 65536};
    set_policy(SC_PERM_ALLOW);
    memset(&limits, 0, sizeof limits);
    limits.max_pread_bytes = 1 << 20;
    limits.max_readdir_entries = 4096;
    ctx = (sc_fsctx_t){&host, root_fd, &policy, &limits, false, {0, 0}};
    bare_arena_init(&arena, NULL, NULL);
}

static void teardown(void)
{
    if (root_fd >= 0)
        close(root_fd);
    root_fd = -1;
    bare_arena_free(&arena);
    remove_tree(base_dir);
}

TCase *fixture_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, run_setup, run_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                        */

void load(const fcase_t *c)
{
    memset(&rq, 0, sizeof rq);
    rq.operation = (sx_guest_filesystem_operation_t)c->op;
    rq.path = bare_str_from_cstr(c->path);
#define STR_OPT(field, src)                                                                        \
    if (src) {                                                                                     \
        rq.field.present = true;                                                                   \
        rq.field.value = bare_str_from_cstr(src);                                                  \
    }
    STR_OPT(destination_path, c->dest)
    STR_OPT(target, c->target)
    STR_OPT(content, c->content)
#undef STR_OPT
    if (c->b64) {
        rq.encoding.present = true;
        rq.encoding.value = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
    }
    rq.recursive = c->recursive;
#define NUM_OPT(field, src, type)                                                                  \
    if (src.on) {                                                                                  \
        rq.field.present = true;                                                                   \
        rq.field.value = (type)src.v;                                                              \
    }
    NUM_OPT(mode, c->mode, uint32_t)
    NUM_OPT(uid, c->uid, uint32_t)
    NUM_OPT(gid, c->gid, uint32_t)
    NUM_OPT(atime_ms, c->atime, uint64_t)
    NUM_OPT(mtime_ms, c->mtime, uint64_t)
    NUM_OPT(len, c->len, uint64_t)
    NUM_OPT(offset, c->offset, uint64_t)
#undef NUM_OPT
}

int call_req(void)
{
    code[0] = msg[0] = '\0';
    return sc_fs_call(&ctx, &rq, &arena, &out, code, sizeof code, msg, sizeof msg);
}

void expect(const fcase_t *c)
{
    load(c);
    int rc = call_req();
    if (!c->want) {
        ck_assert_msg(rc == 0, "op %d on %s failed: %s: %s", c->op, c->path, code, msg);
        ck_assert_int_eq(out.operation, c->op);
        return;
    }
    ck_assert_msg(rc == -1, "op %d on %s succeeded, wanted %s", c->op, c->path, c->want);
    ck_assert_str_eq(msg, c->want);
    ck_assert_str_eq(code, c->want[0] == 'E' ? "kernel_error" : "invalid_state");
}

void ok(const fcase_t c)
{
    expect(&c);
}

void fails(const fcase_t c)
{
    ck_assert_ptr_nonnull(c.want);
    expect(&c);
}

/* The content of a successful READ_FILE or PREAD, which must be UTF-8 encoded. */
const char *text_of(void)
{
    static char buf[1 << 16];
    ck_assert(out.content.present && out.encoding.present);
    ck_assert_int_eq(out.encoding.value, SX_ROOT_FILESYSTEM_ENTRY_ENCODING_UTF8);
    ck_assert_uint_lt(out.content.value.len, sizeof buf);
    memcpy(buf, out.content.value.ptr, out.content.value.len);
    buf[out.content.value.len] = '\0';
    return buf;
}

const char *read_text(const char *path)
{
    ok((fcase_t){.op = OP(READ_FILE), .path = path});
    return text_of();
}

const char *target_of(void)
{
    static char buf[SC_PATH_MAX * 2];
    ck_assert(out.target.present);
    ck_assert_uint_lt(out.target.value.len, sizeof buf);
    memcpy(buf, out.target.value.ptr, out.target.value.len);
    buf[out.target.value.len] = '\0';
    return buf;
}

sx_guest_filesystem_stat_t stat_of(int op, const char *path)
{
    ok((fcase_t){.op = op, .path = path});
    ck_assert(out.stat.present);
    return out.stat.value;
}

bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void assert_canary_intact(void)
{
    struct stat st;
    ck_assert_int_eq(lstat(canary, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_uint_eq(st.st_nlink, 1);
    ck_assert_str_eq(slurp(canary), CANARY_TEXT);
}
