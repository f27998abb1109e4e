/*
 * fs.h - VM filesystems: the sidecar's private state directory (ns.c), guest-visible ownership,
 * root filesystem entries (entries.c), VM roots as overlayfs mounts (rootfs.c), layers
 * (layers.c), the fs permission policy (perms.c) and GuestFilesystemCall (fsops.c).
 */
#ifndef SC_FS_H
#define SC_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "bare.h"
#include "secure_exec_sidecar_v1.h"
#include "vmconfig.h"

#define SC_PATH_MAX 4096 /* a guest path, normalized */

/* ---- the host side (ns.c): privileged setup, run once at startup ---- */

typedef struct sc_host {
    char *state_dir;    /* a tmpfs in the sidecar's own mount namespace */
    char *base_dir;     /* the bundled base filesystem, built once: every VM's lowest layer */
    char *minimal_dir;  /* the minimal root, for VMs and layers with no lower at all */
    bool privileged;    /* real root: ownership is real; otherwise recorded in xattrs */
    uint32_t id_base;   /* host uid/gid of guest uid/gid 0 (privileged mode) */
    uint32_t id_count;  /* guest ids 0 .. id_count-1 are mapped */
} sc_host_t;

/*
 * Enters a private mount namespace (a user namespace too when not root), mounts a tmpfs for
 * the state (at state_dir when given, else a fresh directory under /tmp) and fills host.
 * Returns 0, or -1 with a message.
 */
int sc_host_init(sc_host_t *host, const char *state_dir, char *err, size_t errlen);
/* Unmounts the state tmpfs and removes the directory made for it. */
void sc_host_fini(sc_host_t *host);

/* ---- guest-visible ownership ---- */

/* The guest's view of the owner of an inode (fd is any descriptor of it, O_PATH included). */
void sc_owner_get(const sc_host_t *host, int fd, const struct stat *st, uint32_t *uid,
                  uint32_t *gid);
/* Sets the guest-visible owner of dirfd/name (name "" = dirfd itself); no symlink following. */
int sc_owner_set(const sc_host_t *host, int dirfd, const char *name, uint32_t uid, uint32_t gid);

/* ---- errors (fsops.c) ---- */

/* "ENOENT" and "no such file or directory": fixed texts for messages on the wire, whatever the
 * C library's locale; "EIO" and "i/o error" for what the table does not know. */
const char *sc_errno_name(int err);
const char *sc_errno_text(int err);

/* ---- paths ---- */

/*
 * Normalizes a guest path lexically: relative paths are taken from "/", "." and empty segments
 * drop, ".." pops (never above "/"), no trailing slash. Returns 0, or an errno: EINVAL for a
 * NUL or control byte, ENAMETOOLONG beyond SC_PATH_MAX.
 */
int sc_path_normalize(const char *in, size_t len, char *out /* SC_PATH_MAX + 1 */);

/* ---- entries (entries.c) ---- */

/* A RootFilesystemEntry list, as the wire or the config gives it. */
typedef struct sc_entry_list {
    sc_entry_t *items;
    size_t len;
} sc_entry_list_t;

/* Sorts entries by depth, then path (stable), as a tree is built. */
void sc_entries_sort(sc_entry_t *entries, size_t n);

/*
 * Creates the entries, in the order given, in the tree whose root is rootfd: every path is
 * resolved inside that root (openat2 RESOLVE_IN_ROOT), so symlinks already in the tree cannot
 * lead out. Missing parents become directories 0755 owned by parent_owner. Files get their
 * content; modes, owners and symlink targets are applied; a file replaces a file or symlink,
 * a directory entry on a directory only updates it. Entries under /dev, /proc and /sys are
 * skipped when skip_reserved. Returns 0, or -1 with "<ERRNO>: message" in err (errno set).
 */
int sc_entries_apply(const sc_host_t *host, int rootfd, const sc_entry_t *entries, size_t n,
                     uint32_t parent_owner, bool skip_reserved, char *err, size_t errlen);

/* Opens the directory path inside rootfd (O_PATH), creating missing ones (0755, owner). */
int sc_open_dir_in_root(const sc_host_t *host, int rootfd, const char *path, bool create,
                        uint32_t owner);

/*
 * What a response may take: the frame limit (maxFrameBytes), and the least the response frame
 * takes besides the part being measured (schema, request id, ownership, tags, fixed fields),
 * so that a refusal is never wrong. limit 0: no frame to fit.
 */
typedef struct sc_frame_budget {
    uint64_t limit;
    uint64_t overhead;
} sc_frame_budget_t;

/* Limits of a walk of a tree into entries. */
typedef struct sc_walk_limits {
    uint64_t max_entries;
    uint64_t max_bytes;
    sc_frame_budget_t frame; /* the encoded entry list must fit in it */
    const char *what;        /* the snapshot in messages; NULL: "the snapshot" */
} sc_walk_limits_t;

/*
 * Lists the tree under dirfd as entries in depth-first order, children sorted byte-wise, "/"
 * first: modes with type bits, guest owners, file content as UTF-8 when valid, else base64,
 * symlink targets. Everything is allocated from arena.
 *
 * A first pass reads metadata only (no file is opened for reading) and bounds the encoded
 * size from below; a list that cannot fit in lim->frame is refused there, with errno EMSGSIZE
 * and "<what> is at least N bytes (M entries); the frame limit is L bytes" in err. Contents
 * are read in a second pass that keeps the exact encoded size within the budget (a file that
 * grows meanwhile is refused the same way), so memory stays near the frame limit. Beyond
 * max_entries or max_bytes: ENOSPC; other failures: "<ERRNO>: ..." with errno set.
 */
int sc_entries_walk(const sc_host_t *host, int dirfd, const sc_walk_limits_t *lim,
                    bare_arena_t *arena, sx_root_filesystem_entry_list_t *out, char *err,
                    size_t errlen);

/* Converts wire entries (BARE RootFilesystemEntry) to sc_entry_t, defaults applied. */
int sc_entries_from_wire(const sx_root_filesystem_entry_list_t *in, bare_arena_t *arena,
                         sc_entry_list_t *out, char *err, size_t errlen);

/* Content for the wire: UTF-8 text when valid, else standard base64 (arena). */
void sc_content_encode(const uint8_t *p, size_t n, bare_arena_t *arena, bare_str_t *content,
                       sx_root_filesystem_entry_encoding_t *encoding);
/* Decodes wire content; -1 for invalid base64. */
int sc_content_decode(bare_str_t content, bool base64, bare_arena_t *arena, const uint8_t **p,
                      size_t *n);

/* ---- permission policy (perms.c) ---- */

/* The fs operation names a rule's "operations" can hold (reference §8.3). */
typedef enum sc_fs_op {
    SC_FS_READ,
    SC_FS_WRITE,
    SC_FS_STAT,
    SC_FS_READDIR,
    SC_FS_CREATE_DIR,
    SC_FS_RM,
    SC_FS_RENAME,
    SC_FS_SYMLINK,
    SC_FS_MOUNT_SENSITIVE
} sc_fs_op_t;

const char *sc_fs_op_name(sc_fs_op_t op);

/* The full-string glob of reference §8.2: ? one non-'/' char, * a run without '/', ** any run. */
bool sc_glob_match(const char *pattern, const char *subject);
/*
 * Decides domain/operation/resource by the policy: the default (DENY when absent), then every
 * matching rule in order, the last one winning; ASK counts as deny. reason (when not NULL)
 * gets "blocked by <domain>.<op> policy" or "permission prompt required for <domain>.<op>".
 */
bool sc_policy_allows(const sc_policy_t *policy, int domain, const char *operation,
                      const char *resource, char *reason, size_t reasonlen);

/* Resolves a guest path, symlinks followed, to its canonical guest path; 0 or an errno. */
typedef int sc_resolve_fn(void *ud, const char *path, char *out /* SC_PATH_MAX + 1 */);

/*
 * The hidden read requirement of mutations (reference §8.4). Entry-style (resolved_style
 * false): fs read on every existing ancestor of path except "/", each taken resolved; the walk
 * ends at the first one that does not resolve. Resolved-style: read on the resolved path
 * suffices; otherwise the same walk including the final component. Returns true when allowed;
 * otherwise denied (SC_PATH_MAX + 1 bytes) gets the refused subject and reason the reason.
 */
bool sc_policy_read_guard(const sc_policy_t *policy, const char *path, bool resolved_style,
                          sc_resolve_fn *resolve, void *ud, char *denied, char *reason,
                          size_t reasonlen);

/* ---- VM roots (rootfs.c) ---- */

typedef struct sc_vmfs {
    char *dir;       /* state_dir/vms/<id>: a tmpfs holding upper, work, lowers, layers, root */
    char *root_dir;  /* the overlay mount: the VM's "/" */
    int root_fd;     /* O_PATH | O_DIRECTORY of root_dir */
    int dir_fd;      /* O_PATH | O_DIRECTORY of dir */
    bool read_only;
    bool ro_bind;    /* a read-only bind mount sits on root_dir */
} sc_vmfs_t;

/* Builds the base and minimal trees in the state directory (once, at startup). */
int sc_host_build_layers(sc_host_t *host, const sc_entry_list_t *base, char *err, size_t errlen);

/* The minimal root of reference §1.1: standard directories and an empty /usr/bin/env. */
const sc_entry_t *sc_minimal_root(size_t *n);

/*
 * Drops the later copies of a lower directory listed more than once (first = highest), in
 * place; the new count. overlayfs refuses a directory twice (ELOOP), and a later copy shows
 * nothing the first one does not: the merged view is the same.
 */
size_t sc_lowers_dedupe(const char **lowers, size_t n);

/* Mounts an overlay of lower directories (first = highest, each once: sc_lowers_dedupe) on
 * target, read-only without an upper; upper/work may be NULL. */
int sc_overlay_mount(const sc_host_t *host, const char *target, const char *const *lowers,
                     size_t nlowers, const char *upper, const char *work, char *err,
                     size_t errlen);

/*
 * Builds a VM's root from its config: the bundled base (unless disabled), the snapshot lowers,
 * the overlay mount, the bootstrap entries into the upper, then a read-only remount for
 * READ_ONLY roots. On failure nothing is left behind.
 */
int sc_vmfs_create(const sc_host_t *host, const char *vm_id, const sc_vmconfig_t *cfg,
                   sc_vmfs_t *fs, char *err, size_t errlen);
/* Unmounts and deletes everything of the VM's filesystem. */
void sc_vmfs_destroy(const sc_host_t *host, sc_vmfs_t *fs);
/* The same in three steps, the middle one fit for a worker thread (system calls only): closes
 * the VM's descriptors; unmounts its root and tmpfs and removes its directory (0, or the errno
 * of the rmdir); frees the paths. */
void sc_vmfs_release(sc_vmfs_t *fs);
int sc_vmfs_unmount(const sc_vmfs_t *fs);
void sc_vmfs_free(sc_vmfs_t *fs);

/* ---- GuestFilesystemCall (fsops.c) ---- */

typedef struct sc_fsctx {
    const sc_host_t *host;
    int root_fd;                 /* the VM's "/" */
    const sc_policy_t *policy;
    const sc_resource_limits_t *limits;
    bool read_only;
    sc_frame_budget_t frame; /* READ_FILE and PREAD content must fit in a response */
} sc_fsctx_t;

/*
 * Runs one GuestFilesystemCall confined to root_fd. On success fills out (strings from arena)
 * and returns 0; otherwise returns -1 with the rejection code ("kernel_error" with message
 * "<ERRNO>: <text>", "invalid_state" for a missing field, or "frame_too_large" for content
 * that cannot fit in ctx->frame, refused before it is read) in code and msg.
 */
int sc_fs_call(const sc_fsctx_t *ctx, const sx_guest_filesystem_call_request_t *req,
               bare_arena_t *arena, sx_guest_filesystem_result_response_t *out, char *code,
               size_t codelen, char *msg, size_t msglen);
/* The reference's message for a field the call's operation needs and lacks ("requires a
 * mode", ...), or NULL when it has them all (sc_fs_call and the js_bridge plugin). */
const char *sc_fs_missing_field(const sx_guest_filesystem_call_request_t *q);

#endif
