/*
 * redaction.c — config.redaction applied to a chat exchange (proxy_int.h).
 *
 * Per exchange: one context for the input detectors (its pseudonym table
 * is what restoration reads) and one for the output detectors, made when
 * the request arrives and freed with the exchange. The prompt is redacted
 * once, before the first attempt, and every attempt sends that body. The
 * answer is redacted (output detectors) and then restored (input
 * context's pseudonyms, when redaction.restore): a whole body in one go, a
 * stream chunk by chunk through lx_redact_chat_stream, made anew for each
 * attempt. Nothing here ever logs or records a matched value.
 */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "../policy/redact_chat.h"

struct lx_proxy_redaction {
    lx_redact_ctx *in, *out;       /* NULL when that direction has no detector */
    lx_redact_chat_stream *stream; /* the current attempt's, made at its first chunk */
    lx_buf body;                   /* the redacted request: ex->cr's tokens point into it */
    lx_buf answer;                 /* the last rewritten body or chunk */
    bool sensitive;
};

static lx_redact_ctx *restore_ctx(const struct exchange *ex)
{
    return ex->cfg->redaction.restore ? ex->redaction->in : NULL;
}

/* True when answers need rewriting. */
static bool rewrites_output(const struct exchange *ex)
{
    return ex->redaction && (ex->redaction->out || restore_ctx(ex));
}

static struct lx_proxy_redaction *state_new(const struct lx_config *cfg)
{
    struct lx_proxy_redaction *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    if ((cfg->redaction.input && !(r->in = lx_redact_ctx_new(cfg->redaction.input))) ||
        (cfg->redaction.output && !(r->out = lx_redact_ctx_new(cfg->redaction.output)))) {
        lx_redact_ctx_free(r->in);
        free(r);
        return NULL;
    }
    /* masks make a body longer; past twice the body cap it is refused */
    lx_buf_init(&r->body, cfg->limits.max_body_bytes * 2 + 4096);
    lx_buf_init(&r->answer,
                LX_MAX(cfg->limits.max_response_bytes, cfg->limits.max_sse_event_bytes) * 2 + 4096);
    return r;
}

/* The first block detector that matched: its name is all a client hears. */
static const char *blocking_kind(const lx_redact_ctx *ctx, const lx_redact_set *set)
{
    for (size_t i = 0; i < lx_redact_set_count(set); i++)
        if (lx_redact_set_action(set, i) == LX_REDACT_BLOCK && lx_redact_ctx_matches(ctx, i))
            return lx_redact_set_name(set, i);
    return "unknown";
}

int lx_proxy_redact_request(struct exchange *ex, char *msg, size_t msglen)
{
    const struct lx_config *cfg = ex->cfg;
    if (ex->endpoint == LX_PROXY_EMBEDDINGS || (!cfg->redaction.input && !cfg->redaction.output))
        return LX_OK;
    struct lx_proxy_redaction *r = ex->redaction = state_new(cfg);
    if (r == NULL) {
        snprintf(msg, msglen, "The gateway is out of memory.");
        return LX_ERR;
    }
    /* /v1/responses: the IR is redacted once its context is complete
     * (lx_proxy_redact_ir); answers come back as chat and are redacted as
     * a chat client's */
    if (r->in == NULL || ex->endpoint == LX_PROXY_RESPONSES)
        return LX_OK;
    lx_str body = {ex->cr.json.src, ex->cr.json.len};
    uint32_t depth = cfg->limits.max_json_depth;
    if (lx_redact_chat_request_parsed(r->in, &ex->cr.json, &r->body) != LX_OK) {
        snprintf(msg, msglen, "The request is too large after redaction.");
        return LX_ERR;
    }
    unsigned flags = lx_redact_ctx_flags(r->in);
    if (flags & LX_REDACT_BLOCKED) {
        snprintf(msg, msglen,
                 "The request was blocked by the gateway's redaction policy: it contains a value "
                 "of kind '%s'.",
                 blocking_kind(r->in, cfg->redaction.input));
        return LX_AGAIN;
    }
    r->sensitive = (flags & LX_REDACT_TAGGED) != 0;
    if (lx_str_eq(lx_buf_str(&r->body), body))
        return LX_OK;
    struct lx_chat_fault f;
    if (lx_chat_request_read(&ex->cr, r->body.data, r->body.len, &ex->arena, depth, &f) != LX_OK) {
        snprintf(msg, msglen, "The request could not be read after redaction.");
        return LX_ERR;
    }
    return LX_OK;
}

bool lx_proxy_redact_sensitive(const struct exchange *ex)
{
    return ex->redaction && ex->redaction->sensitive;
}

bool lx_proxy_redact_backend_ok(const struct exchange *ex, size_t b)
{
    return !lx_proxy_redact_sensitive(ex) || ex->cfg->backends[b].local;
}

int lx_proxy_redact_response(struct exchange *ex, lx_str *body)
{
    if (!rewrites_output(ex))
        return LX_OK;
    struct lx_proxy_redaction *r = ex->redaction;
    lx_buf_reset(&r->answer);
    int rc = lx_redact_chat_response(r->out, restore_ctx(ex), body->ptr, body->len, &ex->scratch,
                                     ex->cfg->limits.max_json_depth, &r->answer);
    lx_arena_reset(&ex->scratch);
    if (rc == LX_OK)
        *body = lx_buf_str(&r->answer);
    return rc;
}

int lx_proxy_redact_chunk(struct exchange *ex, lx_str *data)
{
    if (!rewrites_output(ex))
        return LX_OK;
    struct lx_proxy_redaction *r = ex->redaction;
    if (r->stream == NULL && !(r->stream = lx_redact_chat_stream_new(r->out, restore_ctx(ex))))
        return LX_ERR;
    lx_buf_reset(&r->answer);
    int rc = lx_redact_chat_stream_chunk(r->stream, *data, &ex->scratch,
                                         ex->cfg->limits.max_json_depth, &r->answer);
    lx_arena_reset(&ex->scratch);
    if (rc == LX_OK)
        *data = lx_buf_str(&r->answer);
    return rc;
}

int lx_proxy_redact_stream_end(struct exchange *ex, lx_str *chunk)
{
    *chunk = LX_STR_NULL;
    if (!rewrites_output(ex) || ex->redaction->stream == NULL)
        return LX_OK;
    struct lx_proxy_redaction *r = ex->redaction;
    lx_buf_reset(&r->answer);
    if (lx_redact_chat_stream_end(r->stream, &r->answer) != LX_OK)
        return LX_ERR;
    *chunk = lx_buf_str(&r->answer);
    return LX_OK;
}

void lx_proxy_redact_reset_attempt(struct exchange *ex)
{
    if (ex->redaction == NULL)
        return;
    lx_redact_chat_stream_free(ex->redaction->stream);
    ex->redaction->stream = NULL;
}

void lx_proxy_redact_release(struct exchange *ex)
{
    struct lx_proxy_redaction *r = ex->redaction;
    if (r == NULL)
        return;
    lx_redact_chat_stream_free(r->stream);
    lx_redact_ctx_free(r->in);
    lx_redact_ctx_free(r->out);
    lx_buf_release(&r->body);
    lx_buf_release(&r->answer);
    free(r);
    ex->redaction = NULL;
}

static const char *const action_names[] = {"mask", "pseudonym", "block", "tag"};

/* "input": [{"detector","action","matches"}] for the detectors that matched. */
static void record_direction(lx_jw *w, const char *key, const lx_redact_ctx *ctx,
                             const lx_redact_set *set)
{
    lx_jw_key(w, key);
    lx_jw_arr_open(w);
    for (size_t i = 0; ctx && i < lx_redact_set_count(set); i++) {
        size_t n = lx_redact_ctx_matches(ctx, i);
        if (n == 0)
            continue;
        lx_jw_obj_open(w);
        lx_jw_key(w, "detector");
        lx_jw_cstr(w, lx_redact_set_name(set, i));
        lx_jw_key(w, "action");
        lx_jw_cstr(w, action_names[lx_redact_set_action(set, i)]);
        lx_jw_key(w, "matches");
        lx_jw_uint(w, n);
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

void lx_proxy_redact_record(const struct exchange *ex, lx_jw *w)
{
    const struct lx_proxy_redaction *r = ex->redaction;
    if (r == NULL)
        return;
    const struct lx_config *cfg = ex->cfg;
    lx_jw_key(w, "redaction");
    lx_jw_obj_open(w);
    record_direction(w, "input", r->in, cfg->redaction.input);
    record_direction(w, "output", r->out, cfg->redaction.output);
    lx_jw_key(w, "sensitive");
    lx_jw_bool(w, r->sensitive);
    lx_jw_obj_close(w);
}

/* --- /v1/responses: the IR's texts ----------------------------------------- */

/* Redacts one literal (a JSON string with its quotes) in place: unescaped,
 * redacted, escaped again into the arena when anything changed. */
static int redact_lit(struct exchange *ex, lx_str *lit, lx_buf *plain, lx_buf *red)
{
    if (lit->len < 2)
        return LX_OK;
    lx_json j;
    lx_arena_reset(&ex->scratch);
    int rc = LX_ERR;
    lx_buf_reset(plain);
    lx_buf_reset(red);
    if (lx_json_parse(&j, lit->ptr, lit->len, &ex->scratch, 2) == LX_JSON_OK &&
        lx_json_is_string(&j, 0) && lx_json_unescape(&j, 0, plain) == LX_OK &&
        lx_redact_text(ex->redaction->in, lx_buf_str(plain), red) == LX_OK) {
        rc = LX_OK;
        if (!lx_str_eq(lx_buf_str(plain), lx_buf_str(red))) {
            lx_str made = lx_ir_lit_make(&ex->arena, red->data, red->len);
            if (made.len == 0)
                rc = LX_ERR;
            else
                *lit = made;
        }
    }
    lx_arena_reset(&ex->scratch);
    return rc;
}

static int redact_parts(struct exchange *ex, struct lx_ir_part *parts, uint32_t n, lx_buf *a,
                        lx_buf *b)
{
    for (uint32_t k = 0; k < n; k++)
        if (parts[k].kind != LX_IR_PART_INPUT_IMAGE &&
            redact_lit(ex, &parts[k].text, a, b) != LX_OK)
            return LX_ERR;
    return LX_OK;
}

int lx_proxy_redact_ir(struct exchange *ex, char *msg, size_t msglen)
{
    struct lx_proxy_redaction *r = ex->redaction;
    if (r == NULL || r->in == NULL)
        return LX_OK;
    const struct lx_config *cfg = ex->cfg;
    struct lx_ir_request *q = &ex->ir;
    lx_buf plain, red;
    lx_buf_init(&plain, cfg->limits.max_body_bytes + 64);
    lx_buf_init(&red, cfg->limits.max_body_bytes * 2 + 4096);
    int rc = redact_lit(ex, &q->instructions, &plain, &red);
    for (uint32_t i = 0; rc == LX_OK && i < q->nitems; i++) {
        struct lx_ir_item *it = &q->items[i];
        rc = redact_parts(ex, it->parts, it->nparts, &plain, &red);
        if (rc == LX_OK)
            rc = redact_parts(ex, it->summary, it->nsummary, &plain, &red);
        if (rc == LX_OK)
            rc = redact_lit(ex, &it->arguments, &plain, &red);
        if (rc == LX_OK)
            rc = redact_lit(ex, &it->input, &plain, &red);
    }
    lx_buf_release(&plain);
    lx_buf_release(&red);
    if (rc != LX_OK) {
        snprintf(msg, msglen, "The request is too large after redaction.");
        return LX_ERR;
    }
    unsigned flags = lx_redact_ctx_flags(r->in);
    if (flags & LX_REDACT_BLOCKED) {
        snprintf(msg, msglen,
                 "The request was blocked by the gateway's redaction policy: it contains a value "
                 "of kind '%s'.",
                 blocking_kind(r->in, cfg->redaction.input));
        return LX_AGAIN;
    }
    r->sensitive = (flags & LX_REDACT_TAGGED) != 0;
    return LX_OK;
}
