/* log.c - one line per message on stderr: "secure-exec-sidecar: level: text". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* The process-wide log level: set once at startup from the config. */
static sc_log_level_t current = SC_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

void sc_log_set_level(sc_log_level_t level)
{
    current = level;
}

sc_log_level_t sc_log_get_level(void)
{
    return current;
}

int sc_log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void sc_log(sc_log_level_t level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (level > current)
        return;
    int n = snprintf(buf, sizeof buf, "secure-exec-sidecar: %s: ", names[level]);
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line, so lines from concurrent writers do not interleave */
    size_t len = strlen(buf);
    if (len == sizeof buf - 1)
        len--;
    buf[len++] = '\n';
    fwrite(buf, 1, len, stderr);
}
