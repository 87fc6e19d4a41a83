/*
 * redact_chat.c — see redact_chat.h.
 *
 * One splicer serves the three shapes: it copies the source up to a string
 * that changed, writes the new string, and remembers where it left off, so
 * the edits must come in document order. Objects are therefore walked key
 * by key as they appear (a message may put tool_calls before content).
 */
#include "redact_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"

#define NAME_COPY_MAX 256 /* bytes of a chunk's id/model kept for the end chunk */

/* A buffer's bytes as a view that is never NULL. */
static lx_str view(const lx_buf *b)
{
    return (lx_str){b->data ? b->data : "", b->len};
}

/* The splicer: src copied to out, with replacements, front to back. */
struct splice {
    const lx_json *j;
    lx_buf *out;
    size_t done; /* src bytes handled so far */
    lx_redact_ctx *redact, *restore;
    lx_buf text, mid, res; /* unescaped text, redacted, restored */
};

static void splice_init(struct splice *sp, const lx_json *j, lx_buf *out, lx_redact_ctx *redact,
                        lx_redact_ctx *restore)
{
    /* a replacement may be much longer than a short value: "[REDACTED:X]" */
    size_t cap = j->len * 16 + 4096;
    *sp = (struct splice){.j = j, .out = out, .redact = redact, .restore = restore};
    lx_buf_init(&sp->text, j->len + 1);
    lx_buf_init(&sp->mid, cap);
    lx_buf_init(&sp->res, cap);
}

static void splice_release(struct splice *sp)
{
    lx_buf_release(&sp->text);
    lx_buf_release(&sp->mid);
    lx_buf_release(&sp->res);
}

/* Copies src up to at. */
static int copy_to(struct splice *sp, size_t at)
{
    int rc = lx_buf_append(sp->out, sp->j->src + sp->done, at - sp->done);
    sp->done = at;
    return rc;
}

/* Replaces the inside of string token i (between its quotes) by text. */
static int replace_inside(struct splice *sp, int i, lx_str text)
{
    if (copy_to(sp, (size_t)sp->j->tok[i].start) != LX_OK ||
        lx_json_escape(sp->out, text.ptr, text.len) != LX_OK)
        return LX_ERR;
    sp->done = (size_t)sp->j->tok[i].end;
    return LX_OK;
}

/* Redacts and/or restores text into sp->res; returns its view. */
static int transform(struct splice *sp, lx_str text, lx_str *result)
{
    lx_buf_reset(&sp->mid);
    lx_buf_reset(&sp->res);
    if (sp->redact) {
        if (lx_redact_text(sp->redact, text, &sp->mid) != LX_OK)
            return LX_ERR;
        text = view(&sp->mid);
    }
    if (sp->restore) {
        if (lx_redact_restore(sp->restore, text, &sp->res) != LX_OK)
            return LX_ERR;
        text = view(&sp->res);
    }
    *result = text;
    return LX_OK;
}

/* Rewrites string token i when its text changes; other tokens are left. */
static int rewrite_string(struct splice *sp, int i)
{
    if (i < 0 || !lx_json_is_string(sp->j, i))
        return LX_OK;
    lx_str result;
    lx_buf_reset(&sp->text);
    if (lx_json_unescape(sp->j, i, &sp->text) != LX_OK ||
        transform(sp, view(&sp->text), &result) != LX_OK)
        return LX_ERR;
    if (lx_str_eq(result, view(&sp->text)))
        return LX_OK;
    return replace_inside(sp, i, result);
}

/* The string "arguments" of each element of a tool_calls array. */
static int rewrite_tool_calls(struct splice *sp, int calls)
{
    const lx_json *j = sp->j;
    if (!lx_json_is_array(j, calls))
        return LX_OK;
    int n = lx_json_size(j, calls), c = calls + 1;
    for (int k = 0; k < n; k++, c = lx_json_skip(j, c)) {
        int fn = lx_json_is_object(j, c) ? lx_json_get(j, c, "function") : -1;
        if (fn >= 0 && lx_json_is_object(j, fn) &&
            rewrite_string(sp, lx_json_get(j, fn, "arguments")) != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

/* content: a string, or an array of parts with a string "text". */
static int rewrite_content(struct splice *sp, int content)
{
    const lx_json *j = sp->j;
    if (!lx_json_is_array(j, content))
        return rewrite_string(sp, content);
    int n = lx_json_size(j, content), p = content + 1;
    for (int k = 0; k < n; k++, p = lx_json_skip(j, p))
        if (lx_json_is_object(j, p) && rewrite_string(sp, lx_json_get(j, p, "text")) != LX_OK)
            return LX_ERR;
    return LX_OK;
}

/* A message (request) or choices[].message (response), key by key. */
static int rewrite_message(struct splice *sp, int msg)
{
    const lx_json *j = sp->j;
    if (!lx_json_is_object(j, msg))
        return LX_OK;
    int n = lx_json_size(j, msg), k = msg + 1;
    for (int m = 0; m < n; m++, k = lx_json_skip(j, k + 1)) {
        lx_str key = lx_json_raw(j, k);
        int rc = lx_str_eq_cstr(key, "content")      ? rewrite_content(sp, k + 1)
                 : lx_str_eq_cstr(key, "tool_calls") ? rewrite_tool_calls(sp, k + 1)
                                                     : LX_OK;
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

/* Runs rewrite_message over the elements of root[array_key] (or their
 * member), then copies the rest. */
static int rewrite_parsed(lx_redact_ctx *redact, lx_redact_ctx *restore, const lx_json *j,
                          lx_buf *out, const char *array_key, const char *member)
{
    if (j->ntok < 1 || !lx_json_is_object(j, 0))
        return LX_ERR;
    struct splice sp;
    splice_init(&sp, j, out, redact, restore);
    int rc = LX_OK, arr = lx_json_get(j, 0, array_key);
    if (arr >= 0 && lx_json_is_array(j, arr)) {
        int n = lx_json_size(j, arr), e = arr + 1;
        for (int k = 0; k < n && rc == LX_OK; k++, e = lx_json_skip(j, e)) {
            int msg = member ? (lx_json_is_object(j, e) ? lx_json_get(j, e, member) : -1) : e;
            if (msg >= 0)
                rc = rewrite_message(&sp, msg);
        }
    }
    if (rc == LX_OK)
        rc = copy_to(&sp, j->len);
    splice_release(&sp);
    return rc;
}

static int rewrite_document(lx_redact_ctx *redact, lx_redact_ctx *restore, const char *body,
                            size_t len, lx_arena *scratch, uint32_t max_depth, lx_buf *out,
                            const char *array_key, const char *member)
{
    lx_json j;
    if (lx_json_parse(&j, body, len, scratch, max_depth) != LX_JSON_OK)
        return LX_ERR;
    return rewrite_parsed(redact, restore, &j, out, array_key, member);
}

int lx_redact_chat_request(lx_redact_ctx *ctx, const char *body, size_t len, lx_arena *scratch,
                           uint32_t max_depth, lx_buf *out)
{
    return rewrite_document(ctx, NULL, body, len, scratch, max_depth, out, "messages", NULL);
}

int lx_redact_chat_request_parsed(lx_redact_ctx *ctx, const lx_json *req, lx_buf *out)
{
    return rewrite_parsed(ctx, NULL, req, out, "messages", NULL);
}

int lx_redact_chat_response(lx_redact_ctx *redact, lx_redact_ctx *restore, const char *body,
                            size_t len, lx_arena *scratch, uint32_t max_depth, lx_buf *out)
{
    return rewrite_document(redact, restore, body, len, scratch, max_depth, out, "choices",
                            "message");
}

/* ---- streams ------------------------------------------------------------- */

/* One text's pipeline (a choice's content, or one tool call's arguments):
 * redaction, then restoration, each with its hold-back, and what the
 * current chunk decided. */
struct pipe {
    lx_redact_stream *redact, *restore;
    lx_buf decided;
    bool open, changed; /* changed: decided differs from the chunk's text */
};

struct choice {
    struct pipe content;
    struct pipe *tools[LX_REDACT_CHAT_MAX_TOOLS]; /* by tool_calls[].index, made on use */
};

struct lx_redact_chat_stream {
    lx_redact_ctx *redact, *restore;
    struct choice ch[LX_REDACT_CHAT_MAX_CHOICES];
    lx_buf text, mid;
    /* the last chunk's "id", "model" (raw JSON values) and "created" */
    char id[NAME_COPY_MAX], model[NAME_COPY_MAX], created[32];
    bool failed;
};

enum { TEXT_CAP = 64u << 20 }; /* one chunk's text; the sets cap it further */

lx_redact_chat_stream *lx_redact_chat_stream_new(lx_redact_ctx *redact, lx_redact_ctx *restore)
{
    lx_redact_chat_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->redact = redact;
    s->restore = restore;
    lx_buf_init(&s->text, TEXT_CAP);
    lx_buf_init(&s->mid, TEXT_CAP);
    return s;
}

static void pipe_release(struct pipe *p)
{
    lx_redact_stream_free(p->redact);
    lx_redact_stream_free(p->restore);
    lx_buf_release(&p->decided);
}

void lx_redact_chat_stream_free(lx_redact_chat_stream *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < LX_REDACT_CHAT_MAX_CHOICES; i++) {
        pipe_release(&s->ch[i].content);
        for (size_t k = 0; k < LX_REDACT_CHAT_MAX_TOOLS; k++) {
            if (s->ch[i].tools[k])
                pipe_release(s->ch[i].tools[k]);
            free(s->ch[i].tools[k]);
        }
    }
    lx_buf_release(&s->text);
    lx_buf_release(&s->mid);
    free(s);
}

static int pipe_open(lx_redact_chat_stream *s, struct pipe *p)
{
    if (p->open)
        return LX_OK;
    p->open = true;
    lx_buf_init(&p->decided, TEXT_CAP);
    if (s->redact && !(p->redact = lx_redact_stream_new(s->redact, false)))
        return LX_ERR;
    if (s->restore && !(p->restore = lx_redact_stream_new(s->restore, true)))
        return LX_ERR;
    return LX_OK;
}

/* Runs text through the pipeline (flushing it when finish) into p->decided. */
static int pipe_feed(lx_redact_chat_stream *s, struct pipe *p, lx_str text, bool finish)
{
    if (pipe_open(s, p) != LX_OK)
        return LX_ERR;
    lx_buf_reset(&s->mid);
    lx_buf_reset(&p->decided);
    if (p->redact) {
        if (lx_redact_stream_feed(p->redact, text, &s->mid) != LX_OK ||
            (finish && lx_redact_stream_flush(p->redact, &s->mid) != LX_OK))
            return LX_ERR;
    } else if (lx_buf_append_str(&s->mid, text) != LX_OK) {
        return LX_ERR;
    }
    if (p->restore) {
        if (lx_redact_stream_feed(p->restore, view(&s->mid), &p->decided) != LX_OK ||
            (finish && lx_redact_stream_flush(p->restore, &p->decided) != LX_OK))
            return LX_ERR;
    } else if (lx_buf_append_str(&p->decided, view(&s->mid)) != LX_OK) {
        return LX_ERR;
    }
    p->changed = !lx_str_eq(view(&p->decided), text);
    return LX_OK;
}

/* Feeds string token i (or nothing when i is not a string) to p. */
static int pipe_feed_token(lx_redact_chat_stream *s, struct pipe *p, const lx_json *j, int i,
                           bool finish)
{
    lx_buf_reset(&s->text);
    if (i >= 0 && lx_json_is_string(j, i) && lx_json_unescape(j, i, &s->text) != LX_OK)
        return LX_ERR;
    return pipe_feed(s, p, view(&s->text), finish);
}

/* Copies the raw value of root[key] (a string with quotes, or a number)
 * into dst when it fits. */
static void remember(const lx_json *j, const char *key, char *dst, size_t n)
{
    int v = lx_json_get(j, 0, key);
    if (v < 0)
        return;
    lx_str t = lx_json_value_text(j, v);
    if (t.len < n) {
        memcpy(dst, t.ptr, t.len);
        dst[t.len] = '\0';
    }
}

/* What one choice object of a chunk holds. */
struct chunk_choice {
    int64_t index;
    int delta, content, tool_calls; /* tokens, -1 when absent */
    bool finish;
    bool extra[LX_REDACT_CHAT_MAX_TOOLS]; /* a tool call's held text, with no element here */
    bool any_extra;
};

static void read_choice(const lx_json *j, int obj, int64_t pos, struct chunk_choice *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->index = pos;
    cc->delta = cc->content = cc->tool_calls = -1;
    int idx = lx_json_get(j, obj, "index");
    if (idx >= 0)
        lx_json_int64(j, idx, &cc->index);
    int fr = lx_json_get(j, obj, "finish_reason");
    cc->finish = fr >= 0 && !lx_json_is_null(j, fr);
    int d = lx_json_get(j, obj, "delta");
    if (d < 0 || !lx_json_is_object(j, d))
        return;
    cc->delta = d;
    cc->content = lx_json_get(j, d, "content");
    cc->tool_calls = lx_json_get(j, d, "tool_calls");
    if (cc->tool_calls >= 0 && !lx_json_is_array(j, cc->tool_calls))
        cc->tool_calls = -1;
}

/* The tool_calls[].index of element e (its position k when absent), and
 * its arguments token (-1). */
static int64_t tool_index(const lx_json *j, int e, int k, int *args)
{
    int64_t index = k;
    *args = -1;
    if (!lx_json_is_object(j, e))
        return index;
    int idx = lx_json_get(j, e, "index");
    if (idx >= 0)
        lx_json_int64(j, idx, &index);
    int fn = lx_json_get(j, e, "function");
    if (fn >= 0 && lx_json_is_object(j, fn))
        *args = lx_json_get(j, fn, "arguments");
    return index;
}

static struct pipe *tool_pipe(struct choice *c, int64_t index)
{
    if (index < 0 || index >= LX_REDACT_CHAT_MAX_TOOLS)
        return NULL;
    if (c->tools[index] == NULL)
        c->tools[index] = calloc(1, sizeof(struct pipe));
    return c->tools[index];
}

/* Runs every text of the choice through its pipeline; on finish, also
 * flushes the tool calls this chunk does not mention (cc->extra). */
static int feed_choice(lx_redact_chat_stream *s, const lx_json *j, struct choice *c,
                       struct chunk_choice *cc)
{
    bool seen[LX_REDACT_CHAT_MAX_TOOLS] = {false};
    if (pipe_feed_token(s, &c->content, j, cc->content, cc->finish) != LX_OK)
        return LX_ERR;
    if (cc->tool_calls >= 0) {
        int n = lx_json_size(j, cc->tool_calls), e = cc->tool_calls + 1, args;
        for (int k = 0; k < n; k++, e = lx_json_skip(j, e)) {
            int64_t ix = tool_index(j, e, k, &args);
            struct pipe *p = tool_pipe(c, ix);
            /* one element per call and chunk: a pipe decides one text per chunk */
            if (p == NULL || seen[ix])
                return LX_ERR;
            if (args < 0)
                continue; /* held text, if any, goes in as an extra element */
            seen[ix] = true;
            if (pipe_feed_token(s, p, j, args, cc->finish) != LX_OK)
                return LX_ERR;
        }
    }
    for (int i = 0; cc->finish && i < LX_REDACT_CHAT_MAX_TOOLS; i++) {
        struct pipe *p = c->tools[i];
        if (p == NULL || seen[i] || pipe_feed(s, p, LX_STR_LIT(""), true) != LX_OK)
            continue;
        cc->extra[i] = p->decided.len > 0;
        cc->any_extra |= cc->extra[i];
    }
    return LX_OK;
}

static int write_quoted(lx_buf *out, const lx_buf *text)
{
    if (lx_buf_append_char(out, '"') != LX_OK || lx_json_escape(out, text->data, text->len) ||
        lx_buf_append_char(out, '"') != LX_OK)
        return LX_ERR;
    return LX_OK;
}

/* The held tool-call texts as array elements, comma-separated. */
static int write_extras(lx_buf *out, const struct choice *c, const struct chunk_choice *cc)
{
    bool first = true;
    for (int i = 0; i < LX_REDACT_CHAT_MAX_TOOLS; i++) {
        if (!cc->extra[i])
            continue;
        if ((!first && lx_buf_append_char(out, ',') != LX_OK) ||
            lx_buf_printf(out, "{\"index\":%d,\"function\":{\"arguments\":", i) != LX_OK ||
            write_quoted(out, &c->tools[i]->decided) != LX_OK ||
            lx_buf_append_cstr(out, "}}") != LX_OK)
            return LX_ERR;
        first = false;
    }
    return LX_OK;
}

/* At the start of the delta object: the keys the chunk lacks but the
 * decided text needs. */
static int write_delta_head(struct splice *sp, const struct choice *c,
                            const struct chunk_choice *cc)
{
    const lx_json *j = sp->j;
    bool content = cc->content < 0 && c->content.decided.len > 0;
    bool tools = cc->tool_calls < 0 && cc->any_extra;
    if (!content && !tools)
        return LX_OK;
    if (copy_to(sp, (size_t)j->tok[cc->delta].start + 1) != LX_OK)
        return LX_ERR;
    if (content && (lx_buf_append_cstr(sp->out, "\"content\":") != LX_OK ||
                    write_quoted(sp->out, &c->content.decided) != LX_OK))
        return LX_ERR;
    if (tools && ((content && lx_buf_append_char(sp->out, ',') != LX_OK) ||
                  lx_buf_append_cstr(sp->out, "\"tool_calls\":[") != LX_OK ||
                  write_extras(sp->out, c, cc) != LX_OK || lx_buf_append_char(sp->out, ']')))
        return LX_ERR;
    if (lx_json_size(j, cc->delta) > 0)
        return lx_buf_append_char(sp->out, ',');
    return LX_OK;
}

/* Writes a decided text over token i: inside a string, or in place of a
 * null (or other) value. */
static int write_over(struct splice *sp, int i, const struct pipe *p)
{
    const lx_json *j = sp->j;
    if (lx_json_is_string(j, i))
        return p->changed ? replace_inside(sp, i, view(&p->decided)) : LX_OK;
    if (p->decided.len == 0)
        return LX_OK;
    lx_str v = lx_json_value_text(j, i);
    if (copy_to(sp, (size_t)(v.ptr - j->src)) != LX_OK)
        return LX_ERR;
    sp->done = (size_t)(v.ptr - j->src) + v.len;
    return write_quoted(sp->out, &p->decided);
}

static int write_tool_calls(struct splice *sp, const struct choice *c,
                            const struct chunk_choice *cc)
{
    const lx_json *j = sp->j;
    int arr = cc->tool_calls, n = lx_json_size(j, arr), e = arr + 1, args;
    if (cc->any_extra) {
        if (copy_to(sp, (size_t)j->tok[arr].start + 1) != LX_OK ||
            write_extras(sp->out, c, cc) != LX_OK ||
            (n > 0 && lx_buf_append_char(sp->out, ',') != LX_OK))
            return LX_ERR;
    }
    for (int k = 0; k < n; k++, e = lx_json_skip(j, e)) {
        int64_t ix = tool_index(j, e, k, &args);
        if (args >= 0 && write_over(sp, args, c->tools[ix]) != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

/* Writes the decided texts into the delta, in document order. */
static int write_choice(struct splice *sp, const struct choice *c, const struct chunk_choice *cc)
{
    const lx_json *j = sp->j;
    if (write_delta_head(sp, c, cc) != LX_OK)
        return LX_ERR;
    int n = lx_json_size(j, cc->delta), k = cc->delta + 1;
    for (int m = 0; m < n; m++, k = lx_json_skip(j, k + 1)) {
        int rc = k + 1 == cc->content      ? write_over(sp, cc->content, &c->content)
                 : k + 1 == cc->tool_calls ? write_tool_calls(sp, c, cc)
                                           : LX_OK;
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int rewrite_choice(lx_redact_chat_stream *s, struct splice *sp, struct chunk_choice *cc)
{
    if (cc->index < 0 || cc->index >= LX_REDACT_CHAT_MAX_CHOICES)
        return LX_ERR;
    struct choice *c = &s->ch[cc->index];
    if (feed_choice(s, sp->j, c, cc) != LX_OK)
        return LX_ERR;
    if (cc->delta < 0) /* text with nowhere to go */
        return c->content.decided.len == 0 && !cc->any_extra ? LX_OK : LX_ERR;
    return write_choice(sp, c, cc);
}

int lx_redact_chat_stream_chunk(lx_redact_chat_stream *s, lx_str data, lx_arena *scratch,
                                uint32_t max_depth, lx_buf *out)
{
    lx_json j;
    if (s->failed || lx_json_parse(&j, data.ptr, data.len, scratch, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        goto failed;
    remember(&j, "id", s->id, sizeof(s->id));
    remember(&j, "model", s->model, sizeof(s->model));
    remember(&j, "created", s->created, sizeof(s->created));
    struct splice sp;
    splice_init(&sp, &j, out, NULL, NULL);
    int rc = LX_OK, arr = lx_json_get(&j, 0, "choices");
    if (arr >= 0 && lx_json_is_array(&j, arr)) {
        int n = lx_json_size(&j, arr), e = arr + 1;
        for (int k = 0; k < n && rc == LX_OK; k++, e = lx_json_skip(&j, e)) {
            struct chunk_choice cc;
            if (!lx_json_is_object(&j, e))
                continue;
            read_choice(&j, e, k, &cc);
            rc = rewrite_choice(s, &sp, &cc);
        }
    }
    if (rc == LX_OK)
        rc = copy_to(&sp, data.len);
    splice_release(&sp);
    if (rc == LX_OK)
        return LX_OK;
failed:
    s->failed = true;
    return LX_ERR;
}

/* The held texts of choice i as one choices[] element (nothing when none). */
static int end_choice(lx_redact_chat_stream *s, int i, bool *any, lx_buf *out)
{
    struct choice *c = &s->ch[i];
    struct chunk_choice cc = {.finish = true};
    if (c->content.open && pipe_feed(s, &c->content, LX_STR_LIT(""), true) != LX_OK)
        return LX_ERR;
    for (int k = 0; k < LX_REDACT_CHAT_MAX_TOOLS; k++) {
        if (c->tools[k] == NULL || pipe_feed(s, c->tools[k], LX_STR_LIT(""), true) != LX_OK)
            continue;
        cc.extra[k] = c->tools[k]->decided.len > 0;
        cc.any_extra |= cc.extra[k];
    }
    bool content = c->content.open && c->content.decided.len > 0;
    if (!content && !cc.any_extra)
        return LX_OK;
    int rc = LX_OK;
    if (!*any) {
        rc |= lx_buf_append_cstr(out, "{");
        if (s->id[0])
            rc |= lx_buf_printf(out, "\"id\":%s,", s->id);
        rc |= lx_buf_append_cstr(out, "\"object\":\"chat.completion.chunk\",");
        if (s->created[0])
            rc |= lx_buf_printf(out, "\"created\":%s,", s->created);
        if (s->model[0])
            rc |= lx_buf_printf(out, "\"model\":%s,", s->model);
        rc |= lx_buf_append_cstr(out, "\"choices\":[");
    } else {
        rc |= lx_buf_append_char(out, ',');
    }
    *any = true;
    rc |= lx_buf_printf(out, "{\"index\":%d,\"delta\":{", i);
    if (content) {
        rc |= lx_buf_append_cstr(out, "\"content\":");
        rc |= write_quoted(out, &c->content.decided);
    }
    if (cc.any_extra) {
        rc |= lx_buf_append_cstr(out, content ? ",\"tool_calls\":[" : "\"tool_calls\":[");
        rc |= write_extras(out, c, &cc);
        rc |= lx_buf_append_char(out, ']');
    }
    rc |= lx_buf_append_cstr(out, "},\"finish_reason\":null}");
    return rc == LX_OK ? LX_OK : LX_ERR;
}

int lx_redact_chat_stream_end(lx_redact_chat_stream *s, lx_buf *out)
{
    bool any = false;
    if (s->failed)
        return LX_ERR;
    for (int i = 0; i < LX_REDACT_CHAT_MAX_CHOICES; i++)
        if (end_choice(s, i, &any, out) != LX_OK)
            return LX_ERR;
    if (any && lx_buf_append_cstr(out, "]}") != LX_OK)
        return LX_ERR;
    return LX_OK;
}
