/*
 * test_toolallow.c — unit tests for src/policy/toolallow.c: the decision
 * table (offer and call against the key's and the model's allowlists and
 * the offered tools), the request scan and strip (exact bytes), the
 * removal of failing calls from a whole answer (exact bytes), and the
 * stream gate (hold until named, refuse, release in order).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "policy/toolallow.h"

TestSuite(toolallow);

#define S(x) LX_STR_LIT(x)

static const lx_str key_names[] = {S("get_weather"), S("get_time")};
static const lx_str model_names[] = {S("get_weather"), S("delete_all")};
static const lx_str offered_names[] = {S("get_weather"), S("get_time"), S("delete_all")};
static const struct lx_toolallow_list key = {key_names, 2}, model = {model_names, 2},
                                      any = {NULL, 0}, none = {key_names, 0},
                                      offered = {offered_names, 3};

Test(toolallow, decision_table)
{
    static const struct {
        const char *name;
        const struct lx_toolallow_list *offered, *key, *model;
        enum lx_toolallow_verdict offer, call;
    } rows[] = {
        /* name          offered   key   model   offer verdict   call verdict */
        {"get_weather", &offered, &key, &model, LX_TOOLALLOW_OK, LX_TOOLALLOW_OK},
        {"get_time", &offered, &key, &model, LX_TOOLALLOW_DENIED_MODEL, LX_TOOLALLOW_DENIED_MODEL},
        {"get_time", &offered, &key, &any, LX_TOOLALLOW_OK, LX_TOOLALLOW_OK},
        {"delete_all", &offered, &key, &model, LX_TOOLALLOW_DENIED_KEY, LX_TOOLALLOW_DENIED_KEY},
        {"delete_all", &offered, &any, &model, LX_TOOLALLOW_OK, LX_TOOLALLOW_OK},
        {"rm_rf", &offered, &any, &any, LX_TOOLALLOW_OK, LX_TOOLALLOW_NOT_OFFERED},
        {"rm_rf", &offered, &key, &model, LX_TOOLALLOW_DENIED_KEY, LX_TOOLALLOW_NOT_OFFERED},
        {"get_weather", &none, &any, &any, LX_TOOLALLOW_OK, LX_TOOLALLOW_NOT_OFFERED},
        {"get_weather", NULL, NULL, NULL, LX_TOOLALLOW_OK, LX_TOOLALLOW_NOT_OFFERED},
        {"get_weather", &offered, &none, &any, LX_TOOLALLOW_DENIED_KEY, LX_TOOLALLOW_DENIED_KEY},
        {"get_weathe", &offered, &any, &any, LX_TOOLALLOW_OK, LX_TOOLALLOW_NOT_OFFERED},
        {"", &offered, &any, &any, LX_TOOLALLOW_OK, LX_TOOLALLOW_NO_NAME},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(rows); i++) {
        lx_str n = lx_str_from_cstr(rows[i].name);
        cr_expect_eq(lx_toolallow_offer(n, rows[i].key, rows[i].model), rows[i].offer,
                     "row %zu offer", i);
        cr_expect_eq(lx_toolallow_call(n, rows[i].offered, rows[i].key, rows[i].model),
                     rows[i].call, "row %zu call", i);
    }
    cr_expect_eq(lx_toolallow_call(LX_STR_NULL, &offered, NULL, NULL), LX_TOOLALLOW_NO_NAME);
    cr_expect_str_eq(lx_toolallow_verdict_str(LX_TOOLALLOW_DENIED_MODEL), "not_allowed_by_model");
    cr_expect_str_eq(lx_toolallow_verdict_str(LX_TOOLALLOW_NOT_OFFERED), "not_offered");
}

#define TOOL(n) "{\"type\":\"function\",\"function\":{\"name\":\"" n "\"}}"

/* Scans and strips body with the key list; checks the exact result. */
static void strip_case(const char *body, size_t want_denied, const char *want)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, body, strlen(body), &a, 32), LX_JSON_OK);
    int tools = lx_json_get(&j, 0, "tools");
    struct lx_toolallow_scan sc;
    cr_assert_eq(lx_toolallow_scan(&j, tools, &key, NULL, &sc), LX_OK);
    cr_expect_eq(sc.n_denied, want_denied);
    lx_buf out;
    lx_buf_init(&out, 1 << 16);
    cr_assert_eq(lx_toolallow_strip_request(&j, tools, &sc, &out), LX_OK);
    cr_expect_eq(out.len, strlen(want));
    cr_expect(memcmp(out.data, want, out.len) == 0, "got %.*s", (int)out.len, out.data);
    lx_buf_release(&out);
    lx_arena_release(&a);
}

Test(toolallow, strip_request_exact_bytes)
{
    strip_case(
        "{\"model\":\"m\",\"tools\":[" TOOL("get_weather") ", " TOOL("delete_all") "," TOOL(
            "get_time") "],\"n\":1}",
        1, "{\"model\":\"m\",\"tools\":[" TOOL("get_weather") "," TOOL("get_time") "],\"n\":1}");
    /* none left: the member goes, with the comma after it */
    strip_case("{\"tools\" : [" TOOL("rm") "], \"model\":\"m\"}", 1, "{ \"model\":\"m\"}");
    /* none left and last: the comma before it goes */
    strip_case("{\"model\":\"m\" ,\n \"tools\":[" TOOL("rm") "]}", 1, "{\"model\":\"m\" }");
    /* nothing denied: kept as is (the caller would not strip, but it is exact) */
    strip_case("{\"tools\":[" TOOL("get_time") "]}", 0, "{\"tools\":[" TOOL("get_time") "]}");
}

Test(toolallow, scan_names_and_cap)
{
    const char *body =
        "{\"tools\":[" TOOL("get_weather") ",{\"type\":\"custom\",\"custom\":{"
                                           "\"name\":\"get_time\"}},{\"type\":\"function\"}]}";
    lx_arena a;
    lx_arena_init(&a, 1 << 22);
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, body, strlen(body), &a, 32), LX_JSON_OK);
    struct lx_toolallow_scan sc;
    cr_assert_eq(lx_toolallow_scan(&j, lx_json_get(&j, 0, "tools"), &key, &any, &sc), LX_OK);
    cr_expect_eq(sc.n, 3);
    cr_expect_eq(sc.n_kept, 2);
    cr_expect(lx_str_eq_cstr(sc.names[1], "get_time"));
    cr_expect(lx_str_eq_cstr(sc.names[2], ""));
    cr_expect_eq(sc.denied[2], LX_TOOLALLOW_DENIED_KEY);
    /* more tools than the cap */
    static char big[LX_TOOLALLOW_MAX_TOOLS * 64 + 64];
    size_t used = (size_t)snprintf(big, sizeof(big), "{\"tools\":[");
    for (int i = 0; i <= LX_TOOLALLOW_MAX_TOOLS; i++)
        used += (size_t)snprintf(big + used, sizeof(big) - used, "%s" TOOL("t"), i ? "," : "");
    snprintf(big + used, sizeof(big) - used, "]}");
    cr_assert_eq(lx_json_parse(&j, big, strlen(big), &a, 32), LX_JSON_OK);
    cr_expect_eq(lx_toolallow_scan(&j, lx_json_get(&j, 0, "tools"), NULL, NULL, &sc), LX_ERR);
    lx_arena_release(&a);
}

#define CALL(n)                                                                                    \
    "{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"" n "\",\"arguments\":\"{}\"}}"

Test(toolallow, response_removes_failing_calls)
{
    static const lx_str off[] = {S("get_weather"), S("get_time")};
    struct lx_toolallow_list o = {off, 2};
    const char *body =
        "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[" CALL("rm_rf") "," CALL(
            "get_weather") "]},\"finish_reason\":\"tool_calls\"},{\"index\":1,"
                           "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
                           "[" CALL("get_time") "]},\"finish_reason\":\"tool_calls\"}]}";
    struct lx_toolallow_result r;
    lx_buf out;
    lx_buf_init(&out, 1 << 16);
    cr_assert_eq(lx_toolallow_response(lx_str_from_cstr(body), &o, NULL, &model, &r, &out), LX_OK);
    cr_expect_eq(r.n_bad, 2);
    cr_expect_str_eq(r.f[0].name, "rm_rf");
    cr_expect_eq(r.f[0].verdict, LX_TOOLALLOW_NOT_OFFERED);
    cr_expect_str_eq(r.f[1].name, "get_time");
    cr_expect_eq(r.f[1].verdict, LX_TOOLALLOW_DENIED_MODEL);
    const char *want =
        "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[" CALL(
            "get_weather") "]},\"finish_reason\":\"tool_calls\"},{\"index\":1,"
                           "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                           "\"finish_reason\":\"stop\"}]}";
    cr_expect_str_eq(lx_buf_str(&out).ptr ? (lx_buf_append_char(&out, 0), out.data) : "", want);
    /* all allowed: nothing written */
    lx_buf_reset(&out);
    const char *ok = "{\"choices\":[{\"message\":{\"tool_calls\":[" CALL("get_weather") "]}}]}";
    cr_assert_eq(lx_toolallow_response(lx_str_from_cstr(ok), &o, NULL, NULL, &r, &out), LX_OK);
    cr_expect_eq(r.n_bad, 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(lx_toolallow_response(S("[1]"), &o, NULL, NULL, &r, &out), LX_ERR);
    lx_buf_release(&out);
}

static enum lx_toolallow_gate feed(struct lx_toolallow_stream *st, const char *chunk,
                                   struct lx_toolallow_finding *bad)
{
    static const lx_str off[] = {S("get_weather")};
    struct lx_toolallow_list o = {off, 1};
    lx_arena s;
    lx_arena_init(&s, 1 << 20);
    enum lx_toolallow_gate g =
        lx_toolallow_stream_chunk(st, lx_str_from_cstr(chunk), &s, 32, &o, NULL, NULL, bad);
    lx_arena_release(&s);
    return g;
}

#define DELTA(x) "{\"choices\":[{\"index\":0,\"delta\":" x "}]}"

Test(toolallow, stream_gate)
{
    struct lx_toolallow_stream st = {0};
    struct lx_toolallow_finding bad;
    cr_expect_eq(feed(&st, DELTA("{\"content\":\"hi\"}"), &bad), LX_TOOLALLOW_PASS);
    /* named in its first delta, allowed: passes */
    cr_expect_eq(feed(&st,
                      DELTA("{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{"
                            "\"name\":\"get_weather\",\"arguments\":\"\"}}]}"),
                      &bad),
                 LX_TOOLALLOW_PASS);
    cr_expect_eq(feed(&st,
                      DELTA("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}"
                            "]}"),
                      &bad),
                 LX_TOOLALLOW_PASS);
    /* a second call without a name yet: held, and what follows with it */
    cr_expect_eq(feed(&st, DELTA("{\"tool_calls\":[{\"index\":1,\"id\":\"b\"}]}"), &bad),
                 LX_TOOLALLOW_HOLD);
    cr_expect_eq(feed(&st, DELTA("{\"content\":\"x\"}"), &bad), LX_TOOLALLOW_HOLD);
    cr_expect_eq(lx_toolallow_stream_end(&st, &bad), LX_TOOLALLOW_REFUSE);
    cr_expect_eq(bad.verdict, LX_TOOLALLOW_NO_NAME);
    /* its name arrives and is allowed: everything goes */
    cr_expect_eq(feed(&st,
                      DELTA("{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":"
                            "\"get_weather\"}}]}"),
                      &bad),
                 LX_TOOLALLOW_PASS);
    cr_expect_eq(lx_toolallow_stream_end(&st, &bad), LX_TOOLALLOW_PASS);
    /* a call to a tool not offered: refused, named */
    cr_expect_eq(feed(&st,
                      DELTA("{\"tool_calls\":[{\"index\":2,\"function\":{\"name\":"
                            "\"rm_rf\",\"arguments\":\"\"}}]}"),
                      &bad),
                 LX_TOOLALLOW_REFUSE);
    cr_expect_str_eq(bad.name, "rm_rf");
    cr_expect_eq(bad.verdict, LX_TOOLALLOW_NOT_OFFERED);
    /* an index past what the gate tracks is refused */
    struct lx_toolallow_stream st2 = {0};
    cr_expect_eq(feed(&st2,
                      DELTA("{\"tool_calls\":[{\"index\":99,\"function\":{\"name\":"
                            "\"get_weather\"}}]}"),
                      &bad),
                 LX_TOOLALLOW_REFUSE);
    /* not JSON: the gate passes it on to the caller's own checks */
    cr_expect_eq(feed(&st2, "nope", &bad), LX_TOOLALLOW_PASS);
}
