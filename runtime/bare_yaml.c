/*
 * bare_yaml.c - YAML text to BARE for any type, driven by descriptors alone: libyaml's events
 * become a small node tree (so struct fields may come in any order), which is then encoded.
 * The other direction is in bare_yaml_out.c; the scalar forms both share are at the top.
 */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bare_yaml_internal.h"

/* ---- scalar forms shared by both directions ---- */

static bool word_in(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0)
            return true;
    return false;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};

/*
 * The implicit resolvers of YAML 1.1 (yaml.org/type/, as PyYAML's resolver.py has them),
 * Ruby Psych's ScalarScanner (case-blind words, commas in numbers, dates with one-digit
 * fields, :symbols) and the YAML 1.2 core schema, as POSIX extended expressions matched
 * against the whole text. A str is quoted on output when any of them takes it for another
 * type, so that every YAML tool reads back the same string; quoting more is harmless.
 */
static const struct {
    const char *re;
    int flags;
} resolvers[] = {
    /* bool (1.1 and Psych, case-blind) and null (1.1, Psych's null is case-blind too) */
    {"^(y|n|yes|no|true|false|on|off|~|null|)$", REG_ICASE},
    /* int: base 2, 8, 10, 16, 60 (1.1; Psych also takes commas between digits) */
    {"^[-+]?(0b[01_,]+|0[0-7_,]+|0|[1-9]([0-9]|,[0-9]|_[0-9])*|[1-9][0-9_]*|0x[0-9a-fA-F_,]+)$", 0},
    {"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$", 0},
    /* float: base 10 (1.1 allows a second '.'; Psych commas), base 60 above, inf and nan */
    {"^[-+]?([0-9][0-9_,]*)?\\.[0-9._]*([eE][-+][0-9]+)?$", 0},
    {"^[-+]?\\.(inf|nan)$", REG_ICASE},
    /* 1.2 core int and float */
    {"^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", 0},
    {"^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", 0},
    /* timestamp: 1.1's ymd and full forms, Psych's one-digit month and day and '-' years */
    {"^-?[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?"
     "([ \t]*(Z|[-+][0-9]{1,2}(:?[0-9]{2})?))?)?$",
     0},
    /* merge and value keys (1.1), Psych's :symbols */
    {"^(<<|=|:.*)$", 0},
};

#define NRESOLVERS (sizeof resolvers / sizeof resolvers[0])

static regex_t resolver_res[NRESOLVERS];
static bool resolvers_ok;
static pthread_once_t resolvers_once = PTHREAD_ONCE_INIT;

static void resolvers_compile(void)
{
    resolvers_ok = true;
    for (size_t i = 0; i < NRESOLVERS; i++)
        if (regcomp(&resolver_res[i], resolvers[i].re,
                    REG_EXTENDED | REG_NOSUB | resolvers[i].flags))
            resolvers_ok = false;
}

bool bare_yaml_needs_quotes(const char *s, size_t n)
{
    char small[96], *buf = small;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    /* The first characters any expression above can match: most texts stop here. */
    if (n == 0)
        return true;
    if (!strchr("yYnNtTfFoO~+-.0123456789<=:", s[0]))
        return false;
    pthread_once(&resolvers_once, resolvers_compile);
    if (n >= sizeof small)
        buf = malloc(n + 1); /* digits and '_' make ints of any length */
    if (!resolvers_ok || !buf)
        return true; /* no memory for the expressions: quoting is always safe */
    memcpy(buf, s, n);
    buf[n] = '\0';
    bool hit = false;
    for (size_t i = 0; i < NRESOLVERS && !hit; i++)
        hit = regexec(&resolver_res[i], buf, 0, NULL, 0) == 0;
    if (buf != small)
        free(buf);
    return hit;
}

bool bare_yaml_is_null_text(const char *s, size_t n)
{
    return word_in(s, n, null_words);
}

/* Digits of one base; false on an empty run, a stray character or an overflow. */
static bool parse_digits(const char *s, size_t n, unsigned base, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* YAML 1.2 core integers: [-+]? then decimal, 0x hex or 0o octal. *neg tells the sign. */
bool bare_yaml_parse_int(const char *s, size_t n, bool *neg, uint64_t *magnitude)
{
    size_t i = 0;
    *neg = false;
    if (n && (s[0] == '-' || s[0] == '+')) {
        *neg = s[0] == '-';
        i = 1;
    }
    if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        return parse_digits(s + i + 2, n - i - 2, 16, magnitude);
    if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O'))
        return parse_digits(s + i + 2, n - i - 2, 8, magnitude);
    return parse_digits(s + i, n - i, 10, magnitude);
}

/* YAML 1.2 core floats: [-+]?(.digits|digits(.digits?)?)([eE][-+]?digits)?, .inf, .nan. */
bool bare_yaml_parse_float(const char *s, size_t n, bool single, double *out)
{
    static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};
    char buf[128];
    size_t i = 0, digits = 0;
    bool neg = false;

    if (word_in(s, n, nan_words)) {
        *out = single ? (double)__builtin_nanf("") : __builtin_nan("");
        return true;
    }
    if (n && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (word_in(s + i, n - i, inf)) {
        *out = neg ? -__builtin_inf() : __builtin_inf();
        return true;
    }
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    if (i != n || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (single) {
        float f = strtof(buf, NULL);
        if (__builtin_isinf(f))
            return false; /* a finite number too large for f32 */
        *out = (double)f;
    } else {
        *out = strtod(buf, NULL);
        if (__builtin_isinf(*out))
            return false;
    }
    return true;
}

/* A '.' in the mantissa, so YAML 1.1 readers see a float too: 5 -> 5.0, 1e+20 -> 1.0e+20. */
static size_t float_dot(char *buf, size_t n, size_t cap)
{
    size_t e = 0;
    while (e < n && buf[e] != 'e')
        e++;
    for (size_t i = 0; i < e; i++)
        if (buf[i] == '.' || buf[i] == 'n' || buf[i] == 'i')
            return n;
    if (n + 2 >= cap)
        return n;
    memmove(buf + e + 2, buf + e, n - e + 1);
    buf[e] = '.';
    buf[e + 1] = '0';
    return n + 2;
}

size_t bare_yaml_format_float(double v, bool single, char *buf, size_t cap)
{
    int n = 0;
    if (__builtin_isnan(v))
        return (size_t)snprintf(buf, cap, ".nan");
    if (__builtin_isinf(v))
        return (size_t)snprintf(buf, cap, v < 0 ? "-.inf" : ".inf");
    /* The shortest decimal that reads back to the same bits. */
    for (int prec = 1; prec <= (single ? 9 : 17); prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
            break;
    }
    return float_dot(buf, (size_t)n, cap);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t bare_yaml_base64_encode(const uint8_t *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[k++] = b64_alphabet[(v >> 18) & 63];
        out[k++] = b64_alphabet[(v >> 12) & 63];
        out[k++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    return k;
}

/*
 * Decodes base64 (whitespace ignored, padding optional) into out, which has room for n * 3 / 4
 * bytes; returns the length, or SIZE_MAX on a bad character or length.
 */
static size_t base64_decode(const char *s, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    size_t bits = 0, k = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *at;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || c == '\0' || !(at = strchr(b64_alphabet, c)))
            return SIZE_MAX;
        acc = (acc << 6) | (uint32_t)(at - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 6 leftover bits cannot end a group; padding, if any, must complete the last one. */
    if (bits >= 6 || (pad && (pad > 2 || (bits == 4 ? 2u : bits == 2 ? 1u : 0u) != pad)))
        return SIZE_MAX;
    return k;
}

/* ---- the node tree ---- */

typedef enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP } ynode_kind_t;

typedef struct ynode ynode_t;
struct ynode {
    ynode_kind_t kind;
    size_t offset;    /* of the node's first byte in the text */
    const char *tag;  /* NULL when none was written */
    const char *text; /* scalars: NUL-terminated, len bytes */
    size_t len;
    bool plain;
    size_t count; /* sequence items; mapping entries (the children alternate key, value) */
    ynode_t *first, *last, *next, *parent;
};

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct yenc {
    bare_arena_t arena;
    const char *text;
    size_t len;
    bare_writer_t *out;
    bare_error_t *err;
    uint32_t depth, max_depth;
} yenc_t;

/* 1-based line and byte column of a byte offset (libyaml counts columns in characters). */
static void locate(const char *text, size_t len, size_t offset, uint32_t *line, uint32_t *col)
{
    size_t start = 0;
    uint32_t l = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            l++;
            start = i + 1;
        }
    }
    *line = l;
    *col = (uint32_t)(offset - start + 1);
}

static int fail_at(yenc_t *c, size_t offset, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(yenc_t *c, size_t offset, int status, const char *fmt, ...)
{
    bare_error_t *e = c->err;
    if (e->status)
        return e->status;
    bare_error_set(e, status, offset);
    locate(c->text, c->len, offset, &e->line, &e->column);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
    return status;
}

/* A scalar's text for messages: at most 40 bytes, cut on a character boundary. */
static const char *shown(const ynode_t *n, char *buf, size_t cap)
{
    size_t k = n->len < 40 ? n->len : 40;
    while (k < n->len && k > 0 && ((unsigned char)n->text[k] & 0xC0) == 0x80)
        k--;
    snprintf(buf, cap, "%.*s%s", (int)k, n->text, k < n->len ? "..." : "");
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    return buf;
}

static const char *node_kind_name(const ynode_t *n)
{
    return n->kind == YN_SEQ ? "a sequence" : n->kind == YN_MAP ? "a mapping" : "a scalar";
}

static ynode_t *new_node(yenc_t *c, ynode_kind_t kind, const yaml_mark_t *m, const yaml_char_t *tag)
{
    ynode_t *n = bare_arena_alloc(&c->arena, sizeof *n, _Alignof(ynode_t));
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->offset = m->index;
    if (tag && strcmp((const char *)tag, "!") != 0) {
        n->tag = bare_arena_strdup(&c->arena, bare_str_from_cstr((const char *)tag));
        if (!n->tag)
            return NULL;
    }
    return n;
}

static void attach(ynode_t *parent, ynode_t *n, ynode_t **root)
{
    n->parent = parent;
    if (!parent) {
        *root = n;
        return;
    }
    if (parent->last)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
    parent->count++;
}

static int syntax_error(yenc_t *c, yaml_parser_t *p)
{
    char what[BARE_DETAIL_MAX];
    size_t at = p->error == YAML_READER_ERROR ? p->problem_offset : p->problem_mark.index;
    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(c, at, BARE_E_NOMEM, "out of memory while parsing YAML");
    if (p->context)
        snprintf(what, sizeof what, "%s (%s)", p->problem ? p->problem : "syntax error",
                 p->context);
    else
        snprintf(what, sizeof what, "%s", p->problem ? p->problem : "syntax error");
    return fail_at(c, at, BARE_E_YAML_SYNTAX, "%s", what);
}

/* Builds the tree of the one document in the text; *root is NULL for an empty stream. */
static int build_tree(yenc_t *c, ynode_t **root)
{
    yaml_parser_t p;
    yaml_event_t ev;
    ynode_t *cur = NULL;
    int documents = 0, rc = BARE_OK;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return fail_at(c, 0, BARE_E_NOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)c->text, c->len);
    while (!done && rc == BARE_OK) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(c, &p);
            break;
        }
        ynode_t *n = NULL;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                rc = fail_at(c, ev.start_mark.index, BARE_E_YAML_SYNTAX,
                             "a second YAML document; one value is one document");
            break;
        case YAML_ALIAS_EVENT:
            rc = fail_at(c, ev.start_mark.index, BARE_E_YAML_SYNTAX,
                         "aliases (*%s) are not supported; write the value out",
                         (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            n = new_node(c, YN_SCALAR, &ev.start_mark, ev.data.scalar.tag);
            if (n) {
                n->text =
                    bare_arena_strdup(&c->arena, (bare_str_t){(const char *)ev.data.scalar.value,
                                                              ev.data.scalar.length});
                n->len = ev.data.scalar.length;
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                           !(ev.data.scalar.tag && strcmp((char *)ev.data.scalar.tag, "!") == 0);
                if (n->text)
                    attach(cur, n, root);
            }
            if (!n || !n->text)
                rc = fail_at(c, ev.start_mark.index, BARE_E_NOMEM, "out of memory");
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            n = new_node(c, ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP, &ev.start_mark,
                         ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                                              : ev.data.mapping_start.tag);
            if (!n) {
                rc = fail_at(c, ev.start_mark.index, BARE_E_NOMEM, "out of memory");
                break;
            }
            attach(cur, n, root);
            cur = n;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (cur && cur->kind == YN_MAP)
                cur->count /= 2;
            cur = cur ? cur->parent : NULL;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- encoding the tree ---- */

static bool is_null(const ynode_t *n)
{
    if (n->kind != YN_SCALAR)
        return false;
    if (n->tag)
        return strcmp(n->tag, TAG_PREFIX "null") == 0;
    return n->plain && bare_yaml_is_null_text(n->text, n->len);
}

/* A tag that does not fit the expected one ("int", "str", ...; NULL: none is accepted). */
static int check_tag(yenc_t *c, const ynode_t *n, const char *want, const char *want2,
                     const bare_type_desc_t *d)
{
    if (!n->tag)
        return BARE_OK;
    if (strncmp(n->tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) == 0) {
        const char *t = n->tag + sizeof TAG_PREFIX - 1;
        if ((want && strcmp(t, want) == 0) || (want2 && strcmp(t, want2) == 0))
            return BARE_OK;
        return fail_at(c, n->offset, BARE_E_YAML_TYPE, "tag !!%s does not fit %s", t, d->name);
    }
    return fail_at(c, n->offset, BARE_E_YAML_TYPE, "tag %s does not fit %s", n->tag, d->name);
}

static int want_scalar(yenc_t *c, const ynode_t *n, const bare_type_desc_t *d, const char *what)
{
    if (n->kind != YN_SCALAR)
        return fail_at(c, n->offset, BARE_E_YAML_TYPE, "expected %s for %s, got %s", what, d->name,
                       node_kind_name(n));
    if (is_null(n))
        return fail_at(c, n->offset, BARE_E_YAML_TYPE, "expected %s for %s, got null%s", what,
                       d->name, d->kind == BARE_KIND_STR ? " (quote it for the text)" : "");
    return BARE_OK;
}

static int enter(yenc_t *c, const ynode_t *n)
{
    if (c->depth >= c->max_depth)
        return fail_at(c, n->offset, BARE_E_DEPTH, "nesting deeper than %u",
                       (unsigned)c->max_depth);
    c->depth++;
    return BARE_OK;
}

static int writer_fail(yenc_t *c, const ynode_t *n)
{
    return fail_at(c, n->offset, c->out->status ? c->out->status : BARE_E_NOMEM,
                   "cannot write the output");
}

static int encode_int(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    static const struct {
        bare_kind_t kind;
        bool is_signed;
        uint64_t max; /* the largest magnitude: of positive values, or of negative ones + 1 */
    } ranges[] = {
        {BARE_KIND_UINT, false, UINT64_MAX}, {BARE_KIND_U8, false, UINT8_MAX},
        {BARE_KIND_U16, false, UINT16_MAX},  {BARE_KIND_U32, false, UINT32_MAX},
        {BARE_KIND_U64, false, UINT64_MAX},  {BARE_KIND_INT, true, INT64_MAX},
        {BARE_KIND_I8, true, INT8_MAX},      {BARE_KIND_I16, true, INT16_MAX},
        {BARE_KIND_I32, true, INT32_MAX},    {BARE_KIND_I64, true, INT64_MAX},
    };
    char buf[64];
    bool neg;
    uint64_t mag;
    int rc = want_scalar(c, n, d, "an integer");
    if (rc)
        return rc;
    if ((rc = check_tag(c, n, "int", NULL, d)))
        return rc;
    size_t i = 0;
    while (ranges[i].kind != d->kind)
        i++;
    if (!bare_yaml_parse_int(n->text, n->len, &neg, &mag))
        return fail_at(c, n->offset, BARE_E_YAML_VALUE, "'%s' is not an integer (%s)",
                       shown(n, buf, sizeof buf), d->name);
    bool fits = ranges[i].is_signed ? (neg ? mag <= ranges[i].max + 1 : mag <= ranges[i].max)
                                    : (!neg || mag == 0) && mag <= ranges[i].max;
    if (!fits)
        return fail_at(c, n->offset, BARE_E_YAML_VALUE, "%s is out of range for %s",
                       shown(n, buf, sizeof buf), d->name);
    int64_t s = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    switch (d->kind) {
    case BARE_KIND_UINT:
        rc = bare_write_uint(c->out, mag);
        break;
    case BARE_KIND_U8:
        rc = bare_write_u8(c->out, (uint8_t)mag);
        break;
    case BARE_KIND_U16:
        rc = bare_write_u16(c->out, (uint16_t)mag);
        break;
    case BARE_KIND_U32:
        rc = bare_write_u32(c->out, (uint32_t)mag);
        break;
    case BARE_KIND_U64:
        rc = bare_write_u64(c->out, mag);
        break;
    case BARE_KIND_INT:
        rc = bare_write_int(c->out, s);
        break;
    case BARE_KIND_I8:
        rc = bare_write_i8(c->out, (int8_t)s);
        break;
    case BARE_KIND_I16:
        rc = bare_write_i16(c->out, (int16_t)s);
        break;
    case BARE_KIND_I32:
        rc = bare_write_i32(c->out, (int32_t)s);
        break;
    default:
        rc = bare_write_i64(c->out, s);
        break;
    }
    return rc ? writer_fail(c, n) : BARE_OK;
}

static int encode_bytes(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    int rc = want_scalar(c, n, d, "base64 text");
    if (rc)
        return rc;
    if ((rc = check_tag(c, n, "binary", NULL, d)))
        return rc;
    uint8_t *buf = bare_arena_alloc(&c->arena, n->len / 4 * 3 + 3, 1);
    if (!buf)
        return fail_at(c, n->offset, BARE_E_NOMEM, "out of memory");
    size_t k = base64_decode(n->text, n->len, buf);
    if (k == SIZE_MAX)
        return fail_at(c, n->offset, BARE_E_YAML_VALUE, "not base64 (%s)", d->name);
    if (d->kind == BARE_KIND_DATA_FIXED) {
        if (k != d->length)
            return fail_at(c, n->offset, BARE_E_YAML_VALUE, "%s needs exactly %llu bytes, got %zu",
                           d->name, (unsigned long long)d->length, k);
        rc = bare_write_fixed(c->out, buf, k);
    } else {
        rc = bare_write_data(c->out, (bare_bytes_t){buf, k});
    }
    return rc ? writer_fail(c, n) : BARE_OK;
}

static int encode_scalar(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    char buf[64];
    int rc;
    switch (d->kind) {
    case BARE_KIND_F32:
    case BARE_KIND_F64: {
        double v;
        if ((rc = want_scalar(c, n, d, "a number")) || (rc = check_tag(c, n, "float", "int", d)))
            return rc;
        if (!bare_yaml_parse_float(n->text, n->len, d->kind == BARE_KIND_F32, &v))
            return fail_at(c, n->offset, BARE_E_YAML_VALUE, "'%s' is not a number (%s)%s",
                           shown(n, buf, sizeof buf), d->name,
                           n->len < 400 ? "" : " or is too long");
        rc =
            d->kind == BARE_KIND_F32 ? bare_write_f32(c->out, (float)v) : bare_write_f64(c->out, v);
        break;
    }
    case BARE_KIND_BOOL:
        if ((rc = want_scalar(c, n, d, "true or false")) || (rc = check_tag(c, n, "bool", NULL, d)))
            return rc;
        if (word_in(n->text, n->len, true_words))
            rc = bare_write_bool(c->out, true);
        else if (word_in(n->text, n->len, false_words))
            rc = bare_write_bool(c->out, false);
        else
            return fail_at(c, n->offset, BARE_E_YAML_VALUE, "'%s' is not true or false",
                           shown(n, buf, sizeof buf));
        break;
    case BARE_KIND_STR:
        if ((rc = want_scalar(c, n, d, "a string")) || (rc = check_tag(c, n, "str", NULL, d)))
            return rc;
        rc = bare_write_str(c->out, (bare_str_t){n->text, n->len});
        break;
    case BARE_KIND_DATA:
    case BARE_KIND_DATA_FIXED:
        return encode_bytes(c, d, n);
    case BARE_KIND_ENUM:
        if ((rc = want_scalar(c, n, d, "an enum value name")) ||
            (rc = check_tag(c, n, "str", NULL, d)))
            return rc;
        for (size_t i = 0; i < d->count; i++)
            if (strlen(d->values[i].name) == n->len &&
                memcmp(d->values[i].name, n->text, n->len) == 0) {
                rc = bare_write_uint(c->out, d->values[i].value);
                return rc ? writer_fail(c, n) : BARE_OK;
            }
        return fail_at(c, n->offset, BARE_E_ENUM, "'%s' is not a value of enum %s",
                       shown(n, buf, sizeof buf), d->name);
    default:
        return encode_int(c, d, n);
    }
    return rc ? (rc == BARE_E_UTF8 ? fail_at(c, n->offset, rc, "not UTF-8") : writer_fail(c, n))
              : BARE_OK;
}

static int encode_value(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n);

/* A key's path segment from its BARE bytes, as the reader names map entries. */
static int key_path_from_bytes(bare_error_t *e, const bare_type_desc_t *key, const uint8_t *p,
                               size_t len, size_t index)
{
    bare_yaml_key_t k;
    bare_yaml_key_read(key, p, len, &k);
    return bare_yaml_key_path(e, &k, index);
}

static int encode_map(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    size_t i = 0, *starts, *ends;
    int rc;
    if (n->kind != YN_MAP)
        return fail_at(c, n->offset, BARE_E_YAML_TYPE, "expected a mapping for %s, got %s", d->name,
                       node_kind_name(n));
    if ((rc = check_tag(c, n, "map", NULL, d)) || (rc = enter(c, n)))
        return rc;
    starts = bare_arena_alloc(&c->arena, (n->count + 1) * 2 * sizeof *starts, _Alignof(size_t));
    if (!starts)
        return fail_at(c, n->offset, BARE_E_NOMEM, "out of memory");
    ends = starts + n->count + 1;
    if (bare_write_uint(c->out, n->count))
        return writer_fail(c, n);
    for (const ynode_t *k = n->first; k; k = k->next->next, i++) {
        starts[i] = c->out->len;
        if (k->kind != YN_SCALAR)
            rc = fail_at(c, k->offset, BARE_E_YAML_TYPE, "a key of %s must be a scalar", d->name);
        else
            rc = encode_value(c, d->key, k);
        if (rc)
            return bare_path_index(c->err, i);
        ends[i] = c->out->len;
        if (encode_value(c, d->elem, k->next))
            return key_path_from_bytes(c->err, d->key, c->out->buf + starts[i], ends[i] - starts[i],
                                       i);
    }
    size_t dup = bare_yaml_find_duplicate(c->out->buf, starts, ends, n->count, &c->arena);
    if (dup == SIZE_MAX - 1)
        return fail_at(c, n->offset, BARE_E_NOMEM, "out of memory");
    if (dup != SIZE_MAX) {
        const ynode_t *k = n->first;
        for (size_t j = 0; j < dup; j++)
            k = k->next->next;
        fail_at(c, k->offset, BARE_E_DUPLICATE_KEY, "duplicate key in %s", d->name);
        return key_path_from_bytes(c->err, d->key, c->out->buf + starts[dup],
                                   ends[dup] - starts[dup], dup);
    }
    c->depth--;
    return BARE_OK;
}

static int encode_struct(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    char buf[64];
    int rc;
    if (n->kind != YN_MAP)
        return fail_at(c, n->offset, BARE_E_YAML_TYPE,
                       "expected a mapping of the fields of %s, got %s", d->name,
                       node_kind_name(n));
    if ((rc = check_tag(c, n, "map", NULL, d)) || (rc = enter(c, n)))
        return rc;
    const ynode_t **values =
        bare_arena_alloc(&c->arena, (d->count + 1) * sizeof *values, _Alignof(ynode_t *));
    if (!values)
        return fail_at(c, n->offset, BARE_E_NOMEM, "out of memory");
    memset(values, 0, (d->count + 1) * sizeof *values);
    for (const ynode_t *k = n->first; k; k = k->next->next) {
        size_t f = 0;
        if (k->kind != YN_SCALAR)
            return fail_at(c, k->offset, BARE_E_YAML_TYPE, "a field name of %s must be a scalar",
                           d->name);
        while (f < d->count && !(strlen(d->fields[f].name) == k->len &&
                                 memcmp(d->fields[f].name, k->text, k->len) == 0))
            f++;
        if (f == d->count)
            return fail_at(c, k->offset, BARE_E_YAML_FIELD, "%s has no field '%s'", d->name,
                           shown(k, buf, sizeof buf));
        if (values[f])
            return fail_at(c, k->offset, BARE_E_DUPLICATE_KEY, "field '%s' given twice",
                           d->fields[f].name);
        values[f] = k->next;
    }
    for (size_t f = 0; f < d->count; f++) {
        const bare_type_desc_t *ft = d->fields[f].type;
        if (!values[f] && ft && ft->kind == BARE_KIND_OPTIONAL) {
            if (bare_write_u8(c->out, 0))
                return writer_fail(c, n);
            continue;
        }
        if (!values[f])
            return fail_at(c, n->offset, BARE_E_YAML_FIELD, "missing field '%s' of %s",
                           d->fields[f].name, d->name);
        if (encode_value(c, ft, values[f]))
            return bare_path_field(c->err, d->fields[f].name);
    }
    c->depth--;
    return BARE_OK;
}

static int encode_union(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    char buf[64];
    int rc;
    if (n->kind != YN_MAP || n->count != 1)
        return fail_at(c, n->offset, BARE_E_YAML_TYPE,
                       "expected a mapping with one key, the member of %s, got %s", d->name,
                       n->kind == YN_MAP ? "another number of keys" : node_kind_name(n));
    if ((rc = check_tag(c, n, "map", NULL, d)) || (rc = enter(c, n)))
        return rc;
    const ynode_t *k = n->first;
    const bare_member_desc_t *m = NULL;
    if (k->kind == YN_SCALAR)
        for (size_t i = 0; i < d->count && !m; i++)
            if (strlen(d->members[i].name) == k->len &&
                memcmp(d->members[i].name, k->text, k->len) == 0)
                m = &d->members[i];
    if (!m)
        return fail_at(c, k->offset, BARE_E_UNION_TAG, "'%s' is not a member of %s",
                       k->kind == YN_SCALAR ? shown(k, buf, sizeof buf) : "(not a scalar)",
                       d->name);
    if (bare_write_uint(c->out, m->tag))
        return writer_fail(c, n);
    if (encode_value(c, m->type, k->next))
        return bare_path_field(c->err, m->name);
    c->depth--;
    return BARE_OK;
}

static int encode_list(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    int rc;
    if (n->kind != YN_SEQ)
        return fail_at(c, n->offset, BARE_E_YAML_TYPE, "expected a sequence for %s, got %s",
                       d->name, node_kind_name(n));
    if ((rc = check_tag(c, n, "seq", NULL, d)) || (rc = enter(c, n)))
        return rc;
    if (d->kind == BARE_KIND_LIST_FIXED && n->count != d->length)
        return fail_at(c, n->offset, BARE_E_YAML_VALUE, "%s needs exactly %llu items, got %zu",
                       d->name, (unsigned long long)d->length, n->count);
    if (d->kind == BARE_KIND_LIST && bare_write_uint(c->out, n->count))
        return writer_fail(c, n);
    size_t i = 0;
    for (const ynode_t *item = n->first; item; item = item->next, i++)
        if (encode_value(c, d->elem, item))
            return bare_path_index(c->err, i);
    c->depth--;
    return BARE_OK;
}

static int encode_value(yenc_t *c, const bare_type_desc_t *d, const ynode_t *n)
{
    int rc;
    if (!d || d->kind == BARE_KIND_VOID) {
        if (!is_null(n))
            return fail_at(c, n->offset, BARE_E_YAML_TYPE, "expected null for void %s, got %s",
                           d ? d->name : "", node_kind_name(n));
        return BARE_OK;
    }
    switch (d->kind) {
    case BARE_KIND_OPTIONAL:
        if ((rc = enter(c, n)))
            return rc;
        if (is_null(n)) {
            rc = bare_write_u8(c->out, 0);
        } else {
            rc = bare_write_u8(c->out, 1);
            if (!rc && (rc = encode_value(c, d->elem, n)))
                return rc;
        }
        if (rc)
            return writer_fail(c, n);
        c->depth--;
        return BARE_OK;
    case BARE_KIND_LIST:
    case BARE_KIND_LIST_FIXED:
        return encode_list(c, d, n);
    case BARE_KIND_MAP:
        return encode_map(c, d, n);
    case BARE_KIND_UNION:
        return encode_union(c, d, n);
    case BARE_KIND_STRUCT:
        return encode_struct(c, d, n);
    default:
        return encode_scalar(c, d, n);
    }
}

int bare_yaml_to_bare(const bare_type_desc_t *type, const char *yaml, size_t len,
                      const bare_limits_t *limits, bare_writer_t *out, bare_error_t *err)
{
    bare_error_t local;
    yenc_t c;
    ynode_t *root = NULL;
    size_t start = out->len;

    if (!err)
        err = &local;
    bare_error_init(err);
    if (out->status)
        return bare_error_set(err, out->status, 0);
    if (!type || (!yaml && len))
        return bare_error_set(err, BARE_E_INVALID_ARGUMENT, 0);
    memset(&c, 0, sizeof c);
    bare_arena_init(&c.arena, out->fixed ? NULL : out->alloc, out->fixed ? NULL : out->ud);
    c.text = yaml ? yaml : "";
    c.len = len;
    c.out = out;
    c.err = err;
    c.max_depth = limits && limits->max_depth ? limits->max_depth : BARE_DEFAULT_MAX_DEPTH;
    int rc = build_tree(&c, &root);
    if (rc == BARE_OK && !root)
        rc = fail_at(&c, len, BARE_E_YAML_SYNTAX, "no YAML document");
    if (rc == BARE_OK)
        rc = encode_value(&c, type, root);
    if (rc != BARE_OK)
        out->len = start;
    bare_arena_free(&c.arena);
    return rc;
}
