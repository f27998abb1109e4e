/*
 * fsreq.c - the filesystem requests of a VM: BootstrapRootFilesystem, the layer requests,
 * GuestFilesystemCall, SnapshotRootFilesystem and ConfigureVm (permissions, and the mounts of
 * host/mounts.c). Each checks VM ownership first and answers with the reference's codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mounts.h"
#include "sidecar.h"

/* A VM of the caller that has a filesystem, or NULL (the request is answered). */
static sc_vm_t *fs_vm(sc_req_t *req)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (vm && !vm->has_fs) {
        sc_reject(req, "unsupported", "%s: this sidecar runs without VM filesystems", req->name);
        return NULL;
    }
    return vm;
}

/*
 * The least a response frame takes around its payload's fields: the frame's union tag, the
 * schema (name and u16 version), a request id, an ownership scope (tag and at least one id,
 * however short) and the payload's tag. Budgets subtract only this, so what they refuse can
 * never fit.
 */
#define RESPONSE_ENVELOPE (1 + (1 + sizeof SC_SCHEMA_NAME - 1) + 2 + 1 + 2 + 1)

/* The frame a response must fit in, past the envelope and the payload's first fields. */
static sc_frame_budget_t frame_budget(const sc_req_t *req, uint64_t fields)
{
    return (sc_frame_budget_t){req->srv->cfg.max_frame_bytes, RESPONSE_ENVELOPE + fields};
}

static sc_layer_ctx_t layer_ctx(sc_req_t *req, sc_vm_t *vm)
{
    sc_layer_ctx_t c;
    memset(&c, 0, sizeof c);
    c.host = req->srv->host;
    c.vm_dir = vm->fs.dir;
    c.layers = &vm->layers;
    c.limits.max_entries = vm->config.resources.max_inode_count;
    c.limits.max_bytes = vm->config.resources.max_filesystem_bytes;
    return c;
}

/* Walk failures: a list too large for a frame is the reference's frame_too_large. */
static const char *walk_code(int err)
{
    return err == EMSGSIZE ? "frame_too_large" : "kernel_error";
}

static void respond_layer(sc_req_t *req, sx_response_payload_tag_t tag, const char *id)
{
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = tag;
    bare_str_t s = bare_str_from_cstr(id);
    switch (tag) {
    case SX_RESPONSE_PAYLOAD_TAG_LAYER_CREATED_RESPONSE:
        p.u.layer_created_response.layer_id = s;
        break;
    case SX_RESPONSE_PAYLOAD_TAG_LAYER_SEALED_RESPONSE:
        p.u.layer_sealed_response.layer_id = s;
        break;
    case SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE:
        p.u.snapshot_imported_response.layer_id = s;
        break;
    default:
        p.u.overlay_created_response.layer_id = s;
        break;
    }
    sc_respond(req, &p);
}

void sc_handle_bootstrap(sc_req_t *req, const sx_bootstrap_root_filesystem_request_t *v)
{
    sc_server_t *srv = req->srv;
    sc_vm_t *vm = fs_vm(req);
    sc_entry_list_t entries;
    char err[1024];
    if (!vm)
        return;
    if (sc_entries_from_wire(&v->entries, &srv->arena, &entries, err, sizeof err) != 0) {
        sc_reject(req, "invalid_state", "%s", err);
        return;
    }
    for (size_t i = 0; i < entries.len; i++) {
        if (entries.items[i].kind == SC_ENTRY_SYMLINK &&
            (!entries.items[i].target || !entries.items[i].target[0])) {
            sc_reject(req, "invalid_state",
                      "root filesystem bootstrap for symlink %s requires a target",
                      entries.items[i].path);
            return;
        }
    }
    if (vm->fs.read_only && entries.len) {
        sc_reject(req, "kernel_error", "EROFS: read-only filesystem, bootstrap '%s'",
                  entries.items[0].path);
        return;
    }
    /* In request order; parents made here belong to the guest user, as writes do. */
    if (sc_entries_apply(srv->host, vm->fs.root_fd, entries.items, entries.len, 1000, false, err,
                         sizeof err) != 0) {
        sc_reject(req, "kernel_error", "%s", err);
        return;
    }
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_BOOTSTRAPPED_RESPONSE;
    p.u.root_filesystem_bootstrapped_response.entry_count = (uint32_t)entries.len;
    sc_respond(req, &p);
}

void sc_handle_create_layer(sc_req_t *req)
{
    sc_vm_t *vm = fs_vm(req);
    char id[32], code[32], msg[512];
    if (!vm)
        return;
    sc_layer_ctx_t c = layer_ctx(req, vm);
    if (sc_layer_create(&c, id, code, msg, sizeof msg) != 0)
        sc_reject(req, code, "%s", msg);
    else
        respond_layer(req, SX_RESPONSE_PAYLOAD_TAG_LAYER_CREATED_RESPONSE, id);
}

void sc_handle_seal_layer(sc_req_t *req, const sx_seal_layer_request_t *v)
{
    sc_vm_t *vm = fs_vm(req);
    char id[32], code[32], msg[512];
    if (!vm)
        return;
    char *want = sc_strdup_str(v->layer_id);
    sc_layer_ctx_t c = layer_ctx(req, vm);
    if (!want || sc_layer_seal(&c, want, id, code, msg, sizeof msg) != 0)
        sc_reject(req, want ? code : "invalid_state", "%s", want ? msg : "out of memory");
    else
        respond_layer(req, SX_RESPONSE_PAYLOAD_TAG_LAYER_SEALED_RESPONSE, id);
    free(want);
}

void sc_handle_import_snapshot(sc_req_t *req, const sx_import_snapshot_request_t *v)
{
    sc_vm_t *vm = fs_vm(req);
    sc_entry_list_t entries;
    char id[32], code[32], msg[1024];
    if (!vm)
        return;
    if (sc_entries_from_wire(&v->entries, &req->srv->arena, &entries, msg, sizeof msg) != 0) {
        sc_reject(req, "invalid_state", "%s", msg);
        return;
    }
    sc_layer_ctx_t c = layer_ctx(req, vm);
    if (sc_layer_import(&c, &entries, id, code, msg, sizeof msg) != 0)
        sc_reject(req, code, "%s", msg);
    else
        respond_layer(req, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE, id);
}

void sc_handle_export_snapshot(sc_req_t *req, const sx_export_snapshot_request_t *v)
{
    sc_vm_t *vm = fs_vm(req);
    char code[32], msg[1024];
    if (!vm)
        return;
    char *want = sc_strdup_str(v->layer_id);
    if (!want) {
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    sc_layer_ctx_t c = layer_ctx(req, vm);
    /* SnapshotExportedResponse: the layer id, then the list's length */
    c.limits.frame = frame_budget(req, bare_uint_size(v->layer_id.len) + v->layer_id.len + 1);
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_EXPORTED_RESPONSE;
    if (sc_layer_export(&c, want, &req->srv->arena, &p.u.snapshot_exported_response.entries,
                        code, msg, sizeof msg) != 0) {
        sc_reject(req, code, "%s", msg);
    } else {
        p.u.snapshot_exported_response.layer_id = v->layer_id;
        sc_respond(req, &p);
    }
    free(want);
}

void sc_handle_create_overlay(sc_req_t *req, const sx_create_overlay_request_t *v)
{
    sc_vm_t *vm = fs_vm(req);
    char id[32], code[32], msg[512];
    if (!vm)
        return;
    size_t n = v->lower_layer_ids.len;
    const char **lowers = calloc(n ? n : 1, sizeof *lowers);
    char *upper = v->upper_layer_id.present ? sc_strdup_str(v->upper_layer_id.value) : NULL;
    bool ok = lowers && (!v->upper_layer_id.present || upper);
    for (size_t i = 0; ok && i < n; i++) {
        lowers[i] = bare_arena_strdup(&req->srv->arena, v->lower_layer_ids.items[i]);
        ok = lowers[i] != NULL;
    }
    sc_layer_ctx_t c = layer_ctx(req, vm);
    if (!ok)
        sc_reject(req, "invalid_state", "out of memory");
    else if (sc_layer_overlay(&c, v->mode == SX_ROOT_FILESYSTEM_MODE_READ_ONLY, upper, lowers, n,
                              id, code, msg, sizeof msg) != 0)
        sc_reject(req, code, "%s", msg);
    else
        respond_layer(req, SX_RESPONSE_PAYLOAD_TAG_OVERLAY_CREATED_RESPONSE, id);
    free(lowers);
    free(upper);
}

void sc_handle_guest_fs_call(sc_req_t *req, const sx_guest_filesystem_call_request_t *v)
{
    sc_vm_t *vm = fs_vm(req);
    char code[32], msg[1024];
    if (!vm)
        return;
    /* a path on a plugin's mount is the plugin's; a mount's own read-only flag holds below it */
    bool read_only = vm->fs.read_only;
    if (sc_mounts_fs_call(req, vm, v, &read_only))
        return;
    sc_fsctx_t ctx = {.host = req->srv->host,
                      .root_fd = vm->fs.root_fd,
                      .policy = &vm->policy,
                      .limits = &vm->config.resources,
                      .read_only = read_only,
                      .frame = frame_budget(req, 0)};
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE;
    if (sc_fs_call(&ctx, v, &req->srv->arena, &p.u.guest_filesystem_result_response, code,
                   sizeof code, msg, sizeof msg) != 0)
        sc_reject(req, code, "%s", msg);
    else
        sc_respond(req, &p);
}

void sc_handle_snapshot_root(sc_req_t *req)
{
    sc_vm_t *vm = fs_vm(req);
    char msg[1024];
    if (!vm)
        return;
    sc_walk_limits_t lim = {.max_entries = vm->config.resources.max_inode_count,
                            .max_bytes = vm->config.resources.max_filesystem_bytes,
                            .frame = frame_budget(req, 1 /* the list's length */),
                            .what = "the root filesystem snapshot"};
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_SNAPSHOT_RESPONSE;
    /* the root overlay alone: what is mounted in it is not part of it (reference §5) */
    int root = sc_mounts_bare_root(vm);
    if (root < 0)
        sc_reject(req, "kernel_error", "%s: cannot open the VM root: %s", sc_errno_name(errno),
                  sc_errno_text(errno));
    else if (sc_entries_walk(req->srv->host, root, &lim, &req->srv->arena,
                             &p.u.root_filesystem_snapshot_response.entries, msg, sizeof msg) != 0)
        sc_reject(req, walk_code(errno), "%s", msg);
    else
        sc_respond(req, &p);
    if (root >= 0)
        close(root);
}

/* ---- ConfigureVm ---- */

static const char *const domain_names[SC_DOMAIN_COUNT] = {"fs",  "network", "child_process",
                                                          "process", "env", "tool"};

static sc_perm_mode_t mode_of(sx_permission_mode_t m)
{
    return m == SX_PERMISSION_MODE_ALLOW ? SC_PERM_ALLOW
           : m == SX_PERMISSION_MODE_ASK ? SC_PERM_ASK
                                         : SC_PERM_DENY;
}

/* Copies a non-empty list of non-empty strings; names the field when it is not. */
static int copy_list(bare_arena_t *a, const sx_str_list_t *in, const char ***out, size_t *n,
                     int domain, size_t rule, const char *field, char *err, size_t errlen)
{
    if (in->len == 0) {
        snprintf(err, errlen,
                 "invalid permissions policy: %s.rules[%zu].%s must not be empty; use [\"*\"] "
                 "for wildcard",
                 domain_names[domain], rule, field);
        return -1;
    }
    *out = bare_arena_alloc(a, in->len * sizeof **out, _Alignof(const char *));
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->len; i++) {
        if (in->items[i].len == 0 || memchr(in->items[i].ptr, 0, in->items[i].len)) {
            snprintf(err, errlen, "invalid permissions policy: %s.rules[%zu].%s[%zu] must be a "
                                  "non-empty string",
                     domain_names[domain], rule, field, i);
            return -1;
        }
        (*out)[i] = bare_arena_strdup(a, in->items[i]);
    }
    *n = in->len;
    return 0;
}

typedef struct wire_rule {
    sx_permission_mode_t mode;
    const sx_str_list_t *operations, *patterns;
} wire_rule_t;

static int scope_from_rules(bare_arena_t *a, int domain, bool has_default,
                            sx_permission_mode_t def, const wire_rule_t *rules, size_t n,
                            sc_perm_scope_t *out, char *err, size_t errlen)
{
    out->default_mode = has_default ? mode_of(def) : SC_PERM_DENY;
    out->nrules = n;
    out->rules = n ? bare_arena_alloc(a, n * sizeof *out->rules, _Alignof(sc_perm_rule_t)) : NULL;
    if (n && !out->rules) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *field = domain == SC_DOMAIN_FS ? "paths" : "patterns";
    for (size_t i = 0; i < n; i++) {
        out->rules[i].mode = mode_of(rules[i].mode);
        if (copy_list(a, rules[i].operations, &out->rules[i].operations,
                      &out->rules[i].noperations, domain, i, "operations", err, errlen) != 0 ||
            copy_list(a, rules[i].patterns, &out->rules[i].patterns, &out->rules[i].npatterns,
                      domain, i, field, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int pattern_scope(bare_arena_t *a, int domain, const sx_pattern_permission_scope_opt_t *s,
                         sc_perm_scope_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->default_mode = SC_PERM_DENY;
    if (!s->present)
        return 0;
    if (s->value.tag == SX_PATTERN_PERMISSION_SCOPE_TAG_PERMISSION_MODE) {
        out->default_mode = mode_of(s->value.u.permission_mode);
        return 0;
    }
    const sx_pattern_permission_rule_set_t *rs = &s->value.u.pattern_permission_rule_set;
    wire_rule_t *rules = bare_arena_alloc(a, (rs->rules.len ? rs->rules.len : 1) * sizeof *rules,
                                          _Alignof(wire_rule_t));
    if (!rules)
        return -1;
    for (size_t i = 0; i < rs->rules.len; i++)
        rules[i] = (wire_rule_t){rs->rules.items[i].mode, &rs->rules.items[i].operations,
                                 &rs->rules.items[i].patterns};
    return scope_from_rules(a, domain, rs->default_.present, rs->default_.value, rules,
                            rs->rules.len, out, err, errlen);
}

/* PermissionsPolicy (BARE) to the engine's policy, validated as at CreateVm. */
static int policy_from_wire(bare_arena_t *a, const sx_permissions_policy_t *w, sc_policy_t *out,
                            char *err, size_t errlen)
{
    sc_perm_scope_t *fs = &out->domains[SC_DOMAIN_FS];
    memset(fs, 0, sizeof *fs);
    fs->default_mode = SC_PERM_DENY;
    if (w->fs.present) {
        if (w->fs.value.tag == SX_FS_PERMISSION_SCOPE_TAG_PERMISSION_MODE) {
            fs->default_mode = mode_of(w->fs.value.u.permission_mode);
        } else {
            const sx_fs_permission_rule_set_t *rs = &w->fs.value.u.fs_permission_rule_set;
            wire_rule_t *rules = bare_arena_alloc(
                a, (rs->rules.len ? rs->rules.len : 1) * sizeof *rules, _Alignof(wire_rule_t));
            if (!rules)
                return -1;
            for (size_t i = 0; i < rs->rules.len; i++)
                rules[i] = (wire_rule_t){rs->rules.items[i].mode, &rs->rules.items[i].operations,
                                         &rs->rules.items[i].paths};
            if (scope_from_rules(a, SC_DOMAIN_FS, rs->default_.present, rs->default_.value, rules,
                                 rs->rules.len, fs, err, errlen) != 0)
                return -1;
        }
    }
    const sx_pattern_permission_scope_opt_t *others[] = {&w->network, &w->child_process,
                                                         &w->process, &w->env, &w->tool};
    for (int d = SC_DOMAIN_NETWORK; d < SC_DOMAIN_COUNT; d++)
        if (pattern_scope(a, d, others[d - 1], &out->domains[d], err, errlen) != 0)
            return -1;
    return 0;
}

void sc_handle_configure_vm(sc_req_t *req, const sx_configure_vm_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    char err[1024];
    if (!vm)
        return;
    /* Everything is checked before anything changes. */
    bare_arena_t arena;
    sc_policy_t policy;
    bare_arena_init(&arena, NULL, NULL);
    if (v->permissions.present &&
        policy_from_wire(&arena, &v->permissions.value, &policy, err, sizeof err) != 0) {
        bare_arena_free(&arena);
        sc_reject(req, "invalid_state", "%s", err);
        return;
    }
    char code[32];
    sc_mount_plan_t *plan = sc_mounts_prepare(req->srv, vm, v, code, sizeof code, err, sizeof err);
    if (!plan) {
        bare_arena_free(&arena);
        sc_reject(req, code, "%s", err);
        return;
    }
    /* commandPermissions replaces the command -> WASM tier map (names may not be empty) */
    char **names = calloc(v->command_permissions.len + 1, sizeof *names);
    int *tiers = calloc(v->command_permissions.len + 1, sizeof *tiers);
    bool ok = names && tiers;
    for (size_t i = 0; ok && i < v->command_permissions.len; i++) {
        bare_str_t k = v->command_permissions.items[i].key;
        if (k.len == 0 || memchr(k.ptr, '\0', k.len)) {
            for (size_t j = 0; j < i; j++)
                free(names[j]);
            free(names);
            free(tiers);
            bare_arena_free(&arena);
            sc_mounts_plan_free(plan);
            sc_reject(req, "invalid_state",
                      "commandPermissions: a command name must be non-empty and without NUL");
            return;
        }
        names[i] = sc_strdup_str(k);
        tiers[i] = (int)v->command_permissions.items[i].value;
        ok = names[i] != NULL;
    }
    if (!ok) {
        for (size_t j = 0; names && j < v->command_permissions.len; j++)
            free(names[j]);
        free(names);
        free(tiers);
        bare_arena_free(&arena);
        sc_mounts_plan_free(plan);
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    /* the old mounts go, the new ones come; a failure halfway keeps the rest unchanged */
    int applied = sc_mounts_apply(req->srv, vm, plan, code, sizeof code, err, sizeof err);
    if (applied < 0) {
        for (size_t j = 0; j < v->command_permissions.len; j++)
            free(names[j]);
        free(names);
        free(tiers);
        bare_arena_free(&arena);
        sc_reject(req, code, "%s", err);
        return;
    }
    sc_vmexec_set_tiers(vm, names, tiers, v->command_permissions.len);
    /* loopbackExemptPorts replaces the list (an empty list clears it, as in the reference) */
    if (sc_vmexec_set_exempt_ports(req->srv, vm, v->loopback_exempt_ports.items,
                                   v->loopback_exempt_ports.len) != 0)
        sc_warn("%s: not every loopbackExemptPorts entry could be set up", vm->id);
    if (v->permissions.present) {
        bare_arena_free(&vm->policy_arena);
        vm->policy_arena = arena;
        vm->policy = policy;
        sc_info("%s: permissions replaced", vm->id);
    } else {
        bare_arena_free(&arena);
    }
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE;
    p.u.vm_configured_response.applied_mounts = (uint32_t)applied;
    p.u.vm_configured_response.applied_software = (uint32_t)v->software.len;
    sc_respond(req, &p);
}
