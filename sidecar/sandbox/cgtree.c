/*
 * cgtree.c - PRIVILEGED (delegated): the cgroup of each top-level guest process, "proc-<n>"
 * below its VM's cgroup in every hierarchy, made, emptied and removed by the VM's supervisor,
 * which the sidecar handed the VM's directories to (cgroup.c). A process joins by writing "0"
 * to each cgroup.procs opened here, before it runs anything of the guest's, and all its
 * descendants stay in it, whatever session or process group they move to: ending the cgroup
 * ends them all.
 *
 * Trust model: this runs in the supervisor, the VM's root, which owns the VM's directories and
 * nothing else of the hierarchy; every name it makes or removes is "proc-<n>" directly below
 * one of them, reached through descriptors (no path of the host's). A child cgroup cannot
 * exceed the VM's limits, which the supervisor cannot write. The tasks it signals are those
 * listed in a cgroup of its own VM, pids of its own PID namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "fdio.h"

static void name_of(uint32_t n, char out[32])
{
    snprintf(out, 32, "proc-%" PRIu32, n);
}

int sc_cgtree_kill_listed(int dirfd, const char *procs)
{
    char buf[65536];
    if (sc_read_text_at(dirfd, procs, buf, sizeof buf) < 0)
        return 0;
    int n = 0;
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        /* Safe: a task of one of the VM's own cgroups; never the caller or an init. */
        if (pid > 1 && pid != getpid())
            kill((pid_t)pid, SIGKILL);
        n++;
    }
    return n;
}

void sc_cgtree_freeze(int dirfd, const char *state, bool frozen)
{
    char buf[64];
    /* Safe: the freezer of one of the VM's own cgroups; what it stops is thawed by the caller. */
    if (sc_write_text_at(dirfd, state, frozen ? "FROZEN" : "THAWED") != 0 || !frozen)
        return;
    for (int i = 0; i < 50 && sc_read_text_at(dirfd, state, buf, sizeof buf) > 0 &&
                    strncmp(buf, "FROZEN", 6) != 0;
         i++)
        sched_yield();
}

int sc_cgtree_make(const sc_cgroup_fds_t *fds, uint32_t n, int *procfds)
{
    char name[32], procs[64];
    name_of(n, name);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", name);
    int i, err = 0;
    for (i = 0; i < fds->n; i++) {
        /* Safe: one new cgroup below the VM's own, named by us. */
        if (mkdirat(fds->dir[i], name, 0755) != 0 && errno != EEXIST) {
            err = errno;
            break;
        }
        procfds[i] = openat(fds->dir[i], procs, O_WRONLY | O_CLOEXEC);
        if (procfds[i] < 0) {
            err = errno;
            unlinkat(fds->dir[i], name, AT_REMOVEDIR);
            break;
        }
    }
    if (!err)
        return 0;
    while (i-- > 0) {
        close(procfds[i]);
        unlinkat(fds->dir[i], name, AT_REMOVEDIR);
    }
    return err;
}

void sc_cgtree_kill(const sc_cgroup_fds_t *fds, uint32_t n)
{
    char name[32], file[64];
    name_of(n, name);
    if (fds->v2) {
        /* Safe: the kernel kills the tasks of this process's cgroup only. */
        snprintf(file, sizeof file, "%s/cgroup.kill", name);
        if (fds->n > 0)
            sc_write_text_at(fds->dir[0], file, "1");
        return;
    }
    /* v1: frozen first, so nothing forks or exits between the listing and the signal;
     * SIGKILL takes effect at the thaw. */
    int fz = -1;
    for (int i = 0; i < fds->n; i++)
        if (fds->freezer[i])
            fz = fds->dir[i];
    char state[64];
    snprintf(state, sizeof state, "%s/freezer.state", name);
    if (fz >= 0)
        sc_cgtree_freeze(fz, state, true);
    snprintf(file, sizeof file, "%s/cgroup.procs", name);
    for (int i = 0; i < fds->n; i++)
        sc_cgtree_kill_listed(fds->dir[i], file);
    if (fz >= 0)
        sc_cgtree_freeze(fz, state, false);
}

int sc_cgtree_remove(const sc_cgroup_fds_t *fds, uint32_t n)
{
    char name[32];
    name_of(n, name);
    int err = 0;
    for (int i = 0; i < fds->n; i++)
        /* Safe: rmdir removes only an empty cgroup (EBUSY while tasks remain). */
        if (unlinkat(fds->dir[i], name, AT_REMOVEDIR) != 0 && errno != ENOENT && !err)
            err = errno;
    return err;
}
