/*
 * test_config_route.c — unit tests for the routing keys of the config:
 * models' deployments, weight and balance, ab, the top-level aliases and
 * priority; every error with its FILE:LINE:COL, and what `llmux check`
 * prints for them.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static char err[512];

static struct lx_config *load(const char *text)
{
    struct lx_config *c = NULL;
    err[0] = '\0';
    if (lx_config_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err)) != LX_OK) {
        cr_assert_null(c);
        return NULL;
    }
    cr_assert_not_null(c);
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

static char *print(const struct lx_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    return text;
}

#define BACKENDS                                                                                   \
    "backends:\n"                                                                                  \
    "  - {name: a, url: 'http://a'}\n"                                                             \
    "  - {name: b, url: 'http://b'}\n"                                                             \
    "models:\n"
/* models[0] starts on line 5 */

static const char full[] = BACKENDS "  - name: pool\n"
                                    "    deployments:\n"
                                    "      - {backend: a, upstream_model: qa, weight: 3}\n"
                                    "      - {backend: b}\n"
                                    "    balance: weighted\n"
                                    "    fallbacks: [{backend: a, upstream_model: cloud}]\n"
                                    "    ab: {model: fast, share: 0.1, sticky: 'header:X-User'}\n"
                                    "  - name: single\n"
                                    "    backend: b\n"
                                    "    upstream_model: sb\n"
                                    "    ab: {model: pool, share: 1}\n"
                                    "aliases:\n"
                                    "  fast: single\n"
                                    "  default: fast\n"
                                    "priority: {header: true}\n";

Test(config_route, deployments_weights_balance)
{
    struct lx_config *c = load(full);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *m = &c->models[0];
    cr_assert_eq(m->n_deployments, 2);
    cr_assert_eq(m->balance, LX_BALANCE_WEIGHTED);
    cr_assert_eq(m->deployments[0].backend, 0);
    cr_assert_str_eq(m->deployments[0].upstream_model, "qa");
    cr_assert(m->deployments[0].pinned);
    cr_assert_eq(m->deployments[0].weight, 3);
    cr_assert_eq(m->deployments[1].backend, 1);
    cr_assert_str_eq(m->deployments[1].upstream_model, "pool", "the public name by default");
    cr_assert_not(m->deployments[1].pinned);
    cr_assert_eq(m->deployments[1].weight, 1);
    /* the model's first deployment fields mirror the set's first */
    cr_assert_eq(m->backend, 0);
    cr_assert_str_eq(m->upstream_model, "qa");
    cr_assert(m->pinned);
    /* the try order: the set, then the fallbacks */
    cr_assert_eq(lx_config_model_n_deployments(m), 3);
    cr_assert_str_eq(lx_config_model_deployment(m, 2)->upstream_model, "cloud");
    cr_assert_eq(lx_config_model_deployment(m, 2)->weight, 1);
    lx_config_unref(c);
}

Test(config_route, short_form_is_a_set_of_one)
{
    struct lx_config *c = load(full);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *m = &c->models[1];
    cr_assert_eq(m->n_deployments, 1);
    cr_assert_eq(m->deployments[0].backend, 1);
    cr_assert_str_eq(m->deployments[0].upstream_model, "sb");
    cr_assert(m->deployments[0].pinned);
    cr_assert_eq(m->deployments[0].weight, 1);
    cr_assert_eq(m->balance, LX_BALANCE_LEAST_OUTSTANDING, "the default");
    lx_config_unref(c);
}

Test(config_route, ab_aliases_priority)
{
    struct lx_config *c = load(full);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *pool = &c->models[0], *single = &c->models[1];
    cr_assert(pool->ab.enabled);
    cr_assert_eq(pool->ab.model, 1, "through the alias fast");
    cr_assert_float_eq(pool->ab.share, 0.1, 1e-12);
    cr_assert_eq(pool->ab.sticky, LX_AB_STICKY_HEADER);
    cr_assert_str_eq(pool->ab.header, "x-user", "lowercased");
    cr_assert(single->ab.enabled);
    cr_assert_eq(single->ab.model, 0);
    cr_assert_eq(single->ab.sticky, LX_AB_STICKY_KEY, "the default");
    cr_assert_null(single->ab.header);
    cr_assert_eq(c->n_aliases, 2);
    cr_assert_str_eq(c->aliases[0].name, "fast");
    cr_assert_eq(c->aliases[0].model, 1);
    cr_assert_str_eq(c->aliases[1].name, "default");
    cr_assert_str_eq(c->aliases[1].target, "fast");
    cr_assert_eq(c->aliases[1].model, 1, "chains end at a model");
    cr_assert_eq(lx_config_find_alias(c, "default", 7), &c->aliases[1]);
    cr_assert_null(lx_config_find_alias(c, "defaul", 6));
    cr_assert(c->priority.header);
    lx_config_unref(c);

    c = load(BACKENDS "  - {name: m, backend: a}\n");
    cr_assert_not(c->priority.header, "off by default");
    cr_assert_eq(c->n_aliases, 0);
    cr_assert_not(c->models[0].ab.enabled);
    lx_config_unref(c);
}

Test(config_route, check_prints_deployments_weights_ab_aliases)
{
    struct lx_config *c = load(full);
    cr_assert_not_null(c, "%s", err);
    char *text = print(c);
#define IN "                              " /* 30 columns: under the arrow */
    cr_assert(strstr(text, "  pool                     -> 2 deployments, balance weighted\n" IN
                           "a / qa  weight 3\n" IN "b / pool  weight 1\n" IN "then a / cloud\n"),
              "%s", text);
#undef IN
    cr_assert(strstr(text, "ab 0.1 of the traffic to single, sticky header:x-user\n"), "%s", text);
    cr_assert(strstr(text, "  single                   -> b / sb\n"), "%s", text);
    cr_assert(strstr(text, "ab 1 of the traffic to pool, sticky key\n"), "%s", text);
    cr_assert(strstr(text, "aliases (2):\n"
                           "  fast                     -> single\n"
                           "  default                  -> single\n"),
              "%s", text);
    cr_assert(strstr(text, "priority:\n  header     true (x-llmux-priority: high|normal|low)\n"),
              "%s", text);
    free(text);
    lx_config_unref(c);
}

Test(config_route, deployment_errors)
{
    expect_error(BACKENDS "  - name: m\n    deployments: []\n",
                 "t.yaml:6:18: models[0].deployments: needs at least one deployment");
    expect_error(BACKENDS "  - name: m\n    deployments: [{backend: nope}]\n",
                 "t.yaml:6:29: models[0].deployments[0].backend: unknown backend 'nope'");
    expect_error(BACKENDS "  - name: m\n    deployments: [{upstream_model: x}]\n",
                 "t.yaml:6:19: models[0].deployments[0]: missing key 'backend'");
    expect_error(BACKENDS "  - name: m\n    deployments: [{backend: a, weight: 0}]\n",
                 "t.yaml:6:40: models[0].deployments[0].weight: must be between 1 and 1000");
    expect_error(BACKENDS "  - name: m\n    deployments: [{backend: a, weight: 1001}]\n",
                 "t.yaml:6:40: models[0].deployments[0].weight: must be between 1 and 1000");
    expect_error(BACKENDS "  - name: m\n    deployments: [{backend: a, foo: 1}]\n",
                 "t.yaml:6:32: unknown key 'foo' in models[0].deployments[0]");
    expect_error(BACKENDS "  - name: m\n    backend: a\n    deployments: [{backend: b}]\n",
                 "t.yaml:5:5: models[0]: give either backend (and upstream_model) or deployments");
    expect_error(BACKENDS "  - name: m\n    upstream_model: x\n    deployments: [{backend: b}]\n",
                 "t.yaml:5:5: models[0]: upstream_model goes with backend; with deployments, give "
                 "it per deployment");
    expect_error(BACKENDS "  - name: m\n    deployments: {backend: a}\n",
                 "t.yaml:6:18: models[0].deployments: expected a sequence");
    expect_error(BACKENDS
                 "  - name: m\n    deployments: [{backend: a}, {backend: a}, {backend: a}, "
                 "{backend: a}, {backend: a}, {backend: a}, {backend: a}, {backend: a}, "
                 "{backend: a}, {backend: a}, {backend: a}, {backend: a}, {backend: a}, "
                 "{backend: a}, {backend: a}, {backend: a}, {backend: a}]\n",
                 "t.yaml:6:18: models[0].deployments: too many deployments (at most 16)");
    expect_error(BACKENDS "  - name: m\n    backend: a\n    balance: random\n",
                 "t.yaml:7:14: models[0].balance: expected least_outstanding or weighted");
}

Test(config_route, ab_errors)
{
#define M BACKENDS "  - name: m\n    backend: a\n"
    expect_error(M "    ab: {model: nope, share: 0.1}\n",
                 "t.yaml:7:17: models[0].ab.model: unknown model 'nope'");
    expect_error(M "    ab: {model: m, share: 0.1}\n",
                 "t.yaml:7:17: models[0].ab.model: the model itself cannot be its B arm");
    expect_error(M "    ab: {share: 0.1}\n", "t.yaml:7:9: models[0].ab: missing key 'model'");
    expect_error(M "    ab: {model: m}\n", "t.yaml:7:9: models[0].ab: missing key 'share'");
    expect_error(M "    ab: {model: m, share: 1.5}\n",
                 "t.yaml:7:27: models[0].ab.share: expected a number from 0 to 1");
    expect_error(M "    ab: {model: m, share: -0.1}\n",
                 "t.yaml:7:27: models[0].ab.share: expected a number from 0 to 1");
    expect_error(M "    ab: {model: m, share: 0.1, sticky: cookie}\n",
                 "t.yaml:7:40: models[0].ab.sticky: expected key, none or header:NAME");
    expect_error(M "    ab: {model: m, share: 0.1, sticky: 'header:'}\n",
                 "t.yaml:7:40: models[0].ab.sticky: expected key, none or header:NAME");
    expect_error(M "    ab: {model: m, share: 0.1, color: red}\n",
                 "t.yaml:7:32: unknown key 'color' in models[0].ab");
#undef M
}

Test(config_route, alias_errors)
{
#define M BACKENDS "  - {name: m, backend: a}\n"
    expect_error(M "aliases:\n  fast: nope\n", "t.yaml:7:9: aliases.fast: unknown model 'nope'");
    expect_error(M "aliases:\n  x: y\n  y: z\n  z: x\n",
                 "t.yaml:7:6: aliases.x: the aliases form a cycle");
    expect_error(M "aliases:\n  self: self\n",
                 "t.yaml:7:9: aliases.self: the aliases form a cycle");
    expect_error(M "aliases:\n  m: m\n", "t.yaml:7:3: aliases.m: a model has that name already");
    expect_error(M "aliases: [m]\n", "t.yaml:6:10: aliases: expected a mapping of alias: model");
    expect_error(M "aliases:\n  fast:\n", "t.yaml:7:3: aliases.fast: expected a model name");
    expect_error(M "aliases:\n  'a b': m\n",
                 "t.yaml:7:3: aliases: an alias is 1 to 128 characters without spaces");
    expect_error(M "priority: {header: yes}\n",
                 "t.yaml:6:20: priority.header: expected true or false");
    expect_error(M "priority: {queue: 1}\n", "t.yaml:6:12: unknown key 'queue' in priority");
#undef M
}

Test(config_route, aliases_may_come_before_models)
{
    struct lx_config *c = load("aliases: {fast: m}\n" BACKENDS "  - {name: m, backend: a}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->aliases[0].model, 0);
    lx_config_unref(c);
}
