/* vmexec.h - a VM's guest processes, as the sidecar tracks them (vmexec.c, execreq.c, procreq.c).
 */
#ifndef SC_VMEXEC_H
#define SC_VMEXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "offload.h"

struct sc_server;
struct sc_vm;
struct sc_deferred;
typedef struct sc_cgroup sc_cgroup_t;

/* A top-level guest process (started by ExecuteRequest). */
typedef struct sc_gproc {
    struct sc_gproc *next;
    struct sc_server *srv;
    struct sc_vm *vm;
    char *id;                /* the host's processId */
    pid_t pid;               /* the VM's pid (0 while starting) */
    char *command;           /* what the permission and the snapshot name it by */
    char *file;              /* what was executed (for messages) */
    /* starting: the supervisor has not answered yet; the ExecuteRequest waits in reply */
    bool starting, sent;
    uint32_t token;                   /* the spawn's number; also its cgroup's, proc-<token> */
    struct sc_deferred *reply;
    int sendfds[4];                   /* spec, stdin, stdout, stderr */
    int nsendfds;
    sc_timer_t *spawn_timer;
    int pending_signal;               /* a KillProcess that came while starting */
    sc_timer_t *cpu_timer;            /* polls its cgroup's CPU time against maxCpuTimeMs */
    char *cwd;               /* the guest cwd it started in */
    int stdin_fd, out_fd[2]; /* our ends: stdin to write, stdout/stderr to read */
    sc_watch_t *win, *wout[2];
    uint8_t *inbuf; /* stdin bytes accepted but not yet written to the pipe */
    size_t inoff, inlen, incap;
    bool stdin_close_pending, stdin_closed;
    sc_timer_t *wall_timer;
    bool timed_out;
    /* exited, its output still draining (the id stays busy until the exit event) */
    bool exit_pending;
    sc_timer_t *drain_timer;
    /* once exited (kept a while for GetProcessSnapshot) */
    bool exited;
    int exit_code;
    uint64_t exited_at;
    /* guest-spawned descendants seen by snapshots: pid -> "child-N" under its parent */
    struct sc_child *children;
    size_t nchildren, capchildren;
    uint32_t next_child; /* the N its next direct child gets (from 1) */
} sc_gproc_t;

/* A descendant of a top-level process, named when a snapshot first sees it. */
typedef struct sc_child {
    pid_t pid;
    char *id;          /* "parent/child-N[/child-M...]" */
    uint32_t next_num; /* the N its own first child gets */
} sc_child_t;

/* Where a VM's supervisor is. */
typedef enum sc_sup_state {
    SC_SUP_DOWN,     /* none: the next ExecuteRequest starts one */
    SC_SUP_STARTING, /* cloned, setting the VM up (SV_READY, then SV_RUNNING, will come) */
    SC_SUP_RUNNING,  /* serving spawns */
    SC_SUP_STOPPING  /* its processes and then itself are being ended (sc_vmexec_stop) */
} sc_sup_state_t;

typedef void sc_vmexec_done_fn(struct sc_server *srv, struct sc_vm *vm);

typedef struct sc_vmexec {
    struct sc_server *srv;
    sc_sup_state_t state;
    pid_t sup_pid; /* the supervisor's host pid (our child), 0 once reaped */
    int ctl;       /* our end of the control socket, -1 when none */
    sc_watch_t *wctl;
    sc_timer_t *start_timer;
    uint32_t next_token;
    /* stopping: a grace for exits, then SIGKILL, then the supervisor, then the cgroups */
    bool stop_emit;
    int stop_phase;
    sc_timer_t *stop_timer;
    int stop_rounds;
    sc_vmexec_done_fn *stop_done;
    char stop_why[640]; /* what pending ExecuteRequests are told */
    sc_gproc_t *procs;  /* live */
    sc_gproc_t *exited; /* recently exited, for snapshots */
    sc_cgroup_t *cgroup;
    sc_job_t cg_job; /* making or unmaking the VM's cgroups, on the worker thread */
    bool cg_busy;
    int cg_rc, cg_errno;
    char **env; /* the VM env, filtered by the env policy: "K=V" */
    size_t nenv;
    char proc_root[64]; /* "/proc/<sup_pid>/root/proc": the VM's procfs */
    /* ConfigureVm.commandPermissions: command name -> WasmPermissionTier */
    char **tier_names;
    int *tiers;
    size_t ntiers;
    /* loopbackExemptPorts: the host loopback ports guests reach (portfwd.c) */
    uint16_t *exempt_ports;
    size_t nexempt;
    struct sc_fwd *fwd;
} sc_vmexec_t;

#endif
