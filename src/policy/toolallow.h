/*
 * toolallow.h — tool allowlists (issue 5, item 2): which tool names a
 * request may offer, and which of the model's tool calls may reach the
 * client.
 *
 * Two allowlists apply, the API key's and the model's (config
 * models[].tools_allowed); a list with names == NULL allows every name. A
 * request may offer a tool only when both lists allow its name; a call may
 * reach the client only when the request (as sent upstream) offered its
 * name and both lists allow it. A call that fails is never passed on as a
 * call: the caller refuses the answer or removes the call.
 *
 * Everything here is pure: no I/O, no global state. Names are compared as
 * raw JSON bytes (tool names are [a-zA-Z0-9_-] in every dialect, so no
 * escapes). What is parsed goes into the caller's arena; views point into
 * the caller's JSON and live as long as it.
 */
#ifndef LX_TOOLALLOW_H
#define LX_TOOLALLOW_H

#include "../core/arena.h"
#include "../core/buf.h"
#include "../json/json.h"

enum {
    LX_TOOLALLOW_MAX_TOOLS = 128, /* tools per request the scan takes */
    LX_TOOLALLOW_MAX_CALLS = 16,  /* tool-call indices a stream may use */
    LX_TOOLALLOW_NAME_MAX = 64,   /* bytes of a name kept for a stream or a record */
};

/* A list of allowed names; names == NULL: every name. */
struct lx_toolallow_list {
    const lx_str *names;
    size_t n;
};

enum lx_toolallow_verdict {
    LX_TOOLALLOW_OK,
    LX_TOOLALLOW_NOT_OFFERED,  /* a call to a tool the request did not offer */
    LX_TOOLALLOW_DENIED_KEY,   /* the API key's allowlist lacks it */
    LX_TOOLALLOW_DENIED_MODEL, /* the model's allowlist lacks it */
    LX_TOOLALLOW_NO_NAME,      /* a call without a function name */
};
/* "allowed", "not_offered", "not_allowed_by_key", "not_allowed_by_model",
 * "no_name". */
const char *lx_toolallow_verdict_str(enum lx_toolallow_verdict v);

/* May a request offer the tool name? key and model may be NULL (no list). */
enum lx_toolallow_verdict lx_toolallow_offer(lx_str name, const struct lx_toolallow_list *key,
                                             const struct lx_toolallow_list *model);
/* May the model's call to name reach the client? offered lists what the
 * request sent upstream offered (names != NULL, n may be 0); key and model
 * may be NULL. A NULL name.ptr is LX_TOOLALLOW_NO_NAME. */
enum lx_toolallow_verdict lx_toolallow_call(lx_str name, const struct lx_toolallow_list *offered,
                                            const struct lx_toolallow_list *key,
                                            const struct lx_toolallow_list *model);

/* The tools of a chat request split by the allowlists. names[i] is the
 * name of tools[i] (function.name, or custom.name; "" when it has none),
 * a view into the request; denied[i] is its verdict. */
struct lx_toolallow_scan {
    size_t n, n_denied;
    lx_str names[LX_TOOLALLOW_MAX_TOOLS];
    enum lx_toolallow_verdict denied[LX_TOOLALLOW_MAX_TOOLS];
    lx_str kept[LX_TOOLALLOW_MAX_TOOLS]; /* the allowed names, in order */
    size_t n_kept;
};
/* Scans the tools array token tools of req (-1: no tools). LX_ERR when it
 * has more than LX_TOOLALLOW_MAX_TOOLS entries. */
int lx_toolallow_scan(const lx_json *req, int tools, const struct lx_toolallow_list *key,
                      const struct lx_toolallow_list *model, struct lx_toolallow_scan *out);
/* The list of the names sc kept (for lx_toolallow_call). */
static inline struct lx_toolallow_list lx_toolallow_kept(const struct lx_toolallow_scan *sc)
{
    return (struct lx_toolallow_list){sc->kept, sc->n_kept};
}
/* Writes req's body without the denied tools into out: the tools array
 * keeps the allowed entries, or the "tools" member goes when none is left.
 * Everything else is copied byte for byte. LX_ERR when out is full. */
int lx_toolallow_strip_request(const lx_json *req, int tools, const struct lx_toolallow_scan *sc,
                               lx_buf *out);

/* A non-streamed chat completion's calls that may not reach the client. */
struct lx_toolallow_finding {
    char name[LX_TOOLALLOW_NAME_MAX];
    enum lx_toolallow_verdict verdict;
};
struct lx_toolallow_result {
    uint32_t n;     /* findings kept (at most LX_TOOLALLOW_MAX_CALLS) */
    uint32_t n_bad; /* all calls that failed, kept or not */
    struct lx_toolallow_finding f[LX_TOOLALLOW_MAX_CALLS];
};
/* Checks every choices[].message.tool_calls[] of the JSON body. With out
 * non-NULL and a call failing, writes the body without the failing calls
 * into out (a choice left with none loses tool_calls, and its
 * finish_reason "tool_calls" becomes "stop"). LX_ERR when body is not a
 * JSON object or out is full. */
int lx_toolallow_response(lx_str body, const struct lx_toolallow_list *offered,
                          const struct lx_toolallow_list *key,
                          const struct lx_toolallow_list *model, struct lx_toolallow_result *res,
                          lx_buf *out);

/* A chat stream's tool calls, chunk by chunk. A call's deltas are held
 * until a delta names it (OpenAI, vLLM, llama.cpp and Ollama name a call
 * in its first delta); while anything is held, later chunks are held too,
 * so the order never changes. A name that changes (llama.cpp may resend a
 * grown name) is decided again. */
struct lx_toolallow_stream {
    char names[LX_TOOLALLOW_MAX_CALLS][LX_TOOLALLOW_NAME_MAX];
    bool seen[LX_TOOLALLOW_MAX_CALLS];  /* a delta for this index came */
    bool named[LX_TOOLALLOW_MAX_CALLS]; /* ... and one of them named it */
    bool holding;
};
enum lx_toolallow_gate {
    LX_TOOLALLOW_PASS,   /* send the held chunks, then this one */
    LX_TOOLALLOW_HOLD,   /* hold this chunk */
    LX_TOOLALLOW_REFUSE, /* a call may not reach the client: end the stream */
};
/* Decides one chunk (the data of one SSE event), parsed into scratch with
 * max_depth. On REFUSE, *bad says which call and why. A chunk that is not
 * JSON passes (the caller's own checks handle it). */
enum lx_toolallow_gate lx_toolallow_stream_chunk(struct lx_toolallow_stream *st, lx_str data,
                                                 lx_arena *scratch, uint32_t max_depth,
                                                 const struct lx_toolallow_list *offered,
                                                 const struct lx_toolallow_list *key,
                                                 const struct lx_toolallow_list *model,
                                                 struct lx_toolallow_finding *bad);
/* At the end of the stream ([DONE] or the upstream's end): REFUSE when a
 * held call never got a name, else PASS. */
enum lx_toolallow_gate lx_toolallow_stream_end(const struct lx_toolallow_stream *st,
                                               struct lx_toolallow_finding *bad);

#endif
