/*
 * redact_chat.h — redaction applied to Chat Completions JSON: requests,
 * whole responses and stream chunks.
 *
 * Each function finds the strings that carry text (below), unescapes one,
 * runs it through redaction (and/or pseudonym restoration), and when the
 * text changed splices the re-escaped result over the original string;
 * every other byte of the document is copied as it is. A string whose text
 * did not change keeps its original bytes, escapes included.
 *
 *   request   messages[].content (a string, or the "text" of each part),
 *             messages[].tool_calls[].function.arguments — tool results are
 *             the content of role "tool" messages
 *   response  choices[].message.content, choices[].message.tool_calls[]
 *             .function.arguments
 *   chunk     choices[].delta.content and choices[].delta.tool_calls[]
 *             .function.arguments, each through its own lx_redact_stream
 *             pair (per choice index, and per tool_calls index) so a value
 *             split across chunks is still caught; held text is flushed
 *             into the chunk carrying the choice's finish_reason (as
 *             delta.content, or a tool_calls element {"index","function":
 *             {"arguments"}}, added when absent), or by
 *             lx_redact_chat_stream_end() when the stream ends without one
 *
 * Redaction (ctx "redact") runs before restoration (ctx "restore"): the
 * restored values are the client's own, and output detectors must not
 * mask them again. Either context may be NULL to skip that step. The
 * contexts must outlive every call and stream that uses them.
 */
#ifndef LX_REDACT_CHAT_H
#define LX_REDACT_CHAT_H

#include "../core/arena.h"
#include "../core/buf.h"
#include "../json/json.h"
#include "redact.h"

/* Choices a stream may carry, and tool calls per choice (a chunk with a
 * larger index is an error). */
enum { LX_REDACT_CHAT_MAX_CHOICES = 8, LX_REDACT_CHAT_MAX_TOOLS = 16 };

/* Writes the request body with every prompt text redacted by ctx into out
 * (which caps it). Tokens come from scratch. LX_ERR when the body is not
 * JSON, a text is over the set's max_text, or out is full. The caller reads
 * LX_REDACT_BLOCKED / LX_REDACT_TAGGED from ctx afterwards. */
int lx_redact_chat_request(lx_redact_ctx *ctx, const char *body, size_t len, lx_arena *scratch,
                           uint32_t max_depth, lx_buf *out);

/* The same over a request the caller has parsed already (req's tokens and
 * bytes are only read): what the gateway calls, to parse a body once. */
int lx_redact_chat_request_parsed(lx_redact_ctx *ctx, const lx_json *req, lx_buf *out);

/* Writes a non-streamed chat.completion with its assistant texts redacted
 * (redact) and pseudonyms restored (restore) into out. Same errors. */
int lx_redact_chat_response(lx_redact_ctx *redact, lx_redact_ctx *restore, const char *body,
                            size_t len, lx_arena *scratch, uint32_t max_depth, lx_buf *out);

typedef struct lx_redact_chat_stream lx_redact_chat_stream;

/* A stream rewriter for one streamed answer; NULL out of memory. The
 * caller frees it with lx_redact_chat_stream_free(). */
lx_redact_chat_stream *lx_redact_chat_stream_new(lx_redact_ctx *redact, lx_redact_ctx *restore);
void lx_redact_chat_stream_free(lx_redact_chat_stream *s);

/* Rewrites one chunk (an SSE data payload, a chat.completion.chunk object)
 * into out. A chunk without choices is copied. A chunk whose text is held
 * back goes out with "content":"" (clients accept empty deltas; so for
 * "arguments":""). LX_ERR for a chunk that is not JSON, an index past
 * LX_REDACT_CHAT_MAX_CHOICES or LX_REDACT_CHAT_MAX_TOOLS, one tool index
 * twice in a chunk, or a full out; the stream then only fails. */
int lx_redact_chat_stream_chunk(lx_redact_chat_stream *s, lx_str data, lx_arena *scratch,
                                uint32_t max_depth, lx_buf *out);

/* Ends the stream: appends one chunk object carrying, per choice that
 * still holds text, that text as delta.content (out stays empty when no
 * choice holds any). For a stream that ended without a finish_reason; the
 * id, created and model of the last chunk are repeated. */
int lx_redact_chat_stream_end(lx_redact_chat_stream *s, lx_buf *out);

#endif
