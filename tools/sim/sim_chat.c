/*
 * sim_chat.c - planning and rendering of simulated chat completions (see sim_chat.h).
 *
 * Tool choice (brief): "required" or a named function forces a call; "auto"/absent calls a
 * tool only when the last user message mentions its name (two tools when it mentions two and
 * parallel_tool_calls is not false); "none" never calls.
 */
#include "sim_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_gen.h"

#define CHAT_MAX_TOOLS 128
#define CHAT_MAX_CALLS 2
#define CHAT_REASONING_WORDS 4
#define CHAT_JSON_PIECE 8
#define CHAT_TEXT_MAX (16 * 1024 * 1024)

enum piece_kind { PIECE_REASONING, PIECE_CONTENT, PIECE_TOOL_HEAD, PIECE_TOOL_ARGS };

struct piece {
    enum piece_kind kind;
    unsigned tool;
    size_t off, len;
};

struct tool_call {
    char *name;
    char id[64];
    struct sim_buf args;
};

struct sim_chat {
    const struct sim_style *style;
    struct sim_reply reply;
    char id[64];
    char *model;
    int stream;
    int valid; /* --repairable second try: generated values meet the schema's bounds */
    struct sim_buf reasoning;
    struct sim_buf content;
    struct tool_call calls[CHAT_MAX_CALLS];
    unsigned ncalls;
    struct piece *pieces;
    size_t npieces, pieces_cap;
    const char *finish;
    struct sim_buf scratch; /* one delta or message while rendering */
    const cJSON *messages;  /* the request's, while sim_chat_new plans */
};

/* ---- reading the request ---- */

static const cJSON *member(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* Calls fn on each text of a message content (a string or an array of text parts). */
static void each_text(const cJSON *content, void (*fn)(void *, const char *), void *arg)
{
    const cJSON *part;
    if (cJSON_IsString(content)) {
        fn(arg, content->valuestring);
        return;
    }
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = member(part, "text");
        if (cJSON_IsString(text))
            fn(arg, text->valuestring);
    }
}

struct prompt_scan {
    uint64_t hash;
    long words;
};

static void scan_text(void *arg, const char *s)
{
    struct prompt_scan *ps = arg;
    size_t n = strlen(s);
    ps->hash = sim_gen_fnv1a(ps->hash, s, n + 1);
    ps->words += (long)sim_gen_count_words(s, n);
}

/* Hashes the conversation and counts its prompt tokens: words + 4 per message. */
static struct prompt_scan scan_messages(const cJSON *messages)
{
    struct prompt_scan ps = {SIM_FNV_INIT, 0};
    const cJSON *m;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = member(m, "role");
        if (cJSON_IsString(role))
            ps.hash = sim_gen_fnv1a(ps.hash, role->valuestring, strlen(role->valuestring) + 1);
        each_text(member(m, "content"), scan_text, &ps);
        ps.words += 4;
    }
    return ps;
}

static void find_invalid(void *arg, const char *s)
{
    if (strstr(s, "invalid") != NULL)
        *(int *)arg = 1;
}

/* --repairable: true when a tool or user message says "invalid" (a gateway's
 * repair request), so this answer is the model's corrected second try. */
static int is_second_try(const cJSON *messages)
{
    int found = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = member(m, "role");
        if (cJSON_IsString(role) &&
            (strcmp(role->valuestring, "tool") == 0 || strcmp(role->valuestring, "user") == 0))
            each_text(member(m, "content"), find_invalid, &found);
    }
    return found;
}

/* The completion limit the request sets, or -1. */
static long request_limit(const cJSON *req)
{
    const cJSON *v = member(req, "max_completion_tokens");
    if (!cJSON_IsNumber(v))
        v = member(req, "max_tokens");
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        return -1;
    return v->valuedouble > SIM_MAX_TOKENS ? SIM_MAX_TOKENS : (long)v->valuedouble;
}

/* ---- pieces ---- */

static int add_piece(struct sim_chat *c, enum piece_kind kind, unsigned tool, size_t off,
                     size_t len)
{
    if (c->npieces == c->pieces_cap) {
        size_t cap = c->pieces_cap ? c->pieces_cap * 2 : 32;
        struct piece *p = realloc(c->pieces, cap * sizeof(*p));
        if (p == NULL)
            return SIM_ERR;
        c->pieces = p;
        c->pieces_cap = cap;
    }
    c->pieces[c->npieces++] = (struct piece){kind, tool, off, len};
    return SIM_OK;
}

static void add_words(struct sim_chat *c, struct sim_rng *r, struct sim_buf *b,
                      enum piece_kind kind, long n)
{
    for (long i = 0; i < n; i++) {
        size_t off = b->len;
        sim_buf_puts(b, sim_gen_word(r));
        sim_buf_append(b, " ", 1);
        add_piece(c, kind, 0, off, b->len - off);
    }
}

/* Moves a split point forward so it does not cut a UTF-8 sequence. */
static size_t utf8_boundary(const char *s, size_t len, size_t at)
{
    while (at < len && ((unsigned char)s[at] & 0xc0) == 0x80)
        at++;
    return at;
}

/* Splits s[0..len) into pieces of about `each` bytes, at most `max` of them (max < 0: no cap).
 * Returns non-zero when the text was cut short. */
static int split_text(struct sim_chat *c, enum piece_kind kind, unsigned tool, const char *s,
                      size_t len, size_t each, long max)
{
    size_t off = 0;
    long n = 0;
    while (off < len) {
        if (max >= 0 && n == max)
            return 1;
        size_t end = utf8_boundary(s, len, off + each < len ? off + each : len);
        add_piece(c, kind, tool, off, end - off);
        off = end;
        n++;
    }
    return 0;
}

/* ---- deciding what to say ---- */

struct mention {
    const char *name;
    int found;
};

static void find_name(void *arg, const char *text)
{
    struct mention *m = arg;
    if (strstr(text, m->name) != NULL)
        m->found = 1;
}

/* The content of the last user message, or NULL. */
static const cJSON *last_user_content(const cJSON *messages)
{
    const cJSON *m, *found = NULL;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = member(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            found = member(m, "content");
    }
    return found;
}

static const char *tool_name(const cJSON *tool)
{
    const cJSON *name = member(member(tool, "function"), "name");
    return cJSON_IsString(name) && name->valuestring[0] != '\0' ? name->valuestring : NULL;
}

static const cJSON *find_tool(const cJSON *tools, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const char *n = tool_name(t);
        if (n != NULL && strcmp(n, name) == 0)
            return t;
    }
    return NULL;
}

/* Tools the last user message mentions, in tools order, at most max. */
static unsigned mentioned_tools(const cJSON *tools, const cJSON *content, const cJSON **out,
                                unsigned max)
{
    const cJSON *t;
    unsigned n = 0, seen = 0;
    cJSON_ArrayForEach(t, tools)
    {
        struct mention m = {tool_name(t), 0};
        if (n == max || seen++ == CHAT_MAX_TOOLS)
            break;
        if (m.name == NULL)
            continue;
        each_text(content, find_name, &m);
        if (m.found)
            out[n++] = t;
    }
    return n;
}

/* Picks the tools to call (see the file comment). *forced: a named tool absent from tools. */
static unsigned pick_tools(const cJSON *req, const cJSON **out, const char **forced)
{
    const cJSON *tools = member(req, "tools");
    const cJSON *choice = member(req, "tool_choice");
    *forced = NULL;
    if (cJSON_GetArraySize(tools) == 0 && !cJSON_IsObject(choice))
        return 0;
    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0)
        return 0;
    const cJSON *named = member(member(choice, "function"), "name");
    if (cJSON_IsString(named)) {
        out[0] = find_tool(tools, named->valuestring);
        *forced = out[0] == NULL ? named->valuestring : NULL;
        return 1;
    }
    unsigned max = cJSON_IsFalse(member(req, "parallel_tool_calls")) ? 1 : CHAT_MAX_CALLS;
    unsigned n = mentioned_tools(tools, last_user_content(member(req, "messages")), out, max);
    if (n == 0 && cJSON_IsString(choice) && strcmp(choice->valuestring, "required") == 0) {
        const cJSON *t;
        cJSON_ArrayForEach(t, tools)
        {
            if (tool_name(t) != NULL) {
                out[0] = t;
                return 1;
            }
        }
    }
    return n;
}

static void plan_call(struct sim_chat *c, struct sim_rng *r, struct sim_rng *ids, const cJSON *tool,
                      const char *name)
{
    struct tool_call *call = &c->calls[c->ncalls];
    char rnd[48];
    call->name = strdup(tool != NULL ? tool_name(tool) : name);
    sim_gen_alnum(ids, rnd, c->style->tool_id_len);
    snprintf(call->id, sizeof(call->id), "%s%s", c->style->tool_id_prefix, rnd);
    sim_buf_init(&call->args, CHAT_TEXT_MAX);
    sim_gen_schema_value(r, member(member(tool, "function"), "parameters"), &call->args, c->valid);
    add_piece(c, PIECE_TOOL_HEAD, c->ncalls, 0, 0);
    size_t len = call->args.len;
    size_t each = len >= 12 ? (len + 2) / 3 : (len + 1) / 2;
    split_text(c, PIECE_TOOL_ARGS, c->ncalls, call->args.data, len, each ? each : 1, -1);
    c->ncalls++;
}

static int plan_tools(struct sim_chat *c, struct sim_rng *r, struct sim_rng *ids, const cJSON *req)
{
    const cJSON *picked[CHAT_MAX_CALLS];
    const char *forced = NULL;
    unsigned n = pick_tools(req, picked, &forced);
    for (unsigned i = 0; i < n; i++)
        plan_call(c, r, ids, picked[i], forced);
    if (n > 0)
        c->finish = "tool_calls";
    return n > 0;
}

/* response_format json_object / json_schema: a JSON document, streamed in small pieces. */
static int plan_json(struct sim_chat *c, struct sim_rng *r, const cJSON *req, long limit)
{
    const cJSON *rf = member(req, "response_format");
    const cJSON *type = member(rf, "type");
    if (!cJSON_IsString(type))
        return 0;
    if (strcmp(type->valuestring, "json_schema") == 0) {
        sim_gen_schema_value(r, member(member(rf, "json_schema"), "schema"), &c->content, c->valid);
    } else if (strcmp(type->valuestring, "json_object") == 0) {
        const cJSON *schema = member(rf, "schema"); /* llama extension */
        if (schema != NULL) {
            sim_gen_schema_value(r, schema, &c->content, c->valid);
        } else {
            const char *a = sim_gen_word(r), *b = sim_gen_word(r);
            sim_buf_printf(&c->content, "{\"answer\":\"%s %s\"}", a, b);
        }
    } else {
        return 0;
    }
    if (split_text(c, PIECE_CONTENT, 0, c->content.data, c->content.len, CHAT_JSON_PIECE, limit)) {
        const struct piece *last = c->npieces > 0 ? &c->pieces[c->npieces - 1] : NULL;
        c->content.len = last != NULL && last->kind == PIECE_CONTENT ? last->off + last->len : 0;
        c->finish = "length";
    }
    return 1;
}

static void plan_text(struct sim_chat *c, struct sim_rng *r, long tokens, long limit)
{
    long n = tokens;
    if (limit >= 0 && limit < tokens) {
        n = limit;
        c->finish = "length";
    }
    add_words(c, r, &c->content, PIECE_CONTENT, n);
}

static void append_text(void *arg, const char *s)
{
    sim_buf_puts(arg, s);
}

/* --echo N: the text of the last user message, in pieces of N bytes (never
 * cutting a UTF-8 sequence), so tests can put chosen text in an answer. */
static void plan_echo(struct sim_chat *c, long each, long limit)
{
    each_text(last_user_content(c->messages), append_text, &c->content);
    if (split_text(c, PIECE_CONTENT, 0, c->content.data, c->content.len, (size_t)each, limit))
        c->finish = "length";
}

static void chat_set_identity(struct sim_chat *c, const struct sim_config *cfg, const cJSON *req,
                              struct sim_rng *ids)
{
    const cJSON *model = member(req, "model");
    const cJSON *opts = member(req, "stream_options");
    char rnd[48];
    c->style = cfg->style;
    c->model = strdup(cJSON_IsString(model) ? model->valuestring : cfg->models[0]);
    c->stream = cJSON_IsTrue(member(req, "stream"));
    sim_gen_alnum(ids, rnd, cfg->style->chat_id_len);
    snprintf(c->id, sizeof(c->id), "chatcmpl-%s", rnd);
    c->reply.id = c->id;
    c->reply.model = c->model != NULL ? c->model : "";
    c->reply.created = (long long)time(NULL);
    c->reply.include_usage = c->stream && cJSON_IsTrue(member(opts, "include_usage"));
}

struct sim_chat *sim_chat_new(const struct sim_config *cfg, const cJSON *req, uint64_t id_seed,
                              char *err, size_t errlen)
{
    const cJSON *messages = member(req, "messages");
    if (!cJSON_IsObject(req) || !cJSON_IsArray(messages)) {
        snprintf(err, errlen, "'messages' is required and must be an array");
        return NULL;
    }
    struct sim_chat *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct sim_rng r, ids;
    struct prompt_scan ps = scan_messages(messages);
    sim_rng_seed(&r, cfg->seed, ps.hash);
    sim_rng_seed(&ids, cfg->seed, id_seed);
    sim_buf_init(&c->reasoning, CHAT_TEXT_MAX);
    sim_buf_init(&c->content, CHAT_TEXT_MAX);
    sim_buf_init(&c->scratch, CHAT_TEXT_MAX);
    chat_set_identity(c, cfg, req, &ids);
    c->finish = "stop";
    long limit = request_limit(req);
    if (cfg->reasoning)
        add_words(c, &r, &c->reasoning, PIECE_REASONING, CHAT_REASONING_WORDS);
    c->messages = messages;
    c->valid = cfg->repairable && is_second_try(messages);
    if (!plan_tools(c, &r, &ids, req) && !plan_json(c, &r, req, limit)) {
        if (cfg->echo > 0)
            plan_echo(c, cfg->echo, limit);
        else
            plan_text(c, &r, cfg->tokens, limit);
    }
    c->messages = NULL;
    c->reply.usage.prompt_tokens = ps.words;
    c->reply.usage.completion_tokens = (long)c->npieces;
    return c;
}

void sim_chat_free(struct sim_chat *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->ncalls; i++) {
        free(c->calls[i].name);
        sim_buf_release(&c->calls[i].args);
    }
    sim_buf_release(&c->reasoning);
    sim_buf_release(&c->content);
    sim_buf_release(&c->scratch);
    free(c->pieces);
    free(c->model);
    free(c);
}

int sim_chat_is_stream(const struct sim_chat *c)
{
    return c->stream;
}

size_t sim_chat_pieces(const struct sim_chat *c)
{
    return c->npieces;
}

size_t sim_chat_frames(const struct sim_chat *c)
{
    return c->npieces + 3 + (c->reply.include_usage ? 1 : 0);
}

/* ---- rendering ---- */

static void piece_delta(const struct sim_chat *c, const struct piece *p, struct sim_buf *d)
{
    const struct tool_call *call = &c->calls[p->tool];
    switch (p->kind) {
    case PIECE_REASONING:
        sim_buf_puts(d, "{\"reasoning_content\":");
        sim_buf_json_str(d, c->reasoning.data + p->off, p->len);
        break;
    case PIECE_CONTENT:
        sim_buf_puts(d, "{\"content\":");
        sim_buf_json_str(d, c->content.data + p->off, p->len);
        break;
    case PIECE_TOOL_HEAD:
        sim_buf_printf(d,
                       "{\"tool_calls\":[{\"index\":%u,\"id\":\"%s\",\"type\":\"function\","
                       "\"function\":{\"name\":",
                       p->tool, call->id);
        sim_buf_json_str(d, call->name, strlen(call->name));
        sim_buf_puts(d, ",\"arguments\":\"\"}}]");
        break;
    case PIECE_TOOL_ARGS:
        sim_buf_printf(d, "{\"tool_calls\":[{\"index\":%u,\"function\":{\"arguments\":", p->tool);
        sim_buf_json_str(d, call->args.data + p->off, p->len);
        sim_buf_puts(d, "}}]");
        break;
    }
    sim_buf_puts(d, "}");
}

void sim_chat_frame(struct sim_chat *c, size_t i, const struct sim_timings *t, struct sim_buf *out)
{
    struct sim_buf *d = &c->scratch;
    const struct sim_style *s = c->style;
    size_t np = c->npieces;
    c->reply.timings = *t;
    sim_buf_reset(d);
    if (i == sim_chat_frames(c) - 1) {
        sim_buf_puts(out, "data: [DONE]\n\n");
        return;
    }
    sim_buf_puts(out, "data: ");
    if (i == 0) {
        s->chunk(out, &c->reply, s->first_delta, strlen(s->first_delta), NULL, 0);
    } else if (i <= np) {
        piece_delta(c, &c->pieces[i - 1], d);
        s->chunk(out, &c->reply, d->data, d->len, NULL, 0);
    } else if (i == np + 1) {
        s->chunk(out, &c->reply, "{}", 2, c->finish,
                 c->reply.include_usage ? 0 : SIM_CHUNK_TIMINGS);
    } else {
        s->usage_chunk(out, &c->reply, SIM_CHUNK_TIMINGS);
    }
    sim_buf_puts(out, "\n\n");
}

static void message_tool_calls(const struct sim_chat *c, struct sim_buf *m)
{
    sim_buf_puts(m, ",\"tool_calls\":[");
    for (unsigned i = 0; i < c->ncalls; i++) {
        const struct tool_call *call = &c->calls[i];
        sim_buf_puts(m, i > 0 ? ",{\"type\":\"function\",\"function\":{\"name\":"
                              : "{\"type\":\"function\",\"function\":{\"name\":");
        sim_buf_json_str(m, call->name, strlen(call->name));
        sim_buf_puts(m, ",\"arguments\":");
        sim_buf_json_str(m, call->args.data != NULL ? call->args.data : "", call->args.len);
        sim_buf_printf(m, "},\"id\":\"%s\"}", call->id);
    }
    sim_buf_puts(m, "]");
}

void sim_chat_full(struct sim_chat *c, const struct sim_timings *t, struct sim_buf *out)
{
    struct sim_buf *m = &c->scratch;
    c->reply.timings = *t;
    sim_buf_reset(m);
    sim_buf_puts(m, "{\"role\":\"assistant\",\"content\":");
    if (c->ncalls > 0 && c->content.len == 0)
        sim_buf_puts(m, c->style->tools_only_content);
    else
        sim_buf_json_str(m, c->content.data != NULL ? c->content.data : "", c->content.len);
    if (c->reasoning.len > 0) {
        sim_buf_puts(m, ",\"reasoning_content\":");
        sim_buf_json_str(m, c->reasoning.data, c->reasoning.len);
    }
    if (c->ncalls > 0)
        message_tool_calls(c, m);
    sim_buf_puts(m, c->style->message_extra);
    sim_buf_puts(m, "}");
    c->style->completion(out, &c->reply, m->data, m->len, c->finish);
}
