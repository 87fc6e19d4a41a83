/* api.c — route table and the small endpoints (see api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "../core/buf.h"
#include "../core/id.h"
#include "../dialect/chat.h"
#include "../route/route.h"
#include "admin.h"
#include "auth.h"
#include "responses_api.h"
#include "ws_api.h"

struct lx_api {
    struct lx_proxy *proxy;
    const struct lx_config *cfg;
    struct lx_api_auth *auth; /* NULL when auth is off */
    struct lx_api_responses *responses;
    struct lx_api_admin *admin; /* NULL when admin.enabled is off */
    struct lx_api_ws *ws;       /* WebSocket mode on /v1/responses */
};

struct lx_api *lx_api_new(uv_loop_t *loop, struct lx_proxy *proxy, const struct lx_config *cfg,
                          char *err, size_t errlen)
{
    struct lx_api *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->proxy = proxy;
    a->cfg = cfg;
    /* first: it has no handles, so a failure here leaves nothing to close */
    a->admin = lx_api_admin_new(loop, cfg, NULL, lx_proxy_audit(proxy), err, errlen);
    if (a->admin == NULL && err[0]) {
        free(a);
        return NULL;
    }
    if ((a->responses = lx_api_responses_new(loop, proxy)) == NULL ||
        (a->ws = lx_api_ws_new(proxy, cfg, lx_api_handle, a)) == NULL) {
        lx_api_responses_free(a->responses);
        snprintf(err, errlen, "out of memory");
        lx_api_admin_free(a->admin);
        free(a);
        return NULL;
    }
    if (cfg->auth.enabled &&
        (a->auth = lx_api_auth_new(loop, cfg->auth.store, err, errlen)) == NULL) {
        lx_api_ws_free(a->ws);
        lx_api_responses_free(a->responses);
        lx_api_admin_free(a->admin);
        free(a);
        return NULL;
    }
    lx_api_admin_set_auth(a->admin, a->auth);
    return a;
}

void lx_api_stop(struct lx_api *a)
{
    if (a)
        lx_api_auth_stop(a->auth);
}

void lx_api_free(struct lx_api *a)
{
    if (a == NULL)
        return;
    lx_api_auth_free(a->auth);
    lx_api_ws_free(a->ws);
    lx_api_responses_free(a->responses);
    lx_api_admin_free(a->admin);
    free(a);
}

uint32_t lx_api_in_flight(const struct lx_api *a)
{
    /* a WebSocket connection uses the proxy until it is closed */
    return a ? lx_api_responses_pending(a->responses) + lx_api_ws_connections(a->ws) : 0;
}

/* The key the client presented: "Authorization: Bearer KEY" (the scheme in
 * any case, RFC 9110 11.1), else "x-api-key: KEY" as Anthropic's clients
 * send it. A NULL view when there is none. */
static lx_str presented_key(struct lx_http_req *req)
{
    lx_str h = lx_http_req_header(req, "authorization");
    if (h.ptr && h.len > 7 && strncasecmp(h.ptr, "Bearer ", 7) == 0) {
        lx_str k = {h.ptr + 7, h.len - 7};
        while (k.len && k.ptr[0] == ' ')
            k.ptr++, k.len--;
        while (k.len && k.ptr[k.len - 1] == ' ')
            k.len--;
        return k;
    }
    lx_str x = lx_http_req_header(req, "x-api-key");
    return x.ptr && x.len ? x : LX_STR_NULL;
}

static bool key_allows(const void *key, lx_str model)
{
    return lx_store_key_allows(key, model);
}

/* Copies the key's settings into the caller (views into the keyring, which
 * lives through this callback; the proxy copies what it keeps). */
static void key_settings(struct lx_proxy_caller *c)
{
    const struct lx_store_key_settings *ks = lx_store_key_settings(c->key);
    c->tools = ks->tools;
    c->n_tools = ks->n_tools;
    c->tags = ks->tags;
    c->n_tags = ks->n_tags;
    c->max_concurrent = ks->max_concurrent;
    c->rpm = ks->rpm;
    c->tpm = ks->tpm;
    c->budget_usd = ks->budget_usd;
    c->spent_usd = ks->spent_usd;
    /* the admission queue's classes (route.h): the key's own, never unset */
    c->priority = ks->priority == LX_STORE_KEY_PRIORITY_HIGH  ? LX_ROUTE_PRIO_HIGH
                  : ks->priority == LX_STORE_KEY_PRIORITY_LOW ? LX_ROUTE_PRIO_LOW
                                                              : LX_ROUTE_PRIO_NORMAL;
}

/* The caller's valid key, or NULL after answering 401. The message never
 * repeats what the client sent. */
static const struct lx_store_key *authenticate(struct lx_api *a, struct lx_http_req *req,
                                               const char *rid)
{
    lx_str secret = presented_key(req);
    const struct lx_store_key *k = secret.ptr ? lx_api_auth_find(a->auth, secret) : NULL;
    if (k)
        return k;
    lx_proxy_reject(a->proxy, req, rid, 401,
                    secret.ptr ? "Incorrect API key provided. Keys are issued with "
                                 "`llmux keys create`."
                               : "You didn't provide an API key. You need to provide your API "
                                 "key in an Authorization header using Bearer auth (i.e. "
                                 "Authorization: Bearer YOUR_KEY) or in an x-api-key header.",
                    "invalid_request_error", "invalid_api_key");
    return NULL;
}

static void reply(struct lx_http_req *req, const char *rid, int status, lx_str body)
{
    lx_http_header h = {"x-request-id", rid, strlen(rid)};
    lx_http_respond(req, status, "application/json", &h, 1, body.ptr, body.len);
}

static void get_models(struct lx_api *a, struct lx_http_req *req, const char *rid)
{
    lx_buf b;
    lx_buf_init(&b, 16 * 1024 * 1024);
    lx_route_write_models(lx_proxy_route(a->proxy), &b);
    reply(req, rid, 200, lx_buf_str(&b));
    lx_buf_release(&b);
}

static void get_readyz(struct lx_api *a, struct lx_http_req *req, const char *rid)
{
    struct lx_route *r = lx_proxy_route(a->proxy);
    lx_buf b;
    lx_buf_init(&b, 16 * 1024 * 1024);
    lx_route_write_status(r, &b);
    reply(req, rid, lx_route_ready(r) ? 200 : 503, lx_buf_str(&b));
    lx_buf_release(&b);
}

static void get_metrics(struct lx_api *a, struct lx_http_req *req, const char *rid)
{
    lx_http_header h = {"x-request-id", rid, strlen(rid)};
    lx_buf b;
    lx_buf_init(&b, 16 * 1024 * 1024);
    if (lx_proxy_write_metrics(a->proxy, &b) == LX_OK)
        lx_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", &h, 1, b.data, b.len);
    else
        lx_proxy_reject(a->proxy, req, rid, 500, "The metrics could not be rendered.",
                        "server_error", NULL);
    lx_buf_release(&b);
}

/* Strips an optional "/v1" so both spellings route alike. */
static lx_str api_path(lx_str path)
{
    if (lx_str_starts_with(path, LX_STR_LIT("/v1/")))
        return (lx_str){path.ptr + 3, path.len - 3};
    return path;
}

static void not_found(struct lx_api *a, struct lx_http_req *req, const char *rid, lx_str method,
                      lx_str path, int status)
{
    char msg[320];
    snprintf(msg, sizeof(msg), "%s: %.*s %.*s",
             status == 405 ? "Method not allowed" : "Unknown request URL",
             (int)LX_MIN(method.len, 16), method.ptr, (int)LX_MIN(path.len, 200), path.ptr);
    lx_proxy_reject(a->proxy, req, rid, status, msg, "invalid_request_error",
                    status == 405 ? "method_not_allowed" : "unknown_url");
}

void lx_api_server_error(int status, const char *reason, char *body, size_t *len,
                         const char **content_type)
{
    char msg[128];
    lx_buf b;
    lx_buf_init(&b, LX_HTTP_ERROR_BODY_MAX - 1);
    if (status == 413)
        snprintf(msg, sizeof(msg), "The request body is larger than the gateway accepts.");
    else
        snprintf(msg, sizeof(msg), "%s.", reason ? reason : "Request refused");
    lx_chat_error_write(&b, msg, lx_chat_error_type(status), NULL,
                        status == 413 ? "request_too_large" : NULL);
    memcpy(body, b.data, b.len);
    *len = b.len;
    *content_type = "application/json";
    lx_buf_release(&b);
}

void lx_api_handle(struct lx_http_req *req, void *data)
{
    struct lx_api *a = data;
    char rid[LX_ID_REQUEST_LEN + 104];
    lx_str given = lx_http_req_header(req, "x-request-id");
    if (lx_id_request_valid(given))
        snprintf(rid, sizeof(rid), "%.*s", (int)given.len, given.ptr);
    else
        lx_id_request(rid);
    if (lx_http_req_header_count(req) > a->cfg->limits.max_headers) {
        lx_proxy_reject(a->proxy, req, rid, 431, "The request has too many header fields.",
                        "invalid_request_error", "too_many_headers");
        return;
    }
    lx_str method = lx_http_req_method(req), full = lx_http_req_path(req);
    lx_str path = api_path(full);
    if (lx_api_admin_handle(a->admin, req, rid, full, presented_key(req)) ||
        lx_api_admin_ops_handle(a->admin, a->proxy, req, rid, full, presented_key(req)))
        return;
    struct lx_proxy_caller caller = {.model_allowed = key_allows}, *as = NULL;
    if (a->auth && !lx_config_path_public(a->cfg, full.ptr, full.len)) {
        if ((caller.key = authenticate(a, req, rid)) == NULL)
            return;
        caller.key_id = lx_store_key_id(caller.key);
        key_settings(&caller);
        as = &caller;
    }
    bool get = lx_str_eq_cstr(method, "GET"), post = lx_str_eq_cstr(method, "POST");
    enum lx_api_responses_match match;
    if (lx_str_eq_cstr(full, "/healthz") && get) {
        reply(req, rid, 200, LX_STR_LIT("{\"status\":\"ok\"}"));
    } else if (lx_str_eq_cstr(full, "/readyz") && get) {
        get_readyz(a, req, rid);
    } else if (lx_str_eq_cstr(full, "/metrics") && get) {
        get_metrics(a, req, rid);
    } else if (lx_str_eq_cstr(path, "/models") && get) {
        get_models(a, req, rid);
    } else if (lx_str_eq_cstr(path, "/chat/completions") && post) {
        lx_proxy_handle_as(a->proxy, LX_PROXY_CHAT, req, rid, as);
    } else if (lx_str_eq_cstr(path, "/embeddings") && post) {
        lx_proxy_handle_as(a->proxy, LX_PROXY_EMBEDDINGS, req, rid, as);
    } else if (lx_str_eq_cstr(path, "/responses") && get && lx_http_req_is_websocket(req)) {
        lx_api_ws_open(a->ws, req, rid);
    } else if (lx_str_eq_cstr(path, "/responses") && post) {
        lx_proxy_handle_as(a->proxy, LX_PROXY_RESPONSES, req, rid, as);
    } else if (lx_str_eq_cstr(path, "/responses/input_tokens") && post) {
        lx_proxy_handle_as(a->proxy, LX_PROXY_RESP_INPUT_TOKENS, req, rid, as);
    } else if (lx_str_eq_cstr(path, "/responses/compact") && post) {
        lx_proxy_handle_as(a->proxy, LX_PROXY_RESP_COMPACT, req, rid, as);
    } else if ((match = lx_api_responses_handle(a->responses, req, rid, method, path,
                                                caller.key_id ? caller.key_id : "")) !=
               LX_API_RESP_NOT_OURS) {
        if (match == LX_API_RESP_WRONG_METHOD)
            not_found(a, req, rid, method, full, 405);
    } else {
        bool known = lx_str_eq_cstr(path, "/chat/completions") ||
                     lx_str_eq_cstr(path, "/embeddings") || lx_str_eq_cstr(path, "/models") ||
                     lx_str_eq_cstr(path, "/responses") || lx_str_eq_cstr(full, "/healthz") ||
                     lx_str_eq_cstr(full, "/readyz") || lx_str_eq_cstr(full, "/metrics");
        not_found(a, req, rid, method, full, known ? 405 : 404);
    }
}
