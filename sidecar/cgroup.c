/*
 * cgroup.c - PRIVILEGED: one cgroup per VM for what rlimits cannot do per VM: the number of
 * processes (pids.max), memory (memory.max / memory.limit_in_bytes, swap included) and CPU
 * (a quota of cpuCount CPUs), and below it one cgroup per top-level guest process, which
 * holds that process and every descendant it makes, whatever session or process group they
 * move to: that is what a time limit, a kill of the tree or the process's exit ends, and what
 * its CPU time is read from. cgroup v2 when /sys/fs/cgroup is cgroup2, else the v1 pids,
 * memory, cpu, cpuacct and freezer hierarchies, always under the cgroup the sidecar itself is
 * in.
 *
 * Trust model: the sidecar writes to cgroupfs as root (or as a delegated user). Every
 * directory it makes is "secure-exec-<sidecar pid>-<vm id>" directly under its own cgroup, or
 * "proc-<n>" directly under such a directory, with the VM id checked to be a plain name, so
 * nothing here can reach another part of the hierarchy. A child cgroup can never exceed its
 * ancestors, so creating one and writing limits can only narrow what the sidecar already
 * has. Tasks are moved only downward, from the sidecar's cgroup into the VM's, and from the
 * VM's into one of its process cgroups; the only signals sent go to the tasks listed in the
 * VM's own cgroups. A process cgroup's cgroup.procs, opened here for writing, is handed to
 * the VM's supervisor so that its freshly forked child moves itself in (the kernel checks the
 * credentials of the opener, not the writer's); the supervisor closes it before anything else
 * runs in the VM. When cgroups cannot be used, the caller falls back to rlimits and process
 * groups (a guest's grandchildren then escape that count).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
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
/* v1 hierarchies the VM can do without (limits then say so in the log) */
#define CG_OPTIONAL(i) ((i) == CG_CPUACCT || (i) == CG_CPU || (i) == CG_FREEZER)
#define CPU_PERIOD_US 100000u

struct sc_cgroup_proc {
    struct sc_cgroup_proc *next;
    sc_cgroup_t *cg;
    char *dirs[CG_NCTRL]; /* as the VM's: "<vm dir>/proc-<n>", NULL where the VM has none */
};

struct sc_cgroup {
    bool v2;
    char *dirs[CG_NCTRL]; /* v2: dirs[0] only; v1: per controller, NULL when absent or shared */
    const char *mem_dir;  /* the directory holding the memory controller, or NULL */
    const char *cpu_dir;  /* the one holding cpu usage (v2: cpu.stat; v1: cpuacct.usage) */
    const char *freezer_dir; /* v1 freezer, or NULL */
    int cpuacct_index;       /* CG_* of cpu_dir (v1), or 0 */
    int freezer_index;
    sc_cgroup_proc_t *procs;
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == size - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
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

/* Kills what is listed in dir/cgroup.procs; how many were listed. (v1 has no cgroup.kill: a
 * listed task that exits and whose pid is reused before the kill would be hit instead; the
 * freezer, where there is one, keeps the listed tasks from exiting or forking meanwhile.) */
static int kill_listed(const char *dir)
{
    char buf[65536];
    if (read_text(dir, "cgroup.procs", buf, sizeof buf) < 0)
        return 0;
    int n = 0;
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        /* Safe: only tasks of the VM's own cgroups; never ourselves or init. */
        if (pid > 1 && pid != getpid())
            kill((pid_t)pid, SIGKILL);
        n++;
    }
    return n;
}

/* v1: whether the freezer of dir reports FROZEN. */
static bool frozen(const char *dir)
{
    char buf[64];
    return read_text(dir, "freezer.state", buf, sizeof buf) > 0 && strncmp(buf, "FROZEN", 6) == 0;
}

/*
 * Kills every task of the cgroup dirs[] (one directory per hierarchy) and of its process
 * cgroups (children, named in procs). v2: cgroup.kill, which the kernel applies to the whole
 * subtree at once, without a pid race. v1: the tasks are frozen first (where there is a
 * freezer), so none can fork or exit between the listing and the signal, then killed and
 * thawed (SIGKILL takes effect at the thaw). Never blocks: what is still starting to freeze
 * is killed anyway, and callers that must see the cgroup empty check again later.
 */
static void kill_tree(const sc_cgroup_t *cg, char *const dirs[CG_NCTRL], bool with_procs)
{
    if (cg->v2) {
        /* Safe: the kernel kills the tasks of this cgroup and its descendants only. */
        if (dirs[0])
            write_text(dirs[0], "cgroup.kill", "1");
        return;
    }
    const char *fz = cg->freezer_index ? dirs[cg->freezer_index] : NULL;
    /* Safe: freezing stops only the VM's own tasks, and they are thawed below. */
    if (fz && write_text(fz, "freezer.state", "FROZEN") == 0) {
        for (int i = 0; i < 50 && !frozen(fz); i++)
            sched_yield();
    }
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!dirs[i])
            continue;
        kill_listed(dirs[i]);
        for (const sc_cgroup_proc_t *p = with_procs ? cg->procs : NULL; p; p = p->next)
            if (p->dirs[i])
                kill_listed(p->dirs[i]);
    }
    if (fz)
        write_text(fz, "freezer.state", "THAWED");
}

/* Whether dir (one directory of each hierarchy in dirs) still holds a task. */
static bool populated(const sc_cgroup_t *cg, char *const dirs[CG_NCTRL])
{
    char buf[256];
    if (cg->v2) {
        uint64_t n = 0;
        return dirs[0] && read_key(dirs[0], "cgroup.events", "populated", &n) == 0 && n != 0;
    }
    for (int i = 0; i < CG_NCTRL; i++)
        if (dirs[i] && read_text(dirs[i], "cgroup.procs", buf, sizeof buf) > 0)
            return true;
    return false;
}

/* rmdir of every directory in dirs (innermost first is the caller's job): 0 when all are gone,
 * -1 with errno (EBUSY: tasks remain) for the first that could not be removed. Removed ones are
 * freed and set to NULL, so a later call only retries the rest. */
static int remove_dirs(char *dirs[CG_NCTRL])
{
    int rc = 0, saved = 0;
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!dirs[i])
            continue;
        /* Safe: rmdir removes only an empty cgroup this file made. */
        if (rmdir(dirs[i]) == 0 || errno == ENOENT) {
            free(dirs[i]);
            dirs[i] = NULL;
        } else if (rc == 0) {
            rc = -1;
            saved = errno;
        }
    }
    errno = saved;
    return rc;
}

static void free_dirs(char *dirs[CG_NCTRL])
{
    for (int i = 0; i < CG_NCTRL; i++) {
        free(dirs[i]);
        dirs[i] = NULL;
    }
}

static void discard(sc_cgroup_t *cg)
{
    for (int i = 0; i < CG_NCTRL; i++)
        if (cg->dirs[i])
            rmdir(cg->dirs[i]);
    free_dirs(cg->dirs);
    free(cg);
}

static int set_limits(const sc_cgroup_t *cg, const sc_resource_limits_t *lim, char *err,
                      size_t errlen)
{
    char v[64];
    const char *pids_dir = cg->v2 ? cg->dirs[0] : cg->dirs[CG_PIDS];
    fmt_limit(v, sizeof v, lim->max_processes);
    /* Safe: a limit on our own child cgroup, and numbers only lower what we have. */
    if (pids_dir && write_text(pids_dir, "pids.max", v) != 0) {
        snprintf(err, errlen, "cgroup %s/pids.max: %s", pids_dir, strerror(errno));
        return -1;
    }
    if (lim->cpu_count) {
        /* cpuCount CPUs' worth of time in every period, spread over any of the host's CPUs */
        uint64_t quota = lim->cpu_count * (uint64_t)CPU_PERIOD_US;
        const char *cpu = cg->v2 ? cg->dirs[0] : cg->dirs[CG_CPU];
        int rc = 0;
        if (cg->v2) {
            snprintf(v, sizeof v, "%" PRIu64 " %u", quota, CPU_PERIOD_US);
            rc = write_text(cpu, "cpu.max", v);
        } else if (cpu) {
            snprintf(v, sizeof v, "%u", CPU_PERIOD_US);
            rc = write_text(cpu, "cpu.cfs_period_us", v);
            snprintf(v, sizeof v, "%" PRIu64, quota);
            if (rc == 0)
                rc = write_text(cpu, "cpu.cfs_quota_us", v);
        }
        if (rc != 0) {
            snprintf(err, errlen, "cgroup %s: cannot set the CPU quota: %s", cpu, strerror(errno));
            return -1;
        }
    }
    if (!lim->max_memory_bytes)
        return 0;
    fmt_limit(v, sizeof v, lim->max_memory_bytes);
    const char *mem = cg->v2 ? "memory.max" : "memory.limit_in_bytes";
    if (write_text(cg->mem_dir, mem, v) != 0) {
        snprintf(err, errlen, "cgroup %s/%s: %s", cg->mem_dir, mem, strerror(errno));
        return -1;
    }
    /* Swap must not stretch the limit: v2 forbids it, v1 caps memory+swap at the same value
     * (either file is absent without swap accounting, which is fine). */
    const char *swap = cg->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes";
    if (write_text(cg->mem_dir, swap, cg->v2 ? "0" : v) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cgroup %s/%s: %s", cg->mem_dir, swap, strerror(errno));
        return -1;
    }
    return 0;
}

/* v2: pids, memory and cpu must be enabled for the children of parent. A cgroup with tasks
 * cannot have children with controllers (the "no internal tasks" rule), so when the sidecar's
 * own cgroup holds it, the sidecar moves itself into a leaf next to the VMs' cgroups first. */
static int v2_enable(const char *parent, bool memory, bool cpu, char *err, size_t errlen)
{
    char avail[1024];
    if (read_text(parent, "cgroup.controllers", avail, sizeof avail) < 0)
        avail[0] = '\0';
    if (!strstr(avail, "pids") || (memory && !strstr(avail, "memory")) ||
        (cpu && !strstr(avail, "cpu"))) {
        snprintf(err, errlen, "cgroup v2: %s lacks the pids%s%s controller", parent,
                 memory ? ", memory" : "", cpu ? ", cpu" : "");
        return -1;
    }
    char want[64];
    snprintf(want, sizeof want, "+pids%s%s", memory ? " +memory" : "", cpu ? " +cpu" : "");
    if (write_text(parent, "cgroup.subtree_control", want) == 0)
        return 0;
    if (errno == EBUSY) {
        char leaf[CG_PATH_MAX];
        int n = snprintf(leaf, sizeof leaf, "%s/%s", parent, SIDECAR_LEAF);
        /* Safe: moves only the sidecar itself (single-threaded), within its own cgroup. */
        if (n < (int)sizeof leaf && (mkdir(leaf, 0755) == 0 || errno == EEXIST) &&
            write_text(leaf, "cgroup.procs", "0") == 0 &&
            write_text(parent, "cgroup.subtree_control", want) == 0)
            return 0;
    }
    snprintf(err, errlen, "cgroup v2: cannot enable controllers in %s: %s", parent,
             strerror(errno));
    return -1;
}

static int create_v2(sc_cgroup_t *cg, const char *name, bool memory, bool cpu, char *err,
                     size_t errlen)
{
    char own[CG_PATH_MAX], parent[CG_PATH_MAX], dir[CG_PATH_MAX];
    if (own_path("", own, sizeof own) != 0) {
        snprintf(err, errlen, "cgroup v2: no 0:: line in /proc/self/cgroup");
        return -1;
    }
    size_t ol = strlen(own), ll = strlen(SIDECAR_LEAF);
    if (ol > ll && own[ol - ll - 1] == '/' && strcmp(own + ol - ll, SIDECAR_LEAF) == 0)
        own[ol - ll - 1] = '\0'; /* we moved there earlier: the VMs go next to the leaf */
    snprintf(parent, sizeof parent, "%s%s", CG_ROOT, strcmp(own, "/") == 0 ? "" : own);
    if (v2_enable(parent, memory, cpu, err, errlen) != 0)
        return -1;
    /* Safe: a new child of our own cgroup, named by us (see the top of the file). */
    if (snprintf(dir, sizeof dir, "%s/%s", parent, name) >= (int)sizeof dir ||
        mkdir(dir, 0755) != 0) {
        snprintf(err, errlen, "cgroup v2: mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    cg->dirs[0] = strdup(dir);
    if (!cg->dirs[0]) {
        rmdir(dir);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cg->mem_dir = memory ? cg->dirs[0] : NULL;
    cg->cpu_dir = cg->dirs[0]; /* cpu.stat is there whether or not the cpu controller is */
    return 0;
}

static int create_v1(sc_cgroup_t *cg, const char *name, bool memory, bool cpu, char *err,
                     size_t errlen)
{
    for (int i = 0; i < CG_NCTRL; i++) {
        if (i == CG_CPU && !cpu)
            continue;
        char *dir = v1_dir(ctrl_names[i], name);
        if (!dir) {
            if (!CG_OPTIONAL(i) && (i == CG_PIDS || memory)) {
                snprintf(err, errlen, "cgroup v1: no usable %s hierarchy", ctrl_names[i]);
                return -1;
            }
            if (i == CG_CPU)
                snprintf(err, errlen, "cgroup v1: no usable cpu hierarchy for cpuCount");
            continue;
        }
        int shared = -1; /* co-mounted controllers share one directory */
        for (int j = 0; j < i; j++)
            if (cg->dirs[j] && strcmp(cg->dirs[j], dir) == 0)
                shared = j;
        if (shared < 0) {
            /* Safe: a new child of our own cgroup, named by us (see the top of the file). */
            if (mkdir(dir, 0755) != 0) {
                snprintf(err, errlen, "cgroup v1: mkdir %s: %s", dir, strerror(errno));
                free(dir);
                return -1;
            }
            cg->dirs[i] = dir;
        } else {
            free(dir);
        }
        int at = shared >= 0 ? shared : i;
        if (i == CG_MEMORY)
            cg->mem_dir = cg->dirs[at];
        if (i == CG_CPUACCT) {
            cg->cpu_dir = cg->dirs[at];
            cg->cpuacct_index = at;
        }
        if (i == CG_FREEZER) {
            cg->freezer_dir = cg->dirs[at];
            cg->freezer_index = at;
        }
    }
    return 0;
}

sc_cgroup_t *sc_cgroup_create(const char *vm_id, const sc_resource_limits_t *limits, char *err,
                              size_t errlen)
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
    struct statfs sfs;
    cg->v2 = statfs(CG_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_MAGIC;
    bool memory = limits->max_memory_bytes != 0, cpu = limits->cpu_count != 0;
    int rc = cg->v2 ? create_v2(cg, name, memory, cpu, err, errlen)
                    : create_v1(cg, name, memory, cpu, err, errlen);
    if (rc == 0)
        rc = set_limits(cg, limits, err, errlen);
    if (rc != 0) {
        discard(cg);
        return NULL;
    }
    return cg;
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

/* ---- process cgroups ---- */

sc_cgroup_proc_t *sc_cgroup_proc_create(sc_cgroup_t *cg, uint32_t n, int fds[SC_CGROUP_MAX_FDS],
                                        size_t *nfds, char *err, size_t errlen)
{
    sc_cgroup_proc_t *p = calloc(1, sizeof *p);
    *nfds = 0;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cg = cg;
    for (int i = 0; i < CG_NCTRL; i++) {
        char dir[CG_PATH_MAX], procs[CG_PATH_MAX + 16];
        if (!cg->dirs[i])
            continue;
        if (snprintf(dir, sizeof dir, "%s/proc-%" PRIu32, cg->dirs[i], n) >= (int)sizeof dir)
            goto fail_errno;
        /* Safe: a child of the VM's own cgroup, named by us. */
        if (mkdir(dir, 0755) != 0 || !(p->dirs[i] = strdup(dir)))
            goto fail_errno;
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            goto fail_errno;
        fds[(*nfds)++] = fd;
    }
    p->next = cg->procs;
    cg->procs = p;
    return p;
fail_errno:
    snprintf(err, errlen, "cgroup: cannot make the process's cgroup: %s", strerror(errno));
    for (size_t i = 0; i < *nfds; i++)
        close(fds[i]);
    *nfds = 0;
    remove_dirs(p->dirs);
    free_dirs(p->dirs);
    free(p);
    return NULL;
}

void sc_cgroup_proc_kill(sc_cgroup_proc_t *p)
{
    kill_tree(p->cg, p->dirs, false);
}

bool sc_cgroup_proc_populated(const sc_cgroup_proc_t *p)
{
    return populated(p->cg, p->dirs);
}

int sc_cgroup_proc_cpu_ms(const sc_cgroup_proc_t *p, uint64_t *ms)
{
    const sc_cgroup_t *cg = p->cg;
    char buf[64];
    if (cg->v2) {
        uint64_t us;
        if (!p->dirs[0] || read_key(p->dirs[0], "cpu.stat", "usage_usec", &us) != 0)
            return -1;
        *ms = us / 1000;
        return 0;
    }
    const char *dir = cg->cpu_dir ? p->dirs[cg->cpuacct_index] : NULL;
    if (!dir || read_text(dir, "cpuacct.usage", buf, sizeof buf) <= 0)
        return -1;
    *ms = strtoull(buf, NULL, 10) / 1000000u;
    return 0;
}

int sc_cgroup_proc_remove(sc_cgroup_proc_t *p)
{
    if (remove_dirs(p->dirs) != 0)
        return -1;
    for (sc_cgroup_proc_t **pp = &p->cg->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    free(p);
    return 0;
}

/* ---- the whole VM ---- */

void sc_cgroup_kill_all(sc_cgroup_t *cg)
{
    if (cg)
        kill_tree(cg, cg->dirs, true);
}

void sc_cgroup_kill_procs(sc_cgroup_t *cg)
{
    for (sc_cgroup_proc_t *p = cg ? cg->procs : NULL; p; p = p->next)
        kill_tree(cg, p->dirs, false);
}

int sc_cgroup_remove(sc_cgroup_t *cg)
{
    if (!cg)
        return 0;
    int rc = 0, saved = 0;
    for (sc_cgroup_proc_t *p = cg->procs, *next; p; p = next) {
        next = p->next;
        if (sc_cgroup_proc_remove(p) != 0 && rc == 0) {
            rc = -1;
            saved = errno;
        }
    }
    if (rc == 0 && remove_dirs(cg->dirs) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0) {
        free(cg);
        return 0;
    }
    errno = saved;
    return -1;
}

void sc_cgroup_abandon(sc_cgroup_t *cg)
{
    if (!cg)
        return;
    while (cg->procs) {
        sc_cgroup_proc_t *p = cg->procs;
        cg->procs = p->next;
        free_dirs(p->dirs);
        free(p);
    }
    free_dirs(cg->dirs);
    free(cg);
}

bool sc_cgroup_oom_killed(const sc_cgroup_t *cg)
{
    uint64_t n = 0;
    if (!cg || !cg->mem_dir)
        return false;
    if (cg->v2)
        return read_key(cg->mem_dir, "memory.events", "oom_kill", &n) == 0 && n > 0;
    /* v1: "oom_kill N" since Linux 4.13; before that, hitting the limit at all */
    if (read_key(cg->mem_dir, "memory.oom_control", "oom_kill", &n) == 0)
        return n > 0;
    char buf[64];
    return read_text(cg->mem_dir, "memory.failcnt", buf, sizeof buf) > 0 &&
           strtoull(buf, NULL, 10) > 0;
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
        DIR *sub = opendir(dir);
        struct dirent *se;
        while (sub && (se = readdir(sub))) {
            char child[CG_PATH_MAX + 300];
            if (strncmp(se->d_name, "proc-", 5) == 0 &&
                snprintf(child, sizeof child, "%s/%s", dir, se->d_name) < (int)sizeof child)
                rmdir(child);
        }
        if (sub)
            closedir(sub);
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
        char own[CG_PATH_MAX], parent[CG_PATH_MAX];
        if (v2) {
            if (own_path("", own, sizeof own) != 0)
                continue;
            if (snprintf(parent, sizeof parent, "%s%s", CG_ROOT, own) >= (int)sizeof parent)
                continue;
            /* our own cgroup may have become the parent of our leaf */
            char *leaf = strstr(parent, "/" SIDECAR_LEAF);
            if (leaf && strcmp(leaf, "/" SIDECAR_LEAF) == 0)
                *leaf = '\0';
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

int sc_cgroup_destroy(sc_cgroup_t *cg)
{
    if (!cg)
        return 0;
    /* Kills, then waits up to a second for the tasks to go (only where blocking is fine:
     * shutdown and tests; the event loop uses sc_cgroup_kill_all and sc_cgroup_remove). */
    for (int attempt = 0; attempt < 100; attempt++) {
        sc_cgroup_kill_all(cg);
        if (sc_cgroup_remove(cg) == 0)
            return 0;
        if (errno != EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sc_cgroup_abandon(cg);
    return -1;
}
