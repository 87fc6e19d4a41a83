/* route.c — see route.h. Model counts are small (tens), so lookups scan.
 *
 * The admission queue of a backend is one FIFO per priority class; the
 * random generator is splitmix64 (fast, 64-bit state, good enough to split
 * traffic; never used for anything secret). */
#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/id.h"
#include "../core/log.h"
#include "../json/json.h"

/* Passive health of a backend: a ring of the last `window` known outcomes
 * (1 = failure) while closed. */
struct circuit {
    enum lx_route_circuit state;
    uint8_t *ring;
    uint32_t n, pos, failures;
    uint64_t opened_ms; /* when it last opened */
    bool probing;       /* half-open and its probe is out */
};

/* The live state of one backend. Shared between the registries of
 * successive config snapshots while the backend keeps its name, url and
 * circuit window (lx_route_new_from), so in-flight counts, queues and
 * circuits stay one; freed with its last registry. */
struct backend_state {
    uint32_t refs;
    bool draining; /* out of rotation by an operator (lx_route_set_draining) */
    bool healthy;
    bool checked;
    char detail[160];
    uint32_t in_flight;
    uint32_t n_queued; /* over all classes */
    struct {
        struct lx_route_waiter *head, *tail; /* oldest first */
        uint32_t n;
    } q[LX_ROUTE_PRIO_HIGH + 1]; /* by class; [UNSET] stays empty */
    char **models;               /* discovered ids */
    size_t n_models;
    char **listed; /* ids the last check read from /models, for pinning */
    size_t n_listed;
    bool list_known; /* false: no list read, pins are not judged */
    struct circuit circuit;
};

struct lx_route {
    uint32_t refs;
    struct lx_config *cfg;
    struct backend_state **b; /* one per cfg->backends, possibly shared */
    uint64_t rng;             /* splitmix64 state */
};

static uint64_t next_random(struct lx_route *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t initial_seed(void)
{
    const char *s = getenv("LLMUX_AB_SEED");
    if (s && *s) {
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 10);
        if (end && *end == '\0')
            return v;
        lx_log_warn("LLMUX_AB_SEED is not a decimal number: ignored");
    }
    return lx_id_random64();
}

static struct backend_state *state_new(const struct lx_config_backend *cb)
{
    struct backend_state *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->refs = 1;
    if (!cb->health_check) {
        /* never checked: in rotation, and counted as ready */
        b->healthy = true;
        snprintf(b->detail, sizeof(b->detail), "not checked (health_check: false)");
    }
    if (cb->circuit.enabled && !(b->circuit.ring = calloc(cb->circuit.window, 1))) {
        free(b);
        return NULL;
    }
    return b;
}

/* The state of prev's backend that cb continues, or NULL: the same name
 * and url, and a circuit ring of the same shape (its size is the window). */
static struct backend_state *carried(const struct lx_route *prev,
                                     const struct lx_config_backend *cb)
{
    if (prev == NULL)
        return NULL;
    int i = lx_config_find_backend(prev->cfg, cb->name);
    if (i < 0)
        return NULL;
    const struct lx_config_backend *old = &prev->cfg->backends[i];
    if (strcmp(old->url, cb->url) != 0 || old->circuit.enabled != cb->circuit.enabled ||
        (cb->circuit.enabled && old->circuit.window != cb->circuit.window))
        return NULL;
    return prev->b[i];
}

struct lx_route *lx_route_new_from(struct lx_config *cfg, const struct lx_route *prev)
{
    struct lx_route *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->b = calloc(cfg->n_backends ? cfg->n_backends : 1, sizeof(*r->b));
    if (r->b == NULL) {
        free(r);
        return NULL;
    }
    r->refs = 1;
    r->cfg = lx_config_ref(cfg);
    r->rng = prev ? prev->rng ^ lx_id_random64() : initial_seed();
    for (size_t i = 0; i < cfg->n_backends; i++) {
        struct backend_state *b = carried(prev, &cfg->backends[i]);
        if (b)
            b->refs++;
        else if ((b = state_new(&cfg->backends[i])) == NULL) {
            lx_route_free(r);
            return NULL;
        }
        r->b[i] = b;
    }
    return r;
}

struct lx_route *lx_route_new(struct lx_config *cfg)
{
    return lx_route_new_from(cfg, NULL);
}

struct lx_route *lx_route_ref(struct lx_route *r)
{
    if (r)
        r->refs++;
    return r;
}

bool lx_route_carried(const struct lx_route *r, size_t backend, const struct lx_route *prev)
{
    for (size_t i = 0; prev && i < prev->cfg->n_backends; i++)
        if (prev->b[i] == r->b[backend])
            return true;
    return false;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void free_models(struct backend_state *b)
{
    for (size_t i = 0; i < b->n_models; i++)
        free(b->models[i]);
    free(b->models);
    b->models = NULL;
    b->n_models = 0;
}

void lx_route_free(struct lx_route *r)
{
    if (r == NULL || --r->refs > 0)
        return;
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        struct backend_state *b = r->b[i];
        if (b == NULL || --b->refs > 0)
            continue;
        free_models(b);
        free_ids(b->listed, b->n_listed);
        free(b->circuit.ring);
        free(b);
    }
    free(r->b);
    lx_config_unref(r->cfg);
    free(r);
}

const struct lx_config *lx_route_config(const struct lx_route *r)
{
    return r->cfg;
}

static void fill(struct lx_route *r, size_t backend, const char *upstream, const char *public_name,
                 struct lx_route_target *out)
{
    out->backend_index = backend;
    out->backend = &r->cfg->backends[backend];
    out->upstream_model = upstream;
    out->public_name = public_name;
    out->model = NULL;
    out->alias = NULL;
}

/* An announced id, either bare or as "BACKEND/ID". */
static int lookup_discovered(struct lx_route *r, lx_str model, struct lx_route_target *out)
{
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        const struct backend_state *b = r->b[i];
        for (size_t k = 0; k < b->n_models; k++) {
            if (lx_str_eq_cstr(model, b->models[k])) {
                fill(r, i, b->models[k], b->models[k], out);
                return LX_OK;
            }
        }
    }
    const char *slash = memchr(model.ptr, '/', model.len);
    if (slash == NULL)
        return LX_ERR;
    lx_str bname = {model.ptr, (size_t)(slash - model.ptr)};
    lx_str id = {slash + 1, model.len - bname.len - 1};
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        if (!lx_str_eq_cstr(bname, r->cfg->backends[i].name))
            continue;
        for (size_t k = 0; k < r->b[i]->n_models; k++)
            if (lx_str_eq_cstr(id, r->b[i]->models[k])) {
                fill(r, i, r->b[i]->models[k], r->b[i]->models[k], out);
                return LX_OK;
            }
    }
    return LX_ERR;
}

int lx_route_lookup(struct lx_route *r, lx_str model, struct lx_route_target *out)
{
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        const struct lx_config_model *m = &r->cfg->models[i];
        if (lx_str_eq_cstr(model, m->name)) {
            fill(r, m->backend, m->upstream_model, m->name, out);
            out->model = m;
            return LX_OK;
        }
    }
    const struct lx_config_alias *a = lx_config_find_alias(r->cfg, model.ptr, model.len);
    if (a) {
        const struct lx_config_model *m = &r->cfg->models[a->model];
        fill(r, m->backend, m->upstream_model, m->name, out);
        out->model = m;
        out->alias = a->name;
        return LX_OK;
    }
    return lookup_discovered(r, model, out);
}

uint32_t lx_route_backoff_ms(const struct lx_config_retry *r, uint32_t retry,
                             uint32_t retry_after_ms, uint64_t random)
{
    uint64_t window = r->backoff_ms;
    for (uint32_t i = 0; i < retry && window < r->max_backoff_ms; i++)
        window *= 2;
    if (window > r->max_backoff_ms)
        window = r->max_backoff_ms;
    uint32_t wait = (uint32_t)(random % (window + 1));
    return LX_MAX(wait, retry_after_ms);
}

void lx_route_waiter_init(struct lx_route_waiter *w, void (*granted)(void *data), void *data)
{
    *w = (struct lx_route_waiter){
        .granted = granted, .data = data, .priority = LX_ROUTE_PRIO_NORMAL};
}

static uint8_t prio_class(uint8_t p)
{
    return p == LX_ROUTE_PRIO_UNSET || p > LX_ROUTE_PRIO_HIGH ? LX_ROUTE_PRIO_NORMAL : p;
}

void lx_route_waiter_set_priority(struct lx_route_waiter *w, uint8_t priority)
{
    if (!w->queued)
        w->priority = prio_class(priority);
}

const char *lx_route_priority_str(uint8_t p)
{
    static const char *const names[] = {"normal", "low", "normal", "high"};
    return names[prio_class(p)];
}

int lx_route_priority_parse(lx_str s, uint8_t *out)
{
    static const char *const names[] = {"low", "normal", "high"};
    for (size_t i = 0; i < LX_ARRAY_LEN(names); i++)
        if (lx_str_eq_cstr(s, names[i])) {
            *out = (uint8_t)(LX_ROUTE_PRIO_LOW + i);
            return LX_OK;
        }
    return LX_ERR;
}

static void enqueue(struct backend_state *b, struct lx_route_waiter *w, size_t backend)
{
    uint8_t c = prio_class(w->priority);
    w->backend = backend;
    w->queued = true;
    w->next = NULL;
    w->prev = b->q[c].tail;
    if (b->q[c].tail)
        b->q[c].tail->next = w;
    else
        b->q[c].head = w;
    b->q[c].tail = w;
    b->q[c].n++;
    b->n_queued++;
}

static void unlink_waiter(struct backend_state *b, struct lx_route_waiter *w)
{
    uint8_t c = prio_class(w->priority);
    if (w->prev)
        w->prev->next = w->next;
    else
        b->q[c].head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        b->q[c].tail = w->prev;
    w->prev = w->next = NULL;
    w->queued = false;
    b->q[c].n--;
    b->n_queued--;
}

/* The waiter a freed slot goes to: the oldest of the highest class. */
static struct lx_route_waiter *next_waiter(const struct backend_state *b)
{
    for (int c = LX_ROUTE_PRIO_HIGH; c >= LX_ROUTE_PRIO_LOW; c--)
        if (b->q[c].head)
            return b->q[c].head;
    return NULL;
}

int lx_route_acquire(struct lx_route *r, size_t backend, struct lx_route_waiter *w)
{
    const struct lx_config_backend *cb = &r->cfg->backends[backend];
    struct backend_state *b = r->b[backend];
    bool full = cb->max_in_flight && b->in_flight >= cb->max_in_flight;
    if (!full && b->n_queued == 0) {
        b->in_flight++;
        return LX_OK;
    }
    if (w == NULL || w->queued || b->n_queued >= cb->queue.max)
        return LX_ERR;
    enqueue(b, w, backend);
    return LX_AGAIN;
}

void lx_route_release(struct lx_route *r, size_t backend)
{
    struct backend_state *b = r->b[backend];
    struct lx_route_waiter *w = next_waiter(b);
    if (w) {
        /* the slot changes hands: in_flight stays as it is */
        unlink_waiter(b, w);
        w->granted(w->data);
        return;
    }
    if (b->in_flight > 0)
        b->in_flight--;
}

void lx_route_cancel_wait(struct lx_route *r, struct lx_route_waiter *w)
{
    if (w->queued)
        unlink_waiter(r->b[w->backend], w);
}

bool lx_route_waiting(const struct lx_route_waiter *w)
{
    return w->queued;
}

uint32_t lx_route_queued(const struct lx_route *r, size_t backend)
{
    return r->b[backend]->n_queued;
}

uint32_t lx_route_queued_class(const struct lx_route *r, size_t backend, uint8_t priority)
{
    return r->b[backend]->q[prio_class(priority)].n;
}

uint32_t lx_route_in_flight(const struct lx_route *r, size_t backend)
{
    return r->b[backend]->in_flight;
}

void lx_route_set_health(struct lx_route *r, size_t backend, bool healthy, const char *detail)
{
    struct backend_state *b = r->b[backend];
    b->healthy = healthy;
    b->checked = true;
    snprintf(b->detail, sizeof(b->detail), "%s", detail ? detail : "");
}

void lx_route_set_discovered(struct lx_route *r, size_t backend, const char *const *ids, size_t n)
{
    struct backend_state *b = r->b[backend];
    free_models(b);
    if (n == 0)
        return;
    b->models = calloc(n, sizeof(char *));
    if (b->models == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        b->models[i] = strdup(ids[i]);
        if (b->models[i] == NULL)
            break;
        b->n_models = i + 1;
    }
}

void lx_route_set_draining(struct lx_route *r, size_t backend, bool draining)
{
    struct backend_state *b = r->b[backend];
    if (b->draining != draining)
        lx_log_info("backend '%s': %s", r->cfg->backends[backend].name,
                    draining ? "draining: no new requests, in-flight ones finish"
                             : "undrained: back in rotation");
    b->draining = draining;
}

bool lx_route_draining(const struct lx_route *r, size_t backend)
{
    return r->b[backend]->draining;
}

bool lx_route_healthy(const struct lx_route *r, size_t backend)
{
    return r->b[backend]->healthy;
}

bool lx_route_ready(const struct lx_route *r)
{
    for (size_t i = 0; i < r->cfg->n_backends; i++)
        if (r->b[i]->healthy && !r->b[i]->draining)
            return true;
    return false;
}

/* --- availability ------------------------------------------------------- */

const char *lx_route_avail_str(enum lx_route_avail a)
{
    static const char *const names[] = {"ok", "unhealthy", "circuit_open", "pin_missing",
                                        "draining"};
    return (size_t)a < LX_ARRAY_LEN(names) ? names[a] : "?";
}

const char *lx_route_circuit_str(enum lx_route_circuit c)
{
    static const char *const names[] = {"closed", "open", "half_open"};
    return (size_t)c < LX_ARRAY_LEN(names) ? names[c] : "?";
}

static bool listed(const struct backend_state *b, const char *id)
{
    for (size_t k = 0; k < b->n_listed; k++)
        if (strcmp(b->listed[k], id) == 0)
            return true;
    return false;
}

static bool pin_missing(const struct backend_state *b, const char *upstream_model)
{
    return upstream_model && b->list_known && !listed(b, upstream_model);
}

enum lx_route_circuit lx_route_circuit_state(const struct lx_route *r, size_t backend,
                                             uint64_t now_ms)
{
    const struct circuit *c = &r->b[backend]->circuit;
    if (c->state == LX_ROUTE_OPEN &&
        now_ms >= c->opened_ms + r->cfg->backends[backend].circuit.open_ms)
        return LX_ROUTE_HALF_OPEN;
    return c->state;
}

/* The one place a circuit changes state. */
static void circuit_to(struct lx_route *r, size_t backend, enum lx_route_circuit to,
                       uint64_t now_ms)
{
    struct circuit *c = &r->b[backend]->circuit;
    const struct lx_config_backend *cb = &r->cfg->backends[backend];
    if (to == LX_ROUTE_OPEN) {
        c->opened_ms = now_ms;
        if (c->state == LX_ROUTE_CLOSED)
            lx_log_warn(
                "backend '%s': circuit open for %u ms (%u failures in the last %u attempts)",
                cb->name, cb->circuit.open_ms, c->failures, c->n);
        else
            lx_log_warn("backend '%s': the probe failed, circuit open again for %u ms", cb->name,
                        cb->circuit.open_ms);
    } else if (to == LX_ROUTE_HALF_OPEN) {
        lx_log_info("backend '%s': circuit half-open, one probe request goes through", cb->name);
    } else {
        lx_log_info("backend '%s': the probe succeeded, circuit closed", cb->name);
    }
    if (to != LX_ROUTE_HALF_OPEN) {
        /* a closed circuit starts with an empty window; an open one keeps none */
        memset(c->ring, 0, cb->circuit.window);
        c->n = c->pos = c->failures = 0;
    }
    c->probing = false;
    c->state = to;
}

/* lx_route_choose without taking the probe: what it would answer. */
static enum lx_route_avail peek(const struct lx_route *r, size_t backend,
                                const char *upstream_model, uint64_t now_ms)
{
    const struct backend_state *b = r->b[backend];
    if (b->draining)
        return LX_ROUTE_DRAINING;
    if (b->checked && !b->healthy)
        return LX_ROUTE_UNHEALTHY;
    if (pin_missing(b, upstream_model))
        return LX_ROUTE_PIN_MISSING;
    if (!r->cfg->backends[backend].circuit.enabled)
        return LX_ROUTE_AVAILABLE;
    enum lx_route_circuit st = lx_route_circuit_state(r, backend, now_ms);
    if (st == LX_ROUTE_OPEN || (st == LX_ROUTE_HALF_OPEN && b->circuit.probing))
        return LX_ROUTE_CIRCUIT_OPEN;
    return LX_ROUTE_AVAILABLE;
}

enum lx_route_avail lx_route_choose(struct lx_route *r, size_t backend, const char *upstream_model,
                                    uint64_t now_ms, bool *probe)
{
    *probe = false;
    enum lx_route_avail a = peek(r, backend, upstream_model, now_ms);
    if (a != LX_ROUTE_AVAILABLE || !r->cfg->backends[backend].circuit.enabled)
        return a;
    struct circuit *c = &r->b[backend]->circuit;
    if (lx_route_circuit_state(r, backend, now_ms) == LX_ROUTE_CLOSED)
        return LX_ROUTE_AVAILABLE;
    if (c->state != LX_ROUTE_HALF_OPEN)
        circuit_to(r, backend, LX_ROUTE_HALF_OPEN, now_ms);
    c->probing = true;
    *probe = true;
    return LX_ROUTE_AVAILABLE;
}

void lx_route_circuit_record(struct lx_route *r, size_t backend, enum lx_route_outcome o,
                             bool probe, uint64_t now_ms)
{
    const struct lx_config_circuit *cc = &r->cfg->backends[backend].circuit;
    struct circuit *c = &r->b[backend]->circuit;
    if (!cc->enabled)
        return;
    if (probe) {
        if (c->state != LX_ROUTE_HALF_OPEN || !c->probing)
            return;
        if (o == LX_ROUTE_NEUTRAL)
            c->probing = false; /* the next request probes */
        else
            circuit_to(r, backend, o == LX_ROUTE_SUCCESS ? LX_ROUTE_CLOSED : LX_ROUTE_OPEN, now_ms);
        return;
    }
    if (o == LX_ROUTE_NEUTRAL || c->state != LX_ROUTE_CLOSED)
        return;
    uint8_t failed = o == LX_ROUTE_FAILURE;
    if (c->n == cc->window)
        c->failures -= c->ring[c->pos];
    else
        c->n++;
    c->ring[c->pos] = failed;
    c->failures += failed;
    c->pos = (c->pos + 1) % cc->window;
    if (c->n >= cc->min_requests && (double)c->failures >= cc->error_ratio * c->n)
        circuit_to(r, backend, LX_ROUTE_OPEN, now_ms);
}

/* The pinned upstream id of deployment d of m (lx_config_model_deployment),
 * or NULL when the id was not written in the config. */
static const char *pinned_id(const struct lx_config_model *m, size_t d)
{
    const struct lx_config_deployment *dep = lx_config_model_deployment(m, d);
    return dep->pinned ? dep->upstream_model : NULL;
}

/* Logs each deployment on backend whose pin state differs between the old
 * list (was_known, old) and the current one. */
static void log_pin_changes(struct lx_route *r, size_t backend, bool was_known, char **old,
                            size_t n_old)
{
    const struct backend_state *b = r->b[backend];
    struct backend_state before = {.list_known = was_known, .listed = old, .n_listed = n_old};
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        const struct lx_config_model *m = &r->cfg->models[i];
        for (size_t d = 0; d < lx_config_model_n_deployments(m); d++) {
            size_t be = lx_config_model_deployment(m, d)->backend;
            const char *id = pinned_id(m, d);
            if (be != backend || id == NULL || pin_missing(&before, id) == pin_missing(b, id))
                continue;
            if (pin_missing(b, id))
                lx_log_warn(
                    "model '%s': backend '%s' does not serve the pinned model '%s' (not in "
                    "its /models, or its /props or /api/tags disagree): that deployment is out of "
                    "rotation",
                    m->name, r->cfg->backends[backend].name, id);
            else
                lx_log_info("model '%s': backend '%s' lists the pinned model '%s' again: back in "
                            "rotation",
                            m->name, r->cfg->backends[backend].name, id);
        }
    }
}

void lx_route_set_listed(struct lx_route *r, size_t backend, const char *const *ids, size_t n)
{
    struct backend_state *b = r->b[backend];
    char **old = b->listed;
    size_t n_old = b->n_listed;
    bool was_known = b->list_known;
    b->listed = NULL;
    b->n_listed = 0;
    b->list_known = false;
    if (ids && (n == 0 || (b->listed = calloc(n, sizeof(char *))))) {
        b->list_known = true;
        for (size_t i = 0; i < n; i++) {
            if (!(b->listed[i] = strdup(ids[i]))) {
                b->list_known = false; /* out of memory: judge nothing */
                break;
            }
            b->n_listed = i + 1;
        }
    }
    log_pin_changes(r, backend, was_known, old, n_old);
    free_ids(old, n_old);
}

/* Writes the deployments on backend that are out for a missing pin. */
static void write_pin_violations(lx_jw *w, const struct lx_route *r, size_t backend)
{
    const struct backend_state *b = r->b[backend];
    lx_jw_arr_open(w);
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        const struct lx_config_model *m = &r->cfg->models[i];
        for (size_t d = 0; d < lx_config_model_n_deployments(m); d++) {
            size_t be = lx_config_model_deployment(m, d)->backend;
            const char *id = pinned_id(m, d);
            if (be != backend || !pin_missing(b, id))
                continue;
            lx_jw_obj_open(w);
            lx_jw_key(w, "model");
            lx_jw_cstr(w, m->name);
            lx_jw_key(w, "upstream_model");
            lx_jw_cstr(w, id);
            lx_jw_obj_close(w);
        }
    }
    lx_jw_arr_close(w);
}

uint32_t lx_route_pin_violations(const struct lx_route *r, size_t backend)
{
    const struct backend_state *b = r->b[backend];
    uint32_t n = 0;
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        const struct lx_config_model *m = &r->cfg->models[i];
        for (size_t d = 0; d <= m->n_fallbacks; d++) {
            size_t be = d ? m->fallbacks[d - 1].backend : m->backend;
            if (be == backend && pin_missing(b, pinned_id(m, d)))
                n++;
        }
    }
    return n;
}

static void write_model(lx_jw *w, const char *id, const char *owner)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "id");
    lx_jw_cstr(w, id);
    lx_jw_key(w, "object");
    lx_jw_cstr(w, "model");
    lx_jw_key(w, "created");
    lx_jw_int(w, 0);
    lx_jw_key(w, "owned_by");
    lx_jw_cstr(w, owner);
    lx_jw_obj_close(w);
}

/* True when id was already listed: by a configured model or an earlier
 * backend's announcement (the names lookup would resolve elsewhere). */
static bool listed_before(const struct lx_route *r, size_t backend, size_t k, const char *id)
{
    for (size_t i = 0; i < r->cfg->n_models; i++)
        if (strcmp(r->cfg->models[i].name, id) == 0)
            return true;
    if (lx_config_find_alias(r->cfg, id, strlen(id)))
        return true;
    for (size_t i = 0; i <= backend; i++)
        for (size_t m = 0; m < (i == backend ? k : r->b[i]->n_models); m++)
            if (strcmp(r->b[i]->models[m], id) == 0)
                return true;
    return false;
}

int lx_route_write_models(const struct lx_route *r, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "list");
    lx_jw_key(&w, "data");
    lx_jw_arr_open(&w);
    for (size_t i = 0; i < r->cfg->n_models; i++)
        write_model(&w, r->cfg->models[i].name, r->cfg->backends[r->cfg->models[i].backend].name);
    for (size_t i = 0; i < r->cfg->n_aliases; i++)
        write_model(&w, r->cfg->aliases[i].name,
                    r->cfg->backends[r->cfg->models[r->cfg->aliases[i].model].backend].name);
    for (size_t i = 0; i < r->cfg->n_backends; i++)
        for (size_t k = 0; k < r->b[i]->n_models; k++)
            if (!listed_before(r, i, k, r->b[i]->models[k]))
                write_model(&w, r->b[i]->models[k], r->cfg->backends[i].name);
    lx_jw_arr_close(&w);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

int lx_route_write_status(const struct lx_route *r, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "ready");
    lx_jw_bool(&w, lx_route_ready(r));
    uint64_t now_ms = lx_clock_mono_us() / 1000;
    lx_jw_key(&w, "backends");
    lx_jw_arr_open(&w);
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        const struct backend_state *b = r->b[i];
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "name");
        lx_jw_cstr(&w, r->cfg->backends[i].name);
        lx_jw_key(&w, "healthy");
        lx_jw_bool(&w, b->healthy);
        lx_jw_key(&w, "draining");
        lx_jw_bool(&w, b->draining);
        lx_jw_key(&w, "checked");
        lx_jw_bool(&w, b->checked);
        lx_jw_key(&w, "detail");
        lx_jw_cstr(&w, b->detail);
        lx_jw_key(&w, "in_flight");
        lx_jw_uint(&w, b->in_flight);
        lx_jw_key(&w, "queued");
        lx_jw_uint(&w, b->n_queued);
        lx_jw_key(&w, "queued_by_class");
        lx_jw_obj_open(&w);
        for (int c = LX_ROUTE_PRIO_HIGH; c >= LX_ROUTE_PRIO_LOW; c--) {
            lx_jw_key(&w, lx_route_priority_str((uint8_t)c));
            lx_jw_uint(&w, b->q[c].n);
        }
        lx_jw_obj_close(&w);
        lx_jw_key(&w, "circuit");
        lx_jw_cstr(&w, r->cfg->backends[i].circuit.enabled
                           ? lx_route_circuit_str(lx_route_circuit_state(r, i, now_ms))
                           : "off");
        lx_jw_key(&w, "pin_violations");
        write_pin_violations(&w, r, i);
        lx_jw_key(&w, "models");
        lx_jw_arr_open(&w);
        for (size_t k = 0; k < b->n_models; k++)
            lx_jw_cstr(&w, b->models[k]);
        lx_jw_arr_close(&w);
        lx_jw_obj_close(&w);
    }
    lx_jw_arr_close(&w);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

/* --- balancing and A/B ---------------------------------------------------- */

int lx_route_balance(enum lx_balance policy, const struct lx_route_cand *c, size_t n,
                     uint64_t random)
{
    int best = -1;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].eligible)
            continue;
        total += c[i].weight;
        if (best < 0 || c[i].outstanding < c[best].outstanding ||
            (c[i].outstanding == c[best].outstanding && c[i].weight > c[best].weight))
            best = (int)i;
    }
    if (policy != LX_BALANCE_WEIGHTED || best < 0 || total == 0)
        return best;
    uint64_t point = random % total;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].eligible)
            continue;
        if (point < c[i].weight)
            return (int)i;
        point -= c[i].weight;
    }
    return best; /* not reached */
}

int lx_route_pick(struct lx_route *r, const struct lx_config_model *m, uint32_t *tried,
                  enum lx_route_avail *skipped, uint64_t now_ms, struct lx_route_pick *out)
{
    struct lx_route_cand c[32];
    size_t n = LX_MIN(m->n_deployments, LX_ARRAY_LEN(c));
    uint32_t eligible = 0;
    for (size_t k = 0; k < n; k++) {
        const struct lx_config_deployment *d = &m->deployments[k];
        skipped[k] = LX_ROUTE_AVAILABLE;
        c[k] = (struct lx_route_cand){
            .weight = d->weight,
            .outstanding = r->b[d->backend]->in_flight + r->b[d->backend]->n_queued,
        };
        if (*tried & (1u << k))
            continue;
        enum lx_route_avail a = peek(r, d->backend, d->pinned ? d->upstream_model : NULL, now_ms);
        if (a != LX_ROUTE_AVAILABLE) {
            skipped[k] = a;
            *tried |= 1u << k;
            continue;
        }
        c[k].eligible = true;
        eligible++;
    }
    bool draw = m->balance == LX_BALANCE_WEIGHTED && eligible > 1; /* only then it matters */
    int k = lx_route_balance(m->balance, c, n, draw ? next_random(r) : 0);
    if (k < 0)
        return LX_ERR;
    const struct lx_config_deployment *d = &m->deployments[k];
    *tried |= 1u << k;
    *out = (struct lx_route_pick){
        .deployment = (size_t)k,
        .weight = c[k].weight,
        .outstanding = c[k].outstanding,
        .candidates = eligible,
    };
    lx_route_choose(r, d->backend, d->pinned ? d->upstream_model : NULL, now_ms, &out->probe);
    return LX_OK;
}

double lx_route_ab_point(lx_str value)
{
    /* FNV-1a, then splitmix64's finaliser to spread short, similar values */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < value.len; i++)
        h = (h ^ (unsigned char)value.ptr[i]) * 0x100000001b3ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) / 9007199254740992.0; /* 53 bits over 2^53 */
}

const struct lx_config_model *lx_route_ab(struct lx_route *r, const struct lx_config_model *m,
                                          lx_str sticky, char *arm)
{
    *arm = 0;
    if (m == NULL || !m->ab.enabled)
        return m;
    double point = m->ab.sticky != LX_AB_STICKY_NONE && sticky.len
                       ? lx_route_ab_point(sticky)
                       : (double)(next_random(r) >> 11) / 9007199254740992.0;
    if (point < m->ab.share) {
        *arm = 'b';
        return &r->cfg->models[m->ab.model];
    }
    *arm = 'a';
    return m;
}
