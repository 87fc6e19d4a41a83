/*
 * validate.c — what policy.tool_calls and policy.structured_output do to a
 * chat exchange (issue 5, items 3 and 4): the checks of whole and streamed
 * answers, and repair.
 *
 * Whole answers: every tool call is checked against the offered tools'
 * schemas (toolcheck.h) and, when the request asks for response_format
 * json_schema, the content against that schema. Streams: with reject or
 * repair, a stream holder (callhold.h) holds each tool call until it is
 * complete (and, for structured output, the whole content until the
 * finish), checks it, and only then lets its chunks go on down the
 * pipeline (the allowlist gate, then the client); with flag it only
 * watches. What fails is noted (audit), refused (an error chunk or a 502),
 * or repaired.
 *
 * Repair asks the model again: the client's request, plus the assistant's
 * invalid message (only the invalid call) and a message that states the
 * error (a tool message answering the call, or a user message). It is a
 * new attempt of the exchange on the same deployment — start_attempt with
 * this file's body (lx_proxy_repair_encode) — always non-streamed
 * upstream; for a streamed client the stream's rest is read and dropped,
 * and the checked answer is then sent as chunks (lx_proxy_repair_stream).
 * At most policy.repair_attempts repairs per exchange; an answer still
 * invalid after the last is refused. Not repaired (refused instead): an
 * attempt on a Responses-only backend (reverse.c), and a streamed call
 * after another call of the same answer already reached the client.
 *
 * POST /v1/responses over a chat backend (resp.c) runs the same checks on
 * the chat side, before translation: each attempt's chat body (what
 * lx_resp_chat_request_encode wrote, so the Responses tools and
 * text.format in chat form) is read into ex->cr, which the checks and the
 * repair body then use as for a chat client. Released chunks go to the
 * Responses translator, refusals become error + response.failed events
 * (or a 502), and a repaired answer for a streamed client is fed to the
 * translator as chunks. Custom tools are not checked: their chat schema
 * is the gateway's own wrapper, not the client's.
 *
 * Never quoted anywhere: argument values and content. Errors name the
 * tool, the JSON pointer and the schema's rule.
 */
#include "proxy_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/callhold.h"

enum { ERR_MAX = LX_TOOLCHECK_ERROR_MAX };

struct repair_note {
    char tool[LX_TOOLCHECK_NAME_MAX]; /* the tool, or "response_format" */
    char error[ERR_MAX];
};

struct lx_proxy_validate {
    struct lx_callhold *hold; /* the attempt's stream holder; NULL: the stream is not held */
    bool hold_ready;          /* hold was set up (or found not needed) for this attempt */
    bool repair_pending;      /* a stream's invalid answer: repair when its upstream ends */
    bool repairing;           /* attempts from now on send this file's repair body */
    uint8_t n_repairs;
    struct repair_note repairs[LX_CONFIG_MAX_REPAIR_ATTEMPTS];
    lx_buf assistant, feedback; /* JSON messages the repair request appends */
    bool content_sent;          /* a repaired stream: the client has the content already */
    bool resp_read;             /* /v1/responses: ex->cr holds the attempt's chat body */
    bool so_checked;            /* structured output was checked ... */
    const char *so_action;      /* static: "valid", "flagged" or "rejected" */
    char so_error[ERR_MAX];     /* ... and its last error, "" when valid */
};

static enum lx_tool_calls_policy tool_policy_of(const struct exchange *ex)
{
    return ex->cfg->policy.tool_calls;
}

static bool is_responses(const struct exchange *ex)
{
    return ex->endpoint == LX_PROXY_RESPONSES;
}

/* Whether the checks run on this exchange: chat, or /v1/responses once
 * its attempt's chat body was read (lx_proxy_validate_resp_body). */
static bool applies(const struct exchange *ex)
{
    if (ex->endpoint == LX_PROXY_CHAT)
        return true;
    return is_responses(ex) && !ex->passthrough && ex->valid && ex->valid->resp_read;
}

/* A Responses custom tool's chat name: its calls carry free-form input in
 * the gateway's own wrapper, so there is no client schema to check. */
static bool is_custom_tool(const struct exchange *ex, const char *name)
{
    if (!is_responses(ex))
        return false;
    for (uint32_t i = 0; i < ex->ir.ntools; i++) {
        const struct lx_ir_tool *t = &ex->ir.tools[i];
        lx_str n = t->chat_name; /* a JSON string literal */
        if (t->kind == LX_IR_TOOL_CUSTOM && n.len >= 2 && n.len - 2 == strlen(name) &&
            memcmp(n.ptr + 1, name, n.len - 2) == 0)
            return true;
    }
    return false;
}

/* Forgets the violations of custom tools' calls (is_custom_tool). */
static void drop_custom(struct exchange *ex)
{
    struct lx_toolcheck_result *r = &ex->toolcheck;
    size_t keep = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!is_custom_tool(ex, r->v[i].name))
            r->v[keep++] = r->v[i];
    r->n = keep;
}

/* The schema the request asks the content to follow; false when none or
 * when structured_output is off. */
static bool content_schema(const struct exchange *ex, lx_str *schema)
{
    return ex->cfg->policy.structured_output != LX_TOOL_CALLS_OFF &&
           lx_toolcheck_schema_of(&ex->cr.json, schema) == LX_OK;
}

/* The exchange's state, made on first use; NULL when out of memory. */
static struct lx_proxy_validate *state(struct exchange *ex)
{
    if (ex->valid == NULL) {
        ex->valid = calloc(1, sizeof(*ex->valid));
        if (ex->valid == NULL)
            return NULL;
        size_t cap = ex->cfg->limits.max_body_bytes;
        lx_buf_init(&ex->valid->assistant, cap);
        lx_buf_init(&ex->valid->feedback, cap);
    }
    return ex->valid;
}

void lx_proxy_validate_reset_attempt(struct exchange *ex)
{
    struct lx_proxy_validate *v = ex->valid;
    if (v == NULL)
        return;
    lx_callhold_free(v->hold);
    v->hold = NULL;
    v->hold_ready = v->repair_pending = false;
}

void lx_proxy_validate_release(struct exchange *ex)
{
    struct lx_proxy_validate *v = ex->valid;
    if (v == NULL)
        return;
    lx_callhold_free(v->hold);
    lx_buf_release(&v->assistant);
    lx_buf_release(&v->feedback);
    free(v);
    ex->valid = NULL;
}

/* ---- refusing ----------------------------------------------------------- */

/* An invalid answer that may not reach the client: 502 for a whole answer,
 * an error chunk ending the stream for a streamed client (starting the
 * stream when nothing was sent yet, so a streaming client always reads the
 * error as a chunk). */
static void refuse(struct exchange *ex, const char *msg, const char *code)
{
    if (ex->stream && is_responses(ex)) {
        lx_proxy_resp_stream_refuse(ex, msg, code); /* error + response.failed */
        return;
    }
    if (!ex->stream) {
        lx_proxy_refuse(ex, 502, msg, "server_error", NULL, code, NULL);
        return;
    }
    if (ex->client_started) {
        lx_proxy_stream_fail(ex, msg, code);
        return;
    }
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_buf_append_cstr(&b, "data: ");
    lx_chat_error_write(&b, msg, "server_error", NULL, code);
    lx_buf_append_cstr(&b, "\n\n");
    lx_ex_note_error(ex, code, msg);
    lx_proxy_client_write(ex, b.data, b.len);
    lx_ex_client_end(ex);
    lx_buf_release(&b);
}

static void refuse_call(struct exchange *ex, const struct lx_toolcheck_violation *viol)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "The model made an invalid call to tool `%s`: %s.", viol->name,
             viol->error);
    refuse(ex, msg, "invalid_tool_call");
}

static void refuse_content(struct exchange *ex, const char *error)
{
    char msg[512];
    snprintf(msg, sizeof(msg),
             "The model's answer does not match the JSON schema of response_format: %s.", error);
    refuse(ex, msg, "invalid_structured_output");
}

static void note_violation(struct exchange *ex, const struct lx_toolcheck_violation *viol)
{
    struct lx_toolcheck_result *r = &ex->toolcheck;
    r->n_calls++;
    if (r->n < LX_TOOLCHECK_MAX_VIOLATIONS)
        r->v[r->n++] = *viol;
}

static void note_content(struct lx_proxy_validate *v, const char *error, const char *action)
{
    v->so_checked = true;
    v->so_action = action;
    snprintf(v->so_error, sizeof(v->so_error), "%s", error);
}

/* ---- repair ------------------------------------------------------------- */

static bool may_repair(struct exchange *ex, enum lx_tool_calls_policy pol)
{
    struct lx_proxy_validate *v = ex->valid;
    return pol == LX_TOOL_CALLS_REPAIR && v && !ex->reverse && !ex->passthrough &&
           v->n_repairs < ex->cfg->policy.repair_attempts;
}

/* Writes cJSON item as JSON into out (reset first). */
static int print_into(lx_buf *out, const cJSON *item)
{
    char *s = item ? cJSON_PrintUnformatted(item) : NULL;
    lx_buf_reset(out);
    int rc = s && lx_buf_append_cstr(out, s) == LX_OK ? LX_OK : LX_ERR;
    cJSON_free(s);
    return rc;
}

/* Notes repair number n_repairs: what was wrong, and the messages that say
 * so. assistant is the invalid message (taken over), feedback the text. */
static int plan_repair(struct exchange *ex, cJSON *assistant, const char *tool, const char *error,
                       const char *call_id)
{
    struct lx_proxy_validate *v = ex->valid;
    char text[640];
    cJSON *fb = cJSON_CreateObject();
    if (tool && strcmp(tool, "response_format") != 0)
        snprintf(text, sizeof(text),
                 "The arguments of your call to `%s` are invalid: %s. Call the tool again with "
                 "valid arguments.",
                 tool, error);
    else
        snprintf(text, sizeof(text),
                 "Your previous answer is invalid: it does not match the required JSON schema "
                 "(%s). Answer again with JSON that matches the schema.",
                 error);
    bool as_tool = call_id && call_id[0];
    cJSON_AddStringToObject(fb, "role", as_tool ? "tool" : "user");
    if (as_tool)
        cJSON_AddStringToObject(fb, "tool_call_id", call_id);
    cJSON_AddStringToObject(fb, "content", text);
    int rc = print_into(&v->assistant, assistant) == LX_OK && print_into(&v->feedback, fb) == LX_OK
                 ? LX_OK
                 : LX_ERR;
    cJSON_Delete(fb);
    cJSON_Delete(assistant);
    if (rc != LX_OK)
        return LX_ERR;
    struct repair_note *n = &v->repairs[v->n_repairs++];
    snprintf(n->tool, sizeof(n->tool), "%s", tool ? tool : "response_format");
    snprintf(n->error, sizeof(n->error), "%s", error);
    v->repairing = true;
    return LX_OK;
}

/* {"role":"assistant","content":null,"tool_calls":[the one call]}. */
static cJSON *call_message(const char *id, lx_str name, lx_str args)
{
    cJSON *m = cJSON_CreateObject(), *calls = cJSON_CreateArray(), *c = cJSON_CreateObject(),
          *fn = cJSON_CreateObject();
    char *n = strndup(name.ptr ? name.ptr : "", name.len), *a = strndup(args.ptr, args.len);
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddNullToObject(m, "content");
    cJSON_AddStringToObject(c, "id", id && id[0] ? id : "call_invalid");
    cJSON_AddStringToObject(c, "type", "function");
    cJSON_AddStringToObject(fn, "name", n ? n : "");
    cJSON_AddStringToObject(fn, "arguments", a ? a : "");
    cJSON_AddItemToObject(c, "function", fn);
    cJSON_AddItemToArray(calls, c);
    cJSON_AddItemToObject(m, "tool_calls", calls);
    free(n);
    free(a);
    return m;
}

static cJSON *content_message(lx_str content)
{
    cJSON *m = cJSON_CreateObject();
    char *c = strndup(content.ptr ? content.ptr : "", content.len);
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", c ? c : "");
    free(c);
    return m;
}

bool lx_proxy_repair_pending(const struct exchange *ex)
{
    return ex->valid && ex->valid->repair_pending;
}

bool lx_proxy_repair_wanted(const struct exchange *ex)
{
    return ex->valid && ex->valid->repairing;
}

void lx_proxy_repair_start(struct exchange *ex)
{
    ex->valid->repair_pending = false;
    lx_ex_schedule_attempt(ex);
}

/* Replaces (or adds) member name of obj. */
static void set_member(cJSON *obj, const char *name, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, name))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, name, value);
    else
        cJSON_AddItemToObject(obj, name, value);
}

int lx_proxy_repair_encode(struct exchange *ex)
{
    struct lx_proxy_validate *v = ex->valid;
    lx_buf *out = &ex->upstream_body;
    if (lx_chat_request_rewrite(&ex->cr, ex->upstream_model, false, out) != LX_OK)
        return LX_ERR;
    cJSON *root = cJSON_ParseWithLength(out->data, out->len);
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    cJSON *a = cJSON_ParseWithLength(v->assistant.data, v->assistant.len);
    cJSON *f = cJSON_ParseWithLength(v->feedback.data, v->feedback.len);
    int rc = LX_ERR;
    if (cJSON_IsArray(msgs) && a && f) {
        cJSON_AddItemToArray(msgs, a);
        cJSON_AddItemToArray(msgs, f);
        a = f = NULL;
        set_member(root, "stream", cJSON_CreateFalse()); /* repairs are asked whole */
        cJSON_DeleteItemFromObjectCaseSensitive(root, "stream_options");
        char *s = cJSON_PrintUnformatted(root);
        lx_buf_reset(out);
        rc = s && lx_buf_append_cstr(out, s) == LX_OK ? LX_OK : LX_ERR;
        cJSON_free(s);
    }
    cJSON_Delete(a);
    cJSON_Delete(f);
    cJSON_Delete(root);
    if (rc == LX_OK)
        return LX_OK;
    refuse(ex, "The gateway could not build the repair request: it is over the body cap.",
           "repair_failed");
    return LX_AGAIN; /* answered */
}

int lx_proxy_validate_resp_body(struct exchange *ex)
{
    const struct lx_config *cfg = ex->cfg;
    if (ex->resp_kind || (cfg->policy.tool_calls == LX_TOOL_CALLS_OFF &&
                          cfg->policy.structured_output == LX_TOOL_CALLS_OFF))
        return LX_OK;
    struct lx_proxy_validate *v = state(ex);
    const lx_buf *body = &ex->upstream_body;
    /* the tokens must outlive this attempt's body: read a copy in the arena */
    char *copy = v ? lx_arena_alloc(&ex->arena, body->len + 1) : NULL;
    struct lx_chat_fault f;
    if (copy) {
        memcpy(copy, body->data, body->len);
        copy[body->len] = '\0';
    }
    if (copy == NULL || lx_chat_request_read(&ex->cr, copy, body->len, &ex->arena,
                                             cfg->limits.max_json_depth, &f) != LX_OK) {
        if (v)
            v->resp_read = false;
        lx_ex_respond_error(ex, 500, "The gateway could not prepare the checks of the answer.",
                            "server_error", NULL, "server_error");
        return LX_AGAIN;
    }
    v->resp_read = true;
    if (!lx_proxy_repair_wanted(ex))
        return LX_OK;
    lx_buf_reset(&ex->upstream_body); /* the repair body is rewritten from ex->cr */
    return lx_proxy_repair_encode(ex);
}

/* ---- streams ------------------------------------------------------------ */

/* Sets up the attempt's holder when a policy watches this stream. */
static void setup_hold(struct exchange *ex, struct lx_proxy_validate *v)
{
    v->hold_ready = true;
    enum lx_tool_calls_policy tp = tool_policy_of(ex);
    enum lx_tool_calls_policy sp = ex->cfg->policy.structured_output;
    lx_str schema;
    bool content = content_schema(ex, &schema);
    if (tp == LX_TOOL_CALLS_OFF && !content)
        return;
    bool hold = tp >= LX_TOOL_CALLS_REJECT || (content && sp >= LX_TOOL_CALLS_REJECT);
    v->hold = lx_callhold_new(ex->cfg->limits.max_stream_buffer_bytes, hold, content);
}

/* One completed item of the stream: LX_OK (valid, or flagged), LX_AGAIN
 * (a repair waits for the upstream's end) or LX_ERR (refused: ended). */
static int check_item(struct exchange *ex, const struct lx_callhold_item *it)
{
    struct lx_proxy_validate *v = ex->valid;
    enum lx_tool_calls_policy pol;
    cJSON *msg;
    const char *tool = NULL, *id = NULL;
    char error[ERR_MAX], idbuf[LX_CALLHOLD_ID_MAX];
    struct lx_toolcheck_violation viol;
    lx_str schema;
    if (it->is_content) {
        pol = ex->cfg->policy.structured_output;
        if (!content_schema(ex, &schema) ||
            lx_toolcheck_content(schema, it->text, error, sizeof(error))) {
            note_content(v, "", "valid");
            return LX_OK;
        }
        note_content(v, error, pol == LX_TOOL_CALLS_FLAG ? "flagged" : "rejected");
        if (pol == LX_TOOL_CALLS_FLAG)
            return LX_OK;
        if (!may_repair(ex, pol)) {
            refuse_content(ex, error);
            return LX_ERR;
        }
        msg = content_message(it->text);
    } else {
        pol = tool_policy_of(ex);
        int tools = lx_json_get(&ex->cr.json, 0, "tools");
        if (pol == LX_TOOL_CALLS_OFF ||
            lx_toolcheck_call(&ex->cr.json, tools, it->name, it->text, &viol) ||
            is_custom_tool(ex, viol.name))
            return LX_OK;
        note_violation(ex, &viol);
        if (pol == LX_TOOL_CALLS_FLAG)
            return LX_OK;
        if (!may_repair(ex, pol) || lx_callhold_released_calls(v->hold) > 0) {
            refuse_call(ex, &viol);
            return LX_ERR;
        }
        snprintf(idbuf, sizeof(idbuf), "%.*s", (int)it->id.len, it->id.ptr);
        snprintf(error, sizeof(error), "%s", viol.error);
        tool = viol.name;
        id = idbuf;
        msg = call_message(id, it->name, it->text);
    }
    if (plan_repair(ex, msg, tool, error, id) != LX_OK) {
        refuse(ex, "The gateway could not build the repair request.", "repair_failed");
        return LX_ERR;
    }
    v->repair_pending = true;
    /* the holder goes with this attempt: keep what the repaired answer needs */
    v->content_sent = lx_callhold_content_passed(v->hold);
    ex->saw_done = true; /* read the rest of this stream and drop it */
    return LX_AGAIN;
}

/* A released chunk: on to the allowlist gate, then the client (chat) or
 * the Responses translator. */
static int emit(void *arg, lx_str data)
{
    struct exchange *ex = arg;
    if (is_responses(ex))
        return lx_proxy_resp_pass(ex, data) != LX_OK;
    return lx_ex_pass_event(ex, data) != LX_OK;
}

/* Checks the n completed items, then lets their chunks go. */
static int settle(struct exchange *ex, size_t n)
{
    struct lx_proxy_validate *v = ex->valid;
    for (size_t k = 0; k < n; k++) {
        struct lx_callhold_item it;
        lx_callhold_completed(v->hold, k, &it);
        int rc = check_item(ex, &it);
        if (rc != LX_OK)
            return rc;
    }
    return lx_callhold_release(v->hold, emit, ex) == 0 ? LX_OK : LX_ERR;
}

int lx_proxy_validate_chunk(struct exchange *ex, lx_str data)
{
    const struct lx_config *cfg = ex->cfg;
    if (!applies(ex) || (cfg->policy.tool_calls == LX_TOOL_CALLS_OFF &&
                         cfg->policy.structured_output == LX_TOOL_CALLS_OFF))
        return LX_OK;
    struct lx_proxy_validate *v = state(ex);
    if (v == NULL) {
        refuse(ex, "The gateway ran out of memory for this request.", "out_of_memory");
        return LX_ERR;
    }
    if (!v->hold_ready)
        setup_hold(ex, v);
    if (v->hold == NULL)
        return LX_OK;
    size_t n = 0;
    lx_arena_reset(&ex->scratch);
    enum lx_callhold_step s =
        lx_callhold_chunk(v->hold, data, &ex->scratch, cfg->limits.max_json_depth, &n);
    lx_arena_reset(&ex->scratch);
    if (s == LX_CALLHOLD_FULL || s == LX_CALLHOLD_ERROR) {
        if (!lx_callhold_holding(v->hold) && s == LX_CALLHOLD_FULL) {
            lx_callhold_free(v->hold); /* only watching: stop watching */
            v->hold = NULL;
            return LX_OK;
        }
        refuse(ex,
               s == LX_CALLHOLD_FULL
                   ? "The model's answer is over the size the gateway holds back to check it."
                   : "The model sent a malformed tool-call delta.",
               s == LX_CALLHOLD_FULL ? "answer_too_large" : "invalid_tool_call");
        return LX_ERR;
    }
    int rc = settle(ex, n);
    if (rc != LX_OK)
        return rc;
    return s == LX_CALLHOLD_PASS ? LX_OK : LX_AGAIN;
}

int lx_proxy_validate_end(struct exchange *ex)
{
    struct lx_proxy_validate *v = ex->valid;
    if (v == NULL || v->hold == NULL)
        return LX_OK;
    size_t n = lx_callhold_end(v->hold);
    return settle(ex, n) == LX_OK ? LX_OK : LX_ERR;
}

/* ---- whole answers ------------------------------------------------------ */

/* choices[0].message of a parsed chat.completion, or NULL. */
static cJSON *first_message(cJSON *root)
{
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(c0, "message");
    return cJSON_IsObject(m) ? m : NULL;
}

/* The invalid call named name of the answer, as a one-call assistant
 * message; *id becomes its id (in the returned tree). */
static cJSON *whole_call_message(cJSON *msg, const char *name, const char **id)
{
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), *c;
    *id = NULL;
    cJSON_ArrayForEach(c, calls)
    {
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        cJSON *n = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
            continue;
        cJSON *m = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *dup = cJSON_Duplicate(c, 1);
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddNullToObject(m, "content");
        cJSON_AddItemToArray(arr, dup);
        cJSON_AddItemToObject(m, "tool_calls", arr);
        cJSON *cid = cJSON_GetObjectItemCaseSensitive(dup, "id");
        *id = cJSON_IsString(cid) ? cid->valuestring : NULL;
        return m;
    }
    return call_message(NULL, lx_str_from_cstr(name), LX_STR_LIT("{}"));
}

/* The content check of a whole answer: true when valid (or unchecked). */
static bool whole_content_ok(struct exchange *ex, cJSON *msg, char *error, size_t len)
{
    lx_str schema;
    if (!content_schema(ex, &schema))
        return true;
    cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    if (cJSON_GetArraySize(calls) > 0)
        return true; /* an answer that calls tools has no structured content yet */
    if (!cJSON_IsString(content)) {
        snprintf(error, len, "the answer has no content");
        return false;
    }
    return lx_toolcheck_content(schema, lx_str_from_cstr(content->valuestring), error, len);
}

/* Repairs a whole answer when the policy allows: LX_AGAIN after
 * scheduling the repair, LX_ERR when it may not. */
static int repair_whole(struct exchange *ex, enum lx_tool_calls_policy pol, cJSON *msg,
                        const char *tool, const char *error)
{
    if (!may_repair(ex, pol) || msg == NULL)
        return LX_ERR;
    const char *id = NULL;
    cJSON *m = tool ? whole_call_message(msg, tool, &id)
                    : content_message(lx_str_from_cstr(
                          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "content"))
                              ? cJSON_GetObjectItemCaseSensitive(msg, "content")->valuestring
                              : ""));
    char idbuf[LX_CALLHOLD_ID_MAX];
    snprintf(idbuf, sizeof(idbuf), "%s", id ? id : "");
    if (plan_repair(ex, m, tool, error, idbuf) != LX_OK)
        return LX_ERR;
    lx_ex_schedule_attempt(ex);
    return LX_AGAIN;
}

int lx_proxy_validate_whole(struct exchange *ex, lx_str body)
{
    const struct lx_config *cfg = ex->cfg;
    enum lx_tool_calls_policy tp = cfg->policy.tool_calls, sp = cfg->policy.structured_output;
    if (!applies(ex) || ex->req == NULL || (tp == LX_TOOL_CALLS_OFF && sp == LX_TOOL_CALLS_OFF))
        return LX_OK;
    struct lx_proxy_validate *v = state(ex);
    if (tp != LX_TOOL_CALLS_OFF) {
        /* not gated on the tally: it skips calls without a name, which must fail here */
        lx_arena_reset(&ex->scratch);
        int tools = lx_json_get(&ex->cr.json, 0, "tools");
        int rc = lx_toolcheck_run(&ex->cr.json, tools, body, &ex->scratch,
                                  cfg->limits.max_json_depth, &ex->toolcheck);
        lx_arena_reset(&ex->scratch);
        if (rc != LX_OK)
            ex->toolcheck.n = 0;
        drop_custom(ex);
    }
    bool bad_call = tp != LX_TOOL_CALLS_OFF && ex->toolcheck.n > 0;
    char error[ERR_MAX] = "";
    cJSON *root = NULL, *msg = NULL;
    bool content_ok = true;
    if (sp != LX_TOOL_CALLS_OFF || (bad_call && tp == LX_TOOL_CALLS_REPAIR)) {
        root = cJSON_ParseWithLength(body.ptr, body.len);
        msg = first_message(root);
    }
    if (sp != LX_TOOL_CALLS_OFF && v && msg && !bad_call) {
        lx_str schema;
        content_ok = whole_content_ok(ex, msg, error, sizeof(error));
        if (content_schema(ex, &schema))
            note_content(v, error,
                         content_ok                 ? "valid"
                         : sp == LX_TOOL_CALLS_FLAG ? "flagged"
                                                    : "rejected");
    }
    int rc = LX_OK;
    if (bad_call && tp != LX_TOOL_CALLS_FLAG) {
        const struct lx_toolcheck_violation *viol = &ex->toolcheck.v[0];
        rc = repair_whole(ex, tp, msg, viol->name, viol->error);
        if (rc == LX_ERR)
            refuse_call(ex, viol);
    } else if (!content_ok && sp != LX_TOOL_CALLS_FLAG) {
        rc = repair_whole(ex, sp, msg, NULL, error);
        if (rc == LX_ERR)
            refuse_content(ex, error);
    }
    cJSON_Delete(root);
    return rc == LX_OK ? LX_OK : LX_ERR;
}

/* ---- a repaired answer for a streamed client ----------------------------- */

/* Writes one chunk: the answer's id, created and model around choices
 * (a delta with finish_reason) or, with usage non-NULL, the usage chunk. */
static int send_chunk(struct exchange *ex, cJSON *root, cJSON *delta, const char *finish,
                      cJSON *usage)
{
    cJSON *c = cJSON_CreateObject(), *choices = cJSON_CreateArray();
    const char *keep[] = {"id", "created", "model", "system_fingerprint"};
    for (size_t i = 0; i < LX_ARRAY_LEN(keep); i++) {
        cJSON *it = cJSON_GetObjectItemCaseSensitive(root, keep[i]);
        if (i == 1)
            cJSON_AddStringToObject(c, "object", "chat.completion.chunk");
        if (it)
            cJSON_AddItemToObject(c, keep[i], cJSON_Duplicate(it, 1));
    }
    if (delta) {
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", 0);
        cJSON_AddItemToObject(ch, "delta", delta);
        if (finish)
            cJSON_AddStringToObject(ch, "finish_reason", finish);
        else
            cJSON_AddNullToObject(ch, "finish_reason");
        cJSON_AddItemToArray(choices, ch);
    }
    cJSON_AddItemToObject(c, "choices", choices);
    if (usage)
        cJSON_AddItemToObject(c, "usage", cJSON_Duplicate(usage, 1));
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    if (is_responses(ex)) { /* translator input: the chunk's data */
        int r = s ? lx_proxy_resp_feed(ex, lx_str_from_cstr(s)) : LX_ERR;
        cJSON_free(s);
        return r == LX_OK ? LX_OK : LX_ERR;
    }
    lx_buf b;
    lx_buf_init(&b, ex->cfg->limits.max_response_bytes + 64);
    int rc = s && lx_buf_append_cstr(&b, "data: ") == LX_OK && lx_buf_append_cstr(&b, s) == LX_OK &&
                     lx_buf_append_cstr(&b, "\n\n") == LX_OK
                 ? lx_proxy_client_write(ex, b.data, b.len)
                 : LX_ERR;
    cJSON_free(s);
    lx_buf_release(&b);
    return rc;
}

/* tool_calls of a message as delta elements (with their index). */
static cJSON *call_deltas(cJSON *calls)
{
    cJSON *out = cJSON_CreateArray(), *c;
    int i = 0;
    cJSON_ArrayForEach(c, calls)
    {
        cJSON *d = cJSON_Duplicate(c, 1);
        cJSON_AddNumberToObject(d, "index", i++);
        cJSON_AddItemToArray(out, d);
    }
    return out;
}

void lx_proxy_repair_stream(struct exchange *ex, lx_str body)
{
    cJSON *root = cJSON_ParseWithLength(body.ptr, body.len);
    cJSON *msg = first_message(root);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (msg == NULL) {
        cJSON_Delete(root);
        refuse(ex, "The backend's repaired answer has no message.", "upstream_invalid_response");
        return;
    }
    cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    bool started = ex->client_started;
    int rc = LX_OK;
    /* content the client already has (before the repaired call) is not sent again */
    if (cJSON_IsString(content) && content->valuestring[0] && !ex->valid->content_sent) {
        cJSON *d = cJSON_CreateObject();
        if (!started)
            cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddStringToObject(d, "content", content->valuestring);
        rc = send_chunk(ex, root, d, NULL, NULL);
        started = true;
    }
    if (rc == LX_OK && cJSON_GetArraySize(calls) > 0) {
        cJSON *d = cJSON_CreateObject();
        if (!started)
            cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddItemToObject(d, "tool_calls", call_deltas(calls));
        rc = send_chunk(ex, root, d, NULL, NULL);
    }
    if (rc == LX_OK)
        rc = send_chunk(ex, root, cJSON_CreateObject(),
                        cJSON_IsString(fr) ? fr->valuestring : "stop", NULL);
    cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    /* the Responses translator always takes usage: response.completed carries it */
    if (rc == LX_OK && (ex->usage_asked || is_responses(ex)) && cJSON_IsObject(usage))
        rc = send_chunk(ex, root, NULL, NULL, usage);
    if (is_responses(ex)) {
        if (rc == LX_OK) {
            ex->saw_done = true;
            lx_proxy_resp_stream_end(ex); /* response.completed, stored as usual */
        }
        cJSON_Delete(root); /* a failed feed has ended the stream */
        return;
    }
    if (rc == LX_OK)
        lx_proxy_client_write(ex, "data: [DONE]\n\n", 14);
    lx_ex_client_end(ex);
    cJSON_Delete(root);
}

/* ---- the audit record ---------------------------------------------------- */

void lx_proxy_validate_record(const struct exchange *ex, lx_jw *w)
{
    const struct lx_proxy_validate *v = ex->valid;
    if (v == NULL)
        return;
    if (v->n_repairs) {
        lx_jw_key(w, "repairs");
        lx_jw_arr_open(w);
        for (uint8_t i = 0; i < v->n_repairs; i++) {
            lx_jw_obj_open(w);
            lx_jw_key(w, "tool");
            lx_jw_cstr(w, v->repairs[i].tool);
            lx_jw_key(w, "error");
            lx_jw_cstr(w, v->repairs[i].error);
            lx_jw_obj_close(w);
        }
        lx_jw_arr_close(w);
    }
    if (v->so_checked) {
        lx_jw_key(w, "structured_output");
        lx_jw_obj_open(w);
        lx_jw_key(w, "result");
        lx_jw_cstr(w, v->so_action);
        if (v->so_error[0]) {
            lx_jw_key(w, "error");
            lx_jw_cstr(w, v->so_error);
        }
        lx_jw_obj_close(w);
    }
}
