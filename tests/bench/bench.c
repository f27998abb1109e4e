/*
 * bench.c - `make bench`: encode and decode speed of the generated wire layer on three messages,
 * against protobuf-c on the same messages (tests/bench/secure_exec.proto), @bare-ts/lib under
 * node on the same bytes (tests/bench/bare_ts_bench.mjs, a subprocess), and memcpy of the same
 * bytes. A program, not a test: it prints a table and the targets met or missed, and exits 0.
 * usage: bench [NODE-DIR]   (NODE-DIR holds bare_ts_bench.mjs, codec.js and node_modules/;
 *                           without it, the bare-ts rows say n/a)
 * BENCH_RUNS (default 11) runs of at least BENCH_MIN_MS (default 50) ms each; the median counts.
 * BENCH_PROFILE=FILE:encode (or :decode; FILE is execute, output64k or snapshot1000) only runs
 * our side of that case for about three seconds, for perf record; FILE:decode:N runs exactly N
 * operations, for valgrind --tool=callgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secure_exec.pb-c.h"
#include "secure_exec_sidecar_v1.h"

#define MAX_RUNS 101

static int runs = 11;
static double min_ns = 50e6;

static void die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void op_fn(void *ctx, size_t iters);

/* ns per operation: the median of `runs` runs, each of enough iterations to last min_ns. */
static double measure(op_fn *op, void *ctx)
{
    size_t iters = 1;
    op(ctx, 1);
    for (;;) {
        double t0 = now_ns();
        op(ctx, iters);
        double t = now_ns() - t0;
        if (t >= min_ns)
            break;
        double scale = t > 0 ? min_ns * 1.1 / t : 10;
        iters = (size_t)((double)iters * (scale < 10 ? scale : 10)) + 1;
    }
    double samples[MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        double t0 = now_ns();
        op(ctx, iters);
        samples[i] = (now_ns() - t0) / (double)iters;
    }
    qsort(samples, (size_t)runs, sizeof samples[0], cmp_double);
    return samples[runs / 2];
}

/* ---------------------------------------------------------------------------------------- */
/* The three messages, built once for each implementation from the same data                 */

static const char *const exec_args[5] = {"--experimental-vm-modules", "--max-old-space-size=256",
                                         "server.js", "--port=8080", "--log-level=debug"};
static const char *const exec_env[10][2] = {
    {"PATH", "/usr/local/bin:/usr/bin:/bin"},
    {"HOME", "/home/agent"},
    {"NODE_ENV", "production"},
    {"LANG", "en_US.UTF-8"},
    {"TZ", "UTC"},
    {"USER", "agent"},
    {"PWD", "/workspace/app"},
    {"TERM", "xterm-256color"},
    {"NODE_OPTIONS", "--enable-source-maps"},
    {"SECURE_EXEC_SESSION", "session-2b7e9a41"},
};

#define SCHEMA_NAME "secure-exec-sidecar"
#define CONN_ID "conn-8c1f02d4"
#define SESSION_ID "session-2b7e9a41"
#define VM_ID "vm-51d3c0aa"
#define PROCESS_ID "proc-4f2a9c17"
#define CHUNK_LEN 65536
#define ENTRIES 1000

static uint8_t chunk[CHUNK_LEN];
static char paths[ENTRIES][64], contents[ENTRIES][96], targets[ENTRIES][64];

static void make_data(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < CHUNK_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk[i] = (uint8_t)x;
    }
    for (int i = 0; i < ENTRIES; i++) {
        snprintf(paths[i], sizeof paths[i], "/usr/lib/node_modules/app/src/module-%04d.js", i);
        snprintf(contents[i], sizeof contents[i], "export const value%d = %d; // généré, %d\n", i,
                 i * 7, i);
        snprintf(targets[i], sizeof targets[i], "/usr/lib/node_modules/app/src/module-%04d.js",
                 (i + 1) % ENTRIES);
    }
}

static bare_str_t s(const char *c)
{
    return bare_str_from_cstr(c);
}

/* ---- ours ---- */

static sx_str_str_map_entry_t our_env[10];
static bare_str_t our_args[5];
static sx_root_filesystem_entry_t our_entries[ENTRIES];

static void our_ownership(sx_ownership_scope_t *o)
{
    o->tag = SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP;
    o->u.vm_ownership.connection_id = s(CONN_ID);
    o->u.vm_ownership.session_id = s(SESSION_ID);
    o->u.vm_ownership.vm_id = s(VM_ID);
}

static void our_execute(sx_request_frame_t *f)
{
    sx_request_frame_init(f);
    f->schema.name = s(SCHEMA_NAME);
    f->schema.version = 1;
    f->request_id = 42;
    our_ownership(&f->ownership);
    f->payload.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    sx_execute_request_t *x = &f->payload.u.execute_request;
    x->process_id = s(PROCESS_ID);
    x->command.present = true;
    x->command.value = s("node");
    x->runtime.present = true;
    x->runtime.value = SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT;
    x->entrypoint.present = true;
    x->entrypoint.value = s("/workspace/app/server.js");
    for (int i = 0; i < 5; i++)
        our_args[i] = s(exec_args[i]);
    x->args.items = our_args;
    x->args.len = 5;
    for (int i = 0; i < 10; i++) {
        our_env[i].key = s(exec_env[i][0]);
        our_env[i].value = s(exec_env[i][1]);
    }
    x->env.items = our_env;
    x->env.len = 10;
    x->cwd.present = true;
    x->cwd.value = s("/workspace/app");
    x->wasm_permission_tier.present = true;
    x->wasm_permission_tier.value = SX_WASM_PERMISSION_TIER_READ_WRITE;
}

static void our_output(sx_event_frame_t *f)
{
    sx_event_frame_init(f);
    f->schema.name = s(SCHEMA_NAME);
    f->schema.version = 1;
    our_ownership(&f->ownership);
    f->payload.tag = SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT;
    sx_process_output_event_t *e = &f->payload.u.process_output_event;
    e->process_id = s(PROCESS_ID);
    e->channel = SX_STREAM_CHANNEL_STDOUT;
    e->chunk.ptr = chunk;
    e->chunk.len = CHUNK_LEN;
}

/* Nine files in ten (some executable), a directory or a symlink every tenth. */
static int entry_kind(int i)
{
    return i % 10 == 0 ? 1 : i % 10 == 9 ? 2 : 0;
}

static void our_snapshot(sx_snapshot_exported_response_t *r)
{
    sx_snapshot_exported_response_init(r);
    r->layer_id = s("layer-0000000017");
    for (int i = 0; i < ENTRIES; i++) {
        sx_root_filesystem_entry_t *e = &our_entries[i];
        sx_root_filesystem_entry_init(e);
        e->path = s(paths[i]);
        e->kind = (sx_root_filesystem_entry_kind_t)entry_kind(i);
        e->mode.present = true;
        e->mode.value = entry_kind(i) == 1 ? 0755 : i % 7 == 0 ? 0755 : 0644;
        e->uid.present = e->gid.present = true;
        e->uid.value = e->gid.value = 1000;
        if (entry_kind(i) == 0) {
            e->content.present = true;
            e->content.value = s(contents[i]);
            e->encoding.present = true;
            e->encoding.value = SX_ROOT_FILESYSTEM_ENTRY_ENCODING_UTF8;
        } else if (entry_kind(i) == 2) {
            e->target.present = true;
            e->target.value = s(targets[i]);
        }
        e->executable = entry_kind(i) == 0 && i % 7 == 0;
    }
    r->entries.items = our_entries;
    r->entries.len = ENTRIES;
}

/* ---- protobuf-c ---- */

static SecureExecBench__ProtocolSchema pb_schema = SECURE_EXEC_BENCH__PROTOCOL_SCHEMA__INIT;
static SecureExecBench__VmOwnership pb_vm = SECURE_EXEC_BENCH__VM_OWNERSHIP__INIT;
static SecureExecBench__ExecuteRequest pb_exec = SECURE_EXEC_BENCH__EXECUTE_REQUEST__INIT;
static char *pb_args[5];
static SecureExecBench__ExecuteRequest__EnvEntry pb_env[10];
static SecureExecBench__ExecuteRequest__EnvEntry *pb_env_ptrs[10];
static SecureExecBench__ProcessOutputEvent pb_out = SECURE_EXEC_BENCH__PROCESS_OUTPUT_EVENT__INIT;
static SecureExecBench__RootFilesystemEntry pb_entries[ENTRIES];
static SecureExecBench__RootFilesystemEntry *pb_entry_ptrs[ENTRIES];

/* protobuf-c's structs hold char *, never written through by packing. */
static char *mut(const char *c)
{
    char *p;
    memcpy(&p, &c, sizeof p);
    return p;
}

static void pb_common(void)
{
    pb_schema.name = mut(SCHEMA_NAME);
    pb_schema.has_version = 1;
    pb_schema.version = 1;
    pb_vm.connection_id = mut(CONN_ID);
    pb_vm.session_id = mut(SESSION_ID);
    pb_vm.vm_id = mut(VM_ID);
}

static void pb_execute(SecureExecBench__RequestFrame *f)
{
    SecureExecBench__RequestFrame init = SECURE_EXEC_BENCH__REQUEST_FRAME__INIT;
    *f = init;
    f->schema = &pb_schema;
    f->has_request_id = 1;
    f->request_id = 42;
    f->ownership_case = SECURE_EXEC_BENCH__REQUEST_FRAME__OWNERSHIP_VM_OWNERSHIP;
    f->vm_ownership = &pb_vm;
    f->payload_case = SECURE_EXEC_BENCH__REQUEST_FRAME__PAYLOAD_EXECUTE_REQUEST;
    f->execute_request = &pb_exec;
    pb_exec.process_id = mut(PROCESS_ID);
    pb_exec.command = mut("node");
    pb_exec.has_runtime = 1;
    pb_exec.runtime = SECURE_EXEC_BENCH__GUEST_RUNTIME_KIND__JAVA_SCRIPT;
    pb_exec.entrypoint = mut("/workspace/app/server.js");
    for (int i = 0; i < 5; i++)
        pb_args[i] = mut(exec_args[i]);
    pb_exec.n_args = 5;
    pb_exec.args = pb_args;
    for (int i = 0; i < 10; i++) {
        SecureExecBench__ExecuteRequest__EnvEntry e =
            SECURE_EXEC_BENCH__EXECUTE_REQUEST__ENV_ENTRY__INIT;
        pb_env[i] = e;
        pb_env[i].key = mut(exec_env[i][0]);
        pb_env[i].value = mut(exec_env[i][1]);
        pb_env_ptrs[i] = &pb_env[i];
    }
    pb_exec.n_env = 10;
    pb_exec.env = pb_env_ptrs;
    pb_exec.cwd = mut("/workspace/app");
    pb_exec.has_wasm_permission_tier = 1;
    pb_exec.wasm_permission_tier = SECURE_EXEC_BENCH__WASM_PERMISSION_TIER__READ_WRITE;
}

static void pb_output(SecureExecBench__EventFrame *f)
{
    SecureExecBench__EventFrame init = SECURE_EXEC_BENCH__EVENT_FRAME__INIT;
    *f = init;
    f->schema = &pb_schema;
    f->ownership_case = SECURE_EXEC_BENCH__EVENT_FRAME__OWNERSHIP_VM_OWNERSHIP;
    f->vm_ownership = &pb_vm;
    f->payload_case = SECURE_EXEC_BENCH__EVENT_FRAME__PAYLOAD_PROCESS_OUTPUT_EVENT;
    f->process_output_event = &pb_out;
    pb_out.process_id = mut(PROCESS_ID);
    pb_out.has_channel = 1;
    pb_out.channel = SECURE_EXEC_BENCH__STREAM_CHANNEL__STDOUT;
    pb_out.has_chunk = 1;
    pb_out.chunk.data = chunk;
    pb_out.chunk.len = CHUNK_LEN;
}

static void pb_snapshot(SecureExecBench__SnapshotExportedResponse *r)
{
    SecureExecBench__SnapshotExportedResponse init =
        SECURE_EXEC_BENCH__SNAPSHOT_EXPORTED_RESPONSE__INIT;
    *r = init;
    r->layer_id = mut("layer-0000000017");
    for (int i = 0; i < ENTRIES; i++) {
        SecureExecBench__RootFilesystemEntry e = SECURE_EXEC_BENCH__ROOT_FILESYSTEM_ENTRY__INIT;
        e.path = paths[i];
        e.has_kind = 1;
        e.kind = (SecureExecBench__RootFilesystemEntryKind)entry_kind(i);
        e.has_mode = 1;
        e.mode = entry_kind(i) == 1 ? 0755 : i % 7 == 0 ? 0755 : 0644;
        e.has_uid = e.has_gid = 1;
        e.uid = e.gid = 1000;
        if (entry_kind(i) == 0) {
            e.content = contents[i];
            e.has_encoding = 1;
            e.encoding = SECURE_EXEC_BENCH__ROOT_FILESYSTEM_ENTRY_ENCODING__UTF8;
        } else if (entry_kind(i) == 2) {
            e.target = targets[i];
        }
        e.has_executable = 1;
        e.executable = entry_kind(i) == 0 && i % 7 == 0;
        pb_entries[i] = e;
        pb_entry_ptrs[i] = &pb_entries[i];
    }
    r->n_entries = ENTRIES;
    r->entries = pb_entry_ptrs;
}

/* ---------------------------------------------------------------------------------------- */
/* The operations                                                                              */

typedef struct bench_case {
    const char *name; /* as printed */
    const char *file; /* the bytes for node: NODE-DIR/data/FILE.bin */
    const char *type; /* the BARE type, for node */
    const bare_type_desc_t *desc;
    const void *value; /* ours */
    const ProtobufCMessage *pb;
    /* filled in by prepare() */
    bare_writer_t w;
    bare_arena_t arena;
    void *out;
    uint8_t *bytes, *pb_bytes, *copy;
    size_t len, pb_len;
} bench_case_t;

static void our_encode(void *ctx, size_t iters)
{
    bench_case_t *c = ctx;
    for (size_t i = 0; i < iters; i++) {
        bare_writer_reset(&c->w);
        if (c->desc->encode(&c->w, c->value) != BARE_OK)
            die("encode failed");
    }
}

static void our_decode(void *ctx, size_t iters)
{
    bench_case_t *c = ctx;
    bare_reader_t r;
    for (size_t i = 0; i < iters; i++) {
        bare_arena_reset(&c->arena);
        bare_reader_init(&r, c->bytes, c->len, &c->arena, NULL);
        if (c->desc->decode(&r, c->out) != BARE_OK || bare_reader_finish(&r) != BARE_OK)
            die("decode failed");
    }
}

static void pb_encode(void *ctx, size_t iters)
{
    bench_case_t *c = ctx;
    for (size_t i = 0; i < iters; i++) {
        size_t n = protobuf_c_message_get_packed_size(c->pb);
        if (n != c->pb_len || protobuf_c_message_pack(c->pb, c->copy) != n)
            die("protobuf-c pack failed");
    }
}

static void pb_decode(void *ctx, size_t iters)
{
    bench_case_t *c = ctx;
    for (size_t i = 0; i < iters; i++) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(c->pb->descriptor, NULL, c->pb_len, c->pb_bytes);
        if (!m)
            die("protobuf-c unpack failed");
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

/* Through a volatile pointer, so that the copy cannot be optimised away. */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static void mem_copy(void *ctx, size_t iters)
{
    bench_case_t *c = ctx;
    for (size_t i = 0; i < iters; i++)
        copy_fn(c->copy, c->bytes, c->len);
}

/* Encodes both ways, and checks that each implementation decodes and re-encodes its bytes. */
static void prepare(bench_case_t *c)
{
    bare_writer_t check;
    bare_error_t err;

    if (c->desc->validate(c->value, &err) != BARE_OK)
        die("an invalid benchmark value");
    bare_writer_init(&c->w, NULL, NULL);
    bare_arena_init(&c->arena, NULL, NULL);
    if (bare_encode(c->desc, &c->w, c->value) != BARE_OK)
        die("encode failed");
    c->len = c->w.len;
    c->bytes = malloc(c->len);
    c->out = malloc(c->desc->c_size);
    c->pb_len = protobuf_c_message_get_packed_size(c->pb);
    c->pb_bytes = malloc(c->pb_len);
    c->copy = malloc(c->len > c->pb_len ? c->len : c->pb_len);
    if (!c->bytes || !c->out || !c->pb_bytes || !c->copy)
        die("out of memory");
    memcpy(c->bytes, c->w.buf, c->len);
    if (protobuf_c_message_pack(c->pb, c->pb_bytes) != c->pb_len)
        die("protobuf-c pack failed");

    our_decode(c, 1);
    bare_writer_init(&check, NULL, NULL);
    if (bare_encode(c->desc, &check, c->out) != BARE_OK || check.len != c->len ||
        memcmp(check.buf, c->bytes, c->len) != 0)
        die("our decode does not re-encode to the same bytes");
    bare_writer_free(&check);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(c->pb->descriptor, NULL, c->pb_len, c->pb_bytes);
    if (!m || protobuf_c_message_get_packed_size(m) != c->pb_len)
        die("protobuf-c does not round-trip");
    protobuf_c_message_pack(m, c->copy);
    if (memcmp(c->copy, c->pb_bytes, c->pb_len) != 0)
        die("protobuf-c does not re-encode to the same bytes");
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* The node peer                                                                               */

typedef struct peer_result {
    bool ok;
    double enc, dec;
} peer_result_t;

/*
 * Writes the case's bytes and runs node on them, right before the case is measured here, so
 * that both sides run under the same load; reads the "FILE DECODE-NS ENCODE-NS" line.
 */
static void run_node(const char *dir, const bench_case_t *c, peer_result_t *res, char *why,
                     size_t why_len)
{
    char path[1024], cmd[2200], line[512];
    if (!dir) {
        snprintf(why, why_len, "node or npm missing");
        return;
    }
    snprintf(path, sizeof path, "%s/data/%s.bin", dir, c->file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(c->bytes, 1, c->len, f) != c->len || fclose(f)) {
        snprintf(why, why_len, "cannot write %s", path);
        return;
    }
    snprintf(cmd, sizeof cmd, "node '%s/bare_ts_bench.mjs' '%s/data' %d %.0f %s:%s", dir, dir, runs,
             min_ns / 1e6, c->file, c->type);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(why, why_len, "cannot run node");
        return;
    }
    while (fgets(line, sizeof line, p)) {
        char name[64];
        double dec, enc;
        if (sscanf(line, "%63s %lf %lf", name, &dec, &enc) == 3 && strcmp(name, c->file) == 0) {
            res->ok = true;
            res->dec = dec;
            res->enc = enc;
        }
    }
    int status = pclose(p);
    if (status != 0) {
        res->ok = false;
        snprintf(why, why_len, "node failed (status %d); see its messages above", status);
    }
}

/* ---------------------------------------------------------------------------------------- */

typedef struct row {
    const char *name;
    bool ok;
    double enc, dec; /* ns per message */
    size_t bytes;
} row_t;

static void print_row(const row_t *r, const row_t *ours)
{
    if (!r->ok) {
        printf("  %-16s %10s %9s %7s   %10s %9s %7s\n", r->name, "n/a", "", "", "n/a", "", "");
        return;
    }
    printf("  %-16s %10.1f %9.1f %7.2f   %10.1f %9.1f %7.2f\n", r->name, r->enc,
           (double)r->bytes * 1e3 / r->enc, r->enc / ours->enc, r->dec,
           (double)r->bytes * 1e3 / r->dec, r->dec / ours->dec);
}

static void target(const char *what, double ratio, double want, bool at_least, bool known)
{
    if (!known) {
        printf("  %-58s   n/a\n", what);
        return;
    }
    bool met = at_least ? ratio >= want : ratio <= want;
    printf("  %-58s %6.2fx  %s\n", what, ratio, met ? "met" : "MISSED");
}

static int profile(bench_case_t *cases, size_t n, const char *spec)
{
    const char *colon = strchr(spec, ':');
    for (size_t i = 0; colon && i < n; i++) {
        if (strlen(cases[i].file) != (size_t)(colon - spec) ||
            strncmp(spec, cases[i].file, (size_t)(colon - spec)) != 0)
            continue;
        const char *count = strchr(colon + 1, ':');
        size_t len = count ? (size_t)(count - colon - 1) : strlen(colon + 1);
        op_fn *op = len == 6 && strncmp(colon + 1, "encode", 6) == 0   ? our_encode
                    : len == 6 && strncmp(colon + 1, "decode", 6) == 0 ? our_decode
                                                                       : NULL;
        if (!op)
            break;
        if (count) {
            /* An exact number of operations, for instruction counts. */
            size_t ops = (size_t)strtoull(count + 1, NULL, 10);
            op(&cases[i], ops);
            printf("%s: %zu operations\n", spec, ops);
            return 0;
        }
        double t0 = now_ns();
        size_t total = 0, iters = 1;
        while (now_ns() - t0 < 3e9) {
            op(&cases[i], iters);
            total += iters;
            iters *= 2;
        }
        printf("%s: %zu operations, %.1f ns each\n", spec, total, (now_ns() - t0) / (double)total);
        return 0;
    }
    fprintf(stderr, "bench: BENCH_PROFILE=%s: want FILE:encode or FILE:decode[:N]\n", spec);
    return 2;
}

int main(int argc, char **argv)
{
    const char *node_dir = argc > 1 ? argv[1] : NULL;
    const char *e;
    if ((e = getenv("BENCH_RUNS")) && atoi(e) > 0)
        runs = atoi(e) < MAX_RUNS ? atoi(e) : MAX_RUNS;
    if ((e = getenv("BENCH_MIN_MS")) && atof(e) > 0)
        min_ns = atof(e) * 1e6;

    static sx_request_frame_t exec;
    static sx_event_frame_t output;
    static sx_snapshot_exported_response_t snapshot;
    static SecureExecBench__RequestFrame pb_exec_frame;
    static SecureExecBench__EventFrame pb_output_frame;
    static SecureExecBench__SnapshotExportedResponse pb_snapshot_msg;
    make_data();
    our_execute(&exec);
    our_output(&output);
    our_snapshot(&snapshot);
    pb_common();
    pb_execute(&pb_exec_frame);
    pb_output(&pb_output_frame);
    pb_snapshot(&pb_snapshot_msg);

    bench_case_t cases[3] = {
        {.name = "Execute RequestFrame (5 args, 10 env)",
         .file = "execute",
         .type = "RequestFrame",
         .desc = &sx_request_frame_desc,
         .value = &exec,
         .pb = &pb_exec_frame.base},
        {.name = "ProcessOutputEvent EventFrame (64 KiB chunk)",
         .file = "output64k",
         .type = "EventFrame",
         .desc = &sx_event_frame_desc,
         .value = &output,
         .pb = &pb_output_frame.base},
        {.name = "SnapshotExportedResponse (1000 entries)",
         .file = "snapshot1000",
         .type = "SnapshotExportedResponse",
         .desc = &sx_snapshot_exported_response_desc,
         .value = &snapshot,
         .pb = &pb_snapshot_msg.base},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    peer_result_t node[3] = {{false, 0, 0}, {false, 0, 0}, {false, 0, 0}};
    char node_why[1200] = "";

    for (size_t i = 0; i < n; i++)
        prepare(&cases[i]);
    if ((e = getenv("BENCH_PROFILE")))
        return profile(cases, n, e);
    printf("bench: median of %d runs of >= %.0f ms each; ns per message, MB/s of the "
           "implementation's own bytes,\nand x ours = the peer's time / our time (above 1: ours "
           "is faster)\n",
           runs, min_ns / 1e6);
    fflush(stdout);

    row_t rows[3][4];
    for (size_t i = 0; i < n; i++) {
        bench_case_t *c = &cases[i];
        row_t *r = rows[i];
        run_node(node_dir, c, &node[i], node_why, sizeof node_why);
        r[0] =
            (row_t){"ours (libbare)", true, measure(our_encode, c), measure(our_decode, c), c->len};
        r[1] = (row_t){"protobuf-c", true, measure(pb_encode, c), measure(pb_decode, c), c->pb_len};
        r[2] = (row_t){"bare-ts (node)", node[i].ok, node[i].enc, node[i].dec, c->len};
        double copy = measure(mem_copy, c);
        r[3] = (row_t){"memcpy", true, copy, copy, c->len};

        printf("\n%s: %zu bytes BARE, %zu bytes protobuf\n", c->name, c->len, c->pb_len);
        printf("  %-16s %10s %9s %7s   %10s %9s %7s\n", "", "encode ns", "MB/s", "x ours",
               "decode ns", "MB/s", "x ours");
        for (int k = 0; k < 4; k++)
            print_row(&r[k], &r[0]);
        fflush(stdout);
    }
    if (node_why[0])
        printf("\nbare-ts: %s\n", node_why);

    printf("\ntargets (ratio = the peer's time / our time, except the last two: our time / "
           "memcpy's)\n");
    for (size_t i = 0; i < n; i++) {
        char what[128];
        row_t *r = rows[i];
        snprintf(what, sizeof what, "%s: decode >= 3x protobuf-c", cases[i].file);
        target(what, r[1].dec / r[0].dec, 3, true, true);
        snprintf(what, sizeof what, "%s: decode >= 20x bare-ts", cases[i].file);
        target(what, r[2].dec / r[0].dec, 20, true, r[2].ok);
        snprintf(what, sizeof what, "%s: encode >= 1.5x protobuf-c", cases[i].file);
        target(what, r[1].enc / r[0].enc, 1.5, true, true);
    }
    target("output64k: encode within 4x of memcpy", rows[1][0].enc / rows[1][3].enc, 4, false,
           true);
    target("output64k: decode within 4x of memcpy", rows[1][0].dec / rows[1][3].dec, 4, false,
           true);

    for (size_t i = 0; i < n; i++) {
        bare_writer_free(&cases[i].w);
        bare_arena_free(&cases[i].arena);
        free(cases[i].bytes);
        free(cases[i].pb_bytes);
        free(cases[i].copy);
        free(cases[i].out);
    }
    return 0;
}
