/*
 * vmexec.c - guest execution, the sidecar's side: each VM's supervisor (started with clone3,
 * its user namespace mapped to the reserved id range), ExecuteRequest (answered when the
 * supervisor has started the process), output and exit events in order, stdin, signals, time
 * limits over a process's whole tree (its cgroup), and teardown with no process left behind.
 *
 * Nothing here waits for a VM: the supervisor's start, every spawn, the grace periods of a
 * stop and the removal of cgroups are messages and timers on the event loop, so a VM whose
 * guests ignore SIGTERM, or whose supervisor is slow because its guests use its CPU quota,
 * delays only itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "callbacks.h"
#include "fdio.h"
#include "log.h"
#include "mounts.h"
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
#define REAP_GRACE_MS 2000
#define CGROUP_RETRY_MS 10
#define CGROUP_RETRIES 200
#define CPU_POLL_MIN_MS 20
#define CPU_POLL_MAX_MS 250
#define HOLD_MAX ((size_t)4 << 20) /* output held while a VM is disposed (its response first) */

enum { STOP_PROCS = 1, STOP_SUPERVISOR, STOP_CGROUP };

/* ---- control socket ---- */

static int ctl_send(sc_vmexec_t *x, const sv_msg_t *m, const int *fds, int nfds)
{
    struct iovec iov = {(void *)m, sizeof *m};
    struct msghdr mh;
    char cbuf[CMSG_SPACE(SV_MAX_FDS * sizeof(int))];
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

/* ---- events ---- */

static void emit_output(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p, int channel,
                        const uint8_t *data, size_t n)
{
    sx_event_payload_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tag = SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT;
    ev.u.process_output_event.process_id = bare_str_from_cstr(p->id);
    ev.u.process_output_event.channel =
        channel == 0 ? SX_STREAM_CHANNEL_STDOUT : SX_STREAM_CHANNEL_STDERR;
    ev.u.process_output_event.chunk = (bare_bytes_t){data, n};
    sc_vm_event(srv, vm, &ev);
}

static void emit_exit(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p)
{
    sx_event_payload_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tag = SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT;
    ev.u.process_exited_event.process_id = bare_str_from_cstr(p->id);
    ev.u.process_exited_event.exit_code = p->exit_code;
    sc_vm_event(srv, vm, &ev);
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
    /* A VM being disposed keeps its events until the end: bounded, its guests are dying. */
    if (p->vm->holding && sc_outq_pending(&p->vm->held) > HOLD_MAX) {
        sc_loop_modify(srv->loop, w, 0);
        return;
    }
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

static sc_gproc_t *find_token(sc_vmexec_t *x, uint32_t token)
{
    for (sc_gproc_t *p = x->procs; p; p = p->next)
        if (p->starting && p->token == token)
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

static void cancel(sc_server_t *srv, sc_timer_t **t)
{
    if (*t) {
        sc_loop_cancel(srv->loop, *t);
        *t = NULL;
    }
}

static void close_sendfds(sc_gproc_t *p)
{
    for (int i = 0; i < p->nsendfds; i++)
        if (p->sendfds[i] >= 0)
            close(p->sendfds[i]);
    p->nsendfds = 0;
}

/*
 * Ends a process's tree: the supervisor kills every task of its cgroup (whatever session or
 * group it moved to), or, without cgroups, its process group (it is a session leader; what
 * left the group escapes).
 */
static void kill_tree(sc_vmexec_t *x, sc_gproc_t *p)
{
    if (p->pid <= 0 || x->ctl < 0)
        return;
    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SV_KILL_TREE;
    m.token = p->token;
    m.pid = p->pid;
    ctl_send(x, &m, NULL, 0);
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
    close_sendfds(p);
    cancel(srv, &p->wall_timer);
    cancel(srv, &p->drain_timer);
    cancel(srv, &p->spawn_timer);
    cancel(srv, &p->cpu_timer);
    if (p->reply) /* never silently: a request always gets its answer */
        sc_deferred_reject(srv, p->reply, "execution_error", "cannot start %s: the VM was stopped",
                           p->id);
    free(p->id);
    free(p->command);
    free(p->file);
    free(p->cwd);
    for (size_t i = 0; i < p->nchildren; i++)
        free(p->children[i].id);
    free(p->children);
    free(p);
}

static void unlink_proc(sc_gproc_t **list, sc_gproc_t *p)
{
    for (sc_gproc_t **pp = list; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
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
static void finish_exit(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p, bool emit)
{
    sc_vmexec_t *x = &vm->exec;
    unlink_proc(&x->procs, p);
    /* whatever is still in the pipes now (bounded by their size) goes first */
    for (int c = 0; c < 2; c++)
        while (emit && pump_output(srv, vm, p, c) > 0)
            ;
    for (int c = 0; c < 2; c++) {
        if (p->wout[c])
            sc_loop_unwatch(srv->loop, p->wout[c]);
        p->wout[c] = NULL;
        if (p->out_fd[c] >= 0)
            close(p->out_fd[c]);
        p->out_fd[c] = -1;
    }
    cancel(srv, &p->drain_timer);
    if (emit)
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
    /* a descendant that escaped every kill holds the pipes: the process's own output is in */
    finish_exit(p->srv, p->vm, p, true);
}

static void stop_progress(sc_server_t *srv, sc_vm_t *vm);

/*
 * A top-level process ended: its whole tree goes with it. Its output may still sit in the
 * pipes: the exit event waits until both streams reach end of file (the tree's end closes
 * them), or DRAIN_MS at most, so every byte the process wrote comes before the event.
 */
static void process_exited(sc_server_t *srv, sc_vm_t *vm, pid_t pid, int status, uint64_t cpu_ms)
{
    sc_vmexec_t *x = &vm->exec;
    sc_gproc_t *p = x->procs;
    while (p && (p->starting || p->pid != pid || p->exit_pending))
        p = p->next;
    if (!p)
        return;
    p->exit_code = exit_code_of(vm, p, status, cpu_ms);
    p->exit_pending = true; /* its tree is gone with it: the supervisor ended its cgroup */
    close_stdin_now(srv, p);
    cancel(srv, &p->wall_timer);
    cancel(srv, &p->cpu_timer);
    if (x->state == SC_SUP_STOPPING && !x->stop_emit)
        finish_exit(srv, vm, p, false);
    else if (p->out_fd[0] < 0 && p->out_fd[1] < 0)
        finish_exit(srv, vm, p, true);
    else
        p->drain_timer = sc_loop_timer(srv->loop, DRAIN_MS, on_drain_deadline, p);
    if (x->state == SC_SUP_STOPPING)
        stop_progress(srv, vm);
}

/* Called when a stream of p ended: the exit event may be due. */
static void maybe_finish(sc_server_t *srv, sc_gproc_t *p)
{
    if (p->exit_pending && p->out_fd[0] < 0 && p->out_fd[1] < 0) {
        sc_vm_t *vm = p->vm;
        finish_exit(srv, vm, p, true);
        if (vm->exec.state == SC_SUP_STOPPING)
            stop_progress(srv, vm);
    }
}

/* ---- time limits ---- */

static void on_wall_time(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_gproc_t *p = ud;
    (void)loop;
    (void)t;
    p->wall_timer = NULL;
    p->timed_out = true;
    sc_info("%s: process %s reached its wall-time limit; killing its tree", p->vm->id, p->id);
    kill_tree(&p->vm->exec, p);
}

/*
 * maxCpuTimeMs counts the CPU time of the process and all its descendants (its cgroup), which
 * RLIMIT_CPU, per process, cannot: a tree of short-lived children would never hit it. The
 * check runs again when the remaining time could be used up at the VM's CPU quota.
 */
static void on_cpu_check(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_gproc_t *p = ud;
    (void)t;
    p->cpu_timer = NULL;
    const sc_resource_limits_t *lim = &p->vm->config.resources;
    uint64_t used = 0;
    if (sc_cgroup_proc_cpu_ms(p->vm->exec.cgroup, p->token, &used) != 0)
        return; /* the kernel does not say: RLIMIT_CPU per process is what is left */
    if (used >= lim->max_cpu_time_ms) {
        p->timed_out = true;
        sc_info("%s: process %s used %llu ms of CPU (limit %llu); killing its tree", p->vm->id,
                p->id, (unsigned long long)used, (unsigned long long)lim->max_cpu_time_ms);
        kill_tree(&p->vm->exec, p);
        return;
    }
    uint64_t cpus = lim->cpu_count ? lim->cpu_count : 1;
    uint64_t wait = (lim->max_cpu_time_ms - used) / cpus;
    wait = wait < CPU_POLL_MIN_MS   ? CPU_POLL_MIN_MS
           : wait > CPU_POLL_MAX_MS ? CPU_POLL_MAX_MS
                                    : wait;
    p->cpu_timer = sc_loop_timer(loop, wait, on_cpu_check, p);
}

/* ---- the supervisor's messages ---- */

static void spawn_answered(sc_server_t *srv, sc_vm_t *vm, const sv_msg_t *m);
static void clone_supervisor(sc_server_t *srv, sc_vm_t *vm);
static void cg_make_work(sc_job_t *job);
static void cg_job_done(sc_job_t *job);
static void send_spawns(sc_server_t *srv, sc_vm_t *vm);
static void start_failed(sc_server_t *srv, sc_vm_t *vm, const char *why);
static void supervisor_gone(sc_server_t *srv, sc_vm_t *vm);

static int write_map(pid_t pid, const char *file, uint32_t base, uint32_t count)
{
    char path[64], map[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    snprintf(map, sizeof map, "0 %u %u", base, count);
    return sc_write_text(path, map);
}

static void handle_msg(sc_server_t *srv, sc_vm_t *vm, const sv_msg_t *m)
{
    sc_vmexec_t *x = &vm->exec;
    switch (m->type) {
    case SV_READY: {
        if (x->state != SC_SUP_STARTING)
            break;
        /*
         * Safe: the supervisor's user namespace gets exactly the reserved range; guest uid
         * 1000 is host uid id_base+1000, nobody on the host.
         */
        sv_msg_t a;
        memset(&a, 0, sizeof a);
        a.type = SV_MAPPED;
        if (write_map(x->sup_pid, "uid_map", srv->host->id_base, srv->host->id_count) != 0 ||
            write_map(x->sup_pid, "gid_map", srv->host->id_base, srv->host->id_count) != 0) {
            char why[128];
            snprintf(why, sizeof why, "cannot map the VM's ids: %s", strerror(errno));
            start_failed(srv, vm, why);
        } else if (ctl_send(x, &a, NULL, 0) != 0) {
            start_failed(srv, vm, "the VM's supervisor is gone");
        }
        break;
    }
    case SV_RUNNING: {
        if (x->state != SC_SUP_STARTING)
            break;
        /* the VM's mounts in the guests' view, before the first guest */
        char why[512];
        if (sc_mounts_supervisor_running(srv, vm, why, sizeof why) != 0) {
            start_failed(srv, vm, why);
            break;
        }
        cancel(srv, &x->start_timer);
        x->state = SC_SUP_RUNNING;
        sc_info("%s: supervisor started (host pid %d)", vm->id, (int)x->sup_pid);
        send_spawns(srv, vm);
        sc_portfwd_sync(srv, vm, x->exempt_ports, x->nexempt);
        break;
    }
    case SV_SPAWNED:
    case SV_SPAWN_FAILED:
        spawn_answered(srv, vm, m);
        break;
    case SV_EXITED:
        process_exited(srv, vm, m->pid, m->arg, m->cpu_ms);
        break;
    case SV_FATAL:
        sc_error("%s: supervisor: %s", vm->id, m->text);
        if (x->state == SC_SUP_STARTING)
            start_failed(srv, vm, m->text);
        break;
    default:
        break;
    }
}

static void on_ctl(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_vm_t *vm = ud;
    sc_server_t *srv = vm->exec.srv;
    (void)loop;
    (void)w;
    (void)events;
    /* a bounded batch per wakeup: one VM's supervisor cannot hold the loop */
    for (int i = 0; i < 64 && vm->exec.ctl >= 0 && vm->exec.wctl; i++) {
        sv_msg_t m;
        ssize_t n = recv(vm->exec.ctl, &m, sizeof m, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof m) {
            handle_msg(srv, vm, &m);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0 || n == 0)
            supervisor_gone(srv, vm);
        break;
    }
    sc_server_update_watches(srv);
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

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* ---- starting the supervisor ---- */

static void on_start_timeout(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_vm_t *vm = ud;
    (void)loop;
    (void)t;
    vm->exec.start_timer = NULL;
    start_failed(vm->exec.srv, vm, "no answer within 15 s");
}

/*
 * Starts the VM's supervisor (on the first Execute): its cgroups are planned here and made on
 * the worker thread (cg_job_done), then it is cloned into new namespaces (clone_supervisor);
 * the rest (its id maps once it is ready, the spawns waiting for it) happens as its messages
 * arrive. Returns 0, or -1 with a message.
 */
int sc_vmexec_start(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state == SC_SUP_STARTING || x->state == SC_SUP_RUNNING)
        return 0;
    if (x->state == SC_SUP_STOPPING) {
        snprintf(err, errlen, "the VM's processes are being stopped; try again shortly");
        return -1;
    }
    if (!srv->host || !vm->has_fs) {
        snprintf(err, errlen, "this sidecar has no VM filesystems, so no processes");
        return -1;
    }
    if (!srv->host->privileged) {
        snprintf(err, errlen,
                 "guest processes need the sidecar to run as root (it maps each "
                 "VM's user namespace to a reserved id range)");
        return -1;
    }
    x->state = SC_SUP_STARTING;
    x->start_timer = sc_loop_timer(srv->loop, STARTUP_TIMEOUT_MS, on_start_timeout, vm);
    /* the supervisor lives in the cgroup too: maxProcesses counts guests only */
    sc_resource_limits_t lim = vm->config.resources;
    if (lim.max_processes)
        lim.max_processes++;
    char why[256];
    x->cgroup =
        sc_cgroup_plan(vm->id, &lim, srv->host->id_base, srv->host->id_base, why, sizeof why);
    if (!x->cgroup) {
        sc_warn("%s: no cgroup (%s); process and memory limits fall back to rlimits", vm->id, why);
        clone_supervisor(srv, vm);
        return 0;
    }
    x->cg_busy = true;
    x->cg_job.work = cg_make_work;
    x->cg_job.done = cg_job_done;
    sc_offload(&x->cg_job);
    return 0;
}

/* Clones the supervisor, in the VM's cgroups when they were made; on failure, the spawns that
 * wait for it are refused (start_failed). */
static void clone_supervisor(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    char why[256];
    /* /dev/shm lives in the VM's own tmpfs, so it counts against maxFilesystemBytes */
    if (mkdirat(vm->fs.dir_fd, "shm", 01777) == 0) {
        /* Safe: a directory the sidecar just made in the VM's private tmpfs. */
        fchmodat(vm->fs.dir_fd, "shm", 01777, 0);
        sc_owner_set(srv->host, vm->fs.dir_fd, "shm", 0, 0);
    }
    char shm_dir[SC_PATH_MAX];
    snprintf(shm_dir, sizeof shm_dir, "%s/shm", vm->fs.dir);
    /* the supervisor joins its cgroups itself (a migration can take the kernel milliseconds),
     * and makes those of its processes below them */
    int cgfds[SC_CGROUP_MAX_FDS];
    size_t ncg = 0;
    sc_cgroup_fds_t tree;
    memset(&tree, 0, sizeof tree);
    if (x->cgroup && (sc_cgroup_open_procs(x->cgroup, cgfds, &ncg, why, sizeof why) != 0 ||
                      sc_cgroup_open_tree(x->cgroup, &tree, why, sizeof why) != 0)) {
        close_fds(cgfds, ncg);
        start_failed(srv, vm, why);
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(why, sizeof why, "cannot create the VM's control socket: %s", strerror(errno));
        close_fds(cgfds, ncg);
        sc_cgroup_fds_close(&tree);
        start_failed(srv, vm, why);
        return;
    }
    sv_config_t cfg = {.root_dir = vm->fs.root_dir,
                       .shm_dir = shm_dir,
                       .limits = &vm->config.resources,
                       .ctl_fd = sv[1],
                       .cg_fds = cgfds,
                       .ncg = (int)ncg,
                       .cg_tree = &tree};
    sc_cb_view_prepare(srv, vm, &cfg.cb_bin_dir, &cfg.cb_program, &cfg.cb_socket);
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    /* Safe: new namespaces for the child only; the sidecar itself stays where it is. */
    ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    ca.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0) {
        close(sv[0]);
        sv_main(&cfg);
    }
    int e = errno;
    close(sv[1]);
    close_fds(cgfds, ncg);
    sc_cgroup_fds_close(&tree);
    if (pid < 0) {
        close(sv[0]);
        snprintf(why, sizeof why, "cannot start the VM's supervisor: %s", strerror(e));
        start_failed(srv, vm, why);
        return;
    }
    x->ctl = sv[0];
    x->sup_pid = pid;
    snprintf(x->proc_root, sizeof x->proc_root, "/proc/%d/root/proc", (int)pid);
    x->wctl = sc_loop_watch(srv->loop, x->ctl, EPOLLIN, on_ctl, vm);
    if (!x->wctl)
        start_failed(srv, vm, "cannot watch the VM's supervisor");
}

/* ---- the VM's cgroups, made and unmade on the worker thread ---- */

static sc_vm_t *vm_of_job(sc_job_t *job)
{
    sc_vmexec_t *x = (sc_vmexec_t *)((char *)job - offsetof(sc_vmexec_t, cg_job));
    return (sc_vm_t *)((char *)x - offsetof(sc_vm_t, exec));
}

static void cg_make_work(sc_job_t *job)
{
    sc_vmexec_t *x = &vm_of_job(job)->exec;
    x->cg_rc = sc_cgroup_make(x->cgroup);
}

static void cg_unmake_work(sc_job_t *job)
{
    sc_vmexec_t *x = &vm_of_job(job)->exec;
    x->cg_rc = sc_cgroup_unmake(x->cgroup);
    x->cg_errno = errno;
}

static void on_stop_timer(sc_loop_t *loop, sc_timer_t *t, void *ud);

static void cg_job_done(sc_job_t *job)
{
    sc_vm_t *vm = vm_of_job(job);
    sc_vmexec_t *x = &vm->exec;
    sc_server_t *srv = x->srv;
    x->cg_busy = false;
    if (job->work == cg_make_work) {
        if (x->cg_rc != 0) {
            char why[300];
            sc_warn("%s: no cgroup (%s); process and memory limits fall back to rlimits", vm->id,
                    sc_cgroup_error(x->cgroup, why, sizeof why));
            sc_cgroup_free(x->cgroup);
            x->cgroup = NULL;
        }
        if (x->state == SC_SUP_STARTING)
            clone_supervisor(srv, vm);
        else
            stop_progress(srv, vm); /* stopped meanwhile: its cgroups go */
        return;
    }
    /* unmade: gone, or tasks still leaving (retried), or left for a later sidecar's reap */
    if (x->cg_rc != 0 && x->cg_errno == EBUSY && x->stop_rounds++ < CGROUP_RETRIES) {
        x->stop_timer = sc_loop_timer(srv->loop, CGROUP_RETRY_MS, on_stop_timer, vm);
        return;
    }
    if (x->cg_rc != 0)
        sc_warn("%s: cannot remove the VM's cgroups: %s", vm->id, strerror(x->cg_errno));
    sc_cgroup_free(x->cgroup);
    x->cgroup = NULL;
    stop_progress(srv, vm);
}

/* ---- stopping ---- */

/*
 * Ends every process of the VM, then its supervisor, then its cgroups, without waiting: each
 * phase moves on when the kernel or the supervisor says so, or when its timer runs out.
 *   STOP_PROCS:      SIGTERM to every guest, TERM_GRACE_MS for their exits (with their
 *                    output), then SIGKILL to all (the cgroup), KILL_GRACE_MS more.
 *   STOP_SUPERVISOR: the control socket closes (the supervisor kills what is left and exits,
 *                    which ends its PID namespace); SIGCHLD reaps it, or SIGKILL after
 *                    REAP_GRACE_MS.
 *   STOP_CGROUP:     the VM's cgroups go once empty (retried every CGROUP_RETRY_MS).
 * Then done (if any) runs; the VM is usable again (a later Execute starts a new supervisor).
 */
static void stop_enter(sc_server_t *srv, sc_vm_t *vm, int phase);

static void on_stop_timer(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_vm_t *vm = ud;
    sc_vmexec_t *x = &vm->exec;
    (void)loop;
    (void)t;
    x->stop_timer = NULL;
    switch (x->stop_phase) {
    case STOP_PROCS:
        if (x->stop_rounds++ == 0) {
            sv_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = SV_KILL_ALL;
            m.arg = SIGKILL;
            /* every guest, whatever it did to its signals or session (kill(-1) from the VM's
             * init); the supervisor reports the exits */
            ctl_send(x, &m, NULL, 0);
            x->stop_timer = sc_loop_timer(x->srv->loop, KILL_GRACE_MS, on_stop_timer, vm);
        } else {
            stop_enter(x->srv, vm, STOP_SUPERVISOR);
        }
        break;
    case STOP_SUPERVISOR:
        if (x->sup_pid <= 0) {
            stop_progress(x->srv, vm); /* reaped: on to its cgroups, in a turn of its own */
            break;
        }
        /* Safe: our own child, which did not exit when its socket closed. */
        kill(x->sup_pid, SIGKILL);
        x->stop_timer = sc_loop_timer(x->srv->loop, REAP_GRACE_MS, on_stop_timer, vm);
        break;
    case STOP_CGROUP:
        stop_progress(x->srv, vm);
        break;
    default:
        break;
    }
}

static void stop_finish(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    cancel(srv, &x->stop_timer);
    x->state = SC_SUP_DOWN;
    x->stop_phase = 0;
    sc_mounts_supervisor_gone(vm);
    sc_vmexec_done_fn *done = x->stop_done;
    x->stop_done = NULL;
    if (done)
        done(srv, vm);
}

/* Moves the stop on when its phase's condition holds. */
static void stop_progress(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state != SC_SUP_STOPPING)
        return;
    switch (x->stop_phase) {
    case STOP_PROCS:
        /* done when every process reported its exit, or when no report can come any more */
        if (!x->procs || x->sup_pid <= 0 || x->ctl < 0)
            stop_enter(srv, vm, STOP_SUPERVISOR);
        break;
    case STOP_SUPERVISOR:
        if (x->sup_pid <= 0)
            stop_enter(srv, vm, STOP_CGROUP);
        break;
    case STOP_CGROUP:
        cancel(srv, &x->stop_timer);
        if (x->cg_busy)
            return; /* its making or unmaking ends first (cg_job_done) */
        if (!x->cgroup) {
            stop_finish(srv, vm);
            return;
        }
        /* kill what is left and remove them, on the worker: cgroupfs can be slow */
        x->cg_busy = true;
        x->cg_job.work = cg_unmake_work;
        x->cg_job.done = cg_job_done;
        sc_offload(&x->cg_job);
        break;
    default:
        break;
    }
}

static void stop_enter(sc_server_t *srv, sc_vm_t *vm, int phase)
{
    sc_vmexec_t *x = &vm->exec;
    cancel(srv, &x->stop_timer);
    x->stop_phase = phase;
    x->stop_rounds = 0;
    if (phase == STOP_SUPERVISOR) {
        sc_portfwd_stop(srv, vm);
        if (x->wctl) {
            sc_loop_unwatch(srv->loop, x->wctl);
            x->wctl = NULL;
        }
        if (x->ctl >= 0) {
            close(x->ctl); /* the supervisor kills whatever is left and exits */
            x->ctl = -1;
        }
        /* what never reported its exit was killed with the supervisor's namespace */
        while (x->procs) {
            sc_gproc_t *p = x->procs;
            x->procs = p->next;
            if (x->stop_emit && !p->starting) {
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
        if (x->sup_pid > 0)
            x->stop_timer = sc_loop_timer(srv->loop, REAP_GRACE_MS, on_stop_timer, vm);
    }
    stop_progress(srv, vm);
}

void sc_vmexec_stop(sc_server_t *srv, sc_vm_t *vm, bool emit, sc_vmexec_done_fn *done)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state == SC_SUP_STOPPING) {
        /* already on its way; a dispose takes over the completion and silences nothing */
        if (done)
            x->stop_done = done;
        x->stop_emit = x->stop_emit && emit;
        return;
    }
    bool had = x->state != SC_SUP_DOWN || x->cgroup;
    x->state = SC_SUP_STOPPING;
    x->stop_emit = emit;
    x->stop_done = done;
    cancel(srv, &x->start_timer);
    if (!x->stop_why[0])
        snprintf(x->stop_why, sizeof x->stop_why, "the VM is being disposed");
    /* spawns the supervisor has not answered: their requests are answered now */
    for (sc_gproc_t *p = x->procs, *next; p; p = next) {
        next = p->next;
        if (!p->starting)
            continue;
        unlink_proc(&x->procs, p);
        if (p->reply) {
            sc_deferred_reject(srv, p->reply, "execution_error", "cannot start %s: %s", p->id,
                               x->stop_why);
            p->reply = NULL;
        }
        free_proc(srv, p);
    }
    x->stop_why[0] = '\0';
    /* processes already gone, their output draining: done now */
    for (sc_gproc_t *p = x->procs, *next; p; p = next) {
        next = p->next;
        if (p->exit_pending)
            finish_exit(srv, vm, p, emit);
    }
    if (!had) {
        stop_finish(srv, vm);
        return;
    }
    x->stop_phase = STOP_PROCS;
    x->stop_rounds = 0;
    if (x->procs && x->ctl >= 0) {
        sv_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = SV_KILL_ALL;
        m.arg = SIGTERM;
        ctl_send(x, &m, NULL, 0);
        x->stop_timer = sc_loop_timer(srv->loop, TERM_GRACE_MS, on_stop_timer, vm);
    }
    stop_progress(srv, vm);
}

/*
 * The same, at once, for the sidecar's own exit (the loop no longer runs): SIGKILL to every
 * guest and the supervisor, which ends its PID namespace, then a bounded wait for it and for
 * the cgroups to empty. Exit events are not emitted.
 */
void sc_vmexec_stop_now(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    sc_cgroup_kill_all(x->cgroup);
    x->state = SC_SUP_STOPPING;
    x->stop_emit = false;
    x->stop_done = NULL;
    cancel(srv, &x->start_timer);
    cancel(srv, &x->stop_timer);
    stop_enter(srv, vm, STOP_SUPERVISOR);
    cancel(srv, &x->stop_timer);
    if (x->sup_pid > 0) {
        kill(x->sup_pid, SIGKILL);
        waitpid(x->sup_pid, NULL, 0);
        x->sup_pid = 0;
    }
    sc_cgroup_destroy(x->cgroup);
    x->cgroup = NULL;
    x->state = SC_SUP_DOWN;
    sc_mounts_supervisor_gone(vm);
}

void sc_vmexec_fini(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state != SC_SUP_DOWN || x->cgroup)
        sc_vmexec_stop_now(srv, vm);
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

static void failed_done(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vm_lifecycle(srv, vm, SX_VM_LIFECYCLE_STATE_FAILED);
}

/* The supervisor could not set the VM up: the spawns waiting for it are refused with why. */
static void start_failed(sc_server_t *srv, sc_vm_t *vm, const char *why)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state != SC_SUP_STARTING)
        return;
    snprintf(x->stop_why, sizeof x->stop_why, "the VM's supervisor failed to start: %s", why);
    sc_warn("%s: %s", vm->id, x->stop_why);
    sc_vmexec_stop(srv, vm, false, NULL);
}

static void supervisor_gone(sc_server_t *srv, sc_vm_t *vm)
{
    sc_vmexec_t *x = &vm->exec;
    if (x->state == SC_SUP_STOPPING) {
        /* its socket closed while stopping: no exit report will come any more */
        if (x->wctl) {
            sc_loop_unwatch(srv->loop, x->wctl);
            x->wctl = NULL;
        }
        if (x->ctl >= 0) {
            close(x->ctl);
            x->ctl = -1;
        }
        stop_progress(srv, vm);
        return;
    }
    if (x->state == SC_SUP_STARTING) {
        start_failed(srv, vm, "it exited");
        return;
    }
    if (x->state != SC_SUP_RUNNING)
        return;
    sc_error("%s: the VM's supervisor died; its processes are gone", vm->id);
    snprintf(x->stop_why, sizeof x->stop_why, "the VM's supervisor died");
    sc_vmexec_stop(srv, vm, true, failed_done);
    /* nothing more will come: on with the stop */
    stop_enter(srv, vm, STOP_SUPERVISOR);
}

void sc_vmexec_child_exited(sc_server_t *srv, pid_t pid)
{
    for (sc_vm_t *vm = srv->vms; vm; vm = vm->next) {
        sc_vmexec_t *x = &vm->exec;
        if (x->sup_pid != pid)
            continue;
        x->sup_pid = 0; /* already reaped */
        if (x->state == SC_SUP_STOPPING && x->stop_phase == STOP_SUPERVISOR) {
            /* the next step (its cgroups, then its files) in a timer of its own: supervisors
             * reaped together do not take one long turn of the loop */
            cancel(srv, &x->stop_timer);
            x->stop_timer = sc_loop_timer(srv->loop, 0, on_stop_timer, vm);
        } else if (x->state == SC_SUP_STOPPING) {
            stop_progress(srv, vm);
        } else {
            supervisor_gone(srv, vm);
        }
        return;
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

static void on_stdin_writable(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud);

static int set_pipe(int fd, bool nonblock)
{
    if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return -1;
    fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE); /* a hint: the default 64 KiB also works */
    return 0;
}

static void on_spawn_timeout(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_gproc_t *p = ud;
    sc_vm_t *vm = p->vm;
    (void)loop;
    (void)t;
    p->spawn_timer = NULL;
    unlink_proc(&vm->exec.procs, p);
    if (p->reply)
        sc_deferred_reject(p->srv, p->reply, "kernel_error",
                           "EIO: the VM's supervisor did not answer within %d s",
                           SPAWN_TIMEOUT_MS / 1000);
    p->reply = NULL;
    free_proc(p->srv, p); /* should it start after all, spawn_answered ends it */
}

/* Hands a spawn to the running supervisor; its descriptors now live there only. */
static void send_spawn(sc_server_t *srv, sc_vm_t *vm, sc_gproc_t *p)
{
    sc_vmexec_t *x = &vm->exec;
    sv_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = SV_SPAWN;
    m.token = p->token;
    p->sent = true;
    if (ctl_send(x, &m, p->sendfds, p->nsendfds) != 0) {
        unlink_proc(&x->procs, p);
        sc_deferred_reject(srv, p->reply, "kernel_error", "EIO: the VM's supervisor is gone");
        p->reply = NULL;
        free_proc(srv, p);
        return;
    }
    close_sendfds(p);
}

/* Sends every spawn that waited for the supervisor, in the order they were asked for. */
static void send_spawns(sc_server_t *srv, sc_vm_t *vm)
{
    for (;;) {
        sc_gproc_t *first = NULL;
        for (sc_gproc_t *p = vm->exec.procs; p; p = p->next)
            if (p->starting && !p->sent && (!first || p->token < first->token))
                first = p;
        if (!first || vm->exec.state != SC_SUP_RUNNING)
            return;
        send_spawn(srv, vm, first);
    }
}

/* The rejection of a spawn the supervisor could not make; text says which step failed:
 * "chdir /path", "exec file", "sandbox: ...", ... */
static void spawn_failed(sc_server_t *srv, sc_gproc_t *p, int err, const char *text)
{
    const char *name = p->file;
    sc_deferred_t *d = p->reply;
    p->reply = NULL;
    if (strcmp(text, "fork") == 0 && err == EAGAIN)
        sc_deferred_reject(srv, d, "kernel_error", "EAGAIN: maximum process limit reached");
    else if (strncmp(text, "chdir ", 6) == 0)
        sc_deferred_reject(srv, d, "kernel_error", "%s: %s, chdir '%s'", sc_errno_name(err),
                           sc_errno_text(err), text + 6);
    else if (strncmp(text, "exec ", 5) != 0)
        sc_deferred_reject(srv, d, "execution_error", "%s: cannot start '%s': %s",
                           sc_errno_name(err), name, text);
    else if (err == ENOENT || err == ENOTDIR)
        sc_deferred_reject(srv, d, "invalid_state", "command not found on native sidecar path: %s",
                           p->command);
    else if (err == EACCES)
        sc_deferred_reject(srv, d, "kernel_error", "EACCES: permission denied, spawn '%s'", name);
    else if (err == EAGAIN)
        sc_deferred_reject(srv, d, "kernel_error", "EAGAIN: maximum process limit reached");
    else
        sc_deferred_reject(srv, d, "kernel_error", "%s: %s, spawn '%s'", sc_errno_name(err),
                           sc_errno_text(err), name);
}

/* The supervisor's answer to a spawn: the process runs (ProcessStartedResponse, then its
 * output and exit), or the ExecuteRequest is refused. */
static void spawn_answered(sc_server_t *srv, sc_vm_t *vm, const sv_msg_t *m)
{
    sc_vmexec_t *x = &vm->exec;
    sc_gproc_t *p = find_token(x, m->token);
    if (!p) {
        /* a spawn given up on (timed out): it must not run unaccounted */
        if (m->type == SV_SPAWNED && m->pid > 1) {
            sv_msg_t k;
            memset(&k, 0, sizeof k);
            k.type = SV_KILL_TREE;
            k.token = m->token;
            k.pid = m->pid;
            ctl_send(x, &k, NULL, 0);
        }
        return;
    }
    cancel(srv, &p->spawn_timer);
    if (m->type == SV_SPAWN_FAILED) {
        unlink_proc(&x->procs, p);
        spawn_failed(srv, p, m->arg ? m->arg : EIO, m->text);
        free_proc(srv, p);
        return;
    }
    p->starting = false;
    p->pid = m->pid;
    for (int c = 0; c < 2; c++)
        p->wout[c] =
            sc_loop_watch(srv->loop, p->out_fd[c], srv->in_paused ? 0 : EPOLLIN, on_output, p);
    if (p->stdin_fd >= 0)
        p->win = sc_loop_watch(srv->loop, p->stdin_fd, p->inlen > p->inoff ? EPOLLOUT : 0,
                               on_stdin_writable, p);
    if (!p->wout[0] || !p->wout[1] || (p->stdin_fd >= 0 && !p->win))
        sc_warn("%s: cannot watch the pipes of %s: %s", vm->id, p->id, strerror(errno));
    const sc_resource_limits_t *lim = &vm->config.resources;
    if (lim->max_wall_time_ms)
        p->wall_timer = sc_loop_timer(srv->loop, lim->max_wall_time_ms, on_wall_time, p);
    if (lim->max_cpu_time_ms && x->cgroup)
        p->cpu_timer = sc_loop_timer(srv->loop, CPU_POLL_MIN_MS, on_cpu_check, p);
    sc_info("%s: started %s as pid %d (%s)", vm->id, p->id, (int)p->pid, p->command);
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_PROCESS_STARTED_RESPONSE;
    r.u.process_started_response.process_id = bare_str_from_cstr(p->id);
    r.u.process_started_response.pid.present = true;
    r.u.process_started_response.pid.value = (uint32_t)p->pid;
    sc_deferred_respond(srv, p->reply, &r);
    p->reply = NULL;
    if (p->pending_signal) {
        sc_vmexec_kill(vm, p, p->pending_signal);
        p->pending_signal = 0;
    }
    if (p->stdin_close_pending && p->inlen <= p->inoff)
        close_stdin_now(srv, p);
}

int sc_vmexec_spawn(sc_server_t *srv, sc_vm_t *vm, const sc_spawn_req_t *r, sc_req_t *req,
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
        !(p->file = strdup(r->spawn.file)) || !(p->cwd = strdup(r->spawn.cwd))) {
        snprintf(msg, msglen, "ENOMEM: out of memory");
        goto fail;
    }
    p->srv = srv;
    p->vm = vm;
    p->stdin_fd = p->out_fd[0] = p->out_fd[1] = -1;
    p->token = x->next_token++;
    p->starting = true;
    p->sendfds[0] = memfd;
    p->sendfds[1] = in[0];
    p->sendfds[2] = out[1];
    p->sendfds[3] = errp[1];
    p->nsendfds = 4;
    memfd = in[0] = out[1] = errp[1] = -1;
    p->stdin_fd = in[1];
    p->out_fd[0] = out[0];
    p->out_fd[1] = errp[0];
    in[1] = out[0] = errp[0] = -1;
    set_pipe(p->stdin_fd, true);
    set_pipe(p->out_fd[0], true);
    set_pipe(p->out_fd[1], true);
    p->spawn_timer = sc_loop_timer(srv->loop, SPAWN_TIMEOUT_MS, on_spawn_timeout, p);
    p->reply = sc_defer(req);
    if (!p->reply || !p->spawn_timer) {
        snprintf(msg, msglen, "ENOMEM: out of memory");
        req->answered = false;
        goto fail;
    }
    p->next = x->procs;
    x->procs = p;
    if (x->state == SC_SUP_RUNNING)
        send_spawn(srv, vm, p);
    return 0;

fail:
    close_fds(in, 2);
    close_fds(out, 2);
    close_fds(errp, 2);
    close_fds(&memfd, 1);
    if (p)
        free_proc(srv, p);
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
    if (p->starting) {
        p->pending_signal = sig; /* delivered once it runs */
        return 0;
    }
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
