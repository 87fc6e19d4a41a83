/*
 * test_toolcheck.c — unit tests for src/policy/toolcheck.c: valid calls,
 * calls to tools not offered, arguments that are not JSON or break the
 * schema, uncompilable schemas, the call cap, and that no argument value
 * appears in a violation.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "policy/toolcheck.h"

TestSuite(toolcheck);

static const char request[] =
    "{\"model\":\"m\",\"messages\":[],\"tools\":["
    "{\"type\":\"function\",\"function\":{\"name\":\"book\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"seats\":{\"type\":\"integer\",\"minimum\":1000}},\"required\":[\"seats\"]}}}"
    ","
    "{\"type\":\"function\",\"function\":{\"name\":\"free\"}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"odd\",\"parameters\":"
    "{\"unevaluatedProperties\":false}}}]}";

/* Checks a response whose only choice makes the calls in calls_json. */
static int run(const char *calls_json, struct lx_toolcheck_result *out)
{
    static char body[8192];
    snprintf(body, sizeof(body),
             "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"tool_calls\":%s}}]}",
             calls_json);
    lx_arena a, s;
    lx_arena_init(&a, 1 << 20);
    lx_arena_init(&s, 1 << 20);
    lx_json req;
    cr_assert_eq(lx_json_parse(&req, request, strlen(request), &a, 32), LX_JSON_OK);
    int rc =
        lx_toolcheck_run(&req, lx_json_get(&req, 0, "tools"), lx_str_from_cstr(body), &s, 32, out);
    lx_arena_release(&s);
    lx_arena_release(&a);
    return rc;
}

#define CALL(name, args)                                                                           \
    "{\"type\":\"function\",\"function\":{\"name\":\"" name "\",\"arguments\":" args "}}"

static void expect_one(const char *calls, const char *name, const char *error)
{
    struct lx_toolcheck_result r;
    cr_assert_eq(run(calls, &r), LX_OK);
    cr_assert_eq(r.n, 1, "%s", calls);
    cr_assert_str_eq(r.v[0].name, name);
    cr_assert_str_eq(r.v[0].error, error);
}

Test(toolcheck, valid_calls)
{
    struct lx_toolcheck_result r;
    cr_assert_eq(
        run("[" CALL("book", "\"{\\\"seats\\\":1200}\"") "," CALL("free", "\"[1,2]\"") "]", &r),
        LX_OK);
    cr_assert_eq(r.n_calls, 2);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(run("[]", &r), LX_OK);
    cr_assert_eq(r.n, 0);
}

Test(toolcheck, violations)
{
    expect_one("[" CALL("book", "\"{\\\"seats\\\":7}\"") "]", "book", "at /seats: must be >= 1000");
    expect_one("[" CALL("book", "\"{}\"") "]", "book",
               "at (root): missing required property \"seats\"");
    expect_one("[" CALL("book", "\"{seats: 1}\"") "]", "book", "arguments are not valid JSON");
    expect_one("[" CALL("book", "{\"seats\":1200}") "]", "book", "arguments are not a JSON string");
    expect_one("[" CALL("delete_all", "\"{}\"") "]", "delete_all",
               "tool not offered in the request");
    expect_one("[{\"type\":\"function\",\"function\":{\"arguments\":\"{}\"}}]", "",
               "tool call without a function name");
    struct lx_toolcheck_result r;
    cr_assert_eq(run("[" CALL("odd", "\"{}\"") "]", &r), LX_OK);
    cr_assert_eq(r.n, 1);
    cr_assert(strncmp(r.v[0].error, "schema not supported: ", 22) == 0, "%s", r.v[0].error);
}

Test(toolcheck, no_tools_offered_and_bad_body)
{
    struct lx_toolcheck_result r;
    lx_arena a;
    lx_arena_init(&a, 1 << 16);
    lx_str body =
        LX_STR_LIT("{\"choices\":[{\"message\":{\"tool_calls\":[" CALL("free", "\"{}\"") "]}}]}");
    cr_assert_eq(lx_toolcheck_run(NULL, -1, body, &a, 32, &r), LX_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].error, "tool not offered in the request");
    cr_assert_eq(lx_toolcheck_run(NULL, -1, LX_STR_LIT("[1]"), &a, 32, &r), LX_ERR);
    cr_assert_eq(r.n, 0);
    lx_arena_release(&a);
}

Test(toolcheck, caps_and_no_values)
{
    char calls[8192] = "[";
    for (int i = 0; i < LX_TOOLCHECK_MAX_CALLS + 3; i++)
        strcat(calls, i ? "," CALL("book", "\"{\\\"seats\\\":31337}\"")
                        : CALL("book", "\"{\\\"seats\\\":31337}\""));
    strcat(calls, "]");
    struct lx_toolcheck_result r;
    cr_assert_eq(run(calls, &r), LX_OK);
    cr_assert_eq(r.n_calls, LX_TOOLCHECK_MAX_CALLS + 3);
    cr_assert_eq(r.n, 1, "only the cap itself is a violation");
    cr_assert_str_eq(r.v[0].error, "more than 16 tool calls to check");

    expect_one("[" CALL("book", "\"{\\\"seats\\\":\\\"secret-31337\\\"}\"") "]", "book",
               "at /seats: expected integer, got string");
    strcpy(calls, "[");
    for (int i = 0; i < 12; i++)
        strcat(calls, i ? "," CALL("book", "\"{\\\"seats\\\":1}\"") : CALL("book", "\"{}\""));
    strcat(calls, "]");
    cr_assert_eq(run(calls, &r), LX_OK);
    cr_assert_eq(r.n, LX_TOOLCHECK_MAX_VIOLATIONS);
}

/* One streamed call, put together by callhold.h. */
Test(toolcheck, one_call)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json req;
    cr_assert_eq(lx_json_parse(&req, request, strlen(request), &a, 32), LX_JSON_OK);
    int tools = lx_json_get(&req, 0, "tools");
    struct lx_toolcheck_violation v;
    cr_assert(
        lx_toolcheck_call(&req, tools, LX_STR_LIT("book"), LX_STR_LIT("{\"seats\":1000}"), &v));
    cr_assert_not(
        lx_toolcheck_call(&req, tools, LX_STR_LIT("book"), LX_STR_LIT("{\"seats\":7}"), &v));
    cr_assert_str_eq(v.name, "book");
    cr_assert_str_eq(v.error, "at /seats: must be >= 1000");
    cr_assert_not(lx_toolcheck_call(&req, tools, LX_STR_LIT("book"), LX_STR_LIT("{\"seats\""), &v));
    cr_assert_str_eq(v.error, "arguments are not valid JSON");
    cr_assert_not(lx_toolcheck_call(&req, tools, LX_STR_LIT("nope"), LX_STR_LIT("{}"), &v));
    cr_assert_str_eq(v.error, "tool not offered in the request");
    cr_assert_not(lx_toolcheck_call(&req, tools, (lx_str){0}, LX_STR_LIT("{}"), &v));
    cr_assert_str_eq(v.error, "tool call without a function name");
    cr_assert(lx_toolcheck_call(&req, tools, LX_STR_LIT("free"), LX_STR_LIT("[1]"), &v));
    lx_arena_release(&a);
}

/* Structured output: the schema of response_format, and content against it. */
Test(toolcheck, structured_output)
{
    static const char with[] = "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
                               "\"name\":\"x\",\"schema\":{\"type\":\"object\",\"required\":[\"n\"]"
                               "}}}}";
    static const char without[] = "{\"response_format\":{\"type\":\"json_object\"}}";
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json j;
    lx_str schema;
    char err[LX_TOOLCHECK_ERROR_MAX];
    cr_assert_eq(lx_json_parse(&j, without, strlen(without), &a, 32), LX_JSON_OK);
    cr_assert_eq(lx_toolcheck_schema_of(&j, &schema), LX_ERR);
    cr_assert_eq(lx_json_parse(&j, with, strlen(with), &a, 32), LX_JSON_OK);
    cr_assert_eq(lx_toolcheck_schema_of(&j, &schema), LX_OK);
    cr_assert(lx_str_eq(schema, LX_STR_LIT("{\"type\":\"object\",\"required\":[\"n\"]}")));
    cr_assert(lx_toolcheck_content(schema, LX_STR_LIT("{\"n\":1}"), err, sizeof(err)));
    cr_assert_str_eq(err, "");
    cr_assert_not(lx_toolcheck_content(schema, LX_STR_LIT("{}"), err, sizeof(err)));
    cr_assert(strstr(err, "at (root): ") == err, "%s", err);
    cr_assert_not(lx_toolcheck_content(schema, LX_STR_LIT("hello"), err, sizeof(err)));
    cr_assert_str_eq(err, "the answer is not valid JSON");
    lx_arena_release(&a);
}
