/*
 * chat_out.c — the result side of the reverse direction (see reverse.h): a
 * Responses `response` object read into an IR result, and an IR result
 * written as a chat.completion. Section numbers cite
 * shared/spec/RESPONSES.md (4-5: what is read, 10: what is written, 13:
 * the mapping, 12 read backwards for usage).
 */
#include "reverse_int.h"

#include <stdio.h>

/* ---- Responses `response` object -> IR result (4, 5) -------------------- */

static lx_str str_member(const lx_json *j, int obj, const char *key)
{
    int t = lx_json_get(j, obj, key);
    return lx_json_is_string(j, t) ? lx_json_value_text(j, t) : LX_STR_NULL;
}

static enum lx_ir_status read_status(const lx_json *j, int obj)
{
    int t = lx_json_get(j, obj, "status");
    if (lx_json_str_eq(j, t, "incomplete"))
        return LX_IR_STATUS_INCOMPLETE;
    if (lx_json_str_eq(j, t, "in_progress"))
        return LX_IR_STATUS_IN_PROGRESS;
    return LX_IR_STATUS_COMPLETED;
}

/* The parts of array key of obj whose type is one of the two given, each
 * text taken from text_key (refusal parts: "refusal"). */
static int read_parts(const lx_json *j, int obj, const char *key, lx_arena *a,
                      struct lx_ir_part **parts, uint32_t *nparts)
{
    int arr = lx_json_get(j, obj, key);
    *parts = NULL;
    *nparts = 0;
    if (!lx_json_is_array(j, arr))
        return LX_OK;
    int n = lx_json_size(j, arr);
    if (n > LX_IR_MAX_PARTS)
        return LX_ERR;
    if (n == 0)
        return LX_OK;
    struct lx_ir_part *p = lx_arena_alloc(a, (size_t)n * sizeof(*p));
    if (!p)
        return LX_ERR;
    static const struct {
        const char *type, *text_key;
        enum lx_ir_part_kind kind;
    } kinds[] = {
        {"output_text", "text", LX_IR_PART_OUTPUT_TEXT},
        {"refusal", "refusal", LX_IR_PART_REFUSAL},
        {"reasoning_text", "text", LX_IR_PART_REASONING_TEXT},
        {"summary_text", "text", LX_IR_PART_SUMMARY_TEXT},
    };
    uint32_t m = 0;
    int i = arr + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        int type = lx_json_get(j, i, "type");
        for (size_t q = 0; q < LX_ARRAY_LEN(kinds); q++) {
            lx_str text = str_member(j, i, kinds[q].text_key);
            if (!lx_json_str_eq(j, type, kinds[q].type) || !text.len)
                continue;
            p[m++] = (struct lx_ir_part){.kind = kinds[q].kind, .text = text};
            break;
        }
    }
    *parts = p;
    *nparts = m;
    return LX_OK;
}

/* One output item into *it; *keep is false for items a chat client has no
 * place for (hosted tool calls). */
static int read_item(const lx_json *j, int tok, lx_arena *a, struct lx_ir_item *it, bool *keep)
{
    int type = lx_json_get(j, tok, "type");
    *it = (struct lx_ir_item){.id = str_member(j, tok, "id"), .status = read_status(j, tok)};
    *keep = true;
    if (lx_json_str_eq(j, type, "message")) {
        it->kind = LX_IR_ITEM_MESSAGE;
        it->role = LX_IR_ROLE_ASSISTANT;
        return read_parts(j, tok, "content", a, &it->parts, &it->nparts);
    }
    if (lx_json_str_eq(j, type, "function_call")) {
        it->kind = LX_IR_ITEM_FUNCTION_CALL;
        it->call_id = str_member(j, tok, "call_id");
        it->name = str_member(j, tok, "name");
        it->arguments = str_member(j, tok, "arguments");
        if (!it->arguments.len)
            it->arguments = LX_STR_LIT("\"\"");
        return it->call_id.len && it->name.len ? LX_OK : LX_ERR;
    }
    if (lx_json_str_eq(j, type, "reasoning")) {
        it->kind = LX_IR_ITEM_REASONING;
        it->encrypted_content = str_member(j, tok, "encrypted_content");
        if (read_parts(j, tok, "summary", a, &it->summary, &it->nsummary) != LX_OK)
            return LX_ERR;
        return read_parts(j, tok, "content", a, &it->parts, &it->nparts);
    }
    *keep = false;
    return LX_OK;
}

static int64_t int_member(const lx_json *j, int obj, const char *key)
{
    int64_t v = 0;
    if (lx_json_int64(j, lx_json_get(j, obj, key), &v) != LX_OK || v < 0)
        return 0;
    return v;
}

void lx_resp_ir_usage_read(struct lx_ir_usage *u, const lx_json *j, int usage)
{
    if (!lx_json_is_object(j, usage))
        return;
    u->present = true;
    u->input_tokens = int_member(j, usage, "input_tokens");
    u->output_tokens = int_member(j, usage, "output_tokens");
    u->total_tokens = int_member(j, usage, "total_tokens");
    if (lx_json_get(j, usage, "total_tokens") < 0)
        u->total_tokens = u->input_tokens + u->output_tokens;
    u->cached_tokens =
        int_member(j, lx_json_get(j, usage, "input_tokens_details"), "cached_tokens");
    u->reasoning_tokens =
        int_member(j, lx_json_get(j, usage, "output_tokens_details"), "reasoning_tokens");
}

static void read_outcome(struct lx_ir_result *res, const lx_json *j, int resp)
{
    int status = lx_json_get(j, resp, "status");
    int why = lx_json_get(j, lx_json_get(j, resp, "incomplete_details"), "reason");
    res->status = LX_IR_RESULT_COMPLETED;
    res->reason = LX_IR_INCOMPLETE_NONE;
    if (!lx_json_str_eq(j, status, "incomplete"))
        return;
    res->status = LX_IR_RESULT_INCOMPLETE;
    res->reason = lx_json_str_eq(j, why, "content_filter") ? LX_IR_INCOMPLETE_CONTENT_FILTER
                                                           : LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS;
}

/* The message and code of a failed response, into f. */
static void read_failure(const lx_json *j, int resp, struct lx_resp_fault *f)
{
    int err = lx_json_get(j, resp, "error");
    lx_buf b;
    lx_buf_init(&b, sizeof(f->message) - 1);
    int msg = lx_json_get(j, err, "message");
    if (!lx_json_is_string(j, msg) || lx_json_unescape(j, msg, &b) != LX_OK || b.len == 0)
        snprintf(f->message, sizeof(f->message), "The backend failed to produce a response.");
    else
        snprintf(f->message, sizeof(f->message), "%s", b.data);
    lx_buf_release(&b);
    f->param[0] = '\0';
    f->code = "server_error";
}

/* Reads the object's output items; the caller has checked it is one. */
static int read_output(struct lx_ir_result *res, const lx_json *j, int resp, lx_arena *a)
{
    int out = lx_json_get(j, resp, "output");
    if (!lx_json_is_array(j, out))
        return LX_ERR;
    int n = lx_json_size(j, out);
    if (n > LX_IR_MAX_ITEMS)
        return LX_ERR;
    res->items = lx_arena_alloc(a, ((size_t)n + 1) * sizeof(*res->items));
    if (!res->items)
        return LX_ERR;
    int i = out + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        bool keep;
        if (!lx_json_is_object(j, i) ||
            read_item(j, i, a, &res->items[res->nitems], &keep) != LX_OK)
            return LX_ERR;
        res->nitems += keep;
    }
    return LX_OK;
}

int lx_resp_ir_result_decode(struct lx_ir_result *res, const char *body, size_t len, lx_arena *a,
                             uint32_t max_depth, struct lx_resp_fault *f)
{
    *res = (struct lx_ir_result){0};
    f->message[0] = '\0';
    f->param[0] = '\0';
    f->code = NULL;
    lx_json *j = lx_arena_alloc(a, sizeof(*j));
    if (!j || lx_json_parse(j, body, len, a, max_depth) != LX_JSON_OK || !lx_json_is_object(j, 0))
        return LX_ERR;
    /* a stream's terminal event carries the object under "response" */
    int resp = 0;
    if (!lx_json_str_eq(j, lx_json_get(j, 0, "object"), "response") &&
        lx_json_is_object(j, lx_json_get(j, 0, "response")))
        resp = lx_json_get(j, 0, "response");
    if (lx_json_str_eq(j, lx_json_get(j, resp, "status"), "failed")) {
        read_failure(j, resp, f);
        return LX_ERR;
    }
    if (read_output(res, j, resp, a) != LX_OK)
        return LX_ERR;
    read_outcome(res, j, resp);
    lx_resp_ir_usage_read(&res->usage, j, lx_json_get(j, resp, "usage"));
    return LX_OK;
}

/* ---- IR result -> chat.completion (10, 13) ------------------------------ */

const char *lx_chat_ir_finish_reason(const struct lx_ir_result *res)
{
    for (uint32_t k = 0; k < res->nitems; k++)
        if (res->items[k].kind == LX_IR_ITEM_FUNCTION_CALL)
            return "tool_calls";
    if (res->status == LX_IR_RESULT_INCOMPLETE)
        return res->reason == LX_IR_INCOMPLETE_CONTENT_FILTER ? "content_filter" : "length";
    return "stop";
}

/* Appends the JSON-escaped inside of literal lit (no quotes) to out. */
static int append_inside(lx_buf *out, lx_str lit)
{
    return lit.len >= 2 ? lx_buf_append(out, lit.ptr + 1, lit.len - 2) : LX_OK;
}

/* Joins every part of kind k (reasoning: the raw reasoning text, else the
 * summary) into one literal in out: '"' + insides + '"'. False when there
 * is no such part. */
static bool join_parts(const struct lx_ir_result *res, enum lx_ir_part_kind kind, lx_buf *out,
                       bool *ok)
{
    bool any = false;
    *ok = lx_buf_append_char(out, '"') == LX_OK;
    for (uint32_t i = 0; i < res->nitems; i++) {
        const struct lx_ir_item *it = &res->items[i];
        const struct lx_ir_part *ps = it->parts;
        uint32_t n = it->nparts;
        if (kind == LX_IR_PART_REASONING_TEXT) {
            if (it->kind != LX_IR_ITEM_REASONING)
                continue;
            if (n == 0) /* only a summary: better than nothing */
                ps = it->summary, n = it->nsummary;
        } else if (it->kind != LX_IR_ITEM_MESSAGE) {
            continue;
        }
        for (uint32_t k = 0; k < n; k++) {
            if (kind != LX_IR_PART_REASONING_TEXT && ps[k].kind != kind)
                continue;
            any = true;
            *ok = *ok && append_inside(out, ps[k].text) == LX_OK;
        }
    }
    *ok = *ok && lx_buf_append_char(out, '"') == LX_OK;
    return any;
}

/* Writes key: the joined parts of kind, or null (or nothing when
 * omit_empty) when there are none. */
static int write_joined(lx_jw *w, const struct lx_ir_result *res, const char *key,
                        enum lx_ir_part_kind kind, bool omit_empty, bool null_empty)
{
    lx_buf b;
    lx_buf_init(&b, w->out->cap);
    bool ok;
    bool any = join_parts(res, kind, &b, &ok);
    if (any || !omit_empty) {
        lx_jw_key(w, key);
        if (any)
            lx_jw_raw(w, b.data, b.len);
        else if (null_empty)
            lx_jw_null(w);
        else
            lx_jw_str(w, "", 0);
    }
    lx_buf_release(&b);
    return ok ? LX_OK : LX_ERR;
}

static void write_tool_calls(lx_jw *w, const struct lx_ir_result *res)
{
    lx_jw_key(w, "tool_calls");
    lx_jw_arr_open(w);
    for (uint32_t i = 0; i < res->nitems; i++) {
        const struct lx_ir_item *it = &res->items[i];
        if (it->kind != LX_IR_ITEM_FUNCTION_CALL)
            continue;
        lx_jw_obj_open(w);
        lx_jw_key(w, "id");
        lx_jw_raw(w, it->call_id.ptr, it->call_id.len);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "function");
        lx_jw_key(w, "function");
        lx_jw_obj_open(w);
        lx_jw_key(w, "name");
        lx_jw_raw(w, it->name.ptr, it->name.len);
        lx_jw_key(w, "arguments");
        lx_jw_raw(w, it->arguments.ptr, it->arguments.len);
        lx_jw_obj_close(w);
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

static int write_message(lx_jw *w, const struct lx_ir_result *res)
{
    bool calls = strcmp(lx_chat_ir_finish_reason(res), "tool_calls") == 0;
    bool refusal = false;
    for (uint32_t i = 0; i < res->nitems; i++)
        for (uint32_t k = 0; k < res->items[i].nparts; k++)
            refusal |= res->items[i].kind == LX_IR_ITEM_MESSAGE &&
                       res->items[i].parts[k].kind == LX_IR_PART_REFUSAL;
    lx_jw_key(w, "message");
    lx_jw_obj_open(w);
    lx_jw_key(w, "role");
    lx_jw_cstr(w, "assistant");
    /* content is null beside tool calls or a refusal, "" for an empty answer */
    if (write_joined(w, res, "content", LX_IR_PART_OUTPUT_TEXT, false, calls || refusal) != LX_OK ||
        write_joined(w, res, "refusal", LX_IR_PART_REFUSAL, false, true) != LX_OK ||
        write_joined(w, res, "reasoning_content", LX_IR_PART_REASONING_TEXT, true, true) != LX_OK)
        return LX_ERR;
    if (calls)
        write_tool_calls(w, res);
    lx_jw_obj_close(w);
    return LX_OK;
}

void lx_chat_ir_usage_write(lx_jw *w, const struct lx_ir_usage *u)
{
    lx_jw_key(w, "usage");
    lx_jw_obj_open(w);
    lx_jw_key(w, "prompt_tokens");
    lx_jw_int(w, u->input_tokens);
    lx_jw_key(w, "completion_tokens");
    lx_jw_int(w, u->output_tokens);
    lx_jw_key(w, "total_tokens");
    lx_jw_int(w, u->total_tokens);
    lx_jw_key(w, "prompt_tokens_details");
    lx_jw_obj_open(w);
    lx_jw_key(w, "cached_tokens");
    lx_jw_int(w, u->cached_tokens);
    lx_jw_obj_close(w);
    lx_jw_key(w, "completion_tokens_details");
    lx_jw_obj_open(w);
    lx_jw_key(w, "reasoning_tokens");
    lx_jw_int(w, u->reasoning_tokens);
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
}

int lx_chat_ir_completion_write(const struct lx_ir_result *res, const struct lx_chat_ir_meta *m,
                                lx_buf *out)
{
    char id[160];
    snprintf(id, sizeof(id), "chatcmpl-%s", m->id_base);
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "id");
    lx_jw_cstr(&w, id);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "chat.completion");
    lx_jw_key(&w, "created");
    lx_jw_int(&w, m->created);
    lx_jw_key(&w, "model");
    if (m->model.len)
        lx_jw_raw(&w, m->model.ptr, m->model.len);
    else
        lx_jw_str(&w, "", 0);
    lx_jw_key(&w, "choices");
    lx_jw_arr_open(&w);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "index");
    lx_jw_int(&w, 0);
    if (write_message(&w, res) != LX_OK)
        return LX_ERR;
    lx_jw_key(&w, "logprobs");
    lx_jw_null(&w);
    lx_jw_key(&w, "finish_reason");
    lx_jw_cstr(&w, lx_chat_ir_finish_reason(res));
    lx_jw_obj_close(&w);
    lx_jw_arr_close(&w);
    if (res->usage.present)
        lx_chat_ir_usage_write(&w, &res->usage);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}
