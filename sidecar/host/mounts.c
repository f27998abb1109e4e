/*
 * mounts.c - a VM's mount table, the mounts of ConfigureVm (mounts.h).
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
 * the tree the mounts land in. This file checks what the host asks for (plugin, config,
 * guestPath, the host directories' names) and keeps the table; it makes no privileged call of
 * its own: opening a host directory, preparing a mount, making a mount point, mounting and
 * unmounting are mountops.c's (the sidecar's view) and mountns.c's (the guests'), each with
 * why it is safe. Mount points made inside a host directory are removed again at unmount;
 * those made in the VM's own root overlay stay, as in the reference (they are part of its
 * snapshots).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsbridge.h"
#include "log.h"
#include "mountops.h"
#include "mounts.h"
#include "sidecar.h"

#define MODULES_GUEST_PATH "/root/node_modules"
#define SHOWN 200 /* bytes of a host-given string quoted in a message */

typedef enum mount_kind { MK_HOST_DIR, MK_MODULE_ACCESS, MK_MEMORY, MK_JS_BRIDGE } mount_kind_t;

static const char *const kind_names[] = {"host_dir", "module_access", "memory", "js_bridge"};

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
    /* the directories made for its mount point outside the VM's own tree */
    sc_made_dirs_t made;
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

/* A failure of mountops.c, its message already in e: the rejection's code. */
static int op_failed(errbuf_t *e, const char *code)
{
    snprintf(e->code, e->codelen, "%s", code);
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

/*
 * Opens the host directory a host_dir or module_access mount binds: hostPath must be
 * absolute; it is normalized lexically and opened without following any symlink, a directory,
 * on a real file system, outside the sidecar's own state directory (mountops.c). The fd
 * (O_PATH), or -1 with a plugin_error.
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
    int fd = sc_mntop_open_host_dir(host->state_dir, plugin, canon, e->msg, e->msglen);
    return fd < 0 ? op_failed(e, "plugin_error") : fd;
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

/* Everything of m goes: the plugin, its mounts in the sidecar's view (the supervisor's must
 * already be detached), the directories made for it outside the VM's own tree. */
static void mount_release(const sc_host_t *host, sc_mount_t *m)
{
    if (m->jb)
        sc_jsbridge_close(m->jb);
    m->jb = NULL;
    close_fd(&m->sup_fd);
    if (m->fd >= 0)
        sc_mntop_unmount(m->fd);
    close_fd(&m->fd);
    sc_mntop_made_remove(&m->made);
    sc_mntop_skeleton_remove(host ? host->state_dir : NULL, m->skel_dir, m->skel, m->nskel);
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

static bool sup_alive(const sc_vm_t *vm)
{
    return vm->exec.sup_pid > 0 && vm->exec.state != SC_SUP_DOWN;
}

/* Detaches every mount of items[0..n) attached in the supervisor's view, children first. */
static void detach_in_supervisor(const sc_vm_t *vm, sc_mount_t *items, size_t n)
{
    sc_mntns_op_t *ops = calloc(n ? n : 1, sizeof *ops);
    size_t k = 0;
    for (size_t i = n; ops && i-- > 0;)
        if (items[i].sup_fd >= 0)
            sc_mntns_detach_op(&ops[k++], items[i].sup_fd);
    int err = 0;
    if (k && sup_alive(vm) && sc_mntns_run(vm->exec.sup_pid, ops, k, true, &err) < k)
        sc_warn("%s: cannot unmount a mount in the guests' view: %s", vm->id, strerror(err));
    free(ops);
    for (size_t i = 0; i < n; i++)
        close_fd(&items[i].sup_fd);
}

/* Opens m's mount point in the sidecar's view, making what is missing (mountops.c). The fd
 * (O_PATH), or -1 with a kernel_error. */
static int open_mount_point(const sc_host_t *host, const sc_vm_t *vm, sc_mount_t *m, errbuf_t *e)
{
    int fd = sc_mntop_mount_point(host, vm->fs.root_fd, vm->fs.read_only, m->guest_path, &m->made,
                                  e->msg, e->msglen);
    return fd < 0 ? op_failed(e, "kernel_error") : fd;
}

/*
 * Attaches items[from..n) in the supervisor's view, in order. Returns the index of the first
 * that could not be (n when all were), with the reason in e.
 */
static size_t attach_in_supervisor(const sc_host_t *host, sc_vm_t *vm, sc_mount_t *items,
                                   size_t from, size_t n, errbuf_t *e)
{
    sc_mntns_op_t *ops = calloc(n - from + 1, sizeof *ops);
    if (!ops) {
        fail(e, "kernel_error", "ENOMEM: out of memory");
        return from;
    }
    size_t k = 0, failed = n;
    char why[512];
    for (size_t i = from; i < n; i++, k++) {
        sc_mount_t *m = &items[i];
        int fd;
        if (m->kind == MK_JS_BRIDGE) {
            /* its mount point is a plain directory in the sidecar's view: made again if a
             * guest of an earlier supervisor removed it */
            int t = open_mount_point(host, vm, m, e);
            if (t < 0) {
                failed = i;
                break;
            }
            close(t);
            fd = sc_jsbridge_mount_fd(m->jb, why, sizeof why);
            if (fd < 0) {
                fail(e, "plugin_error", "%s", why);
                failed = i;
                break;
            }
        } else {
            fd = sc_mntop_clone(m->fd);
            if (fd < 0) {
                fail(e, "kernel_error", "%s: cannot mount %s in the guests' view: %s",
                     sc_errno_name(errno), m->guest_path, strerror(errno));
                failed = i;
                break;
            }
        }
        sc_mntns_attach_op(&ops[k], fd, m->guest_path + 1);
    }
    int err = 0;
    size_t done = k ? sc_mntns_run(vm->exec.sup_pid, ops, k, false, &err) : 0;
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

/*
 * Mounts m in the sidecar's view (a js_bridge: its plugin opened and its mount point made). A
 * memory mount is as large as the VM's disk (maxFilesystemBytes, maxInodeCount), its root
 * owned by the guest user (reference: 1000:1000); a module_access mount with symlinked
 * packages is an overlay with a directory over each of them, where their own mounts land.
 */
static int mount_one(sc_server_t *srv, sc_vm_t *vm, sc_mounts_t *t, sc_mount_t *m, errbuf_t *e)
{
    const sc_resource_limits_t *r = &vm->config.resources;
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
        tree = sc_mntop_bind(m->src, m->read_only);
        break;
    case MK_MODULE_ACCESS:
        tree = m->nskel ? sc_mntop_overlay(srv->host, vm->id, &t->seq, m->src, m->skel, m->nskel,
                                           &m->skel_dir)
                        : sc_mntop_bind(m->src, true);
        break;
    case MK_MEMORY:
        tree = sc_mntop_memory(srv->host,
                               r->max_filesystem_bytes ? r->max_filesystem_bytes : 64u << 20,
                               r->max_inode_count ? r->max_inode_count : 16384, m->read_only);
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
    if (tree >= 0 && sc_mntop_attach(tree, target) != 0) {
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
        t->bare = sc_mntop_clone(vm->fs.root_fd);
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
