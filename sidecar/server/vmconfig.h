/*
 * vmconfig.h - CreateVmConfig: the JSON of CreateVmRequest.config, parsed with jansson and
 * validated field by field (reference protocol-core.md §4.2 and §8). Every error names the
 * field ("rootFilesystem.bootstrapEntries[2].path must be absolute"); unknown fields are
 * rejected by name. Absent permissions mean deny-all.
 */
#ifndef SC_VMCONFIG_H
#define SC_VMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bare.h"

typedef enum sc_perm_mode { SC_PERM_ALLOW, SC_PERM_ASK, SC_PERM_DENY } sc_perm_mode_t;

typedef struct sc_perm_rule {
    sc_perm_mode_t mode;
    const char **operations;
    size_t noperations;
    const char **patterns; /* "paths" for fs, "patterns" for the other domains */
    size_t npatterns;
} sc_perm_rule_t;

/* One permission domain: a default mode and rules, evaluated last match wins. */
typedef struct sc_perm_scope {
    sc_perm_mode_t default_mode;
    sc_perm_rule_t *rules;
    size_t nrules;
} sc_perm_scope_t;

/* The domains, in the order of PermissionsPolicy. An absent domain is DENY with no rules. */
enum { SC_DOMAIN_FS, SC_DOMAIN_NETWORK, SC_DOMAIN_CHILD_PROCESS, SC_DOMAIN_PROCESS,
       SC_DOMAIN_ENV, SC_DOMAIN_TOOL, SC_DOMAIN_COUNT };

typedef struct sc_policy {
    sc_perm_scope_t domains[SC_DOMAIN_COUNT];
} sc_policy_t;

typedef enum sc_entry_kind { SC_ENTRY_FILE, SC_ENTRY_DIRECTORY, SC_ENTRY_SYMLINK } sc_entry_kind_t;
typedef enum sc_encoding { SC_ENCODING_UTF8, SC_ENCODING_BASE64 } sc_encoding_t;

/* A root filesystem entry, with the defaults applied (mode 0644/0755/0777, uid/gid 0). */
typedef struct sc_entry {
    const char *path;
    sc_entry_kind_t kind;
    uint32_t mode;
    uint32_t uid, gid;
    const uint8_t *content; /* decoded bytes (base64 already decoded); NULL when absent */
    size_t content_len;
    bool has_content;
    sc_encoding_t encoding;
    const char *target; /* symlinks */
    bool executable;
} sc_entry_t;

typedef enum sc_lower_kind { SC_LOWER_SNAPSHOT, SC_LOWER_BUNDLED_BASE } sc_lower_kind_t;

typedef struct sc_lower {
    sc_lower_kind_t kind;
    sc_entry_t *entries;
    size_t nentries;
} sc_lower_t;

typedef struct sc_kv {
    const char *key, *value;
} sc_kv_t;

/* An IP address as inet_pton gives it: 4 bytes for IPv4, 16 for IPv6. */
typedef struct sc_ip_addr {
    bool v6;
    uint8_t bytes[16];
} sc_ip_addr_t;

/* dns.nameServers[i]: "ip", "ip:port", "[ipv6]:port" or a bare IPv6 address (port 53). */
typedef struct sc_dns_server {
    sc_ip_addr_t addr;
    uint16_t port;
} sc_dns_server_t;

/* dns.overrides: hostname (lower-cased, trailing dot removed) -> at least one address. */
typedef struct sc_dns_override {
    const char *hostname;
    sc_ip_addr_t *addrs;
    size_t naddrs;
} sc_dns_override_t;

typedef enum sc_js_platform {
    SC_JS_PLATFORM_NODE,
    SC_JS_PLATFORM_BROWSER,
    SC_JS_PLATFORM_NEUTRAL,
    SC_JS_PLATFORM_BARE
} sc_js_platform_t;

typedef enum sc_js_resolution {
    SC_JS_RESOLUTION_NODE,
    SC_JS_RESOLUTION_RELATIVE,
    SC_JS_RESOLUTION_NONE
} sc_js_resolution_t;

/* limits.resources, with the reference defaults; 0 means unset only where noted. */
typedef struct sc_resource_limits {
    uint64_t cpu_count, max_processes, max_open_fds, max_pipes, max_ptys, max_sockets,
        max_connections, max_socket_buffered_bytes, max_socket_datagram_queue_len,
        max_filesystem_bytes, max_inode_count, max_blocking_read_ms, max_pread_bytes,
        max_fd_write_bytes, max_process_argv_bytes, max_process_env_bytes,
        max_readdir_entries;
    /* unset (0) unless given */
    uint64_t max_wasm_fuel, max_wasm_memory_bytes, max_wasm_stack_bytes;
    /*
     * Our additions for kernel-isolated guests (unset = 0 = no limit): maxMemoryBytes (address
     * space per VM), maxCpuTimeMs (CPU time per process), maxWallTimeMs (wall-clock time per
     * process) and maxFileSizeBytes (largest file a guest may write, RLIMIT_FSIZE).
     */
    uint64_t max_memory_bytes, max_cpu_time_ms, max_wall_time_ms, max_file_size_bytes;
} sc_resource_limits_t;

typedef struct sc_vmconfig {
    const char *cwd; /* a guest path; "/home/user" by default */
    sc_kv_t *env;
    size_t nenv;
    struct {
        bool read_only;
        bool disable_default_base_layer;
        sc_lower_t *lowers;
        size_t nlowers;
        sc_entry_t *bootstrap;
        size_t nbootstrap;
    } root;
    bool has_native_root; /* nativeRoot given (mount plugins are not supported) */
    const char *native_root_plugin;
    bool native_root_read_only; /* nativeRoot.plugin.config is validated as JSON, not kept */
    sc_policy_t permissions;
    bool permissions_given;
    sc_resource_limits_t resources;
    uint64_t http_max_fetch_response_bytes;
    uint16_t *loopback_exempt_ports;
    size_t nloopback_exempt_ports;
    uint16_t listen_port_min, listen_port_max;
    bool listen_allow_privileged;
    sc_dns_server_t *dns_servers;
    size_t ndns_servers;
    sc_dns_override_t *dns_overrides;
    size_t ndns_overrides;
    sc_js_platform_t js_platform;
    sc_js_resolution_t js_module_resolution;
    bool has_js_allowed_builtins;     /* absent: the engine default; [] denies every builtin */
    const char **js_allowed_builtins; /* without the "node:" prefix */
    size_t njs_allowed_builtins;
} sc_vmconfig_t;

/*
 * Parses and validates config (not NUL-terminated), allocating everything from arena.
 * Returns 0, or -1 with a message in err ("invalid create VM config JSON: ..." for bad JSON,
 * "invalid create VM config: <field> ..." for validation, "invalid permissions policy: ..."
 * for permission rules).
 */
int sc_vmconfig_parse(const char *json, size_t len, uint32_t max_frame_bytes, bare_arena_t *arena,
                      sc_vmconfig_t *out, char *err, size_t errlen);

/* Sets the deny-all policy. */
void sc_policy_deny_all(sc_policy_t *p);

#endif
