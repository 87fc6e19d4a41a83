/* auth.c — the api's keyring and its refresh off the loop (see auth.h). */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/log.h"

struct lx_api_auth {
    struct lx_store_keys *store; /* used by the worker only, after start */
    struct lx_store_keyring *ring;
    uv_timer_t timer;
    uv_work_t work;
    bool working;                   /* a refresh is on the worker thread */
    struct lx_store_keyring *fresh; /* the worker's result, NULL when unchanged */
    char err[256];                  /* the worker's error, "" when none */
    uint64_t gen, work_gen;         /* replacements so far; gen when the refresh began */
};

static void on_tick(uv_timer_t *t);

struct lx_api_auth *lx_api_auth_new(uv_loop_t *loop, const char *path, char *err, size_t errlen)
{
    struct lx_api_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if ((a->store = lx_store_keys_open(path, err, errlen)) == NULL)
        goto fail;
    lx_store_keys_changed(a->store); /* remember the file as it is now */
    if ((a->ring = lx_store_keyring_load(a->store, err, errlen)) == NULL)
        goto fail;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a->work.data = a;
    uv_timer_start(&a->timer, on_tick, LX_API_AUTH_REFRESH_MS, LX_API_AUTH_REFRESH_MS);
    lx_log_info("auth: %zu valid keys in %s", lx_store_keyring_count(a->ring), path);
    return a;
fail:
    lx_api_auth_free(a);
    return NULL;
}

static void refresh_work(uv_work_t *w)
{
    struct lx_api_auth *a = w->data;
    a->fresh = NULL;
    a->err[0] = '\0';
    if (lx_store_keys_changed(a->store))
        a->fresh = lx_store_keyring_load(a->store, a->err, sizeof(a->err));
}

static void refresh_done(uv_work_t *w, int status)
{
    struct lx_api_auth *a = w->data;
    a->working = false;
    if (a->fresh && a->work_gen != a->gen) {
        lx_store_keyring_free(a->fresh); /* older than a replacement made meanwhile */
        a->fresh = NULL;
    } else if (a->fresh) {
        lx_store_keyring_free(a->ring);
        a->ring = a->fresh;
        a->fresh = NULL;
        lx_log(LX_LOG_DEBUG, "auth: reloaded, %zu valid keys", lx_store_keyring_count(a->ring));
    } else if (a->err[0]) {
        lx_log_warn("auth: keeping the keys loaded before: %s", a->err);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct lx_api_auth *a = t->data;
    if (a->working)
        return;
    a->work_gen = a->gen;
    if (uv_queue_work(t->loop, &a->work, refresh_work, refresh_done) == 0)
        a->working = true;
}

void lx_api_auth_stop(struct lx_api_auth *a)
{
    if (a && a->timer.loop && !uv_is_closing((uv_handle_t *)&a->timer))
        uv_close((uv_handle_t *)&a->timer, NULL);
}

void lx_api_auth_free(struct lx_api_auth *a)
{
    if (a == NULL)
        return;
    lx_store_keyring_free(a->ring);
    lx_store_keys_close(a->store);
    free(a);
}

void lx_api_auth_replace(struct lx_api_auth *a, struct lx_store_keyring *ring)
{
    lx_store_keyring_free(a->ring);
    a->ring = ring;
    a->gen++;
    lx_log(LX_LOG_DEBUG, "auth: replaced, %zu valid keys", lx_store_keyring_count(a->ring));
}

const struct lx_store_key *lx_api_auth_find(const struct lx_api_auth *a, lx_str secret)
{
    return lx_store_keyring_find(a->ring, secret);
}
