/*
 * seed_gen.c - writes the generated seeds of the fuzz corpora (`make fuzz-seed`): frames of every
 * payload member of every frame kind for fuzz_frame, values of every root type for fuzz_types
 * (and their YAML for fuzz_yaml), CreateVm configs for fuzz_vmconfig, spawn specs for
 * fuzz_spawnspec, whole conversations with the sidecar for fuzz_sidecar, callback socket
 * requests for fuzz_cbproto, js_bridge results and error texts for fuzz_jbjson, host callback
 * commands and results for fuzz_toolinput, and hand-made edge cases for each. Deterministic:
 * every run writes the same files.
 * usage: seed_gen CORPUS-DIR   (writes CORPUS-DIR/TARGET/ for each of those targets)
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cbproto.h"
#include "recursive.h"
#include "secure_exec_sidecar_v1.h"
#include "supervisor.h"
#include "../value_gen.h"
#include "../vmconfig_full.h"

static const char *root;
static int written;

static __attribute__((noreturn)) void die(const char *what, const char *detail)
{
    fprintf(stderr, "seed_gen: %s: %s\n", what, detail);
    exit(1);
}

static void put(const char *target, const char *name, const void *bytes, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die(path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(bytes, 1, len, f) != len) || fclose(f) != 0)
        die(path, strerror(errno));
    written++;
}

/* Hex digits (spaces ignored) into bytes. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ')
            continue;
        unsigned v;
        if (!p[1] || sscanf(p, "%2x", &v) != 1 || n == cap)
            die("bad hex", hex);
        out[n++] = (uint8_t)v;
        p++;
    }
    return n;
}

static void put_hex(const char *target, const char *name, const char *prefix, const char *hex)
{
    uint8_t buf[4096];
    size_t n = prefix ? unhex(prefix, buf, sizeof buf) : 0;
    n += unhex(hex, buf + n, sizeof buf - n);
    put(target, name, buf, n);
}

static void store_tag(void *p, size_t size, uint64_t v)
{
    if (size == 1) {
        uint8_t x = (uint8_t)v;
        memcpy(p, &x, 1);
    } else if (size == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
    } else if (size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
    } else {
        memcpy(p, &v, 8);
    }
}

/* Validates and encodes value (of type d) and writes it, after the bytes of prefix. */
static void put_value(const char *target, const char *name, const bare_type_desc_t *d,
                      const void *value, const uint8_t *prefix, size_t prefix_len)
{
    bare_writer_t w;
    bare_error_t err;
    if (d->validate(value, &err) != BARE_OK)
        die(name, bare_strerror(err.status));
    bare_writer_init(&w, NULL, NULL);
    if (bare_write_bytes(&w, prefix, prefix_len) != BARE_OK || bare_encode(d, &w, value) != BARE_OK)
        die(name, "cannot encode");
    put(target, name, w.buf, w.len);
    bare_writer_free(&w);
}

static const bare_field_desc_t *field(const bare_type_desc_t *d, const char *name)
{
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    die(d->name, name);
    return NULL;
}

/* Two random frames (small and larger) of every member of every frame's payload union. */
static void frame_seeds(bare_arena_t *arena)
{
    const bare_type_desc_t *pf = &sx_protocol_frame_desc;
    uint64_t seed = 1;
    for (size_t m = 0; m < pf->count; m++) {
        const bare_type_desc_t *frame = pf->members[m].type;
        const bare_field_desc_t *pay = field(frame, "payload");
        const bare_type_desc_t *pd = pay->type;
        for (size_t k = 0; k < pd->count; k++) {
            for (int variant = 0; variant < 2; variant++) {
                value_gen_t g = {seed++ * 0x9E3779B97F4A7C15ull, arena, variant ? 8 : 4,
                                 variant ? 5 : 2};
                uint8_t *v = bare_arena_alloc(arena, pf->c_size, 16);
                memset(v, 0, pf->c_size);
                store_tag(v, pf->c_tag_size, pf->members[m].tag);
                uint8_t *s = v + pf->c_inner_offset;
                value_gen_fill(&g, frame, s);
                uint8_t *p = s + pay->c_offset;
                memset(p, 0, pd->c_size);
                store_tag(p, pd->c_tag_size, pd->members[k].tag);
                if (pd->members[k].type)
                    value_gen_fill(&g, pd->members[k].type, p + pd->c_inner_offset);
                char name[160];
                snprintf(name, sizeof name, "seed-%s-%s-%d", pf->members[m].name,
                         pd->members[k].name, variant);
                put_value("fuzz_frame", name, pf, v, NULL, 0);
            }
        }
    }
}

/* A request frame header (schema "secure-exec-sidecar" 7, id 7, ConnectionOwnership "c"). */
#define FRAME_HEAD "00 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 0163"

/* Frames that are valid or rejected for one reason each, spelled out in hex. */
static void frame_edges(void)
{
    static const struct {
        const char *name, *hex;
    } edges[] = {
        {"edge-empty", ""},
        {"edge-unknown-frame-tag", "05"},
        {"edge-noncanonical-frame-tag", "8000"},
        {"edge-varint-overflow", "ffffffffffffffffff7f"},
        {"edge-truncated-name", "00 13 7365"},
        {"edge-auth-fixture",
         "00 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 06636f6e6e2d31"
         " 00 0e67656e6572617465642d74657374 05746f6b656e 0700 01000000"},
        {"edge-create-layer", FRAME_HEAD " 07"},
        {"edge-trailing-byte", FRAME_HEAD " 07 00"},
        {"edge-unknown-payload-tag", FRAME_HEAD " 1c"},
        {"edge-unknown-enum", FRAME_HEAD " 03 03"},
        {"edge-duplicate-env-key", FRAME_HEAD " 0e 0170 00 00 00 00 02 0158 0131 0158 0132 00 00"},
        {"edge-env-value-not-utf8", FRAME_HEAD " 0e 0170 00 00 00 00 01 0158 01ff 00 00"},
        {"edge-overlong-utf8", FRAME_HEAD " 0e 02c080 00 00 00 00 00 00 00"},
        {"edge-surrogate-utf8", FRAME_HEAD " 0e 03eda080 00 00 00 00 00 00 00"},
        {"edge-4byte-utf8", FRAME_HEAD " 0e 04f09f9880 00 00 00 00 00 00 00"},
        {"edge-optional-flag-2", FRAME_HEAD " 0e 0170 02"},
        {"edge-bool-2", FRAME_HEAD " 0c 00 0161 00 00 00 00 02"},
        {"edge-huge-count", FRAME_HEAD " 0e 0170 00 00 00 ffffffff0f"},
        {"edge-huge-string", FRAME_HEAD " 0e ffffffffffffffff01"},
        {"edge-noncanonical-payload-tag", FRAME_HEAD " 8000"},
        {"edge-signal-map-duplicate-u32",
         "01 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 0163"
         " 15 0170 02 09000000 00 00 00000000 09000000 01 00 00000000"},
        {"edge-event-output",
         "02 13 7365637572652d657865632d73696465636172 0700 01 0163 0173 01 0170 01 05 68656c6c6f"},
        {"edge-event-bad-channel",
         "02 13 7365637572652d657865632d73696465636172 0700 01 0163 0173 01 0170 02 00"},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        put_hex("fuzz_frame", edges[i].name, NULL, edges[i].hex);
}

/* Maps past the small-map threshold of the duplicate-key check, with and without a repeat. */
static void big_map_edges(void)
{
    static char keys[20][8];
    sx_str_str_map_entry_t env[20];
    sx_protocol_frame_t f;
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "K%02d", i);
        env[i].key = bare_str_from_cstr(keys[i]);
        env[i].value = BARE_STR_LIT("v");
    }
    sx_protocol_frame_init(&f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    sx_request_frame_t *rf = &f.u.request_frame;
    rf->schema.name = BARE_STR_LIT("secure-exec-sidecar");
    rf->schema.version = 1;
    rf->ownership.tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    rf->ownership.u.connection_ownership.connection_id = BARE_STR_LIT("c");
    rf->payload.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    sx_execute_request_t *x = &rf->payload.u.execute_request;
    x->process_id = BARE_STR_LIT("p");
    x->env.items = env;
    x->env.len = 20;
    put_value("fuzz_frame", "edge-env-20-keys", &sx_protocol_frame_desc, &f, NULL, 0);

    /* The encoder writes what it is given; only validate() refuses the repeat. */
    env[17].key = env[3].key;
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    if (sx_protocol_frame_encode(&w, &f) != BARE_OK)
        die("edge-env-20-keys-duplicate", "cannot encode");
    put("fuzz_frame", "edge-env-20-keys-duplicate", w.buf, w.len);
    bare_writer_free(&w);
}

static uint8_t index_of(const bare_schema_desc_t *s, size_t base, const char *name)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->types[i]->name, name) == 0)
            return (uint8_t)(base + i);
    die("no such type", name);
    return 0;
}

/* Two random values of every root type, each after the byte that picks its type. */
static void type_seeds(bare_arena_t *arena)
{
    const bare_schema_desc_t *schemas[2] = {&sx_schema, &rec_schema};
    const char *tags[2] = {"sx", "rec"};
    size_t base = 0;
    uint64_t seed = 1000;
    if (sx_schema.count + rec_schema.count > 256)
        die("type_seeds", "more than 256 root types");
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < schemas[s]->count; i++) {
            const bare_type_desc_t *d = schemas[s]->types[i];
            uint8_t pick = (uint8_t)(base + i);
            for (int variant = 0; variant < 2; variant++) {
                value_gen_t g = {seed++ * 0x9E3779B97F4A7C15ull, arena, variant ? 7 : 3,
                                 variant ? 4 : 2};
                void *v = bare_arena_alloc(arena, d->c_size, 16);
                value_gen_fill(&g, d, v);
                char name[160];
                snprintf(name, sizeof name, "seed-%s-%s-%d", tags[s], d->name, variant);
                put_value("fuzz_types", name, d, v, &pick, 1);
            }
        }
        base += schemas[s]->count;
    }
}

static void type_edges(void)
{
    char pick[8];

    /* A linked list 70 deep, past the default depth limit of 64; and one 20 deep. */
    static const uint8_t one[5] = {1, 0, 0, 0, 1}, end[5] = {2, 0, 0, 0, 0};
    uint8_t chain[1 + 71 * 5];
    chain[0] = index_of(&rec_schema, sx_schema.count, "Node");
    for (int depth = 20; depth <= 70; depth += 50) {
        size_t n = 1;
        for (int i = 0; i < depth; i++, n += 5)
            memcpy(chain + n, one, 5);
        memcpy(chain + n, end, 5);
        put("fuzz_types", depth == 20 ? "edge-rec-Node-20-deep" : "edge-rec-Node-too-deep", chain,
            n + 5);
    }

    /* Expr: Add(Lit 1, Neg(Vars {"x": Lit -1})) */
    snprintf(pick, sizeof pick, "%02x", index_of(&rec_schema, sx_schema.count, "Expr"));
    put_hex("fuzz_types", "edge-rec-Expr-nested", pick,
            "01 00 0100000000000000 02 01 03 01 0178 00 ffffffffffffffff");
    put_hex("fuzz_types", "edge-rec-Expr-unknown-tag", pick, "04");
    put_hex("fuzz_types", "edge-rec-Expr-Vars-duplicate", pick,
            "03 02 0178 00 0100000000000000 0178 00 0200000000000000");

    snprintf(pick, sizeof pick, "%02x", index_of(&sx_schema, 0, "RequestId"));
    put_hex("fuzz_types", "edge-sx-RequestId", pick, "ffffffffffffff7f");
    put_hex("fuzz_types", "edge-sx-RequestId-short", pick, "ffffff");
    snprintf(pick, sizeof pick, "%02x", index_of(&sx_schema, 0, "JsonUtf8"));
    put_hex("fuzz_types", "edge-sx-JsonUtf8", pick, "07 7b2261223a317d");
    put_hex("fuzz_types", "edge-sx-JsonUtf8-bad", pick, "02 c3 28");
    snprintf(pick, sizeof pick, "%02x", index_of(&sx_schema, 0, "CreateLayerRequest"));
    put_hex("fuzz_types", "edge-sx-CreateLayerRequest", pick, "");
    put_hex("fuzz_types", "edge-sx-CreateLayerRequest-trailing", pick, "00");
}

/* ---- fuzz_yaml: the YAML of a value of every root type, and hand-made texts ---- */

/* The YAML of a random value of every root type (small ones), after the byte that picks it. */
static void yaml_seeds(bare_arena_t *arena)
{
    const bare_schema_desc_t *schemas[2] = {&sx_schema, &rec_schema};
    const char *tags[2] = {"sx", "rec"};
    size_t base = 0;
    uint64_t seed = 2000;
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < schemas[s]->count; i++) {
            const bare_type_desc_t *d = schemas[s]->types[i];
            value_gen_t g = {seed++ * 0x9E3779B97F4A7C15ull, arena, 3, 2};
            void *v = bare_arena_alloc(arena, d->c_size, 16);
            bare_writer_t b, y;
            bare_error_t err;
            uint8_t pick = (uint8_t)(base + i);
            value_gen_fill(&g, d, v);
            bare_writer_init(&b, NULL, NULL);
            bare_writer_init(&y, NULL, NULL);
            if (bare_encode(d, &b, v) != BARE_OK || bare_write_bytes(&y, &pick, 1) != BARE_OK ||
                bare_to_yaml(d, b.buf, b.len, NULL, &y, &err) != BARE_OK)
                die(d->name, "cannot render as YAML");
            char name[160];
            snprintf(name, sizeof name, "seed-%s-%s", tags[s], d->name);
            put("fuzz_yaml", name, y.buf, y.len);
            bare_writer_free(&b);
            bare_writer_free(&y);
        }
        base += schemas[s]->count;
    }
}

static void put_yaml(const char *name, const bare_schema_desc_t *s, size_t base, const char *type,
                     const char *text)
{
    size_t n = strlen(text);
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        die(name, "out of memory");
    buf[0] = index_of(s, base, type);
    memcpy(buf + 1, text, n);
    put("fuzz_yaml", name, buf, n + 1);
    free(buf);
}

/* Texts the renderer never writes: flow style, tags, anchors, comments, errors of each kind. */
static void yaml_edges(void)
{
    static const struct {
        const char *name, *type, *text;
    } sx[] = {
        {"edge-frame-flow", "ProtocolFrame",
         "{RequestFrame: {schema: {name: secure-exec-sidecar, version: 7}, requestId: 0x7,"
         " ownership: {ConnectionOwnership: {connectionId: conn-1}}, payload: {AuthenticateRequest:"
         " {clientName: \"gen\\u00e9rated\", authToken: 'to''ken', protocolVersion: !!int 7,"
         " bridgeVersion: 1}}}}\n"},
        {"edge-frame-block-comments", "ProtocolFrame",
         "%YAML 1.1\n---\n# a request\nRequestFrame:\n  schema: {name: s, version: 7}\n"
         "  requestId: -9223372036854775808\n  ownership:\n    VmOwnership:\n"
         "      connectionId: c\n      sessionId: s\n      vmId: v\n  payload:\n"
         "    WriteStdinRequest:\n      processId: p\n      chunk: !!binary |\n"
         "        AAECAwQFBgcICQ==\n...\n"},
        {"edge-literal-and-folded", "RejectedResponse",
         "code: |\n  line one\n  line two\nmessage: >-\n  folded\n  text\n"},
        {"edge-alias", "ProtocolSchema", "name: &n a\nversion: *n\n"},
        {"edge-two-documents", "ProtocolSchema", "--- {name: a, version: 1}\n--- {}\n"},
        {"edge-empty", "ProtocolSchema", ""},
        {"edge-unknown-field", "ProtocolSchema", "name: a\nversion: 7\nextra: 1\n"},
        {"edge-duplicate-field", "ProtocolSchema", "name: a\nversion: 7\nname: b\n"},
        {"edge-merge-key", "ProtocolSchema", "<<: {name: a}\nversion: 7\n"},
        {"edge-bad-tag", "ProtocolSchema", "name: !!str a\nversion: !custom 7\n"},
        {"edge-out-of-range", "ProtocolSchema", "name: a\nversion: 65536\n"},
        {"edge-u64-max", "ZombieTimerCountResponse", "count: 18446744073709551615\n"},
        {"edge-u64-over", "ZombieTimerCountResponse", "count: 18446744073709551616\n"},
        {"edge-octal-hex", "SignalStateResponse",
         "{processId: p, handlers: {0o17: {action: USER, mask: [0x2, 3], flags: 4}}}\n"},
        {"edge-duplicate-map-key", "SignalStateResponse",
         "{processId: p, handlers: {15: {action: USER, mask: [], flags: 0},"
         " 0xf: {action: IGNORE, mask: [], flags: 0}}}\n"},
        {"edge-union-two-keys", "ProtocolFrame", "{RequestFrame: {}, EventFrame: {}}\n"},
        {"edge-void-member", "RootFilesystemLowerDescriptor", "{BundledBaseFilesystemLower: ~}\n"},
        {"edge-void-type", "CreateLayerRequest", "null\n"},
        {"edge-enum-bad", "DisposeVmRequest", "reason: LATER\n"},
        {"edge-bool-words", "RootFilesystemEntry",
         "{path: a, kind: FILE, executable: yes, mode: null, content: ''}\n"},
        {"edge-base64-bad", "WriteStdinRequest", "processId: p\nchunk: \"A*==\"\n"},
        {"edge-not-utf8", "RejectedResponse", "code: \"\\xff\"\nmessage: \xc3\x28\n"},
        {"edge-syntax", "ProtocolSchema", "name: [x\n"},
        {"edge-indentation", "ProtocolSchema", "name: x\n  version: 1\n"},
    };
    for (size_t i = 0; i < sizeof sx / sizeof sx[0]; i++)
        put_yaml(sx[i].name, &sx_schema, 0, sx[i].type, sx[i].text);
    /* UTF-16LE with a byte order mark: "code: x\nmessage: y\n" */
    uint8_t u16[3 + 2 * 19] = {0};
    const char *ascii = "code: x\nmessage: y\n";
    u16[0] = index_of(&sx_schema, 0, "RejectedResponse");
    u16[1] = 0xff;
    u16[2] = 0xfe;
    for (size_t i = 0; i < 19; i++)
        u16[3 + 2 * i] = (uint8_t)ascii[i];
    put("fuzz_yaml", "edge-utf16-bom", u16, 3 + 2 * 19);

    /* nesting around the depth limit (64) in the recursive schema */
    static char deep[4096];
    for (int depth = 60; depth <= 70; depth += 10) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            n += (size_t)snprintf(deep + n, sizeof deep - n, "{Neg: {operand: ");
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{Lit: {value: -1}}");
        for (int i = 0; i < depth; i++)
            n += (size_t)snprintf(deep + n, sizeof deep - n, "}}");
        snprintf(deep + n, sizeof deep - n, "\n");
        put_yaml(depth == 60 ? "edge-rec-Expr-60-deep" : "edge-rec-Expr-70-deep", &rec_schema,
                 sx_schema.count, "Expr", deep);
    }
    put_yaml("edge-rec-Vars-keys", &rec_schema, sx_schema.count, "Vars",
             "? complex\n: {Lit: {value: 1}}\n\"\": {Vars: {}}\n'null': {Neg: {operand: null}}\n");
    put_yaml("edge-rec-Tree-block", &rec_schema, sx_schema.count, "Tree",
             "name: root\nchildren:\n- name: a\n  children: []\n- {name: b, children: [{name: c, "
             "children: []}]}\n");
}

/* ---- fuzz_vmconfig: CreateVm configs (JSON written with ' for ") ---- */

static const struct vm_config {
    const char *name, *json;
} vm_configs[] = {
    {"seed-empty", "{}"},
    {"seed-nulls",
     "{'cwd': null, 'env': null, 'rootFilesystem': null, 'permissions': null, 'limits': null,"
     " 'dns': null, 'nativeRoot': null, 'listen': null, 'loopbackExemptPorts': null,"
     " 'jsRuntime': null}"},
    {"seed-full", vmconfig_full},
    {"seed-permissions",
     "{'permissions': {'fs': {'default': 'allow', 'rules': [{'mode': 'deny', 'operations':"
     " ['write'], 'paths': ['/etc/**']}]}, 'network': 'ask', 'childProcess': {'rules':"
     " [{'mode': 'allow', 'operations': ['spawn'], 'patterns': ['node', 'sh', 'python3']}]},"
     " 'process': 'allow', 'env': {'default': 'deny', 'rules': [{'mode': 'allow', 'operations':"
     " ['read'], 'patterns': ['HOME', 'PATH', 'L*']}]}, 'tool': 'deny'}}"},
    {"seed-env-cwd",
     "{'cwd': '/work/./app//', 'env': {'HOME': '/home/user', 'LANG': 'C.UTF-8', 'EMPTY': '',"
     " 'NUL': 'a\\u0000b', 'PATH': '/usr/bin:/bin'}}"},
    {"seed-limits",
     "{'limits': {'resources': {'maxProcesses': 18446744073709551615, 'maxOpenFds': 1,"
     " 'maxMemoryBytes': 9223372036854775808, 'maxCpuTimeMs': 1000, 'maxWallTimeMs': 5000,"
     " 'maxProcessArgvBytes': 64, 'maxProcessEnvBytes': 64}, 'http': {'maxFetchResponseBytes':"
     " 1}, 'tools': {'defaultToolTimeoutMs': 5, 'maxToolTimeoutMs': 5}}}"},
    {"seed-bootstrap",
     "{'rootFilesystem': {'mode': 'ephemeral', 'disableDefaultBaseLayer': true, 'lowers':"
     " [{'kind': 'snapshot', 'entries': [{'path': '/opt', 'kind': 'directory'}]},"
     " {'kind': 'bundledBaseFilesystem'}], 'bootstrapEntries': [{'path': '/a', 'kind': 'file',"
     " 'content': 'YQ=='}, {'path': '/b', 'kind': 'file', 'content': 'x\\u00e9',"
     " 'encoding': 'utf8', 'executable': true}, {'path': '/c', 'kind': 'file', 'content': '',"
     " 'encoding': 'base64'}, {'path': '/l', 'kind': 'symlink', 'target': 'a', 'mode': 41453},"
     " {'path': '/d', 'kind': 'directory', 'mode': 17407, 'uid': 1000, 'gid': 1000}]}}"},
    {"seed-dns-listen-js",
     "{'dns': {'nameServers': ['9.9.9.9', '[::1]:5353'], 'overrides': {'a.example':"
     " ['10.0.0.1'], 'B.example.': ['::2']}}, 'listen': {'portMin': 3000, 'portMax': 3000},"
     " 'loopbackExemptPorts': [5432], 'jsRuntime': {'platform': 'node', 'moduleResolution':"
     " 'none', 'allowedBuiltins': []}}"},
    {"seed-native-root",
     "{'nativeRoot': {'plugin': {'id': 'host_dir', 'config': {'hostPath': '/x'}},"
     " 'readOnly': true}}"},
    {"edge-bad-json", "{'cwd': }"},
    {"edge-trailing-garbage", "{} {}"},
    {"edge-not-object", "[]"},
    {"edge-unknown-field", "{'foo': 1}"},
    {"edge-duplicate-key", "{'env': {'A': '1', 'B': '2', 'A': '3'}}"},
    {"edge-nul-key", "{'env': {'\\u0000': 'x'}}"},
    {"edge-dotdot-path", "{'rootFilesystem': {'bootstrapEntries': [{'path': '/a/../b',"
                         " 'kind': 'file'}]}}"},
    {"edge-unnormal-path", "{'rootFilesystem': {'bootstrapEntries': [{'path': '/a//b/',"
                           " 'kind': 'directory'}]}}"},
    {"edge-bad-base64", "{'rootFilesystem': {'bootstrapEntries': [{'path': '/a', 'kind': 'file',"
                        " 'content': 'YR==', 'encoding': 'base64'}]}}"},
    {"edge-symlink-no-target", "{'rootFilesystem': {'bootstrapEntries': [{'path': '/l',"
                               " 'kind': 'symlink'}]}}"},
    {"edge-mode-type-bits", "{'rootFilesystem': {'bootstrapEntries': [{'path': '/d',"
                            " 'kind': 'directory', 'mode': 33188}]}}"},
    {"edge-empty-rule-list", "{'permissions': {'fs': {'rules': [{'mode': 'allow',"
                             " 'operations': [], 'paths': ['*']}]}}}"},
    {"edge-big-and-negative",
     "{'limits': {'resources': {'maxPipes': -5, 'maxProcesses': 9223372036854775808}}}"},
    {"edge-too-big", "{'limits': {'resources': {'maxPipes': 18446744073709551616}}}"},
    {"edge-zero-limit", "{'limits': {'resources': {'maxProcesses': 0}}}"},
    {"edge-tool-timeouts", "{'limits': {'tools': {'defaultToolTimeoutMs': 10,"
                           " 'maxToolTimeoutMs': 5}}}"},
    {"edge-fetch-over-frame", "{'limits': {'http': {'maxFetchResponseBytes': 2097152}}}"},
    {"edge-dns-same-host", "{'dns': {'overrides': {'A.': ['1.2.3.4'], 'a': ['::1']}}}"},
    {"edge-dns-bad-server", "{'dns': {'nameServers': ['1.2.3.4:0', '[::1']}}"},
    {"edge-listen-reversed", "{'listen': {'portMin': 2, 'portMax': 1}}"},
    {"edge-builtins-browser", "{'jsRuntime': {'platform': 'browser', 'allowedBuiltins':"
                              " ['fs']}}"},
    {"edge-native-root-bootstrap", "{'nativeRoot': {'plugin': {'id': 'x'}}, 'rootFilesystem':"
                                   " {'bootstrapEntries': [{'path': '/a', 'kind': 'file'}]}}"},
};

/* A config as JSON: ' becomes ", and (for YAML) line breaks spaces. */
static void json_of(const char *text, char *out, size_t cap, bool one_line)
{
    size_t n = strlen(text);
    if (n >= cap)
        die("json_of", text);
    for (size_t i = 0; i <= n; i++)
        out[i] = text[i] == '\'' ? '"' : one_line && text[i] == '\n' ? ' ' : text[i];
}

static void vmconfig_seeds(void)
{
    static char json[8192];
    for (size_t i = 0; i < sizeof vm_configs / sizeof vm_configs[0]; i++) {
        json_of(vm_configs[i].json, json, sizeof json, false);
        put("fuzz_vmconfig", vm_configs[i].name, json, strlen(json));
    }
    /* bytes jansson must refuse */
    put("fuzz_vmconfig", "edge-not-utf8", "{\"cwd\": \"\xff\"}", 13);
    put("fuzz_vmconfig", "edge-nul-byte", "{\"cwd\": \"/\"}\0", 13);
}

static const char *vm_config(const char *name)
{
    for (size_t i = 0; i < sizeof vm_configs / sizeof vm_configs[0]; i++)
        if (strcmp(vm_configs[i].name, name) == 0)
            return vm_configs[i].json;
    die("no such config", name);
    return NULL;
}

/* ---- fuzz_spawnspec: specs made by sv_spec_create, then cut and damaged ---- */

static uint8_t *spec_bytes(const sv_spawn_t *s, size_t *n)
{
    int fd = sv_spec_create(s);
    if (fd < 0)
        die("sv_spec_create", strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *p = malloc(size > 0 ? (size_t)size : 1);
    if (size <= 0 || !p || pread(fd, p, (size_t)size, 0) != (ssize_t)size)
        die("spawn spec", "cannot read it back");
    close(fd);
    *n = (size_t)size;
    return p;
}

static void spawnspec_seeds(void)
{
    static const char *ops_rw[] = {"read", "write"}, *ops_all[] = {"*"};
    static const char *paths[] = {"/tmp/**", "/home/user/*"}, *pats[] = {"tcp://127.0.0.1:*"};
    static sc_perm_rule_t fs_rules[] = {{SC_PERM_ALLOW, ops_rw, 2, paths, 2},
                                        {SC_PERM_DENY, ops_all, 1, paths + 1, 1}};
    static sc_perm_rule_t net_rules[] = {{SC_PERM_ASK, ops_all, 1, pats, 1}};
    static const char *argv_sh[] = {"sh", "-c", "echo 'a b'", "", NULL};
    static const char *envp_sh[] = {"HOME=/home/user", "EMPTY=", NULL};
    static const char *argv_true[] = {"true", NULL};
    static const char *argv_node[] = {"node",     "--no-warnings", "-e", "1",
                                      "isolated", "/m.wasm",       NULL};
    static const char *envp_node[] = {"PATH=/usr/bin:/bin", "PWD=/", "TMPDIR=/tmp", NULL};
    sc_policy_t deny, mixed;
    memset(&deny, 0, sizeof deny);
    memset(&mixed, 0, sizeof mixed);
    for (int d = 0; d < SC_DOMAIN_COUNT; d++)
        deny.domains[d].default_mode = mixed.domains[d].default_mode = SC_PERM_DENY;
    mixed.domains[SC_DOMAIN_FS].rules = fs_rules;
    mixed.domains[SC_DOMAIN_FS].nrules = 2;
    mixed.domains[SC_DOMAIN_NETWORK].default_mode = SC_PERM_ALLOW;
    mixed.domains[SC_DOMAIN_NETWORK].rules = net_rules;
    mixed.domains[SC_DOMAIN_NETWORK].nrules = 1;
    const struct {
        const char *name;
        sv_spawn_t s;
    } specs[] = {
        {"seed-sh", {"sh", argv_sh, 4, envp_sh, 2, "/home/user", SC_FS_ACCESS_READ_ONLY, &mixed}},
        {"seed-true", {"/bin/true", argv_true, 1, NULL, 0, "/", SC_FS_ACCESS_POLICY, &deny}},
        {"seed-wasm", {"node", argv_node, 6, envp_node, 3, "/tmp", SC_FS_ACCESS_NONE, &mixed}},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        size_t n;
        uint8_t *p = spec_bytes(&specs[i].s, &n);
        put("fuzz_spawnspec", specs[i].name, p, n);
        if (i > 0) {
            free(p);
            continue;
        }
        /* the first one cut short, one byte longer, and with its header damaged */
        const size_t cuts[] = {0,
                               sizeof(sv_spawn_spec_t) - 1,
                               sizeof(sv_spawn_spec_t),
                               sizeof(sv_spawn_spec_t) + 3,
                               n / 2,
                               n - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            char name[64];
            snprintf(name, sizeof name, "edge-cut-%zu", cuts[k]);
            put("fuzz_spawnspec", name, p, cuts[k]);
        }
        uint8_t *q = malloc(n + 1);
        if (!q)
            die("spawn spec", "out of memory");
        memcpy(q, p, n);
        q[n] = 'x';
        put("fuzz_spawnspec", "edge-trailing-byte", q, n + 1);
        sv_spawn_spec_t h;
        memcpy(&h, p, sizeof h);
        const struct {
            const char *name;
            size_t at;
            uint32_t value;
        } damage[] = {{"edge-bad-magic", offsetof(sv_spawn_spec_t, magic), 0x12345678u},
                      {"edge-argc-zero", offsetof(sv_spawn_spec_t, argc), 0},
                      {"edge-argc-huge", offsetof(sv_spawn_spec_t, argc), 1u << 20},
                      {"edge-envc-one-more", offsetof(sv_spawn_spec_t, envc), h.envc + 1},
                      {"edge-fs-access-7", offsetof(sv_spawn_spec_t, fs_access), 7}};
        for (size_t k = 0; k < sizeof damage / sizeof damage[0]; k++) {
            memcpy(q, p, n);
            memcpy(q + damage[k].at, &damage[k].value, sizeof damage[k].value);
            put("fuzz_spawnspec", damage[k].name, q, n);
        }
        free(q);
        free(p);
    }
    /* Numbers the reader takes but the writer never writes: " 2", "+0", "002". */
    static const char strs[] = "f\0a\0/\0 2\0+0\0"
                               "002\0"
                               "0\0";
    sv_spawn_spec_t h;
    uint8_t buf[sizeof h + sizeof strs];
    memset(&h, 0, sizeof h);
    h.magic = SV_SPEC_MAGIC;
    h.argc = 1;
    h.strings_len = sizeof strs - 1;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, strs, sizeof strs - 1);
    put("fuzz_spawnspec", "edge-noncanonical-numbers", buf, sizeof h + sizeof strs - 1);
}

/* ---- fuzz_sidecar: conversations as the sidecar's stdin ---- */

#define OWN_CONN "{ConnectionOwnership: {connectionId: conn-1}}"
#define OWN_SESSION "{SessionOwnership: {connectionId: conn-1, sessionId: session-1}}"
#define OWN_VM "{VmOwnership: {connectionId: conn-1, sessionId: session-1, vmId: vm-1}}"
#define AUTH                                                                                       \
    "{AuthenticateRequest: {clientName: fuzz, authToken: token, protocolVersion: 7,"               \
    " bridgeVersion: 1}}"
#define OPEN_SESSION                                                                               \
    "{OpenSessionRequest: {placement: {SidecarPlacementShared: {pool: default}},"                  \
    " metadata: {team: fuzz}}}"
#define DISPOSE "{DisposeVmRequest: {reason: REQUESTED}}"

/* The stdin stream: the byte that picks the piece size, then frames (length, ProtocolFrame). */
typedef struct convo {
    bare_writer_t w;
    long long next_id;
} convo_t;

static void convo_start(convo_t *c, uint8_t piece)
{
    bare_writer_init(&c->w, NULL, NULL);
    c->next_id = 1;
    if (bare_write_u8(&c->w, piece) != BARE_OK)
        die("convo", "out of memory");
}

static void convo_raw(convo_t *c, const void *bytes, size_t n)
{
    if (bare_write_bytes(&c->w, bytes, n) != BARE_OK)
        die("convo", "out of memory");
}

/* A frame given as YAML. */
static void convo_frame(convo_t *c, const char *yaml)
{
    bare_writer_t f;
    bare_error_t err;
    uint8_t head[BARE_FRAME_HEADER_SIZE];
    bare_writer_init(&f, NULL, NULL);
    if (bare_yaml_to_bare(&sx_protocol_frame_desc, yaml, strlen(yaml), NULL, &f, &err) != BARE_OK) {
        fprintf(stderr, "%s\n", yaml);
        die(bare_error_message(&err), bare_error_path(&err));
    }
    bare_frame_header_encode(head, (uint32_t)f.len);
    convo_raw(c, head, sizeof head);
    convo_raw(c, f.buf, f.len);
    bare_writer_free(&f);
}

/* A request with the next id. */
static void convo_request(convo_t *c, const char *ownership, const char *payload)
{
    static char yaml[16384];
    int n = snprintf(yaml, sizeof yaml,
                     "RequestFrame: {schema: {name: secure-exec-sidecar, version: 7},"
                     " requestId: %lld, ownership: %s, payload: %s}",
                     c->next_id++, ownership, payload);
    if (n < 0 || (size_t)n >= sizeof yaml)
        die("convo_request", payload);
    convo_frame(c, yaml);
}

static void convo_create_vm(convo_t *c, const char *runtime, const char *config)
{
    static char json[8192], payload[9000];
    json_of(vm_config(config), json, sizeof json, true);
    snprintf(payload, sizeof payload, "{CreateVmRequest: {runtime: %s, config: '%s'}}", runtime,
             json);
    convo_request(c, OWN_SESSION, payload);
}

/* Authenticate, OpenSession and (when config) CreateVm: conn-1, session-1, vm-1. */
static void convo_open(convo_t *c, uint8_t piece, const char *runtime, const char *config)
{
    convo_start(c, piece);
    convo_request(c, OWN_CONN, AUTH);
    convo_request(c, OWN_CONN, OPEN_SESSION);
    if (config)
        convo_create_vm(c, runtime, config);
}

static void convo_put(convo_t *c, const char *name)
{
    put("fuzz_sidecar", name, c->w.buf, c->w.len);
    bare_writer_free(&c->w);
}

static void sidecar_seeds(void)
{
    convo_t c;
    static const struct {
        const char *config, *runtime;
        uint8_t piece;
        bool dispose;
    } creates[] = {
        {"seed-empty", "JAVA_SCRIPT", 63, true},
        {"seed-full", "PYTHON", 0, true},
        {"seed-permissions", "WEB_ASSEMBLY", 6, true},
        {"seed-env-cwd", "JAVA_SCRIPT", 16, true},
        {"seed-limits", "JAVA_SCRIPT", 31, true},
        {"seed-bootstrap", "PYTHON", 2, false},
        {"seed-dns-listen-js", "JAVA_SCRIPT", 40, true},
        {"seed-native-root", "JAVA_SCRIPT", 63, false},
        {"edge-unknown-field", "JAVA_SCRIPT", 63, false},
        {"edge-bad-json", "PYTHON", 63, false},
    };
    for (size_t i = 0; i < sizeof creates / sizeof creates[0]; i++) {
        char name[96];
        convo_open(&c, creates[i].piece, creates[i].runtime, creates[i].config);
        if (creates[i].dispose)
            convo_request(&c, OWN_VM, DISPOSE);
        snprintf(name, sizeof name, "%s-create-vm-%s",
                 creates[i].config[0] == 's' ? "seed" : "edge", creates[i].config + 5);
        convo_put(&c, name);
    }

    /* ConfigureVm: permissions, tiers and ports; mounts (of a host directory too: refused
     * without VM filesystems, before any host path is opened); a bad rule; WASM with the tiers */
    convo_open(&c, 63, "WEB_ASSEMBLY", "seed-empty");
    convo_request(&c, OWN_VM,
                  "{ConfigureVmRequest: {mounts: [], software: [{packageName: left-pad, root:"
                  " /opt/left-pad}], permissions: {fs: {FsPermissionRuleSet: {default: ALLOW,"
                  " rules: [{mode: DENY, operations: [write], paths: [/etc/**]}]}}, childProcess:"
                  " {PermissionMode: ALLOW}, env: {PatternPermissionRuleSet: {rules: [{mode: ALLOW,"
                  " operations: [read], patterns: ['*']}]}}, process: {PermissionMode: ALLOW},"
                  " network: {PatternPermissionRuleSet: {default: ASK, rules: []}}},"
                  " moduleAccessCwd: /app, instructions: [be nice], projectedModules:"
                  " [{packageName: p, entrypoint: /p.js}], commandPermissions: {python: READ_ONLY,"
                  " wasm: ISOLATED, tool: READ_WRITE}, loopbackExemptPorts: [8080, 5432]}}");
    convo_request(&c, OWN_VM,
                  "{ConfigureVmRequest: {mounts: [{guestPath: /mnt, readOnly: true, plugin: {id:"
                  " memory, config: '{\"size\": 1}'}}, {guestPath: /host, readOnly: false,"
                  " plugin: {id: host_dir, config: '{\"hostPath\": \"/tmp\"}'}}], software: [],"
                  " instructions: [],"
                  " projectedModules: [], commandPermissions: {}, loopbackExemptPorts: []}}");
    convo_request(&c, OWN_VM,
                  "{ConfigureVmRequest: {mounts: [], software: [], permissions: {fs:"
                  " {FsPermissionRuleSet: {rules: [{mode: ALLOW, operations: [], paths: [/]}]}}},"
                  " instructions: [], projectedModules: [], commandPermissions: {'': FULL},"
                  " loopbackExemptPorts: []}}");
    convo_request(&c, OWN_VM,
                  "{ExecuteRequest: {processId: w1, runtime: WEB_ASSEMBLY, entrypoint: /m.wasm,"
                  " args: [x], env: {}}}");
    convo_request(&c, OWN_VM,
                  "{ExecuteRequest: {processId: w2, runtime: WEB_ASSEMBLY, entrypoint: /m.wasm,"
                  " args: [], env: {}, wasmPermissionTier: READ_ONLY}}");
    convo_request(&c, OWN_VM, DISPOSE);
    convo_put(&c, "seed-configure-vm");

    /* every filesystem request (refused: this sidecar has no VM filesystems) */
    convo_open(&c, 9, "JAVA_SCRIPT", "seed-bootstrap");
    static const char *const fs_requests[] = {
        "{BootstrapRootFilesystemRequest: {entries: [{path: /etc/motd, kind: FILE, content: hi,"
        " executable: false}, {path: /l, kind: SYMLINK, executable: false}]}}",
        "{CreateLayerRequest: null}",
        "{SealLayerRequest: {layerId: layer-1}}",
        "{ImportSnapshotRequest: {entries: [{path: /a, kind: DIRECTORY, mode: 493, uid: 0,"
        " gid: 0, executable: false}]}}",
        "{ExportSnapshotRequest: {layerId: layer-1}}",
        "{CreateOverlayRequest: {mode: READ_ONLY, upperLayerId: layer-2, lowerLayerIds:"
        " [layer-1]}}",
        "{GuestFilesystemCallRequest: {operation: READ_FILE, path: /etc/motd, recursive: false}}",
        "{GuestFilesystemCallRequest: {operation: WRITE_FILE, path: /tmp/x, content: aGk=,"
        " encoding: BASE64, recursive: false, mode: 420}}",
        "{GuestFilesystemCallRequest: {operation: RENAME, path: /a, destinationPath: /b,"
        " recursive: true}}",
        "{GuestFilesystemCallRequest: {operation: PREAD, path: /a, recursive: false, len: 10,"
        " offset: 2}}",
        "{SnapshotRootFilesystemRequest: null}",
    };
    for (size_t i = 0; i < sizeof fs_requests / sizeof fs_requests[0]; i++)
        convo_request(&c, OWN_VM, fs_requests[i]);
    convo_request(&c, OWN_VM, DISPOSE);
    convo_put(&c, "seed-filesystem-requests");

    /* processes: Execute (refused before any fork: no host), then every process request */
    convo_open(&c, 12, "JAVA_SCRIPT", "seed-permissions");
    static const char *const proc_requests[] = {
        "{ExecuteRequest: {processId: p1, command: sh, args: ['-c', 'echo hi'], env: {A: b},"
        " cwd: /tmp}}",
        "{ExecuteRequest: {processId: p2, runtime: JAVA_SCRIPT, entrypoint: /app/main.js, args:"
        " [], env: {HOME: /root}}}",
        "{ExecuteRequest: {processId: p3, runtime: PYTHON, entrypoint: 'print(1)', args: [], env:"
        " {}, cwd: /a/./b/}}",
        "{ExecuteRequest: {processId: p4, runtime: PYTHON, entrypoint: /x.py, args: [], env: {}}}",
        "{ExecuteRequest: {processId: p5, command: rm, args: [], env: {}}}",
        "{ExecuteRequest: {processId: '', command: sh, args: [], env: {}}}",
        "{ExecuteRequest: {processId: \"a\\tb\", command: sh, args: [], env: {}}}",
        "{ExecuteRequest: {processId: p6, command: \"s\\0h\", args: [], env: {}}}",
        "{ExecuteRequest: {processId: p7, command: sh, args: [\"a\\0\"], env: {}}}",
        "{ExecuteRequest: {processId: p8, command: sh, args: [], env: {'A=B': c}}}",
        "{ExecuteRequest: {processId: p9, args: [], env: {}}}",
        "{ExecuteRequest: {processId: p10, runtime: JAVA_SCRIPT, args: [], env: {}}}",
        "{ExecuteRequest: {processId: p11, command: sh, args: [], env: {}, cwd: relative}}",
        "{WriteStdinRequest: {processId: p1, chunk: !!binary aGk=}}",
        "{CloseStdinRequest: {processId: p1}}",
        "{KillProcessRequest: {processId: p1, signal: SIGTERM}}",
        "{KillProcessRequest: {processId: p1, signal: ' 9 '}}",
        "{KillProcessRequest: {processId: p1, signal: BOGUS}}",
        "{KillProcessRequest: {processId: p1, signal: ''}}",
        "{GetProcessSnapshotRequest: null}",
        "{FindListenerRequest: {host: 127.0.0.1, port: 8080}}",
        "{FindListenerRequest: {path: /tmp/sock}}",
        "{FindListenerRequest: {}}",
        "{FindBoundUdpRequest: {host: 0.0.0.0, port: 53}}",
        "{GetSignalStateRequest: {processId: p1}}",
        "{GetZombieTimerCountRequest: null}",
        "{RegisterHostCallbacksRequest: {name: t, description: d, commandAliases: [],"
        " registryCommandAliases: [], callbacks: {}}}",
        "{VmFetchRequest: {port: 8080, method: GET, path: /, headersJson: '{}'}}",
        "{ExtEnvelope: {namespace: acme.test, payload: !!binary AAE=}}",
        "{HostFilesystemCallRequest: {operation: READ, path: /x, payloadSizeBytes: 0}}",
        "{PersistenceLoadRequest: {key: k}}",
        "{PersistenceFlushRequest: {key: k, payloadSizeBytes: 1}}",
    };
    for (size_t i = 0; i < sizeof proc_requests / sizeof proc_requests[0]; i++)
        convo_request(&c, OWN_VM, proc_requests[i]);
    convo_request(&c, OWN_VM, DISPOSE);
    convo_put(&c, "seed-process-requests");

    /* authentication failures */
    convo_start(&c, 63);
    convo_request(&c, OWN_CONN,
                  "{AuthenticateRequest: {clientName: fuzz, authToken: wrong, protocolVersion: 7,"
                  " bridgeVersion: 1}}");
    convo_request(&c, OWN_CONN,
                  "{AuthenticateRequest: {clientName: fuzz, authToken: token, protocolVersion: 6,"
                  " bridgeVersion: 1}}");
    convo_request(&c, OWN_CONN,
                  "{AuthenticateRequest: {clientName: fuzz, authToken: token, protocolVersion: 7,"
                  " bridgeVersion: 2}}");
    convo_request(&c, OWN_SESSION, AUTH);
    convo_request(&c, OWN_CONN, OPEN_SESSION);
    convo_put(&c, "edge-authentication");

    /* ownership: wrong scopes, unknown ids, another connection's session and VM */
    convo_open(&c, 63, "JAVA_SCRIPT", "seed-empty");
    convo_request(&c, OWN_CONN, AUTH); /* conn-2 */
    convo_request(&c, OWN_SESSION, OPEN_SESSION);
    convo_request(&c, OWN_CONN, DISPOSE);
    convo_request(&c, "{VmOwnership: {connectionId: conn-1, sessionId: session-1, vmId: vm-9}}",
                  DISPOSE);
    convo_request(&c, "{VmOwnership: {connectionId: conn-2, sessionId: session-1, vmId: vm-1}}",
                  DISPOSE);
    convo_request(&c, "{SessionOwnership: {connectionId: conn-2, sessionId: session-1}}",
                  "{CreateVmRequest: {runtime: PYTHON, config: '{}'}}");
    convo_request(&c, "{ConnectionOwnership: {connectionId: conn-2}}",
                  "{OpenSessionRequest: {placement: {SidecarPlacementExplicit: {sidecarId: fuzz}},"
                  " metadata: {}}}");
    convo_request(&c, "{SessionOwnership: {connectionId: conn-2, sessionId: session-2}}",
                  "{CreateVmRequest: {runtime: PYTHON, config: '{}'}}");
    convo_request(&c, "{VmOwnership: {connectionId: conn-2, sessionId: session-2, vmId: vm-2}}",
                  DISPOSE);
    convo_request(&c, OWN_VM, DISPOSE);
    convo_request(&c, OWN_VM, DISPOSE);
    convo_put(&c, "edge-ownership");

    /* frames that are wrong as frames */
    convo_start(&c, 63);
    convo_frame(&c, "RequestFrame: {schema: {name: secure-exec-sidecar, version: 6}, requestId: 1,"
                    " ownership: " OWN_CONN ", payload: " AUTH "}");
    convo_frame(&c, "RequestFrame: {schema: {name: other, version: 7}, requestId: 2,"
                    " ownership: " OWN_CONN ", payload: " AUTH "}");
    convo_frame(&c, "RequestFrame: {schema: {name: secure-exec-sidecar, version: 7}, requestId: 0,"
                    " ownership: " OWN_CONN ", payload: " AUTH "}");
    convo_frame(&c, "RequestFrame: {schema: {name: secure-exec-sidecar, version: 7}, requestId: -5,"
                    " ownership: " OWN_CONN ", payload: " AUTH "}");
    convo_frame(&c,
                "ResponseFrame: {schema: {name: secure-exec-sidecar, version: 7}, requestId: 3,"
                " ownership: " OWN_CONN ", payload: {RejectedResponse: {code: x, message: y}}}");
    convo_frame(&c,
                "EventFrame: {schema: {name: secure-exec-sidecar, version: 7}, ownership: " OWN_VM
                ", payload: {VmLifecycleEvent: {state: READY}}}");
    convo_frame(&c, "SidecarRequestFrame: {schema: {name: secure-exec-sidecar, version: 7},"
                    " requestId: 4, ownership: " OWN_CONN ", payload: {ExtEnvelope: {namespace: n,"
                    " payload: !!binary AA==}}}");
    convo_frame(&c, "SidecarResponseFrame: {schema: {name: secure-exec-sidecar, version: 7},"
                    " requestId: 5, ownership: " OWN_CONN ", payload: {ExtEnvelope: {namespace: n,"
                    " payload: !!binary AA==}}}");
    /* a request whose payload does not decode (unknown member), then an empty frame */
    uint8_t raw[64];
    size_t n = unhex("00000023 00 13 7365637572652d657865632d73696465636172 0700"
                     " 0900000000000000 00 0163 1c 00000000",
                     raw, sizeof raw);
    convo_raw(&c, raw, n);
    convo_put(&c, "edge-bad-frames");

    /* a good request, then a frame over the limit whose head names request 9, cut short */
    convo_start(&c, 50);
    convo_request(&c, OWN_CONN, AUTH);
    n = unhex("00010001 00 13 7365637572652d657865632d73696465636172 0700 0900000000000000 00"
              " 0163 00 04 66757a7a",
              raw, sizeof raw);
    convo_raw(&c, raw, n);
    convo_put(&c, "edge-oversize");

    /* a frame cut short by the end of the stream */
    convo_start(&c, 3);
    convo_request(&c, OWN_CONN, AUTH);
    convo_raw(&c, "\0\0\1\0RequestFrame", 16);
    convo_put(&c, "edge-truncated");
}

/* ---- fuzz_cbproto: the records of callback requests, as secure-exec-callback writes them ---- */

typedef struct recs {
    uint8_t b[512];
    size_t n;
} recs_t;

static void rec(recs_t *r, int tag, const void *p, size_t n)
{
    if (r->n + 5 + n > sizeof r->b)
        die("rec", "too long");
    r->b[r->n++] = (uint8_t)tag;
    for (int i = 0; i < 4; i++)
        r->b[r->n++] = (uint8_t)(n >> (8 * i));
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

/* Records given as text: "A:docs|C:/|a:find" (a tag, ':', the value; '|' between records). */
static void put_recs(const char *name, const char *text)
{
    recs_t r = {{0}, 0};
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n < 2 || p[1] != ':')
            die("put_recs", text);
        rec(&r, p[0], p + 2, n - 2);
        p += n + (end != NULL);
    }
    put("fuzz_cbproto", name, r.b, r.n);
}

static void cbproto_seeds(void)
{
    static const struct {
        const char *name, *text;
    } reqs[] = {
        {"seed-flags", "A:docs|C:/home/user|a:find|a:--query|a:bare frames|a:--max-results|a:3"},
        {"seed-no-args", "A:docs|C:/"},
        {"seed-json", "A:docs|C:/tmp|a:find|a:--json|a:{\"query\":\"x\",\"tags\":[\"a\"]}"},
        {"seed-json-file", "A:docs|C:/work|a:find|a:--json-file|a:in.json|"
                           "F:{\"query\": \"from a file\"}\n"},
        {"seed-registry", "A:git|C:/repo|a:status|a:--short|a:"},
        {"edge-out-of-order", "a:find|C:/|a:--json|A:docs|a:{}"},
        {"edge-unknown-tag", "A:docs|C:/|Z:what"},
        {"edge-two-aliases", "A:docs|A:docs|C:/"},
        {"edge-no-cwd", "A:docs|a:find"},
        {"edge-two-files", "A:docs|C:/|a:find|a:--json-file|a:x|F:{}|F:{}"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        put_recs(reqs[i].name, reqs[i].text);
    recs_t r = {{0}, 0};
    /* a file that is not text, and a file errno (ENOENT, 0, -1, 3 bytes) */
    rec(&r, SC_CB_ALIAS, "docs", 4);
    rec(&r, SC_CB_CWD, "/", 1);
    rec(&r, SC_CB_ARG, "find", 4);
    rec(&r, SC_CB_ARG, "--json-file", 11);
    rec(&r, SC_CB_ARG, "/dev/zero", 9);
    size_t base = r.n;
    rec(&r, SC_CB_FILE, "\0\xff\0", 3);
    put("fuzz_cbproto", "seed-file-binary", r.b, r.n);
    static const struct {
        const char *name;
        const char *le;
        size_t n;
    } errs[] = {{"seed-file-error", "\2\0\0\0", 4},
                {"edge-file-error-zero", "\0\0\0\0", 4},
                {"edge-file-error-negative", "\xff\xff\xff\xff", 4},
                {"edge-file-error-3-bytes", "\2\0\0", 3}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        r.n = base;
        rec(&r, SC_CB_FILE_ERR, errs[i].le, errs[i].n);
        put("fuzz_cbproto", errs[i].name, r.b, r.n);
    }
    r.n = base;
    rec(&r, SC_CB_FILE, "{}", 2);
    rec(&r, SC_CB_FILE_ERR, "\2\0\0\0", 4);
    put("fuzz_cbproto", "edge-file-and-error", r.b, r.n);
    /* NUL in an argument; a record cut short, or longer than the request */
    r.n = 0;
    rec(&r, SC_CB_ALIAS, "docs", 4);
    rec(&r, SC_CB_CWD, "/", 1);
    rec(&r, SC_CB_ARG, "a\0b", 3);
    put("fuzz_cbproto", "edge-nul-in-arg", r.b, r.n);
    put("fuzz_cbproto", "edge-empty", "", 0);
    put("fuzz_cbproto", "edge-cut-header", "A\4\0\0", 4);
    put("fuzz_cbproto", "edge-too-long", "A\x10\0\0\0docs", 9);
    put("fuzz_cbproto", "edge-huge-length", "A\xff\xff\xff\xff", 5);
}

/* ---- fuzz_jbjson: js_bridge results (JSON written with ' for ") and error texts ---- */

/* a stat without atimeMs, mtimeMs and uid: each seed adds its own */
#define JB_STAT_JSON                                                                               \
    "'mode': 33188, 'size': 5, 'blocks': 8, 'dev': 1, 'rdev': 0, 'isDirectory': false,"            \
    " 'isSymbolicLink': false, 'ctimeMs': 7, 'birthtimeMs': 0, 'ino': 42, 'nlink': 1, 'gid': 1000"

static void jbjson_seeds(void)
{
    /* the first byte: the reader (fuzz_jbjson.c's order) and, above it, the bound */
    enum { JB_BYTES, JB_STAT, JB_DIR, JB_DIR_TYPES, JB_READLINK, JB_REALPATH, JB_BOOL, JB_ERROR };
    static const struct {
        const char *name;
        int pick, bound;
        const char *text;
    } results[] = {
        {"seed-bytes-base64", JB_BYTES, 5, "'aGVsbG8='"},
        {"seed-bytes-array", JB_BYTES, 30, "[104, 105, 0, 255]"},
        {"seed-bytes-empty", JB_BYTES, 0, "''"},
        {"seed-bytes-unbounded", JB_BYTES, 31,
         "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj'"},
        {"edge-bytes-over-bound", JB_BYTES, 4, "'aGVsbG8='"},
        {"edge-bytes-array-over-bound", JB_BYTES, 3, "[1, 2, 3, 4]"},
        {"edge-bytes-trailing-bits", JB_BYTES, 30, "'aGl='"},
        {"edge-bytes-bad-char", JB_BYTES, 30, "'a*=='"},
        {"edge-bytes-unpadded", JB_BYTES, 30, "'aGk'"},
        {"edge-bytes-out-of-range", JB_BYTES, 30, "[0, 256, -1]"},
        {"edge-bytes-real", JB_BYTES, 30, "[1.5]"},
        {"edge-bytes-object", JB_BYTES, 30, "{}"},
        {"seed-stat", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 1700000000123, 'mtimeMs': 1700000000456.75, 'uid': 1000}"},
        {"seed-stat-snake-nsec", JB_STAT, 0,
         "{'mode': 16877, 'size': 4096, 'blocks': 8, 'dev': 1, 'rdev': 0, 'is_directory': true,"
         " 'is_symbolic_link': false, 'atime_ms': 1, 'mtime_ms': 2, 'ctime_ms': 3,"
         " 'birthtime_ms': 4, 'ino': 1, 'nlink': 2, 'uid': 0, 'gid': 0, 'mtimeNsec': 999,"
         " 'birthtime_nsec': 5}"},
        {"edge-stat-both-names", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 1, 'mtimeMs': 2, 'uid': 0, 'is_directory': false}"},
        {"edge-stat-dir-and-link", JB_STAT, 0,
         "{'mode': 1, 'size': 0, 'blocks': 0, 'dev': 0, 'rdev': 0, 'isDirectory': true,"
         " 'isSymbolicLink': true, 'atimeMs': 0, 'mtimeMs': 0, 'ctimeMs': 0, 'birthtimeMs': 0,"
         " 'ino': 0, 'nlink': 0, 'uid': 0, 'gid': 0}"},
        {"edge-stat-limits", JB_STAT, 0,
         "{'mode': 4294967295, 'size': 9223372036854775807, 'blocks': 0, 'dev': 0, 'rdev': 0,"
         " 'isDirectory': false, 'isSymbolicLink': false, 'atimeMs': 8999999999999998.0,"
         " 'mtimeMs': 0.000001, 'ctimeMs': 9223372036854775807, 'birthtimeMs': 0, 'ino': 0,"
         " 'nlink': 0, 'uid': 4294967295, 'gid': 0, 'ctimeNsec': 999999999}"},
        {"edge-stat-uid-over", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 1, 'mtimeMs': 2, 'uid': 4294967296}"},
        {"edge-stat-time-over", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 9e15, 'mtimeMs': 2, 'uid': 0}"},
        {"edge-stat-time-negative", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 1, 'mtimeMs': -0.5, 'uid': 0}"},
        {"edge-stat-nsec-over", JB_STAT, 0,
         "{" JB_STAT_JSON ", 'atimeMs': 1, 'mtimeMs': 2, 'uid': 0, 'atimeNsec': 1000000000}"},
        {"edge-stat-missing", JB_STAT, 0, "{'mode': 1}"},
        {"edge-stat-duplicate-key", JB_STAT, 0, "{'mode': 1, 'mode': 2}"},
        {"edge-stat-not-json", JB_STAT, 0, "{nope"},
        {"seed-dir", JB_DIR, 10, "['a', '.', 'b c', '..', '\xc3\xa9']"},
        {"seed-dir-empty", JB_DIR, 0, "[]"},
        {"edge-dir-over-bound", JB_DIR, 2, "['a', 'b', '.', 'c']"},
        {"edge-dir-bad-names", JB_DIR, 10, "['a/b', '']"},
        {"edge-dir-not-strings", JB_DIR, 10, "[1, null]"},
        {"seed-dir-types", JB_DIR_TYPES, 10,
         "[{'name': 'd', 'isDirectory': true, 'isSymbolicLink': false}, {'name': 'l',"
         " 'is_directory': false, 'is_symbolic_link': true}, {'name': '..', 'isDirectory': 1}]"},
        {"edge-dir-types-missing", JB_DIR_TYPES, 10, "[{'name': 'a'}]"},
        {"edge-dir-types-both-names", JB_DIR_TYPES, 10,
         "[{'name': 'a', 'isDirectory': true, 'is_directory': true, 'isSymbolicLink': false}]"},
        {"edge-dir-types-plain", JB_DIR_TYPES, 10, "['a']"},
        {"edge-dir-types-over-bound", JB_DIR_TYPES, 0,
         "[{'name': 'a', 'isDirectory': false, 'isSymbolicLink': false}]"},
        {"seed-readlink", JB_READLINK, 0, "'../target'"},
        {"edge-readlink-empty", JB_READLINK, 0, "''"},
        {"edge-readlink-nul", JB_READLINK, 0, "'a\\u0000b'"},
        {"seed-realpath", JB_REALPATH, 0, "'/a/b'"},
        {"edge-realpath-relative", JB_REALPATH, 0, "'a/b'"},
        {"seed-exists", JB_BOOL, 0, "true"},
        {"edge-exists-number", JB_BOOL, 0, "1"},
        {"seed-error-enoent", JB_ERROR, 0, "ENOENT: no such file or directory, open '/x'"},
        {"seed-error-eacces", JB_ERROR, 0, "Error: EACCES: permission denied"},
        {"seed-error-eexist", JB_ERROR, 0, "EEXIST: file already exists"},
        {"seed-error-other", JB_ERROR, 0, "EISDIR: illegal operation on a directory"},
        {"edge-error-case", JB_ERROR, 0, "Not Found"},
    };
    static char text[1024];
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        text[0] = (char)(results[i].pick | results[i].bound << 3);
        if (results[i].pick == JB_ERROR)
            snprintf(text + 1, sizeof text - 1, "%s", results[i].text);
        else
            json_of(results[i].text, text + 1, sizeof text - 1, false);
        put("fuzz_jbjson", results[i].name, text, 1 + strlen(text + 1));
    }
    /* only the given bytes count: a NUL does not end the text */
    put("fuzz_jbjson", "edge-error-nul", "\7x\0EPERM", 9);
}

/* ---- fuzz_toolinput: host callback commands (options, schema, alias, cwd, arguments) ---- */

/* The options byte of fuzz_toolinput.c. */
enum {
    TI_FILE = 1,
    TI_FILE_ENOENT = 2,
    TI_FILE_ERRNO = 3,
    TI_ASK = 4,
    TI_TIMEOUT = 8,
    TI_RESULT = 16
};

#define TI_SCHEMA                                                                                  \
    "{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"}, \"maxResults\":"   \
    " {\"type\": \"integer\"}, \"verbose\": {\"type\": \"boolean\"}, \"tags\": {\"type\":"         \
    " \"array\", \"items\": {\"type\": \"string\"}}, \"ratio\": {\"type\": \"number\"},"           \
    " \"flags\": {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}}}, \"required\":"        \
    " [\"query\"], \"additionalProperties\": false}"

/* The options byte, then the parts (up to NULL) with a NUL byte between them. */
static void put_tool(const char *name, int opt, ...)
{
    static char buf[4096];
    size_t n = 0;
    va_list ap;
    buf[n++] = (char)opt;
    va_start(ap, opt);
    const char *part;
    for (bool first = true; (part = va_arg(ap, const char *)) != NULL; first = false) {
        size_t len = strlen(part);
        if (n + 1 + len > sizeof buf)
            die("put_tool", name);
        if (!first)
            buf[n++] = '\0';
        memcpy(buf + n, part, len);
        n += len;
    }
    va_end(ap);
    put("fuzz_toolinput", name, buf, n);
}

static void toolinput_seeds(void)
{
    const char *S = TI_SCHEMA;
    put_tool("seed-flags", 0, S, "kit", "/home/user", "tool", "--query", "bare frames",
             "--max-results", "3", "--no-verbose", "--tags", "a", "--tags", "b", "--ratio", "0.5",
             "--flags", "true", NULL);
    put_tool("seed-json", TI_TIMEOUT, S, "k", "/tmp", "tool", "--json",
             "{\"query\": \"x\", \"maxResults\": 2, \"ratio\": 1e21}", NULL);
    put_tool("seed-json-file", TI_FILE, S, "kit", "/work", "tool", "--json-file", "in.json",
             "{\"query\": \"from a file\", \"verbose\": true}\n", NULL);
    put_tool("seed-json-file-enoent", TI_FILE_ENOENT, S, "kit", "/", "tool", "--json-file",
             "missing.json", NULL);
    put_tool("seed-json-file-errno", TI_FILE_ERRNO, S, "kit", "/", "tool", "--json-file", "x",
             NULL);
    put_tool("seed-no-input", 0, "{\"type\": \"object\"}", "kit", "/", "tool", NULL);
    put_tool("seed-no-properties", 0, "{\"type\": \"string\"}", "kit", "/", "tool", "a", "--b", "",
             NULL);
    put_tool("seed-registry", 0, S, "reg", "/repo", "status", "--short", "", NULL);
    put_tool("seed-registry-both", TI_TIMEOUT, "{}", "both", "/", NULL);
    put_tool("seed-other-toolkit", 0, "{}", "more", "/", "t", "--x", "1", NULL);
    put_tool("seed-result-json", TI_RESULT, "{\"answer\": [1, 2.5, \"x\", null, true, {}]}", NULL);
    put_tool("seed-result-text", TI_RESULT, "hello\nworld", NULL);
    put_tool("seed-result-reals", TI_RESULT, "[0.1, -0.0, 1e-7, 1e21, 123456789012345680000.0]",
             NULL);
    put_tool("edge-result-nul", TI_RESULT, "a", "b", NULL);
    put_tool("edge-unknown-alias", 0, S, "nope", "/", "tool", NULL);
    put_tool("edge-no-tool", 0, S, "kit", "/", NULL);
    put_tool("edge-unknown-tool", 0, S, "kit", "/", "other", NULL);
    put_tool("edge-policy-ask", TI_ASK, S, "kit", "/", "tool", "--query", "q", NULL);
    put_tool("edge-positional", 0, S, "kit", "/", "tool", "stray", NULL);
    put_tool("edge-unknown-flag", 0, S, "kit", "/", "tool", "--nope", "1", NULL);
    put_tool("edge-negated-string", 0, S, "kit", "/", "tool", "--no-query", NULL);
    put_tool("edge-no-value", 0, S, "kit", "/", "tool", "--query", NULL);
    put_tool("edge-bad-integer", 0, S, "kit", "/", "tool", "--query", "q", "--max-results", "3.5",
             NULL);
    put_tool("edge-integer-overflow", 0, S, "kit", "/", "tool", "--query", "q", "--max-results",
             "9223372036854775808", NULL);
    put_tool("edge-infinite-number", 0, S, "kit", "/", "tool", "--query", "q", "--ratio", "1e400",
             NULL);
    put_tool("edge-hex-number", 0, S, "kit", "/", "tool", "--query", "q", "--ratio", "0x10", NULL);
    put_tool("edge-bad-boolean", 0, S, "kit", "/", "tool", "--query", "q", "--flags", "yes", NULL);
    put_tool("edge-missing-required", 0, S, "kit", "/", "tool", "--max-results", "1", NULL);
    put_tool("edge-repeated-scalar", 0, S, "kit", "/", "tool", "--query", "a", "--query", "b",
             NULL);
    put_tool("edge-json-violation", 0, S, "kit", "/", "tool", "--json", "{\"query\": 1}", NULL);
    put_tool("edge-json-additional", 0, S, "kit", "/", "tool", "--json",
             "{\"query\": \"x\", \"extra\": 1}", NULL);
    put_tool("edge-json-not-object", 0, S, "kit", "/", "tool", "--json", "[1]", NULL);
    put_tool("edge-json-bad", 0, S, "kit", "/", "tool", "--json", "{nope", NULL);
    put_tool("edge-json-nul", 0, S, "kit", "/", "tool", "--json", "{\"query\": \"a\\u0000b\"}",
             NULL);
    put_tool("edge-json-file-missing", 0, S, "kit", "/", "tool", "--json-file", "x", NULL);
    put_tool("edge-json-file-not-utf8", TI_FILE, S, "kit", "/", "tool", "--json-file", "x",
             "\"\xff\"", NULL);
    put_tool("edge-not-utf8", 0, "{\"type\": \"object\", \"properties\": {\"q\": {}}}", "kit",
             "/\xc3", "tool", "--q", "\xe2\x82", NULL);
    put_tool("edge-registry-not-utf8", 0, "{}", "reg", "/\xff", "\xed\xa0\x80", "\xf0\x9f", NULL);
    put_tool("edge-kebab-clash", 0,
             "{\"type\": \"object\", \"properties\": {\"fooBar\": {\"type\": \"integer\"},"
             " \"foo-bar\": {\"type\": \"string\"}, \"noCache\": {\"type\": \"boolean\"}}}",
             "kit", "/", "tool", "--foo-bar", "x", "--no-cache", NULL);
    put_tool("edge-schema-not-json", 0, "{", "kit", "/", "tool", NULL);
    static char deep[128];
    for (int i = 0; i < 34; i++)
        deep[i] = '[';
    for (int i = 0; i < 34; i++)
        deep[34 + i] = ']';
    put_tool("edge-schema-too-deep", 0, deep, "kit", "/", "tool", NULL);
}

int main(int argc, char **argv)
{
    bare_arena_t arena;
    if (argc != 2) {
        fprintf(stderr, "usage: seed_gen CORPUS-DIR\n");
        return 2;
    }
    root = argv[1];
    bare_arena_init(&arena, NULL, NULL);
    frame_seeds(&arena);
    frame_edges();
    big_map_edges();
    type_seeds(&arena);
    type_edges();
    yaml_seeds(&arena);
    yaml_edges();
    vmconfig_seeds();
    spawnspec_seeds();
    sidecar_seeds();
    cbproto_seeds();
    jbjson_seeds();
    toolinput_seeds();
    bare_arena_free(&arena);
    printf("  SEED    %d files in %s\n", written, root);
    return 0;
}
