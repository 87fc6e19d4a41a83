/*
 * buf.h — a growable byte buffer with a hard cap.
 *
 * The cap is given at init; an append that would pass it fails with LX_ERR
 * and leaves the buffer unchanged, so no input can grow a buffer forever.
 * The buffer owns its heap memory; lx_buf_release() frees it. The bytes are
 * always followed by a NUL (not counted in len) so they can be used as a C
 * string when they hold text.
 */
#ifndef LX_BUF_H
#define LX_BUF_H

#include <stdarg.h>
#include "core.h"
#include "str.h"

typedef struct lx_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* never hold more than this many bytes */
} lx_buf;

/* Initialises an empty buffer that may hold up to cap bytes. */
void lx_buf_init(lx_buf *b, size_t cap);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void lx_buf_release(lx_buf *b);
/* Ensures room for extra more bytes. LX_ERR past the cap or out of memory. */
int lx_buf_reserve(lx_buf *b, size_t extra);
int lx_buf_append(lx_buf *b, const void *p, size_t n);
int lx_buf_append_str(lx_buf *b, lx_str s);
int lx_buf_append_cstr(lx_buf *b, const char *s);
int lx_buf_append_char(lx_buf *b, char c);
int lx_buf_printf(lx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void lx_buf_consume(lx_buf *b, size_t n);
static inline void lx_buf_reset(lx_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
static inline lx_str lx_buf_str(const lx_buf *b)
{
    return (lx_str){b->data, b->len};
}
/* Hands the heap bytes to the caller (free() them); the buffer becomes empty. */
char *lx_buf_detach(lx_buf *b, size_t *len);

#endif
