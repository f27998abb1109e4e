/*
 * respond.c - every frame the sidecar writes: responses (with the request's id and ownership),
 * rejections and events. Frames are encoded straight into the output queue; one that would
 * exceed maxFrameBytes is never written.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "sidecar.h"

static void set_schema(sx_protocol_schema_t *s)
{
    s->name = bare_str_from_cstr(SC_SCHEMA_NAME);
    s->version = SC_SCHEMA_VERSION;
}

/* Encodes f as the next frame of q; returns its status and the payload size. */
static int put_frame_to(sc_server_t *srv, sc_outq_t *q, const sx_protocol_frame_t *f, size_t *size)
{
    size_t mark;
    bare_writer_t *w = sc_outq_begin(q, &mark);
    int rc = sx_protocol_frame_encode(w, f);
    return sc_outq_end(q, mark, rc, srv->cfg.max_frame_bytes, size);
}

/* Frames were queued by a timer or a guest's pipe: stdout now has work. (A batch of requests
 * is written once, at its end, by main.c.) */
static void arm_output(sc_server_t *srv)
{
    if (srv->out_watch && !srv->out_broken && !srv->dispatching &&
        !(sc_watch_events(srv->out_watch) & EPOLLOUT))
        sc_loop_modify(srv->loop, srv->out_watch, EPOLLOUT);
}

/* Encodes f as the next output frame; returns its status and the payload size. */
static int put_frame(sc_server_t *srv, const sx_protocol_frame_t *f, size_t *size)
{
    int rc = put_frame_to(srv, &srv->out, f, size);
    if (rc == BARE_OK)
        srv->frames_out++;
    arm_output(srv);
    return rc;
}

static int put_response(sc_server_t *srv, int64_t id, const sx_ownership_scope_t *ownership,
                        const sx_response_payload_t *payload, size_t *size)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME;
    set_schema(&f.u.response_frame.schema);
    f.u.response_frame.request_id = id;
    f.u.response_frame.ownership = *ownership;
    f.u.response_frame.payload = *payload;
    return put_frame(srv, &f, size);
}

/*
 * Copies text into out (cap bytes) as valid UTF-8: a byte that does not start a valid sequence
 * (a message cut in the middle of one, or bytes quoted from a request) becomes '?'. A
 * rejection that cannot be encoded would leave its request without an answer.
 */
static void utf8_copy(char *out, size_t cap, const char *text)
{
    size_t k = 0;
    for (const char *p = text; *p && k + 4 < cap;) {
        unsigned char c = (unsigned char)*p;
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (len > 1 && (strnlen(p, len) < len || !bare_utf8_valid(p, len))) {
            out[k++] = '?';
            p++;
            continue;
        }
        memcpy(out + k, p, len);
        k += len;
        p += len;
    }
    out[k] = '\0';
}

void sc_reject_frame(sc_server_t *srv, int64_t id, const sx_ownership_scope_t *ownership,
                     const char *code, const char *message)
{
    sx_response_payload_t p;
    char text[1100];
    utf8_copy(text, sizeof text, message);
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE;
    p.u.rejected_response.code = bare_str_from_cstr(code);
    p.u.rejected_response.message = bare_str_from_cstr(text);
    int rc = put_response(srv, id, ownership, &p, NULL);
    if (rc != BARE_OK)
        sc_error("cannot write the rejection of request %lld (%s: %s): %s", (long long)id, code,
                 message, bare_strerror(rc));
}

void sc_respond_as(sc_req_t *req, const sx_ownership_scope_t *ownership,
                   const sx_response_payload_t *payload)
{
    sc_server_t *srv = req->srv;
    size_t size = 0;
    char msg[160];

    req->answered = true;
    int rc = put_response(srv, req->id, ownership, payload, &size);
    if (rc == BARE_OK)
        return;
    if (rc == BARE_E_FRAME_TOO_LARGE) {
        snprintf(msg, sizeof msg, "response frame is %zu bytes, limit is %u", size,
                 srv->cfg.max_frame_bytes);
        sc_reject_frame(srv, req->id, req->ownership, "frame_too_large", msg);
        return;
    }
    /* A value the sidecar built that the schema refuses: a bug, reported, not sent. */
    sc_error("cannot encode the %s response of request %lld: %s", req->name, (long long)req->id,
             bare_strerror(rc));
    snprintf(msg, sizeof msg, "the sidecar could not encode its response: %s",
             bare_strerror(rc));
    sc_reject_frame(srv, req->id, req->ownership, "invalid_state", msg);
}

void sc_respond(sc_req_t *req, const sx_response_payload_t *payload)
{
    sc_respond_as(req, req->ownership, payload);
}

void sc_reject(sc_req_t *req, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req->answered = true;
    sc_debug("request %lld (%s) rejected: %s: %s", (long long)req->id, req->name, code, msg);
    sc_reject_frame(req->srv, req->id, req->ownership, code, msg);
}

int sc_put_sidecar_request(sc_server_t *srv, int64_t id, const sx_ownership_scope_t *ownership,
                           const sx_sidecar_request_payload_t *payload, size_t *size)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_REQUEST_FRAME;
    set_schema(&f.u.sidecar_request_frame.schema);
    f.u.sidecar_request_frame.request_id = id;
    f.u.sidecar_request_frame.ownership = *ownership;
    f.u.sidecar_request_frame.payload = *payload;
    return put_frame(srv, &f, size);
}

void sc_emit_event(sc_server_t *srv, const sx_ownership_scope_t *ownership,
                   const sx_event_payload_t *payload)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_EVENT_FRAME;
    set_schema(&f.u.event_frame.schema);
    f.u.event_frame.ownership = *ownership;
    f.u.event_frame.payload = *payload;
    int rc = put_frame(srv, &f, NULL);
    if (rc != BARE_OK)
        sc_error("cannot write a %s event: %s", sx_event_payload_tag_name(payload->tag),
                 bare_strerror(rc));
}

void sc_vm_event(sc_server_t *srv, sc_vm_t *vm, const sx_event_payload_t *payload)
{
    if (!vm->holding) {
        sx_ownership_scope_t own;
        sc_vm_ownership(vm, &own);
        sc_emit_event(srv, &own, payload);
        return;
    }
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_EVENT_FRAME;
    set_schema(&f.u.event_frame.schema);
    sc_vm_ownership(vm, &f.u.event_frame.ownership);
    f.u.event_frame.payload = *payload;
    int rc = put_frame_to(srv, &vm->held, &f, NULL);
    if (rc != BARE_OK)
        sc_error("cannot hold a %s event: %s", sx_event_payload_tag_name(payload->tag),
                 bare_strerror(rc));
}

void sc_vm_release_events(sc_server_t *srv, sc_vm_t *vm)
{
    vm->holding = false;
    if (sc_outq_pending(&vm->held) == 0) {
        sc_outq_free(&vm->held);
        return;
    }
    if (sc_outq_move(&srv->out, &vm->held) != 0)
        sc_error("%s: out of memory: its last events are lost", vm->id);
    sc_outq_free(&vm->held);
    arm_output(srv);
}

void sc_vm_ownership(const sc_vm_t *vm, sx_ownership_scope_t *out)
{
    memset(out, 0, sizeof *out);
    out->tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    out->u.vm_ownership.connection_id = bare_str_from_cstr(vm->session->conn->id);
    out->u.vm_ownership.session_id = bare_str_from_cstr(vm->session->id);
    out->u.vm_ownership.vm_id = bare_str_from_cstr(vm->id);
}

/* ---- answers given later ---- */

sc_deferred_t *sc_defer(sc_req_t *req)
{
    sc_deferred_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->id = req->id;
    d->tag = req->ownership->tag;
    snprintf(d->name, sizeof d->name, "%s", req->name ? req->name : "request");
    const sx_ownership_scope_t *o = req->ownership;
    bool ok = true;
    switch (o->tag) {
    case SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP:
        ok = (d->conn = sc_strdup_str(o->u.connection_ownership.connection_id)) != NULL;
        break;
    case SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP:
        ok = (d->conn = sc_strdup_str(o->u.session_ownership.connection_id)) &&
             (d->session = sc_strdup_str(o->u.session_ownership.session_id));
        break;
    case SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP:
        ok = (d->conn = sc_strdup_str(o->u.vm_ownership.connection_id)) &&
             (d->session = sc_strdup_str(o->u.vm_ownership.session_id)) &&
             (d->vm = sc_strdup_str(o->u.vm_ownership.vm_id));
        break;
    }
    if (!ok) {
        sc_deferred_free(d);
        return NULL;
    }
    req->answered = true;
    return d;
}

void sc_deferred_free(sc_deferred_t *d)
{
    if (!d)
        return;
    free(d->conn);
    free(d->session);
    free(d->vm);
    free(d);
}

static void deferred_ownership(const sc_deferred_t *d, sx_ownership_scope_t *o)
{
    memset(o, 0, sizeof *o);
    o->tag = d->tag;
    switch (d->tag) {
    case SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP:
        o->u.connection_ownership.connection_id = bare_str_from_cstr(d->conn);
        break;
    case SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP:
        o->u.session_ownership.connection_id = bare_str_from_cstr(d->conn);
        o->u.session_ownership.session_id = bare_str_from_cstr(d->session);
        break;
    case SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP:
        o->u.vm_ownership.connection_id = bare_str_from_cstr(d->conn);
        o->u.vm_ownership.session_id = bare_str_from_cstr(d->session);
        o->u.vm_ownership.vm_id = bare_str_from_cstr(d->vm);
        break;
    }
}

void sc_deferred_respond(sc_server_t *srv, sc_deferred_t *d, const sx_response_payload_t *payload)
{
    sx_ownership_scope_t own;
    deferred_ownership(d, &own);
    sc_req_t req = {srv, d->id, &own, d->name, false};
    sc_respond(&req, payload);
    sc_deferred_free(d);
}

void sc_deferred_reject(sc_server_t *srv, sc_deferred_t *d, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sx_ownership_scope_t own;
    deferred_ownership(d, &own);
    sc_req_t req = {srv, d->id, &own, d->name, false};
    sc_reject(&req, code, "%s", msg);
    sc_deferred_free(d);
}
