/*
 * ns.c - PRIVILEGED: the sidecar's private mount namespace and state directory, and the
 * mapping between guest-visible owners and the host ids that carry them.
 *
 * Trust model: this runs once at startup, before any request is read, with fixed arguments
 * (the configured state directory or a fresh mkdtemp name). Nothing here is driven by a
 * request. The namespace keeps every mount the sidecar makes (state tmpfs, VM overlays)
 * invisible to the host and makes them vanish with the process; propagation is set private
 * first, so nothing mounted later can leak back.
 *
 * The one thing the namespace cannot take along is the directory the state tmpfs is mounted
 * on: it is made on the host, "secure-exec-sidecar.<pid>.XXXXXX" in the state parent (/tmp
 * or stateDir). The sidecar removes it on its way out; a janitor process, outside the
 * namespace, removes it when the sidecar dies without a way out (SIGKILL); and a sidecar that
 * starts removes the empty ones whose sidecar is gone (a janitor killed too, or a crash of the
 * whole machine with a persistent state parent).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
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

/* ---- the state directory on the host ---- */

#define STATE_PREFIX "secure-exec-sidecar."
#define STATE_SUFFIX_LEN 6 /* mkdtemp's XXXXXX */
#define JANITOR_TRIES 200  /* × 10 ms of EBUSY at most */

/*
 * Held, never closed, for the sidecar's whole life: the state directory opened on the host
 * with an exclusive flock (what tells a starting sidecar that its owner is alive, in whatever
 * pid namespace it runs), and the write end of the janitor's pipe. Their closing when the
 * process ends, however it ends, is what the janitor waits for.
 */
static int state_lock_fd = -1;
static int janitor_pipe_fd = -1;

/* The pid in "secure-exec-sidecar.<pid>.XXXXXX", or 0 for any other name (the old style
 * "secure-exec-sidecar.XXXXXX" included). */
static pid_t state_name_pid(const char *name)
{
    size_t plen = sizeof STATE_PREFIX - 1;
    if (strncmp(name, STATE_PREFIX, plen) != 0)
        return 0;
    const char *p = name + plen;
    long pid = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits == 0 && *p == '0')
            return 0;
        pid = pid * 10 + (*p - '0');
        if (pid > INT_MAX / 10)
            return 0;
    }
    if (digits == 0 || *p != '.' || strlen(p + 1) != STATE_SUFFIX_LEN)
        return 0;
    for (const char *q = p + 1; *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
            return 0;
    return (pid_t)pid;
}

/*
 * Removes the state directories of sidecars that are gone, in the state parent.
 *
 * Only names that carry a pid, "secure-exec-sidecar.<pid>.XXXXXX", never the old style
 * "secure-exec-sidecar.XXXXXX": for a live sidecar that directory is the mount point of its
 * state tmpfs in its private namespace, and since Linux 3.18 rmdir of a directory that is a
 * mount point only in another mount namespace succeeds and detaches that mount there. Seen
 * from here it is an empty directory like any leftover, so removing an old-style name could
 * pull the state out from under a live sidecar of an older version; with a pid the owner can
 * be asked. It must be gone (kill(pid, 0) says ESRCH; a pid that was reused only delays the
 * removal) and must not hold the directory's lock (a sidecar in another pid namespace sharing
 * the parent: its pid means nothing here).
 *
 * Safe: rmdir only (an empty directory, never a recursive delete), of names lstat'ed as
 * directories directly in the parent opened here (unlinkat, no symlink followed).
 */
static void reap_stale_state_dirs(const char *parent)
{
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        pid_t pid = state_name_pid(de->d_name);
        struct stat st;
        if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        int lock = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (lock < 0)
            continue;
        if (flock(lock, LOCK_EX | LOCK_NB) == 0) {
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
                sc_info("removed %s/%s, left behind by sidecar %d", parent, de->d_name, (int)pid);
            else
                sc_debug("leaving %s/%s: %s", parent, de->d_name, strerror(errno));
        }
        close(lock);
    }
    closedir(d);
}

/*
 * The janitor: waits for the sidecar to end, then removes its state directory, name in the
 * parent pfd, if it is still the directory dfd (the one the sidecar made), and exits.
 * sidecar_fd: a pidfd of the sidecar (-1 on a kernel without them), readable when it has
 * exited; pipe_fd: the read end of a pipe whose only write end the sidecar holds.
 */
static void janitor_main(int pipe_fd, int sidecar_fd, int pfd, int dfd, const char *name)
    __attribute__((noreturn));
static void janitor_main(int pipe_fd, int sidecar_fd, int pfd, int dfd, const char *name)
{
    prctl(PR_SET_NAME, "sidecar-janitor");
    /* A ^C or a hangup at the sidecar's terminal goes to the whole process group: the janitor
     * must outlive the sidecar by its cleanup, so it ignores them. Anything else (SIGTERM,
     * SIGKILL) ends it as usual, and it ends by itself right after the sidecar. */
    static const int tty_signals[] = {SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof tty_signals / sizeof tty_signals[0]; i++)
        signal(tty_signals[i], SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Nothing of the sidecar's stays open: above all not its stdout, whose end the host
     * waits for. */
    int keep[4] = {pipe_fd, sidecar_fd, pfd, dfd};
    sc_close_all_but(keep, 4, 0);

    struct pollfd pf[2] = {{pipe_fd, POLLIN, 0}, {sidecar_fd, POLLIN, 0}};
    nfds_t npf = sidecar_fd >= 0 ? 2 : 1;
    for (;;) {
        if (poll(pf, npf, -1) < 0) {
            if (errno == EINTR || errno == ENOMEM)
                continue;
            _exit(1); /* cannot tell whether the sidecar is gone: leave it to the next one */
        }
        if (npf == 2 && (pf[1].revents & (POLLIN | POLLHUP)))
            break; /* the sidecar has exited */
        if (npf == 2 && pf[1].revents)
            npf = 1; /* the pidfd is of no use; the pipe alone tells */
        if (pf[0].revents) {
            char c;
            ssize_t k = read(pipe_fd, &c, 1);
            if (k == 0)
                break; /* every write end is closed: the sidecar's was its only one */
            if (k < 0 && errno != EINTR && errno != EAGAIN)
                _exit(1);
        }
    }
    /* The sidecar removed the directory on a normal exit (ENOENT); after a SIGKILL its
     * namespace may still be going away (EBUSY) for a moment. */
    struct stat own, now;
    if (fstat(dfd, &own) != 0)
        _exit(1);
    for (int i = 0; i < JANITOR_TRIES; i++) {
        if (fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != own.st_dev ||
            now.st_ino != own.st_ino)
            break; /* gone, or no longer the sidecar's */
        if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno != EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    _exit(0);
}

/*
 * Starts the janitor of the state directory name (just made in parent) and takes the
 * directory's lock. The janitor must stay in the host's mount namespace, so this runs before
 * the sidecar leaves it.
 *
 * The janitor is a grandchild, not a child: an intermediate child starts it and exits at
 * once (reaped here), so it is never among the sidecar's children: on_sigchld never sees it
 * (an unknown pid would be ignored anyway), the sidecar never waits for it, and the sidecar's
 * children are its VMs' supervisors only. As it has no parent to watch with PR_SET_PDEATHSIG,
 * it watches the sidecar itself: a pidfd opened here, before the fork (so there is no window
 * in which the sidecar could die unseen), and the pipe whose write end only the sidecar
 * holds (O_CLOEXEC; the supervisors close everything at start). It ends after the sidecar,
 * so init (or the nearest subreaper) reaps it, as any orphan.
 *
 * Safe: the janitor runs as root for as long as the sidecar does, but it reads nothing from
 * anyone, holds only its four descriptors and does one thing: rmdir (never a recursive
 * delete) of the one name the sidecar made, in the parent directory opened here, and only if
 * that name is still the directory made here (same device and inode) and empty on the host
 * side; after a normal exit the sidecar has removed it already and the janitor finds nothing.
 */
static void start_janitor(const char *parent, const char *name, bool privileged)
{
    int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int dfd = pfd >= 0 ? openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (dfd < 0) {
        sc_warn("cannot open the state directory %s/%s: %s", parent, name, strerror(errno));
        if (pfd >= 0)
            close(pfd);
        return;
    }
    if (flock(dfd, LOCK_EX | LOCK_NB) != 0)
        sc_warn("cannot lock the state directory %s/%s: %s", parent, name, strerror(errno));
    state_lock_fd = dfd;
    int sidecar_fd = (int)syscall(SYS_pidfd_open, getpid(), 0u);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        sc_warn("cannot start the state directory's janitor: %s", strerror(errno));
        goto out;
    }
    pid_t mid = fork();
    if (mid == 0) {
        close(p[1]);
        if (privileged)
            /* Safe: moves only this process, into the sidecar's own cgroup's leaf: left
             * beside the VMs' cgroups it would keep them from getting controllers (v2's
             * no-internal-tasks rule); any failure leaves it where it is. */
            sc_cgroup_join_leaf();
        pid_t j = fork();
        if (j == 0)
            janitor_main(p[0], sidecar_fd, pfd, dfd, name);
        _exit(j < 0 ? 1 : 0);
    }
    close(p[0]);
    if (mid < 0) {
        sc_warn("cannot start the state directory's janitor: %s", strerror(errno));
        close(p[1]);
        goto out;
    }
    janitor_pipe_fd = p[1];
    int status = 0;
    while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        sc_warn("cannot start the state directory's janitor");
out:
    if (sidecar_fd >= 0)
        close(sidecar_fd);
    close(pfd);
}

int sc_host_init(sc_host_t *host, const char *state_dir, char *err, size_t errlen)
{
    memset(host, 0, sizeof *host);
    const char *parent = state_dir ? state_dir : "/tmp";
    bool privileged = geteuid() == 0;

    /* On the host, before leaving its mount namespace: the leftovers of sidecars gone, our
     * own directory, and its janitor. */
    reap_stale_state_dirs(parent);
    char tmpl[SC_PATH_MAX];
    if (snprintf(tmpl, sizeof tmpl, "%s/" STATE_PREFIX "%d.XXXXXX", parent, (int)getpid()) >=
        (int)sizeof tmpl) {
        snprintf(err, errlen, "the state directory %s is too long", parent);
        return -1;
    }
    if (!mkdtemp(tmpl)) {
        snprintf(err, errlen, "cannot create a state directory in %s: %s", parent,
                 strerror(errno));
        return -1;
    }
    host->state_dir = strdup(tmpl);
    if (!host->state_dir) {
        snprintf(err, errlen, "out of memory");
        rmdir(tmpl);
        return -1;
    }
    start_janitor(parent, strrchr(tmpl, '/') + 1, privileged);

    if (privileged) {
        /* Safe: a new mount namespace only affects this process and its children. */
        if (unshare(CLONE_NEWNS) != 0) {
            snprintf(err, errlen, "cannot create a mount namespace: %s", strerror(errno));
            goto fail;
        }
        host->privileged = true;
        host->id_base = ID_BASE;
        host->id_count = ID_COUNT;
    } else {
        if (enter_user_namespace(err, errlen) != 0)
            goto fail;
        host->id_base = 0;
        host->id_count = 1;
    }
    /* Safe: only our namespace's view changes; nothing mounted below can propagate out. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "cannot make mounts private: %s", strerror(errno));
        goto fail;
    }
    /*
     * Safe: a tmpfs on a directory we just created, in our private namespace; mode 0700 keeps
     * other host users out even through /proc/<pid>/root.
     */
    if (mount("secure-exec-state", host->state_dir, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0700") != 0) {
        snprintf(err, errlen, "cannot mount the state tmpfs on %s: %s", host->state_dir,
                 strerror(errno));
        goto fail;
    }
    sc_info("state in %s (%s ownership)", host->state_dir,
            host->privileged ? "real" : "recorded");
    return 0;
fail:
    rmdir(host->state_dir);
    free(host->state_dir);
    host->state_dir = NULL;
    return -1;
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
