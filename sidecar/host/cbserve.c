/*
 * cbserve.c - a VM's callback socket, served on the loop. Every connection is one invocation
 * of a host callback command (the protocol is cbproto.h): its request is read, resolved
 * (toolinput.c) and sent to the host as a HostCallbackRequest (hostreq.h); the host's answer,
 * its timeout or a failure that never reached the host goes back to the program, which prints
 * it and exits. Nothing blocks: reads and writes are non-blocking, a request waits for the
 * host as a record with a timer, and the program's end (a kill, an exit) cancels its request.
 *
 * Only the VM's guests reach the socket (it is bound into their /dev and nowhere else), and
 * whatever one sends is checked here as a hostile guest's input: lengths against the limits,
 * each record against the protocol, the invocation against the VM's toolkits and policy. A VM
 * holds at most SC_CB_MAX_CONNS connections (the sidecar SC_CB_MAX_CONNS_ALL), a request is at
 * most SC_CB_MAX_REQUEST bytes, and what its connections buffer (requests being read, answers
 * being written) at most SC_CB_MAX_BUFFERED: a VM's guests can exhaust their own commands,
 * never the sidecar or another VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "hostreq.h"
#include "log.h"
#include "sidecar.h"

#define SC_CB_MAX_CONNS_ALL 4096
#define SC_CB_MAX_BUFFERED (16u << 20)
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: try again after that */

typedef enum conn_state { CONN_READING, CONN_WAITING, CONN_WRITING } conn_state_t;

static size_t nconns_all; /* every VM's */

struct sc_cb_conn {
    sc_cb_conn_t *next;
    sc_server_t *srv;
    sc_vm_t *vm;
    int fd;
    sc_watch_t *w;
    conn_state_t state;
    uint8_t *buf; /* the request as it arrives, then the answer */
    size_t len, cap, off;
    int64_t hostreq; /* waiting: the host request */
};

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Sets the connection's buffer to cap bytes (0 frees it), within the VM's budget; false when
 * the budget or the memory does not allow it (the buffer is then unchanged). */
static bool buf_resize(sc_cb_conn_t *c, size_t cap)
{
    sc_callbacks_t *cb = c->vm->callbacks;
    if (cap > c->cap && cb->buffered - c->cap + cap > SC_CB_MAX_BUFFERED)
        return false;
    uint8_t *b = cap ? realloc(c->buf, cap) : NULL;
    if (cap && !b)
        return false;
    if (!cap)
        free(c->buf);
    cb->buffered = cb->buffered - c->cap + cap;
    c->buf = b;
    c->cap = cap;
    if (c->len > cap)
        c->len = cap;
    return true;
}

static void conn_close(sc_cb_conn_t *c)
{
    sc_callbacks_t *cb = c->vm->callbacks;
    for (sc_cb_conn_t **pp = &cb->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            cb->nconns--;
            nconns_all--;
            break;
        }
    if (c->state == CONN_WAITING && c->hostreq)
        sc_hostreq_cancel(c->srv, c->hostreq); /* a reply that comes now is logged and dropped */
    if (c->w)
        sc_loop_unwatch(c->srv->loop, c->w);
    close(c->fd);
    buf_resize(c, 0);
    free(c);
}

/* Writes what is left of the answer; the connection ends once it is all out (or the program
 * is gone). */
static void flush(sc_cb_conn_t *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            sc_loop_modify(c->srv->loop, c->w, EPOLLOUT);
            return;
        }
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->off += (size_t)n;
    }
    conn_close(c);
}

/* Answers the program: its exit code, stdout and stderr. */
static void answer(sc_cb_conn_t *c, int code, const char *out, size_t nout, const char *err,
                   size_t nerr)
{
    bool nl = nerr && err[nerr - 1] != '\n'; /* a message ends its line, as the reference's */
    size_t len = SC_CB_HEADER + 12 + nout + nerr + nl;
    c->state = CONN_WRITING;
    c->len = 0;
    if (!buf_resize(c, len)) {
        static const char full[] = "the answer does not fit in what this VM's host callbacks "
                                   "may hold at once";
        if (nout + nerr > sizeof full)
            answer(c, 1, NULL, 0, full, sizeof full - 1);
        else
            conn_close(c);
        return;
    }
    uint8_t *buf = c->buf;
    put_u32(buf, SC_CB_MAGIC);
    put_u32(buf + 4, (uint32_t)(len - SC_CB_HEADER));
    put_u32(buf + 8, (uint32_t)code);
    put_u32(buf + 12, (uint32_t)nout);
    if (nout)
        memcpy(buf + 16, out, nout);
    put_u32(buf + 16 + nout, (uint32_t)(nerr + nl));
    if (nerr)
        memcpy(buf + 20 + nout, err, nerr);
    if (nl)
        buf[len - 1] = '\n';
    c->len = len;
    c->off = 0;
    flush(c);
}

static void answer_error(sc_cb_conn_t *c, int code, const char *msg)
{
    answer(c, code, NULL, 0, msg, strlen(msg));
}

/* The host's answer, its timeout, or the VM's end (hostreq.h). */
static void on_reply(sc_server_t *srv, void *ud, sc_hostreq_status_t status,
                     const sx_sidecar_response_payload_t *reply, const char *err)
{
    (void)srv;
    sc_cb_conn_t *c = ud;
    c->hostreq = 0;
    if (status != SC_HOSTREQ_REPLY) {
        answer_error(c, 1, err ? err : "the host did not answer");
        return;
    }
    if (reply->tag != SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE) {
        sc_warn("%s: a host callback was answered with %s", c->vm->id,
                sx_sidecar_response_payload_tag_name(reply->tag));
        answer_error(c, 1, "unexpected sidecar tool response");
        return;
    }
    const sx_host_callback_result_response_t *r = &reply->u.host_callback_result_response;
    if (r->result.present) {
        size_t n = 0;
        char *text = sc_cb_result_text(r->result.value.ptr, r->result.value.len, &n);
        if (text)
            answer(c, 0, text, n, NULL, 0);
        else
            answer_error(c, 1, "out of memory");
        free(text);
    } else if (r->error.present) {
        answer(c, 1, NULL, 0, r->error.value.ptr, r->error.value.len);
    } else {
        answer_error(c, 1, "tool invocation returned no result");
    }
}

/* A complete request: resolved, then sent to the host or answered at once. */
static void invoke(sc_cb_conn_t *c)
{
    sc_vm_t *vm = c->vm;
    const char *why = NULL;
    sc_cb_call_t *call = sc_cb_parse_request(c->buf + SC_CB_HEADER, c->len - SC_CB_HEADER, &why);
    if (!call) {
        sc_warn("%s: a malformed host callback request: %s", vm->id, why);
        char msg[160];
        snprintf(msg, sizeof msg, "malformed invocation: %s", why);
        answer_error(c, 1, msg);
        return;
    }
    if (vm->disposing) {
        free(call);
        answer_error(c, 1, "the VM is being disposed");
        return;
    }
    sc_cb_invocation_t inv;
    if (sc_cb_resolve(vm, call, &inv) != 0) {
        free(call);
        sc_cb_invocation_free(&inv);
        answer_error(c, 1, "out of memory");
        return;
    }
    free(call);
    if (inv.failure) {
        sc_debug("%s: host callback not sent: %s", vm->id, inv.failure);
        answer_error(c, inv.exit_code, inv.failure);
        sc_cb_invocation_free(&inv);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *id = NULL;
    if (asprintf(&id, "%s:%" PRIu64, inv.key,
                 (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) < 0) {
        sc_cb_invocation_free(&inv);
        answer_error(c, 1, "out of memory");
        return;
    }
    sx_sidecar_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_SIDECAR_REQUEST_PAYLOAD_TAG_HOST_CALLBACK_REQUEST;
    p.u.host_callback_request.invocation_id = bare_str_from_cstr(id);
    p.u.host_callback_request.callback_key = bare_str_from_cstr(inv.key);
    p.u.host_callback_request.input = bare_str_from_cstr(inv.input);
    p.u.host_callback_request.timeout_ms = inv.timeout_ms;
    char err[256];
    int64_t rid = sc_hostreq_send(c->srv, vm, &p, inv.timeout_ms, on_reply, c, err, sizeof err);
    sc_info("%s: host callback %s (%s)%s%s", vm->id, id, inv.key,
            rid ? "" : " not sent: ", rid ? "" : err);
    free(id);
    sc_cb_invocation_free(&inv);
    if (!rid) {
        answer_error(c, 1, err);
        return;
    }
    buf_resize(c, 0);
    c->len = 0;
    c->state = CONN_WAITING;
    c->hostreq = rid;
}

/* Reads the request; true while the connection lives. */
static bool read_request(sc_cb_conn_t *c)
{
    for (;;) {
        size_t want = c->len < SC_CB_HEADER ? SC_CB_HEADER : SC_CB_HEADER + get_u32(c->buf + 4);
        if (c->len == want && c->len >= SC_CB_HEADER) {
            invoke(c);
            return false; /* answered or waiting: the connection is no longer reading */
        }
        /* the buffer grows with what arrives, not with what the header claims */
        if (c->cap == c->len) {
            size_t cap = c->cap ? 2 * c->cap : 4096;
            if (!buf_resize(c, cap < want ? cap : want)) {
                answer_error(c, 1,
                             "this VM's host callbacks in flight hold too much data; try again "
                             "when some have ended");
                return false;
            }
        }
        size_t room = (want < c->cap ? want : c->cap) - c->len;
        ssize_t n = recv(c->fd, c->buf + c->len, room, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            conn_close(c); /* gone before it said everything */
            return false;
        }
        c->len += (size_t)n;
        if (c->len == SC_CB_HEADER) {
            if (get_u32(c->buf) != SC_CB_MAGIC) {
                sc_warn("%s: a connection to the callback socket did not speak its protocol",
                        c->vm->id);
                conn_close(c);
                return false;
            }
            if (get_u32(c->buf + 4) > SC_CB_MAX_REQUEST) {
                char msg[128];
                snprintf(msg, sizeof msg, "the invocation is %" PRIu32 " bytes; the limit is %u",
                         get_u32(c->buf + 4), SC_CB_MAX_REQUEST);
                answer_error(c, 1, msg);
                return false;
            }
        }
    }
}

static void on_conn(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    (void)loop;
    (void)w;
    sc_cb_conn_t *c = ud;
    switch (c->state) {
    case CONN_READING:
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
            read_request(c);
        break;
    case CONN_WAITING:
        /* the program says nothing more: data or its end means it is gone, or misbehaves */
        conn_close(c);
        break;
    case CONN_WRITING:
        if (events & (EPOLLHUP | EPOLLERR))
            conn_close(c);
        else
            flush(c);
        break;
    }
}

static void on_accept(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud);

static void on_accept_again(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    (void)t;
    sc_callbacks_t *cb = ((sc_vm_t *)ud)->callbacks;
    cb->accept_timer = NULL;
    sc_loop_modify(loop, cb->wlisten, EPOLLIN);
}

static void on_accept(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    (void)w;
    (void)events;
    sc_vm_t *vm = ud;
    sc_callbacks_t *cb = vm->callbacks;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(cb->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS)) {
            /* the socket stays readable: without a pause this would spin */
            sc_warn("%s: cannot take a host callback connection: %s", vm->id, strerror(errno));
            sc_loop_modify(loop, cb->wlisten, 0);
            cb->accept_timer = sc_loop_timer(loop, ACCEPT_PAUSE_MS, on_accept_again, vm);
            return;
        }
        if (fd < 0)
            return;
        sc_cb_conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = vm->exec.srv;
        c->vm = vm;
        c->fd = fd;
        c->next = cb->conns;
        cb->conns = c;
        cb->nconns++;
        nconns_all++;
        if (cb->nconns > SC_CB_MAX_CONNS || nconns_all > SC_CB_MAX_CONNS_ALL) {
            char msg[128];
            snprintf(msg, sizeof msg, "too many host callbacks of this VM in flight (limit %d)",
                     cb->nconns > SC_CB_MAX_CONNS ? SC_CB_MAX_CONNS : SC_CB_MAX_CONNS_ALL);
            c->w = sc_loop_watch(loop, fd, 0, on_conn, c);
            if (c->w)
                answer_error(c, 1, msg);
            else
                conn_close(c);
            continue;
        }
        c->w = sc_loop_watch(loop, fd, EPOLLIN | EPOLLRDHUP, on_conn, c);
        if (!c->w)
            conn_close(c);
    }
}

int sc_cb_listen(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen)
{
    sc_callbacks_t *cb = sc_callbacks_of(vm);
    if (!cb) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cb->listen_fd >= 0)
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    /* through the directory's descriptor: the state directory's path may be long */
    snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/cb.sock", vm->fs.dir_fd);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* Safe: the VM's private directory in the sidecar's state tmpfs, which no guest reaches;
     * guests get the socket itself, bound into their /dev. */
    unlinkat(vm->fs.dir_fd, "cb.sock", 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        fchmodat(vm->fs.dir_fd, "cb.sock", 0666, 0) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "cannot create the VM's callback socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *path = NULL;
    if (asprintf(&path, "%s/cb.sock", vm->fs.dir) < 0)
        path = NULL;
    if (!path || !(cb->wlisten = sc_loop_watch(srv->loop, fd, EPOLLIN, on_accept, vm))) {
        snprintf(err, errlen, "cannot serve the VM's callback socket");
        free(path);
        close(fd);
        return -1;
    }
    free(cb->socket_path);
    cb->socket_path = path;
    cb->listen_fd = fd;
    return 0;
}

void sc_cb_serve_stop(sc_server_t *srv, sc_vm_t *vm)
{
    sc_callbacks_t *cb = vm->callbacks;
    if (!cb)
        return;
    while (cb->conns)
        conn_close(cb->conns);
    if (cb->accept_timer)
        sc_loop_cancel(srv->loop, cb->accept_timer);
    cb->accept_timer = NULL;
    if (cb->wlisten)
        sc_loop_unwatch(srv->loop, cb->wlisten);
    cb->wlisten = NULL;
    if (cb->listen_fd >= 0)
        close(cb->listen_fd);
    cb->listen_fd = -1;
}
