/*
 * limits.c — the rate limits of one exchange (rate_limits): requests and
 * tokens per minute, per API key and per public model name, kept in this
 * process (ratelimit.h) or in Redis shared with other llmux processes
 * (ratelimit_redis.h).
 *
 * Admission runs after routing and before the key's concurrency slot and
 * redaction. Every limit that applies is looked at together, and only when
 * all allow is the request counted, so a refused request costs nothing.
 * Tokens are known only at the end: a request is admitted while its token
 * buckets have at least one token left, and the exchange's actual usage
 * (prompt + completion tokens, as the backend reported them) is charged when
 * it ends, which may put a bucket in debt; the next requests are refused
 * until it has paid off (at tpm tokens per minute).
 *
 * With Redis the check is asynchronous: the exchange waits in
 * limit_pending (kept alive as resp.c's store lookups are) and continues
 * from the answer. When Redis fails or is later than timeout_ms, on_error
 * decides: allow (the request goes on without x-ratelimit-* headers) or
 * deny (503 rate_limit_unavailable); either way a log line (at most one a
 * second) and llmux_rate_limit_store_errors_total.
 */
#include "proxy_int.h"

#include <stdio.h>

#include "../core/clock.h"
#include "../core/log.h"

/* Entries per in-memory limiter: keys come from the key store and model
 * names from the routing table (checked after resolution), so this is far
 * above any real set; past it idle entries are dropped (ratelimit.h). */
enum { RATE_LIMIT_MAX_KEYS = 65536, ERROR_LOG_EVERY_MS = 1000 };

/* The limits, in the order they are checked and reported. */
enum which { KEY_RPM, MODEL_RPM, KEY_TPM, MODEL_TPM, N_WHICH };

static const char *const scopes[N_WHICH] = {"rpm:key:", "rpm:model:", "tpm:key:", "tpm:model:"};
/* ex->rate_limited when refused: the metric's scope label and the record's */
static const char *const refused_names[N_WHICH] = {"key", "model", "key_tokens", "model_tokens"};

/* The limits that apply to one exchange. */
struct plan {
    struct lx_ratelimit_limit l[N_WHICH];
    enum which w[N_WHICH];
    bool own[N_WHICH]; /* the key's own rate, not the configured one (its burst: rate / 6) */
    size_t n;
    struct lx_proxy *p;
};

static uint64_t now_ms(void)
{
    return lx_clock_mono_us() / 1000;
}

int lx_proxy_limits_new(struct lx_proxy *p)
{
    const struct lx_config *cfg = p->cfg;
    uint32_t key_rpm = cfg->rate_limits.per_key_rpm, key_tpm = cfg->rate_limits.per_key_tpm;
    if ((key_rpm || key_tpm) && !cfg->auth.enabled)
        lx_log_warn("rate_limits.per_key_rpm/tpm have no effect while auth is disabled");
    if (cfg->rate_limits.store == LX_RATE_STORE_REDIS) {
        p->redis = lx_ratelimit_redis_new(p->loop, &cfg->rate_limits.redis);
        return p->redis ? LX_OK : LX_ERR;
    }
    /* with auth, always: a key may carry its own rpm and tpm (keys.h) */
    if ((key_rpm || cfg->auth.enabled) &&
        (p->key_limit =
             lx_ratelimit_new(key_rpm ? key_rpm : 60, key_rpm ? cfg->rate_limits.burst : 0,
                              RATE_LIMIT_MAX_KEYS)) == NULL)
        return LX_ERR;
    if (cfg->rate_limits.per_model_rpm &&
        (p->model_limit = lx_ratelimit_new(cfg->rate_limits.per_model_rpm, cfg->rate_limits.burst,
                                           RATE_LIMIT_MAX_KEYS)) == NULL)
        return LX_ERR;
    if ((key_tpm || cfg->auth.enabled) && (p->key_tokens = lx_ratelimit_new_tokens(
                                               key_tpm ? key_tpm : 1, RATE_LIMIT_MAX_KEYS)) == NULL)
        return LX_ERR;
    if (cfg->rate_limits.per_model_tpm &&
        (p->model_tokens =
             lx_ratelimit_new_tokens(cfg->rate_limits.per_model_tpm, RATE_LIMIT_MAX_KEYS)) == NULL)
        return LX_ERR;
    return LX_OK;
}

void lx_proxy_limits_free(struct lx_proxy *p)
{
    lx_ratelimit_free(p->key_limit);
    lx_ratelimit_free(p->model_limit);
    lx_ratelimit_free(p->key_tokens);
    lx_ratelimit_free(p->model_tokens);
    lx_ratelimit_redis_free(p->redis);
    p->key_limit = p->model_limit = p->key_tokens = p->model_tokens = NULL;
    p->redis = NULL;
}

static struct lx_ratelimit *memory_limiter(struct lx_proxy *p, enum which w);

static void add(struct plan *pl, enum which w, bool own, lx_str name, uint32_t rate, uint32_t burst,
                uint64_t cost)
{
    /* a limit turned on by a reload has no limiter: rate limits keep the
     * settings they started with (reload.c) */
    if (pl->p->redis == NULL && memory_limiter(pl->p, w) == NULL)
        return;
    pl->w[pl->n] = w;
    pl->own[pl->n] = own;
    pl->l[pl->n++] = (struct lx_ratelimit_limit){
        .scope = scopes[w], .name = name, .rate = rate, .burst = burst, .cost = cost};
}

/* The limits that apply to ex: requests (cost 1) unless tokens_only, and
 * tokens (cost tokens: 0 at admission, the usage at the end). A key's own
 * rpm and tpm come before the config's per_key_*. */
static void make_plan(const struct exchange *ex, bool tokens_only, uint64_t tokens, struct plan *pl)
{
    const struct lx_config *cfg = ex->cfg;
    lx_str key = lx_str_from_cstr(ex->key_id), model = lx_str_from_cstr(ex->model);
    pl->p = ex->p;
    bool keyed = ex->key_id[0] && cfg->auth.enabled;
    uint32_t burst = cfg->rate_limits.burst;
    pl->n = 0;
    if (!tokens_only) {
        if (keyed && ex->key_rpm)
            add(pl, KEY_RPM, true, key, ex->key_rpm, lx_ratelimit_default_burst(ex->key_rpm), 1);
        else if (keyed && cfg->rate_limits.per_key_rpm)
            add(pl, KEY_RPM, false, key, cfg->rate_limits.per_key_rpm,
                burst ? burst : lx_ratelimit_default_burst(cfg->rate_limits.per_key_rpm), 1);
        if (cfg->rate_limits.per_model_rpm)
            add(pl, MODEL_RPM, false, model, cfg->rate_limits.per_model_rpm,
                burst ? burst : lx_ratelimit_default_burst(cfg->rate_limits.per_model_rpm), 1);
    }
    uint32_t ktpm = ex->key_tpm ? ex->key_tpm : cfg->rate_limits.per_key_tpm;
    if (keyed && ktpm)
        add(pl, KEY_TPM, ex->key_tpm != 0, key, ktpm, ktpm, tokens);
    if (cfg->rate_limits.per_model_tpm)
        add(pl, MODEL_TPM, false, model, cfg->rate_limits.per_model_tpm,
            cfg->rate_limits.per_model_tpm, tokens);
}

static bool is_tokens(enum which w)
{
    return w == KEY_TPM || w == MODEL_TPM;
}

static void note_headers(struct exchange *ex, bool tokens, const struct lx_ratelimit_result *r)
{
    char *limit = tokens ? ex->rlt_limit : ex->rl_limit;
    char *remaining = tokens ? ex->rlt_remaining : ex->rl_remaining;
    snprintf(limit, sizeof(ex->rl_limit), "%u", r->limit);
    snprintf(remaining, sizeof(ex->rl_remaining), "%u", r->remaining);
    lx_ratelimit_format_duration(r->reset_ms, tokens ? ex->rlt_reset : ex->rl_reset);
}

/* Answers 429 rate_limit_exceeded for the limit r refused, with
 * Retry-After in whole seconds (at least 1). */
static void refuse(struct exchange *ex, enum which w, const struct lx_ratelimit_result *r)
{
    uint64_t secs = LX_MAX((r->retry_after_ms + 999) / 1000, 1u);
    bool by_key = w == KEY_RPM || w == KEY_TPM;
    char msg[320], v[24], wait[LX_RATELIMIT_DURATION_LEN];
    snprintf(msg, sizeof(msg),
             "Rate limit reached for %s on %s%s%s: Limit %u. Please try again in %s.",
             is_tokens(w) ? "tokens per minute (TPM)" : "requests per minute (RPM)",
             by_key ? "API key " : "model `", by_key ? ex->key_id : ex->model, by_key ? "" : "`",
             r->limit, lx_ratelimit_format_duration(r->retry_after_ms, wait));
    int n = snprintf(v, sizeof(v), "%lu", (unsigned long)secs);
    lx_http_header h = {"retry-after", v, (size_t)n};
    ex->rate_limited = refused_names[w];
    note_headers(ex, is_tokens(w), r);
    lx_proxy_refuse(ex, 429, msg, "rate_limit_error", NULL, "rate_limit_exceeded", &h);
}

/* Refuses with the first limit that said no, or notes the headers of the
 * tightest request limit and the tightest token limit (fewest remaining,
 * then the later reset). LX_OK: admitted. */
static int decide(struct exchange *ex, const struct plan *pl, struct lx_ratelimit_result *res)
{
    const struct lx_ratelimit_result *tight[2] = {NULL, NULL};
    for (size_t i = 0; i < pl->n; i++) {
        res[i].limit = pl->l[i].rate;
        if (!res[i].allowed) {
            refuse(ex, pl->w[i], &res[i]);
            return LX_ERR;
        }
        const struct lx_ratelimit_result **t = &tight[is_tokens(pl->w[i])];
        if (*t == NULL || res[i].remaining < (*t)->remaining ||
            (res[i].remaining == (*t)->remaining && res[i].reset_ms > (*t)->reset_ms))
            *t = &res[i];
    }
    for (int k = 0; k < 2; k++)
        if (tight[k])
            note_headers(ex, k == 1, tight[k]);
    ex->limits_admitted = true;
    return LX_OK;
}

static struct lx_ratelimit *memory_limiter(struct lx_proxy *p, enum which w)
{
    struct lx_ratelimit *const l[N_WHICH] = {p->key_limit, p->model_limit, p->key_tokens,
                                             p->model_tokens};
    return l[w];
}

/* The in-memory check: every limit peeked at, then the requests counted
 * when all allow. */
static void memory_check(struct exchange *ex, const struct plan *pl,
                         struct lx_ratelimit_result *res)
{
    uint64_t now = now_ms();
    bool all = true;
    for (size_t i = 0; i < pl->n; i++) {
        struct lx_ratelimit *rl = memory_limiter(ex->p, pl->w[i]);
        /* 0: the limiter's own rate and burst (the configured ones) */
        uint32_t rate = pl->own[i] ? pl->l[i].rate : 0;
        if (is_tokens(pl->w[i]))
            lx_ratelimit_tokens_check(rl, pl->l[i].name, rate, now, &res[i]);
        else
            lx_ratelimit_check_rate(rl, pl->l[i].name, rate, now, false, &res[i]);
        all = all && res[i].allowed;
    }
    for (size_t i = 0; all && i < pl->n; i++) {
        if (!is_tokens(pl->w[i]))
            lx_ratelimit_check_rate(memory_limiter(ex->p, pl->w[i]), pl->l[i].name,
                                    pl->own[i] ? pl->l[i].rate : 0, now, true, &res[i]);
    }
}

/* Redis failed for ex: a log line (at most one a second), the metric, and
 * on_error's answer. LX_OK: allowed. */
static int store_failed(struct exchange *ex, const char *what)
{
    struct lx_proxy *p = ex->p;
    bool deny = p->cfg->rate_limits.redis.deny_on_error;
    uint64_t now = now_ms();
    if (p->limit_error_logged_ms == 0 || now - p->limit_error_logged_ms >= ERROR_LOG_EVERY_MS) {
        p->limit_error_logged_ms = now;
        lx_log_warn("%s: rate limits: redis %s; on_error %s", ex->request_id, what,
                    deny ? "deny: refused" : "allow: let through");
    }
    lx_proxy_observe_limit_error(p, deny ? "deny" : "allow");
    if (!deny)
        return LX_OK;
    lx_http_header h = {"retry-after", "1", 1};
    lx_proxy_refuse(ex, 503, "The rate-limit store is unavailable; try again.", "server_error",
                    NULL, "rate_limit_unavailable", &h);
    return LX_ERR;
}

/* What Redis said, for an exchange that waited: the same plan is made
 * again (it depends only on the exchange). */
static void on_redis(void *data, int rc, const struct lx_ratelimit_result *results, size_t n)
{
    struct exchange *ex = data;
    void (*resume)(struct exchange *) = ex->limit_resume;
    ex->limit_pending = false;
    if (ex->req == NULL || ex->client_finished) {
        lx_ex_maybe_free(ex);
        return;
    }
    struct plan pl;
    make_plan(ex, false, 0, &pl);
    struct lx_ratelimit_result res[N_WHICH];
    int ok;
    if (rc != LX_OK || n != pl.n) {
        ok = store_failed(ex, rc != LX_OK ? "failed or timed out" : "answered out of shape");
    } else {
        memcpy(res, results, n * sizeof(*res));
        ok = decide(ex, &pl, res);
    }
    if (ok == LX_OK)
        resume(ex);
    lx_ex_maybe_free(ex);
}

int lx_proxy_limits_admit(struct exchange *ex, void (*resume)(struct exchange *ex))
{
    struct plan pl;
    make_plan(ex, false, 0, &pl);
    if (pl.n == 0)
        return LX_OK;
    struct lx_ratelimit_result res[N_WHICH];
    if (ex->p->redis == NULL) {
        memory_check(ex, &pl, res);
        return decide(ex, &pl, res);
    }
    if (lx_ratelimit_redis_check(ex->p->redis, pl.l, pl.n, on_redis, ex) != LX_OK)
        return store_failed(ex, "is not connected");
    ex->limit_resume = resume;
    ex->limit_pending = true;
    return LX_AGAIN;
}

void lx_proxy_limits_charge(struct exchange *ex)
{
    const struct lx_chat_tally *t = &ex->tally;
    if (!ex->limits_admitted || !t->has_usage)
        return;
    uint64_t tokens =
        (uint64_t)LX_MAX(t->prompt_tokens, 0) + (uint64_t)LX_MAX(t->completion_tokens, 0);
    struct plan pl;
    make_plan(ex, true, tokens, &pl);
    if (pl.n == 0 || tokens == 0)
        return;
    struct lx_proxy *p = ex->p;
    if (p->redis == NULL) {
        uint64_t now = now_ms();
        for (size_t i = 0; i < pl.n; i++)
            lx_ratelimit_tokens_charge(memory_limiter(p, pl.w[i]), pl.l[i].name,
                                       pl.own[i] ? pl.l[i].rate : 0, tokens, now);
        return;
    }
    if (lx_ratelimit_redis_charge(p->redis, pl.l, pl.n) != LX_OK) {
        lx_log_warn("%s: rate limits: redis is not connected; %llu tokens not charged",
                    ex->request_id, (unsigned long long)tokens);
        lx_proxy_observe_limit_error(p, "uncharged");
    }
}
