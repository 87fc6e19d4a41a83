/* route.c — see route.h. Model counts are small (tens), so lookups scan. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "../json/json.h"

struct backend_state {
    bool healthy;
    bool checked;
    char detail[160];
    uint32_t in_flight;
    uint32_t n_queued;
    struct lx_route_waiter *head, *tail; /* admission queue, oldest first */
    char **models;                       /* discovered ids */
    size_t n_models;
};

struct lx_route {
    struct lx_config *cfg;
    struct backend_state *b;
};

struct lx_route *lx_route_new(struct lx_config *cfg)
{
    struct lx_route *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->b = calloc(cfg->n_backends ? cfg->n_backends : 1, sizeof(*r->b));
    if (r->b == NULL) {
        free(r);
        return NULL;
    }
    r->cfg = lx_config_ref(cfg);
    return r;
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
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->cfg->n_backends; i++)
        free_models(&r->b[i]);
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
}

/* An announced id, either bare or as "BACKEND/ID". */
static int lookup_discovered(struct lx_route *r, lx_str model, struct lx_route_target *out)
{
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        const struct backend_state *b = &r->b[i];
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
        for (size_t k = 0; k < r->b[i].n_models; k++)
            if (lx_str_eq_cstr(id, r->b[i].models[k])) {
                fill(r, i, r->b[i].models[k], r->b[i].models[k], out);
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
    *w = (struct lx_route_waiter){.granted = granted, .data = data};
}

static void enqueue(struct backend_state *b, struct lx_route_waiter *w, size_t backend)
{
    w->backend = backend;
    w->queued = true;
    w->next = NULL;
    w->prev = b->tail;
    if (b->tail)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
    b->n_queued++;
}

static void unlink_waiter(struct backend_state *b, struct lx_route_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    w->prev = w->next = NULL;
    w->queued = false;
    b->n_queued--;
}

int lx_route_acquire(struct lx_route *r, size_t backend, struct lx_route_waiter *w)
{
    const struct lx_config_backend *cb = &r->cfg->backends[backend];
    struct backend_state *b = &r->b[backend];
    bool full = cb->max_in_flight && b->in_flight >= cb->max_in_flight;
    if (!full && b->head == NULL) {
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
    struct backend_state *b = &r->b[backend];
    struct lx_route_waiter *w = b->head;
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
        unlink_waiter(&r->b[w->backend], w);
}

bool lx_route_waiting(const struct lx_route_waiter *w)
{
    return w->queued;
}

uint32_t lx_route_queued(const struct lx_route *r, size_t backend)
{
    return r->b[backend].n_queued;
}

uint32_t lx_route_in_flight(const struct lx_route *r, size_t backend)
{
    return r->b[backend].in_flight;
}

void lx_route_set_health(struct lx_route *r, size_t backend, bool healthy, const char *detail)
{
    struct backend_state *b = &r->b[backend];
    b->healthy = healthy;
    b->checked = true;
    snprintf(b->detail, sizeof(b->detail), "%s", detail ? detail : "");
}

void lx_route_set_discovered(struct lx_route *r, size_t backend, const char *const *ids, size_t n)
{
    struct backend_state *b = &r->b[backend];
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

bool lx_route_healthy(const struct lx_route *r, size_t backend)
{
    return r->b[backend].healthy;
}

bool lx_route_ready(const struct lx_route *r)
{
    for (size_t i = 0; i < r->cfg->n_backends; i++)
        if (r->b[i].healthy)
            return true;
    return false;
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
    for (size_t i = 0; i <= backend; i++)
        for (size_t m = 0; m < (i == backend ? k : r->b[i].n_models); m++)
            if (strcmp(r->b[i].models[m], id) == 0)
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
    for (size_t i = 0; i < r->cfg->n_backends; i++)
        for (size_t k = 0; k < r->b[i].n_models; k++)
            if (!listed_before(r, i, k, r->b[i].models[k]))
                write_model(&w, r->b[i].models[k], r->cfg->backends[i].name);
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
    lx_jw_key(&w, "backends");
    lx_jw_arr_open(&w);
    for (size_t i = 0; i < r->cfg->n_backends; i++) {
        const struct backend_state *b = &r->b[i];
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "name");
        lx_jw_cstr(&w, r->cfg->backends[i].name);
        lx_jw_key(&w, "healthy");
        lx_jw_bool(&w, b->healthy);
        lx_jw_key(&w, "checked");
        lx_jw_bool(&w, b->checked);
        lx_jw_key(&w, "detail");
        lx_jw_cstr(&w, b->detail);
        lx_jw_key(&w, "in_flight");
        lx_jw_uint(&w, b->in_flight);
        lx_jw_key(&w, "queued");
        lx_jw_uint(&w, b->n_queued);
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
