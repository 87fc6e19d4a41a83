/* proxy.c — creating and freeing the proxy (see proxy.h). */
#include "proxy_int.h"

#include <stdlib.h>

#include "../core/log.h"

/* How often waiting exchanges check that their client is still there: a
 * local model server's slot is freed at most this long after a client
 * gave up on a non-streamed answer (or before the first token). */
enum { WATCH_INTERVAL_MS = 250 };

static void on_watch(uv_timer_t *t)
{
    lx_proxy_watch_clients(t->data);
}

/* The seal key of compaction items: from responses.encryption_key_env
 * (config checked it), else random for this process. */
static int init_seal(struct lx_proxy *p, const struct lx_config *cfg)
{
    const char *name = cfg->responses.encryption_key_env;
    if (name == NULL)
        return lx_seal_init_random(&p->seal);
    const char *hex = getenv(name);
    if (hex == NULL || lx_seal_init_hex(&p->seal, hex) != LX_OK) {
        lx_log(LX_LOG_ERROR, "responses.encryption_key_env: $%s does not hold 64 hex digits", name);
        return LX_ERR;
    }
    return LX_OK;
}

static uv_timer_t *new_timer(uv_loop_t *loop, struct lx_proxy *p)
{
    uv_timer_t *t = malloc(sizeof(*t));
    if (t) {
        uv_timer_init(loop, t);
        t->data = p;
    }
    return t;
}

struct lx_proxy *lx_proxy_new(uv_loop_t *loop, struct lx_config *cfg, struct lx_audit *audit)
{
    struct lx_proxy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->cfg = lx_config_ref(cfg);
    p->audit = audit;
    p->route = lx_route_new(cfg);
    p->upstream = lx_upstream_new(loop);
    p->health_timer = new_timer(loop, p);
    p->watch_timer = new_timer(loop, p);
    if (p->watch_timer) {
        uv_timer_start(p->watch_timer, on_watch, WATCH_INTERVAL_MS, WATCH_INTERVAL_MS);
        uv_unref((uv_handle_t *)p->watch_timer); /* never the reason the loop runs */
    }
    if (p->route == NULL || p->upstream == NULL || p->health_timer == NULL ||
        p->watch_timer == NULL || lx_proxy_limits_new(p) != LX_OK ||
        lx_proxy_metrics_init(p) != LX_OK || lx_proxy_key_slots_new(p) != LX_OK ||
        lx_proxy_routing_init(p) != LX_OK || init_seal(p, cfg) != LX_OK) {
        lx_proxy_free(p);
        return NULL;
    }
    return p;
}

/* The caller runs the loop until lx_proxy_in_flight() is 0 before this:
 * an exchange that still has a client refers to the proxy. */
void lx_proxy_free(struct lx_proxy *p)
{
    if (p == NULL)
        return;
    p->closing = true;
    lx_proxy_cancel_all(p);
    lx_proxy_health_cancel(p);
    lx_proxy_free_spares(p);
    if (p->health_timer)
        uv_close((uv_handle_t *)p->health_timer, (uv_close_cb)free);
    if (p->watch_timer)
        uv_close((uv_handle_t *)p->watch_timer, (uv_close_cb)free);
    if (p->upstream)
        lx_upstream_free(p->upstream);
    lx_route_free(p->route);
    lx_proxy_limits_free(p);
    lx_proxy_metrics_release(p);
    lx_proxy_key_slots_free(p);
    lx_proxy_routing_release(p);
    lx_proxy_history_free(p);
    lx_config_unref(p->cfg);
    lx_seal_clear(&p->seal);
    free(p);
}

struct lx_route *lx_proxy_route(struct lx_proxy *p)
{
    return p->route;
}

void lx_proxy_set_resp_store(struct lx_proxy *p, struct lx_store_resp *s)
{
    p->resp_store = s;
}

struct lx_store_resp *lx_proxy_resp_store(const struct lx_proxy *p)
{
    return p->resp_store;
}

struct lx_audit *lx_proxy_audit(struct lx_proxy *p)
{
    return p->audit;
}
