/*
 * execreq.c - ExecuteRequest (what to run, as whom, where, with which environment and
 * permission), WriteStdin, CloseStdin and KillProcess. vmexec.c does the running.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "exec.h"
#include "log.h"
#include "sidecar.h"

#define GUEST_HOME "/home/user"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_PROCESS_ID 256

/*
 * The WASI (preview 1) runner: Node.js's WASI with preopens by tier. argv: tier, module,
 * module args. The kernel enforces the tier too (Landlock: READ_ONLY and ISOLATED cannot
 * write); without preopens a module has no filesystem at all.
 */
static const char wasi_runner[] =
    "import { WASI } from 'node:wasi';\n"
    "import { readFileSync } from 'node:fs';\n"
    "const [tier, module, ...args] = process.argv.slice(1);\n"
    "let bytes;\n"
    "try { bytes = readFileSync(module); } catch (e) {\n"
    "  process.stderr.write(`cannot read WebAssembly module ${module}: ${e.message}\\n`);\n"
    "  process.exit(1);\n"
    "}\n"
    "if (bytes.length < 8 || bytes.readUInt32BE(0) !== 0x0061736d) {\n"
    "  process.stderr.write(`refused to compile guest WebAssembly module ${module}: "
    "not a WebAssembly binary\\n`);\n"
    "  process.exit(1);\n"
    "}\n"
    "const preopens = tier === 'isolated' ? {} : { '/': '/' };\n"
    "const wasi = new WASI({ version: 'preview1', args: [module, ...args], env: process.env,\n"
    "  preopens, returnOnExit: true });\n"
    "let instance;\n"
    "try {\n"
    "  const mod = await WebAssembly.compile(bytes);\n"
    "  instance = await WebAssembly.instantiate(mod, wasi.getImportObject());\n"
    "} catch (e) {\n"
    "  process.stderr.write(`refused to compile guest WebAssembly module ${module}: "
    "${e.message}\\n`);\n"
    "  process.exit(1);\n"
    "}\n"
    "process.exitCode = wasi.start(instance);\n";

static const char *const tier_names[] = {"full", "read-write", "read-only", "isolated"};

/* A growable NULL-terminated string vector in the request arena. */
typedef struct strvec {
    const char **v;
    size_t n, cap;
    bare_arena_t *arena;
} strvec_t;

static bool vec_push(strvec_t *s, const char *str)
{
    if (!str)
        return false;
    if (s->n + 1 >= s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        const char **v = bare_arena_alloc(s->arena, cap * sizeof *v, sizeof(void *));
        if (!v)
            return false;
        if (s->n)
            memcpy(v, s->v, s->n * sizeof *v);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
    return true;
}

static char *arena_cstr(bare_arena_t *a, const char *s)
{
    return bare_arena_strdup(a, bare_str_from_cstr(s));
}

static char *arena_kv(bare_arena_t *a, bare_str_t k, bare_str_t v)
{
    char *s = bare_arena_alloc(a, k.len + v.len + 2, 1);
    if (s) {
        memcpy(s, k.ptr, k.len);
        s[k.len] = '=';
        memcpy(s + k.len + 1, v.ptr, v.len);
        s[k.len + 1 + v.len] = '\0';
    }
    return s;
}

/* Sets "K=V" in env, replacing an existing K. */
static bool env_set(strvec_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t kl = (size_t)(eq - kv) + 1;
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], kv, kl) == 0) {
            env->v[i] = kv;
            return true;
        }
    }
    return vec_push(env, kv);
}

static bool env_has(const strvec_t *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
            return true;
    return false;
}

static const char *env_get(const strvec_t *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
            return env->v[i] + kl + 1;
    return NULL;
}

static bool has_nul(bare_str_t s)
{
    return memchr(s.ptr, '\0', s.len) != NULL;
}

/* Validates a processId: non-empty, bounded, printable. */
static bool valid_process_id(sc_req_t *req, bare_str_t id)
{
    if (id.len == 0) {
        sc_reject(req, "invalid_state", "processId must not be empty");
        return false;
    }
    if (id.len > MAX_PROCESS_ID) {
        sc_reject(req, "invalid_state", "processId is %zu bytes long; the limit is %d", id.len,
                  MAX_PROCESS_ID);
        return false;
    }
    for (size_t i = 0; i < id.len; i++) {
        if ((unsigned char)id.ptr[i] < 0x20 || id.ptr[i] == 0x7f) {
            sc_reject(req, "invalid_state",
                      "processId contains a control byte (0x%02x at offset %zu)",
                      (unsigned char)id.ptr[i], i);
            return false;
        }
    }
    return true;
}

/* The WASM tier: the request's, then commandPermissions[command or module base name], then
 * FULL. */
static int wasm_tier(const sc_vm_t *vm, const sx_execute_request_t *v, const char *entry)
{
    if (v->wasm_permission_tier.present)
        return (int)v->wasm_permission_tier.value;
    int t = sc_vmexec_tier_for(vm, "wasm");
    if (t >= 0)
        return t;
    const char *base = strrchr(entry, '/');
    t = sc_vmexec_tier_for(vm, base ? base + 1 : entry);
    return t >= 0 ? t : SX_WASM_PERMISSION_TIER_FULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void sc_handle_execute(sc_req_t *req, const sx_execute_request_t *v)
{
    sc_server_t *srv = req->srv;
    bare_arena_t *a = &srv->arena;
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm || !valid_process_id(req, v->process_id))
        return;
    if (sc_vmexec_find(vm, v->process_id)) {
        sc_reject(req, "invalid_state", "VM %s already has an active process with id %.*s", vm->id,
                  (int)v->process_id.len, v->process_id.ptr);
        return;
    }

    strvec_t argv = {NULL, 0, 0, a}, env = {NULL, 0, 0, a};
    const char *alias = NULL;
    sc_spawn_req_t r;
    memset(&r, 0, sizeof r);
    r.id = bare_arena_strdup(a, v->process_id);
    r.spawn.fs_access = SC_FS_ACCESS_POLICY;
    bool ok = r.id != NULL;

    /* ---- what to run ---- */
    if (v->command.present) {
        bare_str_t c = v->command.value;
        if (c.len == 0 || has_nul(c)) {
            sc_reject(req, "invalid_state", "command must be a non-empty string without NUL");
            return;
        }
        r.command = bare_arena_strdup(a, c);
        r.spawn.file = r.command;
        /* A host callback command (reference §6.2): its program runs as any guest does, named
         * by the alias's script path, as the guests' own scripts run it. */
        alias = r.command ? sc_callbacks_alias(vm, r.command) : NULL;
        if (alias) {
            char *script = bare_arena_alloc(a, sizeof SC_CB_BIN_DIR + strlen(alias) + 1, 1);
            if (script)
                sprintf(script, "%s/%s", SC_CB_BIN_DIR, alias);
            r.spawn.file = SC_CB_PROGRAM;
            ok = ok && vec_push(&argv, SC_CB_PROGRAM) && vec_push(&argv, script);
        } else {
            ok = ok && r.command && vec_push(&argv, r.command);
        }
    } else if (v->runtime.present) {
        if (!v->entrypoint.present) {
            sc_reject(req, "invalid_state", "execute requires either command or entrypoint");
            return;
        }
        bare_str_t e = v->entrypoint.value;
        if (e.len == 0 || has_nul(e)) {
            sc_reject(req, "invalid_state", "entrypoint must be a non-empty string without NUL");
            return;
        }
        char *entry = bare_arena_strdup(a, e);
        ok = ok && entry;
        switch (v->runtime.value) {
        case SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT:
            r.command = "node";
            r.spawn.file = "node";
            ok = ok && vec_push(&argv, "node") && vec_push(&argv, entry);
            break;
        case SX_GUEST_RUNTIME_KIND_PYTHON:
            r.command = "python";
            r.spawn.file = "python3";
            /* a path ending in .py is a file to run; anything else is source code */
            if (ends_with(entry, ".py") && !strchr(entry, '\n'))
                ok = ok && vec_push(&argv, "python3") && vec_push(&argv, entry);
            else
                ok = ok && vec_push(&argv, "python3") && vec_push(&argv, "-c") &&
                     vec_push(&argv, entry);
            break;
        case SX_GUEST_RUNTIME_KIND_WEB_ASSEMBLY: {
            int tier = ok ? wasm_tier(vm, v, entry) : 0;
            r.command = "wasm";
            r.spawn.file = "node";
            /* the kernel's half of the tier: Landlock keeps these from writing anything */
            if (tier == SX_WASM_PERMISSION_TIER_READ_ONLY ||
                tier == SX_WASM_PERMISSION_TIER_ISOLATED)
                r.spawn.fs_access = SC_FS_ACCESS_READ_ONLY;
            ok = ok && vec_push(&argv, "node") && vec_push(&argv, "--no-warnings") &&
                 /* needed by Node.js 18 (Debian 12's), accepted and ignored by later ones */
                 vec_push(&argv, "--experimental-wasi-unstable-preview1") &&
                 vec_push(&argv, "--input-type=module") && vec_push(&argv, "-e") &&
                 vec_push(&argv, wasi_runner) && vec_push(&argv, tier_names[tier]) &&
                 vec_push(&argv, entry);
            break;
        }
        default:
            sc_reject(req, "invalid_state", "unknown runtime %d", (int)v->runtime.value);
            return;
        }
    } else {
        sc_reject(req, "invalid_state", "execute requires either command or runtime");
        return;
    }
    for (size_t i = 0; i < v->args.len; i++) {
        if (has_nul(v->args.items[i])) {
            sc_reject(req, "invalid_state", "args[%zu] contains a NUL byte", i);
            return;
        }
        ok = ok && vec_push(&argv, bare_arena_strdup(a, v->args.items[i]));
    }

    /* ---- the childProcess permission (a host callback needs tool.invoke instead, checked
     * when it is invoked, as the reference does) ---- */
    char reason[256];
    if (!alias && !sc_policy_allows(&vm->policy, SC_DOMAIN_CHILD_PROCESS, "spawn", r.command,
                                    reason, sizeof reason)) {
        sc_reject(req, "kernel_error", "EACCES: permission denied, spawn '%s': %s", r.command,
                  reason);
        return;
    }

    /* ---- where ---- */
    char cwd[SC_PATH_MAX + 1];
    const char *want = v->cwd.present ? NULL : (vm->config.cwd ? vm->config.cwd : GUEST_HOME);
    int rc = want ? sc_path_normalize(want, strlen(want), cwd)
                  : sc_path_normalize(v->cwd.value.ptr, v->cwd.value.len, cwd);
    if (rc != 0) {
        sc_reject(req, "invalid_state", "cwd is not a valid guest path: %s", strerror(rc));
        return;
    }
    r.spawn.cwd = arena_cstr(a, cwd);
    ok = ok && r.spawn.cwd;

    /* ---- the environment: VM env (policy-filtered), request env, defaults, PWD ---- */
    for (size_t i = 0; i < vm->exec.nenv; i++)
        ok = ok && env_set(&env, arena_cstr(a, vm->exec.env[i]));
    for (size_t i = 0; i < v->env.len; i++) {
        bare_str_t k = v->env.items[i].key, val = v->env.items[i].value;
        if (k.len == 0 || memchr(k.ptr, '=', k.len) || has_nul(k) || has_nul(val)) {
            sc_reject(req, "invalid_state",
                      "env key '%.*s' is not a valid variable name (empty, '=' or NUL)",
                      (int)(k.len > 100 ? 100 : k.len), k.ptr);
            return;
        }
        ok = ok && env_set(&env, arena_kv(a, k, val));
    }
    static const char *const defaults[][2] = {{"HOME", GUEST_HOME},   {"USER", "user"},
                                              {"LOGNAME", "user"},    {"SHELL", "/bin/sh"},
                                              {"PATH", DEFAULT_PATH}, {"TMPDIR", "/tmp"}};
    for (size_t i = 0; ok && i < sizeof defaults / sizeof defaults[0]; i++)
        if (!env_has(&env, defaults[i][0]))
            ok = env_set(&env, arena_kv(a, bare_str_from_cstr(defaults[i][0]),
                                        bare_str_from_cstr(defaults[i][1])));
    ok = ok && env_set(&env, arena_kv(a, bare_str_from_cstr("PWD"), bare_str_from_cstr(cwd)));
    if (!ok) {
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    (void)env_get;

    /* ---- the VM's limits on argv and env ---- */
    uint64_t argv_bytes = 0, env_bytes = 0;
    for (size_t i = 0; i < argv.n; i++)
        argv_bytes += strlen(argv.v[i]) + 1;
    for (size_t i = 0; i < env.n; i++)
        env_bytes += strlen(env.v[i]) + 1;
    const sc_resource_limits_t *lim = &vm->config.resources;
    if (lim->max_process_argv_bytes && argv_bytes > lim->max_process_argv_bytes) {
        sc_reject(req, "kernel_error",
                  "EINVAL: the arguments take %llu bytes; limits.resources.maxProcessArgvBytes "
                  "is %llu",
                  (unsigned long long)argv_bytes, (unsigned long long)lim->max_process_argv_bytes);
        return;
    }
    if (lim->max_process_env_bytes && env_bytes > lim->max_process_env_bytes) {
        sc_reject(req, "kernel_error",
                  "EINVAL: the environment takes %llu bytes; limits.resources.maxProcessEnvBytes "
                  "is %llu",
                  (unsigned long long)env_bytes, (unsigned long long)lim->max_process_env_bytes);
        return;
    }

    r.spawn.argv = argv.v;
    r.spawn.argc = argv.n;
    r.spawn.envp = env.v;
    r.spawn.envc = env.n;
    r.spawn.policy = &vm->policy;

    char err[512], code[32];
    if (sc_vmexec_start(srv, vm, err, sizeof err) != 0) {
        sc_reject(req, "execution_error", "%s", err);
        return;
    }
    /* answered (ProcessStartedResponse or a rejection) when the supervisor has answered */
    if (sc_vmexec_spawn(srv, vm, &r, req, code, sizeof code, err, sizeof err) != 0)
        sc_reject(req, code, "%s", err);
}

/* The live process a request names, or a rejection. */
static sc_gproc_t *require_process(sc_req_t *req, sc_vm_t *vm, bare_str_t id)
{
    sc_gproc_t *p = sc_vmexec_find(vm, id);
    if (!p || p->exit_pending)
        sc_reject(req, "invalid_state", "VM %s has no active process %.*s", vm->id,
                  (int)(id.len > MAX_PROCESS_ID ? MAX_PROCESS_ID : id.len), id.ptr);
    return p && !p->exit_pending ? p : NULL;
}

static const char *runtime_word(const sc_gproc_t *p)
{
    if (strcmp(p->command, "node") == 0)
        return "JavaScript";
    if (strcmp(p->command, "python") == 0)
        return "Python";
    if (strcmp(p->command, "wasm") == 0)
        return "WebAssembly";
    return "process";
}

void sc_handle_write_stdin(sc_req_t *req, const sx_write_stdin_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    sc_gproc_t *p = vm ? require_process(req, vm, v->process_id) : NULL;
    if (!p)
        return;
    char msg[256];
    if (p->stdin_closed || p->stdin_close_pending) {
        sc_reject(req, "execution_error", "guest %s stdin is already closed", runtime_word(p));
        return;
    }
    if (sc_vmexec_write_stdin(req->srv, p, v->chunk.ptr, v->chunk.len, msg, sizeof msg) != 0) {
        sc_reject(req, "execution_error", "%s", msg);
        return;
    }
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_STDIN_WRITTEN_RESPONSE;
    r.u.stdin_written_response.process_id = v->process_id;
    r.u.stdin_written_response.accepted_bytes = v->chunk.len;
    sc_respond(req, &r);
}

void sc_handle_close_stdin(sc_req_t *req, const sx_close_stdin_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    sc_gproc_t *p = vm ? require_process(req, vm, v->process_id) : NULL;
    if (!p)
        return;
    sc_vmexec_close_stdin(req->srv, p);
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_STDIN_CLOSED_RESPONSE;
    r.u.stdin_closed_response.process_id = v->process_id;
    sc_respond(req, &r);
}

void sc_handle_kill_process(sc_req_t *req, const sx_kill_process_request_t *v)
{
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    /* the signal first: a bad one leaves everything alone */
    const char *s = v->signal.ptr;
    size_t n = v->signal.len;
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n == 0) {
        sc_reject(req, "invalid_state", "kill_process requires a non-empty signal");
        return;
    }
    int sig = sc_parse_signal(s, n);
    if (sig < 0) {
        sc_reject(req, "invalid_state", "unsupported kill_process signal %.*s",
                  (int)(n > 64 ? 64 : n), s);
        return;
    }
    sc_gproc_t *p = require_process(req, vm, v->process_id);
    if (!p)
        return;
    if (sc_vmexec_kill(vm, p, sig) != 0) {
        sc_reject(req, "execution_error", "cannot signal %s: the VM's supervisor is gone", p->id);
        return;
    }
    sc_info("%s: signal %d to %s (pid %d)", vm->id, sig, p->id, (int)p->pid);
    sx_response_payload_t r;
    memset(&r, 0, sizeof r);
    r.tag = SX_RESPONSE_PAYLOAD_TAG_PROCESS_KILLED_RESPONSE;
    r.u.process_killed_response.process_id = v->process_id;
    sc_respond(req, &r);
}
