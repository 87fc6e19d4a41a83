/*
 * chat.h — the OpenAI Chat Completions dialect: what the gateway reads from
 * requests, responses and stream chunks, the edits it splices into a
 * request, and the dialect's error shape.
 *
 * Requests are forwarded as the client wrote them (every field the gateway
 * does not model — llama.cpp's top_k, min_p, cache_prompt, grammar, vendor
 * extensions — rides along untouched); only the model name is replaced by
 * the pinned upstream id and, for streams, usage is requested. Edits are
 * spliced into the original bytes, never re-serialised.
 *
 * The IR of DESIGN.md arrives with the Responses issue; this codec is the
 * same-dialect fast path that it will keep.
 */
#ifndef LX_CHAT_H
#define LX_CHAT_H

#include "../core/arena.h"
#include "../core/buf.h"
#include "../json/json.h"

/* What the gateway needs from a chat request, read once. */
struct lx_chat_request {
    lx_json json;
    int model; /* token of the model value */
    bool stream;
    bool usage_asked;   /* stream_options.include_usage was true */
    int stream_options; /* token of its value, or -1 */
    int include_usage;  /* token of stream_options.include_usage, or -1 */
    int messages;       /* token of the messages array */
};

/* A client error found while reading: HTTP 400 with this message and param. */
struct lx_chat_fault {
    char message[256];
    const char *param; /* static string or NULL */
    const char *code;  /* static string or NULL */
};

/* Parses body and checks the fields' types. LX_OK, or LX_ERR with *fault. */
int lx_chat_request_read(struct lx_chat_request *req, const char *body, size_t len, lx_arena *a,
                         uint32_t max_depth, struct lx_chat_fault *fault);

/* Reads an embeddings request: model (string) and input (present); the
 * messages field of req holds the input token. Same contract as above. */
int lx_chat_embeddings_read(struct lx_chat_request *req, const char *body, size_t len, lx_arena *a,
                            uint32_t max_depth, struct lx_chat_fault *fault);

/* Writes the request for the backend into out: the model replaced by
 * upstream_model and, when ask_usage and the request streams,
 * stream_options.include_usage set. */
int lx_chat_request_rewrite(const struct lx_chat_request *req, const char *upstream_model,
                            bool ask_usage, lx_buf *out);

enum { LX_CHAT_MAX_CALLS = 16, LX_CHAT_MAX_NAME = 64 };

/* What a response or stream told the gateway, for the audit record. */
struct lx_chat_tally {
    bool has_usage;
    int64_t prompt_tokens, completion_tokens;
    char finish_reason[24];
    uint32_t n_calls;
    char call_names[LX_CHAT_MAX_CALLS][LX_CHAT_MAX_NAME];
};

enum lx_chat_chunk {
    LX_CHAT_CHUNK_DATA,       /* a normal chunk: relay it */
    LX_CHAT_CHUNK_USAGE_ONLY, /* "choices":[] with usage: the usage chunk */
    LX_CHAT_CHUNK_ERROR,      /* {"error":...}: the backend failed mid-stream */
    LX_CHAT_CHUNK_DONE,       /* [DONE] */
    LX_CHAT_CHUNK_MALFORMED,  /* not JSON */
};

/* Classifies one SSE data payload and adds what it says to t. *token is
 * set when the chunk carries generated text, reasoning or a tool call. */
enum lx_chat_chunk lx_chat_chunk_inspect(lx_str data, lx_arena *scratch, uint32_t max_depth,
                                         struct lx_chat_tally *t, bool *token);
/* Reads usage, finish reason and tool-call names of a whole response.
 * False when the body is not a JSON object (a truncated or broken answer). */
bool lx_chat_response_inspect(lx_str body, lx_arena *scratch, uint32_t max_depth,
                              struct lx_chat_tally *t);

/* Writes {"error":{"message","type","param","code"}}; param and code may be NULL. */
int lx_chat_error_write(lx_buf *out, const char *message, const char *type, const char *param,
                        const char *code);
/* OpenAI's error type for an HTTP status. */
const char *lx_chat_error_type(int status);
/* Rewrites an error body from a backend into OpenAI's shape: a string
 * message, a type, param, and a string or null code (llama.cpp sends a
 * numeric code and its own types). Non-JSON bodies become the message. */
int lx_chat_error_normalize(int status, lx_str body, lx_arena *scratch, lx_buf *out);

#endif
