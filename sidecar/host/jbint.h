/*
 * jbint.h - what the parts of the js_bridge plugin share: the mount, its calls to the host
 * (jsbridge.c), GuestFilesystemCall (jbfscall.c), the FUSE server (jbfuse.c) and the
 * privileged mount setup (jbmount.c). Private to sidecar/host/jb*.c and jsbridge.c.
 */
#ifndef SC_JBINT_H
#define SC_JBINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbjson.h"
#include "jsbridge.h"

/* The reference's timeout; SECURE_EXEC_SIDECAR_BRIDGE_TIMEOUT_MS overrides it (tests). */
#define SC_JB_TIMEOUT_MS 30000u
/* Calls one mount has at the host at once; more wait their turn, up to SC_JB_MAX_QUEUED. */
#define SC_JB_MAX_INFLIGHT 64u
#define SC_JB_MAX_QUEUED 4096u
/* ... and what the waiting ones hold (their JSON: a write carries its data) stays below this. */
#define SC_JB_MAX_QUEUED_BYTES ((size_t)16 << 20)
/* The reference's maxPreadBytes default: the most one readFile or pread may return. */
#define SC_JB_MAX_READ ((uint64_t)64 << 20)

typedef struct sc_jbcall sc_jbcall_t;
typedef struct sc_jbfuse sc_jbfuse_t;

struct sc_jsbridge {
    sc_server_t *srv;
    sc_vm_t *vm;
    char *mount_id;
    char *guest_path; /* absolute, normalized: "/workspace" */
    size_t guest_len;
    bool read_only;
    bool closing;               /* sc_jsbridge_close runs: no new call starts */
    uint64_t timeout_ms;        /* per call, from when it is made */
    uint64_t max_read;          /* maxPreadBytes of the VM */
    uint64_t max_dir;           /* maxReaddirEntries of the VM */
    uint64_t next_call;         /* js-bridge-call-N: the last N used */
    sc_jbcall_t *sent;          /* calls the host has, newest first */
    sc_jbcall_t *qhead, *qtail; /* calls waiting for a free slot, oldest first */
    size_t nsent, nqueued;
    size_t queued_bytes;
    sc_jbfuse_t *fuses; /* FUSE connections: one per mount descriptor handed out */
};

/* A finished call: err 0 with the result (NULL when the host sent none, valid during the
 * callback only), or an errno with msg, the text for messages: "<host error>, <op> '<path>'",
 * "<op> <path>: timed out ...", or why the result was refused. */
typedef struct sc_jb_result {
    int err;
    const json_t *value;
    const char *msg;
} sc_jb_result_t;

typedef void sc_jb_done_fn(sc_jsbridge_t *jb, void *ud, const sc_jb_result_t *r);

/*
 * Asks the host: op with a's arguments (copied; paths relative to the mount). Returns 0 and
 * calls fn(ud) exactly once later, from the loop, never from inside this call; or returns an
 * errno (EIO: the mount or its VM is going away; EAGAIN: too many calls wait; EILSEQ: a path
 * JSON cannot carry; EINVAL, ENOMEM) and never calls fn.
 */
int sc_jb_call(sc_jsbridge_t *jb, sc_jb_op_t op, const sc_jb_args_t *a, sc_jb_done_fn *fn,
               void *ud);

/* Logs a result the host sent in the wrong shape (why names the field and the rule). */
void sc_jb_refused(sc_jsbridge_t *jb, const char *call_id, const char *op, const char *path,
                   const char *why);

/* ---- GuestFilesystemCall (jbfscall.c): sc_jsbridge_fs_call ---- */

/* ---- FUSE (jbfuse.c) ---- */

/* A new FUSE connection served for jb on the loop, and its detached mount: the descriptor
 * (the caller's), or -1 with err. The connection ends by itself once the kernel drops it (its
 * mount is unmounted everywhere), or with sc_jbfuse_stop_all. */
int sc_jbfuse_new(sc_jsbridge_t *jb, char *err, size_t errlen);
/* Ends every connection of jb: each is aborted, everything freed. Every call of the mount must
 * be finished first (their FUSE requests answered). */
void sc_jbfuse_stop_all(sc_jsbridge_t *jb);

/* ---- the privileged part (jbmount.c) ---- */

typedef struct sc_jb_mount_opts {
    bool read_only;
    uint32_t owner_uid, owner_gid; /* the mount's owner, in the sidecar's user namespace */
    uint32_t max_read;             /* the largest read the kernel may ask for */
} sc_jb_mount_opts_t;

/* Opens /dev/fuse and makes a detached FUSE mount served over it: *dev_fd and *mnt_fd, or -1
 * with err. */
int sc_jb_fuse_open(const sc_jb_mount_opts_t *o, int *dev_fd, int *mnt_fd, char *err,
                    size_t errlen);

#endif
