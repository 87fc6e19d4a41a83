/*
 * itemref.h — `item_reference` input items on /v1/responses, resolved from
 * the response store before translation (RESPONSES.md 3, "resolved by the
 * gateway into the above before translation").
 *
 * Clients that keep `store: true` (the default) may send an item they got
 * back earlier as {"type":"item_reference","id":"rs_…"} instead of the item
 * itself: the Vercel AI SDK's OpenAI provider does so for reasoning items of
 * reasoning models. The decoder leaves references out of ex->ir and counts
 * them (ir.nrefs); this module finds each referenced item in the stored
 * response whose id the item id carries (gateway item ids are
 * "<prefix>_<the response id's 32 hex digits>_<n>", responses.c), splices
 * the stored item into the body in place of the reference, and decodes the
 * body again. A reference that names no stored item (another key's, an
 * expired or store:false response, an id the gateway did not make) is a 404
 * in OpenAI's shape with param "input", and nothing goes upstream.
 */
#ifndef LX_PROXY_ITEMREF_H
#define LX_PROXY_ITEMREF_H

#include "proxy_int.h"

enum {
    LX_PROXY_ITEMREF_MAX = 64,          /* references in one request */
    LX_PROXY_ITEMREF_MAX_RESPONSES = 8, /* distinct stored responses they name */
};

/* Starts resolving ex->ir's item references (ex->ir.nrefs > 0). On success
 * ex->ir is decoded again from the rewritten body, which ex->resp_body then
 * holds (in ex->arena), and next(ex) runs; on failure the client is answered
 * and next does not run. Store lookups run asynchronously with
 * ex->store_pending set, like previous_response_id's. */
void lx_proxy_itemref_resolve(struct exchange *ex, void (*next)(struct exchange *ex));

/* The Responses request body as the gateway reads it: ex->resp_body once
 * item references were resolved, else the client's body. */
lx_str lx_proxy_resp_body(struct exchange *ex);

/* Writes into out ("resp_" + 32 hex digits, NUL-terminated, out_len >= 38)
 * the response id a gateway-made item id carries. Returns LX_OK, or LX_ERR
 * when id is not of that shape. Pure; exposed for the unit tests. */
int lx_proxy_itemref_response_id(lx_str id, char *out, size_t out_len);

#endif
