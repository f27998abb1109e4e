/*
 * hostreq.h - requests the sidecar sends the host (SidecarRequestFrame: HostCallbackRequest,
 * JsBridgeCallRequest). Ids are negative, from one counter for the whole sidecar (-1, -2, ...).
 * Nothing waits: each request has a timer, and its waiter is called once, from the loop, with
 * the host's reply, a timeout, or the end of its VM. A reply that comes after that (or names
 * an id never sent) is logged and dropped.
 */
#ifndef SC_HOSTREQ_H
#define SC_HOSTREQ_H

#include <stddef.h>
#include <stdint.h>

#include "secure_exec_sidecar_v1.h"

typedef struct sc_server sc_server_t;
typedef struct sc_vm sc_vm_t;

/* At most this many requests wait for the host at once (the reference's bound). */
#define SC_HOSTREQ_MAX_PENDING 10000

typedef enum sc_hostreq_status {
    SC_HOSTREQ_REPLY,   /* reply is the host's payload (valid during the call only) */
    SC_HOSTREQ_TIMEOUT, /* no reply in time; err says so */
    SC_HOSTREQ_FAILED,  /* the reply's ownership was not the request's; err says so */
    SC_HOSTREQ_GONE,    /* the VM is being disposed or the sidecar is closing */
} sc_hostreq_status_t;

typedef void sc_hostreq_fn(sc_server_t *srv, void *ud, sc_hostreq_status_t status,
                           const sx_sidecar_response_payload_t *reply, const char *err);

/*
 * Sends payload to the host in vm's ownership and returns its id (< 0); fn(ud) is called
 * exactly once later, never from inside this call. On failure (too many pending, the frame
 * over the limit, no memory) returns 0 with a message in err, and fn is never called.
 */
int64_t sc_hostreq_send(sc_server_t *srv, sc_vm_t *vm, const sx_sidecar_request_payload_t *payload,
                        uint64_t timeout_ms, sc_hostreq_fn *fn, void *ud, char *err,
                        size_t errlen);
/* Forgets a pending request: its waiter is not called; a reply that comes is dropped. */
void sc_hostreq_cancel(sc_server_t *srv, int64_t id);
/* Ends every pending request of vm (or all when vm is NULL) with SC_HOSTREQ_GONE. */
void sc_hostreq_end_vm(sc_server_t *srv, sc_vm_t *vm);
/* A SidecarResponseFrame from the host (server.c). */
void sc_hostreq_deliver(sc_server_t *srv, const sx_sidecar_response_frame_t *f);
/* How many requests wait for the host. */
size_t sc_hostreq_pending(const sc_server_t *srv);

#endif
