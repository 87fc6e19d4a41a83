/*
 * ws_api.h — private to src/api/: WebSocket mode on /v1/responses (Open
 * Responses 2026-04-24, OpenAI's WebSocket mode; RESPONSES.md 8).
 *
 * A client opens a WebSocket on /v1/responses (authenticated at the
 * handshake like any request) and sends {"type":"response.create", ...}
 * text messages: the CreateResponse body without stream, stream_options
 * and background. Each message becomes a POST /v1/responses with
 * "stream":true, handled by the api's own handler (so every frame passes
 * auth, limits and policy again); the answer's events come back as one
 * JSON text message each, exactly the SSE events. Messages are handled one
 * at a time in order (http.h). Errors come as
 * {"type":"error","status":N,"error":{type,code,message,param}}; an error
 * answer to a frame that named previous_response_id evicts that id from the
 * connection's cache of store:false responses. After
 * responses.websocket.max_connection_ms the connection gets the error
 * websocket_connection_limit_reached and is closed.
 */
#ifndef LX_API_WS_H
#define LX_API_WS_H

#include "../http/http.h"
#include "../proxy/proxy.h"

struct lx_api_ws;

/* handle(req, handle_data) is the api's request handler the messages'
 * virtual requests go to. Borrows proxy and cfg. */
struct lx_api_ws *lx_api_ws_new(struct lx_proxy *proxy, const struct lx_config *cfg,
                                lx_http_handler_fn handle, void *handle_data);
/* Frees w; every connection must have closed (lx_api_ws_connections). */
void lx_api_ws_free(struct lx_api_ws *w);
/* Turns the handshake req into a WebSocket connection, or answers it with
 * an error. */
void lx_api_ws_open(struct lx_api_ws *w, struct lx_http_req *req, const char *request_id);
/* WebSocket connections open now. */
uint32_t lx_api_ws_connections(const struct lx_api_ws *w);

#endif
