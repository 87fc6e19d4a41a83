/*
 * test_ws.c — unit tests for WebSocket mode's pure parts: the SSE-to-frame
 * split of src/http/ws.c (exact payloads out for a stream written in two
 * pieces cut at every byte) and the connection-local cache of
 * src/proxy/respcache.c (lookup per key, eviction, the entry cap).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "http/http_int.h"
#include "proxy/proxy_int.h"
#include "store/responses.h"

/* ---- SSE -> frames ------------------------------------------------------- */

struct frames {
    char out[4096];
    size_t len;
    int n;
    int fail_at; /* emit fails on this call (1-based); 0: never */
};

/* Records each payload followed by '|'. */
static int collect(void *data, lx_str p)
{
    struct frames *f = data;
    if (++f->n == f->fail_at)
        return LX_ERR;
    memcpy(f->out + f->len, p.ptr, p.len);
    f->len += p.len;
    f->out[f->len++] = '|';
    return LX_OK;
}

static const char stream[] =
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n"
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
    "\"delta\":\"a\\n\"}\n\n"
    ": a comment line\n\n"
    "data: {\"type\":\"response.completed\"}\n\n"
    "data: [DONE]\n\n";

static const char expected[] = "{\"type\":\"response.created\",\"sequence_number\":0}|"
                               "{\"type\":\"response.output_text.delta\",\"delta\":\"a\\n\"}|"
                               "{\"type\":\"response.completed\"}|";

/* Feeds text in two writes cut at `cut`, as lx_http_ws_stream_write keeps
 * the unfinished tail. */
static void feed_in_two(size_t cut, struct frames *f)
{
    char pending[sizeof(stream)];
    size_t plen = 0;
    const char *parts[2] = {stream, stream + cut};
    size_t lens[2] = {cut, sizeof(stream) - 1 - cut};
    for (int i = 0; i < 2; i++) {
        memcpy(pending + plen, parts[i], lens[i]);
        plen += lens[i];
        ssize_t used = lx_http_sse_data_split(pending, plen, collect, f);
        cr_assert_geq(used, 0);
        memmove(pending, pending + used, plen - (size_t)used);
        plen -= (size_t)used;
    }
    cr_assert_eq(plen, 0, "nothing left over at cut %zu", cut);
}

Test(ws_sse, one_frame_per_event_at_every_cut)
{
    for (size_t cut = 0; cut < sizeof(stream); cut++) {
        struct frames f = {0};
        feed_in_two(cut, &f);
        cr_assert_eq(f.n, 3, "cut %zu", cut);
        cr_assert_eq(f.len, strlen(expected), "cut %zu", cut);
        cr_assert(memcmp(f.out, expected, f.len) == 0, "cut %zu: %.*s", cut, (int)f.len, f.out);
    }
}

Test(ws_sse, unfinished_event_is_not_consumed)
{
    struct frames f = {0};
    const char text[] = "data: {\"a\":1}\n\ndata: {\"b\":";
    cr_assert_eq(lx_http_sse_data_split(text, strlen(text), collect, &f), 15);
    cr_assert_eq(f.n, 1);
    cr_assert_eq(lx_http_sse_data_split("", 0, collect, &f), 0);
}

Test(ws_sse, emit_failure_stops)
{
    struct frames f = {.fail_at = 2};
    cr_assert_eq(lx_http_sse_data_split(stream, sizeof(stream) - 1, collect, &f), -1);
    cr_assert_eq(f.n, 2);
}

/* ---- the connection-local cache -------------------------------------------- */

static struct lx_store_resp_rec rec(char *id, char *key, char *in, char *out)
{
    return (struct lx_store_resp_rec){.id = id,
                                      .key_id = key,
                                      .input = in,
                                      .input_len = strlen(in),
                                      .output = out,
                                      .output_len = strlen(out)};
}

Test(ws_cache, put_get_per_key_and_evict)
{
    struct lx_proxy_resp_cache *c = lx_proxy_resp_cache_new(4);
    char id[] = "resp_1", key[] = "key_a", in[] = "[{\"role\":\"user\"}]", out[] = "[]";
    struct lx_store_resp_rec r = rec(id, key, in, out);
    cr_assert_eq(lx_proxy_resp_cache_put(c, &r), LX_OK);
    id[5] = '9'; /* the cache keeps copies */
    const struct lx_store_resp_rec *got = lx_proxy_resp_cache_get(c, "resp_1", "key_a");
    cr_assert_not_null(got);
    cr_assert_str_eq(got->input, "[{\"role\":\"user\"}]");
    cr_assert_eq(got->input_len, strlen(in));
    cr_assert_str_eq(got->output, "[]");
    cr_assert_null(lx_proxy_resp_cache_get(c, "resp_1", "key_b"), "another key's response");
    cr_assert_null(lx_proxy_resp_cache_get(c, "resp_9", "key_a"));
    lx_proxy_resp_cache_evict(c, LX_STR_LIT("resp_2")); /* unknown: nothing happens */
    cr_assert_eq(lx_proxy_resp_cache_count(c), 1);
    lx_proxy_resp_cache_evict(c, LX_STR_LIT("resp_1"));
    cr_assert_null(lx_proxy_resp_cache_get(c, "resp_1", "key_a"));
    cr_assert_eq(lx_proxy_resp_cache_count(c), 0);
    lx_proxy_resp_cache_free(c);
}

Test(ws_cache, oldest_goes_past_the_cap)
{
    struct lx_proxy_resp_cache *c = lx_proxy_resp_cache_new(2);
    char ids[3][8] = {"resp_a", "resp_b", "resp_c"}, key[] = "", arr[] = "[]";
    for (int i = 0; i < 3; i++) {
        struct lx_store_resp_rec r = rec(ids[i], key, arr, arr);
        cr_assert_eq(lx_proxy_resp_cache_put(c, &r), LX_OK);
    }
    cr_assert_eq(lx_proxy_resp_cache_count(c), 2);
    cr_assert_null(lx_proxy_resp_cache_get(c, "resp_a", ""));
    cr_assert_not_null(lx_proxy_resp_cache_get(c, "resp_b", ""));
    cr_assert_not_null(lx_proxy_resp_cache_get(c, "resp_c", ""));
    lx_proxy_resp_cache_free(c);
}
