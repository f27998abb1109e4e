/*
 * check_secure_exec.c - the secure-exec command as a person runs it: the real binary as a
 * subprocess (which runs the real sidecar next to it), its standard streams, exit statuses,
 * options, limits, signals and the trace file. The sanitized suite runs the sanitized command
 * and sidecar.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bare.h"
#include "secure_exec_sidecar_v1.h"

#ifndef SECURE_EXEC_PATH
#define SECURE_EXEC_PATH "build/secure-exec"
#endif
#ifndef BARE_YAML_PATH
#define BARE_YAML_PATH "build/bare-yaml"
#endif
#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif

extern char **environ;

/* One run of a program: how it ended and everything it printed. */
typedef struct run {
    int status; /* the exit status, or 1000 + N when signal N killed it */
    char *out, *err;
    size_t out_len, err_len;
    double secs;
} run_t;

static char scratch[64]; /* this test's directory */

static const char *in_scratch(const char *name)
{
    static char bufs[4][256];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", scratch, name);
    return p;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void spit_text(const char *name, const char *text)
{
    spit(in_scratch(name), text, strlen(text));
}

static char *slurp_fd(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    for (;;) {
        if (n == cap) {
            buf = realloc(buf, (cap *= 2) + 1);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t k = read(fd, buf + n, cap - n);
        ck_assert_int_ge(k, 0);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The environment of a run: ours without the variables that would pick another sidecar or a
 * token, plus extra ("NAME=VALUE" entries). */
static char **child_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    size_t nextra = 0;
    while (extra && extra[nextra])
        nextra++;
    char **env = calloc(n + nextra + 1, sizeof *env);
    ck_assert_ptr_nonnull(env);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SECURE_EXEC_SIDECAR", 19) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; i < nextra; i++)
        env[k++] = (char *)extra[i];
    env[k] = NULL;
    return env;
}

static int decode_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/*
 * Runs prog with args (NULL-terminated) and extra environment entries, feeding in (in_len
 * bytes through a pipe; NULL: /dev/null) and capturing stdout and stderr in files.
 */
static run_t run_prog(const char *prog, const char *const *args, const void *in, size_t in_len,
                      const char *const *extra_env)
{
    const char *argv[64];
    size_t argc = 0;
    argv[argc++] = prog;
    for (size_t i = 0; args[i]; i++) {
        ck_assert_uint_lt(argc, 62);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    char **env = child_env(extra_env);
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    int p[2] = {-1, -1};
    if (in)
        ck_assert_int_eq(pipe(p), 0);

    double start = now_secs();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = in ? p[0] : open("/dev/null", O_RDONLY);
        if (in)
            close(p[1]);
        dup2(fd, 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        execve(prog, (char *const *)argv, env);
        _exit(99);
    }
    if (in) {
        close(p[0]);
        const char *b = in;
        size_t left = in_len;
        while (left > 0) {
            ssize_t k = write(p[1], b, left);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break; /* the command stopped reading: fine */
            b += k;
            left -= (size_t)k;
        }
        close(p[1]);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    run_t r;
    r.secs = now_secs() - start;
    r.status = decode_status(status);
    r.out = slurp_fd(fileno(out), &r.out_len);
    r.err = slurp_fd(fileno(err), &r.err_len);
    fclose(out);
    fclose(err);
    free(env);
    return r;
}

static run_t run_se(const char *const *args, const void *in, size_t in_len,
                    const char *const *extra_env)
{
    return run_prog(SECURE_EXEC_PATH, args, in, in_len, extra_env);
}

#define SE(...) run_se((const char *const[]){"run", __VA_ARGS__, NULL}, NULL, 0, NULL)

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

/* The run ended with status, printed exactly out on stdout, and nothing on stderr. */
static void expect_clean(run_t *r, int status, const char *out)
{
    ck_assert_msg(r->status == status, "status %d, not %d; stderr: %s", r->status, status, r->err);
    ck_assert_str_eq(r->out, out);
    ck_assert_msg(r->err_len == 0, "unexpected stderr: %s", r->err);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(scratch, sizeof scratch, "/tmp/check_secure_exec.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
}

static void teardown(void)
{
    rm_rf(scratch);
}

/* ---- running things ---- */

START_TEST(test_js_file)
{
    spit_text("hello.js", "console.log('hello from ' + require('node:os').hostname());\n"
                          "console.log(process.argv.slice(2).join('|'));\n");
    run_t r = SE(in_scratch("hello.js"), "a b", "-x", "");
    expect_clean(&r, 0, "hello from secure-exec\na b|-x|\n");
    run_free(&r);
}
END_TEST

START_TEST(test_python_file)
{
    spit_text("hello.py", "import os, sys\n"
                          "print('hello from python', os.getuid(), sys.argv[1:])\n");
    run_t r = SE(in_scratch("hello.py"), "one");
    expect_clean(&r, 0, "hello from python 1000 ['one']\n");
    run_free(&r);
}
END_TEST

START_TEST(test_exit_codes)
{
    spit_text("seven.js", "console.log('bye'); process.exit(7);\n");
    spit_text("three.py", "import sys\nsys.exit(3)\n");
    run_t r = SE(in_scratch("seven.js"));
    expect_clean(&r, 7, "bye\n");
    run_free(&r);
    r = SE(in_scratch("three.py"));
    expect_clean(&r, 3, "");
    run_free(&r);
    /* a guest killed by a signal: 128 + N */
    r = SE("--", "sh", "-c", "kill -TERM $$");
    expect_clean(&r, 128 + SIGTERM, "");
    run_free(&r);
    /* an uncaught exception is node's own 1, its message on stderr */
    r = SE("-e", "throw new Error('boom')");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "boom"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
}
END_TEST

START_TEST(test_eval)
{
    run_t r = SE("-e", "console.log(6 * 7)");
    expect_clean(&r, 0, "42\n");
    run_free(&r);
    r = SE("-e", "console.log(process.argv.slice(1).join(','))", "a", "b");
    expect_clean(&r, 0, "a,b\n");
    run_free(&r);
    /* options after -e CODE, and arguments after -- */
    r = SE("-e", "console.log(process.argv.slice(1).join(','))", "--env", "X=1", "--", "--y");
    expect_clean(&r, 0, "--y\n");
    run_free(&r);
    r = SE("--runtime", "python", "-e", "import sys; print(sys.argv[1:], 2 ** 10)", "x");
    expect_clean(&r, 0, "['x'] 1024\n");
    run_free(&r);
}
END_TEST

START_TEST(test_program)
{
    run_t r = SE("--", "sh", "-c", "echo hi; id -u; hostname; echo $HOME $PWD");
    expect_clean(&r, 0, "hi\n1000\nsecure-exec\n/home/user /home/user\n");
    run_free(&r);
    r = SE("--cwd", "/tmp", "--", "pwd");
    expect_clean(&r, 0, "/tmp\n");
    run_free(&r);
    /* a working directory the VM does not have is our error, and says so */
    r = SE("--cwd", "/nope", "--", "pwd");
    ck_assert_int_eq(r.status, 125);
    ck_assert_msg(strstr(r.err, "--cwd /nope: ENOENT: no such file or directory, chdir '/nope'"),
                  "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(test_executable_file)
{
    spit_text("tool", "#!/bin/sh\necho \"$0 $*\"\nexit 9\n");
    run_t r = SE(in_scratch("tool"), "x", "y");
    expect_clean(&r, 9, "/home/user/tool x y\n");
    run_free(&r);
    /* --runtime wins over the extension (and its absence) */
    spit_text("script", "console.log('js without an extension')\n");
    r = SE("--runtime", "js", in_scratch("script"));
    expect_clean(&r, 0, "js without an extension\n");
    run_free(&r);
    spit_text("script2", "print('python without an extension')\n");
    r = SE("-r", "python", in_scratch("script2"));
    expect_clean(&r, 0, "python without an extension\n");
    run_free(&r);
}
END_TEST

/* A WASI module: fd_write(1, "hi\n"), then proc_exit(7). */
static const uint8_t hi_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x10, 0x03, 0x60, 0x04, 0x7f, 0x7f, 0x7f,
    0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x00, 0x02, 0x46, 0x02, 0x16, 0x77, 0x61,
    0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76,
    0x69, 0x65, 0x77, 0x31, 0x08, 0x66, 0x64, 0x5f, 0x77, 0x72, 0x69, 0x74, 0x65, 0x00, 0x00, 0x16,
    0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73, 0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72,
    0x65, 0x76, 0x69, 0x65, 0x77, 0x31, 0x09, 0x70, 0x72, 0x6f, 0x63, 0x5f, 0x65, 0x78, 0x69, 0x74,
    0x00, 0x02, 0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x02, 0x06, 0x6d,
    0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x02,
    0x0a, 0x21, 0x01, 0x1f, 0x00, 0x41, 0x00, 0x41, 0x08, 0x36, 0x02, 0x00, 0x41, 0x04, 0x41, 0x03,
    0x36, 0x02, 0x00, 0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x14, 0x10, 0x00, 0x1a, 0x41, 0x07,
    0x10, 0x01, 0x0b, 0x0b, 0x09, 0x01, 0x00, 0x41, 0x08, 0x0b, 0x03, 0x68, 0x69, 0x0a};

START_TEST(test_wasm_file)
{
    spit(in_scratch("hi.wasm"), hi_wasm, sizeof hi_wasm);
    run_t r = SE(in_scratch("hi.wasm"));
    expect_clean(&r, 7, "hi\n");
    run_free(&r);
}
END_TEST

START_TEST(test_not_found)
{
    run_t r = SE(in_scratch("missing.js"));
    ck_assert_int_eq(r.status, 127);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "missing.js: No such file or directory"));
    run_free(&r);
    r = SE("--", "no-such-program", "x");
    ck_assert_int_eq(r.status, 127);
    ck_assert_ptr_nonnull(strstr(r.err, "no-such-program: command not found"));
    run_free(&r);
    r = SE(scratch); /* a directory */
    ck_assert_int_eq(r.status, 126);
    ck_assert_ptr_nonnull(strstr(r.err, "is a directory"));
    run_free(&r);
    spit_text("data.bin", "\x7f"
                          "ELF, but not really");
    r = SE(in_scratch("data.bin"));
    ck_assert_int_eq(r.status, 126);
    ck_assert_ptr_nonnull(strstr(r.err, "data.bin"));
    run_free(&r);
}
END_TEST

/* ---- streams ---- */

START_TEST(test_stderr_is_separate)
{
    run_t r = SE("--", "sh", "-c", "echo out1; echo err1 >&2; echo out2; printf 'err2' >&2");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "out1\nout2\n");
    ck_assert_str_eq(r.err, "err1\nerr2");
    run_free(&r);
}
END_TEST

START_TEST(test_binary_output)
{
    run_t r = SE("-e", "const b = Buffer.alloc(256 * 1024);"
                       "for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 8)) & 255;"
                       "process.stdout.write(b); process.stderr.write(b.subarray(0, 256));");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.out_len, 256 * 1024);
    for (size_t i = 0; i < r.out_len; i++)
        ck_assert_uint_eq((uint8_t)r.out[i], (uint8_t)((i * 7 + (i >> 8)) & 255));
    ck_assert_uint_eq(r.err_len, 256);
    ck_assert_int_eq(memcmp(r.err, r.out, 256), 0);
    run_free(&r);
}
END_TEST

static char *random_bytes(size_t n)
{
    char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (char)(x >> 24);
    }
    return b;
}

START_TEST(test_stdin_forwarding)
{
    static const char text[] = "line one\nline two\n";
    run_t r = run_se((const char *const[]){"run", "--", "cat", NULL}, text, sizeof text - 1, NULL);
    expect_clean(&r, 0, text);
    run_free(&r);

    /* 1 MiB of every byte value through a JavaScript guest, byte for byte */
    size_t n = 1u << 20;
    char *big = random_bytes(n);
    r = run_se((const char *const[]){"run", "-e", "process.stdin.pipe(process.stdout)", NULL}, big,
               n, NULL);
    ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
    ck_assert_uint_eq(r.out_len, n);
    ck_assert_int_eq(memcmp(r.out, big, n), 0);
    run_free(&r);

    /* and counted by Python, which reads it all before answering */
    r = run_se((const char *const[]){"run", "-r", "python", "-e",
                                     "import sys, hashlib; d = sys.stdin.buffer.read();"
                                     "print(len(d), hashlib.sha256(d).hexdigest()[:16])",
                                     NULL},
               big, n, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "1048576 "));
    run_free(&r);
    free(big);
}
END_TEST

START_TEST(test_stdin_faster_than_the_guest)
{
    /* 24 MiB that the guest only starts reading after a second: more than the sidecar
     * buffers, so secure-exec must hold back and retry, losing nothing */
    size_t n = 24u << 20;
    char *big = random_bytes(n);
    run_t r = run_se((const char *const[]){"run", "--", "sh", "-c", "sleep 1; wc -c", NULL}, big, n,
                     NULL);
    expect_clean(&r, 0, "25165824\n");
    run_free(&r);
    free(big);
}
END_TEST

START_TEST(test_no_stdin)
{
    run_t r = SE("--", "sh", "-c", "cat; echo done");
    expect_clean(&r, 0, "done\n"); /* our stdin is /dev/null */
    run_free(&r);
    r = run_se((const char *const[]){"run", "--no-stdin", "--", "sh", "-c", "cat; echo done", NULL},
               "ignored\n", 8, NULL);
    expect_clean(&r, 0, "done\n");
    run_free(&r);
}
END_TEST

START_TEST(test_stdout_closed)
{
    /* `| head -c 10`: the reader goes away; sh dies of SIGPIPE, node is killed after a grace */
    static const char *const cases[][7] = {
        {SECURE_EXEC_PATH, "run", "--", "sh", "-c", "while :; do echo yyyyyyyy; done", NULL},
        {SECURE_EXEC_PATH, "run", "-e", "for (;;) console.log('yyyyyyyy')", NULL},
    };
    static const int want[] = {128 + SIGPIPE, 128 + SIGKILL};
    for (size_t i = 0; i < 2; i++) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        char **env = child_env(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(p[1], 1);
            close(p[0]);
            execve(SECURE_EXEC_PATH, (char *const *)cases[i], env);
            _exit(99);
        }
        close(p[1]);
        char buf[10];
        for (size_t n = 0; n < sizeof buf;) {
            ssize_t k = read(p[0], buf + n, sizeof buf - n);
            ck_assert_int_gt(k, 0);
            n += (size_t)k;
        }
        ck_assert_int_eq(memcmp(buf, "yyyyyyyy\ny", 10), 0);
        close(p[0]);
        int status;
        double start = now_secs();
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(decode_status(status), want[i]);
        ck_assert_msg(now_secs() - start < 10, "took %.1f s", now_secs() - start);
        free(env);
    }
}
END_TEST

/* ---- environment and permissions ---- */

START_TEST(test_env)
{
    run_t r = SE("--env", "A=1", "--env", "B=two words", "--env", "A=3", "--env", "E=", "--", "sh",
                 "-c", "echo \"A=$A B=$B E=[${E-unset}]\"");
    expect_clean(&r, 0, "A=3 B=two words E=[]\n");
    run_free(&r);
}
END_TEST

START_TEST(test_allow_env)
{
    static const char *const host[] = {"HOST_VISIBLE=yes", "HOST_VALUE=v", "HOST_SECRET=s3cret",
                                       NULL};
    static const char script[] = "echo \"[${HOST_VISIBLE-}] [${HOST_VALUE-}] [${HOST_SECRET-}]\"";
    /* nothing of the host by default */
    run_t r = run_se((const char *const[]){"run", "--", "sh", "-c", script, NULL}, NULL, 0, host);
    expect_clean(&r, 0, "[] [] []\n");
    run_free(&r);
    /* by name, and by glob; a name the host lacks is just absent */
    r = run_se((const char *const[]){"run", "--allow-env", "HOST_VISIBLE", "--allow-env",
                                     "HOST_VAL*", "--allow-env", "NOT_ON_HOST", "--", "sh", "-c",
                                     script, NULL},
               NULL, 0, host);
    expect_clean(&r, 0, "[yes] [v] []\n");
    run_free(&r);
    /* --env wins over --allow-env */
    r = run_se((const char *const[]){"run", "--allow-env", "HOST_VISIBLE", "--env",
                                     "HOST_VISIBLE=mine", "--", "sh", "-c", script, NULL},
               NULL, 0, host);
    expect_clean(&r, 0, "[mine] [] []\n");
    run_free(&r);
}
END_TEST

START_TEST(test_filesystem_permissions)
{
    spit_text("fs.js",
              "const fs = require('fs');\n"
              "function t(what, fn) {\n"
              "  try { fn(); console.log(what, 'ok'); } catch (e) { console.log(what, e.code); }\n"
              "}\n"
              "t('read-self', () => fs.readFileSync(__filename));\n"
              "t('read-passwd', () => fs.readFileSync('/etc/passwd'));\n"
              "t('write-tmp', () => fs.writeFileSync('/tmp/a', 'x'));\n"
              "t('write-home', () => fs.writeFileSync('/home/user/b', 'x'));\n");
    const char *f = in_scratch("fs.js");
    run_t r = SE(f);
    expect_clean(&r, 0, "read-self ok\nread-passwd ok\nwrite-tmp ok\nwrite-home ok\n");
    run_free(&r);
    r = SE("--deny-fs", f);
    expect_clean(&r, 0, "read-self ok\nread-passwd EACCES\nwrite-tmp EACCES\nwrite-home EACCES\n");
    run_free(&r);
    r = SE("--allow-write", "/tmp", f);
    expect_clean(&r, 0, "read-self ok\nread-passwd EACCES\nwrite-tmp ok\nwrite-home EACCES\n");
    run_free(&r);
    r = SE("--allow-read", "/etc", "--allow-write", "..", f); /* relative to /home/user */
    expect_clean(&r, 0, "read-self ok\nread-passwd ok\nwrite-tmp EACCES\nwrite-home ok\n");
    run_free(&r);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_timeout)
{
    run_t r = SE("--timeout", "1", "-e", "while (true) {}");
    ck_assert_int_eq(r.status, 124);
    ck_assert_ptr_nonnull(strstr(r.err, "time limit (--timeout 1)"));
    ck_assert_msg(r.secs >= 0.9 && r.secs < 15, "took %.2f s", r.secs);
    run_free(&r);
    /* -q: the status only */
    r = SE("-q", "--timeout", "300ms", "--", "sleep", "5");
    expect_clean(&r, 124, "");
    ck_assert_msg(r.secs < 4, "took %.2f s", r.secs);
    run_free(&r);
    /* a guest within its limit is untouched */
    r = SE("--timeout", "30", "-e", "console.log('quick')");
    expect_clean(&r, 0, "quick\n");
    run_free(&r);
}
END_TEST

START_TEST(test_cpu_limit)
{
    run_t r = SE("-q", "--cpu", "1", "-e", "while (true) {}");
    expect_clean(&r, 124, "");
    run_free(&r);
}
END_TEST

START_TEST(test_memory)
{
    run_t r =
        SE("--memory", "64M", "-e", "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));");
    ck_assert_int_eq(r.status, 128 + SIGKILL);
    ck_assert_ptr_nonnull(strstr(r.err, "--memory 64M"));
    run_free(&r);
    r = SE("--memory", "512M", "-e", "console.log(Buffer.alloc(32 << 20, 1).length)");
    expect_clean(&r, 0, "33554432\n");
    run_free(&r);
}
END_TEST

START_TEST(test_max_processes)
{
    run_t r = SE("--max-processes", "4", "--", "sh", "-c",
                 "for i in 1 2 3 4 5 6; do sleep 2 & done 2>/dev/null; echo forked");
    ck_assert_msg(r.status != 0, "six children under --max-processes 4: %s", r.out);
    run_free(&r);
    r = SE("--max-processes", "16", "--", "sh", "-c",
           "for i in 1 2 3; do true & done; wait; echo ok");
    expect_clean(&r, 0, "ok\n");
    run_free(&r);
}
END_TEST

/* ---- our own errors ---- */

static const struct {
    const char *args[4];
    const char *message; /* in stderr */
} bad_usage[] = {
    {{"--memory", "12Q", "x.js"}, "--memory: '12Q' is not a size (use 512M, 2G, or bytes)"},
    {{"--memory", "-1", "x.js"}, "--memory: '-1' is not a size"},
    {{"--disk", "1.5", "x.js"}, "--disk: '1.5' is not a size"},
    {{"--timeout", "abc", "x.js"}, "--timeout: 'abc' is not a duration"},
    {{"--timeout", "5x", "x.js"}, "--timeout: '5x' is not a duration"},
    {{"--cpu", "-1", "x.js"}, "--cpu: '-1' is not a duration"},
    {{"--max-processes", "0", "x.js"}, "--max-processes: '0' is not a number from 1"},
    {{"--runtime", "ruby", "x.rb"}, "--runtime: 'ruby' is not a runtime (use js, python or wasm)"},
    {{"--env", "NOEQUALS", "x.js"}, "--env: 'NOEQUALS' is not NAME=VALUE"},
    {{"--env", "=v", "x.js"}, "--env: '=v' is not NAME=VALUE"},
    {{"--allow-env", "A=B", "x.js"}, "--allow-env: 'A=B' is not a variable name"},
    {{"--bogus", "x.js"}, "unknown option '--bogus'"},
    {{"--memory"}, "--memory needs a value"},
    {{"-e"}, "-e needs a value"},
    {{"--timeout"}, "--timeout needs a value"},
    {{"--allow-net"}, "nothing to run"},
    {{"-r", "wasm", "-e", "1"}, "-e: WebAssembly cannot be given as code"},
    {{"-r", "js", "--", "ls"}, "--runtime: does not apply to -- PROGRAM"},
    {{"--trace", "/nonexistent/dir/t.bin", "-e", "1"}, "--trace: cannot write"},
};

START_TEST(test_bad_usage)
{
    const char *args[8] = {"run"};
    size_t n = 1;
    for (size_t i = 0; i < 4 && bad_usage[_i].args[i]; i++)
        args[n++] = bad_usage[_i].args[i];
    args[n] = NULL;
    run_t r = run_se(args, NULL, 0, NULL);
    ck_assert_msg(r.status == 125, "%s: status %d", bad_usage[_i].args[0], r.status);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strncmp(r.err, "secure-exec: ", 13) == 0 && strstr(r.err, bad_usage[_i].message),
                  "stderr: %s", r.err);
    ck_assert_msg(strchr(r.err, '\n') == r.err + r.err_len - 1, "one line: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(test_commands_help_version)
{
    run_t r = run_se((const char *const[]){"--version", NULL}, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(strncmp(r.out, "secure-exec ", 12), 0);
    run_free(&r);
    r = run_se((const char *const[]){"run", "--help", NULL}, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: secure-exec run"));
    ck_assert_ptr_nonnull(strstr(r.out, "--allow-env"));
    run_free(&r);
    r = run_se((const char *const[]){"walk", NULL}, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 125);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'walk'"));
    run_free(&r);
    r = run_se((const char *const[]){NULL}, NULL, 0, NULL);
    ck_assert_int_eq(r.status, 125);
    ck_assert_ptr_nonnull(strstr(r.err, "usage:"));
    run_free(&r);
}
END_TEST

START_TEST(test_sidecar_missing)
{
    run_t r = SE("--sidecar", "/nonexistent/secure-exec-sidecar", "-e", "1");
    ck_assert_int_eq(r.status, 125);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot run the sidecar /nonexistent/secure-exec-sidecar"));
    run_free(&r);
    /* a "sidecar" that exits at once */
    r = SE("--sidecar", "/bin/false", "-e", "1");
    ck_assert_int_eq(r.status, 125);
    ck_assert_ptr_nonnull(strstr(r.err, "the sidecar exited unexpectedly"));
    run_free(&r);
}
END_TEST

/* ---- signals ---- */

START_TEST(test_signals_reach_the_guest)
{
    static const char *const argv[] = {
        SECURE_EXEC_PATH, "run", "-e",
        "process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(5); });"
        "setInterval(() => {}, 1000); console.log('ready');",
        NULL};
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    char **env = child_env(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(p[1], 1);
        close(p[0]);
        execve(SECURE_EXEC_PATH, (char *const *)argv, env);
        _exit(99);
    }
    close(p[1]);
    char buf[64];
    size_t n = 0;
    while (n < 6) {
        ssize_t k = read(p[0], buf + n, sizeof buf - 1 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    buf[n] = '\0';
    ck_assert_str_eq(buf, "ready\n");
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    for (ssize_t k; (k = read(p[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)k;
    buf[n] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_str_eq(buf, "ready\ngot SIGINT\n");
    ck_assert_int_eq(decode_status(status), 5);
    free(env);
}
END_TEST

START_TEST(test_second_signal_kills)
{
    static const char *const argv[] = {SECURE_EXEC_PATH, "run", "-e",
                                       "process.on('SIGTERM', () => console.log('ignored'));"
                                       "setInterval(() => {}, 1000); console.log('ready');",
                                       NULL};
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    char **env = child_env(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(p[1], 1);
        close(p[0]);
        execve(SECURE_EXEC_PATH, (char *const *)argv, env);
        _exit(99);
    }
    close(p[1]);
    char buf[64];
    size_t n = 0;
    while (n < 6) {
        ssize_t k = read(p[0], buf + n, sizeof buf - 1 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    while (n < 14) { /* "ignored\n" */
        ssize_t k = read(p[0], buf + n, sizeof buf - 1 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(p[0]);
    ck_assert_int_eq(decode_status(status), 128 + SIGKILL);
    free(env);
}
END_TEST

/* ---- the trace ---- */

START_TEST(test_trace)
{
    const char *trace = in_scratch("trace.bin");
    run_t r = run_se((const char *const[]){"run", "--trace", trace, "-e",
                                           "process.stdin.on('data', d => process.stdout.write("
                                           "d.toString().toUpperCase()))",
                                           NULL},
                     "traced\n", 7, NULL);
    expect_clean(&r, 0, "TRACED\n");
    run_free(&r);

    struct stat st;
    ck_assert_int_eq(stat(trace, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    int fd = open(trace, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    size_t len;
    char *data = slurp_fd(fd, &len);
    close(fd);

    /* every frame decodes, and the conversation is all there, in order */
    enum { AUTH, CREATE, EXECUTE, STDIN, OUTPUT, EXITED, DISPOSE, NSEEN };
    int seen[NSEEN];
    for (int i = 0; i < NSEEN; i++)
        seen[i] = -1;
    int nframes = 0;
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    for (size_t off = 0; off < len; nframes++) {
        ck_assert_uint_ge(len - off, 4);
        uint32_t n = bare_frame_header_decode((const uint8_t *)data + off);
        ck_assert_uint_le(n, len - off - 4);
        bare_reader_t rd;
        sx_protocol_frame_t f;
        bare_arena_reset(&arena);
        bare_reader_init(&rd, (const uint8_t *)data + off + 4, n, &arena, NULL);
        ck_assert_int_eq(sx_protocol_frame_decode(&rd, &f), BARE_OK);
        ck_assert_int_eq(bare_reader_finish(&rd), BARE_OK);
        off += 4 + (size_t)n;
        if (f.tag == SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME) {
            switch (f.u.request_frame.payload.tag) {
            case SX_REQUEST_PAYLOAD_TAG_AUTHENTICATE_REQUEST:
                seen[AUTH] = nframes;
                break;
            case SX_REQUEST_PAYLOAD_TAG_CREATE_VM_REQUEST:
                seen[CREATE] = nframes;
                break;
            case SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST:
                seen[EXECUTE] = nframes;
                break;
            case SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST: {
                bare_bytes_t c = f.u.request_frame.payload.u.write_stdin_request.chunk;
                ck_assert_uint_eq(c.len, 7);
                ck_assert_int_eq(memcmp(c.ptr, "traced\n", 7), 0);
                seen[STDIN] = nframes;
                break;
            }
            case SX_REQUEST_PAYLOAD_TAG_DISPOSE_VM_REQUEST:
                seen[DISPOSE] = nframes;
                break;
            default:
                break;
            }
        } else if (f.tag == SX_PROTOCOL_FRAME_TAG_EVENT_FRAME) {
            const sx_event_payload_t *e = &f.u.event_frame.payload;
            if (e->tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT) {
                bare_bytes_t c = e->u.process_output_event.chunk;
                ck_assert_uint_eq(c.len, 7);
                ck_assert_int_eq(memcmp(c.ptr, "TRACED\n", 7), 0);
                seen[OUTPUT] = nframes;
            } else if (e->tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT) {
                ck_assert_int_eq(e->u.process_exited_event.exit_code, 0);
                seen[EXITED] = nframes;
            }
        }
    }
    bare_arena_free(&arena);
    free(data);
    ck_assert_int_eq(seen[AUTH], 0);
    for (int i = 1; i < NSEEN; i++)
        ck_assert_msg(seen[i] > seen[i - 1], "step %d at frame %d, after %d", i, seen[i],
                      seen[i - 1]);

    /* bare-yaml renders it */
    r = run_prog(BARE_YAML_PATH,
                 (const char *const[]){"frames", SOURCE_DIR "/schema/secure_exec_sidecar_v1.bare",
                                       trace, NULL},
                 NULL, 0, NULL);
    ck_assert_msg(r.status == 0, "bare-yaml: %s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "AuthenticateRequest"));
    ck_assert_ptr_nonnull(strstr(r.out, "ExecuteRequest"));
    ck_assert_ptr_nonnull(strstr(r.out, "ProcessExitedEvent"));
    run_free(&r);

    /* a trace that cannot be written is an error, after the run */
    r = SE("--trace", "/dev/full", "-e", "console.log('ran')");
    ck_assert_int_eq(r.status, 125);
    ck_assert_str_eq(r.out, "ran\n");
    ck_assert_ptr_nonnull(strstr(r.err, "--trace: cannot write '/dev/full'"));
    run_free(&r);
}
END_TEST

static Suite *secure_exec_suite(void)
{
    Suite *s = suite_create("secure-exec");
    TCase *t = tcase_create("run");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_js_file);
    tcase_add_test(t, test_python_file);
    tcase_add_test(t, test_exit_codes);
    tcase_add_test(t, test_eval);
    tcase_add_test(t, test_program);
    tcase_add_test(t, test_executable_file);
    tcase_add_test(t, test_wasm_file);
    tcase_add_test(t, test_not_found);
    suite_add_tcase(s, t);

    TCase *io = tcase_create("streams");
    tcase_add_checked_fixture(io, setup, teardown);
    tcase_set_timeout(io, 180);
    tcase_add_test(io, test_stderr_is_separate);
    tcase_add_test(io, test_binary_output);
    tcase_add_test(io, test_stdin_forwarding);
    tcase_add_test(io, test_stdin_faster_than_the_guest);
    tcase_add_test(io, test_no_stdin);
    tcase_add_test(io, test_stdout_closed);
    tcase_add_test(io, test_trace);
    suite_add_tcase(s, io);

    TCase *p = tcase_create("policy");
    tcase_add_checked_fixture(p, setup, teardown);
    tcase_set_timeout(p, 120);
    tcase_add_test(p, test_env);
    tcase_add_test(p, test_allow_env);
    tcase_add_test(p, test_filesystem_permissions);
    tcase_add_test(p, test_timeout);
    tcase_add_test(p, test_cpu_limit);
    tcase_add_test(p, test_memory);
    tcase_add_test(p, test_max_processes);
    suite_add_tcase(s, p);

    TCase *u = tcase_create("usage");
    tcase_add_checked_fixture(u, setup, teardown);
    tcase_set_timeout(u, 120);
    tcase_add_loop_test(u, test_bad_usage, 0, (int)(sizeof bad_usage / sizeof bad_usage[0]));
    tcase_add_test(u, test_commands_help_version);
    tcase_add_test(u, test_sidecar_missing);
    tcase_add_test(u, test_signals_reach_the_guest);
    tcase_add_test(u, test_second_signal_kills);
    suite_add_tcase(s, u);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(secure_exec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
