/*
 * hostreq.c - the sidecar's requests to the host and their replies (hostreq.h).
 *
 * The reference blocks its main loop on each request, and a late reply kills it. Here each
 * pending request is a record with a one-shot loop timer; the reader hands a reply to its
 * record by id and checks that its ownership is the one the request carried.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostreq.h"
#include "log.h"
#include "sidecar.h"

struct sc_hostreq {
    sc_hostreq_t *next;
    int64_t id;
    sc_server_t *srv;
    sc_vm_t *vm;
    char *conn, *session, *vm_id; /* the ownership the reply must carry */
    sc_timer_t *timer;
    uint64_t timeout_ms;
    sc_hostreq_fn *fn;
    void *ud;
};

static void entry_free(sc_hostreq_t *e)
{
    free(e->conn);
    free(e->session);
    free(e->vm_id);
    free(e);
}

/* Takes the entry with id out of the list; NULL when there is none. */
static sc_hostreq_t *take(sc_server_t *srv, int64_t id)
{
    for (sc_hostreq_t **pp = &srv->hostreqs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            sc_hostreq_t *e = *pp;
            *pp = e->next;
            srv->nhostreqs--;
            return e;
        }
    }
    return NULL;
}

static void on_timeout(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    (void)loop;
    (void)t;
    sc_hostreq_t *self = ud;
    sc_server_t *srv = self->srv;
    sc_hostreq_t *e = take(srv, self->id);
    char msg[96];
    if (!e)
        return;
    e->timer = NULL; /* a fired timer frees itself */
    snprintf(msg, sizeof msg, "timed out waiting for sidecar response after %" PRIu64 "s",
             (e->timeout_ms + 999) / 1000);
    sc_info("%s: host request %lld: no reply in %" PRIu64 " ms", e->vm_id, (long long)e->id,
            e->timeout_ms);
    e->fn(srv, e->ud, SC_HOSTREQ_TIMEOUT, NULL, msg);
    entry_free(e);
}

int64_t sc_hostreq_send(sc_server_t *srv, sc_vm_t *vm, const sx_sidecar_request_payload_t *payload,
                        uint64_t timeout_ms, sc_hostreq_fn *fn, void *ud, char *err,
                        size_t errlen)
{
    sx_ownership_scope_t own;
    size_t size = 0;
    if (srv->nhostreqs >= SC_HOSTREQ_MAX_PENDING) {
        snprintf(err, errlen, "%d requests already wait for the host", SC_HOSTREQ_MAX_PENDING);
        return 0;
    }
    sc_hostreq_t *e = calloc(1, sizeof *e);
    if (!e || !(e->conn = strdup(vm->session->conn->id)) ||
        !(e->session = strdup(vm->session->id)) || !(e->vm_id = strdup(vm->id))) {
        if (e)
            entry_free(e);
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    e->srv = srv;
    e->vm = vm;
    e->fn = fn;
    e->ud = ud;
    e->timeout_ms = timeout_ms;
    e->id = --srv->last_hostreq_id;
    e->timer = sc_loop_timer(srv->loop, timeout_ms, on_timeout, e);
    if (!e->timer) {
        entry_free(e);
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    sc_vm_ownership(vm, &own);
    int rc = sc_put_sidecar_request(srv, e->id, &own, payload, &size);
    if (rc != BARE_OK) {
        sc_loop_cancel(srv->loop, e->timer);
        if (rc == BARE_E_FRAME_TOO_LARGE)
            snprintf(err, errlen, "sidecar request frame is %zu bytes, limit is %u", size,
                     srv->cfg.max_frame_bytes);
        else
            snprintf(err, errlen, "failed to write sidecar request frame: %s",
                     bare_strerror(rc));
        entry_free(e);
        return 0;
    }
    e->next = srv->hostreqs;
    srv->hostreqs = e;
    srv->nhostreqs++;
    sc_debug("%s: host request %lld (%s) sent", vm->id, (long long)e->id,
             sx_sidecar_request_payload_tag_name(payload->tag));
    return e->id;
}

void sc_hostreq_cancel(sc_server_t *srv, int64_t id)
{
    sc_hostreq_t *e = take(srv, id);
    if (!e)
        return;
    if (e->timer)
        sc_loop_cancel(srv->loop, e->timer);
    entry_free(e);
}

void sc_hostreq_end_vm(sc_server_t *srv, sc_vm_t *vm)
{
    for (sc_hostreq_t **pp = &srv->hostreqs; *pp;) {
        sc_hostreq_t *e = *pp;
        if (vm && e->vm != vm) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        srv->nhostreqs--;
        if (e->timer)
            sc_loop_cancel(srv->loop, e->timer);
        e->fn(srv, e->ud, SC_HOSTREQ_GONE, NULL, "the VM is being disposed");
        entry_free(e);
        pp = &srv->hostreqs; /* the waiter may have cancelled others */
    }
}

static bool str_is(bare_str_t s, const char *c)
{
    return bare_str_eq_cstr(s, c);
}

void sc_hostreq_deliver(sc_server_t *srv, const sx_sidecar_response_frame_t *f)
{
    sc_hostreq_t *e = take(srv, f->request_id);
    if (!e) {
        sc_warn("dropped a SidecarResponseFrame for request %lld: none is waiting (it timed "
                "out, was cancelled, or was never sent)",
                (long long)f->request_id);
        return;
    }
    if (e->timer)
        sc_loop_cancel(srv->loop, e->timer);
    const sx_ownership_scope_t *o = &f->ownership;
    if (o->tag != SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP ||
        !str_is(o->u.vm_ownership.connection_id, e->conn) ||
        !str_is(o->u.vm_ownership.session_id, e->session) ||
        !str_is(o->u.vm_ownership.vm_id, e->vm_id)) {
        sc_warn("%s: the reply to host request %lld carries another ownership", e->vm_id,
                (long long)e->id);
        e->fn(srv, e->ud, SC_HOSTREQ_FAILED, NULL,
              "sidecar response ownership did not match request ownership");
    } else {
        e->fn(srv, e->ud, SC_HOSTREQ_REPLY, &f->payload, NULL);
    }
    entry_free(e);
}

size_t sc_hostreq_pending(const sc_server_t *srv)
{
    return srv->nhostreqs;
}
