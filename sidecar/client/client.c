/*
 * client.c - the Secure Exec client: frames over the sidecar's pipes, request/response
 * correlation by id, an ordered event queue, and answers to sidecar-originated requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

extern char **environ;

typedef struct held_frame {
    struct held_frame *next;
    int64_t id; /* responses */
    size_t len;
    uint8_t data[]; /* the payload */
} held_frame_t;

struct se_client {
    int to, from;
    pid_t pid;
    uint32_t max;
    int64_t next_id;
    uint8_t *in; /* bytes read; in[in_off..in_len) not yet framed */
    size_t in_off, in_len, in_cap;
    held_frame_t *events, **events_tail;
    size_t nevents;
    /* in arrival order: a host waiting for its oldest request finds it first */
    held_frame_t *responses, **responses_tail;
    held_frame_t *current; /* payload the last decoded frame borrows */
    bare_arena_t arena;
    se_sidecar_request_fn *on_request;
    void *on_request_ud;
    se_frame_fn *on_frame;
    void *on_frame_ud;
    bool eof;
    char conn_id[64], session_id[64];
    char reject_code[64], reject_msg[512];
};

static const char *const status_text[] = {
    "success",
    "timed out",
    "the sidecar closed the connection",
    "I/O error",
    "the sidecar sent a frame that does not decode",
    "the request was rejected",
    "unexpected response kind",
};

const char *se_strerror(int status)
{
    if (status < 0 || status > SE_UNEXPECTED)
        return "unknown status";
    return status_text[status];
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int remaining(uint64_t deadline)
{
    uint64_t now = now_ms();
    if (now >= deadline)
        return 0;
    return deadline - now > 1000000 ? 1000000 : (int)(deadline - now);
}

static se_client_t *client_new(int to, int from, uint32_t max)
{
    se_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->to = to;
    c->from = from;
    c->pid = -1;
    c->max = max ? max : 1u << 20;
    c->next_id = 1;
    c->events_tail = &c->events;
    c->responses_tail = &c->responses;
    bare_arena_init(&c->arena, NULL, NULL);
    fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
    fcntl(to, F_SETFL, fcntl(to, F_GETFL) | O_NONBLOCK);
    return c;
}

se_client_t *se_client_attach(int to_sidecar, int from_sidecar, uint32_t max_frame_bytes)
{
    return client_new(to_sidecar, from_sidecar, max_frame_bytes);
}

se_client_t *se_client_spawn(const se_client_options_t *opt, char *err, size_t errlen)
{
    int in[2], out[2];
    const char *path = opt && opt->sidecar_path ? opt->sidecar_path : getenv("SECURE_EXEC_SIDECAR");
    if (!path)
        path = "secure-exec-sidecar";
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return NULL;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (opt && opt->stderr_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, opt->stderr_fd, 2);

    char *argv[64];
    size_t argc = 0;
    argv[argc++] = (char *)path;
    for (size_t i = 0; opt && opt->args && opt->args[i] && argc < 63; i++)
        argv[argc++] = (char *)opt->args[i];
    argv[argc] = NULL;
    char **envp = opt && opt->env ? (char **)opt->env : environ;
    pid_t pid;
    int rc = strchr(path, '/') ? posix_spawn(&pid, path, &fa, NULL, argv, envp)
                               : posix_spawnp(&pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", path, strerror(rc));
        close(in[1]);
        close(out[0]);
        return NULL;
    }
    se_client_t *c = client_new(in[1], out[0], opt ? opt->max_frame_bytes : 0);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(in[1]);
        close(out[0]);
        return NULL;
    }
    c->pid = pid;
    return c;
}

pid_t se_client_pid(const se_client_t *c)
{
    return c->pid;
}

int se_client_request_fd(const se_client_t *c)
{
    return c->to;
}

int se_client_event_fd(const se_client_t *c)
{
    return c->from;
}

void se_client_on_frame(se_client_t *c, se_frame_fn *fn, void *ud)
{
    c->on_frame = fn;
    c->on_frame_ud = ud;
}

static void free_list(held_frame_t *f)
{
    while (f) {
        held_frame_t *next = f->next;
        free(f);
        f = next;
    }
}

int se_client_close(se_client_t *c, int timeout_ms)
{
    int status = -1;
    if (c->to >= 0)
        close(c->to);
    c->to = -1;
    if (c->pid > 0) {
        uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
        for (;;) {
            pid_t r = waitpid(c->pid, &status, WNOHANG);
            if (r == c->pid)
                break;
            if (r < 0) {
                status = -1;
                break;
            }
            if (remaining(deadline) == 0) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &status, 0);
                break;
            }
            /* keep draining its output so it can finish writing */
            char buf[4096];
            while (read(c->from, buf, sizeof buf) > 0)
                ;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    close(c->from);
    free(c->in);
    free_list(c->events);
    free_list(c->responses);
    free(c->current);
    bare_arena_free(&c->arena);
    free(c);
    return status;
}

/* ---- reading ---- */

/* Reads what is available into the input buffer; SE_CLOSED at end of stream. */
static int fill(se_client_t *c)
{
    /* what was framed goes once per read, not once per frame */
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len < 65536) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
        uint8_t *p = realloc(c->in, cap);
        if (!p)
            return SE_IO;
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t k = read(c->from, c->in + c->in_len, c->in_cap - c->in_len);
    if (k < 0)
        return errno == EAGAIN || errno == EINTR ? SE_OK : SE_IO;
    if (k == 0) {
        c->eof = true;
        return SE_CLOSED;
    }
    c->in_len += (size_t)k;
    return SE_OK;
}

/* Takes one complete frame out of the input buffer, or NULL. */
static held_frame_t *take_frame(se_client_t *c, int *status)
{
    *status = SE_OK;
    const uint8_t *in = c->in + c->in_off;
    size_t avail = c->in_len - c->in_off;
    if (avail < 4)
        return NULL;
    uint32_t n = bare_frame_header_decode(in);
    if (n > c->max) {
        *status = SE_PROTOCOL;
        return NULL;
    }
    if (avail - 4 < n)
        return NULL;
    held_frame_t *f = malloc(sizeof *f + n);
    if (!f) {
        *status = SE_IO;
        return NULL;
    }
    f->next = NULL;
    f->id = 0;
    f->len = n;
    memcpy(f->data, in + 4, n);
    if (c->on_frame)
        c->on_frame(c->on_frame_ud, SE_FRAME_RECEIVED, in, 4 + (size_t)n);
    c->in_off += 4 + (size_t)n;
    return f;
}

static int send_bytes(se_client_t *c, const void *bytes, size_t len, uint64_t deadline);

/* Answers a sidecar request through the callback (or with an error when there is none). */
static void answer_sidecar_request(se_client_t *c, const sx_sidecar_request_frame_t *req)
{
    sx_protocol_frame_t f;
    sx_sidecar_response_payload_t *out;
    bare_writer_t w;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_RESPONSE_FRAME;
    f.u.sidecar_response_frame.schema = req->schema;
    f.u.sidecar_response_frame.request_id = req->request_id;
    f.u.sidecar_response_frame.ownership = req->ownership;
    out = &f.u.sidecar_response_frame.payload;
    int rc = c->on_request ? c->on_request(c->on_request_ud, req, out) : -1;
    if (rc == SE_NO_REPLY)
        return;
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        if (req->payload.tag == SX_SIDECAR_REQUEST_PAYLOAD_TAG_JS_BRIDGE_CALL_REQUEST) {
            out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE;
            out->u.js_bridge_result_response.call_id = req->payload.u.js_bridge_call_request.call_id;
            out->u.js_bridge_result_response.error.present = true;
            out->u.js_bridge_result_response.error.value =
                bare_str_from_cstr("the client has no handler for sidecar requests");
        } else if (req->payload.tag == SX_SIDECAR_REQUEST_PAYLOAD_TAG_HOST_CALLBACK_REQUEST) {
            out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE;
            out->u.host_callback_result_response.invocation_id =
                req->payload.u.host_callback_request.invocation_id;
            out->u.host_callback_result_response.error.present = true;
            out->u.host_callback_result_response.error.value =
                bare_str_from_cstr("the client has no handler for sidecar requests");
        } else {
            out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_EXT_ENVELOPE;
            out->u.ext_envelope = req->payload.u.ext_envelope;
        }
    }
    bare_writer_init(&w, NULL, NULL);
    uint8_t *hdr = bare_writer_reserve(&w, 4);
    if (hdr) {
        w.len = 4;
        if (sx_protocol_frame_encode(&w, &f) == BARE_OK) {
            bare_frame_header_encode(w.buf, (uint32_t)(w.len - 4));
            if (c->on_frame)
                c->on_frame(c->on_frame_ud, SE_FRAME_SENT, w.buf, w.len);
            send_bytes(c, w.buf, w.len, now_ms() + 10000);
        }
    }
    bare_writer_free(&w);
}

/*
 * Sorts one frame: events queue up, sidecar requests are answered, responses are kept by id.
 * Frames that do not decode are an error of the sidecar.
 */
static int sort_frame(se_client_t *c, held_frame_t *f)
{
    bare_arena_t scratch;
    bare_reader_t r;
    sx_protocol_frame_t pf;
    bare_arena_init(&scratch, NULL, NULL);
    bare_reader_init(&r, f->data, f->len, &scratch, NULL);
    int rc = sx_protocol_frame_decode(&r, &pf);
    if (rc == BARE_OK)
        rc = bare_reader_finish(&r);
    if (rc != BARE_OK) {
        bare_arena_free(&scratch);
        free(f);
        return SE_PROTOCOL;
    }
    switch (pf.tag) {
    case SX_PROTOCOL_FRAME_TAG_EVENT_FRAME:
        *c->events_tail = f;
        c->events_tail = &f->next;
        c->nevents++;
        break;
    case SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME:
        f->id = pf.u.response_frame.request_id;
        *c->responses_tail = f;
        c->responses_tail = &f->next;
        break;
    case SX_PROTOCOL_FRAME_TAG_SIDECAR_REQUEST_FRAME:
        answer_sidecar_request(c, &pf.u.sidecar_request_frame);
        free(f);
        break;
    default:
        free(f);
        bare_arena_free(&scratch);
        return SE_PROTOCOL;
    }
    bare_arena_free(&scratch);
    return SE_OK;
}

/* Reads and sorts frames until what `ready` looks for is there or the deadline passes. */
static int pump(se_client_t *c, uint64_t deadline, bool (*ready)(se_client_t *, const void *),
                const void *arg)
{
    for (;;) {
        int st;
        held_frame_t *f;
        while ((f = take_frame(c, &st)) != NULL) {
            st = sort_frame(c, f);
            if (st != SE_OK)
                return st;
        }
        if (st != SE_OK)
            return st;
        if (ready(c, arg))
            return SE_OK;
        if (c->eof)
            return SE_CLOSED;
        struct pollfd p = {c->from, POLLIN, 0};
        int n = poll(&p, 1, remaining(deadline));
        if (n < 0 && errno != EINTR)
            return SE_IO;
        if (n == 0)
            return SE_TIMEOUT;
        st = fill(c);
        if (st != SE_OK && st != SE_CLOSED)
            return st;
    }
}

/* ---- writing ---- */

/*
 * Writes all bytes, reading the sidecar's output meanwhile so neither side can block the
 * other. SIGPIPE is held back: a dead sidecar is SE_CLOSED, not a dead client.
 */
static int send_bytes(se_client_t *c, const void *bytes, size_t len, uint64_t deadline)
{
    const uint8_t *p = bytes;
    sigset_t pipe_set, old;
    int st = SE_OK;
    if (c->to < 0)
        return SE_CLOSED;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    while (len > 0) {
        ssize_t k = write(c->to, p, len);
        if (k > 0) {
            p += k;
            len -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EPIPE) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero); /* consume the pending SIGPIPE */
            st = SE_CLOSED;
            break;
        }
        if (k < 0 && errno != EAGAIN && errno != EINTR) {
            st = SE_IO;
            break;
        }
        struct pollfd fds[2] = {{c->to, POLLOUT, 0}, {c->from, POLLIN, 0}};
        int n = poll(fds, c->eof ? 1 : 2, remaining(deadline));
        if (n == 0) {
            st = SE_TIMEOUT;
            break;
        }
        if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            int f = fill(c);
            if (f != SE_OK && f != SE_CLOSED) {
                st = f;
                break;
            }
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

int se_client_send_raw(se_client_t *c, const void *bytes, size_t len)
{
    return send_bytes(c, bytes, len, now_ms() + 30000);
}

int se_client_send_frame(se_client_t *c, const sx_protocol_frame_t *frame)
{
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    int st = SE_IO;
    if (bare_writer_reserve(&w, 4)) {
        w.len = 4;
        if (sx_protocol_frame_encode(&w, frame) == BARE_OK) {
            bare_frame_header_encode(w.buf, (uint32_t)(w.len - 4));
            if (c->on_frame)
                c->on_frame(c->on_frame_ud, SE_FRAME_SENT, w.buf, w.len);
            st = se_client_send_raw(c, w.buf, w.len);
        }
    }
    bare_writer_free(&w);
    return st;
}

/* ---- requests and events ---- */

static bool has_response(se_client_t *c, const void *arg)
{
    int64_t id = *(const int64_t *)arg;
    for (held_frame_t *f = c->responses; f; f = f->next)
        if (f->id == id)
            return true;
    return false;
}

/* Decodes a held frame into the client's arena; the frame is kept until the next one. */
static int decode_held(se_client_t *c, held_frame_t *f, sx_protocol_frame_t *out)
{
    free(c->current);
    c->current = f;
    bare_arena_reset(&c->arena);
    return bare_decode(&sx_protocol_frame_desc, f->data, f->len, &c->arena, NULL, out, NULL) ==
                   BARE_OK
               ? SE_OK
               : SE_PROTOCOL;
}

int se_client_wait_response(se_client_t *c, int64_t id, int timeout_ms,
                            sx_response_frame_t *response)
{
    int st = pump(c, now_ms() + (uint64_t)timeout_ms, has_response, &id);
    if (st != SE_OK)
        return st;
    for (held_frame_t **p = &c->responses; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            held_frame_t *f = *p;
            *p = f->next;
            if (!*p)
                c->responses_tail = p;
            sx_protocol_frame_t pf;
            st = decode_held(c, f, &pf);
            if (st == SE_OK)
                *response = pf.u.response_frame;
            return st;
        }
    }
    return SE_TIMEOUT;
}

int se_client_call_id(se_client_t *c, int64_t id, const sx_ownership_scope_t *ownership,
                      const sx_request_payload_t *payload, int timeout_ms,
                      sx_response_frame_t *response)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    f.u.request_frame.request_id = id;
    f.u.request_frame.ownership = *ownership;
    f.u.request_frame.payload = *payload;
    int st = se_client_send_frame(c, &f);
    if (st != SE_OK)
        return st;
    return se_client_wait_response(c, id, timeout_ms, response);
}

int se_client_call(se_client_t *c, const sx_ownership_scope_t *ownership,
                   const sx_request_payload_t *payload, int timeout_ms,
                   sx_response_frame_t *response)
{
    return se_client_call_id(c, c->next_id++, ownership, payload, timeout_ms, response);
}

static bool has_event(se_client_t *c, const void *arg)
{
    (void)arg;
    return c->events != NULL;
}

int se_client_next_event(se_client_t *c, int timeout_ms, sx_event_frame_t *event)
{
    int st = pump(c, now_ms() + (uint64_t)timeout_ms, has_event, NULL);
    if (st != SE_OK && !c->events)
        return st;
    held_frame_t *f = c->events;
    c->events = f->next;
    if (!c->events)
        c->events_tail = &c->events;
    c->nevents--;
    sx_protocol_frame_t pf;
    st = decode_held(c, f, &pf);
    if (st == SE_OK)
        *event = pf.u.event_frame;
    return st;
}

size_t se_client_pending_events(const se_client_t *c)
{
    return c->nevents;
}

void se_client_on_sidecar_request(se_client_t *c, se_sidecar_request_fn *fn, void *ud)
{
    c->on_request = fn;
    c->on_request_ud = ud;
}

/* ---- helpers ---- */

const char *se_client_rejection_code(const se_client_t *c)
{
    return c->reject_code;
}

const char *se_client_rejection_message(const se_client_t *c)
{
    return c->reject_msg;
}

static void copy_str(char *dst, size_t cap, bare_str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* A call whose response must be of kind `want`; a Rejected one is SE_REJECTED. */
static int expect(se_client_t *c, const sx_ownership_scope_t *own, const sx_request_payload_t *p,
                  int timeout_ms, sx_response_payload_tag_t want, sx_response_frame_t *resp)
{
    int st = se_client_call(c, own, p, timeout_ms, resp);
    if (st != SE_OK)
        return st;
    if (resp->payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE) {
        copy_str(c->reject_code, sizeof c->reject_code, resp->payload.u.rejected_response.code);
        copy_str(c->reject_msg, sizeof c->reject_msg, resp->payload.u.rejected_response.message);
        return SE_REJECTED;
    }
    return resp->payload.tag == want ? SE_OK : SE_UNEXPECTED;
}

void se_client_connection_scope(const se_client_t *c, sx_ownership_scope_t *out)
{
    memset(out, 0, sizeof *out);
    out->tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    out->u.connection_ownership.connection_id = bare_str_from_cstr(c->conn_id);
}

void se_client_session_scope(const se_client_t *c, sx_ownership_scope_t *out)
{
    memset(out, 0, sizeof *out);
    out->tag = SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP;
    out->u.session_ownership.connection_id = bare_str_from_cstr(c->conn_id);
    out->u.session_ownership.session_id = bare_str_from_cstr(c->session_id);
}

void se_client_vm_scope(const se_client_t *c, const char *vm_id, sx_ownership_scope_t *out)
{
    memset(out, 0, sizeof *out);
    out->tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    out->u.vm_ownership.connection_id = bare_str_from_cstr(c->conn_id);
    out->u.vm_ownership.session_id = bare_str_from_cstr(c->session_id);
    out->u.vm_ownership.vm_id = bare_str_from_cstr(vm_id);
}

int se_client_authenticate(se_client_t *c, const char *client_name, const char *token,
                           int timeout_ms)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t resp;
    memset(&own, 0, sizeof own);
    memset(&p, 0, sizeof p);
    own.tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    own.u.connection_ownership.connection_id = bare_str_from_cstr(c->conn_id);
    p.tag = SX_REQUEST_PAYLOAD_TAG_AUTHENTICATE_REQUEST;
    p.u.authenticate_request.client_name = bare_str_from_cstr(client_name);
    p.u.authenticate_request.auth_token = bare_str_from_cstr(token ? token : "");
    p.u.authenticate_request.protocol_version = 7;
    p.u.authenticate_request.bridge_version = 1;
    int st = expect(c, &own, &p, timeout_ms, SX_RESPONSE_PAYLOAD_TAG_AUTHENTICATED_RESPONSE, &resp);
    if (st == SE_OK)
        copy_str(c->conn_id, sizeof c->conn_id,
                 resp.payload.u.authenticated_response.connection_id);
    return st;
}

const char *se_client_connection_id(const se_client_t *c)
{
    return c->conn_id;
}

int se_client_open_session(se_client_t *c, int timeout_ms)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t resp;
    se_client_connection_scope(c, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_OPEN_SESSION_REQUEST;
    p.u.open_session_request.placement.tag = SX_SIDECAR_PLACEMENT_TAG_SIDECAR_PLACEMENT_SHARED;
    int st = expect(c, &own, &p, timeout_ms, SX_RESPONSE_PAYLOAD_TAG_SESSION_OPENED_RESPONSE,
                    &resp);
    if (st == SE_OK)
        copy_str(c->session_id, sizeof c->session_id,
                 resp.payload.u.session_opened_response.session_id);
    return st;
}

const char *se_client_session_id(const se_client_t *c)
{
    return c->session_id;
}

int se_client_create_vm(se_client_t *c, sx_guest_runtime_kind_t runtime, const char *config_json,
                        int timeout_ms, char *vm_id, size_t vm_id_len)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t resp;
    se_client_session_scope(c, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_VM_REQUEST;
    p.u.create_vm_request.runtime = runtime;
    p.u.create_vm_request.config = bare_str_from_cstr(config_json ? config_json : "{}");
    int st = expect(c, &own, &p, timeout_ms, SX_RESPONSE_PAYLOAD_TAG_VM_CREATED_RESPONSE, &resp);
    if (st == SE_OK && vm_id)
        copy_str(vm_id, vm_id_len, resp.payload.u.vm_created_response.vm_id);
    return st;
}

int se_client_dispose_vm(se_client_t *c, const char *vm_id, int timeout_ms)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t resp;
    se_client_vm_scope(c, vm_id, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_DISPOSE_VM_REQUEST;
    p.u.dispose_vm_request.reason = SX_DISPOSE_REASON_REQUESTED;
    return expect(c, &own, &p, timeout_ms, SX_RESPONSE_PAYLOAD_TAG_VM_DISPOSED_RESPONSE, &resp);
}
