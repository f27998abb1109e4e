/* main.c - the schemac command: options, exit statuses, and a call to schemac_compile(). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemac.h"

static void usage(FILE *f)
{
    fputs("usage: schemac [options] SCHEMA\n"
          "       schemac [--legacy] [--dialect vbare] --compat OLD NEW\n"
          "Compile a BARE schema into a C header and source file, or list the changes from OLD\n"
          "to NEW that matter on the wire.\n"
          "\n"
          "  -o, --output-dir DIR   write NAME.h and NAME.c into DIR (default: .)\n"
          "  -n, --name NAME        base name of the outputs (default: the schema's)\n"
          "  -p, --prefix PREFIX    prefix of every C identifier (default: NAME)\n"
          "      --legacy           allow pre-2022 syntax, forward references and recursive types\n"
          "      --dialect vbare    Rivet's vbare schemas: --legacy, '//' comments, map<K, V>\n"
          "  -c, --check            check the schema only; write nothing\n"
          "      --compat           compare two schemas; exit 1 when a change breaks the wire\n"
          "      --print            print the schema in canonical syntax; write nothing\n"
          "      --suffix SUFFIX    write NAME{SUFFIX}.h and .c (e.g. .bare: NAME.bare.h)\n"
          "  -M                     print the make rule of the outputs; write nothing\n"
          "  -MD, -MMD              also write the make rule into NAME{SUFFIX}.h.d (or -MF)\n"
          "  -MF FILE, --depfile FILE\n"
          "                         write the make rule into FILE (with -M: only there)\n"
          "  -MT TARGET, -MQ TARGET the rule's target (-MQ quotes it for make); repeatable\n"
          "  -MP                    an empty rule for each dependency but the schema\n"
          "  -ferror-limit=N        stop after N errors (default 20, 0: no limit)\n"
          "  -d, --debug            trace the parser on stderr\n"
          "  -V, --version          print the version\n"
          "  -h, --help             print this help\n"
          "\n"
          "Exit status: 0 success, 1 errors in the schema (--compat: a breaking change),\n"
          "2 usage or I/O errors (--compat: also an invalid schema).\n",
          f);
}

/* Appends a target to the -MT/-MQ list, space-separated as gcc joins them. */
static bool add_target(char **targets, const char *t, bool quote)
{
    char *q = quote ? schemac_make_quote(t) : strdup(t);
    size_t old = *targets ? strlen(*targets) : 0;
    char *n = q ? realloc(*targets, old + strlen(q) + 2) : NULL;
    if (!n) {
        free(q);
        return false;
    }
    snprintf(n + old, strlen(q) + 2, "%s%s", old ? " " : "", q);
    free(q);
    *targets = n;
    return true;
}

/*
 * gcc's dependency options (-MD would be -M -D to getopt): taken out of argv before getopt
 * runs. -MF, -MT and -MQ take the next argument or a joined one (-MFdeps.d), as in gcc.
 */
static int take_dep_options(int *argc, char **argv, schemac_options_t *opt, char **targets)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0) {
            opt->depfile_default = true; /* no system files: -MMD is -MD */
        } else if (strcmp(a, "-MP") == 0) {
            opt->dep_phony = true;
        } else if (strncmp(a, "-MF", 3) == 0 || strncmp(a, "-MT", 3) == 0 ||
                   strncmp(a, "-MQ", 3) == 0) {
            const char *val = a[3] ? a + 3 : i + 1 < *argc ? argv[++i] : NULL;
            if (!val) {
                fprintf(stderr, "schemac: %.3s needs an argument\n", a);
                return SCHEMAC_USAGE_ERROR;
            }
            if (a[2] == 'F') {
                opt->depfile = val;
            } else if (!add_target(targets, val, a[2] == 'Q')) {
                fprintf(stderr, "schemac: out of memory\n");
                return SCHEMAC_USAGE_ERROR;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return SCHEMAC_OK;
}

static char *targets; /* -MT/-MQ, joined; freed at exit, whichever return is taken */

static void free_targets(void)
{
    free(targets);
}

int main(int argc, char **argv)
{
    enum {
        OPT_LEGACY = 256,
        OPT_PRINT,
        OPT_DEPFILE,
        OPT_ERROR_LIMIT,
        OPT_COMPAT,
        OPT_SUFFIX,
        OPT_DIALECT
    };
    static const struct option longopts[] = {
        {"output-dir", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'},
        {"prefix", required_argument, NULL, 'p'},
        {"legacy", no_argument, NULL, OPT_LEGACY},
        {"check", no_argument, NULL, 'c'},
        {"print", no_argument, NULL, OPT_PRINT},
        {"compat", no_argument, NULL, OPT_COMPAT},
        {"depfile", required_argument, NULL, OPT_DEPFILE},
        {"suffix", required_argument, NULL, OPT_SUFFIX},
        {"dialect", required_argument, NULL, OPT_DIALECT},
        {"error-limit", required_argument, NULL, OPT_ERROR_LIMIT},
        {"debug", no_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    schemac_options_t opt;
    bool check_only = false, print = false, rule = false, compat = false;
    const char *out_dir = ".";
    int c;

    memset(&opt, 0, sizeof opt);
    atexit(free_targets);
    if (take_dep_options(&argc, argv, &opt, &targets) != SCHEMAC_OK)
        return SCHEMAC_USAGE_ERROR;
    opt.dep_targets = targets;
    /* GCC's spelling -ferror-limit=N maps onto the long option. */
    static char limit_opt[64];
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-ferror-limit=", 14) == 0) {
            snprintf(limit_opt, sizeof limit_opt, "--error-limit=%s", argv[i] + 14);
            argv[i] = limit_opt;
        }
    }
    while ((c = getopt_long(argc, argv, "o:n:p:cdMVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 'n':
            opt.name = optarg;
            break;
        case 'p':
            opt.prefix = optarg;
            break;
        case OPT_LEGACY:
            opt.legacy = true;
            break;
        case 'c':
            check_only = true;
            break;
        case OPT_PRINT:
            print = true;
            break;
        case OPT_COMPAT:
            compat = true;
            break;
        case 'M':
            rule = true;
            break;
        case OPT_DEPFILE:
            opt.depfile = optarg;
            break;
        case OPT_SUFFIX:
            opt.suffix = optarg;
            break;
        case OPT_DIALECT:
            /* vbare compiles the reference's own protocol schema: its spellings, legacy's rules */
            if (strcmp(optarg, "vbare") != 0) {
                fprintf(stderr, "schemac: unknown dialect '%s' (known: vbare)\n", optarg);
                return SCHEMAC_USAGE_ERROR;
            }
            opt.vbare = opt.legacy = true;
            break;
        case OPT_ERROR_LIMIT: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 100000) {
                fprintf(stderr, "schemac: invalid error limit '%s'\n", optarg);
                return SCHEMAC_USAGE_ERROR;
            }
            opt.error_limit = n == 0 ? -1 : (int)n;
            break;
        }
        case 'd':
            opt.trace = true;
            break;
        case 'V':
            printf("schemac %s (bare runtime ABI %d)\n", SCHEMAC_VERSION, SCHEMAC_ABI_VERSION);
            return SCHEMAC_OK;
        case 'h':
            usage(stdout);
            return SCHEMAC_OK;
        default:
            usage(stderr);
            return SCHEMAC_USAGE_ERROR;
        }
    }
    if (compat) {
        if (optind != argc - 2) {
            fprintf(stderr, "schemac: --compat needs two schemas, OLD and NEW\n");
            usage(stderr);
            return SCHEMAC_USAGE_ERROR;
        }
        schemac_options_t new_opt = opt;
        opt.schema_path = argv[optind];
        new_opt.schema_path = argv[optind + 1];
        int rc = schemac_compat(&opt, &new_opt, stdout, stderr);
        if (fflush(stdout) != 0) {
            perror("schemac: stdout");
            return SCHEMAC_USAGE_ERROR;
        }
        return rc;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "schemac: %s\n", optind == argc ? "no schema given" : "more than one schema given");
        usage(stderr);
        return SCHEMAC_USAGE_ERROR;
    }
    opt.schema_path = argv[optind];
    opt.out_dir = out_dir;
    /* -M generates nothing, like gcc -M; with -MF (or -MD) the rule goes to that file only. */
    opt.no_write = check_only || print || (rule && !opt.depfile && !opt.depfile_default);
    opt.depfile_only = rule;

    schemac_result_t res;
    int rc = schemac_compile(&opt, stderr, &res);
    if (rc == SCHEMAC_OK && print)
        fputs(res.canonical ? res.canonical : "", stdout);
    if (rc == SCHEMAC_OK && rule && !opt.depfile && !opt.depfile_default)
        fputs(res.depend ? res.depend : "", stdout);
    schemac_result_free(&res);
    if (fflush(stdout) != 0) {
        perror("schemac: stdout");
        return SCHEMAC_USAGE_ERROR;
    }
    return rc;
}
