/*
 * ws_api.c — WebSocket mode on /v1/responses (see ws_api.h).
 *
 * The http module frames the connection and turns each message into a
 * virtual request; this file checks the message (a response.create event,
 * no transport fields), rewrites it into the POST body the exchange knows
 * ("type" dropped, "stream":true added — a splice over jsmn tokens, the
 * members are copied as they came), and shapes the error messages.
 */
#include "ws_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/arena.h"
#include "../core/id.h"
#include "../dialect/chat.h"
#include "../json/json.h"
#include "../store/responses.h"

struct lx_api_ws {
    struct lx_proxy *proxy;
    const struct lx_config *cfg;
    lx_http_handler_fn handle;
    void *handle_data;
    uint32_t n_conns;
};

/* One connection. */
struct conn {
    struct lx_api_ws *w;
    struct lx_proxy_resp_cache *cache;
    /* the previous_response_id of the message being handled, "" if none:
     * an error answer evicts it (RESPONSES.md 8) */
    char prev[LX_STORE_RESP_MAX_ID + 1];
};

enum { ARENA_BYTES = 64 * 1024 };

struct lx_api_ws *lx_api_ws_new(struct lx_proxy *proxy, const struct lx_config *cfg,
                                lx_http_handler_fn handle, void *handle_data)
{
    struct lx_api_ws *w = calloc(1, sizeof(*w));
    if (w) {
        w->proxy = proxy;
        w->cfg = cfg;
        w->handle = handle;
        w->handle_data = handle_data;
    }
    return w;
}

void lx_api_ws_free(struct lx_api_ws *w)
{
    free(w);
}

uint32_t lx_api_ws_connections(const struct lx_api_ws *w)
{
    return w ? w->n_conns : 0;
}

/* ---- messages ------------------------------------------------------------- */

static void refuse(struct conn *c, struct lx_http_req *req, const char *message, const char *code)
{
    char rid[LX_ID_REQUEST_LEN + 1];
    lx_id_request(rid);
    lx_proxy_reject(c->w->proxy, req, rid, 400, message, "invalid_request_error", code);
}

/* The transport fields a WebSocket response.create must not carry
 * (openresponses-openapi.json, WebSocketResponseCreateEvent). */
static const char *const transport_fields[] = {"stream", "stream_options", "background"};

/* Writes the POST body for the event at the root of j into out: its
 * members but "type", then "stream":true. */
static int rewrite(const lx_json *j, lx_buf *out)
{
    int n = lx_json_size(j, 0), k = 1;
    bool first = true;
    if (lx_buf_append_char(out, '{') != LX_OK)
        return LX_ERR;
    for (int m = 0; m < n; m++) {
        int v = k + 1;
        if (!lx_json_str_eq(j, k, "type")) {
            lx_str key = lx_json_value_text(j, k), val = lx_json_value_text(j, v);
            if ((!first && lx_buf_append_char(out, ',') != LX_OK) ||
                lx_buf_append_str(out, key) != LX_OK || lx_buf_append_char(out, ':') != LX_OK ||
                lx_buf_append_str(out, val) != LX_OK)
                return LX_ERR;
            first = false;
        }
        k = lx_json_skip(j, v);
    }
    if (!first && lx_buf_append_char(out, ',') != LX_OK)
        return LX_ERR;
    return lx_buf_append_cstr(out, "\"stream\":true}");
}

/* Checks the event and turns it into the request's body; answers the
 * request with an error and returns LX_ERR when it is no valid event. */
static int prepare(struct conn *c, struct lx_http_req *req, lx_arena *a, lx_buf *body)
{
    lx_str msg = lx_http_req_body(req);
    lx_json j;
    char text[160];
    if (lx_json_parse(&j, msg.ptr, msg.len, a, c->w->cfg->limits.max_json_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0)) {
        refuse(c, req, "The message is not a JSON object; send a response.create event.",
               "invalid_json");
        return LX_ERR;
    }
    int type = lx_json_get(&j, 0, "type");
    if (type < 0 || !lx_json_str_eq(&j, type, "response.create")) {
        lx_str t = type >= 0 ? lx_json_raw(&j, type) : LX_STR_LIT("");
        snprintf(text, sizeof(text),
                 "Unsupported event type '%.*s'; this connection accepts response.create.",
                 (int)LX_MIN(t.len, 64), t.ptr);
        refuse(c, req, text, "invalid_event_type");
        return LX_ERR;
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(transport_fields); i++) {
        if (lx_json_get(&j, 0, transport_fields[i]) >= 0) {
            snprintf(text, sizeof(text),
                     "'%s' is not allowed in WebSocket mode: every response is streamed over "
                     "the connection.",
                     transport_fields[i]);
            refuse(c, req, text, "unsupported_parameter");
            return LX_ERR;
        }
    }
    int prev = lx_json_get(&j, 0, "previous_response_id");
    if (prev >= 0 && lx_json_is_string(&j, prev)) {
        lx_str p = lx_json_raw(&j, prev);
        if (p.len < sizeof(c->prev)) {
            memcpy(c->prev, p.ptr, p.len);
            c->prev[p.len] = '\0';
        }
    }
    if (rewrite(&j, body) != LX_OK) {
        refuse(c, req, "The message is too large.", "request_too_large");
        return LX_ERR;
    }
    return LX_OK;
}

static void on_message(struct lx_http_req *req, void *data)
{
    struct conn *c = data;
    c->prev[0] = '\0';
    lx_arena a;
    lx_buf body;
    lx_arena_init(&a, ARENA_BYTES + lx_http_req_body(req).len * 2);
    lx_buf_init(&body, lx_http_req_body(req).len + 32);
    if (prepare(c, req, &a, &body) == LX_OK) {
        if (lx_http_ws_req_set_body(req, body.data, body.len) == LX_OK)
            c->w->handle(req, c->w->handle_data);
        else
            refuse(c, req, "The gateway ran out of memory.", "server_error");
    }
    lx_buf_release(&body);
    lx_arena_release(&a);
}

/* ---- what the connection sends -------------------------------------------- */

static void error_event(lx_jw *w, int status, lx_str error_object)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, "error");
    lx_jw_key(w, "status");
    lx_jw_int(w, status);
    lx_jw_key(w, "error");
    lx_jw_raw(w, error_object.ptr, error_object.len);
    lx_jw_obj_close(w);
}

/* A whole answer: errors in Open Responses' WebSocket envelope around the
 * body's OpenAI error object; anything else as it is. */
static void answer_frame(void *data, int status, lx_str body, lx_buf *out)
{
    struct conn *c = data;
    if (status < 400) {
        lx_buf_append_str(out, body);
        return;
    }
    if (c->prev[0]) /* a failed continuation: the id is not to be trusted again */
        lx_proxy_resp_cache_evict(c->cache, (lx_str){c->prev, strlen(c->prev)});
    lx_arena a;
    lx_arena_init(&a, ARENA_BYTES + body.len * 2);
    lx_json j;
    int err = -1;
    if (lx_json_parse(&j, body.ptr, body.len, &a, c->w->cfg->limits.max_json_depth) == LX_JSON_OK &&
        lx_json_is_object(&j, 0))
        err = lx_json_get(&j, 0, "error");
    lx_jw w;
    lx_jw_init(&w, out);
    if (err >= 0 && lx_json_is_object(&j, err)) {
        error_event(&w, status, lx_json_value_text(&j, err));
    } else {
        lx_buf e;
        lx_buf_init(&e, 1024);
        lx_chat_error_write(&e, "The gateway could not answer the request.",
                            lx_chat_error_type(status), NULL, NULL);
        error_event(&w, status, (lx_str){e.data + 9, e.len - 10}); /* {"error":{...}} */
        lx_buf_release(&e);
    }
    lx_arena_release(&a);
}

static void error_frame(void *data, int status, const char *code, const char *message, lx_buf *out)
{
    lx_buf e;
    lx_buf_init(&e, 2048);
    lx_chat_error_write(&e, message, lx_chat_error_type(status), NULL, code);
    answer_frame(data, status, lx_buf_str(&e), out);
    lx_buf_release(&e);
}

static void on_close(void *data)
{
    struct conn *c = data;
    c->w->n_conns--;
    lx_proxy_resp_cache_free(c->cache);
    free(c);
}

void lx_api_ws_open(struct lx_api_ws *w, struct lx_http_req *req, const char *request_id)
{
    const struct lx_config *cfg = w->cfg;
    struct conn *c = calloc(1, sizeof(*c));
    if (c)
        c->cache = lx_proxy_resp_cache_new(cfg->responses.websocket.max_cached);
    if (c == NULL || c->cache == NULL) {
        free(c);
        lx_proxy_reject(w->proxy, req, request_id, 500, "The gateway ran out of memory.",
                        "server_error", "server_error");
        return;
    }
    c->w = w;
    size_t max_msg = cfg->responses.websocket.max_message_bytes;
    struct lx_http_ws_opts o = {
        .max_message_bytes = max_msg ? max_msg : cfg->limits.max_body_bytes,
        .max_queued = cfg->responses.websocket.max_queued,
        .max_connection_ms = cfg->responses.websocket.max_connection_ms,
        .on_message = on_message,
        .answer_frame = answer_frame,
        .error_frame = error_frame,
        .on_close = on_close,
        .data = c,
        .conn_cache = c->cache,
    };
    if (lx_http_ws_accept(req, &o) != LX_OK) {
        lx_proxy_resp_cache_free(c->cache);
        free(c);
        lx_proxy_reject(w->proxy, req, request_id, 400, "The WebSocket handshake is invalid.",
                        "invalid_request_error", "invalid_websocket_handshake");
        return;
    }
    w->n_conns++;
}
