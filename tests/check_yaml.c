/*
 * check_yaml.c - libbare's YAML codec (bare_yaml_to_bare, bare_to_yaml, bare_frames_to_yaml):
 * round trips of every protocol type through the generated descriptors and through ones built
 * at run time by schemac_load (identical YAML and bytes), exact texts, every YAML error class
 * with line, column and path, and BARE rejects identical to the generated decoders'.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recursive.h"
#include "schemac.h"
#include "secure_exec_sidecar_v1.h"
#include "value_gen.h"

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif

/* Every kind once, and map keys of each key kind, for what the protocol schema lacks. */
static const char kinds_schema[] =
    "type Color enum { RED GREEN = 5 BLUE }\n"
    "type Empty void\n"
    "type Point struct { x: f64 y: f64 }\n"
    "type All struct {\n"
    "  u: uint\n  i: int\n  a: u8\n  b: u16\n  c: u32\n  d: u64\n"
    "  e: i8\n  f: i16\n  g: i32\n  h: i64\n  j: f32\n  k: f64\n"
    "  flag: bool\n  name: str\n  blob: data\n  digest: data[4]\n  color: Color\n"
    "  maybe: optional<Point>\n  triple: list<i32>[3]\n"
    "  shape: union { Point | Empty = 3 | struct { r: f64 } | str }\n"
    "}\n"
    "type Keys struct {\n"
    "  bs: map<bool><u8>\n  es: map<Color><u8>\n  is: map<i16><u8>\n  ds: map<data><u8>\n"
    "  fs: map<data[2]><u8>\n  ss: map<str><u8>\n"
    "}\n"
    "type F32 f32\n"
    "type F64 f64\n"
    "type Digest data[4]\n"
    "type Strs list<str>\n";

static schemac_loaded_t proto, rec, kinds;

static void load(schemac_loaded_t *l, const char *path, const char *text, bool legacy)
{
    schemac_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.schema_path = path;
    opt.text = text;
    opt.text_len = text ? strlen(text) : 0;
    opt.legacy = legacy;
    ck_assert_int_eq(schemac_load(&opt, stderr, l), SCHEMAC_OK);
}

static void setup(void)
{
    load(&proto, SOURCE_DIR "/schema/secure_exec_sidecar_v1.bare", NULL, false);
    load(&rec, SOURCE_DIR "/tests/schemas/recursive.bare", NULL, true);
    load(&kinds, "kinds.bare", kinds_schema, false);
}

static void teardown(void)
{
    schemac_loaded_free(&proto);
    schemac_loaded_free(&rec);
    schemac_loaded_free(&kinds);
}

static const bare_type_desc_t *rt(const schemac_loaded_t *l, const char *name)
{
    const bare_type_desc_t *d = bare_schema_find(&l->schema, name);
    ck_assert_msg(d != NULL, "no type %s", name);
    ck_assert_uint_eq(d->c_size, 0); /* built at run time: no C layout */
    return d;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
        ck_assert_uint_lt(n, cap);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* bare_to_yaml into a NUL-terminated string (malloc'd), asserting success. */
static char *to_yaml(const bare_type_desc_t *d, const void *bytes, size_t n)
{
    bare_writer_t w;
    bare_error_t err;
    bare_writer_init(&w, NULL, NULL);
    int rc = bare_to_yaml(d, bytes, n, NULL, &w, &err);
    ck_assert_msg(rc == BARE_OK, "%s: bare_to_yaml: %s at byte %zu (%s)", d->name,
                  bare_strerror(rc), err.offset, bare_error_path(&err));
    char *s = malloc(w.len + 1);
    ck_assert_ptr_nonnull(s);
    if (w.len)
        memcpy(s, w.buf, w.len);
    s[w.len] = '\0';
    bare_writer_free(&w);
    return s;
}

/* bare_yaml_to_bare of a C string, asserting success; the caller frees the writer. */
static void to_bare(const bare_type_desc_t *d, const char *yaml, bare_writer_t *w)
{
    bare_error_t err;
    bare_writer_init(w, NULL, NULL);
    int rc = bare_yaml_to_bare(d, yaml, strlen(yaml), NULL, w, &err);
    ck_assert_msg(rc == BARE_OK, "%s: bare_yaml_to_bare: %s at %u:%u (%s): %s\n%s", d->name,
                  bare_strerror(rc), err.line, err.column, bare_error_path(&err),
                  bare_error_message(&err), yaml);
}

/* ---- round trips of every type, generated and run-time descriptors side by side ---- */

static void round_trip_schema(const bare_schema_desc_t *gen, const schemac_loaded_t *l, size_t i)
{
    const bare_type_desc_t *d = gen->types[i];
    const bare_type_desc_t *r = rt(l, d->name);
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (uint64_t seed = 1; seed <= 30; seed++) {
        value_gen_t g = {seed * 0x9E3779B97F4A7C15ull + i, &arena, 5, 4};
        void *v = bare_arena_alloc(&arena, d->c_size, 16);
        bare_writer_t w, b1, b2;
        value_gen_fill(&g, d, v);
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_encode(d, &w, v), BARE_OK);

        char *y1 = to_yaml(d, w.buf, w.len);
        char *y2 = to_yaml(r, w.buf, w.len);
        ck_assert_msg(strcmp(y1, y2) == 0, "%s: generated and run-time YAML differ:\n%s\n%s",
                      d->name, y1, y2);
        to_bare(d, y1, &b1);
        to_bare(r, y1, &b2);
        ck_assert_msg(b1.len == w.len && (w.len == 0 || memcmp(b1.buf, w.buf, w.len) == 0),
                      "%s seed %llu: YAML did not encode back to the same bytes:\n%s", d->name,
                      (unsigned long long)seed, y1);
        ck_assert_uint_eq(b2.len, w.len);
        if (w.len)
            ck_assert_mem_eq(b2.buf, w.buf, w.len);
        free(y1);
        free(y2);
        bare_writer_free(&w);
        bare_writer_free(&b1);
        bare_writer_free(&b2);
    }
    bare_arena_free(&arena);
}

START_TEST(test_round_trip_every_protocol_type)
{
    round_trip_schema(&sx_schema, &proto, (size_t)_i);
}
END_TEST

START_TEST(test_round_trip_every_recursive_type)
{
    round_trip_schema(&rec_schema, &rec, (size_t)_i);
}
END_TEST

START_TEST(test_run_time_descriptors_match_generated)
{
    ck_assert_uint_eq(proto.schema.count, sx_schema.count);
    for (size_t i = 0; i < sx_schema.count; i++) {
        const bare_type_desc_t *g = sx_schema.types[i], *r = proto.schema.types[i];
        ck_assert_str_eq(g->name, r->name);
        ck_assert_int_eq(g->kind, r->kind);
        ck_assert_uint_eq(g->count, r->count);
        for (size_t j = 0; j < g->count && g->kind == BARE_KIND_UNION; j++) {
            ck_assert_str_eq(g->members[j].name, r->members[j].name);
            ck_assert_uint_eq(g->members[j].tag, r->members[j].tag);
        }
        for (size_t j = 0; j < g->count && g->kind == BARE_KIND_STRUCT; j++)
            ck_assert_str_eq(g->fields[j].name, r->fields[j].name);
    }
    /* recursive types point at each other */
    const bare_type_desc_t *add = rt(&rec, "Add"), *expr = rt(&rec, "Expr");
    ck_assert_ptr_eq(add->fields[0].type, expr);
    ck_assert_ptr_eq(expr->members[1].type, add);
}
END_TEST

/* ---- exact texts ---- */

static const char auth_yaml[] = "RequestFrame:\n"
                                "  schema:\n"
                                "    name: secure-exec-sidecar\n"
                                "    version: 7\n"
                                "  requestId: 7\n"
                                "  ownership:\n"
                                "    ConnectionOwnership:\n"
                                "      connectionId: conn-1\n"
                                "  payload:\n"
                                "    AuthenticateRequest:\n"
                                "      clientName: generated-test\n"
                                "      authToken: token\n"
                                "      protocolVersion: 7\n"
                                "      bridgeVersion: 1\n";

/* protocol-core.md §1.3, generated_protocol_matches_cross_language_auth_frame_bytes */
static const char auth_hex[] = "00 13 7365637572652d657865632d73696465636172 0700 "
                               "0700000000000000 00 06 636f6e6e2d31 00 "
                               "0e 67656e6572617465642d74657374 05 746f6b656e 0700 01000000";

START_TEST(test_auth_frame_text)
{
    uint8_t bytes[128];
    size_t n = unhex(auth_hex, bytes, sizeof bytes);
    const bare_type_desc_t *descs[2] = {&sx_protocol_frame_desc, rt(&proto, "ProtocolFrame")};
    for (int i = 0; i < 2; i++) {
        char *y = to_yaml(descs[i], bytes, n);
        ck_assert_str_eq(y, auth_yaml);
        free(y);
        bare_writer_t w;
        to_bare(descs[i], auth_yaml, &w);
        ck_assert_uint_eq(w.len, n);
        ck_assert_mem_eq(w.buf, bytes, n);
        bare_writer_free(&w);
    }
}
END_TEST

/* Hand-checked texts of single values: YAML in, the expected BARE hex, the expected YAML out. */
static const struct text_case {
    const char *type, *yaml, *hex, *out;
} text_cases[] = {
    /* enum by name, void member as {Name: null}, union by member name */
    {"DisposeVmRequest", "reason: HOST_SHUTDOWN", "02", "reason: HOST_SHUTDOWN\n"},
    {"RootFilesystemLowerDescriptor", "{BundledBaseFilesystemLower: ~}", "01",
     "BundledBaseFilesystemLower: null\n"},
    {"FsPermissionScope", "PermissionMode: DENY", "00 02", "PermissionMode: DENY\n"},
    /* optional absent as null (or omitted), present as the value */
    {"ProcessStartedResponse", "{processId: p, pid: null}", "0170 00", "processId: p\npid: null\n"},
    {"ProcessStartedResponse", "{processId: p}", "0170 00", "processId: p\npid: null\n"},
    {"ProcessStartedResponse", "{processId: p, pid: 4294967295}", "0170 01 ffffffff",
     "processId: p\npid: 4294967295\n"},
    /* data as !!binary base64, with or without the tag */
    {"WriteStdinRequest", "{processId: p, chunk: !!binary AAEC/w==}", "0170 04 000102ff",
     "processId: p\nchunk: !!binary AAEC/w==\n"},
    {"WriteStdinRequest", "{processId: p, chunk: \"AAEC/w\"}", "0170 04 000102ff",
     "processId: p\nchunk: !!binary AAEC/w==\n"},
    {"WriteStdinRequest", "{processId: p, chunk: \"\"}", "0170 00",
     "processId: p\nchunk: !!binary \"\"\n"},
    /* maps as mappings with keys in the key type's form; empty collections in flow style */
    {"SignalStateResponse", "{processId: p, handlers: {15: {action: USER, mask: [2], flags: 4}}}",
     "0170 01 0f000000 02 01 02000000 04000000",
     "processId: p\nhandlers:\n  15:\n    action: USER\n    mask:\n    - 2\n    flags: 4\n"},
    {"StructuredEvent", "{name: ev, detail: {}}", "026576 00", "name: ev\ndetail: {}\n"},
    /* strings that would read as something else are quoted */
    {"RejectedResponse", "{code: \"404\", message: \"null\"}", "03343034 046e756c6c",
     "code: \"404\"\nmessage: \"null\"\n"},
    /* 64-bit integers exact, both ends */
    {"RequestId", "-9223372036854775808", "0000000000000080", "-9223372036854775808\n"},
    {"ZombieTimerCountResponse", "{count: 18446744073709551615}", "ffffffffffffffff",
     "count: 18446744073709551615\n"},
    {"ZombieTimerCountResponse", "{count: 0x10}", "1000000000000000", "count: 16\n"},
    /* a named void type on its own */
    {"CreateLayerRequest", "null", "", "null\n"},
};

START_TEST(test_text_cases)
{
    const struct text_case *t = &text_cases[_i];
    uint8_t want[256];
    size_t n = unhex(t->hex, want, sizeof want);
    const bare_type_desc_t *descs[2] = {bare_schema_find(&sx_schema, t->type), rt(&proto, t->type)};
    ck_assert_ptr_nonnull(descs[0]);
    for (int i = 0; i < 2; i++) {
        bare_writer_t w;
        to_bare(descs[i], t->yaml, &w);
        ck_assert_msg(w.len == n && (n == 0 || memcmp(w.buf, want, n) == 0), "%s: %s", t->type,
                      t->yaml);
        char *y = to_yaml(descs[i], w.buf, w.len);
        ck_assert_str_eq(y, t->out);
        free(y);
        bare_writer_free(&w);
    }
}
END_TEST

START_TEST(test_every_kind_and_key_kind)
{
    static const char all[] = "u: 18446744073709551615\n"
                              "i: -9223372036854775808\n"
                              "a: 255\n"
                              "b: 65535\n"
                              "c: 4294967295\n"
                              "d: 18446744073709551615\n"
                              "e: -128\n"
                              "f: -32768\n"
                              "g: -2147483648\n"
                              "h: 9223372036854775807\n"
                              "j: 0.1\n"
                              "k: -0.0\n"
                              "flag: true\n"
                              "name: \"é\\ttab\"\n"
                              "blob: !!binary AQID\n"
                              "digest: !!binary AAAAAA==\n"
                              "color: GREEN\n"
                              "maybe:\n"
                              "  x: .inf\n"
                              "  \"y\": 1.0e+300\n"
                              "triple:\n"
                              "- 1\n"
                              "- -2\n"
                              "- 3\n"
                              "shape:\n"
                              "  \"4\":\n"
                              "    r: 2.5\n";
    static const char keys[] = "bs:\n"
                               "  true: 1\n"
                               "  false: 0\n"
                               "es:\n"
                               "  BLUE: 6\n"
                               "is:\n"
                               "  -5: 1\n"
                               "ds:\n"
                               "  !!binary AAE=: 2\n"
                               "fs:\n"
                               "  !!binary AAE=: 3\n"
                               "ss:\n"
                               "  \"\": 4\n"
                               "  \"true\": 5\n";
    const char *texts[2] = {all, keys};
    const char *types[2] = {"All", "Keys"};
    for (int i = 0; i < 2; i++) {
        bare_writer_t w;
        to_bare(rt(&kinds, types[i]), texts[i], &w);
        char *y = to_yaml(rt(&kinds, types[i]), w.buf, w.len);
        ck_assert_str_eq(y, texts[i]);
        free(y);
        bare_writer_free(&w);
    }
}
END_TEST

/* Every f64 and f32 that is not a NaN reads back bit for bit; NaN is .nan. */
START_TEST(test_floats_round_trip_exactly)
{
    const bare_type_desc_t *f64 = rt(&kinds, "F64"), *f32 = rt(&kinds, "F32");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    static const struct {
        double v;
        const char *text;
    } fixed[] = {{0.1, "0.1\n"},         {1.0, "1.0\n"},         {-0.0, "-0.0\n"},
                 {1e300, "1.0e+300\n"},  {5e-324, "5.0e-324\n"}, {INFINITY, ".inf\n"},
                 {-INFINITY, "-.inf\n"}, {NAN, ".nan\n"},        {123456.789, "123456.789\n"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        uint8_t b[8];
        memcpy(b, &fixed[i].v, 8);
        char *y = to_yaml(f64, b, 8);
        ck_assert_str_eq(y, fixed[i].text);
        free(y);
    }
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int is32 = i & 1;
        uint8_t b[8];
        uint32_t lo = (uint32_t)x;
        memcpy(b, is32 ? (void *)&lo : (void *)&x, is32 ? 4 : 8);
        double v;
        float fv;
        memcpy(&fv, b, 4);
        memcpy(&v, b, 8);
        if (is32 ? isnan(fv) : isnan(v))
            continue;
        char *y = to_yaml(is32 ? f32 : f64, b, is32 ? 4u : 8u);
        bare_writer_t w;
        to_bare(is32 ? f32 : f64, y, &w);
        ck_assert_msg(w.len == (is32 ? 4u : 8u) && memcmp(w.buf, b, w.len) == 0, "%s", y);
        free(y);
        bare_writer_free(&w);
    }
}
END_TEST

START_TEST(test_strings_that_look_like_other_things)
{
    static const char *const strs[] = {
        "",      "null", "~",    "NULL",  "true",   "False", "yes",      "on",          "y",
        "12",    "-3",   "0x1F", "0o7",   "1e3",    ".5",    ".inf",     "-.inf",       ".nan",
        "- x",   "#",    "a: b", " lead", "trail ", "\t",    "\x01\x7f", "line\nbreak", "é€😀",
        "\"'\\", "<<",   "=",    "? k",   "[x]",    "{y}",   "!tag",     "&a",          "*a",
        "|",     ">",    "%",    "@",     "`",      ",",     "---",      "..."};
    const bare_type_desc_t *d = rt(&kinds, "Strs");
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    size_t n = sizeof strs / sizeof strs[0];
    ck_assert_int_eq(bare_write_uint(&w, n), BARE_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(bare_write_str(&w, bare_str_from_cstr(strs[i])), BARE_OK);
    char *y = to_yaml(d, w.buf, w.len);
    bare_writer_t back;
    to_bare(d, y, &back);
    ck_assert_uint_eq(back.len, w.len);
    ck_assert_mem_eq(back.buf, w.buf, w.len);
    /* and a plain-text reader sees strings: no null, bool or number left unquoted */
    ck_assert_ptr_null(strstr(y, "- null\n"));
    ck_assert_ptr_null(strstr(y, "- true\n"));
    ck_assert_ptr_null(strstr(y, "- 12\n"));
    ck_assert_ptr_null(strstr(y, "- yes\n"));
    ck_assert_ptr_nonnull(strstr(y, "- \"\"\n"));
    free(y);
    bare_writer_free(&w);
    bare_writer_free(&back);
}
END_TEST

/* YAML 1.1's implicit types (PyYAML, Psych) and 1.2 core's: quoted exactly when one matches. */
/* clang-format off: one pair per cell reads better than one per line */
static const struct quote_case {
    const char *text;
    bool quoted;
} quote_cases[] = {{"2001-12-14t21:59:43.10-05:00", true},
                   {"2001-12-14 21:59:43.10 -5", true},
                   {"2001-12-15T02:59:43.1Z", true},
                   {"2002-12-14", true},
                   {"2001-1-1", true},
                   {"190:20:30", true},
                   {"190:20:30.15", true},
                   {"-1:30", true},
                   {"yes", true},
                   {"No", true},
                   {"ON", true},
                   {"off", true},
                   {"y", true},
                   {"N", true},
                   {"yEs", true},
                   {"tRUE", true},
                   {"0b1010", true},
                   {"-0b1_0", true},
                   {"0o17", true},
                   {"017", true},
                   {"0x_1F", true},
                   {"1_000", true},
                   {"+685_230", true},
                   {"1,000", true},
                   {".inf", true},
                   {"-.Inf", true},
                   {".NaN", true},
                   {"~", true},
                   {"nuLL", true},
                   {"<<", true},
                   {"=", true},
                   {"1.", true},
                   {"1.2.3", true},
                   {"6.8523015e+5", true},
                   {"685.230_15e+03", true},
                   {"1e3", true},
                   {":sym", true},
                   {"12345678901234567890123456789012345678901234567890123456789012345678901234"
                    "5678901234567890123456789_0",
                    true},
                   {"hello", false},
                   {"1-2", false},
                   {"nully", false},
                   {"0b", false},
                   {"12:60", false},
                   {"x:1", false},
                   {"2001-12-14x", false},
                   {"yess", false},
                   {"0x", false},
                   {"1e", false},
                   {"1:2:3:x", false},
                   {"processId", false},
                   {"t", false},
                   {"<", false},
                   {"-1-", false}};
/* clang-format on */

START_TEST(test_quoting_decisions)
{
    const struct quote_case *q = &quote_cases[_i];
    const bare_type_desc_t *d = rt(&kinds, "Strs");
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_write_uint(&w, 1), BARE_OK);
    ck_assert_int_eq(bare_write_str(&w, bare_str_from_cstr(q->text)), BARE_OK);
    char *y = to_yaml(d, w.buf, w.len);
    char want[256];
    snprintf(want, sizeof want, q->quoted ? "- \"%s\"\n" : "- %s\n", q->text);
    ck_assert_str_eq(y, want);
    free(y);
    bare_writer_free(&w);
}
END_TEST

/* ---- YAML errors: status, line:column, path and detail ---- */

static const struct yaml_error {
    const char *schema; /* "p" protocol, "k" kinds, "r" recursive */
    const char *type, *yaml;
    int status;
    unsigned line, column;
    const char *path, *detail;
} yaml_errors[] = {
    {"p", "ProtocolSchema", "name: [x\n", BARE_E_YAML_SYNTAX, 2, 1, "", "flow sequence"},
    {"p", "ProtocolSchema", "name: x\n  version: 1\n", BARE_E_YAML_SYNTAX, 2, 10, "",
     "mapping values are not allowed"},
    {"p", "ProtocolSchema", "", BARE_E_YAML_SYNTAX, 1, 1, "", "no YAML document"},
    {"p", "ProtocolSchema", "--- {name: a, version: 1}\n--- {}\n", BARE_E_YAML_SYNTAX, 2, 1, "",
     "second YAML document"},
    {"p", "ProtocolSchema", "name: &n a\nversion: *n\n", BARE_E_YAML_SYNTAX, 2, 10, "", "aliases"},
    {"p", "ProtocolSchema", "name: a\nversion: 70000\n", BARE_E_YAML_VALUE, 2, 10, "version",
     "70000 is out of range for u16"},
    {"p", "ProtocolSchema", "name: a\nversion: -1\n", BARE_E_YAML_VALUE, 2, 10, "version",
     "out of range"},
    {"p", "ProtocolSchema", "name: a\nversion: seven\n", BARE_E_YAML_VALUE, 2, 10, "version",
     "'seven' is not an integer (u16)"},
    {"p", "ProtocolSchema", "name: a\nversion: !!str 7\n", BARE_E_YAML_TYPE, 2, 10, "version",
     "tag !!str does not fit u16"},
    {"p", "ProtocolSchema", "name: a\nversion: [7]\n", BARE_E_YAML_TYPE, 2, 10, "version",
     "expected an integer for u16, got a sequence"},
    {"p", "ProtocolSchema", "name: null\nversion: 7\n", BARE_E_YAML_TYPE, 1, 7, "name",
     "got null (quote it for the text)"},
    {"p", "ProtocolSchema", "[a, 7]\n", BARE_E_YAML_TYPE, 1, 1, "",
     "expected a mapping of the fields of ProtocolSchema, got a sequence"},
    {"p", "ProtocolSchema", "name: a\nversion: 7\nextra: 1\n", BARE_E_YAML_FIELD, 3, 1, "",
     "ProtocolSchema has no field 'extra'"},
    {"p", "ProtocolSchema", "name: a\n", BARE_E_YAML_FIELD, 1, 1, "",
     "missing field 'version' of ProtocolSchema"},
    {"p", "ProtocolSchema", "name: a\nversion: 7\nname: b\n", BARE_E_DUPLICATE_KEY, 3, 1, "",
     "field 'name' given twice"},
    {"p", "ProtocolFrame",
     "RequestFrame:\n"
     "  schema: {name: s, version: 7}\n"
     "  requestId: 1\n"
     "  ownership: {ConnectionOwnership: {connectionId: c}}\n"
     "  payload:\n"
     "    ExecuteRequest:\n"
     "      processId: p\n"
     "      args: []\n"
     "      env:\n"
     "        X: 1\n"
     "        X: 2\n",
     BARE_E_DUPLICATE_KEY, 11, 9, "RequestFrame.payload.ExecuteRequest.env[\"X\"]",
     "duplicate key"},
    {"p", "ProtocolFrame", "RequestFrame:\n  schema: {name: s, version: 7}\n  requestId: x\n",
     BARE_E_YAML_VALUE, 3, 14, "RequestFrame.requestId", "not an integer (RequestId)"},
    {"p", "ProtocolFrame", "Nope: {}\n", BARE_E_UNION_TAG, 1, 1, "",
     "'Nope' is not a member of ProtocolFrame"},
    {"p", "ProtocolFrame", "{RequestFrame: {}, EventFrame: {}}\n", BARE_E_YAML_TYPE, 1, 1, "",
     "expected a mapping with one key"},
    {"p", "OwnershipScope", "ConnectionOwnership\n", BARE_E_YAML_TYPE, 1, 1, "", "got a scalar"},
    {"p", "DisposeVmRequest", "reason: LATER\n", BARE_E_ENUM, 1, 9, "reason",
     "'LATER' is not a value of enum DisposeReason"},
    {"p", "RootFilesystemLowerDescriptor", "BundledBaseFilesystemLower: 1\n", BARE_E_YAML_TYPE, 1,
     29, "BundledBaseFilesystemLower", "expected null for void"},
    {"p", "WriteStdinRequest", "processId: p\nchunk: \"A*==\"\n", BARE_E_YAML_VALUE, 2, 8, "chunk",
     "not base64"},
    {"p", "WriteStdinRequest", "processId: p\nchunk: !!int 5\n", BARE_E_YAML_TYPE, 2, 8, "chunk",
     "tag !!int does not fit data"},
    {"p", "RootFilesystemEntry", "{path: a, kind: FILE, executable: maybe}\n", BARE_E_YAML_VALUE, 1,
     35, "executable", "'maybe' is not true or false"},
    {"p", "SignalStateResponse", "{processId: p, handlers: {[1]: x}}\n", BARE_E_YAML_TYPE, 1, 27,
     "handlers[0]", "a key of map<u32><SignalHandlerRegistration> must be a scalar"},
    {"p", "SignalStateResponse", "{processId: p, handlers: {-1: x}}\n", BARE_E_YAML_VALUE, 1, 27,
     "handlers[0]", "-1 is out of range for u32"},
    {"p", "SignalStateResponse",
     "{processId: p, handlers: {9: {action: USER, mask: [1, 2, x], flags: 0}}}\n",
     BARE_E_YAML_VALUE, 1, 58, "handlers[9].mask[2]", "'x' is not an integer"},
    {"k", "Digest", "AAE=\n", BARE_E_YAML_VALUE, 1, 1, "", "Digest needs exactly 4 bytes, got 2"},
    {"k", "F64", "1e999\n", BARE_E_YAML_VALUE, 1, 1, "", "'1e999' is not a number (F64)"},
    {"k", "F32", "1e39\n", BARE_E_YAML_VALUE, 1, 1, "", "not a number (F32)"},
    {"k", "F64", "0x10\n", BARE_E_YAML_VALUE, 1, 1, "", "not a number"},
    {"r", "Tree",
     "{name: a, children: [{name: b, children: [{name: c, children: [{name: d, children: "
     "[]}]}]}]}\n",
     BARE_E_DEPTH, 1, 64, "children[0].children[0].children[0]", "nesting deeper than 6"},
};

static const schemac_loaded_t *schema_of(const char *s)
{
    return s[0] == 'p' ? &proto : s[0] == 'k' ? &kinds : &rec;
}

START_TEST(test_yaml_errors)
{
    const struct yaml_error *t = &yaml_errors[_i];
    const bare_type_desc_t *descs[2] = {rt(schema_of(t->schema), t->type), NULL};
    if (t->schema[0] == 'p')
        descs[1] = bare_schema_find(&sx_schema, t->type);
    bare_limits_t limits = {6, 0};
    for (int i = 0; i < 2 && descs[i]; i++) {
        bare_writer_t w;
        bare_error_t err;
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_write_bytes(&w, "keep", 4), BARE_OK);
        int rc = bare_yaml_to_bare(descs[i], t->yaml, strlen(t->yaml), &limits, &w, &err);
        ck_assert_msg(rc == t->status, "%s: got %s (%s), want %s", t->yaml, bare_status_name(rc),
                      bare_error_message(&err), bare_status_name(t->status));
        ck_assert_int_eq(err.status, t->status);
        ck_assert_msg(err.line == t->line && err.column == t->column,
                      "%s: at %u:%u, want %u:%u (%s)", t->yaml, err.line, err.column, t->line,
                      t->column, bare_error_message(&err));
        ck_assert_str_eq(bare_error_path(&err), t->path);
        ck_assert_msg(strstr(bare_error_message(&err), t->detail) != NULL, "detail '%s'",
                      bare_error_message(&err));
        /* nothing appended on failure */
        ck_assert_uint_eq(w.len, 4);
        ck_assert_mem_eq(w.buf, "keep", 4);
        bare_writer_free(&w);
    }
}
END_TEST

/* ---- BARE rejects: exactly the generated decoders' status, offset and path ---- */

/* Decodes bytes with the generated decoder and through YAML with both descriptors. */
static void compare_decoders(const bare_type_desc_t *gen, const bare_type_desc_t *run,
                             const uint8_t *bytes, size_t n, bare_arena_t *arena,
                             const bare_limits_t *limits)
{
    bare_error_t eg, ey;
    void *v = bare_arena_alloc(arena, gen->c_size, 16);
    int rg = bare_decode(gen, bytes, n, arena, limits, v, &eg);
    for (int i = 0; i < 2; i++) {
        bare_writer_t w;
        bare_writer_init(&w, NULL, NULL);
        int ry = bare_to_yaml(i ? run : gen, bytes, n, limits, &w, &ey);
        ck_assert_msg(rg == ry, "%s: generated %s at %zu (%s), YAML %s at %zu (%s)", gen->name,
                      bare_status_name(rg), eg.offset, bare_error_path(&eg), bare_status_name(ry),
                      ey.offset, bare_error_path(&ey));
        if (rg != BARE_OK) {
            ck_assert_uint_eq(eg.offset, ey.offset);
            ck_assert_str_eq(bare_error_path(&eg), bare_error_path(&ey));
            ck_assert_uint_eq(w.len, 0);
        }
        bare_writer_free(&w);
    }
}

/* Random valid values, then each truncated and with random bytes changed. */
static void mutations(const bare_schema_desc_t *gen, const schemac_loaded_t *l, size_t i)
{
    const bare_type_desc_t *d = gen->types[i];
    const bare_type_desc_t *r = rt(l, d->name);
    bare_limits_t limits = {12, 0};
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (uint64_t seed = 1; seed <= 12; seed++) {
        value_gen_t g = {seed * 0xD1B54A32D192ED03ull + i, &arena, 5, 3};
        void *v = bare_arena_alloc(&arena, d->c_size, 16);
        bare_writer_t w;
        value_gen_fill(&g, d, v);
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_encode(d, &w, v), BARE_OK);
        for (size_t cut = 0; cut < w.len; cut += 1 + w.len / 24)
            compare_decoders(d, r, w.buf, cut, &arena, &limits);
        for (int m = 0; m < 24 && w.len; m++) {
            uint8_t *copy = bare_arena_alloc(&arena, w.len + 1, 1);
            memcpy(copy, w.buf, w.len);
            size_t at = (size_t)(value_gen_next(&g) % w.len);
            uint64_t pick = value_gen_next(&g) % 6;
            copy[at] = pick == 0   ? 0xff
                       : pick == 1 ? 0x80
                       : pick == 2 ? 2
                                   : (uint8_t)value_gen_next(&g);
            compare_decoders(d, r, copy, w.len, &arena, &limits);
            copy[w.len] = 0; /* a trailing byte */
            compare_decoders(d, r, copy, w.len + 1, &arena, &limits);
        }
        bare_writer_free(&w);
    }
    bare_arena_free(&arena);
}

START_TEST(test_mutated_protocol_input_is_judged_as_generated)
{
    mutations(&sx_schema, &proto, (size_t)_i);
}
END_TEST

START_TEST(test_mutated_recursive_input_is_judged_as_generated)
{
    mutations(&rec_schema, &rec, (size_t)_i);
}
END_TEST

#define FRAME_HEAD "00 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 0163"

static const struct bare_reject {
    const char *hex;
    int status;
    size_t offset;
    const char *path;
} bare_rejects[] = {
    {"", BARE_E_TRUNCATED, 0, ""},
    {"05", BARE_E_UNION_TAG, 0, ""},
    {FRAME_HEAD " 1c", BARE_E_UNION_TAG, 34, "RequestFrame.payload"},
    {FRAME_HEAD " 03 03", BARE_E_ENUM, 35, "RequestFrame.payload.DisposeVmRequest.reason"},
    {FRAME_HEAD " 0e 0170 00 00 00 00 02 0158 0131 0158 0132 00 00", BARE_E_DUPLICATE_KEY, 46,
     "RequestFrame.payload.ExecuteRequest.env[\"X\"]"},
    {FRAME_HEAD " 0e 0170 00 00 00 00 01 0158 01ff 00 00", BARE_E_UTF8, 44,
     "RequestFrame.payload.ExecuteRequest.env[\"X\"]"},
    {FRAME_HEAD " 0e 0170 02", BARE_E_OPTIONAL, 37, "RequestFrame.payload.ExecuteRequest.command"},
    {FRAME_HEAD " 0c 00 0161 00 00 00 00 02", BARE_E_BOOL, 42,
     "RequestFrame.payload.GuestFilesystemCallRequest.recursive"},
    {FRAME_HEAD " 0e 0170 00 00 00 ffffffff0f", BARE_E_LENGTH, 40,
     "RequestFrame.payload.ExecuteRequest.args"},
    {FRAME_HEAD " 8000", BARE_E_VARINT_NONCANONICAL, 34, "RequestFrame.payload"},
    {FRAME_HEAD " ffffffffffffffffff7f", BARE_E_VARINT_OVERFLOW, 34, "RequestFrame.payload"},
    {"00 13 7365", BARE_E_LENGTH, 1, "RequestFrame.schema.name"},
    {FRAME_HEAD " 07 00", BARE_E_TRAILING, 35, ""},
    /* a map count beyond what its smallest entries (key and value) could fill */
    {"01 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 0163 15 0170 03 "
     "01000000 00 0000",
     BARE_E_LENGTH, 37, "ResponseFrame.payload.SignalStateResponse.handlers"},
};

START_TEST(test_bare_rejects)
{
    const struct bare_reject *t = &bare_rejects[_i];
    uint8_t bytes[256];
    size_t n = unhex(t->hex, bytes, sizeof bytes);
    const bare_type_desc_t *descs[2] = {&sx_protocol_frame_desc, rt(&proto, "ProtocolFrame")};
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    compare_decoders(descs[0], descs[1], bytes, n, &arena, NULL);
    for (int i = 0; i < 2; i++) {
        bare_writer_t w;
        bare_error_t err;
        bare_writer_init(&w, NULL, NULL);
        int rc = bare_to_yaml(descs[i], bytes, n, NULL, &w, &err);
        ck_assert_msg(rc == t->status, "%s: got %s, want %s", t->hex, bare_status_name(rc),
                      bare_status_name(t->status));
        ck_assert_uint_eq(err.offset, t->offset);
        ck_assert_str_eq(bare_error_path(&err), t->path);
        ck_assert_uint_eq(w.len, 0);
        bare_writer_free(&w);
    }
    bare_arena_free(&arena);
}
END_TEST

START_TEST(test_depth_limit_when_decoding)
{
    /* Neg{optional<Expr>} nested 40 deep: 2 levels (union, struct) + 1 (optional) each */
    uint8_t bytes[256];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        bytes[n++] = 2; /* Expr tag Neg */
        bytes[n++] = 1; /* operand present */
    }
    bytes[n++] = 0; /* Lit */
    memset(bytes + n, 0, 8);
    n += 8;
    bare_limits_t limits = {64, 0};
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    compare_decoders(&rec_expr_desc, rt(&rec, "Expr"), bytes, n, &arena, &limits);
    bare_writer_t w;
    bare_error_t err;
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_to_yaml(rt(&rec, "Expr"), bytes, n, &limits, &w, &err), BARE_E_DEPTH);
    limits.max_depth = 200;
    ck_assert_int_eq(bare_to_yaml(rt(&rec, "Expr"), bytes, n, &limits, &w, &err), BARE_OK);
    bare_writer_free(&w);
    bare_arena_free(&arena);
}
END_TEST

/* ---- frames ---- */

static size_t frame_of(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = unhex(hex, out + 4, cap - 4);
    bare_frame_header_encode(out, (uint32_t)n);
    return n + 4;
}

START_TEST(test_frames)
{
    uint8_t stream[512];
    size_t n = frame_of(auth_hex, stream, sizeof stream);
    n += frame_of("02 13 7365637572652d657865632d73696465636172 0700 00 0163 "
                  "01 0170 01 03 6f7574",
                  stream + n, sizeof stream - n);
    const bare_type_desc_t *descs[2] = {&sx_protocol_frame_desc, rt(&proto, "ProtocolFrame")};
    for (int i = 0; i < 2; i++) {
        bare_writer_t w;
        bare_error_t err;
        size_t frames;
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], stream, n, 0, NULL, &w, &err, &frames),
                         BARE_OK);
        ck_assert_uint_eq(frames, 2);
        char *y = strndup((const char *)w.buf, w.len);
        char want[2048];
        snprintf(want, sizeof want,
                 "---\n%s---\nEventFrame:\n  schema:\n    name: secure-exec-sidecar\n"
                 "    version: 7\n  ownership:\n    ConnectionOwnership:\n      connectionId: c\n"
                 "  payload:\n    ProcessOutputEvent:\n      processId: p\n      channel: STDERR\n"
                 "      chunk: !!binary b3V0\n",
                 auth_yaml);
        ck_assert_str_eq(y, want);
        free(y);

        /* an empty stream is an empty YAML stream */
        bare_writer_reset(&w);
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], stream, 0, 0, NULL, &w, &err, &frames),
                         BARE_OK);
        ck_assert_uint_eq(frames, 0);
        ck_assert_uint_eq(w.len, 0);

        /* the stream ends inside the second frame's header, then inside its payload */
        size_t first = 4 + 67;
        ck_assert_int_eq(
            bare_frames_to_yaml(descs[i], stream, first + 2, 0, NULL, &w, &err, &frames),
            BARE_E_TRUNCATED);
        ck_assert_uint_eq(frames, 1);
        ck_assert_uint_eq(err.offset, first);
        ck_assert_uint_eq(w.len, 0);
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], stream, n - 1, 0, NULL, &w, &err, &frames),
                         BARE_E_TRUNCATED);
        ck_assert_ptr_nonnull(strstr(err.detail, "only"));
        /* a frame over the maximum */
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], stream, n, 40, NULL, &w, &err, &frames),
                         BARE_E_FRAME_TOO_LARGE);
        ck_assert_uint_eq(frames, 0);
        ck_assert_uint_eq(err.offset, 0);

        /* a bad value in the second frame: the offset counts from the start of the stream */
        uint8_t bad[512];
        memcpy(bad, stream, n);
        bad[first + 4 + 26] = 9; /* the EventPayload tag */
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], bad, n, 0, NULL, &w, &err, &frames),
                         BARE_E_UNION_TAG);
        ck_assert_uint_eq(frames, 1);
        ck_assert_uint_eq(err.offset, first + 4 + 26);
        ck_assert_str_eq(bare_error_path(&err), "EventFrame.payload");
        ck_assert_uint_eq(w.len, 0);
        bare_writer_free(&w);
    }
}
END_TEST

/* Fed a byte at a time, each frame's document appears when its last byte arrives. */
START_TEST(test_frames_incremental)
{
    uint8_t stream[512];
    size_t n = frame_of(auth_hex, stream, sizeof stream);
    size_t first = n;
    n += frame_of(auth_hex, stream + n, sizeof stream - n);
    const bare_type_desc_t *descs[2] = {&sx_protocol_frame_desc, rt(&proto, "ProtocolFrame")};
    for (int i = 0; i < 2; i++) {
        bare_writer_t all, w;
        bare_error_t err;
        size_t frames;
        bare_writer_init(&all, NULL, NULL);
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_frames_to_yaml(descs[i], stream, n, 0, NULL, &all, &err, &frames),
                         BARE_OK);
        bare_yaml_frames_t *f;
        ck_assert_int_eq(bare_yaml_frames_open(&f, descs[i], 0, NULL, &w, &err), BARE_OK);
        size_t doc = 4 + strlen(auth_yaml);
        for (size_t k = 0; k < n; k++) {
            ck_assert_int_eq(bare_yaml_frames_feed(f, stream + k, 1, &err), BARE_OK);
            size_t done = (size_t)(k + 1 >= n) + (size_t)(k + 1 >= first);
            ck_assert_uint_eq(w.len, done * doc);
            ck_assert_uint_eq(bare_yaml_frames_index(f), done);
        }
        ck_assert_int_eq(bare_yaml_frames_finish(f, &err), BARE_OK);
        ck_assert_uint_eq(w.len, all.len);
        ck_assert_mem_eq(w.buf, all.buf, all.len);
        bare_yaml_frames_free(f);

        /* cut inside the second frame: the first stays, the end is the error */
        bare_writer_reset(&w);
        ck_assert_int_eq(bare_yaml_frames_open(&f, descs[i], 0, NULL, &w, &err), BARE_OK);
        ck_assert_int_eq(bare_yaml_frames_feed(f, stream, n - 1, &err), BARE_OK);
        ck_assert_uint_eq(w.len, doc);
        ck_assert_int_eq(bare_yaml_frames_finish(f, &err), BARE_E_TRUNCATED);
        ck_assert_uint_eq(err.offset, first);
        ck_assert_uint_eq(bare_yaml_frames_index(f), 1);
        ck_assert_uint_eq(w.len, doc);
        bare_yaml_frames_free(f);

        /* over the maximum: refused once the header is in, before the payload */
        ck_assert_int_eq(bare_yaml_frames_open(&f, descs[i], 40, NULL, &w, &err), BARE_OK);
        ck_assert_int_eq(bare_yaml_frames_feed(f, stream, 4, &err), BARE_E_FRAME_TOO_LARGE);
        ck_assert_int_eq(bare_yaml_frames_feed(f, stream + 4, 1, &err), BARE_E_FRAME_TOO_LARGE);
        bare_yaml_frames_free(f);
        bare_writer_free(&w);
        bare_writer_free(&all);
    }
}
END_TEST

START_TEST(test_fixed_output_buffer_full)
{
    uint8_t bytes[128], small[16];
    size_t n = unhex(auth_hex, bytes, sizeof bytes);
    bare_writer_t w;
    bare_error_t err;
    bare_writer_init_fixed(&w, small, sizeof small);
    ck_assert_int_eq(bare_to_yaml(&sx_protocol_frame_desc, bytes, n, NULL, &w, &err),
                     BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 0);
    bare_writer_init_fixed(&w, small, 8);
    ck_assert_int_eq(
        bare_yaml_to_bare(&sx_protocol_frame_desc, auth_yaml, strlen(auth_yaml), NULL, &w, &err),
        BARE_E_BUFFER_FULL);
    ck_assert_uint_eq(w.len, 0);
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("round trips");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_time_descriptors_match_generated);
    tcase_add_loop_test(tc, test_round_trip_every_protocol_type, 0, (int)sx_schema.count);
    tcase_add_loop_test(tc, test_round_trip_every_recursive_type, 0, (int)rec_schema.count);
    tcase_add_test(tc, test_auth_frame_text);
    tcase_add_loop_test(tc, test_text_cases, 0, (int)(sizeof text_cases / sizeof text_cases[0]));
    tcase_add_test(tc, test_every_kind_and_key_kind);
    tcase_add_test(tc, test_floats_round_trip_exactly);
    tcase_add_test(tc, test_strings_that_look_like_other_things);
    tcase_add_loop_test(tc, test_quoting_decisions, 0,
                        (int)(sizeof quote_cases / sizeof quote_cases[0]));
    suite_add_tcase(s, tc);

    TCase *te = tcase_create("errors");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_set_timeout(te, 120);
    tcase_add_loop_test(te, test_yaml_errors, 0, (int)(sizeof yaml_errors / sizeof yaml_errors[0]));
    tcase_add_loop_test(te, test_bare_rejects, 0,
                        (int)(sizeof bare_rejects / sizeof bare_rejects[0]));
    tcase_add_loop_test(te, test_mutated_protocol_input_is_judged_as_generated, 0,
                        (int)sx_schema.count);
    tcase_add_loop_test(te, test_mutated_recursive_input_is_judged_as_generated, 0,
                        (int)rec_schema.count);
    tcase_add_test(te, test_depth_limit_when_decoding);
    tcase_add_test(te, test_frames);
    tcase_add_test(te, test_frames_incremental);
    tcase_add_test(te, test_fixed_output_buffer_full);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(yaml_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
