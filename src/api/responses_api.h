/*
 * responses_api.h — private to src/api/: the endpoints that read the
 * stored responses (store/responses.h).
 *
 *   GET    /v1/responses/{id}               the stored response object
 *   DELETE /v1/responses/{id}               {"id","object":"response","deleted":true}
 *   GET    /v1/responses/{id}/input_items   a page of the input items (limit 1-100,
 *                                           default 20; order asc|desc, default desc;
 *                                           after, before: item ids; include: ignored,
 *                                           the items are stored whole)
 *   POST   /v1/responses/{id}/cancel        400: llmux has no background mode, and
 *                                           only background responses can be cancelled
 *
 * An unknown id, an expired one, another key's and any id while storing is
 * off are all 404 "Response with id '...' not found." in OpenAI's shape. A
 * cursor (after/before) that names no item of the list is a 400 with
 * param "after" or "before". GET with stream=true is a 400 (no replay).
 * Each request writes an audit record (lx_proxy_write_note()).
 */
#ifndef LX_API_RESPONSES_H
#define LX_API_RESPONSES_H

#include "../http/http.h"
#include "../proxy/proxy.h"

struct lx_api_responses;

/* The endpoints for proxy's store (lx_proxy_resp_store(), NULL when off),
 * answering on loop. NULL when out of memory. */
struct lx_api_responses *lx_api_responses_new(uv_loop_t *loop, struct lx_proxy *proxy);
/* Frees r; no request may be pending (lx_api_responses_pending() is 0,
 * which holds once the loop has run to its end). */
void lx_api_responses_free(struct lx_api_responses *r);
/* Requests waiting for the store. */
uint32_t lx_api_responses_pending(const struct lx_api_responses *r);

enum lx_api_responses_match {
    LX_API_RESP_NOT_OURS,     /* the path is none of the endpoints above */
    LX_API_RESP_HANDLED,      /* answered, or will be once the store answers */
    LX_API_RESP_WRONG_METHOD, /* one of our paths with another method: the caller answers 405 */
};

/* Handles the request when path (without "/v1") is one of the endpoints.
 * key_id is the caller's public key id, "" without auth; request_id and
 * key_id are copied. */
enum lx_api_responses_match lx_api_responses_handle(struct lx_api_responses *r,
                                                    struct lx_http_req *req, const char *request_id,
                                                    lx_str method, lx_str path, const char *key_id);

#endif
