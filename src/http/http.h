/*
 * http.h — the gateway's HTTP server: listeners, requests, whole and
 * streamed responses with backpressure.
 *
 * Built on h2o (libuv build): HTTP/1.1 with keep-alive, HTTP/2 and TLS when
 * a listener has a certificate. This module knows HTTP and nothing about
 * models. Every request goes to one handler; the handler answers with
 * lx_http_respond() or streams with lx_http_stream_*().
 *
 * Ownership: a struct lx_http_req lives in h2o's per-request pool and is
 * freed by h2o when the exchange with the client ends — after the response
 * is sent, or at once when the client goes away. Code that outlives the
 * handler call must register lx_http_req_on_close() and stop using the
 * pointer when that callback runs.
 */
#ifndef LX_HTTP_H
#define LX_HTTP_H

#include <uv.h>

#include "../core/buf.h"
#include "../core/core.h"
#include "../core/str.h"

struct lx_http_server;
struct lx_http_req;

typedef struct lx_http_header {
    const char *name; /* lowercase */
    const char *value;
    size_t value_len;
} lx_http_header;

/* Writes the body (and content type) of an error the server answers by
 * itself — a body over max_body_bytes (413), a malformed request (400) —
 * so that it comes in the application's own shape. */
typedef void (*lx_http_error_fn)(int status, const char *reason, char *body, size_t *len,
                                 const char **content_type);
enum { LX_HTTP_ERROR_BODY_MAX = 512 };

struct lx_http_server_opts {
    size_t max_body_bytes; /* larger bodies are refused with 413 by the server */
    const char *server_name;
    lx_http_error_fn error_body; /* NULL keeps h2o's plain-text errors */
};

typedef void (*lx_http_handler_fn)(struct lx_http_req *req, void *data);

/* Creates a server on loop that passes every request to handler(req, data). */
struct lx_http_server *lx_http_server_new(uv_loop_t *loop, const struct lx_http_server_opts *opts,
                                          lx_http_handler_fn handler, void *data);
/* Listens on host:port; TLS when cert_file and key_file are given. */
int lx_http_server_listen(struct lx_http_server *s, const char *host, uint16_t port,
                          const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Stops accepting and asks open connections to close once idle. */
void lx_http_server_shutdown(struct lx_http_server *s);
/* Makes every open connection close (after shutdown, once nothing is in
 * flight): idle keep-alive clients would otherwise hold the loop open. */
void lx_http_server_close_connections(struct lx_http_server *s);
/* Connections still open. */
uint32_t lx_http_server_connections(const struct lx_http_server *s);
/* Releases h2o's context once no connection is open; call it on the
 * running loop so that the handles it closes can finish closing. */
void lx_http_server_dispose(struct lx_http_server *s);
/* Frees the server (disposing it first if needed). */
void lx_http_server_free(struct lx_http_server *s);

/* Request accessors; the views live as long as the request. */
lx_str lx_http_req_method(const struct lx_http_req *r);
lx_str lx_http_req_path(const struct lx_http_req *r); /* without the query */
/* The query string after "?" (not decoded), or a NULL view when none. */
lx_str lx_http_req_query(const struct lx_http_req *r);
lx_str lx_http_req_body(const struct lx_http_req *r);
/* The first header named name (lowercase), or a NULL view. */
lx_str lx_http_req_header(const struct lx_http_req *r, const char *name);
size_t lx_http_req_header_count(const struct lx_http_req *r);
/* Writes the client's "ip:port" into out. */
void lx_http_req_peer(const struct lx_http_req *r, char *out, size_t outlen);

/* True when the client has closed its connection. h2o does not read an
 * HTTP/1 connection while its request is being handled, so a client that
 * leaves while the gateway waits for a backend goes unnoticed until the
 * gateway writes; a caller that waits long asks this now and then. */
bool lx_http_req_client_gone(const struct lx_http_req *r);

/* Calls cb(data) once when the request ends for any reason (response sent
 * or client gone). After it returns the request pointer is invalid. */
void lx_http_req_on_close(struct lx_http_req *r, void (*cb)(void *data), void *data);

/* Sends a whole response; body is copied. */
void lx_http_respond(struct lx_http_req *r, int status, const char *content_type,
                     const lx_http_header *headers, size_t n_headers, const char *body, size_t len);

/* Starts a streamed response. on_drain(data) is called each time the bytes
 * written so far have gone to the socket (the producer may resume). */
void lx_http_stream_start(struct lx_http_req *r, int status, const char *content_type,
                          const lx_http_header *headers, size_t n_headers,
                          void (*on_drain)(void *data), void *data);
/* Queues bytes (copied). Returns LX_ERR when the stream is closed. */
int lx_http_stream_write(struct lx_http_req *r, const char *p, size_t n);
/* Bytes queued but not yet taken by the socket: the producer pauses above
 * its cap. */
size_t lx_http_stream_buffered(const struct lx_http_req *r);
/* Ends the stream after the queued bytes. */
void lx_http_stream_end(struct lx_http_req *r);
/* True once lx_http_stream_start() was called. */
bool lx_http_stream_started(const struct lx_http_req *r);

/* ---- WebSocket mode (RFC 6455, HTTP/1.1 only) ------------------------------
 *
 * A handler that sees a handshake (lx_http_req_is_websocket) may turn the
 * request into a WebSocket connection with lx_http_ws_accept(). Each text
 * message the client sends then becomes a *virtual request*: POST to the
 * handshake's path, the handshake's headers (x-request-id excepted), the
 * message as its body. Messages are handled one at a time, in order; the
 * next waits until the current virtual request has ended, and at most
 * max_queued wait (one more is answered with error_frame 429). The handler
 * answers a virtual request as any other: a streamed answer's SSE events
 * go out as one text message each, the data of the event ("data: [DONE]"
 * is dropped); a whole answer goes out as answer_frame() writes it.
 * lx_http_stream_buffered() counts the bytes queued on the connection and
 * the drain callback runs when the socket took a write, so a slow reader
 * slows the producer as over HTTP. */
struct lx_http_ws_opts {
    size_t max_message_bytes;   /* a bigger message closes the connection (1009) */
    uint32_t max_queued;        /* messages waiting behind the current one */
    uint64_t max_connection_ms; /* 0: none; else limit_frame, then close (1000) */
    /* Called for each message with its virtual request, which the handler
     * owns until it answers (it may change the body first). */
    void (*on_message)(struct lx_http_req *req, void *data);
    /* Writes the message sent for a whole answer (status, body) into out. */
    void (*answer_frame)(void *data, int status, lx_str body, lx_buf *out);
    /* Writes an error message the connection itself sends (queue full,
     * binary message, the time limit) into out. */
    void (*error_frame)(void *data, int status, const char *code, const char *message, lx_buf *out);
    /* Called once when the connection is gone, after the last virtual
     * request ended: data and conn_cache may be freed then. */
    void (*on_close)(void *data);
    void *data;
    void *conn_cache; /* what lx_http_req_conn_cache() returns for its requests */
};
/* True when r is a WebSocket handshake (GET with Upgrade: websocket and a
 * valid Sec-WebSocket-Key) on HTTP/1.1. */
bool lx_http_req_is_websocket(const struct lx_http_req *r);
/* Answers the handshake with 101 and turns the connection into a WebSocket
 * one (o is copied). The handshake request r ends as usual. LX_ERR (and
 * nothing sent) when r is no handshake or memory ran out: the caller
 * answers r itself then. */
int lx_http_ws_accept(struct lx_http_req *r, const struct lx_http_ws_opts *o);
/* Replaces a virtual request's body (copied; within the message cap).
 * LX_ERR for an ordinary request or out of memory. */
int lx_http_ws_req_set_body(struct lx_http_req *r, const char *p, size_t n);
/* The conn_cache of the WebSocket connection r came over; NULL for a
 * request that came as plain HTTP. The proxy keeps store:false responses
 * there so previous_response_id chains work within the connection. */
void *lx_http_req_conn_cache(const struct lx_http_req *r);

#endif
