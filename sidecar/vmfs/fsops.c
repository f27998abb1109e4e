/*
 * fsops.c - GuestFilesystemCall (reference filesystem-permissions.md §6, POSIX where the
 * reference has quirks): request checks, errno messages, confinement of every path to the VM's
 * root, the permission glue of §8.3/§8.4, and the operations that only read. The mutating ones
 * are in fsops_write.c.
 *
 * Trust model: the sidecar runs as root (or as root of its own user namespace) and the paths
 * come from the host's requests, but the files behind them belong to the guest, which can
 * create any symlink and race any rename inside its root. So a guest path becomes a descriptor
 * only through openat2(root_fd, ..., RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): "..", absolute
 * symlinks and symlink chains are all resolved by the kernel as if root_fd were "/", and
 * /proc-style magic links are refused. Operations on a final component that must not be
 * followed open the parent that way and then act with *at() on a single name that the
 * normalizer guarantees is neither "", "." nor ".." and that no call follows. Operations on a
 * followed target act on the descriptor itself (fstat, statx, AT_EMPTY_PATH, or the sidecar's
 * own /proc/self/fd/N magic link, which names exactly that inode), never on a second lookup
 * of the guest path, so a symlink swapped in between cannot redirect them out of the root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsops_int.h"

#define DEFAULT_PREAD_BYTES (64u << 20)
#define DEFAULT_READDIR_ENTRIES 4096u
#define MSG_PATH_MAX 256 /* bytes of a path quoted in a message */

typedef sx_guest_filesystem_operation_t fsop_t;

/* Per operation: its name in invalid_state messages, its errno-message label, mutating. */
static const struct op_info {
    const char *name, *label;
    bool mutates;
} op_info[SX_GUEST_FILESYSTEM_OPERATION_COUNT] = {
    [SX_GUEST_FILESYSTEM_OPERATION_READ_FILE] = {"read_file", "open", false},
    [SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE] = {"write_file", "open", true},
    [SX_GUEST_FILESYSTEM_OPERATION_CREATE_DIR] = {"create_dir", "mkdir", true},
    [SX_GUEST_FILESYSTEM_OPERATION_MKDIR] = {"mkdir", "mkdir", true},
    [SX_GUEST_FILESYSTEM_OPERATION_EXISTS] = {"exists", "access", false},
    [SX_GUEST_FILESYSTEM_OPERATION_STAT] = {"stat", "stat", false},
    [SX_GUEST_FILESYSTEM_OPERATION_LSTAT] = {"lstat", "lstat", false},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_DIR] = {"read_dir", "scandir", false},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE] = {"remove_file", "unlink", true},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_DIR] = {"remove_dir", "rmdir", true},
    [SX_GUEST_FILESYSTEM_OPERATION_RENAME] = {"rename", "rename", true},
    [SX_GUEST_FILESYSTEM_OPERATION_REALPATH] = {"realpath", "realpath", false},
    [SX_GUEST_FILESYSTEM_OPERATION_SYMLINK] = {"symlink", "symlink", true},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_LINK] = {"read_link", "readlink", false},
    [SX_GUEST_FILESYSTEM_OPERATION_LINK] = {"link", "link", true},
    [SX_GUEST_FILESYSTEM_OPERATION_CHMOD] = {"chmod", "chmod", true},
    [SX_GUEST_FILESYSTEM_OPERATION_CHOWN] = {"chown", "chown", true},
    [SX_GUEST_FILESYSTEM_OPERATION_UTIMES] = {"utimes", "utime", true},
    [SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE] = {"truncate", "truncate", true},
    [SX_GUEST_FILESYSTEM_OPERATION_PREAD] = {"pread", "read", false},
};

/* Fixed texts, so messages do not depend on the C library's locale or version. */
static const struct errno_text {
    int err;
    const char *name, *text;
} errno_texts[] = {
    {ENOENT, "ENOENT", "no such file or directory"},
    {EEXIST, "EEXIST", "file already exists"},
    {ENOTDIR, "ENOTDIR", "not a directory"},
    {EISDIR, "EISDIR", "illegal operation on a directory"},
    {ENOTEMPTY, "ENOTEMPTY", "directory not empty"},
    {EINVAL, "EINVAL", "invalid argument"},
    {ENAMETOOLONG, "ENAMETOOLONG", "name too long"},
    {ELOOP, "ELOOP", "too many levels of symbolic links"},
    {EPERM, "EPERM", "operation not permitted"},
    {EACCES, "EACCES", "permission denied"},
    {EROFS, "EROFS", "read-only filesystem"},
    {ENOMEM, "ENOMEM", "not enough memory"},
    {EXDEV, "EXDEV", "cross-device link not permitted"},
    {EBUSY, "EBUSY", "resource busy or locked"},
    {ENOSPC, "ENOSPC", "no space left on device"},
    {EDQUOT, "EDQUOT", "disk quota exceeded"},
    {EFBIG, "EFBIG", "file too large"},
    {EMLINK, "EMLINK", "too many links"},
    {EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {ETXTBSY, "ETXTBSY", "text file is busy"},
    {EOVERFLOW, "EOVERFLOW", "value too large for defined data type"},
    {ENXIO, "ENXIO", "no such device or address"},
    {EOPNOTSUPP, "EOPNOTSUPP", "operation not supported"},
    {ENOEXEC, "ENOEXEC", "exec format error"},
    {EILSEQ, "EILSEQ", "illegal byte sequence"},
    {E2BIG, "E2BIG", "argument list too long"},
    {EMFILE, "EMFILE", "too many open files"},
    {ENFILE, "ENFILE", "file table overflow"},
    {EIO, "EIO", "i/o error"},
};

static const struct errno_text *errno_lookup(int err)
{
    for (size_t i = 0; i < sizeof errno_texts / sizeof errno_texts[0]; i++)
        if (errno_texts[i].err == err)
            return &errno_texts[i];
    return NULL;
}

const char *sc_errno_name(int err)
{
    const struct errno_text *t = errno_lookup(err);
    return t ? t->name : "EIO";
}

const char *sc_errno_text(int err)
{
    const struct errno_text *t = errno_lookup(err);
    return t ? t->text : "i/o error";
}

/* ------------------------------------------------------------------------------------------ */
/* Results                                                                                      */

/* A truncated message must stay UTF-8 for the wire: drop a cut multi-byte sequence. */
static void trim_utf8(char *s)
{
    size_t n = strlen(s);
    for (int k = 0; k < 4 && n > 0 && !bare_utf8_valid(s, n); k++)
        s[--n] = '\0';
}

/*
 * A path for a message: control bytes and bytes that are not UTF-8 (guest file names can be
 * anything) as '?', cut at MSG_PATH_MAX with "...".
 */
static void quote_path(const char *p, size_t n, char *out, size_t outlen)
{
    size_t k = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (k + len + 4 >= outlen || k + len > MSG_PATH_MAX)
            break;
        if (c < 0x20 || c == 0x7f || (len > 1 && (i + len > n || !bare_utf8_valid(p + i, len)))) {
            out[k++] = '?';
            i++;
            continue;
        }
        memcpy(out + k, p + i, len);
        k += len;
        i += len;
    }
    out[k] = '\0';
    if (i < n)
        strcat(out, "...");
}

static int fail_code(fsrun_t *r, const char *code, const char *text)
{
    snprintf(r->code, r->codelen, "%s", code);
    snprintf(r->msg, r->msglen, "%s", text);
    trim_utf8(r->msg);
    return -1;
}

__attribute__((format(printf, 2, 3))) static int fail_state(fsrun_t *r, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return fail_code(r, "invalid_state", text);
}

/* "'path'" or, for RENAME and LINK, "'path' -> 'destination'". */
static void quoted_paths(const fsrun_t *r, char *out, size_t outlen)
{
    char a[MSG_PATH_MAX + 8], b[MSG_PATH_MAX + 8];
    quote_path(r->req->path.ptr, r->req->path.len, a, sizeof a);
    const sx_str_opt_t *d = &r->req->destination_path;
    bool two = d->present && (r->req->operation == SX_GUEST_FILESYSTEM_OPERATION_RENAME ||
                              r->req->operation == SX_GUEST_FILESYSTEM_OPERATION_LINK);
    if (!two) {
        snprintf(out, outlen, "'%s'", a);
        return;
    }
    quote_path(d->value.ptr, d->value.len, b, sizeof b);
    snprintf(out, outlen, "'%s' -> '%s'", a, b);
}

/* "<ERRNO>: " for err; unknown numbers become EIO with the number kept. */
static void errno_prefix(int err, char *out, size_t outlen, const char **text)
{
    const struct errno_text *t = errno_lookup(err);
    if (t) {
        snprintf(out, outlen, "%s", t->name);
        *text = t->text;
    } else {
        snprintf(out, outlen, "EIO");
        *text = "i/o error";
    }
}

int fs_fail_errno(fsrun_t *r, int err)
{
    char name[16], paths[2 * MSG_PATH_MAX + 32], text[1024];
    const char *t;
    errno_prefix(err, name, sizeof name, &t);
    quoted_paths(r, paths, sizeof paths);
    if (errno_lookup(err))
        snprintf(text, sizeof text, "%s: %s, %s %s", name, t, r->label, paths);
    else
        snprintf(text, sizeof text, "%s: %s (errno %d), %s %s", name, t, err, r->label, paths);
    return fail_code(r, "kernel_error", text);
}

int fs_fail_text(fsrun_t *r, int err, const char *fmt, ...)
{
    char name[16], body[1024], text[1100];
    const char *t;
    errno_prefix(err, name, sizeof name, &t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(text, sizeof text, "%s: %s", name, body);
    return fail_code(r, "kernel_error", text);
}

int fs_fail_denied(fsrun_t *r, const char *label, const char *subject, const char *reason)
{
    char q[MSG_PATH_MAX + 8];
    quote_path(subject, strlen(subject), q, sizeof q);
    return fs_fail_text(r, EACCES, "permission denied, %s '%s': %s", label, q, reason);
}

/* ------------------------------------------------------------------------------------------ */
/* Confinement                                                                                  */

int fs_root_open(const fsrun_t *r, const char *path, uint64_t flags, uint64_t mode,
                 uint64_t extra_resolve)
{
    struct open_how how = {
        .flags = flags | O_CLOEXEC,
        .mode = mode,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve,
    };
    /* EAGAIN: a concurrent rename made the kernel unsure ".." stayed inside; it asks to retry. */
    for (int i = 0; i < 64; i++) {
        long fd = syscall(SYS_openat2, r->ctx->root_fd, path, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}

int fs_open_parent(const fsrun_t *r, const char *path, int *pfd, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t plen = slash && slash > path ? (size_t)(slash - path) : 1;
    char parent[SC_PATH_MAX + 1];
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    int fd = fs_root_open(r, parent, O_PATH | O_DIRECTORY, 0, 0);
    if (fd < 0)
        return -fd;
    *pfd = fd;
    *name = slash ? slash + 1 : path;
    return 0;
}

void fs_proc_path(int fd, char out[32])
{
    snprintf(out, 32, "/proc/self/fd/%d", fd);
}

/*
 * Safe: the sidecar's own magic link for a descriptor it holds names exactly that inode; no
 * name the guest controls is looked up.
 */
int fs_reopen(int fd, int flags)
{
    char p[32];
    fs_proc_path(fd, p);
    int nfd = open(p, flags | O_CLOEXEC | O_NOCTTY);
    return nfd < 0 ? -errno : nfd;
}

static int proc_link(int fd, char *buf, size_t cap, size_t *len)
{
    char p[32];
    fs_proc_path(fd, p);
    ssize_t n = readlink(p, buf, cap);
    if (n < 0)
        return errno;
    if ((size_t)n >= cap)
        return ENAMETOOLONG;
    buf[n] = '\0';
    *len = (size_t)n;
    return 0;
}

int fs_join(const char *dir, const char *name, char *out)
{
    size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir), nl = strlen(name);
    if (dl + 1 + nl > SC_PATH_MAX)
        return ENAMETOOLONG;
    memmove(out, dir, dl);
    out[dl] = '/';
    memmove(out + dl + 1, name, nl + 1);
    return 0;
}

static bool same_inode(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/*
 * The kernel's name for fd (/proc/self/fd/N) minus the root's own name is the guest path. It is
 * only trusted after resolving it again, without symlinks, to the same inode: that rules out
 * " (deleted)" suffixes, renames in between and anything outside the root.
 */
int fs_fd_path(fsrun_t *r, int fd, char *out)
{
    if (!r->root_known) {
        size_t n = 0;
        int rc = proc_link(r->ctx->root_fd, r->root_host, sizeof r->root_host, &n);
        if (rc)
            return rc;
        r->root_len = strcmp(r->root_host, "/") == 0 ? 0 : n;
        r->root_known = true;
    }
    char host[PATH_MAX * 2];
    for (int attempt = 0; attempt < 4; attempt++) {
        size_t n;
        int rc = proc_link(fd, host, sizeof host, &n);
        if (rc)
            return rc;
        if (strncmp(host, r->root_host, r->root_len) != 0 ||
            (host[r->root_len] != '\0' && host[r->root_len] != '/'))
            return ENOENT; /* not (or no longer) under the root */
        const char *rel = host[r->root_len] ? host + r->root_len : "/";
        if (strlen(rel) > SC_PATH_MAX)
            return ENAMETOOLONG;
        int vfd = fs_root_open(r, rel, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
        bool same = vfd >= 0 && same_inode(fd, vfd);
        if (vfd >= 0)
            close(vfd);
        if (same) {
            memcpy(out, rel, strlen(rel) + 1);
            return 0;
        }
    }
    return ENOENT;
}

/* ------------------------------------------------------------------------------------------ */
/* Permissions                                                                                  */

static int resolve_cb(void *ud, const char *path, char *out)
{
    fsrun_t *r = ud;
    int fd = fs_root_open(r, path, O_PATH, 0, 0);
    if (fd < 0)
        return -fd;
    int rc = fs_fd_path(r, fd, out);
    close(fd);
    return rc;
}

int fs_dest_form(fsrun_t *r, const char *path, char *out)
{
    if (strcmp(path, "/") == 0) {
        strcpy(out, "/");
        return 0;
    }
    char prefix[SC_PATH_MAX + 1], real[SC_PATH_MAX + 1];
    size_t cut = (size_t)(strrchr(path, '/') - path);
    for (;;) {
        memcpy(prefix, path, cut ? cut : 1);
        prefix[cut ? cut : 1] = '\0';
        if (resolve_cb(r, prefix, real) == 0)
            return fs_join(real, path + cut + 1, out);
        if (cut == 0)
            return ENOENT; /* "/" did not resolve: the root itself is gone */
        while (--cut > 0 && path[cut] != '/')
            ;
    }
}

int fs_check(fsrun_t *r, sc_fs_op_t op, const char *label, const char *subject)
{
    char reason[160];
    if (sc_policy_allows(r->ctx->policy, SC_DOMAIN_FS, sc_fs_op_name(op), subject, reason,
                         sizeof reason))
        return 0;
    return fs_fail_denied(r, label, subject, reason);
}

int fs_guard(fsrun_t *r, const char *path, bool resolved_style)
{
    const sc_perm_scope_t *fs = r->ctx->policy ? &r->ctx->policy->domains[SC_DOMAIN_FS] : NULL;
    if (fs && fs->default_mode == SC_PERM_ALLOW && fs->nrules == 0)
        return 0; /* allow-all: the walk cannot deny, skip its lookups */
    char denied[SC_PATH_MAX + 1], reason[160];
    if (sc_policy_read_guard(r->ctx->policy, path, resolved_style, resolve_cb, r, denied, reason,
                             sizeof reason))
        return 0;
    return fs_fail_denied(r, "read", denied, reason);
}

/* ------------------------------------------------------------------------------------------ */
/* Response values                                                                              */

/* Names and link targets for the wire: UTF-8 as is, other bytes as U+FFFD (as Node decodes). */
static int wire_str(fsrun_t *r, const char *s, size_t n, bare_str_t *out)
{
    char *p = bare_arena_alloc(r->arena, n * 3 + 1, 1);
    if (!p)
        return ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (i + len <= n && bare_utf8_valid(s + i, len)) {
            memcpy(p + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(p + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    p[k] = '\0';
    *out = (bare_str_t){p, k};
    return 0;
}

static int set_target(fsrun_t *r, const char *s, size_t n)
{
    int rc = wire_str(r, s, n, &r->out->target.value);
    if (rc)
        return rc;
    r->out->target.present = true;
    return 0;
}

static uint64_t to_ms(struct statx_timestamp t)
{
    if (t.tv_sec < 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000u + t.tv_nsec / 1000000u;
}

/* §6.4 from the inode fd refers to (a symlink itself when fd was opened O_NOFOLLOW). */
static int fill_stat(fsrun_t *r, int fd)
{
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
              STATX_BASIC_STATS | STATX_BTIME, &sx) != 0)
        return errno;
    sx_guest_filesystem_stat_t *st = &r->out->stat.value;
    st->mode = sx.stx_mode;
    st->size = sx.stx_size;
    st->blocks = sx.stx_blocks;
    st->dev = (uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor);
    st->rdev = (uint64_t)makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
    st->is_directory = S_ISDIR(sx.stx_mode);
    st->is_symbolic_link = S_ISLNK(sx.stx_mode);
    st->atime_ms = to_ms(sx.stx_atime);
    st->mtime_ms = to_ms(sx.stx_mtime);
    st->ctime_ms = to_ms(sx.stx_ctime);
    st->birthtime_ms = sx.stx_mask & STATX_BTIME ? to_ms(sx.stx_btime) : st->ctime_ms;
    st->ino = sx.stx_ino;
    st->nlink = sx.stx_nlink;
    struct stat s;
    memset(&s, 0, sizeof s);
    s.st_mode = sx.stx_mode;
    s.st_uid = sx.stx_uid;
    s.st_gid = sx.stx_gid;
    sc_owner_get(r->ctx->host, fd, &s, &st->uid, &st->gid);
    r->out->stat.present = true;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The reading operations                                                                       */

/* Opens path following symlinks and checks op on its realpath (subject, when not NULL). */
static int open_checked(fsrun_t *r, sc_fs_op_t op, const char *perm_label, int *fdp, char *subject)
{
    char real[SC_PATH_MAX + 1];
    int fd = fs_root_open(r, r->path, O_PATH, 0, 0);
    if (fd < 0)
        return fs_fail_errno(r, -fd);
    int rc = fs_fd_path(r, fd, real);
    if (rc) {
        close(fd);
        return fs_fail_errno(r, rc);
    }
    if (fs_check(r, op, perm_label, real) != 0) {
        close(fd);
        return -1;
    }
    if (subject)
        memcpy(subject, real, strlen(real) + 1);
    *fdp = fd;
    return 0;
}

/* Regular files only: EISDIR for a directory, EINVAL for FIFOs, sockets and devices. */
static int regular_only(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return errno;
    if (S_ISDIR(st->st_mode))
        return EISDIR;
    return S_ISREG(st->st_mode) ? 0 : EINVAL;
}

/* Up to want bytes from offset off into the arena, stopping early at end of file. */
static int read_range(fsrun_t *r, int opath_fd, uint64_t off, size_t want)
{
    uint8_t *buf = bare_arena_alloc(r->arena, want + 1, 1);
    if (!buf)
        return fs_fail_errno(r, ENOMEM);
    int fd = fs_reopen(opath_fd, O_RDONLY);
    if (fd < 0)
        return fs_fail_errno(r, -fd);
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return fs_fail_errno(r, e);
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    sc_content_encode(buf, got, r->arena, &r->out->content.value, &r->out->encoding.value);
    if (got && r->out->content.value.len == 0)
        return fs_fail_errno(r, ENOMEM); /* the encoder's allocation failed */
    r->out->content.present = r->out->encoding.present = true;
    return 0;
}

static uint64_t limit_pread(const fsrun_t *r)
{
    const sc_resource_limits_t *l = r->ctx->limits;
    return l && l->max_pread_bytes ? l->max_pread_bytes : DEFAULT_PREAD_BYTES;
}

/*
 * Whether a result carrying n content bytes cannot fit in a response frame: the least it takes
 * (content as UTF-8 text, which encodes as itself; base64 is larger) is past the frame limit.
 */
static bool cannot_fit(const fsrun_t *r, uint64_t n)
{
    const sc_frame_budget_t *f = &r->ctx->frame;
    size_t plen = r->out->path.len;
    /* operation, path, content, encoding; entries, stat, exists and target absent */
    uint64_t least = 1 + bare_uint_size(plen) + plen + 1 + bare_uint_size(n) + n + 2 + 4;
    return f->limit && (n > f->limit || f->overhead + least > f->limit);
}

__attribute__((format(printf, 2, 3))) static int fail_frame(fsrun_t *r, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return fail_code(r, "frame_too_large", text);
}

static int op_read_file(fsrun_t *r)
{
    int fd;
    struct stat st;
    if (open_checked(r, SC_FS_READ, "read", &fd, NULL) != 0)
        return -1;
    int err = regular_only(fd, &st);
    uint64_t limit = limit_pread(r);
    int rc;
    if (err) {
        rc = fs_fail_errno(r, err);
    } else if ((uint64_t)st.st_size > limit) {
        /* a response must fit in a frame: hosts read big files with PREAD */
        char q[2 * MSG_PATH_MAX + 32];
        quoted_paths(r, q, sizeof q);
        rc = fs_fail_text(r, EINVAL, "file size %jd exceeds configured limit %" PRIu64 ", %s %s",
                          (intmax_t)st.st_size, limit, r->label, q);
    } else if (cannot_fit(r, (uint64_t)st.st_size)) {
        /* refused before it is read: nothing of it would reach the host */
        char q[2 * MSG_PATH_MAX + 32];
        quoted_paths(r, q, sizeof q);
        rc = fail_frame(r,
                        "file size %jd cannot fit in a response frame: the frame limit is %" PRIu64
                        " bytes; read it in parts with PREAD and a smaller len, %s %s",
                        (intmax_t)st.st_size, r->ctx->frame.limit, r->label, q);
    } else {
        /* the size fstat saw: a file growing meanwhile is read as it was */
        rc = read_range(r, fd, 0, (size_t)st.st_size);
    }
    close(fd);
    return rc;
}

static int op_pread(fsrun_t *r, uint64_t off, uint64_t len)
{
    uint64_t limit = limit_pread(r);
    if (len > limit)
        return fs_fail_text(r, EINVAL, "pread length %" PRIu64 " exceeds configured limit %" PRIu64,
                            len, limit);
    if (off > INT64_MAX)
        return fs_fail_errno(r, EINVAL);
    int fd;
    struct stat st;
    if (open_checked(r, SC_FS_READ, "read", &fd, NULL) != 0)
        return -1;
    int rc = regular_only(fd, &st);
    if (rc) {
        close(fd);
        return fs_fail_errno(r, rc);
    }
    uint64_t size = (uint64_t)st.st_size, avail = off < size ? size - off : 0;
    uint64_t want = avail < len ? avail : len;
    if (cannot_fit(r, want)) {
        close(fd);
        return fail_frame(r,
                          "pread of %" PRIu64 " bytes cannot fit in a response frame: the frame "
                          "limit is %" PRIu64 " bytes; use a smaller len",
                          want, r->ctx->frame.limit);
    }
    rc = read_range(r, fd, off, (size_t)want);
    close(fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    const bare_str_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int op_read_dir(fsrun_t *r)
{
    int fd;
    if (open_checked(r, SC_FS_READDIR, "readdir", &fd, NULL) != 0)
        return -1;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (err) {
        close(fd);
        return fs_fail_errno(r, err);
    }
    int dfd = fs_reopen(fd, O_RDONLY | O_DIRECTORY);
    close(fd);
    DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
    if (!d) {
        err = dfd < 0 ? -dfd : errno;
        if (dfd >= 0)
            close(dfd);
        return fs_fail_errno(r, err);
    }
    const sc_resource_limits_t *l = r->ctx->limits;
    uint64_t max = l && l->max_readdir_entries ? l->max_readdir_entries : DEFAULT_READDIR_ENTRIES;
    bare_str_t *items = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            err = errno;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n >= max) {
            err = -1;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            bare_str_t *ni = realloc(items, ncap * sizeof *ni);
            if (!ni) {
                err = ENOMEM;
                break;
            }
            items = ni;
            cap = ncap;
        }
        if ((err = wire_str(r, e->d_name, strlen(e->d_name), &items[n])) != 0)
            break;
        n++;
    }
    closedir(d);
    if (err == -1) {
        free(items);
        char q[MSG_PATH_MAX + 8];
        quote_path(r->req->path.ptr, r->req->path.len, q, sizeof q);
        return fs_fail_text(
            r, ENOMEM, "directory listing for '%s' exceeds configured limit of %" PRIu64 " entries",
            q, max);
    }
    bare_str_t *arr = n ? bare_arena_alloc(r->arena, n * sizeof *arr, _Alignof(bare_str_t)) : NULL;
    if (err || (n && !arr)) {
        free(items);
        return fs_fail_errno(r, err ? err : ENOMEM);
    }
    if (n) {
        qsort(items, n, sizeof *items, cmp_str);
        memcpy(arr, items, n * sizeof *arr);
    }
    free(items);
    r->out->entries.present = true;
    r->out->entries.value = (sx_str_list_t){n, arr};
    return 0;
}

/* Opens path itself, not following a final symlink; O_PATH. */
static int open_nofollow(fsrun_t *r, const char *path, int *fdp)
{
    if (strcmp(path, "/") == 0) {
        int fd = fs_root_open(r, "/", O_PATH, 0, 0);
        *fdp = fd;
        return fd < 0 ? -fd : 0;
    }
    int pfd;
    const char *name;
    int rc = fs_open_parent(r, path, &pfd, &name);
    if (rc)
        return rc;
    int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    rc = fd < 0 ? errno : 0;
    close(pfd);
    *fdp = fd;
    return rc;
}

static int op_stat(fsrun_t *r, bool follow)
{
    int fd, rc;
    if (follow) {
        if (open_checked(r, SC_FS_STAT, "stat", &fd, NULL) != 0)
            return -1;
    } else {
        /* lstat is checked on the lexical path, before anything is resolved */
        if (fs_check(r, SC_FS_STAT, "stat", r->path) != 0)
            return -1;
        if ((rc = open_nofollow(r, r->path, &fd)) != 0)
            return fs_fail_errno(r, rc);
    }
    rc = fill_stat(r, fd);
    close(fd);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* Errors while looking are "false"; so is a denial. The final component is not followed. */
static int op_exists(fsrun_t *r)
{
    char subject[SC_PATH_MAX + 1];
    bool exists = false;
    int fd = fs_root_open(r, r->path, O_PATH, 0, 0);
    int rc = fd >= 0 ? fs_fd_path(r, fd, subject) : -1;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        rc = fs_dest_form(r, r->path, subject);
    if (rc == 0 && sc_policy_allows(r->ctx->policy, SC_DOMAIN_FS, "stat", subject, NULL, 0) &&
        open_nofollow(r, r->path, &fd) == 0) {
        exists = true;
        close(fd);
    }
    r->out->exists.present = true;
    r->out->exists.value = exists;
    return 0;
}

static int op_realpath(fsrun_t *r)
{
    int fd;
    char real[SC_PATH_MAX + 1];
    if (open_checked(r, SC_FS_READ, "read", &fd, real) != 0)
        return -1;
    close(fd);
    int rc = set_target(r, real, strlen(real));
    return rc ? fs_fail_errno(r, rc) : 0;
}

static int op_read_link(fsrun_t *r)
{
    /* readlink is checked on the lexical path */
    if (fs_check(r, SC_FS_READ, "readlink", r->path) != 0)
        return -1;
    if (strcmp(r->path, "/") == 0)
        return fs_fail_errno(r, EINVAL);
    int pfd;
    const char *name;
    int rc = fs_open_parent(r, r->path, &pfd, &name);
    if (rc)
        return fs_fail_errno(r, rc);
    char buf[SC_PATH_MAX + 1];
    ssize_t n = readlinkat(pfd, name, buf, sizeof buf);
    rc = n < 0 ? errno : (size_t)n >= sizeof buf ? ENAMETOOLONG : 0;
    close(pfd);
    if (rc == 0)
        rc = set_target(r, buf, (size_t)n);
    return rc ? fs_fail_errno(r, rc) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The call                                                                                     */

const char *sc_fs_missing_field(const sx_guest_filesystem_call_request_t *q)
{
    switch (q->operation) {
    case SX_GUEST_FILESYSTEM_OPERATION_RENAME:
    case SX_GUEST_FILESYSTEM_OPERATION_LINK:
        return q->destination_path.present ? NULL : "requires a destination_path";
    case SX_GUEST_FILESYSTEM_OPERATION_SYMLINK:
        return q->target.present ? NULL : "requires a target";
    case SX_GUEST_FILESYSTEM_OPERATION_CHMOD:
        return q->mode.present ? NULL : "requires a mode";
    case SX_GUEST_FILESYSTEM_OPERATION_CHOWN:
        return !q->uid.present ? "requires a uid" : !q->gid.present ? "requires a gid" : NULL;
    case SX_GUEST_FILESYSTEM_OPERATION_UTIMES:
        return !q->atime_ms.present   ? "requires atime_ms"
               : !q->mtime_ms.present ? "requires mtime_ms"
                                      : NULL;
    case SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE:
        return q->len.present ? NULL : "requires len";
    case SX_GUEST_FILESYSTEM_OPERATION_PREAD:
        return !q->offset.present ? "requires offset" : !q->len.present ? "requires len" : NULL;
    default:
        return NULL;
    }
}

static int dispatch(fsrun_t *r, const uint8_t *data, size_t datalen, const char *target)
{
    const sx_guest_filesystem_call_request_t *q = r->req;
    switch (q->operation) {
    case SX_GUEST_FILESYSTEM_OPERATION_READ_FILE:
        return op_read_file(r);
    case SX_GUEST_FILESYSTEM_OPERATION_PREAD:
        return op_pread(r, q->offset.value, q->len.value);
    case SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE:
        return fs_op_write_file(r, data, datalen);
    case SX_GUEST_FILESYSTEM_OPERATION_CREATE_DIR:
        return fs_op_mkdir(r, false);
    case SX_GUEST_FILESYSTEM_OPERATION_MKDIR:
        return fs_op_mkdir(r, q->recursive);
    case SX_GUEST_FILESYSTEM_OPERATION_EXISTS:
        return op_exists(r);
    case SX_GUEST_FILESYSTEM_OPERATION_STAT:
        return op_stat(r, true);
    case SX_GUEST_FILESYSTEM_OPERATION_LSTAT:
        return op_stat(r, false);
    case SX_GUEST_FILESYSTEM_OPERATION_READ_DIR:
        return op_read_dir(r);
    case SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE:
        return fs_op_remove(r, false);
    case SX_GUEST_FILESYSTEM_OPERATION_REMOVE_DIR:
        return fs_op_remove(r, true);
    case SX_GUEST_FILESYSTEM_OPERATION_RENAME:
        return fs_op_rename(r);
    case SX_GUEST_FILESYSTEM_OPERATION_REALPATH:
        return op_realpath(r);
    case SX_GUEST_FILESYSTEM_OPERATION_SYMLINK:
        return fs_op_symlink(r, target);
    case SX_GUEST_FILESYSTEM_OPERATION_READ_LINK:
        return op_read_link(r);
    case SX_GUEST_FILESYSTEM_OPERATION_LINK:
        return fs_op_link(r);
    case SX_GUEST_FILESYSTEM_OPERATION_CHMOD:
        return fs_op_chmod(r, q->mode.value);
    case SX_GUEST_FILESYSTEM_OPERATION_CHOWN:
        return fs_op_chown(r, q->uid.value, q->gid.value);
    case SX_GUEST_FILESYSTEM_OPERATION_UTIMES:
        return fs_op_utimes(r, q->atime_ms.value, q->mtime_ms.value);
    case SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE:
        return fs_op_truncate(r, q->len.value);
    }
    return fail_state(r, "unsupported guest filesystem operation %d", (int)q->operation);
}

/* The echoed request strings, copied so the response does not borrow the request's buffer. */
static int echo(fsrun_t *r, bare_str_t s, bare_str_t *out)
{
    char *p = bare_arena_alloc(r->arena, s.len + 1, 1);
    if (!p)
        return -1;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    *out = (bare_str_t){p, s.len};
    return 0;
}

/* Checks the request's fields and paths, then runs the operation. */
static int run(fsrun_t *r)
{
    const sx_guest_filesystem_call_request_t *req = r->req;
    if (!sx_guest_filesystem_operation_is_valid((uint64_t)req->operation))
        return fail_state(r, "unsupported guest filesystem operation %d", (int)req->operation);
    const struct op_info *info = &op_info[req->operation];
    r->label = info->label;
    if (echo(r, req->path, &r->out->path) != 0)
        return fs_fail_errno(r, ENOMEM);

    /* Required fields first: they are the host's mistake, whatever the path. */
    char qpath[MSG_PATH_MAX + 8];
    quote_path(req->path.ptr, req->path.len, qpath, sizeof qpath);
    if (req->operation == SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE && !req->content.present)
        return fail_state(r, "guest filesystem write_file for %s requires content", qpath);
    const char *missing = sc_fs_missing_field(req);
    if (missing)
        return fail_state(r, "guest filesystem %s %s", info->name, missing);
    const uint8_t *data = NULL;
    size_t datalen = 0;
    if (req->operation == SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE) {
        bool b64 = req->encoding.present &&
                   req->encoding.value == SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
        if (sc_content_decode(req->content.value, b64, r->arena, &data, &datalen) != 0)
            return fail_state(r, "invalid base64 guest filesystem content for %s", qpath);
    }
    const char *target = NULL;
    if (req->operation == SX_GUEST_FILESYSTEM_OPERATION_SYMLINK) {
        bare_str_t t = req->target.value;
        if (t.len && memchr(t.ptr, '\0', t.len))
            return fs_fail_errno(r, EINVAL); /* a C string cannot carry it */
        if (echo(r, t, &r->out->target.value) != 0)
            return fs_fail_errno(r, ENOMEM);
        target = r->out->target.value.ptr;
    }

    bool two = req->operation == SX_GUEST_FILESYSTEM_OPERATION_RENAME ||
               req->operation == SX_GUEST_FILESYSTEM_OPERATION_LINK;
    int err = sc_path_normalize(req->path.ptr, req->path.len, r->path);
    if (err == 0 && two) {
        const bare_str_t *d = &req->destination_path.value;
        err = sc_path_normalize(d->ptr, d->len, r->dest);
        r->has_dest = true;
    }
    if (err)
        return fs_fail_errno(r, err);
    /* the root is a read-only mount too; this gives the message before any lookup */
    if (info->mutates && r->ctx->read_only)
        return fs_fail_errno(r, EROFS);
    if (dispatch(r, data, datalen, target) != 0)
        return -1;
    if (two) {
        if (echo(r, req->destination_path.value, &r->out->target.value) != 0)
            return fs_fail_errno(r, ENOMEM);
        r->out->target.present = true;
    }
    if (req->operation == SX_GUEST_FILESYSTEM_OPERATION_SYMLINK)
        r->out->target.present = true;
    return 0;
}

int sc_fs_call(const sc_fsctx_t *ctx, const sx_guest_filesystem_call_request_t *req,
               bare_arena_t *arena, sx_guest_filesystem_result_response_t *out, char *code,
               size_t codelen, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    out->operation = req->operation;
    fsrun_t *r = calloc(1, sizeof *r); /* ~16 KiB of paths: kept off small thread stacks */
    if (!r) {
        snprintf(code, codelen, "kernel_error");
        snprintf(msg, msglen, "ENOMEM: not enough memory");
        return -1;
    }
    r->ctx = ctx;
    r->req = req;
    r->arena = arena;
    r->out = out;
    r->code = code;
    r->codelen = codelen;
    r->msg = msg;
    r->msglen = msglen;
    int rc = run(r);
    free(r);
    return rc;
}
