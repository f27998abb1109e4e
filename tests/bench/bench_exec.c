/*
 * bench_exec.c - guest execution through the real sidecar, beside the same programs started
 * by plain fork/exec without any isolation, in the same run:
 *
 *   cold start  ExecuteRequest sent -> first output byte received, for a shell echo, Node.js
 *               and Python (p50, p95 over N runs in a warm VM; and the first run of a fresh VM,
 *               which also starts its supervisor)
 *   throughput  256 MiB from a guest's stdout, in MB/s, beside the same bytes through a pipe
 *   memory      private memory (USS) of an idle VM (its supervisor, and what the sidecar grows by)
 *               and of an idle Node.js guest, beside an idle node started plainly
 *
 * Must run as root (the sidecar maps each VM's user namespace). Usage:
 *   bench_exec [SIDECAR] [RUNS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "guest.h"
#include "stats.h"

#define T BENCH_T

static se_client_t *c;

static void die(const char *what)
{
    fprintf(stderr, "bench_exec: %s\n", what);
    exit(1);
}

/* ---- through the sidecar ---- */

static void vm_new(char *vm)
{
    static const char cfg[] =
        "{\"permissions\": {\"fs\": \"allow\", \"network\": \"allow\", \"childProcess\": "
        "\"allow\", \"process\": \"allow\", \"env\": \"allow\"}}";
    bench_vm_new(c, cfg, vm);
}

static void start(const char *vm, const char *id, const char *const *argv)
{
    bench_start(c, vm, id, argv);
}

/* Events until id exits; the time of its first output, and its output bytes. */
static void wait_exit(const char *id, double *first, size_t *bytes)
{
    bench_wait_exit(c, id, first, bytes, NULL, 0);
}

/* ExecuteRequest -> first output byte, in ms. */
static double sidecar_first_byte(const char *vm, const char *const *argv)
{
    double t0 = bench_now_ms(), first = 0;
    start(vm, "bench", argv);
    wait_exit("bench", &first, NULL);
    return first - t0;
}

/* ---- the peer: plain fork/exec, no isolation ---- */

/* The guest's PATH and a like environment: the peer runs the same binaries the guest does. */
static const char *const peer_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/tmp",
    "USER=user",
    "LOGNAME=user",
    "SHELL=/bin/sh",
    "TMPDIR=/tmp",
    NULL};

static pid_t spawn_pipe(const char *const *argv, int *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        die("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    char path[256];
    snprintf(path, sizeof path, "/usr/bin/%s", argv[0]);
    if (posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, (char *const *)peer_env) != 0)
        die("posix_spawn");
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    *out = p[0];
    return pid;
}

static double plain_first_byte(const char *const *argv)
{
    double t0 = bench_now_ms();
    int fd;
    pid_t pid = spawn_pipe(argv, &fd);
    char buf[65536];
    double first = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0 && first == 0)
            first = bench_now_ms();
        if (n <= 0)
            break;
    }
    close(fd);
    waitpid(pid, NULL, 0);
    return first - t0;
}

/* ---- resident memory ---- */

/*
 * A field of /proc/PID/smaps_rollup in KiB: "Rss", or the private memory (USS: what the
 * process alone costs; the supervisor's copy-on-write image of the sidecar and the libraries
 * shared with other processes do not count).
 */
static long mem_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    long total = 0, v;
    bool uss = strcmp(field, "USS") == 0;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        if (sscanf(line, "%63[^:]: %ld kB", name, &v) != 2)
            continue;
        if (uss ? strcmp(name, "Private_Clean") == 0 || strcmp(name, "Private_Dirty") == 0
                : strcmp(name, field) == 0)
            total += v;
    }
    fclose(f);
    return total;
}

/* The children of pid (host pids). */
static size_t children_of(pid_t pid, pid_t *out, size_t cap)
{
    char path[96], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f) {
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = '\0';
        fclose(f);
        for (char *p = buf, *end; n < cap; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            out[n++] = (pid_t)v;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *sidecar = argc > 1 ? argv[1] : "build/secure-exec-sidecar";
    int runs = argc > 2 ? atoi(argv[2]) : 100;
    if (geteuid() != 0) {
        printf("bench_exec: skipped (guest processes need root)\n");
        return 0;
    }
    char err[256];
    int null = open("/dev/null", O_WRONLY);
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    se_client_options_t opt = {sidecar, NULL, env, null, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    if (!c || se_client_authenticate(c, "bench", "t", T) != SE_OK ||
        se_client_open_session(c, T) != SE_OK)
        die("cannot start the sidecar");
    pid_t sidecar_pid = se_client_pid(c);

    static const char *const echo_argv[] = {"sh", "-c", "echo hi", NULL};
    static const char *const node_argv[] = {"node", "-e", "console.log('hi')", NULL};
    static const char *const py_argv[] = {"python3", "-c", "print('hi')", NULL};
    static const struct {
        const char *name;
        const char *const *argv;
    } progs[] = {{"shell echo", echo_argv}, {"Node.js", node_argv}, {"Python", py_argv}};

    printf("secure-exec guest execution, %d runs each (ms: ExecuteRequest -> first output "
           "byte; plain: fork/exec -> first byte)\n\n",
           runs);
    printf("%-11s %9s %9s %9s %9s %11s %10s\n", "program", "p50", "p95", "plain p50", "plain p95",
           "ratio p50", "fresh VM");
    double *a = calloc((size_t)runs, sizeof *a), *b = calloc((size_t)runs, sizeof *b);
    for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++) {
        char vm[64];
        vm_new(vm);
        double fresh = sidecar_first_byte(vm, progs[k].argv); /* starts the supervisor too */
        for (int i = 0; i < runs; i++) {
            a[i] = sidecar_first_byte(vm, progs[k].argv);
            b[i] = plain_first_byte(progs[k].argv);
        }
        double a50 = bench_quantile(a, (size_t)runs, 0.5),
               a95 = bench_quantile(a, (size_t)runs, 0.95);
        double b50 = bench_quantile(b, (size_t)runs, 0.5),
               b95 = bench_quantile(b, (size_t)runs, 0.95);
        printf("%-11s %9.2f %9.2f %9.2f %9.2f %10.2fx %10.2f\n", progs[k].name, a50, a95, b50, b95,
               a50 / b50, fresh);
        se_client_dispose_vm(c, vm, T);
    }

    /* throughput: 256 MiB of stdout */
    static const char *const big_argv[] = {"head", "-c", "268435456", "/dev/zero", NULL};
    const double mib = 268435456.0 / 1048576.0;
    double tp[5], tq[5];
    char vm[64];
    vm_new(vm);
    for (int i = 0; i < 5; i++) {
        size_t bytes = 0;
        double t0 = bench_now_ms();
        start(vm, "big", big_argv);
        wait_exit("big", NULL, &bytes);
        if (bytes != 268435456u)
            die("throughput: bytes lost");
        tp[i] = mib / ((bench_now_ms() - t0) / 1e3);
        int fd;
        t0 = bench_now_ms();
        pid_t pid = spawn_pipe(big_argv, &fd);
        static char buf[1 << 16];
        size_t got = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            got += (size_t)n;
        close(fd);
        waitpid(pid, NULL, 0);
        if (got != 268435456u)
            die("throughput: plain pipe bytes lost");
        tq[i] = mib / ((bench_now_ms() - t0) / 1e3);
    }
    double t50 = bench_quantile(tp, 5, 0.5), q50 = bench_quantile(tq, 5, 0.5);
    printf("\noutput throughput (256 MiB, median of 5): %.0f MiB/s through the sidecar, %.0f MiB/s "
           "through a plain pipe (%.2fx)\n",
           t50, q50, t50 / q50);
    se_client_dispose_vm(c, vm, T);

    /* memory: idle VMs and an idle Node.js guest */
    long side0 = mem_kib(sidecar_pid, "Rss");
    enum { NVMS = 10 };
    char vms[NVMS][64];
    static const char *const true_argv[] = {"true", NULL};
    for (int i = 0; i < NVMS; i++) {
        vm_new(vms[i]);
        start(vms[i], "t", true_argv); /* its supervisor is up from here on */
        wait_exit("t", NULL, NULL);
    }
    pid_t kids[64];
    size_t nk = children_of(sidecar_pid, kids, 64);
    long sup = 0;
    for (size_t i = 0; i < nk; i++)
        sup += mem_kib(kids[i], "USS");
    long side1 = mem_kib(sidecar_pid, "Rss");
    printf("\nmemory: an idle VM costs %.0f KiB: its supervisor %.0f KiB (USS) + the sidecar "
           "%.1f KiB (RSS growth over %d VMs)\n",
           (double)sup / (double)(nk ? nk : 1) + (double)(side1 - side0) / NVMS,
           (double)sup / (double)(nk ? nk : 1), (double)(side1 - side0) / NVMS, (int)NVMS);
    /* an idle node in a VM and a plain one, measured while both run */
    static const char *const idle_argv[] = {"node", "-e",
                                            "console.log('up'); setInterval(() => "
                                            "{}, 1000)",
                                            NULL};
    start(vms[0], "idle", idle_argv);
    for (;;) {
        sx_event_frame_t ev;
        if (se_client_next_event(c, T, &ev) != SE_OK)
            die("no event");
        if (ev.payload.tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT)
            break;
    }
    int fd;
    pid_t plain = spawn_pipe(idle_argv, &fd);
    char line[16];
    if (read(fd, line, sizeof line) <= 0)
        die("plain node did not start");
    struct timespec settle = {0, 500 * 1000 * 1000};
    nanosleep(&settle, NULL);
    pid_t guest_pid = 0;
    nk = children_of(sidecar_pid, kids, 64);
    for (size_t i = 0; i < nk && !guest_pid; i++) {
        pid_t g[16];
        if (children_of(kids[i], g, 16) > 0)
            guest_pid = g[0];
    }
    if (!guest_pid)
        die("the node guest is not there");
    printf("memory: an idle Node.js guest %ld KiB USS (%ld KiB RSS), plain node %ld KiB USS "
           "(%ld KiB RSS): %.2fx\n",
           mem_kib(guest_pid, "USS"), mem_kib(guest_pid, "Rss"), mem_kib(plain, "USS"),
           mem_kib(plain, "Rss"),
           (double)mem_kib(guest_pid, "USS") / (double)mem_kib(plain, "USS"));
    kill(plain, SIGKILL);
    waitpid(plain, NULL, 0);
    close(fd);
    for (int i = 0; i < NVMS; i++)
        se_client_dispose_vm(c, vms[i], T);
    se_client_close(c, T);
    free(a);
    free(b);
    return 0;
}
