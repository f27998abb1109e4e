/*
 * base64.h - standard base64 (RFC 4648 section 4, padded), as the reference reads and writes
 * file content: in CreateVm config entries, in snapshot entries and in GuestFilesystemCall.
 */
#ifndef SC_BASE64_H
#define SC_BASE64_H

#include <stddef.h>
#include <stdint.h>

typedef enum sc_base64_status {
    SC_BASE64_OK,
    SC_BASE64_LENGTH,  /* the length is not a multiple of 4 */
    SC_BASE64_CHAR,    /* a character outside the standard alphabet */
    SC_BASE64_PAD,     /* "=" other than as the last one or two characters */
    SC_BASE64_TRAILING /* the unused bits of the last character are not zero */
} sc_base64_status_t;

/* Writes (n + 2) / 3 * 4 characters (no NUL) to out; returns that length. */
size_t sc_base64_encode(const uint8_t *p, size_t n, char *out);

/*
 * Decodes s strictly: the standard alphabet, canonical padding, no whitespace, zero trailing
 * bits. out holds at least n / 4 * 3 bytes. On an error, *at is the offset of the character at
 * fault (0 for SC_BASE64_LENGTH).
 */
sc_base64_status_t sc_base64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen,
                                    size_t *at);

#endif
