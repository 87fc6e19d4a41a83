/*
 * itemref.c — item_reference inputs resolved from the response store
 * (itemref.h). One lookup per distinct response named, one after another;
 * the job lives in the exchange's arena, and the exchange is kept alive
 * across each lookup by store_pending (resp.c does the same for
 * previous_response_id).
 */
#include "itemref.h"

#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../json/json.h"
#include "../store/responses.h"

struct ref {
    int tok;     /* the reference object in the body */
    lx_str id;   /* its id, raw (no quotes) */
    lx_str item; /* the stored item's JSON text (arena), once found */
};

struct job {
    struct exchange *ex;
    void (*next)(struct exchange *ex);
    lx_json body; /* the client's body */
    int input;    /* its input array */
    struct ref refs[LX_PROXY_ITEMREF_MAX];
    uint32_t nrefs;
    char resp[LX_PROXY_ITEMREF_MAX_RESPONSES][LX_STORE_RESP_MAX_ID + 1];
    uint32_t nresp, at; /* responses named; the one being looked up */
};

static bool is_hex32(const char *p)
{
    for (int i = 0; i < 32; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

int lx_proxy_itemref_response_id(lx_str id, char *out, size_t out_len)
{
    const char *us = memchr(id.ptr, '_', id.len);
    if (us == NULL || out_len < 38)
        return LX_ERR;
    size_t off = (size_t)(us - id.ptr) + 1;
    /* "<prefix>_" 32 hex "_" digits */
    if (id.len < off + 34 || !is_hex32(id.ptr + off) || id.ptr[off + 32] != '_')
        return LX_ERR;
    for (size_t i = off + 33; i < id.len; i++)
        if (id.ptr[i] < '0' || id.ptr[i] > '9')
            return LX_ERR;
    memcpy(out, "resp_", 5);
    memcpy(out + 5, id.ptr + off, 32);
    out[37] = '\0';
    return LX_OK;
}

lx_str lx_proxy_resp_body(struct exchange *ex)
{
    return ex->resp_body.ptr ? ex->resp_body : lx_http_req_body(ex->req);
}

static void not_found(struct exchange *ex, lx_str id)
{
    char msg[400];
    snprintf(msg, sizeof(msg),
             "Item with id '%.*s' not found. Items are kept only for stored responses "
             "(store: true) of the same API key; send the item itself instead.",
             (int)LX_MIN(id.len, 200), id.ptr);
    lx_ex_respond_error(ex, 404, msg, "invalid_request_error", "input", NULL);
}

/* Collects the references and the responses they name; answers and
 * returns LX_ERR on a reference that cannot be resolved. */
static int collect(struct job *jb)
{
    struct exchange *ex = jb->ex;
    const lx_json *j = &jb->body;
    int n = lx_json_size(j, jb->input), i = jb->input + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        if (!lx_json_is_object(j, i) ||
            !lx_json_str_eq(j, lx_json_get(j, i, "type"), "item_reference"))
            continue;
        lx_str id = lx_json_raw(j, lx_json_get(j, i, "id"));
        char rid[LX_STORE_RESP_MAX_ID + 1];
        if (jb->nrefs == LX_PROXY_ITEMREF_MAX) {
            lx_ex_respond_error(ex, 400, "Too many item references (at most 64).",
                                "invalid_request_error", "input", "array_above_max_length");
            return LX_ERR;
        }
        if (lx_proxy_itemref_response_id(id, rid, sizeof(rid)) != LX_OK) {
            not_found(ex, id);
            return LX_ERR;
        }
        jb->refs[jb->nrefs++] = (struct ref){.tok = i, .id = id};
        uint32_t r = 0;
        while (r < jb->nresp && strcmp(jb->resp[r], rid) != 0)
            r++;
        if (r < jb->nresp)
            continue;
        if (jb->nresp == LX_PROXY_ITEMREF_MAX_RESPONSES) {
            lx_ex_respond_error(ex, 400,
                                "Item references name too many responses (at most 8) in one "
                                "request.",
                                "invalid_request_error", "input", "array_above_max_length");
            return LX_ERR;
        }
        memcpy(jb->resp[jb->nresp++], rid, sizeof(rid));
    }
    return LX_OK;
}

/* Copies into the arena every item of the JSON array text that a pending
 * reference names. */
static int take_items(struct job *jb, const char *text, size_t len)
{
    struct exchange *ex = jb->ex;
    lx_json a;
    if (lx_json_parse(&a, text, len, &ex->arena, ex->cfg->limits.max_json_depth) != LX_JSON_OK ||
        !lx_json_is_array(&a, 0))
        return LX_ERR;
    int n = lx_json_size(&a, 0), i = 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(&a, i)) {
        int idt = lx_json_is_object(&a, i) ? lx_json_get(&a, i, "id") : -1;
        if (idt < 0 || !lx_json_is_string(&a, idt))
            continue;
        lx_str id = lx_json_raw(&a, idt);
        for (uint32_t r = 0; r < jb->nrefs; r++) {
            if (jb->refs[r].item.ptr || !lx_str_eq(jb->refs[r].id, id))
                continue;
            lx_str t = lx_json_value_text(&a, i);
            char *copy = lx_arena_strndup(&ex->arena, t.ptr, t.len);
            if (copy == NULL)
                return LX_ERR;
            jb->refs[r].item = (lx_str){copy, t.len};
        }
    }
    return LX_OK;
}

/* The body with every reference replaced by its item, decoded again. */
static int rewrite(struct job *jb)
{
    struct exchange *ex = jb->ex;
    const lx_json *j = &jb->body;
    lx_str body = lx_http_req_body(ex->req);
    lx_str in = lx_json_value_text(j, jb->input);
    size_t cap = body.len + 2;
    for (uint32_t r = 0; r < jb->nrefs; r++)
        cap += jb->refs[r].item.len;
    lx_buf b;
    lx_buf_init(&b, cap);
    bool ok = lx_buf_append(&b, body.ptr, (size_t)(in.ptr - body.ptr)) == LX_OK &&
              lx_buf_append_char(&b, '[') == LX_OK;
    int n = lx_json_size(j, jb->input), i = jb->input + 1;
    uint32_t r = 0;
    for (int k = 0; ok && k < n; k++, i = lx_json_skip(j, i)) {
        lx_str t = lx_json_value_text(j, i);
        if (r < jb->nrefs && jb->refs[r].tok == i)
            t = jb->refs[r++].item;
        ok = (k == 0 || lx_buf_append_char(&b, ',') == LX_OK) && lx_buf_append_str(&b, t) == LX_OK;
    }
    const char *tail = in.ptr + in.len;
    ok = ok && lx_buf_append_char(&b, ']') == LX_OK &&
         lx_buf_append(&b, tail, (size_t)(body.ptr + body.len - tail)) == LX_OK;
    char *copy = ok ? lx_arena_strndup(&ex->arena, b.data, b.len) : NULL;
    size_t len = b.len;
    lx_buf_release(&b);
    if (copy == NULL)
        return LX_ERR;
    struct lx_resp_fault f;
    if (lx_resp_request_decode(&ex->ir, copy, len, &ex->arena, ex->cfg->limits.max_json_depth,
                               &f) != LX_OK) {
        lx_ex_respond_error(ex, 400, f.message, "invalid_request_error",
                            f.param[0] ? f.param : NULL, f.code);
        return LX_AGAIN; /* answered */
    }
    ex->resp_body = (lx_str){copy, len};
    return LX_OK;
}

static void lookup_next(struct job *jb);

static void on_stored(void *data, int rc, const struct lx_store_resp_rec *rec)
{
    struct job *jb = data;
    struct exchange *ex = jb->ex;
    ex->store_pending = false;
    if (ex->req == NULL || ex->client_finished) {
        lx_ex_maybe_free(ex);
        return;
    }
    if (rc == LX_OK && (take_items(jb, rec->output, rec->output_len) != LX_OK ||
                        take_items(jb, rec->input, rec->input_len) != LX_OK))
        rc = LX_ERR;
    if (rc != LX_OK && rc != LX_STORE_RESP_NOT_FOUND) {
        lx_ex_respond_error(ex, 500, "The gateway could not read a referenced item.",
                            "server_error", NULL, "store_failed");
    } else {
        jb->at++;
        lookup_next(jb);
    }
    lx_ex_maybe_free(ex);
}

static void lookup_next(struct job *jb)
{
    struct exchange *ex = jb->ex;
    if (jb->at < jb->nresp) {
        int rc = lx_store_resp_get(ex->p->resp_store, ex->p->loop, jb->resp[jb->at], ex->key_id,
                                   on_stored, jb);
        if (rc != LX_OK)
            lx_ex_respond_error(ex, 503, "The response store is busy; try again.", "server_error",
                                NULL, "store_busy");
        else
            ex->store_pending = true;
        return;
    }
    for (uint32_t r = 0; r < jb->nrefs; r++) {
        if (jb->refs[r].item.ptr == NULL) {
            not_found(ex, jb->refs[r].id);
            return;
        }
    }
    int rc = rewrite(jb);
    /* the tools were decoded again with the items: checked again (resp.c
     * does the same after previous_response_id) */
    if (rc == LX_OK && lx_proxy_tools_check_request(ex) == LX_OK)
        jb->next(ex);
    else if (rc == LX_ERR)
        lx_ex_respond_error(ex, 500, "The gateway could not rebuild the request.", "server_error",
                            NULL, "server_error");
}

void lx_proxy_itemref_resolve(struct exchange *ex, void (*next)(struct exchange *ex))
{
    struct job *jb = lx_arena_alloc(&ex->arena, sizeof(*jb));
    lx_str body = lx_http_req_body(ex->req);
    if (jb == NULL) {
        lx_ex_respond_error(ex, 500, "The gateway ran out of memory for this request.",
                            "server_error", NULL, "server_error");
        return;
    }
    *jb = (struct job){.ex = ex, .next = next};
    if (lx_json_parse(&jb->body, body.ptr, body.len, &ex->arena, ex->cfg->limits.max_json_depth) !=
            LX_JSON_OK ||
        (jb->input = lx_json_get(&jb->body, 0, "input")) < 0 ||
        !lx_json_is_array(&jb->body, jb->input)) {
        lx_ex_respond_error(ex, 500, "The gateway could not read the request again.",
                            "server_error", NULL, "server_error");
        return;
    }
    if (collect(jb) != LX_OK)
        return;
    if (ex->p->resp_store == NULL) {
        not_found(ex, jb->refs[0].id);
        return;
    }
    lookup_next(jb);
}
