/*
 * fuzz_redact_chat.c — libFuzzer target for src/policy/redact_chat.c. The
 * first byte picks the shape: a request, a whole response, or a stream
 * (the rest split at '\n' into chunk payloads). Whatever the rewriter
 * accepts, its output must be JSON again, and a document in which nothing
 * matched must come out byte for byte as it went in.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "policy/redact_chat.h"

static lx_redact_set *in_set, *out_set;

static void sets(void)
{
    if (in_set)
        return;
    static const char *names[] = {"email", "phone", "card", "iban", "ip", "secret"};
    in_set = lx_redact_set_new(NULL);
    out_set = lx_redact_set_new(NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        lx_redact_set_add_builtin(in_set, names[i], (lx_redact_action)(i % 2), NULL);
        lx_redact_set_add_builtin(out_set, names[i], LX_REDACT_MASK, NULL);
    }
}

/* cJSON is the oracle of what JSON is (lx_json_parse accepts a few
 * malformed inputs that no rewrite can make valid). */
static bool strict_json(const char *p, size_t n)
{
    cJSON *doc = cJSON_ParseWithLengthOpts(p, n, NULL, false);
    cJSON_Delete(doc);
    return doc != NULL;
}

static size_t total_matches(const lx_redact_ctx *ctx, const lx_redact_set *s)
{
    size_t n = 0;
    for (size_t i = 0; i < lx_redact_set_count(s); i++)
        n += lx_redact_ctx_matches(ctx, i);
    return n;
}

static void check_output(const char *p, size_t n, const lx_buf *out, bool same)
{
    if (!strict_json(p, n))
        return;
    if (!strict_json(out->data, out->len))
        abort();
    if (same && (out->len != n || memcmp(out->data, p, n) != 0))
        abort();
}

static void fuzz_document(const char *p, size_t n, lx_arena *a, bool request)
{
    lx_redact_ctx *in = lx_redact_ctx_new(in_set), *outc = lx_redact_ctx_new(out_set);
    lx_buf out;
    lx_buf_init(&out, n * 64 + 4096);
    int rc = request ? lx_redact_chat_request(in, p, n, a, 32, &out)
                     : lx_redact_chat_response(outc, in, p, n, a, 32, &out);
    if (rc == LX_OK)
        check_output(p, n, &out,
                     total_matches(in, in_set) == 0 && total_matches(outc, out_set) == 0);
    lx_buf_release(&out);
    lx_redact_ctx_free(in);
    lx_redact_ctx_free(outc);
}

static void fuzz_stream(const char *p, size_t n, lx_arena *a)
{
    lx_redact_ctx *in = lx_redact_ctx_new(in_set), *outc = lx_redact_ctx_new(out_set);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(outc, in);
    lx_buf out;
    lx_buf_init(&out, n * 64 + 4096);
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        lx_buf_reset(&out);
        if (lx_redact_chat_stream_chunk(st, (lx_str){p, len}, a, 32, &out) != LX_OK)
            break;
        check_output(p, len, &out, false);
        lx_arena_reset(a);
        p += len + (nl != NULL);
        n -= len + (nl != NULL);
    }
    lx_buf_reset(&out);
    if (lx_redact_chat_stream_end(st, &out) == LX_OK && out.len > 0 &&
        !strict_json(out.data, out.len))
        abort();
    lx_buf_release(&out);
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(in);
    lx_redact_ctx_free(outc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sets();
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    switch (data[0] % 3) {
    case 0:
        fuzz_document(p, n, &a, true);
        break;
    case 1:
        fuzz_document(p, n, &a, false);
        break;
    default:
        fuzz_stream(p, n, &a);
        break;
    }
    lx_arena_release(&a);
    return 0;
}
