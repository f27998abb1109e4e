/*
 * session.c - one `secure-exec run`: the sidecar started in a process group of its own, the
 * handshake, the VM, the guest process, and the loop that streams the guest's output, forwards
 * our stdin and our signals, and ends with the guest's exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define PROCESS_ID "main"
#define STDIN_CHUNK 65536u             /* bytes per WriteStdin */
#define DEFAULT_FRAME_BYTES (1u << 20) /* the sidecar's default maxFrameBytes */
#define MAX_FRAME_BYTES (256u << 20)   /* the largest it accepts */
#define CALL_MS 30000                  /* requests: the first Execute starts the VM */
#define DISPOSE_MS 10000
#define SIDECAR_EXIT_MS 5000
#define LOG_TAIL 4096
#define EVENT_BATCH 64
#define SIGPIPE_GRACE_MS 500
#define SE_VM_FAILED (-1) /* on_event: a VmLifecycleEvent FAILED (already reported) */

extern char **environ;

typedef struct run {
    const cli_opts_t *o;
    se_client_t *c;
    pid_t sidecar;
    int log_fd; /* the sidecar's stderr unless --verbose, shown when something fails */
    int sig_fd;
    FILE *trace;
    int trace_errno; /* the first write that failed; 0 if none */
    char vm[64];
    bool have_vm;
    char reject_code[64], reject_msg[1024];
    /* the guest */
    bool exited;
    int exit_code;
    bool stdin_open;
    uint8_t *pending; /* a stdin chunk the sidecar had no room for yet */
    size_t pending_len;
    int retry_ms;
    /* our stdout's reader went away: SIGPIPE to the guest, SIGKILL if it keeps writing */
    bool stdout_broken;
    const char *want_kill; /* a signal to send the guest before anything else */
    uint64_t sigpipe_at;   /* when SIGPIPE went, 0 before; UINT64_MAX once SIGKILL did */
    int signals;           /* forwarded so far */
    bool sidecar_killed;
} run_t;

/* ---- the sidecar ---- */

static const char *sidecar_path(const cli_opts_t *o, char *buf, size_t len)
{
    const char *env = getenv("SECURE_EXEC_SIDECAR");
    if (o->sidecar)
        return o->sidecar;
    if (env && *env)
        return env;
    /* installed next to us (make install puts both in BINDIR; the build, both in build/) */
    ssize_t n = readlink("/proc/self/exe", buf, len - 32);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "secure-exec-sidecar");
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "secure-exec-sidecar";
}

/* A config file for the sidecar when frames must be larger than its default; -1 if none. */
static int frame_config(uint32_t max_frame)
{
    if (max_frame <= DEFAULT_FRAME_BYTES)
        return -1;
    int fd = memfd_create("secure-exec-sidecar.yaml", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    char text[64];
    int n = snprintf(text, sizeof text, "maxFrameBytes: %u\n", max_frame);
    if (write(fd, text, (size_t)n) != n || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Starts the sidecar on two pipes, in a process group of its own so that a terminal's ^C
 * reaches only us (we pass it on to the guest), with default signal handling and an empty
 * signal mask whatever ours are.
 */
static int spawn_sidecar(run_t *r, uint32_t max_frame)
{
    char buf[4096];
    const char *path = sidecar_path(r->o, buf, sizeof buf);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, cfg = frame_config(max_frame);
    if (max_frame > DEFAULT_FRAME_BYTES && cfg < 0) {
        cli_error("cannot write the sidecar's configuration: %s", strerror(errno));
        return -1;
    }
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        cli_error("pipe: %s", strerror(errno));
        goto fail;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    int defaults[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        sigaddset(&dflt, defaults[i]);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (r->log_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, r->log_fd, 2);
    if (cfg >= 0)
        posix_spawn_file_actions_adddup2(&fa, cfg, 3);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    static char config_opt[] = "--config", config_path[] = "/dev/fd/3";
    char *argv[] = {(char *)path, cfg >= 0 ? config_opt : NULL, config_path, NULL};
    int rc = strchr(path, '/') ? posix_spawn(&r->sidecar, path, &fa, &attr, argv, environ)
                               : posix_spawnp(&r->sidecar, path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        cli_error("cannot run the sidecar %s: %s (use --sidecar PATH or SECURE_EXEC_SIDECAR)", path,
                  strerror(rc));
        r->sidecar = -1;
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    if (cfg >= 0)
        close(cfg);
    r->c = se_client_attach(in[1], out[0], max_frame);
    if (!r->c) {
        cli_error("out of memory");
        close(in[1]);
        close(out[0]);
        return -1;
    }
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    if (cfg >= 0)
        close(cfg);
    return -1;
}

/* The end of the sidecar's log, when it was kept aside and something went wrong. */
static void show_log(const run_t *r)
{
    if (r->log_fd < 0 || r->o->quiet)
        return;
    struct stat st;
    if (fstat(r->log_fd, &st) != 0 || st.st_size == 0)
        return;
    char buf[LOG_TAIL + 1];
    off_t off = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
    ssize_t n = pread(r->log_fd, buf, LOG_TAIL, off);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *start = buf;
    if (off > 0 && (start = strchr(buf, '\n')) != NULL)
        start++; /* a whole line first */
    else
        start = buf;
    fprintf(stderr, "secure-exec: the sidecar's log ends with:\n%s", start);
    if (n > 0 && buf[n - 1] != '\n')
        fputc('\n', stderr);
}

/* Waits for the sidecar to exit (it does once its input is closed), killing it after a while. */
static int reap_sidecar(run_t *r, int ms)
{
    int status = 0;
    if (r->sidecar <= 0)
        return 0;
    for (int waited = 0;; waited += 5) {
        pid_t p = waitpid(r->sidecar, &status, WNOHANG);
        if (p == r->sidecar || (p < 0 && errno != EINTR))
            break;
        if (waited >= ms) {
            kill(r->sidecar, SIGKILL);
            waitpid(r->sidecar, &status, 0);
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    r->sidecar = -1;
    return status;
}

/* ---- requests ---- */

static void copy_str(char *dst, size_t cap, bare_str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* A request on the VM; a RejectedResponse is SE_REJECTED with its code and message kept. */
static int call(run_t *r, const sx_request_payload_t *p, sx_response_payload_tag_t want)
{
    sx_ownership_scope_t own;
    sx_response_frame_t resp;
    se_client_vm_scope(r->c, r->vm, &own);
    int st = se_client_call(r->c, &own, p, CALL_MS, &resp);
    if (st != SE_OK)
        return st;
    if (resp.payload.tag == SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE) {
        copy_str(r->reject_code, sizeof r->reject_code, resp.payload.u.rejected_response.code);
        copy_str(r->reject_msg, sizeof r->reject_msg, resp.payload.u.rejected_response.message);
        return SE_REJECTED;
    }
    return resp.payload.tag == want ? SE_OK : SE_UNEXPECTED;
}

/* Reports a failed step; always CLI_EXIT_ERROR. */
static int failed(run_t *r, const char *what, int st, const char *code, const char *msg)
{
    if (st == SE_VM_FAILED) {
        show_log(r);
        return CLI_EXIT_ERROR;
    }
    if (st == SE_REJECTED) {
        cli_error("%s: %s (%s)", what, msg, code);
        return CLI_EXIT_ERROR;
    }
    if (st == SE_CLOSED)
        cli_error("%s: the sidecar exited unexpectedly", what);
    else
        cli_error("%s: %s", what, se_strerror(st));
    if (r->sidecar > 0 && st == SE_CLOSED)
        reap_sidecar(r, 1000);
    show_log(r);
    return CLI_EXIT_ERROR;
}

static int kill_guest(run_t *r, const char *signal)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_KILL_PROCESS_REQUEST;
    p.u.kill_process_request.process_id = BARE_STR_LIT(PROCESS_ID);
    p.u.kill_process_request.signal = bare_str_from_cstr(signal);
    int st = call(r, &p, SX_RESPONSE_PAYLOAD_TAG_PROCESS_KILLED_RESPONSE);
    /* a guest that has just exited is no error: its exit event is on the way */
    return st == SE_REJECTED ? SE_OK : st;
}

static int close_stdin(run_t *r)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CLOSE_STDIN_REQUEST;
    p.u.close_stdin_request.process_id = BARE_STR_LIT(PROCESS_ID);
    r->stdin_open = false;
    int st = call(r, &p, SX_RESPONSE_PAYLOAD_TAG_STDIN_CLOSED_RESPONSE);
    return st == SE_REJECTED ? SE_OK : st;
}

/*
 * Sends one stdin chunk. The sidecar buffers what the guest has not read yet, up to a limit,
 * and refuses a chunk that does not fit: that chunk is kept and sent again a little later,
 * and our stdin is not read meanwhile, so a slow guest slows the writer down as a pipe would.
 */
static int write_stdin(run_t *r, const uint8_t *data, size_t n)
{
    sx_request_payload_t p;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST;
    p.u.write_stdin_request.process_id = BARE_STR_LIT(PROCESS_ID);
    p.u.write_stdin_request.chunk = (bare_bytes_t){data, n};
    int st = call(r, &p, SX_RESPONSE_PAYLOAD_TAG_STDIN_WRITTEN_RESPONSE);
    if (st == SE_REJECTED && strstr(r->reject_msg, "buffer exceeded")) {
        if (data != r->pending) {
            r->pending = malloc(n);
            if (!r->pending)
                return SE_IO;
            memcpy(r->pending, data, n);
            r->pending_len = n;
            r->retry_ms = 5;
        } else if (r->retry_ms < 200) {
            r->retry_ms *= 2;
        }
        return SE_OK;
    }
    if (data == r->pending) {
        free(r->pending);
        r->pending = NULL;
        r->pending_len = 0;
    }
    if (st == SE_REJECTED) { /* the guest is gone, or closed its stdin: nobody reads */
        r->stdin_open = false;
        return SE_OK;
    }
    return st;
}

static int forward_stdin(run_t *r)
{
    static uint8_t buf[STDIN_CHUNK];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return SE_OK;
    if (n < 0 && !r->o->quiet)
        cli_error("reading standard input: %s; closing the guest's", strerror(errno));
    if (n <= 0)
        return close_stdin(r);
    return write_stdin(r, buf, (size_t)n);
}

/* ---- events ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void emit(run_t *r, int fd, const uint8_t *p, size_t n)
{
    if (fd == STDOUT_FILENO && r->stdout_broken) {
        /* node and python ignore SIGPIPE: a guest still writing a while later is stopped */
        if (r->sigpipe_at && r->sigpipe_at != UINT64_MAX &&
            now_ms() - r->sigpipe_at > SIGPIPE_GRACE_MS) {
            r->want_kill = "SIGKILL";
            r->sigpipe_at = UINT64_MAX;
        }
        return;
    }
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN) { /* a non-blocking descriptor we inherited */
            struct pollfd w = {fd, POLLOUT, 0};
            poll(&w, 1, -1);
            continue;
        }
        /* Our reader has gone (EPIPE): the guest would have died of SIGPIPE writing to it. */
        if (fd == STDOUT_FILENO) {
            r->stdout_broken = true;
            r->want_kill = "SIGPIPE";
        }
        return;
    }
}

static int on_event(run_t *r, const sx_event_frame_t *ev)
{
    const sx_event_payload_t *e = &ev->payload;
    if (e->tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
        bare_str_eq_cstr(e->u.process_output_event.process_id, PROCESS_ID)) {
        const sx_process_output_event_t *o = &e->u.process_output_event;
        emit(r, o->channel == SX_STREAM_CHANNEL_STDERR ? STDERR_FILENO : STDOUT_FILENO,
             o->chunk.ptr, o->chunk.len);
    } else if (e->tag == SX_EVENT_PAYLOAD_TAG_PROCESS_EXITED_EVENT &&
               bare_str_eq_cstr(e->u.process_exited_event.process_id, PROCESS_ID)) {
        r->exited = true;
        r->exit_code = e->u.process_exited_event.exit_code;
    } else if (e->tag == SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT &&
               e->u.vm_lifecycle_event.state == SX_VM_LIFECYCLE_STATE_FAILED) {
        cli_error("the VM failed");
        return SE_VM_FAILED;
    }
    return SE_OK;
}

/*
 * Handles the events that have arrived, up to a batch, so that signals, stdin and a kill
 * for a broken stdout are seen between batches. *more is set when some may be left.
 */
static int drain_events(run_t *r, bool *more)
{
    *more = true;
    for (int i = 0; i < EVENT_BATCH; i++) {
        sx_event_frame_t ev;
        int st = se_client_next_event(r->c, 0, &ev);
        if (st == SE_TIMEOUT) {
            *more = false;
            return SE_OK;
        }
        if (st == SE_OK)
            st = on_event(r, &ev);
        if (st != SE_OK || r->exited || r->want_kill)
            return st;
    }
    return SE_OK;
}

/* ---- signals ---- */

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGQUIT:
        return "SIGQUIT";
    default:
        return "SIGKILL";
    }
}

/* The signals we pass on to the guest; blocked, and read from a signalfd. */
static void forwarded_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
}

/* A signal that arrived; 0 when none is pending. */
static int take_signal(const run_t *r)
{
    struct signalfd_siginfo si;
    if (read(r->sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    return (int)si.ssi_signo;
}

/*
 * The first signal goes to the guest as it is, the second as SIGKILL; a third means the
 * sidecar does not get the guest to end, and we stop waiting (-1).
 */
static int on_signal(run_t *r, int sig)
{
    r->signals++;
    if (r->signals >= 3)
        return -1;
    return kill_guest(r, r->signals == 1 ? signal_name(sig) : "SIGKILL");
}

/* ---- the trace ---- */

static void on_frame(void *ud, se_frame_dir_t dir, const uint8_t *frame, size_t len)
{
    run_t *r = ud;
    (void)dir; /* the frame's own kind tells the direction */
    if (!r->trace_errno && fwrite(frame, 1, len, r->trace) != len)
        r->trace_errno = errno ? errno : EIO;
}

static int open_trace(run_t *r)
{
    /* the trace holds the auth token: only its owner may read it */
    int fd = open(r->o->trace, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(r->trace = fdopen(fd, "wb"))) {
        cli_error("--trace: cannot write '%s': %s", r->o->trace, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0;
}

/* ---- the program ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/*
 * Reads FILE and decides how it runs. Returns 0, or an exit status: 127 when it does not
 * exist, 126 when it cannot be read, 125 for the rest.
 */
static int load_program(const cli_opts_t *o, cli_program_t *p)
{
    memset(p, 0, sizeof *p);
    p->runtime = o->runtime;
    if (o->what == CLI_RUN_CODE) {
        if (p->runtime == CLI_RT_AUTO)
            p->runtime = CLI_RT_JS;
        return 0;
    }
    if (o->what == CLI_RUN_PROGRAM) {
        p->runtime = CLI_RT_COMMAND;
        return 0;
    }
    const char *file = o->target;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        cli_error("%s: %s", file, strerror(e));
        return e == ENOENT || e == ENOTDIR ? CLI_EXIT_NOT_FOUND : CLI_EXIT_CANNOT_RUN;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_error("%s: %s", file, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return CLI_EXIT_CANNOT_RUN;
    }
    /* what is there when we read it (the size may change under us) */
    size_t cap = (size_t)st.st_size + 4096, len = 0;
    p->content = malloc(cap);
    while (p->content) {
        if (len == cap) {
            uint8_t *b = realloc(p->content, cap *= 2);
            if (!b) {
                free(p->content);
                p->content = NULL;
                break;
            }
            p->content = b;
        }
        ssize_t k = read(fd, p->content + len, cap - len);
        if (k == 0)
            break;
        if (k > 0) {
            len += (size_t)k;
        } else if (errno != EINTR) {
            int e = errno;
            cli_error("%s: %s", file, strerror(e));
            close(fd);
            return CLI_EXIT_CANNOT_RUN;
        }
    }
    close(fd);
    if (!p->content) {
        cli_error("%s: out of memory", file);
        return CLI_EXIT_ERROR;
    }
    p->content_len = len;

    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(CLI_GUEST_HOME) + strlen(base) + 2;
    if (!(p->guest_path = malloc(n)))
        return CLI_EXIT_ERROR;
    snprintf(p->guest_path, n, "%s/%s", CLI_GUEST_HOME, base);
    if (p->runtime == CLI_RT_AUTO) {
        if (ends_with(base, ".js") || ends_with(base, ".mjs") || ends_with(base, ".cjs"))
            p->runtime = CLI_RT_JS;
        else if (ends_with(base, ".py"))
            p->runtime = CLI_RT_PYTHON;
        else if (ends_with(base, ".wasm"))
            p->runtime = CLI_RT_WASM;
        else
            p->runtime = CLI_RT_COMMAND;
    }
    return 0;
}

static void free_program(cli_program_t *p)
{
    free(p->guest_path);
    free(p->content);
}

/* The ExecuteRequest for the program; args and env point into o, p and the arrays given. */
static void execute_request(const cli_opts_t *o, const cli_program_t *p, bare_str_t *args,
                            sx_str_str_map_entry_t *env, sx_execute_request_t *e)
{
    size_t n = 0;
    memset(e, 0, sizeof *e);
    e->process_id = BARE_STR_LIT(PROCESS_ID);
    switch (o->what) {
    case CLI_RUN_FILE:
        if (p->runtime == CLI_RT_COMMAND ||
            (p->runtime == CLI_RT_PYTHON && !ends_with(p->guest_path, ".py"))) {
            /* python3 would take an entrypoint that does not end in .py for source code */
            e->command.present = true;
            e->command.value =
                bare_str_from_cstr(p->runtime == CLI_RT_COMMAND ? p->guest_path : "python3");
            if (p->runtime == CLI_RT_PYTHON)
                args[n++] = bare_str_from_cstr(p->guest_path);
        } else {
            e->runtime.present = true;
            e->runtime.value = p->runtime == CLI_RT_JS       ? SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT
                               : p->runtime == CLI_RT_PYTHON ? SX_GUEST_RUNTIME_KIND_PYTHON
                                                             : SX_GUEST_RUNTIME_KIND_WEB_ASSEMBLY;
            e->entrypoint.present = true;
            e->entrypoint.value = bare_str_from_cstr(p->guest_path);
        }
        break;
    case CLI_RUN_CODE:
        e->command.present = true;
        e->command.value = bare_str_from_cstr(p->runtime == CLI_RT_PYTHON ? "python3" : "node");
        args[n++] = bare_str_from_cstr(p->runtime == CLI_RT_PYTHON ? "-c" : "-e");
        args[n++] = bare_str_from_cstr(o->target);
        if (p->runtime != CLI_RT_PYTHON && o->nargs > 0)
            args[n++] = BARE_STR_LIT("--"); /* node would take "-x" for an option of its own */
        break;
    case CLI_RUN_PROGRAM:
        e->command.present = true;
        e->command.value = bare_str_from_cstr(o->target);
        break;
    }
    for (size_t i = 0; i < o->nargs; i++)
        args[n++] = bare_str_from_cstr(o->args[i]);
    e->args.items = args;
    e->args.len = n;
    /* --env NAME=VALUE, the last one of a name winning (map keys are unique on the wire) */
    size_t k = 0;
    for (size_t i = 0; i < o->env.len; i++) {
        const char *kv = o->env.items[i], *eq = strchr(kv, '=');
        bare_str_t key = {kv, (size_t)(eq - kv)};
        size_t j = 0;
        while (j < k && !bare_str_eq(env[j].key, key))
            j++;
        env[j].key = key;
        env[j].value = bare_str_from_cstr(eq + 1);
        if (j == k)
            k++;
    }
    e->env.items = env;
    e->env.len = k;
    if (o->cwd) {
        e->cwd.present = true;
        e->cwd.value = bare_str_from_cstr(o->cwd);
    }
}

/* Starts the guest; 0, or an exit status (127: no such program, 126: cannot run it). */
static int execute(run_t *r, const cli_program_t *p)
{
    const cli_opts_t *o = r->o;
    bare_str_t *args = calloc(o->nargs + 3, sizeof *args);
    sx_str_str_map_entry_t *env = calloc(o->env.len + 1, sizeof *env);
    sx_request_payload_t req;
    memset(&req, 0, sizeof req);
    req.tag = SX_REQUEST_PAYLOAD_TAG_EXECUTE_REQUEST;
    if (!args || !env) {
        free(args);
        free(env);
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    execute_request(o, p, args, env, &req.u.execute_request);
    int st = call(r, &req, SX_RESPONSE_PAYLOAD_TAG_PROCESS_STARTED_RESPONSE);
    free(args);
    free(env);
    if (st == SE_OK)
        return 0;
    const char *name = o->what == CLI_RUN_FILE      ? o->target
                       : o->what == CLI_RUN_PROGRAM ? o->target
                                                    : "the code";
    if (st == SE_REJECTED && strncmp(r->reject_msg, "command not found", 17) == 0) {
        cli_error("%s: command not found in the VM", name);
        return CLI_EXIT_NOT_FOUND;
    }
    if (st == SE_REJECTED && strstr(r->reject_msg, ", chdir '")) {
        cli_error("--cwd %s: %s", o->cwd ? o->cwd : "", r->reject_msg);
        return CLI_EXIT_ERROR;
    }
    if (st == SE_REJECTED &&
        (strncmp(r->reject_msg, "EACCES", 6) == 0 || strncmp(r->reject_msg, "ENOEXEC", 7) == 0)) {
        cli_error("%s: cannot run it in the VM: %s", name, r->reject_msg);
        return CLI_EXIT_CANNOT_RUN;
    }
    return failed(r, "cannot start the guest", st, r->reject_code, r->reject_msg);
}

/* ---- the loop ---- */

/* Streams until the guest exits; its exit code, or an exit status of ours. */
static int supervise(run_t *r)
{
    for (;;) {
        bool more;
        int st = drain_events(r, &more);
        if (st != SE_OK)
            return failed(r, "while the guest ran", st, "", "");
        if (r->exited)
            return r->exit_code;
        if (r->want_kill) {
            if (strcmp(r->want_kill, "SIGPIPE") == 0)
                r->sigpipe_at = now_ms();
            st = kill_guest(r, r->want_kill);
            r->want_kill = NULL;
            if (st != SE_OK)
                return failed(r, "cannot signal the guest", st, "", "");
            continue;
        }

        struct pollfd fds[3] = {{se_client_event_fd(r->c), POLLIN, 0},
                                {r->sig_fd, POLLIN, 0},
                                {STDIN_FILENO, POLLIN, 0}};
        bool reading = r->stdin_open && !r->pending;
        int n = poll(fds, reading ? 3 : 2, more ? 0 : r->pending ? r->retry_ms : -1);
        if (n < 0 && errno != EINTR) {
            cli_error("poll: %s", strerror(errno));
            return CLI_EXIT_ERROR;
        }
        if (fds[1].revents & POLLIN) {
            int sig = take_signal(r);
            if (sig && on_signal(r, sig) != SE_OK) {
                cli_error("the guest did not stop; giving up on it");
                return 128 + sig;
            }
        }
        st = SE_OK;
        if (reading && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
            st = forward_stdin(r);
        else if (reading && (fds[2].revents & POLLNVAL))
            st = close_stdin(r);
        else if (r->pending && n == 0 && !more)
            st = write_stdin(r, r->pending, r->pending_len);
        if (st != SE_OK)
            return failed(r, "cannot pass standard input on", st, "", "");
    }
}

/* Notes on why the guest ended, when our own options were the cause. */
static void explain_exit(const run_t *r)
{
    const cli_opts_t *o = r->o;
    if (o->quiet)
        return;
    if (r->exit_code == 124 && (o->timeout_ms || o->cpu_ms)) {
        if (o->timeout_ms && o->cpu_ms)
            cli_error("the guest reached its time limit (--timeout %s, --cpu %s)", o->timeout_text,
                      o->cpu_text);
        else if (o->timeout_ms)
            cli_error("the guest reached its time limit (--timeout %s)", o->timeout_text);
        else
            cli_error("the guest reached its CPU time limit (--cpu %s)", o->cpu_text);
    } else if (r->exit_code == 128 + SIGKILL && o->memory && r->signals == 0 &&
               r->sigpipe_at != UINT64_MAX) {
        cli_error("the guest was killed (SIGKILL), most likely for going over --memory %s",
                  o->memory_text);
    }
}

/* Disposes the VM, closes the sidecar and waits for it. */
static int finish(run_t *r, int code)
{
    if (r->c) {
        if (r->have_vm && code != CLI_EXIT_ERROR)
            se_client_dispose_vm(r->c, r->vm, DISPOSE_MS);
        se_client_close(r->c, 0); /* closing its input makes the sidecar dispose and exit */
        r->c = NULL;
    }
    int status = reap_sidecar(r, SIDECAR_EXIT_MS);
    if (code != CLI_EXIT_ERROR && status != 0 && !r->sidecar_killed && !r->o->quiet) {
        if (WIFSIGNALED(status))
            cli_error("the sidecar was killed by signal %d", WTERMSIG(status));
        else
            cli_error("the sidecar exited with status %d", WEXITSTATUS(status));
        show_log(r);
    }
    if (r->trace) {
        if (fclose(r->trace) != 0 && !r->trace_errno)
            r->trace_errno = errno;
        r->trace = NULL;
        if (r->trace_errno) {
            cli_error("--trace: cannot write '%s': %s", r->o->trace, strerror(r->trace_errno));
            code = CLI_EXIT_ERROR;
        }
    }
    return code;
}

/* Guest exit codes outside 0..255 cannot be an exit status; they become 255, never 0. */
static int exit_status(int code)
{
    return code >= 0 && code <= 255 ? code : 255;
}

int cli_run(const cli_opts_t *o)
{
    run_t r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.sidecar = -1;
    r.log_fd = r.sig_fd = -1;

    cli_program_t prog;
    int code = load_program(o, &prog);
    char *config = code == 0 ? cli_vm_config(o, &prog) : NULL;
    if (code == 0 && !config)
        code = CLI_EXIT_ERROR;
    /* the CreateVm frame carries FILE: grow the frame limit when it needs more */
    size_t need = config ? strlen(config) + 65536 : 0;
    uint32_t max_frame = DEFAULT_FRAME_BYTES;
    if (code == 0 && need > DEFAULT_FRAME_BYTES) {
        if (need > MAX_FRAME_BYTES) {
            cli_error("%s: too large to copy into the VM (%zu bytes; the limit is about %u MiB)",
                      o->target, prog.content_len, (MAX_FRAME_BYTES / 4 * 3) >> 20);
            code = CLI_EXIT_ERROR;
        }
        max_frame = (uint32_t)((need + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1));
    }
    if (code == 0 && o->trace && open_trace(&r) != 0)
        code = CLI_EXIT_ERROR;
    if (code != 0) {
        free(config);
        free_program(&prog);
        return code;
    }

    sigset_t sigs;
    forwarded_signals(&sigs);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN); /* a reader that went away is EPIPE, handled in emit() */
    r.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (!o->verbose)
        r.log_fd = memfd_create("secure-exec-sidecar.log", MFD_CLOEXEC);
    if (r.sig_fd < 0) {
        cli_error("signalfd: %s", strerror(errno));
        code = CLI_EXIT_ERROR;
    } else if (spawn_sidecar(&r, max_frame) != 0) {
        code = CLI_EXIT_ERROR;
    }
    if (code == 0 && r.trace)
        se_client_on_frame(r.c, on_frame, &r);

    /* the handshake and the VM; a signal meanwhile ends it all as it would have the guest */
    const char *token = getenv("SECURE_EXEC_SIDECAR_TOKEN");
    int st = SE_OK, sig = 0;
    if (code == 0 &&
        (st = se_client_authenticate(r.c, "secure-exec", token ? token : "", CALL_MS)) != SE_OK)
        code = failed(&r, "cannot authenticate to the sidecar", st, se_client_rejection_code(r.c),
                      se_client_rejection_message(r.c));
    if (code == 0 && (st = se_client_open_session(r.c, CALL_MS)) != SE_OK)
        code = failed(&r, "cannot open a session", st, se_client_rejection_code(r.c),
                      se_client_rejection_message(r.c));
    if (code == 0 && !(sig = take_signal(&r))) {
        st = se_client_create_vm(r.c, SX_GUEST_RUNTIME_KIND_JAVA_SCRIPT, config, CALL_MS, r.vm,
                                 sizeof r.vm);
        if (st != SE_OK)
            code = failed(&r, "cannot create the VM", st, se_client_rejection_code(r.c),
                          se_client_rejection_message(r.c));
        else
            r.have_vm = true;
    }
    free(config);
    if (code == 0 && !sig && !(sig = take_signal(&r)))
        code = execute(&r, &prog);
    free_program(&prog);
    if (code == 0 && sig)
        code = 128 + sig;
    else if (code == 0) {
        r.stdin_open = !o->no_stdin && fcntl(STDIN_FILENO, F_GETFD) >= 0;
        if (!r.stdin_open && (st = close_stdin(&r)) != SE_OK)
            code = failed(&r, "cannot close the guest's standard input", st, "", "");
        else {
            code = supervise(&r);
            if (r.exited) {
                code = exit_status(r.exit_code);
                explain_exit(&r);
            }
        }
    }

    if (r.signals >= 3 && r.sidecar > 0) {
        /* the sidecar does not answer: its end takes the VM with it */
        kill(r.sidecar, SIGKILL);
        r.have_vm = false;
        r.sidecar_killed = true;
    }
    code = finish(&r, code);
    free(r.pending);
    if (r.log_fd >= 0)
        close(r.log_fd);
    if (r.sig_fd >= 0)
        close(r.sig_fd);
    return code;
}
