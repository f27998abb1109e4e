/* sym.c - the symbol table: type names to declarations (FNV-1a, linear probing). */
#include <string.h>

#include "sema.h"

static size_t hash(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return (size_t)h;
}

bool sym_init(sym_table_t *t, bare_arena_t *a, size_t expected)
{
    t->cap = 16;
    while (t->cap < expected * 2 + 1)
        t->cap *= 2;
    t->slots = bare_arena_alloc(a, t->cap * sizeof *t->slots, _Alignof(ast_decl_t *));
    if (!t->slots)
        return false;
    memset(t->slots, 0, t->cap * sizeof *t->slots);
    return true;
}

ast_decl_t *sym_find(const sym_table_t *t, const char *name)
{
    for (size_t i = hash(name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i])
            return NULL;
        if (strcmp(t->slots[i]->name, name) == 0)
            return t->slots[i];
    }
}

ast_decl_t *sym_insert(sym_table_t *t, ast_decl_t *d)
{
    for (size_t i = hash(d->name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i]) {
            t->slots[i] = d;
            return NULL;
        }
        if (strcmp(t->slots[i]->name, d->name) == 0)
            return t->slots[i];
    }
}
