/*
 * check_sidecar.c - secure-exec-sidecar through its pipes, as a host SDK drives it: handshake,
 * ownership, VM lifecycle, every row of the bad-input table of PROTOCOL.md §1 (each followed by
 * a request that must still succeed), back-pressure, configuration, and shutdown.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#ifndef SIDECAR_PATH
#define SIDECAR_PATH "build/secure-exec-sidecar"
#endif

#define T 10000 /* ms: generous, sanitizers are slow */

static char log_path[64];
static int log_fd = -1;

/* Starts the sidecar with extra environment entries and arguments; its stderr is kept. */
static se_client_t *start_with(const char *const *args, const char *const *env)
{
    char err[256];
    snprintf(log_path, sizeof log_path, "/tmp/sidecar-log.XXXXXX");
    log_fd = mkstemp(log_path);
    ck_assert_int_ge(log_fd, 0);
    se_client_options_t opt = {SIDECAR_PATH, args, env, log_fd, 0};
    se_client_t *c = se_client_spawn(&opt, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

static se_client_t *start(void)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    return start_with(NULL, env);
}

/* The sidecar's log so far. */
static char *read_log(void)
{
    static char buf[65536];
    ssize_t n = pread(log_fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int stop(se_client_t *c)
{
    int status = se_client_close(c, T);
    close(log_fd);
    unlink(log_path);
    return status;
}

static void expect_rejected(const sx_response_frame_t *r, const char *code, const char *substr)
{
    ck_assert_int_eq(r->payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    const sx_rejected_response_t *rej = &r->payload.u.rejected_response;
    ck_assert_msg(bare_str_eq_cstr(rej->code, code), "code %.*s, want %s (message: %.*s)",
                  (int)rej->code.len, rej->code.ptr, code, (int)rej->message.len,
                  rej->message.ptr);
    char msg[1024];
    snprintf(msg, sizeof msg, "%.*s", (int)rej->message.len, rej->message.ptr);
    ck_assert_msg(strstr(msg, substr), "message '%s' lacks '%s'", msg, substr);
}

static void auth_payload(sx_request_payload_t *p, const char *token, uint16_t proto,
                         uint32_t bridge)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_AUTHENTICATE_REQUEST;
    p->u.authenticate_request.client_name = bare_str_from_cstr("check");
    p->u.authenticate_request.auth_token = bare_str_from_cstr(token);
    p->u.authenticate_request.protocol_version = proto;
    p->u.authenticate_request.bridge_version = bridge;
}

static void conn_scope(sx_ownership_scope_t *o, const char *conn)
{
    memset(o, 0, sizeof *o);
    o->tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    o->u.connection_ownership.connection_id = bare_str_from_cstr(conn);
}

/* A request that must succeed: the sidecar is alive and in sync. */
static void still_serving(se_client_t *c)
{
    ck_assert_int_eq(se_client_authenticate(c, "still", "t", T), SE_OK);
}

/* Encodes a RequestFrame into buf (with its length prefix); returns the frame's size. */
static size_t request_bytes(uint8_t *buf, size_t cap, const char *schema, uint16_t version,
                            int64_t id, const sx_request_payload_t *p)
{
    sx_protocol_frame_t f;
    bare_writer_t w;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr(schema);
    f.u.request_frame.schema.version = version;
    f.u.request_frame.request_id = id;
    conn_scope(&f.u.request_frame.ownership, "c");
    f.u.request_frame.payload = *p;
    bare_writer_init_fixed(&w, buf, cap);
    w.len = 4;
    ck_assert_int_eq(sx_protocol_frame_encode(&w, &f), BARE_OK);
    bare_frame_header_encode(buf, (uint32_t)(w.len - 4));
    return w.len;
}

/* ---- handshake ---- */

START_TEST(test_authenticate_success)
{
    se_client_t *c = start();
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    conn_scope(&own, "my-hint");
    auth_payload(&p, "any-token", 7, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert_int_eq(r.request_id, 1);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_AUTHENTICATED_RESPONSE);
    const sx_authenticated_response_t *a = &r.payload.u.authenticated_response;
    ck_assert(bare_str_eq_cstr(a->sidecar_id, "secure-exec-sidecar"));
    ck_assert(bare_str_eq_cstr(a->connection_id, "conn-1"));
    ck_assert_uint_eq(a->max_frame_bytes, 1048576);
    /* the response carries the new connection, not the hint */
    ck_assert_int_eq(r.ownership.tag, SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP);
    ck_assert(bare_str_eq_cstr(r.ownership.u.connection_ownership.connection_id, "conn-1"));
    /* authenticating again always makes a new connection */
    conn_scope(&own, "conn-1");
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert(bare_str_eq_cstr(r.payload.u.authenticated_response.connection_id, "conn-2"));
    ck_assert_uint_eq(se_client_pending_events(c), 0);
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_authenticate_rejections)
{
    static const char *const env[] = {"SECURE_EXEC_SIDECAR_TOKEN=s3cret", NULL};
    se_client_t *c = start_with(NULL, env);
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    conn_scope(&own, "hint");

    auth_payload(&p, "wrong", 7, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unauthorized", "authenticate request provided an invalid auth token");
    /* a rejection echoes the hint */
    ck_assert(bare_str_eq_cstr(r.ownership.u.connection_ownership.connection_id, "hint"));
    auth_payload(&p, "s3cre", 7, 1); /* a prefix of the token */
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unauthorized", "invalid auth token");
    auth_payload(&p, "s3cret", 6, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "protocol_version_mismatch",
                    "sidecar protocol version mismatch: expected 7, got 6");
    auth_payload(&p, "s3cret", 7, 2);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "bridge_version_mismatch",
                    "bridge contract version mismatch: expected 1, got 2");
    /* the token is checked before the versions */
    auth_payload(&p, "nope", 9, 9);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unauthorized", "invalid auth token");
    /* a rejected Authenticate creates no connection: conn-1 comes next */
    ck_assert_int_eq(se_client_authenticate(c, "check", "s3cret", T), SE_OK);
    ck_assert_str_eq(se_client_connection_id(c), "conn-1");
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_authenticate_needs_connection_scope)
{
    se_client_t *c = start();
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&own, 0, sizeof own);
    own.tag = SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP;
    auth_payload(&p, "t", 7, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "invalid_state", "request requires connection ownership scope");
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* ---- ownership ---- */

static void open_session_as(se_client_t *c, const char *conn, sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    conn_scope(&own, conn);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_OPEN_SESSION_REQUEST;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, r), SE_OK);
}

static void session_scope(sx_ownership_scope_t *o, const char *conn, const char *session)
{
    memset(o, 0, sizeof *o);
    o->tag = SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP;
    o->u.session_ownership.connection_id = bare_str_from_cstr(conn);
    o->u.session_ownership.session_id = bare_str_from_cstr(session);
}

static void vm_scope(sx_ownership_scope_t *o, const char *conn, const char *session,
                     const char *vm)
{
    memset(o, 0, sizeof *o);
    o->tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    o->u.vm_ownership.connection_id = bare_str_from_cstr(conn);
    o->u.vm_ownership.session_id = bare_str_from_cstr(session);
    o->u.vm_ownership.vm_id = bare_str_from_cstr(vm);
}

static void create_vm_as(se_client_t *c, const sx_ownership_scope_t *own, const char *config,
                         sx_response_frame_t *r)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_VM_REQUEST;
    p.u.create_vm_request.runtime = SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT;
    p.u.create_vm_request.config = bare_str_from_cstr(config);
    ck_assert_int_eq(se_client_call(c, own, &p, T, r), SE_OK);
}

static void dispose_as(se_client_t *c, const sx_ownership_scope_t *own, sx_response_frame_t *r)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_DISPOSE_VM_REQUEST;
    ck_assert_int_eq(se_client_call(c, own, &p, T, r), SE_OK);
}

START_TEST(test_ownership)
{
    se_client_t *c = start();
    sx_response_frame_t r;
    sx_ownership_scope_t own;

    /* not authenticated */
    open_session_as(c, "conn-1", &r);
    expect_rejected(&r, "invalid_state", "connection conn-1 has not authenticated");

    ck_assert_int_eq(se_client_authenticate(c, "a", "t", T), SE_OK); /* conn-1 = A */
    ck_assert_int_eq(se_client_authenticate(c, "b", "t", T), SE_OK); /* conn-2 = B */
    open_session_as(c, "conn-1", &r); /* session-1 of A */
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_SESSION_OPENED_RESPONSE);
    ck_assert(bare_str_eq_cstr(r.payload.u.session_opened_response.session_id, "session-1"));
    ck_assert(
        bare_str_eq_cstr(r.payload.u.session_opened_response.owner_connection_id, "conn-1"));
    open_session_as(c, "conn-2", &r); /* session-2 of B */
    open_session_as(c, "conn-1", &r); /* session-3 of A */

    session_scope(&own, "conn-1", "session-1");
    create_vm_as(c, &own, "{}", &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_CREATED_RESPONSE);
    ck_assert(bare_str_eq_cstr(r.payload.u.vm_created_response.vm_id, "vm-1"));

    /* B uses A's session */
    session_scope(&own, "conn-2", "session-1");
    create_vm_as(c, &own, "{}", &r);
    expect_rejected(&r, "invalid_state", "session session-1 is not owned by connection conn-2");
    /* B names A's VM under B's session */
    vm_scope(&own, "conn-2", "session-2", "vm-1");
    dispose_as(c, &own, &r);
    expect_rejected(&r, "invalid_state", "VM vm-1 is not owned by conn-2/session-2");
    /* A names its VM under its other session */
    vm_scope(&own, "conn-1", "session-3", "vm-1");
    dispose_as(c, &own, &r);
    expect_rejected(&r, "invalid_state", "not owned");
    /* unknown ids */
    session_scope(&own, "conn-1", "session-99");
    create_vm_as(c, &own, "{}", &r);
    expect_rejected(&r, "invalid_state", "unknown sidecar session session-99");
    vm_scope(&own, "conn-1", "session-1", "vm-99");
    dispose_as(c, &own, &r);
    expect_rejected(&r, "invalid_state", "unknown sidecar VM vm-99");
    /* the wrong scope variant */
    conn_scope(&own, "conn-1");
    create_vm_as(c, &own, "{}", &r);
    expect_rejected(&r, "invalid_state", "request requires session ownership scope");
    session_scope(&own, "conn-1", "session-1");
    dispose_as(c, &own, &r);
    expect_rejected(&r, "invalid_state", "request requires VM ownership scope");
    /* the owner can still dispose it */
    vm_scope(&own, "conn-1", "session-1", "vm-1");
    dispose_as(c, &own, &r);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_DISPOSED_RESPONSE);
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* ---- VM lifecycle and config ---- */

/* Authenticates, opens a session and creates a JavaScript VM of the default config in it. */
static void first_vm(se_client_t *c, char vm[64])
{
    ck_assert_int_eq(se_client_authenticate(c, "a", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    ck_assert_int_eq(se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, "{}", T, vm, 64),
                     SE_OK);
}

static void expect_lifecycle(se_client_t *c, const char *vm, sx_vm_lifecycle_state_t state)
{
    sx_event_frame_t ev;
    ck_assert_int_eq(se_client_next_event(c, T, &ev), SE_OK);
    ck_assert_int_eq(ev.payload.tag, SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT);
    ck_assert_int_eq(ev.payload.u.vm_lifecycle_event.state, state);
    ck_assert_int_eq(ev.ownership.tag, SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP);
    ck_assert(bare_str_eq_cstr(ev.ownership.u.vm_ownership.vm_id, vm));
    ck_assert(bare_str_eq_cstr(ev.ownership.u.vm_ownership.session_id, "session-1"));
}

START_TEST(test_vm_lifecycle_events)
{
    se_client_t *c = start();
    char vm[64];
    ck_assert_int_eq(se_client_authenticate(c, "a", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    ck_assert_int_eq(se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_PYTHON, "{}", T, vm, sizeof vm),
                     SE_OK);
    ck_assert_str_eq(vm, "vm-1");
    /* the events were written after the response: they are waiting now */
    expect_lifecycle(c, vm, SX_VM_LIFECYCLE_STATE_CREATING);
    expect_lifecycle(c, vm, SX_VM_LIFECYCLE_STATE_READY);
    ck_assert_int_eq(se_client_dispose_vm(c, vm, T), SE_OK);
    expect_lifecycle(c, vm, SX_VM_LIFECYCLE_STATE_DISPOSING);
    expect_lifecycle(c, vm, SX_VM_LIFECYCLE_STATE_DISPOSED);
    /* gone */
    ck_assert_int_eq(se_client_dispose_vm(c, vm, T), SE_REJECTED);
    ck_assert_str_eq(se_client_rejection_code(c), "invalid_state");
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

static const struct {
    const char *config;
    const char *message;
} bad_configs[] = {
    {"{", "invalid create VM config JSON"},
    {"{\"bogus\": 1}", "unknown field 'bogus'"},
    {"{\"cwd\": \"relative\"}", "cwd must be absolute"},
    {"{\"cwd\": \"/a/../b\"}", "cwd must not contain '..'"},
    {"{\"rootFilesystem\": {\"mode\": \"sideways\"}}", "rootFilesystem.mode"},
    {"{\"rootFilesystem\": {\"bootstrapEntries\": [{\"path\": \"x\", \"kind\": \"file\"}]}}",
     "rootFilesystem.bootstrapEntries[0].path"},
    {"{\"permissions\": {\"fs\": {\"rules\": [{\"mode\": \"allow\", \"operations\": [], "
     "\"paths\": [\"/\"]}]}}}",
     "fs.rules[0].operations must not be empty"},
    {"{\"limits\": {\"http\": {\"maxFetchResponseBytes\": 2000000}}}",
     "limits.http.maxFetchResponseBytes"},
    {"{\"limits\": {\"resources\": {\"maxProcesses\": 0}}}",
     "limits.resources.maxProcesses must be greater than zero"},
};

START_TEST(test_create_vm_config_errors)
{
    se_client_t *c = start();
    char vm[64];
    ck_assert_int_eq(se_client_authenticate(c, "a", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    int st = se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, bad_configs[_i].config, T,
                                 vm, sizeof vm);
    ck_assert_int_eq(st, SE_REJECTED);
    ck_assert_str_eq(se_client_rejection_code(c), "invalid_state");
    ck_assert_msg(strstr(se_client_rejection_message(c), bad_configs[_i].message),
                  "'%s' lacks '%s'", se_client_rejection_message(c), bad_configs[_i].message);
    /* no event for a failed create, and no VM id consumed */
    ck_assert_uint_eq(se_client_pending_events(c), 0);
    ck_assert_int_eq(se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, "{}", T, vm,
                                         sizeof vm),
                     SE_OK);
    ck_assert_str_eq(vm, "vm-1");
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* ---- requests not handled here ---- */

START_TEST(test_wrong_direction_and_unknown_extension)
{
    se_client_t *c = start();
    char vm[64];
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    first_vm(c, vm);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_PERSISTENCE_LOAD_REQUEST;
    conn_scope(&own, "nobody"); /* checked before any ownership */
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unsupported_direction", "sidecar-to-host only");
    p.tag = SX_REQUEST_PAYLOAD_TAG_HOST_FILESYSTEM_CALL_REQUEST;
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unsupported_direction", "sidecar-to-host only");

    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXT_ENVELOPE;
    p.u.ext_envelope.namespace_ = bare_str_from_cstr("acme.tools");
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unknown_extension", "no extension registered for namespace acme.tools");
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_oversized_frame_is_answered_and_skipped)
{
    se_client_t *c = start();
    sx_request_payload_t p;
    sx_response_frame_t r;
    static uint8_t big[(2u << 20) + 64];
    auth_payload(&p, "t", 7, 1);
    /* a real request header, then a payload declared 2 MiB long */
    size_t n = request_bytes(big, sizeof big, "secure-exec-sidecar", 7, 41, &p);
    (void)n;
    bare_frame_header_encode(big, 2u << 20);
    ck_assert_int_eq(se_client_send_raw(c, big, (2u << 20) + 4), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 41, T, &r), SE_OK);
    expect_rejected(&r, "frame_too_large", "protocol frame is 2097152 bytes, limit is 1048576");
    ck_assert(bare_str_eq_cstr(r.ownership.u.connection_ownership.connection_id, "c"));
    still_serving(c);

    /* an oversized frame of junk: nobody to answer, so a log line */
    memset(big, 0xee, sizeof big);
    bare_frame_header_encode(big, (1u << 20) + 1);
    ck_assert_int_eq(se_client_send_raw(c, big, (1u << 20) + 5), SE_OK);
    still_serving(c);
    ck_assert_ptr_nonnull(strstr(read_log(), "dropped a frame that cannot be answered"));
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_undecodable_payload)
{
    se_client_t *c = start();
    sx_request_payload_t p;
    sx_response_frame_t r;
    uint8_t buf[512];
    auth_payload(&p, "t", 7, 1);
    size_t n = request_bytes(buf, sizeof buf, "secure-exec-sidecar", 7, 42, &p);
    /* bridgeVersion cut short: the header decodes, the payload does not */
    bare_frame_header_encode(buf, (uint32_t)(n - 4 - 2));
    ck_assert_int_eq(se_client_send_raw(c, buf, n - 2), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 42, T, &r), SE_OK);
    expect_rejected(&r, "invalid_frame", "frame does not decode");
    expect_rejected(&r, "invalid_frame", "RequestFrame.payload.AuthenticateRequest.bridgeVersion");
    still_serving(c);
    /* trailing bytes after the frame value */
    n = request_bytes(buf, sizeof buf, "secure-exec-sidecar", 7, 43, &p);
    buf[n] = 0;
    bare_frame_header_encode(buf, (uint32_t)(n - 4 + 1));
    ck_assert_int_eq(se_client_send_raw(c, buf, n + 1), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 43, T, &r), SE_OK);
    expect_rejected(&r, "invalid_frame", "trailing bytes");
    /* garbage with no header to answer: a log line */
    static const uint8_t junk[] = {0, 0, 0, 3, 0x09, 0x01, 0x02};
    ck_assert_int_eq(se_client_send_raw(c, junk, sizeof junk), SE_OK);
    still_serving(c);
    ck_assert_ptr_nonnull(strstr(read_log(), "frame does not decode"));
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_wrong_schema_and_request_ids)
{
    se_client_t *c = start();
    sx_request_payload_t p;
    sx_response_frame_t r;
    uint8_t buf[512];
    auth_payload(&p, "t", 7, 1);
    size_t n = request_bytes(buf, sizeof buf, "other-protocol", 7, 44, &p);
    ck_assert_int_eq(se_client_send_raw(c, buf, n), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 44, T, &r), SE_OK);
    expect_rejected(&r, "protocol_version_mismatch",
                    "unsupported protocol schema other-protocol@7; expected "
                    "secure-exec-sidecar@7");
    n = request_bytes(buf, sizeof buf, "secure-exec-sidecar", 6, 45, &p);
    ck_assert_int_eq(se_client_send_raw(c, buf, n), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 45, T, &r), SE_OK);
    expect_rejected(&r, "protocol_version_mismatch", "secure-exec-sidecar@6");
    n = request_bytes(buf, sizeof buf, "secure-exec-sidecar", 7, 0, &p);
    ck_assert_int_eq(se_client_send_raw(c, buf, n), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, 0, T, &r), SE_OK);
    expect_rejected(&r, "invalid_state", "must be positive, got 0");
    n = request_bytes(buf, sizeof buf, "secure-exec-sidecar", 7, -5, &p);
    ck_assert_int_eq(se_client_send_raw(c, buf, n), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, -5, T, &r), SE_OK);
    expect_rejected(&r, "invalid_state", "got -5");
    still_serving(c);
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_frames_a_host_must_not_send)
{
    se_client_t *c = start();
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME;
    f.u.response_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.response_frame.schema.version = 7;
    f.u.response_frame.request_id = 5;
    f.u.response_frame.payload.tag = SX_RESPONSE_PAYLOAD_TAG_ZOMBIE_TIMER_COUNT_RESPONSE;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_EVENT_FRAME;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_REQUEST_FRAME;
    f.u.sidecar_request_frame.request_id = -1;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    /* a reply to a sidecar request that was never sent */
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_RESPONSE_FRAME;
    f.u.sidecar_response_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.sidecar_response_frame.schema.version = 7;
    f.u.sidecar_response_frame.request_id = -77;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    still_serving(c);
    /* nothing came back for the dropped frames: the first response is the authenticate one */
    ck_assert_uint_eq(se_client_pending_events(c), 0);
    const char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "dropped a ResponseFrame"));
    ck_assert_ptr_nonnull(strstr(log, "dropped a EventFrame"));
    ck_assert_ptr_nonnull(strstr(log, "dropped a SidecarRequestFrame"));
    ck_assert_ptr_nonnull(strstr(log, "dropped a SidecarResponseFrame for request -77"));
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

START_TEST(test_random_frames_do_not_kill_it)
{
    se_client_t *c = start();
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint8_t frame[4 + 96];
    for (int i = 0; i < 10000; i++) {
        size_t n = 1 + (size_t)(x % 96);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            frame[4 + k] = (uint8_t)x;
        }
        /* half of them look like request frames, to reach deeper into the decoder */
        if (i % 2)
            frame[4] = 0;
        bare_frame_header_encode(frame, (uint32_t)n);
        ck_assert_int_eq(se_client_send_raw(c, frame, 4 + n), SE_OK);
    }
    still_serving(c);
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* The host stops reading: the sidecar must stop taking requests, not buffer without end. */
START_TEST(test_back_pressure)
{
    se_client_t *c = start();
    sx_request_payload_t p;
    uint8_t frame[256];
    auth_payload(&p, "t", 9, 1); /* rejected: a ~130-byte answer per ~50-byte request */
    size_t n = request_bytes(frame, sizeof frame, "secure-exec-sidecar", 7, 1, &p);
    /* write raw, without reading, until the pipe stays full */
    int to = se_client_request_fd(c);
    size_t sent = 0, frames = 0;
    uint64_t idle_since = 0;
    for (;;) {
        ssize_t k = write(to, frame, n);
        if (k == (ssize_t)n) {
            sent += n;
            frames++;
            idle_since = 0;
            continue;
        }
        ck_assert_int_le(k, 0); /* a frame is far smaller than PIPE_BUF: all or nothing */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        if (!idle_since)
            idle_since = now;
        if (now - idle_since > 1500)
            break;
        ck_assert_uint_lt(sent, 64u << 20);
        poll(NULL, 0, 20);
    }
    /* about 4 MiB of queued output and the pipes' buffers, not the whole stream */
    ck_assert_msg(sent < (24u << 20), "the sidecar took %zu bytes without being read", sent);
    ck_assert_uint_gt(sent, 1u << 20);
    /* now read: every request is answered, in order */
    sx_response_frame_t r;
    for (size_t i = 0; i < frames; i++) {
        ck_assert_int_eq(se_client_wait_response(c, 1, T, &r), SE_OK);
        expect_rejected(&r, "protocol_version_mismatch", "got 9");
    }
    still_serving(c);
    ck_assert_int_eq(stop(c), 0);
}
END_TEST

/* ---- shutdown and configuration ---- */

static int wait_exit(pid_t pid)
{
    int status;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

START_TEST(test_signals_dispose_and_exit_zero)
{
    int signo = _i == 0 ? SIGTERM : SIGINT;
    se_client_t *c = start();
    char vm[64];
    first_vm(c, vm);
    pid_t pid = se_client_pid(c);
    ck_assert_int_eq(kill(pid, signo), 0);
    int status = wait_exit(pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_ptr_nonnull(strstr(read_log(), "disposing 1 VM(s)"));
    /* reap done; close must not wait for it again */
    se_client_close(c, 0);
    close(log_fd);
    unlink(log_path);
}
END_TEST

START_TEST(test_eof_disposes_and_exits_zero)
{
    se_client_t *c = start();
    char vm[64];
    ck_assert_int_eq(se_client_authenticate(c, "a", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, "{}", T, vm,
                                             sizeof vm),
                         SE_OK);
    int status = stop(c);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* Runs the binary with args and returns its exit status; its stderr in err. */
static int run(const char *const *args, char *err, size_t errlen)
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execv(SIDECAR_PATH, (char *const *)args);
        _exit(127);
    }
    close(pipefd[1]);
    size_t n = 0;
    ssize_t k;
    while (n < errlen - 1 && (k = read(pipefd[0], err + n, errlen - 1 - n)) > 0)
        n += (size_t)k;
    err[n] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const struct {
    const char *yaml;
    const char *error; /* expected in stderr, after the file name */
} bad_yaml[] = {
    {"maxFrameBytes: lots\n", ":1:16: maxFrameBytes must be an integer"},
    {"sidecarId: x\nbogus: 1\n", ":2:8: unknown key 'bogus'"},
    {"logLevel: loud\n", ":1:11: logLevel must be error, warn, info or debug"},
    {"authToken: \"\"\n", ":1:12: authToken must not be empty"},
    {"- a\n- b\n", ":1:1: the config must be a mapping of keys"},
    {"sidecarId: \"abc\n", ":2:1: found unexpected end of stream"},
    {"logLevel: [debug]\n", ":1:11: values must be scalars"},
    {"stateDir: relative\n", ":1:11: stateDir must be an absolute path"},
    {"authTokenFile: /nonexistent/token\n", "cannot read auth token file"},
};

START_TEST(test_bad_config_file)
{
    char path[] = "/tmp/sidecar-config.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, bad_yaml[_i].yaml, strlen(bad_yaml[_i].yaml)),
                     (ssize_t)strlen(bad_yaml[_i].yaml));
    close(fd);
    const char *args[] = {SIDECAR_PATH, "--config", path, NULL};
    char err[4096];
    int rc = run(args, err, sizeof err);
    unlink(path);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, path) && strstr(err, bad_yaml[_i].error), "stderr: %s", err);
}
END_TEST

START_TEST(test_config_file_applies)
{
    char path[] = "/tmp/sidecar-config.XXXXXX";
    char tok[] = "/tmp/sidecar-token.XXXXXX";
    int fd = mkstemp(tok);
    ck_assert_int_eq(write(fd, "from-file\n", 10), 10);
    close(fd);
    fd = mkstemp(path);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "# test config\nsidecarId: sidecar-test\nauthTokenFile: %s\nmaxFrameBytes: 65536\n"
             "logLevel: debug\n",
             tok);
    ck_assert_int_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    const char *args[] = {"--config", path, NULL};
    static const char *const env[] = {NULL};
    se_client_t *c = start_with(args, env);
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    conn_scope(&own, "x");
    auth_payload(&p, "from-env", 7, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    expect_rejected(&r, "unauthorized", "invalid auth token");
    auth_payload(&p, "from-file", 7, 1);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_AUTHENTICATED_RESPONSE);
    ck_assert(bare_str_eq_cstr(r.payload.u.authenticated_response.sidecar_id, "sidecar-test"));
    ck_assert_uint_eq(r.payload.u.authenticated_response.max_frame_bytes, 65536);
    ck_assert_ptr_nonnull(strstr(read_log(), "debug:")); /* logLevel took effect */
    ck_assert_int_eq(stop(c), 0);
    unlink(path);
    unlink(tok);
}
END_TEST

START_TEST(test_help_version_and_usage)
{
    char err[4096];
    const char *help[] = {SIDECAR_PATH, "--help", NULL};
    const char *version[] = {SIDECAR_PATH, "--version", NULL};
    const char *bad[] = {SIDECAR_PATH, "--frobnicate", NULL};
    const char *extra[] = {SIDECAR_PATH, "extra", NULL};
    ck_assert_int_eq(run(help, err, sizeof err), 0);
    ck_assert_int_eq(run(version, err, sizeof err), 0);
    ck_assert_int_eq(run(bad, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "usage:"));
    ck_assert_int_eq(run(extra, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "unexpected argument 'extra'"));
}
END_TEST

/* ---- the state directory on the host ---- */

/* A private state parent and a config file naming it, so that no other sidecar's state counts. */
static void state_setup(char parent[64], char config[64])
{
    snprintf(parent, 64, "/tmp/sidecar-state.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(parent));
    snprintf(config, 64, "/tmp/sidecar-config.XXXXXX");
    int fd = mkstemp(config);
    ck_assert_int_ge(fd, 0);
    char yaml[128];
    int n = snprintf(yaml, sizeof yaml, "stateDir: %s\n", parent);
    ck_assert_int_eq(write(fd, yaml, (size_t)n), n);
    close(fd);
}

/* How many names in parent start with prefix; the last one seen in name. */
static size_t names_with(const char *parent, const char *prefix, char *name, size_t cap)
{
    DIR *d = opendir(parent);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(name, cap, "%s", de->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* A pid that ran and is gone: no process has it now. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

START_TEST(test_sigkill_leaves_no_state_dir)
{
    char parent[64], config[64], name[256], want[64];
    state_setup(parent, config);
    const char *args[] = {"--config", config, NULL};
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    se_client_t *c = start_with(args, env);
    char vm[64];
    first_vm(c, vm);
    pid_t pid = se_client_pid(c);
    /* the state directory is named after its sidecar */
    ck_assert_uint_eq(names_with(parent, "secure-exec-sidecar.", name, sizeof name), 1);
    snprintf(want, sizeof want, "secure-exec-sidecar.%d.", (int)pid);
    ck_assert_msg(strncmp(name, want, strlen(want)) == 0, "state directory %s, not %s*", name,
                  want);
    /* whatever removes it after a SIGKILL is not a child of the sidecar (no VM process has
     * started, so it has none) */
    char path[64], kids[64] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    if (!fgets(kids, sizeof kids, f))
        kids[0] = '\0';
    fclose(f);
    ck_assert_msg(kids[0] == '\0', "the sidecar has children: %s", kids);

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = wait_exit(pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    se_client_close(c, 0);
    close(log_fd);
    unlink(log_path);
    size_t left = 1;
    for (int i = 0; i < 200 && left > 0; i++) {
        left = names_with(parent, "secure-exec-sidecar.", name, sizeof name);
        if (left)
            poll(NULL, 0, 10);
    }
    ck_assert_msg(left == 0, "%s/%s outlived its sidecar", parent, name);
    unlink(config);
    ck_assert_int_eq(rmdir(parent), 0);
}
END_TEST

START_TEST(test_stale_state_dirs_are_reaped)
{
    char parent[64], config[64], stale[128], full[128], file[160], old[128], live[128],
        link[128], target[128], name[256], want[64];
    state_setup(parent, config);
    pid_t dead = dead_pid();
    /* a dead sidecar's empty directory goes; everything else stays: one that is not empty,
     * an old-style name without a pid (maybe a live older sidecar's mount point), a live
     * process's, a symlink */
    snprintf(stale, sizeof stale, "%s/secure-exec-sidecar.%d.abcdef", parent, (int)dead);
    snprintf(full, sizeof full, "%s/secure-exec-sidecar.%d.ghijkl", parent, (int)dead);
    snprintf(file, sizeof file, "%s/keep", full);
    snprintf(old, sizeof old, "%s/secure-exec-sidecar.mnopqr", parent);
    snprintf(live, sizeof live, "%s/secure-exec-sidecar.%d.stuvwx", parent, (int)getpid());
    snprintf(link, sizeof link, "%s/secure-exec-sidecar.%d.symlnk", parent, (int)dead);
    snprintf(target, sizeof target, "%s/target", parent);
    ck_assert_int_eq(mkdir(stale, 0700), 0);
    ck_assert_int_eq(mkdir(full, 0700), 0);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(mkdir(old, 0700), 0);
    ck_assert_int_eq(mkdir(live, 0700), 0);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    ck_assert_int_eq(symlink("target", link), 0);

    const char *args[] = {"--config", config, NULL};
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    se_client_t *c = start_with(args, env);
    still_serving(c); /* started: the reaping is done */
    pid_t pid = se_client_pid(c);
    struct stat st;
    ck_assert_msg(lstat(stale, &st) != 0 && errno == ENOENT, "%s is still there", stale);
    ck_assert_int_eq(lstat(file, &st), 0);
    ck_assert_int_eq(lstat(old, &st), 0);
    ck_assert_int_eq(lstat(live, &st), 0);
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(target, &st), 0);
    ck_assert_int_eq(stop(c), 0);
    /* and its own goes on a normal exit */
    snprintf(want, sizeof want, "secure-exec-sidecar.%d.", (int)pid);
    ck_assert_uint_eq(names_with(parent, want, name, sizeof name), 0);

    unlink(file);
    unlink(link);
    ck_assert_int_eq(rmdir(full), 0);
    ck_assert_int_eq(rmdir(old), 0);
    ck_assert_int_eq(rmdir(live), 0);
    ck_assert_int_eq(rmdir(target), 0);
    ck_assert_int_eq(rmdir(parent), 0);
    unlink(config);
}
END_TEST

static Suite *sidecar_suite(void)
{
    Suite *s = suite_create("sidecar");
    TCase *t = tcase_create("protocol");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_authenticate_success);
    tcase_add_test(t, test_authenticate_rejections);
    tcase_add_test(t, test_authenticate_needs_connection_scope);
    tcase_add_test(t, test_ownership);
    tcase_add_test(t, test_vm_lifecycle_events);
    tcase_add_loop_test(t, test_create_vm_config_errors, 0,
                        (int)(sizeof bad_configs / sizeof bad_configs[0]));
    tcase_add_test(t, test_wrong_direction_and_unknown_extension);
    suite_add_tcase(s, t);
    TCase *b = tcase_create("bad-input");
    tcase_set_timeout(b, 300);
    tcase_add_test(b, test_oversized_frame_is_answered_and_skipped);
    tcase_add_test(b, test_undecodable_payload);
    tcase_add_test(b, test_wrong_schema_and_request_ids);
    tcase_add_test(b, test_frames_a_host_must_not_send);
    tcase_add_test(b, test_random_frames_do_not_kill_it);
    tcase_add_test(b, test_back_pressure);
    suite_add_tcase(s, b);
    TCase *l = tcase_create("lifecycle");
    tcase_set_timeout(l, 120);
    tcase_add_loop_test(l, test_signals_dispose_and_exit_zero, 0, 2);
    tcase_add_test(l, test_eof_disposes_and_exits_zero);
    tcase_add_loop_test(l, test_bad_config_file, 0, (int)(sizeof bad_yaml / sizeof bad_yaml[0]));
    tcase_add_test(l, test_config_file_applies);
    tcase_add_test(l, test_help_version_and_usage);
    tcase_add_test(l, test_sigkill_leaves_no_state_dir);
    tcase_add_test(l, test_stale_state_dirs_are_reaped);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sidecar_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
