/*
 * callbacks.h - host callbacks (reference protocol-core.md §4.6 and §6.2): the toolkits a VM
 * registers with RegisterHostCallbacks (callbacks.c), how a command's arguments become the
 * HostCallbackRequest the host answers (toolinput.c), the VM's callback socket and the
 * invocations waiting on the host (cbserve.c), and the commands in the guests' view (cbview.c,
 * privileged).
 *
 * Each alias of a toolkit is a command of the VM: a script in the guests' /usr/bin (and /bin)
 * that runs secure-exec-callback (cbprogram.c) as an ordinary guest process, which hands its
 * arguments to the sidecar over the VM's socket and prints the answer. An ExecuteRequest of an
 * alias runs the same program. Nothing waits: an invocation is a host request with a timer
 * (hostreq.h), answered to the program when the host replies.
 */
#ifndef SC_CALLBACKS_H
#define SC_CALLBACKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbproto.h"
#include "loop.h"
#include "secure_exec_sidecar_v1.h"

typedef struct sc_server sc_server_t;
typedef struct sc_vm sc_vm_t;
typedef struct sc_req sc_req_t;

/* The reference's constants (tools.rs; not the VM config's limits.tools, as there). */
#define SC_CB_MAX_TOOLKITS 64
#define SC_CB_MAX_TOOLS_PER_VM 256
#define SC_CB_MAX_TOOLS 64 /* per toolkit */
#define SC_CB_MAX_NAME 64
#define SC_CB_MAX_DESCRIPTION 200 /* bytes */
#define SC_CB_MAX_SCHEMA_BYTES 16384
#define SC_CB_MAX_SCHEMA_DEPTH 32
#define SC_CB_MAX_EXAMPLES 16
#define SC_CB_MAX_EXAMPLE_BYTES 4096
#define SC_CB_MAX_TIMEOUT_MS 300000
#define SC_CB_DEFAULT_TIMEOUT_MS 30000
/* Ours: an alias is a file name in the guests' /usr/bin. */
#define SC_CB_MAX_ALIAS 255
/* Invocations of one VM in flight at once (connections to its socket). */
#define SC_CB_MAX_CONNS 256

typedef struct sc_cb_tool {
    char *name;
    json_t *schema; /* inputSchema, parsed */
    bool has_timeout;
    uint64_t timeout_ms;
} sc_cb_tool_t;

typedef struct sc_cb_toolkit {
    char *name;
    char **aliases; /* commandAliases */
    size_t naliases;
    char **registry; /* registryCommandAliases */
    size_t nregistry;
    sc_cb_tool_t *tools;
    size_t ntools;
} sc_cb_toolkit_t;

typedef struct sc_cb_conn sc_cb_conn_t;

/* A VM's host callbacks (vm->callbacks; NULL until the first registration or process). */
typedef struct sc_callbacks {
    sc_cb_toolkit_t **kits; /* sorted by name, as the reference walks them */
    size_t nkits;
    size_t ntools;
    /* the guests' view (cbview.c): a writable mount of the overlay the guests see read-only
     * at /usr/bin and /bin, the alias files written into it, the paths the supervisor mounts */
    bool view;
    int bin_fd;
    char **installed;
    size_t ninstalled, capinstalled;
    char *bin_dir, *program, *socket_path;
    /* the socket (cbserve.c) */
    int listen_fd;
    sc_watch_t *wlisten;
    sc_timer_t *accept_timer; /* out of descriptors: accepting again after a pause */
    sc_cb_conn_t *conns;
    size_t nconns;
    size_t buffered; /* bytes the connections' buffers hold */
} sc_callbacks_t;

/* ---- callbacks.c ---- */

void sc_handle_register_host_callbacks(sc_req_t *req,
                                       const sx_register_host_callbacks_request_t *v);
/* The VM's callbacks, made when missing (NULL when out of memory). */
sc_callbacks_t *sc_callbacks_of(sc_vm_t *vm);
/*
 * The alias an ExecuteRequest's command names, as the reference resolves it: the bare alias,
 * or /bin/A, /usr/bin/A, /usr/local/bin/A, /__secure_exec/commands/N/A; NULL when none.
 */
const char *sc_callbacks_alias(const sc_vm_t *vm, const char *command);
/* The toolkit an alias belongs to, and whether it is a registry alias (of any toolkit). */
const sc_cb_toolkit_t *sc_callbacks_toolkit_of(const sc_callbacks_t *cb, const char *alias);
bool sc_callbacks_is_registry(const sc_callbacks_t *cb, const char *alias);
/* Every distinct alias, command and registry, for the guest view; calls fn for each. */
void sc_callbacks_each_alias(const sc_callbacks_t *cb, void (*fn)(void *ud, const char *alias),
                             void *ud);
/* The VM is going away: its invocations end (their programs get no answer), its socket and
 * view close, its toolkits are freed. Safe to call again. */
void sc_callbacks_vm_gone(sc_server_t *srv, sc_vm_t *vm);

/* ---- toolinput.c ---- */

/* One invocation as the program sends it. */
typedef struct sc_cb_call {
    const char *alias;
    const char *cwd;
    const char *const *args; /* after the alias */
    size_t nargs;
    bool has_file; /* the program read a --json-file: */
    const uint8_t *file;
    size_t file_len;
    int file_err; /* 0, or why it could not */
} sc_cb_call_t;

/* What it comes to: a request for the host, or a failure that never reaches it. */
typedef struct sc_cb_invocation {
    char *key;   /* callbackKey */
    char *input; /* JSON text */
    uint64_t timeout_ms;
    char *failure; /* instead: the message (stderr, with a newline) */
    int exit_code; /* of a failure: 1, or 127 when the alias is not one of the VM's */
} sc_cb_invocation_t;

/* Resolves call against the VM's toolkits and policy (reference tools.rs
 * resolve_tool_command); 0, or -1 when out of memory. */
int sc_cb_resolve(const sc_vm_t *vm, const sc_cb_call_t *call, sc_cb_invocation_t *out);
void sc_cb_invocation_free(sc_cb_invocation_t *inv);
/* Writes v as compact JSON with sorted keys (as serde_json writes it); malloc'd, NULL when out
 * of memory. */
char *sc_json_text(const json_t *v, size_t *len);
/* The stdout of a host result: {"ok":true,"result":R} with R the result parsed as JSON, or as
 * a string when it is not JSON; malloc'd. */
char *sc_cb_result_text(const char *result, size_t len, size_t *outlen);

/* ---- cbrequest.c ---- */

/* The records of a complete request (what follows its header, cbproto.h) as an invocation;
 * NULL with why (a static message) when malformed or out of memory. The strings are copies,
 * NUL-terminated, in the call's own block: free(call) frees everything. */
sc_cb_call_t *sc_cb_parse_request(const uint8_t *p, size_t len, const char **why);

/* ---- cbserve.c ---- */

/* Creates the VM's listening socket at its directory's cb.sock and serves it; 0, or -1 with a
 * message. */
int sc_cb_listen(sc_server_t *srv, sc_vm_t *vm, char *err, size_t errlen);
/* Closes every connection (their invocations are cancelled) and the socket. */
void sc_cb_serve_stop(sc_server_t *srv, sc_vm_t *vm);

/* ---- cbview.c (privileged) ---- */

/*
 * Makes sure the VM's guest view of its commands exists (once per VM): the overlay of the
 * host's /usr/bin with the alias files, the program, the socket. Sets the three paths the
 * supervisor mounts (bin_dir, the program and the socket; all NULL when the view cannot be
 * made, with a warning: guests then run without their commands).
 */
void sc_cb_view_prepare(sc_server_t *srv, sc_vm_t *vm, const char **bin_dir, const char **program,
                        const char **socket_path);
/* Writes the alias file of alias into the view (when it exists); 0, or -1 with a message. */
int sc_cb_view_install(sc_vm_t *vm, const char *alias, char *err, size_t errlen);
/* Removes an alias file written for a registration that failed. */
void sc_cb_view_uninstall(sc_vm_t *vm, const char *alias);
void sc_cb_view_close(sc_vm_t *vm);

#endif
