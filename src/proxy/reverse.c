/*
 * reverse.c — a Chat Completions client served by a backend that speaks
 * only Responses (a backend of dialect `responses`; RESPONSES.md 13).
 *
 * Per attempt on such a backend: the chat request, decoded once into the
 * IR (ex->ir), is written as a Responses body (store:false: the gateway
 * keeps no state for a chat client) for that deployment's model and sent
 * to /responses. The answer comes back as a chat.completion (whole) or as
 * chat chunks (streamed); both then go through the chat client's own
 * pipeline in exchange.c (tally, redaction, tool allowlists, tool-call
 * checks), exactly as an answer from a chat backend would, so every
 * policy applies the same way whatever the backend speaks.
 */
#define _GNU_SOURCE /* memmem */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/id.h"
#include "../dialect/reverse.h"

bool lx_proxy_rev_wanted(struct exchange *ex)
{
    ex->reverse = ex->endpoint == LX_PROXY_CHAT &&
                  ex->cfg->backends[ex->backend_index].dialect == LX_DIALECT_RESPONSES;
    return ex->reverse;
}

/* The held buffer for translated output, made at first use. */
static lx_buf *out_buf(struct exchange *ex)
{
    if (ex->rev_out == NULL) {
        ex->rev_out = malloc(sizeof(*ex->rev_out));
        if (ex->rev_out == NULL)
            return NULL;
        const struct lx_config_limits *lim = &ex->cfg->limits;
        lx_buf_init(ex->rev_out,
                    LX_MAX(lim->max_response_bytes, lim->max_sse_event_bytes) * 2 + 64 * 1024);
    }
    lx_buf_reset(ex->rev_out);
    return ex->rev_out;
}

int lx_proxy_rev_encode(struct exchange *ex)
{
    if (!ex->rev_decoded) {
        struct lx_resp_fault f;
        struct lx_chat_ir_extra x = {0};
        if (lx_chat_ir_request_decode(&ex->ir, &x, ex->cr.json.src, ex->cr.json.len, &ex->arena,
                                      ex->cfg->limits.max_json_depth, &f) != LX_OK) {
            char msg[400];
            snprintf(msg, sizeof(msg),
                     "Model `%.100s` is served by a Responses backend here: %.250s", ex->model,
                     f.message);
            lx_ex_respond_error(ex, 400, msg, "invalid_request_error", f.param[0] ? f.param : NULL,
                                f.code);
            return LX_AGAIN;
        }
        ex->rev_include_usage = x.include_usage;
        /* chat ids are not capabilities: the thread's generator is enough */
        snprintf(ex->resp_id, sizeof(ex->resp_id), "%016llx%08x",
                 (unsigned long long)lx_id_random64(), (unsigned)(lx_id_random64() >> 32));
        ex->meta.created_at = (int64_t)time(NULL);
        ex->rev_decoded = true;
    }
    struct lx_resp_ir_opts o = {.model = ex->upstream_model};
    return lx_resp_ir_request_encode(&ex->ir, &o, &ex->upstream_body);
}

static struct lx_chat_ir_meta meta(const struct exchange *ex)
{
    return (struct lx_chat_ir_meta){
        .id_base = ex->resp_id,
        .model = lx_json_value_text(&ex->cr.json, ex->cr.model),
        .created = ex->meta.created_at,
    };
}

int lx_proxy_rev_whole(struct exchange *ex, lx_str *body)
{
    struct lx_ir_result res;
    struct lx_resp_fault f;
    lx_arena_reset(&ex->scratch);
    int rc = lx_resp_ir_result_decode(&res, body->ptr, body->len, &ex->scratch,
                                      ex->cfg->limits.max_json_depth, &f);
    if (rc != LX_OK) {
        if (f.message[0])
            lx_ex_respond_error(ex, 500, f.message, "server_error", NULL,
                                f.code ? f.code : "server_error");
        else
            lx_ex_respond_error(ex, 502, "The backend's answer is not a Responses response.",
                                "server_error", NULL, "upstream_invalid_response");
        lx_arena_reset(&ex->scratch);
        return LX_ERR;
    }
    lx_buf *out = out_buf(ex);
    struct lx_chat_ir_meta m = meta(ex);
    rc = out ? lx_chat_ir_completion_write(&res, &m, out) : LX_ERR;
    lx_arena_reset(&ex->scratch);
    if (rc != LX_OK) {
        lx_ex_respond_error(ex, 502, "The backend's answer is too large to translate.",
                            "server_error", NULL, "upstream_too_large");
        return LX_ERR;
    }
    *body = lx_buf_str(out);
    return LX_OK;
}

int lx_proxy_each_chunk(struct exchange *ex, lx_str chunks,
                        int (*fn)(struct exchange *ex, lx_str data))
{
    const char *p = chunks.ptr, *end = chunks.ptr + chunks.len;
    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (stop == NULL || (size_t)(stop - p) < 6 || memcmp(p, "data: ", 6) != 0)
            return LX_ERR; /* the gateway's own buffers hold nothing else */
        int rc = fn(ex, (lx_str){p + 6, (size_t)(stop - p - 6)});
        if (rc != LX_OK)
            return rc;
        p = stop + 2;
    }
    return LX_OK;
}

/* Feeds the translated chunks to the chat pipeline. */
static int relay_chunks(struct exchange *ex, lx_str chunks)
{
    return lx_proxy_each_chunk(ex, chunks, lx_ex_chat_event);
}

int lx_proxy_rev_event(struct exchange *ex, const lx_sse_event *ev)
{
    if (ex->crs == NULL) {
        ex->crs = lx_chat_from_resp_new(ex->resp_id, lx_json_value_text(&ex->cr.json, ex->cr.model),
                                        ex->meta.created_at, ex->rev_include_usage);
        if (ex->crs == NULL)
            return LX_ERR;
    }
    lx_buf *out = out_buf(ex);
    if (out == NULL)
        return LX_ERR;
    int rc = lx_chat_from_resp_event(ex->crs, ev->event, ev->data, out);
    if (rc == LX_ERR)
        lx_chat_from_resp_fail(ex->crs, "upstream_malformed_event",
                               "The backend sent a stream event the gateway could not translate.",
                               out);
    int sent = relay_chunks(ex, lx_buf_str(out));
    lx_buf_reset(out);
    if (sent != LX_OK)
        return sent;
    return rc == LX_ERR ? 1 /* the stream has ended */ : LX_OK;
}

void lx_proxy_rev_stream_end(struct exchange *ex)
{
    if (ex->req == NULL || ex->client_finished)
        return;
    if (ex->crs == NULL || !ex->client_started) {
        lx_ex_respond_error(ex, 502, "The backend ended the stream without sending an event.",
                            "server_error", NULL, "upstream_incomplete");
        return;
    }
    lx_buf *out = out_buf(ex);
    if (out)
        lx_chat_from_resp_fail(ex->crs, "upstream_incomplete",
                               "The backend ended the stream before it was complete.", out);
    if (out == NULL || relay_chunks(ex, lx_buf_str(out)) == LX_OK)
        lx_ex_client_end(ex);
    if (out)
        lx_buf_reset(out);
}

void lx_proxy_rev_reset(struct exchange *ex, bool all)
{
    if (ex->crs) {
        lx_chat_from_resp_free(ex->crs);
        ex->crs = NULL;
    }
    if (all && ex->rev_out) {
        lx_buf_release(ex->rev_out);
        free(ex->rev_out);
        ex->rev_out = NULL;
    }
}
