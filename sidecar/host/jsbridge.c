/*
 * jsbridge.c - the js_bridge mount plugin (jsbridge.h): a mount whose every file operation is
 * a JsBridgeCallRequest to the host (reference protocol-core.md §6.3). This file holds the
 * mount and its calls; GuestFilesystemCall is jbfscall.c, guest processes reach it through the
 * FUSE server of jbfuse.c.
 *
 * The reference blocks its main loop for each call. Here a call is a record: sent with
 * sc_hostreq_send (a timer each, replies matched by id and ownership), finished once from the
 * loop with the host's result, an error, a timeout or the end of the mount. At most
 * SC_JB_MAX_INFLIGHT calls of a mount are at the host at once; the next ones wait in order, and
 * their time counts from when they were made, so a guest never waits longer than the timeout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostreq.h"
#include "jbint.h"
#include "log.h"
#include "sidecar.h"

struct sc_jbcall {
    sc_jbcall_t *next, *prev;
    sc_jsbridge_t *jb;
    sc_jb_op_t op;
    char call_id[40];
    char *args;      /* the JSON text */
    char *path;      /* the mount-relative path, for messages */
    int64_t host_id; /* the sidecar request's id once sent; 0 while queued */
    uint64_t deadline;
    sc_jb_done_fn *fn;
    void *ud;
};

/* ---- the timeout ---- */

/*
 * SECURE_EXEC_SIDECAR_BRIDGE_TIMEOUT_MS, read once: tests play a host that answers after the
 * timeout without waiting 30 s. 1 ms to 1 hour; anything else keeps the reference's 30 s.
 */
static uint64_t bridge_timeout_ms(void)
{
    static uint64_t ms;
    if (ms)
        return ms;
    ms = SC_JB_TIMEOUT_MS;
    const char *e = getenv("SECURE_EXEC_SIDECAR_BRIDGE_TIMEOUT_MS");
    if (e && *e) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(e, &end, 10);
        if (errno || *end || v < 1 || v > 3600000)
            sc_warn("SECURE_EXEC_SIDECAR_BRIDGE_TIMEOUT_MS=%s is not 1 to 3600000 ms; js_bridge "
                    "calls time out after %u ms",
                    e, SC_JB_TIMEOUT_MS);
        else
            ms = v;
    }
    return ms;
}

/* ---- lists ---- */

static void list_unlink(sc_jbcall_t **head, sc_jbcall_t **tail, sc_jbcall_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else if (tail)
        *tail = c->prev;
    c->next = c->prev = NULL;
}

static void call_free(sc_jbcall_t *c)
{
    free(c->args);
    free(c->path);
    free(c);
}

/* Hands r to the call's owner and frees the call (already out of every list). */
static void finish(sc_jbcall_t *c, const sc_jb_result_t *r)
{
    c->fn(c->jb, c->ud, r);
    call_free(c);
}

static void finish_err(sc_jbcall_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_err(sc_jbcall_t *c, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sc_jb_result_t r = {err, NULL, msg};
    finish(c, &r);
}

/* ---- replies ---- */

static void on_reply(sc_server_t *srv, void *ud, sc_hostreq_status_t status,
                     const sx_sidecar_response_payload_t *reply, const char *err);

static int send_call(sc_jbcall_t *c, char *err, size_t errlen)
{
    sc_jsbridge_t *jb = c->jb;
    uint64_t now = sc_now_ms();
    sx_sidecar_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_SIDECAR_REQUEST_PAYLOAD_TAG_JS_BRIDGE_CALL_REQUEST;
    p.u.js_bridge_call_request.call_id = bare_str_from_cstr(c->call_id);
    p.u.js_bridge_call_request.mount_id = bare_str_from_cstr(jb->mount_id);
    p.u.js_bridge_call_request.operation = bare_str_from_cstr(sc_jb_op_name(c->op));
    p.u.js_bridge_call_request.args = bare_str_from_cstr(c->args);
    int64_t id = sc_hostreq_send(jb->srv, jb->vm, &p, c->deadline > now ? c->deadline - now : 1,
                                 on_reply, c, err, errlen);
    if (id == 0)
        return -1;
    c->host_id = id;
    c->next = jb->sent;
    if (jb->sent)
        jb->sent->prev = c;
    jb->sent = c;
    jb->nsent++;
    return 0;
}

static bool going(const sc_jsbridge_t *jb)
{
    return jb->closing || jb->vm->disposing;
}

/* Sends queued calls while there is room; those whose time is up, or whose mount is going,
 * fail instead. */
static void pump(sc_jsbridge_t *jb)
{
    while (jb->qhead && jb->nsent < SC_JB_MAX_INFLIGHT) {
        sc_jbcall_t *c = jb->qhead;
        list_unlink(&jb->qhead, &jb->qtail, c);
        jb->nqueued--;
        jb->queued_bytes -= strlen(c->args);
        char err[256];
        if (going(jb))
            finish_err(c, EIO, "%s %s: the mount is being unmounted", sc_jb_op_name(c->op),
                       c->path);
        else if (sc_now_ms() >= c->deadline)
            finish_err(c, EIO, "%s %s: timed out waiting for sidecar response after %" PRIu64 "s",
                       sc_jb_op_name(c->op), c->path, (jb->timeout_ms + 999) / 1000);
        else if (send_call(c, err, sizeof err) != 0)
            finish_err(c, EIO, "%s %s: %s", sc_jb_op_name(c->op), c->path, err);
    }
}

/* The reply's result, read as JSON; EIO (logged) for anything but a well-formed answer to
 * this very call. */
static void deliver(sc_jbcall_t *c, const sx_sidecar_response_payload_t *reply)
{
    sc_jsbridge_t *jb = c->jb;
    const char *op = sc_jb_op_name(c->op);
    if (reply->tag != SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE) {
        sc_warn("%s: js_bridge %s (%s %s): the host answered with a %s", jb->vm->id, c->call_id, op,
                c->path, sx_sidecar_response_payload_tag_name(reply->tag));
        finish_err(c, EIO, "unexpected js_bridge response payload for %s '%s': %s", op, c->path,
                   sx_sidecar_response_payload_tag_name(reply->tag));
        return;
    }
    const sx_js_bridge_result_response_t *r = &reply->u.js_bridge_result_response;
    if (!bare_str_eq_cstr(r->call_id, c->call_id)) {
        sc_warn("%s: js_bridge %s (%s %s): the host answered with callId '%.*s'", jb->vm->id,
                c->call_id, op, c->path, (int)(r->call_id.len > 64 ? 64 : r->call_id.len),
                r->call_id.ptr);
        finish_err(c, EIO, "js_bridge answer for %s '%s' names another call", op, c->path);
        return;
    }
    if (r->error.present) {
        int shown = (int)(r->error.value.len > 512 ? 512 : r->error.value.len);
        sc_debug("%s: js_bridge %s (%s %s): %.*s", jb->vm->id, c->call_id, op, c->path, shown,
                 r->error.value.ptr);
        finish_err(c, sc_jb_error_errno(r->error.value.ptr, r->error.value.len), "%.*s, %s '%s'",
                   shown, r->error.value.ptr, op, c->path);
        return;
    }
    json_t *v = NULL;
    if (r->result.present) {
        char why[256];
        v = sc_jb_parse_result(r->result.value.ptr, r->result.value.len, why, sizeof why);
        if (!v) {
            sc_jb_refused(jb, c->call_id, op, c->path, why);
            finish_err(c, EIO, "invalid js_bridge result payload for %s '%s': %s", op, c->path,
                       why);
            return;
        }
    }
    sc_jb_result_t res = {0, v, NULL};
    c->fn(jb, c->ud, &res);
    json_decref(v);
    call_free(c);
}

static void on_reply(sc_server_t *srv, void *ud, sc_hostreq_status_t status,
                     const sx_sidecar_response_payload_t *reply, const char *err)
{
    (void)srv;
    sc_jbcall_t *c = ud;
    sc_jsbridge_t *jb = c->jb;
    list_unlink(&jb->sent, NULL, c);
    jb->nsent--;
    c->host_id = 0;
    const char *op = sc_jb_op_name(c->op);
    switch (status) {
    case SC_HOSTREQ_REPLY:
        deliver(c, reply);
        break;
    case SC_HOSTREQ_TIMEOUT:
        finish_err(c, EIO, "%s %s: timed out waiting for sidecar response after %" PRIu64 "s", op,
                   c->path, (jb->timeout_ms + 999) / 1000);
        break;
    case SC_HOSTREQ_FAILED:
        finish_err(c, EIO, "%s %s: %s", op, c->path, err);
        break;
    case SC_HOSTREQ_GONE:
        finish_err(c, EIO, "%s %s: %s", op, c->path, err ? err : "the VM is being disposed");
        break;
    }
    pump(jb);
}

void sc_jb_refused(sc_jsbridge_t *jb, const char *call_id, const char *op, const char *path,
                   const char *why)
{
    sc_warn("%s: js_bridge %s (%s %s) refused: %s", jb->vm->id, call_id ? call_id : "call", op,
            path, why);
}

/* ---- calls ---- */

int sc_jb_call(sc_jsbridge_t *jb, sc_jb_op_t op, const sc_jb_args_t *a, sc_jb_done_fn *fn, void *ud)
{
    if (going(jb))
        return EIO;
    if (jb->nsent >= SC_JB_MAX_INFLIGHT && jb->nqueued >= SC_JB_MAX_QUEUED)
        return EAGAIN;
    sc_jbcall_t *c = calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    c->args = sc_jb_args_json(op, a);
    if (!c->args) {
        int e = errno ? errno : ENOMEM;
        free(c);
        return e;
    }
    c->path = strdup(a->path);
    if (!c->path) {
        call_free(c);
        return ENOMEM;
    }
    c->jb = jb;
    c->op = op;
    c->fn = fn;
    c->ud = ud;
    c->deadline = sc_now_ms() + jb->timeout_ms;
    bool now = jb->nsent < SC_JB_MAX_INFLIGHT && !jb->qhead;
    size_t bytes = strlen(c->args);
    if (!now && jb->queued_bytes + bytes > SC_JB_MAX_QUEUED_BYTES) {
        call_free(c);
        return EAGAIN;
    }
    /* numbered once it is accepted: the host sees 1, 2, 3, ... without gaps */
    snprintf(c->call_id, sizeof c->call_id, "js-bridge-call-%" PRIu64, ++jb->next_call);
    if (now) {
        char err[256];
        if (send_call(c, err, sizeof err) != 0) {
            sc_warn("%s: js_bridge %s (%s %s) not sent: %s", jb->vm->id, c->call_id,
                    sc_jb_op_name(op), c->path, err);
            jb->next_call--;
            call_free(c);
            return EIO;
        }
        return 0;
    }
    jb->queued_bytes += bytes;
    c->prev = jb->qtail;
    if (jb->qtail)
        jb->qtail->next = c;
    else
        jb->qhead = c;
    jb->qtail = c;
    jb->nqueued++;
    return 0;
}

/* ---- the mount ---- */

sc_jsbridge_t *sc_jsbridge_open(sc_server_t *srv, sc_vm_t *vm, const char *mount_id,
                                const char *guest_path, bool read_only, char *err, size_t errlen)
{
    if (!mount_id || !*mount_id || !bare_utf8_valid(mount_id, strlen(mount_id))) {
        snprintf(err, errlen, "EINVAL: js_bridge mountId must be a non-empty UTF-8 string");
        return NULL;
    }
    if (!guest_path || guest_path[0] != '/' || strcmp(guest_path, "/") == 0) {
        snprintf(err, errlen,
                 "EINVAL: a js_bridge mount needs an absolute guest path other "
                 "than /");
        return NULL;
    }
    sc_jsbridge_t *jb = calloc(1, sizeof *jb);
    if (!jb || !(jb->mount_id = strdup(mount_id)) || !(jb->guest_path = strdup(guest_path))) {
        if (jb)
            free(jb->mount_id);
        free(jb);
        snprintf(err, errlen, "ENOMEM: not enough memory");
        return NULL;
    }
    jb->srv = srv;
    jb->vm = vm;
    jb->guest_len = strlen(guest_path);
    jb->read_only = read_only;
    jb->timeout_ms = bridge_timeout_ms();
    const sc_resource_limits_t *l = &vm->config.resources;
    jb->max_read = l->max_pread_bytes ? l->max_pread_bytes : SC_JB_MAX_READ;
    jb->max_dir = l->max_readdir_entries ? l->max_readdir_entries : 4096;
    sc_info("%s: js_bridge mount %s at %s%s", vm->id, mount_id, guest_path,
            read_only ? " (read-only)" : "");
    return jb;
}

int sc_jsbridge_mount_fd(sc_jsbridge_t *jb, char *err, size_t errlen)
{
    if (going(jb)) {
        snprintf(err, errlen, "the js_bridge mount at %s is being unmounted", jb->guest_path);
        return -1;
    }
    return sc_jbfuse_new(jb, err, errlen);
}

void sc_jsbridge_close(sc_jsbridge_t *jb)
{
    if (!jb)
        return;
    jb->closing = true;
    /* what waits fails now; the owners' callbacks answer their guests and requests */
    while (jb->sent) {
        sc_jbcall_t *c = jb->sent;
        list_unlink(&jb->sent, NULL, c);
        jb->nsent--;
        sc_hostreq_cancel(jb->srv, c->host_id);
        finish_err(c, EIO, "%s %s: the mount is being unmounted", sc_jb_op_name(c->op), c->path);
    }
    pump(jb);
    sc_jbfuse_stop_all(jb);
    sc_info("%s: js_bridge mount %s at %s closed after %" PRIu64 " calls", jb->vm->id, jb->mount_id,
            jb->guest_path, jb->next_call);
    free(jb->mount_id);
    free(jb->guest_path);
    free(jb);
}
