/*
 * check_fsops.c - GuestFilesystemCall (sidecar/vmfs/fsops.c, fsops_write.c) called directly on a root
 * built in a temporary directory: every operation's success path and errno messages, read-only
 * roots, limits, stat fields, content encoding, and escapes (symlinks to host files, "..",
 * absolute links, a symlink swapped while calls run) against a canary file outside the root.
 * The permission cases are in fsops_policy.c, the fixture in fsops_fixture.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops_fixture.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors, one table for every operation                                                        */

/* clang-format off */
static const fcase_t error_cases[] = {
    /* READ_FILE */
    {.op = OP(READ_FILE), .path = "/missing",
     .want = "ENOENT: no such file or directory, open '/missing'"},
    {.op = OP(READ_FILE), .path = "/dir",
     .want = "EISDIR: illegal operation on a directory, open '/dir'"},
    {.op = OP(READ_FILE), .path = "/file.txt/x",
     .want = "ENOTDIR: not a directory, open '/file.txt/x'"},
    {.op = OP(READ_FILE), .path = "/loop-a",
     .want = "ELOOP: too many levels of symbolic links, open '/loop-a'"},
    {.op = OP(READ_FILE), .path = "/fifo", .want = "EINVAL: invalid argument, open '/fifo'"},
    {.op = OP(READ_FILE), .path = "/a\x01" "b", .want = "EINVAL: invalid argument, open '/a?b'"},
    {.op = OP(READ_FILE), .path = "/a\x7f", .want = "EINVAL: invalid argument, open '/a?'"},
    {.op = OP(READ_FILE), .path = "/dangling",
     .want = "ENOENT: no such file or directory, open '/dangling'"},
    /* PREAD */
    {.op = OP(PREAD), .path = "/file.txt", .len = SET(1),
     .want = "guest filesystem pread requires offset"},
    {.op = OP(PREAD), .path = "/file.txt", .offset = SET(0),
     .want = "guest filesystem pread requires len"},
    {.op = OP(PREAD), .path = "/file.txt", .offset = SET(0), .len = SET(2000000),
     .want = "EINVAL: pread length 2000000 exceeds configured limit 1048576"},
    {.op = OP(PREAD), .path = "/dir", .offset = SET(0), .len = SET(1),
     .want = "EISDIR: illegal operation on a directory, read '/dir'"},
    {.op = OP(PREAD), .path = "/missing", .offset = SET(0), .len = SET(1),
     .want = "ENOENT: no such file or directory, read '/missing'"},
    {.op = OP(PREAD), .path = "/fifo", .offset = SET(0), .len = SET(1),
     .want = "EINVAL: invalid argument, read '/fifo'"},
    /* WRITE_FILE */
    {.op = OP(WRITE_FILE), .path = "/x",
     .want = "guest filesystem write_file for /x requires content"},
    {.op = OP(WRITE_FILE), .path = "/x", .content = "!!!!", .b64 = true,
     .want = "invalid base64 guest filesystem content for /x"},
    {.op = OP(WRITE_FILE), .path = "/x", .content = "abc", .b64 = true,
     .want = "invalid base64 guest filesystem content for /x"},
    /* as the reference's decoder (and CreateVm's entries): canonical padding, zero spare bits */
    {.op = OP(WRITE_FILE), .path = "/x", .content = "Y===", .b64 = true,
     .want = "invalid base64 guest filesystem content for /x"},
    {.op = OP(WRITE_FILE), .path = "/x", .content = "YR==", .b64 = true,
     .want = "invalid base64 guest filesystem content for /x"},
    /* missing parents are made, but not through a file or a dangling link */
    {.op = OP(WRITE_FILE), .path = "/file.txt/x/y", .content = "",
     .want = "ENOTDIR: not a directory, open '/file.txt/x/y'"},
    {.op = OP(WRITE_FILE), .path = "/dangling/x/y", .content = "",
     .want = "ENOENT: no such file or directory, open '/dangling/x/y'"},
    {.op = OP(WRITE_FILE), .path = "/loop-a/x/y", .content = "",
     .want = "ELOOP: too many levels of symbolic links, open '/loop-a/x/y'"},
    {.op = OP(WRITE_FILE), .path = "/dir", .content = "",
     .want = "EISDIR: illegal operation on a directory, open '/dir'"},
    {.op = OP(WRITE_FILE), .path = "/", .content = "",
     .want = "EISDIR: illegal operation on a directory, open '/'"},
    {.op = OP(WRITE_FILE), .path = "/file.txt/x", .content = "",
     .want = "ENOTDIR: not a directory, open '/file.txt/x'"},
    {.op = OP(WRITE_FILE), .path = "/fifo", .content = "x",
     .want = "EINVAL: invalid argument, open '/fifo'"},
    {.op = OP(WRITE_FILE), .path = "/loop-a", .content = "x",
     .want = "ELOOP: too many levels of symbolic links, open '/loop-a'"},
    /* CREATE_DIR */
    {.op = OP(CREATE_DIR), .path = "/dir", .want = "EEXIST: file already exists, mkdir '/dir'"},
    {.op = OP(CREATE_DIR), .path = "/file.txt",
     .want = "EEXIST: file already exists, mkdir '/file.txt'"},
    {.op = OP(CREATE_DIR), .path = "/dangling",
     .want = "EEXIST: file already exists, mkdir '/dangling'"},
    {.op = OP(CREATE_DIR), .path = "/", .want = "EEXIST: file already exists, mkdir '/'"},
    {.op = OP(CREATE_DIR), .path = "/nodir/x",
     .want = "ENOENT: no such file or directory, mkdir '/nodir/x'"},
    {.op = OP(CREATE_DIR), .path = "/file.txt/x",
     .want = "ENOTDIR: not a directory, mkdir '/file.txt/x'"},
    /* MKDIR */
    {.op = OP(MKDIR), .path = "/dir", .want = "EEXIST: file already exists, mkdir '/dir'"},
    {.op = OP(MKDIR), .path = "/nodir/x",
     .want = "ENOENT: no such file or directory, mkdir '/nodir/x'"},
    {.op = OP(MKDIR), .path = "/file.txt", .recursive = true,
     .want = "EEXIST: file already exists, mkdir '/file.txt'"},
    {.op = OP(MKDIR), .path = "/dangling", .recursive = true,
     .want = "EEXIST: file already exists, mkdir '/dangling'"},
    {.op = OP(MKDIR), .path = "/file.txt/x/y", .recursive = true,
     .want = "ENOTDIR: not a directory, mkdir '/file.txt/x/y'"},
    {.op = OP(MKDIR), .path = "/loop-a/x", .recursive = true,
     .want = "ELOOP: too many levels of symbolic links, mkdir '/loop-a/x'"},
    /* STAT, LSTAT */
    {.op = OP(STAT), .path = "/missing",
     .want = "ENOENT: no such file or directory, stat '/missing'"},
    {.op = OP(STAT), .path = "/dangling",
     .want = "ENOENT: no such file or directory, stat '/dangling'"},
    {.op = OP(STAT), .path = "/loop-a",
     .want = "ELOOP: too many levels of symbolic links, stat '/loop-a'"},
    {.op = OP(STAT), .path = "/file.txt/x", .want = "ENOTDIR: not a directory, stat '/file.txt/x'"},
    {.op = OP(LSTAT), .path = "/missing",
     .want = "ENOENT: no such file or directory, lstat '/missing'"},
    {.op = OP(LSTAT), .path = "/nodir/x",
     .want = "ENOENT: no such file or directory, lstat '/nodir/x'"},
    /* READ_DIR */
    {.op = OP(READ_DIR), .path = "/file.txt",
     .want = "ENOTDIR: not a directory, scandir '/file.txt'"},
    {.op = OP(READ_DIR), .path = "/missing",
     .want = "ENOENT: no such file or directory, scandir '/missing'"},
    {.op = OP(READ_DIR), .path = "/loop-b",
     .want = "ELOOP: too many levels of symbolic links, scandir '/loop-b'"},
    /* REMOVE_FILE, REMOVE_DIR */
    {.op = OP(REMOVE_FILE), .path = "/dir",
     .want = "EISDIR: illegal operation on a directory, unlink '/dir'"},
    {.op = OP(REMOVE_FILE), .path = "/",
     .want = "EISDIR: illegal operation on a directory, unlink '/'"},
    {.op = OP(REMOVE_FILE), .path = "/missing",
     .want = "ENOENT: no such file or directory, unlink '/missing'"},
    {.op = OP(REMOVE_FILE), .path = "/file.txt/x",
     .want = "ENOTDIR: not a directory, unlink '/file.txt/x'"},
    {.op = OP(REMOVE_DIR), .path = "/full",
     .want = "ENOTEMPTY: directory not empty, rmdir '/full'"},
    {.op = OP(REMOVE_DIR), .path = "/file.txt",
     .want = "ENOTDIR: not a directory, rmdir '/file.txt'"},
    {.op = OP(REMOVE_DIR), .path = "/link-dir",
     .want = "ENOTDIR: not a directory, rmdir '/link-dir'"},
    {.op = OP(REMOVE_DIR), .path = "/missing",
     .want = "ENOENT: no such file or directory, rmdir '/missing'"},
    {.op = OP(REMOVE_DIR), .path = "/", .want = "EPERM: operation not permitted, rmdir '/'"},
    /* RENAME */
    {.op = OP(RENAME), .path = "/file.txt",
     .want = "guest filesystem rename requires a destination_path"},
    {.op = OP(RENAME), .path = "/missing", .dest = "/x",
     .want = "ENOENT: no such file or directory, rename '/missing' -> '/x'"},
    {.op = OP(RENAME), .path = "/dir", .dest = "/dir/sub/x",
     .want = "EINVAL: invalid argument, rename '/dir' -> '/dir/sub/x'"},
    {.op = OP(RENAME), .path = "/dir", .dest = "/link-dir/x",
     .want = "EINVAL: invalid argument, rename '/dir' -> '/link-dir/x'"},
    {.op = OP(RENAME), .path = "/file.txt", .dest = "/dir",
     .want = "EISDIR: illegal operation on a directory, rename '/file.txt' -> '/dir'"},
    {.op = OP(RENAME), .path = "/dir", .dest = "/file.txt",
     .want = "ENOTDIR: not a directory, rename '/dir' -> '/file.txt'"},
    {.op = OP(RENAME), .path = "/dir", .dest = "/full",
     .want = "ENOTEMPTY: directory not empty, rename '/dir' -> '/full'"},
    {.op = OP(RENAME), .path = "/file.txt", .dest = "/nodir/x",
     .want = "ENOENT: no such file or directory, rename '/file.txt' -> '/nodir/x'"},
    {.op = OP(RENAME), .path = "/file.txt", .dest = "/file.txt/x",
     .want = "ENOTDIR: not a directory, rename '/file.txt' -> '/file.txt/x'"},
    {.op = OP(RENAME), .path = "/", .dest = "/x",
     .want = "EPERM: operation not permitted, rename '/' -> '/x'"},
    {.op = OP(RENAME), .path = "/file.txt", .dest = "/a\x02",
     .want = "EINVAL: invalid argument, rename '/file.txt' -> '/a?'"},
    /* REALPATH */
    {.op = OP(REALPATH), .path = "/missing",
     .want = "ENOENT: no such file or directory, realpath '/missing'"},
    {.op = OP(REALPATH), .path = "/loop-a",
     .want = "ELOOP: too many levels of symbolic links, realpath '/loop-a'"},
    /* SYMLINK, READ_LINK */
    {.op = OP(SYMLINK), .path = "/l", .want = "guest filesystem symlink requires a target"},
    {.op = OP(SYMLINK), .path = "/file.txt", .target = "x",
     .want = "EEXIST: file already exists, symlink '/file.txt'"},
    {.op = OP(SYMLINK), .path = "/dangling", .target = "x",
     .want = "EEXIST: file already exists, symlink '/dangling'"},
    {.op = OP(SYMLINK), .path = "/nodir/l", .target = "x",
     .want = "ENOENT: no such file or directory, symlink '/nodir/l'"},
    {.op = OP(SYMLINK), .path = "/l", .target = "",
     .want = "ENOENT: no such file or directory, symlink '/l'"},
    {.op = OP(READ_LINK), .path = "/file.txt",
     .want = "EINVAL: invalid argument, readlink '/file.txt'"},
    {.op = OP(READ_LINK), .path = "/", .want = "EINVAL: invalid argument, readlink '/'"},
    {.op = OP(READ_LINK), .path = "/missing",
     .want = "ENOENT: no such file or directory, readlink '/missing'"},
    /* LINK */
    {.op = OP(LINK), .path = "/file.txt",
     .want = "guest filesystem link requires a destination_path"},
    {.op = OP(LINK), .path = "/dir", .dest = "/d2",
     .want = "EPERM: operation not permitted, link '/dir' -> '/d2'"},
    {.op = OP(LINK), .path = "/fifo", .dest = "/f2",
     .want = "EPERM: operation not permitted, link '/fifo' -> '/f2'"},
    {.op = OP(LINK), .path = "/file.txt", .dest = "/dir/file.txt",
     .want = "EEXIST: file already exists, link '/file.txt' -> '/dir/file.txt'"},
    {.op = OP(LINK), .path = "/file.txt", .dest = "/dangling",
     .want = "EEXIST: file already exists, link '/file.txt' -> '/dangling'"},
    {.op = OP(LINK), .path = "/missing", .dest = "/x",
     .want = "ENOENT: no such file or directory, link '/missing' -> '/x'"},
    {.op = OP(LINK), .path = "/file.txt", .dest = "/nodir/x",
     .want = "ENOENT: no such file or directory, link '/file.txt' -> '/nodir/x'"},
    /* CHMOD, CHOWN, UTIMES, TRUNCATE */
    {.op = OP(CHMOD), .path = "/file.txt", .want = "guest filesystem chmod requires a mode"},
    {.op = OP(CHMOD), .path = "/missing", .mode = SET(0600),
     .want = "ENOENT: no such file or directory, chmod '/missing'"},
    {.op = OP(CHMOD), .path = "/dangling", .mode = SET(0600),
     .want = "ENOENT: no such file or directory, chmod '/dangling'"},
    {.op = OP(CHOWN), .path = "/file.txt", .gid = SET(1),
     .want = "guest filesystem chown requires a uid"},
    {.op = OP(CHOWN), .path = "/file.txt", .uid = SET(1),
     .want = "guest filesystem chown requires a gid"},
    {.op = OP(CHOWN), .path = "/file.txt", .uid = SET(65536), .gid = SET(1),
     .want = "EINVAL: invalid argument, chown '/file.txt'"},
    {.op = OP(CHOWN), .path = "/file.txt", .uid = SET(1), .gid = SET(70000),
     .want = "EINVAL: invalid argument, chown '/file.txt'"},
    {.op = OP(CHOWN), .path = "/missing", .uid = SET(1), .gid = SET(1),
     .want = "ENOENT: no such file or directory, chown '/missing'"},
    {.op = OP(UTIMES), .path = "/file.txt", .mtime = SET(1),
     .want = "guest filesystem utimes requires atime_ms"},
    {.op = OP(UTIMES), .path = "/file.txt", .atime = SET(1),
     .want = "guest filesystem utimes requires mtime_ms"},
    {.op = OP(UTIMES), .path = "/missing", .atime = SET(1), .mtime = SET(1),
     .want = "ENOENT: no such file or directory, utime '/missing'"},
    {.op = OP(TRUNCATE), .path = "/file.txt", .want = "guest filesystem truncate requires len"},
    {.op = OP(TRUNCATE), .path = "/dir", .len = SET(0),
     .want = "EISDIR: illegal operation on a directory, truncate '/dir'"},
    {.op = OP(TRUNCATE), .path = "/fifo", .len = SET(0),
     .want = "EINVAL: invalid argument, truncate '/fifo'"},
    {.op = OP(TRUNCATE), .path = "/missing", .len = SET(0),
     .want = "ENOENT: no such file or directory, truncate '/missing'"},
    /* EXISTS surfaces only path errors */
    {.op = OP(EXISTS), .path = "/a\x1f", .want = "EINVAL: invalid argument, access '/a?'"},
};
/* clang-format on */

START_TEST(test_errors)
{
    const fcase_t *c = &error_cases[_i];
    expect(c);
    /* a failed call leaves the tree as it was */
    ck_assert_str_eq(slurp(hp("file.txt")), "content");
    ck_assert(host_exists(hp("dir/file.txt")) && host_exists(hp("full/a.txt")));
    ck_assert(host_exists(hp("dir")) && !host_exists(hp("x")) && !host_exists(hp("d2")));
    assert_canary_intact();
}
END_TEST

START_TEST(test_nul_and_long_paths)
{
    /* a NUL byte inside the path */
    memset(&rq, 0, sizeof rq);
    rq.operation = OP(READ_FILE);
    rq.path = (bare_str_t){"/file.txt\0x", 11};
    ck_assert_int_eq(call_req(), -1);
    ck_assert_str_eq(msg, "EINVAL: invalid argument, open '/file.txt?x'");
    ck_assert_str_eq(code, "kernel_error");
    /* the response echoes the path verbatim, NUL included */
    ck_assert_uint_eq(out.path.len, 11);
    ck_assert_int_eq(memcmp(out.path.ptr, "/file.txt\0x", 11), 0);

    /* longer than 4096 after normalization */
    static char big[6000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = i % 10 == 0 ? '/' : 'a';
    big[sizeof big - 1] = '\0';
    fcase_t c = {.op = OP(STAT), .path = big};
    load(&c);
    ck_assert_int_eq(call_req(), -1);
    ck_assert_msg(starts(msg, "ENAMETOOLONG: name too long, stat '/aaaaaaaaa/"), "%s", msg);
    ck_assert(bare_utf8_valid(msg, strlen(msg)));
    ck_assert_uint_lt(strlen(msg), 400); /* the quoted path is cut */

    /* one component longer than the kernel's NAME_MAX */
    static char comp[300];
    comp[0] = '/';
    memset(comp + 1, 'b', sizeof comp - 2);
    comp[sizeof comp - 1] = '\0';
    c = (fcase_t){.op = OP(WRITE_FILE), .path = comp, .content = "x"};
    load(&c);
    ck_assert_int_eq(call_req(), -1);
    ck_assert_msg(starts(msg, "ENAMETOOLONG: name too long, open '/bbb"), "%s", msg);
    c = (fcase_t){.op = OP(CREATE_DIR), .path = comp};
    load(&c);
    ck_assert_int_eq(call_req(), -1);
    ck_assert_msg(starts(msg, "ENAMETOOLONG: "), "%s", msg);
}
END_TEST

START_TEST(test_unknown_operation)
{
    memset(&rq, 0, sizeof rq);
    rq.operation = (sx_guest_filesystem_operation_t)20;
    rq.path = BARE_STR_LIT("/file.txt");
    ck_assert_int_eq(call_req(), -1);
    ck_assert_str_eq(code, "invalid_state");
    ck_assert_str_eq(msg, "unsupported guest filesystem operation 20");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                      */

START_TEST(test_read_file)
{
    ck_assert_str_eq(read_text("/dir/file.txt"), "hello");
    ck_assert_str_eq(read_text("dir/file.txt"), "hello");          /* relative = from "/" */
    ck_assert_str_eq(read_text("/x/../dir/./file.txt/"), "hello"); /* lexical, trailing "/" */
    ck_assert_str_eq(read_text("/link-file"), "hello");
    ck_assert_str_eq(read_text("/link-dir/file.txt"), "hello");
    ck_assert_str_eq(read_text("/link-root/link-dir/sub/deep.txt"), "deep");
    ck_assert_str_eq(read_text("/empty.txt"), "");
    /* the path is echoed verbatim */
    ok((fcase_t){.op = OP(READ_FILE), .path = "dir//file.txt/"});
    ck_assert_uint_eq(out.path.len, strlen("dir//file.txt/"));
    ck_assert_int_eq(memcmp(out.path.ptr, "dir//file.txt/", out.path.len), 0);
    ck_assert(!out.stat.present && !out.entries.present && !out.exists.present &&
              !out.target.present);
}
END_TEST

START_TEST(test_read_binary_base64)
{
    ok((fcase_t){.op = OP(READ_FILE), .path = "/bin.dat"});
    ck_assert(out.encoding.present);
    ck_assert_int_eq(out.encoding.value, SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64);
    ck_assert_uint_eq(out.content.value.len, 8);
    ck_assert_int_eq(memcmp(out.content.value.ptr, "AP/+gAE=", 8), 0);

    /* every byte value written as base64 comes back identical, as base64 */
    static char b64[400];
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(255 - i);
    size_t k = 0;
    for (size_t i = 0; i < 256; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < 256 ? (uint32_t)raw[i + 1] << 8 : 0) |
                     (i + 2 < 256 ? raw[i + 2] : 0);
        b64[k++] = alpha[v >> 18 & 63];
        b64[k++] = alpha[v >> 12 & 63];
        b64[k++] = i + 1 < 256 ? alpha[v >> 6 & 63] : '=';
        b64[k++] = i + 2 < 256 ? alpha[v & 63] : '=';
    }
    b64[k] = '\0';
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/raw.bin", .content = b64, .b64 = true});
    int fd = open(hp("raw.bin"), O_RDONLY);
    uint8_t back[300];
    ck_assert_int_eq(read(fd, back, sizeof back), 256);
    close(fd);
    ck_assert_int_eq(memcmp(back, raw, 256), 0);
    ok((fcase_t){.op = OP(READ_FILE), .path = "/raw.bin"});
    ck_assert_int_eq(out.encoding.value, SX_ROOT_FILESYSTEM_ENTRY_ENCODING_BASE64);
    ck_assert_uint_eq(out.content.value.len, k);
    ck_assert_int_eq(memcmp(out.content.value.ptr, b64, k), 0);

    /* base64 of valid UTF-8 comes back as UTF-8 text */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/u.txt", .content = "aMOpbGxv", .b64 = true});
    ck_assert_str_eq(read_text("/u.txt"), "h\xc3\xa9llo");
    /* UTF-8 content is written as its bytes */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/u.txt", .content = "AP/+"});
    ck_assert_str_eq(slurp(hp("u.txt")), "AP/+");
}
END_TEST

START_TEST(test_read_limits)
{
    limits.max_pread_bytes = 1024;
    static char big[1025];
    memset(big, 'z', sizeof big);
    mk_file("big", big, 1025);
    mk_file("fits", big, 1024);
    fails((fcase_t){.op = OP(READ_FILE),
                    .path = "/big",
                    .want = "EINVAL: file size 1025 exceeds configured limit 1024, open '/big'"});
    ok((fcase_t){.op = OP(READ_FILE), .path = "/fits"});
    ck_assert_uint_eq(out.content.value.len, 1024);
    ok((fcase_t){.op = OP(PREAD), .path = "/big", .offset = SET(1), .len = SET(1024)});
    ck_assert_uint_eq(out.content.value.len, 1024);
    fails((fcase_t){.op = OP(PREAD),
                    .path = "/big",
                    .offset = SET(0),
                    .len = SET(1025),
                    .want = "EINVAL: pread length 1025 exceeds configured limit 1024"});
}
END_TEST

static const struct {
    uint64_t off, len;
    const char *want;
} pread_cases[] = {
    {0, 3, "hel"}, {3, 100, "lo"}, {0, 5, "hello"}, {4, 1, "o"},
    {5, 10, ""},   {99, 3, ""},    {0, 0, ""},      {UINT64_MAX / 2, 1, ""},
};

START_TEST(test_pread)
{
    ok((fcase_t){.op = OP(PREAD),
                 .path = "/link-file",
                 .offset = SET(pread_cases[_i].off),
                 .len = SET(pread_cases[_i].len)});
    ck_assert_str_eq(text_of(), pread_cases[_i].want);
}
END_TEST

START_TEST(test_read_dir)
{
    static const char *const want_root[] = {"bin.dat",        "dangling",        "dangling-abs",
                                            "dangling-chain", "dangling-secret", "dir",
                                            "empty",          "empty.txt",       "etc",
                                            "fifo",           "file.txt",        "full",
                                            "h1.txt",         "h2.txt",          "link-canary",
                                            "link-dir",       "link-file",       "link-passwd",
                                            "link-root",      "link-secret",     "link-shadow",
                                            "link-up",        "link-up-canary",  "loop-a",
                                            "loop-b",         "secret",          "tmp"};
    /* "/", and every way up from inside it, list the root (never the host's "/") */
    static const char *const roots[] = {"/",         "/link-root",      "/link-up", "/dir/link-up2",
                                        "/../../..", "/link-up/link-up"};
    for (size_t k = 0; k < ARRAY_LEN(roots); k++) {
        ok((fcase_t){.op = OP(READ_DIR), .path = roots[k]});
        ck_assert(out.entries.present);
        ck_assert_uint_eq(out.entries.value.len, ARRAY_LEN(want_root));
        for (size_t i = 0; i < ARRAY_LEN(want_root); i++)
            ck_assert(bare_str_eq_cstr(out.entries.value.items[i], want_root[i]));
    }
    ok((fcase_t){.op = OP(READ_DIR), .path = "/link-dir"});
    ck_assert_uint_eq(out.entries.value.len, 3);
    ck_assert(bare_str_eq_cstr(out.entries.value.items[0], "file.txt"));
    ck_assert(bare_str_eq_cstr(out.entries.value.items[1], "link-up2"));
    ck_assert(bare_str_eq_cstr(out.entries.value.items[2], "sub"));
    ok((fcase_t){.op = OP(READ_DIR), .path = "/empty"});
    ck_assert(out.entries.present);
    ck_assert_uint_eq(out.entries.value.len, 0);

    /* byte-wise order, and names that are not UTF-8 come back with U+FFFD */
    mk_dir("order");
    static const char *const names[] = {"b", "B", "a", "\xc3\xa9", "_", "aa", "a.b", "\xff"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "order/%s", names[i]);
        mk_text(rel, "");
    }
    static const char *const sorted[] = {"B",  "_", "a",        "a.b",
                                         "aa", "b", "\xc3\xa9", "\xef\xbf\xbd"};
    ok((fcase_t){.op = OP(READ_DIR), .path = "/order"});
    ck_assert_uint_eq(out.entries.value.len, ARRAY_LEN(sorted));
    for (size_t i = 0; i < ARRAY_LEN(sorted); i++)
        ck_assert_msg(bare_str_eq_cstr(out.entries.value.items[i], sorted[i]), "entry %zu", i);
}
END_TEST

START_TEST(test_read_dir_limit)
{
    limits.max_readdir_entries = 3;
    ok((fcase_t){.op = OP(READ_DIR), .path = "/dir"});
    ck_assert_uint_eq(out.entries.value.len, 3);
    limits.max_readdir_entries = 2;
    fails((fcase_t){.op = OP(READ_DIR),
                    .path = "dir/",
                    .want = "ENOMEM: directory listing for 'dir/' exceeds configured limit of 2 "
                            "entries"});
}
END_TEST

START_TEST(test_exists)
{
    static const struct {
        const char *path;
        bool want;
    } cases[] = {
        {"/file.txt", true},
        {"/dir", true},
        {"/", true},
        {"/missing", false},
        {"/dangling", true},
        {"/loop-a", true},
        {"/loop-a/x", false},
        {"/file.txt/x", false},
        {"/nodir/x", false},
        {"/link-canary", true},
        {"/link-dir/file.txt", true},
        {"/link-up-canary", true},
        {"/link-up/canary", false},
        {"/fifo", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ok((fcase_t){.op = OP(EXISTS), .path = cases[i].path});
        ck_assert(out.exists.present);
        ck_assert_msg(out.exists.value == cases[i].want, "exists %s", cases[i].path);
    }
}
END_TEST

START_TEST(test_realpath)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/", "/"},
        {"/link-file", "/dir/file.txt"},
        {"/link-dir", "/dir"},
        {"/link-dir/sub/", "/dir/sub"},
        {"/link-up", "/"},
        {"/link-up/dir/../file.txt", "/file.txt"},
        {"/dir/link-up2/file.txt", "/file.txt"},
        {"/link-root/link-root/dir", "/dir"},
        {"link-shadow", "/etc/shadow"},
        {"/h2.txt", "/h2.txt"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ok((fcase_t){.op = OP(REALPATH), .path = cases[i].path});
        ck_assert_str_eq(target_of(), cases[i].want);
    }
}
END_TEST

START_TEST(test_read_link)
{
    ok((fcase_t){.op = OP(READ_LINK), .path = "/link-file"});
    ck_assert_str_eq(target_of(), "dir/file.txt");
    ok((fcase_t){.op = OP(READ_LINK), .path = "/link-up"});
    ck_assert_str_eq(target_of(), "../../../../../../../..");
    /* the stored text, even when it names a host path; the final link is not followed */
    ok((fcase_t){.op = OP(READ_LINK), .path = "/link-canary"});
    ck_assert_str_eq(target_of(), canary);
    ok((fcase_t){.op = OP(READ_LINK), .path = "/link-dir/link-up2"});
    ck_assert_str_eq(target_of(), "../../..");
    mk_link("badlink", "x\xff");
    ok((fcase_t){.op = OP(READ_LINK), .path = "/badlink"});
    ck_assert_str_eq(target_of(), "x\xef\xbf\xbd");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Stat                                                                                         */

static uint64_t ms(struct timespec t)
{
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void assert_stat_matches(const sx_guest_filesystem_stat_t *s, const struct stat *h)
{
    ck_assert_uint_eq(s->mode, h->st_mode);
    ck_assert_uint_eq(s->size, (uint64_t)h->st_size);
    ck_assert_uint_eq(s->blocks, (uint64_t)h->st_blocks);
    ck_assert_uint_eq(s->dev, h->st_dev);
    ck_assert_uint_eq(s->rdev, h->st_rdev);
    ck_assert_uint_eq(s->ino, h->st_ino);
    ck_assert_uint_eq(s->nlink, h->st_nlink);
    ck_assert(s->is_directory == S_ISDIR(h->st_mode));
    ck_assert(s->is_symbolic_link == S_ISLNK(h->st_mode));
    ck_assert_uint_eq(s->mtime_ms, ms(h->st_mtim));
    ck_assert_uint_eq(s->atime_ms, ms(h->st_atim));
    ck_assert_uint_eq(s->ctime_ms, ms(h->st_ctim));
    ck_assert_uint_le(s->birthtime_ms, s->ctime_ms);
}

START_TEST(test_stat_fields)
{
    struct stat h;
    sx_guest_filesystem_stat_t s = stat_of(OP(STAT), "/file.txt");
    ck_assert_int_eq(lstat(hp("file.txt"), &h), 0);
    assert_stat_matches(&s, &h);
    ck_assert_uint_eq(s.mode, S_IFREG | 0644);
    ck_assert_uint_eq(s.size, 7);
    ck_assert_uint_ne(s.ino, 0);
    if (host.privileged) { /* made by the test as host root: outside the guest range */
        ck_assert_uint_eq(s.uid, 65534);
        ck_assert_uint_eq(s.gid, 65534);
    }

    s = stat_of(OP(STAT), "/dir");
    ck_assert_int_eq(lstat(hp("dir"), &h), 0);
    assert_stat_matches(&s, &h);
    ck_assert_uint_eq(s.mode, S_IFDIR | 0755);
    ck_assert(s.is_directory && !s.is_symbolic_link);

    /* STAT follows, LSTAT does not */
    s = stat_of(OP(STAT), "/link-file");
    ck_assert_int_eq(lstat(hp("dir/file.txt"), &h), 0);
    assert_stat_matches(&s, &h);
    ck_assert(!s.is_symbolic_link);
    s = stat_of(OP(LSTAT), "/link-file");
    ck_assert_int_eq(lstat(hp("link-file"), &h), 0);
    assert_stat_matches(&s, &h);
    ck_assert(s.is_symbolic_link && !s.is_directory);
    ck_assert_uint_eq(s.mode & S_IFMT, S_IFLNK);
    ck_assert_uint_eq(s.size, strlen("dir/file.txt"));
    s = stat_of(OP(LSTAT), "/loop-a");
    ck_assert(s.is_symbolic_link);
    s = stat_of(OP(LSTAT), "/");
    ck_assert_int_eq(lstat(root_dir, &h), 0);
    assert_stat_matches(&s, &h);

    s = stat_of(OP(STAT), "/fifo");
    ck_assert_uint_eq(s.mode & S_IFMT, S_IFIFO);
    s = stat_of(OP(STAT), "/link-up");
    ck_assert_int_eq(lstat(root_dir, &h), 0);
    assert_stat_matches(&s, &h);

    /* hard links: one inode */
    sx_guest_filesystem_stat_t a = stat_of(OP(STAT), "/h1.txt");
    sx_guest_filesystem_stat_t b = stat_of(OP(STAT), "/h2.txt");
    ck_assert_uint_eq(a.ino, b.ino);
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_uint_eq(b.nlink, 2);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                      */

static void assert_host_owner(const char *rel, uint32_t uid, uint32_t gid)
{
    struct stat h;
    ck_assert_int_eq(lstat(hp(rel), &h), 0);
    if (host.privileged) {
        ck_assert_uint_eq(h.st_uid, ID_BASE + uid);
        ck_assert_uint_eq(h.st_gid, ID_BASE + gid);
    }
    sx_guest_filesystem_stat_t s = stat_of(OP(LSTAT), hp(rel) + strlen(root_dir));
    if (!S_ISLNK(h.st_mode) || host.privileged) {
        ck_assert_uint_eq(s.uid, uid);
        ck_assert_uint_eq(s.gid, gid);
    }
}

static mode_t host_mode(const char *rel)
{
    struct stat h;
    ck_assert_int_eq(lstat(hp(rel), &h), 0);
    return h.st_mode;
}

START_TEST(test_write_file)
{
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/new.txt", .content = "fresh"});
    ck_assert(!out.content.present && !out.target.present);
    ck_assert_str_eq(slurp(hp("new.txt")), "fresh");
    ck_assert_uint_eq(host_mode("new.txt"), S_IFREG | 0644);
    assert_host_owner("new.txt", 1000, 1000);

    /* an existing file keeps its mode and owner; content replaced, not appended */
    ck_assert_int_eq(chmod(hp("file.txt"), 0600), 0);
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/file.txt", .content = "xy"});
    ck_assert_str_eq(slurp(hp("file.txt")), "xy");
    ck_assert_uint_eq(host_mode("file.txt"), S_IFREG | 0600);
    struct stat h;
    ck_assert_int_eq(lstat(hp("file.txt"), &h), 0);
    ck_assert_uint_eq(h.st_uid, geteuid());

    /* through a symlink: its target is written, the link stays */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/link-file", .content = "via link"});
    ck_assert_str_eq(slurp(hp("dir/file.txt")), "via link");
    ck_assert(S_ISLNK(host_mode("link-file")));

    /* through dangling links (absolute, then a chain): the target is created inside the root */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/dangling-abs", .content = "made"});
    ck_assert_str_eq(slurp(hp("made.txt")), "made");
    ck_assert(!host_exists("/made.txt"));
    ck_assert_uint_eq(host_mode("made.txt"), S_IFREG | 0644);
    assert_host_owner("made.txt", 1000, 1000);
    ck_assert_int_eq(unlink(hp("made.txt")), 0);
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/dangling-chain", .content = "chain"});
    ck_assert_str_eq(slurp(hp("made.txt")), "chain");
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/dangling", .content = "rel"});
    ck_assert_str_eq(slurp(hp("nowhere")), "rel");
    /* a dangling link whose target's directory is missing */
    mk_link("dangling-deep", "/no/such/file");
    fails((fcase_t){.op = OP(WRITE_FILE),
                    .path = "/dangling-deep",
                    .content = "x",
                    .want = "ENOENT: no such file or directory, open '/dangling-deep'"});
    mk_link("dangling-dir", "dir/");
    fails((fcase_t){.op = OP(WRITE_FILE),
                    .path = "/dangling-dir",
                    .content = "x",
                    .want = "EISDIR: illegal operation on a directory, open '/dangling-dir'"});
    /* empty content truncates */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/new.txt", .content = ""});
    ck_assert_str_eq(slurp(hp("new.txt")), "");

    /* missing parents are made, 0755 and 1000:1000 each, as the reference's write_file does */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/app/lib/utils.js", .content = "u"});
    ck_assert_str_eq(slurp(hp("app/lib/utils.js")), "u");
    static const char *const made[] = {"app", "app/lib"};
    for (size_t i = 0; i < ARRAY_LEN(made); i++) {
        ck_assert_uint_eq(host_mode(made[i]), S_IFDIR | 0755);
        assert_host_owner(made[i], 1000, 1000);
    }
    assert_host_owner("app/lib/utils.js", 1000, 1000);
    /* below an existing part, through a link to a directory, and ".." inside the new ones */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/app/lib/x/y/../z.txt", .content = "z"});
    ck_assert_str_eq(slurp(hp("app/lib/x/z.txt")), "z");
    ck_assert(!host_exists(hp("app/lib/x/y")));
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/link-dir/n1/n2.txt", .content = "n"});
    ck_assert_str_eq(slurp(hp("dir/n1/n2.txt")), "n");
    ck_assert(S_ISLNK(host_mode("link-dir")));
    /* a link up and out of the root is the root: the parents are made inside */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/link-up/out/f.txt", .content = "in"});
    ck_assert_str_eq(slurp(hp("out/f.txt")), "in");
    assert_canary_intact();
}
END_TEST

START_TEST(test_mkdir)
{
    ok((fcase_t){.op = OP(CREATE_DIR), .path = "/made"});
    ck_assert_uint_eq(host_mode("made"), S_IFDIR | 0755);
    assert_host_owner("made", 1000, 1000);
    ok((fcase_t){.op = OP(MKDIR), .path = "/made/one"});
    ck_assert_uint_eq(host_mode("made/one"), S_IFDIR | 0755);
    /* non-recursive needs the parent */
    fails((fcase_t){.op = OP(MKDIR),
                    .path = "/p/q",
                    .want = "ENOENT: no such file or directory, mkdir '/p/q'"});
    ck_assert(!host_exists(hp("p")));
    /* recursive makes every missing part, 0755 and 1000:1000 each */
    ok((fcase_t){.op = OP(MKDIR), .path = "/p/q/r", .recursive = true});
    static const char *const made[] = {"p", "p/q", "p/q/r"};
    for (size_t i = 0; i < ARRAY_LEN(made); i++) {
        ck_assert_uint_eq(host_mode(made[i]), S_IFDIR | 0755);
        assert_host_owner(made[i], 1000, 1000);
    }
    /* recursive on an existing directory (or a link to one, or "/") succeeds */
    ok((fcase_t){.op = OP(MKDIR), .path = "/p/q/r", .recursive = true});
    ok((fcase_t){.op = OP(MKDIR), .path = "/dir", .recursive = true});
    ok((fcase_t){.op = OP(MKDIR), .path = "/link-dir", .recursive = true});
    ok((fcase_t){.op = OP(MKDIR), .path = "/", .recursive = true});
    /* through symlinked directories, inside the root */
    ok((fcase_t){.op = OP(MKDIR), .path = "/link-dir/new/deeper", .recursive = true});
    ck_assert_uint_eq(host_mode("dir/new/deeper"), S_IFDIR | 0755);
    ok((fcase_t){.op = OP(MKDIR), .path = "/link-up/up-made", .recursive = true});
    ck_assert(host_exists(hp("up-made")));
    ok((fcase_t){.op = OP(CREATE_DIR), .path = "/link-up/up-made2"});
    ck_assert(host_exists(hp("up-made2")));
    /* CREATE_DIR never honours recursive */
    fails((fcase_t){.op = OP(CREATE_DIR),
                    .path = "/s/t",
                    .recursive = true,
                    .want = "ENOENT: no such file or directory, mkdir '/s/t'"});
    fails((fcase_t){.op = OP(CREATE_DIR),
                    .path = "/p",
                    .recursive = true,
                    .want = "EEXIST: file already exists, mkdir '/p'"});
}
END_TEST

START_TEST(test_remove)
{
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/file.txt"});
    ck_assert(!host_exists(hp("file.txt")));
    /* a symlink goes, not its target */
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/link-file"});
    ck_assert(!host_exists(hp("link-file")) && host_exists(hp("dir/file.txt")));
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/dangling"});
    ck_assert(!host_exists(hp("dangling")));
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/link-canary"});
    ck_assert(!host_exists(hp("link-canary")));
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/link-up-canary"});
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/link-dir"});
    ck_assert(host_exists(hp("dir/sub")));
    ok((fcase_t){.op = OP(REMOVE_FILE), .path = "/fifo"});
    /* REMOVE_DIR: empty directories only; recursive is ignored */
    ok((fcase_t){.op = OP(REMOVE_DIR), .path = "/empty"});
    ck_assert(!host_exists(hp("empty")));
    fails((fcase_t){.op = OP(REMOVE_DIR),
                    .path = "/full",
                    .recursive = true,
                    .want = "ENOTEMPTY: directory not empty, rmdir '/full'"});
    /* "/../.." is "/": nothing above the root can be removed */
    fails((fcase_t){.op = OP(REMOVE_DIR),
                    .path = "/../..",
                    .want = "EPERM: operation not permitted, rmdir '/../..'"});
    assert_canary_intact();
}
END_TEST

START_TEST(test_rename)
{
    /* across directories; the response's target is the destination as sent */
    ok((fcase_t){.op = OP(RENAME), .path = "/file.txt", .dest = "dir//moved.txt"});
    ck_assert_str_eq(target_of(), "dir//moved.txt");
    ck_assert(!host_exists(hp("file.txt")));
    ck_assert_str_eq(slurp(hp("dir/moved.txt")), "content");
    /* file over file */
    ok((fcase_t){.op = OP(RENAME), .path = "/dir/moved.txt", .dest = "/h1.txt"});
    ck_assert_str_eq(slurp(hp("h1.txt")), "content");
    ck_assert_str_eq(slurp(hp("h2.txt")), "hard");
    /* directory over an empty directory */
    ok((fcase_t){.op = OP(RENAME), .path = "/full", .dest = "/empty"});
    ck_assert_str_eq(slurp(hp("empty/a.txt")), "a");
    ck_assert(!host_exists(hp("full")));
    /* a symlink itself moves; through a symlinked parent */
    ok((fcase_t){.op = OP(RENAME), .path = "/link-file", .dest = "/link-dir/sub/l"});
    ck_assert(S_ISLNK(host_mode("dir/sub/l")));
    ck_assert(host_exists(hp("dir/file.txt")));
    /* the same path: nothing happens */
    ok((fcase_t){.op = OP(RENAME), .path = "/h2.txt", .dest = "/h2.txt"});
    ck_assert_str_eq(slurp(hp("h2.txt")), "hard");
    /* a directory into a sibling */
    ok((fcase_t){.op = OP(RENAME), .path = "/dir", .dest = "/tmp/dir"});
    ck_assert(host_exists(hp("tmp/dir/sub/deep.txt")));
    /* ".." at the root stays in the root */
    ok((fcase_t){.op = OP(RENAME), .path = "/h2.txt", .dest = "/../../../h3.txt"});
    ck_assert(host_exists(hp("h3.txt")));
    ck_assert(!host_exists("/h3.txt"));
    char outside[PATH_MAX + 16];
    snprintf(outside, sizeof outside, "%s/h3.txt", base_dir);
    ck_assert(!host_exists(outside));
}
END_TEST

START_TEST(test_symlink)
{
    ok((fcase_t){.op = OP(SYMLINK), .path = "/newlink", .target = "dir/file.txt"});
    ck_assert_str_eq(target_of(), "dir/file.txt");
    ck_assert(S_ISLNK(host_mode("newlink")));
    assert_host_owner("newlink", 1000, 1000);
    ck_assert_str_eq(read_text("/newlink"), "hello");
    ok((fcase_t){.op = OP(READ_LINK), .path = "/newlink"});
    ck_assert_str_eq(target_of(), "dir/file.txt");
    /* dangling is fine; the text is kept verbatim */
    ok((fcase_t){.op = OP(SYMLINK), .path = "/dir/d", .target = "../x/./y//"});
    ok((fcase_t){.op = OP(READ_LINK), .path = "/dir/d"});
    ck_assert_str_eq(target_of(), "../x/./y//");
    /* a link to a host path resolves inside the root */
    ok((fcase_t){.op = OP(SYMLINK), .path = "/to-canary", .target = canary});
    fails((fcase_t){.op = OP(READ_FILE),
                    .path = "/to-canary",
                    .want = "ENOENT: no such file or directory, open '/to-canary'"});
    ok((fcase_t){.op = OP(SYMLINK), .path = "/to-etc", .target = "../../../../etc/shadow"});
    ck_assert_str_eq(read_text("/to-etc"), "vm-shadow\n");
}
END_TEST

START_TEST(test_link)
{
    ok((fcase_t){.op = OP(LINK), .path = "/file.txt", .dest = "/dir/hard.txt"});
    ck_assert_str_eq(target_of(), "/dir/hard.txt");
    sx_guest_filesystem_stat_t a = stat_of(OP(STAT), "/file.txt");
    sx_guest_filesystem_stat_t b = stat_of(OP(STAT), "/dir/hard.txt");
    ck_assert_uint_eq(a.ino, b.ino);
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_uint_eq(b.nlink, 2);
    /* writes through one name show through the other */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/dir/hard.txt", .content = "shared"});
    ck_assert_str_eq(read_text("/file.txt"), "shared");
    /* a symlink source is followed: the file is linked, not the link */
    ok((fcase_t){.op = OP(LINK), .path = "/link-file", .dest = "/via-link"});
    ck_assert(S_ISREG(host_mode("via-link")));
    struct stat x, y;
    ck_assert_int_eq(lstat(hp("via-link"), &x), 0);
    ck_assert_int_eq(lstat(hp("dir/file.txt"), &y), 0);
    ck_assert_uint_eq(x.st_ino, y.st_ino);
    ck_assert_uint_eq(y.st_nlink, 2);
    /* neither end can leave the root */
    fails((fcase_t){.op = OP(LINK),
                    .path = "/link-canary",
                    .dest = "/stolen",
                    .want = "ENOENT: no such file or directory, link '/link-canary' -> '/stolen'"});
    fails((fcase_t){.op = OP(LINK),
                    .path = "/link-up-canary",
                    .dest = "/stolen",
                    .want = "ENOENT: no such file or directory, link '/link-up-canary' -> "
                            "'/stolen'"});
    ok((fcase_t){.op = OP(LINK), .path = "/file.txt", .dest = "/../../escaped"});
    ck_assert(host_exists(hp("escaped")));
    char outside[PATH_MAX + 16];
    snprintf(outside, sizeof outside, "%s/escaped", base_dir);
    ck_assert(!host_exists(outside));
    ok((fcase_t){.op = OP(LINK), .path = "/file.txt", .dest = "/link-up/escaped2"});
    ck_assert(host_exists(hp("escaped2")));
    assert_canary_intact();
}
END_TEST

START_TEST(test_chmod_chown_utimes_truncate)
{
    ok((fcase_t){.op = OP(CHMOD), .path = "/file.txt", .mode = SET(0600)});
    ck_assert_uint_eq(host_mode("file.txt"), S_IFREG | 0600);
    /* type bits in the request are ignored; special bits kept */
    ok((fcase_t){.op = OP(CHMOD), .path = "/file.txt", .mode = SET(S_IFDIR | 04751)});
    ck_assert_uint_eq(host_mode("file.txt"), S_IFREG | 04751);
    /* through a symlink: the target changes */
    ok((fcase_t){.op = OP(CHMOD), .path = "/link-dir", .mode = SET(0700)});
    ck_assert_uint_eq(host_mode("dir"), S_IFDIR | 0700);
    ck_assert(S_ISLNK(host_mode("link-dir")));
    ok((fcase_t){.op = OP(CHMOD), .path = "/fifo", .mode = SET(0600)});
    ck_assert_uint_eq(host_mode("fifo"), S_IFIFO | 0600);

    ok((fcase_t){.op = OP(CHOWN), .path = "/file.txt", .uid = SET(1234), .gid = SET(5678)});
    assert_host_owner("file.txt", 1234, 5678);
    sx_guest_filesystem_stat_t s = stat_of(OP(STAT), "/file.txt");
    ck_assert_uint_eq(s.uid, 1234);
    ck_assert_uint_eq(s.gid, 5678);
    ok((fcase_t){.op = OP(CHOWN), .path = "/link-file", .uid = SET(0), .gid = SET(65535)});
    assert_host_owner("dir/file.txt", 0, 65535);
    ok((fcase_t){.op = OP(CHOWN), .path = "/dir", .uid = SET(7), .gid = SET(8)});
    assert_host_owner("dir", 7, 8);

    ok((fcase_t){.op = OP(UTIMES),
                 .path = "/file.txt",
                 .atime = SET(1700000000123ull),
                 .mtime = SET(1710000000456ull)});
    s = stat_of(OP(STAT), "/file.txt");
    ck_assert_uint_eq(s.atime_ms, 1700000000123ull);
    ck_assert_uint_eq(s.mtime_ms, 1710000000456ull);
    struct stat h;
    ck_assert_int_eq(lstat(hp("file.txt"), &h), 0);
    ck_assert_int_eq(h.st_mtim.tv_sec, 1710000000);
    ck_assert_int_eq(h.st_mtim.tv_nsec, 456000000);
    ok((fcase_t){.op = OP(UTIMES), .path = "/link-file", .atime = SET(0), .mtime = SET(999)});
    s = stat_of(OP(STAT), "/dir/file.txt");
    ck_assert_uint_eq(s.atime_ms, 0);
    ck_assert_uint_eq(s.mtime_ms, 999);
    s = stat_of(OP(LSTAT), "/link-file");
    ck_assert_uint_ne(s.mtime_ms, 999);

    ok((fcase_t){.op = OP(TRUNCATE), .path = "/file.txt", .len = SET(2)});
    ck_assert_str_eq(slurp(hp("file.txt")), "co");
    ok((fcase_t){.op = OP(TRUNCATE), .path = "/link-file", .len = SET(8)});
    ck_assert_int_eq(lstat(hp("dir/file.txt"), &h), 0);
    ck_assert_int_eq(h.st_size, 8);
    ok((fcase_t){.op = OP(PREAD), .path = "/dir/file.txt", .offset = SET(4), .len = SET(4)});
    ck_assert_uint_eq(out.content.value.len, 4);
    ck_assert_int_eq(memcmp(out.content.value.ptr, "o\0\0\0", 4), 0);
    fails((fcase_t){.op = OP(TRUNCATE),
                    .path = "/file.txt",
                    .len = SET(UINT64_MAX),
                    .want = "EINVAL: invalid argument, truncate '/file.txt'"});
}
END_TEST

/* Without privilege the guest owner is recorded beside the inode, not in its host ids. */
START_TEST(test_recorded_owners)
{
    host.privileged = false;
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/new.txt", .content = "x"});
    sx_guest_filesystem_stat_t s = stat_of(OP(STAT), "/new.txt");
    ck_assert_uint_eq(s.uid, 1000);
    ck_assert_uint_eq(s.gid, 1000);
    struct stat h;
    ck_assert_int_eq(lstat(hp("new.txt"), &h), 0);
    ck_assert_uint_eq(h.st_uid, geteuid()); /* host ids untouched */
    ok((fcase_t){.op = OP(CHOWN), .path = "/link-file", .uid = SET(1234), .gid = SET(5678)});
    s = stat_of(OP(STAT), "/dir/file.txt");
    ck_assert_uint_eq(s.uid, 1234);
    ck_assert_uint_eq(s.gid, 5678);
    s = stat_of(OP(LSTAT), "/link-file");
    ck_assert_uint_eq(s.uid, 1000); /* links carry no record */
    ok((fcase_t){.op = OP(CHOWN), .path = "/link-dir", .uid = SET(7), .gid = SET(8)});
    s = stat_of(OP(STAT), "/dir");
    ck_assert_uint_eq(s.uid, 7);
    ok((fcase_t){.op = OP(CHOWN), .path = "/", .uid = SET(0), .gid = SET(0)});
    s = stat_of(OP(STAT), "/link-up");
    ck_assert_uint_eq(s.uid, 0);
    ok((fcase_t){.op = OP(MKDIR), .path = "/m/n", .recursive = true});
    s = stat_of(OP(STAT), "/m/n");
    ck_assert_uint_eq(s.uid, 1000);
    ck_assert_uint_eq(s.mode, S_IFDIR | 0755);
}
END_TEST

/* Without configured limits the reference defaults apply (64 MiB, 4096 entries). */
START_TEST(test_default_limits)
{
    ctx.limits = NULL;
    fails((fcase_t){.op = OP(PREAD),
                    .path = "/file.txt",
                    .offset = SET(0),
                    .len = SET((64u << 20) + 1),
                    .want = "EINVAL: pread length 67108865 exceeds configured limit 67108864"});
    ok((fcase_t){.op = OP(PREAD), .path = "/file.txt", .offset = SET(0), .len = SET(64u << 20)});
    ck_assert_str_eq(text_of(), "content");
    ok((fcase_t){.op = OP(READ_DIR), .path = "/"});
}
END_TEST

/* Every mutation with the fields it needs; each must fail EROFS on a read-only root. */
/* clang-format off */
static const fcase_t mutations[] = {
    {.op = OP(WRITE_FILE), .path = "/file.txt", .content = "x",
     .want = "EROFS: read-only filesystem, open '/file.txt'"},
    {.op = OP(WRITE_FILE), .path = "/new", .content = "x",
     .want = "EROFS: read-only filesystem, open '/new'"},
    {.op = OP(CREATE_DIR), .path = "/new", .want = "EROFS: read-only filesystem, mkdir '/new'"},
    {.op = OP(MKDIR), .path = "/new/a", .recursive = true,
     .want = "EROFS: read-only filesystem, mkdir '/new/a'"},
    {.op = OP(REMOVE_FILE), .path = "/file.txt",
     .want = "EROFS: read-only filesystem, unlink '/file.txt'"},
    {.op = OP(REMOVE_DIR), .path = "/empty", .want = "EROFS: read-only filesystem, rmdir '/empty'"},
    {.op = OP(RENAME), .path = "/file.txt", .dest = "/f",
     .want = "EROFS: read-only filesystem, rename '/file.txt' -> '/f'"},
    {.op = OP(SYMLINK), .path = "/l", .target = "x",
     .want = "EROFS: read-only filesystem, symlink '/l'"},
    {.op = OP(LINK), .path = "/file.txt", .dest = "/f",
     .want = "EROFS: read-only filesystem, link '/file.txt' -> '/f'"},
    {.op = OP(CHMOD), .path = "/file.txt", .mode = SET(0600),
     .want = "EROFS: read-only filesystem, chmod '/file.txt'"},
    {.op = OP(CHOWN), .path = "/file.txt", .uid = SET(1), .gid = SET(1),
     .want = "EROFS: read-only filesystem, chown '/file.txt'"},
    {.op = OP(UTIMES), .path = "/file.txt", .atime = SET(1), .mtime = SET(1),
     .want = "EROFS: read-only filesystem, utime '/file.txt'"},
    {.op = OP(TRUNCATE), .path = "/file.txt", .len = SET(0),
     .want = "EROFS: read-only filesystem, truncate '/file.txt'"},
};
/* clang-format on */

START_TEST(test_read_only)
{
    struct stat before, after;
    ck_assert_int_eq(lstat(hp("file.txt"), &before), 0);
    ctx.read_only = true;
    expect(&mutations[_i]);
    ck_assert_int_eq(lstat(hp("file.txt"), &after), 0);
    ck_assert_uint_eq(before.st_mode, after.st_mode);
    ck_assert_uint_eq(before.st_uid, after.st_uid);
    ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    ck_assert_str_eq(slurp(hp("file.txt")), "content");
    ck_assert(!host_exists(hp("new")) && !host_exists(hp("f")) && !host_exists(hp("l")));
    ck_assert(host_exists(hp("empty")));
    /* reads still work */
    ck_assert_str_eq(read_text("/file.txt"), "content");
    ok((fcase_t){.op = OP(READ_DIR), .path = "/dir"});
    ok((fcase_t){.op = OP(EXISTS), .path = "/file.txt"});
    ck_assert(out.exists.value);
    /* and the same call succeeds on a writable root */
    ctx.read_only = false;
    fcase_t c = mutations[_i];
    c.want = NULL;
    expect(&c);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Escapes                                                                                      */

START_TEST(test_escapes)
{
    /* a link to /etc/shadow reads the VM's copy */
    ck_assert_str_eq(read_text("/link-shadow"), "vm-shadow\n");
    /* host-only files are not there */
    static const char *const missing[] = {
        "/link-passwd",         "/link-canary",         "/link-up-canary",       "/link-up/canary",
        "/link-root/../canary", "/dir/link-up2/canary", "/link-dir/../../canary"};
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        fcase_t c = {.op = OP(READ_FILE), .path = missing[i]};
        load(&c);
        ck_assert_int_eq(call_req(), -1);
        ck_assert_msg(starts(msg, "ENOENT: "), "%s: %s", missing[i], msg);
    }
    /* "..": lexically never above "/", and symlinked ".." stops at the root too */
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "/../../../../..%s", canary);
    ok((fcase_t){.op = OP(EXISTS), .path = path});
    ck_assert(out.exists.present && !out.exists.value);
    load(&(fcase_t){.op = OP(READ_FILE), .path = path});
    ck_assert_int_eq(call_req(), -1);
    ck_assert(starts(msg, "ENOENT: "));
    snprintf(path, sizeof path, "/link-up%s", canary);
    ok((fcase_t){.op = OP(EXISTS), .path = path});
    ck_assert(!out.exists.value);
    /* the same escapes for every follow-style operation: nothing outside changes */
    static const fcase_t follow[] = {
        {.op = OP(WRITE_FILE), .path = "/link-canary", .content = "pwned"},
        {.op = OP(CHMOD), .path = "/link-canary", .mode = SET(0777)},
        {.op = OP(CHOWN), .path = "/link-canary", .uid = SET(5), .gid = SET(5)},
        {.op = OP(UTIMES), .path = "/link-canary", .atime = SET(1), .mtime = SET(1)},
        {.op = OP(TRUNCATE), .path = "/link-canary", .len = SET(0)},
        {.op = OP(PREAD), .path = "/link-canary", .offset = SET(0), .len = SET(100)},
        {.op = OP(STAT), .path = "/link-canary"},
        {.op = OP(REALPATH), .path = "/link-canary"},
        {.op = OP(READ_DIR), .path = "/link-up/.."},
        {.op = OP(LINK), .path = "/link-up-canary", .dest = "/l2"},
        {.op = OP(CHMOD), .path = "/link-up-canary", .mode = SET(0777)},
        {.op = OP(TRUNCATE), .path = "/link-up-canary", .len = SET(0)},
        {.op = OP(UTIMES), .path = "/link-up-canary", .atime = SET(1), .mtime = SET(1)},
    };
    for (size_t i = 0; i < ARRAY_LEN(follow); i++) {
        load(&follow[i]);
        int rc = call_req();
        if (follow[i].op == OP(READ_DIR)) {
            ck_assert_int_eq(rc, 0); /* the root, again */
            continue;
        }
        ck_assert_msg(rc == -1, "op %d on %s succeeded", follow[i].op, follow[i].path);
        ck_assert_msg(starts(msg, "ENOENT: "), "%s", msg);
    }
    /* WRITE_FILE through "../canary" creates the VM's /canary, not the host's */
    ok((fcase_t){.op = OP(WRITE_FILE), .path = "/link-up-canary", .content = "guest"});
    ck_assert_str_eq(slurp(hp("canary")), "guest");
    ck_assert_str_eq(read_text("/link-up-canary"), "guest");
    assert_canary_intact();
}
END_TEST

/* A thread swaps /race (and /racedir) between inside and outside targets while calls run. */
static atomic_int stop_swap;

static void *swapper(void *arg)
{
    (void)arg;
    char tmp[PATH_MAX * 2], race[PATH_MAX * 2], dtmp[PATH_MAX * 2], racedir[PATH_MAX * 2];
    snprintf(tmp, sizeof tmp, "%s/race.tmp", root_dir);
    snprintf(race, sizeof race, "%s/race", root_dir);
    snprintf(dtmp, sizeof dtmp, "%s/racedir.tmp", root_dir);
    snprintf(racedir, sizeof racedir, "%s/racedir", root_dir);
    const char *targets[] = {"file.txt", canary, "../canary", "link-up-canary", "h1.txt"};
    const char *dtargets[] = {"dir", "..", base_dir, "link-up/..", "dir/sub"};
    for (unsigned i = 0; !atomic_load(&stop_swap); i++) {
        unlink(tmp);
        if (symlink(targets[i % 5], tmp) == 0)
            rename(tmp, race);
        unlink(dtmp);
        if (symlink(dtargets[i % 5], dtmp) == 0)
            rename(dtmp, racedir);
    }
    return NULL;
}

START_TEST(test_swap_race)
{
    mk_text("dir/canary", "inside-dir\n");
    mk_link("race", "file.txt");
    mk_link("racedir", "dir");
    struct stat before, after;
    ck_assert_int_eq(stat(canary, &before), 0);
    atomic_store(&stop_swap, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, swapper, NULL), 0);
    int reads = 0;
    for (int i = 0; i < 3000; i++) {
        static const fcase_t calls[] = {
            {.op = OP(READ_FILE), .path = "/race"},
            {.op = OP(READ_FILE), .path = "/racedir/canary"},
            {.op = OP(PREAD), .path = "/racedir/canary", .offset = SET(0), .len = SET(64)},
            {.op = OP(WRITE_FILE), .path = "/race", .content = "guest-write"},
            {.op = OP(WRITE_FILE), .path = "/racedir/canary", .content = "guest-write"},
            {.op = OP(WRITE_FILE), .path = "/racedir/m1/m2/canary", .content = "guest-write"},
            {.op = OP(CHMOD), .path = "/race", .mode = SET(0777)},
            {.op = OP(CHMOD), .path = "/racedir/canary", .mode = SET(0777)},
            {.op = OP(CHOWN), .path = "/race", .uid = SET(9), .gid = SET(9)},
            {.op = OP(UTIMES), .path = "/race", .atime = SET(5), .mtime = SET(5)},
            {.op = OP(TRUNCATE), .path = "/racedir/canary", .len = SET(1)},
            {.op = OP(LINK), .path = "/racedir/canary", .dest = "/stolen"},
            {.op = OP(REALPATH), .path = "/racedir/canary"},
        };
        const fcase_t *c = &calls[(size_t)i % ARRAY_LEN(calls)];
        load(c);
        if (call_req() == 0) {
            if (out.content.present) {
                reads++;
                ck_assert(!(out.content.value.len >= 4 &&
                            memmem(out.content.value.ptr, out.content.value.len, "HOST", 4)));
            }
            if (out.target.present && c->op == OP(REALPATH))
                ck_assert_msg(
                    out.target.value.ptr[0] == '/' &&
                        !memmem(out.target.value.ptr, out.target.value.len, "check_fsops", 11),
                    "realpath %.*s", (int)out.target.value.len, out.target.value.ptr);
            if (c->op == OP(LINK))
                unlink(hp("stolen"));
        }
        bare_arena_reset(&arena);
    }
    atomic_store(&stop_swap, 1);
    pthread_join(th, NULL);
    ck_assert_int_gt(reads, 0);
    ck_assert_int_eq(stat(canary, &after), 0);
    ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    ck_assert_int_eq(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
    assert_canary_intact();
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static Suite *fsops_suite(void)
{
    Suite *s = suite_create("fsops");
    TCase *tc = fixture_tcase("errors");
    tcase_add_loop_test(tc, test_errors, 0, (int)ARRAY_LEN(error_cases));
    tcase_add_test(tc, test_nul_and_long_paths);
    tcase_add_test(tc, test_unknown_operation);
    tcase_add_loop_test(tc, test_read_only, 0, (int)ARRAY_LEN(mutations));
    suite_add_tcase(s, tc);

    tc = fixture_tcase("reading");
    tcase_add_test(tc, test_read_file);
    tcase_add_test(tc, test_read_binary_base64);
    tcase_add_test(tc, test_read_limits);
    tcase_add_loop_test(tc, test_pread, 0, (int)ARRAY_LEN(pread_cases));
    tcase_add_test(tc, test_read_dir);
    tcase_add_test(tc, test_read_dir_limit);
    tcase_add_test(tc, test_exists);
    tcase_add_test(tc, test_realpath);
    tcase_add_test(tc, test_read_link);
    tcase_add_test(tc, test_stat_fields);
    suite_add_tcase(s, tc);

    tc = fixture_tcase("writing");
    tcase_add_test(tc, test_write_file);
    tcase_add_test(tc, test_mkdir);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_rename);
    tcase_add_test(tc, test_symlink);
    tcase_add_test(tc, test_link);
    tcase_add_test(tc, test_chmod_chown_utimes_truncate);
    tcase_add_test(tc, test_recorded_owners);
    tcase_add_test(tc, test_default_limits);
    suite_add_tcase(s, tc);

    tc = fixture_tcase("escapes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_swap_race);
    suite_add_tcase(s, tc);

    fsops_add_policy_tcases(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fsops_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
