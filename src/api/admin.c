/* admin.c — the admin HTTP API over the key store (see admin.h). */
#include "admin.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../dialect/chat.h"
#include "../json/json.h"

enum { HASH_LEN = 32 };

struct lx_api_admin {
    char *store_path;
    unsigned char key_hash[HASH_LEN]; /* SHA-256 of the admin key; the key is not kept */
    struct lx_api_auth *auth;
    struct lx_audit *audit;
    uv_loop_t *loop;
};

enum op { OP_LIST, OP_GET, OP_CREATE, OP_UPDATE, OP_REVOKE };
static const char *const op_names[] = {"list", "get", "create", "update", "revoke"};

/* One admin call: parsed on the loop, run on the thread pool, answered on
 * the loop. Freed when both the work and the request have ended. */
struct job {
    uv_work_t work;
    struct lx_api_admin *a;
    struct lx_http_req *req; /* NULL once the request ended */
    bool worked;
    enum op op;
    char id[LX_STORE_KEY_ID_LEN + 1]; /* the key acted on, "" when none */
    cJSON *doc;                       /* the request body: owns what f points to */
    struct lx_store_key_fields f;
    const char **lists[3];
    int status;
    lx_buf body;                   /* the answer; wiped before it is freed (a secret) */
    struct lx_store_keyring *ring; /* a fresh keyring after a change */
    char error_code[40];
    char rid[140], peer[64], path[96], method[8];
};

static bool sha256(const char *p, size_t n, unsigned char out[HASH_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == HASH_LEN;
}

struct lx_api_admin *lx_api_admin_new(uv_loop_t *loop, const struct lx_config *cfg,
                                      struct lx_api_auth *auth, struct lx_audit *audit, char *err,
                                      size_t errlen)
{
    err[0] = '\0';
    if (!cfg->admin.enabled)
        return NULL;
    const char *key = getenv(cfg->admin.key_env);
    if (key == NULL || strlen(key) < LX_API_ADMIN_KEY_MIN) {
        snprintf(err, errlen,
                 "admin.enabled needs an admin key of at least %d bytes in the environment "
                 "variable %s",
                 LX_API_ADMIN_KEY_MIN, cfg->admin.key_env);
        return NULL;
    }
    struct lx_api_admin *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->store_path = strdup(cfg->auth.store)) == NULL ||
        !sha256(key, strlen(key), a->key_hash)) {
        snprintf(err, errlen, "out of memory");
        lx_api_admin_free(a);
        return NULL;
    }
    a->auth = auth;
    a->audit = audit;
    a->loop = loop;
    lx_log_info("admin: the admin API is on (/admin/keys), key from %s", cfg->admin.key_env);
    return a;
}

void lx_api_admin_set_auth(struct lx_api_admin *a, struct lx_api_auth *auth)
{
    if (a)
        a->auth = auth;
}

void lx_api_admin_free(struct lx_api_admin *a)
{
    if (a == NULL)
        return;
    OPENSSL_cleanse(a->key_hash, sizeof(a->key_hash));
    free(a->store_path);
    free(a);
}

static void job_free(struct job *j)
{
    cJSON_Delete(j->doc);
    for (int i = 0; i < 3; i++)
        free(j->lists[i]);
    if (j->body.data)
        OPENSSL_cleanse(j->body.data, j->body.alloc);
    lx_buf_release(&j->body);
    lx_store_keyring_free(j->ring);
    free(j);
}

/* ---- answers ------------------------------------------------------------ */

static void set_error(struct job *j, int status, const char *message, const char *param,
                      const char *code)
{
    j->status = status;
    snprintf(j->error_code, sizeof(j->error_code), "%s", code);
    lx_buf_reset(&j->body);
    /* 401 as for virtual keys (api.c), the type OpenAI gives a bad key */
    lx_chat_error_write(&j->body, message,
                        status == 401 ? "invalid_request_error" : lx_chat_error_type(status), param,
                        code);
}

/* A JSON array from the JSON text of a list column; "" gives null (every
 * model, any tool) or [] (tags). */
static cJSON *list_value(const char *text, bool empty_is_null)
{
    cJSON *v = text && *text ? cJSON_Parse(text) : NULL;
    if (v)
        return v;
    return empty_is_null ? cJSON_CreateNull() : cJSON_CreateArray();
}

static cJSON *key_object(const struct lx_store_key_info *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "api_key");
    cJSON_AddStringToObject(o, "id", k->id ? k->id : "");
    cJSON_AddStringToObject(o, "name", k->name ? k->name : "");
    cJSON_AddStringToObject(o, "created_at", k->created_at ? k->created_at : "");
    if (k->revoked_at)
        cJSON_AddStringToObject(o, "revoked_at", k->revoked_at);
    else
        cJSON_AddNullToObject(o, "revoked_at");
    cJSON_AddItemToObject(o, "models", list_value(k->allowed_models, true));
    cJSON_AddItemToObject(o, "tools", list_value(k->allowed_tools, true));
    cJSON_AddNumberToObject(o, "rpm", k->rpm);
    cJSON_AddNumberToObject(o, "tpm", k->tpm);
    cJSON_AddNumberToObject(o, "max_concurrent", k->max_concurrent);
    cJSON_AddNumberToObject(o, "budget_usd", k->budget_usd);
    cJSON_AddNumberToObject(o, "spent_usd", k->spent_usd);
    cJSON_AddStringToObject(o, "priority", k->priority ? k->priority : "normal");
    cJSON_AddItemToObject(o, "tags", list_value(k->tags, false));
    return o;
}

static void collect(void *data, const struct lx_store_key_info *k)
{
    cJSON_AddItemToArray(data, key_object(k));
}

static void set_json(struct job *j, int status, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    if (text == NULL) {
        set_error(j, 500, "The gateway ran out of memory.", NULL, "out_of_memory");
    } else {
        j->status = status;
        lx_buf_reset(&j->body);
        lx_buf_append_cstr(&j->body, text);
        OPENSSL_cleanse(text, strlen(text));
    }
    free(text);
}

/* ---- the work, on the thread pool --------------------------------------- */

static void key_answer(struct job *j, struct lx_store_keys *s, int status, const char *secret)
{
    char err[256];
    cJSON *arr = cJSON_CreateArray();
    if (lx_store_keys_get(s, j->id, collect, arr, err, sizeof(err)) != LX_OK ||
        cJSON_GetArraySize(arr) != 1) {
        cJSON_Delete(arr);
        set_error(j, 404, "No API key with that id.", NULL, "key_not_found");
        return;
    }
    cJSON *o = cJSON_DetachItemFromArray(arr, 0);
    cJSON_Delete(arr);
    if (secret)
        cJSON_AddStringToObject(o, "secret", secret);
    set_json(j, status, o);
    cJSON_Delete(o);
}

static void work_create(struct job *j, struct lx_store_keys *s)
{
    char secret[LX_STORE_KEY_SECRET_LEN + 1], err[256];
    if (lx_store_keys_create_with(s, &j->f, j->id, secret, err, sizeof(err)) != LX_OK) {
        j->id[0] = '\0';
        set_error(j, 400, err, NULL, "invalid_key_settings");
        return;
    }
    key_answer(j, s, 201, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
}

static void work_change(struct job *j, struct lx_store_keys *s)
{
    char err[256];
    int rc = j->op == OP_UPDATE ? lx_store_keys_update(s, j->id, &j->f, err, sizeof(err))
                                : lx_store_keys_revoke(s, j->id, err, sizeof(err));
    if (rc == LX_AGAIN)
        set_error(j, 404, "No valid API key with that id.", NULL, "key_not_found");
    else if (rc != LX_OK)
        set_error(j, j->op == OP_UPDATE ? 400 : 500, err, NULL,
                  j->op == OP_UPDATE ? "invalid_key_settings" : "store_failed");
    else
        key_answer(j, s, 200, NULL);
}

static void work(uv_work_t *w)
{
    struct job *j = w->data;
    char err[256];
    struct lx_store_keys *s = lx_store_keys_open(j->a->store_path, err, sizeof(err));
    if (s == NULL) {
        set_error(j, 500, "The key store could not be opened.", NULL, "store_failed");
        return;
    }
    if (j->op == OP_LIST) {
        cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "data");
        cJSON_AddStringToObject(doc, "object", "list");
        if (lx_store_keys_list(s, collect, arr, err, sizeof(err)) == LX_OK)
            set_json(j, 200, doc);
        else
            set_error(j, 500, "The key store could not be read.", NULL, "store_failed");
        cJSON_Delete(doc);
    } else if (j->op == OP_GET) {
        key_answer(j, s, 200, NULL);
    } else if (j->op == OP_CREATE) {
        work_create(j, s);
    } else {
        work_change(j, s);
    }
    /* a change: the keyring the next request checks against */
    if (j->op >= OP_CREATE && j->status < 300 && j->a->auth)
        j->ring = lx_store_keyring_load(s, err, sizeof(err));
    lx_store_keys_close(s);
}

/* ---- back on the loop --------------------------------------------------- */

static void write_audit(struct job *j)
{
    if (j->a->audit == NULL)
        return;
    char ts[32];
    lx_clock_format_rfc3339(lx_clock_wall_ms(), ts);
    lx_buf line;
    lx_buf_init(&line, 4096);
    lx_jw w;
    lx_jw_init(&w, &line);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "time");
    lx_jw_cstr(&w, ts);
    lx_jw_key(&w, "request_id");
    lx_jw_cstr(&w, j->rid);
    lx_jw_key(&w, "client");
    lx_jw_cstr(&w, j->peer);
    lx_jw_key(&w, "endpoint");
    lx_jw_cstr(&w, j->path);
    lx_jw_key(&w, "method");
    lx_jw_cstr(&w, j->method);
    lx_jw_key(&w, "admin_action");
    lx_jw_cstr(&w, op_names[j->op]);
    lx_jw_key(&w, "key_id");
    if (j->id[0])
        lx_jw_cstr(&w, j->id);
    else
        lx_jw_null(&w);
    lx_jw_key(&w, "status");
    lx_jw_int(&w, j->status);
    lx_jw_key(&w, "error");
    if (j->error_code[0])
        lx_jw_cstr(&w, j->error_code);
    else
        lx_jw_null(&w);
    lx_jw_obj_close(&w);
    if (lx_jw_ok(&w))
        lx_audit_submit(j->a->audit, line.data, line.len);
    lx_buf_release(&line);
}

static void answer(struct job *j)
{
    lx_http_header h = {"x-request-id", j->rid, strlen(j->rid)};
    struct lx_http_req *req = j->req;
    /* responding may end the request at once (on_close frees the job) */
    lx_http_respond(req, j->status, "application/json", &h, 1, j->body.data ? j->body.data : "",
                    j->body.len);
}

static void on_close(void *data)
{
    struct job *j = data;
    j->req = NULL;
    if (j->worked)
        job_free(j);
}

static void work_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    j->worked = true;
    if (j->ring && j->a->auth) {
        lx_api_auth_replace(j->a->auth, j->ring);
        j->ring = NULL;
    }
    if (status != 0)
        set_error(j, 500, "The admin call was cancelled.", NULL, "cancelled");
    write_audit(j);
    if (j->req)
        answer(j); /* the job is freed by on_close */
    else
        job_free(j);
}

/* ---- requests ----------------------------------------------------------- */

/* An array of 1..max strings (or null, or [] = clear) into a new list. */
static bool read_list(const cJSON *v, size_t max, const char ***out, size_t *n)
{
    *n = 0;
    if (cJSON_IsNull(v))
        return true;
    if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > max)
        return false;
    if ((*out = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *))) == NULL)
        return false;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item))
            return false;
        (*out)[(*n)++] = item->valuestring;
    }
    return true;
}

static bool read_limit(const cJSON *v, uint32_t *out)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 0 && d <= LX_STORE_KEY_MAX_LIMIT) || floor(d) != d)
        return false;
    *out = (uint32_t)d;
    return true;
}

/* One member of a create or update body into j->f. False: bad value. */
static bool read_member(struct job *j, const cJSON *m)
{
    struct lx_store_key_fields *f = &j->f;
    const char *k = m->string;
    if (strcmp(k, "name") == 0) {
        f->set |= LX_STORE_KEY_F_NAME;
        f->name = cJSON_IsString(m) ? m->valuestring : NULL;
        return f->name != NULL;
    }
    if (strcmp(k, "models") == 0) {
        f->set |= LX_STORE_KEY_F_MODELS;
        return read_list(m, LX_STORE_KEY_MAX_MODELS, &j->lists[0], &f->n_models) &&
               (f->models = j->lists[0], true);
    }
    if (strcmp(k, "tools") == 0) {
        f->set |= LX_STORE_KEY_F_TOOLS;
        return read_list(m, LX_STORE_KEY_MAX_TOOLS, &j->lists[1], &f->n_tools) &&
               (f->tools = j->lists[1], true);
    }
    if (strcmp(k, "tags") == 0) {
        f->set |= LX_STORE_KEY_F_TAGS;
        return read_list(m, LX_STORE_KEY_MAX_TAGS, &j->lists[2], &f->n_tags) &&
               (f->tags = j->lists[2], true);
    }
    if (strcmp(k, "rpm") == 0)
        return f->set |= LX_STORE_KEY_F_RPM, read_limit(m, &f->rpm);
    if (strcmp(k, "tpm") == 0)
        return f->set |= LX_STORE_KEY_F_TPM, read_limit(m, &f->tpm);
    if (strcmp(k, "max_concurrent") == 0)
        return f->set |= LX_STORE_KEY_F_MAX_CONCURRENT, read_limit(m, &f->max_concurrent);
    if (strcmp(k, "budget_usd") == 0) {
        f->set |= LX_STORE_KEY_F_BUDGET;
        f->budget_usd = cJSON_IsNumber(m) ? m->valuedouble : -1;
        return f->budget_usd >= 0 && f->budget_usd <= 1e12;
    }
    if (strcmp(k, "priority") == 0) {
        int p = cJSON_IsString(m) ? lx_store_key_priority_parse(m->valuestring) : -1;
        f->set |= LX_STORE_KEY_F_PRIORITY;
        f->priority = p < 0 ? LX_STORE_KEY_PRIORITY_NORMAL : (enum lx_store_key_priority)p;
        return p >= 0;
    }
    return false;
}

/* Reads a create or update body into j->f; false after setting the error. */
static bool read_body(struct job *j, lx_str body)
{
    if (body.len > LX_API_ADMIN_BODY_MAX ||
        !cJSON_IsObject(j->doc = cJSON_ParseWithLength(body.ptr, body.len))) {
        set_error(j, 400, "The body must be a JSON object.", NULL, "invalid_json");
        return false;
    }
    static const char *const known[] = {"name", "models",         "tools",      "tags",    "rpm",
                                        "tpm",  "max_concurrent", "budget_usd", "priority"};
    const cJSON *m;
    cJSON_ArrayForEach(m, j->doc)
    {
        bool ok = false;
        for (size_t i = 0; i < LX_ARRAY_LEN(known); i++)
            ok |= strcmp(m->string, known[i]) == 0;
        char msg[200];
        if (!ok) {
            snprintf(msg, sizeof(msg), "Unrecognized request argument supplied: %.64s", m->string);
            set_error(j, 400, msg, m->string, "unknown_parameter");
            return false;
        }
        if (!read_member(j, m)) {
            snprintf(msg, sizeof(msg), "Invalid value for '%s'.", m->string);
            set_error(j, 400, msg, m->string, "invalid_value");
            return false;
        }
    }
    if (j->op == OP_CREATE && !(j->f.set & LX_STORE_KEY_F_NAME)) {
        set_error(j, 400, "Missing required parameter: 'name'.", "name",
                  "missing_required_parameter");
        return false;
    }
    if (j->op == OP_UPDATE && j->f.set == 0) {
        set_error(j, 400, "Nothing to change.", NULL, "invalid_value");
        return false;
    }
    return true;
}

/* The route: the op, and the id from the path. False after an error. */
static bool route(struct job *j, lx_str method, lx_str rest)
{
    bool one = rest.len > 1 && rest.ptr[0] == '/';
    if (one) {
        lx_str id = {rest.ptr + 1, rest.len - 1};
        if (id.len > LX_STORE_KEY_ID_LEN || memchr(id.ptr, '/', id.len)) {
            set_error(j, 404, "No API key with that id.", NULL, "key_not_found");
            return false;
        }
        memcpy(j->id, id.ptr, id.len);
        j->id[id.len] = '\0';
    } else if (rest.len != 0) {
        set_error(j, 404, "Unknown request URL.", NULL, "unknown_url");
        return false;
    }
    int op = -1;
    if (!one && lx_str_eq_cstr(method, "GET"))
        op = OP_LIST;
    else if (!one && lx_str_eq_cstr(method, "POST"))
        op = OP_CREATE;
    else if (one && lx_str_eq_cstr(method, "GET"))
        op = OP_GET;
    else if (one && lx_str_eq_cstr(method, "PATCH"))
        op = OP_UPDATE;
    else if (one && lx_str_eq_cstr(method, "DELETE"))
        op = OP_REVOKE;
    if (op < 0) {
        set_error(j, 405, "Method not allowed.", NULL, "method_not_allowed");
        return false;
    }
    j->op = (enum op)op;
    return true;
}

/* Constant-time: the digests are compared, so neither the length nor the
 * bytes of a guess show in the timing. */
static bool admin_key_ok(const struct lx_api_admin *a, lx_str secret)
{
    unsigned char h[HASH_LEN];
    if (secret.ptr == NULL || !sha256(secret.ptr, secret.len, h))
        return false;
    bool ok = CRYPTO_memcmp(h, a->key_hash, HASH_LEN) == 0;
    OPENSSL_cleanse(h, sizeof(h));
    return ok;
}

bool lx_api_admin_key_ok(const struct lx_api_admin *a, lx_str secret)
{
    return a && admin_key_ok(a, secret);
}

static struct job *job_new(struct lx_api_admin *a, struct lx_http_req *req, const char *rid,
                           lx_str method, lx_str full)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->a = a;
    j->req = req;
    j->work.data = j;
    lx_buf_init(&j->body, 16 * 1024 * 1024);
    snprintf(j->rid, sizeof(j->rid), "%s", rid);
    lx_http_req_peer(req, j->peer, sizeof(j->peer));
    snprintf(j->path, sizeof(j->path), "%.*s", (int)LX_MIN(full.len, sizeof(j->path) - 1),
             full.ptr);
    snprintf(j->method, sizeof(j->method), "%.*s", (int)LX_MIN(method.len, sizeof(j->method) - 1),
             method.ptr);
    return j;
}

bool lx_api_admin_handle(struct lx_api_admin *a, struct lx_http_req *req, const char *rid,
                         lx_str full, lx_str secret)
{
    lx_str prefix = LX_STR_LIT("/admin/keys");
    if (a == NULL || !lx_str_starts_with(full, prefix))
        return false;
    lx_str method = lx_http_req_method(req), rest = {full.ptr + prefix.len, full.len - prefix.len};
    if (rest.len && rest.ptr[0] != '/')
        return false;
    struct job *j = job_new(a, req, rid, method, full);
    if (j == NULL) {
        lx_http_respond(req, 500, "application/json", NULL, 0, "{}", 2);
        return true;
    }
    lx_http_req_on_close(req, on_close, j);
    /* the route first, for the audit line; a bad key answers 401 whatever it was */
    bool ok = route(j, method, rest);
    if (!admin_key_ok(a, secret)) {
        set_error(j, 401,
                  secret.ptr ? "Incorrect admin key provided." : "You didn't provide an admin key.",
                  NULL, "invalid_api_key");
        ok = false;
    }
    if (ok && (j->op == OP_CREATE || j->op == OP_UPDATE))
        ok = read_body(j, lx_http_req_body(req));
    if (ok && uv_queue_work(a->loop, &j->work, work, work_done) == 0)
        return true;
    if (ok)
        set_error(j, 503, "The gateway could not queue the admin call.", NULL, "busy");
    j->worked = true;
    write_audit(j);
    answer(j);
    return true;
}
