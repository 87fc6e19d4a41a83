/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

static enum lx_log_level current_level = LX_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void lx_log_set_level(enum lx_log_level level)
{
    current_level = level;
}

int lx_log_parse_level(const char *name)
{
    for (int i = 0; i <= LX_LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void lx_log(enum lx_log_level level, const char *fmt, ...)
{
    if (level < current_level)
        return;
    char ts[32], msg[1024];
    lx_clock_format_rfc3339(lx_clock_wall_ms(), ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s llmux %s: %s\n", ts, level_names[level], msg);
}
