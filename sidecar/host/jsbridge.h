/*
 * jsbridge.h - the js_bridge mount plugin: every file operation under the mount becomes a
 * JsBridgeCallRequest to the host (reference protocol-core.md §6.3), for GuestFilesystemCall
 * (answered when the host replies) and for guest processes (a FUSE file system the sidecar
 * serves on its loop, mounted only in the guest processes' view, never in the sidecar's own:
 * the sidecar must never make a system call that its own loop would have to answer).
 */
#ifndef SC_JSBRIDGE_H
#define SC_JSBRIDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "secure_exec_sidecar_v1.h"

typedef struct sc_server sc_server_t;
typedef struct sc_vm sc_vm_t;
typedef struct sc_req sc_req_t;
typedef struct sc_jsbridge sc_jsbridge_t;

/* A js_bridge mount of vm at guest_path (absolute, normalized), calling the host with
 * mount_id; NULL with a message in err. */
sc_jsbridge_t *sc_jsbridge_open(sc_server_t *srv, sc_vm_t *vm, const char *mount_id,
                                const char *guest_path, bool read_only, char *err,
                                size_t errlen);
/* A detached FUSE mount (an fsmount(2) descriptor) served by jb on the sidecar's loop, for the
 * guest processes' view: the caller attaches it with move_mount(2) and closes it. -1 with a
 * message in err. May be called again (a new supervisor) while jb is open: each call is a FUSE
 * connection of its own, which ends (and is freed) once its mount is gone everywhere and every
 * descriptor of it is closed. Nothing may ever look a path up inside the mount while the loop
 * waits for it (a child the sidecar waits for included): only the loop answers FUSE. */
int sc_jsbridge_mount_fd(sc_jsbridge_t *jb, char *err, size_t errlen);
/* A GuestFilesystemCall of rel (the path below the mount root, "/" for the root itself, as
 * the host sees it): answers req later, when the host replies or the call times out. It checks
 * the request's fields, a read-only mount and the VM's fs policy (on the guest paths, lexically)
 * itself; a destination_path or symlink target outside the mount is EXDEV. */
void sc_jsbridge_fs_call(sc_req_t *req, sc_jsbridge_t *jb, const char *rel,
                         const sx_guest_filesystem_call_request_t *v);
/* Unmount and DisposeVm: what waits fails with EIO, the FUSE connection is aborted, jb is
 * freed. */
void sc_jsbridge_close(sc_jsbridge_t *jb);

#endif
