/*
 * resp_stream.h — one Chat Completions chunk stream in, one Responses SSE
 * event stream out (shared/spec/RESPONSES.md 6.1-6.4 and 12, "Streaming
 * translation").
 *
 * The caller feeds the data of each backend SSE event (a
 * chat.completion.chunk) and gets back complete Responses events
 * ("event: T\ndata: {...}\n\n"), numbered 0, 1, 2, ... by sequence_number,
 * items strictly one after another, every `.done` repeating the full
 * value. Text and arguments are accumulated as the JSON-escaped bytes the
 * backend sent (never unescaped and escaped again), capped at
 * LX_RESP_STREAM_ITEM_CAP per item and LX_RESP_STREAM_TOTAL_CAP in all.
 * Lifecycle events carry full response objects written by
 * lx_resp_response_write, so a streamed response and a non-streamed one
 * agree on shape byte for byte.
 *
 * Choices made where the specs are silent:
 *  - Reasoning text is streamed per rmode (6.3 "Reasoning event names
 *    cannot be reconciled"); the default emits the reasoning item whole
 *    at output_item.done, valid under both specs.
 *  - A function call's output_item.added waits for its first arguments
 *    piece (or its end), so a name that llama-server grows and re-sends
 *    (LLAMA-SERVER.md) is final when the client first sees it; a name
 *    piece that starts with the name so far replaces it, any other is
 *    appended. A call that streamed no arguments gets "{}" (as one delta).
 *  - Calls to a namespace function ("<ns>__<name>", ir.h) stream as
 *    function_call items with the original name and `namespace`.
 *  - Calls to a custom tool (Codex) become custom_tool_call items. The
 *    backend streams them as JSON arguments {"input":"..."}, whose string
 *    cannot be cut out before it is complete, so the input is held and sent
 *    at the end of the item as one response.custom_tool_call_input.delta
 *    with the whole input, then .done (OAI events; Open Responses has no
 *    custom tools at all, so no choice there satisfies it).
 *  - Only choice 0 is read. Tool calls must arrive one after another (as
 *    OpenAI and llama-server send them); going back to an earlier call
 *    index is an error.
 *  - A finish_reason of "length" or "content_filter" closes the last item
 *    as incomplete and ends with response.incomplete.
 *  - The `error` event's error.type is "server_error".
 *
 * Ownership: the stream copies what it keeps from each chunk; req and m
 * (and the strings they point to) must outlive it. Not thread-safe; one
 * stream per response.
 */
#ifndef LX_RESP_STREAM_H
#define LX_RESP_STREAM_H

#include "responses.h"

enum {
    LX_RESP_STREAM_ITEM_CAP = 4 << 20,   /* escaped bytes of one part or call's arguments */
    LX_RESP_STREAM_TOTAL_CAP = 16 << 20, /* escaped bytes over the whole response */
    LX_RESP_STREAM_MAX_PARTS = 16,       /* content parts of one message item */
};

enum lx_resp_reasoning_events {
    LX_RESP_REASONING_ITEMS,  /* default: reasoning item via output_item.added (empty content) +
                                 output_item.done (full content) only; valid under both specs */
    LX_RESP_REASONING_OPENAI, /* response.reasoning_text.delta/.done + content_part events */
    LX_RESP_REASONING_OPEN_RESPONSES, /* response.reasoning.delta/.done + content_part events */
};

struct lx_resp_stream; /* opaque */

/* req, m, id_base as for lx_resp_response_write / lx_resp_chat_result_decode
 * (id_base is copied; at most 63 bytes are used); req and m must outlive the
 * stream. Returns NULL out of memory. */
struct lx_resp_stream *lx_resp_stream_new(const struct lx_ir_request *req,
                                          const struct lx_resp_meta *m, const char *id_base,
                                          enum lx_resp_reasoning_events rmode);
void lx_resp_stream_free(struct lx_resp_stream *s);

/* Appends response.created + response.in_progress (full in-progress
 * response objects, usage null, output []). LX_OK, or LX_ERR (out's cap, or
 * called twice). */
int lx_resp_stream_begin(struct lx_resp_stream *s, lx_buf *out);

/* Takes the JSON text of one chat.completion.chunk (the data of one SSE
 * event, not "[DONE]"), appends zero or more COMPLETE SSE events. LX_ERR
 * when the chunk is not a chunk object (an {"error":...} chunk included) or
 * a cap is hit (caller then calls _fail); out then holds only complete
 * events. Usage-only chunks (empty choices) record usage. */
int lx_resp_stream_chunk(struct lx_resp_stream *s, const char *json, size_t len, lx_buf *out);

/* The backend stream ended normally: closes the open item (incomplete if
 * finish_reason was length), appends response.completed or
 * response.incomplete with the full final object (output == items
 * streamed, usage), then "data: [DONE]\n\n". completed_at: Unix seconds. */
int lx_resp_stream_finish(struct lx_resp_stream *s, int64_t completed_at, lx_buf *out);

/* The backend failed mid-stream: appends the combined `error` event (6.3),
 * response.failed (status failed, error{code,message}, output = the items
 * closed so far), then [DONE]. code and message are plain C strings (NULL
 * code: "server_error"). */
int lx_resp_stream_fail(struct lx_resp_stream *s, const char *code, const char *message,
                        lx_buf *out);

/* The result accumulated so far (items, usage, status) - for the store
 * after finish. Valid until _free. */
const struct lx_ir_result *lx_resp_stream_result(const struct lx_resp_stream *s);

/* Called on each output item as it closes, before its output_item.done
 * is written (and before it joins the result): the caller may add to it,
 * e.g. a reasoning item's encrypted_content, allocating from a (the
 * stream's arena, which lives as long as the stream). LX_ERR fails the
 * chunk as a cap would. */
typedef int (*lx_resp_item_hook)(void *data, struct lx_ir_item *it, lx_arena *a);
void lx_resp_stream_set_item_hook(struct lx_resp_stream *s, lx_resp_item_hook fn, void *data);

#endif
