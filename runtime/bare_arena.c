/* bare_arena.c - block arena over the caller's allocator; reset keeps the largest block. */
#include <stdlib.h>
#include <string.h>

#include "bare.h"

struct bare_arena_block {
    bare_arena_block_t *next;
    size_t size; /* bytes of storage after the header */
};

#define BLOCK_HEADER (((sizeof(bare_arena_block_t) + 15) / 16) * 16)
#define MIN_BLOCK ((size_t)4096 - BLOCK_HEADER)

void *bare_default_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

void bare_arena_init(bare_arena_t *a, bare_alloc_fn *alloc, void *ud)
{
    a->alloc = alloc ? alloc : bare_default_alloc;
    a->ud = ud;
    a->blocks = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}

static uint8_t *block_data(bare_arena_block_t *b)
{
    return (uint8_t *)b + BLOCK_HEADER;
}

void *bare_arena_alloc(bare_arena_t *a, size_t size, size_t align)
{
    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    if (size == 0)
        size = 1;
    if (a->cur) {
        uintptr_t at = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
        if (at >= (uintptr_t)a->cur && at <= (uintptr_t)a->end &&
            size <= (uintptr_t)a->end - at) {
            a->cur = (uint8_t *)at + size;
            a->used += size;
            return (void *)at;
        }
    }
    /* A new block: at least double the previous one, and large enough for this request. */
    size_t want = MIN_BLOCK;
    if (a->blocks && a->blocks->size <= SIZE_MAX / 2 && a->blocks->size * 2 > want)
        want = a->blocks->size * 2;
    if (size > SIZE_MAX - align - BLOCK_HEADER)
        return NULL;
    if (want < size + align)
        want = size + align;
    bare_arena_block_t *b = a->alloc(a->ud, NULL, 0, BLOCK_HEADER + want);
    if (!b)
        return NULL;
    b->size = want;
    b->next = a->blocks;
    a->blocks = b;
    a->cur = block_data(b);
    a->end = a->cur + want;
    uintptr_t at = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
    a->cur = (uint8_t *)at + size;
    a->used += size;
    return (void *)at;
}

char *bare_arena_strdup(bare_arena_t *a, bare_str_t s)
{
    if (s.len == SIZE_MAX)
        return NULL;
    char *p = bare_arena_alloc(a, s.len + 1, 1);
    if (!p)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

void bare_arena_reset(bare_arena_t *a)
{
    bare_arena_block_t *keep = NULL;
    bare_arena_block_t *b = a->blocks;
    while (b) {
        bare_arena_block_t *next = b->next;
        if (!keep || b->size > keep->size) {
            if (keep)
                a->alloc(a->ud, keep, BLOCK_HEADER + keep->size, 0);
            keep = b;
        } else {
            a->alloc(a->ud, b, BLOCK_HEADER + b->size, 0);
        }
        b = next;
    }
    a->blocks = keep;
    if (keep) {
        keep->next = NULL;
        a->cur = block_data(keep);
        a->end = a->cur + keep->size;
    } else {
        a->cur = a->end = NULL;
    }
    a->used = 0;
}

void bare_arena_free(bare_arena_t *a)
{
    bare_arena_block_t *b = a->blocks;
    while (b) {
        bare_arena_block_t *next = b->next;
        a->alloc(a->ud, b, BLOCK_HEADER + b->size, 0);
        b = next;
    }
    a->blocks = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}
