/* clock.c — see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lx_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t lx_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lx_clock_format_rfc3339(uint64_t wall_ms, char out[32])
{
    /* every log line of a second shares its first 20 characters: format
     * them once per second and thread */
    static _Thread_local uint64_t cached_sec = UINT64_MAX;
    static _Thread_local char cached[32];
    if (wall_ms / 1000u == cached_sec) {
        unsigned ms = (unsigned)(wall_ms % 1000u);
        memcpy(out, cached, 32);
        out[20] = (char)('0' + ms / 100);
        out[21] = (char)('0' + ms / 10 % 10);
        out[22] = (char)('0' + ms % 10);
        return;
    }
    time_t secs = (time_t)(wall_ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char tmp[80]; /* roomy enough for any int the compiler imagines */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(wall_ms % 1000u));
    memcpy(out, tmp, 31);
    out[31] = '\0';
    if (strlen(out) == 24) { /* the usual 4-digit year: cacheable */
        memcpy(cached, out, 32);
        cached_sec = wall_ms / 1000u;
    }
}
