/*
 * record.c — the audit record of an exchange: one JSON line with what was
 * asked, where it went, what came back and how long it took (queue_ms: the
 * time spent in the backend's admission queue, 0 when not queued; attempts:
 * every try of every deployment, at most MAX_ATTEMPTS, with its result, the
 * backend's status or null, and its duration; key_id: the public id of the
 * caller's API key, null without auth; route: the alias requested, the model
 * it resolved to, the A/B arm and the model that served, the balance
 * policy, the priority class and the queue length (all classes, its own)
 * the request last joined behind; each attempt's pick: why the balancer
 * chose it (weight, outstanding requests, candidates), null when it was
 * not a pick; tool_call_violations: what
 * policy.tool_calls found, only when it found something). The prompt is
 * kept per audit.prompt: "full" (the messages as sent), "hash" (SHA-256 of
 * the messages' JSON text, to correlate repeats without keeping private
 * text; the default) or "off". Secrets are never part of a record.
 */
#include "proxy_int.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "../core/clock.h"

void lx_proxy_capture_prompt(struct lx_proxy *p, struct exchange *ex, lx_str messages)
{
    if (p->audit == NULL || messages.ptr == NULL)
        return;
    if (ex->cfg->audit.prompt == LX_AUDIT_PROMPT_FULL) {
        lx_buf_append_str(&ex->prompt, messages);
    } else if (ex->cfg->audit.prompt == LX_AUDIT_PROMPT_HASH) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        static const char hex[] = "0123456789abcdef";
        /* fetched once: OpenSSL 3 looks the algorithm up on every implicit use */
        static EVP_MD *sha256;
        if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
            return;
        if (EVP_Digest(messages.ptr, messages.len, md, &mdlen, sha256, NULL) != 1)
            return;
        for (unsigned i = 0; i < mdlen; i++) {
            lx_buf_append_char(&ex->prompt, hex[md[i] >> 4]);
            lx_buf_append_char(&ex->prompt, hex[md[i] & 15]);
        }
    }
}

static void opt_str(lx_jw *w, const char *key, const char *v)
{
    lx_jw_key(w, key);
    if (v && v[0])
        lx_jw_cstr(w, v);
    else
        lx_jw_null(w);
}

/* A duration in microseconds as milliseconds with three decimals. */
static void duration(lx_jw *w, const char *key, uint64_t d)
{
    char b[32];
    int n =
        snprintf(b, sizeof(b), "%llu.%03u", (unsigned long long)(d / 1000), (unsigned)(d % 1000));
    lx_jw_key(w, key);
    lx_jw_raw(w, b, (size_t)n);
}

static void ms(lx_jw *w, const char *key, uint64_t from_us, uint64_t to_us)
{
    if (from_us == 0 || to_us < from_us) {
        lx_jw_key(w, key);
        lx_jw_null(w);
    } else {
        duration(w, key, to_us - from_us);
    }
}

static void tokens(lx_jw *w, const struct lx_chat_tally *t)
{
    lx_jw_key(w, "prompt_tokens");
    if (t->has_usage)
        lx_jw_int(w, t->prompt_tokens);
    else
        lx_jw_null(w);
    lx_jw_key(w, "completion_tokens");
    if (t->has_usage)
        lx_jw_int(w, t->completion_tokens);
    else
        lx_jw_null(w);
    opt_str(w, "finish_reason", t->finish_reason);
    lx_jw_key(w, "tool_calls");
    lx_jw_arr_open(w);
    for (uint32_t i = 0; i < t->n_calls; i++)
        if (t->call_names[i][0])
            lx_jw_cstr(w, t->call_names[i]);
    lx_jw_arr_close(w);
}

/* policy.tool_calls: names and errors only, never argument values. */
static void tool_call_violations(lx_jw *w, const struct lx_toolcheck_result *r)
{
    if (r->n == 0)
        return;
    lx_jw_key(w, "tool_call_violations");
    lx_jw_arr_open(w);
    for (uint32_t i = 0; i < r->n; i++) {
        lx_jw_obj_open(w);
        opt_str(w, "name", r->v[i].name);
        opt_str(w, "error", r->v[i].error);
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

/* Key governance and tool allowlists (govern.c): the key's tags, what
 * refused the request for its key ("concurrency", "budget"), and what the
 * allowlists did — to the tools the request offered ("refused" or
 * "stripped", with the names and why) and to the model's calls ("refused"
 * or "removed"). Names only, never arguments. */
static void findings(lx_jw *w, const char *key, const struct lx_toolallow_finding *f, size_t n)
{
    lx_jw_key(w, key);
    lx_jw_arr_open(w);
    for (size_t i = 0; i < n; i++) {
        lx_jw_obj_open(w);
        opt_str(w, "name", f[i].name);
        opt_str(w, "why", lx_toolallow_verdict_str(f[i].verdict));
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

static void governance(lx_jw *w, const struct exchange *ex)
{
    if (ex->n_tags) {
        lx_jw_key(w, "key_tags");
        lx_jw_arr_open(w);
        for (size_t i = 0; i < ex->n_tags; i++)
            lx_jw_cstr(w, ex->tags[i]);
        lx_jw_arr_close(w);
    }
    if (ex->key_limited) {
        lx_jw_key(w, "key_limited");
        lx_jw_cstr(w, ex->key_limited);
    }
    const struct tool_policy *tp = ex->tools;
    if (tp == NULL || (!tp->scanned && tp->call_action == NULL))
        return;
    lx_jw_key(w, "tool_policy");
    lx_jw_obj_open(w);
    if (tp->scanned) {
        lx_jw_key(w, "offered");
        lx_jw_int(w, (int64_t)tp->scan.n);
        opt_str(w, "offer_action", tp->offer_action ? tp->offer_action : "allowed");
        struct lx_toolallow_finding f[LX_TOOLALLOW_MAX_CALLS];
        size_t n = 0;
        for (size_t i = 0; i < tp->scan.n && n < LX_ARRAY_LEN(f); i++) {
            if (tp->scan.denied[i] == LX_TOOLALLOW_OK)
                continue;
            lx_str nm = tp->scan.names[i];
            snprintf(f[n].name, sizeof(f[n].name), "%.*s",
                     (int)LX_MIN(nm.len, sizeof(f[n].name) - 1), nm.ptr ? nm.ptr : "");
            f[n++].verdict = tp->scan.denied[i];
        }
        findings(w, "denied_tools", f, n);
    }
    if (tp->call_action) {
        opt_str(w, "call_action", tp->call_action);
        findings(w, "denied_calls", tp->calls.f, tp->calls.n);
    }
    lx_jw_obj_close(w);
}

static void error(lx_jw *w, const struct exchange *ex)
{
    lx_jw_key(w, "error");
    if (ex->error_type[0] == 0) {
        lx_jw_null(w);
        return;
    }
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, ex->error_type);
    lx_jw_key(w, "message");
    lx_jw_cstr(w, ex->error_message);
    lx_jw_obj_close(w);
}

static void attempts(lx_jw *w, struct lx_proxy *p, const struct exchange *ex)
{
    lx_jw_key(w, "attempts");
    lx_jw_arr_open(w);
    for (uint8_t i = 0; i < ex->n_attempts; i++) {
        const struct attempt *a = &ex->attempts[i];
        const struct lx_config_model *m = ex->model_cfg;
        const char *um = m == NULL ? ex->upstream_model
                                   : lx_config_model_deployment(m, a->deployment)->upstream_model;
        lx_jw_obj_open(w);
        opt_str(w, "backend", ex->cfg->backends[a->backend].name);
        opt_str(w, "upstream_model", um);
        opt_str(w, "result", a->result);
        lx_jw_key(w, "status");
        if (a->status)
            lx_jw_int(w, a->status);
        else
            lx_jw_null(w);
        lx_jw_key(w, "ms");
        lx_jw_int(w, a->ms);
        lx_jw_key(w, "pick");
        if (a->candidates) {
            /* why the balancer took this one */
            lx_jw_obj_open(w);
            lx_jw_key(w, "balance");
            lx_jw_cstr(w, lx_balance_name(m->balance));
            lx_jw_key(w, "weight");
            lx_jw_uint(w, a->weight);
            lx_jw_key(w, "outstanding");
            lx_jw_uint(w, a->outstanding);
            lx_jw_key(w, "candidates");
            lx_jw_uint(w, a->candidates);
            lx_jw_obj_close(w);
        } else {
            lx_jw_null(w);
        }
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

/* The routing decisions made once per request. */
static void route(lx_jw *w, const struct exchange *ex)
{
    char arm[2] = {ex->ab_arm, 0};
    lx_jw_key(w, "route");
    lx_jw_obj_open(w);
    opt_str(w, "alias", ex->alias);
    opt_str(w, "resolved_model", ex->resolved ? ex->resolved->name : NULL);
    opt_str(w, "ab_arm", arm);
    opt_str(w, "served_model", ex->model_cfg ? ex->model_cfg->name : NULL);
    opt_str(w, "balance", ex->model_cfg ? lx_balance_name(ex->model_cfg->balance) : NULL);
    opt_str(w, "priority", lx_route_priority_str(ex->priority));
    lx_jw_key(w, "queued_behind");
    lx_jw_uint(w, ex->queued_behind);
    lx_jw_key(w, "queued_behind_class");
    lx_jw_uint(w, ex->queued_behind_class);
    lx_jw_obj_close(w);
}

static void prompt(lx_jw *w, struct lx_proxy *p, const struct exchange *ex)
{
    if (ex->prompt.len == 0)
        return;
    if (ex->cfg->audit.prompt == LX_AUDIT_PROMPT_FULL) {
        lx_jw_key(w, "prompt");
        lx_jw_raw(w, ex->prompt.data, ex->prompt.len);
    } else {
        lx_jw_key(w, "prompt_sha256");
        lx_jw_str(w, ex->prompt.data, ex->prompt.len);
    }
}

/* /v1/responses: the response id, whether it was stored, and the tools a
 * chat backend cannot run (hosted tools such as web_search), which were
 * left out of its request: "dropped_tools", only when there were some. */
static void responses(lx_jw *w, const struct exchange *ex)
{
    if (ex->endpoint != LX_PROXY_RESPONSES || ex->resp_id[0] == '\0')
        return;
    opt_str(w, "response_id", ex->resp_id);
    lx_jw_key(w, "stored");
    lx_jw_bool(w, ex->resp_store && ex->status == 200);
    const char *types[16];
    size_t n = ex->passthrough ? 0 : lx_ir_dropped_tools(&ex->ir, types, LX_ARRAY_LEN(types));
    if (n == 0)
        return;
    lx_jw_key(w, "dropped_tools");
    lx_jw_arr_open(w);
    for (size_t i = 0; i < LX_MIN(n, LX_ARRAY_LEN(types)); i++)
        lx_jw_cstr(w, types[i]);
    lx_jw_arr_close(w);
}

void lx_proxy_write_record(struct lx_proxy *p, const struct exchange *ex)
{
    if (p->audit == NULL)
        return;
    char ts[32];
    uint64_t now_us = lx_clock_mono_us();
    lx_clock_format_rfc3339(lx_clock_wall_ms() - (now_us - ex->t_start_us) / 1000, ts);
    lx_buf line;
    lx_buf_init(&line, ex->prompt.len + 64 * 1024);
    lx_jw w;
    lx_jw_init(&w, &line);
    lx_jw_obj_open(&w);
    opt_str(&w, "time", ts);
    opt_str(&w, "request_id", ex->request_id);
    opt_str(&w, "client", ex->peer);
    opt_str(&w, "key_id", ex->key_id);
    opt_str(&w, "endpoint", ex->path);
    opt_str(&w, "model", ex->model);
    opt_str(&w, "backend", ex->backend);
    opt_str(&w, "upstream_model", ex->upstream_model);
    lx_jw_key(&w, "stream");
    lx_jw_bool(&w, ex->stream);
    lx_jw_key(&w, "status");
    lx_jw_int(&w, ex->status);
    lx_jw_key(&w, "upstream_status");
    if (ex->upstream_status)
        lx_jw_int(&w, ex->upstream_status);
    else
        lx_jw_null(&w);
    opt_str(&w, "upstream_result", ex->upstream_result);
    ms(&w, "latency_ms", ex->t_start_us, ex->t_end_us);
    ms(&w, "ttft_ms", ex->t_first_token_us ? ex->t_start_us : 0, ex->t_first_token_us);
    duration(&w, "queue_ms", ex->queue_us); /* waiting for a slot; part of latency_ms */
    if (ex->rate_limited) {
        lx_jw_key(&w, "rate_limited");
        lx_jw_cstr(&w, ex->rate_limited);
    }
    route(&w, ex);
    attempts(&w, p, ex);
    tokens(&w, &ex->tally);
    lx_jw_key(&w, "cost_usd"); /* usage at the deployment's price; null without usage */
    if (ex->cost_known)
        lx_jw_double(&w, ex->cost_usd);
    else
        lx_jw_null(&w);
    tool_call_violations(&w, &ex->toolcheck);
    lx_proxy_validate_record(ex, &w);
    responses(&w, ex);
    governance(&w, ex);
    lx_proxy_redact_record(ex, &w);
    error(&w, ex);
    prompt(&w, p, ex);
    lx_jw_obj_close(&w);
    if (lx_jw_ok(&w))
        lx_audit_submit(p->audit, line.data, line.len);
    lx_buf_release(&line);
}

/* The same keys as an exchange's record, so that readers need one shape. */
void lx_proxy_write_note(struct lx_proxy *p, const struct lx_proxy_note *n)
{
    if (p->audit == NULL)
        return;
    char ts[32];
    uint64_t now_us = lx_clock_mono_us();
    lx_clock_format_rfc3339(lx_clock_wall_ms() - (now_us - n->t_start_us) / 1000, ts);
    lx_buf line;
    lx_buf_init(&line, 16 * 1024);
    lx_jw w;
    lx_jw_init(&w, &line);
    lx_jw_obj_open(&w);
    opt_str(&w, "time", ts);
    opt_str(&w, "request_id", n->request_id);
    opt_str(&w, "client", n->peer);
    opt_str(&w, "key_id", n->key_id);
    opt_str(&w, "endpoint", n->endpoint);
    opt_str(&w, "model", n->model);
    opt_str(&w, "backend", NULL);
    opt_str(&w, "upstream_model", NULL);
    lx_jw_key(&w, "stream");
    lx_jw_bool(&w, false);
    lx_jw_key(&w, "status");
    lx_jw_int(&w, n->status);
    opt_str(&w, "upstream_status", NULL);
    opt_str(&w, "upstream_result", NULL);
    ms(&w, "latency_ms", n->t_start_us, now_us);
    opt_str(&w, "ttft_ms", NULL);
    duration(&w, "queue_ms", 0);
    lx_jw_key(&w, "attempts");
    lx_jw_arr_open(&w);
    lx_jw_arr_close(&w);
    struct lx_chat_tally none = {0};
    tokens(&w, &none);
    lx_jw_key(&w, "error");
    if (n->error_type) {
        lx_jw_obj_open(&w);
        opt_str(&w, "type", n->error_type);
        opt_str(&w, "message", n->error_message);
        lx_jw_obj_close(&w);
    } else {
        lx_jw_null(&w);
    }
    lx_jw_obj_close(&w);
    if (lx_jw_ok(&w))
        lx_audit_submit(p->audit, line.data, line.len);
    lx_buf_release(&line);
}
