/*
 * core.h — return codes shared by every module.
 *
 * Functions return LX_OK on success, LX_ERR on failure and LX_AGAIN when the
 * caller should retry once more input or room is available. Modules with
 * richer failures define their own enum with a _strerror().
 */
#ifndef LX_CORE_H
#define LX_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum { LX_OK = 0, LX_ERR = -1, LX_AGAIN = -2 };

#define LX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LX_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
