/*
 * fsops_write.c - the mutating GuestFilesystemCall operations, with POSIX semantics: parents
 * must exist (except for a recursive MKDIR, and WRITE_FILE, which makes missing parents as the
 * reference's write_file does), EEXIST whatever the existing entry is, rename(2) type checks.
 * New files are 0644, directories 0755, both owned by the guest user 1000:1000.
 *
 * Trust model: as in fsops.c, every guest path is resolved by openat2 inside the root; the
 * calls below act either on one name inside an already confined parent descriptor (never
 * following it) or on a confined descriptor through its own /proc/self/fd link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "fsops_int.h"

/* Ownership for a descriptor of any type (CHOWN follows, so fd is never a symlink). */
static int owner_set_fd(fsrun_t *r, int fd, uint32_t uid, uint32_t gid)
{
    struct stat st;
    if (r->ctx->host->privileged || (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)))
        return sc_owner_set(r->ctx->host, fd, "", uid, gid) != 0 ? errno : 0;
    /*
     * Recorded ownership names the inode by parent and name: its canonical path, checked to
     * still be the same inode (sc_owner_set itself never follows the name).
     */
    char canon[SC_PATH_MAX + 1];
    int rc = fs_fd_path(r, fd, canon);
    if (rc)
        return rc;
    if (strcmp(canon, "/") == 0)
        return sc_owner_set(r->ctx->host, fd, "", uid, gid) != 0 ? errno : 0;
    int pfd;
    const char *name;
    if ((rc = fs_open_parent(r, canon, &pfd, &name)) != 0)
        return rc;
    rc = sc_owner_set(r->ctx->host, pfd, name, uid, gid) != 0 ? errno : 0;
    close(pfd);
    return rc;
}

int fs_set_new(fsrun_t *r, int fd, int pfd, const char *name, mode_t mode)
{
    /* explicit: the sidecar's umask must not shape guest files */
    if (fchmod(fd, mode) != 0)
        return errno;
    if (r->ctx->host->privileged)
        return sc_owner_set(r->ctx->host, fd, "", FS_GUEST_ID, FS_GUEST_ID) != 0 ? errno : 0;
    return sc_owner_set(r->ctx->host, pfd, name, FS_GUEST_ID, FS_GUEST_ID) != 0 ? errno : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* WRITE_FILE                                                                                   */

/* An existing target: write allowed on its realpath, read guard, regular files only. */
static int write_existing(fsrun_t *r, int opath, const char *cur, const uint8_t *data, size_t len)
{
    char subject[SC_PATH_MAX + 1];
    int rc = fs_fd_path(r, opath, subject);
    if (rc)
        return fs_fail_errno(r, rc);
    if (fs_check(r, SC_FS_WRITE, "write", subject) != 0 || fs_guard(r, cur, true) != 0)
        return -1;
    struct stat st;
    if (fstat(opath, &st) != 0)
        return fs_fail_errno(r, errno);
    if (S_ISDIR(st.st_mode))
        return fs_fail_errno(r, EISDIR);
    if (!S_ISREG(st.st_mode))
        return fs_fail_errno(r, EINVAL); /* FIFOs and devices: never block, never touch */
    int fd = fs_reopen(opath, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return fs_fail_errno(r, -fd);
    rc = sc_write_all(fd, data, len) == 0 ? 0 : errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    return rc ? fs_fail_errno(r, rc) : 0;
}

/*
 * Where a dangling symlink in dir (canonical) with the given target points: the canonical
 * parent of the target plus its last name, resolved physically inside the root.
 */
static int next_hop(fsrun_t *r, const char *dir, const char *target, char *cur)
{
    char raw[SC_PATH_MAX + 1];
    int rc;
    if (target[0] != '/') {
        if ((rc = fs_join(dir, target, raw)) != 0)
            return rc;
    } else if (strlen(target) > SC_PATH_MAX) {
        return ENAMETOOLONG;
    } else {
        memcpy(raw, target, strlen(target) + 1);
    }
    char *slash = strrchr(raw, '/');
    const char *base = slash + 1;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        /* names a directory: it exists (EISDIR) or a part of the way is missing */
        int fd = fs_root_open(r, raw, O_PATH, 0, 0);
        if (fd < 0)
            return -fd;
        close(fd);
        return EISDIR;
    }
    char tdir[SC_PATH_MAX + 1], canon[SC_PATH_MAX + 1];
    size_t dl = slash > raw ? (size_t)(slash - raw) : 1;
    memcpy(tdir, raw, dl);
    tdir[dl] = '\0';
    int dfd = fs_root_open(r, tdir, O_PATH | O_DIRECTORY, 0, 0);
    if (dfd < 0)
        return -dfd;
    rc = fs_fd_path(r, dfd, canon);
    close(dfd);
    return rc ? rc : fs_join(canon, base, cur);
}

static int make_dir(fsrun_t *r, int pfd, const char *name, int *out);

/*
 * Opens the parent directory of path (not "/"), making its missing ancestors (0755,
 * 1000:1000), as the reference's write_file does. The deepest existing ancestor is opened
 * inside the root like any lookup (symlinks followed, confined); each missing name is then made
 * in the directory opened before it and opened again without following anything, so a name a
 * guest swaps for a symlink meanwhile fails the call (ENOENT, as a dangling link on the way
 * does) and never leads elsewhere. 0 with the directory in *pfd (the caller closes it), or an
 * errno; directories made before a failure stay.
 */
static int make_parents(fsrun_t *r, const char *path, int *pfd)
{
    char prefix[SC_PATH_MAX + 1];
    size_t end = (size_t)(strrchr(path, '/') - path), have = end;
    int dfd;
    for (;;) {
        memcpy(prefix, path, have ? have : 1);
        prefix[have ? have : 1] = '\0';
        dfd = fs_root_open(r, prefix, O_PATH | O_DIRECTORY, 0, 0);
        if (dfd >= 0)
            break;
        if (dfd != -ENOENT || have == 0)
            return -dfd;
        while (--have > 0 && path[have] != '/')
            ;
    }
    while (have < end) {
        const char *name = path + have + 1;
        const char *slash = memchr(name, '/', end - have - 1);
        size_t n = slash ? (size_t)(slash - name) : end - have - 1;
        char part[SC_PATH_MAX + 1];
        memcpy(part, name, n);
        part[n] = '\0';
        int next = -1;
        int rc = make_dir(r, dfd, part, &next);
        if (rc == EEXIST) {
            /* made meanwhile, or a dangling symlink: only a real directory will do */
            next = openat(dfd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = next >= 0 ? 0 : errno == ENOTDIR || errno == ELOOP ? ENOENT : errno;
        }
        close(dfd);
        if (rc) {
            if (next >= 0)
                close(next);
            return rc;
        }
        dfd = next;
        have += 1 + n;
    }
    *pfd = dfd;
    return 0;
}

int fs_op_write_file(fsrun_t *r, const uint8_t *data, size_t len)
{
    char cur[SC_PATH_MAX + 1], dir[SC_PATH_MAX + 1], subject[SC_PATH_MAX + 1];
    memcpy(cur, r->path, strlen(r->path) + 1);
    /*
     * A dangling final symlink is followed by hand, one hop at a time, so that the file is made
     * with O_EXCL (we know we created it, and own it) and each hop is permission-checked where
     * it really lands.
     */
    for (int hop = 0; hop <= FS_MAX_HOPS; hop++) {
        int fd = fs_root_open(r, cur, O_PATH, 0, 0);
        if (fd >= 0) {
            int rc = write_existing(r, fd, cur, data, len);
            close(fd);
            return rc;
        }
        if (fd != -ENOENT)
            return fs_fail_errno(r, -fd);
        int pfd;
        const char *name;
        bool made = false;
        int rc = fs_open_parent(r, cur, &pfd, &name);
        if (rc == ENOENT) {
            /* Missing parents are made when the new file may be written: write on its
             * destination form (the deepest existing ancestor's realpath and the names to
             * make) and the read guard, as the reference checks them. */
            if ((rc = fs_dest_form(r, cur, subject)) != 0)
                return fs_fail_errno(r, rc);
            if (fs_check(r, SC_FS_WRITE, "write", subject) != 0 || fs_guard(r, cur, true) != 0)
                return -1;
            rc = make_parents(r, cur, &pfd);
            name = strrchr(cur, '/') + 1;
            made = true;
        }
        if (rc)
            return fs_fail_errno(r, rc);
        rc = fs_fd_path(r, pfd, dir);
        if (rc == 0)
            rc = fs_join(dir, name, subject);
        if (rc) {
            close(pfd);
            return fs_fail_errno(r, rc);
        }
        /* where the file really lands (the guard walked the ancestors that existed before any
         * was made: the new ones are this call's) */
        if (fs_check(r, SC_FS_WRITE, "write", subject) != 0 ||
            (!made && fs_guard(r, cur, true) != 0)) {
            close(pfd);
            return -1;
        }
        fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                    0644);
        if (fd >= 0) {
            rc = fs_set_new(r, fd, pfd, name, 0644);
            if (rc == 0)
                rc = sc_write_all(fd, data, len) == 0 ? 0 : errno;
            if (close(fd) != 0 && rc == 0)
                rc = errno;
            close(pfd);
            return rc ? fs_fail_errno(r, rc) : 0;
        }
        rc = errno;
        if (rc != EEXIST) {
            close(pfd);
            return fs_fail_errno(r, rc);
        }
        /* EEXIST with ENOENT above: a dangling symlink (or a file that just appeared) */
        char target[SC_PATH_MAX + 1];
        ssize_t n = readlinkat(pfd, name, target, sizeof target);
        rc = errno;
        close(pfd);
        if (n < 0 && rc == EINVAL)
            continue; /* not a symlink: appeared meanwhile, take it as existing */
        if (n < 0)
            return fs_fail_errno(r, rc);
        if (n == 0 || (size_t)n >= sizeof target)
            return fs_fail_errno(r, n ? ENAMETOOLONG : ENOENT);
        target[n] = '\0';
        if ((rc = next_hop(r, dir, target, cur)) != 0)
            return fs_fail_errno(r, rc);
    }
    return fs_fail_errno(r, ELOOP);
}

/* ------------------------------------------------------------------------------------------ */
/* CREATE_DIR and MKDIR                                                                         */

/* mkdirat + mode and owner; *out (when not NULL) gets the new directory open. */
static int make_dir(fsrun_t *r, int pfd, const char *name, int *out)
{
    if (mkdirat(pfd, name, 0755) != 0)
        return errno;
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fs_set_new(r, fd, pfd, name, 0755);
    if (out && rc == 0)
        *out = fd;
    else
        close(fd);
    return rc;
}

static int mkdir_recursive(fsrun_t *r)
{
    int dirfd = fs_root_open(r, "/", O_PATH | O_DIRECTORY, 0, 0);
    if (dirfd < 0)
        return fs_fail_errno(r, -dirfd);
    char prefix[SC_PATH_MAX + 1];
    const char *p = r->path;
    size_t plen = 0;
    int rc = 0;
    while (*p == '/')
        p++;
    while (*p && rc == 0) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool last = !end;
        char name[SC_PATH_MAX + 1];
        memcpy(name, p, n);
        name[n] = '\0';
        prefix[plen++] = '/';
        memcpy(prefix + plen, p, n);
        plen += n;
        prefix[plen] = '\0';
        p = end ? end + 1 : p + n;

        int next = -1;
        rc = make_dir(r, dirfd, name, &next);
        if (rc == EEXIST) {
            /* existing: go through it as a directory (symlinks to directories included) */
            next = fs_root_open(r, prefix, O_PATH | O_DIRECTORY, 0, 0);
            rc = next >= 0 ? 0 : -next;
            if (last && rc)
                rc = EEXIST; /* the final name is there, but is no directory */
            else if (rc == ENOENT)
                rc = EEXIST; /* a dangling symlink on the way */
        }
        close(dirfd);
        dirfd = next;
    }
    if (dirfd >= 0)
        close(dirfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

int fs_op_mkdir(fsrun_t *r, bool recursive)
{
    char subject[SC_PATH_MAX + 1];
    int rc = fs_dest_form(r, r->path, subject);
    if (rc)
        return fs_fail_errno(r, rc);
    bool create_dir = r->req->operation == SX_GUEST_FILESYSTEM_OPERATION_CREATE_DIR;
    if (fs_check(r, SC_FS_CREATE_DIR, create_dir ? "createDir" : "mkdir", subject) != 0 ||
        fs_guard(r, r->path, false) != 0)
        return -1;
    if (recursive)
        return mkdir_recursive(r);
    if (strcmp(r->path, "/") == 0)
        return fs_fail_errno(r, EEXIST);
    int pfd;
    const char *name;
    if ((rc = fs_open_parent(r, r->path, &pfd, &name)) != 0)
        return fs_fail_errno(r, rc);
    rc = make_dir(r, pfd, name, NULL);
    close(pfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* REMOVE_FILE, REMOVE_DIR, RENAME                                                              */

/* The dest-form checks of an entry operation on path: op, then the read guard. */
static int check_entry(fsrun_t *r, const char *path, sc_fs_op_t op, const char *label)
{
    char subject[SC_PATH_MAX + 1];
    int rc = fs_dest_form(r, path, subject);
    if (rc)
        return fs_fail_errno(r, rc);
    if (fs_check(r, op, label, subject) != 0)
        return -1;
    return fs_guard(r, path, false);
}

int fs_op_remove(fsrun_t *r, bool dir)
{
    if (check_entry(r, r->path, SC_FS_RM, "rm") != 0)
        return -1;
    if (strcmp(r->path, "/") == 0)
        return fs_fail_errno(r, dir ? EPERM : EISDIR);
    int pfd;
    const char *name;
    int rc = fs_open_parent(r, r->path, &pfd, &name);
    if (rc)
        return fs_fail_errno(r, rc);
    /* unlink(2) of a directory is EISDIR on Linux; rmdir(2) of a non-directory ENOTDIR */
    rc = unlinkat(pfd, name, dir ? AT_REMOVEDIR : 0) != 0 ? errno : 0;
    close(pfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

int fs_op_rename(fsrun_t *r)
{
    if (check_entry(r, r->path, SC_FS_RENAME, "rename") != 0 ||
        check_entry(r, r->dest, SC_FS_RENAME, "rename") != 0)
        return -1;
    if (strcmp(r->path, "/") == 0 || strcmp(r->dest, "/") == 0)
        return fs_fail_errno(r, EPERM);
    int spfd, dpfd;
    const char *sname, *dname;
    int rc = fs_open_parent(r, r->path, &spfd, &sname);
    if (rc)
        return fs_fail_errno(r, rc);
    if ((rc = fs_open_parent(r, r->dest, &dpfd, &dname)) != 0) {
        close(spfd);
        return fs_fail_errno(r, rc);
    }
    /* rename(2) itself: EISDIR, ENOTDIR, ENOTEMPTY, EINVAL into a descendant, EXDEV */
    rc = renameat(spfd, sname, dpfd, dname) != 0 ? errno : 0;
    close(spfd);
    close(dpfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* SYMLINK and LINK                                                                             */

int fs_op_symlink(fsrun_t *r, const char *target)
{
    if (check_entry(r, r->path, SC_FS_SYMLINK, "symlink") != 0)
        return -1;
    if (strcmp(r->path, "/") == 0)
        return fs_fail_errno(r, EEXIST);
    int pfd;
    const char *name;
    int rc = fs_open_parent(r, r->path, &pfd, &name);
    if (rc)
        return fs_fail_errno(r, rc);
    /* the target is stored verbatim; it is only ever resolved inside the root */
    rc = symlinkat(target, pfd, name) != 0 ? errno : 0;
    if (rc == 0 && sc_owner_set(r->ctx->host, pfd, name, FS_GUEST_ID, FS_GUEST_ID) != 0)
        rc = errno;
    close(pfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* Opens path following symlinks and checks write on its realpath, then the read guard. */
static int open_for_write(fsrun_t *r, const char *label, int *fdp)
{
    char subject[SC_PATH_MAX + 1];
    int fd = fs_root_open(r, r->path, O_PATH, 0, 0);
    if (fd < 0)
        return fs_fail_errno(r, -fd);
    int rc = fs_fd_path(r, fd, subject);
    if (rc) {
        close(fd);
        return fs_fail_errno(r, rc);
    }
    if (fs_check(r, SC_FS_WRITE, label, subject) != 0 || fs_guard(r, r->path, true) != 0) {
        close(fd);
        return -1;
    }
    *fdp = fd;
    return 0;
}

int fs_op_link(fsrun_t *r)
{
    int sfd;
    if (open_for_write(r, "link", &sfd) != 0)
        return -1;
    char subject[SC_PATH_MAX + 1];
    int rc = fs_dest_form(r, r->dest, subject);
    if (rc) {
        close(sfd);
        return fs_fail_errno(r, rc);
    }
    if (fs_check(r, SC_FS_WRITE, "link", subject) != 0 || fs_guard(r, r->dest, false) != 0) {
        close(sfd);
        return -1;
    }
    struct stat st;
    rc = fstat(sfd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EPERM;
    if (rc == 0 && strcmp(r->dest, "/") == 0)
        rc = EEXIST;
    int dpfd = -1;
    const char *dname = NULL;
    if (rc == 0)
        rc = fs_open_parent(r, r->dest, &dpfd, &dname);
    if (rc == 0) {
        /*
         * Safe: the source is the confined descriptor (its magic link, followed on purpose), so
         * no lookup of a guest name can pick a file outside the root; the new name is one
         * component in a confined parent.
         */
        char src[32];
        fs_proc_path(sfd, src);
        rc = linkat(AT_FDCWD, src, dpfd, dname, AT_SYMLINK_FOLLOW) != 0 ? errno : 0;
        close(dpfd);
    }
    close(sfd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* CHMOD, CHOWN, UTIMES, TRUNCATE: on the followed target's descriptor                         */

int fs_op_chmod(fsrun_t *r, uint32_t mode)
{
    int fd;
    if (open_for_write(r, "chmod", &fd) != 0)
        return -1;
    char p[32];
    fs_proc_path(fd, p);
    /* the permission bits only: a file's type cannot change */
    int rc = fchmodat(AT_FDCWD, p, (mode_t)(mode & 07777), 0) != 0 ? errno : 0;
    close(fd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

int fs_op_chown(fsrun_t *r, uint32_t uid, uint32_t gid)
{
    if (uid >= 65536 || gid >= 65536)
        return fs_fail_errno(r, EINVAL); /* only guest ids 0..65535 are mapped */
    int fd;
    if (open_for_write(r, "chown", &fd) != 0)
        return -1;
    int rc = owner_set_fd(r, fd, uid, gid);
    close(fd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

int fs_op_utimes(fsrun_t *r, uint64_t atime_ms, uint64_t mtime_ms)
{
    int fd;
    if (open_for_write(r, "utimes", &fd) != 0)
        return -1;
    struct timespec ts[2] = {
        {(time_t)(atime_ms / 1000), (long)(atime_ms % 1000) * 1000000L},
        {(time_t)(mtime_ms / 1000), (long)(mtime_ms % 1000) * 1000000L},
    };
    char p[32];
    fs_proc_path(fd, p);
    int rc = utimensat(AT_FDCWD, p, ts, 0) != 0 ? errno : 0;
    close(fd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

int fs_op_truncate(fsrun_t *r, uint64_t len)
{
    int fd;
    if (open_for_write(r, "truncate", &fd) != 0)
        return -1;
    struct stat st;
    int rc = fstat(fd, &st) != 0         ? errno
             : S_ISDIR(st.st_mode)       ? EISDIR
             : !S_ISREG(st.st_mode)      ? EINVAL
             : len > (uint64_t)INT64_MAX ? EINVAL
                                         : 0;
    if (rc == 0) {
        int wfd = fs_reopen(fd, O_WRONLY);
        rc = wfd < 0 ? -wfd : ftruncate(wfd, (off_t)len) != 0 ? errno : 0;
        if (wfd >= 0)
            close(wfd);
    }
    close(fd);
    return rc ? fs_fail_errno(r, rc) : 0;
}
