/*
 * jbfscall.c - GuestFilesystemCall on a js_bridge mount (sc_jsbridge_fs_call): the request is
 * checked here as fsops.c checks one on the VM's own files (missing fields, the fs policy, a
 * read-only mount), becomes one bridge call, and is answered when the host replies.
 *
 * The policy is applied to the full guest path, lexically: what lies under the mount is the
 * host's own tree, resolved by the host, so no symlink there can lead into the VM's files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "jbint.h"
#include "log.h"
#include "sidecar.h"

typedef struct fscall {
    sc_deferred_t *d;
    sx_guest_filesystem_operation_t gop;
    sc_jb_op_t op;
    char *path;     /* the request's path, echoed verbatim */
    char *rel;      /* the mount-relative path, for messages */
    char *target;   /* echoed as target: destinationPath (rename, link), target (symlink) */
    uint64_t want;  /* pread: the length asked for */
    uint8_t *bytes; /* readFile, pread: what the response's content may point into */
} fscall_t;

static void fscall_free(fscall_t *f)
{
    free(f->bytes);
    free(f->path);
    free(f->rel);
    free(f->target);
    free(f);
}

static char *dup_str(bare_str_t s)
{
    return sc_strdup_str(s);
}

/* The bridge operation, the policy capability and its label, and which §8.4 read guard. */
typedef enum { GUARD_NONE, GUARD_ENTRY, GUARD_RESOLVED } guard_t;
static const struct gop_info {
    sc_jb_op_t op;
    sc_fs_op_t perm;
    const char *label;
    guard_t guard;
} gops[SX_GUEST_FILESYSTEM_OPERATION_COUNT] = {
    [SX_GUEST_FILESYSTEM_OPERATION_READ_FILE] = {SC_JB_READ_FILE, SC_FS_READ, "read", GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE] = {SC_JB_WRITE_FILE, SC_FS_WRITE, "write",
                                                  GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_CREATE_DIR] = {SC_JB_CREATE_DIR, SC_FS_CREATE_DIR, "createDir",
                                                  GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_MKDIR] = {SC_JB_MKDIR, SC_FS_CREATE_DIR, "mkdir", GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_EXISTS] = {SC_JB_EXISTS, SC_FS_STAT, "stat", GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_STAT] = {SC_JB_STAT, SC_FS_STAT, "stat", GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_LSTAT] = {SC_JB_LSTAT, SC_FS_STAT, "stat", GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_DIR] = {SC_JB_READ_DIR, SC_FS_READDIR, "readdir",
                                                GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE] = {SC_JB_REMOVE_FILE, SC_FS_RM, "rm", GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_REMOVE_DIR] = {SC_JB_REMOVE_DIR, SC_FS_RM, "rm", GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_RENAME] = {SC_JB_RENAME, SC_FS_RENAME, "rename", GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_REALPATH] = {SC_JB_REALPATH, SC_FS_READ, "read", GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_SYMLINK] = {SC_JB_SYMLINK, SC_FS_SYMLINK, "symlink",
                                               GUARD_ENTRY},
    [SX_GUEST_FILESYSTEM_OPERATION_READ_LINK] = {SC_JB_READLINK, SC_FS_READ, "readlink",
                                                 GUARD_NONE},
    [SX_GUEST_FILESYSTEM_OPERATION_LINK] = {SC_JB_LINK, SC_FS_WRITE, "link", GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_CHMOD] = {SC_JB_CHMOD, SC_FS_WRITE, "chmod", GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_CHOWN] = {SC_JB_CHOWN, SC_FS_WRITE, "chown", GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_UTIMES] = {SC_JB_UTIMES, SC_FS_WRITE, "utimes", GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE] = {SC_JB_TRUNCATE, SC_FS_WRITE, "truncate",
                                                GUARD_RESOLVED},
    [SX_GUEST_FILESYSTEM_OPERATION_PREAD] = {SC_JB_PREAD, SC_FS_READ, "read", GUARD_NONE},
};

/* ---- the request's checks ---- */

/* guest = the mount's path + rel (rel "/" is the mount itself). */
static void guest_of(const sc_jsbridge_t *jb, const char *rel, char *out /* SC_PATH_MAX+1 */)
{
    snprintf(out, SC_PATH_MAX + 1, "%s%s", jb->guest_path, strcmp(rel, "/") == 0 ? "" : rel);
}

/* The mount-relative form of a normalized guest path, or NULL when it is not in the mount. */
static const char *rel_of(const sc_jsbridge_t *jb, const char *guest)
{
    if (strncmp(guest, jb->guest_path, jb->guest_len) != 0)
        return NULL;
    if (guest[jb->guest_len] == '\0')
        return "/";
    return guest[jb->guest_len] == '/' ? guest + jb->guest_len : NULL;
}

/* The read guard walks ancestors that exist; under the mount only the host knows, so each
 * one counts as itself (lexical). */
static int resolve_lexical(void *ud, const char *path, char *out)
{
    (void)ud;
    snprintf(out, SC_PATH_MAX + 1, "%s", path);
    return 0;
}

/* The policy for op on guest (and the §8.4 read guard); 0, or -1 with the rejection made. */
static int check_policy(sc_req_t *req, const sc_policy_t *policy, const struct gop_info *g,
                        const char *guest, guard_t guard)
{
    char reason[160], denied[SC_PATH_MAX + 1];
    if (!sc_policy_allows(policy, SC_DOMAIN_FS, sc_fs_op_name(g->perm), guest, reason,
                          sizeof reason)) {
        sc_reject(req, "kernel_error", "EACCES: permission denied, %s '%s': %s", g->label, guest,
                  reason);
        return -1;
    }
    if (guard != GUARD_NONE &&
        !sc_policy_read_guard(policy, guest, guard == GUARD_RESOLVED, resolve_lexical, NULL, denied,
                              reason, sizeof reason)) {
        sc_reject(req, "kernel_error", "EACCES: permission denied, read '%s': %s", denied, reason);
        return -1;
    }
    return 0;
}

/* ---- the answer ---- */

static void reject_err(sc_server_t *srv, fscall_t *f, int err, const char *msg)
{
    sc_deferred_reject(srv, f->d, "kernel_error", "%s: %s", sc_errno_name(err), msg);
    f->d = NULL;
}

/* A result the host sent in the wrong shape: logged, and EIO for the request. */
static void refuse(sc_jsbridge_t *jb, fscall_t *f, const char *why)
{
    char msg[512];
    sc_jb_refused(jb, NULL, sc_jb_op_name(f->op), f->rel, why);
    snprintf(msg, sizeof msg, "invalid js_bridge payload for %s '%s': %s", sc_jb_op_name(f->op),
             f->rel, why);
    reject_err(jb->srv, f, errno == ENOMEM ? ENOMEM : EIO, msg);
}

static void to_wire_stat(const sc_jb_stat_t *s, sx_guest_filesystem_stat_t *w)
{
    w->mode = s->mode;
    w->size = s->size;
    w->blocks = s->blocks;
    w->dev = s->dev;
    w->rdev = s->rdev;
    w->is_directory = s->is_dir;
    w->is_symbolic_link = s->is_symlink;
    w->atime_ms = s->atime_ms;
    w->mtime_ms = s->mtime_ms;
    w->ctime_ms = s->ctime_ms;
    w->birthtime_ms = s->birthtime_ms;
    w->ino = s->ino;
    w->nlink = s->nlink;
    w->uid = s->uid;
    w->gid = s->gid;
}

/* Fills out from the host's result; 0, or -1 with the request answered. */
static int fill(sc_jsbridge_t *jb, fscall_t *f, const json_t *v, bare_arena_t *a,
                sx_guest_filesystem_result_response_t *out)
{
    char why[256];
    bool needs = f->op == SC_JB_READ_FILE || f->op == SC_JB_PREAD || f->op == SC_JB_STAT ||
                 f->op == SC_JB_LSTAT || f->op == SC_JB_READ_DIR || f->op == SC_JB_REALPATH ||
                 f->op == SC_JB_READLINK;
    if (needs && !v) {
        errno = EIO;
        refuse(jb, f, "the host returned no result");
        return -1;
    }
    switch (f->op) {
    case SC_JB_READ_FILE:
    case SC_JB_PREAD: {
        uint64_t max = f->op == SC_JB_PREAD && f->want < jb->max_read ? f->want : jb->max_read;
        uint8_t *p;
        size_t n;
        if (sc_jb_read_bytes(v, max, &p, &n, why, sizeof why) != 0) {
            refuse(jb, f, why);
            return -1;
        }
        f->bytes = p; /* UTF-8 text goes out as it is: kept until the response is written */
        sc_content_encode(p, n, a, &out->content.value, &out->encoding.value);
        if (n && out->content.value.len == 0) {
            reject_err(jb->srv, f, ENOMEM, "not enough memory");
            return -1;
        }
        out->content.present = out->encoding.present = true;
        return 0;
    }
    case SC_JB_STAT:
    case SC_JB_LSTAT: {
        sc_jb_stat_t st;
        if (sc_jb_read_stat(v, &st, why, sizeof why) != 0) {
            refuse(jb, f, why);
            return -1;
        }
        to_wire_stat(&st, &out->stat.value);
        out->stat.present = true;
        return 0;
    }
    case SC_JB_READ_DIR: {
        sc_jb_dirent_t *d;
        size_t n;
        if (sc_jb_read_dir(v, false, jb->max_dir, &d, &n, why, sizeof why) != 0) {
            if (errno == ENOMEM) {
                char msg[512];
                snprintf(msg, sizeof msg,
                         "directory listing for '%s' exceeds configured limit of %" PRIu64
                         " entries",
                         f->path, jb->max_dir);
                reject_err(jb->srv, f, ENOMEM, msg);
            } else {
                refuse(jb, f, why);
            }
            return -1;
        }
        bare_str_t *items = n ? bare_arena_alloc(a, n * sizeof *items, _Alignof(bare_str_t)) : NULL;
        for (size_t i = 0; items && i < n; i++)
            items[i] = (bare_str_t){d[i].name, d[i].len};
        free(d);
        if (n && !items) {
            reject_err(jb->srv, f, ENOMEM, "not enough memory");
            return -1;
        }
        out->entries.present = true;
        out->entries.value = (sx_str_list_t){n, items};
        return 0;
    }
    case SC_JB_EXISTS: {
        bool b = false;
        if (v && sc_jb_read_bool(v, &b, why, sizeof why) != 0)
            sc_jb_refused(jb, NULL, "exists", f->rel, why);
        out->exists.present = true;
        out->exists.value = b;
        return 0;
    }
    case SC_JB_REALPATH:
    case SC_JB_READLINK: {
        const char *s;
        size_t n;
        if (sc_jb_read_string(v, f->op == SC_JB_REALPATH, &s, &n, why, sizeof why) != 0) {
            refuse(jb, f, why);
            return -1;
        }
        if (f->op == SC_JB_READLINK) {
            out->target.value = (bare_str_t){s, n};
        } else {
            /* the host's path is mount-relative: the mount's own path goes back in front */
            char rel[SC_PATH_MAX + 1], guest[SC_PATH_MAX + 1];
            if (sc_path_normalize(s, n, rel) != 0) {
                refuse(jb, f, "the result is not a path");
                return -1;
            }
            guest_of(jb, rel, guest);
            char *p = bare_arena_alloc(a, strlen(guest) + 1, 1);
            if (!p) {
                reject_err(jb->srv, f, ENOMEM, "not enough memory");
                return -1;
            }
            strcpy(p, guest);
            out->target.value = bare_str_from_cstr(p);
        }
        out->target.present = true;
        return 0;
    }
    default:
        /* the host's result, if any, means nothing for the other operations */
        if (f->target) {
            out->target.present = true;
            out->target.value = bare_str_from_cstr(f->target);
        }
        return 0;
    }
}

static void on_done(sc_jsbridge_t *jb, void *ud, const sc_jb_result_t *r)
{
    fscall_t *f = ud;
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE;
    sx_guest_filesystem_result_response_t *out = &p.u.guest_filesystem_result_response;
    out->operation = f->gop;
    out->path = bare_str_from_cstr(f->path);
    if (r->err && f->op == SC_JB_EXISTS) {
        /* any failure means "no", as in the reference */
        out->exists.present = true;
        sc_deferred_respond(jb->srv, f->d, &p);
    } else if (r->err) {
        reject_err(jb->srv, f, r->err, r->msg);
    } else {
        bare_arena_t a;
        bare_arena_init(&a, NULL, NULL);
        if (fill(jb, f, r->value, &a, out) == 0)
            sc_deferred_respond(jb->srv, f->d, &p);
        bare_arena_free(&a);
    }
    fscall_free(f);
}

/* ---- the request ---- */

void sc_jsbridge_fs_call(sc_req_t *req, sc_jsbridge_t *jb, const char *rel,
                         const sx_guest_filesystem_call_request_t *v)
{
    if (!sx_guest_filesystem_operation_is_valid((uint64_t)v->operation)) {
        sc_reject(req, "invalid_state", "unsupported guest filesystem operation %d",
                  (int)v->operation);
        return;
    }
    const struct gop_info *g = &gops[v->operation];
    char norm[SC_PATH_MAX + 1], guest[SC_PATH_MAX + 1], dest_guest[SC_PATH_MAX + 1];
    if (!rel || sc_path_normalize(rel, strlen(rel), norm) != 0 || strcmp(norm, rel) != 0) {
        sc_reject(req, "invalid_state", "js_bridge: '%s' is not a mount-relative path",
                  rel ? rel : "(null)");
        return;
    }
    if (v->operation == SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE && !v->content.present) {
        sc_reject(req, "invalid_state", "guest filesystem write_file for %.*s requires content",
                  (int)(v->path.len > 256 ? 256 : v->path.len), v->path.ptr);
        return;
    }
    const char *missing = sc_fs_missing_field(v);
    if (missing) {
        /* the operation as fsops.c names it: "pread", "read_file" */
        char name[32];
        snprintf(name, sizeof name, "%s", sx_guest_filesystem_operation_name(v->operation));
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        sc_reject(req, "invalid_state", "guest filesystem %s %s", name, missing);
        return;
    }
    guest_of(jb, rel, guest);
    sc_jb_args_t a;
    memset(&a, 0, sizeof a);
    a.path = rel;
    const char *dest_rel = NULL;
    if (v->operation == SX_GUEST_FILESYSTEM_OPERATION_RENAME ||
        v->operation == SX_GUEST_FILESYSTEM_OPERATION_LINK) {
        bare_str_t d = v->destination_path.value;
        int e = sc_path_normalize(d.ptr, d.len, dest_guest);
        if (e) {
            sc_reject(req, "kernel_error", "%s: %s, %s '%s'", sc_errno_name(e), sc_errno_text(e),
                      g->label, guest);
            return;
        }
        dest_rel = rel_of(jb, dest_guest);
        if (!dest_rel) {
            sc_reject(req, "kernel_error", "EXDEV: %s across mounts: %s -> %s",
                      sc_jb_op_name(g->op), guest, dest_guest);
            return;
        }
        a.path2 = dest_rel;
    }
    char *target = NULL;
    if (v->operation == SX_GUEST_FILESYSTEM_OPERATION_SYMLINK) {
        bare_str_t t = v->target.value;
        if (memchr(t.ptr, '\0', t.len) || !(target = dup_str(t))) {
            sc_reject(req, "kernel_error", "EINVAL: invalid argument, symlink '%s'", guest);
            return;
        }
        /* as the reference: a link whose target lies in another mount is refused */
        char abs[2 * SC_PATH_MAX + 8], tgt[SC_PATH_MAX + 1];
        if (strlen(target) > SC_PATH_MAX) {
            sc_reject(req, "kernel_error", "ENAMETOOLONG: name too long, symlink '%s'", guest);
            free(target);
            return;
        }
        snprintf(abs, sizeof abs, "%s%s%s", target[0] == '/' ? "" : guest,
                 target[0] == '/' ? "" : "/../", target);
        if (sc_path_normalize(abs, strlen(abs), tgt) != 0 || !rel_of(jb, tgt)) {
            sc_reject(req, "kernel_error", "EXDEV: symlink across mounts: %s -> %s", guest, target);
            free(target);
            return;
        }
        a.target = target;
    }
    /* mutations of a read-only mount never reach the host */
    if (sc_jb_op_mutates(g->op) && jb->read_only) {
        sc_reject(req, "kernel_error", "EROFS: read-only filesystem: %s", rel);
        free(target);
        return;
    }
    if (check_policy(req, &jb->vm->policy, g, guest, g->guard) != 0 ||
        (dest_rel &&
         check_policy(req, &jb->vm->policy, g, dest_guest,
                      v->operation == SX_GUEST_FILESYSTEM_OPERATION_LINK ? GUARD_ENTRY
                                                                         : g->guard) != 0)) {
        free(target);
        return;
    }
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    switch (v->operation) {
    case SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE: {
        bool b64 =
            v->encoding.present && v->encoding.value == SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64;
        if (sc_content_decode(v->content.value, b64, &arena, &a.data, &a.len) != 0) {
            bare_arena_free(&arena);
            sc_reject(req, "invalid_state", "invalid base64 guest filesystem content for %s",
                      guest);
            return;
        }
        break;
    }
    case SX_GUEST_FILESYSTEM_OPERATION_MKDIR:
        a.recursive = v->recursive;
        break;
    case SX_GUEST_FILESYSTEM_OPERATION_CHMOD:
        a.mode = v->mode.value;
        break;
    case SX_GUEST_FILESYSTEM_OPERATION_CHOWN:
        a.uid = v->uid.value;
        a.gid = v->gid.value;
        break;
    case SX_GUEST_FILESYSTEM_OPERATION_UTIMES:
        a.atime_ms = v->atime_ms.value;
        a.mtime_ms = v->mtime_ms.value;
        break;
    case SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE:
        a.length = v->len.value;
        break;
    case SX_GUEST_FILESYSTEM_OPERATION_PREAD:
        if (v->len.value > jb->max_read) {
            bare_arena_free(&arena);
            sc_reject(req, "kernel_error",
                      "EINVAL: pread length %" PRIu64 " exceeds configured limit %" PRIu64,
                      v->len.value, jb->max_read);
            return;
        }
        a.offset = v->offset.value;
        a.length = v->len.value;
        break;
    default:
        break;
    }
    fscall_t *f = calloc(1, sizeof *f);
    bool ok = f && (f->path = dup_str(v->path)) && (f->rel = strdup(rel));
    if (ok && dest_rel)
        ok = (f->target = dup_str(v->destination_path.value)) != NULL;
    else if (ok && target)
        f->target = target, target = NULL;
    if (!ok) {
        if (f)
            fscall_free(f);
        free(target);
        bare_arena_free(&arena);
        sc_reject(req, "kernel_error", "ENOMEM: not enough memory");
        return;
    }
    f->gop = v->operation;
    f->op = g->op;
    f->want = a.length;
    f->d = sc_defer(req);
    if (!f->d) {
        fscall_free(f);
        free(target);
        bare_arena_free(&arena);
        sc_reject(req, "kernel_error", "ENOMEM: not enough memory");
        return;
    }
    int err = sc_jb_call(jb, g->op, &a, on_done, f);
    bare_arena_free(&arena);
    free(target);
    if (err) {
        /* not sent: answered now, as the host's failure would have been */
        char msg[256];
        snprintf(msg, sizeof msg, "%s, %s '%s'",
                 err == EAGAIN ? "too many js_bridge calls wait for the host" : sc_errno_text(err),
                 sc_jb_op_name(g->op), rel);
        sc_jb_result_t r = {err, NULL, msg};
        on_done(jb, f, &r);
    }
}
