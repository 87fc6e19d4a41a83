/*
 * compact.c — POST /v1/responses/input_tokens and POST /v1/responses/compact
 * (shared/spec/RESPONSES.md 1, 3.5, 5), and the compaction items they make.
 *
 * Both run as Responses exchanges (resp.c): the body is decoded into the
 * IR, previous_response_id is resolved from the store, and routing,
 * admission, retries, fallbacks, metrics and the audit record are the
 * exchange's (exchange.c). These hooks change what is sent to a chat
 * backend and what the client gets back:
 *
 *  - input_tokens: the request's chat form, exactly as POST /v1/responses
 *    would send it, with max_tokens 1 and no stream; the answer's
 *    usage.prompt_tokens is the count (the backend's own tokenizer and chat
 *    template). llama.cpp's /apply-template + /tokenize are not used: one
 *    method for every chat backend.
 *  - compact: the model itself summarises the conversation. Sent: one
 *    system message (COMPACT_INSTRUCTIONS, then the request's instructions
 *    when given), the conversation, and a last user message (COMPACT_ASK),
 *    without tools. Answered: the conversation's user messages, kept as
 *    message items, then one compaction item whose encrypted_content is the
 *    summary sealed under context "compaction" (store/seal.h) with the
 *    proxy's key (responses.encryption_key_env, else random per process).
 *
 * A compaction item in any later request (create, input_tokens or compact)
 * is opened before the chat body is written and goes to the backend as a
 * user message "SUMMARY_PREFIX<summary>" in its place; a seal that does not
 * open is a 400 invalid_encrypted_content. Responses backends (passthrough)
 * get the endpoint's own path and the body untouched: their compaction
 * items are theirs to open.
 */
#include "proxy_int.h"

#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../json/json.h"

enum lx_proxy_resp_kind { RESP_CREATE, RESP_INPUT_TOKENS, RESP_COMPACT };

static const char seal_context[] = "compaction";

/* The summarisation instruction (a system message; docs/config.md quotes it). */
#define COMPACT_INSTRUCTIONS                                                                       \
    "\"You are compacting a conversation so that it can go on in a fresh context. Write a "        \
    "summary of the conversation so far from which another assistant can continue without "        \
    "seeing it: the user's goals and requests, decisions taken, facts and results established "    \
    "(tool results included), open questions and what remains to be done. Answer with the "        \
    "summary only.\""
#define COMPACT_INSTRUCTIONS_THEN "\"\\n\\nThe conversation ran under these instructions:\\n\""
/* The last user message of a compaction request. */
#define COMPACT_ASK "\"Summarise the conversation above as instructed.\""
/* What a chat backend reads in place of a compaction item. */
#define SUMMARY_PREFIX "\"Summary of the earlier conversation:\\n\\n\""

uint8_t lx_proxy_resp_kind_of(enum lx_proxy_endpoint *ep)
{
    switch (*ep) {
    case LX_PROXY_RESP_INPUT_TOKENS:
        *ep = LX_PROXY_RESPONSES;
        return RESP_INPUT_TOKENS;
    case LX_PROXY_RESP_COMPACT:
        *ep = LX_PROXY_RESPONSES;
        return RESP_COMPACT;
    default:
        return RESP_CREATE;
    }
}

const char *lx_proxy_resp_path(const struct exchange *ex)
{
    if (ex->resp_kind == RESP_INPUT_TOKENS)
        return "/responses/input_tokens";
    if (ex->resp_kind == RESP_COMPACT)
        return "/responses/compact";
    return "/responses";
}

/* The base64 text of an encrypted_content literal: without its quotes and
 * with the JSON escape "\/" undone (base64 holds '/'); any other escape is
 * not base64 and gives an empty view. */
static lx_str seal_text(lx_arena *a, lx_str lit)
{
    if (lit.len < 2)
        return LX_STR_NULL;
    lx_str in = {lit.ptr + 1, lit.len - 2};
    if (memchr(in.ptr, '\\', in.len) == NULL)
        return in;
    char *out = lx_arena_alloc(a, in.len);
    size_t n = 0;
    if (out == NULL)
        return LX_STR_NULL;
    for (size_t i = 0; i < in.len; i++) {
        if (in.ptr[i] == '\\') {
            if (i + 1 >= in.len || in.ptr[i + 1] != '/')
                return LX_STR_NULL;
            i++;
        }
        out[n++] = in.ptr[i];
    }
    return (lx_str){out, n};
}

/* Opens one compaction item: its parts become the summary message. */
static int open_item(struct exchange *ex, struct lx_ir_item *it)
{
    lx_buf plain;
    lx_buf_init(&plain, LX_SEAL_MAX_PLAIN);
    lx_str sealed = seal_text(&ex->arena, it->encrypted_content);
    int rc = LX_ERR;
    /* what was sealed is a JSON string literal (see answer_compact) */
    if (sealed.len && lx_seal_open(&ex->p->seal, seal_context, sealed, &plain) == LX_OK &&
        plain.len >= 2 && plain.data[0] == '"' && plain.data[plain.len - 1] == '"') {
        char *copy = lx_arena_alloc(&ex->arena, plain.len);
        struct lx_ir_part *part = lx_arena_alloc(&ex->arena, sizeof(*part));
        if (copy && part) {
            memcpy(copy, plain.data, plain.len);
            lx_str lits[2] = {LX_STR_LIT(SUMMARY_PREFIX), {copy, plain.len}};
            *part = (struct lx_ir_part){.kind = LX_IR_PART_INPUT_TEXT,
                                        .text = lx_ir_lit_join(&ex->arena, lits, 2)};
            if (part->text.len) {
                it->parts = part;
                it->nparts = 1;
                it->role = LX_IR_ROLE_USER;
                rc = LX_OK;
            }
        }
    }
    lx_buf_release(&plain);
    return rc;
}

int lx_proxy_compact_open(struct exchange *ex)
{
    if (ex->compaction_opened)
        return LX_OK;
    for (uint32_t i = 0; i < ex->ir.nitems; i++) {
        struct lx_ir_item *it = &ex->ir.items[i];
        if (it->kind != LX_IR_ITEM_COMPACTION || it->nparts)
            continue;
        if (open_item(ex, it) != LX_OK) {
            char param[48];
            snprintf(param, sizeof(param), "input[%u].encrypted_content", i);
            lx_ex_respond_error(ex, 400,
                                "The encrypted content of a compaction item could not be "
                                "verified or decrypted: it was not made by this gateway with its "
                                "current key, or it was altered.",
                                "invalid_request_error", param, "invalid_encrypted_content");
            return LX_AGAIN;
        }
    }
    ex->compaction_opened = true;
    return LX_OK;
}

/* The compaction request: the summarisation instruction (then the
 * request's own), the conversation, the ask; no tools, no output format. */
static int compact_request(struct exchange *ex, struct lx_ir_request *r)
{
    lx_arena *a = &ex->arena;
    if (ex->ir.instructions.len) {
        lx_str lits[3] = {LX_STR_LIT(COMPACT_INSTRUCTIONS), LX_STR_LIT(COMPACT_INSTRUCTIONS_THEN),
                          ex->ir.instructions};
        r->instructions = lx_ir_lit_join(a, lits, 3);
    } else {
        r->instructions = LX_STR_LIT(COMPACT_INSTRUCTIONS);
    }
    r->items = lx_arena_alloc(a, (ex->ir.nitems + 1) * sizeof(*r->items));
    struct lx_ir_part *ask = lx_arena_alloc(a, sizeof(*ask));
    if (r->items == NULL || ask == NULL || r->instructions.len == 0)
        return LX_ERR;
    if (ex->ir.nitems)
        memcpy(r->items, ex->ir.items, ex->ir.nitems * sizeof(*r->items));
    *ask = (struct lx_ir_part){.kind = LX_IR_PART_INPUT_TEXT, .text = LX_STR_LIT(COMPACT_ASK)};
    r->items[ex->ir.nitems] = (struct lx_ir_item){
        .kind = LX_IR_ITEM_MESSAGE, .role = LX_IR_ROLE_USER, .parts = ask, .nparts = 1};
    r->nitems = ex->ir.nitems + 1;
    r->input_is_string = false;
    r->tools = NULL;
    r->ntools = r->nother_tools = 0;
    r->tool_choice = (struct lx_ir_tool_choice){0};
    r->format = (struct lx_ir_format){0};
    r->parallel_tool_calls = LX_IR_UNSET;
    return LX_OK;
}

int lx_proxy_compact_encode(struct exchange *ex, const struct lx_resp_chat_opts *o)
{
    struct lx_ir_request r = ex->ir;
    r.stream = false;
    if (ex->resp_kind == RESP_INPUT_TOKENS)
        r.max_output_tokens = LX_STR_LIT("1"); /* only the prompt's usage is wanted */
    else if (compact_request(ex, &r) != LX_OK)
        return LX_ERR;
    return lx_resp_chat_request_encode(&r, o, &ex->arena, &ex->upstream_body);
}

static void answer_input_tokens(struct exchange *ex)
{
    if (!ex->tally.has_usage) {
        lx_ex_respond_error(ex, 502, "The backend's answer carries no usage to count tokens with.",
                            "server_error", NULL, "upstream_no_usage");
        return;
    }
    lx_buf b;
    lx_buf_init(&b, 96);
    if (lx_resp_input_tokens_write(ex->tally.prompt_tokens, &b) == LX_OK)
        lx_ex_respond(ex, 200, b.data, b.len);
    else
        lx_ex_respond_error(ex, 500, "The gateway could not write its answer.", "server_error",
                            NULL, "server_error");
    lx_buf_release(&b);
}

/* The summary: the text of the answer's message items as one literal. */
static lx_str summary_of(const struct lx_ir_result *res, lx_arena *a)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < res->nitems; i++)
        if (res->items[i].kind == LX_IR_ITEM_MESSAGE)
            n += res->items[i].nparts;
    lx_str *lits = n ? lx_arena_alloc(a, n * sizeof(*lits)) : NULL;
    if (lits == NULL)
        return LX_STR_NULL;
    n = 0;
    for (uint32_t i = 0; i < res->nitems; i++)
        for (uint32_t k = 0; res->items[i].kind == LX_IR_ITEM_MESSAGE && k < res->items[i].nparts;
             k++)
            if (res->items[i].parts[k].kind == LX_IR_PART_OUTPUT_TEXT)
                lits[n++] = res->items[i].parts[k].text;
    lx_str s = lx_ir_lit_join(a, lits, n);
    return s.len > 2 ? s : LX_STR_NULL; /* "" is no summary */
}

/* The compacted output: the user messages of the conversation (with their
 * ids, else msg_<base>_<index>), then the compaction item. */
static int compacted_output(struct exchange *ex, lx_str sealed, struct lx_ir_result *out)
{
    lx_arena *a = &ex->arena;
    const char *base = ex->resp_id + 5;
    out->items = lx_arena_alloc(a, (ex->ir.nitems + 1) * sizeof(*out->items));
    if (out->items == NULL)
        return LX_ERR;
    out->nitems = 0;
    for (uint32_t i = 0; i < ex->ir.nitems; i++) {
        const struct lx_ir_item *it = &ex->ir.items[i];
        if (it->kind != LX_IR_ITEM_MESSAGE || it->role != LX_IR_ROLE_USER)
            continue;
        struct lx_ir_item m = *it;
        m.status = LX_IR_STATUS_COMPLETED;
        if (!m.id.len) {
            char id[64];
            int n = snprintf(id, sizeof(id), "msg_%s_%u", base, i);
            m.id = lx_ir_lit_make(a, id, (size_t)n);
        }
        out->items[out->nitems++] = m;
    }
    char id[64];
    int n = snprintf(id, sizeof(id), "cmp_%s", base);
    out->items[out->nitems++] = (struct lx_ir_item){
        .kind = LX_IR_ITEM_COMPACTION,
        .id = lx_ir_lit_make(a, id, (size_t)n),
        .encrypted_content = lx_ir_lit_make(a, sealed.ptr, sealed.len),
    };
    return LX_OK;
}

static void answer_compact(struct exchange *ex, lx_str body)
{
    struct lx_ir_result res;
    lx_arena_reset(&ex->scratch);
    if (lx_resp_chat_result_decode(&res, &ex->ir, body.ptr, body.len, ex->resp_id + 5, &ex->scratch,
                                   ex->cfg->limits.max_json_depth) != LX_OK) {
        lx_ex_respond_error(ex, 502, "The backend's answer is not a chat completion.",
                            "server_error", NULL, "upstream_invalid_response");
        return;
    }
    lx_str summary = summary_of(&res, &ex->scratch);
    if (summary.len == 0) {
        lx_ex_respond_error(ex, 502, "The model answered the compaction request without text.",
                            "server_error", NULL, "upstream_empty_summary");
        return;
    }
    lx_buf sealed, out;
    lx_buf_init(&sealed, LX_SEAL_MAX_PLAIN * 2);
    lx_buf_init(&out, ex->cfg->limits.max_body_bytes * 2 + LX_SEAL_MAX_PLAIN * 2);
    struct lx_ir_result compacted = {.usage = res.usage};
    struct lx_resp_meta meta = {.id = ex->resp_id, .created_at = ex->meta.created_at};
    if (lx_seal_close(&ex->p->seal, seal_context, summary, &sealed) != LX_OK ||
        compacted_output(ex, lx_buf_str(&sealed), &compacted) != LX_OK ||
        lx_resp_compaction_write(&compacted, &meta, &out) != LX_OK)
        lx_ex_respond_error(ex, 502, "The compacted conversation is too large to answer.",
                            "server_error", NULL, "upstream_too_large");
    else
        lx_ex_respond(ex, 200, out.data, out.len);
    lx_buf_release(&sealed);
    lx_buf_release(&out);
    lx_arena_reset(&ex->scratch);
}

bool lx_proxy_compact_whole(struct exchange *ex, lx_str body)
{
    if (ex->resp_kind == RESP_CREATE)
        return false;
    lx_arena_reset(&ex->scratch);
    lx_chat_response_inspect(body, &ex->scratch, ex->cfg->limits.max_json_depth, &ex->tally);
    lx_arena_reset(&ex->scratch);
    if (ex->resp_kind == RESP_INPUT_TOKENS)
        answer_input_tokens(ex);
    else
        answer_compact(ex, body);
    return true;
}
