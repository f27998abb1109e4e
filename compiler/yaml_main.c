/*
 * yaml_main.c - the bare-yaml command: YAML to BARE and back for any type of a schema given on
 * the command line, and captured frame streams to YAML, through schemac_load() and libbare's
 * descriptor-driven codec. encode and decode write only on success, atomically into files;
 * frames streams, writing each frame's document as soon as the frame is complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "schemac.h"

enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2 };

#define MAX_INPUT ((size_t)1 << 30)

static void usage(FILE *f)
{
    fputs("usage: bare-yaml [options] encode SCHEMA TYPE [IN [OUT]]\n"
          "       bare-yaml [options] decode SCHEMA TYPE [IN [OUT]]\n"
          "       bare-yaml [options] frames SCHEMA [TYPE] [IN [OUT]]\n"
          "Convert values of a type of a BARE schema between YAML and BARE.\n"
          "\n"
          "  encode                 YAML document in IN to the BARE encoding in OUT\n"
          "  decode                 BARE value in IN to a YAML document in OUT\n"
          "  frames                 u32 big-endian length-prefixed frames of TYPE (default\n"
          "                         ProtocolFrame) in IN to a YAML stream, one document each,\n"
          "                         written as soon as its frame is complete\n"
          "\n"
          "IN and OUT default to standard input and output ('-' names them too).\n"
          "\n"
          "      --legacy           the schema may use pre-2022 syntax, forward references and\n"
          "                         recursive types (as schemac --legacy)\n"
          "      --dialect vbare    the schema is Rivet's vbare syntax (as schemac's)\n"
          "      --max-depth N      refuse values nested deeper than N (default 64)\n"
          "      --max-frame N      refuse frames longer than N bytes (default: no limit)\n"
          "  -V, --version          print the version\n"
          "  -h, --help             print this help\n"
          "\n"
          "Exit status: 0 success, 1 the data is invalid, 2 usage, schema or I/O errors.\n",
          f);
}

/* The whole of path ("-": standard input), at most MAX_INPUT bytes; NULL with errno set. */
static char *slurp(const char *path, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    size_t cap = 65536, n = 0;
    char *buf = NULL;
    if (fd < 0)
        return NULL;
    for (;;) {
        if (!buf || n == cap) {
            if (buf && cap >= MAX_INPUT) {
                errno = EFBIG;
                break;
            }
            size_t want = buf ? cap * 2 : cap;
            char *p = realloc(buf, want);
            if (!p) {
                errno = ENOMEM;
                break;
            }
            buf = p;
            cap = want;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        if (k == 0) {
            if (fd != STDIN_FILENO)
                close(fd);
            *len = n;
            return buf;
        }
        n += (size_t)k;
    }
    int err = errno;
    if (fd != STDIN_FILENO)
        close(fd);
    free(buf);
    errno = err;
    return NULL;
}

/* All of data to path ("-": standard output), a file replaced only once it is complete. */
static int deliver(const char *path, const void *data, size_t len)
{
    if (strcmp(path, "-") == 0) {
        if (len && fwrite(data, 1, len, stdout) != len)
            goto fail;
        if (fflush(stdout) != 0)
            goto fail;
        return EXIT_OK;
    }
    char *tmp = NULL;
    int err = emit_write_temp(path, data ? data : "", len, &tmp);
    if (err) {
        errno = err;
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        free(tmp);
        errno = err;
        goto fail;
    }
    free(tmp);
    return EXIT_OK;
fail:
    fprintf(stderr, "bare-yaml: cannot write '%s': %s\n", path, strerror(errno));
    return EXIT_USAGE;
}

static const char *shown_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* FILE:LINE:COL: path: message, or FILE: byte N: [frame K: ]path: message. */
static void report(const char *in, const bare_error_t *err, bool yaml, bool frames, size_t frame)
{
    const char *path = bare_error_path(err);
    if (yaml)
        fprintf(stderr, "%s:%u:%u: ", shown_name(in), (unsigned)err->line, (unsigned)err->column);
    else
        fprintf(stderr, "%s: byte %zu: ", shown_name(in), err->offset);
    if (frames)
        fprintf(stderr, "frame %zu: ", frame);
    if (*path)
        fprintf(stderr, "%s: ", path);
    fprintf(stderr, "%s\n", bare_error_message(err));
}

static bool parse_number(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* Opens OUT for frames, which writes as it goes ("-": standard output); -1 with a message. */
static int open_out(const char *path)
{
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fprintf(stderr, "bare-yaml: cannot write '%s': %s\n", path, strerror(errno));
    return fd;
}

/* Passes on what the converter has appended: one or more whole documents. */
static bool drain(int fd, const char *path, bare_writer_t *w)
{
    if (w->len && bare_fd_write_full(fd, w->buf, w->len) != BARE_OK) {
        fprintf(stderr, "bare-yaml: cannot write '%s': %s\n", shown_name(path), strerror(errno));
        return false;
    }
    w->len = 0;
    return true;
}

/*
 * frames: reads IN as it comes and writes each frame's document as soon as the frame is
 * complete, so a capture still being written (a pipe, tail -f) shows frame by frame, and one
 * cut inside a frame still shows every good frame before the error.
 */
static int stream_frames(const bare_type_desc_t *type, const char *in, const char *out,
                         uint32_t max_frame, const bare_limits_t *limits)
{
    static uint8_t buf[65536];
    int ifd = strcmp(in, "-") == 0 ? STDIN_FILENO : open(in, O_RDONLY | O_CLOEXEC);
    if (ifd < 0) {
        fprintf(stderr, "bare-yaml: cannot read '%s': %s\n", in, strerror(errno));
        return EXIT_USAGE;
    }
    int ofd = open_out(out), rc = EXIT_USAGE, st;
    bare_yaml_frames_t *f = NULL;
    bare_writer_t w;
    bare_error_t err;
    bare_writer_init(&w, NULL, NULL);
    if (ofd < 0)
        goto done;
    st = bare_yaml_frames_open(&f, type, max_frame, limits, &w, &err);
    for (;;) {
        if (st != BARE_OK)
            break;
        ssize_t k = read(ifd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "bare-yaml: cannot read '%s': %s\n", shown_name(in), strerror(errno));
            drain(ofd, out, &w);
            goto done;
        }
        st = k ? bare_yaml_frames_feed(f, buf, (size_t)k, &err) : bare_yaml_frames_finish(f, &err);
        if (!drain(ofd, out, &w))
            goto done;
        if (k == 0)
            break;
    }
    if (st == BARE_OK) {
        rc = EXIT_OK;
    } else if (st == BARE_E_NOMEM) {
        fprintf(stderr, "bare-yaml: out of memory\n");
    } else {
        report(in, &err, false, true, f ? bare_yaml_frames_index(f) : 0);
        rc = EXIT_DATA;
    }
done:
    bare_yaml_frames_free(f);
    bare_writer_free(&w);
    if (ifd != STDIN_FILENO)
        close(ifd);
    if (ofd > STDOUT_FILENO && close(ofd) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "bare-yaml: cannot write '%s': %s\n", out, strerror(errno));
        rc = EXIT_USAGE;
    }
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_LEGACY = 256, OPT_MAX_DEPTH, OPT_MAX_FRAME, OPT_DIALECT };
    static const struct option longopts[] = {
        {"legacy", no_argument, NULL, OPT_LEGACY},
        {"dialect", required_argument, NULL, OPT_DIALECT},
        {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    schemac_options_t opt;
    bare_limits_t limits = {0, 0};
    unsigned long max_frame = 0, n;
    int c;

    memset(&opt, 0, sizeof opt);
    while ((c = getopt_long(argc, argv, "Vh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LEGACY:
            opt.legacy = true;
            break;
        case OPT_DIALECT: /* as schemac's: the schemas vbare compiles read the same here */
            if (strcmp(optarg, "vbare") != 0) {
                fprintf(stderr, "bare-yaml: unknown dialect '%s' (known: vbare)\n", optarg);
                return EXIT_USAGE;
            }
            opt.vbare = opt.legacy = true;
            break;
        case OPT_MAX_DEPTH:
            /* Both directions recurse once per level: the C stack bounds the depth. */
            if (!parse_number(optarg, 1000, &n) || n == 0) {
                fprintf(stderr, "bare-yaml: invalid depth '%s' (1 to 1000)\n", optarg);
                return EXIT_USAGE;
            }
            limits.max_depth = (uint32_t)n;
            break;
        case OPT_MAX_FRAME:
            if (!parse_number(optarg, UINT32_MAX, &max_frame)) {
                fprintf(stderr, "bare-yaml: invalid frame size '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'V':
            printf("bare-yaml %s (schemac %s)\n", BARE_VERSION, SCHEMAC_VERSION);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    char **args = argv + optind;
    int nargs = argc - optind;
    if (nargs < 2) {
        fprintf(stderr, "bare-yaml: %s\n", nargs ? "no schema given" : "no command given");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = args[0];
    bool encode = strcmp(cmd, "encode") == 0, decode = strcmp(cmd, "decode") == 0;
    bool frames = strcmp(cmd, "frames") == 0;
    if (!encode && !decode && !frames) {
        fprintf(stderr, "bare-yaml: unknown command '%s' (encode, decode or frames)\n", cmd);
        return EXIT_USAGE;
    }

    schemac_loaded_t schema;
    opt.schema_path = args[1];
    if (schemac_load(&opt, stderr, &schema) != SCHEMAC_OK) {
        schemac_loaded_free(&schema);
        return EXIT_USAGE;
    }
    /* TYPE is required for encode and decode; for frames, only a name the schema declares. */
    const char *type_name = "ProtocolFrame";
    int rest = 2;
    if (!frames || (nargs > 2 && bare_schema_find(&schema.schema, args[2])))
        type_name = nargs > 2 ? args[rest++] : NULL;
    const char *in = nargs > rest ? args[rest] : "-";
    const char *out = nargs > rest + 1 ? args[rest + 1] : "-";
    int rc = EXIT_USAGE;
    if (!type_name || nargs > rest + 2) {
        fprintf(stderr, "bare-yaml: %s\n", type_name ? "too many arguments" : "no type given");
        usage(stderr);
        goto done;
    }
    const bare_type_desc_t *type = bare_schema_find(&schema.schema, type_name);
    if (!type) {
        fprintf(stderr, "bare-yaml: %s declares no type '%s'\n", opt.schema_path, type_name);
        goto done;
    }

    if (frames) {
        rc = stream_frames(type, in, out, (uint32_t)max_frame, &limits);
        goto done;
    }
    size_t len = 0;
    char *data = slurp(in, &len);
    if (!data) {
        fprintf(stderr, "bare-yaml: cannot read '%s': %s\n", shown_name(in),
                errno == EFBIG ? "larger than 1 GiB" : strerror(errno));
        goto done;
    }
    bare_writer_t w;
    bare_error_t err;
    int st;
    bare_writer_init(&w, NULL, NULL);
    if (encode)
        st = bare_yaml_to_bare(type, data, len, &limits, &w, &err);
    else
        st = bare_to_yaml(type, data, len, &limits, &w, &err);
    if (st == BARE_OK) {
        rc = deliver(out, w.buf, w.len);
    } else if (st == BARE_E_NOMEM) {
        fprintf(stderr, "bare-yaml: out of memory\n");
    } else {
        report(in, &err, encode, false, 0);
        rc = EXIT_DATA;
    }
    bare_writer_free(&w);
    free(data);
done:
    schemac_loaded_free(&schema);
    return rc;
}
