/*
 * reload.c — hot reload with rollback, and draining one backend (see
 * proxy.h; docs/config.md "Reload").
 *
 * A new snapshot is loaded and validated in full by the loader before
 * anything changes. Applying it builds a routing registry that carries
 * over the live state of unchanged backends (route.h lx_route_new_from),
 * then swaps the proxy's snapshot and registry: new exchanges take
 * references to the new pair, running ones keep theirs (exchange.c
 * lx_proxy_snapshot_take), so a slot is always given back where it was
 * taken. Everything here runs on the loop.
 */
#include "proxy_int.h"

#include "../route/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../json/json.h"

void lx_proxy_snapshot_take(struct exchange *ex)
{
    ex->cfg = lx_config_ref(ex->p->cfg);
    ex->route = lx_route_ref(ex->p->route);
}

void lx_proxy_snapshot_drop(struct exchange *ex)
{
    lx_route_free(ex->route);
    lx_config_unref(ex->cfg);
    ex->route = NULL;
    ex->cfg = NULL;
}

struct lx_config *lx_proxy_config(struct lx_proxy *p)
{
    return p->cfg;
}

/* What the audit line of a reload, rollback or drain says. */
struct event {
    const char *event, *trigger, *result;
    const char *source, *hash, *previous_hash; /* NULL: not written */
    const char *backend, *error;
};

static void opt(lx_jw *w, const char *key, const char *v)
{
    if (v == NULL)
        return;
    lx_jw_key(w, key);
    lx_jw_cstr(w, v);
}

/* One audit line; never a secret: config errors name a position and a
 * key, and api keys are read from the environment, not the file. */
static void audit_event(struct lx_proxy *p, const struct event *e)
{
    if (p->audit == NULL)
        return;
    char ts[32];
    lx_clock_format_rfc3339(lx_clock_wall_ms(), ts);
    lx_buf line;
    lx_buf_init(&line, 8192);
    lx_jw w;
    lx_jw_init(&w, &line);
    lx_jw_obj_open(&w);
    opt(&w, "time", ts);
    opt(&w, "event", e->event);
    opt(&w, "trigger", e->trigger);
    opt(&w, "result", e->result);
    opt(&w, "source", e->source);
    opt(&w, "sha256", e->hash);
    opt(&w, "previous_sha256", e->previous_hash);
    opt(&w, "backend", e->backend);
    opt(&w, "error", e->error);
    lx_jw_obj_close(&w);
    if (lx_jw_ok(&w))
        lx_audit_submit(p->audit, line.data, line.len);
    lx_buf_release(&line);
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool same_listeners(const struct lx_config *a, const struct lx_config *b)
{
    if (a->n_listeners != b->n_listeners)
        return false;
    for (size_t i = 0; i < a->n_listeners; i++)
        if (strcmp(a->listeners[i].address, b->listeners[i].address) != 0 ||
            !same_str(a->listeners[i].tls_cert_file, b->listeners[i].tls_cert_file) ||
            !same_str(a->listeners[i].tls_key_file, b->listeners[i].tls_key_file))
            return false;
    return true;
}

/* Logs each setting the new snapshot changes that only a restart applies:
 * what is bound, opened or started once. */
static void warn_fixed(const struct lx_config *old, const struct lx_config *next)
{
    const char *fixed[8];
    size_t n = 0;
    if (!same_listeners(old, next))
        fixed[n++] = "listeners (not rebound)";
    if (!same_str(old->audit.path, next->audit.path) ||
        old->audit.queue_max != next->audit.queue_max)
        fixed[n++] = "audit";
    if (old->auth.enabled != next->auth.enabled || !same_str(old->auth.store, next->auth.store))
        fixed[n++] = "auth";
    if (old->admin.enabled != next->admin.enabled ||
        !same_str(old->admin.key_env, next->admin.key_env))
        fixed[n++] = "admin";
    if (!same_str(old->responses.store, next->responses.store))
        fixed[n++] = "responses.store";
    if (memcmp(&old->rate_limits, &next->rate_limits, sizeof(old->rate_limits)) != 0)
        fixed[n++] = "rate_limits";
    if (old->limits.max_body_bytes != next->limits.max_body_bytes ||
        old->limits.max_headers != next->limits.max_headers)
        fixed[n++] = "limits.max_body_bytes/max_headers (HTTP server)";
    if (old->drain_timeout_ms != next->drain_timeout_ms)
        fixed[n++] = "drain_timeout_ms";
    for (size_t i = 0; i < n; i++)
        lx_log_warn("config reload: %s changed; it keeps its start value until a restart",
                    fixed[i]);
}

/* Makes next the running snapshot (the proxy takes a reference). LX_ERR
 * (out of memory) leaves everything as it was. */
static int apply(struct lx_proxy *p, struct lx_config *next, char *err, size_t errlen)
{
    struct lx_route *r = lx_route_new_from(next, p->route);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory while applying %s", next->source);
        return LX_ERR;
    }
    warn_fixed(p->cfg, next);
    size_t carried = 0;
    for (size_t i = 0; i < next->n_backends; i++)
        carried += lx_route_carried(r, i, p->route);
    /* the running round reads the old indexes: stop it, start one anew */
    lx_proxy_health_cancel(p);
    lx_route_free(p->route);
    p->route = r;
    lx_config_unref(p->cfg);
    p->cfg = lx_config_ref(next);
    lx_proxy_free_spares(p); /* their buffers were sized by the old limits */
    /* TTFT averages (routing rules) are kept by backend index: start anew */
    struct lx_rules_ttft *ttft = lx_rules_ttft_new(next->n_backends);
    if (ttft) {
        lx_rules_ttft_free(p->ttft);
        p->ttft = ttft;
    }
    lx_proxy_metrics_backends(p);
    if (p->health_started)
        lx_proxy_start_health(p);
    lx_log_info("config applied from %s: %zu backends (%zu carried over with their state), "
                "%zu models, %zu aliases; %u requests in flight finish on the previous one",
                next->source, next->n_backends, carried, next->n_models, next->n_aliases,
                p->n_exchanges);
    return LX_OK;
}

static struct lx_config_history *history(struct lx_proxy *p)
{
    if (p->history == NULL && (p->history = calloc(1, sizeof(*p->history))) != NULL)
        lx_config_history_init(p->history);
    return p->history;
}

void lx_proxy_set_loader(struct lx_proxy *p, lx_proxy_loader load, void *data, const char *hash)
{
    p->loader = load;
    p->loader_data = data;
    struct lx_config_history *h = history(p);
    if (h && h->n == 0)
        lx_config_history_push(h, p->cfg, hash, lx_clock_wall_ms());
}

void lx_proxy_history_free(struct lx_proxy *p)
{
    if (p->history == NULL)
        return;
    lx_config_history_release(p->history);
    free(p->history);
    p->history = NULL;
}

/* Copies the running config's hash into out (the ring moves on a push). */
static const char *current_hash(struct lx_proxy *p, char out[LX_CONFIG_HASH_HEX])
{
    const struct lx_config_history_entry *e =
        p->history ? lx_config_history_get(p->history, 0) : NULL;
    snprintf(out, LX_CONFIG_HASH_HEX, "%s", e ? e->hash : "");
    return out;
}

int lx_proxy_reload(struct lx_proxy *p, const char *trigger, char *err, size_t errlen)
{
    struct event e = {.event = "config_reload", .trigger = trigger, .result = "invalid"};
    struct lx_config *next = NULL;
    char hash[LX_CONFIG_HASH_HEX] = "", was[LX_CONFIG_HASH_HEX];
    e.previous_hash = current_hash(p, was);
    int rc = LX_ERR;
    if (p->loader == NULL)
        snprintf(err, errlen,
                 "there is no config file to reload (llmux runs on its built-in "
                 "default)");
    else if (p->loader(p->loader_data, &next, hash, err, errlen) == LX_OK) {
        e.result = "failed";
        rc = apply(p, next, err, errlen);
    }
    e.source = next ? next->source : p->cfg->source;
    e.hash = hash[0] ? hash : NULL;
    if (rc == LX_OK) {
        e.result = "ok";
        struct lx_config_history *h = history(p);
        if (h)
            lx_config_history_push(h, next, hash, lx_clock_wall_ms());
        lx_log_info("config reloaded (%s) from %s, sha256 %s", trigger, next->source, hash);
    } else {
        e.error = err;
        lx_log_warn("config reload (%s) refused, the running config stays: %s", trigger, err);
    }
    lx_proxy_observe_reload(p, e.result);
    audit_event(p, &e);
    lx_config_unref(next);
    return rc;
}

int lx_proxy_rollback(struct lx_proxy *p, const char *trigger, char *err, size_t errlen)
{
    struct event e = {.event = "config_rollback", .trigger = trigger, .result = "invalid"};
    const struct lx_config_history_entry *prev =
        p->history ? lx_config_history_get(p->history, 1) : NULL;
    char was[LX_CONFIG_HASH_HEX];
    e.previous_hash = current_hash(p, was);
    int rc = LX_ERR;
    if (prev == NULL) {
        snprintf(err, errlen, "there is no previous good config to roll back to");
    } else {
        e.result = "failed";
        e.source = prev->cfg->source;
        e.hash = prev->hash;
        rc = apply(p, prev->cfg, err, errlen);
    }
    if (rc == LX_OK) {
        e.result = "ok";
        lx_log_info("config rolled back (%s) to %s, sha256 %s", trigger, prev->cfg->source,
                    prev->hash);
        audit_event(p, &e); /* before the pop: prev points into the ring */
        lx_config_history_pop(p->history);
    } else {
        e.error = err;
        lx_log_warn("config rollback (%s) refused: %s", trigger, err);
        audit_event(p, &e);
    }
    lx_proxy_observe_reload(p, e.result);
    return rc;
}

int lx_proxy_write_config_history(struct lx_proxy *p, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "list");
    lx_jw_key(&w, "data");
    lx_jw_arr_open(&w);
    const struct lx_config_history_entry *e;
    for (size_t i = 0; p->history && (e = lx_config_history_get(p->history, i)) != NULL; i++) {
        char ts[32];
        lx_clock_format_rfc3339(e->applied_ms, ts);
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "current");
        lx_jw_bool(&w, i == 0);
        lx_jw_key(&w, "sha256");
        lx_jw_cstr(&w, e->hash);
        lx_jw_key(&w, "applied_at");
        lx_jw_cstr(&w, ts);
        lx_jw_key(&w, "source");
        lx_jw_cstr(&w, e->cfg->source);
        lx_jw_key(&w, "backends");
        lx_jw_uint(&w, e->cfg->n_backends);
        lx_jw_key(&w, "models");
        lx_jw_uint(&w, e->cfg->n_models);
        lx_jw_obj_close(&w);
    }
    lx_jw_arr_close(&w);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

int lx_proxy_set_draining(struct lx_proxy *p, const char *name, bool draining, const char *trigger)
{
    int b = lx_config_find_backend(p->cfg, name);
    if (b < 0)
        return LX_ERR;
    lx_route_set_draining(p->route, (size_t)b, draining);
    struct event e = {.event = draining ? "backend_drain" : "backend_undrain",
                      .trigger = trigger,
                      .result = "ok",
                      .backend = p->cfg->backends[b].name};
    audit_event(p, &e);
    return LX_OK;
}
