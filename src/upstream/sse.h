/*
 * sse.h — an incremental Server-Sent Events reader.
 *
 * Bytes go in as they arrive from the network, in pieces of any size; each
 * complete event comes out through the callback with its `event:` name and
 * its `data:` lines joined by "\n". The reader can stop at any byte and
 * resume with the next piece. Comment lines (": ...") are reported as
 * events of kind LX_SSE_COMMENT so a relay can keep a connection alive.
 * An event larger than the cap fails the feed.
 */
#ifndef LX_SSE_H
#define LX_SSE_H

#include "../core/buf.h"

enum lx_sse_kind { LX_SSE_EVENT, LX_SSE_COMMENT };

typedef struct lx_sse_event {
    enum lx_sse_kind kind;
    lx_str event; /* the event: field, empty when absent */
    lx_str data;  /* valid only during the callback */
} lx_sse_event;

/* Returns LX_OK to go on, anything else to stop the feed with that code. */
typedef int (*lx_sse_fn)(void *data, const lx_sse_event *ev);

typedef struct lx_sse_reader {
    lx_buf line;  /* a line split across pieces */
    lx_buf data;  /* data lines of the event being read */
    lx_buf event; /* its event name */
    bool has_data;
} lx_sse_reader;

void lx_sse_init(lx_sse_reader *r, size_t max_event_bytes);
void lx_sse_release(lx_sse_reader *r);
/* Forgets any partial event, keeping the memory for the next stream. */
void lx_sse_reset(lx_sse_reader *r);
/* Feeds bytes; calls fn for each complete event. Returns LX_OK, LX_ERR when
 * an event exceeds the cap, or what fn returned to stop. */
int lx_sse_feed(lx_sse_reader *r, const char *p, size_t n, lx_sse_fn fn, void *data);
/* True when bytes of an unfinished event are held. */
bool lx_sse_pending(const lx_sse_reader *r);

#endif
