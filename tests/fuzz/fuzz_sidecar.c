/*
 * fuzz_sidecar.c - arbitrary bytes into the sidecar's frame loop, in process: the input is the
 * stdin stream (length prefixes included), fed in pieces whose sizes come from the input too;
 * every frame is handled by a server with no event loop and no host (so no VM filesystem and
 * no guest process: nothing forks, mounts or touches a loop). No crash, no leak, nothing left
 * behind, and what the sidecar writes back keeps the protocol: every output frame fits the
 * frame limit, decodes, validates and carries the protocol schema; a host's request gets
 * exactly one response (at most one when the answer might not fit), first, with the request's
 * id and ownership (a new connection's for a successful Authenticate); a frame that does not
 * decode or is too large gets at most a rejection; frames a host must not send get nothing.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "sidecar.h"
#include "../value_gen.h"

#define MAX_FRAME 65536u /* small, so oversized frames are reachable */
#define ANSWER_ROOM 2048 /* a rejection needs at most this beside the echoed ownership */

/* What the sidecar was given, as a conforming host would see it. */
typedef enum { IN_REQUEST, IN_OTHER, IN_BAD, IN_OVERSIZE } in_kind_t;

typedef struct in_frame {
    in_kind_t kind;
    size_t len;
    sx_request_frame_t req; /* IN_REQUEST */
} in_frame_t;

static void classify(const uint8_t *p, size_t len, bare_arena_t *arena, in_frame_t *in)
{
    bare_reader_t r;
    sx_protocol_frame_t f;
    in->len = len;
    bare_reader_init(&r, p, len, arena, NULL);
    if (sx_protocol_frame_decode(&r, &f) != BARE_OK || bare_reader_finish(&r) != BARE_OK) {
        in->kind = IN_BAD;
        return;
    }
    in->kind = f.tag == SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME ? IN_REQUEST : IN_OTHER;
    if (in->kind == IN_REQUEST)
        in->req = f.u.request_frame;
}

static bool schema_ok(const sx_protocol_schema_t *s)
{
    return bare_str_eq_cstr(s->name, SC_SCHEMA_NAME) && s->version == SC_SCHEMA_VERSION;
}

/* The frames the sidecar queued in answer to in. */
static void check_output(sc_server_t *srv, const in_frame_t *in, bare_arena_t *arena)
{
    const uint8_t *p = srv->out.w.buf, *end = p;
    if (p) { /* NULL until the first frame is queued */
        end = p + srv->out.w.len;
        p += srv->out.head;
    }
    size_t responses = 0, events = 0;
    while (p < end) {
        FUZZ_CHECK((size_t)(end - p) >= BARE_FRAME_HEADER_SIZE, "a partial frame header queued");
        uint32_t n = bare_frame_header_decode(p);
        p += BARE_FRAME_HEADER_SIZE;
        FUZZ_CHECK(n <= MAX_FRAME && n <= (size_t)(end - p),
                   "an output frame of %u bytes (limit %u, %zu queued)", n, MAX_FRAME,
                   (size_t)(end - p));
        bare_reader_t r;
        bare_error_t err;
        sx_protocol_frame_t f;
        bare_reader_init(&r, p, n, arena, NULL);
        int rc = sx_protocol_frame_decode(&r, &f);
        if (rc == BARE_OK)
            rc = bare_reader_finish(&r);
        FUZZ_CHECK(rc == BARE_OK, "an output frame does not decode: %s at %zu %s",
                   bare_strerror(rc), r.err.offset, bare_error_path(&r.err));
        rc = sx_protocol_frame_validate(&f, &err);
        FUZZ_CHECK(rc == BARE_OK, "an output frame does not validate: %s at %s", bare_strerror(rc),
                   bare_error_path(&err));
        p += n;

        if (f.tag == SX_PROTOCOL_FRAME_TAG_EVENT_FRAME) {
            const sx_event_frame_t *e = &f.u.event_frame;
            FUZZ_CHECK(schema_ok(&e->schema), "an event with another schema");
            FUZZ_CHECK(e->ownership.tag == SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP,
                       "an event without VM ownership");
            FUZZ_CHECK(in->kind == IN_REQUEST, "an event for a frame that is no request");
            events++;
            continue;
        }
        FUZZ_CHECK(f.tag == SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME, "the sidecar sent a %s",
                   sx_protocol_frame_tag_name(f.tag));
        const sx_response_frame_t *rf = &f.u.response_frame;
        FUZZ_CHECK(schema_ok(&rf->schema), "a response with another schema");
        FUZZ_CHECK(responses == 0 && events == 0, "%s after %zu responses and %zu events",
                   sx_response_payload_tag_name(rf->payload.tag), responses, events);
        responses++;
        bool rejected = rf->payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE;
        const sx_rejected_response_t *rej = &rf->payload.u.rejected_response;
        FUZZ_CHECK(!rejected || (rej->code.len > 0 && rej->message.len > 0),
                   "a rejection without a code or a message");
        if (in->kind != IN_REQUEST) {
            FUZZ_CHECK(in->kind != IN_OTHER, "an answer to a frame a host must not send");
            FUZZ_CHECK(rejected && rf->request_id > 0 &&
                           bare_str_eq_cstr(rej->code, in->kind == IN_BAD ? "invalid_frame"
                                                                          : "frame_too_large"),
                       "an unusable frame answered with %s, id %lld",
                       sx_response_payload_tag_name(rf->payload.tag), (long long)rf->request_id);
            continue;
        }
        FUZZ_CHECK(rf->request_id == in->req.request_id, "request %lld answered as %lld",
                   (long long)in->req.request_id, (long long)rf->request_id);
        if (rf->payload.tag == SX_RESPONSE_PAYLOAD_TAG_AUTHENTICATED_RESPONSE) {
            FUZZ_CHECK(in->req.payload.tag == SX_REQUEST_PAYLOAD_TAG_AUTHENTICATE_REQUEST,
                       "Authenticated for a %s", sx_request_payload_tag_name(in->req.payload.tag));
            FUZZ_CHECK(rf->ownership.tag == SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP &&
                           bare_str_eq(rf->ownership.u.connection_ownership.connection_id,
                                       rf->payload.u.authenticated_response.connection_id),
                       "Authenticated not in the new connection's ownership");
        } else {
            FUZZ_CHECK(value_equal(&sx_ownership_scope_desc, &rf->ownership, &in->req.ownership),
                       "request %lld (%s) answered in another ownership",
                       (long long)in->req.request_id,
                       sx_request_payload_tag_name(in->req.payload.tag));
        }
    }
    FUZZ_CHECK(responses <= 1, "%zu responses to one frame", responses);
    if (in->kind == IN_REQUEST && in->len + ANSWER_ROOM <= MAX_FRAME)
        FUZZ_CHECK(responses == 1, "request %lld (%s) got no response",
                   (long long)in->req.request_id, sx_request_payload_tag_name(in->req.payload.tag));
    /* the host reads everything at once */
    srv->out.w.len = 0;
    srv->out.head = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_server_t srv;
    bare_arena_t arena; /* the harness's own decoding */
    memset(&srv, 0, sizeof srv);
    srv.cfg.sidecar_id = (char *)"fuzz";
    srv.cfg.auth_token = (char *)"token";
    srv.cfg.max_frame_bytes = MAX_FRAME;
    sc_log_set_level(SC_LOG_ERROR);
    sc_server_init(&srv, NULL, -1, -1);
    bare_arena_init(&arena, NULL, NULL);

    /* The first byte picks the piece size: frames split across reads must not matter. */
    size_t piece = size ? 1 + data[0] % 64 : 1;
    size_t at = size ? 1 : 0;
    bool done = false;
    while (!done) {
        size_t n = size - at < piece ? size - at : piece;
        if (sc_frame_reader_feed(&srv.in, data + at, n, at + n == size) != 0)
            break;
        at += n;
        for (;;) {
            const uint8_t *p;
            size_t len;
            in_frame_t in;
            memset(&in, 0, sizeof in);
            sc_read_result_t r = sc_frame_reader_next(&srv.in, &p, &len);
            if (r == SC_READ_FRAME) {
                classify(p, len, &arena, &in);
                sc_server_handle_frame(&srv, p, len);
            } else if (r == SC_READ_OVERSIZE) {
                FUZZ_CHECK(srv.in.declared > MAX_FRAME && len <= SC_FRAME_PREFIX,
                           "an oversized frame of %u bytes with a %zu-byte prefix", srv.in.declared,
                           len);
                in.kind = IN_OVERSIZE;
                in.len = len;
                sc_server_handle_oversize(&srv, p, len, srv.in.declared);
            } else {
                done = r != SC_READ_NONE;
                break;
            }
            check_output(&srv, &in, &arena);
            bare_arena_reset(&arena);
        }
        if (at == size)
            done = true;
    }
    FUZZ_CHECK(srv.nvms <= SC_MAX_VMS && srv.nsessions <= SC_MAX_SESSIONS &&
                   srv.nconns <= SC_MAX_CONNECTIONS,
               "%zu VMs, %zu sessions, %zu connections", srv.nvms, srv.nsessions, srv.nconns);
    srv.cfg.sidecar_id = NULL; /* not ours to free */
    srv.cfg.auth_token = NULL;
    sc_server_free(&srv);
    FUZZ_CHECK(srv.vms == NULL && srv.sessions == NULL && srv.conns == NULL && srv.nvms == 0,
               "state left after teardown");
    bare_arena_free(&arena);
    return 0;
}
