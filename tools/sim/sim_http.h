/*
 * sim_http.h - a small, fast HTTP/1.1 server on a libuv loop.
 *
 * One request at a time per connection (keep-alive; pipelined requests are buffered and served
 * in order; past 64 KiB of them reading pauses until the open response ends). When a request
 * is complete the handler's on_request runs; the handler answers it later or at once with
 * exactly one of: sim_http_respond(), a stream (sim_http_stream_begin(),
 * sim_http_stream_send()..., sim_http_stream_end()), or sim_http_abort(). Until then the
 * request view stays valid. Streams are pulled: after each flushed stream write on_drain runs,
 * and the handler sends the next piece then, so a slow reader slows the producer.
 *
 * If the peer goes away while a request is open, on_cancel runs once with the handler's job
 * pointer; the handler must forget the connection then (it is closed right after).
 * Limits: SIM_HTTP_MAX_HEAD bytes of request line + headers and SIM_HTTP_MAX_HEADERS headers
 * (431 otherwise), SIM_HTTP_MAX_BODY bytes of body (413).
 */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "sim_buf.h"

#define SIM_HTTP_MAX_HEAD (64 * 1024)
#define SIM_HTTP_MAX_HEADERS 100
#define SIM_HTTP_MAX_BODY (8 * 1024 * 1024)

struct sim_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A parsed request. Points into the connection's buffer; valid until the response ends. The
 * buffer can grow (and move) while the request is open; the server then re-bases this struct's
 * pointers, so keep the struct's address, not copies of its pointers, past on_request. */
struct sim_http_req {
    const char *method;
    size_t method_len;
    const char *path; /* request target without the query string */
    size_t path_len;
    struct sim_http_header headers[SIM_HTTP_MAX_HEADERS];
    size_t nheaders;
    const char *body; /* not NUL-terminated */
    size_t body_len;
};

struct sim_http_conn;
struct sim_http_server;

struct sim_http_handler {
    /* Writes the body of an error the HTTP layer answers itself (400, 413, 431). */
    void (*error_body)(void *ctx, int status, const char *message, struct sim_buf *out);
    void (*on_request)(void *ctx, struct sim_http_conn *c, const struct sim_http_req *req);
    void (*on_drain)(void *ctx, struct sim_http_conn *c, void *job);
    void (*on_cancel)(void *ctx, struct sim_http_conn *c, void *job);
};

/* Binds host:port and starts accepting on loop. Returns a heap server (sim_http_server_free)
 * or NULL with a message on stderr. */
struct sim_http_server *sim_http_server_new(uv_loop_t *loop, const char *host, int port,
                                            const struct sim_http_handler *h, void *ctx);
/* Stops accepting and closes every connection (open requests get on_cancel). The memory goes
 * once the loop has run the close callbacks; call sim_http_server_free after uv_run returns. */
void sim_http_server_close(struct sim_http_server *s);
void sim_http_server_free(struct sim_http_server *s);

/* Finds a header by case-insensitive name; returns its value or NULL. */
const char *sim_http_req_header(const struct sim_http_req *r, const char *name, size_t *len);
/* Returns non-zero when the request's method is m and its path is path. */
int sim_http_req_is(const struct sim_http_req *r, const char *m, const char *path);

/* Attaches the handler's per-request state; it comes back in on_drain/on_cancel. */
void sim_http_set_job(struct sim_http_conn *c, void *job);

/* Sends a complete response and ends the request. extra_headers is "" or CRLF-terminated
 * lines. Takes over body's storage (body is left empty). */
void sim_http_respond(struct sim_http_conn *c, int status, const char *content_type,
                      const char *extra_headers, struct sim_buf *body);
/* Sends the head of a chunked text/event-stream response. */
void sim_http_stream_begin(struct sim_http_conn *c, int status);
/* Sends data as one chunk; takes over its storage. on_drain follows once it is flushed. */
void sim_http_stream_send(struct sim_http_conn *c, struct sim_buf *data);
/* Finishes the chunked body and ends the request. */
void sim_http_stream_end(struct sim_http_conn *c);
/* Resets the TCP connection (RST) and ends the request; no on_cancel follows. */
void sim_http_abort(struct sim_http_conn *c);

#endif
