/*
 * sse.c — see sse.h. Follows the WHATWG "event stream interpretation"
 * rules for LF and CRLF line ends: a blank line dispatches, "data:" lines
 * accumulate joined by LF, one space after the colon is dropped.
 */
#include "sse.h"

void lx_sse_init(lx_sse_reader *r, size_t max_event_bytes)
{
    lx_buf_init(&r->line, max_event_bytes + 8); /* room for the field name */
    lx_buf_init(&r->data, max_event_bytes);
    lx_buf_init(&r->event, 256);
    r->has_data = false;
}

void lx_sse_release(lx_sse_reader *r)
{
    lx_buf_release(&r->line);
    lx_buf_release(&r->data);
    lx_buf_release(&r->event);
}

void lx_sse_reset(lx_sse_reader *r)
{
    lx_buf_reset(&r->line);
    lx_buf_reset(&r->data);
    lx_buf_reset(&r->event);
    r->has_data = false;
}

bool lx_sse_pending(const lx_sse_reader *r)
{
    return r->line.len > 0 || r->has_data;
}

static int dispatch(lx_sse_reader *r, lx_sse_fn fn, void *data)
{
    if (!r->has_data) {
        lx_buf_reset(&r->event);
        return LX_OK;
    }
    lx_sse_event ev = {LX_SSE_EVENT, lx_buf_str(&r->event), lx_buf_str(&r->data)};
    int rc = fn(data, &ev);
    lx_buf_reset(&r->data);
    lx_buf_reset(&r->event);
    r->has_data = false;
    return rc;
}

static int field(lx_sse_reader *r, lx_str line, lx_sse_fn fn, void *data)
{
    if (line.len == 0)
        return dispatch(r, fn, data);
    if (line.ptr[0] == ':') {
        lx_sse_event ev = {LX_SSE_COMMENT, LX_STR_NULL, {line.ptr + 1, line.len - 1}};
        return fn(data, &ev);
    }
    const char *colon = memchr(line.ptr, ':', line.len);
    lx_str name = {line.ptr, colon ? (size_t)(colon - line.ptr) : line.len};
    lx_str value = LX_STR_NULL;
    if (colon) {
        value.ptr = colon + 1;
        value.len = line.len - name.len - 1;
        if (value.len && value.ptr[0] == ' ')
            value.ptr++, value.len--;
    }
    if (lx_str_eq_cstr(name, "data")) {
        if (r->has_data && lx_buf_append_char(&r->data, '\n') != LX_OK)
            return LX_ERR;
        r->has_data = true;
        return lx_buf_append_str(&r->data, value);
    }
    if (lx_str_eq_cstr(name, "event")) {
        lx_buf_reset(&r->event);
        return lx_buf_append_str(&r->event, value);
    }
    return LX_OK; /* id, retry and unknown fields do not matter to a relay */
}

int lx_sse_feed(lx_sse_reader *r, const char *p, size_t n, lx_sse_fn fn, void *data)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        if (nl == NULL)
            return lx_buf_append(&r->line, p + i, n - i);
        lx_str line = {p + i, (size_t)(nl - (p + i))};
        if (r->line.len) {
            if (lx_buf_append_str(&r->line, line) != LX_OK)
                return LX_ERR;
            line = lx_buf_str(&r->line);
        }
        if (line.len > r->line.cap)
            return LX_ERR; /* the same cap whether a line came whole or in pieces */
        if (line.len && line.ptr[line.len - 1] == '\r')
            line.len--;
        int rc = field(r, line, fn, data);
        lx_buf_reset(&r->line);
        if (rc != LX_OK)
            return rc;
        i = (size_t)(nl - p) + 1;
    }
    return LX_OK;
}
