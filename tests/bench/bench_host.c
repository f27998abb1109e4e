/*
 * bench_host.c - what the host's own features cost, through the real sidecar and the client
 * library, each beside a peer measured in the same run (and the same VM where it has one);
 * this program is the host:
 *
 *   1 callbacks  a host callback command whose host answers at once, run N times by a shell
 *                loop in a guest, beside the same loop of /bin/true (per invocation); and an
 *                ExecuteRequest of the command beside one of `true` (request -> ProcessExited)
 *   2 js_bridge  a guest `cat` of a 16 MiB file on a js_bridge mount (this program's memory
 *                answers every call) beside the same file on a host_dir mount and in the VM's
 *                own filesystem (MiB/s, timed in the guest); GuestFilesystemCall STAT on the
 *                js_bridge mount beside the host_dir mount and the VM's own filesystem
 *   3 VmFetch    GET round trip to a Node.js HTTP server in the guest (Connection: close)
 *                beside a GuestFilesystemCall STAT in the same VM, the floor of any request;
 *                N fetches sent at once beside the same N one at a time
 *   4 mounts     ConfigureVm with 3 host_dir mounts replacing 3 others, in a VM whose
 *                supervisor runs beside one where none has started
 *
 * p50 and p95 are nearest-rank quantiles of the samples; "x peer" is ours over the peer's
 * (time: above 1 is slower than the peer; throughput: below 1 is slower). Must run as root.
 * Usage: bench_host [SIDECAR]; BENCH_LOGS=1 shows the sidecar's logs, BENCH_ONLY=N runs only
 * section N.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "client.h"
#include "guest.h"
#include "stats.h"

#define ALLOW_ALL                                                                                  \
    "\"fs\": \"allow\", \"network\": \"allow\", \"childProcess\": \"allow\", \"process\": "        \
    "\"allow\", \"env\": \"allow\""
#define CONFIG "{\"permissions\": {" ALLOW_ALL ", \"tool\": \"allow\"}}"

#define FILE_BYTES (16u << 20)

static se_client_t *c;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_host: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- the host: answers host callbacks and js_bridge calls at once ---- */

static struct host {
    const uint8_t *file;   /* "/f" on the js_bridge mount: FILE_BYTES */
    long callbacks, calls; /* requests answered */
    char *text;            /* the result */
    size_t cap;
} host;

static char *text_room(size_t n)
{
    if (n > host.cap) {
        free(host.text);
        host.cap = n;
        host.text = malloc(n);
        if (!host.text)
            die("out of memory for a result");
    }
    return host.text;
}

/* The string value of "key" in the call's args (the plugin's own JSON: no escapes in our
 * paths), or "" */
static const char *arg_str(const char *args, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(args, pat), *end;
    out[0] = '\0';
    if (p && (end = strchr(p += strlen(pat), '"')) != NULL && (size_t)(end - p) < cap) {
        memcpy(out, p, (size_t)(end - p));
        out[end - p] = '\0';
    }
    return out;
}

static size_t arg_num(const char *args, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(args, pat);
    return p ? (size_t)strtoull(p + strlen(pat), NULL, 10) : 0;
}

static const char *stat_json(bool dir)
{
    snprintf(text_room(512), 512,
             "{\"mode\":%u,\"size\":%u,\"blocks\":%u,\"dev\":7,\"rdev\":0,\"isDirectory\":%s,"
             "\"isSymbolicLink\":false,\"atimeMs\":1700000000000,\"mtimeMs\":1700000000000,"
             "\"ctimeMs\":1700000000000,\"birthtimeMs\":1700000000000,\"ino\":%u,\"nlink\":1,"
             "\"uid\":1000,\"gid\":1000}",
             dir ? 040755u : 0100644u, dir ? 4096u : FILE_BYTES, dir ? 8u : FILE_BYTES / 512,
             dir ? "true" : "false", dir ? 1u : 2u);
    return host.text;
}

/* The answer to one js_bridge call: the result's text (NULL: none), or *error. */
static const char *bridge_op(const char *op, const char *args, const char **error)
{
    char path[256];
    arg_str(args, "path", path, sizeof path);
    bool root = strcmp(path, "/") == 0, file = strcmp(path, "/f") == 0;
    *error = NULL;
    if (!strcmp(op, "exists"))
        return root || file ? "true" : "false";
    if (!root && !file) {
        *error = "ENOENT: no such file or directory";
        return NULL;
    }
    if (!strcmp(op, "stat") || !strcmp(op, "lstat"))
        return stat_json(root);
    if (!strcmp(op, "realpath"))
        return root ? "\"/\"" : "\"/f\"";
    if (!strcmp(op, "readDir") && root)
        return "[\"f\"]";
    if (!strcmp(op, "readDirWithTypes") && root)
        return "[{\"name\":\"f\",\"isDirectory\":false,\"isSymbolicLink\":false}]";
    if (!strcmp(op, "pread") && file) {
        size_t off = arg_num(args, "offset"), len = arg_num(args, "length");
        off = off < FILE_BYTES ? off : FILE_BYTES;
        len = len < FILE_BYTES - off ? len : FILE_BYTES - off;
        char *t = text_room((len + 2) / 3 * 4 + 3);
        size_t n = sc_base64_encode(host.file + off, len, t + 1);
        t[0] = t[n + 1] = '"';
        t[n + 2] = '\0';
        return t;
    }
    *error = "EACCES: this host serves reads only";
    return NULL;
}

static int on_request(void *ud, const sx_sidecar_request_frame_t *req,
                      sx_sidecar_response_payload_t *out)
{
    (void)ud;
    memset(out, 0, sizeof *out);
    if (req->payload.tag == SX_SIDECAR_REQUEST_PAYLOAD_TAG_HOST_CALLBACK_REQUEST) {
        host.callbacks++;
        out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_HOST_CALLBACK_RESULT_RESPONSE;
        sx_host_callback_result_response_t *r = &out->u.host_callback_result_response;
        r->invocation_id = req->payload.u.host_callback_request.invocation_id;
        r->result.present = true;
        r->result.value = bare_str_from_cstr("{}");
        return 0;
    }
    if (req->payload.tag != SX_SIDECAR_REQUEST_PAYLOAD_TAG_JS_BRIDGE_CALL_REQUEST)
        return -1;
    const sx_js_bridge_call_request_t *q = &req->payload.u.js_bridge_call_request;
    char op[32], args[1024];
    snprintf(op, sizeof op, "%.*s", (int)q->operation.len, q->operation.ptr);
    snprintf(args, sizeof args, "%.*s", (int)q->args.len, q->args.ptr);
    host.calls++;
    out->tag = SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE;
    sx_js_bridge_result_response_t *r = &out->u.js_bridge_result_response;
    r->call_id = q->call_id;
    const char *error, *result = bridge_op(op, args, &error);
    if (error) {
        r->error.present = true;
        r->error.value = bare_str_from_cstr(error);
    } else if (result) {
        r->result.present = true;
        r->result.value = bare_str_from_cstr(result);
    }
    return 0;
}

/* ---- requests ---- */

static void call(const char *vm, const sx_request_payload_t *p, sx_response_payload_tag_t want,
                 sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    se_client_vm_scope(c, vm, &own);
    int st = se_client_call(c, &own, p, BENCH_T, r);
    if (st == SE_OK && r->payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE) {
        const sx_rejected_response_t *j = &r->payload.u.rejected_response;
        die("%s: %.*s: %.*s", sx_request_payload_tag_name(p->tag), (int)j->code.len, j->code.ptr,
            (int)j->message.len, j->message.ptr);
    }
    if (st != SE_OK || r->payload.tag != want)
        die("%s: %s, %s", sx_request_payload_tag_name(p->tag), se_strerror(st),
            st == SE_OK ? sx_response_payload_tag_name(r->payload.tag) : "no response");
}

static void stat_payload(sx_request_payload_t *p, const char *path)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    p->u.guest_filesystem_call_request.operation = SX_GUEST_FILESYSTEM_OPERATION_STAT;
    p->u.guest_filesystem_call_request.path = bare_str_from_cstr(path);
}

/* One STAT round trip, in ms; the size it reports must be size. */
static double stat_once(const char *vm, const sx_request_payload_t *p, uint64_t size)
{
    sx_response_frame_t r;
    double t0 = bench_now_ms();
    call(vm, p, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE, &r);
    double t = bench_now_ms() - t0;
    const sx_guest_filesystem_result_response_t *g = &r.payload.u.guest_filesystem_result_response;
    if (!g->stat.present || g->stat.value.size != size)
        die("STAT reported %llu bytes, not %llu",
            g->stat.present ? (unsigned long long)g->stat.value.size : 0ULL,
            (unsigned long long)size);
    return t;
}

typedef struct mount {
    const char *guest, *plugin, *config;
} mount_t;

/* ConfigureVm with n read-only mounts (replacing the VM's others). */
static void configure(const char *vm, const mount_t *m, size_t n)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    sx_mount_descriptor_t d[8];
    memset(&p, 0, sizeof p);
    memset(d, 0, sizeof d);
    for (size_t i = 0; i < n && i < 8; i++) {
        d[i].guest_path = bare_str_from_cstr(m[i].guest);
        d[i].read_only = true;
        d[i].plugin.id = bare_str_from_cstr(m[i].plugin);
        d[i].plugin.config = bare_str_from_cstr(m[i].config);
    }
    p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
    p.u.configure_vm_request.mounts.items = d;
    p.u.configure_vm_request.mounts.len = n;
    call(vm, &p, SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE, &r);
    if (r.payload.u.vm_configured_response.applied_mounts != n)
        die("ConfigureVm applied %u mounts, not %zu",
            r.payload.u.vm_configured_response.applied_mounts, n);
}

/* A root-owned host directory (0755) under /tmp holding name (0644) with n bytes of data. */
static void host_dir(char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(dir, 64, "/tmp/bench-host.XXXXXX");
    if (!mkdtemp(dir) || chmod(dir, 0755) != 0)
        die("cannot make %s", dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n || close(fd) != 0)
        die("cannot write %s", path);
}

static void host_dir_remove(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    rmdir(dir);
}

/* ---- reporting ---- */

typedef struct figs {
    double p50, p95;
} figs_t;

/* Times: their p50 and p95. */
static figs_t times(const double *v, size_t n)
{
    return (figs_t){bench_quantile(v, n, 0.5), bench_quantile(v, n, 0.95)};
}

/* Rates of amount per time unit: at the p50 time, and at the p95 (the slow one). */
static figs_t rates(const double *v, size_t n, double amount)
{
    return (figs_t){amount / bench_quantile(v, n, 0.5), amount / bench_quantile(v, n, 0.95)};
}

static void header(const char *unit)
{
    printf("   %-36s %9s %9s   %-16s %9s %9s %8s\n", unit, "p50", "p95", "peer", "p50", "p95",
           "x peer");
}

/* ours and the peer's figures, and ours over the peer's at p50 */
static void row(const char *what, figs_t a, const char *peer, figs_t b, int prec)
{
    double x = a.p50 / b.p50;
    printf("   %-36s %9.*f %9.*f   %-16s %9.*f %9.*f %7.*fx\n", what, prec, a.p50, prec, a.p95,
           peer, prec, b.p50, prec, b.p95, x < 0.1 ? 3 : 2, x);
}

/* ---- 1. host callbacks ---- */

static void bench_callbacks(void)
{
    enum { LOOP = 100, ROUNDS = 11, EXECS = 200 };
    char vm[64], out[256];
    bench_vm_new(c, CONFIG, vm);
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_REGISTER_HOST_CALLBACKS_REQUEST;
    sx_register_host_callbacks_request_t *q = &p.u.register_host_callbacks_request;
    bare_str_t alias = bare_str_from_cstr("hostcb");
    sx_str_registered_host_callback_definition_map_entry_t tool;
    memset(&tool, 0, sizeof tool);
    tool.key = bare_str_from_cstr("ping");
    tool.value.description = bare_str_from_cstr("Answers at once");
    tool.value.input_schema = bare_str_from_cstr("{\"type\": \"object\"}");
    q->name = bare_str_from_cstr("bench");
    q->description = bare_str_from_cstr("The benchmark's host");
    q->command_aliases.items = &alias;
    q->command_aliases.len = 1;
    q->callbacks.items = &tool;
    q->callbacks.len = 1;
    call(vm, &p, SX_RESPONSE_PAYLOAD_TAG_HOST_CALLBACKS_REGISTERED_RESPONSE, &r);
    if (bench_sh(c, vm, "hostcb ping", out, sizeof out) != 0 ||
        strcmp(out, "{\"ok\":true,\"result\":{}}") != 0 || host.callbacks != 1)
        die("the callback command printed '%s'", out);

    char cb_loop[256], true_loop[256];
#define LOOP_SCRIPT "i=0; while [ $i -lt %d ]; do %s >/dev/null || exit 1; i=$((i + 1)); done"
    snprintf(cb_loop, sizeof cb_loop, LOOP_SCRIPT, LOOP, "hostcb ping");
    snprintf(true_loop, sizeof true_loop, LOOP_SCRIPT, LOOP, "/bin/true");
    double a[ROUNDS], b[ROUNDS];
    long before = host.callbacks;
    bench_sh(c, vm, true_loop, NULL, 0); /* warm-up */
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = bench_now_ms();
        if (bench_sh(c, vm, cb_loop, NULL, 0) != 0)
            die("the callback loop failed");
        a[i] = (bench_now_ms() - t0) / LOOP;
        t0 = bench_now_ms();
        if (bench_sh(c, vm, true_loop, NULL, 0) != 0)
            die("the true loop failed");
        b[i] = (bench_now_ms() - t0) / LOOP;
    }
    if (host.callbacks - before != LOOP * ROUNDS)
        die("the host saw %ld callbacks, not %d", host.callbacks - before, LOOP * ROUNDS);

    static const char *const cb_argv[] = {"hostcb", "ping", NULL}, *const true_argv[] = {"true",
                                                                                         NULL};
    double e[EXECS], f[EXECS];
    for (int i = 0; i < EXECS; i++) {
        double t0 = bench_now_ms();
        bench_start(c, vm, "cb", cb_argv);
        if (bench_wait_exit(c, "cb", NULL, NULL, NULL, 0) != 0)
            die("the callback command failed");
        e[i] = bench_now_ms() - t0;
        t0 = bench_now_ms();
        bench_start(c, vm, "true", true_argv);
        bench_wait_exit(c, "true", NULL, NULL, NULL, 0);
        f[i] = bench_now_ms() - t0;
    }
    printf("1. host callbacks: a command whose host (this program) answers at once\n");
    header("ms");
    char what[64];
    snprintf(what, sizeof what, "in a guest sh loop, each (%dx%d)", ROUNDS, LOOP);
    row(what, times(a, ROUNDS), "/bin/true loop", times(b, ROUNDS), 3);
    snprintf(what, sizeof what, "ExecuteRequest -> exited (%d)", EXECS);
    row(what, times(e, EXECS), "true", times(f, EXECS), 3);
    se_client_dispose_vm(c, vm, BENCH_T);
}

/* ---- 2. js_bridge ---- */

static void bench_bridge(void)
{
    enum { CATS = 7, STATS = 1000 };
    uint8_t *data = malloc(FILE_BYTES);
    if (!data)
        die("out of memory for the file");
    uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift: bytes nothing compresses */
    for (size_t i = 0; i < FILE_BYTES; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    host.file = data;
    char dir[64], hd[512], vm[64], out[256];
    host_dir(dir, "f", data, FILE_BYTES);
    snprintf(hd, sizeof hd, "{\"hostPath\": \"%s\"}", dir);
    bench_vm_new(c, CONFIG, vm);
    const mount_t m[] = {{"/jb", "js_bridge", "{\"mountId\": \"bench\"}"}, {"/hd", "host_dir", hd}};
    configure(vm, m, 2);
    if (bench_sh(c, vm,
                 "cp /hd/f /home/user/f && cmp /jb/f /hd/f && cmp /jb/f /home/user/f && "
                 "wc -c < /jb/f",
                 out, sizeof out) != 0 ||
        strtoul(out, NULL, 10) != FILE_BYTES)
        die("the three files differ: '%s'", out);

    static const char *const path[] = {"/jb/f", "/hd/f", "/home/user/f"};
    double took[3][CATS]; /* s */
    long calls[CATS];
    for (int i = 0; i < CATS; i++)
        for (int k = 0; k < 3; k++) {
            char script[128];
            snprintf(script, sizeof script,
                     "s=$(date +%%s%%N); cat %s >/dev/null || exit 1; e=$(date +%%s%%N); "
                     "echo $((e - s))",
                     path[k]);
            long n0 = host.calls;
            if (bench_sh(c, vm, script, out, sizeof out) != 0)
                die("cat %s failed", path[k]);
            took[k][i] = strtod(out, NULL) / 1e9;
            if (k == 0)
                calls[i] = host.calls - n0;
        }
    double s[3][STATS];
    sx_request_payload_t sp[3];
    for (int k = 0; k < 3; k++)
        stat_payload(&sp[k], path[k]);
    long n0 = host.calls;
    for (int i = 0; i < STATS; i++)
        for (int k = 0; k < 3; k++)
            s[k][i] = stat_once(vm, &sp[k], FILE_BYTES) * 1e3;
    long stat_calls = host.calls - n0;

    printf("2. a js_bridge mount served from this program's memory, beside host_dir and the "
           "VM's own files\n");
    const double mib = FILE_BYTES / 1048576.0;
    figs_t jb = rates(took[0], CATS, mib), hdir = rates(took[1], CATS, mib),
           own = rates(took[2], CATS, mib);
    header("MiB/s");
    char what[64];
    snprintf(what, sizeof what, "guest cat 16 MiB, js_bridge (%d)", CATS);
    row(what, jb, "host_dir", hdir, 1);
    row(what, jb, "VM's own files", own, 1);
    snprintf(what, sizeof what, "guest cat 16 MiB, host_dir (%d)", CATS);
    row(what, hdir, "VM's own files", own, 1);
    double ncalls[CATS];
    for (int i = 0; i < CATS; i++)
        ncalls[i] = (double)calls[i];
    printf("   (a js_bridge cat takes %.0f host calls: preads of at most 128 KiB)\n",
           bench_quantile(ncalls, CATS, 0.5));
    header("us");
    snprintf(what, sizeof what, "STAT round trip, js_bridge (%d)", STATS);
    row(what, times(s[0], STATS), "VM's own files", times(s[2], STATS), 1);
    snprintf(what, sizeof what, "STAT round trip, host_dir (%d)", STATS);
    row(what, times(s[1], STATS), "VM's own files", times(s[2], STATS), 1);
    printf("   (the js_bridge STATs took %ld host calls)\n", stat_calls);
    se_client_dispose_vm(c, vm, BENCH_T);
    host_dir_remove(dir, "f");
    host.file = NULL;
    free(data);
}

/* ---- 3. VmFetch ---- */

static const char SERVER[] =
    "require('http').createServer((q, s) => { s.setHeader('Connection', 'close'); "
    "s.end('ok'); }).listen(8080, () => console.log('listening'));";

static void fetch_payload(sx_request_payload_t *p)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_VM_FETCH_REQUEST;
    p->u.vm_fetch_request.port = 8080;
    p->u.vm_fetch_request.method = bare_str_from_cstr("GET");
    p->u.vm_fetch_request.path = bare_str_from_cstr("/ping");
    p->u.vm_fetch_request.headers_json = bare_str_from_cstr("{}");
}

static void fetch_check(const sx_response_frame_t *r)
{
    char text[4096];
    bare_str_t j = r->payload.u.vm_fetch_response.response_json;
    snprintf(text, sizeof text, "%.*s", (int)j.len, j.ptr);
    /* "ok" is b2s= in base64 */
    if (!strstr(text, "\"status\":200") || !strstr(text, "\"body\":\"b2s=\""))
        die("VmFetch answered %s", text);
}

static double fetch_once(const char *vm, const sx_request_payload_t *p)
{
    sx_response_frame_t r;
    double t0 = bench_now_ms();
    call(vm, p, SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE, &r);
    double t = bench_now_ms() - t0;
    fetch_check(&r);
    return t;
}

/* n fetches sent at once (request ids from *id on), all answered: the time, in ms. */
static double fetch_burst(const char *vm, const sx_request_payload_t *p, int n, int64_t *id)
{
    int64_t first = *id;
    double t0 = bench_now_ms();
    for (int i = 0; i < n; i++) {
        sx_protocol_frame_t f;
        memset(&f, 0, sizeof f);
        f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
        f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
        f.u.request_frame.schema.version = 7;
        f.u.request_frame.request_id = (*id)++;
        se_client_vm_scope(c, vm, &f.u.request_frame.ownership);
        f.u.request_frame.payload = *p;
        if (se_client_send_frame(c, &f) != SE_OK)
            die("cannot send a VmFetch");
    }
    for (int64_t k = first; k < *id; k++) {
        sx_response_frame_t r;
        if (se_client_wait_response(c, k, BENCH_T, &r) != SE_OK ||
            r.payload.tag != SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE)
            die("a VmFetch of the burst failed");
        fetch_check(&r);
    }
    return bench_now_ms() - t0;
}

static void bench_fetch(void)
{
    enum { N = 1000, BURST = 64, ROUNDS = 11 };
    char vm[64];
    bench_vm_new(c, CONFIG, vm);
    static const char *const argv[] = {"node", "-e", SERVER, NULL};
    double t0 = bench_now_ms(), up = 0;
    bench_start(c, vm, "srv", argv);
    while (up == 0) {
        sx_event_frame_t ev;
        if (se_client_next_event(c, BENCH_T, &ev) != SE_OK)
            die("the server did not start");
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT)
            up = bench_now_ms() - t0;
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT)
            die("the server exited");
    }
    sx_request_payload_t fp, sp;
    fetch_payload(&fp);
    sx_response_frame_t r;
    stat_payload(&sp, "/home/user/x"); /* a WRITE_FILE of "x", then STAT */
    sp.u.guest_filesystem_call_request.operation = SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE;
    sp.u.guest_filesystem_call_request.content.present = true;
    sp.u.guest_filesystem_call_request.content.value = bare_str_from_cstr("x");
    call(vm, &sp, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE, &r);
    stat_payload(&sp, "/home/user/x");
    for (int i = 0; i < 20; i++) /* warm-up */
        fetch_once(vm, &fp);
    static double a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = fetch_once(vm, &fp) * 1e3;
        b[i] = stat_once(vm, &sp, 1) * 1e3;
    }
    double burst[ROUNDS], serial[ROUNDS];
    int64_t id = (int64_t)1 << 40;
    for (int k = 0; k < ROUNDS; k++) {
        burst[k] = fetch_burst(vm, &fp, BURST, &id);
        double s0 = bench_now_ms();
        for (int i = 0; i < BURST; i++)
            fetch_once(vm, &fp);
        serial[k] = bench_now_ms() - s0;
    }
    printf("3. VmFetch GET of a Node.js server in the guest (Connection: close; it started in "
           "%.0f ms)\n",
           up);
    header("us");
    char what[64];
    snprintf(what, sizeof what, "VmFetch round trip (%d)", N);
    row(what, times(a, N), "STAT, same VM", times(b, N), 1);
    header("ms");
    snprintf(what, sizeof what, "%d fetches at once, all answered (%d)", BURST, ROUNDS);
    row(what, times(burst, ROUNDS), "one at a time", times(serial, ROUNDS), 2);
    se_client_dispose_vm(c, vm, BENCH_T);
}

/* ---- 4. ConfigureVm ---- */

static void bench_configure(void)
{
    enum { N = 200 };
    char dirs[6][64], cfg[6][512], vm_idle[64], vm_busy[64], out[64];
    for (int i = 0; i < 6; i++) {
        host_dir(dirs[i], "which", i < 3 ? "A\n" : "B\n", 2);
        snprintf(cfg[i], sizeof cfg[i], "{\"hostPath\": \"%s\"}", dirs[i]);
    }
    const mount_t set[2][3] = {
        {{"/m/1", "host_dir", cfg[0]}, {"/m/2", "host_dir", cfg[1]}, {"/m/3", "host_dir", cfg[2]}},
        {{"/m/1", "host_dir", cfg[3]}, {"/m/2", "host_dir", cfg[4]}, {"/m/3", "host_dir", cfg[5]}}};
    bench_vm_new(c, CONFIG, vm_idle);
    bench_vm_new(c, CONFIG, vm_busy);
    static const char *const sleeper[] = {"sleep", "1000", NULL};
    bench_start(c, vm_busy, "sleeper", sleeper); /* its supervisor runs from here on */
    configure(vm_idle, set[1], 3);
    configure(vm_busy, set[1], 3);
    double a[N], b[N];
    for (int i = 0; i < N; i++) {
        double t0 = bench_now_ms();
        configure(vm_busy, set[i % 2], 3);
        a[i] = bench_now_ms() - t0;
        t0 = bench_now_ms();
        configure(vm_idle, set[i % 2], 3);
        b[i] = bench_now_ms() - t0;
    }
    /* N is even: set[1] is in place */
    if (bench_sh(c, vm_busy, "cat /m/1/which /m/2/which /m/3/which", out, sizeof out) != 0 ||
        strcmp(out, "B\nB\nB\n") != 0)
        die("the running VM's mounts read '%s'", out);
    printf("4. ConfigureVm with 3 host_dir mounts replacing 3 others\n");
    header("ms");
    char what[64];
    snprintf(what, sizeof what, "its supervisor running (%d)", N);
    row(what, times(a, N), "none started", times(b, N), 3);
    se_client_dispose_vm(c, vm_busy, BENCH_T);
    se_client_dispose_vm(c, vm_idle, BENCH_T);
    for (int i = 0; i < 6; i++)
        host_dir_remove(dirs[i], "which");
}

int main(int argc, char **argv)
{
    const char *sidecar = argc > 1 ? argv[1] : "build/secure-exec-sidecar";
    if (geteuid() != 0) {
        printf("bench_host: skipped (guest processes and mounts need root)\n");
        return 0;
    }
    char err[256];
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    se_client_options_t opt = {sidecar, NULL, env, getenv("BENCH_LOGS") ? 2 : null, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    if (!c)
        die("%s", err);
    if (se_client_authenticate(c, "bench", "t", BENCH_T) != SE_OK ||
        se_client_open_session(c, BENCH_T) != SE_OK)
        die("cannot start %s", sidecar);
    se_client_on_sidecar_request(c, on_request, NULL);
    double t0 = bench_now_ms();
    printf("bench_host: %s\n\n", sidecar);
    static void (*const sections[])(void) = {bench_callbacks, bench_bridge, bench_fetch,
                                             bench_configure};
    const char *only = getenv("BENCH_ONLY");
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!only || atoi(only) == (int)i + 1) {
            sections[i]();
            printf("\n");
        }
    printf("(%.1f s in all)\n", (bench_now_ms() - t0) / 1e3);
    se_client_close(c, BENCH_T);
    close(null);
    free(host.text);
    return 0;
}
