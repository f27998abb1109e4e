/*
 * sandbox.c - the hardening every guest process gets right before execve: no_new_privs, no
 * capabilities but the two file ones of a VM guest (FS_CAPS), rlimits from the VM limits,
 * Landlock (landlock.c) and a seccomp filter built with libseccomp. The caller's order is in
 * exec.h.
 *
 * Trust model: every step here takes something away from the calling process (a freshly
 * forked guest child) and nothing is driven by a request beyond numbers that only lower
 * limits. sc_sandbox_drop_caps and keep_fs_caps use one privilege (CAP_SETPCAP in the VM's
 * user namespace), only to give up the rest for good. What a VM guest keeps, CAP_DAC_OVERRIDE
 * and CAP_FOWNER, is held in the VM's user namespace only, whose ids are all host ids of the
 * sidecar's reserved range: the kernel applies them to the VM's own files and to no host file
 * (keep_fs_caps refuses a namespace that maps host id 0). They grant no new syscall (the
 * filter and Landlock hold whatever the capabilities say), no uid or gid change, no mount, no
 * chown and nothing across exec of a set-id or file-capability program (no_new_privs, an empty
 * bounding set, NOROOT).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cbproto.h"
#include "exec.h"
#include "fdio.h"

/* clang-format off */
const char *const sc_runtime_dirs[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
    "/etc/ld.so.cache", "/etc/alternatives", "/__secure_exec", SC_CB_PROGRAM, NULL,
};
/* clang-format on */

/* ---- capabilities ---- */

/* The highest capability number the kernel knows, by probing the bounding set. */
static int last_cap(void)
{
    int cap = 0;
    while (cap < 63 && prctl(PR_CAPBSET_READ, (unsigned long)cap + 1, 0, 0, 0) >= 0)
        cap++;
    return cap;
}

/*
 * The capabilities a guest keeps when sc_sandbox_spec_t.keep_fs_caps says so: the reference
 * judges file access by the fs policy alone, never by owner or mode bits (the SDK makes /tmp and
 * /home/user root-owned 0755 and then writes there as uid 1000). CAP_DAC_OVERRIDE (read, write
 * and search whatever the mode bits) and CAP_FOWNER (chmod, utimes and sticky-bit removal of
 * files of other owners) give exactly that; CAP_DAC_READ_SEARCH adds nothing DAC_OVERRIDE does
 * not already give but open_by_handle_at, and CAP_CHOWN, CAP_FSETID and every other one stay
 * out. Held in the VM's user namespace, the kernel applies them only to inodes whose uid and gid
 * are both mapped there (capable_wrt_inode_uidgid): the VM's own files. Host files (the runtime
 * directories, bind mounts, /proc and /dev nodes of the host's ids) are unmapped, so their owner
 * and mode bits hold as they do for any unprivileged user.
 */
#define FS_CAPS ((1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FOWNER))

static int capget_all(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    *eff = data[0].effective | (uint64_t)data[1].effective << 32;
    *prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
    *inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
    return 0;
}

static int capset_all(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
        {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
    };
    return (int)syscall(SYS_capset, &hdr, data);
}

int sc_sandbox_drop_caps(bool keep_fs_caps, char *err, size_t errlen)
{
    if (keep_fs_caps) {
        /*
         * Safe: the inheritable set is narrowed to the two kept capabilities (it can only be set
         * from the bounding set, hence before that is emptied); the ambient raise after the
         * uid change needs them there.
         */
        uint64_t eff, prm, inh;
        if (capget_all(&eff, &prm, &inh) != 0 || (prm & FS_CAPS) != FS_CAPS ||
            capset_all(eff, prm, FS_CAPS) != 0) {
            snprintf(err, errlen, "cannot make the file capabilities inheritable: %s",
                     strerror(errno ? errno : EPERM));
            return -1;
        }
    }
    int last = last_cap();
    for (int cap = 0; cap <= last; cap++) {
        /* Safe: dropping a bounding capability can only lower what any later exec may get. */
        if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) != 0) {
            snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", cap,
                     strerror(errno));
            return -1;
        }
    }
    /* Safe: clearing the ambient set gives up capabilities only. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
        return -1;
    }
    /*
     * Safe, and locked so nothing can undo it: uid 0 gets no capabilities from exec (NOROOT).
     * Without kept capabilities keep-caps is off and the setuid fixup on, so the uid change
     * clears them all, and no ambient capability can be raised again. With them, keep-caps is
     * on (and locked: execve clears it for good), so the permitted set survives the change to
     * uid 1000 for sc_sandbox_apply to raise the two ambient ones and drop the rest (it locks
     * the ambient raise then); and the fixup is off, because access(2) and faccessat(2)
     * without AT_EACCESS apply it too: they would clear the two for a non-root real uid, and a
     * guest's access(W_OK) or Node's existsSync would answer by the mode bits what its writes
     * do not obey. A guest cannot change its uid (no CAP_SETUID), so nothing else changes.
     */
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                         SECBIT_KEEP_CAPS_LOCKED;
    bits |= keep_fs_caps ? SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP
                         : SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) {
        snprintf(err, errlen, "cannot lock the securebits: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Every capability gone from the bounding set, or the message that says which is not. */
static int bounding_empty(char *err, size_t errlen)
{
    int last = last_cap();
    for (int cap = 0; cap <= last; cap++) {
        if (prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) == 1 &&
            prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) != 0) {
            snprintf(err, errlen,
                     "capability %d is still in the bounding set: call sc_sandbox_drop_caps "
                     "before giving up uid 0",
                     cap);
            return -1;
        }
    }
    return 0;
}

/* After the uid change: empty every set that can still be emptied, then check all are. */
static int drop_remaining_caps(char *err, size_t errlen)
{
    /* Safe: lowering the permitted, effective and inheritable sets needs no privilege. */
    if (capset_all(0, 0, 0) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
        return -1;
    }
    if (bounding_empty(err, errlen) != 0)
        return -1;
    uint64_t eff, prm, inh;
    if (capget_all(&eff, &prm, &inh) != 0 || eff || prm || inh) {
        snprintf(err, errlen, "capabilities are left after capset");
        return -1;
    }
    return 0;
}

/*
 * Whether the user namespace maps host id 0 (or its map cannot be read), from map, a /proc/self
 * uid_map or gid_map: its second column is the first id outside, in the parent namespace (the
 * host's, for a VM's namespace, whose parent is the initial one); an extent holds id 0 only
 * when it starts there. The initial namespace maps every id, 0 included.
 */
static bool maps_host_root(const char *map)
{
    char text[1024];
    if (sc_read_text_at(AT_FDCWD, map, text, sizeof text) < 0)
        return true;
    unsigned long inside, outside, count;
    int used;
    for (const char *p = text; sscanf(p, " %lu %lu %lu%n", &inside, &outside, &count, &used) == 3;
         p += used)
        if (outside == 0 && count > 0)
            return true;
    return false;
}

/*
 * After the uid change, with the permitted set sc_sandbox_drop_caps(true) kept: FS_CAPS
 * become the permitted, effective, inheritable and ambient sets (ambient: they survive execve
 * and pass to children), the ambient raise is locked, and everything else is gone for good.
 * Refused in a user namespace that maps host id 0 (the initial one above all), where the
 * capabilities would reach host files.
 */
static int keep_fs_caps(char *err, size_t errlen)
{
    uint64_t eff, prm, inh;
    if (capget_all(&eff, &prm, &inh) != 0 || (prm & FS_CAPS) != FS_CAPS) {
        snprintf(err, errlen,
                 "the file capabilities were not kept through the uid change: call "
                 "sc_sandbox_drop_caps(true) before it");
        return -1;
    }
    /* Safe: the file capabilities, already permitted, become effective before the maps are
     * read: a VM root of mode 0700 (an SDK root made by mkdtemp) is not searchable to uid 1000
     * without them. Nothing of the guest's runs before the check below decides; CAP_SETPCAP
     * only locks the securebits further down. */
    if (capset_all(FS_CAPS | 1ULL << CAP_SETPCAP, prm, FS_CAPS) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    if (maps_host_root("/proc/self/uid_map") || maps_host_root("/proc/self/gid_map")) {
        snprintf(err, errlen,
                 "refusing to keep file capabilities in a user namespace that maps "
                 "the host's root (or whose maps cannot be read)");
        return -1;
    }
    for (int cap = 0; cap < 64; cap++) {
        /* Safe: the ambient set gets only capabilities that are permitted and inheritable. */
        if ((FS_CAPS & (1ULL << cap)) &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) != 0) {
            snprintf(err, errlen, "cannot raise ambient capability %d: %s", cap, strerror(errno));
            return -1;
        }
    }
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    /* Safe: locking, never unlocking: no ambient capability can be raised again. */
    if (bits < 0 || prctl(PR_SET_SECUREBITS,
                          (unsigned long)bits | SECBIT_NO_CAP_AMBIENT_RAISE |
                              SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                          0, 0, 0) != 0) {
        snprintf(err, errlen, "cannot lock the ambient raise: %s", strerror(errno));
        return -1;
    }
    /* Safe: lowering the permitted set to the two; the ambient ones stay (still in P and I). */
    if (capset_all(FS_CAPS, FS_CAPS, FS_CAPS) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    if (bounding_empty(err, errlen) != 0)
        return -1;
    bool ambient_ok = true;
    for (int cap = 0, last = last_cap(); cap <= last; cap++) {
        int set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, (unsigned long)cap, 0, 0);
        ambient_ok = ambient_ok && set == ((FS_CAPS & (1ULL << cap)) != 0);
    }
    if (capget_all(&eff, &prm, &inh) != 0 || eff != FS_CAPS || prm != FS_CAPS || inh != FS_CAPS ||
        !ambient_ok) {
        snprintf(err, errlen, "capabilities other than the file ones are left");
        return -1;
    }
    return 0;
}

/* ---- rlimits ---- */

#if defined(__GLIBC__)
typedef __rlimit_resource_t rlimit_res_t; /* an enum with _GNU_SOURCE */
#else
typedef int rlimit_res_t;
#endif

/* Lowers a limit; never above the current hard limit (raising it would need a capability). */
static int lower_limit(rlimit_res_t resource, const char *name, rlim_t soft, rlim_t hard, char *err,
                       size_t errlen)
{
    struct rlimit cur;
    if (getrlimit(resource, &cur) != 0)
        cur.rlim_max = RLIM_INFINITY;
    if (cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max)
        hard = cur.rlim_max;
    if (soft > hard)
        soft = hard;
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    if (setrlimit(resource, &rl) != 0) {
        snprintf(err, errlen, "setrlimit %s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Open files and file size as given; CPU time in whole seconds, rounded up, with SIGXCPU at
 * the soft limit and SIGKILL a second later; no core files. Not here: RLIMIT_NPROC counts
 * every process of the host uid, which all VMs share (the caller uses the pids cgroup),
 * RLIMIT_AS (V8 reserves huge address ranges; memory is the memory cgroup's) and wall time
 * (the caller's timer).
 */
static int apply_rlimits(const sc_resource_limits_t *lim, char *err, size_t errlen)
{
    if (lower_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0, err, errlen) != 0)
        return -1;
    if (!lim)
        return 0;
    if (lim->max_open_fds && lower_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", lim->max_open_fds,
                                         lim->max_open_fds, err, errlen) != 0)
        return -1;
    if (lim->max_file_size_bytes &&
        lower_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", lim->max_file_size_bytes,
                    lim->max_file_size_bytes, err, errlen) != 0)
        return -1;
    if (lim->max_cpu_time_ms) {
        rlim_t secs = (rlim_t)(lim->max_cpu_time_ms / 1000 + (lim->max_cpu_time_ms % 1000 != 0));
        if (lower_limit(RLIMIT_CPU, "RLIMIT_CPU", secs, secs + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- seccomp ---- */

/*
 * The filter: default ALLOW (the namespaces, Landlock and the missing capabilities are the
 * walls; this closes kernel interfaces a guest never needs, most of them large attack
 * surface), and a foreign architecture (i386 int 0x80, x32) kills the process, so no rule can
 * be dodged through another syscall table.
 *
 *   syscall                                         result   why
 *   mount umount umount2 pivot_root move_mount      EPERM    the VM's mounts are fixed
 *     open_tree open_tree_attr fsopen fsconfig
 *     fsmount fspick mount_setattr chroot
 *   unshare setns                                   EPERM    a new user namespace would give
 *   clone with any CLONE_NEW* flag                  EPERM    the guest full capabilities over
 *   clone3                                          ENOSYS   new namespaces (more kernel
 *                                                            surface); clone3 passes flags in
 *                                                            memory seccomp cannot read, so
 *                                                            libc falls back to clone
 *   ptrace process_vm_readv process_vm_writev       EPERM    no access to other processes
 *     pidfd_getfd kcmp
 *   bpf perf_event_open userfaultfd                 EPERM    large kernel attack surface
 *     io_uring_setup io_uring_enter
 *     io_uring_register
 *   keyctl add_key request_key                      EPERM    the keyring is not namespaced
 *   kexec_load kexec_file_load init_module          EPERM    host administration
 *     finit_module delete_module create_module
 *     get_kernel_syms query_module reboot swapon
 *     swapoff acct syslog quotactl quotactl_fd
 *     nfsservctl vhangup iopl ioperm sethostname
 *     setdomainname settimeofday clock_settime
 *     clock_adjtime adjtimex lookup_dcookie
 *     fanotify_init lsm_set_self_attr
 *   uselib ustat sysfs _sysctl                      EPERM    obsolete
 *   name_to_handle_at open_by_handle_at             EPERM    handles bypass path checks
 *   migrate_pages move_pages                        EPERM    act on other processes' memory
 *                                                            (mbind, set_mempolicy allowed)
 *   personality, unless 0 or 0xffffffff (query)     EPERM    no READ_IMPLIES_EXEC, no ASLR off
 *   ioctl TIOCSTI TIOCLINUX                         EPERM    typing into the terminal
 *   landlock_*, seccomp                             allowed  a guest may restrict itself
 *
 * socket and socketpair are allow-lists (type = the base type, without SOCK_NONBLOCK and
 * SOCK_CLOEXEC). AF_VSOCK is not network-namespaced (it reaches the hypervisor), nor is
 * NETLINK_KOBJECT_UEVENT (the host's uevents: the VM's netns belongs to the initial user
 * namespace); every other family, and protocols such as SCTP or DCCP (the kernel autoloads
 * their modules), is attack surface a guest never needs:
 *
 *   call        family            type                   protocol       result
 *   socket      AF_UNIX           STREAM DGRAM SEQPACKET 0              allowed
 *               AF_INET AF_INET6  STREAM                 0 IPPROTO_TCP  allowed
 *               AF_INET AF_INET6  DGRAM                  0 IPPROTO_UDP  allowed
 *               AF_NETLINK        RAW DGRAM              NETLINK_ROUTE  allowed (getifaddrs;
 *                                                          no CAP_NET_ADMIN: read-only)
 *               AF_INET AF_INET6  RAW PACKET             any            EPERM (as without
 *                                                          CAP_NET_RAW)
 *               these four        another type, or another protocol     EACCES
 *               any other family                                        EAFNOSUPPORT
 *   socketpair  AF_UNIX           STREAM DGRAM SEQPACKET 0              allowed
 *               AF_UNIX           another type, or another protocol     EACCES
 *               any other family                                        EAFNOSUPPORT
 *
 * int arguments are compared on their low 32 bits only (the kernel ignores the rest, so a
 * full 64-bit equality could be dodged with junk in the upper half). The one exception is
 * SCMP_CMP_GT in a socket deny rule ("family above the highest allowed", "protocol above the
 * allowed one"): junk in the upper half makes the value larger, so it can only widen the
 * denial.
 */
typedef struct sys_rule {
    const char *name;
    int nr; /* when libseccomp 2.5 does not know it: the number (>= 424, shared by all arches) */
    int err;
} sys_rule_t;

#if defined(__alpha__)
#define NEW_NR(n) 0 /* alpha numbers the new syscalls differently */
#else
#define NEW_NR(n) (n)
#endif

/* clang-format off */
static const sys_rule_t sys_rules[] = {
    {"mount", 0, EPERM}, {"umount", 0, EPERM}, {"umount2", 0, EPERM},
    {"pivot_root", 0, EPERM}, {"move_mount", 0, EPERM}, {"open_tree", 0, EPERM},
    {"open_tree_attr", NEW_NR(467), EPERM}, {"fsopen", 0, EPERM}, {"fsconfig", 0, EPERM},
    {"fsmount", 0, EPERM}, {"fspick", 0, EPERM}, {"mount_setattr", 0, EPERM},
    {"chroot", 0, EPERM},
    {"unshare", 0, EPERM}, {"setns", 0, EPERM}, {"clone3", 0, ENOSYS},
    {"ptrace", 0, EPERM}, {"process_vm_readv", 0, EPERM}, {"process_vm_writev", 0, EPERM},
    {"pidfd_getfd", 0, EPERM}, {"kcmp", 0, EPERM},
    {"bpf", 0, EPERM}, {"perf_event_open", 0, EPERM}, {"userfaultfd", 0, EPERM},
    {"io_uring_setup", 0, EPERM}, {"io_uring_enter", 0, EPERM},
    {"io_uring_register", 0, EPERM},
    {"keyctl", 0, EPERM}, {"add_key", 0, EPERM}, {"request_key", 0, EPERM},
    {"kexec_load", 0, EPERM}, {"kexec_file_load", 0, EPERM}, {"init_module", 0, EPERM},
    {"finit_module", 0, EPERM}, {"delete_module", 0, EPERM}, {"create_module", 0, EPERM},
    {"get_kernel_syms", 0, EPERM}, {"query_module", 0, EPERM}, {"reboot", 0, EPERM},
    {"swapon", 0, EPERM}, {"swapoff", 0, EPERM}, {"acct", 0, EPERM}, {"syslog", 0, EPERM},
    {"quotactl", 0, EPERM}, {"quotactl_fd", 0, EPERM}, {"nfsservctl", 0, EPERM},
    {"vhangup", 0, EPERM}, {"iopl", 0, EPERM}, {"ioperm", 0, EPERM},
    {"sethostname", 0, EPERM}, {"setdomainname", 0, EPERM}, {"settimeofday", 0, EPERM},
    {"clock_settime", 0, EPERM}, {"clock_adjtime", 0, EPERM}, {"adjtimex", 0, EPERM},
    {"lookup_dcookie", 0, EPERM}, {"fanotify_init", 0, EPERM},
    {"lsm_set_self_attr", NEW_NR(460), EPERM},
    {"uselib", 0, EPERM}, {"ustat", 0, EPERM}, {"sysfs", 0, EPERM}, {"_sysctl", 0, EPERM},
    {"name_to_handle_at", 0, EPERM}, {"open_by_handle_at", 0, EPERM},
    {"migrate_pages", 0, EPERM}, {"move_pages", 0, EPERM},
};
/* clang-format on */

#define LOW32 0xffffffffULL

static int add(scmp_filter_ctx ctx, int err, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
    return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, n, cmp);
}

/* ---- socket and socketpair: the allow-lists of the table above ---- */

#define TYPE_BITS 0xfU /* SOCK_TYPE_MASK: the base type, without SOCK_NONBLOCK/SOCK_CLOEXEC */
#define BIT(n) (1U << (n))

/*
 * Denies (EAFNOSUPPORT) every family but the allowed bits: those above the highest allowed
 * one with SCMP_CMP_GT on all 64 bits (junk in the upper half only adds to the denial), each
 * one below it by its low 32 bits. What is left is exactly the allowed families, with a clean
 * upper half, so the rules after these see only them.
 */
static int deny_families(scmp_filter_ctx ctx, int nr, unsigned allowed, unsigned highest)
{
    /* every comparison names both data (the second unused here), or clang warns about the
     * field libseccomp's macro leaves out */
    struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_GT, highest, 0);
    int rc = add(ctx, EAFNOSUPPORT, nr, 1, &c);
    for (unsigned f = 0; rc == 0 && f < highest; f++) {
        if (allowed & BIT(f))
            continue;
        c = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, f);
        rc = add(ctx, EAFNOSUPPORT, nr, 1, &c);
    }
    return rc;
}

/* Denies for family every base type but the allowed bits: those in eperm_types with EPERM,
 * the rest with EACCES. */
static int deny_types(scmp_filter_ctx ctx, int nr, int family, unsigned allowed,
                      unsigned eperm_types)
{
    int rc = 0;
    for (unsigned t = 0; rc == 0 && t <= TYPE_BITS; t++) {
        if (allowed & BIT(t))
            continue;
        struct scmp_arg_cmp c[2] = {
            SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)family),
            SCMP_A1(SCMP_CMP_MASKED_EQ, TYPE_BITS, t),
        };
        rc = add(ctx, (eperm_types & BIT(t)) ? EPERM : EACCES, nr, 2, c);
    }
    return rc;
}

/*
 * Denies (EACCES) for family, and for base type unless it is -1 (any type), every protocol
 * but 0 and proto: those above proto with SCMP_CMP_GT on all 64 bits (junk in the upper half,
 * or a negative int sign-extended, only adds to the denial), each of 1 .. proto - 1 by its
 * low 32 bits.
 */
static int deny_protocols(scmp_filter_ctx ctx, int nr, int family, int type, unsigned proto)
{
    struct scmp_arg_cmp c[3];
    unsigned n = 0;
    c[n++] = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)family);
    if (type >= 0)
        c[n++] = SCMP_A1(SCMP_CMP_MASKED_EQ, TYPE_BITS, (uint64_t)type);
    c[n] = SCMP_A2(SCMP_CMP_GT, proto, 0);
    int rc = add(ctx, EACCES, nr, n + 1, c);
    for (unsigned p = 1; rc == 0 && p < proto; p++) {
        c[n] = SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, p);
        rc = add(ctx, EACCES, nr, n + 1, c);
    }
    return rc;
}

static const unsigned unix_types = BIT(SOCK_STREAM) | BIT(SOCK_DGRAM) | BIT(SOCK_SEQPACKET);

/*
 * Safe: every rule here denies, so a mistake can only let through a call that should have
 * been refused, never widen what the default allows (check_sandbox tries each row of the
 * table). Families first: the type and protocol rules then only see an allowed family.
 */
static int add_socket_rules(scmp_filter_ctx ctx)
{
    const int nr = SCMP_SYS(socket);
    int rc = deny_families(ctx, nr, BIT(AF_UNIX) | BIT(AF_INET) | BIT(AF_INET6) | BIT(AF_NETLINK),
                           AF_NETLINK);
    if (rc == 0)
        rc = deny_types(ctx, nr, AF_UNIX, unix_types, 0);
    if (rc == 0)
        rc = deny_protocols(ctx, nr, AF_UNIX, -1, 0);
    static const int inet[] = {AF_INET, AF_INET6};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        rc = deny_types(ctx, nr, inet[i], BIT(SOCK_STREAM) | BIT(SOCK_DGRAM),
                        BIT(SOCK_RAW) | BIT(SOCK_PACKET));
        if (rc == 0)
            rc = deny_protocols(ctx, nr, inet[i], SOCK_STREAM, IPPROTO_TCP);
        if (rc == 0)
            rc = deny_protocols(ctx, nr, inet[i], SOCK_DGRAM, IPPROTO_UDP);
    }
    if (rc == 0)
        rc = deny_types(ctx, nr, AF_NETLINK, BIT(SOCK_RAW) | BIT(SOCK_DGRAM), 0);
    if (rc == 0)
        rc = deny_protocols(ctx, nr, AF_NETLINK, -1, NETLINK_ROUTE);
    return rc;
}

static int add_socketpair_rules(scmp_filter_ctx ctx)
{
    const int nr = SCMP_SYS(socketpair);
    int rc = deny_families(ctx, nr, BIT(AF_UNIX), AF_UNIX);
    if (rc == 0)
        rc = deny_types(ctx, nr, AF_UNIX, unix_types, 0);
    if (rc == 0)
        rc = deny_protocols(ctx, nr, AF_UNIX, -1, 0);
    return rc;
}

/* The rules that look at arguments. */
static int add_arg_rules(scmp_filter_ctx ctx)
{
    int rc = 0;
    static const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
                                             CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
                                             CLONE_NEWNET};
#if defined(__s390__) || defined(__s390x__) || defined(__CRIS__)
    const unsigned clone_flags_arg = 1; /* these pass the stack first */
#else
    const unsigned clone_flags_arg = 0;
#endif
    for (size_t i = 0; rc == 0 && i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
        struct scmp_arg_cmp c = {clone_flags_arg, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]};
        rc = add(ctx, EPERM, SCMP_SYS(clone), 1, &c);
    }

    /*
     * personality: allowed for 0 and 0xffffffff only. libseccomp takes one comparison per
     * argument and rule, so "neither" is: upper 32 bits not all zero, or bit 0 different from
     * some bit k of the lower 32 (two masked rules per k); what is left is exactly the values
     * whose low 32 bits are all equal.
     */
    struct scmp_arg_cmp high = SCMP_A0(SCMP_CMP_GT, LOW32, 0);
    if (rc == 0)
        rc = add(ctx, EPERM, SCMP_SYS(personality), 1, &high);
    for (unsigned k = 1; rc == 0 && k < 32; k++) {
        uint64_t mask = 1ULL | (1ULL << k);
        struct scmp_arg_cmp only0 = SCMP_A0(SCMP_CMP_MASKED_EQ, mask, 1ULL);
        struct scmp_arg_cmp onlyk = SCMP_A0(SCMP_CMP_MASKED_EQ, mask, 1ULL << k);
        rc = add(ctx, EPERM, SCMP_SYS(personality), 1, &only0);
        if (rc == 0)
            rc = add(ctx, EPERM, SCMP_SYS(personality), 1, &onlyk);
    }

    static const unsigned long tty_ioctls[] = {TIOCSTI, TIOCLINUX};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, tty_ioctls[i]);
        rc = add(ctx, EPERM, SCMP_SYS(ioctl), 1, &c);
    }

    if (rc == 0)
        rc = add_socket_rules(ctx);
    if (rc == 0)
        rc = add_socketpair_rules(ctx);
    return rc;
}

/* Builds the filter into a libseccomp context; what failed in *what. */
static scmp_filter_ctx build_filter(const char **what, int *rcp)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    *what = "seccomp_init";
    if (!ctx) {
        *rcp = -ENOMEM;
        return NULL;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    *what = "the bad-architecture action";
    for (size_t i = 0; rc == 0 && i < sizeof sys_rules / sizeof sys_rules[0]; i++) {
        int nr = seccomp_syscall_resolve_name(sys_rules[i].name);
        if (nr == __NR_SCMP_ERROR) {
            if (sys_rules[i].nr == 0)
                continue; /* unknown to libseccomp, and to us: absent here */
            nr = sys_rules[i].nr;
        }
        *what = sys_rules[i].name;
        rc = add(ctx, sys_rules[i].err, nr, 0, NULL);
    }
    if (rc == 0) {
        *what = "the argument rules";
        rc = add_arg_rules(ctx);
    }
    *rcp = rc;
    if (rc != 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

/* The filter compiled once (sc_seccomp_prepare), as BPF, for every later apply. */
static struct sock_filter *compiled;
static unsigned short compiled_len;

int sc_seccomp_prepare(char *err, size_t errlen)
{
    const char *what;
    int rc;
    if (compiled)
        return 0;
    scmp_filter_ctx ctx = build_filter(&what, &rc);
    if (!ctx) {
        snprintf(err, errlen, "seccomp: %s: %s", what, strerror(-rc));
        return -1;
    }
    int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
    rc = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (rc != 0 || size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
        snprintf(err, errlen, "seccomp: cannot export the filter: %s",
                 strerror(rc ? -rc : EINVAL));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct sock_filter *prog = malloc((size_t)size);
    if (!prog || pread(fd, prog, (size_t)size, 0) != (ssize_t)size) {
        free(prog);
        close(fd);
        snprintf(err, errlen, "seccomp: cannot read the exported filter");
        return -1;
    }
    close(fd);
    compiled = prog;
    compiled_len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}

int sc_seccomp_apply(char *err, size_t errlen)
{
    if (compiled) {
        struct sock_fprog fprog = {compiled_len, compiled};
        /* Safe: the same filter as below, compiled earlier; it can only refuse syscalls. */
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
            snprintf(err, errlen, "seccomp: loading the filter: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    const char *what;
    int rc;
    scmp_filter_ctx ctx = build_filter(&what, &rc);
    if (ctx) {
        what = "seccomp_load";
        /* Safe: a filter can only refuse syscalls, for this process and its children. */
        rc = seccomp_load(ctx);
        seccomp_release(ctx);
    }
    if (rc != 0) {
        snprintf(err, errlen, "seccomp: %s: %s", what, strerror(-rc));
        return -1;
    }
    return 0;
}

/* ---- all of it ---- */

/*
 * Order: no_new_privs first (Landlock and seccomp need it); capabilities; Landlock while this
 * process may still open the paths its rules name; rlimits after it, so a small
 * RLIMIT_NOFILE cannot starve the ruleset's own descriptors; seccomp last.
 */
int sc_sandbox_apply(const sc_sandbox_spec_t *spec, char *err, size_t errlen)
{
    /* Safe: no_new_privs can only be set, never cleared; exec can no longer raise privilege. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    if ((spec->keep_fs_caps ? keep_fs_caps(err, errlen) : drop_remaining_caps(err, errlen)) != 0)
        return -1;
    if (sc_landlock_apply(spec, err, errlen) != 0)
        return -1;
    if (apply_rlimits(spec->limits, err, errlen) != 0)
        return -1;
    return sc_seccomp_apply(err, errlen);
}
