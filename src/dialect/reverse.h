/*
 * reverse.h — the reverse direction (issue 3, item 7; RESPONSES.md 13): a
 * Chat Completions client served by a backend that speaks only the
 * Responses API. Everything goes through the IR (ir.h):
 *
 *   chat request --lx_chat_ir_request_decode--> IR request
 *   IR request   --lx_resp_ir_request_encode--> Responses request body
 *   Responses `response` object --lx_resp_ir_result_decode--> IR result
 *   IR result    --lx_chat_ir_completion_write--> chat.completion body
 *   Responses SSE events --lx_chat_from_resp_event--> chat.completion.chunk stream
 *
 * The request side lives in chat_in.c, the result side in chat_out.c, the
 * stream translator in chat_stream.c. All are pure functions over the
 * caller's arena and capped buffers; nothing here knows about sockets.
 *
 * Ownership: as in responses.h, the IR points into the request body (and
 * the response body, for results) and into the caller's arena; both must
 * outlive it. Output is appended to the caller's lx_buf, whose cap bounds
 * it: an append past the cap makes the function return LX_ERR.
 */
#ifndef LX_REVERSE_H
#define LX_REVERSE_H

#include "../core/buf.h"
#include "ir.h"
#include "responses.h"

/* What a chat request says that the IR does not hold. */
struct lx_chat_ir_extra {
    bool include_usage; /* stream_options.include_usage was true */
};

/* Decodes a POST /v1/chat/completions body into req (RESPONSES.md 10, 13).
 * A first system or developer message becomes req->instructions; later ones
 * stay message items of their role. Chat keys with no Responses equivalent
 * that a backend cannot take (n > 1, audio, prediction, functions,
 * function_call, web_search_options, input_audio and file parts, non-function
 * tools) are 400s; n = 1, stream_options, store and modalities are consumed
 * here; unknown keys (seed, stop, top_k, ...) become extras. Arrays come from
 * a; text fields point into body. Returns LX_OK with *x filled, or LX_ERR
 * with *f filled in (HTTP 400, OpenAI's wording, param a path such as
 * "messages[2].tool_calls[0].function.arguments"). */
int lx_chat_ir_request_decode(struct lx_ir_request *req, struct lx_chat_ir_extra *x,
                              const char *body, size_t len, lx_arena *a, uint32_t max_depth,
                              struct lx_resp_fault *f);

/* How to shape a Responses request for one backend. */
struct lx_resp_ir_opts {
    const char *model; /* upstream model id; NULL keeps the request's */
};

/* Writes the Responses request body for req into out (RESPONSES.md 2, 3,
 * 13): model, instructions, input items, function tools in the flat form,
 * tool_choice, parallel_tool_calls, text.format/verbosity, reasoning,
 * max_output_tokens, sampling, include (logprobs), metadata, the
 * identifiers, stream, then "store": false (the gateway keeps no state for
 * a chat client), then extras (those named like a key written here are
 * dropped). Returns LX_OK, or LX_ERR when out's cap is reached. */
int lx_resp_ir_request_encode(const struct lx_ir_request *req, const struct lx_resp_ir_opts *o,
                              lx_buf *out);

/* Reads a Responses `response` object (RESPONSES.md 4, 5) into res: message
 * items (output_text and refusal parts), function_call and reasoning items,
 * in order; hosted-tool items are skipped. Usage with its details, status
 * and incomplete_details. Returns LX_OK; LX_ERR when the body is not a
 * response object (f->message empty) or when its status is "failed" (f holds
 * the response's error message and code, for a 500 in the chat shape). */
int lx_resp_ir_result_decode(struct lx_ir_result *res, const char *body, size_t len, lx_arena *a,
                             uint32_t max_depth, struct lx_resp_fault *f);

/* What the gateway decides about a chat answer. */
struct lx_chat_ir_meta {
    const char *id_base; /* the id is "chatcmpl-" + id_base */
    lx_str model;        /* literal, quotes included: the model the client asked for */
    int64_t created;     /* Unix seconds */
};

/* Writes the chat.completion for res (RESPONSES.md 10, 13): one choice whose
 * content joins the output_text parts (null when there are none and there
 * are tool calls or a refusal), refusal, reasoning_content (llama.cpp's
 * field; only when there is reasoning text), tool_calls (id = call_id),
 * finish_reason (tool_calls > length > content_filter > stop) and usage
 * with its detail objects when res has usage. LX_OK or LX_ERR (cap). */
int lx_chat_ir_completion_write(const struct lx_ir_result *res, const struct lx_chat_ir_meta *m,
                                lx_buf *out);

/* The finish_reason a chat client sees for res. */
const char *lx_chat_ir_finish_reason(const struct lx_ir_result *res);

/* ---- streaming: Responses SSE events -> chat.completion.chunk stream ---- */

/* Caps of one stream translator: tool calls per answer, and the scratch
 * memory one event may take to parse. */
enum { LX_CHAT_FROM_RESP_MAX_CALLS = 256, LX_CHAT_FROM_RESP_SCRATCH = 16 << 20 };

struct lx_chat_from_resp; /* opaque */

/* A translator for one streamed answer. id_base and model are as in
 * lx_chat_ir_meta (model a literal, copied); include_usage: the client asked
 * stream_options.include_usage. NULL when out of memory. */
struct lx_chat_from_resp *lx_chat_from_resp_new(const char *id_base, lx_str model, int64_t created,
                                                bool include_usage);

/* Feeds one Responses SSE event (event: name, may be empty, then the type
 * inside data is used; data: its JSON) and appends the chunks it yields to
 * out, each complete ("data: {...}\n\n"): the role chunk at
 * response.created (or before the first other chunk), content, refusal,
 * reasoning_content and tool-call deltas, and at the terminal event the
 * finish chunk, the usage chunk when asked ("choices": []) and
 * "data: [DONE]". An `error` event or response.failed yields one error
 * chunk ({"error":{...}}, OpenAI's shape) and ends the stream (no [DONE],
 * as the chat path does). Unknown events are ignored. Returns LX_OK, 1 when
 * the stream has ended (this event or an earlier one ended it; nothing more
 * is written), or LX_ERR when data is not JSON or a cap is reached (out may
 * then hold part of a chunk: end the stream with lx_chat_from_resp_fail
 * into a fresh buffer). */
int lx_chat_from_resp_event(struct lx_chat_from_resp *s, lx_str event, lx_str data, lx_buf *out);

/* Ends the stream with an error chunk (type server_error; code may be
 * NULL) when the backend fails outside the event stream (disconnect,
 * timeout, malformed event). Returns LX_OK, 1 when the stream had already
 * ended (nothing written), LX_ERR at out's cap. */
int lx_chat_from_resp_fail(struct lx_chat_from_resp *s, const char *code, const char *message,
                           lx_buf *out);

/* Frees the translator; NULL is fine. */
void lx_chat_from_resp_free(struct lx_chat_from_resp *s);

#endif
