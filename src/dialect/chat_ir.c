/*
 * chat_ir.c — Responses over a Chat Completions backend: the IR written as
 * a chat request (RESPONSES.md section 11) and a chat.completion read back
 * into an IR result (section 12). Declared in responses.h.
 *
 * Not wired into the request path yet (issue 3).
 */
#include "responses.h"
#include "responses_int.h"

#include <stdio.h>

/* ---- IR -> Chat Completions request (section 11) ----------------------- */

static bool is_text_part(const struct lx_ir_part *p)
{
    return p->kind == LX_IR_PART_INPUT_TEXT || p->kind == LX_IR_PART_OUTPUT_TEXT;
}

/* Chat content: the string as given, or text and image_url parts; one text
 * part is sent as a string, which every backend reads the same (and makes a
 * stored input, whose strings became parts, encode as the original). */
static void write_chat_content(lx_jw *w, const struct lx_ir_item *it)
{
    lx_jw_key(w, "content");
    if (it->content_is_string || (it->nparts == 1 && is_text_part(&it->parts[0]))) {
        lx_jw_raw(w, it->parts[0].text.ptr, it->parts[0].text.len);
        return;
    }
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nparts; k++) {
        const struct lx_ir_part *p = &it->parts[k];
        if (is_text_part(p)) {
            lx_jw_obj_open(w);
            lx_jw_key(w, "type");
            lx_jw_cstr(w, "text");
            lx_jw_member_raw(w, "text", p->text);
            lx_jw_obj_close(w);
        } else if (p->kind == LX_IR_PART_INPUT_IMAGE) {
            lx_jw_obj_open(w);
            lx_jw_key(w, "type");
            lx_jw_cstr(w, "image_url");
            lx_jw_key(w, "image_url");
            lx_jw_obj_open(w);
            lx_jw_member_raw(w, "url", p->image_url);
            lx_jw_member_raw(w, "detail", p->detail);
            lx_jw_obj_close(w);
            lx_jw_obj_close(w);
        }
    }
    lx_jw_arr_close(w);
}

static bool is_call(const struct lx_ir_item *it)
{
    return it->kind == LX_IR_ITEM_FUNCTION_CALL || it->kind == LX_IR_ITEM_CUSTOM_TOOL_CALL;
}

static bool in_assistant_turn(const struct lx_ir_item *it)
{
    return is_call(it) || it->kind == LX_IR_ITEM_REASONING ||
           (it->kind == LX_IR_ITEM_MESSAGE && it->role == LX_IR_ROLE_ASSISTANT);
}

/* The literals of one kind of part over a run of items, for joining. */
static uint32_t collect(const struct lx_ir_item *run, uint32_t n, bool reasoning, bool refusal,
                        lx_str *out)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct lx_ir_item *it = &run[i];
        if (reasoning && it->kind == LX_IR_ITEM_REASONING) {
            /* the raw reasoning text; a summary only when there is none */
            bool raw = it->nparts > 0;
            const struct lx_ir_part *ps = raw ? it->parts : it->summary;
            for (uint32_t k = 0; k < (raw ? it->nparts : it->nsummary); k++)
                out[m++] = ps[k].text;
        }
        if (!reasoning && it->kind == LX_IR_ITEM_MESSAGE)
            for (uint32_t k = 0; k < it->nparts; k++)
                if (refusal ? it->parts[k].kind == LX_IR_PART_REFUSAL : is_text_part(&it->parts[k]))
                    out[m++] = it->parts[k].text;
    }
    return m;
}

static uint32_t count_parts(const struct lx_ir_item *run, uint32_t n, uint32_t *ncalls)
{
    uint32_t parts = 0;
    *ncalls = 0;
    for (uint32_t i = 0; i < n; i++) {
        parts += run[i].nparts + run[i].nsummary;
        *ncalls += is_call(&run[i]);
    }
    return parts;
}

/* The name a chat backend knows a call by: "<ns>__<name>" in a namespace
 * (ir.h). */
static lx_str call_chat_name(const struct lx_ir_item *it, lx_arena *a)
{
    if (!it->ns.len)
        return it->name;
    lx_str parts[3] = {it->ns, LX_STR_LIT("\"__\""), it->name};
    return lx_ir_lit_join(a, parts, 3);
}

/* A custom tool call's arguments for chat: the JSON text {"input":"..."}
 * in a string. */
static lx_str custom_arguments(const struct lx_ir_item *it, lx_arena *a)
{
    size_t n = it->input.len + 10;
    char *p = lx_arena_alloc(a, n + 1);
    if (!p)
        return LX_STR_NULL;
    memcpy(p, "{\"input\":", 9);
    memcpy(p + 9, it->input.ptr, it->input.len);
    p[n - 1] = '}';
    return lx_ir_lit_make(a, p, n);
}

static int write_tool_calls(lx_jw *w, const struct lx_ir_item *run, uint32_t n, lx_arena *a)
{
    lx_jw_key(w, "tool_calls");
    lx_jw_arr_open(w);
    for (uint32_t i = 0; i < n; i++) {
        if (!is_call(&run[i]))
            continue;
        lx_str name = call_chat_name(&run[i], a);
        lx_str args = run[i].kind == LX_IR_ITEM_CUSTOM_TOOL_CALL ? custom_arguments(&run[i], a)
                                                                 : run[i].arguments;
        if (!name.len || !args.len)
            return LX_ERR;
        lx_jw_obj_open(w);
        lx_jw_member_raw(w, "id", run[i].call_id);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "function");
        lx_jw_key(w, "function");
        lx_jw_obj_open(w);
        lx_jw_member_raw(w, "name", name);
        lx_jw_member_raw(w, "arguments", args);
        lx_jw_obj_close(w);
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
    return LX_OK;
}

/* Consecutive reasoning, assistant message and function_call items become
 * ONE assistant message (11): joined text, tool_calls in item order. */
static int write_assistant_turn(lx_jw *w, const struct lx_ir_item *run, uint32_t n,
                                const struct lx_resp_chat_opts *o, lx_arena *a)
{
    uint32_t ncalls, nparts = count_parts(run, n, &ncalls);
    lx_str *lits = lx_arena_alloc(a, (nparts + 1) * sizeof(*lits));
    if (!lits)
        return LX_ERR;
    uint32_t m = collect(run, n, false, false, lits);
    lx_str text = lx_ir_lit_join(a, lits, m);
    m = collect(run, n, false, true, lits);
    lx_str refusal = lx_ir_lit_join(a, lits, m);
    m = o->reasoning_content ? collect(run, n, true, false, lits) : 0;
    lx_str reasoning = lx_ir_lit_join(a, lits, m);
    if (!text.len && !refusal.len && !reasoning.len && ncalls == 0)
        return LX_OK; /* only reasoning, and this backend takes none */
    lx_jw_obj_open(w);
    lx_jw_key(w, "role");
    lx_jw_cstr(w, "assistant");
    lx_jw_key(w, "content");
    if (text.len)
        lx_jw_raw(w, text.ptr, text.len);
    else if (ncalls || refusal.len)
        lx_jw_null(w);
    else
        lx_jw_str(w, "", 0);
    lx_jw_member_raw(w, "refusal", refusal);
    lx_jw_member_raw(w, "reasoning_content", reasoning);
    if (ncalls && write_tool_calls(w, run, n, a) != LX_OK)
        return LX_ERR;
    lx_jw_obj_close(w);
    return LX_OK;
}

/* A tool result (11): a string as given, else its text parts; images in a
 * tool result have no chat equivalent. */
static void write_tool_message(lx_jw *w, const struct lx_ir_item *it)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "role");
    lx_jw_cstr(w, "tool");
    lx_jw_member_raw(w, "tool_call_id", it->call_id);
    uint32_t ntext = 0;
    for (uint32_t k = 0; k < it->nparts; k++)
        ntext += is_text_part(&it->parts[k]);
    if (it->content_is_string) {
        write_chat_content(w, it);
    } else if (ntext == 0) {
        lx_jw_key(w, "content");
        lx_jw_str(w, "", 0);
    } else {
        lx_jw_key(w, "content");
        lx_jw_arr_open(w);
        for (uint32_t k = 0; k < it->nparts; k++) {
            if (!is_text_part(&it->parts[k]))
                continue;
            lx_jw_obj_open(w);
            lx_jw_key(w, "type");
            lx_jw_cstr(w, "text");
            lx_jw_member_raw(w, "text", it->parts[k].text);
            lx_jw_obj_close(w);
        }
        lx_jw_arr_close(w);
    }
    lx_jw_obj_close(w);
}

static const char *chat_role(enum lx_ir_role r, const struct lx_resp_chat_opts *o)
{
    if (r == LX_IR_ROLE_DEVELOPER && o->developer_as_system)
        return "system";
    return lx_ir_role_name(r);
}

static int write_messages(lx_jw *w, const struct lx_ir_request *req,
                          const struct lx_resp_chat_opts *o, lx_arena *a)
{
    lx_jw_key(w, "messages");
    lx_jw_arr_open(w);
    if (req->instructions.len) {
        lx_jw_obj_open(w);
        lx_jw_key(w, "role");
        lx_jw_cstr(w, "system");
        lx_jw_member_raw(w, "content", req->instructions);
        lx_jw_obj_close(w);
    }
    for (uint32_t i = 0; i < req->nitems;) {
        const struct lx_ir_item *it = &req->items[i];
        if (in_assistant_turn(it)) {
            uint32_t end = i;
            while (end < req->nitems && in_assistant_turn(&req->items[end]))
                end++;
            if (write_assistant_turn(w, it, end - i, o, a) != LX_OK)
                return LX_ERR;
            i = end;
            continue;
        }
        if (it->kind == LX_IR_ITEM_FUNCTION_CALL_OUTPUT ||
            it->kind == LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT) {
            write_tool_message(w, it);
        } else if (it->kind == LX_IR_ITEM_COMPACTION) {
            /* the opened summary (ir.h); an unopened seal means nothing to a model */
            if (it->nparts) {
                lx_jw_obj_open(w);
                lx_jw_key(w, "role");
                lx_jw_cstr(w, "user");
                write_chat_content(w, it);
                lx_jw_obj_close(w);
            }
        } else {
            lx_jw_obj_open(w);
            lx_jw_key(w, "role");
            lx_jw_cstr(w, chat_role(it->role, o));
            write_chat_content(w, it);
            lx_jw_obj_close(w);
        }
        i++;
    }
    lx_jw_arr_close(w);
    return LX_OK;
}

/* True when the literal name names tool t: by its chat name, so a
 * namespace function is chosen as "<ns>__<name>" (ir.h). */
static bool names_tool(const struct lx_ir_tool *t, lx_str name)
{
    return lx_str_eq(t->chat_name, name);
}

/* Whether t goes to the backend: hosted tools never; under an emulated
 * tool_choice object only the chosen or allowed tools. */
static bool tool_sent(const struct lx_ir_request *req, const struct lx_ir_tool *t,
                      const struct lx_resp_chat_opts *o)
{
    const struct lx_ir_tool_choice *c = &req->tool_choice;
    if (t->kind == LX_IR_TOOL_OTHER)
        return false;
    if (o->tool_choice_objects)
        return true;
    if (c->kind == LX_IR_CHOICE_FUNCTION)
        return names_tool(t, c->name);
    if (c->kind != LX_IR_CHOICE_ALLOWED_TOOLS)
        return true;
    for (uint32_t k = 0; k < c->nnames; k++)
        if (names_tool(t, c->names[k]))
            return true;
    return false;
}

/* A custom tool's description for chat: its own, then its grammar. */
static lx_str custom_description(const struct lx_ir_tool *t, lx_arena *a)
{
    if (!t->definition.len)
        return t->description;
    lx_str parts[6];
    size_t n = 0;
    if (t->description.len) {
        parts[n++] = t->description;
        parts[n++] = LX_STR_LIT("\"\\n\\n\"");
    }
    parts[n++] = LX_STR_LIT("\"The input must match this \"");
    parts[n++] = t->syntax;
    parts[n++] = LX_STR_LIT("\" grammar:\\n\"");
    parts[n++] = t->definition;
    return lx_ir_lit_join(a, parts, n);
}

static const char custom_parameters[] =
    "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\"}},"
    "\"required\":[\"input\"],\"additionalProperties\":false}";

static int write_tool(lx_jw *w, const struct lx_ir_tool *t, lx_arena *a)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, "function");
    lx_jw_key(w, "function");
    lx_jw_obj_open(w);
    lx_jw_member_raw(w, "name", t->chat_name);
    if (t->kind == LX_IR_TOOL_CUSTOM) {
        lx_str desc = custom_description(t, a);
        if (t->definition.len && !desc.len)
            return LX_ERR;
        lx_jw_member_raw(w, "description", desc);
        lx_jw_key(w, "parameters");
        lx_jw_raw(w, custom_parameters, sizeof(custom_parameters) - 1);
    } else {
        lx_jw_member_raw(w, "description", t->description);
        lx_jw_member_raw(w, "parameters", t->parameters);
        lx_jw_member_raw(w, "strict", t->strict);
    }
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
    return LX_OK;
}

/* Writes the tools sent; *n is how many. */
static int write_tools(lx_jw *w, const struct lx_ir_request *req, const struct lx_resp_chat_opts *o,
                       lx_arena *a, uint32_t *n)
{
    *n = 0;
    for (uint32_t k = 0; k < req->ntools; k++) {
        if (!tool_sent(req, &req->tools[k], o))
            continue;
        if ((*n)++ == 0) {
            lx_jw_key(w, "tools");
            lx_jw_arr_open(w);
        }
        if (write_tool(w, &req->tools[k], a) != LX_OK)
            return LX_ERR;
    }
    if (*n)
        lx_jw_arr_close(w);
    return LX_OK;
}

static void write_function_ref(lx_jw *w, lx_str name)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, "function");
    lx_jw_key(w, "function");
    lx_jw_obj_open(w);
    lx_jw_member_raw(w, "name", name);
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
}

static void write_tool_choice(lx_jw *w, const struct lx_ir_request *req,
                              const struct lx_resp_chat_opts *o)
{
    static const char *const modes[] = {"none", "auto", "required"};
    const struct lx_ir_tool_choice *c = &req->tool_choice;
    switch (c->kind) {
    case LX_IR_CHOICE_UNSET:
        return;
    case LX_IR_CHOICE_NONE:
    case LX_IR_CHOICE_AUTO:
    case LX_IR_CHOICE_REQUIRED:
        lx_jw_key(w, "tool_choice");
        lx_jw_cstr(w, modes[c->kind - LX_IR_CHOICE_NONE]);
        return;
    case LX_IR_CHOICE_FUNCTION:
        lx_jw_key(w, "tool_choice");
        if (o->tool_choice_objects)
            write_function_ref(w, c->name);
        else
            lx_jw_cstr(w, "required"); /* only that tool was sent */
        return;
    case LX_IR_CHOICE_ALLOWED_TOOLS:
        lx_jw_key(w, "tool_choice");
        if (!o->tool_choice_objects) {
            lx_jw_raw(w, c->mode.ptr, c->mode.len); /* only those tools were sent */
            return;
        }
        lx_jw_obj_open(w);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "allowed_tools");
        lx_jw_key(w, "allowed_tools");
        lx_jw_obj_open(w);
        lx_jw_member_raw(w, "mode", c->mode);
        lx_jw_key(w, "tools");
        lx_jw_arr_open(w);
        for (uint32_t k = 0; k < c->nnames; k++)
            write_function_ref(w, c->names[k]);
        lx_jw_arr_close(w);
        lx_jw_obj_close(w);
        lx_jw_obj_close(w);
        return;
    }
}

/* text.format (flat) -> response_format (nested json_schema); text is the
 * default and is left out (11). */
static void write_response_format(lx_jw *w, const struct lx_ir_format *fm)
{
    if (fm->kind != LX_IR_FORMAT_JSON_OBJECT && fm->kind != LX_IR_FORMAT_JSON_SCHEMA)
        return;
    lx_jw_key(w, "response_format");
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    if (fm->kind == LX_IR_FORMAT_JSON_OBJECT) {
        lx_jw_cstr(w, "json_object");
        lx_jw_obj_close(w);
        return;
    }
    lx_jw_cstr(w, "json_schema");
    lx_jw_key(w, "json_schema");
    lx_jw_obj_open(w);
    lx_jw_member_raw(w, "name", fm->name);
    lx_jw_member_raw(w, "description", fm->description);
    lx_jw_member_raw(w, "schema", fm->schema);
    lx_jw_member_raw(w, "strict", fm->strict);
    lx_jw_obj_close(w);
    lx_jw_obj_close(w);
}

static void write_sampling(lx_jw *w, const struct lx_ir_request *req,
                           const struct lx_resp_chat_opts *o)
{
    lx_jw_member_raw(w, "reasoning_effort", req->reasoning_effort);
    lx_jw_member_raw(w, "verbosity", req->verbosity);
    lx_jw_member_raw(w, o->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
                     req->max_output_tokens);
    lx_jw_member_raw(w, "temperature", req->temperature);
    lx_jw_member_raw(w, "top_p", req->top_p);
    lx_jw_member_raw(w, "presence_penalty", req->presence_penalty);
    lx_jw_member_raw(w, "frequency_penalty", req->frequency_penalty);
    /* top_logprobs alone is a 400 on llama-server (11) */
    if (req->want_logprobs) {
        lx_jw_key(w, "logprobs");
        lx_jw_bool(w, true);
        lx_jw_member_raw(w, "top_logprobs", req->top_logprobs);
    }
    lx_jw_member_raw(w, "user", req->user);
    lx_jw_member_raw(w, "safety_identifier", req->safety_identifier);
    lx_jw_member_raw(w, "prompt_cache_key", req->prompt_cache_key);
    lx_jw_member_raw(w, "service_tier", req->service_tier);
}

/* Chat keys the encoder derives from the IR: an unknown Responses key of
 * the same name (a client sending "messages" or "max_tokens") is dropped,
 * since a JSON object must not hold a key twice. */
static bool chat_key_owned(const char *key)
{
    static const char *const owned[] = {
        "model",           "messages",         "tools",     "tool_choice", "parallel_tool_calls",
        "response_format", "reasoning_effort", "verbosity", "max_tokens",  "max_completion_tokens",
        "logprobs",        "stream_options",
    };
    for (size_t k = 0; k < LX_ARRAY_LEN(owned); k++)
        if (strcmp(key, owned[k]) == 0)
            return true;
    return false;
}

int lx_resp_chat_request_encode(const struct lx_ir_request *req, const struct lx_resp_chat_opts *o,
                                lx_arena *a, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "model");
    if (o->model)
        lx_jw_cstr(&w, o->model);
    else
        lx_jw_raw(&w, req->model.ptr, req->model.len);
    if (write_messages(&w, req, o, a) != LX_OK)
        return LX_ERR;
    /* tool_choice and parallel_tool_calls without tools are refused by
     * OpenAI, so they go only with at least one function tool */
    uint32_t ntools;
    if (write_tools(&w, req, o, a, &ntools) != LX_OK)
        return LX_ERR;
    if (ntools > 0) {
        write_tool_choice(&w, req, o);
        if (req->parallel_tool_calls != LX_IR_UNSET) {
            lx_jw_key(&w, "parallel_tool_calls");
            lx_jw_bool(&w, req->parallel_tool_calls == LX_IR_TRUE);
        }
    }
    write_response_format(&w, &req->format);
    write_sampling(&w, req, o);
    if (req->stream) {
        /* usage arrives only when asked for (11) */
        lx_jw_key(&w, "stream");
        lx_jw_bool(&w, true);
        lx_jw_key(&w, "stream_options");
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "include_usage");
        lx_jw_bool(&w, true);
        lx_jw_obj_close(&w);
    }
    for (uint32_t k = 0; k < req->nextras; k++) {
        if (chat_key_owned(req->extras[k].key))
            continue;
        lx_jw_key(&w, req->extras[k].key);
        lx_jw_raw(&w, req->extras[k].value.ptr, req->extras[k].value.len);
    }
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

/* ---- chat.completion -> IR result (section 12) ------------------------- */

lx_str lx_resp__make_id(lx_arena *a, const char *prefix, const char *base, uint32_t n)
{
    char tmp[128];
    int len = snprintf(tmp, sizeof(tmp), "%s_%s_%u", prefix, base, n);
    return lx_ir_lit_make(a, tmp, (size_t)LX_MIN(len, (int)sizeof(tmp) - 1));
}

static struct lx_ir_part *new_parts(lx_arena *a, uint32_t n)
{
    struct lx_ir_part *p = lx_arena_alloc(a, n * sizeof(*p));
    if (p)
        memset(p, 0, n * sizeof(*p));
    return p;
}

/* A non-empty string member as a literal, or an empty view. */
static lx_str nonempty(const lx_json *j, int obj, const char *key)
{
    int t = lx_json_get(j, obj, key);
    if (!lx_json_is_string(j, t) || lx_json_raw(j, t).len == 0)
        return LX_STR_NULL;
    return lx_json_value_text(j, t);
}

static int add_reasoning(struct lx_ir_result *res, const lx_json *j, int msg, const char *base,
                         lx_arena *a)
{
    /* llama.cpp sends reasoning_content, others reasoning (10) */
    lx_str text = nonempty(j, msg, "reasoning_content");
    if (!text.len)
        text = nonempty(j, msg, "reasoning");
    if (!text.len)
        return LX_OK;
    struct lx_ir_item *it = &res->items[res->nitems];
    struct lx_ir_part *p = new_parts(a, 1);
    if (!p)
        return LX_ERR;
    p->kind = LX_IR_PART_REASONING_TEXT;
    p->text = text;
    *it = (struct lx_ir_item){.kind = LX_IR_ITEM_REASONING, .parts = p, .nparts = 1};
    it->id = lx_resp__make_id(a, "rs", base, res->nitems);
    res->nitems++;
    return it->id.len ? LX_OK : LX_ERR;
}

static int add_message(struct lx_ir_result *res, const lx_json *j, int msg, const char *base,
                       lx_arena *a)
{
    lx_str text = nonempty(j, msg, "content");
    lx_str refusal = nonempty(j, msg, "refusal");
    if (!text.len && !refusal.len)
        return LX_OK;
    struct lx_ir_item *it = &res->items[res->nitems];
    struct lx_ir_part *p = new_parts(a, 2);
    if (!p)
        return LX_ERR;
    uint32_t n = 0;
    if (text.len)
        p[n++] = (struct lx_ir_part){.kind = LX_IR_PART_OUTPUT_TEXT, .text = text};
    if (refusal.len)
        p[n++] = (struct lx_ir_part){.kind = LX_IR_PART_REFUSAL, .text = refusal};
    *it = (struct lx_ir_item){
        .kind = LX_IR_ITEM_MESSAGE, .role = LX_IR_ROLE_ASSISTANT, .parts = p, .nparts = n};
    it->id = lx_resp__make_id(a, "msg", base, res->nitems);
    res->nitems++;
    return it->id.len ? LX_OK : LX_ERR;
}

/* arguments: a string as sent; an object (some backends) serialised into
 * a string (12); absent: "{}". */
static lx_str call_arguments(const lx_json *j, int fn, lx_arena *a)
{
    int t = lx_json_get(j, fn, "arguments");
    if (lx_json_is_string(j, t))
        return lx_json_value_text(j, t);
    if (lx_json_is_object(j, t)) {
        lx_str raw = lx_json_value_text(j, t);
        return lx_ir_lit_make(a, raw.ptr, raw.len);
    }
    return LX_STR_LIT("\"{}\"");
}

/* The input of a custom tool call from chat arguments (a literal): the
 * string member "input" of the object they hold, else the arguments text
 * as is. */
lx_str lx_resp__custom_input(lx_str arguments, lx_arena *a)
{
    lx_json lit, args;
    lx_buf text;
    lx_buf_init(&text, arguments.len + 1);
    lx_str out = arguments;
    if (lx_json_parse(&lit, arguments.ptr, arguments.len, a, 2) != LX_JSON_OK ||
        lx_json_unescape(&lit, 0, &text) != LX_OK || !text.len)
        goto release_text;
    char *copy = lx_arena_strndup(a, text.data, text.len);
    if (!copy || lx_json_parse(&args, copy, text.len, a, 64) != LX_JSON_OK)
        goto release_text;
    int input = lx_json_get(&args, 0, "input");
    if (lx_json_is_object(&args, 0) && lx_json_is_string(&args, input))
        out = lx_json_value_text(&args, input);
release_text:
    lx_buf_release(&text);
    return out;
}

int lx_resp__call_item(struct lx_ir_item *it, const struct lx_ir_request *req, lx_str chat_name,
                       lx_str arguments, const char *id_base, uint32_t n, lx_arena *a)
{
    const struct lx_ir_tool *t = req ? lx_ir_tool_find(req, chat_name) : NULL;
    bool custom = t && t->kind == LX_IR_TOOL_CUSTOM;
    it->kind = custom ? LX_IR_ITEM_CUSTOM_TOOL_CALL : LX_IR_ITEM_FUNCTION_CALL;
    it->name = t ? t->name : chat_name;
    it->ns = t ? t->ns : LX_STR_NULL;
    if (custom)
        it->input = lx_resp__custom_input(arguments, a);
    else
        it->arguments = arguments;
    it->id = lx_resp__make_id(a, custom ? "ctc" : "fc", id_base, n);
    return it->id.len ? LX_OK : LX_ERR;
}

static int add_call(struct lx_ir_result *res, const struct lx_ir_request *req, const lx_json *j,
                    int call, const char *base, lx_arena *a)
{
    int fn = lx_json_get(j, call, "function");
    lx_str name = nonempty(j, fn, "name");
    if (!name.len)
        return LX_OK; /* not a function call */
    struct lx_ir_item *it = &res->items[res->nitems];
    *it = (struct lx_ir_item){0};
    lx_str args = call_arguments(j, fn, a);
    if (!args.len || lx_resp__call_item(it, req, name, args, base, res->nitems, a) != LX_OK)
        return LX_ERR;
    it->call_id = nonempty(j, call, "id");
    if (!it->call_id.len)
        it->call_id = lx_resp__make_id(a, "call", base, res->nitems);
    res->nitems++;
    return it->call_id.len ? LX_OK : LX_ERR;
}

void lx_resp__read_usage(struct lx_ir_usage *u, const lx_json *j, int usage)
{
    if (!lx_json_is_object(j, usage))
        return;
    u->present = true;
    lx_json_int64(j, lx_json_get(j, usage, "prompt_tokens"), &u->input_tokens);
    lx_json_int64(j, lx_json_get(j, usage, "completion_tokens"), &u->output_tokens);
    if (lx_json_int64(j, lx_json_get(j, usage, "total_tokens"), &u->total_tokens) != LX_OK)
        u->total_tokens = u->input_tokens + u->output_tokens;
    int pd = lx_json_get(j, usage, "prompt_tokens_details");
    lx_json_int64(j, lx_json_get(j, pd, "cached_tokens"), &u->cached_tokens);
    int cd = lx_json_get(j, usage, "completion_tokens_details");
    lx_json_int64(j, lx_json_get(j, cd, "reasoning_tokens"), &u->reasoning_tokens);
}

static void read_finish(struct lx_ir_result *res, const lx_json *j, int choice)
{
    int fr = lx_json_get(j, choice, "finish_reason");
    if (lx_json_str_eq(j, fr, "length"))
        res->reason = LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS;
    else if (lx_json_str_eq(j, fr, "content_filter"))
        res->reason = LX_IR_INCOMPLETE_CONTENT_FILTER;
    res->status = res->reason ? LX_IR_RESULT_INCOMPLETE : LX_IR_RESULT_COMPLETED;
    for (uint32_t k = 0; k < res->nitems; k++)
        res->items[k].status = LX_IR_STATUS_COMPLETED;
    /* the token budget ran out inside the last item (5) */
    if (res->reason && res->nitems)
        res->items[res->nitems - 1].status = LX_IR_STATUS_INCOMPLETE;
}

int lx_resp_chat_result_decode(struct lx_ir_result *res, const struct lx_ir_request *req,
                               const char *body, size_t len, const char *id_base, lx_arena *a,
                               uint32_t max_depth)
{
    *res = (struct lx_ir_result){0};
    lx_json *j = lx_arena_alloc(a, sizeof(*j));
    if (!j || lx_json_parse(j, body, len, a, max_depth) != LX_JSON_OK || !lx_json_is_object(j, 0))
        return LX_ERR;
    int choices = lx_json_get(j, 0, "choices");
    if (!lx_json_is_array(j, choices) || lx_json_size(j, choices) < 1)
        return LX_ERR;
    int choice = choices + 1;
    int msg = lx_json_get(j, choice, "message");
    if (!lx_json_is_object(j, msg))
        return LX_ERR;
    int calls = lx_json_get(j, msg, "tool_calls");
    int ncalls = lx_json_is_array(j, calls) ? lx_json_size(j, calls) : 0;
    if (ncalls > LX_IR_MAX_ITEMS)
        return LX_ERR;
    res->items = lx_arena_alloc(a, ((size_t)ncalls + 2) * sizeof(*res->items));
    if (!res->items || add_reasoning(res, j, msg, id_base, a) != LX_OK ||
        add_message(res, j, msg, id_base, a) != LX_OK)
        return LX_ERR;
    int i = calls + 1;
    for (int k = 0; k < ncalls; k++, i = lx_json_skip(j, i))
        if (add_call(res, req, j, i, id_base, a) != LX_OK)
            return LX_ERR;
    read_finish(res, j, choice);
    lx_resp__read_usage(&res->usage, j, lx_json_get(j, 0, "usage"));
    return LX_OK;
}
