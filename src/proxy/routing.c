/*
 * routing.c — what routing rules, prices and budgets do to an exchange
 * (issue 4 item 6, issue 5 item 6): the request's facts for the rules
 * (route/rules.h) are read once, each deployment the exchange would try is
 * asked about before it is tried, and at the end the exchange's cost is
 * computed from its usage and the deployment's price, counted in the
 * audit record and metrics, and accrued to its API key (store/spend.h).
 * The backend's time to first token feeds the latency rule's average.
 */
#include "proxy_int.h"

#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../route/rules.h"
#include "../store/spend.h"

struct lx_proxy_rules {
    struct lx_rules_facts facts;
    const char *skipped_by; /* the last rule that skipped a deployment (arena), or NULL */
};

static lx_str header_of(void *ctx, const char *name)
{
    struct exchange *ex = ctx;
    return ex->req ? lx_http_req_header(ex->req, name) : LX_STR_NULL;
}

int lx_proxy_rules_prepare(struct exchange *ex)
{
    const struct lx_config *cfg = ex->cfg;
    if (cfg->routing.n_rules == 0)
        return LX_OK;
    struct lx_proxy_rules *r = lx_arena_alloc(&ex->arena, sizeof(*r));
    if (r == NULL) {
        lx_ex_respond_error(ex, 500, "The gateway ran out of memory.", "server_error", NULL,
                            "out_of_memory");
        return LX_ERR;
    }
    memset(r, 0, sizeof(*r));
    r->facts.header = header_of;
    r->facts.ctx = ex;
    lx_arena tokens; /* the body's tokens, for this reading only */
    lx_arena_init(&tokens, (size_t)64 << 20);
    lx_rules_read_body(lx_http_req_body(ex->req), &tokens, cfg->limits.max_json_depth,
                       cfg->routing.default_output_tokens, &r->facts);
    lx_arena_release(&tokens);
    char msg[256];
    if (lx_rules_check_headers(cfg, &r->facts, msg, sizeof(msg)) != LX_OK) {
        lx_ex_respond_error(ex, 400, msg, "invalid_request_error", NULL, "invalid_routing_header");
        return LX_ERR;
    }
    ex->rules = r;
    return LX_OK;
}

const char *lx_proxy_rules_skip(struct exchange *ex, size_t backend,
                                const struct lx_config_deployment *d)
{
    if (!lx_proxy_redact_backend_ok(ex, backend))
        return "not_local"; /* redaction tagged the request sensitive */
    struct lx_proxy_rules *r = ex->rules;
    if (r == NULL)
        return NULL;
    const struct lx_config *cfg = ex->cfg;
    const struct lx_config_backend *b = &cfg->backends[backend];
    int64_t ttft = lx_rules_ttft_get(ex->p->ttft, backend);
    struct lx_rules_cand c =
        d ? lx_rules_cand_of(cfg, d, ttft)
          : (struct lx_rules_cand){
                .local = b->local, .caps = b->capabilities, .price = b->price, .ttft_ms = ttft};
    r->facts.sensitive = lx_proxy_redact_sensitive(ex);
    int k = lx_rules_first_skip(cfg, &r->facts, &c);
    if (k < 0)
        return NULL;
    const char *name = cfg->routing.rules[k].name;
    char *copy = lx_arena_strndup(&ex->arena, name, strlen(name));
    r->skipped_by = copy ? copy : "routing_rule";
    return r->skipped_by;
}

bool lx_proxy_rules_refuse(struct exchange *ex, const char *why)
{
    if (ex->rules == NULL || ex->rules->skipped_by == NULL)
        return false;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "No deployment of model `%s` passes the gateway's routing rules (last to refuse: "
             "`%s`): %s.",
             ex->model, ex->rules->skipped_by, why);
    lx_ex_respond_error(ex, 503, msg, "server_error", NULL, "no_deployment_for_rules");
    return true;
}

/* The price of the deployment the exchange ended on. */
static const struct lx_config_price *price_of(const struct exchange *ex)
{
    if (ex->model_cfg && ex->deployment < lx_config_model_n_deployments(ex->model_cfg))
        return &lx_config_model_deployment(ex->model_cfg, ex->deployment)->price;
    return &ex->cfg->backends[ex->backend_index].price;
}

void lx_proxy_rules_end(struct exchange *ex)
{
    struct lx_proxy *p = ex->p;
    if (ex->t_first_token_us && ex->t_first_token_us >= ex->t_attempt_us && ex->backend[0])
        lx_rules_ttft_note(p->ttft, ex->backend_index,
                           (ex->t_first_token_us - ex->t_attempt_us) / 1000);
    if (!ex->tally.has_usage || !ex->backend[0])
        return;
    int64_t in = ex->tally.prompt_tokens > 0 ? ex->tally.prompt_tokens : 0;
    int64_t out = ex->tally.completion_tokens > 0 ? ex->tally.completion_tokens : 0;
    ex->cost_usd = lx_rules_cost_usd(price_of(ex), (uint64_t)in, (uint64_t)out);
    ex->cost_known = true;
    if (p->spend && ex->key_id[0] && ex->cost_usd > 0)
        lx_store_spend_add(p->spend, ex->key_id, ex->cost_usd);
}

double lx_proxy_spent_usd(struct lx_proxy *p, const char *key_id, double store_spent)
{
    return p->spend && key_id[0] ? lx_store_spend_seen(p->spend, key_id, store_spent) : store_spent;
}

int lx_proxy_routing_init(struct lx_proxy *p)
{
    const struct lx_config *cfg = p->cfg;
    if ((p->ttft = lx_rules_ttft_new(cfg->n_backends)) == NULL)
        return LX_ERR;
    if (cfg->auth.enabled && cfg->auth.store) {
        char err[256];
        if ((p->spend = lx_store_spend_new(cfg->auth.store, err, sizeof(err))) == NULL) {
            lx_log_error("spend: %s", err);
            return LX_ERR;
        }
    }
    return LX_OK;
}

void lx_proxy_routing_release(struct lx_proxy *p)
{
    lx_rules_ttft_free(p->ttft);
    p->ttft = NULL;
    lx_store_spend_free(p->spend);
    p->spend = NULL;
}
