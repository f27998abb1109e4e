/*
 * cbview.c - PRIVILEGED: the host callback commands in a VM's guest view. Guests see the
 * host's /usr/bin (and /bin, the same directory on a merged-/usr host) through an overlay of
 * their VM's own: the host's directory as its only lower layer, an upper directory in the
 * VM's tmpfs holding one small script per alias ("#!/dev/secure-exec-callback"). The sidecar
 * keeps that overlay mounted, writable, in its private namespace (the VM's directory, cbbin)
 * and writes the scripts through it, so a command registered while guests run appears at once
 * in their read-only copies of the same mount (supervisor.c). The program those scripts name,
 * secure-exec-callback, is copied once into the state directory and bound, like the VM's
 * callback socket, into each supervisor's /dev.
 *
 * Trust model: every path here is the sidecar's own (the state directory, the VM's private
 * directory, the host's /usr/bin); an alias is a file name checked by RegisterHostCallbacks
 * (no '/', not "." or "..", no NUL, at most 255 bytes) and is only ever created, through the
 * overlay, beside the host's files, never over them: a host program of the same name is
 * hidden by a whiteout in the upper directory, the host's /usr/bin itself never changes.
 * Guests only see read-only, nosuid, nodev copies of the overlay.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callbacks.h"
#include "fdio.h"
#include "log.h"
#include "sidecar.h"

#ifndef SC_LIBEXECDIR
#define SC_LIBEXECDIR "/usr/local/libexec/secure-exec"
#endif
#define PROGRAM_NAME "secure-exec-callback"

/* The state directory's copy of the program ("" until made; "-" when it cannot be). */
static char program_copy[PATH_MAX];

/* The installed program: next to the sidecar (the build tree: build/ and build/san/), in
 * ../libexec/secure-exec beside its bin/, then where make install puts it. */
static bool find_program(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"/" PROGRAM_NAME, "/../" PROGRAM_NAME,
                                          "/../libexec/secure-exec/" PROGRAM_NAME};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, len, "%s%s", exe, rel[i]);
            if (access(buf, X_OK) == 0)
                return true;
        }
    }
    snprintf(buf, len, "%s/%s", SC_LIBEXECDIR, PROGRAM_NAME);
    return access(buf, X_OK) == 0;
}

/* Copies the program into the state directory once, so that guests' mount tables name the
 * sidecar's tmpfs and not wherever the program is installed. */
static const char *program(const sc_host_t *host)
{
    if (program_copy[0])
        return program_copy[0] == '-' ? NULL : program_copy;
    char src[PATH_MAX], dst[PATH_MAX];
    snprintf(program_copy, sizeof program_copy, "-");
    if (!find_program(src, sizeof src)) {
        sc_warn("no %s program (looked beside the sidecar and in %s): guests get no host "
                "callback commands",
                PROGRAM_NAME, SC_LIBEXECDIR);
        return NULL;
    }
    snprintf(dst, sizeof dst, "%s/%s", host->state_dir, PROGRAM_NAME);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    /* Safe: a new file in the sidecar's private state directory, nothing followed. */
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
    bool ok = in >= 0 && out >= 0;
    char buf[65536];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        ok = sc_write_all(out, buf, (size_t)n) == 0;
    }
    ok = ok && fchmod(out, 0755) == 0;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (!ok) {
        sc_warn("cannot copy %s to %s: %s: guests get no host callback commands", src, dst,
                strerror(errno));
        unlink(dst);
        return NULL;
    }
    snprintf(program_copy, sizeof program_copy, "%s", dst);
    return program_copy;
}

static bool is_installed(const sc_callbacks_t *cb, const char *alias)
{
    for (size_t i = 0; i < cb->ninstalled; i++)
        if (strcmp(cb->installed[i], alias) == 0)
            return true;
    return false;
}

int sc_cb_view_install(sc_vm_t *vm, const char *alias, char *err, size_t errlen)
{
    sc_callbacks_t *cb = vm->callbacks;
    if (!cb || !cb->view || is_installed(cb, alias))
        return 0; /* no guest view yet: sc_cb_view_prepare writes every alias when it makes it */
    if (cb->ninstalled == cb->capinstalled) {
        size_t cap = cb->capinstalled ? 2 * cb->capinstalled : 16;
        char **l = realloc(cb->installed, cap * sizeof *l);
        if (!l) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        cb->installed = l;
        cb->capinstalled = cap;
    }
    char *name = strdup(alias);
    if (!name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    static const char script[] = "#!" SC_CB_PROGRAM "\n";
    /* Safe: alias is a single file name (checked at registration), created in the overlay the
     * sidecar mounted; a host program of that name is hidden (a whiteout), never touched. */
    if (unlinkat(cb->bin_fd, alias, 0) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s%s cannot be replaced: %s", SC_CB_BIN_DIR "/", alias,
                 strerror(errno));
        free(name);
        return -1;
    }
    int fd = openat(cb->bin_fd, alias, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
    if (fd < 0 || sc_write_all(fd, script, sizeof script - 1) != 0 || fchmod(fd, 0755) != 0) {
        snprintf(err, errlen, "cannot write %s/%s: %s", SC_CB_BIN_DIR, alias, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlinkat(cb->bin_fd, alias, 0);
        }
        free(name);
        return -1;
    }
    close(fd);
    cb->installed[cb->ninstalled++] = name;
    return 0;
}

void sc_cb_view_uninstall(sc_vm_t *vm, const char *alias)
{
    sc_callbacks_t *cb = vm->callbacks;
    for (size_t i = 0; cb && i < cb->ninstalled; i++) {
        if (strcmp(cb->installed[i], alias) != 0)
            continue;
        /* A host program it hid stays hidden (the whiteout outlives the file): only a write
         * error of a later alias of the same request gets here. */
        unlinkat(cb->bin_fd, alias, 0);
        free(cb->installed[i]);
        cb->installed[i] = cb->installed[--cb->ninstalled];
        return;
    }
}

typedef struct install_ctx {
    sc_vm_t *vm;
    int failed;
} install_ctx_t;

static void install_one(void *ud, const char *alias)
{
    install_ctx_t *x = ud;
    char why[512];
    if (sc_cb_view_install(x->vm, alias, why, sizeof why) != 0) {
        sc_warn("%s: the command %s: %s", x->vm->id, alias, why);
        x->failed++;
    }
}

/* The overlay, once per VM; 0, or -1 with a message. */
static int make_overlay(sc_server_t *srv, sc_vm_t *vm, sc_callbacks_t *cb, char *err, size_t errlen)
{
    char real[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], bin[PATH_MAX];
    if (!realpath(SC_CB_BIN_DIR, real)) {
        snprintf(err, errlen, "no %s on this host: %s", SC_CB_BIN_DIR, strerror(errno));
        return -1;
    }
    snprintf(upper, sizeof upper, "%s/cbupper", vm->fs.dir);
    snprintf(work, sizeof work, "%s/cbwork", vm->fs.dir);
    snprintf(bin, sizeof bin, "%s/cbbin", vm->fs.dir);
    /* Safe: directories the sidecar makes in the VM's private tmpfs. */
    if ((mkdirat(vm->fs.dir_fd, "cbupper", 0755) != 0 && errno != EEXIST) ||
        (mkdirat(vm->fs.dir_fd, "cbwork", 0700) != 0 && errno != EEXIST) ||
        (mkdirat(vm->fs.dir_fd, "cbbin", 0755) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot prepare the commands' directories: %s", strerror(errno));
        return -1;
    }
    const char *lowers[] = {real};
    if (sc_overlay_mount(srv->host, bin, lowers, 1, upper, work, err, errlen) != 0)
        return -1;
    cb->bin_fd = open(bin, O_PATH | O_DIRECTORY | O_CLOEXEC);
    cb->bin_dir = strdup(bin);
    if (cb->bin_fd < 0 || !cb->bin_dir) {
        snprintf(err, errlen, "cannot open the commands' overlay: %s", strerror(errno));
        return -1;
    }
    cb->view = true;
    install_ctx_t x = {vm, 0};
    sc_callbacks_each_alias(cb, install_one, &x);
    return 0;
}

void sc_cb_view_prepare(sc_server_t *srv, sc_vm_t *vm, const char **bin_dir, const char **prog,
                        const char **socket_path)
{
    *bin_dir = *prog = *socket_path = NULL;
    if (!srv->host || !srv->host->privileged || !vm->has_fs)
        return;
    sc_callbacks_t *cb = sc_callbacks_of(vm);
    const char *p = program(srv->host);
    char err[512];
    if (!cb || !p)
        return;
    if (!cb->view && make_overlay(srv, vm, cb, err, sizeof err) != 0) {
        sc_warn("%s: guests get no host callback commands: %s", vm->id, err);
        return;
    }
    if (sc_cb_listen(srv, vm, err, sizeof err) != 0) {
        sc_warn("%s: guests get no host callback commands: %s", vm->id, err);
        return;
    }
    *bin_dir = cb->bin_dir;
    *prog = p;
    *socket_path = cb->socket_path;
}

void sc_cb_view_close(sc_vm_t *vm)
{
    sc_callbacks_t *cb = vm->callbacks;
    if (!cb)
        return;
    /* the overlay itself goes with the VM's tmpfs (sc_vmfs_unmount detaches both) */
    if (cb->bin_fd >= 0)
        close(cb->bin_fd);
    cb->bin_fd = -1;
    for (size_t i = 0; i < cb->ninstalled; i++)
        free(cb->installed[i]);
    free(cb->installed);
    cb->installed = NULL;
    cb->ninstalled = cb->capinstalled = 0;
    free(cb->bin_dir);
    free(cb->socket_path);
    cb->bin_dir = cb->socket_path = NULL;
    cb->view = false;
}
