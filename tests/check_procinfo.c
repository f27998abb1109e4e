/*
 * check_procinfo.c - sidecar/proc/procinfo.c: KillProcess signal names (reference execution.md §5),
 * the §7 host matching table, processes and sockets read from fake procfs trees written by
 * hand in the kernel's formats (a temporary directory), and both read from the real /proc of
 * this test process.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------------ */
/* Signal names (§5)                                                                            */

static const struct {
    const char *name;
    int number;
} signals[] = {
    {"HUP", 1},   {"INT", 2},   {"QUIT", 3},    {"ILL", 4},   {"TRAP", 5},    {"ABRT", 6},
    {"IOT", 6},   {"BUS", 7},   {"FPE", 8},     {"KILL", 9},  {"USR1", 10},   {"SEGV", 11},
    {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14},   {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17},
    {"CONT", 18}, {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21}, {"TTOU", 22},   {"URG", 23},
    {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28},  {"IO", 29},
    {"POLL", 29}, {"PWR", 30},  {"SYS", 31},
};

static int parse_str(const char *s)
{
    return sc_parse_signal(s, strlen(s));
}

/* Every name as NAME, SIGNAME, name, signame, SigName, and padded with whitespace. */
START_TEST(test_signal_names)
{
    const char *name = signals[_i].name;
    int want = signals[_i].number;
    char buf[64], lower[32];
    size_t n = strlen(name);
    for (size_t k = 0; k <= n; k++)
        lower[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] - 'A' + 'a' : name[k]);

    ck_assert_int_eq(parse_str(name), want);
    snprintf(buf, sizeof buf, "SIG%s", name);
    ck_assert_int_eq(parse_str(buf), want);
    ck_assert_int_eq(parse_str(lower), want);
    snprintf(buf, sizeof buf, "sig%s", lower);
    ck_assert_int_eq(parse_str(buf), want);
    snprintf(buf, sizeof buf, "Sig%c%s", name[0], lower + 1);
    ck_assert_int_eq(parse_str(buf), want);
    snprintf(buf, sizeof buf, " \t SIG%s \r\n", name);
    ck_assert_int_eq(parse_str(buf), want);
    /* len is honoured: the bytes after it do not count. */
    snprintf(buf, sizeof buf, "SIG%sXYZ", name);
    ck_assert_int_eq(sc_parse_signal(buf, 3 + n), want);
    ck_assert_int_eq(parse_str(buf), -1);
}
END_TEST

START_TEST(test_signal_numbers)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", _i);
    ck_assert_int_eq(parse_str(buf), _i);
    snprintf(buf, sizeof buf, "  %d\n", _i);
    ck_assert_int_eq(parse_str(buf), _i);
    snprintf(buf, sizeof buf, "0%d", _i);
    ck_assert_int_eq(parse_str(buf), _i);
}
END_TEST

/* clang-format off */
static const struct {
    const char *text;
    size_t len; /* 0: strlen */
} signal_rejects[] = {
    {"", 0},        {"   ", 0},      {"\t\n", 0},    {"SIG", 0},      {"sig", 0},
    {"SIGBOGUS", 0}, {"BOGUS", 0},   {"32", 0},      {"99", 0},       {"-1", 0},
    {"-0", 0},      {"+3", 0},       {"1.5", 0},     {"0x1", 0},      {"1 5", 0},
    {"15a", 0},     {"SIG15", 0},    {"SIG 15", 0},  {"SIG TERM", 0}, {"SIGSIGTERM", 0},
    {"SIGTERM2", 0}, {"TERMX", 0},   {"SIGRTMIN", 0}, {"RTMIN+1", 0}, {"SIGUSR3", 0},
    {"SIGCLD", 0},  {"SIGINFO", 0},  {"SIGEMT", 0},  {"SIGLOST", 0},  {"SIGUNUSED", 0},
    {"TERM;", 0},   {"\xc5\x9aIGTERM", 0}, {"99999999999999999999", 0}, {"4294967311", 0},
    {"TE\0RM", 5},  {"15\0", 3},     {"\0", 1},
};
/* clang-format on */

START_TEST(test_signal_rejects)
{
    const char *text = signal_rejects[_i].text;
    size_t len = signal_rejects[_i].len ? signal_rejects[_i].len : strlen(text);
    ck_assert_msg(sc_parse_signal(text, len) == -1, "\"%s\" was accepted", text);
}
END_TEST

START_TEST(test_signal_null)
{
    ck_assert_int_eq(sc_parse_signal(NULL, 0), -1);
    ck_assert_int_eq(sc_parse_signal("TERM", 0), -1);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Host matching (§7)                                                                           */

static const struct {
    const char *wanted, *actual;
    bool match;
} host_cases[] = {
    /* absent matches anything */
    {NULL, "0.0.0.0", true},
    {NULL, "127.0.0.1", true},
    {NULL, "::", true},
    {NULL, "::1", true},
    {NULL, "10.1.2.3", true},
    /* exact */
    {"127.0.0.1", "127.0.0.1", true},
    {"0.0.0.0", "0.0.0.0", true},
    {"::", "::", true},
    {"::1", "::1", true},
    {"10.1.2.3", "10.1.2.3", true},
    {"2001:db8::1", "2001:db8::1", true},
    {"localhost", "localhost", true},
    /* 0.0.0.0 and :: also match the other wildcard and every loopback */
    {"0.0.0.0", "::", true},
    {"0.0.0.0", "127.0.0.1", true},
    {"0.0.0.0", "::1", true},
    {"0.0.0.0", "localhost", true},
    {"::", "0.0.0.0", true},
    {"::", "127.0.0.1", true},
    {"::", "::1", true},
    {"::", "localhost", true},
    {"0.0.0.0", "10.1.2.3", false},
    {"0.0.0.0", "2001:db8::1", false},
    {"::", "10.1.2.3", false},
    {"::", "2001:db8::1", false},
    /* localhost, any case, matches a loopback */
    {"localhost", "127.0.0.1", true},
    {"localhost", "::1", true},
    {"LOCALHOST", "127.0.0.1", true},
    {"LocalHost", "::1", true},
    {"Localhost", "localhost", true},
    {"localhost", "0.0.0.0", false},
    {"localhost", "::", false},
    {"localhost", "10.1.2.3", false},
    /* a specific address does not match a wildcard or another loopback */
    {"127.0.0.1", "0.0.0.0", false},
    {"127.0.0.1", "::", false},
    {"127.0.0.1", "::1", false},
    {"127.0.0.1", "localhost", false},
    {"::1", "0.0.0.0", false},
    {"::1", "::", false},
    {"::1", "127.0.0.1", false},
    {"10.1.2.3", "0.0.0.0", false},
    {"10.1.2.3", "10.1.2.4", false},
    {"127.0.0.2", "127.0.0.1", false},
    {"", "0.0.0.0", false},
    {"0.0.0.0", NULL, false},
};

START_TEST(test_host_matches)
{
    ck_assert_msg(sc_socket_host_matches(host_cases[_i].wanted, host_cases[_i].actual) ==
                      host_cases[_i].match,
                  "wanted %s, actual %s: expected %s",
                  host_cases[_i].wanted ? host_cases[_i].wanted : "(absent)",
                  host_cases[_i].actual ? host_cases[_i].actual : "(null)",
                  host_cases[_i].match ? "a match" : "no match");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Fake procfs trees                                                                            */

static char base[64];
static char fake_root[PATH_MAX];   /* processes and net/ */
static char nonet_root[PATH_MAX];  /* "net" is the dangling "self/net": net of PID 1 is used */
static char escape_root[PATH_MAX]; /* "net" is an absolute link out of the tree */

static const char *at(const char *root, const char *rel)
{
    static char buf[4][PATH_MAX * 2];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

static void mk_dir(const char *root, const char *rel)
{
    ck_assert_int_eq(mkdir(at(root, rel), 0755), 0);
}

static void mk_file(const char *root, const char *rel, const void *data, size_t n)
{
    int fd = open(at(root, rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static void mk_text(const char *root, const char *rel, const char *text)
{
    mk_file(root, rel, text, strlen(text));
}

static void mk_link(const char *root, const char *rel, const char *target)
{
    ck_assert_int_eq(symlink(target, at(root, rel)), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

#define CMD(s) .cmdline = s, .cmdline_len = sizeof(s) - 1
#define STATUS(name, ign, cgt)                                                                     \
    "Name:\t" name "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1\nPid:\t1\nPPid:\t0\n"           \
    "SigQ:\t0/31429\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"                       \
    "SigBlk:\t0000000000000000\nSigIgn:\t" ign "\nSigCgt:\t" cgt "\n"                              \
    "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
#define STAT_TAIL " 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 100 1000000 200\n"
/* fields 7-52 of a real zombie's stat, up to its exit_code (field 52), which follows */
#define ZOMBIE_TAIL                                                                                \
    " 0 -1 4227148 219 0 0 0 0 0 0 0 20 0 1 0 999799 0 0 18446744073709551615 0 0 0 0 0 0 0 "      \
    "16781312 2 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 "

/* One process directory: every field NULL/0 means no such file. */
typedef struct fake_proc {
    const char *dir;
    const char *stat;
    const char *cmdline;
    size_t cmdline_len;
    const char *status;
    const char *cwd;
} fake_proc_t;

static const char long_comm[] =
    "c123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789";

/* Written in this order, which is not pid order. */
static const fake_proc_t fake_procs[] = {
    {"100", "100 (cat) S 43 42 1" STAT_TAIL, CMD("cat\0-\0"),
     STATUS("cat", "0000000000000000", "0000000000000000"), "/tmp"},
    {"1", "1 (init) S 0 1 1" STAT_TAIL, CMD("/sbin/init\0"),
     STATUS("init", "0000000000001000", "0000000000014003"), "/"},
    /* comm "my (weird) proc)": spaces and parentheses; only the last ')' ends it */
    {"42", "42 (my (weird) proc)) R 1 42 1" STAT_TAIL, CMD("node\0-e\0console.log(1)\0\0"),
     STATUS("my (weird) proc)", "0000000000000000", "FFFFFFFFFFFFFFFF"), "/home/user"},
    /* a zombie: empty cmdline, no cwd */
    {"43", "43 (sh) Z 42 42 1" ZOMBIE_TAIL "768\n", CMD(""),
     STATUS("sh", "0000000000000004", "0000000000010000"), NULL},
    /* vanished between readdir and reading: a directory without files */
    {"44", NULL, NULL, 0, NULL, NULL},
    /* a ppid cycle */
    {"200", "200 (a) S 201 200 200" STAT_TAIL, CMD("a\0"), NULL, "/"},
    {"201", "201 (b) S 200 200 200" STAT_TAIL, CMD("b\0"),
     STATUS("b", "0000000000000002", "10000000000000000"), "/"}, /* 17 digits: no mask */
    /* a last argument without its NUL (setproctitle), no status, an odd cwd */
    {"300", "300 (x) T 1 300 300" STAT_TAIL, CMD("a\0b"), NULL, "/gone (deleted)"},
    /* not processes: unparsable, another pid, truncated */
    {"301", "301 no parens S 1 1 1" STAT_TAIL, CMD("x\0"), NULL, "/"},
    {"302", "999 (liar) S 1 1 1" STAT_TAIL, CMD("x\0"), NULL, "/"},
    {"303", "303 (trunc) S", CMD("x\0"), NULL, "/"},
    {"304", "304 (bad) S 1 1 x" STAT_TAIL, CMD("x\0"), NULL, "/"},
    /* names that are not pids */
    {"0123", "123 (zero) S 1 1 1" STAT_TAIL, CMD("x\0"), NULL, "/"},
    {"12abc", "12 (abc) S 1 1 1" STAT_TAIL, CMD("x\0"), NULL, "/"},
    {"99999999999", "99999999999 (big) S 1 1 1" STAT_TAIL, CMD("x\0"), NULL, "/"},
    {"sys", NULL, NULL, 0, NULL, NULL},
};

static void write_fake_proc(const char *root, const fake_proc_t *p)
{
    char rel[64];
    mk_dir(root, p->dir);
    if (p->stat != NULL) {
        snprintf(rel, sizeof rel, "%s/stat", p->dir);
        mk_text(root, rel, p->stat);
    }
    if (p->cmdline != NULL) {
        snprintf(rel, sizeof rel, "%s/cmdline", p->dir);
        mk_file(root, rel, p->cmdline, p->cmdline_len);
    }
    if (p->status != NULL) {
        snprintf(rel, sizeof rel, "%s/status", p->dir);
        mk_text(root, rel, p->status);
    }
    if (p->cwd != NULL) {
        snprintf(rel, sizeof rel, "%s/cwd", p->dir);
        mk_link(root, rel, p->cwd);
    }
}

/* The kernel's net/tcp, tcp6, udp, udp6 and unix formats (little-endian words), by hand. */
/* clang-format off */
#define TCP_HEAD                                                                                 \
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "       \
    "timeout inode                                                     \n"
#define TCP6_HEAD                                                                                \
    "  sl  local_address                         remote_address                        st "     \
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define UDP_HEAD                                                                                 \
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "      \
    "timeout inode ref pointer drops             \n"
#define UDP6_HEAD                                                                                \
    "  sl  local_address                         remote_address                        st "     \
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
#define UNIX_HEAD "Num       RefCount Protocol Flags    Type St Inode Path\n"
#define Z32 "00000000000000000000000000000000"

static const char net_tcp[] =
    TCP_HEAD
    /* 0.0.0.0:8080 LISTEN */
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 "
    "5001 1 0000000000000000 100 0 0 10 0                       \n"
    /* 127.0.0.1:3000 LISTEN */
    "   1: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 "
    "5002 1 0000000000000000 100 0 0 10 0                       \n"
    /* 127.0.0.1:3000 <- 127.0.0.1:54321 ESTABLISHED: not a listener */
    "   2: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "5003 1 0000000000000000 20 4 30 10 -1                      \n"
    /* TIME_WAIT, no inode */
    "   3: 0100007F:0BB9 0100007F:D432 06 00000000:00000000 03:000016A1 00000000     0        0 "
    "0 3 0000000000000000                                       \n";

static const char net_tcp6[] =
    TCP6_HEAD
    /* [::1]:8081 */
    "   0: 00000000000000000000000001000000:1F91 " Z32 ":0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 5004 1 0000000000000000 100 0 0 10 0\n"
    /* [::ffff:127.0.0.1]:8082 */
    "   1: 0000000000000000FFFF00000100007F:1F92 " Z32 ":0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 5005 1 0000000000000000 100 0 0 10 0\n"
    /* [2001:db8::1]:8443 */
    "   2: B80D0120000000000000000001000000:20FB " Z32 ":0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 5006 1 0000000000000000 100 0 0 10 0\n"
    /* [::]:8083 */
    "   3: " Z32 ":1F93 " Z32 ":0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 5007 1 0000000000000000 100 0 0 10 0\n"
    /* [::1]:8081 <- [::1]:40000 ESTABLISHED */
    "   4: 00000000000000000000000001000000:1F91 00000000000000000000000001000000:9C40 01 "
    "00000000:00000000 00:00000000 00000000  1000        0 5008 1 0000000000000000 20 4 30 10 -1\n"
    "junk that is no socket line\n"
    "   5: 0000000000000000000000000100000:1F94 " Z32 ":0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 5009 1 0000000000000000 100 0 0 10 0\n";

static const char net_udp[] =
    UDP_HEAD
    /* 0.0.0.0:53 */
    "  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 "
    "5010 2 0000000000000000 0         \n"
    /* unbound */
    "  101: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 "
    "5011 2 0000000000000000 0         \n"
    /* 127.0.0.1:5000 connected to 127.0.0.1:53: still bound */
    "  102: 0100007F:1388 0100007F:0035 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "5012 2 0000000000000000 0         \n";

static const char net_udp6[] =
    UDP6_HEAD
    /* [::1]:5353 */
    "  200: 00000000000000000000000001000000:14E9 " Z32 ":0000 07 00000000:00000000 "
    "00:00000000 00000000  1000        0 5013 2 0000000000000000 0\n"
    /* unbound */
    "  201: " Z32 ":0000 " Z32 ":0000 07 00000000:00000000 "
    "00:00000000 00000000  1000        0 5014 2 0000000000000000 0\n";

static const char net_unix[] =
    UNIX_HEAD
    "0000000000000000: 00000002 00000000 00010000 0001 01  5020 /run/app.sock\n"
    "0000000000000000: 00000002 00000000 00010000 0001 01  5021 @abstract\n"
    "0000000000000000: 00000003 00000000 00000000 0001 03  5022 /run/app.sock\n"
    "0000000000000000: 00000002 00000000 00010000 0005 01  5023 /tmp/with space.sock\n"
    "0000000000000000: 00000002 00000000 00000000 0002 01  5024 /dev/log\n"
    "0000000000000000: 00000002 00000000 00010000 0001 01  5025\n"
    "0000000000000000: 00000002 00000000 00010000 0001 01  5026 /"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaa\n"
    "0000000000000000: 00000002 00000000 00010000 0001 01 123456789 /run/big-inode.sock\n";

static const struct {
    const char *rel, *target;
} fake_fds[] = {
    {"42/fd/0", "/dev/null"},        {"42/fd/3", "socket:[5001]"},  {"42/fd/4", "socket:[5004]"},
    {"42/fd/5", "socket:[5010]"},    {"42/fd/6", "socket:[5020]"},  {"42/fd/7", "pipe:[9999]"},
    {"42/fd/8", "socket:[x5002]"},   {"42/fd/9", "socket:[5002"},   {"100/fd/3", "socket:[5002]"},
    {"100/fd/4", "socket:[5003]"},   {"100/fd/5", "socket:[5004]"}, {"100/fd/6", "socket:[5005]"},
    {"100/fd/7", "socket:[5013]"},   {"201/fd/1", "socket:[5001]"},
    {"201/fd/2", "socket:[123456789]"},
};
/* clang-format on */

static void build_fake_trees(void)
{
    strcpy(base, "/tmp/check_procinfo-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(fake_root, sizeof fake_root, "%s/proc", base);
    snprintf(nonet_root, sizeof nonet_root, "%s/nonet", base);
    snprintf(escape_root, sizeof escape_root, "%s/escape", base);

    ck_assert_int_eq(mkdir(fake_root, 0755), 0);
    for (size_t i = 0; i < ARRAY_LEN(fake_procs); i++)
        write_fake_proc(fake_root, &fake_procs[i]);
    mk_link(fake_root, "self", "42");

    /* argv bounds: 5000 arguments, and one argument of 2 MiB */
    fake_proc_t many = {"400", "400 (many) S 1 400 1" STAT_TAIL, NULL, 0, NULL, "/"};
    write_fake_proc(fake_root, &many);
    char *big = malloc(2u << 20);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < 5000; i++) {
        big[2 * i] = 'x';
        big[2 * i + 1] = '\0';
    }
    mk_file(fake_root, "400/cmdline", big, 10000);
    fake_proc_t huge = {"401", "401 (huge) S 1 401 1" STAT_TAIL, NULL, 0, NULL, "/"};
    write_fake_proc(fake_root, &huge);
    memset(big, 'a', 2u << 20);
    mk_file(fake_root, "401/cmdline", big, 2u << 20);
    free(big);
    /* a comm longer than sc_proc_t holds */
    char stat[256];
    snprintf(stat, sizeof stat, "402 (%s) S 1 402 1" STAT_TAIL, long_comm);
    fake_proc_t longc = {"402", stat, CMD("y\0"), NULL, "/"};
    write_fake_proc(fake_root, &longc);
    /* files that are symlinks are not followed: this process cannot be read */
    mk_dir(fake_root, "403");
    mk_link(fake_root, "403/stat", "../1/stat");
    /* a stat that is a directory */
    mk_dir(fake_root, "404");
    mk_dir(fake_root, "404/stat");

    mk_dir(fake_root, "net");
    mk_text(fake_root, "net/tcp", net_tcp);
    mk_text(fake_root, "net/tcp6", net_tcp6);
    mk_text(fake_root, "net/udp", net_udp);
    mk_text(fake_root, "net/udp6", net_udp6);
    mk_text(fake_root, "net/unix", net_unix);
    mk_dir(fake_root, "1/fd");
    mk_dir(fake_root, "42/fd");
    mk_dir(fake_root, "100/fd");
    mk_dir(fake_root, "201/fd");
    for (size_t i = 0; i < ARRAY_LEN(fake_fds); i++)
        mk_link(fake_root, fake_fds[i].rel, fake_fds[i].target);

    /* The VM's procfs as the sidecar sees it: "self" does not resolve, so "net" does not;
     * PID 1 (the supervisor) is in the VM's network namespace. No tcp6/udp6/unix files. */
    ck_assert_int_eq(mkdir(nonet_root, 0755), 0);
    mk_link(nonet_root, "net", "self/net");
    fake_proc_t sup = {"1", "1 (supervisor) S 0 1 1" STAT_TAIL, CMD("supervisor\0"), NULL, "/"};
    write_fake_proc(nonet_root, &sup);
    mk_dir(nonet_root, "1/net");
    mk_text(nonet_root, "1/net/tcp",
            TCP_HEAD "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 "
                     "00000000     0        0 7001 1 0000000000000000 100 0 0 10 0\n");
    mk_text(nonet_root, "1/net/udp", "");
    mk_dir(nonet_root, "1/fd");
    mk_link(nonet_root, "1/fd/3", "socket:[7001]");

    /* "net" leading out of the tree is refused, even to a valid net directory. */
    ck_assert_int_eq(mkdir(escape_root, 0755), 0);
    mk_link(escape_root, "net", at(fake_root, "net"));
}

static void remove_fake_trees(void)
{
    if (base[0] != '\0')
        nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    base[0] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Processes of the fake tree                                                                   */

typedef struct want_proc {
    pid_t pid, ppid, pgid, sid;
    char state;
    const char *comm;
    const char *argv[6]; /* NULL-terminated */
    const char *cwd;
    uint64_t caught, ignored;
    bool has_exit; /* a zombie's wait status: exit(3) */
    int exit_status;
} want_proc_t;

/* clang-format off */
static const want_proc_t want_procs[] = {
    {1, 0, 1, 1, 'S', "init", {"/sbin/init", NULL}, "/", 0x14003, 0x1000, false, 0},
    {42, 1, 42, 1, 'R', "my (weird) proc)", {"node", "-e", "console.log(1)", "", NULL},
     "/home/user", UINT64_MAX, 0, false, 0},
    {43, 42, 42, 1, 'Z', "sh", {NULL}, "", 0x10000, 0x4, true, 3 << 8},
    {100, 43, 42, 1, 'S', "cat", {"cat", "-", NULL}, "/tmp", 0, 0, false, 0},
    {200, 201, 200, 200, 'S', "a", {"a", NULL}, "/", 0, 0, false, 0},
    {201, 200, 200, 200, 'S', "b", {"b", NULL}, "/", 0, 0x2, false, 0},
    {300, 1, 300, 300, 'T', "x", {"a", "b", NULL}, "/gone (deleted)", 0, 0, false, 0},
    {400, 1, 400, 1, 'S', "many", {NULL}, "/", 0, 0, false, 0},
    {401, 1, 401, 1, 'S', "huge", {NULL}, "/", 0, 0, false, 0},
    {402, 1, 402, 1, 'S', NULL, {"y", NULL}, "/", 0, 0, false, 0},
};
/* clang-format on */

static sc_proc_list_t fake_list(void)
{
    sc_proc_list_t list;
    ck_assert_int_eq(sc_procs_read(fake_root, &list), 0);
    return list;
}

START_TEST(test_procs_pids)
{
    sc_proc_list_t list = fake_list();
    ck_assert_uint_eq(list.len, ARRAY_LEN(want_procs));
    for (size_t i = 0; i < list.len; i++)
        ck_assert_int_eq(list.items[i].pid, want_procs[i].pid);
    sc_procs_free(&list);
    ck_assert_ptr_null(list.items);
    ck_assert_uint_eq(list.len, 0);
    sc_procs_free(&list);
}
END_TEST

START_TEST(test_procs_fields)
{
    const want_proc_t *w = &want_procs[_i];
    sc_proc_list_t list = fake_list();
    ck_assert_uint_eq(list.len, ARRAY_LEN(want_procs));
    const sc_proc_t *p = &list.items[_i];
    ck_assert_int_eq(p->pid, w->pid);
    ck_assert_int_eq(p->ppid, w->ppid);
    ck_assert_int_eq(p->pgid, w->pgid);
    ck_assert_int_eq(p->sid, w->sid);
    ck_assert_int_eq(p->state, w->state);
    if (w->comm != NULL)
        ck_assert_str_eq(p->comm, w->comm);
    ck_assert_str_eq(p->cwd, w->cwd);
    ck_assert_uint_eq(p->sig_caught, w->caught);
    ck_assert_uint_eq(p->sig_ignored, w->ignored);
    ck_assert_int_eq(p->has_exit_status, w->has_exit);
    ck_assert_int_eq(p->exit_status, w->exit_status);
    ck_assert_ptr_nonnull(p->argv);
    if (w->pid != 400 && w->pid != 401) {
        size_t k = 0;
        for (; w->argv[k] != NULL; k++) {
            ck_assert_ptr_nonnull(p->argv[k]);
            ck_assert_str_eq(p->argv[k], w->argv[k]);
        }
        ck_assert_ptr_null(p->argv[k]);
    }
    sc_procs_free(&list);
}
END_TEST

START_TEST(test_procs_bounds)
{
    sc_proc_list_t list = fake_list();
    const sc_proc_t *many = NULL, *huge = NULL, *longc = NULL;
    for (size_t i = 0; i < list.len; i++) {
        if (list.items[i].pid == 400)
            many = &list.items[i];
        if (list.items[i].pid == 401)
            huge = &list.items[i];
        if (list.items[i].pid == 402)
            longc = &list.items[i];
    }
    ck_assert_ptr_nonnull(many);
    ck_assert_ptr_nonnull(huge);
    ck_assert_ptr_nonnull(longc);
    size_t n = 0;
    while (many->argv[n] != NULL) {
        ck_assert_str_eq(many->argv[n], "x");
        n++;
    }
    ck_assert_uint_eq(n, 4096); /* 5000 arguments, 4096 kept */
    ck_assert_ptr_nonnull(huge->argv[0]);
    ck_assert_uint_eq(strlen(huge->argv[0]), 1u << 20); /* 2 MiB, 1 MiB read */
    ck_assert_ptr_null(huge->argv[1]);
    ck_assert_uint_eq(strlen(longc->comm), sizeof longc->comm - 1);
    ck_assert_int_eq(strncmp(longc->comm, long_comm, sizeof longc->comm - 1), 0);
    sc_procs_free(&list);
}
END_TEST

START_TEST(test_procs_errors)
{
    sc_proc_list_t list = {(sc_proc_t *)1, 7};
    errno = 0;
    ck_assert_int_eq(sc_procs_read(at(base, "missing"), &list), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(list.items);
    ck_assert_uint_eq(list.len, 0);
    ck_assert_int_eq(sc_procs_read(at(fake_root, "net/tcp"), &list), -1);
    ck_assert_int_eq(errno, ENOTDIR);
    /* an empty directory is a procfs without processes */
    ck_assert_int_eq(sc_procs_read(at(fake_root, "1/fd"), &list), 0);
    ck_assert_uint_eq(list.len, 0);
    sc_procs_free(&list);
}
END_TEST

static const struct {
    pid_t pid, ancestor;
    bool want;
} descends_cases[] = {
    {100, 100, true},
    {100, 43, true},
    {100, 42, true},
    {100, 1, true},
    {43, 42, true},
    {43, 1, true},
    {42, 1, true},
    {300, 1, true},
    {42, 100, false},
    {42, 43, false},
    {1, 42, false},
    {1, 100, false},
    {100, 300, false},
    {100, 0, false},
    {43, 44, false},
    /* a ppid cycle ends */
    {200, 201, true},
    {201, 200, true},
    {200, 1, false},
    {201, 42, false},
    /* pids not in the list */
    {999, 1, false},
    {999, 999, true},
    {44, 1, false},
    {301, 1, false},
};

START_TEST(test_procs_descends)
{
    sc_proc_list_t list = fake_list();
    ck_assert_msg(sc_procs_descends(&list, descends_cases[_i].pid, descends_cases[_i].ancestor) ==
                      descends_cases[_i].want,
                  "descends(%d, %d)", (int)descends_cases[_i].pid,
                  (int)descends_cases[_i].ancestor);
    sc_procs_free(&list);
    ck_assert(sc_procs_descends(&list, 5, 5));
    ck_assert(!sc_procs_descends(&list, 5, 1));
    ck_assert(!sc_procs_descends(NULL, 5, 1));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Sockets of the fake tree                                                                     */

typedef struct want_sock {
    sc_sock_kind_t kind;
    const char *host;
    uint16_t port;
    const char *path;
    pid_t owner;
} want_sock_t;

/* File order: tcp, tcp6, udp, udp6, unix. */
static const want_sock_t want_socks[] = {
    {SC_SOCK_TCP_LISTEN, "0.0.0.0", 8080, "", 42},
    {SC_SOCK_TCP_LISTEN, "127.0.0.1", 3000, "", 100}, /* 42's "socket:[x5002]" is not it */
    {SC_SOCK_TCP_LISTEN, "::1", 8081, "", 42},        /* held by 42 and 100: the lower pid */
    {SC_SOCK_TCP_LISTEN, "127.0.0.1", 8082, "", 100}, /* ::ffff:127.0.0.1 */
    {SC_SOCK_TCP_LISTEN, "2001:db8::1", 8443, "", 0},
    {SC_SOCK_TCP_LISTEN, "::", 8083, "", 0},
    {SC_SOCK_UDP, "0.0.0.0", 53, "", 42},
    {SC_SOCK_UDP, "127.0.0.1", 5000, "", 0},
    {SC_SOCK_UDP, "::1", 5353, "", 100},
    {SC_SOCK_UNIX_LISTEN, "", 0, "/run/app.sock", 42},
    {SC_SOCK_UNIX_LISTEN, "", 0, "/tmp/with space.sock", 0},
    {SC_SOCK_UNIX_LISTEN, "", 0, "/run/big-inode.sock", 201},
};

START_TEST(test_sockets_fake)
{
    const want_sock_t *w = &want_socks[_i];
    sc_socket_list_t list;
    ck_assert_int_eq(sc_sockets_read(fake_root, &list), 0);
    ck_assert_uint_eq(list.len, ARRAY_LEN(want_socks));
    const sc_socket_t *s = &list.items[_i];
    ck_assert_int_eq(s->kind, w->kind);
    ck_assert_str_eq(s->host, w->host);
    ck_assert_uint_eq(s->port, w->port);
    ck_assert_str_eq(s->path, w->path);
    ck_assert_int_eq(s->owner, w->owner);
    sc_sockets_free(&list);
    ck_assert_ptr_null(list.items);
    ck_assert_uint_eq(list.len, 0);
}
END_TEST

START_TEST(test_sockets_vm_net)
{
    sc_socket_list_t list;
    ck_assert_int_eq(sc_sockets_read(nonet_root, &list), 0);
    ck_assert_uint_eq(list.len, 1);
    ck_assert_int_eq(list.items[0].kind, SC_SOCK_TCP_LISTEN);
    ck_assert_str_eq(list.items[0].host, "127.0.0.1");
    ck_assert_uint_eq(list.items[0].port, 80);
    ck_assert_int_eq(list.items[0].owner, 1);
    sc_sockets_free(&list);
}
END_TEST

START_TEST(test_sockets_errors)
{
    sc_socket_list_t list = {(sc_socket_t *)1, 3};
    ck_assert_int_eq(sc_sockets_read(escape_root, &list), -1);
    ck_assert_int_eq(errno, ELOOP);
    ck_assert_ptr_null(list.items);
    ck_assert_uint_eq(list.len, 0);
    ck_assert_int_eq(sc_sockets_read(at(base, "missing"), &list), -1);
    ck_assert_int_eq(errno, ENOENT);
    /* no net at all */
    ck_assert_int_eq(sc_sockets_read(at(fake_root, "42"), &list), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* The real /proc of this process                                                               */

static void on_usr1(int sig)
{
    (void)sig;
}

static const sc_socket_t *find_socket(const sc_socket_list_t *list, sc_sock_kind_t kind,
                                      const char *host, uint16_t port, const char *path)
{
    for (size_t i = 0; i < list->len; i++) {
        const sc_socket_t *s = &list->items[i];
        if (s->kind == kind && strcmp(s->host, host) == 0 && s->port == port &&
            strcmp(s->path, path) == 0)
            return s;
    }
    return NULL;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

START_TEST(test_real_sockets)
{
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(tcp, 0);
    ck_assert_int_eq(bind(tcp, (struct sockaddr *)&lo, sizeof lo), 0);
    ck_assert_int_eq(listen(tcp, 4), 0);
    uint16_t tcp_port = bound_port(tcp);

    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(udp, 0);
    ck_assert_int_eq(bind(udp, (struct sockaddr *)&lo, sizeof lo), 0);
    uint16_t udp_port = bound_port(udp);

    /* a connected TCP pair on the listener's address must not show up as listeners */
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = lo;
    to.sin_port = htons(tcp_port);
    ck_assert_int_eq(connect(client, (struct sockaddr *)&to, sizeof to), 0);
    uint16_t client_port = bound_port(client);

    /* IPv6 loopback, where the host has it */
    int tcp6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    uint16_t tcp6_port = 0;
    if (tcp6 >= 0 && bind(tcp6, (struct sockaddr *)&lo6, sizeof lo6) == 0 && listen(tcp6, 4) == 0)
        tcp6_port = bound_port(tcp6);

    char dir[] = "/tmp/check_procinfo-sock-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s/listen.sock", dir);
    int ux = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(ux, 0);
    ck_assert_int_eq(bind(ux, (struct sockaddr *)&un, sizeof un), 0);
    ck_assert_int_eq(listen(ux, 4), 0);
    /* net/unix keeps the path a socket was bound to after it is unlinked */
    unlink(un.sun_path);
    rmdir(dir);

    sc_socket_list_t list;
    ck_assert_int_eq(sc_sockets_read("/proc", &list), 0);
    const sc_socket_t *s = find_socket(&list, SC_SOCK_TCP_LISTEN, "127.0.0.1", tcp_port, "");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->owner, getpid());
    s = find_socket(&list, SC_SOCK_UDP, "127.0.0.1", udp_port, "");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->owner, getpid());
    ck_assert_ptr_null(find_socket(&list, SC_SOCK_TCP_LISTEN, "127.0.0.1", client_port, ""));
    if (tcp6_port != 0) {
        s = find_socket(&list, SC_SOCK_TCP_LISTEN, "::1", tcp6_port, "");
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(s->owner, getpid());
    }
    s = find_socket(&list, SC_SOCK_UNIX_LISTEN, "", 0, un.sun_path);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->owner, getpid());
    size_t listeners_here = 0;
    for (size_t i = 0; i < list.len; i++)
        if (list.items[i].owner == getpid() && list.items[i].kind == SC_SOCK_TCP_LISTEN)
            listeners_here++;
    ck_assert_uint_eq(listeners_here, tcp6_port != 0 ? 2 : 1);
    sc_sockets_free(&list);

    close(ux);
    close(client);
    if (tcp6 >= 0)
        close(tcp6);
    close(udp);
    close(tcp);
}
END_TEST

START_TEST(test_real_procs)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    ck_assert(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));

    sc_proc_list_t list;
    ck_assert_int_eq(sc_procs_read("/proc", &list), 0);
    ck_assert_uint_gt(list.len, 0);
    const sc_proc_t *me = NULL;
    for (size_t i = 0; i < list.len; i++) {
        if (i > 0)
            ck_assert_int_lt(list.items[i - 1].pid, list.items[i].pid);
        if (list.items[i].pid == getpid())
            me = &list.items[i];
    }
    ck_assert_ptr_nonnull(me);
    ck_assert_int_eq(me->ppid, getppid());
    ck_assert_int_eq(me->pgid, getpgrp());
    ck_assert_int_eq(me->sid, getsid(0));
    ck_assert(me->state == 'R' || me->state == 'S');
    char comm[64] = "";
    FILE *f = fopen("/proc/self/comm", "r"); /* "check_procinfo", or valgrind's */
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(comm, sizeof comm, f));
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    ck_assert_str_eq(me->comm, comm);
    ck_assert_ptr_nonnull(me->argv);
    ck_assert_ptr_nonnull(me->argv[0]);
    /* Under valgrind the kernel's cmdline is valgrind's, and /proc/self/cmdline is faked. */
    if (strncmp(me->comm, "memcheck", 8) != 0) {
        char cmdline[4096];
        int fd = open("/proc/self/cmdline", O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ssize_t n = read(fd, cmdline, sizeof cmdline);
        close(fd);
        ck_assert_int_gt(n, 0);
        size_t k = 0;
        for (ssize_t off = 0; off < n; off += (ssize_t)strlen(cmdline + off) + 1, k++) {
            ck_assert_ptr_nonnull(me->argv[k]);
            ck_assert_str_eq(me->argv[k], cmdline + off);
        }
        ck_assert_ptr_null(me->argv[k]);
        ck_assert_ptr_nonnull(strstr(me->argv[0], "check_procinfo"));
    }
    ck_assert_str_eq(me->cwd, cwd);
    ck_assert_uint_ne(me->sig_caught & (UINT64_C(1) << (SIGUSR1 - 1)), 0);
    ck_assert_uint_eq(me->sig_ignored & (UINT64_C(1) << (SIGUSR1 - 1)), 0);
    ck_assert_uint_ne(me->sig_ignored & (UINT64_C(1) << (SIGUSR2 - 1)), 0);
    ck_assert_uint_eq(me->sig_caught & (UINT64_C(1) << (SIGUSR2 - 1)), 0);
    ck_assert(sc_procs_descends(&list, getpid(), getppid()));
    ck_assert(sc_procs_descends(&list, getpid(), getpid()));
    if (getppid() != 1)
        ck_assert(!sc_procs_descends(&list, getppid(), getpid()));
    sc_procs_free(&list);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static Suite *procinfo_suite(void)
{
    Suite *s = suite_create("procinfo");
    TCase *tc = tcase_create("signals");
    tcase_add_loop_test(tc, test_signal_names, 0, (int)ARRAY_LEN(signals));
    tcase_add_loop_test(tc, test_signal_numbers, 0, 32);
    tcase_add_loop_test(tc, test_signal_rejects, 0, (int)ARRAY_LEN(signal_rejects));
    tcase_add_test(tc, test_signal_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("hosts");
    tcase_add_loop_test(tc, test_host_matches, 0, (int)ARRAY_LEN(host_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("fake procfs");
    tcase_add_unchecked_fixture(tc, build_fake_trees, remove_fake_trees);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_procs_pids);
    tcase_add_loop_test(tc, test_procs_fields, 0, (int)ARRAY_LEN(want_procs));
    tcase_add_test(tc, test_procs_bounds);
    tcase_add_test(tc, test_procs_errors);
    tcase_add_loop_test(tc, test_procs_descends, 0, (int)ARRAY_LEN(descends_cases));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ /* the net files are a little-endian kernel's */
    tcase_add_loop_test(tc, test_sockets_fake, 0, (int)ARRAY_LEN(want_socks));
    tcase_add_test(tc, test_sockets_vm_net);
#endif
    tcase_add_test(tc, test_sockets_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("real proc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_real_sockets);
    tcase_add_test(tc, test_real_procs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(procinfo_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
