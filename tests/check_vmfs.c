/*
 * check_vmfs.c - VM filesystems through the real sidecar: the base tree, lowers and bootstrap
 * precedence, READ_ONLY roots, overlays shared between VMs, layers, snapshots that restore,
 * limits, escapes, ConfigureVm permissions, and that nothing outlives a VM or the sidecar.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "proc_probe.h"

#ifndef SIDECAR_PATH
#define SIDECAR_PATH "build/secure-exec-sidecar"
#endif

#define T 20000

static const char *ALLOW_FS = "{\"permissions\": {\"fs\": \"allow\"}}";
/* The same, with room for the 60 MiB and more the frame-limit tests write. */
static const char *ALLOW_FS_128M = "{\"permissions\": {\"fs\": \"allow\"}, \"limits\": "
                                   "{\"resources\": {\"maxFilesystemBytes\": 134217728}}}";

static se_client_t *start(void)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    char err[256];
    int null = open("/dev/null", 1);
    se_client_options_t opt = {SIDECAR_PATH, NULL, env, getenv("CHECK_VMFS_LOGS") ? -1 : null, 0};
    se_client_t *c = se_client_spawn(&opt, err, sizeof err);
    close(null);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(se_client_authenticate(c, "vmfs", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    return c;
}

static void stop(se_client_t *c)
{
    int status = se_client_close(c, T);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void vm_new(se_client_t *c, const char *config, char *vm)
{
    int st = se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, config, T, vm, 64);
    ck_assert_msg(st == SE_OK, "create_vm: %s: %s %s", se_strerror(st),
                  se_client_rejection_code(c), se_client_rejection_message(c));
    sx_event_frame_t ev;
    ck_assert_int_eq(se_client_next_event(c, T, &ev), SE_OK); /* CREATING */
    ck_assert_int_eq(se_client_next_event(c, T, &ev), SE_OK); /* READY */
}

/* One GuestFilesystemCall; the response in *r. */
static void fscall(se_client_t *c, const char *vm, sx_guest_filesystem_operation_t op,
                   const char *path,
                   void (*fill)(sx_guest_filesystem_call_request_t *, const void *),
                   const void *ud, sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    se_client_vm_scope(c, vm, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    p.u.guest_filesystem_call_request.operation = op;
    p.u.guest_filesystem_call_request.path = bare_str_from_cstr(path);
    if (fill)
        fill(&p.u.guest_filesystem_call_request, ud);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, r), SE_OK);
}

static void with_content(sx_guest_filesystem_call_request_t *q, const void *ud)
{
    q->content.present = true;
    q->content.value = bare_str_from_cstr(ud);
}

static void with_dest(sx_guest_filesystem_call_request_t *q, const void *ud)
{
    q->destination_path.present = true;
    q->destination_path.value = bare_str_from_cstr(ud);
}

static void with_target(sx_guest_filesystem_call_request_t *q, const void *ud)
{
    q->target.present = true;
    q->target.value = bare_str_from_cstr(ud);
}

/* ud: {offset, len} */
static void with_range(sx_guest_filesystem_call_request_t *q, const void *ud)
{
    const uint64_t *v = ud;
    q->offset.present = q->len.present = true;
    q->offset.value = v[0];
    q->len.value = v[1];
}

/* ud: {len} */
static void with_len(sx_guest_filesystem_call_request_t *q, const void *ud)
{
    q->len.present = true;
    q->len.value = *(const uint64_t *)ud;
}

static void expect_ok(const sx_response_frame_t *r)
{
    ck_assert_msg(r->payload.tag == SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE,
                  "rejected: %.*s: %.*s", (int)r->payload.u.rejected_response.code.len,
                  r->payload.u.rejected_response.code.ptr,
                  (int)r->payload.u.rejected_response.message.len,
                  r->payload.u.rejected_response.message.ptr);
}

static void expect_err(const sx_response_frame_t *r, const char *code, const char *prefix)
{
    ck_assert_int_eq(r->payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    const sx_rejected_response_t *rej = &r->payload.u.rejected_response;
    ck_assert_msg(bare_str_eq_cstr(rej->code, code), "code %.*s (%.*s), want %s",
                  (int)rej->code.len, rej->code.ptr, (int)rej->message.len, rej->message.ptr,
                  code);
    ck_assert_msg(rej->message.len >= strlen(prefix) &&
                      memcmp(rej->message.ptr, prefix, strlen(prefix)) == 0,
                  "message '%.*s' does not start with '%s'", (int)rej->message.len,
                  rej->message.ptr, prefix);
}

/* READ_FILE as a NUL-terminated string (UTF-8 content), or NULL when rejected. */
static char *read_text(se_client_t *c, const char *vm, const char *path)
{
    static char buf[65536];
    sx_response_frame_t r;
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, path, NULL, NULL, &r);
    if (r.payload.tag != SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE)
        return NULL;
    const sx_guest_filesystem_result_response_t *g = &r.payload.u.guest_filesystem_result_response;
    ck_assert(g->content.present);
    snprintf(buf, sizeof buf, "%.*s", (int)g->content.value.len, g->content.value.ptr);
    return buf;
}

static void write_text(se_client_t *c, const char *vm, const char *path, const char *text)
{
    sx_response_frame_t r;
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, path, with_content, text,
           &r);
    expect_ok(&r);
}

/* The snapshot of a VM's root. */
/* SnapshotRootFilesystem of vm; r is its answer, a snapshot or a rejection. */
static void snapshot_call(se_client_t *c, const char *vm, sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    se_client_vm_scope(c, vm, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, r), SE_OK);
}

/* The same, answered with a snapshot. */
static void snapshot(se_client_t *c, const char *vm, sx_response_frame_t *r)
{
    snapshot_call(c, vm, r);
    ck_assert_int_eq(r->payload.tag, SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_SNAPSHOT_RESPONSE);
}

static const sx_root_filesystem_entry_t *find_entry(const sx_root_filesystem_entry_list_t *l,
                                                    const char *path)
{
    for (size_t i = 0; i < l->len; i++)
        if (bare_str_eq_cstr(l->items[i].path, path))
            return &l->items[i];
    return NULL;
}

START_TEST(test_base_filesystem)
{
    se_client_t *c = start();
    char vm[64];
    vm_new(c, ALLOW_FS, vm);
    sx_response_frame_t r;
    snapshot(c, vm, &r);
    const sx_root_filesystem_entry_list_t *l = &r.payload.u.root_filesystem_snapshot_response.entries;
    ck_assert(bare_str_eq_cstr(l->items[0].path, "/"));
    const sx_root_filesystem_entry_t *e = find_entry(l, "/home/user");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->mode.value, 042755);
    ck_assert_uint_eq(e->uid.value, 1000);
    ck_assert_uint_eq(e->gid.value, 1000);
    e = find_entry(l, "/tmp");
    ck_assert_uint_eq(e->mode.value, 041777);
    e = find_entry(l, "/etc/shadow");
    ck_assert_uint_eq(e->mode.value, 0100640);
    ck_assert_uint_eq(e->gid.value, 42);
    e = find_entry(l, "/etc/os-release");
    ck_assert_int_eq(e->kind, SX_ROOT_FILESYSTEM_ENTRY_KIND_SYMLINK);
    ck_assert(bare_str_eq_cstr(e->target.value, "../usr/lib/os-release"));
    /* depth first, children sorted */
    for (size_t i = 1; i + 1 < l->len; i++) {
        const bare_str_t *a = &l->items[i].path, *b = &l->items[i + 1].path;
        ck_assert_msg(!(a->len && b->len && strncmp(a->ptr, b->ptr, a->len < b->len ? a->len : b->len) > 0 &&
                        memchr(a->ptr + 1, '/', a->len - 1) == NULL && memchr(b->ptr + 1, '/', b->len - 1) == NULL),
                      "top-level entries out of order: %.*s before %.*s", (int)a->len, a->ptr,
                      (int)b->len, b->ptr);
    }
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");
    ck_assert_ptr_nonnull(strstr(read_text(c, vm, "/etc/passwd"),
                                 "user:x:1000:1000::/home/user:/bin/sh"));
    stop(c);
}
END_TEST

START_TEST(test_deny_all_by_default_and_configure_vm)
{
    se_client_t *c = start();
    char vm[64];
    sx_response_frame_t r;
    vm_new(c, "{}", vm);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, "/etc/hostname", NULL, NULL, &r);
    expect_err(&r, "kernel_error", "EACCES: permission denied");

    /* ConfigureVm replaces the policy: read allowed under /etc only */
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    se_client_vm_scope(c, vm, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
    sx_configure_vm_request_t *cv = &p.u.configure_vm_request;
    cv->permissions.present = true;
    cv->permissions.value.fs.present = true;
    cv->permissions.value.fs.value.tag = SX_FS_PERMISSION_SCOPE_TAG_FS_PERMISSION_RULE_SET;
    sx_fs_permission_rule_set_t *rs = &cv->permissions.value.fs.value.u.fs_permission_rule_set;
    sx_fs_permission_rule_t rule;
    bare_str_t ops[] = {BARE_STR_LIT("read")};
    bare_str_t paths[] = {BARE_STR_LIT("/etc/**")};
    rule.mode = SX_PERMISSION_MODE_ALLOW;
    rule.operations.items = ops;
    rule.operations.len = 1;
    rule.paths.items = paths;
    rule.paths.len = 1;
    rs->rules.items = &rule;
    rs->rules.len = 1;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE);
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, "/home/user", NULL, NULL, &r);
    expect_err(&r, "kernel_error", "EACCES");

    /* an empty operations list is refused, naming the field; the policy stays */
    rule.operations.len = 0;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    ck_assert(bare_str_eq_cstr(r.payload.u.rejected_response.code, "invalid_state"));
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");

    /* mounts: a plugin this sidecar does not provide (the others are check_mounts') */
    sx_mount_descriptor_t m;
    memset(&m, 0, sizeof m);
    m.guest_path = BARE_STR_LIT("/mnt/x");
    m.plugin.id = BARE_STR_LIT("sqlite_vfs");
    m.plugin.config = BARE_STR_LIT("{}");
    memset(cv, 0, sizeof *cv);
    cv->mounts.items = &m;
    cv->mounts.len = 1;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert(bare_str_eq_cstr(r.payload.u.rejected_response.code, "plugin_error"));
    stop(c);
}
END_TEST

START_TEST(test_lowers_bootstrap_and_read_only)
{
    se_client_t *c = start();
    char vm[64], ro[64];
    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": {\"lowers\": ["
           "{\"kind\": \"snapshot\", \"entries\": [{\"path\": \"/srv/a\", \"kind\": \"file\", "
           "\"content\": \"lower0\"}, {\"path\": \"/srv/only0\", \"kind\": \"file\", "
           "\"content\": \"x\"}]},"
           "{\"kind\": \"snapshot\", \"entries\": [{\"path\": \"/srv/a\", \"kind\": \"file\", "
           "\"content\": \"lower1\"}, {\"path\": \"/srv/b\", \"kind\": \"file\", \"content\": "
           "\"lower1\"}]}],"
           "\"bootstrapEntries\": [{\"path\": \"/srv/b\", \"kind\": \"file\", \"content\": "
           "\"boot\"}, {\"path\": \"/dev/skipped\", \"kind\": \"file\"}]}}",
           vm);
    ck_assert_str_eq(read_text(c, vm, "/srv/a"), "lower0");
    ck_assert_str_eq(read_text(c, vm, "/srv/b"), "boot");
    ck_assert_str_eq(read_text(c, vm, "/srv/only0"), "x");
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n"); /* base last */
    sx_response_frame_t r;
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_EXISTS, "/dev/skipped", NULL, NULL, &r);
    ck_assert(!r.payload.u.guest_filesystem_result_response.exists.value);

    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": {\"mode\": \"read-only\", "
           "\"bootstrapEntries\": [{\"path\": \"/etc/motd\", \"kind\": \"file\", \"content\": "
           "\"hi\"}]}}",
           ro);
    ck_assert_str_eq(read_text(c, ro, "/etc/motd"), "hi"); /* bootstrapped before the lock */
    fscall(c, ro, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/tmp/x", with_content, "y", &r);
    expect_err(&r, "kernel_error", "EROFS");
    fscall(c, ro, SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE, "/etc/motd", NULL, NULL, &r);
    expect_err(&r, "kernel_error", "EROFS");
    stop(c);
}
END_TEST

START_TEST(test_overlay_is_per_vm)
{
    se_client_t *c = start();
    char a[64], b[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, a);
    vm_new(c, ALLOW_FS, b);
    /* delete a base file in A: hidden there, intact in B */
    fscall(c, a, SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE, "/etc/hostname", NULL, NULL, &r);
    expect_ok(&r);
    fscall(c, a, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, "/etc/hostname", NULL, NULL, &r);
    expect_err(&r, "kernel_error", "ENOENT");
    ck_assert_str_eq(read_text(c, b, "/etc/hostname"), "secure-exec\n");
    /* copy-up: A's change leaves the shared lower as it was */
    write_text(c, a, "/etc/passwd", "changed\n");
    ck_assert_str_eq(read_text(c, a, "/etc/passwd"), "changed\n");
    ck_assert_ptr_nonnull(strstr(read_text(c, b, "/etc/passwd"), "root:x:0:0"));
    /* files written in one VM do not appear in the other */
    write_text(c, a, "/tmp/only-in-a", "a");
    fscall(c, b, SX_GUEST_FILESYSTEM_OPERATION_EXISTS, "/tmp/only-in-a", NULL, NULL, &r);
    ck_assert(!r.payload.u.guest_filesystem_result_response.exists.value);
    stop(c);
}
END_TEST

START_TEST(test_escapes_stay_inside)
{
    se_client_t *c = start();
    char vm[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, vm);
    /* a symlink to /etc/shadow reads the VM's shadow file, never the host's */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_SYMLINK, "/tmp/s", with_target, "/etc/shadow",
           &r);
    expect_ok(&r);
    const char *s = read_text(c, vm, "/tmp/s");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s, "user:!:20544"));
    /* ../ chains stop at the VM's root */
    ck_assert_str_eq(read_text(c, vm, "/../../../../etc/hostname"), "secure-exec\n");
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_SYMLINK, "/tmp/up", with_target,
           "../../../../../../..", &r);
    expect_ok(&r);
    ck_assert_str_eq(read_text(c, vm, "/tmp/up/etc/hostname"), "secure-exec\n");
    /* a hard link cannot name a host file: both ends are VM paths */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_LINK, "/etc/passwd", with_dest,
           "/../../../tmp/hl", &r);
    expect_ok(&r);
    ck_assert_ptr_nonnull(strstr(read_text(c, vm, "/tmp/hl"), "user:x:1000"));
    /* the VM's snapshot has the link, and nothing of the host */
    snapshot(c, vm, &r);
    /* /proc is an empty mount point of the VM's own (guests get their procfs there) */
    const sx_root_filesystem_entry_list_t *all = &r.payload.u.root_filesystem_snapshot_response.entries;
    for (size_t i = 0; i < all->len; i++)
        ck_assert_msg(all->items[i].path.len < 6 || memcmp(all->items[i].path.ptr, "/proc/", 6) != 0,
                      "host /proc content in the snapshot: %.*s", (int)all->items[i].path.len,
                      all->items[i].path.ptr);
    stop(c);
}
END_TEST

/* WRITE_FILE makes missing parents, 0755 and 1000:1000, as the reference's write_file
 * (NodeRuntime.writeFile('/app/lib/utils.js') on a fresh VM); never through a file. */
START_TEST(test_write_file_makes_parents)
{
    se_client_t *c = start();
    char vm[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, vm);
    write_text(c, vm, "/app/lib/utils.js", "module.exports = 1;\n");
    ck_assert_str_eq(read_text(c, vm, "/app/lib/utils.js"), "module.exports = 1;\n");
    static const char *const dirs[] = {"/app", "/app/lib"};
    for (size_t i = 0; i < 2; i++) {
        fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_STAT, dirs[i], NULL, NULL, &r);
        expect_ok(&r);
        const sx_guest_filesystem_stat_t *st =
            &r.payload.u.guest_filesystem_result_response.stat.value;
        ck_assert_uint_eq(st->mode, 040755);
        ck_assert_uint_eq(st->uid, 1000);
        ck_assert_uint_eq(st->gid, 1000);
    }
    /* deeper, below an existing directory of the base */
    write_text(c, vm, "/etc/app/conf.d/a.conf", "a\n");
    ck_assert_str_eq(read_text(c, vm, "/etc/app/conf.d/a.conf"), "a\n");
    /* the snapshot has the new directories */
    snapshot(c, vm, &r);
    const sx_root_filesystem_entry_list_t *all =
        &r.payload.u.root_filesystem_snapshot_response.entries;
    const sx_root_filesystem_entry_t *e = find_entry(all, "/app/lib");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->kind, SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY);
    /* a file on the way is ENOTDIR, and nothing is made */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/etc/hostname/x/y", with_content, "x",
           &r);
    expect_err(&r, "kernel_error", "ENOTDIR: not a directory");
    stop(c);
}
END_TEST

static void layer_req(se_client_t *c, const char *vm, sx_request_payload_t *p,
                      sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    se_client_vm_scope(c, vm, &own);
    ck_assert_int_eq(se_client_call(c, &own, p, T, r), SE_OK);
}

static void copy_id(char *dst, bare_str_t s)
{
    snprintf(dst, 32, "%.*s", (int)s.len, s.ptr);
}

/*
 * A lower that names the bundled base while the default base is on too (the reference's
 * examples/native-client): the reference then has the base twice, the later copy showing
 * nothing; overlayfs refuses a directory twice (ELOOP), so it is mounted once, where the
 * config puts it. Likewise an overlay layer whose lowers name one layer twice.
 */
START_TEST(test_bundled_base_named_as_a_lower)
{
    se_client_t *c = start();
    char vm[64];
    sx_request_payload_t p;
    sx_response_frame_t r;
    /* the example's config, as it is (no permissions: everything denied) */
    vm_new(c,
           "{\"env\": {}, \"rootFilesystem\": {\"mode\": \"ephemeral\", "
           "\"disableDefaultBaseLayer\": false, \"lowers\": [{\"kind\": "
           "\"bundledBaseFilesystem\"}], \"bootstrapEntries\": []}, \"loopbackExemptPorts\": []}",
           vm);
    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": {\"lowers\": "
           "[{\"kind\": \"bundledBaseFilesystem\"}]}}",
           vm);
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");
    write_text(c, vm, "/tmp/message.txt", "hello from secure-exec\n");
    ck_assert_str_eq(read_text(c, vm, "/tmp/message.txt"), "hello from secure-exec\n");
    /* where the config names it: above a later snapshot lower, below an earlier one */
    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": {\"lowers\": ["
           "{\"kind\": \"bundledBaseFilesystem\"}, {\"kind\": \"snapshot\", \"entries\": ["
           "{\"path\": \"/etc/hostname\", \"kind\": \"file\", \"content\": \"below\\n\"},"
           "{\"path\": \"/only-below\", \"kind\": \"file\", \"content\": \"x\"}]}]}}",
           vm);
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");
    ck_assert_str_eq(read_text(c, vm, "/only-below"), "x");
    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": {\"lowers\": ["
           "{\"kind\": \"snapshot\", \"entries\": [{\"path\": \"/etc/hostname\", \"kind\": "
           "\"file\", \"content\": \"above\\n\"}]}, {\"kind\": \"bundledBaseFilesystem\"}, "
           "{\"kind\": \"bundledBaseFilesystem\"}]}}",
           vm);
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "above\n");
    ck_assert_ptr_nonnull(strstr(read_text(c, vm, "/etc/passwd"), "user:x:1000"));

    /* an overlay layer with one lower twice */
    sx_root_filesystem_entry_t ent;
    memset(&ent, 0, sizeof ent);
    ent.path = BARE_STR_LIT("/data/twice.txt");
    ent.kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
    ent.content.present = true;
    ent.content.value = BARE_STR_LIT("once");
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
    p.u.import_snapshot_request.entries.items = &ent;
    p.u.import_snapshot_request.entries.len = 1;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE);
    char imported[32], overlay[32];
    copy_id(imported, r.payload.u.snapshot_imported_response.layer_id);
    bare_str_t lowers[] = {bare_str_from_cstr(imported), bare_str_from_cstr(imported)};
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_OVERLAY_REQUEST;
    p.u.create_overlay_request.lower_layer_ids.items = lowers;
    p.u.create_overlay_request.lower_layer_ids.len = 2;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_OVERLAY_CREATED_RESPONSE);
    copy_id(overlay, r.payload.u.overlay_created_response.layer_id);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXPORT_SNAPSHOT_REQUEST;
    p.u.export_snapshot_request.layer_id = bare_str_from_cstr(overlay);
    layer_req(c, vm, &p, &r);
    ck_assert_msg(r.payload.tag == SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_EXPORTED_RESPONSE,
                  "export: %.*s", (int)r.payload.u.rejected_response.message.len,
                  r.payload.u.rejected_response.message.ptr);
    const sx_root_filesystem_entry_t *e =
        find_entry(&r.payload.u.snapshot_exported_response.entries, "/data/twice.txt");
    ck_assert_ptr_nonnull(e);
    ck_assert(bare_str_eq_cstr(e->content.value, "once"));
    stop(c);
}
END_TEST

START_TEST(test_layers_round_trip)
{
    se_client_t *c = start();
    char vm[64], imported[32], writable[32], sealed[32], overlay[32];
    sx_request_payload_t p;
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, vm);

    sx_root_filesystem_entry_t ents[2];
    memset(ents, 0, sizeof ents);
    ents[0].path = BARE_STR_LIT("/data/lower.txt");
    ents[0].kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
    ents[0].content.present = true;
    ents[0].content.value = BARE_STR_LIT("from the lower");
    ents[1].path = BARE_STR_LIT("/data/bin.dat");
    ents[1].kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
    ents[1].content.present = true;
    ents[1].content.value = BARE_STR_LIT("AP8A"); /* 00 ff 00: not UTF-8 */
    ents[1].encoding.present = true;
    ents[1].encoding.value = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
    p.u.import_snapshot_request.entries.items = ents;
    p.u.import_snapshot_request.entries.len = 2;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE);
    copy_id(imported, r.payload.u.snapshot_imported_response.layer_id);
    ck_assert_str_eq(imported, "layer-1");

    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_LAYER_REQUEST;
    layer_req(c, vm, &p, &r);
    copy_id(writable, r.payload.u.layer_created_response.layer_id);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SEAL_LAYER_REQUEST;
    p.u.seal_layer_request.layer_id = bare_str_from_cstr(writable);
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_LAYER_SEALED_RESPONSE);
    copy_id(sealed, r.payload.u.layer_sealed_response.layer_id);
    ck_assert_str_ne(sealed, writable);
    /* the pre-seal id is gone; a sealed layer cannot be sealed (written) again */
    layer_req(c, vm, &p, &r);
    ck_assert_ptr_nonnull(strstr(r.payload.u.rejected_response.message.ptr, "unknown layer"));
    p.u.seal_layer_request.layer_id = bare_str_from_cstr(sealed);
    layer_req(c, vm, &p, &r);
    ck_assert_ptr_nonnull(strstr(r.payload.u.rejected_response.message.ptr, "is not writable"));

    /* overlay(upper = imported, lowers = [sealed]) exports both */
    bare_str_t lowers[] = {bare_str_from_cstr(sealed)};
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_OVERLAY_REQUEST;
    p.u.create_overlay_request.upper_layer_id.present = true;
    p.u.create_overlay_request.upper_layer_id.value = bare_str_from_cstr(imported);
    p.u.create_overlay_request.lower_layer_ids.items = lowers;
    p.u.create_overlay_request.lower_layer_ids.len = 1;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_OVERLAY_CREATED_RESPONSE);
    copy_id(overlay, r.payload.u.overlay_created_response.layer_id);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXPORT_SNAPSHOT_REQUEST;
    p.u.export_snapshot_request.layer_id = bare_str_from_cstr(overlay);
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_EXPORTED_RESPONSE);
    const sx_root_filesystem_entry_list_t *l = &r.payload.u.snapshot_exported_response.entries;
    ck_assert_ptr_nonnull(find_entry(l, "/"));
    ck_assert_ptr_nonnull(find_entry(l, "/usr/local/bin")); /* from the sealed minimal root */
    const sx_root_filesystem_entry_t *e = find_entry(l, "/data/lower.txt");
    ck_assert_ptr_nonnull(e);
    ck_assert(bare_str_eq_cstr(e->content.value, "from the lower"));
    e = find_entry(l, "/data/bin.dat");
    ck_assert_int_eq(e->encoding.value, SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64);
    ck_assert(bare_str_eq_cstr(e->content.value, "AP8A"));

    /* another VM does not know these ids */
    char other[64];
    vm_new(c, ALLOW_FS, other);
    layer_req(c, other, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    ck_assert_ptr_nonnull(strstr(r.payload.u.rejected_response.message.ptr, "unknown layer"));
    stop(c);
}
END_TEST

START_TEST(test_layer_limit)
{
    se_client_t *c = start();
    char vm[64];
    sx_request_payload_t p;
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, vm);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
    for (int i = 0; i < 256; i++) {
        layer_req(c, vm, &p, &r);
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE);
    }
    layer_req(c, vm, &p, &r);
    ck_assert_ptr_nonnull(strstr(r.payload.u.rejected_response.message.ptr,
                                 "VM layer limit exceeded: limit is 256"));
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_LAYER_REQUEST;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    stop(c);
}
END_TEST

START_TEST(test_snapshot_restores_into_a_new_vm)
{
    se_client_t *c = start();
    char a[64], b[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, a);
    write_text(c, a, "/home/user/notes.txt", "keep me\n");
    fscall(c, a, SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE, "/etc/motd", NULL, NULL, &r);
    fscall(c, a, SX_GUEST_FILESYSTEM_OPERATION_SYMLINK, "/home/user/link", with_target,
           "notes.txt", &r);
    snapshot(c, a, &r);

    /* the snapshot's entries become the only lower of a new VM, as JSON */
    const sx_root_filesystem_entry_list_t *l = &r.payload.u.root_filesystem_snapshot_response.entries;
    size_t cap = 1 << 20, n = 0;
    char *json = malloc(cap);
    n += (size_t)snprintf(json + n, cap - n,
                          "{\"permissions\": {\"fs\": \"allow\"}, \"rootFilesystem\": "
                          "{\"disableDefaultBaseLayer\": true, \"lowers\": [{\"kind\": "
                          "\"snapshot\", \"entries\": [");
    for (size_t i = 0; i < l->len; i++) {
        const sx_root_filesystem_entry_t *e = &l->items[i];
        const char *kind = e->kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE        ? "file"
                           : e->kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY ? "directory"
                                                                                : "symlink";
        n += (size_t)snprintf(json + n, cap - n,
                              "%s{\"path\": \"%.*s\", \"kind\": \"%s\", \"mode\": %u, \"uid\": "
                              "%u, \"gid\": %u",
                              i ? "," : "", (int)e->path.len, e->path.ptr, kind, e->mode.value,
                              e->uid.value, e->gid.value);
        if (e->target.present)
            n += (size_t)snprintf(json + n, cap - n, ", \"target\": \"%.*s\"",
                                  (int)e->target.value.len, e->target.value.ptr);
        if (e->content.present) {
            /* the texts here have no quotes, backslashes or control characters but \n */
            n += (size_t)snprintf(json + n, cap - n, ", \"content\": \"");
            for (size_t k = 0; k < e->content.value.len; k++) {
                char ch = e->content.value.ptr[k];
                if (ch == '\n')
                    n += (size_t)snprintf(json + n, cap - n, "\\n");
                else if (ch == '"' || ch == '\\')
                    n += (size_t)snprintf(json + n, cap - n, "\\%c", ch);
                else if ((unsigned char)ch < 0x20)
                    n += (size_t)snprintf(json + n, cap - n, "\\u%04x", ch);
                else
                    json[n++] = ch;
            }
            n += (size_t)snprintf(json + n, cap - n, "\", \"encoding\": \"%s\"",
                                  e->encoding.value == SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64
                                      ? "base64"
                                      : "utf8");
        }
        json[n++] = '}';
    }
    n += (size_t)snprintf(json + n, cap - n, "]}]}}");
    json[n] = '\0';

    /* keep A's snapshot (it lives in the client until the next decoded frame) as text */
    size_t na = l->len;
    char **paths = calloc(na, sizeof *paths);
    uint32_t *modes = calloc(na, sizeof *modes);
    for (size_t i = 0; i < na; i++) {
        paths[i] = strndup(l->items[i].path.ptr, l->items[i].path.len);
        modes[i] = l->items[i].mode.value;
    }
    vm_new(c, json, b);
    free(json);
    snapshot(c, b, &r);
    l = &r.payload.u.root_filesystem_snapshot_response.entries;
    ck_assert_uint_eq(l->len, na);
    for (size_t i = 0; i < na; i++) {
        ck_assert_msg(bare_str_eq_cstr(l->items[i].path, paths[i]), "entry %zu: %.*s vs %s", i,
                      (int)l->items[i].path.len, l->items[i].path.ptr, paths[i]);
        ck_assert_uint_eq(l->items[i].mode.value, modes[i]);
        free(paths[i]);
    }
    free(paths);
    free(modes);
    ck_assert_str_eq(read_text(c, b, "/home/user/link"), "keep me\n");
    stop(c);
}
END_TEST

START_TEST(test_limits)
{
    se_client_t *c = start();
    char vm[64];
    sx_response_frame_t r;
    vm_new(c,
           "{\"permissions\": {\"fs\": \"allow\"}, \"limits\": {\"resources\": "
           "{\"maxFilesystemBytes\": 262144, \"maxInodeCount\": 64, \"maxPreadBytes\": 1000, "
           "\"maxReaddirEntries\": 3}}}",
           vm);
    static char big[300000];
    memset(big, 'x', sizeof big - 1);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/tmp/big", with_content, big, &r);
    expect_err(&r, "kernel_error", "ENOSPC");
    int created = 0;
    for (int i = 0; i < 100; i++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/f%d", i);
        fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, path, with_content, "1", &r);
        if (r.payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE) {
            expect_err(&r, "kernel_error", "ENOSPC");
            break;
        }
        created++;
    }
    ck_assert_int_lt(created, 64);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_READ_DIR, "/etc", NULL, NULL, &r);
    expect_err(&r, "kernel_error", "ENOMEM");
    /* a descriptor larger than the limits is refused at create */
    char second[64];
    int st = se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT,
                                 "{\"limits\": {\"resources\": {\"maxInodeCount\": 1}}, "
                                 "\"rootFilesystem\": {\"bootstrapEntries\": [{\"path\": \"/a\", "
                                 "\"kind\": \"file\"}, {\"path\": \"/b\", \"kind\": \"file\"}]}}",
                                 T, second, sizeof second);
    ck_assert_int_eq(st, SE_REJECTED);
    ck_assert_ptr_nonnull(strstr(se_client_rejection_message(c), "exceeding limit 1"));
    stop(c);
}
END_TEST

/* ---- responses that cannot fit in a frame ---- */

static bool rss_report(void)
{
    return getenv("CHECK_VMFS_RSS") != NULL;
}

/* Under AddressSanitizer memory is quarantined and shadowed: absolute RSS bounds do not hold. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

/* n bytes of printable text (lines of 64), NUL-terminated; malloc'd. */
static char *make_text(size_t n, char seed)
{
    char *t = malloc(n + 1);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++)
        t[i] = i % 64 == 63 ? '\n' : (char)(seed + (char)(i % 26));
    t[n] = '\0';
    return t;
}

/* The first number after "at least " in a rejection message. */
static unsigned long long size_in(const sx_rejected_response_t *rej)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%.*s", (int)rej->message.len, rej->message.ptr);
    const char *p = strstr(msg, "at least ");
    ck_assert_msg(p != NULL, "no size in '%s'", msg);
    return strtoull(p + 9, NULL, 10);
}

static bool message_has(const sx_response_frame_t *r, const char *s)
{
    char msg[1200];
    const sx_rejected_response_t *rej = &r->payload.u.rejected_response;
    snprintf(msg, sizeof msg, "%.*s", (int)rej->message.len, rej->message.ptr);
    return strstr(msg, s) != NULL;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

#define FILE_KIB 768
#define NFILES 80

START_TEST(test_snapshot_too_large_for_a_frame)
{
    se_client_t *c = start();
    char vm[64], path[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS_128M, vm);
    pid_t pid = se_client_pid(c);
    long rss0 = probe_status_kib(pid, "VmRSS");
    /* 60 MiB of text, in WRITE_FILE frames well under the 1 MiB frame limit */
    char *text = make_text((size_t)FILE_KIB << 10, 'a');
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "/home/user/f%02d.txt", i);
        write_text(c, vm, path, text);
    }
    free(text);
    long hwm1 = probe_status_kib(pid, "VmHWM"), rss1 = probe_status_kib(pid, "VmRSS");
    probe_reset_peak(pid);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snapshot_call(c, vm, &r);
    double ms = ms_since(&t0);
    long hwm2 = probe_status_kib(pid, "VmHWM"), rss2 = probe_status_kib(pid, "VmRSS");
    if (rss_report())
        fprintf(stderr,
                "snapshot of %d x %d KiB: rss %ld KiB at start, %ld after the writes (peak %ld); "
                "snapshot peak %ld KiB, rss after %ld KiB, %.1f ms\n",
                NFILES, FILE_KIB, rss0, rss1, hwm1, hwm2, rss2, ms);

    /* refused before any content is read, saying how large it is */
    expect_err(&r, "frame_too_large", "the root filesystem snapshot is at least ");
    ck_assert_uint_ge(size_in(&r.payload.u.rejected_response),
                      (unsigned long long)NFILES * FILE_KIB * 1024);
    ck_assert_msg(message_has(&r, "the frame limit is 1048576 bytes"), "%.*s",
                  (int)r.payload.u.rejected_response.message.len,
                  r.payload.u.rejected_response.message.ptr);
    /* the snapshot's own peak: nothing near the 60 MiB it would have read */
    ck_assert_msg(hwm2 - rss1 < 8 * 1024, "snapshot peak %ld KiB over %ld KiB", hwm2, rss1);
    if (!ASAN) {
        /* the writes did not hold their frames either, and memory went back */
        ck_assert_msg(hwm1 < 100 * 1024, "peak RSS %ld KiB during the writes", hwm1);
        ck_assert_msg(rss2 < rss0 + 16 * 1024, "RSS %ld KiB after, %ld KiB before", rss2, rss0);
    }

    /* the VM is intact: a file still reads, and a small tree still snapshots */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_PREAD, "/home/user/f00.txt", with_range,
           (const uint64_t[]){0, 64}, &r);
    expect_ok(&r);
    char small[64];
    vm_new(c, ALLOW_FS, small);
    snapshot(c, small, &r);
    stop(c);
}
END_TEST

START_TEST(test_export_too_large_for_a_frame)
{
    se_client_t *c = start();
    char vm[64], ids[16][32], overlay[32];
    sx_request_payload_t p;
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS_128M, vm);
    pid_t pid = se_client_pid(c);
    /* 16 imported layers of 960 KiB each (one import frame each), then one overlay of them */
    char *text = make_text(960 << 10, 'A');
    for (int i = 0; i < 16; i++) {
        char path[32];
        snprintf(path, sizeof path, "/data/part%02d.txt", i);
        sx_root_filesystem_entry_t e;
        memset(&e, 0, sizeof e);
        e.path = bare_str_from_cstr(path);
        e.kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
        e.content.present = true;
        e.content.value = bare_str_from_cstr(text);
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
        p.u.import_snapshot_request.entries.items = &e;
        p.u.import_snapshot_request.entries.len = 1;
        layer_req(c, vm, &p, &r);
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE);
        copy_id(ids[i], r.payload.u.snapshot_imported_response.layer_id);
    }
    free(text);
    bare_str_t lowers[16];
    for (int i = 0; i < 16; i++)
        lowers[i] = bare_str_from_cstr(ids[i]);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_OVERLAY_REQUEST;
    p.u.create_overlay_request.lower_layer_ids.items = lowers;
    p.u.create_overlay_request.lower_layer_ids.len = 16;
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_OVERLAY_CREATED_RESPONSE);
    copy_id(overlay, r.payload.u.overlay_created_response.layer_id);

    long rss1 = probe_status_kib(pid, "VmRSS");
    probe_reset_peak(pid);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXPORT_SNAPSHOT_REQUEST;
    p.u.export_snapshot_request.layer_id = bare_str_from_cstr(overlay);
    layer_req(c, vm, &p, &r);
    long hwm2 = probe_status_kib(pid, "VmHWM");
    if (rss_report())
        fprintf(stderr, "export of 16 x 960 KiB: rss %ld KiB before, peak %ld KiB\n", rss1, hwm2);
    expect_err(&r, "frame_too_large", "the snapshot of layer ");
    ck_assert_uint_ge(size_in(&r.payload.u.rejected_response), 16ull * 960 * 1024);
    ck_assert(message_has(&r, "the frame limit is 1048576 bytes"));
    ck_assert_msg(hwm2 - rss1 < 4 * 1024, "export peak %ld KiB over %ld KiB", hwm2, rss1);

    /* one of the layers alone fits */
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXPORT_SNAPSHOT_REQUEST;
    p.u.export_snapshot_request.layer_id = bare_str_from_cstr(ids[0]);
    layer_req(c, vm, &p, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_EXPORTED_RESPONSE);
    const sx_root_filesystem_entry_t *e =
        find_entry(&r.payload.u.snapshot_exported_response.entries, "/data/part00.txt");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->content.value.len, 960 << 10);
    stop(c);
}
END_TEST

START_TEST(test_read_file_too_large_for_a_frame)
{
    se_client_t *c = start();
    char vm[64];
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS, vm);
    pid_t pid = se_client_pid(c);
    char *text = make_text(768 << 10, 'a');
    write_text(c, vm, "/tmp/big", text);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE, "/tmp/big", with_len,
           (const uint64_t[]){3u << 20}, &r);
    expect_ok(&r);

    long rss1 = probe_status_kib(pid, "VmRSS");
    probe_reset_peak(pid);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, "/tmp/big", NULL, NULL, &r);
    long hwm2 = probe_status_kib(pid, "VmHWM");
    expect_err(&r, "frame_too_large", "file size 3145728 cannot fit in a response frame");
    ck_assert(message_has(&r, "the frame limit is 1048576 bytes"));
    ck_assert(message_has(&r, "PREAD"));
    ck_assert_msg(hwm2 - rss1 < 2 * 1024, "read_file peak %ld KiB over %ld KiB", hwm2, rss1);

    /* PREAD of 512 KiB fits; 2 MiB is refused before it is read */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_PREAD, "/tmp/big", with_range,
           (const uint64_t[]){0, 512 << 10}, &r);
    expect_ok(&r);
    const sx_guest_filesystem_result_response_t *g = &r.payload.u.guest_filesystem_result_response;
    ck_assert_uint_eq(g->content.value.len, 512 << 10);
    ck_assert(memcmp(g->content.value.ptr, text, 512 << 10) == 0);
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_PREAD, "/tmp/big", with_range,
           (const uint64_t[]){1u << 20, 2u << 20}, &r);
    expect_err(&r, "frame_too_large", "pread of 2097152 bytes cannot fit in a response frame");
    /* near the end of the file only what is there counts */
    fscall(c, vm, SX_GUEST_FILESYSTEM_OPERATION_PREAD, "/tmp/big", with_range,
           (const uint64_t[]){(3u << 20) - 100, 2u << 20}, &r);
    expect_ok(&r);
    free(text);
    stop(c);
}
END_TEST

/* A sidecar whose frames may be frame_bytes long (config file), authenticated, with a session. */
static se_client_t *start_framed(uint32_t frame_bytes)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    char err[256], yaml[64], config_path[32];
    snprintf(config_path, 32, "/tmp/vmfs-config.XXXXXX");
    int fd = mkstemp(config_path);
    ck_assert_int_ge(fd, 0);
    int n = snprintf(yaml, sizeof yaml, "maxFrameBytes: %u\n", frame_bytes);
    ck_assert_int_eq(write(fd, yaml, (size_t)n), n);
    close(fd);
    const char *args[] = {"--config", config_path, NULL};
    int null = open("/dev/null", 1);
    se_client_options_t opt = {SIDECAR_PATH, args, env, getenv("CHECK_VMFS_LOGS") ? -1 : null,
                               frame_bytes};
    se_client_t *c = se_client_spawn(&opt, err, sizeof err);
    close(null);
    ck_assert_msg(c != NULL, "%s", err);
    int st = se_client_authenticate(c, "vmfs", "t", T); /* the config has been read */
    unlink(config_path);
    ck_assert_int_eq(st, SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    return c;
}

START_TEST(test_memory_goes_back_after_a_large_response)
{
    char vm[64], path[64];
    se_client_t *c = start_framed(64u << 20);
    sx_response_frame_t r;
    vm_new(c, ALLOW_FS_128M, vm);
    pid_t pid = se_client_pid(c);
    /* 32 MiB of text in 4 MiB writes, then a snapshot that fits the 64 MiB frame */
    char *text = make_text(4u << 20, 'a');
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "/home/user/g%d.txt", i);
        write_text(c, vm, path, text);
    }
    free(text);
    long rss1 = probe_status_kib(pid, "VmRSS");
    snapshot(c, vm, &r);
    const sx_root_filesystem_entry_t *e =
        find_entry(&r.payload.u.root_filesystem_snapshot_response.entries, "/home/user/g7.txt");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->content.value.len, 4u << 20);
    long hwm = probe_status_kib(pid, "VmHWM"), rss2 = probe_status_kib(pid, "VmRSS");
    /* the last bytes of the response may reach us just before the sidecar lets go of them */
    for (int i = 0; i < 100 && !ASAN && rss2 >= rss1 + 8 * 1024; i++) {
        nanosleep(&(struct timespec){0, 20000000}, NULL);
        rss2 = probe_status_kib(pid, "VmRSS");
    }
    if (rss_report())
        fprintf(stderr,
                "snapshot of 8 x 4 MiB in a 64 MiB frame: rss %ld KiB before, peak %ld KiB, "
                "rss after %ld KiB\n",
                rss1, hwm, rss2);
    if (!ASAN)
        ck_assert_msg(rss2 < rss1 + 8 * 1024, "RSS %ld KiB after, %ld KiB before", rss2, rss1);
    /* and the sidecar still answers */
    ck_assert_str_eq(read_text(c, vm, "/etc/hostname"), "secure-exec\n");
    stop(c);
}
END_TEST

/* The state directories of the sidecar pid (its name carries it: other sidecars, of suites
 * running beside this one, come and go). */
static size_t count_state_dirs(pid_t pid)
{
    glob_t g;
    char pattern[64];
    size_t n = 0;
    snprintf(pattern, sizeof pattern, "/tmp/secure-exec-sidecar.%d.*", (int)pid);
    if (glob(pattern, 0, NULL, &g) == 0)
        n = g.gl_pathc;
    globfree(&g);
    return n;
}

START_TEST(test_nothing_left_behind)
{
    se_client_t *c = start();
    pid_t pid = se_client_pid(c);
    ck_assert_uint_eq(count_state_dirs(pid), 1);
    char vm[64], path[64], line[4096];
    vm_new(c, ALLOW_FS, vm);
    write_text(c, vm, "/tmp/x", "y");
    snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)se_client_pid(c));
    FILE *f = fopen(path, "r");
    int vm_mounts = 0;
    while (f && fgets(line, sizeof line, f))
        vm_mounts += strstr(line, "/vms/vm-1") != NULL;
    if (f)
        fclose(f);
    ck_assert_int_ge(vm_mounts, 2); /* the VM's tmpfs and its overlay */
    ck_assert_int_eq(se_client_dispose_vm(c, vm, T), SE_OK);
    f = fopen(path, "r");
    vm_mounts = 0;
    while (f && fgets(line, sizeof line, f))
        vm_mounts += strstr(line, "/vms/vm-1") != NULL;
    if (f)
        fclose(f);
    ck_assert_int_eq(vm_mounts, 0);
    vm_new(c, ALLOW_FS, vm); /* disposed at EOF */
    stop(c);
    ck_assert_uint_eq(count_state_dirs(pid), 0);
}
END_TEST

static Suite *vmfs_suite(void)
{
    Suite *s = suite_create("vmfs");
    TCase *t = tcase_create("vmfs");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_base_filesystem);
    tcase_add_test(t, test_deny_all_by_default_and_configure_vm);
    tcase_add_test(t, test_lowers_bootstrap_and_read_only);
    tcase_add_test(t, test_overlay_is_per_vm);
    tcase_add_test(t, test_escapes_stay_inside);
    tcase_add_test(t, test_write_file_makes_parents);
    tcase_add_test(t, test_layers_round_trip);
    tcase_add_test(t, test_bundled_base_named_as_a_lower);
    tcase_add_test(t, test_layer_limit);
    tcase_add_test(t, test_snapshot_restores_into_a_new_vm);
    tcase_add_test(t, test_limits);
    tcase_add_test(t, test_snapshot_too_large_for_a_frame);
    tcase_add_test(t, test_export_too_large_for_a_frame);
    tcase_add_test(t, test_read_file_too_large_for_a_frame);
    tcase_add_test(t, test_memory_goes_back_after_a_large_response);
    tcase_add_test(t, test_nothing_left_behind);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vmfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
