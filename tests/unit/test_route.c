/*
 * test_route.c — unit tests for src/route/: name resolution order, the
 * in-flight limit and the admission queue, discovery updates, and the
 * /models and status documents.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "json/json.h"
#include "route/route.h"

static const char yaml[] = "backends:\n"
                           "  - name: local\n"
                           "    url: http://127.0.0.1:8080/v1\n"
                           "    discover: true\n"
                           "    max_in_flight: 2\n"
                           "    queue: {max: 2}\n"
                           "  - name: vllm\n"
                           "    url: http://127.0.0.1:8000/v1\n"
                           "    discover: true\n"
                           "  - name: cloud\n"
                           "    url: https://api.example.com/v1\n"
                           "models:\n"
                           "  - name: chat\n"
                           "    backend: cloud\n"
                           "    upstream_model: gpt-x\n"
                           "  - name: qwen\n"
                           "    backend: local\n"
                           "    upstream_model: qwen2.5-7b-instruct-q4_k_m\n";

static struct lx_route *route;

static void setup(void)
{
    struct lx_config *cfg = NULL;
    char err[256];
    cr_assert_eq(lx_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)), LX_OK,
                 "%s", err);
    route = lx_route_new(cfg);
    cr_assert_not_null(route);
    lx_config_unref(cfg); /* the registry holds its own reference */
}

static void teardown(void)
{
    lx_route_free(route);
}

TestSuite(route, .init = setup, .fini = teardown);

static void discover(size_t backend, const char *const *ids, size_t n)
{
    lx_route_set_discovered(route, backend, ids, n);
}

Test(route, config_models_resolve)
{
    struct lx_route_target t;
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("chat"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 2);
    cr_assert_str_eq(t.backend->name, "cloud");
    cr_assert_str_eq(t.upstream_model, "gpt-x");
    cr_assert_str_eq(t.public_name, "chat");
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("qwen"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 0);
    cr_assert_str_eq(t.upstream_model, "qwen2.5-7b-instruct-q4_k_m");
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("nope"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT(""), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("cha"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("chat "), &t), LX_ERR);
    cr_assert_eq(lx_route_config(route)->n_backends, 3);
}

Test(route, lookup_order)
{
    static const char *const local_ids[] = {"llama-3-8b", "qwen", "shared"};
    static const char *const vllm_ids[] = {"shared", "org/mistral-7b"};
    discover(0, local_ids, 3);
    discover(1, vllm_ids, 2);
    struct lx_route_target t;

    /* a config model beats a discovered id of the same name */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("qwen"), &t), LX_OK);
    cr_assert_str_eq(t.upstream_model, "qwen2.5-7b-instruct-q4_k_m");

    /* a bare discovered id */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("llama-3-8b"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 0);
    cr_assert_str_eq(t.upstream_model, "llama-3-8b");
    cr_assert_str_eq(t.public_name, "llama-3-8b");

    /* an id both announce: the first backend in config order wins */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("shared"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 0);

    /* BACKEND/ID reaches the other one */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("vllm/shared"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 1);
    cr_assert_str_eq(t.upstream_model, "shared");
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("local/qwen"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 0);
    cr_assert_str_eq(t.upstream_model, "qwen");

    /* an id with a slash resolves bare before BACKEND/ID */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("org/mistral-7b"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 1);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("vllm/org/mistral-7b"), &t), LX_OK);
    cr_assert_str_eq(t.upstream_model, "org/mistral-7b");

    /* misses */
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("vllm/llama-3-8b"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("cloud/gpt-x"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("nobackend/shared"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("/shared"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("vllm/"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("local/chat"), &t), LX_ERR);

    /* a view that is not NUL-terminated */
    lx_str prefix = {"llama-3-8b-extra", 10};
    cr_assert_eq(lx_route_lookup(route, prefix, &t), LX_OK);
    cr_assert_str_eq(t.upstream_model, "llama-3-8b");
}

Test(route, set_discovered_replaces)
{
    static const char *const first[] = {"a", "b"};
    static const char *const second[] = {"c"};
    struct lx_route_target t;
    discover(1, first, 2);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("a"), &t), LX_OK);
    discover(1, second, 1);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("a"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("b"), &t), LX_ERR);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("c"), &t), LX_OK);
    cr_assert_eq(t.backend_index, 1);
    discover(1, NULL, 0);
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("c"), &t), LX_ERR);
    /* ids are copied */
    char id[8] = "temp";
    const char *ids[] = {id};
    discover(0, ids, 1);
    strcpy(id, "XXXX");
    cr_assert_eq(lx_route_lookup(route, LX_STR_LIT("temp"), &t), LX_OK);
}

Test(route, acquire_release_max_in_flight)
{
    /* local: max_in_flight 2; no waiter given, so nothing is queued */
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_in_flight(route, 0), 2);
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_ERR);
    cr_assert_eq(lx_route_in_flight(route, 0), 2, "a refused acquire counts nothing");
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 1);
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_ERR);
    lx_route_release(route, 0);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
    lx_route_release(route, 0); /* an extra release does not wrap */
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
    /* vllm: no limit */
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(lx_route_acquire(route, 1, NULL), LX_OK);
    cr_assert_eq(lx_route_in_flight(route, 1), 1000);
    cr_assert_eq(lx_route_in_flight(route, 0), 0, "backends are counted apart");
}

/* ---- the admission queue ---------------------------------------------------- */

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

static void waiters_init(struct waiter *w, size_t n)
{
    n_granted = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].id = (int)i + 1;
        lx_route_waiter_init(&w[i].w, on_granted, &w[i]);
    }
}

/* Fills local's two slots. */
static void fill_local(void)
{
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_OK);
}

Test(route, queue_fifo_and_handover)
{
    struct waiter w[3];
    waiters_init(w, 3);
    fill_local();
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[1].w), LX_AGAIN);
    cr_assert_eq(lx_route_queued(route, 0), 2);
    cr_assert(lx_route_waiting(&w[0].w));
    cr_assert_eq(n_granted, 0, "nobody is granted while the slots are taken");

    lx_route_release(route, 0);
    cr_assert_eq(n_granted, 1, "the release hands the slot over at once");
    cr_assert_eq(granted[0], 1, "the oldest waiter first");
    cr_assert_not(lx_route_waiting(&w[0].w));
    cr_assert_eq(lx_route_in_flight(route, 0), 2, "the slot changed hands, it was not freed");
    cr_assert_eq(lx_route_queued(route, 0), 1);

    /* a third waiter joins behind the second */
    cr_assert_eq(lx_route_acquire(route, 0, &w[2].w), LX_AGAIN);
    lx_route_release(route, 0);
    lx_route_release(route, 0);
    cr_assert_eq(n_granted, 3);
    cr_assert_eq(granted[1], 2);
    cr_assert_eq(granted[2], 3);
    cr_assert_eq(lx_route_queued(route, 0), 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 2);
    lx_route_release(route, 0);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
    cr_assert_eq(n_granted, 3, "an empty queue gets nothing");
}

Test(route, queue_refuses_when_full)
{
    struct waiter w[4];
    waiters_init(w, 4);
    fill_local();
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[1].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[2].w), LX_ERR, "queue.max is 2");
    cr_assert_not(lx_route_waiting(&w[2].w));
    cr_assert_eq(lx_route_queued(route, 0), 2);
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_ERR, "a waiter is queued only once");
    cr_assert_eq(lx_route_queued(route, 0), 2);
    /* a backend without a queue refuses a waiter; one without a limit never queues */
    cr_assert_eq(lx_route_acquire(route, 1, &w[3].w), LX_OK);
    cr_assert_not(lx_route_waiting(&w[3].w));
    lx_route_cancel_wait(route, &w[0].w);
    lx_route_cancel_wait(route, &w[1].w);
    cr_assert_eq(lx_route_queued(route, 0), 0);
}

Test(route, queue_no_barging)
{
    struct waiter w[3];
    waiters_init(w, 3);
    fill_local();
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[1].w), LX_AGAIN);
    lx_route_release(route, 0); /* to w[0] */
    cr_assert_eq(n_granted, 1);
    /* a newcomer right after the release finds no free slot: it went to w[0] */
    cr_assert_eq(lx_route_acquire(route, 0, NULL), LX_ERR);
    cr_assert_eq(lx_route_acquire(route, 0, &w[2].w), LX_AGAIN, "it queues behind w[1]");
    lx_route_release(route, 0);
    cr_assert_eq(n_granted, 2);
    cr_assert_eq(granted[1], 2, "the freed slot went to the older waiter");
    lx_route_release(route, 0);
    cr_assert_eq(granted[2], 3);
    cr_assert_eq(lx_route_in_flight(route, 0), 2);
    cr_assert_eq(lx_route_queued(route, 0), 0);
}

Test(route, queue_cancel_wait)
{
    struct waiter w[3];
    waiters_init(w, 3);
    fill_local();
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_AGAIN);
    cr_assert_eq(lx_route_acquire(route, 0, &w[1].w), LX_AGAIN);
    lx_route_cancel_wait(route, &w[0].w); /* the head leaves */
    cr_assert_not(lx_route_waiting(&w[0].w));
    cr_assert_eq(lx_route_queued(route, 0), 1);
    lx_route_cancel_wait(route, &w[0].w); /* twice is harmless */
    cr_assert_eq(lx_route_queued(route, 0), 1);
    cr_assert_eq(lx_route_acquire(route, 0, &w[2].w), LX_AGAIN, "its place is free again");
    lx_route_cancel_wait(route, &w[2].w); /* the tail leaves */
    lx_route_release(route, 0);
    cr_assert_eq(n_granted, 1);
    cr_assert_eq(granted[0], 2, "the one left in the queue is served");
    lx_route_cancel_wait(route, &w[1].w); /* granted: not queued, nothing happens */
    cr_assert_eq(lx_route_in_flight(route, 0), 2);
    lx_route_release(route, 0);
    lx_route_release(route, 0);
    cr_assert_eq(lx_route_in_flight(route, 0), 0);
    cr_assert_eq(n_granted, 1);
}

Test(route, health_and_ready)
{
    cr_assert_not(lx_route_ready(route));
    cr_assert_not(lx_route_healthy(route, 1));
    lx_route_set_health(route, 1, true, "ok");
    cr_assert(lx_route_healthy(route, 1));
    cr_assert(lx_route_ready(route));
    lx_route_set_health(route, 1, false, NULL);
    cr_assert_not(lx_route_ready(route));
}

/* Parses the model list; returns the ids in order, joined by ',' . */
static char *model_ids(void)
{
    lx_buf b;
    lx_buf_init(&b, 1 << 16);
    cr_assert_eq(lx_route_write_models(route, &b), LX_OK);
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, b.data, b.len, &a, 64), LX_JSON_OK, "%s", b.data);
    cr_assert(lx_json_str_eq(&j, lx_json_get(&j, 0, "object"), "list"));
    int data = lx_json_get(&j, 0, "data");
    cr_assert(lx_json_is_array(&j, data));
    lx_buf ids;
    lx_buf_init(&ids, 1 << 16);
    int n = lx_json_size(&j, data), i = data + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(&j, i)) {
        cr_assert(lx_json_str_eq(&j, lx_json_get(&j, i, "object"), "model"));
        cr_assert(lx_json_is_string(&j, lx_json_get(&j, i, "owned_by")));
        cr_assert(lx_json_is_number(&j, lx_json_get(&j, i, "created")));
        if (k)
            lx_buf_append_char(&ids, ',');
        lx_json_unescape(&j, lx_json_get(&j, i, "id"), &ids);
    }
    lx_arena_release(&a);
    lx_buf_release(&b);
    char *s = strdup(ids.data ? ids.data : "");
    lx_buf_release(&ids);
    return s;
}

Test(route, write_models_lists_each_name_once)
{
    char *ids = model_ids();
    cr_assert_str_eq(ids, "chat,qwen");
    free(ids);
    static const char *const local_ids[] = {"qwen", "llama-3-8b", "shared", "llama-3-8b"};
    static const char *const vllm_ids[] = {"shared", "chat", "mistral", "we\"ird"};
    discover(0, local_ids, 4);
    discover(1, vllm_ids, 4);
    ids = model_ids();
    cr_assert_str_eq(ids, "chat,qwen,llama-3-8b,shared,mistral,we\"ird");
    free(ids);
}

Test(route, write_status_parses)
{
    static const char *const ids[] = {"m1", "m\"2"};
    discover(0, ids, 2);
    lx_route_set_health(route, 0, true, "");
    lx_route_set_health(route, 2, false, "connect: \"refused\"\n");
    struct waiter w[1];
    waiters_init(w, 1);
    fill_local();
    cr_assert_eq(lx_route_acquire(route, 0, &w[0].w), LX_AGAIN);
    lx_buf b;
    lx_buf_init(&b, 1 << 16);
    cr_assert_eq(lx_route_write_status(route, &b), LX_OK);
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, b.data, b.len, &a, 64), LX_JSON_OK, "%s", b.data);
    bool ready = false;
    cr_assert_eq(lx_json_bool(&j, lx_json_get(&j, 0, "ready"), &ready), LX_OK);
    cr_assert(ready);
    int backends = lx_json_get(&j, 0, "backends");
    cr_assert_eq(lx_json_size(&j, backends), 3);
    int b0 = backends + 1;
    int b1 = lx_json_skip(&j, b0);
    int b2 = lx_json_skip(&j, b1);
    cr_assert(lx_json_str_eq(&j, lx_json_get(&j, b0, "name"), "local"));
    cr_assert_eq(lx_json_size(&j, lx_json_get(&j, b0, "models")), 2);
    int64_t inflight = -1;
    cr_assert_eq(lx_json_int64(&j, lx_json_get(&j, b0, "in_flight"), &inflight), LX_OK);
    cr_assert_eq(inflight, 2);
    int64_t queued = -1;
    cr_assert_eq(lx_json_int64(&j, lx_json_get(&j, b0, "queued"), &queued), LX_OK);
    cr_assert_eq(queued, 1);
    cr_assert_eq(lx_json_int64(&j, lx_json_get(&j, b1, "queued"), &queued), LX_OK);
    cr_assert_eq(queued, 0);
    bool checked = true;
    lx_json_bool(&j, lx_json_get(&j, b1, "checked"), &checked);
    cr_assert_not(checked);
    cr_assert(lx_json_str_eq(&j, lx_json_get(&j, b2, "name"), "cloud"));
    cr_assert(lx_json_str_eq(&j, lx_json_get(&j, b2, "detail"), "connect: \"refused\"\n"));
    lx_arena_release(&a);
    lx_buf_release(&b);
}

Test(route, write_models_cap)
{
    lx_buf b;
    lx_buf_init(&b, 16);
    cr_assert_eq(lx_route_write_models(route, &b), LX_ERR);
    lx_buf_release(&b);
}

Test(route, backoff_full_jitter_capped)
{
    struct lx_config_retry r = {.attempts = 5, .backoff_ms = 100, .max_backoff_ms = 1000};
    /* the window doubles per retry: 100, 200, 400, 800, then the cap */
    const uint32_t window[] = {100, 200, 400, 800, 1000, 1000};
    for (uint32_t i = 0; i < 6; i++) {
        cr_assert_eq(lx_route_backoff_ms(&r, i, 0, 0), 0, "full jitter starts at 0");
        cr_assert_eq(lx_route_backoff_ms(&r, i, 0, window[i]), window[i], "retry %u", i);
        cr_assert_eq(lx_route_backoff_ms(&r, i, 0, window[i] + 1), 0, "wraps within the window");
        for (uint64_t rnd = 1; rnd < 5000; rnd += 97)
            cr_assert_leq(lx_route_backoff_ms(&r, i, 0, rnd * 2654435761u), window[i]);
    }
    cr_assert_eq(lx_route_backoff_ms(&r, 1000, 0, 1000), 1000, "a huge retry number stays capped");
}

Test(route, backoff_honours_longer_retry_after)
{
    struct lx_config_retry r = {.attempts = 2, .backoff_ms = 100, .max_backoff_ms = 200};
    cr_assert_eq(lx_route_backoff_ms(&r, 0, 3000, 50), 3000, "Retry-After is longer: it wins");
    cr_assert_eq(lx_route_backoff_ms(&r, 1, 10, 150), 150, "a shorter one does not shorten it");
    struct lx_config_retry zero = {.attempts = 2};
    cr_assert_eq(lx_route_backoff_ms(&zero, 3, 0, 12345), 0, "backoff_ms 0: no wait");
}

/* --- availability: circuit breaker, active health, pinning --------------- */

static const char health_yaml[] = "backends:\n"
                                  "  - name: a\n"
                                  "    url: http://127.0.0.1:1/v1\n"
                                  "    circuit: {window: 10, min_requests: 4, error_ratio: 0.5,"
                                  " open_ms: 1000}\n"
                                  "  - name: b\n"
                                  "    url: http://127.0.0.1:2/v1\n"
                                  "    circuit: {enabled: false}\n"
                                  "    health_check: false\n"
                                  "models:\n"
                                  "  - name: m\n"
                                  "    backend: a\n"
                                  "    upstream_model: pinned-1\n"
                                  "    fallbacks: [{backend: b, upstream_model: pinned-2}]\n";

static struct lx_route *health_route(void)
{
    struct lx_config *cfg = NULL;
    char err[256];
    cr_assert_eq(
        lx_config_load_string(health_yaml, strlen(health_yaml), "h.yaml", &cfg, err, sizeof(err)),
        LX_OK, "%s", err);
    struct lx_route *r = lx_route_new(cfg);
    cr_assert_not_null(r);
    lx_config_unref(cfg);
    return r;
}

static void record_n(struct lx_route *r, enum lx_route_outcome o, int n, uint64_t now)
{
    for (int i = 0; i < n; i++)
        lx_route_circuit_record(r, 0, o, false, now);
}

static enum lx_route_avail choose(struct lx_route *r, size_t backend, uint64_t now, bool *probe)
{
    return lx_route_choose(r, backend, NULL, now, probe);
}

Test(circuit, opens_at_the_ratio_once_min_requests_are_known)
{
    struct lx_route *r = health_route();
    bool probe;
    record_n(r, LX_ROUTE_SUCCESS, 2, 0);
    record_n(r, LX_ROUTE_FAILURE, 1, 0);
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_CLOSED, "1 of 3 fail");
    record_n(r, LX_ROUTE_FAILURE, 1, 0);
    /* 2 of 4: the ratio is reached */
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_OPEN);
    cr_assert_eq(choose(r, 0, 10, &probe), LX_ROUTE_CIRCUIT_OPEN);
    cr_assert_not(probe);
    lx_route_free(r);
}

Test(circuit, never_opens_below_min_requests)
{
    struct lx_route *r = health_route();
    record_n(r, LX_ROUTE_FAILURE, 3, 0);
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_CLOSED, "3 failures < min_requests 4");
    record_n(r, LX_ROUTE_NEUTRAL, 5, 0); /* 429s, cancels: not counted */
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_CLOSED);
    lx_route_free(r);
}

Test(circuit, the_window_forgets_old_outcomes)
{
    struct lx_route *r = health_route();
    record_n(r, LX_ROUTE_SUCCESS, 2, 0);
    record_n(r, LX_ROUTE_FAILURE, 1, 0);
    record_n(r, LX_ROUTE_SUCCESS, 10, 0); /* pushes the failure out */
    record_n(r, LX_ROUTE_FAILURE, 4, 0);  /* 4 of 10 */
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_CLOSED);
    record_n(r, LX_ROUTE_FAILURE, 1, 0); /* 5 of 10 */
    cr_assert_eq(lx_route_circuit_state(r, 0, 0), LX_ROUTE_OPEN);
    lx_route_free(r);
}

static struct lx_route *opened_at(uint64_t now)
{
    struct lx_route *r = health_route();
    record_n(r, LX_ROUTE_FAILURE, 4, now);
    cr_assert_eq(lx_route_circuit_state(r, 0, now), LX_ROUTE_OPEN);
    return r;
}

Test(circuit, half_open_after_open_ms_lets_one_probe_through)
{
    struct lx_route *r = opened_at(5000);
    bool probe;
    cr_assert_eq(choose(r, 0, 5999, &probe), LX_ROUTE_CIRCUIT_OPEN);
    cr_assert_eq(lx_route_circuit_state(r, 0, 6000), LX_ROUTE_HALF_OPEN);
    cr_assert_eq(choose(r, 0, 6000, &probe), LX_ROUTE_AVAILABLE);
    cr_assert(probe);
    cr_assert_eq(choose(r, 0, 6001, &probe), LX_ROUTE_CIRCUIT_OPEN, "one probe at a time");
    cr_assert_not(probe);
    /* a late outcome of a request sent before the circuit opened decides nothing */
    lx_route_circuit_record(r, 0, LX_ROUTE_SUCCESS, false, 6002);
    cr_assert_eq(lx_route_circuit_state(r, 0, 6002), LX_ROUTE_HALF_OPEN);
    lx_route_free(r);
}

Test(circuit, the_probe_success_closes)
{
    struct lx_route *r = opened_at(0);
    bool probe;
    cr_assert_eq(choose(r, 0, 1000, &probe), LX_ROUTE_AVAILABLE);
    lx_route_circuit_record(r, 0, LX_ROUTE_SUCCESS, probe, 1100);
    cr_assert_eq(lx_route_circuit_state(r, 0, 1100), LX_ROUTE_CLOSED);
    cr_assert_eq(choose(r, 0, 1100, &probe), LX_ROUTE_AVAILABLE);
    cr_assert_not(probe);
    /* the window starts empty: three failures do not reopen it */
    record_n(r, LX_ROUTE_FAILURE, 3, 1200);
    cr_assert_eq(lx_route_circuit_state(r, 0, 1200), LX_ROUTE_CLOSED);
    lx_route_free(r);
}

Test(circuit, the_probe_failure_reopens_for_open_ms)
{
    struct lx_route *r = opened_at(0);
    bool probe;
    cr_assert_eq(choose(r, 0, 1500, &probe), LX_ROUTE_AVAILABLE);
    lx_route_circuit_record(r, 0, LX_ROUTE_FAILURE, probe, 1600);
    cr_assert_eq(lx_route_circuit_state(r, 0, 1600), LX_ROUTE_OPEN);
    cr_assert_eq(choose(r, 0, 2599, &probe), LX_ROUTE_CIRCUIT_OPEN);
    cr_assert_eq(choose(r, 0, 2600, &probe), LX_ROUTE_AVAILABLE);
    cr_assert(probe);
    lx_route_free(r);
}

Test(circuit, a_neutral_probe_frees_the_probe)
{
    struct lx_route *r = opened_at(0);
    bool probe;
    cr_assert_eq(choose(r, 0, 1000, &probe), LX_ROUTE_AVAILABLE);
    lx_route_circuit_record(r, 0, LX_ROUTE_NEUTRAL, probe, 1000);
    cr_assert_eq(choose(r, 0, 1001, &probe), LX_ROUTE_AVAILABLE);
    cr_assert(probe, "the next request probes");
    lx_route_free(r);
}

Test(circuit, disabled_never_opens)
{
    struct lx_route *r = health_route();
    bool probe;
    for (int i = 0; i < 50; i++)
        lx_route_circuit_record(r, 1, LX_ROUTE_FAILURE, false, 0);
    cr_assert_eq(choose(r, 1, 0, &probe), LX_ROUTE_AVAILABLE);
    lx_route_free(r);
}

Test(circuit, active_health_counts_once_checked)
{
    struct lx_route *r = health_route();
    bool probe;
    cr_assert_eq(choose(r, 0, 0, &probe), LX_ROUTE_AVAILABLE, "never checked: in rotation");
    lx_route_set_health(r, 0, false, "connect refused");
    cr_assert_eq(choose(r, 0, 0, &probe), LX_ROUTE_UNHEALTHY);
    lx_route_set_health(r, 0, true, "ok");
    cr_assert_eq(choose(r, 0, 0, &probe), LX_ROUTE_AVAILABLE);
    /* health_check: false counts as healthy (and ready) */
    cr_assert(lx_route_healthy(r, 1));
    lx_route_free(r);
}

Test(circuit, a_missing_pin_takes_the_deployment_out_until_it_is_listed)
{
    struct lx_route *r = health_route();
    bool probe;
    static const char *const without[] = {"other"}, *const with[] = {"other", "pinned-1"};
    lx_route_set_listed(r, 0, without, 1);
    cr_assert_eq(lx_route_choose(r, 0, "pinned-1", 0, &probe), LX_ROUTE_PIN_MISSING);
    cr_assert_eq(lx_route_choose(r, 0, NULL, 0, &probe), LX_ROUTE_AVAILABLE, "unpinned id");
    lx_buf b;
    lx_buf_init(&b, 1 << 16);
    cr_assert_eq(lx_route_write_status(r, &b), LX_OK);
    cr_assert_not_null(
        strstr(b.data, "\"pin_violations\":[{\"model\":\"m\",\"upstream_model\":\"pinned-1\"}]"),
        "%s", b.data);
    cr_assert_not_null(strstr(b.data, "\"circuit\":\"closed\""), "%s", b.data);
    lx_buf_release(&b);
    lx_route_set_listed(r, 0, NULL, 0); /* unreadable list: pins are not judged */
    cr_assert_eq(lx_route_choose(r, 0, "pinned-1", 0, &probe), LX_ROUTE_AVAILABLE);
    lx_route_set_listed(r, 0, without, 1);
    lx_route_set_listed(r, 0, with, 2);
    cr_assert_eq(lx_route_choose(r, 0, "pinned-1", 0, &probe), LX_ROUTE_AVAILABLE);
    lx_route_free(r);
}
