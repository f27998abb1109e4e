/*
 * exec.h - guest execution: the hardening every guest process gets right before execve
 * (sandbox.c), and what the sidecar reads about a VM's processes from the VM's own procfs
 * (procinfo.c).
 */
#ifndef SC_EXEC_H
#define SC_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bare.h"
#include "vmconfig.h"

/* ---- sandbox.c: applied in the guest child, after it became uid/gid 1000 ---- */

/* Directories of host software bind-mounted read-only into every VM, and the host callback
 * program (read and execute are always allowed there, whatever the fs policy says: they are
 * not VM data). */
extern const char *const sc_runtime_dirs[];

typedef enum sc_fs_access {
    SC_FS_ACCESS_POLICY,    /* the VM's fs policy decides (reference §8), as Landlock can */
    SC_FS_ACCESS_READ_ONLY, /* WASM READ_ONLY tier: reads as the policy allows, no writes */
    SC_FS_ACCESS_NONE       /* WASM ISOLATED tier: no VM file at all */
} sc_fs_access_t;

typedef struct sc_sandbox_spec {
    const sc_policy_t *policy;           /* fs rules become Landlock rules (fail closed) */
    sc_fs_access_t fs_access;
    const sc_resource_limits_t *limits;  /* rlimits: open files, file size, CPU time, ... */
    bool allow_loopback_tcp;             /* Landlock TCP rules: see landlock.c */
    /* Keep CAP_DAC_OVERRIDE and CAP_FOWNER (permitted, effective, inheritable and ambient), so
     * that owner and mode bits do not limit the guest in its VM's own files, as the reference
     * does (only the fs policy does). Only in a user namespace that does not map host id 0 (a
     * VM's): refused elsewhere. Needs sc_sandbox_drop_caps(true). */
    bool keep_fs_caps;
} sc_sandbox_spec_t;

/*
 * Hardens the calling process for good: no_new_privs, every capability gone (bounding and
 * ambient sets too) but the two of keep_fs_caps, rlimits from the VM limits, Landlock rules derived
 * from the fs policy (paths as the guest sees them: call after pivot_root), Landlock signal and
 * abstract-socket scoping, and the seccomp filter. Runs in a freshly forked single-threaded child
 * just before execve. Returns 0, or -1 with a message (the caller must then _exit, never exec).
 */
int sc_sandbox_apply(const sc_sandbox_spec_t *spec, char *err, size_t errlen);

/*
 * The guest child's order, each step needing what the one before leaves:
 *   1. namespaces, mounts, pivot_root (privileged in the VM's user namespace);
 *   2. sc_sandbox_drop_caps(keep_fs_caps): empties the bounding set and locks the securebits,
 *      which needs CAP_SETPCAP, and the uid change of step 3 takes that away; with
 *      keep_fs_caps, the two file capabilities become inheritable and keep-caps is on;
 *   3. setgroups, setresgid(1000, ...), setresuid(1000, ...): the kernel clears the effective
 *      and ambient sets, and the permitted one unless keep-caps is on;
 *   4. sc_sandbox_apply() (it fails when the bounding set is not empty; with keep_fs_caps it
 *      raises the two as ambient capabilities and drops every other one);
 *   5. close stray fds, execve.
 * Returns 0, or -1 with a message.
 */
int sc_sandbox_drop_caps(bool keep_fs_caps, char *err, size_t errlen);

/* The two kernel filters sc_sandbox_apply installs, callable alone for the tests. Both need
 * no_new_privs set first (or CAP_SYS_ADMIN). landlock.c / seccomp in sandbox.c. */
int sc_landlock_apply(const sc_sandbox_spec_t *spec, char *err, size_t errlen);
int sc_seccomp_apply(char *err, size_t errlen);
/* Compiles the seccomp filter once, in this process, so that every later sc_seccomp_apply (in
 * forked children too) only loads it: about 0.7 ms less per guest start. */
int sc_seccomp_prepare(char *err, size_t errlen);

/* ---- cgroup.c: each VM's cgroups (processes, memory, CPU); cgtree.c: one per top-level
 * guest process, below them, made and ended by the VM's supervisor ---- */

typedef struct sc_cgroup sc_cgroup_t;

#define SC_CGROUP_MAX_FDS 5 /* hierarchies a VM's cgroup can span (v1) */

/*
 * Plans the VM's cgroups under the sidecar's own (paths only; nothing changes yet): cgroup v2
 * when /sys/fs/cgroup is cgroup2, else the v1 pids, memory, cpu, cpuacct and freezer
 * hierarchies. pids.max = max_processes; memory limit = max_memory_bytes when set, swap
 * included; a CPU quota of cpu_count CPUs when set. The VM's directories will belong to
 * owner_uid:owner_gid (the VM's root), which may make and remove cgroups below them. vm_id:
 * [A-Za-z0-9._-], 1-64 bytes. NULL with a message when cgroups cannot be used.
 */
sc_cgroup_t *sc_cgroup_plan(const char *vm_id, const sc_resource_limits_t *limits,
                            uint32_t owner_uid, uint32_t owner_gid, char *err, size_t errlen);
/* Makes the planned cgroups, sets the limits and hands the directories over: 0, or -1 with
 * nothing left behind (sc_cgroup_error says why). System calls only: fit for the worker. */
int sc_cgroup_make(sc_cgroup_t *cg);
/* SIGKILL to every task of the VM's cgroups, its processes' included; never blocks. */
void sc_cgroup_kill_all(sc_cgroup_t *cg);
/* Kills every task and removes the cgroups: 0, or -1 with errno (EBUSY while tasks remain:
 * try again later). System calls only: fit for the worker. */
int sc_cgroup_unmake(sc_cgroup_t *cg);
/* Frees cg (made cgroups not unmade stay: a later sidecar's reap removes them). */
void sc_cgroup_free(sc_cgroup_t *cg);
/* What sc_cgroup_make failed at, as text in buf. */
const char *sc_cgroup_error(const sc_cgroup_t *cg, char *buf, size_t len);

/* plan + make, and unmake (retrying for up to a second) + free: for tests and the exit. */
sc_cgroup_t *sc_cgroup_create(const char *vm_id, const sc_resource_limits_t *limits, char *err,
                              size_t errlen);
int sc_cgroup_destroy(sc_cgroup_t *cg);

/* Moves pid (as the sidecar sees it) and its future children into the VM's cgroups: do it
 * before the child execs or forks (it can wait on a pipe). Returns 0, or -1 with a message. */
int sc_cgroup_add_pid(const sc_cgroup_t *cg, pid_t pid, char *err, size_t errlen);
/* Opens the cgroup.procs file of each of the VM's cgroups for writing (*n of them): a process
 * that writes "0" to each joins the VM's cgroups, with the sidecar's authority. */
int sc_cgroup_open_procs(const sc_cgroup_t *cg, int fds[SC_CGROUP_MAX_FDS], size_t *n, char *err,
                         size_t errlen);
/* Whether the OOM killer has killed a process of the VM. */
bool sc_cgroup_oom_killed(const sc_cgroup_t *cg);
/* CPU time of every task that ever ran in the cgroup of process n (proc-<n>), in ms; -1 when
 * the kernel does not say. */
int sc_cgroup_proc_cpu_ms(const sc_cgroup_t *cg, uint32_t n, uint64_t *ms);
/* Removes VM cgroups left behind by sidecars that died without cleaning up (a SIGKILL); only
 * empty ones whose sidecar pid is gone. */
void sc_cgroup_reap_stale(void);

/* The VM's cgroup directories as descriptors, for its supervisor. */
typedef struct sc_cgroup_fds {
    bool v2;
    int n;
    int dir[SC_CGROUP_MAX_FDS];       /* O_PATH | O_DIRECTORY, one per hierarchy */
    bool freezer[SC_CGROUP_MAX_FDS];  /* v1: this one holds the freezer */
} sc_cgroup_fds_t;

int sc_cgroup_open_tree(const sc_cgroup_t *cg, sc_cgroup_fds_t *out, char *err, size_t errlen);
void sc_cgroup_fds_close(sc_cgroup_fds_t *fds);

/*
 * cgtree.c, for the supervisor, on the directories it was handed: makes "proc-<n>" in each
 * and opens each one's cgroup.procs for writing into procfds (fds->n of them; a process that
 * writes "0" to each moves in, with its later children); kills every task in it (v2
 * cgroup.kill; v1 freeze, kill, thaw); removes it. 0 or an errno; kill never blocks.
 */
int sc_cgtree_make(const sc_cgroup_fds_t *fds, uint32_t n, int *procfds);
void sc_cgtree_kill(const sc_cgroup_fds_t *fds, uint32_t n);
int sc_cgtree_remove(const sc_cgroup_fds_t *fds, uint32_t n);
/* What both sides use on a cgroup of the VM's: SIGKILL to every task listed in the cgroup.procs
 * file dirfd/procs (never the caller, nor a pid 1), how many were listed; v1 freezing or
 * thawing through the freezer.state file dirfd/state (freezing waits briefly for FROZEN). */
int sc_cgtree_kill_listed(int dirfd, const char *procs);
void sc_cgtree_freeze(int dirfd, const char *state, bool frozen);
/* v2: moves the calling process into the leaf of the sidecar's cgroup that cgroup.c uses, so
 * that the VMs' cgroups can get controllers beside it (no-op on v1); 0 or -1. */
int sc_cgroup_join_leaf(void);

/* ---- procinfo.c: the VM's processes and sockets, read from its procfs ---- */

/* A process of the VM, as its own procfs shows it (pids are the VM's). */
typedef struct sc_proc {
    pid_t pid, ppid, pgid, sid;
    char state;         /* 'R', 'S', 'T', 'Z', ... from /proc/PID/stat */
    bool has_exit_status; /* a zombie whose stat shows its wait status: */
    int exit_status;      /* that status, as waitpid(2) would report it */
    char comm[64];      /* the executable's base name */
    char **argv;        /* from /proc/PID/cmdline (NULL-terminated; malloc'd) */
    char cwd[4096];     /* readlink /proc/PID/cwd, as a VM path ("" if unreadable) */
    uint64_t sig_caught, sig_ignored; /* SigCgt and SigIgn of /proc/PID/status */
    bool has_cg_proc;   /* in the cgroup of a top-level process: */
    uint32_t cg_proc;   /* its number (proc-N, the spawn's token) */
} sc_proc_t;

typedef struct sc_proc_list {
    sc_proc_t *items;
    size_t len;
} sc_proc_list_t;

/* Every process under proc_root (e.g. "/proc/<supervisor pid>/root/proc"), sorted by pid. */
int sc_procs_read(const char *proc_root, sc_proc_list_t *out);
void sc_procs_free(sc_proc_list_t *list);
/* Whether the text of a /proc/<pid>/cgroup file (as the sidecar reads it) puts the process in
 * the cgroup of a VM's top-level process, ".../secure-exec-<...>/proc-N"; N in *n. */
bool sc_cgroup_text_proc(const char *text, uint32_t *n);
/* true when pid is ancestor (or the same process). */
bool sc_procs_descends(const sc_proc_list_t *list, pid_t pid, pid_t ancestor);

typedef enum sc_sock_kind { SC_SOCK_TCP_LISTEN, SC_SOCK_UDP, SC_SOCK_UNIX_LISTEN } sc_sock_kind_t;

typedef struct sc_socket {
    sc_sock_kind_t kind;
    char host[64];  /* "127.0.0.1", "0.0.0.0", "::1", "::" (TCP/UDP) */
    uint16_t port;
    char path[108]; /* UNIX */
    pid_t owner;    /* a process holding it, 0 if none found */
} sc_socket_t;

typedef struct sc_socket_list {
    sc_socket_t *items;
    size_t len;
} sc_socket_list_t;

/* Listening TCP sockets, bound UDP sockets and listening unix sockets of the VM's network
 * namespace (from proc_root/net/{tcp,tcp6,udp,udp6,unix}), with an owning pid from the fds. */
int sc_sockets_read(const char *proc_root, sc_socket_list_t *out);
void sc_sockets_free(sc_socket_list_t *list);
/* Reference §7 host matching: absent matches all; 0.0.0.0 and :: also match loopback;
 * localhost matches loopback; 127.0.0.1 does not match 0.0.0.0. */
bool sc_socket_host_matches(const char *wanted, const char *actual);

/* Parses KillProcess's signal: 0-31 or a name with or without SIG, any case (IOT, POLL
 * aliases). Returns the number, or -1. */
int sc_parse_signal(const char *text, size_t len);

#endif
