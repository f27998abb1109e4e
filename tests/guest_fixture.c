/* guest_fixture.c - the shared helpers of the suites that run guests (guest_fixture.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_fixture.h"

#ifndef SIDECAR_PATH
#define SIDECAR_PATH "build/secure-exec-sidecar"
#endif

se_client_t *c;
static char log_path[64];
static int log_fd = -1;

void start(void)
{
    /* A secret in the sidecar's own environment: no guest may see it. */
    static const char *const env[] = {"PATH=/usr/bin:/bin", "SIDECAR_SECRET=hunter2", NULL};
    char err[256];
    snprintf(log_path, sizeof log_path, "/tmp/exec-log.XXXXXX");
    log_fd = mkstemp(log_path);
    ck_assert_int_ge(log_fd, 0);
    se_client_options_t opt = {SIDECAR_PATH, NULL, env, getenv("CHECK_EXEC_LOGS") ? 2 : log_fd, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(se_client_authenticate(c, "exec", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
}

void drop_log(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    unlink(log_path);
}

void stop(void)
{
    int status = se_client_close(c, T);
    c = NULL;
    drop_log();
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sidecar status %d", status);
}

void vm_new(const char *config, char *vm)
{
    int st = se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, config, T, vm, 64);
    ck_assert_msg(st == SE_OK, "create_vm: %s: %s %s", se_strerror(st), se_client_rejection_code(c),
                  se_client_rejection_message(c));
}

void vm_dispose(const char *vm)
{
    ck_assert_int_eq(se_client_dispose_vm(c, vm, T), SE_OK);
}

void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- running processes ---- */

void out_add(out_t *o, const uint8_t *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 1)
            cap *= 2;
        o->buf = realloc(o->buf, cap);
        ck_assert_ptr_nonnull(o->buf);
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

void result_free(result_t *r)
{
    free(r->out.buf);
    free(r->err.buf);
    memset(r, 0, sizeof *r);
}

char rej_code[64], rej_msg[1024];

/* A request on the VM, answered with the payload in *r; a rejection is SE_REJECTED, with its
 * code and message in rej_code and rej_msg. */
int vm_call(const char *vm, const sx_request_payload_t *p, sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    se_client_vm_scope(c, vm, &own);
    int st = se_client_call(c, &own, p, T, r);
    if (st == SE_OK && r->payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE) {
        const sx_rejected_response_t *j = &r->payload.u.rejected_response;
        snprintf(rej_code, sizeof rej_code, "%.*s", (int)j->code.len, j->code.ptr);
        snprintf(rej_msg, sizeof rej_msg, "%.*s", (int)j->message.len, j->message.ptr);
        return SE_REJECTED;
    }
    return st;
}

/* Sends an ExecuteRequest; SE_OK with the pid, or the client's status (rejections). */
int execute(const char *vm, const char *id, const exec_opts_t *o, uint32_t *pid)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    bare_str_t args[64];
    sx_str_str_map_entry_t env[32];
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    sx_execute_request_t *e = &p.u.execute_request;
    e->process_id = bare_str_from_cstr(id);
    if (o->command) {
        e->command.present = true;
        e->command.value = bare_str_from_cstr(o->command);
    }
    if (o->runtime >= 0) {
        e->runtime.present = true;
        e->runtime.value = (sx_guest_runtime_kind_t)o->runtime;
    }
    if (o->entrypoint) {
        e->entrypoint.present = true;
        e->entrypoint.value = bare_str_from_cstr(o->entrypoint);
    }
    for (size_t i = 0; o->args && o->args[i]; i++) {
        args[i] = bare_str_from_cstr(o->args[i]);
        e->args.len = i + 1;
    }
    e->args.items = args;
    for (size_t i = 0; o->env && o->env[i]; i++) {
        const char *eq = strchr(o->env[i], '=');
        env[i].key = (bare_str_t){o->env[i], (size_t)(eq - o->env[i])};
        env[i].value = bare_str_from_cstr(eq + 1);
        e->env.len = i + 1;
    }
    e->env.items = env;
    if (o->cwd) {
        e->cwd.present = true;
        e->cwd.value = bare_str_from_cstr(o->cwd);
    }
    if (o->tier >= 0) {
        e->wasm_permission_tier.present = true;
        e->wasm_permission_tier.value = (sx_wasm_permission_tier_t)o->tier;
    }
    int st = vm_call(vm, &p, &r);
    if (st == SE_OK) {
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_PROCESS_STARTED_RESPONSE);
        ck_assert(bare_str_eq_cstr(r.payload.u.process_started_response.process_id, id));
        ck_assert(r.payload.u.process_started_response.pid.present);
        if (pid)
            *pid = r.payload.u.process_started_response.pid.value;
    }
    return st;
}

exec_opts_t cmd(const char *command, const char *const *args)
{
    exec_opts_t o = {command, -1, NULL, args, NULL, NULL, -1};
    return o;
}

exec_opts_t runtime(int kind, const char *entry, const char *const *args)
{
    exec_opts_t o = {NULL, kind, entry, args, NULL, NULL, -1};
    return o;
}

/* Takes events until id exits (or ms pass); output of id goes to r. */
bool collect(const char *id, result_t *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long deadline = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + ms;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long left = deadline - (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
        if (left <= 0)
            return false;
        sx_event_frame_t ev;
        int st = se_client_next_event(c, (int)left, &ev);
        if (st == SE_TIMEOUT)
            return false;
        ck_assert_msg(st == SE_OK, "next_event: %s", se_strerror(st));
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT) {
            const sx_process_output_event_t *o = &ev.payload.u.process_output_event;
            if (!bare_str_eq_cstr(o->process_id, id))
                continue;
            ck_assert_msg(r->code < 0, "output after the exit event");
            out_add(o->channel == SX_STREAM_CHANNEL_STDOUT ? &r->out : &r->err, o->chunk.ptr,
                    o->chunk.len);
            r->events++;
            if (o->chunk.len > r->max_chunk)
                r->max_chunk = o->chunk.len;
        } else if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT) {
            const sx_process_exited_event_t *x = &ev.payload.u.process_exited_event;
            if (!bare_str_eq_cstr(x->process_id, id))
                continue;
            r->code = x->exit_code;
            return true;
        }
    }
}

/* Runs one process to its end; its output and exit code in r. */
void run(const char *vm, const exec_opts_t *o, result_t *r)
{
    memset(r, 0, sizeof *r);
    r->code = -1;
    int st = execute(vm, "run", o, NULL);
    ck_assert_msg(st == SE_OK, "execute: %s: %s %s", se_strerror(st), rej_code, rej_msg);
    ck_assert_msg(collect("run", r, T), "no exit event within %d ms (stdout so far: %s)", T,
                  r->out.buf ? r->out.buf : "");
}

/* Runs sh -c script; returns its stdout (static), exit code in *code. */
const char *sh(const char *vm, const char *script, int *code)
{
    static result_t r;
    result_free(&r);
    const char *args[] = {"-c", script, NULL};
    exec_opts_t o = cmd("sh", args);
    run(vm, &o, &r);
    if (code)
        *code = r.code;
    return r.out.buf ? r.out.buf : "";
}

/* Runs python3 -c code; returns stdout + stderr (static), exit code in *code. */
const char *py(const char *vm, const char *code_text, int *code)
{
    static result_t r;
    static char both[65536];
    result_free(&r);
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON, code_text, NULL);
    run(vm, &o, &r);
    if (code)
        *code = r.code;
    snprintf(both, sizeof both, "%s%s", r.out.buf ? r.out.buf : "", r.err.buf ? r.err.buf : "");
    return both;
}

void expect_rejection(int st, const char *code, const char *substr)
{
    ck_assert_msg(st == SE_REJECTED, "expected a rejection, got %s", se_strerror(st));
    ck_assert_str_eq(rej_code, code);
    ck_assert_msg(strstr(rej_msg, substr), "message '%s' lacks '%s'", rej_msg, substr);
}

int kill_proc(const char *vm, const char *id, const char *sig)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_KILL_PROCESS_REQUEST;
    p.u.kill_process_request.process_id = bare_str_from_cstr(id);
    p.u.kill_process_request.signal = bare_str_from_cstr(sig);
    return vm_call(vm, &p, &r);
}

int write_stdin(const char *vm, const char *id, const void *data, size_t n)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST;
    p.u.write_stdin_request.process_id = bare_str_from_cstr(id);
    p.u.write_stdin_request.chunk = (bare_bytes_t){data, n};
    int st = vm_call(vm, &p, &r);
    if (st == SE_OK)
        ck_assert_uint_eq(r.payload.u.stdin_written_response.accepted_bytes, n);
    return st;
}

int close_stdin(const char *vm, const char *id)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CLOSE_STDIN_REQUEST;
    p.u.close_stdin_request.process_id = bare_str_from_cstr(id);
    return vm_call(vm, &p, &r);
}

/* Waits until the guest printed want on stdout (it is ready). */
void wait_output(const char *id, result_t *r, const char *want)
{
    for (int i = 0; i < 300 && !(r->out.buf && strstr(r->out.buf, want)); i++) {
        sx_event_frame_t ev;
        int st = se_client_next_event(c, 100, &ev);
        if (st == SE_TIMEOUT)
            continue;
        ck_assert_int_eq(st, SE_OK);
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
            bare_str_eq_cstr(ev.payload.u.process_output_event.process_id, id)) {
            const sx_process_output_event_t *o = &ev.payload.u.process_output_event;
            out_add(o->channel == SX_STREAM_CHANNEL_STDOUT ? &r->out : &r->err, o->chunk.ptr,
                    o->chunk.len);
        }
        ck_assert_msg(ev.payload.tag != SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT ||
                          !bare_str_eq_cstr(ev.payload.u.process_exited_event.process_id, id),
                      "%s exited before printing '%s' (stderr: %s)", id, want,
                      r->err.buf ? r->err.buf : "");
    }
    ck_assert_msg(r->out.buf && strstr(r->out.buf, want), "%s never printed '%s'", id, want);
}

/* ---- files in a VM config ---- */

void b64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* A VM config whose root holds path with content (JSON-escaped by the caller). */
void config_with_file(char *buf, size_t cap, const char *path, const char *b64content,
                      const char *extra)
{
    snprintf(buf, cap,
             "{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": [{\"path\": \"%s\", "
             "\"kind\": \"file\", \"encoding\": \"base64\", \"content\": \"%s\"}]}%s%s}",
             path, b64content, extra ? ", " : "", extra ? extra : "");
}
