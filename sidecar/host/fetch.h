/*
 * fetch.h - VmFetch: an HTTP/1.1 request from the host to a guest server listening on the VM's
 * loopback, answered with the responseJson the SDK's fetch() parses. Nothing waits: libcurl's
 * multi interface runs on the sidecar's loop, and the request is answered when the response
 * is complete, fails, times out, or its VM goes.
 */
#ifndef SC_FETCH_H
#define SC_FETCH_H

#include "secure_exec_sidecar_v1.h"

typedef struct sc_server sc_server_t;
typedef struct sc_vm sc_vm_t;
typedef struct sc_req sc_req_t;

/* At most this many fetches are pending at once (each may hold a 1 MiB response). */
#define SC_FETCH_MAX_PENDING 256
/* The largest responseJson (the reference's VM_FETCH_BUFFER_LIMIT_BYTES); the response frame
 * must also fit min(maxFrameBytes, this). */
#define SC_FETCH_LIMIT_BYTES (1u << 20)
/* More header lines than this in a response fail the fetch (Node's maxHeadersCount). */
#define SC_FETCH_MAX_HEADER_LINES 2000

/* VmFetchRequest: answered later (or at once when the request is invalid). */
void sc_handle_vm_fetch(sc_req_t *req, const sx_vm_fetch_request_t *v);
/* Answers every pending fetch of vm with execution_error and frees it (DisposeVm). */
void sc_fetch_end_vm(sc_server_t *srv, sc_vm_t *vm);
/* The sidecar's exit: ends what is left and frees curl. */
void sc_fetch_free(sc_server_t *srv);

#endif
