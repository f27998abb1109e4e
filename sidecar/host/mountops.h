/*
 * mountops.h - the privileged operations behind a VM's mount table (mounts.c): opening the
 * host directories, preparing detached mounts, making and opening mount points, attaching and
 * unmounting by descriptor in the sidecar's view (mountops.c), and attaching and detaching in
 * a supervisor's mount namespace (mountns.c). Each takes descriptors and values mounts.c has
 * checked; why each is safe is said in those files.
 */
#ifndef SC_MOUNTOPS_H
#define SC_MOUNTOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sc_host sc_host_t;

/* A directory made for a mount point outside the VM's root overlay (removed at unmount). */
typedef struct sc_made_dir {
    int parent; /* O_PATH of the directory it was made in */
    char *name;
} sc_made_dir_t;

typedef struct sc_made_dirs {
    sc_made_dir_t *items;
    size_t n;
} sc_made_dirs_t;

/* ---- the sidecar's view (mountops.c) ---- */

/*
 * Opens the host directory canon (absolute, normalized) that a mount of plugin binds: without
 * following any symlink; a directory, on a real file system, outside state_dir (NULL: none).
 * The fd (O_PATH), or -1 with a message (the rejection's code is plugin_error).
 */
int sc_mntop_open_host_dir(const char *state_dir, const char *plugin, const char *canon, char *msg,
                           size_t msglen);

/* Detached mounts, nosuid and nodev, or -1 with errno: a bind of the host directory src
 * (private, not recursive; read-only when ro); a tmpfs of size bytes and inodes inodes, its
 * root 0755 owned by the guest user; the read-only overlay of a module_access mount with
 * symlinked packages: a skeleton layer with a directory for each of skel[0..nskel) over src,
 * the layer made in the state directory as mounts/<vm_id>.<*seq> (*seq counted up once the
 * state is open; *layer gets that name once the layer exists, for sc_mntop_skeleton_remove). */
int sc_mntop_bind(int src, bool ro);
int sc_mntop_memory(const sc_host_t *host, uint64_t size, uint64_t inodes, bool ro);
int sc_mntop_overlay(const sc_host_t *host, const char *vm_id, unsigned *seq, int src,
                     char *const *skel, size_t nskel, char **layer);
/* The mount fd is on, alone (not recursive), detached; the caller closes it. -1 with errno. */
int sc_mntop_clone(int fd);

/*
 * Opens the mount point guest_path (absolute, normalized, not "/") below the VM root root_fd,
 * one directory at a time, following no symlink, making the missing ones (0755; beneath the
 * root's mount when root_ro). Those made outside the VM's own root mount are added to made.
 * The fd (O_PATH), or -1 with a message (the rejection's code is kernel_error).
 */
int sc_mntop_mount_point(const sc_host_t *host, int root_fd, bool root_ro, const char *guest_path,
                         sc_made_dirs_t *made, char *msg, size_t msglen);
/* Moves the detached mount tree onto the directory target. 0, or -1 with errno. */
int sc_mntop_attach(int tree, int target);
/* Unmounts the mount fd holds (in the calling process's namespace); a failure is logged. */
void sc_mntop_unmount(int fd);
/* Removes the directories of made (the empty ones), last made first, and empties it. */
void sc_mntop_made_remove(sc_made_dirs_t *made);
/* Removes the skeleton layer layer (NULL: none) of sc_mntop_overlay, its directories only. */
void sc_mntop_skeleton_remove(const char *state_dir, const char *layer, char *const *skel,
                              size_t nskel);

/* ---- the supervisor's namespace (mountns.c) ---- */

/* One step in the supervisor's mount namespace. */
typedef struct sc_mntns_op {
    int fd;          /* attach: a detached mount; detach: an attached one */
    const char *rel; /* attach: the mount point, relative to the VM root; NULL: detach */
    char name[16];   /* detach: fd in decimal, its /proc/self/fd entry */
} sc_mntns_op_t;

/* The step that attaches the detached mount fd at rel; the one that detaches fd. */
void sc_mntns_attach_op(sc_mntns_op_t *op, int fd, const char *rel);
void sc_mntns_detach_op(sc_mntns_op_t *op, int fd);

/*
 * Runs ops in order in the mount namespace of the supervisor sup_pid (the sidecar's child).
 * Returns how many succeeded before the first failure (n when none failed), with that
 * failure's errno in *err; with keep_going, a failure does not stop the rest.
 */
size_t sc_mntns_run(pid_t sup_pid, const sc_mntns_op_t *ops, size_t n, bool keep_going, int *err);

#endif
