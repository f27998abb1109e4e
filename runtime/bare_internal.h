/* bare_internal.h - declarations shared by the runtime's own files; not installed. */
#ifndef BARE_INTERNAL_H
#define BARE_INTERNAL_H

#include "bare.h"

/* Decodes a varint at p (at most end - p bytes); returns bytes used, or 0 with *status set. */
size_t bare_varint_decode(const uint8_t *p, const uint8_t *end, uint64_t *out, int *status);
/* Encodes v at out (room for 10 bytes); returns bytes written. */
size_t bare_varint_encode(uint8_t out[10], uint64_t v);

/* Sorts n indices by cmp(ctx, a, b) with a stable merge sort using tmp (n entries). */
void bare_sort_indices(uint32_t *idx, uint32_t *tmp, size_t n,
                       int (*cmp)(const void *ctx, uint32_t a, uint32_t b), const void *ctx);

#endif
