/*
 * ir.h — the intermediate representation (DESIGN.md, "The intermediate
 * representation"): the Responses API's item model, through which every
 * dialect translates.
 *
 * A request is instructions + items (messages with typed content parts,
 * function calls, function-call outputs, reasoning) + tools + tool choice +
 * output format + sampling; a result is output items + usage + status.
 *
 * Ownership: every array hangs off an lx_arena owned by the caller and every
 * text field is a view (lx_str) into the decoded body or into that arena;
 * an IR value lives as long as both.
 *
 * Text fields hold JSON text, never unescaped bytes:
 *  - "literal" fields hold a whole JSON string literal, quotes included,
 *    escaped exactly as the sender wrote it (model, instructions, text,
 *    image_url, detail, call_id, name, arguments, ids, ...), so they are
 *    re-emitted verbatim with lx_jw_raw() and never re-escaped;
 *  - "raw" fields hold the text of any JSON value as sent (numbers such as
 *    temperature, parameters and schema objects, metadata, strict, extras).
 * An empty view (len 0) means "absent". Compare a literal with a C string
 * with lx_ir_lit_eq(). Only extra keys are unescaped (see lx_ir_extra).
 *
 * Not wired into the request path yet: the Responses front door (issue 3)
 * will call it.
 */
#ifndef LX_IR_H
#define LX_IR_H

#include "../core/arena.h"
#include "../core/str.h"
#include "../json/json.h"

/* Limits on what one request may hold (STYLE.md 10). */
enum {
    LX_IR_MAX_ITEMS = 4096,
    LX_IR_MAX_PARTS = 256,
    LX_IR_MAX_TOOLS = 256,
    LX_IR_MAX_EXTRAS = 64,
};

enum lx_ir_role { LX_IR_ROLE_USER, LX_IR_ROLE_SYSTEM, LX_IR_ROLE_DEVELOPER, LX_IR_ROLE_ASSISTANT };

enum lx_ir_part_kind {
    LX_IR_PART_INPUT_TEXT,
    LX_IR_PART_OUTPUT_TEXT,
    LX_IR_PART_INPUT_IMAGE,
    LX_IR_PART_REFUSAL,
    LX_IR_PART_REASONING_TEXT,
    LX_IR_PART_SUMMARY_TEXT,
};

/* One content part. text: literal (the text, or the refusal); image_url,
 * detail: literals (detail absent means "auto"). */
struct lx_ir_part {
    enum lx_ir_part_kind kind;
    lx_str text;
    lx_str image_url;
    lx_str detail;
};

enum lx_ir_item_kind {
    LX_IR_ITEM_MESSAGE,
    LX_IR_ITEM_FUNCTION_CALL,
    LX_IR_ITEM_FUNCTION_CALL_OUTPUT,
    LX_IR_ITEM_REASONING,
    LX_IR_ITEM_CUSTOM_TOOL_CALL,        /* Codex: free-form input to a custom tool */
    LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT, /* its result */
    LX_IR_ITEM_COMPACTION,              /* opaque output of /responses/compact (3.5) */
};

enum lx_ir_status {
    LX_IR_STATUS_NONE, /* not given */
    LX_IR_STATUS_IN_PROGRESS,
    LX_IR_STATUS_COMPLETED,
    LX_IR_STATUS_INCOMPLETE,
};

/* One item. Which fields are used depends on kind:
 *  message: role, parts (content_is_string: the sender gave a string,
 *           held as one text part);
 *  function_call: call_id, name, arguments (a literal: JSON text in a string);
 *  function_call_output: call_id, parts (output; content_is_string as above);
 *  reasoning: parts (reasoning_text), summary (summary_text),
 *             encrypted_content (literal);
 *  custom_tool_call: call_id, name, input (literal: the free-form text);
 *  custom_tool_call_output: call_id, parts (as function_call_output);
 *  compaction: encrypted_content (literal: the sealed summary, opaque to
 *           the dialects); parts is empty when decoded and holds the
 *           opened summary (one input_text part, role user) once the
 *           gateway has opened the seal: a chat backend then gets it as a
 *           user message, and an unopened one is left out.
 * ns (literal) is the namespace of a function or custom tool call (OAI
 * `namespace`), absent for a top-level tool.
 * id (literal) and status are optional on input and set on output. */
struct lx_ir_item {
    enum lx_ir_item_kind kind;
    lx_str id;
    enum lx_ir_status status;
    enum lx_ir_role role;
    bool content_is_string;
    struct lx_ir_part *parts;
    uint32_t nparts;
    struct lx_ir_part *summary;
    uint32_t nsummary;
    lx_str call_id, name, arguments, input, ns;
    lx_str encrypted_content;
};

enum lx_ir_tool_kind {
    LX_IR_TOOL_FUNCTION,
    LX_IR_TOOL_OTHER,  /* hosted (web_search, file_search, ...): not sent to chat */
    LX_IR_TOOL_CUSTOM, /* {type:"custom", name, description?, format?}: free-form input */
};

/* type, name, description: literals; parameters, strict: raw (strict may be
 * "null"); format: raw (custom tools); raw: the whole tool object as sent.
 *
 * Namespace tools ({type:"namespace", name, description, tools:[...]}) are
 * flattened: each inner function or custom tool becomes one entry with ns
 * (literal) set to the namespace's name and chat_name "<ns>__<name>"; the
 * first entry of a namespace has ns_first set and ns_raw holding the whole
 * namespace object, which is what the response echoes. For a top-level tool
 * chat_name equals name. A chat tool call maps back to the entry whose
 * chat_name matches (lx_ir_tool_find), which makes the scheme reversible
 * without parsing names. type_name: the type, unquoted and NUL-terminated
 * (for warnings about dropped tools). */
struct lx_ir_tool {
    enum lx_ir_tool_kind kind;
    lx_str type, name, description, parameters, strict, format, raw;
    lx_str syntax, definition; /* literals: a custom tool's grammar format */
    lx_str ns, ns_raw, chat_name;
    bool ns_first;
    const char *type_name;
};

enum lx_ir_choice_kind {
    LX_IR_CHOICE_UNSET, /* absent or null: the backend's default ("auto") */
    LX_IR_CHOICE_NONE,
    LX_IR_CHOICE_AUTO,
    LX_IR_CHOICE_REQUIRED,
    LX_IR_CHOICE_FUNCTION,      /* {type:"function"|"custom", name} */
    LX_IR_CHOICE_ALLOWED_TOOLS, /* {type:"allowed_tools", mode, tools} */
};

/* name: literal (function); mode: literal (allowed_tools); names: the
 * allowed function names (literals); raw: the value as sent. */
struct lx_ir_tool_choice {
    enum lx_ir_choice_kind kind;
    lx_str name, mode, raw;
    lx_str *names;
    uint32_t nnames;
};

enum lx_ir_format_kind {
    LX_IR_FORMAT_UNSET,
    LX_IR_FORMAT_TEXT,
    LX_IR_FORMAT_JSON_OBJECT,
    LX_IR_FORMAT_JSON_SCHEMA,
};

/* name, description: literals; schema, strict: raw; raw: text.format as sent. */
struct lx_ir_format {
    enum lx_ir_format_kind kind;
    lx_str name, description, schema, strict, raw;
};

/* A root field the IR does not model (llama.cpp's top_k, min_p, seed,
 * vendor keys): it rides along untouched to a backend. key is unescaped and
 * NUL-terminated (a key holding \u0000 is dropped); value is raw. */
struct lx_ir_extra {
    const char *key;
    lx_str value;
};

/* A tri-state boolean: absent/null, false, true. */
enum lx_ir_bool { LX_IR_UNSET = -1, LX_IR_FALSE = 0, LX_IR_TRUE = 1 };

struct lx_ir_request {
    lx_str model;        /* literal */
    lx_str instructions; /* literal, absent when null */
    bool input_is_string;
    struct lx_ir_item *items;
    uint32_t nitems;
    uint32_t nrefs; /* item_reference inputs: not in items until resolved (proxy/itemref.c) */
    struct lx_ir_tool *tools;
    uint32_t ntools;
    uint32_t nother_tools; /* tools of kind LX_IR_TOOL_OTHER (not sent to chat) */
    struct lx_ir_tool_choice tool_choice;
    struct lx_ir_format format;
    lx_str verbosity; /* literal: text.verbosity */
    /* sampling and limits: raw numbers */
    lx_str temperature, top_p, presence_penalty, frequency_penalty, top_logprobs;
    lx_str max_output_tokens, max_tool_calls;
    enum lx_ir_bool parallel_tool_calls, store, background;
    bool stream;
    bool has_reasoning;                         /* a reasoning object was given */
    lx_str reasoning_effort, reasoning_summary; /* literals */
    bool want_logprobs;                         /* include has "message.output_text.logprobs" */
    /* gateway-handled or echoed: metadata, include raw; the rest literals */
    lx_str metadata, include, truncation, previous_response_id;
    lx_str service_tier, safety_identifier, prompt_cache_key, user;
    struct lx_ir_extra *extras;
    uint32_t nextras;
};

/* in_progress and failed occur only in streams (the response objects of
 * response.created and response.failed). */
enum lx_ir_result_status {
    LX_IR_RESULT_COMPLETED,
    LX_IR_RESULT_INCOMPLETE,
    LX_IR_RESULT_IN_PROGRESS,
    LX_IR_RESULT_FAILED,
};
enum lx_ir_incomplete {
    LX_IR_INCOMPLETE_NONE,
    LX_IR_INCOMPLETE_MAX_OUTPUT_TOKENS,
    LX_IR_INCOMPLETE_CONTENT_FILTER,
};

struct lx_ir_usage {
    bool present;
    int64_t input_tokens, output_tokens, total_tokens;
    int64_t cached_tokens, reasoning_tokens;
};

struct lx_ir_result {
    struct lx_ir_item *items;
    uint32_t nitems;
    struct lx_ir_usage usage;
    enum lx_ir_result_status status;
    enum lx_ir_incomplete reason;
    /* failed only: the response's error {code, message}, plain C strings */
    const char *error_code, *error_message;
};

/* True when literal lit (quotes included) holds exactly the C string s,
 * written without escapes. */
bool lx_ir_lit_eq(lx_str lit, const char *s);

/* Joins the contents of n literals into one literal allocated from a.
 * Returns an empty view when n is 0 or the arena is full. */
lx_str lx_ir_lit_join(lx_arena *a, const lx_str *lits, size_t n);

/* Makes a literal from any bytes (escaping them), allocated from a. */
lx_str lx_ir_lit_make(lx_arena *a, const char *s, size_t n);

/* The entry of req->tools whose chat_name is the literal chat_name (a name
 * a chat backend called), or NULL. */
const struct lx_ir_tool *lx_ir_tool_find(const struct lx_ir_request *req, lx_str chat_name);

/* The tools left out of a chat request (hosted tools such as web_search,
 * LX_IR_TOOL_OTHER): stores the type names of the first max of them in
 * types (pointers into req's arena) and returns how many there are in all,
 * so the caller can write one audit warning. */
size_t lx_ir_dropped_tools(const struct lx_ir_request *req, const char **types, size_t max);

/* The wire names of the enums ("user", "completed", ...). */
const char *lx_ir_role_name(enum lx_ir_role r);
const char *lx_ir_status_name(enum lx_ir_status s);

#endif
