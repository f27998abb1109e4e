/*
 * toolinput.c - what a host callback command's arguments come to (reference tools.rs
 * resolve_tool_command): a registry alias sends {"type":"command",...}; a toolkit alias names
 * a tool, needs tool.invoke on "<toolkit>:<tool>", and takes its input from --json, from
 * --json-file (read by the program, inside the VM) or from --kebab-flag pairs mapped through
 * the tool's inputSchema, then checked against that schema. Failures never reach the host.
 *
 * JSON goes out as serde_json writes it (the reference's own serializer, without
 * preserve_order): compact, object keys sorted by their bytes, floats in their shortest form,
 * so hosts see the same text from both sidecars.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callbacks.h"
#include "fs.h"
#include "sidecar.h"

/* ---- JSON out ---- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    bool oom;
} jbuf_t;

static void jb_put(jbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_str(jbuf_t *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

/* serde_json's escapes: the two that must be, the short ones, \u00xx for other controls. */
static void write_string(jbuf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jb_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
        } else if (c < 0x20) {
            /* \b \t \n \f \r by their letters (the table's non-zero entries) */
            static const char letter[32] = {
                ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
            esc[0] = '\\';
            esc[1] = letter[c];
            if (!letter[c]) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
            }
        } else {
            continue;
        }
        jb_put(b, s + run, i - run);
        jb_put(b, esc, elen);
        run = i + 1;
    }
    jb_put(b, s + run, n - run);
    jb_put(b, "\"", 1);
}

/*
 * A double as ryu (serde_json's float writer) prints it: the shortest digits that read back
 * as the same value, then plain notation while the decimal point is within 16 digits
 * ("1000.0", "0.001"), otherwise "1e21", "1.5e-7".
 */
static void write_real(jbuf_t *b, double d)
{
    char sci[40], out[64];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci: [-]D[.DDD]e(+|-)XX */
    const char *p = sci;
    size_t k = 0;
    if (*p == '-')
        out[k++] = *p++;
    char digits[24];
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    long e10 = *p == 'e' ? strtol(p + 1, NULL, 10) : 0;
    long len = (long)n, kk = e10 + 1, exp10 = kk - len; /* value = digits * 10^exp10 */
    if (exp10 >= 0 && kk <= 16) {
        memcpy(out + k, digits, n);
        k += n;
        for (long i = len; i < kk; i++)
            out[k++] = '0';
        memcpy(out + k, ".0", 2);
        k += 2;
    } else if (kk > 0 && kk <= 16) {
        memcpy(out + k, digits, (size_t)kk);
        k += (size_t)kk;
        out[k++] = '.';
        memcpy(out + k, digits + kk, n - (size_t)kk);
        k += n - (size_t)kk;
    } else if (kk > -5 && kk <= 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (long i = kk; i < 0; i++)
            out[k++] = '0';
        memcpy(out + k, digits, n);
        k += n;
    } else {
        out[k++] = digits[0];
        if (n > 1) {
            out[k++] = '.';
            memcpy(out + k, digits + 1, n - 1);
            k += n - 1;
        }
        k += (size_t)snprintf(out + k, sizeof out - k, "e%ld", kk - 1);
    }
    jb_put(b, out, k);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted (malloc'd; NULL when empty or out of memory: *n says). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    if (*n == 0)
        return NULL;
    const char **keys = malloc(*n * sizeof *keys);
    if (!keys) {
        *n = 0;
        return NULL;
    }
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)o, key, val)
    {
        (void)val;
        keys[i++] = key;
    }
    qsort(keys, *n, sizeof *keys, cmp_key);
    return keys;
}

static void write_value(jbuf_t *b, const json_t *v)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n;
        const char **keys = sorted_keys(v, &n);
        if (n && !keys)
            b->oom = true;
        jb_put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                jb_put(b, ",", 1);
            write_string(b, keys[i], strlen(keys[i]));
            jb_put(b, ":", 1);
            write_value(b, json_object_get(v, keys[i]));
        }
        jb_put(b, "}", 1);
        free(keys);
        break;
    }
    case JSON_ARRAY:
        jb_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                jb_put(b, ",", 1);
            write_value(b, json_array_get(v, i));
        }
        jb_put(b, "]", 1);
        break;
    case JSON_STRING:
        write_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        jb_str(b, num);
        break;
    case JSON_REAL:
        write_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        jb_str(b, "true");
        break;
    case JSON_FALSE:
        jb_str(b, "false");
        break;
    case JSON_NULL:
        jb_str(b, "null");
        break;
    }
}

char *sc_json_text(const json_t *v, size_t *len)
{
    jbuf_t b = {0};
    write_value(&b, v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

/* JSON in: any value, NUL allowed in strings (as serde_json takes it). */
static json_t *parse(const char *text, size_t len, char *why, size_t whylen)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        snprintf(why, whylen, "%s at line %d column %d", e.text, e.line, e.column);
    return v;
}

char *sc_cb_result_text(const char *result, size_t len, size_t *outlen)
{
    char why[200];
    json_t *v = parse(result, len, why, sizeof why);
    if (!v)
        v = json_stringn(result, len);
    json_t *o = json_object();
    char *text = NULL;
    if (v && o && json_object_set_new(o, "ok", json_true()) == 0 &&
        json_object_set(o, "result", v) == 0)
        text = sc_json_text(o, outlen);
    json_decref(v);
    json_decref(o);
    return text;
}

/* ---- resolution ---- */

static int fail(sc_cb_invocation_t *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sc_cb_invocation_t *out, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out->failure, fmt, ap);
    va_end(ap);
    if (n < 0) {
        out->failure = NULL;
        return -1;
    }
    out->exit_code = code;
    return 0;
}

/* A string of guest bytes as JSON: invalid UTF-8 becomes U+FFFD, as Rust's lossy conversion. */
static json_t *guest_string(const char *s, size_t n)
{
    if (bare_utf8_valid(s, n))
        return json_stringn(s, n);
    char *t = malloc(3 * n + 1);
    size_t k = 0;
    if (!t)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (l == 1 || (i + l <= n && bare_utf8_valid(s + i, l))) {
            memcpy(t + k, s + i, l);
            k += l;
            i += l;
        } else {
            memcpy(t + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    json_t *v = json_stringn(t, k);
    free(t);
    return v;
}

static const char *schema_type(const json_t *schema)
{
    const json_t *t = json_is_object(schema) ? json_object_get(schema, "type") : NULL;
    return json_is_string(t) ? json_string_value(t) : NULL;
}

static bool type_is(const json_t *schema, const char *type)
{
    const char *t = schema_type(schema);
    return t && strcmp(t, type) == 0;
}

/* camelCase -> camel-case (every ASCII capital but a leading one gets a hyphen). */
static char *kebab(const char *name)
{
    char *out = malloc(2 * strlen(name) + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (const char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            if (p != name)
                out[k++] = '-';
            out[k++] = (char)(*p - 'A' + 'a');
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    return out;
}

/* Rust's i64::from_str: an optional sign, then decimal digits, in range. */
static bool parse_i64(const char *s, json_int_t *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = (json_int_t)v;
    return true;
}

/* Rust's f64::from_str grammar (decimal digits with an optional point and exponent, or
 * inf/infinity/nan); 1 finite, 0 not a number, -1 not finite. */
static int parse_f64(const char *s, double *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 || strcasecmp(p, "nan") == 0)
        return -1;
    size_t digits = 0;
    const char *q = p;
    for (; *q >= '0' && *q <= '9'; q++)
        digits++;
    if (*q == '.')
        for (q++; *q >= '0' && *q <= '9'; q++)
            digits++;
    if (!digits)
        return 0;
    if (*q == 'e' || *q == 'E') {
        q++;
        q += *q == '+' || *q == '-';
        if (!(*q >= '0' && *q <= '9'))
            return 0;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q)
        return 0;
    *out = strtod(s, NULL);
    return isfinite(*out) ? 1 : -1;
}

/* One flag's value, as the field's type (an array's items' type) says. */
static json_t *flag_value(sc_cb_invocation_t *out, const char *raw, const json_t *field,
                          const char *value, int *rc)
{
    const json_t *items = json_is_object(field) ? json_object_get(field, "items") : NULL;
    const json_t *item = type_is(field, "array") && items ? items : field;
    const char *t = schema_type(item);
    if (t && strcmp(t, "integer") == 0) {
        json_int_t v;
        if (!parse_i64(value, &v)) {
            *rc = fail(out, 1, "Flag --%s expects an integer, got \"%s\"", raw, value);
            return NULL;
        }
        return json_integer(v);
    }
    if (t && strcmp(t, "number") == 0) {
        double d;
        int r = parse_f64(value, &d);
        if (r <= 0) {
            *rc = fail(out, 1,
                       r < 0 ? "Flag --%s expects a finite number, got \"%s\""
                             : "Flag --%s expects a number, got \"%s\"",
                       raw, value);
            return NULL;
        }
        return json_real(d);
    }
    if (t && strcmp(t, "boolean") == 0) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            *rc = fail(out, 1, "Flag --%s expects a boolean, got \"%s\"", raw, value);
            return NULL;
        }
        return json_boolean(strcmp(value, "true") == 0);
    }
    return guest_string(value, strlen(value));
}

/* The property whose kebab-case name is name (the last in key order, as a BTreeMap built from
 * them keeps); NULL when none. -1 in *rc when out of memory. */
static const char *find_flag(const json_t *props, const char *name, int *rc)
{
    size_t n;
    const char **keys = sorted_keys(props, &n);
    const char *found = NULL;
    if (n && !keys) {
        *rc = -1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char *k = kebab(keys[i]);
        if (!k) {
            *rc = -1;
            break;
        }
        if (strcmp(k, name) == 0)
            found = keys[i];
        free(k);
    }
    free(keys);
    return found;
}

/* --kebab-flag value pairs through the schema (tools.rs parse_toolkit_command_flags). */
static json_t *parse_flags(sc_cb_invocation_t *out, const json_t *schema, const char *const *args,
                           size_t n, int *rc)
{
    const json_t *props = json_is_object(schema) ? json_object_get(schema, "properties") : NULL;
    if (!type_is(schema, "object") || !json_is_object(props)) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < n; i++)
            if (json_array_append_new(list, guest_string(args[i], strlen(args[i]))) != 0) {
                json_decref(list);
                list = NULL;
            }
        json_t *o = list ? json_object() : NULL;
        if (o && json_object_set_new(o, "args", list) == 0)
            return o;
        json_decref(o);
        *rc = -1;
        return NULL;
    }
    json_t *input = json_object();
    if (!input) {
        *rc = -1;
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        const char *arg = args[i];
        if (strncmp(arg, "--", 2) != 0) {
            *rc = fail(out, 1, "Unexpected positional argument: \"%s\"", arg);
            goto bad;
        }
        const char *raw = arg + 2;
        bool negated = strncmp(raw, "no-", 3) == 0;
        const char *field = find_flag(props, negated ? raw + 3 : raw, rc);
        if (*rc)
            goto bad;
        const json_t *fs = field ? json_object_get(props, field) : NULL;
        if (!field || (negated && !type_is(fs, "boolean"))) {
            *rc = fail(out, 1, "Unknown flag: --%s", raw);
            goto bad;
        }
        if (type_is(fs, "boolean")) {
            if (json_object_set_new(input, field, json_boolean(!negated)) != 0)
                goto oom;
            i++;
            continue;
        }
        if (i + 1 >= n) {
            *rc = fail(out, 1, "Flag --%s requires a value", raw);
            goto bad;
        }
        json_t *v = flag_value(out, raw, fs, args[i + 1], rc);
        if (!v) {
            if (*rc == 0 && !out->failure)
                goto oom;
            goto bad;
        }
        if (type_is(fs, "array")) {
            json_t *list = json_object_get(input, field);
            if (!list) {
                list = json_array();
                if (!list || json_object_set_new(input, field, list) != 0) {
                    json_decref(v);
                    goto oom;
                }
            }
            if (!json_is_array(list)) {
                json_decref(v);
                *rc = fail(out, 1, "Flag --%s cannot be repeated", raw);
                goto bad;
            }
            if (json_array_append_new(list, v) != 0)
                goto oom;
        } else if (json_object_set_new(input, field, v) != 0) {
            goto oom;
        }
        i += 2;
    }
    /* required flags, in sorted order as a BTreeSet walks them */
    const json_t *req = json_object_get(schema, "required");
    size_t nreq = json_is_array(req) ? json_array_size(req) : 0;
    const char **names = nreq ? malloc(nreq * sizeof *names) : NULL;
    size_t k = 0;
    if (nreq && !names)
        goto oom;
    for (size_t i = 0; i < nreq; i++)
        if (json_is_string(json_array_get(req, i)))
            names[k++] = json_string_value(json_array_get(req, i));
    if (k) /* names is NULL without required names: qsort must not get NULL */
        qsort(names, k, sizeof *names, cmp_key);
    for (size_t i = 0; i < k; i++) {
        if (json_object_get(input, names[i]))
            continue;
        char *flag = kebab(names[i]);
        *rc = flag ? fail(out, 1, "Missing required flag: --%s", flag) : -1;
        free(flag);
        free(names);
        goto bad;
    }
    free(names);
    return input;
oom:
    *rc = -1;
bad:
    json_decref(input);
    return NULL;
}

/* The input's check against the schema (tools.rs validate_tool_input_schema); 0 when it
 * passes, else a failure (or -1). */
static int check_input(sc_cb_invocation_t *out, const json_t *schema, const json_t *input)
{
    if (!type_is(schema, "object"))
        return 0;
    if (!json_is_object(input))
        return fail(out, 1, "ToolInputSchemaViolation at $: expected object") ? -1 : 1;
    const json_t *req = json_object_get(schema, "required");
    for (size_t i = 0; json_is_array(req) && i < json_array_size(req); i++) {
        const json_t *name = json_array_get(req, i);
        if (json_is_string(name) && !json_object_get(input, json_string_value(name)))
            return fail(out, 1, "ToolInputSchemaViolation at $.%s: missing required property",
                        json_string_value(name))
                       ? -1
                       : 1;
    }
    const json_t *props = json_object_get(schema, "properties");
    if (!json_is_object(props))
        props = NULL;
    size_t n;
    const char **keys = props ? sorted_keys(props, &n) : NULL;
    if (props && n && !keys)
        return -1;
    for (size_t i = 0; props && i < n; i++) {
        const json_t *v = json_object_get(input, keys[i]);
        const char *t = schema_type(json_object_get(props, keys[i]));
        if (!v || !t)
            continue;
        bool ok = strcmp(t, "array") == 0     ? json_is_array(v)
                  : strcmp(t, "boolean") == 0 ? json_is_boolean(v)
                  : strcmp(t, "integer") == 0 ? json_is_integer(v)
                  : strcmp(t, "number") == 0  ? json_is_number(v)
                  : strcmp(t, "object") == 0  ? json_is_object(v)
                  : strcmp(t, "string") == 0  ? json_is_string(v)
                                              : true;
        if (!ok) {
            int rc = fail(out, 1, "ToolInputSchemaViolation at $.%s: expected %s", keys[i], t);
            free(keys);
            return rc ? -1 : 1;
        }
    }
    free(keys);
    if (json_is_false(json_object_get(schema, "additionalProperties"))) {
        const char **in = sorted_keys(input, &n);
        if (n && !in)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (props && json_object_get(props, in[i]))
                continue;
            int rc = fail(out, 1, "ToolInputSchemaViolation at $.%s: unexpected property", in[i]);
            free(in);
            return rc ? -1 : 1;
        }
        free(in);
    }
    return 0;
}

/* The tool's input from its arguments (tools.rs parse_toolkit_command_input). */
static json_t *tool_input(sc_cb_invocation_t *out, const sc_cb_tool_t *tool,
                          const sc_cb_call_t *call, int *rc)
{
    const char *const *args = call->args + 1;
    size_t n = call->nargs - 1;
    char why[300];
    if (n == 0) {
        json_t *o = json_object();
        if (!o)
            *rc = -1;
        return o;
    }
    if (n == 2 && strcmp(args[0], "--json") == 0) {
        json_t *v = parse(args[1], strlen(args[1]), why, sizeof why);
        if (!v)
            *rc = fail(out, 1, "invalid --json tool input: %s", why);
        return v;
    }
    if (n == 2 && strcmp(args[0], "--json-file") == 0) {
        const char *path = args[1];
        if (!call->has_file) {
            *rc = fail(out, 1, "failed to read --json-file %s: the command did not send it", path);
            return NULL;
        }
        if (call->file_err) {
            *rc = fail(out, 1, "failed to read --json-file %s: %s: %s", path,
                       sc_errno_name(call->file_err), sc_errno_text(call->file_err));
            return NULL;
        }
        if (!bare_utf8_valid(call->file, call->file_len)) {
            *rc = fail(out, 1, "invalid UTF-8 in --json-file %s", path);
            return NULL;
        }
        json_t *v = parse((const char *)call->file, call->file_len, why, sizeof why);
        if (!v)
            *rc = fail(out, 1, "invalid JSON in --json-file %s: %s", path, why);
        return v;
    }
    return parse_flags(out, tool->schema, args, n, rc);
}

static int set_input(sc_cb_invocation_t *out, json_t *input)
{
    out->input = input ? sc_json_text(input, NULL) : NULL;
    json_decref(input);
    return out->input ? 0 : -1;
}

int sc_cb_resolve(const sc_vm_t *vm, const sc_cb_call_t *call, sc_cb_invocation_t *out)
{
    const sc_callbacks_t *cb = vm->callbacks;
    memset(out, 0, sizeof *out);
    out->exit_code = 1;
    if (cb && sc_callbacks_is_registry(cb, call->alias)) {
        /* the alias goes to the host with its arguments as they are; the longest timeout of
         * the toolkits that share it */
        out->timeout_ms = 0;
        bool any = false;
        for (size_t i = 0; i < cb->nkits; i++) {
            const sc_cb_toolkit_t *k = cb->kits[i];
            bool has = false;
            for (size_t j = 0; j < k->nregistry && !has; j++)
                has = strcmp(k->registry[j], call->alias) == 0;
            for (size_t j = 0; has && j < k->ntools; j++)
                if (k->tools[j].has_timeout && (!any || k->tools[j].timeout_ms > out->timeout_ms)) {
                    out->timeout_ms = k->tools[j].timeout_ms;
                    any = true;
                }
        }
        if (!any)
            out->timeout_ms = SC_CB_DEFAULT_TIMEOUT_MS;
        out->key = strdup(call->alias);
        json_t *o = json_object(), *list = json_array();
        bool ok = o && list && out->key;
        for (size_t i = 0; ok && i < call->nargs; i++)
            ok = json_array_append_new(list, guest_string(call->args[i], strlen(call->args[i]))) ==
                 0;
        ok = ok && json_object_set_new(o, "type", json_string("command")) == 0 &&
             json_object_set_new(o, "command", json_string(call->alias)) == 0 &&
             json_object_set(o, "args", list) == 0 &&
             json_object_set_new(o, "cwd", guest_string(call->cwd, strlen(call->cwd))) == 0;
        json_decref(list);
        if (!ok) {
            json_decref(o);
            return -1;
        }
        return set_input(out, o);
    }
    const sc_cb_toolkit_t *kit = cb ? sc_callbacks_toolkit_of(cb, call->alias) : NULL;
    if (!kit)
        return fail(out, 127, "%s: not a host callback command of this VM", call->alias);
    if (call->nargs == 0)
        return fail(out, 1, "toolkit command %s requires a tool name", kit->name);
    const char *tool_name = call->args[0];
    const sc_cb_tool_t *tool = NULL;
    for (size_t i = 0; i < kit->ntools && !tool; i++)
        if (strcmp(kit->tools[i].name, tool_name) == 0)
            tool = &kit->tools[i];
    if (asprintf(&out->key, "%s:%s", kit->name, tool_name) < 0) {
        out->key = NULL;
        return -1;
    }
    if (!tool)
        return fail(out, 1, "unknown tool callback %s", out->key);
    /* tool.invoke must be allowed; ask counts as deny */
    if (!sc_policy_allows(&vm->policy, SC_DOMAIN_TOOL, "invoke", out->key, NULL, 0))
        return fail(out, 1, "blocked by tool.invoke policy for %s", out->key);
    int rc = 0;
    json_t *input = tool_input(out, tool, call, &rc);
    if (!input)
        return out->failure || rc ? rc : -1;
    rc = check_input(out, tool->schema, input);
    if (rc != 0) {
        json_decref(input);
        return rc < 0 ? -1 : 0;
    }
    out->timeout_ms = tool->has_timeout ? tool->timeout_ms : SC_CB_DEFAULT_TIMEOUT_MS;
    return set_input(out, input);
}

void sc_cb_invocation_free(sc_cb_invocation_t *inv)
{
    free(inv->key);
    free(inv->input);
    free(inv->failure);
    memset(inv, 0, sizeof *inv);
}
