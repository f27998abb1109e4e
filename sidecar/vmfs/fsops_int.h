/*
 * fsops_int.h - what fsops.c (confinement, errors, dispatch, the reading operations) shares with
 * fsops_write.c (the mutating operations). Private to those two files.
 */
#ifndef SC_FSOPS_INT_H
#define SC_FSOPS_INT_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"

#define FS_MAX_HOPS 40    /* symlinks followed by hand (WRITE_FILE through a dangling link) */
#define FS_GUEST_ID 1000u /* owner of everything a call creates */

/* One GuestFilesystemCall in flight. */
typedef struct fsrun {
    const sc_fsctx_t *ctx;
    const sx_guest_filesystem_call_request_t *req;
    bare_arena_t *arena;
    sx_guest_filesystem_result_response_t *out;
    char *code, *msg;
    size_t codelen, msglen;
    const char *label;          /* the syscall-style name in errno messages: "open", "mkdir" */
    char path[SC_PATH_MAX + 1]; /* the request path, normalized */
    char dest[SC_PATH_MAX + 1]; /* destination_path, normalized (RENAME, LINK) */
    bool has_dest;
    char root_host[PATH_MAX + 1]; /* what /proc/self/fd shows for root_fd ("" until known) */
    size_t root_len;              /* its length; 0 when the root is the host's "/" */
    bool root_known;
} fsrun_t;

/* ---- results (fsops.c); every fail_* returns -1 ---- */

int fs_fail_errno(fsrun_t *r, int err);
__attribute__((format(printf, 3, 4))) int fs_fail_text(fsrun_t *r, int err, const char *fmt, ...);
int fs_fail_denied(fsrun_t *r, const char *label, const char *subject, const char *reason);

/* ---- confinement (fsops.c) ---- */

/*
 * openat2(root_fd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra):
 * the only way a guest path becomes a descriptor. Returns the fd or -errno.
 */
int fs_root_open(const fsrun_t *r, const char *path, uint64_t flags, uint64_t mode,
                 uint64_t extra_resolve);
/* Opens the parent of path (not "/") as O_PATH | O_DIRECTORY, following; *name is its last part. */
int fs_open_parent(const fsrun_t *r, const char *path, int *pfd, const char **name);
/* The canonical guest path of fd, a descriptor inside the root; 0 or an errno. */
int fs_fd_path(fsrun_t *r, int fd, char *out /* SC_PATH_MAX + 1 */);
/* dir + "/" + name, with dir "/" giving "/name"; 0 or ENAMETOOLONG. */
int fs_join(const char *dir, const char *name, char *out /* SC_PATH_MAX + 1 */);
/* Re-opens the inode fd holds with flags; the fd or -errno. */
int fs_reopen(int fd, int flags);
/* "/proc/self/fd/N" of fd, for the *at() calls that must act on exactly that inode. */
void fs_proc_path(int fd, char out[32]);

/* ---- permissions (fsops.c) ---- */

/* realpath of the parent + the final name; for a missing parent, the deepest existing one. */
int fs_dest_form(fsrun_t *r, const char *path, char *out /* SC_PATH_MAX + 1 */);
/* The policy decision for op on subject; a denial fails the call with EACCES. */
int fs_check(fsrun_t *r, sc_fs_op_t op, const char *label, const char *subject);
/* The hidden read requirement (§8.4); a denial fails the call with EACCES. */
int fs_guard(fsrun_t *r, const char *path, bool resolved_style);

/* ---- ownership of what a call creates (fsops_write.c) ---- */

/* Makes fd (a new file or directory, named name in pfd) mode bits `mode`, owned 1000:1000. */
int fs_set_new(fsrun_t *r, int fd, int pfd, const char *name, mode_t mode);

/* ---- the mutating operations (fsops_write.c) ---- */

int fs_op_write_file(fsrun_t *r, const uint8_t *data, size_t len);
int fs_op_mkdir(fsrun_t *r, bool recursive);
int fs_op_remove(fsrun_t *r, bool dir);
int fs_op_rename(fsrun_t *r);
int fs_op_symlink(fsrun_t *r, const char *target);
int fs_op_link(fsrun_t *r);
int fs_op_chmod(fsrun_t *r, uint32_t mode);
int fs_op_chown(fsrun_t *r, uint32_t uid, uint32_t gid);
int fs_op_utimes(fsrun_t *r, uint64_t atime_ms, uint64_t mtime_ms);
int fs_op_truncate(fsrun_t *r, uint64_t len);

#endif
