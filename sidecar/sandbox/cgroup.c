/*
 * cgroup.c - PRIVILEGED: one cgroup per VM for what rlimits cannot do per VM: the number of
 * processes (pids.max), memory (memory.max / memory.limit_in_bytes, swap included) and CPU
 * (a quota of cpuCount CPUs). cgroup v2 when /sys/fs/cgroup is cgroup2, else the v1 pids,
 * memory, cpu, cpuacct and freezer hierarchies, always under the cgroup the sidecar itself is
 * in. Below it, each top-level guest process gets a cgroup of its own, made and ended by the
 * VM's supervisor (cgtree.c), to which the VM's cgroup is delegated.
 *
 * Trust model: the sidecar writes to cgroupfs as root (or as a delegated user). Every
 * directory it makes is "secure-exec-<sidecar pid>-<vm id>" directly under its own cgroup,
 * with the VM id checked to be a plain name, so nothing here can reach another part of the
 * hierarchy. A child cgroup can never exceed its ancestors, so creating one and writing
 * limits can only narrow what the sidecar already has. The VM's directory (and, on v2, its
 * cgroup.procs) is then handed to the VM's root, the supervisor's host id, nobody's on the
 * host: it may make, fill and remove cgroups below it, but its limit files stay root's, and a
 * child cgroup cannot exceed them. Guests (uid 1000 there) can do none of it. The only
 * signals sent go to the tasks listed in the VM's own cgroups.
 *
 * The kernel may take milliseconds over a mkdir, rmdir or write here (each waits for
 * cgroup_mutex, which a migration elsewhere can hold across an RCU grace period), so the event
 * loop plans a VM's cgroup (sc_cgroup_plan: paths only) and has sc_cgroup_make and
 * sc_cgroup_unmake, which only make system calls, run on its worker thread (offload.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "fdio.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270
/* v2: where the sidecar moves itself when its cgroup must become an inner node. */
#define SIDECAR_LEAF "secure-exec-sidecar"
#define CG_PATH_MAX 4096

enum { CG_PIDS, CG_MEMORY, CG_CPUACCT, CG_CPU, CG_FREEZER, CG_NCTRL };
static const char *const ctrl_names[CG_NCTRL] = {"pids", "memory", "cpuacct", "cpu", "freezer"};
/* v1 hierarchies the VM can do without */
#define CG_OPTIONAL(i) ((i) == CG_CPUACCT || (i) == CG_CPU || (i) == CG_FREEZER)
#define CPU_PERIOD_US 100000u

struct sc_cgroup {
    bool v2;
    char *dirs[CG_NCTRL]; /* v2: dirs[0] only; v1: per controller, NULL when absent or shared */
    char *parent;         /* v2: the sidecar's cgroup, whose controllers the VMs need */
    int mem, cpuacct, cpu, freezer; /* index of the directory holding each, or -1 */
    sc_resource_limits_t limits;
    uint32_t owner_uid, owner_gid; /* who gets the VM's directory (the VM's root) */
    bool made;
    const char *step; /* what failed (sc_cgroup_make), and its errno */
    int err;
};

static int write_text(const char *dir, const char *file, const char *text)
{
    char path[CG_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return sc_write_text(path, text);
}

/* Reads dir/file into buf (NUL-terminated); the length, or -1. */
static ssize_t read_text(const char *dir, const char *file, char *buf, size_t size)
{
    char path[CG_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    return sc_read_text_at(AT_FDCWD, path, buf, size);
}

/* The value of a "key N" line (memory.events, memory.oom_control); -1 when absent. */
static int read_key(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char buf[4096];
    if (read_text(dir, file, buf, sizeof buf) < 0)
        return -1;
    size_t klen = strlen(key);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoull(line + klen + 1, NULL, 10);
            return 0;
        }
    }
    return -1;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64 || id[0] == '.')
        return false;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The sidecar's own cgroup path for ctrl ("" = the v2 line "0::"), from /proc/self/cgroup. */
static int own_path(const char *ctrl, char *out, size_t size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[CG_PATH_MAX + 256];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *list = strchr(line, ':');
        char *path = list ? strchr(list + 1, ':') : NULL;
        if (!path)
            continue;
        *list++ = '\0'; /* "N:list:path" -> line "N", list, path */
        *path++ = '\0';
        bool hit = *ctrl == '\0' ? *list == '\0' && strcmp(line, "0") == 0 : false;
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && *ctrl && !hit;
             t = strtok_r(NULL, ",", &save))
            hit = strcmp(t, ctrl) == 0;
        if (hit && strlen(path) < size) {
            memcpy(out, path, strlen(path) + 1);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* Where the v1 hierarchy of ctrl is mounted, and the hierarchy path of that mount's root. */
static int v1_mount(const char *ctrl, char *mnt, char *root, size_t size)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[2 * CG_PATH_MAX];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        char r[CG_PATH_MAX], m[CG_PATH_MAX], type[64], src[256], opts[1024];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2 ||
            sscanf(sep + 3, "%63s %255s %1023s", type, src, opts) != 3)
            continue;
        if (strcmp(type, "cgroup") != 0 || strchr(m, '\\') || strchr(r, '\\'))
            continue; /* not v1, or an escaped (unusual) path we do not decode */
        bool hit = false;
        for (char *save = NULL, *t = strtok_r(opts, ",", &save); t && !hit;
             t = strtok_r(NULL, ",", &save))
            hit = strcmp(t, ctrl) == 0;
        if (hit && strlen(m) < size && strlen(r) < size) {
            memcpy(mnt, m, strlen(m) + 1);
            memcpy(root, r, strlen(r) + 1);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* mount + (own path relative to the mount's root) + "/" + name. */
static char *v1_dir(const char *ctrl, const char *name)
{
    char mnt[CG_PATH_MAX], root[CG_PATH_MAX], own[CG_PATH_MAX], dir[CG_PATH_MAX];
    if (v1_mount(ctrl, mnt, root, sizeof mnt) != 0 || own_path(ctrl, own, sizeof own) != 0)
        return NULL;
    const char *rel = own;
    if (strcmp(root, "/") != 0) {
        size_t rl = strlen(root);
        if (strncmp(own, root, rl) != 0 || (own[rl] != '/' && own[rl] != '\0'))
            return NULL; /* our cgroup lies outside what is mounted */
        rel = own + rl;
    }
    while (*rel == '/')
        rel++;
    int n = *rel ? snprintf(dir, sizeof dir, "%s/%s/%s", mnt, rel, name)
                 : snprintf(dir, sizeof dir, "%s/%s", mnt, name);
    return n < (int)sizeof dir ? strdup(dir) : NULL;
}

static void fmt_limit(char *buf, size_t size, uint64_t v)
{
    if (v)
        snprintf(buf, size, "%" PRIu64, v);
    else
        snprintf(buf, size, "max");
}

/*
 * v2: the directory of the sidecar's own cgroup, the parent of its VMs' (out, size bytes). A
 * sidecar that moved into its leaf earlier is in "<parent>/SIDECAR_LEAF": the parent is the
 * one above (*in_leaf says so). 0, or -1 when /proc/self/cgroup has no v2 line.
 */
static int v2_parent(char *out, size_t size, bool *in_leaf)
{
    char own[CG_PATH_MAX];
    if (own_path("", own, sizeof own) != 0)
        return -1;
    size_t ol = strlen(own), ll = strlen(SIDECAR_LEAF);
    *in_leaf = ol > ll && own[ol - ll - 1] == '/' && strcmp(own + ol - ll, SIDECAR_LEAF) == 0;
    if (*in_leaf)
        own[ol - ll - 1] = '\0';
    if (snprintf(out, size, "%s%s", CG_ROOT, strcmp(own, "/") == 0 ? "" : own) >= (int)size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* v2: moves the caller into parent's leaf SIDECAR_LEAF (made when missing); 0 or -1. */
static int join_leaf(const char *parent)
{
    char leaf[CG_PATH_MAX];
    if (snprintf(leaf, sizeof leaf, "%s/%s", parent, SIDECAR_LEAF) >= (int)sizeof leaf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* Safe: moves only the caller (the sidecar, or its janitor), within its own cgroup. */
    if (mkdir(leaf, 0755) != 0 && errno != EEXIST)
        return -1;
    return write_text(leaf, "cgroup.procs", "0");
}

int sc_cgroup_join_leaf(void)
{
    struct statfs sfs;
    char parent[CG_PATH_MAX];
    bool in_leaf;
    if (statfs(CG_ROOT, &sfs) != 0 || sfs.f_type != CGROUP2_MAGIC)
        return 0; /* v1 has no such rule */
    if (v2_parent(parent, sizeof parent, &in_leaf) != 0)
        return -1;
    return in_leaf ? 0 : join_leaf(parent);
}

/* ---- planning (the loop: paths and allocation, no change to cgroupfs) ---- */

static void free_dirs(sc_cgroup_t *cg)
{
    for (int i = 0; i < CG_NCTRL; i++) {
        free(cg->dirs[i]);
        cg->dirs[i] = NULL;
    }
    free(cg->parent);
    cg->parent = NULL;
}

sc_cgroup_t *sc_cgroup_plan(const char *vm_id, const sc_resource_limits_t *limits,
                            uint32_t owner_uid, uint32_t owner_gid, char *err, size_t errlen)
{
    if (!valid_id(vm_id)) {
        snprintf(err, errlen, "cgroup: invalid VM id");
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof name, "secure-exec-%ld-%s", (long)getpid(), vm_id);
    sc_cgroup_t *cg = calloc(1, sizeof *cg);
    if (!cg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cg->limits = *limits;
    cg->owner_uid = owner_uid;
    cg->owner_gid = owner_gid;
    cg->mem = cg->cpuacct = cg->cpu = cg->freezer = -1;
    struct statfs sfs;
    cg->v2 = statfs(CG_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_MAGIC;
    if (cg->v2) {
        char dir[CG_PATH_MAX];
        bool in_leaf; /* the VMs go next to the leaf */
        if (v2_parent(dir, sizeof dir, &in_leaf) != 0) {
            snprintf(err, errlen, "cgroup v2: no 0:: line in /proc/self/cgroup");
            goto fail;
        }
        cg->parent = strdup(dir);
        if (snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name) >=
                (int)(sizeof dir - strlen(cg->parent)) ||
            !cg->parent || !(cg->dirs[0] = strdup(dir))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        cg->mem = cg->cpuacct = cg->cpu = cg->freezer = 0;
        return cg;
    }
    for (int i = 0; i < CG_NCTRL; i++) {
        if (i == CG_CPU && !limits->cpu_count)
            continue;
        char *dir = v1_dir(ctrl_names[i], name);
        if (!dir) {
            if (!CG_OPTIONAL(i) && (i == CG_PIDS || limits->max_memory_bytes)) {
                snprintf(err, errlen, "cgroup v1: no usable %s hierarchy", ctrl_names[i]);
                goto fail;
            }
            continue;
        }
        int at = i; /* co-mounted controllers share one directory */
        for (int j = 0; j < i; j++)
            if (cg->dirs[j] && strcmp(cg->dirs[j], dir) == 0)
                at = j;
        if (at == i)
            cg->dirs[i] = dir;
        else
            free(dir);
        if (i == CG_MEMORY)
            cg->mem = at;
        else if (i == CG_CPUACCT)
            cg->cpuacct = at;
        else if (i == CG_CPU)
            cg->cpu = at;
        else if (i == CG_FREEZER)
            cg->freezer = at;
    }
    return cg;
fail:
    free_dirs(cg);
    free(cg);
    return NULL;
}

void sc_cgroup_free(sc_cgroup_t *cg)
{
    if (!cg)
        return;
    free_dirs(cg);
    free(cg);
}

const char *sc_cgroup_error(const sc_cgroup_t *cg, char *buf, size_t len)
{
    snprintf(buf, len, "cgroup: %s: %s", cg->step ? cg->step : "?", strerror(cg->err));
    return buf;
}

/* ---- making and unmaking (any thread: system calls only) ---- */

static int fail_step(sc_cgroup_t *cg, const char *step)
{
    cg->step = step;
    cg->err = errno;
    return -1;
}

/* v2: pids, memory and cpu must be enabled for the children of the sidecar's cgroup. A
 * cgroup with tasks cannot have children with controllers (the "no internal tasks" rule), so
 * when the sidecar's own cgroup holds it, the sidecar moves itself into a leaf next to the
 * VMs' cgroups first. */
static int v2_enable(sc_cgroup_t *cg)
{
    char avail[1024], want[64];
    bool memory = cg->limits.max_memory_bytes != 0, cpu = cg->limits.cpu_count != 0;
    if (read_text(cg->parent, "cgroup.controllers", avail, sizeof avail) < 0)
        avail[0] = '\0';
    if (!strstr(avail, "pids") || (memory && !strstr(avail, "memory")) ||
        (cpu && !strstr(avail, "cpu"))) {
        errno = ENOTSUP;
        return fail_step(cg, "a controller (pids, memory or cpu) is not available");
    }
    snprintf(want, sizeof want, "+pids%s%s", memory ? " +memory" : "", cpu ? " +cpu" : "");
    if (write_text(cg->parent, "cgroup.subtree_control", want) == 0)
        return 0;
    if (errno == EBUSY && join_leaf(cg->parent) == 0 &&
        write_text(cg->parent, "cgroup.subtree_control", want) == 0)
        return 0;
    return fail_step(cg, "enabling the controllers");
}

static int set_limits(sc_cgroup_t *cg)
{
    const sc_resource_limits_t *lim = &cg->limits;
    char v[64];
    const char *pids = cg->v2 ? cg->dirs[0] : cg->dirs[CG_PIDS];
    fmt_limit(v, sizeof v, lim->max_processes);
    /* Safe: a limit on our own child cgroup, and numbers only lower what we have. */
    if (pids && write_text(pids, "pids.max", v) != 0)
        return fail_step(cg, "pids.max");
    if (lim->cpu_count && cg->cpu >= 0) {
        /* cpuCount CPUs' worth of time in every period, spread over any of the host's CPUs */
        uint64_t quota = lim->cpu_count * (uint64_t)CPU_PERIOD_US;
        const char *dir = cg->dirs[cg->cpu];
        if (cg->v2) {
            snprintf(v, sizeof v, "%" PRIu64 " %u", quota, CPU_PERIOD_US);
            if (write_text(dir, "cpu.max", v) != 0)
                return fail_step(cg, "cpu.max");
        } else {
            snprintf(v, sizeof v, "%u", CPU_PERIOD_US);
            if (write_text(dir, "cpu.cfs_period_us", v) != 0)
                return fail_step(cg, "cpu.cfs_period_us");
            snprintf(v, sizeof v, "%" PRIu64, quota);
            if (write_text(dir, "cpu.cfs_quota_us", v) != 0)
                return fail_step(cg, "cpu.cfs_quota_us");
        }
    }
    if (!lim->max_memory_bytes || cg->mem < 0)
        return 0;
    const char *mem = cg->dirs[cg->mem];
    fmt_limit(v, sizeof v, lim->max_memory_bytes);
    if (write_text(mem, cg->v2 ? "memory.max" : "memory.limit_in_bytes", v) != 0)
        return fail_step(cg, "the memory limit");
    /* Swap must not stretch the limit: v2 forbids it, v1 caps memory+swap at the same value
     * (either file is absent without swap accounting, which is fine). */
    if (write_text(mem, cg->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
                   cg->v2 ? "0" : v) != 0 &&
        errno != ENOENT)
        return fail_step(cg, "the swap limit");
    return 0;
}

/*
 * Hands the VM's directory to the VM's root (the supervisor), so that it can make, fill and
 * remove the cgroups of its processes below it (cgtree.c): the directory itself, and on v2
 * its cgroup.procs, which a move between it and a child needs. Its limit files stay root's.
 */
static int delegate(sc_cgroup_t *cg)
{
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!cg->dirs[i])
            continue;
        /* Safe: a directory this file made, to the VM's own root, nobody on the host. */
        if (chown(cg->dirs[i], cg->owner_uid, cg->owner_gid) != 0)
            return fail_step(cg, "handing the VM's cgroup to its supervisor");
        char procs[CG_PATH_MAX + 16];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", cg->dirs[i]);
        if (cg->v2 && chown(procs, cg->owner_uid, cg->owner_gid) != 0)
            return fail_step(cg, "handing the VM's cgroup.procs to its supervisor");
    }
    return 0;
}

int sc_cgroup_make(sc_cgroup_t *cg)
{
    if (cg->v2 && v2_enable(cg) != 0)
        return -1;
    for (int i = 0; i < CG_NCTRL; i++) {
        /* Safe: a new child of our own cgroup, named by us (see the top of the file). */
        if (cg->dirs[i] && mkdir(cg->dirs[i], 0755) != 0) {
            fail_step(cg, "mkdir");
            while (i-- > 0)
                if (cg->dirs[i])
                    rmdir(cg->dirs[i]);
            return -1;
        }
    }
    cg->made = true;
    if (set_limits(cg) != 0 || delegate(cg) != 0) {
        int e = cg->err;
        sc_cgroup_unmake(cg);
        cg->err = e;
        return -1;
    }
    return 0;
}

/* Kills what is listed in dir/cgroup.procs; how many were listed. (v1 has no cgroup.kill: a
 * listed task that exits and whose pid is reused before the kill would be hit instead; the
 * freezer, where there is one, keeps the listed tasks from exiting or forking meanwhile.) */
static int kill_listed(const char *dir)
{
    char path[CG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    return sc_cgtree_kill_listed(AT_FDCWD, path);
}

/* Calls fn(dir/name) for each "proc-*" directory below dir (getdents64: no allocation). */
static void each_proc_dir(const char *dir, void (*fn)(const char *path))
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[8192];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            if (strncmp(d->name, "proc-", 5) == 0) {
                char path[CG_PATH_MAX + 300];
                if (snprintf(path, sizeof path, "%s/%s", dir, d->name) < (int)sizeof path)
                    fn(path);
            }
            off += d->reclen;
        }
    }
    close(fd);
}

static void kill_in(const char *path)
{
    kill_listed(path);
}

static void rmdir_in(const char *path)
{
    /* Safe: rmdir removes only a cgroup without tasks. */
    rmdir(path);
}

void sc_cgroup_kill_all(sc_cgroup_t *cg)
{
    if (!cg || !cg->made)
        return;
    if (cg->v2) {
        /* Safe: the kernel kills the tasks of the VM's cgroup and its descendants only. */
        write_text(cg->dirs[0], "cgroup.kill", "1");
        return;
    }
    /* v1: frozen first (the freezer is hierarchical), so nothing forks or exits between the
     * listing and the signal; SIGKILL takes effect at the thaw. */
    char fz[CG_PATH_MAX + 16] = "";
    if (cg->freezer >= 0)
        snprintf(fz, sizeof fz, "%s/freezer.state", cg->dirs[cg->freezer]);
    if (fz[0])
        sc_cgtree_freeze(AT_FDCWD, fz, true);
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!cg->dirs[i])
            continue;
        kill_listed(cg->dirs[i]);
        each_proc_dir(cg->dirs[i], kill_in);
    }
    if (fz[0])
        sc_cgtree_freeze(AT_FDCWD, fz, false);
}

int sc_cgroup_unmake(sc_cgroup_t *cg)
{
    if (!cg || !cg->made)
        return 0;
    sc_cgroup_kill_all(cg);
    int rc = 0, saved = 0;
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!cg->dirs[i])
            continue;
        /* what the supervisor could not remove goes first, then the VM's own */
        each_proc_dir(cg->dirs[i], rmdir_in);
        /* Safe: rmdir removes only an empty cgroup this file made. */
        if (rmdir(cg->dirs[i]) != 0 && errno != ENOENT && rc == 0) {
            rc = -1;
            saved = errno;
        }
    }
    if (rc == 0) {
        cg->made = false;
        return 0;
    }
    errno = saved;
    return -1;
}

/* ---- using a VM's cgroup (the loop) ---- */

int sc_cgroup_open_procs(const sc_cgroup_t *cg, int fds[SC_CGROUP_MAX_FDS], size_t *n, char *err,
                         size_t errlen)
{
    *n = 0;
    for (int i = 0; i < CG_NCTRL; i++) {
        char path[CG_PATH_MAX + 16];
        if (!cg->dirs[i])
            continue;
        snprintf(path, sizeof path, "%s/cgroup.procs", cg->dirs[i]);
        /* Safe: the VM's own cgroup; what writes here moves itself into it, downward. */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
            for (size_t k = 0; k < *n; k++)
                close(fds[k]);
            *n = 0;
            return -1;
        }
        fds[(*n)++] = fd;
    }
    return 0;
}

int sc_cgroup_open_tree(const sc_cgroup_t *cg, sc_cgroup_fds_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->v2 = cg->v2;
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!cg->dirs[i])
            continue;
        int fd = open(cg->dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "cgroup %s: %s", cg->dirs[i], strerror(errno));
            sc_cgroup_fds_close(out);
            return -1;
        }
        out->freezer[out->n] = !cg->v2 && i == cg->freezer;
        out->dir[out->n++] = fd;
    }
    return 0;
}

void sc_cgroup_fds_close(sc_cgroup_fds_t *fds)
{
    for (int i = 0; i < fds->n; i++)
        if (fds->dir[i] >= 0)
            close(fds->dir[i]);
    fds->n = 0;
}

int sc_cgroup_add_pid(const sc_cgroup_t *cg, pid_t pid, char *err, size_t errlen)
{
    char text[32];
    snprintf(text, sizeof text, "%ld", (long)pid);
    for (int i = 0; i < CG_NCTRL; i++) {
        /* Safe: moves the VM's own child down from our cgroup into the VM's. */
        if (cg->dirs[i] && write_text(cg->dirs[i], "cgroup.procs", text) != 0) {
            snprintf(err, errlen, "cgroup %s/cgroup.procs: %s", cg->dirs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

int sc_cgroup_proc_cpu_ms(const sc_cgroup_t *cg, uint32_t n, uint64_t *ms)
{
    char dir[CG_PATH_MAX + 32], buf[64];
    if (!cg || !cg->made || cg->cpuacct < 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/proc-%" PRIu32, cg->dirs[cg->cpuacct], n);
    if (cg->v2) {
        uint64_t us;
        if (read_key(dir, "cpu.stat", "usage_usec", &us) != 0)
            return -1;
        *ms = us / 1000;
        return 0;
    }
    if (read_text(dir, "cpuacct.usage", buf, sizeof buf) <= 0)
        return -1;
    *ms = strtoull(buf, NULL, 10) / 1000000u;
    return 0;
}

bool sc_cgroup_oom_killed(const sc_cgroup_t *cg)
{
    uint64_t n = 0;
    if (!cg || !cg->made || cg->mem < 0)
        return false;
    const char *mem = cg->dirs[cg->mem];
    if (cg->v2)
        return read_key(mem, "memory.events", "oom_kill", &n) == 0 && n > 0;
    /* v1: "oom_kill N" since Linux 4.13; before that, hitting the limit at all */
    if (read_key(mem, "memory.oom_control", "oom_kill", &n) == 0)
        return n > 0;
    char buf[64];
    return read_text(mem, "memory.failcnt", buf, sizeof buf) > 0 && strtoull(buf, NULL, 10) > 0;
}

/* Removes the empty VM cgroups in parent whose sidecar (the pid in the name) is gone. */
static void reap_in(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        static const char prefix[] = "secure-exec-";
        char *end;
        if (strncmp(de->d_name, prefix, sizeof prefix - 1) != 0)
            continue;
        long pid = strtol(de->d_name + sizeof prefix - 1, &end, 10);
        if (end == de->d_name + sizeof prefix - 1 || *end != '-' || pid <= 0 || pid == getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char dir[CG_PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", parent, de->d_name) >= (int)sizeof dir)
            continue;
        /* Safe: rmdir removes only a cgroup without tasks; a live one stays (EBUSY). Its
         * process cgroups go first. */
        each_proc_dir(dir, rmdir_in);
        rmdir(dir);
    }
    if (d)
        closedir(d);
}

void sc_cgroup_reap_stale(void)
{
    struct statfs sfs;
    bool v2 = statfs(CG_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_MAGIC;
    for (int i = 0; i < (v2 ? 1 : CG_NCTRL); i++) {
        char parent[CG_PATH_MAX];
        bool in_leaf;
        if (v2) {
            if (v2_parent(parent, sizeof parent, &in_leaf) != 0)
                continue;
        } else {
            char *probe = v1_dir(ctrl_names[i], "x");
            if (!probe)
                continue;
            snprintf(parent, sizeof parent, "%s", probe);
            free(probe);
            parent[strlen(parent) - 2] = '\0'; /* drop "/x" */
        }
        reap_in(parent);
    }
}

sc_cgroup_t *sc_cgroup_create(const char *vm_id, const sc_resource_limits_t *limits, char *err,
                              size_t errlen)
{
    sc_cgroup_t *cg = sc_cgroup_plan(vm_id, limits, 0, 0, err, errlen);
    if (cg && sc_cgroup_make(cg) != 0) {
        sc_cgroup_error(cg, err, errlen);
        sc_cgroup_free(cg);
        return NULL;
    }
    return cg;
}

int sc_cgroup_destroy(sc_cgroup_t *cg)
{
    if (!cg)
        return 0;
    /* Kills, then waits up to a second for the tasks to go (only where blocking is fine:
     * shutdown and tests; the loop has sc_cgroup_unmake run on its worker, and retries). */
    int rc = -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        if (sc_cgroup_unmake(cg) == 0) {
            rc = 0;
            break;
        }
        if (errno != EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sc_cgroup_free(cg);
    return rc;
}
