/*
 * value_gen.c - walks the C layout of generated types through their descriptors: random values
 * for round-trip tests, and deep equality. Lists and maps are {size_t len; T *items;}.
 */
#include <stdio.h>
#include <string.h>

#include "value_gen.h"

typedef struct list_layout {
    size_t len;
    void *items;
} list_layout_t;

uint64_t value_gen_next(value_gen_t *g)
{
    uint64_t x = g->state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g->state = x;
    return x;
}

static void *alloc(value_gen_t *g, size_t n)
{
    void *p = bare_arena_alloc(g->arena, n ? n : 1, 16);
    memset(p, 0, n ? n : 1);
    return p;
}

static void store_uint(void *p, size_t size, uint64_t v)
{
    if (size == 1) {
        uint8_t x = (uint8_t)v;
        memcpy(p, &x, 1);
    } else if (size == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
    } else if (size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

static uint64_t load_uint(const void *p, size_t size)
{
    if (size == 1) {
        uint8_t x;
        memcpy(&x, p, 1);
        return x;
    }
    if (size == 2) {
        uint16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    if (size == 4) {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Valid UTF-8 mixing ASCII and 2-, 3- and 4-byte characters. */
static bare_str_t random_str(value_gen_t *g, size_t unique)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "é", "€", "漢", "😀", "\"", "\\", "\n"};
    size_t n = value_gen_next(g) % 6;
    char *buf = alloc(g, n * 4 + 24);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[value_gen_next(g) % (sizeof pieces / sizeof pieces[0])];
        memcpy(buf + k, p, strlen(p));
        k += strlen(p);
    }
    if (unique != SIZE_MAX)
        k += (size_t)snprintf(buf + k, 24, "#%zu", unique);
    bare_str_t s = {buf, k};
    return s;
}

static void fill_key(value_gen_t *g, const bare_type_desc_t *d, void *p, size_t i)
{
    switch (d->kind) {
    case BARE_KIND_STR: {
        bare_str_t s = random_str(g, i);
        memcpy(p, &s, sizeof s);
        break;
    }
    case BARE_KIND_DATA: {
        bare_bytes_t b;
        uint8_t *buf = alloc(g, sizeof i);
        memcpy(buf, &i, sizeof i);
        b.ptr = buf;
        b.len = sizeof i;
        memcpy(p, &b, sizeof b);
        break;
    }
    case BARE_KIND_ENUM:
        store_uint(p, d->c_size, d->values[i % d->count].value);
        break;
    case BARE_KIND_DATA_FIXED:
        memset(p, 0, d->c_size);
        memcpy(p, &i, d->c_size < sizeof i ? d->c_size : sizeof i);
        break;
    default:
        store_uint(p, d->c_size, i);
        break;
    }
}

/* How many distinct keys the key type has (so a map never repeats one). */
static size_t key_space(const bare_type_desc_t *d)
{
    switch (d->kind) {
    case BARE_KIND_BOOL:
        return 2;
    case BARE_KIND_ENUM:
        return d->count;
    case BARE_KIND_U8:
    case BARE_KIND_I8:
        return 256;
    default:
        return SIZE_MAX;
    }
}

static void fill(value_gen_t *g, const bare_type_desc_t *d, void *p, int depth);

static void fill_boxed(value_gen_t *g, const bare_type_desc_t *d, void *slot, int depth)
{
    void *v = alloc(g, d->c_size);
    fill(g, d, v, depth);
    memcpy(slot, &v, sizeof v);
}

static void fill(value_gen_t *g, const bare_type_desc_t *d, void *p, int depth)
{
    uint8_t *b = p;
    bool deep = depth >= g->max_depth;
    switch (d->kind) {
    case BARE_KIND_UINT:
    case BARE_KIND_U64:
    case BARE_KIND_INT:
    case BARE_KIND_I64:
    case BARE_KIND_U8:
    case BARE_KIND_U16:
    case BARE_KIND_U32:
    case BARE_KIND_I8:
    case BARE_KIND_I16:
    case BARE_KIND_I32:
    case BARE_KIND_F32:
    case BARE_KIND_F64: {
        /* small, boundary and random values */
        uint64_t pick = value_gen_next(g) % 4;
        uint64_t v = pick == 0 ? 0 : pick == 1 ? UINT64_MAX : value_gen_next(g);
        store_uint(p, d->c_size, v);
        break;
    }
    case BARE_KIND_BOOL: {
        bool v = value_gen_next(g) & 1;
        memcpy(p, &v, sizeof v);
        break;
    }
    case BARE_KIND_STR: {
        bare_str_t s = random_str(g, SIZE_MAX);
        memcpy(p, &s, sizeof s);
        break;
    }
    case BARE_KIND_DATA: {
        bare_bytes_t v;
        size_t n = value_gen_next(g) % 40;
        uint8_t *buf = alloc(g, n);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)value_gen_next(g);
        v.ptr = buf;
        v.len = n;
        memcpy(p, &v, sizeof v);
        break;
    }
    case BARE_KIND_DATA_FIXED:
        for (size_t i = 0; i < d->length; i++)
            b[i] = (uint8_t)value_gen_next(g);
        break;
    case BARE_KIND_VOID:
        break;
    case BARE_KIND_ENUM:
        store_uint(p, d->c_size, d->values[value_gen_next(g) % d->count].value);
        break;
    case BARE_KIND_OPTIONAL: {
        bool present = !deep && (value_gen_next(g) & 1);
        memcpy(p, &present, sizeof present);
        if (!present)
            break;
        if (d->boxed)
            fill_boxed(g, d->elem, b + d->c_inner_offset, depth + 1);
        else
            fill(g, d->elem, b + d->c_inner_offset, depth + 1);
        break;
    }
    case BARE_KIND_LIST: {
        list_layout_t l;
        l.len = deep ? 0 : (size_t)(value_gen_next(g) % (g->max_items + 1));
        l.items = alloc(g, l.len * d->elem->c_size);
        for (size_t i = 0; i < l.len; i++)
            fill(g, d->elem, (uint8_t *)l.items + i * d->elem->c_size, depth + 1);
        memcpy(p, &l, sizeof l);
        break;
    }
    case BARE_KIND_LIST_FIXED:
        for (size_t i = 0; i < d->length; i++)
            fill(g, d->elem, b + i * d->elem->c_size, depth + 1);
        break;
    case BARE_KIND_MAP: {
        list_layout_t l;
        size_t space = key_space(d->key);
        l.len = deep ? 0 : (size_t)(value_gen_next(g) % (g->max_items + 1));
        if (l.len > space)
            l.len = space;
        l.items = alloc(g, l.len * d->c_entry_size);
        for (size_t i = 0; i < l.len; i++) {
            uint8_t *entry = (uint8_t *)l.items + i * d->c_entry_size;
            fill_key(g, d->key, entry, i);
            fill(g, d->elem, entry + d->c_inner_offset, depth + 1);
        }
        memcpy(p, &l, sizeof l);
        break;
    }
    case BARE_KIND_UNION: {
        /* Past the depth limit, prefer a member that cannot recurse further. */
        size_t m = value_gen_next(g) % d->count;
        if (deep)
            for (size_t i = 0; i < d->count; i++)
                if (!d->members[i].boxed) {
                    m = i;
                    break;
                }
        const bare_member_desc_t *mem = &d->members[m];
        store_uint(p, d->c_tag_size, mem->tag);
        if (!mem->type)
            break;
        if (mem->boxed)
            fill_boxed(g, mem->type, b + d->c_inner_offset, depth + 1);
        else
            fill(g, mem->type, b + d->c_inner_offset, depth + 1);
        break;
    }
    case BARE_KIND_STRUCT:
        for (size_t i = 0; i < d->count; i++)
            fill(g, d->fields[i].type, b + d->fields[i].c_offset, depth + 1);
        break;
    }
}

void value_gen_fill(value_gen_t *g, const bare_type_desc_t *d, void *value)
{
    memset(value, 0, d->c_size);
    fill(g, d, value, 0);
}

static bool eq_boxed(const bare_type_desc_t *d, const void *a, const void *b)
{
    void *pa, *pb;
    memcpy(&pa, a, sizeof pa);
    memcpy(&pb, b, sizeof pb);
    return value_equal(d, pa, pb);
}

bool value_equal(const bare_type_desc_t *d, const void *a, const void *b)
{
    const uint8_t *x = a, *y = b;
    switch (d->kind) {
    case BARE_KIND_STR:
    case BARE_KIND_DATA: {
        bare_bytes_t s, t;
        memcpy(&s, a, sizeof s);
        memcpy(&t, b, sizeof t);
        return s.len == t.len && (s.len == 0 || memcmp(s.ptr, t.ptr, s.len) == 0);
    }
    case BARE_KIND_BOOL: {
        bool s, t;
        memcpy(&s, a, sizeof s);
        memcpy(&t, b, sizeof t);
        return s == t;
    }
    case BARE_KIND_VOID:
        return true;
    case BARE_KIND_OPTIONAL: {
        bool pa, pb;
        memcpy(&pa, a, sizeof pa);
        memcpy(&pb, b, sizeof pb);
        if (pa != pb)
            return false;
        if (!pa)
            return true;
        if (d->boxed)
            return eq_boxed(d->elem, x + d->c_inner_offset, y + d->c_inner_offset);
        return value_equal(d->elem, x + d->c_inner_offset, y + d->c_inner_offset);
    }
    case BARE_KIND_LIST:
    case BARE_KIND_MAP: {
        list_layout_t s, t;
        memcpy(&s, a, sizeof s);
        memcpy(&t, b, sizeof t);
        if (s.len != t.len)
            return false;
        size_t stride = d->kind == BARE_KIND_LIST ? d->elem->c_size : d->c_entry_size;
        for (size_t i = 0; i < s.len; i++) {
            const uint8_t *ea = (const uint8_t *)s.items + i * stride;
            const uint8_t *eb = (const uint8_t *)t.items + i * stride;
            if (d->kind == BARE_KIND_LIST) {
                if (!value_equal(d->elem, ea, eb))
                    return false;
            } else if (!value_equal(d->key, ea, eb) ||
                       !value_equal(d->elem, ea + d->c_inner_offset, eb + d->c_inner_offset)) {
                return false;
            }
        }
        return true;
    }
    case BARE_KIND_LIST_FIXED:
        for (size_t i = 0; i < d->length; i++)
            if (!value_equal(d->elem, x + i * d->elem->c_size, y + i * d->elem->c_size))
                return false;
        return true;
    case BARE_KIND_UNION: {
        uint64_t ta = load_uint(a, d->c_tag_size), tb = load_uint(b, d->c_tag_size);
        if (ta != tb)
            return false;
        for (size_t i = 0; i < d->count; i++) {
            const bare_member_desc_t *m = &d->members[i];
            if (m->tag != ta)
                continue;
            if (!m->type)
                return true;
            if (m->boxed)
                return eq_boxed(m->type, x + d->c_inner_offset, y + d->c_inner_offset);
            return value_equal(m->type, x + d->c_inner_offset, y + d->c_inner_offset);
        }
        return false;
    }
    case BARE_KIND_STRUCT:
        for (size_t i = 0; i < d->count; i++)
            if (!value_equal(d->fields[i].type, x + d->fields[i].c_offset,
                             y + d->fields[i].c_offset))
                return false;
        return true;
    default:
        /* integers, floats (bitwise), enums, fixed data */
        return memcmp(a, b, d->c_size) == 0;
    }
}
