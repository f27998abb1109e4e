/*
 * main.c - secure-exec-sidecar: options, configuration, the stdio transport on the event loop,
 * and shutdown. Exits (die) only here, at startup; inside the loop every failure becomes a
 * response or a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basefs.h"
#include "config.h"
#include "exec.h"
#include "log.h"
#include "sidecar.h"

/* How long the VMs' teardown and the queued output may take at shutdown before the sidecar
 * finishes both at once (the VMs' processes are then killed without a grace). */
#define SHUTDOWN_MS 5000

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("secure-exec-sidecar: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void usage(FILE *f)
{
    fputs("usage: secure-exec-sidecar [--config FILE] [--help] [--version]\n"
          "Serve the Secure Exec sidecar protocol (v1, revision 7) on stdin and stdout.\n"
          "\n"
          "  -c, --config FILE   YAML configuration (sidecarId, authToken, authTokenFile,\n"
          "                      maxFrameBytes, stateDir, baseFilesystem, logLevel)\n"
          "  -h, --help          print this help\n"
          "  -V, --version       print the version\n"
          "\n"
          "The environment variable " SC_TOKEN_ENV " overrides the auth token.\n"
          "Frames go to stdout only; logs go to stderr.\n",
          f);
}

static void shutdown_server(sc_server_t *srv, const char *why);

static void flush_output(sc_server_t *srv)
{
    if (srv->out_broken || sc_outq_pending(&srv->out) == 0)
        return;
    if (sc_outq_flush(&srv->out, srv->out_fd) != 0 && errno != EAGAIN) {
        sc_warn("cannot write to stdout: %s", strerror(errno));
        srv->out_broken = true;
        shutdown_server(srv, "stdout closed");
    }
}

/* Handles buffered frames until input runs dry, output backs up, or the stream ends; their
 * responses go out in one write per batch (or per 64 KiB), not one per frame. */
static void process_input(sc_server_t *srv)
{
    const char *end = NULL; /* why the input is over, if it is */
    srv->dispatching = true;
    while (!end && !srv->closing && !srv->in_paused) {
        const uint8_t *p;
        size_t n;
        sc_read_result_t r = sc_frame_reader_next(&srv->in, &p, &n);
        if (r == SC_READ_NONE)
            break;
        switch (r) {
        case SC_READ_FRAME:
            sc_server_handle_frame(srv, p, n);
            break;
        case SC_READ_OVERSIZE:
            sc_server_handle_oversize(srv, p, n, srv->in.declared);
            break;
        case SC_READ_EOF:
            end = "end of input";
            break;
        case SC_READ_TRUNCATED:
            sc_warn("stdin ended inside a frame");
            end = "end of input";
            break;
        default:
            sc_error("cannot buffer input: out of memory");
            end = "input error";
            break;
        }
        if (sc_outq_pending(&srv->out) >= 65536) {
            flush_output(srv);
            sc_server_update_watches(srv); /* may pause input: the host is not reading */
        }
    }
    srv->dispatching = false;
    flush_output(srv);
    if (end)
        shutdown_server(srv, end);
    sc_server_update_watches(srv);
}

static void on_input(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_server_t *srv = ud;
    (void)loop;
    (void)w;
    (void)events;
    long k = sc_frame_reader_fill(&srv->in);
    if (k < 0 && errno != EAGAIN) {
        sc_error("cannot read stdin: %s", strerror(errno));
        shutdown_server(srv, "input error");
        return;
    }
    process_input(srv);
}

static void on_output(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    sc_server_t *srv = ud;
    (void)loop;
    (void)w;
    (void)events;
    flush_output(srv);
    sc_server_check_done(srv);
    sc_server_update_watches(srv);
    if (!srv->in_paused)
        process_input(srv); /* frames buffered while output was backed up */
}

static void on_shutdown_deadline(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_server_t *srv = ud;
    (void)t;
    sc_warn("shutdown did not finish within %d ms (%zu VM(s) left, %zu bytes unwritten); "
            "exiting",
            SHUTDOWN_MS, srv->nvms, sc_outq_pending(&srv->out));
    sc_loop_stop(loop);
}

static void shutdown_server(sc_server_t *srv, const char *why)
{
    if (srv->closing)
        return;
    srv->closing = true;
    sc_info("%s: disposing %zu VM(s) and exiting", why, srv->nvms);
    sc_loop_timer(srv->loop, SHUTDOWN_MS, on_shutdown_deadline, srv);
    sc_server_teardown(srv);
    sc_server_update_watches(srv);
    sc_server_check_done(srv);
}

/* A supervisor ended: reap it; if its VM did not ask for that, the VM has failed. */
static void on_sigchld(sc_loop_t *loop, int signo, void *ud)
{
    (void)loop;
    (void)signo;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        sc_vmexec_child_exited(ud, pid);
    }
    sc_server_update_watches(ud);
}

static void on_signal(sc_loop_t *loop, int signo, void *ud)
{
    (void)loop;
    shutdown_server(ud, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

/*
 * stdin and stdout move to private descriptors; fd 0 becomes /dev/null and fd 1 a copy of
 * stderr, so nothing else in the process (a library, a child) can read frames or write to the
 * protocol channel by accident.
 */
static void claim_stdio(int *in_fd, int *out_fd)
{
    *in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    *out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (*in_fd < 0 || *out_fd < 0)
        die("cannot take over stdin/stdout: %s", strerror(errno));
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0)
        die("cannot redirect stdin/stdout: %s", strerror(errno));
    close(null);
    if (fcntl(*in_fd, F_SETFL, fcntl(*in_fd, F_GETFL) | O_NONBLOCK) != 0 ||
        fcntl(*out_fd, F_SETFL, fcntl(*out_fd, F_GETFL) | O_NONBLOCK) != 0)
        die("cannot make stdin/stdout non-blocking: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    sc_server_t srv;
    char err[1024];
    int c;

    while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("secure-exec-sidecar %s (protocol %s v1 revision %d)\n", SC_VERSION,
                   SC_SCHEMA_NAME, SC_SCHEMA_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "secure-exec-sidecar: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    memset(&srv, 0, sizeof srv);
    sc_config_defaults(&srv.cfg);
    if (config_path && sc_config_load(&srv.cfg, config_path, err, sizeof err) != 0)
        die("%s", err);
    if (sc_config_env(&srv.cfg, err, sizeof err) != 0)
        die("%s", err);
    sc_log_set_level((sc_log_level_t)srv.cfg.log_level);

    /* The VM filesystems' home: a private mount namespace and tmpfs, and the base tree. */
    static sc_host_t host;
    bare_arena_t base_arena;
    sc_entry_list_t base;
    char base_path[SC_BASEFS_PATH_MAX];
    const char *base_file = srv.cfg.base_filesystem
                                ? srv.cfg.base_filesystem
                                : sc_basefs_default_path(base_path, sizeof base_path);
    bare_arena_init(&base_arena, NULL, NULL);
    if (sc_basefs_load(base_file, &base_arena, &base, err, sizeof err) != 0)
        die("%s", err);
    if (sc_host_init(&host, srv.cfg.state_dir, err, sizeof err) != 0)
        die("%s", err);
    if (sc_host_build_layers(&host, &base, err, sizeof err) != 0) {
        sc_host_fini(&host);
        die("cannot build the base filesystem: %s", err);
    }
    bare_arena_free(&base_arena);
    srv.host = &host;
    if (host.privileged)
        sc_cgroup_reap_stale();

    /* Every VM holds a few descriptors (its root, its state, its supervisor's socket, the
     * pipes of its processes): take all the descriptors the hard limit allows. Guests get the
     * VM's own maxOpenFds. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    /* A vanished host must surface as EPIPE from write(), not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    int in_fd, out_fd;
    claim_stdio(&in_fd, &out_fd);

    sc_loop_t *loop = sc_loop_new();
    if (!loop)
        die("cannot create the event loop: %s", strerror(errno));
    if (sc_offload_start(loop) != 0)
        sc_warn("no worker thread (%s): unmounts run on the event loop", strerror(errno));
    sc_server_init(&srv, loop, in_fd, out_fd);
    srv.in_watch = sc_loop_watch(loop, in_fd, EPOLLIN, on_input, &srv);
    srv.out_watch = sc_loop_watch(loop, out_fd, 0, on_output, &srv);
    if (!srv.in_watch || !srv.out_watch || sc_loop_signal(loop, SIGTERM, on_signal, &srv) != 0 ||
        sc_loop_signal(loop, SIGINT, on_signal, &srv) != 0 ||
        sc_loop_signal(loop, SIGCHLD, on_sigchld, &srv) != 0)
        die("cannot set up the event loop: %s", strerror(errno));
    sc_info("serving %s v1 revision %d on stdio (max frame %u bytes%s)", SC_SCHEMA_NAME,
            SC_SCHEMA_VERSION, srv.cfg.max_frame_bytes,
            srv.cfg.auth_token ? ", auth token required" : "");

    int rc = sc_loop_run(loop);
    if (rc != 0)
        sc_error("event loop failed: %s", strerror(errno));
    sc_offload_stop(); /* the unmounts under way finish (and their VMs with them) */
    sc_server_free(&srv);
    sc_host_fini(&host);
    sc_loop_free(loop);
    sc_config_free(&srv.cfg);
    close(in_fd);
    close(out_fd);
    return rc == 0 ? 0 : 1;
}
