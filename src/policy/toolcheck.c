/*
 * toolcheck.c — tool calls of a chat completion against the offered tools
 * (see toolcheck.h).
 */
#include "toolcheck.h"

#include <stdarg.h>
#include <stdio.h>

#include "../core/buf.h"
#include "schema.h"

static void add(struct lx_toolcheck_result *out, lx_str name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(struct lx_toolcheck_result *out, lx_str name, const char *fmt, ...)
{
    if (out->n >= LX_TOOLCHECK_MAX_VIOLATIONS)
        return;
    struct lx_toolcheck_violation *v = &out->v[out->n++];
    snprintf(v->name, sizeof(v->name), "%.*s", (int)LX_MIN(name.len, sizeof(v->name) - 1),
             name.ptr ? name.ptr : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->error, sizeof(v->error), fmt, ap);
    va_end(ap);
}

/* The function object of the offered tool named like string token name of
 * resp, or -1. */
static int find_tool(const lx_json *req, int tools, lx_str name)
{
    if (tools < 0 || !lx_json_is_array(req, tools))
        return -1;
    int n = lx_json_size(req, tools), i = tools + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(req, i)) {
        int fn = lx_json_is_object(req, i) ? lx_json_get(req, i, "function") : -1;
        int fname = fn >= 0 && lx_json_is_object(req, fn) ? lx_json_get(req, fn, "name") : -1;
        if (fname >= 0 && lx_json_is_string(req, fname) && lx_str_eq(lx_json_raw(req, fname), name))
            return fn;
    }
    return -1;
}

/* Validates the JSON text against the schema text; "" in err when valid,
 * else the violation ("at /p: message", "arguments are not valid JSON",
 * "schema not supported: ..."). what names the instance in the JSON error. */
static void check_text(lx_str schema, lx_str text, const char *what, char *err, size_t errlen)
{
    char serr[256];
    err[0] = '\0';
    struct lx_schema *s = lx_schema_new(schema.ptr, schema.len, NULL, serr, sizeof(serr));
    if (s == NULL) {
        snprintf(err, errlen, "schema not supported: %s", serr);
        return;
    }
    struct lx_schema_error e = {0};
    size_t ne = 0;
    enum lx_schema_status st =
        lx_schema_validate(s, text.ptr ? text.ptr : "", text.len, &e, 1, &ne);
    if (st == LX_SCHEMA_EJSON)
        snprintf(err, errlen, "%s not valid JSON", what);
    else if (st != LX_SCHEMA_VALID)
        snprintf(err, errlen, "at %s: %s", e.instance[0] ? e.instance : "(root)",
                 ne ? e.message : lx_schema_strerror(st));
    lx_schema_free(s);
}

/* The parameters schema text of the offered function fn ("true" without). */
static lx_str parameters_of(const lx_json *req, int fn)
{
    int params = lx_json_get(req, fn, "parameters");
    return params >= 0 ? lx_json_value_text(req, params) : LX_STR_LIT("true");
}

/* Validates the arguments string token args of resp against the schema of
 * the offered function fn. */
static void check_arguments(const lx_json *req, int fn, const lx_json *resp, int args, lx_str name,
                            struct lx_toolcheck_result *out)
{
    struct lx_schema_limits lim;
    lx_schema_limits_default(&lim);
    lx_buf text;
    lx_buf_init(&text, lim.max_instance_bytes);
    char err[LX_TOOLCHECK_ERROR_MAX];
    if (lx_json_unescape(resp, args, &text) == LX_OK)
        check_text(parameters_of(req, fn), lx_buf_str(&text), "arguments are", err, sizeof(err));
    else
        snprintf(err, sizeof(err), "arguments are not valid JSON");
    if (err[0])
        add(out, name, "%s", err);
    lx_buf_release(&text);
}

static void check_call(const lx_json *req, int tools, const lx_json *resp, int call,
                       struct lx_toolcheck_result *out)
{
    int fn = lx_json_is_object(resp, call) ? lx_json_get(resp, call, "function") : -1;
    int fname = fn >= 0 && lx_json_is_object(resp, fn) ? lx_json_get(resp, fn, "name") : -1;
    if (fname < 0 || !lx_json_is_string(resp, fname)) {
        add(out, (lx_str){0}, "tool call without a function name");
        return;
    }
    lx_str name = lx_json_raw(resp, fname);
    int offered = find_tool(req, tools, name);
    if (offered < 0) {
        add(out, name, "tool not offered in the request");
        return;
    }
    int args = lx_json_get(resp, fn, "arguments");
    if (args < 0 || !lx_json_is_string(resp, args)) {
        add(out, name, "arguments are not a JSON string");
        return;
    }
    check_arguments(req, offered, resp, args, name, out);
}

int lx_toolcheck_run(const lx_json *req, int tools, lx_str body, lx_arena *scratch,
                     uint32_t max_depth, struct lx_toolcheck_result *out)
{
    *out = (struct lx_toolcheck_result){0};
    lx_json resp;
    if (lx_json_parse(&resp, body.ptr, body.len, scratch, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&resp, 0))
        return LX_ERR;
    int choices = lx_json_get(&resp, 0, "choices");
    if (choices < 0 || !lx_json_is_array(&resp, choices))
        return LX_OK;
    int nc = lx_json_size(&resp, choices), c = choices + 1;
    for (int k = 0; k < nc; k++, c = lx_json_skip(&resp, c)) {
        int msg = lx_json_is_object(&resp, c) ? lx_json_get(&resp, c, "message") : -1;
        int calls =
            msg >= 0 && lx_json_is_object(&resp, msg) ? lx_json_get(&resp, msg, "tool_calls") : -1;
        if (calls < 0 || !lx_json_is_array(&resp, calls))
            continue;
        int n = lx_json_size(&resp, calls), i = calls + 1;
        for (int m = 0; m < n; m++, i = lx_json_skip(&resp, i)) {
            if (out->n_calls++ == LX_TOOLCHECK_MAX_CALLS)
                add(out, (lx_str){0}, "more than %d tool calls to check", LX_TOOLCHECK_MAX_CALLS);
            if (out->n_calls <= LX_TOOLCHECK_MAX_CALLS)
                check_call(req, tools, &resp, i, out);
        }
    }
    return LX_OK;
}

bool lx_toolcheck_call(const lx_json *req, int tools, lx_str name, lx_str args,
                       struct lx_toolcheck_violation *v)
{
    *v = (struct lx_toolcheck_violation){0};
    snprintf(v->name, sizeof(v->name), "%.*s", (int)LX_MIN(name.len, sizeof(v->name) - 1),
             name.ptr ? name.ptr : "");
    if (name.ptr == NULL || name.len == 0) {
        snprintf(v->error, sizeof(v->error), "tool call without a function name");
        return false;
    }
    int fn = find_tool(req, tools, name);
    if (fn < 0) {
        snprintf(v->error, sizeof(v->error), "tool not offered in the request");
        return false;
    }
    check_text(parameters_of(req, fn), args, "arguments are", v->error, sizeof(v->error));
    return v->error[0] == '\0';
}

int lx_toolcheck_schema_of(const lx_json *req, lx_str *schema)
{
    int rf = lx_json_get(req, 0, "response_format");
    int type = rf >= 0 && lx_json_is_object(req, rf) ? lx_json_get(req, rf, "type") : -1;
    if (type < 0 || !lx_json_str_eq(req, type, "json_schema"))
        return LX_ERR;
    int js = lx_json_get(req, rf, "json_schema");
    int s = js >= 0 && lx_json_is_object(req, js) ? lx_json_get(req, js, "schema") : -1;
    *schema = s >= 0 ? lx_json_value_text(req, s) : LX_STR_LIT("true");
    return LX_OK;
}

bool lx_toolcheck_content(lx_str schema, lx_str content, char *err, size_t errlen)
{
    check_text(schema, content, "the answer is", err, errlen);
    return err[0] == '\0';
}
