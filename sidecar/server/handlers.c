/*
 * handlers.c - one handler per RequestPayload member, bound into the generated dispatch table
 * (a new request type in the schema does not compile until it has a handler here).
 */
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "fetch.h"
#include "log.h"
#include "sidecar.h"

/* Compares in time that depends on the given token's length only, never on the secret. */
static bool token_matches(bare_str_t given, const char *expected)
{
    size_t n = strlen(expected);
    unsigned diff = given.len != n;
    for (size_t i = 0; i < given.len; i++)
        diff |= (unsigned char)given.ptr[i] ^ (unsigned char)expected[n ? i % n : 0];
    return diff == 0;
}

static int on_authenticate(void *ctx, const sx_authenticate_request_t *v)
{
    sc_req_t *req = ctx;
    sc_server_t *srv = req->srv;

    if (req->ownership->tag != SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP) {
        sc_reject(req, "invalid_state", "request requires connection ownership scope");
        return 0;
    }
    if (srv->cfg.auth_token && !token_matches(v->auth_token, srv->cfg.auth_token)) {
        sc_warn("authentication failed for client '%.*s': invalid auth token",
                (int)(v->client_name.len > 100 ? 100 : v->client_name.len), v->client_name.ptr);
        sc_reject(req, "unauthorized", "authenticate request provided an invalid auth token");
        return 0;
    }
    if (v->protocol_version != SC_PROTOCOL_VERSION) {
        sc_reject(req, "protocol_version_mismatch",
                  "sidecar protocol version mismatch: expected %d, got %u", SC_PROTOCOL_VERSION,
                  (unsigned)v->protocol_version);
        return 0;
    }
    if (v->bridge_version != SC_BRIDGE_VERSION) {
        sc_reject(req, "bridge_version_mismatch",
                  "bridge contract version mismatch: expected %d, got %u", SC_BRIDGE_VERSION,
                  (unsigned)v->bridge_version);
        return 0;
    }
    if (srv->nconns >= SC_MAX_CONNECTIONS) {
        sc_reject(req, "invalid_state", "too many connections (limit %d)", SC_MAX_CONNECTIONS);
        return 0;
    }
    sc_conn_t *c = sc_conn_add(srv, v->client_name);
    if (!c) {
        sc_reject(req, "invalid_state", "out of memory");
        return 0;
    }
    sc_info("authenticated %s (client '%s')", c->id, c->client_name);

    sx_ownership_scope_t own;
    sx_response_payload_t p;
    memset(&own, 0, sizeof own);
    memset(&p, 0, sizeof p);
    own.tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    own.u.connection_ownership.connection_id = bare_str_from_cstr(c->id);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_AUTHENTICATED_RESPONSE;
    p.u.authenticated_response.sidecar_id = bare_str_from_cstr(srv->cfg.sidecar_id);
    p.u.authenticated_response.connection_id = bare_str_from_cstr(c->id);
    p.u.authenticated_response.max_frame_bytes = srv->cfg.max_frame_bytes;
    sc_respond_as(req, &own, &p);
    return 0;
}

static int on_open_session(void *ctx, const sx_open_session_request_t *v)
{
    sc_req_t *req = ctx;
    sc_server_t *srv = req->srv;
    sc_conn_t *c = sc_require_connection(req);
    if (!c)
        return 0;
    if (srv->nsessions >= SC_MAX_SESSIONS) {
        sc_reject(req, "invalid_state", "too many sessions (limit %d)", SC_MAX_SESSIONS);
        return 0;
    }
    sc_session_t *s = sc_session_add(srv, c);
    if (!s) {
        sc_reject(req, "invalid_state", "out of memory");
        return 0;
    }
    /* Placement and metadata are kept verbatim, as the reference does. */
    bool ok = true;
    if (v->placement.tag == SX_SIDECAR_PLACEMENT_TAG_SIDECAR_PLACEMENT_EXPLICIT) {
        s->explicit_placement = true;
        s->placement = sc_strdup_str(v->placement.u.sidecar_placement_explicit.sidecar_id);
        ok = s->placement != NULL;
    } else if (v->placement.u.sidecar_placement_shared.pool.present) {
        s->placement = sc_strdup_str(v->placement.u.sidecar_placement_shared.pool.value);
        ok = s->placement != NULL;
    }
    if (v->metadata.len) {
        s->metadata = calloc(2 * v->metadata.len, sizeof *s->metadata);
        ok = ok && s->metadata;
        for (size_t i = 0; ok && i < v->metadata.len; i++) {
            s->metadata[2 * i] = sc_strdup_str(v->metadata.items[i].key);
            s->metadata[2 * i + 1] = sc_strdup_str(v->metadata.items[i].value);
            s->nmetadata = i + 1;
            ok = s->metadata[2 * i] && s->metadata[2 * i + 1];
        }
    }
    if (!ok)
        sc_warn("out of memory while storing the metadata of %s", s->id);
    sc_info("opened %s for %s", s->id, c->id);

    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_SESSION_OPENED_RESPONSE;
    p.u.session_opened_response.session_id = bare_str_from_cstr(s->id);
    p.u.session_opened_response.owner_connection_id = bare_str_from_cstr(c->id);
    sc_respond(req, &p);
    return 0;
}

static int on_bootstrap_root_filesystem(void *ctx, const sx_bootstrap_root_filesystem_request_t *v)
{
    sc_handle_bootstrap(ctx, v);
    return 0;
}

static int on_configure_vm(void *ctx, const sx_configure_vm_request_t *v)
{
    sc_handle_configure_vm(ctx, v);
    return 0;
}

static int on_create_layer(void *ctx, const sx_create_layer_request_t *v)
{
    (void)v;
    sc_handle_create_layer(ctx);
    return 0;
}

static int on_seal_layer(void *ctx, const sx_seal_layer_request_t *v)
{
    sc_handle_seal_layer(ctx, v);
    return 0;
}

static int on_import_snapshot(void *ctx, const sx_import_snapshot_request_t *v)
{
    sc_handle_import_snapshot(ctx, v);
    return 0;
}

static int on_export_snapshot(void *ctx, const sx_export_snapshot_request_t *v)
{
    sc_handle_export_snapshot(ctx, v);
    return 0;
}

static int on_create_overlay(void *ctx, const sx_create_overlay_request_t *v)
{
    sc_handle_create_overlay(ctx, v);
    return 0;
}

static int on_guest_filesystem_call(void *ctx, const sx_guest_filesystem_call_request_t *v)
{
    sc_handle_guest_fs_call(ctx, v);
    return 0;
}

static int on_snapshot_root_filesystem(void *ctx, const sx_snapshot_root_filesystem_request_t *v)
{
    (void)v;
    sc_handle_snapshot_root(ctx);
    return 0;
}

static int on_create_vm(void *ctx, const sx_create_vm_request_t *v)
{
    sc_handle_create_vm(ctx, v);
    return 0;
}

static int on_dispose_vm(void *ctx, const sx_dispose_vm_request_t *v)
{
    sc_handle_dispose_vm(ctx, v);
    return 0;
}

/* Sidecar-to-host categories that a host must not send (reference §4.7). */
static int wrong_direction(sc_req_t *req)
{
    sc_reject(req, "unsupported_direction",
              "host callback request categories are sidecar-to-host only in this scaffold");
    return 0;
}

static int on_host_filesystem_call(void *ctx, const sx_host_filesystem_call_request_t *v)
{
    (void)v;
    return wrong_direction(ctx);
}

static int on_persistence_load(void *ctx, const sx_persistence_load_request_t *v)
{
    (void)v;
    return wrong_direction(ctx);
}

static int on_persistence_flush(void *ctx, const sx_persistence_flush_request_t *v)
{
    (void)v;
    return wrong_direction(ctx);
}

static int on_ext_envelope(void *ctx, const sx_ext_envelope_t *v)
{
    sc_req_t *req = ctx;
    const sc_extension_t *ext = sc_extension_find(v->namespace_);
    if (!ext) {
        sc_reject(req, "unknown_extension", "no extension registered for namespace %.*s",
                  (int)(v->namespace_.len > 200 ? 200 : v->namespace_.len), v->namespace_.ptr);
        return 0;
    }
    ext->handle(req->srv, v, req);
    return 0;
}

#define HANDLE(fn, type, call)                                                                     \
    static int fn(void *ctx, const type *v)                                                        \
    {                                                                                              \
        (void)v;                                                                                   \
        call;                                                                                      \
        return 0;                                                                                  \
    }

HANDLE(on_register_host_callbacks, sx_register_host_callbacks_request_t,
       sc_handle_register_host_callbacks(ctx, v))
HANDLE(on_execute, sx_execute_request_t, sc_handle_execute(ctx, v))
HANDLE(on_write_stdin, sx_write_stdin_request_t, sc_handle_write_stdin(ctx, v))
HANDLE(on_close_stdin, sx_close_stdin_request_t, sc_handle_close_stdin(ctx, v))
HANDLE(on_kill_process, sx_kill_process_request_t, sc_handle_kill_process(ctx, v))
HANDLE(on_get_process_snapshot, sx_get_process_snapshot_request_t, sc_handle_process_snapshot(ctx))
HANDLE(on_find_listener, sx_find_listener_request_t, sc_handle_find_listener(ctx, v))
HANDLE(on_find_bound_udp, sx_find_bound_udp_request_t, sc_handle_find_bound_udp(ctx, v))
HANDLE(on_get_signal_state, sx_get_signal_state_request_t, sc_handle_signal_state(ctx, v))
HANDLE(on_get_zombie_timer_count, sx_get_zombie_timer_count_request_t, sc_handle_zombie_count(ctx))
HANDLE(on_vm_fetch, sx_vm_fetch_request_t, sc_handle_vm_fetch(ctx, v))

/* One handler per member, in schema order: the macro refuses a missing or misplaced one. */
static const sx_request_payload_handlers_t handlers = SX_REQUEST_PAYLOAD_HANDLERS(
    on_authenticate, on_open_session, on_create_vm, on_dispose_vm, on_bootstrap_root_filesystem,
    on_configure_vm, on_register_host_callbacks, on_create_layer, on_seal_layer,
    on_import_snapshot, on_export_snapshot, on_create_overlay, on_guest_filesystem_call,
    on_snapshot_root_filesystem, on_execute, on_write_stdin, on_close_stdin, on_kill_process,
    on_get_process_snapshot, on_find_listener, on_find_bound_udp, on_get_signal_state,
    on_get_zombie_timer_count, on_host_filesystem_call, on_persistence_load,
    on_persistence_flush, on_vm_fetch, on_ext_envelope);

void sc_dispatch_request(sc_req_t *req, const sx_request_payload_t *payload)
{
    req->name = sx_request_payload_tag_name(payload->tag);
    int rc = sx_request_payload_dispatch(&handlers, req, payload);
    if (rc != BARE_OK && !req->answered)
        sc_reject(req, "invalid_state", "cannot dispatch %s: %s", req->name ? req->name : "?",
                  bare_strerror(rc));
    if (!req->answered) {
        sc_error("request %lld (%s) got no response; answering for it", (long long)req->id,
                 req->name);
        sc_reject(req, "invalid_state", "the sidecar did not answer %s", req->name);
    }
}
