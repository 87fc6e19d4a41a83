/*
 * responses.h — the OpenAI Responses dialect (shared/spec/RESPONSES.md):
 * decoding a request into the IR, encoding the IR as a Chat Completions
 * request for a chat backend (section 11), reading a chat.completion back
 * into an IR result and writing it as a Responses `response` object
 * (sections 4, 5, 12). The request decoder and the response writer live in
 * responses.c, the chat side (encode, result decode) in chat_ir.c.
 *
 * Not wired into the request path yet: the /v1/responses endpoint, the
 * store, streaming and the emulations a backend needs (tool_choice objects
 * for llama.cpp) come with the rest of issue 3.
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
};

/* Writes the Chat Completions body for req into out (RESPONSES.md 11).
 * Non-function tools are left out; a tool_choice object is sent in its
 * chat form (no emulation here). Extras follow the modelled keys. Returns
 * LX_OK, or LX_ERR when out or a's cap is reached. */
int lx_resp_chat_request_encode(const struct lx_ir_request *req, const struct lx_resp_chat_opts *o,
                                lx_arena *a, lx_buf *out);

/* Reads a chat.completion body (first choice) into res (RESPONSES.md 12).
 * Item ids are "rs_<id_base>_<n>", "msg_<id_base>_<n>", "fc_<id_base>_<n>"
 * (n = output index) and a missing tool call id becomes
 * "call_<id_base>_<n>"; id_base should be [A-Za-z0-9]. Returns LX_OK, or
 * LX_ERR when the body is not a chat.completion with a choice. */
int lx_resp_chat_result_decode(struct lx_ir_result *res, const char *body, size_t len,
                               const char *id_base, lx_arena *a, uint32_t max_depth);

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

#endif
