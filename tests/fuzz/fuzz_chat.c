/*
 * fuzz_chat.c — libFuzzer target for src/dialect/chat.c. The first byte
 * picks what the rest is: a request (read, then rewrite, and the rewritten
 * body must read back with the pinned model), a stream chunk, a whole
 * response, or a backend error body (whose normalised form must be JSON).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dialect/chat.h"

/* cJSON is the oracle of what JSON is: lx_json_parse() still accepts a few
 * malformed inputs (see test_json.c), which the rewrite cannot make valid. */
static bool strict_json(const char *p, size_t n)
{
    cJSON *doc = cJSON_ParseWithLengthOpts(p, n, NULL, false);
    cJSON_Delete(doc);
    return doc != NULL;
}

static void fuzz_request(const char *p, size_t n, lx_arena *a)
{
    struct lx_chat_request req, again;
    struct lx_chat_fault f;
    if (lx_chat_request_read(&req, p, n, a, 32, &f) != LX_OK) {
        if (f.message[0] == '\0')
            abort();
        return;
    }
    lx_buf out;
    lx_buf_init(&out, n + 4096);
    if (lx_chat_request_rewrite(&req, "pinned \"model\"", true, &out) != LX_OK)
        abort();
    if (lx_chat_request_read(&again, out.data, out.len, a, 32, &f) != LX_OK) {
        if (strict_json(p, n))
            abort();
        lx_buf_release(&out);
        return;
    }
    /* usage is asked for streams only (stream_options is refused otherwise) */
    if (!lx_json_str_eq(&again.json, again.model, "pinned \"model\"") ||
        again.usage_asked != (req.stream || req.usage_asked))
        abort();
    lx_buf_release(&out);
    (void)lx_chat_embeddings_read(&req, p, n, a, 32, &f);
}

static void fuzz_chunk(const char *p, size_t n, lx_arena *a)
{
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token;
    (void)lx_chat_chunk_inspect((lx_str){p, n}, a, 32, &t, &token);
    if (t.n_calls > LX_CHAT_MAX_CALLS)
        abort();
    for (size_t i = 0; i < LX_CHAT_MAX_CALLS; i++)
        if (memchr(t.call_names[i], '\0', LX_CHAT_MAX_NAME) == NULL)
            abort();
    lx_chat_response_inspect((lx_str){p, n}, a, 32, &t);
}

static void fuzz_error(int status, const char *p, size_t n, lx_arena *a)
{
    lx_buf out;
    lx_buf_init(&out, n + 4096);
    if (lx_chat_error_normalize(status, (lx_str){p, n}, a, &out) != LX_OK)
        abort();
    lx_json j;
    if (lx_json_parse(&j, out.data, out.len, a, 8) != LX_JSON_OK)
        abort();
    int e = lx_json_get(&j, 0, "error");
    if (!lx_json_is_string(&j, lx_json_get(&j, e, "message")) ||
        !lx_json_is_string(&j, lx_json_get(&j, e, "type")))
        abort();
    lx_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    switch (data[0] % 4) {
    case 0:
        fuzz_request(p, n, &a);
        break;
    case 1:
        fuzz_chunk(p, n, &a);
        break;
    case 2:
        fuzz_error(400 + data[0] % 200, p, n, &a);
        break;
    default:
        fuzz_chunk(p, n, &a);
        fuzz_request(p, n, &a);
        break;
    }
    lx_arena_release(&a);
    return 0;
}
