/*
 * test_chat.c — unit tests for src/dialect/chat.c: request reading and
 * type checks, the request rewrite (golden files in golden/chat/: exact
 * bytes in, exact bytes out), stream chunk and response inspection, and
 * error normalisation.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect/chat.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 16 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(chat, .init = setup, .fini = teardown);

/* ---- golden rewrite ----------------------------------------------------- */

static char *golden_dir(void)
{
    static char dir[4096];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 0;
    snprintf(dir, sizeof(dir), "%.*s%sgolden/chat", (int)n, file, slash ? "/" : "");
    return dir;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
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

/* Rewrites one golden input as the proxy does (usage asked for streams)
 * and compares with .out.json. */
static void check_golden(const char *dir, const char *name)
{
    char in_path[4200], out_path[4200];
    snprintf(in_path, sizeof(in_path), "%s/%s", dir, name);
    snprintf(out_path, sizeof(out_path), "%s/%.*s.out.json", dir,
             (int)(strlen(name) - strlen(".in.json")), name);
    size_t in_len, want_len;
    char *in = read_all(in_path, &in_len);
    char *want = read_all(out_path, &want_len);

    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, in, in_len, &arena, 64, &f), LX_OK, "%s: %s", name,
                 f.message);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_chat_request_rewrite(&req, "pinned-model-1", req.stream, &out), LX_OK, "%s",
                 name);
    cr_expect(out.len == want_len && memcmp(out.data, want, want_len) == 0,
              "%s:\n got: %.*s\nwant: %s", name, (int)out.len, out.data, want);

    /* the output is a request the gateway itself would accept */
    struct lx_chat_request again;
    cr_assert_eq(lx_chat_request_read(&again, out.data, out.len, &arena, 64, &f), LX_OK,
                 "%s: rewritten body does not read back: %s", name, f.message);
    cr_expect(lx_json_str_eq(&again.json, again.model, "pinned-model-1"), "%s", name);
    cr_expect_eq(again.stream, req.stream, "%s", name);
    if (req.stream)
        cr_expect(again.usage_asked, "%s: usage not asked", name);
    lx_buf_release(&out);
    free(in);
    free(want);
}

Test(chat, golden_rewrites)
{
    const char *dir = golden_dir();
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no golden dir %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 8 && strcmp(e->d_name + len - 8, ".in.json") == 0) {
            check_golden(dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    cr_assert_geq(n, 15, "only %d golden cases found", n);
}

/* OpenAI answers 400 "The 'stream_options' parameter is only allowed when
 * 'stream' is enabled", so the rewrite must not add it to a request that
 * does not stream, whatever ask_usage says. */
Test(chat, rewrite_non_stream_never_gets_stream_options)
{
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"messages\":[]}",
        "{\"model\":\"m\",\"stream\":false,\"messages\":[]}",
    };
    static const char *const want[] = {
        "{\"model\":\"pinned-model-1\",\"messages\":[]}",
        "{\"model\":\"pinned-model-1\",\"stream\":false,\"messages\":[]}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bodies); i++) {
        struct lx_chat_request req;
        struct lx_chat_fault f;
        cr_assert_eq(lx_chat_request_read(&req, bodies[i], strlen(bodies[i]), &arena, 64, &f),
                     LX_OK);
        lx_buf out;
        lx_buf_init(&out, 4096);
        cr_assert_eq(lx_chat_request_rewrite(&req, "pinned-model-1", true, &out), LX_OK);
        cr_expect_str_eq(out.data, want[i]);
        lx_buf_release(&out);
    }
}

Test(chat, rewrite_escapes_upstream_model)
{
    static const char body[] = "{\"model\":\"m\",\"messages\":[]}";
    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 64, &f), LX_OK);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_chat_request_rewrite(&req, "org/model \"q\"\\\n", false, &out), LX_OK);
    cr_assert_str_eq(out.data, "{\"model\":\"org/model \\\"q\\\"\\\\\\n\",\"messages\":[]}");
    lx_buf_release(&out);
}

Test(chat, rewrite_respects_out_cap)
{
    static const char body[] = "{\"model\":\"m\",\"messages\":[],\"stream\":true}";
    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 64, &f), LX_OK);
    lx_buf out;
    lx_buf_init(&out, 40);
    cr_assert_eq(lx_chat_request_rewrite(&req, "pinned-model-1", true, &out), LX_ERR);
    lx_buf_release(&out);
}

/* ---- request reading ---------------------------------------------------- */

Test(chat, read_fields)
{
    static const char body[] = "{\"model\":\"a\\u0062\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"x\"}],\"stream\":true,\"temperature\":null,"
                               "\"stream_options\":{\"include_usage\":true},\"top_k\":\"any\"}";
    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 64, &f), LX_OK, "%s",
                 f.message);
    cr_assert(lx_json_str_eq(&req.json, req.model, "ab"));
    cr_assert(req.stream);
    cr_assert(req.usage_asked);
    cr_assert(lx_json_is_object(&req.json, req.stream_options));
    cr_assert(lx_json_is_bool(&req.json, req.include_usage));
    cr_assert(lx_json_is_array(&req.json, req.messages));
    cr_assert_eq(lx_json_size(&req.json, req.messages), 1);

    static const char plain[] = "{\"model\":\"m\",\"messages\":[]}";
    cr_assert_eq(lx_chat_request_read(&req, plain, strlen(plain), &arena, 64, &f), LX_OK);
    cr_assert_not(req.stream);
    cr_assert_not(req.usage_asked);
    cr_assert_eq(req.stream_options, -1);
    cr_assert_eq(req.include_usage, -1);
}

struct fault_case {
    const char *body;
    const char *param; /* NULL: no param */
    const char *code;
    const char *in_message; /* a piece the message must contain */
};

static const struct fault_case faults[] = {
    {"{\"model\":\"m\",\"messages\":{}}", "messages", "invalid_type", "'messages'"},
    {"{\"model\":\"m\",\"messages\":\"hi\"}", "messages", "invalid_type", "expected an array"},
    {"{\"model\":\"m\"}", "messages", "missing_required_parameter", "'messages'"},
    {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages", "invalid_value",
     "messages[0]"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},{\"role\":1}]}", "messages",
     "invalid_value", "messages[1]"},
    {"{\"model\":\"m\",\"messages\":[\"user\"]}", "messages", "invalid_value", "messages[0]"},
    {"{\"model\":\"m\",\"messages\":[],\"temperature\":\"0.5\"}", "temperature", "invalid_type",
     "got a string"},
    {"{\"model\":\"m\",\"messages\":[],\"stream\":\"true\"}", "stream", "invalid_type",
     "expected a boolean"},
    {"{\"model\":\"m\",\"messages\":[],\"stream\":1}", "stream", "invalid_type", "got a number"},
    {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":1.5}", "max_tokens", "invalid_type",
     "expected an integer"},
    {"{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"10\"}", "max_tokens", "invalid_type", NULL},
    {"{\"model\":\"m\",\"messages\":[],\"n\":99999999999999999999}", "n", "invalid_type", NULL},
    {"{\"messages\":[]}", "model", "missing_required_parameter", "model"},
    {"{\"model\":\"\",\"messages\":[]}", "model", "invalid_type", NULL},
    {"{\"model\":42,\"messages\":[]}", "model", "invalid_type", "got a number"},
    {"{\"model\":null,\"messages\":[]}", "model", "invalid_type", "got null"},
    {"{\"model\":\"m\",\"messages\":[],\"stream\":true,"
     "\"stream_options\":{\"include_usage\":\"yes\"}}",
     "stream_options.include_usage", "invalid_type", "expected a boolean"},
    {"{\"model\":\"m\",\"messages\":[],\"stream_options\":\"x\"}", "stream_options", "invalid_type",
     "expected an object"},
    {"{\"model\":\"m\",\"messages\":[],\"tools\":{}}", "tools", "invalid_type", "got an object"},
    {"{\"model\":\"m\",\"messages\":[],\"stop\":5}", "stop", "invalid_type",
     "a string or an array"},
    {"{\"model\":\"m\",\"messages\":[],\"tool_choice\":[]}", "tool_choice", "invalid_type",
     "got an array"},
    {"{\"model\":\"m\",\"messages\":[],\"top_p\":true}", "top_p", "invalid_type", "got a boolean"},
    {"{\"model\":\"m\",\"messages\":[],\"user\":1}", "user", "invalid_type", NULL},
    {"[]", NULL, NULL, "JSON object"},
    {"{\"model\":\"m\",", NULL, NULL, "could not parse"},
    {"{\"model\":\"\xff\"}", NULL, NULL, "UTF-8"},
};

Test(chat, read_type_faults)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(faults); i++) {
        const struct fault_case *c = &faults[i];
        struct lx_chat_request req;
        struct lx_chat_fault f;
        memset(&f, 0, sizeof(f));
        int rc = lx_chat_request_read(&req, c->body, strlen(c->body), &arena, 64, &f);
        cr_expect_eq(rc, LX_ERR, "accepted: %s", c->body);
        if (rc != LX_ERR)
            continue;
        if (c->param)
            cr_expect(f.param && strcmp(f.param, c->param) == 0, "%s: param %s, want %s", c->body,
                      f.param ? f.param : "(null)", c->param);
        else
            cr_expect_null(f.param, "%s: param %s", c->body, f.param);
        if (c->code)
            cr_expect(f.code && strcmp(f.code, c->code) == 0, "%s: code %s, want %s", c->body,
                      f.code ? f.code : "(null)", c->code);
        if (c->in_message)
            cr_expect(strstr(f.message, c->in_message) != NULL, "%s: message [%s]", c->body,
                      f.message);
        if (c->param && strcmp(c->code, "invalid_type") == 0)
            cr_expect(strstr(f.message, c->param) != NULL, "message names the param: %s",
                      f.message);
    }
}

Test(chat, read_accepts_null_and_valid_types)
{
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"stream\":null,\"stream_options\":null,\"max_tokens\":null,\"temperature\":1,"
        "\"top_p\":0.5,\"n\":1,\"seed\":-5,\"tools\":[],\"tool_choice\":{\"type\":\"auto\"},"
        "\"stop\":[\"x\"],\"response_format\":{\"type\":\"json_object\"},\"user\":\"u\","
        "\"parallel_tool_calls\":false,\"logprobs\":true,\"top_logprobs\":2,"
        "\"max_completion_tokens\":10,\"presence_penalty\":-1.5,\"frequency_penalty\":0}";
    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 64, &f), LX_OK, "%s",
                 f.message);
    cr_assert_not(req.stream);
}

Test(chat, read_depth_limit)
{
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[[[[1]]]]}]}";
    struct lx_chat_request req;
    struct lx_chat_fault f;
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 7, &f), LX_OK);
    cr_assert_eq(lx_chat_request_read(&req, body, strlen(body), &arena, 6, &f), LX_ERR);
    cr_assert(strstr(f.message, "deeply") != NULL, "%s", f.message);
}

Test(chat, embeddings_read)
{
    struct lx_chat_request req;
    struct lx_chat_fault f;
    static const char ok1[] = "{\"model\":\"e\",\"input\":\"hello\"}";
    static const char ok2[] = "{\"model\":\"e\",\"input\":[\"a\",\"b\"]}";
    cr_assert_eq(lx_chat_embeddings_read(&req, ok1, strlen(ok1), &arena, 64, &f), LX_OK);
    cr_assert(lx_json_is_string(&req.json, req.messages));
    cr_assert_eq(lx_chat_embeddings_read(&req, ok2, strlen(ok2), &arena, 64, &f), LX_OK);
    cr_assert(lx_json_is_array(&req.json, req.messages));
    cr_assert_not(req.stream);
    static const char no_input[] = "{\"model\":\"e\"}";
    cr_assert_eq(lx_chat_embeddings_read(&req, no_input, strlen(no_input), &arena, 64, &f), LX_ERR);
    cr_assert_str_eq(f.param, "input");
    static const char bad_input[] = "{\"model\":\"e\",\"input\":5}";
    cr_assert_eq(lx_chat_embeddings_read(&req, bad_input, strlen(bad_input), &arena, 64, &f),
                 LX_ERR);
    cr_assert_str_eq(f.param, "input");
    static const char no_model[] = "{\"input\":\"x\"}";
    cr_assert_eq(lx_chat_embeddings_read(&req, no_model, strlen(no_model), &arena, 64, &f), LX_ERR);
    cr_assert_str_eq(f.param, "model");
}

/* ---- chunk inspection --------------------------------------------------- */

#define CHUNK_HEAD "{\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":"
#define CHUNK_TAIL                                                                                 \
    "}],\"created\":1736000000,\"id\":\"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012345\","              \
    "\"model\":\"qwen\",\"system_fingerprint\":\"b4567-abcdef\","                                  \
    "\"object\":\"chat.completion.chunk\"}"

static enum lx_chat_chunk inspect(const char *data, struct lx_chat_tally *t, bool *token)
{
    lx_arena_reset(&arena);
    return lx_chat_chunk_inspect(lx_str_from_cstr(data), &arena, 64, t, token);
}

Test(chat, chunk_llama_stream_sequence)
{
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token = true;

    cr_assert_eq(
        inspect(CHUNK_HEAD "{\"role\":\"assistant\",\"content\":null}" CHUNK_TAIL, &t, &token),
        LX_CHAT_CHUNK_DATA);
    cr_assert_not(token, "the role chunk carries no token");

    cr_assert_eq(
        inspect(CHUNK_HEAD "{\"reasoning_content\":\"Let me think\"}" CHUNK_TAIL, &t, &token),
        LX_CHAT_CHUNK_DATA);
    cr_assert(token);

    cr_assert_eq(inspect(CHUNK_HEAD "{\"content\":\"Hello\"}" CHUNK_TAIL, &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert(token);

    cr_assert_eq(inspect(CHUNK_HEAD "{\"content\":\"\"}" CHUNK_TAIL, &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert_not(token, "empty content is no token");

    /* tool call: first chunk with id and name, then argument pieces */
    cr_assert_eq(inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":0,\"id\":\"Xy12Ab34Cd56Ef78Gh90"
                                    "Ij12Kl34Mn56\",\"type\":\"function\",\"function\":{\"name\":"
                                    "\"get_weather\",\"arguments\":\"{\\\"\"}}]}" CHUNK_TAIL,
                         &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert(token);
    cr_assert_eq(t.n_calls, 1);
    cr_assert_str_eq(t.call_names[0], "get_weather");

    cr_assert_eq(inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                                    "\"city\\\":\\\"Paris\\\"}\"}}]}" CHUNK_TAIL,
                         &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert(token);
    cr_assert_eq(t.n_calls, 1);
    cr_assert_str_eq(t.call_names[0], "get_weather");

    /* a second call */
    cr_assert_eq(inspect(CHUNK_HEAD
                         "{\"tool_calls\":[{\"index\":1,\"id\":\"id2\",\"type\":"
                         "\"function\",\"function\":{\"name\":\"get_time\"}}]}" CHUNK_TAIL,
                         &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert_eq(t.n_calls, 2);
    cr_assert_str_eq(t.call_names[0], "get_weather");
    cr_assert_str_eq(t.call_names[1], "get_time");

    /* the final chunk with timings */
    cr_assert_eq(inspect("{\"choices\":[{\"finish_reason\":\"tool_calls\",\"index\":0,"
                         "\"delta\":{}}],\"created\":1736000000,\"id\":\"chatcmpl-x\","
                         "\"model\":\"qwen\",\"object\":\"chat.completion.chunk\","
                         "\"timings\":{\"prompt_n\":12,\"prompt_ms\":30.5,\"predicted_n\":40,"
                         "\"predicted_ms\":400.25,\"predicted_per_second\":99.9}}",
                         &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert_not(token);
    cr_assert_str_eq(t.finish_reason, "tool_calls");
    cr_assert_not(t.has_usage);

    /* usage-only chunk */
    cr_assert_eq(inspect("{\"choices\":[],\"created\":1736000000,\"id\":\"chatcmpl-x\","
                         "\"model\":\"qwen\",\"object\":\"chat.completion.chunk\","
                         "\"usage\":{\"completion_tokens\":40,\"prompt_tokens\":12,"
                         "\"total_tokens\":52,\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
                         &t, &token),
                 LX_CHAT_CHUNK_USAGE_ONLY);
    cr_assert_not(token);
    cr_assert(t.has_usage);
    cr_assert_eq(t.prompt_tokens, 12);
    cr_assert_eq(t.completion_tokens, 40);

    cr_assert_eq(inspect("[DONE]", &t, &token), LX_CHAT_CHUNK_DONE);
    cr_assert_not(token);
    cr_assert_str_eq(t.finish_reason, "tool_calls");
    cr_assert_eq(t.n_calls, 2);
}

Test(chat, chunk_grown_tool_name_replaces)
{
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token;
    inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"type\":\"function\","
                       "\"function\":{\"name\":\"get\"}}]}" CHUNK_TAIL,
            &t, &token);
    cr_assert_str_eq(t.call_names[0], "get");
    inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"type\":\"function\","
                       "\"function\":{\"name\":\"get_weather\"}}]}" CHUNK_TAIL,
            &t, &token);
    cr_assert_str_eq(t.call_names[0], "get_weather", "not concatenated: %s", t.call_names[0]);
    cr_assert_eq(t.n_calls, 1);
}

Test(chat, chunk_tool_call_limits)
{
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token;
    char name[200];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    char chunk[600];
    snprintf(chunk, sizeof(chunk),
             CHUNK_HEAD
             "{\"tool_calls\":[{\"index\":2,\"function\":{\"name\":\"%s\"}}]}" CHUNK_TAIL,
             name);
    inspect(chunk, &t, &token);
    cr_assert_eq(t.n_calls, 3);
    cr_assert_eq(strlen(t.call_names[2]), LX_CHAT_MAX_NAME - 1);
    /* indexes outside the table are ignored, not written */
    inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":16,\"function\":{\"name\":\"x\"}}]}" CHUNK_TAIL,
            &t, &token);
    inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":-1,\"function\":{\"name\":\"x\"}}]}" CHUNK_TAIL,
            &t, &token);
    inspect(CHUNK_HEAD "{\"tool_calls\":[{\"index\":99999999999999999999999,\"function\":"
                       "{\"name\":\"x\"}}]}" CHUNK_TAIL,
            &t, &token);
    cr_assert_eq(t.n_calls, 3);
    /* a long finish reason is cut, not overflowed */
    inspect("{\"choices\":[{\"finish_reason\":\"a_very_long_finish_reason_that_does_not_fit\","
            "\"index\":0,\"delta\":{}}]}",
            &t, &token);
    cr_assert_eq(strlen(t.finish_reason), sizeof(t.finish_reason) - 1);
}

Test(chat, chunk_error_done_malformed)
{
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token = true;
    cr_assert_eq(inspect("{\"error\":{\"code\":500,\"message\":\"boom\",\"type\":"
                         "\"server_error\"}}",
                         &t, &token),
                 LX_CHAT_CHUNK_ERROR);
    cr_assert_not(token);
    cr_assert_eq(inspect("{\"error\":\"plain\"}", &t, &token), LX_CHAT_CHUNK_ERROR);
    cr_assert_eq(inspect("[DONE]", &t, &token), LX_CHAT_CHUNK_DONE);
    cr_assert_eq(inspect("{\"choices\":[", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    cr_assert_eq(inspect("", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    cr_assert_eq(inspect("[DONE] ", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    cr_assert_eq(inspect("not json", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    cr_assert_eq(inspect("[1,2]", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    cr_assert_eq(inspect("{\"a\":\"\xc3\"}", &t, &token), LX_CHAT_CHUNK_MALFORMED);
    /* an object without choices is relayed as data */
    cr_assert_eq(inspect("{\"object\":\"chat.completion.chunk\"}", &t, &token), LX_CHAT_CHUNK_DATA);
    /* choices empty without usage is data, not the usage chunk */
    cr_assert_eq(inspect("{\"choices\":[],\"usage\":null}", &t, &token), LX_CHAT_CHUNK_DATA);
    cr_assert_not(t.has_usage);
    cr_assert_eq(t.n_calls, 0);
}

Test(chat, chunk_usage_on_data_chunk)
{
    /* vLLM with continuous usage stats puts usage on every chunk */
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    bool token;
    cr_assert_eq(inspect("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],"
                         "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}",
                         &t, &token),
                 LX_CHAT_CHUNK_DATA);
    cr_assert(token);
    cr_assert(t.has_usage);
    cr_assert_eq(t.prompt_tokens, 5);
    cr_assert_eq(t.completion_tokens, 1);
}

Test(chat, response_inspect)
{
    static const char body[] =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"hm\","
        "\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f1\",\"arguments\":"
        "\"{}\"},\"id\":\"c1\"},{\"type\":\"function\",\"function\":{\"name\":\"f2\","
        "\"arguments\":\"{}\"},\"id\":\"c2\"}]},\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"completion_tokens\":7,\"prompt_tokens\":9,\"total_tokens\":16},"
        "\"timings\":{}}";
    struct lx_chat_tally t;
    memset(&t, 0, sizeof(t));
    lx_chat_response_inspect(lx_str_from_cstr(body), &arena, 64, &t);
    cr_assert(t.has_usage);
    cr_assert_eq(t.prompt_tokens, 9);
    cr_assert_eq(t.completion_tokens, 7);
    cr_assert_str_eq(t.finish_reason, "tool_calls");
    cr_assert_eq(t.n_calls, 2);
    cr_assert_str_eq(t.call_names[0], "f1");
    cr_assert_str_eq(t.call_names[1], "f2");

    memset(&t, 0, sizeof(t));
    lx_chat_response_inspect(LX_STR_LIT("<html>"), &arena, 64, &t);
    cr_assert_not(t.has_usage);
    cr_assert_eq(t.n_calls, 0);
}

/* ---- errors ------------------------------------------------------------- */

Test(chat, error_write_and_types)
{
    lx_buf b;
    lx_buf_init(&b, 1024);
    cr_assert_eq(lx_chat_error_write(&b, "bad \"x\"\n", "invalid_request_error", "model", NULL),
                 LX_OK);
    cr_assert_str_eq(b.data, "{\"error\":{\"message\":\"bad \\\"x\\\"\\n\",\"type\":"
                             "\"invalid_request_error\",\"param\":\"model\",\"code\":null}}");
    lx_buf_release(&b);
    cr_assert_str_eq(lx_chat_error_type(400), "invalid_request_error");
    cr_assert_str_eq(lx_chat_error_type(404), "invalid_request_error");
    cr_assert_str_eq(lx_chat_error_type(401), "authentication_error");
    cr_assert_str_eq(lx_chat_error_type(403), "permission_error");
    cr_assert_str_eq(lx_chat_error_type(429), "rate_limit_error");
    cr_assert_str_eq(lx_chat_error_type(500), "server_error");
    cr_assert_str_eq(lx_chat_error_type(503), "server_error");
}

struct norm_case {
    int status;
    const char *body;
    size_t body_len; /* 0: strlen */
    const char *want;
};

#define ERR(m, t, p, c)                                                                            \
    "{\"error\":{\"message\":" m ",\"type\":\"" t "\",\"param\":" p ",\"code\":" c "}}"

static const struct norm_case norm_cases[] = {
    /* llama.cpp: numeric code */
    {500, "{\"error\":{\"code\":500,\"message\":\"x\",\"type\":\"server_error\"}}", 0,
     ERR("\"x\"", "server_error", "null", "null")},
    /* llama.cpp: context overflow */
    {400,
     "{\"error\":{\"code\":400,\"message\":\"the request exceeds the available context size, "
     "try increasing it\",\"type\":\"exceed_context_size_error\",\"n_prompt_tokens\":5000,"
     "\"n_ctx\":4096}}",
     0,
     ERR("\"the request exceeds the available context size, try increasing it\"",
         "invalid_request_error", "null", "\"context_length_exceeded\"")},
    /* llama.cpp: not_supported_error is not an OpenAI type */
    {501, "{\"error\":{\"code\":501,\"message\":\"n\",\"type\":\"not_supported_error\"}}", 0,
     ERR("\"n\"", "server_error", "null", "null")},
    /* vLLM */
    {400,
     "{\"object\":\"error\",\"message\":\"m\",\"type\":\"BadRequestError\",\"param\":null,"
     "\"code\":400}",
     0, ERR("\"m\"", "invalid_request_error", "null", "null")},
    /* OpenAI's own shape: unchanged */
    {404,
     "{\"error\":{\"message\":\"The model `x` does not exist\",\"type\":"
     "\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}",
     0,
     ERR("\"The model `x` does not exist\"", "invalid_request_error", "\"model\"",
         "\"model_not_found\"")},
    {429,
     "{\"error\": {\"message\": \"slow down\", \"type\": \"rate_limit_error\", \"param\": null, "
     "\"code\": \"rate_limit_exceeded\"}}\n",
     0, ERR("\"slow down\"", "rate_limit_error", "null", "\"rate_limit_exceeded\"")},
    /* a plain string error */
    {502, "{\"error\":\"plain string\"}", 0,
     ERR("\"plain string\"", "server_error", "null", "null")},
    /* FastAPI */
    {404, "{\"detail\":\"Not Found\"}", 0,
     ERR("\"Not Found\"", "invalid_request_error", "null", "null")},
    /* non-JSON text */
    {502, "Bad Gateway", 0,
     ERR("\"The backend answered HTTP 502: Bad Gateway\"", "server_error", "null", "null")},
    {503, "", 0, ERR("\"The backend answered HTTP 503\"", "server_error", "null", "null")},
    {401, "", 0, ERR("\"The backend answered HTTP 401\"", "authentication_error", "null", "null")},
    {500, "<html>\"x\"\n\t</html>", 0,
     ERR("\"The backend answered HTTP 500: <html>\\\"x\\\"\\n\\t</html>\"", "server_error", "null",
         "null")},
    /* JSON that carries no message */
    {500, "{\"foo\":1}", 0,
     ERR("\"The backend answered HTTP 500: {\\\"foo\\\":1}\"", "server_error", "null", "null")},
    {500, "{\"error\":{\"code\":500}}", 0,
     ERR("\"The backend answered HTTP 500: {\\\"error\\\":{\\\"code\\\":500}}\"", "server_error",
         "null", "null")},
    /* bytes that are not text are not quoted */
    {502, "\xff\xfe", 0, ERR("\"The backend answered HTTP 502\"", "server_error", "null", "null")},
    /* escapes in the message stay escaped */
    {400,
     "{\"error\":{\"message\":\"bad \\\"q\\\" \\\\ \\n \\u00e9 \\ud83d\\ude00\","
     "\"type\":\"invalid_request_error\"}}",
     0,
     ERR("\"bad \\\"q\\\" \\\\ \\n \\u00e9 \\ud83d\\ude00\"", "invalid_request_error", "null",
         "null")},
};

/* Checks out is one valid JSON object of OpenAI's error shape. */
static void check_error_shape(const lx_buf *out, const char *ctx)
{
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, out->data, out->len, &arena, 64), LX_JSON_OK,
                 "%s: output is not JSON: %s", ctx, out->data);
    int e = lx_json_get(&j, 0, "error");
    cr_assert(lx_json_is_object(&j, e), "%s", ctx);
    cr_assert(lx_json_is_string(&j, lx_json_get(&j, e, "message")), "%s", ctx);
    cr_assert(lx_json_is_string(&j, lx_json_get(&j, e, "type")), "%s", ctx);
    int p = lx_json_get(&j, e, "param"), c = lx_json_get(&j, e, "code");
    cr_assert(lx_json_is_null(&j, p) || lx_json_is_string(&j, p), "%s", ctx);
    cr_assert(lx_json_is_null(&j, c) || lx_json_is_string(&j, c), "%s", ctx);
    size_t raw = out->len;
    for (size_t i = 0; i < out->len && raw == out->len; i++)
        if ((unsigned char)out->data[i] < 0x20)
            raw = i;
    cr_expect_eq(raw, out->len, "%s: raw control byte at %zu: %s", ctx, raw, out->data);
}

Test(chat, error_normalize_golden)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(norm_cases); i++) {
        const struct norm_case *c = &norm_cases[i];
        lx_str body = {c->body, c->body_len ? c->body_len : strlen(c->body)};
        lx_buf out;
        lx_buf_init(&out, 4096);
        lx_arena_reset(&arena);
        cr_assert_eq(lx_chat_error_normalize(c->status, body, &arena, &out), LX_OK, "%s", c->body);
        cr_expect_str_eq(out.data, c->want, "case %zu (%s)", i, c->body);
        check_error_shape(&out, c->body);
        lx_buf_release(&out);
    }
}

Test(chat, error_normalize_message_round_trip)
{
    static const char body[] = "{\"error\":{\"message\":\"a \\\"b\\\" \\\\c\\n\\u00e9\","
                               "\"type\":\"server_error\"}}";
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_chat_error_normalize(500, LX_STR_LIT(body), &arena, &out), LX_OK);
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, out.data, out.len, &arena, 64), LX_JSON_OK);
    int m = lx_json_get(&j, lx_json_get(&j, 0, "error"), "message");
    cr_assert(lx_json_str_eq(&j, m, "a \"b\" \\c\n\xc3\xa9"));
    lx_buf_release(&out);
}

Test(chat, error_normalize_long_text_truncated)
{
    char body[1000];
    memset(body, 'z', sizeof(body));
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_chat_error_normalize(500, (lx_str){body, sizeof(body)}, &arena, &out), LX_OK);
    check_error_shape(&out, "long");
    cr_assert_lt(out.len, 400);
    /* a multibyte character cut at the 200-byte limit leaves valid JSON */
    memset(body, 'a', 199);
    memcpy(body + 199, "\xc3\xa9", 2);
    lx_buf_reset(&out);
    cr_assert_eq(lx_chat_error_normalize(500, (lx_str){body, 201}, &arena, &out), LX_OK);
    check_error_shape(&out, "cut utf-8");
    lx_buf_release(&out);
}

/* A backend message holding a raw control byte must not reach the client
 * raw: strict JSON parsers (Python's json, JavaScript's JSON.parse) reject it. */
Test(chat, error_normalize_raw_control_in_message)
{
    static const char body[] = "{\"error\":{\"message\":\"line1\nline2\x01\",\"type\":"
                               "\"server_error\"}}";
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_chat_error_normalize(500, LX_STR_LIT(body), &arena, &out), LX_OK);
    check_error_shape(&out, "raw control");
    lx_buf_release(&out);
}

Test(chat, error_normalize_cap)
{
    lx_buf out;
    lx_buf_init(&out, 20);
    cr_assert_eq(
        lx_chat_error_normalize(500, LX_STR_LIT("{\"error\":\"a long message\"}"), &arena, &out),
        LX_ERR);
    lx_buf_release(&out);
    lx_buf_init(&out, 20);
    cr_assert_eq(lx_chat_error_normalize(500, LX_STR_LIT("text"), &arena, &out), LX_ERR);
    lx_buf_release(&out);
}

/* The gateway reads the first "model" (and "stream"), the rewrite replaces
 * only that one, and most backends' JSON parsers keep the last duplicate:
 * {"model":"public",...,"model":"other"} would reach the backend as "other",
 * past the pinned upstream id. Such a body must be refused. */
Test(chat, read_rejects_duplicate_routing_keys)
{
    static const char *const bodies[] = {
        "{\"model\":\"public\",\"messages\":[],\"model\":\"secret-upstream\"}",
        "{\"model\":\"m\",\"messages\":[],\"stream\":false,\"stream\":true}",
        "{\"model\":\"m\",\"messages\":[],\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bodies); i++) {
        struct lx_chat_request req;
        struct lx_chat_fault f;
        cr_expect_eq(lx_chat_request_read(&req, bodies[i], strlen(bodies[i]), &arena, 64, &f),
                     LX_ERR, "accepted: %s", bodies[i]);
    }
}
