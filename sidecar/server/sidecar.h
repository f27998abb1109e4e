/*
 * sidecar.h - the server: its configuration, its state (connections, sessions, VMs) and the
 * context of the request being handled. Shared by the sidecar's files; not installed.
 */
#ifndef SC_SIDECAR_H
#define SC_SIDECAR_H

#include <stdbool.h>
#include <stdint.h>

#include "bare.h"
#include "fs.h"
#include "io.h"
#include "layers.h"
#include "loop.h"
#include "offload.h"
#include "secure_exec_sidecar_v1.h"
#include "supervisor.h"
#include "vmconfig.h"
#include "vmexec.h"

/* Protocol constants: the schema every frame carries, and the versions Authenticate needs. */
#define SC_SCHEMA_NAME "secure-exec-sidecar"
#define SC_SCHEMA_VERSION 7
#define SC_PROTOCOL_VERSION 7
#define SC_BRIDGE_VERSION 1
#define SC_DEFAULT_MAX_FRAME (1u << 20)
#define SC_VERSION "0.1.0"

/* Bounds on state a host can create (the reference has none). */
#define SC_MAX_CONNECTIONS 1024
#define SC_MAX_SESSIONS 4096
#define SC_MAX_VMS 4096

typedef struct sc_config {
    char *sidecar_id;
    char *auth_token; /* NULL: any token is accepted on stdio */
    uint32_t max_frame_bytes;
    char *state_dir;  /* NULL: a private tmpfs */
    char *base_filesystem; /* NULL: the installed base-filesystem.yaml */
    int log_level;
    uint32_t fetch_timeout_ms; /* VmFetch's (SECURE_EXEC_SIDECAR_FETCH_TIMEOUT_MS) */
} sc_config_t;

typedef struct sc_session sc_session_t;
typedef struct sc_vm sc_vm_t;

typedef struct sc_conn {
    struct sc_conn *next;
    char *id;
    char *client_name;
} sc_conn_t;

struct sc_session {
    sc_session_t *next;
    char *id;
    sc_conn_t *conn;
    /* placement and metadata, stored verbatim */
    bool explicit_placement;
    char *placement; /* pool (may be NULL) or sidecar id */
    char **metadata; /* key, value pairs */
    size_t nmetadata;
};

struct sc_vm {
    sc_vm_t *next;
    char *id;
    sc_session_t *session;
    sx_guest_runtime_kind_t runtime;
    bare_arena_t arena; /* the parsed config and everything else the VM owns */
    sc_vmconfig_t config;
    sc_policy_t policy;
    bool has_fs;
    sc_vmfs_t fs;
    sc_layers_t layers;
    bare_arena_t policy_arena; /* the policy set by ConfigureVm */
    sc_vmexec_t exec;          /* its supervisor and guest processes */
    struct sc_mounts *mounts;  /* ConfigureVm's mounts (mounts.c), NULL before any */
    bool disposing;            /* DisposeVm (or the sidecar's exit) is tearing it down */
    bool dispose_emit;         /* with DISPOSED at the end */
    /* While a DisposeVm runs, the VM's events wait here, to follow its response (which is
     * answered once the VM is gone), as the reference orders them. */
    bool holding;
    sc_outq_t held;
    struct sc_deferred *dispose_reply;
    /* its filesystem's unmount, on the worker thread (offload.c) */
    sc_job_t unmount_job;
    int unmount_err;
    struct sc_callbacks *callbacks; /* its host callbacks (sidecar/host/callbacks.h) */
};

typedef struct sc_server sc_server_t;
typedef struct sc_hostreq sc_hostreq_t;

/* An extension: a namespace and the handler of its ExtEnvelope requests. */
typedef struct sc_extension {
    const char *ns;
    void (*handle)(sc_server_t *srv, const sx_ext_envelope_t *req, void *req_ctx);
} sc_extension_t;

struct sc_server {
    sc_config_t cfg;
    sc_host_t *host; /* NULL: no filesystem (VMs get none, filesystem requests are refused) */
    sc_loop_t *loop;
    sc_frame_reader_t in;
    sc_outq_t out;
    int in_fd, out_fd;
    sc_watch_t *in_watch, *out_watch;
    bool in_paused; /* the host is not reading: stop taking requests */
    bool closing;   /* EOF or a signal: tear down and exit */
    bool out_broken;
    bool dispatching; /* handling a batch of input frames: one write at its end */
    bare_arena_t arena; /* per frame */
    bare_limits_t limits;
    uint64_t next_conn, next_session, next_vm;
    size_t nconns, nsessions, nvms;
    sc_conn_t *conns;
    sc_session_t *sessions;
    sc_vm_t *vms;
    uint64_t frames_in, frames_out;
    /* requests to the host waiting for their reply (hostreq.c) */
    struct sc_hostreq *hostreqs;
    size_t nhostreqs;
    int64_t last_hostreq_id; /* the last id used: -1, -2, ... */
    struct sc_fetcher *fetcher; /* VmFetch's curl multi handle (fetch.c), made on first use */
};

/* The request being handled: its id and ownership, echoed by the response. */
typedef struct sc_req {
    sc_server_t *srv;
    int64_t id;
    const sx_ownership_scope_t *ownership;
    const char *name; /* the payload's member name, for messages */
    bool answered;
} sc_req_t;

/* ---- server (server.c) ---- */
int sc_server_init(sc_server_t *srv, sc_loop_t *loop, int in_fd, int out_fd);
void sc_server_free(sc_server_t *srv);
/* Handles one frame payload (decode, checks, dispatch, response). */
void sc_server_handle_frame(sc_server_t *srv, const uint8_t *payload, size_t len);
/* Handles an oversized frame from its first bytes. */
void sc_server_handle_oversize(sc_server_t *srv, const uint8_t *prefix, size_t len,
                               uint32_t declared);
/* Starts disposing every VM (EOF, signals); the loop stops once they are gone and the
 * output is written (sc_server_check_done). */
void sc_server_teardown(sc_server_t *srv);
/* When closing: stops the loop once no VM is left and the output queue is written. */
void sc_server_check_done(sc_server_t *srv);

/* ---- responses and events (respond.c) ---- */
void sc_respond(sc_req_t *req, const sx_response_payload_t *payload);
/* Responds with another ownership than the request's (successful Authenticate). */
void sc_respond_as(sc_req_t *req, const sx_ownership_scope_t *ownership,
                   const sx_response_payload_t *payload);
void sc_reject(sc_req_t *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes a frame that answers no request (requestId given) with a Rejected payload. */
void sc_reject_frame(sc_server_t *srv, int64_t id, const sx_ownership_scope_t *ownership,
                     const char *code, const char *message);
/*
 * A request answered later (a guest process starts when its VM's supervisor says so): its id
 * and a copy of its ownership. sc_defer marks req answered; exactly one of
 * sc_deferred_respond, sc_deferred_reject or sc_deferred_free must follow (each frees d).
 */
typedef struct sc_deferred {
    int64_t id;
    sx_ownership_scope_tag_t tag;
    char *conn, *session, *vm;
    char name[48];
} sc_deferred_t;
sc_deferred_t *sc_defer(sc_req_t *req); /* NULL when out of memory (req is then unanswered) */
void sc_deferred_respond(sc_server_t *srv, sc_deferred_t *d, const sx_response_payload_t *payload);
void sc_deferred_reject(sc_server_t *srv, sc_deferred_t *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sc_deferred_free(sc_deferred_t *d);
/* Writes a SidecarRequestFrame (hostreq.c); the status, and the payload size in size. */
int sc_put_sidecar_request(sc_server_t *srv, int64_t id, const sx_ownership_scope_t *ownership,
                           const sx_sidecar_request_payload_t *payload, size_t *size);
void sc_emit_event(sc_server_t *srv, const sx_ownership_scope_t *ownership,
                   const sx_event_payload_t *payload);
void sc_vm_ownership(const sc_vm_t *vm, sx_ownership_scope_t *out);
/* An event of vm, in its ownership: emitted, or held while its DisposeVm runs. */
void sc_vm_event(sc_server_t *srv, sc_vm_t *vm, const sx_event_payload_t *payload);
/* Moves the events held for vm to the output, in order, and stops holding. */
void sc_vm_release_events(sc_server_t *srv, sc_vm_t *vm);
/* Emits VmLifecycleEvent{state} in the VM's ownership (vm.c). */
void sc_vm_lifecycle(sc_server_t *srv, sc_vm_t *vm, sx_vm_lifecycle_state_t state);

/* ---- state (state.c) ---- */
sc_conn_t *sc_conn_find(sc_server_t *srv, bare_str_t id);
sc_session_t *sc_session_find(sc_server_t *srv, bare_str_t id);
sc_vm_t *sc_vm_find(sc_server_t *srv, bare_str_t id);
/* Ownership checks of reference §3.1: on failure they reject the request and return NULL. */
sc_conn_t *sc_require_connection(sc_req_t *req);
sc_session_t *sc_require_session(sc_req_t *req);
sc_vm_t *sc_require_vm(sc_req_t *req);
sc_conn_t *sc_conn_add(sc_server_t *srv, bare_str_t client_name);
sc_session_t *sc_session_add(sc_server_t *srv, sc_conn_t *conn);
void sc_session_free(sc_session_t *s);
sc_vm_t *sc_vm_add(sc_server_t *srv, sc_session_t *session);
void sc_vm_remove(sc_server_t *srv, sc_vm_t *vm);

/* ---- requests (handlers.c, vm.c) ---- */
void sc_dispatch_request(sc_req_t *req, const sx_request_payload_t *payload);
void sc_handle_create_vm(sc_req_t *req, const sx_create_vm_request_t *v);
void sc_handle_dispose_vm(sc_req_t *req, const sx_dispose_vm_request_t *v);
/*
 * Disposes a VM without blocking: from now on requests do not find it; DISPOSING at once,
 * DISPOSED once its processes, supervisor, cgroups and files are gone (events only when emit).
 */
void sc_vm_dispose(sc_server_t *srv, sc_vm_t *vm, bool emit);
/* The sidecar's exit: what is still being disposed is finished at once (blocking briefly). */
void sc_vm_dispose_now(sc_server_t *srv, sc_vm_t *vm);

/* ---- filesystem requests (fsreq.c) ---- */
void sc_handle_bootstrap(sc_req_t *req, const sx_bootstrap_root_filesystem_request_t *v);
void sc_handle_configure_vm(sc_req_t *req, const sx_configure_vm_request_t *v);
void sc_handle_create_layer(sc_req_t *req);
void sc_handle_seal_layer(sc_req_t *req, const sx_seal_layer_request_t *v);
void sc_handle_import_snapshot(sc_req_t *req, const sx_import_snapshot_request_t *v);
void sc_handle_export_snapshot(sc_req_t *req, const sx_export_snapshot_request_t *v);
void sc_handle_create_overlay(sc_req_t *req, const sx_create_overlay_request_t *v);
void sc_handle_guest_fs_call(sc_req_t *req, const sx_guest_filesystem_call_request_t *v);
void sc_handle_snapshot_root(sc_req_t *req);

/* ---- guest processes (vmexec.c: the engine; execreq.c, procreq.c: the requests) ---- */

/* What ExecuteRequest resolved to. */
typedef struct sc_spawn_req {
    const char *id;      /* processId */
    const char *command; /* the name the permission, errors and snapshots use */
    sv_spawn_t spawn;
} sc_spawn_req_t;

/* At CreateVm: the VM env filtered by the env policy; no supervisor yet. */
void sc_vmexec_init(sc_server_t *srv, sc_vm_t *vm);
/* Starts the VM's supervisor unless it runs or is starting (without waiting for it); 0, or -1
 * with a message. */
int sc_vmexec_start(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen);
/*
 * Ends every process (SIGTERM, a grace, SIGKILL to the VM's cgroup), then the supervisor, then
 * the cgroups, without blocking: exit events when emit; done (may be NULL) runs at the end.
 * The VM stays usable (a later Execute starts a new supervisor).
 */
void sc_vmexec_stop(sc_server_t *srv, sc_vm_t *vm, bool emit, sc_vmexec_done_fn *done);
/* The same at once, blocking briefly, for the sidecar's exit (no events). */
void sc_vmexec_stop_now(sc_server_t *srv, sc_vm_t *vm);
/* At dispose, once stopped: frees what init made (stops at once if still needed). */
void sc_vmexec_fini(sc_server_t *srv, sc_vm_t *vm);
/*
 * Starts a process: the ExecuteRequest req is answered later, with ProcessStartedResponse
 * once the supervisor has started it or with the reason it could not (req is marked
 * answered). On an immediate failure -1 with the rejection code and message (req is not
 * answered).
 */
int sc_vmexec_spawn(sc_server_t *srv, sc_vm_t *vm, const sc_spawn_req_t *r, sc_req_t *req,
                    char *code, size_t codelen, char *msg, size_t msglen);
/* The live top-level process with that id, or NULL. */
sc_gproc_t *sc_vmexec_find(sc_vm_t *vm, bare_str_t id);
int sc_vmexec_write_stdin(sc_server_t *srv, sc_gproc_t *p, const uint8_t *data, size_t n,
                          char *msg, size_t msglen);
void sc_vmexec_close_stdin(sc_server_t *srv, sc_gproc_t *p);
int sc_vmexec_kill(sc_vm_t *vm, sc_gproc_t *p, int sig);
/* Replaces the command -> WasmPermissionTier map (takes the arrays). */
int sc_vmexec_set_tiers(sc_vm_t *vm, char **names, int *tiers, size_t n);
/* The tier of a command name, or -1. */
int sc_vmexec_tier_for(const sc_vm_t *vm, const char *name);
/* SIGCHLD: pid (a supervisor) was reaped. */
void sc_vmexec_child_exited(sc_server_t *srv, pid_t pid);
/* Stops (or resumes) reading guest output while the host is not reading ours. */
void sc_vmexec_throttle(sc_server_t *srv, bool paused);

/* Listens inside the VM for each port (relaying to the host's loopback), and stops for ports
 * no longer listed; 0, or -1 when a port could not be set up (logged). */
int sc_portfwd_sync(sc_server_t *srv, sc_vm_t *vm, const uint16_t *ports, size_t n);
void sc_portfwd_stop(sc_server_t *srv, sc_vm_t *vm);
/* A non-blocking IPv4 socket (type SOCK_STREAM or SOCK_DGRAM) made inside the VM's network
 * namespace (its supervisor's); -1 with errno and a message when it has none or it fails. */
int sc_vm_socket(const sc_vm_t *vm, int type, char *err, size_t errlen);
/* ConfigureVm: a new loopbackExemptPorts list (copied). */
int sc_vmexec_set_exempt_ports(sc_server_t *srv, sc_vm_t *vm, const uint16_t *ports, size_t n);

void sc_handle_execute(sc_req_t *req, const sx_execute_request_t *v);
void sc_handle_write_stdin(sc_req_t *req, const sx_write_stdin_request_t *v);
void sc_handle_close_stdin(sc_req_t *req, const sx_close_stdin_request_t *v);
void sc_handle_kill_process(sc_req_t *req, const sx_kill_process_request_t *v);
void sc_handle_process_snapshot(sc_req_t *req);
void sc_handle_find_listener(sc_req_t *req, const sx_find_listener_request_t *v);
void sc_handle_find_bound_udp(sc_req_t *req, const sx_find_bound_udp_request_t *v);
void sc_handle_signal_state(sc_req_t *req, const sx_get_signal_state_request_t *v);
void sc_handle_zombie_count(sc_req_t *req);

/* Output flow: arms stdout for queued frames, pauses input (and guest output) while the host
 * is not reading, resumes both once it is. */
void sc_server_update_watches(sc_server_t *srv);

/* ---- extensions (ext.c) ---- */
const sc_extension_t *sc_extension_find(bare_str_t ns);

/* Copies a wire string into a NUL-terminated heap string (NULL when out of memory). */
char *sc_strdup_str(bare_str_t s);

#endif
