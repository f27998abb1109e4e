/* bare_yaml_internal.h - what bare_yaml.c and bare_yaml_out.c share; not installed. */
#ifndef BARE_YAML_INTERNAL_H
#define BARE_YAML_INTERNAL_H

#include "bare_internal.h"

/* true when a str written plain would read back as null, a bool, a number or a merge key. */
bool bare_yaml_needs_quotes(const char *s, size_t n);
/* "", "~", "null", "Null", "NULL". */
bool bare_yaml_is_null_text(const char *s, size_t n);
/* YAML 1.2 core integer: sign and magnitude; false when it is none or exceeds 64 bits. */
bool bare_yaml_parse_int(const char *s, size_t n, bool *neg, uint64_t *magnitude);
/* YAML 1.2 core float (an integer too); false when it is none or a finite value overflows. */
bool bare_yaml_parse_float(const char *s, size_t n, bool single, double *out);
/* The shortest text that reads back to the same float; buf needs 40 bytes. */
size_t bare_yaml_format_float(double v, bool single, char *buf, size_t cap);
/* Standard base64 with padding; out needs (n + 2) / 3 * 4 bytes. Returns the length. */
size_t bare_yaml_base64_encode(const uint8_t *p, size_t n, char *out);

/* A map key read back from its BARE bytes: how the reader compares and names it. */
typedef struct bare_yaml_key {
    bare_key_kind_t kind;
    uint64_t bits;      /* UNSIGNED: the value; SIGNED: the int64_t value's bits */
    bare_bytes_t bytes; /* BYTES: the str or data payload; FIXED: the N bytes */
} bare_yaml_key_t;

bare_key_kind_t bare_yaml_key_kind(const bare_type_desc_t *key);
/* p[0..len) is one valid encoding of a value of type key. */
void bare_yaml_key_read(const bare_type_desc_t *key, const uint8_t *p, size_t len,
                        bare_yaml_key_t *out);
/* Prepends the entry's segment to e's path as generated decoders do; returns e->status. */
int bare_yaml_key_path(bare_error_t *e, const bare_yaml_key_t *k, size_t index);
/*
 * The index of the first entry whose key bytes buf[starts[i]..ends[i]) repeat an earlier
 * entry's; SIZE_MAX when all differ, SIZE_MAX - 1 when scratch memory ran out.
 */
size_t bare_yaml_find_duplicate(const uint8_t *buf, const size_t *starts, const size_t *ends,
                                size_t n, bare_arena_t *arena);

#endif
