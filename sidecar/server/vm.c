/*
 * vm.c - the VM lifecycle: CreateVm (config parsed and validated, vm-N allocated, CREATING and
 * READY after the response) and DisposeVm (DISPOSING and DISPOSED after the response).
 */
#include <stddef.h>
#include <string.h>

#include "callbacks.h"
#include "fetch.h"
#include "hostreq.h"
#include "log.h"
#include "mounts.h"
#include "sidecar.h"

void sc_vm_lifecycle(sc_server_t *srv, sc_vm_t *vm, sx_vm_lifecycle_state_t state)
{
    sx_event_payload_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tag = SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT;
    ev.u.vm_lifecycle_event.state = state;
    sc_vm_event(srv, vm, &ev);
}

void sc_handle_create_vm(sc_req_t *req, const sx_create_vm_request_t *v)
{
    sc_server_t *srv = req->srv;
    sc_session_t *s = sc_require_session(req);
    char err[1024];
    if (!s)
        return;
    if (srv->nvms >= SC_MAX_VMS) {
        sc_reject(req, "invalid_state", "too many VMs (limit %d)", SC_MAX_VMS);
        return;
    }

    /* Parse into a scratch arena first: a rejected config consumes no VM id. */
    bare_arena_t arena;
    sc_vmconfig_t cfg;
    bare_arena_init(&arena, NULL, NULL);
    if (sc_vmconfig_parse(v->config.ptr, v->config.len, srv->cfg.max_frame_bytes, &arena, &cfg,
                          err, sizeof err) != 0) {
        bare_arena_free(&arena);
        sc_reject(req, "invalid_state", "%s", err);
        return;
    }
    if (cfg.has_native_root) {
        /* the plugin's name lives in the arena: answer first, then free */
        sc_reject(req, "unsupported",
                  "nativeRoot mount plugins are not supported by this sidecar (plugin '%s')",
                  cfg.native_root_plugin ? cfg.native_root_plugin : "");
        bare_arena_free(&arena);
        return;
    }
    sc_vm_t *vm = sc_vm_add(srv, s);
    if (!vm) {
        bare_arena_free(&arena);
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    /* The VM owns the arena (and so the config) from here on. */
    bare_arena_free(&vm->arena);
    vm->arena = arena;
    vm->config = cfg;
    vm->policy = cfg.permissions;
    vm->runtime = v->runtime;
    if (srv->host) {
        if (sc_vmfs_create(srv->host, vm->id, &vm->config, &vm->fs, err, sizeof err) != 0) {
            sc_warn("%s: %s", vm->id, err);
            sc_vm_remove(srv, vm);
            sc_reject(req, "invalid_state", "%s", err);
            return;
        }
        vm->has_fs = true;
    }
    sc_vmexec_init(srv, vm);
    sc_info("created %s for %s (%s)", vm->id, s->id,
            sx_guest_runtime_kind_name(v->runtime) ? sx_guest_runtime_kind_name(v->runtime)
                                                    : "?");

    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_VM_CREATED_RESPONSE;
    p.u.vm_created_response.vm_id = bare_str_from_cstr(vm->id);
    sc_respond(req, &p);
    sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_CREATING);
    sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_READY);
}

/*
 * Nothing of the VM is left: the DisposeVm is answered now, and its events follow in the
 * reference's order: DISPOSING, the output and exits of its processes, DISPOSED.
 */
static void dispose_finish(sc_server_t *srv, sc_vm_t *vm)
{
    if (vm->has_fs) {
        if (vm->unmount_err)
            sc_warn("cannot remove %s: %s", vm->fs.dir, strerror(vm->unmount_err));
        sc_vmfs_free(&vm->fs);
        vm->has_fs = false;
    }
    if (vm->dispose_reply) {
        sx_response_payload_t p;
        memset(&p, 0, sizeof p);
        p.tag = SX_RESPONSE_PAYLOAD_TAG_VM_DISPOSED_RESPONSE;
        p.u.vm_disposed_response.vm_id = bare_str_from_cstr(vm->id);
        sc_deferred_respond(srv, vm->dispose_reply, &p);
        vm->dispose_reply = NULL;
    }
    sc_vm_release_events(srv, vm);
    if (vm->dispose_emit)
        sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_DISPOSED);
    sc_info("disposed %s", vm->id);
    sc_vm_remove(srv, vm);
    sc_server_update_watches(srv);
    sc_server_check_done(srv);
}

static void unmount_work(sc_job_t *job)
{
    sc_vm_t *vm = (sc_vm_t *)((char *)job - offsetof(sc_vm_t, unmount_job));
    vm->unmount_err = sc_vmfs_unmount(&vm->fs);
}

static void unmount_done(sc_job_t *job)
{
    sc_vm_t *vm = (sc_vm_t *)((char *)job - offsetof(sc_vm_t, unmount_job));
    dispose_finish(vm->exec.srv, vm);
}

/* Its processes, supervisor and cgroups are gone: then its files and mounts (unmounting takes
 * the kernel a while at times: on the worker thread), then the VM. */
static void dispose_done(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_fini(srv, vm);
    sc_mounts_fini(srv, vm); /* before its root goes: the mounts in it, and what they made */
    if (!vm->has_fs) {
        dispose_finish(srv, vm);
        return;
    }
    sc_layers_free(&vm->layers);
    sc_vmfs_release(&vm->fs);
    vm->unmount_job.work = unmount_work;
    vm->unmount_job.done = unmount_done;
    sc_offload(&vm->unmount_job);
}

void sc_vm_dispose(sc_server_t *srv, sc_vm_t *vm, bool emit)
{
    if (vm->disposing)
        return;
    vm->disposing = true;
    vm->dispose_emit = emit;
    vm->holding = vm->dispose_reply != NULL;
    if (emit)
        sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_DISPOSING);
    /* what waits for the host fails now (a guest blocked on a reply must not hold the VM) */
    sc_hostreq_end_vm(srv, vm);
    sc_fetch_end_vm(srv, vm);
    sc_callbacks_vm_gone(srv, vm);
    /* its processes first (they may hold its files), then its files and mounts */
    sc_vmexec_stop(srv, vm, emit, dispose_done);
}

void sc_vm_dispose_now(sc_server_t *srv, sc_vm_t *vm)
{
    vm->disposing = true;
    vm->dispose_emit = false;
    sc_hostreq_end_vm(srv, vm);
    sc_fetch_end_vm(srv, vm);
    sc_callbacks_vm_gone(srv, vm);
    sc_vmexec_stop_now(srv, vm);
    dispose_done(srv, vm);
}

void sc_handle_dispose_vm(sc_req_t *req, const sx_dispose_vm_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    (void)v; /* the reason changes nothing, as in the reference */
    if (!vm)
        return;
    /* answered once the VM is gone (dispose_done), without holding up anything else */
    vm->dispose_reply = sc_defer(req);
    if (!vm->dispose_reply) {
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    sc_vm_dispose(req->srv, vm, true);
}
