/*
 * check_callbacks.c - host callbacks through the real sidecar (reference protocol-core.md
 * §4.6, §6.2): RegisterHostCallbacks's validation, conflicts, limits and rollback; aliases
 * run as an ExecuteRequest and from inside guests (sh, node), with a host that answers, one
 * that answers with an error, late, never, or with garbage; the argument forms, the schema
 * checks and the tool.invoke policy; a kill while the host has not answered; and the rest of
 * the sidecar serving meanwhile. The host is this test, through the client library's
 * se_client_on_sidecar_request() (SE_NO_REPLY: it answers later, or never).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_fixture.h"

#define PERMS(tool)                                                                                \
    "\"permissions\": {\"fs\": \"allow\", \"network\": \"allow\", \"childProcess\": \"allow\", "   \
    "\"process\": \"allow\", \"env\": \"allow\", \"tool\": " tool "}"
#define CONFIG "{" PERMS("\"allow\"") "}"

/* ---- the host's side ---- */

typedef enum hmode { H_RESULT, H_ERROR, H_NOTHING, H_HOLD, H_WRONG_KIND } hmode_t;

static struct host {
    hmode_t mode;
    const char *value; /* the result's JSON text, or the error */
    int calls;
    char key[256], input[8192], invocation[512];
    uint64_t timeout_ms;
    int64_t held_id;
    char conn[64], session[64], vm[64];
} host;

static void host_reset(hmode_t mode, const char *value)
{
    memset(&host, 0, sizeof host);
    host.mode = mode;
    host.value = value;
}

static void copy(char *dst, size_t cap, bare_str_t s)
{
    ck_assert_uint_lt(s.len, cap);
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

static int on_request(void *ud, const sx_sidecar_request_frame_t *req,
                      sx_sidecar_response_payload_t *out)
{
    (void)ud;
    ck_assert_int_eq(req->payload.tag, SX_SIDECAR_REQUEST_PAYLOAD_TAG_HOST_CALLBACK_REQUEST);
    ck_assert_int_lt(req->request_id, 0);
    ck_assert_int_eq(req->ownership.tag, SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP);
    const sx_host_callback_request_t *h = &req->payload.u.host_callback_request;
    host.calls++;
    copy(host.key, sizeof host.key, h->callback_key);
    copy(host.input, sizeof host.input, h->input);
    copy(host.invocation, sizeof host.invocation, h->invocation_id);
    host.timeout_ms = h->timeout_ms;
    host.held_id = req->request_id;
    copy(host.conn, sizeof host.conn, req->ownership.u.vm_ownership.connection_id);
    copy(host.session, sizeof host.session, req->ownership.u.vm_ownership.session_id);
    copy(host.vm, sizeof host.vm, req->ownership.u.vm_ownership.vm_id);
    memset(out, 0, sizeof *out);
    out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE;
    sx_host_callback_result_response_t *r = &out->u.host_callback_result_response;
    r->invocation_id = h->invocation_id;
    switch (host.mode) {
    case H_RESULT:
        r->result.present = true;
        r->result.value = bare_str_from_cstr(host.value);
        break;
    case H_ERROR:
        r->error.present = true;
        r->error.value = bare_str_from_cstr(host.value);
        break;
    case H_NOTHING:
        break;
    case H_HOLD:
        return SE_NO_REPLY;
    case H_WRONG_KIND:
        out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE;
        out->u.js_bridge_result_response.call_id = bare_str_from_cstr("js-bridge-call-1");
        out->u.js_bridge_result_response.result.present = true;
        out->u.js_bridge_result_response.result.value = bare_str_from_cstr("1");
        break;
    }
    return 0;
}

/* Answers the held request now (result), in the ownership of vm_id (NULL: its own). */
static void answer_held(const char *vm_id, const char *result)
{
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_SIDECAR_RESPONSE_FRAME;
    sx_sidecar_response_frame_t *r = &f.u.sidecar_response_frame;
    r->schema.name = bare_str_from_cstr("secure-exec-sidecar");
    r->schema.version = 7;
    r->request_id = host.held_id;
    r->ownership.tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    r->ownership.u.vm_ownership.connection_id = bare_str_from_cstr(host.conn);
    r->ownership.u.vm_ownership.session_id = bare_str_from_cstr(host.session);
    r->ownership.u.vm_ownership.vm_id = bare_str_from_cstr(vm_id ? vm_id : host.vm);
    r->payload.tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE;
    r->payload.u.host_callback_result_response.invocation_id = bare_str_from_cstr(host.invocation);
    r->payload.u.host_callback_result_response.result.present = true;
    r->payload.u.host_callback_result_response.result.value = bare_str_from_cstr(result);
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
}

static void start_host(void)
{
    start();
    host_reset(H_RESULT, "{}");
    se_client_on_sidecar_request(c, on_request, NULL);
}

/* ---- RegisterHostCallbacks ---- */

typedef struct tool {
    const char *name, *description, *schema;
    long long timeout_ms; /* < 0: none */
    size_t nexamples;
    const char *example_description, *example_input;
} tool_t;

typedef struct kit {
    const char *name, *description;
    const char *const *aliases, *const *registry; /* NULL-terminated; NULL: none */
    const tool_t *tools;
    size_t ntools;
} kit_t;

#define SEARCH_SCHEMA                                                                              \
    "{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"}, "                  \
    "\"maxResults\": {\"type\": \"integer\"}, \"score\": {\"type\": \"number\"}, "                 \
    "\"deep\": {\"type\": \"boolean\"}, \"tags\": {\"type\": \"array\", \"items\": "               \
    "{\"type\": \"string\"}}}, \"required\": [\"query\"], \"additionalProperties\": false}"

static const tool_t find_tool = {"find", "Find things", SEARCH_SCHEMA,       -1,
                                 1,      "an example",  "{\"query\": \"x\"}"};

/* Sends RegisterHostCallbacks; SE_OK with the command count, or a rejection (rej_*). */
static int reg(const char *vm, const kit_t *k, uint32_t *count)
{
    static bare_str_t aliases[300], registry[300];
    static sx_str_registered_host_callback_definition_map_entry_t entries[80];
    static sx_registered_host_callback_example_t examples[20];
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_REGISTER_HOST_CALLBACKS_REQUEST;
    sx_register_host_callbacks_request_t *q = &p.u.register_host_callbacks_request;
    q->name = bare_str_from_cstr(k->name);
    q->description = bare_str_from_cstr(k->description);
    for (size_t i = 0; k->aliases && k->aliases[i]; i++) {
        aliases[i] = bare_str_from_cstr(k->aliases[i]);
        q->command_aliases.len = i + 1;
    }
    q->command_aliases.items = aliases;
    for (size_t i = 0; k->registry && k->registry[i]; i++) {
        registry[i] = bare_str_from_cstr(k->registry[i]);
        q->registry_command_aliases.len = i + 1;
    }
    q->registry_command_aliases.items = registry;
    memset(entries, 0, sizeof entries);
    for (size_t i = 0; i < k->ntools; i++) {
        const tool_t *t = &k->tools[i];
        entries[i].key = bare_str_from_cstr(t->name);
        sx_registered_host_callback_definition_t *d = &entries[i].value;
        d->description = bare_str_from_cstr(t->description);
        d->input_schema = bare_str_from_cstr(t->schema);
        if (t->timeout_ms >= 0) {
            d->timeout_ms.present = true;
            d->timeout_ms.value = (uint64_t)t->timeout_ms;
        }
        for (size_t j = 0; j < t->nexamples; j++) {
            examples[j].description = bare_str_from_cstr(t->example_description);
            examples[j].input = bare_str_from_cstr(t->example_input);
        }
        d->examples.items = examples;
        d->examples.len = t->nexamples;
    }
    q->callbacks.items = entries;
    q->callbacks.len = k->ntools;
    int st = vm_call(vm, &p, &r);
    if (st == SE_OK) {
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_HOST_CALLBACKS_REGISTERED_RESPONSE);
        ck_assert(
            bare_str_eq_cstr(r.payload.u.host_callbacks_registered_response.registration, k->name));
        if (count)
            *count = r.payload.u.host_callbacks_registered_response.command_count;
    }
    return st;
}

static void reg_ok(const char *vm, const kit_t *k, uint32_t want_count)
{
    uint32_t count = 0;
    int st = reg(vm, k, &count);
    ck_assert_msg(st == SE_OK, "register %s: %s: %s %s", k->name, se_strerror(st), rej_code,
                  rej_msg);
    ck_assert_uint_eq(count, want_count);
}

static char long_text[20000];

static const char *repeat(char ch, size_t n)
{
    ck_assert_uint_lt(n, sizeof long_text);
    memset(long_text, ch, n);
    long_text[n] = '\0';
    return long_text;
}

/* prefix, n times ch, suffix into buf */
static const char *wrap(char *buf, size_t cap, const char *prefix, char ch, size_t n,
                        const char *suffix)
{
    size_t a = strlen(prefix), b = strlen(suffix);
    ck_assert_uint_lt(a + n + b, cap);
    memcpy(buf, prefix, a);
    memset(buf + a, ch, n);
    memcpy(buf + a + n, suffix, b + 1);
    return buf;
}

/* A kit with one valid tool, changed by the case. */
typedef struct bad_case {
    const char *what, *message;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"name upper", "invalid toolkit name \"Search\" (name); expected lowercase alphanumeric"},
    {"name empty", "invalid toolkit name \"\" (name); expected lowercase"},
    {"name long", "(name); max length is 64"},
    {"description empty", "toolkit search is missing a description"},
    {"description long", "Toolkit \"search\" description is 201 characters, max is 200"},
    {"alias slash", "invalid host callback command alias: \"bad/path\" (commandAliases[1] must "
                    "not contain /)"},
    {"alias dot", "invalid host callback command alias: \"..\" (commandAliases[0] must not be . "
                  "or ..)"},
    {"alias empty", "invalid host callback registry command alias: \"\" "
                    "(registryCommandAliases[0] must not be empty)"},
    {"alias long", "(commandAliases[0] is 256 bytes; a command name is at most 255)"},
    {"alias dup", "duplicate host callback command alias: s (commandAliases[1] repeats [0])"},
    {"alias both", "host callback command alias must not also be a registry command alias: s"},
    {"no tools", "toolkit search must define at least one tool"},
    {"65 tools", "toolkit search defines 65 tools, max is 64"},
    {"tool name", "invalid tool name \"Find\" (a key of callbacks); expected lowercase"},
    {"tool description", "tool find in toolkit search is missing a description"},
    {"tool description long", "Tool \"search/find\" description is 201 characters, max is 200"},
    {"schema json", "Tool \"search/find\" input schema is invalid JSON: "},
    {"schema size", "Tool \"search/find\" input schema is 16398 bytes, max is 16384"},
    {"schema depth", "Tool \"search/find\" input schema exceeds max JSON depth 32"},
    {"timeout", "Tool \"search/find\" timeout is 300001ms, max is 300000ms"},
    {"examples", "Tool \"search/find\" defines 17 examples, max is 16"},
    {"example json", "Tool \"search/find\" example 0 input is invalid JSON: "},
    {"example size", "Tool \"search/find\" example 0 input is 4110 bytes, max is 4096"},
    {"example description", "Tool \"search/find\" example 0 description is 201 characters"},
};

START_TEST(register_validation)
{
    const bad_case_t *b = &bad_cases[_i];
    char vm[64], deep[400], big[20000], names[65][16];
    static const char *const one[] = {"s", NULL};
    const char *aliases[4] = {"s", NULL, NULL, NULL};
    const char *registry[3] = {NULL, NULL, NULL};
    tool_t tools[65];
    kit_t k = {"search", "Search things", aliases, registry, tools, 1};
    for (size_t i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "t-%zu", i);
        tools[i] = find_tool;
        tools[i].name = i ? names[i] : "find";
    }
    const char *w = b->what;
    if (!strcmp(w, "name upper"))
        k.name = "Search";
    else if (!strcmp(w, "name empty"))
        k.name = "";
    else if (!strcmp(w, "name long"))
        k.name = repeat('a', 65);
    else if (!strcmp(w, "description empty"))
        k.description = "";
    else if (!strcmp(w, "description long"))
        k.description = repeat('d', 201);
    else if (!strcmp(w, "alias slash"))
        aliases[1] = "bad/path";
    else if (!strcmp(w, "alias dot"))
        aliases[0] = "..";
    else if (!strcmp(w, "alias empty"))
        registry[0] = "";
    else if (!strcmp(w, "alias long"))
        aliases[0] = repeat('x', 256);
    else if (!strcmp(w, "alias dup"))
        aliases[1] = "s";
    else if (!strcmp(w, "alias both"))
        k.registry = one;
    else if (!strcmp(w, "no tools"))
        k.ntools = 0;
    else if (!strcmp(w, "65 tools"))
        k.ntools = 65;
    else if (!strcmp(w, "tool name"))
        tools[0].name = "Find";
    else if (!strcmp(w, "tool description"))
        tools[0].description = "";
    else if (!strcmp(w, "tool description long"))
        tools[0].description = repeat('d', 201);
    else if (!strcmp(w, "schema json"))
        tools[0].schema = "{\"type\": ";
    else if (!strcmp(w, "schema size")) {
        tools[0].schema = wrap(big, sizeof big, "{\"description\": \"", 'a', 16380, "\"}");
    } else if (!strcmp(w, "schema depth")) {
        /* 33 levels of {"items": ...} around null: null sits at depth 33 */
        size_t n = 0;
        for (int i = 0; i < 33; i++)
            n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"items\":");
        n += (size_t)snprintf(deep + n, sizeof deep - n, "null");
        for (int i = 0; i < 33; i++)
            n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
        tools[0].schema = deep;
    } else if (!strcmp(w, "timeout"))
        tools[0].timeout_ms = 300001;
    else if (!strcmp(w, "examples"))
        tools[0].nexamples = 17;
    else if (!strcmp(w, "example json"))
        tools[0].example_input = "{";
    else if (!strcmp(w, "example size")) {
        tools[0].example_input = wrap(big, sizeof big, "{\"payload\": \"", 'a', 4096, "\"}");
    } else if (!strcmp(w, "example description"))
        tools[0].example_description = repeat('e', 201);
    start_host();
    vm_new(CONFIG, vm);
    expect_rejection(reg(vm, &k, NULL), "invalid_state", b->message);
    /* nothing of it stayed: the same toolkit, made valid, registers */
    kit_t good = {"search", "Search things", one, NULL, &find_tool, 1};
    reg_ok(vm, &good, 1);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(register_limits_at_the_edge)
{
    char vm[64], schema[20000], example[5000];
    start_host();
    vm_new(CONFIG, vm);
    /* every limit reached, none exceeded: 64 bytes of name, 200 of description, 16 KiB of
     * schema, depth 32, 300 s, 16 examples of 4 KiB, 255 bytes of alias */
    char name[65], desc[201], alias[256];
    wrap(name, sizeof name, "", 'n', 64, "");
    wrap(desc, sizeof desc, "", 'd', 200, "");
    wrap(schema, sizeof schema, "{\"description\":\"", 'a', 16384 - 18, "\"}");
    wrap(example, sizeof example, "{\"p\":\"", 'a', 4096 - 8, "\"}");
    wrap(alias, sizeof alias, "", 'x', 255, "");
    const char *aliases[] = {alias, NULL};
    tool_t t = {"t", desc, schema, 300000, 16, desc, example};
    kit_t k = {name, desc, aliases, NULL, &t, 1};
    reg_ok(vm, &k, 1);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(register_conflicts_and_rollback)
{
    char vm[64], other[64];
    start_host();
    vm_new(CONFIG, vm);
    static const char *const a_cmd[] = {"alpha", "al", NULL}, *const a_reg[] = {"shared", NULL};
    kit_t a = {"alpha", "Alpha", a_cmd, a_reg, &find_tool, 1};
    reg_ok(vm, &a, 3);
    /* the same name */
    expect_rejection(reg(vm, &a, NULL), "conflict", "toolkit already registered: alpha");
    /* a command alias of another toolkit, as a command or a registry alias */
    static const char *const b_cmd[] = {"beta", "al", NULL};
    kit_t b = {"beta", "Beta", b_cmd, NULL, &find_tool, 1};
    expect_rejection(reg(vm, &b, NULL), "conflict",
                     "host callback command alias already registered: al");
    static const char *const b_cmd2[] = {"beta", NULL}, *const b_reg2[] = {"alpha", NULL};
    kit_t b2 = {"beta", "Beta", b_cmd2, b_reg2, &find_tool, 1};
    expect_rejection(reg(vm, &b2, NULL), "conflict",
                     "host callback command alias already registered: alpha");
    /* another toolkit's registry alias as a command alias */
    static const char *const b_cmd3[] = {"shared", NULL};
    kit_t b3 = {"beta", "Beta", b_cmd3, NULL, &find_tool, 1};
    expect_rejection(reg(vm, &b3, NULL), "conflict",
                     "host callback command alias already registered: shared");
    /* registry aliases may be shared: beta adds one command, "shared" counts once */
    kit_t b4 = {"beta", "Beta", b_cmd2, a_reg, &find_tool, 1};
    reg_ok(vm, &b4, 4);
    /* none of the rejected ones left anything: "al" is still alpha's, the count is 4 */
    ck_assert_str_eq(sh(vm, "for c in al beta shared alpha; do command -v $c; done", NULL),
                     "/usr/bin/al\n/usr/bin/beta\n/usr/bin/shared\n/usr/bin/alpha\n");
    /* another VM's toolkits are its own; an unknown VM is refused */
    vm_new(CONFIG, other);
    reg_ok(other, &a, 3);
    expect_rejection(reg("vm-99", &a, NULL), "invalid_state", "unknown sidecar VM vm-99");
    vm_dispose(other);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(register_capacity)
{
    char vm[64], names[80][16], tnames[64][16];
    start_host();
    vm_new(CONFIG, vm);
    /* 256 tools per VM: four toolkits of 64, then one more tool is too many */
    tool_t tools[64];
    for (size_t i = 0; i < 64; i++) {
        snprintf(tnames[i], sizeof tnames[i], "t-%zu", i);
        tools[i] = find_tool;
        tools[i].name = tnames[i];
    }
    for (size_t i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "kit-%zu", i);
        kit_t k = {names[i], "A kit", NULL, NULL, tools, i < 4 ? 64 : 1};
        if (i < 4)
            reg_ok(vm, &k, 0);
        else
            expect_rejection(reg(vm, &k, NULL), "invalid_state",
                             "VM would have 257 registered host callbacks, max is 256");
    }
    vm_dispose(vm);
    /* 64 toolkits per VM */
    vm_new(CONFIG, vm);
    for (size_t i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "kit-%zu", i);
        kit_t k = {names[i], "A kit", NULL, NULL, &find_tool, 1};
        if (i < 64)
            reg_ok(vm, &k, 0);
        else
            expect_rejection(reg(vm, &k, NULL), "invalid_state",
                             "VM already has 64 registered toolkits, max is 64");
    }
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- invocations ---- */

static const char *const search_aliases[] = {"mytool", NULL};
static const kit_t search_kit = {"search", "Search things", search_aliases, NULL, &find_tool, 1};

/* Runs command args to its end; r gets its output and exit code. */
static void run_cmd(const char *vm, const char *command, const char *const *args, result_t *r)
{
    exec_opts_t o = cmd(command, args);
    run(vm, &o, r);
}

static void run_sh(const char *vm, const char *script, result_t *r)
{
    const char *args[] = {"-c", script, NULL};
    run_cmd(vm, "sh", args, r);
}

#define OUT(r) ((r)->out.buf ? (r)->out.buf : "")
#define ERR(r) ((r)->err.buf ? (r)->err.buf : "")

START_TEST(execute_alias)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    reg_ok(vm, &search_kit, 1);
    host_reset(H_RESULT, "{\"z\": 1, \"a\": [1.5, \"x\", 1e21, 0.1]}");
    const char *args[] = {"find",   "--query", "hello world", "--max-results", "3", "--score", "2",
                          "--deep", "--tags",  "a",           "--tags",        "b", NULL};
    run_cmd(vm, "mytool", args, &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":{\"a\":[1.5,\"x\",1e21,0.1],\"z\":1}}");
    ck_assert_str_eq(ERR(&r), "");
    ck_assert_int_eq(host.calls, 1);
    ck_assert_str_eq(host.key, "search:find");
    ck_assert_str_eq(host.input,
                     "{\"deep\":true,\"maxResults\":3,\"query\":\"hello world\",\"score\":2.0,"
                     "\"tags\":[\"a\",\"b\"]}");
    ck_assert_uint_eq(host.timeout_ms, 30000);
    ck_assert_msg(strncmp(host.invocation, "search:find:", 12) == 0 &&
                      strspn(host.invocation + 12, "0123456789") == strlen(host.invocation + 12),
                  "invocation id %s", host.invocation);
    result_free(&r);
    /* the reference's other forms of the command; a result that is not JSON is a string */
    host_reset(H_RESULT, "plain text");
    static const char *const forms[] = {"/bin/mytool", "/usr/bin/mytool", "/usr/local/bin/mytool",
                                        "/__secure_exec/commands/0/mytool"};
    for (size_t i = 0; i < 4; i++) {
        const char *a2[] = {"find", "--json", "{\"query\": \"q\"}", NULL};
        run_cmd(vm, forms[i], a2, &r);
        ck_assert_msg(r.code == 0, "%s: exit %d, stderr '%s'", forms[i], r.code, ERR(&r));
        ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":\"plain text\"}");
        ck_assert_str_eq(host.input, "{\"query\":\"q\"}");
        result_free(&r);
    }
    ck_assert_int_eq(host.calls, 4);
    /* a path elsewhere is not the alias: it is run as it is, and does not exist */
    const char *a3[] = {"find", NULL};
    exec_opts_t o = cmd("/opt/mytool", a3);
    ck_assert_int_ne(execute(vm, "x", &o, NULL), SE_OK);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(guest_commands)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    reg_ok(vm, &search_kit, 1);
    host_reset(H_RESULT, "[1,2]");
    /* from a shell: found on PATH, as /bin/mytool and /usr/bin/mytool, and its exit code */
    run_sh(vm,
           "mytool find --query x; echo \" rc=$?\"; /bin/mytool find --query y --no-deep; "
           "echo \" rc=$?\"; cd /tmp && echo '{\"query\": \"from file\"}' > in.json && "
           "/usr/bin/mytool find --json-file in.json; echo \" rc=$?\"; "
           "mytool find --json-file /nonexistent; echo \" rc=$?\"",
           &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":[1,2]} rc=0\n"
                              "{\"ok\":true,\"result\":[1,2]} rc=0\n"
                              "{\"ok\":true,\"result\":[1,2]} rc=0\n"
                              " rc=1\n");
    ck_assert_str_eq(ERR(&r), "failed to read --json-file /nonexistent: ENOENT: no such file "
                              "or directory\n");
    ck_assert_int_eq(host.calls, 3);
    ck_assert_str_eq(host.input, "{\"query\":\"from file\"}");
    result_free(&r);
    /* from node's child_process */
    host_reset(H_RESULT, "{\"sum\": 5}");
    const char *node[] = {"-e",
                          "const { spawnSync, execFileSync } = require('node:child_process');\n"
                          "const r = spawnSync('mytool', ['find', '--query', 'n']);\n"
                          "console.log(r.status, r.stdout.toString());\n"
                          "console.log(execFileSync('mytool', ['find', '--json', "
                          "'{\"query\":\"m\"}']).toString());\n",
                          NULL};
    run_cmd(vm, "node", node, &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "0 {\"ok\":true,\"result\":{\"sum\":5}}\n"
                              "{\"ok\":true,\"result\":{\"sum\":5}}\n");
    ck_assert_int_eq(host.calls, 2);
    ck_assert_str_eq(host.input, "{\"query\":\"m\"}");
    result_free(&r);
    /* the guest cannot change its commands */
    run_sh(vm, "echo x > /usr/bin/mytool || rm -f /bin/mytool || echo refused", &r);
    ck_assert_str_eq(OUT(&r), "refused\n");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(registered_while_guests_run)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    /* the VM's supervisor runs and has looked the name up (and not found it) before */
    run_sh(vm, "command -v latecomer || echo none", &r);
    ck_assert_str_eq(OUT(&r), "none\n");
    result_free(&r);
    static const char *const late[] = {"latecomer", "ls", NULL};
    kit_t k = {"late", "Late", late, NULL, &find_tool, 1};
    reg_ok(vm, &k, 2);
    host_reset(H_RESULT, "true");
    /* an alias may hide a host program of the same name, for this VM only */
    run_sh(vm, "latecomer find --query a && ls find --query b", &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":true}{\"ok\":true,\"result\":true}");
    result_free(&r);
    char other[64];
    vm_new(CONFIG, other);
    run_sh(other, "ls / >/dev/null && echo listed; command -v latecomer || echo none", &r);
    ck_assert_str_eq(OUT(&r), "listed\nnone\n");
    result_free(&r);
    vm_dispose(other);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(registry_alias)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    static const char *const reg1[] = {"agentos", NULL};
    tool_t t1 = find_tool, t2 = find_tool;
    t1.timeout_ms = 1500;
    t2.name = "other";
    t2.timeout_ms = 2500;
    kit_t k1 = {"one", "One", NULL, reg1, &t1, 1}, k2 = {"two", "Two", NULL, reg1, &t2, 1};
    reg_ok(vm, &k1, 1);
    reg_ok(vm, &k2, 1);
    host_reset(H_RESULT, "\"done\"");
    run_sh(vm, "cd /tmp && agentos do \"two words\" --flag", &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":\"done\"}");
    ck_assert_str_eq(host.key, "agentos");
    ck_assert_str_eq(host.input, "{\"args\":[\"do\",\"two words\",\"--flag\"],\"command\":"
                                 "\"agentos\",\"cwd\":\"/tmp\",\"type\":\"command\"}");
    ck_assert_uint_eq(host.timeout_ms, 2500); /* the longest of the toolkits sharing it */
    ck_assert_msg(strncmp(host.invocation, "agentos:", 8) == 0, "%s", host.invocation);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(host_errors)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    reg_ok(vm, &search_kit, 1);
    const char *args[] = {"find", "--query", "x", NULL};
    host_reset(H_ERROR, "boom: the index is gone");
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(OUT(&r), "");
    ck_assert_str_eq(ERR(&r), "boom: the index is gone\n");
    result_free(&r);
    host_reset(H_NOTHING, NULL);
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(ERR(&r), "tool invocation returned no result\n");
    result_free(&r);
    /* garbage: the wrong kind of reply */
    host_reset(H_WRONG_KIND, NULL);
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(ERR(&r), "unexpected sidecar tool response\n");
    result_free(&r);
    /* garbage: a reply in another VM's ownership */
    host_reset(H_HOLD, NULL);
    ck_assert_int_eq(
        execute(vm, "p", &(exec_opts_t){"mytool", -1, NULL, args, NULL, NULL, -1}, NULL), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    for (int i = 0; i < 300 && host.calls == 0; i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 100, &ev); /* reads (and holds) the request */
    }
    ck_assert_int_eq(host.calls, 1);
    answer_held("vm-77", "1");
    ck_assert(collect("p", &r, T));
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(ERR(&r), "sidecar response ownership did not match request ownership\n");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(failures_never_reach_the_host)
{
    static const struct {
        const char *script, *err;
    } cases[] = {
        {"mytool", "toolkit command search requires a tool name\n"},
        {"mytool nope", "unknown tool callback search:nope\n"},
        {"mytool find", "ToolInputSchemaViolation at $.query: missing required property\n"},
        {"mytool find --deep", "Missing required flag: --query\n"},
        {"mytool find --query", "Flag --query requires a value\n"},
        {"mytool find --query x --max-results 1.5", "Flag --max-results expects an integer, got "
                                                    "\"1.5\"\n"},
        {"mytool find --query x --score inf", "Flag --score expects a finite number, got "
                                              "\"inf\"\n"},
        {"mytool find --query x --score x1", "Flag --score expects a number, got \"x1\"\n"},
        {"mytool find --query x --nope 1", "Unknown flag: --nope\n"},
        {"mytool find --query x --no-query", "Unknown flag: --no-query\n"},
        {"mytool find --query x extra", "Unexpected positional argument: \"extra\"\n"},
        {"mytool find --json '{\"query\": 5}'", "ToolInputSchemaViolation at $.query: expected "
                                                "string\n"},
        {"mytool find --json '{}'", "ToolInputSchemaViolation at $.query: missing required "
                                    "property\n"},
        {"mytool find --json '{\"query\": \"x\", \"more\": 1}'",
         "ToolInputSchemaViolation at $.more: unexpected property\n"},
        {"mytool find --json '[1]'", "ToolInputSchemaViolation at $: expected object\n"},
        {"mytool find --json '{'", "invalid --json tool input: "},
        {"printf '\\377' > /tmp/bad && mytool find --json-file /tmp/bad",
         "invalid UTF-8 in --json-file /tmp/bad\n"},
        {"/dev/secure-exec-callback nosuch x", "nosuch: not a host callback command of this "
                                               "VM\n"},
    };
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    reg_ok(vm, &search_kit, 1);
    host_reset(H_RESULT, "1");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_sh(vm, cases[i].script, &r);
        ck_assert_msg(r.code == (strstr(cases[i].script, "nosuch") ? 127 : 1), "%s: exit %d",
                      cases[i].script, r.code);
        ck_assert_msg(strncmp(ERR(&r), cases[i].err, strlen(cases[i].err)) == 0,
                      "%s: stderr '%s', wanted '%s'", cases[i].script, ERR(&r), cases[i].err);
        ck_assert_str_eq(OUT(&r), "");
        result_free(&r);
    }
    ck_assert_int_eq(host.calls, 0);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(tool_invoke_policy)
{
    char vm[64];
    result_t r;
    start_host();
    /* only search:find is allowed; ask is a deny */
    vm_new("{" PERMS("{\"default\": \"deny\", \"rules\": [{\"mode\": \"allow\", \"operations\": "
                     "[\"invoke\"], \"patterns\": [\"search:find\"]}, {\"mode\": \"ask\", "
                     "\"operations\": [\"*\"], \"patterns\": [\"search:ask\"]}]}") "}",
           vm);
    tool_t tools[3] = {find_tool, find_tool, find_tool};
    tools[1].name = "ask";
    tools[2].name = "other";
    kit_t k = {"search", "Search", search_aliases, NULL, tools, 3};
    reg_ok(vm, &k, 1);
    host_reset(H_RESULT, "1");
    run_sh(vm, "mytool find --query x; mytool ask --query x; mytool other --query x", &r);
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":1}");
    ck_assert_str_eq(ERR(&r), "blocked by tool.invoke policy for search:ask\n"
                              "blocked by tool.invoke policy for search:other\n");
    ck_assert_int_eq(host.calls, 1);
    result_free(&r);
    vm_dispose(vm);
    /* without a tool policy nothing is allowed, also for an ExecuteRequest */
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\"}}", vm);
    reg_ok(vm, &k, 1);
    const char *args[] = {"find", "--query", "x", NULL};
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(ERR(&r), "blocked by tool.invoke policy for search:find\n");
    ck_assert_int_eq(host.calls, 1);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* Reads events until the host has seen n requests (the held ones included). */
static void wait_calls(int n)
{
    for (int i = 0; i < 300 && host.calls < n; i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 100, &ev);
    }
    ck_assert_int_ge(host.calls, n);
}

START_TEST(late_and_silent_hosts)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    tool_t t = find_tool;
    t.timeout_ms = 300;
    kit_t k = {"search", "Search", search_aliases, NULL, &t, 1};
    reg_ok(vm, &k, 1);
    const char *args[] = {"find", "--query", "x", NULL};
    /* a host that never answers: the tool's timeout ends it */
    host_reset(H_HOLD, NULL);
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_str_eq(ERR(&r), "timed out waiting for sidecar response after 1s\n");
    ck_assert_uint_eq(host.timeout_ms, 300);
    result_free(&r);
    /* ... and answers after all: the reply is dropped, the sidecar goes on */
    answer_held(NULL, "\"too late\"");
    host_reset(H_RESULT, "\"in time\"");
    run_cmd(vm, "mytool", args, &r);
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":\"in time\"}");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(kill_while_waiting)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    reg_ok(vm, &search_kit, 1);
    const char *args[] = {"find", "--query", "x", NULL};
    host_reset(H_HOLD, NULL);
    exec_opts_t o = cmd("mytool", args);
    ck_assert_int_eq(execute(vm, "p", &o, NULL), SE_OK);
    wait_calls(1);
    ck_assert_int_eq(kill_proc(vm, "p", "SIGKILL"), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    ck_assert(collect("p", &r, T));
    ck_assert_int_eq(r.code, 128 + 9);
    ck_assert_str_eq(OUT(&r), "");
    result_free(&r);
    /* the host answers the cancelled invocation: nothing happens */
    answer_held(NULL, "1");
    host_reset(H_RESULT, "2");
    run_cmd(vm, "mytool", args, &r);
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":2}");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(served_while_a_callback_waits)
{
    char vm[64], other[64];
    result_t r;
    start_host();
    vm_new(CONFIG, vm);
    vm_new(CONFIG, other);
    reg_ok(vm, &search_kit, 1);
    const char *args[] = {"find", "--query", "x", NULL};
    host_reset(H_HOLD, NULL);
    exec_opts_t o = cmd("mytool", args);
    ck_assert_int_eq(execute(vm, "waiting", &o, NULL), SE_OK);
    wait_calls(1);
    /* the same VM and another one run processes meanwhile */
    ck_assert_str_eq(sh(vm, "echo same", NULL), "same\n");
    ck_assert_str_eq(sh(other, "echo other", NULL), "other\n");
    /* then the answer comes, and the waiting process prints it */
    answer_held(NULL, "{\"late\": \"but in time\"}");
    memset(&r, 0, sizeof r);
    r.code = -1;
    ck_assert(collect("waiting", &r, T));
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":{\"late\":\"but in time\"}}");
    result_free(&r);
    /* disposing a VM whose command waits for the host ends both */
    host_reset(H_HOLD, NULL);
    ck_assert_int_eq(execute(vm, "again", &o, NULL), SE_OK);
    wait_calls(1);
    vm_dispose(vm);
    answer_held(NULL, "1");
    ck_assert_str_eq(sh(other, "echo still", NULL), "still\n");
    vm_dispose(other);
    stop();
}
END_TEST

START_TEST(hostile_guest_on_the_socket)
{
    char vm[64];
    result_t r;
    start_host();
    vm_new("{" PERMS("\"allow\"") ", \"limits\": {\"resources\": {\"maxOpenFds\": 1024}}}", vm);
    reg_ok(vm, &search_kit, 1);
    host_reset(H_RESULT, "1");
    /* garbage, a huge declared length, a half request then silence, requests that fill what
     * the VM's connections may buffer (16 MiB: four of 4 MiB), many connections */
    const char *py[] = {
        "-c",
        "import socket, struct\n"
        "def conn():\n"
        "    s = socket.socket(socket.AF_UNIX); s.connect('/dev/secure-exec-callback.sock')\n"
        "    return s\n"
        "s = conn(); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
        "try:\n    print(s.recv(100))\nexcept ConnectionResetError:\n    print(b'')\n"
        "s = conn(); s.sendall(struct.pack('<II', 0x42434553, 1 << 30))\n"
        "h = s.recv(8); print(len(h), s.recv(200)[12:].decode())\n"
        "s = conn(); s.sendall(struct.pack('<II', 0x42434553, 10) + b'A'); s.close()\n"
        "body = b'Z' + struct.pack('<I', 0)\n"
        "s = conn(); s.sendall(struct.pack('<II', 0x42434553, len(body)) + body)\n"
        "s.recv(8); print(s.recv(200)[12:].decode())\n"
        "import select\n"
        "big = []\n"
        "for i in range(5):\n"
        "    s = conn(); big.append(s)\n"
        "    try:\n"
        "        s.sendall(struct.pack('<II', 0x42434553, 4 << 20) + b'a' * (3 << 20))\n"
        "    except OSError:\n"
        "        pass\n"
        "last = select.select([big[4]], [], [], 10)[0]\n"
        "print([bool(select.select([b], [], [], 0.2)[0]) for b in big[:4]], bool(last))\n"
        "for b in big:\n"
        "    b.close()\n"
        "held = [conn() for _ in range(300)]\n"
        "print('held', len(held))\n"
        "held[-1].recv(20); print(held[-1].recv(200).decode())\n",
        NULL};
    run_cmd(vm, "python3", py, &r);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, ERR(&r));
    ck_assert_str_eq(OUT(&r), "b''\n8 the invocation is 1073741824 bytes; the limit is 4194304\n\n"
                              "malformed invocation: a record has an unknown tag\n\n"
                              "[False, False, False, False] True\nheld 300\n"
                              "too many host callbacks of this VM in flight (limit 256)\n\n");
    result_free(&r);
    /* the commands still work, and nothing reached the host */
    ck_assert_int_eq(host.calls, 0);
    const char *args[] = {"find", "--query", "x", NULL};
    run_cmd(vm, "mytool", args, &r);
    ck_assert_str_eq(OUT(&r), "{\"ok\":true,\"result\":1}");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("callbacks");
    TCase *t = tcase_create("callbacks");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, register_validation, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(t, register_limits_at_the_edge);
    tcase_add_test(t, register_conflicts_and_rollback);
    tcase_add_test(t, register_capacity);
    tcase_add_test(t, execute_alias);
    tcase_add_test(t, guest_commands);
    tcase_add_test(t, registered_while_guests_run);
    tcase_add_test(t, registry_alias);
    tcase_add_test(t, host_errors);
    tcase_add_test(t, failures_never_reach_the_host);
    tcase_add_test(t, tool_invoke_policy);
    tcase_add_test(t, late_and_silent_hosts);
    tcase_add_test(t, kill_while_waiting);
    tcase_add_test(t, served_while_a_callback_waits);
    tcase_add_test(t, hostile_guest_on_the_socket);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
