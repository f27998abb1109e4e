/*
 * server.c - from a frame's bytes to its handler: strict decoding with the generated decoder,
 * the frame checks of PROTOCOL.md §1 (schema, request id, frame kind), recovery of the header
 * of frames that cannot be decoded or are too large, and teardown.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "fetch.h"
#include "hostreq.h"
#include "log.h"
#include "sidecar.h"

int sc_server_init(sc_server_t *srv, sc_loop_t *loop, int in_fd, int out_fd)
{
    srv->loop = loop;
    srv->in_fd = in_fd;
    srv->out_fd = out_fd;
    sc_frame_reader_init(&srv->in, in_fd, srv->cfg.max_frame_bytes);
    sc_outq_init(&srv->out);
    bare_arena_init(&srv->arena, NULL, NULL);
    srv->limits.max_depth = 64;
    /* A frame may describe at most this much C memory: 16 bytes per input byte, 16 MiB min. */
    size_t per_frame = (size_t)srv->cfg.max_frame_bytes * 16;
    srv->limits.max_alloc = per_frame < ((size_t)16 << 20) ? (size_t)16 << 20 : per_frame;
    srv->next_conn = srv->next_session = srv->next_vm = 1;
    return 0;
}

void sc_server_free(sc_server_t *srv)
{
    srv->closing = true;
    sc_hostreq_end_vm(srv, NULL);
    while (srv->vms)
        sc_vm_dispose_now(srv, srv->vms);
    sc_fetch_free(srv);
    while (srv->sessions) {
        sc_session_t *s = srv->sessions;
        srv->sessions = s->next;
        sc_session_free(s);
    }
    while (srv->conns) {
        sc_conn_t *c = srv->conns;
        srv->conns = c->next;
        free(c->id);
        free(c->client_name);
        free(c);
    }
    srv->nconns = srv->nsessions = 0;
    sc_frame_reader_free(&srv->in);
    sc_outq_free(&srv->out);
    bare_arena_free(&srv->arena);
}

void sc_server_teardown(sc_server_t *srv)
{
    /* Nothing is sent after EOF: no events. Sessions and connections stay until the VMs
     * that name them are gone (sc_server_free). */
    for (sc_vm_t *vm = srv->vms, *next; vm; vm = next) {
        next = vm->next;
        sc_vm_dispose(srv, vm, false); /* may finish (and free vm) at once */
    }
    sc_server_check_done(srv);
}

void sc_server_check_done(sc_server_t *srv)
{
    if (srv->loop && srv->closing && !srv->vms &&
        (srv->out_broken || sc_outq_pending(&srv->out) == 0))
        sc_loop_stop(srv->loop);
}

/* What could be read of a frame's start: enough to answer it. */
typedef struct frame_head {
    bool is_request; /* tag RequestFrame */
    bool have_id;
    int64_t id;
    bool have_ownership;
    sx_ownership_scope_t ownership;
} frame_head_t;

/* Decodes tag, schema, request id and ownership from the first bytes of a frame. */
static void read_head(sc_server_t *srv, const uint8_t *p, size_t n, frame_head_t *h)
{
    bare_reader_t r;
    uint64_t tag;
    sx_protocol_schema_t schema;
    memset(h, 0, sizeof *h);
    bare_reader_init(&r, p, n, &srv->arena, &srv->limits);
    if (bare_read_uint(&r, &tag) != BARE_OK || tag != SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME)
        return;
    h->is_request = true;
    if (sx_protocol_schema_decode(&r, &schema) != BARE_OK ||
        sx_request_id_decode(&r, &h->id) != BARE_OK)
        return;
    h->have_id = true;
    h->have_ownership = sx_ownership_scope_decode(&r, &h->ownership) == BARE_OK;
}

/* An answer to a frame whose payload could not be used, when its header says who asked. */
static void answer_head(sc_server_t *srv, const frame_head_t *h, const char *code,
                        const char *msg)
{
    sx_ownership_scope_t none;
    if (!h->have_id || h->id <= 0) {
        sc_warn("dropped a frame that cannot be answered: %s", msg);
        return;
    }
    memset(&none, 0, sizeof none);
    none.tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    sc_reject_frame(srv, h->id, h->have_ownership ? &h->ownership : &none, code, msg);
}

/*
 * After each frame: the arena is reset for the next one, keeping a block for reuse, unless
 * the frame's handling took more than SC_KEEP_BYTES (a large request or response). Then the
 * blocks go back to the C library, and the C library gives its free pages back to the
 * system, so a sidecar that once answered a large request does not stay large.
 */
static void frame_done(sc_server_t *srv)
{
    if (srv->arena.used <= SC_KEEP_BYTES) {
        bare_arena_reset(&srv->arena);
        return;
    }
    bare_arena_free(&srv->arena);
    sc_outq_trim(&srv->out);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void sc_server_handle_oversize(sc_server_t *srv, const uint8_t *prefix, size_t len,
                               uint32_t declared)
{
    frame_head_t h;
    char msg[160];
    read_head(srv, prefix, len, &h);
    snprintf(msg, sizeof msg, "protocol frame is %u bytes, limit is %u", declared,
             srv->cfg.max_frame_bytes);
    answer_head(srv, &h, "frame_too_large", msg);
    frame_done(srv);
}

static bool schema_ok(const sx_protocol_schema_t *s)
{
    return bare_str_eq_cstr(s->name, SC_SCHEMA_NAME) && s->version == SC_SCHEMA_VERSION;
}

static void handle_request(sc_server_t *srv, const sx_request_frame_t *f)
{
    sc_req_t req = {srv, f->request_id, &f->ownership, NULL, false};
    if (!schema_ok(&f->schema)) {
        req.name = "frame";
        sc_reject(&req, "protocol_version_mismatch",
                  "unsupported protocol schema %.*s@%u; expected %s@%d",
                  (int)(f->schema.name.len > 100 ? 100 : f->schema.name.len), f->schema.name.ptr,
                  (unsigned)f->schema.version, SC_SCHEMA_NAME, SC_SCHEMA_VERSION);
        return;
    }
    if (f->request_id <= 0) {
        req.name = "frame";
        sc_reject(&req, "invalid_state", "request ids from the host must be positive, got %lld",
                  (long long)f->request_id);
        return;
    }
    sc_dispatch_request(&req, &f->payload);
}

void sc_server_handle_frame(sc_server_t *srv, const uint8_t *payload, size_t len)
{
    bare_reader_t r;
    sx_protocol_frame_t f;
    char msg[512];

    srv->frames_in++;
    bare_reader_init(&r, payload, len, &srv->arena, &srv->limits);
    if (sx_protocol_frame_decode(&r, &f) != BARE_OK || bare_reader_finish(&r) != BARE_OK) {
        frame_head_t h;
        const char *path = bare_error_path(&r.err);
        snprintf(msg, sizeof msg, "frame does not decode: %s at byte %zu%s%s",
                 bare_strerror(r.err.status), r.err.offset, *path ? " in " : "", path);
        read_head(srv, payload, len, &h);
        answer_head(srv, &h, "invalid_frame", msg);
        frame_done(srv);
        return;
    }
    switch (f.tag) {
    case SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME:
        handle_request(srv, &f.u.request_frame);
        break;
    case SX_PROTOCOL_FRAME_TAG_SIDECAR_RESPONSE_FRAME:
        sc_hostreq_deliver(srv, &f.u.sidecar_response_frame);
        break;
    default:
        sc_warn("dropped a %s: a host must not send it", sx_protocol_frame_tag_name(f.tag));
        break;
    }
    frame_done(srv);
}

static size_t high_water(const sc_server_t *srv)
{
    return 4 * (size_t)srv->cfg.max_frame_bytes + 65536;
}

void sc_server_update_watches(sc_server_t *srv)
{
    size_t pending = sc_outq_pending(&srv->out);
    bool was = srv->in_paused;
    if (srv->out_watch && !srv->out_broken)
        sc_loop_modify(srv->loop, srv->out_watch, pending ? EPOLLOUT : 0);
    /* Back-pressure: a host that stops reading stops being read, and so do its guests. */
    if (!srv->in_paused && pending > high_water(srv)) {
        srv->in_paused = true;
        sc_debug("output queue at %zu bytes: pausing input", pending);
    } else if (srv->in_paused && pending <= srv->cfg.max_frame_bytes) {
        srv->in_paused = false;
    }
    if (srv->in_watch)
        sc_loop_modify(srv->loop, srv->in_watch, srv->in_paused || srv->closing ? 0 : EPOLLIN);
    if (was != srv->in_paused)
        sc_vmexec_throttle(srv, srv->in_paused);
}
