/*
 * health.c — active health checks: GET {url}/models on every backend each
 * health.interval_ms (but those with health_check: false). A backend is
 * healthy when it answers 2xx; for a discovering backend the ids it lists
 * become public model names, and for every backend the list is what the
 * pinned upstream models of its deployments are checked against (see
 * route.h). /readyz reports the result; route keeps unhealthy backends and
 * unlisted pins out of rotation.
 *
 * A backend with pin_check: props or ollama gets a second request after a
 * good /models: llama.cpp's GET /props (the server's root, without /v1) or
 * Ollama's GET /api/tags. A listed id stays listed only when that answer
 * agrees: /props names it as model_alias, model_path, or model_path's file
 * name with or without ".gguf"; /api/tags has an entry of that name whose
 * digest starts with the digest of every deployment on the backend that
 * gives one for it. An unreadable answer lists nothing (every pin fails,
 * loudly): a pin that cannot be verified is not trusted.
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
    bool pin_phase; /* the request out is the /props or /api/tags one */
    lx_buf listed;  /* the ids /models listed, NUL-separated, while it runs */
    size_t n_listed;
};

static void start_get(struct health_check *c, const char *url);
static void check_pins(struct health_check *c);

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
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    if (b->discover)
        lx_route_set_discovered(c->p->route, c->backend, ids, n);
    if (readable && b->pin_check != LX_PIN_CHECK_MODELS) {
        lx_buf_reset(&c->listed);
        c->n_listed = 0;
        for (size_t k = 0; k < n; k++)
            if (lx_buf_append(&c->listed, ids[k], strlen(ids[k]) + 1) == LX_OK)
                c->n_listed++;
        check_pins(c); /* set_listed when its answer is in */
    } else {
        lx_route_set_listed(c->p->route, c->backend, readable ? ids : NULL, n);
    }
    lx_buf_release(&names);
    lx_arena_release(&a);
}

/* The i-th id /models listed (c->listed). */
static const char *listed_id(const struct health_check *c, size_t i)
{
    const char *s = c->listed.data;
    while (i--)
        s += strlen(s) + 1;
    return s;
}

/* True when /props (j) names id: model_alias, model_path, or its file name
 * with or without ".gguf". */
static bool props_name(const lx_json *j, lx_buf *scratch, const char *id)
{
    static const char *const keys[] = {"model_alias", "model_path"};
    for (size_t k = 0; k < LX_ARRAY_LEN(keys); k++) {
        int t = lx_json_get(j, 0, keys[k]);
        lx_buf_reset(scratch);
        if (t < 0 || !lx_json_is_string(j, t) || lx_json_unescape(j, t, scratch) != LX_OK ||
            lx_buf_append_char(scratch, '\0') != LX_OK)
            continue;
        const char *v = scratch->data;
        const char *base = strrchr(v, '/') ? strrchr(v, '/') + 1 : v;
        size_t n = strlen(base), m = strlen(id);
        if (strcmp(v, id) == 0 || strcmp(base, id) == 0 ||
            (n == m + 5 && strncmp(base, id, m) == 0 && strcmp(base + m, ".gguf") == 0))
            return true;
    }
    return false;
}

/* True when every deployment on the backend that pins id with a digest
 * finds it at the start of want ("sha256:" ignored on both sides). */
static bool digests_match(const struct health_check *c, const char *id, const char *want)
{
    const struct lx_config *cfg = c->p->cfg;
    if (strncmp(want, "sha256:", 7) == 0)
        want += 7;
    for (size_t i = 0; i < cfg->n_models; i++)
        for (size_t d = 0; d < lx_config_model_n_deployments(&cfg->models[i]); d++) {
            const struct lx_config_deployment *dep = lx_config_model_deployment(&cfg->models[i], d);
            if (dep->backend != c->backend || !dep->digest || strcmp(dep->upstream_model, id))
                continue;
            const char *have =
                strncmp(dep->digest, "sha256:", 7) == 0 ? dep->digest + 7 : dep->digest;
            if (strncmp(want, have, strlen(have)) != 0)
                return false;
        }
    return true;
}

/* True when /api/tags (j) has an entry named id whose digest matches. */
static bool tags_name(const struct health_check *c, const lx_json *j, lx_buf *scratch,
                      const char *id)
{
    int models = lx_json_get(j, 0, "models");
    int count = lx_json_is_array(j, models) ? lx_json_size(j, models) : 0;
    for (int k = 0, i = models + 1; k < count; k++, i = lx_json_skip(j, i)) {
        int name = lx_json_get(j, i, "name"), digest = lx_json_get(j, i, "digest");
        if (name < 0 || !lx_json_str_eq(j, name, id))
            continue;
        lx_buf_reset(scratch);
        if (digest < 0 || !lx_json_is_string(j, digest) ||
            lx_json_unescape(j, digest, scratch) != LX_OK ||
            lx_buf_append_char(scratch, '\0') != LX_OK)
            return false;
        return digests_match(c, id, scratch->data);
    }
    return false;
}

/* The /props or /api/tags answer is in (ok: 2xx): the ids it confirms
 * become the backend's list. */
static void pins_done(struct health_check *c, bool ok)
{
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    lx_arena a;
    lx_arena_init(&a, 64 * 1024 * 1024);
    lx_json j;
    lx_buf scratch;
    lx_buf_init(&scratch, HEALTH_BODY_CAP);
    const char *ids[HEALTH_MAX_MODELS];
    size_t n = 0;
    bool readable =
        ok &&
        lx_json_parse(&j, c->body.data ? c->body.data : "", c->body.len, &a, 64) == LX_JSON_OK &&
        lx_json_is_object(&j, 0);
    if (!readable)
        lx_log_warn("backend '%s': GET %s did not answer a readable object: its pins cannot be "
                    "verified",
                    b->name, b->pin_check == LX_PIN_CHECK_PROPS ? "/props" : "/api/tags");
    for (size_t i = 0; readable && i < c->n_listed && n < HEALTH_MAX_MODELS; i++) {
        const char *id = listed_id(c, i);
        if (b->pin_check == LX_PIN_CHECK_PROPS ? props_name(&j, &scratch, id)
                                               : tags_name(c, &j, &scratch, id))
            ids[n++] = id;
    }
    lx_route_set_listed(c->p->route, c->backend, ids, n);
    lx_buf_release(&scratch);
    lx_arena_release(&a);
}

/* GET {root}/props or {root}/api/tags: the backend's url without a
 * trailing /v1. */
static void check_pins(struct health_check *c)
{
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    char url[2048];
    size_t n = strlen(b->url);
    if (n >= 3 && strcmp(b->url + n - 3, "/v1") == 0)
        n -= 3;
    snprintf(url, sizeof(url), "%.*s%s", (int)n, b->url,
             b->pin_check == LX_PIN_CHECK_PROPS ? "/props" : "/api/tags");
    lx_buf_reset(&c->body);
    c->pin_phase = true;
    start_get(c, url);
    if (c->up == NULL) {
        c->pin_phase = false;
        pins_done(c, false);
    }
}

static void on_done(void *data, enum lx_upstream_result result, const char *detail)
{
    struct health_check *c = data;
    if (c->pin_phase) {
        c->up = NULL;
        c->pin_phase = false;
        pins_done(c, result == LX_UPSTREAM_DONE && c->status >= 200 && c->status < 300);
        lx_buf_reset(&c->body);
        return;
    }
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
    char url[2048];
    snprintf(url, sizeof(url), "%s/models", b->url);
    start_get(c, url);
}

static void start_get(struct health_check *c, const char *url)
{
    const struct lx_config_backend *b = &c->p->cfg->backends[c->backend];
    char auth[1024];
    const char *headers[2] = {NULL, NULL};
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
        lx_buf_init(&p->checks[i].listed, HEALTH_BODY_CAP);
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
        lx_buf_release(&p->checks[i].listed);
    }
    free(p->checks);
    p->checks = NULL;
}
