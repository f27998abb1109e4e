/*
 * rootfs.c - PRIVILEGED: VM roots as overlayfs mounts in the sidecar's private namespace. Each
 * VM gets a tmpfs sized by its limits (maxFilesystemBytes, maxInodeCount) holding its upper
 * directory, its snapshot lowers and its layers; the shared base (or the minimal root) is the
 * lowest layer. Guest processes and GuestFilesystemCall use this same tree.
 *
 * Trust model: every path mounted or created here is built by the sidecar from its own state
 * directory and the VM id it allocated; nothing from a request reaches a mount call. Entry
 * contents from the host are written with sc_entries_apply, which resolves inside the tree,
 * and so is the one file the sidecar adds of its own, a fixed /etc/hosts where the root has
 * none. A lower directory named twice is mounted once. All mounts are nosuid and nodev.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "supervisor.h"

#define MAX_LOWERS 64

static const sc_entry_t minimal_entries[] = {
#define D(p) {p, SC_ENTRY_DIRECTORY, 0755, 0, 0, NULL, 0, false, SC_ENCODING_UTF8, NULL, false}
    D("/"), D("/dev"), D("/proc"), D("/tmp"), D("/bin"), D("/lib"), D("/sbin"), D("/boot"),
    D("/etc"), D("/root"), D("/run"), D("/srv"), D("/sys"), D("/opt"), D("/mnt"), D("/media"),
    D("/home"), D("/usr"), D("/usr/bin"), D("/usr/games"), D("/usr/include"), D("/usr/lib"),
    D("/usr/libexec"), D("/usr/man"), D("/usr/local"), D("/usr/local/bin"), D("/usr/sbin"),
    D("/usr/share"), D("/usr/share/man"), D("/var"), D("/var/cache"), D("/var/empty"),
    D("/var/lib"), D("/var/lock"), D("/var/log"), D("/var/run"), D("/var/spool"), D("/var/tmp"),
    D("/etc/agentos"),
#undef D
    {"/usr/bin/env", SC_ENTRY_FILE, 0644, 0, 0, NULL, 0, false, SC_ENCODING_UTF8, NULL, false},
};

const sc_entry_t *sc_minimal_root(size_t *n)
{
    *n = sizeof minimal_entries / sizeof minimal_entries[0];
    return minimal_entries;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Makes dir and builds entries in it. */
static int build_tree(const sc_host_t *host, const char *dir, const sc_entry_t *entries,
                      size_t n, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = sc_entries_apply(host, fd, entries, n, 0, false, err, errlen);
    close(fd);
    return rc;
}

int sc_host_build_layers(sc_host_t *host, const sc_entry_list_t *base, char *err, size_t errlen)
{
    size_t nmin;
    const sc_entry_t *min = sc_minimal_root(&nmin);
    host->base_dir = path_join(host->state_dir, "base");
    host->minimal_dir = path_join(host->state_dir, "minimal");
    char *vms = path_join(host->state_dir, "vms");
    int rc = -1;
    if (!host->base_dir || !host->minimal_dir || !vms)
        snprintf(err, errlen, "out of memory");
    else if (mkdir(vms, 0700) != 0)
        snprintf(err, errlen, "cannot create %s: %s", vms, strerror(errno));
    else if (build_tree(host, host->base_dir, base->items, base->len, err, errlen) == 0 &&
             build_tree(host, host->minimal_dir, min, nmin, err, errlen) == 0)
        rc = 0;
    free(vms);
    return rc;
}

/* Appends a path to overlay options, escaping the separators overlayfs uses. */
static bool opt_path(char *opts, size_t cap, size_t *len, const char *path)
{
    for (const char *p = path; *p; p++) {
        if (*len + 3 >= cap)
            return false;
        if (*p == ':' || *p == ',' || *p == '\\')
            opts[(*len)++] = '\\';
        opts[(*len)++] = *p;
    }
    opts[*len] = '\0';
    return true;
}

static bool opt_text(char *opts, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 >= cap)
        return false;
    memcpy(opts + *len, text, n + 1);
    *len += n;
    return true;
}

/* With rel, path relative to the state directory when it is below it; else path itself. */
static const char *layer_path(const sc_host_t *host, bool rel, const char *path)
{
    if (!rel)
        return path;
    size_t n = strlen(host->state_dir);
    if (strncmp(path, host->state_dir, n) != 0)
        return path;
    if (path[n] == '\0')
        return ".";
    return path[n] == '/' && path[n + 1] != '\0' ? path + n + 1 : path;
}

size_t sc_lowers_dedupe(const char **lowers, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(lowers[j], lowers[i]) == 0;
        if (!seen)
            lowers[kept++] = lowers[i];
    }
    return kept;
}

/* The overlay's options; paths relative to the state directory when rel. */
static bool overlay_options(const sc_host_t *host, bool rel, char *opts, size_t cap,
                            const char *const *lowers, size_t nlowers, const char *upper,
                            const char *work)
{
    size_t len = 0;
    bool ok = opt_text(opts, cap, &len, "lowerdir=");
    for (size_t i = 0; ok && i < nlowers; i++)
        ok = (i == 0 || opt_text(opts, cap, &len, ":")) &&
             opt_path(opts, cap, &len, layer_path(host, rel, lowers[i]));
    if (ok && upper)
        ok = opt_text(opts, cap, &len, ",upperdir=") &&
             opt_path(opts, cap, &len, layer_path(host, rel, upper)) &&
             opt_text(opts, cap, &len, ",workdir=") &&
             opt_path(opts, cap, &len, layer_path(host, rel, work));
    /* Inside a user namespace overlayfs keeps whiteouts in user.* xattrs. */
    if (ok && !host->privileged)
        ok = opt_text(opts, cap, &len, ",userxattr");
    return ok;
}

int sc_overlay_mount(const sc_host_t *host, const char *target, const char *const *lowers,
                     size_t nlowers, const char *upper, const char *work, char *err,
                     size_t errlen)
{
    /*
     * overlayfs shows its options in /proc/<pid>/mountinfo as they were given, and a guest
     * reads its own: with absolute paths it would learn the sidecar's host paths. So the
     * overlay is mounted from the state directory as the working directory, with every
     * layer below it given relative to it ("lowerdir=vms/vm-1/lower-0:base,upperdir=..."; a
     * path elsewhere stays absolute, and everything does when the directory change fails).
     * The sidecar is single-threaded, so nothing else runs while the working directory is
     * not its own; it goes back before this returns, on every path.
     */
    char opts[4000];
    int here = -1, state = -1;
    bool rel = false;
    if (host->state_dir) {
        here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        state = here >= 0 ? open(host->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        rel = state >= 0 && fchdir(state) == 0;
    }
    int rc = -1;
    if (!overlay_options(host, rel, opts, sizeof opts, lowers, nlowers, upper, work)) {
        snprintf(err, errlen, "too many layers for one overlay (%zu)", nlowers);
    } else {
        /* Safe: every path here was made by the sidecar under its private state directory. */
        unsigned long flags = MS_NOSUID | MS_NODEV | (upper ? 0 : MS_RDONLY);
        if (mount("overlay", target, "overlay", flags, opts) == 0)
            rc = 0;
        else
            snprintf(err, errlen, "cannot mount the overlay on %s: %s", target, strerror(errno));
    }
    if (rel && fchdir(here) != 0)
        sc_warn("cannot return to the working directory: %s", strerror(errno));
    if (state >= 0)
        close(state);
    if (here >= 0)
        close(here);
    return rc;
}

/* Reference §1.1 import limits: entries and bytes the descriptor brings. */
static int check_import(const sc_vmconfig_t *cfg, char *err, size_t errlen)
{
    uint64_t entries = cfg->root.nbootstrap, bytes = 0;
    for (size_t i = 0; i < cfg->root.nbootstrap; i++)
        bytes += cfg->root.bootstrap[i].content_len +
                 (cfg->root.bootstrap[i].target ? strlen(cfg->root.bootstrap[i].target) : 0);
    for (size_t l = 0; l < cfg->root.nlowers; l++) {
        const sc_lower_t *lw = &cfg->root.lowers[l];
        entries += lw->nentries;
        for (size_t i = 0; i < lw->nentries; i++)
            bytes += lw->entries[i].content_len +
                     (lw->entries[i].target ? strlen(lw->entries[i].target) : 0);
    }
    if (entries > cfg->resources.max_inode_count) {
        snprintf(err, errlen,
                 "root filesystem: root filesystem descriptor contains %llu entries, exceeding "
                 "limit %llu",
                 (unsigned long long)entries, (unsigned long long)cfg->resources.max_inode_count);
        return -1;
    }
    if (bytes > cfg->resources.max_filesystem_bytes) {
        snprintf(err, errlen,
                 "root filesystem: root filesystem descriptor contains %llu bytes, exceeding "
                 "limit %llu",
                 (unsigned long long)bytes, (unsigned long long)cfg->resources.max_filesystem_bytes);
        return -1;
    }
    if (cfg->root.nlowers + 1 > MAX_LOWERS) {
        snprintf(err, errlen, "root filesystem: at most %d lowers are supported, got %zu",
                 MAX_LOWERS - 1, cfg->root.nlowers);
        return -1;
    }
    return 0;
}

/* The upper's "/" takes the mode and owner of the highest lower's "/". */
static void copy_root_attrs(const char *from, const char *to)
{
    struct stat st;
    if (stat(from, &st) == 0) {
        chmod(to, st.st_mode & 07777);
        lchown(to, st.st_uid, st.st_gid);
    }
}

/*
 * Guest processes see /proc, /dev and the host's runtime directories mounted over the VM's
 * own directories of those names (supervisor.c); a root that lacks one gets it here, empty,
 * owned by the guest's root, as any Linux root has them.
 */
static int add_mount_points(const sc_host_t *host, int rootfd, char *err, size_t errlen)
{
    static const char *const own[] = {"/proc", "/dev", NULL};
    const char *const *lists[] = {own, sv_runtime_binds};
    for (size_t l = 0; l < 2; l++) {
        for (const char *const *p = lists[l]; *p; p++) {
            struct stat st;
            if (l == 1 && (stat(*p, &st) != 0 || !S_ISDIR(st.st_mode)))
                continue; /* not on this host */
            if (fstatat(rootfd, *p + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                continue;
            if (mkdirat(rootfd, *p + 1, 0755) != 0 || sc_owner_set(host, rootfd, *p + 1, 0, 0) != 0) {
                snprintf(err, errlen, "cannot create the mount point %s: %s", *p, strerror(errno));
                return -1;
            }
        }
    }
    return 0;
}

/*
 * localhost resolves in every VM: guests resolve names with the host's C library, which finds
 * localhost in /etc/hosts only (the VM has no DNS server), and neither the bundled base nor an
 * SDK's root brings one. A root without any /etc/hosts (nothing at that name, not even a
 * symlink) gets this one, root-owned 0644 as on any Linux, once, at creation: it is then an
 * ordinary file of the VM, which guests may edit, snapshots list and a snapshot restores (a
 * root that has one, from a lower, a bootstrap entry or a restored snapshot, keeps its own).
 */
static const char hosts_text[] = "127.0.0.1\tlocalhost\n"
                                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                 "127.0.1.1\tsecure-exec\n";

static void add_hosts_file(const sc_host_t *host, const char *vm_id, int rootfd)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, rootfd, "etc/hosts", &how, sizeof how);
    if (fd >= 0 || errno != ENOENT) {
        if (fd >= 0)
            close((int)fd);
        return; /* there, or /etc is no directory: the root's own business */
    }
    sc_entry_t e;
    memset(&e, 0, sizeof e);
    e.path = "/etc/hosts";
    e.kind = SC_ENTRY_FILE;
    e.mode = 0644;
    e.content = (const uint8_t *)hosts_text;
    e.content_len = sizeof hosts_text - 1;
    e.has_content = true;
    /* A convenience: a root too full for it (its limits are the config's) still is one. */
    char why[512];
    if (sc_entries_apply(host, rootfd, &e, 1, 0, true, why, sizeof why) != 0)
        sc_warn("%s: cannot add /etc/hosts: %s", vm_id, why);
}

int sc_vmfs_create(const sc_host_t *host, const char *vm_id, const sc_vmconfig_t *cfg,
                   sc_vmfs_t *fs, char *err, size_t errlen)
{
    char sub[64], opts[128], vms[SC_PATH_MAX];
    memset(fs, 0, sizeof *fs);
    fs->root_fd = fs->dir_fd = -1;
    if (check_import(cfg, err, errlen) != 0)
        return -1;

    snprintf(vms, sizeof vms, "%s/vms", host->state_dir);
    fs->dir = path_join(vms, vm_id);
    fs->root_dir = fs->dir ? path_join(fs->dir, "root") : NULL;
    if (!fs->root_dir) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (mkdir(fs->dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", fs->dir, strerror(errno));
        goto fail;
    }
    /*
     * Safe: a tmpfs on the directory just made for this VM. Its size and inode count are the
     * VM's limits, so a guest filling its disk hits ENOSPC without touching anyone else's.
     */
    /* Directories cost tmpfs no data pages, so the byte limit needs no slack; the few
     * internal directories (upper, work, layers, lowers) get a few inodes. */
    snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%llu,mode=0755",
             (unsigned long long)cfg->resources.max_filesystem_bytes,
             (unsigned long long)cfg->resources.max_inode_count + 16);
    if (mount("secure-exec-vm", fs->dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        snprintf(err, errlen, "cannot mount the VM's tmpfs: %s", strerror(errno));
        rmdir(fs->dir);
        goto fail;
    }
    fs->dir_fd = open(fs->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    char *upper = path_join(fs->dir, "upper"), *work = path_join(fs->dir, "work");
    char *layers = path_join(fs->dir, "layers");
    const char *lowers[MAX_LOWERS];
    char *owned[MAX_LOWERS];
    size_t nl = 0, nowned = 0;
    int rc = -1;
    if (!upper || !work || !layers || mkdir(upper, 0755) != 0 || mkdir(work, 0700) != 0 ||
        mkdir(layers, 0700) != 0 || mkdir(fs->root_dir, 0755) != 0) {
        snprintf(err, errlen, "cannot prepare the VM's directories: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < cfg->root.nlowers; i++) {
        const sc_lower_t *lw = &cfg->root.lowers[i];
        if (lw->kind == SC_LOWER_BUNDLED_BASE) {
            lowers[nl++] = host->base_dir;
            continue;
        }
        snprintf(sub, sizeof sub, "lower-%zu", i);
        char *dir = path_join(fs->dir, sub);
        if (!dir)
            goto out;
        owned[nowned++] = dir;
        sc_entry_t *sorted = malloc((lw->nentries ? lw->nentries : 1) * sizeof *sorted);
        if (!sorted)
            goto out;
        memcpy(sorted, lw->entries, lw->nentries * sizeof *sorted);
        sc_entries_sort(sorted, lw->nentries);
        char why[512];
        int brc = build_tree(host, dir, sorted, lw->nentries, why, sizeof why);
        free(sorted);
        if (brc != 0) {
            snprintf(err, errlen, "root filesystem: lowers[%zu]: %s", i, why);
            goto out;
        }
        lowers[nl++] = dir;
    }
    /* The default base comes last even when a lower names it already (the reference then has
     * it twice, the later copy showing nothing the first does not): mounted once, where the
     * config puts it. */
    if (!cfg->root.disable_default_base_layer)
        lowers[nl++] = host->base_dir;
    nl = sc_lowers_dedupe(lowers, nl);
    if (nl == 0)
        lowers[nl++] = host->minimal_dir;
    copy_root_attrs(lowers[0], upper);
    if (sc_overlay_mount(host, fs->root_dir, lowers, nl, upper, work, err, errlen) != 0)
        goto out;
    fs->root_fd = open(fs->root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fs->root_fd < 0) {
        snprintf(err, errlen, "cannot open the VM root: %s", strerror(errno));
        goto out;
    }
    if (cfg->root.nbootstrap) {
        sc_entry_t *sorted = malloc(cfg->root.nbootstrap * sizeof *sorted);
        char why[512];
        if (!sorted)
            goto out;
        memcpy(sorted, cfg->root.bootstrap, cfg->root.nbootstrap * sizeof *sorted);
        sc_entries_sort(sorted, cfg->root.nbootstrap);
        int brc = sc_entries_apply(host, fs->root_fd, sorted, cfg->root.nbootstrap, 0, true, why,
                                   sizeof why);
        free(sorted);
        if (brc != 0) {
            snprintf(err, errlen, "root filesystem: %s", why);
            goto out;
        }
    }
    if (host->privileged && add_mount_points(host, fs->root_fd, err, errlen) != 0)
        goto out;
    add_hosts_file(host, vm_id, fs->root_fd);
    if (cfg->root.read_only) {
        /* Safe: a read-only bind of the VM root onto itself; writes then fail with EROFS. */
        if (mount(fs->root_dir, fs->root_dir, NULL, MS_BIND, NULL) != 0 ||
            mount(NULL, fs->root_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  NULL) != 0) {
            snprintf(err, errlen, "cannot make the VM root read-only: %s", strerror(errno));
            goto out;
        }
        fs->ro_bind = true;
        fs->read_only = true;
        close(fs->root_fd);
        fs->root_fd = open(fs->root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fs->root_fd < 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(upper);
    free(work);
    free(layers);
    if (rc == 0)
        return 0;
fail:
    sc_vmfs_destroy(host, fs);
    return -1;
}

void sc_vmfs_release(sc_vmfs_t *fs)
{
    if (fs->root_fd >= 0)
        close(fs->root_fd);
    if (fs->dir_fd >= 0)
        close(fs->dir_fd);
    fs->root_fd = fs->dir_fd = -1;
}

int sc_vmfs_unmount(const sc_vmfs_t *fs)
{
    /* Detach: a guest process still holding the tree cannot keep the mount busy. */
    if (fs->root_dir)
        while (umount2(fs->root_dir, MNT_DETACH) == 0)
            ;
    if (!fs->dir)
        return 0;
    while (umount2(fs->dir, MNT_DETACH) == 0)
        ;
    return rmdir(fs->dir) != 0 && errno != ENOENT ? errno : 0;
}

void sc_vmfs_free(sc_vmfs_t *fs)
{
    free(fs->root_dir);
    free(fs->dir);
    memset(fs, 0, sizeof *fs);
    fs->root_fd = fs->dir_fd = -1;
}

void sc_vmfs_destroy(const sc_host_t *host, sc_vmfs_t *fs)
{
    (void)host;
    sc_vmfs_release(fs);
    int err = sc_vmfs_unmount(fs);
    if (err)
        sc_warn("cannot remove %s: %s", fs->dir, strerror(err));
    sc_vmfs_free(fs);
}
