/*
 * check_vmconfig.c - CreateVmConfig parsing (sidecar/server/vmconfig.c): a config with every field,
 * the defaults, one case per error message, unknown fields at every depth, duplicate keys,
 * base64 content, big and malformed integers, and the size limits.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmconfig.h"
#include "vmconfig_full.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024u * 1024u)
#define E "invalid create VM config: "
#define EJSON "invalid create VM config JSON: "
#define EPOL "invalid permissions policy: "
#define U32_RANGE "must be an integer between 0 and 4294967295"
#define U64_RANGE "must be an integer between 0 and 18446744073709551615"
#define PORT_RANGE "must be an integer between 1 and 65535"
#define LABEL63 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0" /* 63 bytes */
#define LABEL64 LABEL63 "1"

static bare_arena_t arena;
static sc_vmconfig_t cfg;
static char err[1024];

static void setup(void)
{
    bare_arena_init(&arena, NULL, NULL);
    memset(&cfg, 0xa5, sizeof cfg);
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = '\0';
}

static void teardown(void)
{
    bare_arena_free(&arena);
}

/*
 * Parses text from an exact-size heap copy with no NUL after it, freed before returning, so
 * ASan catches a read past the end and any pointer into the input. For readability the tables
 * write JSON with single quotes; they become double quotes here (no case needs a literal ').
 */
static int parse_frame(const char *text, uint32_t max_frame)
{
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    int rc = sc_vmconfig_parse(copy, n, max_frame, &arena, &cfg, err, sizeof err);
    free(copy);
    return rc;
}

static int parse(const char *text)
{
    return parse_frame(text, MIB);
}

static void parse_ok(const char *text)
{
    int rc = parse(text);
    ck_assert_msg(rc == 0, "parse of %.200s failed: %s", text, err);
}

static void parse_err(const char *text, const char *want)
{
    int rc = parse(text);
    ck_assert_msg(rc == -1, "parse of %.200s succeeded, wanted: %s", text, want);
    ck_assert_str_eq(err, want);
}

/* ------------------------------------------------------------------------------------------ */
/* A config with every field (vmconfig_full.h)                                                */

static void assert_entry(const sc_entry_t *e, const char *path, sc_entry_kind_t kind, uint32_t mode,
                         uint32_t uid, uint32_t gid)
{
    ck_assert_str_eq(e->path, path);
    ck_assert_int_eq(e->kind, kind);
    ck_assert_msg(e->mode == mode, "%s: mode 0%o, want 0%o", path, e->mode, mode);
    ck_assert_uint_eq(e->uid, uid);
    ck_assert_uint_eq(e->gid, gid);
}

static void assert_content(const sc_entry_t *e, const void *bytes, size_t len)
{
    ck_assert_msg(e->has_content, "%s has no content", e->path);
    ck_assert_uint_eq(e->content_len, len);
    ck_assert_msg(memcmp(e->content, bytes, len) == 0, "%s: content differs", e->path);
}

static void assert_strs(const char **got, size_t n, const char *const *want, size_t nwant)
{
    ck_assert_uint_eq(n, nwant);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(got[i], want[i]);
}

static void assert_ip(const sc_ip_addr_t *a, bool v6, const char *hex16)
{
    char got[40] = "";
    for (size_t i = 0; i < (v6 ? 16u : 4u); i++)
        snprintf(got + 2 * i, 3, "%02x", a->bytes[i]);
    ck_assert_int_eq(a->v6, v6);
    ck_assert_str_eq(got, hex16);
}

START_TEST(test_full_config)
{
    parse_ok(vmconfig_full);

    ck_assert_str_eq(cfg.cwd, "/workspace/app");
    ck_assert_uint_eq(cfg.nenv, 3);
    ck_assert_str_eq(cfg.env[0].key, "HOME");
    ck_assert_str_eq(cfg.env[0].value, "/home/user");
    ck_assert_str_eq(cfg.env[1].key, "LANG");
    ck_assert_str_eq(cfg.env[1].value, "C.UTF-8");
    ck_assert_str_eq(cfg.env[2].key, "EMPTY");
    ck_assert_str_eq(cfg.env[2].value, "");

    ck_assert(cfg.root.read_only);
    ck_assert(cfg.root.disable_default_base_layer);
    ck_assert_uint_eq(cfg.root.nlowers, 2);
    const sc_lower_t *snap = &cfg.root.lowers[0];
    ck_assert_int_eq(snap->kind, SC_LOWER_SNAPSHOT);
    ck_assert_uint_eq(snap->nentries, 3);
    assert_entry(&snap->entries[0], "/", SC_ENTRY_DIRECTORY, 0755, 0, 0); /* 040755 */
    ck_assert(!snap->entries[0].has_content);
    ck_assert_ptr_null(snap->entries[0].content);
    ck_assert_ptr_null(snap->entries[0].target);
    assert_entry(&snap->entries[1], "/etc/motd", SC_ENTRY_FILE, 0644, 0, 0); /* 0100644 */
    assert_content(&snap->entries[1], "hi\n", 3);
    ck_assert_int_eq(snap->entries[1].encoding, SC_ENCODING_UTF8);
    assert_entry(&snap->entries[2], "/bin/tool", SC_ENTRY_FILE, 0755, 0, 0);
    assert_content(&snap->entries[2], "\x00\x01\x02\xff", 4);
    ck_assert_int_eq(snap->entries[2].encoding, SC_ENCODING_BASE64);
    ck_assert(snap->entries[2].executable);
    ck_assert_int_eq(cfg.root.lowers[1].kind, SC_LOWER_BUNDLED_BASE);
    ck_assert_uint_eq(cfg.root.lowers[1].nentries, 0);

    ck_assert_uint_eq(cfg.root.nbootstrap, 5);
    const sc_entry_t *b = cfg.root.bootstrap;
    assert_entry(&b[0], "/home/user/link", SC_ENTRY_SYMLINK, 0777, 1000, 1001);
    ck_assert_str_eq(b[0].target, "../x");
    ck_assert(!b[0].has_content);
    assert_entry(&b[1], "/srv", SC_ENTRY_DIRECTORY, 0700, 0, 0);
    ck_assert(!b[1].executable);
    assert_entry(&b[2], "/srv/empty", SC_ENTRY_FILE, 0644, 0, 0);
    ck_assert(!b[2].has_content);
    ck_assert_uint_eq(b[2].content_len, 0);
    assert_entry(&b[3], "/srv/all", SC_ENTRY_FILE, 07777, UINT32_MAX, 7);
    assert_content(&b[3], "a\0b", 3);
    assert_entry(&b[4], "/srv/ln", SC_ENTRY_SYMLINK, 0777, 0, 0); /* 0120777 */
    ck_assert_str_eq(b[4].target, "/abs");

    ck_assert(cfg.permissions_given);
    const sc_perm_scope_t *fs = &cfg.permissions.domains[SC_DOMAIN_FS];
    ck_assert_int_eq(fs->default_mode, SC_PERM_ALLOW);
    ck_assert_uint_eq(fs->nrules, 2);
    ck_assert_int_eq(fs->rules[0].mode, SC_PERM_DENY);
    assert_strs(fs->rules[0].operations, fs->rules[0].noperations,
                (const char *const[]){"write", "rm"}, 2);
    assert_strs(fs->rules[0].patterns, fs->rules[0].npatterns, (const char *const[]){"/etc/**"}, 1);
    ck_assert_int_eq(fs->rules[1].mode, SC_PERM_ASK);
    assert_strs(fs->rules[1].operations, fs->rules[1].noperations, (const char *const[]){"*"}, 1);
    assert_strs(fs->rules[1].patterns, fs->rules[1].npatterns,
                (const char *const[]){"/tmp/*", "/var/**"}, 2);
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_NETWORK].default_mode, SC_PERM_ASK);
    ck_assert_uint_eq(cfg.permissions.domains[SC_DOMAIN_NETWORK].nrules, 0);
    const sc_perm_scope_t *cp = &cfg.permissions.domains[SC_DOMAIN_CHILD_PROCESS];
    ck_assert_int_eq(cp->default_mode, SC_PERM_DENY); /* a rule set without default */
    ck_assert_uint_eq(cp->nrules, 1);
    ck_assert_int_eq(cp->rules[0].mode, SC_PERM_ALLOW);
    assert_strs(cp->rules[0].operations, cp->rules[0].noperations, (const char *const[]){"spawn"},
                1);
    assert_strs(cp->rules[0].patterns, cp->rules[0].npatterns, (const char *const[]){"node", "sh"},
                2);
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_PROCESS].default_mode, SC_PERM_ALLOW);
    const sc_perm_scope_t *env = &cfg.permissions.domains[SC_DOMAIN_ENV];
    ck_assert_int_eq(env->default_mode, SC_PERM_DENY);
    ck_assert_uint_eq(env->nrules, 1);
    assert_strs(env->rules[0].patterns, env->rules[0].npatterns, (const char *const[]){"HOME"}, 1);
    /* tool is absent from the policy: DENY with no rules */
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_TOOL].default_mode, SC_PERM_DENY);
    ck_assert_uint_eq(cfg.permissions.domains[SC_DOMAIN_TOOL].nrules, 0);
    ck_assert_ptr_null(cfg.permissions.domains[SC_DOMAIN_TOOL].rules);

    const sc_resource_limits_t *r = &cfg.resources;
    ck_assert_uint_eq(r->cpu_count, 101);
    ck_assert_uint_eq(r->max_processes, 102);
    ck_assert_uint_eq(r->max_open_fds, 103);
    ck_assert_uint_eq(r->max_pipes, 104);
    ck_assert_uint_eq(r->max_ptys, 105);
    ck_assert_uint_eq(r->max_sockets, 106);
    ck_assert_uint_eq(r->max_connections, 107);
    ck_assert_uint_eq(r->max_socket_buffered_bytes, 108);
    ck_assert_uint_eq(r->max_socket_datagram_queue_len, 109);
    ck_assert_uint_eq(r->max_filesystem_bytes, 110);
    ck_assert_uint_eq(r->max_inode_count, 111);
    ck_assert_uint_eq(r->max_blocking_read_ms, 112);
    ck_assert_uint_eq(r->max_pread_bytes, 113);
    ck_assert_uint_eq(r->max_fd_write_bytes, 114);
    ck_assert_uint_eq(r->max_process_argv_bytes, 115);
    ck_assert_uint_eq(r->max_process_env_bytes, 116);
    ck_assert_uint_eq(r->max_readdir_entries, 117);
    ck_assert_uint_eq(r->max_wasm_fuel, 118);
    ck_assert_uint_eq(r->max_wasm_memory_bytes, 119);
    ck_assert_uint_eq(r->max_wasm_stack_bytes, 120);
    ck_assert_uint_eq(r->max_memory_bytes, 121);
    ck_assert_uint_eq(r->max_cpu_time_ms, 122);
    ck_assert_uint_eq(r->max_wall_time_ms, 123);
    ck_assert_uint_eq(r->max_file_size_bytes, 124);
    ck_assert_uint_eq(cfg.http_max_fetch_response_bytes, 65536);

    ck_assert_uint_eq(cfg.ndns_servers, 5);
    assert_ip(&cfg.dns_servers[0].addr, false, "01010101");
    ck_assert_uint_eq(cfg.dns_servers[0].port, 53);
    assert_ip(&cfg.dns_servers[1].addr, false, "08080808");
    ck_assert_uint_eq(cfg.dns_servers[1].port, 5353);
    assert_ip(&cfg.dns_servers[2].addr, true, "20010db8000000000000000000000001");
    ck_assert_uint_eq(cfg.dns_servers[2].port, 853);
    assert_ip(&cfg.dns_servers[3].addr, true, "00000000000000000000000000000001");
    ck_assert_uint_eq(cfg.dns_servers[3].port, 53);
    assert_ip(&cfg.dns_servers[4].addr, true, "fe800000000000000000000000000002");
    ck_assert_uint_eq(cfg.dns_servers[4].port, 53);
    ck_assert_uint_eq(cfg.ndns_overrides, 3); /* sorted by hostname */
    ck_assert_str_eq(cfg.dns_overrides[0].hostname, "api.internal");
    ck_assert_uint_eq(cfg.dns_overrides[0].naddrs, 1);
    assert_ip(&cfg.dns_overrides[0].addrs[0], false, "c0a80102");
    ck_assert_str_eq(cfg.dns_overrides[1].hostname, "example.com");
    ck_assert_uint_eq(cfg.dns_overrides[1].naddrs, 2);
    assert_ip(&cfg.dns_overrides[1].addrs[0], false, "0a000001");
    assert_ip(&cfg.dns_overrides[1].addrs[1], true, "00000000000000000000000000000001");
    ck_assert_str_eq(cfg.dns_overrides[2].hostname, "x." LABEL63);
    assert_ip(&cfg.dns_overrides[2].addrs[0], false, "0a090909");

    ck_assert(!cfg.has_native_root);
    ck_assert_uint_eq(cfg.listen_port_min, 1024);
    ck_assert_uint_eq(cfg.listen_port_max, 2048);
    ck_assert(cfg.listen_allow_privileged);
    ck_assert_uint_eq(cfg.nloopback_exempt_ports, 3);
    ck_assert_uint_eq(cfg.loopback_exempt_ports[0], 8080);
    ck_assert_uint_eq(cfg.loopback_exempt_ports[1], 1);
    ck_assert_uint_eq(cfg.loopback_exempt_ports[2], 65535);

    ck_assert_int_eq(cfg.js_platform, SC_JS_PLATFORM_NODE);
    ck_assert_int_eq(cfg.js_module_resolution, SC_JS_RESOLUTION_RELATIVE);
    ck_assert(cfg.has_js_allowed_builtins);
    assert_strs(cfg.js_allowed_builtins, cfg.njs_allowed_builtins,
                (const char *const[]){"fs", "path", "test", "fs/promises"}, 4);
}
END_TEST

static void assert_defaults(uint64_t fetch_bytes)
{
    ck_assert_str_eq(cfg.cwd, "/home/user");
    ck_assert_uint_eq(cfg.nenv, 0);
    ck_assert(!cfg.root.read_only);
    ck_assert(!cfg.root.disable_default_base_layer);
    ck_assert_uint_eq(cfg.root.nlowers, 0);
    ck_assert_uint_eq(cfg.root.nbootstrap, 0);
    ck_assert(!cfg.has_native_root);
    ck_assert_ptr_null(cfg.native_root_plugin);
    ck_assert(!cfg.permissions_given);
    for (size_t d = 0; d < SC_DOMAIN_COUNT; d++) {
        ck_assert_int_eq(cfg.permissions.domains[d].default_mode, SC_PERM_DENY);
        ck_assert_uint_eq(cfg.permissions.domains[d].nrules, 0);
    }
    const sc_resource_limits_t *r = &cfg.resources;
    ck_assert_uint_eq(r->cpu_count, 1);
    ck_assert_uint_eq(r->max_processes, 256);
    ck_assert_uint_eq(r->max_open_fds, 4096);
    ck_assert_uint_eq(r->max_pipes, 128);
    ck_assert_uint_eq(r->max_ptys, 128);
    ck_assert_uint_eq(r->max_sockets, 256);
    ck_assert_uint_eq(r->max_connections, 256);
    ck_assert_uint_eq(r->max_socket_buffered_bytes, 4 * MIB);
    ck_assert_uint_eq(r->max_socket_datagram_queue_len, 1024);
    ck_assert_uint_eq(r->max_filesystem_bytes, 64 * MIB);
    ck_assert_uint_eq(r->max_inode_count, 16384);
    ck_assert_uint_eq(r->max_blocking_read_ms, 5000);
    ck_assert_uint_eq(r->max_pread_bytes, 64 * MIB);
    ck_assert_uint_eq(r->max_fd_write_bytes, 64 * MIB);
    ck_assert_uint_eq(r->max_process_argv_bytes, MIB);
    ck_assert_uint_eq(r->max_process_env_bytes, MIB);
    ck_assert_uint_eq(r->max_readdir_entries, 4096);
    ck_assert_uint_eq(r->max_wasm_fuel, 0);
    ck_assert_uint_eq(r->max_wasm_memory_bytes, 0);
    ck_assert_uint_eq(r->max_wasm_stack_bytes, 0);
    ck_assert_uint_eq(r->max_memory_bytes, 1024 * MIB);
    ck_assert_uint_eq(r->max_cpu_time_ms, 0);
    ck_assert_uint_eq(r->max_wall_time_ms, 0);
    ck_assert_uint_eq(r->max_file_size_bytes, 0);
    ck_assert_uint_eq(cfg.http_max_fetch_response_bytes, fetch_bytes);
    ck_assert_uint_eq(cfg.ndns_servers, 0);
    ck_assert_uint_eq(cfg.ndns_overrides, 0);
    ck_assert_uint_eq(cfg.listen_port_min, 1);
    ck_assert_uint_eq(cfg.listen_port_max, 65535);
    ck_assert(!cfg.listen_allow_privileged);
    ck_assert_uint_eq(cfg.nloopback_exempt_ports, 0);
    ck_assert_int_eq(cfg.js_platform, SC_JS_PLATFORM_NODE);
    ck_assert_int_eq(cfg.js_module_resolution, SC_JS_RESOLUTION_NODE);
    ck_assert(!cfg.has_js_allowed_builtins);
    ck_assert_uint_eq(cfg.njs_allowed_builtins, 0);
}

/* Every way of saying "nothing": all defaults, deny-all. */
static const char *const empty_configs[] = {
    "{}",
    " \n\t{ }\n",
    "{'cwd': null, 'env': null, 'rootFilesystem': null, 'permissions': null, 'limits': null,"
    " 'dns': null, 'nativeRoot': null, 'listen': null, 'loopbackExemptPorts': null,"
    " 'jsRuntime': null}",
    "{'env': {}, 'rootFilesystem': {}, 'limits': {}, 'dns': {}, 'listen': {},"
    " 'loopbackExemptPorts': [], 'jsRuntime': {}}",
    "{'rootFilesystem': {'mode': 'ephemeral', 'disableDefaultBaseLayer': false, 'lowers': [],"
    " 'bootstrapEntries': []}, 'limits': {'resources': {}, 'http': {}, 'tools': {},"
    " 'plugins': {}, 'acp': {}, 'jsRuntime': {}, 'python': {}, 'wasm': {}},"
    " 'dns': {'nameServers': [], 'overrides': {}}, 'jsRuntime': {'platform': 'node',"
    " 'moduleResolution': 'node'}, 'listen': {'portMin': 1, 'portMax': 65535,"
    " 'allowPrivileged': false}}",
};

START_TEST(test_defaults)
{
    parse_ok(empty_configs[_i]);
    assert_defaults(MIB);
}
END_TEST

/* With a frame cap below 1 MiB the fetch default follows the cap. */
START_TEST(test_default_fetch_follows_frame_cap)
{
    ck_assert_int_eq(parse_frame("{}", 4096), 0);
    assert_defaults(4096);
    ck_assert_int_eq(parse_frame("{'limits': {'http': {'maxFetchResponseBytes': 4096}}}", 4096), 0);
    ck_assert_uint_eq(cfg.http_max_fetch_response_bytes, 4096);
}
END_TEST

START_TEST(test_policy_deny_all)
{
    sc_policy_t p;
    memset(&p, 0x5a, sizeof p);
    sc_policy_deny_all(&p);
    for (size_t d = 0; d < SC_DOMAIN_COUNT; d++) {
        ck_assert_int_eq(p.domains[d].default_mode, SC_PERM_DENY);
        ck_assert_ptr_null(p.domains[d].rules);
        ck_assert_uint_eq(p.domains[d].nrules, 0);
    }
}
END_TEST

/* A given but empty policy is deny-all too, yet counts as given. */
START_TEST(test_empty_policy)
{
    parse_ok("{'permissions': {}}");
    ck_assert(cfg.permissions_given);
    for (size_t d = 0; d < SC_DOMAIN_COUNT; d++)
        ck_assert_int_eq(cfg.permissions.domains[d].default_mode, SC_PERM_DENY);
    parse_ok("{'permissions': {'tool': 'allow', 'fs': {'rules': []}}}");
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_TOOL].default_mode, SC_PERM_ALLOW);
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_FS].default_mode, SC_PERM_DENY);
    ck_assert_int_eq(cfg.permissions.domains[SC_DOMAIN_NETWORK].default_mode, SC_PERM_DENY);
}
END_TEST

START_TEST(test_native_root)
{
    /* config is any JSON, even big or negative numbers; empty lists combine with nativeRoot */
    parse_ok("{'nativeRoot': {'plugin': {'id': 'host_dir', 'config': {'hostPath': '/x',"
             " 'n': [1, -2, 3.5, null, 18446744073709551616, {'deep': [true]}]}},"
             " 'readOnly': true}, 'rootFilesystem': {'lowers': [], 'bootstrapEntries': []}}");
    ck_assert(cfg.has_native_root);
    ck_assert_str_eq(cfg.native_root_plugin, "host_dir");
    ck_assert(cfg.native_root_read_only);
    parse_ok("{'nativeRoot': {'plugin': {'id': 'memory'}}}");
    ck_assert(cfg.has_native_root);
    ck_assert_str_eq(cfg.native_root_plugin, "memory");
    ck_assert(!cfg.native_root_read_only);
}
END_TEST

/* cwd is a guest path, lexically normalized. */
static const struct {
    const char *json, *cwd;
} cwd_cases[] = {
    {"{'cwd': '/'}", "/"},
    {"{'cwd': '//'}", "/"},
    {"{'cwd': '/a/./b//c/'}", "/a/b/c"},
    {"{'cwd': '/./.'}", "/"},
    {"{'cwd': '/home/user'}", "/home/user"},
    {"{'cwd': '/a..b/..c/c..'}", "/a..b/..c/c.."},
};

START_TEST(test_cwd)
{
    parse_ok(cwd_cases[_i].json);
    ck_assert_str_eq(cfg.cwd, cwd_cases[_i].cwd);
}
END_TEST

/* Default modes by kind, and type bits that agree with the kind are dropped. */
static const struct {
    const char *entry;
    uint32_t mode;
} mode_cases[] = {
    {"{'path': '/f', 'kind': 'file'}", 0644},
    {"{'path': '/f', 'kind': 'file', 'executable': true}", 0755},
    {"{'path': '/f', 'kind': 'file', 'executable': false}", 0644},
    {"{'path': '/f', 'kind': 'file', 'executable': true, 'mode': 384}", 0600},
    {"{'path': '/d', 'kind': 'directory'}", 0755},
    {"{'path': '/d', 'kind': 'directory', 'executable': true}", 0755},
    {"{'path': '/l', 'kind': 'symlink', 'target': 'x'}", 0777},
    {"{'path': '/f', 'kind': 'file', 'mode': 0}", 0},
    {"{'path': '/f', 'kind': 'file', 'mode': 4095}", 07777},
    {"{'path': '/f', 'kind': 'file', 'mode': 33261}", 0755},                   /* 0100755 */
    {"{'path': '/d', 'kind': 'directory', 'mode': 17407}", 01777},             /* 041777 */
    {"{'path': '/l', 'kind': 'symlink', 'target': 'x', 'mode': 41453}", 0755}, /* 0120755 */
};

START_TEST(test_entry_modes)
{
    char json[256];
    snprintf(json, sizeof json, "{'rootFilesystem': {'bootstrapEntries': [%s]}}",
             mode_cases[_i].entry);
    parse_ok(json);
    ck_assert_uint_eq(cfg.root.nbootstrap, 1);
    ck_assert_msg(cfg.root.bootstrap[0].mode == mode_cases[_i].mode, "mode 0%o, want 0%o",
                  cfg.root.bootstrap[0].mode, mode_cases[_i].mode);
    ck_assert_uint_eq(cfg.root.bootstrap[0].uid, 0);
    ck_assert_uint_eq(cfg.root.bootstrap[0].gid, 0);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Base64 content                                                                               */

static const struct {
    const char *content;
    const char *bytes; /* NULL: an error */
    size_t len;
    const char *error;
} b64_cases[] = {
    {"", "", 0, NULL},
    {"YQ==", "a", 1, NULL},
    {"YWI=", "ab", 2, NULL},
    {"YWJj", "abc", 3, NULL},
    {"YWJjZA==", "abcd", 4, NULL},
    {"AP8A", "\x00\xff\x00", 3, NULL},
    {"+/+/", "\xfb\xff\xbf", 3, NULL},
    {"YQ", NULL, 0, "is not valid base64: length 2 is not a multiple of 4"},
    {"YWJjZ", NULL, 0, "is not valid base64: length 5 is not a multiple of 4"},
    {"YWJ", NULL, 0, "is not valid base64: length 3 is not a multiple of 4"},
    {"Y===", NULL, 0, "is not valid base64: misplaced padding at offset 1"},
    {"====", NULL, 0, "is not valid base64: misplaced padding at offset 0"},
    {"YQ==YWJj", NULL, 0, "is not valid base64: misplaced padding at offset 2"},
    {"YW=j", NULL, 0, "is not valid base64: misplaced padding at offset 3"},
    {"YR==", NULL, 0, "is not valid base64: non-zero trailing bits at offset 1"},
    {"YWJ=", NULL, 0, "is not valid base64: non-zero trailing bits at offset 2"},
    {"YW J", NULL, 0, "is not valid base64: invalid character at offset 2"},
    {"YWJj-_8=", NULL, 0, "is not valid base64: invalid character at offset 4"},
    {"YWJj\\n", NULL, 0, "is not valid base64: length 5 is not a multiple of 4"},
    {"YW\\nJ", NULL, 0, "is not valid base64: invalid character at offset 2"},
    {"YW\\u0000J", NULL, 0, "is not valid base64: invalid character at offset 2"},
};

START_TEST(test_base64)
{
    char json[256];
    snprintf(json, sizeof json,
             "{'rootFilesystem': {'lowers': [{'kind': 'snapshot', 'entries': [{'path': '/f',"
             " 'kind': 'file', 'encoding': 'base64', 'content': '%s'}]}]}}",
             b64_cases[_i].content);
    if (!b64_cases[_i].bytes) {
        char want[256];
        snprintf(want, sizeof want, E "rootFilesystem.lowers[0].entries[0].content %s",
                 b64_cases[_i].error);
        parse_err(json, want);
        return;
    }
    parse_ok(json);
    const sc_entry_t *e = &cfg.root.lowers[0].entries[0];
    ck_assert_int_eq(e->encoding, SC_ENCODING_BASE64);
    assert_content(e, b64_cases[_i].bytes, b64_cases[_i].len);
}
END_TEST

/* utf8 (and absent) encoding keeps the string's bytes as they are, NUL included. */
START_TEST(test_utf8_content)
{
    parse_ok("{'rootFilesystem': {'bootstrapEntries': ["
             "{'path': '/a', 'kind': 'file', 'content': 'YQ=='},"
             "{'path': '/b', 'kind': 'file', 'content': 'x\\u0000\\u00e9', 'encoding': 'utf8'},"
             "{'path': '/c', 'kind': 'file', 'content': ''}]}}");
    assert_content(&cfg.root.bootstrap[0], "YQ==", 4);
    ck_assert_int_eq(cfg.root.bootstrap[0].encoding, SC_ENCODING_UTF8);
    assert_content(&cfg.root.bootstrap[1], "x\0\xc3\xa9", 4);
    assert_content(&cfg.root.bootstrap[2], "", 0);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Integers: jansson holds long long, limits are u64                                           */

static const struct {
    const char *value;
    uint64_t want; /* 0: a type error */
} int_cases[] = {
    {"1", 1},
    {"9223372036854775807", 9223372036854775807u},
    {"9223372036854775808", 9223372036854775808u},
    {"10000000000000000000", 10000000000000000000u},
    {"17000000000000000001", 17000000000000000001u},
    {"18446744073709551615", UINT64_MAX},
    {"18446744073709551616", 0},
    {"18446744073709551625", 0},
    {"99999999999999999999999", 0},
    {"-1", 0},
    {"-9223372036854775808", 0},
    {"-9223372036854775809", 0},
    {"-18446744073709551615", 0},
    {"1.5", 0},
    {"256.0", 0},
    {"1e3", 0},
    {"1E+2", 0},
    {"'256'", 0},
    {"true", 0},
    {"[256]", 0},
};

START_TEST(test_u64)
{
    char json[256];
    snprintf(json, sizeof json, "{'limits': {'resources': {'maxFdWriteBytes': %s}}}",
             int_cases[_i].value);
    if (!int_cases[_i].want) {
        parse_err(json, E "limits.resources.maxFdWriteBytes " U64_RANGE);
        return;
    }
    parse_ok(json);
    ck_assert_uint_eq(cfg.resources.max_fd_write_bytes, int_cases[_i].want);
}
END_TEST

/* Once a big integer forces the rewrite, small and negative ones elsewhere keep their meaning. */
static const struct {
    const char *json, *error;
} big_mix_cases[] = {
    {"{'limits': {'resources': {'maxProcesses': 18446744073709551615, 'maxPipes': -1}}}",
     E "limits.resources.maxPipes " U64_RANGE},
    {"{'limits': {'resources': {'maxProcesses': 18446744073709551615,"
     " 'maxPipes': -9223372036854775808}}}",
     E "limits.resources.maxPipes " U64_RANGE},
    {"{'limits': {'resources': {'maxPipes': -5, 'maxProcesses': 9223372036854775808}}}",
     E "limits.resources.maxPipes " U64_RANGE},
    {"{'limits': {'resources': {'maxPipes': 18446744073709551616, 'maxPtys': 1}}}",
     E "limits.resources.maxPipes " U64_RANGE},
    {"{'rootFilesystem': {'bootstrapEntries': [{'path': '/a', 'kind': 'file',"
     " 'mode': 9223372036854775808}]}}",
     E "rootFilesystem.bootstrapEntries[0].mode " U32_RANGE},
    {"{'loopbackExemptPorts': [9223372036854775809]}", E "loopbackExemptPorts[0] " PORT_RANGE},
    {"{'env': {'A': '-1 9223372036854775808 \\\" -1'},"
     " 'limits': {'wasm': {'maxModuleFileBytes': 9223372036854775808}},"
     " 'listen': {'portMin': -0}}",
     E "listen.portMin " PORT_RANGE},
    /* JSON errors after a big integer keep their line and column */
    {"{'limits': {'resources': {'maxProcesses': 18446744073709551615}},\n 'x': 1,}",
     EJSON "string or '}' expected near '}' at line 2 column 9"},
    {"{'limits': {'resources': {'maxProcesses': 18446744073709551615 'maxPipes': 1}}}",
     EJSON "'}' expected near '\"maxPipes\"' at line 1 column 73"},
    {"[1e400, 9223372036854775808]", EJSON "real number overflow near '1e400' at line 1 column 6"},
    {"{'a': 9223372036854775808, 'b': 1e999}",
     EJSON "real number overflow near '1e999' at line 1 column 37"},
    /* an invalid token stays invalid: not rewritten into a valid one */
    {"{'a': 9223372036854775808, 'b': 09223372036854775808}",
     EJSON "invalid token near '0' at line 1 column 33"},
    {"{'a': 9223372036854775808, 'b': -09223372036854775808}",
     EJSON "invalid token near '-0' at line 1 column 34"},
};

START_TEST(test_big_integer_mix)
{
    parse_err(big_mix_cases[_i].json, big_mix_cases[_i].error);
}
END_TEST

START_TEST(test_big_integers_exact)
{
    parse_ok("{'env': {'N': '-5', 'Q': 'a\\\" -7 9223372036854775808'},"
             " 'limits': {'resources': {'maxProcesses': 9223372036854775808,"
             " 'maxPipes': 7, 'maxPtys': 18446744073709551614, 'maxSockets': 9223372036854775807,"
             " 'maxConnections': 12345678901234567890}},"
             " 'rootFilesystem': {'bootstrapEntries': [{'path': '/a', 'kind': 'file', 'uid': 0,"
             " 'gid': 4294967295, 'content': '18446744073709551615'}]}}");
    ck_assert_uint_eq(cfg.resources.max_processes, 9223372036854775808u);
    ck_assert_uint_eq(cfg.resources.max_pipes, 7);
    ck_assert_uint_eq(cfg.resources.max_ptys, 18446744073709551614u);
    ck_assert_uint_eq(cfg.resources.max_sockets, 9223372036854775807u);
    ck_assert_uint_eq(cfg.resources.max_connections, 12345678901234567890u);
    ck_assert_uint_eq(cfg.root.bootstrap[0].gid, UINT32_MAX);
    assert_content(&cfg.root.bootstrap[0], "18446744073709551615", 20);
    ck_assert_str_eq(cfg.env[0].value, "-5");
    ck_assert_str_eq(cfg.env[1].value, "a\" -7 9223372036854775808");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* One case per error message                                                                   */

#define BOOT(entry) "{'rootFilesystem': {'bootstrapEntries': [" entry "]}}"
#define BOOT1(entry)                                                                               \
    "{'rootFilesystem': {'bootstrapEntries': [{'path': '/ok', 'kind': 'file'}, " entry "]}}"
#define LOWER(entries)                                                                             \
    "{'rootFilesystem': {'lowers': [{'kind': 'snapshot', 'entries': [" entries "]}]}}"
#define AT0 "rootFilesystem.bootstrapEntries[0]"
#define AT1 "rootFilesystem.bootstrapEntries[1]"
#define FS(rules) "{'permissions': {'fs': {'rules': [" rules "]}}}"
#define RES(kv) "{'limits': {'resources': {" kv "}}}"
#define DNS(v) "{'dns': " v "}"
#define JSR(v) "{'jsRuntime': " v "}"

static const struct {
    const char *json, *error;
} error_cases[] = {
    /* JSON syntax, duplicates, the top level */
    {"{'cwd': }", EJSON "unexpected token near '}' at line 1 column 9"},
    {"{\n  'cwd': '/a',\n  'env': {'A': 'b',}\n}",
     EJSON "string or '}' expected near '}' at line 3 column 20"},
    {"", EJSON "'[' or '{' expected near end of file at line 1 column 0"},
    {"{'cwd': '/a'", EJSON "'}' expected near end of file at line 1 column 12"},
    {"{} {}", EJSON "end of file expected near '{' at line 1 column 4"},
    {"{'cwd': '\xff'}", EJSON "unable to decode byte 0xff near '\"' at line 1 column 9"},
    {"{'cwd': '/a', 'cwd': '/b'}", EJSON "duplicate object key near '\"cwd\"' at line 1 column 19"},
    {"{'env': {'A': '1', 'B': '2', 'A': '3'}}",
     EJSON "duplicate object key near '\"A\"' at line 1 column 32"},
    {BOOT("{'path': '/a', 'kind': 'file', 'path': '/b'}"),
     EJSON "duplicate object key near '\"path\"' at line 1 column 78"},
    {"{'env': {'\\u0000': 'x'}}",
     EJSON "NUL byte in object key not supported near '\"\\u0000\"' at line 1 column 17"},
    {"[]", E "config must be a JSON object"},
    {"[{'cwd': '/'}]", E "config must be a JSON object"},

    /* unknown fields at every depth */
    {"{'foo': 1}", E "unknown field 'foo'"},
    {"{'cwd': '/a', 'Cwd': '/b'}", E "unknown field 'Cwd'"},
    {"{'rootFilesystem': {'layers': []}}", E "unknown field 'layers' in rootFilesystem"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'snapshot', 'entries': [], 'foo': 1}]}}",
     E "unknown field 'foo' in rootFilesystem.lowers[0]"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'bundledBaseFilesystem', 'entries': []}]}}",
     E "unknown field 'entries' in rootFilesystem.lowers[0]"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'bundledBaseFilesystem'},"
     " {'kind': 'snapshot', 'entries': [{'path': '/a', 'kind': 'file', 'size': 1}]}]}}",
     E "unknown field 'size' in rootFilesystem.lowers[1].entries[0]"},
    {BOOT1("{'path': '/a', 'kind': 'file', 'Mode': 1}"),
     E "unknown field 'Mode' in rootFilesystem.bootstrapEntries[1]"},
    {"{'permissions': {'files': 'allow'}}", E "unknown field 'files' in permissions"},
    {"{'permissions': {'child_process': 'allow'}}",
     E "unknown field 'child_process' in permissions"},
    {"{'permissions': {'env': {'rules': [], 'x': 1}}}", E "unknown field 'x' in permissions.env"},
    {FS("{'mode': 'allow', 'operations': ['*'], 'patterns': ['*']}"),
     E "unknown field 'patterns' in permissions.fs.rules[0]"},
    {"{'permissions': {'network': {'rules': [{'mode': 'allow', 'operations': ['*'],"
     " 'paths': ['*']}]}}}",
     E "unknown field 'paths' in permissions.network.rules[0]"},
    {"{'limits': {'memory': {}}}", E "unknown field 'memory' in limits"},
    {RES("'maxThreads': 1"), E "unknown field 'maxThreads' in limits.resources"},
    {RES("'max_processes': 1"), E "unknown field 'max_processes' in limits.resources"},
    {"{'limits': {'http': {'maxFetchRequestBytes': 1}}}",
     E "unknown field 'maxFetchRequestBytes' in limits.http"},
    {"{'limits': {'tools': {'maxToolTimeout': 1}}}",
     E "unknown field 'maxToolTimeout' in limits.tools"},
    {"{'limits': {'plugins': {'x': 1}}}", E "unknown field 'x' in limits.plugins"},
    {"{'limits': {'acp': {'x': 1}}}", E "unknown field 'x' in limits.acp"},
    {"{'limits': {'jsRuntime': {'platform': 'node'}}}",
     E "unknown field 'platform' in limits.jsRuntime"},
    {"{'limits': {'python': {'x': 1}}}", E "unknown field 'x' in limits.python"},
    {"{'limits': {'wasm': {'maxWasmFuel': 1}}}", E "unknown field 'maxWasmFuel' in limits.wasm"},
    {DNS("{'servers': []}"), E "unknown field 'servers' in dns"},
    {"{'nativeRoot': {'plugin': {'id': 'x'}, 'ro': true}}", E "unknown field 'ro' in nativeRoot"},
    {"{'nativeRoot': {'plugin': {'id': 'x', 'cfg': {}}}}",
     E "unknown field 'cfg' in nativeRoot.plugin"},
    {"{'listen': {'port': 1}}", E "unknown field 'port' in listen"},
    {JSR("{'v8HeapLimitMb': 1}"), E "unknown field 'v8HeapLimitMb' in jsRuntime"},

    /* types */
    {"{'cwd': 5}", E "cwd must be a string"},
    {"{'env': []}", E "env must be an object"},
    {"{'env': {'PATH': 1}}", E "env.PATH must be a string"},
    {"{'env': {'PATH': null}}", E "env.PATH must be a string"},
    {"{'rootFilesystem': 'ephemeral'}", E "rootFilesystem must be an object"},
    {"{'rootFilesystem': {'mode': 'readonly'}}",
     E "rootFilesystem.mode must be \"ephemeral\" or \"read-only\""},
    {"{'rootFilesystem': {'mode': 'read-only\\u0000'}}",
     E "rootFilesystem.mode must be \"ephemeral\" or \"read-only\""},
    {"{'rootFilesystem': {'disableDefaultBaseLayer': 'yes'}}",
     E "rootFilesystem.disableDefaultBaseLayer must be a boolean"},
    {"{'rootFilesystem': {'lowers': {}}}", E "rootFilesystem.lowers must be an array"},
    {"{'rootFilesystem': {'lowers': [1]}}", E "rootFilesystem.lowers[0] must be an object"},
    {"{'rootFilesystem': {'lowers': [{}]}}", E "rootFilesystem.lowers[0].kind is required"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'layer'}]}}",
     E "rootFilesystem.lowers[0].kind must be \"snapshot\" or \"bundledBaseFilesystem\""},
    {"{'rootFilesystem': {'lowers': [{'kind': 'snapshot'}]}}",
     E "rootFilesystem.lowers[0].entries is required"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'snapshot', 'entries': {}}]}}",
     E "rootFilesystem.lowers[0].entries must be an array"},
    {"{'rootFilesystem': {'bootstrapEntries': 'x'}}",
     E "rootFilesystem.bootstrapEntries must be an array"},
    {BOOT("'/a'"), E AT0 " must be an object"},
    {BOOT1("{'path': '/a', 'kind': 'file', 'mode': -1}"), E AT1 ".mode " U32_RANGE},
    {BOOT1("{'path': '/a', 'kind': 'file', 'mode': 4294967296}"), E AT1 ".mode " U32_RANGE},
    {BOOT1("{'path': '/a', 'kind': 'file', 'mode': 420.0}"), E AT1 ".mode " U32_RANGE},
    {BOOT1("{'path': '/a', 'kind': 'file', 'mode': '0644'}"), E AT1 ".mode " U32_RANGE},
    {BOOT("{'path': '/a', 'kind': 'file', 'uid': -1}"), E AT0 ".uid " U32_RANGE},
    {BOOT("{'path': '/a', 'kind': 'file', 'gid': 4294967296}"), E AT0 ".gid " U32_RANGE},
    {BOOT("{'path': '/a', 'kind': 'file', 'gid': '0'}"), E AT0 ".gid " U32_RANGE},
    {BOOT("{'kind': 'file'}"), E AT0 ".path is required"},
    {BOOT("{'path': null, 'kind': 'file'}"), E AT0 ".path is required"},
    {BOOT("{'path': 1, 'kind': 'file'}"), E AT0 ".path must be a string"},
    {BOOT("{'path': '/a'}"), E AT0 ".kind is required"},
    {BOOT("{'path': '/a', 'kind': 'dir'}"),
     E AT0 ".kind must be \"file\", \"directory\" or \"symlink\""},
    {BOOT("{'path': '/a', 'kind': 'FILE'}"),
     E AT0 ".kind must be \"file\", \"directory\" or \"symlink\""},
    {BOOT("{'path': '/a', 'kind': 'file', 'content': 5}"), E AT0 ".content must be a string"},
    {BOOT("{'path': '/a', 'kind': 'file', 'content': '', 'encoding': 'hex'}"),
     E AT0 ".encoding must be \"utf8\" or \"base64\""},
    {BOOT("{'path': '/a', 'kind': 'symlink', 'target': 5}"), E AT0 ".target must be a string"},
    {BOOT("{'path': '/a', 'kind': 'file', 'executable': 'true'}"),
     E AT0 ".executable must be a boolean"},
    {BOOT("{'path': '/a', 'kind': 'file', 'executable': 1}"),
     E AT0 ".executable must be a boolean"},
    {"{'permissions': 'allow'}", E "permissions must be an object"},
    {"{'permissions': {'fs': 'always'}}",
     E "permissions.fs must be \"allow\", \"ask\" or \"deny\""},
    {"{'permissions': {'network': 'Allow'}}",
     E "permissions.network must be \"allow\", \"ask\" or \"deny\""},
    {"{'permissions': {'fs': 1}}",
     E "permissions.fs must be \"allow\", \"ask\" or \"deny\" or an object with rules"},
    {"{'permissions': {'tool': ['allow']}}",
     E "permissions.tool must be \"allow\", \"ask\" or \"deny\" or an object with rules"},
    {"{'permissions': {'fs': {'default': 'maybe', 'rules': []}}}",
     E "permissions.fs.default must be \"allow\", \"ask\" or \"deny\""},
    {"{'permissions': {'fs': {'default': 'allow'}}}", E "permissions.fs.rules is required"},
    {"{'permissions': {'process': {'rules': {}}}}", E "permissions.process.rules must be an array"},
    {"{'permissions': {'process': {'rules': ['allow']}}}",
     E "permissions.process.rules[0] must be an object"},
    {"{'permissions': {'network': {'rules': [{'operations': ['*'], 'patterns': ['*']}]}}}",
     E "permissions.network.rules[0].mode is required"},
    {FS("{'mode': 'allow', 'operations': ['*'], 'paths': ['*']}, {'mode': 'never',"
        " 'operations': ['*'], 'paths': ['*']}"),
     E "permissions.fs.rules[1].mode must be \"allow\", \"ask\" or \"deny\""},
    {FS("{'mode': 'allow', 'operations': 'read', 'paths': ['*']}"),
     E "permissions.fs.rules[0].operations must be an array"},
    {FS("{'mode': 'allow', 'operations': [1], 'paths': ['*']}"),
     E "permissions.fs.rules[0].operations[0] must be a string"},
    {FS("{'mode': 'allow', 'operations': ['read'], 'paths': ['/a', null]}"),
     E "permissions.fs.rules[0].paths[1] must be a string"},
    {FS("{'mode': 'allow', 'operations': ['read'], 'paths': ['/a\\u0000']}"),
     E "permissions.fs.rules[0].paths[0] must not contain NUL"},
    {"{'limits': 1}", E "limits must be an object"},
    {"{'limits': {'tools': []}}", E "limits.tools must be an object"},
    {RES("'maxProcesses': '256'"), E "limits.resources.maxProcesses " U64_RANGE},
    {RES("'cpuCount': 1.0"), E "limits.resources.cpuCount " U64_RANGE},
    {"{'limits': {'python': {'executionTimeoutMs': -30000}}}",
     E "limits.python.executionTimeoutMs " U64_RANGE},
    {DNS("[]"), E "dns must be an object"},
    {DNS("{'nameServers': '1.1.1.1'}"), E "dns.nameServers must be an array"},
    {DNS("{'nameServers': [1]}"), E "dns.nameServers[0] must be a string"},
    {DNS("{'overrides': []}"), E "dns.overrides must be an object"},
    {DNS("{'overrides': {'example.com': '1.2.3.4'}}"),
     E "dns.overrides.example.com must be an array"},
    {DNS("{'overrides': {'example.com': [1]}}"), E "dns.overrides.example.com[0] must be a string"},
    {"{'nativeRoot': true}", E "nativeRoot must be an object"},
    {"{'nativeRoot': {}}", E "nativeRoot.plugin is required"},
    {"{'nativeRoot': {'plugin': 'host_dir'}}", E "nativeRoot.plugin must be an object"},
    {"{'nativeRoot': {'plugin': {'config': {}}}}", E "nativeRoot.plugin.id is required"},
    {"{'nativeRoot': {'plugin': {'id': 5}}}", E "nativeRoot.plugin.id must be a string"},
    {"{'nativeRoot': {'plugin': {'id': 'x'}, 'readOnly': 'no'}}",
     E "nativeRoot.readOnly must be a boolean"},
    {"{'listen': []}", E "listen must be an object"},
    {"{'listen': {'portMin': 0}}", E "listen.portMin " PORT_RANGE},
    {"{'listen': {'portMax': 65536}}", E "listen.portMax " PORT_RANGE},
    {"{'listen': {'portMin': '80'}}", E "listen.portMin " PORT_RANGE},
    {"{'listen': {'allowPrivileged': 1}}", E "listen.allowPrivileged must be a boolean"},
    {"{'loopbackExemptPorts': 80}", E "loopbackExemptPorts must be an array"},
    {"{'loopbackExemptPorts': [80, 0]}", E "loopbackExemptPorts[1] " PORT_RANGE},
    {"{'loopbackExemptPorts': [65536]}", E "loopbackExemptPorts[0] " PORT_RANGE},
    {"{'loopbackExemptPorts': [-80]}", E "loopbackExemptPorts[0] " PORT_RANGE},
    {JSR("'node'"), E "jsRuntime must be an object"},
    {JSR("{'platform': 'deno'}"),
     E "jsRuntime.platform must be \"node\", \"browser\", \"neutral\" or \"bare\""},
    {JSR("{'moduleResolution': 'bundler'}"),
     E "jsRuntime.moduleResolution must be \"node\", \"relative\" or \"none\""},
    {JSR("{'allowedBuiltins': 'fs'}"), E "jsRuntime.allowedBuiltins must be an array"},
    {JSR("{'allowedBuiltins': [1]}"), E "jsRuntime.allowedBuiltins[0] must be a string"},

    /* cwd */
    {"{'cwd': 'home/user'}", E "cwd must be absolute"},
    {"{'cwd': ''}", E "cwd must be absolute"},
    {"{'cwd': './a'}", E "cwd must be absolute"},
    {"{'cwd': '/a/../b'}", E "cwd must not contain '..'"},
    {"{'cwd': '/..'}", E "cwd must not contain '..'"},
    {"{'cwd': '/a/..'}", E "cwd must not contain '..'"},
    {"{'cwd': '/a\\u0000b'}", E "cwd must not contain NUL"},
    {"{'cwd': '/a\\tb'}", E "cwd must not contain control characters"},

    /* env */
    {"{'env': {'': 'x'}}", E "env must not have an empty key"},
    {"{'env': {'A=B': 'x'}}", E "env key 'A=B' must not contain '='"},
    {"{'env': {'A': 'x\\u0000y'}}", E "env.A must not contain NUL"},

    /* entry paths */
    {BOOT("{'path': 'etc/x', 'kind': 'file'}"), E AT0 ".path must be absolute"},
    {BOOT("{'path': '', 'kind': 'file'}"), E AT0 ".path must be absolute"},
    {LOWER("{'path': '/a/../b', 'kind': 'file'}"),
     E "rootFilesystem.lowers[0].entries[0].path must not contain '..'"},
    {BOOT("{'path': '/a/..', 'kind': 'directory'}"), E AT0 ".path must not contain '..'"},
    {BOOT("{'path': '/a/./b', 'kind': 'file'}"),
     E AT0 ".path must be normalized (no '.' segments, '//' or trailing '/')"},
    {BOOT("{'path': '/.', 'kind': 'directory'}"),
     E AT0 ".path must be normalized (no '.' segments, '//' or trailing '/')"},
    {BOOT("{'path': '/a//b', 'kind': 'file'}"),
     E AT0 ".path must be normalized (no '.' segments, '//' or trailing '/')"},
    {BOOT("{'path': '//', 'kind': 'directory'}"),
     E AT0 ".path must be normalized (no '.' segments, '//' or trailing '/')"},
    {BOOT("{'path': '/a/', 'kind': 'directory'}"),
     E AT0 ".path must be normalized (no '.' segments, '//' or trailing '/')"},
    {BOOT("{'path': '/a\\u0000', 'kind': 'file'}"), E AT0 ".path must not contain NUL"},
    {BOOT("{'path': '/a\\u001f', 'kind': 'file'}"),
     E AT0 ".path must not contain control characters"},
    {BOOT("{'path': '/a\\u007f', 'kind': 'file'}"),
     E AT0 ".path must not contain control characters"},

    /* the kind rules */
    {BOOT("{'path': '/a', 'kind': 'file', 'target': '/b'}"),
     E AT0 ": file entry /a must not include target"},
    {BOOT("{'path': '/d', 'kind': 'directory', 'content': ''}"),
     E AT0 ": directory entry /d must not include content, encoding, or target"},
    {BOOT("{'path': '/d', 'kind': 'directory', 'encoding': 'utf8'}"),
     E AT0 ": directory entry /d must not include content, encoding, or target"},
    {BOOT("{'path': '/d', 'kind': 'directory', 'target': '/x'}"),
     E AT0 ": directory entry /d must not include content, encoding, or target"},
    {BOOT("{'path': '/l', 'kind': 'symlink'}"), E AT0 ": symlink entry /l requires target"},
    {BOOT("{'path': '/l', 'kind': 'symlink', 'target': ''}"),
     E AT0 ": symlink entry /l requires target"},
    {BOOT("{'path': '/l', 'kind': 'symlink', 'target': 'x', 'content': 'y'}"),
     E AT0 ": symlink entry /l must not include content or encoding"},
    {BOOT("{'path': '/l', 'kind': 'symlink', 'target': 'x', 'encoding': 'base64'}"),
     E AT0 ": symlink entry /l must not include content or encoding"},
    {BOOT("{'path': '/l', 'kind': 'symlink', 'target': 'x\\u0000'}"),
     E AT0 ".target must not contain NUL"},
    {BOOT("{'path': '/a', 'kind': 'file', 'encoding': 'base64'}"),
     E AT0 ".encoding requires content"},
    {BOOT("{'path': '/a', 'kind': 'file', 'mode': 4096}"),
     E AT0 ".mode has file type bits 010000 that do not match kind \"file\""},
    {BOOT("{'path': '/a', 'kind': 'file', 'mode': 16877}"),
     E AT0 ".mode has file type bits 040000 that do not match kind \"file\""},
    {BOOT("{'path': '/a', 'kind': 'directory', 'mode': 33188}"),
     E AT0 ".mode has file type bits 0100000 that do not match kind \"directory\""},
    {BOOT("{'path': '/a', 'kind': 'symlink', 'target': 'x', 'mode': 16895}"),
     E AT0 ".mode has file type bits 040000 that do not match kind \"symlink\""},
    {BOOT("{'path': '/a', 'kind': 'file', 'mode': 65536}"),
     E AT0 ".mode must be at most 07777 (permission bits only; the type comes from kind)"},
    {BOOT("{'path': '/a', 'kind': 'file', 'mode': 4294967295}"),
     E AT0 ".mode must be at most 07777 (permission bits only; the type comes from kind)"},

    /* permission rules (the reference's messages) */
    {FS("{'mode': 'allow', 'operations': [], 'paths': ['/tmp']}"),
     EPOL "fs.rules[0].operations must not be empty; use [\"*\"] for wildcard"},
    {FS("{'mode': 'allow', 'paths': ['/tmp']}"),
     EPOL "fs.rules[0].operations must not be empty; use [\"*\"] for wildcard"},
    {FS("{'mode': 'allow', 'operations': ['read'], 'paths': ['/a']},"
        " {'mode': 'deny', 'operations': ['read'], 'paths': []}"),
     EPOL "fs.rules[1].paths must not be empty; use [\"*\"] for wildcard"},
    {FS("{'mode': 'allow', 'operations': ['read']}"),
     EPOL "fs.rules[0].paths must not be empty; use [\"*\"] for wildcard"},
    {"{'permissions': {'network': {'rules': [{'mode': 'allow', 'operations': ['http']}]}}}",
     EPOL "network.rules[0].patterns must not be empty; use [\"*\"] for wildcard"},
    {"{'permissions': {'childProcess': {'rules': [{'mode': 'allow', 'operations': ['spawn'],"
     " 'patterns': ['sh']}, {'mode': 'deny', 'operations': ['spawn'], 'patterns': []}]}}}",
     EPOL "child_process.rules[1].patterns must not be empty; use [\"*\"] for wildcard"},
    {"{'permissions': {'process': {'rules': [{'mode': 'ask', 'operations': [],"
     " 'patterns': []}]}}}",
     EPOL "process.rules[0].operations must not be empty; use [\"*\"] for wildcard"},
    {"{'permissions': {'env': {'rules': [{'mode': 'allow', 'operations': ['read'],"
     " 'patterns': null}]}}}",
     EPOL "env.rules[0].patterns must not be empty; use [\"*\"] for wildcard"},
    {"{'permissions': {'tool': {'rules': [{'mode': 'allow', 'operations': ['invoke', ''],"
     " 'patterns': ['*']}]}}}",
     EPOL "tool.rules[0].operations[1] must not be empty"},
    {FS("{'mode': 'allow', 'operations': ['*'], 'paths': ['']}"),
     EPOL "fs.rules[0].paths[0] must not be empty"},

    /* limits */
    {RES("'maxProcesses': 0"), E "limits.resources.maxProcesses must be greater than zero"},
    {RES("'cpuCount': 0"), E "limits.resources.cpuCount must be greater than zero"},
    {RES("'maxWasmFuel': 0"), E "limits.resources.maxWasmFuel must be greater than zero"},
    {RES("'maxMemoryBytes': 0"), E "limits.resources.maxMemoryBytes must be greater than zero"},
    {RES("'maxCpuTimeMs': 0"), E "limits.resources.maxCpuTimeMs must be greater than zero"},
    {RES("'maxWallTimeMs': 0"), E "limits.resources.maxWallTimeMs must be greater than zero"},
    {RES("'maxFileSizeBytes': 0"), E "limits.resources.maxFileSizeBytes must be greater than zero"},
    {"{'limits': {'http': {'maxFetchResponseBytes': 0}}}",
     E "limits.http.maxFetchResponseBytes must be greater than zero"},
    {"{'limits': {'http': {'maxFetchResponseBytes': 1048577}}}",
     E "limits.http.maxFetchResponseBytes (1048577) must be <= the sidecar wire frame cap "
       "(1048576)"},
    {"{'limits': {'tools': {'maxToolsPerToolkit': 0}}}",
     E "limits.tools.maxToolsPerToolkit must be greater than zero"},
    {"{'limits': {'tools': {'defaultToolTimeoutMs': 300001}}}",
     E "limits.tools.defaultToolTimeoutMs (300001) must be <= limits.tools.maxToolTimeoutMs "
       "(300000)"},
    {"{'limits': {'tools': {'maxToolTimeoutMs': 29999}}}",
     E "limits.tools.defaultToolTimeoutMs (30000) must be <= limits.tools.maxToolTimeoutMs "
       "(29999)"},
    {"{'limits': {'tools': {'defaultToolTimeoutMs': 11, 'maxToolTimeoutMs': 10}}}",
     E "limits.tools.defaultToolTimeoutMs (11) must be <= limits.tools.maxToolTimeoutMs (10)"},
    {"{'limits': {'plugins': {'maxPersistedManifestFileBytes': 0}}}",
     E "limits.plugins.maxPersistedManifestFileBytes must be greater than zero"},
    {"{'limits': {'acp': {'stdoutBufferByteLimit': 0}}}",
     E "limits.acp.stdoutBufferByteLimit must be greater than zero"},
    {"{'limits': {'jsRuntime': {'v8HeapLimitMb': 0}}}",
     E "limits.jsRuntime.v8HeapLimitMb must be greater than zero"},
    {"{'limits': {'python': {'vfsRpcTimeoutMs': 0}}}",
     E "limits.python.vfsRpcTimeoutMs must be greater than zero"},
    {"{'limits': {'wasm': {'syncReadLimitBytes': 0}}}",
     E "limits.wasm.syncReadLimitBytes must be greater than zero"},

    /* listen */
    {"{'listen': {'portMin': 9000, 'portMax': 8000}}",
     E "listen.portMin (9000) must be <= listen.portMax (8000)"},
    {"{'listen': {'portMax': 1023, 'portMin': 1024}}",
     E "listen.portMin (1024) must be <= listen.portMax (1023)"},

    /* dns */
    {DNS("{'nameServers': ['']}"), E "dns.nameServers[0] must not be empty"},
    {DNS("{'nameServers': ['1.1.1.1', '1.2.3']}"),
     E "dns.nameServers[1] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['dns.google']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4:0']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4:65536']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4:']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4:53:53']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4:+53']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['[::1']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['[::1]53']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['[1.2.3.4]:53']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': ['1.2.3.4\\u0000']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'nameServers': [' 1.2.3.4']}"),
     E "dns.nameServers[0] must be \"ip\" or \"ip:port\" (IPv6 as \"[addr]:port\")"},
    {DNS("{'overrides': {'example.com': []}}"),
     E "dns.overrides.example.com must have at least one address"},
    {DNS("{'overrides': {'example.com': ['10.0.0.1', '10.0.0.2:53']}}"),
     E "dns.overrides.example.com[1] must be an IP address"},
    {DNS("{'overrides': {'example.com': ['']}}"),
     E "dns.overrides.example.com[0] must be an IP address"},
    {DNS("{'overrides': {'example.com': ['10.0.0.1\\u0000']}}"),
     E "dns.overrides.example.com[0] must be an IP address"},
    {DNS("{'overrides': {'': ['10.0.0.1']}}"), E "dns.overrides key '' is not a valid hostname"},
    {DNS("{'overrides': {'.': ['10.0.0.1']}}"), E "dns.overrides key '.' is not a valid hostname"},
    {DNS("{'overrides': {'a..b': ['10.0.0.1']}}"),
     E "dns.overrides key 'a..b' is not a valid hostname"},
    {DNS("{'overrides': {'x." LABEL64 "': ['10.0.0.1']}}"),
     E "dns.overrides key 'x." LABEL64 "' is not a valid hostname"},
    {DNS("{'overrides': {'a b': ['10.0.0.1']}}"),
     E "dns.overrides key 'a b' is not a valid hostname"},
    {DNS("{'overrides': {'Example.com': ['10.0.0.1'], 'x.org': ['10.0.0.3'],"
         " 'example.COM.': ['10.0.0.2']}}"),
     E "dns.overrides names host 'example.com' twice"},

    /* nativeRoot */
    {"{'nativeRoot': {'plugin': {'id': ''}}}", E "nativeRoot.plugin.id must not be empty"},
    {"{'nativeRoot': {'plugin': {'id': 'm'}}, 'rootFilesystem': {'bootstrapEntries':"
     " [{'path': '/a', 'kind': 'directory'}]}}",
     E "nativeRoot does not support rootFilesystem.bootstrapEntries"},
    {"{'rootFilesystem': {'lowers': [{'kind': 'bundledBaseFilesystem'}]},"
     " 'nativeRoot': {'plugin': {'id': 'm'}}}",
     E "native root filesystems do not support rootFilesystem.lowers"},

    /* jsRuntime */
    {JSR("{'platform': 'browser', 'allowedBuiltins': []}"),
     E "jsRuntime.allowedBuiltins is only valid with platform \"node\""},
    {JSR("{'allowedBuiltins': ['fs'], 'platform': 'bare'}"),
     E "jsRuntime.allowedBuiltins is only valid with platform \"node\""},
    {JSR("{'allowedBuiltins': ['fs', 'leftpad']}"),
     E "jsRuntime.allowedBuiltins[1] is not a Node builtin module"},
    {JSR("{'allowedBuiltins': ['test']}"),
     E "jsRuntime.allowedBuiltins[0] is not a Node builtin module"},
    {JSR("{'allowedBuiltins': ['node:']}"),
     E "jsRuntime.allowedBuiltins[0] is not a Node builtin module"},
    {JSR("{'allowedBuiltins': ['node:node:fs']}"),
     E "jsRuntime.allowedBuiltins[0] is not a Node builtin module"},
    {JSR("{'allowedBuiltins': ['FS']}"),
     E "jsRuntime.allowedBuiltins[0] is not a Node builtin module"},
    {JSR("{'allowedBuiltins': ['fs\\u0000x']}"),
     E "jsRuntime.allowedBuiltins[0] is not a Node builtin module"},
};

START_TEST(test_errors)
{
    parse_err(error_cases[_i].json, error_cases[_i].error);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Size limits and the error buffer                                                             */

/* prefix + count copies of item joined by "," + suffix, on the heap. */
static char *repeat(const char *prefix, const char *item, size_t count, const char *suffix)
{
    size_t cap = strlen(prefix) + count * (strlen(item) + 1) + strlen(suffix) + 1;
    char *s = malloc(cap), *p = s;
    ck_assert_ptr_nonnull(s);
    p += sprintf(p, "%s", prefix);
    for (size_t i = 0; i < count; i++)
        p += sprintf(p, "%s%s", i ? "," : "", item);
    sprintf(p, "%s", suffix);
    return s;
}

/* {"env": {"V0": "x", "V1": "x", ...}} with n variables. */
static char *env_json(size_t n)
{
    char *s = malloc(32 + n * 24), *p = s;
    ck_assert_ptr_nonnull(s);
    p += sprintf(p, "{'env': {");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s'V%zu': 'x'", i ? "," : "", i);
    sprintf(p, "}}");
    return s;
}

START_TEST(test_env_limit)
{
    char *ok = env_json(4096), *bad = env_json(4097);
    parse_ok(ok);
    ck_assert_uint_eq(cfg.nenv, 4096);
    ck_assert_str_eq(cfg.env[4095].key, "V4095");
    parse_err(bad, E "env must have at most 4096 entries");
    free(ok);
    free(bad);
}
END_TEST

START_TEST(test_list_limit)
{
    char *ok = repeat("{'loopbackExemptPorts': [", "7", 65536, "]}");
    char *bad = repeat("{'loopbackExemptPorts': [", "7", 65537, "]}");
    char *entries = repeat("{'rootFilesystem': {'bootstrapEntries': [", "1", 65537, "]}}");
    char *rules = repeat("{'permissions': {'fs': {'rules': [{'mode': 'allow', 'operations': [",
                         "'read'", 65537, "], 'paths': ['*']}]}}}");
    parse_ok(ok);
    ck_assert_uint_eq(cfg.nloopback_exempt_ports, 65536);
    parse_err(bad, E "loopbackExemptPorts must have at most 65536 items");
    parse_err(entries, E "rootFilesystem.bootstrapEntries must have at most 65536 items");
    parse_err(rules, E "permissions.fs.rules[0].operations must have at most 65536 items");
    free(ok);
    free(bad);
    free(entries);
    free(rules);
}
END_TEST

START_TEST(test_long_path)
{
    char json[8300], path[4200];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[4096] = '\0';
    snprintf(json, sizeof json, BOOT("{'path': '%s', 'kind': 'file'}"), path);
    parse_ok(json);
    ck_assert_uint_eq(strlen(cfg.root.bootstrap[0].path), 4096);
    path[4096] = 'a';
    path[4097] = '\0';
    snprintf(json, sizeof json, BOOT("{'path': '%s', 'kind': 'file'}"), path);
    parse_err(json, E AT0 ".path must be at most 4096 bytes");
    snprintf(json, sizeof json, "{'cwd': '%s'}", path);
    parse_err(json, E "cwd must be at most 4096 bytes");
}
END_TEST

/* A frame cap other than 1 MiB shows in the message. */
START_TEST(test_fetch_frame_cap)
{
    ck_assert_int_eq(parse_frame("{'limits': {'http': {'maxFetchResponseBytes': 4097}}}", 4096),
                     -1);
    ck_assert_str_eq(err, E "limits.http.maxFetchResponseBytes (4097) must be <= the sidecar "
                            "wire frame cap (4096)");
}
END_TEST

START_TEST(test_small_error_buffer)
{
    char small[16];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(sc_vmconfig_parse("{\"foo\": 1}", 10, MIB, &arena, &cfg, small, sizeof small),
                     -1);
    ck_assert_str_eq(small, "invalid create ");
    ck_assert_int_eq(sc_vmconfig_parse("{", 1, MIB, &arena, &cfg, small, sizeof small), -1);
    ck_assert_str_eq(small, "invalid create ");
    small[0] = 'x';
    ck_assert_int_eq(sc_vmconfig_parse("{\"foo\": 1}", 10, MIB, &arena, &cfg, small, 0), -1);
    ck_assert_int_eq(small[0], 'x');
    ck_assert_int_eq(sc_vmconfig_parse("{\"foo\": 1}", 10, MIB, &arena, &cfg, NULL, 0), -1);
}
END_TEST

/* The length is honoured: what follows it is not part of the config. */
START_TEST(test_length_not_nul)
{
    const char text[] = "{\"cwd\": \"/a\"}{\"foo\": 1}";
    ck_assert_int_eq(sc_vmconfig_parse(text, 13, MIB, &arena, &cfg, err, sizeof err), 0);
    ck_assert_str_eq(cfg.cwd, "/a");
    ck_assert_int_eq(sc_vmconfig_parse(text, 12, MIB, &arena, &cfg, err, sizeof err), -1);
    ck_assert_str_eq(err, EJSON "'}' expected near end of file at line 1 column 12");
    ck_assert_int_eq(sc_vmconfig_parse(NULL, 0, MIB, &arena, &cfg, err, sizeof err), -1);
    ck_assert_str_eq(err, EJSON "'[' or '{' expected near end of file at line 1 column 0");
}
END_TEST

static Suite *vmconfig_suite(void)
{
    Suite *s = suite_create("vmconfig");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full_config);
    tcase_add_loop_test(tc, test_defaults, 0, (int)ARRAY_LEN(empty_configs));
    tcase_add_test(tc, test_default_fetch_follows_frame_cap);
    tcase_add_test(tc, test_policy_deny_all);
    tcase_add_test(tc, test_empty_policy);
    tcase_add_test(tc, test_native_root);
    tcase_add_loop_test(tc, test_cwd, 0, (int)ARRAY_LEN(cwd_cases));
    tcase_add_loop_test(tc, test_entry_modes, 0, (int)ARRAY_LEN(mode_cases));
    tcase_add_loop_test(tc, test_base64, 0, (int)ARRAY_LEN(b64_cases));
    tcase_add_test(tc, test_utf8_content);
    suite_add_tcase(s, tc);

    tc = tcase_create("integers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_u64, 0, (int)ARRAY_LEN(int_cases));
    tcase_add_loop_test(tc, test_big_integer_mix, 0, (int)ARRAY_LEN(big_mix_cases));
    tcase_add_test(tc, test_big_integers_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_errors, 0, (int)ARRAY_LEN(error_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_env_limit);
    tcase_add_test(tc, test_list_limit);
    tcase_add_test(tc, test_long_path);
    tcase_add_test(tc, test_fetch_frame_cap);
    tcase_add_test(tc, test_small_error_buffer);
    tcase_add_test(tc, test_length_not_nul);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vmconfig_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
