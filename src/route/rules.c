/*
 * rules.c — routing rules over request facts and candidate deployments
 * (see rules.h), and the per-backend TTFT average they compare with.
 */
#include "rules.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"

const char *lx_rules_verdict_str(enum lx_rules_verdict v)
{
    switch (v) {
    case LX_RULES_NOT_APPLICABLE:
        return "n/a";
    case LX_RULES_PASS:
        return "pass";
    case LX_RULES_SKIP:
        return "skip";
    case LX_RULES_BAD_HEADER:
        return "bad_header";
    }
    return "?";
}

double lx_rules_cost_usd(const struct lx_config_price *p, uint64_t in, uint64_t out)
{
    return ((double)in * p->input_per_mtok + (double)out * p->output_per_mtok) / 1e6;
}

/* A header value as a number: digits with at most one '.', at most 32
 * bytes (so "1e400", "-1", "nan" and " 5" are all refused). */
static bool header_number(lx_str v, bool integer, double *out)
{
    char tmp[33];
    if (v.ptr == NULL || v.len == 0 || v.len >= sizeof(tmp))
        return false;
    memcpy(tmp, v.ptr, v.len);
    tmp[v.len] = '\0';
    size_t digits = strspn(tmp, "0123456789");
    if (digits == 0)
        return false;
    if (tmp[digits] == '.' && !integer)
        digits += 1 + strspn(tmp + digits + 1, "0123456789");
    if (tmp[digits] != '\0')
        return false;
    errno = 0;
    *out = strtod(tmp, NULL);
    return errno == 0 && isfinite(*out);
}

static bool conditions_hold(const struct lx_config_rule *r, const struct lx_rules_facts *f)
{
    if (r->when_sensitive >= 0 && f->sensitive != (r->when_sensitive == 1))
        return false;
    if (r->when_capability && !(f->caps & r->when_capability))
        return false;
    if (r->when_header && (f->header == NULL || f->header(f->ctx, r->when_header).ptr == NULL))
        return false;
    return true;
}

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (why == NULL || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

enum lx_rules_verdict lx_rules_check(const struct lx_config_rule *r, const struct lx_rules_facts *f,
                                     const struct lx_rules_cand *c, char *why, size_t whylen)
{
    say(why, whylen, "conditions do not hold");
    if (!conditions_hold(r, f))
        return LX_RULES_NOT_APPLICABLE;
    if (r->require_local && !c->local) {
        say(why, whylen, "backend is not local");
        return LX_RULES_SKIP;
    }
    if (r->require_capability && !(c->caps & r->require_capability)) {
        say(why, whylen, "lacks capability %s", lx_config_cap_name(r->require_capability));
        return LX_RULES_SKIP;
    }
    lx_str hv = r->when_header ? f->header(f->ctx, r->when_header) : (lx_str){0};
    double limit = 0;
    if (r->skip_if_ttft_over_header) {
        if (!header_number(hv, true, &limit)) {
            say(why, whylen, "header %s is not a whole number of ms", r->when_header);
            return LX_RULES_BAD_HEADER;
        }
        if (c->ttft_ms >= 0 && (double)c->ttft_ms > limit) {
            say(why, whylen, "ttft %lld ms > %.0f ms", (long long)c->ttft_ms, limit);
            return LX_RULES_SKIP;
        }
    }
    if (r->skip_if_cost_over_header) {
        if (!header_number(hv, false, &limit)) {
            say(why, whylen, "header %s is not a number of USD", r->when_header);
            return LX_RULES_BAD_HEADER;
        }
        double cost = lx_rules_cost_usd(&c->price, f->prompt_tokens, f->output_tokens);
        if (cost > limit) {
            say(why, whylen, "est. cost %.6f USD > %.6f USD", cost, limit);
            return LX_RULES_SKIP;
        }
    }
    if (r->skip_if_ttft_over_header && c->ttft_ms < 0)
        say(why, whylen, "ttft not measured yet");
    else
        say(why, whylen, "ok");
    return LX_RULES_PASS;
}

int lx_rules_first_skip(const struct lx_config *cfg, const struct lx_rules_facts *f,
                        const struct lx_rules_cand *c)
{
    for (size_t i = 0; i < cfg->routing.n_rules; i++)
        if (lx_rules_check(&cfg->routing.rules[i], f, c, NULL, 0) == LX_RULES_SKIP)
            return (int)i;
    return -1;
}

int lx_rules_check_headers(const struct lx_config *cfg, const struct lx_rules_facts *f, char *msg,
                           size_t msglen)
{
    /* a candidate that passes every test, so only the header can fail */
    struct lx_rules_cand any = {.local = true, .caps = LX_CAP_ALL, .ttft_ms = -1};
    for (size_t i = 0; i < cfg->routing.n_rules; i++) {
        const struct lx_config_rule *r = &cfg->routing.rules[i];
        if (lx_rules_check(r, f, &any, NULL, 0) != LX_RULES_BAD_HEADER)
            continue;
        say(msg, msglen, "The header %s must be %s (routing rule `%s`).", r->when_header,
            r->skip_if_ttft_over_header ? "a whole number of milliseconds"
                                        : "a number of US dollars",
            r->name);
        return LX_ERR;
    }
    return LX_OK;
}

static bool is_type(const lx_json *j, int obj, const char *type)
{
    int t = lx_json_get(j, obj, "type");
    return t >= 0 && lx_json_str_eq(j, t, type);
}

/* True when any object under token i has "type": image_url or input_image. */
static bool has_image(const lx_json *j, int i)
{
    for (int end = lx_json_skip(j, i); i < end; i++)
        if (j->tok[i].type == JSMN_OBJECT &&
            (is_type(j, i, "image_url") || is_type(j, i, "input_image")))
            return true;
    return false;
}

void lx_rules_read_body(lx_str body, lx_arena *a, uint32_t max_depth, uint32_t default_output,
                        struct lx_rules_facts *f)
{
    f->caps = 0;
    f->prompt_tokens = (body.len + 3) / 4;
    f->output_tokens = default_output;
    lx_json j;
    if (lx_json_parse(&j, body.ptr ? body.ptr : "", body.len, a, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        return;
    int tools = lx_json_get(&j, 0, "tools");
    if (tools >= 0 && lx_json_is_array(&j, tools) && lx_json_size(&j, tools) > 0)
        f->caps |= LX_CAP_TOOLS;
    int rf = lx_json_get(&j, 0, "response_format");
    int text = lx_json_get(&j, 0, "text");
    int fmt = text >= 0 && lx_json_is_object(&j, text) ? lx_json_get(&j, text, "format") : -1;
    if ((rf >= 0 && lx_json_is_object(&j, rf) && is_type(&j, rf, "json_schema")) ||
        (fmt >= 0 && lx_json_is_object(&j, fmt) && is_type(&j, fmt, "json_schema")))
        f->caps |= LX_CAP_JSON_SCHEMA;
    int msgs = lx_json_get(&j, 0, "messages");
    int input = lx_json_get(&j, 0, "input");
    if ((msgs >= 0 && has_image(&j, msgs)) || (input >= 0 && has_image(&j, input)))
        f->caps |= LX_CAP_VISION;
    static const char *const max_keys[] = {"max_completion_tokens", "max_tokens",
                                           "max_output_tokens"};
    for (size_t k = 0; k < sizeof(max_keys) / sizeof(max_keys[0]); k++) {
        int t = lx_json_get(&j, 0, max_keys[k]);
        int64_t v;
        if (t >= 0 && lx_json_int64(&j, t, &v) == LX_OK && v >= 0) {
            f->output_tokens = (uint64_t)v;
            break;
        }
    }
}

struct lx_rules_cand lx_rules_cand_of(const struct lx_config *cfg,
                                      const struct lx_config_deployment *d, int64_t ttft_ms)
{
    return (struct lx_rules_cand){.local = cfg->backends[d->backend].local,
                                  .caps = d->capabilities,
                                  .price = d->price,
                                  .ttft_ms = ttft_ms};
}

/* ---- TTFT average --------------------------------------------------------- */

struct lx_rules_ttft {
    size_t n;
    double avg[]; /* < 0: not measured */
};

struct lx_rules_ttft *lx_rules_ttft_new(size_t n)
{
    struct lx_rules_ttft *t = malloc(sizeof(*t) + (n ? n : 1) * sizeof(double));
    if (t == NULL)
        return NULL;
    t->n = n;
    for (size_t i = 0; i < n; i++)
        t->avg[i] = -1;
    return t;
}

void lx_rules_ttft_free(struct lx_rules_ttft *t)
{
    free(t);
}

void lx_rules_ttft_note(struct lx_rules_ttft *t, size_t b, uint64_t ms)
{
    if (t == NULL || b >= t->n)
        return;
    t->avg[b] = t->avg[b] < 0 ? (double)ms : 0.7 * t->avg[b] + 0.3 * (double)ms;
}

int64_t lx_rules_ttft_get(const struct lx_rules_ttft *t, size_t b)
{
    if (t == NULL || b >= t->n || t->avg[b] < 0)
        return -1;
    return (int64_t)llround(t->avg[b]);
}
