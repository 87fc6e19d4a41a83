/*
 * test_reverse.c — unit tests for src/dialect/chat_in.c, chat_out.c and
 * chat_stream.c (a chat client over a Responses backend, reverse.h).
 *
 * Golden files in golden/reverse/, exact bytes in and out:
 *  - NN_name.chatreq.json  -> NN_name.respreq.json   (chat request -> Responses request)
 *  - NN_name.respobj.json  -> NN_name.chatcmpl.json  (Responses response -> chat.completion)
 *  - NN_name.events.txt    -> NN_name.chunks.txt     (Responses SSE -> chat chunk stream;
 *    a stem ending in "_usage" asks stream_options.include_usage)
 * An events file holds SSE blocks ("event: X\ndata: {...}" separated by a
 * blank line). Set LX_GOLDEN_WRITE=1 to (re)write the expected files, then
 * read every one of them before committing.
 *
 * Also: a table of request faults, the stream's content deltas against the
 * non-streamed answer for the same terminal response, and the edges (caps,
 * failures, events after the end).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect/reverse.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 16 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(reverse, .init = setup, .fini = teardown);

static const struct lx_resp_ir_opts opts = {.model = "gpt-5-mini"};
static const struct lx_chat_ir_meta meta = {"test", LX_STR_LIT("\"my-model\""), 1767000000};

static const char *golden_dir(void)
{
    static char dir[4096];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 0;
    snprintf(dir, sizeof(dir), "%.*s%sgolden/reverse", (int)n, file, slash ? "/" : "");
    return dir;
}

/* Reads dir/stem+suffix; NULL when it does not exist. */
static char *read_golden(const char *stem, const char *suffix, size_t *len)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s%s", golden_dir(), stem, suffix);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lx_buf b;
    lx_buf_init(&b, 1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        cr_assert_eq(lx_buf_append(&b, tmp, n), LX_OK);
    fclose(f);
    *len = b.len;
    return b.data ? lx_buf_detach(&b, NULL) : strdup("");
}

/* Compares got with stem+suffix, or writes it there under LX_GOLDEN_WRITE. */
static void expect_golden(const char *stem, const char *suffix, const lx_buf *got)
{
    if (getenv("LX_GOLDEN_WRITE")) {
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s%s", golden_dir(), stem, suffix);
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "%s", path);
        fwrite(got->data, 1, got->len, f);
        fclose(f);
        return;
    }
    size_t want_len;
    char *want = read_golden(stem, suffix, &want_len);
    cr_assert_not_null(want, "%s: no %s", stem, suffix);
    cr_expect(got->len == want_len && memcmp(got->data, want, want_len) == 0,
              "%s:\n got: %.*s\nwant: %.*s", stem, (int)got->len, got->data, (int)want_len, want);
    free(want);
}

/* Calls check on the stem of every file in the golden dir ending in suffix. */
static int each_golden(const char *suffix, void (*check)(const char *stem))
{
    DIR *d = opendir(golden_dir());
    cr_assert_not_null(d, "no golden dir %s", golden_dir());
    struct dirent *e;
    int n = 0;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        char stem[256];
        snprintf(stem, sizeof(stem), "%.*s", (int)(len - sl), e->d_name);
        check(stem);
        n++;
    }
    closedir(d);
    return n;
}

static void must_be_json(const char *what, const char *p, size_t n)
{
    lx_json j;
    cr_expect_eq(lx_json_parse(&j, p, n, &arena, 64), LX_JSON_OK, "%s: not JSON: %.*s", what,
                 (int)n, p);
}

/* ---- requests ------------------------------------------------------------ */

static void decode_ok(struct lx_ir_request *req, struct lx_chat_ir_extra *x, const char *body,
                      size_t len)
{
    struct lx_resp_fault f;
    cr_assert_eq(lx_chat_ir_request_decode(req, x, body, len, &arena, 64, &f), LX_OK,
                 "%.*s: %s (%s)", (int)len, body, f.message, f.param);
}

static void check_request(const char *stem)
{
    size_t in_len;
    char *in = read_golden(stem, ".chatreq.json", &in_len);
    cr_assert_not_null(in, "%s", stem);
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    decode_ok(&req, &x, in, in_len);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_ir_request_encode(&req, &opts, &out), LX_OK, "%s", stem);
    expect_golden(stem, ".respreq.json", &out);
    must_be_json(stem, out.data, out.len);
    lx_buf_release(&out);
    free(in);
}

Test(reverse, golden_requests)
{
    int n = each_golden(".chatreq.json", check_request);
    cr_assert_geq(n, 10, "only %d golden requests", n);
}

Test(reverse, request_extra_and_ir)
{
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"d\"},"
        "{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"}],"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":5,"
        "\"max_completion_tokens\":9,\"top_k\":40}";
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    decode_ok(&req, &x, body, sizeof(body) - 1);
    cr_expect(x.include_usage);
    cr_expect(req.stream);
    cr_expect(lx_ir_lit_eq(req.instructions, "d"));
    cr_assert_eq(req.nitems, 2);
    cr_expect_eq(req.items[0].role, LX_IR_ROLE_SYSTEM);
    cr_expect(lx_str_eq(req.max_output_tokens, LX_STR_LIT("9")));
    cr_expect_eq(req.store, LX_IR_FALSE);
    cr_assert_eq(req.nextras, 1);
    cr_expect_str_eq(req.extras[0].key, "top_k");
    /* include_usage means nothing without stream */
    static const char plain[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                "\"u\"}],\"stream_options\":{\"include_usage\":true}}";
    decode_ok(&req, &x, plain, sizeof(plain) - 1);
    cr_expect_not(x.include_usage);
}

Test(reverse, request_encode_fails_at_the_cap)
{
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"long enough\"}]}";
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    decode_ok(&req, &x, body, sizeof(body) - 1);
    lx_buf out;
    lx_buf_init(&out, 24);
    cr_expect_eq(lx_resp_ir_request_encode(&req, &opts, &out), LX_ERR);
    lx_buf_release(&out);
}

Test(reverse, request_keeps_model_without_options)
{
    static const char body[] =
        "{\"model\":\"m\\u00e9\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}]}";
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    decode_ok(&req, &x, body, sizeof(body) - 1);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_resp_ir_request_encode(&req, NULL, &out), LX_OK);
    static const char want[] = "{\"model\":\"m\\u00e9\",\"input\":[{\"type\":\"message\",\"role\":"
                               "\"user\",\"content\":\"u\"}],\"store\":false}";
    cr_expect_str_eq(out.data, want);
    lx_buf_release(&out);
}

/* ---- request faults --------------------------------------------------------- */

struct fault_case {
    const char *body;
    const char *param;
    const char *code;
};

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"

static const struct fault_case fault_cases[] = {
    {"[]", "", NULL},
    {"{\"model\":", "", NULL},
    {"{" MSGS "}", "model", "missing_required_parameter"},
    {"{\"model\":\"\"," MSGS "}", "model", "missing_required_parameter"},
    {"{\"model\":7," MSGS "}", "model", "invalid_type"},
    {"{\"model\":\"m\"}", "messages", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[]}", "messages", "empty_array"},
    {"{\"model\":\"m\",\"messages\":{}}", "messages", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "messages[0]", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "messages[0].role",
     "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\",\"content\":\"x\"}]}",
     "messages[0].role", "unsupported_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].content",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":3}]}", "messages[0].content",
     "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
     "messages[0].content[0].text", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
     "messages[0].content[0].type", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
     "\"input_audio\":{\"data\":\"x\",\"format\":\"wav\"}}]}]}",
     "messages[0].content[0].type", "unsupported_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
     "messages[0].content[0].image_url", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"detail\":\"low\"}}]}]}",
     "messages[0].content[0].image_url.url", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"u\"}}]}]}",
     "messages[0].content[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\"}]}", "messages[0].content",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":null}]}",
     "messages[0].content", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
     "messages[0].tool_calls[0].id", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]}]}",
     "messages[0].tool_calls[0].function.arguments", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"custom\",\"custom\":{\"name\":\"f\",\"input\":\"x\"}}]}]}",
     "messages[0].tool_calls[0].type", "unsupported_value"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}",
     "messages[0].tool_calls", "invalid_type"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}",
     "messages[0].tool_call_id", "missing_required_parameter"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\"}]}",
     "messages[0].content", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tools\":[{\"type\":\"function\"}]}", "tools[0].function",
     "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
     "tools[0].function.name", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
     "\"parameters\":[]}}]}",
     "tools[0].function.parameters", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":\"f\"}}]}",
     "tools[0].type", "unsupported_value"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":\"any\"}", "tool_choice", "invalid_value"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":true}", "tool_choice", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":{\"type\":\"function\"}}", "tool_choice.function",
     "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":{\"type\":\"function\",\"function\":{}}}",
     "tool_choice.function.name", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":{\"type\":\"allowed_tools\"}}",
     "tool_choice.allowed_tools", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{"
     "\"mode\":\"none\",\"tools\":[]}}}",
     "tool_choice.allowed_tools.mode", "invalid_value"},
    {"{\"model\":\"m\"," MSGS ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{"
     "\"mode\":\"auto\",\"tools\":[{\"type\":\"function\"}]}}}",
     "tool_choice.allowed_tools.tools[0].function", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"response_format\":{\"type\":\"xml\"}}", "response_format.type",
     "invalid_value"},
    {"{\"model\":\"m\"," MSGS ",\"response_format\":{\"type\":\"json_schema\"}}",
     "response_format.json_schema", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
     "\"schema\":{}}}}",
     "response_format.json_schema.name", "missing_required_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"response_format\":\"json\"}", "response_format", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"max_tokens\":1.5}", "max_tokens", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"max_completion_tokens\":\"9\"}", "max_completion_tokens",
     "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"temperature\":\"hot\"}", "temperature", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"reasoning_effort\":1}", "reasoning_effort", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"stream\":\"yes\"}", "stream", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"stream_options\":{\"include_usage\":1}}",
     "stream_options.include_usage", "invalid_type"},
    {"{\"model\":\"m\"," MSGS ",\"n\":2}", "n", "unsupported_value"},
    {"{\"model\":\"m\"," MSGS ",\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}}", "audio",
     "unsupported_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"functions\":[]}", "functions", "unsupported_parameter"},
    {"{\"model\":\"m\"," MSGS ",\"web_search_options\":{}}", "web_search_options",
     "unsupported_parameter"},
    {"{\"model\":\"m\",\"model\":\"n\"," MSGS "}", "model", "duplicate_key"},
    {"{\"model\":\"m\"," MSGS ",\"metadata\":[]}", "metadata", "invalid_type"},
};

Test(reverse, request_faults)
{
    for (size_t k = 0; k < LX_ARRAY_LEN(fault_cases); k++) {
        const struct fault_case *c = &fault_cases[k];
        struct lx_ir_request req;
        struct lx_chat_ir_extra x;
        struct lx_resp_fault f;
        int rc = lx_chat_ir_request_decode(&req, &x, c->body, strlen(c->body), &arena, 64, &f);
        cr_expect_eq(rc, LX_ERR, "%s: accepted", c->body);
        cr_expect_str_eq(f.param, c->param, "%s: %s", c->body, f.message);
        if (c->code)
            cr_expect(f.code && strcmp(f.code, c->code) == 0, "%s: code %s, want %s", c->body,
                      f.code ? f.code : "(null)", c->code);
        else
            cr_expect_null(f.code, "%s", c->body);
        cr_expect_neq(f.message[0], '\0', "%s: no message", c->body);
    }
}

Test(reverse, fault_messages_in_openai_wording)
{
    static const char body[] = "{\"model\":\"m\"," MSGS ",\"top_p\":\"a\"}";
    struct lx_ir_request req;
    struct lx_chat_ir_extra x;
    struct lx_resp_fault f;
    cr_assert_eq(lx_chat_ir_request_decode(&req, &x, body, sizeof(body) - 1, &arena, 64, &f),
                 LX_ERR);
    cr_expect_str_eq(f.message,
                     "Invalid type for 'top_p': expected a number, but got a string instead.");
    static const char empty[] = "{\"model\":\"m\",\"messages\":[]}";
    cr_assert_eq(lx_chat_ir_request_decode(&req, &x, empty, sizeof(empty) - 1, &arena, 64, &f),
                 LX_ERR);
    cr_expect_str_eq(f.message, "Invalid 'messages': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.");
}

/* ---- results ------------------------------------------------------------------ */

static void check_result(const char *stem)
{
    size_t in_len;
    char *in = read_golden(stem, ".respobj.json", &in_len);
    cr_assert_not_null(in, "%s", stem);
    struct lx_ir_result res;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_ir_result_decode(&res, in, in_len, &arena, 64, &f), LX_OK, "%s: %s", stem,
                 f.message);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_chat_ir_completion_write(&res, &meta, &out), LX_OK, "%s", stem);
    expect_golden(stem, ".chatcmpl.json", &out);
    must_be_json(stem, out.data, out.len);
    lx_buf_release(&out);
    free(in);
}

Test(reverse, golden_results)
{
    int n = each_golden(".respobj.json", check_result);
    cr_assert_geq(n, 6, "only %d golden results", n);
}

Test(reverse, result_failed_and_not_a_response)
{
    struct lx_ir_result res;
    struct lx_resp_fault f;
    static const char failed[] =
        "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"failed\",\"error\":{\"code\":"
        "\"server_error\",\"message\":\"The model \\\"crashed\\\".\"},\"output\":[]}";
    cr_expect_eq(lx_resp_ir_result_decode(&res, failed, sizeof(failed) - 1, &arena, 64, &f),
                 LX_ERR);
    cr_expect_str_eq(f.message, "The model \"crashed\".");
    cr_expect_str_eq(f.code, "server_error");
    static const char *const bad[] = {"nope", "[]", "{\"object\":\"response\"}", "{\"output\":[1]}",
                                      "{\"output\":[{\"type\":\"function_call\",\"name\":\"f\"}]}"};
    for (size_t k = 0; k < LX_ARRAY_LEN(bad); k++) {
        cr_expect_eq(lx_resp_ir_result_decode(&res, bad[k], strlen(bad[k]), &arena, 64, &f), LX_ERR,
                     "%s", bad[k]);
        cr_expect_eq(f.message[0], '\0', "%s", bad[k]);
    }
}

Test(reverse, completion_write_fails_at_the_cap)
{
    static const char body[] = "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
                               "\"content\":[{\"type\":\"output_text\",\"text\":\"hello\"}]}]}";
    struct lx_ir_result res;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_ir_result_decode(&res, body, sizeof(body) - 1, &arena, 64, &f), LX_OK);
    lx_buf out;
    lx_buf_init(&out, 40);
    cr_expect_eq(lx_chat_ir_completion_write(&res, &meta, &out), LX_ERR);
    lx_buf_release(&out);
}

/* ---- streams ---------------------------------------------------------------- */

/* Feeds every SSE block of events into s, appending to out. Returns the
 * last return code; *ended_at is the block index that returned 1 first. */
static int feed_events(struct lx_chat_from_resp *s, const char *events, lx_buf *out, int *ended_at)
{
    int rc = LX_OK, k = 0;
    *ended_at = -1;
    const char *p = events;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        lx_str event = LX_STR_NULL, data = LX_STR_NULL;
        const char *line = p;
        while (line < p + n) {
            const char *nl = memchr(line, '\n', (size_t)(p + n - line));
            size_t ll = nl ? (size_t)(nl - line) : (size_t)(p + n - line);
            if (ll >= 7 && memcmp(line, "event: ", 7) == 0)
                event = (lx_str){line + 7, ll - 7};
            else if (ll >= 6 && memcmp(line, "data: ", 6) == 0)
                data = (lx_str){line + 6, ll - 6};
            line += ll + 1;
        }
        if (data.len) {
            rc = lx_chat_from_resp_event(s, event, data, out);
            cr_assert_neq(rc, LX_ERR, "block %d: %.*s", k, (int)data.len, data.ptr);
            if (rc == 1 && *ended_at < 0)
                *ended_at = k;
        }
        k++;
        p += n;
        while (*p == '\n')
            p++;
    }
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every chunk of a stream must be one JSON value (or [DONE]). */
static void chunks_are_json(const char *stem, const lx_buf *out)
{
    const char *p = out->data;
    while (p && *p) {
        cr_assert(strncmp(p, "data: ", 6) == 0, "%s: frame without data: %s", stem, p);
        const char *end = strstr(p, "\n\n");
        cr_assert_not_null(end, "%s: unterminated frame", stem);
        size_t n = (size_t)(end - p - 6);
        if (!(n == 6 && memcmp(p + 6, "[DONE]", 6) == 0))
            must_be_json(stem, p + 6, n);
        p = end + 2;
    }
}

static void check_stream(const char *stem)
{
    size_t in_len;
    char *in = read_golden(stem, ".events.txt", &in_len);
    cr_assert_not_null(in, "%s", stem);
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("test", LX_STR_LIT("\"my-model\""),
                                                        1767000000, ends_with(stem, "_usage"));
    cr_assert_not_null(s);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    int ended_at;
    int rc = feed_events(s, in, &out, &ended_at);
    cr_expect_eq(rc, 1, "%s: the stream did not end", stem);
    expect_golden(stem, ".chunks.txt", &out);
    chunks_are_json(stem, &out);
    lx_buf_release(&out);
    lx_chat_from_resp_free(s);
    free(in);
}

Test(reverse, golden_streams)
{
    int n = each_golden(".events.txt", check_stream);
    cr_assert_geq(n, 10, "only %d golden streams", n);
}

/* Appends the unescaped string at path delta.<key> (or the tool call's
 * arguments) of every chunk to acc. */
static void collect_deltas(const lx_buf *chunks, const char *key, lx_buf *acc)
{
    const char *p = chunks->data;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        lx_json j;
        if (lx_json_parse(&j, p + 6, (size_t)(end - p - 6), &arena, 64) == LX_JSON_OK) {
            int ch = lx_json_get(&j, 0, "choices");
            int delta = lx_json_is_array(&j, ch) && lx_json_size(&j, ch) > 0
                            ? lx_json_get(&j, ch + 1, "delta")
                            : -1;
            int t;
            if (strcmp(key, "arguments") == 0) {
                int calls = lx_json_get(&j, delta, "tool_calls");
                t = lx_json_is_array(&j, calls)
                        ? lx_json_get(&j, lx_json_get(&j, calls + 1, "function"), "arguments")
                        : -1;
            } else {
                t = lx_json_get(&j, delta, key);
            }
            if (lx_json_is_string(&j, t))
                cr_assert_eq(lx_json_unescape(&j, t, acc), LX_OK);
        }
        p = end + 2;
    }
}

/* The same string in the non-streamed completion's message (tool calls'
 * arguments joined), "" when absent or null. */
static void collect_message(const lx_buf *body, const char *key, lx_buf *acc)
{
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, body->data, body->len, &arena, 64), LX_JSON_OK);
    int msg = lx_json_get(&j, lx_json_get(&j, 0, "choices") + 1, "message");
    if (strcmp(key, "arguments") != 0) {
        int t = lx_json_get(&j, msg, key);
        if (lx_json_is_string(&j, t))
            cr_assert_eq(lx_json_unescape(&j, t, acc), LX_OK);
        return;
    }
    int calls = lx_json_get(&j, msg, "tool_calls");
    int n = lx_json_is_array(&j, calls) ? lx_json_size(&j, calls) : 0, i = calls + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(&j, i)) {
        int t = lx_json_get(&j, lx_json_get(&j, i, "function"), "arguments");
        cr_assert_eq(lx_json_unescape(&j, t, acc), LX_OK);
    }
}

/* For a stream that completes, the terminal event's response object read
 * as a non-streamed answer must say what the deltas said. */
static void check_stream_matches_result(const char *stem)
{
    size_t in_len;
    char *in = read_golden(stem, ".events.txt", &in_len);
    const char *term = strstr(in, "\"type\":\"response.completed\"");
    if (!term)
        term = strstr(in, "\"type\":\"response.incomplete\"");
    if (!term) {
        free(in);
        return;
    }
    const char *line = term;
    while (line > in && line[-1] != '\n')
        line--;
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line - 6) : strlen(line + 6);
    struct lx_ir_result res;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_ir_result_decode(&res, line + 6, n, &arena, 64, &f), LX_OK, "%s", stem);
    lx_buf whole, chunks;
    lx_buf_init(&whole, 1 << 20);
    lx_buf_init(&chunks, 1 << 20);
    cr_assert_eq(lx_chat_ir_completion_write(&res, &meta, &whole), LX_OK);
    struct lx_chat_from_resp *s =
        lx_chat_from_resp_new("test", LX_STR_LIT("\"my-model\""), 1767000000, false);
    int ended_at;
    feed_events(s, in, &chunks, &ended_at);
    static const char *const keys[] = {"content", "reasoning_content", "refusal", "arguments"};
    for (size_t k = 0; k < LX_ARRAY_LEN(keys); k++) {
        lx_buf a, b;
        lx_buf_init(&a, 1 << 20);
        lx_buf_init(&b, 1 << 20);
        collect_deltas(&chunks, keys[k], &a);
        collect_message(&whole, keys[k], &b);
        cr_expect(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0),
                  "%s: %s streamed '%.*s', whole '%.*s'", stem, keys[k], (int)a.len, a.data,
                  (int)b.len, b.data);
        lx_buf_release(&a);
        lx_buf_release(&b);
    }
    /* and the same finish_reason */
    char want[64];
    snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", lx_chat_ir_finish_reason(&res));
    cr_expect_not_null(strstr(chunks.data, want), "%s: no %s", stem, want);
    lx_chat_from_resp_free(s);
    lx_buf_release(&whole);
    lx_buf_release(&chunks);
    free(in);
}

Test(reverse, stream_deltas_equal_the_whole_answer)
{
    each_golden(".events.txt", check_stream_matches_result);
}

Test(reverse, stream_ignores_events_after_the_end)
{
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("x", LX_STR_LIT("\"m\""), 1, false);
    lx_buf out;
    lx_buf_init(&out, 4096);
    static const char done[] = "{\"type\":\"response.completed\",\"response\":{\"status\":"
                               "\"completed\",\"output\":[]}}";
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_NULL, LX_STR_LIT(done), &out), 1);
    size_t len = out.len;
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_NULL, LX_STR_LIT("[DONE]"), &out), 1);
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_LIT("response.output_text.delta"),
                                         LX_STR_LIT("{\"delta\":\"late\"}"), &out),
                 1);
    cr_expect_eq(lx_chat_from_resp_fail(s, "x", "y", &out), 1);
    cr_expect_eq(out.len, len);
    lx_buf_release(&out);
    lx_chat_from_resp_free(s);
}

Test(reverse, stream_fail_and_early_done)
{
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("x", LX_STR_LIT("\"m\""), 1, true);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_expect_eq(lx_chat_from_resp_fail(s, "upstream_timeout", "Timed \"out\".", &out), LX_OK);
    cr_expect_str_eq(out.data, "data: {\"error\":{\"message\":\"Timed \\\"out\\\".\",\"type\":"
                               "\"server_error\",\"param\":null,\"code\":\"upstream_timeout\"}}"
                               "\n\n");
    lx_chat_from_resp_free(s);
    lx_buf_reset(&out);
    s = lx_chat_from_resp_new("x", LX_STR_LIT("\"m\""), 1, true);
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_NULL, LX_STR_LIT("[DONE]"), &out), 1);
    cr_expect_str_eq(out.data, "data: {\"error\":{\"message\":\"The backend ended the stream "
                               "before it was complete.\",\"type\":\"server_error\",\"param\":"
                               "null,\"code\":\"upstream_incomplete\"}}\n\n");
    lx_chat_from_resp_free(s);
    lx_chat_from_resp_free(NULL);
    lx_buf_release(&out);
}

Test(reverse, stream_malformed_and_cap_keep_out_whole)
{
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("x", LX_STR_LIT("\"m\""), 1, false);
    lx_buf out;
    lx_buf_init(&out, 200);
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_NULL, LX_STR_LIT("{not json"), &out), LX_ERR);
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_LIT("response.created"),
                                         LX_STR_LIT("{\"type\":\"response.created\"}"), &out),
                 LX_OK);
    size_t len = out.len;
    cr_expect_gt(len, 0);
    /* a delta too big for what is left of the cap: nothing of it is written */
    static const char big[] =
        "{\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"0123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789\"}";
    cr_expect_eq(lx_chat_from_resp_event(s, LX_STR_NULL, LX_STR_LIT(big), &out), LX_ERR);
    cr_expect_eq(out.len, len);
    cr_expect_eq(out.data[len], '\0');
    lx_buf_release(&out);
    lx_chat_from_resp_free(s);
}

Test(reverse, stream_tool_call_cap)
{
    struct lx_chat_from_resp *s = lx_chat_from_resp_new("x", LX_STR_LIT("\"m\""), 1, false);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    char ev[256];
    int rc = LX_OK;
    for (int k = 0; k <= LX_CHAT_FROM_RESP_MAX_CALLS && rc == LX_OK; k++) {
        int n = snprintf(ev, sizeof(ev),
                         "{\"type\":\"response.output_item.added\",\"output_index\":%d,\"item\":{"
                         "\"type\":\"function_call\",\"call_id\":\"c%d\",\"name\":\"f\"}}",
                         k, k);
        rc = lx_chat_from_resp_event(s, LX_STR_NULL, (lx_str){ev, (size_t)n}, &out);
        if (k < LX_CHAT_FROM_RESP_MAX_CALLS)
            cr_expect_eq(rc, LX_OK, "call %d", k);
    }
    cr_expect_eq(rc, LX_ERR);
    lx_buf_release(&out);
    lx_chat_from_resp_free(s);
}
