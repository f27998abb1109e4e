/* guest.c - see guest.h. */
#include "guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

void bench_vm_new(se_client_t *c, const char *config, char *vm)
{
    if (se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, config, BENCH_T, vm, 64) != SE_OK)
        bench_die("cannot create a VM");
}

void bench_start(se_client_t *c, const char *vm, const char *id, const char *const *argv)
{
    sx_ownership_scope_t own;
    sx_request_payload_t p;
    sx_response_frame_t r;
    bare_str_t args[16];
    size_t n = 0;
    se_client_vm_scope(c, vm, &own);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    p.u.execute_request.process_id = bare_str_from_cstr(id);
    p.u.execute_request.command.present = true;
    p.u.execute_request.command.value = bare_str_from_cstr(argv[0]);
    for (size_t i = 1; argv[i]; i++) {
        if (n == sizeof args / sizeof args[0])
            bench_die("execute: too many arguments");
        args[n++] = bare_str_from_cstr(argv[i]);
    }
    p.u.execute_request.args.items = args;
    p.u.execute_request.args.len = n;
    if (se_client_call(c, &own, &p, BENCH_T, &r) != SE_OK ||
        r.payload.tag != SX_RESPONSE_PAYLOAD_TAG_PROCESS_STARTED_RESPONSE)
        bench_die("execute failed");
}

int bench_wait_exit(se_client_t *c, const char *id, double *first, size_t *bytes, char *out,
                    size_t cap)
{
    size_t len = 0;
    if (out && cap)
        out[0] = '\0';
    for (;;) {
        sx_event_frame_t ev;
        if (se_client_next_event(c, BENCH_T, &ev) != SE_OK)
            bench_die("no event");
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
            bare_str_eq_cstr(ev.payload.u.process_output_event.process_id, id)) {
            const sx_process_output_event_t *o = &ev.payload.u.process_output_event;
            if (first && *first == 0)
                *first = bench_now_ms();
            if (bytes)
                *bytes += o->chunk.len;
            if (out && o->channel == SX_STREAM_CHANNEL_STDOUT && len + 1 < cap) {
                size_t k = o->chunk.len < cap - 1 - len ? o->chunk.len : cap - 1 - len;
                memcpy(out + len, o->chunk.ptr, k);
                len += k;
                out[len] = '\0';
            }
        } else if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT &&
                   bare_str_eq_cstr(ev.payload.u.process_exited_event.process_id, id)) {
            return ev.payload.u.process_exited_event.exit_code;
        }
    }
}

int bench_sh(se_client_t *c, const char *vm, const char *script, char *out, size_t cap)
{
    const char *const argv[] = {"sh", "-c", script, NULL};
    bench_start(c, vm, "sh", argv);
    return bench_wait_exit(c, "sh", NULL, NULL, out, cap);
}
