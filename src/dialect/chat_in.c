/*
 * chat_in.c — the request side of the reverse direction (see reverse.h): a
 * Chat Completions request decoded into the IR, and the IR written as a
 * Responses request for a Responses-only backend. Section numbers cite
 * shared/spec/RESPONSES.md (10: the chat request, 13: the mapping, 2-3:
 * the Responses request written).
 *
 * Like responses.c, decoding checks types as the OpenAI API does, reports
 * the first fault with a path to it, and keeps every string as a literal
 * view into the body, so text is never unescaped or copied.
 */
#include "reverse.h"

#include "decode_int.h"

#include <stdio.h>

/* Fault paths are built by nesting snprintf; a path that does not fit is
 * truncated, which only shortens the param of an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static int unsupported(struct lx_dec *d, const char *param, const char *what)
{
    return lx_dec_fail(d, "unsupported_value", param,
                       "%s is not supported by this model's backend.", what);
}

/* ---- message content (10) ----------------------------------------------- */

/* The type string of a part or tool, required. */
static int type_of(struct lx_dec *d, int obj, const char *path, int *type)
{
    if (!lx_json_is_object(d->j, obj))
        return lx_dec_type_fail(d, obj, path, LX_JSON_WANT_OBJECT);
    return lx_dec_member_tok(d, obj, "type", path, LX_JSON_WANT_STRING, true, type);
}

static int decode_image(struct lx_dec *d, int tok, const char *path, struct lx_ir_part *p)
{
    char param[96];
    int img;
    snprintf(param, sizeof(param), "%s", path);
    if (lx_dec_member_tok(d, tok, "image_url", path, LX_JSON_WANT_STR_OR_OBJ, true, &img) != LX_OK)
        return LX_ERR;
    p->kind = LX_IR_PART_INPUT_IMAGE;
    if (lx_json_is_string(d->j, img)) { /* an older shorthand some clients send */
        p->image_url = lx_json_value_text(d->j, img);
        return LX_OK;
    }
    snprintf(param, sizeof(param), "%s.image_url", path);
    if (lx_dec_member(d, img, "url", param, LX_JSON_WANT_STRING, true, &p->image_url) != LX_OK ||
        lx_dec_member(d, img, "detail", param, LX_JSON_WANT_STRING, false, &p->detail) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

/* One part of a message of role r. User messages take text and images;
 * assistant messages text and refusals; the others text only. */
static int decode_part(struct lx_dec *d, int tok, const char *path, enum lx_ir_role r,
                       struct lx_ir_part *p)
{
    const lx_json *j = d->j;
    char param[96];
    int type;
    if (type_of(d, tok, path, &type) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.type", path);
    bool assistant = r == LX_IR_ROLE_ASSISTANT;
    if (lx_json_str_eq(j, type, "text")) {
        p->kind = assistant ? LX_IR_PART_OUTPUT_TEXT : LX_IR_PART_INPUT_TEXT;
        return lx_dec_member(d, tok, "text", path, LX_JSON_WANT_STRING, true, &p->text);
    }
    if (assistant && lx_json_str_eq(j, type, "refusal")) {
        p->kind = LX_IR_PART_REFUSAL;
        return lx_dec_member(d, tok, "refusal", path, LX_JSON_WANT_STRING, true, &p->text);
    }
    if (r == LX_IR_ROLE_USER && lx_json_str_eq(j, type, "image_url"))
        return decode_image(d, tok, path, p);
    if (r == LX_IR_ROLE_USER &&
        (lx_json_str_eq(j, type, "input_audio") || lx_json_str_eq(j, type, "file")))
        return unsupported(d, param, "This content part type");
    return lx_dec_fail(d, "invalid_value", param, "Invalid value for '%s': content part type %.*s.",
                       param, (int)LX_MIN(lx_json_raw(j, type).len, 64), lx_json_raw(j, type).ptr);
}

/* A string (one text part) or an array of parts; null or absent gives no
 * parts unless required. */
static int decode_content(struct lx_dec *d, int tok, const char *path, enum lx_ir_role r,
                          bool required, struct lx_ir_item *it)
{
    const lx_json *j = d->j;
    bool present;
    if (lx_dec_want(d, tok, path, LX_JSON_WANT_STR_OR_ARR, required, &present) != LX_OK)
        return LX_ERR;
    if (!present)
        return required ? lx_dec_missing(d, path) : LX_OK;
    if (lx_json_is_string(j, tok)) {
        it->content_is_string = true;
        it->parts = lx_dec_alloc(d, 2, sizeof(*it->parts)); /* 2: a refusal key */
        if (!it->parts)
            return lx_dec_no_memory(d);
        it->parts[0].kind =
            r == LX_IR_ROLE_ASSISTANT ? LX_IR_PART_OUTPUT_TEXT : LX_IR_PART_INPUT_TEXT;
        it->parts[0].text = lx_json_value_text(j, tok);
        it->nparts = 1;
        return LX_OK;
    }
    int n = lx_json_size(j, tok);
    if (n > LX_IR_MAX_PARTS)
        return lx_dec_fail(d, "array_above_max_length", path, "Too many content parts in '%s'.",
                           path);
    it->parts = lx_dec_alloc(d, (size_t)n + 1, sizeof(*it->parts)); /* +1: a refusal key */
    if (!it->parts)
        return lx_dec_no_memory(d);
    int i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        char param[96];
        snprintf(param, sizeof(param), "%s[%d]", path, k);
        if (decode_part(d, i, param, r, &it->parts[k]) != LX_OK)
            return LX_ERR;
    }
    it->nparts = (uint32_t)n;
    return LX_OK;
}

/* ---- messages (10 -> 3) -------------------------------------------------- */

struct items {
    struct lx_ir_item *v;
    uint32_t n, cap;
};

static struct lx_ir_item *next_item(struct lx_dec *d, struct items *out)
{
    if (out->n >= out->cap) {
        lx_dec_fail(d, "array_above_max_length", "messages",
                    "Too many messages (at most %d items).", LX_IR_MAX_ITEMS);
        return NULL;
    }
    struct lx_ir_item *it = &out->v[out->n++];
    *it = (struct lx_ir_item){0};
    return it;
}

static int decode_tool_call(struct lx_dec *d, int tok, const char *path, struct items *out)
{
    int type, fn;
    if (type_of(d, tok, path, &type) != LX_OK)
        return LX_ERR;
    char param[96];
    snprintf(param, sizeof(param), "%s.type", path);
    if (!lx_json_str_eq(d->j, type, "function"))
        return unsupported(d, param, "A tool call that is not a function call");
    if (lx_dec_member_tok(d, tok, "function", path, LX_JSON_WANT_OBJECT, true, &fn) != LX_OK)
        return LX_ERR;
    struct lx_ir_item *it = next_item(d, out);
    if (!it)
        return LX_ERR;
    it->kind = LX_IR_ITEM_FUNCTION_CALL;
    snprintf(param, sizeof(param), "%s.function", path);
    if (lx_dec_member(d, tok, "id", path, LX_JSON_WANT_STRING, true, &it->call_id) != LX_OK ||
        lx_dec_member(d, fn, "name", param, LX_JSON_WANT_STRING, true, &it->name) != LX_OK ||
        lx_dec_member(d, fn, "arguments", param, LX_JSON_WANT_STRING, true, &it->arguments) !=
            LX_OK)
        return LX_ERR;
    return LX_OK;
}

/* An assistant turn: its text and refusal as one message item (when it
 * has any), then one function_call item per tool call (13). */
static int decode_assistant(struct lx_dec *d, int tok, const char *path, struct items *out)
{
    const lx_json *j = d->j;
    char param[96];
    int calls;
    lx_str refusal;
    if (lx_dec_member_tok(d, tok, "tool_calls", path, LX_JSON_WANT_ARRAY, false, &calls) != LX_OK ||
        lx_dec_member(d, tok, "refusal", path, LX_JSON_WANT_STRING, false, &refusal) != LX_OK)
        return LX_ERR;
    struct lx_ir_item msg = {.kind = LX_IR_ITEM_MESSAGE, .role = LX_IR_ROLE_ASSISTANT};
    snprintf(param, sizeof(param), "%s.content", path);
    bool need = calls < 0 && !refusal.len;
    if (decode_content(d, lx_json_get(j, tok, "content"), param, LX_IR_ROLE_ASSISTANT, need,
                       &msg) != LX_OK)
        return LX_ERR;
    if (refusal.len) {
        if (!msg.parts && !(msg.parts = lx_dec_alloc(d, 1, sizeof(*msg.parts))))
            return lx_dec_no_memory(d);
        if (msg.content_is_string) { /* both a string and a refusal: now a part list */
            msg.content_is_string = false;
            msg.nparts = msg.parts[0].text.len > 2; /* "" says nothing */
        }
        msg.parts[msg.nparts++] = (struct lx_ir_part){.kind = LX_IR_PART_REFUSAL, .text = refusal};
    }
    /* content "" beside tool calls says nothing: no message item for it */
    bool empty = msg.nparts == 0 || (msg.content_is_string && msg.parts[0].text.len == 2);
    if (!(empty && calls >= 0)) {
        struct lx_ir_item *it = next_item(d, out);
        if (!it)
            return LX_ERR;
        *it = msg;
    }
    if (calls < 0)
        return LX_OK;
    int n = lx_json_size(j, calls), i = calls + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        snprintf(param, sizeof(param), "%s.tool_calls[%d]", path, k);
        if (decode_tool_call(d, i, param, out) != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int decode_tool_result(struct lx_dec *d, int tok, const char *path, struct items *out)
{
    char param[96];
    struct lx_ir_item *it = next_item(d, out);
    if (!it)
        return LX_ERR;
    it->kind = LX_IR_ITEM_FUNCTION_CALL_OUTPUT;
    if (lx_dec_member(d, tok, "tool_call_id", path, LX_JSON_WANT_STRING, true, &it->call_id) !=
        LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.content", path);
    /* a tool result holds text only: decoded as a system message's would be */
    return decode_content(d, lx_json_get(d->j, tok, "content"), param, LX_IR_ROLE_SYSTEM, true, it);
}

/* The text of a system/developer message as one literal, for instructions:
 * a string as given, text parts joined. */
static lx_str instructions_of(struct lx_dec *d, const struct lx_ir_item *it)
{
    if (it->content_is_string)
        return it->parts[0].text;
    lx_str *lits = lx_arena_alloc(d->a, (it->nparts + 1) * sizeof(*lits));
    if (!lits)
        return LX_STR_NULL;
    for (uint32_t k = 0; k < it->nparts; k++)
        lits[k] = it->parts[k].text;
    return it->nparts ? lx_ir_lit_join(d->a, lits, it->nparts) : LX_STR_LIT("\"\"");
}

static int decode_message(struct lx_dec *d, int tok, int k, struct lx_ir_request *req,
                          struct items *out)
{
    const lx_json *j = d->j;
    char path[96], param[96];
    int role;
    snprintf(path, sizeof(path), "messages[%d]", k);
    if (!lx_json_is_object(j, tok))
        return lx_dec_type_fail(d, tok, path, LX_JSON_WANT_OBJECT);
    if (lx_dec_member_tok(d, tok, "role", path, LX_JSON_WANT_STRING, true, &role) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.role", path);
    if (lx_json_str_eq(j, role, "assistant"))
        return decode_assistant(d, tok, path, out);
    if (lx_json_str_eq(j, role, "tool"))
        return decode_tool_result(d, tok, path, out);
    if (lx_json_str_eq(j, role, "function"))
        return unsupported(d, param, "The deprecated 'function' role");
    static const char *const roles[] = {"user", "system", "developer"};
    size_t r = 0;
    while (r < LX_ARRAY_LEN(roles) && !lx_json_str_eq(j, role, roles[r]))
        r++;
    if (r == LX_ARRAY_LEN(roles))
        return lx_dec_fail(d, "invalid_value", param,
                           "Invalid value for '%s': expected one of 'system', 'developer', 'user', "
                           "'assistant' or 'tool'.",
                           param);
    struct lx_ir_item it = {.kind = LX_IR_ITEM_MESSAGE, .role = (enum lx_ir_role)r};
    snprintf(param, sizeof(param), "%s.content", path);
    if (decode_content(d, lx_json_get(j, tok, "content"), param, it.role, true, &it) != LX_OK)
        return LX_ERR;
    /* the first message, when it is the system prompt, is the instructions (13) */
    if (k == 0 && it.role != LX_IR_ROLE_USER) {
        req->instructions = instructions_of(d, &it);
        return req->instructions.len ? LX_OK : lx_dec_no_memory(d);
    }
    struct lx_ir_item *slot = next_item(d, out);
    if (!slot)
        return LX_ERR;
    *slot = it;
    return LX_OK;
}

/* One chat message yields at most one message item plus its tool calls. */
static uint32_t count_items(const lx_json *j, int msgs)
{
    size_t n = 0;
    int i = msgs + 1;
    for (int k = 0; k < lx_json_size(j, msgs); k++, i = lx_json_skip(j, i)) {
        int calls = lx_json_get(j, i, "tool_calls");
        n += 1 + (lx_json_is_array(j, calls) ? (size_t)lx_json_size(j, calls) : 0);
    }
    return (uint32_t)LX_MIN(n, (size_t)LX_IR_MAX_ITEMS);
}

static int decode_messages(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    int n = lx_json_size(j, tok);
    if (n == 0)
        return lx_dec_fail(
            d, "empty_array", "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.");
    struct items out = {.cap = count_items(j, tok)};
    out.v = lx_dec_alloc(d, out.cap, sizeof(*out.v));
    if (!out.v)
        return lx_dec_no_memory(d);
    int i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i))
        if (decode_message(d, i, k, req, &out) != LX_OK)
            return LX_ERR;
    req->items = out.v;
    req->nitems = out.n;
    return LX_OK;
}

/* ---- tools, tool_choice, response_format (10 -> 2) ---------------------- */

static int decode_tool(struct lx_dec *d, int tok, int k, struct lx_ir_tool *t)
{
    char path[96], param[96];
    int type, fn;
    snprintf(path, sizeof(path), "tools[%d]", k);
    if (type_of(d, tok, path, &type) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.type", path);
    if (!lx_json_str_eq(d->j, type, "function"))
        return unsupported(d, param, "A tool that is not a function");
    if (lx_dec_member_tok(d, tok, "function", path, LX_JSON_WANT_OBJECT, true, &fn) != LX_OK)
        return LX_ERR;
    *t = (struct lx_ir_tool){.kind = LX_IR_TOOL_FUNCTION,
                             .type = lx_json_value_text(d->j, type),
                             .raw = lx_json_value_text(d->j, tok)};
    snprintf(param, sizeof(param), "%s.function", path);
    if (lx_dec_member(d, fn, "name", param, LX_JSON_WANT_STRING, true, &t->name) != LX_OK ||
        lx_dec_member(d, fn, "description", param, LX_JSON_WANT_STRING, false, &t->description) !=
            LX_OK ||
        lx_dec_member(d, fn, "parameters", param, LX_JSON_WANT_OBJECT, false, &t->parameters) !=
            LX_OK ||
        lx_dec_member(d, fn, "strict", param, LX_JSON_WANT_BOOL, false, &t->strict) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

static int decode_tools(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    int n = lx_json_size(d->j, tok);
    if (n > LX_IR_MAX_TOOLS)
        return lx_dec_fail(d, "array_above_max_length", "tools", "Too many tools (at most %d).",
                           LX_IR_MAX_TOOLS);
    req->tools = lx_dec_alloc(d, (size_t)n, sizeof(*req->tools));
    if (n && !req->tools)
        return lx_dec_no_memory(d);
    int i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(d->j, i))
        if (decode_tool(d, i, k, &req->tools[k]) != LX_OK)
            return LX_ERR;
    req->ntools = (uint32_t)n;
    return LX_OK;
}

/* {type:"function", function:{name}} at tok; the name literal into *name. */
static int decode_function_ref(struct lx_dec *d, int tok, const char *path, lx_str *name)
{
    int type, fn;
    char param[96];
    if (type_of(d, tok, path, &type) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.type", path);
    if (!lx_json_str_eq(d->j, type, "function"))
        return unsupported(d, param, "A tool that is not a function");
    if (lx_dec_member_tok(d, tok, "function", path, LX_JSON_WANT_OBJECT, true, &fn) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.function", path);
    return lx_dec_member(d, fn, "name", param, LX_JSON_WANT_STRING, true, name);
}

static int decode_allowed(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c)
{
    const lx_json *j = d->j;
    int at, tools;
    c->kind = LX_IR_CHOICE_ALLOWED_TOOLS;
    if (lx_dec_member_tok(d, tok, "allowed_tools", "tool_choice", LX_JSON_WANT_OBJECT, true, &at) !=
            LX_OK ||
        lx_dec_member(d, at, "mode", "tool_choice.allowed_tools", LX_JSON_WANT_STRING, true,
                      &c->mode) != LX_OK ||
        lx_dec_member_tok(d, at, "tools", "tool_choice.allowed_tools", LX_JSON_WANT_ARRAY, true,
                          &tools) != LX_OK)
        return LX_ERR;
    if (!lx_ir_lit_eq(c->mode, "auto") && !lx_ir_lit_eq(c->mode, "required"))
        return lx_dec_fail(d, "invalid_value", "tool_choice.allowed_tools.mode",
                           "Invalid value for 'tool_choice.allowed_tools.mode': expected 'auto' or "
                           "'required'.");
    int n = lx_json_size(j, tools);
    if (n > LX_IR_MAX_TOOLS)
        return lx_dec_fail(d, "array_above_max_length", "tool_choice.allowed_tools.tools",
                           "Too many allowed tools.");
    c->names = lx_dec_alloc(d, (size_t)n, sizeof(*c->names));
    if (n && !c->names)
        return lx_dec_no_memory(d);
    int i = tools + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        char path[96];
        snprintf(path, sizeof(path), "tool_choice.allowed_tools.tools[%d]", k);
        if (decode_function_ref(d, i, path, &c->names[k]) != LX_OK)
            return LX_ERR;
    }
    c->nnames = (uint32_t)n;
    return LX_OK;
}

static int decode_tool_choice(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c)
{
    const lx_json *j = d->j;
    c->raw = lx_json_value_text(j, tok);
    if (lx_json_is_string(j, tok))
        return lx_dec_choice_mode(d, tok, c);
    int type;
    if (type_of(d, tok, "tool_choice", &type) != LX_OK)
        return LX_ERR;
    if (lx_json_str_eq(j, type, "allowed_tools"))
        return decode_allowed(d, tok, c);
    c->kind = LX_IR_CHOICE_FUNCTION;
    return decode_function_ref(d, tok, "tool_choice", &c->name);
}

static int decode_response_format(struct lx_dec *d, int tok, struct lx_ir_format *fm)
{
    const lx_json *j = d->j;
    int type, js;
    if (type_of(d, tok, "response_format", &type) != LX_OK)
        return LX_ERR;
    if (lx_json_str_eq(j, type, "text")) {
        fm->kind = LX_IR_FORMAT_TEXT;
        return LX_OK;
    }
    if (lx_json_str_eq(j, type, "json_object")) {
        fm->kind = LX_IR_FORMAT_JSON_OBJECT;
        return LX_OK;
    }
    if (!lx_json_str_eq(j, type, "json_schema"))
        return lx_dec_fail(
            d, "invalid_value", "response_format.type",
            "Invalid value for 'response_format.type': expected 'text', 'json_object' "
            "or 'json_schema'.");
    fm->kind = LX_IR_FORMAT_JSON_SCHEMA;
    const char *p = "response_format.json_schema";
    if (lx_dec_member_tok(d, tok, "json_schema", "response_format", LX_JSON_WANT_OBJECT, true,
                          &js) != LX_OK ||
        lx_dec_member(d, js, "name", p, LX_JSON_WANT_STRING, true, &fm->name) != LX_OK ||
        lx_dec_member(d, js, "description", p, LX_JSON_WANT_STRING, false, &fm->description) !=
            LX_OK ||
        lx_dec_member(d, js, "schema", p, LX_JSON_WANT_OBJECT, false, &fm->schema) != LX_OK ||
        lx_dec_member(d, js, "strict", p, LX_JSON_WANT_BOOL, false, &fm->strict) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

/* ---- the root object ---------------------------------------------------- */

enum root_key {
    K_MODEL,
    K_MESSAGES,
    K_TOOLS,
    K_TOOL_CHOICE,
    K_PARALLEL,
    K_RESPONSE_FORMAT,
    K_MAX_COMPLETION,
    K_MAX_TOKENS,
    K_REASONING_EFFORT,
    K_VERBOSITY,
    K_TEMPERATURE,
    K_TOP_P,
    K_PRESENCE,
    K_FREQUENCY,
    K_LOGPROBS,
    K_TOP_LOGPROBS,
    K_STREAM,
    K_STREAM_OPTIONS,
    K_STORE,
    K_METADATA,
    K_USER,
    K_SAFETY,
    K_CACHE_KEY,
    K_SERVICE_TIER,
    K_N,
    K_MODALITIES,
    K_AUDIO,
    K_PREDICTION,
    K_FUNCTIONS,
    K_FUNCTION_CALL,
    K_WEB_SEARCH,
    K_COUNT
};

static const struct lx_dec_key root_keys[K_COUNT] = {
    [K_MODEL] = {"model", LX_JSON_WANT_STRING},
    [K_MESSAGES] = {"messages", LX_JSON_WANT_ARRAY},
    [K_TOOLS] = {"tools", LX_JSON_WANT_ARRAY},
    [K_TOOL_CHOICE] = {"tool_choice", LX_JSON_WANT_STR_OR_OBJ},
    [K_PARALLEL] = {"parallel_tool_calls", LX_JSON_WANT_BOOL},
    [K_RESPONSE_FORMAT] = {"response_format", LX_JSON_WANT_OBJECT},
    [K_MAX_COMPLETION] = {"max_completion_tokens", LX_JSON_WANT_INT},
    [K_MAX_TOKENS] = {"max_tokens", LX_JSON_WANT_INT},
    [K_REASONING_EFFORT] = {"reasoning_effort", LX_JSON_WANT_STRING},
    [K_VERBOSITY] = {"verbosity", LX_JSON_WANT_STRING},
    [K_TEMPERATURE] = {"temperature", LX_JSON_WANT_NUMBER},
    [K_TOP_P] = {"top_p", LX_JSON_WANT_NUMBER},
    [K_PRESENCE] = {"presence_penalty", LX_JSON_WANT_NUMBER},
    [K_FREQUENCY] = {"frequency_penalty", LX_JSON_WANT_NUMBER},
    [K_LOGPROBS] = {"logprobs", LX_JSON_WANT_BOOL},
    [K_TOP_LOGPROBS] = {"top_logprobs", LX_JSON_WANT_INT},
    [K_STREAM] = {"stream", LX_JSON_WANT_BOOL},
    [K_STREAM_OPTIONS] = {"stream_options", LX_JSON_WANT_OBJECT},
    [K_STORE] = {"store", LX_JSON_WANT_BOOL},
    [K_METADATA] = {"metadata", LX_JSON_WANT_OBJECT},
    [K_USER] = {"user", LX_JSON_WANT_STRING},
    [K_SAFETY] = {"safety_identifier", LX_JSON_WANT_STRING},
    [K_CACHE_KEY] = {"prompt_cache_key", LX_JSON_WANT_STRING},
    [K_SERVICE_TIER] = {"service_tier", LX_JSON_WANT_STRING},
    [K_N] = {"n", LX_JSON_WANT_INT},
    [K_MODALITIES] = {"modalities", LX_JSON_WANT_ARRAY},
    [K_AUDIO] = {"audio", LX_JSON_WANT_OBJECT},
    [K_PREDICTION] = {"prediction", LX_JSON_WANT_OBJECT},
    [K_FUNCTIONS] = {"functions", LX_JSON_WANT_ARRAY},
    [K_FUNCTION_CALL] = {"function_call", LX_JSON_WANT_STR_OR_OBJ},
    [K_WEB_SEARCH] = {"web_search_options", LX_JSON_WANT_OBJECT},
};

/* Keys a Responses backend cannot take: refused rather than dropped, so a
 * client never silently loses what it asked for. */
static int refuse_unmapped(struct lx_dec *d, const int *s)
{
    static const enum root_key refused[] = {K_AUDIO, K_PREDICTION, K_FUNCTIONS, K_FUNCTION_CALL,
                                            K_WEB_SEARCH};
    for (size_t k = 0; k < LX_ARRAY_LEN(refused); k++)
        if (s[refused[k]] >= 0)
            return lx_dec_fail(
                d, "unsupported_parameter", root_keys[refused[k]].name,
                "Unsupported parameter: '%s' is not supported by this model's backend.",
                root_keys[refused[k]].name);
    int64_t n;
    if (s[K_N] >= 0 && lx_json_int64(d->j, s[K_N], &n) == LX_OK && n != 1)
        return lx_dec_fail(d, "unsupported_value", "n",
                           "Unsupported value: 'n' must be 1 for this model's backend.");
    return LX_OK;
}

static void read_scalars(struct lx_dec *d, const int *s, struct lx_ir_request *req,
                         struct lx_chat_ir_extra *x)
{
    const lx_json *j = d->j;
    bool v;
    req->model = lx_dec_text_of(j, s[K_MODEL]);
    req->stream = lx_json_bool(j, s[K_STREAM], &v) == LX_OK && v;
    if (lx_json_bool(j, s[K_PARALLEL], &v) == LX_OK)
        req->parallel_tool_calls = v ? LX_IR_TRUE : LX_IR_FALSE;
    req->store = LX_IR_FALSE; /* nothing is kept for a chat client (13) */
    /* max_completion_tokens supersedes the deprecated max_tokens (10) */
    req->max_output_tokens =
        lx_dec_text_of(j, s[K_MAX_COMPLETION] >= 0 ? s[K_MAX_COMPLETION] : s[K_MAX_TOKENS]);
    req->reasoning_effort = lx_dec_text_of(j, s[K_REASONING_EFFORT]);
    req->has_reasoning = req->reasoning_effort.len > 0;
    req->verbosity = lx_dec_text_of(j, s[K_VERBOSITY]);
    req->temperature = lx_dec_text_of(j, s[K_TEMPERATURE]);
    req->top_p = lx_dec_text_of(j, s[K_TOP_P]);
    req->presence_penalty = lx_dec_text_of(j, s[K_PRESENCE]);
    req->frequency_penalty = lx_dec_text_of(j, s[K_FREQUENCY]);
    req->want_logprobs = lx_json_bool(j, s[K_LOGPROBS], &v) == LX_OK && v;
    req->top_logprobs = lx_dec_text_of(j, s[K_TOP_LOGPROBS]);
    req->metadata = lx_dec_text_of(j, s[K_METADATA]);
    req->user = lx_dec_text_of(j, s[K_USER]);
    req->safety_identifier = lx_dec_text_of(j, s[K_SAFETY]);
    req->prompt_cache_key = lx_dec_text_of(j, s[K_CACHE_KEY]);
    req->service_tier = lx_dec_text_of(j, s[K_SERVICE_TIER]);
    int iu = lx_json_get(j, s[K_STREAM_OPTIONS], "include_usage");
    x->include_usage = req->stream && lx_json_bool(j, iu, &v) == LX_OK && v;
}

static int decode_root(struct lx_dec *d, struct lx_ir_request *req, struct lx_chat_ir_extra *x)
{
    const lx_json *j = d->j;
    int s[K_COUNT];
    if (lx_dec_scan_root(d, root_keys, K_COUNT, s, req) != LX_OK)
        return LX_ERR;
    if (s[K_MODEL] < 0 || lx_json_raw(j, s[K_MODEL]).len == 0)
        return lx_dec_fail(d, "missing_required_parameter", "model",
                           "You must provide a model parameter.");
    if (s[K_MESSAGES] < 0)
        return lx_dec_missing(d, "messages");
    if (refuse_unmapped(d, s) != LX_OK)
        return LX_ERR;
    if (s[K_STREAM_OPTIONS] >= 0) {
        lx_str iu;
        if (lx_dec_member(d, s[K_STREAM_OPTIONS], "include_usage", "stream_options",
                          LX_JSON_WANT_BOOL, false, &iu) != LX_OK)
            return LX_ERR;
    }
    read_scalars(d, s, req, x);
    if (decode_messages(d, s[K_MESSAGES], req) != LX_OK)
        return LX_ERR;
    if (s[K_TOOLS] >= 0 && decode_tools(d, s[K_TOOLS], req) != LX_OK)
        return LX_ERR;
    if (s[K_TOOL_CHOICE] >= 0 && decode_tool_choice(d, s[K_TOOL_CHOICE], &req->tool_choice))
        return LX_ERR;
    if (s[K_RESPONSE_FORMAT] >= 0 &&
        decode_response_format(d, s[K_RESPONSE_FORMAT], &req->format) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

int lx_chat_ir_request_decode(struct lx_ir_request *req, struct lx_chat_ir_extra *x,
                              const char *body, size_t len, lx_arena *a, uint32_t max_depth,
                              struct lx_resp_fault *f)
{
    *x = (struct lx_chat_ir_extra){0};
    struct lx_dec d;
    if (lx_dec_begin(&d, req, body, len, a, max_depth, f) != LX_OK)
        return LX_ERR;
    return decode_root(&d, req, x);
}

/* ---- IR -> Responses request (2, 3, 13) ---------------------------------- */

static void jw_type(lx_jw *w, const char *type)
{
    lx_jw_key(w, "type");
    lx_jw_cstr(w, type);
}

static void write_part(lx_jw *w, const struct lx_ir_part *p)
{
    lx_jw_obj_open(w);
    switch (p->kind) {
    case LX_IR_PART_INPUT_IMAGE:
        jw_type(w, "input_image");
        lx_jw_member_raw(w, "image_url", p->image_url);
        /* detail is required by OAI; clients omit it (3.1) */
        lx_jw_key(w, "detail");
        if (p->detail.len)
            lx_jw_raw(w, p->detail.ptr, p->detail.len);
        else
            lx_jw_cstr(w, "auto");
        break;
    case LX_IR_PART_REFUSAL:
        jw_type(w, "refusal");
        lx_jw_member_raw(w, "refusal", p->text);
        break;
    case LX_IR_PART_OUTPUT_TEXT:
        jw_type(w, "output_text");
        lx_jw_member_raw(w, "text", p->text);
        break;
    case LX_IR_PART_REASONING_TEXT:
        jw_type(w, "reasoning_text");
        lx_jw_member_raw(w, "text", p->text);
        break;
    case LX_IR_PART_SUMMARY_TEXT:
        jw_type(w, "summary_text");
        lx_jw_member_raw(w, "text", p->text);
        break;
    case LX_IR_PART_INPUT_TEXT:
        jw_type(w, "input_text");
        lx_jw_member_raw(w, "text", p->text);
        break;
    }
    lx_jw_obj_close(w);
}

static void write_parts(lx_jw *w, const char *key, const struct lx_ir_item *it)
{
    lx_jw_key(w, key);
    if (it->content_is_string && it->nparts == 1) {
        lx_jw_raw(w, it->parts[0].text.ptr, it->parts[0].text.len);
        return;
    }
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nparts; k++)
        write_part(w, &it->parts[k]);
    lx_jw_arr_close(w);
}

static void write_reasoning_item(lx_jw *w, const struct lx_ir_item *it)
{
    lx_jw_member_raw(w, "id", it->id);
    lx_jw_key(w, "summary");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nsummary; k++)
        write_part(w, &it->summary[k]);
    lx_jw_arr_close(w);
    if (it->nparts) {
        lx_jw_key(w, "content");
        lx_jw_arr_open(w);
        for (uint32_t k = 0; k < it->nparts; k++)
            write_part(w, &it->parts[k]);
        lx_jw_arr_close(w);
    }
    lx_jw_member_raw(w, "encrypted_content", it->encrypted_content);
}

static void write_item(lx_jw *w, const struct lx_ir_item *it)
{
    lx_jw_obj_open(w);
    switch (it->kind) {
    case LX_IR_ITEM_MESSAGE:
        jw_type(w, "message");
        lx_jw_key(w, "role");
        lx_jw_cstr(w, lx_ir_role_name(it->role));
        write_parts(w, "content", it);
        break;
    case LX_IR_ITEM_FUNCTION_CALL:
        jw_type(w, "function_call");
        lx_jw_member_raw(w, "call_id", it->call_id);
        lx_jw_member_raw(w, "name", it->name);
        lx_jw_member_raw(w, "arguments", it->arguments);
        break;
    case LX_IR_ITEM_FUNCTION_CALL_OUTPUT:
        jw_type(w, "function_call_output");
        lx_jw_member_raw(w, "call_id", it->call_id);
        write_parts(w, "output", it);
        break;
    case LX_IR_ITEM_REASONING:
        jw_type(w, "reasoning");
        write_reasoning_item(w, it);
        break;
    case LX_IR_ITEM_CUSTOM_TOOL_CALL: /* not made from chat; written for completeness */
        jw_type(w, "custom_tool_call");
        lx_jw_member_raw(w, "call_id", it->call_id);
        lx_jw_member_raw(w, "name", it->name);
        lx_jw_member_raw(w, "input", it->input);
        break;
    case LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT:
        jw_type(w, "custom_tool_call_output");
        lx_jw_member_raw(w, "call_id", it->call_id);
        write_parts(w, "output", it);
        break;
    case LX_IR_ITEM_COMPACTION: /* not made from chat; written for completeness */
        jw_type(w, "compaction");
        lx_jw_member_raw(w, "encrypted_content", it->encrypted_content);
        break;
    }
    lx_jw_obj_close(w);
}

static void write_tools(lx_jw *w, const struct lx_ir_request *req)
{
    lx_jw_key(w, "tools");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < req->ntools; k++) {
        const struct lx_ir_tool *t = &req->tools[k];
        if (t->kind != LX_IR_TOOL_FUNCTION)
            continue;
        lx_jw_obj_open(w);
        jw_type(w, "function");
        lx_jw_member_raw(w, "name", t->name);
        lx_jw_member_raw(w, "description", t->description);
        lx_jw_member_raw(w, "parameters", t->parameters);
        lx_jw_member_raw(w, "strict", t->strict);
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

/* tool_choice in the Responses form: objects are flat (2). */
static void write_tool_choice(lx_jw *w, const struct lx_ir_tool_choice *c)
{
    static const char *const modes[] = {"none", "auto", "required"};
    if (c->kind == LX_IR_CHOICE_UNSET)
        return;
    lx_jw_key(w, "tool_choice");
    switch (c->kind) {
    case LX_IR_CHOICE_UNSET:
        break;
    case LX_IR_CHOICE_NONE:
    case LX_IR_CHOICE_AUTO:
    case LX_IR_CHOICE_REQUIRED:
        lx_jw_cstr(w, modes[c->kind - LX_IR_CHOICE_NONE]);
        break;
    case LX_IR_CHOICE_FUNCTION:
        lx_jw_obj_open(w);
        jw_type(w, "function");
        lx_jw_member_raw(w, "name", c->name);
        lx_jw_obj_close(w);
        break;
    case LX_IR_CHOICE_ALLOWED_TOOLS:
        lx_jw_obj_open(w);
        jw_type(w, "allowed_tools");
        lx_jw_member_raw(w, "mode", c->mode);
        lx_jw_key(w, "tools");
        lx_jw_arr_open(w);
        for (uint32_t k = 0; k < c->nnames; k++) {
            lx_jw_obj_open(w);
            jw_type(w, "function");
            lx_jw_member_raw(w, "name", c->names[k]);
            lx_jw_obj_close(w);
        }
        lx_jw_arr_close(w);
        lx_jw_obj_close(w);
        break;
    }
}

/* text: {format (flat json_schema), verbosity}; text is the default and is
 * left out, as is an empty text object. */
static void write_text(lx_jw *w, const struct lx_ir_request *req)
{
    const struct lx_ir_format *fm = &req->format;
    bool json = fm->kind == LX_IR_FORMAT_JSON_OBJECT || fm->kind == LX_IR_FORMAT_JSON_SCHEMA;
    if (!json && !req->verbosity.len)
        return;
    lx_jw_key(w, "text");
    lx_jw_obj_open(w);
    if (json) {
        lx_jw_key(w, "format");
        lx_jw_obj_open(w);
        jw_type(w, fm->kind == LX_IR_FORMAT_JSON_OBJECT ? "json_object" : "json_schema");
        lx_jw_member_raw(w, "name", fm->name);
        lx_jw_member_raw(w, "description", fm->description);
        lx_jw_member_raw(w, "schema", fm->schema);
        lx_jw_member_raw(w, "strict", fm->strict);
        lx_jw_obj_close(w);
    }
    lx_jw_member_raw(w, "verbosity", req->verbosity);
    lx_jw_obj_close(w);
}

static void write_settings(lx_jw *w, const struct lx_ir_request *req)
{
    /* tool_choice and parallel_tool_calls go only with tools, as for chat */
    if (req->ntools > req->nother_tools) {
        write_tools(w, req);
        write_tool_choice(w, &req->tool_choice);
        if (req->parallel_tool_calls != LX_IR_UNSET) {
            lx_jw_key(w, "parallel_tool_calls");
            lx_jw_bool(w, req->parallel_tool_calls == LX_IR_TRUE);
        }
    }
    write_text(w, req);
    if (req->reasoning_effort.len || req->reasoning_summary.len) {
        lx_jw_key(w, "reasoning");
        lx_jw_obj_open(w);
        lx_jw_member_raw(w, "effort", req->reasoning_effort);
        lx_jw_member_raw(w, "summary", req->reasoning_summary);
        lx_jw_obj_close(w);
    }
    lx_jw_member_raw(w, "max_output_tokens", req->max_output_tokens);
    lx_jw_member_raw(w, "temperature", req->temperature);
    lx_jw_member_raw(w, "top_p", req->top_p);
    lx_jw_member_raw(w, "presence_penalty", req->presence_penalty);
    lx_jw_member_raw(w, "frequency_penalty", req->frequency_penalty);
    if (req->want_logprobs) {
        lx_jw_key(w, "include");
        lx_jw_arr_open(w);
        lx_jw_cstr(w, "message.output_text.logprobs");
        lx_jw_arr_close(w);
        lx_jw_member_raw(w, "top_logprobs", req->top_logprobs);
    }
    lx_jw_member_raw(w, "metadata", req->metadata);
    lx_jw_member_raw(w, "user", req->user);
    lx_jw_member_raw(w, "safety_identifier", req->safety_identifier);
    lx_jw_member_raw(w, "prompt_cache_key", req->prompt_cache_key);
    lx_jw_member_raw(w, "service_tier", req->service_tier);
}

/* Responses keys the encoder owns: an extra of the same name is dropped,
 * since a JSON object must not hold a key twice. */
static bool resp_key_owned(const char *key)
{
    static const char *const owned[] = {
        "model",       "instructions", "input",     "tools",
        "tool_choice", "text",         "reasoning", "parallel_tool_calls",
        "include",     "stream",       "store",     "max_output_tokens",
        "top_logprobs"};
    for (size_t k = 0; k < LX_ARRAY_LEN(owned); k++)
        if (strcmp(key, owned[k]) == 0)
            return true;
    return false;
}

int lx_resp_ir_request_encode(const struct lx_ir_request *req, const struct lx_resp_ir_opts *o,
                              lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "model");
    if (o && o->model)
        lx_jw_cstr(&w, o->model);
    else
        lx_jw_raw(&w, req->model.ptr, req->model.len);
    lx_jw_member_raw(&w, "instructions", req->instructions);
    lx_jw_key(&w, "input");
    lx_jw_arr_open(&w);
    for (uint32_t k = 0; k < req->nitems; k++)
        write_item(&w, &req->items[k]);
    lx_jw_arr_close(&w);
    write_settings(&w, req);
    if (req->stream) {
        lx_jw_key(&w, "stream");
        lx_jw_bool(&w, true);
    }
    /* the gateway holds no state for a chat client (13) */
    lx_jw_key(&w, "store");
    lx_jw_bool(&w, false);
    for (uint32_t k = 0; k < req->nextras; k++) {
        if (resp_key_owned(req->extras[k].key))
            continue;
        lx_jw_key(&w, req->extras[k].key);
        lx_jw_raw(&w, req->extras[k].value.ptr, req->extras[k].value.len);
    }
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}
