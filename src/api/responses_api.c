/*
 * responses_api.c — the stored-response endpoints (see responses_api.h).
 *
 * A request is checked on the loop (path, method, query), then handed to
 * the store, which answers on a worker thread; the request waits in a
 * `pending` object until the store's callback. The client may leave in the
 * meantime: the http close callback clears pending->req, and the store's
 * callback then only writes the audit record.
 */
#include "responses_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/clock.h"
#include "../dialect/chat.h"
#include "../json/json.h"
#include "../store/responses.h"

enum { ID_MAX = LX_STORE_RESP_MAX_ID, QUERY_VALUE_MAX = 256 };

struct lx_api_responses {
    uv_loop_t *loop;
    struct lx_proxy *proxy;
    uint32_t pending;
};

enum op { OP_GET, OP_DELETE, OP_INPUT_ITEMS, OP_CANCEL };

/* One request waiting for the store. */
struct pending {
    struct lx_api_responses *r;
    struct lx_http_req *req; /* NULL once the client left */
    enum op op;
    uint64_t t_start_us;
    char request_id[132];
    char key_id[LX_STORE_RESP_MAX_KEY_ID + 1];
    char id[ID_MAX + 1];
    char peer[64];
    char endpoint[160];
};

struct lx_api_responses *lx_api_responses_new(uv_loop_t *loop, struct lx_proxy *proxy)
{
    struct lx_api_responses *r = calloc(1, sizeof(*r));
    if (r) {
        r->loop = loop;
        r->proxy = proxy;
    }
    return r;
}

void lx_api_responses_free(struct lx_api_responses *r)
{
    free(r);
}

uint32_t lx_api_responses_pending(const struct lx_api_responses *r)
{
    return r ? r->pending : 0;
}

/* ---- answering ------------------------------------------------------------ */

static void note(struct pending *p, int status, const char *model, const char *type,
                 const char *message)
{
    struct lx_proxy_note n = {
        .request_id = p->request_id,
        .peer = p->peer,
        .key_id = p->key_id,
        .endpoint = p->endpoint,
        .model = model,
        .status = status,
        .t_start_us = p->t_start_us,
        .error_type = type,
        .error_message = message,
    };
    lx_proxy_write_note(p->r->proxy, &n);
}

static void respond(struct pending *p, int status, const char *body, size_t len)
{
    if (p->req == NULL)
        return;
    lx_http_req_on_close(p->req, NULL, NULL);
    lx_http_header h = {"x-request-id", p->request_id, strlen(p->request_id)};
    lx_http_respond(p->req, status, "application/json", &h, 1, body, len);
    p->req = NULL;
}

static void fail(struct pending *p, int status, const char *message, const char *type,
                 const char *param, const char *code)
{
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_chat_error_write(&b, message, type, param, code);
    respond(p, status, b.data, b.len);
    lx_buf_release(&b);
    note(p, status, NULL, code ? code : type, message);
}

static void not_found(struct pending *p)
{
    char msg[64 + ID_MAX];
    snprintf(msg, sizeof(msg), "Response with id '%s' not found.", p->id);
    fail(p, 404, msg, "invalid_request_error", NULL, NULL);
}

/* Answers a store failure (not-found included). */
static void store_failed(struct pending *p, int rc)
{
    if (rc == LX_STORE_RESP_NOT_FOUND)
        not_found(p);
    else if (rc == LX_STORE_RESP_BUSY)
        fail(p, 503, "The response store is busy. Please retry the request.", "server_error", NULL,
             "store_busy");
    else
        fail(p, 500, "The response store failed to answer. Please retry the request.",
             "server_error", NULL, "server_error");
}

/* The client left: the answer goes nowhere, the record says so. */
static void client_gone(struct pending *p)
{
    note(p, 499, NULL, "client_closed_request", "The client closed the connection.");
}

static void pending_free(struct pending *p)
{
    if (p->req)
        lx_http_req_on_close(p->req, NULL, NULL);
    p->r->pending--;
    free(p);
}

static void on_client_close(void *data)
{
    struct pending *p = data;
    p->req = NULL;
}

/* ---- store callbacks ------------------------------------------------------ */

static void on_get(void *data, int rc, const struct lx_store_resp_rec *rec)
{
    struct pending *p = data;
    if (p->req == NULL)
        client_gone(p);
    else if (rc != LX_OK)
        store_failed(p, rc);
    else if (p->op == OP_CANCEL)
        fail(p, 400, "Only responses created with background=true can be cancelled.",
             "invalid_request_error", NULL, NULL);
    else {
        respond(p, 200, rec->response, rec->response_len);
        note(p, 200, rec->model, NULL, NULL);
    }
    pending_free(p);
}

static void on_delete(void *data, int rc)
{
    struct pending *p = data;
    if (p->req == NULL) {
        client_gone(p);
    } else if (rc != LX_OK) {
        store_failed(p, rc);
    } else {
        lx_buf b;
        lx_buf_init(&b, 512);
        lx_jw w;
        lx_jw_init(&w, &b);
        lx_jw_obj_open(&w);
        lx_jw_key(&w, "id");
        lx_jw_cstr(&w, p->id);
        lx_jw_key(&w, "object");
        lx_jw_cstr(&w, "response");
        lx_jw_key(&w, "deleted");
        lx_jw_bool(&w, true);
        lx_jw_obj_close(&w);
        respond(p, 200, b.data, b.len);
        lx_buf_release(&b);
        note(p, 200, NULL, NULL, NULL);
    }
    pending_free(p);
}

/* The cursor that named no item, kept for the message. */
struct list_pending {
    struct pending p;
    char cursor_param[8]; /* "after" or "before" */
    char cursor[ID_MAX + 1];
};

static void on_list(void *data, int rc, const char *json, size_t len)
{
    struct list_pending *lp = data;
    struct pending *p = &lp->p;
    if (p->req == NULL) {
        client_gone(p);
    } else if (rc == LX_STORE_RESP_BAD_AFTER) {
        char msg[128 + 2 * ID_MAX];
        snprintf(msg, sizeof(msg), "Invalid '%s': no input item with id '%s' in response '%s'.",
                 lp->cursor_param, lp->cursor, p->id);
        fail(p, 400, msg, "invalid_request_error", lp->cursor_param, NULL);
    } else if (rc != LX_OK) {
        store_failed(p, rc);
    } else {
        respond(p, 200, json, len);
        note(p, 200, NULL, NULL, NULL);
    }
    pending_free(p);
}

/* ---- the request ----------------------------------------------------------- */

/* A response id as llmux makes them and clients send them back. */
static bool valid_id(lx_str s)
{
    if (s.len == 0 || s.len > ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The first value of name in the query q, percent-decoded into out.
 * Returns 1 when found, 0 when absent, -1 when longer than outlen - 1 or
 * badly encoded. */
static int query_get(lx_str q, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; q.ptr && i < q.len;) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        const char *k = q.ptr + i;
        size_t klen = end - i;
        const char *eq = memchr(k, '=', klen);
        size_t name_len = eq ? (size_t)(eq - k) : klen;
        if (name_len == nlen && memcmp(k, name, nlen) == 0) {
            size_t o = 0;
            for (const char *v = eq ? eq + 1 : k + klen; v < k + klen; v++) {
                char c = *v;
                if (c == '%') {
                    if (v + 2 >= k + klen)
                        return -1;
                    int h = hex(v[1]), l = hex(v[2]);
                    if (h < 0 || l < 0)
                        return -1;
                    c = (char)(h * 16 + l);
                    v += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (o + 1 >= outlen)
                    return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

static struct pending *pending_new(struct lx_api_responses *r, struct lx_http_req *req,
                                   const char *rid, const char *key_id, lx_str id, enum op op,
                                   size_t size)
{
    struct pending *p = calloc(1, size);
    if (p == NULL)
        return NULL;
    p->r = r;
    p->req = req;
    p->op = op;
    p->t_start_us = lx_clock_mono_us();
    snprintf(p->request_id, sizeof(p->request_id), "%s", rid);
    snprintf(p->key_id, sizeof(p->key_id), "%s", key_id);
    snprintf(p->id, sizeof(p->id), "%.*s", (int)LX_MIN(id.len, (size_t)ID_MAX), id.ptr);
    lx_http_req_peer(req, p->peer, sizeof(p->peer));
    lx_str path = lx_http_req_path(req);
    snprintf(p->endpoint, sizeof(p->endpoint), "%.*s",
             (int)LX_MIN(path.len, sizeof(p->endpoint) - 1), path.ptr);
    r->pending++;
    lx_http_req_on_close(req, on_client_close, p);
    return p;
}

/* limit, order, after, before of input_items; LX_ERR after answering 400. */
static int read_page(struct pending *p, lx_str q, struct lx_store_resp_page *page,
                     struct list_pending *lp)
{
    char v[QUERY_VALUE_MAX], msg[QUERY_VALUE_MAX + 128];
    page->limit = LX_STORE_RESP_LIST_DEFAULT;
    int rc = query_get(q, "limit", v, sizeof(v));
    if (rc != 0) {
        char *end = NULL;
        long n = rc > 0 && v[0] >= '0' && v[0] <= '9' ? strtol(v, &end, 10) : -1;
        if (rc < 0 || end == NULL || *end || strlen(v) > 9) {
            snprintf(msg, sizeof(msg),
                     "Invalid 'limit': expected an integer, but got '%s' instead.",
                     rc < 0 ? "(invalid)" : v);
            fail(p, 400, msg, "invalid_request_error", "limit", "invalid_type");
            return LX_ERR;
        }
        if (n < 1 || n > LX_STORE_RESP_LIST_MAX) {
            snprintf(msg, sizeof(msg),
                     "Invalid 'limit': integer %s value. Expected a value %s %d, but got %ld "
                     "instead.",
                     n < 1 ? "below minimum" : "above maximum",
                     n < 1 ? ">=" : "<=", n < 1 ? 1 : LX_STORE_RESP_LIST_MAX, n);
            fail(p, 400, msg, "invalid_request_error", "limit",
                 n < 1 ? "integer_below_min_value" : "integer_above_max_value");
            return LX_ERR;
        }
        page->limit = (uint32_t)n;
    }
    rc = query_get(q, "order", v, sizeof(v));
    if (rc != 0 && (rc < 0 || (strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0))) {
        snprintf(msg, sizeof(msg), "Invalid value: '%s'. Supported values are: 'asc' and 'desc'.",
                 rc < 0 ? "(invalid)" : v);
        fail(p, 400, msg, "invalid_request_error", "order", "invalid_value");
        return LX_ERR;
    }
    page->asc = rc > 0 && strcmp(v, "asc") == 0;
    static const char *const cursors[] = {"after", "before"};
    for (int i = 0; i < 2; i++) {
        char *dst = i == 0 ? page->after : page->before;
        rc = query_get(q, cursors[i], dst, sizeof(page->after));
        if (rc < 0 || (rc > 0 && dst[0] && !valid_id(lx_str_from_cstr(dst)))) {
            snprintf(msg, sizeof(msg), "Invalid '%s': expected an item id.", cursors[i]);
            fail(p, 400, msg, "invalid_request_error", cursors[i], "invalid_value");
            return LX_ERR;
        }
        if (rc <= 0)
            dst[0] = '\0';
        if (dst[0] && lp->cursor[0] == '\0') {
            snprintf(lp->cursor_param, sizeof(lp->cursor_param), "%s", cursors[i]);
            snprintf(lp->cursor, sizeof(lp->cursor), "%s", dst);
        }
    }
    return LX_OK;
}

/* GET with stream=true would replay the events: not kept, so refused. */
static int check_no_stream(struct pending *p, lx_str q)
{
    char v[16];
    int rc = query_get(q, "stream", v, sizeof(v));
    if (rc == 0 || (rc > 0 && strcmp(v, "false") == 0))
        return LX_OK;
    fail(p, 400,
         "Streaming a stored response (stream=true) is not supported by llmux: it keeps the "
         "final response object, not its events. Retrieve it without stream.",
         "invalid_request_error", "stream", NULL);
    return LX_ERR;
}

/* Starts the store operation; answers at once when it cannot start. */
static void start(struct lx_api_responses *r, struct pending *p, lx_str q)
{
    struct lx_store_resp *s = lx_proxy_resp_store(r->proxy);
    int rc = LX_OK;
    if (p->op == OP_GET && check_no_stream(p, q) != LX_OK)
        rc = LX_ERR;
    else if (s == NULL || !valid_id(lx_str_from_cstr(p->id)))
        rc = LX_STORE_RESP_NOT_FOUND;
    else if (p->op == OP_DELETE)
        rc = lx_store_resp_delete(s, r->loop, p->id, p->key_id, on_delete, p);
    else if (p->op == OP_INPUT_ITEMS) {
        struct list_pending *lp = (struct list_pending *)p;
        struct lx_store_resp_page page = {0};
        if (read_page(p, q, &page, lp) != LX_OK)
            rc = LX_ERR;
        else
            rc = lx_store_resp_list_input(s, r->loop, p->id, p->key_id, &page, on_list, p);
    } else {
        rc = lx_store_resp_get(s, r->loop, p->id, p->key_id, on_get, p);
    }
    if (rc == LX_OK)
        return;
    if (p->req) /* else already answered (a 400 above) */
        store_failed(p, rc == LX_STORE_RESP_TOO_BIG ? LX_STORE_RESP_NOT_FOUND : rc);
    pending_free(p);
}

enum lx_api_responses_match lx_api_responses_handle(struct lx_api_responses *r,
                                                    struct lx_http_req *req, const char *request_id,
                                                    lx_str method, lx_str path, const char *key_id)
{
    lx_str prefix = LX_STR_LIT("/responses/");
    if (!lx_str_starts_with(path, prefix))
        return LX_API_RESP_NOT_OURS;
    lx_str rest = {path.ptr + prefix.len, path.len - prefix.len};
    const char *slash = memchr(rest.ptr, '/', rest.len);
    lx_str id = {rest.ptr, slash ? (size_t)(slash - rest.ptr) : rest.len};
    lx_str sub = slash ? (lx_str){slash, rest.len - id.len} : LX_STR_LIT("");
    bool get = lx_str_eq_cstr(method, "GET"), post = lx_str_eq_cstr(method, "POST"),
         del = lx_str_eq_cstr(method, "DELETE");
    enum op op;
    size_t size = sizeof(struct pending);
    if (id.len == 0)
        return LX_API_RESP_NOT_OURS;
    if (sub.len == 0) {
        /* POST /responses/input_tokens and /responses/compact are not ours */
        if (!get && !del)
            return post ? LX_API_RESP_NOT_OURS : LX_API_RESP_WRONG_METHOD;
        op = get ? OP_GET : OP_DELETE;
    } else if (lx_str_eq_cstr(sub, "/input_items")) {
        if (!get)
            return LX_API_RESP_WRONG_METHOD;
        op = OP_INPUT_ITEMS;
        size = sizeof(struct list_pending);
    } else if (lx_str_eq_cstr(sub, "/cancel")) {
        if (!post)
            return LX_API_RESP_WRONG_METHOD;
        op = OP_CANCEL;
    } else {
        return LX_API_RESP_NOT_OURS;
    }
    struct pending *p = pending_new(r, req, request_id, key_id, id, op, size);
    if (p == NULL) {
        lx_http_respond(req, 500, "application/json", NULL, 0, "{}", 2);
        return LX_API_RESP_HANDLED;
    }
    if (id.len > ID_MAX || !valid_id(id)) {
        not_found(p);
        pending_free(p);
        return LX_API_RESP_HANDLED;
    }
    start(r, p, lx_http_req_query(req));
    return LX_API_RESP_HANDLED;
}
