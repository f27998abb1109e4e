/*
 * guest_fixture.h - what the suites that run guests through the real sidecar share
 * (check_exec, check_escape): one sidecar per test, driven through the client library as a
 * host would, VMs, processes run to their end, their output and exit codes, and the requests
 * on running processes. Failures are Check assertions. SIDECAR_PATH is the binary under test.
 */
#ifndef GUEST_FIXTURE_H
#define GUEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define T 30000 /* ms: generous, sanitizers and a loaded machine are slow */

/* Everything allowed: the tests of one limit or permission narrow it themselves. */
#define ALLOW_ALL                                                                                  \
    "\"permissions\": {\"fs\": \"allow\", \"network\": \"allow\", \"childProcess\": \"allow\", "   \
    "\"process\": \"allow\", \"env\": \"allow\"}"

/* The client of the running test's sidecar (start() to stop()). */
extern se_client_t *c;

/* Spawns the sidecar (a secret in its environment, logs to a file unless CHECK_EXEC_LOGS),
 * authenticates and opens a session. */
void start(void);
/* Closes its stdin and asserts it exits 0. */
void stop(void);
/* Removes the sidecar's log (stop() does it; a test that ends the sidecar itself calls it). */
void drop_log(void);
/* Creates a JavaScript VM with config (JSON); its id in vm (64 bytes). */
void vm_new(const char *config, char *vm);
void vm_dispose(const char *vm);
void msleep(long ms);

typedef struct out {
    char *buf;
    size_t len, cap;
} out_t;

void out_add(out_t *o, const uint8_t *p, size_t n);

typedef struct result {
    out_t out, err;
    int code;      /* the exit code, or -1 before the exit event */
    size_t events; /* output events */
    size_t max_chunk;
} result_t;

void result_free(result_t *r);

typedef struct exec_opts {
    const char *command;
    int runtime; /* -1: none */
    const char *entrypoint;
    const char *const *args; /* NULL-terminated */
    const char *const *env;  /* "K=V", NULL-terminated */
    const char *cwd;
    int tier; /* -1: none */
} exec_opts_t;

exec_opts_t cmd(const char *command, const char *const *args);
exec_opts_t runtime(int kind, const char *entry, const char *const *args);

/* The code and message of the last rejection vm_call (and what uses it) returned. */
extern char rej_code[64], rej_msg[1024];

/* A request on the VM, answered with the payload in *r; a rejection is SE_REJECTED, with its
 * code and message in rej_code and rej_msg. */
int vm_call(const char *vm, const sx_request_payload_t *p, sx_response_frame_t *r);
/* Sends an ExecuteRequest; SE_OK with the pid, or the client's status (rejections). */
int execute(const char *vm, const char *id, const exec_opts_t *o, uint32_t *pid);
/* Takes events until id exits (or ms pass); output of id goes to r. */
bool collect(const char *id, result_t *r, int ms);
/* Runs one process to its end; its output and exit code in r. */
void run(const char *vm, const exec_opts_t *o, result_t *r);
/* Runs sh -c script; returns its stdout (static), exit code in *code. */
const char *sh(const char *vm, const char *script, int *code);
/* Runs python3 -c code; returns stdout + stderr (static), exit code in *code. */
const char *py(const char *vm, const char *code_text, int *code);
void expect_rejection(int st, const char *code, const char *substr);
int kill_proc(const char *vm, const char *id, const char *sig);
int write_stdin(const char *vm, const char *id, const void *data, size_t n);
int close_stdin(const char *vm, const char *id);
/* Waits until the guest printed want on stdout (it is ready). */
void wait_output(const char *id, result_t *r, const char *want);
/* Standard base64 of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
void b64(const uint8_t *in, size_t n, char *out);
/* A VM config whose root holds path with content (base64), everything allowed, plus extra. */
void config_with_file(char *buf, size_t cap, const char *path, const char *b64content,
                      const char *extra);

#endif
