/*
 * check_escape.c - the sidecar attacked as a hostile guest and a hostile host would. One case
 * per breach an outside attack found (each fails on the code before its fix): host files
 * changed through a symlink swapped in during a host request, vsock and kernel uevents that
 * cross the network namespace, descendants that outlive their limits, unsafe defaults, one
 * VM stalling the others, host paths in a guest's /proc. Then the escapes that were already
 * contained, so that none comes back. Runs as root, as guest processes need.
 */
#define _GNU_SOURCE /* O_NOATIME */
#include <arpa/inet.h>
#include <check.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest_fixture.h"
#include "proc_probe.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Runs code with python3 in vm and asserts its whole output is want. */
static void py_expect(const char *vm, const char *code_text, const char *want)
{
    int code;
    const char *out = py(vm, code_text, &code);
    ck_assert_msg(strcmp(out, want) == 0, "guest printed:\n%s\nwanted:\n%s", out, want);
}

/* ------------------------------------------------------------------------------------------ */
/* 1. Host requests racing a guest that swaps names for symlinks to host paths                */

#define RACE_ATTEMPTS 1000 /* requests of each kind, while the guest swaps */

/* Victims outside the VM: a directory and a file with known mode, owner, times and content. */
typedef struct victim {
    char root[64], dir[96], file[96];
    struct stat dir_st, file_st;
} victim_t;

static void victim_make(victim_t *v)
{
    snprintf(v->root, sizeof v->root, "/tmp/escape-victim.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(v->root));
    chmod(v->root, 0755);
    snprintf(v->dir, sizeof v->dir, "%s/dir", v->root);
    snprintf(v->file, sizeof v->file, "%s/file", v->root);
    ck_assert_int_eq(mkdir(v->dir, 0700), 0);
    int fd = open(v->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "victim\n", 7), 7);
    close(fd);
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    ck_assert_int_eq(chown(v->dir, 4242, 4242), 0);
    ck_assert_int_eq(chown(v->file, 4242, 4242), 0);
    ck_assert_int_eq(chmod(v->dir, 0700), 0);
    ck_assert_int_eq(chmod(v->file, 0600), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, v->dir, old, 0), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, v->file, old, 0), 0);
    ck_assert_int_eq(stat(v->dir, &v->dir_st), 0);
    ck_assert_int_eq(stat(v->file, &v->file_st), 0);
}

/* Asserts the victims are as made: nothing of the host changed during the kind of request. */
/* Entries in dir, read without touching its atime. */
static int entries_in(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    DIR *dd = fdopendir(fd);
    ck_assert_ptr_nonnull(dd);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dd);
    return n;
}

static void victim_check(const victim_t *v, const char *kind)
{
    struct stat d, f;
    ck_assert_int_eq(stat(v->dir, &d), 0);
    ck_assert_int_eq(stat(v->file, &f), 0);
    ck_assert_msg(d.st_mode == v->dir_st.st_mode && d.st_uid == 4242 && d.st_gid == 4242 &&
                      d.st_mtim.tv_sec == v->dir_st.st_mtim.tv_sec &&
                      d.st_atim.tv_sec == v->dir_st.st_atim.tv_sec,
                  "%s changed the host directory: mode %o uid %u mtime %ld atime %ld", kind,
                  (unsigned)d.st_mode, (unsigned)d.st_uid, (long)d.st_mtim.tv_sec,
                  (long)d.st_atim.tv_sec);
    ck_assert_msg(f.st_mode == v->file_st.st_mode && f.st_uid == 4242 && f.st_gid == 4242 &&
                      f.st_size == 7 && f.st_mtim.tv_sec == v->file_st.st_mtim.tv_sec &&
                      f.st_atim.tv_sec == v->file_st.st_atim.tv_sec && f.st_nlink == 1,
                  "%s changed the host file: mode %o uid %u size %ld links %lu mtime %ld "
                  "atime %ld",
                  kind, (unsigned)f.st_mode, (unsigned)f.st_uid, (long)f.st_size,
                  (unsigned long)f.st_nlink, (long)f.st_mtim.tv_sec, (long)f.st_atim.tv_sec);
    char buf[16] = "";
    int fd = open(v->file, O_RDONLY | O_NOATIME | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, buf, sizeof buf - 1), 7);
    close(fd);
    ck_assert_str_eq(buf, "victim\n");
    /* nothing was made in the directory, or next to the victims */
    int n = entries_in(v->dir);
    ck_assert_msg(n == 0, "%s made %d entries in the host directory", kind, n);
    n = entries_in(v->root);
    ck_assert_msg(n == 2, "%s made entries next to the host victims (%d)", kind, n);
}

static void victim_remove(const victim_t *v)
{
    unlink(v->file);
    rmdir(v->dir);
    rmdir(v->root);
}

/* Whether pid's namespace has a mount whose mount point is path (mountinfo field 5). */
static bool mountinfo_point(pid_t pid, const char *path)
{
    char file[64], line[4096], mp[2048];
    snprintf(file, sizeof file, "/proc/%d/mountinfo", (int)pid);
    FILE *f = fopen(file, "re");
    ck_assert_ptr_nonnull(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "%*s %*s %*s %*s %2047s", mp) == 1 && strcmp(mp, path) == 0;
    fclose(f);
    return found;
}

/*
 * The swapper, as the guest user: /home/user/d is a directory and dl a symlink to the host's
 * victim directory, f a file and fl a symlink to the host's victim file; it exchanges each
 * pair with renameat2(RENAME_EXCHANGE) as fast as it can, and puts a symlink back whenever a
 * request replaced one.
 */
static const char swapper[] = "import ctypes, os, sys\n"
                              "libc = ctypes.CDLL(None, use_errno=True)\n"
                              "swap = libc.renameat2\n"
                              "os.chdir('/home/user')\n"
                              "vd, vf = sys.argv[1], sys.argv[2]\n"
                              "def keep(name, link, target, isdir):\n"
                              "    if not os.path.islink(name) and not os.path.islink(link):\n"
                              "        try: os.symlink(target, link)\n"
                              "        except OSError: pass\n"
                              "    if not os.path.lexists(name):\n"
                              "        try: os.mkdir(name) if isdir else open(name, 'w').close()\n"
                              "        except OSError: pass\n"
                              "print('swapping', flush=True)\n"
                              "n = 0\n"
                              "while True:\n"
                              "    swap(-100, b'd', -100, b'dl', 2)\n"
                              "    swap(-100, b'f', -100, b'fl', 2)\n"
                              "    n += 1\n"
                              "    if n % 256 == 0:\n"
                              "        keep('d', 'dl', vd, True)\n"
                              "        keep('f', 'fl', vf, False)\n";

typedef enum race_kind {
    RACE_BOOTSTRAP,
    RACE_WRITE_FILE,
    RACE_MKDIR,
    RACE_CHMOD,
    RACE_CHOWN,
    RACE_UTIMES,
    RACE_TRUNCATE,
    RACE_RENAME,
    RACE_LINK,
    RACE_SYMLINK,
    RACE_REMOVE,
    RACE_IMPORT,
    RACE_OVERLAY,
    RACE_KINDS
} race_kind_t;

static const char *const race_names[RACE_KINDS] = {"BootstrapRootFilesystem",
                                                   "WRITE_FILE",
                                                   "MKDIR",
                                                   "CHMOD",
                                                   "CHOWN",
                                                   "UTIMES",
                                                   "TRUNCATE",
                                                   "RENAME",
                                                   "LINK",
                                                   "SYMLINK",
                                                   "REMOVE_FILE",
                                                   "ImportSnapshot",
                                                   "CreateOverlay"};

static sx_root_filesystem_entry_t race_entry(const char *path, bool dir)
{
    sx_root_filesystem_entry_t e;
    sx_root_filesystem_entry_init(&e);
    e.path = bare_str_from_cstr(path);
    e.kind = dir ? SX_ROOT_FILESYSTEM_ENTRY_KIND_DIRECTORY : SX_ROOT_FILESYSTEM_ENTRY_KIND_FILE;
    e.mode.present = true;
    e.mode.value = dir ? 0777 : 0666;
    e.uid.present = e.gid.present = true; /* uid/gid 0: the guest's root */
    if (!dir) {
        e.content.present = true;
        e.content.value = bare_str_from_cstr("pwned\n");
    }
    return e;
}

/* One request of kind i (attempt n), aimed at the swapped names; its answer does not matter. */
static void race_request(const char *vm, race_kind_t kind, int n, const char *layer)
{
    sx_request_payload_t p;
    sx_response_frame_t r;
    sx_root_filesystem_entry_t entries[3];
    bare_str_t lowers[1];
    memset(&p, 0, sizeof p);
    if (kind == RACE_BOOTSTRAP || kind == RACE_IMPORT) {
        entries[0] = race_entry("/home/user/d", true);
        entries[1] = race_entry("/home/user/f", false);
        entries[2] = race_entry("/home/user/d/inside", false);
        sx_root_filesystem_entry_list_t list = {3, entries};
        if (kind == RACE_BOOTSTRAP) {
            p.tag = SX_REQUEST_PAYLOAD_TAG_BOOTSTRAP_ROOT_FILESYSTEM_REQUEST;
            p.u.bootstrap_root_filesystem_request.entries = list;
        } else {
            p.tag = SX_REQUEST_PAYLOAD_TAG_IMPORT_SNAPSHOT_REQUEST;
            p.u.import_snapshot_request.entries = list;
        }
        vm_call(vm, &p, &r);
        return;
    }
    if (kind == RACE_OVERLAY) {
        p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_OVERLAY_REQUEST;
        lowers[0] = bare_str_from_cstr(layer);
        p.u.create_overlay_request.lower_layer_ids = (sx_str_list_t){1, lowers};
        p.u.create_overlay_request.mode = SX_ROOT_FILESYSTEM_MODE_EPHEMERAL;
        vm_call(vm, &p, &r);
        return;
    }
    p.tag = SX_REQUEST_PAYLOAD_TAG_GUEST_FILESYSTEM_CALL_REQUEST;
    sx_guest_filesystem_call_request_t *q = &p.u.guest_filesystem_call_request;
    const char *on_dir = n % 2 ? "/home/user/d" : "/home/user/f";
    q->path = bare_str_from_cstr(on_dir);
    switch (kind) {
    case RACE_WRITE_FILE:
        /* a file, a new file in the swapped directory, and one whose parents it makes there */
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_WRITE_FILE;
        q->path = bare_str_from_cstr(n % 3 == 0   ? "/home/user/f"
                                     : n % 3 == 1 ? "/home/user/d/new"
                                                  : "/home/user/d/p/q/new");
        q->content.present = true;
        q->content.value = bare_str_from_cstr("pwned\n");
        break;
    case RACE_MKDIR:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_MKDIR;
        q->path = bare_str_from_cstr("/home/user/d/sub");
        q->recursive = n % 2;
        break;
    case RACE_CHMOD:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_CHMOD;
        q->mode.present = true;
        q->mode.value = 0777;
        break;
    case RACE_CHOWN:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_CHOWN;
        q->uid.present = q->gid.present = true;
        break;
    case RACE_UTIMES:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_UTIMES;
        q->atime_ms.present = q->mtime_ms.present = true;
        break;
    case RACE_TRUNCATE:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_TRUNCATE;
        q->path = bare_str_from_cstr("/home/user/f");
        q->len.present = true;
        break;
    case RACE_RENAME:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_RENAME;
        q->path = bare_str_from_cstr(n % 2 ? "/home/user/d/x" : "/home/user/f");
        q->destination_path.present = true;
        q->destination_path.value = bare_str_from_cstr(n % 2 ? "/home/user/x" : "/home/user/d/f");
        break;
    case RACE_LINK:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_LINK;
        q->path = bare_str_from_cstr("/home/user/f");
        q->destination_path.present = true;
        q->destination_path.value = bare_str_from_cstr("/home/user/d/hard");
        break;
    case RACE_SYMLINK:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_SYMLINK;
        q->path = bare_str_from_cstr("/home/user/d/s");
        q->target.present = true;
        q->target.value = bare_str_from_cstr("/etc/passwd");
        break;
    case RACE_REMOVE:
        q->operation = SX_GUEST_FILESYSTEM_OPERATION_REMOVE_FILE;
        q->path = bare_str_from_cstr(n % 2 ? "/home/user/d/new" : "/home/user/d/inside");
        break;
    default:
        break;
    }
    vm_call(vm, &p, &r);
}

START_TEST(race_host_writes_through_swapped_names)
{
    victim_t v;
    victim_make(&v);
    char cfg[2048], vm[64];
    snprintf(cfg, sizeof cfg,
             "{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": ["
             "{\"path\": \"/home/user\", \"kind\": \"directory\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/d\", \"kind\": \"directory\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/f\", \"kind\": \"file\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/dl\", \"kind\": \"symlink\", \"target\": \"%s\", "
             "\"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/fl\", \"kind\": \"symlink\", \"target\": \"%s\", "
             "\"uid\": 1000, \"gid\": 1000}]}}",
             v.dir, v.file);
    start();
    vm_new(cfg, vm);
    const char *args[] = {v.dir, v.file, NULL};
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON, swapper, args);
    ck_assert_int_eq(execute(vm, "swapper", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("swapper", &r, "swapping");

    /* a layer for the overlays */
    sx_request_payload_t p;
    sx_response_frame_t resp;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_CREATE_LAYER_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    char layer[64];
    snprintf(layer, sizeof layer, "%.*s", (int)resp.payload.u.layer_created_response.layer_id.len,
             resp.payload.u.layer_created_response.layer_id.ptr);

    for (int kind = 0; kind < RACE_KINDS; kind++) {
        for (int n = 0; n < RACE_ATTEMPTS; n++)
            race_request(vm, (race_kind_t)kind, n, layer);
        victim_check(&v, race_names[kind]);
        /* the swapper was racing all along */
        ck_assert_int_eq(r.code, -1);
    }
    ck_assert_int_eq(kill_proc(vm, "swapper", "KILL"), SE_OK);
    ck_assert(collect("swapper", &r, T));
    result_free(&r);
    vm_dispose(vm);
    stop();
    victim_check(&v, "the VM's disposal");
    victim_remove(&v);
}
END_TEST

/*
 * ConfigureVm mounts at the swapped name: every mount must land on the VM's own directory or
 * fail, never on the host's victim directory the symlink names (in the sidecar's namespace the
 * host's tree is there to be covered; a mount over it would also show the source's files in
 * the sidecar's view of it). Mounts at and under the name, and an empty ConfigureVm that
 * takes them away so that the guest can swap again.
 */
START_TEST(race_mount_points_through_swapped_names)
{
    victim_t v;
    victim_make(&v);
    char src[64], cfg[2048], vm[64], mcfg[256], view[256];
    snprintf(src, sizeof src, "/tmp/escape-source.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(src));
    snprintf(view, sizeof view, "%s/planted", src);
    int fd = open(view, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(cfg, sizeof cfg,
             "{" ALLOW_ALL ", \"rootFilesystem\": {\"bootstrapEntries\": ["
             "{\"path\": \"/home/user\", \"kind\": \"directory\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/d\", \"kind\": \"directory\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/f\", \"kind\": \"file\", \"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/dl\", \"kind\": \"symlink\", \"target\": \"%s\", "
             "\"uid\": 1000, \"gid\": 1000},"
             "{\"path\": \"/home/user/fl\", \"kind\": \"symlink\", \"target\": \"%s\", "
             "\"uid\": 1000, \"gid\": 1000}]}}",
             v.dir, v.file);
    snprintf(mcfg, sizeof mcfg, "{\"hostPath\": \"%s\"}", src);
    start();
    pid_t side = se_client_pid(c);
    vm_new(cfg, vm);
    const char *args[] = {v.dir, v.file, NULL};
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON, swapper, args);
    ck_assert_int_eq(execute(vm, "swapper", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("swapper", &r, "swapping");

    static const char *const points[] = {"/home/user/d", "/home/user/d/sub", "/home/user/dl"};
    sx_mount_descriptor_t m;
    memset(&m, 0, sizeof m);
    m.plugin.id = BARE_STR_LIT("host_dir");
    m.plugin.config = bare_str_from_cstr(mcfg);
    int mounted = 0;
    snprintf(view, sizeof view, "/proc/%d/root%s", (int)side, v.dir);
    for (int n = 0; n < RACE_ATTEMPTS / 2; n++) {
        sx_request_payload_t p;
        sx_response_frame_t resp;
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
        m.guest_path = bare_str_from_cstr(points[n % 3]);
        p.u.configure_vm_request.mounts.items = &m;
        p.u.configure_vm_request.mounts.len = 1;
        if (vm_call(vm, &p, &resp) == SE_OK) {
            mounted++;
            ck_assert_msg(!mountinfo_point(side, v.dir) && entries_in(view) == 0,
                          "a mount at %s landed on the host's victim", points[n % 3]);
        }
        /* and away again, so that the guest swaps on */
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
        ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
    }
    /* the swapper was racing all along, and some mounts landed (inside the VM) */
    ck_assert_int_eq(r.code, -1);
    ck_assert_int_gt(mounted, 0);
    victim_check(&v, "ConfigureVm");
    /* nothing is mounted on the victim in the sidecar's namespace, nor was */
    ck_assert_msg(!mountinfo_point(side, v.dir) && !mountinfo_point(side, v.root),
                  "a mount landed on the host's victim");
    ck_assert_int_eq(entries_in(view), 0);
    ck_assert_int_eq(kill_proc(vm, "swapper", "KILL"), SE_OK);
    ck_assert(collect("swapper", &r, T));
    result_free(&r);
    vm_dispose(vm);

    /* the symlinks left in place, no supervisor: refused, not followed */
    vm_new(cfg, vm);
    for (size_t i = 0; i < 2; i++) {
        sx_request_payload_t p;
        sx_response_frame_t resp;
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_CONFIGURE_VM_REQUEST;
        m.guest_path = bare_str_from_cstr(i ? "/home/user/dl/sub" : "/home/user/dl");
        p.u.configure_vm_request.mounts.items = &m;
        p.u.configure_vm_request.mounts.len = 1;
        expect_rejection(vm_call(vm, &p, &resp), "kernel_error", "ELOOP");
        ck_assert(!mountinfo_point(side, v.dir) && entries_in(view) == 0);
    }
    vm_dispose(vm);
    stop();
    victim_check(&v, "the VM's disposal");
    victim_remove(&v);
    snprintf(view, sizeof view, "%s/planted", src);
    unlink(view);
    ck_assert_int_eq(rmdir(src), 0); /* nothing was made in the source either */
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 2, 3. Sockets that are not network-namespaced                                               */

START_TEST(vsock_refused)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* the attack: bind in the host's vsock space, reach the hypervisor (CID 2) */
    py_expect(vm,
              "import ctypes, errno, socket\n"
              "try:\n"
              "    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\n"
              "    s.bind((socket.VMADDR_CID_ANY, 5000))\n"
              "    print('BOUND')\n"
              "except OSError as e:\n"
              "    print('socket', errno.errorcode[e.errno])\n"
              "try:\n"
              "    socket.socketpair(socket.AF_VSOCK)\n"
              "    print('PAIR')\n"
              "except OSError as e:\n"
              "    print('socketpair', errno.errorcode[e.errno])\n"
              "libc = ctypes.CDLL(None, use_errno=True)\n"
              "fd = libc.syscall(41, ctypes.c_long((1 << 32) | 40), 1, 0)\n"
              "print('raw', fd, errno.errorcode.get(ctypes.get_errno()))\n",
              "socket EAFNOSUPPORT\nsocketpair EAFNOSUPPORT\nraw -1 EAFNOSUPPORT\n");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(host_uevents_not_received)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                            "import errno, select, socket\n"
                            "try:\n"
                            "    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)\n"
                            "    s.bind((0, 1))\n"
                            "    print('listening', flush=True)\n"
                            "    r, _, _ = select.select([s], [], [], 3)\n"
                            "    print('RECEIVED' if r else 'nothing')\n"
                            "except OSError as e:\n"
                            "    print('socket', errno.errorcode[e.errno])\n",
                            NULL);
    ck_assert_int_eq(execute(vm, "uevent", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    /* a uevent on the host every 100 ms while the guest runs */
    for (int i = 0; i < 60 && r.code < 0; i++) {
        int fd = open("/sys/devices/virtual/mem/null/uevent", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ck_assert_int_eq(write(fd, "change", 6), 6);
            close(fd);
        }
        collect("uevent", &r, 100);
    }
    ck_assert(r.code >= 0 || collect("uevent", &r, T));
    ck_assert_msg(r.out.buf && strcmp(r.out.buf, "socket EACCES\n") == 0, "guest printed: %s",
                  r.out.buf ? r.out.buf : "");
    result_free(&r);
    vm_dispose(vm);
    stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 4. Descendants that leave their session or process group                                    */

/* How many live processes of the VM have needle in their command line (a python probe). */
static int count_procs(const char *vm, const char *needle)
{
    char script[512];
    snprintf(script, sizeof script,
             "import os\nn = 0\nme = str(os.getpid())\n"
             "for p in os.listdir('/proc'):\n"
             "    try:\n"
             "        if p.isdigit() and p != me and \\\n"
             "           b'%s' in open('/proc/%%s/cmdline' %% p, 'rb').read():\n"
             "            n += 1\n"
             "    except OSError: pass\n"
             "print(n)\n",
             needle);
    int code;
    return atoi(py(vm, script, &code));
}

/* Waits up to 3 s for no process of the VM to have needle in its command line. */
static void expect_gone(const char *vm, const char *needle, const char *what)
{
    int n = -1;
    for (int i = 0; i < 30 && (n = count_procs(vm, needle)) != 0; i++)
        msleep(100);
    ck_assert_msg(n == 0, "%s: %d process(es) with '%s' still run", what, n, needle);
}

START_TEST(wall_limit_ends_setsid_children)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxWallTimeMs\": 1000}}}", vm);
    int code;
    sh(vm, "setsid sh -c 'while :; do :; done # spin-a' & sleep 100", &code);
    ck_assert_int_eq(code, 124);
    expect_gone(vm, "spin-a", "maxWallTimeMs");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(cpu_limit_counts_the_tree)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxCpuTimeMs\": 1000}}}", vm);
    /* six children one after another, each well under the limit, together over it */
    int code;
    const char *out = sh(vm,
                         "for i in 1 2 3 4 5 6; do python3 -c 'import time\n"
                         "t = time.process_time()\n"
                         "while time.process_time() - t < 0.4: pass'; done; echo finished",
                         &code);
    ck_assert_int_eq(code, 124);
    ck_assert_ptr_null(strstr(out, "finished"));
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(exit_and_kill_end_the_tree)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* the top-level process exits: what it left behind, in any session, goes with it */
    int code;
    ck_assert_str_eq(sh(vm, "setsid sleep 1000 & (setsid sleep 1001 &); echo started", &code),
                     "started\n");
    ck_assert_int_eq(code, 0);
    expect_gone(vm, "1000", "exit");
    expect_gone(vm, "1001", "exit");
    /* KillProcess of a top-level process: its tree goes too */
    const char *args[] = {"-c", "setsid sleep 1002 & echo ready; sleep 1003", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "top", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("top", &r, "ready");
    ck_assert_int_eq(count_procs(vm, "1002"), 2); /* the shell (its -c text) and the sleep */
    ck_assert_int_eq(kill_proc(vm, "top", "SIGKILL"), SE_OK);
    ck_assert(collect("top", &r, T));
    ck_assert_int_eq(r.code, 137);
    result_free(&r);
    expect_gone(vm, "1002", "KillProcess");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(snapshot_lists_reparented)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* the subshell exits at once: its setsid child is re-parented to the VM's init */
    const char *args[] = {"-c", "(setsid sleep 1004 &); echo ready; exec sleep 1005", NULL};
    exec_opts_t o = cmd("sh", args);
    ck_assert_int_eq(execute(vm, "top", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("top", &r, "ready");
    bool found = false;
    for (int i = 0; i < 50 && !found; i++) {
        sx_request_payload_t p;
        sx_response_frame_t resp;
        memset(&p, 0, sizeof p);
        p.tag = SX_REQUEST_PAYLOAD_TAG_GET_PROCESS_SNAPSHOT_REQUEST;
        ck_assert_int_eq(vm_call(vm, &p, &resp), SE_OK);
        const sx_process_snapshot_response_t *s = &resp.payload.u.process_snapshot_response;
        for (size_t k = 0; k < s->processes.len; k++) {
            const sx_process_snapshot_entry_t *e = &s->processes.items[k];
            if (e->ppid == 1 && bare_str_eq_cstr(e->command, "sleep") && e->process_id.len > 4 &&
                memcmp(e->process_id.ptr, "top/", 4) == 0)
                found = true;
        }
        if (!found)
            msleep(20);
    }
    ck_assert_msg(found, "the re-parented sleep 1004 is not in the snapshot");
    ck_assert_int_eq(kill_proc(vm, "top", "KILL"), SE_OK);
    ck_assert(collect("top", &r, T));
    result_free(&r);
    expect_gone(vm, "1004", "KillProcess");
    vm_dispose(vm);
    stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 5. Defaults: memory, CPU, disk                                                               */

START_TEST(default_memory_limit)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    /* 1.5 GiB, every page touched: over the 1 GiB default */
    py(vm, "b = b'x' * (1536 << 20)\nprint(len(b))", &code);
    ck_assert_int_eq(code, 137);
    ck_assert_str_eq(sh(vm, "echo alive", &code), "alive\n");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(default_cpu_count)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* four spinners for a second of wall time: with cpuCount 1 they share one CPU */
    int code;
    const char *out = py(vm,
                         "import os, time\n"
                         "t0 = time.time()\n"
                         "for i in range(4):\n"
                         "    if os.fork() == 0:\n"
                         "        while time.time() - t0 < 1.5: pass\n"
                         "        os._exit(0)\n"
                         "for i in range(4): os.wait()\n"
                         "wall = time.time() - t0\n"
                         "t = os.times()\n"
                         "print('%.2f' % ((t.children_user + t.children_system) / wall))\n",
                         &code);
    ck_assert_int_eq(code, 0);
    double cpus = atof(out);
    /* at most one CPU; no lower bound but that they ran (the machine may be busy) */
    ck_assert_msg(cpus > 0.05 && cpus < 1.3, "4 spinners used %.2f CPUs (cpuCount 1)", cpus);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(dev_shm_counts_against_the_disk_limit)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxFilesystemBytes\": 16777216}}}", vm);
    int code;
    const char *out = sh(vm,
                         "head -c 33554432 /dev/zero > /dev/shm/big 2>/dev/null; echo $?; "
                         "rm -f /dev/shm/big; head -c 4194304 /dev/zero > /dev/shm/ok; echo $?",
                         &code);
    ck_assert_str_eq(out, "1\n0\n");
    vm_dispose(vm);
    stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 6. One VM must not stall the others                                                          */

/* What arrives, in order, for the dispose race below. */
typedef struct order {
    bare_arena_t arena;
    int64_t stdin_id;
    const char *vm_a, *vm_b;
    int pos_response, pos_output, pos_disposed, n;
} order_t;

static void on_frame(void *ud, se_frame_dir_t dir, const uint8_t *frame, size_t len)
{
    order_t *o = ud;
    if (dir != SE_FRAME_RECEIVED || len < 4)
        return;
    bare_reader_t r;
    sx_protocol_frame_t f;
    bare_limits_t lim = {64, 16u << 20};
    bare_reader_init(&r, frame + 4, len - 4, &o->arena, &lim);
    if (sx_protocol_frame_decode(&r, &f) != BARE_OK)
        return;
    o->n++;
    if (f.tag == SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME &&
        f.u.response_frame.request_id == o->stdin_id)
        o->pos_response = o->n;
    if (f.tag == SX_PROTOCOL_FRAME_TAG_EVENT_FRAME) {
        const sx_event_payload_t *e = &f.u.event_frame.payload;
        const sx_ownership_scope_t *own = &f.u.event_frame.ownership;
        bool from_b = own->tag == SX_OWNERSHIP_SCOPE_TAG_VM_OWNERSHIP &&
                      bare_str_eq_cstr(own->u.vm_ownership.vm_id, o->vm_b);
        if (e->tag == SX_EVENT_PAYLOAD_TAG_PROCESS_OUTPUT_EVENT &&
            bare_str_eq_cstr(e->u.process_output_event.process_id, "echo") && !o->pos_output)
            o->pos_output = o->n;
        if (e->tag == SX_EVENT_PAYLOAD_TAG_VM_LIFECYCLE_EVENT && from_b &&
            e->u.vm_lifecycle_event.state == SX_VM_LIFECYCLE_STATE_DISPOSED)
            o->pos_disposed = o->n;
    }
    bare_arena_reset(&o->arena);
}

/* A guest fills its disk with 60 MB; the host asks for a snapshot of it, which can never fit
 * a frame: refused before the sidecar reads (and holds) the guest's data. */
START_TEST(snapshot_of_a_full_vm_is_bounded)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL ", \"limits\": {\"resources\": {\"maxFilesystemBytes\": 134217728}}}", vm);
    int code;
    sh(vm, "for i in $(seq 60); do head -c 1000000 /dev/urandom > /home/user/f$i; done", &code);
    ck_assert_int_eq(code, 0);
    probe_reset_peak(se_client_pid(c)); /* the peak starts over from here */
    long before = probe_status_kib(se_client_pid(c), "VmHWM");
    sx_request_payload_t p;
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_SNAPSHOT_ROOT_FILESYSTEM_REQUEST;
    expect_rejection(vm_call(vm, &p, &r), "frame_too_large", "the frame limit is");
    long peak = probe_status_kib(se_client_pid(c), "VmHWM");
    ck_assert_msg(peak - before < 16 * 1024, "the sidecar grew by %ld KiB for a refused snapshot",
                  peak - before);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(dispose_does_not_stall_other_vms)
{
    char a[64], b[64];
    start();
    vm_new("{" ALLOW_ALL "}", a);
    vm_new("{" ALLOW_ALL "}", b);
    const char *cat_args[] = {NULL};
    exec_opts_t echo = cmd("cat", cat_args);
    ck_assert_int_eq(execute(a, "echo", &echo, NULL), SE_OK);
    /* B's guests ignore SIGTERM: its disposal waits out the whole grace */
    const char *args[] = {"-c", "trap '' TERM; echo ready; while :; do sleep 1; done", NULL};
    exec_opts_t stubborn = cmd("sh", args);
    ck_assert_int_eq(execute(b, "stubborn", &stubborn, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("stubborn", &r, "ready");
    result_free(&r);

    order_t o;
    memset(&o, 0, sizeof o);
    bare_arena_init(&o.arena, NULL, NULL);
    o.stdin_id = 900002;
    o.vm_a = a;
    o.vm_b = b;
    se_client_on_frame(c, on_frame, &o);
    /* DisposeVm(B), then at once a line for A's echo, in one go */
    sx_protocol_frame_t f;
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    f.u.request_frame.request_id = 900001;
    se_client_vm_scope(c, b, &f.u.request_frame.ownership);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_DISPOSE_VM_REQUEST;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    f.u.request_frame.request_id = o.stdin_id;
    se_client_vm_scope(c, a, &f.u.request_frame.ownership);
    f.u.request_frame.payload.tag = SX_REQUEST_PAYLOAD_TAG_WRITE_STDIN_REQUEST;
    f.u.request_frame.payload.u.write_stdin_request.process_id = bare_str_from_cstr("echo");
    f.u.request_frame.payload.u.write_stdin_request.chunk =
        (bare_bytes_t){(const uint8_t *)"ping\n", 5};
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    sx_response_frame_t resp;
    ck_assert_int_eq(se_client_wait_response(c, 900001, T, &resp), SE_OK);
    ck_assert_int_eq(se_client_wait_response(c, o.stdin_id, T, &resp), SE_OK);
    for (int i = 0; i < 100 && !o.pos_disposed; i++) {
        sx_event_frame_t ev;
        se_client_next_event(c, 100, &ev);
    }
    se_client_on_frame(c, NULL, NULL);
    bare_arena_free(&o.arena);
    ck_assert_msg(o.pos_disposed > 0, "B was never disposed");
    /* A was served while B's guests were given their grace */
    ck_assert_msg(o.pos_response > 0 && o.pos_response < o.pos_disposed,
                  "A's WriteStdin was answered at frame %d, after B's DISPOSED (%d)",
                  o.pos_response, o.pos_disposed);
    ck_assert_msg(o.pos_output > 0 && o.pos_output < o.pos_disposed,
                  "A's echo came at frame %d, after B's DISPOSED (%d)", o.pos_output,
                  o.pos_disposed);
    ck_assert_int_eq(close_stdin(a, "echo"), SE_OK);
    memset(&r, 0, sizeof r);
    r.code = -1;
    ck_assert(collect("echo", &r, T));
    result_free(&r);
    vm_dispose(a);
    stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 7. What a guest's /proc says about the host                                                 */

START_TEST(proc_shows_no_host_paths)
{
    char vm[64], own_cg[512] = "";
    /* the cgroup the sidecar will be under: ours (a path other than "/") */
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char *path = strchr(line, ':') ? strchr(strchr(line, ':') + 1, ':') : NULL;
        if (path && strlen(path) > 3) {
            snprintf(own_cg, sizeof own_cg, "%s", path + 1);
            own_cg[strcspn(own_cg, "\n")] = '\0';
        }
    }
    if (f)
        fclose(f);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    const char *out = sh(vm,
                         "cat /proc/self/mountinfo /proc/self/cgroup /proc/1/mountinfo "
                         "/proc/1/cgroup /proc/1/comm; tr '\\0' ' ' < /proc/1/cmdline; "
                         "cat /proc/1/environ 2>/dev/null",
                         &code);
    char pid_tag[64];
    snprintf(pid_tag, sizeof pid_tag, "secure-exec-%d-", (int)se_client_pid(c));
    ck_assert_msg(!strstr(out, "secure-exec-sidecar"), "the sidecar shows:\n%s", out);
    ck_assert_msg(!strstr(out, "/tmp/"), "a host path shows:\n%s", out);
    ck_assert_msg(!strstr(out, pid_tag), "the sidecar's pid shows:\n%s", out);
    ck_assert_msg(!own_cg[0] || !strstr(out, own_cg), "the host's cgroup %s shows:\n%s", own_cg,
                  out);
    ck_assert_msg(strstr(out, "secure-exec-init"), "no init title:\n%s", out);
    vm_dispose(vm);
    stop();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Escapes already contained: each probe prints "ok" when refused as it must be               */

typedef struct probe {
    const char *name;
    const char *code; /* python3; @PORT@, @SECRET@, @ABSTRACT@: the host's listeners and file */
} probe_t;

#define PY_LIBC "import ctypes, errno, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n"
#define PY_ERR "errno.errorcode.get(ctypes.get_errno())"

static const probe_t probes[] = {
    {"a host file",
     "try:\n    open('@SECRET@').read()\n    print('READ')\nexcept OSError:\n    print('ok')\n"},
    {"the host's processes", "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
                             "print('ok' if len(pids) < 8 and '1' in pids else pids)\n"},
    {"ptrace of init", PY_LIBC "r = libc.ptrace(16, 1, 0, 0)\nprint('ok' if r == -1 else r)\n"},
    {"ptrace of a sibling", PY_LIBC "r = libc.ptrace(16, os.getppid(), 0, 0)\n"
                                    "print('ok' if r == -1 else r)\n"},
    {"mount", PY_LIBC "r = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
                      "u = libc.umount2(b'/proc', 2)\nprint('ok' if r == u == -1 else (r, u))\n"},
    {"user namespaces", PY_LIBC "r = libc.unshare(0x10000000)\n"
                                "s = libc.setns(os.open('/proc/self/ns/net', 0), 0)\n"
                                "print('ok' if r == s == -1 else (r, s))\n"},
    {"bpf", PY_LIBC "r = libc.syscall(321, 5, 0, 0)\nprint('ok' if r == -1 else r)\n"},
    {"io_uring", PY_LIBC "p = ctypes.create_string_buffer(120)\nr = libc.syscall(425, 8, p)\n"
                         "print('ok' if r == -1 and " PY_ERR " == 'EPERM' else r)\n"},
    {"keyrings", PY_LIBC "r = libc.syscall(248, b'user', b'k', b'v', 1, -3)\n"
                         "print('ok' if r == -1 and " PY_ERR " == 'EPERM' else r)\n"},
    {"raw and packet sockets",
     "import socket\nr = []\nfor fam, typ in ((socket.AF_INET, socket.SOCK_RAW),\n"
     "                 (socket.AF_PACKET, socket.SOCK_RAW)):\n"
     "    try:\n        socket.socket(fam, typ, 0)\n        r.append('OPEN')\n"
     "    except OSError:\n        pass\nprint('ok' if not r else r)\n"},
    {"setuid binaries",
     "import subprocess\nnnp = 'NoNewPrivs:\\t1' in open('/proc/self/status').read()\n"
     "usr = [l for l in open('/proc/self/mountinfo') if ' /usr ' in l]\n"
     "r = subprocess.run(['su', '-c', 'id -u', 'root'], stdin=subprocess.DEVNULL,\n"
     "                   capture_output=True, text=True)\n"
     "print('ok' if nnp and usr and 'nosuid' in usr[0] and r.stdout.strip() != '0' else\n"
     "      (nnp, usr, r.stdout))\n"},
    {"TIOCSTI", PY_LIBC "r = libc.ioctl(1, 0x5412, b'x')\n"
                        "print('ok' if r == -1 and " PY_ERR " == 'EPERM' else r)\n"},
    {"core dumps",
     "import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_CORE)\n"
     "try:\n    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20))\n    up = True\n"
     "except ValueError:\n    up = False\nprint('ok' if (soft, hard) == (0, 0) and not up else "
     "(soft, hard, up))\n"},
    {"the host's loopback", "import socket\ns = socket.socket()\ns.settimeout(2)\n"
                            "try:\n    s.connect(('127.0.0.1', @PORT@))\n    print('CONNECTED')\n"
                            "except OSError:\n    print('ok')\n"},
    {"the host's abstract sockets", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
                                    "try:\n    s.connect('\\0@ABSTRACT@')\n    "
                                    "print('CONNECTED')\nexcept OSError:\n    print('ok')\n"},
    {"devices", PY_LIBC "r = libc.mknod(b'/tmp/sda', 0o60600, os.makedev(8, 0))\n"
                        "devs = sorted(os.listdir('/dev'))\n"
                        /* and the host callback program and socket, no device */
                        "print('ok' if r == -1 and devs == ['fd', 'full', 'null', 'random', "
                        "'secure-exec-callback', 'secure-exec-callback.sock', "
                        "'shm', 'stderr', 'stdin', 'stdout', 'urandom', 'zero'] else (r, devs))\n"},
    {"kernel modules and kexec", PY_LIBC "r = libc.syscall(175, 0, 0, b'')\n"
                                         "k = libc.syscall(246, 0, 0, 0, 0)\n"
                                         "print('ok' if r == k == -1 else (r, k))\n"},
    {"/sys", "import os\nprint('ok' if not os.path.exists('/sys/kernel') else 'SYS')\n"},
    {"init's root and signals",
     PY_LIBC "import signal\ntry:\n    os.listdir('/proc/1/root/')\n    ls = 'LISTED'\n"
             "except OSError:\n    ls = None\nr = libc.kill(1, signal.SIGKILL)\n"
             "print('ok' if ls is None and r == -1 else (ls, r))\n"},
    {"chroot and personality", PY_LIBC "r = libc.chroot(b'/tmp')\np = libc.personality(0x400000)\n"
                                       "print('ok' if r == p == -1 else (r, p))\n"},
    {"the runtime directories", "try:\n    open('/usr/evil', 'w')\n    print('WROTE')\n"
                                "except OSError:\n    print('ok')\n"},
    {"the sidecar's environment",
     "import glob, os\nseen = 'SIDECAR_SECRET' in os.environ\n"
     "for f in ['/proc/1/environ'] + glob.glob('/proc/[0-9]*/environ'):\n"
     "    try:\n        seen = seen or b'SIDECAR_SECRET' in open(f, 'rb').read()\n"
     "    except OSError:\n        pass\nprint('SEEN' if seen else 'ok')\n"},
};

START_TEST(contained_escapes)
{
    const probe_t *pr = &probes[_i];
    char secret[64], abstract[64], script[4096], vm[64];
    snprintf(secret, sizeof secret, "/tmp/escape-secret.XXXXXX");
    int fd = mkstemp(secret);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "TOPSECRET", 9), 9);
    close(fd);
    chmod(secret, 0644);
    /* a host loopback port and a host abstract socket, both listening */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    snprintf(abstract, sizeof abstract, "secure-exec-escape-%d", (int)getpid());
    int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {0};
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path + 1, abstract, strlen(abstract));
    ck_assert_int_eq(
        bind(us, (struct sockaddr *)&un,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract))),
        0);
    ck_assert_int_eq(listen(us, 4), 0);

    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    const char *subst[][2] = {{"@PORT@", port}, {"@SECRET@", secret}, {"@ABSTRACT@", abstract}};
    size_t k = 0;
    for (const char *q = pr->code; *q && k + 64 < sizeof script;) {
        size_t i = 0;
        while (i < 3 && strncmp(q, subst[i][0], strlen(subst[i][0])) != 0)
            i++;
        if (i < 3) {
            k += (size_t)snprintf(script + k, sizeof script - k, "%s", subst[i][1]);
            q += strlen(subst[i][0]);
        } else {
            script[k++] = *q++;
        }
    }
    script[k] = '\0';
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    const char *out = py(vm, script, &code);
    ck_assert_msg(strcmp(out, "ok\n") == 0, "%s: the guest got through: %s", pr->name, out);
    vm_dispose(vm);
    stop();
    close(ls);
    close(us);
    unlink(secret);
}
END_TEST

/*
 * Guests hold CAP_DAC_OVERRIDE and CAP_FOWNER in their VM's user namespace, so that owner and
 * mode bits do not limit them in their VM's own files. Host files stay as their owner and mode
 * bits say (their ids are not mapped there, so the kernel does not apply the capabilities), and
 * the capabilities open no other door: a host directory 0700 and a host file 0600 under the
 * read-only /usr, chown to an unmapped or another id, /proc/sys, init's /proc files, the /dev
 * the supervisor made, a uid change.
 */
START_TEST(file_caps_reach_no_host_file)
{
    char dir[64], file[64], inner[96], script[4096], vm[64];
    snprintf(dir, sizeof dir, "/usr/lib/secure-exec-escape.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0700), 0);
    snprintf(inner, sizeof inner, "%s/secret", dir);
    int fd = open(inner, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "TOPSECRET", 9), 9);
    close(fd);
    snprintf(file, sizeof file, "/usr/lib/secure-exec-escape-file.XXXXXX");
    fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "TOPSECRET", 9), 9);
    close(fd);
    ck_assert_int_eq(chmod(file, 0600), 0);
    snprintf(script, sizeof script,
             "import os\n"
             "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
             "open('/tmp/mine', 'w').close()\n"
             "got = []\n"
             "def t(name, fn):\n"
             "    try:\n        fn()\n        got.append(name)\n"
             "    except OSError:\n        pass\n"
             "t('host file 0600', lambda: open('%s').read())\n"
             "t('host dir 0700', lambda: os.listdir('%s'))\n"
             "t('file in host dir 0700', lambda: open('%s').read())\n"
             "t('write /usr/bin', lambda: open('/usr/bin/secure-exec-x', 'w'))\n"
             "t('chmod /usr/lib', lambda: os.chmod('/usr/lib', 0o777))\n"
             "t('chown unmapped', lambda: os.chown('/tmp/mine', 70000, 70000))\n"
             "t('chown root', lambda: os.chown('/tmp/mine', 0, 0))\n"
             "t('/proc/sys', lambda: open('/proc/sys/kernel/hostname', 'w').write('x'))\n"
             "t('/proc/sys/vm', lambda: open('/proc/sys/vm/drop_caches', 'w').write('1'))\n"
             "t('sysrq', lambda: open('/proc/sysrq-trigger', 'w').write('h'))\n"
             "t('init environ', lambda: open('/proc/1/environ', 'rb').read())\n"
             "t('init fds', lambda: os.listdir('/proc/1/fd'))\n"
             "t('/dev', lambda: open('/dev/secure-exec-x', 'w'))\n"
             "t('setuid', lambda: os.setuid(0))\n"
             "t('setgid', lambda: os.setgid(0))\n"
             "want = ['CapEff:\\t000000000000000a\\n']\n"
             "print('ok' if caps == want and not got else (caps, got))\n",
             file, dir, inner);
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    int code;
    const char *out = py(vm, script, &code);
    bool ok = strcmp(out, "ok\n") == 0;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", out);
    vm_dispose(vm);
    stop();
    unlink(inner);
    rmdir(dir);
    unlink(file);
    ck_assert_msg(ok, "the guest got through: %s", copy);
}
END_TEST

START_TEST(other_vms_out_of_reach)
{
    char a[64], b[64];
    start();
    vm_new("{" ALLOW_ALL "}", a);
    vm_new("{" ALLOW_ALL "}", b);
    exec_opts_t o = runtime(SX_GUEST_RUNTIME_KIND_PYTHON,
                            "import socket, time\nopen('/tmp/a-file', 'w').write('secret-a')\n"
                            "s = socket.socket()\ns.bind(('127.0.0.1', 7777))\ns.listen()\n"
                            "print('up', flush=True)\ntime.sleep(1006)\n",
                            NULL);
    ck_assert_int_eq(execute(a, "a-proc", &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output("a-proc", &r, "up\n");
    /* b sees neither a's processes nor its files, nor reaches its loopback */
    ck_assert_int_eq(count_procs(b, "1006"), 0);
    int code;
    sh(b, "cat /tmp/a-file", &code);
    ck_assert_int_ne(code, 0);
    py_expect(b,
              "import socket\ns = socket.socket()\ns.settimeout(2)\n"
              "try:\n    s.connect(('127.0.0.1', 7777))\n    print('CONNECTED')\n"
              "except OSError:\n    print('ok')\n",
              "ok\n");
    ck_assert_int_eq(kill_proc(a, "a-proc", "KILL"), SE_OK);
    ck_assert(collect("a-proc", &r, T));
    result_free(&r);
    vm_dispose(a);
    vm_dispose(b);
    stop();
}
END_TEST

static Suite *escape_suite(void)
{
    Suite *s = suite_create("escape");
    TCase *t = tcase_create("breaches");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, race_host_writes_through_swapped_names);
    tcase_add_test(t, race_mount_points_through_swapped_names);
    tcase_add_test(t, vsock_refused);
    tcase_add_test(t, host_uevents_not_received);
    tcase_add_test(t, wall_limit_ends_setsid_children);
    tcase_add_test(t, cpu_limit_counts_the_tree);
    tcase_add_test(t, exit_and_kill_end_the_tree);
    tcase_add_test(t, snapshot_lists_reparented);
    tcase_add_test(t, default_memory_limit);
    tcase_add_test(t, default_cpu_count);
    tcase_add_test(t, dev_shm_counts_against_the_disk_limit);
    tcase_add_test(t, snapshot_of_a_full_vm_is_bounded);
    tcase_add_test(t, dispose_does_not_stall_other_vms);
    tcase_add_test(t, proc_shows_no_host_paths);
    suite_add_tcase(s, t);
    t = tcase_create("contained");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, contained_escapes, 0, (int)ARRAY_LEN(probes));
    tcase_add_test(t, file_caps_reach_no_host_file);
    tcase_add_test(t, other_vms_out_of_reach);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(escape_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
