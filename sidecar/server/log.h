/* log.h - leveled log lines on stderr; stdout carries frames only. */
#ifndef SC_LOG_H
#define SC_LOG_H

typedef enum sc_log_level { SC_LOG_ERROR, SC_LOG_WARN, SC_LOG_INFO, SC_LOG_DEBUG } sc_log_level_t;

void sc_log_set_level(sc_log_level_t level);
sc_log_level_t sc_log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int sc_log_parse_level(const char *name);
void sc_log(sc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sc_error(...) sc_log(SC_LOG_ERROR, __VA_ARGS__)
#define sc_warn(...) sc_log(SC_LOG_WARN, __VA_ARGS__)
#define sc_info(...) sc_log(SC_LOG_INFO, __VA_ARGS__)
#define sc_debug(...) sc_log(SC_LOG_DEBUG, __VA_ARGS__)

#endif
