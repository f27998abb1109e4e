/*
 * cbrequest.c - the records of a host callback request (cbproto.h) as an invocation. What a
 * guest sends over the VM's callback socket is read here and nowhere else: a pure function,
 * without the socket (cbserve.c reads the header and the bytes) and without state, so the
 * fuzzer (tests/fuzz/fuzz_cbproto.c) reads requests exactly as the sidecar does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The records of a complete request, as an invocation; NULL (with why) when malformed. The
 * strings are copies, NUL-terminated, in one block freed with the call. */
sc_cb_call_t *sc_cb_parse_request(const uint8_t *p, size_t len, const char **why)
{
    size_t nargs = 0, ntext = 0;
    int nalias = 0, ncwd = 0, nfile = 0;
    for (size_t off = 0; off < len;) {
        if (len - off < 5) {
            *why = "a record is cut short";
            return NULL;
        }
        uint8_t tag = p[off];
        size_t n = get_u32(p + off + 1);
        if (n > len - off - 5) {
            *why = "a record is longer than the request";
            return NULL;
        }
        const uint8_t *v = p + off + 5;
        bool text = tag == SC_CB_ALIAS || tag == SC_CB_CWD || tag == SC_CB_ARG;
        if (text && memchr(v, '\0', n)) {
            *why = "an argument contains a NUL byte";
            return NULL;
        }
        switch (tag) {
        case SC_CB_ALIAS:
            nalias++;
            break;
        case SC_CB_CWD:
            ncwd++;
            break;
        case SC_CB_ARG:
            nargs++;
            break;
        case SC_CB_FILE:
            nfile++;
            break;
        case SC_CB_FILE_ERR:
            nfile++;
            if (n != 4) {
                *why = "a file error is not 4 bytes";
                return NULL;
            }
            break;
        default:
            *why = "a record has an unknown tag";
            return NULL;
        }
        ntext += n + 1;
        off += 5 + n;
    }
    if (nalias != 1 || ncwd != 1 || nfile > 1) {
        *why = "it needs one alias, one working directory and at most one file";
        return NULL;
    }
    sc_cb_call_t *call = malloc(sizeof *call + (nargs + 1) * sizeof(char *) + ntext);
    if (!call) {
        *why = "out of memory";
        return NULL;
    }
    memset(call, 0, sizeof *call);
    char **args = (char **)(call + 1);
    char *text = (char *)(args + nargs + 1);
    call->args = (const char *const *)args;
    for (size_t off = 0; off < len;) {
        uint8_t tag = p[off];
        size_t n = get_u32(p + off + 1);
        const uint8_t *v = p + off + 5;
        off += 5 + n;
        if (tag == SC_CB_FILE_ERR) {
            call->has_file = true;
            call->file_err = (int)get_u32(v);
            if (call->file_err <= 0)
                call->file_err = EIO;
            continue;
        }
        memcpy(text, v, n);
        text[n] = '\0';
        if (tag == SC_CB_ALIAS)
            call->alias = text;
        else if (tag == SC_CB_CWD)
            call->cwd = text;
        else if (tag == SC_CB_ARG)
            args[call->nargs++] = text;
        else {
            call->has_file = true;
            call->file = (const uint8_t *)text;
            call->file_len = n;
        }
        text += n + 1;
    }
    args[call->nargs] = NULL;
    return call;
}
