/*
 * toolcheck.h — checks the tool calls of a non-streamed chat completion
 * against the tools its request offered (issue 5, tool-call validation).
 *
 * Each call in choices[].message.tool_calls must name a function tool of
 * the request's tools[] and carry function.arguments, a JSON string whose
 * text parses as JSON and validates against that tool's parameters schema
 * (schema.h; a tool without parameters accepts any JSON). A schema the
 * validator cannot compile is a violation ("schema not supported"), never
 * a pass. Pure: no I/O, no global state; what it allocates goes in the
 * caller's arena or is freed before it returns.
 *
 * Violations never quote argument values: an error names the instance
 * pointer and the validator's message, which quotes only the schema.
 */
#ifndef LX_TOOLCHECK_H
#define LX_TOOLCHECK_H

#include "../core/arena.h"
#include "../json/json.h"

/* At most LX_TOOLCHECK_MAX_CALLS calls are checked; any beyond that make
 * one more violation. At most LX_TOOLCHECK_MAX_VIOLATIONS are kept. */
enum {
    LX_TOOLCHECK_MAX_CALLS = 16,
    LX_TOOLCHECK_MAX_VIOLATIONS = 8,
    LX_TOOLCHECK_NAME_MAX = 64,
    LX_TOOLCHECK_ERROR_MAX = 320,
};

struct lx_toolcheck_violation {
    char name[LX_TOOLCHECK_NAME_MAX];   /* the called tool's name, cut; "" when absent */
    char error[LX_TOOLCHECK_ERROR_MAX]; /* e.g. "at /units: must be >= 1000" */
};

struct lx_toolcheck_result {
    uint32_t n_calls; /* tool calls seen in the response */
    uint32_t n;       /* violations kept in v[] */
    struct lx_toolcheck_violation v[LX_TOOLCHECK_MAX_VIOLATIONS];
};

/* Checks the tool calls of the JSON response body against tools, the token
 * of the tools array in the parsed request req (-1 when the request had
 * none: then every call is a violation). The response is parsed into
 * scratch (the caller resets it after) with max_depth. *out is filled from
 * scratch. LX_ERR when body is not a JSON object (out->n is 0 then). */
int lx_toolcheck_run(const lx_json *req, int tools, lx_str body, lx_arena *scratch,
                     uint32_t max_depth, struct lx_toolcheck_result *out);

/* Checks one call (a streamed call, put together by callhold.h): name
 * (bytes of the name, NULL/empty: no name) must be an offered function of
 * the tools token of req, and args (the unescaped arguments text) valid
 * against its parameters. True when valid; else *v names the tool and the
 * error (never a value). */
bool lx_toolcheck_call(const lx_json *req, int tools, lx_str name, lx_str args,
                       struct lx_toolcheck_violation *v);

/* Structured output: when req asks for response_format {type: json_schema},
 * *schema becomes the text of json_schema.schema (a view into req; "true"
 * when absent) and LX_OK; LX_ERR when the request asks for no schema. */
int lx_toolcheck_schema_of(const lx_json *req, lx_str *schema);
/* Validates the answer's text content against schema; true when valid,
 * else err holds "at /p: message" (or "the answer is not valid JSON",
 * "schema not supported: ..."). */
bool lx_toolcheck_content(lx_str schema, lx_str content, char *err, size_t errlen);

#endif
