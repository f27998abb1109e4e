/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry point, a check that aborts with a
 * message (libFuzzer and the replay main both report an abort as a crash), and value buffers.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
static inline void
fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: fuzz check failed: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* Aborts with the formatted message unless cond holds. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                            \
    } while (0)

/*
 * A heap block of exactly size bytes filled with a junk pattern: a decoder that leaves part of
 * a value unset shows up as a re-encoding that differs, and one that writes past the C type
 * shows up under AddressSanitizer.
 */
static inline void *fuzz_junk(size_t size)
{
    void *p = malloc(size ? size : 1);
    FUZZ_CHECK(p != NULL, "out of memory");
    memset(p, 0xA5, size ? size : 1);
    return p;
}

/* A failed decode must leave a coherent error: a decode status, an offset inside the input. */
static inline void fuzz_check_reject(int rc, const bare_error_t *err, size_t size)
{
    switch (rc) {
    case BARE_E_TRUNCATED:
    case BARE_E_VARINT_NONCANONICAL:
    case BARE_E_VARINT_OVERFLOW:
    case BARE_E_BOOL:
    case BARE_E_OPTIONAL:
    case BARE_E_UTF8:
    case BARE_E_ENUM:
    case BARE_E_UNION_TAG:
    case BARE_E_DUPLICATE_KEY:
    case BARE_E_LENGTH:
    case BARE_E_TRAILING:
    case BARE_E_DEPTH:
    case BARE_E_ALLOC_LIMIT:
    case BARE_E_NOMEM:
        break;
    default:
        fuzz_fail(__FILE__, __LINE__,
                  "decode failed with status %d (%s), which no decode may "
                  "report",
                  rc, bare_status_name(rc));
    }
    FUZZ_CHECK(err->status == rc, "error status %d, returned %d", err->status, rc);
    FUZZ_CHECK(err->offset <= size, "error offset %zu beyond the %zu-byte input", err->offset,
               size);
    FUZZ_CHECK(err->path_start < BARE_PATH_MAX &&
                   memchr(err->path + err->path_start, '\0', BARE_PATH_MAX - err->path_start),
               "error path is not terminated");
}

#endif
