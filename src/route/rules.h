/*
 * rules.h — routing rules (config routing.rules, issue 4 item 6): which
 * deployments of a model a request may go to, given what the request
 * needs (sensitivity, capabilities, a latency or cost budget in a header)
 * and what each deployment offers (local, capabilities, price, recent
 * time to first token).
 *
 * The evaluation is pure: facts about the request and a candidate
 * deployment in, a verdict per rule out. Rules are tried in config order;
 * the first one whose conditions hold and whose test the deployment fails
 * skips it. The proxy asks before each deployment it would try, and
 * `llmux check --explain` prints every verdict.
 *
 * The recent TTFT of each backend lives in a small table (an EWMA, updated
 * at each exchange's first token) that the proxy owns.
 */
#ifndef LX_ROUTE_RULES_H
#define LX_ROUTE_RULES_H

#include "../config/config.h"
#include "../core/arena.h"
#include <stdio.h>

#include "../core/str.h"

/* What the rules know about a request. header returns a request header's
 * value (lowercase name; a NULL ptr when absent); ctx is passed to it. */
struct lx_rules_facts {
    bool sensitive;         /* redaction tagged it */
    uint32_t caps;          /* LX_CAP_* bits it needs */
    uint64_t prompt_tokens; /* estimated: body bytes / 4, rounded up */
    uint64_t output_tokens; /* its max_tokens (or routing.default_output_tokens) */
    lx_str (*header)(void *ctx, const char *name);
    void *ctx;
};

/* A deployment as the rules see it. */
struct lx_rules_cand {
    bool local;
    uint32_t caps;
    struct lx_config_price price;
    int64_t ttft_ms; /* recent time to first token of its backend; -1: not measured yet */
};

enum lx_rules_verdict {
    LX_RULES_NOT_APPLICABLE, /* the rule's conditions do not hold for the request */
    LX_RULES_PASS,           /* they hold and the deployment passes */
    LX_RULES_SKIP,           /* they hold and the deployment fails: skip it */
    LX_RULES_BAD_HEADER,     /* the header the rule compares with is not a number */
};
/* "n/a", "pass", "skip", "bad_header". */
const char *lx_rules_verdict_str(enum lx_rules_verdict v);

/* Verdict of rule r on candidate c for the request f; why (may be NULL)
 * gets a short human explanation ("ttft 812 ms > 500 ms"). Pure. */
enum lx_rules_verdict lx_rules_check(const struct lx_config_rule *r, const struct lx_rules_facts *f,
                                     const struct lx_rules_cand *c, char *why, size_t whylen);

/* Index of the first rule of cfg that skips c, or -1 when it passes all.
 * Call lx_rules_check_headers first: a bad header counts as a pass here. */
int lx_rules_first_skip(const struct lx_config *cfg, const struct lx_rules_facts *f,
                        const struct lx_rules_cand *c);

/* LX_OK when every header an applicable rule compares with is a valid
 * number (ttft: whole milliseconds; cost: US dollars, 0 or more); else
 * LX_ERR with a client-facing message in msg. */
int lx_rules_check_headers(const struct lx_config *cfg, const struct lx_rules_facts *f, char *msg,
                           size_t msglen);

/* The cost in US dollars of in prompt and out completion tokens at p. */
double lx_rules_cost_usd(const struct lx_config_price *p, uint64_t in, uint64_t out);

/* Fills the capabilities and token estimates of f (the rest is the
 * caller's) from a chat or Responses request body: tools (a non-empty
 * "tools"), json_schema (response_format.type or text.format.type), vision
 * (a content part of type image_url or input_image); output tokens from
 * max_completion_tokens, max_tokens or max_output_tokens, else
 * default_output. Token arrays go into a (scratch). */
void lx_rules_read_body(lx_str body, lx_arena *a, uint32_t max_depth, uint32_t default_output,
                        struct lx_rules_facts *f);

/* The candidate for deployment d of the config (its backend's local flag,
 * its capabilities and price) with ttft_ms. */
struct lx_rules_cand lx_rules_cand_of(const struct lx_config *cfg,
                                      const struct lx_config_deployment *d, int64_t ttft_ms);

/* --- recent time to first token, per backend ----------------------------- */

struct lx_rules_ttft;
/* A table for n backends (all unmeasured); NULL when out of memory. */
struct lx_rules_ttft *lx_rules_ttft_new(size_t n);
void lx_rules_ttft_free(struct lx_rules_ttft *t);
/* Folds one measurement into backend b's average (EWMA, weight 0.3 for the
 * new value; the first one is taken as is). */
void lx_rules_ttft_note(struct lx_rules_ttft *t, size_t b, uint64_t ms);
/* Backend b's average in ms, or -1 before its first measurement. */
int64_t lx_rules_ttft_get(const struct lx_rules_ttft *t, size_t b);

#endif

/* --- llmux check --explain ------------------------------------------------ */

struct lx_route;
/* A request header for lx_rules_explain: name lowercase. */
struct lx_rules_header {
    const char *name, *value;
};
/* Prints to out which deployment the sample request body (chat or
 * Responses JSON) would take on r's config and current state, and why:
 * each deployment in try order with its availability and each rule's
 * verdict. sensitive stands for redaction's tag. Returns LX_OK when a
 * deployment would take it, LX_AGAIN when none would (the 503), LX_ERR for
 * a bad sample (unknown model, not JSON, bad header: said on out). */
int lx_rules_explain(struct lx_route *r, lx_str body, const struct lx_rules_header *h, size_t nh,
                     bool sensitive, FILE *out);
