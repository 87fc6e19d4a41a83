/*
 * ws.c — WebSocket mode (see http.h): the handshake, the framing (wslay)
 * on the socket h2o hands over after "101 Switching Protocols", and the
 * virtual requests that carry one client message each through the
 * ordinary handler.
 *
 * Re-entrance: wslay calls on_msg_recv from inside wslay_event_recv(), and
 * a producer writes from any callback. So a message is only queued where
 * it arrives; a zero-delay timer (the "kick") hands messages over, ends
 * finished virtual requests and tears the connection down — always from
 * the loop, never from inside a caller's own call (STYLE 8). proceed()
 * drives wslay (write what is queued, read what arrived) and is guarded
 * against nesting.
 */
#include "http_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <h2o/http1.h>
#include <h2o/websocket.h>
#include <wslay/wslay.h>

#include "../core/log.h"

enum {
    WS_KEY_LEN = 24, /* base64 of 16 bytes (RFC 6455 4.1) */
    WS_MAX_HEADERS = 100,
    WS_PEER_MAX = 64,
    WS_PARTIAL_CAP = 16 * 1024 * 1024, /* an SSE event split across writes */
    WS_ERROR_FRAME_CAP = 4096,
};

struct ws_msg {
    struct ws_msg *next;
    size_t len;
    char data[];
};

struct ws_header {
    char *name, *value;
    size_t value_len;
};

struct lx_http_ws {
    struct lx_http_server *server;
    struct lx_http_ws *prev, *next; /* in the server's list */
    uv_loop_t *loop;
    h2o_socket_t *sock; /* NULL before the upgrade completed and once closed */
    wslay_event_context_ptr ctx;
    struct wslay_event_callbacks callbacks;
    struct lx_http_ws_opts o;
    char *path;
    size_t path_len;
    struct ws_header *headers;
    size_t n_headers;
    char peer[WS_PEER_MAX];
    struct ws_msg *head, *tail; /* messages waiting */
    uint32_t n_queued;
    struct lx_http_req *cur; /* the virtual request being handled */
    char *write_buf;         /* the bytes h2o is writing */
    size_t write_len;
    bool writing, in_proceed, gone, closing, teardown;
    uv_timer_t kick, limit;
    int open_handles;
};

/* A virtual request's own part. */
struct lx_http_ws_req {
    struct lx_http_ws *ws;
    char *body;
    size_t body_len;
    lx_buf partial; /* SSE text written but not yet a whole event */
    bool ended;
};

static void proceed(struct lx_http_ws *ws);
static void kick(struct lx_http_ws *ws);
static void on_kick(uv_timer_t *t);

/* ---- handshake ------------------------------------------------------------ */

bool lx_http_req_is_websocket(const struct lx_http_req *r)
{
    const char *key = NULL;
    if (r->ws || r->req == NULL || r->req->version >= 0x200)
        return false;
    return h2o_is_websocket_handshake(r->req, &key) == 0 && key != NULL;
}

/* Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)), RFC 6455 4.2.2. */
static int accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char src[WS_KEY_LEN + sizeof(guid) - 1], digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    memcpy(src, key, WS_KEY_LEN);
    memcpy(src + WS_KEY_LEN, guid, sizeof(guid) - 1);
    if (EVP_Digest(src, sizeof(src), digest, &dlen, EVP_sha1(), NULL) != 1 || dlen != 20)
        return LX_ERR;
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return LX_OK;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Copies what the virtual requests need from the handshake: h2o frees the
 * request when the upgrade completes. */
static int copy_handshake(struct lx_http_ws *ws, const struct lx_http_req *r)
{
    h2o_req_t *req = r->req;
    ws->path = dup_bytes(req->path_normalized.base, req->path_normalized.len);
    ws->path_len = req->path_normalized.len;
    size_t n = LX_MIN(req->headers.size, (size_t)WS_MAX_HEADERS);
    ws->headers = calloc(n ? n : 1, sizeof(*ws->headers));
    if (ws->path == NULL || ws->headers == NULL)
        return LX_ERR;
    for (size_t i = 0; i < n; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("x-request-id")))
            continue; /* each message is its own request */
        struct ws_header *c = &ws->headers[ws->n_headers];
        c->name = dup_bytes(h->name->base, h->name->len);
        c->value = dup_bytes(h->value.base, h->value.len);
        c->value_len = h->value.len;
        ws->n_headers++;
        if (c->name == NULL || c->value == NULL)
            return LX_ERR;
    }
    lx_http_req_peer(r, ws->peer, sizeof(ws->peer));
    return LX_OK;
}

static void ws_free(struct lx_http_ws *ws)
{
    if (ws->prev)
        ws->prev->next = ws->next;
    else if (ws->server)
        *lx_http_server_ws_list(ws->server) = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
    for (struct ws_msg *m = ws->head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    for (size_t i = 0; i < ws->n_headers; i++) {
        free(ws->headers[i].name);
        free(ws->headers[i].value);
    }
    free(ws->headers);
    free(ws->path);
    free(ws->write_buf);
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    free(ws);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lx_http_ws *ws = h->data;
    if (--ws->open_handles == 0)
        ws_free(ws);
}

/* The socket is gone (or never came): the kick ends the rest. */
static void drop(struct lx_http_ws *ws)
{
    if (ws->sock) {
        h2o_socket_close(ws->sock);
        ws->sock = NULL;
    }
    ws->gone = true;
    kick(ws);
}

/* ---- wslay's I/O callbacks ------------------------------------------------ */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *d)
{
    struct lx_http_ws *ws = d;
    h2o_buffer_t *in = ws->sock->input;
    if (in->size == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    len = LX_MIN(len, in->size);
    memcpy(buf, in->bytes, len);
    h2o_buffer_consume(&ws->sock->input, len);
    return (ssize_t)len;
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    struct lx_http_ws *ws = sock->data;
    ws->writing = false;
    ws->write_len = 0;
    if (err) {
        drop(ws);
        return;
    }
    proceed(ws);
    struct lx_http_req *r = ws->cur;
    if (r && r->started && !r->ws->ended && r->on_drain && !ws->gone)
        r->on_drain(r->drain_data);
}

/* One write in flight at a time; wslay keeps the rest queued, which is
 * what lx_http_stream_buffered() reports. */
static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *d)
{
    struct lx_http_ws *ws = d;
    if (ws->writing || ws->sock == NULL) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    char *b = realloc(ws->write_buf, len ? len : 1);
    if (b == NULL) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    ws->write_buf = b;
    memcpy(b, data, len);
    ws->write_len = len;
    ws->writing = true;
    h2o_iovec_t v = h2o_iovec_init(b, len);
    h2o_socket_write(ws->sock, &v, 1, on_written);
    return (ssize_t)len;
}

static int send_text(struct lx_http_ws *ws, const char *p, size_t n)
{
    if (ws->gone || ws->closing)
        return LX_ERR;
    struct wslay_event_msg m = {
        .opcode = WSLAY_TEXT_FRAME, .msg = (const uint8_t *)p, .msg_length = n};
    if (wslay_event_queue_msg(ws->ctx, &m) != 0) /* copies the bytes */
        return LX_ERR;
    proceed(ws);
    return LX_OK;
}

/* An error the connection sends by itself (no virtual request). */
static void send_error(struct lx_http_ws *ws, int status, const char *code, const char *message)
{
    lx_buf b;
    lx_buf_init(&b, WS_ERROR_FRAME_CAP);
    ws->o.error_frame(ws->o.data, status, code, message, &b);
    send_text(ws, b.data, b.len);
    lx_buf_release(&b);
}

static void on_msg_recv(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                        void *d)
{
    struct lx_http_ws *ws = d;
    if (a->opcode == WSLAY_BINARY_FRAME) {
        send_error(ws, 400, "invalid_message",
                   "Binary messages are not supported; send response.create as JSON text.");
        return;
    }
    if (a->opcode != WSLAY_TEXT_FRAME || ws->closing)
        return; /* ping, pong and close are wslay's */
    if (ws->n_queued >= ws->o.max_queued + (ws->cur == NULL)) {
        send_error(ws, 429, "websocket_queue_full",
                   "Too many response.create messages are waiting on this connection; wait "
                   "for a response to finish before sending more.");
        return;
    }
    struct ws_msg *m = malloc(sizeof(*m) + a->msg_length + 1);
    if (m == NULL)
        return;
    m->next = NULL;
    m->len = a->msg_length;
    memcpy(m->data, a->msg, a->msg_length);
    m->data[m->len] = '\0';
    if (ws->tail)
        ws->tail->next = m;
    else
        ws->head = m;
    ws->tail = m;
    ws->n_queued++;
    kick(ws);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct lx_http_ws *ws = sock->data;
    if (err) {
        drop(ws);
        return;
    }
    proceed(ws);
}

/* Writes what wslay has queued and reads what arrived, until neither moves;
 * closes when wslay is done both ways (close handshake finished). */
static void proceed(struct lx_http_ws *ws)
{
    if (ws->in_proceed || ws->sock == NULL)
        return;
    ws->in_proceed = true;
    bool moved, failed = false;
    do {
        moved = false;
        if (!ws->writing && wslay_event_want_write(ws->ctx)) {
            if (wslay_event_send(ws->ctx) != 0) {
                failed = true;
                break;
            }
            moved = true;
        }
        if (ws->sock->input->size != 0 && wslay_event_want_read(ws->ctx)) {
            if (wslay_event_recv(ws->ctx) != 0) {
                failed = true;
                break;
            }
            moved = true;
        }
    } while (moved);
    ws->in_proceed = false;
    if (failed) {
        drop(ws);
    } else if (wslay_event_want_read(ws->ctx)) {
        h2o_socket_read_start(ws->sock, on_read);
    } else if (ws->writing || wslay_event_want_write(ws->ctx)) {
        h2o_socket_read_stop(ws->sock);
    } else {
        drop(ws); /* closed both ways */
    }
}

/* ---- the kick: hand over messages, end requests, tear down ---------------- */

static void kick(struct lx_http_ws *ws)
{
    if (!ws->teardown)
        uv_timer_start(&ws->kick, on_kick, 0, 0);
}

static void end_current(struct lx_http_ws *ws)
{
    struct lx_http_req *r = ws->cur;
    ws->cur = NULL;
    if (r->on_close) {
        void (*cb)(void *) = r->on_close;
        r->on_close = NULL;
        cb(r->close_data);
    }
    lx_buf_release(&r->ws->partial);
    free(r->ws->body);
    free(r->ws);
    free(r);
}

static void start_next(struct lx_http_ws *ws)
{
    struct ws_msg *m = ws->head;
    struct lx_http_req *r = calloc(1, sizeof(*r));
    struct lx_http_ws_req *v = calloc(1, sizeof(*v));
    if (r == NULL || v == NULL) {
        free(r);
        free(v);
        return; /* the message waits for the next kick */
    }
    ws->head = m->next;
    if (ws->head == NULL)
        ws->tail = NULL;
    ws->n_queued--;
    v->ws = ws;
    size_t len = m->len;
    v->body = (char *)m; /* the message moved to the front of its block */
    memmove(m, m->data, len + 1);
    v->body_len = len;
    lx_buf_init(&v->partial, WS_PARTIAL_CAP);
    r->ws = v;
    ws->cur = r;
    ws->o.on_message(r, ws->o.data);
}

static void on_kick(uv_timer_t *t)
{
    struct lx_http_ws *ws = t->data;
    if (ws->cur && (ws->cur->ws->ended || ws->gone || ws->closing))
        end_current(ws);
    if (ws->cur == NULL && ws->head && !ws->gone && !ws->closing)
        start_next(ws); /* one at a time: the next kick comes when it ends */
    if (ws->cur == NULL && ws->gone && !ws->teardown) {
        ws->teardown = true;
        if (ws->o.on_close)
            ws->o.on_close(ws->o.data);
        uv_close((uv_handle_t *)&ws->kick, on_handle_closed);
        uv_close((uv_handle_t *)&ws->limit, on_handle_closed);
    }
}

/* The connection's time is up (RESPONSES.md 8): a response in flight is
 * cancelled, the client gets the error and a normal close. */
static void on_limit(uv_timer_t *t)
{
    struct lx_http_ws *ws = t->data;
    if (ws->closing) { /* the client did not finish the close handshake */
        drop(ws);
        return;
    }
    if (ws->gone)
        return;
    send_error(ws, 400, "websocket_connection_limit_reached",
               "The WebSocket connection reached its time limit; open a new connection to "
               "continue.");
    ws->closing = true;
    wslay_event_queue_close(ws->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    uv_timer_start(&ws->limit, on_limit, 1000, 0); /* for the client's close */
    proceed(ws);
    kick(ws);
}

void lx_http_ws_shutdown_all(struct lx_http_server *s)
{
    for (struct lx_http_ws *ws = *lx_http_server_ws_list(s); ws; ws = ws->next) {
        if (ws->gone || ws->closing)
            continue;
        ws->closing = true;
        wslay_event_queue_close(ws->ctx, WSLAY_CODE_GOING_AWAY, NULL, 0);
        uv_timer_start(&ws->limit, on_limit, 1000, 0);
        proceed(ws);
        kick(ws);
    }
}

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    struct lx_http_ws *ws = data;
    if (sock == NULL) {
        drop(ws);
        return;
    }
    ws->sock = sock;
    sock->data = ws;
    h2o_buffer_consume(&sock->input, reqsize);
    if (ws->o.max_connection_ms)
        uv_timer_start(&ws->limit, on_limit, ws->o.max_connection_ms, 0);
    proceed(ws);
}

int lx_http_ws_accept(struct lx_http_req *r, const struct lx_http_ws_opts *o)
{
    const char *key = NULL;
    char accept[29];
    if (!lx_http_req_is_websocket(r) || h2o_is_websocket_handshake(r->req, &key) != 0 ||
        key == NULL || accept_key(key, accept) != LX_OK)
        return LX_ERR;
    struct lx_http_ws *ws = calloc(1, sizeof(*ws));
    if (ws == NULL)
        return LX_ERR;
    ws->o = *o;
    ws->loop = r->req->conn->ctx->loop;
    ws->callbacks.recv_callback = recv_cb;
    ws->callbacks.send_callback = send_cb;
    ws->callbacks.on_msg_recv_callback = on_msg_recv;
    if (copy_handshake(ws, r) != LX_OK ||
        wslay_event_context_server_init(&ws->ctx, &ws->callbacks, ws) != 0) {
        ws_free(ws);
        return LX_ERR;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, o->max_message_bytes);
    uv_timer_init(ws->loop, &ws->kick);
    uv_timer_init(ws->loop, &ws->limit);
    ws->kick.data = ws->limit.data = ws;
    ws->open_handles = 2;
    ws->server = r->server;
    struct lx_http_ws **list = lx_http_server_ws_list(r->server);
    ws->next = *list;
    if (*list)
        (*list)->prev = ws;
    *list = ws;
    h2o_req_t *req = r->req;
    req->res.status = 101;
    req->res.reason = "Switching Protocols";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0,
                          NULL, accept, strlen(accept));
    r->started = r->finished = true;
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, ws);
    return LX_OK;
}

/* ---- the virtual request -------------------------------------------------- */

int lx_http_ws_req_set_body(struct lx_http_req *r, const char *p, size_t n)
{
    if (r->ws == NULL)
        return LX_ERR;
    char *b = dup_bytes(p, n);
    if (b == NULL)
        return LX_ERR;
    free(r->ws->body);
    r->ws->body = b;
    r->ws->body_len = n;
    return LX_OK;
}

void *lx_http_req_conn_cache(const struct lx_http_req *r)
{
    return r->ws ? r->ws->ws->o.conn_cache : NULL;
}

lx_str lx_http_ws_req_method(const struct lx_http_req *r)
{
    return LX_STR_LIT("POST");
}

lx_str lx_http_ws_req_path(const struct lx_http_req *r)
{
    return (lx_str){r->ws->ws->path, r->ws->ws->path_len};
}

lx_str lx_http_ws_req_body(const struct lx_http_req *r)
{
    return (lx_str){r->ws->body, r->ws->body_len};
}

lx_str lx_http_ws_req_header(const struct lx_http_req *r, const char *name)
{
    const struct lx_http_ws *ws = r->ws->ws;
    for (size_t i = 0; i < ws->n_headers; i++)
        if (strcmp(ws->headers[i].name, name) == 0)
            return (lx_str){ws->headers[i].value, ws->headers[i].value_len};
    return LX_STR_NULL;
}

size_t lx_http_ws_req_header_count(const struct lx_http_req *r)
{
    return r->ws->ws->n_headers;
}

void lx_http_ws_req_peer(const struct lx_http_req *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", r->ws->ws->peer);
}

bool lx_http_ws_req_client_gone(const struct lx_http_req *r)
{
    return r->ws->ws->gone || r->ws->ws->closing;
}

static void end_request(struct lx_http_req *r)
{
    r->started = r->finished = true;
    r->ws->ended = true;
    kick(r->ws->ws);
}

void lx_http_ws_respond(struct lx_http_req *r, int status, const char *body, size_t len)
{
    struct lx_http_ws *ws = r->ws->ws;
    if (r->ws->ended)
        return;
    lx_buf b;
    lx_buf_init(&b, len + WS_ERROR_FRAME_CAP);
    ws->o.answer_frame(ws->o.data, status, (lx_str){body, len}, &b);
    send_text(ws, b.data, b.len);
    lx_buf_release(&b);
    end_request(r);
}

void lx_http_ws_stream_start(struct lx_http_req *r)
{
    r->started = true;
}

ssize_t lx_http_sse_data_split(const char *p, size_t n, int (*emit)(void *data, lx_str payload),
                               void *data)
{
    const char *s = p, *end = p + n;
    for (;;) {
        const char *stop = NULL;
        for (const char *q = s; q + 1 < end; q++)
            if (q[0] == '\n' && q[1] == '\n') {
                stop = q;
                break;
            }
        if (stop == NULL)
            break;
        for (const char *line = s; line < stop;) {
            const char *nl = memchr(line, '\n', (size_t)(stop - line));
            const char *eol = nl ? nl : stop;
            if (eol - line >= 6 && memcmp(line, "data: ", 6) == 0) {
                lx_str d = {line + 6, (size_t)(eol - line - 6)};
                if (!lx_str_eq_cstr(d, "[DONE]") && emit(data, d) != LX_OK)
                    return -1;
            }
            line = eol + 1;
        }
        s = stop + 2;
    }
    return (ssize_t)(s - p);
}

static int emit_frame(void *data, lx_str payload)
{
    return send_text(data, payload.ptr, payload.len);
}

/* Sends the data of each whole SSE event written (RESPONSES.md 6.1: the
 * exchange writes whole events, "event: T\ndata: {json}\n\n"); a tail
 * that is no whole event yet waits in partial. */
int lx_http_ws_stream_write(struct lx_http_req *r, const char *p, size_t n)
{
    struct lx_http_ws_req *v = r->ws;
    if (v->ended || v->ws->gone || v->ws->closing)
        return LX_ERR;
    if (lx_buf_append(&v->partial, p, n) != LX_OK)
        return LX_ERR;
    ssize_t used = lx_http_sse_data_split(v->partial.data, v->partial.len, emit_frame, v->ws);
    if (used < 0)
        return LX_ERR;
    memmove(v->partial.data, v->partial.data + used, v->partial.len - (size_t)used);
    v->partial.len -= (size_t)used;
    return LX_OK;
}

size_t lx_http_ws_stream_buffered(const struct lx_http_req *r)
{
    const struct lx_http_ws *ws = r->ws->ws;
    if (ws->ctx == NULL)
        return 0;
    return wslay_event_get_queued_msg_length(ws->ctx) + ws->write_len;
}

void lx_http_ws_stream_end(struct lx_http_req *r)
{
    if (!r->ws->ended)
        end_request(r);
}
