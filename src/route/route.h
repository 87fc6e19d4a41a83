/*
 * route.h — the model registry: which backend and pinned upstream model a
 * public model name goes to, and the live state of each backend (health,
 * models it announced, requests in flight).
 *
 * Names resolve in this order: a model of the config; an alias of the
 * config (to its model, following chains); the id of a model a
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
    const struct lx_config_model *model; /* the config's model (its fallbacks and retry
                                            policy); NULL for a discovered id */
    const char *alias;                   /* the alias the name was, or NULL */
};

/* A new registry for cfg (it takes a reference). Its random generator,
 * used for weighted balancing and A/B draws, is seeded from the
 * environment variable LLMUX_AB_SEED (a decimal number) when set, so
 * tests are reproducible, else from the system's randomness. */
struct lx_route *lx_route_new(struct lx_config *cfg);
/* A registry for cfg that continues prev (a reload): each backend of cfg
 * whose name and url are those of a backend of prev (and whose circuit
 * window is the same) shares that backend's live state — in-flight count,
 * admission queue, circuit, health, listed and discovered models, drain —
 * so slots taken on prev and released on prev stay counted against the
 * same cap. Other backends start fresh. prev may be NULL (lx_route_new). */
struct lx_route *lx_route_new_from(struct lx_config *cfg, const struct lx_route *prev);
/* Registries are refcounted: an exchange holds the one it acquired its
 * slot from. lx_route_ref adds a reference; lx_route_free drops one and
 * frees the registry with the last (a shared backend state goes with the
 * last registry that holds it). */
struct lx_route *lx_route_ref(struct lx_route *r);
void lx_route_free(struct lx_route *r);
/* True when r's backend shares its live state with a backend of prev. */
bool lx_route_carried(const struct lx_route *r, size_t backend, const struct lx_route *prev);
const struct lx_config *lx_route_config(const struct lx_route *r);

/* Resolves a public model name. LX_OK and *out filled, or LX_ERR. */
int lx_route_lookup(struct lx_route *r, lx_str model, struct lx_route_target *out);

/* A request waiting for a slot on a backend (its admission queue, a FIFO
 * of at most queue.max). The caller embeds it (in its own request object)
 * and sets it up with lx_route_waiter_init; the fields are route's own. A
 * waiter must stay where it is while queued. */
struct lx_route_waiter {
    struct lx_route_waiter *prev, *next; /* private */
    void (*granted)(void *data);         /* private */
    void *data;                          /* private */
    size_t backend;                      /* private */
    bool queued;                         /* private */
    uint8_t priority;                    /* private: enum lx_route_priority */
};

/* Priority classes of the admission queue: a freed slot goes to the oldest
 * waiter of the highest class that has one (FIFO within a class). The
 * values are those of lx_proxy_caller.priority; 0 is "not said", which
 * queues as normal. */
enum lx_route_priority {
    LX_ROUTE_PRIO_UNSET = 0,
    LX_ROUTE_PRIO_LOW = 1,
    LX_ROUTE_PRIO_NORMAL = 2,
    LX_ROUTE_PRIO_HIGH = 3,
};
/* "low", "normal", "high" (UNSET reads "normal"). */
const char *lx_route_priority_str(uint8_t p);
/* "high" | "normal" | "low" (exact, lowercase) to its class; LX_ERR otherwise. */
int lx_route_priority_parse(lx_str s, uint8_t *out);
/* The class a waiter queues in (default normal); set it before acquiring. */
void lx_route_waiter_set_priority(struct lx_route_waiter *w, uint8_t priority);

/* granted(data) is called, from inside lx_route_release, when the waiter
 * is handed a slot; the waiter then holds it (and releases it once) as if
 * its acquire had succeeded. The callback must not free the waiter's owner
 * or start work that may release a slot of the same backend: it should
 * note the grant and act at a safe point later. */
void lx_route_waiter_init(struct lx_route_waiter *w, void (*granted)(void *data), void *data);

/* Takes a slot on a backend. LX_OK: the slot is the caller's (pair it
 * with one lx_route_release). LX_AGAIN: the backend is at max_in_flight, or
 * others are already waiting (no barging), and w joined the tail of the
 * queue: wait for w's callback, or take w out with lx_route_cancel_wait.
 * LX_ERR: busy and the queue is full (or w is NULL or already queued):
 * nothing counted, nothing queued. */
int lx_route_acquire(struct lx_route *r, size_t backend, struct lx_route_waiter *w);
/* Gives a slot back. When requests are waiting, the slot goes straight to
 * the head of the queue (whose callback runs before this returns). */
void lx_route_release(struct lx_route *r, size_t backend);
/* Takes w out of its queue (timeout, client gone); nothing when it is not
 * queued (already granted, or never queued). */
void lx_route_cancel_wait(struct lx_route *r, struct lx_route_waiter *w);
bool lx_route_waiting(const struct lx_route_waiter *w);
uint32_t lx_route_in_flight(const struct lx_route *r, size_t backend);
/* Requests waiting in a backend's queue, in all classes. */
uint32_t lx_route_queued(const struct lx_route *r, size_t backend);
/* Requests waiting in one class (LX_ROUTE_PRIO_*; UNSET counts as normal). */
uint32_t lx_route_queued_class(const struct lx_route *r, size_t backend, uint8_t priority);

/* The wait before retry number `retry` (0 for the first retry) of a
 * deployment under policy r: full jitter over an exponential window,
 * uniform in [0, min(max_backoff_ms, backoff_ms * 2^retry)], drawn from
 * random; a backend's Retry-After (retry_after_ms, 0 when none) wins when it
 * is longer. Pure: the caller supplies the random bits. */
uint32_t lx_route_backoff_ms(const struct lx_config_retry *r, uint32_t retry,
                             uint32_t retry_after_ms, uint64_t random);

/* Health: the outcome of the latest check of a backend, and for a
 * discovering backend the model ids it listed (copied). */
void lx_route_set_health(struct lx_route *r, size_t backend, bool healthy, const char *detail);
void lx_route_set_discovered(struct lx_route *r, size_t backend, const char *const *ids, size_t n);
bool lx_route_healthy(const struct lx_route *r, size_t backend);
/* Drain: a draining backend takes no new requests (lx_route_choose answers
 * LX_ROUTE_DRAINING, it does not count as ready) while those in flight or
 * queued on it finish. The flag lives in the backend's state, so it
 * survives a reload that carries the backend over. Logged on change. */
void lx_route_set_draining(struct lx_route *r, size_t backend, bool draining);
bool lx_route_draining(const struct lx_route *r, size_t backend);
/* True when at least one backend is healthy. */
bool lx_route_ready(const struct lx_route *r);

/* --- availability: active health, circuit breaker, pinning --------------
 *
 * A deployment (backend + upstream model) is out of rotation when its
 * backend's last active check failed (after at least one check), when the
 * backend's circuit is open, or when the backend's model list, read by the
 * last check, lacks the pinned upstream model (one written in the config:
 * lx_config_deployment.pinned). Times are the caller's
 * monotonic clock in ms, so tests can drive them. */

enum lx_route_avail {
    LX_ROUTE_AVAILABLE,
    LX_ROUTE_UNHEALTHY,    /* the last active check failed */
    LX_ROUTE_CIRCUIT_OPEN, /* open, or half-open with its probe out */
    LX_ROUTE_PIN_MISSING,  /* the backend does not list the pinned id */
    LX_ROUTE_DRAINING,     /* an operator drains it (lx_route_set_draining) */
};
/* "ok", "unhealthy", "circuit_open", "pin_missing", "draining". */
const char *lx_route_avail_str(enum lx_route_avail a);

/* Whether a request may go to upstream_model on backend now (upstream_model
 * NULL: nothing pinned — a discovered id, or a model without a written
 * upstream_model). When the backend's circuit has been
 * open for open_ms, the first caller gets LX_ROUTE_AVAILABLE with *probe
 * set: the circuit is half-open and this request is its probe, whose
 * outcome the caller must report (lx_route_circuit_record with probe
 * true), even a neutral one. */
enum lx_route_avail lx_route_choose(struct lx_route *r, size_t backend, const char *upstream_model,
                                    uint64_t now_ms, bool *probe);

enum lx_route_outcome {
    LX_ROUTE_NEUTRAL, /* says nothing about the backend: 429, cancelled, no slot */
    LX_ROUTE_SUCCESS, /* 2xx, or a 4xx (the client's fault) */
    LX_ROUTE_FAILURE, /* connect error, timeout, 5xx, incomplete answer */
};
enum lx_route_circuit { LX_ROUTE_CLOSED, LX_ROUTE_OPEN, LX_ROUTE_HALF_OPEN };

/* Counts the outcome of one attempt on backend. Closed: the outcome joins
 * the window, and the circuit opens when at least min_requests are known
 * and failures / known >= error_ratio. The probe's success closes the
 * circuit (with an empty window), its failure opens it again, a neutral
 * outcome frees the probe for the next request. Outcomes of requests that
 * are not the probe do not count while the circuit is not closed.
 * Transitions are logged. */
void lx_route_circuit_record(struct lx_route *r, size_t backend, enum lx_route_outcome o,
                             bool probe, uint64_t now_ms);
/* The circuit's state as of now_ms (an open circuit past open_ms reads
 * half-open). */
enum lx_route_circuit lx_route_circuit_state(const struct lx_route *r, size_t backend,
                                             uint64_t now_ms);
const char *lx_route_circuit_str(enum lx_route_circuit c);

/* The model ids the last check read from the backend's /models (copied),
 * or ids NULL when it could not read a list: then no pin is judged on
 * that backend. Logs each configured deployment on it that goes out of
 * rotation for a missing pin, or comes back. */
void lx_route_set_listed(struct lx_route *r, size_t backend, const char *const *ids, size_t n);

/* How many configured deployments on backend are out of rotation because
 * the backend does not list their pinned upstream model. */
uint32_t lx_route_pin_violations(const struct lx_route *r, size_t backend);

/* --- balancing and A/B ---------------------------------------------------- */

/* One deployment of a set as the balancer sees it. */
struct lx_route_cand {
    uint32_t weight;
    uint32_t outstanding; /* in flight + queued on its backend */
    bool eligible;        /* in rotation and not tried yet */
};
/* Picks among the eligible candidates: least_outstanding takes the fewest
 * outstanding, ties to the higher weight, then the earlier one; weighted
 * draws in proportion to the weights with random. Pure. Returns the
 * index, or -1 when none is eligible. */
int lx_route_balance(enum lx_balance policy, const struct lx_route_cand *c, size_t n,
                     uint64_t random);

/* Why a deployment of a set was picked, for the audit record. */
struct lx_route_pick {
    size_t deployment;    /* index into m->deployments */
    uint32_t weight;      /* its weight */
    uint32_t outstanding; /* its backend's in flight + queued when picked */
    uint32_t candidates;  /* deployments it was picked among */
    bool probe;           /* as lx_route_choose's *probe: report its outcome */
};
/* Picks a deployment of m's balanced set (m->balance) among those whose
 * bit in *tried is clear and that are in rotation (lx_route_choose). A
 * member found out of rotation gets its bit set and its reason in
 * skipped[k] (m->n_deployments entries, each LX_ROUTE_AVAILABLE unless
 * skipped by this call), for the caller to record. LX_OK: *out filled and
 * the chosen one's bit set; LX_ERR: no member is left. */
int lx_route_pick(struct lx_route *r, const struct lx_config_model *m, uint32_t *tried,
                  enum lx_route_avail *skipped, uint64_t now_ms, struct lx_route_pick *out);

/* A point in [0, 1) for a sticky A/B value (a 64-bit hash of its bytes):
 * the same value always lands on the same arm. Pure. */
double lx_route_ab_point(lx_str value);
/* The model that serves a request for m under m->ab: arm "b" (m->ab.model)
 * when the request's point falls below share, else "a" (m itself).
 * sticky is the key id or the header value m->ab.sticky names; empty (or
 * sticky: none) draws a fresh random point. *arm gets 'a' or 'b', or 0
 * (and m is returned) when m has no split. */
const struct lx_config_model *lx_route_ab(struct lx_route *r, const struct lx_config_model *m,
                                          lx_str sticky, char *arm);

/* Writes the OpenAI model list {"object":"list","data":[...]} of every
 * public name: models, aliases (owned_by the target's first backend),
 * discovered ids. */
int lx_route_write_models(const struct lx_route *r, lx_buf *out);
/* Writes {"ready":bool,"backends":[{"name","healthy","draining","checked","detail",
 * "in_flight","queued","queued_by_class":{"high","normal","low"},"circuit","pin_violations":[{"model",
 * "upstream_model"}],"models"}]}; the circuit as of the monotonic clock. */
int lx_route_write_status(const struct lx_route *r, lx_buf *out);

#endif
