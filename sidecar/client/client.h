/*
 * client.h - a small C client for secure-exec-sidecar: spawn it (or attach to its pipes),
 * authenticate, open sessions, send requests and wait for their correlated responses,
 * receive events in order, and answer sidecar-originated requests through a callback.
 * See secure_exec_client(3).
 */
#ifndef SE_CLIENT_H
#define SE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bare.h"
#include "secure_exec_sidecar_v1.h"

typedef enum se_status {
    SE_OK = 0,
    SE_TIMEOUT,  /* no answer within the timeout */
    SE_CLOSED,   /* the sidecar closed its stdout (or exited) */
    SE_IO,       /* a system call failed (errno is set) */
    SE_PROTOCOL, /* the sidecar sent a frame that does not decode */
    SE_REJECTED, /* the response was a RejectedResponse (se_client_rejection) */
    SE_UNEXPECTED /* a response of another kind than the request calls for */
} se_status_t;

const char *se_strerror(int status);

typedef struct se_client se_client_t;

typedef struct se_client_options {
    const char *sidecar_path; /* NULL: $SECURE_EXEC_SIDECAR, else "secure-exec-sidecar" */
    const char *const *args;  /* extra arguments, NULL-terminated (may be NULL) */
    const char *const *env;   /* the sidecar's environment, NULL-terminated; NULL inherits */
    int stderr_fd;            /* where the sidecar's logs go; -1 inherits */
    uint32_t max_frame_bytes; /* frames larger than this are refused; 0: 1 MiB */
} se_client_options_t;

/* Spawns the sidecar with its stdin and stdout on pipes; NULL with a message in err. */
se_client_t *se_client_spawn(const se_client_options_t *opt, char *err, size_t errlen);
/* Uses existing descriptors (to_sidecar is written, from_sidecar is read); owns them. */
se_client_t *se_client_attach(int to_sidecar, int from_sidecar, uint32_t max_frame_bytes);
/* Closes the sidecar's stdin, waits up to timeout_ms for it to exit (then SIGKILL), frees c.
 * Returns the exit status as waitpid(2) encodes it, or -1 when c was attached. */
int se_client_close(se_client_t *c, int timeout_ms);
pid_t se_client_pid(const se_client_t *c);

/*
 * Decoded frames handed out by the client live in its arena until the next call that returns
 * a decoded frame (se_client_call, se_client_next_event, or the helpers).
 */

/* Sends payload with the next request id (1, 2, ...) and waits for the response with that id.
 * Events that arrive meanwhile are kept, in order, for se_client_next_event. */
int se_client_call(se_client_t *c, const sx_ownership_scope_t *ownership,
                   const sx_request_payload_t *payload, int timeout_ms,
                   sx_response_frame_t *response);
/* Sends a request frame with an explicit id and waits for the response with that id. */
int se_client_call_id(se_client_t *c, int64_t id, const sx_ownership_scope_t *ownership,
                      const sx_request_payload_t *payload, int timeout_ms,
                      sx_response_frame_t *response);
/* The next event, in arrival order. */
int se_client_next_event(se_client_t *c, int timeout_ms, sx_event_frame_t *event);
/* Waits for the response with this id (for requests sent raw). */
int se_client_wait_response(se_client_t *c, int64_t id, int timeout_ms,
                            sx_response_frame_t *response);
/* Number of events already received and not yet taken. */
size_t se_client_pending_events(const se_client_t *c);

/* Answers a sidecar-originated request; fill *out and return 0. SE_NO_REPLY sends nothing
 * (the host answers later with se_client_send_frame, or never); any other value sends an
 * error response naming the failure instead. */
#define SE_NO_REPLY 1
typedef int se_sidecar_request_fn(void *ud, const sx_sidecar_request_frame_t *request,
                                  sx_sidecar_response_payload_t *out);
void se_client_on_sidecar_request(se_client_t *c, se_sidecar_request_fn *fn, void *ud);

/* The descriptor requests are written to (tests that write without reading). */
int se_client_request_fd(const se_client_t *c);
/* The descriptor frames are read from: when poll(2) finds it readable, take what arrived with
 * se_client_next_event(c, 0, ...) until it returns SE_TIMEOUT. */
int se_client_event_fd(const se_client_t *c);

/* Sees every frame, 4-byte length prefix included, as it goes out (se_client_send_raw's bytes
 * excepted) and as it comes in, in that order: a capture of the conversation. */
typedef enum se_frame_dir { SE_FRAME_SENT, SE_FRAME_RECEIVED } se_frame_dir_t;
typedef void se_frame_fn(void *ud, se_frame_dir_t dir, const uint8_t *frame, size_t len);
void se_client_on_frame(se_client_t *c, se_frame_fn *fn, void *ud);

/* Writes bytes as they are (tests of malformed input). */
int se_client_send_raw(se_client_t *c, const void *bytes, size_t len);
/* Encodes and writes one frame. */
int se_client_send_frame(se_client_t *c, const sx_protocol_frame_t *frame);

/* The code and message of the last RejectedResponse a helper returned SE_REJECTED for. */
const char *se_client_rejection_code(const se_client_t *c);
const char *se_client_rejection_message(const se_client_t *c);

/* Helpers: Authenticate, OpenSession, CreateVm, DisposeVm. Ids are copied into the client. */
int se_client_authenticate(se_client_t *c, const char *client_name, const char *token,
                           int timeout_ms);
const char *se_client_connection_id(const se_client_t *c);
int se_client_open_session(se_client_t *c, int timeout_ms);
const char *se_client_session_id(const se_client_t *c);
/* Creates a VM in the current session; its id in vm_id (at least 64 bytes). */
int se_client_create_vm(se_client_t *c, sx_guest_runtime_kind_t runtime, const char *config_json,
                        int timeout_ms, char *vm_id, size_t vm_id_len);
int se_client_dispose_vm(se_client_t *c, const char *vm_id, int timeout_ms);

/* Ownership scopes of the client's current connection/session, and of a VM of that session. */
void se_client_connection_scope(const se_client_t *c, sx_ownership_scope_t *out);
void se_client_session_scope(const se_client_t *c, sx_ownership_scope_t *out);
void se_client_vm_scope(const se_client_t *c, const char *vm_id, sx_ownership_scope_t *out);

#endif
