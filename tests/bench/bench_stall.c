/*
 * bench_stall.c - what one VM's trouble costs the others, through the real sidecar:
 *
 *   dispose stall  a guest in VM A echoes a line back, over and over (WriteStdin -> output
 *                  event), while 8 other VMs whose guests ignore SIGTERM are disposed all at
 *                  once: the echo's round trip before (p50, worst) and during the disposals
 *                  (p50, worst), and how long the disposals took. A loop that sleeps through
 *                  grace periods shows up as the worst round trip.
 *   snapshot       SnapshotRootFilesystem of a VM holding 60 MB of files (written through
 *                  GuestFilesystemCall first): the sidecar's peak RSS during the request and
 *                  its RSS afterwards (VmHWM, VmRSS of /proc/<pid>/status, the peak reset just
 *                  before), and what the request answered.
 *
 * Must run as root. Usage: bench_stall [SIDECAR]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "guest.h"
#include "stats.h"

#define T BENCH_T
#define NSTUBBORN 8
#define MAX_SAMPLES 100000

static se_client_t *c;

static void die(const char *what)
{
    fprintf(stderr, "bench_stall: %s\n", what);
    exit(1);
}

static void vm_new(const char *config, char *vm)
{
    bench_vm_new(c, config, vm);
}

static void exec_sh(const char *vm, const char *id, const char *script)
{
    const char *const argv[] = {"sh", "-c", script, NULL};
    bench_start(c, vm, id, argv);
}

/* Waits for a line of output from process id (any VM). */
static void wait_output(const char *id)
{
    for (;;) {
        sx_event_frame_t ev;
        if (se_client_next_event(c, T, &ev) != SE_OK)
            die("no output");
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
            bare_str_eq_cstr(ev.payload.u.process_output_event.process_id, id))
            return;
    }
}

static int disposed; /* DISPOSED events seen */

/* One echo round trip through A's guest: WriteStdin, then its output event. */
static double echo_once(const char *vm)
{
    static int64_t next_id = 1000000;
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    f.u.request_frame.request_id = next_id++;
    se_client_vm_scope(c, vm, &f.u.request_frame.ownership);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST;
    f.u.request_frame.payload.u.write_stdin_request.process_id = bare_str_from_cstr("echo");
    f.u.request_frame.payload.u.write_stdin_request.chunk =
        (bare_bytes_t){(const uint8_t *)"x\n", 2};
    double t0 = bench_now_ms();
    if (se_client_send_frame(c, &f) != SE_OK)
        die("send");
    for (;;) {
        sx_event_frame_t ev;
        if (se_client_next_event(c, T, &ev) != SE_OK)
            die("no echo");
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT &&
            ev.payload.u.vm_lifecycle_event.state == SX_VM_LIFECYCLE_STATE_DISPOSED)
            disposed++;
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
            bare_str_eq_cstr(ev.payload.u.process_output_event.process_id, "echo"))
            return bench_now_ms() - t0;
    }
}

static void bench_dispose(void)
{
    static double before[MAX_SAMPLES], during[MAX_SAMPLES];
    size_t nb = 0, nd = 0;
    char a[64], vms[NSTUBBORN][64];
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\"}}", a);
    exec_sh(a, "echo", "exec cat");
    for (int i = 0; i < NSTUBBORN; i++) {
        vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\"}}", vms[i]);
        exec_sh(vms[i], "stubborn", "trap '' TERM; echo ready; while :; do sleep 1; done");
        wait_output("stubborn");
    }
    for (double t = bench_now_ms(); bench_now_ms() - t < 1000 && nb < MAX_SAMPLES;)
        before[nb++] = echo_once(a);
    /* all eight at once, as a host tearing down a batch would */
    double t0 = bench_now_ms();
    for (int i = 0; i < NSTUBBORN; i++) {
        sx_protocol_frame_t f;
        memset(&f, 0, sizeof f);
        f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
        f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
        f.u.request_frame.schema.version = 7;
        f.u.request_frame.request_id = 2000000 + i;
        se_client_vm_scope(c, vms[i], &f.u.request_frame.ownership);
        f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_DISPOSE_VM_REQUEST;
        if (se_client_send_frame(c, &f) != SE_OK)
            die("send dispose");
    }
    disposed = 0;
    while (disposed < NSTUBBORN && nd < MAX_SAMPLES)
        during[nd++] = echo_once(a);
    double took = bench_now_ms() - t0;
    double b50 = bench_quantile(before, nb, 0.5), bmax = bench_quantile(before, nb, 1.0);
    double d50 = bench_quantile(during, nd, 0.5), dmax = bench_quantile(during, nd, 1.0);
    printf("dispose stall: echo round trip in another VM, before: p50 %.3f ms, worst %.3f ms "
           "(%zu)\n",
           b50, bmax, nb);
    printf("dispose stall: while %d SIGTERM-ignoring VMs are disposed: p50 %.3f ms, worst "
           "%.1f ms (%zu round trips; the disposals took %.0f ms)\n",
           NSTUBBORN, d50, dmax, nd, took);
    printf("dispose stall: worst round trip during / before: %.1fx\n",
           dmax / (bmax > 0 ? bmax : 1));
    se_client_dispose_vm(c, a, T);
}

static long status_kib(const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)se_client_pid(c));
    FILE *f = fopen(path, "re");
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void reset_peak(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)se_client_pid(c));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1)
            die("clear_refs");
        close(fd);
    }
}

static void bench_snapshot(void)
{
    char vm[64];
    vm_new("{\"permissions\": {\"fs\": \"allow\"}, \"limits\": {\"resources\": "
           "{\"maxFilesystemBytes\": 134217728}}}",
           vm);
    enum { NFILES = 80, FILE_BYTES = 768 * 1024 };
    char *text = malloc(FILE_BYTES + 1);
    if (!text)
        die("out of memory");
    for (int i = 0; i < FILE_BYTES; i++)
        text[i] = (char)('a' + i % 26);
    text[FILE_BYTES] = '\0';
    sx_ownership_scope_t own;
    se_client_vm_scope(c, vm, &own);
    for (int i = 0; i < NFILES; i++) {
        char path[64];
        snprintf(path, sizeof path, "/home/user/f%02d.txt", i);
        sx_request_payload_t p;
        sx_response_frame_t r;
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
        p.u.guest_filesystem_call_request.operation = SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE;
        p.u.guest_filesystem_call_request.path = bare_str_from_cstr(path);
        p.u.guest_filesystem_call_request.content.present = true;
        p.u.guest_filesystem_call_request.content.value = bare_str_from_cstr(text);
        if (se_client_call(c, &own, &p, T, &r) != SE_OK ||
            r.payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE)
            die("write_file");
    }
    free(text);
    long before = status_kib("VmRSS");
    reset_peak();
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
    double t0 = bench_now_ms();
    if (se_client_call(c, &own, &p, T, &r) != SE_OK)
        die("snapshot");
    double took = bench_now_ms() - t0;
    long peak = status_kib("VmHWM"), after = status_kib("VmRSS");
    char answer[160];
    if (r.payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE)
        snprintf(answer, sizeof answer, "%.*s", (int)r.payload.u.rejected_response.code.len,
                 r.payload.u.rejected_response.code.ptr);
    else
        snprintf(answer, sizeof answer, "%s", sx_response_payload_tag_name(r.payload.tag));
    printf("snapshot of a 60 MB VM: %s in %.0f ms; sidecar RSS %.1f MB before, peak %.1f MB, "
           "%.1f MB after\n",
           answer, took, (double)before / 1024, (double)peak / 1024, (double)after / 1024);
    se_client_dispose_vm(c, vm, T);
}

int main(int argc, char **argv)
{
    const char *sidecar = argc > 1 ? argv[1] : "build/secure-exec-sidecar";
    char err[256];
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    se_client_options_t opt = {sidecar, NULL, NULL, getenv("BENCH_LOGS") ? 2 : null, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    if (!c)
        die(err);
    if (se_client_authenticate(c, "bench", "t", T) != SE_OK ||
        se_client_open_session(c, T) != SE_OK)
        die("handshake");
    printf("bench_stall: %s\n", sidecar);
    bench_dispose();
    bench_snapshot();
    se_client_close(c, T);
    close(null);
    return 0;
}
