/*
 * fuzz_reverse.c — libFuzzer target for src/dialect/chat_in.c, chat_out.c
 * and chat_stream.c (reverse.h). The first byte picks what the rest is:
 *  0: a chat request, decoded; when it decodes, encoded as a Responses
 *     request, which must parse as JSON;
 *  1: a Responses `response` object, read into an IR result and written as
 *     a chat.completion, which must parse;
 *  2: a Responses event stream, one event per line ("name<TAB>data" or just
 *     data), fed to the stream translator; every frame it writes must be a
 *     whole "data: ...\n\n" whose payload parses (or is [DONE]).
 */
#include <stdlib.h>
#include <string.h>

#include "dialect/reverse.h"

enum { DEPTH = 32 };

static void must_parse(const char *p, size_t n, lx_arena *a)
{
    lx_json j;
    /* encoding nests the client's values a few levels deeper */
    if (lx_json_parse(&j, p, n, a, DEPTH + 16) != LX_JSON_OK || !lx_json_is_object(&j, 0))
        abort();
}

static void fuzz_request(const char *p, size_t n, lx_arena *a)
{
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    struct lx_resp_fault f;
    if (lx_chat_ir_request_decode(&req, &x, p, n, a, DEPTH, &f) != LX_OK) {
        if (f.message[0] == '\0')
            abort();
        return;
    }
    static const struct lx_resp_ir_opts opts = {.model = "up\"stream"};
    lx_buf out;
    lx_buf_init(&out, 8 * n + 4096);
    if (lx_resp_ir_request_encode(&req, &opts, &out) != LX_OK)
        abort();
    must_parse(out.data, out.len, a);
    lx_buf_release(&out);
}

static void fuzz_result(const char *p, size_t n, lx_arena *a)
{
    struct lx_ir_result res;
    struct lx_resp_fault f;
    if (lx_resp_ir_result_decode(&res, p, n, a, DEPTH, &f) != LX_OK)
        return;
    static const struct lx_chat_ir_meta meta = {"fz", LX_STR_LIT("\"m\""), 1};
    lx_buf out;
    lx_buf_init(&out, 8 * n + 4096);
    if (lx_chat_ir_completion_write(&res, &meta, &out) != LX_OK)
        abort();
    must_parse(out.data, out.len, a);
    lx_buf_release(&out);
}

/* Every frame from `from` on is whole and its payload parses. */
static void check_frames(const lx_buf *out, size_t from, lx_arena *a)
{
    size_t at = from;
    while (at < out->len) {
        if (out->len - at < 8 || memcmp(out->data + at, "data: ", 6) != 0)
            abort();
        const char *end = strstr(out->data + at, "\n\n");
        if (!end)
            abort();
        const char *payload = out->data + at + 6;
        size_t n = (size_t)(end - payload);
        if (!(n == 6 && memcmp(payload, "[DONE]", 6) == 0))
            must_parse(payload, n, a);
        at = (size_t)(end - out->data) + 2;
    }
}

static void fuzz_stream(const char *p, size_t n, lx_arena *a)
{
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("fz", LX_STR_LIT("\"m\""), 1, n % 2);
    if (!s)
        abort();
    lx_buf out;
    lx_buf_init(&out, 64 * n + 4096);
    const char *end = p + n;
    int rc = LX_OK;
    while (p < end && rc != 1) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *tab = memchr(p, '\t', (size_t)(eol - p));
        lx_str event = tab ? (lx_str){p, (size_t)(tab - p)} : LX_STR_NULL;
        lx_str data =
            tab ? (lx_str){tab + 1, (size_t)(eol - tab - 1)} : (lx_str){p, (size_t)(eol - p)};
        size_t mark = out.len;
        rc = lx_chat_from_resp_event(s, event, data, &out);
        if (rc == LX_ERR && out.len != mark)
            abort(); /* a failed event must leave no partial frame */
        p = eol + (nl != NULL);
    }
    if (rc != 1 && lx_chat_from_resp_fail(s, "fz", "fuzz \"end\"", &out) != LX_OK)
        abort();
    check_frames(&out, 0, a);
    lx_buf_release(&out);
    lx_chat_from_resp_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    switch (data[0] % 3) {
    case 0:
        fuzz_request(p, n, &a);
        break;
    case 1:
        fuzz_result(p, n, &a);
        break;
    default:
        fuzz_stream(p, n, &a);
        break;
    }
    lx_arena_release(&a);
    return 0;
}
