/*
 * fuzz_cbproto.c - any bytes as the records of a host callback request (what a guest sends over
 * the VM's callback socket after the 8-byte header, cbproto.h), through sc_cb_parse_request()
 * (sidecar/host/cbrequest.c), as cbserve.c reads them. No crash, no leak. A rejection says why,
 * in one of the parser's messages. An accepted request has an alias, a working directory and a
 * NULL-terminated argument vector of NUL-terminated strings without NUL; a file, or a positive
 * file errno, only with a FILE or FILE_ERR record. Written again with its records in the order
 * secure-exec-callback writes them, it is exactly as long as the input (byte for byte the input
 * when that was already in that order with a positive errno) and reads back the same.
 */
#include "callbacks.h"
#include "fuzz.h"

static const char *const messages[] = {
    "a record is cut short",
    "a record is longer than the request",
    "an argument contains a NUL byte",
    "a file error is not 4 bytes",
    "a record has an unknown tag",
    "it needs one alias, one working directory and at most one file",
    "out of memory",
};

typedef struct out {
    uint8_t *p;
    size_t len, cap;
} out_t;

static void put(out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        o->p = realloc(o->p, cap);
        FUZZ_CHECK(o->p != NULL, "out of memory");
        o->cap = cap;
    }
    if (n)
        memcpy(o->p + o->len, p, n);
    o->len += n;
}

static void put_rec(out_t *o, uint8_t tag, const void *p, size_t n)
{
    uint8_t head[5] = {tag, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    put(o, head, sizeof head);
    put(o, p, n);
}

/* The request as secure-exec-callback writes it: ALIAS, CWD, each ARG, then FILE or FILE_ERR. */
static void encode(out_t *o, const sc_cb_call_t *c)
{
    o->len = 0;
    put_rec(o, SC_CB_ALIAS, c->alias, strlen(c->alias));
    put_rec(o, SC_CB_CWD, c->cwd, strlen(c->cwd));
    for (size_t i = 0; i < c->nargs; i++)
        put_rec(o, SC_CB_ARG, c->args[i], strlen(c->args[i]));
    if (c->has_file && c->file_err) {
        uint32_t e = (uint32_t)c->file_err;
        uint8_t le[4] = {(uint8_t)e, (uint8_t)(e >> 8), (uint8_t)(e >> 16), (uint8_t)(e >> 24)};
        put_rec(o, SC_CB_FILE_ERR, le, 4);
    } else if (c->has_file) {
        put_rec(o, SC_CB_FILE, c->file, c->file_len);
    }
}

static void check_call(const sc_cb_call_t *c)
{
    FUZZ_CHECK(c->alias != NULL && c->cwd != NULL, "an accepted request lacks its alias or cwd");
    FUZZ_CHECK(c->args != NULL && c->args[c->nargs] == NULL,
               "the argument vector is not NULL-terminated after %zu arguments", c->nargs);
    for (size_t i = 0; i < c->nargs; i++)
        FUZZ_CHECK(c->args[i] != NULL, "argument %zu is NULL", i);
    if (!c->has_file)
        FUZZ_CHECK(c->file == NULL && c->file_len == 0 && c->file_err == 0,
                   "a file or a file errno without a file record");
    else
        FUZZ_CHECK(c->file_err > 0 ? c->file == NULL && c->file_len == 0 : c->file != NULL,
                   "a file record gives both content and an errno (%d), or neither", c->file_err);
}

static bool same_call(const sc_cb_call_t *a, const sc_cb_call_t *b)
{
    if (strcmp(a->alias, b->alias) != 0 || strcmp(a->cwd, b->cwd) != 0 || a->nargs != b->nargs ||
        a->has_file != b->has_file || a->file_err != b->file_err || a->file_len != b->file_len)
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (strcmp(a->args[i], b->args[i]) != 0)
            return false;
    return a->file_len == 0 || memcmp(a->file, b->file, a->file_len) == 0;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether the records of an accepted request come in encode()'s order: ALIAS, CWD, ARG...,
 * then at most one FILE, or one FILE_ERR with a positive errno. */
static bool in_order(const uint8_t *p, size_t len)
{
    size_t k = 0;
    for (size_t off = 0; off < len; k++) {
        uint8_t tag = p[off];
        size_t next = off + 5 + get_u32(p + off + 1);
        if ((k == 0 && tag != SC_CB_ALIAS) || (k == 1 && tag != SC_CB_CWD))
            return false;
        if (tag == SC_CB_FILE || tag == SC_CB_FILE_ERR)
            return next == len && (tag == SC_CB_FILE || (int32_t)get_u32(p + off + 5) > 0);
        off = next;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SC_CB_MAX_REQUEST) /* cbserve.c answers with an error before reading it */
        return 0;
    const char *why = NULL;
    sc_cb_call_t *call = sc_cb_parse_request(data, size, &why);
    if (!call) {
        FUZZ_CHECK(why != NULL, "a rejection without a message");
        bool known = false;
        for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
            known = known || strcmp(why, messages[i]) == 0;
        FUZZ_CHECK(known, "a rejection with an unknown message: %s", why);
        return 0;
    }
    check_call(call);

    out_t o = {0};
    encode(&o, call);
    FUZZ_CHECK(o.len == size, "written again it is %zu bytes, not %zu", o.len, size);
    if (in_order(data, size))
        FUZZ_CHECK(memcmp(o.p, data, size) == 0,
                   "written again in the order it came in, it is not the same bytes");
    why = NULL;
    sc_cb_call_t *again = sc_cb_parse_request(o.p, o.len, &why);
    FUZZ_CHECK(again != NULL, "written again it is refused: %s", why);
    check_call(again);
    FUZZ_CHECK(same_call(call, again), "written again it reads back differently");
    free(again);
    free(o.p);
    free(call);
    return 0;
}
