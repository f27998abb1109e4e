/*
 * mounts.c - PRIVILEGED: a VM's mount table, the mounts of ConfigureVm (mounts.h).
 *
 *   host_dir {hostPath, readOnly?}  a bind of a host directory (not recursive);
 *   module_access {hostPath}        the same, read-only, of a directory named node_modules;
 *                                   moduleAccessCwd adds one at /root/node_modules and, for
 *                                   each package there that is a symlink to a directory, a
 *                                   host_dir of its target at /root/node_modules/<name>;
 *   memory                          a tmpfs of the mount's own, as large as the VM's disk;
 *   js_bridge {mountId?}            served by the host (jsbridge.h), in guest processes only.
 *
 * Each mount is attached in the sidecar's view of the VM root (under its overlay, where
 * GuestFilesystemCall resolves paths) and, while the VM has a supervisor, in the guest
 * processes' view (the supervisor's mount namespace; a supervisor that starts gets every mount
 * before its first guest). A js_bridge mount is a plain directory in the sidecar's view: the
 * sidecar serves that FUSE file system on its own loop and must never walk into it, so nothing
 * is mounted under one, and GuestFilesystemCall at or below it goes to the plugin.
 *
 * Trust model. The host chooses what is mounted and where; the guest chooses nothing but owns
 * the tree the mounts land in and can race any rename or symlink swap in it. Hence:
 *  - a host directory is opened once, by its absolute path, without following any symlink
 *    (openat2 RESOLVE_NO_SYMLINKS), checked (a directory, not a kernel pseudo file system,
 *    not inside the sidecar's own state), and bound from that descriptor (open_tree): what is
 *    mounted is what was named, and nothing looks the path up again;
 *  - a mount point is reached from the VM root one directory at a time, following no symlink
 *    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), missing ones made with mkdirat on the held
 *    parent, and the mount is moved onto the final descriptor (move_mount): a symlink swapped
 *    in fails the mount instead of redirecting it, and a rename only moves it inside the VM;
 *  - an unmount names the mount by its own descriptor (/proc/self/fd/N), never by a path;
 *  - in the supervisor's namespace the same is done by a short child of the sidecar (a process
 *    with threads cannot join another mount namespace, and the sidecar has its worker): it
 *    joins the namespace, opens the mount point RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS from the
 *    supervisor's root and moves the prepared mount there, or unmounts one by descriptor. That
 *    namespace belongs to the initial user namespace: no guest can undo or move any of it;
 *  - every mount is nosuid and nodev, and private (nothing propagates to or from the host).
 * Mount points made inside a host directory are removed again at unmount; those made in the
 * VM's own root overlay stay, as in the reference (they are part of its snapshots).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsbridge.h"
#include "log.h"
#include "mounts.h"
#include "sidecar.h"

#define MODULES_GUEST_PATH "/root/node_modules"
#define SHOWN 200 /* bytes of a host-given string quoted in a message */

typedef enum mount_kind { MK_HOST_DIR, MK_MODULE_ACCESS, MK_MEMORY, MK_JS_BRIDGE } mount_kind_t;

static const char *const kind_names[] = {"host_dir", "module_access", "memory", "js_bridge"};

/* A directory made for a mount point outside the VM's root overlay (removed at unmount). */
typedef struct made_dir {
    int parent; /* O_PATH of the directory it was made in */
    char *name;
} made_dir_t;

typedef struct sc_mount {
    mount_kind_t kind;
    bool read_only;
    bool automatic;   /* a moduleAccessCwd auto-mount */
    char *guest_path; /* absolute, normalized, not "/" */
    char *host_path;  /* host_dir, module_access: the directory bound (for messages) */
    int src;          /* host_dir, module_access: O_PATH of that directory */
    char *mount_id;   /* js_bridge */
    sc_jsbridge_t *jb;
    /* module_access with symlinked packages: their names ("pkg", "@scope/pkg"), which get a
     * directory over the symlink so that their own mounts have somewhere to land */
    char **skel;
    size_t nskel;
    char *skel_dir; /* the skeleton layer, relative to the state directory, once made */
    int fd;         /* the mount in the sidecar's view, -1 when none */
    int sup_fd;     /* the mount in the current supervisor's view, -1 when none */
    made_dir_t *made;
    size_t nmade;
} sc_mount_t;

struct sc_mounts {
    sc_mount_t *items; /* parents before children */
    size_t n;
    unsigned seq; /* names skeleton layers */
    int bare;     /* the root overlay alone, for snapshots (-1 until asked for) */
};

struct sc_mount_plan {
    sc_mount_t *items;
    size_t n, cap;
};

/* Where a failure goes: the rejection's code and message. */
typedef struct errbuf {
    char *code, *msg;
    size_t codelen, msglen;
} errbuf_t;

__attribute__((format(printf, 3, 4))) static int fail(errbuf_t *e, const char *code,
                                                      const char *fmt, ...)
{
    snprintf(e->code, e->codelen, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->msglen, fmt, ap);
    va_end(ap);
    return -1;
}

static void mount_init(sc_mount_t *m)
{
    memset(m, 0, sizeof *m);
    m->src = m->fd = m->sup_fd = -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Depth of a normalized absolute path: "/a" 1, "/a/b" 2. */
static size_t depth(const char *p)
{
    size_t d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

/* Whether path is base or lies below it (both normalized). */
static bool at_or_under(const char *path, const char *base)
{
    size_t n = strlen(base);
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static uint64_t mount_id_of(int fd)
{
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID))
        return 0;
    return sx.stx_mnt_id;
}

/* ---- what the host asks for -------------------------------------------------------------- */

/* The plugins the reference registers and this sidecar does not, and why. */
static const char *missing_plugin_reason(const char *id)
{
    static const char *const why[][2] = {
        {"s3", "it needs cloud credentials and an S3 client"},
        {"google_drive", "it needs cloud credentials and a Google Drive client"},
        {"sandbox_agent", "it needs the reference's own sandbox-agent HTTP service"},
        {"sqlite_vfs", "it needs the reference's SQLite-backed file system"},
    };
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
        if (strcmp(id, why[i][0]) == 0)
            return why[i][1];
    return NULL;
}

/*
 * guestPath: absolute, normalized (".", "..", "//" resolved lexically, as the reference
 * does), no control byte, not "/", and not where guest processes see something of their own
 * (/proc, /dev, the host's runtime directories), which would hide the mount from them.
 */
static int check_guest_path(bare_str_t in, char *out, errbuf_t *e)
{
    int shown = (int)(in.len > SHOWN ? SHOWN : in.len);
    if (in.len == 0 || in.ptr[0] != '/')
        return fail(e, "invalid_state", "mount guestPath must be an absolute path, got '%.*s'",
                    memchr(in.ptr, 0, in.len) ? 0 : shown, in.ptr);
    int rc = sc_path_normalize(in.ptr, in.len, out);
    if (rc == EINVAL)
        return fail(e, "invalid_state", "mount guestPath contains a NUL or control byte");
    if (rc)
        return fail(e, "invalid_state", "mount guestPath is longer than %d bytes", SC_PATH_MAX);
    if (strcmp(out, "/") == 0)
        return fail(e, "kernel_error", "EINVAL: cannot mount over root");
    static const char *const own[] = {"/proc", "/dev", NULL};
    const char *const *lists[] = {own, sv_runtime_binds};
    for (size_t l = 0; l < 2; l++)
        for (const char *const *p = lists[l]; *p; p++)
            if (at_or_under(out, *p))
                return fail(e, "invalid_state",
                            "mount guestPath %s lies at or under %s, which guest processes see "
                            "as %s; nothing can be mounted there",
                            out, *p, l == 0 ? "their own" : "the host's, read-only");
    return 0;
}

static bool pseudo_fs(long type)
{
    static const long types[] = {PROC_SUPER_MAGIC,    SYSFS_MAGIC,    CGROUP_SUPER_MAGIC,
                                 CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC,  TRACEFS_MAGIC,
                                 SECURITYFS_MAGIC,    BPF_FS_MAGIC,   NSFS_MAGIC,
                                 DEVPTS_SUPER_MAGIC,  EFIVARFS_MAGIC, PSTOREFS_MAGIC,
                                 BINFMTFS_MAGIC,      0x62656570 /* configfs */};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (type == types[i])
            return true;
    return false;
}

/*
 * Opens the host directory a host_dir or module_access mount binds: hostPath must be
 * absolute; it is normalized lexically and opened without following any symlink (the SDK
 * passes realpath'd paths; a symlink anywhere in the path is refused rather than followed, so
 * that what is bound is exactly what was named). A directory, on a real file system, outside
 * the sidecar's own state directory (other VMs' roots live there). The fd (O_PATH), or -1
 * with a plugin_error.
 */
static int open_host_dir(const sc_host_t *host, const char *plugin, const char *path, size_t len,
                         char *canon, errbuf_t *e)
{
    int shown = (int)(len > SHOWN ? SHOWN : len);
    if (len == 0 || path[0] != '/' || memchr(path, 0, len))
        return fail(e, "plugin_error", "EINVAL: %s hostPath must be an absolute path, got '%.*s'",
                    plugin, memchr(path, 0, len) ? 0 : shown, path);
    int rc = sc_path_normalize(path, len, canon);
    if (rc)
        return fail(e, "plugin_error", "EINVAL: %s hostPath %s", plugin,
                    rc == EINVAL ? "contains a control byte" : "is too long");
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, canon, &how, sizeof how);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP)
            return fail(e, "plugin_error",
                        "ELOOP: %s hostPath %s goes through a symbolic link; symlinks in hostPath "
                        "are not followed (pass the real path, as realpath(3) gives it)",
                        plugin, canon);
        if (err == ENOENT)
            return fail(e, "plugin_error", "ENOENT: %s root does not exist: %s", plugin, canon);
        if (err == ENOTDIR)
            return fail(e, "plugin_error", "ENOTDIR: %s root is not a directory: %s", plugin,
                        canon);
        return fail(e, "plugin_error", "%s: cannot open the %s root %s: %s", sc_errno_name(err),
                    plugin, canon, strerror(err));
    }
    struct stat st;
    struct statfs sf;
    char real[PATH_MAX], self[64],
        *state = host->state_dir ? realpath(host->state_dir, NULL) : NULL;
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(self, real, sizeof real - 1);
    real[n > 0 ? n : 0] = '\0';
    int rc2 = 0;
    if (n <= 0)
        rc2 = fail(e, "plugin_error", "%s: cannot resolve the %s root %s: %s", sc_errno_name(errno),
                   plugin, canon, strerror(errno));
    else if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
        rc2 = fail(e, "plugin_error", "ENOTDIR: %s root is not a directory: %s", plugin, canon);
    else if (fstatfs(fd, &sf) != 0 || pseudo_fs((long)sf.f_type))
        rc2 = fail(e, "plugin_error",
                   "EINVAL: %s root %s is on a kernel pseudo file system (proc, sysfs, cgroup, "
                   "...), which is never mounted into a VM",
                   plugin, canon);
    else if ((state && at_or_under(real, state)) ||
             (host->state_dir && at_or_under(canon, host->state_dir)))
        rc2 = fail(e, "plugin_error",
                   "EACCES: %s root %s lies in the sidecar's own state directory", plugin, canon);
    free(state);
    if (rc2 != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A string field of a plugin config object; NULL when absent, -1 (a failure) when not a
 * string. */
static int config_string(const char *plugin, json_t *cfg, const char *key, bool required,
                         const char **out, size_t *len, errbuf_t *e)
{
    json_t *v = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return fail(e, "plugin_error", "EINVAL: %s config: missing field `%s`", plugin, key);
        return 0;
    }
    if (!json_is_string(v))
        return fail(e, "plugin_error",
                    "EINVAL: %s config: invalid type for `%s`: expected a string", plugin, key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

static int plan_push(sc_mount_plan_t *p, sc_mount_t **m, errbuf_t *e)
{
    if (p->n >= SC_MAX_MOUNTS)
        return fail(e, "invalid_state", "too many mounts (at most %d, auto-mounts included)",
                    SC_MAX_MOUNTS);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        sc_mount_t *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return fail(e, "invalid_state", "out of memory");
        p->items = items;
        p->cap = cap;
    }
    *m = &p->items[p->n++];
    mount_init(*m);
    return 0;
}

/* One MountDescriptor of the request into the plan: checked, its host directory opened. */
static int plan_add(sc_server_t *srv, sc_mount_plan_t *p, const sx_mount_descriptor_t *d,
                    errbuf_t *e)
{
    const sx_mount_plugin_descriptor_t *pl = &d->plugin;
    char id[128];
    int shown = (int)(pl->id.len > 100 ? 100 : pl->id.len);
    snprintf(id, sizeof id, "%.*s", shown, pl->id.ptr);
    json_error_t jerr;
    json_t *cfg =
        json_loadb(pl->config.ptr, pl->config.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!cfg)
        return fail(e, "invalid_state", "mount plugin config for %s is not valid JSON: %s", id,
                    jerr.text);
    int kind = -1;
    for (int k = 0; k < 4; k++)
        if (pl->id.len == strlen(kind_names[k]) &&
            memcmp(pl->id.ptr, kind_names[k], pl->id.len) == 0)
            kind = k;
    int rc = -1;
    sc_mount_t *m = NULL;
    char path[SC_PATH_MAX + 1];
    const char *s = NULL;
    size_t slen = 0;
    if (kind < 0) {
        const char *why = missing_plugin_reason(id);
        if (why)
            fail(e, "plugin_error",
                 "ENOSYS: filesystem plugin is not registered: %s (this sidecar does not provide "
                 "it: %s)",
                 id, why);
        else
            fail(e, "plugin_error", "ENOSYS: filesystem plugin is not registered: %s", id);
        goto out;
    }
    if (check_guest_path(d->guest_path, path, e) != 0 || plan_push(p, &m, e) != 0)
        goto out;
    m->kind = (mount_kind_t)kind;
    m->read_only = d->read_only || kind == MK_MODULE_ACCESS;
    m->guest_path = strdup(path);
    if (!m->guest_path) {
        fail(e, "invalid_state", "out of memory");
        goto out;
    }
    switch (m->kind) {
    case MK_HOST_DIR:
    case MK_MODULE_ACCESS: {
        if (!json_is_object(cfg)) {
            fail(e, "plugin_error", "EINVAL: %s config: expected an object with `hostPath`", id);
            goto out;
        }
        if (config_string(id, cfg, "hostPath", true, &s, &slen, e) != 0)
            goto out;
        json_t *ro = json_object_get(cfg, "readOnly");
        if (m->kind == MK_HOST_DIR && ro && !json_is_null(ro) && !json_is_boolean(ro)) {
            fail(e, "plugin_error",
                 "EINVAL: host_dir config: invalid type for `readOnly`: "
                 "expected a boolean");
            goto out;
        }
        m->read_only = m->read_only || json_is_true(ro);
        char canon[SC_PATH_MAX + 1];
        m->src = open_host_dir(srv->host, id, s, slen, canon, e);
        if (m->src < 0)
            goto out;
        const char *base = strrchr(canon, '/') + 1;
        if (m->kind == MK_MODULE_ACCESS && strcmp(base, "node_modules") != 0) {
            fail(e, "plugin_error",
                 "EINVAL: module_access roots must resolve to a node_modules "
                 "directory, got %s",
                 canon);
            goto out;
        }
        m->host_path = strdup(canon);
        break;
    }
    case MK_JS_BRIDGE:
        if (!json_is_null(cfg) && !json_is_object(cfg)) {
            fail(e, "plugin_error", "EINVAL: js_bridge config: expected null or an object");
            goto out;
        }
        if (config_string(id, cfg, "mountId", false, &s, &slen, e) != 0)
            goto out;
        if (s && (slen == 0 || memchr(s, 0, slen))) {
            fail(e, "plugin_error",
                 "EINVAL: js_bridge config: `mountId` must be a non-empty "
                 "string without NUL");
            goto out;
        }
        m->mount_id = strdup(s ? s : path); /* the reference's default: the guest path */
        break;
    case MK_MEMORY:
        break; /* its config is ignored, as in the reference */
    }
    if ((m->kind == MK_JS_BRIDGE && !m->mount_id) ||
        ((m->kind == MK_HOST_DIR || m->kind == MK_MODULE_ACCESS) && !m->host_path)) {
        fail(e, "invalid_state", "out of memory");
        goto out;
    }
    rc = 0;
out:
    json_decref(cfg);
    return rc;
}

/* A symlinked package rel ("pkg", "@scope/pkg") of the node_modules nm: a read-only host_dir
 * of its target at /root/node_modules/rel, when the target is a directory. */
static int add_symlinked(sc_server_t *srv, sc_mount_plan_t *p, size_t ma, const char *nm,
                         const char *rel, errbuf_t *e)
{
    char link[PATH_MAX], guest[SC_PATH_MAX + 1], canon[SC_PATH_MAX + 1];
    struct stat st;
    if (snprintf(link, sizeof link, "%s/%s", nm, rel) >= (int)sizeof link)
        return 0;
    char *target = realpath(link, NULL); /* the reference canonicalizes the target */
    if (!target || stat(target, &st) != 0 || !S_ISDIR(st.st_mode) ||
        snprintf(guest, sizeof guest, MODULES_GUEST_PATH "/%s", rel) >= (int)sizeof guest) {
        free(target);
        return 0;
    }
    sc_mount_t *m;
    char **skel = realloc(p->items[ma].skel, (p->items[ma].nskel + 1) * sizeof *skel);
    if (!skel) {
        free(target);
        return fail(e, "invalid_state", "out of memory");
    }
    p->items[ma].skel = skel;
    if (!(skel[p->items[ma].nskel] = strdup(rel))) {
        free(target);
        return fail(e, "invalid_state", "out of memory");
    }
    p->items[ma].nskel++;
    int fd = open_host_dir(srv->host, "host_dir", target, strlen(target), canon, e);
    free(target);
    if (fd < 0)
        return -1;
    if (plan_push(p, &m, e) != 0) {
        close(fd);
        return -1;
    }
    m->kind = MK_HOST_DIR;
    m->read_only = m->automatic = true;
    m->src = fd;
    m->guest_path = strdup(guest);
    m->host_path = strdup(canon);
    if (!m->guest_path || !m->host_path)
        return fail(e, "invalid_state", "out of memory");
    return 0;
}

/* The entries of node_modules (nm, canonical) that are symlinks: top-level ones, and those
 * inside @scope directories. Dot entries are skipped. */
static int scan_symlinks(sc_server_t *srv, sc_mount_plan_t *p, size_t ma, const char *nm,
                         const char *scope, errbuf_t *e)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", nm, scope ? "/" : "", scope ? scope : "");
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d));) {
        struct stat st;
        char rel[NAME_MAX * 2 + 2];
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        snprintf(rel, sizeof rel, "%s%s%s", scope ? scope : "", scope ? "/" : "", de->d_name);
        if (S_ISLNK(st.st_mode))
            rc = add_symlinked(srv, p, ma, nm, rel, e);
        else if (!scope && de->d_name[0] == '@' && S_ISDIR(st.st_mode))
            rc = scan_symlinks(srv, p, ma, nm, de->d_name, e);
    }
    closedir(d);
    return rc;
}

/*
 * moduleAccessCwd (reference §4.5): unless a mount targets /root/node_modules, and when
 * <moduleAccessCwd>/node_modules is a host directory (symlinks resolved, as the reference
 * canonicalizes it), a read-only module_access mount of it at /root/node_modules, plus the
 * host_dir mounts of its symlinked packages.
 */
static int add_module_access(sc_server_t *srv, sc_mount_plan_t *p, bare_str_t cwd, errbuf_t *e)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].guest_path, MODULES_GUEST_PATH) == 0)
            return 0;
    if (cwd.len == 0 || cwd.ptr[0] != '/' || memchr(cwd.ptr, 0, cwd.len) || cwd.len > PATH_MAX - 16)
        return fail(e, "invalid_state", "moduleAccessCwd must be an absolute host path");
    char path[PATH_MAX], canon[SC_PATH_MAX + 1];
    snprintf(path, sizeof path, "%.*s/node_modules", (int)cwd.len, cwd.ptr);
    char *nm = realpath(path, NULL);
    struct stat st;
    if (!nm || stat(nm, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(nm);
        return 0; /* no node_modules there: no auto-mount, as in the reference */
    }
    sc_mount_t *m;
    int fd = open_host_dir(srv->host, "module_access", nm, strlen(nm), canon, e);
    int rc = -1;
    if (fd < 0 || plan_push(p, &m, e) != 0)
        goto out;
    m->kind = MK_MODULE_ACCESS;
    m->read_only = m->automatic = true;
    m->src = fd;
    fd = -1;
    m->guest_path = strdup(MODULES_GUEST_PATH);
    m->host_path = strdup(canon);
    if (!m->guest_path || !m->host_path) {
        fail(e, "invalid_state", "out of memory");
        goto out;
    }
    rc = scan_symlinks(srv, p, p->n - 1, canon, NULL, e);
out:
    if (fd >= 0)
        close(fd);
    free(nm);
    return rc;
}

/* ---- releasing a mount ------------------------------------------------------------------ */

/* Unmounts the mount fd holds (in the calling process's namespace). */
static void unmount_fd(int fd)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    /* Safe: the magic link names exactly the mount this descriptor holds; EINVAL: it was
     * already detached (with a parent). */
    if (umount2(self, MNT_DETACH) != 0 && errno != EINVAL)
        sc_warn("cannot unmount a VM mount: %s", strerror(errno));
}

/* Removes the skeleton layer dir (relative to the state directory): directories only. */
static void remove_skeleton(const sc_host_t *host, sc_mount_t *m)
{
    if (!m->skel_dir || !host || !host->state_dir)
        return;
    int state = open(host->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int dir =
        state >= 0 ? openat(state, m->skel_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    for (size_t i = m->nskel; dir >= 0 && i-- > 0;) {
        unlinkat(dir, m->skel[i], AT_REMOVEDIR);
        char *slash = strchr(m->skel[i], '/');
        if (slash) {
            *slash = '\0'; /* its @scope, once empty */
            unlinkat(dir, m->skel[i], AT_REMOVEDIR);
            *slash = '/';
        }
    }
    if (dir >= 0)
        close(dir);
    if (state >= 0) {
        unlinkat(state, m->skel_dir, AT_REMOVEDIR);
        close(state);
    }
}

/* Everything of m goes: the plugin, its mounts in the sidecar's view (the supervisor's must
 * already be detached), the directories made for it outside the VM's own tree. */
static void mount_release(const sc_host_t *host, sc_mount_t *m)
{
    if (m->jb)
        sc_jsbridge_close(m->jb);
    m->jb = NULL;
    close_fd(&m->sup_fd);
    if (m->fd >= 0)
        unmount_fd(m->fd);
    close_fd(&m->fd);
    for (size_t i = m->nmade; i-- > 0;) {
        /* Safe: rmdir of one name in a directory held open; only an empty one goes. */
        unlinkat(m->made[i].parent, m->made[i].name, AT_REMOVEDIR);
        close(m->made[i].parent);
        free(m->made[i].name);
    }
    free(m->made);
    remove_skeleton(host, m);
    for (size_t i = 0; i < m->nskel; i++)
        free(m->skel[i]);
    free(m->skel);
    free(m->skel_dir);
    close_fd(&m->src);
    free(m->guest_path);
    free(m->host_path);
    free(m->mount_id);
    mount_init(m);
}

/* A plan's mounts that were never mounted (or failed halfway) go. */
static void plan_release(const sc_host_t *host, sc_mount_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n; i++)
        mount_release(host, &plan->items[i]);
    free(plan->items);
    free(plan);
}

void sc_mounts_plan_free(sc_mount_plan_t *plan)
{
    plan_release(NULL, plan); /* before sc_mounts_apply: nothing was made in the state yet */
}

/* ---- the supervisor's namespace ---------------------------------------------------------- */

/* One step in the supervisor's mount namespace. */
typedef struct ns_op {
    int fd;          /* attach: a detached mount; detach: an attached one */
    const char *rel; /* attach: the mount point, relative to the VM root; NULL: detach */
    char name[16];   /* detach: fd in decimal, its /proc/self/fd entry */
} ns_op_t;

static bool sup_alive(const sc_vm_t *vm)
{
    return vm->exec.sup_pid > 0 && vm->exec.state != SC_SUP_DOWN;
}

/*
 * Runs ops in order in the mount namespace of the VM's supervisor, from a short child: the
 * sidecar has a worker thread, and a process with threads cannot join a mount namespace. The
 * child makes system calls only (no allocation: the worker may hold the allocator's lock at
 * the fork), and nothing it does can block for long: it never walks into a js_bridge mount.
 * Returns how many ops succeeded before the first failure (n when none failed), with that
 * failure's errno in *err; with keep_going, a failure does not stop the rest.
 *
 * Safe: the child joins a namespace of the sidecar's own child; an attach opens its target
 * from the supervisor's root with RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS (a guest's symlink
 * fails it, ".." cannot leave the root) and moves a mount the sidecar prepared onto exactly
 * that directory; a detach names the mount by the descriptor the sidecar holds for it.
 */
static size_t ns_run(const sc_vm_t *vm, const ns_op_t *ops, size_t n, bool keep_going, int *err)
{
    char path[64];
    int ns = -1, root = -1, pipefd[2] = {-1, -1};
    struct {
        uint32_t done;
        int32_t err;
    } res = {0, 0};
    *err = 0;
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)vm->exec.sup_pid);
    ns = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/root", (int)vm->exec.sup_pid);
    root = ns >= 0 ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (root < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        *err = errno;
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        int fds = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fds < 0 || setns(ns, CLONE_NEWNS) != 0) {
            res.err = errno;
        } else {
            for (size_t i = 0; i < n && (keep_going || res.err == 0); i++) {
                bool ok;
                if (ops[i].rel) {
                    struct open_how how;
                    memset(&how, 0, sizeof how);
                    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
                    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
                    int t = (int)syscall(SYS_openat2, root, ops[i].rel, &how, sizeof how);
                    ok = t >= 0 &&
                         move_mount(ops[i].fd, "", t, "",
                                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
                } else {
                    ok = fchdir(fds) == 0 && umount2(ops[i].name, MNT_DETACH) == 0;
                }
                if (!ok && res.err == 0)
                    res.err = errno ? errno : EIO;
                else if (ok && res.err == 0)
                    res.done++;
            }
        }
        (void)!write(pipefd[1], &res, sizeof res);
        _exit(0);
    }
    if (pid < 0) {
        *err = errno;
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (read(pipefd[0], &res, sizeof res) != (ssize_t)sizeof res) {
        res.done = 0;
        res.err = EIO;
    }
    *err = res.err;
out:
    if (ns >= 0)
        close(ns);
    if (root >= 0)
        close(root);
    for (int i = 0; i < 2; i++)
        if (pipefd[i] >= 0)
            close(pipefd[i]);
    if (*err == 0 && res.done < n)
        *err = EIO;
    return res.done;
}

/* Detaches every mount of items[0..n) attached in the supervisor's view, children first. */
static void detach_in_supervisor(const sc_vm_t *vm, sc_mount_t *items, size_t n)
{
    ns_op_t *ops = calloc(n ? n : 1, sizeof *ops);
    size_t k = 0;
    for (size_t i = n; ops && i-- > 0;) {
        if (items[i].sup_fd < 0)
            continue;
        ops[k].fd = items[i].sup_fd;
        snprintf(ops[k].name, sizeof ops[k].name, "%d", items[i].sup_fd);
        k++;
    }
    int err = 0;
    if (k && sup_alive(vm) && ns_run(vm, ops, k, true, &err) < k)
        sc_warn("%s: cannot unmount a mount in the guests' view: %s", vm->id, strerror(err));
    free(ops);
    for (size_t i = 0; i < n; i++)
        close_fd(&items[i].sup_fd);
}

static int open_mount_point(const sc_host_t *host, sc_vm_t *vm, sc_mount_t *m, errbuf_t *e);

/*
 * Attaches items[from..n) in the supervisor's view, in order. Returns the index of the first
 * that could not be (n when all were), with the reason in e.
 */
static size_t attach_in_supervisor(const sc_host_t *host, sc_vm_t *vm, sc_mount_t *items,
                                   size_t from, size_t n, errbuf_t *e)
{
    ns_op_t *ops = calloc(n - from + 1, sizeof *ops);
    if (!ops) {
        fail(e, "kernel_error", "ENOMEM: out of memory");
        return from;
    }
    size_t k = 0, failed = n;
    char why[512];
    for (size_t i = from; i < n; i++, k++) {
        sc_mount_t *m = &items[i];
        ops[k].rel = m->guest_path + 1;
        if (m->kind == MK_JS_BRIDGE) {
            /* its mount point is a plain directory in the sidecar's view: made again if a
             * guest of an earlier supervisor removed it */
            int t = open_mount_point(host, vm, m, e);
            if (t < 0) {
                failed = i;
                break;
            }
            close(t);
            ops[k].fd = sc_jsbridge_mount_fd(m->jb, why, sizeof why);
            if (ops[k].fd < 0) {
                fail(e, "plugin_error", "%s", why);
                failed = i;
                break;
            }
        } else {
            ops[k].fd =
                (int)open_tree(m->fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
            if (ops[k].fd < 0) {
                fail(e, "kernel_error", "%s: cannot mount %s in the guests' view: %s",
                     sc_errno_name(errno), m->guest_path, strerror(errno));
                failed = i;
                break;
            }
        }
    }
    int err = 0;
    size_t done = k ? ns_run(vm, ops, k, false, &err) : 0;
    for (size_t j = 0; j < k; j++) {
        if (j < done)
            items[from + j].sup_fd = ops[j].fd;
        else
            close(ops[j].fd);
    }
    if (done < k) {
        failed = from + done;
        fail(e, "kernel_error", "%s: cannot mount %s in the guests' view: %s", sc_errno_name(err),
             items[failed].guest_path,
             err == ELOOP ? "a symbolic link is in the way" : strerror(err));
    }
    free(ops);
    return failed;
}

/* ---- mounting ---------------------------------------------------------------------------- */

static int open_dir_below(int dir, const char *name)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
}

/* A writable view of the VM's read-only root (its mount alone, detached, the read-only flag
 * cleared): where its missing mount points are made. */
static int writable_root(const sc_vm_t *vm)
{
    int w = (int)open_tree(vm->fs.root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_clr = MOUNT_ATTR_RDONLY;
    /* Safe: a private detached copy only the sidecar holds; the guests' root stays read-only. */
    if (w >= 0 && mount_setattr(w, "", AT_EMPTY_PATH, &a, sizeof a) != 0) {
        close(w);
        return -1;
    }
    return w;
}

/* Makes the directory name in dir (at rel below the VM root) for a mount point. */
static int make_dir(const sc_host_t *host, sc_vm_t *vm, int dir, const char *rel, const char *name,
                    uint64_t root_mnt, sc_mount_t *m)
{
    bool on_root = mount_id_of(dir) == root_mnt;
    int made_in = dir, w = -1;
    if (mkdirat(dir, name, 0755) != 0) {
        if (errno != EROFS || !on_root || !vm->fs.read_only)
            return -1;
        /* the reference mounts on a read-only root too: the directory is made beneath it */
        w = writable_root(vm);
        made_in = w >= 0 ? open_dir_below(w, rel[0] ? rel : ".") : -1;
        int rc = made_in >= 0 ? mkdirat(made_in, name, 0755) : -1;
        int saved = errno;
        if (w >= 0)
            close(w);
        if (rc != 0) {
            if (made_in >= 0)
                close(made_in);
            errno = saved;
            return -1;
        }
    }
    if (on_root) {
        /* in the VM's own tree: owned by its root, as the other mount points (rootfs.c) */
        sc_owner_set(host, made_in, name, 0, 0);
    } else {
        made_dir_t *md = realloc(m->made, (m->nmade + 1) * sizeof *md);
        int pfd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
        char *copy = strdup(name);
        if (md)
            m->made = md;
        if (md && pfd >= 0 && copy)
            m->made[m->nmade++] = (made_dir_t){pfd, copy};
        else {
            if (pfd >= 0)
                close(pfd);
            free(copy);
        }
    }
    if (made_in != dir)
        close(made_in);
    return 0;
}

/*
 * Opens m's mount point in the sidecar's view, one directory at a time from the VM root,
 * following no symlink, making the missing ones (0755). The fd (O_PATH), or -1 with a
 * kernel_error.
 */
static int open_mount_point(const sc_host_t *host, sc_vm_t *vm, sc_mount_t *m, errbuf_t *e)
{
    uint64_t root_mnt = mount_id_of(vm->fs.root_fd);
    int dir = fcntl(vm->fs.root_fd, F_DUPFD_CLOEXEC, 3);
    char rel[SC_PATH_MAX + 1] = "";
    size_t rlen = 0;
    const char *p = m->guest_path + 1;
    while (dir >= 0 && *p) {
        size_t len = strcspn(p, "/");
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) {
            close(dir);
            return fail(e, "kernel_error", "ENAMETOOLONG: the mount point %s has a name too long",
                        m->guest_path);
        }
        memcpy(name, p, len);
        name[len] = '\0';
        int next = -1;
        for (int attempt = 0; attempt < 8 && next < 0; attempt++) {
            next = open_dir_below(dir, name);
            if (next >= 0 || errno != ENOENT)
                break;
            if (make_dir(host, vm, dir, rel, name, root_mnt, m) != 0 && errno != EEXIST)
                break;
        }
        int err = errno;
        close(dir);
        dir = next;
        if (dir < 0) {
            const char *why = err == ELOOP     ? "a symbolic link is in the way (mount points are "
                                                 "never reached through symlinks)"
                              : err == ENOTDIR ? "something that is not a directory is in the way"
                              : err == EROFS   ? "it does not exist, and what would hold it is "
                                                 "read-only"
                                               : strerror(err);
            return fail(e, "kernel_error", "%s: cannot make the mount point %s: %s",
                        sc_errno_name(err), m->guest_path, why);
        }
        memcpy(rel + rlen, p, len);
        rlen += len;
        p += len;
        if (*p == '/') {
            rel[rlen++] = '/';
            p++;
        }
        rel[rlen] = '\0';
    }
    if (dir < 0)
        return fail(e, "kernel_error", "%s: cannot open the VM root: %s", sc_errno_name(errno),
                    strerror(errno));
    return dir;
}

/* A detached bind of the host directory src: nosuid, nodev, private, read-only when asked. */
static int bind_tree(int src, bool ro)
{
    /* Not AT_RECURSIVE: mounts below the host directory (the sidecar's own state tmpfs under
     * /tmp, say) are never carried into a VM. */
    int t = (int)open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (t < 0)
        return -1;
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0);
    a.propagation = MS_PRIVATE;
    if (mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof a) != 0) {
        int saved = errno;
        close(t);
        errno = saved;
        return -1;
    }
    return t;
}

/* A detached tmpfs as large as the VM's disk (maxFilesystemBytes, maxInodeCount), its root
 * 0755 owned by the guest user (reference: 1000:1000). */
static int memory_tree(const sc_host_t *host, const sc_vm_t *vm, bool ro)
{
    const sc_resource_limits_t *r = &vm->config.resources;
    char size[32], inodes[32], uid[16];
    snprintf(size, sizeof size, "%llu",
             (unsigned long long)(r->max_filesystem_bytes ? r->max_filesystem_bytes : 64u << 20));
    snprintf(inodes, sizeof inodes, "%llu",
             (unsigned long long)(r->max_inode_count ? r->max_inode_count : 16384));
    snprintf(uid, sizeof uid, "%u", host->id_base + 1000u);
    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    bool ok = fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
              (!host->privileged || (fsconfig(fs, FSCONFIG_SET_STRING, "uid", uid, 0) == 0 &&
                                     fsconfig(fs, FSCONFIG_SET_STRING, "gid", uid, 0) == 0)) &&
              fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
    /* Safe: a fresh tmpfs of the VM's size, nosuid and nodev. */
    int t = ok ? (int)fsmount(fs, FSMOUNT_CLOEXEC,
                              MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0))
               : -1;
    int saved = errno;
    close(fs);
    errno = saved;
    return t;
}

/*
 * module_access with symlinked packages: the kernel cannot mount a directory over a symlink,
 * so the mount is a read-only overlay of a skeleton layer (a directory for each symlinked
 * package, made in the sidecar's state) over the host's node_modules, and the packages' own
 * mounts land on the skeleton's directories. The layers are named relative to the state
 * directory and as the sidecar's descriptor of node_modules (overlayfs shows its options in
 * the guests' /proc/self/mountinfo: neither names a host path).
 */
static int overlay_tree(const sc_host_t *host, sc_vm_t *vm, sc_mounts_t *t, sc_mount_t *m)
{
    char rel[96], opts[160];
    int state = open(host->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (state < 0)
        return -1;
    snprintf(rel, sizeof rel, "mounts/%s.%u", vm->id, t->seq++);
    mkdirat(state, "mounts", 0700);
    int rc = mkdirat(state, rel, 0755);
    if (rc == 0 && !(m->skel_dir = strdup(rel)))
        rc = -1;
    int skel = rc == 0 ? openat(state, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    for (size_t i = 0; skel >= 0 && i < m->nskel; i++) {
        char *slash = strchr(m->skel[i], '/');
        if (slash) {
            *slash = '\0';
            mkdirat(skel, m->skel[i], 0755);
            *slash = '/';
        }
        if (mkdirat(skel, m->skel[i], 0755) != 0 && errno != EEXIST) {
            close(skel);
            skel = -1;
        }
    }
    if (skel < 0) {
        close(state);
        return -1;
    }
    close(skel);
    snprintf(opts, sizeof opts, "%s:/proc/self/fd/%d", rel, m->src);
    int fs = fsopen("overlay", FSOPEN_CLOEXEC), here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* The skeleton's relative name resolves from the state directory: the sidecar's working
     * directory for these two calls (it is single-threaded; the worker uses no relative path). */
    bool in_state = here >= 0 && fchdir(state) == 0;
    bool ok = fs >= 0 && in_state && fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", opts, 0) == 0 &&
              (host->privileged || fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0) &&
              fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
    int saved = errno;
    if (in_state && fchdir(here) != 0)
        sc_warn("cannot return to the working directory: %s", strerror(errno));
    /* Safe: a read-only overlay of the sidecar's own skeleton over the host directory the host
     * named, nosuid and nodev. */
    int tree = ok ? (int)fsmount(fs, FSMOUNT_CLOEXEC,
                                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
                  : -1;
    if (!ok)
        errno = saved;
    saved = errno;
    if (fs >= 0)
        close(fs);
    if (here >= 0)
        close(here);
    close(state);
    errno = saved;
    return tree;
}

/* Mounts m in the sidecar's view (a js_bridge: its plugin opened and its mount point made). */
static int mount_one(sc_server_t *srv, sc_vm_t *vm, sc_mounts_t *t, sc_mount_t *m, errbuf_t *e)
{
    char why[512];
    int tree = -1;
    switch (m->kind) {
    case MK_JS_BRIDGE:
        m->jb =
            sc_jsbridge_open(srv, vm, m->mount_id, m->guest_path, m->read_only, why, sizeof why);
        if (!m->jb)
            return fail(e, "plugin_error", "%s", why);
        break;
    case MK_HOST_DIR:
        tree = bind_tree(m->src, m->read_only);
        break;
    case MK_MODULE_ACCESS:
        tree = m->nskel ? overlay_tree(srv->host, vm, t, m) : bind_tree(m->src, true);
        break;
    case MK_MEMORY:
        tree = memory_tree(srv->host, vm, m->read_only);
        break;
    }
    if (tree < 0 && m->kind != MK_JS_BRIDGE)
        return fail(e, "kernel_error", "%s: cannot mount %s at %s: %s", sc_errno_name(errno),
                    kind_names[m->kind], m->guest_path, strerror(errno));
    int target = open_mount_point(srv->host, vm, m, e);
    if (target < 0) {
        if (tree >= 0)
            close(tree);
        return -1;
    }
    /* Safe: a mount prepared above, moved onto the directory just opened without symlinks. */
    if (tree >= 0 &&
        move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
        int err = errno;
        close(tree);
        close(target);
        return fail(e, "kernel_error", "%s: cannot mount %s at %s: %s", sc_errno_name(err),
                    kind_names[m->kind], m->guest_path, strerror(err));
    }
    close(target);
    m->fd = tree;
    sc_info("%s: mounted %s%s%s at %s%s", vm->id, kind_names[m->kind], m->host_path ? " " : "",
            m->host_path ? m->host_path : "", m->guest_path, m->read_only ? " (read-only)" : "");
    return 0;
}

/* Every mount of the table goes, in both views, children first. */
static void unmount_all(const sc_host_t *host, sc_vm_t *vm, sc_mounts_t *t)
{
    /* js_bridge first: its connection aborted, nothing can wait on it while unmounting */
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].jb) {
            sc_jsbridge_close(t->items[i].jb);
            t->items[i].jb = NULL;
        }
    detach_in_supervisor(vm, t->items, t->n);
    for (size_t i = t->n; i-- > 0;)
        mount_release(host, &t->items[i]);
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

/* Stable: parents (fewer components) before children, otherwise in the request's order. */
static void sort_by_depth(sc_mount_t *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sc_mount_t m = items[i];
        size_t d = depth(m.guest_path), j = i;
        for (; j > 0 && depth(items[j - 1].guest_path) > d; j--)
            items[j] = items[j - 1];
        items[j] = m;
    }
}

sc_mount_plan_t *sc_mounts_prepare(sc_server_t *srv, sc_vm_t *vm,
                                   const sx_configure_vm_request_t *v, char *code, size_t codelen,
                                   char *msg, size_t msglen)
{
    errbuf_t e = {code, msg, codelen, msglen};
    sc_mount_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        fail(&e, "invalid_state", "out of memory");
        return NULL;
    }
    if (!srv->host || !vm->has_fs) {
        /* no VM filesystem, nothing to mount on (and no auto-mount to make) */
        if (v->mounts.len) {
            fail(&e, "unsupported", "mounts: this sidecar runs without VM filesystems");
            goto fail;
        }
        return p;
    }
    for (size_t i = 0; i < v->mounts.len; i++)
        if (plan_add(srv, p, &v->mounts.items[i], &e) != 0)
            goto fail;
    if (v->module_access_cwd.present &&
        add_module_access(srv, p, v->module_access_cwd.value, &e) != 0)
        goto fail;
    sort_by_depth(p->items, p->n);
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->n; j++) {
            if (i == j)
                continue;
            if (j > i && strcmp(p->items[i].guest_path, p->items[j].guest_path) == 0) {
                fail(&e, "kernel_error", "EEXIST: already mounted at %s", p->items[j].guest_path);
                goto fail;
            }
            /* the sidecar must never walk into a file system it serves itself */
            if (p->items[i].kind == MK_JS_BRIDGE &&
                at_or_under(p->items[j].guest_path, p->items[i].guest_path)) {
                fail(&e, "invalid_state",
                     "mount guestPath %s lies under the js_bridge mount at %s; nothing can be "
                     "mounted inside a js_bridge mount",
                     p->items[j].guest_path, p->items[i].guest_path);
                goto fail;
            }
        }
    }
    return p;
fail:
    sc_mounts_plan_free(p);
    return NULL;
}

int sc_mounts_apply(sc_server_t *srv, sc_vm_t *vm, sc_mount_plan_t *plan, char *code,
                    size_t codelen, char *msg, size_t msglen)
{
    errbuf_t e = {code, msg, codelen, msglen};
    sc_mounts_t *t = vm->mounts;
    if (!t && plan->n == 0) {
        plan_release(srv->host, plan);
        return 0;
    }
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) {
            plan_release(srv->host, plan);
            return fail(&e, "invalid_state", "out of memory");
        }
        t->bare = -1;
        vm->mounts = t;
    }
    /* replace, do not merge: the old ones go first, as in the reference */
    unmount_all(srv->host, vm, t);
    int rc = 0;
    t->items = calloc(plan->n ? plan->n : 1, sizeof *t->items);
    if (!t->items)
        rc = fail(&e, "invalid_state", "out of memory");
    for (size_t i = 0; rc == 0 && i < plan->n; i++) {
        if (mount_one(srv, vm, t, &plan->items[i], &e) != 0) {
            rc = -1;
            break;
        }
        t->items[t->n++] = plan->items[i];
        mount_init(&plan->items[i]);
    }
    /* the guests' view, when they have one now (a supervisor that starts later gets them all) */
    if (t->n && vm->exec.state == SC_SUP_RUNNING && sup_alive(vm)) {
        char code2[32], msg2[1024];
        errbuf_t e2 = {code2, msg2, sizeof code2, sizeof msg2};
        size_t k = attach_in_supervisor(srv->host, vm, t->items, 0, t->n, &e2);
        if (k < t->n) {
            /* only what both views have stays */
            for (size_t i = t->n; i-- > k;)
                mount_release(srv->host, &t->items[i]);
            t->n = k;
            if (rc == 0)
                rc = fail(&e, code2, "%s", msg2);
        }
    }
    plan_release(srv->host, plan);
    return rc == 0 ? (int)t->n : -1;
}

/* ---- GuestFilesystemCall ----------------------------------------------------------------- */

/* The mount holding path (normalized): the longest guestPath at or above it; *rel gets the
 * path below it ("/" for its root). NULL for the VM's own tree. */
static sc_mount_t *lookup(const sc_mounts_t *t, const char *path, const char **rel)
{
    sc_mount_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        size_t n = strlen(t->items[i].guest_path);
        if (n > best_len && at_or_under(path, t->items[i].guest_path)) {
            best = &t->items[i];
            best_len = n;
        }
    }
    if (best)
        *rel = path[best_len] ? path + best_len : "/";
    return best;
}

/* The fs permission (reference §8.3) and the errno label of each operation. */
static const struct {
    sc_fs_op_t op;
    const char *label;
} op_perm[SX_GUEST_FILESYSTEM_OPERATION_COUNT] = {
    [SX_GUEST_FILESYSTEM_OPERATION_READ_FILE] = {SC_FS_READ, "open"},
    [SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE] = {SC_FS_WRITE, "open"},
    [SX_GUEST_FILESYSTEM_OPERATION_CREATE_DIR] = {SC_FS_CREATE_DIR, "mkdir"},
    [SX_GUEST_FILESYSTEM_OPERATION_MKDIR] = {SC_FS_CREATE_DIR, "mkdir"},
    [SX_GUEST_FILESYSTEM_OPERATION_EXISTS] = {SC_FS_STAT, "access"},
    [SX_GUEST_FILESYSTEM_OPERATION_STAT] = {SC_FS_STAT, "stat"},
    [SX_GUEST_FILESYSTEM_OPERATION_LSTAT] = {SC_FS_STAT, "lstat"},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_DIR] = {SC_FS_READDIR, "scandir"},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE] = {SC_FS_RM, "unlink"},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_DIR] = {SC_FS_RM, "rmdir"},
    [SX_GUEST_FILESYSTEM_OPERATION_RENAME] = {SC_FS_RENAME, "rename"},
    [SX_GUEST_FILESYSTEM_OPERATION_REALPATH] = {SC_FS_READ, "realpath"},
    [SX_GUEST_FILESYSTEM_OPERATION_SYMLINK] = {SC_FS_SYMLINK, "symlink"},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_LINK] = {SC_FS_READ, "readlink"},
    [SX_GUEST_FILESYSTEM_OPERATION_LINK] = {SC_FS_WRITE, "link"},
    [SX_GUEST_FILESYSTEM_OPERATION_CHMOD] = {SC_FS_WRITE, "chmod"},
    [SX_GUEST_FILESYSTEM_OPERATION_CHOWN] = {SC_FS_WRITE, "chown"},
    [SX_GUEST_FILESYSTEM_OPERATION_UTIMES] = {SC_FS_WRITE, "utime"},
    [SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE] = {SC_FS_WRITE, "truncate"},
    [SX_GUEST_FILESYSTEM_OPERATION_PREAD] = {SC_FS_READ, "read"},
};

/*
 * The fs policy for a call a plugin serves: checked here, above the mount table, on the guest
 * paths as given (the host's file system behind them cannot be resolved here). A denied
 * EXISTS is false, as in the reference; other denials are EACCES. Answers req when denied.
 */
static bool plugin_call_allowed(sc_req_t *req, const sc_vm_t *vm,
                                const sx_guest_filesystem_call_request_t *v, const char *path,
                                const char *dest)
{
    const char *op = sc_fs_op_name(op_perm[v->operation].op), *subject = path;
    char reason[160];
    bool ok = sc_policy_allows(&vm->policy, SC_DOMAIN_FS, op, path, reason, sizeof reason);
    if (ok && dest) {
        subject = dest;
        ok = sc_policy_allows(&vm->policy, SC_DOMAIN_FS, op, dest, reason, sizeof reason);
    }
    if (ok)
        return true;
    if (v->operation == SX_GUEST_FILESYSTEM_OPERATION_EXISTS) {
        sx_response_payload_t p;
        memset(&p, 0, sizeof p);
        p.tag = SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE;
        p.u.guest_filesystem_result_response.operation = v->operation;
        p.u.guest_filesystem_result_response.path = v->path;
        p.u.guest_filesystem_result_response.exists.present = true;
        sc_respond(req, &p);
    } else {
        sc_reject(req, "kernel_error", "EACCES: permission denied, %s '%s': %s",
                  op_perm[v->operation].label, subject, reason);
    }
    return false;
}

bool sc_mounts_fs_call(sc_req_t *req, sc_vm_t *vm, const sx_guest_filesystem_call_request_t *v,
                       bool *read_only)
{
    const sc_mounts_t *t = vm->mounts;
    char path[SC_PATH_MAX + 1], dest[SC_PATH_MAX + 1];
    const char *rel = "/", *drel = "/";
    if (!t || t->n == 0 || (size_t)v->operation >= SX_GUEST_FILESYSTEM_OPERATION_COUNT ||
        sc_path_normalize(v->path.ptr, v->path.len, path) != 0)
        return false; /* the VM's own tree: the root's flag; bad paths are fsops' to refuse */
    bool two =
        (v->operation == SX_GUEST_FILESYSTEM_OPERATION_RENAME ||
         v->operation == SX_GUEST_FILESYSTEM_OPERATION_LINK) &&
        v->destination_path.present &&
        sc_path_normalize(v->destination_path.value.ptr, v->destination_path.value.len, dest) == 0;
    const sc_mount_t *m = lookup(t, path, &rel), *dm = two ? lookup(t, dest, &drel) : NULL;
    if ((m && m->kind == MK_JS_BRIDGE) || (dm && dm->kind == MK_JS_BRIDGE)) {
        if (two && m != dm) {
            sc_reject(req, "kernel_error", "EXDEV: %s across mounts: %s -> %s",
                      op_perm[v->operation].label, path, dest);
            return true;
        }
        if (plugin_call_allowed(req, vm, v, path, two ? dest : NULL))
            sc_jsbridge_fs_call(req, m->jb, rel, v);
        return true;
    }
    *read_only = m ? m->read_only : vm->fs.read_only;
    if (two)
        *read_only = *read_only || (dm ? dm->read_only : vm->fs.read_only);
    return false;
}

/* ---- the rest of the VM's life ----------------------------------------------------------- */

int sc_mounts_bare_root(const sc_vm_t *vm)
{
    sc_mounts_t *t = vm->mounts;
    if (!t || t->n == 0)
        return fcntl(vm->fs.root_fd, F_DUPFD_CLOEXEC, 3);
    if (t->bare < 0)
        /* the root's mount alone (not AT_RECURSIVE), made once: a snapshot reads the overlay,
         * its mount-point directories included, never what is mounted on them (reference §5) */
        t->bare =
            (int)open_tree(vm->fs.root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    return t->bare < 0 ? -1 : fcntl(t->bare, F_DUPFD_CLOEXEC, 3);
}

int sc_mounts_supervisor_running(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen)
{
    sc_mounts_t *t = vm->mounts;
    sc_mounts_supervisor_gone(vm); /* nothing of an earlier supervisor's */
    if (!t || t->n == 0)
        return 0;
    char code[32];
    errbuf_t e = {code, err, sizeof code, errlen};
    if (attach_in_supervisor(srv->host, vm, t->items, 0, t->n, &e) < t->n) {
        detach_in_supervisor(vm, t->items, t->n);
        return -1;
    }
    return 0;
}

void sc_mounts_supervisor_gone(sc_vm_t *vm)
{
    sc_mounts_t *t = vm->mounts;
    for (size_t i = 0; t && i < t->n; i++)
        close_fd(&t->items[i].sup_fd);
}

void sc_mounts_fini(sc_server_t *srv, sc_vm_t *vm)
{
    sc_mounts_t *t = vm->mounts;
    if (!t)
        return;
    unmount_all(srv->host, vm, t);
    close_fd(&t->bare);
    free(t);
    vm->mounts = NULL;
}
