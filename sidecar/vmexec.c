/*
 * vmexec.c - guest execution, the sidecar's side: each VM's supervisor (started with clone3,
 * its user namespace mapped to the reserved id range), ExecuteRequest (command or runtime,
 * env, cwd, the childProcess permission), output and exit events in order, stdin, signals,
 * time limits, and teardown with no process left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "sidecar.h"
#include "supervisor.h"

#define STARTUP_TIMEOUT_MS 15000
#define SPAWN_TIMEOUT_MS 15000
#define OUTPUT_CHUNK 65536u
#define STDIN_CAP (16u << 20)
#define PIPE_SIZE (256 << 10)
#define EXITED_RETENTION_MS 2000
#define DRAIN_MS 250
#define TERM_GRACE_MS 500
#define KILL_GRACE_MS 2000

/* ---- control socket ---- */

static int ctl_send(sc_vmexec_t *x, const sv_msg_t *m, const int *fds, int nfds)
{
    struct iovec iov = {(void *)m, sizeof *m};
    struct msghdr mh;
    char cbuf[CMSG_SPACE(4 * sizeof(int))];
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        memset(cbuf, 0, sizeof cbuf);
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(x->ctl, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *m ? 0 : -1;
}

/* Waits up to ms for one message; 0, or -1 (timeout: errno ETIMEDOUT; closed: EPIPE). */
static int ctl_recv(sc_vmexec_t *x, sv_msg_t *m, int ms)
{
    uint64_t deadline = sc_now_ms() + (uint64_t)ms;
    for (;;) {
        ssize_t n = recv(x->ctl, m, sizeof *m, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof *m)
            return 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            errno = EPIPE;
            return -1;
        }
        uint64_t now = sc_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {x->ctl, POLLIN, 0};
        poll(&p, 1, (int)(deadline - now));
    }
}

/* ---- events ---- */

static void emit_output(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p, int channel,
                        const uint8_t *data, size_t n)
{
    sx_ownership_scope_t own;
    sx_event_payload_t ev;
    sc_vm_ownership(vm, &own);
    memset(&ev, 0, sizeof ev);
    ev.tag = SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT;
    ev.u.process_output_event.process_id = bare_str_from_cstr(p->id);
    ev.u.process_output_event.channel =
        channel == 0 ? SX_STREAM_CHANNEL_STDOUT : SX_STREAM_CHANNEL_STDERR;
    ev.u.process_output_event.chunk = (bare_bytes_t){data, n};
    sc_emit_event(srv, &own, &ev);
}

static void emit_exit(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p)
{
    sx_ownership_scope_t own;
    sx_event_payload_t ev;
    sc_vm_ownership(vm, &own);
    memset(&ev, 0, sizeof ev);
    ev.tag = SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT;
    ev.u.process_exited_event.process_id = bare_str_from_cstr(p->id);
    ev.u.process_exited_event.exit_code = p->exit_code;
    sc_emit_event(srv, &own, &ev);
}

/* The most bytes one output event may carry: a chunk that always fits in a frame. */
static size_t chunk_limit(const sc_server_t *srv)
{
    size_t frame = srv->cfg.max_frame_bytes;
    size_t room = frame > 1024 ? frame - 1024 : frame / 2;
    return room < OUTPUT_CHUNK ? room : OUTPUT_CHUNK;
}

/* Reads one chunk of a guest's stdout or stderr; returns bytes read, 0 at EOF, -1 when dry. */
static ssize_t pump_output(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p, int channel)
{
    static uint8_t buf[OUTPUT_CHUNK];
    if (p->out_fd[channel] < 0)
        return 0;
    ssize_t n = read(p->out_fd[channel], buf, chunk_limit(srv));
    if (n > 0) {
        emit_output(srv, vm, p, channel, buf, (size_t)n);
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return -1;
    /* EOF (or an error): this stream is done */
    sc_loop_unwatch(srv->loop, p->wout[channel]);
    p->wout[channel] = NULL;
    close(p->out_fd[channel]);
    p->out_fd[channel] = -1;
    return 0;
}

/* A guest's stdout or stderr has data (or ended). */
static void maybe_finish(sc_server_t *srv, sc_gproc_t *p);

static void on_output(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_gproc_t *p = ud;
    sc_server_t *srv = p->srv;
    (void)loop;
    (void)events;
    int channel = w == p->wout[0] ? 0 : 1;
    /* a few chunks per wakeup, so one chatty guest cannot starve the rest */
    for (int i = 0; i < 4 && !srv->in_paused; i++) {
        ssize_t n = pump_output(srv, p->vm, p, channel);
        if (n == 0) {
            maybe_finish(srv, p); /* may retire p */
            break;
        }
        if (n < 0)
            break;
    }
    sc_server_update_watches(srv);
}

/* ---- processes ---- */

static sc_gproc_t *find_live(sc_vmexec_t *x, bare_str_t id)
{
    for (sc_gproc_t *p = x->procs; p; p = p->next)
        if (bare_str_eq_cstr(id, p->id))
            return p;
    return NULL;
}

static void close_stdin_now(sc_server_t *srv, sc_gproc_t *p)
{
    if (p->win) {
        sc_loop_unwatch(srv->loop, p->win);
        p->win = NULL;
    }
    if (p->stdin_fd >= 0) {
        close(p->stdin_fd);
        p->stdin_fd = -1;
    }
    free(p->inbuf);
    p->inbuf = NULL;
    p->inlen = p->incap = 0;
    p->stdin_closed = true;
}

static void free_proc(sc_server_t *srv, sc_gproc_t *p)
{
    for (int c = 0; c < 2; c++) {
        if (p->wout[c])
            sc_loop_unwatch(srv->loop, p->wout[c]);
        if (p->out_fd[c] >= 0)
            close(p->out_fd[c]);
    }
    close_stdin_now(srv, p);
    if (p->wall_timer)
        sc_loop_cancel(srv->loop, p->wall_timer);
    if (p->drain_timer)
        sc_loop_cancel(srv->loop, p->drain_timer);
    free(p->id);
    free(p->command);
    free(p->cwd);
    for (size_t i = 0; i < p->nchildren; i++)
        free(p->children[i].id);
    free(p->children);
    free(p);
}

static void prune_exited(sc_server_t *srv, sc_vmexec_t *x)
{
    uint64_t now = sc_now_ms();
    for (sc_gproc_t **pp = &x->exited; *pp;) {
        sc_gproc_t *p = *pp;
        if (now - p->exited_at > EXITED_RETENTION_MS) {
            *pp = p->next;
            free_proc(srv, p);
        } else {
            pp = &p->next;
        }
    }
}

/* The exit code of PROTOCOL.md §6: the process's own, 128+N for signal N, 124 for a time
 * limit, 137 (128+SIGKILL) for the memory limit. */
static int exit_code_of(const sc_vm_t *vm, const sc_gproc_t *p, int status, uint64_t cpu_ms)
{
    uint64_t cpu_limit = vm->config.resources.max_cpu_time_ms;
    if (p->timed_out)
        return 124;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU || (sig == SIGKILL && cpu_limit && cpu_ms >= cpu_limit))
            return 124;
        return 128 + sig;
    }
    return 1;
}

/* Emits the exit event of a process whose output is drained, and retires it. */
static void finish_exit(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p)
{
    sc_vmexec_t *x = &vm->exec;
    sc_gproc_t **pp = &x->procs;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    /* whatever is still in the pipes now (bounded by their size) goes first */
    for (int c = 0; c < 2; c++)
        while (pump_output(srv, vm, p, c) > 0)
            ;
    for (int c = 0; c < 2; c++) {
        if (p->wout[c])
            sc_loop_unwatch(srv->loop, p->wout[c]);
        p->wout[c] = NULL;
        if (p->out_fd[c] >= 0)
            close(p->out_fd[c]);
        p->out_fd[c] = -1;
    }
    if (p->drain_timer) {
        sc_loop_cancel(srv->loop, p->drain_timer);
        p->drain_timer = NULL;
    }
    emit_exit(srv, vm, p);
    sc_info("%s: process %s (pid %d) exited with %d", vm->id, p->id, (int)p->pid, p->exit_code);
    /* the id is free again; the entry stays a while for snapshots */
    p->exit_pending = false;
    p->exited = true;
    p->exited_at = sc_now_ms();
    p->next = x->exited;
    x->exited = p;
    prune_exited(srv, x);
}

static void on_drain_deadline(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_gproc_t *p = ud;
    (void)loop;
    (void)t;
    p->drain_timer = NULL;
    /* a descendant still holds the pipes open: the process's own output is in by now */
    finish_exit(p->srv, p->vm, p);
}

/*
 * A top-level process ended. Its output may still sit in the pipes: the exit event waits
 * until both streams reach end of file, or DRAIN_MS at most (a background descendant may hold
 * them open forever), so every byte the process wrote comes before the event.
 */
static void process_exited(sc_server_t *srv, sc_vm_t *vm, pid_t pid, int status, uint64_t cpu_ms,
                           bool now)
{
    sc_gproc_t *p = vm->exec.procs;
    while (p && (p->pid != pid || p->exit_pending))
        p = p->next;
    if (!p)
        return;
    p->exit_code = exit_code_of(vm, p, status, cpu_ms);
    p->exit_pending = true;
    close_stdin_now(srv, p);
    if (p->wall_timer) {
        sc_loop_cancel(srv->loop, p->wall_timer);
        p->wall_timer = NULL;
    }
    if (now || (p->out_fd[0] < 0 && p->out_fd[1] < 0))
        finish_exit(srv, vm, p);
    else
        p->drain_timer = sc_loop_timer(srv->loop, DRAIN_MS, on_drain_deadline, p);
}

/* Called when a stream of p ended: the exit event may be due. */
static void maybe_finish(sc_server_t *srv, sc_gproc_t *p)
{
    if (p->exit_pending && p->out_fd[0] < 0 && p->out_fd[1] < 0)
        finish_exit(srv, p->vm, p);
}

/* ---- the supervisor ---- */

static void supervisor_gone(sc_server_t *srv, sc_vm_t *vm);

static void handle_msg(sc_server_t *srv, sc_vm_t *vm, const sv_msg_t *m)
{
    if (m->type == SV_EXITED)
        process_exited(srv, vm, m->pid, m->arg, m->cpu_ms, false);
    else if (m->type == SV_FATAL)
        sc_error("%s: supervisor: %s", vm->id, m->text);
}

static void on_ctl(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_vm_t *vm = ud;
    sc_server_t *srv = vm->exec.srv;
    (void)loop;
    (void)w;
    (void)events;
    while (vm->exec.ctl >= 0) {
        sv_msg_t m;
        ssize_t n = recv(vm->exec.ctl, &m, sizeof m, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof m) {
            handle_msg(srv, vm, &m);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        supervisor_gone(srv, vm);
        break;
    }
    sc_server_update_watches(srv);
}

static int write_map(pid_t pid, const char *file, uint32_t base, uint32_t count)
{
    char path[64], map[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    snprintf(map, sizeof map, "0 %u %u", base, count);
    return sc_write_text(path, map);
}

static int start_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int start_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Filters the VM env by the env policy once (reference: at CreateVm). */
static void build_env(sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    x->env = calloc(vm->config.nenv + 1, sizeof *x->env);
    x->nenv = 0;
    for (size_t i = 0; x->env && i < vm->config.nenv; i++) {
        const sc_kv_t *kv = &vm->config.env[i];
        if (!sc_policy_allows(&vm->policy, SC_DOMAIN_ENV, "read", kv->key, NULL, 0))
            continue;
        size_t n = strlen(kv->key) + strlen(kv->value) + 2;
        char *s = malloc(n);
        if (!s)
            continue;
        snprintf(s, n, "%s=%s", kv->key, kv->value);
        x->env[x->nenv++] = s;
    }
}

void sc_vmexec_init(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    memset(x, 0, sizeof *x);
    x->srv = srv;
    x->ctl = -1;
    x->next_token = 1;
    build_env(vm);
    sc_vmexec_set_exempt_ports(srv, vm, vm->config.loopback_exempt_ports,
                               vm->config.nloopback_exempt_ports);
}

int sc_vmexec_set_exempt_ports(sc_server_t *srv, sc_vm_t *vm, const uint16_t *ports, size_t n)
{
    sc_vmexec_t *x = &vm->exec;
    uint16_t *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy)
        return -1;
    if (n)
        memcpy(copy, ports, n * sizeof *copy);
    free(x->exempt_ports);
    x->exempt_ports = copy;
    x->nexempt = n;
    return sc_portfwd_sync(srv, vm, copy, n);
}

/*
 * Starts the VM's supervisor (on the first Execute): its cgroup, the clone into new
 * namespaces, the id maps of its user namespace. Blocks until it is ready (a few ms).
 */
int sc_vmexec_start(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->running)
        return 0;
    if (!srv->host || !vm->has_fs)
        return start_fail(err, errlen, "this sidecar has no VM filesystems, so no processes");
    if (!srv->host->privileged)
        return start_fail(err, errlen,
                          "guest processes need the sidecar to run as root (it maps each VM's "
                          "user namespace to a reserved id range)");
    char why[256];
    /* the supervisor lives in the cgroup too: maxProcesses counts guests only */
    sc_resource_limits_t lim = vm->config.resources;
    if (lim.max_processes)
        lim.max_processes++;
    x->cgroup = sc_cgroup_create(vm->id, &lim, why, sizeof why);
    if (!x->cgroup)
        sc_warn("%s: no cgroup (%s); process and memory limits fall back to rlimits", vm->id, why);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        int e = errno;
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "cannot create the VM's control socket: %s", strerror(e));
    }
    sv_config_t cfg = {vm->fs.root_dir, &vm->config.resources, sv[1]};
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    /* Safe: new namespaces for the child only; the sidecar itself stays where it is. */
    ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    ca.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "cannot start the VM's supervisor: %s", strerror(e));
    }
    if (pid == 0) {
        close(sv[0]);
        sv_main(&cfg);
    }
    close(sv[1]);
    x->ctl = sv[0];
    x->sup_pid = pid;
    snprintf(x->proc_root, sizeof x->proc_root, "/proc/%d/root/proc", (int)pid);
    if (x->cgroup && sc_cgroup_add_pid(x->cgroup, pid, why, sizeof why) != 0)
        sc_warn("%s: cannot put the supervisor in its cgroup: %s", vm->id, why);

    sv_msg_t m;
    memset(&m, 0, sizeof m);
    if (ctl_recv(x, &m, STARTUP_TIMEOUT_MS) != 0 || m.type != SV_READY) {
        int e = errno;
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "the VM's supervisor failed to start: %s",
                          m.type == SV_FATAL ? m.text : strerror(e));
    }
    /*
     * Safe: the supervisor's user namespace gets exactly the reserved range; guest uid 1000
     * is host uid id_base+1000, nobody on the host.
     */
    if (write_map(pid, "uid_map", srv->host->id_base, srv->host->id_count) != 0 ||
        write_map(pid, "gid_map", srv->host->id_base, srv->host->id_count) != 0) {
        int e = errno;
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "cannot map the VM's ids: %s", strerror(e));
    }
    memset(&m, 0, sizeof m);
    m.type = SV_MAPPED;
    if (ctl_send(x, &m, NULL, 0) != 0 || ctl_recv(x, &m, STARTUP_TIMEOUT_MS) != 0 ||
        m.type != SV_RUNNING) {
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "the VM's supervisor failed to start: %s",
                          m.type == SV_FATAL ? m.text : "no answer");
    }
    x->wctl = sc_loop_watch(srv->loop, x->ctl, EPOLLIN, on_ctl, vm);
    if (!x->wctl) {
        sc_vmexec_stop(srv, vm, false);
        return start_fail(err, errlen, "cannot watch the VM's supervisor");
    }
    x->running = true;
    sc_info("%s: supervisor started (host pid %d)", vm->id, (int)pid);
    sc_portfwd_sync(srv, vm, x->exempt_ports, x->nexempt);
    return 0;
}

/* Waits for the supervisor (our child) to end, killing it after a grace. */
static void reap_supervisor(sc_vmexec_t *x)
{
    if (x->sup_pid <= 0)
        return;
    uint64_t deadline = sc_now_ms() + KILL_GRACE_MS;
    for (;;) {
        int status;
        pid_t r = waitpid(x->sup_pid, &status, WNOHANG);
        if (r == x->sup_pid || (r < 0 && errno == ECHILD))
            break;
        if (sc_now_ms() >= deadline) {
            kill(x->sup_pid, SIGKILL);
            waitpid(x->sup_pid, &status, 0);
            break;
        }
        poll(NULL, 0, 5);
    }
    x->sup_pid = 0;
}

/*
 * Ends every process of the VM: SIGTERM, a grace for exits (with their output), SIGKILL, and
 * then the supervisor, whose end takes anything left with it. Exit events are emitted only
 * when emit is set (DisposeVm, not EOF).
 */
void sc_vmexec_stop(sc_server_t *srv, sc_vm_t *vm, bool emit)
{
    sc_vmexec_t *x = &vm->exec;
    sv_msg_t m;
    /* processes already gone, their output draining: done now */
    for (sc_gproc_t *p = x->procs, *next; p; p = next) {
        next = p->next;
        if (!p->exit_pending)
            continue;
        if (emit) {
            finish_exit(srv, vm, p);
        } else {
            sc_gproc_t **pp = &x->procs;
            while (*pp != p)
                pp = &(*pp)->next;
            *pp = p->next;
            free_proc(srv, p);
        }
    }
    if (x->running && x->procs) {
        memset(&m, 0, sizeof m);
        m.type = SV_KILL_ALL;
        m.arg = SIGTERM;
        ctl_send(x, &m, NULL, 0);
        uint64_t deadline = sc_now_ms() + TERM_GRACE_MS;
        bool killed = false;
        while (x->procs) {
            uint64_t now = sc_now_ms();
            if (now >= deadline) {
                if (killed)
                    break;
                m.arg = SIGKILL;
                ctl_send(x, &m, NULL, 0);
                killed = true;
                deadline = now + KILL_GRACE_MS;
            }
            sv_msg_t in;
            if (ctl_recv(x, &in, (int)(deadline - now)) == 0) {
                if (in.type == SV_EXITED) {
                    if (emit)
                        process_exited(srv, vm, in.pid, in.arg, in.cpu_ms, true);
                    else {
                        sc_gproc_t **pp = &x->procs;
                        while (*pp && (*pp)->pid != in.pid)
                            pp = &(*pp)->next;
                        if (*pp) {
                            sc_gproc_t *p = *pp;
                            *pp = p->next;
                            free_proc(srv, p);
                        }
                    }
                }
            } else if (errno == EPIPE) {
                break;
            }
        }
    }
    sc_portfwd_stop(srv, vm);
    if (x->wctl) {
        sc_loop_unwatch(srv->loop, x->wctl);
        x->wctl = NULL;
    }
    if (x->ctl >= 0) {
        close(x->ctl); /* the supervisor kills whatever is left and exits */
        x->ctl = -1;
    }
    reap_supervisor(x);
    while (x->procs) {
        sc_gproc_t *p = x->procs;
        x->procs = p->next;
        if (emit) {
            p->exit_code = 128 + SIGKILL;
            emit_exit(srv, vm, p);
        }
        free_proc(srv, p);
    }
    while (x->exited) {
        sc_gproc_t *p = x->exited;
        x->exited = p->next;
        free_proc(srv, p);
    }
    if (x->cgroup) {
        sc_cgroup_destroy(x->cgroup);
        x->cgroup = NULL;
    }
    x->running = false;
}

void sc_vmexec_fini(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    sc_vmexec_stop(srv, vm, false);
    for (size_t i = 0; i < x->nenv; i++)
        free(x->env[i]);
    free(x->env);
    x->env = NULL;
    x->nenv = 0;
    free(x->exempt_ports);
    x->exempt_ports = NULL;
    x->nexempt = 0;
    sc_vmexec_set_tiers(vm, NULL, NULL, 0);
}

static void supervisor_gone(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    if (!x->running)
        return;
    sc_error("%s: the VM's supervisor died; its processes are gone", vm->id);
    sc_vmexec_stop(srv, vm, true);
    sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_FAILED);
}

void sc_vmexec_child_exited(sc_server_t *srv, pid_t pid)
{
    for (sc_vm_t *vm = srv->vms; vm; vm = vm->next) {
        if (vm->exec.sup_pid == pid) {
            vm->exec.sup_pid = 0; /* already reaped */
            supervisor_gone(srv, vm);
            return;
        }
    }
}

void sc_vmexec_throttle(sc_server_t *srv, bool paused)
{
    for (sc_vm_t *vm = srv->vms; vm; vm = vm->next)
        for (sc_gproc_t *p = vm->exec.procs; p; p = p->next)
            for (int c = 0; c < 2; c++)
                if (p->wout[c])
                    sc_loop_modify(srv->loop, p->wout[c], paused ? 0 : EPOLLIN);
}

/* ---- starting a process ---- */

static void on_wall_time(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_gproc_t *p = ud;
    sc_vmexec_t *x = &p->vm->exec;
    (void)loop;
    (void)t;
    p->wall_timer = NULL;
    p->timed_out = true;
    sc_info("%s: process %s reached its wall-time limit; killing it", p->vm->id, p->id);
    /* the whole session: a guest's children die with it */
    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SV_KILL;
    m.pid = -p->pid;
    m.arg = SIGKILL;
    ctl_send(x, &m, NULL, 0);
}

static void on_stdin_writable(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud);

static int set_pipe(int fd, bool nonblock)
{
    if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return -1;
    fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE); /* a hint: the default 64 KiB also works */
    return 0;
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/*
 * Waits for the supervisor's answer to spawn token; exits of other processes that arrive
 * meanwhile are handled in order. Returns 0 with the answer in *out, or -1 (errno).
 */
static int await_spawn(sc_server_t *srv, sc_vm_t *vm, uint32_t token, sv_msg_t *out)
{
    sc_vmexec_t *x = &vm->exec;
    uint64_t deadline = sc_now_ms() + SPAWN_TIMEOUT_MS;
    for (;;) {
        uint64_t now = sc_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (ctl_recv(x, out, (int)(deadline - now)) != 0)
            return -1;
        if ((out->type == SV_SPAWNED || out->type == SV_SPAWN_FAILED) && out->token == token)
            return 0;
        handle_msg(srv, vm, out);
    }
}

int sc_vmexec_spawn(sc_server_t *srv, sc_vm_t *vm, const sc_spawn_req_t *r, pid_t *pid_out,
                    char *code, size_t codelen, char *msg, size_t msglen)
{
    sc_vmexec_t *x = &vm->exec;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, memfd = -1;
    sc_gproc_t *p = NULL;
    snprintf(code, codelen, "kernel_error");
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(msg, msglen, "%s: cannot create the process's pipes: %s",
                 errno == EMFILE || errno == ENFILE ? "EMFILE" : "EIO", strerror(errno));
        goto fail;
    }
    memfd = sv_spec_create(&r->spawn);
    if (memfd < 0) {
        if (errno == E2BIG)
            snprintf(msg, msglen, "E2BIG: the arguments and environment exceed %llu bytes",
                     (unsigned long long)SV_SPEC_MAX);
        else
            snprintf(msg, msglen, "EIO: cannot pass the spawn request on: %s", strerror(errno));
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (!p || !(p->id = strdup(r->id)) || !(p->command = strdup(r->command)) ||
        !(p->cwd = strdup(r->spawn.cwd))) {
        snprintf(msg, msglen, "ENOMEM: out of memory");
        goto fail;
    }
    p->srv = srv;
    p->vm = vm;
    p->stdin_fd = p->out_fd[0] = p->out_fd[1] = -1;

    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SV_SPAWN;
    m.token = x->next_token++;
    int fds[4] = {memfd, in[0], out[1], errp[1]};
    if (ctl_send(x, &m, fds, 4) != 0) {
        snprintf(msg, msglen, "EIO: the VM's supervisor is gone");
        goto fail;
    }
    /* the child's ends now live in the supervisor (and the guest) only */
    close_fds(&memfd, 1);
    close_fds(&in[0], 1);
    close_fds(&out[1], 1);
    close_fds(&errp[1], 1);
    sv_msg_t a;
    if (await_spawn(srv, vm, m.token, &a) != 0) {
        snprintf(msg, msglen, "EIO: the VM's supervisor did not answer: %s", strerror(errno));
        goto fail;
    }
    if (a.type == SV_SPAWN_FAILED) {
        /* a.text says which step failed: "chdir /path", "exec file", "sandbox: ...", ... */
        const char *name = r->spawn.file;
        if (strcmp(a.text, "fork") == 0 && a.arg == EAGAIN) {
            snprintf(msg, msglen, "EAGAIN: maximum process limit reached");
        } else if (strncmp(a.text, "chdir ", 6) == 0) {
            snprintf(msg, msglen, "%s: %s, chdir '%s'", sc_errno_name(a.arg), sc_errno_text(a.arg),
                     a.text + 6);
        } else if (strncmp(a.text, "exec ", 5) != 0) {
            snprintf(code, codelen, "execution_error");
            snprintf(msg, msglen, "%s: cannot start '%s': %s", sc_errno_name(a.arg), name, a.text);
        } else if (a.arg == ENOENT || a.arg == ENOTDIR) {
            snprintf(code, codelen, "invalid_state");
            snprintf(msg, msglen, "command not found on native sidecar path: %s", r->command);
        } else if (a.arg == EACCES) {
            snprintf(msg, msglen, "EACCES: permission denied, spawn '%s'", name);
        } else if (a.arg == EAGAIN) {
            snprintf(msg, msglen, "EAGAIN: maximum process limit reached");
        } else {
            snprintf(msg, msglen, "%s: %s, spawn '%s'", sc_errno_name(a.arg), sc_errno_text(a.arg),
                     name);
        }
        goto fail;
    }

    p->pid = a.pid;
    p->stdin_fd = in[1];
    p->out_fd[0] = out[0];
    p->out_fd[1] = errp[0];
    in[1] = out[0] = errp[0] = -1;
    set_pipe(p->stdin_fd, true);
    set_pipe(p->out_fd[0], true);
    set_pipe(p->out_fd[1], true);
    for (int c = 0; c < 2; c++)
        p->wout[c] =
            sc_loop_watch(srv->loop, p->out_fd[c], srv->in_paused ? 0 : EPOLLIN, on_output, p);
    p->win = sc_loop_watch(srv->loop, p->stdin_fd, 0, on_stdin_writable, p);
    if (!p->wout[0] || !p->wout[1] || !p->win)
        sc_warn("%s: cannot watch the pipes of %s: %s", vm->id, p->id, strerror(errno));
    uint64_t wall = vm->config.resources.max_wall_time_ms;
    if (wall)
        p->wall_timer = sc_loop_timer(srv->loop, wall, on_wall_time, p);
    p->next = x->procs;
    x->procs = p;
    *pid_out = p->pid;
    sc_info("%s: started %s as pid %d (%s)", vm->id, p->id, (int)p->pid, p->command);
    return 0;

fail:
    close_fds(in, 2);
    close_fds(out, 2);
    close_fds(errp, 2);
    close_fds(&memfd, 1);
    if (p) {
        free(p->id);
        free(p->command);
        free(p->cwd);
        free(p);
    }
    return -1;
}

sc_gproc_t *sc_vmexec_find(sc_vm_t *vm, bare_str_t id)
{
    return find_live(&vm->exec, id);
}

/* ---- stdin ---- */

/* Writes what is buffered; closes the pipe once drained if a close is pending. */
static void flush_stdin(sc_server_t *srv, sc_gproc_t *p)
{
    while (p->inoff < p->inlen) {
        ssize_t n = write(p->stdin_fd, p->inbuf + p->inoff, p->inlen - p->inoff);
        if (n > 0) {
            p->inoff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (p->win)
                sc_loop_modify(srv->loop, p->win, EPOLLOUT);
            return;
        }
        /* EPIPE: the guest closed its stdin; what is left is dropped, as a pipe would */
        p->inoff = p->inlen;
    }
    p->inoff = p->inlen = 0;
    if (p->win)
        sc_loop_modify(srv->loop, p->win, 0);
    if (p->stdin_close_pending)
        close_stdin_now(srv, p);
}

static void on_stdin_writable(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_gproc_t *p = ud;
    (void)loop;
    (void)w;
    (void)events;
    flush_stdin(p->srv, p);
}

int sc_vmexec_write_stdin(sc_server_t *srv, sc_gproc_t *p, const uint8_t *data, size_t n, char *msg,
                          size_t msglen)
{
    if (p->stdin_closed || p->stdin_close_pending) {
        snprintf(msg, msglen, "guest stdin is already closed");
        return -1;
    }
    size_t pending = p->inlen - p->inoff;
    if (n > STDIN_CAP - pending) {
        snprintf(msg, msglen, "failed to write guest stdin: guest stdin buffer exceeded %u bytes",
                 STDIN_CAP);
        return -1;
    }
    if (pending == 0) {
        p->inoff = p->inlen = 0;
        /* the common case: straight into the pipe, no copy */
        while (n > 0) {
            ssize_t k = write(p->stdin_fd, data, n);
            if (k > 0) {
                data += k;
                n -= (size_t)k;
                continue;
            }
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && errno == EAGAIN)
                break;
            return 0; /* EPIPE: the guest is not reading any more; accepted and dropped */
        }
        if (n == 0)
            return 0;
    }
    if (p->inoff > 0 && p->inlen + n > p->incap) {
        memmove(p->inbuf, p->inbuf + p->inoff, p->inlen - p->inoff);
        p->inlen -= p->inoff;
        p->inoff = 0;
    }
    if (p->inlen + n > p->incap) {
        size_t cap = p->incap ? p->incap : 65536;
        while (cap < p->inlen + n)
            cap *= 2;
        uint8_t *b = realloc(p->inbuf, cap);
        if (!b) {
            snprintf(msg, msglen, "failed to write guest stdin: out of memory");
            return -1;
        }
        p->inbuf = b;
        p->incap = cap;
    }
    memcpy(p->inbuf + p->inlen, data, n);
    p->inlen += n;
    if (p->win)
        sc_loop_modify(srv->loop, p->win, EPOLLOUT);
    return 0;
}

void sc_vmexec_close_stdin(sc_server_t *srv, sc_gproc_t *p)
{
    if (p->stdin_closed)
        return;
    if (p->inlen > p->inoff)
        p->stdin_close_pending = true; /* after the buffered bytes */
    else
        close_stdin_now(srv, p);
}

/* ---- signals ---- */

int sc_vmexec_kill(sc_vm_t *vm, sc_gproc_t *p, int sig)
{
    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SV_KILL;
    m.pid = p->pid;
    m.arg = sig;
    return ctl_send(&vm->exec, &m, NULL, 0);
}

/* ---- ConfigureVm.commandPermissions ---- */

int sc_vmexec_set_tiers(sc_vm_t *vm, char **names, int *tiers, size_t n)
{
    sc_vmexec_t *x = &vm->exec;
    for (size_t i = 0; i < x->ntiers; i++)
        free(x->tier_names[i]);
    free(x->tier_names);
    free(x->tiers);
    x->tier_names = names;
    x->tiers = tiers;
    x->ntiers = n;
    return 0;
}

int sc_vmexec_tier_for(const sc_vm_t *vm, const char *name)
{
    const sc_vmexec_t *x = &vm->exec;
    for (size_t i = 0; i < x->ntiers; i++)
        if (strcmp(x->tier_names[i], name) == 0)
            return x->tiers[i];
    return -1;
}
