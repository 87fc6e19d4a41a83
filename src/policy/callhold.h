/*
 * callhold.h — holds back a chat stream's tool calls (and, for structured
 * output, its content) until each is complete, so the gateway can check it
 * before any of it reaches the client (issue 5, items 3 and 4).
 *
 * The stream is fed chunk by chunk (the data of one SSE event). A tool
 * call is complete when a delta for another call index arrives, or when a
 * finish_reason does, or at the end of the stream; content is complete at
 * the finish. While something is in progress, every chunk is held (the
 * order never changes); content before the first call passes at once
 * unless content is held too. After the caller has checked what completed
 * (lx_callhold_completed), lx_callhold_release hands back the chunks that
 * belong to it, in order; a chunk that also starts the next call stays
 * held with it. In observe mode (policy flag) nothing is held: calls are
 * only put together so they can be checked and noted.
 *
 * Only choices[0] is followed (the gateway's streams carry one choice). A
 * call's index is at most LX_CALLHOLD_MAX_CALLS - 1. Everything held —
 * chunks, argument texts, content — counts against one cap given at
 * _new; past it lx_callhold_chunk answers LX_CALLHOLD_FULL. Pure: no I/O.
 */
#ifndef LX_CALLHOLD_H
#define LX_CALLHOLD_H

#include "../core/arena.h"
#include "../core/buf.h"
#include "../json/json.h"

enum { LX_CALLHOLD_MAX_CALLS = 16, LX_CALLHOLD_NAME_MAX = 64, LX_CALLHOLD_ID_MAX = 96 };

struct lx_callhold;

/* hold: hold what is in progress until complete (else observe only:
 * nothing is held, items are only put together); content: the content
 * is an item too, complete at the finish (held until then with hold).
 * cap bounds the bytes kept. NULL when out of memory. Free with _free. */
struct lx_callhold *lx_callhold_new(size_t cap, bool hold, bool content);
void lx_callhold_free(struct lx_callhold *h);

enum lx_callhold_step {
    LX_CALLHOLD_PASS,  /* send this chunk now (after what lx_callhold_release gives) */
    LX_CALLHOLD_HOLD,  /* the chunk is held */
    LX_CALLHOLD_FULL,  /* over the cap: nothing more can be held */
    LX_CALLHOLD_ERROR, /* an index out of range or a malformed tool-call delta */
};

/* Feeds one chunk's data, parsed into scratch (which the caller resets
 * after) with max_depth. *n_complete is set to the number of items that
 * this chunk completed (check them with lx_callhold_completed, then call
 * lx_callhold_release). A chunk that is not JSON passes untouched. */
enum lx_callhold_step lx_callhold_chunk(struct lx_callhold *h, lx_str data, lx_arena *scratch,
                                        uint32_t max_depth, size_t *n_complete);
/* The stream ends ([DONE] or the upstream's end): completes what is in
 * progress; returns the number of items completed. */
size_t lx_callhold_end(struct lx_callhold *h);

/* What completed: a tool call (name, id, and the arguments' unescaped
 * text) or the content. Views into h, valid until the next _chunk/_end. */
struct lx_callhold_item {
    bool is_content;
    uint32_t index; /* the call's index */
    lx_str name, id;
    lx_str text; /* the arguments, or the content */
};
/* Item k (< the count given) of the last _chunk/_end. */
void lx_callhold_completed(const struct lx_callhold *h, size_t k, struct lx_callhold_item *out);

/* Calls emit on each held chunk that the completed items let go (all of
 * them when nothing is in progress), in order, and forgets them; stops at
 * and returns the first non-zero return of emit. */
int lx_callhold_release(struct lx_callhold *h, int (*emit)(void *arg, lx_str data), void *arg);

/* True when some chunk is held. */
bool lx_callhold_holding(const struct lx_callhold *h);
/* How many calls were released (completed and let go) so far, and whether
 * content passed to the client (not held) so far. */
uint32_t lx_callhold_released_calls(const struct lx_callhold *h);
bool lx_callhold_content_passed(const struct lx_callhold *h);

#endif
