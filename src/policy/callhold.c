/*
 * callhold.c — holding a chat stream's tool calls until they are complete
 * (see callhold.h).
 *
 * Held chunks are records in one buffer: a 4-byte length, then the bytes.
 * release_upto counts the records that the last completion let go.
 */
#include "callhold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call {
    char name[LX_CALLHOLD_NAME_MAX];
    char id[LX_CALLHOLD_ID_MAX];
    lx_buf args;
    bool seen, done;
};

struct lx_callhold {
    size_t cap, used; /* used: held records + argument texts + content */
    bool hold, want_content;
    lx_buf held;
    uint32_t n_held, release_upto;
    int active; /* the call in progress, -1 when none */
    struct call calls[LX_CALLHOLD_MAX_CALLS];
    lx_buf content;
    bool content_seen, content_passed, finished;
    int done[LX_CALLHOLD_MAX_CALLS + 1]; /* what the last step completed: an index, -1 content */
    size_t n_done;
    uint32_t released_calls;
};

struct lx_callhold *lx_callhold_new(size_t cap, bool hold, bool content)
{
    struct lx_callhold *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->cap = cap;
    h->hold = hold;
    h->want_content = content;
    h->active = -1;
    lx_buf_init(&h->held, cap);
    lx_buf_init(&h->content, cap);
    for (size_t i = 0; i < LX_CALLHOLD_MAX_CALLS; i++)
        lx_buf_init(&h->calls[i].args, cap);
    return h;
}

void lx_callhold_free(struct lx_callhold *h)
{
    if (h == NULL)
        return;
    lx_buf_release(&h->held);
    lx_buf_release(&h->content);
    for (size_t i = 0; i < LX_CALLHOLD_MAX_CALLS; i++)
        lx_buf_release(&h->calls[i].args);
    free(h);
}

/* Counts n more bytes against the cap. */
static bool charge(struct lx_callhold *h, size_t n)
{
    if (n > h->cap - h->used)
        return false;
    h->used += n;
    return true;
}

static void complete_call(struct lx_callhold *h, int i)
{
    if (i < 0 || h->calls[i].done)
        return;
    h->calls[i].done = true;
    h->done[h->n_done++] = i;
}

static void complete_content(struct lx_callhold *h)
{
    if (!h->want_content || h->finished)
        return;
    h->done[h->n_done++] = -1;
}

static int read_index(const lx_json *j, int tok, int fallback)
{
    if (tok < 0)
        return fallback;
    int64_t v;
    if (lx_json_int64(j, tok, &v) != LX_OK || v < 0 || v >= LX_CALLHOLD_MAX_CALLS)
        return -2;
    return (int)v;
}

static void copy_string(const lx_json *j, int tok, char *out, size_t cap)
{
    if (tok < 0 || !lx_json_is_string(j, tok))
        return;
    lx_str s = lx_json_raw(j, tok);
    snprintf(out, cap, "%.*s", (int)LX_MIN(s.len, cap - 1), s.ptr);
}

/* One element of delta.tool_calls. *before is set when it started another
 * call while one was in progress (that one is complete). */
static enum lx_callhold_step tool_delta(struct lx_callhold *h, const lx_json *j, int tc,
                                        bool *before)
{
    if (!lx_json_is_object(j, tc))
        return LX_CALLHOLD_ERROR;
    int i = read_index(j, lx_json_get(j, tc, "index"), h->active >= 0 ? h->active : 0);
    if (i < 0)
        return LX_CALLHOLD_ERROR;
    if (i != h->active) {
        if (h->active >= 0) {
            complete_call(h, h->active);
            *before = true;
        }
        h->active = i;
    }
    struct call *c = &h->calls[i];
    c->seen = true;
    copy_string(j, lx_json_get(j, tc, "id"), c->id, sizeof(c->id));
    int fn = lx_json_get(j, tc, "function");
    if (fn < 0 || !lx_json_is_object(j, fn))
        return LX_CALLHOLD_HOLD;
    copy_string(j, lx_json_get(j, fn, "name"), c->name, sizeof(c->name));
    int args = lx_json_get(j, fn, "arguments");
    if (args >= 0 && lx_json_is_string(j, args)) {
        size_t before_len = c->args.len;
        if (lx_json_unescape(j, args, &c->args) != LX_OK || !charge(h, c->args.len - before_len))
            return LX_CALLHOLD_FULL;
    }
    return LX_CALLHOLD_HOLD;
}

/* Reads choices[0] of the chunk into h. */
static enum lx_callhold_step read_chunk(struct lx_callhold *h, const lx_json *j, bool *before,
                                        bool *finish, bool *content)
{
    int choices = lx_json_get(j, 0, "choices");
    if (choices < 0 || !lx_json_is_array(j, choices) || lx_json_size(j, choices) == 0)
        return LX_CALLHOLD_PASS;
    int c0 = choices + 1;
    if (!lx_json_is_object(j, c0))
        return LX_CALLHOLD_PASS;
    int fr = lx_json_get(j, c0, "finish_reason");
    *finish = fr >= 0 && lx_json_is_string(j, fr);
    int delta = lx_json_get(j, c0, "delta");
    if (delta < 0 || !lx_json_is_object(j, delta))
        return LX_CALLHOLD_PASS;
    int text = lx_json_get(j, delta, "content");
    if (text >= 0 && lx_json_is_string(j, text) && lx_json_raw(j, text).len) {
        *content = true;
        if (h->want_content) {
            size_t was = h->content.len;
            if (lx_json_unescape(j, text, &h->content) != LX_OK || !charge(h, h->content.len - was))
                return LX_CALLHOLD_FULL;
        }
    }
    int calls = lx_json_get(j, delta, "tool_calls");
    if (calls < 0 || !lx_json_is_array(j, calls))
        return LX_CALLHOLD_PASS;
    int n = lx_json_size(j, calls), tc = calls + 1;
    for (int k = 0; k < n; k++, tc = lx_json_skip(j, tc)) {
        enum lx_callhold_step s = tool_delta(h, j, tc, before);
        if (s != LX_CALLHOLD_HOLD)
            return s;
    }
    return LX_CALLHOLD_PASS;
}

static bool hold_record(struct lx_callhold *h, lx_str data)
{
    uint32_t len = (uint32_t)data.len;
    if (data.len > UINT32_MAX || !charge(h, data.len + sizeof(len)))
        return false;
    if (lx_buf_append(&h->held, &len, sizeof(len)) != LX_OK ||
        lx_buf_append_str(&h->held, data) != LX_OK)
        return false;
    h->n_held++;
    return true;
}

enum lx_callhold_step lx_callhold_chunk(struct lx_callhold *h, lx_str data, lx_arena *scratch,
                                        uint32_t max_depth, size_t *n_complete)
{
    h->n_done = 0;
    *n_complete = 0;
    lx_json j;
    bool before = false, finish = false, content = false;
    enum lx_callhold_step s = LX_CALLHOLD_PASS;
    if (lx_json_parse(&j, data.ptr, data.len, scratch, max_depth) == LX_JSON_OK &&
        lx_json_is_object(&j, 0))
        s = read_chunk(h, &j, &before, &finish, &content);
    if (s != LX_CALLHOLD_PASS)
        return s;
    h->content_seen |= content;
    if (finish) {
        complete_call(h, h->active);
        h->active = -1;
        complete_content(h);
        h->finished = true;
    }
    *n_complete = h->n_done;
    if (!h->hold)
        return LX_CALLHOLD_PASS; /* observe only */
    bool in_progress = h->active >= 0 || (h->want_content && !h->finished);
    if (!in_progress && h->n_held == 0) {
        h->content_passed |= content;
        return LX_CALLHOLD_PASS;
    }
    if (before && !h->want_content)
        h->release_upto = h->n_held; /* the chunks before this one were the finished call's */
    if (!hold_record(h, data))
        return LX_CALLHOLD_FULL;
    if (!in_progress)
        h->release_upto = h->n_held;
    return LX_CALLHOLD_HOLD;
}

size_t lx_callhold_end(struct lx_callhold *h)
{
    h->n_done = 0;
    complete_call(h, h->active);
    h->active = -1;
    complete_content(h);
    h->finished = true;
    h->release_upto = h->n_held;
    return h->n_done;
}

void lx_callhold_completed(const struct lx_callhold *h, size_t k, struct lx_callhold_item *out)
{
    *out = (struct lx_callhold_item){0};
    if (k >= h->n_done)
        return;
    int i = h->done[k];
    if (i < 0) {
        out->is_content = true;
        out->text = lx_buf_str(&h->content);
        return;
    }
    const struct call *c = &h->calls[i];
    out->index = (uint32_t)i;
    out->name = (lx_str){c->name, strlen(c->name)};
    out->id = (lx_str){c->id, strlen(c->id)};
    out->text = c->args.data ? lx_buf_str(&c->args) : LX_STR_LIT("");
}

int lx_callhold_release(struct lx_callhold *h, int (*emit)(void *arg, lx_str data), void *arg)
{
    size_t off = 0;
    int rc = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < LX_CALLHOLD_MAX_CALLS; i++)
        n += h->calls[i].done;
    h->released_calls = n;
    h->content_passed |= h->content_seen && h->release_upto > 0;
    while (h->release_upto > 0) {
        uint32_t len;
        memcpy(&len, h->held.data + off, sizeof(len));
        lx_str data = {h->held.data + off + sizeof(len), len};
        off += sizeof(len) + len;
        h->release_upto--;
        h->n_held--;
        if (rc == 0)
            rc = emit(arg, data);
    }
    if (off) {
        lx_buf_consume(&h->held, off);
        h->used -= off;
    }
    return rc;
}

bool lx_callhold_holding(const struct lx_callhold *h)
{
    return h->n_held > 0;
}

uint32_t lx_callhold_released_calls(const struct lx_callhold *h)
{
    return h->released_calls;
}

bool lx_callhold_content_passed(const struct lx_callhold *h)
{
    return h->content_passed;
}
