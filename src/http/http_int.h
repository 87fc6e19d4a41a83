/*
 * http_int.h — private to src/http/: the request object shared by the
 * h2o server (server.c) and the WebSocket mode (ws.c).
 *
 * A request is either an h2o request (req set) or a virtual request made
 * for one WebSocket message (ws set): every lx_http_req_* and
 * lx_http_stream_* call on a virtual request goes to ws.c.
 */
#ifndef LX_HTTP_INT_H
#define LX_HTTP_INT_H

#include <h2o.h>

#include "../core/buf.h"
#include "http.h"

struct lx_http_ws_req;

struct lx_http_req {
    h2o_generator_t gen;
    h2o_req_t *req;
    struct lx_http_server *server;
    struct lx_http_ws_req *ws; /* a WebSocket message's request; NULL for h2o's */
    lx_buf sending;            /* handed to h2o; alive until proceed */
    lx_buf pending;            /* written since */
    bool started, inflight, end_requested, finished, closed;
    void (*on_drain)(void *);
    void *drain_data;
    void (*on_close)(void *);
    void *close_data;
};

/* Calls emit(data, payload) with the data line of each whole SSE event
 * ("...\ndata: PAYLOAD\n\n") in p[0..n), in order, skipping "[DONE]".
 * Returns the bytes of whole events consumed (the rest is an unfinished
 * event), or -1 as soon as emit returns LX_ERR. */
ssize_t lx_http_sse_data_split(const char *p, size_t n, int (*emit)(void *data, lx_str payload),
                               void *data);

/* The server's list of WebSocket connections (ws.c links them). */
struct lx_http_ws **lx_http_server_ws_list(struct lx_http_server *s);
/* Server shutdown: every WebSocket connection gets a close (1001, going
 * away); one that does not finish the close handshake within a second is
 * dropped. A message in flight is cancelled. */
void lx_http_ws_shutdown_all(struct lx_http_server *s);

/* The virtual request's side of the lx_http_req_* and lx_http_stream_*
 * calls (ws.c); r->ws is set. */
lx_str lx_http_ws_req_method(const struct lx_http_req *r);
lx_str lx_http_ws_req_path(const struct lx_http_req *r);
lx_str lx_http_ws_req_body(const struct lx_http_req *r);
lx_str lx_http_ws_req_header(const struct lx_http_req *r, const char *name);
size_t lx_http_ws_req_header_count(const struct lx_http_req *r);
void lx_http_ws_req_peer(const struct lx_http_req *r, char *out, size_t outlen);
bool lx_http_ws_req_client_gone(const struct lx_http_req *r);
void lx_http_ws_respond(struct lx_http_req *r, int status, const char *body, size_t len);
void lx_http_ws_stream_start(struct lx_http_req *r);
int lx_http_ws_stream_write(struct lx_http_req *r, const char *p, size_t n);
size_t lx_http_ws_stream_buffered(const struct lx_http_req *r);
void lx_http_ws_stream_end(struct lx_http_req *r);

#endif
