/*
 * test_store_responses.c — unit tests for src/store/responses: put, get and
 * delete through the thread pool with callbacks on the loop thread, what a
 * key may see, expiry and purge, the caps, a locked or unusable database,
 * and the input_items pages (exact bytes).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/responses.h"

static char dir[] = "/tmp/llmux-test-resp-XXXXXX";
static char path[256];
static struct lx_store_resp *store;
static uv_loop_t loop;
static pthread_t loop_thread;

static void open_store(uint32_t ttl, size_t max)
{
    char err[256];
    cr_assert_eq(lx_store_resp_open(path, ttl, max, &store, err, sizeof(err)), LX_OK, "%s", err);
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/responses.db", dir);
    uv_loop_init(&loop);
    loop_thread = pthread_self();
    open_store(720, 1 << 20);
}

static void teardown(void)
{
    lx_store_resp_close(store);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char p[300];
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
    strcpy(dir, "/tmp/llmux-test-resp-XXXXXX");
}

TestSuite(store_resp, .init = setup, .fini = teardown);

/* What the callbacks saw. */
struct seen {
    int calls, rc;
    bool on_loop;
    char id[64], key_id[64], model[64], status[32], previous_id[64];
    int64_t created_at;
    char response[256], input[512], output[256];
    char list[1024];
};

static void on_rc(void *data, int rc)
{
    struct seen *s = data;
    s->calls++;
    s->rc = rc;
    s->on_loop = pthread_equal(pthread_self(), loop_thread);
}

static void on_rec(void *data, int rc, const struct lx_store_resp_rec *r)
{
    struct seen *s = data;
    on_rc(data, rc);
    if (r == NULL)
        return;
    snprintf(s->id, sizeof(s->id), "%s", r->id);
    snprintf(s->key_id, sizeof(s->key_id), "%s", r->key_id);
    snprintf(s->model, sizeof(s->model), "%s", r->model);
    snprintf(s->status, sizeof(s->status), "%s", r->status);
    snprintf(s->previous_id, sizeof(s->previous_id), "%s", r->previous_id);
    s->created_at = r->created_at;
    cr_assert_eq(strlen(r->response), r->response_len);
    snprintf(s->response, sizeof(s->response), "%s", r->response);
    snprintf(s->input, sizeof(s->input), "%s", r->input);
    snprintf(s->output, sizeof(s->output), "%s", r->output);
}

static void on_list(void *data, int rc, const char *json, size_t len)
{
    struct seen *s = data;
    on_rc(data, rc);
    if (json)
        snprintf(s->list, sizeof(s->list), "%.*s", (int)len, json);
}

static const char INPUT[] = "[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"user\","
                            "\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}]";

static struct lx_store_resp_rec rec(const char *id, const char *key_id, int64_t created_at)
{
    static char response[128];
    snprintf(response, sizeof(response), "{\"id\":\"%s\",\"object\":\"response\"}", id);
    return (struct lx_store_resp_rec){
        .id = (char *)id,
        .key_id = (char *)key_id,
        .model = "m",
        .status = "completed",
        .previous_id = NULL,
        .created_at = created_at,
        .response = response,
        .response_len = strlen(response),
        .input = (char *)INPUT,
        .input_len = strlen(INPUT),
        .output = "[]",
        .output_len = 2,
    };
}

static int put(const struct lx_store_resp_rec *r)
{
    struct seen s = {0};
    int rc = lx_store_resp_put(store, &loop, r, on_rc, &s);
    if (rc != LX_OK)
        return rc;
    cr_assert_eq(s.calls, 0, "the callback waits for the loop");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.calls, 1);
    cr_assert(s.on_loop, "the callback runs on the loop thread");
    return s.rc;
}

static struct seen get(const char *id, const char *key_id)
{
    struct seen s = {0};
    cr_assert_eq(lx_store_resp_get(store, &loop, id, key_id, on_rec, &s), LX_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.calls, 1);
    cr_assert(s.on_loop);
    return s;
}

static int del(const char *id, const char *key_id)
{
    struct seen s = {0};
    cr_assert_eq(lx_store_resp_delete(store, &loop, id, key_id, on_rc, &s), LX_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.calls, 1);
    cr_assert(s.on_loop);
    return s.rc;
}

Test(store_resp, put_then_get_every_field)
{
    struct lx_store_resp_rec r = rec("resp_1", "", (int64_t)time(NULL));
    r.previous_id = "resp_0";
    r.output = "[{\"id\":\"msg_2\"}]";
    r.output_len = strlen(r.output);
    cr_assert_eq(put(&r), LX_OK);
    struct seen s = get("resp_1", "");
    cr_assert_eq(s.rc, LX_OK);
    cr_assert_str_eq(s.id, "resp_1");
    cr_assert_str_eq(s.key_id, "");
    cr_assert_str_eq(s.model, "m");
    cr_assert_str_eq(s.status, "completed");
    cr_assert_str_eq(s.previous_id, "resp_0");
    cr_assert_eq(s.created_at, r.created_at);
    cr_assert_str_eq(s.response, "{\"id\":\"resp_1\",\"object\":\"response\"}");
    cr_assert_str_eq(s.input, INPUT);
    cr_assert_str_eq(s.output, "[{\"id\":\"msg_2\"}]");
    cr_assert_eq(lx_store_resp_count(store), 1);
}

Test(store_resp, survives_reopen_and_replaces_same_id)
{
    struct lx_store_resp_rec r = rec("resp_1", "", (int64_t)time(NULL));
    cr_assert_eq(put(&r), LX_OK);
    r.status = "incomplete";
    cr_assert_eq(put(&r), LX_OK);
    lx_store_resp_close(store);
    open_store(720, 1 << 20);
    struct seen s = get("resp_1", "");
    cr_assert_eq(s.rc, LX_OK);
    cr_assert_str_eq(s.status, "incomplete");
    cr_assert_eq(lx_store_resp_count(store), 1);
}

Test(store_resp, unknown_id_not_found)
{
    struct seen s = get("resp_nope", "");
    cr_assert_eq(s.rc, LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(del("resp_nope", ""), LX_STORE_RESP_NOT_FOUND);
}

/* A key sees its own rows only; no auth ("") sees only the rows stored
 * without auth. */
Test(store_resp, visibility_by_key)
{
    int64_t now = (int64_t)time(NULL);
    struct lx_store_resp_rec a = rec("resp_a", "key_aaaaaaaa", now), n = rec("resp_n", "", now);
    cr_assert_eq(put(&a), LX_OK);
    cr_assert_eq(put(&n), LX_OK);
    cr_assert_eq(get("resp_a", "key_aaaaaaaa").rc, LX_OK);
    cr_assert_eq(get("resp_a", "key_bbbbbbbb").rc, LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(get("resp_a", "").rc, LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(get("resp_n", "").rc, LX_OK);
    cr_assert_eq(get("resp_n", "key_aaaaaaaa").rc, LX_STORE_RESP_NOT_FOUND);
    /* another key's delete neither succeeds nor removes it */
    cr_assert_eq(del("resp_a", "key_bbbbbbbb"), LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(get("resp_a", "key_aaaaaaaa").rc, LX_OK);
    cr_assert_eq(del("resp_a", "key_aaaaaaaa"), LX_OK);
    cr_assert_eq(get("resp_a", "key_aaaaaaaa").rc, LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(del("resp_a", "key_aaaaaaaa"), LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(lx_store_resp_count(store), 1);
}

/* An expired row is invisible at once and gone after the purge at open. */
Test(store_resp, ttl_hides_then_purges)
{
    lx_store_resp_close(store);
    open_store(1, 1 << 20);
    int64_t now = (int64_t)time(NULL);
    struct lx_store_resp_rec old = rec("resp_old", "", now - 2 * 3600),
                             young = rec("resp_young", "", now - 1800);
    cr_assert_eq(put(&old), LX_OK);
    cr_assert_eq(put(&young), LX_OK);
    cr_assert_eq(get("resp_old", "").rc, LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(del("resp_old", ""), LX_STORE_RESP_NOT_FOUND);
    cr_assert_eq(get("resp_young", "").rc, LX_OK);
    cr_assert_eq(lx_store_resp_count(store), 2, "still there until a purge");
    lx_store_resp_close(store);
    open_store(1, 1 << 20);
    cr_assert_eq(lx_store_resp_count(store), 1);
    cr_assert_eq(get("resp_young", "").rc, LX_OK);
}

Test(store_resp, ttl_zero_keeps_forever)
{
    lx_store_resp_close(store);
    open_store(0, 1 << 20);
    struct lx_store_resp_rec r = rec("resp_ancient", "", 1000);
    cr_assert_eq(put(&r), LX_OK);
    lx_store_resp_close(store);
    open_store(0, 1 << 20);
    cr_assert_eq(get("resp_ancient", "").rc, LX_OK);
}

Test(store_resp, caps_refuse_without_callback)
{
    lx_store_resp_close(store);
    open_store(720, 100);
    struct seen s = {0};
    struct lx_store_resp_rec r = rec("resp_big", "", (int64_t)time(NULL));
    /* the three blobs together pass 100 bytes */
    cr_assert_gt(r.response_len + r.input_len + r.output_len, 100);
    cr_assert_eq(lx_store_resp_put(store, &loop, &r, on_rc, &s), LX_STORE_RESP_TOO_BIG);
    char long_id[LX_STORE_RESP_MAX_ID + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    struct lx_store_resp_rec small = rec(long_id, "", (int64_t)time(NULL));
    small.input = "[]", small.input_len = 2, small.response = "{}", small.response_len = 2;
    cr_assert_eq(lx_store_resp_put(store, &loop, &small, on_rc, &s), LX_STORE_RESP_TOO_BIG);
    cr_assert_eq(lx_store_resp_get(store, &loop, long_id, "", on_rec, &s), LX_STORE_RESP_TOO_BIG);
    small.id = "resp_ok";
    small.model = NULL;
    cr_assert_eq(lx_store_resp_put(store, &loop, &small, on_rc, &s), LX_ERR, "missing field");
    small.model = "m";
    cr_assert_eq(put(&small), LX_OK, "at the cap is fine");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.calls, 0);
    cr_assert_eq(lx_store_resp_count(store), 1);
}

/* Another connection holds the write lock past the busy timeout: the put
 * fails with LX_ERR through its callback, reads still work (WAL). */
Test(store_resp, locked_db_is_an_error_not_a_crash)
{
    struct lx_store_resp_rec r = rec("resp_1", "", (int64_t)time(NULL));
    cr_assert_eq(put(&r), LX_OK);
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    r.id = "resp_2";
    cr_assert_eq(put(&r), LX_ERR);
    cr_assert_eq(get("resp_1", "").rc, LX_OK);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    cr_assert_eq(put(&r), LX_OK);
}

Test(store_resp, unusable_file_fails_open)
{
    char err[256], p[300];
    struct lx_store_resp *s = (void *)1;
    cr_assert_eq(lx_store_resp_open("/nonexistent-dir/x.db", 1, 0, &s, err, sizeof(err)), LX_ERR);
    cr_assert_null(s);
    cr_assert(strstr(err, "/nonexistent-dir/x.db") != NULL, "%s", err);
    snprintf(p, sizeof(p), "%s/garbage.db", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not a database ", f);
    fclose(f);
    cr_assert_eq(lx_store_resp_open(p, 1, 0, &s, err, sizeof(err)), LX_ERR);
    unlink(p);
}

/* Close waits for work already queued; the callback still runs afterwards
 * on the loop, without the store. */
Test(store_resp, close_waits_for_queued_work)
{
    struct lx_store_resp_rec r = rec("resp_1", "", (int64_t)time(NULL));
    struct seen s = {0};
    cr_assert_eq(lx_store_resp_put(store, &loop, &r, on_rc, &s), LX_OK);
    lx_store_resp_close(store);
    store = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.rc, LX_OK);
    open_store(720, 1 << 20);
    cr_assert_eq(get("resp_1", "").rc, LX_OK);
}

/* ---- pages of input items: exact bytes ----------------------------------- */

static const char ITEMS[] = "[{\"id\":\"a\",\"type\":\"message\"},{\"id\":\"b\"},{\"id\":\"c\"},"
                            "{\"id\":\"d\"},{\"id\":\"e\"}]";

static const char *page(uint32_t limit, bool asc, const char *after, const char *before, int *rc)
{
    static lx_buf out;
    lx_buf_release(&out);
    lx_buf_init(&out, 1 << 20);
    struct lx_store_resp_page q = {.limit = limit, .asc = asc};
    snprintf(q.after, sizeof(q.after), "%s", after ? after : "");
    snprintf(q.before, sizeof(q.before), "%s", before ? before : "");
    *rc = lx_store_resp_page_write(ITEMS, strlen(ITEMS), &q, &out);
    return out.data ? out.data : "";
}

#define PAGE_EQ(limit, asc, after, before, want)                                                   \
    do {                                                                                           \
        int rc_;                                                                                   \
        const char *got_ = page(limit, asc, after, before, &rc_);                                  \
        cr_assert_eq(rc_, LX_OK);                                                                  \
        cr_assert_str_eq(got_, want);                                                              \
    } while (0)

Test(store_resp_page, default_is_newest_first)
{
    PAGE_EQ(20, false, NULL, NULL,
            "{\"object\":\"list\",\"data\":[{\"id\":\"e\"},{\"id\":\"d\"},{\"id\":\"c\"},"
            "{\"id\":\"b\"},{\"id\":\"a\",\"type\":\"message\"}],\"first_id\":\"e\","
            "\"last_id\":\"a\",\"has_more\":false}");
}

Test(store_resp_page, asc_with_limit_and_after)
{
    PAGE_EQ(2, true, NULL, NULL,
            "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"type\":\"message\"},{\"id\":\"b\"}],"
            "\"first_id\":\"a\",\"last_id\":\"b\",\"has_more\":true}");
    PAGE_EQ(2, true, "b", NULL,
            "{\"object\":\"list\",\"data\":[{\"id\":\"c\"},{\"id\":\"d\"}],"
            "\"first_id\":\"c\",\"last_id\":\"d\",\"has_more\":true}");
    PAGE_EQ(2, true, "d", NULL,
            "{\"object\":\"list\",\"data\":[{\"id\":\"e\"}],"
            "\"first_id\":\"e\",\"last_id\":\"e\",\"has_more\":false}");
    PAGE_EQ(2, true, "e", NULL,
            "{\"object\":\"list\",\"data\":[],\"first_id\":null,\"last_id\":null,"
            "\"has_more\":false}");
}

Test(store_resp_page, desc_after_follows_page_order)
{
    PAGE_EQ(2, false, "d", NULL,
            "{\"object\":\"list\",\"data\":[{\"id\":\"c\"},{\"id\":\"b\"}],"
            "\"first_id\":\"c\",\"last_id\":\"b\",\"has_more\":true}");
}

Test(store_resp_page, before_takes_the_items_right_before)
{
    PAGE_EQ(2, true, NULL, "e",
            "{\"object\":\"list\",\"data\":[{\"id\":\"c\"},{\"id\":\"d\"}],"
            "\"first_id\":\"c\",\"last_id\":\"d\",\"has_more\":true}");
    PAGE_EQ(20, true, "a", "d",
            "{\"object\":\"list\",\"data\":[{\"id\":\"b\"},{\"id\":\"c\"}],"
            "\"first_id\":\"b\",\"last_id\":\"c\",\"has_more\":false}");
}

Test(store_resp_page, unknown_cursor_and_bad_input)
{
    int rc;
    page(20, true, "zz", NULL, &rc);
    cr_assert_eq(rc, LX_STORE_RESP_BAD_AFTER);
    page(20, true, NULL, "zz", &rc);
    cr_assert_eq(rc, LX_STORE_RESP_BAD_AFTER);
    lx_buf out;
    lx_buf_init(&out, 1024);
    struct lx_store_resp_page q = {.limit = 20};
    cr_assert_eq(lx_store_resp_page_write("{\"a\":1}", 7, &q, &out), LX_ERR);
    cr_assert_eq(lx_store_resp_page_write("[1,", 3, &q, &out), LX_ERR);
    lx_buf_release(&out);
    /* the output cap holds */
    lx_buf_init(&out, 16);
    cr_assert_eq(lx_store_resp_page_write(ITEMS, strlen(ITEMS), &q, &out), LX_ERR);
    lx_buf_release(&out);
}

Test(store_resp, list_input_through_the_store)
{
    struct lx_store_resp_rec r = rec("resp_1", "key_aaaaaaaa", (int64_t)time(NULL));
    r.input = (char *)ITEMS;
    r.input_len = strlen(ITEMS);
    cr_assert_eq(put(&r), LX_OK);
    struct lx_store_resp_page q = {.limit = 1, .asc = true};
    struct seen s = {0};
    cr_assert_eq(lx_store_resp_list_input(store, &loop, "resp_1", "key_aaaaaaaa", &q, on_list, &s),
                 LX_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.rc, LX_OK);
    cr_assert(s.on_loop);
    cr_assert_str_eq(s.list, "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"type\":\"message\"}],"
                             "\"first_id\":\"a\",\"last_id\":\"a\",\"has_more\":true}");
    memset(&s, 0, sizeof(s));
    cr_assert_eq(lx_store_resp_list_input(store, &loop, "resp_1", "", &q, on_list, &s), LX_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.rc, LX_STORE_RESP_NOT_FOUND);
    snprintf(q.after, sizeof(q.after), "nope");
    memset(&s, 0, sizeof(s));
    cr_assert_eq(lx_store_resp_list_input(store, &loop, "resp_1", "key_aaaaaaaa", &q, on_list, &s),
                 LX_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(s.rc, LX_STORE_RESP_BAD_AFTER);
}
