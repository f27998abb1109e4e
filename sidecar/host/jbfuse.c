/*
 * jbfuse.c - guest processes reach a js_bridge mount through FUSE: the sidecar serves the
 * kernel's requests on its own loop (libfuse's low-level API over a non-blocking /dev/fuse
 * descriptor it opened itself, fuse_session_custom_io), turns each into bridge calls, and
 * answers when the host has. Nothing waits: another VM's requests, and this VM's other guests,
 * are served while a call is at the host.
 *
 * The host's tree is path-based; the kernel's is inode-based. Each node the kernel knows (it
 * looked it up) has an id of ours, its parent and its name, so a rename moves one node and its
 * whole subtree follows; a removed name leaves its node detached, so a new file of that name
 * gets a new id. Ids are never reused. Nothing is cached: every lookup, attribute and read is
 * asked of the host (entry and attribute timeouts 0, no writeback cache), as the reference asks
 * it for every operation.
 *
 * Ownership: stat's uid/gid are the host's guest ids; the kernel reads them in the sidecar's
 * user namespace, where guest id N is the VM range's base + N, so guests see what the host
 * said (ids outside the range show as nobody). Mode bits are not enforced (no
 * default_permissions): as in the reference only the fs policy decides, through each guest's
 * Landlock rules; a read-only mount is read-only in the kernel and here.
 */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "jbint.h"
#include "log.h"
#include "sidecar.h"

#define MAX_NODES 131072u /* per mount: the kernel forgets nodes it no longer needs */
#define MAX_DIRS 4096u    /* open directory handles per mount */
#define MAX_CHUNK (128u << 10)
#define MIN_CHUNK 4096u
#define BATCH 64 /* requests read per wakeup, so one busy mount cannot starve the others */

typedef struct jbnode {
    struct jbnode *id_next, *name_next;
    uint64_t id;
    struct jbnode *parent; /* NULL for the root */
    char *name;
    uint64_t nlookup; /* the kernel's references */
    size_t nchildren; /* nodes naming this one as parent */
    bool hashed;      /* reachable by (parent, name): not removed or replaced */
} jbnode_t;

typedef struct jbdir {
    struct jbdir *next;
    uint64_t id;
    char **names;
    unsigned char *types; /* DT_DIR, DT_LNK, DT_REG */
    size_t n;
} jbdir_t;

struct sc_jbfuse {
    sc_jbfuse_t *next; /* the mount's other connections */
    sc_jsbridge_t *jb;
    struct fuse_session *se;
    sc_watch_t *watch;
    struct fuse_buf buf; /* requests are read into buf.mem, bufcap bytes */
    size_t bufcap;
    bool dead;      /* the kernel ended the connection (its mount is gone) */
    size_t pending; /* requests not answered yet */
    uint32_t chunk; /* the largest read or write: fits a frame as base64 */
    uint32_t id_base, id_count;
    jbnode_t *root;
    jbnode_t **by_id, **by_name;
    size_t nbuckets, nnodes;
    uint64_t next_id;
    jbdir_t *dirs;
    size_t ndirs;
    uint64_t next_dir;
};

/* ---- nodes ---- */

static size_t hash_id(const sc_jbfuse_t *f, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (f->nbuckets - 1);
}

static size_t hash_name(const sc_jbfuse_t *f, uint64_t parent, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull ^ parent;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29)) & (f->nbuckets - 1);
}

static jbnode_t *node_get(const sc_jbfuse_t *f, uint64_t id)
{
    for (jbnode_t *n = f->by_id[hash_id(f, id)]; n; n = n->id_next)
        if (n->id == id)
            return n;
    return NULL;
}

static jbnode_t *node_find(const sc_jbfuse_t *f, const jbnode_t *parent, const char *name)
{
    for (jbnode_t *n = f->by_name[hash_name(f, parent->id, name)]; n; n = n->name_next)
        if (n->parent == parent && strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

static void name_link(sc_jbfuse_t *f, jbnode_t *n)
{
    size_t h = hash_name(f, n->parent->id, n->name);
    n->name_next = f->by_name[h];
    f->by_name[h] = n;
    n->hashed = true;
}

static void name_unlink(sc_jbfuse_t *f, jbnode_t *n)
{
    if (!n->hashed)
        return;
    for (jbnode_t **pp = &f->by_name[hash_name(f, n->parent->id, n->name)]; *pp;
         pp = &(*pp)->name_next) {
        if (*pp == n) {
            *pp = n->name_next;
            break;
        }
    }
    n->hashed = false;
}

/* Doubles the tables when they fill up (a failed grow only makes chains longer). */
static void grow(sc_jbfuse_t *f)
{
    if (f->nnodes < f->nbuckets * 2)
        return;
    size_t nb = f->nbuckets * 2;
    jbnode_t **ids = calloc(nb, sizeof *ids), **names = calloc(nb, sizeof *names);
    if (!ids || !names) {
        free(ids);
        free(names);
        return;
    }
    jbnode_t **old_ids = f->by_id, **old_names = f->by_name;
    size_t ob = f->nbuckets;
    f->by_id = ids;
    f->by_name = names;
    f->nbuckets = nb;
    for (size_t i = 0; i < ob; i++) {
        for (jbnode_t *n = old_ids[i], *next; n; n = next) {
            next = n->id_next;
            size_t h = hash_id(f, n->id);
            n->id_next = ids[h];
            ids[h] = n;
            if (n->hashed)
                name_link(f, n);
        }
    }
    free(old_ids);
    free(old_names);
}

static jbnode_t *node_add(sc_jbfuse_t *f, jbnode_t *parent, const char *name)
{
    if (f->nnodes >= MAX_NODES)
        return NULL;
    jbnode_t *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strdup(name))) {
        free(n);
        return NULL;
    }
    n->id = ++f->next_id;
    n->parent = parent;
    parent->nchildren++;
    size_t h = hash_id(f, n->id);
    n->id_next = f->by_id[h];
    f->by_id[h] = n;
    name_link(f, n);
    f->nnodes++;
    grow(f);
    return n;
}

/* Frees n (and then its parent, and so on) once neither the kernel nor a child needs it. */
static void node_release(sc_jbfuse_t *f, jbnode_t *n)
{
    while (n && n != f->root && n->nlookup == 0 && n->nchildren == 0) {
        jbnode_t *parent = n->parent;
        name_unlink(f, n);
        for (jbnode_t **pp = &f->by_id[hash_id(f, n->id)]; *pp; pp = &(*pp)->id_next) {
            if (*pp == n) {
                *pp = n->id_next;
                break;
            }
        }
        free(n->name);
        free(n);
        f->nnodes--;
        parent->nchildren--;
        n = parent;
    }
}

/* The mount-relative path of n (and name below it, when not NULL): malloc'd, or NULL with
 * *err (ENOENT for a removed node, ENAMETOOLONG, EILSEQ for a name JSON cannot carry). */
static char *node_path(const sc_jbfuse_t *f, const jbnode_t *n, const char *name, int *err)
{
    size_t len = name ? strlen(name) + 1 : 0;
    for (const jbnode_t *p = n; p != f->root; p = p->parent) {
        if (!p->hashed) {
            *err = ENOENT;
            return NULL;
        }
        len += strlen(p->name) + 1;
    }
    if (len > SC_PATH_MAX) {
        *err = ENAMETOOLONG;
        return NULL;
    }
    if (name && !bare_utf8_valid(name, strlen(name))) {
        *err = EILSEQ;
        return NULL;
    }
    char *out = malloc(len + 2);
    if (!out) {
        *err = ENOMEM;
        return NULL;
    }
    size_t at = len;
    out[at] = '\0';
    if (name) {
        at -= strlen(name);
        memcpy(out + at, name, strlen(name));
        out[--at] = '/';
    }
    for (const jbnode_t *p = n; p != f->root; p = p->parent) {
        size_t k = strlen(p->name);
        at -= k;
        memcpy(out + at, p->name, k);
        out[--at] = '/';
    }
    if (len == 0)
        strcpy(out, "/");
    return out;
}

static void dir_free(struct jbdir *d);

/*
 * Ends a connection: unlinked from its mount, unwatched, its session destroyed (closing the
 * device aborts the connection: a guest still on the mount gets ENOTCONN, never a wait), and
 * everything freed. None of its requests may be waiting.
 */
static void conn_free(sc_jbfuse_t *f)
{
    for (sc_jbfuse_t **pp = &f->jb->fuses; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->watch)
        sc_loop_unwatch(f->jb->srv->loop, f->watch);
    if (f->se)
        fuse_session_destroy(f->se);
    free(f->buf.mem);
    while (f->dirs) {
        jbdir_t *d = f->dirs;
        f->dirs = d->next;
        dir_free(d);
    }
    for (size_t i = 0; f->by_id && i < f->nbuckets; i++) {
        for (jbnode_t *n = f->by_id[i], *next; n; n = next) {
            next = n->id_next;
            free(n->name);
            free(n);
        }
    }
    if (!f->by_id)
        free(f->root);
    free(f->by_id);
    free(f->by_name);
    free(f);
}

/* ---- requests ---- */

typedef enum {
    K_LOOKUP,
    K_GETATTR,
    K_SETATTR,
    K_READLINK,
    K_CREATE, /* create and mknod */
    K_MKDIR,
    K_REMOVE, /* unlink and rmdir */
    K_SYMLINK,
    K_RENAME,
    K_LINK,
    K_READ,
    K_WRITE,
    K_OPENDIR
} kind_t;

/* Setattr's steps, done in this order. */
enum { S_STAT = 1, S_CHMOD = 2, S_CHOWN = 4, S_TRUNCATE = 8, S_UTIMES = 16 };

typedef struct jbreq {
    sc_jbfuse_t *f;
    fuse_req_t req;
    kind_t kind;
    uint64_t ino;  /* the node, or the parent of name */
    uint64_t ino2; /* rename: the new parent */
    char *name, *name2;
    char *path, *path2; /* mount-relative */
    bool entry_step;    /* the final lstat of a call that answers an entry */
    bool have_file;     /* create: fi is the kernel's */
    struct fuse_file_info fi;
    int flags;      /* create: open flags; rename: flags */
    unsigned steps; /* setattr: steps left; create: the file is made; rename: look first */
    sc_jb_args_t a; /* setattr: what to set */
    size_t size;    /* read: bytes asked for; write: bytes written */
} jbreq_t;

static void jr_free(jbreq_t *jr)
{
    sc_jbfuse_t *f = jr->f;
    /* the last answer of a connection whose mount is gone lets it go */
    if (--f->pending == 0 && f->dead)
        conn_free(f);
    free(jr->name);
    free(jr->name2);
    free(jr->path);
    free(jr->path2);
    free(jr);
}

static void reply_err(jbreq_t *jr, int err)
{
    fuse_reply_err(jr->req, err);
    jr_free(jr);
}

/* Errors the kernel may pass on: an errno the host's text mapped to, or EIO. */
static int guest_errno(int err)
{
    return err > 0 ? err : EIO;
}

static void on_call(sc_jsbridge_t *jb, void *ud, const sc_jb_result_t *r);

/* Starts call op for jr; on failure jr is answered with the errno. */
static void start(jbreq_t *jr, sc_jb_op_t op, const sc_jb_args_t *a)
{
    sc_jsbridge_t *jb = jr->f->jb;
    if (sc_jb_op_mutates(op) && jb->read_only) {
        reply_err(jr, EROFS);
        return;
    }
    int err = sc_jb_call(jb, op, a, on_call, jr);
    if (err)
        reply_err(jr, err);
}

static void start_path(jbreq_t *jr, sc_jb_op_t op, const char *path)
{
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = path;
    start(jr, op, &a);
}

static uint32_t map_id(const sc_jbfuse_t *f, uint32_t guest)
{
    return guest < f->id_count ? f->id_base + guest : 65534u;
}

/* The kernel's attributes of node id from the host's stat. Only directories, symlinks and
 * regular files exist here: anything else the host reports is shown as a regular file. */
static void to_attr(const sc_jbfuse_t *f, uint64_t id, const sc_jb_stat_t *s, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = id;
    mode_t type = s->is_dir ? S_IFDIR : s->is_symlink ? S_IFLNK : S_IFREG;
    st->st_mode = type | (s->mode & 07777);
    st->st_nlink = s->nlink ? s->nlink : 1;
    st->st_uid = map_id(f, s->uid);
    st->st_gid = map_id(f, s->gid);
    st->st_size = (off_t)s->size;
    st->st_blocks = (blkcnt_t)s->blocks;
    st->st_blksize = 4096;
    st->st_atim = (struct timespec){(time_t)(s->atime_ms / 1000), (long)s->atime_ns};
    st->st_mtim = (struct timespec){(time_t)(s->mtime_ms / 1000), (long)s->mtime_ns};
    st->st_ctim = (struct timespec){(time_t)(s->ctime_ms / 1000), (long)s->ctime_ns};
}

/* The stat of a result, or -1 with jr answered EIO (logged). */
static int result_stat(jbreq_t *jr, const sc_jb_result_t *r, sc_jb_stat_t *st)
{
    char why[256];
    if (!r->value) {
        snprintf(why, sizeof why, "the host returned no result");
    } else if (sc_jb_read_stat(r->value, st, why, sizeof why) == 0) {
        return 0;
    }
    sc_jb_refused(jr->f->jb, NULL, "lstat", jr->path2 ? jr->path2 : jr->path, why);
    reply_err(jr, EIO);
    return -1;
}

/* Answers an entry for name in parent jr->ino (or ino2 for link), counting a lookup. */
static void reply_entry(jbreq_t *jr, const sc_jb_stat_t *s)
{
    sc_jbfuse_t *f = jr->f;
    jbnode_t *parent = node_get(f, jr->kind == K_LINK ? jr->ino2 : jr->ino);
    const char *name = jr->kind == K_LINK ? jr->name2 : jr->name;
    jbnode_t *n = parent ? node_find(f, parent, name) : NULL;
    if (!n && parent)
        n = node_add(f, parent, name);
    if (!n) {
        reply_err(jr, parent ? ENFILE : ENOENT);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = n->id;
    to_attr(f, n->id, s, &e.attr);
    n->nlookup++;
    int rc = jr->kind == K_CREATE && jr->have_file ? fuse_reply_create(jr->req, &e, &jr->fi)
                                                   : fuse_reply_entry(jr->req, &e);
    if (rc != 0) {
        /* the kernel did not take it (the guest is gone): it holds no reference */
        n->nlookup--;
        node_release(f, n);
    }
    jr_free(jr);
}

/* The path an entry-answering call ends with: lstat of the new name. */
static void stat_entry(jbreq_t *jr)
{
    jr->entry_step = true;
    start_path(jr, SC_JB_LSTAT, jr->kind == K_LINK ? jr->path2 : jr->path);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void setattr_next(jbreq_t *jr)
{
    jbreq_t *x = jr;
    sc_jb_args_t a = x->a;
    a.path = x->path;
    if (x->steps & S_STAT) {
        start_path(x, SC_JB_LSTAT, x->path);
    } else if (x->steps & S_CHMOD) {
        x->steps &= ~(unsigned)S_CHMOD;
        start(x, SC_JB_CHMOD, &a);
    } else if (x->steps & S_CHOWN) {
        x->steps &= ~(unsigned)S_CHOWN;
        start(x, SC_JB_CHOWN, &a);
    } else if (x->steps & S_TRUNCATE) {
        x->steps &= ~(unsigned)S_TRUNCATE;
        start(x, SC_JB_TRUNCATE, &a);
    } else if (x->steps & S_UTIMES) {
        x->steps &= ~(unsigned)S_UTIMES;
        start(x, SC_JB_UTIMES, &a);
    } else {
        x->entry_step = true; /* the final lstat answers the new attributes */
        start_path(x, SC_JB_LSTAT, x->path);
    }
}

/* Setattr's first lstat: what the request leaves out (one of uid/gid, atime/mtime). */
static void setattr_fill(jbreq_t *jr, const sc_jb_stat_t *s, unsigned set)
{
    if (set & FUSE_SET_ATTR_UID && !(set & FUSE_SET_ATTR_GID))
        jr->a.gid = s->gid;
    if (set & FUSE_SET_ATTR_GID && !(set & FUSE_SET_ATTR_UID))
        jr->a.uid = s->uid;
    if (!(set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)))
        jr->a.atime_ms = s->atime_ms;
    if (!(set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
        jr->a.mtime_ms = s->mtime_ms;
}

static void open_dir_done(jbreq_t *jr, const sc_jb_result_t *r);

/* A bridge call of jr finished: the next step, or the answer. */
static void on_call(sc_jsbridge_t *jb, void *ud, const sc_jb_result_t *r)
{
    (void)jb;
    jbreq_t *jr = ud;
    sc_jbfuse_t *f = jr->f;
    char why[256];
    sc_jb_stat_t st;
    if (r->err) {
        /* create: a name that does not exist yet is made; rename: the free target */
        if (jr->kind == K_CREATE && !jr->entry_step && r->err == ENOENT && !jr->steps) {
            jr->steps = 1; /* from now on: made here */
            sc_jb_args_t a;
            memset(&a, 0, sizeof a);
            a.path = jr->path;
            a.data = (const uint8_t *)"";
            start(jr, SC_JB_WRITE_FILE, &a);
            return;
        }
        if (jr->kind == K_RENAME && jr->steps && r->err == ENOENT) {
            jr->steps = 0;
            sc_jb_args_t a;
            memset(&a, 0, sizeof a);
            a.path = jr->path;
            a.path2 = jr->path2;
            start(jr, SC_JB_RENAME, &a);
            return;
        }
        sc_debug("%s: js_bridge FUSE request failed: %s", f->jb->vm->id, r->msg);
        reply_err(jr, guest_errno(r->err));
        return;
    }
    if (jr->entry_step) {
        if (result_stat(jr, r, &st) != 0)
            return;
        if (jr->kind == K_GETATTR || jr->kind == K_SETATTR) {
            struct stat a;
            to_attr(f, jr->ino, &st, &a);
            fuse_reply_attr(jr->req, &a, 0);
            jr_free(jr);
        } else {
            reply_entry(jr, &st);
        }
        return;
    }
    switch (jr->kind) {
    case K_LOOKUP:
    case K_GETATTR:
        reply_err(jr, EIO); /* never: both start as entry steps */
        return;
    case K_SETATTR:
        if (jr->steps & S_STAT) {
            if (result_stat(jr, r, &st) != 0)
                return;
            jr->steps &= ~(unsigned)S_STAT;
            setattr_fill(jr, &st, (unsigned)jr->flags);
        }
        setattr_next(jr);
        return;
    case K_READLINK: {
        const char *s = NULL;
        size_t n = 0;
        bool bad = true;
        if (!r->value)
            snprintf(why, sizeof why, "the host returned no result");
        else if (sc_jb_read_string(r->value, false, &s, &n, why, sizeof why) != 0)
            ; /* why says what is wrong */
        else if (n >= 4096)
            snprintf(why, sizeof why, "the target is 4096 bytes or more");
        else
            bad = false;
        if (bad) {
            sc_jb_refused(f->jb, NULL, "readlink", jr->path, why);
            reply_err(jr, EIO);
            return;
        }
        fuse_reply_readlink(jr->req, s);
        jr_free(jr);
        return;
    }
    case K_CREATE:
        if (jr->steps) {
            stat_entry(jr); /* the empty file is there */
            return;
        }
        /* the name exists: exclusive creation fails, otherwise it is opened */
        if (jr->flags & O_EXCL || !jr->have_file) {
            reply_err(jr, EEXIST);
            return;
        }
        if (result_stat(jr, r, &st) != 0)
            return;
        if (st.is_dir) {
            reply_err(jr, EISDIR);
            return;
        }
        if (jr->flags & O_TRUNC) {
            sc_jb_args_t a;
            memset(&a, 0, sizeof a);
            a.path = jr->path;
            jr->steps = 1;
            start(jr, SC_JB_TRUNCATE, &a);
            return;
        }
        reply_entry(jr, &st);
        return;
    case K_MKDIR:
    case K_SYMLINK:
    case K_LINK:
        stat_entry(jr);
        return;
    case K_REMOVE: {
        jbnode_t *parent = node_get(f, jr->ino),
                 *n = parent ? node_find(f, parent, jr->name) : NULL;
        if (n) {
            name_unlink(f, n);
            node_release(f, n);
        }
        fuse_reply_err(jr->req, 0);
        jr_free(jr);
        return;
    }
    case K_RENAME: {
        if (jr->steps) {
            /* RENAME_NOREPLACE: the target exists */
            reply_err(jr, EEXIST);
            return;
        }
        jbnode_t *p = node_get(f, jr->ino), *np = node_get(f, jr->ino2);
        jbnode_t *victim = np ? node_find(f, np, jr->name2) : NULL;
        jbnode_t *n = p ? node_find(f, p, jr->name) : NULL;
        if (victim && victim != n) {
            name_unlink(f, victim);
            node_release(f, victim);
        }
        char *nn = n && np ? strdup(jr->name2) : NULL;
        if (nn) {
            /* the node moves; its subtree follows, as paths are built from parents */
            name_unlink(f, n);
            free(n->name);
            n->name = nn;
            np->nchildren++;
            jbnode_t *old = n->parent;
            n->parent = np;
            old->nchildren--;
            name_link(f, n);
            node_release(f, old);
        } else if (n) {
            name_unlink(f, n); /* no memory for its new name: forget the old one */
            node_release(f, n);
        }
        fuse_reply_err(jr->req, 0);
        jr_free(jr);
        return;
    }
    case K_READ: {
        uint8_t *p;
        size_t n;
        if (!r->value) {
            snprintf(why, sizeof why, "the host returned no result");
        } else if (sc_jb_read_bytes(r->value, jr->size, &p, &n, why, sizeof why) == 0) {
            fuse_reply_buf(jr->req, (const char *)p, n);
            free(p);
            jr_free(jr);
            return;
        }
        sc_jb_refused(f->jb, NULL, "pread", jr->path, why);
        reply_err(jr, EIO);
        return;
    }
    case K_WRITE:
        fuse_reply_write(jr->req, jr->size);
        jr_free(jr);
        return;
    case K_OPENDIR:
        open_dir_done(jr, r);
        return;
    }
}

/* A request with the path of ino (and name below it); NULL when answered with an error. */
static jbreq_t *jr_new(fuse_req_t req, kind_t kind, fuse_ino_t ino, const char *name)
{
    sc_jbfuse_t *f = fuse_req_userdata(req);
    jbnode_t *n = node_get(f, ino);
    int err = ESTALE;
    jbreq_t *jr = calloc(1, sizeof *jr);
    if (!jr) {
        fuse_reply_err(req, ENOMEM);
        return NULL;
    }
    jr->f = f;
    f->pending++;
    jr->req = req;
    jr->kind = kind;
    jr->ino = ino;
    if (!n || !(jr->path = node_path(f, n, name, &err)) || (name && !(jr->name = strdup(name)))) {
        /* a name JSON cannot carry cannot exist at the host */
        reply_err(jr, err == EILSEQ && kind == K_LOOKUP ? ENOENT : jr->path ? ENOMEM : err);
        return NULL;
    }
    return jr;
}

/* ---- the operations ---- */

static void op_init(void *ud, struct fuse_conn_info *conn)
{
    sc_jbfuse_t *f = ud;
    /* truncation arrives as setattr; no cache the host cannot see through; no splicing */
    conn->want &=
        ~(unsigned)(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE |
                    FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
                    FUSE_CAP_EXPORT_SUPPORT | FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
    conn->max_write = f->chunk;
    conn->max_readahead = f->chunk;
    sc_debug("%s: js_bridge FUSE connection of %s ready (protocol 7.%u)", f->jb->vm->id,
             f->jb->guest_path, conn->proto_minor);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    jbreq_t *jr = jr_new(req, K_LOOKUP, parent, name);
    if (jr) {
        jr->entry_step = true;
        start_path(jr, SC_JB_LSTAT, jr->path);
    }
}

static void forget_one(sc_jbfuse_t *f, fuse_ino_t ino, uint64_t nlookup)
{
    jbnode_t *n = node_get(f, ino);
    if (!n || n == f->root)
        return;
    n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
    node_release(f, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    forget_one(fuse_req_userdata(req), ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fl)
{
    for (size_t i = 0; i < count; i++)
        forget_one(fuse_req_userdata(req), fl[i].ino, fl[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    jbreq_t *jr = jr_new(req, K_GETATTR, ino, NULL);
    if (jr) {
        jr->entry_step = true;
        start_path(jr, SC_JB_LSTAT, jr->path);
    }
}

/* A guest id the kernel gives (in the sidecar's namespace) as the host's guest id. */
static int unmap_id(const sc_jbfuse_t *f, uint32_t host, uint32_t *guest)
{
    if (host < f->id_base || host - f->id_base >= f->id_count)
        return EINVAL;
    *guest = host - f->id_base;
    return 0;
}

static int ms_of(const struct timespec *t, uint64_t *ms)
{
    if (t->tv_sec < 0)
        return EINVAL;
    *ms = (uint64_t)t->tv_sec * 1000u + (uint64_t)t->tv_nsec / 1000000u;
    return 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    (void)fi;
    jbreq_t *jr = jr_new(req, K_SETATTR, ino, NULL);
    if (!jr)
        return;
    unsigned set = (unsigned)to_set;
    int err = 0;
    jr->flags = to_set;
    if (set & FUSE_SET_ATTR_MODE) {
        jr->steps |= S_CHMOD;
        jr->a.mode = attr->st_mode & 07777;
    }
    if (set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        jr->steps |= S_CHOWN;
        if (set & FUSE_SET_ATTR_UID)
            err = unmap_id(jr->f, attr->st_uid, &jr->a.uid);
        if (!err && set & FUSE_SET_ATTR_GID)
            err = unmap_id(jr->f, attr->st_gid, &jr->a.gid);
        if ((set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) !=
            (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
            jr->steps |= S_STAT;
    }
    if (set & FUSE_SET_ATTR_SIZE) {
        jr->steps |= S_TRUNCATE;
        if (attr->st_size < 0)
            err = EINVAL;
        jr->a.length = (uint64_t)attr->st_size;
    }
    unsigned at = set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW),
             mt = set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW);
    if (at || mt) {
        jr->steps |= S_UTIMES;
        uint64_t now = now_ms();
        jr->a.atime_ms = jr->a.mtime_ms = now;
        if (!err && set & FUSE_SET_ATTR_ATIME && !(set & FUSE_SET_ATTR_ATIME_NOW))
            err = ms_of(&attr->st_atim, &jr->a.atime_ms);
        if (!err && set & FUSE_SET_ATTR_MTIME && !(set & FUSE_SET_ATTR_MTIME_NOW))
            err = ms_of(&attr->st_mtim, &jr->a.mtime_ms);
        if (!at || !mt)
            jr->steps |= S_STAT;
    }
    if (err) {
        reply_err(jr, err);
        return;
    }
    if (jr->steps & ~(unsigned)S_STAT && jr->f->jb->read_only) {
        reply_err(jr, EROFS);
        return;
    }
    setattr_next(jr);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    jbreq_t *jr = jr_new(req, K_READLINK, ino, NULL);
    if (jr)
        start_path(jr, SC_JB_READLINK, jr->path);
}

/* create and mknod: lstat first (an existing name is opened, or refused when exclusive),
 * then an empty writeFile, then lstat for the entry. */
static void make_file(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    if (!S_ISREG(mode) && (mode & S_IFMT) != 0) {
        fuse_reply_err(req, EPERM); /* only regular files, directories and symlinks here */
        return;
    }
    jbreq_t *jr = jr_new(req, K_CREATE, parent, name);
    if (!jr)
        return;
    if (jr->f->jb->read_only) {
        reply_err(jr, EROFS);
        return;
    }
    if (fi) {
        jr->fi = *fi;
        jr->fi.keep_cache = 0;
        jr->fi.direct_io = 0;
        jr->have_file = true;
        jr->flags = fi->flags & (O_EXCL | O_TRUNC);
    }
    start_path(jr, SC_JB_LSTAT, jr->path);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    (void)rdev;
    make_file(req, parent, name, mode, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    make_file(req, parent, name, mode, fi);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    (void)mode; /* the host decides modes (the reference sends none) */
    jbreq_t *jr = jr_new(req, K_MKDIR, parent, name);
    if (!jr)
        return;
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = jr->path;
    start(jr, SC_JB_MKDIR, &a);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    jbreq_t *jr = jr_new(req, K_REMOVE, parent, name);
    if (jr)
        start_path(jr, SC_JB_REMOVE_FILE, jr->path);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    jbreq_t *jr = jr_new(req, K_REMOVE, parent, name);
    if (jr)
        start_path(jr, SC_JB_REMOVE_DIR, jr->path);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    jbreq_t *jr = jr_new(req, K_SYMLINK, parent, name);
    if (!jr)
        return;
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = jr->path;
    a.target = link;
    start(jr, SC_JB_SYMLINK, &a);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    if (flags & ~(unsigned)RENAME_NOREPLACE) {
        fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, RENAME_WHITEOUT: no host has them */
        return;
    }
    jbreq_t *jr = jr_new(req, K_RENAME, parent, name);
    if (!jr)
        return;
    int err = ENOENT;
    jbnode_t *np = node_get(jr->f, newparent);
    jr->ino2 = newparent;
    if (!np || !(jr->path2 = node_path(jr->f, np, newname, &err)) ||
        !(jr->name2 = strdup(newname))) {
        reply_err(jr, jr->path2 ? ENOMEM : err);
        return;
    }
    if (jr->f->jb->read_only) {
        reply_err(jr, EROFS);
        return;
    }
    if (flags & RENAME_NOREPLACE) {
        /* no host operation refuses an existing target: look first */
        jr->steps = 1;
        start_path(jr, SC_JB_LSTAT, jr->path2);
        return;
    }
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = jr->path;
    a.path2 = jr->path2;
    start(jr, SC_JB_RENAME, &a);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    jbreq_t *jr = jr_new(req, K_LINK, ino, NULL);
    if (!jr)
        return;
    int err = ENOENT;
    jbnode_t *np = node_get(jr->f, newparent);
    jr->ino2 = newparent;
    if (!np || !(jr->path2 = node_path(jr->f, np, newname, &err)) ||
        !(jr->name2 = strdup(newname))) {
        reply_err(jr, jr->path2 ? ENOMEM : err);
        return;
    }
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = jr->path;
    a.path2 = jr->path2;
    start(jr, SC_JB_LINK, &a);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    sc_jbfuse_t *f = fuse_req_userdata(req);
    if (!node_get(f, ino)) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY && f->jb->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    /* the page cache is dropped at each open: what the host changed is read again */
    fi->keep_cache = 0;
    fi->direct_io = 0;
    fuse_reply_open(req, fi);
}

/* The start of a read or a write at off: the request, and its call's path and offset in *a;
 * NULL when it was answered already (a negative offset, no memory). */
static jbreq_t *io_begin(fuse_req_t req, kind_t kind, fuse_ino_t ino, size_t size, off_t off,
                         sc_jb_args_t *a)
{
    jbreq_t *jr = jr_new(req, kind, ino, NULL);
    if (!jr)
        return NULL;
    if (off < 0) {
        reply_err(jr, EINVAL);
        return NULL;
    }
    jr->size = size;
    memset(a, 0, sizeof *a);
    a->path = jr->path;
    a->offset = (uint64_t)off;
    return jr;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    sc_jb_args_t a;
    jbreq_t *jr = io_begin(req, K_READ, ino, size, off, &a);
    if (!jr)
        return;
    a.length = size;
    start(jr, SC_JB_PREAD, &a);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)fi;
    sc_jb_args_t a;
    jbreq_t *jr = io_begin(req, K_WRITE, ino, size, off, &a);
    if (!jr)
        return;
    a.data = (const uint8_t *)buf; /* encoded into the call's JSON before this returns */
    a.len = size;
    start(jr, SC_JB_PWRITE, &a);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino, (void)fi;
    fuse_reply_err(req, 0);
}

/* ---- directories: listed once at opendir, served from the copy ---- */

static void dir_free(struct jbdir *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    free(d->types);
    free(d);
}

static jbdir_t *dir_get(const sc_jbfuse_t *f, uint64_t id)
{
    for (jbdir_t *d = f->dirs; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    jbreq_t *jr = jr_new(req, K_OPENDIR, ino, NULL);
    if (!jr)
        return;
    if (jr->f->ndirs >= MAX_DIRS) {
        reply_err(jr, EMFILE);
        return;
    }
    jr->fi = *fi;
    start_path(jr, SC_JB_READ_DIR_TYPES, jr->path);
}

static void open_dir_done(jbreq_t *jr, const sc_jb_result_t *r)
{
    sc_jbfuse_t *f = jr->f;
    char why[256];
    sc_jb_dirent_t *e = NULL;
    size_t n = 0;
    if (!r->value) {
        snprintf(why, sizeof why, "the host returned no result");
        errno = EIO;
    } else if (sc_jb_read_dir(r->value, true, f->jb->max_dir, &e, &n, why, sizeof why) == 0) {
        errno = 0;
    }
    if (errno) {
        int err = errno == ENOMEM ? ENOMEM : EIO;
        sc_jb_refused(f->jb, NULL, "readDirWithTypes", jr->path, why);
        reply_err(jr, err);
        return;
    }
    jbdir_t *d = calloc(1, sizeof *d);
    bool ok = d && (d->names = calloc(n + 1, sizeof *d->names)) && (d->types = calloc(n + 1, 1));
    for (size_t i = 0; ok && i < n; i++) {
        ok = (d->names[i] = strndup(e[i].name, e[i].len)) != NULL;
        d->types[i] = e[i].is_dir ? DT_DIR : e[i].is_symlink ? DT_LNK : DT_REG;
        d->n = i + 1;
    }
    free(e);
    if (!ok) {
        if (d)
            dir_free(d);
        reply_err(jr, ENOMEM);
        return;
    }
    d->id = ++f->next_dir;
    d->next = f->dirs;
    f->dirs = d;
    f->ndirs++;
    jr->fi.fh = d->id;
    jr->fi.keep_cache = 0;
    if (fuse_reply_open(jr->req, &jr->fi) != 0) {
        /* no release will come for a handle the kernel never got */
        f->dirs = d->next;
        f->ndirs--;
        dir_free(d);
    }
    jr_free(jr);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    sc_jbfuse_t *f = fuse_req_userdata(req);
    jbdir_t *d = dir_get(f, fi->fh);
    if (!d || off < 0) {
        fuse_reply_err(req, d ? EINVAL : EBADF);
        return;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    for (uint64_t i = (uint64_t)off; i < d->n + 2; i++) {
        struct stat st;
        memset(&st, 0, sizeof st);
        const char *name = i == 0 ? "." : i == 1 ? ".." : d->names[i - 2];
        unsigned char t = i < 2 ? DT_DIR : d->types[i - 2];
        st.st_ino = i == 0 ? ino : 0xffffffffu; /* the kernel looks names up for the real ones */
        st.st_mode = (mode_t)(DTTOIF(t));
        size_t k = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(i + 1));
        if (k > size - used)
            break;
        used += k;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    sc_jbfuse_t *f = fuse_req_userdata(req);
    for (jbdir_t **pp = &f->dirs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == fi->fh) {
            jbdir_t *d = *pp;
            *pp = d->next;
            f->ndirs--;
            dir_free(d);
            break;
        }
    }
    fuse_reply_err(req, 0);
}

/* Not set, deliberately: flush and fsync (ENOSYS: the kernel stops sending them, so a dying
 * guest's close never waits for the sidecar), access (ENOSYS: allowed, as mode bits are not
 * checked), xattrs, locks (the kernel's own), statfs (libfuse's default). */
static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .create = op_create,
};

/* ---- the connection on the loop ---- */

/* libfuse asks for its own buffer size (over 1 MiB); ours holds the largest request this
 * connection can carry (a write of chunk bytes and its header), a ninth of that per mount. */
static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
    const sc_jbfuse_t *f = ud;
    return read(fd, buf, len < f->bufcap ? len : f->bufcap);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
    (void)ud;
    return writev(fd, iov, count);
}

static void on_dev(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    (void)events;
    sc_jbfuse_t *f = ud;
    for (int i = 0; i < BATCH; i++) {
        int res = fuse_session_receive_buf(f->se, &f->buf);
        if (res == -EAGAIN || res == -EINTR)
            return;
        if (res <= 0) {
            /* unmounted everywhere and aborted, or the device failed: nothing more comes */
            sc_info("%s: js_bridge FUSE connection for %s ended (%s)", f->jb->vm->id,
                    f->jb->guest_path, res == 0 ? "closed" : strerror(-res));
            sc_loop_unwatch(loop, w);
            f->watch = NULL;
            f->dead = true;
            if (f->pending == 0)
                conn_free(f);
            return;
        }
        fuse_session_process_buf(f->se, &f->buf);
    }
}

/* The largest read or write one call carries: its base64 and the call's JSON (a path of up to
 * 4096 bytes, escaped) must fit in a frame. */
static uint32_t chunk_for(uint32_t max_frame)
{
    uint64_t room = max_frame > 32768u ? (uint64_t)(max_frame - 32768u) / 4 * 3 : 0;
    room &= ~(uint64_t)4095;
    return room > MAX_CHUNK ? MAX_CHUNK : room < MIN_CHUNK ? MIN_CHUNK : (uint32_t)room;
}

int sc_jbfuse_new(sc_jsbridge_t *jb, char *err, size_t errlen)
{
    sc_jbfuse_t *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->jb = jb;
    int dev = -1, mnt = -1;
    const sc_host_t *host = jb->srv->host;
    f->id_base = host ? host->id_base : 0;
    f->id_count = host ? host->id_count : 1;
    f->chunk = chunk_for(jb->srv->cfg.max_frame_bytes);
    f->bufcap = f->chunk + 8192; /* the kernel wants room for max_write and its header */
    f->buf.mem = malloc(f->bufcap);
    f->nbuckets = 256;
    f->by_id = calloc(f->nbuckets, sizeof *f->by_id);
    f->by_name = calloc(f->nbuckets, sizeof *f->by_name);
    f->root = calloc(1, sizeof *f->root);
    if (!f->buf.mem || !f->by_id || !f->by_name || !f->root) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    f->root->id = FUSE_ROOT_ID;
    f->next_id = FUSE_ROOT_ID;
    f->by_id[hash_id(f, FUSE_ROOT_ID)] = f->root;
    f->nnodes = 1;

    uint32_t owner = f->id_count > 1000 ? f->id_base + 1000 : f->id_base;
    sc_jb_mount_opts_t mo = {jb->read_only, owner, owner, f->chunk};
    if (sc_jb_fuse_open(&mo, &dev, &mnt, err, errlen) != 0)
        goto fail;
    static char name[] = "secure-exec-sidecar";
    char *argv[] = {name, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(1, argv);
    f->se = fuse_session_new(&args, &ops, sizeof ops, f);
    fuse_opt_free_args(&args);
    static const struct fuse_custom_io io = {.writev = io_writev, .read = io_read};
    if (!f->se || fuse_session_custom_io(f->se, &io, dev) != 0) {
        snprintf(err, errlen, "cannot start a FUSE session");
        goto fail;
    }
    int fd = dev;
    dev = -1; /* the session owns it now, and closes it */
    f->watch = sc_loop_watch(jb->srv->loop, fd, EPOLLIN, on_dev, f);
    if (!f->watch) {
        snprintf(err, errlen, "cannot watch the FUSE device");
        goto fail;
    }
    f->next = jb->fuses;
    jb->fuses = f;
    sc_info("%s: js_bridge FUSE connection for %s started (reads and writes up to %u bytes)",
            jb->vm->id, jb->guest_path, f->chunk);
    return mnt;
fail:
    if (mnt >= 0)
        close(mnt);
    if (dev >= 0)
        close(dev);
    conn_free(f);
    return -1;
}

void sc_jbfuse_stop_all(sc_jsbridge_t *jb)
{
    while (jb->fuses)
        conn_free(jb->fuses);
}
