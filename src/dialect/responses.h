/*
 * responses.h — the OpenAI Responses dialect (shared/spec/RESPONSES.md):
 * decoding a request into the IR, encoding the IR as a Chat Completions
 * request for a chat backend (section 11), reading a chat.completion back
 * into an IR result and writing it as a Responses `response` object
 * (sections 4, 5, 12). The request decoder and the response writer live in
 * responses.c, the chat side (encode, result decode) in chat_ir.c.
 *
 * Streaming (a chat.completion.chunk stream -> Responses events) is in
 * resp_stream.h.
 *
 * Codex CLI tools (issue 3): namespace tools are flattened to chat
 * functions named "<namespace>__<name>" (ir.h, lx_ir_tool_find maps them
 * back); a custom tool (free-form input, e.g. apply_patch with a grammar)
 * is sent to chat as a function taking one required string "input", its
 * grammar quoted in the description; its calls come back as
 * custom_tool_call items. Hosted tools (web_search, ...) are not sent: see
 * lx_ir_dropped_tools.
 *
 * Ownership: the IR points into the request body and into the arena the
 * caller passes; both must outlive it. Output goes to the caller's lx_buf.
 */
#ifndef LX_RESPONSES_H
#define LX_RESPONSES_H

#include "../core/buf.h"
#include "ir.h"

/* A client error found while decoding: HTTP 400 with this message, param
 * (a path such as "input[2].content[0].type", or "" for none) and code. */
struct lx_resp_fault {
    char message[256];
    char param[96];
    const char *code; /* static string or NULL */
};

/* Decodes a POST /v1/responses body into req. Arrays come from a; text
 * fields point into body. max_depth bounds JSON nesting. Returns LX_OK, or
 * LX_ERR with *f filled in. Tools other than functions are kept as
 * LX_IR_TOOL_OTHER (counted in nother_tools) for a later layer to drop with
 * a warning or refuse. */
int lx_resp_request_decode(struct lx_ir_request *req, const char *body, size_t len, lx_arena *a,
                           uint32_t max_depth, struct lx_resp_fault *f);

/* How to shape a chat request for one backend. */
struct lx_resp_chat_opts {
    const char *model;          /* upstream model id; NULL keeps the request's */
    bool max_completion_tokens; /* OpenAI; otherwise max_tokens (llama.cpp, vLLM, Ollama) */
    bool reasoning_content;     /* send reasoning items as reasoning_content (llama.cpp) */
    bool developer_as_system;   /* map the developer role to system */
    bool tool_choice_objects;   /* the backend honours tool_choice objects (OpenAI) */
};

/* Writes the Chat Completions body for req into out (RESPONSES.md 11).
 * Hosted tools are left out. A tool_choice object is sent in its chat form
 * when o->tool_choice_objects, else emulated, since llama-server reads an
 * object as "auto": {type:"function"|"custom", name} sends only that tool
 * with tool_choice "required" (no tool: no tools at all);
 * {type:"allowed_tools", mode, tools} sends only the allowed tools with
 * mode as the string choice. A message whose content is one text part is
 * sent as a string. A compaction item is sent as a user message with the
 * summary the caller opened into its parts, and left out when it has none
 * (ir.h). Extras follow the modelled keys. Returns LX_OK, or
 * LX_ERR when out or a's cap is reached. */
int lx_resp_chat_request_encode(const struct lx_ir_request *req, const struct lx_resp_chat_opts *o,
                                lx_arena *a, lx_buf *out);

/* Reads a chat.completion body (first choice) into res (RESPONSES.md 12),
 * for the request req (its tools tell a namespace function or a custom
 * tool from a plain function). Item ids are "rs_<id_base>_<n>",
 * "msg_<id_base>_<n>", "fc_<id_base>_<n>", "ctc_<id_base>_<n>" (n = output
 * index) and a missing tool call id becomes "call_<id_base>_<n>"; id_base
 * should be [A-Za-z0-9]. A call to "<ns>__<name>" becomes a function_call
 * {name, namespace}; a call to a custom tool a custom_tool_call whose input
 * is the string member "input" of the arguments, or the arguments text as
 * is when they are not such an object. Returns LX_OK, or LX_ERR when the
 * body is not a chat.completion with a choice. */
int lx_resp_chat_result_decode(struct lx_ir_result *res, const struct lx_ir_request *req,
                               const char *body, size_t len, const char *id_base, lx_arena *a,
                               uint32_t max_depth);

/* What the gateway decides about a response: its id (resp_...), and
 * integer Unix seconds of creation and completion. */
struct lx_resp_meta {
    const char *id;
    int64_t created_at, completed_at;
};

/* Writes the complete Responses `response` object for res answering req,
 * with every key of RESPONSES.md section 4 (request settings echoed, the
 * defaults of section 9 where the request is silent). LX_OK or LX_ERR. */
int lx_resp_response_write(const struct lx_ir_request *req, const struct lx_ir_result *res,
                           const struct lx_resp_meta *m, lx_buf *out);

/* Writes res's output items as a JSON array: the `output` of the response
 * object, the same bytes. LX_OK or LX_ERR (out's cap). */
int lx_resp_output_write(const struct lx_ir_result *res, lx_buf *out);

/* Writes req's input items as a JSON array of complete items as the
 * input_items endpoint lists them: each with an "id" (the client's, else
 * "<prefix>_<id_base>_<n>", prefix msg, fc, fco, rs, ctc, ctco or cmp, n =
 * index in the input), "type", "status" (the client's, else "completed";
 * none on a compaction item, which keeps its encrypted_content), and
 * for messages "role" and "content" as an array of typed parts (a string
 * becomes one input_text part). The array decodes again as `input` with
 * lx_resp_request_decode to the same chat request, so stored arrays can be
 * concatenated to rebuild a previous_response_id context. id_base should
 * be [A-Za-z0-9]. LX_OK or LX_ERR (out's cap). */
int lx_resp_input_write(const struct lx_ir_request *req, const char *id_base, lx_buf *out);

/* Writes the answer of POST /responses/compact (RESPONSES.md 1, OR and
 * OAI `CompactResource`): {id: m->id, object:"response.compaction",
 * output: res's items (messages with their parts as an array, a
 * compaction item as {type, id, encrypted_content}), created_at:
 * m->created_at, usage: res->usage with every detail object}. LX_OK or
 * LX_ERR (out's cap). */
int lx_resp_compaction_write(const struct lx_ir_result *res, const struct lx_resp_meta *m,
                             lx_buf *out);

/* Writes the answer of POST /responses/input_tokens:
 * {"object":"response.input_tokens","input_tokens":N}. LX_OK or LX_ERR. */
int lx_resp_input_tokens_write(int64_t input_tokens, lx_buf *out);

#endif
