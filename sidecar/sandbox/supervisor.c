/*
 * supervisor.c - PRIVILEGED: PID 1 of a VM. Runs in a child the sidecar cloned with new mount,
 * PID, network, IPC and UTS namespaces; builds the guests' view (the VM's overlay as "/", host
 * runtime directories read-only, a minimal /dev, the VM's /proc), then moves into a user
 * namespace of its own and spawns guest processes on the sidecar's request: each one a new
 * session, uid/gid 1000 with no capability but CAP_DAC_OVERRIDE and CAP_FOWNER in the VM's
 * user namespace (its own files are the guest's whatever their owner; no host file is, see
 * sandbox.c), sandboxed (sandbox.c) right before execve.
 *
 * Trust model: the supervisor takes orders only from the sidecar, over a socketpair nobody
 * else holds (guests never inherit it: every descriptor is closed before execve). Every path
 * it mounts comes from the sidecar's own configuration (the VM root it built, fixed host
 * directories), never from a guest. Mount work happens while the supervisor is still real
 * root, in mount and PID namespaces owned by the initial user namespace, so no guest can
 * undo any of it: guests live in the later user namespace, where a mount needs CAP_SYS_ADMIN
 * over the mount namespace's owner, which they cannot have (their two file capabilities are
 * held in the VM's namespace only, and seccomp refuses mount calls anyway). If the sidecar dies,
 * PR_SET_PDEATHSIG kills the supervisor, and the death of a PID namespace's init kills every
 * process in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cbproto.h"
#include "fdio.h"
#include "supervisor.h"

#define GUEST_UID 1000
#define GUEST_GID 1000
#define MAX_TRACKED 4096

const char *const sv_runtime_binds[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", NULL};

static const char *const devices[] = {"null", "zero", "full", "random", "urandom", NULL};

static int ctl = -1;

static void send_msg(uint32_t type, uint32_t token, int32_t pid, int32_t arg, uint64_t cpu_ms,
                     const char *text)
{
    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.token = token;
    m.pid = pid;
    m.arg = arg;
    m.cpu_ms = cpu_ms;
    if (text)
        snprintf(m.text, sizeof m.text, "%s", text);
    while (send(ctl, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static void fatal(const char *what, const char *path) __attribute__((noreturn));
static void fatal(const char *what, const char *path)
{
    char text[512];
    snprintf(text, sizeof text, "%s %s: %s", what, path ? path : "", strerror(errno));
    send_msg(SV_FATAL, 0, 0, errno, 0, text);
    _exit(1);
}

/* The VM root (the bind of the overlay on itself), once setup_root has made it. */
static int root_fd = -1;

/*
 * Opens the directory rel of the VM root for use as a mount target, following no symlink at
 * all and staying on the root's own mount: whatever the tree holds (a host request or an
 * earlier guest may have put a symlink where /proc or /dev should be), a mount lands on the
 * VM's own directory of that name or not at all. -1 with errno (ELOOP, ENOTDIR: not a real
 * directory).
 */
static int open_vm_dir(const char *rel)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

/* Attaches the detached mount mfd on the VM directory rel; the target is a descriptor. */
static void attach(int mfd, const char *rel)
{
    int t = open_vm_dir(rel);
    if (t < 0)
        fatal("cannot open the mount point", rel);
    /* Safe: the mount is one this supervisor made or cloned, the target the VM's own
     * directory, opened above without following anything. */
    if (move_mount(mfd, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        fatal("cannot mount on", rel);
    close(t);
}

/* A new, detached filesystem of type (with option key=value pairs, NULL-terminated). */
static int new_fs(const char *type, const char *const *opts, unsigned attrs)
{
    int fs = fsopen(type, FSOPEN_CLOEXEC);
    if (fs < 0)
        fatal("cannot create a filesystem of type", type);
    for (size_t i = 0; opts && opts[i]; i += 2)
        if (fsconfig(fs, FSCONFIG_SET_STRING, opts[i], opts[i + 1], 0) != 0)
            fatal("cannot configure", type);
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
        fatal("cannot create", type);
    int m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
    if (m < 0)
        fatal("cannot mount", type);
    close(fs);
    return m;
}

/* A detached copy of the mount(s) at a path of the sidecar's, with attrs set on all of it. */
static int clone_tree(const char *path, unsigned attrs)
{
    int t = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (t < 0)
        fatal("cannot clone", path);
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = attrs;
    if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0)
        fatal("cannot restrict", path);
    return t;
}

/*
 * /dev: a small tmpfs of the VM's own, holding five harmless devices (bound from the host's,
 * no state, no host access), the usual links, and /dev/shm: the VM's shm directory from its
 * own size-limited tmpfs, so shared memory counts against maxFilesystemBytes.
 */
static void setup_dev(const sv_config_t *cfg)
{
    static const char *const opts[] = {"mode", "0755", "size", "64k", NULL};
    int dev = new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
    attach(dev, "dev");
    /* from here on, dev (the tmpfs's own root) is the only way in: a fresh tree of ours */
    for (int i = 0; devices[i]; i++) {
        char host[64];
        snprintf(host, sizeof host, "/dev/%s", devices[i]);
        int fd = openat(dev, devices[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0)
            fatal("cannot create /dev/", devices[i]);
        close(fd);
        int t = clone_tree(host, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (move_mount(t, "", dev, devices[i], MOVE_MOUNT_F_EMPTY_PATH) != 0)
            fatal("cannot bind", host);
        close(t);
    }
    static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                           {"stdin", "/proc/self/fd/0"},
                                           {"stdout", "/proc/self/fd/1"},
                                           {"stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlinkat(links[i][1], dev, links[i][0]) != 0)
            fatal("cannot create /dev/", links[i][0]);
    if (mkdirat(dev, "shm", 01777) != 0 || fchmodat(dev, "shm", 01777, 0) != 0)
        fatal("cannot create", "/dev/shm");
    int shm = clone_tree(cfg->shm_dir, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (move_mount(shm, "", dev, "shm", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        fatal("cannot bind", "/dev/shm");
    close(shm);
    /* Host callback commands: their program (read-only, executable: a bind mount has its own
     * flags, not /dev's noexec) and the VM's callback socket, both files of the sidecar's. */
    const char *const cb[][2] = {{cfg->cb_program, SC_CB_PROGRAM}, {cfg->cb_socket, SC_CB_SOCKET}};
    for (size_t i = 0; i < 2; i++) {
        if (!cb[i][0])
            continue;
        const char *name = cb[i][1] + sizeof "/dev/" - 1;
        int fd = openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (fd < 0)
            fatal("cannot create", cb[i][1]);
        close(fd);
        unsigned attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        int t = clone_tree(cb[i][0], i == 0 ? attrs : attrs | MOUNT_ATTR_NOEXEC);
        if (move_mount(t, "", dev, name, MOVE_MOUNT_F_EMPTY_PATH) != 0)
            fatal("cannot bind", cb[i][1]);
        close(t);
    }
    close(dev);
}

static void setup_root(const sv_config_t *cfg)
{
    const char *root = cfg->root_dir;

    /* Safe: this is a fresh mount namespace; nothing below propagates to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        fatal("cannot make mounts private", "/");
    /* The overlay becomes a mount of its own so that pivot_root can enter it. Not MS_REC:
     * the VM's ConfigureVm mounts are the sidecar's to attach here (host/mounts.c), each one
     * by a descriptor it keeps, so that it can take them away again. */
    if (mount(root, root, NULL, MS_BIND, NULL) != 0)
        fatal("cannot bind", root);
    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        fatal("cannot open", root);

    /* A procfs of the VM's own PID namespace: guests see their VM's processes only. */
    attach(new_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC), "proc");
    setup_dev(cfg);

    char usr_bin[PATH_MAX] = "";
    bool usr_bound = false;
    if (cfg->cb_bin_dir && !realpath(SC_CB_BIN_DIR, usr_bin))
        usr_bin[0] = '\0';
    for (int i = 0; sv_runtime_binds[i]; i++) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(sv_runtime_binds[i], real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
            continue; /* not on this host */
        /* Only a real directory of the VM: a symlink there (a merged-/usr root) is followed by
         * the guest itself, after the pivot, and must not be followed by the mount here. */
        int t = open_vm_dir(sv_runtime_binds[i] + 1);
        if (t < 0)
            continue;
        close(t);
        /* /bin of a merged-/usr host is /usr/bin: the overlay with the VM's commands */
        const char *src = usr_bin[0] && strcmp(real, usr_bin) == 0 ? cfg->cb_bin_dir : real;
        /* Safe: a fixed host directory (or the sidecar's overlay of one), read-only, nosuid
         * and nodev, on the VM's own. */
        int tree = clone_tree(src, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        attach(tree, sv_runtime_binds[i] + 1);
        close(tree);
        usr_bound = usr_bound || strcmp(sv_runtime_binds[i], "/usr") == 0;
    }
    if (usr_bin[0] && usr_bound) {
        /* /usr is the host's read-only /usr now, so "usr/bin" is the host's directory; no
         * symlink is followed on the way, and the overlay goes on top of it. */
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        int t = (int)syscall(SYS_openat2, root_fd, &SC_CB_BIN_DIR[1], &how, sizeof how);
        int tree =
            clone_tree(cfg->cb_bin_dir, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        /* Safe: the sidecar's overlay, read-only, on the host's directory it shows. */
        if (t < 0 ||
            move_mount(tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
            fatal("cannot mount the VM's commands on", SC_CB_BIN_DIR);
        close(t);
        close(tree);
    }
    /* Safe: pivot into the VM root and drop the old root, so the host tree is unreachable. */
    if (fchdir(root_fd) != 0)
        fatal("cannot enter", root);
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        fatal("cannot pivot into", root);
    if (umount2(".", MNT_DETACH) != 0)
        fatal("cannot detach the old root", "");
    if (chdir("/") != 0)
        fatal("cannot enter", "/");
    close(root_fd);
    root_fd = -1;
}

/*
 * What the VM sees of its init: /proc/1/cmdline reads this process's argument area, which
 * still holds the sidecar's command line (the clone inherited it), and /proc/1/comm its name.
 * Both now say "secure-exec-init"; the environment area (readable by nobody in the VM, the
 * process being non-dumpable, but still the sidecar's) is zeroed.
 */
static void hide_origin(void)
{
    static char title[] = "secure-exec-init";
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    prctl(PR_SET_NAME, "secure-exec-ini", 0, 0, 0); /* comm holds 15 bytes */
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* fields 48-51 (arg_start, arg_end, env_start, env_end); field 3 follows the ") " */
    char *p = strrchr(buf, ')');
    unsigned long v[52];
    int field = 2;
    for (char *save = NULL, *t = p ? strtok_r(p + 1, " ", &save) : NULL; t && field < 51;
         t = strtok_r(NULL, " ", &save))
        v[++field] = strtoul(t, NULL, 10);
    if (field < 51)
        return;
    /* Safe: this process's own memory, described by its own stat; a fixed title of ours. */
    unsigned long s = (unsigned long)title, e = s + sizeof title;
    bool moved = prctl(PR_SET_MM, PR_SET_MM_ARG_START, s, 0, 0) == 0;
    if (moved && prctl(PR_SET_MM, PR_SET_MM_ARG_END, e, 0, 0) != 0) {
        prctl(PR_SET_MM, PR_SET_MM_ARG_START, v[48], 0, 0);
        moved = false;
    }
    if (!moved && v[49] > v[48]) {
        /* without CAP_SYS_RESOURCE: the title over the old arguments, NUL-padded */
        size_t room = v[49] - v[48];
        memset((void *)v[48], 0, room);
        memcpy((void *)v[48], title, room > sizeof title ? sizeof title - 1 : room - 1);
    }
    if (v[51] > v[50])
        memset((void *)v[50], 0, v[51] - v[50]);
}

static void setup_identity(void)
{
    static const char hostname[] = "secure-exec";
    /* Safe: the UTS namespace is this VM's own. */
    if (sethostname(hostname, sizeof hostname - 1) != 0)
        fatal("cannot set the hostname", hostname);
    /* The network namespace starts with lo down and nothing else: bring lo up. */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        fatal("cannot read the flags of", "lo");
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        fatal("cannot bring up", "lo");
    close(s);
}

static bool recv_type(uint32_t want)
{
    sv_msg_t m;
    ssize_t n;
    do {
        n = recv(ctl, &m, sizeof m, 0);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof m && m.type == want;
}

/* ---- spawning guests ---- */

/*
 * The top-level processes: pid and the spawn's token, which names its cgroup (proc-<token>).
 * Once one has exited its cgroup is emptied and stays listed (pid 0, gone set) until it can be
 * removed.
 */
typedef struct tracked {
    pid_t pid;
    uint32_t token;
    bool used, gone;
} tracked_t;

static tracked_t tracked[MAX_TRACKED];
static const sc_cgroup_fds_t *cgtree; /* the VM's cgroups (n == 0: none) */

static void track(pid_t pid, uint32_t token)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (!tracked[i].used) {
            tracked[i] = (tracked_t){pid, token, true, false};
            return;
        }
    }
}

static tracked_t *find_tracked(pid_t pid)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i].used && !tracked[i].gone && tracked[i].pid == pid)
            return &tracked[i];
    return NULL;
}

/* Ends the tree of token's process (pid, a session leader): its cgroup, or its group. */
static void kill_tree(uint32_t token, pid_t pid)
{
    if (cgtree->n > 0)
        sc_cgtree_kill(cgtree, token);
    else if (pid > 1)
        kill(-pid, SIGKILL); /* Safe: a process group of this VM's own PID namespace */
}

/* Removes the emptied cgroups of exited processes; whether some are still waiting. */
static bool remove_gone(void)
{
    bool waiting = false;
    for (int i = 0; i < MAX_TRACKED; i++) {
        tracked_t *t = &tracked[i];
        if (!t->used || !t->gone)
            continue;
        if (cgtree->n == 0 || sc_cgtree_remove(cgtree, t->token) != EBUSY) {
            t->used = false;
            continue;
        }
        sc_cgtree_kill(cgtree, t->token); /* something forked before the first kill landed */
        waiting = true;
    }
    return waiting;
}

/* Reports an error of the child before execve through the pipe, then exits. */
static void child_fail(int errfd, const char *what, const char *arg) __attribute__((noreturn));
static void child_fail(int errfd, const char *what, const char *arg)
{
    char buf[512];
    int e = errno;
    int n = snprintf(buf, sizeof buf, "%d:%s%s%s", e, what, arg ? " " : "", arg ? arg : "");
    if (n > 0)
        (void)!write(errfd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    _exit(127);
}

/* The value of name in envp, or NULL. */
static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/*
 * execve with a PATH search in the guest's own PATH (execvpe would search the supervisor's,
 * inherited from the sidecar). Returns only on failure, with errno as execvp would report it.
 */
static void exec_guest(const char *file, char **argv, char **envp)
{
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return;
    }
    const char *path = env_get(envp, "PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int saved = ENOENT;
    char full[PATH_MAX];
    for (const char *p = path;; p++) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        int n = dl ? snprintf(full, sizeof full, "%.*s/%s", (int)dl, p, file)
                   : snprintf(full, sizeof full, "%s", file);
        if (n > 0 && (size_t)n < sizeof full) {
            execve(full, argv, envp);
            if (errno == EACCES)
                saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ELOOP &&
                     errno != ENAMETOOLONG)
                return;
        }
        if (!colon)
            break;
        p = colon;
    }
    errno = saved;
}

/*
 * The guest child: a session of its own, the given stdio, the VM cwd, uid/gid 1000, every
 * capability dropped but the two file ones, the sandbox, then execve. Any failure is reported and
 * the child exits.
 */
static void guest_child(const sv_config_t *cfg, const sv_spec_view_t *v, int fds[3],
                        const int *cgfds, int errfd)
{
    /*
     * First of all, into the process's own cgroup (each hierarchy's cgroup.procs was opened by
     * the sidecar: the kernel checks the opener), so that nothing this process or its
     * descendants ever do can leave it: a time limit, a kill of the tree or the process's exit
     * ends them all, whatever session or group they moved to.
     */
    for (int i = 0; i < cgtree->n; i++) {
        if (write(cgfds[i], "0", 1) != 1)
            child_fail(errfd, "cgroup", NULL);
        close(cgfds[i]);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (setsid() < 0)
        child_fail(errfd, "setsid", NULL);
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) != i)
            child_fail(errfd, "dup2", NULL);
    /* Nothing of the supervisor's (its control socket above all) reaches the guest. */
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
        child_fail(errfd, "close_range", NULL);
    if (chdir(v->cwd) != 0)
        child_fail(errfd, "chdir", v->cwd);
    char err[400];
    /* Safe: dropping, never adding: the bounding and ambient sets lose every capability and
     * the securebits are locked, while this process still may (it is the VM's root); the two
     * file capabilities stay permitted through the uid change, for sc_sandbox_apply. */
    if (sc_sandbox_drop_caps(true, err, sizeof err) != 0) {
        errno = EPERM;
        child_fail(errfd, "capabilities:", err);
    }
    gid_t groups[1] = {GUEST_GID};
    if (setgroups(1, groups) != 0 || setresgid(GUEST_GID, GUEST_GID, GUEST_GID) != 0 ||
        setresuid(GUEST_UID, GUEST_UID, GUEST_UID) != 0)
        child_fail(errfd, "cannot become the guest user", NULL);
    /* Loopback TCP stays open: the VM's network namespace holds nothing else, and guests
     * talk to each other (and to loopbackExemptPorts) over it. */
    /* CAP_DAC_OVERRIDE and CAP_FOWNER in the VM's user namespace: owner and mode bits do not
     * limit the guest in its VM's own files (the reference's semantics), and the kernel applies
     * them to no host file, whose ids this namespace does not map (sandbox.c). */
    sc_sandbox_spec_t spec = {&v->policy, (sc_fs_access_t)v->hdr->fs_access, cfg->limits, true,
                              true};
    if (sc_sandbox_apply(&spec, err, sizeof err) != 0) {
        errno = EPERM;
        child_fail(errfd, "sandbox:", err);
    }
    exec_guest(v->file, v->argv, v->envp);
    child_fail(errfd, "exec", v->file);
}

static void spawn(const sv_config_t *cfg, uint32_t token, int memfd, int fds[3])
{
    sv_spec_view_t v;
    int errpipe[2] = {-1, -1}, cgfds[SC_CGROUP_MAX_FDS];
    bool have_cg = false, spawned = false;
    memset(&v, 0, sizeof v);
    if (sv_spec_read(memfd, &v) != 0) {
        send_msg(SV_SPAWN_FAILED, token, 0, EINVAL, 0, "malformed spawn spec");
        goto out;
    }
    /* its own cgroup, which it joins first and its descendants never leave */
    int err = cgtree->n > 0 ? sc_cgtree_make(cgtree, token, cgfds) : 0;
    if (err) {
        send_msg(SV_SPAWN_FAILED, token, 0, err, 0, "cgroup");
        goto out;
    }
    have_cg = cgtree->n > 0;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        send_msg(SV_SPAWN_FAILED, token, 0, errno, 0, "pipe");
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        send_msg(SV_SPAWN_FAILED, token, 0, errno, 0, "fork");
        goto out;
    }
    if (pid == 0) {
        close(errpipe[0]);
        guest_child(cfg, &v, fds, cgfds, errpipe[1]);
    }
    close(errpipe[1]);
    errpipe[1] = -1;
    /* EOF: execve succeeded (the pipe was close-on-exec); data: the child's error. */
    char why[512];
    ssize_t n;
    do {
        n = read(errpipe[0], why, sizeof why - 1);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        why[n] = '\0';
        int status;
        waitpid(pid, &status, 0);
        char *colon = strchr(why, ':');
        int e = atoi(why);
        send_msg(SV_SPAWN_FAILED, token, 0, e ? e : EIO, 0, colon ? colon + 1 : why);
    } else {
        track(pid, token);
        spawned = true;
        send_msg(SV_SPAWNED, token, pid, 0, 0, NULL);
    }
out:
    for (int i = 0; have_cg && i < cgtree->n; i++)
        close(cgfds[i]);
    if (have_cg && !spawned) /* never used: it goes again */
        sc_cgtree_remove(cgtree, token);
    if (errpipe[0] >= 0)
        close(errpipe[0]);
    if (errpipe[1] >= 0)
        close(errpipe[1]);
    sv_spec_view_free(&v);
}

/* Reaps every child that ended: the tracked ones are reported, orphans only reaped. */
static void reap(void)
{
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        if (pid <= 0)
            return;
        tracked_t *t = find_tracked(pid);
        if (!t)
            continue;
        /* its whole tree goes with it, whatever session or group it moved to */
        kill_tree(t->token, pid);
        t->gone = true;
        uint64_t cpu = (uint64_t)ru.ru_utime.tv_sec * 1000u +
                       (uint64_t)ru.ru_utime.tv_usec / 1000u +
                       (uint64_t)ru.ru_stime.tv_sec * 1000u + (uint64_t)ru.ru_stime.tv_usec / 1000u;
        send_msg(SV_EXITED, 0, pid, status, cpu, NULL);
    }
}

static void handle_ctl(const sv_config_t *cfg)
{
    sv_msg_t m;
    char cbuf[CMSG_SPACE(SV_MAX_FDS * sizeof(int))];
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        /* The sidecar is gone or disposing: nothing of the VM may outlive it. */
        kill(-1, SIGKILL);
        _exit(0);
    }
    int fds[SV_MAX_FDS];
    int nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && nfds == 0) {
            nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            if (nfds > SV_MAX_FDS)
                nfds = SV_MAX_FDS; /* MSG_CTRUNC: the kernel kept no more than the buffer */
            memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
        }
    }
    if (n == (ssize_t)sizeof m) {
        switch (m.type) {
        case SV_SPAWN:
            /* the spec, stdin, stdout, stderr */
            if (nfds == 4)
                spawn(cfg, m.token, fds[0], fds + 1);
            else
                send_msg(SV_SPAWN_FAILED, m.token, 0, EINVAL, 0, "missing descriptors");
            break;
        case SV_KILL:
            /* Safe: pid is a process of this VM (its PID namespace holds nothing else). */
            if (m.pid != 0 && m.pid != 1 && m.pid != -1)
                kill(m.pid, m.arg);
            break;
        case SV_KILL_ALL:
            /* From PID 1, -1 means every other process of the namespace: the VM's guests. */
            kill(-1, m.arg);
            break;
        case SV_KILL_TREE: {
            tracked_t *t = find_tracked(m.pid);
            if (t && t->token == m.token)
                kill_tree(m.token, m.pid);
            break;
        }
        default:
            break;
        }
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

void sv_main(const sv_config_t *cfg)
{
    ctl = cfg->ctl_fd;
    /*
     * Into the VM's cgroups first, before anything else is done here (its limits hold for
     * this process too, and its cgroup namespace is to be rooted there); the sidecar opened
     * the files (the kernel checks the opener) and moves on without waiting for the kernel.
     */
    for (int i = 0; i < cfg->ncg; i++)
        if (write(cfg->cg_fds[i], "0", 1) != 1)
            fatal("cannot join the VM's cgroup", "");
    /* The sidecar's environment (a token, the host's paths) is none of the VM's business. */
    clearenv();
    /* The sidecar's death is ours; then, as PID 1, every guest's too. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_SETMASK, &chld, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGCHLD && s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    /* Nothing of the sidecar's (its stdio pipes, epoll, other VMs' sockets) stays open: only
     * the control socket and the VM's cgroup directories. */
    cgtree = cfg->cg_tree;
    int keep[1 + SC_CGROUP_MAX_FDS], nkeep = 0;
    keep[nkeep++] = ctl;
    for (int i = 0; i < cgtree->n; i++)
        keep[nkeep++] = cgtree->dir[i];
    sc_close_all_but(keep, nkeep, 3);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }

    hide_origin();
    setup_root(cfg);
    setup_identity();

    /*
     * Safe: a user namespace whose ids the sidecar maps to its reserved range; from here on
     * the supervisor is root only over its own VM, and guests are uid 1000 in it, with no
     * capability but the two that make the VM's own files theirs.
     */
    if (unshare(CLONE_NEWUSER) != 0)
        fatal("cannot create the user namespace", "");
    send_msg(SV_READY, 0, 0, 0, 0, NULL);
    if (!recv_type(SV_MAPPED))
        _exit(1);
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
        fatal("cannot become the VM's root", "");
    /*
     * Safe: a cgroup namespace rooted at the VM's cgroup (the sidecar put this process there
     * before it sent SV_MAPPED), so /proc/<pid>/cgroup shows guests "/" and "/proc-N", not
     * the host's hierarchy. Without a cgroup (none usable) it is rooted where we are.
     */
    if (unshare(CLONE_NEWCGROUP) != 0)
        fatal("cannot create the cgroup namespace", "");
    /* Nothing in the VM may inspect its init, whatever its ids (a uid change resets this). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    send_msg(SV_RUNNING, 0, 0, 0, 0, NULL);

    char why[256];
    if (sc_seccomp_prepare(why, sizeof why) != 0)
        send_msg(SV_FATAL, 0, 0, 0, 0, why); /* each guest compiles the filter itself then */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        fatal("cannot watch children", "");
    bool waiting = false;
    for (;;) {
        struct pollfd p[2] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, waiting ? 20 : -1) < 0 && errno != EINTR)
            _exit(1);
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                ;
            reap();
        }
        if (p[0].revents)
            handle_ctl(cfg);
        reap();
        waiting = remove_gone();
    }
}
