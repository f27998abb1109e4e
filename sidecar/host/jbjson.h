/*
 * jbjson.h - what a js_bridge call looks like as JSON (reference protocol-core.md §6.3): the
 * operations, the args object each one sends, the errno an error text maps to, and strict
 * readers for every result shape. No I/O and no state: the plugin (jsbridge.c) and the tests
 * both use it as is.
 */
#ifndef SC_JBJSON_H
#define SC_JBJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The operations, in the reference's order; names as on the wire. */
typedef enum sc_jb_op {
    SC_JB_READ_FILE,
    SC_JB_READ_DIR,
    SC_JB_READ_DIR_TYPES,
    SC_JB_WRITE_FILE,
    SC_JB_CREATE_DIR,
    SC_JB_MKDIR,
    SC_JB_EXISTS,
    SC_JB_STAT,
    SC_JB_LSTAT,
    SC_JB_REMOVE_FILE,
    SC_JB_REMOVE_DIR,
    SC_JB_RENAME,
    SC_JB_REALPATH,
    SC_JB_SYMLINK,
    SC_JB_READLINK,
    SC_JB_LINK,
    SC_JB_CHMOD,
    SC_JB_CHOWN,
    SC_JB_UTIMES,
    SC_JB_TRUNCATE,
    SC_JB_PREAD,
    SC_JB_PWRITE,
    SC_JB_OP_COUNT
} sc_jb_op_t;

const char *sc_jb_op_name(sc_jb_op_t op);
/* Whether op changes the mount (a read-only mount refuses it without asking the host). */
bool sc_jb_op_mutates(sc_jb_op_t op);

/* The arguments of one call; each operation reads only its own (§6.3). Paths are relative to
 * the mount root ("/" is the root itself), NUL-terminated. */
typedef struct sc_jb_args {
    const char *path;    /* path; oldPath (rename, link); linkPath (symlink) */
    const char *path2;   /* newPath (rename, link) */
    const char *target;  /* target (symlink): verbatim */
    const uint8_t *data; /* content (writeFile, pwrite), sent as base64 */
    size_t len;          /* its length */
    bool recursive;      /* mkdir */
    uint32_t mode, uid, gid;
    uint64_t atime_ms, mtime_ms;
    uint64_t length, offset; /* truncate, pread; offset also pwrite */
} sc_jb_args_t;

/*
 * The args object of op as compact JSON text (malloc'd), keys in the reference's order; NULL
 * with errno EILSEQ when a string is not UTF-8 (JSON cannot carry it), EINVAL when a number is
 * beyond what JSON integers carry here (2^63 - 1), ENOMEM.
 */
char *sc_jb_args_json(sc_jb_op_t op, const sc_jb_args_t *a);

/* The errno of a host's error text, by substring, case-insensitively (§6.3): ENOENT, EACCES,
 * EEXIST, else EIO. */
int sc_jb_error_errno(const char *text, size_t len);

/* ---- results: each reader returns 0, or -1 with why (the field, the value, the rule) ---- */

/* The result text as JSON (any value); NULL with why when it is not JSON. */
json_t *sc_jb_parse_result(const char *text, size_t len, char *why, size_t whylen);

/* Bytes (readFile, pread): a base64 string or an array of numbers 0..255, at most max bytes;
 * *out is malloc'd (non-NULL even when empty). */
int sc_jb_read_bytes(const json_t *v, uint64_t max, uint8_t **out, size_t *n, char *why,
                     size_t whylen);

/* stat, lstat: the fields of §6.3, camelCase or snake_case, times in epoch milliseconds
 * (integers, or non-negative reals whose fraction gives the sub-millisecond part). */
typedef struct sc_jb_stat {
    uint32_t mode, uid, gid;
    uint64_t size, blocks, dev, rdev, ino, nlink;
    bool is_dir, is_symlink;
    uint64_t atime_ms, mtime_ms, ctime_ms, birthtime_ms;
    uint32_t atime_ns, mtime_ns, ctime_ns; /* nanoseconds within the second */
} sc_jb_stat_t;
int sc_jb_read_stat(const json_t *v, sc_jb_stat_t *st, char *why, size_t whylen);

/* readDir (typed false: names) and readDirWithTypes (typed: {name, isDirectory,
 * isSymbolicLink}). Names must be non-empty, without '/' or NUL; "." and ".." are left out.
 * At most max entries (beyond: -1 with errno ENOMEM, else errno EIO). The names point into v. */
typedef struct sc_jb_dirent {
    const char *name;
    size_t len;
    bool is_dir, is_symlink;
} sc_jb_dirent_t;
int sc_jb_read_dir(const json_t *v, bool typed, uint64_t max, sc_jb_dirent_t **out, size_t *n,
                   char *why, size_t whylen);

/* realpath, readlink: a non-empty string without NUL (pointing into v); realpath's must be
 * absolute. */
int sc_jb_read_string(const json_t *v, bool absolute, const char **s, size_t *len, char *why,
                      size_t whylen);

/* exists: a boolean. */
int sc_jb_read_bool(const json_t *v, bool *b, char *why, size_t whylen);

#endif
