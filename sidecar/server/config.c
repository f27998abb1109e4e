/*
 * config.c - the YAML config file, read with libyaml's event parser so every error can name
 * file:line:col; then the token from the environment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"
#include "log.h"

#define MAX_TOKEN 4096

void sc_config_defaults(sc_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sidecar_id = strdup("secure-exec-sidecar");
    cfg->max_frame_bytes = SC_DEFAULT_MAX_FRAME;
    cfg->log_level = SC_LOG_INFO;
    cfg->fetch_timeout_ms = 30000; /* the reference's HTTP_LOOPBACK_REQUEST_TIMEOUT */
}

void sc_config_free(sc_config_t *cfg)
{
    free(cfg->sidecar_id);
    if (cfg->auth_token) {
        /* the secret does not linger in freed memory */
        memset(cfg->auth_token, 0, strlen(cfg->auth_token));
        free(cfg->auth_token);
    }
    free(cfg->state_dir);
    free(cfg->base_filesystem);
    memset(cfg, 0, sizeof *cfg);
}

static int fail_at(char *err, size_t errlen, const char *path, const yaml_mark_t *m,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail_at(char *err, size_t errlen, const char *path, const yaml_mark_t *m,
                   const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "%s:%zu:%zu: ", path, m->line + 1, m->column + 1);
    if (n > 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads a token file: its first line, which must not be empty. */
static char *read_token_file(const char *file, char *why, size_t whylen)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        snprintf(why, whylen, "cannot read auth token file '%s': %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        sc_warn("auth token file '%s' can be read by other users", file);
    char *buf = calloc(1, MAX_TOKEN + 2);
    size_t n = buf ? fread(buf, 1, MAX_TOKEN + 1, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (n > MAX_TOKEN || buf[0] == '\0') {
        snprintf(why, whylen, "auth token file '%s' %s", file,
                 buf[0] ? "is longer than 4096 bytes" : "holds no token on its first line");
        free(buf);
        return NULL;
    }
    return buf;
}

static int set_key(sc_config_t *cfg, const char *path, const char *key, const char *value,
                   const yaml_mark_t *at, char *err, size_t errlen)
{
    if (strcmp(key, "sidecarId") == 0) {
        if (!*value || strlen(value) > 256)
            return fail_at(err, errlen, path, at, "sidecarId must be 1 to 256 characters");
        free(cfg->sidecar_id);
        cfg->sidecar_id = strdup(value);
    } else if (strcmp(key, "authToken") == 0) {
        if (!*value)
            return fail_at(err, errlen, path, at, "authToken must not be empty");
        free(cfg->auth_token);
        cfg->auth_token = strdup(value);
    } else if (strcmp(key, "authTokenFile") == 0) {
        char why[512];
        char *tok = read_token_file(value, why, sizeof why);
        if (!tok)
            return fail_at(err, errlen, path, at, "%s", why);
        free(cfg->auth_token);
        cfg->auth_token = tok;
    } else if (strcmp(key, "maxFrameBytes") == 0) {
        char *end;
        errno = 0;
        uintmax_t v = strtoumax(value, &end, 10);
        if (errno || *end || !*value || value[0] == '-' || v < 4096 || v > (256u << 20))
            return fail_at(err, errlen, path, at,
                           "maxFrameBytes must be an integer from 4096 to 268435456, not '%s'",
                           value);
        cfg->max_frame_bytes = (uint32_t)v;
    } else if (strcmp(key, "stateDir") == 0) {
        if (value[0] != '/')
            return fail_at(err, errlen, path, at, "stateDir must be an absolute path, not '%s'",
                           value);
        free(cfg->state_dir);
        cfg->state_dir = strdup(value);
    } else if (strcmp(key, "baseFilesystem") == 0) {
        if (value[0] != '/')
            return fail_at(err, errlen, path, at,
                           "baseFilesystem must be an absolute path, not '%s'", value);
        free(cfg->base_filesystem);
        cfg->base_filesystem = strdup(value);
    } else if (strcmp(key, "logLevel") == 0) {
        int level = sc_log_parse_level(value);
        if (level < 0)
            return fail_at(err, errlen, path, at,
                           "logLevel must be error, warn, info or debug, not '%s'", value);
        cfg->log_level = level;
    } else {
        return fail_at(err, errlen, path, at,
                       "unknown key '%s' (known: sidecarId, authToken, authTokenFile, "
                       "maxFrameBytes, stateDir, baseFilesystem, logLevel)",
                       key);
    }
    return 0;
}

int sc_config_load(sc_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = -1;
    char *key = NULL;
    yaml_mark_t key_mark = {0, 0, 0};
    int depth = 0; /* 1 inside the top-level mapping */
    bool done = false;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "invalid YAML");
            goto out;
        }
        yaml_mark_t at = ev.start_mark;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth != 0 || key) {
                fail_at(err, errlen, path, &at, "values must be scalars");
                yaml_event_delete(&ev);
                goto out;
            }
            depth = 1;
            break;
        case YAML_MAPPING_END_EVENT:
            depth = 0;
            break;
        case YAML_SEQUENCE_START_EVENT:
            fail_at(err, errlen, path, &at, "%s", key ? "values must be scalars"
                                                      : "the config must be a mapping of keys");
            yaml_event_delete(&ev);
            goto out;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                fail_at(err, errlen, path, &at, "the config must be a mapping of keys");
                yaml_event_delete(&ev);
                goto out;
            }
            if (!key) {
                key = strdup(text);
                key_mark = at;
                break;
            }
            int bad = set_key(cfg, path, key, text, &at, err, errlen);
            (void)key_mark;
            free(key);
            key = NULL;
            if (bad) {
                yaml_event_delete(&ev);
                goto out;
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            fail_at(err, errlen, path, &at, "aliases are not allowed");
            yaml_event_delete(&ev);
            goto out;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
out:
    free(key);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int sc_config_env(sc_config_t *cfg, char *err, size_t errlen)
{
    /* For tests, which cannot wait 30 s for a guest server that never answers. */
    const char *ms = getenv(SC_FETCH_TIMEOUT_ENV);
    if (ms) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(ms, &end, 10);
        if (errno || end == ms || *end || *ms == '-' || v < 1 || v > 3600000) {
            snprintf(err, errlen, "%s must be 1 to 3600000 (ms), not '%.40s'", SC_FETCH_TIMEOUT_ENV,
                     ms);
            return -1;
        }
        cfg->fetch_timeout_ms = (uint32_t)v;
    }
    const char *tok = getenv(SC_TOKEN_ENV);
    if (!tok)
        return 0;
    if (!*tok || strlen(tok) > MAX_TOKEN) {
        snprintf(err, errlen, "%s must hold 1 to 4096 bytes", SC_TOKEN_ENV);
        return -1;
    }
    free(cfg->auth_token);
    cfg->auth_token = strdup(tok);
    return cfg->auth_token ? 0 : -1;
}
