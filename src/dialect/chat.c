/*
 * chat.c — the Chat Completions codec (see chat.h).
 */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>

struct field_type {
    const char *name;
    enum lx_json_want want;
};

/* Optional fields whose type the gateway checks; null is accepted for all. */
static const struct field_type checked_fields[] = {
    {"stream", LX_JSON_WANT_BOOL},
    {"stream_options", LX_JSON_WANT_OBJECT},
    {"max_tokens", LX_JSON_WANT_INT},
    {"max_completion_tokens", LX_JSON_WANT_INT},
    {"n", LX_JSON_WANT_INT},
    {"seed", LX_JSON_WANT_INT},
    {"temperature", LX_JSON_WANT_NUMBER},
    {"top_p", LX_JSON_WANT_NUMBER},
    {"presence_penalty", LX_JSON_WANT_NUMBER},
    {"frequency_penalty", LX_JSON_WANT_NUMBER},
    {"tools", LX_JSON_WANT_ARRAY},
    {"tool_choice", LX_JSON_WANT_STR_OR_OBJ},
    {"response_format", LX_JSON_WANT_OBJECT},
    {"stop", LX_JSON_WANT_STR_OR_ARR},
    {"user", LX_JSON_WANT_STRING},
    {"parallel_tool_calls", LX_JSON_WANT_BOOL},
    {"logprobs", LX_JSON_WANT_BOOL},
    {"top_logprobs", LX_JSON_WANT_INT},
};

static int type_fault(struct lx_chat_fault *f, const lx_json *j, int i, const char *name,
                      enum lx_json_want w)
{
    snprintf(f->message, sizeof(f->message),
             "Invalid type for '%s': expected %s, but got %s instead.", name, lx_json_want_name(w),
             lx_json_type_name(j, i));
    f->param = name;
    f->code = "invalid_type";
    return LX_ERR;
}

static int fault(struct lx_chat_fault *f, const char *param, const char *code, const char *msg)
{
    snprintf(f->message, sizeof(f->message), "%s", msg);
    f->param = param;
    f->code = code;
    return LX_ERR;
}

static int check_messages(const lx_json *j, int msgs, struct lx_chat_fault *f)
{
    if (msgs < 0)
        return fault(f, "messages", "missing_required_parameter",
                     "Missing required parameter: 'messages'.");
    if (!lx_json_is_array(j, msgs))
        return type_fault(f, j, msgs, "messages", LX_JSON_WANT_ARRAY);
    int n = lx_json_size(j, msgs), i = msgs + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        int role = lx_json_get(j, i, "role");
        if (!lx_json_is_object(j, i) || !lx_json_is_string(j, role)) {
            snprintf(f->message, sizeof(f->message),
                     "Invalid value for 'messages[%d]': expected an object with a string 'role'.",
                     k);
            f->param = "messages";
            f->code = "invalid_value";
            return LX_ERR;
        }
    }
    return LX_OK;
}

/* The root keys the gateway reads. A key it reads must appear once: with
 * two "model" keys the gateway would route on one and a backend might read
 * the other. */
struct root_keys {
    int model, stream, stream_options, messages, input;
};

static int duplicate(struct lx_chat_fault *f, const char *key)
{
    snprintf(f->message, sizeof(f->message), "Duplicate key '%s' in the request.", key);
    f->param = key;
    f->code = "duplicate_key";
    return LX_ERR;
}

static int *root_slot(struct root_keys *rk, lx_str name, const char **key)
{
    static const char *const names[] = {"model", "stream", "stream_options", "messages", "input"};
    int *slots[] = {&rk->model, &rk->stream, &rk->stream_options, &rk->messages, &rk->input};
    for (size_t m = 0; m < LX_ARRAY_LEN(names); m++)
        if (lx_str_eq_cstr(name, names[m])) {
            *key = names[m];
            return slots[m];
        }
    return NULL;
}

/* One pass over the root object: records the keys the gateway reads,
 * refuses duplicates of them, and checks the types of checked_fields. */
static int scan_root(const lx_json *j, struct root_keys *rk, struct lx_chat_fault *f)
{
    *rk = (struct root_keys){-1, -1, -1, -1, -1};
    int n = lx_json_size(j, 0), i = 1;
    for (int k = 0; k < n; k++) {
        lx_str name = lx_json_raw(j, i);
        int value = i + 1;
        const char *key;
        int *slot = root_slot(rk, name, &key);
        if (slot && *slot >= 0)
            return duplicate(f, key);
        if (slot)
            *slot = value;
        for (size_t m = 0; m < LX_ARRAY_LEN(checked_fields); m++) {
            const struct field_type *ft = &checked_fields[m];
            if (lx_str_eq_cstr(name, ft->name) && !lx_json_is_null(j, value) &&
                !lx_json_has_type(j, value, ft->want))
                return type_fault(f, j, value, ft->name, ft->want);
        }
        i = lx_json_skip(j, value);
    }
    return LX_OK;
}

/* Parses the body and reads the root keys; the start of both readers. */
static int read_common(struct lx_chat_request *req, const char *body, size_t len, lx_arena *a,
                       uint32_t max_depth, struct lx_chat_fault *f, struct root_keys *rk)
{
    f->param = NULL;
    f->code = NULL;
    lx_json *j = &req->json;
    enum lx_json_err e = lx_json_parse(j, body, len, a, max_depth);
    if (e != LX_JSON_OK) {
        snprintf(f->message, sizeof(f->message),
                 "We could not parse the JSON body of your request: %s.", lx_json_strerror(e));
        return LX_ERR;
    }
    if (!lx_json_is_object(j, 0))
        return fault(f, NULL, NULL, "The request body must be a JSON object.");
    if (scan_root(j, rk, f) != LX_OK)
        return LX_ERR;
    req->model = rk->model;
    if (req->model < 0)
        return fault(f, "model", "missing_required_parameter",
                     "You must provide a model parameter.");
    if (!lx_json_is_string(j, req->model) || lx_json_raw(j, req->model).len == 0)
        return type_fault(f, j, req->model, "model", LX_JSON_WANT_STRING);
    req->stream = false;
    req->usage_asked = false;
    req->stream_options = -1;
    req->include_usage = -1;
    return LX_OK;
}

/* stream_options.include_usage: a boolean, once. */
static int read_stream_options(struct lx_chat_request *req, int so, struct lx_chat_fault *f)
{
    const lx_json *j = &req->json;
    req->stream_options = so;
    if (!lx_json_is_object(j, so))
        return LX_OK;
    int n = lx_json_size(j, so), i = so + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i + 1)) {
        if (!lx_str_eq_cstr(lx_json_raw(j, i), "include_usage"))
            continue;
        if (req->include_usage >= 0)
            return duplicate(f, "include_usage");
        req->include_usage = i + 1;
    }
    if (req->include_usage >= 0) {
        if (!lx_json_is_bool(j, req->include_usage))
            return type_fault(f, j, req->include_usage, "stream_options.include_usage",
                              LX_JSON_WANT_BOOL);
        lx_json_bool(j, req->include_usage, &req->usage_asked);
    }
    return LX_OK;
}

int lx_chat_request_read(struct lx_chat_request *req, const char *body, size_t len, lx_arena *a,
                         uint32_t max_depth, struct lx_chat_fault *f)
{
    struct root_keys rk;
    if (read_common(req, body, len, a, max_depth, f, &rk) != LX_OK)
        return LX_ERR;
    req->messages = rk.messages;
    if (check_messages(&req->json, req->messages, f) != LX_OK)
        return LX_ERR;
    lx_json_bool(&req->json, rk.stream, &req->stream);
    return read_stream_options(req, rk.stream_options, f);
}

int lx_chat_embeddings_read(struct lx_chat_request *req, const char *body, size_t len, lx_arena *a,
                            uint32_t max_depth, struct lx_chat_fault *f)
{
    struct root_keys rk;
    if (read_common(req, body, len, a, max_depth, f, &rk) != LX_OK)
        return LX_ERR;
    const lx_json *j = &req->json;
    req->messages = rk.input;
    if (req->messages < 0)
        return fault(f, "input", "missing_required_parameter",
                     "Missing required parameter: 'input'.");
    if (!lx_json_is_string(j, req->messages) && !lx_json_is_array(j, req->messages))
        return type_fault(f, j, req->messages, "input", LX_JSON_WANT_STR_OR_ARR);
    return LX_OK;
}

struct splice {
    size_t start, end; /* bytes of the original replaced */
    const char *text;
    size_t len;
};

static int apply_splices(lx_str src, struct splice *s, int n, lx_buf *out)
{
    /* at most three splices: sort by start */
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (s[b].start < s[a].start) {
                struct splice t = s[a];
                s[a] = s[b];
                s[b] = t;
            }
    size_t pos = 0;
    for (int k = 0; k < n; k++) {
        if (lx_buf_append(out, src.ptr + pos, s[k].start - pos) != LX_OK ||
            lx_buf_append(out, s[k].text, s[k].len) != LX_OK)
            return LX_ERR;
        pos = s[k].end;
    }
    return lx_buf_append(out, src.ptr + pos, src.len - pos);
}

int lx_chat_request_rewrite(const struct lx_chat_request *req, const char *upstream_model,
                            bool ask_usage, lx_buf *out)
{
    const lx_json *j = &req->json;
    lx_buf model;
    lx_buf_init(&model, 4096);
    if (lx_buf_append_char(&model, '"') != LX_OK ||
        lx_json_escape(&model, upstream_model, strlen(upstream_model)) != LX_OK ||
        lx_buf_append_char(&model, '"') != LX_OK) {
        lx_buf_release(&model);
        return LX_ERR;
    }
    lx_str mv = lx_json_value_text(j, req->model);
    size_t mstart = (size_t)(mv.ptr - j->src);
    struct splice s[2] = {{0}};
    int n = 0;
    s[n++] = (struct splice){mstart, mstart + mv.len, model.data, model.len};
    if (ask_usage && req->stream && !req->usage_asked) {
        static const char add_key[] = "\"stream_options\":{\"include_usage\":true},";
        static const char whole[] = "{\"include_usage\":true}";
        static const char member[] = "\"include_usage\":true,";
        const jsmntok_t *t = j->tok;
        if (req->stream_options < 0) {
            size_t at = (size_t)t[0].start + 1;
            s[n++] = (struct splice){at, at, add_key, sizeof(add_key) - 1};
        } else if (req->include_usage >= 0) {
            const jsmntok_t *iu = &t[req->include_usage];
            s[n++] = (struct splice){(size_t)iu->start, (size_t)iu->end, "true", 4};
        } else if (!lx_json_is_object(j, req->stream_options) ||
                   lx_json_size(j, req->stream_options) == 0) {
            const jsmntok_t *so = &t[req->stream_options];
            s[n++] = (struct splice){(size_t)so->start, (size_t)so->end, whole, sizeof(whole) - 1};
        } else {
            size_t at = (size_t)t[req->stream_options].start + 1;
            s[n++] = (struct splice){at, at, member, sizeof(member) - 1};
        }
    }
    int rc = apply_splices((lx_str){j->src, j->len}, s, n, out);
    lx_buf_release(&model);
    return rc;
}

static void copy_small(char *dst, size_t cap, lx_str s)
{
    size_t n = LX_MIN(s.len, cap - 1);
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static void read_usage(const lx_json *j, int usage, struct lx_chat_tally *t)
{
    if (!lx_json_is_object(j, usage))
        return;
    int64_t v;
    if (lx_json_int64(j, lx_json_get(j, usage, "prompt_tokens"), &v) == LX_OK)
        t->prompt_tokens = v, t->has_usage = true;
    if (lx_json_int64(j, lx_json_get(j, usage, "completion_tokens"), &v) == LX_OK)
        t->completion_tokens = v, t->has_usage = true;
}

/* Records a tool call's name. Streams send it once per call; llama.cpp may
 * re-send a grown name for the same index, which replaces the old one. */
static void note_call(const lx_json *j, int call, int fallback_index, struct lx_chat_tally *t)
{
    int fn = lx_json_get(j, call, "function");
    int name = lx_json_get(j, fn, "name");
    if (!lx_json_is_string(j, name))
        return;
    int64_t index = fallback_index;
    lx_json_int64(j, lx_json_get(j, call, "index"), &index);
    if (index < 0 || index >= LX_CHAT_MAX_CALLS)
        return;
    lx_str s = lx_json_raw(j, name);
    copy_small(t->call_names[index], LX_CHAT_MAX_NAME, s);
    if ((uint32_t)index + 1 > t->n_calls)
        t->n_calls = (uint32_t)index + 1;
}

static void read_choice(const lx_json *j, int choice, const char *part, struct lx_chat_tally *t,
                        bool *token)
{
    int fr = lx_json_get(j, choice, "finish_reason");
    if (lx_json_is_string(j, fr))
        copy_small(t->finish_reason, sizeof(t->finish_reason), lx_json_raw(j, fr));
    int d = lx_json_get(j, choice, part);
    if (!lx_json_is_object(j, d))
        return;
    static const char *const text_keys[] = {"content", "reasoning_content", "reasoning"};
    for (size_t k = 0; k < LX_ARRAY_LEN(text_keys); k++) {
        int v = lx_json_get(j, d, text_keys[k]);
        if (lx_json_is_string(j, v) && lx_json_raw(j, v).len > 0)
            *token = true;
    }
    int calls = lx_json_get(j, d, "tool_calls");
    if (!lx_json_is_array(j, calls))
        return;
    int n = lx_json_size(j, calls), i = calls + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        note_call(j, i, k, t);
        *token = true;
    }
}

static void read_choices(const lx_json *j, int choices, const char *part, struct lx_chat_tally *t,
                         bool *token)
{
    int n = lx_json_size(j, choices), i = choices + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i))
        read_choice(j, i, part, t, token);
}

enum lx_chat_chunk lx_chat_chunk_inspect(lx_str data, lx_arena *scratch, uint32_t max_depth,
                                         struct lx_chat_tally *t, bool *token)
{
    *token = false;
    if (lx_str_eq_cstr(data, "[DONE]"))
        return LX_CHAT_CHUNK_DONE;
    lx_json j;
    if (lx_json_parse(&j, data.ptr, data.len, scratch, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        return LX_CHAT_CHUNK_MALFORMED;
    if (lx_json_get(&j, 0, "error") >= 0)
        return LX_CHAT_CHUNK_ERROR;
    read_usage(&j, lx_json_get(&j, 0, "usage"), t);
    int choices = lx_json_get(&j, 0, "choices");
    if (!lx_json_is_array(&j, choices))
        return LX_CHAT_CHUNK_DATA;
    if (lx_json_size(&j, choices) == 0 && lx_json_is_object(&j, lx_json_get(&j, 0, "usage")))
        return LX_CHAT_CHUNK_USAGE_ONLY;
    read_choices(&j, choices, "delta", t, token);
    return LX_CHAT_CHUNK_DATA;
}

bool lx_chat_response_inspect(lx_str body, lx_arena *scratch, uint32_t max_depth,
                              struct lx_chat_tally *t)
{
    lx_json j;
    if (lx_json_parse(&j, body.ptr, body.len, scratch, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        return false;
    read_usage(&j, lx_json_get(&j, 0, "usage"), t);
    int choices = lx_json_get(&j, 0, "choices");
    bool token;
    if (lx_json_is_array(&j, choices))
        read_choices(&j, choices, "message", t, &token);
    return true;
}

const char *lx_chat_error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int lx_chat_error_write(lx_buf *out, const char *message, const char *type, const char *param,
                        const char *code)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "error");
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "message");
    lx_jw_cstr(&w, message);
    lx_jw_key(&w, "type");
    lx_jw_cstr(&w, type);
    lx_jw_key(&w, "param");
    lx_jw_cstr(&w, param);
    lx_jw_key(&w, "code");
    lx_jw_cstr(&w, code);
    lx_jw_obj_close(&w);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

/* OpenAI's error types; anything else from a backend is replaced. */
static bool known_type(lx_str s)
{
    static const char *const known[] = {
        "invalid_request_error", "authentication_error", "permission_error", "rate_limit_error",
        "server_error",          "not_found_error",      "timeout_error"};
    for (size_t i = 0; i < LX_ARRAY_LEN(known); i++)
        if (lx_str_eq_cstr(s, known[i]))
            return true;
    return false;
}

/* The parts of a backend's error, as views into its body. */
struct error_parts {
    lx_str message, type, param, code; /* raw JSON string contents or NULL views */
    const lx_json *j;
    int message_tok;
};

static void read_error_parts(const lx_json *j, struct error_parts *p)
{
    int root = 0, err = lx_json_get(j, 0, "error");
    int obj = lx_json_is_object(j, err) ? err : root;
    int m = lx_json_is_string(j, err) ? err : lx_json_get(j, obj, "message");
    if (!lx_json_is_string(j, m))
        m = lx_json_get(j, obj, "detail"); /* FastAPI-style servers */
    p->message_tok = lx_json_is_string(j, m) ? m : -1;
    int ty = lx_json_get(j, obj, "type"), pa = lx_json_get(j, obj, "param"),
        co = lx_json_get(j, obj, "code");
    p->type = lx_json_is_string(j, ty) ? lx_json_raw(j, ty) : LX_STR_NULL;
    p->param = lx_json_is_string(j, pa) ? lx_json_raw(j, pa) : LX_STR_NULL;
    p->code = lx_json_is_string(j, co) ? lx_json_raw(j, co) : LX_STR_NULL;
}

static void write_str_or_null(lx_jw *w, lx_str raw)
{
    if (raw.ptr == NULL) {
        lx_jw_null(w);
        return;
    }
    /* raw string contents are already escaped JSON: splice them back */
    lx_jw_raw(w, "\"", 1);
    if (lx_buf_append(w->out, raw.ptr, raw.len) != LX_OK || lx_buf_append(w->out, "\"", 1) != LX_OK)
        w->failed = true;
}

int lx_chat_error_normalize(int status, lx_str body, lx_arena *scratch, lx_buf *out)
{
    lx_json j;
    struct error_parts p = {0};
    bool json = lx_json_parse(&j, body.ptr, body.len, scratch, 64) == LX_JSON_OK &&
                lx_json_is_object(&j, 0);
    if (json)
        read_error_parts(&j, &p);
    if (!json || p.message_tok < 0) {
        char msg[320];
        size_t n = LX_MIN(body.len, 200);
        bool text = lx_json_utf8_valid(body.ptr, n);
        snprintf(msg, sizeof(msg), "The backend answered HTTP %d%s%.*s", status,
                 text && n ? ": " : "", text ? (int)n : 0, body.ptr);
        return lx_chat_error_write(out, msg, lx_chat_error_type(status), NULL, NULL);
    }
    lx_str code = p.code;
    lx_str type = known_type(p.type) ? p.type : lx_str_from_cstr(lx_chat_error_type(status));
    if (lx_str_eq_cstr(p.type, "exceed_context_size_error")) /* llama.cpp */
        code = LX_STR_LIT("context_length_exceeded");
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "error");
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "message");
    write_str_or_null(&w, lx_json_raw(&j, p.message_tok));
    lx_jw_key(&w, "type");
    lx_jw_str(&w, type.ptr, type.len);
    lx_jw_key(&w, "param");
    write_str_or_null(&w, p.param);
    lx_jw_key(&w, "code");
    write_str_or_null(&w, code);
    lx_jw_obj_close(&w);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}
