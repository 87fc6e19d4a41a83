/*
 * test_responses.c — unit tests for src/dialect/ir.c, responses.c and
 * chat_ir.c: golden files in golden/responses/ (exact bytes in, exact bytes
 * out) — NN_name.req.json -> NN_name.chat.json for requests and
 * NN_name.chatresp.json -> NN_name.resp.json for results (the request
 * echoed is NN_name.req.json when present, else a default) —, request
 * faults with their param and code, and the IR the decoder builds.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect/responses.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 16 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(responses, .init = setup, .fini = teardown);

/* The options of the golden requests: a llama.cpp-like backend. */
static const struct lx_resp_chat_opts llama_opts = {.reasoning_content = true};
static const struct lx_resp_meta meta = {"resp_test", 1767000000, 1767000001};

static const char *golden_dir(void)
{
    static char dir[4096];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    size_t n = slash ? (size_t)(slash - file) : 0;
    snprintf(dir, sizeof(dir), "%.*s%sgolden/responses", (int)n, file, slash ? "/" : "");
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

static void decode_ok(struct lx_ir_request *req, const char *body, size_t len)
{
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_request_decode(req, body, len, &arena, 64, &f), LX_OK, "%.*s: %s (%s)",
                 (int)len, body, f.message, f.param);
}

static void expect_bytes(const char *what, const lx_buf *got, const char *want, size_t want_len)
{
    cr_expect(got->len == want_len && memcmp(got->data, want, want_len) == 0,
              "%s:\n got: %.*s\nwant: %.*s", what, (int)got->len, got->data, (int)want_len, want);
}

static void check_request(const char *stem)
{
    size_t in_len, want_len;
    char *in = read_golden(stem, ".req.json", &in_len);
    char *want = read_golden(stem, ".chat.json", &want_len);
    cr_assert_not_null(in, "%s", stem);
    cr_assert_not_null(want, "%s: no .chat.json", stem);
    struct lx_ir_request req;
    decode_ok(&req, in, in_len);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_chat_request_encode(&req, &llama_opts, &arena, &out), LX_OK, "%s", stem);
    expect_bytes(stem, &out, want, want_len);
    lx_json j;
    cr_expect_eq(lx_json_parse(&j, out.data, out.len, &arena, 64), LX_JSON_OK, "%s", stem);
    lx_buf_release(&out);
    free(in);
    free(want);
}

static void check_result(const char *stem)
{
    static const char default_req[] = "{\"model\":\"qwen3-8b\",\"input\":\"Hi\"}";
    size_t in_len, want_len, req_len;
    char *in = read_golden(stem, ".chatresp.json", &in_len);
    char *want = read_golden(stem, ".resp.json", &want_len);
    char *req_body = read_golden(stem, ".req.json", &req_len);
    cr_assert_not_null(want, "%s: no .resp.json", stem);
    struct lx_ir_request req;
    if (req_body)
        decode_ok(&req, req_body, req_len);
    else
        decode_ok(&req, default_req, sizeof(default_req) - 1);
    struct lx_ir_result res;
    cr_assert_eq(lx_resp_chat_result_decode(&res, &req, in, in_len, "test", &arena, 64), LX_OK,
                 "%s", stem);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_response_write(&req, &res, &meta, &out), LX_OK, "%s", stem);
    expect_bytes(stem, &out, want, want_len);
    lx_buf_release(&out);
    free(in);
    free(want);
    free(req_body);
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

Test(responses, golden_requests)
{
    int n = each_golden(".req.json", check_request);
    cr_assert_geq(n, 15, "only %d golden requests", n);
}

Test(responses, golden_results)
{
    int n = each_golden(".chatresp.json", check_result);
    cr_assert_geq(n, 4, "only %d golden results", n);
}

/* ---- faults -------------------------------------------------------------- */

struct fault_case {
    const char *body;
    const char *param;
    const char *code;
};

static const struct fault_case fault_cases[] = {
    {"[]", "", NULL},
    {"{\"model\":\"m\",", "", NULL},
    {"{\"input\":\"x\"}", "model", "missing_required_parameter"},
    {"{\"model\":\"\",\"input\":\"x\"}", "model", "missing_required_parameter"},
    {"{\"model\":1,\"input\":\"x\"}", "model", "invalid_type"},
    {"{\"model\":\"m\"}", "input", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":5}", "input", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[3]}", "input[0]", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "input[0].role",
     "invalid_value"},
    {"{\"model\":\"m\",\"input\":[{\"content\":\"x\"}]}", "input[0].role",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\"}]}", "input[0].content",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
     "\"input_text\",\"text\":7}]}]}",
     "input[0].content[0].text", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}]}",
     "input[0].arguments", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
     "\"arguments\":{}}]}",
     "input[0].arguments", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}",
     "input[0].call_id", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"computer_call\",\"id\":\"x\"}]}", "input[0].type",
     "unsupported_value"},
    /* item_reference is resolved from the store (proxy/itemref.c), but needs an id */
    {"{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\"}]}", "input[0].id",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"type\":7}]}", "input[0].type", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
     "\"file_id\":\"file-1\"}]}]}",
     "input[0].content[0].file_id", "unsupported_value"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\"}]}]}",
     "input[0].content[0].image_url", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\","
     "\"file_data\":\"x\"}]}]}",
     "input[0].content[0].type", "unsupported_value"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"summary\":[{\"type\":\"input_text\","
     "\"text\":\"x\"}]}]}",
     "input[0].summary[0].type", "invalid_value"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tools\":{}}", "tools", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", "tools[0].name",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\","
     "\"parameters\":\"{}\"}]}",
     "tools[0].parameters", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"name\":\"f\"}]}", "tools[0].type",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":\"always\"}", "tool_choice",
     "invalid_value"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":1}", "tool_choice", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"function\"}}",
     "tool_choice.name", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"file_search\"}}",
     "tool_choice.type", "unsupported_value"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":"
     "\"sometimes\",\"tools\":[]}}",
     "tool_choice.mode", "invalid_value"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":"
     "\"auto\"}}",
     "tool_choice.tools", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\","
     "\"schema\":{}}}}",
     "text.format.name", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":"
     "\"n\"}}}",
     "text.format.schema", "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"xml\"}}}",
     "text.format.type", "invalid_value"},
    {"{\"model\":\"m\",\"input\":\"x\",\"text\":\"json\"}", "text", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":3}}", "reasoning.effort",
     "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":1.5}", "max_output_tokens",
     "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"temperature\":\"hot\"}", "temperature", "invalid_type"},
    {"{\"model\":\"m\",\"model\":\"n\",\"input\":\"x\"}", "model", "duplicate_key"},
    {"{\"model\":\"m\",\"input\":\"x\",\"stream\":\"yes\"}", "stream", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"c\"}", "conversation",
     "unsupported_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"prompt\":{\"id\":\"p\"}}", "prompt",
     "unsupported_parameter"},
    {"{\"model\":\"m\",\"input\":\"x\",\"include\":[1]}", "include[0]", "invalid_type"},
    {"{\"model\":\"m\",\"input\":\"x\",\"metadata\":[]}", "metadata", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"compaction\"}]}", "input[0].encrypted_content",
     "missing_required_parameter"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"encrypted_content\":null}]}",
     "input[0].encrypted_content", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"encrypted_content\":{}}]}",
     "input[0].encrypted_content", "invalid_type"},
    {"{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"id\":1,"
     "\"encrypted_content\":\"x\"}]}",
     "input[0].id", "invalid_type"},
};

Test(responses, request_faults)
{
    for (size_t k = 0; k < LX_ARRAY_LEN(fault_cases); k++) {
        const struct fault_case *c = &fault_cases[k];
        struct lx_ir_request req;
        struct lx_resp_fault f;
        int rc = lx_resp_request_decode(&req, c->body, strlen(c->body), &arena, 64, &f);
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

Test(responses, fault_message_names_the_types)
{
    static const char body[] = "{\"model\":\"m\",\"input\":\"x\",\"top_p\":\"a\"}";
    struct lx_ir_request req;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_request_decode(&req, body, sizeof(body) - 1, &arena, 64, &f), LX_ERR);
    cr_expect_str_eq(f.message,
                     "Invalid type for 'top_p': expected a number, but got a string instead.");
}

/* ---- what the decoder builds -------------------------------------------- */

Test(responses, null_means_absent_and_previous_id_alone)
{
    static const char body[] = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\","
                               "\"instructions\":null,\"temperature\":null,\"tools\":null,"
                               "\"tool_choice\":null,\"text\":null,\"reasoning\":null}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    cr_expect_eq(req.nitems, 0);
    cr_expect(lx_ir_lit_eq(req.previous_response_id, "resp_1"));
    cr_expect_eq(req.instructions.len, 0);
    cr_expect_eq(req.temperature.len, 0);
    cr_expect_eq(req.tool_choice.kind, LX_IR_CHOICE_UNSET);
    cr_expect_eq(req.format.kind, LX_IR_FORMAT_UNSET);
    cr_expect_not(req.has_reasoning);
}

Test(responses, ir_views_point_into_the_body)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":"
        "\"f\",\"arguments\":\"{\\\"a\\\":1}\",\"status\":\"completed\",\"id\":\"fc_9\"}],"
        "\"tools\":[{\"type\":\"web_search\"},{\"type\":\"custom\",\"name\":\"apply_patch\"}],"
        "\"top_k\":40,\"store\":false,\"parallel_tool_calls\":true,\"temperature\":0.25}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    cr_assert_eq(req.nitems, 1);
    const struct lx_ir_item *it = &req.items[0];
    cr_expect_eq(it->kind, LX_IR_ITEM_FUNCTION_CALL);
    cr_expect(it->arguments.ptr > body && it->arguments.ptr < body + sizeof(body));
    cr_expect(lx_str_eq(it->arguments, LX_STR_LIT("\"{\\\"a\\\":1}\"")));
    cr_expect(lx_ir_lit_eq(it->id, "fc_9"));
    cr_expect_eq(it->status, LX_IR_STATUS_COMPLETED);
    cr_expect_eq(req.ntools, 2);
    cr_expect_eq(req.nother_tools, 1);
    cr_expect(lx_ir_lit_eq(req.tools[1].type, "custom"));
    cr_expect_eq(req.tools[1].kind, LX_IR_TOOL_CUSTOM);
    const char *types[2] = {NULL, NULL};
    cr_expect_eq(lx_ir_dropped_tools(&req, types, 2), 1);
    cr_expect_str_eq(types[0], "web_search");
    cr_expect_eq(req.nextras, 1);
    cr_expect_str_eq(req.extras[0].key, "top_k");
    cr_expect(lx_str_eq(req.extras[0].value, LX_STR_LIT("40")));
    cr_expect_eq(req.store, LX_IR_FALSE);
    cr_expect_eq(req.parallel_tool_calls, LX_IR_TRUE);
    cr_expect_eq(req.background, LX_IR_UNSET);
    cr_expect(lx_str_eq(req.temperature, LX_STR_LIT("0.25")));
}

Test(responses, escaped_extra_key_is_unescaped)
{
    static const char body[] = "{\"model\":\"m\",\"input\":\"x\",\"top\\u005fk\":1,"
                               "\"a\\u0000b\":2}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    cr_assert_eq(req.nextras, 1); /* the key holding NUL is dropped */
    cr_expect_str_eq(req.extras[0].key, "top_k");
}

/* ---- encoder options ------------------------------------------------------ */

static void encode(const char *body, const struct lx_resp_chat_opts *o, lx_buf *out)
{
    struct lx_ir_request req;
    decode_ok(&req, body, strlen(body));
    lx_buf_init(out, 1 << 20);
    cr_assert_eq(lx_resp_chat_request_encode(&req, o, &arena, out), LX_OK);
}

Test(responses, openai_backend_options)
{
    static const char body[] =
        "{\"model\":\"alias\",\"input\":[{\"role\":\"developer\",\"content\":\"d\"},"
        "{\"type\":\"reasoning\",\"summary\":[],\"content\":[{\"type\":\"reasoning_text\","
        "\"text\":\"think\"}]},{\"role\":\"user\",\"content\":\"u\"}],\"max_output_tokens\":7}";
    struct lx_resp_chat_opts o = {
        .model = "gpt \"x\"", .max_completion_tokens = true, .developer_as_system = true};
    lx_buf out;
    encode(body, &o, &out);
    /* the reasoning-only turn disappears for a backend without reasoning_content */
    static const char want[] = "{\"model\":\"gpt \\\"x\\\"\",\"messages\":[{\"role\":\"system\","
                               "\"content\":\"d\"},{\"role\":\"user\",\"content\":\"u\"}],"
                               "\"max_completion_tokens\":7}";
    expect_bytes("openai", &out, want, sizeof(want) - 1);
    lx_buf_release(&out);
}

Test(responses, reasoning_only_turn_with_reasoning_content)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"summary\":[],\"content\":[{"
        "\"type\":\"reasoning_text\",\"text\":\"a\"},{\"type\":\"reasoning_text\",\"text\":"
        "\"b\"}]}]}";
    lx_buf out;
    encode(body, &llama_opts, &out);
    static const char want[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
                               "\"content\":\"\",\"reasoning_content\":\"ab\"}]}";
    expect_bytes("reasoning only", &out, want, sizeof(want) - 1);
    lx_buf_release(&out);
}

Test(responses, encode_fails_at_the_cap)
{
    static const char body[] = "{\"model\":\"m\",\"input\":\"a long enough input\"}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    lx_buf out;
    lx_buf_init(&out, 16);
    cr_expect_eq(lx_resp_chat_request_encode(&req, &llama_opts, &arena, &out), LX_ERR);
    lx_buf_release(&out);
}

/* ---- results ---------------------------------------------------------------- */

static void result(const char *chat, struct lx_ir_result *res, int want_rc)
{
    cr_assert_eq(lx_resp_chat_result_decode(res, NULL, chat, strlen(chat), "t", &arena, 64),
                 want_rc, "%s", chat);
}

Test(responses, result_rejects_what_is_not_a_completion)
{
    struct lx_ir_result res;
    result("not json", &res, LX_ERR);
    result("[]", &res, LX_ERR);
    result("{\"choices\":[]}", &res, LX_ERR);
    result("{\"choices\":[{\"message\":\"x\"}]}", &res, LX_ERR);
}

Test(responses, result_content_filter_and_reasoning_key)
{
    struct lx_ir_result res;
    result("{\"choices\":[{\"message\":{\"reasoning\":\"r\",\"content\":\"\",\"refusal\":\"no\"},"
           "\"finish_reason\":\"content_filter\"}]}",
           &res, LX_OK);
    cr_assert_eq(res.nitems, 2);
    cr_expect_eq(res.items[0].kind, LX_IR_ITEM_REASONING);
    cr_expect_eq(res.items[0].status, LX_IR_STATUS_COMPLETED);
    cr_expect_eq(res.items[1].kind, LX_IR_ITEM_MESSAGE);
    cr_expect_eq(res.items[1].nparts, 1);
    cr_expect_eq(res.items[1].parts[0].kind, LX_IR_PART_REFUSAL);
    cr_expect_eq(res.items[1].status, LX_IR_STATUS_INCOMPLETE);
    cr_expect_eq(res.status, LX_IR_RESULT_INCOMPLETE);
    cr_expect_eq(res.reason, LX_IR_INCOMPLETE_CONTENT_FILTER);
    cr_expect_not(res.usage.present);

    struct lx_ir_request req;
    decode_ok(&req, "{\"model\":\"m\",\"input\":\"x\"}", 25);
    lx_buf out;
    lx_buf_init(&out, 1 << 16);
    cr_assert_eq(lx_resp_response_write(&req, &res, &meta, &out), LX_OK);
    cr_expect_not_null(strstr(out.data, "\"incomplete_details\":{\"reason\":\"content_filter\"}"));
    cr_expect_not_null(strstr(out.data, "{\"type\":\"refusal\",\"refusal\":\"no\"}"));
    lx_buf_release(&out);
}

Test(responses, result_total_tokens_defaults_to_the_sum)
{
    struct lx_ir_result res;
    result("{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
           "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
           &res, LX_OK);
    cr_expect_eq(res.usage.total_tokens, 7);
    cr_expect_eq(res.status, LX_IR_RESULT_COMPLETED);
}

/* ---- ir helpers ------------------------------------------------------------- */

Test(responses, literal_helpers)
{
    cr_expect(lx_ir_lit_eq(LX_STR_LIT("\"auto\""), "auto"));
    cr_expect_not(lx_ir_lit_eq(LX_STR_LIT("\"autox\""), "auto"));
    cr_expect_not(lx_ir_lit_eq(LX_STR_NULL, "auto"));
    lx_str parts[] = {LX_STR_LIT("\"a\\n\""), LX_STR_LIT("\"\""), LX_STR_LIT("\"b\"")};
    lx_str j = lx_ir_lit_join(&arena, parts, 3);
    cr_expect(lx_str_eq(j, LX_STR_LIT("\"a\\nb\"")));
    lx_str m = lx_ir_lit_make(&arena, "q\"\n", 3);
    cr_expect(lx_str_eq(m, LX_STR_LIT("\"q\\\"\\n\"")));
    cr_expect_eq(lx_ir_lit_join(&arena, parts, 0).len, 0);
}

/* ---- Codex tools, tool_choice objects, stored items ------------------------- */

Test(responses, tool_choice_objects_sent_as_is_to_openai)
{
    static const struct lx_resp_chat_opts o = {.tool_choice_objects = true};
    lx_buf out;
    encode("{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"a\"},"
           "{\"type\":\"namespace\",\"name\":\"ns\",\"description\":\"N\",\"tools\":[{\"type\":"
           "\"function\",\"name\":\"b\"}]}],\"tool_choice\":{\"type\":\"function\",\"name\":"
           "\"ns__b\"}}",
           &o, &out);
    static const char want1[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{"
        "\"type\":\"function\",\"function\":{\"name\":\"a\"}},{\"type\":\"function\","
        "\"function\":{\"name\":\"ns__b\"}}],\"tool_choice\":{\"type\":\"function\","
        "\"function\":{\"name\":\"ns__b\"}}}";
    expect_bytes("function", &out, want1, sizeof(want1) - 1);
    lx_buf_release(&out);
    encode("{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"a\"},"
           "{\"type\":\"function\",\"name\":\"b\"}],\"tool_choice\":{\"type\":\"allowed_tools\","
           "\"mode\":\"required\",\"tools\":[{\"type\":\"function\",\"name\":\"b\"}]}}",
           &o, &out);
    static const char want2[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{"
        "\"type\":\"function\",\"function\":{\"name\":\"a\"}},{\"type\":\"function\","
        "\"function\":{\"name\":\"b\"}}],\"tool_choice\":{\"type\":\"allowed_tools\","
        "\"allowed_tools\":{\"mode\":\"required\",\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"b\"}}]}}}";
    expect_bytes("allowed", &out, want2, sizeof(want2) - 1);
    lx_buf_release(&out);
}

Test(responses, namespace_tools_are_flattened_and_found_again)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"namespace\",\"name\":\"crm\","
        "\"description\":\"d\",\"tools\":[{\"type\":\"function\",\"name\":\"find\"},{\"type\":"
        "\"custom\",\"name\":\"note\"},{\"type\":\"file_search\"}]},{\"type\":\"web_search\"}]}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    cr_assert_eq(req.ntools, 4);
    cr_expect_eq(req.nother_tools, 2);
    cr_expect(lx_str_eq(req.tools[0].chat_name, LX_STR_LIT("\"crm__find\"")));
    cr_expect(req.tools[0].ns_first);
    cr_expect_not(req.tools[1].ns_first);
    const struct lx_ir_tool *t = lx_ir_tool_find(&req, LX_STR_LIT("\"crm__note\""));
    cr_assert_not_null(t);
    cr_expect_eq(t->kind, LX_IR_TOOL_CUSTOM);
    cr_expect(lx_ir_lit_eq(t->name, "note") && lx_ir_lit_eq(t->ns, "crm"));
    cr_expect_null(lx_ir_tool_find(&req, LX_STR_LIT("\"note\"")));
    const char *types[1];
    cr_expect_eq(lx_ir_dropped_tools(&req, types, 1), 2);
    cr_expect_str_eq(types[0], "file_search");
    struct lx_resp_fault f;
    static const char empty_ns[] = "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
                                   "\"namespace\",\"name\":\"crm\",\"tools\":[]}]}";
    cr_expect_eq(lx_resp_request_decode(&req, empty_ns, sizeof(empty_ns) - 1, &arena, 64, &f),
                 LX_ERR);
    cr_expect_str_eq(f.param, "tools[0].tools");
}

/* The output array written alone is the `output` of the response object. */
Test(responses, output_write_equals_the_objects_output)
{
    size_t in_len, req_len;
    char *in = read_golden("55_codex_calls", ".chatresp.json", &in_len);
    char *body = read_golden("55_codex_calls", ".req.json", &req_len);
    cr_assert(in && body);
    struct lx_ir_request req;
    decode_ok(&req, body, req_len);
    struct lx_ir_result res;
    cr_assert_eq(lx_resp_chat_result_decode(&res, &req, in, in_len, "test", &arena, 64), LX_OK);
    lx_buf obj, arr;
    lx_buf_init(&obj, 1 << 20);
    lx_buf_init(&arr, 1 << 20);
    cr_assert_eq(lx_resp_response_write(&req, &res, &meta, &obj), LX_OK);
    cr_assert_eq(lx_resp_output_write(&res, &arr), LX_OK);
    const char *at = strstr(obj.data, "\"output\":[");
    cr_assert_not_null(at);
    at += strlen("\"output\":");
    cr_expect_eq(strncmp(at, arr.data, arr.len), 0, "%s", arr.data);
    cr_expect_eq(at[arr.len], ',');
    lx_buf_release(&obj);
    lx_buf_release(&arr);
    free(in);
    free(body);
}

/* Every golden request: decode -> input_write -> decode as input -> chat
 * encode gives the chat body of the original. */
static void check_input_round_trip(const char *stem)
{
    size_t in_len, want_len;
    char *in = read_golden(stem, ".req.json", &in_len);
    char *want = read_golden(stem, ".chat.json", &want_len);
    cr_assert(in && want, "%s", stem);
    struct lx_ir_request req;
    decode_ok(&req, in, in_len);
    lx_buf items;
    lx_buf_init(&items, 1 << 20);
    cr_assert_eq(lx_resp_input_write(&req, "in", &items), LX_OK, "%s", stem);
    /* the stored array goes back in place of the original input */
    struct lx_ir_request again = req;
    lx_buf body;
    lx_buf_init(&body, 1 << 20);
    cr_assert_eq(lx_buf_printf(&body, "{\"model\":\"x\",\"input\":%s}", items.data), LX_OK);
    struct lx_ir_request stored;
    decode_ok(&stored, body.data, body.len);
    again.items = stored.items;
    again.nitems = stored.nitems;
    again.input_is_string = false;
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_resp_chat_request_encode(&again, &llama_opts, &arena, &out), LX_OK, "%s", stem);
    expect_bytes(stem, &out, want, want_len);
    size_t golden_len;
    char *golden = read_golden(stem, ".items.json", &golden_len);
    if (golden)
        expect_bytes(stem, &items, golden, golden_len);
    free(golden);
    lx_buf_release(&out);
    lx_buf_release(&body);
    lx_buf_release(&items);
    free(in);
    free(want);
}

Test(responses, input_write_round_trips)
{
    int n = each_golden(".req.json", check_input_round_trip);
    cr_assert_geq(n, 20, "only %d golden requests", n);
    int g = each_golden(".items.json", check_input_round_trip);
    cr_assert_geq(g, 2, "only %d golden item listings", g);
}

/* ---- compaction items (3.5, 5) and the /responses/compact answers -------- */

Test(responses, compaction_item_decodes_opaque)
{
    static const char body[] = "{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"id\":"
                               "\"cmp_1\",\"encrypted_content\":\"bHgx\\/AA==\"}]}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    cr_assert_eq(req.nitems, 1);
    const struct lx_ir_item *it = &req.items[0];
    cr_expect_eq(it->kind, LX_IR_ITEM_COMPACTION);
    cr_expect(lx_ir_lit_eq(it->id, "cmp_1"));
    cr_expect(lx_str_eq_cstr(it->encrypted_content, "\"bHgx\\/AA==\""), "escapes kept as sent");
    cr_expect_eq(it->nparts, 0, "nothing opened by the dialect");
}

/* Once the gateway put the opened summary into its parts, a compaction item
 * is a user message for a chat backend, where it stood. */
Test(responses, opened_compaction_goes_to_chat_as_a_user_message)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":[{\"type\":\"compaction\",\"encrypted_content\":\"x\"},"
        "{\"role\":\"user\",\"content\":\"Next?\"}],\"tools\":[{\"type\":\"function\",\"name\":"
        "\"f\"}]}";
    static const char want[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Summary:\\n\\nwe "
        "\\\"met\\\"\"},{\"role\":\"user\",\"content\":\"Next?\"}],\"tools\":[{\"type\":"
        "\"function\",\"function\":{\"name\":\"f\"}}]}";
    struct lx_ir_request req;
    decode_ok(&req, body, sizeof(body) - 1);
    struct lx_ir_part summary = {.kind = LX_IR_PART_INPUT_TEXT,
                                 .text = LX_STR_LIT("\"Summary:\\n\\nwe \\\"met\\\"\"")};
    req.items[0].parts = &summary;
    req.items[0].nparts = 1;
    lx_buf out;
    lx_buf_init(&out, 1 << 16);
    cr_assert_eq(lx_resp_chat_request_encode(&req, &llama_opts, &arena, &out), LX_OK);
    expect_bytes("opened compaction", &out, want, sizeof(want) - 1);
    /* the stored input keeps the item as sent, never the summary */
    lx_buf items;
    lx_buf_init(&items, 1 << 16);
    cr_assert_eq(lx_resp_input_write(&req, "b", &items), LX_OK);
    static const char want_items[] =
        "[{\"type\":\"compaction\",\"id\":\"cmp_b_0\",\"encrypted_content\":\"x\"},{\"type\":"
        "\"message\",\"id\":\"msg_b_1\",\"status\":\"completed\",\"role\":\"user\",\"content\":"
        "[{\"type\":\"input_text\",\"text\":\"Next?\"}]}]";
    expect_bytes("stored compaction", &items, want_items, sizeof(want_items) - 1);
    lx_buf_release(&items);
    lx_buf_release(&out);
}

Test(responses, compaction_object_write)
{
    struct lx_ir_part part = {.kind = LX_IR_PART_INPUT_TEXT, .text = LX_STR_LIT("\"Hi\"")};
    struct lx_ir_item items[] = {
        {.kind = LX_IR_ITEM_MESSAGE,
         .id = LX_STR_LIT("\"msg_1\""),
         .status = LX_IR_STATUS_COMPLETED,
         .role = LX_IR_ROLE_USER,
         .content_is_string = true,
         .parts = &part,
         .nparts = 1},
        {.kind = LX_IR_ITEM_COMPACTION,
         .id = LX_STR_LIT("\"cmp_1\""),
         .encrypted_content = LX_STR_LIT("\"bHgxQUJD\"")},
    };
    struct lx_ir_result res = {
        .items = items,
        .nitems = 2,
        .usage = {.present = true, .input_tokens = 30, .output_tokens = 7, .total_tokens = 37},
    };
    static const char want[] =
        "{\"id\":\"resp_test\",\"object\":\"response.compaction\",\"output\":[{\"type\":"
        "\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"user\",\"content\":[{"
        "\"type\":\"input_text\",\"text\":\"Hi\"}]},{\"type\":\"compaction\",\"id\":\"cmp_1\","
        "\"encrypted_content\":\"bHgxQUJD\"}],\"created_at\":1767000000,\"usage\":{"
        "\"input_tokens\":30,\"input_tokens_details\":{\"cached_tokens\":0,"
        "\"cache_write_tokens\":0},\"output_tokens\":7,\"output_tokens_details\":{"
        "\"reasoning_tokens\":0},\"total_tokens\":37}}";
    lx_buf out;
    lx_buf_init(&out, 1 << 16);
    cr_assert_eq(lx_resp_compaction_write(&res, &meta, &out), LX_OK);
    expect_bytes("compaction object", &out, want, sizeof(want) - 1);
    lx_buf small;
    lx_buf_init(&small, 40);
    cr_expect_eq(lx_resp_compaction_write(&res, &meta, &small), LX_ERR, "the cap holds");
    lx_buf_release(&small);
    lx_buf_reset(&out);
    cr_assert_eq(lx_resp_input_tokens_write(13, &out), LX_OK);
    static const char want_count[] = "{\"object\":\"response.input_tokens\",\"input_tokens\":13}";
    expect_bytes("input_tokens object", &out, want_count, sizeof(want_count) - 1);
    lx_buf_release(&out);
}
