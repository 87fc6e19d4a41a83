/*
 * fuzz_resp_stream.c — libFuzzer target for src/dialect/resp_stream.c. The
 * first byte picks the reasoning event mode and whether the request has
 * Codex tools (a custom tool and a namespace); the rest is split at
 * newlines into chat.completion.chunk texts fed in order. A chunk that is
 * refused ends the stream with _fail, else it ends with _finish. Every
 * event written must be complete ("event: T\ndata: {...}\n\n" with a JSON
 * object as data, numbered in order), and the result's output must be
 * writable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect/resp_stream.h"

static const struct lx_resp_meta meta = {"resp_fuzz", 1767000000, 0};

static const char plain_req[] = "{\"model\":\"m\",\"input\":\"x\"}";
static const char codex_req[] =
    "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"custom\",\"name\":\"apply_patch\"},"
    "{\"type\":\"namespace\",\"name\":\"ns\",\"description\":\"d\",\"tools\":[{\"type\":"
    "\"function\",\"name\":\"f\"},{\"type\":\"custom\",\"name\":\"c\"}]},{\"type\":"
    "\"web_search\"}]}";

/* Checks the events appended to out since from, and their numbering. */
static void check_events(const lx_buf *out, size_t from, uint64_t *seq, lx_arena *a)
{
    const char *p = out->data ? out->data + from : "";
    const char *end = out->data ? out->data + out->len : p;
    while (p < end) {
        const char *stop = strstr(p, "\n\n");
        if (!stop || stop + 2 > end)
            abort();
        if (strncmp(p, "data: [DONE]\n\n", 14) == 0) {
            p += 14;
            continue;
        }
        const char *data = strstr(p, "\ndata: ");
        if (strncmp(p, "event: ", 7) != 0 || !data || data > stop)
            abort();
        data += 7;
        lx_json j;
        if (lx_json_parse(&j, data, (size_t)(stop - data), a, 128) != LX_JSON_OK ||
            !lx_json_is_object(&j, 0))
            abort();
        int64_t n;
        if (lx_json_int64(&j, lx_json_get(&j, 0, "sequence_number"), &n) != LX_OK ||
            (uint64_t)n != *seq)
            abort();
        (*seq)++;
        p = stop + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    const char *body = data[0] & 4 ? codex_req : plain_req;
    struct lx_ir_request req;
    struct lx_resp_fault f;
    if (lx_resp_request_decode(&req, body, strlen(body), &a, 32, &f) != LX_OK)
        abort();
    struct lx_resp_stream *s = lx_resp_stream_new(&req, &meta, "fz", data[0] % 3);
    lx_buf out;
    lx_buf_init(&out, 64 << 20);
    uint64_t seq = 0;
    if (!s || lx_resp_stream_begin(s, &out) != LX_OK)
        abort();
    check_events(&out, 0, &seq, &a);
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    bool failed = false;
    while (p < end && !failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t from = out.len;
        if (lx_resp_stream_chunk(s, p, n, &out) != LX_OK) {
            check_events(&out, from, &seq, &a);
            from = out.len;
            if (lx_resp_stream_fail(s, "server_error", "bad chunk", &out) != LX_OK)
                abort();
            failed = true;
        }
        check_events(&out, from, &seq, &a);
        p += n + 1;
    }
    size_t from = out.len;
    if (!failed && lx_resp_stream_finish(s, 1767000001, &out) != LX_OK)
        abort();
    check_events(&out, from, &seq, &a);
    lx_buf arr;
    lx_buf_init(&arr, 64 << 20);
    if (lx_resp_output_write(lx_resp_stream_result(s), &arr) != LX_OK)
        abort();
    lx_buf_release(&arr);
    lx_resp_stream_free(s);
    lx_buf_release(&out);
    lx_arena_release(&a);
    return 0;
}
