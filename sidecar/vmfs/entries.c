/*
 * entries.c - RootFilesystemEntry lists and real trees: building a tree from entries (always
 * resolving inside the tree's root, never through the host's), and listing a tree as entries
 * (depth first, children sorted, symlinks not followed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"
#include "fs.h"

#define WALK_DEPTH_MAX 1024

static int openat2_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (__u64)(unsigned)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    /* "/" itself: the root fd, duplicated */
    const char *rel = path;
    while (*rel == '/')
        rel++;
    return (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
}

static int fail(char *err, size_t errlen, int e, const char *what, const char *path)
{
    snprintf(err, errlen, "%s: %s, %s '%s'", sc_errno_name(e), sc_errno_text(e), what, path);
    errno = e;
    return -1;
}

/* Splits "/a/b/c" into its parent "/a/b" and name "c" (path normalized, not "/"). */
static void split(const char *path, char *parent, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t n = (size_t)(slash - path);
    memcpy(parent, path, n ? n : 1);
    parent[n ? n : 1] = '\0';
    *name = slash + 1;
}

int sc_open_dir_in_root(const sc_host_t *host, int rootfd, const char *path, bool create,
                        uint32_t owner)
{
    int fd = openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
    if (fd >= 0 || errno != ENOENT || !create || strcmp(path, "/") == 0)
        return fd;
    char parent[SC_PATH_MAX + 1];
    const char *name;
    split(path, parent, &name);
    int pfd = sc_open_dir_in_root(host, rootfd, parent, true, owner);
    if (pfd < 0)
        return -1;
    if (mkdirat(pfd, name, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        close(pfd);
        errno = e;
        return -1;
    }
    if (sc_owner_set(host, pfd, name, owner, owner) != 0 && errno != EEXIST) {
        int e = errno;
        close(pfd);
        errno = e;
        return -1;
    }
    close(pfd);
    return openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
}

static size_t depth_of(const char *path)
{
    size_t d = 0;
    for (const char *p = path; *p; p++)
        d += *p == '/';
    return strcmp(path, "/") == 0 ? 0 : d;
}

void sc_entries_sort(sc_entry_t *entries, size_t n)
{
    /* insertion sort: stable, and entry lists are modest */
    for (size_t i = 1; i < n; i++) {
        sc_entry_t e = entries[i];
        size_t de = depth_of(e.path);
        size_t j = i;
        while (j > 0) {
            size_t dp = depth_of(entries[j - 1].path);
            if (dp < de || (dp == de && strcmp(entries[j - 1].path, e.path) <= 0))
                break;
            entries[j] = entries[j - 1];
            j--;
        }
        entries[j] = e;
    }
}

static bool reserved(const char *path)
{
    static const char *const prefixes[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

/* mode & 07777 (type bits in an entry's mode are accepted and dropped) */
static mode_t perm_bits(uint32_t mode)
{
    return (mode_t)(mode & 07777);
}

/*
 * Mode and owner for an entry open as fd (never a symlink: chmod has no meaning there). The
 * descriptor names exactly the inode that was created or checked, so a name the guest swaps
 * for a symlink meanwhile cannot redirect the change.
 */
static int set_attrs(const sc_host_t *host, int fd, const sc_entry_t *e)
{
    if (fchmod(fd, perm_bits(e->mode)) != 0)
        return -1;
    return sc_owner_set(host, fd, "", e->uid, e->gid);
}

/*
 * A directory entry: made when missing, then opened without following (a symlink or another
 * type there is EEXIST, as mkdir(2) says) and changed through that descriptor.
 */
static int apply_dir(const sc_host_t *host, int pfd, const char *name, const sc_entry_t *e)
{
    if (mkdirat(pfd, name, perm_bits(e->mode)) != 0 && errno != EEXIST)
        return -1;
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            errno = EEXIST;
        return -1;
    }
    int rc = set_attrs(host, fd, e);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/*
 * A file entry replaces a file, a symlink or a special file of that name (never writing
 * through a symlink, never opening a FIFO or device: O_NOFOLLOW, O_NONBLOCK and a type check
 * on the descriptor), but not a directory.
 */
static int apply_file(const sc_host_t *host, int pfd, const char *name, const sc_entry_t *e)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        struct stat st;
        bool exists = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return -1;
        }
        if (exists && !S_ISREG(st.st_mode) && unlinkat(pfd, name, 0) != 0 && errno != ENOENT)
            return -1;
        int fd = openat(pfd, name,
                        O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                        perm_bits(e->mode));
        if (fd < 0) {
            /* something else was swapped in between the look and the open: look again */
            if (errno == ELOOP || errno == ENXIO || errno == EISDIR || errno == EWOULDBLOCK)
                continue;
            return -1;
        }
        int rc = fstat(fd, &st) != 0 ? -1 : S_ISREG(st.st_mode) ? 0 : (errno = EEXIST, -1);
        if (rc == 0)
            rc = ftruncate(fd, 0);
        if (rc == 0)
            rc = sc_write_all(fd, e->content, e->content_len);
        if (rc == 0)
            rc = set_attrs(host, fd, e);
        int saved = errno;
        close(fd);
        errno = saved;
        return rc;
    }
    errno = EBUSY; /* the name keeps changing under us */
    return -1;
}

/* A symlink entry; its owner is set on the link itself, through an O_PATH descriptor. */
static int apply_symlink(const sc_host_t *host, int pfd, const char *name, const sc_entry_t *e)
{
    if (symlinkat(e->target, pfd, name) != 0)
        return -1;
    int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? -1 : S_ISLNK(st.st_mode) ? 0 : (errno = EEXIST, -1);
    if (rc == 0)
        rc = sc_owner_set(host, fd, "", e->uid, e->gid);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int apply_one(const sc_host_t *host, int rootfd, const sc_entry_t *e, uint32_t parent_owner,
                     char *err, size_t errlen)
{
    char path[SC_PATH_MAX + 1], parent[SC_PATH_MAX + 1];
    const char *name;
    int rc = sc_path_normalize(e->path, strlen(e->path), path);
    if (rc)
        return fail(err, errlen, rc, "create", e->path);
    if (strcmp(path, "/") == 0) {
        if (e->kind != SC_ENTRY_DIRECTORY)
            return fail(err, errlen, EISDIR, "create", path);
        int fd = openat2_in_root(rootfd, "/", O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            return fail(err, errlen, errno, "open", path);
        rc = set_attrs(host, fd, e);
        int saved = errno;
        close(fd);
        return rc ? fail(err, errlen, saved, "chmod", path) : 0;
    }
    if (e->kind == SC_ENTRY_SYMLINK && (!e->target || !e->target[0])) {
        snprintf(err, errlen, "EINVAL: symlink entry %s requires a target", path);
        errno = EINVAL;
        return -1;
    }
    split(path, parent, &name);
    int pfd = sc_open_dir_in_root(host, rootfd, parent, true, parent_owner);
    if (pfd < 0)
        return fail(err, errlen, errno, "mkdir", parent);
    const char *what = "create";
    switch (e->kind) {
    case SC_ENTRY_DIRECTORY:
        rc = apply_dir(host, pfd, name, e);
        what = "mkdir";
        break;
    case SC_ENTRY_FILE:
        rc = apply_file(host, pfd, name, e);
        what = "open";
        break;
    case SC_ENTRY_SYMLINK:
        rc = apply_symlink(host, pfd, name, e);
        what = "symlink";
        break;
    }
    int saved = errno;
    close(pfd);
    return rc ? fail(err, errlen, saved, what, path) : 0;
}

int sc_entries_apply(const sc_host_t *host, int rootfd, const sc_entry_t *entries, size_t n,
                     uint32_t parent_owner, bool skip_reserved, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (skip_reserved && reserved(entries[i].path))
            continue;
        if (apply_one(host, rootfd, &entries[i], parent_owner, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- walking a tree ---- */

/*
 * Two passes over the tree. The first (measure) reads metadata only and bounds the encoded
 * entry list from below; the second reads contents into entries and keeps the exact encoded
 * size, so neither pass holds much more than the frame the list must fit in.
 */
typedef struct walker {
    const sc_host_t *host;
    const sc_walk_limits_t *lim;
    bare_arena_t *arena;
    bool measure; /* the first pass: nothing is allocated, no content read */
    sx_root_filesystem_entry_t *items;
    size_t len, cap;
    uint64_t count;   /* entries so far */
    uint64_t bytes;   /* file and symlink target bytes so far (max_bytes) */
    uint64_t encoded; /* the encoded list so far: at least (measure), exact (second pass) */
    char *err;
    size_t errlen;
} walker_t;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sx_root_filesystem_entry_t *push(walker_t *w)
{
    if (w->len == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        sx_root_filesystem_entry_t *items =
            bare_arena_alloc(w->arena, cap * sizeof *items, _Alignof(sx_root_filesystem_entry_t));
        if (!items)
            return NULL;
        if (w->len)
            memcpy(items, w->items, w->len * sizeof *items);
        w->items = items;
        w->cap = cap;
    }
    sx_root_filesystem_entry_t *e = &w->items[w->len++];
    sx_root_filesystem_entry_init(e);
    return e;
}

static int too_big(walker_t *w)
{
    snprintf(w->err, w->errlen,
             "ENOSPC: the tree exceeds the snapshot limit of %llu entries or %llu bytes",
             (unsigned long long)w->lim->max_entries, (unsigned long long)w->lim->max_bytes);
    errno = ENOSPC;
    return -1;
}

/*
 * The encoded size of an entry as the walk makes it (mode, uid and gid present) whose file
 * content or symlink target takes n bytes on the wire: exact for n as sent, a lower bound for
 * a file's raw size (UTF-8 text encodes as itself, base64 is larger).
 */
static uint64_t entry_size(size_t path_len, sx_root_filesystem_entry_kind_t kind, uint64_t n)
{
    /* path, kind, 3 x (tag + u32), content/encoding/target tags, executable */
    uint64_t s = bare_uint_size(path_len) + path_len + 1 + 3 * 5 + 3 + 1;
    if (kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE)
        s += bare_uint_size(n) + n + 1; /* content, encoding value */
    else if (kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_SYMLINK)
        s += bare_uint_size(n) + n;
    return s;
}

/* Whether the list plus `more` bytes is past the frame budget. */
static bool over_budget(const walker_t *w, uint64_t more)
{
    const sc_frame_budget_t *f = &w->lim->frame;
    return f->limit && (f->limit <= f->overhead || w->encoded + more > f->limit - f->overhead);
}

/* The refusal of a list that cannot fit: its size so far (plus more) and the frame limit. */
static int frame_refused(walker_t *w, uint64_t more)
{
    const char *what = w->lim->what ? w->lim->what : "the snapshot";
    unsigned long long at_least = w->encoded + more + w->lim->frame.overhead;
    if (w->measure)
        snprintf(w->err, w->errlen,
                 "%s is at least %llu bytes (%llu entries); the frame limit is %llu bytes", what,
                 at_least, (unsigned long long)w->count, (unsigned long long)w->lim->frame.limit);
    else /* base64 content, or a tree that grew since it was measured */
        snprintf(w->err, w->errlen, "%s is at least %llu bytes; the frame limit is %llu bytes",
                 what, at_least, (unsigned long long)w->lim->frame.limit);
    errno = EMSGSIZE;
    return -1;
}

/*
 * The content of the file dirfd/name into e. The descriptor must name a regular file (the
 * guest may have swapped the name since the walk looked) and its size must keep the list
 * within the budget: no more is read than that size.
 */
static int read_content(walker_t *w, int dirfd, const char *name, const char *path,
                        sx_root_filesystem_entry_t *e)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return fail(w->err, w->errlen, errno == ELOOP ? EBUSY : errno, "read", path);
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EBUSY;
    if (err) {
        close(fd);
        return fail(w->err, w->errlen, err, "read", path);
    }
    size_t plen = strlen(path), size = (size_t)st.st_size;
    w->bytes += (uint64_t)size;
    if (w->bytes > w->lim->max_bytes) {
        close(fd);
        return too_big(w);
    }
    if (over_budget(w, entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE, size))) {
        close(fd);
        return frame_refused(w, entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE, size));
    }
    uint8_t *buf = bare_arena_alloc(w->arena, size + 1, 1);
    size_t got = buf ? sc_read_upto(fd, buf, size) : 0;
    close(fd);
    if (!buf)
        return fail(w->err, w->errlen, ENOMEM, "read", path);
    e->content.present = true;
    e->encoding.present = true;
    sc_content_encode(buf, got, w->arena, &e->content.value, &e->encoding.value);
    if (got && e->content.value.len == 0)
        return fail(w->err, w->errlen, ENOMEM, "read", path);
    /* base64 is larger than the file */
    uint64_t n = entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE, e->content.value.len);
    if (over_budget(w, n))
        return frame_refused(w, n);
    w->encoded += n;
    return 0;
}

static int walk_dir(walker_t *w, int dirfd, const char *path, int depth);

/* Reads the target of the symlink name into target and counts it against the byte limit;
 * returns its length, or -1 with the error set. */
static ssize_t read_target(walker_t *w, int dirfd, const char *name, const char *path, char *target,
                           size_t size)
{
    ssize_t n = readlinkat(dirfd, name, target, size - 1);
    if (n < 0)
        return fail(w->err, w->errlen, errno, "readlink", path);
    w->bytes += (uint64_t)n;
    return n;
}

/* The first pass's part of an entry: sizes only. */
static int measure(walker_t *w, int dirfd, const char *name, const char *path,
                   const struct stat *st)
{
    size_t plen = strlen(path);
    if (S_ISREG(st->st_mode)) {
        w->bytes += (uint64_t)st->st_size;
        if (w->bytes > w->lim->max_bytes)
            return too_big(w);
        w->encoded += entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE, (uint64_t)st->st_size);
    } else if (S_ISLNK(st->st_mode)) {
        char target[SC_PATH_MAX + 1];
        ssize_t n = read_target(w, dirfd, name, path, target, sizeof target);
        if (n < 0)
            return -1;
        w->encoded += entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_SYMLINK, (uint64_t)n);
    } else {
        w->encoded += entry_size(plen, SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY, 0);
    }
    return 0;
}

/* The second pass's part of an entry: it is pushed with its metadata and content. */
static int fill(walker_t *w, int dirfd, const char *name, const char *path, const struct stat *st)
{
    sx_root_filesystem_entry_t *e = push(w);
    if (!e)
        return fail(w->err, w->errlen, ENOMEM, "snapshot", path);
    const char *copy = bare_arena_strdup(w->arena, bare_str_from_cstr(path));
    if (!copy)
        return fail(w->err, w->errlen, ENOMEM, "snapshot", path);
    e->path = bare_str_from_cstr(copy);
    e->mode.present = e->uid.present = e->gid.present = true;
    e->mode.value = (uint32_t)st->st_mode;
    int fd = openat(dirfd, name[0] ? name : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    uint32_t uid = 0, gid = 0;
    if (fd >= 0) {
        sc_owner_get(w->host, fd, st, &uid, &gid);
        close(fd);
    }
    e->uid.value = uid;
    e->gid.value = gid;
    if (S_ISREG(st->st_mode)) {
        e->kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
        e->executable = (st->st_mode & 0111) != 0;
        if (read_content(w, dirfd, name, path, e) != 0)
            return -1;
    } else if (S_ISLNK(st->st_mode)) {
        e->kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_SYMLINK;
        char target[SC_PATH_MAX + 1];
        ssize_t n = read_target(w, dirfd, name, path, target, sizeof target);
        if (n < 0)
            return -1;
        e->target.present = true;
        e->target.value.ptr = bare_arena_strdup(w->arena, (bare_str_t){target, (size_t)n});
        e->target.value.len = (size_t)n;
        w->encoded += entry_size(e->path.len, e->kind, (uint64_t)n);
    } else {
        e->kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY;
        w->encoded += entry_size(e->path.len, e->kind, 0);
    }
    if (over_budget(w, 0))
        return frame_refused(w, 0);
    return 0;
}

static int add(walker_t *w, int dirfd, const char *name, const char *path, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) != 0)
        return fail(w->err, w->errlen, errno, "lstat", path);
    /* Only files, directories and symlinks have a form in a snapshot. */
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
        return 0;
    if (w->count >= w->lim->max_entries)
        return too_big(w);
    w->count++;
    int rc = w->measure ? measure(w, dirfd, name, path, &st) : fill(w, dirfd, name, path, &st);
    if (rc != 0)
        return rc;
    if (!S_ISDIR(st.st_mode))
        return 0;
    int sub =
        name[0] ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(dirfd);
    if (sub < 0)
        return fail(w->err, w->errlen, errno, "opendir", path);
    rc = walk_dir(w, sub, path, depth + 1);
    close(sub);
    return rc;
}

static int walk_dir(walker_t *w, int dirfd, const char *path, int depth)
{
    if (depth > WALK_DEPTH_MAX)
        return fail(w->err, w->errlen, ELOOP, "walk", path);
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return fail(w->err, w->errlen, errno, "opendir", path);
    }
    rewinddir(d); /* the offset is shared with dirfd: the first pass read it to the end */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* Entries carry paths as text: a name a guest process made of other bytes cannot be
         * listed faithfully, so the walk says so rather than listing another name. */
        if (!bare_utf8_valid(de->d_name, strlen(de->d_name))) {
            rc = fail(w->err, w->errlen, EILSEQ, "a file name that is not UTF-8 in", path);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) {
                rc = fail(w->err, w->errlen, ENOMEM, "readdir", path);
                break;
            }
            names = p;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = fail(w->err, w->errlen, ENOMEM, "readdir", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1 && !w->measure) /* sizes do not depend on the order */
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char child[SC_PATH_MAX + 1];
        int k = snprintf(child, sizeof child, "%s%s%s", path, strcmp(path, "/") ? "/" : "",
                         names[i]);
        if (k < 0 || (size_t)k >= sizeof child)
            rc = fail(w->err, w->errlen, ENAMETOOLONG, "walk", path);
        else
            rc = add(w, dirfd, names[i], child, depth);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int sc_entries_walk(const sc_host_t *host, int dirfd, const sc_walk_limits_t *lim,
                    bare_arena_t *arena, sx_root_filesystem_entry_list_t *out, char *err,
                    size_t errlen)
{
    walker_t w;
    memset(&w, 0, sizeof w);
    w.host = host;
    w.lim = lim;
    w.arena = arena;
    w.err = err;
    w.errlen = errlen;
    out->items = NULL;
    out->len = 0;
    int root = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return fail(err, errlen, errno, "opendir", "/");
    /* metadata first: a list that cannot fit is refused before any content is read */
    w.measure = true;
    int rc = add(&w, root, "", "/", 0);
    if (rc == 0 && over_budget(&w, 0))
        rc = frame_refused(&w, 0);
    if (rc == 0) {
        size_t n = (size_t)w.count;
        w.measure = false;
        w.count = w.bytes = w.encoded = 0;
        /* room for the entries measured, so the list is not copied as it grows */
        w.items =
            n ? bare_arena_alloc(arena, n * sizeof *w.items, _Alignof(sx_root_filesystem_entry_t))
              : NULL;
        w.cap = w.items ? n : 0;
        rc = add(&w, root, "", "/", 0);
    }
    int saved = errno;
    close(root);
    errno = saved;
    out->items = w.items;
    out->len = w.len;
    return rc;
}

int sc_entries_from_wire(const sx_root_filesystem_entry_list_t *in, bare_arena_t *arena,
                         sc_entry_list_t *out, char *err, size_t errlen)
{
    out->len = 0;
    out->items = in->len ? bare_arena_alloc(arena, in->len * sizeof *out->items,
                                            _Alignof(sc_entry_t))
                         : NULL;
    if (in->len && !out->items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->len; i++) {
        const sx_root_filesystem_entry_t *w = &in->items[i];
        sc_entry_t *e = &out->items[i];
        memset(e, 0, sizeof *e);
        e->path = bare_arena_strdup(arena, w->path);
        if (!e->path || memchr(w->path.ptr, 0, w->path.len)) {
            snprintf(err, errlen, "root filesystem entry %zu has an invalid path", i);
            return -1;
        }
        switch (w->kind) {
        case SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY:
            e->kind = SC_ENTRY_DIRECTORY;
            e->mode = 0755;
            break;
        case SX_ROOT_FILESYSTEM_ENTRY_KIND_SYMLINK:
            e->kind = SC_ENTRY_SYMLINK;
            e->mode = 0777;
            break;
        default:
            e->kind = SC_ENTRY_FILE;
            e->mode = w->executable ? 0755 : 0644;
            break;
        }
        if (w->mode.present)
            e->mode = w->mode.value;
        e->uid = w->uid.present ? w->uid.value : 0;
        e->gid = w->gid.present ? w->gid.value : 0;
        e->executable = w->executable;
        if (w->target.present)
            e->target = bare_arena_strdup(arena, w->target.value);
        if (w->content.present && e->kind == SC_ENTRY_FILE) {
            bool b64 = w->encoding.present &&
                       w->encoding.value == SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
            if (sc_content_decode(w->content.value, b64, arena, &e->content, &e->content_len) !=
                0) {
                snprintf(err, errlen, "invalid base64 root filesystem content for %s", e->path);
                return -1;
            }
            e->has_content = true;
        }
        out->len++;
    }
    return 0;
}
