/*
 * api.h — the HTTP endpoints of the gateway.
 *
 *   POST /v1/chat/completions   proxied (plain and streamed)
 *   POST /v1/embeddings         proxied
 *   GET  /v1/models             the public model names
 *   GET  /healthz               the process is alive
 *   GET  /readyz                at least one backend is healthy (503 if not)
 *   GET|DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items,
 *   POST /v1/responses/{id}/cancel   stored responses (responses_api.h)
 *   GET  /metrics               Prometheus text format 0.0.4 (docs/metrics.md)
 *   /admin/keys[/{id}]          the admin API (admin.h), with admin.enabled
 *
 * The /v1 prefix is optional on the proxied routes, as for the OpenAI
 * API. Every answer carries x-request-id: the client's when it sent a
 * valid one, a new one otherwise. Unknown routes get OpenAI's 404 shape.
 *
 * With auth.enabled, every path but auth.public_paths needs a valid key
 * from the key store, as "Authorization: Bearer KEY" or "x-api-key: KEY":
 * none, an unknown or a revoked one is answered 401 invalid_api_key; a key
 * that does not allow the requested model, 403 model_not_allowed; the
 * key's other settings (tools, max_concurrent, budget, tags) go to the
 * proxy with the request (struct lx_proxy_caller).
 */
#ifndef LX_API_H
#define LX_API_H

#include "../http/http.h"
#include "../proxy/proxy.h"

struct lx_api;

/* The api borrows proxy, which must outlive it. With auth enabled it
 * opens the key store cfg->auth.store and refreshes its keys on loop;
 * NULL with a message in err on failure. */
struct lx_api *lx_api_new(uv_loop_t *loop, struct lx_proxy *proxy, const struct lx_config *cfg,
                          char *err, size_t errlen);
/* Closes the api's handles (the key refresh timer); run the loop after. */
void lx_api_stop(struct lx_api *a);
/* Requests the api itself is answering (waiting for the responses store):
 * the server drains them like the proxy's exchanges. */
uint32_t lx_api_in_flight(const struct lx_api *a);
/* Frees the api once the loop has closed its handles. */
void lx_api_free(struct lx_api *a);
/* The body of an error the http server answers by itself, in OpenAI's
 * shape (an lx_http_error_fn). */
void lx_api_server_error(int status, const char *reason, char *body, size_t *len,
                         const char **content_type);
/* The http handler: pass it to lx_http_server_new() with the api as data. */
void lx_api_handle(struct lx_http_req *req, void *api);

#endif
