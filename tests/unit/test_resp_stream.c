/*
 * test_resp_stream.c — unit tests for src/dialect/resp_stream.c: golden
 * files in golden/resp_stream/ (exact bytes in, exact bytes out) —
 * NN_name.chunks (one chat.completion.chunk per line; a line "!fail" makes
 * the backend fail there) -> NN_name.<mode>.events for mode items, openai
 * or or (the reasoning event modes); the request is NN_name.req.json when
 * present, else a default —, the stream's own invariants checked with
 * cJSON over every golden (sequence numbers, `.done` == concatenated
 * deltas, terminal output == the output_item.done items), the same
 * input split differently, and the upstream's SSE bytes split at every
 * position through the SSE reader giving the golden events exactly.
 */
#include <criterion/criterion.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect/resp_stream.h"
#include "upstream/sse.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 16 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(resp_stream, .init = setup, .fini = teardown);

static const struct lx_resp_meta meta = {"resp_test", 1767000000, 0};
static const char default_req[] = "{\"model\":\"qwen3-8b\",\"input\":\"Hi\"}";

static const struct {
    const char *name;
    enum lx_resp_reasoning_events mode;
} modes[] = {
    {"items", LX_RESP_REASONING_ITEMS},
    {"openai", LX_RESP_REASONING_OPENAI},
    {"or", LX_RESP_REASONING_OPEN_RESPONSES},
};

static const char *golden_dir(void)
{
    static char dir[4096];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 0;
    snprintf(dir, sizeof(dir), "%.*s%sgolden/resp_stream", (int)n, file, slash ? "/" : "");
    return dir;
}

static char *read_golden(const char *stem, const char *suffix, size_t *len)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s%s", golden_dir(), stem, suffix);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lx_buf b;
    lx_buf_init(&b, 1 << 22);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        cr_assert_eq(lx_buf_append(&b, tmp, n), LX_OK);
    fclose(f);
    *len = b.len;
    return b.data ? lx_buf_detach(&b, NULL) : strdup("");
}

static void decode_req(struct lx_ir_request *req, const char *stem)
{
    size_t len = 0;
    char *body = stem ? read_golden(stem, ".req.json", &len) : NULL;
    const char *b = body ? body : default_req;
    len = body ? len : sizeof(default_req) - 1;
    /* the IR points into the body: keep it in the arena */
    char *copy = lx_arena_strndup(&arena, b, len);
    free(body);
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_request_decode(req, copy, len, &arena, 64, &f), LX_OK, "%s", f.message);
}

/* Runs the chunk lines of text (each line one chunk, "!fail" a backend
 * failure) through a stream, appending every event to out. */
static void run_lines(const struct lx_ir_request *req, char *text,
                      enum lx_resp_reasoning_events mode, lx_buf *out)
{
    struct lx_resp_stream *s = lx_resp_stream_new(req, &meta, "test", mode);
    cr_assert_not_null(s);
    cr_assert_eq(lx_resp_stream_begin(s, out), LX_OK);
    bool failed = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "!fail") == 0) {
            cr_assert_eq(
                lx_resp_stream_fail(s, "server_error", "The backend closed the stream.", out),
                LX_OK);
            failed = true;
            break;
        }
        cr_assert_eq(lx_resp_stream_chunk(s, line, strlen(line), out), LX_OK, "%s", line);
    }
    if (!failed)
        cr_assert_eq(lx_resp_stream_finish(s, 1767000001, out), LX_OK);
    lx_resp_stream_free(s);
}

static void run_golden(const char *stem, enum lx_resp_reasoning_events mode, lx_buf *out)
{
    size_t len;
    char *chunks = read_golden(stem, ".chunks", &len);
    cr_assert_not_null(chunks, "%s", stem);
    struct lx_ir_request req;
    size_t rl;
    char *has_req = read_golden(stem, ".req.json", &rl);
    decode_req(&req, has_req ? stem : NULL);
    free(has_req);
    run_lines(&req, chunks, mode, out);
    free(chunks);
}

static int golden_checks;

static void check_golden(const char *stem)
{
    int found = 0;
    for (size_t k = 0; k < LX_ARRAY_LEN(modes); k++) {
        char suffix[32];
        snprintf(suffix, sizeof(suffix), ".%s.events", modes[k].name);
        size_t want_len;
        char *want = read_golden(stem, suffix, &want_len);
        if (!want)
            continue;
        found++;
        lx_buf out;
        lx_buf_init(&out, 1 << 24);
        run_golden(stem, modes[k].mode, &out);
        cr_expect(out.len == want_len && memcmp(out.data, want, want_len) == 0,
                  "%s%s:\n got: %.*s\nwant: %.*s", stem, suffix, (int)out.len, out.data,
                  (int)want_len, want);
        lx_buf_release(&out);
        free(want);
        golden_checks++;
    }
    cr_expect_gt(found, 0, "%s: no .events file", stem);
}

static int each_golden(void (*check)(const char *stem))
{
    DIR *d = opendir(golden_dir());
    cr_assert_not_null(d, "no golden dir %s", golden_dir());
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 7 || strcmp(e->d_name + len - 7, ".chunks") != 0)
            continue;
        char stem[256];
        snprintf(stem, sizeof(stem), "%.*s", (int)(len - 7), e->d_name);
        check(stem);
        n++;
    }
    closedir(d);
    return n;
}

Test(resp_stream, golden_streams)
{
    golden_checks = 0;
    int n = each_golden(check_golden);
    cr_assert_geq(n, 10, "only %d golden streams", n);
    cr_assert_geq(golden_checks, 12, "only %d golden event files", golden_checks);
}

/* ---- invariants, checked with cJSON ---------------------------------------- */

struct acc {
    char key[64];
    lx_buf text;
};

/* The accumulator for key, created on first use. */
static lx_buf *acc_get(struct acc *a, int *n, const char *key)
{
    for (int k = 0; k < *n; k++)
        if (strcmp(a[k].key, key) == 0)
            return &a[k].text;
    cr_assert_lt(*n, 64);
    snprintf(a[*n].key, sizeof(a[*n].key), "%s", key);
    lx_buf_init(&a[*n].text, 1 << 22);
    return &a[(*n)++].text;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int int_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* The text of the value a .done event or an item carries for acc key. */
static void expect_acc(struct acc *a, int *n, const char *key, const char *full, const char *what)
{
    cr_assert_not_null(full, "%s: no value", what);
    lx_buf *b = acc_get(a, n, key);
    cr_expect(b->len == strlen(full) && memcmp(b->data ? b->data : "", full, b->len) == 0,
              "%s %s: deltas '%.*s' != done '%s'", what, key, (int)b->len, b->data, full);
}

/* Checks one event stream: numbering, framing, deltas against .done
 * values, output_item.done items against the terminal response's output,
 * and that texts in that output equal the concatenated deltas. */
static void check_invariants(const char *what, const lx_buf *out)
{
    struct acc acc[64];
    int nacc = 0;
    cJSON *items[64] = {0};
    cJSON *terminal = NULL;
    int seq = 0;
    bool done_marker = false;
    char *copy = strndup(out->data, out->len);
    for (char *ev = copy; *ev;) {
        char *end = strstr(ev, "\n\n");
        cr_assert_not_null(end, "%s: unterminated event", what);
        *end = '\0';
        if (strcmp(ev, "data: [DONE]") == 0) {
            done_marker = true;
            cr_expect_eq(end[2], '\0', "%s: bytes after [DONE]", what);
            break;
        }
        cr_assert_eq(strncmp(ev, "event: ", 7), 0, "%s: %s", what, ev);
        char *nl = strchr(ev, '\n');
        cr_assert_not_null(nl);
        *nl = '\0';
        cr_assert_eq(strncmp(nl + 1, "data: ", 6), 0);
        cJSON *j = cJSON_Parse(nl + 7);
        cr_assert_not_null(j, "%s: bad JSON %s", what, nl + 7);
        const char *type = str_of(j, "type");
        cr_assert_not_null(type);
        cr_expect_str_eq(type, ev + 7, "%s: event name and type differ", what);
        cr_expect_eq(int_of(j, "sequence_number"), seq, "%s: sequence at %s", what, type);
        cr_expect_null(terminal, "%s: %s after the terminal event", what, type);
        seq++;
        int oi = int_of(j, "output_index"), ci = int_of(j, "content_index");
        char key[64];
        snprintf(key, sizeof(key), "%d/%d", oi, ci);
        const char *delta = str_of(j, "delta");
        if (delta && strstr(type, ".delta"))
            cr_assert_eq(lx_buf_append_cstr(acc_get(acc, &nacc, key), delta), LX_OK);
        if (strcmp(type, "response.output_text.done") == 0 ||
            strcmp(type, "response.reasoning_text.done") == 0 ||
            strcmp(type, "response.reasoning.done") == 0)
            expect_acc(acc, &nacc, key, str_of(j, "text"), what);
        if (strcmp(type, "response.refusal.done") == 0)
            expect_acc(acc, &nacc, key, str_of(j, "refusal"), what);
        if (strcmp(type, "response.function_call_arguments.done") == 0) {
            expect_acc(acc, &nacc, key, str_of(j, "arguments"), what);
            cr_expect_not_null(str_of(j, "name"), "%s: arguments.done without name", what);
        }
        if (strcmp(type, "response.custom_tool_call_input.done") == 0)
            expect_acc(acc, &nacc, key, str_of(j, "input"), what);
        if (strcmp(type, "response.output_item.done") == 0) {
            cr_assert(oi >= 0 && oi < 64 && !items[oi], "%s: item %d twice", what, oi);
            items[oi] = cJSON_DetachItemFromObjectCaseSensitive(j, "item");
        }
        if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0 ||
            strcmp(type, "response.failed") == 0)
            terminal = cJSON_DetachItemFromObjectCaseSensitive(j, "response");
        cJSON_Delete(j);
        ev = end + 2;
    }
    cr_expect(done_marker, "%s: no [DONE]", what);
    cr_assert_not_null(terminal, "%s: no terminal event", what);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(terminal, "output");
    int n = cJSON_GetArraySize(output);
    for (int k = 0; k < 64; k++) {
        if (k < n) {
            const cJSON *it = cJSON_GetArrayItem(output, k);
            cr_expect(items[k] && cJSON_Compare(it, items[k], true), "%s: output[%d] differs", what,
                      k);
            /* the output's texts are the concatenated deltas */
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
            for (int c = 0; c < cJSON_GetArraySize(content); c++) {
                const cJSON *part = cJSON_GetArrayItem(content, c);
                char key[64];
                snprintf(key, sizeof(key), "%d/%d", k, c);
                const char *t =
                    str_of(part, "text") ? str_of(part, "text") : str_of(part, "refusal");
                int before = nacc;
                lx_buf *b = acc_get(acc, &nacc, key);
                /* reasoning in items mode streams no deltas */
                if (before != nacc)
                    continue;
                cr_expect(b->len == strlen(t) && memcmp(b->data, t, b->len) == 0,
                          "%s: output[%d] part %d", what, k, c);
            }
        } else {
            cr_expect_null(items[k], "%s: item %d not in the output", what, k);
        }
        cJSON_Delete(items[k]);
    }
    cJSON_Delete(terminal);
    for (int k = 0; k < nacc; k++)
        lx_buf_release(&acc[k].text);
    free(copy);
}

static void check_golden_invariants(const char *stem)
{
    for (size_t k = 0; k < LX_ARRAY_LEN(modes); k++) {
        lx_buf out;
        lx_buf_init(&out, 1 << 24);
        run_golden(stem, modes[k].mode, &out);
        char what[300];
        snprintf(what, sizeof(what), "%s (%s)", stem, modes[k].name);
        check_invariants(what, &out);
        lx_buf_release(&out);
    }
}

Test(resp_stream, every_golden_keeps_the_invariants)
{
    cr_assert_geq(each_golden(check_golden_invariants), 10);
}

/* ---- the same input split differently -------------------------------------- */

#define CHUNK(delta)                                                                               \
    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":" delta "}]}\n"
#define FINISH(r)                                                                                  \
    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"                \
    "\"finish_reason\":\"" r "\"}]}\n"

/* The terminal event's response object of a run (from "response" on). */
static char *final_object(const char *chunks, enum lx_resp_reasoning_events mode)
{
    struct lx_ir_request req;
    decode_req(&req, NULL);
    char *text = strdup(chunks);
    lx_buf out;
    lx_buf_init(&out, 1 << 22);
    run_lines(&req, text, mode, &out);
    free(text);
    char *last = NULL;
    for (char *p = strstr(out.data, "\"response\":{"); p; p = strstr(p + 1, "\"response\":{"))
        last = p;
    cr_assert_not_null(last);
    char *r = strdup(last);
    lx_buf_release(&out);
    return r;
}

Test(resp_stream, split_differently_same_final_object)
{
    static const char one[] = CHUNK("{\"reasoning_content\":\"Think \\\"hard\\\".\"}")
        CHUNK("{\"content\":\"Hello, w\\u00f6rld!\\n\"}")
            CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\","
                  "\"arguments\":\"{\\\"a\\\":[1,2]}\"}}]}") FINISH("tool_calls");
    static const char many[] =
        CHUNK("{\"reasoning_content\":\"Thi\"}") CHUNK("{\"reasoning_content\":\"nk \\\"\"}")
            CHUNK("{\"reasoning_content\":\"hard\\\".\"}") CHUNK("{\"content\":\"Hello\"}")
                CHUNK("{\"content\":\", w\\u00f6\"}") CHUNK("{\"content\":\"rld!\\n\"}")
                    CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":"
                          "\"f\"}}]}")
                        CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                              "\"{\\\"a\\\":\"}}]}")
                            CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                                  "\"[1,2]}\"}}]}") FINISH("tool_calls");
    for (size_t k = 0; k < LX_ARRAY_LEN(modes); k++) {
        char *a = final_object(one, modes[k].mode);
        char *b = final_object(many, modes[k].mode);
        cr_expect_str_eq(a, b, "%s", modes[k].name);
        cr_expect_not_null(strstr(a, "\"text\":\"Hello, w\\u00f6rld!\\n\""), "%s", a);
        free(a);
        free(b);
    }
}

/* A streamed response ends with the object the non-streamed path writes
 * for the same completion. */
Test(resp_stream, streamed_and_non_streamed_agree)
{
    static const char chunks[] =
        CHUNK("{\"reasoning_content\":\"Hm.\"}") CHUNK("{\"content\":\"Yes.\"}")
            CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\","
                  "\"arguments\":\"{}\"}}]}") FINISH("tool_calls");
    static const char completion[] =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":"
        "\"Hm.\",\"content\":\"Yes.\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}";
    struct lx_ir_request req;
    decode_req(&req, NULL);
    struct lx_ir_result res;
    cr_assert_eq(lx_resp_chat_result_decode(&res, &req, completion, sizeof(completion) - 1, "test",
                                            &arena, 64),
                 LX_OK);
    struct lx_resp_meta m = meta;
    m.completed_at = 1767000001;
    lx_buf want;
    lx_buf_init(&want, 1 << 20);
    cr_assert_eq(lx_resp_response_write(&req, &res, &m, &want), LX_OK);
    char *got = final_object(chunks, LX_RESP_REASONING_ITEMS);
    /* "response":{...}}\n\ndata: [DONE]\n\n */
    cr_assert_eq(strncmp(got + strlen("\"response\":"), want.data, want.len), 0,
                 "\n got: %s\nwant: %s", got, want.data);
    cr_expect_str_eq(got + strlen("\"response\":") + want.len, "}\n\ndata: [DONE]\n\n");
    free(got);
    lx_buf_release(&want);
}

/* ---- errors, caps, the result --------------------------------------------------- */

Test(resp_stream, bad_chunks_are_errors_and_leave_out_whole)
{
    struct lx_ir_request req;
    decode_req(&req, NULL);
    struct lx_resp_stream *s = lx_resp_stream_new(&req, &meta, "t", LX_RESP_REASONING_ITEMS);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_stream_chunk(s, "{}", 2, &out), LX_ERR); /* before begin */
    cr_assert_eq(lx_resp_stream_begin(s, &out), LX_OK);
    cr_assert_eq(lx_resp_stream_begin(s, &out), LX_ERR);
    size_t len = out.len;
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"id\":\"x\"}",
        "{\"error\":{\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[7]}}]}",
    };
    for (size_t k = 0; k < LX_ARRAY_LEN(bad); k++)
        cr_expect_eq(lx_resp_stream_chunk(s, bad[k], strlen(bad[k]), &out), LX_ERR, "%s", bad[k]);
    cr_expect_eq(out.len, len);
    /* usage alone is fine; going back to an earlier tool call is not */
    static const char usage[] = "{\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
                                "\"completion_tokens\":3}}";
    cr_expect_eq(lx_resp_stream_chunk(s, usage, sizeof(usage) - 1, &out), LX_OK);
    static const char c1[] =
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
        "\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}";
    static const char c0[] = "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                             "\"function\":{\"arguments\":\"x\"}}]}}]}";
    cr_expect_eq(lx_resp_stream_chunk(s, c1, sizeof(c1) - 1, &out), LX_OK);
    cr_expect_eq(lx_resp_stream_chunk(s, c0, sizeof(c0) - 1, &out), LX_ERR);
    cr_assert_eq(lx_resp_stream_fail(s, NULL, "bad \"chunk\"", &out), LX_OK);
    cr_expect_not_null(strstr(out.data, "\"message\":\"bad \\\"chunk\\\"\""));
    cr_expect_eq(lx_resp_stream_finish(s, 1, &out), LX_ERR);
    cr_expect_eq(lx_resp_stream_fail(s, NULL, "x", &out), LX_ERR);
    const struct lx_ir_result *res = lx_resp_stream_result(s);
    cr_expect_eq(res->status, LX_IR_RESULT_FAILED);
    cr_expect_eq(res->usage.input_tokens, 2);
    cr_expect_eq(res->nitems, 0); /* the open call was not closed */
    lx_resp_stream_free(s);
    lx_buf_release(&out);
}

Test(resp_stream, an_event_past_the_out_cap_is_taken_back_whole)
{
    struct lx_ir_request req;
    decode_req(&req, NULL);
    struct lx_resp_stream *s = lx_resp_stream_new(&req, &meta, "t", LX_RESP_REASONING_ITEMS);
    lx_buf big, small;
    lx_buf_init(&big, 1 << 20);
    cr_assert_eq(lx_resp_stream_begin(s, &big), LX_OK);
    lx_buf_init(&small, 300);
    static const char c[] = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}";
    /* item added (fits) + part added (fits?) + delta: whatever fails is whole */
    int rc = lx_resp_stream_chunk(s, c, sizeof(c) - 1, &small);
    cr_expect_eq(rc, LX_ERR);
    cr_expect(small.len == 0 || strcmp(small.data + small.len - 2, "\n\n") == 0, "%s", small.data);
    lx_resp_stream_free(s);
    lx_buf_release(&big);
    lx_buf_release(&small);
}

Test(resp_stream, text_past_the_item_cap_is_an_error)
{
    struct lx_ir_request req;
    decode_req(&req, NULL);
    struct lx_resp_stream *s = lx_resp_stream_new(&req, &meta, "t", LX_RESP_REASONING_ITEMS);
    lx_buf out;
    lx_buf_init(&out, 64 << 20);
    cr_assert_eq(lx_resp_stream_begin(s, &out), LX_OK);
    size_t n = LX_RESP_STREAM_ITEM_CAP / 2 + 16;
    lx_buf chunk;
    lx_buf_init(&chunk, n + 128);
    cr_assert_eq(lx_buf_append_cstr(&chunk, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\""),
                 LX_OK);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(lx_buf_append_char(&chunk, 'a'), LX_OK);
    cr_assert_eq(lx_buf_append_cstr(&chunk, "\"}}]}"), LX_OK);
    cr_expect_eq(lx_resp_stream_chunk(s, chunk.data, chunk.len, &out), LX_OK);
    cr_expect_eq(lx_resp_stream_chunk(s, chunk.data, chunk.len, &out), LX_ERR);
    lx_buf_release(&chunk);
    lx_resp_stream_free(s);
    lx_buf_release(&out);
}

Test(resp_stream, result_after_finish)
{
    struct lx_ir_request req;
    decode_req(&req, NULL);
    struct lx_resp_stream *s = lx_resp_stream_new(&req, &meta, "t", LX_RESP_REASONING_ITEMS);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_stream_begin(s, &out), LX_OK);
    static const char c[] = CHUNK("{\"content\":\"a\"}") FINISH("length");
    char *text = strdup(c);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        cr_assert_eq(lx_resp_stream_chunk(s, line, strlen(line), &out), LX_OK);
    free(text);
    cr_assert_eq(lx_resp_stream_finish(s, 5, &out), LX_OK);
    const struct lx_ir_result *res = lx_resp_stream_result(s);
    cr_expect_eq(res->status, LX_IR_RESULT_INCOMPLETE);
    cr_expect_eq(res->reason, LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS);
    cr_assert_eq(res->nitems, 1);
    cr_expect_eq(res->items[0].status, LX_IR_STATUS_INCOMPLETE);
    cr_expect(lx_ir_lit_eq(res->items[0].parts[0].text, "a"));
    lx_buf arr;
    lx_buf_init(&arr, 1 << 20);
    cr_assert_eq(lx_resp_output_write(res, &arr), LX_OK);
    cr_expect_not_null(strstr(out.data, arr.data));
    lx_buf_release(&arr);
    lx_resp_stream_free(s);
    lx_buf_release(&out);
}

/* ---- the upstream's bytes split at every position ------------------------ */

struct byte_run {
    struct lx_resp_stream *s;
    lx_buf *out;
    bool done;
};

static int on_sse(void *data, const lx_sse_event *ev)
{
    struct byte_run *r = data;
    if (lx_str_eq_cstr(ev->data, "[DONE]")) {
        r->done = true;
        return LX_OK;
    }
    return lx_resp_stream_chunk(r->s, ev->data.ptr, ev->data.len, r->out);
}

/* The chunk lines of a golden as the backend's SSE body ("data: X\n\n"
 * each, then [DONE]); NULL for a golden with a backend failure. */
static char *sse_body(const char *stem, size_t *len)
{
    size_t n;
    char *chunks = read_golden(stem, ".chunks", &n);
    cr_assert_not_null(chunks);
    lx_buf b;
    lx_buf_init(&b, 1 << 22);
    for (char *line = strtok(chunks, "\n"); line; line = strtok(NULL, "\n")) {
        if (strcmp(line, "!fail") == 0) {
            free(chunks);
            lx_buf_release(&b);
            return NULL;
        }
        cr_assert_eq(lx_buf_printf(&b, "data: %s\n\n", line), LX_OK);
    }
    cr_assert_eq(lx_buf_append_cstr(&b, "data: [DONE]\n\n"), LX_OK);
    free(chunks);
    *len = b.len;
    return lx_buf_detach(&b, NULL);
}

static int split_checks;

static void check_splits(const char *stem)
{
    size_t len, want_len, rl;
    char *body = sse_body(stem, &len);
    char *want = read_golden(stem, ".items.events", &want_len);
    if (body == NULL || want == NULL) {
        free(body);
        free(want);
        return;
    }
    struct lx_ir_request req;
    char *has_req = read_golden(stem, ".req.json", &rl);
    decode_req(&req, has_req ? stem : NULL);
    free(has_req);
    for (size_t cut = 0; cut <= len; cut++) {
        lx_buf out;
        lx_buf_init(&out, 1 << 24);
        lx_sse_reader rd;
        lx_sse_init(&rd, 1 << 20);
        struct byte_run r = {lx_resp_stream_new(&req, &meta, "test", LX_RESP_REASONING_ITEMS), &out,
                             false};
        cr_assert_not_null(r.s);
        cr_assert_eq(lx_resp_stream_begin(r.s, &out), LX_OK);
        cr_assert_eq(lx_sse_feed(&rd, body, cut, on_sse, &r), LX_OK, "%s cut %zu", stem, cut);
        cr_assert_eq(lx_sse_feed(&rd, body + cut, len - cut, on_sse, &r), LX_OK, "%s cut %zu", stem,
                     cut);
        cr_assert(r.done, "%s cut %zu: no [DONE]", stem, cut);
        cr_assert_eq(lx_resp_stream_finish(r.s, 1767000001, &out), LX_OK);
        cr_assert(out.len == want_len && memcmp(out.data, want, want_len) == 0,
                  "%s: cut at byte %zu changes the events", stem, cut);
        lx_resp_stream_free(r.s);
        lx_sse_release(&rd);
        lx_buf_release(&out);
        split_checks++;
    }
    free(body);
    free(want);
    lx_arena_reset(&arena);
}

Test(resp_stream, upstream_bytes_split_at_every_position)
{
    split_checks = 0;
    each_golden(check_splits);
    cr_assert_geq(split_checks, 1000, "only %d split points checked", split_checks);
}
