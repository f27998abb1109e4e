/*
 * jbmount.c - PRIVILEGED: the FUSE connection and mounts of a js_bridge mount (jbint.h).
 *
 * Why this is safe: the mount is made with the new mount API and stays detached: fsmount(2)
 * returns a mount that belongs to no namespace, so nothing of the sidecar's own view (nor the
 * host's) changes, and nothing in the sidecar ever looks up a path through it (a lookup would
 * be a FUSE request that only this very process can answer). The caller attaches a copy in the
 * guests' mount namespace, where it is nosuid and nodev, read-only when the mount is, and
 * allow_other admits exactly the processes of user namespaces below the sidecar's (the kernel
 * checks that against the connection's namespace, the one fsopen ran in). Nothing here comes
 * from the wire: the options are the sidecar's own numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "jbint.h"

static int fail(const char *what, char *err, size_t errlen)
{
    int e = errno;
    snprintf(err, errlen, "%s: %s", what, strerror(e));
    errno = e;
    return -1;
}

int sc_jb_fuse_open(const sc_jb_mount_opts_t *o, int *dev_fd, int *mnt_fd, char *err, size_t errlen)
{
    *dev_fd = *mnt_fd = -1;
    /* non-blocking: the sidecar's loop reads requests when epoll says there are some */
    int dev = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (dev < 0)
        return fail("cannot open /dev/fuse", err, errlen);
    int fs = fsopen("fuse", FSOPEN_CLOEXEC);
    if (fs < 0) {
        fail("cannot create a FUSE file system", err, errlen);
        close(dev);
        return -1;
    }
    char fd_s[16], uid_s[16], gid_s[16], max_s[16];
    snprintf(fd_s, sizeof fd_s, "%d", dev);
    snprintf(uid_s, sizeof uid_s, "%u", o->owner_uid);
    snprintf(gid_s, sizeof gid_s, "%u", o->owner_gid);
    snprintf(max_s, sizeof max_s, "%u", o->max_read);
    /* rootmode: the root is a directory until the host says more; no default_permissions:
     * as in the reference, only the fs policy decides, never mode bits */
    const char *const opts[][2] = {
        {"source", "js_bridge"}, {"subtype", "js_bridge"}, {"fd", fd_s},
        {"rootmode", "40000"},   {"user_id", uid_s},       {"group_id", gid_s},
        {"max_read", max_s}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (fsconfig(fs, FSCONFIG_SET_STRING, opts[i][0], opts[i][1], 0) != 0) {
            char what[64];
            snprintf(what, sizeof what, "cannot set the FUSE option %s", opts[i][0]);
            fail(what, err, errlen);
            goto out;
        }
    }
    if (fsconfig(fs, FSCONFIG_SET_FLAG, "allow_other", NULL, 0) != 0) {
        fail("cannot set the FUSE option allow_other", err, errlen);
        goto out;
    }
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
        fail("cannot create the FUSE file system", err, errlen);
        goto out;
    }
    unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (o->read_only ? MOUNT_ATTR_RDONLY : 0);
    int m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
    if (m < 0) {
        fail("cannot make the FUSE mount", err, errlen);
        goto out;
    }
    close(fs);
    *dev_fd = dev;
    *mnt_fd = m;
    return 0;
out:
    close(fs);
    close(dev);
    return -1;
}
