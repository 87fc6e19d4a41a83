/*
 * log.h — the operator's log on stderr (not the audit log).
 *
 * One line per message with a level and time. Never pass a secret or a
 * prompt to these functions: the audit log is the place for request data.
 */
#ifndef LX_LOG_H
#define LX_LOG_H

enum lx_log_level { LX_LOG_DEBUG, LX_LOG_INFO, LX_LOG_WARN, LX_LOG_ERROR, LX_LOG_OFF };

void lx_log_set_level(enum lx_log_level level);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int lx_log_parse_level(const char *name);
void lx_log(enum lx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lx_log_debug(...) lx_log(LX_LOG_DEBUG, __VA_ARGS__)
#define lx_log_info(...) lx_log(LX_LOG_INFO, __VA_ARGS__)
#define lx_log_warn(...) lx_log(LX_LOG_WARN, __VA_ARGS__)
#define lx_log_error(...) lx_log(LX_LOG_ERROR, __VA_ARGS__)

#endif
