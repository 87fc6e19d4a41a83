/*
 * fuzz_responses.c — libFuzzer target for src/dialect/responses.c,
 * chat_ir.c and ir.c. The first byte picks what the rest is: a Responses
 * request (decoded; when it decodes, encoded as a chat request for two
 * backend shapes and written back as a response object, each of which
 * must parse as JSON) or a chat.completion (read into an IR result and
 * written as a response object, which must parse).
 */
#include <stdlib.h>
#include <string.h>

#include "dialect/responses.h"

enum { DEPTH = 32 };

static void must_parse(const lx_buf *out, lx_arena *a)
{
    lx_json j;
    /* encoding nests the client's values a few levels deeper */
    if (lx_json_parse(&j, out->data, out->len, a, DEPTH + 16) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        abort();
}

static const struct lx_resp_meta meta = {"resp_fuzz", 1767000000, 1767000001};

static void fuzz_request(const char *p, size_t n, lx_arena *a)
{
    struct lx_ir_request req;
    struct lx_resp_fault f;
    if (lx_resp_request_decode(&req, p, n, a, DEPTH, &f) != LX_OK) {
        if (f.message[0] == '\0')
            abort();
        return;
    }
    static const struct lx_resp_chat_opts opts[] = {
        {.reasoning_content = true},
        {.model = "up\"stream",
         .max_completion_tokens = true,
         .developer_as_system = true,
         .tool_choice_objects = true},
    };
    for (size_t k = 0; k < LX_ARRAY_LEN(opts); k++) {
        lx_buf out;
        lx_buf_init(&out, 8 * n + 4096);
        if (lx_resp_chat_request_encode(&req, &opts[k], a, &out) != LX_OK)
            abort();
        must_parse(&out, a);
        lx_buf_release(&out);
    }
    /* the request's settings echoed around an empty result */
    struct lx_ir_result res = {0};
    lx_buf out;
    lx_buf_init(&out, 8 * n + 4096);
    if (lx_resp_response_write(&req, &res, &meta, &out) != LX_OK)
        abort();
    must_parse(&out, a);
    lx_buf_release(&out);
    /* the stored input items decode again */
    lx_buf items;
    lx_buf_init(&items, 16 * n + 4096);
    if (lx_resp_input_write(&req, "fz", &items) != LX_OK)
        abort();
    lx_buf again;
    lx_buf_init(&again, 16 * n + 4096);
    struct lx_ir_request req2;
    if (lx_buf_printf(&again, "{\"model\":\"m\",\"input\":%s}", items.data ? items.data : "[]") !=
            LX_OK ||
        lx_resp_request_decode(&req2, again.data, again.len, a, DEPTH + 8, &f) != LX_OK)
        abort();
    lx_buf_release(&again);
    lx_buf_release(&items);
}

static void fuzz_result(const char *p, size_t n, lx_arena *a)
{
    /* with a custom tool and a namespace, so calls can map to either */
    static const char body[] =
        "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"custom\",\"name\":"
        "\"apply_patch\"},{\"type\":\"namespace\",\"name\":\"ns\",\"description\":\"d\","
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\"}]}]}";
    struct lx_ir_request req;
    struct lx_resp_fault f;
    if (lx_resp_request_decode(&req, body, sizeof(body) - 1, a, DEPTH, &f) != LX_OK)
        abort();
    struct lx_ir_result res;
    if (lx_resp_chat_result_decode(&res, &req, p, n, "fz", a, DEPTH) != LX_OK)
        return;
    lx_buf out;
    lx_buf_init(&out, 8 * n + 4096);
    if (lx_resp_response_write(&req, &res, &meta, &out) != LX_OK)
        abort();
    must_parse(&out, a);
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
    if (data[0] % 2 == 0)
        fuzz_request(p, n, &a);
    else
        fuzz_result(p, n, &a);
    lx_arena_release(&a);
    return 0;
}
