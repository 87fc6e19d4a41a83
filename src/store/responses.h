/*
 * responses.h — stored Responses API objects (store: true) on SQLite, with
 * an asynchronous API for the event loop.
 *
 * Table `responses` (created when missing; the file is in WAL mode):
 *   id           TEXT PRIMARY KEY   "resp_..."
 *   key_id       TEXT NOT NULL      the creating API key's public id, "" without auth
 *   model        TEXT NOT NULL
 *   created_at   INTEGER NOT NULL   Unix seconds (the response's created_at)
 *   status       TEXT NOT NULL      "completed", "incomplete", "failed", ...
 *   previous_id  TEXT NOT NULL      previous_response_id, "" when none
 *   response     BLOB NOT NULL      the response object, as GET /v1/responses/{id} returns it
 *   input        BLOB NOT NULL      JSON array: the whole context the model saw
 *                                   (previous context + new input), every item with an "id"
 *   output       BLOB NOT NULL      JSON array: the output items
 *
 * Threads: SQLite never runs on the event loop (DESIGN.md "Threads and
 * state"). Each operation copies what it is given, runs on libuv's thread
 * pool (uv_queue_work) and calls its callback on the loop thread of the
 * loop it was given. At most LX_STORE_RESP_MAX_QUEUED operations wait at
 * once; past that an operation is refused at once (LX_STORE_RESP_BUSY).
 *
 * Ownership of `data`: the store never touches it; it hands it back to the
 * callback exactly once, when the call returned LX_OK, and never when it
 * returned an error. Whoever passes data keeps it alive until then (the
 * api keeps its pending request object; the request itself may be gone by
 * then, which the callback must check).
 *
 * Expiry: rows older than ttl_hours (0 = never) are invisible to every
 * lookup at once and deleted at open and then about once an hour, by the
 * worker running a write.
 */
#ifndef LX_STORE_RESPONSES_H
#define LX_STORE_RESPONSES_H

#include <uv.h>

#include "../core/buf.h"
#include "../core/core.h"

/* Results beyond LX_OK / LX_ERR (see lx_store_resp_strerror()). */
enum {
    LX_STORE_RESP_NOT_FOUND = -3, /* no such id visible to that key (or expired) */
    LX_STORE_RESP_TOO_BIG = -4,   /* a put over max_stored_bytes, or a field over its cap */
    LX_STORE_RESP_BUSY = -5,      /* LX_STORE_RESP_MAX_QUEUED operations already wait */
    LX_STORE_RESP_BAD_AFTER = -6, /* input_items: the after/before id is not in the list */
};

enum {
    LX_STORE_RESP_MAX_QUEUED = 4096,
    LX_STORE_RESP_MAX_ID = 128,     /* bytes of id, previous_id */
    LX_STORE_RESP_MAX_KEY_ID = 64,  /* bytes of key_id */
    LX_STORE_RESP_MAX_MODEL = 256,  /* bytes of model */
    LX_STORE_RESP_MAX_STATUS = 32,  /* bytes of status */
    LX_STORE_RESP_LIST_MAX = 100,   /* input_items: the largest limit */
    LX_STORE_RESP_LIST_DEFAULT = 20 /* input_items: limit when not given */
};

struct lx_store_resp; /* opaque */

/* One stored response. Strings are NUL-terminated; the blobs are JSON text
 * (NUL-terminated too) with their lengths. Whoever allocated a rec owns it:
 * a put copies it; a get hands one that lives during the callback only. */
struct lx_store_resp_rec {
    char *id, *key_id, *model, *status, *previous_id; /* previous_id "" or NULL: none */
    int64_t created_at;                               /* Unix seconds */
    char *response;
    size_t response_len; /* the response object */
    char *input;
    size_t input_len; /* JSON array */
    char *output;
    size_t output_len; /* JSON array */
};

/* Opens (creating file and table when missing) the store at path, purges
 * expired rows, and writes the new store into *out. max_stored_bytes caps
 * response_len + input_len + output_len of one put (0: no cap).
 * Returns LX_OK, or LX_ERR with a message in err. */
int lx_store_resp_open(const char *path, uint32_t ttl_hours, size_t max_stored_bytes,
                       struct lx_store_resp **out, char *err, size_t errlen);
/* Waits until no operation runs on a worker thread any more, then closes
 * the database and frees s. Callbacks of operations still to be delivered
 * run later on their loop and do not touch s: run the loop to the end. */
void lx_store_resp_close(struct lx_store_resp *s);

/* Stores a copy of rec (a row with the same id is replaced).
 * cb(data, LX_OK | LX_ERR) runs on loop's thread. Returns LX_OK when cb
 * will run; LX_STORE_RESP_TOO_BIG, LX_STORE_RESP_BUSY or LX_ERR (missing
 * field, out of memory) when refused, and cb will not run. */
int lx_store_resp_put(struct lx_store_resp *s, uv_loop_t *loop, const struct lx_store_resp_rec *rec,
                      void (*cb)(void *data, int rc), void *data);

/* Looks up id as key_id sees it (a key sees only its own rows; "" — no
 * auth — sees the rows stored with key_id ""). cb gets LX_OK and the rec
 * (valid during cb only), LX_STORE_RESP_NOT_FOUND and NULL, or LX_ERR and
 * NULL. Returns as lx_store_resp_put(). */
int lx_store_resp_get(struct lx_store_resp *s, uv_loop_t *loop, const char *id, const char *key_id,
                      void (*cb)(void *data, int rc, const struct lx_store_resp_rec *rec),
                      void *data);

/* Deletes id as key_id sees it. cb gets LX_OK, LX_STORE_RESP_NOT_FOUND or
 * LX_ERR. Returns as lx_store_resp_put(). */
int lx_store_resp_delete(struct lx_store_resp *s, uv_loop_t *loop, const char *id,
                         const char *key_id, void (*cb)(void *data, int rc), void *data);

/* A page of a stored input array (GET /v1/responses/{id}/input_items). */
struct lx_store_resp_page {
    uint32_t limit;                        /* 1..LX_STORE_RESP_LIST_MAX */
    bool asc;                              /* false: newest first (the API's default) */
    char after[LX_STORE_RESP_MAX_ID + 1];  /* "" when not given */
    char before[LX_STORE_RESP_MAX_ID + 1]; /* "" when not given */
};

/* Writes the list object {"object":"list","data":[...],"first_id",
 * "last_id","has_more"} for the page q of the JSON array input into out.
 * Items are taken in q->asc order; after/before name an item id and keep
 * only the items strictly after/before it in that order. first_id and
 * last_id are null when data is empty. Returns LX_OK,
 * LX_STORE_RESP_BAD_AFTER when after or before names no item, or LX_ERR
 * (input not a JSON array, out's cap). Pure: usable on any thread. */
int lx_store_resp_page_write(const char *input, size_t len, const struct lx_store_resp_page *q,
                             lx_buf *out);

/* lx_store_resp_page_write() for the stored input of id as key_id sees
 * it, on the worker. cb gets LX_OK and the list object (valid during cb
 * only), or LX_STORE_RESP_NOT_FOUND, LX_STORE_RESP_BAD_AFTER or LX_ERR and
 * NULL. Returns as lx_store_resp_put(). */
int lx_store_resp_list_input(struct lx_store_resp *s, uv_loop_t *loop, const char *id,
                             const char *key_id, const struct lx_store_resp_page *q,
                             void (*cb)(void *data, int rc, const char *json, size_t len),
                             void *data);

/* Rows in the store, expired ones included (for tests and status). Blocks:
 * never on the loop. -1 on error. */
int64_t lx_store_resp_count(struct lx_store_resp *s);

/* A short English text for one of the codes above (or LX_OK / LX_ERR). */
const char *lx_store_resp_strerror(int rc);

#endif
