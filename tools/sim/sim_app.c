/*
 * sim_app.c - routes requests and answers everything that is not a chat completion.
 *
 * /v1 endpoints (and their unversioned aliases, as llama-server has) go through a job so
 * that faults, delays and counters apply to them; /health and /sim/... are answered at once
 * and are not counted.
 */
#include "sim_app.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "sim_chat.h"
#include "sim_gen.h"
#include "sim_job.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define APP_REPLY_MAX (64 * 1024 * 1024)
#define EMBED_MAX_INPUTS 2048
#define EMBED_DIMS 8

struct sim_app {
    const struct sim_config *cfg;
    struct sim_stats stats;
    struct sim_job_env env;
    struct sim_buf last; /* JSON of the most recent /v1 POST */
    uint64_t requests_seen;
    long long started;
    /* GET /props and /api/tags: what model the "server" says it runs */
    char model_path[512], model_alias[256], digest[80];
};

/* ---- small helpers ---- */

static void reply_now(struct sim_http_conn *c, int status, struct sim_buf *b)
{
    sim_http_respond(c, status, JSON_TYPE, "", b);
}

static void reply_error_now(struct sim_app *a, struct sim_http_conn *c, int status,
                            const char *message)
{
    struct sim_buf b;
    sim_buf_init(&b, 4096);
    a->cfg->style->error(&b, status, message);
    reply_now(c, status, &b);
}

/* Starts a counted job that answers status with an error body (faults still apply). */
static void job_error(struct sim_app *a, struct sim_http_conn *c, const struct sim_fault *f,
                      int status, const char *message)
{
    struct sim_buf b;
    sim_buf_init(&b, 4096);
    a->cfg->style->error(&b, status, message);
    sim_job_start_prepared(&a->env, c, f, status, &b);
}

static int path_is(const struct sim_http_req *r, const char *path)
{
    return strlen(path) == r->path_len && memcmp(r->path, path, r->path_len) == 0;
}

/* Matches "/v1<tail>" or "<tail>". */
static int v1_path_is(const struct sim_http_req *r, const char *tail)
{
    size_t n = strlen(tail);
    if (r->path_len == n + 3 && memcmp(r->path, "/v1", 3) == 0)
        return memcmp(r->path + 3, tail, n) == 0;
    return path_is(r, tail);
}

static int method_is(const struct sim_http_req *r, const char *m)
{
    return strlen(m) == r->method_len && memcmp(r->method, m, r->method_len) == 0;
}

/* ---- /sim hooks ---- */

static void append_lower_json(struct sim_buf *b, const char *s, size_t n)
{
    sim_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)s[i]);
        sim_buf_json_esc(b, &ch, 1);
    }
    sim_buf_append(b, "\"", 1);
}

static int same_name(const struct sim_http_header *x, const struct sim_http_header *y)
{
    return x->name_len == y->name_len && strncasecmp(x->name, y->name, x->name_len) == 0;
}

/* "headers": lower-case names; repeated headers are joined with ", ". */
static void record_headers(struct sim_buf *b, const struct sim_http_req *r)
{
    int first = 1;
    sim_buf_puts(b, "\"headers\":{");
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct sim_http_header *h = &r->headers[i];
        size_t k = 0;
        while (k < i && !same_name(&r->headers[k], h))
            k++;
        if (k < i)
            continue;
        sim_buf_puts(b, first ? "" : ",");
        append_lower_json(b, h->name, h->name_len);
        sim_buf_puts(b, ":\"");
        sim_buf_json_esc(b, h->value, h->value_len);
        for (size_t j = i + 1; j < r->nheaders; j++) {
            if (!same_name(&r->headers[j], h))
                continue;
            sim_buf_puts(b, ", ");
            sim_buf_json_esc(b, r->headers[j].value, r->headers[j].value_len);
        }
        sim_buf_puts(b, "\"");
        first = 0;
    }
    sim_buf_puts(b, "}");
}

static void record_last(struct sim_app *a, const struct sim_http_req *r)
{
    struct sim_buf *b = &a->last;
    sim_buf_reset(b);
    sim_buf_puts(b, "{\"method\":");
    sim_buf_json_str(b, r->method, r->method_len);
    sim_buf_puts(b, ",\"path\":");
    sim_buf_json_str(b, r->path, r->path_len);
    sim_buf_puts(b, ",");
    record_headers(b, r);
    sim_buf_puts(b, ",\"body\":");
    sim_buf_json_str(b, r->body, r->body_len);
    sim_buf_puts(b, "}");
    if (sim_buf_failed(b)) {
        sim_buf_reset(b);
        sim_buf_puts(b, "{\"error\":\"request too large to record\"}");
    }
}

static void serve_last(struct sim_app *a, struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, APP_REPLY_MAX);
    if (a->last.len > 0)
        sim_buf_append(&b, a->last.data, a->last.len);
    else
        sim_buf_puts(&b, "{}");
    reply_now(c, 200, &b);
}

static void serve_stats(struct sim_app *a, struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, 4096);
    sim_buf_printf(&b,
                   "{\"requests\":%llu,\"active\":%llu,\"completed\":%llu,\"cancelled\":%llu,"
                   "\"peak_active\":%llu}",
                   a->stats.requests, a->stats.active, a->stats.completed, a->stats.cancelled,
                   a->stats.peak);
    reply_now(c, 200, &b);
}

/* Zeroes the counters; `active` keeps counting the requests still open,
 * and the peak starts again from them. */
static void serve_reset(struct sim_app *a, struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, 64);
    a->stats.requests = a->stats.active;
    a->stats.completed = 0;
    a->stats.cancelled = 0;
    a->stats.peak = a->stats.active;
    sim_buf_reset(&a->last);
    sim_buf_puts(&b, "{\"status\":\"ok\"}");
    reply_now(c, 200, &b);
}

static void serve_health(struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, 64);
    sim_buf_puts(&b, "{\"status\":\"ok\"}");
    reply_now(c, 200, &b);
}

/* ---- what model is loaded: llama.cpp's /props, Ollama's /api/tags ---- */

static void serve_props(struct sim_app *a, struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, 4096);
    sim_buf_puts(&b, "{\"default_generation_settings\":{\"n_ctx\":4096},\"total_slots\":1,"
                     "\"model_path\":");
    sim_buf_json_str(&b, a->model_path, strlen(a->model_path));
    sim_buf_puts(&b, ",\"model_alias\":");
    sim_buf_json_str(&b, a->model_alias, strlen(a->model_alias));
    sim_buf_puts(&b, ",\"build_info\":\"llmux-sim\"}");
    reply_now(c, 200, &b);
}

static void serve_tags(struct sim_app *a, struct sim_http_conn *c)
{
    struct sim_buf b;
    sim_buf_init(&b, APP_REPLY_MAX);
    sim_buf_puts(&b, "{\"models\":[");
    for (size_t i = 0; i < a->cfg->nmodels; i++) {
        const char *m = a->cfg->models[i];
        sim_buf_puts(&b, i > 0 ? ",{\"name\":" : "{\"name\":");
        sim_buf_json_str(&b, m, strlen(m));
        sim_buf_puts(&b, ",\"model\":");
        sim_buf_json_str(&b, m, strlen(m));
        sim_buf_puts(&b, ",\"digest\":");
        sim_buf_json_str(&b, a->digest, strlen(a->digest));
        sim_buf_puts(&b, ",\"size\":1000}");
    }
    sim_buf_puts(&b, "]}");
    reply_now(c, 200, &b);
}

/* POST /sim/pin {"model_path","model_alias","digest"}: changes what /props and
 * /api/tags report (the fields given), so a test can break a pin and mend it. */
static void serve_pin(struct sim_app *a, struct sim_http_conn *c, const struct sim_http_req *r)
{
    cJSON *req = cJSON_ParseWithLength(r->body, r->body_len);
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } fields[] = {{"model_path", a->model_path, sizeof(a->model_path)},
                  {"model_alias", a->model_alias, sizeof(a->model_alias)},
                  {"digest", a->digest, sizeof(a->digest)}};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, fields[i].key);
        if (cJSON_IsString(v))
            snprintf(fields[i].dst, fields[i].cap, "%s", v->valuestring);
    }
    cJSON_Delete(req);
    struct sim_buf b;
    sim_buf_init(&b, 64);
    sim_buf_puts(&b, "{}");
    reply_now(c, 200, &b);
}

/* ---- /v1/models and /v1/embeddings ---- */

static void start_models(struct sim_app *a, struct sim_http_conn *c, const struct sim_fault *f)
{
    struct sim_buf b;
    sim_buf_init(&b, APP_REPLY_MAX);
    sim_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < a->cfg->nmodels; i++) {
        sim_buf_puts(&b, i > 0 ? ",{\"id\":" : "{\"id\":");
        sim_buf_json_str(&b, a->cfg->models[i], strlen(a->cfg->models[i]));
        sim_buf_printf(&b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"llmux-sim\"}",
                       a->started);
    }
    sim_buf_puts(&b, "]}");
    sim_job_start_prepared(&a->env, c, f, 200, &b);
}

/* One embedding: EMBED_DIMS floats of unit length, a function of the seed and the input. */
static void embed_one(struct sim_app *a, const cJSON *input, size_t index, struct sim_buf *b)
{
    char *text = cJSON_IsString(input) ? NULL : cJSON_PrintUnformatted(input);
    const char *s = text != NULL ? text : input->valuestring;
    struct sim_rng r;
    double v[EMBED_DIMS], norm = 0;
    sim_rng_seed(&r, a->cfg->seed, sim_gen_fnv1a(SIM_FNV_INIT, s, strlen(s)));
    for (size_t i = 0; i < EMBED_DIMS; i++) {
        v[i] = (double)sim_rng_below(&r, 2000001) / 1000000.0 - 1.0;
        norm += v[i] * v[i];
    }
    norm = norm > 0 ? sqrt(norm) : 1.0;
    sim_buf_printf(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":[",
                   index > 0 ? "," : "", index);
    for (size_t i = 0; i < EMBED_DIMS; i++)
        sim_buf_printf(b, "%s%.6f", i > 0 ? "," : "", v[i] / norm);
    sim_buf_puts(b, "]}");
    cJSON_free(text);
}

static long embed_tokens(const cJSON *input)
{
    if (cJSON_IsString(input))
        return (long)sim_gen_count_words(input->valuestring, strlen(input->valuestring));
    return cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
}

/* "input": a string, an array of strings or token arrays, or one token array. */
static int embed_all(struct sim_app *a, const cJSON *input, struct sim_buf *b, long *tokens)
{
    const cJSON *first = cJSON_GetArrayItem(input, 0);
    size_t n = 0;
    if (cJSON_IsString(input) || (cJSON_IsArray(input) && cJSON_IsNumber(first))) {
        embed_one(a, input, 0, b);
        *tokens = embed_tokens(input);
        return SIM_OK;
    }
    if (!cJSON_IsArray(input) || first == NULL || cJSON_GetArraySize(input) > EMBED_MAX_INPUTS)
        return SIM_ERR;
    const cJSON *it;
    cJSON_ArrayForEach(it, input)
    {
        if (!cJSON_IsString(it) && !cJSON_IsArray(it))
            return SIM_ERR;
        embed_one(a, it, n++, b);
        *tokens += embed_tokens(it);
    }
    return SIM_OK;
}

static void start_embeddings(struct sim_app *a, struct sim_http_conn *c, const struct sim_fault *f,
                             const cJSON *req)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    long tokens = 0;
    struct sim_buf b;
    sim_buf_init(&b, APP_REPLY_MAX);
    sim_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    if (embed_all(a, cJSON_GetObjectItemCaseSensitive(req, "input"), &b, &tokens) != SIM_OK) {
        sim_buf_release(&b);
        job_error(a, c, f, 400, "'input' must be a string or a non-empty array (at most 2048)");
        return;
    }
    sim_buf_puts(&b, "],\"model\":");
    const char *m = cJSON_IsString(model) ? model->valuestring : a->cfg->models[0];
    sim_buf_json_str(&b, m, strlen(m));
    sim_buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", tokens, tokens);
    sim_job_start_prepared(&a->env, c, f, 200, &b);
}

/* ---- /v1/chat/completions ---- */

static void start_chat(struct sim_app *a, struct sim_http_conn *c, const struct sim_fault *f,
                       const cJSON *req)
{
    char err[256];
    /* the port keeps ids of several simulators behind one gateway apart */
    uint64_t id_seed = ++a->requests_seen ^ ((uint64_t)a->cfg->port << 40);
    struct sim_chat *chat = sim_chat_new(a->cfg, req, id_seed, err, sizeof(err));
    if (chat == NULL) {
        job_error(a, c, f, 400, err);
        return;
    }
    sim_job_start_chat(&a->env, c, f, chat);
}

/* ---- routing ---- */

enum v1_route { V1_NONE, V1_CHAT, V1_EMBEDDINGS, V1_MODELS };

static enum v1_route v1_route_of(const struct sim_http_req *r)
{
    if (method_is(r, "POST") && v1_path_is(r, "/chat/completions"))
        return V1_CHAT;
    if (method_is(r, "POST") && v1_path_is(r, "/embeddings"))
        return V1_EMBEDDINGS;
    if (method_is(r, "GET") && v1_path_is(r, "/models"))
        return V1_MODELS;
    return V1_NONE;
}

/* The process fault with the request's x-sim-fault on top. */
static int request_fault(struct sim_app *a, const struct sim_http_req *r, struct sim_fault *f,
                         char *err, size_t errlen)
{
    size_t len = 0;
    const char *spec = sim_http_req_header(r, "x-sim-fault", &len);
    *f = a->cfg->fault;
    if (spec == NULL)
        return SIM_OK;
    return sim_fault_parse(f, spec, len, err, errlen);
}

static void serve_v1(struct sim_app *a, struct sim_http_conn *c, const struct sim_http_req *r,
                     enum v1_route route)
{
    struct sim_fault f;
    char err[128];
    if (method_is(r, "POST"))
        record_last(a, r);
    if (request_fault(a, r, &f, err, sizeof(err)) != SIM_OK) {
        sim_fault_init(&f);
        job_error(a, c, &f, 400, err);
        return;
    }
    if (route == V1_MODELS) {
        start_models(a, c, &f);
        return;
    }
    cJSON *req = cJSON_ParseWithLength(r->body, r->body_len);
    if (!cJSON_IsObject(req))
        job_error(a, c, &f, 400, "request body is not a valid JSON object");
    else if (route == V1_CHAT)
        start_chat(a, c, &f, req);
    else
        start_embeddings(a, c, &f, req);
    cJSON_Delete(req);
}

static void on_request(void *ctx, struct sim_http_conn *c, const struct sim_http_req *r)
{
    struct sim_app *a = ctx;
    enum v1_route route = v1_route_of(r);
    if (route != V1_NONE)
        serve_v1(a, c, r, route);
    else if (method_is(r, "GET") && (path_is(r, "/health") || path_is(r, "/v1/health")))
        serve_health(c);
    else if (method_is(r, "GET") && path_is(r, "/props"))
        serve_props(a, c);
    else if (method_is(r, "GET") && path_is(r, "/api/tags"))
        serve_tags(a, c);
    else if (method_is(r, "POST") && path_is(r, "/sim/pin"))
        serve_pin(a, c, r);
    else if (method_is(r, "GET") && path_is(r, "/sim/stats"))
        serve_stats(a, c);
    else if (method_is(r, "GET") && path_is(r, "/sim/last"))
        serve_last(a, c);
    else if (method_is(r, "POST") && path_is(r, "/sim/reset"))
        serve_reset(a, c);
    else {
        char msg[300];
        snprintf(msg, sizeof(msg), "Invalid URL (%.*s %.*s)", (int)(r->method_len % 32), r->method,
                 (int)(r->path_len % 200), r->path);
        reply_error_now(a, c, 404, msg);
    }
}

static void on_drain(void *ctx, struct sim_http_conn *c, void *job)
{
    sim_job_drain(job);
}

static void on_cancel(void *ctx, struct sim_http_conn *c, void *job)
{
    sim_job_cancel(job);
}

static void error_body(void *ctx, int status, const char *message, struct sim_buf *out)
{
    struct sim_app *a = ctx;
    a->cfg->style->error(out, status, message);
}

static const struct sim_http_handler app_handler = {
    .error_body = error_body,
    .on_request = on_request,
    .on_drain = on_drain,
    .on_cancel = on_cancel,
};

const struct sim_http_handler *sim_app_handler(void)
{
    return &app_handler;
}

struct sim_app *sim_app_new(uv_loop_t *loop, const struct sim_config *cfg)
{
    struct sim_app *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->cfg = cfg;
    a->env.loop = loop;
    a->env.cfg = cfg;
    a->env.stats = &a->stats;
    a->started = (long long)time(NULL);
    sim_buf_init(&a->last, APP_REPLY_MAX);
    const char *m0 = cfg->models[0];
    snprintf(a->model_alias, sizeof(a->model_alias), "%s",
             cfg->model_alias ? cfg->model_alias : m0);
    if (cfg->model_path)
        snprintf(a->model_path, sizeof(a->model_path), "%s", cfg->model_path);
    else
        snprintf(a->model_path, sizeof(a->model_path), "/models/%s.gguf", m0);
    if (cfg->digest) {
        snprintf(a->digest, sizeof(a->digest), "%s", cfg->digest);
    } else { /* 64 hex digits that depend on the first model's name */
        uint64_t h = sim_gen_fnv1a(SIM_FNV_INIT, m0, strlen(m0));
        for (int i = 0; i < 4; i++, h = h * 6364136223846793005ull + 1442695040888963407ull)
            snprintf(a->digest + 16 * i, sizeof(a->digest) - 16 * (size_t)i, "%016llx",
                     (unsigned long long)h);
    }
    return a;
}

void sim_app_free(struct sim_app *a)
{
    if (a == NULL)
        return;
    sim_buf_release(&a->last);
    free(a);
}
