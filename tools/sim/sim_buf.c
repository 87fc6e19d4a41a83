/*
 * sim_buf.c - capped growable buffer and JSON string escaping (see sim_buf.h).
 */
#include "sim_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_buf_init(struct sim_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->failed = 0;
}

void sim_buf_release(struct sim_buf *b)
{
    free(b->data);
    sim_buf_init(b, b->max);
}

void sim_buf_reset(struct sim_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int buf_grow(struct sim_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (b->failed || extra > b->max - b->len) {
        b->failed = 1;
        return SIM_ERR;
    }
    if (need <= b->cap)
        return SIM_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return SIM_ERR;
    }
    b->data = p;
    b->cap = cap;
    return SIM_OK;
}

int sim_buf_append(struct sim_buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n) != SIM_OK)
        return SIM_ERR;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SIM_OK;
}

int sim_buf_puts(struct sim_buf *b, const char *s)
{
    return sim_buf_append(b, s, strlen(s));
}

int sim_buf_printf(struct sim_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return SIM_ERR;
    }
    if ((size_t)n < sizeof(small))
        return sim_buf_append(b, small, (size_t)n);
    if (buf_grow(b, (size_t)n) != SIM_OK)
        return SIM_ERR;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SIM_OK;
}

/* Returns the escape sequence for byte c, or NULL when c can be copied as is. */
static const char *json_escape_of(unsigned char c, char tmp[8])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        break;
    }
    if (c >= 0x20)
        return NULL;
    snprintf(tmp, 8, "\\u%04x", c);
    return tmp;
}

int sim_buf_json_esc(struct sim_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    char tmp[8];
    for (size_t i = 0; i < n; i++) {
        const char *esc = json_escape_of((unsigned char)s[i], tmp);
        if (esc == NULL)
            continue;
        sim_buf_append(b, s + run, i - run);
        sim_buf_puts(b, esc);
        run = i + 1;
    }
    return sim_buf_append(b, s + run, n - run);
}

int sim_buf_json_str(struct sim_buf *b, const char *s, size_t n)
{
    sim_buf_append(b, "\"", 1);
    sim_buf_json_esc(b, s, n);
    return sim_buf_append(b, "\"", 1);
}

int sim_buf_failed(const struct sim_buf *b)
{
    return b->failed;
}

char *sim_buf_detach(struct sim_buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    sim_buf_init(b, b->max);
    return p;
}
