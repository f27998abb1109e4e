/*
 * procinfo.c - a VM's processes and sockets as its own procfs shows them (reference
 * execution.md §6-§8): /proc/PID/{stat,cmdline,status,cwd}, /proc/net/{tcp,tcp6,udp,udp6,unix}
 * and the fd links that tie a socket to a process; plus KillProcess's signal names (§5) and the
 * host matching of FindListener/FindBoundUdp (§7).
 *
 * Trust model: proc_root is the VM's procfs seen from the host ("/proc/<supervisor>/root/proc",
 * a mount the guest's uid cannot replace), so the files are the kernel's, but much of what they
 * say is the guest's: comm, cmdline and unix socket paths are any bytes it chose. So every
 * entry below proc_root is opened one component at a time with O_NOFOLLOW (a stray symlink in
 * a tree that is not a procfs fails instead of leading elsewhere), only regular files are
 * read, every read and every list is bounded, and the parsers never trust a length or a
 * delimiter the guest can write (comm ends at the LAST ')' of stat; /status escapes its Name).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"

#define PROCS_MAX 65536u           /* processes returned by sc_procs_read */
#define PIDS_SCAN_MAX 4194304u     /* PID_MAX_LIMIT: no procfs has more numeric entries */
#define ARGV_MAX 4096u             /* argv entries kept per process */
#define CMDLINE_MAX (1u << 20)     /* cmdline bytes read per process */
#define STAT_MAX 4096u             /* /proc/PID/stat is well under 1 KiB */
#define STATUS_MAX 16384u          /* /proc/PID/status is about 1.5 KiB */
#define CGROUP_MAX 8192u           /* /proc/PID/cgroup: a line per hierarchy */
#define SOCKETS_MAX 65536u         /* sockets returned by sc_sockets_read */
#define FDS_PER_PROC_MAX 65536u    /* fd links looked at per process ... */
#define FDS_TOTAL_MAX (1u << 20)   /* ... and in all */
#define NET_BUF 65536u             /* the line reader's buffer */
#define NET_LINE_MAX 1024u         /* kernel lines are < 200 bytes (a unix path < 109) */
#define SO_ACCEPTCON_FLAG 0x10000u /* __SO_ACCEPTCON in the Flags column of net/unix */
#define TCP_LISTEN_STATE 0x0Au

/* ------------------------------------------------------------------------------------------ */
/* Bounded reads below proc_root                                                               */

static int open_dir_at(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Reads at most max bytes of the regular file dirfd/name (not followed if a symlink). Returns
 * the length read, or -1 with errno. */
static ssize_t read_bounded(int dirfd, const char *name, char *buf, size_t max)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    size_t len = 0;
    while (len < max) {
        ssize_t n = read(fd, buf + len, max - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

/* A procfs pid directory name: canonical decimal (no sign, no leading zero), 1..INT_MAX. */
static pid_t parse_pid_name(const char *s)
{
    long v = 0;
    if (s[0] < '1' || s[0] > '9')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
        if (v > INT_MAX)
            return 0;
    }
    return (pid_t)v;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The numeric entries of the directory root, sorted ascending (malloc'd). 0 or -1 with errno. */
static int list_pids(int root, pid_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    rewinddir(dir);
    pid_t *pids = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    while (len < PIDS_SCAN_MAX && (errno = 0, de = readdir(dir)) != NULL) {
        pid_t pid = parse_pid_name(de->d_name);
        if (pid <= 0)
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            pid_t *grown = realloc(pids, ncap * sizeof *grown);
            if (grown == NULL) {
                free(pids);
                closedir(dir);
                errno = ENOMEM;
                return -1;
            }
            pids = grown;
            cap = ncap;
        }
        pids[len++] = pid;
    }
    closedir(dir);
    if (len > 1)
        qsort(pids, len, sizeof *pids, cmp_pid);
    *out = pids;
    *out_len = len;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Processes                                                                                    */

/* Parses a decimal field of stat after one or more spaces; *pos moves past it. */
static bool stat_field(const char **pos, long *value)
{
    const char *s = *pos;
    if (*s != ' ')
        return false;
    while (*s == ' ')
        s++;
    if (*s != '-' && (*s < '0' || *s > '9'))
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || v < INT_MIN || v > INT_MAX)
        return false;
    *value = v;
    *pos = end;
    return true;
}

/* "PID (COMM) S PPID PGRP SESSION ...": comm may hold spaces, '(' and ')', so it ends at the
 * last ')' of the line; everything after it is the kernel's. */
static bool parse_stat(char *buf, size_t len, pid_t pid, sc_proc_t *p)
{
    buf[len] = '\0';
    char *lparen = memchr(buf, '(', len);
    char *rparen = memrchr(buf, ')', len);
    if (lparen == NULL || rparen == NULL || rparen < lparen || buf[0] < '1' || buf[0] > '9' ||
        lparen[-1] != ' ')
        return false;
    char *end;
    errno = 0;
    long stat_pid = strtol(buf, &end, 10);
    if (errno != 0 || end != lparen - 1 || stat_pid != pid)
        return false;
    size_t comm_len = (size_t)(rparen - lparen - 1);
    if (comm_len >= sizeof p->comm)
        comm_len = sizeof p->comm - 1;
    memcpy(p->comm, lparen + 1, comm_len);
    p->comm[comm_len] = '\0';

    const char *pos = rparen + 1;
    if (pos[0] != ' ' || pos[1] == '\0' || pos[1] == ' ' || pos[1] == '\n')
        return false;
    p->state = pos[1];
    pos += 2;
    long ppid, pgid, sid;
    if (!stat_field(&pos, &ppid) || !stat_field(&pos, &pgid) || !stat_field(&pos, &sid))
        return false;
    p->pid = pid;
    p->ppid = (pid_t)ppid;
    p->pgid = (pid_t)pgid;
    p->sid = (pid_t)sid;
    /*
     * A zombie's wait status is field 52, exit_code (Linux 3.5+; 0 unless the reader may
     * ptrace the process, which the sidecar, root on the host, may). Fields 7-51 are skipped
     * as tokens: some of them do not fit a long.
     */
    if (p->state == 'Z') {
        int field = 6;
        while (field < 51 && *pos == ' ') {
            pos++;
            while (*pos && *pos != ' ' && *pos != '\n')
                pos++;
            field++;
        }
        long status;
        if (field == 51 && stat_field(&pos, &status) &&
            (*pos == '\n' || *pos == '\0' || *pos == ' ')) {
            p->has_exit_status = true;
            p->exit_status = (int)status;
        }
    }
    return true;
}

/* The hex mask of a "Key:\tHEX" line of /status, 0 if absent or malformed. */
static uint64_t status_mask(const char *buf, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = buf; line != NULL && *line != '\0';) {
        if (strncmp(line, key, klen) == 0) {
            const char *s = line + klen;
            while (*s == ' ' || *s == '\t')
                s++;
            uint64_t v = 0;
            size_t digits = 0;
            for (; digits < 17; s++, digits++) {
                int d;
                if (*s >= '0' && *s <= '9')
                    d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                    d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                    d = *s - 'A' + 10;
                else
                    break;
                v = v << 4 | (uint64_t)d;
            }
            if (digits == 0 || digits > 16 || (*s != '\n' && *s != '\0'))
                return 0;
            return v;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return 0;
}

/* cmdline's NUL-separated arguments (a last one without its NUL counts too) as one malloc'd
 * block: the NULL-terminated pointer array, then the strings. At most ARGV_MAX entries. */
static char **split_cmdline(const char *buf, size_t len)
{
    size_t count = 0, bytes = 0;
    for (size_t i = 0; i < len && count < ARGV_MAX; count++) {
        const char *nul = memchr(buf + i, '\0', len - i);
        size_t seg = nul != NULL ? (size_t)(nul - (buf + i)) : len - i;
        bytes += seg + 1;
        i += seg + 1;
    }
    char **argv = malloc((count + 1) * sizeof *argv + bytes);
    if (argv == NULL)
        return NULL;
    char *dst = (char *)(argv + count + 1);
    size_t i = 0;
    for (size_t k = 0; k < count; k++) {
        const char *nul = memchr(buf + i, '\0', len - i);
        size_t seg = nul != NULL ? (size_t)(nul - (buf + i)) : len - i;
        memcpy(dst, buf + i, seg);
        dst[seg] = '\0';
        argv[k] = dst;
        dst += seg + 1;
        i += seg + 1;
    }
    argv[count] = NULL;
    return argv;
}

bool sc_cgroup_text_proc(const char *text, uint32_t *n)
{
    /* "ID:CONTROLLERS:PATH" lines; a guest's path ends "/secure-exec-<sidecar>-<vm>/proc-N" */
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        const char *end = line + len;
        const char *last = NULL, *prev = NULL;
        for (const char *q = c2; q && q < end; q++) {
            if (*q == '/') {
                prev = last;
                last = q;
            }
        }
        if (prev && strncmp(prev, "/secure-exec-", 13) == 0 && strncmp(last, "/proc-", 6) == 0 &&
            last + 6 < end) {
            uint64_t v = 0;
            const char *d = last + 6;
            while (d < end && *d >= '0' && *d <= '9' && v <= UINT32_MAX)
                v = v * 10 + (uint64_t)(*d++ - '0');
            if (d == end && v <= UINT32_MAX) {
                *n = (uint32_t)v;
                return true;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return false;
}

/* Reads one process. 1 = read, 0 = gone or not a process (skip it), -1 = out of memory.
 * scratch holds CMDLINE_MAX + 1 bytes. */
static int read_proc(int root, pid_t pid, char *scratch, sc_proc_t *p)
{
    char name[16];
    snprintf(name, sizeof name, "%d", (int)pid);
    int dir = open_dir_at(root, name);
    if (dir < 0)
        return 0;
    memset(p, 0, sizeof *p);
    int rc = 0;
    ssize_t n = read_bounded(dir, "stat", scratch, STAT_MAX);
    if (n <= 0 || !parse_stat(scratch, (size_t)n, pid, p))
        goto out;

    n = read_bounded(dir, "status", scratch, STATUS_MAX);
    if (n > 0) {
        scratch[n] = '\0';
        p->sig_caught = status_mask(scratch, "SigCgt:");
        p->sig_ignored = status_mask(scratch, "SigIgn:");
    }

    /* Which top-level process's cgroup it is in, whatever its parent is now. */
    n = read_bounded(dir, "cgroup", scratch, CGROUP_MAX);
    if (n > 0) {
        scratch[n] = '\0';
        p->has_cg_proc = sc_cgroup_text_proc(scratch, &p->cg_proc);
    }

    /* The kernel renders the link relative to the reader's root when it can, and otherwise
     * up to the root of the process's own mount namespace: for a VM process that is the VM's
     * path. Too long (or unreadable: a zombie, another user) stays "". */
    n = readlinkat(dir, "cwd", p->cwd, sizeof p->cwd);
    if (n > 0 && (size_t)n < sizeof p->cwd)
        p->cwd[n] = '\0';
    else
        p->cwd[0] = '\0';

    /* A zombie's cmdline is empty; so is an unreadable one. */
    n = read_bounded(dir, "cmdline", scratch, CMDLINE_MAX);
    p->argv = split_cmdline(scratch, n > 0 ? (size_t)n : 0);
    rc = p->argv != NULL ? 1 : -1;
out:
    close(dir);
    return rc;
}

int sc_procs_read(const char *proc_root, sc_proc_list_t *out)
{
    out->items = NULL;
    out->len = 0;
    int root = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    pid_t *pids;
    size_t npids;
    char *scratch = malloc(CMDLINE_MAX + 1);
    if (scratch == NULL || list_pids(root, &pids, &npids) != 0) {
        int saved = scratch == NULL ? ENOMEM : errno;
        free(scratch);
        close(root);
        errno = saved;
        return -1;
    }
    sc_proc_list_t list = {NULL, 0};
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < npids; i++) {
        if (list.len == PROCS_MAX) {
            sc_warn("%s: more than %u processes, keeping the lowest pids", proc_root, PROCS_MAX);
            break;
        }
        if (list.len == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            sc_proc_t *grown = realloc(list.items, ncap * sizeof *grown);
            if (grown == NULL) {
                rc = -1;
                break;
            }
            list.items = grown;
            cap = ncap;
        }
        int got = read_proc(root, pids[i], scratch, &list.items[list.len]);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got > 0)
            list.len++;
    }
    free(pids);
    free(scratch);
    close(root);
    if (rc != 0) {
        sc_procs_free(&list);
        errno = ENOMEM;
        return -1;
    }
    *out = list;
    return 0;
}

void sc_procs_free(sc_proc_list_t *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->len; i++)
        free(list->items[i].argv);
    free(list->items);
    list->items = NULL;
    list->len = 0;
}

static int cmp_proc_pid(const void *key, const void *item)
{
    pid_t x = *(const pid_t *)key, y = ((const sc_proc_t *)item)->pid;
    return (x > y) - (x < y);
}

bool sc_procs_descends(const sc_proc_list_t *list, pid_t pid, pid_t ancestor)
{
    if (pid == ancestor)
        return true;
    if (list == NULL || list->len == 0)
        return false;
    /* A chain longer than the list has looped (a pid reused while we read, or a bad tree). */
    pid_t cur = pid;
    for (size_t steps = 0; steps < list->len; steps++) {
        const sc_proc_t *p =
            bsearch(&cur, list->items, list->len, sizeof *list->items, cmp_proc_pid);
        if (p == NULL || p->ppid <= 0 || p->ppid == cur)
            return false;
        cur = p->ppid;
        if (cur == ancestor)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Sockets                                                                                      */

typedef struct line_reader {
    int fd;
    size_t start, end;
    bool eof;
    char buf[NET_BUF + 1];
} line_reader_t;

/* The next line, NUL-terminated in place without its '\n'; NULL at the end (or on a read
 * error). Lines longer than NET_LINE_MAX are dropped whole. */
static char *next_line(line_reader_t *r)
{
    bool dropping = false;
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            char *line = r->buf + r->start;
            *nl = '\0';
            r->start = (size_t)(nl - r->buf) + 1;
            if (dropping || (size_t)(nl - line) > NET_LINE_MAX) {
                dropping = false;
                continue;
            }
            return line;
        }
        if (r->end - r->start > NET_LINE_MAX) {
            dropping = true;
            r->start = r->end;
        }
        if (r->eof) {
            if (r->start == r->end || dropping)
                return NULL;
            char *line = r->buf + r->start;
            r->buf[r->end] = '\0';
            r->start = r->end;
            return line;
        }
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        ssize_t n = read(r->fd, r->buf + r->end, NET_BUF - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            r->eof = true;
        else
            r->end += (size_t)n;
    }
}

/* Splits line at spaces into at most max tokens (NUL-terminating each); returns the count.
 * When max tokens are taken, *rest (if rest is not NULL) gets what follows the single space
 * after the last one. */
static size_t split_fields(char *line, char **tok, size_t max, char **rest)
{
    size_t n = 0;
    char *s = line;
    while (n < max) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            break;
        tok[n++] = s;
        while (*s != '\0' && *s != ' ' && *s != '\t')
            s++;
        if (*s != '\0')
            *s++ = '\0';
        if (n == max && rest != NULL)
            *rest = s;
    }
    return n;
}

/* Exactly len hex digits. */
static bool parse_hex(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static bool parse_hex_token(const char *s, uint32_t *out)
{
    size_t len = strlen(s);
    return len >= 1 && len <= 8 && parse_hex(s, len, out);
}

static bool parse_u64_dec(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "HEXADDR:PORT" as net/tcp prints it: the address as 32-bit words, each the %08X of the word
 * as it sits in memory (so in host byte order: 127.0.0.1 is 0100007F on little-endian), the
 * port in host order. IPv4-mapped IPv6 addresses come out as plain IPv4. */
static bool parse_inet_addr(const char *s, int family, char *host, size_t hostlen, uint16_t *port)
{
    size_t words = family == AF_INET ? 1 : 4;
    if (strlen(s) != words * 8 + 5 || s[words * 8] != ':')
        return false;
    unsigned char bytes[16];
    for (size_t i = 0; i < words; i++) {
        uint32_t w;
        if (!parse_hex(s + i * 8, 8, &w))
            return false;
        memcpy(bytes + i * 4, &w, sizeof w);
    }
    uint32_t p;
    if (!parse_hex(s + words * 8 + 1, 4, &p))
        return false;
    *port = (uint16_t)p;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(bytes, v4mapped, sizeof v4mapped) == 0)
        return inet_ntop(AF_INET, bytes + 12, host, (socklen_t)hostlen) != NULL;
    return inet_ntop(family, bytes, host, (socklen_t)hostlen) != NULL;
}

/* One line of net/tcp{,6} or net/udp{,6}:
 * "sl: LOCAL REMOTE ST TXQ:RXQ TR:WHEN RETRNSMT UID TIMEOUT INODE ...". TCP counts only in
 * LISTEN; UDP counts once bound (local port != 0), connected or not. */
static bool parse_inet_line(char *line, int family, sc_sock_kind_t kind, sc_socket_t *s,
                            uint64_t *inode)
{
    char *tok[10];
    if (split_fields(line, tok, 10, NULL) < 10)
        return false;
    size_t sl_len = strlen(tok[0]);
    if (sl_len < 2 || tok[0][sl_len - 1] != ':')
        return false;
    uint32_t state;
    if (!parse_hex_token(tok[3], &state) || !parse_u64_dec(tok[9], inode))
        return false;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    if (!parse_inet_addr(tok[1], family, s->host, sizeof s->host, &s->port))
        return false;
    if (kind == SC_SOCK_TCP_LISTEN)
        return state == TCP_LISTEN_STATE;
    return s->port != 0;
}

/* One line of net/unix: "NUM: REFCOUNT PROTOCOL FLAGS TYPE ST INODE[ PATH]". Listening
 * sockets carry __SO_ACCEPTCON. The path is everything after the single space that follows
 * the inode (it may hold spaces). Unnamed sockets have none; abstract ones start with '@'
 * (the kernel's rendering of the leading NUL) and are skipped: they are no path a request
 * can name, and a relative name starting with '@' cannot be told apart from them. A path of
 * 108 bytes (no room for the NUL in sc_socket_t) is skipped rather than cut into a wrong one. */
static bool parse_unix_line(char *line, sc_socket_t *s, uint64_t *inode)
{
    char *tok[7], *rest = NULL;
    if (split_fields(line, tok, 7, &rest) < 7 || rest == NULL)
        return false;
    size_t num_len = strlen(tok[0]);
    uint32_t flags;
    if (num_len < 2 || tok[0][num_len - 1] != ':' || !parse_hex_token(tok[3], &flags) ||
        !parse_u64_dec(tok[6], inode))
        return false;
    if (!(flags & SO_ACCEPTCON_FLAG))
        return false;
    const char *path = rest;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof s->path || path[0] == '@')
        return false;
    memset(s, 0, sizeof *s);
    s->kind = SC_SOCK_UNIX_LISTEN;
    memcpy(s->path, path, len + 1);
    return true;
}

typedef struct sock_acc {
    sc_socket_t *items;
    uint64_t *inodes;
    size_t len, cap;
} sock_acc_t;

static int acc_push(sock_acc_t *acc, const sc_socket_t *s, uint64_t inode)
{
    if (acc->len == acc->cap) {
        size_t ncap = acc->cap ? acc->cap * 2 : 32;
        sc_socket_t *items = realloc(acc->items, ncap * sizeof *items);
        if (items == NULL)
            return -1;
        acc->items = items;
        uint64_t *inodes = realloc(acc->inodes, ncap * sizeof *inodes);
        if (inodes == NULL)
            return -1;
        acc->inodes = inodes;
        acc->cap = ncap;
    }
    acc->items[acc->len] = *s;
    acc->inodes[acc->len] = inode;
    acc->len++;
    return 0;
}

typedef enum net_file_kind { NET_TCP, NET_UDP, NET_UNIX } net_file_kind_t;

static const struct {
    const char *name;
    net_file_kind_t kind;
    int family;
} net_files[] = {
    {"tcp", NET_TCP, AF_INET},   {"tcp6", NET_TCP, AF_INET6}, {"udp", NET_UDP, AF_INET},
    {"udp6", NET_UDP, AF_INET6}, {"unix", NET_UNIX, AF_UNIX},
};

/* Adds the matching sockets of one net file. A missing file (no IPv6, say) adds nothing.
 * 0, or -1 when out of memory. */
static int read_net_file(int netdir, size_t which, line_reader_t *r, sock_acc_t *acc)
{
    int fd = openat(netdir, net_files[which].name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    r->fd = fd;
    r->start = r->end = 0;
    r->eof = false;
    int rc = 0;
    bool header = true;
    char *line;
    while (acc->len < SOCKETS_MAX && (line = next_line(r)) != NULL) {
        if (header) {
            header = false;
            continue;
        }
        sc_socket_t s;
        uint64_t inode;
        bool ok = net_files[which].kind == NET_UNIX
                      ? parse_unix_line(line, &s, &inode)
                      : parse_inet_line(line, net_files[which].family,
                                        net_files[which].kind == NET_TCP ? SC_SOCK_TCP_LISTEN
                                                                         : SC_SOCK_UDP,
                                        &s, &inode);
        if (ok && acc_push(acc, &s, inode) != 0) {
            rc = -1;
            break;
        }
    }
    close(fd);
    return rc;
}

/* The net directory of a pid directory name, or -1 with errno. */
static int open_pid_net(int root, const char *pid_name)
{
    int piddir = open_dir_at(root, pid_name);
    if (piddir < 0)
        return -1;
    int net = open_dir_at(piddir, "net");
    int saved = errno;
    close(piddir);
    errno = saved;
    return net;
}

/* On a real procfs "net" is the symlink "self/net", the reader's own network namespace, and
 * "self" does not even resolve when the reader is outside the procfs's pid namespace (the
 * sidecar reading a VM's). PID 1's net is then the VM's namespace (the supervisor's). A test
 * tree has a plain directory. No other symlink is followed: ELOOP. */
static int open_net_dir(int root)
{
    int fd = open_dir_at(root, "net");
    if (fd >= 0 || (errno != ENOTDIR && errno != ELOOP && errno != ENOENT))
        return fd;
    if (errno != ENOENT) {
        char link[16];
        ssize_t n = readlinkat(root, "net", link, sizeof link - 1);
        if (n < 0) {
            if (errno == EINVAL) /* not a symlink: a file named net */
                errno = ENOTDIR;
            return -1;
        }
        link[n] = '\0';
        if (strcmp(link, "self/net") != 0) {
            errno = ELOOP;
            return -1;
        }
        char self[16];
        n = readlinkat(root, "self", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            if (parse_pid_name(self) <= 0) {
                errno = ELOOP;
                return -1;
            }
            return open_pid_net(root, self);
        }
        if (errno != ENOENT)
            return -1;
    }
    return open_pid_net(root, "1");
}

typedef struct inode_ref {
    uint64_t inode;
    size_t index;
} inode_ref_t;

static int cmp_inode_ref(const void *a, const void *b)
{
    uint64_t x = ((const inode_ref_t *)a)->inode, y = ((const inode_ref_t *)b)->inode;
    return (x > y) - (x < y);
}

/* The first index of refs with this inode, or n. */
static size_t lower_bound(const inode_ref_t *refs, size_t n, uint64_t inode)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (refs[mid].inode < inode)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Gives each socket the lowest pid with an fd on it ("socket:[INODE]" links of PID/fd/). Only
 * the thread-group fd tables are looked at; processes whose fds cannot be read are passed
 * over. 0, or -1 when out of memory. */
static int find_owners(int root, sock_acc_t *acc)
{
    size_t n = 0;
    inode_ref_t *refs = malloc((acc->len ? acc->len : 1) * sizeof *refs);
    if (refs == NULL)
        return -1;
    for (size_t i = 0; i < acc->len; i++)
        if (acc->inodes[i] != 0)
            refs[n++] = (inode_ref_t){acc->inodes[i], i};
    qsort(refs, n, sizeof *refs, cmp_inode_ref);
    size_t unowned = n;
    pid_t *pids = NULL;
    size_t npids = 0;
    if (n > 0 && list_pids(root, &pids, &npids) != 0) {
        free(refs);
        return errno == ENOMEM ? -1 : 0;
    }
    size_t budget = FDS_TOTAL_MAX;
    for (size_t i = 0; i < npids && unowned > 0 && budget > 0; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", (int)pids[i]);
        int piddir = open_dir_at(root, name);
        if (piddir < 0)
            continue;
        int fddir = open_dir_at(piddir, "fd");
        close(piddir);
        if (fddir < 0)
            continue;
        DIR *dir = fdopendir(fddir);
        if (dir == NULL) {
            close(fddir);
            continue;
        }
        struct dirent *de;
        for (size_t seen = 0;
             seen < FDS_PER_PROC_MAX && budget > 0 && unowned > 0 && (de = readdir(dir)) != NULL;
             seen++, budget--) {
            char link[64];
            ssize_t len = readlinkat(fddir, de->d_name, link, sizeof link - 1);
            if (len <= 0)
                continue;
            link[len] = '\0';
            if (strncmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
                continue;
            link[len - 1] = '\0';
            uint64_t inode;
            if (!parse_u64_dec(link + 8, &inode))
                continue;
            for (size_t k = lower_bound(refs, n, inode); k < n && refs[k].inode == inode; k++) {
                sc_socket_t *s = &acc->items[refs[k].index];
                if (s->owner == 0) {
                    s->owner = pids[i];
                    unowned--;
                }
            }
        }
        closedir(dir);
    }
    free(pids);
    free(refs);
    return 0;
}

int sc_sockets_read(const char *proc_root, sc_socket_list_t *out)
{
    out->items = NULL;
    out->len = 0;
    int root = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    int netdir = open_net_dir(root);
    if (netdir < 0) {
        int saved = errno;
        close(root);
        errno = saved;
        return -1;
    }
    sock_acc_t acc = {NULL, NULL, 0, 0};
    int rc = 0;
    line_reader_t *reader = malloc(sizeof *reader);
    if (reader == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < sizeof net_files / sizeof net_files[0]; i++)
        rc = read_net_file(netdir, i, reader, &acc);
    free(reader);
    close(netdir);
    if (rc == 0 && acc.len >= SOCKETS_MAX)
        sc_warn("%s: more than %u sockets, keeping the first", proc_root, SOCKETS_MAX);
    if (rc == 0)
        rc = find_owners(root, &acc);
    close(root);
    free(acc.inodes);
    if (rc != 0) {
        free(acc.items);
        errno = ENOMEM;
        return -1;
    }
    out->items = acc.items;
    out->len = acc.len;
    return 0;
}

void sc_sockets_free(sc_socket_list_t *list)
{
    if (list == NULL)
        return;
    free(list->items);
    list->items = NULL;
    list->len = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Host matching (reference §7)                                                                 */

static bool is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

bool sc_socket_host_matches(const char *wanted, const char *actual)
{
    if (wanted == NULL)
        return true;
    if (actual == NULL)
        return false;
    if (strcmp(wanted, actual) == 0)
        return true;
    if (strcmp(wanted, "0.0.0.0") == 0 || strcmp(wanted, "::") == 0)
        return strcmp(actual, "0.0.0.0") == 0 || strcmp(actual, "::") == 0 || is_loopback(actual);
    if (strcasecmp(wanted, "localhost") == 0)
        return is_loopback(actual);
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Signal names (reference §5)                                                                  */

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", 1},   {"INT", 2},   {"QUIT", 3},    {"ILL", 4},   {"TRAP", 5},    {"ABRT", 6},
    {"IOT", 6},   {"BUS", 7},   {"FPE", 8},     {"KILL", 9},  {"USR1", 10},   {"SEGV", 11},
    {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14},   {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17},
    {"CONT", 18}, {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21}, {"TTOU", 22},   {"URG", 23},
    {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28},  {"IO", 29},
    {"POLL", 29}, {"PWR", 30},  {"SYS", 31},
};

static bool is_trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int sc_parse_signal(const char *text, size_t len)
{
    if (text == NULL)
        return -1;
    while (len > 0 && is_trim_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_trim_space(text[len - 1]))
        len--;
    if (len == 0)
        return -1;
    if (text[0] >= '0' && text[0] <= '9') {
        int v = 0;
        for (size_t i = 0; i < len; i++) {
            if (text[i] < '0' || text[i] > '9')
                return -1;
            v = v * 10 + (text[i] - '0');
            if (v > 31)
                return -1;
        }
        return v;
    }
    if (len > 3 && strncasecmp(text, "SIG", 3) == 0) {
        text += 3;
        len -= 3;
    }
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++) {
        if (strlen(signal_names[i].name) == len &&
            strncasecmp(text, signal_names[i].name, len) == 0)
            return signal_names[i].number;
    }
    return -1;
}
