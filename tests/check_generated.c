/*
 * check_generated.c - the generated wire layer (generated/secure_exec_sidecar_v1.c) and a
 * recursive --legacy schema: round trips of every type, the cross-implementation fixture,
 * strict rejects with offsets and paths, validation, init, dispatch and the depth limit.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recursive.h"
#include "secure_exec_sidecar_v1.h"
#include "value_gen.h"

/* Hex to bytes; spaces ignored. */
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

static void append_str(char *hex, const char *s)
{
    char *end = hex + strlen(hex);
    end += sprintf(end, "%02zx", strlen(s));
    for (; *s; s++)
        end += sprintf(end, "%02x", (unsigned char)*s);
}

/*
 * The fixture of the reference implementation (protocol-core.md §1.3, test
 * generated_protocol_matches_cross_language_auth_frame_bytes), spelled out field by field.
 */
static size_t auth_frame_bytes(uint8_t *out, size_t cap)
{
    char hex[1024] = "00"; /* ProtocolFrame tag 0: RequestFrame */
    append_str(hex, "secure-exec-sidecar");
    strcat(hex, "0700");             /* schema version 7, u16 LE */
    strcat(hex, "0700000000000000"); /* requestId 7, i64 LE */
    strcat(hex, "00");               /* OwnershipScope tag 0: ConnectionOwnership */
    append_str(hex, "conn-1");
    strcat(hex, "00"); /* RequestPayload tag 0: AuthenticateRequest */
    append_str(hex, "generated-test");
    append_str(hex, "token");
    strcat(hex, "0700");     /* protocolVersion 7 */
    strcat(hex, "01000000"); /* bridgeVersion 1 */
    return unhex(hex, out, cap);
}

static void auth_frame_value(sx_protocol_frame_t *f)
{
    sx_protocol_frame_init(f);
    f->tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    sx_request_frame_t *rf = &f->u.request_frame;
    rf->schema.name = BARE_STR_LIT("secure-exec-sidecar");
    rf->schema.version = 7;
    rf->request_id = 7;
    rf->ownership.tag = SX_OWNERSHIP_SCOPE_TAG_CONNECTION_OWNERSHIP;
    rf->ownership.u.connection_ownership.connection_id = BARE_STR_LIT("conn-1");
    rf->payload.tag = SX_REQUEST_PAYLOAD_TAG_AUTHENTICATE_REQUEST;
    sx_authenticate_request_t *a = &rf->payload.u.authenticate_request;
    a->client_name = BARE_STR_LIT("generated-test");
    a->auth_token = BARE_STR_LIT("token");
    a->protocol_version = 7;
    a->bridge_version = 1;
}

START_TEST(test_auth_fixture_encodes_exactly)
{
    uint8_t want[256];
    size_t n = auth_frame_bytes(want, sizeof want);
    sx_protocol_frame_t f;
    bare_writer_t w;
    auth_frame_value(&f);
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(sx_protocol_frame_encode(&w, &f), BARE_OK);
    ck_assert_uint_eq(w.len, n);
    ck_assert_mem_eq(w.buf, want, n);
    bare_writer_free(&w);
}
END_TEST

START_TEST(test_auth_fixture_decodes)
{
    uint8_t bytes[256];
    size_t n = auth_frame_bytes(bytes, sizeof bytes);
    bare_arena_t arena;
    sx_protocol_frame_t f, want;
    bare_error_t err;
    bare_arena_init(&arena, NULL, NULL);
    ck_assert_int_eq(bare_decode(&sx_protocol_frame_desc, bytes, n, &arena, NULL, &f, &err),
                     BARE_OK);
    auth_frame_value(&want);
    ck_assert(value_equal(&sx_protocol_frame_desc, &f, &want));
    ck_assert(bare_str_eq_cstr(f.u.request_frame.payload.u.authenticate_request.client_name,
                               "generated-test"));
    /* strings borrow the input buffer */
    ck_assert_ptr_eq(f.u.request_frame.schema.name.ptr, (const char *)bytes + 2);
    bare_arena_free(&arena);
}
END_TEST

/* Round trip of every named type: random value -> validate -> encode -> decode -> equal. */
START_TEST(test_round_trip_every_type)
{
    const bare_type_desc_t *d = sx_schema.types[_i];
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (uint64_t seed = 1; seed <= 40; seed++) {
        value_gen_t g = {seed * 0x9E3779B97F4A7C15ull, &arena, 6, 4};
        void *a = bare_arena_alloc(&arena, d->c_size, 16);
        void *b = bare_arena_alloc(&arena, d->c_size, 16);
        bare_error_t err;
        bare_writer_t w, w2;

        value_gen_fill(&g, d, a);
        ck_assert_msg(d->validate(a, &err) == BARE_OK, "%s: validate: %s at %s", d->name,
                      bare_strerror(err.status), bare_error_path(&err));
        bare_writer_init(&w, NULL, NULL);
        bare_writer_init(&w2, NULL, NULL);
        ck_assert_int_eq(bare_encode(d, &w, a), BARE_OK);
        int rc = bare_decode(d, w.buf, w.len, &arena, NULL, b, &err);
        ck_assert_msg(rc == BARE_OK, "%s seed %llu: decode: %s at %zu %s", d->name,
                      (unsigned long long)seed, bare_strerror(rc), err.offset,
                      bare_error_path(&err));
        ck_assert_msg(value_equal(d, a, b), "%s seed %llu: decoded value differs", d->name,
                      (unsigned long long)seed);
        ck_assert_int_eq(bare_encode(d, &w2, b), BARE_OK);
        ck_assert_uint_eq(w.len, w2.len);
        if (w.len) /* named void types encode to nothing */
            ck_assert_mem_eq(w.buf, w2.buf, w.len);
        /* every proper prefix is truncated input, never a success or a crash */
        for (size_t cut = 0; cut < w.len; cut += 1 + w.len / 16) {
            rc = bare_decode(d, w.buf, cut, &arena, NULL, b, &err);
            ck_assert_msg(rc != BARE_OK, "%s: a %zu-byte prefix of %zu decoded", d->name, cut,
                          w.len);
        }
        bare_writer_free(&w);
        bare_writer_free(&w2);
    }
    bare_arena_free(&arena);
}
END_TEST

/* Decodes hex as a ProtocolFrame and expects a failure with this status, offset and path. */
static void expect_reject(const char *hex, int status, size_t offset, const char *path)
{
    uint8_t bytes[512];
    size_t n = unhex(hex, bytes, sizeof bytes);
    bare_arena_t arena;
    sx_protocol_frame_t f;
    bare_error_t err;
    bare_arena_init(&arena, NULL, NULL);
    int rc = bare_decode(&sx_protocol_frame_desc, bytes, n, &arena, NULL, &f, &err);
    ck_assert_msg(rc == status, "%s: got %s, want %s", hex, bare_status_name(rc),
                  bare_status_name(status));
    ck_assert_uint_eq(err.offset, offset);
    ck_assert_str_eq(bare_error_path(&err), path);
    bare_arena_free(&arena);
}

/* A request frame header (schema, id 7, ConnectionOwnership "c") in hex: 34 bytes. */
#define FRAME_HEAD "00 13 7365637572652d657865632d73696465636172 0700 0700000000000000 00 0163"

START_TEST(test_rejects_name_offset_and_path)
{
    /* unknown ProtocolFrame tag */
    expect_reject("05", BARE_E_UNION_TAG, 0, "");
    /* unknown RequestPayload tag 28 at offset 34 */
    expect_reject(FRAME_HEAD " 1c", BARE_E_UNION_TAG, 34, "RequestFrame.payload");
    /* DisposeVm with reason 3: an unknown enum value */
    expect_reject(FRAME_HEAD " 03 03", BARE_E_ENUM, 35,
                  "RequestFrame.payload.DisposeVmRequest.reason");
    /* ExecuteRequest whose env repeats key "X": processId "p", no command, runtime,
       entrypoint; no args; env {X: 1, X: 2} */
    expect_reject(FRAME_HEAD " 0e 0170 00 00 00 00 02 0158 0131 0158 0132 00 00",
                  BARE_E_DUPLICATE_KEY, 46, "RequestFrame.payload.ExecuteRequest.env[\"X\"]");
    /* an env value that is not UTF-8 */
    expect_reject(FRAME_HEAD " 0e 0170 00 00 00 00 01 0158 01ff 00 00", BARE_E_UTF8, 44,
                  "RequestFrame.payload.ExecuteRequest.env[\"X\"]");
    /* optional flag 2 (command) */
    expect_reject(FRAME_HEAD " 0e 0170 02", BARE_E_OPTIONAL, 37,
                  "RequestFrame.payload.ExecuteRequest.command");
    /* a bool byte of 2: GuestFilesystemCall{READ_FILE, "a", four absent optionals, recursive} */
    expect_reject(FRAME_HEAD " 0c 00 0161 00 00 00 00 02", BARE_E_BOOL, 42,
                  "RequestFrame.payload.GuestFilesystemCallRequest.recursive");
    /* args count far beyond the input: refused before any allocation */
    expect_reject(FRAME_HEAD " 0e 0170 00 00 00 ffffffff0f", BARE_E_LENGTH, 40,
                  "RequestFrame.payload.ExecuteRequest.args");
    /* a non-canonical varint as the union tag */
    expect_reject(FRAME_HEAD " 8000", BARE_E_VARINT_NONCANONICAL, 34, "RequestFrame.payload");
    /* truncated inside the schema name */
    expect_reject("00 13 7365", BARE_E_LENGTH, 1, "RequestFrame.schema.name");
    /* trailing bytes after a complete frame (CreateLayer is void) */
    expect_reject(FRAME_HEAD " 07 00", BARE_E_TRAILING, 35, "");
}
END_TEST

START_TEST(test_validate_and_encode_refuse_bad_values)
{
    sx_execute_request_t x;
    bare_error_t err;
    bare_writer_t w;
    sx_str_str_map_entry_t env[2] = {{BARE_STR_LIT("A"), BARE_STR_LIT("1")},
                                     {BARE_STR_LIT("A"), BARE_STR_LIT("2")}};
    bare_str_t args[1] = {{"\xc0\x80", 2}};

    sx_execute_request_init(&x);
    x.process_id = BARE_STR_LIT("p");
    ck_assert_int_eq(sx_execute_request_validate(&x, &err), BARE_OK);
    ck_assert_int_eq(sx_execute_request_validate(&x, NULL), BARE_OK);

    x.env.items = env;
    x.env.len = 2;
    ck_assert_int_eq(sx_execute_request_validate(&x, &err), BARE_E_DUPLICATE_KEY);
    ck_assert_str_eq(bare_error_path(&err), "env[\"A\"]");
    x.env.len = 1;

    x.args.items = args;
    x.args.len = 1;
    ck_assert_int_eq(sx_execute_request_validate(&x, &err), BARE_E_UTF8);
    ck_assert_str_eq(bare_error_path(&err), "args[0]");
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(sx_execute_request_encode(&w, &x), BARE_E_UTF8);
    bare_writer_free(&w);

    x.args.items = NULL; /* a length without items */
    ck_assert_int_eq(sx_execute_request_validate(&x, &err), BARE_E_NULL_POINTER);
    ck_assert_str_eq(bare_error_path(&err), "args");
    x.args.len = 0;

    x.runtime.present = true;
    x.runtime.value = (sx_guest_runtime_kind_t)7;
    ck_assert_int_eq(sx_execute_request_validate(&x, &err), BARE_E_ENUM);
    ck_assert_str_eq(bare_error_path(&err), "runtime");
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(sx_execute_request_encode(&w, &x), BARE_E_ENUM);
    bare_writer_free(&w);

    sx_request_payload_t p;
    sx_request_payload_init(&p);
    p.tag = (sx_request_payload_tag_t)99;
    ck_assert_int_eq(sx_request_payload_validate(&p, &err), BARE_E_UNION_TAG);
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(sx_request_payload_encode(&w, &p), BARE_E_UNION_TAG);
    ck_assert_uint_eq(w.len, 0);
    bare_writer_free(&w);
}
END_TEST

START_TEST(test_enum_names_and_init)
{
    sx_guest_filesystem_operation_t op;
    ck_assert_str_eq(sx_guest_filesystem_operation_name(SX_GUEST_FILESYSTEM_OPERATION_PREAD),
                     "PREAD");
    ck_assert_ptr_null(sx_guest_filesystem_operation_name((sx_guest_filesystem_operation_t)20));
    ck_assert(sx_guest_filesystem_operation_from_name(BARE_STR_LIT("READ_DIR"), &op));
    ck_assert_int_eq(op, SX_GUEST_FILESYSTEM_OPERATION_READ_DIR);
    ck_assert(!sx_guest_filesystem_operation_from_name(BARE_STR_LIT("read_dir"), &op));
    ck_assert_int_eq(SX_GUEST_FILESYSTEM_OPERATION_COUNT, 20);
    ck_assert_str_eq(sx_guest_filesystem_operation_names[19], "PREAD");
    /* the same value name in two enums: each constant carries its type's name */
    ck_assert_int_ne(SX_GUEST_FILESYSTEM_OPERATION_STAT, SX_FILESYSTEM_OPERATION_STAT);
    ck_assert_str_eq(sx_request_payload_tag_name(SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST),
                     "ExecuteRequest");
    ck_assert_str_eq(sx_fs_permission_rule_set_desc.fields[0].name, "default");
}
END_TEST

/* ---- dispatch ---- */

typedef struct calls {
    int execute, create_layer, ext;
    const sx_execute_request_t *seen;
} calls_t;

static int on_execute(void *ctx, const sx_execute_request_t *v)
{
    calls_t *c = ctx;
    c->execute++;
    c->seen = v;
    return 42;
}

static int on_create_layer(void *ctx, const sx_create_layer_request_t *v)
{
    calls_t *c = ctx;
    (void)v;
    c->create_layer++;
    return BARE_OK;
}

START_TEST(test_dispatch_calls_the_member_handler)
{
    /* A table built from one handler per member, in schema order. */
    static const sx_request_payload_handlers_t handlers = SX_REQUEST_PAYLOAD_HANDLERS(
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, on_create_layer, NULL, NULL, NULL, NULL, NULL,
        NULL, on_execute, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL);
    calls_t c = {0, 0, 0, NULL};
    sx_request_payload_t p;

    sx_request_payload_init(&p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    ck_assert_int_eq(sx_request_payload_dispatch(&handlers, &c, &p), 42);
    ck_assert_int_eq(c.execute, 1);
    ck_assert_ptr_eq(c.seen, &p.u.execute_request);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_LAYER_REQUEST;
    ck_assert_int_eq(sx_request_payload_dispatch(&handlers, &c, &p), BARE_OK);
    ck_assert_int_eq(c.create_layer, 1);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXT_ENVELOPE; /* explicitly NULL */
    ck_assert_int_eq(sx_request_payload_dispatch(&handlers, &c, &p), BARE_E_NO_HANDLER);
    p.tag = (sx_request_payload_tag_t)200;
    ck_assert_int_eq(sx_request_payload_dispatch(&handlers, &c, &p), BARE_E_UNION_TAG);
    ck_assert_int_eq(c.execute + c.create_layer, 2);
}
END_TEST

/* ---- the recursive schema ---- */

/* Node{value, next: optional<Node>} nested n deep: each level is u32 + presence byte. */
static size_t nested_nodes(uint8_t *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + k, "\x01\x00\x00\x00", 4);
        k += 4;
        out[k++] = i + 1 < n ? 1 : 0;
    }
    return k;
}

START_TEST(test_depth_limit_stops_deep_input)
{
    static uint8_t buf[5 * 2000];
    bare_arena_t arena;
    rec_node_t node;
    bare_error_t err;
    bare_limits_t lim = {32, 0};
    bare_arena_init(&arena, NULL, NULL);

    size_t n = nested_nodes(buf, 10);
    ck_assert_int_eq(bare_decode(&rec_node_desc, buf, n, &arena, &lim, &node, &err), BARE_OK);
    ck_assert(node.next.present && node.next.value->next.present);

    n = nested_nodes(buf, 2000);
    ck_assert_int_eq(bare_decode(&rec_node_desc, buf, n, &arena, &lim, &node, &err),
                     BARE_E_DEPTH);
    /* Each level enters a Node and its optional: the 33rd entry is the 17th Node. */
    char want[256] = "next";
    for (int i = 1; i < 16; i++)
        strcat(want, ".next");
    ck_assert_str_eq(bare_error_path(&err), want);
    ck_assert_uint_eq(err.offset, 16 * 5);
    /* the default limit (64) applies without explicit limits */
    ck_assert_int_eq(bare_decode(&rec_node_desc, buf, n, &arena, NULL, &node, &err),
                     BARE_E_DEPTH);
    ck_assert_uint_eq(err.offset, 32 * 5);
    bare_arena_free(&arena);
}
END_TEST

START_TEST(test_recursive_round_trip)
{
    const bare_type_desc_t *d = rec_schema.types[_i];
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (uint64_t seed = 1; seed <= 60; seed++) {
        value_gen_t g = {seed * 0x2545F4914F6CDD1Dull, &arena, 8, 3};
        void *a = bare_arena_alloc(&arena, d->c_size, 16);
        void *b = bare_arena_alloc(&arena, d->c_size, 16);
        bare_error_t err;
        bare_writer_t w;
        value_gen_fill(&g, d, a);
        ck_assert_int_eq(d->validate(a, &err), BARE_OK);
        bare_writer_init(&w, NULL, NULL);
        ck_assert_int_eq(bare_encode(d, &w, a), BARE_OK);
        ck_assert_int_eq(bare_decode(d, w.buf, w.len, &arena, NULL, b, &err), BARE_OK);
        ck_assert(value_equal(d, a, b));
        bare_writer_free(&w);
    }
    bare_arena_free(&arena);
}
END_TEST

START_TEST(test_recursive_boxed_null_is_refused)
{
    rec_expr_t e;
    bare_error_t err;
    bare_writer_t w;
    rec_expr_init(&e);
    e.tag = REC_EXPR_TAG_ADD;
    e.u.add = NULL; /* a recursive member is a pointer */
    ck_assert_int_eq(rec_expr_validate(&e, &err), BARE_E_NULL_POINTER);
    ck_assert_str_eq(bare_error_path(&err), "Add");
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(rec_expr_encode(&w, &e), BARE_E_NULL_POINTER);
    bare_writer_free(&w);
}
END_TEST

/* An allocator that fails after a budget of calls: every decode must fail cleanly. */
typedef struct budget {
    int left;
} budget_t;

static void *budget_alloc(void *ud, void *ptr, size_t old, size_t n)
{
    budget_t *b = ud;
    if (n && b->left-- <= 0)
        return NULL;
    return bare_default_alloc(NULL, ptr, old, n);
}

START_TEST(test_allocation_failure_is_clean)
{
    bare_arena_t arena;
    bare_writer_t w;
    value_gen_t g;
    bare_arena_t gen_arena;
    const bare_type_desc_t *d = &sx_snapshot_exported_response_desc;
    bare_arena_init(&gen_arena, NULL, NULL);
    g.state = 99;
    g.arena = &gen_arena;
    g.max_depth = 6;
    g.max_items = 400;
    void *a = bare_arena_alloc(&gen_arena, d->c_size, 16);
    void *b = bare_arena_alloc(&gen_arena, d->c_size, 16);
    value_gen_fill(&g, d, a);
    bare_writer_init(&w, NULL, NULL);
    ck_assert_int_eq(bare_encode(d, &w, a), BARE_OK);

    bool succeeded = false;
    for (int n = 0; n < 50 && !succeeded; n++) {
        budget_t budget = {n};
        bare_error_t err;
        bare_arena_init(&arena, budget_alloc, &budget);
        int rc = bare_decode(d, w.buf, w.len, &arena, NULL, b, &err);
        ck_assert_msg(rc == BARE_OK || rc == BARE_E_NOMEM, "budget %d: %s", n,
                      bare_strerror(rc));
        succeeded = rc == BARE_OK;
        bare_arena_free(&arena);
    }
    ck_assert(succeeded);
    bare_writer_free(&w);
    bare_arena_free(&gen_arena);
}
END_TEST

static Suite *generated_suite(void)
{
    Suite *s = suite_create("generated");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, test_auth_fixture_encodes_exactly);
    tcase_add_test(tc, test_auth_fixture_decodes);
    tcase_add_loop_test(tc, test_round_trip_every_type, 0, (int)sx_schema.count);
    tcase_add_test(tc, test_rejects_name_offset_and_path);
    tcase_add_test(tc, test_validate_and_encode_refuse_bad_values);
    tcase_add_test(tc, test_enum_names_and_init);
    tcase_add_test(tc, test_dispatch_calls_the_member_handler);
    tcase_add_test(tc, test_allocation_failure_is_clean);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("recursive");
    tcase_add_test(tr, test_depth_limit_stops_deep_input);
    tcase_add_loop_test(tr, test_recursive_round_trip, 0, (int)rec_schema.count);
    tcase_add_test(tr, test_recursive_boxed_null_is_refused);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(generated_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
