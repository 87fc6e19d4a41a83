/*
 * chat_stream.c — Responses SSE events translated into a Chat Completions
 * chunk stream, one event at a time (see reverse.h; RESPONSES.md 6 for what
 * is read, 10 for what is written, 13 for the mapping).
 *
 * Each event is tokenized once with jsmn into a scratch arena reset per
 * event; deltas are copied into the chunks as the escaped literals the
 * backend sent, never unescaped. Items arrive one after another (6.4), so
 * remembering the output_index of the last item that streamed text is
 * enough to tell an item streamed in deltas from one that arrives whole at
 * output_item.done.
 */
#include "reverse_int.h"

#include <stdio.h>
#include <stdlib.h>

struct call {
    int64_t output_index;
    bool had_args; /* arguments arrived in deltas */
};

struct lx_chat_from_resp {
    char id[160];
    char *model; /* literal, quotes included */
    size_t model_len;
    int64_t created;
    bool include_usage;
    bool started; /* the role chunk is out */
    bool ended;
    int64_t delta_index; /* output_index of the last item that streamed text */
    uint32_t ncalls;
    struct call calls[LX_CHAT_FROM_RESP_MAX_CALLS];
    lx_arena scratch;
};

struct lx_chat_from_resp *lx_chat_from_resp_new(const char *id_base, lx_str model, int64_t created,
                                                bool include_usage)
{
    struct lx_chat_from_resp *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (model.len == 0)
        model = LX_STR_LIT("\"\"");
    s->model = malloc(model.len);
    if (!s->model) {
        free(s);
        return NULL;
    }
    memcpy(s->model, model.ptr, model.len);
    s->model_len = model.len;
    snprintf(s->id, sizeof(s->id), "chatcmpl-%s", id_base);
    s->created = created;
    s->include_usage = include_usage;
    s->delta_index = -1;
    lx_arena_init(&s->scratch, LX_CHAT_FROM_RESP_SCRATCH);
    return s;
}

void lx_chat_from_resp_free(struct lx_chat_from_resp *s)
{
    if (!s)
        return;
    lx_arena_release(&s->scratch);
    free(s->model);
    free(s);
}

/* ---- writing chunks (10) -------------------------------------------------- */

/* Starts a new top-level value on w, keeping its sticky failure. */
static void jw_restart(lx_jw *w, lx_buf *out)
{
    bool failed = w->failed;
    lx_jw_init(w, out);
    w->failed = failed;
}

/* "data: " and the chunk up to the inside of choices[0] (or of the root
 * when choices is empty, for the usage chunk). */
static void chunk_open(const struct lx_chat_from_resp *s, lx_jw *w, lx_buf *out, bool choice)
{
    jw_restart(w, out);
    if (lx_buf_append(out, "data: ", 6) != LX_OK)
        w->failed = true;
    lx_jw_obj_open(w);
    lx_jw_key(w, "id");
    lx_jw_cstr(w, s->id);
    lx_jw_key(w, "object");
    lx_jw_cstr(w, "chat.completion.chunk");
    lx_jw_key(w, "created");
    lx_jw_int(w, s->created);
    lx_jw_key(w, "model");
    lx_jw_raw(w, s->model, s->model_len);
    lx_jw_key(w, "choices");
    lx_jw_arr_open(w);
    if (!choice)
        return;
    lx_jw_obj_open(w);
    lx_jw_key(w, "index");
    lx_jw_int(w, 0);
    lx_jw_key(w, "delta");
    lx_jw_obj_open(w);
}

/* Closes the delta, the choice and the chunk, and ends the SSE frame. */
static void chunk_close(lx_jw *w, lx_buf *out, const char *finish)
{
    lx_jw_obj_close(w);
    lx_jw_key(w, "logprobs");
    lx_jw_null(w);
    lx_jw_key(w, "finish_reason");
    lx_jw_cstr(w, finish);
    lx_jw_obj_close(w);
    lx_jw_arr_close(w);
    lx_jw_obj_close(w);
    if (!w->failed && lx_buf_append(out, "\n\n", 2) != LX_OK)
        w->failed = true;
}

/* One chunk whose delta is {key: lit} (a literal as the backend sent it). */
static void text_chunk(const struct lx_chat_from_resp *s, lx_buf *out, lx_jw *w, const char *key,
                       lx_str lit)
{
    if (lit.len <= 2) /* "" adds nothing */
        return;
    chunk_open(s, w, out, true);
    lx_jw_key(w, key);
    lx_jw_raw(w, lit.ptr, lit.len);
    chunk_close(w, out, NULL);
}

static void role_chunk(struct lx_chat_from_resp *s, lx_buf *out, lx_jw *w)
{
    if (s->started)
        return;
    s->started = true;
    chunk_open(s, w, out, true);
    lx_jw_key(w, "role");
    lx_jw_cstr(w, "assistant");
    lx_jw_key(w, "content");
    lx_jw_str(w, "", 0);
    chunk_close(w, out, NULL);
}

/* A tool-call delta: the first for a call carries id, type and name (13). */
static void call_chunk(const struct lx_chat_from_resp *s, lx_buf *out, lx_jw *w, uint32_t index,
                       lx_str call_id, lx_str name, lx_str args)
{
    chunk_open(s, w, out, true);
    lx_jw_key(w, "tool_calls");
    lx_jw_arr_open(w);
    lx_jw_obj_open(w);
    lx_jw_key(w, "index");
    lx_jw_uint(w, index);
    if (name.len) {
        lx_jw_key(w, "id");
        lx_jw_raw(w, call_id.ptr, call_id.len);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "function");
    }
    lx_jw_key(w, "function");
    lx_jw_obj_open(w);
    if (name.len) {
        lx_jw_key(w, "name");
        lx_jw_raw(w, name.ptr, name.len);
    }
    lx_jw_key(w, "arguments");
    if (args.len)
        lx_jw_raw(w, args.ptr, args.len);
    else
        lx_jw_str(w, "", 0);
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
    lx_jw_arr_close(w);
    chunk_close(w, out, NULL);
}

/* {"error":{message, type, param, code}} as one frame (OpenAI's shape). */
static void error_chunk(lx_buf *out, lx_jw *w, lx_str message, const char *type, lx_str type_lit,
                        lx_str param, lx_str code)
{
    jw_restart(w, out);
    if (lx_buf_append(out, "data: ", 6) != LX_OK)
        w->failed = true;
    lx_jw_obj_open(w);
    lx_jw_key(w, "error");
    lx_jw_obj_open(w);
    lx_jw_key(w, "message");
    if (message.len)
        lx_jw_raw(w, message.ptr, message.len);
    else
        lx_jw_cstr(w, "The backend reported an error.");
    lx_jw_key(w, "type");
    if (type_lit.len)
        lx_jw_raw(w, type_lit.ptr, type_lit.len);
    else
        lx_jw_cstr(w, type);
    lx_jw_key(w, "param");
    if (param.len)
        lx_jw_raw(w, param.ptr, param.len);
    else
        lx_jw_null(w);
    lx_jw_key(w, "code");
    if (code.len)
        lx_jw_raw(w, code.ptr, code.len);
    else
        lx_jw_null(w);
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
    if (!w->failed && lx_buf_append(out, "\n\n", 2) != LX_OK)
        w->failed = true;
}

/* ---- reading events (6.3) -------------------------------------------------- */

struct ev {
    struct lx_chat_from_resp *s;
    const lx_json *j;
    lx_buf *out;
    lx_jw *w;
};

static lx_str str_at(const lx_json *j, int obj, const char *key)
{
    int t = lx_json_get(j, obj, key);
    return lx_json_is_string(j, t) ? lx_json_value_text(j, t) : LX_STR_NULL;
}

static int64_t output_index(const lx_json *j, int obj)
{
    int64_t v = -1;
    if (lx_json_int64(j, lx_json_get(j, obj, "output_index"), &v) != LX_OK)
        return -1;
    return v;
}

static struct call *find_call(struct lx_chat_from_resp *s, int64_t oi, uint32_t *index)
{
    for (uint32_t k = s->ncalls; k-- > 0;)
        if (s->calls[k].output_index == oi) {
            *index = k;
            return &s->calls[k];
        }
    return NULL;
}

/* A text delta (content, refusal or reasoning) of the item at output_index. */
static void on_text_delta(struct ev *e, const char *key)
{
    lx_str delta = str_at(e->j, 0, "delta");
    e->s->delta_index = output_index(e->j, 0);
    role_chunk(e->s, e->out, e->w);
    text_chunk(e->s, e->out, e->w, key, delta);
}

/* A new function call: the first tool-call delta, index = running count. */
static int add_call(struct ev *e, int item, int64_t oi, bool with_args)
{
    struct lx_chat_from_resp *s = e->s;
    lx_str call_id = str_at(e->j, item, "call_id"), name = str_at(e->j, item, "name");
    lx_str args = with_args ? str_at(e->j, item, "arguments") : LX_STR_NULL;
    if (!name.len)
        return LX_OK; /* nothing a chat client could call */
    if (s->ncalls >= LX_CHAT_FROM_RESP_MAX_CALLS)
        return LX_ERR;
    if (!call_id.len)
        call_id = str_at(e->j, item, "id");
    if (!call_id.len)
        call_id = LX_STR_LIT("\"\"");
    s->calls[s->ncalls] = (struct call){oi, args.len > 2};
    role_chunk(s, e->out, e->w);
    call_chunk(s, e->out, e->w, s->ncalls, call_id, name, args);
    s->ncalls++;
    return LX_OK;
}

static int on_item_added(struct ev *e)
{
    int item = lx_json_get(e->j, 0, "item");
    if (!lx_json_str_eq(e->j, lx_json_get(e->j, item, "type"), "function_call"))
        return LX_OK;
    return add_call(e, item, output_index(e->j, 0), true);
}

static void on_args_delta(struct ev *e)
{
    uint32_t index;
    struct call *c = find_call(e->s, output_index(e->j, 0), &index);
    lx_str delta = str_at(e->j, 0, "delta");
    if (!c || delta.len <= 2)
        return;
    c->had_args = true;
    call_chunk(e->s, e->out, e->w, index, LX_STR_NULL, LX_STR_NULL, delta);
}

/* The texts of the parts of array key of item whose type is type, each as
 * one chunk under chunk_key. */
static void part_chunks(struct ev *e, int item, const char *key, const char *type,
                        const char *text_key, const char *chunk_key)
{
    const lx_json *j = e->j;
    int arr = lx_json_get(j, item, key);
    if (!lx_json_is_array(j, arr))
        return;
    int n = lx_json_size(j, arr), i = arr + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i))
        if (lx_json_str_eq(j, lx_json_get(j, i, "type"), type)) {
            role_chunk(e->s, e->out, e->w);
            text_chunk(e->s, e->out, e->w, chunk_key, str_at(j, i, text_key));
        }
}

static bool has_parts(const lx_json *j, int item, const char *key)
{
    int arr = lx_json_get(j, item, key);
    return lx_json_is_array(j, arr) && lx_json_size(j, arr) > 0;
}

/* An item's final form: whatever of it was not streamed in deltas. */
static int on_item_done(struct ev *e)
{
    const lx_json *j = e->j;
    int item = lx_json_get(j, 0, "item");
    int type = lx_json_get(j, item, "type");
    int64_t oi = output_index(j, 0);
    if (lx_json_str_eq(j, type, "function_call")) {
        uint32_t index;
        struct call *c = find_call(e->s, oi, &index);
        if (!c)
            return add_call(e, item, oi, true);
        lx_str args = str_at(j, item, "arguments");
        if (!c->had_args && args.len > 2) {
            c->had_args = true;
            call_chunk(e->s, e->out, e->w, index, LX_STR_NULL, LX_STR_NULL, args);
        }
        return LX_OK;
    }
    if (oi == e->s->delta_index)
        return LX_OK;
    if (lx_json_str_eq(j, type, "message")) {
        part_chunks(e, item, "content", "output_text", "text", "content");
        part_chunks(e, item, "content", "refusal", "refusal", "refusal");
    } else if (lx_json_str_eq(j, type, "reasoning")) {
        /* the raw reasoning text; its summary when that is all there is */
        if (has_parts(j, item, "content"))
            part_chunks(e, item, "content", "reasoning_text", "text", "reasoning_content");
        else
            part_chunks(e, item, "summary", "summary_text", "text", "reasoning_content");
    }
    return LX_OK;
}

/* response.completed / response.incomplete: the finish chunk, the usage
 * chunk when asked, [DONE] (13). */
static void on_terminal(struct ev *e)
{
    struct lx_chat_from_resp *s = e->s;
    const lx_json *j = e->j;
    int resp = lx_json_get(j, 0, "response");
    struct lx_ir_result res = {0};
    int why = lx_json_get(j, lx_json_get(j, resp, "incomplete_details"), "reason");
    if (lx_json_str_eq(j, lx_json_get(j, resp, "status"), "incomplete") ||
        lx_json_str_eq(j, lx_json_get(j, 0, "type"), "response.incomplete")) {
        res.status = LX_IR_RESULT_INCOMPLETE;
        res.reason = lx_json_str_eq(j, why, "content_filter") ? LX_IR_INCOMPLETE_CONTENT_FILTER
                                                              : LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS;
    }
    const char *finish = s->ncalls ? "tool_calls" : lx_chat_ir_finish_reason(&res);
    role_chunk(s, e->out, e->w);
    chunk_open(s, e->w, e->out, true);
    chunk_close(e->w, e->out, finish);
    if (s->include_usage) {
        lx_resp_ir_usage_read(&res.usage, j, lx_json_get(j, resp, "usage"));
        chunk_open(s, e->w, e->out, false);
        lx_jw_arr_close(e->w);
        lx_chat_ir_usage_write(e->w, &res.usage);
        lx_jw_obj_close(e->w);
        if (!e->w->failed && lx_buf_append(e->out, "\n\n", 2) != LX_OK)
            e->w->failed = true;
    }
    if (!e->w->failed && lx_buf_append(e->out, "data: [DONE]\n\n", 14) != LX_OK)
        e->w->failed = true;
    s->ended = true;
}

/* An `error` event, flat (OAI) or nested (OR) or both (6.3). */
static void on_error(struct ev *e)
{
    const lx_json *j = e->j;
    int err = lx_json_get(j, 0, "error");
    int obj = lx_json_is_object(j, err) ? err : 0;
    lx_str type = obj ? str_at(j, obj, "type") : LX_STR_NULL;
    error_chunk(e->out, e->w, str_at(j, obj, "message"), "server_error", type,
                str_at(j, obj, "param"), str_at(j, obj, "code"));
    e->s->ended = true;
}

static void on_failed(struct ev *e)
{
    const lx_json *j = e->j;
    int err = lx_json_get(j, lx_json_get(j, 0, "response"), "error");
    lx_str code = str_at(j, err, "code");
    error_chunk(e->out, e->w, str_at(j, err, "message"), "server_error", LX_STR_NULL, LX_STR_NULL,
                code.len ? code : LX_STR_LIT("\"server_error\""));
    e->s->ended = true;
}

static int dispatch(struct ev *e, lx_str type)
{
    if (lx_str_eq_cstr(type, "response.output_text.delta"))
        on_text_delta(e, "content");
    else if (lx_str_eq_cstr(type, "response.refusal.delta"))
        on_text_delta(e, "refusal");
    else if (lx_str_eq_cstr(type, "response.reasoning_text.delta") ||
             lx_str_eq_cstr(type, "response.reasoning.delta") ||
             lx_str_eq_cstr(type, "response.reasoning_summary_text.delta"))
        on_text_delta(e, "reasoning_content");
    else if (lx_str_eq_cstr(type, "response.function_call_arguments.delta"))
        on_args_delta(e);
    else if (lx_str_eq_cstr(type, "response.output_item.added"))
        return on_item_added(e);
    else if (lx_str_eq_cstr(type, "response.output_item.done"))
        return on_item_done(e);
    else if (lx_str_eq_cstr(type, "response.created"))
        role_chunk(e->s, e->out, e->w);
    else if (lx_str_eq_cstr(type, "response.completed") ||
             lx_str_eq_cstr(type, "response.incomplete"))
        on_terminal(e);
    else if (lx_str_eq_cstr(type, "response.failed"))
        on_failed(e);
    else if (lx_str_eq_cstr(type, "error"))
        on_error(e);
    /* anything else (in_progress, *.done, hosted-tool events) says nothing new */
    return LX_OK;
}

int lx_chat_from_resp_event(struct lx_chat_from_resp *s, lx_str event, lx_str data, lx_buf *out)
{
    if (s->ended)
        return 1;
    if (lx_str_eq_cstr(data, "[DONE]")) /* [DONE] before a terminal event */
        return lx_chat_from_resp_fail(s, "upstream_incomplete",
                                      "The backend ended the stream before it was complete.",
                                      out) == LX_OK
                   ? 1
                   : LX_ERR;
    lx_arena_reset(&s->scratch);
    lx_json j;
    if (lx_json_parse(&j, data.ptr, data.len, &s->scratch, 64) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        return LX_ERR;
    lx_str type = event;
    if (!type.len) {
        int t = lx_json_get(&j, 0, "type");
        type = lx_json_is_string(&j, t) ? lx_json_raw(&j, t) : LX_STR_NULL;
    }
    size_t mark = out->len;
    lx_jw w;
    lx_jw_init(&w, out);
    struct ev e = {s, &j, out, &w};
    int rc = dispatch(&e, type);
    if (rc != LX_OK || w.failed) {
        out->len = mark; /* what was complete before this event stays */
        if (out->data)
            out->data[mark] = '\0';
        return LX_ERR;
    }
    return s->ended ? 1 : LX_OK;
}

int lx_chat_from_resp_fail(struct lx_chat_from_resp *s, const char *code, const char *message,
                           lx_buf *out)
{
    if (s->ended)
        return 1;
    s->ended = true;
    lx_buf msg;
    lx_buf_init(&msg, 4096);
    lx_buf_append_char(&msg, '"');
    lx_json_escape(&msg, message ? message : "", message ? strlen(message) : 0);
    lx_buf_append_char(&msg, '"');
    lx_buf cb;
    lx_buf_init(&cb, 256);
    if (code) {
        lx_buf_append_char(&cb, '"');
        lx_json_escape(&cb, code, strlen(code));
        lx_buf_append_char(&cb, '"');
    }
    size_t mark = out->len;
    lx_jw w;
    lx_jw_init(&w, out);
    error_chunk(out, &w, message && msg.len > 2 ? lx_buf_str(&msg) : LX_STR_NULL, "server_error",
                LX_STR_NULL, LX_STR_NULL, lx_buf_str(&cb));
    lx_buf_release(&msg);
    lx_buf_release(&cb);
    if (w.failed) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return LX_ERR;
    }
    return LX_OK;
}
