/*
 * layers.c - PRIVILEGED (temporary overlay mounts): per-VM layers. Writable layers are trees
 * holding the minimal root; sealing turns one into an immutable snapshot under a new id;
 * imports build snapshot trees from entries; overlays are recipes materialized at export by
 * mounting a temporary read-only overlay of their layers and listing it.
 *
 * Trust model: layer trees live in the VM's own tmpfs, under names the sidecar makes
 * (layer-N); request fields choose layers only by looking ids up in this VM's store, and
 * entry contents go through sc_entries_apply, which resolves inside the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers.h"
#include "log.h"

#define MAX_OVERLAY_DEPTH 16

static int reject(char *code, char *msg, size_t msglen, const char *c, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int reject(char *code, char *msg, size_t msglen, const char *c, const char *fmt, ...)
{
    va_list ap;
    strcpy(code, c);
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
}

static sc_layer_t *find(sc_layers_t *ls, const char *id)
{
    for (sc_layer_t *l = ls->list; l; l = l->next)
        if (strcmp(l->id, id) == 0)
            return l;
    return NULL;
}

static sc_layer_t *add(sc_layer_ctx_t *c, sc_layer_kind_t kind)
{
    sc_layer_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->kind = kind;
    snprintf(l->id, sizeof l->id, "layer-%llu", (unsigned long long)c->layers->next++);
    l->next = c->layers->list;
    c->layers->list = l;
    c->layers->count++;
    return l;
}

static void free_layer(sc_layer_t *l)
{
    free(l->dir);
    free(l->upper);
    for (size_t i = 0; i < l->nlowers; i++)
        free(l->lowers[i]);
    free(l->lowers);
    free(l);
}

static void drop(sc_layers_t *ls, sc_layer_t *l)
{
    for (sc_layer_t **p = &ls->list; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            ls->count--;
            break;
        }
    }
}

void sc_layers_free(sc_layers_t *layers)
{
    while (layers->list) {
        sc_layer_t *l = layers->list;
        layers->list = l->next;
        free_layer(l);
    }
    layers->count = 0;
}

static int at_limit(sc_layer_ctx_t *c, char *code, char *msg, size_t msglen)
{
    if (c->layers->count < SC_MAX_VM_LAYERS)
        return 0;
    strcpy(code, "invalid_state");
    snprintf(msg, msglen, "VM layer limit exceeded: limit is %d", SC_MAX_VM_LAYERS);
    return -1;
}

/* A new tree directory for l, under the VM's layers/; entries built into it. */
static int make_tree(sc_layer_ctx_t *c, sc_layer_t *l, const sc_entry_t *entries, size_t n,
                     char *code, char *msg, size_t msglen)
{
    char path[SC_PATH_MAX];
    snprintf(path, sizeof path, "%s/layers/%s", c->vm_dir, l->id);
    l->dir = strdup(path);
    if (!l->dir || mkdir(path, 0755) != 0)
        return reject(code, msg, msglen, "kernel_error", "ENOSPC: cannot create layer %s", l->id);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return reject(code, msg, msglen, "kernel_error", "EIO: cannot open layer %s", l->id);
    char why[512];
    int rc = sc_entries_apply(c->host, fd, entries, n, 0, false, why, sizeof why);
    close(fd);
    if (rc != 0)
        return reject(code, msg, msglen, "kernel_error", "%s", why);
    return 0;
}

int sc_layer_create(sc_layer_ctx_t *c, char *id, char *code, char *msg, size_t msglen)
{
    size_t n;
    const sc_entry_t *min = sc_minimal_root(&n);
    if (at_limit(c, code, msg, msglen))
        return -1;
    sc_layer_t *l = add(c, SC_LAYER_WRITABLE);
    if (!l)
        return reject(code, msg, msglen, "invalid_state", "out of memory");
    if (make_tree(c, l, min, n, code, msg, msglen) != 0) {
        drop(c->layers, l);
        free_layer(l);
        return -1;
    }
    strcpy(id, l->id);
    return 0;
}

int sc_layer_seal(sc_layer_ctx_t *c, const char *id, char *new_id, char *code, char *msg,
                  size_t msglen)
{
    sc_layer_t *l = find(c->layers, id);
    if (!l)
        return reject(code, msg, msglen, "invalid_state", "unknown layer: %s", id);
    if (l->kind != SC_LAYER_WRITABLE)
        return reject(code, msg, msglen, "invalid_state", "layer %s is not writable", id);
    /* The tree becomes an immutable snapshot under a new id; the old id is gone. */
    char path[SC_PATH_MAX];
    snprintf(l->id, sizeof l->id, "layer-%llu", (unsigned long long)c->layers->next++);
    snprintf(path, sizeof path, "%s/layers/%s", c->vm_dir, l->id);
    if (rename(l->dir, path) != 0)
        return reject(code, msg, msglen, "kernel_error", "EIO: cannot seal layer %s", id);
    free(l->dir);
    l->dir = strdup(path);
    l->kind = SC_LAYER_SNAPSHOT;
    strcpy(new_id, l->id);
    return 0;
}

int sc_layer_import(sc_layer_ctx_t *c, const sc_entry_list_t *entries, char *id, char *code,
                    char *msg, size_t msglen)
{
    if (at_limit(c, code, msg, msglen))
        return -1;
    sc_layer_t *l = add(c, SC_LAYER_SNAPSHOT);
    if (!l)
        return reject(code, msg, msglen, "invalid_state", "out of memory");
    if (make_tree(c, l, entries->items, entries->len, code, msg, msglen) != 0) {
        drop(c->layers, l);
        free_layer(l);
        return -1;
    }
    strcpy(id, l->id);
    return 0;
}

int sc_layer_overlay(sc_layer_ctx_t *c, bool read_only, const char *upper,
                     const char *const *lowers, size_t nlowers, char *id, char *code, char *msg,
                     size_t msglen)
{
    if (at_limit(c, code, msg, msglen))
        return -1;
    for (size_t i = 0; i < nlowers; i++)
        if (!find(c->layers, lowers[i]))
            return reject(code, msg, msglen, "invalid_state", "unknown lower layer: %s",
                          lowers[i]);
    if (upper && !find(c->layers, upper))
        return reject(code, msg, msglen, "invalid_state", "unknown upper layer: %s", upper);
    if (nlowers > 32)
        return reject(code, msg, msglen, "invalid_state",
                      "an overlay takes at most 32 lower layers");
    sc_layer_t *l = add(c, SC_LAYER_OVERLAY);
    if (!l)
        return reject(code, msg, msglen, "invalid_state", "out of memory");
    l->read_only = read_only;
    l->upper = upper ? strdup(upper) : NULL;
    l->lowers = calloc(nlowers ? nlowers : 1, sizeof *l->lowers);
    l->nlowers = nlowers;
    for (size_t i = 0; i < nlowers && l->lowers; i++)
        l->lowers[i] = strdup(lowers[i]);
    strcpy(id, l->id);
    return 0;
}

/* ---- materialization ---- */

typedef struct mount_stack {
    char paths[64][SC_PATH_MAX];
    size_t n;
    unsigned serial;
} mount_stack_t;

/*
 * The directory holding layer id's merged tree: its own tree, or a temporary read-only overlay
 * of its parts (mounted, and remembered in ms for unmounting). active detects cycles.
 */
static const char *materialize(sc_layer_ctx_t *c, const char *id, const char **active,
                               size_t depth, mount_stack_t *ms, char *code, char *msg,
                               size_t msglen)
{
    sc_layer_t *l = find(c->layers, id);
    if (!l) {
        reject(code, msg, msglen, "invalid_state", "unknown layer: %s", id);
        return NULL;
    }
    if (l->kind != SC_LAYER_OVERLAY)
        return l->dir;
    for (size_t i = 0; i < depth; i++) {
        if (strcmp(active[i], id) == 0) {
            reject(code, msg, msglen, "invalid_state", "layer graph cycle detected at %s", id);
            return NULL;
        }
    }
    if (depth >= MAX_OVERLAY_DEPTH || ms->n >= 64) {
        reject(code, msg, msglen, "invalid_state", "layer graph too deep at %s", id);
        return NULL;
    }
    active[depth] = id;
    const char *parts[34];
    size_t np = 0;
    if (l->upper) {
        const char *d = materialize(c, l->upper, active, depth + 1, ms, code, msg, msglen);
        if (!d)
            return NULL;
        parts[np++] = d;
    }
    for (size_t i = 0; i < l->nlowers; i++) {
        const char *d = materialize(c, l->lowers[i], active, depth + 1, ms, code, msg, msglen);
        if (!d)
            return NULL;
        parts[np++] = d;
    }
    if (l->nlowers == 0)
        parts[np++] = c->host->minimal_dir;
    np = sc_lowers_dedupe(parts, np); /* the same layer twice: once, where it first is */
    if (np == 1)
        return parts[0];
    char *target = ms->paths[ms->n];
    snprintf(target, SC_PATH_MAX, "%s/layers/.view-%u", c->vm_dir, ms->serial++);
    if (mkdir(target, 0755) != 0) {
        reject(code, msg, msglen, "kernel_error", "ENOSPC: cannot materialize layer %s", id);
        return NULL;
    }
    char why[512];
    if (sc_overlay_mount(c->host, target, parts, np, NULL, NULL, why, sizeof why) != 0) {
        rmdir(target);
        reject(code, msg, msglen, "kernel_error", "%s", why);
        return NULL;
    }
    ms->n++;
    return target;
}

int sc_layer_export(sc_layer_ctx_t *c, const char *id, bare_arena_t *arena,
                    sx_root_filesystem_entry_list_t *out, char *code, char *msg, size_t msglen)
{
    mount_stack_t *ms = calloc(1, sizeof *ms);
    const char *active[MAX_OVERLAY_DEPTH + 1];
    if (!ms)
        return reject(code, msg, msglen, "invalid_state", "out of memory");
    int rc = -1;
    const char *dir = materialize(c, id, active, 0, ms, code, msg, msglen);
    if (dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char why[512], what[64];
        snprintf(what, sizeof what, "the snapshot of layer %s", id);
        sc_walk_limits_t lim = c->limits;
        lim.what = what;
        if (fd < 0) {
            reject(code, msg, msglen, "kernel_error", "EIO: cannot open layer %s", id);
        } else if (sc_entries_walk(c->host, fd, &lim, arena, out, why, sizeof why) != 0) {
            /* a list that cannot fit in a frame is refused before its contents are read */
            reject(code, msg, msglen, errno == EMSGSIZE ? "frame_too_large" : "kernel_error", "%s",
                   why);
        } else {
            rc = 0;
        }
        if (fd >= 0)
            close(fd);
    }
    /* innermost mounts were pushed first: unmount in reverse */
    while (ms->n > 0) {
        ms->n--;
        umount2(ms->paths[ms->n], MNT_DETACH);
        rmdir(ms->paths[ms->n]);
    }
    free(ms);
    return rc;
}
