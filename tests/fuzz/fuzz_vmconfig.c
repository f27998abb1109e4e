/*
 * fuzz_vmconfig.c - any bytes as the CreateVmConfig JSON of a CreateVmRequest, through
 * sc_vmconfig_parse() (sidecar/server/vmconfig.c) with a 1 MiB frame limit and a fresh arena. No
 * crash, no leak; a rejection comes with a message of one of the documented kinds, and an
 * accepted config keeps every promise of the parser: guest paths absolute and normalized,
 * entries consistent with their kind, counts that match their arrays, limits that are never
 * zero where zero is refused, DNS overrides sorted and unique, and so on. Parsing is
 * deterministic: a second parse gives the same result and message.
 */
#include "fuzz.h"
#include "vmconfig.h"

#define MAX_FRAME (1u << 20)
#define MAX_GUEST_PATH 4096u

/* Absolute, at most 4096 bytes, no control byte, no empty, "." or ".." segment, no trailing
 * '/' (except "/" itself): what check_guest_path (strict) and normalized_copy produce. */
static void check_guest_path(const char *what, const char *p)
{
    FUZZ_CHECK(p != NULL, "%s: NULL path", what);
    size_t len = strlen(p);
    FUZZ_CHECK(len > 0 && p[0] == '/', "%s: '%s' is not absolute", what, p);
    FUZZ_CHECK(len <= MAX_GUEST_PATH, "%s: %zu bytes long", what, len);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f, "%s: control byte 0x%02x", what,
                   (unsigned char)p[i]);
    if (len == 1)
        return;
    for (size_t i = 1; i <= len;) {
        const char *slash = memchr(p + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - p) : len, n = end - i;
        FUZZ_CHECK(n > 0, "%s: '%s' has an empty segment or a trailing '/'", what, p);
        FUZZ_CHECK(!(n == 1 && p[i] == '.') && !(n == 2 && p[i] == '.' && p[i + 1] == '.'),
                   "%s: '%s' has a '.' or '..' segment", what, p);
        i = end + 1;
    }
}

static void check_entries(const char *what, const sc_entry_t *e, size_t n)
{
    FUZZ_CHECK(n == 0 || e != NULL, "%s: %zu entries, no array", what, n);
    for (size_t i = 0; i < n; i++, e++) {
        check_guest_path(what, e->path);
        FUZZ_CHECK(e->kind <= SC_ENTRY_SYMLINK, "%s: kind %d", what, (int)e->kind);
        FUZZ_CHECK(e->mode <= 07777, "%s %s: mode 0%o has type bits", what, e->path, e->mode);
        FUZZ_CHECK(e->encoding <= SC_ENCODING_BASE64, "%s: encoding %d", what, (int)e->encoding);
        if (e->has_content) {
            FUZZ_CHECK(e->kind == SC_ENTRY_FILE, "%s %s: content on a non-file", what, e->path);
            FUZZ_CHECK(e->content != NULL && e->content[e->content_len] == '\0',
                       "%s %s: content not kept or not terminated", what, e->path);
        } else {
            FUZZ_CHECK(e->content == NULL && e->content_len == 0, "%s %s: stray content", what,
                       e->path);
        }
        if (e->kind == SC_ENTRY_SYMLINK)
            FUZZ_CHECK(e->target && e->target[0], "%s %s: symlink without a target", what, e->path);
        else
            FUZZ_CHECK(e->target == NULL, "%s %s: target on a non-symlink", what, e->path);
    }
}

static void check_strings(const char *what, const char *const *s, size_t n)
{
    FUZZ_CHECK(n == 0 || s != NULL, "%s: %zu strings, no array", what, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(s[i] && s[i][0], "%s[%zu]: NULL or empty", what, i);
}

static void check_policy(const sc_policy_t *p, bool given)
{
    for (int d = 0; d < SC_DOMAIN_COUNT; d++) {
        const sc_perm_scope_t *s = &p->domains[d];
        FUZZ_CHECK(s->default_mode <= SC_PERM_DENY, "domain %d: default mode %d", d,
                   (int)s->default_mode);
        FUZZ_CHECK(given || (s->default_mode == SC_PERM_DENY && s->nrules == 0),
                   "domain %d: not deny-all without permissions", d);
        FUZZ_CHECK((s->nrules == 0) == (s->rules == NULL), "domain %d: %zu rules, array %p", d,
                   s->nrules, (const void *)s->rules);
        for (size_t r = 0; r < s->nrules; r++) {
            const sc_perm_rule_t *rule = &s->rules[r];
            FUZZ_CHECK(rule->mode <= SC_PERM_DENY, "domain %d rule %zu: mode %d", d, r,
                       (int)rule->mode);
            FUZZ_CHECK(rule->noperations > 0 && rule->npatterns > 0,
                       "domain %d rule %zu: an empty list", d, r);
            check_strings("rule operations", rule->operations, rule->noperations);
            check_strings("rule patterns", rule->patterns, rule->npatterns);
        }
    }
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_env(const sc_vmconfig_t *c)
{
    FUZZ_CHECK(c->nenv <= 4096 && (c->nenv == 0 || c->env != NULL), "env: %zu entries", c->nenv);
    const char **keys = fuzz_junk(c->nenv * sizeof *keys);
    for (size_t i = 0; i < c->nenv; i++) {
        const sc_kv_t *kv = &c->env[i];
        FUZZ_CHECK(kv->key && kv->key[0] && !strchr(kv->key, '=') && kv->value,
                   "env[%zu]: a NULL, empty or '=' key, or no value", i);
        keys[i] = kv->key;
    }
    if (c->nenv > 1)
        qsort(keys, c->nenv, sizeof *keys, by_str);
    for (size_t i = 1; i < c->nenv; i++)
        FUZZ_CHECK(strcmp(keys[i - 1], keys[i]) != 0, "env: key '%s' twice", keys[i]);
    free(keys);
}

/* Lower-case letters, digits, '-' and '_' in labels of 1..63, at most 253 bytes. */
static void check_hostname(const char *h)
{
    size_t len = h ? strlen(h) : 0, label = 0;
    FUZZ_CHECK(len > 0 && len <= 253, "dns override: hostname of %zu bytes", len);
    for (size_t i = 0; i < len; i++) {
        char ch = h[i];
        if (ch == '.') {
            FUZZ_CHECK(label > 0, "dns override '%s': an empty label", h);
            label = 0;
        } else {
            FUZZ_CHECK((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                           ch == '_',
                       "dns override '%s': byte 0x%02x", h, (unsigned char)ch);
            FUZZ_CHECK(++label <= 63, "dns override '%s': a label over 63 bytes", h);
        }
    }
    FUZZ_CHECK(label > 0, "dns override '%s': ends with an empty label", h);
}

static void check_limits(const sc_resource_limits_t *r)
{
    /* the limits with a default: a value given must be greater than zero */
    const uint64_t v[] = {r->cpu_count,
                          r->max_processes,
                          r->max_open_fds,
                          r->max_pipes,
                          r->max_ptys,
                          r->max_sockets,
                          r->max_connections,
                          r->max_socket_buffered_bytes,
                          r->max_socket_datagram_queue_len,
                          r->max_filesystem_bytes,
                          r->max_inode_count,
                          r->max_blocking_read_ms,
                          r->max_pread_bytes,
                          r->max_fd_write_bytes,
                          r->max_process_argv_bytes,
                          r->max_process_env_bytes,
                          r->max_readdir_entries};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        FUZZ_CHECK(v[i] != 0, "limits.resources: defaulted limit %zu is zero", i);
}

static void check_config(const sc_vmconfig_t *c)
{
    check_guest_path("cwd", c->cwd);
    check_env(c);

    FUZZ_CHECK(c->root.nlowers == 0 || c->root.lowers, "lowers: %zu, no array", c->root.nlowers);
    for (size_t i = 0; i < c->root.nlowers; i++) {
        const sc_lower_t *l = &c->root.lowers[i];
        FUZZ_CHECK(l->kind <= SC_LOWER_BUNDLED_BASE, "lowers[%zu]: kind %d", i, (int)l->kind);
        FUZZ_CHECK(l->kind == SC_LOWER_SNAPSHOT || (l->nentries == 0 && l->entries == NULL),
                   "lowers[%zu]: a bundled base with entries", i);
        check_entries("lower entry", l->entries, l->nentries);
    }
    check_entries("bootstrap entry", c->root.bootstrap, c->root.nbootstrap);

    if (c->has_native_root)
        FUZZ_CHECK(c->native_root_plugin && c->native_root_plugin[0] && c->root.nbootstrap == 0 &&
                       c->root.nlowers == 0,
                   "nativeRoot without a plugin id, or with bootstrap entries or lowers");
    else
        FUZZ_CHECK(c->native_root_plugin == NULL && !c->native_root_read_only,
                   "nativeRoot fields without nativeRoot");

    check_policy(&c->permissions, c->permissions_given);
    check_limits(&c->resources);
    FUZZ_CHECK(c->http_max_fetch_response_bytes > 0 &&
                   c->http_max_fetch_response_bytes <= MAX_FRAME,
               "limits.http.maxFetchResponseBytes %llu",
               (unsigned long long)c->http_max_fetch_response_bytes);

    FUZZ_CHECK(c->nloopback_exempt_ports == 0 || c->loopback_exempt_ports,
               "loopbackExemptPorts: %zu, no array", c->nloopback_exempt_ports);
    for (size_t i = 0; i < c->nloopback_exempt_ports; i++)
        FUZZ_CHECK(c->loopback_exempt_ports[i] != 0, "loopbackExemptPorts[%zu] is 0", i);
    FUZZ_CHECK(c->listen_port_min >= 1 && c->listen_port_min <= c->listen_port_max,
               "listen: %u..%u", c->listen_port_min, c->listen_port_max);

    FUZZ_CHECK(c->ndns_servers == 0 || c->dns_servers, "dns.nameServers: %zu, no array",
               c->ndns_servers);
    for (size_t i = 0; i < c->ndns_servers; i++)
        FUZZ_CHECK(c->dns_servers[i].port != 0, "dns.nameServers[%zu]: port 0", i);
    FUZZ_CHECK(c->ndns_overrides == 0 || c->dns_overrides, "dns.overrides: %zu, no array",
               c->ndns_overrides);
    for (size_t i = 0; i < c->ndns_overrides; i++) {
        const sc_dns_override_t *o = &c->dns_overrides[i];
        check_hostname(o->hostname);
        FUZZ_CHECK(i == 0 || strcmp(c->dns_overrides[i - 1].hostname, o->hostname) < 0,
                   "dns.overrides: '%s' out of order or twice", o->hostname);
        FUZZ_CHECK(o->naddrs > 0 && o->addrs, "dns.overrides '%s': no address", o->hostname);
    }

    FUZZ_CHECK(
        c->js_platform <= SC_JS_PLATFORM_BARE && c->js_module_resolution <= SC_JS_RESOLUTION_NONE,
        "jsRuntime: platform %d, resolution %d", (int)c->js_platform, (int)c->js_module_resolution);
    if (c->has_js_allowed_builtins) {
        FUZZ_CHECK(c->js_platform == SC_JS_PLATFORM_NODE, "allowedBuiltins without node");
        check_strings("allowedBuiltins", c->js_allowed_builtins, c->njs_allowed_builtins);
        for (size_t i = 0; i < c->njs_allowed_builtins; i++)
            FUZZ_CHECK(strncmp(c->js_allowed_builtins[i], "node:", 5) != 0,
                       "allowedBuiltins[%zu] keeps its node: prefix", i);
    } else {
        FUZZ_CHECK(c->njs_allowed_builtins == 0 && c->js_allowed_builtins == NULL,
                   "allowedBuiltins without has_js_allowed_builtins");
    }
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bare_arena_t arena;
    sc_vmconfig_t cfg, again;
    char err[1024], err2[1024];

    bare_arena_init(&arena, NULL, NULL);
    memset(err, 'x', sizeof err);
    int rc = sc_vmconfig_parse((const char *)data, size, MAX_FRAME, &arena, &cfg, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1, "sc_vmconfig_parse returned %d", rc);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "the message is not terminated");
    if (rc == 0) {
        FUZZ_CHECK(err[0] == '\0', "accepted, with a message: %s", err);
        check_config(&cfg);
    } else {
        FUZZ_CHECK(starts_with(err, "invalid create VM config: ") ||
                       starts_with(err, "invalid create VM config JSON: ") ||
                       starts_with(err, "invalid permissions policy: "),
                   "rejected with the message '%s'", err);
    }

    /* The same bytes again: the same verdict, the same words. */
    int rc2 =
        sc_vmconfig_parse((const char *)data, size, MAX_FRAME, &arena, &again, err2, sizeof err2);
    FUZZ_CHECK(rc2 == rc && strcmp(err, err2) == 0, "a second parse differs: %d '%s', then %d '%s'",
               rc, err, rc2, err2);
    bare_arena_free(&arena);
    return 0;
}
