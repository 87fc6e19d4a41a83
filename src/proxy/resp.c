/*
 * resp.c — the Responses front door: POST /v1/responses served by a
 * backend that speaks Chat Completions (shared/spec/RESPONSES.md 11, 12).
 *
 * The exchange (exchange.c) runs admission, attempts, retries and the
 * client's socket exactly as for chat; these hooks change only what is
 * sent and how the answer is written:
 *  - read: the body is decoded into the IR (ex->ir); a fault is a 400 in
 *    OpenAI's shape with the param path;
 *  - encode: each attempt writes its chat body from the IR with its own
 *    upstream model and the backend's quirks (max_tokens vs
 *    max_completion_tokens, reasoning_content, the developer role);
 *  - whole answers: the chat.completion becomes a full response object;
 *  - streams: each chat chunk goes through the stream translator
 *    (resp_stream.h), which writes complete Responses events; the first
 *    chunk opens the stream with response.created and in_progress, so a
 *    backend that fails before answering still gets an HTTP error.
 *
 * The response id is "resp_" + 32 hex digits from OpenSSL's generator:
 * ids name stored conversations, so they must not be guessable.
 */
#define _GNU_SOURCE /* memmem */
#include "proxy_int.h"
#include "itemref.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../json/json.h"
#include "../dialect/resp_stream.h"
#include "../store/responses.h"

/* The part of the response id that item ids reuse (after "resp_"). */
static const char *id_base(const struct exchange *ex)
{
    return ex->resp_id + 5;
}

static int64_t unix_now(void)
{
    return (int64_t)time(NULL);
}

static int new_response_id(struct exchange *ex)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return LX_ERR;
    memcpy(ex->resp_id, "resp_", 5);
    for (size_t i = 0; i < sizeof(r); i++) {
        ex->resp_id[5 + 2 * i] = hex[r[i] >> 4];
        ex->resp_id[6 + 2 * i] = hex[r[i] & 15];
    }
    ex->resp_id[5 + 2 * sizeof(r)] = '\0';
    return LX_OK;
}

int lx_proxy_resp_read(struct exchange *ex)
{
    struct lx_resp_fault f;
    lx_str body = lx_http_req_body(ex->req);
    if (lx_resp_request_decode(&ex->ir, body.ptr, body.len, &ex->arena,
                               ex->cfg->limits.max_json_depth, &f) != LX_OK) {
        lx_ex_respond_error(ex, 400, f.message, "invalid_request_error",
                            f.param[0] ? f.param : NULL, f.code);
        return LX_ERR;
    }
    if (ex->resp_kind) /* input_tokens, compact: one whole answer (compact.c) */
        ex->ir.stream = false;
    if (ex->ir.background == LX_IR_TRUE) {
        lx_ex_respond_error(ex, 400,
                            "Background mode is not supported by this gateway; send the request "
                            "without 'background' (or stream it).",
                            "invalid_request_error", "background", "unsupported_parameter");
        return LX_ERR;
    }
    /* the model literal without its quotes, as lx_json_raw gives a string */
    lx_str m = ex->ir.model;
    ex->model_raw = m.len >= 2 ? (lx_str){m.ptr + 1, m.len - 2} : LX_STR_NULL;
    snprintf(ex->model, sizeof(ex->model), "%.*s", (int)ex->model_raw.len, ex->model_raw.ptr);
    ex->stream = ex->ir.stream;
    ex->usage_asked = false;
    if (new_response_id(ex) != LX_OK) {
        lx_ex_respond_error(ex, 500, "The gateway could not make a response id.", "server_error",
                            NULL, "server_error");
        return LX_ERR;
    }
    ex->meta = (struct lx_resp_meta){.id = ex->resp_id, .created_at = unix_now()};
    return LX_OK;
}

/* --- state: previous_response_id and the store ---------------------------- */

/* A function_call_output (custom_tool_call_output) must answer a
 * function_call (custom_tool_call) before it in its context: the request's
 * items, after the previous response's context was put in front. */
static int check_call_ids(struct exchange *ex)
{
    const struct lx_ir_request *r = &ex->ir;
    for (uint32_t i = 0; i < r->nitems; i++) {
        enum lx_ir_item_kind call;
        if (r->items[i].kind == LX_IR_ITEM_FUNCTION_CALL_OUTPUT)
            call = LX_IR_ITEM_FUNCTION_CALL;
        else if (r->items[i].kind == LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT)
            call = LX_IR_ITEM_CUSTOM_TOOL_CALL;
        else
            continue;
        lx_str id = r->items[i].call_id;
        bool found = false;
        for (uint32_t k = 0; k < i && !found; k++)
            found = r->items[k].kind == call && lx_str_eq(r->items[k].call_id, id);
        if (!found) {
            char msg[320];
            snprintf(msg, sizeof(msg),
                     "No tool call found for function call output with call_id %.*s.",
                     (int)LX_MIN(id.len, 200), id.ptr);
            lx_ex_respond_error(ex, 400, msg, "invalid_request_error", "input", NULL);
            return LX_ERR;
        }
    }
    return LX_OK;
}

static bool wants_store(const struct exchange *ex);

/* --- reasoning that the client keeps: encrypted_content ---------------------
 *
 * A stateless client (Codex CLI: store:false with include
 * ["reasoning.encrypted_content"]) replays the whole history each turn.
 * Asked for it, each reasoning item of the answer gets an encrypted_content
 * that seals its reasoning text (the JSON array of its reasoning_text part
 * literals) with the gateway's key under the context "reasoning"
 * (store/seal.h); an item that comes back with one and no text is opened
 * and its text restored, so a local model's reasoning survives the round
 * trip without any server state. A blob that is not ours (OpenAI's own,
 * another key's) is left alone: the item then carries no text, and the
 * chat backend does not see it. */

static bool wants_encrypted_reasoning(const struct exchange *ex)
{
    lx_str inc = ex->ir.include;
    return inc.len && memmem(inc.ptr, inc.len, "\"reasoning.encrypted_content\"", 29) != NULL;
}

static int seal_reasoning(void *data, struct lx_ir_item *it, lx_arena *a)
{
    struct exchange *ex = data;
    if (it->kind != LX_IR_ITEM_REASONING || it->nparts == 0)
        return LX_OK;
    lx_buf plain, sealed;
    size_t cap = 0;
    for (uint32_t k = 0; k < it->nparts; k++)
        cap += it->parts[k].text.len + 1;
    lx_buf_init(&plain, cap + 2);
    lx_buf_init(&sealed, (cap + 64) / 3 * 4 + 64);
    int rc = lx_buf_append_char(&plain, '[');
    for (uint32_t k = 0; rc == LX_OK && k < it->nparts; k++) {
        if (k)
            rc = lx_buf_append_char(&plain, ',');
        if (rc == LX_OK)
            rc = lx_buf_append_str(&plain, it->parts[k].text);
    }
    if (rc == LX_OK)
        rc = lx_buf_append_char(&plain, ']');
    if (rc == LX_OK)
        rc = lx_seal_close(&ex->p->seal, "reasoning", lx_buf_str(&plain), &sealed);
    if (rc == LX_OK) {
        it->encrypted_content = lx_ir_lit_make(a, sealed.data, sealed.len);
        rc = it->encrypted_content.len ? LX_OK : LX_ERR;
    }
    explicit_bzero(plain.data, plain.len);
    lx_buf_release(&plain);
    lx_buf_release(&sealed);
    return rc;
}

/* Restores the text of the request's sealed reasoning items. */
static void open_reasoning(struct exchange *ex)
{
    for (uint32_t i = 0; i < ex->ir.nitems; i++) {
        struct lx_ir_item *it = &ex->ir.items[i];
        lx_str lit = it->encrypted_content;
        if (it->kind != LX_IR_ITEM_REASONING || it->nparts || lit.len < 2 ||
            memchr(lit.ptr, '\\', lit.len))
            continue;
        lx_buf plain;
        lx_buf_init(&plain, lit.len);
        lx_json j;
        if (lx_seal_open(&ex->p->seal, "reasoning", (lx_str){lit.ptr + 1, lit.len - 2}, &plain) ==
            LX_OK) {
            char *copy = lx_arena_alloc(&ex->arena, plain.len + 1);
            int n = 0;
            if (copy) {
                memcpy(copy, plain.data, plain.len);
                n = lx_json_parse(&j, copy, plain.len, &ex->arena, 4) == LX_JSON_OK &&
                            lx_json_is_array(&j, 0)
                        ? lx_json_size(&j, 0)
                        : 0;
            }
            struct lx_ir_part *parts =
                n > 0 ? lx_arena_alloc(&ex->arena, (size_t)n * sizeof(*parts)) : NULL;
            uint32_t got = 0;
            for (int k = 0, t = 1; parts && k < n; k++, t = lx_json_skip(&j, t))
                if (lx_json_is_string(&j, t))
                    parts[got++] = (struct lx_ir_part){.kind = LX_IR_PART_REASONING_TEXT,
                                                       .text = lx_json_value_text(&j, t)};
            it->parts = parts;
            it->nparts = got;
        }
        if (plain.data)
            explicit_bzero(plain.data, plain.len);
        lx_buf_release(&plain);
    }
}

static void begin_attempts(struct exchange *ex)
{
    char msg[256];
    if (check_call_ids(ex) != LX_OK)
        return;
    open_reasoning(ex);
    /* after previous_response_id's context is in: redaction sees all of it */
    switch (lx_proxy_redact_ir(ex, msg, sizeof(msg))) {
    case LX_OK:
        lx_ex_start_attempt(ex);
        return;
    case LX_AGAIN:
        lx_ex_respond_error(ex, 400, msg, "invalid_request_error", "input", "content_blocked");
        return;
    default:
        lx_ex_respond_error(ex, 413, msg, "invalid_request_error", NULL, "request_too_large");
    }
}

/* The inner text of a JSON array "[...]" (empty for "[]"), or LX_STR_NULL
 * when text is not bracketed. */
static lx_str array_inner(const char *text, size_t len)
{
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n'))
        len--;
    if (len < 2 || text[0] != '[' || text[len - 1] != ']')
        return LX_STR_NULL;
    lx_str in = {text + 1, len - 2};
    while (in.len && (in.ptr[0] == ' ' || in.ptr[0] == '\n')) {
        in.ptr++;
        in.len--;
    }
    return in;
}

/* Rebuilds the request with the previous context in front of its input
 * (RESPONSES.md 8: previous input + previous output + new input; the
 * previous instructions are not carried over) and decodes it again. */
static int merge_previous(struct exchange *ex, const struct lx_store_resp_rec *rec)
{
    lx_str body = lx_proxy_resp_body(ex);
    lx_json j;
    uint32_t depth = ex->cfg->limits.max_json_depth;
    if (lx_json_parse(&j, body.ptr, body.len, &ex->arena, depth) != LX_JSON_OK)
        return LX_ERR;
    int input = lx_json_get(&j, 0, "input");
    lx_str prev_in = array_inner(rec->input, rec->input_len);
    lx_str prev_out = array_inner(rec->output, rec->output_len);
    if (prev_in.ptr == NULL || prev_out.ptr == NULL)
        return LX_ERR;
    /* no input (previous_response_id alone): an empty one before the
     * object's closing brace, which the context then fills */
    lx_str in_text;
    if (input >= 0) {
        in_text = lx_json_value_text(&j, input);
    } else {
        size_t end = body.len;
        while (end > 0 && body.ptr[end - 1] != '}')
            end--;
        if (end == 0)
            return LX_ERR;
        in_text = (lx_str){body.ptr + end - 1, 0};
    }
    bool add_key = input < 0;
    size_t cap = body.len + rec->input_len + rec->output_len + 64;
    lx_buf b;
    lx_buf_init(&b, cap);
    bool ok = lx_buf_append(&b, body.ptr, (size_t)(in_text.ptr - body.ptr)) == LX_OK &&
              (!add_key || lx_buf_append_cstr(&b, ",\"input\":") == LX_OK) &&
              lx_buf_append_char(&b, '[') == LX_OK && lx_buf_append_str(&b, prev_in) == LX_OK &&
              (prev_in.len == 0 || prev_out.len == 0 || lx_buf_append_char(&b, ',') == LX_OK) &&
              lx_buf_append_str(&b, prev_out) == LX_OK;
    bool some = prev_in.len || prev_out.len;
    if (ok && !add_key && lx_json_is_string(&j, input)) {
        ok = (!some || lx_buf_append_char(&b, ',') == LX_OK) &&
             lx_buf_append_cstr(&b, "{\"role\":\"user\",\"content\":") == LX_OK &&
             lx_buf_append_str(&b, in_text) == LX_OK && lx_buf_append_char(&b, '}') == LX_OK;
    } else if (ok && !add_key) {
        lx_str inner = array_inner(in_text.ptr, in_text.len);
        ok = inner.ptr && (!some || inner.len == 0 || lx_buf_append_char(&b, ',') == LX_OK) &&
             lx_buf_append_str(&b, inner) == LX_OK;
    }
    const char *tail = in_text.ptr + in_text.len;
    ok = ok && lx_buf_append_char(&b, ']') == LX_OK &&
         lx_buf_append(&b, tail, (size_t)(body.ptr + body.len - tail)) == LX_OK;
    char *copy = ok ? lx_arena_alloc(&ex->arena, b.len + 1) : NULL;
    int rc = LX_ERR;
    if (copy) {
        memcpy(copy, b.data, b.len);
        copy[b.len] = '\0';
        struct lx_resp_fault f;
        rc = lx_resp_request_decode(&ex->ir, copy, b.len, &ex->arena, depth, &f);
        if (rc != LX_OK)
            lx_log(LX_LOG_WARN, "%s: stored context of %s does not decode: %s", ex->request_id,
                   rec->id, f.message);
    }
    lx_buf_release(&b);
    return rc;
}

static void on_previous(void *data, int rc, const struct lx_store_resp_rec *rec)
{
    struct exchange *ex = data;
    ex->store_pending = false;
    if (ex->req == NULL || ex->client_finished) {
        lx_ex_maybe_free(ex);
        return;
    }
    if (rc == LX_STORE_RESP_NOT_FOUND) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Previous response with id '%.*s' not found.",
                 (int)LX_MIN(ex->ir.previous_response_id.len, 200),
                 ex->ir.previous_response_id.ptr);
        lx_ex_respond_error(ex, 400, msg, "invalid_request_error", "previous_response_id",
                            "previous_response_not_found");
    } else if (rc != LX_OK || merge_previous(ex, rec) != LX_OK) {
        lx_ex_respond_error(ex, 500, "The gateway could not read the previous response.",
                            "server_error", NULL, "store_failed");
    } else if (lx_proxy_tools_check_request(ex) == LX_OK) {
        begin_attempts(ex); /* the tools were decoded again with the context: checked again */
    }
    lx_ex_maybe_free(ex);
}

/* --- WebSocket mode: the connection-local cache (RESPONSES.md 8) ---------
 * A request that came over a WebSocket connection continues from that
 * connection's store:false responses first, and its own store:false
 * response is kept there (proxy.h, lx_proxy_resp_cache). */

/* Continues from the connection's cached response id, if there is one;
 * false when the request came over plain HTTP or id is not cached. */
static bool continue_from_conn_cache(struct exchange *ex, const char *id)
{
    struct lx_proxy_resp_cache *c = lx_http_req_conn_cache(ex->req);
    const struct lx_store_resp_rec *rec = c ? lx_proxy_resp_cache_get(c, id, ex->key_id) : NULL;
    if (rec == NULL)
        return false;
    if (merge_previous(ex, rec) != LX_OK)
        lx_ex_respond_error(ex, 500, "The gateway could not read the previous response.",
                            "server_error", NULL, "store_failed");
    else
        begin_attempts(ex);
    return true;
}

/* Keeps a response that is not stored in the connection's cache. */
static void remember_in_conn_cache(struct exchange *ex, const struct lx_ir_result *res)
{
    struct lx_proxy_resp_cache *c = ex->req ? lx_http_req_conn_cache(ex->req) : NULL;
    if (c == NULL || res == NULL)
        return;
    lx_buf in, out;
    size_t cap = ex->cfg->limits.max_body_bytes * 4 + ex->resp_out->cap;
    lx_buf_init(&in, cap);
    lx_buf_init(&out, cap);
    if (lx_resp_input_write(&ex->ir, id_base(ex), &in) == LX_OK &&
        lx_resp_output_write(res, &out) == LX_OK) {
        struct lx_store_resp_rec rec = {.id = ex->resp_id,
                                        .key_id = ex->key_id,
                                        .input = in.data,
                                        .input_len = in.len,
                                        .output = out.data,
                                        .output_len = out.len};
        if (lx_proxy_resp_cache_put(c, &rec) != LX_OK)
            lx_log(LX_LOG_WARN, "%s: response %s was not cached", ex->request_id, ex->resp_id);
    }
    lx_buf_release(&in);
    lx_buf_release(&out);
}

/* --- end of WebSocket mode ----------------------------------------------- */

static void previous_not_found(struct exchange *ex, lx_str inner)
{
    char msg[320];
    snprintf(msg, sizeof(msg), "Previous response with id '%.*s' not found.",
             (int)LX_MIN(inner.len, 200), inner.ptr);
    lx_ex_respond_error(ex, 400, msg, "invalid_request_error", "previous_response_id",
                        "previous_response_not_found");
}

/* After item references are resolved: previous_response_id, then the
 * attempts. */
static void start_with_items(struct exchange *ex)
{
    lx_str prev = ex->ir.previous_response_id;
    if (prev.len == 0) {
        begin_attempts(ex);
        return;
    }
    char id[LX_STORE_RESP_MAX_ID + 1];
    lx_str inner = {prev.ptr + 1, prev.len - 2}; /* a literal: without its quotes */
    if (inner.len > LX_STORE_RESP_MAX_ID || memchr(inner.ptr, '\\', inner.len)) {
        previous_not_found(ex, inner);
        return;
    }
    memcpy(id, inner.ptr, inner.len);
    id[inner.len] = '\0';
    if (continue_from_conn_cache(ex, id)) /* WebSocket mode */
        return;
    if (ex->p->resp_store == NULL) {
        previous_not_found(ex, inner);
        return;
    }
    int rc = lx_store_resp_get(ex->p->resp_store, ex->p->loop, id, ex->key_id, on_previous, ex);
    if (rc != LX_OK) {
        lx_ex_respond_error(ex, 503, "The response store is busy; try again.", "server_error", NULL,
                            "store_busy");
        return;
    }
    ex->store_pending = true;
}

void lx_proxy_resp_start(struct exchange *ex)
{
    ex->resp_store = ex->resp_kind == 0 && wants_store(ex);
    if (ex->ir.nrefs > 0)
        lx_proxy_itemref_resolve(ex, start_with_items); /* RESPONSES.md 3 */
    else
        start_with_items(ex);
}

/* Whether this response is stored: the request's store, else the
 * configured default; never without a store. */
static bool wants_store(const struct exchange *ex)
{
    if (ex->p->resp_store == NULL)
        return false;
    if (ex->ir.store != LX_IR_UNSET)
        return ex->ir.store == LX_IR_TRUE;
    return ex->cfg->responses.default_store;
}

/* Sends the held answer: a whole body, or the stream's last events. */
static void release_answer(struct exchange *ex)
{
    lx_buf *o = ex->resp_out;
    if (ex->req == NULL || ex->client_finished || o == NULL)
        return;
    /* a started stream (also a repaired answer, which came whole: validate.c) */
    if (ex->mode == MODE_SSE || ex->client_started) {
        lx_proxy_client_write(ex, o->data, o->len);
        lx_ex_client_end(ex);
    } else {
        lx_ex_respond(ex, 200, o->data, o->len);
    }
}

static void on_stored(void *data, int rc)
{
    struct exchange *ex = data;
    ex->store_pending = false;
    if (rc != LX_OK) {
        ex->resp_store = false; /* for the audit record */
        lx_log(LX_LOG_WARN, "%s: response %s was not stored", ex->request_id, ex->resp_id);
    }
    release_answer(ex);
    lx_ex_maybe_free(ex);
}

/* Stores the response (response object in resp_json, output from res)
 * and sends the held answer once the store has it, so a client that
 * continues at once with previous_response_id finds it. Without storing,
 * sends it now. */
static void store_then_release(struct exchange *ex, const struct lx_ir_result *res,
                               lx_str resp_json)
{
    if (!ex->resp_store) {
        remember_in_conn_cache(ex, res); /* WebSocket mode */
        release_answer(ex);
        return;
    }
    lx_buf in, out;
    size_t cap = ex->cfg->limits.max_body_bytes * 4 + ex->resp_out->cap;
    lx_buf_init(&in, cap);
    lx_buf_init(&out, cap);
    char prev[LX_STORE_RESP_MAX_ID + 1] = "";
    lx_str pr = ex->ir.previous_response_id;
    if (pr.len >= 2 && pr.len - 2 <= LX_STORE_RESP_MAX_ID) {
        memcpy(prev, pr.ptr + 1, pr.len - 2);
        prev[pr.len - 2] = '\0';
    }
    char status[16];
    snprintf(status, sizeof(status), "%s",
             res->status == LX_IR_RESULT_INCOMPLETE ? "incomplete" : "completed");
    int rc = LX_ERR;
    if (lx_resp_input_write(&ex->ir, id_base(ex), &in) == LX_OK &&
        lx_resp_output_write(res, &out) == LX_OK) {
        struct lx_store_resp_rec rec = {
            .id = ex->resp_id,
            .key_id = ex->key_id,
            .model = ex->model,
            .status = status,
            .previous_id = prev,
            .created_at = ex->meta.created_at,
            .response = (char *)resp_json.ptr,
            .response_len = resp_json.len,
            .input = in.data,
            .input_len = in.len,
            .output = out.data,
            .output_len = out.len,
        };
        rc = lx_store_resp_put(ex->p->resp_store, ex->p->loop, &rec, on_stored, ex);
    }
    lx_buf_release(&in);
    lx_buf_release(&out);
    if (rc == LX_OK) {
        ex->store_pending = true;
        return;
    }
    lx_log(LX_LOG_WARN, "%s: response %s was not stored (%d)", ex->request_id, ex->resp_id, rc);
    ex->resp_store = false;
    release_answer(ex);
}

/* The heap buffer an answer is held in until the store has it. */
static lx_buf *answer_buf(struct exchange *ex)
{
    if (ex->resp_out == NULL) {
        ex->resp_out = malloc(sizeof(*ex->resp_out));
        if (ex->resp_out == NULL)
            return NULL;
        lx_buf_init(ex->resp_out, ex->cfg->limits.max_response_bytes * 2 + 64 * 1024);
    }
    lx_buf_reset(ex->resp_out);
    return ex->resp_out;
}

/* The backend's quirks: OpenAI takes max_completion_tokens and knows the
 * developer role; the local servers (llama.cpp, vLLM, Ollama) want
 * max_tokens, read reasoning back as reasoning_content, and their chat
 * templates often know only system/user/assistant. */
static bool backend_is_openai(const struct lx_config_backend *b)
{
    return strstr(b->url, "://api.openai.com") != NULL;
}

/* Native passthrough: the client's body with only the model replaced by
 * the deployment's upstream id (the IR's model literal points into the
 * body, so this is a splice, not a re-serialisation). */
static int splice_model(struct exchange *ex)
{
    lx_str body = lx_http_req_body(ex->req);
    lx_str m = ex->ir.model;
    size_t head = (size_t)(m.ptr - body.ptr), tail = head + m.len;
    lx_buf *out = &ex->upstream_body;
    lx_jw w;
    if (lx_buf_append(out, body.ptr, head) != LX_OK)
        return LX_ERR;
    lx_jw_init(&w, out);
    lx_jw_cstr(&w, ex->upstream_model);
    if (!lx_jw_ok(&w))
        return LX_ERR;
    return lx_buf_append(out, body.ptr + tail, body.len - tail);
}

int lx_proxy_resp_encode(struct exchange *ex)
{
    const struct lx_config_backend *b = &ex->cfg->backends[ex->backend_index];
    ex->passthrough = b->dialect == LX_DIALECT_RESPONSES;
    ex->relayed = 0;
    if (ex->passthrough)
        return splice_model(ex);
    bool openai = backend_is_openai(b);
    struct lx_resp_chat_opts o = {
        .model = ex->upstream_model,
        .max_completion_tokens = openai,
        .reasoning_content = !openai,
        .developer_as_system = !openai,
        .tool_choice_objects = b->tool_choice_objects ? b->tool_choice_objects == 2 : openai,
    };
    if (lx_proxy_compact_open(ex) != LX_OK)
        return LX_AGAIN; /* answered: a compaction item that does not open */
    if (ex->resp_kind)
        return lx_proxy_compact_encode(ex, &o);
    if (lx_resp_chat_request_encode(&ex->ir, &o, &ex->arena, &ex->upstream_body) != LX_OK)
        return LX_ERR;
    /* policy.tool_calls / structured_output read this chat body's schemas */
    return lx_proxy_validate_resp_body(ex);
}

void lx_proxy_resp_reset(struct exchange *ex)
{
    /* a streamed client whose answer is being repaired keeps its translator:
     * the repaired answer continues the events it already has (validate.c) */
    bool keep_stream = ex->client_started && lx_proxy_repair_wanted(ex);
    if (ex->rs && !keep_stream) {
        lx_resp_stream_free(ex->rs);
        ex->rs = NULL;
    }
    if (ex->resp_out) {
        lx_buf_release(ex->resp_out);
        free(ex->resp_out);
        ex->resp_out = NULL;
    }
}

void lx_proxy_resp_whole(struct exchange *ex, lx_str body)
{
    ex->t_first_token_us = lx_clock_mono_us();
    if (ex->passthrough) {
        lx_ex_respond(ex, ex->upstream_status, body.ptr, body.len);
        return;
    }
    if (lx_proxy_compact_whole(ex, body))
        return;
    struct lx_ir_result res;
    lx_arena_reset(&ex->scratch);
    /* the tally (tokens, finish reason) feeds the audit record */
    lx_chat_response_inspect(body, &ex->scratch, ex->cfg->limits.max_json_depth, &ex->tally);
    lx_arena_reset(&ex->scratch);
    /* the chat client's policies apply to the chat answer before it is translated */
    if (lx_proxy_tools_check_answer(ex, &body) != LX_OK ||
        lx_proxy_validate_whole(ex, body) != LX_OK)
        return; /* answered, or a repair attempt is scheduled (validate.c) */
    if (lx_proxy_redact_response(ex, &body) != LX_OK) {
        if (ex->stream)
            lx_proxy_resp_stream_refuse(ex, "The gateway could not apply its redaction policy.",
                                        "redaction_failed");
        else
            lx_ex_respond_error(ex, 502, "The gateway could not apply its redaction policy.",
                                "server_error", NULL, "redaction_failed");
        return;
    }
    if (ex->stream && lx_proxy_repair_wanted(ex)) {
        lx_proxy_repair_stream(ex, body); /* the repaired answer, through the translator */
        return;
    }
    if (lx_resp_chat_result_decode(&res, &ex->ir, body.ptr, body.len, id_base(ex), &ex->scratch,
                                   ex->cfg->limits.max_json_depth) != LX_OK) {
        lx_ex_respond_error(ex, 502, "The backend's answer is not a chat completion.",
                            "server_error", NULL, "upstream_invalid_response");
        return;
    }
    ex->meta.completed_at = unix_now();
    for (uint32_t i = 0; wants_encrypted_reasoning(ex) && i < res.nitems; i++)
        if (seal_reasoning(ex, &res.items[i], &ex->scratch) != LX_OK) {
            lx_ex_respond_error(ex, 500, "The gateway could not seal the reasoning.",
                                "server_error", NULL, "server_error");
            lx_arena_reset(&ex->scratch);
            return;
        }
    lx_buf *out = answer_buf(ex);
    if (out == NULL || lx_resp_response_write(&ex->ir, &res, &ex->meta, out) != LX_OK)
        lx_ex_respond_error(ex, 502, "The backend's answer is too large to translate.",
                            "server_error", NULL, "upstream_too_large");
    else
        store_then_release(ex, &res, lx_buf_str(out));
    lx_arena_reset(&ex->scratch);
}

/* Sends what the translator wrote into ex->whole (complete events). */
static int flush_events(struct exchange *ex)
{
    if (ex->whole.len == 0)
        return LX_OK;
    int rc = lx_proxy_client_write(ex, ex->whole.data, ex->whole.len);
    lx_buf_reset(&ex->whole);
    return rc;
}

/* responses.reasoning_events: how reasoning text is streamed. */
static enum lx_resp_reasoning_events reasoning_mode(const struct exchange *ex)
{
    switch (ex->cfg->responses.reasoning_events) {
    case LX_REASONING_EVENTS_OPENAI:
        return LX_RESP_REASONING_OPENAI;
    case LX_REASONING_EVENTS_OPEN_RESPONSES:
        return LX_RESP_REASONING_OPEN_RESPONSES;
    case LX_REASONING_EVENTS_ITEMS:
        break;
    }
    return LX_RESP_REASONING_ITEMS;
}

static void relay_fail(struct exchange *ex, const char *code, const char *message);

void lx_proxy_resp_stream_fail(struct exchange *ex, const char *message, const char *code)
{
    if (ex->resp_finishing)
        return; /* complete: the last events wait for the store */
    if (ex->passthrough && ex->client_started) {
        relay_fail(ex, code, message);
        return;
    }
    lx_ex_note_error(ex, code, message);
    if (ex->rs == NULL || !ex->client_started) {
        lx_ex_respond_error(ex, 502, message, "server_error", NULL, code);
        return;
    }
    lx_buf_reset(&ex->whole);
    lx_resp_stream_fail(ex->rs, code, message, &ex->whole);
    flush_events(ex);
    lx_ex_client_end(ex);
}

static int open_stream(struct exchange *ex);

void lx_proxy_resp_stream_refuse(struct exchange *ex, const char *message, const char *code)
{
    if (!ex->client_started && !ex->resp_finishing) {
        lx_buf_reset(&ex->whole);
        if (open_stream(ex) != LX_OK || flush_events(ex) != LX_OK) {
            lx_buf_reset(&ex->whole);
            lx_ex_note_error(ex, code, message);
            lx_ex_respond_error(ex, 502, message, "server_error", NULL, code);
            return;
        }
    }
    lx_proxy_resp_stream_fail(ex, message, code);
}

/* Opens the translator at the backend's first event. */
static int open_stream(struct exchange *ex)
{
    if (ex->rs)
        return LX_OK;
    ex->rs = lx_resp_stream_new(&ex->ir, &ex->meta, id_base(ex), reasoning_mode(ex));
    if (ex->rs == NULL)
        return LX_ERR;
    if (wants_encrypted_reasoning(ex))
        lx_resp_stream_set_item_hook(ex->rs, seal_reasoning, ex);
    return lx_resp_stream_begin(ex->rs, &ex->whole);
}

int lx_proxy_resp_event(struct exchange *ex, enum lx_chat_chunk kind, lx_str data)
{
    lx_buf_reset(&ex->whole);
    switch (kind) {
    case LX_CHAT_CHUNK_DONE: {
        ex->saw_done = true;
        /* validation lets go what it holds (or ended the stream, or a repair
         * waits for the upstream's end); a call the allowlists hold back and
         * never saw named ends the stream */
        if (lx_proxy_validate_end(ex) != LX_OK || lx_proxy_tools_gate_end(ex) != LX_OK)
            return LX_OK;
        lx_str held; /* text redaction still holds back */
        if (lx_proxy_redact_stream_end(ex, &held) != LX_OK) {
            lx_proxy_resp_stream_fail(ex, "The gateway could not apply its redaction policy.",
                                      "redaction_failed");
            return LX_OK;
        }
        if (held.len && lx_proxy_resp_feed(ex, held) != LX_OK)
            return LX_OK;
        lx_proxy_resp_stream_end(ex);
        return LX_OK; /* read on so the backend's connection is reused */
    }
    case LX_CHAT_CHUNK_ERROR: {
        lx_buf b;
        lx_buf_init(&b, 64 * 1024);
        lx_chat_error_normalize(500, data, &ex->scratch, &b);
        lx_arena_reset(&ex->scratch);
        if (!ex->client_started) {
            lx_ex_note_error(ex, "upstream_error", "the backend reported an error mid-stream");
            lx_ex_respond(ex, 502, b.data, b.len);
        } else {
            lx_proxy_resp_stream_fail(ex, "The backend reported an error mid-stream.",
                                      "server_error");
        }
        lx_buf_release(&b);
        return 1;
    }
    case LX_CHAT_CHUNK_MALFORMED:
        lx_proxy_resp_stream_fail(ex, "The backend sent a malformed stream event.",
                                  "upstream_malformed_event");
        return 1;
    case LX_CHAT_CHUNK_USAGE_ONLY:
    case LX_CHAT_CHUNK_DATA:
        break;
    }
    /* the chat client's policies, on the chat chunk before it is translated */
    if (lx_proxy_redact_chunk(ex, &data) != LX_OK) {
        lx_proxy_resp_stream_fail(ex, "The gateway could not apply its redaction policy.",
                                  "redaction_failed");
        return 1;
    }
    /* tool-call and structured-output validation holds what it must check */
    int v = lx_proxy_validate_chunk(ex, data);
    if (v == LX_AGAIN)
        return LX_OK; /* held, or a repair waits for the stream's end */
    if (v != LX_OK)
        return 1; /* refused: the stream has ended */
    return lx_proxy_resp_pass(ex, data);
}

int lx_proxy_resp_pass(struct exchange *ex, lx_str data)
{
    int g = lx_proxy_tools_gate(ex, data);
    if (g == LX_AGAIN)
        return LX_OK; /* held until the call is named */
    if (g != LX_OK)
        return 1; /* a call that may not reach the client: the stream has ended */
    return lx_proxy_resp_feed(ex, data);
}

int lx_proxy_resp_feed(struct exchange *ex, lx_str data)
{
    lx_buf_reset(&ex->whole);
    if (open_stream(ex) != LX_OK ||
        lx_resp_stream_chunk(ex->rs, data.ptr, data.len, &ex->whole) != LX_OK) {
        lx_buf_reset(&ex->whole);
        if (ex->rs && ex->client_started) {
            lx_proxy_resp_stream_fail(ex,
                                      "The backend sent a stream event the gateway could "
                                      "not translate.",
                                      "upstream_malformed_event");
        } else {
            lx_ex_respond_error(ex, 502,
                                "The backend sent a stream event the gateway could not translate.",
                                "server_error", NULL, "upstream_malformed_event");
        }
        return 1;
    }
    return flush_events(ex);
}

/* The terminal event types: after one of them the stream is complete. */
static const char *terminal_type(lx_str type)
{
    static const char *const t[] = {"response.completed", "response.incomplete", "response.failed"};
    for (size_t i = 0; i < LX_ARRAY_LEN(t); i++)
        if (lx_str_eq_cstr(type, t[i]))
            return t[i] + 9;
    return NULL;
}

int lx_proxy_resp_relay(struct exchange *ex, const lx_sse_event *ev)
{
    if (ex->t_first_token_us == 0)
        ex->t_first_token_us = lx_clock_mono_us();
    if (lx_str_eq_cstr(ev->data, "[DONE]"))
        ex->saw_done = true;
    const char *term = terminal_type(ev->event);
    if (term) /* the audit record's finish_reason; also marks the stream complete */
        snprintf(ex->tally.finish_reason, sizeof(ex->tally.finish_reason), "%s", term);
    lx_buf *b = &ex->whole;
    lx_buf_reset(b);
    if ((ev->event.len &&
         (lx_buf_append(b, "event: ", 7) != LX_OK || lx_buf_append_str(b, ev->event) != LX_OK ||
          lx_buf_append_char(b, '\n') != LX_OK)) ||
        lx_buf_append(b, "data: ", 6) != LX_OK || lx_buf_append_str(b, ev->data) != LX_OK ||
        lx_buf_append(b, "\n\n", 2) != LX_OK)
        return LX_ERR;
    ex->relayed++;
    int rc = lx_proxy_client_write(ex, b->data, b->len);
    lx_buf_reset(b);
    if (rc == LX_OK && ex->saw_done)
        lx_ex_client_end(ex);
    return rc;
}

/* Passthrough: ends a started stream that was cut short with an error
 * event in the form both specs accept (RESPONSES.md 6.3), numbered after
 * the last event relayed. */
static void relay_fail(struct exchange *ex, const char *code, const char *message)
{
    lx_buf *b = &ex->whole;
    lx_jw w;
    lx_buf_reset(b);
    lx_ex_note_error(ex, code, message);
    if (lx_buf_append(b, "event: error\ndata: ", 19) == LX_OK) {
        lx_jw_init(&w, b);
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "type");
        lx_jw_cstr(&w, "error");
        lx_jw_key(&w, "sequence_number");
        lx_jw_int(&w, ex->relayed);
        for (int nested = 0; nested < 2; nested++) {
            if (nested) {
                lx_jw_key(&w, "error");
                lx_jw_obj_open(&w);
                lx_jw_key(&w, "type");
                lx_jw_cstr(&w, "server_error");
            }
            lx_jw_key(&w, "code");
            lx_jw_cstr(&w, code);
            lx_jw_key(&w, "message");
            lx_jw_cstr(&w, message);
            lx_jw_key(&w, "param");
            lx_jw_null(&w);
        }
        lx_jw_obj_close(&w);
        lx_jw_obj_close(&w);
        if (lx_jw_ok(&w) && lx_buf_append(b, "\n\n", 2) == LX_OK)
            lx_proxy_client_write(ex, b->data, b->len);
    }
    lx_buf_reset(b);
    lx_ex_client_end(ex);
}

/* Passthrough: the backend's stream ended. Complete (a terminal event was
 * relayed): end the client's stream as the backend did; cut short: fail. */
static void relay_end(struct exchange *ex)
{
    if (!ex->client_started)
        lx_ex_respond_error(ex, 502, "The backend ended the stream without sending an event.",
                            "server_error", NULL, "upstream_incomplete");
    else if (ex->tally.finish_reason[0] == 0)
        relay_fail(ex, "upstream_incomplete",
                   "The backend ended the stream before it was complete.");
    else
        lx_ex_client_end(ex);
}

void lx_proxy_resp_stream_end(struct exchange *ex)
{
    if (ex->req == NULL || ex->client_finished || ex->resp_finishing)
        return;
    if (lx_proxy_repair_pending(ex)) {
        lx_proxy_repair_start(ex); /* validate.c: ask again, non-streamed */
        return;
    }
    /* a complete stream without [DONE]: validation lets go what it holds */
    if (!ex->passthrough && !ex->saw_done && ex->tally.finish_reason[0] &&
        lx_proxy_validate_end(ex) != LX_OK) {
        if (lx_proxy_repair_pending(ex))
            lx_proxy_repair_start(ex);
        return;
    }
    if (ex->passthrough) {
        relay_end(ex);
        return;
    }
    if (ex->rs == NULL) {
        lx_ex_respond_error(ex, 502, "The backend ended the stream without sending an event.",
                            "server_error", NULL, "upstream_incomplete");
        return;
    }
    if (!ex->saw_done && ex->tally.finish_reason[0] == 0) {
        lx_proxy_resp_stream_fail(ex, "The backend ended the stream before it was complete.",
                                  "upstream_incomplete");
        return;
    }
    lx_buf *out = answer_buf(ex);
    ex->meta.completed_at = unix_now();
    if (out == NULL || lx_resp_stream_finish(ex->rs, ex->meta.completed_at, out) != LX_OK) {
        lx_proxy_resp_stream_fail(ex, "The response is too large to finish.", "server_error");
        return;
    }
    ex->resp_finishing = true;
    if (!ex->resp_store) {
        remember_in_conn_cache(ex, lx_resp_stream_result(ex->rs)); /* WebSocket mode */
        release_answer(ex);
        return;
    }
    /* the stored object is the one response.completed carries */
    const struct lx_ir_result *res = lx_resp_stream_result(ex->rs);
    lx_buf obj;
    lx_buf_init(&obj, out->cap);
    if (lx_resp_response_write(&ex->ir, res, &ex->meta, &obj) == LX_OK)
        store_then_release(ex, res, lx_buf_str(&obj));
    else
        release_answer(ex);
    lx_buf_release(&obj);
}
