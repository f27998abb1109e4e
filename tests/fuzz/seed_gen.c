/*
 * seed_gen.c - writes the generated seeds of the fuzz corpora (`make fuzz-seed`): frames of every
 * payload member of every frame kind for fuzz_frame, values of every root type for fuzz_types,
 * and hand-made edge cases for both. Deterministic: every run writes the same files.
 * usage: seed_gen CORPUS-DIR   (writes CORPUS-DIR/fuzz_frame/ and CORPUS-DIR/fuzz_types/)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "recursive.h"
#include "secure_exec_sidecar_v1.h"
#include "../value_gen.h"

static const char *root;
static int written;

static void die(const char *what, const char *detail)
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
    bare_arena_free(&arena);
    printf("  SEED    %d files in %s\n", written, root);
    return 0;
}
