/*
 * vmjson.c - the CreateVm config of `secure-exec run` (sidecar/server/vmconfig.c reads it): the
 * permissions the options ask for, the host variables --allow-env passes, FILE as a bootstrap
 * entry, and the limits. Built with jansson, so every string is escaped as JSON wants.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

extern char **environ;

/* Set when a message more precise than "cannot build" was printed. */
static bool reported;

/* The guest user, who owns FILE in the VM. */
#define GUEST_UID 1000
#define GUEST_GID 1000

static char *base64(const uint8_t *p, size_t n, size_t *out_len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *s = malloc(len + 1), *o = s;
    if (!s)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    *out_len = len;
    return s;
}

/* The sidecar's glob for permission patterns: '?' one character, '*' any run (names hold no
 * '/', so "*" and "**" agree). */
static bool glob_match(const char *pat, const char *s)
{
    for (; *pat; pat++, s++) {
        if (*pat == '*') {
            while (pat[1] == '*')
                pat++;
            for (const char *t = s;; t++) {
                if (glob_match(pat + 1, t))
                    return true;
                if (!*t)
                    return false;
            }
        }
        if (!*s || (*pat != '?' && *pat != *s))
            return false;
    }
    return *s == '\0';
}

/* Adds obj[key] = v, taking v; false when v is NULL (out of memory, or not UTF-8). */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

static bool push(json_t *arr, json_t *v)
{
    return v && json_array_append_new(arr, v) == 0;
}

/* {mode: allow, operations: ops, paths: [path, path/ ** ]} (the path itself and beneath). */
static json_t *fs_rule(const char *const *ops, const char *path, bool beneath)
{
    json_t *r = json_object(), *o = json_array(), *p = json_array();
    bool ok = r && o && p;
    for (size_t i = 0; ok && ops[i]; i++)
        ok = push(o, json_string(ops[i]));
    ok = ok && push(p, json_string(path));
    if (ok && beneath) {
        char sub[8192];
        snprintf(sub, sizeof sub, "%s/**", strcmp(path, "/") == 0 ? "" : path);
        ok = push(p, json_string(sub));
    }
    if (!ok) {
        json_decref(r);
        json_decref(o);
        json_decref(p);
        return NULL;
    }
    json_object_set_new(r, "mode", json_string("allow"));
    json_object_set_new(r, "operations", o);
    json_object_set_new(r, "paths", p);
    return r;
}

static const char *const read_ops[] = {"read", "stat", "readdir", NULL};
static const char *const write_ops[] = {"read", "stat",   "readdir", "write", "create_dir",
                                        "rm",   "rename", "symlink", NULL};

/*
 * Writing needs read on every ancestor directory too (the sidecar's rule: changing a path
 * needs read on each existing ancestor); those are granted on the directories themselves,
 * not on what lies in them.
 */
static bool add_ancestors(json_t *rules, const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *slash = strrchr(buf, '/'); slash && slash != buf; slash = strrchr(buf, '/')) {
        *slash = '\0';
        if (!push(rules, fs_rule(read_ops, buf, false)))
            return false;
    }
    return true;
}

/* The fs domain: "allow", or deny by default with the rules the options ask for. */
static json_t *fs_policy(const cli_opts_t *o, const cli_program_t *p)
{
    if (!o->deny_fs && o->allow_read.len == 0 && o->allow_write.len == 0)
        return json_string("allow");
    json_t *fs = json_object(), *rules = json_array();
    bool ok = fs && rules && put(fs, "default", json_string("deny"));
    if (ok && p->guest_path)
        ok = push(rules, fs_rule(read_ops, p->guest_path, false));
    for (size_t i = 0; ok && i < o->allow_read.len; i++)
        ok = push(rules, fs_rule(read_ops, o->allow_read.items[i], true));
    for (size_t i = 0; ok && i < o->allow_write.len; i++)
        ok = add_ancestors(rules, o->allow_write.items[i]) &&
             push(rules, fs_rule(write_ops, o->allow_write.items[i], true));
    if (!ok || json_object_set_new(fs, "rules", rules) != 0) {
        json_decref(fs);
        return NULL;
    }
    return fs;
}

/* The env domain, and the host's values of the variables --allow-env names, into env. */
static json_t *env_policy(const cli_opts_t *o, json_t *env)
{
    if (o->allow_env.len == 0)
        return json_string("deny");
    json_t *pol = json_object(), *rules = json_array(), *rule = json_object(), *ops = json_array(),
           *pats = json_array();
    bool ok = pol && rules && rule && ops && pats;
    ok = ok && push(ops, json_string("*"));
    for (size_t i = 0; ok && i < o->allow_env.len; i++)
        ok = push(pats, json_string(o->allow_env.items[i]));
    for (char **e = environ; ok && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        char name[1024];
        size_t n = (size_t)(eq - *e);
        if (n >= sizeof name)
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        for (size_t i = 0; i < o->allow_env.len; i++) {
            if (!glob_match(o->allow_env.items[i], name))
                continue;
            json_t *v = json_string(eq + 1);
            if (!v) {
                cli_error("--allow-env %s: the host's value of %s is not UTF-8 text",
                          o->allow_env.items[i], name);
                reported = true;
                ok = false;
            } else {
                ok = put(env, name, v);
            }
            break;
        }
    }
    if (ok) {
        json_object_set_new(rule, "mode", json_string("allow"));
        json_object_set_new(rule, "operations", ops);
        json_object_set_new(rule, "patterns", pats);
        ops = pats = NULL;
        ok = push(rules, rule);
        rule = NULL;
    }
    ok = ok && put(pol, "default", json_string("deny"));
    if (ok) {
        ok = json_object_set_new(pol, "rules", rules) == 0;
        rules = NULL;
    }
    json_decref(rule);
    json_decref(ops);
    json_decref(pats);
    json_decref(rules);
    if (!ok) {
        json_decref(pol);
        return NULL;
    }
    return pol;
}

static json_t *permissions(const cli_opts_t *o, const cli_program_t *p, json_t *env)
{
    json_t *perm = json_object();
    bool ok = perm && put(perm, "fs", fs_policy(o, p)) &&
              put(perm, "network", json_string(o->allow_net ? "allow" : "deny")) &&
              /* the host asked for this program to run: the CLI is the host */
              put(perm, "childProcess", json_string("allow")) &&
              put(perm, "process", json_string("deny")) && put(perm, "env", env_policy(o, env)) &&
              put(perm, "tool", json_string("deny"));
    if (!ok) {
        json_decref(perm);
        return NULL;
    }
    return perm;
}

static json_t *bootstrap(const cli_program_t *p)
{
    json_t *list = json_array();
    if (!list || !p->guest_path)
        return list;
    size_t len;
    char *b64 = base64(p->content, p->content_len, &len);
    json_t *e = json_object();
    bool ok = b64 && e && put(e, "path", json_string(p->guest_path)) &&
              put(e, "kind", json_string("file")) &&
              put(e, "mode", json_integer(p->runtime == CLI_RT_COMMAND ? 0755 : 0644)) &&
              put(e, "uid", json_integer(GUEST_UID)) && put(e, "gid", json_integer(GUEST_GID)) &&
              put(e, "content", json_stringn_nocheck(b64, len)) &&
              put(e, "encoding", json_string("base64"));
    free(b64);
    if (!ok || json_array_append_new(list, e) != 0) {
        if (!ok)
            json_decref(e);
        json_decref(list);
        return NULL;
    }
    return list;
}

/* The VM filesystem must hold FILE: above the sidecar's 64 MiB default, make room. */
#define DEFAULT_FS_BYTES (64u << 20)

static bool limits(const cli_opts_t *o, const cli_program_t *p, json_t *res)
{
    uint64_t disk = o->disk;
    if (!disk && p->content_len + (8u << 20) > DEFAULT_FS_BYTES)
        disk = p->content_len + DEFAULT_FS_BYTES;
    const struct {
        const char *key;
        uint64_t v;
    } vals[] = {{"maxMemoryBytes", o->memory},
                {"maxWallTimeMs", o->timeout_ms},
                {"maxCpuTimeMs", o->cpu_ms},
                {"maxProcesses", o->max_processes},
                {"maxFilesystemBytes", disk}};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i].v && !put(res, vals[i].key, json_integer((json_int_t)vals[i].v)))
            return false;
    return true;
}

char *cli_vm_config(const cli_opts_t *o, const cli_program_t *p)
{
    json_t *root = json_object(), *env = json_object(), *rootfs = json_object(),
           *lim = json_object(), *res = json_object();
    char *text = NULL;
    bool ok = root && env && rootfs && lim && res;
    json_t *perm = ok ? permissions(o, p, env) : NULL;
    ok = ok && perm && put(root, "permissions", perm);
    ok = ok && put(rootfs, "bootstrapEntries", bootstrap(p));
    ok = ok && limits(o, p, res);
    if (ok) {
        json_object_set_new(root, "env", env);
        json_object_set_new(root, "rootFilesystem", rootfs);
        json_object_set_new(lim, "resources", res);
        json_object_set_new(root, "limits", lim);
        env = rootfs = lim = res = NULL;
        text = json_dumps(root, JSON_COMPACT);
    }
    json_decref(env);
    json_decref(rootfs);
    json_decref(lim);
    json_decref(res);
    json_decref(root);
    if (!text && ok)
        cli_error("out of memory");
    else if (!ok && !reported)
        cli_error("cannot build the VM configuration (out of memory, or text that is not UTF-8)");
    return text;
}
