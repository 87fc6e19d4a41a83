/*
 * resp_stream.c — chat.completion.chunk stream -> Responses SSE events (see
 * resp_stream.h). Section numbers cite shared/spec/RESPONSES.md.
 *
 * State (12, "Streaming translation"): the sequence number, the items
 * closed so far (the result), and at most one open item: a reasoning item,
 * a message with one open part (output_text or refusal), or a tool call.
 * The open part's text, or the call's arguments, grow in `text` as the
 * escaped inside of a JSON string; closing makes it a literal in the arena.
 */
#include "resp_stream.h"

#include <stdio.h>
#include <stdlib.h>

#include "responses_int.h"

enum open_kind { OPEN_NONE, OPEN_REASONING, OPEN_MESSAGE, OPEN_CALL };
enum phase { PHASE_NEW, PHASE_STREAMING, PHASE_DONE };

struct lx_resp_stream {
    const struct lx_ir_request *req;
    const struct lx_resp_meta *m;
    char id_base[64];
    enum lx_resp_reasoning_events rmode;
    enum phase phase;
    uint64_t seq;
    lx_arena arena;   /* items and literals kept for the result */
    lx_arena scratch; /* one chunk's tokens, reset per chunk */
    struct lx_ir_result res;
    uint32_t items_cap;
    size_t total; /* escaped bytes accumulated over the response */
    bool finish_seen;
    enum lx_ir_incomplete finish;

    /* the open item */
    enum open_kind open;
    struct lx_ir_item cur;
    struct lx_ir_part parts[LX_RESP_STREAM_MAX_PARTS];
    int part; /* message: kind of the open part, -1 none */
    lx_buf text;
    /* the open call */
    lx_buf name;
    int64_t call_index, last_call_index;
    bool call_added;
    lx_buf resp;            /* a response object, for lifecycle events */
    lx_resp_item_hook hook; /* called on each item as it closes; may be NULL */
    void *hook_data;
};

/* ---- events --------------------------------------------------------------- */

/* Starts one event: "event: T\ndata: {"type":T,"sequence_number":N".
 * *mark remembers where it began so a failed event is taken back whole. */
static void ev_begin(struct lx_resp_stream *s, lx_buf *out, const char *type, lx_jw *w,
                     size_t *mark)
{
    *mark = out->len;
    lx_jw_init(w, out);
    if (lx_buf_printf(out, "event: %s\ndata: ", type) != LX_OK)
        w->failed = true;
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, type);
    lx_jw_key(w, "sequence_number");
    lx_jw_uint(w, s->seq);
}

static int ev_end(struct lx_resp_stream *s, lx_buf *out, lx_jw *w, size_t mark)
{
    lx_jw_obj_close(w);
    if (!lx_jw_ok(w) || lx_buf_append(out, "\n\n", 2) != LX_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return LX_ERR;
    }
    s->seq++;
    return LX_OK;
}

static uint32_t out_index(const struct lx_resp_stream *s)
{
    return s->res.nitems; /* the open item is the next one */
}

/* "item_id" and "output_index" of the open item. */
static void ev_item_ref(struct lx_resp_stream *s, lx_jw *w)
{
    lx_jw_key(w, "item_id");
    lx_jw_raw(w, s->cur.id.ptr, s->cur.id.len);
    lx_jw_key(w, "output_index");
    lx_jw_uint(w, out_index(s));
}

/* A lifecycle event carrying the whole response object (6.3). */
static int ev_response(struct lx_resp_stream *s, lx_buf *out, const char *type,
                       const struct lx_resp_meta *m)
{
    lx_buf_reset(&s->resp);
    if (lx_resp_response_write(s->req, &s->res, m, &s->resp) != LX_OK)
        return LX_ERR;
    lx_jw w;
    size_t mark;
    ev_begin(s, out, type, &w, &mark);
    lx_jw_key(&w, "response");
    lx_jw_raw(&w, s->resp.data, s->resp.len);
    return ev_end(s, out, &w, mark);
}

/* output_item.added / .done with the item as the output writer shows it. */
static int ev_item(struct lx_resp_stream *s, lx_buf *out, const char *type,
                   const struct lx_ir_item *it)
{
    lx_jw w;
    size_t mark;
    ev_begin(s, out, type, &w, &mark);
    lx_jw_key(&w, "output_index");
    lx_jw_uint(&w, out_index(s));
    lx_jw_key(&w, "item");
    lx_resp__write_item(&w, it);
    return ev_end(s, out, &w, mark);
}

/* content_part.added / .done. */
static int ev_part(struct lx_resp_stream *s, lx_buf *out, const char *type,
                   const struct lx_ir_part *p, uint32_t content_index)
{
    lx_jw w;
    size_t mark;
    ev_begin(s, out, type, &w, &mark);
    ev_item_ref(s, &w);
    lx_jw_key(&w, "content_index");
    lx_jw_uint(&w, content_index);
    lx_jw_key(&w, "part");
    lx_resp__write_part(&w, p);
    return ev_end(s, out, &w, mark);
}

/* A text delta or done event: key holds lit (a literal); content_index
 * is left out when negative (function call arguments); with_logprobs adds
 * the empty logprobs array output_text events carry (6.3). */
static int ev_text(struct lx_resp_stream *s, lx_buf *out, const char *type, int content_index,
                   const char *key, lx_str lit, bool with_logprobs)
{
    lx_jw w;
    size_t mark;
    ev_begin(s, out, type, &w, &mark);
    ev_item_ref(s, &w);
    if (content_index >= 0) {
        lx_jw_key(&w, "content_index");
        lx_jw_uint(&w, (uint64_t)content_index);
    }
    lx_jw_key(&w, key);
    lx_jw_raw(&w, lit.ptr, lit.len);
    if (with_logprobs) {
        lx_jw_key(&w, "logprobs");
        lx_jw_raw(&w, "[]", 2);
    }
    return ev_end(s, out, &w, mark);
}

/* ---- accumulation ------------------------------------------------------------ */

/* Appends the inside of a literal to the open part or arguments. */
static int grow(struct lx_resp_stream *s, lx_buf *b, lx_str lit)
{
    size_t n = lit.len - 2;
    if (s->total + n > LX_RESP_STREAM_TOTAL_CAP || lx_buf_append(b, lit.ptr + 1, n) != LX_OK)
        return LX_ERR;
    s->total += n;
    return LX_OK;
}

/* The bytes of b as a literal in the arena. */
static lx_str keep_literal(struct lx_resp_stream *s, const lx_buf *b)
{
    char *p = lx_arena_alloc(&s->arena, b->len + 2);
    if (!p)
        return LX_STR_NULL;
    p[0] = '"';
    if (b->len)
        memcpy(p + 1, b->data, b->len);
    p[b->len + 1] = '"';
    return (lx_str){p, b->len + 2};
}

static lx_str keep_copy(struct lx_resp_stream *s, lx_str v)
{
    char *p = lx_arena_alloc(&s->arena, v.len ? v.len : 1);
    if (!p)
        return LX_STR_NULL;
    memcpy(p, v.ptr, v.len);
    return (lx_str){p, v.len};
}

/* Moves the open item, finished, to the result's items. */
static int keep_item(struct lx_resp_stream *s)
{
    if (s->res.nitems == s->items_cap) {
        uint32_t cap = s->items_cap ? 2 * s->items_cap : 8;
        if (cap > LX_IR_MAX_ITEMS)
            return LX_ERR;
        struct lx_ir_item *items = lx_arena_alloc(&s->arena, cap * sizeof(*items));
        if (!items)
            return LX_ERR;
        if (s->res.nitems)
            memcpy(items, s->res.items, s->res.nitems * sizeof(*items));
        s->res.items = items;
        s->items_cap = cap;
    }
    struct lx_ir_item *it = &s->res.items[s->res.nitems++];
    *it = s->cur;
    if (s->cur.nparts) {
        it->parts = lx_arena_alloc(&s->arena, s->cur.nparts * sizeof(*it->parts));
        if (!it->parts)
            return LX_ERR;
        memcpy(it->parts, s->parts, s->cur.nparts * sizeof(*it->parts));
    }
    s->open = OPEN_NONE;
    return LX_OK;
}

/* ---- opening and closing items ----------------------------------------------- */

static int open_item(struct lx_resp_stream *s, lx_buf *out, enum open_kind k)
{
    static const char *const prefixes[] = {"", "rs", "msg", "fc"};
    s->open = k;
    s->cur = (struct lx_ir_item){.status = LX_IR_STATUS_IN_PROGRESS, .role = LX_IR_ROLE_ASSISTANT};
    s->cur.kind = k == OPEN_REASONING ? LX_IR_ITEM_REASONING : LX_IR_ITEM_MESSAGE;
    s->cur.parts = s->parts;
    s->part = -1;
    lx_buf_reset(&s->text);
    s->cur.id = lx_resp__make_id(&s->arena, prefixes[k], s->id_base, out_index(s));
    if (!s->cur.id.len)
        return LX_ERR;
    if (k == OPEN_CALL)
        return LX_OK; /* announced with its first arguments (resp_stream.h) */
    if (ev_item(s, out, "response.output_item.added", &s->cur) != LX_OK)
        return LX_ERR;
    if (k != OPEN_REASONING || s->rmode == LX_RESP_REASONING_ITEMS)
        return LX_OK;
    struct lx_ir_part empty = {.kind = LX_IR_PART_REASONING_TEXT};
    return ev_part(s, out, "response.content_part.added", &empty, 0);
}

static int open_part(struct lx_resp_stream *s, lx_buf *out, enum lx_ir_part_kind kind)
{
    if (s->cur.nparts == LX_RESP_STREAM_MAX_PARTS)
        return LX_ERR;
    s->part = (int)kind;
    lx_buf_reset(&s->text);
    struct lx_ir_part empty = {.kind = kind};
    return ev_part(s, out, "response.content_part.added", &empty, s->cur.nparts);
}

static int close_part(struct lx_resp_stream *s, lx_buf *out)
{
    if (s->part < 0)
        return LX_OK;
    bool refusal = s->part == LX_IR_PART_REFUSAL;
    struct lx_ir_part *p = &s->parts[s->cur.nparts];
    *p = (struct lx_ir_part){.kind = (enum lx_ir_part_kind)s->part};
    p->text = keep_literal(s, &s->text);
    if (!p->text.len)
        return LX_ERR;
    uint32_t ci = s->cur.nparts;
    if (ev_text(s, out, refusal ? "response.refusal.done" : "response.output_text.done", (int)ci,
                refusal ? "refusal" : "text", p->text, !refusal) != LX_OK ||
        ev_part(s, out, "response.content_part.done", p, ci) != LX_OK)
        return LX_ERR;
    s->cur.nparts++;
    s->part = -1;
    return LX_OK;
}

static const char *reasoning_event(const struct lx_resp_stream *s, bool done)
{
    if (s->rmode == LX_RESP_REASONING_OPENAI)
        return done ? "response.reasoning_text.done" : "response.reasoning_text.delta";
    return done ? "response.reasoning.done" : "response.reasoning.delta";
}

static int close_reasoning(struct lx_resp_stream *s, lx_buf *out)
{
    struct lx_ir_part *p = &s->parts[0];
    *p = (struct lx_ir_part){.kind = LX_IR_PART_REASONING_TEXT, .text = keep_literal(s, &s->text)};
    if (!p->text.len)
        return LX_ERR;
    s->cur.nparts = 1;
    if (s->rmode == LX_RESP_REASONING_ITEMS)
        return LX_OK;
    if (ev_text(s, out, reasoning_event(s, true), 0, "text", p->text, false) != LX_OK)
        return LX_ERR;
    return ev_part(s, out, "response.content_part.done", p, 0);
}

/* The name the backend called, as a literal. */
static lx_str call_chat_name(struct lx_resp_stream *s)
{
    return keep_literal(s, &s->name);
}

/* output_item.added for the open call, once its name is settled: a
 * custom tool or a namespace function is known by its chat name (ir.h). */
static int announce_call(struct lx_resp_stream *s, lx_buf *out)
{
    lx_str chat_name = call_chat_name(s);
    if (!chat_name.len)
        return LX_ERR;
    const struct lx_ir_tool *t = lx_ir_tool_find(s->req, chat_name);
    bool custom = t && t->kind == LX_IR_TOOL_CUSTOM;
    s->cur.kind = custom ? LX_IR_ITEM_CUSTOM_TOOL_CALL : LX_IR_ITEM_FUNCTION_CALL;
    s->cur.name = t ? t->name : chat_name;
    s->cur.ns = t ? t->ns : LX_STR_NULL;
    if (custom) {
        s->cur.id = lx_resp__make_id(&s->arena, "ctc", s->id_base, out_index(s));
        if (!s->cur.id.len)
            return LX_ERR;
    }
    if (!s->cur.call_id.len)
        s->cur.call_id = lx_resp__make_id(&s->arena, "call", s->id_base, out_index(s));
    s->call_added = true;
    return s->cur.call_id.len ? ev_item(s, out, "response.output_item.added", &s->cur) : LX_ERR;
}

static int close_call(struct lx_resp_stream *s, lx_buf *out)
{
    if (!s->call_added && announce_call(s, out) != LX_OK)
        return LX_ERR;
    bool custom = s->cur.kind == LX_IR_ITEM_CUSTOM_TOOL_CALL;
    if (!s->text.len) {
        /* no arguments at all: "{}" so that they parse (resp_stream.h) */
        static const lx_str empty = LX_STR_LIT("\"{}\"");
        if (grow(s, &s->text, empty) != LX_OK ||
            (!custom && ev_text(s, out, "response.function_call_arguments.delta", -1, "delta",
                                empty, false) != LX_OK))
            return LX_ERR;
    }
    lx_str args = keep_literal(s, &s->text);
    if (!args.len)
        return LX_ERR;
    if (!custom) {
        s->cur.arguments = args;
        lx_jw w;
        size_t mark;
        ev_begin(s, out, "response.function_call_arguments.done", &w, &mark);
        ev_item_ref(s, &w);
        lx_jw_key(&w, "name");
        lx_jw_raw(&w, s->cur.name.ptr, s->cur.name.len);
        lx_jw_key(&w, "arguments");
        lx_jw_raw(&w, args.ptr, args.len);
        return ev_end(s, out, &w, mark);
    }
    s->cur.input = lx_resp__custom_input(args, &s->arena);
    return ev_text(s, out, "response.custom_tool_call_input.delta", -1, "delta", s->cur.input,
                   false) == LX_OK &&
                   ev_text(s, out, "response.custom_tool_call_input.done", -1, "input",
                           s->cur.input, false) == LX_OK
               ? LX_OK
               : LX_ERR;
}

/* Closes the open item with status st: its .done events, output_item.done
 * and into the result (12 step 6). */
static int close_open(struct lx_resp_stream *s, lx_buf *out, enum lx_ir_status st)
{
    int rc = LX_OK;
    switch (s->open) {
    case OPEN_NONE:
        return LX_OK;
    case OPEN_REASONING:
        rc = close_reasoning(s, out);
        break;
    case OPEN_MESSAGE:
        rc = close_part(s, out);
        break;
    case OPEN_CALL:
        rc = close_call(s, out);
        break;
    }
    if (rc != LX_OK)
        return LX_ERR;
    s->cur.status = st;
    if (s->hook && s->hook(s->hook_data, &s->cur, &s->arena) != LX_OK)
        return LX_ERR;
    if (ev_item(s, out, "response.output_item.done", &s->cur) != LX_OK)
        return LX_ERR;
    return keep_item(s);
}

/* ---- deltas -------------------------------------------------------------------- */

static int on_reasoning(struct lx_resp_stream *s, lx_buf *out, lx_str lit)
{
    if (s->open != OPEN_REASONING && (close_open(s, out, LX_IR_STATUS_COMPLETED) != LX_OK ||
                                      open_item(s, out, OPEN_REASONING) != LX_OK))
        return LX_ERR;
    if (grow(s, &s->text, lit) != LX_OK)
        return LX_ERR;
    if (s->rmode == LX_RESP_REASONING_ITEMS)
        return LX_OK;
    return ev_text(s, out, reasoning_event(s, false), 0, "delta", lit, false);
}

static int on_message_text(struct lx_resp_stream *s, lx_buf *out, enum lx_ir_part_kind kind,
                           lx_str lit)
{
    if (s->open != OPEN_MESSAGE && (close_open(s, out, LX_IR_STATUS_COMPLETED) != LX_OK ||
                                    open_item(s, out, OPEN_MESSAGE) != LX_OK))
        return LX_ERR;
    if (s->part != (int)kind && (close_part(s, out) != LX_OK || open_part(s, out, kind) != LX_OK))
        return LX_ERR;
    if (grow(s, &s->text, lit) != LX_OK)
        return LX_ERR;
    bool refusal = kind == LX_IR_PART_REFUSAL;
    return ev_text(s, out, refusal ? "response.refusal.delta" : "response.output_text.delta",
                   (int)s->cur.nparts, "delta", lit, !refusal);
}

/* A non-empty string member of obj as a literal, or an empty view. */
static lx_str str_member(const lx_json *j, int obj, const char *key)
{
    int t = lx_json_get(j, obj, key);
    if (!lx_json_is_string(j, t) || lx_json_raw(j, t).len == 0)
        return LX_STR_NULL;
    return lx_json_value_text(j, t);
}

/* A name piece: replaces the name when it starts with the name so far
 * (llama-server re-sends a grown name whole), else is appended. */
static int on_call_name(struct lx_resp_stream *s, lx_str lit)
{
    lx_str piece = {lit.ptr + 1, lit.len - 2};
    if (s->name.len && piece.len >= s->name.len &&
        memcmp(piece.ptr, s->name.data, s->name.len) == 0)
        lx_buf_reset(&s->name);
    return lx_buf_append(&s->name, piece.ptr, piece.len);
}

static int on_tool_call(struct lx_resp_stream *s, lx_buf *out, const lx_json *j, int call)
{
    if (!lx_json_is_object(j, call))
        return LX_ERR;
    int64_t index = 0;
    int it = lx_json_get(j, call, "index");
    if (it >= 0 && lx_json_int64(j, it, &index) != LX_OK)
        return LX_ERR;
    if (s->open != OPEN_CALL || index != s->call_index) {
        if (index <= s->last_call_index)
            return LX_ERR; /* back to an earlier call (resp_stream.h) */
        if (close_open(s, out, LX_IR_STATUS_COMPLETED) != LX_OK ||
            open_item(s, out, OPEN_CALL) != LX_OK)
            return LX_ERR;
        s->call_index = s->last_call_index = index;
        s->call_added = false;
        lx_buf_reset(&s->name);
    }
    lx_str id = str_member(j, call, "id");
    if (id.len && !s->call_added && !(s->cur.call_id = keep_copy(s, id)).len)
        return LX_ERR;
    int fn = lx_json_get(j, call, "function");
    lx_str name = str_member(j, fn, "name");
    if (name.len && on_call_name(s, name) != LX_OK)
        return LX_ERR;
    lx_str args = str_member(j, fn, "arguments");
    if (!args.len)
        return LX_OK;
    if (!s->call_added && announce_call(s, out) != LX_OK)
        return LX_ERR;
    if (grow(s, &s->text, args) != LX_OK)
        return LX_ERR;
    if (s->cur.kind == LX_IR_ITEM_CUSTOM_TOOL_CALL)
        return LX_OK; /* held until the call ends (resp_stream.h) */
    return ev_text(s, out, "response.function_call_arguments.delta", -1, "delta", args, false);
}

static int on_delta(struct lx_resp_stream *s, lx_buf *out, const lx_json *j, int delta)
{
    if (!lx_json_is_object(j, delta))
        return LX_OK;
    /* llama.cpp sends reasoning_content, others reasoning (10) */
    lx_str r = str_member(j, delta, "reasoning_content");
    if (!r.len)
        r = str_member(j, delta, "reasoning");
    if (r.len && on_reasoning(s, out, r) != LX_OK)
        return LX_ERR;
    lx_str text = str_member(j, delta, "content");
    if (text.len && on_message_text(s, out, LX_IR_PART_OUTPUT_TEXT, text) != LX_OK)
        return LX_ERR;
    lx_str refusal = str_member(j, delta, "refusal");
    if (refusal.len && on_message_text(s, out, LX_IR_PART_REFUSAL, refusal) != LX_OK)
        return LX_ERR;
    int calls = lx_json_get(j, delta, "tool_calls");
    if (!lx_json_is_array(j, calls))
        return LX_OK;
    int n = lx_json_size(j, calls), i = calls + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i))
        if (on_tool_call(s, out, j, i) != LX_OK)
            return LX_ERR;
    return LX_OK;
}

static void on_finish(struct lx_resp_stream *s, const lx_json *j, int choice)
{
    int fr = lx_json_get(j, choice, "finish_reason");
    if (!lx_json_is_string(j, fr))
        return;
    s->finish_seen = true;
    if (lx_json_str_eq(j, fr, "length"))
        s->finish = LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS;
    else if (lx_json_str_eq(j, fr, "content_filter"))
        s->finish = LX_IR_INCOMPLETE_CONTENT_FILTER;
}

/* Choice 0 of the chunk, or -1. */
static int first_choice(const lx_json *j, int choices)
{
    int n = lx_json_size(j, choices), i = choices + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        int64_t index = 0;
        int t = lx_json_get(j, i, "index");
        if (lx_json_is_object(j, i) && (t < 0 || (lx_json_int64(j, t, &index) == LX_OK && !index)))
            return i;
    }
    return -1;
}

/* ---- the public functions ---------------------------------------------------- */

struct lx_resp_stream *lx_resp_stream_new(const struct lx_ir_request *req,
                                          const struct lx_resp_meta *m, const char *id_base,
                                          enum lx_resp_reasoning_events rmode)
{
    struct lx_resp_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->req = req;
    s->m = m;
    snprintf(s->id_base, sizeof(s->id_base), "%s", id_base ? id_base : "");
    s->rmode = rmode;
    s->res.status = LX_IR_RESULT_IN_PROGRESS;
    s->last_call_index = -1;
    /* what is kept: every escaped byte once more as a literal, plus items */
    lx_arena_init(&s->arena, LX_RESP_STREAM_TOTAL_CAP + (4 << 20));
    /* tokens take about 3.5 bytes per byte of chunk */
    lx_arena_init(&s->scratch, 4 * LX_RESP_STREAM_ITEM_CAP + (4 << 20));
    lx_buf_init(&s->text, LX_RESP_STREAM_ITEM_CAP);
    lx_buf_init(&s->name, 4096);
    /* a response object echoes the request and holds every item */
    lx_buf_init(&s->resp, 2 * LX_RESP_STREAM_TOTAL_CAP + (16 << 20));
    return s;
}

void lx_resp_stream_free(struct lx_resp_stream *s)
{
    if (!s)
        return;
    lx_arena_release(&s->arena);
    lx_arena_release(&s->scratch);
    lx_buf_release(&s->text);
    lx_buf_release(&s->name);
    lx_buf_release(&s->resp);
    free(s);
}

int lx_resp_stream_begin(struct lx_resp_stream *s, lx_buf *out)
{
    if (s->phase != PHASE_NEW)
        return LX_ERR;
    s->phase = PHASE_STREAMING;
    if (ev_response(s, out, "response.created", s->m) != LX_OK ||
        ev_response(s, out, "response.in_progress", s->m) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

int lx_resp_stream_chunk(struct lx_resp_stream *s, const char *json, size_t len, lx_buf *out)
{
    if (s->phase != PHASE_STREAMING)
        return LX_ERR;
    lx_arena_reset(&s->scratch);
    lx_json j;
    if (lx_json_parse(&j, json, len, &s->scratch, 64) != LX_JSON_OK || !lx_json_is_object(&j, 0))
        return LX_ERR;
    int choices = lx_json_get(&j, 0, "choices");
    int usage = lx_json_get(&j, 0, "usage");
    if (lx_json_get(&j, 0, "error") >= 0 ||
        (!lx_json_is_array(&j, choices) && !lx_json_is_object(&j, usage)))
        return LX_ERR;
    if (lx_json_is_object(&j, usage))
        lx_resp__read_usage(&s->res.usage, &j, usage);
    int choice = lx_json_is_array(&j, choices) ? first_choice(&j, choices) : -1;
    if (choice < 0)
        return LX_OK;
    if (on_delta(s, out, &j, lx_json_get(&j, choice, "delta")) != LX_OK)
        return LX_ERR;
    on_finish(s, &j, choice);
    return LX_OK;
}

int lx_resp_stream_finish(struct lx_resp_stream *s, int64_t completed_at, lx_buf *out)
{
    if (s->phase != PHASE_STREAMING)
        return LX_ERR;
    bool incomplete = s->finish != LX_IR_INCOMPLETE_NONE;
    if (close_open(s, out, incomplete ? LX_IR_STATUS_INCOMPLETE : LX_IR_STATUS_COMPLETED) != LX_OK)
        return LX_ERR;
    s->phase = PHASE_DONE;
    s->res.status = incomplete ? LX_IR_RESULT_INCOMPLETE : LX_IR_RESULT_COMPLETED;
    s->res.reason = s->finish;
    struct lx_resp_meta m = *s->m;
    m.completed_at = completed_at;
    if (ev_response(s, out, incomplete ? "response.incomplete" : "response.completed", &m) != LX_OK)
        return LX_ERR;
    return lx_buf_append_cstr(out, "data: [DONE]\n\n");
}

int lx_resp_stream_fail(struct lx_resp_stream *s, const char *code, const char *message,
                        lx_buf *out)
{
    if (s->phase == PHASE_DONE)
        return LX_ERR;
    s->phase = PHASE_DONE;
    s->open = OPEN_NONE; /* close nothing further (12 step 9) */
    code = code ? code : "server_error";
    message = message ? message : "The backend failed.";
    s->res.status = LX_IR_RESULT_FAILED;
    s->res.error_code = lx_arena_strndup(&s->arena, code, strlen(code));
    s->res.error_message = lx_arena_strndup(&s->arena, message, strlen(message));
    if (!s->res.error_code || !s->res.error_message)
        return LX_ERR;
    /* the combined form validates against both specs (6.3) */
    lx_jw w;
    size_t mark;
    ev_begin(s, out, "error", &w, &mark);
    lx_jw_key(&w, "code");
    lx_jw_cstr(&w, code);
    lx_jw_key(&w, "message");
    lx_jw_cstr(&w, message);
    lx_jw_key(&w, "param");
    lx_jw_null(&w);
    lx_jw_key(&w, "error");
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "type");
    lx_jw_cstr(&w, "server_error");
    lx_jw_key(&w, "code");
    lx_jw_cstr(&w, code);
    lx_jw_key(&w, "message");
    lx_jw_cstr(&w, message);
    lx_jw_key(&w, "param");
    lx_jw_null(&w);
    lx_jw_obj_close(&w);
    if (ev_end(s, out, &w, mark) != LX_OK || ev_response(s, out, "response.failed", s->m) != LX_OK)
        return LX_ERR;
    return lx_buf_append_cstr(out, "data: [DONE]\n\n");
}

const struct lx_ir_result *lx_resp_stream_result(const struct lx_resp_stream *s)
{
    return &s->res;
}

void lx_resp_stream_set_item_hook(struct lx_resp_stream *s, lx_resp_item_hook fn, void *data)
{
    s->hook = fn;
    s->hook_data = data;
}
