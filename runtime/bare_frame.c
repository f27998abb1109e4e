/* bare_frame.c - u32 big-endian length-prefixed frames over file descriptors. */
#include <errno.h>
#include <unistd.h>

#include "bare.h"

void bare_frame_header_encode(uint8_t out[4], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

uint32_t bare_frame_header_decode(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* Reads up to n bytes, stopping early only at end of file; *got tells how many arrived. */
static int read_some(int fd, uint8_t *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t k = read(fd, buf + *got, n - *got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return BARE_E_IO;
        }
        if (k == 0)
            return BARE_OK;
        *got += (size_t)k;
    }
    return BARE_OK;
}

int bare_fd_read_full(int fd, void *buf, size_t n)
{
    size_t got;
    int rc = read_some(fd, buf, n, &got);
    if (rc)
        return rc;
    if (got == n)
        return BARE_OK;
    return got == 0 ? BARE_E_EOF : BARE_E_TRUNCATED;
}

int bare_fd_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return BARE_E_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return BARE_OK;
}

int bare_fd_skip(int fd, uint64_t n)
{
    uint8_t buf[4096];
    while (n > 0) {
        size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
        size_t got;
        int rc = read_some(fd, buf, want, &got);
        if (rc)
            return rc;
        if (got < want)
            return BARE_E_TRUNCATED;
        n -= got;
    }
    return BARE_OK;
}

int bare_frame_read(int fd, bare_writer_t *buf, uint32_t max, uint32_t *len)
{
    uint8_t hdr[BARE_FRAME_HEADER_SIZE];
    int rc = bare_fd_read_full(fd, hdr, sizeof hdr);
    if (rc)
        return rc;
    *len = bare_frame_header_decode(hdr);
    if (*len > max)
        return BARE_E_FRAME_TOO_LARGE;
    bare_writer_reset(buf);
    if (!bare_writer_reserve(buf, *len))
        return buf->status;
    rc = bare_fd_read_full(fd, buf->buf, *len);
    if (rc == BARE_E_EOF)
        rc = *len ? BARE_E_TRUNCATED : BARE_OK;
    if (rc)
        return rc;
    buf->len = *len;
    return BARE_OK;
}

int bare_frame_write(int fd, const void *payload, size_t len, uint32_t max)
{
    uint8_t hdr[BARE_FRAME_HEADER_SIZE];
    if (len > max)
        return BARE_E_FRAME_TOO_LARGE;
    bare_frame_header_encode(hdr, (uint32_t)len);
    int rc = bare_fd_write_full(fd, hdr, sizeof hdr);
    if (rc)
        return rc;
    return bare_fd_write_full(fd, payload, len);
}
