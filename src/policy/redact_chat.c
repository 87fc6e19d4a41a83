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

/* One choice's pipeline: redaction, then restoration, each with hold-back. */
struct choice {
    lx_redact_stream *redact, *restore;
    bool used;
};

struct lx_redact_chat_stream {
    lx_redact_ctx *redact, *restore;
    struct choice ch[LX_REDACT_CHAT_MAX_CHOICES];
    lx_buf text, mid, res;
    /* the last chunk's "id", "model" (raw JSON values) and "created" */
    char id[NAME_COPY_MAX], model[NAME_COPY_MAX], created[32];
    bool failed;
};

lx_redact_chat_stream *lx_redact_chat_stream_new(lx_redact_ctx *redact, lx_redact_ctx *restore)
{
    lx_redact_chat_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->redact = redact;
    s->restore = restore;
    size_t cap = 64u << 20; /* each holds one chunk's text; the sets cap it further */
    lx_buf_init(&s->text, cap);
    lx_buf_init(&s->mid, cap);
    lx_buf_init(&s->res, cap);
    return s;
}

void lx_redact_chat_stream_free(lx_redact_chat_stream *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < LX_REDACT_CHAT_MAX_CHOICES; i++) {
        lx_redact_stream_free(s->ch[i].redact);
        lx_redact_stream_free(s->ch[i].restore);
    }
    lx_buf_release(&s->text);
    lx_buf_release(&s->mid);
    lx_buf_release(&s->res);
    free(s);
}

static struct choice *choice_at(lx_redact_chat_stream *s, int64_t index)
{
    if (index < 0 || index >= LX_REDACT_CHAT_MAX_CHOICES)
        return NULL;
    struct choice *c = &s->ch[index];
    if (!c->used) {
        c->used = true;
        if (s->redact && !(c->redact = lx_redact_stream_new(s->redact, false)))
            return NULL;
        if (s->restore && !(c->restore = lx_redact_stream_new(s->restore, true)))
            return NULL;
    }
    return c;
}

/* Runs text through the choice's pipeline (flushing it at the end when
 * finish) and leaves the decided text in s->res. */
static int choice_feed(lx_redact_chat_stream *s, struct choice *c, lx_str text, bool finish)
{
    lx_buf_reset(&s->mid);
    lx_buf_reset(&s->res);
    lx_buf *stage = &s->mid;
    if (c->redact) {
        if (lx_redact_stream_feed(c->redact, text, &s->mid) != LX_OK ||
            (finish && lx_redact_stream_flush(c->redact, &s->mid) != LX_OK))
            return LX_ERR;
    } else if (lx_buf_append_str(&s->mid, text) != LX_OK) {
        return LX_ERR;
    }
    if (c->restore) {
        if (lx_redact_stream_feed(c->restore, view(stage), &s->res) != LX_OK ||
            (finish && lx_redact_stream_flush(c->restore, &s->res) != LX_OK))
            return LX_ERR;
    } else if (lx_buf_append_str(&s->res, view(stage)) != LX_OK) {
        return LX_ERR;
    }
    return LX_OK;
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
    int delta, content; /* tokens, -1 when absent */
    bool finish;
};

static void read_choice(const lx_json *j, int obj, int64_t pos, struct chunk_choice *cc)
{
    *cc = (struct chunk_choice){pos, -1, -1, false};
    int idx = lx_json_get(j, obj, "index");
    if (idx >= 0)
        lx_json_int64(j, idx, &cc->index);
    int fr = lx_json_get(j, obj, "finish_reason");
    cc->finish = fr >= 0 && !lx_json_is_null(j, fr);
    cc->delta = lx_json_get(j, obj, "delta");
    if (cc->delta >= 0 && lx_json_is_object(j, cc->delta))
        cc->content = lx_json_get(j, cc->delta, "content");
    else
        cc->delta = -1;
}

/* Writes the decided text of one choice into its delta: over the content
 * string, over a null content, or as a new first key. */
static int write_choice(struct splice *sp, const struct chunk_choice *cc, lx_str text,
                        lx_str original)
{
    const lx_json *j = sp->j;
    if (cc->content >= 0 && lx_json_is_string(j, cc->content))
        return lx_str_eq(text, original) ? LX_OK : replace_inside(sp, cc->content, text);
    if (text.len == 0)
        return LX_OK;
    if (cc->content >= 0) { /* null or another type: the text takes its place */
        lx_str v = lx_json_value_text(j, cc->content);
        if (copy_to(sp, (size_t)(v.ptr - j->src)) != LX_OK)
            return LX_ERR;
        sp->done = (size_t)(v.ptr - j->src) + v.len;
    } else {
        if (copy_to(sp, (size_t)j->tok[cc->delta].start + 1) != LX_OK ||
            lx_buf_append_cstr(sp->out, "\"content\":") != LX_OK)
            return LX_ERR;
    }
    if (lx_buf_append_char(sp->out, '"') != LX_OK ||
        lx_json_escape(sp->out, text.ptr, text.len) != LX_OK ||
        lx_buf_append_char(sp->out, '"') != LX_OK)
        return LX_ERR;
    if (cc->content < 0 && lx_json_size(j, cc->delta) > 0)
        return lx_buf_append_char(sp->out, ',');
    return LX_OK;
}

static int rewrite_choice(lx_redact_chat_stream *s, struct splice *sp,
                          const struct chunk_choice *cc)
{
    const lx_json *j = sp->j;
    struct choice *c = choice_at(s, cc->index);
    if (c == NULL)
        return LX_ERR;
    lx_buf_reset(&s->text);
    if (cc->content >= 0 && lx_json_is_string(j, cc->content) &&
        lx_json_unescape(j, cc->content, &s->text) != LX_OK)
        return LX_ERR;
    if (choice_feed(s, c, view(&s->text), cc->finish) != LX_OK)
        return LX_ERR;
    if (cc->delta < 0)
        return s->res.len == 0 ? LX_OK : LX_ERR; /* text with nowhere to go */
    return write_choice(sp, cc, view(&s->res), view(&s->text));
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

int lx_redact_chat_stream_end(lx_redact_chat_stream *s, lx_buf *out)
{
    bool any = false;
    if (s->failed)
        return LX_ERR;
    for (int i = 0; i < LX_REDACT_CHAT_MAX_CHOICES; i++) {
        struct choice *c = &s->ch[i];
        if (!c->used || choice_feed(s, c, LX_STR_LIT(""), true) != LX_OK)
            continue;
        if (s->res.len == 0)
            continue;
        int rc = LX_OK;
        if (!any) {
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
        any = true;
        rc |= lx_buf_printf(out, "{\"index\":%d,\"delta\":{\"content\":\"", i);
        rc |= lx_json_escape(out, s->res.data, s->res.len);
        rc |= lx_buf_append_cstr(out, "\"},\"finish_reason\":null}");
        if (rc != LX_OK)
            return LX_ERR;
    }
    if (any && lx_buf_append_cstr(out, "]}") != LX_OK)
        return LX_ERR;
    return LX_OK;
}
