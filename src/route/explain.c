/*
 * explain.c — `llmux check --explain`: the routing decision for a sample
 * request, rule by rule, over a config and a route state (rules.h). Pure
 * apart from the printing: nothing is sent, nothing is counted.
 */
#include <string.h>
#include <strings.h>

#include "../core/clock.h"
#include "../json/json.h"
#include "route.h"
#include "rules.h"

struct sample_headers {
    const struct lx_rules_header *h;
    size_t n;
};

static lx_str sample_header(void *ctx, const char *name)
{
    const struct sample_headers *s = ctx;
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->h[i].name, name) == 0)
            return lx_str_from_cstr(s->h[i].value);
    return LX_STR_NULL;
}

static void print_caps(FILE *out, uint32_t caps)
{
    bool any = false;
    for (uint32_t bit = 1; bit & LX_CAP_ALL; bit <<= 1)
        if (caps & bit) {
            fprintf(out, "%s%s", any ? "," : "", lx_config_cap_name(bit));
            any = true;
        }
    if (!any)
        fputs("none", out);
}

/* The verdicts for deployment d; true when every rule lets it through. */
static bool explain_one(const struct lx_config *cfg, const struct lx_rules_facts *f,
                        const struct lx_rules_cand *c, FILE *out)
{
    bool ok = true;
    for (size_t i = 0; i < cfg->routing.n_rules; i++) {
        char why[128];
        enum lx_rules_verdict v = lx_rules_check(&cfg->routing.rules[i], f, c, why, sizeof(why));
        fprintf(out, "      rule %-24s %-5s %s\n", cfg->routing.rules[i].name,
                lx_rules_verdict_str(v), why);
        if (v == LX_RULES_SKIP)
            ok = false;
    }
    return ok;
}

/* The model named by the sample's "model" into name. */
static int sample_model(lx_str body, char *name, size_t n, FILE *out)
{
    lx_arena a;
    lx_arena_init(&a, (size_t)64 << 20);
    lx_json j;
    int rc = LX_ERR;
    if (lx_json_parse(&j, body.ptr ? body.ptr : "", body.len, &a, 64) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0)) {
        fputs("explain: the sample request is not a JSON object\n", out);
        goto release_arena;
    }
    int m = lx_json_get(&j, 0, "model");
    if (m < 0 || !lx_json_is_string(&j, m) || lx_json_raw(&j, m).len >= n) {
        fputs("explain: the sample request has no \"model\" string\n", out);
        goto release_arena;
    }
    lx_str s = lx_json_raw(&j, m);
    memcpy(name, s.ptr, s.len);
    name[s.len] = '\0';
    rc = LX_OK;
release_arena:
    lx_arena_release(&a);
    return rc;
}

int lx_rules_explain(struct lx_route *r, lx_str body, const struct lx_rules_header *h, size_t nh,
                     bool sensitive, FILE *out)
{
    const struct lx_config *cfg = lx_route_config(r);
    char name[256];
    struct lx_route_target t;
    if (sample_model(body, name, sizeof(name), out) != LX_OK)
        return LX_ERR;
    if (lx_route_lookup(r, lx_str_from_cstr(name), &t) != LX_OK) {
        fprintf(out, "explain: model `%s` is not known\n", name);
        return LX_ERR;
    }
    struct sample_headers sh = {h, nh};
    struct lx_rules_facts f = {.sensitive = sensitive, .header = sample_header, .ctx = &sh};
    lx_arena a;
    lx_arena_init(&a, (size_t)64 << 20);
    lx_rules_read_body(body, &a, 64, cfg->routing.default_output_tokens, &f);
    lx_arena_release(&a);
    char msg[256];
    if (lx_rules_check_headers(cfg, &f, msg, sizeof(msg)) != LX_OK) {
        fprintf(out, "explain: 400 %s\n", msg);
        return LX_ERR;
    }
    bool renamed = t.model && strcmp(t.model->name, name) != 0;
    fprintf(out, "request: model %s%s%s, sensitive %s, needs ", name, renamed ? " -> " : "",
            renamed ? t.model->name : "", sensitive ? "yes" : "no");
    print_caps(out, f.caps);
    fprintf(out, ", ~%llu prompt + %llu output tokens\n", (unsigned long long)f.prompt_tokens,
            (unsigned long long)f.output_tokens);
    const struct lx_config_model *m = t.model;
    if (m && m->ab.enabled)
        fprintf(out, "note: A/B split to `%s` (share %.2f) not drawn; arm a shown\n",
                cfg->models[m->ab.model].name, m->ab.share);
    uint64_t now = lx_clock_mono_us() / 1000;
    size_t total = m ? lx_config_model_n_deployments(m) : 1;
    uint32_t blocked = 0; /* set members a rule or availability rules out */
    int first_fallback = -1;
    for (size_t k = 0; k < total; k++) {
        const struct lx_config_deployment *d = m ? lx_config_model_deployment(m, k) : NULL;
        size_t bi = d ? d->backend : t.backend_index;
        const struct lx_config_backend *b = &cfg->backends[bi];
        struct lx_rules_cand c =
            d ? lx_rules_cand_of(cfg, d, -1)
              : (struct lx_rules_cand){b->local, b->capabilities, b->price, -1};
        bool probe = false;
        enum lx_route_avail av =
            lx_route_choose(r, bi, d && d->pinned ? d->upstream_model : NULL, now, &probe);
        fprintf(out, "  %s %s/%s: local %s, caps ", m && k >= m->n_deployments ? "fallback" : "set",
                b->name, d ? d->upstream_model : t.upstream_model, b->local ? "yes" : "no");
        print_caps(out, c.caps);
        fprintf(out, ", est. cost %.6f USD, %s\n",
                lx_rules_cost_usd(&c.price, f.prompt_tokens, f.output_tokens),
                lx_route_avail_str(av));
        bool ok = explain_one(cfg, &f, &c, out) && av == LX_ROUTE_AVAILABLE;
        if (sensitive && !b->local) {
            fputs("      redaction tag: not_local\n", out);
            ok = false;
        }
        if (m && k < m->n_deployments && !ok)
            blocked |= 1u << k;
        if (ok && (m == NULL || k >= m->n_deployments) && first_fallback < 0)
            first_fallback = (int)k;
    }
    if (m && blocked != (1u << m->n_deployments) - 1) {
        enum lx_route_avail skipped[32];
        struct lx_route_pick pick;
        if (lx_route_pick(r, m, &blocked, skipped, now, &pick) == LX_OK) {
            const struct lx_config_deployment *d = &m->deployments[pick.deployment];
            fprintf(out, "takes: %s/%s (balanced set, %s among %u)\n",
                    cfg->backends[d->backend].name, d->upstream_model, lx_balance_name(m->balance),
                    pick.candidates);
            return LX_OK;
        }
    }
    if (first_fallback >= 0) {
        const struct lx_config_deployment *d =
            m ? lx_config_model_deployment(m, (size_t)first_fallback) : NULL;
        fprintf(out, "takes: %s/%s%s\n", cfg->backends[d ? d->backend : t.backend_index].name,
                d ? d->upstream_model : t.upstream_model, m ? " (fallback)" : "");
        return LX_OK;
    }
    fputs("takes: none (503: no deployment passes the rules)\n", out);
    return LX_AGAIN;
}
