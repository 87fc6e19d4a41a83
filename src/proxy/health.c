/*
 * health.c — active health checks: GET {url}/models on every backend each
 * health.interval_ms (but those with health_check: false). A backend is
 * healthy when it answers 2xx; for a discovering backend the ids it lists
 * become public model names, and for every backend the list is what the
 * pinned upstream models of its deployments are checked against (see
 * route.h). /readyz reports the result; route keeps unhealthy backends and
 * unlisted pins out of rotation.
 */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/log.h"

enum { HEALTH_BODY_CAP = 4 * 1024 * 1024, HEALTH_MAX_MODELS = 512 };

struct health_check {
    struct lx_proxy *p;
    size_t backend;
    struct lx_upstream_req *up;
    lx_buf body;
    int status;
    bool was_healthy;
};

static void on_head(void *data, int status, lx_str content_type)
{
    ((struct health_check *)data)->status = status;
}

static int on_data(void *data, const char *p, size_t n)
{
    struct health_check *c = data;
    return lx_buf_append(&c->body, p, n);
}

/* Reads the ids of an OpenAI model list (data[].id): into the route's
 * discovered set for a discovering backend, and as the list pins are
 * judged by (none when the body is not such a list). */
static void read_models(struct health_check *c)
{
    bool readable = false;
    lx_arena a;
    lx_arena_init(&a, 64 * 1024 * 1024);
    lx_json j;
    const char *ids[HEALTH_MAX_MODELS];
    size_t n = 0;
    lx_buf names;
    lx_buf_init(&names, HEALTH_BODY_CAP);
    if (lx_json_parse(&j, c->body.data ? c->body.data : "", c->body.len, &a, 64) == LX_JSON_OK) {
        int data = lx_json_get(&j, 0, "data");
        readable = lx_json_is_array(&j, data);
        int count = lx_json_is_array(&j, data) ? lx_json_size(&j, data) : 0;
        size_t offsets[HEALTH_MAX_MODELS];
        for (int k = 0, i = data + 1; k < count && n < HEALTH_MAX_MODELS;
             k++, i = lx_json_skip(&j, i)) {
            int id = lx_json_get(&j, i, "id");
            size_t at = names.len;
            if (!lx_json_is_string(&j, id) || lx_json_unescape(&j, id, &names) != LX_OK ||
                lx_buf_append_char(&names, '\0') != LX_OK)
                continue;
            offsets[n++] = at;
        }
        for (size_t k = 0; k < n; k++)
            ids[k] = names.data + offsets[k];
    }
    if (c->p->cfg->backends[c->backend].discover)
        lx_route_set_discovered(c->p->route, c->backend, ids, n);
    lx_route_set_listed(c->p->route, c->backend, readable ? ids : NULL, n);
    lx_buf_release(&names);
    lx_arena_release(&a);
}

static void on_done(void *data, enum lx_upstream_result result, const char *detail)
{
    struct health_check *c = data;
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    c->up = NULL;
    char msg[160];
    bool ok = result == LX_UPSTREAM_DONE && c->status >= 200 && c->status < 300;
    if (ok)
        snprintf(msg, sizeof(msg), "ok");
    else if (result == LX_UPSTREAM_DONE)
        snprintf(msg, sizeof(msg), "GET /models answered HTTP %d", c->status);
    else
        snprintf(msg, sizeof(msg), "%s", detail ? detail : lx_upstream_result_str(result));
    lx_route_set_health(c->p->route, c->backend, ok, msg);
    if (ok)
        read_models(c);
    else
        lx_route_set_listed(c->p->route, c->backend, NULL, 0); /* no pin judged */
    if (ok != c->was_healthy)
        lx_log(ok ? LX_LOG_INFO : LX_LOG_WARN, "backend '%s' (%s) is %s%s%s", b->name, b->url,
               ok ? "healthy" : "unhealthy", ok ? "" : ": ", ok ? "" : msg);
    c->was_healthy = ok;
    lx_buf_reset(&c->body);
}

static void check_one(struct health_check *c)
{
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    char url[2048], auth[1024];
    const char *headers[2] = {NULL, NULL};
    snprintf(url, sizeof(url), "%s/models", b->url);
    if (b->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", b->api_key);
        headers[0] = auth;
    }
    uint32_t t = c->p->cfg->health.timeout_ms;
    struct lx_upstream_opts o = {.method = "GET",
                                 .url = url,
                                 .headers = headers,
                                 .connect_ms = t,
                                 .first_byte_ms = t,
                                 .idle_ms = t,
                                 .total_ms = t};
    static const struct lx_upstream_cbs cbs = {on_head, on_data, on_done};
    c->status = 0;
    c->up = lx_upstream_start(c->p->upstream, &o, &cbs, c);
    memset(auth, 0, sizeof(auth));
}

static void on_tick(uv_timer_t *t)
{
    struct lx_proxy *p = t->data;
    for (size_t i = 0; i < p->cfg->n_backends; i++)
        if (p->checks[i].up == NULL && p->cfg->backends[i].health_check)
            check_one(&p->checks[i]);
}

void lx_proxy_start_health(struct lx_proxy *p)
{
    p->health_started = true;
    if (p->cfg->n_backends == 0)
        return;
    p->checks = calloc(p->cfg->n_backends, sizeof(*p->checks));
    if (p->checks == NULL)
        return;
    for (size_t i = 0; i < p->cfg->n_backends; i++) {
        p->checks[i].p = p;
        p->checks[i].backend = i;
        p->checks[i].was_healthy = true; /* log the first failure */
        lx_buf_init(&p->checks[i].body, HEALTH_BODY_CAP);
    }
    uv_timer_start(p->health_timer, on_tick, 0, p->cfg->health.interval_ms);
}

void lx_proxy_health_cancel(struct lx_proxy *p)
{
    if (p->checks == NULL)
        return;
    uv_timer_stop(p->health_timer);
    for (size_t i = 0; i < p->cfg->n_backends; i++) {
        if (p->checks[i].up)
            lx_upstream_cancel(p->checks[i].up);
        lx_buf_release(&p->checks[i].body);
    }
    free(p->checks);
    p->checks = NULL;
}
