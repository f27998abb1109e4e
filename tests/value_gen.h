/* value_gen.h - random values and deep comparison of generated C types, driven by descriptors. */
#ifndef VALUE_GEN_H
#define VALUE_GEN_H

#include <stdint.h>

#include "bare.h"

typedef struct value_gen {
    uint64_t state;     /* xorshift state */
    bare_arena_t *arena;
    int max_depth;      /* aggregates deeper than this are empty or absent */
    size_t max_items;   /* longest list or map */
} value_gen_t;

uint64_t value_gen_next(value_gen_t *g);
/* Fills *value (laid out as d's C type) with a random value that obeys the schema. */
void value_gen_fill(value_gen_t *g, const bare_type_desc_t *d, void *value);
/* true when a and b (both d's C type) hold the same value. */
bool value_equal(const bare_type_desc_t *d, const void *a, const void *b);

#endif
