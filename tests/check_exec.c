/*
 * check_exec.c - guest execution through the real sidecar: JavaScript, Python and WebAssembly
 * guests; args, env and cwd; stdin; large output; signals and exit codes; time, memory and
 * process limits; what the guest sees of itself; process snapshots,
 * listeners, isolation between VMs, and that nothing outlives a disposed VM.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_fixture.h"

/* A host file, a host loopback port, the sidecar's environment and the other escapes a
 * guest must not make are check_escape's. */

START_TEST(javascript_hello)
{
    static const char js[] = "console.log('hello from', process.argv.slice(2).join(' '));\n"
                             "console.error('to stderr');\nprocess.exit(3);\n";
    char enc[256], cfg[1024], vm[64];
    b64((const uint8_t *)js, sizeof js - 1, enc);
    start();
    config_with_file(cfg, sizeof cfg, "/home/user/hello.js", enc, NULL);
    vm_new(cfg, vm);
    const char *args[] = {"node", "guest", NULL};
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, "/home/user/hello.js", args);
    result_t r;
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "hello from node guest\n");
    ck_assert_str_eq(r.err.buf, "to stderr\n");
    ck_assert_int_eq(r.code, 3);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(python_hello)
{
    static const char pyfile[] = "import sys\nprint('hello from python', sys.argv[1:])\n"
                                 "sys.exit(4)\n";
    char enc[256], cfg[1024], vm[64];
    b64((const uint8_t *)pyfile, sizeof pyfile - 1, enc);
    start();
    config_with_file(cfg, sizeof cfg, "/home/user/hello.py", enc, NULL);
    vm_new(cfg, vm);
    /* a file ... */
    const char *args[] = {"a", "b", NULL};
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON, "/home/user/hello.py", args);
    result_t r;
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "hello from python ['a', 'b']\n");
    ck_assert_int_eq(r.code, 4);
    result_free(&r);
    /* ... or inline code; an exception is exit 1 with the traceback on stderr */
    int code;
    ck_assert_str_eq(py(vm, "print(6 * 7)", &code), "42\n");
    ck_assert_int_eq(code, 0);
    ck_assert_ptr_nonnull(strstr(py(vm, "raise ValueError('boom')", &code), "ValueError: boom"));
    ck_assert_int_eq(code, 1);
    vm_dispose(vm);
    stop();
}
END_TEST

/* hello.wat, assembled by wabt's wat2wasm at test time. */
static const char hello_wat[] =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
    "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"path_open\"\n"
    "    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))\n"
    "  (memory 1)\n"
    "  (export \"memory\" (memory 0))\n"
    "  (data (i32.const 16) \"hello from wasm\\n\")\n"
    "  (data (i32.const 64) \"home/user/out.txt\")\n"
    "  (func (export \"_start\")\n"
    "    (i32.store (i32.const 0) (i32.const 16))\n"
    "    (i32.store (i32.const 4) (i32.const 16))\n"
    "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    /* create /home/user/out.txt through the preopen fd 3 ("/"): the exit code is the errno */
    "    (call $exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 64)\n"
    "      (i32.const 17) (i32.const 9) (i64.const 66) (i64.const 0)\n"
    "      (i32.const 0) (i32.const 128)))))\n";

/* Assembles hello_wat into *out (malloc'd); returns its size. */
static size_t assemble(uint8_t **out)
{
    char dir[] = "/tmp/exec-wat.XXXXXX", wat[64], wasm[64], cmdline[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(wat, sizeof wat, "%s/hello.wat", dir);
    snprintf(wasm, sizeof wasm, "%s/hello.wasm", dir);
    FILE *f = fopen(wat, "w");
    ck_assert_ptr_nonnull(f);
    fputs(hello_wat, f);
    fclose(f);
    snprintf(cmdline, sizeof cmdline, "wat2wasm %s -o %s", wat, wasm);
    ck_assert_msg(system(cmdline) == 0, "wat2wasm failed (is wabt installed?)");
    f = fopen(wasm, "rb");
    ck_assert_ptr_nonnull(f);
    *out = malloc(4096);
    size_t n = fread(*out, 1, 4096, f);
    fclose(f);
    unlink(wat);
    unlink(wasm);
    rmdir(dir);
    return n;
}

START_TEST(webassembly_hello_and_tiers)
{
    uint8_t *wasm;
    size_t n = assemble(&wasm);
    ck_assert_uint_gt(n, 8);
    char *enc = malloc(4 * n / 3 + 8), cfg[8192], vm[64];
    b64(wasm, n, enc);
    free(wasm);
    start();
    config_with_file(cfg, sizeof cfg, "/home/user/hello.wasm", enc, NULL);
    free(enc);
    vm_new(cfg, vm);
    /* FULL (the default): prints, and may create a file (path_open returns 0) */
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_WEB_ASSEMBLY, "/home/user/hello.wasm", NULL);
    result_t r;
    run(vm, &o, &r);
    ck_assert_msg(r.out.buf && strcmp(r.out.buf, "hello from wasm\n") == 0,
                  "stdout '%s' stderr '%s'", r.out.buf ? r.out.buf : "",
                  r.err.buf ? r.err.buf : "");
    ck_assert_int_eq(r.code, 0);
    result_free(&r);
    int code;
    sh(vm, "test -f /home/user/out.txt && rm /home/user/out.txt", &code);
    ck_assert_int_eq(code, 0);
    /* READ_ONLY: the same open fails (a WASI errno, not 0) and no file appears */
    o.tier = SX_WASM_PERMISSION_TIER_READ_ONLY;
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "hello from wasm\n");
    ck_assert_int_ne(r.code, 0);
    result_free(&r);
    sh(vm, "test -e /home/user/out.txt", &code);
    ck_assert_int_ne(code, 0);
    /* ISOLATED: no preopen at all: fd 3 is not a directory (EBADF = 8) */
    o.tier = SX_WASM_PERMISSION_TIER_ISOLATED;
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "hello from wasm\n");
    ck_assert_int_eq(r.code, 8);
    result_free(&r);
    /* not WebAssembly at all */
    exec_opts_t bad = runtime(SX_GUEST_RUNTIME_KIND_WEB_ASSEMBLY, "/etc/passwd", NULL);
    run(vm, &bad, &r);
    ck_assert_int_eq(r.code, 1);
    ck_assert_ptr_nonnull(strstr(r.err.buf, "refused to compile guest WebAssembly module"));
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- args, env, cwd ---- */

START_TEST(args_env_cwd)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"env\": {\"FROM_VM\": \"vm-value\", \"OVERRIDDEN\": \"vm\"}}", vm);
    /* args are passed one by one, never split or interpreted */
    const char *args[] = {"-c", "printf '[%s]' \"$@\"", "zero", "one two", "$HOME", "*", "", NULL};
    exec_opts_t o = cmd("sh", args);
    result_t r;
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "[one two][$HOME][*][]");
    result_free(&r);
    /* env: VM env, then the request's, defaults, PWD; nothing of the sidecar's */
    const char *env_args[] = {"-c", "env | sort", NULL};
    const char *env[] = {"OVERRIDDEN=request", "EXTRA=x=y", NULL};
    o = cmd("sh", env_args);
    o.env = env;
    o.cwd = "/tmp";
    run(vm, &o, &r);
    ck_assert_ptr_nonnull(strstr(r.out.buf, "FROM_VM=vm-value\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "OVERRIDDEN=request\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "EXTRA=x=y\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "HOME=/home/user\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "USER=user\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "SHELL=/bin/sh\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "TMPDIR=/tmp\n"));
    ck_assert_ptr_nonnull(
        strstr(r.out.buf, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "PWD=/tmp\n"));
    ck_assert_ptr_null(strstr(r.out.buf, "SIDECAR_SECRET"));
    result_free(&r);
    /* cwd: the request's (normalized), else the VM's default /home/user */
    int code;
    ck_assert_str_eq(sh(vm, "pwd", &code), "/home/user\n");
    const char *pwd_args[] = {"-c", "pwd", NULL};
    o = cmd("sh", pwd_args);
    o.cwd = "/usr/../etc/./";
    run(vm, &o, &r);
    ck_assert_str_eq(r.out.buf, "/etc\n");
    result_free(&r);
    vm_dispose(vm);
    /* the env policy filters the VM env (not the request's) */
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\", \"env\": {"
           "\"default\": \"deny\", \"rules\": [{\"mode\": \"allow\", \"operations\": [\"read\"], "
           "\"patterns\": [\"VISIBLE\"]}]}}, \"env\": {\"VISIBLE\": \"1\", \"HIDDEN\": \"2\"}}",
           vm);
    const char *env2[] = {"FROM_REQUEST=3", NULL};
    o = cmd("sh", env_args);
    o.env = env2;
    run(vm, &o, &r);
    ck_assert_ptr_nonnull(strstr(r.out.buf, "VISIBLE=1\n"));
    ck_assert_ptr_null(strstr(r.out.buf, "HIDDEN"));
    ck_assert_ptr_nonnull(strstr(r.out.buf, "FROM_REQUEST=3\n"));
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- the request's rules ---- */

START_TEST(execute_rules)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    exec_opts_t none = cmd(NULL, NULL);
    expect_rejection(execute(vm, "p", &none, NULL), "invalid_state",
                     "execute requires either command or runtime");
    exec_opts_t noentry = runtime(SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, NULL, NULL);
    expect_rejection(execute(vm, "p", &noentry, NULL), "invalid_state",
                     "execute requires either command or entrypoint");
    exec_opts_t missing = cmd("no-such-command", NULL);
    expect_rejection(execute(vm, "p", &missing, NULL), "invalid_state",
                     "command not found on native sidecar path: no-such-command");
    /* the command string is one program name, never split */
    exec_opts_t spaced = cmd("echo hi", NULL);
    expect_rejection(execute(vm, "p", &spaced, NULL), "invalid_state", "command not found");
    /* a host path the VM does not have is not found either (/work is not in the VM) */
    exec_opts_t host_only = cmd(SIDECAR_PATH, NULL);
    expect_rejection(execute(vm, "p", &host_only, NULL), "invalid_state", "command not found");
    exec_opts_t nowhere = cmd("true", NULL);
    nowhere.cwd = "/nonexistent";
    expect_rejection(execute(vm, "p", &nowhere, NULL), "kernel_error",
                     "ENOENT: no such file or directory, chdir '/nonexistent'");
    exec_opts_t empty_id = cmd("true", NULL);
    expect_rejection(execute(vm, "", &empty_id, NULL), "invalid_state", "processId");

    /* ids: unique among live processes, reusable after the exit event */
    const char *sleep_args[] = {"30", NULL};
    exec_opts_t sl = cmd("sleep", sleep_args);
    uint32_t pid1, pid2;
    ck_assert_int_eq(execute(vm, "same", &sl, &pid1), SE_OK);
    expect_rejection(execute(vm, "same", &sl, NULL), "invalid_state",
                     "already has an active process with id same");
    ck_assert_int_eq(kill_proc(vm, "same", "KILL"), SE_OK);
    result_t r = {0};
    r.code = -1;
    ck_assert(collect("same", &r, T));
    ck_assert_int_eq(r.code, 137);
    ck_assert_int_eq(execute(vm, "same", &sl, &pid2), SE_OK);
    ck_assert_uint_ne(pid1, pid2);
    ck_assert_uint_gt(pid2, 1); /* VM pids: 1 is the VM's init */
    ck_assert_int_eq(kill_proc(vm, "same", "9"), SE_OK);
    r.code = -1;
    ck_assert(collect("same", &r, T));
    result_free(&r);

    /* requests on unknown processes */
    expect_rejection(write_stdin(vm, "ghost", "x", 1), "invalid_state",
                     "has no active process ghost");
    expect_rejection(close_stdin(vm, "ghost"), "invalid_state", "has no active process ghost");
    expect_rejection(kill_proc(vm, "ghost", "TERM"), "invalid_state",
                     "has no active process ghost");
    vm_dispose(vm);

    /* childProcess permission (deny-all without permissions) */
    vm_new("{}", vm);
    exec_opts_t echo = cmd("echo", NULL);
    expect_rejection(execute(vm, "p", &echo, NULL), "kernel_error",
                     "EACCES: permission denied, spawn 'echo': blocked by child_process.spawn");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(child_process_rules)
{
    char vm[64];
    start();
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": {\"default\": \"deny\", "
           "\"rules\": [{\"mode\": \"allow\", \"operations\": [\"spawn\"], \"patterns\": "
           "[\"echo\", \"node\"]}]}}}",
           vm);
    const char *args[] = {"allowed", NULL};
    exec_opts_t echo = cmd("echo", args);
    result_t r;
    run(vm, &echo, &r);
    ck_assert_str_eq(r.out.buf, "allowed\n");
    result_free(&r);
    exec_opts_t shell = cmd("sh", NULL);
    expect_rejection(execute(vm, "p", &shell, NULL), "kernel_error",
                     "EACCES: permission denied, spawn 'sh'");
    /* runtimes go by their kernel command names: node allowed, python not */
    exec_opts_t js = runtime(SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, "/nonexistent.js", NULL);
    ck_assert_int_eq(execute(vm, "js", &js, NULL), SE_OK);
    r.code = -1;
    ck_assert(collect("js", &r, T));
    ck_assert_int_eq(r.code, 1); /* node: cannot find module */
    result_free(&r);
    exec_opts_t python = runtime(SX_GUEST_RUNTIME_KIND_PYTHON, "print(1)", NULL);
    expect_rejection(execute(vm, "p", &python, NULL), "kernel_error", "spawn 'python'");
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- stdin and output ---- */

START_TEST(stdin_echo)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    exec_opts_t o = cmd("cat", NULL);
    ck_assert_int_eq(execute(vm, "cat", &o, NULL), SE_OK);
    /* 3 MiB in 64 KiB writes: more than any pipe holds, so the sidecar must buffer */
    size_t total = 3u << 20;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 7 + i / 4096);
    for (size_t off = 0; off < total; off += 65536)
        ck_assert_int_eq(write_stdin(vm, "cat", data + off, 65536), SE_OK);
    ck_assert_int_eq(close_stdin(vm, "cat"), SE_OK);
    result_t r = {0};
    r.code = -1;
    ck_assert(collect("cat", &r, T));
    ck_assert_int_eq(r.code, 0);
    ck_assert_uint_eq(r.out.len, total);
    ck_assert(memcmp(r.out.buf, data, total) == 0);
    free(data);
    result_free(&r);
    /* closing twice is fine; writing after close is not */
    const char *sl_args[] = {"300", NULL};
    exec_opts_t sl = cmd("sleep", sl_args);
    ck_assert_int_eq(execute(vm, "sl", &sl, NULL), SE_OK);
    ck_assert_int_eq(close_stdin(vm, "sl"), SE_OK);
    ck_assert_int_eq(close_stdin(vm, "sl"), SE_OK);
    expect_rejection(write_stdin(vm, "sl", "x", 1), "execution_error", "stdin is already closed");
    ck_assert_int_eq(kill_proc(vm, "sl", "KILL"), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    ck_assert(collect("sl", &r, T));
    /* a Python guest reading lines as they come */
    exec_opts_t rd = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                             "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), "
                             "flush=True)\nprint('eof')",
                             NULL);
    ck_assert_int_eq(execute(vm, "upper", &rd, NULL), SE_OK);
    ck_assert_int_eq(write_stdin(vm, "upper", "abc\n", 4), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    wait_output("upper", &r, "ABC\n");
    ck_assert_int_eq(write_stdin(vm, "upper", "def\n", 4), SE_OK);
    ck_assert_int_eq(close_stdin(vm, "upper"), SE_OK);
    ck_assert(collect("upper", &r, T));
    ck_assert_str_eq(r.out.buf, "ABC\nDEF\neof\n");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* A request frame of the test's session on vm, with an explicit id. */
static void request_frame(sx_protocol_frame_t *f, const char *vm, int64_t id)
{
    memset(f, 0, sizeof *f);
    f->tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f->u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f->u.request_frame.schema.version = 7;
    f->u.request_frame.request_id = id;
    se_client_vm_scope(c, vm, &f->u.request_frame.ownership);
}

/*
 * A host that does not wait: Execute in a fresh VM (its supervisor still to start), then at
 * once WriteStdin, CloseStdin and a second Execute. The first is answered when the process
 * runs, and the others may already name it: its stdin arrives whole.
 */
START_TEST(execute_pipelined)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    sx_protocol_frame_t f;
    request_frame(&f, vm, 700001);
    sx_execute_request_t *e = &f.u.request_frame.payload.u.execute_request;
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    e->process_id = bare_str_from_cstr("cat");
    e->command.present = true;
    e->command.value = bare_str_from_cstr("cat");
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    request_frame(&f, vm, 700002);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST;
    f.u.request_frame.payload.u.write_stdin_request.process_id = bare_str_from_cstr("cat");
    f.u.request_frame.payload.u.write_stdin_request.chunk =
        (bare_bytes_t){(const uint8_t *)"early\n", 6};
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    request_frame(&f, vm, 700003);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_CLOSE_STDIN_REQUEST;
    f.u.request_frame.payload.u.close_stdin_request.process_id = bare_str_from_cstr("cat");
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    /* the same id again while it starts: refused, as for a running one */
    request_frame(&f, vm, 700004);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    e = &f.u.request_frame.payload.u.execute_request;
    e->process_id = bare_str_from_cstr("cat");
    e->command.present = true;
    e->command.value = bare_str_from_cstr("cat");
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);

    sx_response_frame_t r;
    ck_assert_int_eq(se_client_wait_response(c, 700001, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_PROCESS_STARTED_RESPONSE);
    ck_assert(r.payload.u.process_started_response.pid.present);
    ck_assert_int_eq(se_client_wait_response(c, 700002, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_STDIN_WRITTEN_RESPONSE);
    ck_assert_int_eq(se_client_wait_response(c, 700003, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_STDIN_CLOSED_RESPONSE);
    ck_assert_int_eq(se_client_wait_response(c, 700004, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    result_t out = {0};
    out.code = -1;
    ck_assert(collect("cat", &out, T));
    ck_assert_int_eq(out.code, 0);
    ck_assert_str_eq(out.out.buf, "early\n");
    result_free(&out);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(large_output_in_order)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* 50 MiB of numbered lines: every byte arrives, in order, before the exit event */
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                            "import sys\nw = sys.stdout.write\n"
                            "for i in range(2621440): w('%019d\\n' % i)\n"
                            "sys.stderr.write('done')\n",
                            NULL);
    result_t r;
    run(vm, &o, &r);
    ck_assert_int_eq(r.code, 0);
    ck_assert_uint_eq(r.out.len, 52428800);
    char line[21];
    for (size_t i = 0; i < 2621440; i += 4099) {
        snprintf(line, sizeof line, "%019zu\n", i);
        ck_assert_msg(memcmp(r.out.buf + i * 20, line, 20) == 0, "line %zu differs", i);
    }
    snprintf(line, sizeof line, "%019d\n", 2621439);
    ck_assert(memcmp(r.out.buf + 52428800 - 20, line, 20) == 0);
    ck_assert_str_eq(r.err.buf, "done");
    /* each event fits in a frame */
    ck_assert_uint_le(r.max_chunk, 65536);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- signals and exit codes ---- */

START_TEST(kill_signals)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    const char *args[] = {"300", NULL};
    exec_opts_t sl = cmd("sleep", args);
    static const struct {
        const char *signal;
        int code;
    } cases[] = {{"SIGTERM", 143}, {"kill", 137}, {"INT", 130}, {"sighup", 129},
                 {"15", 143},      {"IOT", 134},  {"usr1", 138}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(execute(vm, "s", &sl, NULL), SE_OK);
        ck_assert_int_eq(kill_proc(vm, "s", cases[i].signal), SE_OK);
        result_t r = {0};
        r.code = -1;
        ck_assert(collect("s", &r, T));
        ck_assert_msg(r.code == cases[i].code, "%s: exit %d, want %d", cases[i].signal, r.code,
                      cases[i].code);
        result_free(&r);
    }
    /* a bad signal is refused and leaves the process alone */
    ck_assert_int_eq(execute(vm, "s", &sl, NULL), SE_OK);
    expect_rejection(kill_proc(vm, "s", "SIGBOGUS"), "invalid_state",
                     "unsupported kill_process signal SIGBOGUS");
    expect_rejection(kill_proc(vm, "s", "32"), "invalid_state", "unsupported kill_process signal");
    expect_rejection(kill_proc(vm, "s", " "), "invalid_state", "requires a non-empty signal");
    ck_assert_int_eq(kill_proc(vm, "s", "0"), SE_OK); /* only a check */
    ck_assert_int_eq(kill_proc(vm, "s", "STOP"), SE_OK);
    ck_assert_int_eq(kill_proc(vm, "s", "CONT"), SE_OK);
    ck_assert_int_eq(kill_proc(vm, "s", "TERM"), SE_OK);
    result_t r = {0};
    r.code = -1;
    ck_assert(collect("s", &r, T));
    ck_assert_int_eq(r.code, 143);
    result_free(&r);

    /* a guest that handles SIGTERM outlives it; SIGKILL it cannot */
    exec_opts_t js = cmd("node", NULL);
    const char *js_args[] = {"-e",
                             "process.on('SIGTERM', () => console.log('ignored TERM'));"
                             "console.log('ready'); setInterval(() => {}, 1000);",
                             NULL};
    js.args = js_args;
    ck_assert_int_eq(execute(vm, "js", &js, NULL), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    wait_output("js", &r, "ready\n");
    ck_assert_int_eq(kill_proc(vm, "js", "SIGTERM"), SE_OK);
    wait_output("js", &r, "ignored TERM\n");
    ck_assert(!collect("js", &r, 300)); /* still running */
    ck_assert_int_eq(kill_proc(vm, "js", "SIGKILL"), SE_OK);
    ck_assert(collect("js", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(time_limits)
{
    char vm[64];
    start();
    /* wall time: a sleeper ends with 124 after about 1 s */
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxWallTimeMs\": 1000}}}", vm);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int code;
    sh(vm, "echo start; sleep 60", &code);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(code, 124);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs >= 0.9 && secs < 20, "took %.2f s", secs);
    /* a process that ends in time keeps its own code */
    sh(vm, "exit 5", &code);
    ck_assert_int_eq(code, 5);
    vm_dispose(vm);
    /* CPU time: a busy loop ends with 124 */
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxCpuTimeMs\": 1000}}}", vm);
    exec_opts_t spin = cmd("node", NULL);
    const char *spin_args[] = {"-e", "for (;;) {}", NULL};
    spin.args = spin_args;
    result_t r;
    run(vm, &spin, &r);
    ck_assert_int_eq(r.code, 124);
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(memory_bomb)
{
    char vm[64], other[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxMemoryBytes\": 134217728}}}", vm);
    vm_new("{" ALLOW_ALL "}", other);
    /* grows by touched 16 MiB blocks until the limit ends it */
    int code;
    py(vm, "b = []\nwhile True: b.append(bytearray(16 << 20))", &code);
    ck_assert_int_eq(code, 137);
    /* the sidecar, this VM and the other VM all keep working */
    ck_assert_str_eq(sh(vm, "echo alive", &code), "alive\n");
    ck_assert_str_eq(sh(other, "echo other", &code), "other\n");
    /* a guest under the limit is fine */
    ck_assert_str_eq(py(vm, "b = bytearray(32 << 20)\nprint(len(b))", &code), "33554432\n");
    ck_assert_int_eq(code, 0);
    vm_dispose(vm);
    vm_dispose(other);
    stop();
}
END_TEST

START_TEST(fd_and_file_size_limits)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxOpenFds\": 64, "
           "\"maxFileSizeBytes\": 1048576}}}",
           vm);
    int code;
    /* descriptors: EMFILE before 64 are open */
    const char *out =
        py(vm,
           "import os, errno\nfds = []\ntry:\n"
           "    while True: fds.append(os.open('/dev/null', os.O_RDONLY))\n"
           "except OSError as e:\n    print(len(fds) + 3, errno.errorcode[e.errno])\n",
           &code);
    int n = -1;
    char name[32] = "";
    ck_assert_msg(sscanf(out, "%d %31s", &n, name) == 2, "%s", out);
    ck_assert_int_eq(n, 64);
    ck_assert_str_eq(name, "EMFILE");
    /* file size: writing past 1 MiB fails with EFBIG (Python ignores SIGXFSZ) */
    out = py(vm,
             "import errno\nf = open('/tmp/big', 'wb', buffering=0)\nf.write(b'x' * 1048576)\n"
             "try:\n    f.write(b'y')\n    print('WROTE')\n"
             "except OSError as e:\n    print(errno.errorcode[e.errno])\n",
             &code);
    ck_assert_str_eq(out, "EFBIG\n");
    /* a shell's write dies of SIGXFSZ: 128 + 25 */
    sh(vm, "head -c 2000000 /dev/zero > /tmp/big2", &code);
    ck_assert_int_eq(code, 153);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(fork_bomb_contained)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxProcesses\": 32}}}", vm);
    /* forks until refused; the children wait, so they all count; then the parent waits for a
     * line on stdin and takes its whole process group down */
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                            "import os, signal, sys, time\nn = 0\ntry:\n"
                            "    while n < 1000:\n"
                            "        if os.fork() == 0:\n            time.sleep(300)\n"
                            "            os._exit(0)\n"
                            "        n += 1\n"
                            "except OSError as e:\n"
                            "    print('refused after', n, e.errno, flush=True)\n"
                            "sys.stdin.readline()\nos.killpg(0, signal.SIGKILL)\n",
                            NULL);
    ck_assert_int_eq(execute(vm, "bomb", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("bomb", &r, "\n");
    int n = -1, err = -1;
    ck_assert_msg(sscanf(r.out.buf, "refused after %d %d", &n, &err) == 2, "output: %s",
                  r.out.buf);
    /* 32 guest processes in all: the parent and 31 children */
    ck_assert_int_eq(n, 31);
    ck_assert_int_eq(err, EAGAIN);
    /* the host cannot start more either, and says why */
    exec_opts_t more = cmd("true", NULL);
    expect_rejection(execute(vm, "more", &more, NULL), "kernel_error",
                     "EAGAIN: maximum process limit reached");
    /* once they are gone, the VM runs things again: the refusal poisoned nothing */
    ck_assert_int_eq(write_stdin(vm, "bomb", "go\n", 3), SE_OK);
    ck_assert(collect("bomb", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    int code = -1;
    for (int i = 0; i < 50; i++) {
        /* the killed children may take a moment to leave the process count */
        if (execute(vm, "after", &more, NULL) == SE_OK)
            break;
        ck_assert_str_eq(rej_code, "kernel_error");
        msleep(20);
    }
    memset(&r, 0, sizeof r);
    r.code = -1;
    ck_assert(collect("after", &r, T));
    ck_assert_int_eq(r.code, 0);
    result_free(&r);
    ck_assert_str_eq(sh(vm, "echo after", &code), "after\n");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(loopback_exempt_ports)
{
    /* a host service on loopback: answers one line with it upper-cased */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    int port = ntohs(sa.sin_port);
    pid_t server = fork();
    ck_assert_int_ge(server, 0);
    if (server == 0) {
        for (;;) {
            int a = accept(ls, NULL, NULL);
            char buf[256];
            ssize_t n = read(a, buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++)
                buf[i] = (char)toupper((unsigned char)buf[i]);
            if (n > 0 && write(a, buf, (size_t)n) != n)
                _exit(1);
            close(a);
        }
    }
    close(ls);
    char vm[64], cfg[512], script[512];
    start();
    snprintf(cfg, sizeof cfg,
             "{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\", \"network\": "
             "\"deny\"}, \"loopbackExemptPorts\": [%d]}",
             port);
    vm_new(cfg, vm);
    snprintf(script, sizeof script,
             "import socket\ns = socket.create_connection(('127.0.0.1', %d), timeout=5)\n"
             "s.sendall(b'ping')\nprint(s.recv(100).decode())\n",
             port);
    int code;
    const char *out = py(vm, script, &code);
    ck_assert_msg(code == 0 && strcmp(out, "PING\n") == 0, "exit %d: %s", code, out);
    /* ConfigureVm replaces the list: an empty one closes the way */
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_CONFIGURED_RESPONSE);
    out = py(vm, script, &code);
    ck_assert_msg(code != 0 && strstr(out, "ConnectionRefusedError"), "exit %d: %s", code, out);
    uint16_t ports[1] = {(uint16_t)port};
    p.u.configure_vm_request.loopback_exempt_ports.items = ports;
    p.u.configure_vm_request.loopback_exempt_ports.len = 1;
    ck_assert_int_eq(vm_call(vm, &p, &r), SE_OK);
    out = py(vm, script, &code);
    ck_assert_msg(code == 0 && strcmp(out, "PING\n") == 0, "exit %d: %s", code, out);
    vm_dispose(vm);
    stop();
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
}
END_TEST

/* A snapshot request on vm; SE_OK with the entry count, or the rejection. */
static int snapshot_root(const char *vm, size_t *n)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
    int st = vm_call(vm, &p, &r);
    if (st == SE_OK)
        *n = r.payload.u.root_filesystem_snapshot_response.entries.len;
    return st;
}

START_TEST(guest_files_seen_by_the_host)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    /* what a guest writes is in the VM's filesystem, for snapshots too */
    sh(vm, "mkdir -p /tmp/d && echo data > /tmp/d/f", &code);
    ck_assert_int_eq(code, 0);
    size_t n0 = 0, n1 = 0;
    ck_assert_int_eq(snapshot_root(vm, &n0), SE_OK);
    /* a name that is not UTF-8 cannot travel as text: the snapshot says so */
    sh(vm, "touch \"/tmp/d/bad$(printf '\\377')name\"", &code);
    ck_assert_int_eq(code, 0);
    expect_rejection(snapshot_root(vm, &n1), "kernel_error",
                     "EILSEQ: illegal byte sequence, a file name that is not UTF-8 in '/tmp/d'");
    sh(vm, "rm /tmp/d/bad*", &code);
    ck_assert_int_eq(snapshot_root(vm, &n1), SE_OK);
    ck_assert_uint_eq(n1, n0);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(guest_identity)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    ck_assert_str_eq(sh(vm, "id -u; id -g; id -G; hostname; echo $HOME; cat /etc/hostname", &code),
                     "1000\n1000\n1000\nsecure-exec\n/home/user\nsecure-exec\n");
    /* CAP_DAC_OVERRIDE and CAP_FOWNER (0xa) in the VM's user namespace, nothing else: see
     * guest_owns_its_vm_files */
    ck_assert_str_eq(sh(vm, "grep Cap /proc/self/status | cut -f2 | sort -u", &code),
                     "0000000000000000\n000000000000000a\n");
    ck_assert_str_eq(sh(vm, "grep NoNewPrivs /proc/self/status", &code), "NoNewPrivs:\t1\n");
    ck_assert_str_eq(sh(vm, "grep Seccomp: /proc/self/status", &code), "Seccomp:\t2\n");
    ck_assert_str_eq(py(vm,
                        "import os, socket\nprint(os.getuid(), os.geteuid(), "
                        "socket.gethostname(), os.path.expanduser('~'))",
                        &code),
                     "1000 1000 secure-exec /home/user\n");
    /* the guest's home is its own to write */
    ck_assert_str_eq(sh(vm, "echo data > ~/f && cat ~/f && ls -ln ~/f | cut -d' ' -f3,4", &code),
                     "data\n1000 1000\n");
    vm_dispose(vm);
    stop();
}
END_TEST

/*
 * The reference judges a guest's file access by the fs policy alone: the SDK makes /tmp and
 * /home/user root-owned 0755 and then writes there as uid 1000. Owner and mode bits of the VM's
 * own files do not stop the guest (CAP_DAC_OVERRIDE and CAP_FOWNER in the VM's user namespace),
 * while it still is uid 1000, and its children and their programs keep that.
 */
START_TEST(guest_owns_its_vm_files)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": ["
           "{\"path\": \"/tmp\", \"kind\": \"directory\", \"mode\": 493, \"uid\": 0, \"gid\": 0},"
           "{\"path\": \"/srv/app\", \"kind\": \"directory\", \"mode\": 493, \"uid\": 0, "
           "\"gid\": 0},"
           "{\"path\": \"/srv/app/conf\", \"kind\": \"file\", \"mode\": 384, \"uid\": 0, "
           "\"gid\": 0, \"content\": \"root-only\\n\"},"
           "{\"path\": \"/srv/app/locked\", \"kind\": \"directory\", \"mode\": 0, \"uid\": 0, "
           "\"gid\": 0}]}}",
           vm);
    int code;
    /* root-owned 0755 directories and a root-owned 0600 file of the VM */
    ck_assert_str_eq(sh(vm,
                        "stat -c '%a %u %g' /tmp /srv/app /srv/app/conf /srv/app/locked; "
                        "cd /srv/app && echo hi > new && cat new && mkdir sub && chmod 700 sub && "
                        "stat -c '%n %a %u %g' new sub && cat conf && echo more >> conf && "
                        "chmod 644 conf && touch -d @86400 conf && stat -c '%n %a %u %g %Y' conf "
                        "&& touch locked/in && ls locked && echo x > /tmp/t && rm /tmp/t && "
                        "mv new sub/ && rm -r sub && id -u && id -g",
                        &code),
                     "755 0 0\n755 0 0\n600 0 0\n0 0 0\n"
                     "hi\nnew 644 1000 1000\nsub 700 1000 1000\nroot-only\n"
                     "conf 644 0 0 86400\nin\n1000\n1000\n");
    ck_assert_int_eq(code, 0);
    /* what a program of the guest's own (python, node, a child's child) gets */
    ck_assert_str_eq(
        py(vm,
           "import os, subprocess\n"
           "open('/srv/app/py', 'w').write('x')\n"
           "print(os.getuid(), os.geteuid(), os.getgid(), os.stat('/srv/app/py').st_uid)\n"
           "print(subprocess.run(['sh', '-c', 'sh -c \"echo y > /srv/app/sh2 && "
           "grep -E ^Cap /proc/self/status\"'], capture_output=True, text=True).stdout, "
           "end='')\n",
           &code),
        "1000 1000 1000 1000\n"
        "CapInh:\t000000000000000a\nCapPrm:\t000000000000000a\n"
        "CapEff:\t000000000000000a\nCapBnd:\t0000000000000000\n"
        "CapAmb:\t000000000000000a\n");
    ck_assert_str_eq(sh(vm, "grep -E '^(Uid|Gid|NoNewPrivs|Seccomp):' /proc/self/status", &code),
                     "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n"
                     "NoNewPrivs:\t1\nSeccomp:\t2\n");
    const char *args[] = {"-e",
                          "const fs = require('fs'); fs.writeFileSync('/srv/app/js', 'z'); "
                          "console.log(process.getuid(), fs.readFileSync('/srv/app/conf', 'utf8'))",
                          NULL};
    exec_opts_t o = cmd("node", args);
    result_t r = {0};
    run(vm, &o, &r);
    ck_assert_int_eq(r.code, 0);
    ck_assert_str_eq(r.out.buf, "1000 root-only\nmore\n\n");
    result_free(&r);
    /* no chown, no other uid: those capabilities are not held */
    ck_assert_str_eq(sh(vm,
                        "chown 0 /srv/app/py 2>/dev/null || echo no-chown; "
                        "chown 1000:0 /srv/app/conf 2>/dev/null || echo no-chgrp; "
                        "su -c true 2>/dev/null || echo no-su",
                        &code),
                     "no-chown\nno-chgrp\nno-su\n");
    vm_dispose(vm);
    /* the fs policy still holds (Landlock): owner bits are what the capabilities pass over */
    vm_new("{\"permissions\": {\"fs\": {\"default\": \"allow\", \"rules\": [{\"mode\": "
           "\"deny\", \"operations\": [\"write\"], \"paths\": [\"/srv/**\"]}]}, "
           "\"childProcess\": \"allow\"}, \"rootFilesystem\": {\"bootstrapEntries\": ["
           "{\"path\": \"/srv/app/conf\", \"kind\": \"file\", \"mode\": 384, \"uid\": 0, "
           "\"gid\": 0, \"content\": \"root-only\\n\"}]}}",
           vm);
    ck_assert_str_eq(sh(vm,
                        "cat /srv/app/conf; echo x >> /srv/app/conf 2>/dev/null || echo no-write; "
                        "touch /srv/app/new 2>/dev/null || echo no-create",
                        &code),
                     "root-only\nno-write\nno-create\n");
    vm_dispose(vm);
    stop();
}
END_TEST

/*
 * An SDK root is a mkdtemp directory: "/" of mode 0700, owned by the VM's root. Keeping the file
 * capabilities reads the VM's id maps after the uid change, through that root, which uid 1000
 * alone may not search: it must still start every guest.
 */
START_TEST(root_of_mode_0700)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": ["
           "{\"path\": \"/\", \"kind\": \"directory\", \"mode\": 448, \"uid\": 0, \"gid\": 0}]}}",
           vm);
    int code;
    ck_assert_str_eq(sh(vm, "stat -c '%a %u' / && id -u && echo ok > /x && cat /x", &code),
                     "700 0\n1000\nok\n");
    ck_assert_int_eq(code, 0);
    /* access(2) answers as the writes behave (Node's existsSync, Python's os.access) */
    ck_assert_str_eq(sh(vm,
                        "node -e \"const fs = require('fs'); console.log(fs.existsSync('/x'), "
                        "fs.existsSync('/nope'))\" && python3 -c \"import os; "
                        "print(os.access('/x', os.W_OK), os.access('/', os.W_OK | os.X_OK))\"",
                        &code),
                     "true false\nTrue True\n");
    vm_dispose(vm);
    stop();
}
END_TEST

/*
 * localhost resolves in every VM, also in a root without /etc/hosts (an SDK's, the bundled
 * base): the sidecar adds one at creation, to 127.0.0.1 (and ::1 for IPv6 lookups), a
 * server that listens on "localhost" listens on 127.0.0.1, and a root's own /etc/hosts (or a
 * symlink there) stays as it is.
 */
START_TEST(localhost_resolves)
{
    static const char *const configs[] = {
        "{" ALLOW_ALL "}",
        /* an SDK's root: no base, a snapshot lower with a few directories and no /etc */
        "{" ALLOW_ALL ", \"rootFilesystem\": {\"disableDefaultBaseLayer\": true, \"lowers\": "
        "[{\"kind\": \"snapshot\", \"entries\": [{\"path\": \"/tmp\", \"kind\": \"directory\", "
        "\"mode\": 1023}, {\"path\": \"/home/user\", \"kind\": \"directory\", \"uid\": 1000, "
        "\"gid\": 1000}]}]}}",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        char vm[64];
        start();
        vm_new(configs[i], vm);
        int code;
        /* (getent hosts asks for IPv6 first; ahosts for any family) */
        ck_assert_str_eq(sh(vm,
                            "getent hosts localhost; getent ahosts localhost | head -1; "
                            "stat -c '%a %u %g' /etc/hosts",
                            &code),
                         "::1             localhost ip6-localhost ip6-loopback\n"
                         "127.0.0.1       STREAM localhost\n644 0 0\n");
        ck_assert_str_eq(
            py(vm,
               "import socket\n"
               "print(sorted({a[4][0] for a in socket.getaddrinfo('localhost', 80)}))\n"
               "print(socket.getaddrinfo('localhost', 80, socket.AF_INET6)[0][4][0])\n",
               &code),
            "['127.0.0.1']\n::1\n");
        const char *args[] = {"-e",
                              "const dns = require('dns'), net = require('net');\n"
                              "dns.lookup('localhost', (e, a) => dns.lookup('localhost', 6, "
                              "(e6, a6) => { const s = net.createServer().listen(0, "
                              "'localhost', () => { console.log(a, a6, s.address().address); "
                              "s.close(); }); }));",
                              NULL};
        exec_opts_t o = cmd("node", args);
        result_t r = {0};
        run(vm, &o, &r);
        ck_assert_int_eq(r.code, 0);
        ck_assert_str_eq(r.out.buf, "127.0.0.1 ::1 127.0.0.1\n");
        result_free(&r);
        vm_dispose(vm);
        stop();
    }
    /* a root's own /etc/hosts, or a symlink there, is kept */
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": [{\"path\": "
           "\"/etc/hosts\", \"kind\": \"file\", \"content\": \"127.0.0.1 localhost mine\\n\"}]}}",
           vm);
    int code;
    ck_assert_str_eq(sh(vm, "cat /etc/hosts; getent hosts mine", &code),
                     "127.0.0.1 localhost mine\n127.0.0.1       localhost mine\n");
    vm_dispose(vm);
    vm_new("{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": [{\"path\": "
           "\"/etc/hosts\", \"kind\": \"symlink\", \"target\": \"/run/hosts\"}]}}",
           vm);
    ck_assert_str_eq(sh(vm, "readlink /etc/hosts; test -e /etc/hosts || echo dangling", &code),
                     "/run/hosts\ndangling\n");
    vm_dispose(vm);
    stop();
}
END_TEST

/* ---- what the host can ask ---- */

static const sx_process_snapshot_entry_t *snap_find(const sx_process_snapshot_response_t *s,
                                                    const char *id)
{
    for (size_t i = 0; i < s->processes.len; i++)
        if (bare_str_eq_cstr(s->processes.items[i].process_id, id))
            return &s->processes.items[i];
    return NULL;
}

START_TEST(snapshot_children)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* a parent that starts a child and waits */
    const char *args[] = {"-c", "sleep 300 & echo started; wait", NULL};
    exec_opts_t o = cmd("sh", args);
    uint32_t pid;
    ck_assert_int_eq(execute(vm, "parent", &o, &pid), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("parent", &r, "started\n");
    sx_request_payload_t p;
    sx_response_frame_t resp;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_PROCESS_SNAPSHOT_REQUEST;
    /* the shell forks, then the child execs sleep: wait for the exec */
    const sx_process_snapshot_response_t *s = NULL;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
        ck_assert_int_eq(resp.payload.tag, SX_RESPONSE_PAYLOAD_TAG_PROCESS_SNAPSHOT_RESPONSE);
        s = &resp.payload.u.process_snapshot_response;
        const sx_process_snapshot_entry_t *ch = snap_find(s, "parent/child-1");
        if (ch && bare_str_eq_cstr(ch->command, "sleep"))
            break;
        msleep(20);
    }
    const sx_process_snapshot_entry_t *e = snap_find(s, "parent");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->pid, pid);
    ck_assert(bare_str_eq_cstr(e->command, "sh"));
    ck_assert(bare_str_eq_cstr(e->cwd, "/home/user"));
    ck_assert_int_eq(e->status, SX_PROCESS_SNAPSHOT_STATUS_RUNNING);
    ck_assert_uint_eq(e->pgid, pid);
    ck_assert_uint_eq(e->sid, pid);
    const sx_process_snapshot_entry_t *ch = snap_find(s, "parent/child-1");
    ck_assert_msg(ch != NULL, "no parent/child-1 among %zu entries", s->processes.len);
    ck_assert_uint_eq(ch->ppid, pid);
    ck_assert_uint_eq(ch->sid, pid);
    ck_assert_msg(bare_str_eq_cstr(ch->command, "sleep"), "child command '%.*s'",
                  (int)ch->command.len, ch->command.ptr);
    ck_assert_int_eq(ch->status, SX_PROCESS_SNAPSHOT_STATUS_RUNNING);
    uint32_t child_pid = ch->pid;
    /* SIGSTOP shows */
    ck_assert_int_eq(kill_proc(vm, "parent", "STOP"), SE_OK);
    msleep(100);
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    e = snap_find(&resp.payload.u.process_snapshot_response, "parent");
    ck_assert_int_eq(e->status, SX_PROCESS_SNAPSHOT_STATUS_STOPPED);
    /* names are stable between snapshots */
    ch = snap_find(&resp.payload.u.process_snapshot_response, "parent/child-1");
    ck_assert_ptr_nonnull(ch);
    ck_assert_uint_eq(ch->pid, child_pid);
    ck_assert_int_eq(kill_proc(vm, "parent", "KILL"), SE_OK);
    ck_assert(collect("parent", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    /* the exited process stays listed for a while, with its code */
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    e = snap_find(&resp.payload.u.process_snapshot_response, "parent");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->status, SX_PROCESS_SNAPSHOT_STATUS_EXITED);
    ck_assert(e->exit_code.present);
    ck_assert_int_eq(e->exit_code.value, 137);
    /* zombies: none in a healthy VM */
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_ZOMBIE_TIMER_COUNT_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    ck_assert_uint_eq(resp.payload.u.zombie_timer_count_response.count, 0);
    vm_dispose(vm);
    /* process.inspect is needed */
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\"}}", vm);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_PROCESS_SNAPSHOT_REQUEST;
    expect_rejection(vm_call(vm, &p, &resp), "execution_error",
                     "EACCES: permission denied, process://snapshot: blocked by process.inspect "
                     "policy");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(zombies_and_signal_state)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* a parent that never reaps its child leaves a zombie */
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                            "import os, signal, time\n"
                            "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
                            "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
                            "if os.fork() == 0:\n    os._exit(0)\n"
                            "print('ready', flush=True)\ntime.sleep(300)\n",
                            NULL);
    ck_assert_int_eq(execute(vm, "z", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("z", &r, "ready\n");
    msleep(200);
    sx_request_payload_t p;
    sx_response_frame_t resp;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_ZOMBIE_TIMER_COUNT_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    ck_assert_uint_eq(resp.payload.u.zombie_timer_count_response.count, 1);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_SIGNAL_STATE_REQUEST;
    p.u.get_signal_state_request.process_id = bare_str_from_cstr("z");
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    const sx_signal_state_response_t *ss = &resp.payload.u.signal_state_response;
    bool usr1 = false, usr2 = false;
    for (size_t i = 0; i < ss->handlers.len; i++) {
        if (ss->handlers.items[i].key == SIGUSR1)
            usr1 = ss->handlers.items[i].value.action == SX_SIGNAL_DISPOSITION_ACTION_USER;
        if (ss->handlers.items[i].key == SIGUSR2)
            usr2 = ss->handlers.items[i].value.action == SX_SIGNAL_DISPOSITION_ACTION_IGNORE;
        ck_assert_uint_ne(ss->handlers.items[i].key, SIGTERM); /* default: not listed */
    }
    ck_assert(usr1 && usr2);
    ck_assert_int_eq(kill_proc(vm, "z", "KILL"), SE_OK);
    ck_assert(collect("z", &r, T));
    result_free(&r);
    /* gone: an empty map, not an error; and the zombie went with its parent */
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    ck_assert_uint_eq(resp.payload.u.signal_state_response.handlers.len, 0);
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_ZOMBIE_TIMER_COUNT_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    ck_assert_uint_eq(resp.payload.u.zombie_timer_count_response.count, 0);
    vm_dispose(vm);
    stop();
}
END_TEST

/* The state letter of a host pid's stat ('?' when gone). */
static char host_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : '?';
}

static size_t children_of(pid_t pid, pid_t *out, size_t cap);

/* A GetProcessSnapshot of vm, into *resp; the entry of id, or NULL. */
static const sx_process_snapshot_entry_t *snap_of(const char *vm, const char *id,
                                                  sx_response_frame_t *resp)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_PROCESS_SNAPSHOT_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, resp), SE_OK);
    ck_assert_int_eq(resp->payload.tag, SX_RESPONSE_PAYLOAD_TAG_PROCESS_SNAPSHOT_RESPONSE);
    return snap_find(&resp->payload.u.process_snapshot_response, id);
}

/*
 * EXITED comes only with the exit code (the SDK finishes a process on EXITED and reads a
 * missing code as 0): a top-level process that has exited but whose exit the supervisor has
 * not reaped (it is stopped here, so the VM's /proc shows a zombie) is RUNNING until its exit
 * event, then EXITED with its code; a child its parent has not waited for is EXITED with the
 * code (or 128+signal) its zombie shows.
 */
START_TEST(snapshot_exited_only_with_a_code)
{
    char vm[64];
    start();
    pid_t sidecar = se_client_pid(c);
    vm_new("{" ALLOW_ALL "}", vm);
    const char *args[] = {"-c", "read x; exit 7", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "late", &o, NULL), SE_OK);
    pid_t sup[4], guest[4];
    ck_assert_uint_eq(children_of(sidecar, sup, 4), 1);
    ck_assert_uint_eq(children_of(sup[0], guest, 4), 1);
    ck_assert_int_eq(kill(sup[0], SIGSTOP), 0);
    ck_assert_int_eq(write_stdin(vm, "late", "go\n", 3), SE_OK);
    for (int i = 0; i < 500 && host_state(guest[0]) != 'Z'; i++)
        msleep(10);
    ck_assert_int_eq(host_state(guest[0]), 'Z');
    sx_response_frame_t resp;
    const sx_process_snapshot_entry_t *e = snap_of(vm, "late", &resp);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(e->status == SX_PROCESS_SNAPSHOT_STATUS_RUNNING && !e->exit_code.present,
                  "an unreaped exit shows status %d, code %s", (int)e->status,
                  e->exit_code.present ? "present" : "absent");
    ck_assert_int_eq(kill(sup[0], SIGCONT), 0);
    result_t r = {0};
    r.code = -1;
    ck_assert(collect("late", &r, T));
    ck_assert_int_eq(r.code, 7);
    result_free(&r);
    e = snap_of(vm, "late", &resp);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->status, SX_PROCESS_SNAPSHOT_STATUS_EXITED);
    ck_assert(e->exit_code.present);
    ck_assert_int_eq(e->exit_code.value, 7);

    /* children their parent has not waited for */
    o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                "import os, signal, time\n"
                "if os.fork() == 0:\n    os._exit(3)\n"
                "time.sleep(0.1)\n"
                "if os.fork() == 0:\n    os.kill(os.getpid(), signal.SIGKILL)\n"
                "print('ready', flush=True)\ntime.sleep(300)\n",
                NULL);
    ck_assert_int_eq(execute(vm, "z", &o, NULL), SE_OK);
    r.code = -1;
    wait_output("z", &r, "ready\n");
    const sx_process_snapshot_entry_t *c1 = NULL, *c2 = NULL;
    for (int i = 0; i < 100; i++) {
        snap_of(vm, "z", &resp);
        c1 = snap_find(&resp.payload.u.process_snapshot_response, "z/child-1");
        c2 = snap_find(&resp.payload.u.process_snapshot_response, "z/child-2");
        if (c1 && c2 && c1->status == SX_PROCESS_SNAPSHOT_STATUS_EXITED &&
            c2->status == SX_PROCESS_SNAPSHOT_STATUS_EXITED)
            break;
        msleep(20);
    }
    ck_assert_ptr_nonnull(c1);
    ck_assert_ptr_nonnull(c2);
    ck_assert_int_eq(c1->status, SX_PROCESS_SNAPSHOT_STATUS_EXITED);
    ck_assert(c1->exit_code.present);
    ck_assert_int_eq(c1->exit_code.value, 3);
    ck_assert_int_eq(c2->status, SX_PROCESS_SNAPSHOT_STATUS_EXITED);
    ck_assert(c2->exit_code.present);
    ck_assert_int_eq(c2->exit_code.value, 128 + SIGKILL);
    ck_assert_int_eq(kill_proc(vm, "z", "KILL"), SE_OK);
    ck_assert(collect("z", &r, T));
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/*
 * The SDK's way: short processes, each polled with snapshots from its start until one says
 * EXITED. Every EXITED must carry the process's own code (before the fix, one in a few dozen
 * showed EXITED without it).
 */
START_TEST(snapshot_of_short_processes)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    const char *args[] = {"-c", "exit 5", NULL};
    exec_opts_t o = cmd("sh", args);
    int polls = 0;
    for (int i = 0; i < 60; i++) {
        char id[32];
        snprintf(id, sizeof id, "short-%d", i);
        ck_assert_int_eq(execute(vm, id, &o, NULL), SE_OK);
        sx_response_frame_t resp;
        const sx_process_snapshot_entry_t *e = NULL;
        for (int k = 0; k < 2000; k++, polls++) {
            e = snap_of(vm, id, &resp);
            ck_assert_ptr_nonnull(e);
            if (e->status == SX_PROCESS_SNAPSHOT_STATUS_EXITED)
                break;
        }
        ck_assert_int_eq(e->status, SX_PROCESS_SNAPSHOT_STATUS_EXITED);
        ck_assert_msg(e->exit_code.present && e->exit_code.value == 5,
                      "%s: EXITED with code %s %d after %d polls", id,
                      e->exit_code.present ? "" : "absent", e->exit_code.value, polls);
        result_t r = {0};
        r.code = -1;
        ck_assert(collect(id, &r, T));
        ck_assert_int_eq(r.code, 5);
        result_free(&r);
    }
    vm_dispose(vm);
    stop();
}
END_TEST

static int find_listener(const char *vm, const char *host, int port, const char *path,
                         sx_response_frame_t *resp)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_FIND_LISTENER_REQUEST;
    if (host) {
        p.u.find_listener_request.host.present = true;
        p.u.find_listener_request.host.value = bare_str_from_cstr(host);
    }
    if (port >= 0) {
        p.u.find_listener_request.port.present = true;
        p.u.find_listener_request.port.value = (uint16_t)port;
    }
    if (path) {
        p.u.find_listener_request.path.present = true;
        p.u.find_listener_request.path.value = bare_str_from_cstr(path);
    }
    return vm_call(vm, &p, resp);
}

START_TEST(listeners)
{
    char vm[64], other[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", other);
    const char *args[] = {"-e",
                          "const http = require('http'); const dgram = require('dgram');"
                          "const net = require('net');"
                          "const u = dgram.createSocket('udp4'); u.bind(5353, '127.0.0.1');"
                          "net.createServer().listen('/tmp/guest.sock');"
                          "http.createServer((q, s) => s.end('hi')).listen(8080, () => "
                          "console.log('listening'));",
                          NULL};
    exec_opts_t o = cmd("node", args);
    ck_assert_int_eq(execute(vm, "server", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("server", &r, "listening\n");
    msleep(100);
    sx_response_frame_t resp;
    ck_assert_int_eq(find_listener(vm, NULL, 8080, NULL, &resp), SE_OK);
    const sx_socket_state_entry_opt_t *l = &resp.payload.u.listener_snapshot_response.listener;
    ck_assert(l->present);
    ck_assert(bare_str_eq_cstr(l->value.process_id, "server"));
    ck_assert(l->value.port.present);
    ck_assert_uint_eq(l->value.port.value, 8080);
    ck_assert(l->value.host.present);
    /* node listens on :: (every address): "::" matches it, a loopback address does not */
    ck_assert(bare_str_eq_cstr(l->value.host.value, "::"));
    ck_assert_int_eq(find_listener(vm, "::", 8080, NULL, &resp), SE_OK);
    ck_assert(resp.payload.u.listener_snapshot_response.listener.present);
    ck_assert_int_eq(find_listener(vm, "127.0.0.1", 8080, NULL, &resp), SE_OK);
    ck_assert(!resp.payload.u.listener_snapshot_response.listener.present);
    ck_assert_int_eq(find_listener(vm, NULL, 8081, NULL, &resp), SE_OK);
    ck_assert(!resp.payload.u.listener_snapshot_response.listener.present);
    ck_assert_int_eq(find_listener(vm, NULL, -1, "/tmp/guest.sock", &resp), SE_OK);
    l = &resp.payload.u.listener_snapshot_response.listener;
    ck_assert(l->present);
    ck_assert(l->value.path.present);
    ck_assert(bare_str_eq_cstr(l->value.path.value, "/tmp/guest.sock"));
    /* UDP */
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_FIND_BOUND_UDP_REQUEST;
    p.u.find_bound_udp_request.port.present = true;
    p.u.find_bound_udp_request.port.value = 5353;
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    const sx_socket_state_entry_opt_t *u = &resp.payload.u.bound_udp_snapshot_response.socket;
    ck_assert(u->present);
    ck_assert(bare_str_eq_cstr(u->value.host.value, "127.0.0.1"));
    ck_assert(bare_str_eq_cstr(u->value.process_id, "server"));
    /* the other VM sees none of it */
    ck_assert_int_eq(find_listener(other, NULL, 8080, NULL, &resp), SE_OK);
    ck_assert(!resp.payload.u.listener_snapshot_response.listener.present);
    ck_assert_int_eq(vm_call(other, &p, &resp), SE_OK);
    ck_assert(!resp.payload.u.bound_udp_snapshot_response.socket.present);
    /* a guest of this VM reaches the server over the VM's loopback; the other VM's cannot */
    int code;
    ck_assert_str_eq(py(vm,
                        "import urllib.request\nprint(urllib.request.urlopen("
                        "'http://127.0.0.1:8080/').read().decode())",
                        &code),
                     "hi\n");
    const char *out = py(other,
                         "import socket\ns = socket.socket()\ntry:\n"
                         "    s.connect(('127.0.0.1', 8080))\n    print('CONNECTED')\n"
                         "except OSError as e:\n    print('refused')",
                         &code);
    ck_assert_str_eq(out, "refused\n");
    ck_assert_int_eq(kill_proc(vm, "server", "TERM"), SE_OK);
    ck_assert(collect("server", &r, T));
    result_free(&r);
    vm_dispose(vm);
    /* network.inspect is needed */
    vm_new("{\"permissions\": {\"fs\": \"allow\", \"childProcess\": \"allow\"}}", vm);
    expect_rejection(find_listener(vm, NULL, 8080, NULL, &resp), "execution_error",
                     "EACCES: permission denied, tcp://*:8080: blocked by network.inspect policy");
    vm_dispose(vm);
    vm_dispose(other);
    stop();
}
END_TEST

START_TEST(vms_isolated)
{
    char a[64], b[64];
    start();
    vm_new("{" ALLOW_ALL "}", a);
    vm_new("{" ALLOW_ALL "}", b);
    const char *args[] = {"-c", "echo secret-a > /tmp/a-file; echo up; exec sleep 300", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(a, "a-proc", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("a-proc", &r, "up\n");
    int code;
    /* b sees neither a's processes nor its files */
    const char *out = sh(b, "ps -eo args 2>/dev/null || cat /proc/[0-9]*/cmdline", &code);
    ck_assert_ptr_null(strstr(out, "sleep 300"));
    sh(b, "cat /tmp/a-file", &code);
    ck_assert_int_ne(code, 0);
    /* the same processId may live in both VMs */
    ck_assert_int_eq(execute(b, "a-proc", &o, NULL), SE_OK);
    ck_assert_int_eq(kill_proc(a, "a-proc", "KILL"), SE_OK);
    ck_assert(collect("a-proc", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    vm_dispose(a);
    vm_dispose(b);
    stop();
}
END_TEST

/* ---- nothing outlives a VM ---- */

/* Host pids whose parent chain reaches root_pid. */
static size_t descendants(pid_t root_pid, pid_t *out, size_t cap)
{
    pid_t pids[4096], ppids[4096];
    size_t n = 0, k = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 4096) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');
        int ppid;
        if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
            continue;
        pids[n] = atoi(de->d_name);
        ppids[n++] = ppid;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++) {
        pid_t p = ppids[i];
        for (int depth = 0; p > 1 && depth < 64; depth++) {
            if (p == root_pid) {
                if (k < cap)
                    out[k++] = pids[i];
                break;
            }
            size_t j = 0;
            while (j < n && pids[j] != p)
                j++;
            p = j < n ? ppids[j] : 0;
        }
    }
    return k;
}

static bool mounts_mention(pid_t pid, const char *what)
{
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, what))
            found = true;
    if (f)
        fclose(f);
    return found;
}

START_TEST(dispose_leaves_nothing)
{
    char vm[64], vmdir[80];
    start();
    pid_t sidecar = se_client_pid(c);
    vm_new("{" ALLOW_ALL "}", vm);
    snprintf(vmdir, sizeof vmdir, "/vms/%s", vm);
    /* processes that would gladly linger: a TERM-proof one and a detached grandchild */
    const char *args[] = {"-c", "trap '' TERM; (setsid sleep 300 &); sleep 300 & echo up; wait",
                          NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "stubborn", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("stubborn", &r, "up\n");
    msleep(100);
    pid_t before[64];
    size_t n = descendants(sidecar, before, 64);
    ck_assert_uint_ge(n, 4); /* supervisor, sh, two sleeps */
    ck_assert(mounts_mention(sidecar, vmdir));
    /* dispose: the exit event comes with it, then nothing is left */
    vm_dispose(vm);
    ck_assert(collect("stubborn", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", (int)before[i]);
        ck_assert_msg(access(path, F_OK) != 0, "pid %d outlived its VM", (int)before[i]);
    }
    ck_assert_uint_eq(descendants(sidecar, before, 64), 0);
    ck_assert(!mounts_mention(sidecar, vmdir));
    stop();
}
END_TEST

/* The sidecar's direct children (each VM's supervisor, once it has started one). */
static size_t children_of(pid_t pid, pid_t *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int child;
    while (f && n < cap && fscanf(f, "%d", &child) == 1)
        out[n++] = child;
    if (f)
        fclose(f);
    return n;
}

/* A VM whose supervisor dies: its processes end (137), then VmLifecycleEvent FAILED; the VM
 * can start processes again afterwards, with a new supervisor. */
START_TEST(supervisor_death_fails_the_vm)
{
    char vm[64];
    start();
    pid_t sidecar = se_client_pid(c);
    vm_new("{" ALLOW_ALL "}", vm);
    const char *args[] = {"-c", "echo up; sleep 300", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "p", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("p", &r, "up\n");
    pid_t sup[4];
    ck_assert_uint_eq(children_of(sidecar, sup, 4), 1);
    ck_assert_int_eq(kill(sup[0], SIGKILL), 0);

    bool exited = false, failed = false;
    for (int i = 0; i < 100 && !failed; i++) {
        sx_event_frame_t ev;
        int st = se_client_next_event(c, 100, &ev);
        if (st == SE_TIMEOUT)
            continue;
        ck_assert_int_eq(st, SE_OK);
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT) {
            ck_assert(bare_str_eq_cstr(ev.payload.u.process_exited_event.process_id, "p"));
            ck_assert_int_eq(ev.payload.u.process_exited_event.exit_code, 137);
            exited = true;
        } else if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT) {
            ck_assert_int_eq(ev.payload.u.vm_lifecycle_event.state,
                             SX_VM_LIFECYCLE_STATE_FAILED);
            ck_assert_msg(exited, "FAILED before the exit event of the VM's process");
            ck_assert(bare_str_eq_cstr(ev.ownership.u.vm_ownership.vm_id, vm));
            failed = true;
        }
    }
    ck_assert_msg(failed, "no FAILED event after the supervisor died");
    ck_assert_uint_eq(descendants(sidecar, sup, 4), 0);
    result_free(&r);

    int code;
    ck_assert_str_eq(sh(vm, "echo again", &code), "again\n");
    ck_assert_int_eq(code, 0);
    vm_dispose(vm);
    stop();
}
END_TEST

/* How the sidecar goes: SIGKILL (a crash: no cleanup code runs), SIGTERM, end of input. */
static const int exit_modes[] = {SIGKILL, SIGTERM, 0};

START_TEST(sidecar_exit_ends_guests)
{
    char vm[64];
    int mode = exit_modes[_i];
    start();
    pid_t sidecar = se_client_pid(c);
    vm_new("{" ALLOW_ALL "}", vm);
    const char *args[] = {"-c", "trap '' TERM; (setsid sleep 300 &); echo up; sleep 300", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "p", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("p", &r, "up\n");
    result_free(&r);
    msleep(100);
    pid_t pids[64];
    size_t n = descendants(sidecar, pids, 64);
    ck_assert_uint_ge(n, 3);
    if (mode)
        kill(sidecar, mode);
    int status = se_client_close(c, T); /* closes its stdin, then reaps it */
    c = NULL;
    if (mode == SIGKILL)
        ck_assert(WIFSIGNALED(status));
    else
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    for (int tries = 0; tries < 100; tries++) {
        size_t alive = 0;
        for (size_t i = 0; i < n; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
            FILE *f = fopen(path, "r");
            char buf[256] = "";
            if (f) {
                if (!fgets(buf, sizeof buf, f))
                    buf[0] = '\0';
                fclose(f);
            }
            char *rp = strrchr(buf, ')');
            if (f && !(rp && rp[2] == 'Z'))
                alive++;
        }
        if (alive == 0)
            break;
        ck_assert_msg(tries < 99, "%zu guest processes outlived the sidecar", alive);
        msleep(50);
    }
    drop_log();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("exec");
    TCase *t = tcase_create("exec");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, javascript_hello);
    tcase_add_test(t, python_hello);
    tcase_add_test(t, webassembly_hello_and_tiers);
    tcase_add_test(t, args_env_cwd);
    tcase_add_test(t, execute_rules);
    tcase_add_test(t, child_process_rules);
    tcase_add_test(t, stdin_echo);
    tcase_add_test(t, execute_pipelined);
    tcase_add_test(t, large_output_in_order);
    tcase_add_test(t, kill_signals);
    tcase_add_test(t, time_limits);
    tcase_add_test(t, memory_bomb);
    tcase_add_test(t, fork_bomb_contained);
    tcase_add_test(t, loopback_exempt_ports);
    tcase_add_test(t, guest_identity);
    tcase_add_test(t, guest_owns_its_vm_files);
    tcase_add_test(t, root_of_mode_0700);
    tcase_add_test(t, localhost_resolves);
    tcase_add_test(t, guest_files_seen_by_the_host);
    tcase_add_test(t, snapshot_children);
    tcase_add_test(t, zombies_and_signal_state);
    tcase_add_test(t, snapshot_exited_only_with_a_code);
    tcase_add_test(t, snapshot_of_short_processes);
    tcase_add_test(t, listeners);
    tcase_add_test(t, vms_isolated);
    tcase_add_test(t, dispose_leaves_nothing);
    tcase_add_test(t, supervisor_death_fails_the_vm);
    tcase_add_loop_test(t, sidecar_exit_ends_guests, 0, 3);
    tcase_add_test(t, fd_and_file_size_limits);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
