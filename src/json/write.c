/*
 * write.c — the streaming JSON writer and string escaping (see json.h).
 */
#include "json.h"

#include <math.h>
#include <stdio.h>

int lx_json_escape(lx_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (lx_buf_append(out, s + run, i - run) != LX_OK)
            return LX_ERR;
        char esc[6] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            elen = 6;
        }
        if (lx_buf_append(out, esc, elen) != LX_OK)
            return LX_ERR;
        run = i + 1;
    }
    return lx_buf_append(out, s + run, n - run);
}

void lx_jw_init(lx_jw *w, lx_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->failed = false;
    w->need_comma[0] = false;
    w->after_key = false;
}

static void put(lx_jw *w, const char *s, size_t n)
{
    if (!w->failed && lx_buf_append(w->out, s, n) != LX_OK)
        w->failed = true;
}

/* Writes the separator a new value needs at the current position. */
static void before_value(lx_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth])
        put(w, ",", 1);
    w->need_comma[w->depth] = true;
}

static void open(lx_jw *w, char c)
{
    before_value(w);
    put(w, &c, 1);
    if (w->depth + 1 >= LX_JW_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->need_comma[++w->depth] = false;
}

static void close_(lx_jw *w, char c)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    w->depth--;
    put(w, &c, 1);
}

void lx_jw_obj_open(lx_jw *w)
{
    open(w, '{');
}

void lx_jw_obj_close(lx_jw *w)
{
    close_(w, '}');
}

void lx_jw_arr_open(lx_jw *w)
{
    open(w, '[');
}

void lx_jw_arr_close(lx_jw *w)
{
    close_(w, ']');
}

void lx_jw_key(lx_jw *w, const char *key)
{
    before_value(w);
    put(w, "\"", 1);
    if (!w->failed && lx_json_escape(w->out, key, strlen(key)) != LX_OK)
        w->failed = true;
    put(w, "\":", 2);
    w->after_key = true;
}

void lx_jw_str(lx_jw *w, const char *s, size_t n)
{
    before_value(w);
    put(w, "\"", 1);
    if (!w->failed && lx_json_escape(w->out, s, n) != LX_OK)
        w->failed = true;
    put(w, "\"", 1);
}

void lx_jw_cstr(lx_jw *w, const char *s)
{
    if (s == NULL)
        lx_jw_null(w);
    else
        lx_jw_str(w, s, strlen(s));
}

void lx_jw_raw(lx_jw *w, const char *s, size_t n)
{
    before_value(w);
    put(w, s, n);
}

void lx_jw_member_raw(lx_jw *w, const char *key, lx_str v)
{
    if (v.len == 0)
        return;
    lx_jw_key(w, key);
    lx_jw_raw(w, v.ptr, v.len);
}

void lx_jw_int(lx_jw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%lld", (long long)v);
    lx_jw_raw(w, b, (size_t)n);
}

void lx_jw_uint(lx_jw *w, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    lx_jw_raw(w, b, (size_t)n);
}

void lx_jw_double(lx_jw *w, double v)
{
    if (!isfinite(v)) {
        lx_jw_null(w); /* JSON has no NaN or infinity */
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof(b), "%.17g", v);
    lx_jw_raw(w, b, (size_t)n);
}

void lx_jw_bool(lx_jw *w, bool v)
{
    lx_jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void lx_jw_null(lx_jw *w)
{
    lx_jw_raw(w, "null", 4);
}

bool lx_jw_ok(const lx_jw *w)
{
    return !w->failed && w->depth == 0;
}
