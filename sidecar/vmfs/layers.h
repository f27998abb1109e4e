/* layers.h - per-VM layers: writable trees, sealed snapshots and overlay recipes (layers.c). */
#ifndef SC_LAYERS_H
#define SC_LAYERS_H

#include "fs.h"

#define SC_MAX_VM_LAYERS 256

typedef enum sc_layer_kind { SC_LAYER_WRITABLE, SC_LAYER_SNAPSHOT, SC_LAYER_OVERLAY } sc_layer_kind_t;

typedef struct sc_layer {
    struct sc_layer *next;
    char id[32];
    sc_layer_kind_t kind;
    char *dir;       /* WRITABLE, SNAPSHOT: the tree */
    char *upper;     /* OVERLAY: upper layer id, or NULL */
    char **lowers;   /* OVERLAY: lower layer ids, first = highest */
    size_t nlowers;
    bool read_only;  /* OVERLAY: the requested mode (recorded) */
} sc_layer_t;

typedef struct sc_layers {
    sc_layer_t *list;
    size_t count;
    uint64_t next; /* layer-N, per VM, from 1 */
} sc_layers_t;

/* The context every layer call needs: the host, the VM's directory and its limits. */
typedef struct sc_layer_ctx {
    const sc_host_t *host;
    const char *vm_dir;
    sc_layers_t *layers;
    sc_walk_limits_t limits;
} sc_layer_ctx_t;

/*
 * Each returns 0, or -1 with the rejection code and message (invalid_state or kernel_error;
 * export: frame_too_large for a snapshot that cannot fit in limits.frame, before it is read).
 */
int sc_layer_create(sc_layer_ctx_t *c, char *id, char *code, char *msg, size_t msglen);
int sc_layer_seal(sc_layer_ctx_t *c, const char *id, char *new_id, char *code, char *msg,
                  size_t msglen);
int sc_layer_import(sc_layer_ctx_t *c, const sc_entry_list_t *entries, char *id, char *code,
                    char *msg, size_t msglen);
int sc_layer_overlay(sc_layer_ctx_t *c, bool read_only, const char *upper,
                     const char *const *lowers, size_t nlowers, char *id, char *code, char *msg,
                     size_t msglen);
int sc_layer_export(sc_layer_ctx_t *c, const char *id, bare_arena_t *arena,
                    sx_root_filesystem_entry_list_t *out, char *code, char *msg, size_t msglen);
/* Frees the store (the trees go with the VM's tmpfs). */
void sc_layers_free(sc_layers_t *layers);

#endif
