/*
 * io.h - non-blocking framing over the sidecar's stdin and stdout: a frame reader that is
 * correct on partial reads and discards oversized frames in bounded memory, and a bounded
 * output queue that is correct on partial writes.
 */
#ifndef SC_IO_H
#define SC_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bare.h"

/* How many bytes of an oversized frame are kept to recover its header (tag, id, ownership). */
#define SC_FRAME_PREFIX 4096u

/* Buffers larger than this (per-frame arena, drained output queue) are freed, not kept. */
#define SC_KEEP_BYTES ((size_t)4 << 20)

typedef enum sc_read_result {
    SC_READ_NONE,      /* no complete event yet */
    SC_READ_FRAME,     /* a whole payload */
    SC_READ_OVERSIZE,  /* a frame above the maximum: its first bytes (the rest is dropped) */
    SC_READ_EOF,       /* clean end of stream between frames */
    SC_READ_TRUNCATED, /* end of stream inside a frame */
    SC_READ_ERROR      /* read(2) failed (errno) */
} sc_read_result_t;

typedef struct sc_frame_reader {
    int fd;
    uint32_t max;
    uint8_t *buf; /* unconsumed bytes: buf[head, len) */
    size_t head, len, cap;
    uint64_t discard; /* bytes of an oversized frame still to drop */
    bool eof;
    uint32_t declared; /* length of the last oversized frame */
} sc_frame_reader_t;

void sc_frame_reader_init(sc_frame_reader_t *r, int fd, uint32_t max);
void sc_frame_reader_free(sc_frame_reader_t *r);
/* Appends bytes as if read (in-process use: fuzzing, tests); eof marks the end of the stream. */
int sc_frame_reader_feed(sc_frame_reader_t *r, const void *bytes, size_t len, bool eof);
/* Reads what the fd has (non-blocking); returns bytes read, 0 at EOF, -1 on EAGAIN or error. */
long sc_frame_reader_fill(sc_frame_reader_t *r);
/*
 * The next event from buffered bytes. For SC_READ_FRAME and SC_READ_OVERSIZE, *payload and
 * *len describe bytes valid until the next call (for OVERSIZE, a prefix of the frame).
 */
sc_read_result_t sc_frame_reader_next(sc_frame_reader_t *r, const uint8_t **payload,
                                      size_t *len);

typedef struct sc_outq {
    bare_writer_t w; /* queued bytes are w.buf[head, w.len) */
    size_t head;
} sc_outq_t;

void sc_outq_init(sc_outq_t *q);
void sc_outq_free(sc_outq_t *q);
size_t sc_outq_pending(const sc_outq_t *q);
/* Starts a frame: reserves its length prefix; returns the writer to encode the payload into. */
bare_writer_t *sc_outq_begin(sc_outq_t *q, size_t *mark);
/*
 * Ends the frame begun at mark: fills in the prefix and returns BARE_OK, or removes the frame
 * and returns the encoder's error, or BARE_E_FRAME_TOO_LARGE when the payload exceeds max.
 * *size (if not NULL) gets the payload's size.
 */
int sc_outq_end(sc_outq_t *q, size_t mark, int encode_status, uint32_t max, size_t *size);
/* Writes queued bytes until done or EAGAIN; returns 0, or -1 with errno (EPIPE: host gone).
 * A queue drained this way gives a buffer larger than SC_KEEP_BYTES back (sc_outq_trim). */
int sc_outq_flush(sc_outq_t *q, int fd);
/* Moves every frame queued in from to the end of q (from is left empty); 0, or -1 when out
 * of memory (nothing moved). */
int sc_outq_move(sc_outq_t *q, sc_outq_t *from);
/* When nothing is queued and the buffer is larger than SC_KEEP_BYTES, frees it (and asks the
 * C library to return free memory to the system); the queue stays usable. */
void sc_outq_trim(sc_outq_t *q);

#endif
