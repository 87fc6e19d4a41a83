/*
 * test_balance.c — unit tests for src/route/'s routing decisions: the
 * balancer (least outstanding, weighted), picking in a model's set with
 * deployments out of rotation, aliases in lookup and /models, A/B arms,
 * and the priority classes of the admission queue. All deterministic: the
 * balancer takes its random bits from the test, and the registry's
 * generator is seeded through LLMUX_AB_SEED.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "json/json.h"
#include "route/route.h"

/* ---- the pure balancer --------------------------------------------------- */

Test(balance, least_outstanding_takes_the_fewest)
{
    struct lx_route_cand c[] = {{1, 3, true}, {1, 1, true}, {1, 2, true}};
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, c, 3, 0), 1);
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, c, 3, 12345), 1,
                 "no randomness in least_outstanding");
}

Test(balance, least_outstanding_ties_go_to_weight_then_order)
{
    struct lx_route_cand c[] = {{1, 0, true}, {5, 0, true}, {5, 0, true}};
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, c, 3, 0), 1,
                 "the higher weight, the earlier of equals");
    struct lx_route_cand d[] = {{2, 0, true}, {2, 0, true}};
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, d, 2, 0), 0);
}

Test(balance, ineligible_are_never_taken)
{
    struct lx_route_cand c[] = {{9, 0, false}, {1, 7, true}, {1, 0, false}};
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, c, 3, 0), 1);
    for (uint64_t r = 0; r < 20; r++)
        cr_assert_eq(lx_route_balance(LX_BALANCE_WEIGHTED, c, 3, r), 1);
    struct lx_route_cand none[] = {{1, 0, false}, {1, 0, false}};
    cr_assert_eq(lx_route_balance(LX_BALANCE_WEIGHTED, none, 2, 3), -1);
    cr_assert_eq(lx_route_balance(LX_BALANCE_LEAST_OUTSTANDING, none, 2, 3), -1);
    cr_assert_eq(lx_route_balance(LX_BALANCE_WEIGHTED, none, 0, 3), -1);
}

Test(balance, weighted_maps_random_onto_the_weights)
{
    /* weights 3, 1, (5 ineligible), 2 over 6 points: 0-2 -> 0, 3 -> 1, 4-5 -> 3 */
    struct lx_route_cand c[] = {{3, 9, true}, {1, 0, true}, {5, 0, false}, {2, 0, true}};
    int want[] = {0, 0, 0, 1, 3, 3};
    for (uint64_t r = 0; r < 12; r++)
        cr_assert_eq(lx_route_balance(LX_BALANCE_WEIGHTED, c, 4, r), want[r % 6], "random %lu",
                     (unsigned long)r);
}

Test(balance, weighted_share_over_all_points)
{
    struct lx_route_cand c[] = {{3, 0, true}, {1, 0, true}};
    int n[2] = {0, 0};
    for (uint64_t r = 0; r < 4000; r++)
        n[lx_route_balance(LX_BALANCE_WEIGHTED, c, 2, r)]++;
    cr_assert_eq(n[0], 3000);
    cr_assert_eq(n[1], 1000);
}

/* ---- a registry with sets, aliases and A/B ------------------------------- */

static const char yaml[] = "backends:\n"
                           "  - { name: a, url: http://127.0.0.1:1/v1, max_in_flight: 1,\n"
                           "      queue: {max: 4} }\n"
                           "  - { name: b, url: http://127.0.0.1:2/v1 }\n"
                           "  - { name: c, url: http://127.0.0.1:3/v1 }\n"
                           "models:\n"
                           "  - name: pool\n"
                           "    deployments:\n"
                           "      - { backend: a, upstream_model: m-a }\n"
                           "      - { backend: b, upstream_model: m-b, weight: 3 }\n"
                           "      - { backend: c, upstream_model: m-c }\n"
                           "  - name: solo\n"
                           "    backend: c\n"
                           "    ab: { model: fast, share: 0.25, sticky: none }\n"
                           "  - name: keyed\n"
                           "    backend: c\n"
                           "    ab: { model: pool, share: 0.5 }\n"
                           "aliases: { fast: pool, default: fast }\n";

static struct lx_route *route;

static void setup(void)
{
    struct lx_config *cfg = NULL;
    char err[256];
    setenv("LLMUX_AB_SEED", "42", 1);
    cr_assert_eq(lx_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)), LX_OK,
                 "%s", err);
    route = lx_route_new(cfg);
    cr_assert_not_null(route);
    lx_config_unref(cfg);
}

static void teardown(void)
{
    lx_route_free(route);
    unsetenv("LLMUX_AB_SEED");
}

TestSuite(pick, .init = setup, .fini = teardown);

static const struct lx_config_model *model(const char *name)
{
    const struct lx_config *c = lx_route_config(route);
    int i = lx_config_find_model(c, name);
    cr_assert_geq(i, 0);
    return &c->models[i];
}

Test(pick, least_outstanding_spreads_then_prefers_weight)
{
    const struct lx_config_model *m = model("pool");
    enum lx_route_avail skipped[32];
    struct lx_route_pick p;
    uint32_t tried = 0;
    cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_OK);
    cr_assert_eq(p.deployment, 1, "all idle: the heaviest");
    cr_assert_eq(p.weight, 3);
    cr_assert_eq(p.candidates, 3);
    cr_assert_eq(tried, 2u);
    /* with b busy, a and c are the least outstanding: the earlier one */
    cr_assert_eq(lx_route_acquire(route, 1, NULL), LX_OK);
    tried = 0;
    cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_OK);
    cr_assert_eq(p.deployment, 0);
    cr_assert_eq(p.outstanding, 0);
    /* a queued request counts as outstanding too */
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(route, 2, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(route, 2, NULL), LX_OK);
    tried = 0;
    cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_OK);
    cr_assert_eq(p.deployment, 1, "a 1, b 1, c 2: the tie goes to b's weight 3");
    cr_assert_eq(p.outstanding, 1);
}

Test(pick, tried_and_unhealthy_members_are_left_out)
{
    const struct lx_config_model *m = model("pool");
    enum lx_route_avail skipped[32];
    struct lx_route_pick p;
    lx_route_set_health(route, 1, false, "down");
    uint32_t tried = 1u; /* a was tried */
    cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_OK);
    cr_assert_eq(p.deployment, 2);
    cr_assert_eq(p.candidates, 1);
    cr_assert_eq(skipped[0], LX_ROUTE_AVAILABLE, "tried before: not a skip of this call");
    cr_assert_eq(skipped[1], LX_ROUTE_UNHEALTHY);
    cr_assert_eq(skipped[2], LX_ROUTE_AVAILABLE);
    cr_assert_eq(tried, 7u);
    cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_ERR, "nothing left");
}

Test(pick, weighted_follows_the_seeded_generator)
{
    /* the same seed gives the same sequence */
    struct lx_config *cfg = (struct lx_config *)lx_route_config(route);
    struct lx_config_model *m = &cfg->models[0];
    m->balance = LX_BALANCE_WEIGHTED; /* a test may bend its own snapshot */
    enum lx_route_avail skipped[32];
    struct lx_route_pick p;
    int seq[64], n[3] = {0, 0, 0};
    for (int i = 0; i < 64; i++) {
        uint32_t tried = 0;
        cr_assert_eq(lx_route_pick(route, m, &tried, skipped, 0, &p), LX_OK);
        seq[i] = (int)p.deployment;
        n[p.deployment]++;
    }
    cr_assert(n[1] > n[0] && n[1] > n[2], "weight 3 wins most: %d %d %d", n[0], n[1], n[2]);
    struct lx_route *again = lx_route_new(cfg);
    for (int i = 0; i < 64; i++) {
        uint32_t tried = 0;
        cr_assert_eq(lx_route_pick(again, m, &tried, skipped, 0, &p), LX_OK);
        cr_assert_eq((int)p.deployment, seq[i], "pick %d", i);
    }
    lx_route_free(again);
    m->balance = LX_BALANCE_LEAST_OUTSTANDING;
}

Test(pick, aliases_resolve_through_chains)
{
    struct lx_route_target t;
    cr_assert_eq(lx_route_lookup(route, lx_str_from_cstr("default"), &t), LX_OK);
    cr_assert_str_eq(t.public_name, "pool");
    cr_assert_str_eq(t.alias, "default");
    cr_assert_eq(t.model, model("pool"));
    cr_assert_eq(lx_route_lookup(route, lx_str_from_cstr("pool"), &t), LX_OK);
    cr_assert_null(t.alias);
    cr_assert_eq(lx_route_lookup(route, lx_str_from_cstr("nope"), &t), LX_ERR);
}

Test(pick, aliases_are_in_models)
{
    lx_buf b;
    lx_buf_init(&b, 1 << 16);
    cr_assert_eq(lx_route_write_models(route, &b), LX_OK);
    cr_assert_str_eq(
        b.data, "{\"object\":\"list\",\"data\":["
                "{\"id\":\"pool\",\"object\":\"model\",\"created\":0,\"owned_by\":\"a\"},"
                "{\"id\":\"solo\",\"object\":\"model\",\"created\":0,\"owned_by\":\"c\"},"
                "{\"id\":\"keyed\",\"object\":\"model\",\"created\":0,\"owned_by\":\"c\"},"
                "{\"id\":\"fast\",\"object\":\"model\",\"created\":0,\"owned_by\":\"a\"},"
                "{\"id\":\"default\",\"object\":\"model\",\"created\":0,\"owned_by\":\"a\"}]}");
    lx_buf_release(&b);
}

Test(pick, ab_random_share_and_sticky_arms)
{
    const struct lx_config_model *solo = model("solo"), *pool = model("pool");
    char arm;
    int b = 0;
    for (int i = 0; i < 4000; i++) {
        const struct lx_config_model *m =
            lx_route_ab(route, solo, lx_str_from_cstr("ignored"), &arm);
        cr_assert(arm == 'a' || arm == 'b');
        cr_assert_eq(m, arm == 'b' ? pool : solo);
        b += arm == 'b';
    }
    /* 4000 draws at 0.25: sd = sqrt(4000 * 0.25 * 0.75) = 27.4; 5 sd */
    cr_assert(b > 1000 - 137 && b < 1000 + 137, "b arm %d of 4000", b);

    const struct lx_config_model *keyed = model("keyed");
    for (int k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%d", k);
        char first;
        lx_route_ab(route, keyed, lx_str_from_cstr(key), &first);
        for (int i = 0; i < 5; i++) {
            lx_route_ab(route, keyed, lx_str_from_cstr(key), &arm);
            cr_assert_eq(arm, first, "a key keeps its arm");
        }
        cr_assert_eq(first == 'b', lx_route_ab_point(lx_str_from_cstr(key)) < 0.5);
    }
    cr_assert_eq(lx_route_ab(route, pool, lx_str_from_cstr("k"), &arm), pool);
    cr_assert_eq(arm, 0, "no split");
}

Test(pick, ab_point_is_uniform_enough)
{
    int below = 0;
    for (int i = 0; i < 10000; i++) {
        char v[16];
        snprintf(v, sizeof(v), "user-%d", i);
        double p = lx_route_ab_point(lx_str_from_cstr(v));
        cr_assert(p >= 0 && p < 1);
        below += p < 0.1;
    }
    /* sd = sqrt(10000 * 0.1 * 0.9) = 30 */
    cr_assert(below > 1000 - 150 && below < 1000 + 150, "%d below 0.1", below);
}

/* ---- priority classes ------------------------------------------------------ */

struct waiter {
    struct lx_route_waiter w;
    int id;
};

static int granted[16];
static size_t n_granted;

static void on_granted(void *data)
{
    const struct waiter *w = data;
    cr_assert_lt(n_granted, 16);
    granted[n_granted++] = w->id;
}

Test(pick, higher_classes_first_fifo_within)
{
    struct waiter w[5];
    uint8_t prio[5] = {LX_ROUTE_PRIO_NORMAL, LX_ROUTE_PRIO_LOW, LX_ROUTE_PRIO_UNSET,
                       LX_ROUTE_PRIO_HIGH, LX_ROUTE_PRIO_HIGH};
    n_granted = 0;
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK); /* a's one slot */
    for (int i = 0; i < 5; i++) {
        w[i].id = i + 1;
        lx_route_waiter_init(&w[i].w, on_granted, &w[i]);
        lx_route_waiter_set_priority(&w[i].w, prio[i]);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(lx_route_acquire(route, 0, &w[i].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[4].w), LX_ERR, "queue.max counts all classes");
    cr_assert_eq(lx_route_queued(route, 0), 4);
    cr_assert_eq(lx_route_queued_class(route, 0, LX_ROUTE_PRIO_NORMAL), 2, "unset is normal");
    cr_assert_eq(lx_route_queued_class(route, 0, LX_ROUTE_PRIO_HIGH), 1);
    cr_assert_eq(lx_route_queued_class(route, 0, LX_ROUTE_PRIO_LOW), 1);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_acquire(route, 0, &w[4].w), LX_AGAIN);
    for (int i = 0; i < 4; i++)
        lx_route_release(route, 0);
    cr_assert_eq(n_granted, 5);
    int want[5] = {4, 5, 1, 3, 2};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(granted[i], want[i], "grant %d: %d", i, granted[i]);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
}

Test(pick, cancel_leaves_the_other_classes)
{
    struct waiter w[3];
    n_granted = 0;
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    uint8_t prio[3] = {LX_ROUTE_PRIO_LOW, LX_ROUTE_PRIO_HIGH, LX_ROUTE_PRIO_LOW};
    for (int i = 0; i < 3; i++) {
        w[i].id = i + 1;
        lx_route_waiter_init(&w[i].w, on_granted, &w[i]);
        lx_route_waiter_set_priority(&w[i].w, prio[i]);
        cr_assert_eq(lx_route_acquire(route, 0, &w[i].w), LX_AGAIN);
    }
    lx_route_cancel_wait(route, &w[1].w);
    lx_route_cancel_wait(route, &w[0].w);
    cr_assert_eq(lx_route_queued(route, 0), 1);
    cr_assert_eq(lx_route_queued_class(route, 0, LX_ROUTE_PRIO_HIGH), 0);
    lx_route_release(route, 0);
    cr_assert_eq(n_granted, 1);
    cr_assert_eq(granted[0], 3);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
}

Test(pick, priority_names)
{
    uint8_t p = 0;
    cr_assert_eq(lx_route_priority_parse(lx_str_from_cstr("high"), &p), LX_OK);
    cr_assert_eq(p, LX_ROUTE_PRIO_HIGH);
    cr_assert_eq(lx_route_priority_parse(lx_str_from_cstr("low"), &p), LX_OK);
    cr_assert_eq(p, LX_ROUTE_PRIO_LOW);
    cr_assert_eq(lx_route_priority_parse(lx_str_from_cstr("High"), &p), LX_ERR);
    cr_assert_eq(lx_route_priority_parse(lx_str_from_cstr(""), &p), LX_ERR);
    cr_assert_str_eq(lx_route_priority_str(LX_ROUTE_PRIO_UNSET), "normal");
    cr_assert_str_eq(lx_route_priority_str(LX_ROUTE_PRIO_HIGH), "high");
}
