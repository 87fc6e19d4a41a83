/*
 * server.c — the h2o-based HTTP server behind http.h.
 *
 * One h2o context on the caller's libuv loop, one catch-all handler that
 * hands each request to the gateway, and the streaming generator: bytes the
 * producer writes while h2o is still sending go to a pending buffer, which
 * is sent when h2o asks for more (proceed). The producer watches
 * lx_http_stream_buffered() and pauses its source above its cap, so a slow
 * client slows the source instead of growing memory.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <h2o.h>
#include <h2o/http2.h>

#include "../core/buf.h"
#include "../core/log.h"

/* Hard cap on what one stream may queue; the producer's own soft cap
 * (limits.max_stream_buffer_bytes) normally stops it far below this. */
enum { LX_HTTP_STREAM_HARD_CAP = 64 * 1024 * 1024 };

struct listener {
    uv_tcp_t tcp;
    h2o_accept_ctx_t accept_ctx;
    SSL_CTX *ssl_ctx;
    struct lx_http_server *server;
    struct listener *next;
};

/* An accepted connection's socket; h2o owns it, we only keep a list so
 * that the last connections can be closed at shutdown. */
struct conn {
    uv_tcp_t tcp;
    struct lx_http_server *server;
    struct conn *prev, *next;
    struct sockaddr_storage peer; /* to find the socket of a request */
    struct conn *hnext;           /* in the server's table by peer address */
    bool hashed;
};

enum { CONN_BUCKETS = 4096 };

struct lx_http_server {
    uv_loop_t *loop;
    struct conn *conns;
    uint32_t n_conns;
    struct conn *by_peer[CONN_BUCKETS];
    bool disposed;
    h2o_globalconf_t gconf;
    h2o_context_t ctx;
    h2o_hostconf_t *hostconf;
    struct listener *listeners;
    lx_http_handler_fn handler;
    void *data;
    lx_http_error_fn error_body;
    struct lx_http_ws *ws_conns; /* WebSocket connections (ws.c) */
};

struct lx_http_ws **lx_http_server_ws_list(struct lx_http_server *s)
{
    return &s->ws_conns;
}

struct handler {
    h2o_handler_t super;
    struct lx_http_server *server;
};

/* Rewrites the errors h2o answers on its own (the request never reached
 * the handler) into the application's shape. The handler's own responses
 * carry x-request-id and are left alone. */
struct error_filter {
    h2o_filter_t super;
    struct lx_http_server *server;
};

struct replace_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
    bool sent;
};

static void replace_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                         h2o_send_state_t state)
{
    /* h2o's error bodies come whole in one final send; drop them and send ours */
    struct replace_ostream *o = (struct replace_ostream *)self;
    if (o->sent || h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    o->sent = true;
    h2o_ostream_send_next(self, req, &o->body, 1, state);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct lx_http_server *s = ((struct error_filter *)self)->server;
    if (req->res.status >= 400 && s->error_body &&
        h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1) < 0) {
        char *body = h2o_mem_alloc_pool(&req->pool, LX_HTTP_ERROR_BODY_MAX);
        size_t len = 0;
        const char *ct = "text/plain";
        s->error_body(req->res.status, req->res.reason, body, &len, &ct);
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, ct, strlen(ct), 1);
        req->res.content_length = len;
        struct replace_ostream *o =
            (struct replace_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
        o->super.do_send = replace_send;
        o->body = h2o_iovec_init(body, len);
        o->sent = false;
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

static void add_error_filter(struct lx_http_server *s, h2o_pathconf_t *path)
{
    struct error_filter *f = (struct error_filter *)h2o_create_filter(path, sizeof(*f));
    f->super.on_setup_ostream = on_setup_ostream;
    f->server = s;
}

static void req_dispose(void *p)
{
    struct lx_http_req *r = p;
    r->closed = true;
    lx_buf_release(&r->sending);
    lx_buf_release(&r->pending);
    if (r->on_close) {
        void (*cb)(void *) = r->on_close;
        r->on_close = NULL;
        cb(r->close_data);
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct lx_http_server *s = ((struct handler *)self)->server;
    struct lx_http_req *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), req_dispose);
    memset(r, 0, sizeof(*r));
    r->req = req;
    r->server = s;
    lx_buf_init(&r->sending, LX_HTTP_STREAM_HARD_CAP);
    lx_buf_init(&r->pending, LX_HTTP_STREAM_HARD_CAP);
    s->handler(r, s->data);
    return 0;
}

struct lx_http_server *lx_http_server_new(uv_loop_t *loop, const struct lx_http_server_opts *opts,
                                          lx_http_handler_fn handler, void *data)
{
    struct lx_http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->loop = loop;
    s->handler = handler;
    s->data = data;
    h2o_config_init(&s->gconf);
    s->gconf.max_request_entity_size = opts->max_body_bytes;
    const char *name = opts->server_name ? opts->server_name : "llmux";
    s->gconf.server_name = h2o_iovec_init(name, strlen(name));
    s->hostconf = h2o_config_register_host(&s->gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(s->hostconf, "/", 0);
    struct handler *h = (struct handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
    s->error_body = opts->error_body;
    add_error_filter(s, path);
    add_error_filter(s, &s->hostconf->fallback_path);
    h2o_context_init(&s->ctx, loop, &s->gconf);
    return s;
}

static unsigned peer_hash(const struct sockaddr_storage *ss)
{
    uint32_t h = 2166136261u;
    const unsigned char *p;
    size_t n;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        p = (const unsigned char *)&a->sin_addr, n = sizeof(a->sin_addr);
        h = (h ^ a->sin_port) * 16777619u;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        p = (const unsigned char *)&a->sin6_addr, n = sizeof(a->sin6_addr);
        h = (h ^ a->sin6_port) * 16777619u;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % CONN_BUCKETS;
}

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void conn_unhash(struct lx_http_server *s, struct conn *c)
{
    if (!c->hashed)
        return;
    struct conn **at = &s->by_peer[peer_hash(&c->peer)];
    while (*at && *at != c)
        at = &(*at)->hnext;
    if (*at)
        *at = c->hnext;
    c->hashed = false;
}

static struct conn *conn_find(struct lx_http_server *s, const struct sockaddr_storage *peer)
{
    for (struct conn *c = s->by_peer[peer_hash(peer)]; c; c = c->hnext)
        if (same_peer(&c->peer, peer))
            return c;
    return NULL;
}

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    struct lx_http_server *s = c->server;
    conn_unhash(s, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct listener *l = (struct listener *)listener;
    struct lx_http_server *s = l->server;
    if (status != 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    uv_tcp_init(listener->loop, &c->tcp);
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int len = sizeof(c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) == 0 &&
        (c->peer.ss_family == AF_INET || c->peer.ss_family == AF_INET6)) {
        unsigned b = peer_hash(&c->peer);
        c->hnext = s->by_peer[b];
        s->by_peer[b] = c;
        c->hashed = true;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, conn_closed);
    h2o_accept(&l->accept_ctx, sock);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL)
        return LX_ERR;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return LX_OK;
}

static SSL_CTX *tls_context(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl) != 1)
        goto fail;
    h2o_ssl_register_alpn_protocols(ssl, h2o_http2_alpn_protocols);
    return ssl;
fail:
    snprintf(err, errlen, "TLS setup failed for %s / %s: %s", cert, key,
             ERR_reason_error_string(ERR_get_error()));
    SSL_CTX_free(ssl);
    return NULL;
}

int lx_http_server_listen(struct lx_http_server *s, const char *host, uint16_t port,
                          const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss) != LX_OK) {
        snprintf(err, errlen, "cannot resolve listen address %s", host);
        return LX_ERR;
    }
    struct listener *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return LX_ERR;
    if (cert_file && (l->ssl_ctx = tls_context(cert_file, key_file, err, errlen)) == NULL) {
        free(l);
        return LX_ERR;
    }
    l->server = s;
    l->accept_ctx.ctx = &s->ctx;
    l->accept_ctx.hosts = s->gconf.hosts;
    l->accept_ctx.ssl_ctx = l->ssl_ctx;
    uv_tcp_init(s->loop, &l->tcp);
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_accept);
    l->next = s->listeners;
    s->listeners = l; /* closed by shutdown even when listen failed */
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, uv_strerror(rc));
        return LX_ERR;
    }
    return LX_OK;
}

static void listener_closed(uv_handle_t *h)
{
    struct listener *l = (struct listener *)h;
    SSL_CTX_free(l->ssl_ctx);
    free(l);
}

void lx_http_server_shutdown(struct lx_http_server *s)
{
    for (struct listener *l = s->listeners; l; l = l->next)
        uv_close((uv_handle_t *)&l->tcp, listener_closed);
    s->listeners = NULL;
    h2o_context_request_shutdown(&s->ctx);
    lx_http_ws_shutdown_all(s);
}

void lx_http_server_close_connections(struct lx_http_server *s)
{
    /* Shutting the socket down makes h2o read end-of-stream and close the
     * connection through its own path, so no h2o state is left dangling. */
    for (struct conn *c = s->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
}

uint32_t lx_http_server_connections(const struct lx_http_server *s)
{
    return s->n_conns;
}

void lx_http_server_dispose(struct lx_http_server *s)
{
    if (s->disposed)
        return;
    s->disposed = true;
    /* a shutdown request leaves HTTP/2's graceful-shutdown timer armed */
    if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->gconf);
}

void lx_http_server_free(struct lx_http_server *s)
{
    if (s == NULL)
        return;
    lx_http_server_dispose(s);
    free(s);
}

lx_str lx_http_req_method(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_req_method(r);
    return (lx_str){r->req->method.base, r->req->method.len};
}

lx_str lx_http_req_path(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_req_path(r);
    return (lx_str){r->req->path_normalized.base, r->req->path_normalized.len};
}

lx_str lx_http_req_query(const struct lx_http_req *r)
{
    if (r->ws)
        return LX_STR_NULL;
    size_t at = r->req->query_at;
    if (at == SIZE_MAX || at >= r->req->path.len)
        return LX_STR_NULL;
    return (lx_str){r->req->path.base + at + 1, r->req->path.len - at - 1};
}

lx_str lx_http_req_body(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_req_body(r);
    if (r->req->entity.base == NULL)
        return (lx_str){"", 0};
    return (lx_str){r->req->entity.base, r->req->entity.len};
}

lx_str lx_http_req_header(const struct lx_http_req *r, const char *name)
{
    if (r->ws)
        return lx_http_ws_req_header(r, name);
    ssize_t i = h2o_find_header_by_str(&r->req->headers, name, strlen(name), -1);
    if (i < 0)
        return LX_STR_NULL;
    h2o_iovec_t v = r->req->headers.entries[i].value;
    return (lx_str){v.base, v.len};
}

size_t lx_http_req_header_count(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_req_header_count(r);
    return r->req->headers.size;
}

void lx_http_req_peer(const struct lx_http_req *r, char *out, size_t outlen)
{
    if (r->ws) {
        lx_http_ws_req_peer(r, out, outlen);
        return;
    }
    struct sockaddr_storage ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    socklen_t len = r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss);
    if (len > 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, outlen, "%s:%u", ip, port);
}

bool lx_http_req_client_gone(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_req_client_gone(r);
    /* HTTP/2 reads all the time: h2o itself notices a client that left */
    if (r->closed || r->req->version >= 0x200)
        return r->closed;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (r->req->conn->callbacks->get_peername(r->req->conn, (struct sockaddr *)&ss) == 0)
        return false;
    struct conn *c = conn_find(r->server, &ss);
    uv_os_fd_t fd;
    if (c == NULL || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return false;
    /* h2o does not read an HTTP/1 connection while a request is handled; a
     * peek neither consumes bytes nor disturbs its reading later */
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void lx_http_req_on_close(struct lx_http_req *r, void (*cb)(void *data), void *data)
{
    r->on_close = cb;
    r->close_data = data;
}

static const char *reason_phrase(int status)
{
    switch (status) {
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
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static void set_head(struct lx_http_req *r, int status, const char *content_type,
                     const lx_http_header *headers, size_t n)
{
    h2o_req_t *req = r->req;
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    for (size_t i = 0; i < n; i++) {
        h2o_iovec_t v = h2o_strdup(&req->pool, headers[i].value, headers[i].value_len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name,
                              strlen(headers[i].name), 1, NULL, v.base, v.len);
    }
}

void lx_http_respond(struct lx_http_req *r, int status, const char *content_type,
                     const lx_http_header *headers, size_t n_headers, const char *body, size_t len)
{
    if (r->ws) {
        lx_http_ws_respond(r, status, body, len);
        return;
    }
    set_head(r, status, content_type, headers, n_headers);
    r->started = true;
    r->finished = true;
    h2o_send_inline(r->req, body, len);
}

/* Hands the pending bytes to h2o. Must not touch r after a final send. */
static void flush(struct lx_http_req *r)
{
    lx_buf tmp = r->sending;
    r->sending = r->pending;
    r->pending = tmp;
    lx_buf_reset(&r->pending);
    h2o_iovec_t v = h2o_iovec_init(r->sending.data, r->sending.len);
    r->inflight = true;
    if (r->end_requested) {
        r->finished = true;
        h2o_send(r->req, &v, v.len ? 1 : 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(r->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct lx_http_req *r = (struct lx_http_req *)gen;
    lx_buf_reset(&r->sending);
    r->inflight = false;
    if (r->pending.len > 0 || r->end_requested) {
        flush(r);
        if (r->finished)
            return;
    }
    if (r->on_drain)
        r->on_drain(r->drain_data);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    ((struct lx_http_req *)gen)->closed = true;
}

void lx_http_stream_start(struct lx_http_req *r, int status, const char *content_type,
                          const lx_http_header *headers, size_t n_headers,
                          void (*on_drain)(void *data), void *data)
{
    if (r->ws) {
        r->on_drain = on_drain;
        r->drain_data = data;
        lx_http_ws_stream_start(r);
        return;
    }
    set_head(r, status, content_type, headers, n_headers);
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache"));
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    r->on_drain = on_drain;
    r->drain_data = data;
    r->started = true;
    h2o_start_response(r->req, &r->gen);
}

int lx_http_stream_write(struct lx_http_req *r, const char *p, size_t n)
{
    if (r->ws)
        return lx_http_ws_stream_write(r, p, n);
    if (r->closed || r->finished || r->end_requested)
        return LX_ERR;
    if (lx_buf_append(&r->pending, p, n) != LX_OK)
        return LX_ERR;
    if (!r->inflight)
        flush(r);
    return LX_OK;
}

size_t lx_http_stream_buffered(const struct lx_http_req *r)
{
    if (r->ws)
        return lx_http_ws_stream_buffered(r);
    return r->pending.len + r->sending.len;
}

void lx_http_stream_end(struct lx_http_req *r)
{
    if (r->ws) {
        lx_http_ws_stream_end(r);
        return;
    }
    if (r->closed || r->finished || r->end_requested)
        return;
    r->end_requested = true;
    if (!r->inflight)
        flush(r);
}

bool lx_http_stream_started(const struct lx_http_req *r)
{
    return r->started;
}
