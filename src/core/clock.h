/*
 * clock.h — monotonic and wall-clock time in the units the gateway logs.
 */
#ifndef LX_CLOCK_H
#define LX_CLOCK_H

#include <stdint.h>

/* Monotonic time in microseconds, for latencies. */
uint64_t lx_clock_mono_us(void);
/* Wall-clock time in milliseconds since the epoch, for log records. */
uint64_t lx_clock_wall_ms(void);
/* Writes an RFC 3339 UTC timestamp with milliseconds (24 chars + NUL) into out[32]. */
void lx_clock_format_rfc3339(uint64_t wall_ms, char out[32]);

#endif
