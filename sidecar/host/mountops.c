/*
 * mountops.c - PRIVILEGED: the mount operations of a VM's mount table in the sidecar's view
 * (mountops.h); mounts.c decides what is mounted where, mountns.c does it in the guests' view.
 *
 * Trust model. The host chooses what is mounted and where (mounts.c checks its plugin, config
 * and guestPath before anything here runs); the guest chooses nothing but owns the tree the
 * mounts land in and can race any rename or symlink swap in it. Hence:
 *  - a host directory is opened once, by its absolute path, without following any symlink
 *    (openat2 RESOLVE_NO_SYMLINKS), checked (a directory, not a kernel pseudo file system,
 *    not inside the sidecar's own state), and bound from that descriptor (open_tree): what is
 *    mounted is what was named, and nothing looks the path up again;
 *  - a mount point is reached from the VM root one directory at a time, following no symlink
 *    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), missing ones made with mkdirat on the held
 *    parent, and the mount is moved onto the final descriptor (move_mount): a symlink swapped
 *    in fails the mount instead of redirecting it, and a rename only moves it inside the VM;
 *  - an unmount names the mount by its own descriptor (/proc/self/fd/N), never by a path, and
 *    a directory made for a mount point is removed by its name in the parent held open;
 *  - every mount is nosuid and nodev, and private (nothing propagates to or from the host);
 *    every mount made here is detached until it is moved onto its mount point.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "mountops.h"

__attribute__((format(printf, 3, 4))) static int fail(char *msg, size_t msglen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
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

/* ---- host directories -------------------------------------------------------------------- */

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
 * Safe: the SDK passes realpath'd paths; a symlink anywhere in the path is refused rather
 * than followed, so that what is bound is exactly what was named, and the checks are made on
 * the descriptor that is bound: no kernel pseudo file system, nothing of the sidecar's own
 * state directory (other VMs' roots live there).
 */
int sc_mntop_open_host_dir(const char *state_dir, const char *plugin, const char *canon, char *msg,
                           size_t msglen)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, canon, &how, sizeof how);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP)
            return fail(msg, msglen,
                        "ELOOP: %s hostPath %s goes through a symbolic link; symlinks in hostPath "
                        "are not followed (pass the real path, as realpath(3) gives it)",
                        plugin, canon);
        if (err == ENOENT)
            return fail(msg, msglen, "ENOENT: %s root does not exist: %s", plugin, canon);
        if (err == ENOTDIR)
            return fail(msg, msglen, "ENOTDIR: %s root is not a directory: %s", plugin, canon);
        return fail(msg, msglen, "%s: cannot open the %s root %s: %s", sc_errno_name(err), plugin,
                    canon, strerror(err));
    }
    struct stat st;
    struct statfs sf;
    char real[PATH_MAX], self[64], *state = state_dir ? realpath(state_dir, NULL) : NULL;
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(self, real, sizeof real - 1);
    real[n > 0 ? n : 0] = '\0';
    int rc = 0;
    if (n <= 0)
        rc = fail(msg, msglen, "%s: cannot resolve the %s root %s: %s", sc_errno_name(errno),
                  plugin, canon, strerror(errno));
    else if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = fail(msg, msglen, "ENOTDIR: %s root is not a directory: %s", plugin, canon);
    else if (fstatfs(fd, &sf) != 0 || pseudo_fs((long)sf.f_type))
        rc = fail(msg, msglen,
                  "EINVAL: %s root %s is on a kernel pseudo file system (proc, sysfs, cgroup, "
                  "...), which is never mounted into a VM",
                  plugin, canon);
    else if ((state && at_or_under(real, state)) || (state_dir && at_or_under(canon, state_dir)))
        rc = fail(msg, msglen, "EACCES: %s root %s lies in the sidecar's own state directory",
                  plugin, canon);
    free(state);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- detached mounts --------------------------------------------------------------------- */

int sc_mntop_bind(int src, bool ro)
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

int sc_mntop_memory(const sc_host_t *host, uint64_t size, uint64_t inodes, bool ro)
{
    char size_s[32], inodes_s[32], uid[16];
    snprintf(size_s, sizeof size_s, "%llu", (unsigned long long)size);
    snprintf(inodes_s, sizeof inodes_s, "%llu", (unsigned long long)inodes);
    snprintf(uid, sizeof uid, "%u", host->id_base + 1000u);
    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    bool ok = fsconfig(fs, FSCONFIG_SET_STRING, "size", size_s, 0) == 0 &&
              fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes_s, 0) == 0 &&
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
 * The kernel cannot mount a directory over a symlink, so a module_access mount with symlinked
 * packages is this overlay, and the packages' own mounts land on the skeleton's directories.
 * The layers are named relative to the state directory and as the sidecar's descriptor of
 * node_modules (overlayfs shows its options in the guests' /proc/self/mountinfo: neither names
 * a host path).
 */
int sc_mntop_overlay(const sc_host_t *host, const char *vm_id, unsigned *seq, int src,
                     char *const *skel, size_t nskel, char **layer)
{
    char rel[96], opts[160];
    int state = open(host->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (state < 0)
        return -1;
    snprintf(rel, sizeof rel, "mounts/%s.%u", vm_id, (*seq)++);
    mkdirat(state, "mounts", 0700);
    int rc = mkdirat(state, rel, 0755);
    if (rc == 0 && !(*layer = strdup(rel)))
        rc = -1;
    int dir = rc == 0 ? openat(state, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    for (size_t i = 0; dir >= 0 && i < nskel; i++) {
        char *slash = strchr(skel[i], '/');
        if (slash) {
            *slash = '\0';
            mkdirat(dir, skel[i], 0755);
            *slash = '/';
        }
        if (mkdirat(dir, skel[i], 0755) != 0 && errno != EEXIST) {
            close(dir);
            dir = -1;
        }
    }
    if (dir < 0) {
        close(state);
        return -1;
    }
    close(dir);
    snprintf(opts, sizeof opts, "%s:/proc/self/fd/%d", rel, src);
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

/* Safe: a copy only the sidecar holds, of the one mount fd is on (not AT_RECURSIVE). */
int sc_mntop_clone(int fd)
{
    return (int)open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
}

/* ---- mount points ------------------------------------------------------------------------ */

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
static int writable_root(int root_fd)
{
    int w = sc_mntop_clone(root_fd);
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
static int make_dir(const sc_host_t *host, int root_fd, bool root_ro, int dir, const char *rel,
                    const char *name, uint64_t root_mnt, sc_made_dirs_t *made)
{
    bool on_root = mount_id_of(dir) == root_mnt;
    int made_in = dir, w = -1;
    if (mkdirat(dir, name, 0755) != 0) {
        if (errno != EROFS || !on_root || !root_ro)
            return -1;
        /* the reference mounts on a read-only root too: the directory is made beneath it */
        w = writable_root(root_fd);
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
        sc_made_dir_t *md = realloc(made->items, (made->n + 1) * sizeof *md);
        int pfd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
        char *copy = strdup(name);
        if (md)
            made->items = md;
        if (md && pfd >= 0 && copy)
            made->items[made->n++] = (sc_made_dir_t){pfd, copy};
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

int sc_mntop_mount_point(const sc_host_t *host, int root_fd, bool root_ro, const char *guest_path,
                         sc_made_dirs_t *made, char *msg, size_t msglen)
{
    uint64_t root_mnt = mount_id_of(root_fd);
    int dir = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
    char rel[SC_PATH_MAX + 1] = "";
    size_t rlen = 0;
    const char *p = guest_path + 1;
    while (dir >= 0 && *p) {
        size_t len = strcspn(p, "/");
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) {
            close(dir);
            return fail(msg, msglen, "ENAMETOOLONG: the mount point %s has a name too long",
                        guest_path);
        }
        memcpy(name, p, len);
        name[len] = '\0';
        int next = -1;
        for (int attempt = 0; attempt < 8 && next < 0; attempt++) {
            next = open_dir_below(dir, name);
            if (next >= 0 || errno != ENOENT)
                break;
            if (make_dir(host, root_fd, root_ro, dir, rel, name, root_mnt, made) != 0 &&
                errno != EEXIST)
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
            return fail(msg, msglen, "%s: cannot make the mount point %s: %s", sc_errno_name(err),
                        guest_path, why);
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
        return fail(msg, msglen, "%s: cannot open the VM root: %s", sc_errno_name(errno),
                    strerror(errno));
    return dir;
}

/* Safe: a mount prepared here, moved onto a directory opened without symlinks
 * (sc_mntop_mount_point). */
int sc_mntop_attach(int tree, int target)
{
    return move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/* ---- letting go -------------------------------------------------------------------------- */

void sc_mntop_unmount(int fd)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    /* Safe: the magic link names exactly the mount this descriptor holds; EINVAL: it was
     * already detached (with a parent). */
    if (umount2(self, MNT_DETACH) != 0 && errno != EINVAL)
        sc_warn("cannot unmount a VM mount: %s", strerror(errno));
}

void sc_mntop_made_remove(sc_made_dirs_t *made)
{
    for (size_t i = made->n; i-- > 0;) {
        /* Safe: rmdir of one name in a directory held open; only an empty one goes. */
        unlinkat(made->items[i].parent, made->items[i].name, AT_REMOVEDIR);
        close(made->items[i].parent);
        free(made->items[i].name);
    }
    free(made->items);
    made->items = NULL;
    made->n = 0;
}

/* Safe: the layer is the sidecar's own, named relative to its state directory and opened
 * without following a symlink; only empty directories go. */
void sc_mntop_skeleton_remove(const char *state_dir, const char *layer, char *const *skel,
                              size_t nskel)
{
    if (!layer || !state_dir)
        return;
    int state = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int dir = state >= 0 ? openat(state, layer, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    for (size_t i = nskel; dir >= 0 && i-- > 0;) {
        unlinkat(dir, skel[i], AT_REMOVEDIR);
        char *slash = strchr(skel[i], '/');
        if (slash) {
            *slash = '\0'; /* its @scope, once empty */
            unlinkat(dir, skel[i], AT_REMOVEDIR);
            *slash = '/';
        }
    }
    if (dir >= 0)
        close(dir);
    if (state >= 0) {
        unlinkat(state, layer, AT_REMOVEDIR);
        close(state);
    }
}
