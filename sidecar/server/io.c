/* io.c - the frame reader and the output queue of the sidecar's stdio transport. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#define READ_CHUNK 65536u

void sc_frame_reader_init(sc_frame_reader_t *r, int fd, uint32_t max)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->max = max;
}

void sc_frame_reader_free(sc_frame_reader_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Room for n more bytes at the end, compacting consumed bytes first. */
static bool reserve(sc_frame_reader_t *r, size_t n)
{
    if (r->head > 0) {
        memmove(r->buf, r->buf + r->head, r->len - r->head);
        r->len -= r->head;
        r->head = 0;
    }
    if (r->cap - r->len >= n)
        return true;
    size_t cap = r->cap ? r->cap : READ_CHUNK;
    while (cap - r->len < n)
        cap *= 2;
    uint8_t *p = realloc(r->buf, cap);
    if (!p)
        return false;
    r->buf = p;
    r->cap = cap;
    return true;
}

int sc_frame_reader_feed(sc_frame_reader_t *r, const void *bytes, size_t len, bool eof)
{
    if (len && !reserve(r, len))
        return -1;
    if (len)
        memcpy(r->buf + r->len, bytes, len);
    r->len += len;
    r->eof = r->eof || eof;
    return 0;
}

long sc_frame_reader_fill(sc_frame_reader_t *r)
{
    if (r->eof)
        return 0;
    if (!reserve(r, READ_CHUNK)) {
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        ssize_t k = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            r->eof = true;
        r->len += (size_t)k;
        return (long)k;
    }
}

sc_read_result_t sc_frame_reader_next(sc_frame_reader_t *r, const uint8_t **payload,
                                      size_t *len)
{
    size_t avail = r->len - r->head;

    /* The tail of an oversized frame: drop what has arrived. */
    if (r->discard) {
        size_t drop = avail < r->discard ? avail : (size_t)r->discard;
        r->head += drop;
        r->discard -= drop;
        avail -= drop;
        if (r->discard)
            return r->eof ? SC_READ_TRUNCATED : SC_READ_NONE;
    }
    if (avail < BARE_FRAME_HEADER_SIZE) {
        if (r->eof)
            return avail == 0 ? SC_READ_EOF : SC_READ_TRUNCATED;
        return SC_READ_NONE;
    }
    uint32_t n = bare_frame_header_decode(r->buf + r->head);
    if (n > r->max) {
        /* Wait for the prefix (or the end of the stream), then report and drop the rest. */
        size_t want = n < SC_FRAME_PREFIX ? n : SC_FRAME_PREFIX;
        if (avail - BARE_FRAME_HEADER_SIZE < want && !r->eof)
            return SC_READ_NONE;
        size_t have = avail - BARE_FRAME_HEADER_SIZE;
        *payload = r->buf + r->head + BARE_FRAME_HEADER_SIZE;
        *len = have < want ? have : want;
        r->head += BARE_FRAME_HEADER_SIZE;
        r->discard = n;
        r->declared = n;
        /* The prefix stays readable until the next call; it is dropped then. */
        return SC_READ_OVERSIZE;
    }
    if (avail - BARE_FRAME_HEADER_SIZE < n) {
        if (r->eof)
            return SC_READ_TRUNCATED;
        if (!reserve(r, n + BARE_FRAME_HEADER_SIZE - avail))
            return SC_READ_ERROR;
        return SC_READ_NONE;
    }
    *payload = r->buf + r->head + BARE_FRAME_HEADER_SIZE;
    *len = n;
    r->head += BARE_FRAME_HEADER_SIZE + n;
    return SC_READ_FRAME;
}

void sc_outq_init(sc_outq_t *q)
{
    bare_writer_init(&q->w, NULL, NULL);
    q->head = 0;
}

void sc_outq_free(sc_outq_t *q)
{
    bare_writer_free(&q->w);
    q->head = 0;
}

size_t sc_outq_pending(const sc_outq_t *q)
{
    return q->w.len - q->head;
}

bare_writer_t *sc_outq_begin(sc_outq_t *q, size_t *mark)
{
    /* Drop written bytes once they are the larger part of the buffer. */
    if (q->head > 0 && q->head >= q->w.len / 2) {
        memmove(q->w.buf, q->w.buf + q->head, q->w.len - q->head);
        q->w.len -= q->head;
        q->head = 0;
    }
    *mark = q->w.len;
    static const uint8_t zero[BARE_FRAME_HEADER_SIZE];
    if (bare_write_bytes(&q->w, zero, sizeof zero) != BARE_OK)
        q->w.status = BARE_E_NOMEM;
    return &q->w;
}

int sc_outq_end(sc_outq_t *q, size_t mark, int encode_status, uint32_t max, size_t *size)
{
    int rc = encode_status ? encode_status : q->w.status;
    size_t n = q->w.len - mark - BARE_FRAME_HEADER_SIZE;
    if (size)
        *size = n;
    if (rc == BARE_OK && n > max)
        rc = BARE_E_FRAME_TOO_LARGE;
    if (rc != BARE_OK) {
        q->w.len = mark;
        q->w.status = BARE_OK;
        return rc;
    }
    bare_frame_header_encode(q->w.buf + mark, (uint32_t)n);
    return BARE_OK;
}

int sc_outq_flush(sc_outq_t *q, int fd)
{
    while (q->head < q->w.len) {
        ssize_t k = write(fd, q->w.buf + q->head, q->w.len - q->head);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        q->head += (size_t)k;
    }
    q->head = 0;
    q->w.len = 0;
    sc_outq_trim(q);
    return 0;
}

void sc_outq_trim(sc_outq_t *q)
{
    if (sc_outq_pending(q) != 0 || q->w.cap <= SC_KEEP_BYTES)
        return;
    bare_writer_free(&q->w);
    q->head = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int sc_outq_move(sc_outq_t *q, sc_outq_t *from)
{
    size_t n = sc_outq_pending(from);
    if (n && bare_write_bytes(&q->w, from->w.buf + from->head, n) != BARE_OK) {
        q->w.status = BARE_OK;
        return -1;
    }
    from->head = from->w.len = 0;
    return 0;
}
