/*
 * cbprogram.c - secure-exec-callback: the program behind every host callback command of a VM.
 * Each alias in the guest's /usr/bin (and /bin) is a script "#!/dev/secure-exec-callback", so
 * the kernel runs this program with the script's path as its first argument; the alias is that
 * script's name. An ExecuteRequest of an alias runs it the same way. It sends the alias, its
 * arguments and its working directory to the sidecar over the VM's callback socket
 * (cbproto.h), waits, and prints what the sidecar answers: the host's result on stdout and
 * exit 0, or a message on stderr and exit 1.
 *
 * It runs as an ordinary guest process (uid 1000, the sandbox of every guest) and is trusted
 * with nothing: the sidecar resolves and checks the invocation itself. What it does for the
 * sidecar is read a --json-file inside the VM, with the guest's own rights. Killing it closes
 * the connection, which cancels the invocation.
 *
 * Usage (what the scripts amount to): secure-exec-callback ALIAS-OR-ITS-PATH [ARG...]
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cbproto.h"

#define NAME "secure-exec-callback"
/* the most a reply may say: the host's result fits in a sidecar frame, well below this */
#define MAX_REPLY (64u << 20)

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(NAME ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void put(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            die("out of memory");
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u32(buf_t *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}

static void put_rec(buf_t *b, int tag, const void *p, size_t n)
{
    uint8_t t = (uint8_t)tag;
    if (b->len + n > SC_CB_MAX_REQUEST)
        die("the arguments take more than %u bytes", SC_CB_MAX_REQUEST);
    put(b, &t, 1);
    put_u32(b, (uint32_t)n);
    put(b, p, n);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads path whole (at most SC_CB_MAX_FILE bytes) into out; 0, or an errno. */
static int read_file(const char *path, buf_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    uint8_t chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > SC_CB_MAX_FILE) {
            close(fd);
            return EFBIG;
        }
        put(out, chunk, (size_t)n);
    }
    close(fd);
    return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nobody reads it: nothing else to do */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads exactly n bytes; false at EOF or on an error. */
static bool read_all(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: " NAME " ALIAS [ARG...] (run a host callback command by its name)");
    /* the alias is the name of the script the kernel ran; a guest symlink to it is followed */
    char real[PATH_MAX];
    const char *path = realpath(argv[1], real) ? real : argv[1];
    const char *slash = strrchr(path, '/');
    const char *alias = slash ? slash + 1 : path;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");

    buf_t req = {0};
    put_u32(&req, SC_CB_MAGIC);
    put_u32(&req, 0); /* the length, once known */
    put_rec(&req, SC_CB_ALIAS, alias, strlen(alias));
    put_rec(&req, SC_CB_CWD, cwd, strlen(cwd));
    for (int i = 2; i < argc; i++)
        put_rec(&req, SC_CB_ARG, argv[i], strlen(argv[i]));
    /* "<tool> --json-file <path>": the file is read here, as the guest, inside the VM */
    if (argc == 5 && strcmp(argv[3], "--json-file") == 0) {
        buf_t file = {0};
        int e = read_file(argv[4], &file);
        if (e == 0) {
            put_rec(&req, SC_CB_FILE, file.p, file.len);
        } else {
            uint8_t le[4] = {(uint8_t)e, (uint8_t)(e >> 8), (uint8_t)(e >> 16), (uint8_t)(e >> 24)};
            put_rec(&req, SC_CB_FILE_ERR, le, 4);
        }
        free(file.p);
    }
    uint32_t body = (uint32_t)(req.len - SC_CB_HEADER);
    uint8_t le[4] = {(uint8_t)body, (uint8_t)(body >> 8), (uint8_t)(body >> 16),
                     (uint8_t)(body >> 24)};
    memcpy(req.p + 4, le, 4);

    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", SC_CB_SOCKET);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("cannot reach the sidecar at %s: %s", SC_CB_SOCKET, strerror(errno));
    for (size_t off = 0; off < req.len;) {
        ssize_t w = send(s, req.p + off, req.len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot send the invocation to the sidecar: %s", strerror(errno));
        off += (size_t)w;
    }
    free(req.p);

    uint8_t hdr[SC_CB_HEADER];
    if (!read_all(s, hdr, sizeof hdr))
        die("the sidecar closed the connection without an answer");
    uint32_t len = get_u32(hdr + 4);
    if (get_u32(hdr) != SC_CB_MAGIC || len < 12 || len > MAX_REPLY)
        die("the sidecar's answer is malformed");
    uint8_t *reply = malloc(len);
    if (!reply)
        die("out of memory");
    if (!read_all(s, reply, len))
        die("the sidecar closed the connection before its answer was complete");
    close(s);
    uint32_t code = get_u32(reply);
    uint32_t nout = get_u32(reply + 4);
    if (nout > len - 12 || get_u32(reply + 8 + nout) > len - 12 - nout)
        die("the sidecar's answer is malformed");
    uint32_t nerr = get_u32(reply + 8 + nout);
    write_all(1, reply + 8, nout);
    write_all(2, reply + 12 + nout, nerr);
    free(reply);
    return (int)(code & 0xff);
}
