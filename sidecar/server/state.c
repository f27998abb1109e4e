/*
 * state.c - connections, sessions and VMs, their ids (conn-N, session-N, vm-N, counters from
 * 1), and the ownership checks every request passes before its handler (reference §3.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sidecar.h"

char *sc_strdup_str(bare_str_t s)
{
    char *p = malloc(s.len + 1);
    if (!p)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

static char *make_id(const char *kind, uint64_t n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s-%llu", kind, (unsigned long long)n);
    return strdup(buf);
}

sc_conn_t *sc_conn_find(sc_server_t *srv, bare_str_t id)
{
    for (sc_conn_t *c = srv->conns; c; c = c->next)
        if (bare_str_eq_cstr(id, c->id))
            return c;
    return NULL;
}

sc_session_t *sc_session_find(sc_server_t *srv, bare_str_t id)
{
    for (sc_session_t *s = srv->sessions; s; s = s->next)
        if (bare_str_eq_cstr(id, s->id))
            return s;
    return NULL;
}

sc_vm_t *sc_vm_find(sc_server_t *srv, bare_str_t id)
{
    /* a VM being disposed is gone for requests, though its teardown still runs */
    for (sc_vm_t *v = srv->vms; v; v = v->next)
        if (!v->disposing && bare_str_eq_cstr(id, v->id))
            return v;
    return NULL;
}

/* An id for a message: printable, bounded. */
#define SHOW(s) (int)((s).len > 200 ? 200 : (s).len), (s).ptr

static const char *scope_name(sx_ownership_scope_tag_t tag)
{
    switch (tag) {
    case SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP:
        return "connection";
    case SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP:
        return "session";
    default:
        return "VM";
    }
}

static bool require_scope(sc_req_t *req, sx_ownership_scope_tag_t tag)
{
    if (req->ownership->tag == tag)
        return true;
    sc_reject(req, "invalid_state", "request requires %s ownership scope", scope_name(tag));
    return false;
}

static sc_conn_t *authenticated(sc_req_t *req, bare_str_t conn_id)
{
    sc_conn_t *c = sc_conn_find(req->srv, conn_id);
    if (!c)
        sc_reject(req, "invalid_state", "connection %.*s has not authenticated", SHOW(conn_id));
    return c;
}

static sc_session_t *owned_session(sc_req_t *req, sc_conn_t *c, bare_str_t session_id)
{
    sc_session_t *s = sc_session_find(req->srv, session_id);
    if (!s) {
        sc_reject(req, "invalid_state", "unknown sidecar session %.*s", SHOW(session_id));
        return NULL;
    }
    if (s->conn != c) {
        sc_reject(req, "invalid_state", "session %s is not owned by connection %s", s->id,
                  c->id);
        return NULL;
    }
    return s;
}

sc_conn_t *sc_require_connection(sc_req_t *req)
{
    if (!require_scope(req, SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP))
        return NULL;
    return authenticated(req, req->ownership->u.connection_ownership.connection_id);
}

sc_session_t *sc_require_session(sc_req_t *req)
{
    if (!require_scope(req, SX_OWNERSHIP_SCOPE_TAG_SESSION_OWNERSHIP))
        return NULL;
    const sx_session_ownership_t *o = &req->ownership->u.session_ownership;
    sc_conn_t *c = authenticated(req, o->connection_id);
    return c ? owned_session(req, c, o->session_id) : NULL;
}

sc_vm_t *sc_require_vm(sc_req_t *req)
{
    if (!require_scope(req, SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP))
        return NULL;
    const sx_vm_ownership_t *o = &req->ownership->u.vm_ownership;
    sc_conn_t *c = authenticated(req, o->connection_id);
    if (!c)
        return NULL;
    sc_session_t *s = owned_session(req, c, o->session_id);
    if (!s)
        return NULL;
    sc_vm_t *vm = sc_vm_find(req->srv, o->vm_id);
    if (!vm) {
        sc_reject(req, "invalid_state", "unknown sidecar VM %.*s", SHOW(o->vm_id));
        return NULL;
    }
    if (vm->session != s) {
        sc_reject(req, "invalid_state", "VM %s is not owned by %s/%s", vm->id, c->id, s->id);
        return NULL;
    }
    return vm;
}

sc_conn_t *sc_conn_add(sc_server_t *srv, bare_str_t client_name)
{
    sc_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = make_id("conn", srv->next_conn);
    c->client_name = sc_strdup_str(client_name);
    if (!c->id || !c->client_name) {
        free(c->id);
        free(c->client_name);
        free(c);
        return NULL;
    }
    srv->next_conn++;
    c->next = srv->conns;
    srv->conns = c;
    srv->nconns++;
    return c;
}

sc_session_t *sc_session_add(sc_server_t *srv, sc_conn_t *conn)
{
    sc_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = make_id("session", srv->next_session);
    if (!s->id) {
        free(s);
        return NULL;
    }
    srv->next_session++;
    s->conn = conn;
    s->next = srv->sessions;
    srv->sessions = s;
    srv->nsessions++;
    return s;
}

void sc_session_free(sc_session_t *s)
{
    for (size_t i = 0; i < 2 * s->nmetadata; i++)
        free(s->metadata[i]);
    free(s->metadata);
    free(s->placement);
    free(s->id);
    free(s);
}

sc_vm_t *sc_vm_add(sc_server_t *srv, sc_session_t *session)
{
    sc_vm_t *vm = calloc(1, sizeof *vm);
    if (!vm)
        return NULL;
    vm->id = make_id("vm", srv->next_vm);
    if (!vm->id) {
        free(vm);
        return NULL;
    }
    srv->next_vm++;
    vm->session = session;
    bare_arena_init(&vm->arena, NULL, NULL);
    bare_arena_init(&vm->policy_arena, NULL, NULL);
    sc_outq_init(&vm->held);
    vm->fs.root_fd = vm->fs.dir_fd = -1;
    vm->layers.next = 1; /* layer-1 is the first of every VM */
    vm->next = srv->vms;
    srv->vms = vm;
    srv->nvms++;
    return vm;
}

void sc_vm_remove(sc_server_t *srv, sc_vm_t *vm)
{
    for (sc_vm_t **p = &srv->vms; *p; p = &(*p)->next) {
        if (*p == vm) {
            *p = vm->next;
            srv->nvms--;
            break;
        }
    }
    bare_arena_free(&vm->arena);
    bare_arena_free(&vm->policy_arena);
    sc_outq_free(&vm->held);
    sc_deferred_free(vm->dispose_reply);
    free(vm->id);
    free(vm);
}
