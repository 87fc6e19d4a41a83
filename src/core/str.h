/*
 * str.h — a string view: a pointer and a length into bytes owned elsewhere.
 *
 * A view never owns its bytes; it is valid as long as the buffer it points
 * into. Views are not NUL-terminated.
 */
#ifndef LX_STR_H
#define LX_STR_H

#include <string.h>
#include "core.h"

typedef struct lx_str {
    const char *ptr;
    size_t len;
} lx_str;

#define LX_STR_LIT(s) ((lx_str){(s), sizeof(s) - 1})
#define LX_STR_NULL ((lx_str){NULL, 0})

static inline lx_str lx_str_from_cstr(const char *s)
{
    return (lx_str){s, s ? strlen(s) : 0};
}

static inline bool lx_str_eq(lx_str a, lx_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool lx_str_eq_cstr(lx_str a, const char *b)
{
    return lx_str_eq(a, lx_str_from_cstr(b));
}

static inline bool lx_str_starts_with(lx_str a, lx_str prefix)
{
    return a.len >= prefix.len && memcmp(a.ptr, prefix.ptr, prefix.len) == 0;
}

#endif
