/*
 * bench_sidecar.c - the sidecar's own costs, through the real binary and the client library:
 *
 *   lifecycle   Authenticate + OpenSession + CreateVm + DisposeVm cycles on one process
 *   stream      GetZombieTimerCount requests one at a time and pipelined (a window of requests
 *               in flight), in requests/s, with the CPU each side spends per request
 *   memory      the sidecar's VmRSS and Pss idle and with 1,000 VMs, and the time to create
 *               (and dispose) each of them
 *   files       GuestFilesystemCall round trips: READ_FILE and WRITE_FILE of 1 KiB, STAT
 *   snapshots   ImportSnapshot, ExportSnapshot, BootstrapRootFilesystem and
 *               SnapshotRootFilesystem of 10,000 entries, and a VM restored from them
 *
 * Rates are medians of REPS repetitions (the machine is noisy); latencies are percentiles of
 * every sample. Must run as root, as the sidecar does in production. Usage:
 *   bench_sidecar [SIDECAR] [REPS]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "stats.h"

#define T 120000 /* ms: no single request of these may take longer */
#define MAX_REPS 20

static const char ALLOW_FS[] = "{\"permissions\": {\"fs\": \"allow\"}}";

static const char *sidecar_path = "build/secure-exec-sidecar";
static int reps = 5;
static char log_path[64] = "";
static int log_fd = -1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("bench_sidecar: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (log_path[0])
        fprintf(stderr, "bench_sidecar: the sidecars' logs are in %s\n", log_path);
    exit(1);
}

static void settle(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- statistics ---- */

typedef struct samples {
    double *v;
    size_t n, cap;
} samples_t;

static void add(samples_t *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            die("out of memory");
    }
    s->v[s->n++] = x;
}

static double pct_range(const samples_t *s, size_t from, size_t to, double p)
{
    return bench_quantile(s->v + from, to - from, p);
}

static double pct(const samples_t *s, double p)
{
    return pct_range(s, 0, s->n, p);
}

static void clear(samples_t *s)
{
    s->n = 0;
}

static double median(const double *v, int n)
{
    return bench_quantile(v, (size_t)n, 0.5);
}

/* ---- the sidecar process, as /proc sees it ---- */

typedef struct mem {
    long rss_kib, pss_kib;
    int fds, mounts;
} mem_t;

static long proc_field_kib(const char *path, const char *field)
{
    char line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kib;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static mem_t mem_of(pid_t pid)
{
    char path[64];
    mem_t m;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    m.rss_kib = proc_field_kib(path, "VmRSS");
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    m.pss_kib = proc_field_kib(path, "Pss");
    snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
    m.mounts = count_lines(path);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    m.fds = -1;
    DIR *d = opendir(path);
    if (d) {
        m.fds = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            m.fds += e->d_name[0] != '.';
        closedir(d);
    }
    return m;
}

/* CPU time (user + system) pid has used, in ms. */
static double cpu_ms_of(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* System-wide kernel slab plus shared memory (tmpfs), in KiB: what mounts and VM trees cost
 * outside the sidecar's own pages. Other processes move it too. */
static long kernel_kib(void)
{
    return proc_field_kib("/proc/meminfo", "Slab") + proc_field_kib("/proc/meminfo", "Shmem");
}

/* ---- talking to the sidecar ---- */

typedef struct frame_sizes {
    size_t sent, received; /* the last frame each way, length prefix included */
} frame_sizes_t;

static void on_frame(void *ud, se_frame_dir_t dir, const uint8_t *frame, size_t len)
{
    frame_sizes_t *fs = ud;
    (void)frame;
    if (dir == SE_FRAME_SENT)
        fs->sent = len;
    else
        fs->received = len;
}

/* A sidecar, authenticated, with a session open; config (a YAML file) may be NULL. */
static se_client_t *start(const char *config, uint32_t max_frame_bytes)
{
    static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
    const char *args[3] = {NULL, NULL, NULL};
    char err[256];
    if (config) {
        args[0] = "--config";
        args[1] = config;
    }
    se_client_options_t opt = {sidecar_path, args, env, log_fd, max_frame_bytes};
    se_client_t *c = se_client_spawn(&opt, err, sizeof err);
    if (!c)
        die("cannot start %s: %s", sidecar_path, err);
    int st = se_client_authenticate(c, "bench", "t", T);
    if (st == SE_OK)
        st = se_client_open_session(c, T);
    if (st != SE_OK)
        die("handshake: %s %s %s", se_strerror(st), se_client_rejection_code(c),
            se_client_rejection_message(c));
    return c;
}

static void stop(se_client_t *c)
{
    se_client_close(c, T);
}

static void expect_state(se_client_t *c, sx_vm_lifecycle_state_t want)
{
    sx_event_frame_t ev;
    int st = se_client_next_event(c, T, &ev);
    if (st != SE_OK)
        die("waiting for VmLifecycleEvent %s: %s", sx_vm_lifecycle_state_names[want],
            se_strerror(st));
    if (ev.payload.tag != SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT ||
        ev.payload.u.vm_lifecycle_event.state != want)
        die("expected VmLifecycleEvent %s, got a %s", sx_vm_lifecycle_state_names[want],
            sx_event_payload_tag_name(ev.payload.tag));
}

/* CreateVm, then its CREATING and READY events. */
static void vm_create(se_client_t *c, const char *config, char *vm)
{
    int st = se_client_create_vm(c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, config, T, vm, 64);
    if (st != SE_OK)
        die("CreateVm: %s: %s %s", se_strerror(st), se_client_rejection_code(c),
            se_client_rejection_message(c));
    expect_state(c, SX_VM_LIFECYCLE_STATE_CREATING);
    expect_state(c, SX_VM_LIFECYCLE_STATE_READY);
}

/* DisposeVm, then its DISPOSING and DISPOSED events. */
static void vm_dispose(se_client_t *c, const char *vm)
{
    int st = se_client_dispose_vm(c, vm, T);
    if (st != SE_OK)
        die("DisposeVm %s: %s: %s %s", vm, se_strerror(st), se_client_rejection_code(c),
            se_client_rejection_message(c));
    expect_state(c, SX_VM_LIFECYCLE_STATE_DISPOSING);
    expect_state(c, SX_VM_LIFECYCLE_STATE_DISPOSED);
}

/* A request on vm whose response must be of kind want; the response in *r. */
static void vm_call(se_client_t *c, const char *vm, const sx_request_payload_t *p,
                    sx_response_payload_tag_t want, sx_response_frame_t *r)
{
    sx_ownership_scope_t own;
    se_client_vm_scope(c, vm, &own);
    int st = se_client_call(c, &own, p, T, r);
    if (st != SE_OK)
        die("%s: %s", sx_request_payload_tag_name(p->tag), se_strerror(st));
    if (r->payload.tag == want)
        return;
    if (r->payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE)
        die("%s rejected: %.*s: %.*s", sx_request_payload_tag_name(p->tag),
            (int)r->payload.u.rejected_response.code.len, r->payload.u.rejected_response.code.ptr,
            (int)r->payload.u.rejected_response.message.len,
            r->payload.u.rejected_response.message.ptr);
    die("%s answered by a %s", sx_request_payload_tag_name(p->tag),
        sx_response_payload_tag_name(r->payload.tag));
}

/* ---- 1. lifecycle cycles ---- */

static void bench_lifecycle(void)
{
    enum { WARMUP = 10, CYCLES = 200, MAX_CONNECTIONS = 1024 };
    /* Every Authenticate makes a connection that lives as long as the process (the stdio
     * transport has no request that ends one), and a process holds at most 1024. */
    int nreps = reps;
    if (WARMUP + nreps * CYCLES > MAX_CONNECTIONS)
        nreps = (MAX_CONNECTIONS - WARMUP) / CYCLES;

    se_client_t *c = start(NULL, 0);
    pid_t pid = se_client_pid(c);
    samples_t total = {0}, auth = {0}, open = {0}, create = {0}, dispose = {0};
    double rate[MAX_REPS];
    char vm[64];
    mem_t m0 = {0};
    for (int r = -1; r < nreps; r++) {
        int n = r < 0 ? WARMUP : CYCLES;
        if (r == 0)
            m0 = mem_of(pid);
        double t0 = bench_now_ms();
        for (int i = 0; i < n; i++) {
            double a = bench_now_ms();
            int st = se_client_authenticate(c, "bench", "t", T);
            double b = bench_now_ms();
            if (st == SE_OK)
                st = se_client_open_session(c, T);
            if (st != SE_OK)
                die("cycle %d: %s %s %s", i, se_strerror(st), se_client_rejection_code(c),
                    se_client_rejection_message(c));
            double d = bench_now_ms();
            vm_create(c, ALLOW_FS, vm);
            double e = bench_now_ms();
            vm_dispose(c, vm);
            double f = bench_now_ms();
            if (r >= 0) {
                add(&auth, b - a);
                add(&open, d - b);
                add(&create, e - d);
                add(&dispose, f - e);
                add(&total, f - a);
            }
        }
        if (r >= 0)
            rate[r] = (double)n / ((bench_now_ms() - t0) / 1e3);
    }
    mem_t m1 = mem_of(pid);
    stop(c);

    printf("1. Authenticate + OpenSession + CreateVm + DisposeVm, %d x %d cycles on one "
           "process\n",
           nreps, CYCLES);
    printf("   cycles/s: median %.1f (runs:", median(rate, nreps));
    for (int r = 0; r < nreps; r++)
        printf(" %.1f", rate[r]);
    printf(")\n");
    printf("   %-34s %9s %9s\n", "latency (ms)", "p50", "p95");
    static const char *const names[] = {"cycle", "  Authenticate", "  OpenSession",
                                        "  CreateVm (+ CREATING, READY)",
                                        "  DisposeVm (+ DISPOSING, DISPOSED)"};
    const samples_t *all[] = {&total, &auth, &open, &create, &dispose};
    for (size_t i = 0; i < 5; i++)
        printf("   %-34s %9.3f %9.3f\n", names[i], pct(all[i], 0.5), pct(all[i], 0.95));
    printf("   sidecar after %d cycles: VmRSS %+ld KiB, Pss %+ld KiB (%.2f KiB per cycle), fds "
           "%+d, mounts %+d\n\n",
           nreps * CYCLES, m1.rss_kib - m0.rss_kib, m1.pss_kib - m0.pss_kib,
           (double)(m1.rss_kib - m0.rss_kib) / (nreps * CYCLES), m1.fds - m0.fds,
           m1.mounts - m0.mounts);
    free(total.v);
    free(auth.v);
    free(open.v);
    free(create.v);
    free(dispose.v);
}

/* ---- 2. a stream of small requests ---- */

typedef struct stream_result {
    double rate;           /* requests/s */
    double sidecar_cpu_us; /* per request */
    double client_cpu_us;
} stream_result_t;

/*
 * n GetZombieTimerCount requests on vm with at most window of them unanswered: requests go out
 * while the window has room, then the oldest answer is awaited. A bounded window matters: the
 * sidecar stops reading a host that stops reading it.
 */
static stream_result_t stream(se_client_t *c, const char *vm, int n, int window, int64_t *next_id)
{
    sx_protocol_frame_t f;
    sx_response_frame_t r;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = BARE_STR_LIT("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    se_client_vm_scope(c, vm, &f.u.request_frame.ownership);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_GET_ZOMBIE_TIMER_COUNT_REQUEST;

    int64_t base = *next_id;
    int sent = 0, done = 0;
    pid_t pid = se_client_pid(c);
    double cpu0 = cpu_ms_of(pid), self0 = self_cpu_ms(), t0 = bench_now_ms();
    while (done < n) {
        while (sent < n && sent - done < window) {
            f.u.request_frame.request_id = base + sent;
            int st = se_client_send_frame(c, &f);
            if (st != SE_OK)
                die("sending request %d: %s", sent, se_strerror(st));
            sent++;
        }
        int st = se_client_wait_response(c, base + done, T, &r);
        if (st != SE_OK)
            die("response %d: %s", done, se_strerror(st));
        if (r.payload.tag != SX_RESPONSE_PAYLOAD_TAG_ZOMBIE_TIMER_COUNT_RESPONSE ||
            r.payload.u.zombie_timer_count_response.count != 0)
            die("response %d: a %s", done, sx_response_payload_tag_name(r.payload.tag));
        done++;
    }
    double secs = (bench_now_ms() - t0) / 1e3;
    stream_result_t res;
    res.rate = (double)n / secs;
    res.sidecar_cpu_us = (cpu_ms_of(pid) - cpu0) * 1e3 / n;
    res.client_cpu_us = (self_cpu_ms() - self0) * 1e3 / n;
    *next_id += n;
    return res;
}

/*
 * The floor of any one-at-a-time round trip on this machine: one byte each way over two pipes
 * between two processes, which is what a request and its response cost the kernel at least.
 * On a VM whose cross-CPU wakeups are slow this, not the sidecar, sets the rate.
 */
static double pipe_floor_rate = 0;

static double pipe_round_trips(int n)
{
    int a[2], b[2];
    char ch = 'x';
    if (pipe(a) != 0 || pipe(b) != 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (read(a[0], &ch, 1) != 1 || write(b[1], &ch, 1) != 1)
                _exit(1);
        _exit(0);
    }
    double t0 = bench_now_ms();
    for (int i = 0; i < n; i++)
        if (write(a[1], &ch, 1) != 1 || read(b[0], &ch, 1) != 1)
            die("pipe round trip %d failed", i);
    double secs = (bench_now_ms() - t0) / 1e3;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the pipe echo process failed");
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    return (double)n / secs;
}

static void bench_stream(void)
{
    static const struct {
        int window, n;
    } modes[] = {{1, 20000}, {32, 100000}, {256, 100000}, {1024, 100000}};
    se_client_t *c = start(NULL, 0);
    char vm[64];
    vm_create(c, ALLOW_FS, vm);
    int64_t next_id = (int64_t)1 << 32; /* clear of the ids se_client_call hands out */
    stream(c, vm, 2000, 256, &next_id); /* warm-up */

    printf("2. GetZombieTimerCountRequest -> ZombieTimerCountResponse on one VM\n");
    printf("   %-24s %9s %12s %9s %9s %12s %12s\n", "mode", "requests", "median r/s", "min", "max",
           "sidecar CPU", "client CPU");
    double base_rate = 0;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        double rate[MAX_REPS], scpu[MAX_REPS], ccpu[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            stream_result_t res = stream(c, vm, modes[m].n, modes[m].window, &next_id);
            rate[r] = res.rate;
            scpu[r] = res.sidecar_cpu_us;
            ccpu[r] = res.client_cpu_us;
        }
        double med = median(rate, reps), lo = rate[0], hi = rate[0];
        for (int r = 1; r < reps; r++) {
            lo = rate[r] < lo ? rate[r] : lo;
            hi = rate[r] > hi ? rate[r] : hi;
        }
        char mode[32];
        if (modes[m].window == 1) {
            snprintf(mode, sizeof mode, "one at a time");
            base_rate = med;
        } else {
            snprintf(mode, sizeof mode, "pipelined, window %d", modes[m].window);
        }
        printf("   %-24s %9d %12.0f %9.0f %9.0f %9.2f us %9.2f us", mode, modes[m].n, med, lo, hi,
               median(scpu, reps), median(ccpu, reps));
        if (modes[m].window > 1 && base_rate > 0)
            printf("  (%.1fx)", med / base_rate);
        printf("\n");
    }
    double floor_rate[MAX_REPS];
    for (int r = 0; r < reps; r++)
        floor_rate[r] = pipe_round_trips(modes[0].n);
    pipe_floor_rate = median(floor_rate, reps);
    printf("   %-24s %9d %12.0f   (one at a time: %.2fx of it)\n", "plain pipe round trips",
           modes[0].n, pipe_floor_rate, base_rate / pipe_floor_rate);
    printf("   (CPU: per request, median over runs; each side's user + system time; 2 cores)\n\n");
    vm_dispose(c, vm);
    stop(c);
}

/* ---- 3. memory and VM creation ---- */

static void bench_memory(void)
{
    enum { NVMS = 1000, ROUNDS = 2 };
    se_client_t *c = start(NULL, 0);
    pid_t pid = se_client_pid(c);
    settle(200);
    mem_t idle = mem_of(pid);
    long k_idle = kernel_kib();
    char(*vms)[64] = calloc(NVMS, sizeof *vms);
    samples_t create = {0}, dispose = {0};
    mem_t full[ROUNDS], after[ROUNDS];
    long k_full[ROUNDS];
    double create_med[ROUNDS], first_med[ROUNDS], last_med[ROUNDS], dispose_med[ROUNDS],
        create_p95[ROUNDS];
    if (!vms)
        die("out of memory");
    for (int round = 0; round < ROUNDS; round++) {
        clear(&create);
        clear(&dispose);
        for (int i = 0; i < NVMS; i++) {
            double t0 = bench_now_ms();
            vm_create(c, ALLOW_FS, vms[i]);
            add(&create, bench_now_ms() - t0);
        }
        settle(200);
        full[round] = mem_of(pid);
        k_full[round] = kernel_kib();
        for (int i = 0; i < NVMS; i++) {
            double t0 = bench_now_ms();
            vm_dispose(c, vms[i]);
            add(&dispose, bench_now_ms() - t0);
        }
        settle(200);
        after[round] = mem_of(pid);
        create_med[round] = pct(&create, 0.5);
        create_p95[round] = pct(&create, 0.95);
        first_med[round] = pct_range(&create, 0, 100, 0.5);
        last_med[round] = pct_range(&create, NVMS - 100, NVMS, 0.5);
        dispose_med[round] = pct(&dispose, 0.5);
    }
    stop(c);
    free(vms);
    free(create.v);
    free(dispose.v);

    printf("3. Sidecar memory, and CreateVm {\"permissions\": {\"fs\": \"allow\"}} (overlay on "
           "the bundled base)\n");
    printf("   %-32s %10s %10s %6s %7s\n", "", "VmRSS KiB", "Pss KiB", "fds", "mounts");
    printf("   %-32s %10ld %10ld %6d %7d\n", "idle, after the handshake", idle.rss_kib,
           idle.pss_kib, idle.fds, idle.mounts);
    for (int round = 0; round < ROUNDS; round++) {
        char what[64];
        snprintf(what, sizeof what, "round %d: %d VMs", round + 1, NVMS);
        printf("   %-32s %10ld %10ld %6d %7d\n", what, full[round].rss_kib, full[round].pss_kib,
               full[round].fds, full[round].mounts);
        snprintf(what, sizeof what, "round %d: all disposed", round + 1);
        printf("   %-32s %10ld %10ld %6d %7d\n", what, after[round].rss_kib, after[round].pss_kib,
               after[round].fds, after[round].mounts);
    }
    printf("   per VM (round 1): VmRSS %.1f KiB, Pss %.1f KiB in the sidecar; kernel slab + "
           "shmem %.1f KiB (system-wide, noisy)\n",
           (double)(full[0].rss_kib - idle.rss_kib) / NVMS,
           (double)(full[0].pss_kib - idle.pss_kib) / NVMS, (double)(k_full[0] - k_idle) / NVMS);
    printf("   %-10s %12s %12s %15s %15s %14s\n", "ms per VM", "create p50", "create p95",
           "first 100 p50", "last 100 p50", "dispose p50");
    for (int round = 0; round < ROUNDS; round++) {
        char what[16];
        snprintf(what, sizeof what, "round %d", round + 1);
        printf("   %-10s %12.3f %12.3f %15.3f %15.3f %14.3f\n", what, create_med[round],
               create_p95[round], first_med[round], last_med[round], dispose_med[round]);
    }
    printf("   (create: CreateVm -> READY event; dispose: DisposeVm -> DISPOSED event; "
           "%d rounds)\n\n",
           ROUNDS);
}

/* ---- 4. GuestFilesystemCall round trips ---- */

static void fs_payload(sx_request_payload_t *p, sx_guest_filesystem_operation_t op,
                       const char *path, const char *content)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    p->u.guest_filesystem_call_request.operation = op;
    p->u.guest_filesystem_call_request.path = bare_str_from_cstr(path);
    if (content) {
        p->u.guest_filesystem_call_request.content.present = true;
        p->u.guest_filesystem_call_request.content.value = bare_str_from_cstr(content);
    }
}

static void bench_files(void)
{
    enum { N = 5000 };
    static const char path[] = "/home/user/bench.txt";
    static char kib[1025];
    for (size_t i = 0; i < 1024; i++)
        kib[i] = (char)('a' + i % 26);
    kib[1023] = '\n';
    static const struct {
        const char *name;
        sx_guest_filesystem_operation_t op;
        bool content;
    } ops[] = {{"READ_FILE 1 KiB", SX_GUEST_FILESYSTEM_OPERATION_READ_FILE, false},
               {"WRITE_FILE 1 KiB", SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, true},
               {"STAT", SX_GUEST_FILESYSTEM_OPERATION_STAT, false}};

    se_client_t *c = start(NULL, 0);
    char vm[64];
    sx_request_payload_t p;
    sx_response_frame_t r;
    vm_create(c, ALLOW_FS, vm);
    fs_payload(&p, SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE, path, kib);
    vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE, &r);

    printf("4. GuestFilesystemCall round trips, one in flight, %d x %d calls each, on %s\n", reps,
           N, path);
    printf("   %-18s %12s %9s %9s %10s %10s\n", "operation", "median op/s", "min", "max", "p50 us",
           "p95 us");
    samples_t lat = {0};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        double rate[MAX_REPS];
        clear(&lat);
        fs_payload(&p, ops[k].op, path, ops[k].content ? kib : NULL);
        for (int i = 0; i < 200; i++) /* warm-up */
            vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE, &r);
        for (int rep = 0; rep < reps; rep++) {
            double t0 = bench_now_ms();
            for (int i = 0; i < N; i++) {
                double a = bench_now_ms();
                vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_GUEST_FILESYSTEM_RESULT_RESPONSE, &r);
                add(&lat, bench_now_ms() - a);
            }
            rate[rep] = N / ((bench_now_ms() - t0) / 1e3);
        }
        const sx_guest_filesystem_result_response_t *g =
            &r.payload.u.guest_filesystem_result_response;
        if (ops[k].op == SX_GUEST_FILESYSTEM_OPERATION_READ_FILE &&
            (!g->content.present || g->content.value.len != 1024))
            die("READ_FILE returned %zu bytes", g->content.present ? g->content.value.len : 0);
        if (ops[k].op == SX_GUEST_FILESYSTEM_OPERATION_STAT &&
            (!g->stat.present || g->stat.value.size != 1024))
            die("STAT reports a size other than 1024");
        double lo = rate[0], hi = rate[0];
        for (int rep = 1; rep < reps; rep++) {
            lo = rate[rep] < lo ? rate[rep] : lo;
            hi = rate[rep] > hi ? rate[rep] : hi;
        }
        printf("   %-18s %12.0f %9.0f %9.0f %10.1f %10.1f\n", ops[k].name, median(rate, reps), lo,
               hi, pct(&lat, 0.5) * 1e3, pct(&lat, 0.95) * 1e3);
    }
    if (pipe_floor_rate > 0)
        printf("   (floor: %.0f plain pipe round trips/s between two processes, section 2)\n",
               pipe_floor_rate);
    printf("\n");
    free(lat.v);
    vm_dispose(c, vm);
    stop(c);
}

/* ---- 5. snapshots of 10,000 entries ---- */

enum { NDIRS = 99, NFILES = 100, NENTRIES = 1 + NDIRS + NDIRS * NFILES };

typedef struct tree {
    sx_root_filesystem_entry_t items[NENTRIES];
    char paths[NENTRIES][32];
    char contents[NENTRIES][48];
} tree_t;

/* /data, /data/dNN and /data/dNN/fNNN: directories first, each file a line of text. */
static void tree_build(tree_t *t)
{
    size_t n = 0;
    for (int d = -1; d < NDIRS; d++) {
        for (int f = -1; f < (d < 0 ? 0 : NFILES); f++) {
            sx_root_filesystem_entry_t *e = &t->items[n];
            sx_root_filesystem_entry_init(e);
            if (d < 0)
                snprintf(t->paths[n], sizeof t->paths[n], "/data");
            else if (f < 0)
                snprintf(t->paths[n], sizeof t->paths[n], "/data/d%02d", d);
            else
                snprintf(t->paths[n], sizeof t->paths[n], "/data/d%02d/f%03d", d, f);
            e->path = bare_str_from_cstr(t->paths[n]);
            if (f < 0) {
                e->kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY;
            } else {
                snprintf(t->contents[n], sizeof t->contents[n], "entry %zu of the snapshot\n", n);
                e->kind = SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
                e->content.present = true;
                e->content.value = bare_str_from_cstr(t->contents[n]);
            }
            n++;
        }
    }
    if (n != NENTRIES)
        die("built %zu entries, not %d", n, NENTRIES);
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(strbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (k < 0)
            die("vsnprintf");
        if ((size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        b->cap = b->cap ? 2 * b->cap : 1 << 20;
        while (b->cap - b->len <= (size_t)k)
            b->cap *= 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
}

#define SNAP_LIMITS                                                                                \
    "\"limits\": {\"resources\": {\"maxInodeCount\": 65536, \"maxFilesystemBytes\": 268435456}}"

/* A CreateVm config whose only lower is the tree, as a snapshot (no base). */
static char *restore_config(const tree_t *t)
{
    strbuf_t b = {NULL, 0, 0};
    sb_add(&b, "{\"permissions\": {\"fs\": \"allow\"}, " SNAP_LIMITS
               ", \"rootFilesystem\": {\"disableDefaultBaseLayer\": true, \"lowers\": "
               "[{\"kind\": \"snapshot\", \"entries\": [");
    for (size_t i = 0; i < NENTRIES; i++) {
        const sx_root_filesystem_entry_t *e = &t->items[i];
        if (e->kind == SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY)
            sb_add(&b, "%s{\"path\": \"%s\", \"kind\": \"directory\"}", i ? ", " : "", t->paths[i]);
        else /* the contents need no JSON escapes but the newline */
            sb_add(&b, "%s{\"path\": \"%s\", \"kind\": \"file\", \"content\": \"%.*s\\n\"}",
                   i ? ", " : "", t->paths[i], (int)strlen(t->contents[i]) - 1, t->contents[i]);
    }
    sb_add(&b, "]}]}}");
    return b.p;
}

static void bench_snapshots(void)
{
    const uint32_t max_frame = 64u << 20;
    char config[] = "/tmp/bench_sidecar.XXXXXX.yaml";
    int fd = mkstemps(config, 5);
    if (fd < 0)
        die("cannot write a config file in /tmp");
    dprintf(fd, "maxFrameBytes: %u\n", (unsigned)max_frame);
    close(fd);

    tree_t *t = malloc(sizeof *t);
    if (!t)
        die("out of memory");
    tree_build(t);
    char *restore = restore_config(t);
    static const char vm_config[] = "{\"permissions\": {\"fs\": \"allow\"}, " SNAP_LIMITS
                                    ", \"rootFilesystem\": {\"disableDefaultBaseLayer\": true}}";

    se_client_t *c = start(config, max_frame);
    frame_sizes_t sizes = {0, 0};
    se_client_on_frame(c, on_frame, &sizes);
    enum { IMPORT, EXPORT, BOOTSTRAP, SNAPSHOT, DISPOSE, RESTORE, RESTORED_SNAPSHOT, NSTEPS };
    static const char *const names[NSTEPS] = {
        "ImportSnapshot (into a new layer)",      "ExportSnapshot of that layer",
        "BootstrapRootFilesystem (into a VM)",    "SnapshotRootFilesystem of that VM",
        "DisposeVm of that VM (+ events)",        "CreateVm with them as its lower",
        "SnapshotRootFilesystem of the restored",
    };
    double ms[NSTEPS][MAX_REPS];
    size_t sent[NSTEPS] = {0}, received[NSTEPS] = {0}, count[NSTEPS] = {0};
    sx_request_payload_t p;
    sx_response_frame_t r;
    for (int rep = 0; rep < reps; rep++) {
        char vm[64], layer[64];
        vm_create(c, vm_config, vm);

        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
        p.u.import_snapshot_request.entries.items = t->items;
        p.u.import_snapshot_request.entries.len = NENTRIES;
        double t0 = bench_now_ms();
        vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_IMPORTED_RESPONSE, &r);
        ms[IMPORT][rep] = bench_now_ms() - t0;
        sent[IMPORT] = sizes.sent;
        count[IMPORT] = NENTRIES;
        bare_str_t id = r.payload.u.snapshot_imported_response.layer_id;
        snprintf(layer, sizeof layer, "%.*s", (int)id.len, id.ptr);

        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_EXPORT_SNAPSHOT_REQUEST;
        p.u.export_snapshot_request.layer_id = bare_str_from_cstr(layer);
        t0 = bench_now_ms();
        vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_SNAPSHOT_EXPORTED_RESPONSE, &r);
        ms[EXPORT][rep] = bench_now_ms() - t0;
        received[EXPORT] = sizes.received;
        count[EXPORT] = r.payload.u.snapshot_exported_response.entries.len;

        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_BOOTSTRAP_ROOT_FILESYSTEM_REQUEST;
        p.u.bootstrap_root_filesystem_request.entries.items = t->items;
        p.u.bootstrap_root_filesystem_request.entries.len = NENTRIES;
        t0 = bench_now_ms();
        vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_BOOTSTRAPPED_RESPONSE, &r);
        ms[BOOTSTRAP][rep] = bench_now_ms() - t0;
        sent[BOOTSTRAP] = sizes.sent;
        count[BOOTSTRAP] = NENTRIES;

        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
        t0 = bench_now_ms();
        vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_SNAPSHOT_RESPONSE, &r);
        ms[SNAPSHOT][rep] = bench_now_ms() - t0;
        received[SNAPSHOT] = sizes.received;
        count[SNAPSHOT] = r.payload.u.root_filesystem_snapshot_response.entries.len;

        t0 = bench_now_ms();
        vm_dispose(c, vm);
        ms[DISPOSE][rep] = bench_now_ms() - t0;

        t0 = bench_now_ms();
        vm_create(c, restore, vm);
        ms[RESTORE][rep] = bench_now_ms() - t0;
        sent[RESTORE] = sizes.sent;
        count[RESTORE] = NENTRIES;
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
        t0 = bench_now_ms();
        vm_call(c, vm, &p, SX_RESPONSE_PAYLOAD_TAG_ROOT_FILESYSTEM_SNAPSHOT_RESPONSE, &r);
        ms[RESTORED_SNAPSHOT][rep] = bench_now_ms() - t0;
        received[RESTORED_SNAPSHOT] = sizes.received;
        count[RESTORED_SNAPSHOT] = r.payload.u.root_filesystem_snapshot_response.entries.len;
        vm_dispose(c, vm);
    }
    stop(c);
    unlink(config);

    printf("5. Snapshots of %d entries (%d directories, %d files of ~30 bytes), %d runs, "
           "maxFrameBytes %u\n",
           NENTRIES, 1 + NDIRS, NDIRS * NFILES, reps, (unsigned)max_frame);
    printf("   %-40s %9s %9s %9s %9s %11s\n", "step", "p50 ms", "min ms", "entries", "sent KiB",
           "recvd KiB");
    for (int s = 0; s < NSTEPS; s++) {
        double lo = ms[s][0];
        for (int rep = 1; rep < reps; rep++)
            lo = ms[s][rep] < lo ? ms[s][rep] : lo;
        printf("   %-40s %9.1f %9.1f %9zu %9.1f %11.1f\n", names[s], median(ms[s], reps), lo,
               count[s], (double)sent[s] / 1024, (double)received[s] / 1024);
    }
    printf("   (entries: sent, or listed in the response; the snapshots list the minimal root "
           "too)\n");
    free(restore);
    free(t);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        sidecar_path = argv[1];
    if (argc > 2)
        reps = atoi(argv[2]);
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_sidecar [SIDECAR] [REPS (1-%d)]\n", MAX_REPS);
        return 2;
    }
    if (geteuid() != 0) {
        printf("bench_sidecar: skipped (the sidecar runs as root)\n");
        return 0;
    }
    snprintf(log_path, sizeof log_path, "/tmp/bench_sidecar.XXXXXX");
    log_fd = mkstemp(log_path);
    if (log_fd < 0)
        die("cannot make a log file in /tmp");
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("secure-exec-sidecar benchmark: %s, %d runs per rate, %ld CPUs\n\n", sidecar_path, reps,
           sysconf(_SC_NPROCESSORS_ONLN));
    double t0 = bench_now_ms();
    bench_lifecycle();
    bench_stream();
    bench_memory();
    bench_files();
    bench_snapshots();
    printf("\n(%.1f s in all)\n", (bench_now_ms() - t0) / 1e3);
    close(log_fd);
    unlink(log_path);
    return 0;
}
