/*
 * check_yaml_cli.c - the bare-yaml command as a user runs it: encode, decode and frames from a
 * schema file, exit statuses, the error formats, and that nothing is written on error (no
 * output file, no temporary, an existing file untouched, nothing on standard output).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SOURCE_DIR
#define SOURCE_DIR "."
#endif
#ifndef BARE_YAML_PATH
#define BARE_YAML_PATH SOURCE_DIR "/build/bare-yaml"
#endif

#define SCHEMA SOURCE_DIR "/schema/secure_exec_sidecar_v1.bare"

static const char auth_yaml[] = "RequestFrame:\n"
                                "  schema:\n"
                                "    name: secure-exec-sidecar\n"
                                "    version: 7\n"
                                "  requestId: 7\n"
                                "  ownership:\n"
                                "    ConnectionOwnership:\n"
                                "      connectionId: conn-1\n"
                                "  payload:\n"
                                "    AuthenticateRequest:\n"
                                "      clientName: generated-test\n"
                                "      authToken: token\n"
                                "      protocolVersion: 7\n"
                                "      bridgeVersion: 1\n";
#define AUTH_LEN 67

typedef struct run {
    int status;
    char *out, *err;
    size_t out_len;
} run_t;

static char scratch[64];

static const char *at(const char *rel)
{
    static char bufs[4][512];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", scratch, rel);
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *rel, const void *data, size_t len)
{
    FILE *f = fopen(at(rel), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void spits(const char *rel, const char *text)
{
    spit(rel, text, strlen(text));
}

static bool exists(const char *rel)
{
    struct stat st;
    return stat(at(rel), &st) == 0;
}

/* Names in the scratch directory that contain ".tmp": temporaries left behind. */
static int temporaries(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

/* Runs bare-yaml in the scratch directory with stdin from `in` (NULL: /dev/null). */
static run_t run_with(const char *in, const char *const *args)
{
    const char *argv[16] = {BARE_YAML_PATH};
    size_t n = 1;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char op[128], ep[128];
    snprintf(op, sizeof op, "%s/.stdout", scratch);
    snprintf(ep, sizeof ep, "%s/.stderr", scratch);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        int i = open(in ? at(in) : "/dev/null", O_RDONLY);
        int o = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
            chdir(scratch) != 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    ck_assert_msg(WIFEXITED(ws), "bare-yaml died (signal %d)", WTERMSIG(ws));
    run_t r;
    r.status = WEXITSTATUS(ws);
    ck_assert_msg(r.status != 127, "cannot run %s", BARE_YAML_PATH);
    r.out = slurp(op, &r.out_len);
    r.err = slurp(ep, NULL);
    unlink(op);
    unlink(ep);
    return r;
}

#define RUN(...) run_with(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_STDIN(in, ...) run_with(in, (const char *const[]){__VA_ARGS__, NULL})

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

static void setup(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/check_yaml_cli.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
    spit("auth.yaml", auth_yaml, strlen(auth_yaml));
    spits("bad.yaml", "RequestFrame:\n  schema: {name: x, version: 70000}\n");
    spit("junk.bin", "\x09", 1);
}

static void teardown(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(at(e->d_name));
    if (d)
        closedir(d);
    rmdir(scratch);
}

START_TEST(test_encode_decode_frames)
{
    run_t r = RUN("encode", SCHEMA, "ProtocolFrame", "auth.yaml", "auth.bin");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_uint_eq(r.out_len, 0);
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    size_t n;
    char *bin = slurp(at("auth.bin"), &n);
    ck_assert_uint_eq(n, AUTH_LEN);

    r = RUN("decode", SCHEMA, "ProtocolFrame", "auth.bin");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, auth_yaml);
    run_free(&r);

    /* standard input, "-" for it, and an output file */
    r = RUN_STDIN("auth.bin", "decode", SCHEMA, "ProtocolFrame", "-", "auth.out.yaml");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.out_len, 0);
    run_free(&r);
    char *y = slurp(at("auth.out.yaml"), NULL);
    ck_assert_str_eq(y, auth_yaml);
    free(y);

    /* a capture of two frames: the type defaults to ProtocolFrame */
    uint8_t cap[2 * (AUTH_LEN + 4)];
    for (int i = 0; i < 2; i++) {
        uint8_t *p = cap + i * (AUTH_LEN + 4);
        p[0] = p[1] = p[2] = 0;
        p[3] = AUTH_LEN;
        memcpy(p + 4, bin, AUTH_LEN);
    }
    spit("capture.bin", cap, sizeof cap);
    r = RUN("frames", SCHEMA, "capture.bin");
    ck_assert_msg(r.status == 0, "%s", r.err);
    char want[2048];
    snprintf(want, sizeof want, "---\n%s---\n%s", auth_yaml, auth_yaml);
    ck_assert_str_eq(r.out, want);
    run_free(&r);
    r = RUN_STDIN("capture.bin", "frames", SCHEMA, "ProtocolFrame");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, want);
    run_free(&r);
    r = RUN("frames", "--max-frame", "66", SCHEMA, "capture.bin");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "capture.bin: byte 0: frame 0: the frame declares 67 bytes, more "
                            "than the maximum 66\n");
    run_free(&r);
    free(bin);
}
END_TEST

/* Two frames of the auth request, and its BARE bytes, from the encode command. */
static size_t auth_capture(uint8_t *cap)
{
    run_t r = RUN("encode", SCHEMA, "ProtocolFrame", "auth.yaml", "auth.bin");
    ck_assert_msg(r.status == 0, "%s", r.err);
    run_free(&r);
    size_t n;
    char *bin = slurp(at("auth.bin"), &n);
    ck_assert_uint_eq(n, AUTH_LEN);
    for (int i = 0; i < 2; i++) {
        uint8_t *p = cap + i * (AUTH_LEN + 4);
        p[0] = p[1] = p[2] = 0;
        p[3] = AUTH_LEN;
        memcpy(p + 4, bin, AUTH_LEN);
    }
    free(bin);
    return 2 * (AUTH_LEN + 4);
}

START_TEST(test_frames_cut_short_keeps_good_frames)
{
    uint8_t cap[3 * (AUTH_LEN + 4)];
    size_t n = auth_capture(cap);
    memcpy(cap + n, cap, 14); /* a third frame cut after 10 bytes of its payload */
    spit("cut.bin", cap, n + 14);
    run_t r = RUN("frames", SCHEMA, "cut.bin");
    ck_assert_int_eq(r.status, 1);
    char want[2048];
    snprintf(want, sizeof want, "---\n%s---\n%s", auth_yaml, auth_yaml);
    ck_assert_str_eq(r.out, want);
    ck_assert_str_eq(r.err, "cut.bin: byte 142: frame 2: the frame declares 67 bytes but only 10 "
                            "follow\n");
    run_free(&r);
    /* cut inside a header, from standard input named "-", into a file */
    spit("cut.bin", cap, n + 2);
    r = RUN_STDIN("cut.bin", "frames", SCHEMA, "-", "cut.yaml");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "<stdin>: byte 142: frame 2: the stream ends inside a frame header (2 "
                            "of 4 bytes)\n");
    char *y = slurp(at("cut.yaml"), NULL);
    ck_assert_str_eq(y, want);
    free(y);
    run_free(&r);
    /* a bad second frame: the first is shown */
    cap[AUTH_LEN + 4 + 4] = 9; /* the ProtocolFrame tag */
    spit("bad2.bin", cap, n);
    r = RUN("frames", SCHEMA, "bad2.bin");
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "---\n%s", auth_yaml);
    ck_assert_str_eq(r.out, want);
    ck_assert_str_eq(r.err, "bad2.bin: byte 75: frame 1: unknown union tag\n");
    run_free(&r);
}
END_TEST

/* Reads from fd until want has arrived in full, for at most 10 s; what came. */
static char *read_until(int fd, const char *want)
{
    static char got[4096];
    size_t n = 0;
    got[0] = '\0';
    while (strcmp(got, want) != 0 && n < sizeof got - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        int k = poll(&p, 1, 10000);
        ck_assert_int_ge(k, 0);
        if (k == 0)
            break;
        ssize_t m = read(fd, got + n, sizeof got - 1 - n);
        if (m <= 0)
            break;
        n += (size_t)m;
        got[n] = '\0';
    }
    return got;
}

START_TEST(test_frames_stream_from_a_pipe)
{
    uint8_t cap[2 * (AUTH_LEN + 4)];
    size_t n = auth_capture(cap);
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        close(in[1]);
        close(out[0]);
        execl(BARE_YAML_PATH, BARE_YAML_PATH, "frames", SCHEMA, "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char want[2048];
    snprintf(want, sizeof want, "---\n%s", auth_yaml);
    /* the first frame in two pieces, the cut inside its header: shown before the second */
    ck_assert_int_eq(write(in[1], cap, 2), 2);
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    ck_assert_int_eq(write(in[1], cap + 2, n / 2 - 2), (ssize_t)(n / 2 - 2));
    ck_assert_str_eq(read_until(out[0], want), want);
    ck_assert_int_eq(write(in[1], cap + n / 2, n / 2), (ssize_t)(n / 2));
    ck_assert_str_eq(read_until(out[0], want), want);
    close(in[1]);
    ck_assert_str_eq(read_until(out[0], "(until the end)"), ""); /* and nothing more */
    close(out[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    ck_assert(WIFEXITED(ws));
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
}
END_TEST

START_TEST(test_errors_write_nothing)
{
    /* an existing output is left as it was */
    spit("keep.bin", "old", 3);
    run_t r = RUN("encode", SCHEMA, "ProtocolFrame", "bad.yaml", "keep.bin");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "bad.yaml:2:30: RequestFrame.schema.version: 70000 is out of range "
                            "for u16\n");
    run_free(&r);
    char *k = slurp(at("keep.bin"), NULL);
    ck_assert_str_eq(k, "old");
    free(k);

    r = RUN("encode", SCHEMA, "ProtocolFrame", "bad.yaml", "new.bin");
    ck_assert_int_eq(r.status, 1);
    ck_assert(!exists("new.bin"));
    run_free(&r);
    r = RUN_STDIN("bad.yaml", "encode", SCHEMA, "ProtocolFrame");
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(r.out_len, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "<stdin>:2:30: "));
    run_free(&r);

    r = RUN("decode", SCHEMA, "ProtocolFrame", "junk.bin", "junk.yaml");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "junk.bin: byte 0: unknown union tag\n");
    ck_assert(!exists("junk.yaml"));
    run_free(&r);

    /* frames writes as it goes: the output holds the good frames, here none */
    spit("short.bin", "\x00\x00\x00\x05\x00", 5);
    r = RUN("frames", SCHEMA, "short.bin", "short.yaml");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "short.bin: byte 0: frame 0: the frame declares 5 bytes but only 1 "
                            "follow\n");
    k = slurp(at("short.yaml"), NULL);
    ck_assert_str_eq(k, "");
    free(k);
    run_free(&r);
    ck_assert_int_eq(temporaries(), 0);
}
END_TEST

START_TEST(test_usage_and_io_errors)
{
    run_t r = RUN("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: bare-yaml"));
    run_free(&r);
    r = RUN("encode");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no schema given"));
    run_free(&r);
    r = RUN("transcode", SCHEMA, "ProtocolFrame");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'transcode'"));
    run_free(&r);
    r = RUN("decode", SCHEMA);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no type given"));
    run_free(&r);
    r = RUN("decode", SCHEMA, "NoSuchType", "junk.bin");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "declares no type 'NoSuchType'"));
    run_free(&r);
    r = RUN("decode", SCHEMA, "ProtocolFrame", "missing.bin");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot read 'missing.bin'"));
    run_free(&r);
    r = RUN("encode", SCHEMA, "ProtocolFrame", "auth.yaml", "no/such/dir/out.bin");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot write 'no/such/dir/out.bin'"));
    run_free(&r);
    r = RUN("decode", SCHEMA, "ProtocolFrame", "a", "b", "c");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = RUN("--max-depth", "0", "decode", SCHEMA, "ProtocolFrame");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    /* an invalid schema: schemac's diagnostics, and a usage error */
    spits("bad.bare", "type A struct { b: Nope }\n");
    r = RUN("decode", "bad.bare", "A", "junk.bin");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "bad.bare:1:20: error: unknown type 'Nope'"));
    run_free(&r);
}
END_TEST

START_TEST(test_legacy_recursive_schema)
{
    const char *schema = SOURCE_DIR "/tests/schemas/recursive.bare";
    spits("tree.yaml", "name: a\nchildren:\n- name: b\n  children: []\n");
    run_t r = RUN("encode", schema, "Tree", "tree.yaml", "tree.bin");
    ck_assert_int_eq(r.status, 2); /* without --legacy the schema is refused */
    run_free(&r);
    r = RUN("--legacy", "encode", schema, "Tree", "tree.yaml", "tree.bin");
    ck_assert_msg(r.status == 0, "%s", r.err);
    run_free(&r);
    r = RUN("decode", "--legacy", "--max-depth", "2", schema, "Tree", "tree.bin");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "tree.bin: byte 3: children[0]: nesting depth limit exceeded\n");
    run_free(&r);
    r = RUN("decode", "--legacy", schema, "Tree", "tree.bin");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "name: a\nchildren:\n- name: b\n  children: []\n");
    run_free(&r);
}
END_TEST

/* --dialect vbare reaches the schema's parser, as schemac's does. */
START_TEST(test_dialect_vbare)
{
    spits("v.bare", "// vbare\ntype M map<string, u8>\n");
    spits("m.yaml", "a: 1\n");
    run_t r = RUN("encode", "v.bare", "M", "m.yaml", "m.bin");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = RUN("--dialect", "vbare", "encode", "v.bare", "M", "m.yaml", "m.bin");
    ck_assert_msg(r.status == 0, "%s", r.err);
    run_free(&r);
    r = RUN("--dialect", "vbare", "decode", "v.bare", "M", "m.bin");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a: 1\n");
    run_free(&r);
    r = RUN("--dialect", "go-bare", "decode", "v.bare", "M", "m.bin");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("bare-yaml");
    TCase *tc = tcase_create("command");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30); /* the pipe test waits up to 10 s for a frame */
    tcase_add_test(tc, test_encode_decode_frames);
    tcase_add_test(tc, test_errors_write_nothing);
    tcase_add_test(tc, test_frames_cut_short_keeps_good_frames);
    tcase_add_test(tc, test_frames_stream_from_a_pipe);
    tcase_add_test(tc, test_usage_and_io_errors);
    tcase_add_test(tc, test_legacy_recursive_schema);
    tcase_add_test(tc, test_dialect_vbare);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
