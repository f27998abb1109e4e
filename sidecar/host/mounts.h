/*
 * mounts.h - a VM's mount table: the mounts of ConfigureVm (reference protocol-core.md §4.5,
 * filesystem-permissions.md §7): host_dir, module_access and the moduleAccessCwd auto-mounts,
 * memory, and js_bridge. Each one is attached twice: in the sidecar's own view of the VM root
 * (what GuestFilesystemCall and snapshots read; js_bridge is only a directory there) and in the
 * guest processes' view, the mount namespace of the VM's supervisor, whenever one runs.
 */
#ifndef SC_MOUNTS_H
#define SC_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "secure_exec_sidecar_v1.h"

typedef struct sc_server sc_server_t;
typedef struct sc_vm sc_vm_t;
typedef struct sc_req sc_req_t;
typedef struct sc_mounts sc_mounts_t;
typedef struct sc_mount_plan sc_mount_plan_t;

/* At most this many effective mounts (auto-mounts included) per VM. */
#define SC_MAX_MOUNTS 256

/*
 * ConfigureVm, first step: checks every mount of v (config JSON, plugin, config fields,
 * guestPath) and the moduleAccessCwd auto-mounts, and opens the host directories they bind,
 * without changing anything. NULL with the rejection code and message otherwise.
 */
sc_mount_plan_t *sc_mounts_prepare(sc_server_t *srv, sc_vm_t *vm,
                                   const sx_configure_vm_request_t *v, char *code, size_t codelen,
                                   char *msg, size_t msglen);
void sc_mounts_plan_free(sc_mount_plan_t *plan);
/*
 * Second step (takes the plan): unmounts every mount of the previous ConfigureVm, in both
 * views, then mounts the plan's, parents before children. Returns the number of effective
 * mounts, or -1 with the rejection code and message: the old mounts are gone and those of the
 * plan mounted before the failure stay (as in the reference).
 */
int sc_mounts_apply(sc_server_t *srv, sc_vm_t *vm, sc_mount_plan_t *plan, char *code,
                    size_t codelen, char *msg, size_t msglen);

/*
 * GuestFilesystemCall: a path at or under a js_bridge mount goes to the plugin (true: req is
 * answered, now or when the host replies). Otherwise false, with *read_only set for the
 * mount that holds the path (longest prefix; the root's own flag outside every mount), or its
 * destination's.
 */
bool sc_mounts_fs_call(sc_req_t *req, sc_vm_t *vm, const sx_guest_filesystem_call_request_t *v,
                       bool *read_only);

/* The VM root without any mount on it (the root overlay alone), as snapshots read it; the
 * caller closes it. -1 with errno. */
int sc_mounts_bare_root(const sc_vm_t *vm);

/* The VM's supervisor is running (no guest yet): every mount is attached in its namespace.
 * 0, or -1 with a message. */
int sc_mounts_supervisor_running(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen);
/* The supervisor is gone: what was attached in its namespace is let go. */
void sc_mounts_supervisor_gone(sc_vm_t *vm);
/* DisposeVm and the sidecar's exit: unmounts everything and frees the table. */
void sc_mounts_fini(sc_server_t *srv, sc_vm_t *vm);

#endif
