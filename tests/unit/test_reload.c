/*
 * test_reload.c — unit tests for what a reload relies on: the ring of good
 * configs (config/history.h), the file hash, and a registry built from the
 * previous one (route.h lx_route_new_from: shared live state of unchanged
 * backends, fresh state for changed ones) and backend drain.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/history.h"
#include "json/json.h"
#include "route/route.h"

static struct lx_config *load(const char *yaml)
{
    struct lx_config *cfg = NULL;
    char err[256];
    cr_assert_eq(lx_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)), LX_OK,
                 "%s", err);
    return cfg;
}

static const char one[] = "backends:\n"
                          "  - {name: a, url: 'http://127.0.0.1:8001/v1', max_in_flight: 1,\n"
                          "     queue: {max: 4}, health_check: false}\n"
                          "  - {name: b, url: 'http://127.0.0.1:8002/v1', health_check: false}\n"
                          "models:\n"
                          "  - {name: m, backend: a, upstream_model: x}\n";

/* a keeps name and url (its cap changes), b moves, c is new; order differs */
static const char two[] = "backends:\n"
                          "  - {name: c, url: 'http://127.0.0.1:8003/v1', health_check: false}\n"
                          "  - {name: b, url: 'http://127.0.0.1:9002/v1', health_check: false}\n"
                          "  - {name: a, url: 'http://127.0.0.1:8001/v1', max_in_flight: 2,\n"
                          "     queue: {max: 4}, health_check: false}\n"
                          "models:\n"
                          "  - {name: m, backend: c, upstream_model: x}\n";

/* --- the history ring ----------------------------------------------------- */

Test(history, sha256_of_known_vectors)
{
    char h[LX_CONFIG_HASH_HEX];
    cr_assert_eq(lx_config_sha256_hex("abc", 3, h), LX_OK);
    cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(lx_config_sha256_hex("", 0, h), LX_OK);
    cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(history, load_file_hashed_hashes_the_bytes_read)
{
    char path[] = "/tmp/llmux-test-reload-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(one, f);
    fclose(f);
    struct lx_config *cfg = NULL;
    char h[LX_CONFIG_HASH_HEX], want[LX_CONFIG_HASH_HEX], err[256];
    cr_assert_eq(lx_config_load_file_hashed(path, &cfg, h, err, sizeof(err)), LX_OK, "%s", err);
    lx_config_sha256_hex(one, strlen(one), want);
    cr_assert_str_eq(h, want);
    cr_assert_str_eq(cfg->source, path);
    lx_config_unref(cfg);
    /* an invalid file: no snapshot, the position in err */
    f = fopen(path, "w");
    fputs("backends: 3\n", f);
    fclose(f);
    cr_assert_eq(lx_config_load_file_hashed(path, &cfg, h, err, sizeof(err)), LX_ERR);
    cr_assert_null(cfg);
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s:1:", path);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
    unlink(path);
}

Test(history, newest_first_oldest_dropped_past_the_cap)
{
    struct lx_config_history h;
    lx_config_history_init(&h);
    struct lx_config *c[LX_CONFIG_HISTORY_MAX + 2];
    for (int i = 0; i < LX_CONFIG_HISTORY_MAX + 2; i++) {
        char hash[8];
        snprintf(hash, sizeof(hash), "h%d", i);
        c[i] = load(one);
        lx_config_history_push(&h, c[i], hash, 1000u + (uint64_t)i);
        cr_assert_eq(c[i]->refcount, 2, "the ring holds its own reference");
    }
    cr_assert_eq(h.n, LX_CONFIG_HISTORY_MAX);
    for (size_t i = 0; i < LX_CONFIG_HISTORY_MAX; i++) {
        const struct lx_config_history_entry *e = lx_config_history_get(&h, i);
        char want[8];
        snprintf(want, sizeof(want), "h%zu", LX_CONFIG_HISTORY_MAX + 1 - i);
        cr_assert_str_eq(e->hash, want);
        cr_assert_eq(e->applied_ms, 1000u + LX_CONFIG_HISTORY_MAX + 1 - i);
    }
    cr_assert_null(lx_config_history_get(&h, LX_CONFIG_HISTORY_MAX));
    cr_assert_eq(c[0]->refcount, 1, "the dropped ones were released");
    cr_assert_eq(c[1]->refcount, 1);
    lx_config_history_release(&h);
    cr_assert_eq(h.n, 0);
    for (int i = 0; i < LX_CONFIG_HISTORY_MAX + 2; i++) {
        cr_assert_eq(c[i]->refcount, 1);
        lx_config_unref(c[i]);
    }
}

Test(history, pop_walks_back_and_keeps_the_last)
{
    struct lx_config_history h;
    lx_config_history_init(&h);
    struct lx_config *a = load(one), *b = load(two);
    cr_assert_eq(lx_config_history_pop(&h), LX_ERR, "nothing to pop");
    lx_config_history_push(&h, a, "ha", 1);
    lx_config_history_push(&h, b, NULL, 2);
    cr_assert_str_eq(lx_config_history_get(&h, 0)->hash, "");
    cr_assert_eq(lx_config_history_get(&h, 1)->cfg, a);
    cr_assert_eq(lx_config_history_pop(&h), LX_OK);
    cr_assert_eq(h.n, 1);
    cr_assert_eq(lx_config_history_get(&h, 0)->cfg, a);
    cr_assert_str_eq(lx_config_history_get(&h, 0)->hash, "ha");
    cr_assert_eq(b->refcount, 1);
    cr_assert_eq(lx_config_history_pop(&h), LX_ERR, "the running one stays");
    cr_assert_eq(h.n, 1);
    lx_config_history_release(&h);
    lx_config_unref(a);
    lx_config_unref(b);
}

/* --- a registry continuing the previous one ------------------------------- */

static int granted;
static void on_grant(void *data)
{
    granted++;
}

Test(reload_route, unchanged_backends_share_slots_and_queue)
{
    struct lx_config *c1 = load(one), *c2 = load(two);
    struct lx_route *r1 = lx_route_new(c1);
    struct lx_route_waiter w1, w2;
    granted = 0;
    lx_route_waiter_init(&w1, on_grant, NULL);
    lx_route_waiter_init(&w2, on_grant, NULL);
    /* a (index 0 in one) is full with one in flight and one queued */
    cr_assert_eq(lx_route_acquire(r1, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(r1, 0, &w1), LX_AGAIN);
    struct lx_route *r2 = lx_route_new_from(c2, r1);
    cr_assert_not_null(r2);
    cr_assert(lx_route_carried(r2, 2, r1), "a kept name and url");
    cr_assert_not(lx_route_carried(r2, 1, r1), "b moved to another url");
    cr_assert_not(lx_route_carried(r2, 0, r1), "c is new");
    cr_assert_eq(lx_route_in_flight(r2, 2), 1);
    cr_assert_eq(lx_route_queued(r2, 2), 1);
    /* the new cap (2) applies, but nobody barges past the queued waiter */
    cr_assert_eq(lx_route_acquire(r2, 2, &w2), LX_AGAIN);
    cr_assert_eq(lx_route_queued(r1, 0), 2);
    /* the old exchange gives its slot back where it took it: the oldest waiter gets it */
    lx_route_release(r1, 0);
    cr_assert_eq(granted, 1);
    cr_assert_not(lx_route_waiting(&w1));
    cr_assert(lx_route_waiting(&w2));
    lx_route_cancel_wait(r2, &w2);
    cr_assert_eq(lx_route_queued(r2, 2), 0);
    lx_route_release(r1, 0); /* w1's slot, given back on r1 */
    cr_assert_eq(lx_route_in_flight(r2, 2), 0);
    /* the old registry goes with its last reference; r2 keeps the shared state */
    lx_route_free(r1);
    cr_assert_eq(lx_route_acquire(r2, 2, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(r2, 2, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(r2, 2, NULL), LX_ERR, "new cap of 2, no waiter given");
    lx_route_release(r2, 2);
    lx_route_release(r2, 2);
    lx_route_free(r2);
    lx_config_unref(c1);
    lx_config_unref(c2);
}

Test(reload_route, refcount_keeps_a_registry_alive_for_its_exchanges)
{
    struct lx_config *c1 = load(one);
    struct lx_route *r = lx_route_new(c1);
    lx_config_unref(c1);
    cr_assert_eq(lx_route_ref(r), r);
    lx_route_free(r); /* the proxy's reference */
    cr_assert_eq(lx_route_acquire(r, 1, NULL), LX_OK, "an exchange's reference still holds it");
    lx_route_release(r, 1);
    lx_route_free(r);
}

Test(reload_route, drain_takes_a_backend_out_and_survives_a_reload)
{
    struct lx_config *c1 = load(one), *c2 = load(two);
    struct lx_route *r1 = lx_route_new(c1);
    bool probe;
    cr_assert(lx_route_ready(r1));
    lx_route_set_draining(r1, 0, true);
    cr_assert(lx_route_draining(r1, 0));
    cr_assert_eq(lx_route_choose(r1, 0, NULL, 0, &probe), LX_ROUTE_DRAINING);
    cr_assert_str_eq(lx_route_avail_str(LX_ROUTE_DRAINING), "draining");
    cr_assert_eq(lx_route_choose(r1, 1, NULL, 0, &probe), LX_ROUTE_AVAILABLE);
    /* draining does not refuse slots: in-flight work and queued waiters finish */
    cr_assert_eq(lx_route_acquire(r1, 0, NULL), LX_OK);
    lx_route_release(r1, 0);
    struct lx_route *r2 = lx_route_new_from(c2, r1);
    cr_assert(lx_route_draining(r2, 2), "a's drain carries over");
    cr_assert_not(lx_route_draining(r2, 1));
    lx_buf b;
    lx_buf_init(&b, 1 << 16);
    cr_assert_eq(lx_route_write_status(r2, &b), LX_OK);
    cr_assert(strstr(b.data, "\"name\":\"a\",\"healthy\":true,\"draining\":true,") != NULL, "%s",
              b.data);
    lx_buf_release(&b);
    lx_route_set_draining(r2, 2, false);
    cr_assert_not(lx_route_draining(r1, 0), "one state, seen from both registries");
    lx_route_free(r1);
    lx_route_free(r2);
    lx_config_unref(c1);
    lx_config_unref(c2);
}

Test(reload_route, all_draining_is_not_ready)
{
    struct lx_config *c1 = load(one);
    struct lx_route *r = lx_route_new(c1);
    lx_route_set_draining(r, 0, true);
    cr_assert(lx_route_ready(r));
    lx_route_set_draining(r, 1, true);
    cr_assert_not(lx_route_ready(r));
    lx_route_free(r);
    lx_config_unref(c1);
}
