/*
 * observe.c — the proxy's Prometheus metrics (docs/metrics.md lists them).
 *
 * Every family is registered when the proxy starts. Counters and
 * histograms about requests are updated once per exchange, when it ends,
 * from the same facts its audit record holds (lx_proxy_observe), so the
 * two always agree; the queue wait is observed each time an exchange
 * leaves a backend's queue. Gauges of live state (queue depth, in flight,
 * circuit, pins) and the audit writer's dropped lines are read from their
 * owners at scrape time, so the hot path never maintains them.
 *
 * Label values are bounded: backends come from the config, models from the
 * config or discovery (a client's unknown model name is never a label: it
 * reads ""), endpoints from a fixed list, statuses and attempt results
 * from the gateway's own small sets; every family is capped besides
 * (MAX_SERIES, then its overflow series).
 */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/version.h"
#include "../obs/metrics.h"

enum { MAX_SERIES = 4096 };

struct proxy_metrics {
    struct lx_metrics *reg;
    struct lx_metric *requests, *duration, *ttft, *attempts, *retries, *fallbacks, *queue_depth,
        *queue_wait, *in_flight, *overflow, *queue_timeouts, *circuit, *pins, *tokens,
        *audit_dropped, *rate_limited, *limit_errors, *build_info, *cost, *config_reloads;
};

static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                         2.5,   5,    10,    30,   60,  120,  300};
static const double ttft_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60};
static const double wait_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,     2.5,  5,     10,   30,  60};

#define ARR(...) ((const char *const[]){__VA_ARGS__})
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void add_families(struct proxy_metrics *o)
{
    struct lx_metrics *m = o->reg;
    enum lx_metric_type C = LX_METRIC_COUNTER, G = LX_METRIC_GAUGE, H = LX_METRIC_HISTOGRAM;
    o->requests = lx_metrics_add(m, C, "llmux_requests_total",
                                 "Requests answered, by public model, endpoint and HTTP status.",
                                 ARR("model", "endpoint", "status"), 3, NULL, 0);
    o->duration = lx_metrics_add(m, H, "llmux_request_duration_seconds",
                                 "Time from a request's arrival to the last byte of its answer.",
                                 ARR("model"), 1, duration_bounds, N(duration_bounds));
    o->ttft = lx_metrics_add(m, H, "llmux_time_to_first_token_seconds",
                             "Time from a request's arrival to its first token.", ARR("model"), 1,
                             ttft_bounds, N(ttft_bounds));
    o->attempts = lx_metrics_add(m, C, "llmux_upstream_attempts_total",
                                 "Attempts on a backend, by result (as in the audit record).",
                                 ARR("backend", "result"), 2, NULL, 0);
    o->retries =
        lx_metrics_add(m, C, "llmux_retries_total", "Attempts that retried the same deployment.",
                       ARR("model"), 1, NULL, 0);
    o->fallbacks = lx_metrics_add(m, C, "llmux_fallbacks_total",
                                  "Moves from a deployment to the next one in the model's chain.",
                                  ARR("model"), 1, NULL, 0);
    o->queue_depth = lx_metrics_add(m, G, "llmux_queue_depth",
                                    "Requests waiting in a backend's admission queue.",
                                    ARR("backend"), 1, NULL, 0);
    o->queue_wait = lx_metrics_add(m, H, "llmux_queue_wait_seconds",
                                   "Time a queued request waited for a slot on a backend.",
                                   ARR("backend"), 1, wait_bounds, N(wait_bounds));
    o->in_flight = lx_metrics_add(m, G, "llmux_in_flight", "Requests holding a slot on a backend.",
                                  ARR("backend"), 1, NULL, 0);
    o->overflow = lx_metrics_add(
        m, C, "llmux_queue_overflow_total",
        "Requests a backend's admission turned away (queue full or wait exceeded), by what "
        "followed: overflow to the next deployment, or reject (429).",
        ARR("backend", "action"), 2, NULL, 0);
    o->queue_timeouts = lx_metrics_add(m, C, "llmux_queue_timeouts_total",
                                       "Requests that waited queue.max_wait_ms without a slot.",
                                       ARR("backend"), 1, NULL, 0);
    o->circuit = lx_metrics_add(m, G, "llmux_circuit_state",
                                "A backend's circuit: 0 closed, 1 open, 2 half-open.",
                                ARR("backend"), 1, NULL, 0);
    o->pins = lx_metrics_add(m, G, "llmux_pin_violations",
                             "Deployments on a backend out of rotation because it does not list "
                             "their pinned model.",
                             ARR("backend"), 1, NULL, 0);
    o->tokens = lx_metrics_add(m, C, "llmux_tokens_total", "Tokens as the backends reported them.",
                               ARR("model", "kind"), 2, NULL, 0);
    o->cost = lx_metrics_add(m, C, "llmux_cost_usd_total",
                             "US dollars the requests cost, at the configured prices.",
                             ARR("model", "backend"), 2, NULL, 0);
    o->audit_dropped = lx_metrics_add(m, C, "llmux_audit_dropped_total",
                                      "Audit lines dropped because the writer's queue was full.",
                                      NULL, 0, NULL, 0);
    o->rate_limited = lx_metrics_add(m, C, "llmux_rate_limited_total",
                                     "Requests refused by a rate limit, by scope (key, model).",
                                     ARR("scope"), 1, NULL, 0);
    o->limit_errors = lx_metrics_add(
        m, C, "llmux_rate_limit_store_errors_total",
        "Rate-limit checks the store (Redis) failed or answered too late, by what the request got "
        "(on_error: allow, deny).",
        ARR("action"), 1, NULL, 0);
    o->build_info = lx_metrics_add(m, G, "llmux_build_info", "The running version; always 1.",
                                   ARR("version"), 1, NULL, 0);
    o->config_reloads = lx_metrics_add(
        m, C, "llmux_config_reloads_total",
        "Config reloads and rollbacks, by result (ok, invalid: the running config stays, failed).",
        ARR("result"), 1, NULL, 0);
}

int lx_proxy_metrics_init(struct lx_proxy *p)
{
    struct proxy_metrics *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->reg = lx_metrics_new(MAX_SERIES)) == NULL) {
        free(o);
        return LX_ERR;
    }
    add_families(o);
    p->obs = o;
    lx_metric_set(lx_metric_with(o->build_info, ARR(LX_VERSION)), 1);
    lx_metric_set(lx_metric_with(o->audit_dropped, NULL), 0);
    if (p->cfg->rate_limits.store == LX_RATE_STORE_REDIS)
        lx_metric_with(o->limit_errors,
                       ARR(p->cfg->rate_limits.redis.deny_on_error ? "deny" : "allow"));
    lx_metric_with(o->config_reloads, ARR("ok"));
    lx_metric_with(o->config_reloads, ARR("invalid"));
    lx_metric_with(o->config_reloads, ARR("failed"));
    lx_proxy_metrics_backends(p);
    return LX_OK;
}

void lx_proxy_observe_reload(struct lx_proxy *p, const char *result)
{
    if (p->obs)
        lx_metric_add(lx_metric_with(p->obs->config_reloads, ARR(result)), 1);
}

void lx_proxy_metrics_backends(struct lx_proxy *p)
{
    struct proxy_metrics *o = p->obs;
    if (o == NULL)
        return;
    /* a series per backend from the start, so dashboards see zeros, not gaps */
    for (size_t i = 0; i < p->cfg->n_backends; i++) {
        const char *b[] = {p->cfg->backends[i].name};
        lx_metric_with(o->queue_depth, b);
        lx_metric_with(o->in_flight, b);
        lx_metric_with(o->circuit, b);
        lx_metric_with(o->pins, b);
        lx_metric_with(o->queue_timeouts, b);
        lx_metric_with(o->overflow, ARR(b[0], "overflow"));
        lx_metric_with(o->overflow, ARR(b[0], "reject"));
    }
}

void lx_proxy_metrics_release(struct lx_proxy *p)
{
    if (p->obs == NULL)
        return;
    lx_metrics_free(p->obs->reg);
    free(p->obs);
    p->obs = NULL;
}

/* The endpoint label: the path without a "/v1" prefix when it is one the
 * gateway serves, else "other" (a path is the client's to choose). */
static const char *endpoint_label(const char *path)
{
    static const char *const known[] = {
        "/chat/completions",       "/embeddings",        "/models",  "/responses",
        "/responses/input_tokens", "/responses/compact", "/messages"};
    if (strncmp(path, "/v1/", 4) == 0)
        path += 3;
    for (size_t i = 0; i < N(known); i++)
        if (strcmp(path, known[i]) == 0)
            return known[i];
    return "other";
}

static double seconds(uint64_t from_us, uint64_t to_us)
{
    return (double)(to_us - from_us) / 1e6;
}

/* Attempts, retries, fallbacks and admission refusals, from the attempt
 * list the audit record also writes. */
static void observe_attempts(struct lx_proxy *p, const struct exchange *ex, const char *model)
{
    struct proxy_metrics *o = p->obs;
    for (uint8_t i = 0; i < ex->n_attempts; i++) {
        const struct attempt *a = &ex->attempts[i];
        const char *backend = ex->cfg->backends[a->backend].name;
        lx_metric_add(lx_metric_with(o->attempts, ARR(backend, a->result)), 1);
        if (i > 0 && a->deployment == ex->attempts[i - 1].deployment)
            lx_metric_add(lx_metric_with(o->retries, ARR(model)), 1);
        else if (i > 0)
            lx_metric_add(lx_metric_with(o->fallbacks, ARR(model)), 1);
        bool timeout = strcmp(a->result, "queue_timeout") == 0;
        if (timeout)
            lx_metric_add(lx_metric_with(o->queue_timeouts, ARR(backend)), 1);
        if (timeout || strcmp(a->result, "busy") == 0) {
            const char *action = i + 1 < ex->n_attempts ? "overflow" : "reject";
            lx_metric_add(lx_metric_with(o->overflow, ARR(backend, action)), 1);
        }
    }
}

void lx_proxy_observe(struct lx_proxy *p, const struct exchange *ex)
{
    struct proxy_metrics *o = p->obs;
    if (o == NULL)
        return;
    /* resolved: a name the routing table knows, so a bounded label */
    const char *model = ex->backend[0] ? ex->model : "";
    char status[12];
    snprintf(status, sizeof(status), "%d", ex->status);
    lx_metric_add(lx_metric_with(o->requests, ARR(model, endpoint_label(ex->path), status)), 1);
    if (ex->t_end_us >= ex->t_start_us)
        lx_metric_observe(lx_metric_with(o->duration, ARR(model)),
                          seconds(ex->t_start_us, ex->t_end_us));
    if (ex->t_first_token_us >= ex->t_start_us && ex->t_first_token_us)
        lx_metric_observe(lx_metric_with(o->ttft, ARR(model)),
                          seconds(ex->t_start_us, ex->t_first_token_us));
    if (ex->tally.has_usage) {
        lx_metric_add(lx_metric_with(o->tokens, ARR(model, "input")),
                      (double)ex->tally.prompt_tokens);
        lx_metric_add(lx_metric_with(o->tokens, ARR(model, "output")),
                      (double)ex->tally.completion_tokens);
    }
    if (ex->cost_known)
        lx_metric_add(lx_metric_with(o->cost, ARR(model, ex->backend)), ex->cost_usd);
    if (ex->rate_limited)
        lx_metric_add(lx_metric_with(o->rate_limited, ARR(ex->rate_limited)), 1);
    observe_attempts(p, ex, model);
}

void lx_proxy_observe_queue_wait(struct lx_proxy *p, const char *backend, uint64_t since_us)
{
    if (p->obs == NULL || since_us == 0)
        return;
    lx_metric_observe(lx_metric_with(p->obs->queue_wait, ARR(backend)),
                      seconds(since_us, lx_clock_mono_us()));
}

int lx_proxy_write_metrics(struct lx_proxy *p, lx_buf *out)
{
    struct proxy_metrics *o = p->obs;
    if (o == NULL)
        return LX_ERR;
    uint64_t now_ms = lx_clock_mono_us() / 1000;
    for (size_t i = 0; i < p->cfg->n_backends; i++) {
        const char *b[] = {p->cfg->backends[i].name};
        lx_metric_set(lx_metric_with(o->queue_depth, b), lx_route_queued(p->route, i));
        lx_metric_set(lx_metric_with(o->in_flight, b), lx_route_in_flight(p->route, i));
        /* the enum's values are the metric's: 0 closed, 1 open, 2 half-open */
        lx_metric_set(lx_metric_with(o->circuit, b), lx_route_circuit_state(p->route, i, now_ms));
        lx_metric_set(lx_metric_with(o->pins, b), lx_route_pin_violations(p->route, i));
    }
    if (p->audit)
        lx_metric_set(lx_metric_with(o->audit_dropped, NULL), (double)lx_audit_dropped(p->audit));
    return lx_metrics_write(o->reg, out);
}

void lx_proxy_observe_limit_error(struct lx_proxy *p, const char *action)
{
    if (p->obs)
        lx_metric_add(lx_metric_with(p->obs->limit_errors, ARR(action)), 1);
}
