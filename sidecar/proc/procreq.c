/*
 * procreq.c - what a host can ask about a VM's processes: GetProcessSnapshot, FindListener,
 * FindBoundUdp, GetSignalState and GetZombieTimerCount. Everything is read from the VM's own
 * procfs (its PID and network namespaces), through the supervisor's root.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "exec.h"
#include "log.h"
#include "sidecar.h"

#define DRIVER "secure-exec-sidecar-execution"
#define MAX_CHILDREN_TRACKED 4096

static int cmp_proc_id(const void *a, const void *b)
{
    const sc_gproc_t *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* The VM's top-level processes (live, or exited when exited is set) in processId order, in
 * the request arena. */
static sc_gproc_t **sorted_procs(bare_arena_t *a, sc_gproc_t *list, size_t *n)
{
    size_t count = 0;
    for (sc_gproc_t *p = list; p; p = p->next)
        count++;
    *n = 0;
    sc_gproc_t **v = bare_arena_alloc(a, (count ? count : 1) * sizeof *v, sizeof(void *));
    if (!v)
        return NULL;
    /* one still starting has no process yet */
    for (sc_gproc_t *p = list; p; p = p->next)
        if (!p->starting)
            v[(*n)++] = p;
    qsort(v, *n, sizeof *v, cmp_proc_id);
    return v;
}

static const sc_proc_t *proc_by_pid(const sc_proc_list_t *l, pid_t pid)
{
    size_t lo = 0, hi = l->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->items[mid].pid == pid)
            return &l->items[mid];
        if (l->items[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Requires the permission of domain/op on resource; execution_error as the reference. */
static bool require_inspect(sc_req_t *req, sc_vm_t *vm, int domain, const char *resource)
{
    char reason[256];
    if (sc_policy_allows(&vm->policy, domain, "inspect", resource, reason, sizeof reason))
        return true;
    sc_reject(req, "execution_error", "EACCES: permission denied, %s: %s", resource, reason);
    return false;
}

/* ---- children naming: "parent/child-N", stable across snapshots ---- */

static sc_child_t *child_find(sc_gproc_t *top, pid_t pid)
{
    for (size_t i = 0; i < top->nchildren; i++)
        if (top->children[i].pid == pid)
            return &top->children[i];
    return NULL;
}

/* Names pid, a child of parent_id (whose counter is *next). */
static sc_child_t *child_add(sc_gproc_t *top, pid_t pid, const char *parent_id, uint32_t *next)
{
    if (top->nchildren >= MAX_CHILDREN_TRACKED)
        return NULL;
    if (top->nchildren == top->capchildren) {
        size_t cap = top->capchildren ? 2 * top->capchildren : 8;
        sc_child_t *c = realloc(top->children, cap * sizeof *c);
        if (!c)
            return NULL;
        top->children = c;
        top->capchildren = cap;
    }
    uint32_t num = ++*next;
    size_t len = strlen(parent_id) + 24;
    char *id = malloc(len);
    if (!id)
        return NULL;
    snprintf(id, len, "%s/child-%u", parent_id, num);
    sc_child_t *c = &top->children[top->nchildren++];
    c->pid = pid;
    c->id = id;
    c->next_num = 0;
    return c;
}

/* Forgets children that no longer exist (their pids may come back as someone else). */
static void children_prune(sc_gproc_t *top, const sc_proc_list_t *procs)
{
    size_t k = 0;
    for (size_t i = 0; i < top->nchildren; i++) {
        if (proc_by_pid(procs, top->children[i].pid))
            top->children[k++] = top->children[i];
        else
            free(top->children[i].id);
    }
    top->nchildren = k;
}

typedef struct snap {
    bare_arena_t *a;
    sx_process_snapshot_entry_t *items;
    size_t len, cap;
    const sc_proc_list_t *procs;
    bool *listed; /* per procs index */
} snap_t;

static sx_process_snapshot_entry_t *snap_add(snap_t *s)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        sx_process_snapshot_entry_t *v =
            bare_arena_alloc(s->a, cap * sizeof *v, _Alignof(sx_process_snapshot_entry_t));
        if (!v)
            return NULL;
        if (s->len)
            memcpy(v, s->items, s->len * sizeof *v);
        s->items = v;
        s->cap = cap;
    }
    sx_process_snapshot_entry_t *e = &s->items[s->len++];
    memset(e, 0, sizeof *e);
    e->driver = bare_str_from_cstr(DRIVER);
    return e;
}

/* The exit code of a wait status, as ProcessExitedEvent gives it: the code, or 128+N for
 * signal N. */
static int32_t code_of_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/*
 * A status is EXITED only with its exit code, which the SDK takes as the process's (it
 * reads a missing one as 0). A process the VM's /proc shows as a zombie is EXITED with the
 * code its stat shows (a child its parent has not waited for); without one (a process being
 * reaped), it is RUNNING until it is gone. Top-level processes never come here as zombies:
 * they are RUNNING until their exit event is sent (sc_handle_process_snapshot).
 */
static void set_status(sx_process_snapshot_entry_t *e, const sc_proc_t *pr)
{
    if (pr->state == 'T' || pr->state == 't') {
        e->status = SX_PROCESS_SNAPSHOT_STATUS_STOPPED;
    } else if ((pr->state == 'Z' || pr->state == 'X') && pr->has_exit_status) {
        e->status = SX_PROCESS_SNAPSHOT_STATUS_EXITED;
        e->exit_code.present = true;
        e->exit_code.value = code_of_status(pr->exit_status);
    } else {
        e->status = SX_PROCESS_SNAPSHOT_STATUS_RUNNING;
    }
}

/* The cwd procfs shows for a guest process, when it reads as a guest path. */
static const char *guest_cwd(const sc_proc_t *pr, const char *fallback)
{
    return pr->cwd[0] == '/' ? pr->cwd : fallback;
}

static void snap_children(snap_t *s, sc_gproc_t *top, pid_t parent, const char *parent_id,
                          uint32_t *next, const char *cwd, int depth);

/* An entry for a process the VM's /proc shows (not a top-level one), named id. */
static bool snap_proc(snap_t *s, const sc_proc_t *pr, const char *id, const char *cwd)
{
    sx_process_snapshot_entry_t *e = id ? snap_add(s) : NULL;
    if (!e)
        return false;
    e->process_id = bare_str_from_cstr(id);
    e->pid = (uint32_t)pr->pid;
    e->ppid = (uint32_t)pr->ppid;
    e->pgid = (uint32_t)pr->pgid;
    e->sid = (uint32_t)pr->sid;
    e->command = bare_str_from_cstr(bare_arena_strdup(
        s->a, bare_str_from_cstr(pr->argv && pr->argv[0] ? pr->argv[0] : pr->comm)));
    e->cwd = bare_str_from_cstr(bare_arena_strdup(s->a, bare_str_from_cstr(guest_cwd(pr, cwd))));
    set_status(e, pr);
    return true;
}

/*
 * Lists procs[i] as a child of parent_id, then its own children. Under a top-level process
 * (top) the name sticks across snapshots; without one (top NULL) it is made for this
 * snapshot only.
 */
static void snap_one(snap_t *s, size_t i, sc_gproc_t *top, const char *parent_id, uint32_t *next,
                     const char *cwd, int depth)
{
    const sc_proc_t *pr = &s->procs->items[i];
    s->listed[i] = true;
    char *id;
    uint32_t num = 0;
    sc_child_t *c = NULL;
    if (top) {
        c = child_find(top, pr->pid);
        if (!c)
            c = child_add(top, pr->pid, parent_id, next);
        if (!c)
            return;
        /* child_add may move the array: copy what recursion needs first */
        id = bare_arena_strdup(s->a, bare_str_from_cstr(c->id));
        num = c->next_num;
    } else {
        char buf[512];
        snprintf(buf, sizeof buf, "%s/child-%u", parent_id, ++*next);
        id = bare_arena_strdup(s->a, bare_str_from_cstr(buf));
    }
    if (!id || !snap_proc(s, pr, id, cwd))
        return;
    pid_t pid = pr->pid;
    snap_children(s, top, pid, id, &num, cwd, depth + 1);
    if (top && (c = child_find(top, pid)) != NULL)
        c->next_num = num;
}

/* Lists pid's children (depth first, by pid), naming each under its parent. */
static void snap_children(snap_t *s, sc_gproc_t *top, pid_t parent, const char *parent_id,
                          uint32_t *next, const char *cwd, int depth)
{
    if (depth > 64)
        return;
    for (size_t i = 0; i < s->procs->len; i++) {
        const sc_proc_t *pr = &s->procs->items[i];
        if (pr->ppid == parent && !s->listed[i])
            snap_one(s, i, top, parent_id, next, cwd, depth);
    }
}

/*
 * The processes no tree walk reached: those whose parent exited (re-parented to the VM's
 * init, the supervisor) and their descendants. Each is listed under the top-level process
 * whose cgroup it is in, whatever session or group it moved to; one in no such cgroup
 * (a VM without cgroups) as "pid-N".
 */
static void snap_orphans(snap_t *s, sc_gproc_t **live, size_t nlive)
{
    for (size_t i = 0; i < s->procs->len; i++) {
        const sc_proc_t *pr = &s->procs->items[i];
        if (s->listed[i] || pr->pid == 1)
            continue;
        if (pr->ppid > 1 && proc_by_pid(s->procs, pr->ppid))
            continue; /* reached from its own orphaned ancestor */
        sc_gproc_t *top = NULL;
        for (size_t k = 0; pr->has_cg_proc && k < nlive && !top; k++)
            if (live[k]->token == pr->cg_proc)
                top = live[k];
        if (top) {
            snap_one(s, i, top, top->id, &top->next_child, top->cwd, 1);
            continue;
        }
        s->listed[i] = true;
        char id[32];
        snprintf(id, sizeof id, "pid-%d", (int)pr->pid);
        if (!snap_proc(s, pr, bare_arena_strdup(s->a, bare_str_from_cstr(id)), "/"))
            return;
        uint32_t num = 0;
        snap_children(s, NULL, pr->pid, id, &num, "/", 1);
    }
}

void sc_handle_process_snapshot(sc_req_t *req)
{
    sc_server_t *srv = req->srv;
    bare_arena_t *a = &srv->arena;
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm || !require_inspect(req, vm, SC_DOMAIN_PROCESS, "process://snapshot"))
        return;
    sc_vmexec_t *x = &vm->exec;
    sc_proc_list_t procs = {NULL, 0};
    if (x->state == SC_SUP_RUNNING && sc_procs_read(x->proc_root, &procs) != 0)
        sc_warn("%s: cannot read the VM's processes", vm->id);
    snap_t s = {a, NULL, 0, 0, &procs, NULL};
    s.listed = bare_arena_alloc(a, procs.len + 1, 1);
    if (s.listed)
        memset(s.listed, 0, procs.len + 1);
    size_t n;
    sc_gproc_t **live = sorted_procs(a, x->procs, &n);
    for (size_t i = 0; live && s.listed && i < n; i++) {
        sc_gproc_t *p = live[i];
        const sc_proc_t *pr = proc_by_pid(&procs, p->pid);
        children_prune(p, &procs);
        sx_process_snapshot_entry_t *e = snap_add(&s);
        if (!e)
            break;
        e->process_id = bare_str_from_cstr(p->id);
        e->pid = (uint32_t)p->pid;
        e->ppid = 0; /* the host started it */
        e->pgid = pr ? (uint32_t)pr->pgid : (uint32_t)p->pid;
        e->sid = pr ? (uint32_t)pr->sid : (uint32_t)p->pid;
        e->command = bare_str_from_cstr(p->command);
        e->cwd = bare_str_from_cstr(
            pr ? bare_arena_strdup(a, bare_str_from_cstr(guest_cwd(pr, p->cwd))) : p->cwd);
        /*
         * RUNNING (or STOPPED) until its ProcessExitedEvent is sent, then EXITED with its code
         * (below): a zombie the supervisor has not reaped yet, or an exit whose output is still
         * draining, has no exit code the host has seen, and the SDK finishes a process on
         * EXITED, taking a missing code as 0 and missing the output still to come.
         */
        e->status = pr && (pr->state == 'T' || pr->state == 't')
                        ? SX_PROCESS_SNAPSHOT_STATUS_STOPPED
                        : SX_PROCESS_SNAPSHOT_STATUS_RUNNING;
        if (pr) {
            s.listed[pr - procs.items] = true;
            snap_children(&s, p, p->pid, p->id, &p->next_child, p->cwd, 0);
        }
    }
    if (live && s.listed)
        snap_orphans(&s, live, n);
    /* the recently exited, kept a while */
    sc_gproc_t **gone = sorted_procs(a, x->exited, &n);
    uint64_t now = sc_now_ms();
    for (size_t i = 0; gone && i < n; i++) {
        sc_gproc_t *p = gone[i];
        if (now - p->exited_at > 2000)
            continue;
        sx_process_snapshot_entry_t *e = snap_add(&s);
        if (!e)
            break;
        e->process_id = bare_str_from_cstr(p->id);
        e->pid = e->pgid = e->sid = (uint32_t)p->pid;
        e->command = bare_str_from_cstr(p->command);
        e->cwd = bare_str_from_cstr(p->cwd);
        e->status = SX_PROCESS_SNAPSHOT_STATUS_EXITED;
        e->exit_code.present = true;
        e->exit_code.value = p->exit_code;
    }
    sc_procs_free(&procs);

    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_PROCESS_SNAPSHOT_RESPONSE;
    r.u.process_snapshot_response.processes.items = s.items;
    r.u.process_snapshot_response.processes.len = s.len;
    sc_respond(req, &r);
}

/* ---- sockets ---- */

/*
 * The first socket of kind matching host/port/path, owned by a top-level process (or one of
 * its descendants), top-level processes taken in processId order. Fills e (arena strings).
 */
static bool find_socket(sc_req_t *req, sc_vm_t *vm, sc_sock_kind_t kind, const sx_str_opt_t *host,
                        const sx_u16_opt_t *port, const sx_str_opt_t *path,
                        sx_socket_state_entry_t *e)
{
    bare_arena_t *a = &req->srv->arena;
    sc_vmexec_t *x = &vm->exec;
    if (x->state != SC_SUP_RUNNING)
        return false;
    sc_socket_list_t socks = {NULL, 0};
    sc_proc_list_t procs = {NULL, 0};
    if (sc_sockets_read(x->proc_root, &socks) != 0 || sc_procs_read(x->proc_root, &procs) != 0) {
        sc_warn("%s: cannot read the VM's sockets", vm->id);
        sc_sockets_free(&socks);
        sc_procs_free(&procs);
        return false;
    }
    char *want_host = host && host->present ? bare_arena_strdup(a, host->value) : NULL;
    char *want_path = path && path->present ? bare_arena_strdup(a, path->value) : NULL;
    size_t n;
    sc_gproc_t **live = sorted_procs(a, x->procs, &n);
    bool found = false;
    for (size_t i = 0; live && !found && i < n; i++) {
        for (size_t k = 0; !found && k < socks.len; k++) {
            const sc_socket_t *so = &socks.items[k];
            if (so->owner <= 0 || !sc_procs_descends(&procs, so->owner, live[i]->pid))
                continue;
            if (want_path) {
                if (so->kind != SC_SOCK_UNIX_LISTEN || strcmp(so->path, want_path) != 0)
                    continue;
                e->path.present = true;
                e->path.value =
                    bare_str_from_cstr(bare_arena_strdup(a, bare_str_from_cstr(so->path)));
            } else {
                if (so->kind != kind || (port && port->present && port->value != so->port) ||
                    !sc_socket_host_matches(want_host, so->host))
                    continue;
                e->host.present = true;
                e->host.value =
                    bare_str_from_cstr(bare_arena_strdup(a, bare_str_from_cstr(so->host)));
                e->port.present = true;
                e->port.value = so->port;
            }
            e->process_id = bare_str_from_cstr(live[i]->id);
            found = true;
        }
    }
    sc_sockets_free(&socks);
    sc_procs_free(&procs);
    return found;
}

/* "tcp://host:port" with * for what is absent, or "unix://path". */
static char *socket_resource(bare_arena_t *a, const char *scheme, const sx_str_opt_t *host,
                             const sx_u16_opt_t *port, const sx_str_opt_t *path)
{
    char buf[512];
    if (path && path->present)
        snprintf(buf, sizeof buf, "unix://%.*s",
                 (int)(path->value.len > 400 ? 400 : path->value.len), path->value.ptr);
    else if (port->present)
        snprintf(buf, sizeof buf, "%s://%.*s:%u", scheme,
                 host->present ? (int)(host->value.len > 300 ? 300 : host->value.len) : 1,
                 host->present ? host->value.ptr : "*", (unsigned)port->value);
    else
        snprintf(buf, sizeof buf, "%s://%.*s:*", scheme,
                 host->present ? (int)(host->value.len > 300 ? 300 : host->value.len) : 1,
                 host->present ? host->value.ptr : "*");
    return bare_arena_strdup(a, bare_str_from_cstr(buf));
}

void sc_handle_find_listener(sc_req_t *req, const sx_find_listener_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    char *res = socket_resource(&req->srv->arena, "tcp", &v->host, &v->port, &v->path);
    if (!res || !require_inspect(req, vm, SC_DOMAIN_NETWORK, res))
        return;
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_LISTENER_SNAPSHOT_RESPONSE;
    r.u.listener_snapshot_response.listener.present =
        find_socket(req, vm, SC_SOCK_TCP_LISTEN, &v->host, &v->port, &v->path,
                    &r.u.listener_snapshot_response.listener.value);
    sc_respond(req, &r);
}

void sc_handle_find_bound_udp(sc_req_t *req, const sx_find_bound_udp_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    char *res = socket_resource(&req->srv->arena, "udp", &v->host, &v->port, NULL);
    if (!res || !require_inspect(req, vm, SC_DOMAIN_NETWORK, res))
        return;
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_BOUND_UDP_SNAPSHOT_RESPONSE;
    r.u.bound_udp_snapshot_response.socket.present =
        find_socket(req, vm, SC_SOCK_UDP, &v->host, &v->port, NULL,
                    &r.u.bound_udp_snapshot_response.socket.value);
    sc_respond(req, &r);
}

/* ---- signals and zombies ---- */

void sc_handle_signal_state(sc_req_t *req, const sx_get_signal_state_request_t *v)
{
    bare_arena_t *a = &req->srv->arena;
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_SIGNAL_STATE_RESPONSE;
    r.u.signal_state_response.process_id = v->process_id;
    sc_gproc_t *p = sc_vmexec_find(vm, v->process_id);
    sc_proc_list_t procs = {NULL, 0};
    /* an unknown or exited process has no handlers: an empty map, not an error */
    if (p && !p->exit_pending && vm->exec.state == SC_SUP_RUNNING &&
        sc_procs_read(vm->exec.proc_root, &procs) == 0) {
        const sc_proc_t *pr = proc_by_pid(&procs, p->pid);
        if (pr) {
            sx_u32_signal_handler_registration_map_entry_t *items = bare_arena_alloc(
                a, 64 * sizeof *items, _Alignof(sx_u32_signal_handler_registration_map_entry_t));
            size_t n = 0;
            for (int sig = 1; items && sig <= 64; sig++) {
                uint64_t bit = (uint64_t)1 << (sig - 1);
                if (!((pr->sig_caught | pr->sig_ignored) & bit))
                    continue;
                memset(&items[n], 0, sizeof items[n]);
                items[n].key = (uint32_t)sig;
                items[n].value.action = (pr->sig_caught & bit)
                                            ? SX_SIGNAL_DISPOSITION_ACTION_USER
                                            : SX_SIGNAL_DISPOSITION_ACTION_IGNORE;
                n++;
            }
            r.u.signal_state_response.handlers.items = items;
            r.u.signal_state_response.handlers.len = n;
        }
    }
    sc_procs_free(&procs);
    sc_respond(req, &r);
}

void sc_handle_zombie_count(sc_req_t *req)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    uint64_t count = 0;
    sc_proc_list_t procs = {NULL, 0};
    /* Zombies a guest process has not waited for. Those of the VM's init (the supervisor:
     * orphans, such as the rest of a tree that just ended) are reaped as soon as it sees
     * their SIGCHLD: counting them would report the moment between. */
    if (vm->exec.state == SC_SUP_RUNNING && sc_procs_read(vm->exec.proc_root, &procs) == 0)
        for (size_t i = 0; i < procs.len; i++)
            if (procs.items[i].state == 'Z' && procs.items[i].ppid != 1)
                count++;
    sc_procs_free(&procs);
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_ZOMBIE_TIMER_COUNT_RESPONSE;
    r.u.zombie_timer_count_response.count = count;
    sc_respond(req, &r);
}
