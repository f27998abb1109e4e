/*
 * supervisor.h - each VM's supervisor: PID 1 of the VM, started by the sidecar with fresh
 * mount, PID, network, IPC and UTS namespaces (and a user namespace of its own once its
 * mounts are done). It spawns guest processes on request and reports their exits, over a
 * private SOCK_SEQPACKET socket whose messages are defined here.
 */
#ifndef SC_SUPERVISOR_H
#define SC_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "fs.h"

/* sidecar -> supervisor */
enum {
    SV_MAPPED = 1, /* the uid/gid maps of the supervisor's user namespace are written */
    SV_SPAWN,      /* spawn a guest: a memfd with the spec, then its stdin, stdout, stderr */
    SV_KILL,       /* kill(pid, sig) inside the VM (pid < 0: a process group) */
    SV_KILL_ALL,   /* kill(-1, sig): every guest process */
    SV_KILL_TREE   /* SIGKILL to every process of spawn token's cgroup (pid: its process) */
};

/* supervisor -> sidecar */
enum {
    SV_READY = 100,  /* namespaces and mounts are set up; the user namespace waits for maps */
    SV_RUNNING,      /* mapped: ready for SV_SPAWN */
    SV_SPAWNED,      /* token, pid (the VM's pid) */
    SV_SPAWN_FAILED, /* token, err (errno), text */
    SV_EXITED,       /* pid, status (as waitpid reports it), cpu_ms */
    SV_FATAL         /* the supervisor could not set the VM up: text */
};

/* The most descriptors one message carries: SV_SPAWN's four. */
#define SV_MAX_FDS 4

typedef struct sv_msg {
    uint32_t type;
    uint32_t token;
    int32_t pid;
    int32_t arg;     /* signal (SV_KILL*), wait status (SV_EXITED), errno (SV_SPAWN_FAILED) */
    uint64_t cpu_ms; /* SV_EXITED: user + system CPU time */
    char text[512];  /* SV_SPAWN_FAILED, SV_FATAL */
} sv_msg_t;

/*
 * A spawn request, serialized into a sealed memfd by sv_spec_create: a header, then
 * NUL-terminated strings: file (absolute guest path, or a name searched in the PATH of envp),
 * argv..., envp..., cwd, then the fs and network scopes of the VM's current policy (the
 * supervisor was cloned with the policy of its time; ConfigureVm may have changed it since).
 */
typedef struct sv_spawn {
    const char *file;
    const char *const *argv;
    size_t argc;
    const char *const *envp;
    size_t envc;
    const char *cwd;
    sc_fs_access_t fs_access;
    const sc_policy_t *policy;
} sv_spawn_t;

typedef struct sv_spawn_spec {
    uint32_t magic; /* SV_SPEC_MAGIC */
    uint32_t argc, envc;
    uint32_t fs_access; /* sc_fs_access_t */
    uint64_t strings_len;
} sv_spawn_spec_t;

#define SV_SPEC_MAGIC 0x53455332u /* "SES2" */
#define SV_SPEC_MAX ((uint64_t)8 << 20)

/* Writes s into a new memfd (sealed); returns it, or -1 with errno (E2BIG beyond SV_SPEC_MAX). */
int sv_spec_create(const sv_spawn_t *s);

/* A spawn spec as read back: the strings point into buf; argv and envp are NULL-terminated. */
typedef struct sv_spec_view {
    const sv_spawn_spec_t *hdr;
    const char *file;
    char **argv, **envp;
    const char *cwd;
    sc_policy_t policy; /* the fs and network domains; the others deny */
    char *buf;
} sv_spec_view_t;

/* Reads and checks a spec from memfd; 0, or -1 when it is malformed (free the view either way). */
int sv_spec_read(int memfd, sv_spec_view_t *v);
void sv_spec_view_free(sv_spec_view_t *v);

/* What the supervisor needs to build the VM's view (all paths in the sidecar's namespace). */
typedef struct sv_config {
    const char *root_dir; /* the VM's overlay root */
    const char *shm_dir;  /* the VM's /dev/shm, in its own tmpfs */
    const sc_resource_limits_t *limits;
    int ctl_fd; /* the supervisor's end of the control socket */
    const int *cg_fds; /* the VM's cgroup.procs files (written "0" to join them first) */
    int ncg;
    const sc_cgroup_fds_t *cg_tree; /* the VM's cgroup directories, its processes' go below */
    /* host callback commands (cbview.c), each NULL when the VM has none: the writable overlay
     * guests see read-only at /usr/bin (and /bin when it is the same directory), and the
     * program and socket bound into their /dev */
    const char *cb_bin_dir, *cb_program, *cb_socket;
} sv_config_t;

/* The supervisor's body, in the freshly cloned child; never returns. */
void sv_main(const sv_config_t *cfg) __attribute__((noreturn));

/* Host directories every guest sees read-only at the same path (NULL-terminated); the VM
 * root gets an empty directory for each one it lacks (rootfs.c). */
extern const char *const sv_runtime_binds[];

#endif
