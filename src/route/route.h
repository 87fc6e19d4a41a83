/*
 * route.h — the model registry: which backend and pinned upstream model a
 * public model name goes to, and the live state of each backend (health,
 * models it announced, requests in flight).
 *
 * Names resolve in this order: a model of the config; the id of a model a
 * discovering backend announced (first backend in config order wins); the
 * form "BACKEND/ID" for any announced id. The registry holds a reference to
 * the config snapshot it was built from. Health checks themselves are run
 * by the proxy (which owns the HTTP client); this module only keeps what
 * they found.
 */
#ifndef LX_ROUTE_H
#define LX_ROUTE_H

#include "../config/config.h"
#include "../core/buf.h"
#include "../core/str.h"

struct lx_route;

struct lx_route_target {
    size_t backend_index;
    const struct lx_config_backend *backend;
    const char *upstream_model; /* owned by the registry; valid until the next discovery update */
    const char *public_name;
};

struct lx_route *lx_route_new(struct lx_config *cfg);
void lx_route_free(struct lx_route *r);
const struct lx_config *lx_route_config(const struct lx_route *r);

/* Resolves a public model name. LX_OK and *out filled, or LX_ERR. */
int lx_route_lookup(struct lx_route *r, lx_str model, struct lx_route_target *out);

/* Counts a request in flight on a backend; false (nothing counted) when it
 * is at its max_in_flight. Every true is paired with one release. */
bool lx_route_acquire(struct lx_route *r, size_t backend);
void lx_route_release(struct lx_route *r, size_t backend);
uint32_t lx_route_in_flight(const struct lx_route *r, size_t backend);

/* Health: the outcome of the latest check of a backend, and for a
 * discovering backend the model ids it listed (copied). */
void lx_route_set_health(struct lx_route *r, size_t backend, bool healthy, const char *detail);
void lx_route_set_discovered(struct lx_route *r, size_t backend, const char *const *ids, size_t n);
bool lx_route_healthy(const struct lx_route *r, size_t backend);
/* True when at least one backend is healthy. */
bool lx_route_ready(const struct lx_route *r);

/* Writes the OpenAI model list {"object":"list","data":[...]} of every
 * public name. */
int lx_route_write_models(const struct lx_route *r, lx_buf *out);
/* Writes {"ready":bool,"backends":[{"name","healthy","detail","models"}]}. */
int lx_route_write_status(const struct lx_route *r, lx_buf *out);

#endif
