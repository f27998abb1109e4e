/*
 * callbacks.c - RegisterHostCallbacks (reference protocol-core.md §4.6, tools.rs
 * register_host_callbacks): the request is validated field by field, checked against the VM's
 * other toolkits (name, aliases, capacity), stored, and its new aliases are written into the
 * guests' view; all of it or nothing. And the lookups the rest of the host callbacks use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "fs.h"
#include "log.h"
#include "sidecar.h"

/* A wire value in a message: quoted, control bytes escaped, its first 80 bytes. */
static const char *show(bare_str_t s, char *out, size_t cap)
{
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (i >= 80 || k + 8 >= cap) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

static void toolkit_free(sc_cb_toolkit_t *k)
{
    if (!k)
        return;
    free(k->name);
    for (size_t i = 0; i < k->naliases; i++)
        free(k->aliases[i]);
    free(k->aliases);
    for (size_t i = 0; i < k->nregistry; i++)
        free(k->registry[i]);
    free(k->registry);
    for (size_t i = 0; i < k->ntools; i++) {
        free(k->tools[i].name);
        json_decref(k->tools[i].schema);
    }
    free(k->tools);
    free(k);
}

/* ---- validation (tools.rs validate_toolkit_registration), each message naming the field
 * and the value ---- */

typedef struct vctx {
    char *msg;
    size_t len;
} vctx_t;

static int bad(vctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(vctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Toolkit and tool names: 1-64 bytes of [a-z0-9-]. */
static int check_name(vctx_t *c, const char *what, const char *field, bare_str_t s)
{
    char v[128];
    if (s.len > SC_CB_MAX_NAME)
        return bad(c, "invalid %s name %s (%s); max length is %d", what, show(s, v, sizeof v),
                   field, SC_CB_MAX_NAME);
    bool ok = s.len > 0;
    for (size_t i = 0; ok && i < s.len; i++)
        ok = (s.ptr[i] >= 'a' && s.ptr[i] <= 'z') || (s.ptr[i] >= '0' && s.ptr[i] <= '9') ||
             s.ptr[i] == '-';
    if (!ok)
        return bad(c,
                   "invalid %s name %s (%s); expected lowercase alphanumeric characters plus "
                   "hyphens",
                   what, show(s, v, sizeof v), field);
    return 0;
}

static int check_description(vctx_t *c, const char *label, const char *field, bare_str_t s)
{
    if (s.len > SC_CB_MAX_DESCRIPTION)
        return bad(c, "%s description is %zu characters, max is %d (%s)", label, s.len,
                   SC_CB_MAX_DESCRIPTION, field);
    return 0;
}

/* Aliases: non-empty, not . or .., no / or NUL, a file name, unique in their list. */
static int check_aliases(vctx_t *c, const char *label, const char *field, const sx_str_list_t *l)
{
    char v[128];
    for (size_t i = 0; i < l->len; i++) {
        bare_str_t s = l->items[i];
        const char *why = NULL;
        char size[64];
        if (s.len == 0)
            why = "must not be empty";
        else if (bare_str_eq_cstr(s, ".") || bare_str_eq_cstr(s, ".."))
            why = "must not be . or ..";
        else if (memchr(s.ptr, '/', s.len))
            why = "must not contain /";
        else if (memchr(s.ptr, '\0', s.len))
            why = "must not contain NUL";
        else if (s.len > SC_CB_MAX_ALIAS) {
            snprintf(size, sizeof size, "is %zu bytes; a command name is at most %d", s.len,
                     SC_CB_MAX_ALIAS);
            why = size;
        }
        if (why)
            return bad(c, "invalid host callback %s: %s (%s[%zu] %s)", label, show(s, v, sizeof v),
                       field, i, why);
        for (size_t j = 0; j < i; j++)
            if (l->items[j].len == s.len && memcmp(l->items[j].ptr, s.ptr, s.len) == 0)
                return bad(c, "duplicate host callback %s: %.*s (%s[%zu] repeats [%zu])", label,
                           (int)s.len, s.ptr, field, i, j);
    }
    return 0;
}

static int json_depth_ok(const json_t *v, size_t depth)
{
    if (depth > SC_CB_MAX_SCHEMA_DEPTH)
        return 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_depth_ok(json_array_get(v, i), depth + 1))
                return 0;
    } else if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            (void)key;
            if (!json_depth_ok(val, depth + 1))
                return 0;
        }
    }
    return 1;
}

/* Parses JSON text for label; its size (as serde_json writes it back) at most limit. */
static json_t *check_json(vctx_t *c, const char *label, bare_str_t text, size_t limit)
{
    json_error_t e;
    json_t *v = json_loadb(text.ptr, text.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v) {
        bad(c, "%s is invalid JSON: %s at line %d column %d", label, e.text, e.line, e.column);
        return NULL;
    }
    size_t len = 0;
    char *out = sc_json_text(v, &len);
    free(out);
    if (!out) {
        bad(c, "out of memory");
    } else if (len > limit) {
        bad(c, "%s is %zu bytes, max is %zu", label, len, limit);
    } else {
        return v;
    }
    json_decref(v);
    return NULL;
}

static char **copy_list(const sx_str_list_t *l, size_t *n)
{
    char **out = calloc(l->len ? l->len : 1, sizeof *out);
    *n = 0;
    for (size_t i = 0; out && i < l->len; i++) {
        if (!(out[i] = sc_strdup_str(l->items[i]))) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
        *n = i + 1;
    }
    return out;
}

/* Validates the request and builds its toolkit; NULL with the message in c. */
static sc_cb_toolkit_t *build(vctx_t *c, const sx_register_host_callbacks_request_t *v)
{
    char label[256], field[256], name[80];
    if (check_name(c, "toolkit", "name", v->name) != 0)
        return NULL;
    snprintf(name, sizeof name, "%.*s", (int)v->name.len, v->name.ptr);
    if (v->description.len == 0) {
        bad(c, "toolkit %s is missing a description (description is empty)", name);
        return NULL;
    }
    snprintf(label, sizeof label, "Toolkit \"%s\"", name);
    if (check_description(c, label, "description", v->description) != 0 ||
        check_aliases(c, "command alias", "commandAliases", &v->command_aliases) != 0 ||
        check_aliases(c, "registry command alias", "registryCommandAliases",
                      &v->registry_command_aliases) != 0)
        return NULL;
    for (size_t i = 0; i < v->command_aliases.len; i++) {
        bare_str_t a = v->command_aliases.items[i];
        for (size_t j = 0; j < v->registry_command_aliases.len; j++)
            if (bare_str_eq(a, v->registry_command_aliases.items[j])) {
                bad(c,
                    "host callback command alias must not also be a registry command alias: "
                    "%.*s (commandAliases[%zu], registryCommandAliases[%zu])",
                    (int)a.len, a.ptr, i, j);
                return NULL;
            }
    }
    const sx_str_registered_host_callback_definition_map_t *cbs = &v->callbacks;
    if (cbs->len == 0) {
        bad(c, "toolkit %s must define at least one tool (callbacks is empty)", name);
        return NULL;
    }
    if (cbs->len > SC_CB_MAX_TOOLS) {
        bad(c, "toolkit %s defines %zu tools, max is %d (callbacks)", name, cbs->len,
            SC_CB_MAX_TOOLS);
        return NULL;
    }
    sc_cb_toolkit_t *k = calloc(1, sizeof *k);
    if (!k || !(k->name = strdup(name)) || !(k->tools = calloc(cbs->len, sizeof *k->tools)) ||
        !(k->aliases = copy_list(&v->command_aliases, &k->naliases)) ||
        !(k->registry = copy_list(&v->registry_command_aliases, &k->nregistry))) {
        bad(c, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cbs->len; i++) {
        const sx_registered_host_callback_definition_t *d = &cbs->items[i].value;
        bare_str_t tname = cbs->items[i].key;
        if (check_name(c, "tool", "a key of callbacks", tname) != 0)
            goto fail;
        char tool[80];
        snprintf(tool, sizeof tool, "%.*s", (int)tname.len, tname.ptr);
        snprintf(label, sizeof label, "Tool \"%s/%s\"", name, tool);
        if (d->description.len == 0) {
            bad(c,
                "tool %s in toolkit %s is missing a description (callbacks[\"%s\"].description "
                "is empty)",
                tool, name, tool);
            goto fail;
        }
        snprintf(field, sizeof field, "callbacks[\"%s\"].description", tool);
        if (check_description(c, label, field, d->description) != 0)
            goto fail;
        snprintf(label, sizeof label, "Tool \"%s/%s\" input schema", name, tool);
        json_t *schema = check_json(c, label, d->input_schema, SC_CB_MAX_SCHEMA_BYTES);
        if (!schema)
            goto fail;
        sc_cb_tool_t *t = &k->tools[k->ntools++];
        t->schema = schema;
        if (!(t->name = strdup(tool))) {
            bad(c, "out of memory");
            goto fail;
        }
        if (!json_depth_ok(schema, 0)) {
            bad(c, "%s exceeds max JSON depth %d", label, SC_CB_MAX_SCHEMA_DEPTH);
            goto fail;
        }
        if (d->timeout_ms.present && d->timeout_ms.value > SC_CB_MAX_TIMEOUT_MS) {
            bad(c, "Tool \"%s/%s\" timeout is %llums, max is %dms (callbacks[\"%s\"].timeoutMs)",
                name, tool, (unsigned long long)d->timeout_ms.value, SC_CB_MAX_TIMEOUT_MS, tool);
            goto fail;
        }
        t->has_timeout = d->timeout_ms.present;
        t->timeout_ms = d->timeout_ms.value;
        if (d->examples.len > SC_CB_MAX_EXAMPLES) {
            bad(c, "Tool \"%s/%s\" defines %zu examples, max is %d (callbacks[\"%s\"].examples)",
                name, tool, d->examples.len, SC_CB_MAX_EXAMPLES, tool);
            goto fail;
        }
        for (size_t j = 0; j < d->examples.len; j++) {
            snprintf(label, sizeof label, "Tool \"%s/%s\" example %zu", name, tool, j);
            snprintf(field, sizeof field, "callbacks[\"%s\"].examples[%zu].description", tool, j);
            if (check_description(c, label, field, d->examples.items[j].description) != 0)
                goto fail;
            snprintf(label, sizeof label, "Tool \"%s/%s\" example %zu input", name, tool, j);
            json_t *in = check_json(c, label, d->examples.items[j].input, SC_CB_MAX_EXAMPLE_BYTES);
            if (!in)
                goto fail;
            json_decref(in); /* examples are for the host's agents; nothing here uses them */
        }
    }
    return k;
fail:
    toolkit_free(k);
    return NULL;
}

/* ---- the VM's toolkits ---- */

sc_callbacks_t *sc_callbacks_of(sc_vm_t *vm)
{
    if (!vm->callbacks) {
        vm->callbacks = calloc(1, sizeof *vm->callbacks);
        if (vm->callbacks)
            vm->callbacks->bin_fd = vm->callbacks->listen_fd = -1;
    }
    return vm->callbacks;
}

static bool listed(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

bool sc_callbacks_is_registry(const sc_callbacks_t *cb, const char *alias)
{
    for (size_t i = 0; cb && i < cb->nkits; i++)
        if (listed(cb->kits[i]->registry, cb->kits[i]->nregistry, alias))
            return true;
    return false;
}

const sc_cb_toolkit_t *sc_callbacks_toolkit_of(const sc_callbacks_t *cb, const char *alias)
{
    for (size_t i = 0; cb && i < cb->nkits; i++)
        if (listed(cb->kits[i]->aliases, cb->kits[i]->naliases, alias))
            return cb->kits[i];
    return NULL;
}

/* The stored string of alias when it is one of the VM's (command or registry). */
static const char *stored_alias(const sc_callbacks_t *cb, const char *alias)
{
    for (size_t i = 0; cb && i < cb->nkits; i++) {
        const sc_cb_toolkit_t *k = cb->kits[i];
        for (size_t j = 0; j < k->naliases; j++)
            if (strcmp(k->aliases[j], alias) == 0)
                return k->aliases[j];
        for (size_t j = 0; j < k->nregistry; j++)
            if (strcmp(k->registry[j], alias) == 0)
                return k->registry[j];
    }
    return NULL;
}

void sc_callbacks_each_alias(const sc_callbacks_t *cb, void (*fn)(void *ud, const char *alias),
                             void *ud)
{
    for (size_t i = 0; cb && i < cb->nkits; i++) {
        const sc_cb_toolkit_t *k = cb->kits[i];
        for (size_t j = 0; j < k->nregistry + k->naliases; j++) {
            const char *a = j < k->nregistry ? k->registry[j] : k->aliases[j - k->nregistry];
            /* the first toolkit (in name order) that has it reports it */
            if (stored_alias(cb, a) == a)
                fn(ud, a);
        }
    }
}

static void count_one(void *ud, const char *alias)
{
    (void)alias;
    (*(uint32_t *)ud)++;
}

const char *sc_callbacks_alias(const sc_vm_t *vm, const char *command)
{
    const sc_callbacks_t *cb = vm->callbacks;
    if (!cb || !cb->nkits)
        return NULL;
    if (!strchr(command, '/'))
        return stored_alias(cb, command);
    /* a path: its last component, when it lies in one of the directories the reference maps */
    char norm[SC_PATH_MAX + 1];
    size_t len = strlen(command);
    while (len > 1 && command[len - 1] == '/')
        len--;
    if ((len >= 3 && strncmp(command + len - 3, "/..", 3) == 0) ||
        sc_path_normalize(command, len, norm) != 0)
        return NULL;
    static const char prefix[] = "/__secure_exec/commands/";
    char *slash = strrchr(norm, '/');
    if (!slash || !slash[1])
        return NULL;
    bool known = strncmp(norm, prefix, sizeof prefix - 1) == 0;
    *slash = '\0';
    known = known || strcmp(norm, "/bin") == 0 || strcmp(norm, "/usr/bin") == 0 ||
            strcmp(norm, "/usr/local/bin") == 0;
    return known ? stored_alias(cb, slash + 1) : NULL;
}

/* Conflicts with the VM's other toolkits (tools.rs ensure_*): 0, or -1 with code and msg. */
static int check_conflicts(const sc_callbacks_t *cb, const sc_cb_toolkit_t *k, const char **code,
                           char *msg, size_t len)
{
    *code = "conflict";
    for (size_t i = 0; i < cb->nkits; i++)
        if (strcmp(cb->kits[i]->name, k->name) == 0) {
            snprintf(msg, len, "toolkit already registered: %s", k->name);
            return -1;
        }
    for (size_t i = 0; i < cb->nkits; i++) {
        const sc_cb_toolkit_t *o = cb->kits[i];
        for (size_t j = 0; j < o->naliases; j++)
            if (listed(k->aliases, k->naliases, o->aliases[j]) ||
                listed(k->registry, k->nregistry, o->aliases[j])) {
                snprintf(msg, len,
                         "host callback command alias already registered: %s (a command alias "
                         "of toolkit %s)",
                         o->aliases[j], o->name);
                return -1;
            }
        /* registry aliases may be shared, but never be another toolkit's command alias */
        for (size_t j = 0; j < o->nregistry; j++)
            if (listed(k->aliases, k->naliases, o->registry[j])) {
                snprintf(msg, len,
                         "host callback command alias already registered: %s (a registry "
                         "command alias of toolkit %s)",
                         o->registry[j], o->name);
                return -1;
            }
    }
    *code = "invalid_state";
    if (cb->nkits >= SC_CB_MAX_TOOLKITS) {
        snprintf(msg, len, "VM already has %zu registered toolkits, max is %d", cb->nkits,
                 SC_CB_MAX_TOOLKITS);
        return -1;
    }
    if (cb->ntools + k->ntools > SC_CB_MAX_TOOLS_PER_VM) {
        snprintf(msg, len, "VM would have %zu registered host callbacks, max is %d",
                 cb->ntools + k->ntools, SC_CB_MAX_TOOLS_PER_VM);
        return -1;
    }
    return 0;
}

/* Takes k out of the VM's list again (a registration that failed half-way). */
static void unlink_kit(sc_callbacks_t *cb, const sc_cb_toolkit_t *k)
{
    for (size_t i = 0; i < cb->nkits; i++)
        if (cb->kits[i] == k) {
            memmove(cb->kits + i, cb->kits + i + 1, (cb->nkits - i - 1) * sizeof *cb->kits);
            cb->nkits--;
            cb->ntools -= k->ntools;
            return;
        }
}

void sc_handle_register_host_callbacks(sc_req_t *req, const sx_register_host_callbacks_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    char msg[1024];
    vctx_t c = {msg, sizeof msg};
    sc_cb_toolkit_t *k = build(&c, v);
    if (!k) {
        sc_reject(req, "invalid_state", "%s", msg);
        return;
    }
    sc_callbacks_t *cb = sc_callbacks_of(vm);
    const char *code;
    sc_cb_toolkit_t **kits = cb ? realloc(cb->kits, (cb->nkits + 1) * sizeof *kits) : NULL;
    if (!kits) {
        toolkit_free(k);
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    cb->kits = kits;
    if (check_conflicts(cb, k, &code, msg, sizeof msg) != 0) {
        toolkit_free(k);
        sc_reject(req, code, "%s", msg);
        return;
    }
    /* the aliases no other toolkit has yet become commands in the guests' view */
    size_t n = k->naliases + k->nregistry, ndone = 0;
    const char **fresh = calloc(n ? n : 1, sizeof *fresh);
    if (!fresh) {
        toolkit_free(k);
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    for (size_t i = 0; i < k->nregistry; i++)
        if (!stored_alias(cb, k->registry[i]))
            fresh[ndone++] = k->registry[i];
    for (size_t i = 0; i < k->naliases; i++)
        fresh[ndone++] = k->aliases[i];
    size_t at = 0;
    while (at < cb->nkits && strcmp(cb->kits[at]->name, k->name) < 0)
        at++;
    memmove(cb->kits + at + 1, cb->kits + at, (cb->nkits - at) * sizeof *cb->kits);
    cb->kits[at] = k;
    cb->nkits++;
    cb->ntools += k->ntools;
    char why[512];
    for (size_t i = 0; i < ndone; i++) {
        if (sc_cb_view_install(vm, fresh[i], why, sizeof why) == 0)
            continue;
        /* rollback: the files this request wrote, then the toolkit */
        for (size_t j = 0; j < i; j++)
            sc_cb_view_uninstall(vm, fresh[j]);
        unlink_kit(cb, k);
        sc_warn("%s: toolkit %s: %s", vm->id, k->name, why);
        sc_reject(req, "invalid_state", "cannot install the command %s of toolkit %s: %s", fresh[i],
                  k->name, why);
        toolkit_free(k);
        free(fresh);
        return;
    }
    free(fresh);
    uint32_t count = 0;
    sc_callbacks_each_alias(cb, count_one, &count);
    sc_info("%s: toolkit %s registered (%zu tools; the VM has %u commands)", vm->id, k->name,
            k->ntools, count);
    sx_response_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_RESPONSE_PAYLOAD_TAG_HOST_CALLBACKS_REGISTERED_RESPONSE;
    p.u.host_callbacks_registered_response.registration = bare_str_from_cstr(k->name);
    p.u.host_callbacks_registered_response.command_count = count;
    sc_respond(req, &p);
}

void sc_callbacks_vm_gone(sc_server_t *srv, sc_vm_t *vm)
{
    sc_callbacks_t *cb = vm->callbacks;
    if (!cb)
        return;
    sc_cb_serve_stop(srv, vm);
    sc_cb_view_close(vm);
    for (size_t i = 0; i < cb->nkits; i++)
        toolkit_free(cb->kits[i]);
    free(cb->kits);
    free(cb);
    vm->callbacks = NULL;
}
