/* buf.c — see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

void lx_buf_init(lx_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void lx_buf_release(lx_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

int lx_buf_reserve(lx_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return LX_ERR;
    size_t need = b->len + extra + 1; /* +1 for the NUL */
    if (need <= b->alloc)
        return LX_OK;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need)
        n *= 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    char *p = realloc(b->data, n);
    if (p == NULL)
        return LX_ERR;
    b->data = p;
    b->alloc = n;
    return LX_OK;
}

int lx_buf_append(lx_buf *b, const void *p, size_t n)
{
    if (lx_buf_reserve(b, n) != LX_OK)
        return LX_ERR;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return LX_OK;
}

int lx_buf_append_str(lx_buf *b, lx_str s)
{
    return lx_buf_append(b, s.ptr, s.len);
}

int lx_buf_append_cstr(lx_buf *b, const char *s)
{
    return lx_buf_append(b, s, strlen(s));
}

int lx_buf_append_char(lx_buf *b, char c)
{
    return lx_buf_append(b, &c, 1);
}

int lx_buf_printf(lx_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || lx_buf_reserve(b, (size_t)n) != LX_OK)
        return LX_ERR;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LX_OK;
}

void lx_buf_consume(lx_buf *b, size_t n)
{
    if (n >= b->len) {
        lx_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *lx_buf_detach(lx_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
