/*
 * fuzz_toolinput.c - a guest's host callback command through sc_cb_resolve()
 * (sidecar/host/toolinput.c), which turns its arguments into the tool's input JSON through the
 * tool's inputSchema, and a host's result through sc_cb_result_text().
 *
 * The first byte holds options: bits 0-1 what the program sent of a --json-file (nothing, the
 * last part below, errno ENOENT, an errno no table knows), bit 2 a tool.invoke policy of "ask"
 * (which denies), bit 3 a timeout on the tool, bit 4 that the rest is a host's result text
 * instead. The rest, split at NUL bytes: the inputSchema of tool "tool" (parsed and limited as
 * RegisterHostCallbacks does), the alias, the cwd, then the arguments (the tool name first).
 * The VM has toolkit "kit" (aliases "kit" and "k", registry aliases "reg" and "both", tool
 * "tool") and toolkit "more" (alias "more", registry alias "both", tool "t" with a 5 s timeout).
 *
 * No crash, no leak; resolving is deterministic. Either a failure (exit code 127 exactly for an
 * alias that is not the VM's, else 1; a message) or input JSON that parses back, is in its
 * canonical form (sorted keys, as serde_json writes it: printed again it is the same text), has
 * the timeout of its tool (the longest of the toolkits for a registry alias) and the key
 * "kit:TOOL" (the alias for a registry alias). An input satisfies the schema (required,
 * property types, additionalProperties false); --json and --json-file give exactly their JSON
 * when it satisfies the schema and a ToolInputSchemaViolation when not; flags give only
 * properties of the schema, each of its type, or {"args": [...]} for a schema without
 * properties; a registry alias gives {"type": "command", "command", "args", "cwd"}. A host's
 * result becomes {"ok": true, "result": R}, R its JSON or, when it is not JSON, the text.
 */
#include <errno.h>

#include "callbacks.h"
#include "fuzz.h"
#include "sidecar.h"

#define TOOL_TIMEOUT 1234
#define MORE_TIMEOUT 5000

static sc_cb_tool_t kit_tools[] = {{(char *)"tool", NULL, false, TOOL_TIMEOUT}};
static sc_cb_tool_t more_tools[] = {{(char *)"t", NULL, true, MORE_TIMEOUT}};
static char *kit_aliases[] = {(char *)"kit", (char *)"k"};
static char *kit_registry[] = {(char *)"reg", (char *)"both"};
static char *more_aliases[] = {(char *)"more"};
static char *more_registry[] = {(char *)"both"};
static sc_cb_toolkit_t kit = {(char *)"kit", kit_aliases, 2, kit_registry, 2, kit_tools, 1};
static sc_cb_toolkit_t more = {(char *)"more", more_aliases, 1, more_registry, 1, more_tools, 1};
static sc_cb_toolkit_t *kits[] = {&kit, &more}; /* sorted by name */

static const json_t *schema_of(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static bool type_is(const json_t *schema, const char *type)
{
    const json_t *t = schema_of(schema, "type");
    return json_is_string(t) && strcmp(json_string_value(t), type) == 0;
}

/* What RegisterHostCallbacks allows of an inputSchema: nesting at most 32 deep. */
static bool depth_ok(const json_t *v, int depth)
{
    if (depth > SC_CB_MAX_SCHEMA_DEPTH)
        return false;
    const char *key;
    json_t *val;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, key, val)
        {
            if (!depth_ok(val, depth + 1))
                return false;
        }
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
        if (!depth_ok(json_array_get(v, i), depth + 1))
            return false;
    return true;
}

/* Whether v is of a property's JSON Schema type (a type this check does not know: anything). */
static bool of_type(const json_t *v, const char *t)
{
    return strcmp(t, "array") == 0     ? json_is_array(v)
           : strcmp(t, "boolean") == 0 ? json_is_boolean(v)
           : strcmp(t, "integer") == 0 ? json_is_integer(v)
           : strcmp(t, "number") == 0  ? json_is_number(v)
           : strcmp(t, "object") == 0  ? json_is_object(v)
           : strcmp(t, "string") == 0  ? json_is_string(v)
                                       : true;
}

/* The reference's check of an input against an object schema: required properties, the type of
 * each property that has one, no other properties when additionalProperties is false. */
static bool satisfies(const json_t *schema, const json_t *input)
{
    if (!type_is(schema, "object"))
        return true;
    if (!json_is_object(input))
        return false;
    const json_t *req = schema_of(schema, "required"), *props = schema_of(schema, "properties");
    for (size_t i = 0; json_is_array(req) && i < json_array_size(req); i++) {
        const json_t *name = json_array_get(req, i);
        if (json_is_string(name) && !json_object_get(input, json_string_value(name)))
            return false;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)input, key, val)
    {
        const json_t *p = json_is_object(props) ? json_object_get(props, key) : NULL;
        const json_t *t = schema_of(p, "type");
        if (json_is_string(t) && !of_type(val, json_string_value(t)))
            return false;
        if (!p && json_is_false(schema_of(schema, "additionalProperties")))
            return false;
    }
    return true;
}

/* A flag's value as the schema types it: the items' type for an array. */
static bool flag_typed(const json_t *v, const json_t *field)
{
    const json_t *t = schema_of(field, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : "";
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(type, "number") == 0)
        return json_is_real(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    return json_is_string(v);
}

/* A guest string in the JSON: the same bytes when they are UTF-8 (else with U+FFFD). */
static void check_guest_string(const json_t *v, const char *s, const char *what)
{
    FUZZ_CHECK(json_is_string(v), "%s is not a string", what);
    if (bare_utf8_valid(s, strlen(s)))
        FUZZ_CHECK(json_string_length(v) == strlen(s) &&
                       memcmp(json_string_value(v), s, strlen(s)) == 0,
                   "%s is not the guest's string \"%s\"", what, s);
    else
        FUZZ_CHECK(strstr(json_string_value(v), "\xef\xbf\xbd") != NULL,
                   "%s of bytes that are not UTF-8 has no U+FFFD", what);
}

/* JSON text as the sidecar writes it: parses back, and printed again it is the same text. */
static json_t *parse_canonical(const char *text, size_t len, const char *what)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    FUZZ_CHECK(v != NULL, "%s does not parse back: %s: %.*s", what, e.text, (int)len, text);
    size_t n = 0;
    char *again = sc_json_text(v, &n);
    FUZZ_CHECK(again != NULL, "out of memory");
    FUZZ_CHECK(n == len && memcmp(again, text, len) == 0,
               "%s is not in its canonical form: %.*s printed again is %s", what, (int)len, text,
               again);
    free(again);
    return v;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_result_text(const char *text, size_t len)
{
    if (!bare_utf8_valid(text, len)) /* a wire string: always UTF-8 */
        return;
    size_t n = 0;
    char *out = sc_cb_result_text(text, len, &n);
    FUZZ_CHECK(out != NULL, "no stdout for a host result");
    FUZZ_CHECK(strlen(out) == n, "the stdout has a NUL byte or a wrong length");
    json_t *v = parse_canonical(out, n, "the stdout of a host result");
    FUZZ_CHECK(json_is_object(v) && json_object_size(v) == 2 &&
                   json_is_true(json_object_get(v, "ok")),
               "the stdout of a host result is not {\"ok\": true, \"result\": R}: %s", out);
    const json_t *r = json_object_get(v, "result");
    json_error_t e;
    json_t *want = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (want)
        FUZZ_CHECK(json_equal(r, want), "the result in the stdout is not the host's JSON");
    else
        FUZZ_CHECK(json_is_string(r) && json_string_length(r) == len &&
                       memcmp(json_string_value(r), text, len) == 0,
                   "a result that is not JSON is not passed on as a string");
    json_decref(want);
    json_decref(v);
    free(out);
}

/* The toolkit whose command alias is alias, or NULL. */
static const sc_cb_toolkit_t *toolkit_of(const char *alias)
{
    for (size_t i = 0; i < sizeof kits / sizeof kits[0]; i++)
        for (size_t j = 0; j < kits[i]->naliases; j++)
            if (strcmp(kits[i]->aliases[j], alias) == 0)
                return kits[i];
    return NULL;
}

/* What resolving call must give (inv: its resolution, a failure or not). */
static void check_invocation(const sc_cb_call_t *call, bool asks, const sc_cb_invocation_t *inv)
{
    bool registry = strcmp(call->alias, "reg") == 0 || strcmp(call->alias, "both") == 0;
    const sc_cb_toolkit_t *k = toolkit_of(call->alias);
    FUZZ_CHECK(!inv->failure != !inv->input, "a resolution with %s",
               inv->failure ? "both a failure and an input" : "neither failure nor input");
    if (inv->failure) {
        FUZZ_CHECK(inv->failure[0] != '\0', "a failure without a message");
        FUZZ_CHECK(inv->exit_code == (registry || k ? 1 : 127),
                   "exit code %d for a failure of alias \"%s\": %s", inv->exit_code, call->alias,
                   inv->failure);
    }
    if (!registry && !k) {
        FUZZ_CHECK(inv->failure && !inv->key, "alias \"%s\" is not the VM's, yet it resolves",
                   call->alias);
        return;
    }
    if (registry) {
        FUZZ_CHECK(inv->input && inv->key && strcmp(inv->key, call->alias) == 0,
                   "registry alias %s does not resolve to itself", call->alias);
        uint64_t want = strcmp(call->alias, "both") == 0 ? MORE_TIMEOUT
                        : kit_tools[0].has_timeout       ? TOOL_TIMEOUT
                                                         : SC_CB_DEFAULT_TIMEOUT_MS;
        FUZZ_CHECK(inv->timeout_ms == want, "registry alias %s has timeout %llu, not %llu",
                   call->alias, (unsigned long long)inv->timeout_ms, (unsigned long long)want);
        json_t *v = parse_canonical(inv->input, strlen(inv->input), "a registry input");
        const json_t *type = json_object_get(v, "type"), *args = json_object_get(v, "args");
        FUZZ_CHECK(json_object_size(v) == 4 && json_is_string(type) &&
                       strcmp(json_string_value(type), "command") == 0 && json_is_array(args) &&
                       json_array_size(args) == call->nargs,
                   "a registry input is not {type, command, args, cwd}: %s", inv->input);
        check_guest_string(json_object_get(v, "command"), call->alias, "the command");
        check_guest_string(json_object_get(v, "cwd"), call->cwd, "the cwd");
        for (size_t i = 0; i < call->nargs; i++)
            check_guest_string(json_array_get(args, i), call->args[i], "an argument");
        json_decref(v);
        return;
    }
    if (call->nargs == 0) {
        FUZZ_CHECK(inv->failure && !inv->key, "a toolkit command without a tool name resolves");
        return;
    }
    size_t klen = strlen(k->name);
    FUZZ_CHECK(inv->key && strncmp(inv->key, k->name, klen) == 0 && inv->key[klen] == ':' &&
                   strcmp(inv->key + klen + 1, call->args[0]) == 0,
               "the key is %s, not %s:%s", inv->key ? inv->key : "missing", k->name, call->args[0]);
    const sc_cb_tool_t *tool = NULL;
    for (size_t i = 0; i < k->ntools; i++)
        if (strcmp(k->tools[i].name, call->args[0]) == 0)
            tool = &k->tools[i];
    if (!tool || asks) {
        FUZZ_CHECK(inv->failure != NULL, "tool %s resolves %s", call->args[0],
                   asks ? "when tool.invoke asks" : "though the toolkit has no such tool");
        return;
    }
    const json_t *schema = tool->schema;

    /* the tool's input: --json, --json-file, nothing, or flags */
    const char *const *args = call->args + 1;
    size_t n = call->nargs - 1;
    json_t *given = NULL; /* the JSON given whole, when it parses */
    bool whole =
        n == 0 ||
        (n == 2 && (strcmp(args[0], "--json") == 0 || strcmp(args[0], "--json-file") == 0));
    if (n == 0) {
        given = json_object();
    } else if (whole && strcmp(args[0], "--json") == 0) {
        given = json_loads(args[1], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    } else if (whole && call->has_file && !call->file_err &&
               bare_utf8_valid(call->file, call->file_len)) {
        given = json_loadb((const char *)call->file, call->file_len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    }
    if (whole && !given) {
        FUZZ_CHECK(inv->failure != NULL, "the input resolves from JSON that does not parse");
        if (strcmp(args[0], "--json-file") == 0 && call->file_err)
            FUZZ_CHECK(strstr(inv->failure, "failed to read --json-file") != NULL,
                       "a --json-file not read fails with: %s", inv->failure);
        return;
    }
    if (whole) {
        bool ok = satisfies(schema, given);
        FUZZ_CHECK(ok == !inv->failure, "JSON input %s the schema, yet %s: %s",
                   ok ? "satisfies" : "violates", ok ? "fails" : "resolves",
                   inv->failure ? inv->failure : inv->input);
        if (!ok)
            FUZZ_CHECK(starts(inv->failure, "ToolInputSchemaViolation at $"),
                       "a schema violation fails with: %s", inv->failure);
    }
    if (inv->failure && whole) {
        json_decref(given);
        return;
    }
    if (inv->failure) {
        static const char *const why[] = {"Unexpected positional argument: ", "Unknown flag: --",
                                          "Flag --", "Missing required flag: --",
                                          "ToolInputSchemaViolation at $"};
        bool known = false;
        for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
            known = known || starts(inv->failure, why[i]);
        FUZZ_CHECK(known, "flags fail with an unknown message: %s", inv->failure);
        json_decref(given);
        return;
    }
    FUZZ_CHECK(inv->timeout_ms == (tool->has_timeout ? tool->timeout_ms : SC_CB_DEFAULT_TIMEOUT_MS),
               "tool %s has timeout %llu", tool->name, (unsigned long long)inv->timeout_ms);
    json_t *v = parse_canonical(inv->input, strlen(inv->input), "a tool input");
    FUZZ_CHECK(satisfies(schema, v), "the input violates the schema: %s", inv->input);
    if (given) {
        FUZZ_CHECK(json_equal(v, given), "the input is not the JSON given: %s", inv->input);
    } else if (type_is(schema, "object") && json_is_object(schema_of(schema, "properties"))) {
        const json_t *props = schema_of(schema, "properties");
        const char *key;
        json_t *val;
        FUZZ_CHECK(json_is_object(v), "flags give %s", inv->input);
        json_object_foreach(v, key, val)
        {
            const json_t *field = json_object_get(props, key);
            FUZZ_CHECK(field != NULL, "flags give %s, not a property of the schema", key);
            if (type_is(field, "boolean")) {
                FUZZ_CHECK(json_is_boolean(val), "flag of boolean %s gives %s", key, inv->input);
            } else if (type_is(field, "array")) {
                const json_t *items = schema_of(field, "items");
                FUZZ_CHECK(json_is_array(val), "flags of array %s give %s", key, inv->input);
                for (size_t i = 0; i < json_array_size(val); i++)
                    FUZZ_CHECK(flag_typed(json_array_get(val, i), items ? items : field),
                               "flags of array %s give the wrong item type: %s", key, inv->input);
            } else {
                FUZZ_CHECK(flag_typed(val, field), "flag %s gives the wrong type: %s", key,
                           inv->input);
            }
        }
    } else {
        const json_t *list = json_object_get(v, "args");
        FUZZ_CHECK(json_is_object(v) && json_object_size(v) == 1 && json_is_array(list) &&
                       json_array_size(list) == n,
                   "flags without properties give %s, not {\"args\": [%zu strings]}", inv->input,
                   n);
        for (size_t i = 0; i < n; i++)
            check_guest_string(json_array_get(list, i), args[i], "an argument");
    }
    json_decref(v);
    json_decref(given);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t opt = data[0];
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    if (opt & 16) {
        check_result_text(rest, len);
        return 0;
    }

    /* the parts, each a NUL-terminated copy */
    char *copy = fuzz_junk(len + 1);
    memcpy(copy, rest, len);
    copy[len] = '\0';
    size_t nparts = 1;
    for (size_t i = 0; i < len; i++)
        nparts += copy[i] == '\0';
    const char **parts = fuzz_junk(nparts * sizeof *parts);
    parts[0] = copy;
    for (size_t i = 0, k = 1; i < len; i++)
        if (copy[i] == '\0')
            parts[k++] = copy + i + 1;

    /* the schema, as RegisterHostCallbacks takes it */
    json_t *schema = json_loads(parts[0], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    size_t schema_len = 0;
    char *schema_text = schema ? sc_json_text(schema, &schema_len) : NULL;
    free(schema_text);
    if (!schema || schema_len > SC_CB_MAX_SCHEMA_BYTES || !depth_ok(schema, 0)) {
        json_decref(schema);
        free(parts);
        free(copy);
        return 0;
    }
    kit_tools[0].schema = schema;
    kit_tools[0].has_timeout = opt & 8;
    more_tools[0].schema = json_object();
    sc_callbacks_t cb;
    memset(&cb, 0, sizeof cb);
    cb.kits = kits;
    cb.nkits = 2;
    sc_vm_t *vm = calloc(1, sizeof *vm);
    FUZZ_CHECK(vm != NULL, "out of memory");
    vm->callbacks = &cb;
    vm->policy.domains[SC_DOMAIN_TOOL].default_mode = opt & 4 ? SC_PERM_ASK : SC_PERM_ALLOW;

    sc_cb_call_t call;
    memset(&call, 0, sizeof call);
    size_t nargs_end = nparts;
    if ((opt & 3) == 1 && nparts > 3) {
        call.has_file = true;
        call.file = (const uint8_t *)parts[nparts - 1];
        call.file_len = strlen(parts[nparts - 1]);
        nargs_end = nparts - 1;
    } else if ((opt & 3) >= 2) {
        call.has_file = true;
        call.file_err = (opt & 3) == 2 ? ENOENT : 0x7fff;
    }
    call.alias = nparts > 1 ? parts[1] : "";
    call.cwd = nparts > 2 ? parts[2] : "";
    size_t nargs = nargs_end > 3 ? nargs_end - 3 : 0;
    const char **args = fuzz_junk((nargs + 1) * sizeof *args);
    for (size_t i = 0; i < nargs; i++)
        args[i] = parts[3 + i];
    args[nargs] = NULL;
    call.args = args;
    call.nargs = nargs;

    sc_cb_invocation_t inv, again;
    FUZZ_CHECK(sc_cb_resolve(vm, &call, &inv) == 0, "sc_cb_resolve ran out of memory");
    check_invocation(&call, opt & 4, &inv);
    FUZZ_CHECK(sc_cb_resolve(vm, &call, &again) == 0, "sc_cb_resolve ran out of memory");
    FUZZ_CHECK(same(inv.key, again.key) && same(inv.input, again.input) &&
                   same(inv.failure, again.failure) && inv.exit_code == again.exit_code &&
                   inv.timeout_ms == again.timeout_ms,
               "resolving again gives another result");
    sc_cb_invocation_free(&inv);
    sc_cb_invocation_free(&again);

    free(vm);
    json_decref(more_tools[0].schema);
    json_decref(schema);
    free(args);
    free(parts);
    free(copy);
    return 0;
}
