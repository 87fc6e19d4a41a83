/*
 * test_rules.c — unit tests for route/rules.h: each rule kind's verdict on
 * candidates (pure: facts + candidate in, verdict out), the order of rules,
 * header validation, cost arithmetic, reading facts from request bodies,
 * the TTFT average, and the config keys of routing rules, prices,
 * capabilities and pins with their FILE:LINE:COL errors.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "route/route.h"
#include "route/rules.h"

static char err[512];

static struct lx_config *load(const char *text)
{
    struct lx_config *c = NULL;
    err[0] = '\0';
    if (lx_config_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err)) != LX_OK)
        return NULL;
    return c;
}

static void expect_error(const char *text, const char *message)
{
    struct lx_config *c = load(text);
    if (c)
        lx_config_unref(c);
    cr_assert_null(c, "expected an error for:\n%s", text);
    cr_assert_str_eq(err, message);
}

/* Request headers for the facts: "name=value" pairs, NULL-terminated. */
static const char *const *hdrs;
static lx_str header(void *ctx, const char *name)
{
    (void)ctx;
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        if (strcmp(hdrs[i], name) == 0)
            return lx_str_from_cstr(hdrs[i + 1]);
    return LX_STR_NULL;
}

static struct lx_rules_facts facts(bool sensitive, uint32_t caps, uint64_t in, uint64_t out)
{
    return (struct lx_rules_facts){sensitive, caps, in, out, header, NULL};
}

static const struct lx_rules_cand local_all = {true, LX_CAP_ALL, {0, 0}, -1};
static const struct lx_rules_cand remote_tools = {false, LX_CAP_TOOLS, {10, 30}, 800};

Test(rules, require_local_applies_only_when_its_condition_holds)
{
    struct lx_config_rule r = {.name = "private", .when_sensitive = 1, .require_local = true};
    struct lx_rules_facts tagged = facts(true, 0, 10, 10), plain = facts(false, 0, 10, 10);
    char why[128];
    cr_assert_eq(lx_rules_check(&r, &tagged, &remote_tools, why, sizeof(why)), LX_RULES_SKIP);
    cr_assert_str_eq(why, "backend is not local");
    cr_assert_eq(lx_rules_check(&r, &tagged, &local_all, why, sizeof(why)), LX_RULES_PASS);
    cr_assert_eq(lx_rules_check(&r, &plain, &remote_tools, why, sizeof(why)),
                 LX_RULES_NOT_APPLICABLE);
    r.when_sensitive = 0; /* the opposite condition */
    cr_assert_eq(lx_rules_check(&r, &plain, &remote_tools, NULL, 0), LX_RULES_SKIP);
}

Test(rules, capability_rule_matches_request_needs_against_the_deployment)
{
    struct lx_config_rule r = {.name = "vision",
                               .when_sensitive = -1,
                               .when_capability = LX_CAP_VISION,
                               .require_capability = LX_CAP_VISION};
    struct lx_rules_facts img = facts(false, LX_CAP_VISION | LX_CAP_TOOLS, 1, 1);
    struct lx_rules_facts txt = facts(false, LX_CAP_TOOLS, 1, 1);
    char why[128];
    cr_assert_eq(lx_rules_check(&r, &img, &remote_tools, why, sizeof(why)), LX_RULES_SKIP);
    cr_assert_str_eq(why, "lacks capability vision");
    cr_assert_eq(lx_rules_check(&r, &img, &local_all, NULL, 0), LX_RULES_PASS);
    cr_assert_eq(lx_rules_check(&r, &txt, &remote_tools, NULL, 0), LX_RULES_NOT_APPLICABLE);
}

Test(rules, ttft_rule_compares_the_average_with_the_header)
{
    struct lx_config_rule r = {.name = "latency",
                               .when_sensitive = -1,
                               .when_header = "x-max-ttft",
                               .skip_if_ttft_over_header = true};
    struct lx_rules_facts f = facts(false, 0, 1, 1);
    char why[128];
    static const char *const h500[] = {"x-max-ttft", "500", NULL};
    static const char *const h800[] = {"x-max-ttft", "800", NULL};
    static const char *const hbad[] = {"x-max-ttft", "1.5", NULL};
    hdrs = NULL;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, NULL, 0), LX_RULES_NOT_APPLICABLE);
    hdrs = h500;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, why, sizeof(why)), LX_RULES_SKIP);
    cr_assert_str_eq(why, "ttft 800 ms > 500 ms");
    cr_assert_eq(lx_rules_check(&r, &f, &local_all, why, sizeof(why)), LX_RULES_PASS);
    cr_assert_str_eq(why, "ttft not measured yet"); /* unmeasured: let it be measured */
    hdrs = h800;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, NULL, 0), LX_RULES_PASS); /* not over */
    hdrs = hbad;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, NULL, 0), LX_RULES_BAD_HEADER);
    hdrs = NULL;
}

Test(rules, cost_rule_estimates_prompt_and_output_at_the_price)
{
    struct lx_config_rule r = {.name = "cost",
                               .when_sensitive = -1,
                               .when_header = "x-max-cost",
                               .skip_if_cost_over_header = true};
    /* 1000 in at 10/M + 100 out at 30/M = 0.01 + 0.003 = 0.013 USD */
    struct lx_rules_facts f = facts(false, 0, 1000, 100);
    cr_assert_float_eq(lx_rules_cost_usd(&remote_tools.price, 1000, 100), 0.013, 1e-15);
    static const char *const under[] = {"x-max-cost", "0.012", NULL};
    static const char *const equal[] = {"x-max-cost", "0.013", NULL};
    static const char *const bad[][3] = {{"x-max-cost", "-1", NULL},
                                         {"x-max-cost", "1e3", NULL},
                                         {"x-max-cost", "", NULL},
                                         {"x-max-cost", " 1", NULL},
                                         {"x-max-cost", "nan", NULL}};
    char why[128];
    hdrs = under;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, why, sizeof(why)), LX_RULES_SKIP);
    cr_assert_str_eq(why, "est. cost 0.013000 USD > 0.012000 USD");
    cr_assert_eq(lx_rules_check(&r, &f, &local_all, NULL, 0), LX_RULES_PASS); /* price 0 */
    hdrs = equal;
    cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, NULL, 0), LX_RULES_PASS);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hdrs = bad[i];
        cr_assert_eq(lx_rules_check(&r, &f, &remote_tools, NULL, 0), LX_RULES_BAD_HEADER, "%s",
                     bad[i][1]);
    }
    hdrs = NULL;
}

static const char rules_yaml[] =
    "backends:\n"
    "  - {name: a, url: 'http://10.0.0.1/v1', price: {input_per_mtok: 2.5, output_per_mtok: 10}}\n"
    "  - {name: b, url: 'http://example.com/v1', capabilities: [tools, json_schema]}\n"
    "models:\n"
    "  - name: m\n"
    "    deployments:\n"
    "      - {backend: a, upstream_model: x}\n"
    "      - {backend: b, upstream_model: y, price: {input_per_mtok: 0.5, output_per_mtok: 1.5}}\n"
    "    fallbacks:\n"
    "      - {backend: b, upstream_model: z, capabilities: [vision], digest: "
    "'sha256:0123456789ab'}\n"
    "routing:\n"
    "  default_output_tokens: 200\n"
    "  rules:\n"
    "    - {name: private, when: {sensitive: true}, require: {local: true}}\n"
    "    - {name: cost, when: {header: X-Max-Cost}, skip_if_cost_over_header: true}\n"
    "    - {name: vision, when: {capability: vision}, require: {capability: vision}}\n";

Test(rules, config_reads_prices_capabilities_and_rules_with_inheritance)
{
    struct lx_config *c = load(rules_yaml);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *m = &c->models[0];
    const struct lx_config_deployment *a = &m->deployments[0], *b = &m->deployments[1],
                                      *z = &m->fallbacks[0];
    cr_assert_float_eq(a->price.input_per_mtok, 2.5, 0); /* from backend a */
    cr_assert_float_eq(a->price.output_per_mtok, 10, 0);
    cr_assert_eq(a->capabilities, LX_CAP_ALL);
    cr_assert_float_eq(b->price.input_per_mtok, 0.5, 0);              /* its own */
    cr_assert_eq(b->capabilities, LX_CAP_TOOLS | LX_CAP_JSON_SCHEMA); /* backend b's */
    cr_assert_eq(z->capabilities, LX_CAP_VISION);
    cr_assert_float_eq(z->price.input_per_mtok, 0, 0); /* backend b has no price */
    cr_assert_str_eq(z->digest, "sha256:0123456789ab");
    cr_assert_eq(c->routing.n_rules, 3);
    cr_assert_eq(c->routing.default_output_tokens, 200);
    cr_assert_str_eq(c->routing.rules[1].when_header, "x-max-cost"); /* lowercased */
    cr_assert_eq(c->routing.rules[0].when_sensitive, 1);
    cr_assert_eq(c->routing.rules[1].when_sensitive, -1);
    cr_assert_eq(c->backends[0].pin_check, LX_PIN_CHECK_MODELS);
    lx_config_unref(c);
}

Test(rules, the_first_rule_that_skips_is_named_in_order)
{
    struct lx_config *c = load(rules_yaml);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *m = &c->models[0];
    static const char *const cheap[] = {"x-max-cost", "0.001", NULL};
    hdrs = cheap;
    struct lx_rules_facts f = facts(true, LX_CAP_VISION, 100, 100);
    /* a (local, 2.5/10): 0.00025 + 0.001 = 0.00125 > 0.001: cost */
    struct lx_rules_cand ca = lx_rules_cand_of(c, &m->deployments[0], -1);
    cr_assert(ca.local);
    cr_assert_eq(lx_rules_first_skip(c, &f, &ca), 1);
    /* b: not local, so "private" comes first although it also lacks vision */
    struct lx_rules_cand cb = lx_rules_cand_of(c, &m->deployments[1], -1);
    cr_assert_eq(lx_rules_first_skip(c, &f, &cb), 0);
    f.sensitive = false;
    cr_assert_eq(lx_rules_first_skip(c, &f, &cb), 2); /* 0.0002 USD passes; no vision */
    struct lx_rules_cand cz = lx_rules_cand_of(c, &m->fallbacks[0], -1);
    cr_assert_eq(lx_rules_first_skip(c, &f, &cz), -1);
    char msg[256];
    cr_assert_eq(lx_rules_check_headers(c, &f, msg, sizeof(msg)), LX_OK);
    static const char *const junk[] = {"x-max-cost", "cheap", NULL};
    hdrs = junk;
    cr_assert_eq(lx_rules_check_headers(c, &f, msg, sizeof(msg)), LX_ERR);
    cr_assert_str_eq(msg, "The header x-max-cost must be a number of US dollars (routing rule "
                          "`cost`).");
    hdrs = NULL;
    lx_config_unref(c);
}

static struct lx_rules_facts read_body(const char *body)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    struct lx_rules_facts f = facts(false, 0, 0, 0);
    lx_rules_read_body(lx_str_from_cstr(body), &a, 64, 1024, &f);
    lx_arena_release(&a);
    return f;
}

Test(rules, request_bodies_yield_capabilities_and_token_estimates)
{
    struct lx_rules_facts f = read_body("{\"model\":\"m\",\"messages\":[]}");
    cr_assert_eq(f.caps, 0);
    cr_assert_eq(f.prompt_tokens, 7); /* 28 bytes / 4 */
    cr_assert_eq(f.output_tokens, 1024);
    f = read_body("{\"model\":\"m\",\"tools\":[{\"type\":\"function\"}],\"max_tokens\":50,"
                  "\"response_format\":{\"type\":\"json_schema\"},\"messages\":[{\"role\":"
                  "\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}");
    cr_assert_eq(f.caps, LX_CAP_ALL);
    cr_assert_eq(f.output_tokens, 50);
    f = read_body("{\"model\":\"m\",\"tools\":[],\"max_completion_tokens\":9,\"max_tokens\":50}");
    cr_assert_eq(f.caps, 0); /* an empty tools list needs nothing */
    cr_assert_eq(f.output_tokens, 9);
    /* Responses: text.format, input_image, max_output_tokens */
    f = read_body("{\"model\":\"m\",\"text\":{\"format\":{\"type\":\"json_schema\"}},"
                  "\"max_output_tokens\":7,\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                  "\"input_image\",\"image_url\":\"u\"}]}]}");
    cr_assert_eq(f.caps, LX_CAP_JSON_SCHEMA | LX_CAP_VISION);
    cr_assert_eq(f.output_tokens, 7);
    f = read_body("not json at all");
    cr_assert_eq(f.caps, 0);
    cr_assert_eq(f.prompt_tokens, 4); /* 15 bytes, rounded up */
    /* a string that merely says image_url is no image part */
    f = read_body("{\"messages\":[{\"role\":\"user\",\"content\":\"type image_url\"}]}");
    cr_assert_eq(f.caps, 0);
}

Test(rules, ttft_average_starts_with_the_first_value_then_smooths)
{
    struct lx_rules_ttft *t = lx_rules_ttft_new(2);
    cr_assert_eq(lx_rules_ttft_get(t, 0), -1);
    lx_rules_ttft_note(t, 0, 1000);
    cr_assert_eq(lx_rules_ttft_get(t, 0), 1000);
    lx_rules_ttft_note(t, 0, 0);
    cr_assert_eq(lx_rules_ttft_get(t, 0), 700);
    lx_rules_ttft_note(t, 5, 10); /* out of range: ignored */
    cr_assert_eq(lx_rules_ttft_get(t, 1), -1);
    cr_assert_eq(lx_rules_ttft_get(t, 5), -1);
    lx_rules_ttft_free(t);
}

Test(rules, explain_prints_the_verdicts_and_the_choice)
{
    struct lx_config *c = load(rules_yaml);
    cr_assert_not_null(c, "%s", err);
    struct lx_route *r = lx_route_new(c);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct lx_rules_header h[] = {{"x-max-cost", "0.001"}};
    const char *body = "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\","
                       "\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}";
    cr_assert_eq(lx_rules_explain(r, lx_str_from_cstr(body), h, 1, false, out), LX_OK);
    fclose(out);
    cr_assert_str_eq(text,
                     "request: model m, sensitive no, needs vision, ~27 prompt + 100 output "
                     "tokens\n"
                     "  set a/x: local yes, caps tools,json_schema,vision, est. cost 0.001068 "
                     "USD, ok\n"
                     "      rule private                  n/a   conditions do not hold\n"
                     "      rule cost                     skip  est. cost 0.001068 USD > "
                     "0.001000 USD\n"
                     "      rule vision                   pass  ok\n"
                     "  set b/y: local no, caps tools,json_schema, est. cost 0.000163 USD, ok\n"
                     "      rule private                  n/a   conditions do not hold\n"
                     "      rule cost                     pass  ok\n"
                     "      rule vision                   skip  lacks capability vision\n"
                     "  fallback b/z: local no, caps vision, est. cost 0.000000 USD, ok\n"
                     "      rule private                  n/a   conditions do not hold\n"
                     "      rule cost                     pass  ok\n"
                     "      rule vision                   pass  ok\n"
                     "takes: b/z (fallback)\n");
    free(text);
    lx_route_free(r);
    lx_config_unref(c);
}

#define B "backends:\n  - {name: a, url: 'http://a/v1'}\n"

Test(rules, config_errors_name_file_line_and_column)
{
    expect_error(B "routing:\n  rules:\n    - {name: x, require: {capability: sound}}\n",
                 "t.yaml:5:39: routing.rules[0].require.capability: expected tools, json_schema "
                 "or vision");
    expect_error(B "routing:\n  rules:\n    - {name: x, when: {sensitive: true}}\n",
                 "t.yaml:5:7: routing.rules[0]: rule 'x' tests nothing: give require: "
                 "{local|capability} or skip_if_ttft_over_header / skip_if_cost_over_header");
    expect_error(B "routing:\n  rules:\n    - {name: x, skip_if_ttft_over_header: true}\n",
                 "t.yaml:5:7: routing.rules[0]: rule 'x' compares with a header: give when: "
                 "{header: NAME}");
    expect_error(B "routing:\n  rules:\n    - {name: x, require: {local: true}}\n"
                   "    - {name: x, require: {local: true}}\n",
                 "t.yaml:6:14: routing.rules[1].name: duplicate rule name 'x'");
    expect_error(B "routing:\n  rules:\n    - {name: Big, require: {local: true}}\n",
                 "t.yaml:5:14: routing.rules[0].name: a rule name is 1 to 31 of a-z 0-9 _ -");
    expect_error(B "routing:\n  rules:\n    - {require: {local: true}}\n",
                 "t.yaml:5:7: routing.rules[0]: missing key 'name'");
    expect_error(B "routing:\n  rules:\n    - {name: x, when: {colour: red}, require: {local: "
                   "true}}\n",
                 "t.yaml:5:24: unknown key 'colour' in routing.rules[0].when");
    expect_error("backends:\n  - {name: a, url: 'http://a/v1', price: {input_per_mtok: -1}}\n",
                 "t.yaml:2:59: backends[0].price.input_per_mtok: expected a number of US "
                 "dollars from 0 to 1000000");
    expect_error("backends:\n  - {name: a, url: 'http://a/v1', price: {per_token: 1}}\n",
                 "t.yaml:2:43: unknown key 'per_token' in backends[0].price");
    expect_error("backends:\n  - {name: a, url: 'http://a/v1', pin_check: digest}\n",
                 "t.yaml:2:46: backends[0].pin_check: expected models, props or ollama");
    expect_error("backends:\n  - {name: a, url: 'http://a/v1', capabilities: tools}\n",
                 "t.yaml:2:49: backends[0].capabilities: expected a list of tools, json_schema, "
                 "vision");
    expect_error(B "models:\n  - {name: m, deployments: [{backend: a, digest: 'sha256:XYZ'}]}\n",
                 "t.yaml:4:50: models[0].deployments[0].digest: expected a digest of 12 to 64 "
                 "lowercase hex digits");
}

Test(rules, llmux_check_prints_prices_capabilities_and_rules)
{
    struct lx_config *c = load(rules_yaml);
    cr_assert_not_null(c, "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    const char *tail = strstr(text, "\nrouting:\n");
    cr_assert_not_null(tail, "%s", text);
    cr_assert_str_eq(tail, "\nrouting:\n"
                           "  backend a                price 2.5/10 USD per Mtok, caps tools "
                           "json_schema vision, pin_check models\n"
                           "  backend b                price 0/0 USD per Mtok, caps tools "
                           "json_schema, pin_check models\n"
                           "  rule 1 private: when sensitive=true require local\n"
                           "  rule 2 cost: when header x-max-cost skip if cost > header\n"
                           "  rule 3 vision: when needs vision require vision\n");
    free(text);
    lx_config_unref(c);
}
