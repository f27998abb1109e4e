/*
 * mountns.c - PRIVILEGED: a VM's mounts attached and detached in the guest processes' view,
 * the mount namespace of the VM's supervisor (mountops.h).
 *
 * Trust model. A process with threads cannot join another mount namespace, and the sidecar
 * has its worker, so the work is done by a short child of the sidecar: it joins the
 * namespace, opens the mount point RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS from the
 * supervisor's root and moves the prepared mount there, or unmounts one by descriptor. That
 * namespace belongs to the initial user namespace: no guest can undo or move any of it.
 * The mounts are the sidecar's own (mountops.c and jbmount.c made them, nosuid and nodev) and
 * the mount points are the guestPaths mounts.c checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mountops.h"

void sc_mntns_attach_op(sc_mntns_op_t *op, int fd, const char *rel)
{
    op->fd = fd;
    op->rel = rel;
}

void sc_mntns_detach_op(sc_mntns_op_t *op, int fd)
{
    op->fd = fd;
    op->rel = NULL;
    snprintf(op->name, sizeof op->name, "%d", fd);
}

/*
 * The child makes system calls only (no allocation: the worker may hold the allocator's lock
 * at the fork), and nothing it does can block for long: it never walks into a js_bridge
 * mount.
 *
 * Safe: the child joins a namespace of the sidecar's own child; an attach opens its target
 * from the supervisor's root with RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS (a guest's symlink
 * fails it, ".." cannot leave the root) and moves a mount the sidecar prepared onto exactly
 * that directory; a detach names the mount by the descriptor the sidecar holds for it.
 */
size_t sc_mntns_run(pid_t sup_pid, const sc_mntns_op_t *ops, size_t n, bool keep_going, int *err)
{
    char path[64];
    int ns = -1, root = -1, pipefd[2] = {-1, -1};
    struct {
        uint32_t done;
        int32_t err;
    } res = {0, 0};
    *err = 0;
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)sup_pid);
    ns = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/root", (int)sup_pid);
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
