/* schemac.c - schemac_compile(): read, parse, check, name, generate, and write all or nothing. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit.h"
#include "parse.h"
#include "schemac.h"
#include "sema.h"

#define MAX_SCHEMA_BYTES ((size_t)16 << 20)

char *schemac_read_file(const char *path, size_t *len, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            *err = ENOMEM;
            close(fd);
            return NULL;
        }
        if (n == cap) {
            if (cap >= MAX_SCHEMA_BYTES) {
                *err = EFBIG;
                free(buf);
                close(fd);
                return NULL;
            }
            char *p = realloc(buf, cap * 2);
            if (!p)
                free(buf);
            buf = p;
            cap *= 2;
            continue;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            *err = errno;
            free(buf);
            close(fd);
            return NULL;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    *len = n;
    return buf;
}

const char *schemac_name_problem(const char *p)
{
    if (!p || !*p)
        return "it is empty";
    if (!isalpha((unsigned char)p[0]) && p[0] != '_')
        return "it is not a C identifier (letters, digits and '_', not starting with a digit)";
    for (const char *q = p; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '_')
            return "it is not a C identifier (letters, digits and '_', not starting with a digit)";
    /* Lower case it starts functions and types, upper case macros and the include guard: a
     * leading '_' is reserved at file scope, and '_' with a capital letter everywhere. */
    if (p[0] == '_')
        return "it starts with '_', which would make every generated identifier one that C "
               "reserves (file-scope names with a leading '_', and macros with '__' or '_' and "
               "an upper-case letter)";
    if (strlen(p) >= 64)
        return "it is longer than 63 characters, the length up to which C compilers must tell "
               "identifiers apart, and every generated identifier starts with it";
    return NULL;
}

bool schemac_valid_prefix(const char *p)
{
    return schemac_name_problem(p) == NULL;
}

/* The schema file's base name without extension, as a C identifier. */
char *schemac_default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        out[k++] = isalnum((unsigned char)base[i]) ? (char)base[i] : '_';
    out[k] = '\0';
    return out;
}

/* The schema path for generated text: only characters safe in comments and C strings. */
static char *safe_text(const char *s)
{
    char *out = strdup(s);
    for (char *p = out; p && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-+/", *p))
            *p = '_';
    return out;
}

static void put_text(void *ud, const char *text)
{
    emit_raw(ud, "%s", text);
}

static char *join_path(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

/*
 * A path in a make rule, quoted as gcc's mkdeps.cc does: a blank gets a backslash and doubles
 * the backslashes before it (GNU make's rule), '$' becomes "$$" and '#' gets a backslash.
 */
static void dep_path(emitter_t *e, const char *p)
{
    for (const char *s = p; *s; s++) {
        if (*s == ' ' || *s == '\t') {
            for (const char *q = s; q > p && q[-1] == '\\'; q--)
                emit_raw(e, "\\");
            emit_raw(e, "\\");
        } else if (*s == '$') {
            emit_raw(e, "$");
        } else if (*s == '#') {
            emit_raw(e, "\\");
        }
        emit_raw(e, "%c", *s);
    }
}

char *schemac_make_quote(const char *path)
{
    emitter_t e;
    emit_init(&e);
    dep_path(&e, path);
    if (e.oom) {
        emit_free(&e);
        return NULL;
    }
    return e.buf ? e.buf : strdup("");
}

bool schemac_valid_suffix(const char *suffix)
{
    if (!*suffix)
        return false;
    for (const char *p = suffix; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-+", *p))
            return false;
    return true;
}

/* What every output schemac writes starts with; only such files are overwritten. */
static const char banner[] = "/* Code generated by schemac ";

/*
 * Refuses to replace a file that schemac did not write (a hand-written NAME.c, say): 0 when
 * path is absent or starts with the banner.
 */
static int check_overwrite(const char *path, diag_t *diag)
{
    char head[sizeof banner];
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* absent, or a directory missing: the write reports that */
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_plain_error(diag, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(head, 1, sizeof banner - 1, f);
    fclose(f);
    if (n == sizeof banner - 1 && memcmp(head, banner, n) == 0)
        return 0;
    diag_plain_error(diag,
                     "refusing to overwrite '%s': it was not generated by schemac (it does "
                     "not start with the banner \"%sVERSION from SCHEMA. DO NOT EDIT. */\"); "
                     "remove it if it is stale, or give the outputs another name with -n, -o "
                     "or --suffix",
                     path, banner);
    return -1;
}

static int write_outputs(const schemac_options_t *opt, schemac_result_t *res, diag_t *diag)
{
    const char *paths[3] = {res->header_path, res->source_path, res->depfile_path};
    const char *data[3] = {res->header, res->source, res->depend};
    size_t lens[3] = {res->header_len, res->source_len, res->depend ? strlen(res->depend) : 0};
    char *tmps[3] = {NULL, NULL, NULL};
    size_t first = opt->depfile_only ? 2 : 0, n = res->depfile_path ? 3 : 2;
    int rc = SCHEMAC_OK;

    /* Checked before anything is written, so a refusal leaves every file as it was. */
    for (size_t i = first; i < 2; i++)
        if (check_overwrite(paths[i], diag) != 0)
            return SCHEMAC_USAGE_ERROR;
    for (size_t i = first; i < n; i++) {
        int err = emit_write_temp(paths[i], data[i], lens[i], &tmps[i]);
        if (err) {
            diag_plain_error(diag, "cannot write '%s': %s", paths[i], strerror(err));
            rc = SCHEMAC_USAGE_ERROR;
            break;
        }
    }
    /* All temporaries exist: now they replace the outputs; on failure none is left behind. */
    for (size_t i = 0; i < n; i++) {
        if (!tmps[i])
            continue;
        if (rc == SCHEMAC_OK && rename(tmps[i], paths[i]) != 0) {
            diag_plain_error(diag, "cannot write '%s': %s", paths[i], strerror(errno));
            rc = SCHEMAC_USAGE_ERROR;
        }
        if (rc != SCHEMAC_OK)
            unlink(tmps[i]);
        free(tmps[i]);
    }
    return rc;
}

int schemac_compile(const schemac_options_t *opt, FILE *diag_out, schemac_result_t *res)
{
    diag_t diag;
    bare_arena_t arena;
    char *text = NULL, *name = NULL, *safe = NULL;
    size_t len = opt->text_len;
    int rc = SCHEMAC_OK;

    memset(res, 0, sizeof *res);
    bare_arena_init(&arena, NULL, NULL);
    diag_init(&diag, opt->schema_path, NULL, 0, diag_out);
    if (opt->error_limit)
        diag.error_limit = opt->error_limit < 0 ? 0 : opt->error_limit;

    if (opt->prefix && !schemac_valid_prefix(opt->prefix)) {
        diag_plain_error(&diag, "invalid prefix '%s': %s", opt->prefix,
                         schemac_name_problem(opt->prefix));
        return SCHEMAC_USAGE_ERROR;
    }
    if (opt->name && !schemac_valid_prefix(opt->name)) {
        diag_plain_error(&diag, "invalid name '%s': %s", opt->name,
                         schemac_name_problem(opt->name));
        return SCHEMAC_USAGE_ERROR;
    }
    if (!opt->text) {
        int err = 0;
        text = schemac_read_file(opt->schema_path, &len, &err);
        if (!text) {
            diag_plain_error(&diag, "cannot read '%s': %s", opt->schema_path,
                             err == EFBIG ? "larger than 16 MiB" : strerror(err));
            return SCHEMAC_USAGE_ERROR;
        }
    }
    const char *src = opt->text ? opt->text : text;
    diag.src = src;
    diag.src_len = len;

    name = opt->name ? strdup(opt->name) : schemac_default_name(opt->schema_path);
    safe = safe_text(opt->schema_path);
    const char *dir = opt->out_dir ? opt->out_dir : ".";
    if (opt->suffix && !schemac_valid_suffix(opt->suffix)) {
        diag_plain_error(&diag,
                         "invalid suffix '%s': it may have only letters, digits, '.', "
                         "'_', '-' and '+'",
                         opt->suffix);
        rc = SCHEMAC_USAGE_ERROR;
        goto out;
    }
    char *base = name ? join_path(dir, name, opt->suffix ? opt->suffix : "") : NULL;
    res->header_path = base ? concat(base, ".h") : NULL;
    res->source_path = base ? concat(base, ".c") : NULL;
    if (opt->depfile)
        res->depfile_path = strdup(opt->depfile);
    else if (opt->depfile_default && base)
        res->depfile_path = concat(base, ".h.d");
    free(base);
    if (!name || !safe || !res->header_path || !res->source_path ||
        ((opt->depfile || opt->depfile_default) && !res->depfile_path)) {
        diag_plain_error(&diag, "out of memory");
        rc = SCHEMAC_USAGE_ERROR;
        goto out;
    }
    /* A name from the file is held to -n's rules once it names outputs and identifiers. */
    if (!opt->name && !opt->no_write && !schemac_valid_prefix(name)) {
        diag_plain_error(&diag,
                         "invalid output name '%s' (from the file name '%s'): %s; name the "
                         "outputs with -n NAME",
                         name, opt->schema_path, schemac_name_problem(name));
        rc = SCHEMAC_USAGE_ERROR;
        goto out;
    }

    ast_schema_t schema = {NULL, 0};
    parse_ctx_t pc = {&arena, &diag,        &schema,     &schema.decls,
                      0,      {0, 0, 0, 0}, opt->legacy, opt->vbare};
    parse_schema(&pc, src, len, opt->trace);

    emitter_t canon;
    emit_init(&canon);
    ast_print_schema(&schema, put_text, &canon);
    res->canonical = canon.buf;

    if (diag.errors == 0) {
        sema_t sema = {&arena, &diag, &schema, opt->legacy, {NULL, 0}, NULL};
        sema_check(&sema);
        emit_model_t model;
        char *prefix = opt->prefix ? strdup(opt->prefix) : strdup(name);
        for (char *p = prefix; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (diag.errors == 0 && prefix && order_build(&sema, prefix, &model) && !diag.errors) {
            emitter_t h, c;
            /* With --suffix the guard differs from the hand-written NAME.h's likely NAME_H. */
            char *guard = ast_printf(&arena, "%s%s", name, opt->suffix ? opt->suffix : "");
            for (char *p = guard; p && *p; p++)
                *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
            const char *slash = strrchr(res->header_path, '/');
            gen_t g = {&model, &schema, &arena, safe, slash ? slash + 1 : res->header_path,
                       ast_printf(&arena, "%s_H", guard ? guard : "SCHEMA"), &h};
            emit_init(&h);
            emit_init(&c);
            gen_header(&g);
            g.out = &c;
            gen_source(&g);
            if (h.oom || c.oom) {
                diag_plain_error(&diag, "out of memory");
                emit_free(&h);
                emit_free(&c);
            } else {
                res->header = h.buf;
                res->header_len = h.len;
                res->source = c.buf;
                res->source_len = c.len;
            }
        } else if (diag.errors == 0) {
            diag_plain_error(&diag, "out of memory");
        }
        free(prefix);
    }

    res->errors = diag.errors;
    if (diag.errors) {
        diag_summary(&diag);
        rc = SCHEMAC_SCHEMA_ERROR;
    } else {
        emitter_t dep;
        emit_init(&dep);
        if (opt->dep_targets) {
            emit_raw(&dep, "%s", opt->dep_targets);
        } else {
            dep_path(&dep, res->header_path);
            emit_raw(&dep, " ");
            dep_path(&dep, res->source_path);
        }
        emit_raw(&dep, ": ");
        /*
         * The schema is the only dependency: BARE has no include or import. -MP, as gcc's,
         * names every dependency but the main file, so today it adds no rule; deps[] is where
         * an imported schema would go.
         */
        const char *deps[] = {opt->schema_path};
        size_t ndeps = sizeof deps / sizeof deps[0];
        for (size_t i = 0; i < ndeps; i++) {
            if (i)
                emit_raw(&dep, " ");
            dep_path(&dep, deps[i]);
        }
        emit_raw(&dep, "\n");
        for (size_t i = 1; opt->dep_phony && i < ndeps; i++) {
            emit_raw(&dep, "\n");
            dep_path(&dep, deps[i]);
            emit_raw(&dep, ":\n");
        }
        res->depend = dep.buf;
        if (!opt->no_write)
            rc = write_outputs(opt, res, &diag);
    }
out:
    free(text);
    free(name);
    free(safe);
    bare_arena_free(&arena);
    return rc;
}

void schemac_result_free(schemac_result_t *res)
{
    free(res->header);
    free(res->source);
    free(res->canonical);
    free(res->depend);
    free(res->header_path);
    free(res->source_path);
    free(res->depfile_path);
    memset(res, 0, sizeof *res);
}
