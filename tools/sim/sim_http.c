/*
 * sim_http.c - HTTP/1.1 server on libuv (see sim_http.h).
 *
 * Each connection owns one input buffer. The request head is searched for incrementally (the
 * search resumes where the last read ended), a Content-Length body is waited for in place, and
 * a chunked body is decoded in place by a byte state machine that can stop at any byte. While a
 * request is open the connection keeps reading, only to notice the peer closing (RFC 9112
 * section 9.6: a client may close at any time; that is how a gateway cancels a stream).
 *
 * The buffer grows with realloc (on_alloc), so it can move at any read: between the head and
 * the end of the body, and while the request is open (pipelined bytes keep arriving). The parser
 * therefore keeps only offsets into it (struct head_span); the pointers of the public view
 * (struct sim_http_req) are made from them when the request is dispatched (req_bind), and made
 * again whenever the buffer moves while the request is open.
 */
#define _GNU_SOURCE /* memmem */
#include "sim_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IN_INITIAL (16 * 1024)
#define IN_MIN_FREE (4 * 1024)
#define IN_MAX (SIM_HTTP_MAX_HEAD + SIM_HTTP_MAX_BODY + 64 * 1024)
#define WRITE_HEAD_MAX 1024
/* pipelined bytes buffered while a request is open; past this, reading pauses until it ends */
#define PIPELINE_MAX SIM_HTTP_MAX_HEAD

enum conn_state {
    CONN_HEAD,     /* reading the request line and headers */
    CONN_BODY,     /* reading a Content-Length body */
    CONN_CHUNKED,  /* decoding a chunked body */
    CONN_BUSY,     /* request handed to the handler, response not finished */
    CONN_FLUSHING, /* response finished, waiting for the writes to complete */
    CONN_CLOSING   /* uv_close requested */
};

enum chunk_state {
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START,
    CH_TRAILER_LINE,
    CH_END_LF
};

enum parse_rc { PARSE_DONE, PARSE_AGAIN, PARSE_FAILED };

struct sim_http_server {
    uv_tcp_t listener;
    struct sim_http_handler h;
    void *ctx;
    struct sim_http_conn *conns;
};

/* Where one header line's parts are, as offsets into the connection's buffer. */
struct head_span {
    size_t name_off;
    size_t value_off;
};

struct sim_http_conn {
    uv_tcp_t tcp;
    struct sim_http_server *srv;
    struct sim_http_conn *prev, *next;
    char *in;
    size_t in_len, in_cap;
    size_t scan;     /* where the search for the end of the head resumes */
    size_t head_len; /* request line + headers + blank line */
    size_t body_len; /* Content-Length, or decoded bytes so far */
    size_t consumed; /* bytes of the current request, pipelined bytes follow */
    size_t rd, wr;   /* chunked decoder: raw read offset, decoded write offset */
    size_t chunk_left;
    int chunk_digits;
    enum chunk_state chunk;
    enum conn_state state;
    int keep_alive;
    int http10;
    int chunked_out;
    int streaming;
    int pending_writes;
    int read_paused; /* reading stopped: PIPELINE_MAX pipelined bytes are waiting */
    void *job;
    /* the parsed head as offsets into in (lengths are in req); req's pointers are made from
     * these by req_bind and are only valid from dispatch until the response ends */
    size_t method_off, path_off;
    struct head_span hspan[SIM_HTTP_MAX_HEADERS];
    struct sim_http_req req;
};

struct http_write {
    uv_write_t req;
    struct sim_http_conn *conn;
    char *owned; /* freed when the write completes */
    char head[WRITE_HEAD_MAX];
};

static void conn_parse(struct sim_http_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static const char *status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- connection lifetime ---- */

static void on_conn_closed(uv_handle_t *h)
{
    struct sim_http_conn *c = h->data;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->in);
    free(c);
}

static void conn_close(struct sim_http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->job = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* The peer closed or a socket error happened: cancel the open request, then close. */
static void conn_peer_gone(struct sim_http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    void *job = c->job;
    int open = c->state == CONN_BUSY;
    c->job = NULL;
    if (open)
        c->srv->h.on_cancel(c->srv->ctx, c, job);
    conn_close(c);
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
    struct http_write *w = (struct http_write *)req;
    struct sim_http_conn *c = w->conn;
    free(w->owned);
    free(w);
    c->pending_writes--;
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        conn_peer_gone(c);
        return;
    }
    if (c->pending_writes > 0)
        return;
    if (c->state == CONN_FLUSHING) {
        if (!c->keep_alive) {
            conn_close(c);
            return;
        }
        memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
        c->in_len -= c->consumed;
        c->consumed = 0;
        c->state = CONN_HEAD;
        c->scan = 0;
        if (c->read_paused) {
            c->read_paused = 0;
            if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
                conn_close(c);
                return;
            }
        }
        conn_parse(c);
    } else if (c->state == CONN_BUSY && c->streaming) {
        c->srv->h.on_drain(c->srv->ctx, c, c->job);
    }
}

/* Queues w's head (head_len bytes) followed by body and tail; w takes over owned. */
static void conn_write(struct sim_http_conn *c, struct http_write *w, size_t head_len,
                       const char *body, size_t body_len, const char *tail)
{
    uv_buf_t bufs[3];
    unsigned n = 0;
    if (head_len > 0)
        bufs[n++] = uv_buf_init(w->head, (unsigned)head_len);
    if (body_len > 0)
        bufs[n++] = uv_buf_init((char *)body, (unsigned)body_len);
    if (tail != NULL)
        bufs[n++] = uv_buf_init((char *)tail, (unsigned)strlen(tail));
    w->conn = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, on_written) != 0) {
        /* only happens on a closing handle; the close path reports the loss */
        free(w->owned);
        free(w);
        return;
    }
    c->pending_writes++;
}

static struct http_write *write_new(char *owned)
{
    struct http_write *w = malloc(sizeof(*w));
    if (w == NULL) {
        free(owned);
        return NULL;
    }
    w->owned = owned;
    return w;
}

static void conn_end_request(struct sim_http_conn *c)
{
    c->job = NULL;
    c->streaming = 0;
    c->state = CONN_FLUSHING;
    if (c->pending_writes == 0)
        conn_close(c); /* nothing could be queued: the connection is unusable */
}

static const char *connection_header(const struct sim_http_conn *c)
{
    if (!c->keep_alive)
        return "Connection: close\r\n";
    return c->http10 ? "Connection: keep-alive\r\n" : "";
}

void sim_http_respond(struct sim_http_conn *c, int status, const char *content_type,
                      const char *extra_headers, struct sim_buf *body)
{
    size_t len = 0;
    char *data = sim_buf_detach(body, &len);
    if (c->state == CONN_CLOSING) {
        free(data);
        return;
    }
    struct http_write *w = write_new(data);
    if (w != NULL) {
        int n = snprintf(w->head, WRITE_HEAD_MAX,
                         "HTTP/1.%d %d %s\r\nServer: llmux-sim\r\nContent-Type: %s\r\n"
                         "Content-Length: %zu\r\n%s%s\r\n",
                         c->http10 ? 0 : 1, status, status_reason(status), content_type, len,
                         extra_headers, connection_header(c));
        if (n < 0 || n >= WRITE_HEAD_MAX)
            n = 0;
        conn_write(c, w, (size_t)n, data, len, NULL);
    }
    conn_end_request(c);
}

void sim_http_stream_begin(struct sim_http_conn *c, int status)
{
    if (c->state != CONN_BUSY)
        return;
    struct http_write *w = write_new(NULL);
    if (w == NULL)
        return;
    c->streaming = 1;
    c->chunked_out = !c->http10;
    if (c->http10)
        c->keep_alive = 0;
    int n = snprintf(w->head, WRITE_HEAD_MAX,
                     "HTTP/1.%d %d %s\r\nServer: llmux-sim\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n%s%s\r\n",
                     c->http10 ? 0 : 1, status, status_reason(status),
                     c->chunked_out ? "Transfer-Encoding: chunked\r\n" : "", connection_header(c));
    conn_write(c, w, (size_t)n, NULL, 0, NULL);
}

void sim_http_stream_send(struct sim_http_conn *c, struct sim_buf *data)
{
    size_t len = 0;
    char *p = sim_buf_detach(data, &len);
    if (c->state != CONN_BUSY || len == 0) {
        free(p);
        return;
    }
    struct http_write *w = write_new(p);
    if (w == NULL)
        return;
    size_t n = 0;
    if (c->chunked_out)
        n = (size_t)snprintf(w->head, WRITE_HEAD_MAX, "%zx\r\n", len);
    conn_write(c, w, n, p, len, c->chunked_out ? "\r\n" : NULL);
}

void sim_http_stream_end(struct sim_http_conn *c)
{
    if (c->state != CONN_BUSY)
        return;
    if (!c->chunked_out) {
        c->keep_alive = 0;
    } else {
        struct http_write *w = write_new(NULL);
        if (w != NULL)
            conn_write(c, w, 0, NULL, 0, "0\r\n\r\n");
    }
    conn_end_request(c);
}

void sim_http_abort(struct sim_http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->job = NULL;
    if (uv_tcp_close_reset(&c->tcp, on_conn_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void sim_http_set_job(struct sim_http_conn *c, void *job)
{
    c->job = job;
}

/* ---- request parsing ---- */

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Returns non-zero when the comma-separated header value contains token (any case). */
static int value_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= n; i++) {
        if (strncasecmp(v + i, token, tl) == 0)
            return 1;
    }
    return 0;
}

const char *sim_http_req_header(const struct sim_http_req *r, const char *name, size_t *len)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (name_is(r->headers[i].name, r->headers[i].name_len, name)) {
            *len = r->headers[i].value_len;
            return r->headers[i].value;
        }
    }
    return NULL;
}

int sim_http_req_is(const struct sim_http_req *r, const char *m, const char *path)
{
    return name_is(r->method, r->method_len, m) && strlen(path) == r->path_len &&
           memcmp(r->path, path, r->path_len) == 0;
}

/* Answers an error the HTTP layer found itself and closes after it. */
static void conn_fail(struct sim_http_conn *c, int status, const char *msg)
{
    struct sim_buf body;
    sim_buf_init(&body, 4096);
    c->srv->h.error_body(c->srv->ctx, status, msg, &body);
    c->keep_alive = 0;
    c->state = CONN_BUSY;
    sim_http_respond(c, status, "application/json; charset=utf-8", "", &body);
}

/* Parses "METHOD SP target SP HTTP/1.x"; returns the end of the line or NULL. */
static const char *parse_request_line(struct sim_http_conn *c, const char *p, const char *end)
{
    struct sim_http_req *r = &c->req;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL || sp == p)
        return NULL;
    c->method_off = (size_t)(p - c->in);
    r->method_len = (size_t)(sp - p);
    const char *t = sp + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 == NULL || sp2 == t || end - sp2 < 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return NULL;
    const char *q = memchr(t, '?', (size_t)(sp2 - t));
    c->path_off = (size_t)(t - c->in);
    r->path_len = (size_t)((q != NULL ? q : sp2) - t);
    c->http10 = sp2[8] == '0';
    c->keep_alive = !c->http10;
    return sp2 + 9;
}

struct head_info {
    long long content_length; /* -1 when absent */
    int chunked;
    int expect_continue;
};

/* Applies what one header means to the framing of the request. Returns SIM_ERR on a bad one. */
static int note_header(struct sim_http_conn *c, const struct sim_http_header *h,
                       struct head_info *hi)
{
    if (name_is(h->name, h->name_len, "content-length")) {
        long long v = 0;
        if (h->value_len == 0 || h->value_len > 12)
            return SIM_ERR;
        for (size_t i = 0; i < h->value_len; i++) {
            if (h->value[i] < '0' || h->value[i] > '9')
                return SIM_ERR;
            v = v * 10 + (h->value[i] - '0');
        }
        if (hi->content_length >= 0 && hi->content_length != v)
            return SIM_ERR;
        hi->content_length = v;
    } else if (name_is(h->name, h->name_len, "transfer-encoding")) {
        hi->chunked = value_has_token(h->value, h->value_len, "chunked");
    } else if (name_is(h->name, h->name_len, "connection")) {
        if (value_has_token(h->value, h->value_len, "close"))
            c->keep_alive = 0;
        else if (value_has_token(h->value, h->value_len, "keep-alive"))
            c->keep_alive = 1;
    } else if (name_is(h->name, h->name_len, "expect")) {
        hi->expect_continue = value_has_token(h->value, h->value_len, "100-continue");
    }
    return SIM_OK;
}

/* Parses one "name: value" line in [p, eol). Returns SIM_ERR on a malformed one. */
static int parse_header_line(const char *p, const char *eol, struct sim_http_header *h)
{
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon == NULL || colon == p)
        return SIM_ERR;
    for (const char *n = p; n < colon; n++) {
        if (*n == ' ' || *n == '\t')
            return SIM_ERR;
    }
    const char *v = colon + 1;
    while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = eol;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    h->name = p;
    h->name_len = (size_t)(colon - p);
    h->value = v;
    h->value_len = (size_t)(ve - v);
    return SIM_OK;
}

/* Parses the header block [p, end) where end points at the final CRLF CRLF. Records each
 * header as offsets (c->hspan) and lengths (c->req.headers), never as pointers: the buffer may
 * move before the request is dispatched. */
static int parse_headers(struct sim_http_conn *c, const char *p, const char *end,
                         struct head_info *hi)
{
    struct sim_http_req *r = &c->req;
    r->nheaders = 0;
    while (p < end) {
        p += 2; /* CRLF ending the previous line */
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (eol == NULL || eol == p)
            break;
        if (r->nheaders == SIM_HTTP_MAX_HEADERS) {
            conn_fail(c, 431, "too many request headers");
            return SIM_ERR;
        }
        struct sim_http_header h;
        if (parse_header_line(p, eol, &h) != SIM_OK || note_header(c, &h, hi) != SIM_OK) {
            conn_fail(c, 400, "malformed request header");
            return SIM_ERR;
        }
        c->hspan[r->nheaders].name_off = (size_t)(h.name - c->in);
        c->hspan[r->nheaders].value_off = (size_t)(h.value - c->in);
        r->headers[r->nheaders].name = NULL;
        r->headers[r->nheaders].name_len = h.name_len;
        r->headers[r->nheaders].value = NULL;
        r->headers[r->nheaders].value_len = h.value_len;
        r->nheaders++;
        p = eol;
    }
    return SIM_OK;
}

/* Sets up reading of the body the head announced. */
static enum parse_rc start_body(struct sim_http_conn *c, const struct head_info *hi)
{
    c->body_len = 0;
    if (hi->chunked) {
        c->rd = c->wr = c->head_len;
        c->chunk = CH_SIZE;
        c->chunk_left = 0;
        c->chunk_digits = 0;
        c->state = CONN_CHUNKED;
    } else {
        if (hi->content_length > SIM_HTTP_MAX_BODY) {
            conn_fail(c, 413, "request body too large");
            return PARSE_FAILED;
        }
        c->body_len = hi->content_length > 0 ? (size_t)hi->content_length : 0;
        c->state = CONN_BODY;
    }
    int complete = c->state == CONN_BODY && c->in_len - c->head_len >= c->body_len;
    if (hi->expect_continue && !complete && !c->http10) {
        struct http_write *w = write_new(NULL);
        if (w != NULL) {
            memcpy(w->head, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            conn_write(c, w, 25, NULL, 0, NULL);
        }
    }
    return PARSE_DONE;
}

static enum parse_rc parse_head(struct sim_http_conn *c)
{
    while (c->in_len >= 2 && c->in[0] == '\r' && c->in[1] == '\n') {
        memmove(c->in, c->in + 2, c->in_len - 2); /* stray CRLF between requests */
        c->in_len -= 2;
    }
    size_t from = c->scan <= c->in_len ? c->scan : 0;
    const char *end = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->in_len > SIM_HTTP_MAX_HEAD) {
            conn_fail(c, 431, "request head too large");
            return PARSE_FAILED;
        }
        c->scan = c->in_len > 3 ? c->in_len - 3 : 0;
        return PARSE_AGAIN;
    }
    c->head_len = (size_t)(end - c->in) + 4;
    if (c->head_len > SIM_HTTP_MAX_HEAD) { /* a whole oversized head can come in one read */
        conn_fail(c, 431, "request head too large");
        return PARSE_FAILED;
    }
    const char *p = parse_request_line(c, c->in, end + 2);
    if (p == NULL) {
        conn_fail(c, 400, "malformed request line");
        return PARSE_FAILED;
    }
    struct head_info hi = {-1, 0, 0};
    if (parse_headers(c, p, end, &hi) != SIM_OK)
        return PARSE_FAILED;
    return start_body(c, &hi);
}

/* One byte of chunk framing (everything but chunk data). */
static enum parse_rc chunk_byte(struct sim_http_conn *c, char ch)
{
    switch (c->chunk) {
    case CH_SIZE: {
        int v = (ch >= '0' && ch <= '9')   ? ch - '0'
                : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                           : -1;
        if (v >= 0 && c->chunk_left <= SIM_HTTP_MAX_BODY) {
            c->chunk_left = c->chunk_left * 16 + (size_t)v;
            c->chunk_digits++;
        } else if (v < 0 && c->chunk_digits > 0 && (ch == ';' || ch == ' ' || ch == '\t')) {
            c->chunk = CH_EXT;
        } else if (v < 0 && c->chunk_digits > 0 && ch == '\r') {
            c->chunk = CH_SIZE_LF;
        } else {
            return PARSE_FAILED;
        }
        return PARSE_AGAIN;
    }
    case CH_EXT:
        if (ch == '\r')
            c->chunk = CH_SIZE_LF;
        return PARSE_AGAIN;
    case CH_SIZE_LF:
        if (ch != '\n')
            return PARSE_FAILED;
        c->chunk = c->chunk_left == 0 ? CH_TRAILER_START : CH_DATA;
        return PARSE_AGAIN;
    case CH_DATA_CR:
        c->chunk = CH_DATA_LF;
        return ch == '\r' ? PARSE_AGAIN : PARSE_FAILED;
    case CH_DATA_LF:
        c->chunk = CH_SIZE;
        c->chunk_digits = 0;
        return ch == '\n' ? PARSE_AGAIN : PARSE_FAILED;
    case CH_TRAILER_START:
        c->chunk = ch == '\r' ? CH_END_LF : CH_TRAILER_LINE;
        return PARSE_AGAIN;
    case CH_TRAILER_LINE:
        if (ch == '\n')
            c->chunk = CH_TRAILER_START;
        return PARSE_AGAIN;
    case CH_END_LF:
        return ch == '\n' ? PARSE_DONE : PARSE_FAILED;
    default:
        return PARSE_FAILED;
    }
}

/* Decodes as much of a chunked body as has arrived, in place. */
static enum parse_rc parse_chunked(struct sim_http_conn *c)
{
    while (c->rd < c->in_len) {
        if (c->chunk == CH_DATA) {
            size_t n = c->in_len - c->rd;
            if (n > c->chunk_left)
                n = c->chunk_left;
            memmove(c->in + c->wr, c->in + c->rd, n);
            c->wr += n;
            c->rd += n;
            c->chunk_left -= n;
            if (c->chunk_left == 0)
                c->chunk = CH_DATA_CR;
            if (c->wr - c->head_len > SIM_HTTP_MAX_BODY) {
                conn_fail(c, 413, "request body too large");
                return PARSE_FAILED;
            }
            continue;
        }
        enum parse_rc rc = chunk_byte(c, c->in[c->rd++]);
        if (rc == PARSE_FAILED) {
            conn_fail(c, 400, "malformed chunked body");
            return rc;
        }
        if (rc == PARSE_DONE) {
            c->body_len = c->wr - c->head_len;
            return PARSE_DONE;
        }
    }
    c->in_len = c->wr; /* everything read is decoded: drop the framing bytes */
    c->rd = c->wr;
    return PARSE_AGAIN;
}

/* (Re)makes the request view's pointers from the parsed offsets and the buffer's address. */
static void req_bind(struct sim_http_conn *c)
{
    struct sim_http_req *r = &c->req;
    r->method = c->in + c->method_off;
    r->path = c->in + c->path_off;
    for (size_t i = 0; i < r->nheaders; i++) {
        r->headers[i].name = c->in + c->hspan[i].name_off;
        r->headers[i].value = c->in + c->hspan[i].value_off;
    }
    r->body = c->in + c->head_len;
}

static void conn_dispatch(struct sim_http_conn *c)
{
    req_bind(c);
    c->req.body_len = c->body_len;
    c->state = CONN_BUSY;
    c->job = NULL;
    c->srv->h.on_request(c->srv->ctx, c, &c->req);
}

/* Advances the request parser over the buffered bytes; dispatches a complete request. */
static void conn_parse(struct sim_http_conn *c)
{
    if (c->state == CONN_HEAD) {
        if (c->in_len == 0 || parse_head(c) != PARSE_DONE)
            return;
    }
    if (c->state == CONN_BODY) {
        if (c->in_len - c->head_len < c->body_len)
            return;
        c->consumed = c->head_len + c->body_len;
        conn_dispatch(c);
    } else if (c->state == CONN_CHUNKED) {
        if (parse_chunked(c) != PARSE_DONE)
            return;
        c->consumed = c->rd;
        conn_dispatch(c);
    }
}

/* ---- reading and accepting ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sim_http_conn *c = h->data;
    if (c->in_cap - c->in_len < IN_MIN_FREE && c->in_cap < IN_MAX) {
        size_t cap = c->in_cap * 2 > IN_MAX ? IN_MAX : c->in_cap * 2;
        char *p = realloc(c->in, cap);
        if (p != NULL) {
            int moved = p != c->in;
            c->in = p;
            c->in_cap = cap;
            if (moved && c->state == CONN_BUSY)
                req_bind(c); /* the open request's view must follow the buffer */
        }
    }
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct sim_http_conn *c = st->data;
    if (n < 0) {
        conn_peer_gone(c);
        return;
    }
    if (c->state == CONN_CLOSING)
        return;
    if (c->state == CONN_HEAD || c->state == CONN_BODY || c->state == CONN_CHUNKED) {
        c->in_len += (size_t)n;
        conn_parse(c);
    } else if (!c->keep_alive) {
        /* a response is open or flushing and the connection closes after it: what follows
         * will never be served (the rest of a refused body, say); drop it, keep reading */
    } else {
        /* pipelined bytes while a response is open: keep them for after it, up to a bound,
         * then let TCP push back (the peer closing goes unnoticed until reading resumes) */
        c->in_len += (size_t)n;
        if (c->in_len - c->consumed > PIPELINE_MAX) {
            uv_read_stop(st);
            c->read_paused = 1;
        }
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct sim_http_server *s = listener->data;
    if (status < 0)
        return;
    struct sim_http_conn *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->in = malloc(IN_INITIAL)) == NULL) {
        free(c);
        return;
    }
    c->in_cap = IN_INITIAL;
    c->srv = s;
    c->state = CONN_HEAD;
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (strchr(host, ':') != NULL)
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

struct sim_http_server *sim_http_server_new(uv_loop_t *loop, const char *host, int port,
                                            const struct sim_http_handler *h, void *ctx)
{
    struct sockaddr_storage ss;
    struct sim_http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->h = *h;
    s->ctx = ctx;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int rc = resolve(host, port, &ss);
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "llmux-sim: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(s);
        return NULL;
    }
    return s;
}

void sim_http_server_close(struct sim_http_server *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, NULL);
    for (struct sim_http_conn *c = s->conns; c != NULL; c = c->next)
        conn_peer_gone(c);
}

void sim_http_server_free(struct sim_http_server *s)
{
    free(s);
}
