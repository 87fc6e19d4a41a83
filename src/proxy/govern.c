/*
 * govern.c — what an API key's settings and the tool allowlists do to an
 * exchange (issue 5, items 1, 2 and 6): the key's budget and concurrency
 * cap, its tags for the audit record, and the tools a request may offer and
 * the model may call (policy/toolallow.h does the deciding; this file
 * applies the decisions to the exchange).
 *
 * Concurrency: a key with max_concurrent holds one slot per exchange from
 * admission to the exchange's end. The count lives in a small hash table of
 * key ids that holds only keys with a request in flight, so its size is
 * bounded by the exchanges in flight. The slot is given back in maybe_free,
 * which every ending (done, error, client gone, cancel, shutdown) passes
 * through exactly once.
 */
#define _GNU_SOURCE /* memmem */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_BUCKETS = 256 };

struct key_slot {
    struct key_slot *next;
    uint32_t count;
    char id[24];
};

struct key_slots {
    struct key_slot *b[SLOT_BUCKETS];
};

int lx_proxy_key_slots_new(struct lx_proxy *p)
{
    p->key_slots = calloc(1, sizeof(*p->key_slots));
    return p->key_slots ? LX_OK : LX_ERR;
}

void lx_proxy_key_slots_free(struct lx_proxy *p)
{
    if (p->key_slots == NULL)
        return;
    for (size_t i = 0; i < SLOT_BUCKETS; i++)
        for (struct key_slot *s = p->key_slots->b[i], *n; s; s = n) {
            n = s->next;
            free(s);
        }
    free(p->key_slots);
    p->key_slots = NULL;
}

static struct key_slot **slot_find(struct key_slots *t, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = id; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    struct key_slot **pp = &t->b[h % SLOT_BUCKETS];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

uint32_t lx_proxy_key_in_flight(const struct lx_proxy *p, const char *key_id)
{
    if (p->key_slots == NULL)
        return 0;
    struct key_slot **pp = slot_find(p->key_slots, key_id);
    return *pp ? (*pp)->count : 0;
}

int lx_proxy_key_slot_take(struct exchange *ex, uint32_t max_concurrent)
{
    if (max_concurrent == 0 || ex->key_id[0] == '\0')
        return LX_OK;
    struct key_slot **pp = slot_find(ex->p->key_slots, ex->key_id);
    if (*pp && (*pp)->count >= max_concurrent) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "Concurrency limit reached on API key %s: %u requests in flight. Please try "
                 "again when one of them has finished.",
                 ex->key_id, max_concurrent);
        lx_http_header h = {"retry-after", "1", 1};
        ex->key_limited = "concurrency";
        lx_proxy_refuse(ex, 429, msg, "rate_limit_error", NULL, "concurrency_limit_exceeded", &h);
        return LX_ERR;
    }
    if (*pp == NULL) {
        struct key_slot *s = calloc(1, sizeof(*s));
        if (s == NULL)
            return LX_OK; /* out of memory: not counted, never refused for it */
        snprintf(s->id, sizeof(s->id), "%s", ex->key_id);
        *pp = s;
    }
    (*pp)->count++;
    ex->holds_key_slot = true;
    return LX_OK;
}

void lx_proxy_key_slot_give(struct exchange *ex)
{
    if (!ex->holds_key_slot)
        return;
    ex->holds_key_slot = false;
    struct key_slot **pp = slot_find(ex->p->key_slots, ex->key_id), *s = *pp;
    if (s && --s->count == 0) {
        *pp = s->next;
        free(s);
    }
}

/* ---- the key's settings ------------------------------------------------- */

/* n names as views in the exchange's arena (the keyring may be replaced
 * while the exchange runs); names NULL: no list. */
static int copy_list(struct exchange *ex, const char *const *names, size_t n,
                     struct lx_toolallow_list *out)
{
    *out = (struct lx_toolallow_list){NULL, 0};
    if (names == NULL)
        return LX_OK;
    lx_str *v = lx_arena_alloc(&ex->arena, (n + 1) * sizeof(*v));
    if (v == NULL)
        return LX_ERR;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        char *c = lx_arena_alloc(&ex->arena, len + 1);
        if (c == NULL)
            return LX_ERR;
        memcpy(c, names[i], len + 1);
        v[i] = (lx_str){c, len};
    }
    *out = (struct lx_toolallow_list){v, n};
    return LX_OK;
}

/* The exchange's tool policy, made (zeroed) on first use; NULL when the
 * arena is full. */
static struct tool_policy *tool_policy(struct exchange *ex)
{
    if (ex->tools == NULL && (ex->tools = lx_arena_alloc(&ex->arena, sizeof(*ex->tools))) != NULL)
        memset(ex->tools, 0, sizeof(*ex->tools));
    return ex->tools;
}

int lx_proxy_key_settings(struct exchange *ex, const struct lx_proxy_caller *caller)
{
    if (caller == NULL)
        return LX_OK;
    ex->key_rpm = caller->rpm;
    ex->key_tpm = caller->tpm;
    struct lx_toolallow_list tags;
    if (copy_list(ex, caller->tags, caller->n_tags, &tags) == LX_OK && tags.n &&
        (ex->tags = lx_arena_alloc(&ex->arena, tags.n * sizeof(char *))) != NULL) {
        for (size_t i = 0; i < tags.n; i++)
            ex->tags[i] = tags.names[i].ptr;
        ex->n_tags = tags.n;
    }
    if (caller->tools && (tool_policy(ex) == NULL || copy_list(ex, caller->tools, caller->n_tools,
                                                               &ex->tools->key) != LX_OK)) {
        lx_proxy_refuse(ex, 500, "The gateway ran out of memory for this request.", "server_error",
                        NULL, "out_of_memory", NULL);
        return LX_ERR;
    }
    /* the running total: spends not yet in the store count at once */
    if (caller->budget_usd > 0 &&
        lx_proxy_spent_usd(ex->p, ex->key_id, caller->spent_usd) >= caller->budget_usd) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "API key %s has used its budget of %.2f USD. Ask the gateway's operator to "
                 "raise it.",
                 ex->key_id, caller->budget_usd);
        ex->key_limited = "budget";
        lx_proxy_refuse(ex, 429, msg, "insufficient_quota", NULL, "insufficient_quota", NULL);
        return LX_ERR;
    }
    return LX_OK;
}

/* ---- requests ----------------------------------------------------------- */

static int model_list(struct exchange *ex, struct tool_policy *tp)
{
    const struct lx_config_model *m = ex->model_cfg;
    if (m == NULL || m->tools_allowed == NULL)
        return LX_OK;
    return copy_list(ex, (const char *const *)m->tools_allowed, m->n_tools_allowed, &tp->model);
}

static void refuse_offer(struct exchange *ex, const struct tool_policy *tp)
{
    size_t i = 0;
    while (i < tp->scan.n && tp->scan.denied[i] == LX_TOOLALLOW_OK)
        i++;
    lx_str n = tp->scan.names[i];
    char msg[320];
    snprintf(msg, sizeof(msg), "The tool `%.*s` is not allowed %s.", (int)LX_MIN(n.len, 64), n.ptr,
             tp->scan.denied[i] == LX_TOOLALLOW_DENIED_KEY ? "for this API key" : "on this model");
    lx_proxy_refuse(ex, 403, msg, "invalid_request_error", "tools", "tool_not_allowed", NULL);
}

/* Rewrites the request without the denied tools and reads it again, so
 * every later stage (rewrite, prompt capture) sees the stripped body. */
static int strip(struct exchange *ex, struct tool_policy *tp)
{
    const struct lx_config_limits *lim = &ex->cfg->limits;
    lx_buf b;
    lx_buf_init(&b, lim->max_body_bytes + 64);
    int tools = lx_json_get(&ex->cr.json, 0, "tools");
    int rc = lx_toolallow_strip_request(&ex->cr.json, tools, &tp->scan, &b);
    char *copy = rc == LX_OK ? lx_arena_alloc(&ex->arena, b.len + 1) : NULL;
    struct lx_chat_fault f;
    if (copy) {
        memcpy(copy, b.data, b.len);
        rc = lx_chat_request_read(&ex->cr, copy, b.len, &ex->arena, lim->max_json_depth, &f);
    }
    lx_buf_release(&b);
    if (copy == NULL || rc != LX_OK) {
        lx_proxy_refuse(ex, 500, "The gateway could not remove the forbidden tools.",
                        "server_error", NULL, "tool_strip_failed", NULL);
        return LX_ERR;
    }
    return LX_OK;
}

/* /v1/responses: the IR's tools against the allowlists (hosted tools,
 * which never reach a chat backend, are not counted). A tool is known by
 * the name the model calls it (a namespace's "<ns>__<name>"). Stripped
 * tools leave the IR, so no later stage sees them. */
static int check_ir_tools(struct exchange *ex)
{
    struct lx_ir_request *q = &ex->ir;
    struct tool_policy *tp = tool_policy(ex);
    if (tp == NULL || model_list(ex, tp) != LX_OK) {
        lx_proxy_refuse(ex, 500, "The gateway ran out of memory for this request.", "server_error",
                        NULL, "out_of_memory", NULL);
        return LX_ERR;
    }
    struct lx_toolallow_scan *sc = &tp->scan;
    memset(sc, 0, sizeof(*sc));
    uint32_t keep = 0;
    for (uint32_t i = 0; i < q->ntools; i++) {
        struct lx_ir_tool *t = &q->tools[i];
        bool counted = t->kind != LX_IR_TOOL_OTHER;
        if (counted && sc->n >= LX_TOOLALLOW_MAX_TOOLS) {
            char msg[128];
            snprintf(msg, sizeof(msg), "A request may offer at most %d tools.",
                     LX_TOOLALLOW_MAX_TOOLS);
            lx_proxy_refuse(ex, 400, msg, "invalid_request_error", "tools", "too_many_tools", NULL);
            return LX_ERR;
        }
        enum lx_toolallow_verdict v = LX_TOOLALLOW_OK;
        if (counted) {
            lx_str lit = t->chat_name.len ? t->chat_name : t->name;
            lx_str name = lit.len >= 2 ? (lx_str){lit.ptr + 1, lit.len - 2} : LX_STR_NULL;
            v = lx_toolallow_offer(name, tp->key.names ? &tp->key : NULL,
                                   tp->model.names ? &tp->model : NULL);
            sc->names[sc->n] = name;
            sc->denied[sc->n++] = v;
            if (v != LX_TOOLALLOW_OK)
                sc->n_denied++;
            else
                sc->kept[sc->n_kept++] = name;
        }
        if (v == LX_TOOLALLOW_OK)
            q->tools[keep++] = *t;
    }
    tp->scanned = true;
    tp->offered = lx_toolallow_kept(sc);
    if (sc->n_denied == 0)
        return LX_OK;
    if (ex->cfg->policy.forbidden_tools == LX_FORBIDDEN_TOOLS_REJECT) {
        tp->offer_action = "refused";
        refuse_offer(ex, tp);
        return LX_ERR;
    }
    tp->offer_action = "stripped";
    q->ntools = keep;
    return LX_OK;
}

int lx_proxy_tools_check_request(struct exchange *ex)
{
    if (ex->endpoint == LX_PROXY_RESPONSES)
        return ex->ir.ntools || ex->tools ? check_ir_tools(ex) : LX_OK;
    if (ex->endpoint != LX_PROXY_CHAT)
        return LX_OK;
    int tools = lx_json_get(&ex->cr.json, 0, "tools");
    if (tools < 0 && ex->tools == NULL)
        return LX_OK; /* no tools offered: every call is "not offered" (offered stays empty) */
    struct tool_policy *tp = tool_policy(ex);
    if (tp == NULL || model_list(ex, tp) != LX_OK) {
        lx_proxy_refuse(ex, 500, "The gateway ran out of memory for this request.", "server_error",
                        NULL, "out_of_memory", NULL);
        return LX_ERR;
    }
    if (lx_toolallow_scan(&ex->cr.json, tools, &tp->key, &tp->model, &tp->scan) != LX_OK) {
        char msg[128];
        snprintf(msg, sizeof(msg), "A request may offer at most %d tools.", LX_TOOLALLOW_MAX_TOOLS);
        lx_proxy_refuse(ex, 400, msg, "invalid_request_error", "tools", "too_many_tools", NULL);
        return LX_ERR;
    }
    tp->scanned = true;
    tp->offered = lx_toolallow_kept(&tp->scan);
    if (tp->scan.n_denied == 0)
        return LX_OK;
    if (ex->cfg->policy.forbidden_tools == LX_FORBIDDEN_TOOLS_REJECT) {
        tp->offer_action = "refused";
        refuse_offer(ex, tp);
        return LX_ERR;
    }
    tp->offer_action = "stripped";
    return strip(ex, tp);
}

/* ---- answers ------------------------------------------------------------ */

static const struct lx_toolallow_list no_tools = {(const lx_str *)"", 0};

/* The three lists a call is checked against. */
static void lists(const struct exchange *ex, const struct lx_toolallow_list **offered,
                  const struct lx_toolallow_list **key, const struct lx_toolallow_list **model)
{
    const struct tool_policy *tp = ex->tools;
    *offered = tp && tp->scanned ? &tp->offered : &no_tools;
    *key = tp ? &tp->key : NULL;
    *model = tp ? &tp->model : NULL;
}

static void call_message(char *msg, size_t len, const struct lx_toolallow_finding *f)
{
    snprintf(msg, len, "The model called the tool `%s`, which %s; the call was not passed on.",
             f->name[0] ? f->name : "(no name)",
             f->verdict == LX_TOOLALLOW_NOT_OFFERED ? "the request did not offer"
             : f->verdict == LX_TOOLALLOW_NO_NAME   ? "has no name"
                                                    : "is not allowed");
}

int lx_proxy_tools_check_answer(struct exchange *ex, lx_str *body)
{
    /* /v1/responses over a chat backend: the chat answer, before it is translated */
    if (ex->endpoint == LX_PROXY_EMBEDDINGS || ex->passthrough ||
        memmem(body->ptr, body->len, "\"tool_calls\"", 12) == NULL)
        return LX_OK;
    const struct lx_toolallow_list *offered, *key, *model;
    lists(ex, &offered, &key, &model);
    struct tool_policy *tp = tool_policy(ex);
    lx_buf *out = &ex->held; /* unused for whole answers: holds the edited body */
    if (out->cap == 0)
        lx_buf_init(out, ex->cfg->limits.max_response_bytes);
    lx_buf_reset(out);
    struct lx_toolallow_result r;
    bool reject = ex->cfg->policy.tool_calls == LX_TOOL_CALLS_REJECT;
    int rc = lx_toolallow_response(*body, offered, key, model, &r, reject ? NULL : out);
    if (r.n_bad == 0)
        return LX_OK; /* also when not JSON: the caller's inspect has vetted it */
    if (tp)
        tp->calls = r;
    if (!reject && rc == LX_OK && tp) {
        tp->call_action = "removed";
        *body = lx_buf_str(out);
        return LX_OK;
    }
    /* policy reject, or the edit failed: the calls must not go out */
    char msg[320];
    if (tp)
        tp->call_action = "refused";
    call_message(msg, sizeof(msg), &r.f[0]);
    lx_proxy_refuse(ex, 502, msg, "server_error", NULL, "tool_not_allowed", NULL);
    return LX_ERR;
}

/* ---- streams ------------------------------------------------------------ */

static int refuse_stream(struct exchange *ex, const struct lx_toolallow_finding *bad)
{
    struct tool_policy *tp = ex->tools;
    char msg[320];
    if (tp && tp->calls.n < LX_TOOLALLOW_MAX_CALLS)
        tp->calls.f[tp->calls.n++] = *bad;
    if (tp) {
        tp->calls.n_bad++;
        tp->call_action = "refused";
    }
    lx_buf_release(&ex->held); /* what was held never goes out */
    call_message(msg, sizeof(msg), bad);
    lx_proxy_stream_fail(ex, msg, "tool_not_allowed");
    return LX_ERR;
}

/* Sends what the gate held, in order. */
static int flush_held(struct exchange *ex)
{
    if (ex->held.len == 0)
        return LX_OK;
    int rc = ex->endpoint == LX_PROXY_RESPONSES
                 ? lx_proxy_each_chunk(ex, lx_buf_str(&ex->held), lx_proxy_resp_feed)
                 : lx_proxy_client_write(ex, ex->held.data, ex->held.len);
    lx_buf_reset(&ex->held);
    return rc;
}

int lx_proxy_tools_gate(struct exchange *ex, lx_str data)
{
    if (ex->endpoint == LX_PROXY_EMBEDDINGS)
        return LX_OK;
    bool holding = ex->tools && ex->tools->gate.holding;
    if (!holding && memmem(data.ptr, data.len, "\"tool_calls\"", 12) == NULL)
        return LX_OK;
    struct tool_policy *tp = tool_policy(ex);
    const struct lx_toolallow_list *offered, *key, *model;
    lists(ex, &offered, &key, &model);
    struct lx_toolallow_finding bad;
    if (tp == NULL) {
        bad = (struct lx_toolallow_finding){.verdict = LX_TOOLALLOW_NO_NAME};
        return refuse_stream(ex, &bad);
    }
    lx_arena_reset(&ex->scratch);
    enum lx_toolallow_gate g = lx_toolallow_stream_chunk(
        &tp->gate, data, &ex->scratch, ex->cfg->limits.max_json_depth, offered, key, model, &bad);
    lx_arena_reset(&ex->scratch);
    if (g == LX_TOOLALLOW_REFUSE)
        return refuse_stream(ex, &bad);
    if (g == LX_TOOLALLOW_PASS)
        return flush_held(ex) == LX_OK ? LX_OK : LX_ERR;
    if (ex->held.cap == 0)
        lx_buf_init(&ex->held, ex->cfg->limits.max_stream_buffer_bytes);
    if (lx_buf_append(&ex->held, "data: ", 6) != LX_OK || lx_buf_append_str(&ex->held, data) ||
        lx_buf_append(&ex->held, "\n\n", 2) != LX_OK) {
        bad = (struct lx_toolallow_finding){.verdict = LX_TOOLALLOW_NO_NAME};
        return refuse_stream(ex, &bad); /* a nameless call past the hold cap */
    }
    return LX_AGAIN;
}

int lx_proxy_tools_gate_end(struct exchange *ex)
{
    struct lx_toolallow_finding bad;
    if (ex->tools == NULL || lx_toolallow_stream_end(&ex->tools->gate, &bad) == LX_TOOLALLOW_PASS)
        return LX_OK;
    return refuse_stream(ex, &bad);
}
