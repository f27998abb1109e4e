/*
 * check_mounts.c - ConfigureVm mounts through the real sidecar: host_dir read-write and
 * read-only as GuestFilesystemCall and guest processes see them, configured before and after
 * the VM's supervisor starts; replacement by a second ConfigureVm; the refusals (symlinks and
 * files as hostPath, bad guest paths, invalid JSON, unknown plugins, bad fields); memory
 * mounts and their size; the moduleAccessCwd auto-mounts; snapshots without mounted content;
 * and that nothing is left, in the sidecar, its supervisor or the host, after DisposeVm. The
 * guest racing symlink swaps at a mount point is check_escape's. Runs as root.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_fixture.h"

/* ---- host directories ---- */

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* A fresh host directory (0755, root's) under /tmp; its path in dir (64 bytes). */
static void host_dir(char *dir, const char *tag)
{
    snprintf(dir, 64, "/tmp/mounts-%s.XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st, (void)f;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool host_exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* The names in a host directory, sorted, space-separated (static). */
static const char *host_list(const char *dir)
{
    static char out[1024];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", out[0] ? " " : "",
                     names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return out;
}

/* ---- requests ---- */

typedef struct mspec {
    const char *guest, *plugin, *config;
    bool ro;
} mspec_t;

/* ConfigureVm with mounts (and moduleAccessCwd when cwd); appliedMounts in *applied. */
static int configure(const char *vm, const mspec_t *m, size_t n, const char *cwd, uint32_t *applied)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    sx_mount_descriptor_t d[16];
    ck_assert_uint_le(n, 16);
    memset(&p, 0, sizeof p);
    memset(d, 0, sizeof d);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
    for (size_t i = 0; i < n; i++) {
        d[i].guest_path = bare_str_from_cstr(m[i].guest);
        d[i].read_only = m[i].ro;
        d[i].plugin.id = bare_str_from_cstr(m[i].plugin);
        d[i].plugin.config = bare_str_from_cstr(m[i].config);
    }
    p.u.configure_vm_request.mounts.items = d;
    p.u.configure_vm_request.mounts.len = n;
    if (cwd) {
        p.u.configure_vm_request.module_access_cwd.present = true;
        p.u.configure_vm_request.module_access_cwd.value = bare_str_from_cstr(cwd);
    }
    int st = vm_call(vm, &p, &r);
    if (st == SE_OK) {
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE);
        if (applied)
            *applied = r.payload.u.vm_configured_response.applied_mounts;
    }
    return st;
}

static void configure_ok(const char *vm, const mspec_t *m, size_t n, const char *cwd, uint32_t want)
{
    uint32_t applied = 0;
    int st = configure(vm, m, n, cwd, &applied);
    ck_assert_msg(st == SE_OK, "ConfigureVm: %s: %s %s", se_strerror(st), rej_code, rej_msg);
    ck_assert_uint_eq(applied, want);
}

/* A host_dir config for path (static buffer per call slot). */
static const char *hd(const char *path, bool ro)
{
    static char buf[4][1024];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, sizeof buf[0], "{\"hostPath\": \"%s\"%s}", path, ro ? ", \"readOnly\": true" : "");
    return b;
}

/* A GuestFilesystemCall: op on path with content (WRITE_FILE) or NULL. */
static int fscall(const char *vm, sx_guest_filesystem_operation_t op, const char *path,
                  const char *content, sx_response_frame_t *r)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    p.u.guest_filesystem_call_request.operation = op;
    p.u.guest_filesystem_call_request.path = bare_str_from_cstr(path);
    if (content) {
        p.u.guest_filesystem_call_request.content.present = true;
        p.u.guest_filesystem_call_request.content.value = bare_str_from_cstr(content);
    }
    return vm_call(vm, &p, r);
}

/* READ_FILE's content (static), or NULL with the rejection in rej_code/rej_msg. */
static const char *read_file(const char *vm, const char *path)
{
    static char out[4096];
    sx_response_frame_t r;
    if (fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, path, NULL, &r) != SE_OK)
        return NULL;
    const sx_guest_filesystem_result_response_t *g = &r.payload.u.guest_filesystem_result_response;
    ck_assert(g->content.present);
    snprintf(out, sizeof out, "%.*s", (int)g->content.value.len, g->content.value.ptr);
    return out;
}

static void write_file(const char *vm, const char *path, const char *text)
{
    sx_response_frame_t r;
    int st = fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, path, text, &r);
    ck_assert_msg(st == SE_OK, "WRITE_FILE %s: %s %s", path, rej_code, rej_msg);
}

static void sh_expect(const char *vm, const char *script, const char *want, int want_code)
{
    int code;
    const char *out = sh(vm, script, &code);
    ck_assert_msg(strcmp(out, want) == 0 && code == want_code,
                  "sh -c '%s': exit %d, printed:\n%s\nwanted exit %d and:\n%s", script, code, out,
                  want_code, want);
}

/* ---- the sidecar's and the supervisor's mount tables ---- */

/* Whether /proc/<pid>/mountinfo has a mount whose root (field 4) is root, or whose mount
 * point (field 5) is point (either may be NULL). */
static bool mountinfo_has(pid_t pid, const char *root, const char *point)
{
    char path[64], line[4096], r[2048], mp[2048];
    snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, "%*s %*s %*s %2047s %2047s", r, mp) == 2)
            found = (root && strcmp(r, root) == 0) || (point && strcmp(mp, point) == 0);
    fclose(f);
    return found;
}

/* The host pid of the VM's supervisor: the sidecar's child named secure-exec-ini. */
static pid_t supervisor_pid(void)
{
    glob_t g;
    pid_t found = 0, sidecar = se_client_pid(c);
    ck_assert_int_eq(glob("/proc/[0-9]*/stat", 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc && !found; i++) {
        FILE *f = fopen(g.gl_pathv[i], "re");
        char comm[64];
        int pid, ppid;
        if (!f)
            continue;
        if (fscanf(f, "%d (%63[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == sidecar &&
            strcmp(comm, "secure-exec-ini") == 0)
            found = pid;
        fclose(f);
    }
    globfree(&g);
    ck_assert_msg(found > 0, "no supervisor found");
    return found;
}

/* ------------------------------------------------------------------------------------------ */

START_TEST(host_dir_rw_and_ro)
{
    char rw[64], ro[64], ro2[64], vm[64];
    host_dir(rw, "rw");
    host_dir(ro, "ro");
    host_dir(ro2, "ro2");
    ck_assert_int_eq(chmod(rw, 0777), 0); /* guests (an unmapped host id) may write here */
    put(rw, "hello", "hello rw\n", 0644);
    put(ro, "data", "read only\n", 0644);
    put(ro, "secret", "root only\n", 0600); /* root's: the guest's capabilities do not reach it */
    put(ro2, "data2", "config read only\n", 0644);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    mspec_t m[] = {{"/mnt/rw", "host_dir", hd(rw, false), false},
                   {"/mnt/ro", "host_dir", hd(ro, false), true},
                   {"/data/cfg-ro", "host_dir", hd(ro2, true), false}};
    configure_ok(vm, m, 3, NULL, 3);

    /* GuestFilesystemCall */
    ck_assert_str_eq(read_file(vm, "/mnt/rw/hello"), "hello rw\n");
    ck_assert_str_eq(read_file(vm, "/mnt/ro/data"), "read only\n");
    ck_assert_str_eq(read_file(vm, "/data/cfg-ro/data2"), "config read only\n");
    write_file(vm, "/mnt/rw/from-host-call", "written\n");
    ck_assert(host_exists(rw, "from-host-call"));
    sx_response_frame_t r;
    expect_rejection(fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/mnt/ro/x", "no", &r),
                     "kernel_error", "EROFS");
    expect_rejection(
        fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/data/cfg-ro/x", "no", &r),
        "kernel_error", "EROFS");
    expect_rejection(
        fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE, "/mnt/ro/data", NULL, &r),
        "kernel_error", "EROFS");
    ck_assert(!host_exists(ro, "x") && !host_exists(ro2, "x") && host_exists(ro, "data"));

    /* guest processes */
    sh_expect(vm, "cat /mnt/rw/hello /mnt/ro/data /data/cfg-ro/data2 /mnt/rw/from-host-call",
              "hello rw\nread only\nconfig read only\nwritten\n", 0);
    sh_expect(vm, "echo guest > /mnt/rw/from-guest && cat /mnt/rw/from-guest", "guest\n", 0);
    ck_assert(host_exists(rw, "from-guest"));
    sh_expect(vm, "echo no > /mnt/ro/y 2>/dev/null || echo refused", "refused\n", 0);
    sh_expect(vm, "echo no > /data/cfg-ro/y 2>/dev/null || echo refused", "refused\n", 0);
    sh_expect(vm, "rm -f /mnt/ro/data 2>/dev/null || echo refused", "refused\n", 0);
    sh_expect(vm,
              "touch /mnt/ro/new 2>&1; mkdir /mnt/ro/d 2>&1; mv /mnt/ro/data /mnt/ro/moved 2>&1",
              "touch: cannot touch '/mnt/ro/new': Read-only file system\n"
              "mkdir: cannot create directory '/mnt/ro/d': Read-only file system\n"
              "mv: cannot move '/mnt/ro/data' to '/mnt/ro/moved': Read-only file system\n",
              1);
    sh_expect(vm, "cat /mnt/ro/secret 2>&1 | grep -c 'Permission denied'", "1\n", 0);
    ck_assert(!host_exists(ro, "y") && !host_exists(ro2, "y") && host_exists(ro, "data"));
    vm_dispose(vm);
    stop();
    rm_tree(rw);
    rm_tree(ro);
    rm_tree(ro2);
}
END_TEST

/* Mounts configured while a guest runs, then replaced: both views follow at once. */
START_TEST(configure_after_supervisor_and_replace)
{
    char a[64], b[64], vm[64];
    host_dir(a, "a");
    host_dir(b, "b");
    put(a, "which", "A\n", 0644);
    put(b, "which", "B\n", 0644);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* the supervisor runs before any mount */
    const char *args[] = {"-c", "sleep 30", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "sleeper", &o, NULL), SE_OK);
    pid_t sup = supervisor_pid(), side = se_client_pid(c);

    mspec_t first[] = {{"/srv/a", "host_dir", hd(a, false), true}};
    configure_ok(vm, first, 1, NULL, 1);
    sh_expect(vm, "cat /srv/a/which", "A\n", 0);
    ck_assert_str_eq(read_file(vm, "/srv/a/which"), "A\n");
    ck_assert(mountinfo_has(side, a, NULL));
    ck_assert(mountinfo_has(sup, a, "/srv/a"));

    /* the second ConfigureVm replaces: a is gone from both views, b is there */
    mspec_t second[] = {{"/srv/b", "host_dir", hd(b, false), false}};
    configure_ok(vm, second, 1, NULL, 1);
    sh_expect(vm, "cat /srv/b/which; ls -A /srv/a | wc -l", "B\n0\n", 0);
    ck_assert_str_eq(read_file(vm, "/srv/b/which"), "B\n");
    ck_assert_ptr_null(read_file(vm, "/srv/a/which"));
    ck_assert_str_eq(rej_code, "kernel_error");
    ck_assert(!mountinfo_has(side, a, NULL) && !mountinfo_has(sup, a, NULL));
    ck_assert(mountinfo_has(side, b, NULL) && mountinfo_has(sup, b, "/srv/b"));

    /* an empty ConfigureVm unmounts everything */
    configure_ok(vm, NULL, 0, NULL, 0);
    sh_expect(vm, "ls -A /srv/b | wc -l", "0\n", 0);
    ck_assert(!mountinfo_has(side, b, NULL) && !mountinfo_has(sup, b, NULL));
    ck_assert_int_eq(kill_proc(vm, "sleeper", "KILL"), SE_OK);
    vm_dispose(vm);
    stop();
    ck_assert_str_eq(host_list(a), "which");
    ck_assert_str_eq(host_list(b), "which");
    rm_tree(a);
    rm_tree(b);
}
END_TEST

/* A supervisor that starts after ConfigureVm gets every mount; a new one after a stop too. */
START_TEST(supervisor_started_later_gets_mounts)
{
    char a[64], vm[64];
    host_dir(a, "later");
    put(a, "f", "later\n", 0644);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    mspec_t m[] = {{"/opt/later", "host_dir", hd(a, false), false},
                   {"/opt/later/scratch", "memory", "null", false}};
    configure_ok(vm, m, 2, NULL, 2);
    sh_expect(vm, "cat /opt/later/f && echo x > /opt/later/scratch/y && cat /opt/later/scratch/y",
              "later\nx\n", 0);
    /* the memory mount is one file system for both views */
    ck_assert_str_eq(read_file(vm, "/opt/later/scratch/y"), "x\n");
    /* the mount point inside the host directory had to be made there: the host's directory
     * has it (as in the reference) until the mount goes */
    ck_assert(host_exists(a, "scratch"));
    vm_dispose(vm);
    stop();
    ck_assert_str_eq(host_list(a), "f");
    rm_tree(a);
}
END_TEST

START_TEST(refusals)
{
    char a[64], vm[64], link[128], file[128], bad[512];
    host_dir(a, "refuse");
    put(a, "file", "x", 0644);
    snprintf(link, sizeof link, "%s/link", a);
    snprintf(file, sizeof file, "%s/file", a);
    ck_assert_int_eq(symlink(a, link), 0);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    mspec_t good[] = {{"/keep", "host_dir", hd(a, true), false}};
    configure_ok(vm, good, 1, NULL, 1);
    uint32_t n;

    /* a symlink anywhere in hostPath is refused, not followed */
    mspec_t m = {"/x", "host_dir", hd(link, false), false};
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "symbolic link");
    snprintf(bad, sizeof bad, "%s/link/file", a);
    m.config = hd(bad, false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "ELOOP");
    /* a file, a missing path, a relative path, /proc, the sidecar's own state */
    m.config = hd(file, false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error",
                     "ENOTDIR: host_dir root is not a directory");
    m.config = hd("/nonexistent/dir", false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "ENOENT");
    m.config = hd("relative/dir", false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "absolute");
    m.config = hd("/proc", false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "pseudo file system");
    glob_t g;
    snprintf(bad, sizeof bad, "/tmp/secure-exec-sidecar.%d.*", (int)se_client_pid(c));
    ck_assert_int_eq(glob(bad, 0, NULL, &g), 0);
    snprintf(bad, sizeof bad, "%s/vms", g.gl_pathv[0]);
    globfree(&g);
    m.config = hd(bad, false);
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "state directory");
    /* config fields */
    m.config = "{\"hostPath\": ";
    expect_rejection(configure(vm, &m, 1, NULL, &n), "invalid_state",
                     "mount plugin config for host_dir is not valid JSON");
    m.config = "{}";
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "missing field `hostPath`");
    m.config = "{\"hostPath\": 7}";
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "`hostPath`");
    m.config = "{\"hostPath\": \"/tmp\", \"readOnly\": \"yes\"}";
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "`readOnly`");
    m.config = "null";
    expect_rejection(configure(vm, &m, 1, NULL, &n), "plugin_error", "hostPath");
    /* plugins */
    mspec_t u = {"/x", "s3", "{}", false};
    expect_rejection(configure(vm, &u, 1, NULL, &n), "plugin_error",
                     "ENOSYS: filesystem plugin is not registered: s3 (this sidecar does not "
                     "provide it: it needs cloud credentials");
    u.plugin = "nope";
    expect_rejection(configure(vm, &u, 1, NULL, &n), "plugin_error",
                     "ENOSYS: filesystem plugin is not registered: nope");
    u.plugin = "module_access";
    u.config = hd(a, false);
    expect_rejection(configure(vm, &u, 1, NULL, &n), "plugin_error", "node_modules");
    /* guest paths */
    mspec_t gp = {"/", "memory", "{}", false};
    expect_rejection(configure(vm, &gp, 1, NULL, &n), "kernel_error",
                     "EINVAL: cannot mount over root");
    gp.guest = "relative";
    expect_rejection(configure(vm, &gp, 1, NULL, &n), "invalid_state", "absolute");
    gp.guest = "/proc/x";
    expect_rejection(configure(vm, &gp, 1, NULL, &n), "invalid_state", "/proc");
    gp.guest = "/usr/local/x";
    expect_rejection(configure(vm, &gp, 1, NULL, &n), "invalid_state", "/usr");
    gp.guest = "/a\nb";
    expect_rejection(configure(vm, &gp, 1, NULL, &n), "invalid_state", "control byte");
    mspec_t two[] = {{"/same", "memory", "{}", false}, {"/same/", "memory", "{}", false}};
    expect_rejection(configure(vm, two, 2, NULL, &n), "kernel_error",
                     "EEXIST: already mounted at /same");
    mspec_t js[] = {{"/ws", "js_bridge", "{}", false}, {"/ws/inner", "memory", "{}", false}};
    expect_rejection(configure(vm, js, 2, NULL, &n), "invalid_state", "js_bridge mount at /ws");
    js[1].plugin = "js_bridge";
    js[1].config = "{\"mountId\": 5}";
    expect_rejection(configure(vm, js + 1, 1, NULL, &n), "plugin_error", "`mountId`");

    /* none of that changed anything: the first mount is still there */
    ck_assert_str_eq(read_file(vm, "/keep/file"), "x");
    vm_dispose(vm);
    stop();
    ck_assert_str_eq(host_list(a), "file link");
    rm_tree(a);
}
END_TEST

/* DisposeVm (and the sidecar's exit) leave no mount and nothing in the host directories. */
START_TEST(dispose_leaves_nothing)
{
    char a[64], b[64], vm[64], vm2[64];
    host_dir(a, "outer");
    host_dir(b, "inner");
    put(a, "f", "outer\n", 0644);
    put(b, "g", "inner\n", 0644);
    start();
    pid_t side = se_client_pid(c);
    vm_new("{" ALLOW_ALL "}", vm);
    /* inner lies in outer: its mount point is made in the host's directory a */
    mspec_t m[] = {{"/w/inner", "host_dir", hd(b, false), false},
                   {"/w", "host_dir", hd(a, false), false},
                   {"/w/mem", "memory", "{}", false}};
    configure_ok(vm, m, 3, NULL, 3);
    sh_expect(vm, "cat /w/f /w/inner/g && ls /w", "outer\ninner\nf\ninner\nmem\n", 0);
    ck_assert_str_eq(host_list(a), "f inner mem");
    pid_t sup = supervisor_pid();
    ck_assert(mountinfo_has(sup, a, "/w") && mountinfo_has(sup, b, "/w/inner"));
    ck_assert(mountinfo_has(side, a, NULL) && mountinfo_has(side, b, NULL));
    vm_dispose(vm);
    ck_assert(!mountinfo_has(side, a, NULL) && !mountinfo_has(side, b, NULL));
    ck_assert_int_eq(kill(sup, 0) == 0 ? 0 : errno, ESRCH);
    ck_assert_str_eq(host_list(a), "f");
    ck_assert_str_eq(host_list(b), "g");

    /* the sidecar's exit, with a VM still configured */
    vm_new("{" ALLOW_ALL "}", vm2);
    configure_ok(vm2, m, 3, NULL, 3);
    ck_assert_str_eq(host_list(a), "f inner mem");
    stop();
    ck_assert_str_eq(host_list(a), "f");
    ck_assert_str_eq(host_list(b), "g");
    rm_tree(a);
    rm_tree(b);
}
END_TEST

START_TEST(memory_mount_size_limit)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxFilesystemBytes\": 4194304}}}", vm);
    mspec_t m[] = {{"/scratch", "memory", "{}", false}};
    configure_ok(vm, m, 1, NULL, 1);
    write_file(vm, "/scratch/note", "in memory\n");
    /* the guest user owns its root (reference: 1000:1000) and fills it up to the VM's disk */
    sh_expect(vm,
              "cat /scratch/note; stat -c '%u %a' /scratch; "
              "dd if=/dev/zero of=/scratch/big bs=1M count=8 2>/dev/null || echo full; "
              "test $(stat -c %s /scratch/big) -le 4194304 && echo bounded",
              "in memory\n1000 755\nfull\nbounded\n", 0);
    /* a replacement starts empty */
    configure_ok(vm, m, 1, NULL, 1);
    sh_expect(vm, "ls -A /scratch | wc -l", "0\n", 0);
    vm_dispose(vm);
    stop();
}
END_TEST

/* SnapshotRootFilesystem reads the root overlay: mount points, never what is mounted. */
START_TEST(snapshot_leaves_mounted_content_out)
{
    char a[64], vm[64];
    host_dir(a, "snap");
    put(a, "hostfile", "host\n", 0644);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    mspec_t m[] = {{"/mnt/host", "host_dir", hd(a, false), false},
                   {"/mnt/mem", "memory", "{}", false}};
    configure_ok(vm, m, 2, NULL, 2);
    write_file(vm, "/mnt/mem/memfile", "mem\n");
    write_file(vm, "/rootfile", "root\n");
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &r), SE_OK);
    const sx_root_filesystem_entry_list_t *l =
        &r.payload.u.root_filesystem_snapshot_response.entries;
    bool host_point = false, mem_point = false, rootfile = false;
    for (size_t i = 0; i < l->len; i++) {
        const bare_str_t *path = &l->items[i].path;
        ck_assert_msg(!bare_str_eq_cstr(*path, "/mnt/host/hostfile") &&
                          !bare_str_eq_cstr(*path, "/mnt/mem/memfile"),
                      "mounted content in the snapshot: %.*s", (int)path->len, path->ptr);
        host_point |= bare_str_eq_cstr(*path, "/mnt/host") &&
                      l->items[i].kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY;
        mem_point |= bare_str_eq_cstr(*path, "/mnt/mem");
        rootfile |= bare_str_eq_cstr(*path, "/rootfile");
    }
    ck_assert(host_point && mem_point && rootfile);
    vm_dispose(vm);
    stop();
    rm_tree(a);
}
END_TEST

START_TEST(module_access_auto_mounts)
{
    char cwd[64], vm[64], path[256];
    host_dir(cwd, "cwd");
    snprintf(path, sizeof path, "%s/node_modules", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/node_modules/plain", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    put(path, "package.json", "{\"name\":\"plain\"}", 0644);
    snprintf(path, sizeof path, "%s/src", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/src/linked", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    put(path, "package.json", "{\"name\":\"linked\"}", 0644);
    snprintf(path, sizeof path, "%s/src/inner", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    put(path, "package.json", "{\"name\":\"@sc/inner\"}", 0644);
    snprintf(path, sizeof path, "%s/node_modules/linked", cwd);
    ck_assert_int_eq(symlink("../src/linked", path), 0);
    snprintf(path, sizeof path, "%s/node_modules/@sc", cwd);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/node_modules/@sc/inner", cwd);
    ck_assert_int_eq(symlink("../../src/inner", path), 0);
    snprintf(path, sizeof path, "%s/node_modules/.bin", cwd);
    ck_assert_int_eq(symlink("../src", path), 0); /* dot entries are skipped */

    start();
    vm_new("{" ALLOW_ALL "}", vm);
    configure_ok(vm, NULL, 0, cwd, 3);
    ck_assert_str_eq(read_file(vm, "/root/node_modules/plain/package.json"),
                     "{\"name\":\"plain\"}");
    ck_assert_str_eq(read_file(vm, "/root/node_modules/linked/package.json"),
                     "{\"name\":\"linked\"}");
    ck_assert_str_eq(read_file(vm, "/root/node_modules/@sc/inner/package.json"),
                     "{\"name\":\"@sc/inner\"}");
    sx_response_frame_t r;
    expect_rejection(
        fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/root/node_modules/x", "no", &r),
        "kernel_error", "EROFS");
    /* the base's /root is 0700: the guest user may look in */
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    p.u.guest_filesystem_call_request.operation = SX_GUEST_FILESYSTEM_OPERATION_CHMOD;
    p.u.guest_filesystem_call_request.path = bare_str_from_cstr("/root");
    p.u.guest_filesystem_call_request.mode.present = true;
    p.u.guest_filesystem_call_request.mode.value = 0755;
    ck_assert_int_eq(vm_call(vm, &p, &r), SE_OK);
    sh_expect(vm,
              "cd /root/node_modules && cat plain/package.json linked/package.json "
              "@sc/inner/package.json && echo && (touch linked/x 2>/dev/null || echo ro)",
              "{\"name\":\"plain\"}{\"name\":\"linked\"}{\"name\":\"@sc/inner\"}\nro\n", 0);
    /* an explicit mount at /root/node_modules takes its place: no auto-mount */
    mspec_t m[] = {{"/root/node_modules", "memory", "{}", false}};
    configure_ok(vm, m, 1, cwd, 1);
    ck_assert_ptr_null(read_file(vm, "/root/node_modules/plain/package.json"));
    /* no node_modules there: none either */
    configure_ok(vm, NULL, 0, "/nonexistent", 0);
    vm_dispose(vm);
    stop();
    rm_tree(cwd);
}
END_TEST

/* On a read-only root: mount points are made all the same, and a mount's own flag decides. */
START_TEST(read_only_root)
{
    char a[64], vm[64];
    host_dir(a, "rwonro");
    ck_assert_int_eq(chmod(a, 0777), 0);
    start();
    vm_new("{" ALLOW_ALL ", \"rootFilesystem\": {\"mode\": \"read-only\"}}", vm);
    mspec_t m[] = {{"/new/host", "host_dir", hd(a, false), false},
                   {"/new/mem", "memory", "{}", false}};
    configure_ok(vm, m, 2, NULL, 2);
    write_file(vm, "/new/host/f", "rw on ro\n");
    write_file(vm, "/new/mem/g", "mem on ro\n");
    sx_response_frame_t r;
    expect_rejection(fscall(vm, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, "/new/x", "no", &r),
                     "kernel_error", "EROFS");
    sh_expect(vm, "cat /new/host/f /new/mem/g && echo g > /new/host/g && (touch /new/y || true)",
              "rw on ro\nmem on ro\n", 0);
    ck_assert_str_eq(host_list(a), "f g");
    vm_dispose(vm);
    stop();
    rm_tree(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mounts");
    TCase *t = tcase_create("mounts");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, host_dir_rw_and_ro);
    tcase_add_test(t, configure_after_supervisor_and_replace);
    tcase_add_test(t, supervisor_started_later_gets_mounts);
    tcase_add_test(t, refusals);
    tcase_add_test(t, dispose_leaves_nothing);
    tcase_add_test(t, memory_mount_size_limit);
    tcase_add_test(t, snapshot_leaves_mounted_content_out);
    tcase_add_test(t, module_access_auto_mounts);
    tcase_add_test(t, read_only_root);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
