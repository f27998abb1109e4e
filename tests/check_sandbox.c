/*
 * check_sandbox.c - sidecar/sandbox/sandbox.c, landlock.c and cgroup.c, for real: every test forks a
 * throwaway child that hardens itself and then tries the forbidden thing, reporting through
 * its exit status. Runs as root. The seccomp cases run each call twice, as root without the
 * filter (it must work) and with it (it must fail); the guest cases drop to uid 1000 exactly
 * as the sidecar's guest child does, on a tree in a temporary directory whose absolute paths
 * the policies name (Landlock works on real paths, so guest paths = host paths here).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "fs.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GUEST_ID 1000

/* What a child's attempt came to: its exit status. */
enum {
    GOT_OK,
    GOT_EPERM,
    GOT_ENOSYS,
    GOT_EACCES,
    GOT_EXDEV,
    GOT_EAFNOSUPPORT,
    GOT_OTHER = 9,
    GOT_SETUP = 100
};

static int outcome(long rc)
{
    if (rc >= 0)
        return GOT_OK;
    switch (errno) {
    case EPERM:
        return GOT_EPERM;
    case ENOSYS:
        return GOT_ENOSYS;
    case EACCES:
        return GOT_EACCES;
    case EXDEV:
        return GOT_EXDEV;
    case EAFNOSUPPORT:
        return GOT_EAFNOSUPPORT;
    default:
        fprintf(stderr, "child: unexpected errno %s\n", strerror(errno));
        return GOT_OTHER;
    }
}

/* In a child: reports a failed expectation and makes the child's status non-zero. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: child: %s (errno: %s)\n", __FILE__, __LINE__, #cond,           \
                    strerror(errno));                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

typedef int body_fn(const void *arg);

static int wait_for(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static int exit_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    fprintf(stderr, "child killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
    return -1;
}

/* As root, in a private mount namespace (so a mount that works leaks nowhere), with or
 * without the seccomp filter. */
static int run_root(body_fn *fn, const void *arg, bool filtered)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            _exit(GOT_SETUP);
        if (filtered && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                         sc_seccomp_apply(err, sizeof err) != 0)) {
            fprintf(stderr, "seccomp: %s\n", err);
            _exit(GOT_SETUP);
        }
        _exit(fn(arg));
    }
    return exit_code(wait_for(pid));
}

/* The guest child's steps: drop the bounding set, become uid/gid 1000, sandbox, run fn. */
static int guest_child(const sc_sandbox_spec_t *spec, bool drop_caps, body_fn *fn, const void *arg)
{
    char err[512];
    if (drop_caps && sc_sandbox_drop_caps(false, err, sizeof err) != 0) {
        fprintf(stderr, "drop caps: %s\n", err);
        return GOT_SETUP;
    }
    gid_t gid = GUEST_ID;
    if (setgroups(1, &gid) != 0 || setresgid(GUEST_ID, GUEST_ID, GUEST_ID) != 0 ||
        setresuid(GUEST_ID, GUEST_ID, GUEST_ID) != 0)
        return GOT_SETUP;
    if (sc_sandbox_apply(spec, err, sizeof err) != 0) {
        fprintf(stderr, "sandbox: %s\n", err);
        return GOT_SETUP + 1;
    }
    return fn(arg);
}

/* The raw wait status of a guest child. */
static int run_guest_status(const sc_sandbox_spec_t *spec, body_fn *fn, const void *arg)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(guest_child(spec, true, fn, arg));
    return wait_for(pid);
}

static int run_guest(const sc_sandbox_spec_t *spec, body_fn *fn, const void *arg)
{
    return exit_code(run_guest_status(spec, fn, arg));
}

/* ------------------------------------------------------------------------------------------ */
/* seccomp: each call works as root without the filter and fails with it                       */

static int do_mount(const void *arg)
{
    (void)arg;
    return outcome(mount("none", "/mnt", "tmpfs", 0, NULL));
}

static int do_unshare_user(const void *arg)
{
    (void)arg;
    return outcome(unshare(CLONE_NEWUSER));
}

static int do_setns(const void *arg)
{
    (void)arg;
    int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return GOT_SETUP;
    return outcome(setns(fd, CLONE_NEWUTS));
}

static int do_traceme(const void *arg)
{
    (void)arg;
    return outcome(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int do_ptrace_attach(const void *arg)
{
    (void)arg;
    pid_t victim = fork();
    if (victim == 0) {
        pause();
        _exit(0);
    }
    int r = outcome(ptrace(PTRACE_SEIZE, victim, NULL, NULL));
    kill(victim, SIGKILL);
    wait_for(victim);
    return r;
}

static int do_bpf(const void *arg)
{
    (void)arg;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return outcome(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
}

static int do_keyctl(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1));
}

static int do_add_key(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_add_key, "user", "sandbox-test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

static int do_perf(const void *arg)
{
    (void)arg;
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    pe.disabled = 1;
    return outcome(syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
}

static int do_io_uring(const void *arg)
{
    (void)arg;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    return outcome(syscall(SYS_io_uring_setup, 4, &p));
}

static int do_userfaultfd(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_userfaultfd, O_CLOEXEC));
}

static int do_raw_inet(const void *arg)
{
    (void)arg;
    return outcome(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
}

static int do_raw_inet6_cloexec(const void *arg)
{
    (void)arg;
    return outcome(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
}

/* The kernel reads the domain as an int: junk in the upper half must not dodge the rule. */
static int do_raw_inet_high_bits(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_socket, (1UL << 32) | AF_INET, SOCK_RAW, IPPROTO_ICMP));
}

static int do_packet(const void *arg)
{
    (void)arg;
    return outcome(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
}

static int do_clone_newns(const void *arg)
{
    (void)arg;
    long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        _exit(0);
    int r = outcome(pid);
    if (pid > 0)
        wait_for((pid_t)pid);
    return r;
}

static int do_clone3(const void *arg)
{
    (void)arg;
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0)
        _exit(0);
    int r = outcome(pid);
    if (pid > 0)
        wait_for((pid_t)pid);
    return r;
}

static int do_personality_aslr(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_personality, (unsigned long)ADDR_NO_RANDOMIZE));
}

static int do_personality_high(const void *arg)
{
    (void)arg;
    return outcome(syscall(SYS_personality, 1UL << 32));
}

static int do_kexec(const void *arg)
{
    (void)arg;
    /* as root without the filter: EINVAL (no segments) rather than success, so not in the
     * table; with it EPERM before the kernel looks at the arguments */
    return outcome(syscall(SYS_kexec_load, 0, 0, NULL, 0));
}

static int do_tiocsti(const void *arg)
{
    unsigned long high = arg ? 1UL << 32 : 0;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
        return GOT_SETUP;
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    if (s < 0)
        return GOT_SETUP;
    char c = 'x';
    return outcome(syscall(SYS_ioctl, s, high | TIOCSTI, &c));
}

static const struct {
    const char *name;
    body_fn *fn;
    const void *arg;
    int filtered; /* the outcome with the filter */
} denied_calls[] = {
    {"mount", do_mount, NULL, GOT_EPERM},
    {"unshare(CLONE_NEWUSER)", do_unshare_user, NULL, GOT_EPERM},
    {"setns", do_setns, NULL, GOT_EPERM},
    {"ptrace(PTRACE_TRACEME)", do_traceme, NULL, GOT_EPERM},
    {"ptrace(PTRACE_SEIZE)", do_ptrace_attach, NULL, GOT_EPERM},
    {"bpf", do_bpf, NULL, GOT_EPERM},
    {"keyctl", do_keyctl, NULL, GOT_EPERM},
    {"add_key", do_add_key, NULL, GOT_EPERM},
    {"perf_event_open", do_perf, NULL, GOT_EPERM},
    {"io_uring_setup", do_io_uring, NULL, GOT_EPERM},
    {"userfaultfd", do_userfaultfd, NULL, GOT_EPERM},
    {"socket(AF_INET, SOCK_RAW)", do_raw_inet, NULL, GOT_EPERM},
    {"socket(AF_INET6, SOCK_RAW|SOCK_CLOEXEC)", do_raw_inet6_cloexec, NULL, GOT_EPERM},
    {"socket(AF_INET|1<<32, SOCK_RAW)", do_raw_inet_high_bits, NULL, GOT_EPERM},
    {"socket(AF_PACKET)", do_packet, NULL, GOT_EAFNOSUPPORT},
    {"clone(CLONE_NEWNS)", do_clone_newns, NULL, GOT_EPERM},
    {"clone3", do_clone3, NULL, GOT_ENOSYS},
    {"personality(ADDR_NO_RANDOMIZE)", do_personality_aslr, NULL, GOT_EPERM},
    {"personality(1<<32)", do_personality_high, NULL, GOT_EPERM},
    {"ioctl(TIOCSTI)", do_tiocsti, NULL, GOT_EPERM},
    {"ioctl(TIOCSTI|1<<32)", do_tiocsti, "high", GOT_EPERM},
};

START_TEST(test_seccomp_denies)
{
    body_fn *fn = denied_calls[_i].fn;
    const void *arg = denied_calls[_i].arg;
    ck_assert_msg(run_root(fn, arg, false) == GOT_OK, "%s fails without the filter",
                  denied_calls[_i].name);
    int got = run_root(fn, arg, true);
    ck_assert_msg(got == denied_calls[_i].filtered, "%s under the filter: %d, want %d",
                  denied_calls[_i].name, got, denied_calls[_i].filtered);
}
END_TEST

START_TEST(test_seccomp_kexec)
{
    ck_assert_int_eq(run_root(do_kexec, NULL, true), GOT_EPERM);
}
END_TEST

/* What stays allowed: fork, exec, the personality query and 0, NUMA policy, Landlock. */
static int allowed_calls(const void *arg)
{
    (void)arg;
    EXPECT(syscall(SYS_personality, 0xffffffffUL) >= 0);
    EXPECT(syscall(SYS_personality, 0UL) >= 0);
    EXPECT(syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0) == 0);
    EXPECT(syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* VERSION */) > 0);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(s >= 0);
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT(s >= 0);
    close(s);
    pid_t pid = fork();
    EXPECT(pid >= 0);
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int st = wait_for(pid);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

START_TEST(test_seccomp_allows)
{
    ck_assert_int_eq(run_root(allowed_calls, NULL, true), 0);
}
END_TEST

/*
 * socket and socketpair under the filter: the allow-lists. Only with the filter (unlike
 * denied_calls): without it many of these families would make the kernel load modules, and
 * which ones exist depends on the kernel's configuration.
 */
typedef struct sock_case {
    const char *name;
    bool pair;            /* socketpair, not socket */
    unsigned long family; /* as the register holds it: junk in the upper half is a case */
    int type;
    int protocol;
    int want; /* 0: a socket (or pair) made, then closed; else the errno, or DENIED: any */
} sock_case_t;

#define DENIED (-1) /* with junk in the upper half more than one denial may apply */

#define JUNK (1UL << 32)
#define NB_CE (SOCK_NONBLOCK | SOCK_CLOEXEC)
#define FAM(f) ((unsigned long)(long)(f)) /* sign-extended, as libc passes an int */

static const sock_case_t sock_cases[] = {
    /* allowed */
    {"AF_UNIX STREAM", false, AF_UNIX, SOCK_STREAM, 0, 0},
    {"AF_UNIX DGRAM", false, AF_UNIX, SOCK_DGRAM, 0, 0},
    {"AF_UNIX SEQPACKET|NONBLOCK|CLOEXEC", false, AF_UNIX, SOCK_SEQPACKET | NB_CE, 0, 0},
    {"AF_INET STREAM", false, AF_INET, SOCK_STREAM, 0, 0},
    {"AF_INET STREAM|NONBLOCK|CLOEXEC IPPROTO_TCP", false, AF_INET, SOCK_STREAM | NB_CE,
     IPPROTO_TCP, 0},
    {"AF_INET DGRAM", false, AF_INET, SOCK_DGRAM, 0, 0},
    {"AF_INET DGRAM|NONBLOCK|CLOEXEC IPPROTO_UDP", false, AF_INET, SOCK_DGRAM | NB_CE, IPPROTO_UDP,
     0},
    {"AF_INET6 STREAM", false, AF_INET6, SOCK_STREAM, 0, 0},
    {"AF_INET6 STREAM|CLOEXEC IPPROTO_TCP", false, AF_INET6, SOCK_STREAM | SOCK_CLOEXEC,
     IPPROTO_TCP, 0},
    {"AF_INET6 DGRAM|NONBLOCK|CLOEXEC", false, AF_INET6, SOCK_DGRAM | NB_CE, 0, 0},
    {"AF_INET6 DGRAM IPPROTO_UDP", false, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 0},
    {"AF_NETLINK RAW NETLINK_ROUTE", false, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0},
    {"AF_NETLINK DGRAM|CLOEXEC NETLINK_ROUTE", false, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
     NETLINK_ROUTE, 0},
    {"AF_UNIX STREAM", true, AF_UNIX, SOCK_STREAM, 0, 0},
    {"AF_UNIX DGRAM|CLOEXEC", true, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0},
    {"AF_UNIX SEQPACKET", true, AF_UNIX, SOCK_SEQPACKET, 0, 0},
    /* families: not namespaced, or attack surface */
    {"AF_VSOCK", false, AF_VSOCK, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"AF_VSOCK|1<<32", false, JUNK | AF_VSOCK, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"AF_INET|1<<32 SEQPACKET", false, JUNK | AF_INET, SOCK_SEQPACKET, 0, DENIED},
    {"AF_PACKET", false, AF_PACKET, SOCK_RAW, 0, EAFNOSUPPORT},
    {"AF_ALG", false, AF_ALG, SOCK_SEQPACKET, 0, EAFNOSUPPORT},
    {"AF_KEY", false, AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */, EAFNOSUPPORT},
    {"AF_BLUETOOTH", false, AF_BLUETOOTH, SOCK_RAW, 0, EAFNOSUPPORT},
    {"AF_CAN", false, AF_CAN, SOCK_RAW, 1 /* CAN_RAW */, EAFNOSUPPORT},
    {"AF_XDP", false, AF_XDP, SOCK_RAW, 0, EAFNOSUPPORT},
    {"AF_TIPC", false, AF_TIPC, SOCK_RDM, 0, EAFNOSUPPORT},
    {"AF_RDS", false, AF_RDS, SOCK_SEQPACKET, 0, EAFNOSUPPORT},
    {"AF_UNSPEC", false, AF_UNSPEC, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"family 64", false, 64, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"family 0x7fffffff", false, 0x7fffffff, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"family -1", false, FAM(-1), SOCK_STREAM, 0, EAFNOSUPPORT},
    {"AF_INET", true, AF_INET, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"AF_VSOCK", true, AF_VSOCK, SOCK_STREAM, 0, EAFNOSUPPORT},
    {"AF_NETLINK", true, AF_NETLINK, SOCK_RAW, 0, EAFNOSUPPORT},
    {"AF_UNIX|1<<32", true, JUNK | AF_UNIX, SOCK_STREAM, 0, EAFNOSUPPORT},
    /* an allowed family, a type or protocol that is not */
    {"AF_NETLINK DGRAM NETLINK_KOBJECT_UEVENT", false, AF_NETLINK, SOCK_DGRAM,
     NETLINK_KOBJECT_UEVENT, EACCES},
    {"AF_NETLINK RAW NETLINK_AUDIT", false, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, EACCES},
    {"AF_NETLINK STREAM", false, AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE, EACCES},
    {"AF_INET STREAM IPPROTO_SCTP", false, AF_INET, SOCK_STREAM, IPPROTO_SCTP, EACCES},
    {"AF_INET6 STREAM IPPROTO_MPTCP", false, AF_INET6, SOCK_STREAM, 262, EACCES},
    {"AF_INET STREAM IPPROTO_UDP", false, AF_INET, SOCK_STREAM, IPPROTO_UDP, EACCES},
    {"AF_INET STREAM protocol -1", false, AF_INET, SOCK_STREAM, -1, EACCES},
    {"AF_INET DGRAM IPPROTO_UDPLITE", false, AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, EACCES},
    {"AF_INET DGRAM IPPROTO_TCP", false, AF_INET, SOCK_DGRAM, IPPROTO_TCP, EACCES},
    {"AF_INET DGRAM IPPROTO_ICMP (ping)", false, AF_INET, SOCK_DGRAM, IPPROTO_ICMP, EACCES},
    {"AF_INET SEQPACKET", false, AF_INET, SOCK_SEQPACKET, 0, EACCES},
    {"AF_INET6 SEQPACKET|CLOEXEC IPPROTO_SCTP", false, AF_INET6, SOCK_SEQPACKET | SOCK_CLOEXEC,
     IPPROTO_SCTP, EACCES},
    {"AF_INET DCCP", false, AF_INET, SOCK_DCCP, 0, EACCES},
    {"AF_UNIX RAW", false, AF_UNIX, SOCK_RAW, 0, EACCES},
    {"AF_UNIX STREAM protocol PF_UNIX", false, AF_UNIX, SOCK_STREAM, PF_UNIX, EACCES},
    {"AF_UNIX RAW", true, AF_UNIX, SOCK_RAW, 0, EACCES},
    /* raw: what the kernel says without CAP_NET_RAW */
    {"AF_INET RAW", false, AF_INET, SOCK_RAW, IPPROTO_ICMP, EPERM},
    {"AF_INET6 RAW|NONBLOCK|CLOEXEC", false, AF_INET6, SOCK_RAW | NB_CE, IPPROTO_ICMPV6, EPERM},
    {"AF_INET PACKET", false, AF_INET, SOCK_PACKET, 0, EPERM},
};

/* In a child under the filter: 0 if the call made its socket(s) (closed again), or errno. */
static int sock_attempt(const void *arg)
{
    const sock_case_t *c = arg;
    int fds[2] = {-1, -1};
    /* int arguments as libc passes them: sign-extended to the register's width */
    if (c->pair) {
        if (syscall(SYS_socketpair, c->family, (long)c->type, (long)c->protocol, fds) != 0)
            return errno;
        EXPECT(fds[0] >= 0 && fds[1] >= 0);
        close(fds[1]);
    } else {
        long fd = syscall(SYS_socket, c->family, (long)c->type, (long)c->protocol);
        if (fd < 0)
            return errno;
        fds[0] = (int)fd;
    }
    close(fds[0]);
    return 0;
}

START_TEST(test_seccomp_socket_allow_list)
{
    const sock_case_t *c = &sock_cases[_i];
    int got = run_root(sock_attempt, c, true);
    bool ok = c->want == DENIED ? got > 0 && got < GOT_SETUP : got == c->want;
    const char *want = c->want == DENIED ? "any errno" : strerror(c->want);
    ck_assert_msg(ok, "%s %s under the filter: %d (%s), want %d (%s)",
                  c->pair ? "socketpair" : "socket", c->name, got, got ? strerror(got) : "made",
                  c->want, c->want ? want : "made");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* The guest sandbox: a tree, policies naming it, uid 1000                                      */

static char root[64]; /* the tree: pub/a.txt secret/s.txt only.txt other.txt rw/ */

static char *at(const char *rel)
{
    static char bufs[8][PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, PATH_MAX, "%s/%s", root, rel);
    return b;
}

static void put(const char *rel, const char *text, mode_t mode)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(chown(at(rel), GUEST_ID, GUEST_ID), 0);
}

static void dir(const char *rel)
{
    ck_assert_int_eq(mkdir(at(rel), 0755), 0);
    ck_assert_int_eq(chown(at(rel), GUEST_ID, GUEST_ID), 0);
}

static void build_tree(void)
{
    snprintf(root, sizeof root, "/tmp/check_sandbox.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(chmod(root, 0755), 0);
    ck_assert_int_eq(chown(root, GUEST_ID, GUEST_ID), 0);
    dir("pub");
    dir("secret");
    dir("rw");
    put("pub/a.txt", "hello", 0644);
    put("secret/s.txt", "secret", 0644);
    put("only.txt", "only", 0644);
    put("other.txt", "other", 0644);
    put("rw/existing.txt", "old", 0644);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(void)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A policy built rule by rule: fs rules with one pattern each, "%R" standing for root. */
static struct {
    sc_policy_t policy;
    sc_perm_rule_t rules[16];
    const char *ops[16][8];
    char opbuf[16][64];
    char pats[16][PATH_MAX];
    const char *pat_ptrs[16];
} pol;

static const sc_policy_t *policy_new(sc_perm_mode_t fs_default)
{
    memset(&pol, 0, sizeof pol);
    for (int i = 0; i < SC_DOMAIN_COUNT; i++)
        pol.policy.domains[i].default_mode = SC_PERM_DENY;
    pol.policy.domains[SC_DOMAIN_FS].default_mode = fs_default;
    pol.policy.domains[SC_DOMAIN_FS].rules = pol.rules;
    return &pol.policy;
}

static void rule(sc_perm_mode_t mode, const char *ops, const char *pattern)
{
    sc_perm_scope_t *fs = &pol.policy.domains[SC_DOMAIN_FS];
    size_t i = fs->nrules++;
    ck_assert_uint_lt(i, 16);
    sc_perm_rule_t *r = &pol.rules[i];
    r->mode = mode;
    snprintf(pol.opbuf[i], sizeof pol.opbuf[i], "%s", ops);
    for (char *save = NULL, *t = strtok_r(pol.opbuf[i], ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        pol.ops[i][r->noperations++] = t;
    r->operations = pol.ops[i];
    const char *mark = strstr(pattern, "%R");
    int n = mark ? snprintf(pol.pats[i], PATH_MAX, "%.*s%s%s", (int)(mark - pattern), pattern, root,
                            mark + 2)
                 : snprintf(pol.pats[i], PATH_MAX, "%s", pattern);
    ck_assert_int_lt(n, PATH_MAX);
    pol.pat_ptrs[i] = pol.pats[i];
    r->patterns = &pol.pat_ptrs[i];
    r->npatterns = 1;
}

static sc_sandbox_spec_t spec_of(const sc_policy_t *p, sc_fs_access_t access)
{
    sc_sandbox_spec_t s = {.policy = p, .fs_access = access, .allow_loopback_tcp = true};
    return s;
}

static int try_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return outcome(fd);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n >= 0 ? GOT_OK : GOT_OTHER;
}

static int try_write(const char *path, int flags)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return outcome(fd);
    ssize_t n = write(fd, "new", 3);
    close(fd);
    return n == 3 ? GOT_OK : GOT_OTHER;
}

static int try_opendir(const char *path)
{
    return outcome(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* Reads: the paths given as "path=outcome" pairs until NULL. */
typedef struct reads {
    const char *path[4];
    int want[4];
} reads_t;

static int check_reads(const void *arg)
{
    const reads_t *r = arg;
    for (int i = 0; i < 4 && r->path[i]; i++) {
        int got = try_read(r->path[i]);
        if (got != r->want[i]) {
            fprintf(stderr, "child: read %s: %d, want %d\n", r->path[i], got, r->want[i]);
            return 1;
        }
    }
    return 0;
}

START_TEST(test_policy_read)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/pub/**");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t r = {{at("pub/a.txt"), at("secret/s.txt"), at("only.txt"), "/etc/ld.so.cache"},
                 {GOT_OK, GOT_EACCES, GOT_EACCES, GOT_OK}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
}
END_TEST

START_TEST(test_policy_absent_denies_all)
{
    sc_sandbox_spec_t s = spec_of(NULL, SC_FS_ACCESS_POLICY);
    reads_t r = {{at("pub/a.txt"), at("only.txt")}, {GOT_EACCES, GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
}
END_TEST

/* A single star may match some paths below pub but not all: nothing is granted (fail closed). */
START_TEST(test_policy_single_star_not_granted)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/pub/*");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t denied = {{at("pub/a.txt")}, {GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &denied), 0);

    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/pub/**");
    reads_t allowed = {{at("pub/a.txt")}, {GOT_OK}};
    ck_assert_int_eq(run_guest(&s, check_reads, &allowed), 0);
}
END_TEST

/* A later DENY below an allowed subtree makes the whole subtree MIXED: not granted. */
START_TEST(test_policy_later_deny)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/**");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t before = {{at("pub/a.txt"), at("secret/s.txt")}, {GOT_OK, GOT_OK}};
    ck_assert_int_eq(run_guest(&s, check_reads, &before), 0);

    rule(SC_PERM_DENY, "read", "%R/secret/**");
    reads_t after = {{at("pub/a.txt"), at("secret/s.txt")}, {GOT_EACCES, GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &after), 0);

    /* ... and an ALLOW covering everything again after it wins (last match) */
    rule(SC_PERM_ALLOW, "*", "/**");
    reads_t again = {{at("pub/a.txt"), at("secret/s.txt")}, {GOT_OK, GOT_OK}};
    ck_assert_int_eq(run_guest(&s, check_reads, &again), 0);
}
END_TEST

/* ASK is a denial, whole-tree or partial. */
START_TEST(test_policy_ask_denies)
{
    policy_new(SC_PERM_ASK);
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t r = {{at("pub/a.txt")}, {GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
    policy_new(SC_PERM_ALLOW);
    rule(SC_PERM_ASK, "read", "%R/pub/a.txt");
    reads_t r2 = {{at("pub/a.txt"), at("other.txt")}, {GOT_EACCES, GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r2), 0);
}
END_TEST

/* A glob-free pattern naming a regular file grants that file alone. */
START_TEST(test_policy_exact_file)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/only.txt");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t r = {{at("only.txt"), at("other.txt"), at("pub/a.txt")},
                 {GOT_OK, GOT_EACCES, GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
}
END_TEST

/* A symlink in a policy path is not followed: its target is judged by its own path. */
START_TEST(test_policy_symlink_not_followed)
{
    ck_assert_int_eq(symlink("secret", at("link")), 0);
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read", "%R/link/**");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    reads_t r = {{at("link/s.txt"), at("secret/s.txt")}, {GOT_EACCES, GOT_EACCES}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
}
END_TEST

static int list_dirs(const void *arg)
{
    const int *want = arg; /* root, pub */
    EXPECT(try_opendir(root) == want[0]);
    EXPECT(try_opendir(at("pub")) == want[1]);
    return 0;
}

/* readdir also lists the candidate itself, which a double star below root alone misses. */
START_TEST(test_policy_readdir)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "readdir", "%R/**");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    int none[2] = {GOT_EACCES, GOT_EACCES};
    ck_assert_int_eq(run_guest(&s, list_dirs, none), 0);
    rule(SC_PERM_ALLOW, "readdir", "%R");
    int both[2] = {GOT_OK, GOT_OK};
    ck_assert_int_eq(run_guest(&s, list_dirs, both), 0);
}
END_TEST

/* Every ancestor of root but "/" gets an exact read rule (the §8.4 guard wants them). */
static void allow_ancestor_reads(const char *upto)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", upto);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rule(SC_PERM_ALLOW, "read", buf);
        *p = '/';
    }
    rule(SC_PERM_ALLOW, "read", buf);
}

static int writes(const void *arg)
{
    const int *want = arg; /* create, overwrite existing */
    EXPECT(try_write(at("rw/new.txt"), O_CREAT | O_EXCL) == want[0]);
    EXPECT(try_write(at("rw/existing.txt"), O_TRUNC) == want[1]);
    return 0;
}

/* write grants WRITE_FILE|TRUNCATE where read is allowed too, and creation (MAKE_REG) only
 * with read on every ancestor (reference §8.4). */
START_TEST(test_policy_write_and_guard)
{
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read,write", "%R/rw/**");
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    int no_create[2] = {GOT_EACCES, GOT_OK};
    ck_assert_int_eq(run_guest(&s, writes, no_create), 0);
    unlink(at("rw/new.txt"));

    allow_ancestor_reads(at("rw"));
    int all[2] = {GOT_OK, GOT_OK};
    ck_assert_int_eq(run_guest(&s, writes, all), 0);
    unlink(at("rw/new.txt"));

    policy_new(SC_PERM_DENY); /* write without read: nothing */
    rule(SC_PERM_ALLOW, "write", "%R/rw/**");
    allow_ancestor_reads(at("rw"));
    int nothing[2] = {GOT_EACCES, GOT_EACCES};
    ck_assert_int_eq(run_guest(&s, writes, nothing), 0);
}
END_TEST

static int mutations(const void *arg)
{
    const int *want = arg; /* mkdir, unlink, rename across directories, symlink */
    EXPECT(outcome(mkdir(at("rw/d"), 0755)) == want[0]);
    EXPECT(outcome(unlink(at("rw/existing.txt"))) == want[1]);
    EXPECT(outcome(rename(at("rw/new.txt"), at("rw/sub/moved.txt"))) == want[2]);
    EXPECT(outcome(symlink("x", at("rw/l"))) == want[3]);
    return 0;
}

START_TEST(test_policy_mutations)
{
    put("rw/new.txt", "n", 0644);
    dir("rw/sub");
    policy_new(SC_PERM_DENY);
    rule(SC_PERM_ALLOW, "read,write", "%R/rw/**");
    allow_ancestor_reads(at("rw"));
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    int denied[4] = {GOT_EACCES, GOT_EACCES, GOT_EACCES, GOT_EACCES};
    ck_assert_int_eq(run_guest(&s, mutations, denied), 0);

    /* rm and write make a rename possible, but only rename adds REFER; without it Landlock
     * answers a move to another directory with EXDEV (mv then copies) */
    rule(SC_PERM_ALLOW, "create_dir,rm,symlink", "%R/rw/**");
    int no_rename[4] = {GOT_OK, GOT_OK, GOT_EXDEV, GOT_OK};
    ck_assert_int_eq(run_guest(&s, mutations, no_rename), 0);
    rmdir(at("rw/d"));
    unlink(at("rw/l"));
    put("rw/existing.txt", "old", 0644);

    rule(SC_PERM_ALLOW, "rename", "%R/rw/**");
    int allowed[4] = {GOT_OK, GOT_OK, GOT_OK, GOT_OK};
    ck_assert_int_eq(run_guest(&s, mutations, allowed), 0);
}
END_TEST

START_TEST(test_read_only_refuses_writes)
{
    policy_new(SC_PERM_ALLOW);
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    int all[2] = {GOT_OK, GOT_OK};
    ck_assert_int_eq(run_guest(&s, writes, all), 0);
    unlink(at("rw/new.txt"));

    s.fs_access = SC_FS_ACCESS_READ_ONLY;
    int none[2] = {GOT_EACCES, GOT_EACCES};
    ck_assert_int_eq(run_guest(&s, writes, none), 0);
    reads_t r = {{at("pub/a.txt")}, {GOT_OK}};
    ck_assert_int_eq(run_guest(&s, check_reads, &r), 0);
}
END_TEST

static int none_access(const void *arg)
{
    (void)arg;
    EXPECT(try_read(at("pub/a.txt")) == GOT_EACCES);
    EXPECT(try_read("/bin/true") == GOT_OK);
    EXPECT(try_write("/dev/null", 0) == GOT_OK);
    EXPECT(try_read("/dev/urandom") == GOT_OK);
    EXPECT(try_read("/proc/self/status") == GOT_OK);
    return 0;
}

START_TEST(test_none_refuses_reads)
{
    policy_new(SC_PERM_ALLOW);
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_NONE);
    ck_assert_int_eq(run_guest(&s, none_access, NULL), 0);
}
END_TEST

/* With a deny-all policy, programs from the runtime directories still run, with devices. */
static int exec_shell(const void *arg)
{
    (void)arg;
    pid_t pid = fork();
    EXPECT(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "/bin/true </dev/null >/dev/null 2>&1", (char *)NULL);
        _exit(127);
    }
    int st = wait_for(pid);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

START_TEST(test_fork_exec_works)
{
    policy_new(SC_PERM_DENY);
    sc_sandbox_spec_t s = spec_of(&pol.policy, SC_FS_ACCESS_POLICY);
    ck_assert_int_eq(run_guest(&s, exec_shell, NULL), 0);
}
END_TEST

/* ---- no_new_privs, capabilities ---- */

static int nnp_set(const void *arg)
{
    (void)arg;
    EXPECT(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    return 0;
}

START_TEST(test_no_new_privs)
{
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    ck_assert_int_eq(run_guest(&s, nnp_set, NULL), 0);
}
END_TEST

static int caps_zero(const void *arg)
{
    (void)arg;
    FILE *f = fopen("/proc/self/status", "re");
    EXPECT(f != NULL);
    char line[256];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Cap", 3) != 0)
            continue;
        char *colon = strchr(line, ':');
        EXPECT(colon != NULL);
        unsigned long long v = strtoull(colon + 1, NULL, 16);
        if (v != 0) {
            fprintf(stderr, "child: %s", line);
            fclose(f);
            return 1;
        }
        seen++;
    }
    fclose(f);
    EXPECT(seen == 5); /* CapInh CapPrm CapEff CapBnd CapAmb */
    return 0;
}

START_TEST(test_capabilities_zero)
{
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    ck_assert_int_eq(run_guest(&s, caps_zero, NULL), 0);
}
END_TEST

/* Without sc_sandbox_drop_caps first, the bounding set cannot be emptied: refuse. */
START_TEST(test_bounding_set_required)
{
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, STDERR_FILENO); /* the refusal is expected: keep the log quiet */
        _exit(guest_child(&s, false, nnp_set, NULL));
    }
    ck_assert_int_eq(exit_code(wait_for(pid)), GOT_SETUP + 1);
}
END_TEST

/*
 * The file capabilities a VM guest keeps are refused where their user namespace maps the host's
 * root: here, the initial one, where CAP_DAC_OVERRIDE would reach every host file. (In a VM's
 * namespace they are kept: check_exec and check_escape try them through the real sidecar.)
 */
START_TEST(test_fs_caps_refused_outside_a_vm)
{
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    s.keep_fs_caps = true;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, STDERR_FILENO); /* the refusal is expected: keep the log quiet */
        char err[512];
        if (sc_sandbox_drop_caps(true, err, sizeof err) != 0)
            _exit(GOT_SETUP);
        gid_t gid = GUEST_ID;
        if (setgroups(1, &gid) != 0 || setresgid(GUEST_ID, GUEST_ID, GUEST_ID) != 0 ||
            setresuid(GUEST_ID, GUEST_ID, GUEST_ID) != 0)
            _exit(GOT_SETUP);
        if (sc_sandbox_apply(&s, err, sizeof err) == 0)
            _exit(0);
        _exit(strstr(err, "maps the host's root") ? GOT_SETUP + 1 : GOT_SETUP + 2);
    }
    ck_assert_int_eq(exit_code(wait_for(pid)), GOT_SETUP + 1);
}
END_TEST

/* ---- rlimits ---- */

static int fill_fds(const void *arg)
{
    (void)arg;
    struct rlimit rl;
    EXPECT(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 16 && rl.rlim_max == 16);
    int n = 0, fd;
    while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        n++;
    EXPECT(n < 16 && errno == EMFILE);
    return 0;
}

START_TEST(test_rlimit_nofile)
{
    sc_resource_limits_t lim = {.max_open_fds = 16};
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    s.limits = &lim;
    ck_assert_int_eq(run_guest(&s, fill_fds, NULL), 0);
}
END_TEST

static int big_write(const void *arg)
{
    (void)arg;
    signal(SIGXFSZ, SIG_IGN);
    int fd = open(at("rw/big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT(fd >= 0);
    static char buf[8192];
    EXPECT(write(fd, buf, sizeof buf) == 4096); /* up to the limit */
    EXPECT(write(fd, buf, 1) < 0 && errno == EFBIG);
    close(fd);
    return 0;
}

START_TEST(test_rlimit_fsize)
{
    sc_resource_limits_t lim = {.max_file_size_bytes = 4096};
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    s.limits = &lim;
    ck_assert_int_eq(run_guest(&s, big_write, NULL), 0);
}
END_TEST

static int spin(const void *arg)
{
    (void)arg;
    struct rlimit rl;
    EXPECT(getrlimit(RLIMIT_CPU, &rl) == 0 && rl.rlim_cur == 1 && rl.rlim_max == 2);
    EXPECT(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0);
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

START_TEST(test_rlimit_cpu)
{
    sc_resource_limits_t lim = {.max_cpu_time_ms = 300}; /* rounds up to 1 s */
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    s.limits = &lim;
    int st = run_guest_status(&s, spin, NULL);
    ck_assert_msg(WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL),
                  "status %#x", st);
}
END_TEST

/* ---- Landlock scoping and TCP ---- */

static int sync_fd[2];

static int kill_parent(const void *arg)
{
    (void)arg;
    char c;
    EXPECT(read(sync_fd[0], &c, 1) == 1); /* the parent is uid 1000 now */
    return outcome(kill(getppid(), 0));
}

/* The parent drops to uid 1000 too, so only the Landlock scope can refuse the signal. */
START_TEST(test_signal_scope)
{
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    pid_t mid = fork();
    ck_assert_int_ge(mid, 0);
    if (mid == 0) {
        if (pipe2(sync_fd, O_CLOEXEC) != 0)
            _exit(GOT_SETUP);
        pid_t pid = fork();
        if (pid == 0)
            _exit(guest_child(&s, true, kill_parent, NULL));
        if (setresgid(GUEST_ID, GUEST_ID, GUEST_ID) != 0 ||
            setresuid(GUEST_ID, GUEST_ID, GUEST_ID) != 0 || write(sync_fd[1], "x", 1) != 1)
            _exit(GOT_SETUP);
        _exit(exit_code(wait_for(pid)));
    }
    ck_assert_int_eq(exit_code(wait_for(mid)), GOT_EPERM);
}
END_TEST

static int connect_abstract(const void *arg)
{
    const struct sockaddr_un *addr = arg;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(s >= 0);
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr->sun_path + 1));
    return outcome(connect(s, (const struct sockaddr *)addr, len));
}

/* An abstract socket of a process outside the guest's domain is out of reach. */
START_TEST(test_abstract_socket_scope)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "check-sandbox-%ld", (long)getpid());
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&addr, len), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    ck_assert_int_eq(run_guest(&s, connect_abstract, &addr), GOT_EPERM);
    close(l);
}
END_TEST

static int tcp_bind_connect(const void *arg)
{
    const int *want = arg; /* bind, connect */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    EXPECT(outcome(bind(s, (struct sockaddr *)&a, sizeof a)) == want[0]);
    close(s);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_port = htons((uint16_t)want[2]);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    EXPECT(want[1] == GOT_OK ? r == 0 : outcome(r) == want[1]);
    close(s);
    return 0;
}

START_TEST(test_tcp)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    int port = ntohs(a.sin_port);

    sc_sandbox_spec_t s = spec_of(policy_new(SC_PERM_ALLOW), SC_FS_ACCESS_POLICY);
    int open_tcp[3] = {GOT_OK, GOT_OK, port};
    ck_assert_int_eq(run_guest(&s, tcp_bind_connect, open_tcp), 0);
    s.allow_loopback_tcp = false;
    int no_tcp[3] = {GOT_EACCES, GOT_EACCES, port};
    ck_assert_int_eq(run_guest(&s, tcp_bind_connect, no_tcp), 0);
    close(l);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* cgroups                                                                                      */

static sc_cgroup_t *cgroup_new(const sc_resource_limits_t *lim)
{
    char err[512], id[64];
    static unsigned n;
    snprintf(id, sizeof id, "test-%u", n++);
    sc_cgroup_t *cg = sc_cgroup_create(id, lim, err, sizeof err);
    ck_assert_msg(cg != NULL, "sc_cgroup_create: %s", err);
    return cg;
}

/* Forks a child that waits until it is in the cgroup, then runs fn; its pid. */
static pid_t spawn_in(sc_cgroup_t *cg, body_fn *fn, const void *arg)
{
    int p[2];
    char err[512];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(GOT_SETUP);
        _exit(fn(arg));
    }
    close(p[0]);
    ck_assert_msg(sc_cgroup_add_pid(cg, pid, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    close(p[1]);
    return pid;
}

static int fork_bomb(const void *arg)
{
    (void)arg;
    pid_t kids[16];
    int n = 0;
    while (n < 16) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            pause();
            _exit(0);
        }
        kids[n++] = pid;
    }
    int saved = errno;
    for (int i = 0; i < n; i++) {
        kill(kids[i], SIGKILL);
        wait_for(kids[i]);
    }
    errno = saved;
    EXPECT(n == 2 && errno == EAGAIN); /* this process and two children make 3 */
    return 0;
}

START_TEST(test_cgroup_pids)
{
    sc_resource_limits_t lim = {.max_processes = 3};
    sc_cgroup_t *cg = cgroup_new(&lim);
    pid_t pid = spawn_in(cg, fork_bomb, NULL);
    ck_assert_int_eq(exit_code(wait_for(pid)), 0);
    ck_assert_int_eq(sc_cgroup_destroy(cg), 0);
}
END_TEST

static int hog(const void *arg)
{
    (void)arg;
    size_t size = 256u << 20;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(p != MAP_FAILED);
    for (size_t i = 0; i < size; i += 4096)
        p[i] = 1;
    return 0; /* not reached under the limit */
}

START_TEST(test_cgroup_memory_oom)
{
    sc_resource_limits_t lim = {.max_processes = 16, .max_memory_bytes = 64u << 20};
    sc_cgroup_t *cg = cgroup_new(&lim);
    ck_assert(!sc_cgroup_oom_killed(cg));
    int st = wait_for(spawn_in(cg, hog, NULL));
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
    ck_assert(sc_cgroup_oom_killed(cg));
    ck_assert_int_eq(sc_cgroup_destroy(cg), 0);
}
END_TEST

static int sleeper(const void *arg)
{
    (void)arg;
    pause();
    return 0;
}

/* The directories of pid's cgroups named "secure-exec-*", from /proc/pid/cgroup (v1 mounts
 * named after their controllers, as everywhere, or v2 at /sys/fs/cgroup). */
static int cgroup_dirs(pid_t pid, char dirs[][PATH_MAX], int max)
{
    char path[64], line[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)pid);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *ctrls = strchr(line, ':') + 1;
        char *cgpath = strchr(ctrls, ':');
        *cgpath++ = '\0';
        if (!strstr(cgpath, "secure-exec-"))
            continue;
        if (*ctrls)
            snprintf(dirs[n++], PATH_MAX, "/sys/fs/cgroup/%s%s", ctrls, cgpath);
        else
            snprintf(dirs[n++], PATH_MAX, "/sys/fs/cgroup%s", cgpath);
    }
    fclose(f);
    return n;
}

START_TEST(test_cgroup_destroy)
{
    sc_resource_limits_t lim = {.max_processes = 8, .max_memory_bytes = 64u << 20};
    sc_cgroup_t *cg = cgroup_new(&lim);
    pid_t pid = spawn_in(cg, sleeper, NULL);
    char dirs[8][PATH_MAX];
    int n = 0;
    for (int tries = 0; tries < 100 && n < 2; tries++) { /* the child may not be moved yet */
        n = cgroup_dirs(pid, dirs, 8);
        usleep(10000);
    }
    ck_assert_int_ge(n, 2); /* pids and memory (one directory each on v1) */
    struct stat st;
    for (int i = 0; i < n; i++)
        ck_assert_msg(stat(dirs[i], &st) == 0, "%s missing", dirs[i]);

    ck_assert_int_eq(sc_cgroup_destroy(cg), 0);
    int status = wait_for(pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int i = 0; i < n; i++)
        ck_assert_msg(stat(dirs[i], &st) != 0 && errno == ENOENT, "%s left", dirs[i]);
}
END_TEST

/* Whether pid is gone (or a zombie nobody reaped yet). */
static bool dead(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[2] == 'Z';
}

/* A process that joins the cgroups of procfds, then starts a grandchild that moves to a
 * session of its own (as a guest escaping its process group would) and then reports its pid
 * on out. */
static pid_t spawn_tree(const int *procfds, int n, int out)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (write(procfds[i], "0", 1) != 1)
                _exit(GOT_SETUP);
        if (fork() == 0) {
            pid_t g = setsid();
            if (write(out, &g, sizeof g) != (ssize_t)sizeof g)
                _exit(GOT_SETUP);
            for (;;)
                pause();
        }
        for (;;)
            pause();
    }
    return pid;
}

/* The supervisor's side: a process cgroup below the VM's holds the whole tree, whatever
 * session it moves to, and ending it ends them all. */
START_TEST(test_cgtree_kill_ends_the_tree)
{
    sc_resource_limits_t lim = {.max_processes = 16};
    sc_cgroup_t *cg = cgroup_new(&lim);
    sc_cgroup_fds_t tree;
    char err[256];
    ck_assert_msg(sc_cgroup_open_tree(cg, &tree, err, sizeof err) == 0, "%s", err);
    int procfds[SC_CGROUP_MAX_FDS], p[2];
    ck_assert_int_eq(sc_cgtree_make(&tree, 7, procfds), 0);
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t child = spawn_tree(procfds, tree.n, p[1]);
    pid_t grandchild = 0;
    ck_assert_int_eq(read(p[0], &grandchild, sizeof grandchild), (ssize_t)sizeof grandchild);
    for (int i = 0; i < tree.n; i++)
        close(procfds[i]);
    /* in its own cgroup, and in a session of its own */
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)grandchild);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    ck_assert_int_gt(n, 0);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "/proc-7\n") != NULL, "%s", text);
    uint32_t num = 0;
    ck_assert(sc_cgroup_text_proc(text, &num) && num == 7);
    ck_assert_int_eq(getsid(grandchild), grandchild);
    /* not removable while they live; both gone once it is killed */
    ck_assert_int_eq(sc_cgtree_remove(&tree, 7), EBUSY);
    sc_cgtree_kill(&tree, 7);
    int st = wait_for(child);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (int i = 0; i < 200 && !dead(grandchild); i++)
        usleep(10000);
    ck_assert_msg(dead(grandchild), "the setsid grandchild outlived its cgroup");
    int rc = EBUSY;
    for (int i = 0; i < 200 && rc == EBUSY; i++) {
        rc = sc_cgtree_remove(&tree, 7);
        if (rc == EBUSY)
            usleep(10000);
    }
    ck_assert_int_eq(rc, 0);
    close(p[0]);
    close(p[1]);
    sc_cgroup_fds_close(&tree);
    ck_assert_int_eq(sc_cgroup_destroy(cg), 0);
}
END_TEST

/* The VM's cgroup is handed to the VM's root: that uid may make process cgroups below it,
 * another (a guest's) may not. */
static int make_as(const void *arg)
{
    const sc_cgroup_fds_t *tree = arg;
    int procfds[SC_CGROUP_MAX_FDS];
    int rc = sc_cgtree_make(tree, 9, procfds);
    if (rc == 0) {
        for (int i = 0; i < tree->n; i++)
            close(procfds[i]);
        sc_cgtree_remove(tree, 9);
    }
    return rc;
}

static int as_uid(uid_t uid, const sc_cgroup_fds_t *tree)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)
            _exit(GOT_SETUP);
        _exit(make_as(tree));
    }
    return exit_code(wait_for(pid));
}

START_TEST(test_cgroup_delegated_to_the_vm_root)
{
    sc_resource_limits_t lim = {.max_processes = 16};
    char err[256];
    sc_cgroup_t *cg = sc_cgroup_plan("test-deleg", &lim, 4242, 4242, err, sizeof err);
    ck_assert_msg(cg != NULL, "%s", err);
    ck_assert_msg(sc_cgroup_make(cg) == 0, "%s", sc_cgroup_error(cg, err, sizeof err));
    sc_cgroup_fds_t tree;
    ck_assert_msg(sc_cgroup_open_tree(cg, &tree, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(as_uid(4242, &tree), 0);
    ck_assert_int_eq(as_uid(4243, &tree), EACCES);
    sc_cgroup_fds_close(&tree);
    ck_assert_int_eq(sc_cgroup_destroy(cg), 0);
}
END_TEST

START_TEST(test_cgroup_bad_id)
{
    sc_resource_limits_t lim = {.max_processes = 8};
    char err[256];
    ck_assert_ptr_null(sc_cgroup_create("../escape", &lim, err, sizeof err));
    ck_assert_ptr_null(sc_cgroup_create("", &lim, err, sizeof err));
    ck_assert_ptr_null(sc_cgroup_create(".hidden", &lim, err, sizeof err));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static Suite *sandbox_suite(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("seccomp");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_seccomp_denies, 0, (int)ARRAY_LEN(denied_calls));
    tcase_add_test(tc, test_seccomp_kexec);
    tcase_add_test(tc, test_seccomp_allows);
    tcase_add_loop_test(tc, test_seccomp_socket_allow_list, 0, (int)ARRAY_LEN(sock_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("landlock");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, build_tree, remove_tree);
    tcase_add_test(tc, test_policy_read);
    tcase_add_test(tc, test_policy_absent_denies_all);
    tcase_add_test(tc, test_policy_single_star_not_granted);
    tcase_add_test(tc, test_policy_later_deny);
    tcase_add_test(tc, test_policy_ask_denies);
    tcase_add_test(tc, test_policy_exact_file);
    tcase_add_test(tc, test_policy_symlink_not_followed);
    tcase_add_test(tc, test_policy_readdir);
    tcase_add_test(tc, test_policy_write_and_guard);
    tcase_add_test(tc, test_policy_mutations);
    tcase_add_test(tc, test_read_only_refuses_writes);
    tcase_add_test(tc, test_none_refuses_reads);
    tcase_add_test(tc, test_fork_exec_works);
    tcase_add_test(tc, test_signal_scope);
    tcase_add_test(tc, test_abstract_socket_scope);
    tcase_add_test(tc, test_tcp);
    suite_add_tcase(s, tc);

    tc = tcase_create("process");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, build_tree, remove_tree);
    tcase_add_test(tc, test_no_new_privs);
    tcase_add_test(tc, test_capabilities_zero);
    tcase_add_test(tc, test_bounding_set_required);
    tcase_add_test(tc, test_fs_caps_refused_outside_a_vm);
    tcase_add_test(tc, test_rlimit_nofile);
    tcase_add_test(tc, test_rlimit_fsize);
    tcase_add_test(tc, test_rlimit_cpu);
    suite_add_tcase(s, tc);

    tc = tcase_create("cgroup");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cgroup_pids);
    tcase_add_test(tc, test_cgroup_memory_oom);
    tcase_add_test(tc, test_cgroup_destroy);
    tcase_add_test(tc, test_cgroup_bad_id);
    tcase_add_test(tc, test_cgtree_kill_ends_the_tree);
    tcase_add_test(tc, test_cgroup_delegated_to_the_vm_root);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sandbox_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
