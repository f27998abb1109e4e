/*
 * basefs.c - the bundled base filesystem: a YAML data file (base-filesystem.yaml, installed with
 * the sidecar) read into entries and built once into the state directory; every VM's overlay
 * uses it as its lowest layer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "basefs.h"
#include "log.h"

#ifndef SC_DATADIR
#define SC_DATADIR "/usr/local/share/secure-exec"
#endif

static int fail_at(char *err, size_t errlen, const char *file, const yaml_node_t *n,
                   const char *what)
{
    snprintf(err, errlen, "%s:%zu:%zu: %s", file, n ? n->start_mark.line + 1 : 0,
             n ? n->start_mark.column + 1 : 0, what);
    return -1;
}

static const char *scalar(yaml_document_t *doc, yaml_node_t *map, const char *key,
                          yaml_node_t **at)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0) {
            if (at)
                *at = v;
            return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
        }
    }
    return NULL;
}

static int number(const char *s, int base, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = s ? strtoul(s, &end, base) : 0;
    if (!s || !*s || *end || errno || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int load_entry(yaml_document_t *doc, yaml_node_t *n, bare_arena_t *arena, sc_entry_t *e,
                      const char *file, char *err, size_t errlen)
{
    yaml_node_t *at = n;
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(err, errlen, file, n, "an entry must be a mapping");
    memset(e, 0, sizeof *e);
    const char *path = scalar(doc, n, "path", &at);
    const char *kind = scalar(doc, n, "kind", &at);
    if (!path || path[0] != '/')
        return fail_at(err, errlen, file, n, "an entry needs an absolute path");
    e->path = bare_arena_strdup(arena, bare_str_from_cstr(path));
    if (!kind)
        return fail_at(err, errlen, file, n, "an entry needs a kind");
    if (strcmp(kind, "directory") == 0)
        e->kind = SC_ENTRY_DIRECTORY, e->mode = 0755;
    else if (strcmp(kind, "file") == 0)
        e->kind = SC_ENTRY_FILE, e->mode = 0644;
    else if (strcmp(kind, "symlink") == 0)
        e->kind = SC_ENTRY_SYMLINK, e->mode = 0777;
    else
        return fail_at(err, errlen, file, at, "kind must be directory, file or symlink");
    const char *s;
    if ((s = scalar(doc, n, "mode", &at)) && number(s, 8, &e->mode) != 0)
        return fail_at(err, errlen, file, at, "mode must be an octal number");
    if ((s = scalar(doc, n, "uid", &at)) && number(s, 10, &e->uid) != 0)
        return fail_at(err, errlen, file, at, "uid must be a number");
    if ((s = scalar(doc, n, "gid", &at)) && number(s, 10, &e->gid) != 0)
        return fail_at(err, errlen, file, at, "gid must be a number");
    if ((s = scalar(doc, n, "content", &at))) {
        e->content = (const uint8_t *)bare_arena_strdup(arena, bare_str_from_cstr(s));
        e->content_len = strlen(s);
        e->has_content = true;
    }
    if ((s = scalar(doc, n, "target", &at)))
        e->target = bare_arena_strdup(arena, bare_str_from_cstr(s));
    if (e->kind == SC_ENTRY_SYMLINK && !e->target)
        return fail_at(err, errlen, file, n, "a symlink needs a target");
    return 0;
}

int sc_basefs_load(const char *file, bare_arena_t *arena, sc_entry_list_t *out, char *err,
                   size_t errlen)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read the base filesystem %s: %s", file, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: %s", file, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *list = NULL;
    if (!root || root->type != YAML_MAPPING_NODE) {
        fail_at(err, errlen, file, root, "the base filesystem must be a mapping with 'entries'");
        goto out;
    }
    scalar(&doc, root, "entries", &list);
    if (!list || list->type != YAML_SEQUENCE_NODE) {
        fail_at(err, errlen, file, root, "'entries' must be a list");
        goto out;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    out->items = bare_arena_alloc(arena, (n ? n : 1) * sizeof *out->items, _Alignof(sc_entry_t));
    out->len = 0;
    for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
         i++) {
        yaml_node_t *node = yaml_document_get_node(&doc, *i);
        if (!node || load_entry(&doc, node, arena, &out->items[out->len], file, err, errlen) != 0)
            goto out;
        out->len++;
    }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

const char *sc_basefs_default_path(char *buf, size_t len)
{
    /* Installed: $(PREFIX)/share/secure-exec; built: the source tree next to build/. */
    snprintf(buf, len, "%s/base-filesystem.yaml", SC_DATADIR);
    if (access(buf, R_OK) == 0)
        return buf;
    char exe[SC_BASEFS_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *const candidates[] = {"/../share/secure-exec/base-filesystem.yaml",
                                          "/../sidecar/base-filesystem.yaml",
                                          "/../../sidecar/base-filesystem.yaml"};
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
            snprintf(buf, len, "%s%s", exe, candidates[i]);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
#ifdef SC_SOURCE_DIR
    /* built out of the tree (make O=/elsewhere): the source tree it was built from */
    snprintf(buf, len, "%s/base-filesystem.yaml", SC_SOURCE_DIR);
    if (access(buf, R_OK) == 0)
        return buf;
#endif
    snprintf(buf, len, "%s/base-filesystem.yaml", SC_DATADIR);
    return buf;
}
