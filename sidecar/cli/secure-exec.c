/*
 * secure-exec.c - the secure-exec command: `secure-exec run` runs a file, code or a program in
 * a VM of secure-exec-sidecar(1). This file reads the command line; session.c does the run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bare.h"
#include "cli.h"

#ifndef SE_VERSION
#define SE_VERSION "unknown"
#endif

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("secure-exec: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_list_add(cli_list_t *l, const char *item)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        const char **items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = item;
    return 0;
}

void cli_list_free(cli_list_t *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void usage(FILE *f)
{
    fputs("usage: secure-exec run [options] FILE [ARGS...]\n"
          "       secure-exec run [options] -e CODE [ARGS...]\n"
          "       secure-exec run [options] -- PROGRAM [ARGS...]\n"
          "       secure-exec --help | --version\n"
          "\n"
          "Runs FILE (.js .mjs .cjs: JavaScript, .py: Python, .wasm: WebAssembly, anything\n"
          "else: an executable), CODE, or a PROGRAM of the VM's PATH in a disposable VM of\n"
          "secure-exec-sidecar, streaming its output and exiting with its exit code.\n"
          "\n"
          "options:\n"
          "  -e, --eval CODE          run CODE (JavaScript, or Python with --runtime python)\n"
          "  -r, --runtime NAME       js, python or wasm, whatever FILE's extension\n"
          "      --allow-net          allow network access (default: denied)\n"
          "      --allow-env NAME     pass the host's NAME (a glob: 'LC_*') into the guest\n"
          "      --env NAME=VALUE     set a variable in the guest\n"
          "      --deny-fs            deny the VM filesystem, but FILE and what --allow-* grant\n"
          "      --allow-read PATH    let the guest read PATH and beneath (implies --deny-fs)\n"
          "      --allow-write PATH   let it read and write PATH and beneath (implies --deny-fs)\n"
          "      --cwd DIR            the guest's working directory (default /home/user)\n"
          "      --memory SIZE        memory limit of the VM (512M, 2G, bytes)\n"
          "      --timeout SECONDS    wall-clock limit (2.5, 500ms, 1m); then exit 124\n"
          "      --cpu SECONDS        CPU time limit; then exit 124\n"
          "      --max-processes N    processes the VM may hold at once\n"
          "      --disk SIZE          capacity of the VM filesystem (default 64M)\n"
          "      --no-stdin           give the guest an empty standard input\n"
          "      --trace FILE         record every protocol frame to FILE\n"
          "      --sidecar PATH       the sidecar to run (default: next to secure-exec)\n"
          "  -q, --quiet              no notes of our own, and no sidecar log on failure\n"
          "  -v, --verbose            show the sidecar's log\n"
          "  -h, --help               this help\n"
          "  -V, --version            the version\n"
          "\n"
          "Exit status: the guest's (128+N when signal N killed it, 124 at a time limit),\n"
          "125 when secure-exec fails, 126 when the program cannot run, 127 when it does not\n"
          "exist. See secure-exec(1).\n",
          f);
}

/* ---- option values ---- */

/* "12", "1.5", with at most 6 decimals; *scale is 10^decimals. */
static bool parse_decimal(const char *s, const char **end, uint64_t *whole, uint64_t *frac,
                          uint64_t *scale)
{
    const char *p = s;
    *whole = *frac = 0;
    *scale = 1;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (*whole > (UINT64_MAX - 9) / 10)
            return false;
        *whole = *whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (*scale < 1000000) {
                *frac = *frac * 10 + (uint64_t)(*p - '0');
                *scale *= 10;
            }
        }
    }
    *end = p;
    return true;
}

/* whole.frac * unit, or false on overflow */
static bool scaled(uint64_t whole, uint64_t frac, uint64_t scale, uint64_t unit, uint64_t *out)
{
    if (unit && whole > UINT64_MAX / unit)
        return false;
    uint64_t v = whole * unit, f = frac * unit / scale; /* frac < 10^6, unit < 2^42 */
    if (v > UINT64_MAX - f)
        return false;
    *out = v + f;
    return true;
}

/* A size: bytes, or a number with K, M, G or T (powers of 1024), optionally followed by B or
 * iB, any case. The sidecar takes what json_int_t holds. */
static int parse_size(const char *opt, const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    uint64_t whole, frac, scale, unit = 1;
    const char *p;
    if (!parse_decimal(s, &p, &whole, &frac, &scale))
        goto bad;
    if (*p) {
        const char *u = strchr(units, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        if (u) {
            unit = 1024;
            for (const char *q = units; q < u; q++)
                unit *= 1024;
            p++;
        }
        if (unit > 1 && (*p == 'i' || *p == 'I'))
            p++;
        if (*p == 'B' || *p == 'b')
            p++;
    }
    if (*p || (unit == 1 && scale > 1))
        goto bad;
    if (!scaled(whole, frac, scale, unit, out) || *out > ((uint64_t)1 << 62)) {
        cli_error("%s: '%s' is too large", opt, s);
        return -1;
    }
    return 0;
bad:
    cli_error("%s: '%s' is not a size (use 512M, 2G, or bytes)", opt, s);
    return -1;
}

/* A duration: seconds ("10", "2.5"), or with ms, s, m or h. 0 means no limit. */
static int parse_duration(const char *opt, const char *s, uint64_t *ms)
{
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    uint64_t whole, frac, scale;
    const char *p;
    if (parse_decimal(s, &p, &whole, &frac, &scale)) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(p, units[i].suffix) != 0)
                continue;
            if (!scaled(whole, frac, scale, units[i].ms, ms) || *ms > ((uint64_t)1 << 53)) {
                cli_error("%s: '%s' is too long", opt, s);
                return -1;
            }
            if (*ms == 0 && (whole || frac)) {
                cli_error("%s: '%s' is less than a millisecond", opt, s);
                return -1;
            }
            return 0;
        }
    }
    cli_error("%s: '%s' is not a duration (use 10, 2.5, 500ms or 1m)", opt, s);
    return -1;
}

static int parse_count(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > 1000000) {
        cli_error("%s: '%s' is not a number from 1 to 1000000", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_runtime(const char *s, cli_runtime_t *rt)
{
    static const struct {
        const char *name;
        cli_runtime_t rt;
    } names[] = {{"js", CLI_RT_JS},         {"javascript", CLI_RT_JS},   {"node", CLI_RT_JS},
                 {"python", CLI_RT_PYTHON}, {"python3", CLI_RT_PYTHON},  {"py", CLI_RT_PYTHON},
                 {"wasm", CLI_RT_WASM},     {"webassembly", CLI_RT_WASM}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *rt = names[i].rt;
            return 0;
        }
    }
    cli_error("--runtime: '%s' is not a runtime (use js, python or wasm)", s);
    return -1;
}

static bool utf8(const char *s)
{
    return bare_utf8_valid(s, strlen(s));
}

/*
 * A guest path, made absolute against base and normalized lexically ("a/../b" is "b"; ".."
 * stops at "/"); malloc'd, or NULL with a message.
 */
static char *guest_path(const char *opt, const char *path, const char *base)
{
    if (!*path || !utf8(path) || strlen(path) > 4000) {
        cli_error("%s: '%s' is not a path", opt, path);
        return NULL;
    }
    size_t cap = strlen(base) + strlen(path) + 3;
    char *in = malloc(cap), *out = malloc(cap);
    if (!in || !out) {
        free(in);
        free(out);
        cli_error("out of memory");
        return NULL;
    }
    snprintf(in, cap, "%s/%s", path[0] == '/' ? "" : base, path);
    size_t n = 0;
    for (char *seg = in; *seg;) {
        size_t len = strcspn(seg, "/");
        if ((len == 1 && seg[0] == '.') || len == 0) {
            /* nothing */
        } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else {
            out[n++] = '/';
            memcpy(out + n, seg, len);
            n += len;
        }
        seg += len;
        while (*seg == '/')
            seg++;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(in);
    if (n > 4000) {
        cli_error("%s: '%s' is too long a path", opt, path);
        free(out);
        return NULL;
    }
    return out;
}

/* ---- the command line ---- */

enum {
    OPT_ALLOW_NET = 256,
    OPT_ALLOW_ENV,
    OPT_ENV,
    OPT_DENY_FS,
    OPT_ALLOW_READ,
    OPT_ALLOW_WRITE,
    OPT_CWD,
    OPT_MEMORY,
    OPT_TIMEOUT,
    OPT_CPU,
    OPT_MAX_PROCESSES,
    OPT_DISK,
    OPT_NO_STDIN,
    OPT_TRACE,
    OPT_SIDECAR
};

static const struct option long_options[] = {
    {"eval", required_argument, NULL, 'e'},
    {"runtime", required_argument, NULL, 'r'},
    {"allow-net", no_argument, NULL, OPT_ALLOW_NET},
    {"allow-env", required_argument, NULL, OPT_ALLOW_ENV},
    {"env", required_argument, NULL, OPT_ENV},
    {"deny-fs", no_argument, NULL, OPT_DENY_FS},
    {"allow-read", required_argument, NULL, OPT_ALLOW_READ},
    {"allow-write", required_argument, NULL, OPT_ALLOW_WRITE},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"max-processes", required_argument, NULL, OPT_MAX_PROCESSES},
    {"disk", required_argument, NULL, OPT_DISK},
    {"no-stdin", no_argument, NULL, OPT_NO_STDIN},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"sidecar", required_argument, NULL, OPT_SIDECAR},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The name of the option getopt just returned, for messages ("--memory", "-e"). */
static const char *option_name(int c, int longindex)
{
    static char buf[64];
    if (longindex >= 0)
        snprintf(buf, sizeof buf, "--%s", long_options[longindex].name);
    else
        snprintf(buf, sizeof buf, "-%c", c);
    return buf;
}

static int add_env(cli_opts_t *o, const char *opt, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        cli_error("%s: '%s' is not NAME=VALUE", opt, arg);
        return -1;
    }
    if (!utf8(arg)) {
        cli_error("%s: '%s' is not UTF-8 text", opt, arg);
        return -1;
    }
    return cli_list_add(&o->env, arg);
}

static int add_allow_env(cli_opts_t *o, const char *opt, const char *arg)
{
    if (!*arg || strchr(arg, '=') || !utf8(arg)) {
        cli_error("%s: '%s' is not a variable name (a glob such as 'LC_*' is fine)", opt, arg);
        return -1;
    }
    return cli_list_add(&o->allow_env, arg);
}

static int add_path(cli_list_t *l, const char *opt, const char *arg, const char *cwd)
{
    char *p = guest_path(opt, arg, cwd ? cwd : CLI_GUEST_HOME);
    if (!p || cli_list_add(l, p) != 0) {
        free(p);
        return -1;
    }
    return 0;
}

static void free_opts(cli_opts_t *o)
{
    for (size_t i = 0; i < o->allow_read.len; i++)
        free((char *)o->allow_read.items[i]);
    for (size_t i = 0; i < o->allow_write.len; i++)
        free((char *)o->allow_write.items[i]);
    cli_list_free(&o->allow_read);
    cli_list_free(&o->allow_write);
    cli_list_free(&o->env);
    cli_list_free(&o->allow_env);
    free((char *)o->cwd);
}

/* Parses `run`'s arguments (argv[0] is "run"); 0, 1 when done (--help), or -1. */
static int parse_run(int argc, char **argv, cli_opts_t *o)
{
    /* --allow-read and --allow-write are relative to --cwd: take them after it */
    const char *cwd_arg = NULL;
    int c;
    opterr = 0;
    optind = 0; /* 0, not 1: GNU getopt starts afresh */
    while ((c = getopt_long(argc, argv, "+:e:r:qvhV", long_options, NULL)) != -1)
        if (c == OPT_CWD)
            cwd_arg = optarg;
    if (cwd_arg && !(o->cwd = guest_path("--cwd", cwd_arg, CLI_GUEST_HOME)))
        return -1;

    bool code = false;
    int longindex = -1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:e:r:qvhV", long_options, &longindex)) != -1) {
        const char *opt = option_name(c, longindex);
        longindex = -1;
        int rc = 0;
        switch (c) {
        case 'e':
            code = true;
            o->target = optarg;
            break;
        case 'r':
            rc = parse_runtime(optarg, &o->runtime);
            break;
        case OPT_ALLOW_NET:
            o->allow_net = true;
            break;
        case OPT_ALLOW_ENV:
            rc = add_allow_env(o, opt, optarg);
            break;
        case OPT_ENV:
            rc = add_env(o, opt, optarg);
            break;
        case OPT_DENY_FS:
            o->deny_fs = true;
            break;
        case OPT_ALLOW_READ:
            rc = add_path(&o->allow_read, opt, optarg, o->cwd);
            break;
        case OPT_ALLOW_WRITE:
            rc = add_path(&o->allow_write, opt, optarg, o->cwd);
            break;
        case OPT_CWD:
            break;
        case OPT_MEMORY:
            o->memory_text = optarg;
            rc = parse_size(opt, optarg, &o->memory);
            break;
        case OPT_DISK:
            rc = parse_size(opt, optarg, &o->disk);
            break;
        case OPT_TIMEOUT:
            o->timeout_text = optarg;
            rc = parse_duration(opt, optarg, &o->timeout_ms);
            break;
        case OPT_CPU:
            o->cpu_text = optarg;
            rc = parse_duration(opt, optarg, &o->cpu_ms);
            break;
        case OPT_MAX_PROCESSES:
            rc = parse_count(opt, optarg, &o->max_processes);
            break;
        case OPT_NO_STDIN:
            o->no_stdin = true;
            break;
        case OPT_TRACE:
            o->trace = optarg;
            break;
        case OPT_SIDECAR:
            o->sidecar = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("secure-exec %s (Secure Exec protocol v1, revision 7)\n", SE_VERSION);
            return 1;
        case ':':
            cli_error("%s needs a value (see secure-exec --help)", argv[optind - 1]);
            return -1;
        default:
            if (optopt && optopt < 256)
                cli_error("run: unknown option '-%c' (see secure-exec --help)", optopt);
            else
                cli_error("run: unknown option '%s' (see secure-exec --help)", argv[optind - 1]);
            return -1;
        }
        if (rc != 0)
            return -1;
    }

    bool dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
    if (code) {
        o->what = CLI_RUN_CODE;
    } else if (optind >= argc) {
        cli_error("run: nothing to run: give a FILE, -e CODE or -- PROGRAM (see secure-exec "
                  "--help)");
        return -1;
    } else {
        o->what = dashdash ? CLI_RUN_PROGRAM : CLI_RUN_FILE;
        o->target = argv[optind++];
        if (!*o->target) {
            cli_error("run: the %s is empty", dashdash ? "PROGRAM" : "FILE");
            return -1;
        }
    }
    o->args = argv + optind;
    o->nargs = (size_t)(argc - optind);

    if (o->what == CLI_RUN_CODE && o->runtime == CLI_RT_WASM) {
        cli_error("-e: WebAssembly cannot be given as code; run a .wasm FILE");
        return -1;
    }
    if (o->what == CLI_RUN_PROGRAM && o->runtime != CLI_RT_AUTO) {
        cli_error("--runtime: does not apply to -- PROGRAM, which runs as it is");
        return -1;
    }
    if (!utf8(o->target)) {
        cli_error("'%s' is not UTF-8 text (the protocol carries text)", o->target);
        return -1;
    }
    for (size_t i = 0; i < o->nargs; i++) {
        if (!utf8(o->args[i])) {
            cli_error("argument %zu ('%s') is not UTF-8 text (the protocol carries text)", i + 1,
                      o->args[i]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_ERROR;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("secure-exec %s (Secure Exec protocol v1, revision 7)\n", SE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "run") != 0) {
        if (argv[1][0] == '-')
            cli_error("'%s' must come after 'run' (see secure-exec --help)", argv[1]);
        else
            cli_error("unknown command '%s': the command is 'run' (see secure-exec --help)",
                      argv[1]);
        return CLI_EXIT_ERROR;
    }

    cli_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_run(argc - 1, argv + 1, &o);
    int status = rc < 0 ? CLI_EXIT_ERROR : rc > 0 ? 0 : cli_run(&o);
    free_opts(&o);
    return status;
}
