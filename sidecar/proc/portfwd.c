/*
 * portfwd.c - loopbackExemptPorts: a guest reaches the host's 127.0.0.1:P at its own
 * 127.0.0.1:P. The VM's network namespace has nothing but its loopback, so for each exempt
 * port the sidecar listens inside it and relays every accepted connection to the same port of
 * the host's loopback. Only those ports, only loopback, only TCP.
 *
 * PRIVILEGED (sc_vm_socket): the sidecar enters the VM's network namespace for the time of
 * one socket(), then returns to its own. A socket stays in the namespace it was made in (its
 * bind, listen and connect act there, whichever namespace the caller is in later); nothing
 * else runs in between (only the loop's thread calls it, and setns changes the calling thread
 * only), and the namespace is the VM's own, reached through its supervisor's /proc entry.
 * VmFetch (host/fetch.c) makes its client sockets with it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sidecar.h"

#define FWD_BUF 65536
#define FWD_MAX_CONNS 256

typedef struct sc_fwd sc_fwd_t;

typedef struct fwd_conn {
    struct fwd_conn *next;
    sc_fwd_t *owner;
    int fd[2]; /* 0: the guest's side (accepted), 1: the host's (connected) */
    sc_watch_t *w[2];
    uint8_t *buf[2]; /* buf[d]: read from side d, to be written to side 1-d */
    size_t len[2];
    bool eof[2];  /* side d said it writes no more */
    bool shut[2]; /* we said so to side d */
    bool connecting;
} fwd_conn_t;

typedef struct fwd_listener {
    struct fwd_listener *next;
    sc_fwd_t *owner;
    uint16_t port;
    int fd;
    sc_watch_t *w;
} fwd_listener_t;

struct sc_fwd {
    sc_server_t *srv;
    sc_vm_t *vm;
    fwd_listener_t *listeners;
    fwd_conn_t *conns;
    size_t nconns;
};

/* ---- connections ---- */

static void conn_close(fwd_conn_t *c)
{
    sc_fwd_t *f = c->owner;
    for (fwd_conn_t **p = &f->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    f->nconns--;
    for (int i = 0; i < 2; i++) {
        if (c->w[i])
            sc_loop_unwatch(f->srv->loop, c->w[i]);
        if (c->fd[i] >= 0)
            close(c->fd[i]);
        free(c->buf[i]);
    }
    free(c);
}

static void conn_arm(fwd_conn_t *c)
{
    for (int i = 0; i < 2; i++) {
        uint32_t ev = 0;
        if (c->connecting && i == 1) {
            ev = EPOLLOUT;
        } else {
            if (!c->eof[i] && c->len[i] < FWD_BUF && !(c->connecting && i == 0))
                ev |= EPOLLIN;
            if (c->len[1 - i] > 0)
                ev |= EPOLLOUT;
        }
        if (c->w[i])
            sc_loop_modify(c->owner->srv->loop, c->w[i], ev);
    }
}

/* Moves bytes one step on side i; false when the connection is done or broken. */
static bool conn_step(fwd_conn_t *c, int i, uint32_t events)
{
    if (c->connecting && i == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            return false;
        c->connecting = false;
        return true;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof[i] && c->len[i] < FWD_BUF) {
        ssize_t n = read(c->fd[i], c->buf[i] + c->len[i], FWD_BUF - c->len[i]);
        if (n > 0)
            c->len[i] += (size_t)n;
        else if (n == 0)
            c->eof[i] = true;
        else if (errno != EAGAIN && errno != EINTR)
            return false;
    }
    if ((events & EPOLLOUT) && c->len[1 - i] > 0) {
        ssize_t n = write(c->fd[i], c->buf[1 - i], c->len[1 - i]);
        if (n > 0) {
            memmove(c->buf[1 - i], c->buf[1 - i] + n, c->len[1 - i] - (size_t)n);
            c->len[1 - i] -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    /* a half-close travels once what came before it has */
    for (int d = 0; d < 2; d++) {
        if (c->eof[d] && c->len[d] == 0 && !c->shut[1 - d]) {
            shutdown(c->fd[1 - d], SHUT_WR);
            c->shut[1 - d] = true;
        }
    }
    return !(c->shut[0] && c->shut[1]);
}

static void on_conn(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    fwd_conn_t *c = ud;
    (void)loop;
    int i = w == c->w[0] ? 0 : 1;
    if (!conn_step(c, i, events)) {
        conn_close(c);
        return;
    }
    /* the other side may be writable now that there is data for it */
    if (!conn_step(c, 1 - i, EPOLLOUT)) {
        conn_close(c);
        return;
    }
    conn_arm(c);
}

static void on_accept(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    fwd_listener_t *l = ud;
    sc_fwd_t *f = l->owner;
    (void)loop;
    (void)w;
    (void)events;
    for (;;) {
        int g = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (g < 0)
            return;
        if (f->nconns >= FWD_MAX_CONNS) {
            sc_warn("%s: loopback port %u: too many connections", f->vm->id, l->port);
            close(g);
            continue;
        }
        /* the host's side, in the sidecar's own network namespace */
        int h = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons(l->port);
        if (h < 0 || (connect(h, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
            if (h >= 0)
                close(h);
            close(g); /* the guest sees the connection reset, as if refused */
            continue;
        }
        fwd_conn_t *c = calloc(1, sizeof *c);
        if (c) {
            c->buf[0] = malloc(FWD_BUF);
            c->buf[1] = malloc(FWD_BUF);
        }
        if (!c || !c->buf[0] || !c->buf[1]) {
            if (c) {
                free(c->buf[0]);
                free(c->buf[1]);
            }
            free(c);
            close(g);
            close(h);
            continue;
        }
        c->owner = f;
        c->fd[0] = g;
        c->fd[1] = h;
        c->connecting = true;
        c->w[0] = sc_loop_watch(f->srv->loop, g, 0, on_conn, c);
        c->w[1] = sc_loop_watch(f->srv->loop, h, EPOLLOUT, on_conn, c);
        c->next = f->conns;
        f->conns = c;
        f->nconns++;
        if (!c->w[0] || !c->w[1]) {
            conn_close(c);
            continue;
        }
        conn_arm(c);
    }
}

/* ---- listeners ---- */

int sc_vm_socket(const sc_vm_t *vm, int type, char *err, size_t errlen)
{
    static int own_ns = -1;
    char path[64];
    if (vm->exec.state != SC_SUP_RUNNING || vm->exec.sup_pid <= 0) {
        snprintf(err, errlen, "the VM has no network namespace (no guest process has run)");
        errno = ENOENT;
        return -1;
    }
    if (own_ns < 0)
        own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)vm->exec.sup_pid);
    int vm_ns = open(path, O_RDONLY | O_CLOEXEC);
    if (own_ns < 0 || vm_ns < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open the network namespaces: %s", strerror(e));
        if (vm_ns >= 0)
            close(vm_ns);
        errno = e;
        return -1;
    }
    /* Safe: in and straight back out; see the top of this file. */
    if (setns(vm_ns, CLONE_NEWNET) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot enter the VM's network namespace: %s", strerror(e));
        close(vm_ns);
        errno = e;
        return -1;
    }
    close(vm_ns);
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int e = errno;
    if (setns(own_ns, CLONE_NEWNET) != 0) {
        /* cannot happen for root; if it did, every later socket would be the VM's */
        sc_error("cannot return to the sidecar's network namespace: %s", strerror(errno));
        abort();
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot make a socket in the VM's network namespace: %s",
                 strerror(e));
        errno = e;
    }
    return fd;
}

/* A listening socket on 127.0.0.1:port inside the VM's network namespace, or -1. */
static int listen_in_vm(const sc_vm_t *vm, uint16_t port, char *err, size_t errlen)
{
    int fd = sc_vm_socket(vm, SOCK_STREAM, err, errlen);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "cannot listen on the VM's 127.0.0.1:%u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void listener_close(sc_fwd_t *f, fwd_listener_t *l)
{
    sc_loop_unwatch(f->srv->loop, l->w);
    close(l->fd);
    free(l);
}

int sc_portfwd_sync(sc_server_t *srv, sc_vm_t *vm, const uint16_t *ports, size_t n)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state != SC_SUP_RUNNING)
        return 0; /* done when the supervisor starts */
    sc_fwd_t *f = x->fwd;
    if (!f) {
        if (n == 0)
            return 0;
        f = calloc(1, sizeof *f);
        if (!f)
            return -1;
        f->srv = srv;
        f->vm = vm;
        x->fwd = f;
    }
    /* ports no longer exempt: stop listening (open connections finish on their own) */
    for (fwd_listener_t **p = &f->listeners; *p;) {
        bool keep = false;
        for (size_t i = 0; i < n; i++)
            keep = keep || ports[i] == (*p)->port;
        if (keep) {
            p = &(*p)->next;
        } else {
            fwd_listener_t *l = *p;
            *p = l->next;
            listener_close(f, l);
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        bool have = false;
        for (fwd_listener_t *l = f->listeners; l; l = l->next)
            have = have || l->port == ports[i];
        if (have)
            continue;
        char err[256];
        int fd = listen_in_vm(vm, ports[i], err, sizeof err);
        fwd_listener_t *l = fd >= 0 ? calloc(1, sizeof *l) : NULL;
        if (!l) {
            if (fd >= 0)
                close(fd);
            sc_warn("%s: loopbackExemptPorts: %s", vm->id, fd >= 0 ? "out of memory" : err);
            rc = -1;
            continue;
        }
        l->owner = f;
        l->port = ports[i];
        l->fd = fd;
        l->w = sc_loop_watch(srv->loop, fd, EPOLLIN, on_accept, l);
        if (!l->w) {
            close(fd);
            free(l);
            rc = -1;
            continue;
        }
        l->next = f->listeners;
        f->listeners = l;
        sc_info("%s: guests reach the host's 127.0.0.1:%u", vm->id, ports[i]);
    }
    return rc;
}

void sc_portfwd_stop(sc_server_t *srv, sc_vm_t *vm)
{
    sc_fwd_t *f = vm->exec.fwd;
    (void)srv;
    if (!f)
        return;
    while (f->conns)
        conn_close(f->conns);
    while (f->listeners) {
        fwd_listener_t *l = f->listeners;
        f->listeners = l->next;
        listener_close(f, l);
    }
    free(f);
    vm->exec.fwd = NULL;
}
