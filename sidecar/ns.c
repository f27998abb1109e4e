/*
 * ns.c - PRIVILEGED: the sidecar's private mount namespace and state directory, and the
 * mapping between guest-visible owners and the host ids that carry them.
 *
 * Trust model: this runs once at startup, before any request is read, with fixed arguments
 * (the configured state directory or a fresh mkdtemp name). Nothing here is driven by a
 * request. The namespace keeps every mount the sidecar makes (state tmpfs, VM overlays)
 * invisible to the host and makes them vanish with the process; propagation is set private
 * first, so nothing mounted later can leak back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdio.h"
#include "fs.h"
#include "log.h"

/* Guest ids 0..65535 are carried by host ids ID_BASE..ID_BASE+65535 (privileged mode). */
#define ID_BASE 0x3c000000u
#define ID_COUNT 65536u
#define OWNER_XATTR "user.secure_exec.owner"

/* Not root: become root of a new user namespace that maps only our own ids. */
static int enter_user_namespace(char *err, size_t errlen)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    char map[64];
    /* Safe: a user namespace grants capabilities over resources it owns, nothing on the host. */
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        snprintf(err, errlen, "cannot create a user and mount namespace: %s (run as root, or "
                              "allow unprivileged user namespaces)", strerror(errno));
        return -1;
    }
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (sc_write_text("/proc/self/setgroups", "deny") != 0 ||
        sc_write_text("/proc/self/uid_map", map) != 0) {
        snprintf(err, errlen, "cannot map ids in the user namespace: %s", strerror(errno));
        return -1;
    }
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    if (sc_write_text("/proc/self/gid_map", map) != 0) {
        snprintf(err, errlen, "cannot map ids in the user namespace: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sc_host_init(sc_host_t *host, const char *state_dir, char *err, size_t errlen)
{
    memset(host, 0, sizeof *host);
    if (geteuid() == 0) {
        /* Safe: a new mount namespace only affects this process and its children. */
        if (unshare(CLONE_NEWNS) != 0) {
            snprintf(err, errlen, "cannot create a mount namespace: %s", strerror(errno));
            return -1;
        }
        host->privileged = true;
        host->id_base = ID_BASE;
        host->id_count = ID_COUNT;
    } else {
        if (enter_user_namespace(err, errlen) != 0)
            return -1;
        host->id_base = 0;
        host->id_count = 1;
    }
    /* Safe: only our namespace's view changes; nothing mounted below can propagate out. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "cannot make mounts private: %s", strerror(errno));
        return -1;
    }

    char tmpl[SC_PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/secure-exec-sidecar.XXXXXX", state_dir ? state_dir : "/tmp");
    if (!mkdtemp(tmpl)) {
        snprintf(err, errlen, "cannot create a state directory in %s: %s",
                 state_dir ? state_dir : "/tmp", strerror(errno));
        return -1;
    }
    host->state_dir = strdup(tmpl);
    /*
     * Safe: a tmpfs on a directory we just created, in our private namespace; mode 0700 keeps
     * other host users out even through /proc/<pid>/root.
     */
    if (mount("secure-exec-state", host->state_dir, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0700") != 0) {
        snprintf(err, errlen, "cannot mount the state tmpfs on %s: %s", host->state_dir,
                 strerror(errno));
        rmdir(host->state_dir);
        free(host->state_dir);
        host->state_dir = NULL;
        return -1;
    }
    sc_info("state in %s (%s ownership)", host->state_dir,
            host->privileged ? "real" : "recorded");
    return 0;
}

void sc_host_fini(sc_host_t *host)
{
    if (!host->state_dir)
        return;
    /* Lazy: a VM overlay still mounted below must not keep the tmpfs (and its memory) alive. */
    umount2(host->state_dir, MNT_DETACH);
    rmdir(host->state_dir);
    free(host->state_dir);
    host->state_dir = NULL;
}

void sc_owner_get(const sc_host_t *host, int fd, const struct stat *st, uint32_t *uid,
                  uint32_t *gid)
{
    if (host->privileged) {
        uint32_t u = (uint32_t)st->st_uid, g = (uint32_t)st->st_gid;
        /* Host ids outside the range (e.g. the sidecar's own) show as nobody. */
        *uid = u - host->id_base < host->id_count ? u - host->id_base : 65534;
        *gid = g - host->id_base < host->id_count ? g - host->id_base : 65534;
        return;
    }
    char path[64], val[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = S_ISLNK(st->st_mode) ? -1 : getxattr(path, OWNER_XATTR, val, sizeof val - 1);
    unsigned long u = 1000, g = 1000;
    if (n > 0) {
        val[n] = '\0';
        if (sscanf(val, "%lu:%lu", &u, &g) != 2)
            u = g = 1000;
    }
    *uid = (uint32_t)u;
    *gid = (uint32_t)g;
}

int sc_owner_set(const sc_host_t *host, int dirfd, const char *name, uint32_t uid, uint32_t gid)
{
    if (host->privileged) {
        if (uid >= host->id_count || gid >= host->id_count) {
            errno = EINVAL;
            return -1;
        }
        return fchownat(dirfd, name, host->id_base + uid, host->id_base + gid,
                        AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH));
    }
    /* Without privilege the owner is recorded beside the inode (not on symlinks). An empty
     * name means dirfd itself, which may be any file, not only a directory. */
    int fd = name[0] ? openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)
                     : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct stat st;
    char path[64], val[64];
    int rc = fstat(fd, &st);
    if (rc == 0 && !S_ISLNK(st.st_mode)) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        snprintf(val, sizeof val, "%u:%u", uid, gid);
        rc = setxattr(path, OWNER_XATTR, val, strlen(val), 0);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int sc_path_normalize(const char *in, size_t len, char *out)
{
    size_t n = 1;
    out[0] = '/';
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0 || c < 0x20 || c == 0x7f)
            return EINVAL;
        if (c == '/') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && in[j] != '/') {
            unsigned char d = (unsigned char)in[j];
            if (d == 0 || d < 0x20 || d == 0x7f)
                return EINVAL;
            j++;
        }
        size_t seg = j - i;
        if (seg == 1 && in[i] == '.') {
            /* nothing */
        } else if (seg == 2 && in[i] == '.' && in[i + 1] == '.') {
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--; /* the slash before the popped segment */
        } else {
            if (n + (n > 1) + seg > SC_PATH_MAX)
                return ENAMETOOLONG;
            if (n > 1)
                out[n++] = '/';
            memcpy(out + n, in + i, seg);
            n += seg;
        }
        i = j;
    }
    out[n] = '\0';
    return 0;
}
