/*
 * responses.c — the stored responses table and its operations on libuv's
 * thread pool (see responses.h).
 *
 * One SQLite connection, opened in serialized mode (SQLITE_OPEN_FULLMUTEX),
 * is shared by the pool's threads; an operation prepares its statement,
 * runs it and finalizes it on the worker. The loop thread only copies the
 * arguments in and delivers the callback.
 */
#include "responses.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum {
    BUSY_TIMEOUT_MS = 1000,
    PURGE_EVERY_S = 3600,
    LIST_BUF_MAX = 64 * 1024 * 1024, /* one page: 100 items of a capped input */
};

struct lx_store_resp {
    sqlite3 *db;
    uint32_t ttl_hours;
    size_t max_stored_bytes;
    pthread_mutex_t mu; /* guards queued and last_purge */
    pthread_cond_t idle;
    uint32_t queued; /* operations not yet finished on a worker */
    int64_t last_purge;
};

enum op_kind { OP_PUT, OP_GET, OP_DELETE, OP_LIST };

/* One operation: everything it needs, copied, so that its callback can run
 * after the store is closed. */
struct op {
    uv_work_t work;
    struct lx_store_resp *s; /* for the worker only */
    enum op_kind kind;
    int rc;
    struct lx_store_resp_rec rec; /* put: the copy; get: the result */
    char id[LX_STORE_RESP_MAX_ID + 1];
    char key_id[LX_STORE_RESP_MAX_KEY_ID + 1];
    struct lx_store_resp_page page;
    lx_buf list;
    void (*cb_rc)(void *data, int rc);
    void (*cb_rec)(void *data, int rc, const struct lx_store_resp_rec *rec);
    void (*cb_list)(void *data, int rc, const char *json, size_t len);
    void *data;
};

static const char schema[] = "PRAGMA journal_mode=WAL;"
                             "CREATE TABLE IF NOT EXISTS responses ("
                             " id TEXT PRIMARY KEY,"
                             " key_id TEXT NOT NULL,"
                             " model TEXT NOT NULL,"
                             " created_at INTEGER NOT NULL,"
                             " status TEXT NOT NULL,"
                             " previous_id TEXT NOT NULL,"
                             " response BLOB NOT NULL,"
                             " input BLOB NOT NULL,"
                             " output BLOB NOT NULL);"
                             "CREATE INDEX IF NOT EXISTS responses_created"
                             " ON responses(created_at);";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *lx_store_resp_strerror(int rc)
{
    switch (rc) {
    case LX_OK:
        return "ok";
    case LX_STORE_RESP_NOT_FOUND:
        return "no such response";
    case LX_STORE_RESP_TOO_BIG:
        return "the response is larger than responses.max_stored_bytes";
    case LX_STORE_RESP_BUSY:
        return "too many store operations waiting";
    case LX_STORE_RESP_BAD_AFTER:
        return "the cursor names no item of the list";
    default:
        return "store error";
    }
}

/* Rows created before this are expired; INT64_MIN when nothing expires. */
static int64_t cutoff(const struct lx_store_resp *s)
{
    if (s->ttl_hours == 0)
        return INT64_MIN;
    return (int64_t)time(NULL) - (int64_t)s->ttl_hours * 3600;
}

static int purge(struct lx_store_resp *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM responses WHERE created_at < ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, cutoff(s));
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LX_OK : LX_ERR;
}

/* Purges when the last purge is an hour old; called by writers. */
static void maybe_purge(struct lx_store_resp *s)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&s->mu);
    bool due = s->ttl_hours && now - s->last_purge >= PURGE_EVERY_S;
    if (due)
        s->last_purge = now;
    pthread_mutex_unlock(&s->mu);
    if (due)
        purge(s);
}

int lx_store_resp_open(const char *path, uint32_t ttl_hours, size_t max_stored_bytes,
                       struct lx_store_resp **out, char *err, size_t errlen)
{
    *out = NULL;
    struct lx_store_resp *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->ttl_hours = ttl_hours;
    s->max_stored_bytes = max_stored_bytes;
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        set_err(err, errlen, "responses store %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    /* conversations are private to whoever had them */
    if (!existed)
        chmod(path, 0600);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK || purge(s) != LX_OK) {
        set_err(err, errlen, "responses store %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    s->last_purge = (int64_t)time(NULL);
    *out = s;
    return LX_OK;
fail:
    lx_store_resp_close(s);
    return LX_ERR;
}

void lx_store_resp_close(struct lx_store_resp *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->queued > 0)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- operations: the worker side ---------------------------------------- */

static char *column_text(sqlite3_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *copy = malloc(n + 1);
    if (copy) {
        if (n)
            memcpy(copy, p, n);
        copy[n] = '\0';
    }
    if (len)
        *len = n;
    return copy;
}

static void rec_release(struct lx_store_resp_rec *r)
{
    free(r->id);
    free(r->key_id);
    free(r->model);
    free(r->status);
    free(r->previous_id);
    free(r->response);
    free(r->input);
    free(r->output);
    memset(r, 0, sizeof(*r));
}

static int do_put(struct lx_store_resp *s, const struct lx_store_resp_rec *r)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT OR REPLACE INTO responses (id, key_id, model, created_at,"
                                " status, previous_id, response, input, output)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->created_at);
        sqlite3_bind_text(st, 5, r->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->previous_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 7, r->response, r->response_len, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 8, r->input, r->input_len, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 9, r->output, r->output_len, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LX_OK : LX_ERR;
}

/* Selects the visible row id/key_id; columns as in the SELECT below. */
static int select_row(struct lx_store_resp *s, const char *cols, const char *id, const char *key_id,
                      sqlite3_stmt **out)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM responses WHERE id = ? AND key_id = ? AND created_at >= ?", cols);
    if (sqlite3_prepare_v2(s->db, sql, -1, out, NULL) != SQLITE_OK)
        return LX_ERR;
    sqlite3_bind_text(*out, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(*out, 2, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*out, 3, cutoff(s));
    int rc = sqlite3_step(*out);
    return rc == SQLITE_ROW ? LX_OK : rc == SQLITE_DONE ? LX_STORE_RESP_NOT_FOUND : LX_ERR;
}

static int do_get(struct lx_store_resp *s, struct op *o)
{
    sqlite3_stmt *st = NULL;
    int rc = select_row(s,
                        "id, key_id, model, created_at, status, previous_id, response, input,"
                        " output",
                        o->id, o->key_id, &st);
    if (rc == LX_OK) {
        struct lx_store_resp_rec *r = &o->rec;
        r->id = column_text(st, 0, NULL);
        r->key_id = column_text(st, 1, NULL);
        r->model = column_text(st, 2, NULL);
        r->created_at = sqlite3_column_int64(st, 3);
        r->status = column_text(st, 4, NULL);
        r->previous_id = column_text(st, 5, NULL);
        r->response = column_text(st, 6, &r->response_len);
        r->input = column_text(st, 7, &r->input_len);
        r->output = column_text(st, 8, &r->output_len);
        if (!r->id || !r->key_id || !r->model || !r->status || !r->previous_id || !r->response ||
            !r->input || !r->output)
            rc = LX_ERR;
    }
    sqlite3_finalize(st);
    return rc;
}

static int do_delete(struct lx_store_resp *s, struct op *o)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "DELETE FROM responses WHERE id = ? AND key_id = ? AND created_at >= ?", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, o->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, cutoff(s));
        rc = sqlite3_step(st);
    }
    int changes = rc == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return LX_ERR;
    return changes > 0 ? LX_OK : LX_STORE_RESP_NOT_FOUND;
}

static int do_list(struct lx_store_resp *s, struct op *o)
{
    sqlite3_stmt *st = NULL;
    int rc = select_row(s, "input", o->id, o->key_id, &st);
    if (rc == LX_OK) {
        const char *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        rc = lx_store_resp_page_write(p ? p : "", n, &o->page, &o->list);
    }
    sqlite3_finalize(st);
    return rc;
}

static void work(uv_work_t *w)
{
    struct op *o = w->data;
    struct lx_store_resp *s = o->s;
    switch (o->kind) {
    case OP_PUT:
        maybe_purge(s);
        o->rc = do_put(s, &o->rec);
        break;
    case OP_GET:
        o->rc = do_get(s, o);
        break;
    case OP_DELETE:
        maybe_purge(s);
        o->rc = do_delete(s, o);
        break;
    case OP_LIST:
        o->rc = do_list(s, o);
        break;
    }
    pthread_mutex_lock(&s->mu);
    if (--s->queued == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    o->s = NULL; /* the store may be closed from here on */
}

static void op_free(struct op *o)
{
    rec_release(&o->rec);
    lx_buf_release(&o->list);
    free(o);
}

/* On the loop thread, after work(). */
static void done(uv_work_t *w, int status)
{
    struct op *o = w->data;
    int rc = status == 0 ? o->rc : LX_ERR;
    switch (o->kind) {
    case OP_PUT:
    case OP_DELETE:
        o->cb_rc(o->data, rc);
        break;
    case OP_GET:
        o->cb_rec(o->data, rc, rc == LX_OK ? &o->rec : NULL);
        break;
    case OP_LIST:
        o->cb_list(o->data, rc, rc == LX_OK ? o->list.data : NULL, rc == LX_OK ? o->list.len : 0);
        break;
    }
    op_free(o);
}

/* ---- operations: the loop side ------------------------------------------ */

static bool fits(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) <= max;
}

static struct op *op_new(enum op_kind kind, const char *id, const char *key_id, int *rc)
{
    *rc = LX_STORE_RESP_TOO_BIG;
    if (id && !fits(id, LX_STORE_RESP_MAX_ID))
        return NULL;
    if (key_id && !fits(key_id, LX_STORE_RESP_MAX_KEY_ID))
        return NULL;
    *rc = LX_ERR;
    struct op *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->kind = kind;
    o->work.data = o;
    lx_buf_init(&o->list, LIST_BUF_MAX);
    if (id)
        snprintf(o->id, sizeof(o->id), "%s", id);
    if (key_id)
        snprintf(o->key_id, sizeof(o->key_id), "%s", key_id);
    return o;
}

/* Queues o on the pool; frees it when refused. */
static int submit(struct lx_store_resp *s, uv_loop_t *loop, struct op *o)
{
    pthread_mutex_lock(&s->mu);
    bool full = s->queued >= LX_STORE_RESP_MAX_QUEUED;
    if (!full)
        s->queued++;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        op_free(o);
        return LX_STORE_RESP_BUSY;
    }
    o->s = s;
    if (uv_queue_work(loop, &o->work, work, done) != 0) {
        pthread_mutex_lock(&s->mu);
        if (--s->queued == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
        op_free(o);
        return LX_ERR;
    }
    return LX_OK;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        if (n)
            memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
}

static int rec_copy(struct lx_store_resp_rec *d, const struct lx_store_resp_rec *r)
{
    const char *prev = r->previous_id ? r->previous_id : "";
    d->id = dup_bytes(r->id, strlen(r->id));
    d->key_id = dup_bytes(r->key_id, strlen(r->key_id));
    d->model = dup_bytes(r->model, strlen(r->model));
    d->status = dup_bytes(r->status, strlen(r->status));
    d->previous_id = dup_bytes(prev, strlen(prev));
    d->created_at = r->created_at;
    d->response = dup_bytes(r->response, r->response_len);
    d->response_len = r->response_len;
    d->input = dup_bytes(r->input, r->input_len);
    d->input_len = r->input_len;
    d->output = dup_bytes(r->output, r->output_len);
    d->output_len = r->output_len;
    return d->id && d->key_id && d->model && d->status && d->previous_id && d->response &&
                   d->input && d->output
               ? LX_OK
               : LX_ERR;
}

/* The caps of a put: every field present and within its size. */
static int check_rec(const struct lx_store_resp *s, const struct lx_store_resp_rec *r)
{
    if (!r->id || !r->id[0] || !r->key_id || !r->model || !r->status || !r->response || !r->input ||
        !r->output)
        return LX_ERR;
    if (!fits(r->id, LX_STORE_RESP_MAX_ID) || !fits(r->key_id, LX_STORE_RESP_MAX_KEY_ID) ||
        !fits(r->model, LX_STORE_RESP_MAX_MODEL) || !fits(r->status, LX_STORE_RESP_MAX_STATUS) ||
        (r->previous_id && !fits(r->previous_id, LX_STORE_RESP_MAX_ID)))
        return LX_STORE_RESP_TOO_BIG;
    /* no overflow: each length is the size of an object in memory */
    size_t total = r->response_len + r->input_len + r->output_len;
    if (s->max_stored_bytes && total > s->max_stored_bytes)
        return LX_STORE_RESP_TOO_BIG;
    return LX_OK;
}

int lx_store_resp_put(struct lx_store_resp *s, uv_loop_t *loop, const struct lx_store_resp_rec *rec,
                      void (*cb)(void *data, int rc), void *data)
{
    int rc = check_rec(s, rec);
    if (rc != LX_OK)
        return rc;
    struct op *o = op_new(OP_PUT, NULL, NULL, &rc);
    if (o == NULL)
        return rc;
    o->cb_rc = cb;
    o->data = data;
    if (rec_copy(&o->rec, rec) != LX_OK) {
        op_free(o);
        return LX_ERR;
    }
    return submit(s, loop, o);
}

int lx_store_resp_get(struct lx_store_resp *s, uv_loop_t *loop, const char *id, const char *key_id,
                      void (*cb)(void *data, int rc, const struct lx_store_resp_rec *rec),
                      void *data)
{
    int rc;
    struct op *o = op_new(OP_GET, id, key_id, &rc);
    if (o == NULL)
        return rc;
    o->cb_rec = cb;
    o->data = data;
    return submit(s, loop, o);
}

int lx_store_resp_delete(struct lx_store_resp *s, uv_loop_t *loop, const char *id,
                         const char *key_id, void (*cb)(void *data, int rc), void *data)
{
    int rc;
    struct op *o = op_new(OP_DELETE, id, key_id, &rc);
    if (o == NULL)
        return rc;
    o->cb_rc = cb;
    o->data = data;
    return submit(s, loop, o);
}

int lx_store_resp_list_input(struct lx_store_resp *s, uv_loop_t *loop, const char *id,
                             const char *key_id, const struct lx_store_resp_page *q,
                             void (*cb)(void *data, int rc, const char *json, size_t len),
                             void *data)
{
    int rc;
    struct op *o = op_new(OP_LIST, id, key_id, &rc);
    if (o == NULL)
        return rc;
    o->page = *q;
    o->cb_list = cb;
    o->data = data;
    return submit(s, loop, o);
}

int64_t lx_store_resp_count(struct lx_store_resp *s)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM responses", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- a page of input items ---------------------------------------------- */

static const char *item_id(const cJSON *item)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

/* Position (in page order) of the item named id, or -1. */
static int find_item(cJSON *const *items, int n, const char *id)
{
    for (int i = 0; i < n; i++) {
        const char *v = item_id(items[i]);
        if (v && strcmp(v, id) == 0)
            return i;
    }
    return -1;
}

static int write_id(lx_buf *out, const char *key, const cJSON *item)
{
    const char *id = item ? item_id(item) : NULL;
    if (lx_buf_printf(out, ",\"%s\":", key) != LX_OK)
        return LX_ERR;
    if (id == NULL)
        return lx_buf_append_cstr(out, "null");
    /* ids were JSON strings: print them back through cJSON for the escapes */
    cJSON *s = cJSON_CreateString(id);
    char *text = s ? cJSON_PrintUnformatted(s) : NULL;
    int rc = text ? lx_buf_append_cstr(out, text) : LX_ERR;
    cJSON_free(text);
    cJSON_Delete(s);
    return rc;
}

static int write_page(lx_buf *out, cJSON *const *items, int from, int to, bool more)
{
    int rc = lx_buf_append_cstr(out, "{\"object\":\"list\",\"data\":[");
    for (int i = from; i < to && rc == LX_OK; i++) {
        char *text = cJSON_PrintUnformatted(items[i]);
        if (text == NULL)
            return LX_ERR;
        if (i > from)
            rc = lx_buf_append_char(out, ',');
        if (rc == LX_OK)
            rc = lx_buf_append_cstr(out, text);
        cJSON_free(text);
    }
    if (rc == LX_OK)
        rc = lx_buf_append_char(out, ']');
    if (rc == LX_OK)
        rc = write_id(out, "first_id", from < to ? items[from] : NULL);
    if (rc == LX_OK)
        rc = write_id(out, "last_id", from < to ? items[to - 1] : NULL);
    if (rc == LX_OK)
        rc = lx_buf_printf(out, ",\"has_more\":%s}", more ? "true" : "false");
    return rc;
}

int lx_store_resp_page_write(const char *input, size_t len, const struct lx_store_resp_page *q,
                             lx_buf *out)
{
    cJSON *arr = cJSON_ParseWithLength(input, len);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return LX_ERR;
    }
    int n = cJSON_GetArraySize(arr), rc = LX_ERR;
    cJSON **items = calloc((size_t)n + 1, sizeof(*items));
    if (items == NULL)
        goto free_arr;
    int i = 0;
    for (cJSON *it = arr->child; it; it = it->next, i++)
        items[q->asc ? i : n - 1 - i] = it;
    /* [from, to): the items the cursors leave, in page order */
    int from = 0, to = n;
    if (q->after[0] && (from = find_item(items, n, q->after) + 1) == 0) {
        rc = LX_STORE_RESP_BAD_AFTER;
        goto free_items;
    }
    if (q->before[0] && (to = find_item(items, n, q->before)) < 0) {
        rc = LX_STORE_RESP_BAD_AFTER;
        goto free_items;
    }
    if (to < from)
        to = from;
    int limit = (int)(q->limit ? q->limit : LX_STORE_RESP_LIST_DEFAULT);
    bool more = to - from > limit;
    /* with only before, the page is the items right before the cursor */
    if (more && q->before[0] && !q->after[0])
        from = to - limit;
    else if (more)
        to = from + limit;
    rc = write_page(out, items, from, to, more) == LX_OK ? LX_OK : LX_ERR;
free_items:
    free(items);
free_arr:
    cJSON_Delete(arr);
    return rc;
}
